// The risk shard's open-order holds, by order id: an open-addressing index (collections/id-map.ts) over a slot array of
// reused hold records. Placing and ending an order is the hot path of R1 and R2: no Map hashing of boxed numbers, no
// record allocated per order once the table has grown to the open-order count.
import { IdMap } from "../collections/index.ts";
import type { Account } from "./accounts.ts";

/** What an open order holds, so R2 can release exactly the rest when it ends. */
export class OrderHold {
  /** Its slot in the HoldTable (fixed for the record's life). */
  slot = -1;
  orderId = 0;
  account = 0;
  /** The account record itself (risk shards never drop an account that holds). */
  owner: Account | null = null;
  market = 0;
  side = 0;
  clientId = 0n;
  /** The order's spot-margin flags (S2): a replacement inherits them; the lending issue borrows at fill by them. */
  flags = 0;
  asset = 0;
  /** Units of `asset` still held for this order. */
  remaining = 0n;
  /** S2: units of `asset` the order's fills may still borrow beyond `remaining` (autoBorrow). */
  borrowMax = 0n;
  /** Pool capacity reserved for those borrows (PoolBook.reserve), released as fills borrow and when the order ends. */
  reserved = 0n;
  /** C4: the asset the order receives, and the units of its proceeds credited to the account's margin state while it
   * rests (Account.openInflow; 0 for an order whose fill would raise the available equity). */
  inflowAsset = 0;
  inflowCredit = 0n;
  /** The credit repays a borrow of inflowAsset first (a margin order's proceeds, S3): Account.openRepay, else openInflow. */
  inflowRepays = false;
  /** P1/C4: a perpetual order (it holds no asset: remaining stays 0), and the base quantity it may still fill, counted
   * in its account's open buys or sells (AccountPerps). */
  perp = false;
  perpOpen = 0n;
  /** Within a batch: the order whose clientId index entry this order took over while that order was still held (a
   * duplicate clientId matching may refuse, or a replacement), so the entry returns to it if this order ends first
   * (funds.ts indexClientId); 0 when none. Always 0 at a batch boundary (a key has one resting order then). */
  shadowed = 0;

  reset(): void {
    this.shadowed = 0;
    this.perp = false;
    this.perpOpen = 0n;
    this.borrowMax = 0n;
    this.reserved = 0n;
    this.inflowAsset = 0;
    this.inflowCredit = 0n;
    this.inflowRepays = false;
    this.orderId = 0;
    this.account = 0;
    this.owner = null;
    this.market = 0;
    this.side = 0;
    this.clientId = 0n;
    this.flags = 0;
    this.asset = 0;
    this.remaining = 0n;
  }

  /** This record as a copy of `h` (its slot and owner too). */
  copyFrom(h: OrderHold): void {
    this.slot = h.slot;
    this.orderId = h.orderId;
    this.account = h.account;
    this.owner = h.owner;
    this.market = h.market;
    this.side = h.side;
    this.clientId = h.clientId;
    this.flags = h.flags;
    this.asset = h.asset;
    this.remaining = h.remaining;
    this.borrowMax = h.borrowMax;
    this.reserved = h.reserved;
    this.inflowAsset = h.inflowAsset;
    this.inflowCredit = h.inflowCredit;
    this.inflowRepays = h.inflowRepays;
    this.perp = h.perp;
    this.perpOpen = h.perpOpen;
    this.shadowed = h.shadowed;
  }

  /** A cleared record for `account`'s order `orderId` on `market`, `side` (an engine order's hold, D3). */
  begin(orderId: number, account: Account, market: number, side: number): this {
    this.reset();
    this.orderId = orderId;
    this.account = account.id;
    this.owner = account;
    this.market = market;
    this.side = side;
    return this;
  }
}

/**
 * X7: holds restored from a snapshot that nothing has read yet, by slot, in columns (typed arrays and one bigint
 * array) instead of one record each: a restore of 200,000 resting orders made 200,000 records (~32 MB) for the
 * young generation to copy out, most of which the next minutes never read. HoldTable.get / slotAt / sorted make a
 * slot's record from them on first read (materialize), so every path sees the same hold.
 */
const U64_MAX = (1n << 64n) - 1n;

class RestoredHolds {
  readonly orderId: Float64Array;
  readonly account: Float64Array;
  /** market, side, flags, asset, inflowAsset per slot. */
  readonly small: Int32Array;
  /** inflowRepays, perp per slot. */
  readonly bools: Uint8Array;
  /**
   * clientId, remaining, borrowMax, reserved, inflowCredit, perpOpen per slot (all ≥ 0): a typed array, so the
   * restore's bigints die young; a value of 2^64 or more is kept in `wide` by its index (0 in `big`).
   */
  readonly big: BigUint64Array;
  private wide: Map<number, bigint> | null = null;
  /** Restored slots whose record is not made yet: at 0 the columns are dropped. */
  pending = 0;

  constructor(
    capacity: number,
    /** The restored shard's account of an id (every restored hold's owner exists: restoreHolds checked it). */
    readonly ownerOf: (account: number) => Account | undefined,
  ) {
    this.orderId = new Float64Array(capacity);
    this.account = new Float64Array(capacity);
    this.small = new Int32Array(5 * capacity);
    this.bools = new Uint8Array(2 * capacity);
    this.big = new BigUint64Array(6 * capacity);
  }

  /** Stores `h`'s fields (not its owner: ownerOf finds it again) in `slot`. */
  put(slot: number, h: OrderHold): void {
    this.orderId[slot] = h.orderId;
    this.account[slot] = h.account;
    const s = 5 * slot;
    this.small[s] = h.market;
    this.small[s + 1] = h.side;
    this.small[s + 2] = h.flags;
    this.small[s + 3] = h.asset;
    this.small[s + 4] = h.inflowAsset;
    this.bools[2 * slot] = h.inflowRepays ? 1 : 0;
    this.bools[2 * slot + 1] = h.perp ? 1 : 0;
    const b = 6 * slot;
    this.putBig(b, h.clientId);
    this.putBig(b + 1, h.remaining);
    this.putBig(b + 2, h.borrowMax);
    this.putBig(b + 3, h.reserved);
    this.putBig(b + 4, h.inflowCredit);
    this.putBig(b + 5, h.perpOpen);
  }

  private putBig(i: number, v: bigint): void {
    if (v <= U64_MAX) this.big[i] = v;
    else (this.wide ??= new Map()).set(i, v);
  }

  private bigAt(i: number): bigint {
    return this.wide === null ? this.big[i]! : (this.wide.get(i) ?? this.big[i]!);
  }

  /** A record for `slot` with the fields put there, and its owner. */
  make(slot: number): OrderHold {
    const h = this.copyFields(slot, new OrderHold());
    const owner = this.ownerOf(h.account);
    if (owner === undefined) throw new Error(`risk invariant: restored hold of order ${h.orderId} has no account ${h.account}`);
    h.owner = owner;
    return h;
  }

  /**
   * The fields of `slot` an account's open-order terms are made of (addOpenOrderTerms, addPerpOpen in
   * engine/risk/snapshot.ts), into `h`; its other fields are left as they were.
   */
  copyTerms(slot: number, h: OrderHold): void {
    const s = 5 * slot;
    h.market = this.small[s]!;
    h.side = this.small[s + 1]!;
    h.asset = this.small[s + 3]!;
    h.inflowAsset = this.small[s + 4]!;
    h.inflowRepays = this.bools[2 * slot] === 1;
    h.perp = this.bools[2 * slot + 1] === 1;
    const b = 6 * slot;
    h.remaining = this.bigAt(b + 1);
    h.borrowMax = this.bigAt(b + 2);
    h.inflowCredit = this.bigAt(b + 4);
    h.perpOpen = h.perp ? this.bigAt(b + 5) : 0n;
  }

  /**
   * `h` with the fields put in `slot` (its slot too), not its owner: a restore's own reads, which must not make the
   * owner's account (account-map.ts: an account kept as bytes reads its holds' terms through this when made).
   */
  copyFields(slot: number, h: OrderHold): OrderHold {
    h.slot = slot;
    h.orderId = this.orderId[slot]!;
    h.account = this.account[slot]!;
    const s = 5 * slot;
    h.market = this.small[s]!;
    h.side = this.small[s + 1]!;
    h.flags = this.small[s + 2]!;
    h.asset = this.small[s + 3]!;
    h.inflowAsset = this.small[s + 4]!;
    h.inflowRepays = this.bools[2 * slot] === 1;
    h.perp = this.bools[2 * slot + 1] === 1;
    const b = 6 * slot;
    h.clientId = this.bigAt(b);
    h.remaining = this.bigAt(b + 1);
    h.borrowMax = this.bigAt(b + 2);
    h.reserved = this.bigAt(b + 3);
    h.inflowCredit = this.bigAt(b + 4);
    h.perpOpen = this.bigAt(b + 5);
    return h;
  }
}

export class HoldTable {
  private readonly index = new IdMap(1024);
  /** A slot's record; null for a restored hold not read yet (its fields are in `restored`). */
  private readonly slots: (OrderHold | null)[] = [];
  private readonly free: number[] = [];
  private restored: RestoredHolds | null = null;

  get size(): number {
    return this.index.size;
  }

  /** X7: restored holds whose record is not made yet (tests). */
  get recordsPending(): number {
    return this.restored === null ? 0 : this.restored.pending;
  }

  get(orderId: number): OrderHold | undefined {
    const slot = this.index.get(orderId);
    if (slot < 0) return undefined;
    const hold = this.slots[slot]!;
    return hold !== null ? hold : this.materialize(slot);
  }

  /**
   * Copies `orderId`'s hold into `into` without making a restored hold's record (a restore's own reads); false when
   * it holds nothing.
   */
  peek(orderId: number, into: OrderHold): boolean {
    const slot = this.index.get(orderId);
    if (slot < 0) return false;
    this.peekSlot(slot, into);
    return true;
  }

  /** Copies slot `slot`'s hold into `into` as peek does (its owner is not set for a restored hold not read yet). */
  peekSlot(slot: number, into: OrderHold): void {
    const hold = this.slots[slot]!;
    if (hold === null) this.restored!.copyFields(slot, into);
    else into.copyFrom(hold);
  }

  /**
   * X7: the open-order terms of restored slot `slot`'s hold into `into` (RestoredHolds.copyTerms), for its account
   * made from its snapshot bytes (engine/risk/snapshot.ts LazyAccounts): no hold of an account not made yet has a
   * record, so the columns hold it as restored.
   */
  peekTerms(slot: number, into: OrderHold): void {
    const hold = this.slots[slot]!;
    if (hold === null) this.restored!.copyTerms(slot, into);
    else into.copyFrom(hold);
  }

  /** Makes the record of restored slot `slot` (first read). */
  private materialize(slot: number): OrderHold {
    const restored = this.restored!;
    const hold = (this.slots[slot] = restored.make(slot));
    if (--restored.pending === 0) this.restored = null;
    return hold;
  }

  /**
   * X7: a fresh table about to restore `holds` open holds in slot order (restoreHeld); `ownerOf` finds a hold's
   * account when its record is made.
   */
  beginRestore(holds: number, ownerOf: (account: number) => Account | undefined): void {
    if (this.slots.length !== 0) throw new Error("HoldTable.beginRestore: the table is not fresh");
    this.index.reserve(holds);
    this.restored = new RestoredHolds(holds, ownerOf);
  }

  /** X7: registers restored hold `h` (a scratch record, filled in; `h.orderId` must not hold yet) in the next slot. */
  restoreHeld(h: OrderHold): void {
    const restored = this.restored!;
    const slot = this.slots.length;
    restored.put(slot, h);
    restored.pending++;
    this.slots.push(null);
    this.index.set(h.orderId, slot);
  }

  /** Registers a cleared hold for `orderId` (which must not hold yet) and returns it to be filled in. */
  add(orderId: number): OrderHold {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.slots.length;
      const fresh = new OrderHold();
      fresh.slot = slot;
      this.slots.push(fresh);
    }
    const hold = this.slots[slot]!;
    hold.orderId = orderId;
    this.index.set(orderId, slot);
    return hold;
  }

  /** Forgets a hold this table returned and clears its record for reuse (read what you need from it first). */
  remove(hold: OrderHold): void {
    this.index.delete(hold.orderId);
    hold.reset();
    this.free.push(hold.slot);
  }

  /**
   * Slots ever used; slotAt(i) for i below it is an open hold when its owner is set (snapshots walk them in slot
   * order: no sort, nothing allocated; a table restored by adding them in that order writes the same bytes).
   */
  get slotCount(): number {
    return this.slots.length;
  }

  slotAt(i: number): OrderHold {
    const hold = this.slots[i]!;
    return hold !== null ? hold : this.materialize(i);
  }

  /** The account id of slot i's hold without making a restored one's record (0 for a free slot). */
  accountAt(i: number): number {
    const hold = this.slots[i]!;
    return hold !== null ? hold.account : this.restored!.account[i]!;
  }

  /** Every open hold, in order-id order (invariant checks and the state digest; not the hot path). */
  sorted(): OrderHold[] {
    const out: OrderHold[] = [];
    this.index.forEach((_, slot) => out.push(this.slotAt(slot)));
    return out.sort((a, b) => a.orderId - b.orderId);
  }
}
