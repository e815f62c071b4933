// Q2 with O2's MinNotional: a book step is a limit order, and matching refuses one whose notional at its limit is below
// the market's minNotional — every batch, so the account stalled for good. Found by the liquidation.cascade-10k bench
// (SOL 150 → 105): 515 accounts kept 0.1 SOL against a 9.07 USDC borrow; 10% of the borrow is 0.907 USDC, one min
// quantity (0.01 SOL) at the sell limit 99.75 is 0.9975 USDC < the 1 USDC minimum, refused (MinNotional) each batch.
import { describe, expect, it } from "vitest";
import {
  BookStepKind,
  BookStepPlan,
  BorrowStepInputs,
  CollateralHolding,
  LIQUIDATION_PARAMS_DEFAULT,
  NoStepReason,
  planBorrowStep,
  planPositionStep,
} from "../engine/liquidation/index.ts";
import { Side } from "../engine/model/index.ts";
import { loadConfig } from "../engine/pipeline/index.ts";

const config = loadConfig();
const USD = 1_000_000_000n;
const USDC_ASSET = 0;
const SOL_ASSET = 4;
const SOL_SPOT = 2;
const BTC_PERP = 3;

describe("Q2: a liquidation step meets the market's minNotional (O2)", () => {
  it("Q2: a 9.075067 USDC borrow with 0.1 SOL at mark 105: sell 0.02 SOL at ≤ 99.75 (1.995 USDC ≥ the 1 USDC minimum), not 0.01 (0.9975, refused)", () => {
    const sol = config.markets[SOL_SPOT]!;
    expect(sol.minNotional).toBe(1_000_000n); // 1 USDC
    const borrow = Object.assign(new BorrowStepInputs(), {
      owedAsset: USDC_ASSET, owedQuantity: 9_075_067n, owedDecimals: 6, owedMark: USD, owedMarket: -1, quoteAsset: USDC_ASSET, quoteDecimals: 6, quoteAvailable: 0n,
    });
    const holding = Object.assign(new CollateralHolding(), {
      asset: SOL_ASSET, market: SOL_SPOT, quantity: 100_000_000n, decimals: 9, collateralValueUsd: 9n * USD, mark: 105n * USD, grid: sol,
    });
    const out = planBorrowStep(borrow, [holding], 1, LIQUIDATION_PARAMS_DEFAULT, new BookStepPlan());
    expect([out.kind, out.market, out.asset, out.side, out.quantity, out.limitPrice]).toEqual([
      BookStepKind.CollateralConversion, SOL_SPOT, SOL_ASSET, Side.Sell, 20_000_000n, 99_750_000_000n,
    ]);
  });

  it("Q2: a holding whose whole sale is below minNotional cannot take a step (NoCollateral: Q3's backstop takes it), not a refused order", () => {
    const sol = config.markets[SOL_SPOT]!;
    const borrow = Object.assign(new BorrowStepInputs(), {
      owedAsset: USDC_ASSET, owedQuantity: 5_000_000n, owedDecimals: 6, owedMark: USD, owedMarket: -1, quoteAsset: USDC_ASSET, quoteDecimals: 6, quoteAvailable: 0n,
    });
    const dust = Object.assign(new CollateralHolding(), {
      asset: SOL_ASSET, market: SOL_SPOT, quantity: 10_000_000n, decimals: 9, collateralValueUsd: USD, mark: 105n * USD, grid: sol,
    });
    const out = planBorrowStep(borrow, [dust], 1, LIQUIDATION_PARAMS_DEFAULT, new BookStepPlan());
    expect([out.kind, out.reason]).toEqual([BookStepKind.None, NoStepReason.NoCollateral]);
  });

  it("Q2: a buy of the owed asset meets minNotional too: 0.05 SOL owed at mark 10 buys 0.1 SOL at ≤ 10.50 (1.05 USDC), not the 0.01 minimum (0.105, refused)", () => {
    // Found by the fuzz (seed 278550569 on 2 × 2: a step refused with MinNotional, every batch).
    const sol = config.markets[SOL_SPOT]!;
    const borrow = Object.assign(new BorrowStepInputs(), {
      owedAsset: SOL_ASSET, owedQuantity: 50_000_000n, owedDecimals: 9, owedMark: 10n * USD, owedMarket: SOL_SPOT, owedGrid: sol,
      quoteAsset: USDC_ASSET, quoteDecimals: 6, quoteAvailable: 100_000_000n,
    });
    const out = planBorrowStep(borrow, [], 0, LIQUIDATION_PARAMS_DEFAULT, new BookStepPlan());
    expect([out.kind, out.market, out.asset, out.side, out.quantity, out.limitPrice]).toEqual([
      BookStepKind.CollateralConversion, SOL_SPOT, SOL_ASSET, Side.Buy, 100_000_000n, 10_500_000_000n,
    ]);
  });

  it("Q2: a perpetual step meets minNotional: a 0.003 BTC long at mark 3,000 sells 0.0004 BTC at ≤ 2,850 (1.14 USDC), not 10% = 0.0003 (0.855, refused); 0.0002 BTC has no book step", () => {
    const perp = config.markets[BTC_PERP]!;
    const out = planPositionStep(BTC_PERP, 300_000n, 3_000n * USD, perp, LIQUIDATION_PARAMS_DEFAULT, new BookStepPlan(), 8, 6);
    expect([out.kind, out.market, out.side, out.quantity, out.limitPrice]).toEqual([BookStepKind.LiquidatePositionOnBook, BTC_PERP, Side.Sell, 40_000n, 2_850n * USD]);
    const dust = planPositionStep(BTC_PERP, 20_000n, 3_000n * USD, perp, LIQUIDATION_PARAMS_DEFAULT, new BookStepPlan(), 8, 6);
    expect([dust.kind, dust.reason]).toEqual([BookStepKind.None, NoStepReason.BelowMinQuantity]);
  });
});
