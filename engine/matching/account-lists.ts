// One market's resting orders per account: for each account seen in the book, its count and the head and tail of
// its intrusive list through the book's order slots (Book.oAPrev / oANext), in columns indexed by the account's list
// index (Book.oAcct), and past CLIENT_ID_SCAN_MAX resting orders its clientIds in the market's ClientIdIndex. Columns,
// not a record per account: a restore of 200,000 resting orders made one record per (account, market) — 200,000
// objects for the young generation to copy out (X7 restart, engine.ts "X7 restart (as built)"). Not a Map per list
// either (as built before): its bigint keys lived as long as their orders rested and its table was rebuilt every so
// many deletions — an eighth of what survived the engine's scavenges on a load-harness journal after risk's own
// clientId Map was gone (V8's sampling heap profiler, objects collected by a scavenge excluded).
import { ClientIdIndex, grown, IdMap } from "../collections/index.ts";

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
  /** 1 for a list that passed CLIENT_ID_SCAN_MAX (indexed from then on), and how many clientIds it has indexed. */
  private indexed = new Uint8Array(256);
  private indexedCounts = new Int32Array(256);
  /** (list index, clientId) → book slot + 1, for the indexed lists. */
  private readonly byClientId = new ClientIdIndex(256);

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
    this.indexed[i] = 0;
    this.indexedCounts[i] = 0;
    this.length = i + 1;
    this.index.set(account, i);
    return i;
  }

  private grow(capacity: number): void {
    this.accountIds = grown(this.accountIds, capacity);
    this.counts = grown(this.counts, capacity);
    this.heads = grown(this.heads, capacity);
    this.tails = grown(this.tails, capacity);
    this.indexed = grown(this.indexed, capacity);
    this.indexedCounts = grown(this.indexedCounts, capacity);
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

  /** Whether the list's clientIds are indexed (false below CLIENT_ID_SCAN_MAX: they are found by walking the list). */
  clientIdsIndexed(i: number): boolean {
    return this.indexed[i] === 1;
  }

  /** From now on the list's clientIds are indexed (the caller adds its orders' with indexClientId). */
  markClientIdsIndexed(i: number): void {
    this.indexed[i] = 1;
  }

  /** The slot of the indexed list's order with `clientId` (≠ 0n), or NO_SLOT. */
  clientIdSlot(i: number, clientId: bigint): number {
    return this.byClientId.get(i, 0, clientId) - 1;
  }

  /** The indexed list's order with `clientId` (≠ 0n) rests at `slot` (the latest one with it, as a Map's set). */
  indexClientId(i: number, clientId: bigint, slot: number): void {
    if (this.byClientId.set(i, 0, clientId, slot + 1)) this.indexedCounts[i]!++;
  }

  /** The indexed list's order with `clientId` left the book. */
  unindexClientId(i: number, clientId: bigint): void {
    if (this.byClientId.delete(i, 0, clientId)) this.indexedCounts[i]!--;
  }

  /** ClientIds the indexed list has in the index (validation). */
  indexedClientIds(i: number): number {
    return this.indexedCounts[i]!;
  }
}
