// One side of a book's price levels, indexed by integer tick: a dense ladder around the touch plus a sorted overflow.
//
// The ladder is a window of 2^windowBits ticks [base, base + size): `slot[tick − base]` is the level there, and a
// three-level bitset (32-bit words: l0 bit per tick, l1 bit per l0 word, l2 bit per l1 word) finds the next occupied
// tick in a few word operations. So inside the window, finding, adding and removing a level is O(1) and finding the
// next best level after the best one empties is a handful of Math.clz32 calls — no search, no shifting.
// Levels outside the window (far from the touch) live in a sorted array (binary search + copyWithin), keyed so that
// it is ascending with the best level at the end: key = tick for bids, −tick for asks. When the overflow holds more
// levels than the window (the market moved away), the window is re-centred on the best level and rebuilt.
// "Better" means a higher tick for bids (side 0) and a lower tick for asks (side 1).

export const NO_TICK = -1;
const NONE = -1;

/** Index of the lowest set bit of a non-zero int32. */
function ctz(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Index of the highest set bit of a non-zero int32. */
function msb(x: number): number {
  return 31 - Math.clz32(x);
}

export class PriceLadder {
  readonly side: number;
  /** Levels on this side (window + overflow). */
  count = 0;
  /** Best level (NONE when empty) and its tick. */
  bestLvl = NONE;
  bestTick = NO_TICK;

  private readonly size: number;
  private base = 0;
  private centered = false;
  private readonly slot: Int32Array;
  private readonly l0: Int32Array;
  private readonly l1: Int32Array;
  private readonly l2: Int32Array;
  private wCount = 0;
  /** Best tick inside the window (NO_TICK when the window is empty). */
  private wBest = NO_TICK;

  private oKeys: Int32Array;
  private oLvls: Int32Array;
  private oN = 0;
  private readonly maxLevels: number;

  constructor(side: number, windowBits: number, initialOverflow: number, maxLevels: number) {
    if (windowBits < 5 || windowBits > 24) throw new Error(`PriceLadder: windowBits ${windowBits} outside 5..24`);
    this.side = side;
    this.size = 1 << windowBits;
    this.slot = new Int32Array(this.size).fill(NONE);
    this.l0 = new Int32Array(this.size >> 5);
    this.l1 = new Int32Array(Math.max(1, this.size >> 10));
    this.l2 = new Int32Array(Math.max(1, this.size >> 15));
    const oc = Math.max(16, Math.min(initialOverflow, maxLevels));
    this.oKeys = new Int32Array(oc);
    this.oLvls = new Int32Array(oc);
    this.maxLevels = maxLevels;
  }

  /** a is a better price than b on this side. */
  private better(a: number, b: number): boolean {
    return this.side === 0 ? a > b : a < b;
  }

  /** The level at tick, or NONE. */
  get(tick: number): number {
    const i = tick - this.base;
    if (i >= 0 && i < this.size) return this.slot[i];
    const j = this.oSearch(this.side === 0 ? tick : -tick);
    return j >= 0 ? this.oLvls[j] : NONE;
  }

  /** Adds level lvl at tick (not present). */
  insert(tick: number, lvl: number): void {
    if (!this.centered) this.center(tick);
    const i = tick - this.base;
    if (i >= 0 && i < this.size) {
      this.slot[i] = lvl;
      this.setBit(i);
      this.wCount++;
      if (this.wBest === NO_TICK || this.better(tick, this.wBest)) this.wBest = tick;
    } else {
      this.oInsert(tick, lvl);
    }
    this.count++;
    if (this.bestTick === NO_TICK || this.better(tick, this.bestTick)) {
      this.bestTick = tick;
      this.bestLvl = lvl;
    }
    this.maybeRecenter();
  }

  /** Removes the level at tick (present). */
  remove(tick: number): void {
    const i = tick - this.base;
    if (i >= 0 && i < this.size) {
      this.slot[i] = NONE;
      this.clearBit(i);
      this.wCount--;
      if (tick === this.wBest) {
        const j = this.side === 0 ? this.down(i - 1) : this.up(i + 1);
        this.wBest = j < 0 ? NO_TICK : j + this.base;
      }
    } else {
      this.oRemove(tick);
    }
    this.count--;
    if (this.count === 0) {
      this.centered = false;
      this.bestTick = NO_TICK;
      this.bestLvl = NONE;
    } else if (tick === this.bestTick) {
      this.refreshBest();
      this.maybeRecenter();
    }
  }

  /**
   * The touch is outside the window while a fair number of levels live in the overflow: the market moved (or the
   * window was placed by an early outlier); re-centre on the touch. Right after re-centring the touch is inside,
   * so this cannot repeat until the best price moves a window's length again.
   */
  private maybeRecenter(): void {
    const b = this.bestTick - this.base;
    if ((b < 0 || b >= this.size) && this.oN > 32) this.recenter();
  }

  /** The next worse occupied tick after `tick` (which need not be occupied), or NO_TICK. */
  nextWorse(tick: number): number {
    let w = NO_TICK;
    if (this.wCount > 0) {
      const i = tick - this.base;
      const j = this.side === 0 ? this.down(Math.min(i - 1, this.size - 1)) : this.up(Math.max(i + 1, 0));
      if (j >= 0) w = j + this.base;
    }
    let o = NO_TICK;
    if (this.oN > 0) {
      // Largest key below tick's key.
      const key = this.side === 0 ? tick : -tick;
      const s = this.oSearch(key);
      const pos = (s >= 0 ? s : -s - 1) - 1;
      if (pos >= 0) o = this.side === 0 ? this.oKeys[pos] : -this.oKeys[pos];
    }
    if (w === NO_TICK) return o;
    if (o === NO_TICK) return w;
    return this.better(w, o) ? w : o;
  }

  private refreshBest(): void {
    let t = this.wBest;
    if (this.oN > 0) {
      const k = this.oKeys[this.oN - 1];
      const o = this.side === 0 ? k : -k;
      if (t === NO_TICK || this.better(o, t)) {
        this.bestTick = o;
        this.bestLvl = this.oLvls[this.oN - 1];
        return;
      }
    }
    this.bestTick = t;
    this.bestLvl = t === NO_TICK ? NONE : this.slot[t - this.base];
  }

  // ---------------------------------------------------------------- window placement

  /** Places the window so that `tick` (the best level) sits near the better edge, leaving room behind it. */
  private center(tick: number): void {
    const ahead = this.size >> 3;
    this.base = this.side === 0 ? tick + ahead - this.size + 1 : tick - ahead;
    this.centered = true;
  }

  /** Rebuilds the window around the current best level (the market moved away from it). */
  private recenter(): void {
    const ticks: number[] = [];
    const lvls: number[] = [];
    for (let t = this.bestTick; t !== NO_TICK; t = this.nextWorse(t)) {
      ticks.push(t);
      lvls.push(this.get(t));
    }
    this.slot.fill(NONE);
    this.l0.fill(0);
    this.l1.fill(0);
    this.l2.fill(0);
    this.wCount = 0;
    this.wBest = NO_TICK;
    this.oN = 0;
    this.count = 0;
    this.bestTick = NO_TICK;
    this.bestLvl = NONE;
    this.center(ticks[0]!);
    // Re-insert best first; insert() would recurse into recenter only if the overflow still dominated, which it
    // cannot right after centring on the best level with the window covering the levels nearest to it.
    for (let k = 0; k < ticks.length; k++) {
      const tick = ticks[k]!;
      const i = tick - this.base;
      if (i >= 0 && i < this.size) {
        this.slot[i] = lvls[k]!;
        this.setBit(i);
        this.wCount++;
        if (this.wBest === NO_TICK || this.better(tick, this.wBest)) this.wBest = tick;
      } else {
        this.oInsert(tick, lvls[k]!);
      }
      this.count++;
    }
    this.refreshBest();
  }

  // ---------------------------------------------------------------- bitset

  private setBit(i: number): void {
    const w0 = i >> 5;
    this.l0[w0] |= 1 << (i & 31);
    const w1 = i >> 10;
    this.l1[w1] |= 1 << (w0 & 31);
    this.l2[i >> 15] |= 1 << (w1 & 31);
  }

  private clearBit(i: number): void {
    const w0 = i >> 5;
    if ((this.l0[w0] &= ~(1 << (i & 31))) !== 0) return;
    const w1 = i >> 10;
    if ((this.l1[w1] &= ~(1 << (w0 & 31))) !== 0) return;
    this.l2[i >> 15] &= ~(1 << (w1 & 31));
  }

  /** Lowest set window index ≥ i, or −1. */
  private up(i: number): number {
    if (i >= this.size) return -1;
    if (i < 0) i = 0;
    const l0 = this.l0;
    const l1 = this.l1;
    const l2 = this.l2;
    const w0 = i >> 5;
    let m = l0[w0] & (-1 << (i & 31));
    if (m !== 0) return (w0 << 5) + ctz(m);
    const j = w0 + 1; // next l0 word
    if (j < l0.length) {
      const w1 = j >> 5;
      m = l1[w1] & (-1 << (j & 31));
      if (m !== 0) {
        const k0 = (w1 << 5) + ctz(m);
        return (k0 << 5) + ctz(l0[k0]);
      }
      for (let jj = w1 + 1; jj < l1.length; ) {
        const w2 = jj >> 5;
        m = l2[w2] & (-1 << (jj & 31));
        if (m !== 0) {
          const k1 = (w2 << 5) + ctz(m);
          const k0 = (k1 << 5) + ctz(l1[k1]);
          return (k0 << 5) + ctz(l0[k0]);
        }
        jj = (w2 + 1) << 5;
      }
    }
    return -1;
  }

  /** Highest set window index ≤ i, or −1. */
  private down(i: number): number {
    if (i < 0) return -1;
    if (i >= this.size) i = this.size - 1;
    const l0 = this.l0;
    const l1 = this.l1;
    const l2 = this.l2;
    const w0 = i >> 5;
    let m = l0[w0] & (0xffffffff >>> (31 - (i & 31)));
    if (m !== 0) return (w0 << 5) + msb(m);
    const j = w0 - 1;
    if (j >= 0) {
      const w1 = j >> 5;
      m = l1[w1] & (0xffffffff >>> (31 - (j & 31)));
      if (m !== 0) {
        const k0 = (w1 << 5) + msb(m);
        return (k0 << 5) + msb(l0[k0]);
      }
      for (let jj = w1 - 1; jj >= 0; ) {
        const w2 = jj >> 5;
        m = l2[w2] & (0xffffffff >>> (31 - (jj & 31)));
        if (m !== 0) {
          const k1 = (w2 << 5) + msb(m);
          const k0 = (k1 << 5) + msb(l1[k1]);
          return (k0 << 5) + msb(l0[k0]);
        }
        jj = (w2 << 5) - 1;
      }
    }
    return -1;
  }

  // ---------------------------------------------------------------- overflow (sorted by key, best at the end)

  /** Index of key, or −(insertion point) − 1. */
  private oSearch(key: number): number {
    const keys = this.oKeys;
    let lo = 0;
    let hi = this.oN - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const k = keys[mid];
      if (k < key) lo = mid + 1;
      else if (k > key) hi = mid - 1;
      else return mid;
    }
    return -lo - 1;
  }

  private oInsert(tick: number, lvl: number): void {
    const key = this.side === 0 ? tick : -tick;
    const pos = -this.oSearch(key) - 1;
    const n = this.oN;
    if (n === this.oKeys.length) {
      const cap = Math.min(n * 2, Math.max(this.maxLevels, 16));
      const k = new Int32Array(cap);
      k.set(this.oKeys);
      this.oKeys = k;
      const l = new Int32Array(cap);
      l.set(this.oLvls);
      this.oLvls = l;
    }
    if (pos < n) {
      this.oKeys.copyWithin(pos + 1, pos, n);
      this.oLvls.copyWithin(pos + 1, pos, n);
    }
    this.oKeys[pos] = key;
    this.oLvls[pos] = lvl;
    this.oN = n + 1;
  }

  private oRemove(tick: number): void {
    const i = this.oSearch(this.side === 0 ? tick : -tick);
    const n = this.oN;
    if (i < n - 1) {
      this.oKeys.copyWithin(i, i + 1, n);
      this.oLvls.copyWithin(i, i + 1, n);
    }
    this.oN = n - 1;
  }

  // ---------------------------------------------------------------- validation

  /** Throws if the ladder's structures disagree (bits vs slots, window vs overflow ranges, order, best, counts). */
  validate(label: string, tickOf: (lvl: number) => number): void {
    const fail = (m: string): never => {
      throw new Error(`${label} ladder ${this.side}: ${m}`);
    };
    let w = 0;
    let wBest = NO_TICK;
    for (let i = this.up(0); i >= 0; i = this.up(i + 1)) {
      if (this.slot[i] === NONE) fail(`bit set for empty window index ${i}`);
      w++;
      const tick = i + this.base;
      if (tickOf(this.slot[i]) !== tick) fail(`level at tick ${tick} has tick ${tickOf(this.slot[i])}`);
      if (wBest === NO_TICK || this.better(tick, wBest)) wBest = tick;
    }
    // Stray slots (slot set, bit clear): a full scan, affordable for test-sized windows only.
    if (this.size <= 4096) {
      let slots = 0;
      for (let i = 0; i < this.size; i++) if (this.slot[i] !== NONE) slots++;
      if (slots !== w) fail(`${slots} occupied slots but ${w} bits`);
    }
    for (let k = 0; k < this.l0.length; k++) {
      const bit = (this.l1[k >> 5] >>> (k & 31)) & 1;
      if ((bit === 1) !== (this.l0[k] !== 0)) fail(`l1 summary wrong for l0 word ${k}`);
    }
    for (let k = 0; k < this.l1.length; k++) {
      const bit = (this.l2[k >> 5] >>> (k & 31)) & 1;
      if ((bit === 1) !== (this.l1[k] !== 0)) fail(`l2 summary wrong for l1 word ${k}`);
    }
    if (w !== this.wCount) fail(`window count ${this.wCount} != ${w}`);
    if (wBest !== this.wBest) fail(`window best ${this.wBest} != ${wBest}`);
    for (let k = 0; k < this.oN; k++) {
      if (k > 0 && this.oKeys[k - 1] >= this.oKeys[k]) fail(`overflow not strictly ascending at ${k}`);
      const tick = this.side === 0 ? this.oKeys[k] : -this.oKeys[k];
      const i = tick - this.base;
      if (i >= 0 && i < this.size) fail(`overflow tick ${tick} lies inside the window`);
      if (tickOf(this.oLvls[k]) !== tick) fail(`overflow level at tick ${tick} has tick ${tickOf(this.oLvls[k])}`);
    }
    if (this.count !== w + this.oN) fail(`count ${this.count} != ${w} + ${this.oN}`);
    let best = wBest;
    if (this.oN > 0) {
      const o = this.side === 0 ? this.oKeys[this.oN - 1] : -this.oKeys[this.oN - 1];
      if (best === NO_TICK || this.better(o, best)) best = o;
    }
    if (best !== this.bestTick) fail(`best ${this.bestTick} != ${best}`);
    if (best !== NO_TICK && this.bestLvl !== this.get(best)) fail(`best level slot stale`);
    if (this.count > this.maxLevels) fail(`more than ${this.maxLevels} levels`);
  }
}
