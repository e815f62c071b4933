// The accounts, config and commands of the Q3/Q4 backstop tests (liquidation-backstop.test.ts on one risk shard,
// liquidation-backstop-shards.test.ts across shards): the same scenario, so the two files agree on every amount.
import { expect } from "vitest";
import { CommandKind, OrderFlag, OrderType, Side, TimeInForce, type CommandRecord, type EventRecord, type ExchangeConfig } from "../../engine/model/index.ts";
import { loadConfig, type EngineTopology } from "../../engine/pipeline/index.ts";
import { EngineHarness } from "./engine-harness.ts";

export const base = loadConfig();
export const USDC = 0;
export const BTC = 2;
export const SOL = 4;
export const SOL_USDC = 2;
export const BTC_PERP = 3;
export const USD = 1_000_000_000n;
export const USDC_UNIT = 1_000_000n;
export const SOL_UNIT = 1_000_000_000n;
export const BTC_UNIT = 100_000_000n;
export const LENDER = 16;
export const ALICE = 32;
export const BOB = 48;
export const DAVE = 80;
export const ERIN = 96;
export const BACKSTOP = 112;
export const FRANK = 128;
export const MAKER = 144;
export const CARL = 160;

/** The default config with account 112 as the Q3 backstop, within `limitUsd` of exposure. */
export function withBackstop(limitUsd: bigint): ExchangeConfig {
  return { ...base, liquidation: { ...base.liquidation, backstopAccount: BACKSTOP, backstopLimitUsd: limitUsd } };
}

export class BackstopHarness extends EngineHarness {
  constructor(config: ExchangeConfig, topology: EngineTopology = { riskShards: 1, matchingShards: 1 }) {
    super(config, { topology, validateMatching: true });
  }

  usdc(account: number): bigint {
    return this.risk(account).balance(account, USDC).available;
  }

  position(account: number): [bigint, bigint] {
    const p = this.risk(account).perpPosition(account, BTC_PERP);
    return [p.netQuantity, p.entryPrice];
  }

  fund(): bigint {
    return this.engine.risk[0]!.insuranceFund(USDC);
  }
}

export const deposit = (account: number, asset: number, amount: bigint): Partial<CommandRecord> => ({ kind: CommandKind.Deposit, account, asset, amount });
export const mark = (asset: number, price: bigint): Partial<CommandRecord> => ({ kind: CommandKind.SetMarkPrice, asset, price });
export const gtc = (account: number, market: number, side: number, price: bigint, quantity: bigint): Partial<CommandRecord> => ({
  kind: CommandKind.PlaceOrder, account, market, side, orderType: OrderType.Limit, tif: TimeInForce.GTC, price, quantity,
});
export const kinds = (events: EventRecord[], kind: number): EventRecord[] => events.filter((e) => e.kind === kind);

/**
 * The maker quotes 0.01 BTC-PERP at `bid` and at `markPrice`, and the operator sets BTC's mark: with the last trade at
 * 60,000 the P3 mark of every settlement batch is then median{bid, markPrice, 60,000} = markPrice, and a liquidation
 * sell (bound markPrice × 95%) finds no bid when `bid` is below it.
 */
export function quotes(bid: bigint, markPrice: bigint): Partial<CommandRecord>[] {
  return [
    deposit(MAKER, USDC, 10_000n * USDC_UNIT),
    gtc(MAKER, BTC_PERP, Side.Buy, bid, BTC_UNIT / 100n),
    gtc(MAKER, BTC_PERP, Side.Sell, markPrice, BTC_UNIT / 100n),
    mark(BTC, markPrice),
  ];
}

/** The fund gets Frank's 1% fee: 1.0465 USDC; Bob holds 100,000 USDC (less a SOL bought at 115). The lend goes a batch
 * before Frank's borrow (K > 1: another shard's lend is seen after the merge). */
export function fundWithFrank(h: BackstopHarness): void {
  h.batch([deposit(LENDER, USDC, 10_000n * USDC_UNIT), { kind: CommandKind.Lend, account: LENDER, asset: USDC, amount: 10_000n * USDC_UNIT }, deposit(FRANK, SOL, 10n * SOL_UNIT)]);
  h.batch([{ kind: CommandKind.Withdraw, account: FRANK, asset: USDC, amount: 1_000n * USDC_UNIT, flags: OrderFlag.AutoBorrow }]);
  h.batch([deposit(BOB, USDC, 100_000n * USDC_UNIT), gtc(BOB, SOL_USDC, Side.Buy, 115n * USD, SOL_UNIT)]);
  h.batch([mark(SOL, 116n * USD)]);
  h.tick();
  expect(h.fund()).toBe(1_046_500n);
}

/** The Q4 ADL scenario: fundWithFrank, then Bob shorts 1 BTC-PERP to Alice at 60,000 and Dave 0.5 to Erin (Alice is
 * bankrupt once the mark is 53,955). */
export function adlSetup(h: BackstopHarness): void {
  fundWithFrank(h);
  h.batch([deposit(ALICE, USDC, 6_100n * USDC_UNIT), deposit(DAVE, USDC, 3_100n * USDC_UNIT), deposit(ERIN, USDC, 50_000n * USDC_UNIT)]);
  h.batch([gtc(BOB, BTC_PERP, Side.Sell, 60_000n * USD, BTC_UNIT), gtc(DAVE, BTC_PERP, Side.Sell, 60_000n * USD, BTC_UNIT / 2n)]);
  h.batch([gtc(ALICE, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT), gtc(ERIN, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT / 2n)]);
  expect([h.position(ALICE)[0], h.position(BOB)[0], h.position(DAVE)[0], h.position(ERIN)[0]]).toEqual([BTC_UNIT, -BTC_UNIT, -BTC_UNIT / 2n, BTC_UNIT / 2n]);
}
