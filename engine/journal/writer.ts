// The journal's writers: JournalWriter (the async group commit — one durable write per group, through libuv) and
// SyncJournalAppender (the same segment bytes written with blocking O_DSYNC writes, for the journal thread, into
// segments zero-filled ahead). Their files are read back by journal.ts (segmentBatches), byte for byte the same.
import {
  closeSync,
  existsSync,
  fchmodSync,
  fdatasyncSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  writeSync,
  writevSync,
  constants as fsConstants,
} from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import { BATCH_HEADER_BYTES, FILE_HEADER_BYTES, fileHeader, fsyncDir, JOURNAL_FILE_MODE, segmentFileName, segmentsIn } from "./journal.ts";

/**
 * O_DSYNC: each write returns once its data (and what is needed to read it back, the file size) is on disk, as a
 * write followed by fdatasync would — one system call, and one trip through the thread pool, instead of two. 0 where
 * the platform has no such flag: writeDurably then calls fdatasync itself.
 */
const SYNC_WRITE_FLAG = fsConstants.O_DSYNC ?? 0;

/**
 * Writes all of `bytes` at `position` and resolves once they are on disk: on an O_DSYNC handle each write is durable
 * when it returns; without the flag an fdatasync follows.
 */
async function writeDurably(file: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const { bytesWritten } = await file.write(bytes, written, bytes.length - written, position + written);
    written += bytesWritten;
  }
  if (SYNC_WRITE_FLAG === 0) await file.datasync();
}

/** Creates a journal file with its header, synced, owner-only; `exclusive` refuses an existing file. */
async function createJournalFile(path: string, configDigestHex: string, exclusive: boolean): Promise<FileHandle> {
  const create = fsConstants.O_RDWR | fsConstants.O_CREAT | (exclusive ? fsConstants.O_EXCL : fsConstants.O_TRUNC);
  const file = await open(path, create | SYNC_WRITE_FLAG, JOURNAL_FILE_MODE);
  const header = fileHeader(configDigestHex);
  await writeDurably(file, header, 0);
  return file;
}

/**
 * Appends batches with one durable write each (the group commit: O_DSYNC, or write + fdatasync), one at a time. Opened on a segment directory
 * it starts a new segment, named by the sequence number of the batch that opens it, once the current one holds
 * segmentBytes.
 */
export class JournalWriter {
  private constructor(
    private file: FileHandle,
    private position: number,
    private readonly segmentDir: string | null,
    private readonly segmentBytes: number,
    private readonly configDigestHex: string,
  ) {}

  /** Opens (creating if needed) one journal file whose torn tail has already been repaired by readJournal(repair). */
  static async open(path: string, configDigestHex: string): Promise<JournalWriter> {
    mkdirSync(dirname(path), { recursive: true });
    const { file, position } = await openForAppend(path, configDigestHex);
    return new JournalWriter(file, position, null, Infinity, configDigestHex);
  }

  /**
   * Opens the last segment of `dir` for appending (its torn tail already repaired by segmentBatches), or creates the
   * first one, named `nextSeq`, when the directory holds none.
   */
  static async openSegments(dir: string, configDigestHex: string, segmentBytes: number, nextSeq: number): Promise<JournalWriter> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const existing = segmentsIn(dir, false).sort((a, b) => a.firstSeq - b.firstSeq);
    const last = existing[existing.length - 1];
    const path = last?.path ?? join(dir, segmentFileName(nextSeq));
    const { file, position } = await openForAppend(path, configDigestHex);
    if (last === undefined) fsyncDir(dir);
    return new JournalWriter(file, position, dir, segmentBytes, configDigestHex);
  }

  /** Resolves when the frame is on disk (durable). Callers must not start another append before it resolves. */
  async append(frame: Uint8Array): Promise<void> {
    if (this.segmentDir !== null && this.position >= this.segmentBytes) await this.roll(firstSeqOfFrame(frame));
    await writeDurably(this.file, frame, this.position);
    this.position += frame.length;
  }

  /** Closes the full segment and starts the next one at `firstSeq` (the file and its directory entry synced). */
  private async roll(firstSeq: number): Promise<void> {
    const dir = this.segmentDir!;
    const next = await createJournalFile(join(dir, segmentFileName(firstSeq)), this.configDigestHex, true);
    fsyncDir(dir);
    await this.file.close();
    this.file = next;
    this.position = FILE_HEADER_BYTES;
  }

  async close(): Promise<void> {
    await this.file.close();
  }
}

/** Opens a journal file at its end, writing the header into an empty (or header-torn) one; owner-only either way. */
async function openForAppend(path: string, configDigestHex: string): Promise<{ file: FileHandle; position: number }> {
  if (!existsSync(path)) return { file: await createJournalFile(path, configDigestHex, true), position: FILE_HEADER_BYTES };
  const file = await open(path, fsConstants.O_RDWR | SYNC_WRITE_FLAG);
  await file.chmod(JOURNAL_FILE_MODE);
  let position = (await file.stat()).size;
  if (position < FILE_HEADER_BYTES) {
    await file.truncate(0);
    await writeDurably(file, fileHeader(configDigestHex), 0);
    position = FILE_HEADER_BYTES;
  }
  return { file, position };
}

/**
 * Bytes the journal's writer keeps zero-filled ahead of its writes, at most. An O_DSYNC write that extends the file
 * must also put the new size on disk: on ext4 that is a commit of the filesystem's journal, shared with every other
 * writer of the disk (~0.22 ms alone here, several ms while other processes write). Over blocks already written and
 * synced, the same write only moves data (~0.13 ms alone, and unaffected by the others' metadata). The zeros past the
 * last batch are what a torn tail looks like to the reader, so after a crash recovery cuts them with it; a roll or a
 * clean close cuts them first, so a closed segment ends at its last batch as JournalWriter leaves it.
 */
export const JOURNAL_PREALLOCATE_BYTES = 4 << 20;
/**
 * The zeros one fill writes and syncs (SyncJournalAppender.topUp): a slice, not the whole 4 MiB at once. A fill is
 * on the path of the next group — the writer cannot write while it fills — and 4 MiB with its fdatasync took ~11.5 ms
 * on this VM, once every 4 MiB of journal (about once a second at 50k commands/s): every command that came meanwhile
 * waited for it. A slice of 256 KiB takes ~1 ms, and the writer tops up between writes, mostly while nothing waits.
 */
export const JOURNAL_PREALLOCATE_SLICE_BYTES = 256 << 10;
const ZEROS = new Uint8Array(1 << 20);

/**
 * JournalWriter's synchronous twin, for the journal thread (gateway/journal-thread.ts): the same segment files, the same
 * rolling rule (a new segment, named by the first sequence number of the group that opens it, once the current one
 * holds segmentBytes), written with blocking O_DSYNC writes — a thread of its own waits in the system call instead of
 * a libuv thread-pool trip and a promise turn on the gateway thread. The live segment is zero-filled ahead of the
 * writes (JOURNAL_PREALLOCATE_BYTES), a slice at a time (topUp).
 */
export class SyncJournalAppender {
  /** The live segment's size on disk: its batches, then zeros written and synced ahead of them. */
  private allocatedEnd: number;
  private closed = false;

  /** The live segment as another thread's appender leaves it (share / attachedTo), null when this one writes alone. */
  private shared: SharedSegmentState | null = null;

  private constructor(
    private fd: number,
    /** The live segment's path. */
    private path: string,
    private position: number,
    private readonly segmentDir: string,
    private readonly segmentBytes: number,
    private readonly configDigestHex: string,
    private readonly preallocateBytes: number,
    /** The live segment's first sequence number (its file name). */
    private segmentSeq: number,
  ) {
    this.allocatedEnd = position;
  }

  /**
   * A second appender on the segments `state` describes — whose owner (openSegments, then share) opened them —
   * for a thread that writes some groups itself (the gateway's inline writes beside the journal thread). It opens
   * the live segment at its first attach().
   */
  static attachedTo(dir: string, configDigestHex: string, segmentBytes: number, state: SharedSegmentState, preallocateBytes = JOURNAL_PREALLOCATE_BYTES): SyncJournalAppender {
    const appender = new SyncJournalAppender(-1, "", 0, dir, segmentBytes, configDigestHex, preallocateBytes, 0);
    appender.shared = state;
    return appender;
  }

  /** From now on this appender's live segment is also `state`'s: each operation between attach() and detach(),
   * under state's lock. Publishes the segment as it stands (the caller holds the lock). */
  share(state: SharedSegmentState): void {
    this.shared = state;
    this.detach();
  }

  /**
   * Takes the live segment as the other appender left it (the caller holds the shared lock): its first sequence number
   * (a segment rolled meanwhile is opened here), the end of its batches and of its zeros.
   */
  attach(): void {
    const state = this.shared;
    if (state === null) return;
    if (this.fd < 0 || state.segmentSeq !== this.segmentSeq) {
      if (this.fd >= 0) closeSync(this.fd);
      this.fd = -1;
      this.segmentSeq = state.segmentSeq;
      this.path = join(this.segmentDir, segmentFileName(this.segmentSeq));
      this.fd = openSync(this.path, fsConstants.O_RDWR | SYNC_WRITE_FLAG);
    }
    this.position = state.position;
    this.allocatedEnd = state.allocatedEnd;
  }

  /** Leaves the live segment to the other appender (the caller still holds the shared lock). */
  detach(): void {
    const state = this.shared;
    if (state === null) return;
    state.segmentSeq = this.segmentSeq;
    state.position = this.position;
    state.allocatedEnd = this.allocatedEnd;
  }

  /** Would `bytes` go into the live segment's zeros: no roll, no fill (between attach and detach)? */
  fits(bytes: number): boolean {
    return this.fd >= 0 && this.position < this.segmentBytes && this.position + bytes <= this.allocatedEnd;
  }

  /** Closes this appender's descriptor only: the segment's owner trims and closes the segment (attachedTo's side). */
  closeDescriptor(): void {
    this.closed = true;
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /**
   * Opens the last segment of `dir` for appending (its torn tail already repaired), or creates the first, `nextSeq`.
   * `preallocateBytes` 0 writes as JournalWriter does, extending the file with each write.
   */
  static openSegments(dir: string, configDigestHex: string, segmentBytes: number, nextSeq: number, preallocateBytes = JOURNAL_PREALLOCATE_BYTES): SyncJournalAppender {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const existing = segmentsIn(dir, false).sort((a, b) => a.firstSeq - b.firstSeq);
    const last = existing[existing.length - 1];
    const path = last?.path ?? join(dir, segmentFileName(nextSeq));
    let fd: number;
    let position = FILE_HEADER_BYTES;
    if (last === undefined) {
      fd = createJournalFileSync(path, configDigestHex);
      fsyncDir(dir);
    } else {
      fd = openSync(path, fsConstants.O_RDWR | SYNC_WRITE_FLAG);
      fchmodSync(fd, JOURNAL_FILE_MODE);
      position = fstatSync(fd).size;
      if (position < FILE_HEADER_BYTES) {
        ftruncateSync(fd, 0);
        writeDurablySync(fd, [fileHeader(configDigestHex)], 0, FILE_HEADER_BYTES);
        position = FILE_HEADER_BYTES;
      }
    }
    return new SyncJournalAppender(fd, path, position, dir, segmentBytes, configDigestHex, preallocateBytes, last?.firstSeq ?? nextSeq);
  }

  /**
   * Appends `frames` — whole groups, oldest first, each the journal frames of one sequencer group — and returns once
   * all are on disk. Groups that share a segment go out in one writev (one durable system call for all of them); a
   * segment that is full before a group is rolled first, exactly as JournalWriter.append does per group.
   */
  appendGroups(frames: readonly Uint8Array[]): void {
    let from = 0;
    let bytes = 0;
    for (let g = 0; g < frames.length; g++) {
      if (this.position + bytes >= this.segmentBytes) {
        this.writeRun(frames, from, g, bytes);
        this.roll(firstSeqOfFrame(frames[g]!));
        from = g;
        bytes = 0;
      }
      bytes += frames[g]!.length;
    }
    this.writeRun(frames, from, frames.length, bytes);
  }

  private writeRun(frames: readonly Uint8Array[], from: number, to: number, bytes: number): void {
    if (to === from) return;
    if (this.position + bytes > this.allocatedEnd) this.preallocate(this.position + bytes);
    writeDurablySync(this.fd, from === 0 && to === frames.length ? frames : frames.slice(from, to), this.position, bytes);
    this.position += bytes;
  }

  /** Zero-fills whole slices from the segment's allocated end to past `end` (a write that would pass it). */
  private preallocate(end: number): void {
    if (this.preallocateBytes <= 0) return;
    const slice = this.sliceBytes();
    // Whole slices, but not past the segment's size (the write that crosses it is the segment's last).
    this.zeroFill(Math.max(end, Math.min(end + slice - (end % slice), this.segmentBytes)));
  }

  /**
   * Between writes: one more slice of zeros (JOURNAL_PREALLOCATE_SLICE_BYTES) while fewer than preallocateBytes lie
   * ahead of the batches — when `idle` (no group waits), or else once fewer than a quarter of them do, so a writer that
   * never idles still fills ahead in slices rather than in one long fill inside a write. Returns whether it wrote.
   */
  topUp(idle: boolean): boolean {
    if (this.preallocateBytes <= 0 || this.closed || this.allocatedEnd >= this.segmentBytes) return false;
    const ahead = this.allocatedEnd - this.position;
    if (ahead >= this.preallocateBytes || (!idle && 4 * ahead >= this.preallocateBytes)) return false;
    this.zeroFill(Math.min(this.allocatedEnd + this.sliceBytes(), this.segmentBytes));
    return true;
  }

  /** Would topUp(true) write a slice now? */
  wantsTopUp(): boolean {
    return this.preallocateBytes > 0 && !this.closed && this.allocatedEnd < this.segmentBytes && this.allocatedEnd - this.position < this.preallocateBytes;
  }

  private sliceBytes(): number {
    return Math.min(JOURNAL_PREALLOCATE_SLICE_BYTES, this.preallocateBytes);
  }

  /** Writes zeros from the allocated end to `target` and syncs them: the segment's size and blocks on disk. */
  private zeroFill(target: number): void {
    // A descriptor without O_DSYNC: the slice's writes reach the disk together under one fdatasync.
    const fd = openSync(this.path, fsConstants.O_RDWR);
    try {
      for (let at = this.allocatedEnd; at < target; ) at += writeSync(fd, ZEROS, 0, Math.min(ZEROS.length, target - at), at);
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.allocatedEnd = target;
  }

  /** Cuts the zeros past the last batch (the segment then ends as JournalWriter leaves one), on disk. */
  private trim(): void {
    if (this.allocatedEnd <= this.position) return;
    ftruncateSync(this.fd, this.position);
    fdatasyncSync(this.fd);
    this.allocatedEnd = this.position;
  }

  private roll(firstSeq: number): void {
    this.trim();
    const path = join(this.segmentDir, segmentFileName(firstSeq));
    const next = createJournalFileSync(path, this.configDigestHex);
    fsyncDir(this.segmentDir);
    closeSync(this.fd);
    this.fd = next;
    this.path = path;
    this.segmentSeq = firstSeq;
    this.position = FILE_HEADER_BYTES;
    this.allocatedEnd = FILE_HEADER_BYTES;
  }

  close(): void {
    this.closed = true;
    this.trim();
    closeSync(this.fd);
  }
}

/**
 * The live segment of two SyncJournalAppenders on two threads (the journal thread's, which opens, rolls, fills ahead,
 * trims and closes the segments, and the gateway's, which writes small groups itself: gateway/journal-thread.ts): a
 * lock, and — read and written only by its holder — the segment's first sequence number, the end of its batches and
 * the end of the zeros written ahead. One holder at a time writes the file, so the groups stay one sequence of
 * writes, each begun after the one before it returned, as with one appender.
 */
export class SharedSegmentState {
  /** Bytes of a SharedArrayBuffer the state takes (8-byte aligned). */
  static readonly BYTES = 32;
  private readonly lockWord: Int32Array;
  private readonly values: Float64Array;

  constructor(buffer: SharedArrayBuffer, byteOffset = 0) {
    this.lockWord = new Int32Array(buffer, byteOffset, 2);
    this.values = new Float64Array(buffer, byteOffset + 8, 3);
  }

  /** Takes the lock if free (never waits: the gateway thread then leaves the group to the journal thread). */
  tryLock(): boolean {
    return Atomics.compareExchange(this.lockWord, 0, 0, 1) === 0;
  }

  /** Takes the lock, waiting while the other holds it (the journal thread: the gateway holds it for one write). */
  lock(): void {
    while (Atomics.compareExchange(this.lockWord, 0, 0, 1) !== 0) Atomics.wait(this.lockWord, 0, 1, 5);
  }

  unlock(): void {
    Atomics.store(this.lockWord, 0, 0);
    Atomics.notify(this.lockWord, 0);
  }

  isLocked(): boolean {
    return Atomics.load(this.lockWord, 0) !== 0;
  }

  get segmentSeq(): number {
    return this.values[0]!;
  }

  set segmentSeq(seq: number) {
    this.values[0] = seq;
  }

  get position(): number {
    return this.values[1]!;
  }

  set position(bytes: number) {
    this.values[1] = bytes;
  }

  get allocatedEnd(): number {
    return this.values[2]!;
  }

  set allocatedEnd(bytes: number) {
    this.values[2] = bytes;
  }
}

/** createJournalFile, blocking: a new segment (O_EXCL) with its header on disk, owner-only. */
function createJournalFileSync(path: string, configDigestHex: string): number {
  const fd = openSync(path, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL | SYNC_WRITE_FLAG, JOURNAL_FILE_MODE);
  writeDurablySync(fd, [fileHeader(configDigestHex)], 0, FILE_HEADER_BYTES);
  return fd;
}

/** writeDurably, blocking: all of `parts` (`bytes` in all) back to back at `position`, on disk when it returns. */
function writeDurablySync(fd: number, parts: readonly Uint8Array[], position: number, bytes: number): void {
  let written = writevSync(fd, parts as Uint8Array[], position);
  // A short writev (rare: a signal, a full disk that then fails) is finished part by part.
  for (let i = 0, at = 0; written < bytes && i < parts.length; at += parts[i]!.length, i++) {
    const part = parts[i]!;
    if (at + part.length <= written) continue;
    for (let off = written - at; off < part.length; ) {
      const n = writeSync(fd, part, off, part.length - off, position + written);
      off += n;
      written += n;
    }
  }
  if (SYNC_WRITE_FLAG === 0) fdatasyncSync(fd);
}

/** The sequence number of the first command of a journal frame (its first batch header). */
function firstSeqOfFrame(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset, BATCH_HEADER_BYTES).getFloat64(16, true);
}
