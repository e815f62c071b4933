// The snapshot follower (X7; engine.ts decision "X7 (as built)"): a snapshot written from the files alone, by a worker
// of its own, so neither the engine's stages nor the sequencer stop for it.
//
// The request reads the sequencer's boundary — the last batch whose journal write returned and that batch's last
// sequence number (Sequencer.journaled; engine.ts X4P: the engine may already run a batch whose write is on the way,
// so the boundary is never the last batch handed); every batch up to it is in the journal.
// The worker starts from the state it kept after its previous snapshot (a standing follower: one worker for the
// server's life, SnapshotFollower) or, the first time and after any failure, restores the newest usable snapshot at or
// before that boundary (the engine's stages and the gateway's views, as a restart does). It replays the journal
// batches after that state up to the boundary through an in-process Engine of the same topology, feeding the gateway's
// views from its events as the server does while it recovers, writes the file as every snapshot is written (temp
// file, fsync, rename, directory fsync: engine/journal/snapshots.ts), and keeps the engine and views for the next one.
// The header's state hash is that engine's. Replay equals live (X4), so the file is the state the live engine had at
// that boundary; restarting from it and from a stop-the-world snapshot at the same boundary give the same state
// (test/snapshot-restart.test.ts).
//
// Why it stands: a one-shot worker paid, for every snapshot, a worker boot (~0.2 s of module compile), a restore of
// the previous snapshot (50–150 ms for the demo's state, ~5 s for 100,000 accounts) and its garbage, on top of the
// replay (~1.7 µs a command) — at 150,000 commands/s, with a snapshot every 250,000 commands, about half its CPU. The
// price is memory: a second copy of the state stays resident between snapshots (the one-shot worker held it only
// while it ran, which under load was most of the time).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { emptySummary, listSegments, segmentBatches, validSnapshots, writeSnapshot, SNAPSHOT_DIR, type SnapshotFile } from "../engine/journal/index.ts";
import { CommandKind, EventKind, type EventRecord, type EventSink, type ExchangeConfig } from "../engine/model/index.ts";
import { configDigest, Engine, type EngineTopology } from "../engine/pipeline/index.ts";
import { workerExecArgv, workerUrl } from "../engine/pipeline/worker-bundle.ts";
import { AccountView } from "./account-catch-up.ts";
import { ApiKeyRegistry } from "./auth/registry.ts";
import { composeSnapshotPayload, openSnapshotPayload, type SnapshotPart } from "./gateway-state.ts";
import { MarketDataHub } from "./market-data.ts";

/** The gateway's views a snapshot carries, in the payload's order. */
export interface GatewayViews {
  readonly marketData: MarketDataHub;
  readonly accountView: AccountView;
  readonly registry: ApiKeyRegistry;
}

export function gatewayParts(v: GatewayViews): SnapshotPart[] {
  return [v.marketData, v.accountView, v.registry];
}

/**
 * An engine event into the gateway's views (ServerCore.onEvent, live and recovering, and the snapshot follower).
 * False for a public price event (P3/P4 MarkPrice or FundingRate, seq 0): market data only, never an account's.
 */
export function applyEventToViews(v: Pick<GatewayViews, "marketData" | "accountView">, e: EventRecord): boolean {
  if ((e.kind === EventKind.MarkPrice || e.kind === EventKind.FundingRate) && e.seq === 0) {
    v.marketData.priceEvent(e);
    return false;
  }
  v.accountView.apply(e);
  return true;
}

export interface SnapshotWriterData {
  readonly entry: string;
  readonly config: ExchangeConfig;
  readonly topology: EngineTopology;
  readonly dataDir: string;
  /** Where journal-archive moved segments (read when the replay starts before the live journal). */
  readonly archiveDir: string;
  /** The boundary: the last batch whose journal write returned (Sequencer.journaled), and its last sequence number. */
  readonly batch: number;
  readonly seq: number;
  readonly keep: number;
  readonly writtenAtMs: number;
}

export interface FollowerSnapshot {
  readonly seq: number;
  readonly batch: number;
  readonly stateHash: string;
  readonly path: string;
  readonly bytes: number;
  /** The state the follower started from: its kept state's boundary, or the snapshot it restored (0: the journal's start). */
  readonly baseSeq: number;
  /** True when it went on from the state it kept after its previous snapshot (no restore). */
  readonly continued: boolean;
  readonly replayedCommands: number;
  readonly restoreMs: number;
  readonly replayMs: number;
  readonly writeMs: number;
  /** Snapshots passed over as a base, with the reason. */
  readonly skipped: readonly string[];
}

/** A request to the standing follower's worker, and its answer (snapshot-writer-worker.ts). */
export interface FollowerRequest {
  readonly id: number;
  readonly data: SnapshotWriterData;
}
export type FollowerReply = { id: number; type: "result"; value: FollowerSnapshot } | { id: number; type: "fatal"; message: string };

const FOLLOWER_ENTRY = new URL("./snapshot-writer-worker.ts", import.meta.url).href;

/**
 * The standing snapshot follower (X7, engine.ts "X7 (as built)"): one worker, started at the first snapshot, that
 * keeps the state it wrote for the next one. A worker that fails or exits is dropped with its state; the next
 * snapshot starts a new one, which restores from the files. close() ends it (the server's stop).
 */
export class SnapshotFollower {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (f: FollowerSnapshot) => void; reject: (e: Error) => void }>();

  /** Writes the snapshot of `data`'s boundary (one request at a time: SnapshotScheduler runs one snapshot at once). */
  write(data: Omit<SnapshotWriterData, "entry">): Promise<FollowerSnapshot> {
    const worker = this.worker ?? this.spawn();
    const id = this.nextId++;
    return new Promise<FollowerSnapshot>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      const request: FollowerRequest = { id, data: { ...data, entry: FOLLOWER_ENTRY } };
      worker.postMessage(request);
    });
  }

  /** Ends the worker (its kept state goes with it); a request still running is refused. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (worker === null) return;
    this.drop(worker, "the snapshot follower was closed");
    await worker.terminate();
  }

  private spawn(): Worker {
    const url = workerUrl(FOLLOWER_ENTRY);
    const worker = new Worker(url, { execArgv: workerExecArgv(url) });
    // Idle between snapshots: it must not keep a stopping process alive.
    worker.unref();
    worker.on("message", (m: FollowerReply) => {
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      if (m.type === "result") p.resolve(m.value);
      else p.reject(new Error(m.message));
    });
    worker.on("error", (e) => this.drop(worker, `snapshot writer worker failed: ${e.message}`));
    worker.on("exit", (code) => this.drop(worker, `snapshot writer worker exited (code ${code}) without an answer`));
    this.worker = worker;
    return worker;
  }

  /** Forgets `worker` (when it is the current one) and refuses what it had not answered. */
  private drop(worker: Worker, reason: string): void {
    if (this.worker !== worker) return;
    this.worker = null;
    for (const p of this.pending.values()) p.reject(new Error(reason));
    this.pending.clear();
  }
}

function freshViews(config: ExchangeConfig): GatewayViews {
  return { marketData: new MarketDataHub(config), accountView: new AccountView(config), registry: new ApiKeyRegistry() };
}

/** The state a replay starts from: the engine and views after journal batch `batch` (0: the journal's start). */
interface Base {
  readonly engine: Engine;
  readonly views: GatewayViews;
  readonly batch: number;
  readonly seq: number;
  /** The snapshot restored (null: the empty state, or a kept one). */
  readonly file: SnapshotFile | null;
}

/** What a standing follower keeps after a snapshot: its state at that boundary and what it answered. */
export interface KeptState {
  readonly base: Base;
  readonly written: FollowerSnapshot;
}

/** The newest snapshot at or before the boundary that restores (engine and views), or the empty state. */
async function restoreBase(data: SnapshotWriterData, skipped: string[]): Promise<Base> {
  const { config, topology } = data;
  const expectation = { configDigestHex: configDigest(config), riskShards: topology.riskShards, matchingShards: topology.matchingShards };
  const skip = (path: string, reason: string): void => void skipped.push(`${path}: ${reason}`);
  for await (const file of validSnapshots(join(data.dataDir, SNAPSHOT_DIR), expectation, skip)) {
    if (file.seq > data.seq) continue;
    try {
      const opened = openSnapshotPayload(file.payload);
      const engine = Engine.fromSnapshot(config, opened.engine, topology);
      const views = freshViews(config);
      opened.restoreGateway(gatewayParts(views));
      return { engine, views, batch: file.batch, seq: file.seq, file };
    } catch (e) {
      skip(file.path, `it does not restore (${(e as Error).message})`);
    }
  }
  return { engine: new Engine(config, topology), views: freshViews(config), batch: 0, seq: 0, file: null };
}

/** Replays the journal batches after the base up to the boundary; returns the commands replayed. */
function replayToBoundary(data: SnapshotWriterData, base: Base): number {
  const { engine, views } = base;
  for (const m of engine.matching) m.setMarketDataSink(views.marketData);
  const sink: EventSink = { publish: (e) => void applyEventToViews(views, e) };
  const segments = listSegments(data.dataDir, existsSync(data.archiveDir) ? data.archiveDir : null);
  const opts = { configDigestHex: configDigest(data.config), fromSeq: base.batch === 0 ? 0 : base.seq + 1, afterBatch: base.batch };
  let commands = 0;
  // Not repairing: the live writer appends to the last segment meanwhile; nothing past the boundary is read.
  for (const b of segmentBatches(segments, opts, emptySummary())) {
    if (b.batchNumber > data.batch) break;
    for (let i = 0; i < b.count; i++) {
      const c = b.commands[i]!;
      if (c.kind === CommandKind.RegisterApiKey || c.kind === CommandKind.RevokeApiKey) views.registry.apply(c);
    }
    engine.processJournalBatch(b.commands, b.count, sink, b.batchNumber);
    commands += b.count;
    if (b.batchNumber === data.batch) break;
  }
  // Batches of read-only queries alone after the last one written, up to the boundary: the live engine ran them.
  engine.runBatchesUpTo(data.batch, sink);
  return commands;
}

/**
 * The follower's work (in its worker): base — the state `kept` from its previous snapshot when that is at or before
 * the boundary, else the files' — replay, file. Returns what it wrote and the state to keep for the next one.
 */
export async function writeSnapshotFromJournal(data: SnapshotWriterData, kept: KeptState | null = null): Promise<KeptState> {
  const skipped: string[] = [];
  if (kept !== null && kept.base.batch === data.batch && kept.base.seq === data.seq) {
    // Nothing journaled since its previous snapshot: that snapshot is this one.
    return { base: kept.base, written: { ...kept.written, replayedCommands: 0, restoreMs: 0, replayMs: 0, writeMs: 0, continued: true, skipped } };
  }
  const continued = kept !== null && kept.base.batch < data.batch && kept.base.seq <= data.seq;
  let t = performance.now();
  const base = continued ? kept.base : await restoreBase(data, skipped);
  const restoreMs = continued ? 0 : performance.now() - t;
  const baseSeq = base.seq;
  if (base.file !== null && base.file.seq === data.seq && base.file.batch === data.batch) {
    // Nothing journaled since: that snapshot is this one.
    const f = base.file;
    const written = { seq: f.seq, batch: f.batch, stateHash: f.stateHash, path: f.path, bytes: f.payload.length + 192, baseSeq, continued, replayedCommands: 0, restoreMs, replayMs: 0, writeMs: 0, skipped };
    return { base, written };
  }
  t = performance.now();
  const replayedCommands = replayToBoundary(data, base);
  const replayMs = performance.now() - t;
  t = performance.now();
  const { engine, views } = base;
  const covers = { batch: data.batch, seq: data.seq };
  const payload = composeSnapshotPayload(engine.snapshot(covers), gatewayParts(views));
  const { riskShards, matchingShards } = data.topology;
  const meta = { seq: data.seq, batch: data.batch, configDigestHex: configDigest(data.config), stateHash: engine.stateHash(), riskShards, matchingShards };
  const file = await writeSnapshot(join(data.dataDir, SNAPSHOT_DIR), meta, payload, data.keep, data.writtenAtMs);
  const writeMs = performance.now() - t;
  engine.continueAsRestored(covers);
  const written = { seq: data.seq, batch: data.batch, stateHash: meta.stateHash, path: file.path, bytes: file.bytes, baseSeq, continued, replayedCommands, restoreMs, replayMs, writeMs, skipped };
  return { base: { engine, views, batch: data.batch, seq: data.seq, file: null }, written };
}
