// The journal written on the gateway thread itself (issue 15, ninth round; `crossbook start --journal-write inline`).
//
// With the journal thread (journal-thread.ts) a group's durable write costs two thread wake-ups beside the disk: the
// thread's futex wake-up when the gateway queues the group, and the gateway's event-loop wake-up when the thread
// says it is on disk (--trace-hops `wake` and `back`; ~0.25 ms together on a quiet machine against a ~0.15 ms disk
// write, and more at load, when each wake-up waits for a core). Here the gateway makes the blocking O_DSYNC writev
// itself at the end of its turn, after it has handed the group to the engine (X4P: the engine runs the group during
// the write): no wake-up on either side, and the group's outputs are released on the same turn, straight after the
// write returns. The price is that the gateway reads no socket while the disk works (a command that arrives
// meanwhile is read on the next turn and goes in the next group — a group commit all the same) and that the segment's
// zero-fill ahead (JOURNAL_PREALLOCATE_SLICE_BYTES, ~1 ms every 256 KiB, after the turn that wrote) stalls the gateway
// instead of the thread.
//
// Durability is exactly the thread's: one writer, groups written in order, one write after the other, with the same
// SyncJournalAppender (same files, same rolling and preallocation), and a group's append resolves only once it is on
// disk — the sequencer releases nothing of a group before that. A failed write rejects that append and every later
// one (the sequencer stops the exchange: fail-stop, as for the thread).
import { JournalError, SyncJournalAppender } from "../engine/journal/index.ts";

/** A group held by the test hook: its frames and who waits for them. */
interface Held {
  readonly frames: Uint8Array;
  resolve: () => void;
  reject: (e: Error) => void;
}

const DONE: Promise<void> = Promise.resolve();

export class InlineJournal {
  /** One group at a time: the next is written once the sequencer has taken this one's completion. */
  readonly appendsInFlightMax = 1;
  /** The last write, begun and returned (performance.now() ms): --trace-hops splits the write hop with it. */
  lastWriteStartMs = 0;
  lastWriteEndMs = 0;
  private failure: Error | null = null;
  private hold = false;
  private failNext = false;
  private closed = false;
  private topUpQueued = false;
  private readonly held: Held[] = [];
  private readonly one: Uint8Array[] = [];

  private constructor(private readonly appender: SyncJournalAppender) {}

  /** Opens the journal's segment directory for appending (the last segment's torn tail already cut by recovery). */
  static openSegments(dir: string, configDigestHex: string, segmentBytes: number, nextSeq: number): InlineJournal {
    return new InlineJournal(SyncJournalAppender.openSegments(dir, configDigestHex, segmentBytes, nextSeq));
  }

  /** Writes the group's frames durably, now, on this thread; the promise is settled when this returns. */
  append(frames: Uint8Array): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.hold || this.held.length > 0) {
      return new Promise<void>((resolve, reject) => this.held.push({ frames, resolve, reject }));
    }
    this.one[0] = frames;
    const e = this.write(this.one);
    return e === null ? DONE : Promise.reject(e);
  }

  /** Writes `groups` in one durable writev; returns the failure (also kept: every later append fails with it). */
  private write(groups: readonly Uint8Array[]): Error | null {
    try {
      if (this.failNext) throw new JournalError("write failed (injected by the test hook failNextWriteForTest)");
      this.lastWriteStartMs = performance.now();
      this.appender.appendGroups(groups);
      this.lastWriteEndMs = performance.now();
      if (!this.topUpQueued && this.appender.wantsTopUp()) {
        this.topUpQueued = true;
        setImmediate(this.topUpLater);
      }
      return null;
    } catch (e) {
      this.failure = e instanceof JournalError ? e : new JournalError(`journal write: ${(e as Error).message}`);
      // As the journal thread does when a write fails: the segment is closed (its zeros ahead cut) and no more is
      // written; recovery cuts whatever torn tail the failed write left.
      this.closeAppender();
      return this.failure;
    }
  }

  private closeAppender(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.appender.close();
    } catch {
      // After a failed write the segment may refuse its trim too; recovery cuts the zeros as a torn tail.
    }
  }

  /**
   * The zeros ahead, one slice (SyncJournalAppender.topUp), after the turn that wrote: the group's outputs are
   * released by then. A fill that fails is a failed write: this append and every later one fail (fail-stop).
   */
  private readonly topUpLater = (): void => {
    this.topUpQueued = false;
    if (this.failure !== null || this.closed) return;
    try {
      this.appender.topUp(true);
    } catch (e) {
      this.failure = new JournalError(`journal zero-fill ahead: ${(e as Error).message}`);
      this.closeAppender();
    }
  };

  /** Nothing to learn asynchronously: every append settles when it returns. */
  poll(): number {
    return 0;
  }

  /**
   * Test hook: `true` keeps the groups appended from now on from being written (their appends pending) until called
   * with `false`, which writes them all in one writev, in order. For tests that check nothing of a group leaves before
   * its write returns.
   */
  holdWritesForTest(hold: boolean): void {
    this.hold = hold;
    if (hold || this.held.length === 0) return;
    const groups = this.held.splice(0);
    const e = this.failure ?? this.write(groups.map((g) => g.frames));
    for (const g of groups) (e === null ? g.resolve() : g.reject(e));
  }

  /** Test hook: the next write fails as a disk error would (every later append fails too). */
  failNextWriteForTest(): void {
    this.failNext = true;
  }

  async close(): Promise<void> {
    this.holdWritesForTest(false);
    if (this.failure !== null || this.closed) return;
    this.closed = true;
    this.appender.close();
  }
}
