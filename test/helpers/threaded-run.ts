// X4 in the liquidation tests: a journal of batches through a ThreadedPipeline (started with `options`), every event
// as text, the fatal errors and the state hash once the last batch is done. The caller stops the pipeline (`running`).
// Also the same journal in process (runInProcess), the two checks the cross-shard liquidation tests share (the threaded
// split against in process; a snapshot at every boundary), and Q1's naive full scan of the liquidating set.
import { expect } from "vitest";
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

/** X4: the journal through a threaded pipeline of `topology` with split stages gives the in-process events (as a set: the
 * shards' interleaving differs) and state hash. */
export async function expectThreadedSplitMatchesInProcess(
  config: ExchangeConfig,
  journal: readonly CommandRecord[][],
  text: (e: EventRecord) => string,
  topology: EngineTopology,
  running: ThreadedPipeline[],
): Promise<void> {
  const expected = runInProcess(config, journal, text, topology);
  const { events, fatal, hash } = await runThreaded(config, journal, text, { topology, stages: "split" }, running);
  expect(fatal).toEqual([]);
  expect(hash).toBe(expected.hash);
  expect([...events].sort()).toEqual([...expected.events].sort());
}

/**
 * X7 at every batch boundary of `journal`: the engine's snapshot restores (at `topology`) to the same state hash, risk
 * totals and relay state (`relayed`: one value per risk shard, replicated, so equal on every shard); where
 * `resume(relayed of shard 0, cut)` says so, the restored engine runs the rest of the journal to the uninterrupted
 * run's events and hash.
 */
export function expectEveryBoundaryRestores<R>(
  config: ExchangeConfig,
  journal: readonly CommandRecord[][],
  text: (e: EventRecord) => string,
  topology: EngineTopology,
  relayed: (engine: Engine) => R[],
  resume: (relayedOfShard0: R, cut: number) => boolean,
): void {
  const whole = runInProcess(config, journal, text, topology);
  const engine = new Engine(config, topology);
  for (let cut = 0; cut <= journal.length; cut++) {
    if (cut > 0) engine.processBatch(journal[cut - 1]!, journal[cut - 1]!.length, { publish: () => {} });
    const restored = Engine.fromSnapshot(config, engine.snapshot(), topology);
    expect(restored.stateHash()).toBe(engine.stateHash());
    expect(restored.risk.map((r) => r.totals())).toEqual(engine.risk.map((r) => r.totals()));
    const state = relayed(engine);
    expect(relayed(restored)).toEqual(state);
    for (const other of state) expect(other).toEqual(state[0]); // replicated: the same on every shard at a boundary
    if (!resume(state[0]!, cut)) continue;
    const rest = runInProcess(config, journal, text, topology, cut, restored);
    expect(rest.hash).toBe(whole.hash);
    expect(rest.events).toEqual(whole.events.slice(whole.events.length - rest.events.length));
  }
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
