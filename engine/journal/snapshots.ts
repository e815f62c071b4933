// Snapshot files (X7): the engine's state at one batch boundary, so a restart replays only the journal after it.
//
// File `snapshots/snapshot-<last sequence number, 16 digits>.snap`, little-endian:
//   header, 192 bytes:
//     0  magic "CBSNAPFL"            8  u32 format version        12  u32 header bytes (192)
//     16 f64 last sequence number     24 f64 last batch number     32  32 bytes config digest
//     64 32 bytes state hash          96 f64 payload bytes         104 f64 written at (wall clock ms, informational)
//     112 u32 risk shards            116 u32 matching shards       120..160 zero (room for fields of later versions)
//     160 32 bytes SHA-256 of header bytes 0..160 and the payload
//   payload: the stages' state as the pipeline encodes it (engine/pipeline), opaque here.
//
// Written as `.snapshot-<seq>.tmp` (owner-only), fsynced, renamed into place, then the directory is fsynced: a crash at
// any point leaves either no new file or a complete one, and the previous snapshots untouched. The newest `keep`
// snapshots stay; older ones are deleted once a new one is in place. A reader skips, with the reason, a file whose
// checksum fails, whose format version it does not know (a later build's file is refused, never half-read), or that
// was written under another config digest or topology, and falls back to the one before.
import { createHash } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, unlinkSync } from "node:fs";
import { open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
/** Snapshots, like journal files, are readable and writable by their owner only. */
const SNAPSHOT_FILE_MODE = 0o600;

export const SNAPSHOT_DIR = "snapshots";
export const SNAPSHOT_FORMAT_VERSION = 2;
const SNAPSHOT_MAGIC = "CBSNAPFL";
const HEADER_BYTES = 192;
const CHECKSUM_AT = 160;
const SNAPSHOT_NAME = /^snapshot-(\d{16})\.snap$/;
const TEMP_NAME = /^\.snapshot-\d+\.tmp$/;
/** The checksum is computed in slices of this size with an event-loop turn between them (a 100 MB file is ~0.2 s). */
const HASH_SLICE_BYTES = 8 * 1024 * 1024;

export interface SnapshotMeta {
  /** Last sequence number the state includes: the journal resumes at seq + 1. */
  readonly seq: number;
  /** Last batch number the state includes. */
  readonly batch: number;
  readonly configDigestHex: string;
  /** The engine's state hash at that boundary (hex SHA-256). */
  readonly stateHash: string;
  readonly riskShards: number;
  readonly matchingShards: number;
}

export interface SnapshotFile extends SnapshotMeta {
  readonly path: string;
  readonly payload: Uint8Array;
  readonly writtenAtMs: number;
  /**
   * Read with `checksumLater` (a restart): the file's SHA-256 is still being checked — resolves to null when it
   * matches, else to the reason (SnapshotDamagedError's message). Nothing may be kept from the payload before it
   * resolves to null. Absent: the checksum matched before the file was returned.
   */
  readonly checksum?: Promise<string | null>;
}

/** The reason a snapshot whose checksum was checked late (SnapshotFile.checksum) is not used. */
export class SnapshotDamagedError extends Error {}

/** The reason a snapshot file's checksum gives for skipping it. */
const CHECKSUM_MISMATCH = "checksum mismatch (damaged file)";

export function snapshotFileName(seq: number): string {
  return `snapshot-${String(seq).padStart(16, "0")}.snap`;
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** SHA-256 of header[0..160) and the payload chunks, in slices with an event-loop turn between them. */
async function checksumOf(header: Uint8Array, payload: readonly Uint8Array[]): Promise<Buffer> {
  const h = createHash("sha256");
  h.update(header.subarray(0, CHECKSUM_AT));
  for (const chunk of payload) {
    for (let at = 0; at < chunk.length; at += HASH_SLICE_BYTES) {
      h.update(chunk.subarray(at, Math.min(chunk.length, at + HASH_SLICE_BYTES)));
      await yieldTurn();
    }
  }
  return h.digest();
}

function encodeHeader(meta: SnapshotMeta, payloadBytes: number, writtenAtMs: number): Uint8Array {
  const b = new Uint8Array(HEADER_BYTES);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < 8; i++) b[i] = SNAPSHOT_MAGIC.charCodeAt(i);
  dv.setUint32(8, SNAPSHOT_FORMAT_VERSION, true);
  dv.setUint32(12, HEADER_BYTES, true);
  dv.setFloat64(16, meta.seq, true);
  dv.setFloat64(24, meta.batch, true);
  b.set(Buffer.from(meta.configDigestHex.padEnd(64, "0").slice(0, 64), "hex"), 32);
  b.set(Buffer.from(meta.stateHash.padEnd(64, "0").slice(0, 64), "hex"), 64);
  dv.setFloat64(96, payloadBytes, true);
  dv.setFloat64(104, writtenAtMs, true);
  dv.setUint32(112, meta.riskShards, true);
  dv.setUint32(116, meta.matchingShards, true);
  return b;
}

/**
 * Writes a snapshot atomically (temp file, fsync, rename, directory fsync) and then deletes all but the newest `keep`
 * snapshots and any temp file a crash left. Returns the file's path and size.
 */
export async function writeSnapshot(
  dir: string,
  meta: SnapshotMeta,
  payload: Uint8Array | readonly Uint8Array[],
  keep: number,
  /** Wall-clock time to record in the header (informational; the engine reads no clock, the caller passes it). */
  writtenAtMs = 0,
): Promise<{ path: string; bytes: number }> {
  if (!Number.isInteger(keep) || keep < 1) throw new Error(`snapshots kept must be at least 1, got ${keep}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const chunks = payload instanceof Uint8Array ? [payload] : payload;
  let payloadBytes = 0;
  for (const c of chunks) payloadBytes += c.length;
  const header = encodeHeader(meta, payloadBytes, writtenAtMs);
  header.set(await checksumOf(header, chunks), CHECKSUM_AT);
  const temp = join(dir, `.snapshot-${meta.seq}.tmp`);
  const path = join(dir, snapshotFileName(meta.seq));
  const file = await open(temp, "w", SNAPSHOT_FILE_MODE);
  try {
    await file.write(header, 0, header.length, 0);
    let position = HEADER_BYTES;
    for (const chunk of chunks) {
      let at = 0;
      while (at < chunk.length) {
        const { bytesWritten } = await file.write(chunk, at, chunk.length - at, position + at);
        at += bytesWritten;
      }
      position += chunk.length;
    }
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temp, path);
  fsyncDir(dir);
  pruneSnapshots(dir, keep);
  return { path, bytes: HEADER_BYTES + payloadBytes };
}

/** Snapshot files of `dir`, newest (highest sequence number) first. */
export function listSnapshots(dir: string): { path: string; seq: number }[] {
  if (!existsSync(dir)) return [];
  const out: { path: string; seq: number }[] = [];
  for (const name of readdirSync(dir)) {
    const m = SNAPSHOT_NAME.exec(name);
    if (m !== null) out.push({ path: join(dir, name), seq: Number(m[1]) });
  }
  return out.sort((a, b) => b.seq - a.seq);
}

/** Deletes all but the newest `keep` snapshots, and leftover temp files. */
export function pruneSnapshots(dir: string, keep: number): void {
  const all = listSnapshots(dir);
  for (const s of all.slice(keep)) unlinkSync(s.path);
  for (const name of readdirSync(dir)) if (TEMP_NAME.test(name)) unlinkSync(join(dir, name));
}

export interface SnapshotExpectation {
  readonly configDigestHex: string;
  /** 0: any topology (tools that only need to know what a snapshot covers). */
  readonly riskShards: number;
  readonly matchingShards: number;
}

/**
 * Reads and checks one snapshot file: the file, or why it cannot be used. `checksumLater`: the header is checked now
 * and the SHA-256 while the caller goes on (SnapshotFile.checksum) — a restart starts the engine's workers, which
 * boot and restore from the engine part (its own CRC-32 checked: engine/pipeline/snapshot.ts) meanwhile, and
 * restores nothing else from the file until it matched.
 */
export async function readSnapshot(
  path: string,
  expect: SnapshotExpectation,
  checksumLater = false,
): Promise<SnapshotFile | { readonly error: string }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    return { error: `cannot read: ${(e as Error).message}` };
  }
  if (bytes.length < HEADER_BYTES || bytes.subarray(0, 8).toString("latin1") !== SNAPSHOT_MAGIC) return { error: "not a crossbook snapshot (bad magic or too short)" };
  const dv = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const version = dv.getUint32(8, true);
  if (version !== SNAPSHOT_FORMAT_VERSION) {
    return { error: `snapshot format version ${version}, this build reads version ${SNAPSHOT_FORMAT_VERSION} only` };
  }
  if (dv.getUint32(12, true) !== HEADER_BYTES) return { error: `header of ${dv.getUint32(12, true)} bytes, expected ${HEADER_BYTES}` };
  const payloadBytes = dv.getFloat64(96, true);
  if (payloadBytes !== bytes.length - HEADER_BYTES) return { error: `payload of ${bytes.length - HEADER_BYTES} bytes, the header says ${payloadBytes}` };
  const header = bytes.subarray(0, HEADER_BYTES);
  const payload = bytes.subarray(HEADER_BYTES);
  const checked = checksumOf(header, [payload]).then((sum) => (sum.equals(header.subarray(CHECKSUM_AT, CHECKSUM_AT + 32)) ? null : CHECKSUM_MISMATCH));
  if (!checksumLater) {
    const damaged = await checked;
    if (damaged !== null) return { error: damaged };
  }
  const configDigestHex = header.subarray(32, 64).toString("hex");
  if (configDigestHex !== expect.configDigestHex.padEnd(64, "0").slice(0, 64)) {
    return { error: `written under another configuration (digest ${configDigestHex.slice(0, 12)}…)` };
  }
  const riskShards = dv.getUint32(112, true);
  const matchingShards = dv.getUint32(116, true);
  if (expect.riskShards > 0 && (riskShards !== expect.riskShards || matchingShards !== expect.matchingShards)) {
    return { error: `written by a ${riskShards} × ${matchingShards} engine, this one is ${expect.riskShards} × ${expect.matchingShards}` };
  }
  return {
    path,
    seq: dv.getFloat64(16, true),
    batch: dv.getFloat64(24, true),
    configDigestHex,
    stateHash: header.subarray(64, 96).toString("hex"),
    riskShards,
    matchingShards,
    writtenAtMs: dv.getFloat64(104, true),
    payload,
    ...(checksumLater ? { checksum: checked } : {}),
  };
}

/**
 * The usable snapshots of `dir`, newest first, read one at a time as the caller asks for the next: each file that
 * cannot be used is reported through `onSkip` (path and reason) and passed over. `checksumLater`: as readSnapshot's
 * (the caller awaits each file's SnapshotFile.checksum and passes over a damaged one itself).
 */
export async function* validSnapshots(
  dir: string,
  expect: SnapshotExpectation,
  onSkip: (path: string, reason: string) => void,
  checksumLater = false,
): AsyncGenerator<SnapshotFile, void, void> {
  for (const s of listSnapshots(dir)) {
    const r = await readSnapshot(s.path, expect, checksumLater);
    if ("error" in r) onSkip(s.path, r.error);
    else if (r.seq !== s.seq) onSkip(s.path, `its header says sequence ${r.seq}, its name ${s.seq}`);
    else yield r;
  }
}
