// The incremental cross-margin state of one account (C2–C9): per-slot contributions and their running sums, and
// the hypothetical "what if these balances/positions changed" evaluation behind the pre-trade check (C8).
//
// Slots: one per asset and one per perpetual market (position quantity, cost basis, open-order quantities). An asset
// slot holds units (collateral, C1/C2) and owes units (a liability and a position of its own with the asset's borrow
// IMF/MMF, C3–C5) at the same time — a borrow kept in the account is both — and is valued as the account would stand
// after its open orders fill (C4: the risk-increasing part of open orders is exposure from the moment they rest):
// held = available + lent + the proceeds credited to open orders (locked units count as spent), owed = borrowed −
// the open margin orders' repaying proceeds + what open orders may borrow at fill time. The sums below are that
// state (what every check judges first); the statement's net equity is the account as it stands (currentNetEquityUsd).
// With open spot orders on both sides, checks also judge the side corners (all buys filled and no sell, all sells
// filled and no buy: corners.ts, computed from the per-side terms setAssetSellTerms keeps, only when needed). The
// statement's figures (exposure, locked, IMF, IMR: the getters below) stay the all-fill state — the corners are a
// check, not a second statement — and imrAfter reports the worst vertex, so a refusal names the IMR that refused it.
// A perpetual market's open orders enter through setPositionOrders (C4's max of "all buys" / "all sells" fill).
// Each slot keeps its contribution to the sums (collateral,
// liability, exposure notional, initial and maintenance margin, unrealized PnL); changing a slot recomputes that
// slot only and adjusts the sums by the difference, so a check costs O(slots changed), never O(account).
// Marks are read from the shared MarginContext; a slot whose mark moved is revalued lazily on the next query.

import { Rounding, type Ratio } from "../../fixed/index.ts";
import {
  accountImf,
  accountMmf,
  borrowLiabilityUsd,
  collateralValueUsd,
  haircutWeight,
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
  exposureQuantity,
  marginFractionNear,
  RootHint,
  sqrtMarginTermFromRoot,
  unrealizedPnlUsd,
} from "./formulas.ts";
import { MarginChanges } from "./changes.ts";
import { CornerMargin } from "./corners.ts";
import { BOUND_INPUT_SLOTS, BoundInput, BoundInputs, feeUpperBound, PerpFillBound, perpFillBoundPasses } from "./fill-bound.ts";

export { MarginChanges, MARGIN_CHANGES_CAPACITY } from "./changes.ts";

/** Newton seed of positionImfAt / positionMmfAt, shared (a seed only: every root is exact whatever it holds). */
const ROOT_HINT = new RootHint();
/** perpFillSurelyPasses's doubles (one record: the shard's thread is the only caller). */
const FILL_BOUND = new PerpFillBound();
/** perpFillSurelyPasses's doubles of the inputs that hold still between an account's orders (fill-bound.ts). */
const BOUND_INPUTS = new BoundInputs();
/** The next margin state's BoundInputs slot: states made one after another take different slots. */
let nextBoundSlot = 0;

export class AccountMargin extends CornerMargin {
  /** This state's slot of BOUND_INPUTS (a cache: any slot gives the same answers). */
  private readonly boundSlot = nextBoundSlot++ & (BOUND_INPUT_SLOTS - 1);

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

  /** C5: market m's IMF at `notionalUsd` for this account's leverage limit — positionImf(notionalUsd, leverageLimit,
   * platformMaxLeverage, imf), from the slot's floor and flat limit (no root below it). */
  positionImfAt(market: number, notionalUsd: bigint): Ratio {
    const factor = this.ctx.marketImf[market]!.factor;
    const floor = this.marketImfFloor[market]!;
    const flatLimitUsd = this.marketImfFlatLimitUsd[market]!;
    if (this.isSlotRoot(market, notionalUsd, flatLimitUsd)) return sqrtTermOrFloor(factor, this.posRoot[market]!, floor);
    ROOT_HINT.root = this.posRoot[market]!; // the slot's last root: the root of this notional when it is the slot's
    return marginFractionNear(notionalUsd, factor, floor, flatLimitUsd, ROOT_HINT);
  }

  /** C5: market m's MMF at `notionalUsd` — positionMmf(notionalUsd, mmf), with the market's flat limit. */
  positionMmfAt(market: number, notionalUsd: bigint): Ratio {
    const ctx = this.ctx;
    const mmf = ctx.marketMmf[market]!;
    const flatLimitUsd = ctx.marketMmfFlatLimitUsd[market]!;
    if (this.isSlotRoot(market, notionalUsd, flatLimitUsd)) return sqrtTermOrFloor(mmf.factor, this.posRoot[market]!, mmf.base);
    ROOT_HINT.root = this.posRoot[market]!;
    return marginFractionNear(notionalUsd, mmf.factor, mmf.base, flatLimitUsd, ROOT_HINT);
  }

  /**
   * Is the slot's root (posRoot) the one marginFractionNear would take for `notionalUsd` beyond `flatLimitUsd` (the
   * market's IMF flat limit at this leverage, or its MMF one)? It is when the notional is the slot's own and above
   * that limit: applyPosition takes the root of its notional whenever the notional is above either limit (and a
   * leverage change, which moves the IMF limit, values every position again), so the root is that notional's.
   */
  private isSlotRoot(market: number, notionalUsd: bigint, flatLimitUsd: bigint): boolean {
    return notionalUsd > 0n && notionalUsd > flatLimitUsd && notionalUsd === this.posNotional[market];
  }

  /** The last sqrt(notional) the position slot of market m took (0 if none): a Newton seed for roots near its
   * notional (isqrtNear is exact from any seed). */
  positionRootHint(market: number): bigint {
    return this.posRoot[market]!;
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

  /** C7 after `changes`: the IMR the account would have — the worst of the all-fill state and the corners C8 judges
   * the action at (corners.ts), so a refusal's message names the IMR that refused it. */
  imrAfter(changes: MarginChanges): Ratio {
    this.evaluate(changes, false);
    const imr = initialMarginRatio(this.lockedAfter(), this.afterNetEquity, this.afterTen);
    this.cornersPass(changes, false);
    return this.cornersWorstImr > imr ? this.cornersWorstImr : imr;
  }

  /** C7 after `changes`: the MMR the account would have (all-fill state). */
  mmrAfter(changes: MarginChanges): Ratio {
    this.evaluate(changes, true);
    return maintenanceMarginRatio(this.afterMm, this.afterNetEquity, this.afterTen);
  }

  /** Net equity after `changes` (all-fill state). */
  netEquityAfterUsd(changes: MarginChanges): bigint {
    this.evaluate(changes, false);
    return this.afterNetEquity;
  }

  /** C8's IMR test alone: IMR after `changes` < 100% (or no exposure after), at the all-fill state and at every
   * corner the action must pass at (corners.ts). */
  passesInitialMarginAfter(changes: MarginChanges): boolean {
    this.evaluate(changes, false);
    const all = passesInitialMargin(this.afterIm, this.afterNetEquity, this.afterTen);
    return this.cornersPass(changes, false) && all;
  }

  /**
   * C8's "only reduces risk": no exposure grows (no borrow grows, no perpetual exposure grows or flips side) and
   * the IMR after is no worse than now. A withdrawal or a spend of collateral grows no exposure but worsens the
   * IMR, so it is not risk-reducing; buying back a borrowed asset or closing a position usually is. At the
   * corners C8 judges the action at (corners.ts), it must also pass or reduce risk.
   */
  isRiskReducing(changes: MarginChanges): boolean {
    this.evaluate(changes, false);
    return this.riskReducingAfter() && this.cornersPass(changes, true);
  }

  /**
   * After a check (wouldPassInitialMargin, passesInitialMarginAfter, isRiskReducing, imrAfter): would the evaluated
   * changes raise the available equity (C6: net equity − locked)? An open order whose fill would (e.g. a sale of
   * weaker collateral for stronger, a buy far below the mark) is credited nothing while it rests, so that cancelling
   * it can never take away room that other orders were accepted on — at the all-fill state or at the order's own
   * corner (corners.ts), if the check evaluated it.
   */
  lastChangesRaiseAvailableEquity(): boolean {
    const lockedNow = netEquityLockedUsd(this.imSum, this.tenSum, this.leverageLimitRatio);
    if (this.afterNetEquity - this.lockedAfter() > this.netEquitySum - lockedNow) return true;
    return this.ownCornerRaisesAvailableEquity();
  }

  /**
   * C8: would an action with these effects be accepted? IMR after < 100%, or the action only reduces risk — at the
   * all-fill state and at every corner it must pass at (corners.ts: with one side's open orders only, none).
   * This is the one check the pre-trade path, withdrawals, transfers and the max-quantity solvers all use.
   */
  wouldPassInitialMargin(changes: MarginChanges): boolean {
    this.evaluate(changes, false);
    if (!passesInitialMargin(this.afterIm, this.afterNetEquity, this.afterTen) && !this.riskReducingAfter()) return false;
    return this.cornersPass(changes, true);
  }

  /**
   * C8 for a perpetual order (checks.perpFillPassesMargin) while market m's slot has not heard its inputs yet
   * (Account.syncedMarginExceptPerp): `changes` (the fill and its fee) are evaluated with m at `qty`, `cost`, `openBuy`,
   * `openSell` as the account holds them now, as deltas from the slot's inputs. Each sum after is then the synced
   * state's exactly: the stale sum less the slot's stale part plus its part after = the synced sum less the slot's
   * synced part plus the same part after. True only when the all-fill state passes IMR < 100% and no corner is to be
   * judged — then wouldPassInitialMargin on the synced state is true too; false means "not decided here" (the caller
   * syncs and runs that check; `changes` then holds the inputs' deltas and must be rebuilt).
   */
  passesPerpFillFromInputs(changes: MarginChanges, m: number, qty: bigint, cost: bigint, openBuy: bigint, openSell: bigint): boolean {
    const qtyDelta = qty === this.posQty[m] ? 0n : qty - this.posQty[m]!;
    const costDelta = cost === this.posCost[m] ? 0n : cost - this.posCost[m]!;
    const buyDelta = openBuy === this.posOpenBuy[m] ? 0n : openBuy - this.posOpenBuy[m]!;
    const sellDelta = openSell === this.posOpenSell[m] ? 0n : openSell - this.posOpenSell[m]!;
    changes.addPositionInputs(m, qtyDelta, costDelta, buyDelta, sellDelta);
    if (this.cornersFor(changes) !== 0) return false;
    this.evaluate(changes, false);
    return passesInitialMargin(this.afterIm, this.afterNetEquity, this.afterTen);
  }

  /**
   * C8 for a perpetual order (checks.perpFillPassesMargin), certain in doubles (fill-bound.ts): true when the
   * account surely passes after the full fill of `qtyDelta` (signed) at `price` with the fee of `feeBps` in
   * `quoteAsset` — market m at `qty`, `cost`, `openBuy`, `openSell` as the account holds them now (synced into the
   * slot or not: the sums less the slot's part plus its part after, as passesPerpFillFromInputs). Only when no corner
   * is judged (not both sides of open spot orders) and the fee is paid from spendable units of an identity-haircut
   * quote asset; false means "not decided here" (the full check decides). Changes nothing but the marks' refresh.
   */
  perpFillSurelyPasses(m: number, quoteAsset: number, qty: bigint, cost: bigint, openBuy: bigint, openSell: bigint, qtyDelta: bigint, price: bigint, feeBps: number): boolean {
    if (this.buyTermSlots > 0 && this.sellTermSlots > 0) return false;
    const ctx = this.ctx;
    if (ctx.haircut[quoteAsset]!.kind !== "identity") return false;
    this.refreshMarks();
    const b = FILL_BOUND;
    const inputs = BOUND_INPUTS;
    const slot = this.boundSlot;
    b.fillQuantity = inputs.number(slot, BoundInput.FillQuantity, qtyDelta);
    b.fillPrice = inputs.number(slot, BoundInput.FillPrice, price);
    b.feeLossUsd = 0;
    if (feeBps > 0) {
      const fills = b.fillQuantity < 0 ? -b.fillQuantity : b.fillQuantity;
      const fee = feeUpperBound(fills, b.fillPrice, ctx.marketFeeShiftScale[m]!, feeBps);
      // may borrow: the full check decides
      if (!(fee <= inputs.number(slot, BoundInput.Spendable, this.assetSpendable[quoteAsset]!))) return false;
      b.feeLossUsd = ((fee * ctx.assetMarkNumber[quoteAsset]!) / ctx.assetUnitNumber[quoteAsset]!) * (1 + 2 ** -45) + 1;
    }
    b.netEquity = inputs.number(slot, BoundInput.NetEquity, this.netEquitySum);
    b.initialMargin = inputs.number(slot, BoundInput.InitialMargin, this.imSum);
    b.slotUpnl = inputs.number(slot, BoundInput.SlotUpnl, this.posUpnl[m]!);
    b.slotIm = inputs.number(slot, BoundInput.SlotIm, this.posIm[m]!);
    b.quantity = inputs.number(slot, BoundInput.Quantity, qty);
    b.costBasis = inputs.number(slot, BoundInput.CostBasis, cost);
    b.openBuy = openBuy === 0n ? 0 : Number(openBuy);
    b.openSell = openSell === 0n ? 0 : Number(openSell);
    b.mark = ctx.marketMarkNumber[m]!;
    b.baseUnit = ctx.marketBaseUnitNumber[m]!;
    b.imfFloor = this.marketImfFloorNumber[m]!;
    b.imfFactor = ctx.marketImfFactorNumber[m]!;
    return perpFillBoundPasses(b);
  }

  /**
   * A3: would setting `leverageLimit` be accepted? IMR at the new limit < 100%, or the initial margin does not
   * grow (raising the limit never increases risk) — at the all-fill state and, with open spot orders of both
   * sides, at each corner (corners.ts).
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
    if (!passesInitialMargin(im, ne, this.tenSum) && im > this.imSum) return false;
    return this.cornersPassLeverage(leverageLimit);
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
    let buySlots = 0;
    let sellSlots = 0;
    for (let a = 0; a < ctx.assetCount; a++) {
      buySlots += this.assetBuyTerms[a]!;
      sellSlots += this.assetSellTerms[a]!;
    }
    if (buySlots !== this.buyTermSlots) invariantFailed("slots with buy-order inputs", BigInt(this.buyTermSlots), BigInt(buySlots));
    if (sellSlots !== this.sellTermSlots) invariantFailed("slots with sell-order inputs", BigInt(this.sellTermSlots), BigInt(sellSlots));
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
    this.validateSideTerms(a);
  }

  /** C4/C8 corners: the sell orders' part of the slot's open-order inputs lies within them; the side flags agree. */
  private validateSideTerms(a: number): void {
    const sell = [this.sellLocked[a]!, this.sellOpenBorrow[a]!, this.sellOpenInflow[a]!, this.sellOpenRepay[a]!];
    const total = [this.assetLocked[a]!, this.assetOpenBorrow[a]!, this.assetOpenInflow[a]!, this.assetOpenRepay[a]!];
    for (let k = 0; k < 4; k++) {
      if (sell[k]! < 0n || sell[k]! > total[k]!) invariantFailed(`asset ${a} sell part ${k} of its open-order inputs`, sell[k]!, total[k]!);
    }
    const hasSell = sell.some((x) => x !== 0n) ? 1 : 0;
    const hasBuy = sell.some((x, k) => x !== total[k]) ? 1 : 0;
    if (hasSell !== this.assetSellTerms[a]) invariantFailed(`asset ${a} sell flag`, BigInt(this.assetSellTerms[a]!), BigInt(hasSell));
    if (hasBuy !== this.assetBuyTerms[a]) invariantFailed(`asset ${a} buy flag`, BigInt(this.assetBuyTerms[a]!), BigInt(hasBuy));
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
}

/** marginFractionNear beyond its flat limit, from the notional's root: max(floor, ceil(factor × root / 1e9)). */
function sqrtTermOrFloor(factor: Ratio, root: bigint, floor: Ratio): Ratio {
  const term = sqrtMarginTermFromRoot(factor, root);
  return term > floor ? term : floor;
}

function invariantFailed(what: string, got: bigint, want: bigint): never {
  throw new Error(`AccountMargin invariant: ${what} is ${got}, recomputed ${want}`);
}
