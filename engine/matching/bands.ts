// A market's price bands (O4–O7) and the tick arithmetic they share with matching: which ticks a new limit order may
// rest at (O4, against the active price), and how far a taker may reach into the opposite side (O5 impact band
// against the best opposite price, O6 mean-mark band and O7 premium band from settlement's band inputs). Keys are in
// the opposite ladder's key space: a bid level's key is its tick, an ask level's key is −tick, and a taker may reach
// every opposite level whose key is ≥ its bound.

import { DoneReason, RATIO_SCALE, RejectCode, Side, TICK_INDEX_MAX, type MarketConfig } from "../model/index.ts";
import { NONE, type Book } from "./book.ts";

/** An inactive key bound: every level is reachable. */
export const INT32_MIN = -2147483648;
const TICK_INDEX_MAX_BIG = BigInt(TICK_INDEX_MAX);
/** Scratch words that expose a bigint's low 32 bits without Number(bigint), a slow runtime conversion (~12 ns). */
export const LOW64 = new BigInt64Array(1);
export const WORDS32 = new Int32Array(LOW64.buffer);
/** Index of the low 32-bit word of LOW64 (0 on little-endian machines). */
export const LOW_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;

interface Fraction {
  readonly num: bigint;
  readonly den: bigint;
}

export class PriceBands {
  /** RATIO_SCALE × tickSize: price × multiplier / bandDen is a tick index. */
  private readonly bandDen: bigint;
  private readonly tickSize: bigint;
  /** multiplier / bandDen reduced to lowest terms (small operands on the hot path) for the O4 and O5 bands. */
  private readonly pbMaxF: Fraction;
  private readonly pbMinF: Fraction;
  private readonly ibMaxF: Fraction;
  private readonly ibMinF: Fraction;

  // ---- band inputs (O6, O7): keys bounding the opposite level a taker may reach; INT32_MIN = inactive ----
  hasInputs = false;
  meanMark = 0n;
  meanPremium = 0n;
  indexPrice = 0n;
  private readonly meanMarkKey = [INT32_MIN, INT32_MIN];
  private readonly premiumKey = [INT32_MIN, INT32_MIN];

  // ---- price band (O4) cache, keyed on the ticks it was computed from ----
  private pbBid = -1;
  private pbAsk = -1;
  private pbLast = -1;
  private pbMinTick = 0;
  private pbMaxTick = TICK_INDEX_MAX;
  /** The active price the band ticks were computed from (−1 = none yet). */
  private pbActive = -1n;

  // ---- the current taker's per-band keys, so a stop can name its band (stopReason) ----
  private tImpactKey = 0;
  private tMeanMarkKey = 0;

  constructor(
    private readonly cfg: MarketConfig,
    private readonly isPerp: boolean,
  ) {
    this.tickSize = cfg.tickSize;
    this.bandDen = RATIO_SCALE * cfg.tickSize;
    this.pbMaxF = reduced(cfg.priceBand.maxMultiplier, this.bandDen);
    this.pbMinF = reduced(cfg.priceBand.minMultiplier, this.bandDen);
    this.ibMaxF = reduced(cfg.impactBand.maxMultiplier, this.bandDen);
    this.ibMinF = reduced(cfg.impactBand.minMultiplier, this.bandDen);
  }

  /**
   * O6/O7 inputs from settlement: mean mark (PRICE_DECIMALS), mean premium (Ratio) and, optionally, the index price
   * (0 = use the index implied by mean mark and mean premium: meanMark / (1 + meanPremium)). Returns a reject code.
   */
  setInputs(meanMark: bigint, meanPremium: bigint, indexPrice: bigint): number {
    if (meanMark <= 0n) return RejectCode.InvalidPrice;
    if (indexPrice < 0n) return RejectCode.InvalidPrice;
    if (RATIO_SCALE + meanPremium <= 0n) return RejectCode.InvalidField;
    this.hasInputs = true;
    this.meanMark = meanMark;
    this.meanPremium = meanPremium;
    this.indexPrice = indexPrice;
    const mm = this.cfg.meanMarkBand;
    this.meanMarkKey[Side.Buy] = buyKey(floorDiv(meanMark * mm.maxMultiplier, this.bandDen));
    this.meanMarkKey[Side.Sell] = sellKey(ceilDiv(meanMark * mm.minMultiplier, this.bandDen));
    const tol = this.cfg.premiumTolerance;
    if (this.isPerp && tol !== null) {
      // Fill price P has premium (P − I) / I; buys need it ≤ p̄ + t, sells ≥ p̄ − t.
      const up = RATIO_SCALE + meanPremium + tol;
      const down = RATIO_SCALE + meanPremium - tol;
      let num: bigint;
      let den: bigint;
      if (indexPrice > 0n) {
        num = indexPrice;
        den = this.bandDen;
      } else {
        num = meanMark;
        den = (RATIO_SCALE + meanPremium) * this.tickSize;
      }
      this.premiumKey[Side.Buy] = buyKey(floorDiv(num * up, den));
      this.premiumKey[Side.Sell] = down <= 0n ? INT32_MIN : sellKey(ceilDiv(num * down, den));
    }
    return RejectCode.None;
  }

  /** O4: active price = median{best bid, best ask, last} (mean of two, the one, or none → no band). */
  outsidePriceBand(book: Book, lastTick: number, lastPrice: bigint, tick: number): boolean {
    const bl = book.bestLevel(Side.Buy);
    const al = book.bestLevel(Side.Sell);
    const bid = bl === NONE ? 0 : book.lTick[bl];
    const ask = al === NONE ? 0 : book.lTick[al];
    if (bid !== this.pbBid || ask !== this.pbAsk || lastTick !== this.pbLast) {
      this.pbBid = bid;
      this.pbAsk = ask;
      this.pbLast = lastTick;
      const active = activePrice(bl === NONE ? 0n : book.lPrice[bl], al === NONE ? 0n : book.lPrice[al], lastPrice);
      // The touch moves far more often than the median does (it is often the last price, which moves only on a
      // trade): the products and divisions are needed only for a new active price.
      if (active === this.pbActive) return tick > this.pbMaxTick || tick < this.pbMinTick;
      this.pbActive = active;
      if (active === 0n) {
        this.pbMinTick = 0;
        this.pbMaxTick = TICK_INDEX_MAX;
      } else {
        this.pbMaxTick = clampTick(floorDiv(active * this.pbMaxF.num, this.pbMaxF.den));
        this.pbMinTick = clampTick(ceilDiv(active * this.pbMinF.num, this.pbMinF.den));
      }
    }
    return tick > this.pbMaxTick || tick < this.pbMinTick;
  }

  /**
   * The combined O5/O6/O7 bound for a taker on `side` (the opposite side must not be empty), as the smallest
   * opposite-level key it may reach (the tightest of the three). O5 impact band against the best opposite price now;
   * O6 mean-mark and O7 premium bands from the band inputs. The per-band keys are kept for stopReason.
   */
  takerKey(book: Book, side: number): number {
    const bestOpp = book.bestLevel(side ^ 1);
    const ik =
      side === Side.Buy
        ? buyKey(floorDiv(book.lPrice[bestOpp] * this.ibMaxF.num, this.ibMaxF.den))
        : sellKey(ceilDiv(book.lPrice[bestOpp] * this.ibMinF.num, this.ibMinF.den));
    const mk = this.meanMarkKey[side];
    const pk = this.premiumKey[side];
    this.tImpactKey = ik;
    this.tMeanMarkKey = mk;
    let key = ik;
    if (mk > key) key = mk;
    if (pk > key) key = pk;
    return key;
  }

  /** The band the last taker's stopping level (opposite key) violates, first of impact, mean-mark, premium. */
  stopReason(key: number): number {
    if (key < this.tImpactKey) return DoneReason.ImpactBand;
    if (key < this.tMeanMarkKey) return DoneReason.MeanMarkBand;
    return DoneReason.PremiumBand;
  }
}

// ================================================================ pure helpers

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b;
  while (y !== 0n) {
    const t = x % y;
    x = y;
    y = t;
  }
  return x;
}

/** num / den in lowest terms (den > 0). */
function reduced(num: bigint, den: bigint): Fraction {
  const g = gcd(num, den);
  return g > 1n ? { num: num / g, den: den / g } : { num, den };
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

export function ceilDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a > 0n ? q + 1n : q;
}

function clampTick(t: bigint): number {
  if (t < 0n) return -1;
  if (t > TICK_INDEX_MAX_BIG) return TICK_INDEX_MAX + 1;
  return int31(t);
}

/** A bigint known to be in [0, 2^31) as a number: its low word, read through the scratch words (Number(bigint) is a
 * slow runtime call). */
export function int31(t: bigint): number {
  LOW64[0] = t;
  return WORDS32[LOW_WORD];
}

/** A buy may reach ask levels with tick ≤ maxTick: minimum ask key −maxTick. */
function buyKey(maxTick: bigint): number {
  return -clampTick(maxTick);
}

/** A sell may reach bid levels with tick ≥ minTick: minimum bid key minTick. */
function sellKey(minTick: bigint): number {
  return clampTick(minTick);
}

/** Median of the present values among bid, ask, last (0n = absent); the floor mean when two are present. */
export function activePrice(bid: bigint, ask: bigint, last: bigint): bigint {
  const present = (bid > 0n ? 1 : 0) + (ask > 0n ? 1 : 0) + (last > 0n ? 1 : 0);
  if (present === 3) {
    const lo = bid < ask ? bid : ask;
    const hi = bid < ask ? ask : bid;
    return last < lo ? lo : last > hi ? hi : last;
  }
  if (present === 2) {
    if (bid === 0n) return (ask + last) / 2n;
    if (ask === 0n) return (bid + last) / 2n;
    return (bid + ask) / 2n;
  }
  if (present === 1) return bid > 0n ? bid : ask > 0n ? ask : last;
  return 0n;
}
