// Per-asset balances (available, locked, lent, borrowed) and per-account settings (A3) of the
// accounts one risk shard owns.
import { newPoolPosition, type PoolPosition } from "../lending/index.ts";
import { NO_POSITION, PerpPosition } from "../perps/index.ts";
import {
  AccountSetting,
  INT64_COLUMN_FAST_LIMIT,
  INT64_COLUMN_FAST_LIMIT_NEG,
  INT64_MAX,
  INT64_MIN,
  LEVERAGE_LIMIT_DEFAULT,
  Side,
  userOf,
} from "../model/index.ts";
import type { UserVolume, VolumeBook } from "./fees.ts";
import type { AccountMargin } from "./margin/index.ts";
import type { FundingLog, SettlementLog } from "./histories.ts";
import { isSharedZeroBigints, sharedZeroBigints, zeroBigints, zeroFlags } from "../collections/index.ts";

/** Every AccountSetting bit. */
export const ACCOUNT_SETTINGS_ALL =
  AccountSetting.AutoLend |
  AccountSetting.AutoRepayBorrows |
  AccountSetting.AutoBorrowSettlements |
  AccountSetting.AutoRealizePnl |
  AccountSetting.MarginEnabled;

/**
 * A3 defaults: autoLend off, autoRepayBorrows and autoBorrowSettlements on (SPEC: "`autoRepayBorrows`,
 * `autoBorrowSettlements` (default on)" — read as both on), autoRealizePnl off, marginEnabled on.
 */
export const ACCOUNT_SETTINGS_DEFAULT =
  AccountSetting.AutoRepayBorrows | AccountSetting.AutoBorrowSettlements | AccountSetting.MarginEnabled;

/** Which risk shard owns an account: by user, so a user's transfers and 30-day volume stay inside one shard. */
export function riskShardOf(account: number, shardCount: number): number {
  return userOf(account) % shardCount;
}

/** One change of a pool position (L14): the shares after it, stamped with the pool's accrual count at the time. */
export class PositionLogEntry {
  stamp = 0;
  timeMs = 0;
  lendShares = 0n;
  borrowShares = 0n;
  /** The L6 entry fee this change charged (borrows), with the hour's APR. */
  entryFee = 0n;
  rate = 0n;
  /** The settlement asset's log only: the account's open realized PnL from this change on (PoolBook.noteOpenPnl). */
  openPnl = 0n;
}

/**
 * L14: the last `capacity` changes of one pool position, oldest first, in records reused as a ring (a borrow on
 * every fill appends one without allocating, and the oldest goes without shifting the rest).
 */
export class PositionLog {
  private readonly entries: PositionLogEntry[] = [];
  private head = 0;
  length = 0;

  constructor(private readonly capacity: number) {}

  /** The record to fill in for a new change: a fresh one, or the oldest once the log is full. */
  append(): PositionLogEntry {
    if (this.length < this.capacity) {
      let e = this.entries[this.length];
      if (e === undefined) {
        e = new PositionLogEntry();
        this.entries.push(e);
      }
      this.length++;
      return e;
    }
    const oldest = this.entries[this.head]!;
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    return oldest;
  }

  /** The i-th change, oldest first (0 ≤ i < length). */
  at(i: number): PositionLogEntry {
    const j = this.head + i;
    return this.entries[j < this.capacity ? j : j - this.capacity]!;
  }
}

/**
 * P1/C4: an account's perpetual state, made with its first perpetual order: per market (spot entries stay empty) the
 * position and the base quantity its open orders may still fill per side (C4: max(|q + buys|, |q − sells|) is its
 * exposure from the moment the orders rest). A perpetual order holds no asset: its margin is judged by C8 with
 * these open quantities (AccountMargin.setPositionOrders).
 */
export class AccountPerps {
  /** Per market, the position: the shared frozen all-zero NO_POSITION until the market's first write (ownPosition),
   * so an account holds a record only for the markets it trades (perp.realize-100k: 100,000 accounts × 6 markets,
   * ~9% of its heap in positions that stayed zero). Read freely; write through ownPosition only. */
  readonly positions: Readonly<PerpPosition>[];
  readonly openBuy: bigint[];
  readonly openSell: bigint[];
  /** P6/P7: the account's settlement rows (made with the first; histories.ts). */
  settlements: SettlementLog | null = null;
  /** P4: the account's funding payments (made with the first; histories.ts). */
  funding: FundingLog | null = null;
  /** P8, per market: the short position's last estimated liquidation price, where the next solve's closed-form start
   * begins (queries.ts liquidationPrice). A hint, not state: any value gives the same answer, so it is in neither the
   * snapshot nor the state hash (null until a short's first solve). */
  p8Start: bigint[] | null = null;
  /** P1, per market: the index + 1 of its pending position report this batch, 0 when none (state.ts
   * PendingPositionReports; 0 at every batch boundary, so in neither the snapshot nor the state hash). */
  readonly reportAt: number[];

  constructor(marketCount: number) {
    // Sized once (pushing reserves 17 slots).
    this.positions = new Array<Readonly<PerpPosition>>(marketCount);
    for (let m = 0; m < marketCount; m++) this.positions[m] = NO_POSITION;
    this.openBuy = zeroBigints(marketCount);
    this.openSell = zeroBigints(marketCount);
    this.reportAt = new Array<number>(marketCount).fill(0);
  }

  /** Market m's position to write: its own record, made (all zero, as NO_POSITION reads) on the first call. */
  ownPosition(m: number): PerpPosition {
    const p = this.positions[m]!;
    if (p !== NO_POSITION) return p as PerpPosition;
    const own = new PerpPosition();
    this.positions[m] = own;
    return own;
  }

  /** Does market m carry any state (a position, a cost basis, open orders)? */
  hasState(m: number): boolean {
    const p = this.positions[m]!;
    return p.netQuantity !== 0n || p.costBasis !== 0n || this.openBuy[m] !== 0n || this.openSell[m] !== 0n;
  }

  /** Any open position or open order (C4 exposure now or after the orders fill)? */
  isActive(): boolean {
    for (let m = 0; m < this.openBuy.length; m++) {
      if (this.positions[m]!.netQuantity !== 0n || this.openBuy[m] !== 0n || this.openSell[m] !== 0n) return true;
    }
    return false;
  }
}

/**
 * C4/C8: the sell orders' part of an account's open-order terms, per asset (the buy orders' part is the total less
 * it): the units they lock, what they may borrow at fill time, their credited proceeds (held / repaying) and the part
 * of Account.repayCover their repaying proceeds offset. The margin state values the account with all buys filled and
 * no sell, and with all sells filled and no buy, from these (AccountMargin's corners). Made with the first sell hold.
 */
export class SellTerms {
  // The shared zero array until the first write (writableSlots; see Account's slot arrays); locked: see BalanceSlots.
  locked: BalanceSlots;
  openBorrow: readonly bigint[];
  openInflow: readonly bigint[];
  openRepay: readonly bigint[];
  repayCover: readonly bigint[];

  constructor(assetCount: number) {
    const zeros = sharedZeroBigints(assetCount);
    this.locked = zeros;
    this.openBorrow = zeros;
    this.openInflow = zeros;
    this.openRepay = zeros;
    this.repayCover = zeros;
  }

  /** Sets the sell orders' repay cover of `asset` (a restore, or the cover shrunk with the borrow). */
  setRepayCover(asset: number, units: bigint): void {
    if (units === 0n && isSharedZeroBigints(this.repayCover)) return;
    (this.repayCover = writableSlots(this.repayCover))[asset] = units;
  }
}

/**
 * `slots` itself to write into, or a fresh zero array in place of the shared one (sharedZeroBigints), which the
 * caller stores in its field before writing: `(this.x = writableSlots(this.x))[i] = v`.
 */
export function writableSlots(slots: readonly bigint[]): bigint[] {
  return isSharedZeroBigints(slots) ? zeroBigints(slots.length) : (slots as bigint[]);
}

/**
 * Available and locked units per asset (Account.available, Account.locked, SellTerms.locked): the shared zero array
 * until the first write, then an int64 column added to in place — a hold taken, paid from or released stores no new
 * bigint (V8 lowers int64-range arithmetic between a BigInt64Array's elements without allocating) —, or, once a value
 * leaves int64, an exact bigint array for good. Read by index like any slot array (a read that leaves the function
 * makes a bigint: publishBalance's two per event); write through addToSlot / subFromSlot / setSlot only.
 */
export type BalanceSlots = readonly bigint[] | BigInt64Array;

/** Values and deltas strictly inside ±2^62 take the column's path (INT64_COLUMN_FAST_LIMIT); the rest the exact path
 * (setSlot). */
const SLOT_FAST_LIMIT = INT64_COLUMN_FAST_LIMIT;
const SLOT_FAST_LIMIT_NEG = INT64_COLUMN_FAST_LIMIT_NEG;

/** `slots` with `slots[asset] + delta` (exact) in place of `slots[asset]`: store the result back into the field. */
export function addToSlot(slots: BalanceSlots, asset: number, delta: bigint): BalanceSlots {
  if (slots instanceof BigInt64Array) {
    const t = slots[asset]!;
    if (t < SLOT_FAST_LIMIT && t > SLOT_FAST_LIMIT_NEG && delta < SLOT_FAST_LIMIT && delta > SLOT_FAST_LIMIT_NEG) {
      slots[asset] = t + delta;
      return slots;
    }
  }
  return setSlot(slots, asset, slots[asset]! + delta);
}

/** addToSlot(slots, asset, −units) without the negated bigint. */
export function subFromSlot(slots: BalanceSlots, asset: number, units: bigint): BalanceSlots {
  if (slots instanceof BigInt64Array) {
    const t = slots[asset]!;
    if (t < SLOT_FAST_LIMIT && t > SLOT_FAST_LIMIT_NEG && units < SLOT_FAST_LIMIT && units > SLOT_FAST_LIMIT_NEG) {
      slots[asset] = t - units;
      return slots;
    }
  }
  return setSlot(slots, asset, slots[asset]! - units);
}

/** `slots` with `units` at `asset` (the exact path): a column while every value fits an int64, else a bigint array. */
export function setSlot(slots: BalanceSlots, asset: number, units: bigint): BalanceSlots {
  const fits = units >= INT64_MIN && units <= INT64_MAX;
  if (slots instanceof BigInt64Array) {
    if (fits) {
      slots[asset] = units;
      return slots;
    }
    const wide = Array.from(slots);
    wide[asset] = units;
    return wide;
  }
  if (isSharedZeroBigints(slots)) {
    if (units === 0n) return slots;
    const own = fits ? new BigInt64Array(slots.length) : zeroBigints(slots.length);
    own[asset] = units;
    return own;
  }
  (slots as bigint[])[asset] = units;
  return slots;
}

/**
 * Balances of one account, one slot per asset id, in asset units, and its settings. The net balance of an asset —
 * available + locked + lent − borrowed — is what the margin state (C2, C3) values; moving units between available
 * and locked (order holds) does not change it.
 *
 * The margin state is told of net-balance changes lazily: a change only marks the asset (markChanged, O(1): the
 * post-trade path of every fill), and `syncedMargin()` applies the marked assets before anything reads the margin.
 * A check that needs no margin state (see `hasNoBorrows`) never pays for the fills before it.
 */
export class Account {
  /** Free to spend (S1): an int64 column once written (BalanceSlots); write through setAvailable / addAvailable /
   * subAvailable. */
  available: BalanceSlots;
  // locked, lent, borrowed and the open-order terms below are one shared frozen zero array (sharedZeroBigints) until
  // the account's first write to them, which swaps in its own array (writableSlots): most accounts of a large state
  // never lend or borrow, and many rest no order, so a restore of 100,000s of accounts made 100,000s of arrays that
  // stay zero (X7 restart, engine.ts). Read them freely; write them through the account's methods only (the shared
  // array is frozen: a write to it throws).
  /** Held by open orders (S1): an int64 column once written (BalanceSlots). */
  locked: BalanceSlots;
  /** Lent to the asset's pool: still the owner's collateral (C1). Written only through the lending seam (setLent). */
  lent: readonly bigint[];
  /** Borrowed from the asset's pool: a liability and a position (C3, C4). Written only through the lending seam
   * (setBorrowed). */
  borrowed: readonly bigint[];
  /**
   * Pool positions (L5: shares scaled by the pool's indices), one per asset; lent / borrowed are their values. Made
   * on first use: most accounts never lend or borrow, and a restore makes 100,000s of accounts at once (six objects
   * each, ~12% of a restored risk shard's heap, for positions that stay zero).
   */
  get positions(): PoolPosition[] {
    return this.poolPositionsMade ?? this.makePoolPositions();
  }
  private poolPositionsMade: PoolPosition[] | null = null;
  /** Accrual epoch of the shard's pools when lent / borrowed were last valued (PoolBook.sync). */
  poolEpoch = 0;
  /** Assets with a non-zero pool position: while 0, sync has nothing to revalue. */
  poolPositions = 0;
  /** L14: per asset, the position changes (bounded) that interest history is derived from; null until one. */
  poolLog: (PositionLog | null)[] | null = null;
  openOrders = 0;
  /**
   * C4: per asset, what the account's open orders may still borrow of it at fill time (Σ their borrowMax) and the
   * proceeds of it credited to them (see RiskShard.takeHold): the margin state values the account as it would stand
   * after they fill, from the moment they rest. A perpetual market's orders will enter the same state as per-market
   * open quantities (AccountMargin.setPositionOrders).
   */
  openBorrow: readonly bigint[];
  openInflow: readonly bigint[];
  /** Proceeds of open margin orders credited as repaying the asset's borrow first (S3), then held. */
  openRepay: readonly bigint[];
  /**
   * C4/C8: the borrowed units of the asset that openRepay may offset (≤ borrowed). Set when a repaying order rests
   * (to what its check offset: RiskShard.takeHold), shrunk with the borrow and the credits, never grown by a later
   * borrow: a borrow taken after an order rests is owed in full, so cancelling the order never takes room away.
   * The rest of openRepay is valued as held (see syncedMargin).
   */
  repayCover: readonly bigint[];
  /** Open orders that may borrow at fill time (borrowMax > 0). */
  openBorrowOrders = 0;
  /** C4/C8: the sell orders' part of locked, openBorrow, openInflow, openRepay and repayCover; null until the first
   * spot sell hold (see SellTerms and the spot-order seams below). */
  sellTerms: SellTerms | null = null;
  /** P1/C4: positions and open perpetual orders; null until the account's first perpetual order. */
  perps: AccountPerps | null = null;
  /**
   * P6: USDC the account owes that no step of the waterfall could take yet (the pool had no cash to lend), ≥ 0; an
   * unsettled balance of C3 (net equity counts it as owed), paid first from the next USDC the account is credited.
   */
  unsettledUsdc = 0n;
  /** unsettledUsdc in USD at its mark when last set (rounded up): what C3 subtracts. */
  private unsettledUsd = 0n;
  /** AccountSetting bits that are on (A3). */
  settings = ACCOUNT_SETTINGS_DEFAULT;
  /** A3: max account leverage (whole number). */
  leverageLimit = LEVERAGE_LIMIT_DEFAULT;
  /** Assets with borrowed units. While 0, no net balance can be negative (available, locked, lent ≥ 0: X2). */
  borrowedAssets = 0;
  /**
   * Net balances changed since the margin state last heard: a flag per asset ([0, assets)), then the list of flagged
   * assets ([assets, 2 × assets)) — one array, not two, and made with the margin state (firstMargin): before
   * it there is nothing to tell (the first read starts from every asset with inputs), and a restore makes 100,000s of
   * accounts at once, most of which no batch reads.
   */
  private changed: number[] | null = null;
  private changedCount = 0;
  /** Perpetual markets whose position or open orders changed since the margin state last heard (perpChanged): a
   * flag per market, then the list of flagged markets — as `changed` is for assets; made with the margin state. */
  private perpsChanged: number[] | null = null;
  private perpsChangedCount = 0;
  private margin: AccountMargin | null = null;
  private volumeRecord: UserVolume | null = null;

  constructor(
    readonly id: number,
    assetCount: number,
    /**
     * Makes the account's incremental cross-margin state (C2–C9) when it is first read; null for the exchange's own
     * accounts, which carry no risk. Most accounts never need one (see hasNoBorrows), and it is over half an
     * account's memory, so a large state (and its restore from a snapshot) allocates it only where it is used.
     */
    private readonly createMargin: ((account: Account) => AccountMargin) | null,
    /** S5: the book of the users' 30-day traded volumes (the record is `volume`); null for the exchange. */
    private readonly volumes: VolumeBook | null,
  ) {
    const zeros = sharedZeroBigints(assetCount);
    this.available = zeros;
    this.locked = zeros;
    this.lent = zeros;
    this.borrowed = zeros;
    this.openBorrow = zeros;
    this.openInflow = zeros;
    this.openRepay = zeros;
    this.repayCover = zeros;
  }

  /**
   * S5: the 30-day traded volume of the account's user (shared by the user's accounts), made in the book when first
   * read — a fill (post-trade.ts) —, so a user who never traded has no record (100,000 fewer objects restored in a
   * restart of the issue-14 state; fees.ts VolumeBook: a user without one is tier 0, volume 0, as an untraded one);
   * null for the exchange.
   */
  get volume(): UserVolume | null {
    if (this.volumeRecord === null && this.volumes !== null) this.volumeRecord = this.volumes.userVolume(userOf(this.id));
    return this.volumeRecord;
  }

  /** The user's volume record if this account has read it already (`volume`), else null — without making one. */
  get volumeIfRead(): UserVolume | null {
    return this.volumeRecord;
  }

  /** Sets the available units of `asset` (exact at any size: BalanceSlots). */
  setAvailable(asset: number, units: bigint): void {
    this.available = setSlot(this.available, asset, units);
  }

  /** The available units of `asset` grow by `units` (signed), in place while both are inside ±2^62. */
  addAvailable(asset: number, units: bigint): void {
    this.available = addToSlot(this.available, asset, units);
  }

  /** addAvailable(asset, −units) without the negated bigint. */
  subAvailable(asset: number, units: bigint): void {
    this.available = subFromSlot(this.available, asset, units);
  }

  /** Sets the units of `asset` locked by open orders (a restore; orders move them with addLocked). */
  setLocked(asset: number, units: bigint): void {
    this.locked = setSlot(this.locked, asset, units);
  }

  /** The lending seam (pools.ts, lending-actions.ts) and a restore: the units of `asset` lent to its pool. */
  setLent(asset: number, units: bigint): void {
    if (units === 0n && isSharedZeroBigints(this.lent)) return;
    (this.lent = writableSlots(this.lent))[asset] = units;
  }

  /** The lending seam (pools.ts, lending-actions.ts) and a restore: the units of `asset` borrowed from its pool. */
  setBorrowed(asset: number, units: bigint): void {
    if (units === 0n && isSharedZeroBigints(this.borrowed)) return;
    (this.borrowed = writableSlots(this.borrowed))[asset] = units;
  }

  /** C4/C8: sets the repay cover of `asset` (a restore, or the cover shrunk with the borrow: funds.ts). */
  setRepayCover(asset: number, units: bigint): void {
    if (units === 0n && isSharedZeroBigints(this.repayCover)) return;
    (this.repayCover = writableSlots(this.repayCover))[asset] = units;
  }

  private makePoolPositions(): PoolPosition[] {
    const positions: PoolPosition[] = [];
    for (let i = 0; i < this.available.length; i++) positions.push(newPoolPosition());
    this.poolPositionsMade = positions;
    return positions;
  }

  /**
   * Q1: the shard's list of the accounts whose margin inputs changed this batch (RiskState.newAccount sets it; null
   * for the exchange's own accounts and never-stored reads): the batch end re-evaluates them (liquidation-trigger.ts).
   */
  touchedList: number[] | null = null;
  /** On touchedList already this batch. */
  touched = false;

  /** Q1: put the account on the shard's touched list (once per batch). */
  touch(): void {
    if (this.touched || this.touchedList === null) return;
    this.touched = true;
    this.touchedList.push(this.id);
  }

  /** The asset's net balance changed (deposit, withdrawal, transfer, fill, fee, pool movement). */
  markChanged(asset: number): void {
    if (!this.touched) this.touch();
    if (this.repayCover[asset]! > this.borrowed[asset]!) {
      this.setRepayCover(asset, this.borrowed[asset]!);
      const sell = this.sellTerms;
      if (sell !== null && sell.repayCover[asset]! > this.borrowed[asset]!) sell.setRepayCover(asset, this.borrowed[asset]!);
    }
    const changed = this.changed;
    if (changed !== null && changed[asset] === 0) {
      changed[asset] = 1;
      changed[this.available.length + this.changedCount++] = asset;
    }
  }

  /**
   * The margin state, made on first use: it starts from every asset the account holds, owes or has open-order terms
   * in (setAssetHoldings' inputs, not just the net balance: a borrow kept in the account is held and owed, and an
   * open order's proceeds are credited to an asset the account may not hold yet — a restored account's first read).
   */
  private firstMargin(): AccountMargin {
    const margin = (this.margin = this.createMargin!(this));
    this.changed = zeroFlags(2 * this.available.length);
    for (let a = 0; a < this.available.length; a++) if (this.hasMarginInputs(a)) this.markChanged(a);
    const perps = this.perps;
    if (perps !== null) for (let m = 0; m < perps.openBuy.length; m++) if (perps.hasState(m)) this.perpChanged(m);
    if (this.unsettledUsd !== 0n) margin.setUnsettledUsd(-this.unsettledUsd);
    return margin;
  }

  /** True when any input of the asset's margin slot is non-zero (balances or open-order terms, C4). */
  private hasMarginInputs(asset: number): boolean {
    return (
      this.available[asset] !== 0n ||
      this.locked[asset] !== 0n ||
      this.lent[asset] !== 0n ||
      this.borrowed[asset] !== 0n ||
      this.openBorrow[asset] !== 0n ||
      this.openInflow[asset] !== 0n ||
      this.openRepay[asset] !== 0n
    );
  }

  /** The margin state with every changed net balance applied (O(assets changed since the last read)). */
  syncedMargin(): AccountMargin {
    const margin = this.syncedAssets();
    if (this.perpsChangedCount !== 0) this.syncPerps(margin);
    return margin;
  }

  /**
   * C8 (checks.perpFillPassesMargin): syncedMargin, except that a change of perpetual market `m` stays pending when it
   * is the only perpetual change pending (perpPending(m) then says so): the check values m from its inputs as they
   * are (AccountMargin.passesPerpFillFromInputs), and the slot hears them at the next syncedMargin, merged with the
   * changes after it — the state the slot reaches depends only on its last inputs (see syncPerps).
   */
  syncedMarginExceptPerp(m: number): AccountMargin {
    const margin = this.syncedAssets();
    if (this.perpsChangedCount !== 0 && !(this.perpsChangedCount === 1 && this.perpsChanged![m] === 1)) this.syncPerps(margin);
    return margin;
  }

  /** Has perpetual market m a change the margin state has not heard yet? */
  perpPending(m: number): boolean {
    return this.perpsChangedCount !== 0 && this.perpsChanged![m] === 1;
  }

  /** The margin state with every changed net balance applied; perpetual changes not yet (syncedMargin). */
  private syncedAssets(): AccountMargin {
    const margin = this.margin ?? this.firstMargin();
    const n = this.changedCount;
    if (n !== 0) {
      const changed = this.changed!;
      for (let i = 0; i < n; i++) {
        const asset = changed[this.available.length + i]!;
        changed[asset] = 0;
        const repay = this.openRepay[asset]!;
        const cover = this.repayCoverNow(asset);
        const sell = this.sellTerms;
        if (sell !== null) {
          const sellCover = sell.repayCover[asset]!;
          margin.setAssetSellTerms(
            asset,
            sell.locked[asset]!,
            sell.openBorrow[asset]!,
            sell.openInflow[asset]! + sell.openRepay[asset]! - sellCover,
            sellCover,
          );
        }
        const lent = this.lent[asset]!;
        margin.setAssetHoldings(
          asset,
          // available itself when nothing is lent: the slot keeps the account's bigint, not an equal copy for the
          // next scavenge to promote (each realized holder's USDC balance changes)
          lent === 0n ? this.available[asset]! : this.available[asset]! + lent,
          this.locked[asset]!,
          this.borrowed[asset]!,
          this.openBorrow[asset]!,
          this.openInflow[asset]! + repay - cover,
          cover,
        );
      }
      this.changedCount = 0;
    }
    return margin;
  }

  /** The perpetual markets flagged by perpChanged, each valued once at its position and open orders as they are now
   * (the slot's state depends only on its last inputs, so one valuation after several changes is the same state). */
  private syncPerps(margin: AccountMargin): void {
    const flags = this.perpsChanged!;
    const perps = this.perps!;
    const markets = perps.openBuy.length;
    for (let i = 0; i < this.perpsChangedCount; i++) {
      const m = flags[markets + i]!;
      flags[m] = 0;
      const p = perps.positions[m]!;
      margin.setPositionState(m, p.netQuantity, p.costBasis, perps.openBuy[m]!, perps.openSell[m]!);
    }
    this.perpsChangedCount = 0;
  }

  /** unsettledUsdc's USD value as C3 counts it (snapshots). */
  get unsettledUsdValue(): bigint {
    return this.unsettledUsd;
  }

  /** Restores the unsettled USDC and its USD value as written (a fresh account, before its margin state is made). */
  restoreUnsettled(units: bigint, usd: bigint): void {
    this.unsettledUsdc = units;
    this.unsettledUsd = usd;
  }

  /** P6: the account now owes `units` (≥ 0) unsettled USDC, worth ceil(units × mark / unit) USD (C3). */
  setUnsettledUsdc(units: bigint, markUsd: bigint, unit: bigint): void {
    this.unsettledUsdc = units;
    this.unsettledUsd = (units * markUsd + unit - 1n) / unit;
    if (this.margin !== null) this.margin.setUnsettledUsd(-this.unsettledUsd);
  }

  /** P1/C4: market m's position or open orders changed: the margin state (if made yet) hears it at the next
   * syncedMargin (O(1) here; a fill changes both the order's open quantity and the position: one valuation). */
  perpChanged(m: number): void {
    if (this.margin === null) return;
    const markets = this.perps!.openBuy.length;
    const flags = this.perpsChanged ?? (this.perpsChanged = zeroFlags(2 * markets));
    if (flags[m] === 0) {
      flags[m] = 1;
      flags[markets + this.perpsChangedCount++] = m;
    }
  }

  /**
   * repayCover shrunk to the borrow and the credits as they are now (what the margin state offsets); the sell
   * orders' part of it shrunk with it, to at most their repaying credits and at least what the buy orders' repaying
   * credits cannot take (so each side's part stays within its own credits and the parts sum to the whole).
   */
  repayCoverNow(asset: number): bigint {
    const cover = this.repayCoverValue(asset);
    this.setRepayCover(asset, cover);
    const sell = this.sellTerms;
    if (sell !== null) sell.setRepayCover(asset, this.sellRepayCoverValue(asset, cover));
    return cover;
  }

  /**
   * repayCoverNow's value, not kept: the state hash reads it, so a live account whose cover a sync shrank and a restored
   * one that has not synced yet hash alike (they act alike: every use shrinks the cover first; helper audit, X7).
   */
  repayCoverValue(asset: number): bigint {
    let cover = this.repayCover[asset]!;
    if (cover > this.borrowed[asset]!) cover = this.borrowed[asset]!;
    if (cover > this.openRepay[asset]!) cover = this.openRepay[asset]!;
    return cover;
  }

  /** The sell orders' part of a repay cover shrunk to `cover` (repayCoverNow), not kept; 0 without sell terms. */
  sellRepayCoverValue(asset: number, cover: bigint): bigint {
    const sell = this.sellTerms;
    if (sell === null) return 0n;
    const sellRepay = sell.openRepay[asset]!;
    let sellCover = sell.repayCover[asset]!;
    if (sellCover > cover) sellCover = cover;
    if (sellCover > sellRepay) sellCover = sellRepay;
    const buyRepay = this.openRepay[asset]! - sellRepay;
    if (cover - sellCover > buyRepay) sellCover = cover - buyRepay;
    return sellCover;
  }

  /** The sell orders' part of the open-order terms, made on first use. */
  sellTermsOf(): SellTerms {
    return this.sellTerms ?? (this.sellTerms = new SellTerms(this.available.length));
  }

  /**
   * S1/C4: units of `asset` locked by a spot order of `side` change by `delta` (a hold taken, paid from, released):
   * the total and, for a sell, the sell orders' part.
   */
  addLocked(asset: number, side: number, delta: bigint): void {
    this.locked = addToSlot(this.locked, asset, delta);
    if (side === Side.Sell) {
      const sell = this.sellTermsOf();
      sell.locked = addToSlot(sell.locked, asset, delta);
    }
  }

  /** addLocked(asset, side, −amount) without the negated bigint (a hold paid from or released: the R2 hot path). */
  subLocked(asset: number, side: number, amount: bigint): void {
    this.locked = subFromSlot(this.locked, asset, amount);
    if (side === Side.Sell) {
      const sell = this.sellTermsOf();
      sell.locked = subFromSlot(sell.locked, asset, amount);
    }
  }

  /** C4: what open spot orders of `side` may borrow of `asset` at fill time changes by `delta`. */
  addOpenBorrow(asset: number, side: number, delta: bigint): void {
    const open = (this.openBorrow = writableSlots(this.openBorrow));
    open[asset] = open[asset]! + delta;
    if (side === Side.Sell) {
      const sell = this.sellTermsOf();
      const part = (sell.openBorrow = writableSlots(sell.openBorrow));
      part[asset] = part[asset]! + delta;
    }
  }

  /** C4: the proceeds of `asset` credited to open spot orders of `side` change by `delta` (repaying first or held). */
  addOpenCredit(asset: number, side: number, repays: boolean, delta: bigint): void {
    const open = repays ? (this.openRepay = writableSlots(this.openRepay)) : (this.openInflow = writableSlots(this.openInflow));
    open[asset] = open[asset]! + delta;
    if (side === Side.Sell) {
      const sell = this.sellTermsOf();
      const part = repays ? (sell.openRepay = writableSlots(sell.openRepay)) : (sell.openInflow = writableSlots(sell.openInflow));
      part[asset] = part[asset]! + delta;
    }
  }

  /**
   * C4/C8: a repaying order of `side` rests with `credit` of `asset` credited: the borrow its check offset joins
   * repayCover (capped by the borrow), the part it adds counted as that side's.
   */
  addRepayCover(asset: number, side: number, credit: bigint): void {
    const before = this.repayCoverNow(asset);
    const sum = before + credit;
    const cover = sum < this.borrowed[asset]! ? sum : this.borrowed[asset]!;
    this.setRepayCover(asset, cover);
    if (side === Side.Sell && cover !== before) {
      const sell = this.sellTermsOf();
      sell.setRepayCover(asset, sell.repayCover[asset]! + cover - before);
    }
  }

  /**
   * True when the account owes nothing and none of its open orders may borrow: it has no exposure (C4), now or after
   * its open orders fill — and an action that spends at most the available balance of one asset leaves it without
   * exposure, which C7/C8 pass outright (IMR 0). Open positions, open perpetual orders and unsettled USDC (P1, C4,
   * P6) are exposure or owed, so an account with any of them is evaluated.
   */
  hasNoBorrows(): boolean {
    return this.borrowedAssets === 0 && this.openBorrowOrders === 0 && this.unsettledUsdc === 0n && (this.perps === null || !this.perps.isActive());
  }

  /** available + locked + lent − borrowed: the quantity C1–C4 value (negative = a borrow). */
  netBalance(asset: number): bigint {
    return this.available[asset]! + this.locked[asset]! + this.lent[asset]! - this.borrowed[asset]!;
  }

  isOn(setting: number): boolean {
    return (this.settings & setting) !== 0;
  }
}
