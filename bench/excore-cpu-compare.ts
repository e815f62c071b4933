// The engine worker's own CPU per command of pipeline.excore-mix.max, in one process: the same stream (book-workload.ts,
// seed 7, its 200 accounts funded as pipeline.bench.ts funds them, 100,000 warm-up commands of the mix) read from
// its binary records into reused CommandRecords (readCommand, as engine-worker.ts does), run through
// Engine.processBatch in batches of BATCH_COMMANDS_MAX, every event written into a record slot (writeEvent, as the
// worker's ring sink does). Timed by process CPU per batch. With `--base DIR` (another checkout of the repository)
// both builds run in this one process, their batches alternating one by one (which goes first swaps each batch), so
// the machine's load falls on both alike. With `--events` each build also hashes every event's record bytes (the
// slot zeroed before each write) and prints its final state hash: equal digests mean byte-identical events and state
// (timings are then the hash's). `--count N` measured commands (default 500,000); `--profile` runs this build alone
// (for node --cpu-prof). Each build also reports the heap bytes allocated per command (batches without a collection).
// `--alloc-profile FILE` samples where those bytes are allocated (V8's sampling heap profiler, freed objects included).
//   node --import tsx bench/excore-cpu-compare.ts [--base DIR] [--events] [--count N] [--alloc-profile FILE]
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { getHeapStatistics } from "node:v8";
import { Session } from "node:inspector";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { CommandKind, CommandRecord } from "../engine/model/index.ts";
import * as thisModel from "../engine/model/index.ts";
import * as thisLayout from "../engine/model/record-layout.ts";
import * as thisPipeline from "../engine/pipeline/index.ts";
import { bookWorkload, loadCommand, type BookStream } from "./book-workload.ts";

const WARMUP_COMMANDS = 100_000;
const ACCOUNTS = 200;

/** One command record as its fields, so that each build writes it with its own record layout. */
type CommandFill = (c: CommandRecord) => void;

interface Stream {
  readonly funding: CommandFill[];
  /** The book's warm-up and the mix, one fill per command. */
  readonly fill: (i: number, c: CommandRecord) => void;
  readonly total: number;
  readonly warmup: number;
}

/** The arrays of a BookStream that loadCommand reads, in the order they are written to the stream file. */
const STREAM_ARRAYS = ["kind", "tif", "side", "account", "target", "priceIdx", "qtyLots"] as const;
type Arrays = { -readonly [K in (typeof STREAM_ARRAYS)[number]]: BookStream[K] };

/**
 * Writes the warm-up and mix of bookWorkload(WARMUP_COMMANDS + count, 0, 7) to `file`. Run in a child process: the
 * generator drives a MatchingShard with its own sink, which would leave this process's matching code fed with two
 * sinks where the engine worker sees one (a profile of the engine here would then not be the worker's).
 */
function writeStreamFile(file: string, count: number): void {
  const w = bookWorkload(WARMUP_COMMANDS + count, 0, 7);
  const parts: Buffer[] = [];
  const header = { warmup: { length: w.warmup.length, seqBase: w.warmup.seqBase }, mix: { length: w.mix.length, seqBase: w.mix.seqBase } };
  for (const st of [w.warmup, w.mix]) for (const k of STREAM_ARRAYS) parts.push(Buffer.from(st[k].buffer, st[k].byteOffset, st[k].byteLength));
  writeFileSync(file, Buffer.concat([Buffer.from(JSON.stringify(header) + "\n"), ...parts]));
}

function readStreamFile(file: string): { warmup: BookStream; mix: BookStream } {
  const bytes = readFileSync(file);
  const nl = bytes.indexOf(10);
  const header = JSON.parse(bytes.subarray(0, nl).toString()) as Record<"warmup" | "mix", { length: number; seqBase: number }>;
  let at = nl + 1;
  const read = (h: { length: number; seqBase: number }): BookStream => {
    const a = {} as Arrays;
    for (const k of STREAM_ARRAYS) {
      const T = { kind: Uint8Array, tif: Uint8Array, side: Uint8Array, account: Uint32Array, target: Float64Array, priceIdx: Int32Array, qtyLots: Uint8Array }[k];
      const n = h.length * T.BYTES_PER_ELEMENT;
      const copy = new Uint8Array(n);
      copy.set(bytes.subarray(at, at + n));
      at += n;
      (a as Record<string, unknown>)[k] = new T(copy.buffer);
    }
    return { ...a, length: h.length, seqBase: h.seqBase, peer: [] };
  };
  const warmup = read(header.warmup);
  return { warmup, mix: read(header.mix) };
}

function makeStream(count: number): Stream {
  const file = join(mkdtempSync(join(tmpdir(), "excore-stream-")), "stream.bin");
  const nodeArgs = process.execArgv.filter((a) => !a.startsWith("--cpu-prof"));
  let w: { warmup: BookStream; mix: BookStream };
  try {
    const child = spawnSync(process.execPath, [...nodeArgs, fileURLToPath(import.meta.url), "--generate", file, String(count)], { stdio: "inherit" });
    if (child.status !== 0) throw new Error(`stream generation failed (${child.status})`);
    w = readStreamFile(file);
  } finally {
    rmSync(dirname(file), { recursive: true, force: true });
  }
  const funding: CommandFill[] = [];
  let seq = w.mix.seqBase + w.mix.length;
  for (let a = 1; a <= ACCOUNTS; a++) {
    for (const [asset, amount] of [[0, 1_000_000_000_000_000n], [2, 10_000_000_000_000n]] as const) {
      const s = ++seq;
      funding.push((d) => {
        d.kind = CommandKind.Deposit;
        d.seq = s;
        d.account = a * 16;
        d.asset = asset;
        d.amount = amount;
      });
    }
  }
  const nw = w.warmup.length;
  return {
    funding,
    fill: (i, c) => (i < nw ? loadCommand(w.warmup, i, c) : loadCommand(w.mix, i - nw, c)),
    total: nw + w.mix.length,
    warmup: nw + WARMUP_COMMANDS,
  };
}

interface Layout {
  readonly COMMAND_RECORD_BYTES: number;
  readonly EVENT_RECORD_BYTES: number;
  viewsOf(b: ArrayBufferLike): { u8: Uint8Array };
  writeCommand(v: unknown, at: number, c: unknown): void;
  readCommand(v: unknown, at: number, c: unknown): void;
  writeEvent(v: unknown, at: number, e: unknown): void;
}

interface Run {
  readonly label: string;
  readonly engine: { processBatch(c: unknown[], n: number, sink: unknown): void; stateHash(): string };
  readonly layout: Layout;
  readonly records: { u8: Uint8Array };
  readonly batch: unknown[];
  readonly sink: { publish(e: unknown): void; readonly unitColumns?: boolean };
  readonly hash: ReturnType<typeof createHash> | null;
  cpuUs: number;
  events: number;
  /** CPU µs of each measured batch, in batch order (paired with the other build's by index). */
  readonly batchUs: number[];
  /** Heap bytes allocated over the measured batches that ran without a garbage collection, and their commands. */
  allocatedBytes: number;
  allocationCommands: number;
}

/** This checkout's modules (imported statically, so that an esbuild bundle of this file profiles with real lines). */
const THIS = { mod: thisPipeline as never, model: thisModel as never, layout: thisLayout as unknown as Layout };

async function modulesOf(root: string | null): Promise<{ mod: any; model: any; layout: Layout }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (root === null) return THIS;
  return {
    mod: await import(pathToFileURL(`${root}/engine/pipeline/index.ts`).href),
    model: await import(pathToFileURL(`${root}/engine/model/index.ts`).href),
    layout: (await import(pathToFileURL(`${root}/engine/model/record-layout.ts`).href)) as Layout,
  };
}

async function makeRun(root: string | null, label: string, s: Stream, hashEvents: boolean): Promise<Run> {
  const { mod, model, layout } = await modulesOf(root);
  const engine = new mod.Engine(root === null ? mod.loadConfig() : mod.loadConfig(`${root}/config/default.json`));
  const records = layout.viewsOf(new ArrayBuffer(s.total * layout.COMMAND_RECORD_BYTES));
  const c = new model.CommandRecord();
  for (let i = 0; i < s.total; i++) {
    c.clear();
    s.fill(i, c);
    layout.writeCommand(records, i * layout.COMMAND_RECORD_BYTES, c);
  }
  const batch: unknown[] = [];
  for (let i = 0; i < mod.BATCH_COMMANDS_MAX; i++) batch.push(new model.CommandRecord());
  const slot = layout.viewsOf(new ArrayBuffer(layout.EVENT_RECORD_BYTES));
  const hash = hashEvents ? createHash("sha256") : null;
  const run: Run = { label, engine, layout, records, batch, hash, cpuUs: 0, events: 0, batchUs: [], allocatedBytes: 0, allocationCommands: 0, sink: { publish: () => {} } };
  (run as { sink: Run["sink"] }).sink = {
    publish(e: unknown): void {
      run.events++;
      if (hash !== null) slot.u8.fill(0);
      layout.writeEvent(slot, 0, e);
      if (hash !== null) hash.update(slot.u8);
    },
    // As the worker's ring sink: a Balance's units may come in the record's column (a base without it ignores this).
    unitColumns: true,
  };
  for (const f of s.funding) {
    const d = new model.CommandRecord();
    f(d);
    engine.processBatch([d], 1, run.sink);
  }
  return run;
}

function batchOf(run: Run, from: number, to: number): void {
  const L = run.layout;
  const bytes = L.COMMAND_RECORD_BYTES;
  for (let i = from; i < to; i++) L.readCommand(run.records, i * bytes, run.batch[i - from]);
  run.engine.processBatch(run.batch, to - from, run.sink);
}

function percentileOf(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(q * (sorted.length - 1))]!;
}

function medianOf(values: readonly number[]): number {
  return percentileOf(values, 0.5);
}

/**
 * `--alloc-profile FILE`: V8's sampling heap profiler over the measured batches, counting the objects the young and
 * old collections freed too (every bigint a command makes dies young), written as a .heapprofile (DevTools' format).
 */
function startSampling(session: Session): void {
  session.connect();
  session.post("HeapProfiler.startSampling", { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as object);
}

function stopSampling(session: Session, file: string): void {
  session.post("HeapProfiler.stopSampling", (err, result) => {
    if (err !== null) throw err;
    writeFileSync(file, JSON.stringify(result.profile));
  });
  session.disconnect();
}

function arg(args: string[], name: string): string | null {
  const i = args.indexOf(name);
  return i < 0 ? null : args[i + 1]!;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const gen = arg(args, "--generate");
  if (gen !== null) return writeStreamFile(gen, Number(args[args.indexOf("--generate") + 2]));
  const base = arg(args, "--base");
  const count = Number(arg(args, "--count") ?? 500_000);
  const hashEvents = args.includes("--events");
  const s = makeStream(count);
  const runs: Run[] = [await makeRun(null, "new", s, hashEvents)];
  if (base !== null) runs.push(await makeRun(base, "base", s, hashEvents));
  const batchMax = runs[0]!.batch.length;
  const allocationProfile = arg(args, "--alloc-profile");
  const sampler = allocationProfile === null ? null : new Session();
  let flip = false;
  for (let from = 0; from < s.total; from += batchMax) {
    const to = Math.min(s.total, from + batchMax);
    if (sampler !== null && from >= s.warmup && from - batchMax < s.warmup) startSampling(sampler);
    const order = flip ? [...runs].reverse() : runs;
    flip = !flip;
    for (const r of order) {
      const heap0 = getHeapStatistics().used_heap_size;
      const t0 = process.cpuUsage();
      batchOf(r, from, to);
      const d = process.cpuUsage(t0);
      const heap1 = getHeapStatistics().used_heap_size;
      if (from >= s.warmup) {
        r.cpuUs += d.user + d.system;
        r.batchUs.push(d.user + d.system);
        // A batch that ran a collection shrank or moved the heap: only the others count.
        if (heap1 > heap0) {
          r.allocatedBytes += heap1 - heap0;
          r.allocationCommands += to - from;
        }
      }
    }
  }
  if (sampler !== null) stopSampling(sampler, allocationProfile!);
  const measured = s.total - s.warmup;
  const perCommand = (batchUs: number): number => batchUs / batchMax;
  for (const r of runs) {
    const digest = r.hash === null ? "" : ` events ${r.hash.digest("hex").slice(0, 16)}`;
    const median = perCommand(medianOf(r.batchUs));
    const p10 = perCommand(percentileOf(r.batchUs, 0.1));
    console.log(`${r.label}: ${(r.cpuUs / measured).toFixed(3)} µs/command over ${measured} (batches: median ${median.toFixed(3)}, p10 ${p10.toFixed(3)}); heap ${(r.allocatedBytes / r.allocationCommands).toFixed(1)} B/command; ${r.events} events; state ${r.engine.stateHash().slice(0, 16)}${digest}`);
  }
  if (runs.length === 2) {
    // Paired: each batch's new ÷ base, the two run back to back; the median is robust to the other tenants' bursts.
    const ratios = runs[0]!.batchUs.map((u, i) => u / runs[1]!.batchUs[i]!);
    console.log(`new ÷ base: median of ${ratios.length} paired batches ${medianOf(ratios).toFixed(3)}; of the sums ${(runs[0]!.cpuUs / runs[1]!.cpuUs).toFixed(3)}`);
  }
}

await main();
