// The utilization curve (L3, L4), pool-parameter validation (L3, L7, L13) and time-prorated interest (L5, L6).

import { divRound, expFixed, mulDiv, RATIO_SCALE, Rounding, type Amount, type Ratio } from "../fixed/index.ts";
import { PoolState, type PoolConfig } from "../model/index.ts";

export const HOURS_PER_YEAR = 8760n; // 365 × 24 (L5)
export const MS_PER_HOUR = 3_600_000;

/** Largest curve steepness k accepted: e^k must stay well inside expFixed's domain and the curve meaningful. */
export const CURVE_K_MAX: Ratio = 50n * RATIO_SCALE;

const MS_PER_HOUR_BIG = BigInt(MS_PER_HOUR);
/** Ratio scale × hours per year: rate × amount / this = one hour of interest. */
const RATIO_YEAR_HOURS = RATIO_SCALE * HOURS_PER_YEAR;
const RATIO_YEAR_MS = RATIO_YEAR_HOURS * MS_PER_HOUR_BIG;

/**
 * The exponential branch is evaluated at 36 decimals and rounded once at the end, so the result is the exact
 * ceiling of the real curve except when the real value lies within ~1e-36 of a ratio ulp (never at the test points).
 */
const EXP_DECIMALS = 36;
const EXP_ONE = 10n ** 36n;

export interface PoolConfigError {
  readonly field: keyof PoolConfig;
  readonly message: string;
}

function configError(field: keyof PoolConfig, message: string): PoolConfigError {
  return { field, message: `${field} ${message}` };
}

/**
 * Checks one pool's parameters (ratios at 1e18, rates APR). Returns the first broken rule naming its field, or null.
 * 0 < U* < 1; 0 ≤ r_min ≤ r_opt ≤ r_max; 0 < k ≤ 50; 0 < throttle ≤ maxUtilization ≤ 1; 0 ≤ fee < 1; limit ≥ 0.
 */
export function validatePoolConfig(c: PoolConfig): PoolConfigError | null {
  if (c.optimalUtilization <= 0n || c.optimalUtilization >= RATIO_SCALE) {
    return configError("optimalUtilization", "must be strictly between 0 and 1");
  }
  if (c.minRate < 0n) return configError("minRate", "must not be negative");
  if (c.minRate > c.optimalRate) return configError("minRate", "must be at most optimalRate");
  if (c.optimalRate > c.maxRate) return configError("optimalRate", "must be at most maxRate");
  if (c.k <= 0n) return configError("k", "must be greater than 0");
  if (c.k > CURVE_K_MAX) return configError("k", "must be at most 50");
  if (c.throttleUtilizationThreshold <= 0n) {
    return configError("throttleUtilizationThreshold", "must be greater than 0");
  }
  if (c.throttleUtilizationThreshold > c.maxUtilization) {
    return configError("throttleUtilizationThreshold", "must be at most maxUtilization");
  }
  if (c.maxUtilization > RATIO_SCALE) return configError("maxUtilization", "must be at most 1");
  if (c.fee < 0n || c.fee >= RATIO_SCALE) return configError("fee", "must be at least 0 and less than 1");
  if (c.openBorrowLendLimit < 0n) return configError("openBorrowLendLimit", "must not be negative");
  if (c.state !== PoolState.Open && c.state !== PoolState.Closed && c.state !== PoolState.RepayOnly) {
    return configError("state", "must be Open, Closed or RepayOnly");
  }
  return null;
}

/** e^k at 36 decimals rounded down, per config object (k never changes inside one config). */
const expKCache = new WeakMap<PoolConfig, bigint>();

function expKDown(c: PoolConfig): bigint {
  let v = expKCache.get(c);
  if (v === undefined) {
    v = expFixed(c.k * 10n ** BigInt(EXP_DECIMALS - 18), EXP_DECIMALS, Rounding.Down);
    expKCache.set(c, v);
  }
  return v;
}

function clampUnit(u: Ratio): Ratio {
  return u <= 0n ? 0n : u >= RATIO_SCALE ? RATIO_SCALE : u;
}

/**
 * L3 borrow APR at utilization U (ratio; below 0 reads as 0, above 1 as 1), rounded UP (borrowers owe):
 * r_min + (r_opt − r_min)·U/U* up to U*, then r_opt + (r_max − r_opt)·(e^{k·x} − 1)/(e^k − 1), x = (U − U*)/(1 − U*).
 * Exact points: U = 0 → r_min, U = U* → r_opt, U = 1 → r_max.
 */
export function borrowRate(c: PoolConfig, utilization: Ratio): Ratio {
  const u = clampUnit(utilization);
  const uOpt = c.optimalUtilization;
  if (u <= uOpt) return c.minRate + mulDiv(c.optimalRate - c.minRate, u, uOpt, Rounding.Up);
  if (u === RATIO_SCALE) return c.maxRate;
  // k·x at 36 decimals: (k / 1e18) · (u − U*) / (1e18 − U*) · 1e36, rounded up (e^· is increasing).
  const kx = divRound(c.k * (u - uOpt) * RATIO_SCALE, RATIO_SCALE - uOpt, Rounding.Up);
  const numerator = expFixed(kx, EXP_DECIMALS, Rounding.Up) - EXP_ONE;
  const denominator = expKDown(c) - EXP_ONE;
  const r = c.optimalRate + mulDiv(c.maxRate - c.optimalRate, numerator, denominator, Rounding.Up);
  // The real curve never exceeds r_max for U ≤ 1; the outward roundings may, by an ulp, near U = 1.
  return r > c.maxRate ? c.maxRate : r;
}

/** L4 lend APR = r_b(U) × U (U capped to [0, 1]), rounded DOWN. Before the pool fee (see lendRateAfterFee). */
export function lendRate(c: PoolConfig, utilization: Ratio): Ratio {
  const u = clampUnit(utilization);
  return mulDiv(borrowRate(c, u), u, RATIO_SCALE, Rounding.Down);
}

/** What lenders actually earn at U: r_b(U) × U × (1 − fee), rounded down (L5, L13: the fee is taken first). */
export function lendRateAfterFee(c: PoolConfig, utilization: Ratio): Ratio {
  const u = clampUnit(utilization);
  return mulDiv(borrowRate(c, u) * u, RATIO_SCALE - c.fee, RATIO_SCALE * RATIO_SCALE, Rounding.Down);
}

/**
 * L2 utilization = borrowed / lent as a ratio, rounded as asked. Nothing lent and nothing borrowed reads 0;
 * something borrowed against nothing lent (only reachable through rounding dust) reads 1. May exceed 1 when
 * interest has grown debts past the lent total; the curve caps it at 1.
 */
export function utilizationOf(borrowed: Amount, lent: Amount, rounding: Rounding): Ratio {
  if (lent <= 0n) return borrowed > 0n ? RATIO_SCALE : 0n;
  return mulDiv(borrowed, RATIO_SCALE, lent, rounding);
}

export interface RateCurvePoint {
  readonly utilization: Ratio;
  readonly borrowRate: Ratio;
  readonly lendRate: Ratio;
  readonly lendRateAfterFee: Ratio;
}

/** The curve at the given utilizations, for a client to draw (L13). Not a hot path: allocates the answer. */
export function sampleRateCurve(c: PoolConfig, utilizations: readonly Ratio[]): RateCurvePoint[] {
  const points: RateCurvePoint[] = [];
  for (const u of utilizations) {
    points.push({
      utilization: u,
      borrowRate: borrowRate(c, u),
      lendRate: lendRate(c, u),
      lendRateAfterFee: lendRateAfterFee(c, u),
    });
  }
  return points;
}

/** One hour of interest on amount at an APR: amount × rate / 8760, rounded as asked (L5 formula). */
export function hourlyInterest(amount: Amount, rate: Ratio, rounding: Rounding): Amount {
  return mulDiv(amount, rate, RATIO_YEAR_HOURS, rounding);
}

/** True for an integer ms in [0, 1 h]: the span an entry fee may cover. */
export function isValidMsToNextHour(ms: number): boolean {
  return Number.isInteger(ms) && ms >= 0 && ms <= MS_PER_HOUR;
}

/** Milliseconds from timeMs to the next hour mark, in (0, 1 h]: at a mark exactly, the whole next hour. */
export function msToNextHour(timeMs: number): number {
  return MS_PER_HOUR - (((timeMs % MS_PER_HOUR) + MS_PER_HOUR) % MS_PER_HOUR);
}

/**
 * L6 opening fee: interest on amount at the APR from now to the next hour mark, rounded UP:
 * ceil(amount × rate × ms / (1e18 × 8760 × 3 600 000)). ms outside [0, 1 h] is a programming error (throws);
 * the pool operations check it first and reject with InvalidTime.
 */
export function entryFee(amount: Amount, rate: Ratio, msToNextHourValue: number): Amount {
  if (!isValidMsToNextHour(msToNextHourValue)) {
    throw new RangeError(`entryFee: msToNextHour must be an integer in [0, ${MS_PER_HOUR}], got ${msToNextHourValue}`);
  }
  return mulDiv(amount * rate, BigInt(msToNextHourValue), RATIO_YEAR_MS, Rounding.Up);
}
