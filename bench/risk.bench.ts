// Risk micro-benchmarks: the pre-trade cross-margin check (C8) of one order on an account with 5 collateral assets
// and 3 perpetual positions, through the incremental AccountMargin (only the touched slots are recomputed).
import { loadConfig } from "../engine/pipeline/config.ts";
import { RATIO_SCALE, Side } from "../engine/model/index.ts";
import { AccountMargin, MarginChanges, MarginContext, spotTradeChanges } from "../engine/risk/margin/index.ts";
import type { BenchDef } from "./harness.ts";

const USD = 1_000_000_000n;
const USDC = 0;
const USDT = 1;
const BTC = 2;
const ETH = 3;
const SOL = 4;
const SOL_USDC = 2;
const BTC_USDC = 0;
const BTC_PERP = 3;
const ETH_PERP = 4;
const SOL_PERP = 5;
const VARIANTS = 64;

interface Fixture {
  ctx: MarginContext;
  account: AccountMargin;
  changes: MarginChanges;
  quantities: bigint[];
  prices: bigint[];
  markets: number[];
}

/** 5 collateral assets (USDC, USDT, BTC, ETH, SOL; SOL past its flat haircut region) and 3 perp positions. */
function fixture(): Fixture {
  const ctx = new MarginContext(loadConfig());
  const account = new AccountMargin(ctx, 10n * RATIO_SCALE);
  account.setAssetBalance(USDC, 40_000n * 1_000_000n);
  account.setAssetBalance(USDT, 10_000n * 1_000_000n);
  account.setAssetBalance(BTC, 50_000_000n); // 0.5 BTC
  account.setAssetBalance(ETH, 400_000_000n); // 4 ETH
  account.setAssetBalance(SOL, 800n * 1_000_000_000n); // 120,000 USD: the weight needs its root
  account.setPosition(BTC_PERP, 100_000_000n, 58_000n * USD); // long 1 BTC
  account.setPosition(ETH_PERP, -1_000_000_000n, 3_100n * USD); // short 10 ETH
  account.setPosition(SOL_PERP, 20_000_000_000n, 140n * USD); // long 20 SOL
  account.setPositionOrders(BTC_PERP, 20_000_000n, 0n);
  const quantities: bigint[] = [];
  const prices: bigint[] = [];
  const markets: number[] = [];
  for (let i = 0; i < VARIANTS; i++) {
    const sol = i % 2 === 0;
    markets.push(sol ? SOL_USDC : BTC_USDC);
    quantities.push(sol ? BigInt(1 + i) * 100_000_000n : BigInt(1 + i) * 100_000n); // 0.1–6.4 SOL, 0.001–0.064 BTC
    prices.push(sol ? (150n + BigInt(i % 5)) * USD : (60_000n + BigInt(i * 10)) * USD);
  }
  return { ctx, account, changes: new MarginChanges(), quantities, prices, markets };
}

let f: Fixture = fixture();
let i = 0;
let accepted = 0;

/** One order's check: build its post-trade balance deltas, evaluate C8 on the touched slots. */
function preTradeCheck(side: Side): void {
  const k = i++ & (VARIANTS - 1);
  spotTradeChanges(f.changes, f.ctx, f.markets[k]!, side, f.quantities[k]!, f.prices[k]!, 10);
  if (f.account.wouldPassInitialMargin(f.changes)) accepted++;
}

/** A margin buy that turns USDC into a borrow (the borrow slot's IMF path, not the collateral path). */
let borrowFixture: Fixture = fixture();
function preTradeCheckBorrowing(): void {
  const k = i++ & (VARIANTS - 1);
  spotTradeChanges(borrowFixture.changes, borrowFixture.ctx, SOL_USDC, Side.Buy, 300_000_000_000n + borrowFixture.quantities[k]!, 150n * USD, 10);
  if (borrowFixture.account.wouldPassInitialMargin(borrowFixture.changes)) accepted++;
}

/** A perp order: its open quantity added to the position's exposure (C4), checked with C8. */
function preTradeCheckPerp(): void {
  const k = i++ & (VARIANTS - 1);
  f.changes.clear().addPositionOrders(SOL_PERP, f.quantities[k]!, 0n);
  if (f.account.wouldPassInitialMargin(f.changes)) accepted++;
}

export const benchmarks: BenchDef[] = [
  {
    id: "risk.pretrade-check",
    kind: "tinybench",
    setup: () => {
      f = fixture();
      if (!f.account.wouldPassInitialMargin(f.changes.clear())) throw new Error("fixture account must pass");
    },
    fn: () => preTradeCheck((i & 1) === 0 ? Side.Buy : Side.Sell),
    notes:
      "C8 pre-trade margin check of a spot-margin order (build post-trade deltas of 2 assets + IMR test) on an " +
      "account with 5 collateral assets and 3 perp positions; alternates SOL/BTC, buy/sell, 64 sizes",
  },
  {
    id: "risk.pretrade-check.borrowing",
    kind: "tinybench",
    setup: () => {
      borrowFixture = fixture();
    },
    fn: preTradeCheckBorrowing,
    notes: "same account, a SOL margin buy large enough to turn USDC into a borrow (borrow IMF path)",
  },
  {
    id: "risk.pretrade-check.perp-order",
    kind: "tinybench",
    setup: () => {
      f = fixture();
    },
    fn: preTradeCheckPerp,
    notes: "same account, a SOL perp order added to open-order exposure (C4) and checked (C8)",
  },
];

/** Keeps the result observable so the checks cannot be optimized away. */
export function acceptedCount(): number {
  return accepted;
}
