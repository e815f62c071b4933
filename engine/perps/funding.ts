// P4: funding — premium samples over an interval, the rate formula with both clamps and the divisor, and the
// payments of a market at the interval end (payers round up, receivers down, the remainder to the insurance fund).
//
// Precisions: premiums, rates and the divisor at RATIO_DECIMALS (1e18 = 1; 1 bp = 1e14); prices at PRICE_DECIMALS;
// quantities in base-asset units; payments in settlement-asset (USDC) units.
//
// Seed 004 (zh, "资金费率公式") against SPEC P4. The seed writes
//   rate = clamp[(mean premium + clamp(interest − mean premium, −0.05%, 0.05%)) ÷ 8, upper, lower],
//   premium = (mark − index) ÷ index recorded every second, mean premium = the average of the interval's samples,
//   interest = 0.03% × (interval hours ÷ 24), payment = rate × position quantity × mark, settled at the interval end.
// SPEC P4 says the same with the 8 made a per-market divisor D (default 8). They agree on every formula; the only
// difference is that the seed fixes ÷ 8 where SPEC configures D. Following the seed, D defaults to 8
// (FUNDING_DIVISOR_DEFAULT) and the formula is exactly the seed's; D stays a parameter because the loaded config
// already carries it per market (MarketConfig.funding.divisor) — a market configured with D = 8 is the seed's rule.
//
// Roundings: the mean premium and the division by D are measurements, rounded half-even (no side is favoured by
// them: the rate can have either sign); the interest component is exact for whole hours (3e14 × h / 24 =
// 1.25e13 × h). Payments round so that funding never creates money: a payment is the signed ceiling of
// rate × quantity × mark, i.e. a payer's amount rounds up and a receiver's (negative) amount rounds toward zero.

import { divRound, pow10, PRICE_DECIMALS, RATIO_DECIMALS, Rounding, type Amount, type Price, type Ratio } from "../fixed/index.ts";
import { isNextSecond } from "./sampling.ts";

/** One basis point as a ratio. */
export const BPS_RATIO: Ratio = 100_000_000_000_000n;
/** The interest component per day: 0.03%. */
export const FUNDING_INTEREST_PER_DAY: Ratio = 300_000_000_000_000n;
/** Bound of clamp(I − P̄, −0.05%, +0.05%). */
export const FUNDING_PREMIUM_CLAMP: Ratio = 500_000_000_000_000n;
/** The seed's ÷ 8. */
export const FUNDING_DIVISOR_DEFAULT: Ratio = 8_000_000_000_000_000_000n;
/** SPEC P4 default per-market bounds of the rate, bps. */
export const FUNDING_RATE_LOWER_BPS_DEFAULT = -100;
export const FUNDING_RATE_UPPER_BPS_DEFAULT = 100;
export const FUNDING_INTERVAL_HOURS_DEFAULT = 1;
const HOURS_PER_DAY = 24n;

/** The premium samples of the running interval; state the caller owns (one per market). */
export class FundingSamples {
  /** Σ premium samples, ratio. */
  sum: Ratio = 0n;
  count = 0;
  /** Engine time of the last sample, ms; −1 before the first of the interval. */
  lastSampleMs = -1;

  /** Starts a new interval. */
  clear(): void {
    this.sum = 0n;
    this.count = 0;
    this.lastSampleMs = -1;
  }
}

/** P4: records one premium sample (ratio) at engine time nowMs, at most one per second. Returns whether it did. */
export function addFundingSample(samples: FundingSamples, premium: Ratio, nowMs: number): boolean {
  if (!isNextSecond(samples.count, samples.lastSampleMs, nowMs)) return false;
  samples.sum += premium;
  samples.count++;
  samples.lastSampleMs = nowMs;
  return true;
}

/** P4: P̄ = Σ samples / count, rounded half-even; 0 with no sample (the interest component alone then sets F). */
export function meanPremium(samples: FundingSamples): Ratio {
  if (samples.count === 0) return 0n;
  return divRound(samples.sum, BigInt(samples.count), Rounding.HalfEven);
}

/** P4: I = 0.03% × interval hours / 24 (exact for whole hours). */
export function fundingInterestComponent(intervalHours: number): Ratio {
  if (!Number.isInteger(intervalHours) || intervalHours <= 0) {
    throw new RangeError(`fundingInterestComponent: intervalHours must be a positive integer, got ${intervalHours}`);
  }
  return divRound(FUNDING_INTEREST_PER_DAY * BigInt(intervalHours), HOURS_PER_DAY, Rounding.HalfEven);
}

function clampRatio(x: Ratio, lower: Ratio, upper: Ratio): Ratio {
  return x < lower ? lower : x > upper ? upper : x;
}

/** Why funding parameters are refused, or null: whole hours ≥ 1, lowerBps ≤ upperBps, D > 0. */
export function checkFundingParams(intervalHours: number, lowerBps: number, upperBps: number, divisor: Ratio): string | null {
  if (!Number.isInteger(intervalHours) || intervalHours < 1) return "funding intervalHours must be a positive integer";
  if (!Number.isInteger(lowerBps) || !Number.isInteger(upperBps) || lowerBps > upperBps) {
    return "funding lowerBps and upperBps must be integers with lowerBps ≤ upperBps";
  }
  if (divisor <= 0n) return "funding divisor must be positive";
  return null;
}

/** P4: F = clamp((P̄ + clamp(I − P̄, −0.05%, +0.05%)) / D, lowerBps, upperBps). D > 0 (ratio). */
export function fundingRate(
  meanPremiumRatio: Ratio,
  intervalHours: number,
  lowerBps: number,
  upperBps: number,
  divisor: Ratio,
): Ratio {
  const interest = fundingInterestComponent(intervalHours);
  const adjusted = meanPremiumRatio + clampRatio(interest - meanPremiumRatio, -FUNDING_PREMIUM_CLAMP, FUNDING_PREMIUM_CLAMP);
  const rate = divRound(adjusted * pow10(RATIO_DECIMALS), divisor, Rounding.HalfEven);
  return clampRatio(rate, BigInt(lowerBps) * BPS_RATIO, BigInt(upperBps) * BPS_RATIO);
}

/**
 * P4: the payment of one position, settlement-asset units, positive = the account pays: rate × quantity × mark
 * (longs pay when the rate is positive), as the signed ceiling — payers round up, receivers round down.
 */
export function fundingPayment(
  rate: Ratio,
  quantity: Amount,
  mark: Price,
  baseDecimals: number,
  quoteDecimals: number,
): Amount {
  const shift = RATIO_DECIMALS + PRICE_DECIMALS + baseDecimals - quoteDecimals;
  const product = rate * quantity * mark;
  if (shift <= 0) return product * pow10(-shift);
  return divRound(product, pow10(shift), Rounding.Up);
}

/** The totals of one market's funding at an interval end; a reused record. */
export class FundingSettlement {
  /** Σ of the positive payments (what payers pay), settlement units. */
  totalPaid: Amount = 0n;
  /** Σ of |negative payments| (what receivers get). */
  totalReceived: Amount = 0n;
  /** totalPaid − totalReceived ≥ 0: the rounding remainder, credited to the insurance fund. */
  insuranceRemainder: Amount = 0n;
}

/**
 * P4 at an interval end: payments[i] = fundingPayment(rate, quantities[i], mark) for i < count (positive = pays),
 * and the totals. quantities must be every position of the market (Σ = 0: longs = shorts); then the exact payments
 * cancel and the roundings leave totalPaid − totalReceived ≥ 0 for the insurance fund. A non-zero Σ is a caller bug
 * that would make funding create or destroy money, and throws.
 */
export function settleFundingPayments(
  rate: Ratio,
  mark: Price,
  quantities: readonly Amount[],
  count: number,
  baseDecimals: number,
  quoteDecimals: number,
  payments: Amount[],
  out: FundingSettlement,
): FundingSettlement {
  let netQuantity = 0n;
  let paid = 0n;
  let received = 0n;
  for (let i = 0; i < count; i++) {
    const q = quantities[i]!;
    netQuantity += q;
    const p = fundingPayment(rate, q, mark, baseDecimals, quoteDecimals);
    payments[i] = p;
    if (p > 0n) paid += p;
    else received -= p;
  }
  if (netQuantity !== 0n) throw new RangeError(`settleFundingPayments: positions must net to zero, got ${netQuantity}`);
  out.totalPaid = paid;
  out.totalReceived = received;
  out.insuranceRemainder = paid - received;
  return out;
}
