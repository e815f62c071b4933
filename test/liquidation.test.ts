// engine/liquidation: the pure Q rules, table-tested to the last unit — Q1/C9 trigger and hysteresis, the safe-band
// index (proved against engine/risk/margin's AccountMargin: no account that a move makes liquidatable is missed),
// Q2 book and borrow steps and the 1% fee, Q3 ACMF and the backstop takeover, Q4 insurance cover, bankruptcy price,
// perp ADL and the lenders' USDC payout (seed 004's $100,000 rather than 1 BTC), Q5 lender ADL.
import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RATIO_SCALE, Side } from "../engine/model/index.ts";
import { loadConfig } from "../engine/pipeline/config.ts";
import { AccountMargin, exposureQuantity, haircutWeight, MarginContext, positionMmf } from "../engine/risk/margin/index.ts";
import {
  AdlBorrower,
  AdlCandidate,
  allocateAdl,
  autoCloseMarginFraction,
  BackstopPlan,
  BankruptcyPriceInputs,
  BankruptcyPriceResult,
  bankruptcyPrice,
  BookStepKind,
  BookStepPlan,
  BorrowStepInputs,
  canExitLiquidation,
  checkLiquidationParams,
  chooseLiquidationStage,
  CollateralHolding,
  firstIndexAbove,
  firstIndexAtOrAbove,
  InsuranceCover,
  isBelowAutoCloseMarginFraction,
  isLiquidatable,
  LenderAdlPlan,
  LenderPayout,
  LIQUIDATION_PARAMS_DEFAULT,
  LiquidationItem,
  LiquidationItemKind,
  LiquidationStage,
  LiquidationStatus,
  liquidationFee,
  liquidationLimitPrice,
  liquidationStepQuantity,
  mayBecomeLiquidatable,
  nextLiquidationStatus,
  NoStepReason,
  pickLargestMaintenanceMargin,
  planBackstopTakeover,
  planBorrowStep,
  planInsuranceCover,
  planLenderAdl,
  planLenderPayout,
  planPositionStep,
  PriceSlot,
  rankAdlCandidates,
  rankLenderAdlBorrowers,
  SafeBand,
  safeBand,
  slotSurplusLowerBoundUsd,
  slotSurplusUsd,
  splitSurplusBudget,
  TakeoverAsset,
  TakeoverPosition,
  usdToQuoteUnitsUp,
  type BandFormulas,
  type BandGrid,
  type StepGrid,
} from "../engine/liquidation/index.ts";

const R = RATIO_SCALE;
const PCT = R / 100n;
const USD = 1_000_000_000n; // one USD at PRICE_DECIMALS
const BTC = 100_000_000n;
const SOL = 1_000_000_000n;
const ETH = 100_000_000n;
const USDC = 1_000_000n;
const P = LIQUIDATION_PARAMS_DEFAULT;
const FORMULAS: BandFormulas = { haircutWeight, positionMmf };

// Config ids (config/default.json).
const USDC_ASSET = 0;
const BTC_ASSET = 2;
const ETH_ASSET = 3;
const SOL_ASSET = 4;
const BTC_SPOT = 0;
const SOL_SPOT = 2;
const BTC_PERP = 3;
const SOL_PERP = 5;

describe("Q parameters", () => {
  it("Q1: Q2: Q3: the defaults are the SPEC's (exit 98%, step 10%, slippage 5%, fee 1%, divisor 2, offset 1%) and pass the check", () => {
    expect(P).toEqual({
      liquidationExitMmr: 98n * PCT,
      liquidationStepFraction: 10n * PCT,
      liquidationMaxSlippage: 5n * PCT,
      liquidationFee: PCT,
      acmfDivisor: 2n * R,
      acmfOffset: PCT,
    });
    expect(checkLiquidationParams(P)).toBeNull();
    expect(checkLiquidationParams({ ...P, liquidationExitMmr: R })).toBe("liquidationExitMmr must be in (0, 1)");
    expect(checkLiquidationParams({ ...P, liquidationStepFraction: 0n })).toBe("liquidationStepFraction must be in (0, 1]");
    expect(checkLiquidationParams({ ...P, liquidationMaxSlippage: R })).toBe("liquidationMaxSlippage must be in [0, 1)");
    expect(checkLiquidationParams({ ...P, liquidationFee: -1n })).toBe("liquidationFee must be in [0, 1)");
    expect(checkLiquidationParams({ ...P, acmfDivisor: R - 1n })).toBe("acmfDivisor must be ≥ 1");
    expect(checkLiquidationParams({ ...P, acmfOffset: R + 1n })).toBe("acmfOffset must be in [0, 1]");
  });
});

describe("Q1: C9: trigger and exit", () => {
  const EXIT = P.liquidationExitMmr;

  it("C9: MMR ≥ 100% (maintenance ≥ equity, with exposure) is liquidating; MMR just under is not; no exposure never", () => {
    expect(isLiquidatable(1_000n * USD, 1_000n * USD, 50_000n * USD)).toBe(true);
    expect(isLiquidatable(1_000n * USD, 1_000n * USD + 1n, 50_000n * USD)).toBe(false);
    expect(isLiquidatable(1n, -5n * USD, 1n)).toBe(true); // negative equity
    expect(isLiquidatable(0n, -5n * USD, 0n)).toBe(false); // nothing to liquidate (Q4's case, not Q1's)
  });

  it("Q1: exit at exact MMR ≤ 98%: 980 / 1,000 leaves, 980.000000001 / 1,000 does not; equity ≤ 0 never; no exposure always", () => {
    expect(canExitLiquidation(980n * USD, 1_000n * USD, 10_000n * USD, EXIT)).toBe(true);
    expect(canExitLiquidation(980n * USD + 1n, 1_000n * USD, 10_000n * USD, EXIT)).toBe(false);
    expect(canExitLiquidation(0n, 0n, 10_000n * USD, EXIT)).toBe(false);
    expect(canExitLiquidation(5n, -1n, 0n, EXIT)).toBe(true);
  });

  it("Q1: hysteresis: enter at 100%, stay between 98% and 100%, leave at 98%, re-enter only at 100%", () => {
    const TEN = 10_000n * USD;
    const E = 1_000n * USD;
    const path: [bigint, LiquidationStatus][] = [
      [999n * USD, LiquidationStatus.Healthy],
      [1_000n * USD, LiquidationStatus.Liquidating],
      [990n * USD, LiquidationStatus.Liquidating],
      [981n * USD, LiquidationStatus.Liquidating],
      [980n * USD, LiquidationStatus.Healthy],
      [990n * USD, LiquidationStatus.Healthy],
      [1_000n * USD, LiquidationStatus.Liquidating],
    ];
    let status: LiquidationStatus = LiquidationStatus.Healthy;
    for (const [mm, expected] of path) {
      status = nextLiquidationStatus(status, mm, E, TEN, EXIT);
      expect([mm, status]).toEqual([mm, expected]);
    }
  });

  it("Q1: property — a Healthy result is never liquidatable; a Liquidating account stays until MMR ≤ exit", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(LiquidationStatus.Healthy, LiquidationStatus.Liquidating),
        fc.bigInt({ min: 0n, max: 10_000n * USD }),
        fc.bigInt({ min: -1_000n * USD, max: 10_000n * USD }),
        fc.bigInt({ min: 0n, max: 100_000n * USD }),
        (status, mm, equity, ten) => {
          const next = nextLiquidationStatus(status, mm, equity, ten, EXIT);
          if (next === LiquidationStatus.Healthy) expect(isLiquidatable(mm, equity, ten)).toBe(false);
          if (status === LiquidationStatus.Liquidating) {
            const exits = ten === 0n || (equity > 0n && mm * R <= EXIT * equity);
            expect(next).toBe(exits ? LiquidationStatus.Healthy : LiquidationStatus.Liquidating);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("Q1: the safe-band index", () => {
  const config = loadConfig();
  const BTC_PERP_MMF = config.markets[BTC_PERP]!.mmf!;
  const GRID: BandGrid = { tick: USD / 10n, minPrice: USD / 10n, maxPrice: 10_000_000n * USD };

  function btcLongSlot(): PriceSlot {
    return Object.assign(new PriceSlot(), {
      positionQuantity: BTC,
      positionCostBasis: BTC * 100_000n * USD,
      exposureQuantity: BTC,
      baseDecimals: 8,
      positionMmf: BTC_PERP_MMF,
    });
  }

  it("Q1: 1 BTC perp long from 100,000 with 10,000 USDC: low edge 90,666.7 — above the true liquidation price 90,604.0 (P8), never below", () => {
    const slot = btcLongSlot();
    const p0 = 100_000n * USD;
    const c0 = slotSurplusUsd(slot, p0, FORMULAS);
    expect(c0).toBe(-666_667_000_000n); // uPnL 0 − MM 100,000 × 0.00666667
    const surplus = 10_000n * USD + c0; // the USDC slot contributes 10,000
    const budgets = splitSurplusBudget(surplus, [1n], 1, [0n]);
    expect(budgets).toEqual([9_333_332_999_999n]); // S0 − 1
    const band = safeBand(slot, p0, budgets[0]!, GRID, FORMULAS, new SafeBand());
    // loss over [a, p0] = 100,000 − a ≤ 9,333.332999999 ⇔ a ≥ 90,666.667000001 → the grid's 90,666.7
    expect(band.low).toBe(90_666_700_000_000n);
    expect(slotSurplusLowerBoundUsd(slot, band.low - GRID.tick, p0, FORMULAS)).toBeLessThan(c0 - budgets[0]!);
    // The high edge: the margin at `high` may grow by at most the budget, one tick more may not.
    const lossAt = (b: bigint): bigint => c0 - slotSurplusLowerBoundUsd(slot, p0, b, FORMULAS);
    expect(lossAt(band.high)).toBeLessThanOrEqual(budgets[0]!);
    expect(lossAt(band.high + GRID.tick)).toBeGreaterThan(budgets[0]!);
    // Against AccountMargin: safe at both edges, liquidatable at P8's 90,604.0.
    const ctx = new MarginContext(config);
    const account = new AccountMargin(ctx, 10n * R);
    account.setAssetBalance(USDC_ASSET, 10_000n * USDC);
    ctx.setMarketMark(BTC_PERP, p0);
    account.setPositionCostBasis(BTC_PERP, BTC, BTC * p0);
    expect(account.netEquityUsd() - account.maintenanceMarginUsd()).toBe(surplus);
    for (const [price, liquidatable] of [
      [band.low, false],
      [band.high, false],
      [90_604n * USD, true],
    ] as const) {
      ctx.setMarketMark(BTC_PERP, price);
      expect([price, account.isLiquidatable()]).toEqual([price, liquidatable]);
    }
  });

  it("Q1: an account not certainly safe (surplus ≤ 0) gets the empty band: every move reports it", () => {
    expect(splitSurplusBudget(0n, [5n, 7n], 2, [0n, 0n])).toEqual([-1n, -1n]);
    const band = safeBand(btcLongSlot(), 100_000n * USD, -1n, GRID, FORMULAS, new SafeBand());
    expect([band.low, band.high]).toEqual([1n, 0n]);
    expect(mayBecomeLiquidatable(band.low, band.high, 100_000n * USD)).toBe(true);
    // Budgets in proportion, Σ ≤ S0 − 1; equal shares when the weights are 0
    expect(splitSurplusBudget(101n, [1n, 3n], 2, [0n, 0n])).toEqual([25n, 75n]);
    expect(splitSurplusBudget(101n, [0n, 0n, 0n], 3, [0n, 0n, 0n])).toEqual([33n, 33n, 33n]);
    expect(splitSurplusBudget(101n, [], 0, [])).toEqual([]); // no prices: nothing to split
  });

  it("Q1: the index: with sorted edges a move to m1 reaches a suffix of the lows and a prefix of the highs", () => {
    const lows = [10n, 20n, 20n, 30n];
    const highs = [40n, 50n, 50n, 60n];
    expect(firstIndexAbove(lows, 4, 20n)).toBe(3); // lows 30 > 20: one account
    expect(firstIndexAbove(lows, 4, 5n)).toBe(0);
    expect(firstIndexAbove(lows, 4, 30n)).toBe(4);
    expect(firstIndexAtOrAbove(highs, 4, 50n)).toBe(1); // highs 40 < 50: one account
    expect(firstIndexAtOrAbove(highs, 4, 61n)).toBe(4);
    expect(mayBecomeLiquidatable(20n, 50n, 20n)).toBe(false);
    expect(mayBecomeLiquidatable(20n, 50n, 19n)).toBe(true);
    expect(mayBecomeLiquidatable(20n, 50n, 51n)).toBe(true);
  });

  it("Q1: property — against AccountMargin: the slots sum to E − MM exactly, and every account a move of any marks makes liquidatable is reported", () => {
    const ASSET_GRID: BandGrid = { tick: USD / 100n, minPrice: USD / 100n, maxPrice: 10_000_000n * USD };
    const seen = { crossed: 0, liquidatableAfter: 0, reportedSafe: 0, runs: 0 };
    fc.assert(
      fc.property(
        fc.record({
          usdc: fc.bigInt({ min: 0n, max: 300_000n * USDC }),
          btcNet: fc.bigInt({ min: -2n * BTC, max: 4n * BTC }),
          solNet: fc.bigInt({ min: -800n * SOL, max: 2_000n * SOL }),
          btcPerp: fc.bigInt({ min: -6n * BTC, max: 6n * BTC }),
          btcEntry: fc.bigInt({ min: 40_000n, max: 120_000n }),
          btcOpenBuy: fc.bigInt({ min: 0n, max: 2n * BTC }),
          solPerp: fc.bigInt({ min: -3_000n * SOL, max: 3_000n * SOL }),
          solEntry: fc.bigInt({ min: 80n, max: 250n }),
        }),
        fc.array(fc.option(fc.integer({ min: 30, max: 300 }), { nil: undefined }), { minLength: 4, maxLength: 4 }),
        fc.boolean(),
        (acc, movesPct, proportional) => {
          seen.runs++;
          const ctx = new MarginContext(config);
          const account = new AccountMargin(ctx, 10n * R);
          const marks = [60_000n * USD, 150n * USD, 95_000n * USD, 140n * USD]; // BTC, SOL assets; BTC, SOL perps
          ctx.setAssetMark(BTC_ASSET, marks[0]!);
          ctx.setAssetMark(SOL_ASSET, marks[1]!);
          ctx.setMarketMark(BTC_PERP, marks[2]!);
          ctx.setMarketMark(SOL_PERP, marks[3]!);
          account.setAssetBalance(USDC_ASSET, acc.usdc);
          account.setAssetBalance(BTC_ASSET, acc.btcNet);
          account.setAssetBalance(SOL_ASSET, acc.solNet);
          account.setPositionCostBasis(BTC_PERP, acc.btcPerp, acc.btcPerp * acc.btcEntry * USD);
          account.setPositionOrders(BTC_PERP, acc.btcOpenBuy, 0n);
          account.setPositionCostBasis(SOL_PERP, acc.solPerp, acc.solPerp * acc.solEntry * USD);
          const btc = config.assets[BTC_ASSET]!;
          const sol = config.assets[SOL_ASSET]!;
          const slots = [
            Object.assign(new PriceSlot(), { assetNet: acc.btcNet, assetDecimals: 8, haircut: btc.haircut, borrowMmf: btc.borrow.mmf }),
            Object.assign(new PriceSlot(), { assetNet: acc.solNet, assetDecimals: 9, haircut: sol.haircut, borrowMmf: sol.borrow.mmf }),
            Object.assign(new PriceSlot(), {
              positionQuantity: acc.btcPerp,
              positionCostBasis: acc.btcPerp * acc.btcEntry * USD,
              exposureQuantity: exposureQuantity(acc.btcPerp, acc.btcOpenBuy, 0n),
              baseDecimals: 8,
              positionMmf: config.markets[BTC_PERP]!.mmf!,
            }),
            Object.assign(new PriceSlot(), {
              positionQuantity: acc.solPerp,
              positionCostBasis: acc.solPerp * acc.solEntry * USD,
              exposureQuantity: acc.solPerp < 0n ? -acc.solPerp : acc.solPerp,
              baseDecimals: 9,
              positionMmf: config.markets[SOL_PERP]!.mmf!,
            }),
          ];
          const usdcSlot = Object.assign(new PriceSlot(), { assetNet: acc.usdc, assetDecimals: 6 });
          let sum = slotSurplusUsd(usdcSlot, USD, FORMULAS);
          for (let k = 0; k < 4; k++) sum += slotSurplusUsd(slots[k]!, marks[k]!, FORMULAS);
          const surplus = account.netEquityUsd() - account.maintenanceMarginUsd();
          expect(sum).toBe(surplus); // the slots restate AccountMargin's arithmetic exactly
          const weights = [
            account.assetLiabilityUsd(BTC_ASSET) + account.assetCollateralValueUsd(BTC_ASSET),
            account.assetLiabilityUsd(SOL_ASSET) + account.assetCollateralValueUsd(SOL_ASSET),
            account.positionNotionalUsd(BTC_PERP),
            account.positionNotionalUsd(SOL_PERP),
          ];
          const budgets = splitSurplusBudget(surplus, proportional ? weights : [0n, 0n, 0n, 0n], 4, [0n, 0n, 0n, 0n]);
          const bands = slots.map((s, k) => safeBand(s, marks[k]!, budgets[k]!, k < 2 ? ASSET_GRID : GRID, FORMULAS, new SafeBand()));
          const before = account.isLiquidatable();
          let reported = false;
          for (let k = 0; k < 4; k++) {
            const pct = movesPct[k];
            if (pct === undefined) continue;
            const m1 = (marks[k]! * BigInt(pct)) / 100n;
            if (mayBecomeLiquidatable(bands[k]!.low, bands[k]!.high, m1)) reported = true;
            if (k === 0) ctx.setAssetMark(BTC_ASSET, m1);
            if (k === 1) ctx.setAssetMark(SOL_ASSET, m1);
            if (k === 2) ctx.setMarketMark(BTC_PERP, m1);
            if (k === 3) ctx.setMarketMark(SOL_PERP, m1);
          }
          const after = account.isLiquidatable();
          if (after) {
            seen.liquidatableAfter++;
            if (!before) seen.crossed++;
            // No false negative. An account liquidatable before any move is Q1's already (its bands are empty, budget
            // −1), and with no move nothing reports it: seed −1075636302 drew one (a 2,792 SOL long from 197 at 150).
            if (!before) expect(reported).toBe(true);
          } else if (reported) seen.reportedSafe++;
        },
      ),
      { numRuns: 400, endOnFailure: true }, // each run builds an account: report the first counterexample unshrunk
    );
    // The generator reaches crossings and conservative reports (the property is not vacuous).
    console.log("safe-band property:", seen);
    expect(seen.crossed).toBeGreaterThan(5);
    expect(seen.reportedSafe).toBeGreaterThan(0);
  });
});

describe("Q2: book liquidation steps", () => {
  const config = loadConfig();
  const BTC_PERP_GRID: StepGrid = config.markets[BTC_PERP]!; // tick 0.1, step 0.0001, min 0.0001
  const SOL_SPOT_GRID: StepGrid = config.markets[SOL_SPOT]!; // tick 0.01, step 0.01, min 0.01
  const BTC_SPOT_GRID: StepGrid = config.markets[BTC_SPOT]!; // tick 0.01, step 0.00001, min 0.00001

  function item(kind: LiquidationItemKind, id: number, quantity: bigint, mmUsd: bigint): LiquidationItem {
    return Object.assign(new LiquidationItem(), { kind, id, quantity, maintenanceMarginUsd: mmUsd });
  }

  it("Q2: the position or borrow with the largest maintenance margin goes first (ties: the first listed; empty ones skipped)", () => {
    const items = [
      item(LiquidationItemKind.Position, BTC_PERP, BTC, 500n * USD),
      item(LiquidationItemKind.Borrow, SOL_ASSET, 10n * SOL, 800n * USD),
      item(LiquidationItemKind.Position, SOL_PERP, -10n * SOL, 800n * USD),
      item(LiquidationItemKind.Position, 4, 0n, 900n * USD),
    ];
    expect(pickLargestMaintenanceMargin(items, 4)).toBe(1);
    expect(pickLargestMaintenanceMargin(items, 1)).toBe(0);
    expect(pickLargestMaintenanceMargin([items[3]!], 1)).toBe(-1);
  });

  it("Q2: step size: 10% rounded down to the step, at least the min quantity, never more than the position", () => {
    expect(liquidationStepQuantity(123_450_000n, P.liquidationStepFraction, BTC_PERP_GRID)).toBe(12_340_000n); // 1.2345 → 0.1234
    expect(liquidationStepQuantity(50_000n, P.liquidationStepFraction, BTC_PERP_GRID)).toBe(10_000n); // 0.0005 → min 0.0001
    expect(liquidationStepQuantity(5_000n, P.liquidationStepFraction, BTC_PERP_GRID)).toBe(0n); // dust below the min: no step
    expect(liquidationStepQuantity(123_450_000n, R, BTC_PERP_GRID)).toBe(123_450_000n);
    expect(liquidationStepQuantity(123_456_789n, R, BTC_PERP_GRID)).toBe(123_450_000n); // off-grid remainder stays
  });

  it("Q2: limit = mark × (1 ± 5%) rounded onto the tick toward the mark: 60,000.05 → buy 63,000.0, sell 57,000.1", () => {
    const mark = 60_000_050_000_000n;
    expect(liquidationLimitPrice(mark, Side.Buy, P.liquidationMaxSlippage, BTC_PERP_GRID)).toBe(63_000_000_000_000n);
    expect(liquidationLimitPrice(mark, Side.Sell, P.liquidationMaxSlippage, BTC_PERP_GRID)).toBe(57_000_100_000_000n);
    // Near the bottom of the grid: a sell is lifted to minPrice (no worse), a buy below minPrice has no price.
    expect(liquidationLimitPrice(50_000_000n, Side.Sell, P.liquidationMaxSlippage, BTC_PERP_GRID)).toBe(100_000_000n);
    expect(liquidationLimitPrice(50_000_000n, Side.Buy, P.liquidationMaxSlippage, BTC_PERP_GRID)).toBe(0n);
  });

  it("Q2: property — the limit is on the grid, never beyond the bound, and the tightest such price", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: USD, max: 1_000_000n * USD }), fc.constantFrom(Side.Buy, Side.Sell), (mark, side) => {
        const s = P.liquidationMaxSlippage;
        const tick = BTC_PERP_GRID.tickSize;
        const p = liquidationLimitPrice(mark, side, s, BTC_PERP_GRID);
        expect(p % tick).toBe(0n);
        if (side === Side.Buy) {
          expect(p * R <= mark * (R + s)).toBe(true);
          expect((p + tick) * R > mark * (R + s)).toBe(true);
        } else {
          expect(p * R >= mark * (R - s)).toBe(true);
          expect((p - tick) * R < mark * (R - s)).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("Q2: the 1% liquidation fee of a fill's notional, rounded up, to the insurance fund: 1,234.567891 USDC pays 12.345679", () => {
    expect(liquidationFee(1_234_567_891n, P.liquidationFee)).toBe(12_345_679n);
    expect(liquidationFee(10_000n * USDC, P.liquidationFee)).toBe(100n * USDC);
    expect(liquidationFee(1n, P.liquidationFee)).toBe(1n);
    expect(liquidationFee(0n, P.liquidationFee)).toBe(0n);
  });

  it("Q2: a perp step: a 2.5 BTC short buys 0.25 BTC at ≤ 63,000.0 (LiquidatePositionOnBook); dust has no book step", () => {
    const out = new BookStepPlan();
    planPositionStep(BTC_PERP, -250_000_000n, 60_000n * USD, BTC_PERP_GRID, P, out, 8, 6);
    expect([out.kind, out.market, out.side, out.quantity, out.limitPrice]).toEqual([
      BookStepKind.LiquidatePositionOnBook,
      BTC_PERP,
      Side.Buy,
      25_000_000n,
      63_000n * USD,
    ]);
    planPositionStep(BTC_PERP, 5_000n, 60_000n * USD, BTC_PERP_GRID, P, out, 8, 6);
    expect([out.kind, out.reason]).toEqual([BookStepKind.None, NoStepReason.BelowMinQuantity]);
  });

  function holding(asset: number, market: number, quantity: bigint, decimals: number, valueUsd: bigint, mark: bigint, grid: StepGrid): CollateralHolding {
    return Object.assign(new CollateralHolding(), { asset, market, quantity, decimals, collateralValueUsd: valueUsd, mark, grid });
  }

  function solBorrow(quoteAvailable: bigint): BorrowStepInputs {
    return Object.assign(new BorrowStepInputs(), {
      owedAsset: SOL_ASSET,
      owedQuantity: 12_345_000_000n,
      owedDecimals: 9,
      owedMark: 150n * USD,
      owedMarket: SOL_SPOT,
      owedGrid: SOL_SPOT_GRID,
      quoteAsset: USDC_ASSET,
      quoteDecimals: 6,
      quoteAvailable,
    });
  }

  const HOLDINGS = [
    holding(ETH_ASSET, 1, 2n * ETH, 8, 5_520n * USD, 3_000n * USD, config.markets[1]!),
    holding(BTC_ASSET, BTC_SPOT, BTC / 2n, 8, 28_500n * USD, 60_000n * USD, BTC_SPOT_GRID),
  ];

  it("Q2: a SOL borrow of 12.345 with 200 USDC: buy 1.23 SOL at ≤ 157.50 (cost 193.725 USDC) — CollateralConversion", () => {
    const out = planBorrowStep(solBorrow(200n * USDC), HOLDINGS, 2, P, new BookStepPlan());
    expect([out.kind, out.market, out.asset, out.side, out.quantity, out.limitPrice]).toEqual([
      BookStepKind.CollateralConversion,
      SOL_SPOT,
      SOL_ASSET,
      Side.Buy,
      1_230_000_000n,
      157_500_000_000n,
    ]);
  });

  it("Q2: with only 100 USDC the 93.725 USDC shortfall is raised from the largest collateral: sell 0.00165 BTC at ≥ 57,000", () => {
    // A quote (USDC) holding listed by mistake is never "sold for USDC", however large
    const usdcHolding = holding(USDC_ASSET, 99, 1_000_000n * USDC, 6, 1_000_000n * USD, USD, BTC_SPOT_GRID);
    const out = planBorrowStep(solBorrow(100n * USDC), [usdcHolding, ...HOLDINGS], 3, P, new BookStepPlan());
    // ceil(93.725 / 57,000 BTC) = 0.0016442983 → 164,430 units → the step 0.00001 up: 165,000
    expect([out.kind, out.market, out.asset, out.side, out.quantity, out.limitPrice]).toEqual([
      BookStepKind.CollateralConversion,
      BTC_SPOT,
      BTC_ASSET,
      Side.Sell,
      165_000n,
      57_000n * USD,
    ]);
  });

  it("Q2: a USDC borrow of 5,000 sells collateral for 10% of it: 0.00878 BTC at ≥ 57,000; with no collateral no step", () => {
    const usdcBorrow = Object.assign(new BorrowStepInputs(), { owedAsset: USDC_ASSET, owedQuantity: 5_000n * USDC, quoteAsset: USDC_ASSET, quoteDecimals: 6 });
    const out = planBorrowStep(usdcBorrow, HOLDINGS, 2, P, new BookStepPlan());
    // ceil(500 / 57,000 BTC) = 877,193 units → 878,000
    expect([out.kind, out.market, out.asset, out.side, out.quantity, out.limitPrice]).toEqual([
      BookStepKind.CollateralConversion,
      BTC_SPOT,
      BTC_ASSET,
      Side.Sell,
      878_000n,
      57_000n * USD,
    ]);
    planBorrowStep(usdcBorrow, HOLDINGS, 0, P, out);
    expect([out.kind, out.reason]).toEqual([BookStepKind.None, NoStepReason.NoCollateral]);
  });

  it("Q2: property — a step is on the step grid, at least the min quantity, at most the position, and at most 10% unless the min forces it", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 100n * BTC }), (absQty) => {
        const g = BTC_PERP_GRID;
        const q = liquidationStepQuantity(absQty, P.liquidationStepFraction, g);
        if (q === 0n) {
          expect((absQty / g.stepSize) * g.stepSize < g.minQuantity).toBe(true);
          return;
        }
        expect(q % g.stepSize).toBe(0n);
        expect(q >= g.minQuantity && q <= absQty).toBe(true);
        expect(q * R <= absQty * P.liquidationStepFraction || q === g.minQuantity).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("Q3: backstop", () => {
  const config = loadConfig();

  it("Q3: ACMF = max(MMF / 2, MMF − 1%): 5% → 4%, 1.5% → 0.75%, 1.25% → 0.625%", () => {
    expect(autoCloseMarginFraction(5n * PCT, P)).toBe(4n * PCT);
    expect(autoCloseMarginFraction(15n * PCT / 10n, P)).toBe(75n * PCT / 100n);
    expect(autoCloseMarginFraction(125n * PCT / 100n, P)).toBe(625n * PCT / 1000n);
  });

  it("Q3: MF < ACMF exactly on the sums: TEN 1,000 and MM 50 (ACMF 4%) → below at E 39.999999999, not at 40", () => {
    const TEN = 1_000n * USD;
    expect(isBelowAutoCloseMarginFraction(40n * USD - 1n, 50n * USD, TEN, P)).toBe(true);
    expect(isBelowAutoCloseMarginFraction(40n * USD, 50n * USD, TEN, P)).toBe(false);
    // MM 15 (ACMF 0.75%, the divisor's branch): below at E 7.499999999, not at 7.5
    expect(isBelowAutoCloseMarginFraction(7_500_000_000n - 1n, 15n * USD, TEN, P)).toBe(true);
    expect(isBelowAutoCloseMarginFraction(7_500_000_000n, 15n * USD, TEN, P)).toBe(false);
    expect(isBelowAutoCloseMarginFraction(-5n, 15n * USD, 0n, P)).toBe(false);
  });

  function solLong(markUsd: bigint): { account: AccountMargin; ctx: MarginContext } {
    const ctx = new MarginContext(config);
    const account = new AccountMargin(ctx, 10n * R);
    account.setAssetBalance(USDC_ASSET, 600n * USDC);
    account.setAssetBalance(ETH_ASSET, ETH / 10n);
    ctx.setMarketMark(SOL_PERP, markUsd * USD);
    account.setPositionCostBasis(SOL_PERP, 100n * SOL, 100n * SOL * 150n * USD);
    return { account, ctx };
  }

  function takeover(markUsd: bigint, limitUsd: bigint): BackstopPlan {
    const position = Object.assign(new TakeoverPosition(), {
      market: SOL_PERP,
      quantity: 100n * SOL,
      costBasis: 100n * SOL * 150n * USD,
      baseDecimals: 9,
      mark: markUsd * USD,
    });
    const assets = [
      Object.assign(new TakeoverAsset(), { asset: USDC_ASSET, netQuantity: 600n * USDC, decimals: 6, mark: USD }),
      Object.assign(new TakeoverAsset(), { asset: ETH_ASSET, netQuantity: ETH / 10n, decimals: 8, mark: 3_000n * USD }),
    ];
    return planBackstopTakeover([position], 1, assets, 2, limitUsd, new BackstopPlan());
  }

  it("Q3: a backstop takeover below ACMF: 100 SOL long from 150 at mark 142 with 600 USDC + 0.1 ETH — MF 0.535% < ACMF 0.625%", () => {
    const { account } = solLong(142n);
    const [e, mm, ten] = [account.netEquityUsd(), account.maintenanceMarginUsd(), account.totalExposureNotionalUsd()];
    expect([e, mm, ten]).toEqual([76n * USD, 177_500_000_000n, 14_200n * USD]); // 600 + 276 − 800; 14,200 × 1.25%
    expect(isLiquidatable(mm, e, ten)).toBe(true);
    expect(autoCloseMarginFraction(account.accountMmf(), P)).toBe(625n * PCT / 1000n);
    expect(chooseLiquidationStage(e, mm, ten, true, P)).toBe(LiquidationStage.Backstop);
    const plan = takeover(142n, 14_200n * USD);
    // The backstop receives 600 USDC + 0.1 ETH (300) and the position at the mark (uPnL −800): worth +100, no deficit
    expect([plan.accepted, plan.exposureNotionalUsd, plan.valueUsd, plan.deficitUsd]).toEqual([true, 14_200n * USD, 100n * USD, 0n]);
    expect(takeover(142n, 14_200n * USD - 1n).accepted).toBe(false); // over the backstop's limit: all or nothing
    // At 130 the backstop would receive −1,100: the insurance fund owes it that (Q4)
    const deep = takeover(130n, 1_000_000n * USD);
    expect([deep.valueUsd, deep.deficitUsd]).toEqual([-1_100n * USD, 1_100n * USD]);
  });

  it("Q3: the same account at mark 143 (MMR 101.6%, MF 1.23% ≥ ACMF) stays on the book; without a book step it goes to the backstop", () => {
    const { account } = solLong(143n);
    const [e, mm, ten] = [account.netEquityUsd(), account.maintenanceMarginUsd(), account.totalExposureNotionalUsd()];
    expect([e, mm]).toEqual([176n * USD, 178_750_000_000n]);
    expect(isLiquidatable(mm, e, ten)).toBe(true);
    expect(chooseLiquidationStage(e, mm, ten, true, P)).toBe(LiquidationStage.Book);
    expect(chooseLiquidationStage(e, mm, ten, false, P)).toBe(LiquidationStage.Backstop);
    expect(chooseLiquidationStage(-1n, 0n, 0n, true, P)).toBe(LiquidationStage.Bankrupt); // Q4: nothing left, equity < 0
    expect(chooseLiquidationStage(0n, 0n, 0n, true, P)).toBe(LiquidationStage.None);
  });
});

describe("Q4: bankruptcy, insurance fund, ADL, lenders' payout", () => {
  it("Q4: the insurance fund covers first: min(fund, deficit); the rest is socialized", () => {
    const out = new InsuranceCover();
    expect(planInsuranceCover(1_000n * USDC, 400n * USDC, out)).toEqual(Object.assign(new InsuranceCover(), { fundPays: 400n * USDC, remaining: 600n * USDC }));
    expect(planInsuranceCover(1_000n * USDC, 5_000n * USDC, out)).toEqual(Object.assign(new InsuranceCover(), { fundPays: 1_000n * USDC, remaining: 0n }));
    expect(planInsuranceCover(-5n, 100n, out)).toEqual(Object.assign(new InsuranceCover(), { fundPays: 0n, remaining: 0n }));
    expect(usdToQuoteUnitsUp(USD + 1n, 6)).toBe(1_000_001n); // a USD deficit in USDC units, rounded up
    expect(usdToQuoteUnitsUp(USD, 6)).toBe(USDC);
  });

  function bp(quantity: bigint, markUsd: bigint, equity: bigint, posMm = 0n, totalMm = 0n): BankruptcyPriceResult {
    const inp = Object.assign(new BankruptcyPriceInputs(), {
      quantity,
      baseDecimals: 8,
      mark: markUsd * USD,
      netEquityUsd: equity,
      positionMaintenanceMarginUsd: posMm,
      totalMaintenanceMarginUsd: totalMm,
    });
    return bankruptcyPrice(inp, new BankruptcyPriceResult());
  }

  it("Q4: the bankruptcy price zeroes the account's equity: 1 BTC long from 100,000 with 5,000 USDC at mark 94,000 → 95,000", () => {
    // E = 5,000 + (94,000 − 100,000) = −1,000; selling at 95,000 loses exactly the 5,000
    expect(bp(BTC, 94_000n, -1_000n * USD)).toEqual(Object.assign(new BankruptcyPriceResult(), { price: 95_000n * USD, uncoveredUsd: 0n }));
    // after the insurance fund paid 400 of the deficit, ADL absorbs 600: 94,600
    expect(bp(BTC, 94_000n, -600n * USD).price).toBe(94_600n * USD);
    // 2 BTC short from 50,000 with 8,000 USDC at 55,000 (E −2,000): buying back at 54,000 loses exactly the 8,000
    expect(bp(-2n * BTC, 55_000n, -2_000n * USD).price).toBe(54_000n * USD);
    // 3 BTC long, E −1,000: 94,333.333… rounds up (the account is not left below zero)
    expect(bp(3n * BTC, 94_000n, -1_000n * USD).price).toBe(94_333_333_333_334n);
    // Two positions: this one carries 300 of 900 maintenance margin, so a third of the equity: 94,000 + 900 / 3
    expect(bp(BTC, 94_000n, -900n * USD, 300n * USD, 900n * USD).price).toBe(94_300n * USD);
    // A short whose deficit exceeds its notional: clamped at 0, the 900 that even 0 does not cover is reported
    expect(bp(-BTC, 100n, -1_000n * USD)).toEqual(Object.assign(new BankruptcyPriceResult(), { price: 0n, uncoveredUsd: 900n * USD }));
  });

  it("Q4: property — closing at the bankruptcy price leaves the equity in [0, one price unit × |q|): never negative, never more than rounding", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -50n * BTC, max: 50n * BTC }).filter((q) => q !== 0n),
        fc.bigInt({ min: 1_000n, max: 200_000n }),
        fc.bigInt({ min: -100_000n * USD, max: 10_000n * USD }),
        (q, markUsd, equity) => {
          const r = bp(q, markUsd, equity);
          const left = equity * BTC + q * (r.price - markUsd * USD); // equity after the close, × 10^8
          const absQ = q < 0n ? -q : q;
          if (r.uncoveredUsd === 0n) {
            expect(left >= 0n).toBe(true);
            // tight: one price unit more aggressive would leave the account below zero (unless clamped at 0)
            expect(r.price === 0n || left < absQ).toBe(true);
          } else {
            expect(r.price).toBe(0n);
            expect(r.uncoveredUsd * BTC >= -left && (r.uncoveredUsd - 1n) * BTC < -left).toBe(true);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  function candidate(account: number, quantity: bigint, entryUsd: bigint, equityUsd: bigint): AdlCandidate {
    return Object.assign(new AdlCandidate(), { account, quantity, costBasis: quantity * entryUsd * USD, netEquityUsd: equityUsd * USD });
  }

  it("Q4: a perp ADL at the bankruptcy price: opposing shorts ranked by profit % × leverage, 1 BTC allocated down the ranking", () => {
    const mark = 94_000n * USD;
    const candidates = [
      candidate(10, -BTC, 100_000n, 10_000n), // uPnL 6,000: 6% × 9.4 = 0.564
      candidate(11, -2n * BTC, 98_000n, 100_000n), // 8,000 / 196,000 × 1.88 = 0.077
      candidate(12, -BTC / 2n, 120_000n, 5_000n), // 13,000 / 60,000 × 9.4 = 2.04
      candidate(13, BTC, 90_000n, 50_000n), // a long: same side as the bankrupt long, not a counterparty
      candidate(9, -BTC, 100_000n, -50n), // equity ≤ 0: last
      candidate(14, -BTC, 100_000n, 10_000n), // ties with account 10: by account id
    ];
    const order = new Int32Array(6);
    const n = rankAdlCandidates(candidates, 6, BTC, mark, order);
    expect([...order.subarray(0, n)].map((i) => candidates[i]!.account)).toEqual([12, 10, 14, 11, 9]);
    const close = new Array<bigint>(n).fill(0n);
    expect(allocateAdl(candidates, order, n, -BTC, close)).toBe(BTC);
    expect(close).toEqual([BTC / 2n, BTC / 2n, 0n, 0n, 0n]);
    // The bankrupt long (E −600 after the fund's 400) closes at 94,600: the two shorts buy back 0.5 BTC each 600 above
    // the mark, 300 each, together the 600 socialized, and the bankrupt account ends at exactly 0.
    const price = bp(BTC, 94_000n, -600n * USD).price;
    expect(price).toBe(94_600n * USD);
    const socialized = ((price - mark) * close.reduce((a, b) => a + b, 0n)) / BTC;
    expect(socialized).toBe(600n * USD);
    // Not enough opposing quantity: everything available is allocated, the rest is left to report
    expect(allocateAdl(candidates, order, n, 10n * BTC, close)).toBe(550_000_000n); // 0.5 + 1 + 1 + 2 + 1
    expect(close).toEqual([BTC / 2n, BTC, BTC, 2n * BTC, BTC]);
  });

  it("Q4: property — the ADL ranking is by profit % × leverage, highest first, computed independently with the full formula", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            quantity: fc.bigInt({ min: -5n * BTC, max: 5n * BTC }),
            entryUsd: fc.bigInt({ min: 50_000n, max: 150_000n }),
            equityUsd: fc.bigInt({ min: -1_000n, max: 500_000n }),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        fc.bigInt({ min: 50_000n, max: 150_000n }),
        fc.boolean(),
        (rows, markUsd, bankruptLong) => {
          const mark = markUsd * USD;
          const cands = rows.map((r, i) => candidate(100 - i, r.quantity, r.entryUsd, r.equityUsd));
          const order = new Int32Array(cands.length);
          const n = rankAdlCandidates(cands, cands.length, bankruptLong ? BTC : -BTC, mark, order);
          const opposing = cands.filter((c) => (bankruptLong ? c.quantity < 0n : c.quantity > 0n));
          expect(n).toBe(opposing.length);
          // score = (uPnL / |entry value|) × (|q| × mark / 10^8) / E as a fraction num / den with den > 0
          const score = (c: AdlCandidate): [bigint, bigint] => {
            const absQ = c.quantity < 0n ? -c.quantity : c.quantity;
            const absC = c.costBasis < 0n ? -c.costBasis : c.costBasis;
            return [(c.quantity * mark - c.costBasis) * absQ * mark, absC * BTC * c.netEquityUsd];
          };
          for (let k = 0; k + 1 < n; k++) {
            const a = cands[order[k]!]!;
            const b = cands[order[k + 1]!]!;
            const aOk = a.netEquityUsd > 0n;
            const bOk = b.netEquityUsd > 0n;
            expect(aOk || !bOk).toBe(true); // accounts with equity ≤ 0 come last
            if (aOk && bOk) {
              const [na, da] = score(a);
              const [nb, db] = score(b);
              expect(na * db >= nb * da).toBe(true);
              if (na * db === nb * da) expect(a.account < b.account).toBe(true);
            }
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("Q4: the seed's bankrupt BTC borrow pays the lender $100,000 rather than 1 BTC (pro rata, in USDC, rounding down)", () => {
    const out = new LenderPayout();
    const payouts = [0n, 0n, 0n];
    planLenderPayout(BTC, 100_000n * USD, 8, 6, [BTC], 1, payouts, out);
    expect([payouts[0], out.totalQuote, out.remainderQuote]).toEqual([100_000n * USDC, 100_000n * USDC, 0n]);
    planLenderPayout(BTC, 100_000n * USD, 8, 6, [60_000_000n, 40_000_000n], 2, payouts, out);
    expect(payouts.slice(0, 2)).toEqual([60_000n * USDC, 40_000n * USDC]);
    planLenderPayout(BTC, 100_000n * USD, 8, 6, [BTC, BTC, BTC], 3, payouts, out);
    expect(payouts).toEqual([33_333_333_333n, 33_333_333_333n, 33_333_333_333n]);
    expect(out.remainderQuote).toBe(1n); // recorded, paid to nobody: no rounding creates money
  });

  it("Q4: property — lenders' payouts: Σ payouts + remainder = total; each ≤ its exact share; remainder < lender count", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 1_000n * BTC }),
        fc.bigInt({ min: 1n, max: 1_000_000n * USD }),
        fc.array(fc.bigInt({ min: 0n, max: 100n * BTC }), { minLength: 1, maxLength: 8 }),
        (qty, price, lent) => {
          const payouts = new Array<bigint>(lent.length).fill(0n);
          const out = planLenderPayout(qty, price, 8, 6, lent, lent.length, payouts, new LenderPayout());
          const sumLent = lent.reduce((a, b) => a + b, 0n);
          expect(payouts.reduce((a, b) => a + b, 0n) + out.remainderQuote).toBe(out.totalQuote);
          expect(out.totalQuote * BTC * USD <= qty * price * USDC).toBe(true); // the total itself rounds down
          if (sumLent > 0n) {
            for (let i = 0; i < lent.length; i++) expect(payouts[i]! * sumLent <= out.totalQuote * lent[i]!).toBe(true);
            expect(out.remainderQuote < BigInt(lent.length)).toBe(true);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("Q5: lender ADL", () => {
  const config = loadConfig();

  function borrower(account: number, borrowQuantity: bigint, freeQuote: bigint): AdlBorrower {
    return Object.assign(new AdlBorrower(), { account, borrowQuantity, freeQuote });
  }

  it("Q5: the seed's lender ADL at 100% utilization: 2 BTC matched against borrowers at 100,000; each borrower's total value unchanged", () => {
    const borrowers = [
      borrower(5, 150_000_000n, 1_000_000n * USDC),
      borrower(3, BTC, 50_000n * USDC), // affords 0.5 BTC
      borrower(7, BTC, 0n), // no free collateral
      borrower(8, 0n, 1_000n * USDC), // no borrow
    ];
    const order = new Int32Array(4);
    const n = rankLenderAdlBorrowers(borrowers, 4, order);
    expect([...order.subarray(0, n)].map((i) => borrowers[i]!.account)).toEqual([5, 3, 7]);
    const close = new Array<bigint>(n).fill(0n);
    const pay = new Array<bigint>(n).fill(0n);
    const plan = planLenderAdl(2n * BTC, 100_000n * USD, 8, 6, borrowers, order, n, close, pay, new LenderAdlPlan());
    expect(close).toEqual([150_000_000n, 50_000_000n, 0n]);
    expect(pay).toEqual([150_000n * USDC, 50_000n * USDC, 0n]);
    expect([plan.redeemedQuantity, plan.paidQuote, plan.unredeemedQuantity]).toEqual([2n * BTC, 200_000n * USDC, 0n]);
    // Borrower 5 in the margin engine: USDC 1,000,000 and −1.5 BTC before, 850,000 and 0 after: the same net equity.
    const ctx = new MarginContext(config);
    ctx.setAssetMark(BTC_ASSET, 100_000n * USD);
    const account = new AccountMargin(ctx, 10n * R);
    account.setAssetBalance(USDC_ASSET, 1_000_000n * USDC);
    account.setAssetBalance(BTC_ASSET, -150_000_000n);
    const before = account.netEquityUsd();
    account.setAssetBalance(USDC_ASSET, 1_000_000n * USDC - pay[0]!);
    account.setAssetBalance(BTC_ASSET, -150_000_000n + close[0]!);
    expect([before, account.netEquityUsd()]).toEqual([850_000n * USD, 850_000n * USD]);
  });

  it("Q5: a price off the quote grid: the borrower pays the value rounded up (it owes), at most one quote unit over", () => {
    const borrowers = [borrower(1, BTC, 1_000_000n * USDC)];
    const order = new Int32Array([0]);
    const close = [0n];
    const pay = [0n];
    planLenderAdl(BTC, 33_333_333_333_333n, 8, 6, borrowers, order, 1, close, pay, new LenderAdlPlan());
    expect([close[0], pay[0]]).toEqual([BTC, 33_333_333_334n]); // 33,333.333333333 → 33,333.333334
  });

  it("Q5: property — conserved in both assets, never more than the borrow or the free collateral, each borrower's value unchanged up to one quote unit, the lender made whole", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 20n * BTC }),
        fc.bigInt({ min: 1n, max: 500_000n * USD }),
        fc.array(fc.tuple(fc.bigInt({ min: 0n, max: 5n * BTC }), fc.bigInt({ min: 0n, max: 500_000n * USDC })), { minLength: 1, maxLength: 8 }),
        (need, price, rows) => {
          const borrowers = rows.map(([b, free], i) => borrower(i + 1, b, free));
          const order = new Int32Array(rows.length);
          const n = rankLenderAdlBorrowers(borrowers, rows.length, order);
          const close = new Array<bigint>(n).fill(0n);
          const pay = new Array<bigint>(n).fill(0n);
          const plan = planLenderAdl(need, price, 8, 6, borrowers, order, n, close, pay, new LenderAdlPlan());
          const closed = close.reduce((a, b) => a + b, 0n);
          const paid = pay.reduce((a, b) => a + b, 0n);
          expect([plan.redeemedQuantity, plan.paidQuote, plan.redeemedQuantity + plan.unredeemedQuantity]).toEqual([closed, paid, need]);
          const unitValue = BTC * USD; // pay × 10^8 × 10^9 vs q × price × 10^6: one quote unit on this scale
          for (let k = 0; k < n; k++) {
            const b = borrowers[order[k]!]!;
            expect(close[k]! <= b.borrowQuantity && pay[k]! <= b.freeQuote).toBe(true);
            const over = pay[k]! * unitValue - close[k]! * price * USDC; // what the borrower pays beyond the debt's value
            expect(over >= 0n && over < unitValue).toBe(true);
          }
          // The lender receives every paid unit (≥ the value of the claim it gives up): paid × 10^17 ≥ closed × price × 10^6
          expect(paid * unitValue >= closed * price * USDC).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("engine/liquidation is a pure folder", () => {
  it("imports only engine/fixed, engine/model, engine/perps' index and its own files (DESIGN: pure folders; issue 11's rule)", () => {
    const dir = new URL("../engine/liquidation/", import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThanOrEqual(8);
    let checked = 0;
    const allowed = /^(\.\.\/fixed\/index\.ts|\.\.\/model\/index\.ts|\.\.\/perps\/index\.ts|\.\/[a-z-]+\.ts)$/;
    for (const f of files) {
      const text = readFileSync(new URL(f, dir), "utf8");
      // `from "x"`, a bare `import "x"` and a dynamic `import("x")`
      const specifiers = [...text.matchAll(/(?:\bfrom\s+|\bimport\s*\(?\s*)["']([^"']+)["']/g)].map((m) => m[1]);
      checked += specifiers.length;
      for (const spec of specifiers) expect([f, spec, allowed.test(spec!)]).toEqual([f, spec, true]);
    }
    expect(checked).toBeGreaterThan(15); // the scan reads the imports (it is not vacuous)
  });
});
