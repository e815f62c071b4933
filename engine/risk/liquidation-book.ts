// Q1's state in one risk shard (state layer: data and tiny accessors, no events, no rules): the liquidating set (in
// the snapshot and the state hash), the accounts touched this batch, the assets whose mark moved this batch, and the
// safe-band index (engine/liquidation/safe-band.ts) that finds the accounts a mark move may push over MMR 100%
// without scanning the others. The index is derived state: rebuilt on restore, never snapshotted — the liquidating
// set after a batch is {liquidatable} ∪ {liquidating before, not yet at the exit}, whatever the bands were.

import { SortedEdges } from "../collections/index.ts";

/** One asset's band edges of every indexed account, each list sorted by (edge, account) in chunks (SortedEdges: a
 * change costs O(log n + chunk), never a pass over the n entries), and the changes of the current batch end not yet
 * applied (flushChanges applies them at once). */
class AssetBands {
  readonly lows = new SortedEdges();
  readonly highs = new SortedEdges();
  /** Entries to remove: account, its old low and high. */
  readonly removeAccounts: number[] = [];
  readonly removeLows: bigint[] = [];
  readonly removeHighs: bigint[] = [];
  /** Entries to add: account, low, high, and the record they belong to (skipped if it is no longer the account's). */
  readonly addRecords: AccountBands[] = [];
  readonly addAccounts: number[] = [];
  readonly addLows: bigint[] = [];
  readonly addHighs: bigint[] = [];
}

/** xs[i] = x, appending when i is its length (i ≤ length). */
function setAt<T>(xs: T[], i: number, x: T): void {
  if (i < xs.length) xs[i] = x;
  else xs.push(x);
}

/** Are the account's bands in `record` exactly these (same assets in the same order, equal edges)? */
function sameBands(record: AccountBands, assets: readonly number[], lows: readonly bigint[], highs: readonly bigint[], count: number): boolean {
  if (count === 0 || record.assets.length !== count) return false;
  for (let i = 0; i < count; i++) {
    if (record.assets[i] !== assets[i] || record.lows[i] !== lows[i] || record.highs[i] !== highs[i]) return false;
  }
  return true;
}

function removeEntry(list: SortedEdges, edge: bigint, account: number): void {
  if (!list.remove(edge, account)) throw new Error(`liquidation index: band edge ${edge} of account ${account} is missing`);
}

/** markMoved bits: the asset's mark (or a perpetual's on it) moved; its borrow index moved (an accrual, L5). */
export const MARK_MOVED_PRICE = 1;
export const MARK_MOVED_INDEX = 2;

/** The bands one account has in the index: per asset it holds or owes, [low, high] (low > high: empty). */
export class AccountBands {
  /** Are its entries in the sorted lists (flushed)? */
  inLists = false;
  readonly assets: number[];
  readonly lows: bigint[];
  readonly highs: bigint[];

  /** Made for `count` bands: arrays of that size (a first push reserves 17 slots: 3 × 120 bytes an account). */
  constructor(count: number) {
    this.assets = new Array<number>(count).fill(-1);
    this.lows = new Array<bigint>(count).fill(0n);
    this.highs = new Array<bigint>(count).fill(0n);
  }
}

export class LiquidationBook {
  /** Q1: the liquidating accounts of this shard. */
  readonly liquidating = new Set<number>();
  /** Accounts whose margin inputs changed this batch (Account.touch), in touch order. */
  readonly touched: number[] = [];
  /** Per asset: did its mark move this batch (MARK_MOVED_PRICE), did its borrow index (MARK_MOVED_INDEX)? */
  readonly markMoved: Uint8Array;
  /** The pools' accrual epoch the exposed accounts were last brought to (interest moves their margin, L5). */
  poolEpochSeen = 0;
  /** The indexed accounts (those with exposure, C4) and their bands. */
  readonly exposed = new Map<number, AccountBands>();
  /** L5: the indexed accounts that also lend (set with their bands): what an accrual of a lend index must touch. */
  readonly exposedLenders = new Set<number>();
  private readonly bands: AssetBands[] = [];
  /** Band changes wait for flushChanges. */
  private dirty = false;
  /**
   * Q2 → Q3/Q4: liquidating accounts whose book liquidation made no progress, with the number of consecutive batches
   * without a liquidation fill and the last reason (NoStepReason: no step could be planned, or the step found nothing
   * within the slippage bound). The backstop (Q3) takes over from here the next batch (liquidation-transfers.ts) or,
   * with negative equity and no takeover, bankruptcy (Q4); else its steps are tried again every batch. In the snapshot
   * and the state hash.
   */
  readonly stalled = new Map<number, { batches: number; reason: number }>();
  /**
   * Q3/Q4 within one batch (liquidation-transfers.ts; empty at every boundary, so never in a snapshot): the accounts
   * whose takeover or bankruptcy legs phase 0 sent (R1 refuses their commands but deposits, cancels and queries until
   * the batch ends), the ADL counterparties phase 0 already used, and the takeovers and covers phase 3b carries out —
   * per entry the account, the backstop (BACKSTOP_ACCOUNT_NONE: a cover alone) and the cover in USDC units.
   */
  readonly inFlight = new Set<number>();
  readonly adlUsed = new Set<number>();
  /** Q4: per counterparty and market (adlKey), the base quantity this batch's ADL legs already take from it: a later
   * bankrupt account of the batch deleverages against what is left (fuzz seed 1921724582: three bankrupt accounts
   * with one opposing holder waited for it one batch each). */
  readonly adlTaken = new Map<number, bigint>();
  readonly pendingAccounts: number[] = [];
  readonly pendingBackstops: number[] = [];
  readonly pendingCovers: bigint[] = [];
  /** Phase 0: what this shard's covers may still spend of the fund this batch (−1: not yet set this batch). */
  coverBudget = -1n;
  /** Phase 0: the exposure notional (USD) handed to the backstop this batch. */
  backstopTakenUsd = 0n;

  constructor(assetCount: number) {
    this.markMoved = new Uint8Array(assetCount);
    for (let a = 0; a < assetCount; a++) this.bands.push(new AssetBands());
  }

  isLiquidating(account: number): boolean {
    return this.liquidating.size !== 0 && this.liquidating.has(account);
  }

  /** The liquidating accounts in id order (snapshot, state hash, queries). */
  liquidatingSorted(): number[] {
    return [...this.liquidating].sort((a, b) => a - b);
  }

  /** Q2: the account's book step could not be taken or filled nothing (`reason`: NoStepReason). */
  recordNoProgress(account: number, reason: number): void {
    const entry = this.stalled.get(account);
    if (entry === undefined) this.stalled.set(account, { batches: 1, reason });
    else {
      entry.batches++;
      entry.reason = reason;
    }
  }

  /** Q2: a liquidation fill of the account (or it left liquidation): no longer stalled. */
  recordProgress(account: number): void {
    if (this.stalled.size !== 0) this.stalled.delete(account);
  }

  /** The batch end: nothing of Q3/Q4 stays in flight past a boundary. */
  endTransfers(): void {
    this.inFlight.clear();
    this.adlUsed.clear();
    this.adlTaken.clear();
    this.pendingAccounts.length = this.pendingBackstops.length = this.pendingCovers.length = 0;
    this.coverBudget = -1n;
    this.backstopTakenUsd = 0n;
  }

  /** The stalled accounts in id order (snapshot, state hash, queries). */
  stalledSorted(): number[] {
    return [...this.stalled.keys()].sort((a, b) => a - b);
  }

  /**
   * Replaces the account's bands (empty `assets`: out of the index); the sorted lists change at flushChanges.
   * `lends`: the account has lend shares (exposedLenders).
   */
  setBands(account: number, assets: readonly number[], lows: readonly bigint[], highs: readonly bigint[], count: number, lends = false): void {
    if (lends && count > 0) this.exposedLenders.add(account);
    else if (this.exposedLenders.size !== 0) this.exposedLenders.delete(account);
    const old = this.exposed.get(account);
    if (old !== undefined && old.inLists && sameBands(old, assets, lows, highs, count)) return; // the lists stay as they are
    let record: AccountBands;
    if (old !== undefined && old.inLists && count > 0) {
      // Its entries leave the lists at the flush (by value); the record itself is reused in place: no pending add
      // refers to a record in the lists, and the map keeps its entry (a new record and a delete + set per band
      // change were most of what a realization pass kept alive past a scavenge: perp.realize-100k's GC pauses).
      this.queueRemovals(account, old);
      old.inLists = false;
      record = old;
    } else {
      this.removeBands(account);
      if (count === 0) return;
      record = new AccountBands(count);
      this.exposed.set(account, record);
    }
    for (let i = 0; i < count; i++) {
      const b = this.bands[assets[i]!]!;
      // An edge equal to the one it replaces keeps that (long-lived) bigint, in the record and in the sorted list: the
      // derivation makes every edge anew, and a new equal one stored in place of the old survived each scavenge.
      const same = i < record.assets.length && record.assets[i] === assets[i];
      const low = same && record.lows[i] === lows[i] ? record.lows[i]! : lows[i]!;
      const high = same && record.highs[i] === highs[i] ? record.highs[i]! : highs[i]!;
      setAt(record.assets, i, assets[i]!);
      setAt(record.lows, i, low);
      setAt(record.highs, i, high);
      b.addRecords.push(record);
      b.addAccounts.push(account);
      b.addLows.push(low);
      b.addHighs.push(high);
    }
    record.assets.length = record.lows.length = record.highs.length = count;
    this.dirty = true;
  }

  /** The flush takes the record's entries out of the lists (their values are copied: the record may change). */
  private queueRemovals(account: number, record: AccountBands): void {
    this.dirty = true;
    for (let i = 0; i < record.assets.length; i++) {
      const b = this.bands[record.assets[i]!]!;
      b.removeAccounts.push(account);
      b.removeLows.push(record.lows[i]!);
      b.removeHighs.push(record.highs[i]!);
    }
  }

  /** Takes the account out of the index (at flushChanges). An account is changed at most once between flushes. */
  removeBands(account: number): void {
    const record = this.exposed.get(account);
    if (record === undefined) return;
    this.exposed.delete(account);
    if (this.exposedLenders.size !== 0) this.exposedLenders.delete(account);
    this.dirty = true;
    if (!record.inLists) return; // set and taken out before a flush: its adds are skipped there
    this.queueRemovals(account, record);
  }

  /** Applies the batch end's band changes to the sorted lists. */
  flushChanges(): void {
    if (!this.dirty) return;
    this.dirty = false;
    for (const b of this.bands) {
      this.dropStaleAdds(b);
      for (let i = 0; i < b.removeAccounts.length; i++) {
        removeEntry(b.lows, b.removeLows[i]!, b.removeAccounts[i]!);
        removeEntry(b.highs, b.removeHighs[i]!, b.removeAccounts[i]!);
      }
      for (let i = 0; i < b.addAccounts.length; i++) {
        b.lows.insert(b.addLows[i]!, b.addAccounts[i]!);
        b.highs.insert(b.addHighs[i]!, b.addAccounts[i]!);
      }
      b.removeAccounts.length = b.removeLows.length = b.removeHighs.length = 0;
      b.addRecords.length = b.addAccounts.length = b.addLows.length = b.addHighs.length = 0;
    }
  }

  /** Keeps the adds whose record is still the account's (marking it in the lists), in order. */
  private dropStaleAdds(b: AssetBands): void {
    let kept = 0;
    for (let i = 0; i < b.addAccounts.length; i++) {
      const record = b.addRecords[i]!;
      if (this.exposed.get(b.addAccounts[i]!) !== record) continue;
      record.inLists = true;
      b.addRecords[kept] = record;
      b.addAccounts[kept] = b.addAccounts[i]!;
      b.addLows[kept] = b.addLows[i]!;
      b.addHighs[kept++] = b.addHighs[i]!;
    }
    b.addRecords.length = b.addAccounts.length = b.addLows.length = b.addHighs.length = kept;
  }

  /**
   * Q1 (after flushChanges): calls `visit` with every indexed account whose band of `asset` does not contain `mark`
   * (m < low: a suffix of the lows; high < m: a prefix of the highs; an account may come twice only if its band is
   * empty). The highs are kept as high × the asset's borrow index when derived (liquidation-trigger.ts deriveBands)
   * and compared with mark × `borrowIndex`, the index now. `markMoved` false (only the borrow index moved since the
   * bands were derived at the current mark): no low is above the mark but those of perpetual positions (deriveBands'
   * POSITION_EDGE), whose margin no borrow index moves, so only the highs are walked.
   */
  forEachOutsideBand(asset: number, mark: bigint, borrowIndex: bigint, visit: (account: number) => void, markMoved = true): void {
    const b = this.bands[asset]!;
    if (markMoved) b.lows.forEachAbove(mark, visit);
    b.highs.forEachBelow(mark * borrowIndex, visit);
  }


  /** Entries in the index for `asset` (tests, bench). */
  indexedCount(asset: number): number {
    return this.bands[asset]!.lows.size;
  }
}
