// X4 in the liquidation tests: a journal of batches through a ThreadedPipeline (started with `options`), every event
// as text, the fatal errors and the state hash once the last batch is done. The caller stops the pipeline (`running`).
import type { CommandRecord, EventRecord, ExchangeConfig } from "../../engine/model/index.ts";
import { ThreadedPipeline, type PipelineOptions } from "../../engine/pipeline/index.ts";

export interface ThreadedRun {
  readonly events: string[];
  readonly fatal: string[];
  readonly hash: string;
}

export async function runThreaded(
  config: ExchangeConfig,
  journal: readonly CommandRecord[][],
  text: (e: EventRecord) => string,
  options: PipelineOptions,
  running: ThreadedPipeline[],
): Promise<ThreadedRun> {
  const events: string[] = [];
  const fatal: string[] = [];
  const p = await ThreadedPipeline.start(config, { onEvent: (e) => events.push(text(e)), onFatal: (m) => fatal.push(m) }, options);
  running.push(p);
  let n = 0;
  for (const b of journal) await p.submitBatch(b, b.length, ++n);
  await p.waitForBatch(n);
  return { events, fatal, hash: await p.stateHash() };
}
