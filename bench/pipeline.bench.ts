// The whole engine on its worker threads (gateway rings → risk → matching → risk → out ring), driven from this
// thread as the gateway drives it, without the journal and the network:
//   pipeline.excore-mix.max   throughput: the exchange-core mix submitted as fast as the rings take it;
//   pipeline.excore-mix.100k  latency: open loop at 100 k ops/s, ring-in to first event out, hdr histogram.
import * as hdr from "hdr-histogram-js";
import type { CommandRecord, EventRecord } from "../engine/model/index.ts";
import { BATCH_COMMANDS_MAX, loadConfig, ThreadedPipeline } from "../engine/pipeline/index.ts";
import type { BenchDef, BenchResult } from "./harness.ts";
import { excoreWorkload, type ExcoreWorkload } from "./workload-excore.ts";

const MAX_COMMANDS = 400_000;
const OPEN_LOOP_RATE = 100_000;
const OPEN_LOOP_SECONDS = 3;

let workload: ExcoreWorkload | null = null;
function getWorkload(): ExcoreWorkload {
  workload ??= excoreWorkload(Math.max(MAX_COMMANDS, OPEN_LOOP_RATE * OPEN_LOOP_SECONDS), 7);
  return workload;
}

async function submitAll(p: ThreadedPipeline, cmds: readonly CommandRecord[], from: number, to: number, batch: { n: number }): Promise<void> {
  for (let i = from; i < to; i += BATCH_COMMANDS_MAX) {
    const slice = cmds.slice(i, Math.min(to, i + BATCH_COMMANDS_MAX));
    await p.submitBatch(slice, slice.length, ++batch.n);
  }
}

async function prepared(onEvent: (e: EventRecord) => void): Promise<{ p: ThreadedPipeline; batch: { n: number }; w: ExcoreWorkload }> {
  const w = getWorkload();
  const p = await ThreadedPipeline.start(loadConfig(), { onEvent });
  const batch = { n: 0 };
  await submitAll(p, w.funding, 0, w.funding.length, batch);
  await submitAll(p, w.warmup, 0, w.warmup.length, batch);
  await p.waitForBatch(batch.n);
  return { p, batch, w };
}

async function maxThroughput(): Promise<BenchResult> {
  let events = 0;
  const { p, batch, w } = await prepared(() => {
    events++;
  });
  const count = Math.min(MAX_COMMANDS, w.commands.length);
  events = 0;
  const t0 = process.hrtime.bigint();
  await submitAll(p, w.commands, 0, count, batch);
  await p.waitForBatch(batch.n);
  const ns = Number(process.hrtime.bigint() - t0);
  await p.stop();
  const opsPerSec = (count / ns) * 1e9;
  return {
    id: "pipeline.excore-mix.max",
    opsPerSec,
    meanNs: ns / count,
    p50Ns: null,
    p99Ns: null,
    p999Ns: null,
    notes: `${count} commands (9% GTC, 3% IOC, 6% cancel, 82% move; ~1000 resting orders, 750 levels; risk holds on every order), batches of ${BATCH_COMMANDS_MAX}, ${events} events out; 1 risk + 1 matching + 1 settlement worker`,
  };
}

/** Batches the sequencer keeps in flight: more commands wait and join the next batch (smart batching). */
const INFLIGHT_BATCHES_MAX = 2;

async function openLoopLatency(): Promise<BenchResult> {
  const w = getWorkload();
  const count = Math.min(OPEN_LOOP_RATE * OPEN_LOOP_SECONDS, w.commands.length);
  const firstSeq = w.commands[0]!.seq;
  const sentAt = new Float64Array(count);
  const seen = new Uint8Array(count);
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: 3 });
  const base = process.hrtime.bigint();
  const now = (): number => Number(process.hrtime.bigint() - base);
  let measuring = false;
  let inflight = 0;
  let batches = 0;
  const p = await ThreadedPipeline.start(loadConfig(), {
    onEvent(e) {
      if (!measuring) return;
      const i = e.seq - firstSeq;
      if (i < 0 || i >= count || seen[i] === 1) return;
      seen[i] = 1;
      histogram.recordValue(now() - sentAt[i]!);
    },
    onBatchDone() {
      inflight--;
    },
  });
  const batch = { n: 0 };
  inflight += 2;
  await submitAll(p, w.funding, 0, w.funding.length, batch);
  await submitAll(p, w.warmup, 0, w.warmup.length, batch);
  await p.waitForBatch(batch.n);
  measuring = true;
  const start = now();
  let arrived = 0; // commands whose scheduled arrival time has passed (stamped on arrival)
  let next = 0; // commands handed to the engine
  // Open loop: commands arrive on schedule whatever the engine does; the sequencer hands every command that has
  // arrived to the engine as one batch whenever fewer than INFLIGHT_BATCHES_MAX batches are in flight.
  while (next < count) {
    const due = Math.min(count, Math.floor(((now() - start) / 1e9) * OPEN_LOOP_RATE) + 1);
    if (due > arrived) {
      for (let i = arrived; i < due; i++) sentAt[i] = start + (i / OPEN_LOOP_RATE) * 1e9;
      arrived = due;
    }
    if (arrived > next && inflight < INFLIGHT_BATCHES_MAX) {
      const to = Math.min(arrived, next + BATCH_COMMANDS_MAX);
      inflight++;
      batches++;
      const slice = w.commands.slice(next, to);
      await p.submitBatch(slice, slice.length, ++batch.n);
      next = to;
    }
    await new Promise((r) => setImmediate(r));
  }
  await p.waitForBatch(batch.n);
  const elapsed = now() - start;
  await p.stop();
  const r: BenchResult = {
    id: "pipeline.excore-mix.100k",
    opsPerSec: (count / elapsed) * 1e9,
    meanNs: histogram.mean,
    p50Ns: histogram.getValueAtPercentile(50),
    p99Ns: histogram.getValueAtPercentile(99),
    p999Ns: histogram.getValueAtPercentile(99.9),
    notes: `open loop at ${OPEN_LOOP_RATE} ops/s for ${count} commands, each stamped at its scheduled arrival; at most ${INFLIGHT_BATCHES_MAX} batches in flight (${batches} batches, ${(count / batches).toFixed(1)} commands each); latency = arrival to the first event of the command back on this thread`,
  };
  histogram.destroy();
  return r;
}

export const benchmarks: BenchDef[] = [
  { id: "pipeline.excore-mix.max", kind: "custom", run: maxThroughput },
  { id: "pipeline.excore-mix.100k", kind: "custom", run: openLoopLatency },
];
