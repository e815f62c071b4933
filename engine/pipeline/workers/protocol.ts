// What the main thread and the pipeline workers pass each other at setup, and the control record kinds.
import { parentPort } from "node:worker_threads";
import { ControlKind, type ExchangeConfig } from "../../model/index.ts";
import type { RingHandle } from "../../ring/index.ts";
import type { SnapshotParts } from "../snapshot.ts";
import type { PriceShock } from "../what-if.ts";

/** Control kind (command and event slots): report the stage's state digest; never journaled. */
export const CONTROL_STATE_HASH = ControlKind.StateHash;
/**
 * Control kind (command slots): write the stage's snapshot part (X7) and post it to the main thread with the stage's
 * digest; never journaled. Like CONTROL_STATE_HASH it travels alone in a control batch, so every stage writes at the
 * same batch boundary.
 */
export const CONTROL_SNAPSHOT = ControlKind.Snapshot;
/** CONTROL_SNAPSHOT's flags bit: the stages also report their digests (a stall of its own: see ThreadedPipeline.snapshot). */
export const SNAPSHOT_WITH_STATE_HASH = 1;

/** A stage's digest for a snapshot part, or "" when the request did not ask for digests. */
export function snapshotDigest(flags: number, digest: () => string): string {
  return (flags & SNAPSHOT_WITH_STATE_HASH) !== 0 ? digest() : "";
}

/** Ring sizes: every ring holds more than a whole batch plus its markers (see engine.ts, BATCH_COMMANDS_MAX). */
export const COMMAND_RING_SLOTS = 16384;
export const EVENT_RING_SLOTS = 16384;
/**
 * The event rings to the gateway (26 MB each): ~20 ms of events at full rate, so a pause of the gateway thread (a
 * garbage collection of its heap) does not stop the engine at once. Measured: a full benchmark run gave 0.90 M
 * ops/s on the excore mix with 16,384 slots, 1.01 M with 65,536.
 */
export const OUT_EVENT_RING_SLOTS = 65536;
/**
 * The market-data rings to the gateway (6 MB each). X4P (engine.ts): a group's market data waits in the ring until
 * its journal write returns, so the ring holds a whole group's (up to 8 × 1,024 commands, a few records each) and the
 * engine does not park for space during the write (16,384 slots: the engine parked for space ~17% of its time under
 * the open loop at 50k/s).
 */
export const MARKET_DATA_RING_SLOTS = 65536;

export interface RiskWorkerData {
  readonly entry: string;
  readonly config: ExchangeConfig;
  readonly shardIndex: number;
  readonly riskShards: number;
  readonly commandsIn: RingHandle;
  readonly toMatching: readonly RingHandle[];
  readonly fromMatching: readonly RingHandle[];
  readonly eventsOut: RingHandle;
  /** K > 1: this shard's pool deltas to every other risk shard (index = peer shard; null at its own index). */
  readonly poolDeltasOut: readonly (RingHandle | null)[];
  /** K > 1: the pool deltas of every other risk shard (index = peer shard; null at its own index). */
  readonly poolDeltasIn: readonly (RingHandle | null)[];
  /** The shard's part of the snapshot to start from (X7), or null for an empty shard. */
  readonly snapshot: Uint8Array | null;
  /** The snapshot's batch (0 without one), where the Engine's batch number starts: engine order ids count on (D3). */
  readonly firstBatch: number;
  /** Spawned before the snapshot was read: `snapshot` and `firstBatch` come in a SnapshotPartMessage instead. */
  readonly snapshotLater: boolean;
}

/** Slots of a pool-delta ring: a batch writes at most one record per asset and an end marker. */
export const POOL_DELTA_RING_SLOTS = 1024;

export interface MatchingWorkerData {
  readonly entry: string;
  readonly config: ExchangeConfig;
  readonly shardIndex: number;
  readonly matchingShards: number;
  readonly fromRisk: readonly RingHandle[];
  readonly toRisk: readonly RingHandle[];
  /** O8 market data to the gateway; null when nobody listens (benchmarks, replay). */
  readonly marketDataOut: RingHandle | null;
  /** The shard's part of the snapshot to start from (X7), or null for empty books. */
  readonly snapshot: Uint8Array | null;
  /** Spawned before the snapshot was read: `snapshot` comes in a SnapshotPartMessage instead. */
  readonly snapshotLater: boolean;
}

/**
 * The fused worker of the 1 × 1 topology (engine-worker.ts): risk, matching and risk again on one thread. Its input
 * and output rings have the layout of a risk worker's, so the gateway side is the same for both.
 */
export interface EngineWorkerData {
  readonly entry: string;
  readonly config: ExchangeConfig;
  readonly commandsIn: RingHandle;
  readonly eventsOut: RingHandle;
  /** O8 market data to the gateway; null when nobody listens (benchmarks, replay). */
  readonly marketDataOut: RingHandle | null;
  /** The snapshot to start from (X7: its risk 0, matching 0 and settlement parts), or null for an empty engine. */
  readonly snapshot: SnapshotParts | null;
  /** Spawned before the snapshot was read: `snapshot` comes in a SnapshotPartMessage instead. */
  readonly snapshotLater: boolean;
}

/**
 * X7 restart: the one message the main thread posts to a stage worker spawned with `snapshotLater` — its part of the
 * snapshot (null: start empty) and, for a risk shard, the snapshot's batch. The worker boots (module load, its
 * records and rings) while the main thread reads and checks the file, then waits for this before it restores.
 */
export interface SnapshotPartMessage<Part> {
  readonly part: Part | null;
  readonly firstBatch: number;
}

/**
 * Runs a stage worker's `start` with its snapshot part: at once from workerData, or (snapshotLater) when the main
 * thread posts it (SnapshotPartMessage). `start` runs the worker to its end; a throw is reported as fatal and ends it.
 */
export function withSnapshotPart<Part>(
  data: { readonly snapshot: Part | null; readonly snapshotLater: boolean; readonly firstBatch?: number },
  stage: string,
  start: (part: Part | null, firstBatch: number) => void,
): void {
  const run = (part: Part | null, firstBatch: number): void => {
    try {
      start(part, firstBatch);
    } catch (e) {
      postToMain({ type: "fatal", message: `${stage}: ${(e as Error).stack ?? String(e)}` });
      process.exit(1);
    }
  };
  if (!data.snapshotLater) run(data.snapshot, data.firstBatch ?? 0);
  else parentPort!.once("message", (m: SnapshotPartMessage<Part>) => run(m.part, m.firstBatch));
}

/**
 * Most polls before the fused worker parks (about 100–150 µs here): with one stage thread beside the gateway on two
 * cores, spinning takes no core from a stage it waits for, and a park costs a wake-up of tens of µs per batch. The
 * worker spins this long only while batches follow each other that closely (AdaptiveSpinThenParkWait): fed a batch
 * per journal fsync (~1 ms), a fixed 20,000-poll spin after every batch costs up to ~15% of a core (estimated:
 * ~150 µs × ~1,000 batches/s) and catches nothing.
 */
export const ENGINE_WORKER_SPIN_ITERATIONS = 20_000;

/** The follower that hashes a snapshot payload (snapshot-hash-worker.ts). */
export interface SnapshotHashWorkerData {
  readonly entry: string;
  readonly config: ExchangeConfig;
  /** A whole engine snapshot payload (Engine.snapshot / ThreadedPipeline.snapshot bytes). */
  readonly snapshot: Uint8Array;
}

/** Q7's what-if follower (what-if-worker.ts): an engine snapshot and the shocks to run on its copy. */
export interface WhatIfWorkerData {
  readonly entry: string;
  readonly config: ExchangeConfig;
  readonly snapshot: Uint8Array;
  readonly shocks: readonly PriceShock[];
  readonly stagesMax: number;
}

export interface SettlementWorkerData {
  readonly entry: string;
  readonly commandsIn: RingHandle;
  /** 0 disables the live clock timer (tests and benchmarks drive time themselves). */
  readonly tickIntervalMs: number;
  /** The settlement part of the snapshot to start from (X7), or null. */
  readonly snapshot: Uint8Array | null;
}

/** Which stage wrote a snapshot part. */
export type SnapshotStage = "risk" | "matching" | "settlement";

/** Messages a worker posts to the main thread. */
export type WorkerMessage =
  | { readonly type: "ready" }
  | { readonly type: "tick"; readonly timeMs: number }
  | { readonly type: "stateHash"; readonly hash: string }
  /** A stage's snapshot part (CONTROL_SNAPSHOT) and its digest at the same boundary; `bytes` is transferred. */
  | { readonly type: "snapshotPart"; readonly stage: SnapshotStage; readonly index: number; readonly hash: string; readonly bytes: Uint8Array }
  | { readonly type: "fatal"; readonly message: string };

/** Sends a message to the main thread (from a worker). */
export function postToMain(m: WorkerMessage): void {
  parentPort!.postMessage(m);
}

/** Posts a stage's snapshot part, handing its buffer over (no copy). */
export function postSnapshotPart(stage: SnapshotStage, index: number, hash: string, bytes: Uint8Array): void {
  const m: WorkerMessage = { type: "snapshotPart", stage, index, hash, bytes };
  parentPort!.postMessage(m, [bytes.buffer as ArrayBuffer]);
}
