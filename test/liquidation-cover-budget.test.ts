// Q4, X1: one cover budget per shard and batch, shared by both halves of Q4 (engine/pipeline/engine.ts "Q4 one cover
// budget (as built)"): in ONE batch the lending half's insurance cover (liquidation-lenders.ts resolveBankruptcy) and
// the perpetual half's (liquidation-transfers.ts declareBankrupt) spend the same floor(fund / K). Before, with K = 2,
// each shard's lending half had floor(F / 2) and its perpetual half then floor((F − what its lenders spent) / 2) more:
// the two shards together covered 1,160,800 of a 1,046,500 fund and left it at −114,300 with no socialized loss.
// Accounts: user = id / 16, risk shard = user % K — Alice (32) and Carl (160) on shard 0, Gina (176) on shard 1.
import { describe, expect, it } from "vitest";
import { CommandKind, EventKind, OrderFlag, Side, SocializationKind, type CommandRecord, type EventRecord } from "../engine/model/index.ts";
import type { EngineTopology } from "../engine/pipeline/index.ts";
import { SettlementReason } from "../engine/risk/index.ts";
import {
  ALICE, BOB, BTC_PERP, BTC_UNIT, BackstopHarness as Harness, CARL, DAVE, ERIN, FRANK, LENDER, SOL, SOL_UNIT, SOL_USDC, USD, USDC, USDC_UNIT,
  base, deposit, gtc, kinds, mark, quotes,
} from "./helpers/backstop-scenario.ts";

const USDT = 1;
const ETH = 3;
const ETH_UNIT = 100_000_000n;
const GINA = 176;
const F = 1_046_500n; // Frank's 1% Q2 fee: the whole fund
const LENDING_DEFICIT = 480_400n; // 0.00001 ETH at $50,000 − 2 USDT × $0.01 × 0.98
const PERP_DEFICIT = 200_000n; // Alice's −0.2 USD at mark 53,955

const lend = (account: number, asset: number, amount: bigint): Partial<CommandRecord> => ({ kind: CommandKind.Lend, account, asset, amount });
const socializations = (events: EventRecord[]) =>
  kinds(events, EventKind.Socialization).map((e) => [e.socializationKind, e.account, e.socializedAmount, e.socializedLoss]);
const covers = (events: EventRecord[]) =>
  kinds(events, EventKind.Settlement).filter((e) => e.settlementReason === SettlementReason.InsuranceCover).map((e) => [e.account, e.settledAmount]);
const socializedLosses = (events: EventRecord[]) => kinds(events, EventKind.SocializedLoss).map((e) => [e.account, e.adlLoss]);

/**
 * The fund: Frank's fee (liquidation-adl-shards.test.ts). Alice longs 1 BTC-PERP at 60,000 (Bob and Dave short);
 * Carl and Gina each hold 2 USDT and borrow 0.00001 ETH, taken out. One batch then makes all three bankrupt: BTC to
 * 53,955 with no bid within the bound (Alice stalls, equity −0.2 USD), ETH to $50,000 and USDT to $0.01 (Carl and
 * Gina owe $0.50 against $0.0196 nobody can sell).
 */
function setup(h: Harness): void {
  h.batch([deposit(LENDER, USDC, 10_000n * USDC_UNIT), lend(LENDER, USDC, 10_000n * USDC_UNIT), deposit(FRANK, SOL, 10n * SOL_UNIT), deposit(LENDER, ETH, ETH_UNIT), lend(LENDER, ETH, ETH_UNIT)]);
  h.batch([{ kind: CommandKind.Withdraw, account: FRANK, asset: USDC, amount: 1_000n * USDC_UNIT, flags: OrderFlag.AutoBorrow }]);
  h.batch([deposit(BOB, USDC, 100_000n * USDC_UNIT), gtc(BOB, SOL_USDC, Side.Buy, 115n * USD, SOL_UNIT)]);
  h.batch([mark(SOL, 116n * USD)]);
  h.tick();
  expect(h.fund()).toBe(F);
  h.batch([deposit(ALICE, USDC, 6_104_800_000n), deposit(DAVE, USDC, 3_100n * USDC_UNIT), deposit(ERIN, USDC, 50_000n * USDC_UNIT), deposit(CARL, USDT, 2n * USDC_UNIT), deposit(GINA, USDT, 2n * USDC_UNIT)]);
  h.batch([gtc(BOB, BTC_PERP, Side.Sell, 60_000n * USD, BTC_UNIT), gtc(DAVE, BTC_PERP, Side.Sell, 60_000n * USD, BTC_UNIT / 2n)]);
  h.batch([
    gtc(ALICE, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT), gtc(ERIN, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT / 2n),
    { kind: CommandKind.Withdraw, account: CARL, asset: ETH, amount: 1_000n, flags: OrderFlag.AutoBorrow },
    { kind: CommandKind.Withdraw, account: GINA, asset: ETH, amount: 1_000n, flags: OrderFlag.AutoBorrow },
  ]);
  expect(h.position(ALICE)[0]).toBe(BTC_UNIT);
  for (const id of [CARL, GINA]) expect(h.risk(id).poolBalance(id, ETH).borrowed).toBe(1_000n);
  h.batch([...quotes(50_000n * USD, 53_955n * USD), mark(ETH, 50_000n * USD), mark(USDT, USD / 100n)]);
  expect(h.liquidating()).toEqual([ALICE, CARL, GINA]);
}

interface Run {
  found: unknown[][];
  /** The batch where both halves want the fund: the lending covers, the perpetual cover (phase 3b) and ADL losses. */
  lending: unknown[][];
  perpCovers: unknown[][];
  losses: unknown[][];
  fund: bigint;
}

function run(t: EngineTopology): { h: Harness; r: Run } {
  const h = new Harness(base, t);
  setup(h);
  if (t.riskShards === 2) expect([h.risk(ALICE) === h.risk(CARL), h.risk(ALICE) === h.risk(GINA)]).toEqual([true, false]);
  const totals = h.totals();
  const found = h.tick(); // Carl and Gina found bankrupt; Alice's book step finds no bid (stalled)
  expect(kinds(found, EventKind.Fill)).toEqual([]);
  const both = h.tick(); // phase 0: the lending covers, then Alice's bankruptcy — one budget
  expect(h.totals()).toEqual(totals); // X1
  return {
    h,
    r: { found: socializations(found), lending: socializations(both), perpCovers: covers(both), losses: socializedLosses(both), fund: h.fund() },
  };
}

describe("Q4 one cover budget for the lending and the perpetual half", () => {
  it("Q4, X1: K = 1 — Carl's and Gina's lending covers (480,400 each) come first, Alice's perpetual cover gets what they left of the 1,046,500 fund (85,700) and ADL the rest: the fund ends at 0, never below", () => {
    const { r } = run({ riskShards: 1, matchingShards: 1 });
    expect(r.found).toEqual([[SocializationKind.Bankrupt, CARL, 0n, 0n], [SocializationKind.Bankrupt, GINA, 0n, 0n]]);
    expect(r.lending).toEqual([[SocializationKind.InsuranceCover, CARL, LENDING_DEFICIT, 0n], [SocializationKind.InsuranceCover, GINA, LENDING_DEFICIT, 0n]]);
    expect(r.perpCovers).toEqual([[ALICE, F - 2n * LENDING_DEFICIT]]);
    expect(r.losses.length).toBeGreaterThan(0); // the 114,300 beyond the fund goes to ADL (a recorded socialized loss)
    expect(r.fund).toBe(0n);
  });

  it("Q4, X1: K = 2 — Carl's 480,400 and Alice's cover share shard 0's floor(1,046,500 / 2) = 523,250, so Alice (deficit 200,000 > the 42,850 left) posts her ADL demand and no perpetual cover is paid; Gina's 480,400 is shard 1's: the fund ends at 85,700 (before: Alice got 200,000 more and the fund fell to −114,300 with no socialized loss)", () => {
    const { h, r } = run({ riskShards: 2, matchingShards: 1 });
    expect(r.found).toEqual([[SocializationKind.Bankrupt, CARL, 0n, 0n], [SocializationKind.Bankrupt, GINA, 0n, 0n]]);
    expect(r.lending).toEqual([[SocializationKind.InsuranceCover, CARL, LENDING_DEFICIT, 0n], [SocializationKind.InsuranceCover, GINA, LENDING_DEFICIT, 0n]]);
    // Never negative without a recorded socialized loss: none recorded, so the fund holds what the covers left.
    expect([r.fund, r.losses]).toEqual([F - 2n * LENDING_DEFICIT, []]);
    expect(r.perpCovers).toEqual([]);
    // Two batches later (offers, decision) the ADL across shards pays Alice what the fund has left, 85,700, as K = 1.
    const perpCovers: unknown[][] = [];
    for (let i = 0; i < 3 && h.liquidating().includes(ALICE); i++) perpCovers.push(...covers(h.tick()));
    expect(perpCovers).toEqual([[ALICE, F - 2n * LENDING_DEFICIT]]);
    expect([h.fund(), h.liquidating().includes(ALICE)]).toEqual([0n, false]);
  });
});
