// P2: the index price of an asset from per-source oracle quotes — source price, median, clamp, weighted mean,
// staleness and the per-update step limit. A function of its inputs; the caller owns the quotes and the result.
//
// Precisions: prices at PRICE_DECIMALS (1e-9 USD), weights and the step multiplier at RATIO_DECIMALS (1e18 = 1),
// the clamp in basis points.
//
// The rule, in order:
//   1. a source is fresh when nowMs − timeMs ≤ staleAfterMs (an age of exactly staleAfterMs is still fresh; a
//      quote time after nowMs reads as age ≤ 0, fresh — the oracle command bounds clock skew at its boundary);
//   2. per fresh source, price = medianOfThree(bid, ask, last);
//   3. m = median of the fresh source prices (median.ts: the floor mean of the middle pair for an even count);
//   4. each source price is clamped to [m × (1 − clampBps), m × (1 + clampBps)], the lower bound rounded up and
//      the upper down, so the band is never wider than configured;
//   5. raw index = Σ weight × clamped / Σ weight, rounded half-even: the index is a reference price, neither owed
//      nor paid, so it takes the unbiased rounding (what is owed or paid at it rounds in its own place);
//   6. step limit: with a previous index P > 0 the result is held to [P ÷ mult, P × mult], P ÷ mult rounded up and
//      P × mult rounded down (never a larger move than allowed); the rest follows on later updates;
//   7. no fresh source: the result is stale and keeps the previous index (0 when there was none).

import { divRound, mulDiv, mulRatio, RATIO_SCALE, Rounding, type Price, type Ratio } from "../fixed/index.ts";
import { medianInPlace, medianOfThree } from "./median.ts";

/** Most oracle sources one asset may have: bounds the per-update work and the scratch arrays. */
export const INDEX_SOURCES_MAX = 16;
/** SPEC P2 defaults. */
export const INDEX_CLAMP_BPS_DEFAULT = 30;
export const INDEX_STALE_AFTER_MS_DEFAULT = 10_000;
export const MAX_PRICE_UPDATE_MULTIPLIER_DEFAULT: Ratio = 1_002_500_000_000_000_000n; // 1.0025
/** Basis points in one. */
export const BPS_SCALE = 10_000n;

/** One source's latest quote; a mutable record the caller reuses. Prices > 0 (checkSourceQuote). */
export interface IndexSourceQuote {
  bid: Price;
  ask: Price;
  last: Price;
  /** The source's own time of the quote, ms since epoch. */
  timeMs: number;
}

/** An asset's index parameters (per asset configuration). */
export interface IndexParams {
  /** Clamp around the median, basis points, in [0, 10000). */
  readonly clampBps: number;
  /** A source older than this (engine time) drops out; ms ≥ 0. */
  readonly staleAfterMs: number;
  /** Largest factor one update may move the index by, a ratio ≥ 1. */
  readonly maxPriceUpdateMultiplier: Ratio;
}

/** The outcome of computeIndexPrice; reused by the caller. */
export class IndexResult {
  /** The index after this update (the previous one when stale), PRICE_DECIMALS. */
  index: Price = 0n;
  /** True when no source was fresh: the index did not update and says so. */
  stale = true;
  freshSourceCount = 0;
  /** m of step 3 (0 when stale). */
  medianSourcePrice: Price = 0n;
  /** The weighted mean before the step limit (0 when stale). */
  unlimitedIndex: Price = 0n;
  /** True when the step limit held the index back. */
  stepLimited = false;
}

/** Why a quote is refused, or null. A quote's three prices must be positive and its time a non-negative integer. */
export function checkSourceQuote(q: IndexSourceQuote): string | null {
  if (q.bid <= 0n || q.ask <= 0n || q.last <= 0n) return "oracle quote prices (bid, ask, last) must be positive";
  if (!Number.isSafeInteger(q.timeMs) || q.timeMs < 0) return "oracle quote time must be a non-negative integer (ms)";
  return null;
}

/** Why index parameters or source weights are refused, or null (configuration load). */
export function checkIndexParams(p: IndexParams, weights: readonly Ratio[]): string | null {
  if (!Number.isInteger(p.clampBps) || p.clampBps < 0 || p.clampBps >= 10_000) return "clampBps must be an integer in [0, 10000)";
  if (!Number.isSafeInteger(p.staleAfterMs) || p.staleAfterMs < 0) return "staleAfterMs must be a non-negative integer";
  if (p.maxPriceUpdateMultiplier < RATIO_SCALE) return "maxPriceUpdateMultiplier must be at least 1";
  if (weights.length < 1 || weights.length > INDEX_SOURCES_MAX) return `an index needs 1 to ${INDEX_SOURCES_MAX} sources`;
  for (const w of weights) if (w <= 0n) return "every source weight must be positive";
  return null;
}

/** P2 step 1: is a quote taken at timeMs still fresh at engine time nowMs? */
export function isSourceFresh(timeMs: number, nowMs: number, staleAfterMs: number): boolean {
  return nowMs - timeMs <= staleAfterMs;
}

/** P2 step 2: a source's price, the median of its bid, ask and last. */
export function sourcePrice(q: IndexSourceQuote): Price {
  return medianOfThree(q.bid, q.ask, q.last);
}

/** P2 step 4: price clamped to median × (1 ± clampBps); the lower bound rounds up, the upper down. */
export function clampToMedian(price: Price, median: Price, clampBps: number): Price {
  const bps = BigInt(clampBps);
  const lower = mulDiv(median, BPS_SCALE - bps, BPS_SCALE, Rounding.Up);
  if (price < lower) return lower;
  const upper = mulDiv(median, BPS_SCALE + bps, BPS_SCALE, Rounding.Down);
  return price > upper ? upper : price;
}

/** P2 step 6: next held to [previous ÷ mult, previous × mult] (inward roundings); no limit when previous ≤ 0. */
export function limitPriceStep(next: Price, previous: Price, maxMultiplier: Ratio): Price {
  if (previous <= 0n) return next;
  const lower = mulDiv(previous, RATIO_SCALE, maxMultiplier, Rounding.Up);
  if (next < lower) return lower;
  const upper = mulRatio(previous, maxMultiplier, Rounding.Down);
  return next > upper ? upper : next;
}

// Scratch, not state: overwritten by every call (one thread per isolate), so a call allocates nothing.
const freshPrices: Price[] = new Array<Price>(INDEX_SOURCES_MAX).fill(0n);
const freshWeights: Ratio[] = new Array<Ratio>(INDEX_SOURCES_MAX).fill(0n);
const sortScratch: Price[] = new Array<Price>(INDEX_SOURCES_MAX).fill(0n);

/**
 * P2: the index from quotes[i] with weights[i] (i < count ≤ INDEX_SOURCES_MAX, quotes checked by
 * checkSourceQuote), at engine time nowMs, after previousIndex (0 = none). Writes and returns out.
 */
export function computeIndexPrice(
  quotes: readonly IndexSourceQuote[],
  weights: readonly Ratio[],
  count: number,
  params: IndexParams,
  previousIndex: Price,
  nowMs: number,
  out: IndexResult,
): IndexResult {
  if (count > INDEX_SOURCES_MAX) throw new RangeError(`computeIndexPrice: at most ${INDEX_SOURCES_MAX} sources, got ${count}`);
  let fresh = 0;
  for (let i = 0; i < count; i++) {
    const q = quotes[i]!;
    if (!isSourceFresh(q.timeMs, nowMs, params.staleAfterMs)) continue;
    const p = sourcePrice(q);
    freshPrices[fresh] = p;
    freshWeights[fresh] = weights[i]!;
    sortScratch[fresh] = p;
    fresh++;
  }
  out.freshSourceCount = fresh;
  out.stepLimited = false;
  if (fresh === 0) {
    out.stale = true;
    out.index = previousIndex;
    out.medianSourcePrice = 0n;
    out.unlimitedIndex = 0n;
    return out;
  }
  const median = medianInPlace(sortScratch, fresh);
  let weighted = 0n;
  let weightSum = 0n;
  for (let i = 0; i < fresh; i++) {
    weighted += freshWeights[i]! * clampToMedian(freshPrices[i]!, median, params.clampBps);
    weightSum += freshWeights[i]!;
  }
  const unlimited = divRound(weighted, weightSum, Rounding.HalfEven);
  const index = limitPriceStep(unlimited, previousIndex, params.maxPriceUpdateMultiplier);
  out.stale = false;
  out.medianSourcePrice = median;
  out.unlimitedIndex = unlimited;
  out.index = index;
  out.stepLimited = index !== unlimited;
  return out;
}
