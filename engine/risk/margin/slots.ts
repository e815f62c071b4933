// The incremental per-slot state of one account's cross margin (C2–C5): the slots' inputs, their contributions to the
// running sums, and the O(1) updates and lazy mark refresh that keep them. AccountMargin (account.ts) adds the queries
// and the hypothetical checks (C6–C9) on top; this file is the state they read.

import type { Ratio } from "../../fixed/index.ts";
import { RATIO_SCALE } from "../../model/index.ts";
import type { MarginContext } from "./context.ts";
import { zeroBigints, zeroFlags } from "../../collections/index.ts";
import {
  divCeilRatio,
  divFloorNonNegative,
  exposureQuantity,
  haircutWeightFromRoot,
  imfFloor,
  sqrtMarginTermFromRoot,
  sqrtNotionalUpNear,
  sqrtTermFlatLimitUsd,
} from "./formulas.ts";

/**
 * The zero arrays every margin state's slot arrays start as, one per length, shared until the slot's first write of
 * another value (kept). Not frozen, unlike the accounts' sharedZeroBigints: a frozen array has its own map, and every
 * read of a slot array would then see two (perp-cpu-compare: +7% perp-order CPU); kept is the only writer of a slot
 * array, and it copies a shared one first.
 */
const SLOT_ZEROS: (bigint[] | undefined)[] = [];
const SLOT_ZERO_FLAGS: (number[] | undefined)[] = [];

function slotZeros(n: number): readonly bigint[] {
  return SLOT_ZEROS[n] ?? (SLOT_ZEROS[n] = zeroBigints(n));
}

function slotZeroFlags(n: number): readonly number[] {
  return SLOT_ZERO_FLAGS[n] ?? (SLOT_ZERO_FLAGS[n] = zeroFlags(n));
}

/**
 * xs with xs[i] = x: xs itself, written unless it holds that value already, or — when xs is the shared zero array
 * (slotZeros, a slot array no write has reached) — a fresh copy written, which the caller stores in its field:
 * `this.f = kept(this.f, i, x)`. A slot's inputs and parts are recomputed as new bigints on every update, most of them
 * equal to what the slot holds (a realization moves the PnL, not the size, notional or margin); storing an equal new
 * bigint into a long-lived array makes it survive the next scavenge and be promoted, while the old one becomes
 * old-generation garbage. Keeping the old one changes no value.
 */
function kept(xs: readonly bigint[], i: number, x: bigint): readonly bigint[] {
  if (xs[i] === x) return xs;
  const own = xs === SLOT_ZEROS[xs.length] ? zeroBigints(xs.length) : (xs as bigint[]);
  own[i] = x === 0n ? 0n : x; // a computed zero is a fresh bigint; the literal is one shared old object
  return own;
}

/** flags with flags[i] = x, as kept for a flag array (slotZeroFlags until its first non-zero write). */
function keptFlag(flags: readonly number[], i: number, x: number): readonly number[] {
  if (flags[i] === x) return flags;
  const own = flags === SLOT_ZERO_FLAGS[flags.length] ? zeroFlags(flags.length) : (flags as number[]);
  own[i] = x;
  return own;
}

/**
 * The output of computeAsset / computePosition, read by its caller before any other account's slot is computed. One
 * record for every account, not fields of each: the values a computation leaves behind are new bigints, and on a
 * long-lived account record the last of them stayed referenced until that account's next computation — each
 * scavenge copied them and promoted them to the old generation (perp.realize-100k, issue 12 fourth round: ~9 of the
 * ~20 bigints a realized holder left surviving). Kept in one record, a computation's leftovers die young.
 */
class SlotOutput {
  sWeight = 0n;
  sCollateral = 0n;
  sLiability = 0n;
  sIm = 0n;
  sMm = 0n;
  sNotional = 0n;
  sUpnl = 0n;
  sRoot = 0n;
  sBorrowRoot = 0n;
}
export const slotOut = new SlotOutput();

/** C5: the IMF floors and flat-region limits of one leverage limit, per asset (borrows) and per market (0 for a spot
 * market): a function of the context's static configuration and the limit alone. */
class LeveragePricing {
  readonly borrowImfFloor: bigint[] = [];
  readonly borrowImfFlatLimitUsd: bigint[] = [];
  readonly marketImfFloor: bigint[] = [];
  readonly marketImfFlatLimitUsd: bigint[] = [];
  /** marketImfFloor as doubles (fill-bound.ts's certificate). */
  readonly marketImfFloorNumber: number[] = [];

  constructor(ctx: MarginContext, leverageLimit: Ratio) {
    for (let a = 0; a < ctx.assetCount; a++) {
      const imf = ctx.borrowImf[a]!;
      const floor = imfFloor(leverageLimit, ctx.platformMaxLeverage, imf.base);
      this.borrowImfFloor.push(floor);
      this.borrowImfFlatLimitUsd.push(sqrtTermFlatLimitUsd(imf.factor, floor));
    }
    for (let m = 0; m < ctx.marketCount; m++) {
      const imf = ctx.marketImf[m];
      const floor = imf === null || imf === undefined ? 0n : imfFloor(leverageLimit, ctx.platformMaxLeverage, imf.base);
      this.marketImfFloor.push(floor);
      this.marketImfFloorNumber.push(Number(floor));
      this.marketImfFlatLimitUsd.push(imf === null || imf === undefined ? 0n : sqrtTermFlatLimitUsd(imf.factor, floor));
    }
  }
}

/** Leverage limits whose pricing a context keeps (A3: whole numbers up to LEVERAGE_LIMIT_MAX; beyond, made anew). */
const LEVERAGE_PRICINGS_MAX = 256;
const pricings = new WeakMap<MarginContext, Map<Ratio, LeveragePricing>>();

/**
 * The pricing of `leverageLimit` in `ctx`, one record shared by every account with that limit: per account, its four
 * arrays and their bigints were ~750 bytes of a 100,000-account heap (perp.realize-100k's heap snapshot). The record
 * is never written after it is made (priceLeverage only points an account at another).
 */
function leveragePricing(ctx: MarginContext, leverageLimit: Ratio): LeveragePricing {
  let byLimit = pricings.get(ctx);
  if (byLimit === undefined) pricings.set(ctx, (byLimit = new Map()));
  let p = byLimit.get(leverageLimit);
  if (p === undefined) {
    p = new LeveragePricing(ctx, leverageLimit);
    if (byLimit.size < LEVERAGE_PRICINGS_MAX) byLimit.set(leverageLimit, p);
  }
  return p;
}

/** The slots and running sums of one account (see AccountMargin, which is the class callers use). */
export class MarginSlots {
  protected leverageLimitRatio: Ratio;

  // Asset slots. Inputs: the units the account holds and may spend (available + lent), holds for open orders
  // (locked), owes (borrowed), and its open orders' effect: what they may still borrow and the proceeds credited to
  // them (see setAssetHoldings). The slot is valued as the account would stand after its open orders fill: held =
  // spendable + credited proceeds (locked units count as spent), borrowed = borrowed + open-order borrows.
  protected assetSpendable: readonly bigint[];
  protected assetLocked: readonly bigint[];
  protected assetBorrowed: readonly bigint[];
  protected assetOpenBorrow: readonly bigint[];
  protected assetOpenInflow: readonly bigint[];
  protected assetOpenRepay: readonly bigint[];
  /** 1 when the slot has any open-order state (borrow, proceeds, repayments); its owed units after the orders. */
  protected assetHasOpen: readonly number[];
  protected assetOwedAfter: readonly bigint[];
  // C4/C8 corners: the sell orders' part of the slot's open-order inputs (locked, may borrow, credited as held,
  // credited as repaying = offsetting the borrow); the buy orders' part is the total less it (setAssetSellTerms).
  protected sellLocked: readonly bigint[];
  protected sellOpenBorrow: readonly bigint[];
  protected sellOpenInflow: readonly bigint[];
  protected sellOpenRepay: readonly bigint[];
  /** 1 when the slot has any input from open buy orders / from open sell orders; how many slots have each. */
  protected assetBuyTerms: readonly number[];
  protected assetSellTerms: readonly number[];
  protected buyTermSlots = 0;
  protected sellTermSlots = 0;
  protected readonly assetSeen: number[];
  protected assetWeight: readonly bigint[];
  protected assetCollateral: readonly bigint[];
  protected assetLiability: readonly bigint[];
  protected assetIm: readonly bigint[];
  protected assetMm: readonly bigint[];
  /** Last sqrt(notional) taken for the slot's holding / borrow (0 if none): the Newton seed for its next root. */
  protected assetRoot: readonly bigint[];
  protected assetBorrowRoot: readonly bigint[];
  /** Borrow IMF below its sqrt region, and the notional up to which it holds; both depend on leverageLimit only
   * (shared by the accounts of one leverage limit: leveragePricing). */
  protected borrowImfFloor!: readonly bigint[];
  protected borrowImfFlatLimitUsd!: readonly bigint[];

  // Perpetual position slots (indexed by market id; spot markets stay empty).
  protected posQty: readonly bigint[];
  protected posCost: readonly bigint[];
  protected posOpenBuy: readonly bigint[];
  protected posOpenSell: readonly bigint[];
  protected readonly posSeen: number[];
  protected posNotional: readonly bigint[];
  protected posIm: readonly bigint[];
  protected posMm: readonly bigint[];
  protected posUpnl: readonly bigint[];
  protected posRoot: readonly bigint[];
  protected marketImfFloor!: readonly bigint[];
  protected marketImfFlatLimitUsd!: readonly bigint[];
  protected marketImfFloorNumber!: readonly number[];

  protected unsettled = 0n;

  // Running sums (USD, PRICE_DECIMALS).
  protected collateralSum = 0n;
  protected liabilitySum = 0n;
  protected upnlSum = 0n;
  /** C3 kept as its own running sum (collateral + uPnL + unsettled − liability) so a check starts from it. */
  protected netEquitySum = 0n;
  protected tenSum = 0n;
  protected imSum = 0n;
  protected mmSum = 0n;
  protected markSeen: number;

  constructor(
    protected readonly ctx: MarginContext,
    leverageLimit: Ratio,
  ) {
    const n = ctx.assetCount;
    const m = ctx.marketCount;
    // Every slot array starts as the one shared zero array of its length (slotZeros / slotZeroFlags;
    // the weights as the context's flat weights) and becomes the account's own at its first write of another value
    // (kept): most of an account's open-order, sell, borrow and liability terms stay zero, and an array header each
    // was ~20% of perp.realize-100k's heap (100,000 accounts; a scavenge walks every old-generation page of it).
    const zeros = slotZeros(n);
    const flags = slotZeroFlags(n);
    const posZeros = slotZeros(m);
    this.assetSpendable = zeros;
    this.assetLocked = zeros;
    this.assetBorrowed = zeros;
    this.assetOpenBorrow = zeros;
    this.assetOpenInflow = zeros;
    this.assetOpenRepay = zeros;
    this.assetHasOpen = flags;
    this.assetOwedAfter = zeros;
    this.sellLocked = zeros;
    this.sellOpenBorrow = zeros;
    this.sellOpenInflow = zeros;
    this.sellOpenRepay = zeros;
    this.assetBuyTerms = flags;
    this.assetSellTerms = flags;
    this.assetSeen = new Array<number>(n).fill(ctx.markVersion);
    this.assetWeight = ctx.haircutFlatWeight;
    this.assetCollateral = zeros;
    this.assetLiability = zeros;
    this.assetIm = zeros;
    this.assetMm = zeros;
    this.assetRoot = zeros;
    this.assetBorrowRoot = zeros;
    this.posQty = posZeros;
    this.posCost = posZeros;
    this.posOpenBuy = posZeros;
    this.posOpenSell = posZeros;
    this.posSeen = new Array<number>(m).fill(ctx.markVersion);
    this.posNotional = posZeros;
    this.posIm = posZeros;
    this.posMm = posZeros;
    this.posUpnl = posZeros;
    this.posRoot = posZeros;
    this.markSeen = ctx.markVersion;
    this.leverageLimitRatio = leverageLimit;
    this.priceLeverage(leverageLimit);
  }

  // ---- updates (each O(1) in the account's size) --------------------------------------------------------------

  /** The asset's net balance is now `netQty` units, held (> 0) or borrowed (< 0), with no open orders. */
  setAssetBalance(asset: number, netQty: bigint): void {
    this.setAssetSellTerms(asset, 0n, 0n, 0n, 0n);
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
    this.assetSpendable = kept(this.assetSpendable, asset, spendable);
    this.assetLocked = kept(this.assetLocked, asset, locked);
    this.assetBorrowed = kept(this.assetBorrowed, asset, borrowed);
    this.assetOpenBorrow = kept(this.assetOpenBorrow, asset, openBorrow);
    this.assetOpenInflow = kept(this.assetOpenInflow, asset, openInflow);
    this.assetOpenRepay = kept(this.assetOpenRepay, asset, openRepay);
    this.assetHasOpen = keptFlag(this.assetHasOpen, asset, openBorrow !== 0n || openInflow !== 0n || openRepay !== 0n ? 1 : 0);
    this.setSideFlags(asset);
    const owed = this.borrowedAfterOrders(asset);
    this.assetOwedAfter = kept(this.assetOwedAfter, asset, owed);
    this.applyAsset(asset, this.heldAfterOrders(asset), owed);
  }

  /**
   * C4/C8: the sell orders' part of the asset's open-order inputs (each ≥ 0 and within the totals given next to
   * setAssetHoldings, which must follow): units they lock, may borrow at fill time, have credited as held and as
   * repaying the borrow. The corners (AccountMargin) value the account with only one side's orders filled.
   */
  setAssetSellTerms(asset: number, locked: bigint, openBorrow: bigint, openInflow: bigint, openRepay: bigint): void {
    this.sellLocked = kept(this.sellLocked, asset, locked);
    this.sellOpenBorrow = kept(this.sellOpenBorrow, asset, openBorrow);
    this.sellOpenInflow = kept(this.sellOpenInflow, asset, openInflow);
    this.sellOpenRepay = kept(this.sellOpenRepay, asset, openRepay);
  }

  /** Which sides' open orders the asset's slot has inputs from (kept with the slot's inputs). */
  private setSideFlags(asset: number): void {
    const sell =
      this.sellLocked[asset] !== 0n || this.sellOpenBorrow[asset] !== 0n || this.sellOpenInflow[asset] !== 0n || this.sellOpenRepay[asset] !== 0n;
    const buy =
      this.assetLocked[asset] !== this.sellLocked[asset] ||
      this.assetOpenBorrow[asset] !== this.sellOpenBorrow[asset] ||
      this.assetOpenInflow[asset] !== this.sellOpenInflow[asset] ||
      this.assetOpenRepay[asset] !== this.sellOpenRepay[asset];
    const buyFlag = buy ? 1 : 0;
    const sellFlag = sell ? 1 : 0;
    this.buyTermSlots += buyFlag - this.assetBuyTerms[asset]!;
    this.sellTermSlots += sellFlag - this.assetSellTerms[asset]!;
    this.assetBuyTerms = keptFlag(this.assetBuyTerms, asset, buyFlag);
    this.assetSellTerms = keptFlag(this.assetSellTerms, asset, sellFlag);
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

  /** setPositionCostBasis and setPositionOrders in one step: the slot is valued once (the same state as both). */
  setPositionState(market: number, qty: bigint, costBasis: bigint, openBuyQty: bigint, openSellQty: bigint): void {
    this.requirePerpetual(market);
    this.applyPosition(market, qty, costBasis, openBuyQty, openSellQty);
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

  // ---- internals ----------------------------------------------------------------------------------------------

  protected requirePerpetual(market: number): void {
    if (!this.ctx.marketIsPerpetual[market]) throw new RangeError(`market ${market} is not a perpetual market`);
  }

  /** IMF floors and flat-region limits for the leverage limit (closed form, no root). */
  protected priceLeverage(leverageLimit: Ratio): void {
    const p = leveragePricing(this.ctx, leverageLimit);
    this.borrowImfFloor = p.borrowImfFloor;
    this.borrowImfFlatLimitUsd = p.borrowImfFlatLimitUsd;
    this.marketImfFloor = p.marketImfFloor;
    this.marketImfFlatLimitUsd = p.marketImfFlatLimitUsd;
    this.marketImfFloorNumber = p.marketImfFloorNumber;
  }

  /** Revalues the slots whose mark moved since this account last looked. */
  protected refreshMarks(): void {
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
  protected computeAsset(a: number, held: bigint, owed: bigint, withMaintenance: boolean): void {
    const ctx = this.ctx;
    const mark = ctx.assetMark[a]!;
    const unit = ctx.assetUnit[a]!;
    slotOut.sRoot = 0n;
    slotOut.sBorrowRoot = 0n;
    let weight = ctx.haircutFlatWeight[a]!;
    if (held > 0n) {
      const value = held * mark;
      const notionalUp = (value + ctx.assetUnitMinusOne[a]!) / unit; // ceil: value ≥ 0
      if (notionalUp > ctx.haircutFlatLimitUsd[a]!) {
        const root = sqrtNotionalUpNear(notionalUp, this.assetRoot[a]!);
        slotOut.sRoot = root;
        weight = haircutWeightFromRoot(ctx.haircut[a]!, root);
      }
      slotOut.sCollateral =
        weight === RATIO_SCALE ? divFloorNonNegative(value, unit) : divFloorNonNegative(value * weight, ctx.assetUnitRatio[a]!);
    } else slotOut.sCollateral = 0n;
    slotOut.sWeight = weight;
    if (owed === 0n) {
      slotOut.sLiability = 0n;
      slotOut.sIm = 0n;
      slotOut.sMm = 0n;
      return;
    }
    const liability = (owed * mark + ctx.assetUnitMinusOne[a]!) / unit; // ceil(owed × mark / unit)
    slotOut.sLiability = liability;
    let imf = this.borrowImfFloor[a]!;
    const mmfFn = ctx.borrowMmf[a]!;
    let mmf = mmfFn.base;
    const imfBeyond = liability > this.borrowImfFlatLimitUsd[a]!;
    const mmfBeyond = withMaintenance && liability > ctx.borrowMmfFlatLimitUsd[a]!;
    if (imfBeyond || mmfBeyond) {
      const root = sqrtNotionalUpNear(liability, this.assetBorrowRoot[a]!);
      slotOut.sBorrowRoot = root;
      if (imfBeyond) {
        const term = sqrtMarginTermFromRoot(ctx.borrowImf[a]!.factor, root);
        if (term > imf) imf = term;
      }
      if (mmfBeyond) {
        const term = sqrtMarginTermFromRoot(mmfFn.factor, root);
        if (term > mmf) mmf = term;
      }
    }
    slotOut.sIm = divCeilRatio(liability * imf);
    if (withMaintenance) slotOut.sMm = divCeilRatio(liability * mmf);
  }

  /** Contribution of perpetual `m` into the scratch fields (same conventions as computeAsset). */
  protected computePosition(
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
    // Signed: the general floor (unrealizedPnlUsd's, with the division written out: truncation corrected downward).
    if (qty === 0n && cost === 0n) slotOut.sUpnl = 0n;
    else {
      const value = qty * mark - cost;
      const q = value / unit;
      slotOut.sUpnl = q * unit > value ? q - 1n : q;
    }
    slotOut.sRoot = 0n;
    if (exposure === 0n) {
      slotOut.sNotional = 0n;
      slotOut.sIm = 0n;
      slotOut.sMm = 0n;
      return;
    }
    const notional = (exposure * mark + ctx.marketBaseUnitMinusOne[m]!) / unit; // ceil: both ≥ 0
    slotOut.sNotional = notional;
    let imf = this.marketImfFloor[m]!;
    const mmfFn = ctx.marketMmf[m]!;
    let mmf = mmfFn.base;
    const imfBeyond = notional > this.marketImfFlatLimitUsd[m]!;
    const mmfBeyond = withMaintenance && notional > ctx.marketMmfFlatLimitUsd[m]!;
    if (imfBeyond || mmfBeyond) {
      const root = sqrtNotionalUpNear(notional, this.posRoot[m]!);
      slotOut.sRoot = root;
      if (imfBeyond) {
        const term = sqrtMarginTermFromRoot(ctx.marketImf[m]!.factor, root);
        if (term > imf) imf = term;
      }
      if (mmfBeyond) {
        const term = sqrtMarginTermFromRoot(mmfFn.factor, root);
        if (term > mmf) mmf = term;
      }
    }
    slotOut.sIm = divCeilRatio(notional * imf);
    if (withMaintenance) slotOut.sMm = divCeilRatio(notional * mmf);
  }

  protected applyAsset(a: number, held: bigint, owed: bigint): void {
    this.computeAsset(a, held, owed, true);
    // As applyPosition: a part that did not change leaves its sums, and its slot keeps its bigint.
    const collateralDelta = slotOut.sCollateral !== this.assetCollateral[a] ? slotOut.sCollateral - this.assetCollateral[a]! : 0n;
    const liabilityDelta = slotOut.sLiability !== this.assetLiability[a] ? slotOut.sLiability - this.assetLiability[a]! : 0n;
    if (collateralDelta !== 0n || liabilityDelta !== 0n) {
      this.netEquitySum += collateralDelta - liabilityDelta;
      if (collateralDelta !== 0n) this.collateralSum += collateralDelta;
      if (liabilityDelta !== 0n) {
        this.liabilitySum += liabilityDelta;
        this.tenSum += liabilityDelta;
      }
    }
    if (slotOut.sIm !== this.assetIm[a]) this.imSum += slotOut.sIm - this.assetIm[a]!;
    if (slotOut.sMm !== this.assetMm[a]) this.mmSum += slotOut.sMm - this.assetMm[a]!;
    if (this.assetWeight[a] !== slotOut.sWeight) {
      // The context's flat weights until the first weight of another value (shared, never written: copied first).
      const own = this.assetWeight === this.ctx.haircutFlatWeight ? this.assetWeight.slice() : (this.assetWeight as bigint[]);
      own[a] = slotOut.sWeight;
      this.assetWeight = own;
    }
    this.assetCollateral = kept(this.assetCollateral, a, slotOut.sCollateral);
    this.assetLiability = kept(this.assetLiability, a, slotOut.sLiability);
    this.assetIm = kept(this.assetIm, a, slotOut.sIm);
    this.assetMm = kept(this.assetMm, a, slotOut.sMm);
    if (slotOut.sRoot !== 0n) this.assetRoot = kept(this.assetRoot, a, slotOut.sRoot);
    if (slotOut.sBorrowRoot !== 0n) this.assetBorrowRoot = kept(this.assetBorrowRoot, a, slotOut.sBorrowRoot);
    this.assetSeen[a] = this.ctx.assetMarkVersion[a]!;
  }

  protected applyPosition(m: number, qty: bigint, cost: bigint, openBuy: bigint, openSell: bigint): void {
    this.computePosition(m, qty, cost, openBuy, openSell, true);
    // Each sum moves by its part's change; an unchanged part (a fill that keeps the exposure, an order that moves no
    // PnL) leaves its sum as it is without a bigint allocated for the difference.
    if (slotOut.sUpnl !== this.posUpnl[m]) {
      const upnlDelta = slotOut.sUpnl - this.posUpnl[m]!;
      this.netEquitySum += upnlDelta;
      this.upnlSum += upnlDelta;
    }
    if (slotOut.sNotional !== this.posNotional[m]) this.tenSum += slotOut.sNotional - this.posNotional[m]!;
    if (slotOut.sIm !== this.posIm[m]) this.imSum += slotOut.sIm - this.posIm[m]!;
    if (slotOut.sMm !== this.posMm[m]) this.mmSum += slotOut.sMm - this.posMm[m]!;
    this.posQty = kept(this.posQty, m, qty);
    this.posCost = kept(this.posCost, m, cost);
    this.posOpenBuy = kept(this.posOpenBuy, m, openBuy);
    this.posOpenSell = kept(this.posOpenSell, m, openSell);
    this.posNotional = kept(this.posNotional, m, slotOut.sNotional);
    this.posIm = kept(this.posIm, m, slotOut.sIm);
    this.posMm = kept(this.posMm, m, slotOut.sMm);
    this.posUpnl = kept(this.posUpnl, m, slotOut.sUpnl);
    if (slotOut.sRoot !== 0n) this.posRoot = kept(this.posRoot, m, slotOut.sRoot);
    this.posSeen[m] = this.ctx.marketMarkVersion[m]!;
  }
}
