// Batched producer/consumer cursors over a ring, as the pipeline's stages use them: publish and release are
// amortised over many records, and every wait parks (spin-then-park) instead of spinning on this 2-core box.
import type { EventRecord, EventSink } from "../model/index.ts";
import { RingBuffer, waitForData, waitForDataAsync, waitForSpace, waitForSpaceAsync, type WaitStrategy } from "../ring/index.ts";
import { writeEvent, type RecordViews } from "../model/index.ts";

/** Slots claimed at once by a writer: one publish (one atomic store) per this many records at most. */
export const WRITE_CLAIM_BATCH = 256;
/**
 * The claim of a stage's event writer to the gateway (the fused engine worker's out ring): a publish that finds the
 * gateway thread parked pays a futex wake, and at 256 records about half of the publishes of
 * pipeline.excore-mix.max did (6,378 of 14,005 at load ~9). A batch's end publishes whatever was written, so a
 * small batch (the open loop) waits for nothing more.
 */
export const EVENT_WRITE_CLAIM_BATCH = 1024;

/**
 * Whether a writer's publishes in the middle of a batch (a claim used up) wake a parked consumer. The fused engine
 * worker's event writer says no (QuietWhileBelowHalf): a parked gateway thread is woken by the batch's end (flush),
 * or mid-batch once the ring is past half full (it must drain then). On this 2-vCPU VM under load a futex wake held
 * the engine thread ~0.1 ms (6.3% of its time in pipeline.excore-mix.max at load ~9, ~6,400 wakes per run); a gateway
 * that polls sees the mid-batch records anyway (the sequence store is there, only the notify is skipped). At most one
 * wake per batch is left; under heavy load each of those still costs the engine its share (10% in a load-12 profile).
 */
export const MidBatchWake = {
  Always: 0,
  QuietWhileBelowHalf: 1,
} as const;
export type MidBatchWake = (typeof MidBatchWake)[keyof typeof MidBatchWake];
/** How long one park lasts before a loop re-checks for shutdown. */
export const PARK_MS = 20;

export class RingWriter {
  private claimed = 0;
  private used = 0;

  constructor(
    readonly ring: RingBuffer,
    private readonly wait: WaitStrategy,
    /** Slots claimed at once (one publish per this many records at most). */
    private readonly claimBatch = WRITE_CLAIM_BATCH,
    private readonly midBatchWake: MidBatchWake = MidBatchWake.Always,
  ) {}

  /** Byte offset of the next slot to fill, or -1 when the ring is full right now. */
  trySlot(): number {
    if (this.used === this.claimed) {
      this.publishClaim();
      const n = this.ring.tryClaim(this.claimBatch);
      if (n === 0) return -1;
      this.claimed = n;
    }
    return this.ring.slotOffset(this.used++);
  }

  /** Byte offset of the next slot, parking this thread until there is space (worker threads only). */
  slot(): number {
    let offset = this.trySlot();
    while (offset < 0) {
      if (this.ring.isClosed()) throw new Error("ring closed while writing");
      waitForSpace(this.ring, this.wait, PARK_MS);
      offset = this.trySlot();
    }
    return offset;
  }

  /** Like slot(), for the main thread: never blocks its event loop. */
  async slotAsync(): Promise<number> {
    let offset = this.trySlot();
    while (offset < 0) {
      if (this.ring.isClosed()) throw new Error("ring closed while writing");
      await waitForSpaceAsync(this.ring, this.wait, PARK_MS);
      offset = this.trySlot();
    }
    return offset;
  }

  /** Publishes what was written since the last flush (and wakes a parked consumer). */
  flush(): void {
    if (this.claimed > 0) {
      this.ring.publish(this.used);
      this.claimed = 0;
      this.used = 0;
    }
  }

  /** A used-up claim's publish: like flush, but under QuietWhileBelowHalf it wakes no one while the ring is below half. */
  private publishClaim(): void {
    if (this.claimed === 0) return;
    const ring = this.ring;
    const wake = this.midBatchWake === MidBatchWake.Always || ring.freeSlots() - this.used < ring.capacity >> 1;
    ring.publish(this.used, wake);
    this.claimed = 0;
    this.used = 0;
  }
}

export class RingReader {
  private available = 0;
  private index = 0;

  constructor(
    readonly ring: RingBuffer,
    private readonly wait: WaitStrategy,
  ) {}

  /** Byte offset of the next unread record, or -1 when there is none right now. */
  peek(): number {
    if (this.index === this.available) {
      this.releaseRead();
      this.available = this.ring.available();
      if (this.available === 0) return -1;
    }
    return this.ring.readOffset(this.index);
  }

  advance(): void {
    this.index++;
  }

  /** Records published and not read yet (read ones count until released). */
  unread(): number {
    return this.ring.available() - this.index;
  }

  /** Hands the slots read so far back to the producer. */
  releaseRead(): void {
    if (this.index > 0) {
      this.ring.release(this.index);
      this.index = 0;
      this.available = 0;
    }
  }

  /** Parks this thread until a record arrives or `timeoutMs` passes (worker threads only). */
  waitData(timeoutMs: number): boolean {
    this.releaseRead();
    return waitForData(this.ring, this.wait, timeoutMs);
  }

  waitDataAsync(timeoutMs: number): Promise<boolean> {
    this.releaseRead();
    return waitForDataAsync(this.ring, this.wait, timeoutMs);
  }
}

/** An EventSink that writes every event into the writer's ring (a worker thread: parks while the ring is full). It
 * reads a Balance's units from the record's column (EventSink.unitColumns). */
export function ringEventSink(w: RingWriter): EventSink {
  return {
    publish(e: EventRecord): void {
      writeEvent(w.ring, w.slot(), e);
    },
    unitColumns: true,
  };
}

/**
 * Copies one record of the writer's ring size from byte `from` of `source` into the writer's next slot, word by word
 * (no view allocated). False, with nothing written, when the ring is full right now.
 */
export function tryCopyRecord(w: RingWriter, source: RecordViews, from: number): boolean {
  const offset = w.trySlot();
  if (offset < 0) return false;
  const dst = w.ring.i32;
  const src = source.i32;
  const d = offset >> 2;
  const s = from >> 2;
  const words = w.ring.recordBytes >> 2;
  for (let i = 0; i < words; i++) dst[d + i] = src[s + i]!;
  return true;
}
