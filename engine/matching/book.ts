// The storage of one market's order book: order slots, price levels and both sides' sorted level arrays, in typed arrays.
//
// Layout (structure of arrays, nothing allocated per order):
// - An order is a slot index into the o* arrays. Slots are recycled through a free list threaded through oNext.
// - A price level is a slot index into the l* arrays, holding an intrusive FIFO (lHead/lTail, oPrev/oNext) of its
//   orders, its total open quantity and order count. Levels are recycled through a free list threaded through lHead.
// - Each side indexes its levels by tick in a PriceLadder (ladder.ts): a dense window of ticks around the touch with
//   a bitset for next-best searches, and a sorted overflow for far levels. Finding, adding and removing a level
//   near the touch is O(1).
// - Every resting order is in `ids` (order id → slot), giving O(1) cancel.
// - Orders of one account in this book form a second intrusive list (oAPrev/oANext), owned by the market.
// - Order quantities (open, filled, original), clientIds and level prices are bigint references in plain arrays: reading them
//   allocates nothing (a BigInt64Array read creates a bigint each time), and they are what events carry.
// - Level totals are the exception: every rest, unlink and fill stores a new total (a bigint stored into an array is an
//   allocation), and nothing on the matching path reads one out, so they sit in an int64 column updated in place
//   (V8 lowers int64-range arithmetic between its elements without allocating); a total past int64 is kept exactly
//   beside it (addTotal, levelTotal).
// Storage starts at the configured capacity and doubles in steps up to the limits.

import { grown, IdMap } from "../collections/index.ts";
import { INT64_COLUMN_FAST_LIMIT, INT64_COLUMN_FAST_LIMIT_NEG } from "../model/index.ts";
import { NO_TICK, PriceLadder } from "./ladder.ts";

export const NONE = -1;

/**
 * Level totals and deltas strictly inside ±2^62 take the int64 column's path (INT64_COLUMN_FAST_LIMIT: the store
 * cannot wrap). Anything else (rare: a level of more than 2^62 units) goes through the exact bigint path.
 */
const TOTAL_FAST_LIMIT = INT64_COLUMN_FAST_LIMIT;
const TOTAL_FAST_LIMIT_NEG = INT64_COLUMN_FAST_LIMIT_NEG;
/** lTotal's value for a level whose exact total does not fit an int64 (or is −2^63 itself): it is in lTotalWide. */
const TOTAL_WIDE = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/** Order flag bits kept per resting order (subset of OrderFlag). */
export const RestFlag = { PostOnly: 1, ReduceOnly: 2 } as const;

export class Book {
  // ---- order slots ----
  orderCap: number;
  readonly orderMax: number;
  oId: Float64Array;
  oAccount: Uint32Array;
  /** The order's clientId as it arrived (echoed in its events; 0n = none). */
  oClientId: bigint[];
  /** Open (resting) quantity. */
  oQty: bigint[];
  /** Quantity filled so far. */
  oFilled: bigint[];
  /** Quantity as placed (OrderDone reports original − filled as the unfilled remainder). */
  oOrig: bigint[];
  /** Time priority: a per-book arrival counter, strictly increasing along every level's FIFO. */
  oPrio: Float64Array;
  private prioCounter = 0;
  oPrev: Int32Array;
  oNext: Int32Array;
  oLevel: Int32Array;
  oAPrev: Int32Array;
  oANext: Int32Array;
  /** Index of the owning account's record in the market's account table. */
  oAcct: Int32Array;
  oSide: Uint8Array;
  oStp: Uint8Array;
  oFlags: Uint8Array;
  private freeOrder = NONE;
  private orderHighWater = 0;
  /** Resting orders. */
  orderCount = 0;

  // ---- level slots ----
  levelCap: number;
  lTick: Int32Array;
  /**
   * Level price: references to the immutable bigints the orders arrived with (not a BigInt64Array, whose every read
   * allocates a fresh bigint; the price goes into every event and fill of the level).
   */
  lPrice: bigint[];
  /**
   * Level total open quantity, updated in place (addTotal / subTotal): TOTAL_WIDE where the exact total is past int64
   * (then in lTotalWide). Read it through levelTotal (a read allocates; only market data and snapshots read it).
   */
  lTotal: BigInt64Array;
  /** The exact totals of the levels whose lTotal is TOTAL_WIDE (null until the first). */
  private lTotalWide: Map<number, bigint> | null = null;
  lCount: Int32Array;
  lHead: Int32Array;
  lTail: Int32Array;
  lSide: Uint8Array;
  /** Dirty stamp (market-data delta tracking): the command stamp that last recorded this level. */
  lStamp: Int32Array;
  /** The dirty entry of a level stamped in the current command. */
  lDirty: Int32Array;
  private freeLevel = NONE;
  private levelHighWater = 0;

  // ---- sides: price levels by tick ----
  readonly ladders: [PriceLadder, PriceLadder];
  readonly maxLevelsPerSide: number;

  readonly ids: IdMap;

  // ---- market-data dirty levels of the current command: one entry per (side, tick) touched ----
  trackDirty = false;
  stamp = 1;
  dSide: Uint8Array = new Uint8Array(64);
  dTick: Int32Array = new Int32Array(64);
  /** Publication order key: bids best→worst (−tick), then asks best→worst (2^32 + tick). */
  dKey: Float64Array = new Float64Array(64);
  /** The level's total when the command first touched it (0 for a level the command created), as lTotal holds it:
   * TOTAL_WIDE where that total was past int64 (then in dBeforeWide). Compare through totalChangedSince. */
  dBefore: BigInt64Array = new BigInt64Array(64);
  /** The exact `before` of the entries whose dBefore is TOTAL_WIDE. */
  private dBeforeWide: bigint[] = [];
  /** The level now, NONE once it is gone (so finishing a command needs no ladder lookups). */
  dLvl: Int32Array = new Int32Array(64);
  dPrice: bigint[] = new Array<bigint>(64).fill(0n);
  /** Scratch for finishCommand: indices of the changed entries in publication order. */
  dOrder: Int32Array = new Int32Array(64);
  dCount = 0;

  constructor(initialOrders: number, maxOrders: number, initialLevels: number, maxLevelsPerSide: number, windowBits: number) {
    this.orderMax = maxOrders;
    this.maxLevelsPerSide = maxLevelsPerSide;
    const oc = Math.max(16, Math.min(initialOrders, maxOrders));
    this.orderCap = oc;
    this.oId = new Float64Array(oc);
    this.oAccount = new Uint32Array(oc);
    this.oClientId = new Array<bigint>(oc).fill(0n);
    this.oQty = new Array<bigint>(oc).fill(0n);
    this.oFilled = new Array<bigint>(oc).fill(0n);
    this.oOrig = new Array<bigint>(oc).fill(0n);
    this.oPrio = new Float64Array(oc);
    this.oPrev = new Int32Array(oc);
    this.oNext = new Int32Array(oc);
    this.oLevel = new Int32Array(oc);
    this.oAPrev = new Int32Array(oc);
    this.oANext = new Int32Array(oc);
    this.oAcct = new Int32Array(oc);
    this.oSide = new Uint8Array(oc);
    this.oStp = new Uint8Array(oc);
    this.oFlags = new Uint8Array(oc);
    const lc = Math.max(16, Math.min(initialLevels, maxLevelsPerSide * 2));
    this.levelCap = lc;
    this.lTick = new Int32Array(lc);
    this.lPrice = new Array<bigint>(lc).fill(0n);
    this.lTotal = new BigInt64Array(lc);
    this.lCount = new Int32Array(lc);
    this.lHead = new Int32Array(lc);
    this.lTail = new Int32Array(lc);
    this.lSide = new Uint8Array(lc);
    this.lStamp = new Int32Array(lc);
    this.lDirty = new Int32Array(lc);
    this.ladders = [
      new PriceLadder(0, windowBits, initialLevels, maxLevelsPerSide),
      new PriceLadder(1, windowBits, initialLevels, maxLevelsPerSide),
    ];
    this.ids = new IdMap(oc);
  }

  // ---------------------------------------------------------------- orders

  /** A free order slot, or NONE when the book is at maxOrders. */
  allocOrder(): number {
    const s = this.freeOrder;
    if (s !== NONE) {
      this.freeOrder = this.oNext[s];
      return s;
    }
    if (this.orderHighWater === this.orderCap) {
      if (this.orderCap >= this.orderMax) return NONE;
      this.growOrders();
    }
    return this.orderHighWater++;
  }

  releaseOrder(slot: number): void {
    this.oNext[slot] = this.freeOrder;
    this.freeOrder = slot;
  }

  /** True when an order can be stored without exceeding maxOrders. */
  hasOrderRoom(): boolean {
    return this.orderCount < this.orderMax;
  }

  /** Grows order storage once to hold `orders` (at most orderMax) and indexes them: a restore that knows its count. */
  reserveOrders(orders: number): void {
    const cap = Math.min(orders, this.orderMax);
    if (cap > this.orderCap) this.growOrders(cap);
    this.ids.reserve(cap);
  }

  private growOrders(cap = Math.min(this.orderCap * 2, this.orderMax)): void {
    this.oId = grown(this.oId, cap);
    this.oAccount = grown(this.oAccount, cap);
    this.oClientId = growRefs(this.oClientId, cap);
    this.oQty = growRefs(this.oQty, cap);
    this.oFilled = growRefs(this.oFilled, cap);
    this.oOrig = growRefs(this.oOrig, cap);
    this.oPrio = grown(this.oPrio, cap);
    this.oPrev = grown(this.oPrev, cap);
    this.oNext = grown(this.oNext, cap);
    this.oLevel = grown(this.oLevel, cap);
    this.oAPrev = grown(this.oAPrev, cap);
    this.oANext = grown(this.oANext, cap);
    this.oAcct = grown(this.oAcct, cap);
    this.oSide = grown(this.oSide, cap);
    this.oStp = grown(this.oStp, cap);
    this.oFlags = grown(this.oFlags, cap);
    this.orderCap = cap;
  }

  /**
   * Appends a filled-in order slot (oId, oQty, … set by the caller) to the tail of the level at `tick` on `side`,
   * creating the level if needed. The caller has checked level capacity (canRestAt).
   */
  rest(slot: number, side: number, tick: number, price: bigint): void {
    let lvl = this.ladders[side].get(tick);
    if (lvl === NONE) {
      lvl = this.createLevel(side, tick, price);
    } else if (this.trackDirty) {
      this.markDirty(lvl);
    }
    const tail = this.lTail[lvl];
    this.oPrev[slot] = tail;
    this.oNext[slot] = NONE;
    if (tail === NONE) this.lHead[lvl] = slot;
    else this.oNext[tail] = slot;
    this.lTail[lvl] = slot;
    this.oPrio[slot] = ++this.prioCounter;
    this.lCount[lvl]++;
    this.addTotal(lvl, this.oQty[slot]);
    this.oLevel[slot] = lvl;
    this.oSide[slot] = side;
    this.ids.set(this.oId[slot], slot);
    this.orderCount++;
  }

  /** Removes a resting order from its level (dropping the level when empty) and from the id index; keeps the slot. */
  unlink(slot: number): void {
    const lvl = this.oLevel[slot];
    if (this.trackDirty) this.markDirty(lvl);
    const prev = this.oPrev[slot];
    const next = this.oNext[slot];
    if (prev === NONE) this.lHead[lvl] = next;
    else this.oNext[prev] = next;
    if (next === NONE) this.lTail[lvl] = prev;
    else this.oPrev[next] = prev;
    this.subTotal(lvl, this.oQty[slot]);
    if (--this.lCount[lvl] === 0) this.removeLevel(lvl);
    this.ids.delete(this.oId[slot]);
    this.orderCount--;
  }

  /** Fills q of a resting order: open quantity and level total shrink, filled grows. */
  fill(slot: number, q: bigint): void {
    const lvl = this.oLevel[slot];
    if (this.trackDirty) this.markDirty(lvl);
    this.oQty[slot] -= q;
    this.oFilled[slot] += q;
    this.subTotal(lvl, q);
  }

  /** Sets a resting order's open quantity in place (keeps its FIFO position). */
  setOpenQty(slot: number, q: bigint): void {
    const lvl = this.oLevel[slot];
    if (this.trackDirty) this.markDirty(lvl);
    this.subTotal(lvl, this.oQty[slot]);
    this.addTotal(lvl, q);
    this.oQty[slot] = q;
  }

  /** Re-keys a resting order to a new id (cancel-replace that keeps priority). */
  rekey(slot: number, newId: number): void {
    this.ids.delete(this.oId[slot]);
    this.oId[slot] = newId;
    this.ids.set(newId, slot);
  }

  // ---------------------------------------------------------------- level totals

  /** The exact total open quantity of level lvl. */
  levelTotal(lvl: number): bigint {
    const t = this.lTotal[lvl];
    return t !== TOTAL_WIDE ? t : this.lTotalWide!.get(lvl)!;
  }

  /** Level lvl's total grows by `units` (which may be negative): in place while both are inside ±2^62. */
  private addTotal(lvl: number, units: bigint): void {
    const t = this.lTotal[lvl];
    if (t < TOTAL_FAST_LIMIT && t > TOTAL_FAST_LIMIT_NEG && units < TOTAL_FAST_LIMIT && units > TOTAL_FAST_LIMIT_NEG) this.lTotal[lvl] = t + units;
    else this.setTotal(lvl, this.levelTotal(lvl) + units);
  }

  /** addTotal(lvl, −units) without the negated bigint. */
  private subTotal(lvl: number, units: bigint): void {
    const t = this.lTotal[lvl];
    if (t < TOTAL_FAST_LIMIT && t > TOTAL_FAST_LIMIT_NEG && units < TOTAL_FAST_LIMIT && units > TOTAL_FAST_LIMIT_NEG) this.lTotal[lvl] = t - units;
    else this.setTotal(lvl, this.levelTotal(lvl) - units);
  }

  /** The exact path: `total` in the column when it fits an int64 (and is not the marker), else beside it. */
  private setTotal(lvl: number, total: bigint): void {
    if (total > TOTAL_WIDE && total <= INT64_MAX) {
      this.lTotal[lvl] = total;
      this.lTotalWide?.delete(lvl);
    } else {
      this.lTotal[lvl] = TOTAL_WIDE;
      (this.lTotalWide ??= new Map()).set(lvl, total);
    }
  }

  /** Has the total of dirty entry i's level (lvl, NONE once gone: total 0) changed since the command first touched it? */
  totalChangedSince(i: number, lvl: number): boolean {
    const before = this.dBefore[i];
    if (lvl === NONE) return before === TOTAL_WIDE ? this.dBeforeWide[i] !== 0n : before !== 0n;
    const now = this.lTotal[lvl];
    if (now !== TOTAL_WIDE && before !== TOTAL_WIDE) return now !== before;
    return this.levelTotal(lvl) !== (before === TOTAL_WIDE ? this.dBeforeWide[i] : before);
  }

  // ---------------------------------------------------------------- levels

  bestLevel(side: number): number {
    return this.ladders[side].bestLvl;
  }

  levelCount(side: number): number {
    return this.ladders[side].count;
  }

  levelAt(side: number, tick: number): number {
    return this.ladders[side].get(tick);
  }

  /** Whether an order may rest at tick without exceeding the side's level limit. */
  canRestAt(side: number, tick: number): boolean {
    const ladder = this.ladders[side];
    return ladder.count < this.maxLevelsPerSide || ladder.get(tick) !== NONE;
  }

  private createLevel(side: number, tick: number, price: bigint): number {
    let lvl = this.freeLevel;
    if (lvl !== NONE) {
      this.freeLevel = this.lHead[lvl];
    } else {
      if (this.levelHighWater === this.levelCap) this.growLevels();
      lvl = this.levelHighWater++;
    }
    this.lTick[lvl] = tick;
    this.lPrice[lvl] = price;
    this.lTotal[lvl] = 0n;
    this.lTotalWide?.delete(lvl);
    this.lCount[lvl] = 0;
    this.lHead[lvl] = NONE;
    this.lTail[lvl] = NONE;
    this.lSide[lvl] = side;
    this.lStamp[lvl] = 0;
    this.ladders[side].insert(tick, lvl);
    if (this.trackDirty) this.markNewLevelDirty(lvl, side, tick);
    return lvl;
  }

  private removeLevel(lvl: number): void {
    if (this.trackDirty && this.lStamp[lvl] === this.stamp) {
      this.dLvl[this.lDirty[lvl]] = NONE;
      this.lStamp[lvl] = 0;
    }
    this.ladders[this.lSide[lvl]].remove(this.lTick[lvl]);
    this.lHead[lvl] = this.freeLevel;
    this.freeLevel = lvl;
  }

  private growLevels(): void {
    const cap = this.levelCap * 2;
    this.lTick = grown(this.lTick, cap);
    this.lPrice = growRefs(this.lPrice, cap);
    this.lTotal = grown(this.lTotal, cap);
    this.lCount = grown(this.lCount, cap);
    this.lHead = grown(this.lHead, cap);
    this.lTail = grown(this.lTail, cap);
    this.lSide = grown(this.lSide, cap);
    this.lStamp = grown(this.lStamp, cap);
    this.lDirty = grown(this.lDirty, cap);
    this.levelCap = cap;
  }

  // ---------------------------------------------------------------- market-data dirty tracking

  /** Starts a command: levels touched from now on are recorded once with their total before the change. */
  beginCommand(): void {
    this.dCount = 0;
    this.stamp = (this.stamp + 1) | 0;
    if (this.stamp === 0) {
      this.lStamp.fill(0);
      this.stamp = 1;
    }
  }

  private markDirty(lvl: number): void {
    if (this.lStamp[lvl] === this.stamp) return;
    this.lStamp[lvl] = this.stamp;
    const i = this.pushDirty(lvl);
    const before = this.lTotal[lvl];
    this.dBefore[i] = before;
    if (before === TOTAL_WIDE) this.dBeforeWide[i] = this.lTotalWide!.get(lvl)!;
  }

  private markNewLevelDirty(lvl: number, side: number, tick: number): void {
    this.lStamp[lvl] = this.stamp;
    // A level emptied and recreated within one command was already recorded with its original total.
    for (let i = 0; i < this.dCount; i++) {
      if (this.dTick[i] === tick && this.dSide[i] === side) {
        this.dLvl[i] = lvl;
        this.lDirty[lvl] = i;
        return;
      }
    }
    const i = this.pushDirty(lvl);
    this.dBefore[i] = 0n;
  }

  /** A new entry for level lvl (its `before` is the caller's to set). */
  private pushDirty(lvl: number): number {
    const i = this.dCount;
    if (i === this.dTick.length) this.growDirty(i * 2);
    const side = this.lSide[lvl];
    const tick = this.lTick[lvl];
    this.dSide[i] = side;
    this.dTick[i] = tick;
    this.dKey[i] = side === 0 ? -tick : 4294967296 + tick;
    this.dLvl[i] = lvl;
    this.dPrice[i] = this.lPrice[lvl];
    this.lDirty[lvl] = i;
    this.dCount = i + 1;
    return i;
  }

  private growDirty(cap: number): void {
    this.dSide = grown(this.dSide, cap);
    this.dTick = grown(this.dTick, cap);
    this.dKey = grown(this.dKey, cap);
    this.dBefore = grown(this.dBefore, cap);
    this.dLvl = grown(this.dLvl, cap);
    this.dPrice = growRefs(this.dPrice, cap);
    this.dOrder = grown(this.dOrder, cap);
  }

  // ---------------------------------------------------------------- validation

  /** Throws on any broken structural invariant of the book (levels, FIFOs, index, sort order, X3 uncrossed). */
  validate(label: string): void {
    const fail = (msg: string): never => {
      throw new Error(`${label}: ${msg}`);
    };
    let resting = 0;
    for (let side = 0; side < 2; side++) {
      const ladder = this.ladders[side];
      ladder.validate(label, (l) => this.lTick[l]);
      let levels = 0;
      for (let tick = ladder.bestTick; tick !== NO_TICK; tick = ladder.nextWorse(tick)) {
        const lvl = ladder.get(tick);
        if (++levels > ladder.count) fail(`side ${side} level walk does not end`);
        if (lvl === NONE) fail(`side ${side} walk reached an empty tick ${tick}`);
        if (this.lSide[lvl] !== side) fail(`level ${lvl} side mismatch`);
        if (this.lTick[lvl] !== tick) fail(`level ${lvl} tick mismatch`);
        if (this.lCount[lvl] <= 0) fail(`empty level ${lvl} at tick ${tick}`);
        let count = 0;
        let total = 0n;
        let prev = NONE;
        let lastPrio = -1;
        for (let s = this.lHead[lvl]; s !== NONE; s = this.oNext[s]) {
          if (this.oPrev[s] !== prev) fail(`order slot ${s} prev link broken`);
          if (this.oLevel[s] !== lvl) fail(`order slot ${s} level mismatch`);
          if (this.oSide[s] !== side) fail(`order slot ${s} side mismatch`);
          if (this.oQty[s] <= 0n) fail(`order ${this.oId[s]} has open quantity ${this.oQty[s]}`);
          if (this.oFilled[s] < 0n || this.oFilled[s] + this.oQty[s] > this.oOrig[s]) {
            fail(`order ${this.oId[s]} quantities inconsistent`);
          }
          if (this.ids.get(this.oId[s]) !== s) fail(`order ${this.oId[s]} missing from the id index`);
          if (this.oPrio[s] <= lastPrio) fail(`FIFO broken at order ${this.oId[s]} in level ${lvl}`);
          lastPrio = this.oPrio[s];
          total += this.oQty[s];
          count++;
          prev = s;
          if (count > this.orderCount) fail(`cycle in level ${lvl}`);
        }
        if (this.lTail[lvl] !== prev) fail(`level ${lvl} tail mismatch`);
        if (count !== this.lCount[lvl]) fail(`level ${lvl} count ${this.lCount[lvl]} != ${count}`);
        if (total !== this.levelTotal(lvl)) fail(`level ${lvl} total ${this.levelTotal(lvl)} != sum ${total}`);
        resting += count;
      }
      if (levels !== ladder.count) fail(`side ${side}: walked ${levels} levels, ladder counts ${ladder.count}`);
    }
    if (resting !== this.orderCount) fail(`orderCount ${this.orderCount} != resting ${resting}`);
    if (this.ids.size !== resting) fail(`id index size ${this.ids.size} != resting ${resting}`);
    const bb = this.bestLevel(0);
    const ba = this.bestLevel(1);
    if (bb !== NONE && ba !== NONE && this.lTick[bb] >= this.lTick[ba]) {
      fail(`X3: book crossed, best bid tick ${this.lTick[bb]} >= best ask tick ${this.lTick[ba]}`);
    }
  }
}

function growRefs(a: bigint[], cap: number): bigint[] {
  const b = new Array<bigint>(cap).fill(0n);
  for (let i = 0; i < a.length; i++) b[i] = a[i]!;
  return b;
}
