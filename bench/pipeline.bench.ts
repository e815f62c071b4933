// The whole engine on its worker threads (gateway rings → risk → matching → risk → out ring), driven from this
// thread as the gateway drives it, without the journal and the network:
//   pipeline.excore-mix.max   throughput: the exchange-core mix submitted as fast as the rings take it, through the
//                             default 1 × 1 layout (one fused engine worker: engine/pipeline/workers/engine-worker.ts);
//   pipeline.excore-mix.max.split  the same with risk and matching on separate workers (stages: "split");
//   pipeline.excore-mix.100k  latency: open loop at 100 k ops/s, ring-in to first event out, hdr histogram;
//   pipeline.echo.100k        the same open loop against an echo worker (no engine): this machine's floor under it;
//   pipeline.spot-order       throughput of crossing spot orders (a maker rests, a funded taker fills it);
//   pipeline.margin-order     the same stream, the taker holding no quote: every fill borrows its cost from the
//                             USDC pool (S2) — the issue's bar: ≤ 2× pipeline.spot-order per command;
//   pipeline.perp-order       crossing BTC_USDC_PERP pairs (0.001 BTC at 60,000): perpetual margin, positions, USDC
//                             fees — issue 12's bar: ≤ 1.5× pipeline.spot-order per command in the same run.
import { Worker } from "node:worker_threads";
import * as hdr from "hdr-histogram-js";
import { CommandKind, CommandRecord, type EventRecord } from "../engine/model/index.ts";
import {
  BATCH_COMMANDS_MAX,
  COMMAND_RECORD_BYTES,
  loadConfig,
  ThreadedPipeline,
  viewsOf,
  writeCommand,
  type RecordViews,
} from "../engine/pipeline/index.ts";
import {
  BATCH_END_KIND,
  EVENT_RECORD_BYTES,
  eventKindAt,
  eventSeqAt,
  writeCommandBatchEnd,
} from "../engine/model/record-layout.ts";
import { RingReader, RingWriter, tryCopyRecord } from "../engine/pipeline/ring-io.ts";
import { COMMAND_RING_SLOTS, OUT_EVENT_RING_SLOTS } from "../engine/pipeline/workers/protocol.ts";
import { RingBuffer, SpinThenParkWait } from "../engine/ring/index.ts";
import type { EchoWorkerData } from "./echo-worker.ts";
import type { BenchDef, BenchResult } from "./harness.ts";
import { bookWorkload, loadCommand, type BookStream } from "./book-workload.ts";
import { PAIR_MEASURED, PAIR_TAKERS, PAIR_WARMUP, pairStream, type PairMode } from "./pair-stream.ts";

/** Commands run at full speed first, so that the measured part sees optimised code in every thread. */
const WARMUP_COMMANDS = 100_000;
/** Commands measured by pipeline.excore-mix.max: a million (about a second), so the figure is a sustained rate. */
const MAX_COMMANDS = 1_000_000;
const OPEN_LOOP_RATE = 100_000;
const OPEN_LOOP_SECONDS = 3;
/** Of the warm-up, the commands the latency benchmarks submit at full speed; the rest go through the open loop. */
const OPEN_LOOP_WARMUP_COMMANDS = 50_000;

interface EncodedWorkload {
  /** Deposits that fund the workload's 200 accounts (sequence numbers above the stream's, so no order id clashes). */
  readonly funding: CommandRecord[];
  /** The book's warm-up (~1,000 resting orders), then the measured mix, in the binary record layout: a gateway hands
   *  the engine records, not objects. */
  readonly commands: RecordViews;
  readonly warmupCount: number;
  readonly count: number;
  readonly firstSeq: number;
}

const WORKLOAD_ACCOUNTS = 200;

function encodeStream(s: BookStream, views: RecordViews, at: number, c: CommandRecord): void {
  for (let i = 0; i < s.length; i++) {
    c.clear();
    loadCommand(s, i, c);
    writeCommand(views, (at + i) * COMMAND_RECORD_BYTES, c);
  }
}

let workload: EncodedWorkload | null = null;
/** The same exchange-core stream as book.excore-mix (bench/book-workload.ts), with the accounts funded for risk. */
function getWorkload(): EncodedWorkload {
  if (workload === null) {
    const w = bookWorkload(WARMUP_COMMANDS + Math.max(MAX_COMMANDS, OPEN_LOOP_RATE * OPEN_LOOP_SECONDS), 0, 7);
    const total = w.warmup.length + w.mix.length;
    const views = viewsOf(new ArrayBuffer(total * COMMAND_RECORD_BYTES));
    const c = new CommandRecord();
    encodeStream(w.warmup, views, 0, c);
    encodeStream(w.mix, views, w.warmup.length, c);
    const funding: CommandRecord[] = [];
    let seq = w.mix.seqBase + w.mix.length;
    for (let a = 1; a <= WORKLOAD_ACCOUNTS; a++) {
      for (const [asset, amount] of [[0, 1_000_000_000_000_000n], [2, 10_000_000_000_000n]] as const) {
        const d = new CommandRecord();
        d.kind = CommandKind.Deposit;
        d.seq = ++seq;
        d.account = a * 16;
        d.asset = asset;
        d.amount = amount;
        funding.push(d);
      }
    }
    workload = { funding, commands: views, warmupCount: w.warmup.length, count: w.mix.length, firstSeq: w.mix.seqBase };
  }
  return workload;
}

async function submitEncoded(p: ThreadedPipeline, w: EncodedWorkload, from: number, to: number, batch: { n: number }): Promise<void> {
  for (let i = from; i < to; i += BATCH_COMMANDS_MAX) {
    const n = Math.min(to, i + BATCH_COMMANDS_MAX) - i;
    await p.submitEncoded(w.commands, i * COMMAND_RECORD_BYTES, n, ++batch.n);
  }
}

async function submitAll(p: ThreadedPipeline, cmds: readonly CommandRecord[], from: number, to: number, batch: { n: number }): Promise<void> {
  for (let i = from; i < to; i += BATCH_COMMANDS_MAX) {
    const slice = cmds.slice(i, Math.min(to, i + BATCH_COMMANDS_MAX));
    await p.submitBatch(slice, slice.length, ++batch.n);
  }
}

/** Threads of each stage layout, for the notes. */
const STAGE_THREADS = {
  fused: "1 engine worker (risk → matching → risk on one thread) + 1 settlement worker",
  split: "1 risk + 1 matching + 1 settlement worker",
} as const;

async function prepared(onEvent: (e: EventRecord) => void, stages: "fused" | "split"): Promise<{ p: ThreadedPipeline; batch: { n: number }; w: EncodedWorkload }> {
  const w = getWorkload();
  const p = await ThreadedPipeline.start(loadConfig(), { onEvent }, { stages });
  const batch = { n: 0 };
  await submitAll(p, w.funding, 0, w.funding.length, batch);
  await submitEncoded(p, w, 0, w.warmupCount + WARMUP_COMMANDS, batch);
  await p.waitForBatch(batch.n);
  return { p, batch, w };
}

async function maxThroughput(stages: "fused" | "split"): Promise<BenchResult> {
  let events = 0;
  const { p, batch, w } = await prepared(() => {
    events++;
  }, stages);
  const count = Math.min(MAX_COMMANDS, w.count - WARMUP_COMMANDS);
  const from = w.warmupCount + WARMUP_COMMANDS;
  events = 0;
  const t0 = process.hrtime.bigint();
  await submitEncoded(p, w, from, from + count, batch);
  await p.waitForBatch(batch.n);
  const ns = Number(process.hrtime.bigint() - t0);
  await p.stop();
  const opsPerSec = (count / ns) * 1e9;
  return {
    id: stages === "fused" ? "pipeline.excore-mix.max" : "pipeline.excore-mix.max.split",
    opsPerSec,
    meanNs: ns / count,
    p50Ns: null,
    p99Ns: null,
    p999Ns: null,
    notes: `${count} commands of the book.excore-mix stream after ${WARMUP_COMMANDS} warm-up (9% GTC, 3% IOC, 6% cancel, 82% move; ~1000 resting orders over ~750 levels; risk holds on every order), batches of ${BATCH_COMMANDS_MAX}, ${events} events out; ${STAGE_THREADS[stages]}`,
  };
}

/** Batches the sequencer keeps in flight: more commands wait and join the next batch (smart batching). */
const INFLIGHT_BATCHES_MAX = 2;

/** What the open loop drives: the pipeline, or the echo worker of pipeline.echo.100k (same calls, same rings). */
interface RingDriver {
  trySubmitEncoded(source: RecordViews, offset: number, count: number, batchNumber: number): boolean;
  poll(): number;
}

/**
 * The open loop: commands arrive on schedule whatever the engine does (each stamped in `sentAt` at its scheduled
 * arrival), and the sequencer hands every command that has arrived to the engine as one batch whenever fewer than
 * INFLIGHT_BATCHES_MAX batches are in flight. The loop polls the rings itself (trySubmitEncoded / poll), as a
 * busy-polling gateway thread would: no event-loop turn, promise or timer per step, and a plain function's locals,
 * so the clock readings stay unboxed — what is measured is the engine and its rings, not this thread's garbage.
 * Commands [from, from + count) of the workload; bounded in time. Returns the number of batches.
 */
function openLoop(
  p: RingDriver,
  w: EncodedWorkload,
  from: number,
  count: number,
  start: number,
  sentAt: Float64Array,
  batch: { n: number },
  flight: { inflight: number },
): number {
  const deadline = start + OPEN_LOOP_SECONDS * 20 * 1e9;
  let arrived = 0; // commands whose scheduled arrival time has passed
  let next = 0; // commands handed to the engine
  let batches = 0;
  while (next < count || flight.inflight > 0) {
    const t = performance.now() * 1e6;
    if (t > deadline) throw new Error(`open loop: no progress (${next} of ${count} submitted, ${flight.inflight} batches in flight)`);
    const due = Math.min(count, Math.floor(((t - start) / 1e9) * OPEN_LOOP_RATE) + 1);
    if (due > arrived) {
      for (let i = arrived; i < due; i++) sentAt[i] = start + (i / OPEN_LOOP_RATE) * 1e9;
      arrived = due;
    }
    if (arrived > next && flight.inflight < INFLIGHT_BATCHES_MAX) {
      const to = Math.min(arrived, next + BATCH_COMMANDS_MAX);
      if (p.trySubmitEncoded(w.commands, (from + next) * COMMAND_RECORD_BYTES, to - next, batch.n + 1)) {
        batch.n++;
        flight.inflight++;
        batches++;
        next = to;
      }
    }
    p.poll();
  }
  return batches;
}

/**
 * The echo worker (bench/echo-worker.ts) behind a command ring and an event ring of the pipeline's sizes: one event
 * per command, no engine. pipeline.echo.100k drives it with the same open loop as pipeline.excore-mix.100k.
 */
class EchoDriver implements RingDriver {
  private readonly wait = new SpinThenParkWait({ spinIterations: 0 });
  private readonly input: RingWriter;
  private readonly output: RingReader;
  private readonly exited: Promise<void>;

  private constructor(
    private readonly worker: Worker,
    commandsIn: RingBuffer,
    eventsOut: RingBuffer,
    private readonly onAnswer: (seq: number) => void,
    private readonly onBatchDone: () => void,
  ) {
    this.input = new RingWriter(commandsIn, this.wait);
    this.output = new RingReader(eventsOut, this.wait);
    this.exited = new Promise((resolve) => worker.once("exit", () => resolve()));
  }

  static async start(onAnswer: (seq: number) => void, onBatchDone: () => void): Promise<EchoDriver> {
    const commandsIn = RingBuffer.create(COMMAND_RECORD_BYTES, COMMAND_RING_SLOTS);
    const eventsOut = RingBuffer.create(EVENT_RECORD_BYTES, OUT_EVENT_RING_SLOTS);
    const data: EchoWorkerData = {
      entry: new URL("./echo-worker.ts", import.meta.url).href,
      commandsIn: commandsIn.handle("echo.in"),
      eventsOut: eventsOut.handle("echo.out"),
    };
    const worker = new Worker(new URL("../engine/pipeline/workers/boot.mjs", import.meta.url), { workerData: data });
    await new Promise<void>((resolve, reject) => {
      worker.once("message", () => resolve());
      worker.once("error", reject);
    });
    return new EchoDriver(worker, commandsIn, eventsOut, onAnswer, onBatchDone);
  }

  trySubmitEncoded(source: RecordViews, offset: number, count: number, batchNumber: number): boolean {
    const w = this.input;
    if (w.ring.freeSlots() < count + 1) return false;
    for (let i = 0; i < count; i++) tryCopyRecord(w, source, offset + i * COMMAND_RECORD_BYTES);
    writeCommandBatchEnd(w.ring, w.trySlot(), batchNumber);
    w.flush();
    return true;
  }

  poll(): number {
    const r = this.output;
    let n = 0;
    for (let offset = r.peek(); offset >= 0; offset = r.peek()) {
      if (eventKindAt(r.ring, offset) === BATCH_END_KIND) this.onBatchDone();
      else this.onAnswer(eventSeqAt(r.ring, offset));
      r.advance();
      n++;
    }
    return n;
  }

  async stop(): Promise<void> {
    this.input.flush();
    this.input.ring.close();
    await this.exited;
    await this.worker.terminate();
  }
}

/**
 * Latencies of the commands [firstSeq, firstSeq + count), each at its first event back; the first `warmup` of them are
 * part of the run but not recorded (the loop, the polling and the recording are compiled by then).
 */
class LatencyRecorder {
  readonly sentAt: Float64Array;
  private readonly seen: Uint8Array;
  readonly histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000_000, numberOfSignificantValueDigits: 3 });

  constructor(
    private readonly firstSeq: number,
    private readonly count: number,
    private readonly warmup: number,
  ) {
    this.sentAt = new Float64Array(count);
    this.seen = new Uint8Array(count);
  }

  record(seq: number): void {
    const i = seq - this.firstSeq;
    if (i < 0 || i >= this.count || this.seen[i] === 1) return;
    this.seen[i] = 1;
    const latency = performance.now() * 1e6 - this.sentAt[i]!;
    if (i >= this.warmup) this.histogram.recordValue(latency);
  }
}

/**
 * pipeline.excore-mix.100k (the engine) or pipeline.echo.100k (the echo worker: the same loop, rings and threads with
 * no engine work — the floor this machine puts under the first). Latency = scheduled arrival to the first event of
 * the command back on this thread, hdr histogram.
 */
async function openLoopLatency(target: "engine" | "echo"): Promise<BenchResult> {
  const w = getWorkload();
  const count = Math.min(OPEN_LOOP_RATE * OPEN_LOOP_SECONDS, w.count - WARMUP_COMMANDS);
  // Warm-up: the book's warm-up and part of the warm-up mix at full speed (engine only); then one open loop runs the
  // rest of the warm-up mix and the measured commands without a break, recording only the measured ones.
  const fast = w.warmupCount + OPEN_LOOP_WARMUP_COMMANDS;
  const looped = WARMUP_COMMANDS - OPEN_LOOP_WARMUP_COMMANDS;
  const recorder = new LatencyRecorder(w.firstSeq + OPEN_LOOP_WARMUP_COMMANDS, looped + count, looped);
  const flight = { inflight: 0 };
  const answered = (seq: number): void => {
    recorder.record(seq);
  };
  const batchDone = (): void => {
    flight.inflight--;
  };
  const batch = { n: 0 };
  let stop: () => Promise<void>;
  let driver: RingDriver;
  if (target === "engine") {
    const p = await ThreadedPipeline.start(loadConfig(), { onEvent: (e) => answered(e.seq), onBatchDone: batchDone });
    flight.inflight += Math.ceil(w.funding.length / BATCH_COMMANDS_MAX) + Math.ceil(fast / BATCH_COMMANDS_MAX);
    await submitAll(p, w.funding, 0, w.funding.length, batch);
    await submitEncoded(p, w, 0, fast, batch);
    await p.waitForBatch(batch.n);
    driver = p;
    stop = () => p.stop();
  } else {
    const echo = await EchoDriver.start(answered, batchDone);
    driver = echo;
    stop = () => echo.stop();
  }
  const histogram = recorder.histogram;
  const start = performance.now() * 1e6;
  const batches = openLoop(driver, w, fast, looped + count, start, recorder.sentAt, batch, flight);
  const elapsed = performance.now() * 1e6 - start;
  await stop();
  const r: BenchResult = {
    id: target === "engine" ? "pipeline.excore-mix.100k" : "pipeline.echo.100k",
    opsPerSec: ((looped + count) / elapsed) * 1e9,
    meanNs: histogram.mean,
    p50Ns: histogram.getValueAtPercentile(50),
    p99Ns: histogram.getValueAtPercentile(99),
    p999Ns: histogram.getValueAtPercentile(99.9),
    notes: `open loop at ${OPEN_LOOP_RATE} ops/s over ${looped + count} commands, the last ${count} measured (the first ${looped} warm it up, after ${target === "engine" ? `${fast} at full speed` : "nothing"}), each stamped at its scheduled arrival; at most ${INFLIGHT_BATCHES_MAX} batches in flight (${batches} batches, ${((looped + count) / batches).toFixed(1)} commands each); latency = arrival to the first event of the command back on this thread, which polls the rings; ` +
      (target === "engine" ? STAGE_THREADS.fused : "an echo worker (one event per command, no engine) behind rings of the pipeline's sizes: the floor under pipeline.excore-mix.100k"),
  };
  histogram.destroy();
  return r;
}

// ---- spot vs margin vs perp orders (issues 5 and 12) ----
//
// The three pair benchmarks run together, in PAIR_ROUNDS alternated rounds (which mode goes first rotates), whichever
// of their ids is selected: each figure is its mode's median round, and the ratios (issue 5's margin ≤ 2× spot, issue
// 12's perp ≤ 1.5× spot) are the median of each round's ratio — the two runs of a round are a few seconds apart, so
// the machine's load falls on both alike. One run each (as before) moved the perp ratio between 1.44× and 2.07× in
// eight runs of one evening on this shared VM.

/** Alternated rounds of the three pair benchmarks (each round: one run per mode, a fresh pipeline each). */
const PAIR_ROUNDS = 5;
const PAIR_MODES: readonly PairMode[] = ["spot", "margin", "perp"];

/** One measured run: wall time of the PAIR_MEASURED commands after PAIR_WARMUP, and the fills and rejects among them. */
interface PairRun {
  readonly nsPerCommand: number;
  readonly fills: number;
  readonly rejected: number;
}

/** pair-stream.ts's commands written into a record buffer, for the rings. */
function pairRecords(mode: PairMode): { setup: CommandRecord[]; views: RecordViews; count: number } {
  const count = PAIR_WARMUP + PAIR_MEASURED;
  const views = viewsOf(new ArrayBuffer(count * COMMAND_RECORD_BYTES));
  const setup = pairStream(mode, (c, i) => writeCommand(views, i * COMMAND_RECORD_BYTES, c));
  return { setup, views, count };
}

/** What each pair mode's notes say about its takers. */
const PAIR_NOTES: Record<PairMode, string> = {
  spot: "pairs of a resting maker sell (1 SOL at 150) and a crossing IOC taker buy; takers hold the USDC (plain spot, S1)",
  margin: "pairs of a resting maker sell (1 SOL at 150) and a crossing IOC taker buy; takers hold no USDC (10 BTC collateral): every fill borrows 150 USDC from the pool (S2, entry fee, C8 on every order)",
  perp: "pairs of a resting maker sell and a crossing IOC taker buy of 0.001 BTC of BTC_USDC_PERP at 60,000; both sides hold USDC: C8 with the market's sqrt IMF, positions (P1), open interest, USDC fees through the P6 waterfall, a Position event per side and batch (engine.ts \"P1 position reports\")",
};

/** One run of a pair stream through a fresh pipeline: the setup, the warm-up, then the measured commands. */
async function pairRun(s: ReturnType<typeof pairRecords>): Promise<PairRun> {
  let fills = 0;
  let rejected = 0;
  const p = await ThreadedPipeline.start(loadConfig(), {
    onEvent(e) {
      if (e.kind === 3) fills++;
      else if (e.kind === 2) rejected++;
    },
  });
  const batch = { n: 0 };
  await submitAll(p, s.setup, 0, s.setup.length, batch);
  const run = async (from: number, to: number): Promise<void> => {
    for (let i = from; i < to; i += BATCH_COMMANDS_MAX) {
      await p.submitEncoded(s.views, i * COMMAND_RECORD_BYTES, Math.min(to, i + BATCH_COMMANDS_MAX) - i, ++batch.n);
    }
    await p.waitForBatch(batch.n);
  };
  await run(0, PAIR_WARMUP);
  fills = 0;
  rejected = 0;
  const t0 = process.hrtime.bigint();
  await run(PAIR_WARMUP, s.count);
  const ns = Number(process.hrtime.bigint() - t0);
  await p.stop();
  return { nsPerCommand: ns / (s.count - PAIR_WARMUP), fills, rejected };
}

let pairRounds: Promise<Record<PairMode, PairRun[]>> | null = null;

/** Every round of the three modes, run once however many of their ids are selected. */
function allPairRounds(): Promise<Record<PairMode, PairRun[]>> {
  pairRounds ??= runPairRounds();
  return pairRounds;
}

async function runPairRounds(): Promise<Record<PairMode, PairRun[]>> {
  const streams = { spot: pairRecords("spot"), margin: pairRecords("margin"), perp: pairRecords("perp") };
  const runs: Record<PairMode, PairRun[]> = { spot: [], margin: [], perp: [] };
  for (let r = 0; r < PAIR_ROUNDS; r++) {
    for (let i = 0; i < PAIR_MODES.length; i++) {
      const mode = PAIR_MODES[(i + r) % PAIR_MODES.length]!;
      runs[mode].push(await pairRun(streams[mode]));
    }
  }
  return runs;
}

/** The median of xs (the lower middle one of an even count). */
function medianOf(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[(sorted.length - 1) >> 1]!;
}

async function pairThroughput(mode: PairMode): Promise<BenchResult> {
  const rounds = await allPairRounds();
  const mine = rounds[mode];
  const nsPerCommand = medianOf(mine.map((r) => r.nsPerCommand));
  const perRound = mine.map((r) => r.nsPerCommand.toFixed(0)).join(" / ");
  let ratio = "";
  if (mode !== "spot") {
    const ratios = mine.map((r, k) => r.nsPerCommand / rounds.spot[k]!.nsPerCommand);
    ratio = `; ${medianOf(ratios).toFixed(2)}× pipeline.spot-order per command (median of the rounds' ratios: ${ratios.map((x) => x.toFixed(2)).join(" / ")})`;
  }
  const last = mine[mine.length - 1]!;
  return {
    id: `pipeline.${mode}-order`,
    opsPerSec: 1e9 / nsPerCommand,
    meanNs: nsPerCommand,
    p50Ns: null,
    p99Ns: null,
    p999Ns: null,
    notes: `median of ${PAIR_ROUNDS} rounds alternated with the other pair modes (ns per command: ${perRound}); each ${PAIR_MEASURED} commands after ${PAIR_WARMUP} warm-up, ${PAIR_TAKERS} takers: ${PAIR_NOTES[mode]}` +
      `; ${last.fills} fills, ${last.rejected} rejects a round; batches of ${BATCH_COMMANDS_MAX}, ${STAGE_THREADS.fused}${ratio}`,
  };
}

export const benchmarks: BenchDef[] = [
  { id: "pipeline.spot-order", kind: "custom", run: () => pairThroughput("spot") },
  { id: "pipeline.margin-order", kind: "custom", run: () => pairThroughput("margin") },
  { id: "pipeline.perp-order", kind: "custom", run: () => pairThroughput("perp") },
  { id: "pipeline.excore-mix.max", kind: "custom", run: () => maxThroughput("fused") },
  { id: "pipeline.excore-mix.max.split", kind: "custom", run: () => maxThroughput("split") },
  { id: "pipeline.excore-mix.100k", kind: "custom", run: () => openLoopLatency("engine") },
  { id: "pipeline.echo.100k", kind: "custom", run: () => openLoopLatency("echo") },
];
