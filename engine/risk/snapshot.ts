// The risk shard's snapshot encodings (X7): marks, accounts (balances, settings, pool positions and their L14 logs),
// the fee account, open-order holds and the clientId index. RiskShard.writeSnapshot / restoreSnapshot compose them
// with the pool replicas (pools.ts) and the fee volumes (fees.ts).
//
// What is not written, because it is derived and rebuilt on restore: each account's incremental margin state (C2–C9:
// a function of its balances, its open-order terms, the marks and its leverage limit; made when first read,
// Account.syncedMargin), the accounts' open-order terms (C4: openBorrow / openInflow / openRepay / openBorrowOrders,
// the sums over its holds' borrowMax and credited proceeds, which are written with each hold), the accounts' pool
// epochs (every account is valued at the snapshot), the hold table's index and free list.
import { FUNDING_HISTORY_ENTRIES_MAX, LEVERAGE_LIMIT_MAX, LEVERAGE_LIMIT_MIN, MarketKind, SETTLEMENT_HISTORY_ROWS_MAX, SNAPSHOT_COUNT_MAX, Side, SnapshotReader, SnapshotTag, type MarketConfig, type SnapshotWriter } from "../model/index.ts";
import type { PerpPosition } from "../perps/index.ts";
import { IdMap, type ClientIdIndex } from "../collections/index.ts";
import { Account, ACCOUNT_SETTINGS_DEFAULT, AccountPerps, PositionLog, addToSlot } from "./accounts.ts";
import type { AccountMap, PendingAccounts } from "./account-map.ts";
import { OrderHold, type HoldTable } from "./holds.ts";
import type { MarginContext } from "./margin/index.ts";
import { POSITION_LOG_MAX, type PoolBook } from "./pools.ts";
import { FundingLog, SettlementLog } from "./histories.ts";

/** The USD marks of assets and the marks of perpetual markets. */
export function writeMarks(w: SnapshotWriter, ctx: MarginContext): void {
  w.uint(ctx.assetCount);
  for (let a = 0; a < ctx.assetCount; a++) w.big(ctx.assetMark[a]!);
  w.uint(ctx.marketCount);
  for (let m = 0; m < ctx.marketCount; m++) w.big(ctx.marketMark[m]!);
}

export function restoreMarks(r: SnapshotReader, ctx: MarginContext): void {
  if (r.uint() !== ctx.assetCount) r.fail("asset count differs from the config");
  for (let a = 0; a < ctx.assetCount; a++) {
    const mark = r.big();
    if (mark < 0n) r.fail(`negative mark of asset ${a}`);
    ctx.setAssetMark(a, mark);
  }
  if (r.uint() !== ctx.marketCount) r.fail("market count differs from the config");
  for (let m = 0; m < ctx.marketCount; m++) {
    const mark = r.big();
    if (mark < 0n) r.fail(`negative mark of market ${m}`);
    ctx.setMarketMark(m, mark);
  }
}

/** The four balance slots of every asset. */
function writeBalances(w: SnapshotWriter, a: Account, assets: number): void {
  for (let i = 0; i < assets; i++) w.big(a.available[i]!);
  for (let i = 0; i < assets; i++) w.big(a.locked[i]!);
  for (let i = 0; i < assets; i++) w.big(a.lent[i]!);
  for (let i = 0; i < assets; i++) w.big(a.borrowed[i]!);
}

/**
 * Into a fresh account (every slot 0n): zeros are not written, so arrays that stay zero keep sharing (zeroBigints'
 * store; locked, lent and borrowed the one shared array, sharedZeroBigints).
 */
function restoreBalances(r: SnapshotReader, a: Account, assets: number): void {
  for (let i = 0; i < assets; i++) a.setAvailable(i, r.big());
  for (let i = 0; i < assets; i++) a.setLocked(i, r.big());
  for (let i = 0; i < assets; i++) a.setLent(i, r.big());
  for (let i = 0; i < assets; i++) a.setBorrowed(i, r.big());
}

/** The exchange's fee account of the shard (balances only: it has no settings, margin or positions). */
export function writeFeeAccount(w: SnapshotWriter, fee: Account, assets: number): void {
  writeBalances(w, fee, assets);
}

export function restoreFeeAccount(r: SnapshotReader, fee: Account, assets: number): void {
  restoreBalances(r, fee, assets);
}

/** L14: an account's position logs, oldest change first (0 = no log for the asset). */
function writePoolLog(w: SnapshotWriter, a: Account, assets: number): void {
  const logs = a.poolLog;
  w.bool(logs !== null);
  if (logs === null) return;
  for (let i = 0; i < assets; i++) {
    const log = logs[i];
    const n = log === null || log === undefined ? 0 : log.length;
    w.uint(n);
    for (let k = 0; k < n; k++) {
      const e = log!.at(k);
      w.uint(e.stamp);
      w.int(e.timeMs);
      w.big(e.lendShares);
      w.big(e.borrowShares);
      w.big(e.entryFee);
      w.big(e.rate);
      w.big(e.openPnl);
    }
  }
}

function restorePoolLog(r: SnapshotReader, a: Account, assets: number): void {
  if (!r.bool()) return;
  const logs = (a.poolLog = new Array<PositionLog | null>(assets).fill(null));
  for (let i = 0; i < assets; i++) {
    const n = r.count(POSITION_LOG_MAX, "position log entries");
    if (n === 0) continue;
    const log = (logs[i] = new PositionLog(POSITION_LOG_MAX));
    for (let k = 0; k < n; k++) {
      const e = log.append();
      e.stamp = r.uint();
      e.timeMs = r.int();
      e.lendShares = r.big();
      e.borrowShares = r.big();
      e.entryFee = r.big();
      e.rate = r.big();
      e.openPnl = r.big();
    }
  }
}

/**
 * Every account in the map's order (its insertion order: a restored shard inserts them in the same order, so its
 * snapshot is byte-identical). Each is valued at the pools' current indices first (sync), as any read would.
 */
export function writeAccounts(w: SnapshotWriter, accounts: ReadonlyMap<number, Account>, pools: PoolBook, assets: number): void {
  w.beginSection(SnapshotTag.RiskAccounts);
  w.uint(accounts.size);
  for (const a of accounts.values()) {
    pools.sync(a);
    w.uint(a.id);
    w.uint(a.settings);
    w.uint(a.leverageLimit);
    w.uint(a.openOrders);
    w.uint(a.borrowedAssets);
    w.uint(a.poolPositions);
    writeBalances(w, a, assets);
    if (a.openOrders > 0) writeRepayCover(w, a, assets);
    if (a.poolPositions > 0) {
      for (let i = 0; i < assets; i++) {
        w.big(a.positions[i]!.lendShares);
        w.big(a.positions[i]!.borrowShares);
      }
    }
    writePoolLog(w, a, assets);
    writePerps(w, a);
  }
  w.endSection();
}

/**
 * P1/P6: the account's unsettled USDC (units and the USD value C3 counts), then its positions: per market with any
 * position state, its PerpPosition fields. Open perpetual quantities are not written: restoreHolds rebuilds them.
 */
function writePerps(w: SnapshotWriter, a: Account): void {
  w.big(a.unsettledUsdc);
  w.big(a.unsettledUsdValue);
  const perps = a.perps;
  w.bool(perps !== null);
  if (perps === null) return;
  let n = 0;
  for (const p of perps.positions) if (positionHasState(p)) n++;
  w.uint(n);
  for (let m = 0; m < perps.positions.length; m++) {
    const p = perps.positions[m]!;
    if (!positionHasState(p)) continue;
    w.uint(m);
    w.big(p.netQuantity);
    w.big(p.costBasis);
    w.big(p.openCostBasis);
    w.big(p.realizedPnl);
    w.big(p.feesPaid);
    w.big(p.fundingPaid);
    w.big(p.cumulativeFees);
    w.big(p.cumulativeFundingPayment);
  }
  // P4, P6/P7: the account's settlement rows and funding payments (histories.ts), 0 rows = none kept.
  if (perps.settlements === null) w.uint(0);
  else perps.settlements.write(w);
  if (perps.funding === null) w.uint(0);
  else perps.funding.write(w);
}

function positionHasState(p: PerpPosition): boolean {
  return p.netQuantity !== 0n || p.costBasis !== 0n || p.openCostBasis !== 0n || p.realizedPnl !== 0n || p.feesPaid !== 0n ||
    p.fundingPaid !== 0n || p.cumulativeFees !== 0n || p.cumulativeFundingPayment !== 0n;
}

function restorePerps(r: SnapshotReader, a: Account, markets: readonly MarketConfig[], assets: number): void {
  const units = r.big();
  const usd = r.big();
  if (units < 0n || usd < 0n) r.fail(`account ${a.id}: negative unsettled USDC`);
  a.restoreUnsettled(units, usd);
  if (!r.bool()) return;
  const perps = (a.perps = new AccountPerps(markets.length));
  const n = r.count(markets.length, "positions");
  for (let k = 0; k < n; k++) {
    const m = r.uint();
    if (m >= markets.length || markets[m]!.kind !== MarketKind.Perpetual) r.fail(`account ${a.id}: position in market ${m}, not a perpetual`);
    const p = perps.ownPosition(m);
    p.netQuantity = r.big();
    p.costBasis = r.big();
    p.openCostBasis = r.big();
    p.realizedPnl = r.big();
    p.feesPaid = r.big();
    p.fundingPaid = r.big();
    p.cumulativeFees = r.big();
    p.cumulativeFundingPayment = r.big();
  }
  const settlements = new SettlementLog(SETTLEMENT_HISTORY_ROWS_MAX);
  settlements.restore(r, markets.length, assets);
  if (settlements.length > 0) perps.settlements = settlements;
  const funding = new FundingLog(FUNDING_HISTORY_ENTRIES_MAX);
  funding.restore(r, markets.length);
  if (funding.length > 0) perps.funding = funding;
}

/**
 * C4/C8: what open repaying proceeds offset of each asset's borrow (Account.repayCover), then whether the sell
 * orders' part of it is non-zero and, if so, that part (SellTerms.repayCover: history, not a function of the holds).
 */
function writeRepayCover(w: SnapshotWriter, a: Account, assets: number): void {
  for (let i = 0; i < assets; i++) w.big(a.repayCover[i]!);
  const sell = a.sellTerms;
  const hasSell = sell !== null && sell.repayCover.some((c) => c !== 0n);
  w.bool(hasSell);
  if (hasSell) for (let i = 0; i < assets; i++) w.big(sell.repayCover[i]!);
}

function restoreRepayCover(r: SnapshotReader, a: Account, assets: number): void {
  for (let i = 0; i < assets; i++) a.setRepayCover(i, r.big());
  if (!r.bool()) return;
  const sell = a.sellTermsOf();
  for (let i = 0; i < assets; i++) {
    const c = r.big();
    if (c < 0n || c > a.repayCover[i]!) r.fail(`account ${a.id}: sell orders' repay cover ${c} of asset ${i}`);
    sell.setRepayCover(i, c);
  }
}

/**
 * Restores the accounts into an empty map; `create` makes a client account with the defaults. The margin state is
 * not written: an account makes it from its net balances when first read. A plain account (skipPlainAccount) is kept
 * as its bytes and made when first read (account-map.ts); the returned LazyAccounts (null: none kept) takes its
 * orders' open-order terms from restoreHolds.
 */
export function restoreAccounts(
  r: SnapshotReader,
  accounts: AccountMap,
  create: (id: number) => Account,
  pools: PoolBook,
  assets: number,
  markets: readonly MarketConfig[],
): LazyAccounts | null {
  r.beginSection(SnapshotTag.RiskAccounts, "accounts");
  const n = r.count(SNAPSHOT_COUNT_MAX, "accounts");
  const lazy = new LazyAccounts(n, create, pools.epoch, assets, markets);
  const start = r.offset;
  for (let k = 0; k < n; k++) {
    const id = r.uint();
    if (!lazy.add(id)) r.fail(`account ${id} appears twice`);
    const body = r.offset;
    if (skipPlainAccount(r, assets)) {
      lazy.keep(body - start);
      continue;
    }
    r.rewind(body);
    const a = create(id);
    restoreAccountBody(r, a, pools.epoch, assets, markets);
    accounts.set(id, a);
  }
  if (lazy.pending > 0) lazy.keepBytes(r.copyFrom(start));
  r.endSection();
  if (lazy.pending === 0) return null;
  accounts.setPending(lazy);
  return lazy;
}

/** An account's fields after its id (restoreAccounts; LazyAccounts.make for an account kept as bytes). */
function restoreAccountBody(r: SnapshotReader, a: Account, poolEpoch: number, assets: number, markets: readonly MarketConfig[]): void {
  a.settings = r.uint();
  const leverage = r.uint();
  if (leverage < LEVERAGE_LIMIT_MIN || leverage > LEVERAGE_LIMIT_MAX) r.fail(`account ${a.id}: leverage limit ${leverage}`);
  a.openOrders = r.uint();
  a.borrowedAssets = r.uint();
  a.poolPositions = r.uint();
  restoreBalances(r, a, assets);
  if (a.openOrders > 0) restoreRepayCover(r, a, assets);
  if (a.poolPositions > 0) {
    for (let i = 0; i < assets; i++) {
      a.positions[i]!.lendShares = r.big();
      a.positions[i]!.borrowShares = r.big();
    }
  }
  restorePoolLog(r, a, assets);
  restorePerps(r, a, markets, assets);
  a.poolEpoch = poolEpoch;
  // The margin state is made from these balances, at this leverage limit, when first read (Account.syncedMargin).
  a.leverageLimit = leverage;
}

/**
 * Steps over an account's fields after its id when it is plain — default settings, a valid leverage limit, nothing
 * borrowed or in a pool, no position log, no unsettled USDC, no perpetual state — and says so; false (the reader
 * somewhere inside the account: rewind) for any other, which restoreAccountBody reads (and checks) at once. A plain
 * account is in none of the restore's derived indexes (liquidation bands, perpetual holders, autoRealizePnl list).
 */
function skipPlainAccount(r: SnapshotReader, assets: number): boolean {
  if (r.uint() !== ACCOUNT_SETTINGS_DEFAULT) return false;
  const leverage = r.uint();
  if (leverage < LEVERAGE_LIMIT_MIN || leverage > LEVERAGE_LIMIT_MAX) return false;
  const openOrders = r.uint();
  if (r.uint() !== 0 || r.uint() !== 0) return false; // borrowedAssets, poolPositions
  r.skipBigs(4 * assets); // available, locked, lent, borrowed
  if (openOrders > 0) {
    r.skipBigs(assets); // repay cover
    if (r.bool()) r.skipBigs(assets); // the sell orders' part of it
  }
  if (r.bool()) return false; // position log
  if (r.big() !== 0n || r.big() !== 0n) return false; // unsettled USDC (units, USD): zero is not a heap bigint
  return !r.bool(); // perpetual state
}

/**
 * X7: the restored accounts of a shard in the snapshot's order, those kept as bytes (plain ones: skipPlainAccount)
 * by their offset, and the hold slots whose open-order terms they take when made (restoreHolds defers them).
 */
export class LazyAccounts implements PendingAccounts {
  private readonly ids: Float64Array;
  /** Restored id → its index in `ids`. */
  private readonly index: IdMap;
  /** By index: where a kept account's fields start in `bytes`; -1 when made (or never kept). */
  private readonly offsets: Float64Array;
  private restored = 0;
  pending = 0;
  private bytes: SnapshotReader | null = null;
  private holds: HoldTable | null = null;
  /** Deferred hold terms while restoreHolds runs: the account index and slot of each, in slot order. */
  private deferredIndex: number[] = [];
  private deferredSlot: number[] = [];
  /** Then by account index (CSR): its hold slots are termSlots[termStart[i] .. termStart[i + 1]). */
  private termStart: Int32Array | null = null;
  private termSlots: Int32Array | null = null;
  private readonly scratch = new OrderHold();

  constructor(
    capacity: number,
    private readonly create: (id: number) => Account,
    private readonly poolEpoch: number,
    private readonly assets: number,
    private readonly markets: readonly MarketConfig[],
  ) {
    this.ids = new Float64Array(capacity);
    this.index = new IdMap(capacity);
    this.offsets = new Float64Array(capacity);
  }

  /** Registers the next restored id; false when it was restored already. */
  add(id: number): boolean {
    if (this.index.get(id) >= 0) return false;
    this.index.set(id, this.restored);
    this.ids[this.restored] = id;
    this.offsets[this.restored] = -1;
    this.restored++;
    return true;
  }

  /** The account just added is kept as bytes: its fields start at `offset` of the bytes keepBytes is given. */
  keep(offset: number): void {
    this.offsets[this.restored - 1] = offset;
    this.pending++;
  }

  keepBytes(bytes: Uint8Array): void {
    this.bytes = new SnapshotReader(bytes, "risk accounts kept as bytes");
  }

  isPending(id: number): boolean {
    const i = this.index.get(id);
    return i >= 0 && this.offsets[i]! >= 0;
  }

  isRestored(id: number): boolean {
    return this.index.get(id) >= 0;
  }

  restoredIds(): ArrayLike<number> {
    return this.ids.subarray(0, this.restored);
  }

  /** restoreHolds: hold `slot` of kept account `id` adds its open-order terms when the account is made. */
  deferTerms(id: number, slot: number): void {
    this.deferredIndex.push(this.index.get(id));
    this.deferredSlot.push(slot);
  }

  /** restoreHolds is done: the deferred terms by account (kept in slot order), read from `holds` when made. */
  finishHolds(holds: HoldTable): void {
    this.holds = holds;
    const n = this.deferredIndex.length;
    const start = new Int32Array(this.restored + 1);
    for (let j = 0; j < n; j++) start[this.deferredIndex[j]! + 1]!++;
    for (let i = 0; i < this.restored; i++) start[i + 1]! += start[i]!;
    const fill = start.slice(0, this.restored);
    const slots = new Int32Array(n);
    for (let j = 0; j < n; j++) slots[fill[this.deferredIndex[j]!]!++] = this.deferredSlot[j]!;
    this.termStart = start;
    this.termSlots = slots;
    this.deferredIndex = [];
    this.deferredSlot = [];
  }

  make(id: number): Account | undefined {
    const i = this.index.get(id);
    if (i < 0 || this.offsets[i]! < 0) return undefined;
    const r = this.bytes!;
    r.seek(this.offsets[i]!);
    this.offsets[i] = -1;
    this.pending--;
    const a = this.create(id);
    restoreAccountBody(r, a, this.poolEpoch, this.assets, this.markets);
    this.addDeferredTerms(i, a);
    // As an eager restore's accounts (rebuildLiquidationIndex): the restore's own changes leave it untouched.
    if (a.touched) {
      a.touched = false;
      const list = a.touchedList;
      if (list !== null && list[list.length - 1] === id) list.pop();
    }
    if (this.pending === 0) {
      this.bytes = null;
      this.holds = null;
      this.termStart = null;
      this.termSlots = null;
    }
    return a;
  }

  private addDeferredTerms(i: number, a: Account): void {
    const start = this.termStart;
    if (start === null) return;
    const h = this.scratch;
    for (let j = start[i]!; j < start[i + 1]!; j++) {
      this.holds!.peekTerms(this.termSlots![j]!, h);
      if (h.perp) addPerpOpen(a, h, this.markets);
      addOpenOrderTerms(a, h);
    }
  }
}

/**
 * Open-order holds in slot order, then the clientId index as the order ids it points to, ascending: every entry points
 * to a live hold whose account, market and clientId make its key (set with the hold, deleted with it), so the key is
 * not written. It is not a function of the holds, though (a refused cancel-replace leaves its target unindexed), so the
 * entries are. (Ascending: the index's slot order depends on its history, and a restored index is laid out anew.)
 */
export function writeHolds(w: SnapshotWriter, holds: HoldTable, byClientId: ClientIdIndex): void {
  w.beginSection(SnapshotTag.RiskHolds);
  w.uint(holds.size);
  for (let i = 0; i < holds.slotCount; i++) {
    const h = holds.slotAt(i);
    if (h.owner === null) continue;
    w.uint(h.orderId);
    w.uint(h.account);
    w.uint(h.market);
    w.uint(h.side);
    w.big(h.clientId);
    w.uint(h.flags);
    w.uint(h.asset);
    w.big(h.remaining);
    w.big(h.borrowMax);
    w.big(h.reserved);
    w.uint(h.inflowAsset);
    w.big(h.inflowCredit);
    w.bool(h.inflowRepays);
    w.bool(h.perp);
    if (h.perp) w.big(h.perpOpen);
  }
  const orderIds: number[] = [];
  byClientId.forEachOrderId((orderId) => orderIds.push(orderId));
  orderIds.sort((a, b) => a - b);
  w.uint(orderIds.length);
  for (const orderId of orderIds) {
    const h = holds.get(orderId);
    if (h === undefined || h.clientId === 0n || byClientId.get(h.account, h.market, h.clientId) !== orderId) {
      throw new Error(`risk invariant: clientId index entry for order ${orderId} does not match its hold`);
    }
    w.uint(orderId);
  }
  w.endSection();
}

/**
 * C4: the open-order terms a hold adds to its account (what it may borrow at fill time, the proceeds credited to it),
 * as RiskShard.takeHold / creditInflow keep them; a restore rebuilds the accounts' sums from the restored holds and
 * marks the assets, so the margin state made on first read values them (Account.syncedMargin).
 */
function addOpenOrderTerms(account: Account, h: OrderHold): void {
  // The sell orders' locked part (the total was restored with the balances).
  if (!h.perp && h.side === Side.Sell && h.remaining !== 0n) {
    const sell = account.sellTermsOf();
    sell.locked = addToSlot(sell.locked, h.asset, h.remaining);
    account.markChanged(h.asset);
  }
  if (h.borrowMax > 0n) {
    account.addOpenBorrow(h.asset, h.side, h.borrowMax);
    account.openBorrowOrders++;
    account.markChanged(h.asset);
  }
  if (h.inflowCredit !== 0n) {
    account.addOpenCredit(h.inflowAsset, h.side, h.inflowRepays, h.inflowCredit);
    account.markChanged(h.inflowAsset);
  }
}

/** P1/C4: a perpetual hold's open quantity, checked (addPerpOpen adds it to its account's open buys or sells). */
function readPerpOpen(r: SnapshotReader, h: OrderHold, markets: readonly MarketConfig[]): void {
  h.perpOpen = r.big();
  if (h.perpOpen < 0n || h.market >= markets.length || markets[h.market]!.kind !== MarketKind.Perpetual) r.fail(`order ${h.orderId}: bad perpetual hold`);
}

function addPerpOpen(owner: Account, h: OrderHold, markets: readonly MarketConfig[]): void {
  const perps = owner.perps ?? (owner.perps = new AccountPerps(markets.length));
  const open = h.side === 0 ? perps.openBuy : perps.openSell;
  open[h.market] = open[h.market]! + h.perpOpen;
}

/** A hold's fields from market to inflowRepays (restoreHolds), checked. */
function restoreHoldFields(r: SnapshotReader, h: OrderHold, assets: number): void {
  const orderId = h.orderId;
  h.market = r.uint();
  h.side = r.uint();
  h.clientId = r.big();
  h.flags = r.uint();
  h.asset = r.uint();
  if (h.asset >= assets) r.fail(`order ${orderId} holds unknown asset ${h.asset}`);
  h.remaining = r.big();
  h.borrowMax = r.big();
  h.reserved = r.big();
  h.inflowAsset = r.uint();
  if (h.inflowAsset >= assets) r.fail(`order ${orderId} credits unknown asset ${h.inflowAsset}`);
  h.inflowCredit = r.big();
  h.inflowRepays = r.bool();
  if (h.remaining < 0n || h.borrowMax < 0n || h.reserved < 0n || h.inflowCredit < 0n) r.fail(`order ${orderId}: negative hold`);
}

/**
 * Holds in slot order, each read into one scratch record and kept in the table's columns (HoldTable.restoreHeld: a
 * hold's record is made when first read), its account's open-order terms added back — or, for an account kept as
 * bytes (`lazy`), when that account is made; one with a perpetual or borrowing order is made at the end here (it is
 * in the restore's indexes).
 */
export function restoreHolds(
  r: SnapshotReader,
  holds: HoldTable,
  byClientId: ClientIdIndex,
  accounts: AccountMap,
  lazy: LazyAccounts | null,
  assets: number,
  markets: readonly MarketConfig[],
): void {
  r.beginSection(SnapshotTag.RiskHolds, "holds");
  const n = r.count(SNAPSHOT_COUNT_MAX, "holds");
  holds.beginRestore(n, (id) => accounts.get(id));
  const h = new OrderHold();
  const makeNow: number[] = [];
  for (let k = 0; k < n; k++) {
    h.reset();
    h.orderId = r.uint();
    if (holds.get(h.orderId) !== undefined) r.fail(`order ${h.orderId} holds twice`);
    h.account = r.uint();
    const owner = accounts.made(h.account);
    const kept = owner === undefined && lazy !== null && lazy.isPending(h.account);
    if (owner === undefined && !kept) r.fail(`order ${h.orderId} holds for unknown account ${h.account}`);
    restoreHoldFields(r, h, assets);
    h.perp = r.bool();
    if (h.perp) readPerpOpen(r, h, markets);
    if (owner !== undefined) {
      if (h.perp) addPerpOpen(owner, h, markets);
      addOpenOrderTerms(owner, h);
    } else {
      lazy!.deferTerms(h.account, k);
      if (h.perp || h.borrowMax > 0n) makeNow.push(h.account);
    }
    holds.restoreHeld(h);
  }
  const entries = r.count(n, "clientId index");
  for (let k = 0; k < entries; k++) {
    const orderId = r.uint();
    if (!holds.peek(orderId, h) || h.clientId === 0n) r.fail(`clientId index names order ${orderId}, which holds nothing under a clientId`);
    if (byClientId.get(h.account, h.market, h.clientId) !== 0) r.fail(`clientId index names two orders of account ${h.account} under one clientId`);
    byClientId.set(h.account, h.market, h.clientId, orderId);
  }
  r.endSection();
  if (lazy === null) return;
  lazy.finishHolds(holds);
  for (const id of makeNow) accounts.get(id);
  if (makeNow.length > 0) accounts.restoreOrder();
}
