// The gateway's part of a snapshot (X7): the views it derives from engine output — the account view (balances for
// GET /balances and QueryAccountSnapshot, resting orders) and the market-data replicas (L2 books, best bid/offer,
// 24 h ticker) — so a restart from a snapshot serves the same answers as one that replayed the whole journal. Taken at the same batch boundary as the engine stages' state
// (ThreadedPipeline.settle), written with the engine's snapshot writer (engine/model/snapshot-io.ts).
//
// A snapshot file's payload (engine/journal/snapshots.ts) is: uint layout version, uint engine bytes, the engine's
// state (engine/pipeline/snapshot.ts), then each gateway part in order.
import { SnapshotFormatError, SnapshotReader, SnapshotWriter } from "../engine/model/index.ts";

/** The gateway parts' layout. 2: no balance table of its own (GET /balances reads the account view's entries:
 * balance-view.ts); the parts are the market-data replicas, the account view and the key registry. */
export const SNAPSHOT_PAYLOAD_VERSION = 2;

/** Something whose state goes into the gateway's part of a snapshot. */
export interface SnapshotPart {
  writeState(w: SnapshotWriter): void;
  readState(r: SnapshotReader): void;
}

/**
 * The snapshot payload as chunks to write one after the other (the engine's bytes are not copied): the prefix, the
 * engine's state, the gateway parts' state.
 */
export function composeSnapshotPayload(engine: Uint8Array, parts: readonly SnapshotPart[]): Uint8Array[] {
  const prefix = new SnapshotWriter(32);
  prefix.uint(SNAPSHOT_PAYLOAD_VERSION);
  prefix.uint(engine.length);
  const gateway = new SnapshotWriter(1 << 20);
  for (const p of parts) p.writeState(gateway);
  return [prefix.bytes(), engine, gateway.bytes()];
}

/** The engine's state (a view) and the gateway parts restored from a payload; throws SnapshotFormatError. */
export function restoreSnapshotPayload(payload: Uint8Array, parts: readonly SnapshotPart[]): Uint8Array {
  const opened = openSnapshotPayload(payload);
  opened.restoreGateway(parts);
  return opened.engine;
}

/** A payload opened: the engine's state (a view), and the gateway parts to restore apart. */
export interface OpenedSnapshotPayload {
  readonly engine: Uint8Array;
  /** Restores the gateway parts from the rest of the payload; throws SnapshotFormatError. */
  restoreGateway(parts: readonly SnapshotPart[]): void;
}

/**
 * Reads the payload's layout and finds the engine's state without restoring the gateway parts, so a restart can hand
 * the engine's state to the workers first and restore the gateway's views while they boot and restore theirs.
 */
export function openSnapshotPayload(payload: Uint8Array): OpenedSnapshotPayload {
  const r = new SnapshotReader(payload, "snapshot payload");
  const version = r.uint();
  if (version !== SNAPSHOT_PAYLOAD_VERSION) {
    throw new SnapshotFormatError(`snapshot payload layout ${version}, this build reads ${SNAPSHOT_PAYLOAD_VERSION} only`);
  }
  const engine = r.raw(r.uint());
  return {
    engine,
    restoreGateway(parts: readonly SnapshotPart[]): void {
      for (const p of parts) p.readState(r);
      r.expectEnd();
    },
  };
}
