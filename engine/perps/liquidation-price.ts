// P8: the estimated liquidation price of a position — the mark of its market at which the account's MMR reaches
// 100% with every other mark held — found exactly on the market's tick grid.
//
// The predicate is AccountMargin's own arithmetic (engine/risk/margin), restated on this position's inputs, in
// USD at PRICE_DECIMALS: at mark p,
//   notional = ceil(exposure × p / 10^baseDecimals)          (C4; exposure = |position| + risk-increasing orders)
//   margin   = ceil(notional × MMF(notional) / 1e18)          (C5; 0 when the notional is 0)
//   uPnL     = floor((quantity × p − costBasis) / 10^baseDecimals)
//   MMR ≥ 100%  ⇔  otherMaintenanceMarginUsd + margin ≥ otherEquityUsd + uPnL   (C7/C9: Σ notional × MMF ≥ net
//   equity; TEN > 0 because this position's notional is).
// MMF(notional) is C5's `max(mmf.base, mmf.factor × sqrt(notional))`. It lives in engine/risk/margin/formulas.ts
// (positionMmf), which this pure folder may not import (only engine/fixed and engine/model): the caller passes it in
// as `mmfOf`, so the rule is written once and P8 uses exactly the one the risk stage uses.
//
// Search. A long is liquidated as the mark falls, a short as it rises: the search runs from the current mark over
// the grid k × tickSize within [minPrice, maxPrice] on that side only. If MMR ≥ 100% already at the mark: AtMark.
// If not at the far end of the grid: None. Else a bracket search (false position with bisection as its guard,
// crossingIndex) keeps (not liquidatable, liquidatable) grid indices, closes them in to neighbours and returns the
// liquidatable one, p, with the property that MMR ≥ 100% at p and < 100% one tick toward the mark (or at the mark
// itself when p is the grid price next to it). It costs a few evaluations of the margin (bisection alone: log2(ticks)).
// The crossing is the nearest to the mark when the margin surplus (equity − margin) is monotone on the searched side.
// For a short it always is (equity falls and margin rises as the mark rises). For a long the surplus falls as the
// mark falls while |quantity| > exposure × d(notional × MMF)/d(notional), i.e. while 1.5 × MMF × exposure < |quantity|
// (for the sqrt branch; MMF × exposure for the flat one): always without open orders for any MMF below 2/3. Beyond
// that (a small long with large open buy orders) there can be several crossings; the answer is then still a crossing
// with the property above, not necessarily the nearest. The roundings shift each side of the comparison by under one
// nano-dollar, which moves the crossing by at most the ticks over which the exact surplus changes by two units.

import { divCeil, divRound, pow10, RATIO_SCALE, Rounding, type Amount, type Price, type Ratio } from "../fixed/index.ts";
import type { SqrtMarginFunction } from "../model/index.ts";

/** C5's position MMF as a function of the notional (USD, PRICE_DECIMALS): engine/risk/margin positionMmf. */
export type PositionMmfFormula = (notionalUsd: bigint, mmf: SqrtMarginFunction) => Ratio;

/** The inputs of P8 for one position; a reused record. USD amounts at PRICE_DECIMALS. */
export class LiquidationPriceInputs {
  /** Signed base units. */
  quantity: Amount = 0n;
  /** Σ signed quantity × price (the position's costBasis, base units × PRICE_DECIMALS). */
  costBasis = 0n;
  /** C4 net exposure quantity (≥ |quantity|). */
  exposureQuantity: Amount = 0n;
  baseDecimals = 0;
  mmf: SqrtMarginFunction = { base: 0n, factor: 0n };
  /** The account's net equity without this position's uPnL (collateral, other positions' uPnL, unsettled, − liabilities). */
  otherEquityUsd = 0n;
  /** Σ notional × MMF of every other position and borrow. */
  otherMaintenanceMarginUsd = 0n;
  /** The market's current mark and its price grid. */
  mark: Price = 0n;
  tickSize: Price = 0n;
  minPrice: Price = 0n;
  maxPrice: Price = 0n;
  /** Where a short's closed-form start begins its fixed point (0: at the mark). A hint only: any value gives the same
   * answer (shortCrossingGuess confirms its candidate by evaluations, else the search runs); the caller's previous
   * answer for the position is close to the new one, so the fixed point settles in fewer steps. */
  start: Price = 0n;
  /** maintenanceShortfallAtMark at `mark`, when the caller has it (null: evaluated here). The risk stage passes its
   * margin state's MM − net equity: the same arithmetic at the mark (test/perp-shortcuts.test.ts pins the identity),
   * so the mark's own test costs no MMF evaluation. */
  markShortfall: bigint | null = null;
  /** The position's uPnL at `mark` (floor((quantity × mark − costBasis) / 10^baseDecimals)), when the caller has it
   * with markShortfall (null: not used). A long's far end is then bounded without an MMF evaluation (farEndBound). */
  markUpnl: bigint | null = null;
}

export const LiquidationPriceKind = { None: 0, Found: 1, AtMark: 2 } as const;
export type LiquidationPriceKind = (typeof LiquidationPriceKind)[keyof typeof LiquidationPriceKind];

/** P8's answer; a reused record. price is 0 for None, the mark for AtMark. */
export class LiquidationPriceResult {
  kind: LiquidationPriceKind = LiquidationPriceKind.None;
  price: Price = 0n;
}

/**
 * P8's margin surplus at mark `price`: maintenance margin − net equity (USD, PRICE_DECIMALS), the account's side of
 * C9 with this position at `price`. ≥ 0 means MMR ≥ 100% whenever the total exposure is positive.
 */
export function maintenanceShortfallAtMark(inp: LiquidationPriceInputs, price: Price, mmfOf: PositionMmfFormula): bigint {
  const unit = pow10(inp.baseDecimals);
  // The module comment's formulas with the divisions written out (the solver's inner loop): a non-negative numerator's
  // ceiling is (n + d − 1) / d; uPnL is signed, so its floor corrects truncation toward zero. Exactly divRound's values
  // (test/perps.test.ts compares them on random inputs).
  const exposureValue = inp.exposureQuantity * price;
  if (exposureValue < 0n) return maintenanceShortfallSigned(inp, price, mmfOf, unit);
  const notional = (exposureValue + unitMinusOne(inp.baseDecimals)) / unit;
  const marginValue = notional === 0n ? 0n : notional * mmfOf(notional, inp.mmf);
  const margin = marginValue >= 0n ? (marginValue + RATIO_SCALE_MINUS_ONE) / RATIO_SCALE : divRound(marginValue, RATIO_SCALE, Rounding.Up);
  const pnlValue = inp.quantity * price - inp.costBasis;
  let upnl = pnlValue / unit;
  if (upnl * unit > pnlValue) upnl -= 1n;
  return inp.otherMaintenanceMarginUsd + margin - (inp.otherEquityUsd + upnl);
}

const RATIO_SCALE_MINUS_ONE = RATIO_SCALE - 1n;
/** 10^decimals − 1 by decimals up to 36 (a ceiling's numerator term: one bigint fewer per evaluation). */
const UNIT_MINUS_ONE: readonly bigint[] = Array.from({ length: 37 }, (_, d) => pow10(d) - 1n);

function unitMinusOne(decimals: number): bigint {
  return decimals < UNIT_MINUS_ONE.length ? UNIT_MINUS_ONE[decimals]! : pow10(decimals) - 1n;
}

/** maintenanceShortfallAtMark for a negative exposure value (a negative price: never the solver's grid), by divRound. */
function maintenanceShortfallSigned(inp: LiquidationPriceInputs, price: Price, mmfOf: PositionMmfFormula, unit: bigint): bigint {
  const notional = divRound(inp.exposureQuantity * price, unit, Rounding.Up);
  const margin = notional === 0n ? 0n : divRound(notional * mmfOf(notional, inp.mmf), RATIO_SCALE, Rounding.Up);
  const upnl = divRound(inp.quantity * price - inp.costBasis, unit, Rounding.Down);
  return inp.otherMaintenanceMarginUsd + margin - (inp.otherEquityUsd + upnl);
}

/** P8's predicate: is the account at MMR ≥ 100% when this market's mark is `price`? */
export function isLiquidatableAtMark(inp: LiquidationPriceInputs, price: Price, mmfOf: PositionMmfFormula): boolean {
  const tenPositive = inp.exposureQuantity * price > 0n || inp.otherMaintenanceMarginUsd > 0n;
  return tenPositive && maintenanceShortfallAtMark(inp, price, mmfOf) >= 0n;
}

/** isLiquidatableAtMark at the inputs' mark, from inp.markShortfall when given. */
function liquidatableAtMark(inp: LiquidationPriceInputs, mmfOf: PositionMmfFormula): boolean {
  if (inp.markShortfall === null) return isLiquidatableAtMark(inp, inp.mark, mmfOf);
  const tenPositive = inp.exposureQuantity * inp.mark > 0n || inp.otherMaintenanceMarginUsd > 0n;
  return tenPositive && inp.markShortfall >= 0n;
}

function setResult(out: LiquidationPriceResult, kind: LiquidationPriceKind, price: Price): LiquidationPriceResult {
  out.kind = kind;
  out.price = price;
  return out;
}

/** P8: the estimated liquidation price (see the module comment). Needs tickSize > 0 and 0 < minPrice ≤ maxPrice. */
export function estimatedLiquidationPrice(
  inp: LiquidationPriceInputs,
  mmfOf: PositionMmfFormula,
  out: LiquidationPriceResult,
  /** Try the short's closed-form start first (shortCrossingGuess); false = the search alone (tests compare both). */
  guess = true,
): LiquidationPriceResult {
  const tick = inp.tickSize;
  if (tick <= 0n || inp.minPrice <= 0n || inp.maxPrice < inp.minPrice) {
    throw new RangeError("estimatedLiquidationPrice: needs tickSize > 0 and 0 < minPrice ≤ maxPrice");
  }
  const absQuantity = inp.quantity < 0n ? -inp.quantity : inp.quantity;
  if (inp.exposureQuantity < absQuantity) throw new RangeError("estimatedLiquidationPrice: exposureQuantity < |quantity|");
  if (inp.quantity === 0n || inp.mark <= 0n) return setResult(out, LiquidationPriceKind.None, 0n);
  const long = inp.quantity > 0n;
  // The grid indices on the adverse side: [far, near] for a long (prices below the mark), [near, far] for a short.
  const g = gridEnds(inp);
  const near = long ? g.markDown : g.markUp;
  const far = long ? g.lowest : g.highest;
  // A short's start before the mark's own test: a crossing it confirms beyond `near` has shortfall < 0 one index
  // before, so (non-decreasing) at the mark too — not AtMark; likewise None (shortfall < 0 at the far end).
  let start = 0n;
  if (!long && guess && far >= near && inp.mmf.base >= 0n && inp.mmf.factor >= 0n) {
    start = shortCrossingGuess(inp, near, far, mmfOf);
    if (start === NONE_ON_GRID) return setResult(out, LiquidationPriceKind.None, 0n);
    if (start > near) return setResult(out, LiquidationPriceKind.Found, start * tick);
  }
  if (liquidatableAtMark(inp, mmfOf)) return setResult(out, LiquidationPriceKind.AtMark, inp.mark);
  if (long ? far > near : far < near) return setResult(out, LiquidationPriceKind.None, 0n);
  if (start === near) return setResult(out, LiquidationPriceKind.Found, near * tick); // confirmed liquidatable at near
  // Inside the grid the notional is positive (exposure ≥ |quantity| > 0, price ≥ minPrice > 0): the shortfall's sign
  // alone decides C9.
  if (long && farEndBound(inp, far * tick) < 0n) return setResult(out, LiquidationPriceKind.None, 0n);
  const farShortfall = maintenanceShortfallAtMark(inp, far * tick, mmfOf);
  if (farShortfall < 0n) return setResult(out, LiquidationPriceKind.None, 0n);
  const nearShortfall = maintenanceShortfallAtMark(inp, near * tick, mmfOf);
  if (nearShortfall >= 0n) return setResult(out, LiquidationPriceKind.Found, near * tick);
  return setResult(out, LiquidationPriceKind.Found, crossingIndex(inp, near, nearShortfall, far, farShortfall, mmfOf) * tick);
}

/** The grid indices estimatedLiquidationPrice starts from — a function of (mark, tickSize, minPrice, maxPrice) alone,
 * kept for the last such inputs (a batch's position reports solve many positions of one market at one mark). */
class GridEnds {
  mark = -1n;
  tick = 0n;
  minPrice = 0n;
  maxPrice = 0n;
  /** floor and ceil of mark / tick, ceil(minPrice / tick), floor(maxPrice / tick). */
  markDown = 0n;
  markUp = 0n;
  lowest = 0n;
  highest = 0n;
}
const GRID_ENDS = new GridEnds();

function gridEnds(inp: LiquidationPriceInputs): GridEnds {
  const g = GRID_ENDS;
  const tick = inp.tickSize;
  if (g.mark === inp.mark && g.tick === tick && g.minPrice === inp.minPrice && g.maxPrice === inp.maxPrice) return g;
  g.markDown = divRound(inp.mark, tick, Rounding.Down);
  g.markUp = divRound(inp.mark, tick, Rounding.Up);
  g.lowest = divRound(inp.minPrice, tick, Rounding.Up);
  g.highest = divRound(inp.maxPrice, tick, Rounding.Down);
  g.mark = inp.mark;
  g.tick = tick;
  g.minPrice = inp.minPrice;
  g.maxPrice = inp.maxPrice;
  return g;
}

/**
 * The steps still to come of shortCrossingGuess's map p ↦ g(p) = n / (E × MMF(p) − q) after one `step` from `from` to
 * `to` on the sqrt branch, summed at once: about step × r / (1 − r), r the map's slope. The next step is g(to) − g(from)
 * = g′(ξ) × step, ξ the midpoint, and with MMF ∝ √p, g′(ξ) = −(g(ξ) / ξ) × E × MMF(ξ) / (2 × den(ξ)): MMF(ξ) ≈ MMF(from)
 * × (1 + step / (4 × from)) and g(ξ) / ξ ≈ 1 + step / (2 × to), to first order in step / p. `em` = E × MMF(from),
 * `qScaled` = q × 1e18. An estimate only (the caller confirms its candidate by evaluations).
 */
function slopeCorrection(step: bigint, em: bigint, qScaled: bigint, from: bigint, to: bigint): bigint {
  const a = em * (4n * from + step); // E × MMF(ξ) × 4 × from
  const b = a - qScaled * 4n * from; // den(ξ) × 4 × from
  const c = 2n * to + step; // (g(ξ) / ξ) × 2 × to
  return -(step * a * c) / (4n * b * to + a * c);
}

/**
 * A long's shortfall at `price` ≤ the mark is at most markShortfall + markUpnl − uPnL(price): the notional
 * ceil(E × p / u) and so the MMF (non-decreasing: base, factor ≥ 0) and the margin never rise as p falls, so the margin
 * at `price` is at most the one at the mark (markShortfall + otherEquity + markUpnl − otherMaintenance). Returns that
 * bound, or 0 (no bound: the inputs are missing or the MMF may fall) — < 0 means the shortfall at `price` is < 0.
 */
function farEndBound(inp: LiquidationPriceInputs, price: Price): bigint {
  if (inp.markShortfall === null || inp.markUpnl === null || inp.mmf.base < 0n || inp.mmf.factor < 0n || price > inp.mark) return 0n;
  const unit = pow10(inp.baseDecimals);
  const pnlValue = inp.quantity * price - inp.costBasis;
  let upnl = pnlValue / unit;
  if (upnl * unit > pnlValue) upnl -= 1n;
  return inp.markShortfall + inp.markUpnl - upnl;
}

/**
 * A short's crossing from a closed-form start, NONE_ON_GRID, or 0 when the start does not confirm it (the search then
 * runs). For a
 * short the shortfall is non-decreasing in the mark, roundings included: the notional ceil(E × p / u) and so the MMF
 * and the margin (ceilings of non-decreasing products) never fall as p rises, and the uPnL floor((q × p − c) / u)
 * with q < 0 never rises. So the grid's liquidatable prices are exactly those from one index on, and an index k in
 * [near, far] with shortfall(k) ≥ 0 and (k = near or shortfall(k − 1) < 0) is the search's answer (the search's
 * bracket closes on that unique pair), and a start beyond the grid whose far end is not liquidatable means None. The
 * start solves the shortfall's linear form p = ((B − A) × u − c) × 1e18 / (E × MMF − q × 1e18) (A, B: the other
 * maintenance margin and equity; c the cost basis) at the MMF of the notional at the mark, then again at the MMF of
 * the notional at its answer until it moves by less than a tick; its ceiling on the grid and the indices next to it
 * are tried: two or three evaluations where the search takes four to twelve. Only for a short whose open orders at
 * most double its exposure (E ≤ 2|q|) and with an MMF below GUESS_MMF_MAX, where the fixed point converges in a few
 * steps (each shrinks the error by a factor of about E × MMF / (2 × (E × MMF + |q|))).
 */
/** The start's fixed-point steps at most (the MMF of the sqrt branch moves each by a factor of ~MMF / 2: ~4 suffice). */
const GUESS_ITERATIONS_MAX = 8;
/** Above this MMF (1/8) the start is not tried (see shortCrossingGuess). */
const GUESS_MMF_MAX = RATIO_SCALE / 8n;
/** shortCrossingGuess's answer when the grid's far end is not liquidatable: no crossing (None). */
const NONE_ON_GRID = -1n;

/** GUESS_MMF_MAX and 10^18 as doubles (crossingInDoubles). */
const GUESS_MMF_MAX_NUMBER = Number(GUESS_MMF_MAX);
const RATIO_SCALE_NUMBER = Number(RATIO_SCALE);
/** The doubles' fixed-point steps at most (each shrinks the error by ~E × MMF / (2 × |q|): a few suffice). */
const DOUBLE_ITERATIONS_MAX = 12;

/**
 * shortCrossingGuess's map p ↦ numerator × 1e18 / (E × MMF(p) − q × 1e18) iterated in doubles from `from`, with
 * MMF(p) = max(base, factor × √(notional × 1e9) / 1e9) at notional E × p / 10^baseDecimals — C5's sqrt MMF without its
 * roundings. Returns the settled price rounded to an integer (a step under a sixteenth of a tick), or 0 when it does
 * not settle within DOUBLE_ITERATIONS_MAX steps, leaves the positive finite range or passes GUESS_MMF_MAX. An estimate
 * only: the caller confirms its grid index by exact evaluations (and the exact map runs when this returns 0).
 */
function crossingInDoubles(inp: LiquidationPriceInputs, numerator: bigint, from: bigint): bigint {
  const e = Number(inp.exposureQuantity);
  const qScaled = Number(inp.quantity) * RATIO_SCALE_NUMBER;
  const unit = 10 ** inp.baseDecimals;
  const num = Number(numerator) * RATIO_SCALE_NUMBER;
  const base = Number(inp.mmf.base);
  const factor = Number(inp.mmf.factor);
  const settledStep = Number(inp.tickSize) / 16;
  let p = Number(from);
  for (let i = 0; i < DOUBLE_ITERATIONS_MAX; i++) {
    // FLOAT-ESTIMATE: only where to look; shortCrossingGuess confirms the grid index by exact bigint evaluations.
    const term = (factor * Math.sqrt(((e * p) / unit) * 1e9)) / 1e9;
    const mmf = term > base ? term : base;
    if (!(mmf <= GUESS_MMF_MAX_NUMBER)) return 0n;
    const next = num / (e * mmf - qScaled);
    if (!(next > 0 && next < 2 ** 62)) return 0n;
    const step = next - p;
    p = next;
    if (step < settledStep && step > -settledStep) return BigInt(Math.round(p));
  }
  return 0n;
}

function shortCrossingGuess(inp: LiquidationPriceInputs, near: bigint, far: bigint, mmfOf: PositionMmfFormula): bigint {
  const tick = inp.tickSize;
  const unit = pow10(inp.baseDecimals);
  const numerator = (inp.otherEquityUsd - inp.otherMaintenanceMarginUsd) * unit - inp.costBasis;
  const e = inp.exposureQuantity;
  if (e > -2n * inp.quantity) return 0n; // open orders more than double the exposure: the fixed point may be slow
  let p = inp.start > 0n ? inp.start : inp.mark;
  let farChecked = false; // the far end is known liquidatable
  // The map's fixed point in doubles first (no bigint root, no division): the candidate below is confirmed exactly
  // either way, so the doubles only choose where to look; when they do not settle, the exact map runs as before.
  const settled = crossingInDoubles(inp, numerator, p);
  if (settled > 0n) p = settled;
  else {
    let lastStep = 0n; // the previous step of the map (0: none, or the last move was an extrapolation)
    for (let i = 0; i < GUESS_ITERATIONS_MAX; i++) {
      const mmf = mmfOf((e * (p > 0n ? p : 1n) + unit - 1n) / unit, inp.mmf);
      if (mmf > GUESS_MMF_MAX) return 0n;
      const em = e * mmf;
      const den = em - inp.quantity * RATIO_SCALE;
      const next = divRound(numerator * RATIO_SCALE, den, Rounding.Down);
      const step = next - p;
      p = next;
      if (step < tick && step > -tick) break;
      const stepAbs = step < 0n ? -step : step;
      const from = p - step;
      if (mmf !== inp.mmf.base && p > 0n && from > 0n) {
        p += slopeCorrection(step, em, inp.quantity * RATIO_SCALE, from, p);
        const moved = p - next;
        // What the correction leaves is of the order of |correction| × (step / p)²: under a tick, the map has settled.
        if ((moved < 0n ? -moved : moved) * step * step < tick * p * p) break;
        lastStep = 0n;
      } else if (lastStep !== 0n && stepAbs < (lastStep < 0n ? -lastStep : lastStep)) {
        // Aitken's Δ²: steps shrinking about geometrically (ratio r = step / lastStep, |r| < 1, of either sign: the map
        // overshoots when the MMF's slope is steep) sum to p + step × r / (1 − r) = p + step² / (lastStep − step). It only
        // moves where the next step starts: the candidate is confirmed below either way. When that correction is under a
        // tick the map has settled: the step that would show it is not taken.
        const rest = (step * step) / (lastStep - step);
        p += rest;
        if (rest < tick && rest > -tick) break;
        lastStep = 0n;
      } else lastStep = step;
      // The first step from the mark (at its MMF, the lowest) is at or above the root: beyond the grid, its far end
      // decides. From another start it is only likely to be; either way the far end is evaluated, so what it says holds.
      if (i === 0 && p > far * tick) {
        if (maintenanceShortfallAtMark(inp, far * tick, mmfOf) < 0n) return NONE_ON_GRID;
        farChecked = true;
      }
    }
  }
  let k = divCeil(p, tick);
  if (k < near) k = near;
  if (k > far) return farChecked || maintenanceShortfallAtMark(inp, far * tick, mmfOf) >= 0n ? 0n : NONE_ON_GRID;
  // One tick down the shortfall falls by at least floor(|q| × tick / u): the margin does not rise (the notional falls)
  // and the uPnL floor rises by at least that (⌊a⌋ − ⌊b⌋ ≥ ⌊a − b⌋). A shortfall below it at k is < 0 at k − 1.
  const drop = (-inp.quantity * tick) / unit;
  const atK = maintenanceShortfallAtMark(inp, k * tick, mmfOf);
  if (atK >= 0n) {
    if (k === near || atK < drop || maintenanceShortfallAtMark(inp, (k - 1n) * tick, mmfOf) < 0n) return k;
    if (k - 1n === near || maintenanceShortfallAtMark(inp, (k - 2n) * tick, mmfOf) < 0n) return k - 1n;
    return 0n;
  }
  if (k + 1n <= far && maintenanceShortfallAtMark(inp, (k + 1n) * tick, mmfOf) >= 0n) return k + 1n;
  return 0n;
}

/**
 * The grid index of the crossing between `near` (not liquidatable) and `far` (liquidatable), both exclusive of each
 * other's side: a bracket (safe, hit) closed in to neighbours, choosing each probe by false position on the
 * shortfalls at the bracket's ends (the Illinois variant: an end that stays twice has its shortfall halved) and by
 * bisection after a probe that did not halve the bracket. The shortfall is close to linear in the mark (the sqrt
 * MMF bends it slightly), so a probe usually lands within a tick of the crossing and the next one closes it: ~2–4
 * evaluations instead of bisection's log2(ticks) (~27 for BTC). Any closing order finds the same (safe, hit) pair
 * when the crossing is unique, and the same bracket invariant holds when it is not (see the module comment).
 * Every probe is strictly inside the bracket, so the loop ends.
 */
function crossingIndex(
  inp: LiquidationPriceInputs,
  near: bigint,
  nearShortfall: bigint,
  far: bigint,
  farShortfall: bigint,
  mmfOf: PositionMmfFormula,
): bigint {
  const tick = inp.tickSize;
  let safe = near;
  let hit = far;
  let safeShortfall = nearShortfall; // < 0
  let hitShortfall = farShortfall; // ≥ 0
  let lastKept = 0; // 1: the safe end stayed at the last probe, 2: the hit end stayed
  let bisectNext = false;
  for (;;) {
    const span = hit - safe;
    const width = span < 0n ? -span : span;
    if (width <= 1n) return hit;
    const rise = hitShortfall - safeShortfall;
    let mid: bigint = bisectNext || rise <= 0n ? (safe + hit) >> 1n : safe + (span * -safeShortfall) / rise;
    if (mid === safe) mid += span < 0n ? -1n : 1n;
    else if (mid === hit) mid -= span < 0n ? -1n : 1n;
    const shortfall = maintenanceShortfallAtMark(inp, mid * tick, mmfOf);
    if (shortfall >= 0n) {
      hit = mid;
      hitShortfall = shortfall;
      if (lastKept === 1) safeShortfall /= 2n;
      lastKept = 1;
    } else {
      safe = mid;
      safeShortfall = shortfall;
      if (lastKept === 2) hitShortfall /= 2n;
      lastKept = 2;
    }
    const left: bigint = hit - safe;
    bisectNext = (left < 0n ? -left : left) * 2n > width;
  }
}
