// The incremental cross-margin state of one account (C2–C9): per-slot contributions and their running sums, and
// the hypothetical "what if these balances/positions changed" evaluation behind the pre-trade check (C8).
//
// Slots: one per asset and one per perpetual market (position quantity, cost basis, open-order quantities). An asset
// slot holds units (collateral, C1/C2) and owes units (a liability and a position of its own with the asset's borrow
// IMF/MMF, C3–C5) at the same time — a borrow kept in the account is both — and is valued as the account would stand
// after its open orders fill (C4: the risk-increasing part of open orders is exposure from the moment they rest):
// held = available + lent + the proceeds credited to open orders (locked units count as spent), owed = borrowed −
// the open margin orders' repaying proceeds + what open orders may borrow at fill time. The sums below are that
// state (what every check judges); the statement's net equity is the account as it stands (currentNetEquityUsd).
// A perpetual market's open orders enter through setPositionOrders (C4's max of "all buys" / "all sells" fill).
// Each slot keeps its contribution to the sums (collateral,
// liability, exposure notional, initial and maintenance margin, unrealized PnL); changing a slot recomputes that
// slot only and adjusts the sums by the difference, so a check costs O(slots changed), never O(account).
// Marks are read from the shared MarginContext; a slot whose mark moved is revalued lazily on the next query.

import { Rounding, type Ratio } from "../../fixed/index.ts";
import { RATIO_SCALE } from "../../model/index.ts";
import type { MarginContext } from "./context.ts";
import {
  accountImf,
  accountMmf,
  borrowLiabilityUsd,
  collateralValueUsd,
  divCeilNonNegative,
  divFloorNonNegative,
  exposureQuantity,
  haircutWeight,
  haircutWeightFromRoot,
  imfFloor,
  initialMarginRatio,
  initialMarginRatioNotWorse,
  isLiquidatable,
  maintenanceMarginRatio,
  marginFraction,
  netEquityLockedUsd,
  netEquityUsd,
  notionalUsd,
  passesInitialMargin,
  positionImf,
  positionMarginUsd,
  positionMmf,
  sqrtMarginTermFromRoot,
  sqrtNotionalUpNear,
  sqrtTermFlatLimitUsd,
  unrealizedPnlUsd,
} from "./formulas.ts";

/** Most slots one hypothetical change may touch (a spot trade touches 2 assets; a perp fill 1 market + USDC). */
export const MARGIN_CHANGES_CAPACITY = 8;

/**
 * A reusable, allocation-free description of "what if", per asset and per perpetual market (deltas on the same slot
 * are merged). Asset effects, resolved against the account's slot when evaluated (AccountMargin.evaluate):
 * - a signed flow (`addAsset`): units leaving take the spendable units first (available + lent) and borrow the rest
 *   (a spend, a margin order's cost, a withdrawal); units arriving repay the asset's borrow first, then are held
 *   (a margin order's proceeds, S3; a deposit with auto-lend on, L10);
 * - units arriving that are held whatever the account owes (`addHeld`: a plain order's proceeds);
 * - explicit changes of the spendable and the borrowed units (`addHoldings`: a manual borrow kept in the account).
 */
export class MarginChanges {
  assetCount = 0;
  readonly assets = new Int32Array(MARGIN_CHANGES_CAPACITY);
  readonly assetDeltas: bigint[] = new Array<bigint>(MARGIN_CHANGES_CAPACITY).fill(0n);
  readonly assetHeldIn: bigint[] = new Array<bigint>(MARGIN_CHANGES_CAPACITY).fill(0n);
  readonly assetSpendableDeltas: bigint[] = new Array<bigint>(MARGIN_CHANGES_CAPACITY).fill(0n);
  readonly assetBorrowedDeltas: bigint[] = new Array<bigint>(MARGIN_CHANGES_CAPACITY).fill(0n);
  /** 1 when the entry has held units or explicit holdings (the evaluation skips them otherwise). */
  readonly assetExtra = new Uint8Array(MARGIN_CHANGES_CAPACITY);
  /**
   * True for an order's fill (set by spotTradeChanges): what its flows borrow is borrowed at fill time, like the open
   * orders' borrows, so other open orders' repaying proceeds are not counted against it. False (clear()) for an action
   * that borrows now (a margin withdrawal).
   */
  borrowsAtFill = false;
  positionCount = 0;
  readonly markets = new Int32Array(MARGIN_CHANGES_CAPACITY);
  readonly positionQtyDeltas: bigint[] = new Array<bigint>(MARGIN_CHANGES_CAPACITY).fill(0n);
  /** Σ qty × price of the hypothetical fills (base units × PRICE_DECIMALS). */
  readonly positionCostDeltas: bigint[] = new Array<bigint>(MARGIN_CHANGES_CAPACITY).fill(0n);
  readonly positionOpenBuyDeltas: bigint[] = new Array<bigint>(MARGIN_CHANGES_CAPACITY).fill(0n);
  readonly positionOpenSellDeltas: bigint[] = new Array<bigint>(MARGIN_CHANGES_CAPACITY).fill(0n);

  clear(): this {
    this.assetCount = 0;
    this.positionCount = 0;
    this.borrowsAtFill = false;
    return this;
  }

  /** A signed flow of `delta` units of `asset`: out of the spendable units then borrowed, or in repaying first. */
  addAsset(asset: number, delta: bigint): this {
    const i = this.assetSlot(asset);
    this.assetDeltas[i] = this.assetDeltas[i]! + delta;
    return this;
  }

  /** `amount` (≥ 0) units of `asset` arrive and are held (no repayment: a plain order's proceeds, S2/L10). */
  addHeld(asset: number, amount: bigint): this {
    const i = this.extraSlot(asset);
    this.assetHeldIn[i] = this.assetHeldIn[i]! + amount;
    return this;
  }

  /** The spendable units (available + lent) and the borrowed units of `asset` change by these signed amounts. */
  addHoldings(asset: number, spendableDelta: bigint, borrowedDelta: bigint): this {
    const i = this.extraSlot(asset);
    this.assetSpendableDeltas[i] = this.assetSpendableDeltas[i]! + spendableDelta;
    this.assetBorrowedDeltas[i] = this.assetBorrowedDeltas[i]! + borrowedDelta;
    return this;
  }

  /** Perpetual position of `market` changes by `qtyDelta` (signed, base units) filled at `price`. */
  addPositionFill(market: number, qtyDelta: bigint, price: bigint): this {
    const i = this.positionSlot(market);
    this.positionQtyDeltas[i] = this.positionQtyDeltas[i]! + qtyDelta;
    this.positionCostDeltas[i] = this.positionCostDeltas[i]! + qtyDelta * price;
    return this;
  }

  /** Open (resting) order quantities of `market` change (base units, signed deltas of non-negative totals). */
  addPositionOrders(market: number, openBuyDelta: bigint, openSellDelta: bigint): this {
    const i = this.positionSlot(market);
    this.positionOpenBuyDeltas[i] = this.positionOpenBuyDeltas[i]! + openBuyDelta;
    this.positionOpenSellDeltas[i] = this.positionOpenSellDeltas[i]! + openSellDelta;
    return this;
  }

  private assetSlot(asset: number): number {
    for (let i = 0; i < this.assetCount; i++) if (this.assets[i] === asset) return i;
    const i = this.assetCount;
    if (i >= MARGIN_CHANGES_CAPACITY) throw new RangeError(`MarginChanges: more than ${MARGIN_CHANGES_CAPACITY} assets`);
    this.assets[i] = asset;
    this.assetDeltas[i] = 0n;
    this.assetExtra[i] = 0;
    this.assetCount = i + 1;
    return i;
  }

  /** The entry of `asset` with its held units and explicit holdings in use (zeroed on first use: the flow-only
   * entries of the hot path never touch them). */
  private extraSlot(asset: number): number {
    const i = this.assetSlot(asset);
    if (this.assetExtra[i] === 0) {
      this.assetExtra[i] = 1;
      this.assetHeldIn[i] = 0n;
      this.assetSpendableDeltas[i] = 0n;
      this.assetBorrowedDeltas[i] = 0n;
    }
    return i;
  }

  private positionSlot(market: number): number {
    for (let i = 0; i < this.positionCount; i++) if (this.markets[i] === market) return i;
    const i = this.positionCount;
    if (i >= MARGIN_CHANGES_CAPACITY) throw new RangeError(`MarginChanges: more than ${MARGIN_CHANGES_CAPACITY} markets`);
    this.markets[i] = market;
    this.positionQtyDeltas[i] = 0n;
    this.positionCostDeltas[i] = 0n;
    this.positionOpenBuyDeltas[i] = 0n;
    this.positionOpenSellDeltas[i] = 0n;
    this.positionCount = i + 1;
    return i;
  }
}

export class AccountMargin {
  private leverageLimitRatio: Ratio;

  // Asset slots. Inputs: the units the account holds and may spend (available + lent), holds for open orders
  // (locked), owes (borrowed), and its open orders' effect: what they may still borrow and the proceeds credited to
  // them (see setAssetHoldings). The slot is valued as the account would stand after its open orders fill: held =
  // spendable + credited proceeds (locked units count as spent), borrowed = borrowed + open-order borrows.
  private readonly assetSpendable: bigint[];
  private readonly assetLocked: bigint[];
  private readonly assetBorrowed: bigint[];
  private readonly assetOpenBorrow: bigint[];
  private readonly assetOpenInflow: bigint[];
  private readonly assetOpenRepay: bigint[];
  /** 1 when the slot has any open-order state (borrow, proceeds, repayments); its owed units after the orders. */
  private readonly assetHasOpen: Uint8Array;
  private readonly assetOwedAfter: bigint[];
  private readonly assetSeen: number[];
  private readonly assetWeight: bigint[];
  private readonly assetCollateral: bigint[];
  private readonly assetLiability: bigint[];
  private readonly assetIm: bigint[];
  private readonly assetMm: bigint[];
  /** Last sqrt(notional) taken for the slot's holding / borrow (0 if none): the Newton seed for its next root. */
  private readonly assetRoot: bigint[];
  private readonly assetBorrowRoot: bigint[];
  /** Borrow IMF below its sqrt region, and the notional up to which it holds; both depend on leverageLimit. */
  private readonly borrowImfFloor: bigint[];
  private readonly borrowImfFlatLimitUsd: bigint[];

  // Perpetual position slots (indexed by market id; spot markets stay empty).
  private readonly posQty: bigint[];
  private readonly posCost: bigint[];
  private readonly posOpenBuy: bigint[];
  private readonly posOpenSell: bigint[];
  private readonly posSeen: number[];
  private readonly posNotional: bigint[];
  private readonly posIm: bigint[];
  private readonly posMm: bigint[];
  private readonly posUpnl: bigint[];
  private readonly posRoot: bigint[];
  private readonly marketImfFloor: bigint[];
  private readonly marketImfFlatLimitUsd: bigint[];

  private unsettled = 0n;

  // Running sums (USD, PRICE_DECIMALS).
  private collateralSum = 0n;
  private liabilitySum = 0n;
  private upnlSum = 0n;
  /** C3 kept as its own running sum (collateral + uPnL + unsettled − liability) so a check starts from it. */
  private netEquitySum = 0n;
  private tenSum = 0n;
  private imSum = 0n;
  private mmSum = 0n;
  private markSeen: number;

  // Scratch output of computeAsset / computePosition (no allocation per call).
  private sWeight = 0n;
  private sCollateral = 0n;
  private sLiability = 0n;
  private sIm = 0n;
  private sMm = 0n;
  private sNotional = 0n;
  private sUpnl = 0n;
  private sRoot = 0n;
  private sBorrowRoot = 0n;
  /** resolveAsset's answer: units held and owed of the asset after the changes and its open orders. */
  private rHeld = 0n;
  private rOwed = 0n;

  // Result of the last evaluate(): the account as it would be after the changes.
  private afterNetEquity = 0n;
  private afterIm = 0n;
  private afterMm = 0n;
  private afterTen = 0n;
  private afterExposureNonIncreasing = true;

  constructor(
    private readonly ctx: MarginContext,
    leverageLimit: Ratio,
  ) {
    const n = ctx.assetCount;
    const m = ctx.marketCount;
    const zeros = (k: number): bigint[] => new Array<bigint>(k).fill(0n);
    this.assetSpendable = zeros(n);
    this.assetLocked = zeros(n);
    this.assetBorrowed = zeros(n);
    this.assetOpenBorrow = zeros(n);
    this.assetOpenInflow = zeros(n);
    this.assetOpenRepay = zeros(n);
    this.assetHasOpen = new Uint8Array(n);
    this.assetOwedAfter = zeros(n);
    this.assetSeen = new Array<number>(n).fill(ctx.markVersion);
    this.assetWeight = ctx.haircutFlatWeight.slice();
    this.assetCollateral = zeros(n);
    this.assetLiability = zeros(n);
    this.assetIm = zeros(n);
    this.assetMm = zeros(n);
    this.assetRoot = zeros(n);
    this.assetBorrowRoot = zeros(n);
    this.borrowImfFloor = zeros(n);
    this.borrowImfFlatLimitUsd = zeros(n);
    this.posQty = zeros(m);
    this.posCost = zeros(m);
    this.posOpenBuy = zeros(m);
    this.posOpenSell = zeros(m);
    this.posSeen = new Array<number>(m).fill(ctx.markVersion);
    this.posNotional = zeros(m);
    this.posIm = zeros(m);
    this.posMm = zeros(m);
    this.posUpnl = zeros(m);
    this.posRoot = zeros(m);
    this.marketImfFloor = zeros(m);
    this.marketImfFlatLimitUsd = zeros(m);
    this.markSeen = ctx.markVersion;
    this.leverageLimitRatio = leverageLimit;
    this.priceLeverage(leverageLimit);
  }

  // ---- updates (each O(1) in the account's size) --------------------------------------------------------------

  /** The asset's net balance is now `netQty` units, held (> 0) or borrowed (< 0), with no open orders. */
  setAssetBalance(asset: number, netQty: bigint): void {
    this.setAssetHoldings(asset, netQty > 0n ? netQty : 0n, 0n, netQty < 0n ? -netQty : 0n, 0n, 0n, 0n);
  }

  /**
   * The asset's slot (units, each ≥ 0): `spendable` = available + lent, `locked` = held by open orders, `borrowed` =
   * owed to the pool (a liability and a position, C3/C4, while the borrowed units held are collateral, C1/C2);
   * `openBorrow` = what open orders may still borrow of it at fill time, `openInflow` = the proceeds of open orders
   * credited to the account as held, `openRepay` = those credited as repaying its borrow first (margin orders, S3)
   * (C4: the risk-increasing part of open orders is exposure from the moment they rest).
   */
  setAssetHoldings(
    asset: number,
    spendable: bigint,
    locked: bigint,
    borrowed: bigint,
    openBorrow: bigint,
    openInflow: bigint,
    openRepay: bigint,
  ): void {
    this.assetSpendable[asset] = spendable;
    this.assetLocked[asset] = locked;
    this.assetBorrowed[asset] = borrowed;
    this.assetOpenBorrow[asset] = openBorrow;
    this.assetOpenInflow[asset] = openInflow;
    this.assetOpenRepay[asset] = openRepay;
    this.assetHasOpen[asset] = openBorrow !== 0n || openInflow !== 0n || openRepay !== 0n ? 1 : 0;
    const owed = this.borrowedAfterOrders(asset);
    this.assetOwedAfter[asset] = owed;
    this.applyAsset(asset, this.heldAfterOrders(asset), owed);
  }

  /** The perpetual position of `market` is now `qty` (signed, base units) with average entry `entryPrice`. */
  setPosition(market: number, qty: bigint, entryPrice: bigint): void {
    this.requirePerpetual(market);
    this.applyPosition(market, qty, qty * entryPrice, this.posOpenBuy[market]!, this.posOpenSell[market]!);
  }

  /** The perpetual position of `market` is `qty` with cost basis Σ fill qty × price (base units × PRICE_DECIMALS),
   * for callers that keep the exact cost rather than a rounded average entry. */
  setPositionCostBasis(market: number, qty: bigint, costBasis: bigint): void {
    this.requirePerpetual(market);
    this.applyPosition(market, qty, costBasis, this.posOpenBuy[market]!, this.posOpenSell[market]!);
  }

  /** Open-order quantities of `market` (base units, ≥ 0): their risk-increasing part is exposure (C4). */
  setPositionOrders(market: number, openBuyQty: bigint, openSellQty: bigint): void {
    this.requirePerpetual(market);
    this.applyPosition(market, this.posQty[market]!, this.posCost[market]!, openBuyQty, openSellQty);
  }

  /** Unsettled balances in USD (funding, fees not yet settled; C3). */
  setUnsettledUsd(amountUsd: bigint): void {
    this.netEquitySum += amountUsd - this.unsettled;
    this.unsettled = amountUsd;
  }

  /** A3: the account's max leverage (ratio); re-prices the IMF of every position (O(slots)). */
  setLeverageLimit(leverageLimit: Ratio): void {
    this.refreshMarks();
    this.leverageLimitRatio = leverageLimit;
    this.priceLeverage(leverageLimit);
    const ctx = this.ctx;
    for (let a = 0; a < ctx.assetCount; a++) {
      if (this.assetLiability[a]! !== 0n) this.applyAsset(a, this.heldAfterOrders(a), this.borrowedAfterOrders(a));
    }
    for (let m = 0; m < ctx.marketCount; m++) {
      if (this.posNotional[m]! !== 0n) {
        this.applyPosition(m, this.posQty[m]!, this.posCost[m]!, this.posOpenBuy[m]!, this.posOpenSell[m]!);
      }
    }
  }

  // ---- queries ------------------------------------------------------------------------------------------------

  get leverageLimit(): Ratio {
    return this.leverageLimitRatio;
  }

  /** Net balance: spendable + locked − borrowed (units). */
  assetBalance(asset: number): bigint {
    return this.assetSpendable[asset]! + this.assetLocked[asset]! - this.assetBorrowed[asset]!;
  }

  /** Units held (spendable + locked) and owed now, not counting open orders. */
  assetHeld(asset: number): bigint {
    return this.assetSpendable[asset]! + this.assetLocked[asset]!;
  }

  assetBorrowedUnits(asset: number): bigint {
    return this.assetBorrowed[asset]!;
  }

  /** Units held as the account would stand after its open orders fill (spendable + credited proceeds). */
  heldAfterOrders(asset: number): bigint {
    const repay = this.assetOpenRepay[asset]!;
    const borrowed = this.assetBorrowed[asset]!;
    return this.assetSpendable[asset]! + this.assetOpenInflow[asset]! + (repay > borrowed ? repay - borrowed : 0n);
  }

  /** Units owed as the account would stand after its open orders fill (borrowed − repaid + what they may borrow). */
  borrowedAfterOrders(asset: number): bigint {
    const repay = this.assetOpenRepay[asset]!;
    const borrowed = this.assetBorrowed[asset]!;
    return (repay < borrowed ? borrowed - repay : 0n) + this.assetOpenBorrow[asset]!;
  }

  /** C1: the weight the asset's holding gets now (the flat weight when not held or borrowed). */
  assetWeightRatio(asset: number): Ratio {
    this.refreshMarks();
    return this.assetWeight[asset]!;
  }

  assetCollateralValueUsd(asset: number): bigint {
    this.refreshMarks();
    return this.assetCollateral[asset]!;
  }

  assetLiabilityUsd(asset: number): bigint {
    this.refreshMarks();
    return this.assetLiability[asset]!;
  }

  positionQuantity(market: number): bigint {
    return this.posQty[market]!;
  }

  positionNotionalUsd(market: number): bigint {
    this.refreshMarks();
    return this.posNotional[market]!;
  }

  positionUnrealizedPnlUsd(market: number): bigint {
    this.refreshMarks();
    return this.posUpnl[market]!;
  }

  /** C5: the position's maintenance margin (its exposure notional × MMF), USD. */
  positionMaintenanceMarginUsd(market: number): bigint {
    this.refreshMarks();
    return this.posMm[market]!;
  }

  /** C5: the maintenance margin of the asset's borrow (its liability × borrow MMF), USD; 0 when nothing is owed. */
  assetMaintenanceMarginUsd(asset: number): bigint {
    this.refreshMarks();
    return this.assetMm[asset]!;
  }

  /** C1 as the account stands now (open orders not filled): the weight of the units held. */
  heldWeightRatio(asset: number): Ratio {
    const held = this.assetHeld(asset);
    const ctx = this.ctx;
    if (held <= 0n) return ctx.haircutFlatWeight[asset]!;
    return haircutWeight(ctx.haircut[asset]!, notionalUsd(held, ctx.assetDecimals[asset]!, ctx.assetMark[asset]!, Rounding.Up));
  }

  /** C1 as the account stands now: collateral value of the units held (spendable + locked). */
  heldCollateralValueUsd(asset: number): bigint {
    const held = this.assetHeld(asset);
    if (held <= 0n) return 0n;
    const ctx = this.ctx;
    return collateralValueUsd(held, ctx.assetDecimals[asset]!, ctx.assetMark[asset]!, this.heldWeightRatio(asset));
  }

  /** C3 as the account stands now: liability of the units owed. */
  borrowedLiabilityUsd(asset: number): bigint {
    const ctx = this.ctx;
    return borrowLiabilityUsd(this.assetBorrowed[asset]!, ctx.assetDecimals[asset]!, ctx.assetMark[asset]!);
  }

  /** C2 as the account stands now (the statement's collateral; off the hot path: O(assets)). */
  currentCollateralValueUsd(): bigint {
    let sum = 0n;
    for (let a = 0; a < this.ctx.assetCount; a++) sum += this.heldCollateralValueUsd(a);
    return sum;
  }

  /** C3's liability as the account stands now. */
  currentLiabilityUsd(): bigint {
    let sum = 0n;
    for (let a = 0; a < this.ctx.assetCount; a++) sum += this.borrowedLiabilityUsd(a);
    return sum;
  }

  /** C3 as the account stands now, open orders not filled (the statement's net equity; O(assets)). */
  currentNetEquityUsd(): bigint {
    this.refreshMarks();
    return netEquityUsd(this.currentCollateralValueUsd(), this.upnlSum, this.unsettled, this.currentLiabilityUsd());
  }

  /** C2 (after open orders fill) */
  totalCollateralValueUsd(): bigint {
    this.refreshMarks();
    return this.collateralSum;
  }

  totalLiabilityUsd(): bigint {
    this.refreshMarks();
    return this.liabilitySum;
  }

  totalUnrealizedPnlUsd(): bigint {
    this.refreshMarks();
    return this.upnlSum;
  }

  /** C3 */
  netEquityUsd(): bigint {
    this.refreshMarks();
    return this.netEquitySum;
  }

  /** C4: total exposure notional (borrows and perpetual exposures). */
  totalExposureNotionalUsd(): bigint {
    this.refreshMarks();
    return this.tenSum;
  }

  /** Σ notional × IMF over positions. */
  initialMarginUsd(): bigint {
    this.refreshMarks();
    return this.imSum;
  }

  /** Σ notional × MMF over positions. */
  maintenanceMarginUsd(): bigint {
    this.refreshMarks();
    return this.mmSum;
  }

  /** C6 */
  accountImf(): Ratio {
    this.refreshMarks();
    return accountImf(this.imSum, this.tenSum, this.leverageLimitRatio);
  }

  /** C6 */
  accountMmf(): Ratio {
    this.refreshMarks();
    return accountMmf(this.mmSum, this.tenSum);
  }

  /** C6: net equity locked = account IMF × TEN. */
  netEquityLockedUsd(): bigint {
    this.refreshMarks();
    return netEquityLockedUsd(this.imSum, this.tenSum, this.leverageLimitRatio);
  }

  /** C6: net equity available = net equity − locked. */
  netEquityAvailableUsd(): bigint {
    return this.netEquityUsd() - this.netEquityLockedUsd();
  }

  /** C7 (UNBOUNDED with no exposure). */
  marginFraction(): Ratio {
    return marginFraction(this.netEquityUsd(), this.tenSum);
  }

  /** C7 (0 with no exposure, UNBOUNDED with exposure and net equity ≤ 0). */
  imr(): Ratio {
    const ne = this.netEquityUsd();
    return initialMarginRatio(netEquityLockedUsd(this.imSum, this.tenSum, this.leverageLimitRatio), ne, this.tenSum);
  }

  /** C7 */
  mmr(): Ratio {
    const ne = this.netEquityUsd();
    return maintenanceMarginRatio(this.mmSum, ne, this.tenSum);
  }

  /** C9: MMR ≥ 100%. */
  isLiquidatable(): boolean {
    const ne = this.netEquityUsd();
    return isLiquidatable(this.mmSum, ne, this.tenSum);
  }

  // ---- hypothetical checks (no mutation) ----------------------------------------------------------------------

  /** C7 after `changes`: the IMR the account would have. */
  imrAfter(changes: MarginChanges): Ratio {
    this.evaluate(changes, false);
    return initialMarginRatio(this.lockedAfter(), this.afterNetEquity, this.afterTen);
  }

  /** C7 after `changes`: the MMR the account would have. */
  mmrAfter(changes: MarginChanges): Ratio {
    this.evaluate(changes, true);
    return maintenanceMarginRatio(this.afterMm, this.afterNetEquity, this.afterTen);
  }

  /** Net equity after `changes`. */
  netEquityAfterUsd(changes: MarginChanges): bigint {
    this.evaluate(changes, false);
    return this.afterNetEquity;
  }

  /** C8's IMR test alone: IMR after `changes` < 100% (or no exposure after). */
  passesInitialMarginAfter(changes: MarginChanges): boolean {
    this.evaluate(changes, false);
    return passesInitialMargin(this.afterIm, this.afterNetEquity, this.afterTen);
  }

  /**
   * C8's "only reduces risk": no exposure grows (no borrow grows, no perpetual exposure grows or flips side) and
   * the IMR after is no worse than now. A withdrawal or a spend of collateral grows no exposure but worsens the
   * IMR, so it is not risk-reducing; buying back a borrowed asset or closing a position usually is.
   */
  isRiskReducing(changes: MarginChanges): boolean {
    this.evaluate(changes, false);
    return this.riskReducingAfter();
  }

  /**
   * After a check (wouldPassInitialMargin, passesInitialMarginAfter, isRiskReducing, imrAfter): would the evaluated
   * changes raise the available equity (C6: net equity − locked)? An open order whose fill would (e.g. a sale of
   * weaker collateral for stronger, a buy far below the mark) is credited nothing while it rests, so that cancelling
   * it can never take away room that other orders were accepted on.
   */
  lastChangesRaiseAvailableEquity(): boolean {
    const lockedNow = netEquityLockedUsd(this.imSum, this.tenSum, this.leverageLimitRatio);
    return this.afterNetEquity - this.lockedAfter() > this.netEquitySum - lockedNow;
  }

  /**
   * C8: would an action with these effects be accepted? IMR after < 100%, or the action only reduces risk.
   * This is the one check the pre-trade path, withdrawals, transfers and the max-quantity solvers all use.
   */
  wouldPassInitialMargin(changes: MarginChanges): boolean {
    this.evaluate(changes, false);
    if (passesInitialMargin(this.afterIm, this.afterNetEquity, this.afterTen)) return true;
    return this.riskReducingAfter();
  }

  /**
   * A3: would setting `leverageLimit` be accepted? IMR at the new limit < 100%, or the initial margin does not
   * grow (raising the limit never increases risk).
   */
  wouldPassLeverageLimit(leverageLimit: Ratio): boolean {
    this.refreshMarks();
    const ctx = this.ctx;
    let im = 0n;
    for (let a = 0; a < ctx.assetCount; a++) {
      const liability = this.assetLiability[a]!;
      if (liability === 0n) continue;
      im += positionMarginUsd(liability, positionImf(liability, leverageLimit, ctx.platformMaxLeverage, ctx.borrowImf[a]!));
    }
    for (let m = 0; m < ctx.marketCount; m++) {
      const notional = this.posNotional[m]!;
      if (notional === 0n) continue;
      im += positionMarginUsd(notional, positionImf(notional, leverageLimit, ctx.platformMaxLeverage, ctx.marketImf[m]!));
    }
    const ne = this.netEquitySum;
    return passesInitialMargin(im, ne, this.tenSum) || im <= this.imSum;
  }

  /**
   * Recomputes every slot from scratch with the plain formulas (no flat-region shortcuts) and throws if a stored
   * contribution or a running sum differs. For tests and debug builds: assertions are documentation that runs.
   */
  validateInternalState(): void {
    this.refreshMarks();
    const ctx = this.ctx;
    let collateral = 0n;
    let liability = 0n;
    let ten = 0n;
    let im = 0n;
    let mm = 0n;
    let upnl = 0n;
    // Each slot is checked against a recomputation; the sums below then add the (checked) stored contributions.
    for (let a = 0; a < ctx.assetCount; a++) {
      this.validateAssetSlot(a);
      collateral += this.assetCollateral[a]!;
      liability += this.assetLiability[a]!;
      ten += this.assetLiability[a]!;
      im += this.assetIm[a]!;
      mm += this.assetMm[a]!;
    }
    for (let m = 0; m < ctx.marketCount; m++) {
      if (!ctx.marketIsPerpetual[m]) continue;
      this.validateMarketSlot(m);
      ten += this.posNotional[m]!;
      im += this.posIm[m]!;
      mm += this.posMm[m]!;
      upnl += this.posUpnl[m]!;
    }
    const L = this.leverageLimitRatio;
    if (collateral !== this.collateralSum) invariantFailed("total collateral", this.collateralSum, collateral);
    if (liability !== this.liabilitySum) invariantFailed("total liability", this.liabilitySum, liability);
    if (ten !== this.tenSum) invariantFailed("TEN", this.tenSum, ten);
    if (im !== this.imSum) invariantFailed("Σ initial margin", this.imSum, im);
    if (mm !== this.mmSum) invariantFailed("Σ maintenance margin", this.mmSum, mm);
    if (upnl !== this.upnlSum) invariantFailed("Σ unrealized PnL", this.upnlSum, upnl);
    const ne = netEquityUsd(collateral, upnl, this.unsettled, liability);
    if (ne !== this.netEquitySum) invariantFailed("net equity", this.netEquitySum, ne);
    // C6: every position's IMF ≥ 1/leverageLimit, so Σ margin ≥ TEN / leverageLimit and locked = Σ margin.
    if (netEquityLockedUsd(im, ten, L) !== im) invariantFailed("locked vs Σ initial margin", netEquityLockedUsd(im, ten, L), im);
  }

  /** One asset slot recomputed with the plain formulas against its stored contribution and open-order state. */
  private validateAssetSlot(a: number): void {
    const ctx = this.ctx;
    const L = this.leverageLimitRatio;
    const fail = invariantFailed;
    const held = this.heldAfterOrders(a);
    const owed = this.borrowedAfterOrders(a);
    const mark = ctx.assetMark[a]!;
    const dec = ctx.assetDecimals[a]!;
    let c = 0n;
    let l = 0n;
    let i = 0n;
    let k = 0n;
    if (held > 0n) {
      const w = haircutWeight(ctx.haircut[a]!, notionalUsd(held, dec, mark, Rounding.Up));
      if (w !== this.assetWeight[a]) fail(`asset ${a} weight`, this.assetWeight[a]!, w);
      c = collateralValueUsd(held, dec, mark, w);
    }
    if (owed > 0n) {
      l = borrowLiabilityUsd(owed, dec, mark);
      i = positionMarginUsd(l, positionImf(l, L, ctx.platformMaxLeverage, ctx.borrowImf[a]!));
      k = positionMarginUsd(l, positionMmf(l, ctx.borrowMmf[a]!));
    }
    if (this.assetSpendable[a]! < 0n || this.assetLocked[a]! < 0n || this.assetBorrowed[a]! < 0n) fail(`asset ${a} negative holding`, -1n, 0n);
    if (this.assetOpenBorrow[a]! < 0n || this.assetOpenInflow[a]! < 0n || this.assetOpenRepay[a]! < 0n) fail(`asset ${a} negative open-order state`, -1n, 0n);
    if (owed !== this.assetOwedAfter[a]) fail(`asset ${a} owed after orders`, this.assetOwedAfter[a]!, owed);
    if ((this.assetHasOpen[a] !== 0) !== (this.assetOpenBorrow[a] !== 0n || this.assetOpenInflow[a] !== 0n || this.assetOpenRepay[a] !== 0n)) fail(`asset ${a} open flag`, BigInt(this.assetHasOpen[a]!), 0n);
    if (c !== this.assetCollateral[a]) fail(`asset ${a} collateral`, this.assetCollateral[a]!, c);
    if (l !== this.assetLiability[a]) fail(`asset ${a} liability`, this.assetLiability[a]!, l);
    if (i !== this.assetIm[a]) fail(`asset ${a} initial margin`, this.assetIm[a]!, i);
    if (k !== this.assetMm[a]) fail(`asset ${a} maintenance margin`, this.assetMm[a]!, k);
  }

  /** One perpetual market's position recomputed with the plain formulas against its stored contribution. */
  private validateMarketSlot(m: number): void {
    const ctx = this.ctx;
    const L = this.leverageLimitRatio;
    const fail = invariantFailed;
    const mark = ctx.marketMark[m]!;
    const dec = ctx.marketBaseDecimals[m]!;
    const exposure = exposureQuantity(this.posQty[m]!, this.posOpenBuy[m]!, this.posOpenSell[m]!);
    const n = notionalUsd(exposure, dec, mark, Rounding.Up);
    const i = n === 0n ? 0n : positionMarginUsd(n, positionImf(n, L, ctx.platformMaxLeverage, ctx.marketImf[m]!));
    const k = n === 0n ? 0n : positionMarginUsd(n, positionMmf(n, ctx.marketMmf[m]!));
    const u = unrealizedPnlUsd(this.posQty[m]!, this.posCost[m]!, dec, mark);
    if (n !== this.posNotional[m]) fail(`market ${m} notional`, this.posNotional[m]!, n);
    if (i !== this.posIm[m]) fail(`market ${m} initial margin`, this.posIm[m]!, i);
    if (k !== this.posMm[m]) fail(`market ${m} maintenance margin`, this.posMm[m]!, k);
    if (u !== this.posUpnl[m]) fail(`market ${m} unrealized PnL`, this.posUpnl[m]!, u);
  }

  // ---- internals ----------------------------------------------------------------------------------------------

  private requirePerpetual(market: number): void {
    if (!this.ctx.marketIsPerpetual[market]) throw new RangeError(`market ${market} is not a perpetual market`);
  }

  /** IMF floors and flat-region limits for the leverage limit (closed form, no root). */
  private priceLeverage(leverageLimit: Ratio): void {
    const ctx = this.ctx;
    for (let a = 0; a < ctx.assetCount; a++) {
      const imf = ctx.borrowImf[a]!;
      const floor = imfFloor(leverageLimit, ctx.platformMaxLeverage, imf.base);
      this.borrowImfFloor[a] = floor;
      this.borrowImfFlatLimitUsd[a] = sqrtTermFlatLimitUsd(imf.factor, floor);
    }
    for (let m = 0; m < ctx.marketCount; m++) {
      const imf = ctx.marketImf[m];
      if (imf === null || imf === undefined) continue;
      const floor = imfFloor(leverageLimit, ctx.platformMaxLeverage, imf.base);
      this.marketImfFloor[m] = floor;
      this.marketImfFlatLimitUsd[m] = sqrtTermFlatLimitUsd(imf.factor, floor);
    }
  }

  /** Revalues the slots whose mark moved since this account last looked. */
  private refreshMarks(): void {
    const ctx = this.ctx;
    if (this.markSeen === ctx.markVersion) return;
    for (let a = 0; a < ctx.assetCount; a++) {
      if (this.assetSeen[a] !== ctx.assetMarkVersion[a]) {
        const held = this.heldAfterOrders(a);
        const owed = this.borrowedAfterOrders(a);
        if (held !== 0n || owed !== 0n) this.applyAsset(a, held, owed);
        else this.assetSeen[a] = ctx.assetMarkVersion[a]!;
      }
    }
    for (let m = 0; m < ctx.marketCount; m++) {
      if (this.posSeen[m] !== ctx.marketMarkVersion[m]) {
        if (this.posQty[m] !== 0n || this.posCost[m] !== 0n || this.posOpenBuy[m] !== 0n || this.posOpenSell[m] !== 0n) {
          this.applyPosition(m, this.posQty[m]!, this.posCost[m]!, this.posOpenBuy[m]!, this.posOpenSell[m]!);
        } else this.posSeen[m] = ctx.marketMarkVersion[m]!;
      }
    }
    this.markSeen = ctx.markVersion;
  }

  /** Contribution of asset `a` holding `held` and owing `owed` units (both ≥ 0) into the scratch fields: the held
   * units are collateral (C1), the owed units a liability and a position with the asset's borrow IMF/MMF (C3–C5).
   * The same formulas as the pure ones (validateInternalState proves it), with the flat-region shortcut (exactly
   * equal up to the limit, see haircutFlatLimitUsd / sqrtTermFlatLimitUsd), the slot's previous roots as Newton
   * seeds, and plain truncating division where the operands are known non-negative. */
  private computeAsset(a: number, held: bigint, owed: bigint, withMaintenance: boolean): void {
    const ctx = this.ctx;
    const mark = ctx.assetMark[a]!;
    const unit = ctx.assetUnit[a]!;
    this.sRoot = 0n;
    this.sBorrowRoot = 0n;
    let weight = ctx.haircutFlatWeight[a]!;
    if (held > 0n) {
      const value = held * mark;
      const notionalUp = (value + ctx.assetUnitMinusOne[a]!) / unit; // ceil: value ≥ 0
      if (notionalUp > ctx.haircutFlatLimitUsd[a]!) {
        const root = sqrtNotionalUpNear(notionalUp, this.assetRoot[a]!);
        this.sRoot = root;
        weight = haircutWeightFromRoot(ctx.haircut[a]!, root);
      }
      this.sCollateral =
        weight === RATIO_SCALE ? divFloorNonNegative(value, unit) : divFloorNonNegative(value * weight, ctx.assetUnitRatio[a]!);
    } else this.sCollateral = 0n;
    this.sWeight = weight;
    if (owed === 0n) {
      this.sLiability = 0n;
      this.sIm = 0n;
      this.sMm = 0n;
      return;
    }
    const liability = (owed * mark + ctx.assetUnitMinusOne[a]!) / unit; // ceil(owed × mark / unit)
    this.sLiability = liability;
    let imf = this.borrowImfFloor[a]!;
    const mmfFn = ctx.borrowMmf[a]!;
    let mmf = mmfFn.base;
    const imfBeyond = liability > this.borrowImfFlatLimitUsd[a]!;
    const mmfBeyond = withMaintenance && liability > ctx.borrowMmfFlatLimitUsd[a]!;
    if (imfBeyond || mmfBeyond) {
      const root = sqrtNotionalUpNear(liability, this.assetBorrowRoot[a]!);
      this.sBorrowRoot = root;
      if (imfBeyond) {
        const term = sqrtMarginTermFromRoot(ctx.borrowImf[a]!.factor, root);
        if (term > imf) imf = term;
      }
      if (mmfBeyond) {
        const term = sqrtMarginTermFromRoot(mmfFn.factor, root);
        if (term > mmf) mmf = term;
      }
    }
    this.sIm = divCeilNonNegative(liability * imf, RATIO_SCALE);
    if (withMaintenance) this.sMm = divCeilNonNegative(liability * mmf, RATIO_SCALE);
  }

  /** Contribution of perpetual `m` into the scratch fields (same conventions as computeAsset). */
  private computePosition(
    m: number,
    qty: bigint,
    cost: bigint,
    openBuy: bigint,
    openSell: bigint,
    withMaintenance: boolean,
  ): void {
    const ctx = this.ctx;
    const mark = ctx.marketMark[m]!;
    const unit = ctx.marketBaseUnit[m]!;
    const exposure = exposureQuantity(qty, openBuy, openSell);
    // Signed: the general floor.
    this.sUpnl = qty === 0n && cost === 0n ? 0n : unrealizedPnlUsd(qty, cost, ctx.marketBaseDecimals[m]!, mark);
    this.sRoot = 0n;
    if (exposure === 0n) {
      this.sNotional = 0n;
      this.sIm = 0n;
      this.sMm = 0n;
      return;
    }
    const notional = divCeilNonNegative(exposure * mark, unit);
    this.sNotional = notional;
    let imf = this.marketImfFloor[m]!;
    const mmfFn = ctx.marketMmf[m]!;
    let mmf = mmfFn.base;
    const imfBeyond = notional > this.marketImfFlatLimitUsd[m]!;
    const mmfBeyond = withMaintenance && notional > ctx.marketMmfFlatLimitUsd[m]!;
    if (imfBeyond || mmfBeyond) {
      const root = sqrtNotionalUpNear(notional, this.posRoot[m]!);
      this.sRoot = root;
      if (imfBeyond) {
        const term = sqrtMarginTermFromRoot(ctx.marketImf[m]!.factor, root);
        if (term > imf) imf = term;
      }
      if (mmfBeyond) {
        const term = sqrtMarginTermFromRoot(mmfFn.factor, root);
        if (term > mmf) mmf = term;
      }
    }
    this.sIm = divCeilNonNegative(notional * imf, RATIO_SCALE);
    if (withMaintenance) this.sMm = divCeilNonNegative(notional * mmf, RATIO_SCALE);
  }

  private applyAsset(a: number, held: bigint, owed: bigint): void {
    this.computeAsset(a, held, owed, true);
    this.netEquitySum += this.sCollateral - this.assetCollateral[a]! - (this.sLiability - this.assetLiability[a]!);
    this.collateralSum += this.sCollateral - this.assetCollateral[a]!;
    this.liabilitySum += this.sLiability - this.assetLiability[a]!;
    this.tenSum += this.sLiability - this.assetLiability[a]!;
    this.imSum += this.sIm - this.assetIm[a]!;
    this.mmSum += this.sMm - this.assetMm[a]!;
    this.assetWeight[a] = this.sWeight;
    this.assetCollateral[a] = this.sCollateral;
    this.assetLiability[a] = this.sLiability;
    this.assetIm[a] = this.sIm;
    this.assetMm[a] = this.sMm;
    if (this.sRoot !== 0n) this.assetRoot[a] = this.sRoot;
    if (this.sBorrowRoot !== 0n) this.assetBorrowRoot[a] = this.sBorrowRoot;
    this.assetSeen[a] = this.ctx.assetMarkVersion[a]!;
  }

  private applyPosition(m: number, qty: bigint, cost: bigint, openBuy: bigint, openSell: bigint): void {
    this.computePosition(m, qty, cost, openBuy, openSell, true);
    this.netEquitySum += this.sUpnl - this.posUpnl[m]!;
    this.tenSum += this.sNotional - this.posNotional[m]!;
    this.imSum += this.sIm - this.posIm[m]!;
    this.mmSum += this.sMm - this.posMm[m]!;
    this.upnlSum += this.sUpnl - this.posUpnl[m]!;
    this.posQty[m] = qty;
    this.posCost[m] = cost;
    this.posOpenBuy[m] = openBuy;
    this.posOpenSell[m] = openSell;
    this.posNotional[m] = this.sNotional;
    this.posIm[m] = this.sIm;
    this.posMm[m] = this.sMm;
    this.posUpnl[m] = this.sUpnl;
    if (this.sRoot !== 0n) this.posRoot[m] = this.sRoot;
    this.posSeen[m] = this.ctx.marketMarkVersion[m]!;
  }

  /**
   * Resolves entry `i` of `changes` against asset `a`'s slot (see MarginChanges): explicit holdings first, then the
   * flow, then the units held whatever is owed, then the open orders. Leaves the units held and owed in rHeld, rOwed.
   */
  private resolveAsset(changes: MarginChanges, i: number, a: number): void {
    let spendable = this.assetSpendable[a]!;
    let borrowed = this.assetBorrowed[a]!;
    const extra = changes.assetExtra[i] !== 0;
    if (extra) {
      spendable += changes.assetSpendableDeltas[i]!;
      borrowed += changes.assetBorrowedDeltas[i]!;
    }
    const flow = changes.assetDeltas[i]!;
    let borrowAtFill = 0n;
    if (flow < 0n) {
      const out = -flow;
      if (spendable >= out) spendable -= out;
      else {
        if (changes.borrowsAtFill) borrowAtFill = out - spendable;
        else borrowed += out - spendable;
        spendable = 0n;
      }
    } else if (flow > 0n) {
      if (borrowed === 0n) spendable += flow;
      else {
        const repaid = borrowed < flow ? borrowed : flow;
        borrowed -= repaid;
        spendable += flow - repaid;
      }
    }
    let held = extra ? spendable + changes.assetHeldIn[i]! : spendable;
    let owed = borrowAtFill === 0n ? borrowed : borrowed + borrowAtFill;
    if (this.assetHasOpen[a] !== 0) {
      // Then the open orders: their repaying proceeds, their held proceeds and what they may borrow.
      const openRepay = this.assetOpenRepay[a]!;
      const openRepaid = openRepay < borrowed ? openRepay : borrowed;
      owed += this.assetOpenBorrow[a]! - openRepaid;
      held += this.assetOpenInflow[a]! + openRepay - openRepaid;
    }
    this.rHeld = held;
    this.rOwed = owed;
  }

  /** Fills the after* fields: the sums as they would be with `changes` applied (touched slots only). */
  private evaluate(changes: MarginChanges, withMaintenance: boolean): void {
    this.refreshMarks();
    let ne = this.netEquitySum;
    let im = this.imSum;
    let mm = this.mmSum;
    let ten = this.tenSum;
    let nonIncreasing = true;
    for (let i = 0; i < changes.assetCount; i++) {
      const a = changes.assets[i]!;
      this.resolveAsset(changes, i, a);
      const held = this.rHeld;
      const owed = this.rOwed;
      const owedBefore = this.assetOwedAfter[a]!;
      this.computeAsset(a, held, owed, withMaintenance);
      if (owed === 0n && owedBefore === 0n) {
        // Collateral only, before and after: no liability, no margin on this slot.
        ne += this.sCollateral - this.assetCollateral[a]!;
        continue;
      }
      const liabilityDelta = this.sLiability - this.assetLiability[a]!;
      ne += this.sCollateral - this.assetCollateral[a]! - liabilityDelta;
      ten += liabilityDelta;
      im += this.sIm - this.assetIm[a]!;
      if (withMaintenance) mm += this.sMm - this.assetMm[a]!;
      // A borrow grows when more is owed after.
      if (owed > owedBefore) nonIncreasing = false;
    }
    for (let i = 0; i < changes.positionCount; i++) {
      const m = changes.markets[i]!;
      this.requirePerpetual(m);
      const qtyBefore = this.posQty[m]!;
      const qty = qtyBefore + changes.positionQtyDeltas[i]!;
      const openBuy = this.posOpenBuy[m]! + changes.positionOpenBuyDeltas[i]!;
      const openSell = this.posOpenSell[m]! + changes.positionOpenSellDeltas[i]!;
      this.computePosition(m, qty, this.posCost[m]! + changes.positionCostDeltas[i]!, openBuy, openSell, withMaintenance);
      ne += this.sUpnl - this.posUpnl[m]!;
      ten += this.sNotional - this.posNotional[m]!;
      im += this.sIm - this.posIm[m]!;
      if (withMaintenance) mm += this.sMm - this.posMm[m]!;
      if (this.sNotional > this.posNotional[m]! || (qty > 0n && qtyBefore < 0n) || (qty < 0n && qtyBefore > 0n)) {
        nonIncreasing = false;
      }
    }
    this.afterNetEquity = ne;
    this.afterIm = im;
    this.afterMm = mm;
    this.afterTen = ten;
    this.afterExposureNonIncreasing = nonIncreasing;
  }

  private lockedAfter(): bigint {
    return netEquityLockedUsd(this.afterIm, this.afterTen, this.leverageLimitRatio);
  }

  private riskReducingAfter(): boolean {
    if (!this.afterExposureNonIncreasing) return false;
    const ne = this.netEquitySum;
    return initialMarginRatioNotWorse(this.imSum, ne, this.tenSum, this.afterIm, this.afterNetEquity, this.afterTen);
  }
}

function invariantFailed(what: string, got: bigint, want: bigint): never {
  throw new Error(`AccountMargin invariant: ${what} is ${got}, recomputed ${want}`);
}
