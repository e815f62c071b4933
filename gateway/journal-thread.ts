// The journal thread (issue 15): the group commit's durable write, off the gateway thread and off libuv's thread pool.
//
// Before, each group went through `FileHandle.write` on an O_DSYNC handle: a trip to the thread pool and back, and
// promise turns on the gateway thread, ~0.3 ms beyond the ~0.18 ms the write itself takes here — and one write in
// flight at a time, so a group sealed during a write waited for the gateway to come round, take its completion and
// start the next write. Now a worker thread owns the segment files (SyncJournalAppender) and writes with blocking
// O_DSYNC system calls. The gateway copies each group's frames into a byte ring in shared memory and bumps a counter;
// the thread, woken by Atomics.notify, writes every group queued by then in one writev (one durable system call),
// publishes how many groups are on disk, tops up the zeros it writes ahead (a slice, mostly while nothing is queued),
// and goes on to the groups queued meanwhile. The gateway learns of it
// through Atomics.waitAsync (a futex wake-up of its event loop, no thread-pool job) or, sooner, from `poll()`.
//
// Hybrid (`--journal-write hybrid`, the default; issue 15, sixteenth round): a group of at most
// JOURNAL_INLINE_GROUP_BYTES_MAX that finds no group queued here is written by the gateway itself, at once, with its own
// SyncJournalAppender on the same live segment (as journal-inline.ts does: no wake-up of this thread, none back). The
// two appenders share the segment through SharedSegmentState (a lock; the segment's first sequence number, the end of
// its batches and of its zeros): one writes at a time, from where the other left off. Only this thread rolls
// segments, fills zeros ahead (the gateway asks it to after its own writes: TOP_UP) and trims them at the close.
//
// Durability is exactly JournalWriter's: groups are written in order by one thread, one write after the other, so a
// crash can only tear the last write (a prefix of its groups, possibly of a batch: recovery cuts that tail); a group's
// append resolves only once its bytes — and every earlier group's — are on disk, and the sequencer hands nothing to
// the engine before that.
import { Worker } from "node:worker_threads";
import { JournalError, SharedSegmentState, SyncJournalAppender } from "../engine/journal/index.ts";
import { workerExecArgv, workerUrl } from "../engine/pipeline/worker-bundle.ts";

/** Int32 words of the control block. */
const SUBMITTED = 0; // groups queued by the gateway
const DURABLE = 1; // groups on disk (the gateway waits on it)
const CLOSING = 2; // 1: no more groups; the thread exits once every queued one is written
const FAILED = 3; // 1: a write failed; the thread stopped (its error comes by message)
// Bumped after every change of SUBMITTED or CLOSING; the thread waits on it, having read it before them, so a change
// made between its look and its wait makes the wait return at once (no wake-up is lost).
const WAKE = 4;
// Test hooks (X4P tests): 1 holds the thread before its next write until set back to 0; 1 makes its next write fail.
const HOLD = 5;
const FAIL_NEXT = 6;
// 1: the gateway wrote groups itself (inline) and asks the thread to fill zeros ahead (SyncJournalAppender.topUp).
const TOP_UP = 7;
const CONTROL_WORDS = 8;
/** Group slots: each the ring offset and length of one group's frames. */
const SLOTS = 256;
const SLOT_WORDS = 2;
/** Float64 words per group slot: its writev's start and return (ms, in the gateway's performance.now() clock). */
const TIME_WORDS = 2;
const SLOTS_BYTES = SLOTS * SLOT_WORDS * 4;
const TIMES_OFFSET = CONTROL_WORDS * 4 + SLOTS_BYTES;
/** The live segment as the thread and the gateway's inline writes share it (SharedSegmentState). */
const SEGMENT_STATE_OFFSET = TIMES_OFFSET + SLOTS * TIME_WORDS * 8;
const RING_OFFSET = SEGMENT_STATE_OFFSET + SharedSegmentState.BYTES;
/** How long the thread waits at a time while held by the test hook. */
const PARK_MS = 20;
/** The byte ring's size: groups waiting for the disk, at most (a group is at most ~1 MiB: 8 batches of 1,024). */
export const JOURNAL_RING_BYTES = 16 << 20;
/**
 * `--journal-write hybrid` (the default): a group of at most this many bytes (~120 commands) that finds the thread
 * idle is written by the gateway itself, as `inline` does — no futex wake-up of the thread, no event-loop wake-up back;
 * a larger one — the closed loop's, or a backlog's once the gateway fell behind — goes to the thread, so the gateway
 * goes on sequencing while the disk works. At 50k commands/s a group is ~45 commands (~6 KB) at the median. 64 KiB
 * let the gateway write 300–500-command groups itself when a machine with no core to spare slowed it down, and it fell
 * behind at 50k/s (39.8k acked in one of two runs beside two CPU-bound processes; 16 KiB: 49.7k and 52.9k).
 */
export const JOURNAL_INLINE_GROUP_BYTES_MAX = 16 << 10;

export interface JournalThreadData {
  readonly entry: string;
  readonly shared: SharedArrayBuffer;
  readonly ringBytes: number;
  readonly dir: string;
  readonly configDigestHex: string;
  readonly segmentBytes: number;
  readonly nextSeq: number;
  /** The gateway's performance.timeOrigin: the thread stamps its writes in the gateway's clock. */
  readonly timeOriginMs: number;
}

const DONE: Promise<void> = Promise.resolve();

/** Atomics.waitAsync (Node 16+; not in the ES2022 lib this project compiles against). */
type WaitAsyncResult = { async: false; value: "not-equal" | "timed-out" } | { async: true; value: Promise<"ok" | "timed-out"> };
const waitAsync = (Atomics as unknown as { waitAsync: (a: Int32Array, index: number, value: number) => WaitAsyncResult }).waitAsync;

type ThreadMessage = { type: "ready" } | { type: "fatal"; message: string };

/** One group queued: where its frames are in the ring (freed once durable) and who waits for it. */
interface Queued {
  readonly bytes: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

/** The gateway's side: append() queues a group and resolves once it is on disk. */
export class JournalThread {
  private readonly control: Int32Array;
  private readonly slots: Int32Array;
  private readonly ring: Uint8Array;
  private readonly times: Float64Array;
  /**
   * The writev that put the last group poll() resolved on disk: begun and returned (ms, performance.now()), stamped by
   * the thread (for `--trace-hops`: the write hop's parts). With one append in flight, the group just awaited.
   */
  lastWriteStartMs = 0;
  lastWriteEndMs = 0;
  /** Groups appended (the next one's number) and the oldest not yet known durable. */
  private submitted = 0;
  private durable = 0;
  private readonly queued: Queued[] = [];
  /** Ring bytes in use by queued groups (each counts its frames and any end-of-ring gap skipped before it). */
  private usedBytes = 0;
  private head = 0;
  private failure: Error | null = null;
  private waiting = false;
  /** Appends waiting for ring room (a burst larger than the ring): woken when groups become durable. */
  private readonly roomWaiters: (() => void)[] = [];
  /** Appends inside appendWhenRoom, and the turn the next one waits for (they enqueue in call order). */
  private blocked = 0;
  private roomTurn: Promise<void> = Promise.resolve();
  private readonly exited: Promise<void>;
  /** The gateway's own appender on the thread's live segment (`hybrid`), null when every group goes to the thread. */
  private readonly inline: SyncJournalAppender | null;
  private readonly segment: SharedSegmentState;
  /** Inline writes off: a test hook holds or fails the thread's writes (they must see every group). */
  private inlineOff = false;
  /** Groups written on the calling thread so far (`hybrid`); the rest went to the thread. */
  inlineGroups = 0;
  /** The one group of an inline write (reused: no array per write). */
  private readonly one: Uint8Array[] = [];
  private readonly onDurable = (): void => {
    this.waiting = false;
    this.poll();
  };

  private constructor(
    private readonly worker: Worker,
    shared: SharedArrayBuffer,
    private readonly ringBytes: number,
    data: JournalThreadData,
    /** Groups of at most this many bytes are written on this thread when the journal thread is idle (0: never). */
    private readonly inlineMaxBytes: number,
  ) {
    this.segment = new SharedSegmentState(shared, SEGMENT_STATE_OFFSET);
    this.inline = inlineMaxBytes > 0 ? SyncJournalAppender.attachedTo(data.dir, data.configDigestHex, data.segmentBytes, this.segment) : null;
    this.control = new Int32Array(shared, 0, CONTROL_WORDS);
    this.slots = new Int32Array(shared, CONTROL_WORDS * 4, SLOTS * SLOT_WORDS);
    this.times = new Float64Array(shared, TIMES_OFFSET, SLOTS * TIME_WORDS);
    this.ring = new Uint8Array(shared, RING_OFFSET, ringBytes);
    worker.on("message", (m: ThreadMessage) => {
      if (m.type === "fatal") this.fail(new JournalError(`journal thread: ${m.message}`));
    });
    worker.on("error", (e: Error) => this.fail(new JournalError(`journal thread: ${e.message}`)));
    this.exited = new Promise<void>((resolve) => {
      worker.once("exit", (code) => {
        this.poll();
        if (this.queued.length > 0 || code !== 0) this.fail(new JournalError(`journal thread exited (code ${code}) with ${this.queued.length} groups unwritten`));
        resolve();
      });
    });
  }

  /**
   * Starts the thread on the journal's segment directory (the last segment's torn tail already cut by recovery).
   * `inlineMaxBytes` > 0 (`--journal-write hybrid`): a group of at most that many bytes that finds the thread idle is
   * written on the calling thread (append), the rest by the thread.
   */
  static async openSegments(dir: string, configDigestHex: string, segmentBytes: number, nextSeq: number, ringBytes = JOURNAL_RING_BYTES, inlineMaxBytes = 0): Promise<JournalThread> {
    const shared = new SharedArrayBuffer(RING_OFFSET + ringBytes);
    const entry = new URL("./journal-worker.ts", import.meta.url).href;
    const data: JournalThreadData = { entry, shared, ringBytes, dir, configDigestHex, segmentBytes, nextSeq, timeOriginMs: performance.timeOrigin };
    const url = workerUrl(entry);
    const worker = new Worker(url, { workerData: data, execArgv: workerExecArgv(url) });
    const thread = new JournalThread(worker, shared, ringBytes, data, inlineMaxBytes);
    await new Promise<void>((resolve, reject) => {
      worker.once("message", (m: ThreadMessage) => (m.type === "ready" ? resolve() : reject(new JournalError(m.message))));
      worker.once("error", reject);
      worker.once("exit", (code) => reject(new JournalError(`journal thread exited (code ${code}) before opening ${dir}`)));
    });
    return thread;
  }

  /**
   * Groups the sequencer begins writing before the first is on disk: one, measured (bench journal.path.*, this thread
   * alternating with JournalWriter). Queuing each turn's group at once (8 or 64 at a time) made most groups a turn's
   * one or two commands, and once that queue was full the commands of the next turns waited for the gateway to hear
   * of a write before theirs was queued — about one write more than one group that keeps filling while the write
   * before it runs (p50 1.05–2.2× JournalWriter's at 10k–50k/s; one at a time 0.43–0.90×, load 5–9). Taking groups
   * later than a turn's end would need this thread to cut the batches itself. The ring still takes SLOTS groups.
   */
  readonly appendsInFlightMax = 1;

  /**
   * Queues one group's frames (copied into the ring) and resolves once they, and every earlier group, are on disk. In
   * `hybrid` a small group that finds the thread idle is written here and now (the promise is settled on return).
   */
  append(frames: Uint8Array): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (frames.length <= this.inlineMaxBytes && this.queued.length === 0 && this.blocked === 0 && !this.inlineOff) {
      const written = this.writeInline(frames);
      if (written !== null) return written;
    }
    if (frames.length > this.ringBytes) return Promise.reject(new JournalError(`a journal group of ${frames.length} bytes exceeds the ring (${this.ringBytes})`));
    if (this.blocked === 0 && this.hasRoom(frames.length)) return this.enqueue(frames);
    return this.appendWhenRoom(frames);
  }

  /** append() for a group that finds the ring full (or others waiting): queued in call order once there is room. */
  private async appendWhenRoom(frames: Uint8Array): Promise<void> {
    this.blocked++;
    const before = this.roomTurn;
    let release!: () => void;
    this.roomTurn = new Promise<void>((resolve) => (release = resolve));
    try {
      await before;
      while (this.failure === null && !this.hasRoom(frames.length)) await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
      if (this.failure !== null) throw this.failure;
      return this.enqueue(frames);
    } finally {
      this.blocked--;
      release();
    }
  }

  /**
   * The group written on this thread, as InlineJournal does, if the thread holds no group and the segment's lock is
   * free (the thread may be filling zeros ahead) and the group goes into the zeros already written (no roll, no fill:
   * those stay the thread's); null otherwise (the caller queues it). Every earlier group is on disk (none is queued),
   * so the groups still reach the disk in order. A failed write fails the journal (this group and every later one).
   */
  private writeInline(frames: Uint8Array): Promise<void> | null {
    const appender = this.inline!;
    if (!this.segment.tryLock()) return null;
    try {
      appender.attach();
      if (!appender.fits(frames.length)) return null;
      this.lastWriteStartMs = performance.now();
      this.one[0] = frames;
      appender.appendGroups(this.one);
      this.lastWriteEndMs = performance.now();
      appender.detach();
      this.inlineGroups++;
      if (appender.wantsTopUp() && Atomics.load(this.control, TOP_UP) === 0) {
        Atomics.store(this.control, TOP_UP, 1);
        this.wake();
      }
      return DONE;
    } catch (e) {
      this.fail(new JournalError(`journal write: ${(e as Error).message}`));
      return Promise.reject(this.failure);
    } finally {
      this.segment.unlock();
    }
  }

  /** A free slot, and room for `bytes` at the ring's head or at its start when the end is too short. */
  private hasRoom(bytes: number): boolean {
    if (this.submitted - this.durable >= SLOTS) return false;
    const gap = this.head + bytes > this.ringBytes ? this.ringBytes - this.head : 0;
    return this.usedBytes + gap + bytes <= this.ringBytes;
  }

  private enqueue(frames: Uint8Array): Promise<void> {
    const bytes = frames.length;
    const gap = this.head + bytes > this.ringBytes ? this.ringBytes - this.head : 0;
    const at = gap > 0 ? 0 : this.head;
    this.ring.set(frames, at);
    const slot = (this.submitted % SLOTS) * SLOT_WORDS;
    this.slots[slot] = at;
    this.slots[slot + 1] = bytes;
    this.head = at + bytes;
    this.usedBytes += gap + bytes;
    const p = new Promise<void>((resolve, reject) => this.queued.push({ bytes: gap + bytes, resolve, reject }));
    this.submitted++;
    // Stored after the slot: the thread reads the slot once it sees the count (Atomics orders the plain writes before).
    Atomics.store(this.control, SUBMITTED, this.submitted);
    this.wake();
    this.armWait();
    return p;
  }

  /**
   * Resolves the appends of every group the thread has put on disk since the last look; returns how many. Cheap (one
   * atomic load when nothing is new): the gateway may call it whenever it runs, to learn of a write sooner than the
   * event loop's wake-up would tell it.
   */
  poll(): number {
    const durable = Atomics.load(this.control, DURABLE);
    if (Atomics.load(this.control, FAILED) !== 0 && this.failure === null) this.fail(new JournalError("journal thread: a write failed"));
    let n = 0;
    while (this.durable < durable) {
      const t = (this.durable % SLOTS) * TIME_WORDS;
      this.lastWriteStartMs = this.times[t]!;
      this.lastWriteEndMs = this.times[t + 1]!;
      const q = this.queued.shift()!;
      this.usedBytes -= q.bytes;
      this.durable++;
      n++;
      q.resolve();
    }
    if (this.usedBytes === 0) this.head = 0;
    if (n > 0) this.wakeRoomWaiters();
    this.armWait();
    return n;
  }

  /** Waits (Atomics.waitAsync: no thread-pool job, no polling) for the thread's next durable count while groups are queued. */
  private armWait(): void {
    if (this.waiting || this.durable === this.submitted || this.failure !== null) return;
    const r = waitAsync(this.control, DURABLE, this.durable);
    if (!r.async) {
      queueMicrotask(this.onDurable);
      this.waiting = true;
      return;
    }
    this.waiting = true;
    void r.value.then(this.onDurable);
  }

  private wakeRoomWaiters(): void {
    const waiters = this.roomWaiters.splice(0);
    for (const w of waiters) w();
  }

  private fail(e: Error): void {
    if (this.failure !== null) return;
    this.failure = e;
    for (const q of this.queued.splice(0)) q.reject(e);
    this.wakeRoomWaiters();
  }

  /** Writes every queued group, then stops the thread (it closes the segment). */
  private wake(): void {
    Atomics.add(this.control, WAKE, 1);
    Atomics.notify(this.control, WAKE);
  }

  /**
   * Test hook: `true` keeps the thread from starting its next write (the groups stay queued, their appends pending)
   * until called with `false`. For tests that check nothing of a group leaves before its write returns.
   */
  holdWritesForTest(hold: boolean): void {
    if (hold) this.inlineOff = true;
    Atomics.store(this.control, HOLD, hold ? 1 : 0);
    Atomics.notify(this.control, HOLD);
  }

  /** Test hook: resolves once neither thread holds the live segment (the thread's fill ahead, say, is done). */
  async segmentFreeForTest(): Promise<void> {
    while (this.segment.isLocked()) await new Promise((resolve) => setTimeout(resolve, 2));
  }

  /** Test hook: the thread's next write fails as a disk error would (the thread reports it and stops). */
  failNextWriteForTest(): void {
    this.inlineOff = true;
    Atomics.store(this.control, FAIL_NEXT, 1);
  }

  async close(): Promise<void> {
    Atomics.store(this.control, CLOSING, 1);
    this.wake();
    await this.exited;
    this.poll();
    this.inline?.closeDescriptor();
  }
}

/**
 * The thread's loop (journal-worker.ts): waits for queued groups, writes all of them with one durable writev per
 * segment (SyncJournalAppender), publishes the count on disk. Returns when closing and every queued group is written.
 */
export function runJournalThread(data: JournalThreadData, ready: () => void): void {
  const control = new Int32Array(data.shared, 0, CONTROL_WORDS);
  const slots = new Int32Array(data.shared, CONTROL_WORDS * 4, SLOTS * SLOT_WORDS);
  const times = new Float64Array(data.shared, TIMES_OFFSET, SLOTS * TIME_WORDS);
  const ring = new Uint8Array(data.shared, RING_OFFSET, data.ringBytes);
  // This thread's clock in the gateway's: performance.now() here plus the difference of the two time origins.
  const clockOffsetMs = performance.timeOrigin - data.timeOriginMs;
  const segment = new SharedSegmentState(data.shared, SEGMENT_STATE_OFFSET);
  const appender = SyncJournalAppender.openSegments(data.dir, data.configDigestHex, data.segmentBytes, data.nextSeq);
  segment.lock();
  appender.share(segment);
  segment.unlock();
  ready();
  const frames: Uint8Array[] = [];
  const stamps = new Float64Array(2);
  let written = 0;
  try {
    for (;;) {
      const wake = Atomics.load(control, WAKE);
      const submitted = Atomics.load(control, SUBMITTED);
      if (submitted === written) {
        if (Atomics.load(control, CLOSING) !== 0) break;
        if (Atomics.load(control, TOP_UP) !== 0) {
          // The gateway wrote groups itself (hybrid): the zeros ahead, one slice, then look again.
          Atomics.store(control, TOP_UP, 0);
          topUpShared(segment, appender, true);
          continue;
        }
        Atomics.wait(control, WAKE, wake);
        continue;
      }
      if (Atomics.load(control, HOLD) !== 0) {
        Atomics.wait(control, HOLD, 1, PARK_MS);
        continue;
      }
      if (Atomics.load(control, FAIL_NEXT) !== 0) throw new JournalError("write failed (injected by the test hook failNextWriteForTest)");
      frames.length = 0;
      for (let g = written; g < submitted; g++) {
        const slot = (g % SLOTS) * SLOT_WORDS;
        frames.push(ring.subarray(slots[slot]!, slots[slot]! + slots[slot + 1]!));
      }
      writeShared(segment, appender, frames, clockOffsetMs, stamps);
      // Stamped before DURABLE is published (the gateway reads a group's stamps once it sees it durable).
      for (let g = written; g < submitted; g++) {
        times[(g % SLOTS) * TIME_WORDS] = stamps[0]!;
        times[(g % SLOTS) * TIME_WORDS + 1] = stamps[1]!;
      }
      written = submitted;
      Atomics.store(control, DURABLE, written);
      Atomics.notify(control, DURABLE);
      // The zeros ahead, a slice at a time, after the gateway has its count (SyncJournalAppender.topUp).
      if (appender.wantsTopUp()) topUpShared(segment, appender, Atomics.load(control, SUBMITTED) === written);
    }
  } catch (e) {
    Atomics.store(control, FAILED, 1);
    Atomics.notify(control, DURABLE);
    throw e;
  } finally {
    closeShared(segment, appender);
  }
}

/**
 * The queued groups' writev under the segment's lock; its start and return (the gateway's clock) into `stamps`. The
 * gateway writes a group itself only while none is queued here, so it is not writing now (the lock keeps its writes
 * from this thread's fills ahead, topUpShared); attach() takes up the segment where its last write left it.
 */
function writeShared(segment: SharedSegmentState, appender: SyncJournalAppender, frames: readonly Uint8Array[], clockOffsetMs: number, stamps: Float64Array): void {
  segment.lock();
  try {
    appender.attach();
    stamps[0] = performance.now() + clockOffsetMs;
    appender.appendGroups(frames);
    stamps[1] = performance.now() + clockOffsetMs;
    appender.detach();
  } finally {
    segment.unlock();
  }
}

/** The segment closed, its zeros trimmed where the last write ended, whichever thread made it. */
function closeShared(segment: SharedSegmentState, appender: SyncJournalAppender): void {
  segment.lock();
  try {
    appender.attach();
    appender.close();
  } finally {
    segment.unlock();
  }
}

/** appender.topUp under the segment's lock, from where the last write (this thread's or the gateway's) left it. */
function topUpShared(segment: SharedSegmentState, appender: SyncJournalAppender, idle: boolean): void {
  segment.lock();
  try {
    appender.attach();
    appender.topUp(idle);
    appender.detach();
  } finally {
    segment.unlock();
  }
}
