// The snapshot follower (X7; engine.ts decision "X7 (as built)"): a snapshot written from the files alone, by a worker
// of its own, so neither the engine's stages nor the sequencer stop for it.
//
// The request reads the sequencer's boundary — the last batch whose journal write returned and that batch's last
// sequence number (Sequencer.journaled; engine.ts X4P: the engine may already run a batch whose write is on the way,
// so the boundary is never the last batch handed); every batch up to it is in the journal.
// The worker then restores the newest usable snapshot at or before that boundary (the engine's stages and the gateway's
// views, as a restart does), replays the journal batches after it up to the boundary through an in-process Engine of
// the same topology, feeding the gateway's views from its events as the server does while it recovers, and writes the
// file as every snapshot is written (temp file, fsync, rename, directory fsync: engine/journal/snapshots.ts). The
// header's state hash is that engine's. Replay equals live (X4), so the file is the state the live engine had at that
// boundary; restarting from it and from a stop-the-world snapshot at the same boundary give the same state
// (test/snapshot-follower.test.ts).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { emptySummary, listSegments, segmentBatches, validSnapshots, writeSnapshot, SNAPSHOT_DIR, type SnapshotFile } from "../engine/journal/index.ts";
import { CommandKind, EventKind, type EventRecord, type EventSink, type ExchangeConfig } from "../engine/model/index.ts";
import { configDigest, Engine, type EngineTopology } from "../engine/pipeline/index.ts";
import { askFollower } from "../engine/pipeline/follower.ts";
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
  /** The snapshot the follower started from (0: the journal's start). */
  readonly baseSeq: number;
  readonly replayedCommands: number;
  readonly restoreMs: number;
  readonly replayMs: number;
  readonly writeMs: number;
  /** Snapshots passed over as a base, with the reason. */
  readonly skipped: readonly string[];
}

/** Writes the snapshot of `data`'s boundary from the files, in a worker (snapshot-writer-worker.ts). */
export function writeSnapshotByFollower(data: Omit<SnapshotWriterData, "entry">): Promise<FollowerSnapshot> {
  return askFollower<FollowerSnapshot>({ ...data, entry: new URL("./snapshot-writer-worker.ts", import.meta.url).href }, "snapshot writer");
}

function freshViews(config: ExchangeConfig): GatewayViews {
  return { marketData: new MarketDataHub(config), accountView: new AccountView(config), registry: new ApiKeyRegistry() };
}

interface Base {
  readonly engine: Engine;
  readonly views: GatewayViews;
  readonly file: SnapshotFile | null;
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
      return { engine, views, file };
    } catch (e) {
      skip(file.path, `it does not restore (${(e as Error).message})`);
    }
  }
  return { engine: new Engine(config, topology), views: freshViews(config), file: null };
}

/** Replays the journal batches after the base up to the boundary; returns the commands replayed. */
function replayToBoundary(data: SnapshotWriterData, base: Base): number {
  const { engine, views } = base;
  for (const m of engine.matching) m.setMarketDataSink(views.marketData);
  const sink: EventSink = { publish: (e) => void applyEventToViews(views, e) };
  const segments = listSegments(data.dataDir, existsSync(data.archiveDir) ? data.archiveDir : null);
  const opts = { configDigestHex: configDigest(data.config), fromSeq: base.file === null ? 0 : base.file.seq + 1, afterBatch: base.file?.batch ?? 0 };
  let commands = 0;
  // Not repairing: the live writer appends to the last segment meanwhile; nothing past the boundary is read.
  for (const b of segmentBatches(segments, opts, emptySummary())) {
    if (b.batchNumber > data.batch) break;
    for (let i = 0; i < b.count; i++) {
      const c = b.commands[i]!;
      if (c.kind === CommandKind.RegisterApiKey || c.kind === CommandKind.RevokeApiKey) views.registry.apply(c);
    }
    engine.processBatch(b.commands, b.count, sink);
    commands += b.count;
    if (b.batchNumber === data.batch) break;
  }
  return commands;
}

/** The follower's work (in its worker): base, replay, file. */
export async function writeSnapshotFromJournal(data: SnapshotWriterData): Promise<FollowerSnapshot> {
  const skipped: string[] = [];
  let t = performance.now();
  const base = await restoreBase(data, skipped);
  const restoreMs = performance.now() - t;
  const baseSeq = base.file?.seq ?? 0;
  if (base.file !== null && base.file.seq === data.seq && base.file.batch === data.batch) {
    // Nothing journaled since: that snapshot is this one.
    const f = base.file;
    return { seq: f.seq, batch: f.batch, stateHash: f.stateHash, path: f.path, bytes: f.payload.length + 192, baseSeq, replayedCommands: 0, restoreMs, replayMs: 0, writeMs: 0, skipped };
  }
  t = performance.now();
  const replayedCommands = replayToBoundary(data, base);
  const replayMs = performance.now() - t;
  t = performance.now();
  const { engine, views } = base;
  const payload = composeSnapshotPayload(engine.snapshot({ batch: data.batch, seq: data.seq }), gatewayParts(views));
  const { riskShards, matchingShards } = data.topology;
  const meta = { seq: data.seq, batch: data.batch, configDigestHex: configDigest(data.config), stateHash: engine.stateHash(), riskShards, matchingShards };
  const file = await writeSnapshot(join(data.dataDir, SNAPSHOT_DIR), meta, payload, data.keep, data.writtenAtMs);
  const writeMs = performance.now() - t;
  return { seq: data.seq, batch: data.batch, stateHash: meta.stateHash, path: file.path, bytes: file.bytes, baseSeq, replayedCommands, restoreMs, replayMs, writeMs, skipped };
}
