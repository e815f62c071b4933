// The append-only command journal: every accepted command, in sequence, grouped in the batches the engine
// processes (the batch boundaries are part of the deterministic state, see engine/pipeline/engine.ts).
//
// File layout (little-endian):
//   file header, 64 bytes: magic "CBJOURN1", u32 version, u32 recordBytes, 32 bytes config digest (hex-decoded), pad
//   batch: 32-byte header { u32 magic 0xCB0BA7C4, u32 count, f64 batchNumber, f64 firstSeq, u32 crc32(payload), u32 0 }
//          then count × COMMAND_RECORD_BYTES command records (engine/pipeline/record-codec.ts layout)
// A batch is durable once its bytes are written and fdatasync returned (group commit: one sync per batch).
// Recovery reads batches until the first torn or corrupt one and truncates the file there: a batch that was not
// fully synced was never acknowledged (X4, DESIGN rule 6).
import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { crc32 } from "node:zlib";
import { CommandRecord } from "../model/index.ts";
import { COMMAND_RECORD_BYTES, readCommand, viewsOf, writeCommand, type RecordViews } from "../pipeline/record-codec.ts";

export const JOURNAL_VERSION = 1;
const FILE_MAGIC = "CBJOURN1";
const FILE_HEADER_BYTES = 64;
const BATCH_MAGIC = 0xcb0ba7c4;
const BATCH_HEADER_BYTES = 32;

export class JournalError extends Error {
  override name = "JournalError";
}

function fileHeader(configDigestHex: string): Uint8Array {
  const b = new Uint8Array(FILE_HEADER_BYTES);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < 8; i++) b[i] = FILE_MAGIC.charCodeAt(i);
  dv.setUint32(8, JOURNAL_VERSION, true);
  dv.setUint32(12, COMMAND_RECORD_BYTES, true);
  b.set(Buffer.from(configDigestHex.padEnd(64, "0").slice(0, 64), "hex"), 16);
  return b;
}

/** Encodes commands into one journal batch frame (header + records), reusing `scratch` when it is large enough. */
export class BatchEncoder {
  private buffer = new ArrayBuffer(BATCH_HEADER_BYTES + 1024 * COMMAND_RECORD_BYTES);
  private views: RecordViews = viewsOf(this.buffer);
  private dv = new DataView(this.buffer);
  private count = 0;
  private batchNumber = 0;
  private firstSeq = 0;

  begin(batchNumber: number): void {
    this.count = 0;
    this.batchNumber = batchNumber;
  }

  add(c: CommandRecord): void {
    const needed = BATCH_HEADER_BYTES + (this.count + 1) * COMMAND_RECORD_BYTES;
    if (needed > this.buffer.byteLength) this.grow(needed);
    if (this.count === 0) this.firstSeq = c.seq;
    writeCommand(this.views, BATCH_HEADER_BYTES + this.count * COMMAND_RECORD_BYTES, c);
    this.count++;
  }

  get size(): number {
    return this.count;
  }

  /** The finished frame; valid until the next begin(). */
  finish(): Uint8Array {
    const payloadBytes = this.count * COMMAND_RECORD_BYTES;
    const bytes = new Uint8Array(this.buffer, 0, BATCH_HEADER_BYTES + payloadBytes);
    this.dv.setUint32(0, BATCH_MAGIC, true);
    this.dv.setUint32(4, this.count, true);
    this.dv.setFloat64(8, this.batchNumber, true);
    this.dv.setFloat64(16, this.firstSeq, true);
    this.dv.setUint32(24, crc32(bytes.subarray(BATCH_HEADER_BYTES)), true);
    this.dv.setUint32(28, 0, true);
    return bytes;
  }

  private grow(needed: number): void {
    let size = this.buffer.byteLength;
    while (size < needed) size *= 2;
    const next = new ArrayBuffer(size);
    new Uint8Array(next).set(new Uint8Array(this.buffer));
    this.buffer = next;
    this.views = viewsOf(next);
    this.dv = new DataView(next);
  }
}

export interface RecoveredJournal {
  /** Batches fully on disk, in order. */
  readonly batches: number;
  readonly commands: number;
  /** Highest sequence number journaled (0 if none). */
  readonly lastSeq: number;
  /** Number of the last complete batch (0 if none). */
  readonly lastBatch: number;
  /** Bytes cut off the end (a torn batch), 0 when the file was clean. */
  readonly truncatedBytes: number;
}

export interface JournalBatch {
  /** Reused between batches: copy what must outlive the next iteration. */
  readonly commands: readonly CommandRecord[];
  readonly count: number;
  readonly batchNumber: number;
}

/**
 * Yields every complete batch of a journal file in order. With `repair`, a torn or corrupt tail is truncated away
 * once iteration ends. The summary is written into `summary` as iteration proceeds.
 */
export function* journalBatches(
  path: string,
  configDigestHex: string | null,
  repair = false,
  summary: { batches: number; commands: number; lastSeq: number; lastBatch: number; truncatedBytes: number } = {
    batches: 0,
    commands: 0,
    lastSeq: 0,
    lastBatch: 0,
    truncatedBytes: 0,
  },
): Generator<JournalBatch, void, void> {
  if (!existsSync(path)) return;
  const fd = openSync(path, repair ? "r+" : "r");
  try {
    const size = fstatSync(fd).size;
    if (size < FILE_HEADER_BYTES) {
      if (repair) ftruncateSync(fd, 0);
      summary.truncatedBytes = size;
      return;
    }
    const header = new Uint8Array(FILE_HEADER_BYTES);
    readSync(fd, header, 0, FILE_HEADER_BYTES, 0);
    const magic = String.fromCharCode(...header.subarray(0, 8));
    if (magic !== FILE_MAGIC) throw new JournalError(`${path} is not a crossbook journal (bad magic)`);
    const hdv = new DataView(header.buffer);
    const version = hdv.getUint32(8, true);
    if (version !== JOURNAL_VERSION) throw new JournalError(`${path}: journal version ${version}, expected ${JOURNAL_VERSION}`);
    if (hdv.getUint32(12, true) !== COMMAND_RECORD_BYTES) throw new JournalError(`${path}: record size mismatch`);
    const digest = Buffer.from(header.subarray(16, 48)).toString("hex");
    if (configDigestHex !== null && digest !== configDigestHex.padEnd(64, "0").slice(0, 64)) {
      throw new JournalError(`${path} was written with another configuration (digest ${digest.slice(0, 12)}…); use the same --config`);
    }
    let pos = FILE_HEADER_BYTES;
    const batchHeader = new Uint8Array(BATCH_HEADER_BYTES);
    const bdv = new DataView(batchHeader.buffer);
    let payload = new ArrayBuffer(1024 * COMMAND_RECORD_BYTES);
    let views = viewsOf(payload);
    const records: CommandRecord[] = [];
    const batch = { commands: records, count: 0, batchNumber: 0 };
    while (pos + BATCH_HEADER_BYTES <= size) {
      readSync(fd, batchHeader, 0, BATCH_HEADER_BYTES, pos);
      if (bdv.getUint32(0, true) !== BATCH_MAGIC) break;
      const count = bdv.getUint32(4, true);
      const batchNumber = bdv.getFloat64(8, true);
      const payloadBytes = count * COMMAND_RECORD_BYTES;
      if (count === 0 || pos + BATCH_HEADER_BYTES + payloadBytes > size) break;
      if (payloadBytes > payload.byteLength) {
        payload = new ArrayBuffer(payloadBytes);
        views = viewsOf(payload);
      }
      const bytes = new Uint8Array(payload, 0, payloadBytes);
      readSync(fd, bytes, 0, payloadBytes, pos + BATCH_HEADER_BYTES);
      if (crc32(bytes) !== bdv.getUint32(24, true)) break;
      while (records.length < count) records.push(new CommandRecord());
      for (let i = 0; i < count; i++) readCommand(views, i * COMMAND_RECORD_BYTES, records[i]!);
      batch.count = count;
      batch.batchNumber = batchNumber;
      pos += BATCH_HEADER_BYTES + payloadBytes;
      summary.batches++;
      summary.commands += count;
      summary.lastSeq = records[count - 1]!.seq;
      summary.lastBatch = batchNumber;
      yield batch;
    }
    summary.truncatedBytes = size - pos;
    if (repair && size > pos) ftruncateSync(fd, pos);
  } finally {
    closeSync(fd);
  }
}

/** Reads every complete batch of a journal file (see journalBatches), calling `onBatch` for each. */
export function readJournal(
  path: string,
  configDigestHex: string | null,
  onBatch: (cmds: readonly CommandRecord[], count: number, batchNumber: number) => void,
  repair = false,
): RecoveredJournal {
  const summary = { batches: 0, commands: 0, lastSeq: 0, lastBatch: 0, truncatedBytes: 0 };
  for (const b of journalBatches(path, configDigestHex, repair, summary)) onBatch(b.commands, b.count, b.batchNumber);
  return summary;
}

/** Appends batches with one write + fdatasync each (the group commit), one at a time. */
export class JournalWriter {
  private constructor(
    private readonly file: FileHandle,
    private position: number,
  ) {}

  /** Opens (creating if needed) a journal whose torn tail has already been repaired by readJournal(repair). */
  static async open(path: string, configDigestHex: string): Promise<JournalWriter> {
    mkdirSync(dirname(path), { recursive: true });
    const fresh = !existsSync(path);
    const file = await open(path, fresh ? "w+" : "r+");
    let position = (await file.stat()).size;
    if (position === 0) {
      const header = fileHeader(configDigestHex);
      await file.write(header, 0, header.length, 0);
      await file.datasync();
      position = header.length;
    }
    return new JournalWriter(file, position);
  }

  /** Resolves when the batch is on disk (durable). Callers must not start another append before it resolves. */
  async append(frame: Uint8Array): Promise<void> {
    let written = 0;
    while (written < frame.length) {
      const { bytesWritten } = await this.file.write(frame, written, frame.length - written, this.position + written);
      written += bytesWritten;
    }
    await this.file.datasync();
    this.position += frame.length;
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}
