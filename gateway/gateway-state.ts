// The gateway's part of a snapshot (X7): the views it derives from engine output — balances (GET /balances) and the
// market-data replicas (L2 books, best bid/offer, 24 h ticker) — so a restart from a snapshot serves the same answers
// as one that replayed the whole journal. Taken at the same batch boundary as the engine stages' state.
//
// A snapshot file's payload (engine/journal/snapshots.ts) is: u32 layout version, f64 engine bytes, the engine's
// state (engine/pipeline), f64 gateway bytes, the gateway's state (below). Every number is little-endian.
export const SNAPSHOT_PAYLOAD_VERSION = 1;

/** A growable little-endian byte writer. */
export class ByteWriter {
  private buffer = new Uint8Array(1 << 16);
  private view = new DataView(this.buffer.buffer);
  length = 0;

  private room(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + bytes) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
    this.view = new DataView(next.buffer);
  }

  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }

  f64(v: number): void {
    this.room(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }

  i64(v: bigint): void {
    this.room(8);
    this.view.setBigInt64(this.length, v, true);
    this.length += 8;
  }

  bytes(b: Uint8Array): void {
    this.f64(b.length);
    this.room(b.length);
    this.buffer.set(b, this.length);
    this.length += b.length;
  }

  finish(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

export class SnapshotStateError extends Error {
  override name = "SnapshotStateError";
}

/** Reads what ByteWriter wrote; throws SnapshotStateError past the end. */
export class ByteReader {
  private readonly view: DataView;
  private at = 0;

  constructor(private readonly buffer: Uint8Array) {
    this.view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }

  private need(bytes: number): number {
    if (this.at + bytes > this.buffer.length) throw new SnapshotStateError(`snapshot state cut short at byte ${this.at}`);
    const at = this.at;
    this.at += bytes;
    return at;
  }

  u32(): number {
    return this.view.getUint32(this.need(4), true);
  }

  f64(): number {
    return this.view.getFloat64(this.need(8), true);
  }

  i64(): bigint {
    return this.view.getBigInt64(this.need(8), true);
  }

  bytes(): Uint8Array {
    const n = this.f64();
    const at = this.need(n);
    return this.buffer.subarray(at, at + n);
  }

  get done(): boolean {
    return this.at === this.buffer.length;
  }
}

/** Something whose state goes into the gateway's part of a snapshot. */
export interface SnapshotPart {
  writeState(w: ByteWriter): void;
  readState(r: ByteReader): void;
}

/** The snapshot payload from the engine's state and the gateway parts' (in order). */
export function composeSnapshotPayload(engine: Uint8Array, parts: readonly SnapshotPart[]): Uint8Array {
  const gateway = new ByteWriter();
  for (const p of parts) p.writeState(gateway);
  const w = new ByteWriter();
  w.u32(SNAPSHOT_PAYLOAD_VERSION);
  w.bytes(engine);
  w.bytes(gateway.finish());
  return w.finish();
}

/** Splits a payload into the engine's state and the gateway's; `restoreGatewayParts` reads the latter. */
export function splitSnapshotPayload(payload: Uint8Array): { engine: Uint8Array; gateway: Uint8Array } {
  const r = new ByteReader(payload);
  const version = r.u32();
  if (version !== SNAPSHOT_PAYLOAD_VERSION) {
    throw new SnapshotStateError(`snapshot payload layout ${version}, this build reads ${SNAPSHOT_PAYLOAD_VERSION} only`);
  }
  const engine = r.bytes();
  const gateway = r.bytes();
  if (!r.done) throw new SnapshotStateError("snapshot payload has bytes after its gateway state");
  return { engine, gateway };
}

export function restoreGatewayParts(gateway: Uint8Array, parts: readonly SnapshotPart[]): void {
  const r = new ByteReader(gateway);
  for (const p of parts) p.readState(r);
  if (!r.done) throw new SnapshotStateError("gateway snapshot state has bytes after its last part");
}
