// Restart and snapshots (X7), at the server level (startServer in-process, uWS listening, no client traffic):
//   snapshot.restart — an exchange with 100,000 funded accounts, 200,000 resting orders and a long history: restart to
//     ready from the newest snapshot + a journal tail (snapshot load and tail replay reported apart), against the
//     replay of the whole journal in the same run;
//   snapshot.pause — the longest stall of the engine while a snapshot of that state is taken, and its size on disk:
//     a client (operator session, in the server's process) sends read-only queries one at a time while the snapshot
//     is taken, and the longest round trip is the stall. Both writers in one run, alternating (engine = stop-the-world,
//     follower = from the newest snapshot + journal: engine.ts "X7 (as built)"), with 20,000 journaled deposits
//     before each follower snapshot for it to replay, and a window with no snapshot as long as a follower's.
// The journal is written straight into the data dir with the journal encoder (what the sequencer would have
// journaled), then the server replays it: that first start is the full-journal figure.
//
// The state is issue 14's (bench/snapshot-state.ts, as snapshot.encode/decode use it); bench/snapshot.bench.ts times
// the encoding alone. History: SNAPSHOT_BENCH_HISTORY commands after the setup (default 2,000,000: place + cancel pairs that leave the
// state as it was, so the state is the same whatever the history length; the figure is 10,000,000 — set the
// variable to run it; a full replay scales linearly with it, the snapshot restart does not).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { BatchEncoder, emptySummary, JournalWriter, JOURNAL_SEGMENT_BYTES_DEFAULT, JOURNAL_SEGMENT_DIR, listSegments, segmentBatches } from "../engine/journal/index.ts";
import { CommandKind, CommandRecord, OrderFlag, OrderType, SelfTradePrevention, Side, TimeInForce } from "../engine/model/index.ts";
import { BATCH_COMMANDS_MAX, configDigest, loadConfig } from "../engine/pipeline/index.ts";
import { CrossbookClient } from "../gateway/client/ws-client.ts";
import { startServer, type RunningServer } from "../gateway/server.ts";
import type { SnapshotWriterKind, TakenSnapshot } from "../gateway/snapshots.ts";
import type { BenchDef, BenchResult } from "./harness.ts";
import { SNAPSHOT_BENCH_SHAPE, snapshotStateBatches } from "./snapshot-state.ts";

const ACCOUNTS = SNAPSHOT_BENCH_SHAPE.accounts;
const ORDERS = SNAPSHOT_BENCH_SHAPE.restingOrders;
const HISTORY = Number(process.env.SNAPSHOT_BENCH_HISTORY ?? 2_000_000);
/** Commands journaled after the snapshot: the tail a restart replays. */
const TAIL = 100_000;
const BTC_USDC = 0;
const PRICE_SCALE = 1_000_000_000n;
const USDC_UNIT = 1_000_000n;

const config = loadConfig();

/** Writes commands into the journal in batches of BATCH_COMMANDS_MAX, numbering them on from `next`. */
class JournalFeed {
  private readonly enc = new BatchEncoder();
  private readonly cmd = new CommandRecord();
  private inBatch = 0;

  private constructor(
    private readonly writer: JournalWriter,
    public seq: number,
    public batch: number,
  ) {}

  static async open(dataDir: string, seq: number, batch: number): Promise<JournalFeed> {
    const w = await JournalWriter.openSegments(join(dataDir, JOURNAL_SEGMENT_DIR), configDigest(config), JOURNAL_SEGMENT_BYTES_DEFAULT, seq + 1);
    return new JournalFeed(w, seq, batch);
  }

  /** The reused record to fill for the next command. */
  next(): CommandRecord {
    this.cmd.clear();
    return this.cmd;
  }

  async add(): Promise<void> {
    if (this.inBatch === 0) this.enc.begin(++this.batch);
    this.cmd.seq = ++this.seq;
    this.enc.add(this.cmd);
    if (++this.inBatch === BATCH_COMMANDS_MAX) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.inBatch === 0) return;
    await this.writer.append(this.enc.finish());
    this.inBatch = 0;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.writer.close();
  }
}

function buy(c: CommandRecord, account: number, priceUsd: bigint, clientId: bigint): void {
  c.kind = CommandKind.PlaceOrder;
  c.account = account;
  c.market = BTC_USDC;
  c.side = Side.Buy;
  c.orderType = OrderType.Limit;
  c.tif = TimeInForce.GTC;
  c.stp = SelfTradePrevention.RejectTaker;
  c.price = priceUsd * PRICE_SCALE;
  c.quantity = 100_000n; // 0.001 BTC
  c.clientId = clientId;
}

/** The state (bench/snapshot-state.ts: deposits, then resting orders on three books), then the history. */
async function writeHistory(dataDir: string): Promise<{ seq: number; batch: number }> {
  const feed = await JournalFeed.open(dataDir, 0, 0);
  for (const batch of snapshotStateBatches(SNAPSHOT_BENCH_SHAPE)) {
    for (const c of batch) {
      feed.next().copyFrom(c);
      await feed.add();
    }
  }
  await appendPairs(feed, HISTORY, 0);
  await feed.close();
  return { seq: feed.seq, batch: feed.batch };
}

/**
 * `commands` commands of place (a BTC bid at 49,000 USD, below every resting one) + cancel by client id pairs: the
 * state ends as it began. Client ids from 10^9 on, apart from the resting orders' (at most 200,000).
 */
async function appendPairs(feed: JournalFeed, commands: number, salt: number): Promise<void> {
  for (let i = 0; i < commands / 2; i++) {
    const account = ((i * 7_919 + salt) % ACCOUNTS + 1) * 16;
    const clientId = BigInt(1_000_000_000 + i + salt);
    buy(feed.next(), account, 49_000n, clientId);
    await feed.add();
    const c = feed.next();
    c.kind = CommandKind.CancelOrder;
    c.account = account;
    c.market = BTC_USDC;
    c.flags = OrderFlag.ByClientId;
    c.clientId = clientId;
    await feed.add();
  }
}

/** CPU ms of each thread of this process (Linux /proc: user + system ticks of 10 ms), by thread id; empty elsewhere. */
function threadCpuMs(): Map<number, number> {
  const out = new Map<number, number>();
  if (!existsSync("/proc/self/task")) return out;
  for (const id of readdirSync("/proc/self/task")) {
    try {
      const fields = readFileSync(`/proc/self/task/${id}/stat`, "utf8").split(") ")[1]!.split(" ");
      out.set(Number(id), (Number(fields[11]) + Number(fields[12])) * 10);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/**
 * Where a restart's CPU goes, by thread, in its two phases (restore: up to the end of the snapshot load; tail: the
 * journal after it): the main thread (gateway views, file read, journal), the engine worker (the thread other than the
 * main one with the most CPU) and every other thread (V8's GC helper threads, the settlement worker, libuv). On a
 * loaded machine the wall figures swing with the other processes; these do much less. Sampled every 20 ms.
 */
class RestartCpu {
  private readonly samples: { atMs: number; cpu: Map<number, number> }[] = [];
  private readonly t0 = performance.now();
  private readonly timer = setInterval(() => this.sample(), 20);

  constructor() {
    this.sample();
  }

  private sample(): void {
    this.samples.push({ atMs: performance.now() - this.t0, cpu: threadCpuMs() });
  }

  /** Stops sampling; per thread group, CPU ms before and after `splitMs` from the start. */
  finish(splitMs: number): RestartCpuFigures {
    clearInterval(this.timer);
    this.sample();
    const first = this.samples[0]!.cpu;
    const last = this.samples[this.samples.length - 1]!.cpu;
    let at = this.samples[0]!;
    for (const s of this.samples) if (s.atMs <= splitMs) at = s;
    const phase = (id: number): [number, number] => {
      const a = first.get(id) ?? 0;
      const b = at.cpu.get(id) ?? a;
      return [b - a, (last.get(id) ?? b) - b];
    };
    const main = process.pid;
    let engine = -1;
    let engineTotal = -1;
    for (const id of last.keys()) {
      const [r, t] = phase(id);
      if (id !== main && r + t > engineTotal) [engine, engineTotal] = [id, r + t];
    }
    const other: [number, number] = [0, 0];
    for (const id of last.keys()) {
      if (id === main || id === engine) continue;
      const [r, t] = phase(id);
      other[0] += r;
      other[1] += t;
    }
    return { main: phase(main), engine: phase(engine), other };
  }
}

/** CPU ms [restore, tail] per thread group (RestartCpu). */
interface RestartCpuFigures {
  readonly main: [number, number];
  readonly engine: [number, number];
  readonly other: [number, number];
}

function serverOn(dataDir: string): Promise<RunningServer> {
  return startServer({ config, host: "127.0.0.1", port: 0, dataDir, tickIntervalMs: 0, log: () => {}, snapshots: { everyCommands: 0, everyMs: 0, keep: 3 } });
}

/** One snapshot taken while a client probes the engine with back-to-back queries (their round trips show the stall). */
interface Probed {
  readonly writer: SnapshotWriterKind;
  readonly taken: TakenSnapshot;
  /** Longest and 99th-percentile query round trip while it was taken, and the queries answered. */
  readonly maxRttMs: number;
  readonly p99RttMs: number;
  readonly queries: number;
}

interface Figures {
  history: number;
  journalBytes: number;
  fullReplayMs: number;
  fullRecords: number;
  /** Round trips with no snapshot, over a window as long as a follower snapshot. */
  baseline: { maxRttMs: number; p99RttMs: number; queries: number };
  /** Alternating: engine (stop-the-world), follower, engine, follower. */
  rounds: Probed[];
  restartMs: number;
  restartCpu: RestartCpuFigures;
  snapshotLoadMs: number;
  tailReplayMs: number;
  tailRecords: number;
  hashesEqual: boolean;
  load: string;
}

/** QueryCollateral round trips, one at a time, until `until` settles. A read-only query is sequenced, not journaled. */
async function probe(client: CrossbookClient, until: Promise<unknown>): Promise<{ maxRttMs: number; p99RttMs: number; queries: number }> {
  let done = false;
  void until.finally(() => (done = true));
  const rtts: number[] = [];
  while (!done) {
    const t = performance.now();
    await new Promise<void>((resolve) => {
      let seq = -1n;
      const off = client.onEvent((e) => {
        if (e.clientSeq !== seq) return;
        off();
        resolve();
      });
      seq = client.send({ type: "QueryCollateral", account: 16 });
    });
    rtts.push(performance.now() - t);
  }
  rtts.sort((a, b) => a - b);
  return { maxRttMs: rtts[rtts.length - 1] ?? 0, p99RttMs: rtts[Math.floor(rtts.length * 0.99)] ?? 0, queries: rtts.length };
}

/** Journaled commands between two snapshots (a follower snapshot replays them): deposits, answered before it returns. */
async function deposits(client: CrossbookClient, count: number, salt: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    client.send({ type: "Deposit", account: ((i * 7_919 + salt) % ACCOUNTS + 1) * 16, asset: 0, amount: "1" });
    if (i % 500 === 499) await new Promise((r) => setTimeout(r, 1));
  }
  await client.request({ type: "QueryCollateral", account: 16 }, 20, 120_000);
}

/**
 * The journal's last sequence number and batch after a snapshot's boundary: a probe query alone in its batch is
 * written when the engine may have phase-0 work then (gateway/sequencer.ts framesWithoutQueries), so the journal may
 * go on past the last snapshot.
 */
function journalEnd(dataDir: string, after: { seq: number; batch: number }): { seq: number; batch: number } {
  const summary = emptySummary();
  const opts = { configDigestHex: configDigest(config), fromSeq: after.seq + 1, afterBatch: after.batch };
  for (const _ of segmentBatches(listSegments(dataDir), opts, summary));
  return { seq: Math.max(after.seq, summary.lastSeq), batch: Math.max(after.batch, summary.lastBatch) };
}

let figures: Promise<Figures> | null = null;

async function measure(): Promise<Figures> {
  const dataDir = mkdtempSync(join(tmpdir(), "crossbook-bench-snapshot-"));
  try {
    const end = await writeHistory(dataDir);
    let journalBytes = 0;
    for (const f of readdirSync(join(dataDir, JOURNAL_SEGMENT_DIR))) journalBytes += statSync(join(dataDir, JOURNAL_SEGMENT_DIR, f)).size;
    // 1. The whole journal, as a server without snapshots restarts today.
    let t = performance.now();
    const full = await serverOn(dataDir);
    const fullReplayMs = performance.now() - t;
    const fullRecords = full.recovered.commands;
    // 2. Snapshots of that state while a client's queries probe the engine: stop-the-world and follower, alternating,
    // with journaled deposits before each follower one (it replays them after the snapshot before it).
    const client = await CrossbookClient.connect(`ws://127.0.0.1:${full.port}`, { key: full.operatorKey });
    const rounds: Probed[] = [];
    for (const writer of ["engine", "follower", "engine", "follower"] as const) {
      if (writer === "follower") await deposits(client, 20_000, rounds.length);
      const taking = full.snapshot(writer);
      const probed = await probe(client, taking);
      rounds.push({ writer, taken: await taking, ...probed });
    }
    const followerMs = rounds.filter((r) => r.writer === "follower").map((r) => r.taken.totalMs);
    const baseline = await probe(client, new Promise((r) => setTimeout(r, Math.max(...followerMs))));
    await client.close();
    await full.stop();
    // 3. A tail after the last snapshot and whatever of the probe's queries was journaled, then the restart
    // from snapshot + tail; the hash against an uninterrupted replay.
    const last = rounds[rounds.length - 1]!.taken;
    const written = journalEnd(dataDir, last);
    const feed = await JournalFeed.open(dataDir, Math.max(end.seq, written.seq), Math.max(end.batch, written.batch));
    await appendPairs(feed, TAIL, 17);
    await feed.close();
    const cpu = new RestartCpu();
    t = performance.now();
    const restarted = await serverOn(dataDir);
    const restartMs = performance.now() - t;
    const r = restarted.recovered;
    const restartCpu = cpu.finish(r.snapshotLoadMs);
    const hash = await restarted.stateHash();
    await restarted.stop();
    const { spawnSync } = await import("node:child_process");
    const replay = spawnSync(process.execPath, [new URL("../bin/crossbook.mjs", import.meta.url).pathname, "journal-hash", "--data", dataDir], { encoding: "utf8", maxBuffer: 1 << 20 });
    const replayed = JSON.parse(replay.stdout) as { stateHash: string };
    return {
      history: HISTORY,
      journalBytes,
      fullReplayMs,
      fullRecords,
      baseline,
      rounds,
      restartMs,
      restartCpu,
      snapshotLoadMs: r.snapshotLoadMs,
      tailReplayMs: r.journalReplayMs,
      tailRecords: r.commands,
      hashesEqual: replayed.stateHash === hash && r.snapshotSeq === last.seq,
      load: loadavg().map((x) => x.toFixed(1)).join(" "),
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function once(): Promise<Figures> {
  figures ??= measure();
  return figures;
}

const MS = 1_000_000;

function cpuNote(c: RestartCpuFigures): string {
  const pair = ([r, t]: [number, number]): string => `${r} / ${t} ms`;
  return `main ${pair(c.main)}, engine worker ${pair(c.engine)}, other threads (GC helpers, settlement, libuv) ${pair(c.other)}`;
}

function result(id: string, ns: number, notes: string): BenchResult {
  return { id, opsPerSec: null, meanNs: ns, p50Ns: ns, p99Ns: null, p999Ns: null, notes };
}

export const benchmarks: BenchDef[] = [
  {
    id: "snapshot.restart",
    kind: "custom",
    run: async () => {
      const f = await once();
      return result(
        "snapshot.restart",
        f.restartMs * MS,
        `restart to ready from snapshot + tail: ${f.restartMs.toFixed(0)} ms (snapshot load ${f.snapshotLoadMs.toFixed(0)} ms, ` +
          `tail replay ${f.tailReplayMs.toFixed(0)} ms for ${f.tailRecords} records) vs full journal replay ${f.fullReplayMs.toFixed(0)} ms ` +
          `for ${f.fullRecords} records (${(f.journalBytes / 1e6).toFixed(0)} MB); ${ACCOUNTS} funded accounts, ${ORDERS} ` +
          `resting orders, ${f.history} history commands; state hash after restart = full replay's: ${f.hashesEqual}; ` +
          `restart CPU by thread, restore / tail: ${cpuNote(f.restartCpu)}; load average ${f.load}`,
      );
    },
  },
  {
    id: "snapshot.pause",
    kind: "custom",
    run: async () => {
      const f = await once();
      const fmt = (p: Probed): string =>
        `${p.writer}: longest round trip ${p.maxRttMs.toFixed(0)} ms (p99 ${p.p99RttMs.toFixed(1)} ms, ${p.queries} queries), sequencer held ` +
        `${p.taken.captureMs.toFixed(1)} ms, on disk after ${p.taken.totalMs.toFixed(0)} ms`;
      const follower = f.rounds.filter((p) => p.writer === "follower");
      const worst = Math.max(...follower.map((p) => p.maxRttMs));
      return result(
        "snapshot.pause",
        worst * MS,
        `longest engine stall while a snapshot is taken = longest query round trip meanwhile (client in the server's process, ` +
          `one query at a time): ${f.rounds.map(fmt).join("; ")}; with no snapshot over as long: ${f.baseline.maxRttMs.toFixed(0)} ms ` +
          `(p99 ${f.baseline.p99RttMs.toFixed(1)} ms, ${f.baseline.queries} queries); snapshot ${(follower[0]!.taken.bytes / 1e6).toFixed(1)} MB on disk for ` +
          `${ACCOUNTS} accounts and ${ORDERS} resting orders; load average ${f.load}`,
      );
    },
  },
];
