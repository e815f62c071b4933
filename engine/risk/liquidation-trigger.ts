// Q1 and C9 at the batch end (phase 5 of D2 in engine/pipeline/engine.ts): the accounts the batch touched — fills,
// deposits and withdrawals, pool actions, open orders (Account.markChanged), interest (every exposed account when the
// pools' accrual epoch moved, L5), marks (the accounts whose safe band of a moved asset no longer holds the mark,
// found by two binary searches per asset, never by a scan) — and every liquidating account are re-evaluated, in
// account-id order, with the pure hysteresis of engine/liquidation/trigger.ts; each change of status is an event on
// the account's stream (seq 0: caused by no command). Each evaluated healthy account's bands are then derived again at
// the current marks (engine/liquidation/safe-band.ts), so the index stays sound for the next batch; a liquidating
// account has none (it is re-evaluated every batch until it leaves).

import { nextLiquidationStatus, LiquidationStatus, PriceSlot, SafeBand, safeBandFrom, slotSurplusUsd, splitSurplusBudget, type BandFormulas, type BandGrid } from "../liquidation/index.ts";
import { EventKind, type EventSink } from "../model/index.ts";
import { RATIO_SCALE } from "../fixed/index.ts";
import type { Account } from "./accounts.ts";
import { haircutWeightFromRoot, sqrtMarginTermFromRoot, sqrtNotionalUpNear, type AccountMargin } from "./margin/index.ts";
import { publishLiquidationStatus } from "./replies.ts";
import { MARK_MOVED_INDEX, MARK_MOVED_PRICE } from "./liquidation-book.ts";
import { INDEX_MOVED_BORROW, INDEX_MOVED_LEND } from "./pools.ts";
import type { RiskState } from "./state.ts";

/**
 * risk/margin's haircutWeight (C1) and positionMmf (C5) for the band searches, with each root taken by
 * sqrtNotionalUpNear (a double's root, then exact tests) instead of sqrtFixed's integer Newton iteration from scratch:
 * the same values (test/liquidation-trigger.test.ts compares them on random notionals), and each of a derivation's
 * ~45 bound evaluations cheaper (a spot-margin taker's bands at every batch end, pipeline.margin-order).
 */
export const BAND_FORMULAS: BandFormulas = {
  haircutWeight(haircut, notionalUsd) {
    if (haircut.kind === "identity") return RATIO_SCALE;
    return haircutWeightFromRoot(haircut, notionalUsd > 0n ? sqrtNotionalUpNear(notionalUsd, 0n) : 0n);
  },
  positionMmf(notionalUsd, mmf) {
    const term = mmf.factor === 0n || notionalUsd <= 0n ? 0n : sqrtMarginTermFromRoot(mmf.factor, sqrtNotionalUpNear(notionalUsd, 0n));
    return term > mmf.base ? term : mmf.base;
  },
};
const FORMULAS = BAND_FORMULAS;
/** Band grid around a mark p0: ticks of p0 / 256 (≥ 1, edges within 0.4% of the exact ones) from one tick up to
 * 16 × p0 (about 12 bisection steps per edge); a mark outside it is simply outside the band (re-evaluated). */
const GRID_TICKS_PER_MARK = 256n;
/** A stable (identity-haircut) asset's grid is finer, p0 / 65,536 (about 20 steps per edge): its mark hardly moves,
 * but its borrow index does every hour, and at p0 / 256 a USDC borrow band's high edge was mostly p0 itself, so the
 * hour's interest (0.001–0.02% of the debt) left it and touched the account each hour. */
const STABLE_GRID_TICKS_PER_MARK = 65_536n;
const GRID_MAX_MARKS = 16n;

/** Reused scratch of the band derivation (one per shard would do; the shard's thread is the only caller). */
class BandScratch {
  readonly slot = new PriceSlot();
  readonly band = new SafeBand();
  /** Sub-slots: asset, collateral (true) or borrow, weight, budget. */
  readonly subAsset: number[] = [];
  readonly subCollateral: boolean[] = [];
  readonly subWeight: bigint[] = [];
  readonly budgets: bigint[] = [];
  readonly assets: number[] = [];
  readonly lows: bigint[] = [];
  readonly highs: bigint[] = [];
  grid: { tick: bigint; minPrice: bigint; maxPrice: bigint } = { tick: 1n, minPrice: 1n, maxPrice: 1n };
  /** Per asset, 1 while deriveBands runs when a perpetual position is on it (its band is the empty one). */
  underPosition = new Uint8Array(0);
  /** Per asset, the pools' INDEX_MOVED_* bits taken by touchInterestCharged. */
  indexMoved = new Uint8Array(0);
}
const scratch = new BandScratch();

/** Phase 5: re-evaluates what the batch touched (see the module comment). Events go to `sink`. */
export function evaluateLiquidations(s: RiskState, sink: EventSink): void {
  const book = s.liquidation;
  touchInterestCharged(s);
  touchMarkMoves(s);
  for (const id of book.liquidating) touchId(s, id);
  const touched = book.touched;
  if (touched.length === 0) return;
  // Only accounts with exposure (or indexed, or liquidating) can change status or bands: keep those, then sort
  // (account-id order makes the events deterministic); a spot-only batch sorts nothing.
  let kept = 0;
  for (let i = 0; i < touched.length; i++) {
    const account = s.accounts.get(touched[i]!);
    if (account === undefined) continue;
    account.touched = false;
    if (mayHaveExposure(book, account)) touched[kept++] = account.id;
  }
  touched.length = kept;
  if (kept > 1) touched.sort(ascending);
  for (let i = 0; i < kept; i++) evaluateAccount(s, s.accounts.get(touched[i]!)!, sink);
  // An account whose margin state the evaluation made first (Account.firstMargin marks its assets changed) touched
  // itself again: nothing changed, but its flag must not stay set past the list, or the batches after would never
  // reach it again (a restored perpetual holder missed its liquidation at a crash; helper audit, X7).
  for (let i = kept; i < touched.length; i++) {
    const again = s.accounts.get(touched[i]!);
    if (again !== undefined) again.touched = false;
  }
  touched.length = 0;
  book.flushChanges();
}

/** C4: an account that owes nothing and has no order that may borrow, no position or perpetual order (hasNoBorrows),
 * no bands and is not liquidating has no exposure. */
function mayHaveExposure(book: RiskState["liquidation"], account: Account): boolean {
  return !account.hasNoBorrows() || book.exposed.has(account.id) || book.isLiquidating(account.id);
}

function ascending(a: number, b: number): number {
  return a - b;
}

/** Touches the account, valued at the pools' indices first (the index finds borrowers after an accrual unsynced). */
function touchId(s: RiskState, id: number): void {
  const account = s.accounts.get(id);
  if (account === undefined) return;
  s.pools.sync(account);
  account.touch();
}

/**
 * L5: an hour mark charged interest (or Q4 wrote lenders' claims down). Borrowers are found through the index: a
 * borrow index that moved counts as a move of the asset's band key, and only the accounts whose band the interest
 * used up are touched — touching every borrower and deriving its bands again was a 5–14 s pause at each hour mark
 * under 100,000 borrowers (liquidation.interest-hour-100k). Every exposed account lending an asset whose lend index
 * moved is revalued (sync) and touched, from the set of exposed lenders the bands keep (LiquidationBook.exposedLenders:
 * a pool action touches its account, so the set is current at every batch end). One without any lend or borrow is not: no pool change moves its margin — at
 * 100,000 perpetual positions without pool positions this was the hour's ~2 s pause (perp.funding-100k). Nor is a
 * borrower when only lenders' claims were written down (Q4): in a cascade each wave of bankruptcies re-derived the
 * bands of every healthy borrower (liquidation.cascade-10k: 240,000 derivations, 40% of its CPU). Accounts not
 * touched are revalued at their next read.
 */
function touchInterestCharged(s: RiskState): void {
  const book = s.liquidation;
  if (book.poolEpochSeen === s.pools.epoch) return;
  book.poolEpochSeen = s.pools.epoch;
  const moved = scratch.indexMoved.length === s.assetCount ? scratch.indexMoved : (scratch.indexMoved = new Uint8Array(s.assetCount));
  s.pools.takeIndexMoves(moved);
  // A borrow index that moved is a move of the asset's band key (the highs are kept as high × the borrow index at
  // derivation, see deriveBands): the index finds the borrowers whose band the interest used up, not a scan.
  let lendMoved = false;
  for (let a = 0; a < moved.length; a++) {
    if ((moved[a]! & INDEX_MOVED_BORROW) !== 0) book.markMoved[a] |= MARK_MOVED_INDEX;
    if ((moved[a]! & INDEX_MOVED_LEND) !== 0) lendMoved = true;
  }
  if (!lendMoved || book.exposedLenders.size === 0) return;
  for (const id of book.exposedLenders) {
    const account = s.accounts.get(id);
    if (account === undefined || account.poolPositions === 0 || !sharesMoved(account, moved)) continue;
    s.pools.sync(account);
    account.touch();
  }
}

/** Does the account hold lend shares of any asset? */
function lendsAny(account: Account): boolean {
  if (account.poolPositions === 0) return false;
  for (let a = 0; a < account.positions.length; a++) if (account.positions[a]!.lendShares !== 0n) return true;
  return false;
}

/** Does the account lend an asset whose lend index moved (INDEX_MOVED_LEND per asset)? */
function sharesMoved(account: Account, moved: Uint8Array): boolean {
  for (let a = 0; a < moved.length; a++) {
    if ((moved[a]! & INDEX_MOVED_LEND) !== 0 && account.positions[a]!.lendShares !== 0n) return true;
  }
  return false;
}

/** Marks moved this batch: the accounts whose band of the asset no longer holds the mark. */
function touchMarkMoves(s: RiskState): void {
  const book = s.liquidation;
  const moved = book.markMoved;
  for (let a = 0; a < moved.length; a++) {
    const why = moved[a]!;
    if (why === 0) continue;
    moved[a] = 0;
    const markMoved = (why & MARK_MOVED_PRICE) !== 0;
    book.forEachOutsideBand(a, s.marginContext.assetMark[a]!, s.pools.pools[a]!.borrowIndex, (id) => touchId(s, id), markMoved);
  }
}

/** Q1 for one account, then its bands again. */
function evaluateAccount(s: RiskState, account: Account, sink: EventSink): void {
  const book = s.liquidation;
  const was = book.liquidating.has(account.id);
  const margin = account.syncedMargin();
  const ten = margin.totalExposureNotionalUsd();
  const equity = margin.netEquityUsd();
  const mm = margin.maintenanceMarginUsd();
  const before = was ? LiquidationStatus.Liquidating : LiquidationStatus.Healthy;
  const after = nextLiquidationStatus(before, mm, equity, ten, s.liquidationParams.liquidationExitMmr);
  if (after !== before) {
    if (after === LiquidationStatus.Liquidating) book.liquidating.add(account.id);
    else {
      book.liquidating.delete(account.id);
      book.recordProgress(account.id); // Q2: a stall ends with the liquidation
    }
    const kind = after === LiquidationStatus.Liquidating ? EventKind.LiquidationStarted : EventKind.LiquidationEnded;
    publishLiquidationStatus(s, kind, account.id, margin, sink);
  }
  // A liquidating account is re-evaluated every batch (evaluateLiquidations touches them all): it needs no bands, and
  // deriving them (two bisections per asset) was most of a mark shock's cost. It gets them again when it leaves.
  if (ten > 0n && after === LiquidationStatus.Healthy) deriveBands(s, account.id, margin, equity - mm);
  else book.removeBands(account.id);
}

/**
 * The account's safe bands at the current marks: its surplus E − MM split over its sub-slots (each asset's held
 * units as collateral, its owed units as a borrow) by their USD size, a band per sub-slot, intersected per asset —
 * the sum of the sub-slots' losses stays below the surplus while every mark is inside its asset's band (index
 * changes apply at the batch end's flush). An asset
 * that also carries a perpetual position (not in the pure slot yet) gets the empty band: always re-evaluated; so, beside
 * a position, does a held oracle-less stable the account does not owe (markEdgeBandedStables).
 */
function deriveBands(s: RiskState, id: number, margin: AccountMargin, surplusUsd: bigint): void {
  const ctx = s.marginContext;
  const x = scratch;
  let subs = 0;
  for (let a = 0; a < ctx.assetCount; a++) {
    const held = margin.heldAfterOrders(a);
    const owed = margin.borrowedAfterOrders(a);
    if (held > 0n) subs = addSub(s, x, subs, a, true, margin.assetCollateralValueUsd(a));
    if (owed > 0n) subs = addSub(s, x, subs, a, false, margin.assetLiabilityUsd(a));
  }
  const underPosition = markAssetsUnderPositions(s, margin, x);
  const edgeBanded = underPosition ? markEdgeBandedStables(s, margin, x, subs) : 0;
  // The budgets only feed the bands derived below: none when every sub-slot's asset is edge-banded (a perpetual
  // holder's usual state: its USDC and its position's base), else the split as ever (the same budgets as before).
  if (edgeBanded < subs) splitSurplusBudget(surplusUsd, x.subWeight, subs, x.budgets);
  let count = 0;
  for (let i = 0; i < subs; i++) {
    const a = x.subAsset[i]!;
    // An asset under a perpetual position (or edge-banded with it) gets the empty band below whatever its sub-slots'
    // bands are: not derived.
    if (underPosition && x.underPosition[a] !== 0) emptyBand(x.band);
    else subBand(s, margin, a, x.subCollateral[i]!, x.budgets[i]!);
    if (count > 0 && x.assets[count - 1] === a) {
      if (x.band.low > x.lows[count - 1]!) x.lows[count - 1] = x.band.low;
      if (x.band.high < x.highs[count - 1]!) x.highs[count - 1] = x.band.high;
    } else {
      x.assets[count] = a;
      x.lows[count] = x.band.low;
      x.highs[count] = x.band.high;
      count++;
    }
  }
  count = emptyBandsUnderPositions(s, margin, x, count);
  if (underPosition) x.underPosition.fill(0);
  // The index keeps each high edge as high × the asset's borrow index now, and compares it with mark × the borrow
  // index then (subBand: a borrow band holds for its debt grown by that ratio).
  for (let i = 0; i < count; i++) x.highs[i] = x.highs[i]! * s.pools.pools[x.assets[i]!]!.borrowIndex;
  s.liquidation.setBands(id, x.assets, x.lows, x.highs, count, lendsAny(s.accounts.get(id)!));
}

/** Flags (x.underPosition) the base assets of the account's perpetual positions; true when there is any. */
function markAssetsUnderPositions(s: RiskState, margin: AccountMargin, x: BandScratch): boolean {
  const ctx = s.marginContext;
  let any = false;
  for (let m = 0; m < ctx.marketCount; m++) {
    if (!ctx.marketIsPerpetual[m] || margin.positionQuantity(m) === 0n) continue;
    if (x.underPosition.length !== ctx.assetCount) x.underPosition = new Uint8Array(ctx.assetCount);
    x.underPosition[ctx.marketBaseAsset[m]!] = 1;
    any = true;
  }
  return any;
}

/** x.underPosition's mark of an edge-banded stable asset (markEdgeBandedStables); 1 marks a position's base. */
const EDGE_BANDED_STABLE = 2;

/**
 * With a perpetual position on the account (markAssetsUnderPositions true): flags (EDGE_BANDED_STABLE) each asset
 * of its `subs` sub-slots that has an identity haircut and no oracle (its mark moves only by an operator's
 * SetMarkPrice, e.g. USDC at 1) and that it holds without owing any of it (open orders counted); returns how many
 * sub-slots are then not derived (these and the positions' base assets). Such an asset gets the position's band
 * (POSITION_EDGE low and high, emptyBandsUnderPositions) instead of a derived one. Sound: the low is above every mark,
 * so any move of its mark re-evaluates the account, and between two moves the asset loses nothing; a borrow index
 * moves nothing of a holding that owes none (lend indices: touchInterestCharged). So the other sub-slots' bands keep
 * their budgets as before, and the account's bands stay the same from batch to batch while its positions are open
 * (setBands finds them equal: nothing to flush) — the stable band's derivation, its new edges in the sorted lists and
 * the split were ~5% of pipeline.perp-order's CPU. Only the operator's override of such a mark touches more accounts.
 */
function markEdgeBandedStables(s: RiskState, margin: AccountMargin, x: BandScratch, subs: number): number {
  const ctx = s.marginContext;
  const assets = s.config.assets;
  let edgeBanded = 0;
  for (let i = 0; i < subs; i++) {
    const a = x.subAsset[i]!;
    if (x.underPosition[a] === 1) edgeBanded++;
    else if (
      x.subCollateral[i]! && ctx.haircut[a]!.kind === "identity" && assets[a]!.oracle === null && margin.borrowedAfterOrders(a) === 0n
    ) {
      x.underPosition[a] = EDGE_BANDED_STABLE;
      edgeBanded++;
    }
  }
  return edgeBanded;
}

/** The empty band (low > high): emptyBandsUnderPositions' value. */
function emptyBand(band: SafeBand): void {
  band.low = 1n;
  band.high = 0n;
}

/** A sub-slot's share of the surplus: its USD size; an identity-haircut (stable, USDC-like) asset's mark rarely moves,
 * so it takes a sixteenth of that and leaves the rest to the volatile prices (any split is sound; this one makes the
 * bands of the volatile prices wide). */
const STABLE_WEIGHT_DIVISOR = 16n;

function addSub(s: RiskState, x: BandScratch, subs: number, asset: number, collateral: boolean, weightUsd: bigint): number {
  x.subAsset[subs] = asset;
  x.subCollateral[subs] = collateral;
  x.subWeight[subs] = s.marginContext.haircut[asset]!.kind === "identity" ? weightUsd / STABLE_WEIGHT_DIVISOR : weightUsd;
  return subs + 1;
}

/**
 * One sub-slot's band into scratch.band. A borrow's band is derived for one unit more than it owes, with the budget
 * less what that unit costs at the mark, so it also holds after interest: with the borrow index grown by g from I0 to
 * I, the debt q' = ceil(shares × I) ≤ (q + 1) × g, and its contribution at mark p is at least that of q + 1 units at
 * p × g — inside the band while p × g ≤ high, which the index tests as p × I ≤ high × I0 (deriveBands). A holding's
 * band only gets the same high edge, which is more cautious. Open orders' future borrows are counted as grown too.
 */
function subBand(s: RiskState, margin: AccountMargin, a: number, collateral: boolean, budgetUsd: bigint): void {
  const ctx = s.marginContext;
  const x = scratch;
  const slot = x.slot;
  slot.assetDecimals = ctx.assetDecimals[a]!;
  slot.haircut = ctx.haircut[a]!;
  slot.borrowMmf = ctx.borrowMmf[a]!;
  const p0 = ctx.assetMark[a]!;
  let budget = budgetUsd;
  // The slot's contribution at p0 (safeBandFrom's c0) from the margin state, which values the same units at the same
  // mark with the same arithmetic (computeAsset; test/perp-shortcuts.test.ts): a holding's collateral value, and a
  // borrow's −(liability + its maintenance margin) for what it owes — the band's one unit more is valued here.
  let c0: bigint;
  if (collateral) {
    slot.assetNet = margin.heldAfterOrders(a);
    c0 = margin.assetCollateralValueUsd(a);
  } else {
    const owed = -(margin.assetLiabilityUsd(a) + margin.assetMaintenanceMarginUsd(a));
    slot.assetNet = -margin.borrowedAfterOrders(a) - 1n;
    c0 = slotSurplusUsd(slot, p0, FORMULAS);
    budget -= owed - c0;
  }
  const ticks = slot.haircut.kind === "identity" ? STABLE_GRID_TICKS_PER_MARK : GRID_TICKS_PER_MARK;
  const tick = p0 / ticks > 0n ? p0 / ticks : 1n;
  const grid = x.grid;
  grid.tick = tick;
  grid.minPrice = tick;
  grid.maxPrice = p0 * GRID_MAX_MARKS > tick ? p0 * GRID_MAX_MARKS : tick;
  safeBandFrom(slot, p0, c0, budget, grid as BandGrid, FORMULAS, x.band);
}

/**
 * A perpetual position's band edge: above every mark (and every mark × a borrow index's growth), so a low there is
 * outside at every move of the mark (lows are walked at mark moves only) and a high there never is.
 */
const POSITION_EDGE = 1n << 96n;

/**
 * Perpetual positions move with their base asset's mark today (RiskState.setAssetMark) and are not in the slot the
 * bands are derived from yet: the account is re-evaluated on every move of that asset's mark or its perpetual's. The
 * band says so by its low: POSITION_EDGE, above every mark. Its high is POSITION_EDGE too when the account owes
 * none of the asset (open orders' borrows counted): an accrual of the asset's borrow index (L5, every hour) moves
 * nothing of its margin then — a position's value, IMF and MMF are the mark's, and what it holds of the asset is
 * collateral, which no borrow index moves (lend indices: touchInterestCharged) — so the hour's walk of the highs
 * passes it by (at 100,000 positions every holder was re-evaluated at each hour mark: perp.funding-100k's ~0.5 s
 * batch). An account that owes the asset keeps the empty band (1, 0): its high is below every mark, so each
 * accrual re-evaluates it as before.
 */
function emptyBandsUnderPositions(s: RiskState, margin: AccountMargin, x: BandScratch, count: number): number {
  const ctx = s.marginContext;
  for (let i = 0; i < count; i++) {
    // An edge-banded stable (markEdgeBandedStables) owes none of the asset: a position's band with the high edge.
    if (x.underPosition[x.assets[i]!] === EDGE_BANDED_STABLE) x.lows[i] = x.highs[i] = POSITION_EDGE;
  }
  for (let m = 0; m < ctx.marketCount; m++) {
    if (!ctx.marketIsPerpetual[m] || margin.positionQuantity(m) === 0n) continue;
    const base = ctx.marketBaseAsset[m]!;
    let i = 0;
    while (i < count && x.assets[i] !== base) i++;
    if (i === count) x.assets[count++] = base;
    x.lows[i] = POSITION_EDGE;
    x.highs[i] = margin.borrowedAfterOrders(base) > 0n ? 0n : POSITION_EDGE;
  }
  return count;
}

/** Restore: every exposed account's bands at the restored marks (the index is not in the snapshot). */
export function rebuildLiquidationIndex(s: RiskState): void {
  s.liquidation.poolEpochSeen = s.pools.epoch;
  // An account still kept as bytes borrows nothing and has no borrowing order (engine/risk/snapshot.ts restoreHolds).
  // Exposure as the batch end judges it (hasNoBorrows: a perpetual position, a perpetual order or unsettled USDC is
  // exposure too): before, a perpetual holder without a borrow got no bands, and a crash of its mark reached it only
  // in the live engine (helper audit, X7).
  for (const account of s.accounts.madeValues()) {
    if (account.hasNoBorrows()) continue;
    const margin = account.syncedMargin();
    const ten = margin.totalExposureNotionalUsd();
    if (ten > 0n && !s.liquidation.liquidating.has(account.id)) deriveBands(s, account.id, margin, margin.netEquityUsd() - margin.maintenanceMarginUsd());
  }
  s.liquidation.flushChanges();
  // The restore's own markChanged calls touched accounts: their state is the snapshot's, nothing to re-evaluate.
  for (const id of s.liquidation.touched) {
    const account = s.accounts.get(id);
    if (account !== undefined) account.touched = false;
  }
  s.liquidation.touched.length = 0;
}
