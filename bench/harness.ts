// Benchmark definitions and the runner that turns one definition into one BenchResult (per-operation figures).
//
// A bench file `bench/<name>.bench.ts` exports `benchmarks: BenchDef[]`; `bench/run.ts` discovers and runs them.
// Figures are per operation: a tinybench fn that does N operations per call declares `opsPerCall: N`, and every
// time is divided by N (so p99 is then the p99 of per-call means over N operations, which hides single-op tails;
// use a "custom" benchmark with its own histogram when single-op tails matter).

import { Bench } from "tinybench";

export interface BenchResult {
  id: string;
  opsPerSec: number | null;
  meanNs: number | null;
  p50Ns: number | null;
  p99Ns: number | null;
  p999Ns: number | null;
  notes: string | null;
}

export interface TinybenchDef {
  readonly id: string;
  readonly kind: "tinybench";
  /** One call; must not be constant-foldable (read operands from a preallocated array, keep a sink). */
  readonly fn: () => void;
  /** Runs once before warm-up, outside the timing. */
  readonly setup?: () => void | Promise<void>;
  readonly notes?: string;
  /** Operations performed by one call of fn; times are divided by it. Default 1. */
  readonly opsPerCall?: number;
}

export interface CustomDef {
  readonly id: string;
  readonly kind: "custom";
  /** Measures on its own (load harness, peer comparison); the returned id is replaced by the def's id. */
  readonly run: () => Promise<BenchResult>;
}

export type BenchDef = TinybenchDef | CustomDef;

export interface RunOptions {
  /** tinybench time budget per task, ms. */
  readonly timeMs: number;
}

const NS_PER_MS = 1_000_000;

/** Runs one definition. Throws (with the benchmark id in the message) if the benchmark throws. */
export async function runBenchmark(def: BenchDef, options: RunOptions): Promise<BenchResult> {
  if (def.kind === "custom") {
    const result = await def.run();
    return { ...result, id: def.id };
  }
  return runTinybench(def, options);
}

async function runTinybench(def: TinybenchDef, options: RunOptions): Promise<BenchResult> {
  const opsPerCall = def.opsPerCall ?? 1;
  if (!Number.isInteger(opsPerCall) || opsPerCall < 1) {
    throw new Error(`benchmark ${def.id}: opsPerCall must be a positive integer, got ${opsPerCall}`);
  }
  if (def.setup !== undefined) await def.setup();
  const bench = new Bench({
    name: def.id,
    time: options.timeMs,
    warmupTime: Math.min(250, Math.max(10, Math.floor(options.timeMs / 4))),
    timestampProvider: "hrtimeNow",
    throws: true,
  });
  bench.add(def.id, def.fn);
  await bench.run();
  const task = bench.tasks[0];
  if (task === undefined) throw new Error(`benchmark ${def.id}: tinybench lost the task`);
  const result = task.result;
  if (result.state === "errored") throw result.error;
  if (result.state !== "completed") throw new Error(`benchmark ${def.id}: tinybench ended in state ${result.state}`);
  const latency = result.latency;
  const perOp = NS_PER_MS / opsPerCall;
  const meanNs = latency.mean * perOp;
  return {
    id: def.id,
    opsPerSec: meanNs > 0 ? 1e9 / meanNs : null,
    meanNs,
    p50Ns: latency.p50 * perOp,
    p99Ns: latency.p99 * perOp,
    p999Ns: latency.p999 * perOp,
    notes: def.notes ?? null,
  };
}

/**
 * Summarizes raw per-operation latencies (ns) for custom benchmarks that time each operation themselves.
 * Sorts `samplesNs` in place. Percentiles are nearest-rank.
 */
export function resultFromSamplesNs(id: string, samplesNs: Float64Array, notes: string | null): BenchResult {
  const n = samplesNs.length;
  if (n === 0) return { id, opsPerSec: null, meanNs: null, p50Ns: null, p99Ns: null, p999Ns: null, notes };
  samplesNs.sort();
  let total = 0;
  for (let i = 0; i < n; i++) total += samplesNs[i]!;
  const meanNs = total / n;
  return {
    id,
    opsPerSec: meanNs > 0 ? 1e9 / meanNs : null,
    meanNs,
    p50Ns: nearestRank(samplesNs, 0.5),
    p99Ns: nearestRank(samplesNs, 0.99),
    p999Ns: nearestRank(samplesNs, 0.999),
    notes,
  };
}

function nearestRank(sorted: Float64Array, q: number): number {
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}
