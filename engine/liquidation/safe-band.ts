// Q1's index without scanning: per account and per price (an asset's mark or a perpetual market's mark), a band of
// that price within which the account is certainly not liquidatable; a mark move reaches only the accounts whose band
// the new mark leaves.
//
// Surplus. An account is liquidatable iff TEN > 0 and MM ≥ E (C9), so it is certainly safe while the surplus
// S = E − MM > 0. S is a sum of per-slot contributions plus the unsettled amount; the contribution of the slots
// moved by one price p (`PriceSlot`: the net balance of the asset whose mark is p, and/or the perpetual position of
// the market whose mark is p) is, with risk/margin's exact roundings (engine/risk/margin/account.ts computeAsset,
// computePosition):
//   collateral (net > 0): floor(net × p × w(ceil(net × p / unit)) / (unit × 1e18))
//   borrow (net < 0):     −L − ceil(L × MMF(L) / 1e18),  L = ceil(|net| × p / unit)
//   position:             floor((q × p − cost) / unit) − ceil(N × MMF(N) / 1e18),  N = ceil(exposure × p / unit)
// The weight w and MMF are risk/margin's haircutWeight and positionMmf, passed in (`BandFormulas`) because a pure
// folder may not import risk — the rule is written once, as in engine/perps/liquidation-price.ts.
//
// A lower bound over a price interval [a, b], exact and never above the contribution at any p in it, from the
// monotonicity of each rounded term (w is non-increasing in the notional; L, N, MMF, the margins are
// non-decreasing in p; uPnL is monotone with the sign of q): collateral at a with the weight of b; borrow at b;
// uPnL at a for a long, at b for a short; the position's margin at b. (The exact contribution is concave in p —
// x·w(x) is concave, the margins convex — so the safe set is an interval; the bound does not rely on it, because
// the roundings break exact concavity by a unit here and there.)
//
// Band. Given the contribution c0 at the current mark p0 and a budget B (how much of the account's surplus this price
// may consume), the band is the widest [low, high] ∋ p0 on the grid with c0 − lowerBound(low, p0) ≤ B and
// c0 − lowerBound(p0, high) ≤ B; both tests are monotone in the far end, so each edge is one grid index, which a
// bisection finds exactly — and so do the shortcuts, which only find it with fewer bound evaluations (a holding's low
// edge in closed form, a borrow's high edge guessed in doubles and confirmed, false position for the rest; each is
// tested against the bisections: test/perp-shortcuts.test.ts).
// If the budgets of all the account's prices sum to less than S0 (splitSurplusBudget gives S0 − 1 in shares), then
// any combination of moves that keeps every price inside its band leaves S > 0: S(p) ≥ S0 − Σ losses ≥ S0 − Σ B > 0.
// So the index is sound for one mark or many moving in a batch, and needs re-deriving only when the account's own
// composition changes (a fill, funding, interest, realization) or a mark leaves a band.
//
// Index. With the bands in arrays the caller owns, the accounts a move to m1 may push over MMR 100% are exactly those
// with m1 < low or m1 > high (mayBecomeLiquidatable); with lows and highs each kept sorted, they are a suffix of the
// lows and a prefix of the highs (firstIndexAbove, firstIndexAtOrAbove): two binary searches, no scan.

import { divCeil, divFloor, divRound, pow10, RATIO_SCALE, Rounding, type Amount, type Price, type Ratio } from "../fixed/index.ts";
import { PRICE_DECIMALS, type HaircutConfig, type SqrtMarginFunction } from "../model/index.ts";

/** risk/margin's C1 weight and C5 MMF (haircutWeight, positionMmf), passed in by the caller. C1: an identity
 * haircut's weight is RATIO_SCALE at every notional (safeBand's closed form for a stable holding relies on it). */
export interface BandFormulas {
  haircutWeight(haircut: HaircutConfig, notionalUsd: bigint): Ratio;
  positionMmf(notionalUsd: bigint, mmf: SqrtMarginFunction): Ratio;
}

const IDENTITY: HaircutConfig = { kind: "identity" };
const NO_MARGIN: SqrtMarginFunction = { base: 0n, factor: 0n };

/** What one price moves in one account; a reused record. Either part may be empty (0 quantities). */
export class PriceSlot {
  /** Net balance of the asset whose mark this is (available + locked + lent − borrowed), asset units. */
  assetNet: Amount = 0n;
  assetDecimals = 0;
  haircut: HaircutConfig = IDENTITY;
  borrowMmf: SqrtMarginFunction = NO_MARGIN;
  /** The perpetual position of the market whose mark this is: signed base units, Σ qty × price, C4 exposure. */
  positionQuantity: Amount = 0n;
  positionCostBasis = 0n;
  exposureQuantity: Amount = 0n;
  baseDecimals = 0;
  positionMmf: SqrtMarginFunction = NO_MARGIN;
}

/** The band of one price in one account; low > high (EMPTY: 1, 0) means "not certainly safe anywhere". */
export class SafeBand {
  low: Price = 1n;
  high: Price = 0n;
}

/** The grid the band edges are searched on: multiples of tick within [minPrice, maxPrice]; 0 < minPrice. */
export interface BandGrid {
  readonly tick: Price;
  readonly minPrice: Price;
  readonly maxPrice: Price;
}

// The bound's divisions (each band evaluation makes several) by divCeil / divFloor: numerators ≥ 0 on a valid grid.

/** Collateral value of a holding valued at `valuePrice` with the weight of its notional at `weightPrice`. */
function collateralValue(slot: PriceSlot, valuePrice: Price, weightPrice: Price, f: BandFormulas): bigint {
  const unit = pow10(slot.assetDecimals);
  const notionalUp = divCeil(slot.assetNet * weightPrice, unit);
  const weight = f.haircutWeight(slot.haircut, notionalUp);
  return divFloor(slot.assetNet * valuePrice * weight, unit * RATIO_SCALE);
}

function marginOf(notional: bigint, mmf: SqrtMarginFunction, f: BandFormulas): bigint {
  return notional === 0n ? 0n : divCeil(notional * f.positionMmf(notional, mmf), RATIO_SCALE);
}

/** −(liability + its maintenance margin) of a borrow at price p. */
function borrowContribution(slot: PriceSlot, p: Price, f: BandFormulas): bigint {
  const liability = divCeil(-slot.assetNet * p, pow10(slot.assetDecimals));
  return -liability - marginOf(liability, slot.borrowMmf, f);
}

function positionPnl(slot: PriceSlot, p: Price): bigint {
  return divRound(slot.positionQuantity * p - slot.positionCostBasis, pow10(slot.baseDecimals), Rounding.Down);
}

function positionMargin(slot: PriceSlot, p: Price, f: BandFormulas): bigint {
  const notional = divCeil(slot.exposureQuantity * p, pow10(slot.baseDecimals));
  return marginOf(notional, slot.positionMmf, f);
}

/** The slot's exact contribution to E − MM at price p (USD, PRICE_DECIMALS), as risk/margin computes it. */
export function slotSurplusUsd(slot: PriceSlot, p: Price, f: BandFormulas): bigint {
  return slotSurplusLowerBoundUsd(slot, p, p, f);
}

/** A lower bound of slotSurplusUsd(slot, p) over every p in [a, b] (0 < a ≤ b); exact when a = b. */
export function slotSurplusLowerBoundUsd(slot: PriceSlot, a: Price, b: Price, f: BandFormulas): bigint {
  let s = 0n;
  if (slot.assetNet > 0n) s += collateralValue(slot, a, b, f);
  else if (slot.assetNet < 0n) s += borrowContribution(slot, b, f);
  if (slot.positionQuantity !== 0n || slot.positionCostBasis !== 0n) {
    s += positionPnl(slot, slot.positionQuantity > 0n ? a : b);
  }
  if (slot.exposureQuantity !== 0n) s -= positionMargin(slot, b, f);
  return s;
}

/**
 * Splits an account's surplus S0 = E − MM into budgets for its prices in proportion to `weights` (e.g. each slot's
 * maintenance margin; equal shares when they sum to 0), so that Σ budget ≤ S0 − 1 < S0. S0 ≤ 0 gives −1 everywhere
 * (empty bands: the account is not certainly safe).
 */
export function splitSurplusBudget(
  surplusUsd: bigint,
  weights: readonly bigint[],
  count: number,
  out: bigint[],
): bigint[] {
  if (count <= 0) return out;
  if (count === 1) {
    // One price takes all of it: spendable × w / w when w > 0 (no product, no division), else the equal share.
    const spendable = surplusUsd - 1n;
    out[0] = spendable < 0n ? -1n : spendable;
    return out;
  }
  let total = 0n;
  for (let i = 0; i < count; i++) total += weights[i]! > 0n ? weights[i]! : 0n;
  const spendable = surplusUsd - 1n;
  for (let i = 0; i < count; i++) {
    if (spendable < 0n) out[i] = -1n;
    else if (total === 0n) out[i] = spendable / BigInt(count);
    else out[i] = (spendable * (weights[i]! > 0n ? weights[i]! : 0n)) / total;
  }
  return out;
}

/** Bound evaluations the band searches have made in this thread (tests compare the ways to an edge by it). */
let boundEvaluations = 0;

export function bandSearchEvaluations(): number {
  return boundEvaluations;
}

function lossWithin(slot: PriceSlot, c0: bigint, a: Price, b: Price, f: BandFormulas): bigint {
  boundEvaluations++;
  return c0 - slotSurplusLowerBoundUsd(slot, a, b, f);
}

/** Smallest grid price g ≤ p0 with loss over [g, p0] ≤ budget, or p0 when none. */
function lowEdge(slot: PriceSlot, p0: Price, c0: bigint, budget: bigint, grid: BandGrid, f: BandFormulas, interpolate: boolean): Price {
  const tick = grid.tick;
  const bad = divRound(grid.minPrice, tick, Rounding.Up);
  const good = divRound(p0, tick, Rounding.Down);
  if (bad > good) return p0;
  const badExcess = lossWithin(slot, c0, bad * tick, p0, f) - budget;
  if (badExcess <= 0n) return bad * tick;
  const goodExcess = nearExcess(slot, p0, c0, budget, good * tick, f, true);
  if (goodExcess > 0n) return p0;
  return edgeIndex(EDGE_SEARCH.start(slot, p0, c0, budget, tick, f, true), good, goodExcess, bad, badExcess, interpolate) * tick;
}

/** Largest grid price g ≥ p0 with loss over [p0, g] ≤ budget, or p0 when none. */
function highEdge(slot: PriceSlot, p0: Price, c0: bigint, budget: bigint, grid: BandGrid, f: BandFormulas, interpolate: boolean): Price {
  const tick = grid.tick;
  const good = divRound(p0, tick, Rounding.Up);
  const bad = divRound(grid.maxPrice, tick, Rounding.Down);
  if (good > bad) return p0;
  if (interpolate && isBorrowOnly(slot)) {
    const certified = certifiedBorrowHighEdge(slot, p0, c0, budget, tick, good, bad, f);
    if (certified >= 0n) return certified * tick;
  }
  const badExcess = lossWithin(slot, c0, p0, bad * tick, f) - budget;
  if (badExcess <= 0n) return bad * tick;
  const goodExcess = nearExcess(slot, p0, c0, budget, good * tick, f, false);
  if (goodExcess > 0n) return p0;
  return edgeIndex(EDGE_SEARCH.start(slot, p0, c0, budget, tick, f, false), good, goodExcess, bad, badExcess, interpolate) * tick;
}

/** Is the slot a borrow and nothing else (no holding, no position): certifiedBorrowHighEdge's case? */
function isBorrowOnly(slot: PriceSlot): boolean {
  return slot.assetNet < 0n && hasNoPosition(slot);
}

/** No perpetual position moves with this price in the slot (quantity, cost and exposure all 0). */
function hasNoPosition(slot: PriceSlot): boolean {
  return slot.positionQuantity === 0n && slot.positionCostBasis === 0n && slot.exposureQuantity === 0n;
}

/**
 * A borrow's high edge from a guess confirmed exactly, or −1 when the guess does not confirm (highEdge then searches).
 * Above p0 a borrow of N units loses L(b) + MM(L(b)) − (L0 + MM0), L(b) = ceil(N × b / unit), MM(L) = ceil(L × MMF(L)
 * / 1e18), MMF(L) = max(base, factor × sqrt(L)): the loss stays within the budget while L + MM(L) ≤ K = budget − c0.
 * In doubles, L* solves L × (1 + MMF(L)) = K (Newton from L = K: the left side is convex and increasing, so the steps
 * fall monotonically onto the root), and the grid index whose L is the last ≤ L* is g = floor(L* × unit / (N × tick)).
 * Only the start is in doubles: the answer is an index i with the exact bound inside at i and outside at i + 1 (the
 * excess is monotone in the index, so that pair is the edge the searches find, and every grid price between p0 and i
 * is inside too), looked for at g and one index to either side — two or three evaluations instead of the search's
 * near, far and ~5 probes (a margin taker's USDC borrow, at every batch end). A dust borrow (L* of a few units, where
 * the ceilings dominate) or an edge at the grid's end does not confirm: searched.
 */
function certifiedBorrowHighEdge(slot: PriceSlot, p0: Price, c0: bigint, budget: bigint, tick: Price, good: bigint, bad: bigint, f: BandFormulas): bigint {
  const g = borrowEdgeGuess(slot, budget - c0, tick);
  if (g < good || g >= bad) return -1n;
  if (lossWithin(slot, c0, p0, g * tick, f) > budget) {
    // One index below: the guess was past the edge by one.
    return g > good && lossWithin(slot, c0, p0, (g - 1n) * tick, f) <= budget ? g - 1n : -1n;
  }
  if (lossWithin(slot, c0, p0, (g + 1n) * tick, f) > budget) return g;
  // One index above: the guess was short of the edge by one.
  return g + 2n <= bad && lossWithin(slot, c0, p0, (g + 2n) * tick, f) > budget ? g + 1n : -1n;
}

/** certifiedBorrowHighEdge's guess of the edge's grid index (−1 when the doubles give none). */
function borrowEdgeGuess(slot: PriceSlot, room: bigint, tick: Price): bigint {
  // FLOAT-START: only the guess; certifiedBorrowHighEdge's exact evaluations decide the answer.
  const k = Number(room);
  const base = Number(slot.borrowMmf.base) / RATIO_SCALE_NUMBER;
  // factor × sqrt(L × PRICE_SCALE) / PRICE_SCALE = a × sqrt(L)
  const a = Number(slot.borrowMmf.factor) / RATIO_SCALE_NUMBER / Math.sqrt(PRICE_SCALE_NUMBER);
  let l = k;
  for (let i = 0; i < NEWTON_STEPS_MAX; i++) {
    const root = Math.sqrt(l);
    const sloped = a * root > base;
    const value = l * (1 + (sloped ? a * root : base)) - k;
    const slope = sloped ? 1 + 1.5 * a * root : 1 + base;
    const next = l - value / slope;
    if (!(next > 0) || next >= l) break;
    l = next;
  }
  const index = (l * 10 ** slot.assetDecimals) / (Number(-slot.assetNet) * Number(tick));
  return index >= 0 && index < 2 ** 62 ? BigInt(Math.floor(index)) : -1n;
}

/** borrowEdgeGuess's Newton steps at most (quadratic convergence: a few suffice from L = K). */
const NEWTON_STEPS_MAX = 12;
const RATIO_SCALE_NUMBER = Number(RATIO_SCALE);
const PRICE_SCALE_NUMBER = 10 ** PRICE_DECIMALS;

/** The excess at the grid price next to p0 (low: at or below it; high: at or above): −budget when that price is p0
 * itself — the bound over [p0, p0] is c0 exactly (slotSurplusUsd), so nothing is lost there — else evaluated. */
function nearExcess(slot: PriceSlot, p0: Price, c0: bigint, budget: bigint, price: Price, f: BandFormulas, low: boolean): bigint {
  if (price === p0) return -budget;
  return (low ? lossWithin(slot, c0, price, p0, f) : lossWithin(slot, c0, p0, price, f)) - budget;
}

/** One edge's search: the slot, its contribution and budget at p0, and which side of p0 (a reused record). */
class EdgeSearch {
  slot = new PriceSlot();
  p0: Price = 0n;
  c0 = 0n;
  budget = 0n;
  tick: Price = 1n;
  f: BandFormulas = { haircutWeight: () => RATIO_SCALE, positionMmf: () => 0n };
  low = true;

  start(slot: PriceSlot, p0: Price, c0: bigint, budget: bigint, tick: Price, f: BandFormulas, low: boolean): this {
    this.slot = slot;
    this.p0 = p0;
    this.c0 = c0;
    this.budget = budget;
    this.tick = tick;
    this.f = f;
    this.low = low;
    return this;
  }

  /** loss over [g × tick, p0] (low) or [p0, g × tick] (high), minus the budget: ≤ 0 inside the band. */
  excessAt(g: bigint): bigint {
    const price = g * this.tick;
    const loss = this.low ? lossWithin(this.slot, this.c0, price, this.p0, this.f) : lossWithin(this.slot, this.c0, this.p0, price, this.f);
    return loss - this.budget;
  }
}
const EDGE_SEARCH = new EdgeSearch();

/**
 * The band's edge between grid indices `inside` (excess ≤ 0) and `outside` (excess > 0): the last index from `inside`
 * toward `outside` whose excess is ≤ 0. The excess is monotone in the index (the module comment), so the edge is one
 * index whatever the order of the probes: bisection (`interpolate` false) and false position find the same one.
 * False position with the Illinois rule: the probe is where the line through the two ends' excesses crosses 0, and an
 * end kept twice in a row has its excess halved for the next line (so a convex excess does not leave one end stuck);
 * a probe that lands on an end moves one index in. After as many probes as bisection would need, it bisects (the
 * roundings make the excess a staircase that a line can misjudge). Typically 3–6 evaluations against bisection's
 * ~12 (a grid of p0 / 256) or ~20 (a stable asset's p0 / 65,536).
 */
function edgeIndex(e: EdgeSearch, inside: bigint, insideExcess: bigint, outside: bigint, outsideExcess: bigint, interpolate: boolean): bigint {
  let probesLeft = interpolate ? bitLength(outside > inside ? outside - inside : inside - outside) : 0;
  let insideLine = insideExcess;
  let outsideLine = outsideExcess;
  let lastKept = 0;
  for (;;) {
    const span = outside - inside;
    if (span === 1n || span === -1n) return inside;
    let probe: bigint;
    if (probesLeft > 0) {
      probesLeft--;
      probe = inside + (span * -insideLine) / (outsideLine - insideLine);
      if (probe === inside) probe += span > 0n ? 1n : -1n;
    } else probe = inside + span / 2n;
    const excess = e.excessAt(probe);
    if (excess <= 0n) {
      inside = probe;
      insideLine = excess;
      if (lastKept === 1) outsideLine >>= 1n; // the outside end kept twice: halve its excess (> 0 stays > 0 while > 1)
      lastKept = 1;
    } else {
      outside = probe;
      outsideLine = excess;
      if (lastKept === -1) insideLine /= 2n; // the inside end kept twice (its excess ≤ 0, toward 0)
      lastKept = -1;
    }
    if (outsideLine <= 0n) outsideLine = 1n;
  }
}

function bitLength(n: bigint): number {
  return n.toString(2).length;
}

/** Is the slot a holding and nothing else (no borrow, no position): holdingBand's case? */
function isHoldingOnly(slot: PriceSlot): boolean {
  return slot.assetNet > 0n && hasNoPosition(slot);
}

/**
 * A holding's band (isHoldingOnly) with its low edge in closed form — the same grid prices as lowEdge, without its
 * search. Below p0 the bound over [a, p0] is collateralValue(slot, a, p0) = floor(net × a × w0 / (unit × 1e18)) with
 * w0 the weight of the notional at p0 (the module comment's "collateral at a with the weight of b"): linear in a. So
 * the loss over [g × tick, p0] is c0 − floor(net × g × tick × w0 / D) ≤ budget ⟺ net × g × tick × w0 ≥ (c0 − budget)
 * × D (floor(x) ≥ K ⟺ x ≥ K for an integer K), D = unit × 1e18: the smallest such g is ceil((c0 − budget) × D / (net
 * × w0 × tick)), clamped to the grid as lowEdge clamps its answer (every g when c0 − budget ≤ 0; none when w0 is 0).
 * An identity-haircut (stable) asset weighs 1 at any size (BandFormulas.haircutWeight returns RATIO_SCALE), so above
 * p0 nothing is lost either: its high edge is the grid's top, in closed form too. Any other holding loses weight as
 * its notional grows: its high edge is searched (highEdge). test/perp-shortcuts.test.ts compares both with the
 * bisections on random slots.
 */
function holdingBand(slot: PriceSlot, p0: Price, c0: bigint, budget: bigint, grid: BandGrid, f: BandFormulas, out: SafeBand): void {
  const tick = grid.tick;
  const g = gridIndices(p0, grid);
  const lowest = g.lowest;
  const atMark = g.atMark;
  const stable = slot.haircut.kind === "identity";
  const k = c0 - budget;
  let first = lowest;
  if (k > 0n) {
    const unit = pow10(slot.assetDecimals);
    const weight = stable ? RATIO_SCALE : f.haircutWeight(slot.haircut, divCeil(slot.assetNet * p0, unit));
    first = weight > 0n ? divCeil(k * unit * RATIO_SCALE, slot.assetNet * weight * tick) : atMark + 1n;
  }
  if (lowest > atMark || first > atMark) out.low = p0;
  else out.low = (first > lowest ? first : lowest) * tick;
  out.high = stable ? g.high : highEdge(slot, p0, c0, budget, grid, f, true);
}

/** The grid indices holdingBand needs at one mark and grid: a function of (p0, tick, minPrice, maxPrice) alone,
 * kept for the last such inputs (a batch end derives the bands of many holders of one asset at one mark). */
class GridIndices {
  p0 = -1n;
  tick = 0n;
  minPrice = 0n;
  maxPrice = 0n;
  /** ceil(minPrice / tick), floor(p0 / tick), and the band's high edge: p0 when ceil(p0 / tick) is past the grid's
   * top index floor(maxPrice / tick), else that top index × tick. */
  lowest = 0n;
  atMark = 0n;
  high = 0n;
}
const GRID_INDICES = new GridIndices();

function gridIndices(p0: Price, grid: BandGrid): GridIndices {
  const g = GRID_INDICES;
  const tick = grid.tick;
  if (g.p0 === p0 && g.tick === tick && g.minPrice === grid.minPrice && g.maxPrice === grid.maxPrice) return g;
  g.lowest = divRound(grid.minPrice, tick, Rounding.Up);
  g.atMark = divRound(p0, tick, Rounding.Down);
  const top = divRound(grid.maxPrice, tick, Rounding.Down);
  g.high = divRound(p0, tick, Rounding.Up) > top ? p0 : top * tick;
  g.p0 = p0;
  g.tick = tick;
  g.minPrice = grid.minPrice;
  g.maxPrice = grid.maxPrice;
  return g;
}

/**
 * The safe band of one price at its current mark p0 with a surplus budget (see the module comment). A negative
 * budget, or p0 outside the grid's range, gives the empty band. Each edge by false position (edgeIndex: a few bound
 * evaluations), a holding's low edge (and a stable one's high edge) in closed form (holdingBand), a borrow's high edge
 * guessed and confirmed (certifiedBorrowHighEdge) — unless `shortcuts` is false: then the two plain bisections (about
 * 2 × log2(range / tick) evaluations) whatever the slot, the reference the shortcuts are tested against (the same
 * edges).
 */
export function safeBand(
  slot: PriceSlot,
  p0: Price,
  budgetUsd: bigint,
  grid: BandGrid,
  f: BandFormulas,
  out: SafeBand,
  shortcuts = true,
): SafeBand {
  if (!bandInputsValid(p0, budgetUsd, grid, out)) return out;
  const c0 = slotSurplusUsd(slot, p0, f);
  if (shortcuts && isHoldingOnly(slot)) holdingBand(slot, p0, c0, budgetUsd, grid, f, out);
  else searchedEdges(slot, p0, c0, budgetUsd, grid, f, out, shortcuts);
  return out;
}

/**
 * safeBand of a slot whose contribution at p0 the caller already has: `c0Usd` must be slotSurplusUsd(slot, p0) — the
 * risk stage takes it from its margin state (a holding's collateral value, computeAsset's; a borrow's liability and
 * maintenance margin), the same arithmetic (test/perp-shortcuts.test.ts). The same band as safeBand without valuing
 * the slot at p0 again.
 */
export function safeBandFrom(slot: PriceSlot, p0: Price, c0Usd: bigint, budgetUsd: bigint, grid: BandGrid, f: BandFormulas, out: SafeBand): SafeBand {
  if (!bandInputsValid(p0, budgetUsd, grid, out)) return out;
  if (isHoldingOnly(slot)) holdingBand(slot, p0, c0Usd, budgetUsd, grid, f, out);
  else searchedEdges(slot, p0, c0Usd, budgetUsd, grid, f, out, true);
  return out;
}

/** Both edges (false position, or plain bisection when `interpolate` is false), from the slot's surplus c0 at p0. */
function searchedEdges(slot: PriceSlot, p0: Price, c0: bigint, budgetUsd: bigint, grid: BandGrid, f: BandFormulas, out: SafeBand, interpolate: boolean): void {
  out.low = lowEdge(slot, p0, c0, budgetUsd, grid, f, interpolate);
  out.high = highEdge(slot, p0, c0, budgetUsd, grid, f, interpolate);
}

/** Throws on a malformed grid; false (with the empty band in `out`) for a negative budget or p0 off the grid. */
function bandInputsValid(p0: Price, budgetUsd: bigint, grid: BandGrid, out: SafeBand): boolean {
  if (grid.tick <= 0n || grid.minPrice <= 0n || grid.maxPrice < grid.minPrice) {
    throw new RangeError("safeBand: needs tick > 0 and 0 < minPrice ≤ maxPrice");
  }
  if (budgetUsd >= 0n && p0 >= grid.minPrice && p0 <= grid.maxPrice) return true;
  out.low = 1n;
  out.high = 0n;
  return false;
}

/** Q1: may the move of this price to m1 push the account over MMR 100%? Iff m1 leaves its band. */
export function mayBecomeLiquidatable(low: Price, high: Price, m1: Price): boolean {
  return m1 < low || m1 > high;
}

/** Index of the first element > value in sorted[0, count) (count if none): with lows sorted ascending, the accounts
 * from there on have m1 < low. */
export function firstIndexAbove(sorted: readonly bigint[], count: number, value: bigint): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! > value) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Index of the first element ≥ value in sorted[0, count): with highs sorted ascending, the accounts before it have
 * high < m1. */
export function firstIndexAtOrAbove(sorted: readonly bigint[], count: number, value: bigint): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! >= value) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
