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

  reset(): void {
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

export class HoldTable {
  private readonly index = new IdMap(1024);
  private readonly slots: OrderHold[] = [];
  private readonly free: number[] = [];

  get size(): number {
    return this.index.size;
  }

  get(orderId: number): OrderHold | undefined {
    const slot = this.index.get(orderId);
    return slot < 0 ? undefined : this.slots[slot];
  }

  /** Sizes the index for `holds` open orders at once (a restore that knows its count). */
  reserve(holds: number): void {
    this.index.reserve(holds);
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
    return this.slots[i]!;
  }

  /** Every open hold, in order-id order (invariant checks and the state digest; not the hot path). */
  sorted(): OrderHold[] {
    const out: OrderHold[] = [];
    this.index.forEach((_, slot) => out.push(this.slots[slot]!));
    return out.sort((a, b) => a.orderId - b.orderId);
  }
}
