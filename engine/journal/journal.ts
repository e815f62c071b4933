// The append-only command journal: every accepted command, in sequence, grouped in the batches the engine
// processes (the batch boundaries are part of the deterministic state, see engine/pipeline/engine.ts).
//
// File layout (little-endian):
//   file header, 64 bytes: magic "CBJOURN1", u32 version, u32 recordBytes, 32 bytes config digest (hex-decoded), pad
//   batch: 32-byte header { u32 magic 0xCB0BA7C4, u32 count, f64 batchNumber, f64 firstSeq, u32 crc32(payload), u32 0 }
//          then count × COMMAND_RECORD_BYTES command records (engine/model/record-layout.ts layout)
// A batch is durable once its bytes are written and synced (group commit: one sync per group of batches). The live
// files are opened O_DSYNC where the platform has it, so the write itself returns only once its bytes are on disk —
// the guarantee of a write followed by fdatasync, in one system call (JournalWriter, SyncJournalAppender: writer.ts).
//
// Segments (X7): the journal is a directory of files `journal-<first sequence number, 16 digits>.bin`, each with the
// file header above; the writer starts a new segment once the current one holds segmentBytes (at a group boundary,
// so a batch never spans two files). Segments a snapshot fully covers may be moved to an archive directory
// (`crossbook journal-archive`); a whole history is the archived segments followed by the live ones. A journal from
// before segments (one `journal.bin` in the data dir) is read as the segment that starts at sequence 1, and the
// server moves it into the segment directory on its next start (migrateLegacyJournal).
//
// Torn tail versus corruption (X4, X5): a crash can only leave the last group write incomplete, so what may be cut
// silently is a bad stretch at the very end of the last segment with no valid batch after it. A batch that fails
// its checks (magic, size, CRC, sequence) and is followed by valid batches — in the same segment or in later ones —
// is corruption of acknowledged data: reading stops with a JournalCorruptError naming the file, the byte offset and
// the records after it. The only way past it is an explicit truncateAtCorruption, which keeps exactly the batches
// before the offset and moves the rest (the tail bytes and any later segments) to a quarantine directory.
import {
  closeSync,
  copyFileSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { crc32 } from "node:zlib";
import { CommandRecord } from "../model/index.ts";
import { COMMAND_RECORD_BYTES, commandSeqAt, readCommand, viewsOf, writeCommand, type RecordViews } from "../model/index.ts";

export const JOURNAL_VERSION = 1;
const FILE_MAGIC = "CBJOURN1";
export const FILE_HEADER_BYTES = 64;
const BATCH_MAGIC = 0xcb0ba7c4;
/** A batch frame is this header followed by its records (the sequencer encodes records right behind one: encode once). */
export const BATCH_HEADER_BYTES = 32;

export class JournalError extends Error {
  override name = "JournalError";
}

/** Journal files (and snapshots) are readable and writable by their owner only. */
export const JOURNAL_FILE_MODE = 0o600;
/** A journal from before segments: one file in the data directory, read as the segment starting at sequence 1. */
export const LEGACY_JOURNAL_FILE = "journal.bin";
/** Live segments, under the data directory. */
export const JOURNAL_SEGMENT_DIR = "journal";
/** Where `crossbook journal-archive` moves covered segments by default, under the data directory. */
export const JOURNAL_ARCHIVE_DIR = "journal-archive";
/** Where truncateAtCorruption moves what it cuts, under the data directory. */
export const JOURNAL_QUARANTINE_DIR = "journal-quarantine";
/**
 * Default segment size: 64 MiB is ~520,000 commands, a few seconds of full load. Small enough that archiving frees
 * space in steps that matter and a scan for corruption reads little; large enough that rolling over (one file
 * create and two fsyncs) happens rarely.
 */
export const JOURNAL_SEGMENT_BYTES_DEFAULT = 64 * 1024 * 1024;
/** A batch header whose count exceeds this is garbage (the sequencer writes at most 1,024; old journals 4,096). */
const BATCH_COUNT_MAX = 1 << 16;
const SEGMENT_NAME = /^journal-(\d{16})\.bin$/;

export function segmentFileName(firstSeq: number): string {
  return `journal-${String(firstSeq).padStart(16, "0")}.bin`;
}

/** Thrown when a bad batch is followed by valid ones: acknowledged data is damaged, not a torn tail. */
export class JournalCorruptError extends JournalError {
  override name = "JournalCorruptError";
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
    readonly recordsAfter: number,
    readonly batchesAfter: number,
  ) {
    super(
      `journal corrupt: ${file} at byte ${offset} (${reason}), followed by ${recordsAfter} valid records in ` +
        `${batchesAfter} batches — this is not a torn tail, refusing to start. Check it with \`crossbook journal-verify\`; ` +
        `restore the journal from a copy, or start with --truncate-at-corruption to keep only the records before byte ` +
        `${offset} (what follows is moved to ${JOURNAL_QUARANTINE_DIR}/).`,
    );
  }
}

export function fileHeader(configDigestHex: string): Uint8Array {
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

  /** Copies a record already encoded at byte `from` of `source` (no decoding, no re-encoding). */
  addEncoded(source: RecordViews, from: number): void {
    const at = BATCH_HEADER_BYTES + this.count * COMMAND_RECORD_BYTES;
    if (at + COMMAND_RECORD_BYTES > this.buffer.byteLength) this.grow(at + COMMAND_RECORD_BYTES);
    if (this.count === 0) this.firstSeq = commandSeqAt(source, from);
    this.views.u8.set(source.u8.subarray(from, from + COMMAND_RECORD_BYTES), at);
    this.count++;
  }

  get size(): number {
    return this.count;
  }

  /** The finished frame; valid until the next begin(). */
  finish(): Uint8Array {
    return sealBatchFrame(this.views.u8, 0, this.count, this.batchNumber, this.firstSeq);
  }

  private grow(needed: number): void {
    let size = this.buffer.byteLength;
    while (size < needed) size *= 2;
    const next = new ArrayBuffer(size);
    new Uint8Array(next).set(new Uint8Array(this.buffer));
    this.buffer = next;
    this.views = viewsOf(next);
  }
}

/**
 * Writes the batch header at byte `at` of `bytes` for the `count` records that follow it there (CRC over them) and
 * returns the frame — header and records — as a view of `bytes`.
 */
export function sealBatchFrame(bytes: Uint8Array, at: number, count: number, batchNumber: number, firstSeq: number): Uint8Array {
  const frame = bytes.subarray(at, at + BATCH_HEADER_BYTES + count * COMMAND_RECORD_BYTES);
  const dv = new DataView(frame.buffer, frame.byteOffset, BATCH_HEADER_BYTES);
  dv.setUint32(0, BATCH_MAGIC, true);
  dv.setUint32(4, count, true);
  dv.setFloat64(8, batchNumber, true);
  dv.setFloat64(16, firstSeq, true);
  dv.setUint32(24, crc32(frame.subarray(BATCH_HEADER_BYTES)), true);
  dv.setUint32(28, 0, true);
  return frame;
}


/** One journal file: a live segment, an archived one, or the legacy journal.bin (firstSeq 1). */
export interface JournalSegment {
  readonly path: string;
  /** First sequence number it holds (from its name); 0 = unknown (a lone file read by readJournal). */
  readonly firstSeq: number;
  readonly archived: boolean;
}

export function segmentsIn(dir: string, archived: boolean): JournalSegment[] {
  if (!existsSync(dir)) return [];
  const out: JournalSegment[] = [];
  for (const name of readdirSync(dir)) {
    const m = SEGMENT_NAME.exec(name);
    if (m !== null) out.push({ path: join(dir, name), firstSeq: Number(m[1]), archived });
  }
  return out;
}

/**
 * The journal's files in sequence order: archived segments (when `archiveDir` is given), the legacy journal.bin, then
 * the live segments. A segment present both archived and live (a move interrupted after its copy) is read live.
 */
export function listSegments(dataDir: string, archiveDir: string | null = null): JournalSegment[] {
  const live = segmentsIn(join(dataDir, JOURNAL_SEGMENT_DIR), false);
  const legacy = join(dataDir, LEGACY_JOURNAL_FILE);
  if (existsSync(legacy) && !live.some((s) => s.firstSeq === 1)) live.push({ path: legacy, firstSeq: 1, archived: false });
  const liveFirst = new Set(live.map((s) => s.firstSeq));
  const archived = archiveDir === null ? [] : segmentsIn(archiveDir, true).filter((s) => !liveFirst.has(s.firstSeq));
  return [...archived, ...live].sort((a, b) => a.firstSeq - b.firstSeq);
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Moves a pre-segment `journal.bin` into the segment directory as the segment starting at sequence 1 (one rename;
 * both directories fsynced). Returns true when it moved one.
 */
export function migrateLegacyJournal(dataDir: string): boolean {
  const legacy = join(dataDir, LEGACY_JOURNAL_FILE);
  if (!existsSync(legacy)) return false;
  const dir = join(dataDir, JOURNAL_SEGMENT_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const target = join(dir, segmentFileName(1));
  if (existsSync(target)) throw new JournalError(`both ${legacy} and ${target} exist: remove the one that is not the journal`);
  renameSync(legacy, target);
  fsyncDir(dir);
  fsyncDir(dataDir);
  return true;
}

/** Where a corruption was found, and what follows it. */
export interface JournalCorruption {
  readonly file: string;
  readonly offset: number;
  readonly reason: string;
  readonly recordsAfter: number;
  readonly batchesAfter: number;
  /** truncateAtCorruption: the journal was cut there and the rest moved to this directory. */
  readonly quarantinedTo: string | null;
}

export interface JournalSummary {
  segments: number;
  batches: number;
  commands: number;
  /** Commands skipped because the snapshot covers them (fromSeq). */
  skippedCommands: number;
  /** Highest sequence number journaled (0 if none). */
  lastSeq: number;
  /** Number of the last complete batch (0 if none). */
  lastBatch: number;
  /** Bytes after the last complete batch (cut when repairing), 0 when the journal ended cleanly. */
  truncatedBytes: number;
  /** Of truncatedBytes, the trailing zero bytes: space the journal thread zero-filled ahead and never wrote, not a
   * torn write (the rest, truncatedBytes − preallocatedBytes, is the torn part of an interrupted write). */
  preallocatedBytes: number;
  corruption: JournalCorruption | null;
}

export function emptySummary(): JournalSummary {
  return { segments: 0, batches: 0, commands: 0, skippedCommands: 0, lastSeq: 0, lastBatch: 0, truncatedBytes: 0, preallocatedBytes: 0, corruption: null };
}

export interface JournalReadOptions {
  /** The config digest every segment must carry; null = accept any (tools that only inspect). */
  readonly configDigestHex: string | null;
  /** Cut a torn tail of the last segment (the server's start). */
  readonly repair?: boolean;
  /** Batches up to fromSeq - 1 are covered by a snapshot: skipped unread (fromSeq must start a batch). */
  readonly fromSeq?: number;
  /** Expected number of the batch before the first one read (with fromSeq: the snapshot's batch). */
  readonly afterBatch?: number;
  /** Cut at a corruption instead of refusing, moving the rest into this directory. */
  readonly quarantineDir?: string | null;
  /** Report a corruption in `summary.corruption` and end, instead of throwing (journal-verify). */
  readonly reportCorruption?: boolean;
}

/** A batch header's fields and whether the batch at an offset is sound. */
interface BatchProbe {
  count: number;
  batchNumber: number;
  firstSeq: number;
  reason: string;
}

/** Reads one segment file batch by batch: the header checks, the batch checks and the scan past a bad batch. */
class SegmentReader {
  readonly size: number;
  private readonly header = new Uint8Array(BATCH_HEADER_BYTES);
  private readonly hdv = new DataView(this.header.buffer);
  payload = new ArrayBuffer(1024 * COMMAND_RECORD_BYTES);
  views: RecordViews = viewsOf(this.payload);

  constructor(
    readonly fd: number,
    readonly path: string,
  ) {
    this.size = fstatSync(fd).size;
  }

  /** How many bytes at the end of the file, after `from`, are zero (read backwards in chunks, stopping at the first
   * non-zero byte). */
  zeroTailBytes(from: number): number {
    const chunk = Buffer.alloc(64 * 1024);
    let end = this.size;
    while (end > from) {
      const start = end - chunk.length > from ? end - chunk.length : from;
      const n = end - start;
      readSync(this.fd, chunk, 0, n, start);
      for (let i = n - 1; i >= 0; i--) if (chunk[i] !== 0) return this.size - (start + i + 1);
      end = start;
    }
    return this.size - from;
  }

  /** Checks the file header; throws on a file that is not a journal of this configuration. */
  checkFileHeader(configDigestHex: string | null): void {
    const header = new Uint8Array(FILE_HEADER_BYTES);
    readSync(this.fd, header, 0, FILE_HEADER_BYTES, 0);
    const magic = String.fromCharCode(...header.subarray(0, 8));
    if (magic !== FILE_MAGIC) throw new JournalError(`${this.path} is not a crossbook journal (bad magic)`);
    const hdv = new DataView(header.buffer);
    const version = hdv.getUint32(8, true);
    if (version !== JOURNAL_VERSION) throw new JournalError(`${this.path}: journal version ${version}, expected ${JOURNAL_VERSION}`);
    if (hdv.getUint32(12, true) !== COMMAND_RECORD_BYTES) throw new JournalError(`${this.path}: record size mismatch`);
    const digest = Buffer.from(header.subarray(16, 48)).toString("hex");
    if (configDigestHex !== null && digest !== configDigestHex.padEnd(64, "0").slice(0, 64)) {
      throw new JournalError(`${this.path} was written with another configuration (digest ${digest.slice(0, 12)}…); use the same --config`);
    }
  }

  /**
   * Probes the batch at `pos`: fills `p` and returns its end offset, or -1 with `p.reason` set. With `readPayload`
   * the payload is read into `this.payload` and its CRC checked; without, only the header is (a covered batch).
   */
  probe(pos: number, p: BatchProbe, readPayload: boolean): number {
    if (pos + BATCH_HEADER_BYTES > this.size) return this.bad(p, "incomplete batch header");
    readSync(this.fd, this.header, 0, BATCH_HEADER_BYTES, pos);
    if (this.hdv.getUint32(0, true) !== BATCH_MAGIC) return this.bad(p, "bad batch magic");
    p.count = this.hdv.getUint32(4, true);
    p.batchNumber = this.hdv.getFloat64(8, true);
    p.firstSeq = this.hdv.getFloat64(16, true);
    if (p.count === 0 || p.count > BATCH_COUNT_MAX) return this.bad(p, `bad batch size ${p.count}`);
    const payloadBytes = p.count * COMMAND_RECORD_BYTES;
    const end = pos + BATCH_HEADER_BYTES + payloadBytes;
    if (end > this.size) return this.bad(p, "incomplete batch");
    if (!readPayload) return end;
    if (payloadBytes > this.payload.byteLength) {
      this.payload = new ArrayBuffer(payloadBytes);
      this.views = viewsOf(this.payload);
    }
    const bytes = new Uint8Array(this.payload, 0, payloadBytes);
    readSync(this.fd, bytes, 0, payloadBytes, pos + BATCH_HEADER_BYTES);
    if (crc32(bytes) !== this.hdv.getUint32(24, true)) return this.bad(p, "checksum mismatch");
    return end;
  }

  private bad(p: BatchProbe, reason: string): number {
    p.reason = reason;
    return -1;
  }

  /**
   * Valid batches after a bad one at `pos`: every offset past it that holds a batch magic is probed (header, size,
   * CRC); from each valid batch the scan continues at its end. Returns the batches and records found.
   */
  validAfter(pos: number): { batches: number; records: number } {
    const found = { batches: 0, records: 0 };
    if (pos + 1 >= this.size) return found;
    const rest = Buffer.alloc(this.size - pos - 1);
    readSync(this.fd, rest, 0, rest.length, pos + 1);
    const magic = Buffer.alloc(4);
    magic.writeUInt32LE(BATCH_MAGIC, 0);
    const p: BatchProbe = { count: 0, batchNumber: 0, firstSeq: 0, reason: "" };
    let at = rest.indexOf(magic, 0);
    while (at >= 0) {
      const end = this.probe(pos + 1 + at, p, true);
      if (end >= 0) {
        found.batches++;
        found.records += p.count;
        at = rest.indexOf(magic, end - pos - 1);
      } else {
        at = rest.indexOf(magic, at + 1);
      }
    }
    return found;
  }
}

/** Counts the valid batches and records of whole segments (what follows a corruption in earlier ones). */
function countSegments(segments: readonly JournalSegment[]): { batches: number; records: number } {
  const total = { batches: 0, records: 0 };
  for (const s of segments) {
    const fd = openSync(s.path, "r");
    try {
      const r = new SegmentReader(fd, s.path);
      const found = r.validAfter(FILE_HEADER_BYTES - 1);
      total.batches += found.batches;
      total.records += found.records;
    } finally {
      closeSync(fd);
    }
  }
  return total;
}

/**
 * Cuts the journal at a corruption: the bytes from `offset` on and every later segment go to `quarantineDir`
 * (copied, then fsynced, before anything is cut), then the segment is truncated at `offset`.
 */
function quarantineFrom(fd: number, segment: JournalSegment, offset: number, size: number, later: readonly JournalSegment[], quarantineDir: string): void {
  mkdirSync(quarantineDir, { recursive: true, mode: 0o700 });
  const tail = Buffer.alloc(size - offset);
  readSync(fd, tail, 0, tail.length, offset);
  const out = openSync(join(quarantineDir, `${basename(segment.path)}.from-${offset}`), "w", JOURNAL_FILE_MODE);
  try {
    writeSync(out, tail);
    fsyncSync(out);
  } finally {
    closeSync(out);
  }
  for (const s of later) {
    copyFileSync(s.path, join(quarantineDir, basename(s.path)));
    const copy = openSync(join(quarantineDir, basename(s.path)), "r");
    fsyncSync(copy);
    closeSync(copy);
  }
  fsyncDir(quarantineDir);
  ftruncateSync(fd, offset);
  fsyncSync(fd);
  for (const s of later) unlinkSync(s.path);
  fsyncDir(dirname(segment.path));
}

export interface JournalBatch {
  /** Reused between batches: copy what must outlive the next iteration. */
  readonly commands: readonly CommandRecord[];
  readonly count: number;
  readonly batchNumber: number;
}

/**
 * Yields every batch of the journal's segments in order, checking each batch (magic, size, CRC) and that batch
 * numbers and sequence numbers run on without a gap across segments. See the file comment for what a torn tail is;
 * `summary` is filled as iteration proceeds.
 */
export function* segmentBatches(
  segments: readonly JournalSegment[],
  opts: JournalReadOptions,
  summary: JournalSummary = emptySummary(),
): Generator<JournalBatch, void, void> {
  const fromSeq = opts.fromSeq ?? 0;
  // Segments the snapshot covers entirely (the next one starts at or before fromSeq) are not opened.
  let first = 0;
  while (first + 1 < segments.length && segments[first + 1]!.firstSeq > 0 && segments[first + 1]!.firstSeq <= fromSeq) first++;
  if (fromSeq > 1 && segments.length > 0 && segments[first]!.firstSeq > fromSeq) {
    throw new JournalError(`the journal starts at sequence ${segments[first]!.firstSeq}, after ${fromSeq}: segments are missing (archived? pass the archive directory)`);
  }
  if (fromSeq <= 1 && segments.length > 0 && segments[0]!.firstSeq > 1) {
    throw new JournalError(`the live journal starts at sequence ${segments[0]!.firstSeq}: earlier segments were archived; read them with --from-genesis (and --archive DIR if not in the default place)`);
  }
  const records: CommandRecord[] = [];
  const batch = { commands: records, count: 0, batchNumber: 0 };
  const state: ReadState = { lastSeq: 0, lastBatch: 0, started: false, reached: fromSeq <= 1 };
  for (let i = first; i < segments.length; i++) {
    const segment = segments[i]!;
    const isLast = i === segments.length - 1;
    const writable = opts.repair === true || (opts.quarantineDir ?? null) !== null;
    const fd = openSync(segment.path, writable ? "r+" : "r");
    try {
      summary.segments++;
      const reader = new SegmentReader(fd, segment.path);
      if (reader.size < FILE_HEADER_BYTES) {
        // Only a segment created by a roll that crashed before its header was synced: it holds no batch.
        if (!isLast) throw new JournalCorruptError(segment.path, 0, "segment shorter than its header", countSegments(segments.slice(i + 1)).records, 0);
        summary.truncatedBytes = reader.size;
        if (opts.repair === true) ftruncateSync(fd, 0);
        return;
      }
      reader.checkFileHeader(opts.configDigestHex);
      const end = yield* readSegment(reader, segment, segments.slice(i + 1), opts, summary, state, records, batch);
      if (end) break;
    } finally {
      closeSync(fd);
    }
  }
  // The journal may end before the snapshot's sequence number: read-only queries are sequenced (a snapshot can
  // come after some) but never journaled (X5). What it must not have is a batch straddling the snapshot (above).
}

interface ReadState {
  lastSeq: number;
  lastBatch: number;
  /** A batch has been seen (the next must follow it). */
  started: boolean;
  /** The first batch after fromSeq has been checked against the snapshot. */
  reached: boolean;
}

/**
 * The batches of one segment. Returns true when reading must stop here (a torn tail was found, or the journal was
 * cut at a corruption); throws JournalCorruptError on a corruption it may not cut.
 */
function* readSegment(
  reader: SegmentReader,
  segment: JournalSegment,
  later: readonly JournalSegment[],
  opts: JournalReadOptions,
  summary: JournalSummary,
  state: ReadState,
  records: CommandRecord[],
  batch: { commands: CommandRecord[]; count: number; batchNumber: number },
): Generator<JournalBatch, boolean, void> {
  const fromSeq = opts.fromSeq ?? 0;
  const p: BatchProbe = { count: 0, batchNumber: 0, firstSeq: 0, reason: "" };
  let pos = FILE_HEADER_BYTES;
  while (pos < reader.size) {
    const covered = fromSeq > 0 && pos + BATCH_HEADER_BYTES <= reader.size && peekLastSeq(reader, pos, p) < fromSeq;
    let end = reader.probe(pos, p, !covered);
    // A batch whose checksum holds but whose numbers do not follow was written whole: never a torn tail to cut.
    const sound = end >= 0;
    if (sound && !continues(state, p)) end = -1;
    if (end < 0) return stopAt(reader, segment, later, pos, p.reason, opts, summary, sound ? p.count : 0);
    state.started = true;
    state.lastBatch = p.batchNumber;
    if (covered) {
      state.lastSeq = p.firstSeq + p.count - 1;
      summary.skippedCommands += p.count;
      pos = end;
      continue;
    }
    if (!state.reached) checkFollowsSnapshot(segment, p, fromSeq, opts.afterBatch ?? 0);
    state.reached = true;
    while (records.length < p.count) records.push(new CommandRecord());
    for (let k = 0; k < p.count; k++) readCommand(reader.views, k * COMMAND_RECORD_BYTES, records[k]!);
    state.lastSeq = records[p.count - 1]!.seq;
    batch.count = p.count;
    batch.batchNumber = p.batchNumber;
    summary.batches++;
    summary.commands += p.count;
    summary.lastSeq = state.lastSeq;
    summary.lastBatch = p.batchNumber;
    pos = end;
    yield batch;
  }
  if (summary.lastSeq < state.lastSeq) summary.lastSeq = state.lastSeq;
  if (summary.lastBatch < state.lastBatch) summary.lastBatch = state.lastBatch;
  return false;
}

/**
 * The first batch after a snapshot must start after it, with no batch straddling it: at or after its next sequence
 * number, after its batch (not necessarily the next ones: read-only queries are sequenced but not journaled).
 */
function checkFollowsSnapshot(segment: JournalSegment, p: BatchProbe, fromSeq: number, afterBatch: number): void {
  if (p.firstSeq < fromSeq || (afterBatch > 0 && p.batchNumber <= afterBatch)) {
    throw new JournalError(
      `${segment.path}: batch ${p.batchNumber} from sequence ${p.firstSeq} does not follow the snapshot ` +
        `(batch ${afterBatch}, sequence ${fromSeq - 1}): the snapshot does not belong to this journal`,
    );
  }
}

/** The last sequence number of the batch at `pos` from its header alone (Infinity when the header is unreadable). */
function peekLastSeq(reader: SegmentReader, pos: number, p: BatchProbe): number {
  return reader.probe(pos, p, false) < 0 ? Infinity : p.firstSeq + p.count - 1;
}

/**
 * Whether a sound batch follows the one before it (rising numbers). A segment's name is the first sequence number its
 * writer expected, not necessarily its first batch's: a journal's first segment is named 1 whatever its first batch
 * (read-only queries are sequenced, never journaled), and a segment a roll created just before a crash holds no batch
 * until the restart appends to it, numbering from the last journaled command — below the name when the group the roll
 * was for began with queries. Names only order the segments and let a snapshot skip the ones before it (every batch
 * of a segment is below the next one's name either way); a batch is judged by its checksum and its numbers.
 */
function continues(state: ReadState, p: BatchProbe): boolean {
  if (!state.started) return true;
  // Rising, not consecutive: read-only queries are sequenced but never journaled (X5), so a batch of queries only
  // leaves a gap in the batch numbers, and a query a gap in the sequence numbers.
  if (p.batchNumber <= state.lastBatch || p.firstSeq <= state.lastSeq) {
    p.reason = `batch ${p.batchNumber} from sequence ${p.firstSeq} does not follow batch ${state.lastBatch} ending at ${state.lastSeq}`;
    return false;
  }
  return true;
}

/** A bad batch at `pos`: a torn tail (cut when repairing), a corruption cut into quarantine, or an error. */
function stopAt(
  reader: SegmentReader,
  segment: JournalSegment,
  later: readonly JournalSegment[],
  pos: number,
  reason: string,
  opts: JournalReadOptions,
  summary: JournalSummary,
  /** The records of the batch at `pos` when it passed its checksum (its numbering is what is wrong): then it is a
   * corruption, whatever follows it, never a torn tail. 0 otherwise. */
  soundRecords = 0,
): boolean {
  const inSegment = reader.validAfter(pos);
  const inLater = countSegments(later);
  const batchesAfter = inSegment.batches + inLater.batches + (soundRecords > 0 ? 1 : 0);
  const recordsAfter = inSegment.records + inLater.records + soundRecords;
  if (batchesAfter === 0) {
    // Nothing valid after it: the incomplete end of the last write (later segments, if any, hold no batch).
    summary.truncatedBytes = reader.size - pos;
    summary.preallocatedBytes = reader.zeroTailBytes(pos);
    if (opts.repair === true || (opts.quarantineDir ?? null) !== null) {
      ftruncateSync(reader.fd, pos);
      for (const s of later) unlinkSync(s.path);
    }
    return true;
  }
  const quarantine = opts.quarantineDir ?? null;
  summary.corruption = { file: segment.path, offset: pos, reason, recordsAfter, batchesAfter, quarantinedTo: quarantine };
  if (quarantine !== null) {
    quarantineFrom(reader.fd, segment, pos, reader.size, later, quarantine);
    return true;
  }
  if (opts.reportCorruption === true) return true;
  throw new JournalCorruptError(segment.path, pos, reason, recordsAfter, batchesAfter);
}

/** Yields every complete batch of one journal file (see segmentBatches); `repair` cuts a torn tail. */
export function* journalBatches(
  path: string,
  configDigestHex: string | null,
  repair = false,
  summary: JournalSummary = emptySummary(),
): Generator<JournalBatch, void, void> {
  if (!existsSync(path)) return;
  yield* segmentBatches([{ path, firstSeq: 0, archived: false }], { configDigestHex, repair }, summary);
}

/** Reads every complete batch of a journal file (see journalBatches), calling `onBatch` for each. */
export function readJournal(
  path: string,
  configDigestHex: string | null,
  onBatch: (cmds: readonly CommandRecord[], count: number, batchNumber: number) => void,
  repair = false,
): JournalSummary {
  const summary = emptySummary();
  for (const b of journalBatches(path, configDigestHex, repair, summary)) onBatch(b.commands, b.count, b.batchNumber);
  return summary;
}
