// Restart and snapshots (X7), at the server level (startServer in-process, uWS listening, no client traffic):
//   snapshot.restart — an exchange with 100,000 funded accounts, 200,000 resting orders and a long history: restart to
//     ready from the newest snapshot + a journal tail (snapshot load and tail replay reported apart), against the
//     replay of the whole journal in the same run;
//   snapshot.pause — the longest stall of the engine while a snapshot of that state is taken, and its size on disk.
// The journal is written straight into the data dir with the journal encoder (what the sequencer would have
// journaled), then the server replays it: that first start is the full-journal figure.
//
// The state is issue 14's (bench/snapshot-state.ts, as snapshot.encode/decode use it); bench/snapshot.bench.ts times
// the encoding alone. History: SNAPSHOT_BENCH_HISTORY commands after the setup (default 2,000,000: place + cancel pairs that leave the
// state as it was, so the state is the same whatever the history length; the figure is 10,000,000 — set the
// variable to run it; a full replay scales linearly with it, the snapshot restart does not).
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BatchEncoder, JournalWriter, JOURNAL_SEGMENT_BYTES_DEFAULT, JOURNAL_SEGMENT_DIR } from "../engine/journal/index.ts";
import { CommandKind, CommandRecord, OrderFlag, OrderType, SelfTradePrevention, Side, TimeInForce } from "../engine/model/index.ts";
import { BATCH_COMMANDS_MAX, configDigest, loadConfig } from "../engine/pipeline/index.ts";
import { startServer, type RunningServer } from "../gateway/server.ts";
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

function serverOn(dataDir: string): Promise<RunningServer> {
  return startServer({ config, host: "127.0.0.1", port: 0, dataDir, tickIntervalMs: 0, log: () => {}, snapshots: { everyCommands: 0, everyMs: 0, keep: 3 } });
}

interface Figures {
  history: number;
  journalBytes: number;
  fullReplayMs: number;
  fullRecords: number;
  snapshotBytes: number;
  captureMs: number;
  snapshotTotalMs: number;
  restartMs: number;
  snapshotLoadMs: number;
  tailReplayMs: number;
  tailRecords: number;
  hashesEqual: boolean;
}

let figures: Promise<Figures> | null = null;

async function measure(): Promise<Figures> {
  const dataDir = mkdtempSync(join(tmpdir(), "crossbook-bench-snapshot-"));
  try {
    const end = await writeHistory(dataDir);
    let journalBytes = 0;
    const { readdirSync } = await import("node:fs");
    for (const f of readdirSync(join(dataDir, JOURNAL_SEGMENT_DIR))) journalBytes += statSync(join(dataDir, JOURNAL_SEGMENT_DIR, f)).size;
    // 1. The whole journal, as a server without snapshots restarts today.
    let t = performance.now();
    const full = await serverOn(dataDir);
    const fullReplayMs = performance.now() - t;
    const fullRecords = full.recovered.commands;
    // 2. A snapshot of that state.
    const taken = await full.snapshot();
    await full.stop();
    // 3. A tail after it, then the restart from snapshot + tail; the hash against an uninterrupted replay.
    const feed = await JournalFeed.open(dataDir, end.seq, end.batch);
    await appendPairs(feed, TAIL, 17);
    await feed.close();
    t = performance.now();
    const restarted = await serverOn(dataDir);
    const restartMs = performance.now() - t;
    const r = restarted.recovered;
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
      snapshotBytes: taken.bytes,
      captureMs: taken.captureMs,
      snapshotTotalMs: taken.totalMs,
      restartMs,
      snapshotLoadMs: r.snapshotLoadMs,
      tailReplayMs: r.journalReplayMs,
      tailRecords: r.commands,
      hashesEqual: replayed.stateHash === hash,
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
          `resting orders, ${f.history} history commands; state hash after restart = full replay's: ${f.hashesEqual}`,
      );
    },
  },
  {
    id: "snapshot.pause",
    kind: "custom",
    run: async () => {
      const f = await once();
      return result(
        "snapshot.pause",
        f.captureMs * MS,
        `engine stall bound (request → every stage's state handed back): ${f.captureMs.toFixed(0)} ms; file written and ` +
          `synced ${f.snapshotTotalMs.toFixed(0)} ms after the request; snapshot ${(f.snapshotBytes / 1e6).toFixed(1)} MB on disk for ` +
          `${ACCOUNTS} accounts and ${ORDERS} resting orders`,
      );
    },
  },
];
