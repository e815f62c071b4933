// Pure cross-margin formulas of SPEC C1–C9: haircut weight, collateral value, position and account IMF/MMF,
// net equity, margin fraction, IMR/MMR. Functions of their inputs only; the incremental aggregate calls them.
//
// Units (names carry them):
// - `...Usd`: a USD amount at PRICE_DECIMALS (1e-9 USD per unit), the same scale as a USD mark, so that
//   qty × mark / 10^decimals is a USD amount with one division. Notional, collateral value, liability, margin,
//   net equity and PnL are all `Usd`.
// - Ratios (weights, IMF/MMF, leverage, IMR/MMR, MF) at RATIO_DECIMALS (1e18 = 1).
// - The sqrt in C1/C5 is sqrt(notional in whole USD), as the published formulas intend (a penalty of 0.0007 is per
//   sqrt-dollar). It is computed as an integer root at 1e-9 resolution: sqrtFixed(notionalUsd, 9, Up).
//
// Rounding: what the exchange credits (collateral value, weight, PnL) rounds down; what it requires (liability,
// exposure notional, IMF/MMF, margin) rounds up. The root that enters a weight or a margin fraction rounds up
// (a larger root means a smaller weight and a larger IMF). Reported ratios (IMR, MMR, MF) round down so that
// "IMR ≥ 100%" on the report is exactly the check's "initial margin ≥ net equity" (see initialMarginRatio).

import { divRound, isqrt, mulDiv, pow10, Rounding, sqrtFixed, type Ratio } from "../../fixed/index.ts";
import {
  PRICE_DECIMALS,
  PRICE_SCALE,
  RATIO_SCALE,
  type HaircutConfig,
  type SqrtMarginFunction,
} from "../../model/index.ts";

/** The 1.1 of C1's `1.1 / (penalty × sqrt(n) + 1)`, as a ratio. */
export const HAIRCUT_NUMERATOR: Ratio = 1_100_000_000_000_000_000n;

const RATIO_SCALE_SQUARED = RATIO_SCALE * RATIO_SCALE;

/**
 * Stands for an unbounded ratio (a margin fraction with no exposure, an IMR/MMR with net equity ≤ 0 and some
 * exposure) and for "no limit" in the flat-region limits below. Larger than any reachable value.
 */
export const UNBOUNDED = 1n << 255n;

/** floor(n / d) for n ≥ 0, d > 0: truncation is the floor there. For hot paths that know their signs. */
export function divFloorNonNegative(n: bigint, d: bigint): bigint {
  return n / d;
}

/** ceil(n / d) for n ≥ 0, d > 0. */
export function divCeilNonNegative(n: bigint, d: bigint): bigint {
  return (n + d - 1n) / d;
}

const RATIO_SCALE_MINUS_ONE = RATIO_SCALE - 1n;
const PRICE_SCALE_MINUS_ONE = PRICE_SCALE - 1n;

/** ceil(n / RATIO_SCALE) for n ≥ 0: divCeilNonNegative with the divisor's d − 1 made once (a margin: notional × IMF
 * or MMF) — one bigint fewer per margin of the sync and of P8 (pipeline.perp-order). */
export function divCeilRatio(n: bigint): bigint {
  return (n + RATIO_SCALE_MINUS_ONE) / RATIO_SCALE;
}

/** Below this m, the double square root of Number(m) is within 0.75 of sqrt(m) (see isqrtNear). */
const DOUBLE_ROOT_LIMIT = 1n << 104n;

/**
 * floor(sqrt(m)) (m ≥ 0). Below 2^104 from the double square root, corrected by one unit either way: sqrt(m) < 2^52,
 * Number(m) and Math.sqrt each err by at most 2^-53 relatively (2^-54 after the root for the first), so the double
 * is within 0.75 of sqrt(m), its floor within one of floor(sqrt(m)), and one test each way (r² > m, (r + 1)² ≤ m)
 * makes it exact — two products where Newton from a near hint took three long divisions (the margin sync's and P8's
 * roots, pipeline.perp-order). Above, Newton's method started from `hint` (any value; ≤ 0 means none), exact
 * whatever the hint: one step from any x ≥ 1 lands at or above floor(sqrt(m)) (AM–GM), and from there the iterates
 * decrease to it; a hint near the root (a slot's previous root) makes it 1–3 divisions instead of isqrt's descent.
 */
export function isqrtNear(m: bigint, hint: bigint): bigint {
  if (m < DOUBLE_ROOT_LIMIT && m >= 2n) {
    // FLOAT-START: only the start; the two exact tests below decide the answer.
    const r = BigInt(Math.floor(Math.sqrt(Number(m))));
    if (r * r > m) return r - 1n;
    const up = r + 1n;
    return up * up <= m ? up : r;
  }
  if (hint <= 0n) return isqrt(m);
  if (m < 2n) return m;
  let x = (hint + m / hint) >> 1n;
  if (x === 0n) x = 1n;
  for (;;) {
    const y = (x + m / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/** sqrtNotionalUp with a hint for the root (see isqrtNear); the same value. Below 2^104 isqrtNear's double root
 * and its tests give the ceiling too (r² < m < (r + 1)²: r + 1, the common case, with no third product). */
export function sqrtNotionalUpNear(notionalUsd: bigint, hintRoot: bigint): bigint {
  const m = notionalUsd * PRICE_SCALE;
  if (m < DOUBLE_ROOT_LIMIT && m >= 2n) {
    // FLOAT-START: only the start; the exact tests below decide the answer (as isqrtNear).
    const r = BigInt(Math.floor(Math.sqrt(Number(m))));
    const square = r * r;
    if (square > m) {
      const down = r - 1n; // floor(sqrt(m)): the ceiling is r unless m is its square
      return down * down === m ? down : r;
    }
    if (square === m) return r;
    const up = r + 1n;
    const upSquare = up * up;
    return upSquare < m ? up + 1n : up; // floor is up when (r + 1)² ≤ m: ceiling up + 1 unless m is its square
  }
  const r = isqrtNear(m, hintRoot);
  return r * r === m ? r : r + 1n;
}

/** USD value of `qty` units of an asset with `decimals` at a USD mark (PRICE_DECIMALS): qty × mark / 10^decimals. */
export function notionalUsd(qty: bigint, decimals: number, markPrice: bigint, rounding: Rounding): bigint {
  return mulDiv(qty, markPrice, pow10(decimals), rounding);
}

/** sqrt(notional in whole USD) at 1e-9 resolution, rounded up; notionalUsd ≥ 0. */
export function sqrtNotionalUp(notionalUsd: bigint): bigint {
  return sqrtFixed(notionalUsd, PRICE_DECIMALS, Rounding.Up);
}

/** factor × sqrt(notional) of C5's sqrt margin functions, rounded up (a margin requirement). */
export function sqrtMarginTerm(factor: Ratio, notionalUsd: bigint): Ratio {
  if (factor === 0n || notionalUsd <= 0n) return 0n;
  return sqrtMarginTermFromRoot(factor, sqrtNotionalUp(notionalUsd));
}

/** sqrtMarginTerm given the rounded-up root (sqrtNotionalUp) of the notional. */
export function sqrtMarginTermFromRoot(factor: Ratio, rootUp: bigint): Ratio {
  return (factor * rootUp + PRICE_SCALE_MINUS_ONE) / PRICE_SCALE; // ceil (divCeilNonNegative): both ≥ 0
}

/**
 * Largest notional n whose sqrt term `ceil(factor × ceil(sqrt(n)) )` is ≤ `ceiling` (a ratio): below it the max in
 * C1/C5 is the flat part and no root is needed. UNBOUNDED if factor is 0, -1 if even n = 0 exceeds.
 * Exact: ceil(f·s/1e9) ≤ m ⇔ f·s ≤ m·1e9 ⇔ s ≤ S := ⌊m·1e9/f⌋ ⇔ ceil(√(n·1e9)) ≤ S ⇔ n ≤ ⌊S²/1e9⌋.
 */
export function sqrtTermFlatLimitUsd(factor: Ratio, ceiling: Ratio): bigint {
  if (ceiling < 0n) return -1n;
  if (factor <= 0n) return UNBOUNDED;
  const rootMax = (ceiling * PRICE_SCALE) / factor; // both ≥ 0: truncation is floor
  return (rootMax * rootMax) / PRICE_SCALE;
}

// ---------------------------------------------------------------------------------------------------------------
// C1, C2: haircut weight and collateral value.

/**
 * C1: collateral weight of an asset holding worth `notionalUsd`. identity → 1; inverseSqrt →
 * min(base, 1.1 / (penalty × sqrt(n) + 1)) with the root and the penalty term rounded up and the quotient down,
 * so the weight is never above the exact one (collateral is what the exchange credits).
 */
export function haircutWeight(haircut: HaircutConfig, notionalUsd: bigint): Ratio {
  if (haircut.kind === "identity") return RATIO_SCALE;
  return haircutWeightFromRoot(haircut, notionalUsd > 0n ? sqrtNotionalUp(notionalUsd) : 0n);
}

const HAIRCUT_NUMERATOR_SCALED = HAIRCUT_NUMERATOR * RATIO_SCALE;

/** haircutWeight given the rounded-up root (sqrtNotionalUp) of the notional. */
export function haircutWeightFromRoot(haircut: HaircutConfig, rootUp: bigint): Ratio {
  if (haircut.kind === "identity") return RATIO_SCALE;
  const penaltyTerm = sqrtMarginTermFromRoot(haircut.penalty, rootUp);
  const weight = divFloorNonNegative(HAIRCUT_NUMERATOR_SCALED, RATIO_SCALE + penaltyTerm);
  return weight < haircut.base ? weight : haircut.base;
}

/** The weight of the flat region (base, or 1 for identity): what haircutWeight returns up to haircutFlatLimitUsd. */
export function haircutFlatWeight(haircut: HaircutConfig): Ratio {
  return haircut.kind === "identity" ? RATIO_SCALE : haircut.base;
}

/**
 * Largest notional at which haircutWeight is still the flat weight (UNBOUNDED for identity, -1 if never).
 * floor(1.1e36 / (1e18 + t)) ≥ base ⇔ 1e18 + t ≤ ⌊1.1e36 / base⌋, then the sqrt-term limit on t.
 */
export function haircutFlatLimitUsd(haircut: HaircutConfig): bigint {
  if (haircut.kind === "identity" || haircut.base <= 0n) return UNBOUNDED;
  const denominatorMax = (HAIRCUT_NUMERATOR * RATIO_SCALE) / haircut.base;
  return sqrtTermFlatLimitUsd(haircut.penalty, denominatorMax - RATIO_SCALE);
}

/** C1: collateral value = qty × mark × weight, in USD, one rounding, down; qty ≥ 0. */
export function collateralValueUsd(qty: bigint, decimals: number, markPrice: bigint, weight: Ratio): bigint {
  return mulDiv(qty * markPrice, weight, pow10(decimals) * RATIO_SCALE, Rounding.Down);
}

/** C3: borrow liability of a negative net balance: |qty| × mark, rounded up (the exchange is owed it). */
export function borrowLiabilityUsd(qty: bigint, decimals: number, markPrice: bigint): bigint {
  return notionalUsd(qty < 0n ? -qty : qty, decimals, markPrice, Rounding.Up);
}

// ---------------------------------------------------------------------------------------------------------------
// C4, C5: exposure and per-position IMF/MMF.

/** C4: net exposure quantity of a position with open orders: the larger of "all buys fill" and "all sells fill". */
export function exposureQuantity(position: bigint, openBuyQty: bigint, openSellQty: bigint): bigint {
  const ifBuys = position + openBuyQty;
  const ifSells = position - openSellQty;
  const a = ifBuys < 0n ? -ifBuys : ifBuys;
  const b = ifSells < 0n ? -ifSells : ifSells;
  return a > b ? a : b;
}

/** 1 / leverage as a ratio, rounded up (leverage is a ratio, > 0). */
export function inverseLeverage(leverage: Ratio): Ratio {
  return divRound(RATIO_SCALE_SQUARED, leverage, Rounding.Up);
}

/** The flat part of C5's IMF: max(1/leverageLimit, 1/platformMaxLeverage, imf.base). */
export function imfFloor(leverageLimit: Ratio, platformMaxLeverage: Ratio, imfBase: Ratio): Ratio {
  const a = inverseLeverage(leverageLimit);
  const b = inverseLeverage(platformMaxLeverage);
  let m = a > b ? a : b;
  if (imfBase > m) m = imfBase;
  return m;
}

/** C5: IMF = max(1/leverageLimit, 1/platformMaxLeverage, imf.base, imf.factor × sqrt(notional)), rounded up. */
export function positionImf(
  notionalUsd: bigint,
  leverageLimit: Ratio,
  platformMaxLeverage: Ratio,
  imf: SqrtMarginFunction,
): Ratio {
  const floor = imfFloor(leverageLimit, platformMaxLeverage, imf.base);
  const term = sqrtMarginTerm(imf.factor, notionalUsd);
  return term > floor ? term : floor;
}

/** C5: MMF = max(mmf.base, mmf.factor × sqrt(notional)), rounded up. */
export function positionMmf(notionalUsd: bigint, mmf: SqrtMarginFunction): Ratio {
  const term = sqrtMarginTerm(mmf.factor, notionalUsd);
  return term > mmf.base ? term : mmf.base;
}

/** A Newton seed for the next root of a nearby notional (marginFractionNear); any value gives the same root. */
export class RootHint {
  root = 0n;
}

/**
 * C5's max(floor, factor × sqrt(notional)) rounded up — positionMmf's value with floor = mmf.base, positionImf's with
 * floor = imfFloor(…) — given `flatLimitUsd` = sqrtTermFlatLimitUsd(factor, floor): up to it the sqrt term is ≤ the
 * floor and no root is taken; beyond it the root starts from `hint` (isqrtNear) and is left there for the next call.
 */
export function marginFractionNear(notionalUsd: bigint, factor: Ratio, floor: Ratio, flatLimitUsd: bigint, hint: RootHint): Ratio {
  if (factor === 0n || notionalUsd <= 0n) return floor < 0n ? 0n : floor; // the sqrt term is 0
  if (notionalUsd <= flatLimitUsd) return floor;
  const root = sqrtNotionalUpNear(notionalUsd, hint.root);
  hint.root = root;
  const term = sqrtMarginTermFromRoot(factor, root);
  return term > floor ? term : floor;
}

/** Margin of one position: notional × IMF (or MMF), rounded up. */
export function positionMarginUsd(notionalUsd: bigint, fraction: Ratio): bigint {
  return mulDiv(notionalUsd, fraction, RATIO_SCALE, Rounding.Up);
}

/** Unrealized PnL of a perp position: (qty × mark − costBasis) / 10^decimals, rounded down (credited). The cost
 * basis is Σ qty × price of the fills that built the position (base units × PRICE_DECIMALS). */
export function unrealizedPnlUsd(qty: bigint, costBasis: bigint, baseDecimals: number, markPrice: bigint): bigint {
  return divRound(qty * markPrice - costBasis, pow10(baseDecimals), Rounding.Down);
}

// ---------------------------------------------------------------------------------------------------------------
// C3, C6, C7, C8, C9: account aggregates.

/** C3: net equity = total collateral value + total unrealized PnL + unsettled − total borrow liability. */
export function netEquityUsd(
  totalCollateralUsd: bigint,
  totalUnrealizedPnlUsd: bigint,
  unsettledUsd: bigint,
  totalLiabilityUsd: bigint,
): bigint {
  return totalCollateralUsd + totalUnrealizedPnlUsd + unsettledUsd - totalLiabilityUsd;
}

/**
 * C6: account IMF = max(1/leverageLimit, Σ notional × IMF / TEN), rounded up. With no exposure only the first
 * term is defined.
 */
export function accountImf(initialMarginUsd: bigint, tenUsd: bigint, leverageLimit: Ratio): Ratio {
  const floor = inverseLeverage(leverageLimit);
  if (tenUsd <= 0n) return floor;
  const weighted = mulDiv(initialMarginUsd, RATIO_SCALE, tenUsd, Rounding.Up);
  return weighted > floor ? weighted : floor;
}

/** C6: account MMF = Σ notional × MMF / TEN, rounded up; 0 with no exposure. */
export function accountMmf(maintenanceMarginUsd: bigint, tenUsd: bigint): Ratio {
  if (tenUsd <= 0n) return 0n;
  return mulDiv(maintenanceMarginUsd, RATIO_SCALE, tenUsd, Rounding.Up);
}

/**
 * C6: net equity locked = account IMF × TEN = max(TEN / leverageLimit, Σ notional × IMF), computed from the sums
 * (one rounding, up) rather than from the rounded account IMF. Since every position's IMF is ≥ 1/leverageLimit,
 * the second term always wins; the first is kept so the function is the formula.
 */
export function netEquityLockedUsd(initialMarginUsd: bigint, tenUsd: bigint, leverageLimit: Ratio): bigint {
  const floor = mulDiv(tenUsd, RATIO_SCALE, leverageLimit, Rounding.Up);
  return floor > initialMarginUsd ? floor : initialMarginUsd;
}

/** C7: margin fraction = net equity / TEN, rounded down; UNBOUNDED with no exposure. */
export function marginFraction(netEquity: bigint, tenUsd: bigint): Ratio {
  if (tenUsd <= 0n) return UNBOUNDED;
  return mulDiv(netEquity, RATIO_SCALE, tenUsd, Rounding.Down);
}

/**
 * C7: IMR = account IMF / MF = (account IMF × TEN) / net equity = locked / net equity; 0 with no exposure,
 * UNBOUNDED when net equity ≤ 0 with exposure. Rounded down, so `IMR ≥ 1` exactly when locked ≥ net equity,
 * the C8 refusal.
 */
export function initialMarginRatio(lockedUsd: bigint, netEquity: bigint, tenUsd: bigint): Ratio {
  if (tenUsd <= 0n) return 0n;
  if (netEquity <= 0n) return UNBOUNDED;
  return mulDiv(lockedUsd, RATIO_SCALE, netEquity, Rounding.Down);
}

/** C7: MMR = account MMF / MF = Σ notional × MMF / net equity; same conventions as initialMarginRatio. */
export function maintenanceMarginRatio(maintenanceMarginUsd: bigint, netEquity: bigint, tenUsd: bigint): Ratio {
  return initialMarginRatio(maintenanceMarginUsd, netEquity, tenUsd);
}

/** C8: the initial-margin test of a risk-increasing action's result: passes iff IMR < 100% (or no exposure). */
export function passesInitialMargin(lockedUsd: bigint, netEquity: bigint, tenUsd: bigint): boolean {
  return tenUsd <= 0n || netEquity > lockedUsd;
}

/** C9: MMR ≥ 100% (with exposure) puts the account into liquidation. */
export function isLiquidatable(maintenanceMarginUsd: bigint, netEquity: bigint, tenUsd: bigint): boolean {
  return tenUsd > 0n && maintenanceMarginUsd >= netEquity;
}

/**
 * The order behind C8's "only reduces risk": is the IMR after no worse than before? Compares exactly (cross
 * products, no rounding). No exposure is IMR 0; net equity ≤ 0 with exposure is unbounded, and two unbounded
 * states compare by their deficit locked − net equity.
 */
export function initialMarginRatioNotWorse(
  lockedBeforeUsd: bigint,
  netEquityBefore: bigint,
  tenBeforeUsd: bigint,
  lockedAfterUsd: bigint,
  netEquityAfter: bigint,
  tenAfterUsd: bigint,
): boolean {
  if (tenAfterUsd <= 0n) return true;
  if (tenBeforeUsd <= 0n) return false;
  const beforeUnbounded = netEquityBefore <= 0n;
  if (netEquityAfter > 0n) {
    return beforeUnbounded || lockedAfterUsd * netEquityBefore <= lockedBeforeUsd * netEquityAfter;
  }
  return beforeUnbounded && lockedAfterUsd - netEquityAfter <= lockedBeforeUsd - netEquityBefore;
}
