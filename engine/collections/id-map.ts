// Open-addressing hash map from a non-negative integer id (< 2^53: order ids, accounts) to a slot, in typed arrays.
//
// Linear probing with backward-shift deletion (no tombstones), load factor ≤ 1/2, so a lookup touches one or
// two cache lines and inserting or deleting never allocates except when the table doubles.

const EMPTY = -1;

export class IdMap {
  private keys: Float64Array;
  private vals: Int32Array;
  private mask: number;
  private shift: number;
  size = 0;

  constructor(initialCapacity: number) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap <<= 1;
    this.keys = new Float64Array(cap).fill(EMPTY);
    this.vals = new Int32Array(cap);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
  }

  /** Fibonacci hashing of both 32-bit halves: sequential ids spread evenly. */
  private home(id: number): number {
    const lo = id >>> 0;
    const hi = (id / 4294967296) >>> 0;
    return Math.imul(lo ^ Math.imul(hi, 0x27d4eb2d), 0x9e3779b1) >>> this.shift;
  }

  get(id: number): number {
    const keys = this.keys;
    const mask = this.mask;
    let i = this.home(id);
    for (;;) {
      const k = keys[i];
      if (k === id) return this.vals[i];
      if (k === EMPTY) return -1;
      i = (i + 1) & mask;
    }
  }

  /** Inserts id → slot; the id must not be present. */
  set(id: number, slot: number): void {
    if ((this.size + 1) * 2 > this.keys.length) this.grow();
    const keys = this.keys;
    const mask = this.mask;
    let i = this.home(id);
    while (keys[i] !== EMPTY) i = (i + 1) & mask;
    keys[i] = id;
    this.vals[i] = slot;
    this.size++;
  }

  delete(id: number): boolean {
    const keys = this.keys;
    const vals = this.vals;
    const mask = this.mask;
    let i = this.home(id);
    for (;;) {
      const k = keys[i];
      if (k === id) break;
      if (k === EMPTY) return false;
      i = (i + 1) & mask;
    }
    // Backward shift: pull later members of the probe run into the hole when their home allows it.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const k = keys[j];
      if (k === EMPTY) break;
      const h = this.home(k);
      if (((j - h) & mask) >= ((j - i) & mask)) {
        keys[i] = k;
        vals[i] = vals[j];
        i = j;
      }
    }
    keys[i] = EMPTY;
    this.size--;
    return true;
  }

  /** Removes every entry (the table keeps its size). */
  clear(): void {
    this.keys.fill(EMPTY);
    this.size = 0;
  }

  /** Grows the table once so that `entries` fit without further growth (a restore that knows its count). */
  reserve(entries: number): void {
    let cap = this.keys.length;
    while (cap < entries * 2) cap <<= 1;
    if (cap > this.keys.length) this.grow(cap);
  }

  private grow(cap = this.keys.length * 2): void {
    const oldKeys = this.keys;
    const oldVals = this.vals;
    this.keys = new Float64Array(cap).fill(EMPTY);
    this.vals = new Int32Array(cap);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
    this.size = 0;
    for (let i = 0; i < oldKeys.length; i++) {
      if (oldKeys[i] !== EMPTY) this.set(oldKeys[i], oldVals[i]);
    }
  }

  /** Visits every entry (validation and hashing only; order is the table's, not meaningful). */
  forEach(fn: (id: number, slot: number) => void): void {
    const keys = this.keys;
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) fn(keys[i], this.vals[i]);
  }
}
