// One market's resting orders per account: for each account seen in the book, its count and the head and tail of
// its intrusive list through the book's order slots (Book.oAPrev / oANext), in columns indexed by the account's list
// index (Book.oAcct), and past CLIENT_ID_SCAN_MAX resting orders a clientId → slot Map. Columns, not a record per
// account: a restore of 200,000 resting orders made one record per (account, market) — 200,000 objects for the young
// generation to copy out (X7 restart, engine.ts "X7 restart (as built)").
import { IdMap } from "../collections/index.ts";

/** No list: an account not seen in this book, or an empty list's head / tail (Book's NONE). */
const NO_SLOT = -1;

export class AccountLists {
  /** account → its list index (indices are kept once made). */
  private readonly index = new IdMap(256);
  private accountIds = new Float64Array(256);
  private counts = new Int32Array(256);
  private heads = new Int32Array(256);
  private tails = new Int32Array(256);
  /** Lists made so far. */
  length = 0;
  /** list index → clientId → slot, for the lists that passed CLIENT_ID_SCAN_MAX (made then, and kept). */
  private readonly byClientId = new Map<number, Map<bigint, number>>();

  /** The account's list index, or -1 when it has none in this book. */
  indexOf(account: number): number {
    return this.index.get(account);
  }

  /** The account's list index, made (empty) when it has none yet. */
  indexOrAdd(account: number): number {
    const i = this.index.get(account);
    return i >= 0 ? i : this.add(account);
  }

  private add(account: number): number {
    const i = this.length;
    if (i === this.counts.length) this.grow(2 * i);
    this.accountIds[i] = account;
    this.counts[i] = 0;
    this.heads[i] = NO_SLOT;
    this.tails[i] = NO_SLOT;
    this.length = i + 1;
    this.index.set(account, i);
    return i;
  }

  private grow(capacity: number): void {
    const f = new Float64Array(capacity);
    f.set(this.accountIds);
    this.accountIds = f;
    const c = new Int32Array(capacity);
    c.set(this.counts);
    this.counts = c;
    const h = new Int32Array(capacity);
    h.set(this.heads);
    this.heads = h;
    const t = new Int32Array(capacity);
    t.set(this.tails);
    this.tails = t;
  }

  /** Sizes the index for `accounts` lists at once (a restore that knows an upper bound; the columns double). */
  reserve(accounts: number): void {
    this.index.reserve(accounts);
  }

  accountAt(i: number): number {
    return this.accountIds[i]!;
  }

  countAt(i: number): number {
    return this.counts[i]!;
  }

  headAt(i: number): number {
    return this.heads[i]!;
  }

  tailAt(i: number): number {
    return this.tails[i]!;
  }

  setHead(i: number, slot: number): void {
    this.heads[i] = slot;
  }

  setTail(i: number, slot: number): void {
    this.tails[i] = slot;
  }

  /** The list's count changes by `delta` (±1); returns the new count. */
  addCount(i: number, delta: number): number {
    return (this.counts[i] = this.counts[i]! + delta);
  }

  /** The list's clientId index, null below CLIENT_ID_SCAN_MAX (its clientIds are found by walking the list). */
  clientIdsOf(i: number): Map<bigint, number> | null {
    return this.byClientId.size === 0 ? null : (this.byClientId.get(i) ?? null);
  }

  /** Keeps `index` as the list's clientId index from now on. */
  setClientIds(i: number, index: Map<bigint, number>): void {
    this.byClientId.set(i, index);
  }
}
