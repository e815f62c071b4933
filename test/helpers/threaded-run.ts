// X4 in the liquidation tests: a journal of batches through a ThreadedPipeline (started with `options`), every event
// as text, the fatal errors and the state hash once the last batch is done. The caller stops the pipeline (`running`).
// Also the same journal in process (runInProcess), and Q1's naive full scan of the liquidating set.
import type { CommandRecord, EventRecord, EventSink, ExchangeConfig } from "../../engine/model/index.ts";
import { Engine, ThreadedPipeline, type EngineTopology, type PipelineOptions } from "../../engine/pipeline/index.ts";
import { LIQUIDATION_EXIT_MMR_DEFAULT, LiquidationStatus, nextLiquidationStatus } from "../../engine/liquidation/index.ts";

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

export interface InProcessRun extends Omit<ThreadedRun, "fatal"> {
  readonly engine: Engine;
}

/** The same journal in process, from batch `from` on (into `engine`: a restored one, or a new one of `topology`). */
export function runInProcess(
  config: ExchangeConfig,
  journal: readonly CommandRecord[][],
  text: (e: EventRecord) => string,
  topology: EngineTopology,
  from = 0,
  engine = new Engine(config, topology),
): InProcessRun {
  const events: string[] = [];
  const sink: EventSink = { publish: (e) => events.push(text(e)) };
  for (let i = from; i < journal.length; i++) engine.processBatch(journal[i]!, journal[i]!.length, sink);
  return { events, hash: engine.stateHash(), engine };
}

/** Q1's naive check: every account of every shard, with the hysteresis from the previous naive set. */
export function naiveLiquidatingScan(engine: Engine, previous: ReadonlySet<number>): Set<number> {
  const next = new Set<number>();
  for (const r of engine.risk) {
    for (const id of r.accountIds()) {
      const m = r.accountMargin(id);
      const before = previous.has(id) ? LiquidationStatus.Liquidating : LiquidationStatus.Healthy;
      const after = nextLiquidationStatus(before, m.maintenanceMarginUsd(), m.netEquityUsd(), m.totalExposureNotionalUsd(), LIQUIDATION_EXIT_MMR_DEFAULT);
      if (after === LiquidationStatus.Liquidating) next.add(id);
    }
  }
  return next;
}
