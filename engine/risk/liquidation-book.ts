// Q1's state in one risk shard (state layer: data and tiny accessors, no events, no rules): the liquidating set (in
// the snapshot and the state hash), the accounts touched this batch, the assets whose mark moved this batch, and the
// safe-band index (engine/liquidation/safe-band.ts) that finds the accounts a mark move may push over MMR 100%
// without scanning the others. The index is derived state: rebuilt on restore, never snapshotted — the liquidating
// set after a batch is {liquidatable} ∪ {liquidating before, not yet at the exit}, whatever the bands were.

import { firstIndexAbove, firstIndexAtOrAbove } from "../liquidation/index.ts";

/** One asset's band edges of every indexed account, each kept sorted by (edge, account). */
class AssetBands {
  readonly lowEdges: bigint[] = [];
  readonly lowAccounts: number[] = [];
  readonly highEdges: bigint[] = [];
  readonly highAccounts: number[] = [];
}

/** Position of (edge, account) in a list sorted by (edge, account): the first entry not below it. */
function findEntry(edges: readonly bigint[], accounts: readonly number[], edge: bigint, account: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const e = edges[mid]!;
    if (e < edge || (e === edge && accounts[mid]! < account)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertEntry(edges: bigint[], accounts: number[], edge: bigint, account: number): void {
  const i = findEntry(edges, accounts, edge, account);
  edges.splice(i, 0, edge);
  accounts.splice(i, 0, account);
}

function removeEntry(edges: bigint[], accounts: number[], edge: bigint, account: number): void {
  const i = findEntry(edges, accounts, edge, account);
  if (i >= edges.length || edges[i] !== edge || accounts[i] !== account) {
    throw new Error(`liquidation index: band edge ${edge} of account ${account} is missing`);
  }
  edges.splice(i, 1);
  accounts.splice(i, 1);
}

/** The bands one account has in the index: per asset it holds or owes, [low, high] (low > high: empty). */
export class AccountBands {
  readonly assets: number[] = [];
  readonly lows: bigint[] = [];
  readonly highs: bigint[] = [];
}

export class LiquidationBook {
  /** Q1: the liquidating accounts of this shard. */
  readonly liquidating = new Set<number>();
  /** Accounts whose margin inputs changed this batch (Account.touch), in touch order. */
  readonly touched: number[] = [];
  /** Per asset: did its mark move this batch? */
  readonly markMoved: Uint8Array;
  /** The pools' accrual epoch the exposed accounts were last brought to (interest moves their margin, L5). */
  poolEpochSeen = 0;
  /** The indexed accounts (those with exposure, C4) and their bands. */
  readonly exposed = new Map<number, AccountBands>();
  private readonly bands: AssetBands[] = [];

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

  /** Replaces the account's bands (empty `assets`: out of the index). */
  setBands(account: number, assets: readonly number[], lows: readonly bigint[], highs: readonly bigint[], count: number): void {
    this.removeBands(account);
    if (count === 0) return;
    const record = new AccountBands();
    for (let i = 0; i < count; i++) {
      const a = assets[i]!;
      const b = this.bands[a]!;
      record.assets.push(a);
      record.lows.push(lows[i]!);
      record.highs.push(highs[i]!);
      insertEntry(b.lowEdges, b.lowAccounts, lows[i]!, account);
      insertEntry(b.highEdges, b.highAccounts, highs[i]!, account);
    }
    this.exposed.set(account, record);
  }

  removeBands(account: number): void {
    const record = this.exposed.get(account);
    if (record === undefined) return;
    for (let i = 0; i < record.assets.length; i++) {
      const b = this.bands[record.assets[i]!]!;
      removeEntry(b.lowEdges, b.lowAccounts, record.lows[i]!, account);
      removeEntry(b.highEdges, b.highAccounts, record.highs[i]!, account);
    }
    this.exposed.delete(account);
  }

  /**
   * Q1: calls `visit` with every indexed account whose band of `asset` does not contain `mark` (m < low: a suffix of
   * the lows; high < m: a prefix of the highs; an account may come twice only if its band is empty).
   */
  forEachOutsideBand(asset: number, mark: bigint, visit: (account: number) => void): void {
    const b = this.bands[asset]!;
    const lows = b.lowEdges;
    for (let i = firstIndexAbove(lows, lows.length, mark); i < lows.length; i++) visit(b.lowAccounts[i]!);
    const end = firstIndexAtOrAbove(b.highEdges, b.highEdges.length, mark);
    for (let i = 0; i < end; i++) visit(b.highAccounts[i]!);
  }

  /** Entries in the index for `asset` (tests, bench). */
  indexedCount(asset: number): number {
    return this.bands[asset]!.lowEdges.length;
  }
}
