// The sequencer: the one place new work enters the engine. It numbers commands, journals them in batches with one
// fsync each (group commit), and only then hands each batch to the engine — so no event, and so no
// acknowledgement, can leave for a command a crash could lose (X4, DESIGN rule 6).
import { BATCH_COMMANDS_MAX, type ThreadedPipeline } from "../engine/pipeline/index.ts";
import { BatchEncoder, type JournalWriter } from "../engine/journal/index.ts";
import { CommandKind, CommandRecord } from "../engine/model/index.ts";

/**
 * Read-only queries: answered by the engine in sequence (at a sequence point, like any command) but never journaled
 * nor fsynced — they change no state, so a replay without them reaches the same state.
 */
export function isReadOnlyCommand(kind: number): boolean {
  switch (kind) {
    case CommandKind.QueryCollateral:
    case CommandKind.QueryMaxOrder:
    case CommandKind.QueryMaxWithdrawal:
    case CommandKind.QueryPoolStats:
    case CommandKind.QueryRateCurve:
    case CommandKind.QueryInterestHistory:
    case CommandKind.QueryMaxBorrow:
      return true;
    default:
      return false;
  }
}

/** Commands accepted but not yet fully processed, at most: beyond it new commands are refused (Overloaded). */
export const INFLIGHT_COMMANDS_MAX = 1 << 16;

/** Batches journaled under one fsync, at most (group commit): up to 8 × BATCH_COMMANDS_MAX commands per fsync. */
export const JOURNAL_GROUP_BATCHES_MAX = 8;

/** Who sent a command, for routing its events back (opaque to the sequencer). */
export type Origin = object;

export class Sequencer {
  private pending: CommandRecord[] = [];
  private readonly pool: CommandRecord[] = [];
  private readonly encoder = new BatchEncoder();
  private flushing: Promise<void> | null = null;
  private nextSeq: number;
  private nextBatch: number;
  /** Highest sequence number whose batch the engine has finished. */
  private doneSeq: number;
  private readonly batchLastSeq = new Map<number, number>();
  private readonly origins: (Origin | null)[] = new Array<Origin | null>(INFLIGHT_COMMANDS_MAX).fill(null);
  private readonly clientSeqs: bigint[] = new Array<bigint>(INFLIGHT_COMMANDS_MAX).fill(0n);
  private readonly accounts = new Uint32Array(INFLIGHT_COMMANDS_MAX);
  private failed: Error | null = null;
  /** Set while a task runs between two batches (atBatchBoundary): the flush loop hands no batch to the engine. */
  private hold: Promise<void> | null = null;
  /** The flush loop handing a journaled group to the engine. */
  private handing: Promise<void> | null = null;
  /** The last command and batch handed to the engine. */
  private handedSeq: number;
  private handedBatch: number;

  constructor(
    private readonly journal: JournalWriter,
    private readonly pipeline: ThreadedPipeline,
    lastSeq: number,
    lastBatch: number,
    private readonly onJournalFailure: (e: Error) => void,
  ) {
    this.nextSeq = lastSeq + 1;
    this.nextBatch = lastBatch + 1;
    this.doneSeq = lastSeq;
    this.handedSeq = lastSeq;
    this.handedBatch = lastBatch;
  }

  get inflight(): number {
    return this.nextSeq - 1 - this.doneSeq;
  }

  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  /**
   * Numbers and queues one validated command. Returns its sequence number, or 0 when the engine is saturated
   * (the caller rejects with Overloaded; nothing was queued).
   */
  submit(cmd: CommandRecord, origin: Origin | null, clientSeq: bigint): number {
    if (this.failed !== null || this.inflight >= INFLIGHT_COMMANDS_MAX) return 0;
    const seq = this.nextSeq++;
    const slot = this.pool.pop() ?? new CommandRecord();
    slot.copyFrom(cmd);
    slot.seq = seq;
    this.pending.push(slot);
    const i = seq % INFLIGHT_COMMANDS_MAX;
    this.origins[i] = origin;
    this.clientSeqs[i] = clientSeq;
    this.accounts[i] = cmd.account;
    if (this.flushing === null) this.flushing = this.flushLoop();
    return seq;
  }

  /** The session that sent command `seq` while it is in flight (null for timer ticks and after completion). */
  originOf(seq: number): Origin | null {
    return seq > this.doneSeq && seq < this.nextSeq ? this.origins[seq % INFLIGHT_COMMANDS_MAX]! : null;
  }

  /** The account command `seq` acted for (its sender sees that account's events of the command, no other's). */
  accountOf(seq: number): number {
    return seq > this.doneSeq && seq < this.nextSeq ? this.accounts[seq % INFLIGHT_COMMANDS_MAX]! : 0;
  }

  clientSeqOf(seq: number): bigint {
    return seq > this.doneSeq && seq < this.nextSeq ? this.clientSeqs[seq % INFLIGHT_COMMANDS_MAX]! : 0n;
  }

  /** The engine finished batch `batch`: its commands' origins can be forgotten. */
  batchDone(batch: number): void {
    const last = this.batchLastSeq.get(batch);
    if (last === undefined) return;
    this.batchLastSeq.delete(batch);
    for (let s = this.doneSeq + 1; s <= last; s++) this.origins[s % INFLIGHT_COMMANDS_MAX] = null;
    this.doneSeq = last;
  }

  /**
   * Group commit: while commands are pending, cut them into batches of at most BATCH_COMMANDS_MAX, journal up to
   * JOURNAL_GROUP_BATCHES_MAX of them with one write and one fsync, then hand each batch to the engine. A crash during
   * the write may keep a prefix of the group's batches (recovery drops a torn tail); none of them was acknowledged.
   */
  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const groupCommands = Math.min(this.pending.length, BATCH_COMMANDS_MAX * JOURNAL_GROUP_BATCHES_MAX);
        const group = this.pending.splice(0, groupCommands);
        const firstBatch = this.nextBatch;
        const batches = Math.ceil(groupCommands / BATCH_COMMANDS_MAX);
        this.nextBatch += batches;
        const frames = this.encodeGroup(group, firstBatch, batches);
        if (frames.length > 0) await this.journal.append(frames);
        while (this.hold !== null) await this.hold;
        this.handing = this.handGroup(group, firstBatch, batches);
        await this.handing;
        this.handing = null;
        for (let i = 0; i < groupCommands; i++) this.pool.push(group[i]!);
      }
    } catch (e) {
      // A journal that cannot write must stop the exchange: acknowledging without durability would lose data.
      this.failed = e as Error;
      this.onJournalFailure(this.failed);
    } finally {
      this.flushing = null;
    }
  }

  /** Hands a journaled group's batches to the engine, in order. */
  private async handGroup(group: readonly CommandRecord[], firstBatch: number, batches: number): Promise<void> {
    for (let b = 0; b < batches; b++) {
      const from = b * BATCH_COMMANDS_MAX;
      const to = Math.min(group.length, from + BATCH_COMMANDS_MAX);
      this.batchLastSeq.set(firstBatch + b, group[to - 1]!.seq);
      await this.pipeline.submitBatch(batches === 1 ? group : group.slice(from, to), to - from, firstBatch + b);
      this.handedSeq = group[to - 1]!.seq;
      this.handedBatch = firstBatch + b;
    }
  }

  /**
   * Runs `task` at a batch boundary: once the batch being handed to the engine (if any) is handed, no further batch
   * is until the task resolves; commands keep being accepted and journaled meanwhile. The task gets the last
   * sequence number and batch handed over — what a snapshot request written into the rings now comes after.
   */
  async atBatchBoundary<T>(task: (lastSeq: number, lastBatch: number) => Promise<T>): Promise<T> {
    while (this.hold !== null) await this.hold;
    let release!: () => void;
    this.hold = new Promise<void>((resolve) => (release = resolve));
    try {
      while (this.handing !== null) await this.handing;
      return await task(this.handedSeq, this.handedBatch);
    } finally {
      this.hold = null;
      release();
    }
  }

  /**
   * The journal frames of a group's batches (numbered from firstBatch), as one buffer for one write; read-only queries
   * are left out, and so is a batch of queries only (empty when the whole group is queries: nothing to write).
   */
  private encodeGroup(group: readonly CommandRecord[], firstBatch: number, batches: number): Uint8Array {
    const frames: Uint8Array[] = [];
    let bytes = 0;
    for (let b = 0; b < batches; b++) {
      const from = b * BATCH_COMMANDS_MAX;
      const to = Math.min(group.length, from + BATCH_COMMANDS_MAX);
      this.encoder.begin(firstBatch + b);
      for (let i = from; i < to; i++) if (!isReadOnlyCommand(group[i]!.kind)) this.encoder.add(group[i]!);
      if (this.encoder.size === 0) continue;
      const frame = this.encoder.finish();
      // The encoder's buffer is reused by the next begin(): a lone frame is written as it is, several are copied.
      if (batches === 1) return frame;
      frames.push(frame.slice());
      bytes += frame.length;
    }
    const out = new Uint8Array(bytes);
    let at = 0;
    for (const f of frames) {
      out.set(f, at);
      at += f.length;
    }
    return out;
  }

  /** Resolves when every command submitted so far is journaled and processed by the engine. */
  async drain(): Promise<void> {
    while (this.flushing !== null) await this.flushing;
    const last = this.nextBatch - 1;
    if (this.batchLastSeq.has(last)) await this.pipeline.waitForBatch(last);
  }
}

