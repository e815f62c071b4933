// The sequencer: the one place new work enters the engine. It numbers commands, journals them in batches with one
// fsync each (group commit), and only then hands each batch to the engine — so no event, and so no
// acknowledgement, can leave for a command a crash could lose (X4, DESIGN rule 6).
import { BATCH_COMMANDS_MAX, type ThreadedPipeline } from "../engine/pipeline/index.ts";
import { BatchEncoder, type JournalWriter } from "../engine/journal/index.ts";
import { CommandRecord } from "../engine/model/index.ts";

/** Commands accepted but not yet fully processed, at most: beyond it new commands are refused (Overloaded). */
export const INFLIGHT_COMMANDS_MAX = 1 << 16;

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

  /** Group commit: while commands are pending, journal the next batch (one fsync), then hand it to the engine. */
  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const take = this.pending.length <= BATCH_COMMANDS_MAX ? this.pending.length : BATCH_COMMANDS_MAX;
        const batch = this.pending.splice(0, take);
        const batchNumber = this.nextBatch++;
        this.encoder.begin(batchNumber);
        for (let i = 0; i < take; i++) this.encoder.add(batch[i]!);
        await this.journal.append(this.encoder.finish());
        this.batchLastSeq.set(batchNumber, batch[take - 1]!.seq);
        await this.pipeline.submitBatch(batch, take, batchNumber);
        for (let i = 0; i < take; i++) this.pool.push(batch[i]!);
      }
    } catch (e) {
      // A journal that cannot write must stop the exchange: acknowledging without durability would lose data.
      this.failed = e as Error;
      this.onJournalFailure(this.failed);
    } finally {
      this.flushing = null;
    }
  }

  /** Resolves when every command submitted so far is journaled and processed by the engine. */
  async drain(): Promise<void> {
    while (this.flushing !== null) await this.flushing;
    const last = this.nextBatch - 1;
    if (this.batchLastSeq.has(last)) await this.pipeline.waitForBatch(last);
  }
}
