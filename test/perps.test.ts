// engine/perps: the pure P rules, table-tested to the last unit — P2 index, P3 mark (EWMA, fallback chain, clamp,
// moving means), P4 funding (rate, payments, insurance remainder), P1/P5 position arithmetic, P8 liquidation price
// (cross-checked against engine/risk/margin's AccountMargin).
import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RATIO_SCALE, Side } from "../engine/model/index.ts";
import { loadConfig } from "../engine/pipeline/config.ts";
import {
  AccountMargin,
  exposureQuantity,
  MarginContext,
  positionMarginUsd,
  positionMmf,
} from "../engine/risk/margin/index.ts";
import {
  addFundingSample,
  applyFill,
  applyFundingPayment,
  breakEvenPrice,
  checkFundingParams,
  checkIndexParams,
  checkMarkParams,
  checkSourceQuote,
  clampToMedian,
  computeIndexPrice,
  computeMarkPrice,
  entryPrice,
  estimatedLiquidationPrice,
  ewmaPrice,
  FillEffect,
  forcedSettlementBorrow,
  FUNDING_DIVISOR_DEFAULT,
  fundingInterestComponent,
  fundingPayment,
  fundingRate,
  FundingSamples,
  FundingSettlement,
  INDEX_CLAMP_BPS_DEFAULT,
  INDEX_STALE_AFTER_MS_DEFAULT,
  IndexResult,
  isLiquidatableAtMark,
  limitPriceStep,
  LiquidationPriceInputs,
  LiquidationPriceKind,
  LiquidationPriceResult,
  MARK_CLAMP_LOWER_DEFAULT,
  MARK_CLAMP_UPPER_DEFAULT,
  MARK_EWMA_STALE_AFTER_MS_DEFAULT,
  MarkInputs,
  MarkResult,
  MarkSource,
  MAX_PRICE_UPDATE_MULTIPLIER_DEFAULT,
  meanPremium,
  medianInPlace,
  medianOfThree,
  MovingMean,
  openInterestChange,
  PerpPosition,
  planUsdcCredit,
  planUsdcDebit,
  pnlToSettlementUnits,
  premiumOf,
  PremiumEwma,
  realizePnl,
  reduceOnlyFillCap,
  sampleEwma,
  settleFundingPayments,
  unrealizedPnl,
  UsdcCreditPlan,
  UsdcDebitPlan,
  type IndexParams,
  type IndexSourceQuote,
  type MarkParams,
} from "../engine/perps/index.ts";

const R = RATIO_SCALE;
const USD = 1_000_000_000n; // one USD at PRICE_DECIMALS
const BP = 100_000_000_000_000n; // one basis point as a ratio
const BTC_DECIMALS = 8;
const BTC = 100_000_000n;
const USDC_DECIMALS = 6;
const USDC = 1_000_000n;

function quote(bid: bigint, ask: bigint, last: bigint, timeMs: number): IndexSourceQuote {
  return { bid, ask, last, timeMs };
}

const INDEX_PARAMS: IndexParams = {
  clampBps: INDEX_CLAMP_BPS_DEFAULT,
  staleAfterMs: INDEX_STALE_AFTER_MS_DEFAULT,
  maxPriceUpdateMultiplier: MAX_PRICE_UPDATE_MULTIPLIER_DEFAULT,
};

describe("P2: index price", () => {
  it("P2: median of three is the middle value, ties and crossed quotes included", () => {
    const rows: [bigint, bigint, bigint, bigint][] = [
      [1n, 2n, 3n, 2n],
      [3n, 1n, 2n, 2n],
      [2n, 3n, 1n, 2n],
      [2n, 2n, 1n, 2n],
      [1n, 2n, 2n, 2n],
      [5n, 5n, 5n, 5n],
      [101n, 99n, 100n, 100n], // crossed source (bid > ask): still the middle
    ];
    for (const [a, b, c, m] of rows) expect(medianOfThree(a, b, c)).toBe(m);
  });

  it("P2: median of n: the middle for odd n, the floor mean of the middle pair for even n", () => {
    const rows: [bigint[], bigint][] = [
      [[5n], 5n],
      [[5n, 1n, 3n], 3n],
      [[4n, 1n, 3n, 2n], 2n], // (2 + 3) / 2 = 2.5 → 2
      [[1n, 2n], 1n],
      [[2n, 2n], 2n],
      [[100n, 103n], 101n],
      [[9n, 1n, 8n, 2n, 7n, 3n], 5n], // middle pair 3, 7
    ];
    for (const [values, m] of rows) expect(medianInPlace([...values], values.length)).toBe(m);
    expect(() => medianInPlace([1n], 0)).toThrow(RangeError);
  });

  it("P2: median → clamp ±30 bps → weighted mean; an outlier is held to the band", () => {
    const quotes = [
      quote(99_990n * USD, 100_010n * USD, 100_000n * USD, 1_000), // 100,000
      quote(100_020n * USD, 100_040n * USD, 100_100n * USD, 1_000), // 100,040
      quote(99_000n * USD, 99_100n * USD, 99_050n * USD, 1_000), // 99,050 → clamped to 99,700
    ];
    const out = new IndexResult();
    computeIndexPrice(quotes, [R, R, 2n * R], 3, INDEX_PARAMS, 0n, 5_000, out);
    expect(out.stale).toBe(false);
    expect(out.freshSourceCount).toBe(3);
    expect(out.medianSourcePrice).toBe(100_000n * USD);
    // (100,000 + 100,040 + 2 × 99,700) / 4 = 99,860
    expect(out.index).toBe(99_860n * USD);
    expect(out.stepLimited).toBe(false);
    // Equal weights: 299,740 / 3 = 99,913.333333333|33 → half-even 99,913.333333333
    computeIndexPrice(quotes, [R, R, R], 3, INDEX_PARAMS, 0n, 5_000, out);
    expect(out.index).toBe(99_913_333_333_333n);
  });

  it("P2: clamp bounds round inward (lower up, upper down)", () => {
    // 3333 × 0.997 = 3323.001 → 3324; 3333 × 1.003 = 3342.999 → 3342.
    expect(clampToMedian(1n, 3333n, 30)).toBe(3324n);
    expect(clampToMedian(9999n, 3333n, 30)).toBe(3342n);
    expect(clampToMedian(3330n, 3333n, 30)).toBe(3330n);
    expect(clampToMedian(5n, 3333n, 0)).toBe(3333n);
  });

  it("P2: a source older than staleAfterMs drops out; exactly staleAfterMs old is still fresh", () => {
    const quotes = [
      quote(100_000n * USD, 100_000n * USD, 100_000n * USD, 20_000),
      quote(100_040n * USD, 100_040n * USD, 100_040n * USD, 20_000),
      quote(99_000n * USD, 99_000n * USD, 99_000n * USD, 9_999), // 10,001 ms old at 20,000
    ];
    const out = new IndexResult();
    computeIndexPrice(quotes, [R, R, R], 3, INDEX_PARAMS, 0n, 20_000, out);
    expect(out.freshSourceCount).toBe(2);
    expect(out.medianSourcePrice).toBe(100_020n * USD); // even count: floor mean of the pair
    expect(out.index).toBe(100_020n * USD);
    quotes[2]!.timeMs = 10_000; // exactly 10,000 ms old: fresh, median 100,000, clamped to 99,700
    computeIndexPrice(quotes, [R, R, R], 3, INDEX_PARAMS, 0n, 20_000, out);
    expect(out.freshSourceCount).toBe(3);
    expect(out.index).toBe(99_913_333_333_333n);
  });

  it("P2: no fresh source → stale, the previous index kept", () => {
    const quotes = [quote(USD, USD, USD, 0)];
    const out = new IndexResult();
    computeIndexPrice(quotes, [R], 1, INDEX_PARAMS, 123n * USD, 10_001, out);
    expect(out.stale).toBe(true);
    expect(out.freshSourceCount).toBe(0);
    expect(out.index).toBe(123n * USD);
    computeIndexPrice(quotes, [R], 1, INDEX_PARAMS, 123n * USD, 10_000, out);
    expect(out.stale).toBe(false);
  });

  it("P2: one update moves the index at most × 1.0025 or ÷ 1.0025; the rest follows later", () => {
    const prev = 100_000n * USD;
    const m = MAX_PRICE_UPDATE_MULTIPLIER_DEFAULT;
    expect(limitPriceStep(101_000n * USD, prev, m)).toBe(100_250n * USD);
    // 100,000 / 1.0025 = 99,750.623441396|5 → up: 99,750.623441397
    expect(limitPriceStep(99_000n * USD, prev, m)).toBe(99_750_623_441_397n);
    expect(limitPriceStep(100_100n * USD, prev, m)).toBe(100_100n * USD);
    expect(limitPriceStep(1n, 0n, m)).toBe(1n); // no previous: no limit

    const quotes = [quote(110_000n * USD, 110_000n * USD, 110_000n * USD, 0)];
    const out = new IndexResult();
    let index = prev;
    const path: bigint[] = [];
    for (let i = 0; i < 40 && index !== 110_000n * USD; i++) {
      computeIndexPrice(quotes, [R], 1, INDEX_PARAMS, index, 0, out);
      index = out.index;
      path.push(index);
    }
    expect(path[0]).toBe(100_250n * USD);
    expect(path[1]).toBe(100_500_625_000_000n); // 100,250 × 1.0025
    expect(out.stepLimited).toBe(false);
    expect(index).toBe(110_000n * USD);
    expect(path.length).toBe(39); // ln(1.1) / ln(1.0025) = 38.2 limited steps, then the last one lands
  });

  it("P2: quotes and parameters are checked before use", () => {
    expect(checkSourceQuote(quote(USD, USD, USD, 0))).toBeNull();
    expect(checkSourceQuote(quote(0n, USD, USD, 0))).toMatch(/positive/);
    expect(checkSourceQuote(quote(USD, USD, USD, -1))).toMatch(/time/);
    expect(checkSourceQuote(quote(USD, USD, USD, 1.5))).toMatch(/time/);
    expect(checkIndexParams(INDEX_PARAMS, [R, R])).toBeNull();
    expect(checkIndexParams({ ...INDEX_PARAMS, clampBps: 10_000 }, [R])).toMatch(/clampBps/);
    expect(checkIndexParams({ ...INDEX_PARAMS, maxPriceUpdateMultiplier: R - 1n }, [R])).toMatch(/maxPriceUpdateMultiplier/);
    expect(checkIndexParams(INDEX_PARAMS, [R, 0n])).toMatch(/weight/);
    expect(checkIndexParams(INDEX_PARAMS, [])).toMatch(/sources/);
    expect(checkIndexParams(INDEX_PARAMS, new Array<bigint>(17).fill(R))).toMatch(/sources/);
  });

  it("P2: property — the index lies within the clamped band and within one step of the previous index", () => {
    const price = fc.bigInt({ min: 90_000n * USD, max: 110_000n * USD });
    const src = fc.record({ bid: price, ask: price, last: price, age: fc.integer({ min: 0, max: 20_000 }) });
    fc.assert(
      fc.property(
        fc.array(src, { minLength: 1, maxLength: 16 }),
        fc.array(fc.bigInt({ min: 1n, max: 10n * R }), { minLength: 16, maxLength: 16 }),
        fc.bigInt({ min: 0n, max: 110_000n * USD }),
        (sources, weights, previous) => {
          const now = 100_000;
          const quotes = sources.map((s) => quote(s.bid, s.ask, s.last, now - s.age));
          const out = new IndexResult();
          computeIndexPrice(quotes, weights, quotes.length, INDEX_PARAMS, previous, now, out);
          const fresh = quotes.filter((q) => now - q.timeMs <= INDEX_PARAMS.staleAfterMs);
          expect(out.freshSourceCount).toBe(fresh.length);
          if (fresh.length === 0) {
            expect(out.stale).toBe(true);
            expect(out.index).toBe(previous);
            return;
          }
          const m = out.medianSourcePrice;
          const lo = (m * 9970n + 9999n) / 10_000n;
          const hi = (m * 10_030n) / 10_000n;
          expect(out.unlimitedIndex >= lo && out.unlimitedIndex <= hi).toBe(true);
          if (previous > 0n) {
            const m2 = MAX_PRICE_UPDATE_MULTIPLIER_DEFAULT;
            expect(out.index * m2 >= previous * R).toBe(true);
            expect(out.index * R <= previous * m2).toBe(true);
          } else {
            expect(out.index).toBe(out.unlimitedIndex);
          }
        },
      ),
    );
  });
});

const MARK_PARAMS: MarkParams = {
  clampLowerMultiplier: MARK_CLAMP_LOWER_DEFAULT,
  clampUpperMultiplier: MARK_CLAMP_UPPER_DEFAULT,
  ewmaStaleAfterMs: MARK_EWMA_STALE_AFTER_MS_DEFAULT,
};

function markInputs(o: Partial<MarkInputs>): MarkInputs {
  return Object.assign(new MarkInputs(), o);
}

describe("P3: mark price", () => {
  it("P3: EWMA alpha = 2/301: first sample sets it, one sample per second, half-even at 1e-18", () => {
    const e = new PremiumEwma();
    expect(sampleEwma(e, 0n, 1_000)).toBe(true);
    expect(e.valueFine).toBe(0n);
    expect(sampleEwma(e, 301n * USD, 1_999)).toBe(false); // same second
    expect(sampleEwma(e, 301n * USD, 2_000)).toBe(true);
    expect(e.valueFine).toBe(2n * USD * USD); // 301 × 2 / 301 = 2 USD exactly
    expect(ewmaPrice(e)).toBe(2n * USD);
    expect(sampleEwma(e, 0n, 3_500)).toBe(true);
    // 2 − 2 × 2/301 = 1.986710963455149501|66… USD → at 1e-18 half-even …502; the price 1.986710963 USD
    expect(e.valueFine).toBe(1_986_710_963_455_149_502n);
    expect(ewmaPrice(e)).toBe(1_986_710_963n);
    expect(e.sampleCount).toBe(3);
    expect(e.lastSampleMs).toBe(3_500);
  });

  it("P3: property — a constant premium is a fixed point, and the EWMA stays within the samples' range", () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: -1000n * USD, max: 1000n * USD }), { minLength: 1, maxLength: 400 }), (xs) => {
        const e = new PremiumEwma();
        xs.forEach((x, i) => sampleEwma(e, x, i * 1000));
        let lo = xs[0]!;
        let hi = xs[0]!;
        for (const x of xs) [lo, hi] = [x < lo ? x : lo, x > hi ? x : hi];
        const p = ewmaPrice(e);
        expect(p >= lo && p <= hi).toBe(true);
        const c = new PremiumEwma();
        for (let i = 0; i < 50; i++) sampleEwma(c, xs[0]!, i * 1000);
        expect(ewmaPrice(c)).toBe(xs[0]);
      }),
    );
  });

  it("P3: the fallback chain (a)–(e), post-only → index, and the ±5% clamp", () => {
    const ewma = new PremiumEwma();
    sampleEwma(ewma, 2n * USD, 10_000); // EWMA = +2 USD
    const idx = 100n * USD;
    const rows: [string, Partial<MarkInputs>, number, bigint, boolean][] = [
      ["(a) index + EWMA", { index: idx, indexStale: false, nowMs: 15_000 }, MarkSource.IndexPlusEwma, 102n * USD, false],
      ["(b) EWMA too old", { index: idx, indexStale: false, nowMs: 20_001 }, MarkSource.Index, 100n * USD, false],
      ["(c) book median, clamped to stale index", { index: idx, indexStale: true, bestBid: 98n * USD, bestAsk: 110n * USD, last: 106n * USD, nowMs: 15_000 }, MarkSource.BookMedian, 105n * USD, true],
      ["(c) book median", { index: idx, indexStale: true, bestBid: 98n * USD, bestAsk: 101n * USD, last: 99n * USD, nowMs: 15_000 }, MarkSource.BookMedian, 99n * USD, false],
      ["(d) mid, floor", { index: idx, indexStale: true, bestBid: 98n * USD, bestAsk: 101n * USD + 1n, nowMs: 15_000 }, MarkSource.Mid, 99_500_000_000n, false],
      ["(e) last", { index: 0n, bestBid: 98n * USD, last: 200n * USD, nowMs: 15_000 }, MarkSource.Last, 200n * USD, false],
      ["nothing", { index: 0n, bestAsk: 98n * USD, nowMs: 15_000 }, MarkSource.None, 0n, false],
      ["post-only uses the index", { index: idx, indexStale: false, postOnly: true, bestBid: 98n * USD, bestAsk: 99n * USD, last: 98n * USD, nowMs: 15_000 }, MarkSource.PostOnlyIndex, 100n * USD, false],
      ["post-only, stale index: none", { index: idx, indexStale: true, postOnly: true, bestBid: 98n * USD, bestAsk: 99n * USD, last: 98n * USD, nowMs: 15_000 }, MarkSource.None, 0n, false],
    ];
    const out = new MarkResult();
    for (const [name, inp, source, mark, clamped] of rows) {
      computeMarkPrice(markInputs(inp), ewma, MARK_PARAMS, out);
      expect([name, out.source, out.mark, out.clamped]).toEqual([name, source, mark, clamped]);
    }
    // (a) clamped: EWMA +10 on index 100 → 110 → 105; −10 → 90 → 95. Bounds round inward: index 3 units →
    // [ceil(2.85), floor(3.15)] = [3, 3].
    const far = new PremiumEwma();
    sampleEwma(far, 10n * USD, 0);
    computeMarkPrice(markInputs({ index: idx, indexStale: false, nowMs: 0 }), far, MARK_PARAMS, out);
    expect([out.source, out.unclamped, out.mark, out.clamped]).toEqual([MarkSource.IndexPlusEwma, 110n * USD, 105n * USD, true]);
    const low = new PremiumEwma();
    sampleEwma(low, -10n * USD, 0);
    computeMarkPrice(markInputs({ index: idx, indexStale: false, nowMs: 0 }), low, MARK_PARAMS, out);
    expect(out.mark).toBe(95n * USD);
    computeMarkPrice(markInputs({ index: 3n, indexStale: false, nowMs: 0 }), far, MARK_PARAMS, out);
    expect(out.mark).toBe(3n);
  });

  it("P3: mark parameters are checked before use", () => {
    expect(checkMarkParams(MARK_PARAMS)).toBeNull();
    expect(checkMarkParams({ ...MARK_PARAMS, clampLowerMultiplier: R + 1n })).toMatch(/lower/);
    expect(checkMarkParams({ ...MARK_PARAMS, clampLowerMultiplier: 0n })).toMatch(/lower/);
    expect(checkMarkParams({ ...MARK_PARAMS, clampUpperMultiplier: R - 1n })).toMatch(/upper/);
    expect(checkMarkParams({ ...MARK_PARAMS, ewmaStaleAfterMs: -1 })).toMatch(/ewmaStaleAfterMs/);
  });

  it("P3: P4: premium = (mark − index) / index, half-even", () => {
    expect(premiumOf(101n * USD, 100n * USD)).toBe(R / 100n);
    expect(premiumOf(99n * USD, 100n * USD)).toBe(-R / 100n);
    // 1e-9 / 100 = 1e-11 exactly
    expect(premiumOf(100n * USD + 1n, 100n * USD)).toBe(10_000_000n);
    // (100.000000001 − 3) / 3 = 32.33333333366666666|67 → …667
    expect(premiumOf(100_000_000_001n, 3n * USD)).toBe(32_333_333_333_666_666_667n);
  });

  it("P3: 5-minute moving mean: a 300-slot ring with a running sum, half-even mean", () => {
    const m = new MovingMean(3);
    expect(m.mean()).toBe(0n);
    m.push(1n);
    m.push(2n);
    m.push(3n);
    expect([m.count, m.sum, m.mean()]).toEqual([3, 6n, 2n]);
    m.push(10n); // drops 1
    expect([m.count, m.sum, m.mean()]).toEqual([3, 15n, 5n]);
    const h = new MovingMean(2);
    h.push(2n);
    h.push(3n);
    expect(h.mean()).toBe(2n); // 2.5 → 2
    h.push(4n);
    expect(h.mean()).toBe(4n); // 3.5 → 4
    h.push(-5n);
    expect(h.mean()).toBe(0n); // −0.5 → 0
    expect(new MovingMean().capacity).toBe(300);
    expect(() => new MovingMean(0)).toThrow(RangeError);
  });

  it("P3: property — the ring's mean equals the mean of the last N pushed", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 50 }), fc.array(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), { maxLength: 200 }), (n, xs) => {
        const m = new MovingMean(n);
        for (const x of xs) m.push(x);
        const tail = xs.slice(Math.max(0, xs.length - n));
        expect(m.count).toBe(tail.length);
        expect(m.sum).toBe(tail.reduce((a, b) => a + b, 0n));
      }),
    );
  });
});

describe("P4: funding", () => {
  it("P4: interest component I = 0.03% × interval hours / 24", () => {
    expect(fundingInterestComponent(1)).toBe(12_500_000_000_000n); // 0.00125%
    expect(fundingInterestComponent(8)).toBe(BP); // 0.01%
    expect(fundingInterestComponent(24)).toBe(3n * BP);
    expect(() => fundingInterestComponent(0)).toThrow(RangeError);
  });

  it("P4: F = clamp((P̄ + clamp(I − P̄, ±0.05%)) / D, lower, upper) — the seed's ÷ 8, bounds ±100 bps", () => {
    const D = FUNDING_DIVISOR_DEFAULT;
    expect(D).toBe(8n * R);
    const rows: [string, bigint, bigint, bigint][] = [
      // [case, P̄, D, F]
      ["no premium: I / 8", 0n, D, 1_562_500_000_000n],
      ["|I − P̄| within 0.05%: F = I / D whatever P̄", 233_333_333_333_333n, D, 1_562_500_000_000n],
      ["P̄ = 1%: (1% − 0.05%) / 8", R / 100n, D, 1_187_500_000_000_000n],
      ["P̄ = −1%: (−1% + 0.05%) / 8", -R / 100n, D, -1_250_000_000_000_000n + 62_500_000_000_000n],
      ["P̄ = 10%: clamped to +100 bps", R / 10n, D, 100n * BP],
      ["P̄ = −10%: clamped to −100 bps", -R / 10n, D, -100n * BP],
      ["P̄ = 0.06%, D = 3: 0.01% / 3 half-even", 600_000_000_000_000n, 3n * R, 33_333_333_333_333n],
    ];
    for (const [name, p, d, f] of rows) expect([name, fundingRate(p, 1, -100, 100, d)]).toEqual([name, f]);
  });

  it("P4: funding parameters are checked before use", () => {
    expect(checkFundingParams(1, -100, 100, FUNDING_DIVISOR_DEFAULT)).toBeNull();
    expect(checkFundingParams(0, -100, 100, FUNDING_DIVISOR_DEFAULT)).toMatch(/intervalHours/);
    expect(checkFundingParams(1.5, -100, 100, FUNDING_DIVISOR_DEFAULT)).toMatch(/intervalHours/);
    expect(checkFundingParams(1, 100, -100, FUNDING_DIVISOR_DEFAULT)).toMatch(/lowerBps/);
    expect(checkFundingParams(1, -100, 100, 0n)).toMatch(/divisor/);
  });

  it("P4: premium samples once a second, P̄ = their mean (half-even), the interval restarts", () => {
    const s = new FundingSamples();
    expect(meanPremium(s)).toBe(0n);
    expect(addFundingSample(s, BP, 1_000)).toBe(true);
    expect(addFundingSample(s, 99n * BP, 1_999)).toBe(false);
    expect(addFundingSample(s, 2n * BP, 2_000)).toBe(true);
    expect(addFundingSample(s, 4n * BP, 3_000)).toBe(true);
    expect(meanPremium(s)).toBe(233_333_333_333_333n); // 7 bp / 3
    s.clear();
    expect([s.count, s.sum, meanPremium(s)]).toEqual([0, 0n, 0n]);
  });

  it("P4: payment = rate × quantity × mark; longs pay when F > 0 (seed 004's example shape)", () => {
    // 0.01% × 2 BTC × 100,000 = 20 USDC
    expect(fundingPayment(BP, 2n * BTC, 100_000n * USD, BTC_DECIMALS, USDC_DECIMALS)).toBe(20n * USDC);
    expect(fundingPayment(BP, -2n * BTC, 100_000n * USD, BTC_DECIMALS, USDC_DECIMALS)).toBe(-20n * USDC);
    expect(fundingPayment(-BP, -2n * BTC, 100_000n * USD, BTC_DECIMALS, USDC_DECIMALS)).toBe(20n * USDC);
    // 0.3 units: the payer pays 1, the receiver gets 0
    expect(fundingPayment(BP, 3n, 100_000n * USD, BTC_DECIMALS, USDC_DECIMALS)).toBe(1n);
    expect(fundingPayment(BP, -3n, 100_000n * USD, BTC_DECIMALS, USDC_DECIMALS)).toBe(0n);
    // A quote finer than base + price (shift ≤ 0): exact
    expect(fundingPayment(BP, 3n, 100_000n * USD, 0, 27)).toBe(3n * BP * 100_000n * USD);
  });

  it("P4: a market's payments: payers round up, receivers down, the remainder to the insurance fund", () => {
    const quantities = [3n, -1n, -1n, -1n, 2n * BTC, -2n * BTC];
    const payments = new Array<bigint>(quantities.length).fill(0n);
    const out = new FundingSettlement();
    settleFundingPayments(BP, 100_000n * USD, quantities, quantities.length, BTC_DECIMALS, USDC_DECIMALS, payments, out);
    expect(payments).toEqual([1n, 0n, 0n, 0n, 20n * USDC, -20n * USDC]);
    expect([out.totalPaid, out.totalReceived, out.insuranceRemainder]).toEqual([20n * USDC + 1n, 20n * USDC, 1n]);
    expect(() => settleFundingPayments(BP, USD, [1n], 1, 0, 0, payments, out)).toThrow(RangeError);
  });

  it("P4: property — Σ paid − Σ received ≥ 0, under one unit per position, each payment within a unit of exact", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -100n * BP, max: 100n * BP }),
        fc.bigInt({ min: 1n, max: 1_000_000n * USD }),
        fc.array(fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }), { minLength: 1, maxLength: 30 }),
        (rate, mark, qs) => {
          const quantities = [...qs, -qs.reduce((a, b) => a + b, 0n)];
          const payments = new Array<bigint>(quantities.length).fill(0n);
          const out = new FundingSettlement();
          settleFundingPayments(rate, mark, quantities, quantities.length, BTC_DECIMALS, USDC_DECIMALS, payments, out);
          const scale = 10n ** 29n; // 18 + 9 + 8 − 6
          quantities.forEach((q, i) => {
            const exact = rate * q * mark;
            expect(payments[i]! * scale >= exact && (payments[i]! - 1n) * scale < exact).toBe(true);
          });
          expect(out.insuranceRemainder).toBe(payments.reduce((a, b) => a + b, 0n));
          expect(out.insuranceRemainder >= 0n && out.insuranceRemainder < BigInt(quantities.length)).toBe(true);
        },
      ),
    );
  });
});

function position(o: Partial<PerpPosition>): PerpPosition {
  return Object.assign(new PerpPosition(), o);
}

describe("P1: P5: positions", () => {
  it("P1: VWAP while growing, reduce realizes at the entry, crossing zero closes then opens at the trade price", () => {
    const pos = new PerpPosition();
    const fx = new FillEffect();
    applyFill(pos, BTC, 100_000n * USD, 10n * USDC, BTC_DECIMALS, USDC_DECIMALS, fx);
    expect([pos.netQuantity, entryPrice(pos), fx.realizedPnl, fx.openedQuantity]).toEqual([BTC, 100_000n * USD, 0n, BTC]);
    applyFill(pos, BTC, 102_000n * USD, 10n * USDC, BTC_DECIMALS, USDC_DECIMALS, fx);
    expect([pos.netQuantity, pos.costBasis, entryPrice(pos)]).toEqual([2n * BTC, 202_000n * USD * BTC, 101_000n * USD]);
    // Sell 0.5 at 103,000: 0.5 × (103,000 − 101,000) = +1,000 USDC
    applyFill(pos, -BTC / 2n, 103_000n * USD, 5n * USDC, BTC_DECIMALS, USDC_DECIMALS, fx);
    expect([fx.realizedPnl, fx.closedQuantity, fx.openedQuantity]).toEqual([1000n * USDC, BTC / 2n, 0n]);
    expect([pos.netQuantity, entryPrice(pos), pos.realizedPnl, pos.feesPaid]).toEqual([
      (3n * BTC) / 2n,
      101_000n * USD,
      1000n * USDC,
      25n * USDC,
    ]);
    // Sell 2 at 100,000: closes 1.5 (−1,500 USDC), opens a 0.5 short at 100,000 with 1/4 of the 20 USDC fee
    applyFill(pos, -2n * BTC, 100_000n * USD, 20n * USDC, BTC_DECIMALS, USDC_DECIMALS, fx);
    expect([fx.realizedPnl, fx.closedQuantity, fx.openedQuantity]).toEqual([-1500n * USDC, (3n * BTC) / 2n, BTC / 2n]);
    expect([pos.netQuantity, pos.costBasis, entryPrice(pos), pos.realizedPnl]).toEqual([
      -BTC / 2n,
      -(BTC / 2n) * 100_000n * USD,
      100_000n * USD,
      -500n * USDC,
    ]);
    expect([pos.feesPaid, pos.fundingPaid, pos.cumulativeFees]).toEqual([5n * USDC, 0n, 45n * USDC]);
    // Short 0.5 at 100,000 marked at 99,000: +500 USDC unrealized
    expect(unrealizedPnl(pos, 99_000n * USD, BTC_DECIMALS, USDC_DECIMALS)).toBe(500n * USDC);
    // Buy back exactly: flat, everything since the open reset
    applyFill(pos, BTC / 2n, 99_000n * USD, 0n, BTC_DECIMALS, USDC_DECIMALS, fx);
    expect([pos.netQuantity, pos.costBasis, pos.openCostBasis, pos.feesPaid, pos.realizedPnl]).toEqual([0n, 0n, 0n, 0n, 0n]);
    expect(entryPrice(pos)).toBe(0n);
  });

  it("P1: a partial reduce removes ceil(cost × closed / |q|): the realized raw PnL rounds down, the rest stays in the cost", () => {
    // Raw = settlement units when baseDecimals + 9 = quoteDecimals.
    const fx = new FillEffect();
    const long = position({ netQuantity: 3n, costBasis: 32n, openCostBasis: 32n }); // 1 @ 10 + 2 @ 11
    applyFill(long, -1n, 20n, 0n, 0, 9, fx);
    expect([fx.realizedPnl, long.costBasis, long.netQuantity]).toEqual([20n - 11n, 21n, 2n]); // exact 9.33…
    const short = position({ netQuantity: -3n, costBasis: -32n, openCostBasis: -32n });
    applyFill(short, 1n, 5n, 0n, 0, 9, fx);
    expect([fx.realizedPnl, short.costBasis, short.netQuantity]).toEqual([5n, -22n, -2n]); // exact 5.67
  });

  it("P1: P5: settlement units round down for both signs (what is paid down, what is owed up)", () => {
    expect(pnlToSettlementUnits(1n, BTC_DECIMALS, USDC_DECIMALS)).toBe(0n);
    expect(pnlToSettlementUnits(-1n, BTC_DECIMALS, USDC_DECIMALS)).toBe(-1n);
    expect(pnlToSettlementUnits(10n ** 11n, BTC_DECIMALS, USDC_DECIMALS)).toBe(1n);
    expect(pnlToSettlementUnits(-(10n ** 11n), BTC_DECIMALS, USDC_DECIMALS)).toBe(-1n);
    expect(pnlToSettlementUnits(7n, 0, 12)).toBe(7000n);
  });

  it("P1: reduceOnly caps a fill at the position and never lets it grow or flip", () => {
    const rows: [bigint, Side, bigint, bigint][] = [
      [5n, Side.Sell, 3n, 3n],
      [5n, Side.Sell, 8n, 5n],
      [5n, Side.Buy, 3n, 0n],
      [-5n, Side.Buy, 8n, 5n],
      [-5n, Side.Sell, 1n, 0n],
      [0n, Side.Buy, 1n, 0n],
    ];
    for (const [q, side, qty, cap] of rows) expect(reduceOnlyFillCap(q, side, qty)).toBe(cap);
  });

  it("P1: open interest = Σ longs = Σ shorts: its change per trade", () => {
    const rows: [string, bigint, bigint, bigint, bigint][] = [
      // [case, buyer before, seller before, quantity, change]
      ["both open", 0n, 0n, 5n, 5n],
      ["both close", -5n, 5n, 5n, -5n],
      ["buyer adds, seller closes", 2n, 3n, 3n, 0n],
      ["buyer crosses (short 2 → long 3), seller opens short", -2n, 0n, 5n, 3n],
      ["seller crosses (long 4 → short 1), buyer closes short", -5n, 4n, 5n, -4n],
    ];
    for (const [name, b, s2, q, change] of rows) expect([name, openInterestChange(b, s2, q)]).toEqual([name, change]);
  });

  it("P1: break-even without the quote unit's products is the written quotient — (openCost × 10^q + paid × 10^(b + 9)) / (quantity × 10^q), a long's up, a short's down — on random positions", () => {
    const ceil = (n: bigint, d: bigint): bigint => (n >= 0n ? (n + d - 1n) / d : -(-n / d));
    const floor = (n: bigint, d: bigint): bigint => (n >= 0n ? n / d : -((-n + d - 1n) / d));
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }).filter((q) => q !== 0n),
        fc.bigInt({ min: -(10n ** 27n), max: 10n ** 27n }),
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }),
        fc.constantFrom([8, 6], [9, 6], [6, 6], [0, 6], [18, 6], [8, 0], [2, 9], [0, 12]),
        (q, openCost, fees, funding, [base, quote]) => {
          const pos = new PerpPosition();
          pos.netQuantity = q;
          pos.openCostBasis = openCost;
          pos.feesPaid = fees;
          pos.fundingPaid = funding;
          const unit = 10n ** BigInt(quote!);
          const numerator = openCost * unit + (fees + funding) * 10n ** BigInt(base! + 9);
          const want = q > 0n ? ceil(numerator, q * unit) : floor(-numerator, -q * unit);
          expect(breakEvenPrice(pos, base!, quote!)).toBe(want);
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it("P1: break-even = entry moved by fees and funding paid (a long's rounds up, a short's down)", () => {
    const fx = new FillEffect();
    const long = new PerpPosition();
    applyFill(long, BTC, 100_000n * USD, 10n * USDC, BTC_DECIMALS, USDC_DECIMALS, fx);
    applyFundingPayment(long, 5n * USDC);
    expect(breakEvenPrice(long, BTC_DECIMALS, USDC_DECIMALS)).toBe(100_015n * USD);
    applyFundingPayment(long, -5n * USDC); // received funding lowers it again
    expect(breakEvenPrice(long, BTC_DECIMALS, USDC_DECIMALS)).toBe(100_010n * USD);
    expect(long.cumulativeFundingPayment).toBe(0n);
    const short = new PerpPosition();
    applyFill(short, -BTC, 100_000n * USD, 15n * USDC, BTC_DECIMALS, USDC_DECIMALS, fx);
    expect(breakEvenPrice(short, BTC_DECIMALS, USDC_DECIMALS)).toBe(99_985n * USD);
    // 3 BTC-units long at 100,000 with a 1-unit (0.000001 USDC) fee: 100,000 + 1e-6 × 1e8 / 3 = 100,033.33…→ up
    const dust = new PerpPosition();
    applyFill(dust, 3n, 100_000n * USD, 1n, BTC_DECIMALS, USDC_DECIMALS, fx);
    expect(breakEvenPrice(dust, BTC_DECIMALS, USDC_DECIMALS)).toBe(100_033_333_333_334n);
    const dustShort = new PerpPosition();
    applyFill(dustShort, -3n, 100_000n * USD, 1n, BTC_DECIMALS, USDC_DECIMALS, fx);
    expect(breakEvenPrice(dustShort, BTC_DECIMALS, USDC_DECIMALS)).toBe(99_966_666_666_666n);
    // P5 does not move the break-even (it keeps the trader's entry)
    realizePnl(long, 101_000n * USD, BTC_DECIMALS, USDC_DECIMALS);
    expect([entryPrice(long), breakEvenPrice(long, BTC_DECIMALS, USDC_DECIMALS)]).toEqual([101_000n * USD, 100_010n * USD]);
  });

  it("P5: realization at the mark: PnL into USDC, size kept, entry reset to the mark (seed 004: +1,000 realized)", () => {
    const pos = position({ netQuantity: BTC, costBasis: BTC * 100_000n * USD, openCostBasis: BTC * 100_000n * USD });
    expect(realizePnl(pos, 101_000n * USD, BTC_DECIMALS, USDC_DECIMALS)).toBe(1000n * USDC);
    expect([pos.netQuantity, entryPrice(pos), pos.realizedPnl]).toEqual([BTC, 101_000n * USD, 1000n * USDC]);
    expect(unrealizedPnl(pos, 101_000n * USD, BTC_DECIMALS, USDC_DECIMALS)).toBe(0n);
    expect(realizePnl(pos, 100_500n * USD, BTC_DECIMALS, USDC_DECIMALS)).toBe(-500n * USDC);
    // Dust: 3 units long / short at 100,000 realized at 100,001: +0.03 → 0, −0.03 → −1; Σ = −1 ≤ 0
    const l = position({ netQuantity: 3n, costBasis: 3n * 100_000n * USD });
    const s = position({ netQuantity: -3n, costBasis: -3n * 100_000n * USD });
    const a = realizePnl(l, 100_001n * USD, BTC_DECIMALS, USDC_DECIMALS);
    const b = realizePnl(s, 100_001n * USD, BTC_DECIMALS, USDC_DECIMALS);
    expect([a, b]).toEqual([0n, -1n]);
  });

  it("P1: P5: property — over random trades between accounts and a realization tick, Σ realized never creates money", () => {
    const trade = fc.record({
      buyer: fc.integer({ min: 0, max: 3 }),
      seller: fc.integer({ min: 0, max: 3 }),
      qty: fc.bigInt({ min: 1n, max: 5n * BTC }),
      price: fc.bigInt({ min: 90_000n * USD, max: 110_000n * USD }),
    });
    fc.assert(
      fc.property(fc.array(trade, { minLength: 1, maxLength: 40 }), fc.bigInt({ min: 80_000n * USD, max: 120_000n * USD }), (trades, mark) => {
        for (const [bd, qd] of [
          [BTC_DECIMALS, USDC_DECIMALS],
          [0, 9], // raw = settlement units: exact, so Σ is exactly 0
        ] as const) {
          const positions = [0, 1, 2, 3].map(() => new PerpPosition());
          const fx = new FillEffect();
          let realizations = 0;
          for (const t of trades) {
            if (t.buyer === t.seller) continue;
            applyFill(positions[t.buyer]!, t.qty, t.price, 0n, bd, qd, fx);
            if (fx.closedQuantity > 0n) realizations++;
            applyFill(positions[t.seller]!, -t.qty, t.price, 0n, bd, qd, fx);
            if (fx.closedQuantity > 0n) realizations++;
          }
          expect(positions.reduce((a, p) => a + p.netQuantity, 0n)).toBe(0n);
          for (const p of positions) {
            realizePnl(p, mark, bd, qd);
            realizations++;
          }
          const total = positions.reduce((a, p) => a + p.realizedPnl, 0n);
          if (bd === 0) expect(total).toBe(0n);
          else expect(total <= 0n && total > -BigInt(realizations)).toBe(true);
        }
      }),
    );
  });
});

describe("P8: estimated liquidation price", () => {
  // BTC perp mmf {0.00666667, 0.00001496} (SPEC C5 default), tick 0.1 USD.
  const BTC_MMF = { base: 6_666_670_000_000_000n, factor: 14_960_000_000_000n };

  function btcInputs(quantity: bigint, entry: bigint, otherEquityUsd: bigint): LiquidationPriceInputs {
    return Object.assign(new LiquidationPriceInputs(), {
      quantity,
      costBasis: quantity * entry,
      exposureQuantity: quantity < 0n ? -quantity : quantity,
      baseDecimals: BTC_DECIMALS,
      mmf: BTC_MMF,
      otherEquityUsd,
      otherMaintenanceMarginUsd: 0n,
      mark: entry,
      tickSize: USD / 10n,
      minPrice: USD / 10n,
      maxPrice: 10_000_000n * USD,
    });
  }

  it("P8: 1 BTC from 100,000 with 10,000 USD equity: long 90,604.0, short 109,271.6 (MMR ≥ 100% there, < 100% a tick before)", () => {
    const out = new LiquidationPriceResult();
    const long = btcInputs(BTC, 100_000n * USD, 10_000n * USD);
    estimatedLiquidationPrice(long, positionMmf, out);
    // 0.00666667 p ≥ 10,000 + (p − 100,000) ⇔ p ≤ 90,000 / 0.99333333 = 90,604.03
    expect([out.kind, out.price]).toEqual([LiquidationPriceKind.Found, 90_604n * USD]);
    expect(isLiquidatableAtMark(long, out.price, positionMmf)).toBe(true);
    expect(isLiquidatableAtMark(long, out.price + USD / 10n, positionMmf)).toBe(false);
    const short = btcInputs(-BTC, 100_000n * USD, 10_000n * USD);
    estimatedLiquidationPrice(short, positionMmf, out);
    // 110,000 − p ≤ 0.00666667 p ⇔ p ≥ 109,271.52
    expect([out.kind, out.price]).toEqual([LiquidationPriceKind.Found, 109_271_600_000_000n]);
    expect(isLiquidatableAtMark(short, out.price - USD / 10n, positionMmf)).toBe(false);
  });

  it("P8: none when the equity covers any adverse mark on the grid; at the mark when already MMR ≥ 100%", () => {
    const out = new LiquidationPriceResult();
    estimatedLiquidationPrice(btcInputs(BTC, 100_000n * USD, 200_000n * USD), positionMmf, out);
    expect([out.kind, out.price]).toEqual([LiquidationPriceKind.None, 0n]);
    const tight = btcInputs(-BTC, 100_000n * USD, 10_000n * USD);
    tight.maxPrice = 109_000n * USD; // the crossing is beyond the grid
    estimatedLiquidationPrice(tight, positionMmf, out);
    expect(out.kind).toBe(LiquidationPriceKind.None);
    estimatedLiquidationPrice(btcInputs(BTC, 100_000n * USD, 600n * USD), positionMmf, out); // MM 666.67 ≥ 600
    expect([out.kind, out.price]).toEqual([LiquidationPriceKind.AtMark, 100_000n * USD]);
    estimatedLiquidationPrice(btcInputs(0n, 100_000n * USD, 600n * USD), positionMmf, out);
    expect(out.kind).toBe(LiquidationPriceKind.None);
  });

  it("P8: solves alternating between marks, ticks and grid ends (the grid indices kept for the last inputs) give each its own answer", () => {
    const out = new LiquidationPriceResult();
    const solve = (inp: LiquidationPriceInputs): [number, bigint] => {
      estimatedLiquidationPrice(inp, positionMmf, out);
      return [out.kind, out.price];
    };
    const long = btcInputs(BTC, 100_000n * USD, 10_000n * USD);
    const short = btcInputs(-BTC, 100_000n * USD, 10_000n * USD);
    const coarse = btcInputs(-BTC, 100_000n * USD, 10_000n * USD);
    coarse.tickSize = USD; // whole dollars: 109,271.52 → 109,272
    const capped = btcInputs(-BTC, 100_000n * USD, 10_000n * USD);
    capped.maxPrice = 109_000n * USD;
    const floored = btcInputs(BTC, 100_000n * USD, 10_000n * USD);
    floored.minPrice = 95_000n * USD; // the long's crossing (90,604) is below the grid
    const moved = btcInputs(-BTC, 100_000n * USD, 10_000n * USD);
    moved.mark = 100_000n * USD + USD / 20n; // the same position seen at another mark: the same crossing
    for (let round = 0; round < 2; round++) {
      expect(solve(long)).toEqual([LiquidationPriceKind.Found, 90_604n * USD]);
      expect(solve(coarse)).toEqual([LiquidationPriceKind.Found, 109_272n * USD]);
      expect(solve(short)).toEqual([LiquidationPriceKind.Found, 109_271_600_000_000n]);
      expect(solve(capped)).toEqual([LiquidationPriceKind.None, 0n]);
      expect(solve(floored)).toEqual([LiquidationPriceKind.None, 0n]);
      expect(solve(moved)).toEqual([LiquidationPriceKind.Found, 109_271_600_000_000n]);
    }
  });

  it("P8: the sqrt branch of the MMF: 100 BTC short, the MMF above its base at the crossing", () => {
    const out = new LiquidationPriceResult();
    const inp = btcInputs(-100n * BTC, 100_000n * USD, 1_000_000n * USD);
    estimatedLiquidationPrice(inp, positionMmf, out);
    // 1,000,000 + 100 × (100,000 − p) ≤ 100 p × 0.00001496 × sqrt(100 p): p = 104,916.2 (an independent
    // integer replica of the rules, scanning tick by tick, gives the same), MMF 4.85% there
    expect([out.kind, out.price]).toEqual([LiquidationPriceKind.Found, 104_916_200_000_000n]);
    const notional = 100n * out.price;
    expect(positionMmf(notional, BTC_MMF)).toBe(48_456_592_354_318_720n);
    expect(isLiquidatableAtMark(inp, out.price, positionMmf)).toBe(true);
    expect(isLiquidatableAtMark(inp, out.price - inp.tickSize, positionMmf)).toBe(false);
    // Brute force over the ticks below it: none liquidatable (the short's surplus is monotone)
    for (let p = out.price - 200n * inp.tickSize; p < out.price; p += inp.tickSize) {
      expect(isLiquidatableAtMark(inp, p, positionMmf)).toBe(false);
    }
  });

  it("P8: property — the false-position search gives exactly plain bisection's grid price (positions without open orders)", () => {
    // The reference: the bisection P8 used before (log2(ticks) evaluations of the predicate).
    const bisect = (inp: LiquidationPriceInputs): bigint => {
      const long = inp.quantity > 0n;
      let safe = long ? inp.mark / inp.tickSize : (inp.mark + inp.tickSize - 1n) / inp.tickSize;
      let hit = long ? (inp.minPrice + inp.tickSize - 1n) / inp.tickSize : inp.maxPrice / inp.tickSize;
      if (!isLiquidatableAtMark(inp, hit * inp.tickSize, positionMmf)) return 0n;
      if (isLiquidatableAtMark(inp, safe * inp.tickSize, positionMmf)) return safe * inp.tickSize;
      const step = long ? -1n : 1n;
      while (safe + step !== hit) {
        const mid = (safe + hit) >> 1n;
        if (isLiquidatableAtMark(inp, mid * inp.tickSize, positionMmf)) hit = mid;
        else safe = mid;
      }
      return hit * inp.tickSize;
    };
    const out = new LiquidationPriceResult();
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 1_000n * BTC }),
        fc.boolean(),
        fc.bigInt({ min: 1_000n, max: 200_000n }),
        fc.bigInt({ min: 0n, max: 50_000_000n * USD }),
        fc.bigInt({ min: 0n, max: 100_000n * USD }),
        (size, long, entryUsd, equity, otherMm) => {
          const inp = btcInputs(long ? size : -size, entryUsd * USD, equity);
          inp.otherMaintenanceMarginUsd = otherMm;
          estimatedLiquidationPrice(inp, positionMmf, out);
          if (out.kind === LiquidationPriceKind.AtMark) return;
          expect(out.price).toBe(bisect(inp));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("P8: property — against AccountMargin (engine/risk/margin): MMR ≥ 100% at the price, < 100% one tick before", () => {
    const config = loadConfig();
    const BTC_PERP = 3;
    const SOL_PERP = 5;
    const USDC_ASSET = 0;
    const SOL_UNIT = 1_000_000_000n;
    const seen = { long: 0, short: 0, none: 0, atMark: 0 };
    fc.assert(
      fc.property(
        fc.bigInt({ min: -20n * BTC, max: 20n * BTC }).filter((q) => q !== 0n),
        fc.bigInt({ min: 50_000n, max: 150_000n }),
        fc.bigInt({ min: -2000n * SOL_UNIT, max: 2000n * SOL_UNIT }),
        fc.bigInt({ min: 1_000n * USDC, max: 2_000_000n * USDC }),
        fc.bigInt({ min: 0n, max: 5n * BTC }),
        (qty, entryUsd, solQty, deposit, openBuys) => {
          const ctx = new MarginContext(config);
          const account = new AccountMargin(ctx, 10n * R);
          ctx.setMarketMark(BTC_PERP, entryUsd * USD);
          ctx.setMarketMark(SOL_PERP, 150n * USD);
          account.setAssetBalance(USDC_ASSET, deposit);
          account.setPosition(BTC_PERP, qty, entryUsd * USD);
          account.setPositionOrders(BTC_PERP, openBuys, 0n);
          if (solQty !== 0n) account.setPosition(SOL_PERP, solQty, 140n * USD);
          const market = config.markets[BTC_PERP]!;
          const mmf = market.mmf!;
          const notional = account.positionNotionalUsd(BTC_PERP);
          const thisMargin = positionMarginUsd(notional, positionMmf(notional, mmf));
          const inp = Object.assign(new LiquidationPriceInputs(), {
            quantity: qty,
            costBasis: qty * entryUsd * USD,
            exposureQuantity: exposureQuantity(qty, openBuys, 0n),
            baseDecimals: BTC_DECIMALS,
            mmf,
            otherEquityUsd: account.netEquityUsd() - account.positionUnrealizedPnlUsd(BTC_PERP),
            otherMaintenanceMarginUsd: account.maintenanceMarginUsd() - thisMargin,
            mark: entryUsd * USD,
            tickSize: market.tickSize,
            minPrice: market.minPrice,
            maxPrice: market.maxPrice,
          });
          const out = new LiquidationPriceResult();
          estimatedLiquidationPrice(inp, positionMmf, out);
          const liquidatableAt = (price: bigint): boolean => {
            ctx.setMarketMark(BTC_PERP, price);
            const l = account.isLiquidatable();
            expect(isLiquidatableAtMark(inp, price, positionMmf)).toBe(l);
            return l;
          };
          if (out.kind === LiquidationPriceKind.AtMark) {
            seen.atMark++;
            expect(liquidatableAt(inp.mark)).toBe(true);
          }
          if (out.kind === LiquidationPriceKind.None) {
            seen.none++;
            expect(liquidatableAt(qty > 0n ? market.minPrice : market.maxPrice)).toBe(false);
          }
          if (out.kind === LiquidationPriceKind.Found) {
            if (qty > 0n) seen.long++;
            else seen.short++;
            expect(liquidatableAt(out.price)).toBe(true);
            const before = qty > 0n ? out.price + market.tickSize : out.price - market.tickSize;
            const beyondMark = qty > 0n ? before > inp.mark : before < inp.mark;
            expect(liquidatableAt(beyondMark ? inp.mark : before)).toBe(false);
          }
        },
      ),
      { numRuns: 200 },
    );
    // The generator reaches every outcome (the property is not vacuous).
    expect(Math.min(seen.long, seen.short, seen.none, seen.atMark)).toBeGreaterThan(0);
  });
});

describe("P6: P7: USDC settlement plans", () => {
  it("P6: a debit takes the balance, then redeems lent USDC, then borrows (autoBorrowSettlements), then converts", () => {
    const out = new UsdcDebitPlan();
    const rows: [string, bigint, bigint, bigint, boolean, bigint, [bigint, bigint, bigint, bigint]][] = [
      // [case, debit, available, redeemable, autoBorrow, borrow capacity, [fromBalance, redeem, borrow, convert]]
      ["balance covers it", 5n, 10n, 10n, true, 10n, [5n, 0n, 0n, 0n]],
      ["then lent USDC", 15n, 10n, 10n, true, 10n, [10n, 5n, 0n, 0n]],
      ["then a borrow", 25n, 10n, 10n, true, 10n, [10n, 10n, 5n, 0n]],
      ["then conversion", 35n, 10n, 10n, true, 10n, [10n, 10n, 10n, 5n]],
      ["autoBorrowSettlements off: conversion", 25n, 10n, 10n, false, 10n, [10n, 10n, 0n, 5n]],
      ["throttled pool (capacity 0): conversion", 25n, 10n, 10n, true, 0n, [10n, 10n, 0n, 5n]],
      ["seed 004: 1 USDC fee, only BTC held: a 1 USDC borrow, no BTC sold", USDC, 0n, 0n, true, 1000n * USDC, [0n, 0n, USDC, 0n]],
      ["a negative balance counts as none", 3n, -7n, 0n, true, 10n, [0n, 0n, 3n, 0n]],
    ];
    for (const [name, debit, available, redeemable, autoBorrow, capacity, plan] of rows) {
      planUsdcDebit(debit, available, redeemable, autoBorrow, capacity, out);
      expect([name, out.fromBalance, out.redeem, out.borrow, out.convert]).toEqual([name, ...plan]);
    }
  });

  it("P6: what conversion did not raise becomes a USDC borrow that ignores the throttle", () => {
    expect(forcedSettlementBorrow(5n * USDC, 3n * USDC)).toBe(2n * USDC);
    expect(forcedSettlementBorrow(5n * USDC, 6n * USDC)).toBe(0n);
    expect(forcedSettlementBorrow(5n * USDC, 0n)).toBe(5n * USDC);
  });

  it("P7: with autoLend on a credit repays the USDC borrow first, then is lent; off, it stays in the balance", () => {
    const out = new UsdcCreditPlan();
    const rows: [string, bigint, bigint, boolean, boolean, [bigint, bigint, bigint]][] = [
      ["auto-lend on, owing 300", 1000n, 300n, true, true, [300n, 700n, 0n]],
      ["auto-lend on, owing more than the credit", 1000n, 5000n, true, true, [1000n, 0n, 0n]],
      ["auto-lend on, owing nothing: all lent", 1000n, 0n, true, true, [0n, 1000n, 0n]],
      ["auto-lend off, autoRepayBorrows on", 1000n, 300n, true, false, [300n, 0n, 700n]],
      ["auto-lend off, autoRepayBorrows off", 1000n, 300n, false, false, [0n, 0n, 1000n]],
    ];
    for (const [name, credit, owed, repayFirst, lendRest, plan] of rows) {
      planUsdcCredit(credit, owed, repayFirst, lendRest, out);
      expect([name, out.repay, out.lend, out.toBalance]).toEqual([name, ...plan]);
    }
  });

  it("P6: P7: property — the plan's parts sum to the amount and respect every cap", () => {
    const amt = fc.bigInt({ min: 0n, max: 10n ** 12n });
    fc.assert(
      fc.property(amt, amt, amt, fc.boolean(), amt, fc.boolean(), fc.boolean(), (a, av, rd, ab, cap, r1, l1) => {
        const d = planUsdcDebit(a, av, rd, ab, cap, new UsdcDebitPlan());
        expect(d.fromBalance + d.redeem + d.borrow + d.convert).toBe(a);
        expect(d.fromBalance <= av && d.redeem <= rd && d.borrow <= (ab ? cap : 0n) && d.convert >= 0n).toBe(true);
        const c = planUsdcCredit(a, av, r1, l1, new UsdcCreditPlan());
        expect(c.repay + c.lend + c.toBalance).toBe(a);
        expect(c.repay <= av && c.lend >= 0n && c.toBalance >= 0n).toBe(true);
      }),
    );
  });
});

describe("engine/perps is a pure folder", () => {
  it("imports only engine/fixed, engine/model and its own files (DESIGN: pure folders; issue 11's rule)", () => {
    const dir = new URL("../engine/perps/", import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThanOrEqual(8);
    let checked = 0;
    const allowed = /^(\.\.\/fixed\/index\.ts|\.\.\/model\/index\.ts|\.\/[a-z-]+\.ts)$/;
    for (const f of files) {
      const text = readFileSync(new URL(f, dir), "utf8");
      // `from "x"`, a bare `import "x"` and a dynamic `import("x")`
      const specifiers = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(?\s*)["']([^"']+)["']/g)].map((m) => m[1]);
      checked += specifiers.length;
      for (const spec of specifiers) expect([f, spec, allowed.test(spec!)]).toEqual([f, spec, true]);
    }
    expect(checked).toBeGreaterThan(20); // the scan reads the imports (it is not vacuous)
  });
});
