// Open-addressing hash map from (account, market, clientId) to an order id, in typed arrays: the risk shard's index of
// its open orders by client order id (cancel and replace by clientId), and matching's of each market's resting orders
// (keyed by the account's list index, the value the order's book slot + 1).
//
// Why not Map<bigint, number> (as built before): its key was a 96-bit bigint made for every order with a clientId
// ((account << 80) | (market << 64) | clientId, ~40 B), held while the order rests — seconds under a market maker's
// load, long enough to be promoted — and the Map's table was rebuilt every so many deletions. Replaying a load
// harness journal in one process (V8's sampling heap profiler, objects a scavenge collects excluded), the key and the
// Map were a quarter of what survived the engine's scavenges. Here the clientId's two 32-bit halves go into columns
// through a one-slot BigUint64Array (a store converts, a bigint is never kept), probing compares numbers only, and
// nothing is allocated except when the table doubles. Linear probing with backward-shift deletion (as IdMap).

/** An empty slot's order id (order ids are sequence numbers, ≥ 1). */
const EMPTY = 0;

/** The clientId's halves, by one store into the 64-bit view (no bigint arithmetic, no allocation). */
const WIDE = new BigUint64Array(1);
const HALVES = new Uint32Array(WIDE.buffer);

export class ClientIdIndex {
  private accounts = new Float64Array(0);
  private markets = new Int32Array(0);
  private lows = new Uint32Array(0);
  private highs = new Uint32Array(0);
  private orderIds = new Float64Array(0);
  private mask = 0;
  size = 0;

  constructor(initialCapacity: number) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap <<= 1;
    this.allocate(cap);
  }

  /** Fresh empty columns of `cap` slots (a power of two). */
  private allocate(cap: number): void {
    this.accounts = new Float64Array(cap);
    this.markets = new Int32Array(cap);
    this.lows = new Uint32Array(cap);
    this.highs = new Uint32Array(cap);
    this.orderIds = new Float64Array(cap);
    this.mask = cap - 1;
  }

  /** The order id under (account, market, clientId), or 0 when none. */
  get(account: number, market: number, clientId: bigint): number {
    const i = this.find(account, market, clientId);
    return i < 0 ? 0 : this.orderIds[i]!;
  }

  /** (account, market, clientId) → orderId (≥ 1), replacing what the key held. True when the key is new. */
  set(account: number, market: number, clientId: bigint, orderId: number): boolean {
    const found = this.find(account, market, clientId);
    if (found >= 0) {
      this.orderIds[found] = orderId;
      return false;
    }
    if ((this.size + 1) * 2 > this.orderIds.length) this.grow();
    WIDE[0] = clientId;
    this.place(account, market, HALVES[0]!, HALVES[1]!, orderId);
    this.size++;
    return true;
  }

  /** Removes the key, whatever it maps to; false when it is not in the index. */
  delete(account: number, market: number, clientId: bigint): boolean {
    const i = this.find(account, market, clientId);
    if (i < 0) return false;
    this.removeAt(i);
    return true;
  }

  /** Removes the key if it maps to `orderId` (an order ending; a later order may have taken its clientId). */
  deleteIf(account: number, market: number, clientId: bigint, orderId: number): boolean {
    const i = this.find(account, market, clientId);
    if (i < 0 || this.orderIds[i] !== orderId) return false;
    this.removeAt(i);
    return true;
  }

  /** Every order id in the index (snapshots: the caller orders them). */
  forEachOrderId(fn: (orderId: number) => void): void {
    const ids = this.orderIds;
    for (let i = 0; i < ids.length; i++) if (ids[i] !== EMPTY) fn(ids[i]!);
  }

  clear(): void {
    this.orderIds.fill(EMPTY);
    this.size = 0;
  }

  /** Mixes the key's numbers into its first probe. */
  private home(account: number, market: number, low: number, high: number): number {
    let h = Math.imul((account >>> 0) ^ Math.imul((account / 4294967296) >>> 0, 0x27d4eb2d), 0x9e3779b1);
    h = Math.imul(h ^ low ^ Math.imul(market + 1, 0x85ebca6b), 0x9e3779b1);
    h = Math.imul(h ^ high, 0xc2b2ae35);
    return (h ^ (h >>> 15)) & this.mask;
  }

  /** The key's slot, or -1. */
  private find(account: number, market: number, clientId: bigint): number {
    WIDE[0] = clientId;
    const low = HALVES[0]!;
    const high = HALVES[1]!;
    const ids = this.orderIds;
    for (let i = this.home(account, market, low, high); ; i = (i + 1) & this.mask) {
      if (ids[i] === EMPTY) return -1;
      if (this.lows[i] === low && this.accounts[i] === account && this.markets[i] === market && this.highs[i] === high) return i;
    }
  }

  private place(account: number, market: number, low: number, high: number, orderId: number): void {
    let i = this.home(account, market, low, high);
    while (this.orderIds[i] !== EMPTY) i = (i + 1) & this.mask;
    this.accounts[i] = account;
    this.markets[i] = market;
    this.lows[i] = low;
    this.highs[i] = high;
    this.orderIds[i] = orderId;
  }

  /** Empties slot i, pulling later members of its probe run back when their home allows it (no tombstones). */
  private removeAt(i: number): void {
    const mask = this.mask;
    const ids = this.orderIds;
    for (let j = (i + 1) & mask; ids[j] !== EMPTY; j = (j + 1) & mask) {
      const h = this.home(this.accounts[j]!, this.markets[j]!, this.lows[j]!, this.highs[j]!);
      if (((j - h) & mask) < ((j - i) & mask)) continue;
      this.accounts[i] = this.accounts[j]!;
      this.markets[i] = this.markets[j]!;
      this.lows[i] = this.lows[j]!;
      this.highs[i] = this.highs[j]!;
      ids[i] = ids[j]!;
      i = j;
    }
    ids[i] = EMPTY;
    this.size--;
  }

  private grow(): void {
    const { accounts, markets, lows, highs, orderIds } = this;
    this.allocate(orderIds.length * 2);
    for (let i = 0; i < orderIds.length; i++) {
      if (orderIds[i] !== EMPTY) this.place(accounts[i]!, markets[i]!, lows[i]!, highs[i]!, orderIds[i]!);
    }
  }
}
