// The exact shortcuts behind the perpetual order's cost (issue 12, pipeline.perp-order): each is compared with the full
// evaluation it replaces on random inputs, so a shortcut that changed one unit of any answer fails here.
//   C5: marginFractionNear (flat limit: no root below it; the root seeded by a hint) = positionMmf / positionImf;
//       AccountMargin.positionImfAt / positionMmfAt = positionImf / positionMmf at the account's leverage limit.
//   P8: maintenanceShortfallAtMark with its divisions written out = the divRound formula; the P8 solve with the seeded
//       flat-limit MMF = the solve with positionMmf; a short's start settled in doubles (crossingInDoubles, then
//       confirmed exactly) = the search.
//   Q1: LiquidationBook.setBands reuses an account's band record in place after a flush = a fresh record each time;
//       an unchanged band leaves the lists as they are (same property).
//   Q1: safeBand's closed form for a stable (identity-haircut) holding = the two bisections (safeBand with shortcuts false),
//       also with its grid indices kept for the last mark and grid (holders derived in runs).
//   Q1: safeBand's edges by false position = the bisections' for any slot (a haircut holding, a borrow, a position),
//       with a few bound evaluations instead of log2(range / tick); the band formulas the risk stage passes in
//       (BAND_FORMULAS: roots by sqrtNotionalUpNear) = haircutWeight / positionMmf (pipeline.margin-order: a
//       margin taker's bands are derived at every batch end).
//   C4/P1: Account.perpChanged is applied lazily (syncedMargin values each flagged market once): the margin state
//       equals one given every change at once, whatever the interleaving of changes and reads.
//   C8: a perpetual order's check with its market's change still pending (AccountMargin.passesPerpFillFromInputs) =
//       the check after the sync (wouldPassInitialMargin): the same sums after, and it never passes what that refuses.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { divRound, pow10, Rounding } from "../engine/fixed/index.ts";
import { MarketKind, RATIO_SCALE } from "../engine/model/index.ts";
import { loadConfig } from "../engine/pipeline/config.ts";
import {
  estimatedLiquidationPrice,
  LiquidationPriceInputs,
  LiquidationPriceKind,
  LiquidationPriceResult,
  maintenanceShortfallAtMark,
  type PositionMmfFormula,
} from "../engine/perps/index.ts";
import { Account, AccountPerps } from "../engine/risk/accounts.ts";
import { BoundInput, BoundInputs } from "../engine/risk/margin/fill-bound.ts";
import { LiquidationBook } from "../engine/risk/liquidation-book.ts";
import { bandSearchEvaluations, PriceSlot, SafeBand, safeBand, slotSurplusUsd, safeBandFrom, splitSurplusBudget, type BandFormulas } from "../engine/liquidation/index.ts";
import { BAND_FORMULAS } from "../engine/risk/liquidation-trigger.ts";
import {
  AccountMargin,
  feeAmount,
  feeAmountExact,
  MarginChanges,
  exposureQuantity,
  imfFloor,
  marginFractionNear,
  MarginContext,
  positionImf,
  haircutWeight,
  positionMmf,
  RootHint,
  sqrtTermFlatLimitUsd,
} from "../engine/risk/margin/index.ts";

const R = RATIO_SCALE;
const USD = 1_000_000_000n;
const config = loadConfig();
const PERP_MARKETS = config.markets.filter((m) => m.kind === MarketKind.Perpetual);

const ratio = fc.bigInt({ min: 0n, max: R / 4n });
const notional = fc.oneof(
  fc.bigInt({ min: -5n, max: 10n }),
  fc.bigInt({ min: 0n, max: 1_000_000n * USD }),
  fc.bigInt({ min: 0n, max: 10n ** 18n * USD }),
);
const hintRoot = fc.oneof(fc.constant(0n), fc.bigInt({ min: -3n, max: 10n ** 20n }));


/** positionMmf counting its evaluations (what a P8 solve costs). */
class CountedMmf {
  calls = 0;
  readonly formula: PositionMmfFormula = (n, mmf) => {
    this.calls++;
    return positionMmf(n, mmf);
  };
}

describe("C5 shortcuts: the margin fraction from the flat limit and a seeded root", () => {
  it("C5: marginFractionNear equals positionMmf and positionImf on random notionals, functions, leverage and hints", () => {
    const hint = new RootHint();
    fc.assert(
      fc.property(notional, ratio, ratio, hintRoot, fc.integer({ min: 1, max: 100 }), (n, base, factor, h, leverage) => {
        const mmf = { base, factor };
        hint.root = h;
        expect(marginFractionNear(n, factor, base, sqrtTermFlatLimitUsd(factor, base), hint)).toBe(positionMmf(n, mmf));
        const floor = imfFloor(BigInt(leverage) * R, 20n * R, base);
        hint.root = h;
        expect(marginFractionNear(n, factor, floor, sqrtTermFlatLimitUsd(factor, floor), hint)).toBe(positionImf(n, BigInt(leverage) * R, 20n * R, mmf));
      }),
      { numRuns: 5000 },
    );
  });

  it("C5: AccountMargin.positionImfAt / positionMmfAt equal positionImf / positionMmf at the account's leverage limit (every perpetual)", () => {
    const ctx = new MarginContext(config);
    fc.assert(
      fc.property(notional, fc.integer({ min: 1, max: 50 }), fc.constantFrom(...PERP_MARKETS), (n, leverage, market) => {
        const margin = new AccountMargin(ctx, BigInt(leverage) * R);
        expect(margin.positionImfAt(market.id, n)).toBe(positionImf(n, margin.leverageLimit, ctx.platformMaxLeverage, market.imf!));
        expect(margin.positionMmfAt(market.id, n)).toBe(positionMmf(n, market.mmf!));
      }),
      { numRuns: 3000 },
    );
  });
});

describe("C5 shortcut: the report's IMF / MMF from the slot's own root", () => {
  it("C5: property — positionImfAt / positionMmfAt at the slot's notional (the root applyPosition took) equal positionImf / positionMmf, after any positions, marks and leverage changes", () => {
    const ctx = new MarginContext(config);
    let slotRoots = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...PERP_MARKETS),
        fc.array(
          fc.record({
            quantity: fc.oneof(fc.bigInt({ min: -1_000n, max: 1_000n }), fc.bigInt({ min: -(10n ** 13n), max: 10n ** 13n })),
            openBuy: fc.bigInt({ min: 0n, max: 10n ** 12n }),
            mark: fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 200_000n * USD })),
            leverage: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 })),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        (market, steps) => {
          const m = market.id;
          const margin = new AccountMargin(ctx, 10n * R);
          for (const step of steps) {
            if (step.mark !== 0n) ctx.setMarketMark(m, step.mark);
            margin.setPositionState(m, step.quantity, step.quantity * 60_000n * USD, step.openBuy, 0n);
            if (step.leverage !== 0) margin.setLeverageLimit(BigInt(step.leverage) * R);
            const n = margin.positionNotionalUsd(m);
            if (n > 0n && n > sqrtTermFlatLimitUsd(market.mmf!.factor, market.mmf!.base)) slotRoots++;
            expect(margin.positionImfAt(m, n)).toBe(positionImf(n, margin.leverageLimit, ctx.platformMaxLeverage, market.imf!));
            expect(margin.positionMmfAt(m, n)).toBe(positionMmf(n, market.mmf!));
            // Another notional than the slot's takes its own root.
            expect(margin.positionImfAt(m, 2n * n + 1n)).toBe(positionImf(2n * n + 1n, margin.leverageLimit, ctx.platformMaxLeverage, market.imf!));
            expect(margin.positionMmfAt(m, 2n * n + 1n)).toBe(positionMmf(2n * n + 1n, market.mmf!));
          }
        },
      ),
      { numRuns: 3000 },
    );
    expect(slotRoots).toBeGreaterThan(1000);
  });
});

/** P8's shortfall as written before its divisions were inlined (the module comment's formulas through divRound). */
function shortfallReference(inp: LiquidationPriceInputs, price: bigint, mmfOf: PositionMmfFormula): bigint {
  const unit = pow10(inp.baseDecimals);
  const n = divRound(inp.exposureQuantity * price, unit, Rounding.Up);
  const margin = n === 0n ? 0n : divRound(n * mmfOf(n, inp.mmf), RATIO_SCALE, Rounding.Up);
  const upnl = divRound(inp.quantity * price - inp.costBasis, unit, Rounding.Down);
  return inp.otherMaintenanceMarginUsd + margin - (inp.otherEquityUsd + upnl);
}

const inputs = fc
  .record({
    market: fc.constantFrom(...PERP_MARKETS),
    quantity: fc.oneof(fc.bigInt({ min: -1000n, max: 1000n }), fc.bigInt({ min: -(10n ** 14n), max: 10n ** 14n })),
    entry: fc.bigInt({ min: 1n, max: 200_000n * USD }),
    costJitter: fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }),
    openOrders: fc.bigInt({ min: 0n, max: 10n ** 13n }),
    otherEquityUsd: fc.bigInt({ min: -1_000_000n * USD, max: 100_000_000n * USD }),
    otherMaintenanceMarginUsd: fc.bigInt({ min: 0n, max: 1_000_000n * USD }),
    markUsd: fc.bigInt({ min: 1n, max: 200_000n * USD }),
  })
  .map((r) => {
    const m = r.market;
    const inp = new LiquidationPriceInputs();
    inp.quantity = r.quantity;
    inp.costBasis = r.quantity * r.entry + r.costJitter;
    inp.exposureQuantity = (r.quantity < 0n ? -r.quantity : r.quantity) + r.openOrders;
    inp.baseDecimals = config.assets[m.baseAsset]!.decimals;
    inp.mmf = m.mmf!;
    inp.otherEquityUsd = r.otherEquityUsd;
    inp.otherMaintenanceMarginUsd = r.otherMaintenanceMarginUsd;
    const mark = (r.markUsd / m.tickSize) * m.tickSize;
    inp.mark = mark < m.minPrice ? m.minPrice : mark > m.maxPrice ? m.maxPrice : mark;
    inp.tickSize = m.tickSize;
    inp.minPrice = m.minPrice;
    inp.maxPrice = m.maxPrice;
    return { inp, flatLimitUsd: sqrtTermFlatLimitUsd(m.mmf!.factor, m.mmf!.base) };
  });

describe("P8 shortcuts: the solve's arithmetic", () => {
  it("P8: maintenanceShortfallAtMark equals the divRound formula at random prices, signs and sizes", () => {
    fc.assert(
      fc.property(inputs, fc.bigInt({ min: -1_000n * USD, max: 20_000_000n * USD }), ({ inp }, price) => {
        expect(maintenanceShortfallAtMark(inp, price, positionMmf)).toBe(shortfallReference(inp, price, positionMmf));
      }),
      { numRuns: 5000 },
    );
  });

  it("P8: the solve with the flat-limit, hint-seeded MMF (risk/queries.ts) gives exactly the solve with positionMmf", () => {
    const seen = new Set<number>();
    const a = new LiquidationPriceResult();
    const b = new LiquidationPriceResult();
    fc.assert(
      fc.property(inputs, hintRoot, ({ inp, flatLimitUsd }, h) => {
        const hint = new RootHint();
        hint.root = h;
        const seeded: PositionMmfFormula = (n, mmf) => marginFractionNear(n, mmf.factor, mmf.base, flatLimitUsd, hint);
        estimatedLiquidationPrice(inp, positionMmf, a);
        estimatedLiquidationPrice(inp, seeded, b);
        expect([b.kind, b.price]).toEqual([a.kind, a.price]);
        seen.add(a.kind);
      }),
      { numRuns: 3000 },
    );
    expect(seen.size).toBe(3); // None, Found and AtMark all reached
  });
});

describe("P8 shortcut: a short's crossing from a closed-form start", () => {
  it("P8: property — the solve with the short's start gives exactly the search's answer, in fewer evaluations", () => {
    const a = new LiquidationPriceResult();
    const b = new LiquidationPriceResult();
    const counter = new CountedMmf();
    const counted = counter.formula;
    const stats = { shortsFound: 0, searchCalls: 0, guessCalls: 0 };
    fc.assert(
      fc.property(inputs, fc.boolean(), ({ inp }, short) => {
        if (short && inp.quantity > 0n) {
          inp.quantity = -inp.quantity;
          inp.costBasis = -inp.costBasis;
        }
        counter.calls = 0;
        estimatedLiquidationPrice(inp, counted, a, false);
        const search = counter.calls;
        counter.calls = 0;
        estimatedLiquidationPrice(inp, counted, b, true);
        expect([b.kind, b.price]).toEqual([a.kind, a.price]);
        if (inp.quantity < 0n && a.kind === LiquidationPriceKind.Found) {
          stats.shortsFound++;
          stats.searchCalls += search;
          stats.guessCalls += counter.calls;
        }
      }),
      { numRuns: 5000 },
    );
    expect(stats.shortsFound).toBeGreaterThan(500);
  });

  it("P8: property — the short's start from any price (inputs.start: the caller's last answer, a hint) gives exactly the search's answer", () => {
    const a = new LiquidationPriceResult();
    const b = new LiquidationPriceResult();
    let found = 0;
    fc.assert(
      fc.property(inputs, fc.bigInt({ min: 1n, max: 1_000_000_000n }), fc.integer({ min: 0, max: 3 }), ({ inp }, permille, how) => {
        if (inp.quantity > 0n) {
          inp.quantity = -inp.quantity;
          inp.costBasis = -inp.costBasis;
        }
        inp.start = 0n;
        estimatedLiquidationPrice(inp, positionMmf, a, false);
        // A start near the answer (the use), anywhere on the grid, beyond it, or below the mark.
        const base = a.kind === LiquidationPriceKind.Found ? a.price : inp.mark;
        inp.start = how === 0 ? (base * (1_000_000_000n + permille - 500_000_000n)) / 1_000_000_000n : how === 1 ? permille * inp.tickSize : how === 2 ? inp.maxPrice * 2n + permille : (inp.mark * permille) / 1_000_000_000n;
        estimatedLiquidationPrice(inp, positionMmf, b, true);
        inp.start = 0n;
        expect([b.kind, b.price]).toEqual([a.kind, a.price]);
        if (a.kind === LiquidationPriceKind.Found) found++;
      }),
      { numRuns: 5000 },
    );
    expect(found).toBeGreaterThan(500);
  });

  it("P8: property — the solve given the shortfall at the mark (inputs.markShortfall) gives exactly the solve that evaluates it", () => {
    const a = new LiquidationPriceResult();
    const b = new LiquidationPriceResult();
    fc.assert(
      fc.property(inputs, fc.boolean(), ({ inp }, short) => {
        if (short && inp.quantity > 0n) {
          inp.quantity = -inp.quantity;
          inp.costBasis = -inp.costBasis;
        }
        estimatedLiquidationPrice(inp, positionMmf, a);
        inp.markShortfall = maintenanceShortfallAtMark(inp, inp.mark, positionMmf);
        estimatedLiquidationPrice(inp, positionMmf, b);
        inp.markShortfall = null;
        expect([b.kind, b.price]).toEqual([a.kind, a.price]);
      }),
      { numRuns: 3000 },
    );
  });

  it("P8: property — a long's far end bounded from the shortfall and uPnL at the mark (inputs.markUpnl) gives exactly the solve that evaluates it", () => {
    const a = new LiquidationPriceResult();
    const b = new LiquidationPriceResult();
    const counter = new CountedMmf();
    const counted = counter.formula;
    const seen = { bounded: 0, none: 0 };
    fc.assert(
      fc.property(inputs, ({ inp }) => {
        if (inp.quantity < 0n) {
          inp.quantity = -inp.quantity;
          inp.costBasis = -inp.costBasis;
        }
        counter.calls = 0;
        estimatedLiquidationPrice(inp, counted, a);
        const full = counter.calls;
        const unit = pow10(inp.baseDecimals);
        inp.markShortfall = maintenanceShortfallAtMark(inp, inp.mark, positionMmf);
        inp.markUpnl = divRound(inp.quantity * inp.mark - inp.costBasis, unit, Rounding.Down);
        counter.calls = 0;
        estimatedLiquidationPrice(inp, counted, b);
        inp.markShortfall = null;
        inp.markUpnl = null;
        expect([b.kind, b.price]).toEqual([a.kind, a.price]);
        if (a.kind === LiquidationPriceKind.None) seen.none++;
        if (counter.calls < full - 1) seen.bounded++; // the far end's evaluation (and the mark's) saved
      }),
      { numRuns: 3000 },
    );
    expect(seen.bounded).toBeGreaterThan(100);
  });

  it("P8: pipeline.perp-order's maker solved from its previous answer takes fewer evaluations than from the mark (same answer)", () => {
    const btc = PERP_MARKETS.find((m) => m.symbol === "BTC_USDC_PERP")!;
    const counter = new CountedMmf();
    const counted = counter.formula;
    // 0.6 BTC short from 60,000 on 1,000,000 USDC (1,700,959.9: the test below), then one more fill of 0.001 BTC.
    const maker = Object.assign(new LiquidationPriceInputs(), {
      quantity: -60_100_000n, costBasis: -60_100_000n * 60_000n * USD, exposureQuantity: 60_100_000n, baseDecimals: 8, mmf: btc.mmf!,
      otherEquityUsd: 1_000_000n * USD, otherMaintenanceMarginUsd: 0n, mark: 60_000n * USD, tickSize: btc.tickSize, minPrice: btc.minPrice, maxPrice: btc.maxPrice,
    });
    const fromMark = new LiquidationPriceResult();
    estimatedLiquidationPrice(maker, counted, fromMark, true);
    const markCalls = counter.calls;
    counter.calls = 0;
    maker.start = 1_700_959_900_000_000n;
    const fromLast = new LiquidationPriceResult();
    estimatedLiquidationPrice(maker, counted, fromLast, true);
    expect([fromLast.kind, fromLast.price]).toEqual([fromMark.kind, fromMark.price]);
    expect(fromMark.kind).toBe(LiquidationPriceKind.Found);
    // From either start the map settles in doubles (crossingInDoubles) and its grid index is confirmed by one exact
    // evaluation: 3, 2 before (the exact map's evaluation, then the candidate's); 6, 5 before the drop bound skipped
    // the confirmation one tick down; 5, 4 before the sqrt branch's slope correction.
    expect([markCalls, counter.calls]).toEqual([1, 1]);
  });

  it("P8: pipeline.perp-order's maker over 300 fills, each solved from the previous answer: the search's answer, ~1 evaluation a solve", () => {
    const btc = PERP_MARKETS.find((m) => m.symbol === "BTC_USDC_PERP")!;
    const counter = new CountedMmf();
    const counted = counter.formula;
    const maker = Object.assign(new LiquidationPriceInputs(), {
      quantity: 0n, costBasis: 0n, exposureQuantity: 0n, baseDecimals: 8, mmf: btc.mmf!,
      otherEquityUsd: 1_000_000n * USD, otherMaintenanceMarginUsd: 0n, mark: 60_000n * USD, tickSize: btc.tickSize, minPrice: btc.minPrice, maxPrice: btc.maxPrice,
    });
    const fast = new LiquidationPriceResult();
    const search = new LiquidationPriceResult();
    let evaluations = 0;
    for (let fill = 1; fill <= 300; fill++) {
      maker.quantity -= 100_000n; // 0.001 BTC sold at 60,000 (fees aside)
      maker.costBasis -= 100_000n * 60_000n * USD;
      maker.exposureQuantity = -maker.quantity + 500_000n; // and 0.005 BTC of its sells resting
      estimatedLiquidationPrice(maker, positionMmf, search, false);
      counter.calls = 0;
      estimatedLiquidationPrice(maker, counted, fast, true);
      expect([fast.kind, fast.price]).toEqual([search.kind, search.price]);
      if (fill > 1) evaluations += counter.calls;
      if (fast.kind === LiquidationPriceKind.Found) maker.start = fast.price;
    }
    expect(search.kind).toBe(LiquidationPriceKind.Found);
    // One evaluation of the candidate (the map settles in doubles); a second where the shortfall at the crossing is
    // not below the one-tick drop (the grid price before it is evaluated) — 615 with the map evaluated exactly (one
    // more a solve), 808 before the sqrt branch's slope correction.
    expect(evaluations).toBe(310);
  });

  it("P8: property — a short's map settled in doubles (crossingInDoubles) gives exactly the search's answer, down to a one-unit tick where the doubles cannot settle (the exact map then runs)", () => {
    const btc = PERP_MARKETS.find((m) => m.symbol === "BTC_USDC_PERP")!;
    const a = new LiquidationPriceResult();
    const b = new LiquidationPriceResult();
    const counter = new CountedMmf();
    const counted = counter.formula;
    const seen = { oneEvaluation: 0, unitTick: 0 };
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 100n * 100_000_000n }), // short size, base units (up to 100 BTC: MMF under 1/8, the start applies)
        fc.bigInt({ min: 100n * USD, max: 200_000n * USD }), // entry = mark
        fc.bigInt({ min: 1n, max: 100_000_000n * USD }), // equity besides the position
        fc.bigInt({ min: 0n, max: 100n * 100_000_000n }), // resting sells (exposure ≤ 2 |q| takes the start)
        fc.constantFrom(1n, 7n, 1_000n, btc.tickSize, 100n * USD), // tick: 1 unit is below what doubles resolve at these prices
        (size, entry, equity, resting, tick) => {
          const inp = Object.assign(new LiquidationPriceInputs(), {
            quantity: -size, costBasis: -size * entry, exposureQuantity: size + (resting < size ? resting : size), baseDecimals: 8, mmf: btc.mmf!,
            otherEquityUsd: equity, otherMaintenanceMarginUsd: 0n, mark: (entry / tick) * tick > 0n ? (entry / tick) * tick : tick, tickSize: tick, minPrice: tick, maxPrice: btc.maxPrice,
          });
          estimatedLiquidationPrice(inp, positionMmf, a, false);
          counter.calls = 0;
          estimatedLiquidationPrice(inp, counted, b, true);
          expect([b.kind, b.price]).toEqual([a.kind, a.price]);
          if (a.kind === LiquidationPriceKind.Found && counter.calls === 1) seen.oneEvaluation++;
          if (a.kind === LiquidationPriceKind.Found && tick === 1n) seen.unitTick++;
        },
      ),
      { numRuns: 4000 },
    );
    // Found with one exact evaluation (the doubles' grid index confirmed at once): 550 of 4,000 here, none before.
    expect(seen.oneEvaluation).toBeGreaterThan(300);
    expect(seen.unitTick).toBeGreaterThan(100);
  });

  it("P8: the short's start on the sqrt branch and at the grid's ends (100 BTC short; crossing at the near index; beyond the grid)", () => {
    const btc = PERP_MARKETS.find((m) => m.symbol === "BTC_USDC_PERP")!;
    const make = (quantity: bigint, entry: bigint, equity: bigint, maxPrice = btc.maxPrice): LiquidationPriceInputs =>
      Object.assign(new LiquidationPriceInputs(), {
        quantity, costBasis: quantity * entry, exposureQuantity: -quantity, baseDecimals: 8, mmf: btc.mmf!,
        otherEquityUsd: equity, otherMaintenanceMarginUsd: 0n, mark: entry, tickSize: btc.tickSize, minPrice: btc.minPrice, maxPrice,
      });
    const out = new LiquidationPriceResult();
    estimatedLiquidationPrice(make(-100n * 100_000_000n, 100_000n * USD, 1_000_000n * USD), positionMmf, out);
    expect([out.kind, out.price]).toEqual([LiquidationPriceKind.Found, 104_916_200_000_000n]); // test/perps.test.ts's figure
    estimatedLiquidationPrice(make(-100_000_000n, 100_000n * USD, 10_000n * USD), positionMmf, out);
    expect([out.kind, out.price]).toEqual([LiquidationPriceKind.Found, 109_271_600_000_000n]);
    estimatedLiquidationPrice(make(-100_000_000n, 100_000n * USD, 10_000n * USD, 109_000n * USD), positionMmf, out);
    expect(out.kind).toBe(LiquidationPriceKind.None);
    // pipeline.perp-order's maker: 0.6 BTC short from 60,000 on 1,000,000 USDC — the start is taken (fewer evaluations).
    const counter = new CountedMmf();
    const counted = counter.formula;
    const maker = make(-60_000_000n, 60_000n * USD, 1_000_000n * USD);
    estimatedLiquidationPrice(maker, counted, out, false);
    const searchCalls = counter.calls;
    counter.calls = 0;
    const guessed = new LiquidationPriceResult();
    estimatedLiquidationPrice(maker, counted, guessed, true);
    expect([guessed.kind, guessed.price, out.price]).toEqual([LiquidationPriceKind.Found, 1_700_959_900_000_000n, 1_700_959_900_000_000n]);
    // 3 with the map evaluated exactly (7 before the fixed point's Δ² step, 6 before the drop bound, 5 before the slope
    // correction); in doubles it costs no evaluation.
    expect([searchCalls, counter.calls]).toEqual([12, 1]);
    // … and with 0.05 BTC of its sells still resting (the batch's later orders: exposure 0.65 BTC).
    maker.exposureQuantity += 5_000_000n;
    counter.calls = 0;
    estimatedLiquidationPrice(maker, counted, out, false);
    const restingSearch = counter.calls;
    counter.calls = 0;
    estimatedLiquidationPrice(maker, counted, guessed, true);
    expect([guessed.kind, guessed.price]).toEqual([out.kind, out.price]);
    expect(counter.calls).toBeLessThan(restingSearch);
    // 670 USD of equity on 1 BTC at 100,000: MM 666.67 at the mark, crossing within the next ticks.
    const tight = make(-100_000_000n, 100_000n * USD, 670n * USD);
    estimatedLiquidationPrice(tight, positionMmf, out);
    const search = new LiquidationPriceResult();
    estimatedLiquidationPrice(tight, positionMmf, search, false);
    expect([out.kind, out.price]).toEqual([search.kind, search.price]);
    expect(out.kind).toBe(LiquidationPriceKind.Found);
  });
});

/** A random perpetual change: a market, a position of up to ±maxUnits at a price, open buys and sells, maybe a mark. */
function perpChangeFields(maxUnits: bigint) {
  return {
    market: fc.constantFrom(...PERP_MARKETS.map((m) => m.id)),
    quantity: fc.bigInt({ min: -maxUnits, max: maxUnits }),
    price: fc.bigInt({ min: 1n, max: 100_000n * USD }),
    openBuy: fc.bigInt({ min: 0n, max: maxUnits }),
    openSell: fc.bigInt({ min: 0n, max: maxUnits }),
    markUsd: fc.option(fc.bigInt({ min: 1n, max: 100_000n * USD }), { nil: undefined }),
  };
}

describe("C4/P1: perpetual changes reach the margin state lazily", () => {
  const ctx = new MarginContext(config);
  const change = fc.record({
    ...perpChangeFields(10n ** 10n),
    what: fc.constantFrom("position", "orders", "both"),
    read: fc.boolean(),
  });

  it("C4: after any interleaving of changes, reads and mark moves the margin state equals one valued from the end state", () => {
    fc.assert(
      fc.property(fc.array(change, { minLength: 1, maxLength: 30 }), fc.bigInt({ min: 0n, max: 10n ** 12n }), (changes, usdc) => {
        for (const m of PERP_MARKETS) ctx.setMarketMark(m.id, m.mmf === null ? 1n : 100n * USD);
        const account = new Account(16, ctx.assetCount, () => new AccountMargin(ctx, 10n * R), null);
        account.setAvailable(0, usdc);
        account.markChanged(0);
        const perps = (account.perps = new AccountPerps(ctx.marketCount));
        account.syncedMargin();
        for (const c of changes) {
          const p = perps.ownPosition(c.market);
          if (c.what !== "orders") {
            p.netQuantity = c.quantity;
            p.costBasis = c.quantity * c.price;
          }
          if (c.what !== "position") {
            perps.openBuy[c.market] = c.openBuy;
            perps.openSell[c.market] = c.openSell;
          }
          account.perpChanged(c.market);
          if (c.markUsd !== undefined) ctx.setMarketMark(c.market, c.markUsd);
          if (c.read) account.syncedMargin().maintenanceMarginUsd();
        }
        const lazy = account.syncedMargin();
        const eager = new AccountMargin(ctx, 10n * R);
        eager.setAssetBalance(0, usdc);
        for (const m of PERP_MARKETS) {
          const p = perps.positions[m.id]!;
          eager.setPositionCostBasis(m.id, p.netQuantity, p.costBasis);
          eager.setPositionOrders(m.id, perps.openBuy[m.id]!, perps.openSell[m.id]!);
        }
        lazy.validateInternalState();
        expect([lazy.netEquityUsd(), lazy.totalExposureNotionalUsd(), lazy.initialMarginUsd(), lazy.maintenanceMarginUsd()]).toEqual([
          eager.netEquityUsd(),
          eager.totalExposureNotionalUsd(),
          eager.initialMarginUsd(),
          eager.maintenanceMarginUsd(),
        ]);
        for (const m of PERP_MARKETS) {
          expect([lazy.positionNotionalUsd(m.id), lazy.positionUnrealizedPnlUsd(m.id), lazy.positionMaintenanceMarginUsd(m.id)]).toEqual([
            eager.positionNotionalUsd(m.id),
            eager.positionUnrealizedPnlUsd(m.id),
            eager.positionMaintenanceMarginUsd(m.id),
          ]);
          // P8 (risk/queries.ts liquidationPrice): the margin state's MM − net equity is P8's shortfall at the mark.
          const p = perps.positions[m.id]!;
          const inp = Object.assign(new LiquidationPriceInputs(), {
            quantity: p.netQuantity, costBasis: p.costBasis, exposureQuantity: exposureQuantity(p.netQuantity, perps.openBuy[m.id]!, perps.openSell[m.id]!),
            baseDecimals: config.assets[m.baseAsset]!.decimals, mmf: m.mmf!, mark: ctx.marketMark[m.id]!,
            otherEquityUsd: lazy.netEquityUsd() - lazy.positionUnrealizedPnlUsd(m.id),
            otherMaintenanceMarginUsd: lazy.maintenanceMarginUsd() - lazy.positionMaintenanceMarginUsd(m.id),
          });
          expect(maintenanceShortfallAtMark(inp, inp.mark, positionMmf)).toBe(lazy.maintenanceMarginUsd() - lazy.netEquityUsd());
        }
      }),
      { numRuns: 1000 },
    );
  });
});

describe("C8 shortcut: a perpetual order checked with its market's change pending", () => {
  const ctx = new MarginContext(config);
  const step = fc.record({
    ...perpChangeFields(10n ** 9n),
    what: fc.constantFrom("position", "orders", "both", "none"),
    otherMarket: fc.boolean(),
    order: fc.record({
      fills: fc.bigInt({ min: 1n, max: 10n ** 9n }),
      buy: fc.boolean(),
      price: fc.bigInt({ min: 1n, max: 100_000n * USD }),
      fee: fc.bigInt({ min: 0n, max: 10n ** 9n }),
    }),
  });

  it("C8: property — the check from the pending inputs has the synced check's sums after, and passes only what it passes", () => {
    const lazyChanges = new MarginChanges();
    const fullChanges = new MarginChanges();
    let decided = 0;
    let refusedBoth = 0;
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 12 }), fc.bigInt({ min: 0n, max: 10n ** 13n }), (steps, usdc) => {
        for (const m of PERP_MARKETS) ctx.setMarketMark(m.id, 100n * USD);
        const lazy = new Account(16, ctx.assetCount, () => new AccountMargin(ctx, 10n * R), null);
        const eager = new Account(32, ctx.assetCount, () => new AccountMargin(ctx, 10n * R), null);
        for (const a of [lazy, eager]) {
          a.setAvailable(0, usdc);
          a.markChanged(0);
          a.perps = new AccountPerps(ctx.marketCount);
          a.syncedMargin();
        }
        for (const c of steps) {
          for (const a of [lazy, eager]) {
            const perps = a.perps!;
            const m = c.otherMarket ? PERP_MARKETS.find((x) => x.id !== c.market)!.id : c.market;
            if (c.what === "position" || c.what === "both") {
              perps.ownPosition(m).netQuantity = c.quantity;
              perps.ownPosition(m).costBasis = c.quantity * c.price;
            }
            if (c.what === "orders" || c.what === "both") {
              perps.openBuy[m] = c.openBuy;
              perps.openSell[m] = c.openSell;
            }
            if (c.what !== "none") a.perpChanged(m);
          }
          if (c.markUsd !== undefined) ctx.setMarketMark(c.market, c.markUsd);
          const m = c.market;
          const qty = c.order.buy ? c.order.fills : -c.order.fills;
          const fill = (x: MarginChanges): MarginChanges => {
            x.clear().addPositionFill(m, qty, c.order.price);
            if (c.order.fee > 0n) x.addAsset(0, -c.order.fee);
            return x;
          };
          const full = eager.syncedMargin();
          const fullPasses = full.wouldPassInitialMargin(fill(fullChanges));
          const margin = lazy.syncedMarginExceptPerp(m);
          if (lazy.perpPending(m)) {
            const perps = lazy.perps!;
            const pos = perps.positions[m]!;
            const passes = margin.passesPerpFillFromInputs(fill(lazyChanges), m, pos.netQuantity, pos.costBasis, perps.openBuy[m]!, perps.openSell[m]!);
            if (passes) decided++;
            else if (!fullPasses) refusedBoth++;
            if (passes) expect(fullPasses).toBe(true);
            // The same account after: net equity and IMR (all-fill state and corners) from the pending inputs.
            expect([margin.netEquityAfterUsd(lazyChanges), margin.imrAfter(lazyChanges)]).toEqual([
              full.netEquityAfterUsd(fill(fullChanges)),
              full.imrAfter(fill(fullChanges)),
            ]);
          } else expect(margin.wouldPassInitialMargin(fill(lazyChanges))).toBe(fullPasses);
          if (c.what === "none") {
            // A read between changes syncs everything (the lazy state then equals the eager one, as in the C4 test).
            const synced = lazy.syncedMargin();
            expect([synced.netEquityUsd(), synced.initialMarginUsd(), synced.maintenanceMarginUsd()]).toEqual([
              full.netEquityUsd(),
              full.initialMarginUsd(),
              full.maintenanceMarginUsd(),
            ]);
          }
        }
        lazy.syncedMargin().validateInternalState();
      }),
      { numRuns: 1500 },
    );
    expect(decided).toBeGreaterThan(500); // the shortcut decided many checks (and refused none the full check passes)
    expect(refusedBoth).toBeGreaterThan(50); // refusals reached the full check too
  });
});

describe("Q1 shortcut: an account's band record reused in place after a flush", () => {
  it("Q1: property — after any sequence of setBands / removeBands / flushChanges, the index answers as one built from the last bands", () => {
    const ACCOUNTS = 6;
    const ASSETS = 3;
    const edge = fc.bigInt({ min: 0n, max: 40n });
    const op = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), account: fc.integer({ min: 1, max: ACCOUNTS }), bands: fc.array(fc.tuple(fc.integer({ min: 0, max: ASSETS - 1 }), edge, edge), { maxLength: 3 }) }),
      fc.record({ kind: fc.constant("remove" as const), account: fc.integer({ min: 1, max: ACCOUNTS }) }),
      fc.record({ kind: fc.constant("flush" as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const book = new LiquidationBook(ASSETS);
        const model = new Map<number, [number, bigint, bigint][]>();
        const check = (): void => {
          for (let a = 0; a < ASSETS; a++) {
            let entries = 0;
            for (const bands of model.values()) for (const [asset] of bands) if (asset === a) entries++;
            expect(book.indexedCount(a)).toBe(entries);
            for (let mark = -1n; mark <= 41n; mark += 3n) {
              const seen: number[] = [];
              book.forEachOutsideBand(a, mark, 1n, (id) => seen.push(id));
              const want: number[] = [];
              for (const [id, bands] of model) for (const [asset, low, high] of bands) {
                if (asset !== a) continue;
                if (mark < low) want.push(id); // an empty band (low > high) may list the account twice
                if (high < mark) want.push(id);
              }
              expect(seen.sort((x, y) => x - y)).toEqual(want.sort((x, y) => x - y));
            }
          }
        };
        for (const o of ops) {
          if (o.kind === "flush") {
            book.flushChanges();
            check();
          } else if (o.kind === "remove") {
            book.removeBands(o.account);
            model.delete(o.account);
          } else {
            // One band per asset, in asset order (deriveBands' shape).
            const byAsset = new Map<number, [number, bigint, bigint]>();
            for (const [asset, low, high] of o.bands) byAsset.set(asset, [asset, low, high]);
            const bands = [...byAsset.values()].sort((x, y) => x[0] - y[0]);
            book.setBands(o.account, bands.map((b) => b[0]), bands.map((b) => b[1]), bands.map((b) => b[2]), bands.length);
            if (bands.length === 0) model.delete(o.account);
            else model.set(o.account, bands);
          }
        }
        book.flushChanges();
        check();
      }),
      { numRuns: 1000 },
    );
  });
});

describe("Q1 shortcut: a stable holding's safe band in closed form", () => {
  it("Q1: property — safeBand of an identity-haircut holding equals the bisections' band (random sizes, decimals, marks, budgets and grids)", () => {
    const formulas: BandFormulas = { haircutWeight, positionMmf };
    const slot = new PriceSlot();
    const fast = new SafeBand();
    const full = new SafeBand();
    let interior = 0;
    const input = fc.record({
      net: fc.oneof(fc.bigInt({ min: 1n, max: 1_000n }), fc.bigInt({ min: 1n, max: 10n ** 16n }), fc.bigInt({ min: 1n, max: 10n ** 24n })),
      decimals: fc.constantFrom(0, 6, 8, 9, 18),
      p0: fc.oneof(fc.bigInt({ min: 1n, max: 100n }), fc.bigInt({ min: 990_000_000n, max: 1_010_000_000n }), fc.bigInt({ min: 1n, max: 10n ** 14n })),
      ticks: fc.constantFrom(1n, 2n, 3n, 256n, 65_536n, 10n ** 9n),
      minTicks: fc.bigInt({ min: 1n, max: 5n }),
      maxMarks: fc.bigInt({ min: 1n, max: 20n }),
      budgetPart: fc.bigInt({ min: -3n, max: 1_100n }),
    });
    fc.assert(
      fc.property(input, ({ net, decimals, p0, ticks, minTicks, maxMarks, budgetPart }) => {
        slot.assetNet = net;
        slot.assetDecimals = decimals;
        slot.haircut = { kind: "identity" };
        const tick = p0 / ticks > 0n ? p0 / ticks : 1n;
        const minPrice = tick * minTicks;
        const grid = { tick, minPrice, maxPrice: p0 * maxMarks > minPrice ? p0 * maxMarks : minPrice };
        const value = (net * p0) / pow10(decimals);
        const budget = budgetPart < 0n ? budgetPart : (value * budgetPart) / 1_000n; // up to 110% of the holding
        safeBand(slot, p0, budget, grid, formulas, fast);
        safeBand(slot, p0, budget, grid, formulas, full, false);
        expect([fast.low, fast.high]).toEqual([full.low, full.high]);
        if (full.low > grid.minPrice && full.low < p0) interior++; // an edge the bisection had to search for
      }),
      { numRuns: 5000 },
    );
    expect(interior).toBeGreaterThan(1000);
  });
});

describe("Q1 shortcut: a stable holding's band from the margin state's collateral value (issue 12, pipeline.perp-order)", () => {
  it("Q1: property — safeBandFrom with c0 = floor(net × p0 / unit) (the margin state's collateral of an identity-haircut asset) equals the bisections' band", () => {
    const formulas: BandFormulas = { haircutWeight, positionMmf };
    const slot = new PriceSlot();
    const fast = new SafeBand();
    const full = new SafeBand();
    let interior = 0;
    const input = fc.record({
      net: fc.oneof(fc.bigInt({ min: 1n, max: 1_000n }), fc.bigInt({ min: 1n, max: 10n ** 16n }), fc.bigInt({ min: 1n, max: 10n ** 24n })),
      decimals: fc.constantFrom(0, 6, 8, 18),
      p0: fc.oneof(fc.bigInt({ min: 1n, max: 100n }), fc.bigInt({ min: 990_000_000n, max: 1_010_000_000n }), fc.bigInt({ min: 1n, max: 10n ** 14n })),
      ticks: fc.constantFrom(1n, 3n, 256n, 65_536n),
      maxMarks: fc.bigInt({ min: 1n, max: 20n }),
      budgetPart: fc.bigInt({ min: -3n, max: 1_100n }),
    });
    fc.assert(
      fc.property(input, ({ net, decimals, p0, ticks, maxMarks, budgetPart }) => {
        slot.assetNet = net;
        slot.assetDecimals = decimals;
        slot.haircut = { kind: "identity" };
        const tick = p0 / ticks > 0n ? p0 / ticks : 1n;
        const grid = { tick, minPrice: tick, maxPrice: p0 * maxMarks > tick ? p0 * maxMarks : tick };
        const c0 = (net * p0) / pow10(decimals); // computeAsset's collateral at weight 1: floor(held × mark / unit)
        expect(c0).toBe(slotSurplusUsd(slot, p0, formulas));
        const budget = budgetPart < 0n ? budgetPart : (c0 * budgetPart) / 1_000n;
        safeBandFrom(slot, p0, c0, budget, grid, formulas, fast);
        safeBand(slot, p0, budget, grid, formulas, full, false);
        expect([fast.low, fast.high]).toEqual([full.low, full.high]);
        if (full.low > grid.minPrice && full.low < p0) interior++;
      }),
      { numRuns: 3000 },
    );
    expect(interior).toBeGreaterThan(500);
  });

  it("Q1: safeBandFrom of a slot that is not a stable holding alone (5 BTC held) with c0 = its slotSurplusUsd gives safeBand's band", () => {
    const formulas: BandFormulas = { haircutWeight, positionMmf };
    const slot = new PriceSlot();
    slot.assetNet = 5n * 10n ** 8n;
    slot.assetDecimals = 8;
    slot.haircut = { kind: "inverseSqrt", base: 950_000_000_000_000_000n, penalty: 160_000_000_000_000n };
    const p0 = 60_000_000_000_000n;
    const grid = { tick: p0 / 256n, minPrice: p0 / 256n, maxPrice: p0 * 16n };
    const budget = 20_000_000_000_000n;
    const from = safeBandFrom(slot, p0, slotSurplusUsd(slot, p0, formulas), budget, grid, formulas, new SafeBand());
    const plain = safeBand(slot, p0, budget, grid, formulas, new SafeBand(), false);
    expect([from.low, from.high]).toEqual([plain.low, plain.high]);
    expect(from.low).toBe(56_015_625_000_000n);
    expect(from.low).toBeGreaterThan(grid.minPrice);
  });

  it("Q1: property — the margin state's values of a holding (collateral) and of a borrow (−(liability + maintenance margin)) are the band slots' contributions at the mark (subBand's c0), for every asset", () => {
    const ctx = new MarginContext(config);
    const margin = new AccountMargin(ctx, 10n * R);
    const slot = new PriceSlot();
    const input = fc.record({
      asset: fc.integer({ min: 0, max: config.assets.length - 1 }),
      held: fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 10n ** 9n }), fc.bigInt({ min: 1n, max: 10n ** 20n })),
      owed: fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 10n ** 9n }), fc.bigInt({ min: 1n, max: 10n ** 20n })),
      mark: fc.oneof(fc.bigInt({ min: 990_000_000n, max: 1_010_000_000n }), fc.bigInt({ min: 1n, max: 10n ** 15n })),
    });
    fc.assert(
      fc.property(input, ({ asset, held, owed, mark }) => {
        ctx.setAssetMark(asset, mark);
        margin.setAssetHoldings(asset, held, 0n, owed, 0n, 0n, 0n);
        Object.assign(slot, { assetDecimals: config.assets[asset]!.decimals, haircut: config.assets[asset]!.haircut, borrowMmf: config.assets[asset]!.borrow.mmf });
        slot.assetNet = margin.heldAfterOrders(asset);
        expect(margin.assetCollateralValueUsd(asset)).toBe(slot.assetNet === 0n ? 0n : slotSurplusUsd(slot, mark, formulasOf()));
        slot.assetNet = -margin.borrowedAfterOrders(asset);
        expect(-(margin.assetLiabilityUsd(asset) + margin.assetMaintenanceMarginUsd(asset))).toBe(slotSurplusUsd(slot, mark, formulasOf()));
        margin.setAssetHoldings(asset, 0n, 0n, 0n, 0n, 0n, 0n);
      }),
      { numRuns: 5000 },
    );
  });

  it("Q1: splitSurplusBudget of one price gives it S0 − 1 whatever its weight (−1 when S0 ≤ 0), as the proportional split does", () => {
    const out: bigint[] = [0n];
    for (const [surplus, weight, budget] of [[1_000_001n, 7n, 1_000_000n], [1_000_001n, 0n, 1_000_000n], [1_000_001n, -5n, 1_000_000n], [1n, 3n, 0n], [0n, 3n, -1n], [-9n, 3n, -1n]] as const) {
      expect(splitSurplusBudget(surplus, [weight], 1, out)[0]).toBe(budget);
    }
  });
});

describe("Q1 shortcut: a stable holding band's grid indices kept for the last mark and grid", () => {
  it("Q1: property — holders' bands derived in runs at a few marks and grids (the kept indices reused, then replaced) equal the bisections' bands", () => {
    const formulas: BandFormulas = { haircutWeight, positionMmf };
    const slot = new PriceSlot();
    const fast = new SafeBand();
    const full = new SafeBand();
    // Two marks, each with two grids that differ in one field only: a kept entry must not answer for another grid.
    const p0s = [1_000_000_000n, 999_999_937n];
    const grids = (p0: bigint) => {
      const tick = p0 / 65_536n;
      return [
        { tick, minPrice: tick, maxPrice: p0 * 16n },
        { tick, minPrice: tick, maxPrice: p0 * 8n + 3n * tick + 1n },
        { tick, minPrice: 2n * tick, maxPrice: p0 * 16n },
        { tick: tick + 1n, minPrice: tick, maxPrice: p0 * 16n },
      ];
    };
    let interior = 0;
    fc.assert(
      fc.property(
        fc.array(fc.record({ net: fc.bigInt({ min: 1n, max: 10n ** 15n }), budgetPart: fc.bigInt({ min: -1n, max: 1_100n }), mark: fc.integer({ min: 0, max: 1 }), grid: fc.integer({ min: 0, max: 3 }) }), { minLength: 1, maxLength: 20 }),
        (holders) => {
          for (const h of holders) {
            const p0 = p0s[h.mark]!;
            const grid = grids(p0)[h.grid]!;
            slot.assetNet = h.net;
            slot.assetDecimals = 6;
            slot.haircut = { kind: "identity" };
            const value = (h.net * p0) / pow10(6);
            const budget = h.budgetPart < 0n ? h.budgetPart : (value * h.budgetPart) / 1_000n;
            safeBand(slot, p0, budget, grid, formulas, fast);
            safeBand(slot, p0, budget, grid, formulas, full, false);
            expect([fast.low, fast.high]).toEqual([full.low, full.high]);
            if (full.low > grid.minPrice && full.low < p0) interior++;
          }
        },
      ),
      { numRuns: 1000 },
    );
    expect(interior).toBeGreaterThan(1000);
  });
});

function formulasOf(): BandFormulas {
  return { haircutWeight, positionMmf };
}

describe("Q1 shortcut: a band's edges by false position, the band formulas' roots (issue 5, pipeline.margin-order)", () => {
  const formulas: BandFormulas = { haircutWeight, positionMmf };
  const HAIRCUT = { kind: "inverseSqrt" as const, base: 950_000_000_000_000_000n, penalty: 160_000_000_000_000n };
  const BORROW_MMF = { base: 50_000_000_000_000_000n, factor: 216_000_000_000_000n };
  const PERP_MMF = PERP_MARKETS[0]!.mmf!;

  it("Q1: property — safeBand's edges by false position equal the bisections' for any slot (a haircut holding or a borrow, with or without a perpetual position; random sizes, marks, budgets and grids)", () => {
    const slot = new PriceSlot();
    const fast = new SafeBand();
    const full = new SafeBand();
    let interior = 0;
    const input = fc.record({
      net: fc.oneof(fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }), fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n })),
      decimals: fc.constantFrom(6, 8, 9, 18),
      quantity: fc.oneof(fc.constant(0n), fc.bigInt({ min: -(10n ** 10n), max: 10n ** 10n })),
      entryPermille: fc.bigInt({ min: 500n, max: 1_500n }),
      openOrders: fc.bigInt({ min: 0n, max: 10n ** 9n }),
      p0: fc.oneof(fc.bigInt({ min: 990_000_000n, max: 1_010_000_000n }), fc.bigInt({ min: USD, max: 100_000n * USD })),
      ticks: fc.constantFrom(256n, 65_536n),
      budgetPermille: fc.bigInt({ min: -2n, max: 2_000n }),
    });
    fc.assert(
      fc.property(input, ({ net, decimals, quantity, entryPermille, openOrders, p0, ticks, budgetPermille }) => {
        Object.assign(slot, { assetNet: net, assetDecimals: decimals, haircut: HAIRCUT, borrowMmf: BORROW_MMF });
        slot.positionQuantity = quantity;
        slot.positionCostBasis = (quantity * p0 * entryPermille) / 1_000n;
        slot.exposureQuantity = quantity === 0n ? 0n : (quantity < 0n ? -quantity : quantity) + openOrders;
        slot.baseDecimals = 8;
        slot.positionMmf = PERP_MMF;
        const tick = p0 / ticks;
        const grid = { tick, minPrice: tick, maxPrice: p0 * 16n };
        const size = ((net < 0n ? -net : net) * p0) / pow10(decimals) + ((quantity < 0n ? -quantity : quantity) * p0) / pow10(8);
        const budget = budgetPermille < 0n ? budgetPermille : (size * budgetPermille) / 1_000n;
        safeBand(slot, p0, budget, grid, formulas, fast);
        safeBand(slot, p0, budget, grid, formulas, full, false);
        expect([fast.low, fast.high]).toEqual([full.low, full.high]);
        if ((full.low > grid.minPrice && full.low < p0) || (full.high > p0 && full.high < grid.maxPrice)) interior++;
      }),
      { numRuns: 3000 },
    );
    expect(interior).toBeGreaterThan(1000);
  });

  it("Q1: a spot-margin taker's bands (10 BTC held, 90,000 USDC owed): the same edges in 4 bound evaluations (the BTC low edge in closed form, the USDC high edge guessed and confirmed by two) against 33 by bisection", () => {
    const btc = Object.assign(new PriceSlot(), { assetNet: 10n * 10n ** 8n, assetDecimals: 8, haircut: HAIRCUT, borrowMmf: BORROW_MMF });
    const usdc = Object.assign(new PriceSlot(), { assetNet: -90_000n * 10n ** 6n, assetDecimals: 6, haircut: { kind: "identity" as const }, borrowMmf: BORROW_MMF });
    const btcMark = 60_000n * USD;
    const btcGrid = { tick: btcMark / 256n, minPrice: btcMark / 256n, maxPrice: btcMark * 16n };
    const usdcGrid = { tick: USD / 65_536n, minPrice: USD / 65_536n, maxPrice: USD * 16n };
    const surplus = slotSurplusUsd(btc, btcMark, formulas) + slotSurplusUsd(usdc, USD, formulas);
    const budgets = splitSurplusBudget(surplus, [1n, 1n], 2, [0n, 0n]);
    const evaluations = (shortcuts: boolean): { bands: bigint[]; count: number } => {
      const before = bandSearchEvaluations();
      const b = safeBand(btc, btcMark, budgets[0]!, btcGrid, formulas, new SafeBand(), shortcuts);
      const u = safeBand(usdc, USD, budgets[1]!, usdcGrid, formulas, new SafeBand(), shortcuts);
      return { bands: [b.low, b.high, u.low, u.high], count: bandSearchEvaluations() - before };
    };
    const bisected = evaluations(false);
    const interpolated = evaluations(true);
    expect(interpolated.bands).toEqual(bisected.bands);
    expect(bisected.bands).toEqual([35_156_250_000_000n, btcGrid.maxPrice, usdcGrid.minPrice, 3_309_002_460n]);
    expect([interpolated.count, bisected.count]).toEqual([4, 33]);
  });

  it("Q1: property — a borrow's high edge guessed in doubles and confirmed by exact evaluations is the bisections' edge; the guess confirms for nearly every debt of a dollar or more", () => {
    const slot = new PriceSlot();
    const fast = new SafeBand();
    const full = new SafeBand();
    let interior = 0;
    let confirmed = 0;
    const input = fc.record({
      debtUsd: fc.oneof(fc.bigInt({ min: 1n, max: 1_000n }), fc.bigInt({ min: 1n, max: 10_000_000n })),
      decimals: fc.constantFrom(6, 8, 9, 18),
      p0: fc.oneof(fc.bigInt({ min: 990_000_000n, max: 1_010_000_000n }), fc.bigInt({ min: USD / 100n, max: 100_000n * USD })),
      ticks: fc.constantFrom(256n, 65_536n),
      budgetPermille: fc.bigInt({ min: 0n, max: 20_000n }),
      mmf: fc.constantFrom(BORROW_MMF, { base: 0n, factor: R / 1000n }, { base: R / 10n, factor: 0n }),
    });
    fc.assert(
      fc.property(input, ({ debtUsd, decimals, p0, ticks, budgetPermille, mmf }) => {
        const owed = (debtUsd * USD * pow10(decimals)) / p0 + 1n;
        Object.assign(slot, { assetNet: -owed, assetDecimals: decimals, haircut: { kind: "identity" }, borrowMmf: mmf });
        const tick = p0 / ticks;
        const grid = { tick, minPrice: tick, maxPrice: p0 * 16n };
        const budget = (debtUsd * USD * budgetPermille) / 1_000n;
        const before = bandSearchEvaluations();
        safeBand(slot, p0, budget, grid, formulas, fast);
        const evaluations = bandSearchEvaluations() - before;
        safeBand(slot, p0, budget, grid, formulas, full, false);
        expect([fast.low, fast.high]).toEqual([full.low, full.high]);
        if (full.high > p0 && full.high < (grid.maxPrice / tick) * tick) {
          interior++;
          if (evaluations <= 4) confirmed++; // the low edge's one check, then the guess's two (three when one off)
        }
      }),
      { numRuns: 3000 },
    );
    expect(interior).toBeGreaterThan(1500);
    expect(confirmed / interior).toBeGreaterThan(0.95);
  });

  it("C1: C5: property — the band formulas the risk stage passes in (roots by sqrtNotionalUpNear) equal haircutWeight and positionMmf", () => {
    const haircuts = config.assets.map((a) => a.haircut);
    const mmfs = [...config.assets.map((a) => a.borrow.mmf), ...PERP_MARKETS.map((m) => m.mmf!), { base: 0n, factor: 0n }, { base: 0n, factor: R / 1000n }];
    fc.assert(
      fc.property(notional, fc.nat(), (n, k) => {
        const haircut = haircuts[k % haircuts.length]!;
        const mmf = mmfs[k % mmfs.length]!;
        expect(BAND_FORMULAS.haircutWeight(haircut, n)).toBe(haircutWeight(haircut, n));
        expect(BAND_FORMULAS.positionMmf(n, mmf)).toBe(positionMmf(n, mmf));
      }),
      { numRuns: 20_000 },
    );
  });
});

describe("S5: the fee's number path (issue 12, pipeline.perp-order)", () => {
  it("S5: feeAmount's number path equals the bigint path for any amount and tier — exact below 2^53, the bigint path above", () => {
    const edges = [0n, 1n, 9_999n, 10_000n, 10_001n, 2n ** 40n, 2n ** 53n / 1000n - 1n, 2n ** 53n / 1000n, 2n ** 53n / 1000n + 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, 10n ** 30n];
    for (const received of edges) {
      for (const bps of [0, 1, 7, 8, 10, 999, 1000]) expect([received, bps, feeAmount(received, bps)]).toEqual([received, bps, feeAmountExact(received, bps)]);
    }
    let tested = 0;
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n }), fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 64 }), (raw, bps, bits) => {
        const received = raw >> BigInt(bits); // amounts spread over every magnitude, most of them under 2^53 / bps
        expect(feeAmount(received, bps)).toBe(feeAmountExact(received, bps));
        if (received * BigInt(bps) < 2n ** 53n) tested++;
      }),
      { numRuns: 20_000 },
    );
    expect(tested).toBeGreaterThan(5_000);
  });
});

describe("C8 shortcut: a perpetual order certified in doubles (AccountMargin.perpFillSurelyPasses, margin/fill-bound.ts)", () => {
  const ctx = new MarginContext(config);
  const fillChanges = new MarginChanges();
  const USDC = 0;
  const BTC = 2;

  interface Case {
    usdc: bigint; btc: bigint; btcOwed: bigint; market: number; quantity: bigint; entry: bigint; openBuy: bigint; openSell: bigint;
    other: bigint; pending: boolean; markUsd: bigint; fills: bigint; buy: boolean; pricePermille: number; bps: number; leverage: number;
  }

  /** An account with USDC, BTC held and owed, a position on another market and `c`'s position on c.market (its slot
   * synced, or still pending: perpChanged after the last sync). */
  function accountOf(c: Case, usdc: bigint): Account {
    const a = new Account(16, ctx.assetCount, () => new AccountMargin(ctx, BigInt(c.leverage) * R), null);
    a.setAvailable(USDC, usdc);
    a.setAvailable(BTC, c.btc);
    a.setBorrowed(BTC, c.btcOwed);
    a.markChanged(USDC);
    a.markChanged(BTC);
    const perps = (a.perps = new AccountPerps(ctx.marketCount));
    const other = PERP_MARKETS.find((x) => x.id !== c.market)!.id;
    perps.ownPosition(other).netQuantity = c.other;
    perps.ownPosition(other).costBasis = c.other * 1_000n * USD;
    a.perpChanged(other);
    if (c.pending) a.syncedMargin();
    const p = perps.ownPosition(c.market);
    p.netQuantity = c.quantity;
    p.costBasis = c.quantity * c.entry;
    perps.openBuy[c.market] = c.openBuy;
    perps.openSell[c.market] = c.openSell;
    a.perpChanged(c.market);
    if (!c.pending) a.syncedMargin();
    return a;
  }

  function priceOf(c: Case): bigint {
    const p = (c.markUsd * BigInt(c.pricePermille)) / 1000n;
    return p > 0n ? p : 1n;
  }

  /** checks.perpFillPassesMargin's full check: the fill with its exact fee (quoteAmount up, feeAmount), synced. */
  function fullPasses(a: Account, c: Case): boolean {
    const m = c.market;
    const price = priceOf(c);
    const notional = divRound(c.fills * price, pow10(config.assets[config.markets[m]!.baseAsset]!.decimals + 9 - 6), Rounding.Up);
    const fee = feeAmount(notional, c.bps);
    fillChanges.clear().addPositionFill(m, c.buy ? c.fills : -c.fills, price);
    if (fee > 0n) fillChanges.addAsset(USDC, -fee);
    return a.syncedMargin().wouldPassInitialMargin(fillChanges);
  }

  function certified(a: Account, c: Case): boolean {
    const m = c.market;
    const margin = a.syncedMarginExceptPerp(m);
    const perps = a.perps!;
    const p = perps.positions[m]!;
    return margin.perpFillSurelyPasses(m, USDC, p.netQuantity, p.costBasis, perps.openBuy[m]!, perps.openSell[m]!, c.buy ? c.fills : -c.fills, priceOf(c), c.bps);
  }

  /** `scale` sizes the account: 1 for an ordinary one, 10^6 for sums far past 2^53 nano-dollars. */
  function caseOf(scale: bigint) {
    return fc.record({
      usdc: fc.bigInt({ min: 0n, max: 10n ** 13n * scale }),
      btc: fc.bigInt({ min: 0n, max: 10n ** 9n * scale }),
      btcOwed: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 10n ** 8n * scale })),
      market: fc.constantFrom(...PERP_MARKETS.map((m) => m.id)),
      quantity: fc.bigInt({ min: -(10n ** 9n) * scale, max: 10n ** 9n * scale }),
      entry: fc.bigInt({ min: 1n, max: 100_000n * USD }),
      openBuy: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 10n ** 9n * scale })),
      openSell: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 10n ** 9n * scale })),
      other: fc.bigInt({ min: -(10n ** 9n) * scale, max: 10n ** 9n * scale }),
      pending: fc.boolean(),
      markUsd: fc.bigInt({ min: 1n, max: 100_000n * USD }),
      fills: fc.bigInt({ min: 1n, max: 10n ** 8n * scale }),
      buy: fc.boolean(),
      pricePermille: fc.integer({ min: 0, max: 2000 }),
      bps: fc.constantFrom(0, 1, 2, 5, 7, 10, 25, 1000),
      leverage: fc.constantFrom(1, 3, 10, 20),
    });
  }

  it("C8: property — the certificate passes only orders the full check passes (20,000 random accounts, both magnitudes; pending or synced slot)", () => {
    let certifiedCount = 0;
    let refused = 0;
    fc.assert(
      fc.property(fc.oneof(caseOf(1n), caseOf(10n ** 6n)), (c) => {
        ctx.setMarketMark(c.market, c.markUsd);
        const a = accountOf(c, c.usdc);
        const sure = certified(a, c);
        const full = fullPasses(a, c);
        if (sure) {
          certifiedCount++;
          expect(full).toBe(true);
        }
        if (!full) refused++;
      }),
      { numRuns: 20_000 },
    );
    expect(certifiedCount).toBeGreaterThan(5_000); // it decides most orders of a sound account
    expect(refused).toBeGreaterThan(1_000); // and refusals were tried
  });

  it("C8: at the edge — one unit of USDC below the least balance the full check passes, the certificate never passes (sums below and past 2^53); a little above, it does", () => {
    let tight = 0;
    fc.assert(
      fc.property(fc.oneof(caseOf(1n), caseOf(10n ** 6n), caseOf(10n ** 9n)), (c) => {
        ctx.setMarketMark(c.market, c.markUsd);
        // The least USDC balance the full check passes (it passes more USDC whenever it passes less: identity weight).
        let lo = -1n; // refused (or the start)
        let hi = 10n ** 30n; // passes
        if (!fullPasses(accountOf(c, hi), c)) return;
        while (hi - lo > 1n) {
          const mid = (lo + hi) >> 1n;
          if (fullPasses(accountOf(c, mid), c)) hi = mid;
          else lo = mid;
        }
        for (const below of [lo, lo - 1n, lo - 2n]) {
          if (below >= 0n) expect(certified(accountOf(c, below), c)).toBe(false);
        }
        // Tight: the certificate's margin is 16 nano-dollars plus 2^-40 of the sums (~1 USDC unit = 1,000 of them).
        const above = hi + hi / 2n ** 30n + 1_000n;
        if (certified(accountOf(c, above), c)) tight++;
      }),
      { numRuns: 2_000 },
    );
    expect(tight).toBeGreaterThan(1_000);
  });

  it("C8: the doubles kept between an account's orders (BoundInputs) are its inputs' own — the same state, refused after its USDC fell one unit below the edge, passed again above it", () => {
    const c: Case = {
      usdc: 0n, btc: 0n, btcOwed: 0n, market: PERP_MARKETS[0]!.id, quantity: 3n * 10n ** 7n, entry: 60_000n * USD, openBuy: 0n, openSell: 0n,
      other: 0n, pending: false, markUsd: 60_000n * USD, fills: 10n ** 6n, buy: true, pricePermille: 1000, bps: 5, leverage: 10,
    };
    ctx.setMarketMark(c.market, c.markUsd);
    let lo = -1n;
    let hi = 10n ** 15n;
    while (hi - lo > 1n) {
      const mid = (lo + hi) >> 1n;
      if (fullPasses(accountOf(c, mid), c)) hi = mid;
      else lo = mid;
    }
    const a = accountOf(c, hi + 10_000_000n);
    expect(certified(a, c)).toBe(true);
    a.setAvailable(USDC, lo); // the same margin state (and BoundInputs slot): new sums, new doubles
    a.markChanged(USDC);
    a.syncedMargin();
    expect(fullPasses(a, c)).toBe(false);
    expect(certified(a, c)).toBe(false);
    a.setAvailable(USDC, hi + 10_000_000n);
    a.markChanged(USDC);
    a.syncedMargin();
    expect(certified(a, c)).toBe(true);
  });

  it("BoundInputs: a slot's double is reused only for an equal bigint — another value (a colliding account, a changed sum) is converted afresh", () => {
    const inputs = new BoundInputs();
    const big = 2n ** 70n + 12_345n;
    expect(inputs.number(3, BoundInput.CostBasis, big)).toBe(Number(big));
    expect(inputs.number(3, BoundInput.CostBasis, 2n ** 70n + 12_345n)).toBe(Number(big)); // equal value, another bigint
    expect(inputs.number(3, BoundInput.CostBasis, -7n)).toBe(-7);
    expect(inputs.number(3, BoundInput.NetEquity, 0n)).toBe(0);
    expect(inputs.number(3, BoundInput.NetEquity, 2n ** 53n + 1n)).toBe(2 ** 53);
    expect(inputs.number(4, BoundInput.CostBasis, 5n)).toBe(5);
    expect(inputs.number(3, BoundInput.CostBasis, -7n)).toBe(-7);
  });
});
