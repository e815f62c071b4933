// The bounded histories of perpetuals a risk shard keeps (P4, P6/P7; the settlement and funding queries): per account
// its USDC settlement rows (every Settlement event it was sent: reason, waterfall step, amount) and its funding
// payments (rate, mark, position, payment), per perpetual market its funding rates (every risk shard replicates them:
// each applies every FundingRate). Each is a ring of typed columns (the settlement rows: of 32-byte rows, see
// SettlementLog) that grows by doubling up to its named limit
// (engine/model/limits.ts) and then drops its oldest entry: a fill or a funding payment appends without allocating
// once the ring has grown. They are engine state: in the shard's snapshot section (snapshot.ts, shard-snapshot.ts)
// and its state hash (invariants.ts), so a replay and every pipeline layout answer the same queries.
import { ALL_MARKETS, type SnapshotReader, type SnapshotWriter } from "../model/index.ts";

/** First capacity of a ring (then ×2 up to its limit). */
const RING_INITIAL = 8;

/** The slot arithmetic of a ring of columns: entry i (oldest first) is at slot (head + i) mod capacity. */
abstract class ColumnRing {
  head = 0;
  length = 0;
  capacity = 0;

  constructor(readonly max: number) {}

  /** Reallocates every column to `capacity` slots, keeping slots 0…length−1 (head is 0 while growing). */
  protected abstract grow(capacity: number): void;

  /** The slot of a new entry: the next free one (growing first if need be), or the oldest once the ring is full. */
  protected nextSlot(): number {
    if (this.length === this.max) {
      const slot = this.head;
      this.head = slot + 1 === this.max ? 0 : slot + 1;
      return slot;
    }
    if (this.length === this.capacity) {
      const next = this.capacity === 0 ? RING_INITIAL : this.capacity * 2;
      this.capacity = next < this.max ? next : this.max;
      this.grow(this.capacity);
    }
    return this.length++;
  }

  /** The slot of entry i, oldest first (0 ≤ i < length). */
  slotOf(i: number): number {
    const j = this.head + i;
    return j < this.capacity ? j : j - this.capacity;
  }
}

/** Every ring's columns before its first entry (read only by the first grow). */
const NO_F64 = new Float64Array(0);
const NO_I32 = new Int32Array(0);
const NO_I64 = new BigInt64Array(0);

/**
 * The columns of a ring grown to `n` slots, all views of ONE new ArrayBuffer (8-byte columns first, then 4-byte ones),
 * each holding the old column's slots: a column per typed array with its own buffer cost ~250 bytes of V8 heap each
 * (view, ArrayBuffer, and below 64 bytes the elements too) — ~1.2 kB per account's settlement log, the largest part
 * of an account's heap after its margin state (perp.realize-100k's heap snapshot; a scavenge walks every old page).
 * A buffer is never on V8's pages.
 */
class ColumnBuffer {
  private readonly buffer: ArrayBuffer;
  private offset = 0;

  constructor(n: number, wideColumns: number, narrowColumns: number) {
    this.buffer = new ArrayBuffer(n * (8 * wideColumns + 4 * narrowColumns));
  }

  f64(old: Float64Array<ArrayBuffer>, n: number): Float64Array<ArrayBuffer> {
    const a = new Float64Array(this.buffer, this.offset, n);
    this.offset += 8 * n;
    a.set(old);
    return a;
  }

  i64(old: BigInt64Array<ArrayBuffer>, n: number): BigInt64Array<ArrayBuffer> {
    const a = new BigInt64Array(this.buffer, this.offset, n);
    this.offset += 8 * n;
    a.set(old);
    return a;
  }

  i32(old: Int32Array<ArrayBuffer>, n: number): Int32Array<ArrayBuffer> {
    const a = new Int32Array(this.buffer, this.offset, n);
    this.offset += 4 * n;
    a.set(old);
    return a;
  }
}

/** Bytes of one settlement row (SettlementLog): timeMs (f64), amount (i64), market, asset, reasonStep (i32 each), 4 free. */
const SETTLEMENT_ROW_BYTES = 32;
const SETTLEMENT_ROW_AMOUNT = 8;
const SETTLEMENT_ROW_MARKET = 16;
const SETTLEMENT_ROW_ASSET = 20;
const SETTLEMENT_ROW_REASON_STEP = 24;
/** A ring's rows before its first entry (read only by the first grow). */
const NO_ROWS = new DataView(new ArrayBuffer(0));

/**
 * P6/P7: an account's settlement rows, as its Settlement events carried them (amount > 0, asset units). Row-major,
 * unlike the column rings: a perpetual fill appends a row to each side's log, and each log is touched a few times a
 * batch among many — one row is one 32-byte piece of one buffer read through one view, where five columns touched five
 * typed arrays and five places of the buffer, each a cache miss under a large state (pipeline.perp-order, issue 12
 * fourth round: ~0.6 µs an append, an eighth of the perpetual fill).
 */
export class SettlementLog extends ColumnRing {
  private rows: DataView = NO_ROWS;

  protected grow(n: number): void {
    const buffer = new ArrayBuffer(n * SETTLEMENT_ROW_BYTES);
    new Uint8Array(buffer).set(new Uint8Array(this.rows.buffer, 0, this.length * SETTLEMENT_ROW_BYTES));
    this.rows = new DataView(buffer);
  }

  add(timeMs: number, market: number, asset: number, reason: number, step: number, amount: bigint): void {
    const o = this.nextSlot() * SETTLEMENT_ROW_BYTES;
    const v = this.rows;
    v.setFloat64(o, timeMs, true);
    v.setBigInt64(o + SETTLEMENT_ROW_AMOUNT, amount, true);
    v.setInt32(o + SETTLEMENT_ROW_MARKET, market, true);
    v.setInt32(o + SETTLEMENT_ROW_ASSET, asset, true);
    v.setInt32(o + SETTLEMENT_ROW_REASON_STEP, reason * 256 + step, true);
  }

  /** The row in slot i (slotOf): its time, market, asset, SettlementReason × 256 + SettlementStep, amount. */
  timeAt(i: number): number {
    return this.rows.getFloat64(i * SETTLEMENT_ROW_BYTES, true);
  }

  marketAt(i: number): number {
    return this.rows.getInt32(i * SETTLEMENT_ROW_BYTES + SETTLEMENT_ROW_MARKET, true);
  }

  assetAt(i: number): number {
    return this.rows.getInt32(i * SETTLEMENT_ROW_BYTES + SETTLEMENT_ROW_ASSET, true);
  }

  reasonStepAt(i: number): number {
    return this.rows.getInt32(i * SETTLEMENT_ROW_BYTES + SETTLEMENT_ROW_REASON_STEP, true);
  }

  amountAt(i: number): bigint {
    return this.rows.getBigInt64(i * SETTLEMENT_ROW_BYTES + SETTLEMENT_ROW_AMOUNT, true);
  }

  write(w: SnapshotWriter): void {
    w.uint(this.length);
    for (let k = 0; k < this.length; k++) {
      const i = this.slotOf(k);
      w.int(this.timeAt(i));
      w.uint(this.marketAt(i));
      w.uint(this.assetAt(i));
      w.uint(this.reasonStepAt(i));
      w.big(this.amountAt(i));
    }
  }

  restore(r: SnapshotReader, markets: number, assets: number): void {
    const n = r.count(this.max, "settlement history rows");
    for (let k = 0; k < n; k++) {
      const time = r.int();
      const market = r.uint();
      const asset = r.uint();
      const reasonStep = r.uint();
      const amount = r.big();
      // ALL_MARKETS: a row of no market (Q3/Q4's insurance cover, liquidation-transfers.ts payPendingCover).
      if ((market >= markets && market !== ALL_MARKETS) || asset >= assets || amount <= 0n) r.fail(`settlement row ${k}: market ${market}, asset ${asset}, amount ${amount}`);
      this.add(time, market, asset, reasonStep >> 8, reasonStep & 255, amount);
    }
  }

  hashText(): string {
    let t = "";
    for (let k = 0; k < this.length; k++) {
      const i = this.slotOf(k);
      t += `${this.timeAt(i)}/${this.marketAt(i)}/${this.assetAt(i)}/${this.reasonStepAt(i)}/${this.amountAt(i)} `;
    }
    return t;
  }
}

/** P4: an account's funding payments: payment > 0 paid, < 0 received (quote units), at the interval end's rate and mark. */
export class FundingLog extends ColumnRing {
  timeMs: Float64Array<ArrayBuffer> = NO_F64;
  market: Int32Array<ArrayBuffer> = NO_I32;
  /** The position funded, signed base units. */
  quantity: BigInt64Array<ArrayBuffer> = NO_I64;
  rate: BigInt64Array<ArrayBuffer> = NO_I64;
  mark: BigInt64Array<ArrayBuffer> = NO_I64;
  payment: BigInt64Array<ArrayBuffer> = NO_I64;

  protected grow(n: number): void {
    const c = new ColumnBuffer(n, 5, 1);
    this.timeMs = c.f64(this.timeMs, n);
    this.quantity = c.i64(this.quantity, n);
    this.rate = c.i64(this.rate, n);
    this.mark = c.i64(this.mark, n);
    this.payment = c.i64(this.payment, n);
    this.market = c.i32(this.market, n);
  }

  add(timeMs: number, market: number, quantity: bigint, rate: bigint, mark: bigint, payment: bigint): void {
    const i = this.nextSlot();
    this.timeMs[i] = timeMs;
    this.market[i] = market;
    this.quantity[i] = quantity;
    this.rate[i] = rate;
    this.mark[i] = mark;
    this.payment[i] = payment;
  }

  write(w: SnapshotWriter): void {
    w.uint(this.length);
    for (let k = 0; k < this.length; k++) {
      const i = this.slotOf(k);
      w.int(this.timeMs[i]!);
      w.uint(this.market[i]!);
      w.big(this.quantity[i]!);
      w.big(this.rate[i]!);
      w.big(this.mark[i]!);
      w.big(this.payment[i]!);
    }
  }

  restore(r: SnapshotReader, markets: number): void {
    const n = r.count(this.max, "funding history entries");
    for (let k = 0; k < n; k++) {
      const time = r.int();
      const market = r.uint();
      if (market >= markets) r.fail(`funding entry ${k}: market ${market}`);
      this.add(time, market, r.big(), r.big(), r.big(), r.big());
    }
  }

  hashText(): string {
    let t = "";
    for (let k = 0; k < this.length; k++) {
      const i = this.slotOf(k);
      t += `${this.timeMs[i]}/${this.market[i]}/${this.quantity[i]}/${this.rate[i]}/${this.mark[i]}/${this.payment[i]} `;
    }
    return t;
  }
}

/** P4: one perpetual market's funding rates, as its FundingRate events carried them (timeMs = the interval end). */
export class FundingRateLog extends ColumnRing {
  timeMs: Float64Array<ArrayBuffer> = NO_F64;
  samples: Int32Array<ArrayBuffer> = NO_I32;
  rate: BigInt64Array<ArrayBuffer> = NO_I64;
  meanPremium: BigInt64Array<ArrayBuffer> = NO_I64;
  mark: BigInt64Array<ArrayBuffer> = NO_I64;

  protected grow(n: number): void {
    const c = new ColumnBuffer(n, 4, 1);
    this.timeMs = c.f64(this.timeMs, n);
    this.rate = c.i64(this.rate, n);
    this.meanPremium = c.i64(this.meanPremium, n);
    this.mark = c.i64(this.mark, n);
    this.samples = c.i32(this.samples, n);
  }

  add(timeMs: number, rate: bigint, meanPremium: bigint, samples: number, mark: bigint): void {
    const i = this.nextSlot();
    this.timeMs[i] = timeMs;
    this.rate[i] = rate;
    this.meanPremium[i] = meanPremium;
    this.samples[i] = samples;
    this.mark[i] = mark;
  }

  write(w: SnapshotWriter): void {
    w.uint(this.length);
    for (let k = 0; k < this.length; k++) {
      const i = this.slotOf(k);
      w.int(this.timeMs[i]!);
      w.big(this.rate[i]!);
      w.big(this.meanPremium[i]!);
      w.uint(this.samples[i]!);
      w.big(this.mark[i]!);
    }
  }

  restore(r: SnapshotReader): void {
    const n = r.count(this.max, "funding rate history entries");
    for (let k = 0; k < n; k++) this.add(r.int(), r.big(), r.big(), r.uint(), r.big());
  }

  hashText(): string {
    let t = "";
    for (let k = 0; k < this.length; k++) {
      const i = this.slotOf(k);
      t += `${this.timeMs[i]}/${this.rate[i]}/${this.meanPremium[i]}/${this.samples[i]}/${this.mark[i]} `;
    }
    return t;
  }
}
