// The hypothetical evaluation behind C8 (AccountMargin's checks): "the account after these changes", valued as it
// would stand after its open orders fill (C4), at the all-fill state and at the side corners.
//
// ## Corners (C4/C8: every accepted order can fill at its limit, whatever the other orders do)
// The running sums (slots.ts) value every asset slot as if ALL open orders filled. That alone is not safe: a resting
// order credited at acceptance (creditUpToNeutral) can later be worth more than it takes (a leverage change lowers
// the IMF of its borrow; haircuts and IMFs are not linear), and the room it then seems to give funds an order on
// the other side — which is left under water when the first order is cancelled or never fills (seed 1227174416: a
// margin sell credited at leverage 1, a max buy at leverage 10, the sell cancelled: IMR ≥ 100% at unchanged marks).
// So, as C4 already does per perpetual market (max of "all buys" / "all sells"), a check also values the two side
// corners across spot markets: BUY = every open buy fills and every open sell is cancelled (its locked units are
// spendable again, its borrow and credits gone); SELL = the reverse. An action passes only if it passes at the
// all-fill state AND at each corner it can change:
// - a spot order of side X: the all-fill state and corner X (it is one of X's orders; corner Y does not contain it
//   and its hold does not change it), when the account has open orders of side Y (else corner X is all-fill);
// - any other action (withdrawal, transfer, borrow, leverage, perpetual order): both corners, when the account has
//   open spot orders of both sides (with one side only, that side's corner is the all-fill state).
// The all-fill state stays a vertex too (it does not net a buy's borrow against a sell's proceeds, so it is the
// worse one when both sides' orders take room). "Only reduces risk" is judged per vertex against that vertex before.
// An order's credit while it rests is what leaves the available equity no higher at the all-fill state AND at its
// own corner (lastChangesRaiseAvailableEquity). Corners are computed non-incrementally over the asset slots with
// open-order inputs and the changed slots (a handful); an account with one side's orders only pays nothing extra.
// A credit is neutral at the leverage limit in force when the order rested; a later rise of the limit (A3 re-prices open
// orders) lowers what the order's borrow takes, so the same credit would be favourable and the room it seemed to give
// could be used by an order of its own side, or show at a mixed vertex (all buys and some sells), and cancelling it
// left the account at IMR ≥ 100% (property seeds 20261206, 987654321, 1227174416, 1251685059). A rise of the limit
// therefore re-caps every open order's credit at the new limit (funds.ts recapOrderCredits), against the account
// without that order, at the all-fill state and at the order's own corner (cornerNetEquityAvailableUsd). A mark move
// can change neutrality too; the property runs at unchanged marks, and a mark move that makes a credit favourable
// gives room only until the next rise of the limit or the order's end (known, not re-capped per mark).

import type { Ratio } from "../../fixed/index.ts";
import {
  borrowLiabilityUsd,
  initialMarginRatio,
  initialMarginRatioNotWorse,
  netEquityLockedUsd,
  passesInitialMargin,
  positionImf,
  positionMarginUsd,
} from "./formulas.ts";
import { NO_ORDER_SIDE, type MarginChanges } from "./changes.ts";
import { MarginSlots, slotOut } from "./slots.ts";

/** Corner bits (cornersFor): all buys fill / all sells fill. */
const BUY_CORNER = 1;
const SELL_CORNER = 2;
const SIDE_BUY = 0;
const SIDE_SELL = 1;

export class CornerMargin extends MarginSlots {
  /** resolveAsset's answer: units held and owed of the asset after the changes and its open orders. */
  private rHeld = 0n;
  private rOwed = 0n;

  // Result of the last evaluate(): the account as it would be after the changes (all-fill state), and the part
  // of it the perpetual positions' changes make (corners add the same).
  protected afterNetEquity = 0n;
  protected afterIm = 0n;
  protected afterMm = 0n;
  protected afterTen = 0n;
  protected afterExposureNonIncreasing = true;
  private posPartNe = 0n;
  private posPartIm = 0n;
  private posPartTen = 0n;
  private posPartNonIncreasing = true;

  // Result of the last evaluateCorner().
  private cornerNe = 0n;
  private cornerIm = 0n;
  private cornerTen = 0n;
  private cornerNonIncreasing = true;
  /** The order's own corner as the last check left it (lastChangesRaiseAvailableEquity): none, or its sums after. */
  private ownCorner = 0;
  private ownNe = 0n;
  private ownIm = 0n;
  private ownTen = 0n;
  /** The worst IMR over the corners the last cornersPass evaluated (0 when none). */
  protected cornersWorstImr: Ratio = 0n;

  /**
   * Resolves entry `i` of `changes` (i < 0: no change) against a slot with these inputs (see MarginChanges):
   * explicit holdings first, then the flow, then the units held whatever is owed, then the open orders' terms.
   * Leaves the units held and owed in rHeld, rOwed.
   */
  private resolveWith(
    changes: MarginChanges | null,
    i: number,
    spendable: bigint,
    borrowed: bigint,
    openBorrow: bigint,
    openInflow: bigint,
    openRepay: bigint,
  ): void {
    let held = spendable;
    let owed = borrowed;
    if (changes !== null && i >= 0) {
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
      held = extra ? spendable + changes.assetHeldIn[i]! : spendable;
      owed = borrowAtFill === 0n ? borrowed : borrowed + borrowAtFill;
    }
    if (openBorrow !== 0n || openInflow !== 0n || openRepay !== 0n) {
      // Then the open orders: their repaying proceeds, their held proceeds and what they may borrow.
      const openRepaid = openRepay < borrowed ? openRepay : borrowed;
      owed += openBorrow - openRepaid;
      held += openInflow + openRepay - openRepaid;
    }
    this.rHeld = held;
    this.rOwed = owed;
  }

  /** All-fill state: asset `a` with entry `i` of `changes` applied. */
  private resolveAsset(changes: MarginChanges, i: number, a: number): void {
    this.resolveWith(changes, i, this.assetSpendable[a]!, this.assetBorrowed[a]!, this.assetOpenBorrow[a]!, this.assetOpenInflow[a]!, this.assetOpenRepay[a]!);
  }

  /**
   * Corner state (sells fill when `fillSell`, else buys): asset `a` with entry `i` of `changes` applied (i < 0:
   * none). The other side's locked units are spendable; only the filling side's borrows and credits count.
   */
  private resolveCorner(changes: MarginChanges | null, i: number, a: number, fillSell: boolean): void {
    const lockedSell = this.sellLocked[a]!;
    const borrowSell = this.sellOpenBorrow[a]!;
    const inflowSell = this.sellOpenInflow[a]!;
    const repaySell = this.sellOpenRepay[a]!;
    const otherLocked = fillSell ? this.assetLocked[a]! - lockedSell : lockedSell;
    this.resolveWith(
      changes,
      i,
      this.assetSpendable[a]! + otherLocked,
      this.assetBorrowed[a]!,
      fillSell ? borrowSell : this.assetOpenBorrow[a]! - borrowSell,
      fillSell ? inflowSell : this.assetOpenInflow[a]! - inflowSell,
      fillSell ? repaySell : this.assetOpenRepay[a]! - repaySell,
    );
  }

  /** Fills the after* fields: the all-fill sums as they would be with `changes` applied (touched slots only). */
  protected evaluate(changes: MarginChanges, withMaintenance: boolean): void {
    this.refreshMarks();
    this.ownCorner = 0;
    this.cornersWorstImr = 0n;
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
        ne += slotOut.sCollateral - this.assetCollateral[a]!;
        continue;
      }
      const liabilityDelta = slotOut.sLiability - this.assetLiability[a]!;
      ne += slotOut.sCollateral - this.assetCollateral[a]! - liabilityDelta;
      ten += liabilityDelta;
      im += slotOut.sIm - this.assetIm[a]!;
      if (withMaintenance) mm += slotOut.sMm - this.assetMm[a]!;
      // A borrow grows when more is owed after.
      if (owed > owedBefore) nonIncreasing = false;
    }
    let posNe = 0n;
    let posIm = 0n;
    let posTen = 0n;
    let posNonIncreasing = true;
    for (let i = 0; i < changes.positionCount; i++) {
      const m = changes.markets[i]!;
      this.requirePerpetual(m);
      const qtyBefore = this.posQty[m]!;
      const qty = qtyBefore + changes.positionQtyDeltas[i]!;
      const openBuy = this.posOpenBuy[m]! + changes.positionOpenBuyDeltas[i]!;
      const openSell = this.posOpenSell[m]! + changes.positionOpenSellDeltas[i]!;
      this.computePosition(m, qty, this.posCost[m]! + changes.positionCostDeltas[i]!, openBuy, openSell, withMaintenance);
      posNe += slotOut.sUpnl - this.posUpnl[m]!;
      posTen += slotOut.sNotional - this.posNotional[m]!;
      posIm += slotOut.sIm - this.posIm[m]!;
      if (withMaintenance) mm += slotOut.sMm - this.posMm[m]!;
      if (slotOut.sNotional > this.posNotional[m]! || (qty > 0n && qtyBefore < 0n) || (qty < 0n && qtyBefore > 0n)) {
        posNonIncreasing = false;
      }
    }
    this.posPartNe = posNe;
    this.posPartIm = posIm;
    this.posPartTen = posTen;
    this.posPartNonIncreasing = posNonIncreasing;
    this.afterNetEquity = ne + posNe;
    this.afterIm = im + posIm;
    this.afterMm = mm;
    this.afterTen = ten + posTen;
    this.afterExposureNonIncreasing = nonIncreasing && posNonIncreasing;
  }

  /**
   * Fills the corner* fields: the corner's sums (sells fill when `fillSell`, else buys) with `changes` applied (null:
   * as it stands). Starts from the all-fill sums and revalues the slots with open-order inputs and the changed ones;
   * with changes, the perpetual part is evaluate()'s (call it first with the same changes).
   */
  private evaluateCorner(changes: MarginChanges | null, fillSell: boolean): void {
    let ne = this.netEquitySum;
    let im = this.imSum;
    let ten = this.tenSum;
    let nonIncreasing = true;
    const n = this.ctx.assetCount;
    for (let a = 0; a < n; a++) {
      const i = changes === null ? -1 : changes.assetIndex(a);
      if (i < 0 && this.assetBuyTerms[a] === 0 && this.assetSellTerms[a] === 0) continue;
      let owedBefore = 0n;
      if (i >= 0) {
        this.resolveCorner(null, -1, a, fillSell);
        owedBefore = this.rOwed;
      }
      this.resolveCorner(changes, i, a, fillSell);
      this.computeAsset(a, this.rHeld, this.rOwed, false);
      const liabilityDelta = slotOut.sLiability - this.assetLiability[a]!;
      ne += slotOut.sCollateral - this.assetCollateral[a]! - liabilityDelta;
      ten += liabilityDelta;
      im += slotOut.sIm - this.assetIm[a]!;
      if (i >= 0 && this.rOwed > owedBefore) nonIncreasing = false;
    }
    if (changes !== null) {
      ne += this.posPartNe;
      im += this.posPartIm;
      ten += this.posPartTen;
      if (!this.posPartNonIncreasing) nonIncreasing = false;
    }
    this.cornerNe = ne;
    this.cornerIm = im;
    this.cornerTen = ten;
    this.cornerNonIncreasing = nonIncreasing;
  }

  /** Which corners an action with these changes must pass at (BUY_CORNER | SELL_CORNER bits; see the header). */
  protected cornersFor(changes: MarginChanges): number {
    const buys = this.buyTermSlots > 0;
    const sells = this.sellTermSlots > 0;
    if (!buys && !sells) return 0;
    const side = changes.orderSide;
    let corners = 0;
    if (side !== SIDE_SELL && sells && (buys || side === SIDE_BUY)) corners |= BUY_CORNER;
    if (side !== SIDE_BUY && buys && (sells || side === SIDE_SELL)) corners |= SELL_CORNER;
    return corners;
  }

  /**
   * After evaluate(changes): does the action pass at every corner it must (IMR < 100%, or — `allowRiskReducing` —
   * no exposure grows and the IMR is no worse than that corner's before)? Evaluates every such corner (no early
   * exit: lastChangesRaiseAvailableEquity reads the order's own) and keeps the worst IMR.
   */
  protected cornersPass(changes: MarginChanges, allowRiskReducing: boolean): boolean {
    const corners = this.cornersFor(changes);
    if (corners === 0) return true;
    let pass = true;
    if ((corners & BUY_CORNER) !== 0 && !this.cornerPasses(changes, false, allowRiskReducing)) pass = false;
    if ((corners & SELL_CORNER) !== 0 && !this.cornerPasses(changes, true, allowRiskReducing)) pass = false;
    return pass;
  }

  private cornerPasses(changes: MarginChanges, fillSell: boolean, allowRiskReducing: boolean): boolean {
    this.evaluateCorner(changes, fillSell);
    const ne = this.cornerNe;
    const im = this.cornerIm;
    const ten = this.cornerTen;
    const imr = initialMarginRatio(netEquityLockedUsd(im, ten, this.leverageLimitRatio), ne, ten);
    if (imr > this.cornersWorstImr) this.cornersWorstImr = imr;
    const side = changes.orderSide;
    if ((side === SIDE_SELL) === fillSell && side !== NO_ORDER_SIDE) {
      this.ownCorner = fillSell ? SELL_CORNER : BUY_CORNER;
      this.ownNe = ne;
      this.ownIm = im;
      this.ownTen = ten;
    }
    if (passesInitialMargin(im, ne, ten)) return true;
    if (!allowRiskReducing || !this.cornerNonIncreasing) return false;
    this.evaluateCorner(null, fillSell);
    return initialMarginRatioNotWorse(this.cornerIm, this.cornerNe, this.cornerTen, im, ne, ten);
  }

  /** C6 at a side corner as the account stands (sells fill when `fillSell`, else buys): net equity − locked. */
  cornerNetEquityAvailableUsd(fillSell: boolean): bigint {
    this.refreshMarks();
    this.evaluateCorner(null, fillSell);
    return this.cornerNe - netEquityLockedUsd(this.cornerIm, this.cornerTen, this.leverageLimitRatio);
  }

  /** After a check: would the evaluated order's fill raise the available equity at its own corner (C6)? */
  protected ownCornerRaisesAvailableEquity(): boolean {
    if (this.ownCorner === 0) return false;
    this.evaluateCorner(null, this.ownCorner === SELL_CORNER);
    const L = this.leverageLimitRatio;
    const before = this.cornerNe - netEquityLockedUsd(this.cornerIm, this.cornerTen, L);
    return this.ownNe - netEquityLockedUsd(this.ownIm, this.ownTen, L) > before;
  }

  /**
   * A3 at the corners (when both sides have open spot orders): would leverage `leverageLimit` pass at each — IMR
   * < 100% at the new limit, or that corner's initial margin does not grow?
   */
  protected cornersPassLeverage(leverageLimit: Ratio): boolean {
    if (this.buyTermSlots === 0 || this.sellTermSlots === 0) return true;
    return this.cornerPassesLeverage(leverageLimit, false) && this.cornerPassesLeverage(leverageLimit, true);
  }

  private cornerPassesLeverage(leverageLimit: Ratio, fillSell: boolean): boolean {
    this.evaluateCorner(null, fillSell);
    const ctx = this.ctx;
    let im = 0n;
    for (let a = 0; a < ctx.assetCount; a++) {
      let liability = this.assetLiability[a]!;
      if (this.assetBuyTerms[a] !== 0 || this.assetSellTerms[a] !== 0) {
        this.resolveCorner(null, -1, a, fillSell);
        liability = this.rOwed === 0n ? 0n : borrowLiabilityUsd(this.rOwed, ctx.assetDecimals[a]!, ctx.assetMark[a]!);
      }
      if (liability === 0n) continue;
      im += positionMarginUsd(liability, positionImf(liability, leverageLimit, ctx.platformMaxLeverage, ctx.borrowImf[a]!));
    }
    for (let m = 0; m < ctx.marketCount; m++) {
      const notional = this.posNotional[m]!;
      if (notional === 0n) continue;
      im += positionMarginUsd(notional, positionImf(notional, leverageLimit, ctx.platformMaxLeverage, ctx.marketImf[m]!));
    }
    return passesInitialMargin(im, this.cornerNe, this.cornerTen) || im <= this.cornerIm;
  }

  protected lockedAfter(): bigint {
    return netEquityLockedUsd(this.afterIm, this.afterTen, this.leverageLimitRatio);
  }

  protected riskReducingAfter(): boolean {
    if (!this.afterExposureNonIncreasing) return false;
    const ne = this.netEquitySum;
    return initialMarginRatioNotWorse(this.imSum, ne, this.tenSum, this.afterIm, this.afterNetEquity, this.afterTen);
  }
}
