// P3: the mark price of a perpetual — the EWMA of (mid − index), the fallback chain (a)–(e), post-only → index, the
// clamp to the index band — and the premium (mark − index) / index that O7 and P4 read.
//
// Precisions: prices at PRICE_DECIMALS; the premium and the clamp multipliers at RATIO_DECIMALS. The EWMA keeps
// (mid − index) at PRICE_DECIMALS + MARK_EWMA_EXTRA_DECIMALS so that 300 updates of half-an-ulp roundings do not drift
// it by whole nano-dollars.
//
// EWMA: alpha = 2 / (N + 1) with N = MARK_EWMA_SAMPLES = 300 (5 minutes of 1 s samples), used as the exact rational
// (no rounded alpha): e ← e + (x − e) × 2 / 301, the product rounded half-even at the fine scale. The first sample
// sets e = x. One sample per second of engine time: a sample in the same or an earlier second than the last one is
// ignored; a caller whose clock jumped several seconds calls once per second it wants sampled.
//
// Chain (seed 004 lists (a)–(d); SPEC adds (e)): (a) index + EWMA while the index is fresh and the EWMA has a sample
// no older than ewmaStaleAfterMs ("if data is missing, e.g. stale, fall back"); (b) index while fresh; (c) median of
// {best bid, best ask, last} when all three exist; (d) mid when both sides exist; (e) last. A post-only market uses
// the index only (its book cannot trade, so its quotes are no price): with a stale index it has no mark (None) and
// the caller keeps the previous one.

import { divRound, mulRatio, pow10, RATIO_SCALE, Rounding, type Price, type Ratio } from "../fixed/index.ts";
import { medianOfThree } from "./median.ts";
import { isNextSecond } from "./sampling.ts";

/** N of alpha = 2 / (N + 1): 5 minutes of one sample a second. */
export const MARK_EWMA_SAMPLES = 300n;
/** Digits the EWMA keeps beyond PRICE_DECIMALS. */
export const MARK_EWMA_EXTRA_DECIMALS = 9;
const EWMA_FINE = pow10(MARK_EWMA_EXTRA_DECIMALS);

/** SPEC P3 defaults: the mark stays within index × [0.95, 1.05]. */
export const MARK_CLAMP_LOWER_DEFAULT: Ratio = 950_000_000_000_000_000n;
export const MARK_CLAMP_UPPER_DEFAULT: Ratio = 1_050_000_000_000_000_000n;
/** Default age after which the EWMA's last sample no longer counts as data (fallback (a) → (b)). */
export const MARK_EWMA_STALE_AFTER_MS_DEFAULT = 10_000;

/** The EWMA state of one market; the caller owns it (settlement's market-wide state). */
export class PremiumEwma {
  /** e at PRICE_DECIMALS + MARK_EWMA_EXTRA_DECIMALS (signed). */
  valueFine = 0n;
  sampleCount = 0;
  /** Engine time of the last sample taken, ms; −1 before the first. */
  lastSampleMs = -1;
}

/**
 * P3 (a): one EWMA sample x = mid − index (PRICE_DECIMALS) at engine time nowMs. Returns whether it was taken. The
 * caller samples only while there is a mid (both sides of the book) and a fresh index; without them the EWMA ages
 * and the chain falls back (ewmaStaleAfterMs).
 */
export function sampleEwma(state: PremiumEwma, midMinusIndex: Price, nowMs: number): boolean {
  if (!isNextSecond(state.sampleCount, state.lastSampleMs, nowMs)) return false;
  const x = midMinusIndex * EWMA_FINE;
  state.valueFine =
    state.sampleCount === 0 ? x : state.valueFine + divRound((x - state.valueFine) * 2n, MARK_EWMA_SAMPLES + 1n, Rounding.HalfEven);
  state.sampleCount++;
  state.lastSampleMs = nowMs;
  return true;
}

/** The EWMA at PRICE_DECIMALS, rounded half-even. */
export function ewmaPrice(state: PremiumEwma): Price {
  return divRound(state.valueFine, EWMA_FINE, Rounding.HalfEven);
}

/** Mid of the book, the floor mean (as O4's active price): (bid + ask) / 2. Both > 0. */
export function midPrice(bestBid: Price, bestAsk: Price): Price {
  return (bestBid + bestAsk) / 2n;
}

/** Which rule of P3 gave the mark. */
export const MarkSource = { None: 0, IndexPlusEwma: 1, Index: 2, BookMedian: 3, Mid: 4, Last: 5, PostOnlyIndex: 6 } as const;
export type MarkSource = (typeof MarkSource)[keyof typeof MarkSource];

export interface MarkParams {
  /** Ratios: the mark stays in index × [lower, upper]. */
  readonly clampLowerMultiplier: Ratio;
  readonly clampUpperMultiplier: Ratio;
  /** The EWMA is data for (a) only while its last sample is at most this old. */
  readonly ewmaStaleAfterMs: number;
}

/** A market's inputs to the mark; a reused record. Prices 0 = absent. */
export class MarkInputs {
  index: Price = 0n;
  indexStale = true;
  bestBid: Price = 0n;
  bestAsk: Price = 0n;
  last: Price = 0n;
  postOnly = false;
  nowMs = 0;
}

/** The mark and where it came from; a reused record. mark = 0 with source None: no data (keep the previous). */
export class MarkResult {
  mark: Price = 0n;
  source: MarkSource = MarkSource.None;
  /** The unclamped value of the chosen rule. */
  unclamped: Price = 0n;
  clamped = false;
}

/** Why mark parameters are refused, or null: 0 < lower ≤ 1 ≤ upper, ewmaStaleAfterMs a non-negative integer. */
export function checkMarkParams(p: MarkParams): string | null {
  if (p.clampLowerMultiplier <= 0n || p.clampLowerMultiplier > RATIO_SCALE) return "mark clamp lower multiplier must be in (0, 1]";
  if (p.clampUpperMultiplier < RATIO_SCALE) return "mark clamp upper multiplier must be at least 1";
  if (!Number.isSafeInteger(p.ewmaStaleAfterMs) || p.ewmaStaleAfterMs < 0) return "ewmaStaleAfterMs must be a non-negative integer";
  return null;
}

function ewmaIsData(ewma: PremiumEwma, nowMs: number, params: MarkParams): boolean {
  return ewma.sampleCount > 0 && nowMs - ewma.lastSampleMs <= params.ewmaStaleAfterMs;
}

function setChoice(out: MarkResult, source: MarkSource, value: Price): void {
  out.source = source;
  out.unclamped = value;
}

/** P3's chain before the clamp: writes out.unclamped and out.source (None, 0 when nothing is available). */
function chooseMark(inp: MarkInputs, ewma: PremiumEwma, params: MarkParams, out: MarkResult): void {
  const indexFresh = !inp.indexStale && inp.index > 0n;
  const book = inp.bestBid > 0n && inp.bestAsk > 0n;
  if (inp.postOnly) {
    if (indexFresh) setChoice(out, MarkSource.PostOnlyIndex, inp.index);
    else setChoice(out, MarkSource.None, 0n);
  } else if (indexFresh && ewmaIsData(ewma, inp.nowMs, params)) {
    setChoice(out, MarkSource.IndexPlusEwma, inp.index + ewmaPrice(ewma));
  } else if (indexFresh) {
    setChoice(out, MarkSource.Index, inp.index);
  } else if (book && inp.last > 0n) {
    setChoice(out, MarkSource.BookMedian, medianOfThree(inp.bestBid, inp.bestAsk, inp.last));
  } else if (book) {
    setChoice(out, MarkSource.Mid, midPrice(inp.bestBid, inp.bestAsk));
  } else if (inp.last > 0n) {
    setChoice(out, MarkSource.Last, inp.last);
  } else {
    setChoice(out, MarkSource.None, 0n);
  }
}

/**
 * P3: the mark of a perpetual. The clamp to index × [lower, upper] (lower bound rounded up, upper down) applies
 * whenever an index value exists (> 0), stale or not: a silent oracle must not free the mark from the last band it
 * had, since the mark drives margin and liquidation. No rule available: source None, mark 0.
 */
export function computeMarkPrice(inp: MarkInputs, ewma: PremiumEwma, params: MarkParams, out: MarkResult): MarkResult {
  chooseMark(inp, ewma, params, out);
  let mark = out.unclamped;
  out.clamped = false;
  if (out.source !== MarkSource.None && inp.index > 0n) {
    const lower = mulRatio(inp.index, params.clampLowerMultiplier, Rounding.Up);
    const upper = mulRatio(inp.index, params.clampUpperMultiplier, Rounding.Down);
    if (mark < lower) mark = lower;
    else if (mark > upper) mark = upper;
    out.clamped = mark !== out.unclamped;
  }
  out.mark = mark;
  return out;
}

/**
 * P3 / P4 / O7: premium = (mark − index) / index as a ratio, rounded half-even (a measurement; the payments it
 * leads to round by payer and receiver in funding.ts). index > 0.
 */
export function premiumOf(mark: Price, index: Price): Ratio {
  return divRound((mark - index) * RATIO_SCALE, index, Rounding.HalfEven);
}
