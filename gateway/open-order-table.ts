// The gateway's copy of every account's resting orders (AccountView, account-catch-up.ts), as rows of one growing
// buffer instead of an object and a Map entry per order.
//
// Why (issue 15): an order rests for seconds — long enough to survive the gateway's scavenges and be promoted, short
// enough to die soon after in the old generation. As an object per order ({ market, orderId, clientId, side, price,
// remaining }: ~80 B with its bigints) in a Map per account, the view was ~half of what survived the gateway isolate's
// scavenges at 50k commands/s (V8's sampling heap profiler, collected-by-minor excluded: AccountView.apply 30%, its
// Map.set 23%), and so of each scavenge's copying and of the mark-compacts that clear the promoted garbage. A row here
// is 56 bytes of an ArrayBuffer (never on V8's pages), found by its order id through the engine's open-addressing
// IdMap (engine/collections): a Map there, one for all accounts, was still 38% of the survivors — with orders placed
// and ended all the time its table is rebuilt every so many deletions, a new backing store each time. Placing, filling
// and ending an order now writes bytes only, and allocates nothing once the arrays have grown.
//
// Rows of one account form a list in the order they were accepted (what the Map per account iterated), so snapshots
// write an account's orders in the same order as before.
import { IdMap } from "../engine/collections/index.ts";

/** Bytes of one row: orderId f64, account f64, clientId u64, price i64, remaining i64, market i32, next i32, prev i32, side u8. */
const ROW_BYTES = 56;
const ORDER_ID = 0;
const ACCOUNT = 8;
const CLIENT_ID = 16;
const PRICE = 24;
const REMAINING = 32;
const MARKET = 40;
const NEXT = 44;
const PREV = 48;
const SIDE = 52;
/** Rows of a new table; it doubles when full. */
const ROWS_INITIAL = 1024;
/** No row (the end of a list). */
const NONE = -1;

/** One account's rows: the first and last accepted, and how many (AccountView keeps one per account with orders). */
export class AccountOrders {
  head = NONE;
  tail = NONE;
  count = 0;
}

/** A resting order as read back from the table (queries and snapshots only: the hot path reads no row). */
export interface OpenOrderRow {
  readonly market: number;
  readonly orderId: number;
  readonly clientId: bigint;
  readonly side: number;
  readonly price: bigint;
  readonly remaining: bigint;
}

export class OpenOrderTable {
  private rows = new DataView(new ArrayBuffer(ROWS_INITIAL * ROW_BYTES));
  private capacity = ROWS_INITIAL;
  /** Rows ever handed out; those below it and not in use are on the free list. */
  private used = 0;
  private freeHead = NONE;
  /** Order id → row (-1: none, as NONE). */
  private readonly rowOf = new IdMap(ROWS_INITIAL);

  /** Orders in the table. */
  get size(): number {
    return this.rowOf.size;
  }

  /** Removes every row (a restore replaces the view). */
  clear(): void {
    this.rowOf.clear();
    this.used = 0;
    this.freeHead = NONE;
  }

  /**
   * Order `orderId` of `account` rests with these fields: a new row at the end of the account's list, or — an id already
   * in the table (a Map per account overwrote it in place) — its row rewritten where it stands.
   */
  put(list: AccountOrders, account: number, orderId: number, market: number, clientId: bigint, side: number, price: bigint, remaining: bigint): void {
    let row = this.rowOf.get(orderId);
    if (row === NONE || this.rows.getFloat64(row * ROW_BYTES + ACCOUNT, true) !== account) {
      if (row !== NONE) return; // another account's id: never sent by the engine (ids are sequence numbers)
      row = this.newRow();
      this.rowOf.set(orderId, row);
      this.link(list, row);
    }
    const v = this.rows;
    const o = row * ROW_BYTES;
    v.setFloat64(o + ORDER_ID, orderId, true);
    v.setFloat64(o + ACCOUNT, account, true);
    v.setBigUint64(o + CLIENT_ID, clientId, true);
    v.setBigInt64(o + PRICE, price, true);
    v.setBigInt64(o + REMAINING, remaining, true);
    v.setInt32(o + MARKET, market, true);
    v.setUint8(o + SIDE, side);
  }

  /** A fill of `quantity` of `account`'s order `orderId`, if it rests here. */
  reduce(account: number, orderId: number, quantity: bigint): void {
    const row = this.rowOf.get(orderId);
    if (row === NONE) return;
    const o = row * ROW_BYTES;
    if (this.rows.getFloat64(o + ACCOUNT, true) !== account) return;
    this.rows.setBigInt64(o + REMAINING, this.rows.getBigInt64(o + REMAINING, true) - quantity, true);
  }

  /** Order `orderId` of `account` no longer rests: its row leaves the list and the table. False when it was not here. */
  remove(list: AccountOrders, account: number, orderId: number): boolean {
    const row = this.rowOf.get(orderId);
    if (row === NONE || this.rows.getFloat64(row * ROW_BYTES + ACCOUNT, true) !== account) return false;
    this.rowOf.delete(orderId);
    this.unlink(list, row);
    this.rows.setInt32(row * ROW_BYTES + NEXT, this.freeHead, true);
    this.freeHead = row;
    return true;
  }

  /** The account's rows, in the order they were accepted. */
  rowsOf(list: AccountOrders): OpenOrderRow[] {
    const out: OpenOrderRow[] = [];
    const v = this.rows;
    for (let row = list.head; row !== NONE; row = v.getInt32(row * ROW_BYTES + NEXT, true)) {
      const o = row * ROW_BYTES;
      out.push({
        market: v.getInt32(o + MARKET, true),
        orderId: v.getFloat64(o + ORDER_ID, true),
        clientId: v.getBigUint64(o + CLIENT_ID, true),
        side: v.getUint8(o + SIDE),
        price: v.getBigInt64(o + PRICE, true),
        remaining: v.getBigInt64(o + REMAINING, true),
      });
    }
    return out;
  }

  private newRow(): number {
    if (this.freeHead !== NONE) {
      const row = this.freeHead;
      this.freeHead = this.rows.getInt32(row * ROW_BYTES + NEXT, true);
      return row;
    }
    if (this.used === this.capacity) this.grow();
    return this.used++;
  }

  private grow(): void {
    const bytes = new Uint8Array(this.capacity * 2 * ROW_BYTES);
    bytes.set(new Uint8Array(this.rows.buffer));
    this.rows = new DataView(bytes.buffer);
    this.capacity *= 2;
  }

  private link(list: AccountOrders, row: number): void {
    const v = this.rows;
    const o = row * ROW_BYTES;
    v.setInt32(o + NEXT, NONE, true);
    v.setInt32(o + PREV, list.tail, true);
    if (list.tail === NONE) list.head = row;
    else v.setInt32(list.tail * ROW_BYTES + NEXT, row, true);
    list.tail = row;
    list.count++;
  }

  private unlink(list: AccountOrders, row: number): void {
    const v = this.rows;
    const o = row * ROW_BYTES;
    const next = v.getInt32(o + NEXT, true);
    const prev = v.getInt32(o + PREV, true);
    if (prev === NONE) list.head = next;
    else v.setInt32(prev * ROW_BYTES + NEXT, next, true);
    if (next === NONE) list.tail = prev;
    else v.setInt32(next * ROW_BYTES + PREV, prev, true);
    list.count--;
  }
}
