// The routing table (engine/pipeline/routing.ts) is the one rule for where a command goes: every command kind, sent
// through every topology, reaches the risk shards, matching shards and settlement its route names, and the threaded
// pipeline (fused and split, one and several shards) gives the in-process Engine's events and state hash (X4).
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  AccountSetting,
  ALL_ASSETS,
  ALL_MARKETS,
  CommandKind,
  CommandRecord,
  MarketState,
  PRICE_SCALE,
  Side,
  type EventRecord,
  type EventSink,
} from "../engine/model/index.ts";
import {
  COMMAND_RECORD_BYTES,
  COMMAND_ROUTES,
  Engine,
  loadConfig,
  matchingShardOf,
  MatchingRoute,
  RiskRoute,
  ThreadedPipeline,
  viewsOf,
  writeCommand,
  type EngineTopology,
} from "../engine/pipeline/index.ts";
import { riskShardOf } from "../engine/risk/index.ts";
import { deposit, limit } from "./helpers/commands.ts";

const config = loadConfig();
const ALICE = 16; // user 1
const BOB = 32; // user 2
const CAROL = 48; // user 3
const ETH_USDC = 1;
const SOL_USDC = 2;
const ETH_PRICE = 3_000_000_000_000n; // $3,000 (price units of 1e-9)
const ETH_001 = 1_000_000n; // 0.01 ETH
const START_MS = 1_767_225_600_000;

type RiskClass = "account" | "zero" | "every";
type MatchingClass = "none" | "market" | "each" | "every";
/** The expected route of every kind, spelled out here (not read from the table it checks). */
const EXPECTED: Record<number, [RiskClass, MatchingClass, boolean]> = {
  [CommandKind.None]: ["account", "none", false],
  [CommandKind.Deposit]: ["account", "none", false],
  [CommandKind.Withdraw]: ["account", "none", false],
  [CommandKind.PlaceOrder]: ["account", "market", false],
  [CommandKind.CancelOrder]: ["account", "market", false],
  [CommandKind.CancelAll]: ["account", "each", false],
  [CommandKind.AdvanceTime]: ["every", "every", true],
  [CommandKind.Transfer]: ["account", "none", false],
  [CommandKind.SetMarketState]: ["zero", "market", false],
  [CommandKind.SetOraclePrice]: ["account", "none", false],
  [CommandKind.ReplaceOrder]: ["account", "market", false],
  [CommandKind.MarketBandInputs]: ["account", "none", false],
  [CommandKind.UpdateAccountSettings]: ["account", "none", false],
  [CommandKind.SetMarkPrice]: ["every", "none", false],
  [CommandKind.QueryCollateral]: ["account", "none", false],
  [CommandKind.QueryMaxOrder]: ["account", "none", false],
  [CommandKind.QueryMaxWithdrawal]: ["account", "none", false],
  [CommandKind.Borrow]: ["account", "none", false],
  [CommandKind.Repay]: ["account", "none", false],
  [CommandKind.Lend]: ["account", "none", false],
  [CommandKind.Redeem]: ["account", "none", false],
  [CommandKind.QueryPoolStats]: ["account", "none", false],
  [CommandKind.QueryRateCurve]: ["account", "none", false],
  [CommandKind.QueryInterestHistory]: ["account", "none", false],
  [CommandKind.QueryMaxBorrow]: ["account", "none", false],
  [CommandKind.RegisterApiKey]: ["account", "none", false],
  [CommandKind.RevokeApiKey]: ["account", "none", false],
  // P3 (engine.ts): every matching shard keeps an oracle replica for its perpetuals' marks.
  [CommandKind.OracleQuote]: ["every", "every", false],
  [CommandKind.QueryPositions]: ["account", "none", false],
  [CommandKind.QueryOpenInterest]: ["account", "none", false],
  [CommandKind.QueryLiquidationHistory]: ["account", "none", false],
  [CommandKind.QueryInsuranceFund]: ["account", "none", false],
  [CommandKind.QueryInsuranceHistory]: ["account", "none", false],
  [CommandKind.QuerySettlementHistory]: ["account", "none", false],
  [CommandKind.QueryFundingHistory]: ["account", "none", false],
  [CommandKind.QueryFundingRateHistory]: ["account", "none", false],
  [CommandKind.QueryLenderLosses]: ["account", "none", false],
  // Q3/Q4: made in phase 0 and forwarded to its market's matching shard; from a journal, risk refuses it.
  [CommandKind.LiquidationTransfer]: ["account", "market", false],
};

const RISK_CLASS: Record<number, RiskClass> = { [RiskRoute.ByAccount]: "account", [RiskRoute.ShardZero]: "zero", [RiskRoute.Every]: "every" };
const MATCHING_CLASS: Record<number, MatchingClass> = {
  [MatchingRoute.None]: "none",
  [MatchingRoute.ByMarket]: "market",
  [MatchingRoute.ByMarketOrEach]: "each",
  [MatchingRoute.Every]: "every",
};

function command(kind: CommandKind, account: number, fill: (c: CommandRecord) => void = () => {}): CommandRecord {
  const c = new CommandRecord();
  c.kind = kind;
  c.account = account;
  fill(c);
  return c;
}

/**
 * Funding, a resting ask of Bob's, then one command of every kind, each in its own batch. The commands bound for
 * matching are ones R1 passes (valid account, market, time), so where they go next is visible too.
 */
function stream(): CommandRecord[] {
  const out: CommandRecord[] = [];
  for (const a of [ALICE, BOB, CAROL]) {
    out.push(deposit(a, 0, 1_000_000_000_000n, 0), deposit(a, 3, 100_000_000_000n, 0));
  }
  out.push(limit(BOB, ETH_USDC, Side.Sell, ETH_PRICE + 100_000_000_000n, ETH_001, {}, 0));
  const restingSeq = out.length;
  const byKind: Record<number, CommandRecord> = {
    [CommandKind.None]: command(CommandKind.None, ALICE),
    [CommandKind.Deposit]: deposit(ALICE, 0, 5_000_000n, 0),
    [CommandKind.Withdraw]: command(CommandKind.Withdraw, ALICE, (c) => ((c.asset = 0), (c.amount = 1_000n))),
    [CommandKind.PlaceOrder]: limit(CAROL, ETH_USDC, Side.Buy, ETH_PRICE, ETH_001, {}, 0),
    [CommandKind.CancelOrder]: command(CommandKind.CancelOrder, CAROL, (c) => ((c.market = ETH_USDC), (c.orderId = restingSeq + 4))),
    [CommandKind.CancelAll]: command(CommandKind.CancelAll, CAROL, (c) => (c.market = ALL_MARKETS)),
    [CommandKind.AdvanceTime]: command(CommandKind.AdvanceTime, 0, (c) => (c.timeMs = START_MS)),
    [CommandKind.Transfer]: command(CommandKind.Transfer, ALICE, (c) => ((c.account2 = ALICE + 1), (c.asset = 0), (c.amount = 2_000n))),
    [CommandKind.SetMarketState]: command(CommandKind.SetMarketState, 0, (c) => ((c.market = SOL_USDC), (c.marketState = MarketState.Open))),
    [CommandKind.SetOraclePrice]: command(CommandKind.SetOraclePrice, ALICE, (c) => ((c.asset = 4), (c.price = 150n * PRICE_SCALE))),
    [CommandKind.ReplaceOrder]: command(CommandKind.ReplaceOrder, BOB, (c) => {
      c.market = ETH_USDC;
      c.orderId = restingSeq;
      c.price = ETH_PRICE + 200_000_000_000n;
      c.quantity = ETH_001;
    }),
    [CommandKind.MarketBandInputs]: command(CommandKind.MarketBandInputs, ALICE, (c) => ((c.market = ETH_USDC), (c.price = ETH_PRICE))),
    [CommandKind.UpdateAccountSettings]: command(CommandKind.UpdateAccountSettings, ALICE, (c) => {
      c.flags = AccountSetting.MarginEnabled | (AccountSetting.MarginEnabled << 8);
    }),
    [CommandKind.SetMarkPrice]: command(CommandKind.SetMarkPrice, 0, (c) => ((c.asset = 4), (c.price = 151n * PRICE_SCALE))),
    [CommandKind.QueryCollateral]: command(CommandKind.QueryCollateral, ALICE),
    [CommandKind.QueryMaxOrder]: command(CommandKind.QueryMaxOrder, CAROL, (c) => ((c.market = ETH_USDC), (c.side = Side.Buy), (c.price = ETH_PRICE))),
    [CommandKind.QueryMaxWithdrawal]: command(CommandKind.QueryMaxWithdrawal, BOB, (c) => (c.asset = 0)),
    [CommandKind.Borrow]: command(CommandKind.Borrow, ALICE, (c) => ((c.asset = 3), (c.amount = 1_000n))),
    [CommandKind.Repay]: command(CommandKind.Repay, ALICE, (c) => (c.asset = 3)),
    [CommandKind.Lend]: command(CommandKind.Lend, BOB, (c) => ((c.asset = 0), (c.amount = 3_000_000n))),
    [CommandKind.Redeem]: command(CommandKind.Redeem, BOB, (c) => ((c.asset = 0), (c.amount = 1_000_000n))),
    [CommandKind.QueryPoolStats]: command(CommandKind.QueryPoolStats, CAROL, (c) => (c.asset = ALL_ASSETS)),
    [CommandKind.QueryRateCurve]: command(CommandKind.QueryRateCurve, CAROL, (c) => ((c.asset = 0), (c.curvePoints = 3))),
    [CommandKind.QueryInterestHistory]: command(CommandKind.QueryInterestHistory, BOB, (c) => ((c.asset = ALL_ASSETS), (c.historyLimit = 10))),
    [CommandKind.QueryMaxBorrow]: command(CommandKind.QueryMaxBorrow, ALICE, (c) => (c.asset = 0)),
    [CommandKind.QueryPositions]: command(CommandKind.QueryPositions, ALICE),
    [CommandKind.QueryOpenInterest]: command(CommandKind.QueryOpenInterest, 0, (c) => (c.market = ALL_MARKETS)),
    [CommandKind.QueryLiquidationHistory]: command(CommandKind.QueryLiquidationHistory, ALICE, (c) => (c.historyLimit = 5)),
    [CommandKind.QueryInsuranceFund]: command(CommandKind.QueryInsuranceFund, 0, (c) => (c.asset = ALL_ASSETS)),
    [CommandKind.QueryInsuranceHistory]: command(CommandKind.QueryInsuranceHistory, 0, (c) => (c.asset = ALL_ASSETS)),
    [CommandKind.QuerySettlementHistory]: command(CommandKind.QuerySettlementHistory, ALICE, (c) => (c.market = ALL_MARKETS)),
    [CommandKind.QueryFundingHistory]: command(CommandKind.QueryFundingHistory, ALICE, (c) => (c.market = ALL_MARKETS)),
    [CommandKind.QueryFundingRateHistory]: command(CommandKind.QueryFundingRateHistory, 0, (c) => (c.market = 3)),
    [CommandKind.QueryLenderLosses]: command(CommandKind.QueryLenderLosses, 0, (c) => (c.asset = ALL_ASSETS)),
    [CommandKind.LiquidationTransfer]: command(CommandKind.LiquidationTransfer, ALICE, (c) => ((c.market = 3), (c.account2 = BOB), (c.quantity = 1n), (c.price = ETH_PRICE))),
    [CommandKind.RegisterApiKey]: command(CommandKind.RegisterApiKey, CAROL, (c) => ((c.flags = 1), (c.price = 7n), (c.quantity = 8n))),
    [CommandKind.RevokeApiKey]: command(CommandKind.RevokeApiKey, CAROL, (c) => ((c.price = 7n), (c.quantity = 8n))),
    [CommandKind.OracleQuote]: command(CommandKind.OracleQuote, 0, (c) => {
      c.asset = 4;
      c.oracleSource = 1;
      c.bid = 150n * PRICE_SCALE;
      c.ask = 151n * PRICE_SCALE;
      c.last = 150n * PRICE_SCALE;
      c.flags = 1;
    }),
  };
  for (const kind of Object.values(CommandKind)) out.push(byKind[kind]!);
  out.forEach((c, i) => (c.seq = i + 1));
  return out;
}

const PRELUDE = 7;

function eventText(e: EventRecord): string {
  return `${e.kind}|${e.seq}|${e.account}|${e.market}|${e.asset}|${e.side}|${e.orderId}|${e.code}|${e.message}|${e.price}|${e.quantity}|${e.available}|${e.locked}|${e.quoteQuantity}|${e.openQuantity}|${e.remainingQuantity}|${e.filledQuantity}|${e.marginLimit}|${e.poolLimit}|${e.commandAmount}|${e.acceptedKind}|${e.marketState}|${e.canceledOrders}|${e.reservedBorrow}|${e.interest}|${e.makerAccount}|${e.tradeId}|${e.timeMs}`;
}

interface Destinations {
  risk: number[];
  matching: number[];
  settlement: boolean;
}

/** Runs each command as its own batch through an in-process Engine, watching which stage shards it reaches. */
function runInProcess(topology: EngineTopology): { events: string[]; hash: string; went: Map<number, Destinations> } {
  const engine = new Engine(config, topology);
  let current: Destinations = { risk: [], matching: [], settlement: false };
  engine.risk.forEach((r, k) => {
    const preTrade = r.preTrade.bind(r);
    vi.spyOn(r, "preTrade").mockImplementation((c, sink) => (current.risk.push(k), preTrade(c, sink)));
  });
  engine.matching.forEach((m, k) => {
    const handle = m.handle.bind(m);
    const setTime = m.setTime.bind(m);
    vi.spyOn(m, "handle").mockImplementation((c, sink) => (current.matching.push(k), handle(c, sink)));
    vi.spyOn(m, "setTime").mockImplementation((t) => (current.matching.push(k), setTime(t)));
  });
  const settle = engine.settlement.handle.bind(engine.settlement);
  vi.spyOn(engine.settlement, "handle").mockImplementation((c) => ((current.settlement = true), settle(c)));
  const events: string[] = [];
  const sink: EventSink = { publish: (e) => events.push(eventText(e)) };
  const went = new Map<number, Destinations>();
  for (const c of stream()) {
    current = { risk: [], matching: [], settlement: false };
    engine.execute(c, sink);
    went.set(c.kind, current);
  }
  return { events, hash: engine.stateHash(), went };
}

/** Where the expected route sends `c` in `topology` (matching: only for commands R1 passes on). */
function expectedDestinations(c: CommandRecord, topology: EngineTopology): Destinations {
  const [risk, matching, settlement] = EXPECTED[c.kind]!;
  const all = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
  const riskShards = risk === "every" ? all(topology.riskShards) : risk === "zero" ? [0] : [riskShardOf(c.account, topology.riskShards)];
  let matchingShards: number[] = [];
  if (matching === "every") matchingShards = all(topology.matchingShards);
  // Q3/Q4: a LiquidationTransfer from outside (a journal) is refused by R1 and never reaches matching (phase 0 makes them).
  else if (matching === "market" && c.kind !== CommandKind.LiquidationTransfer) matchingShards = [matchingShardOf(c.market, topology.matchingShards)];
  // One copy per market, queued per matching shard; each shard handles its queue in turn.
  else if (matching === "each") matchingShards = config.markets.map((m) => matchingShardOf(m.id, topology.matchingShards)).sort((a, b) => a - b);
  return { risk: riskShards, matching: matchingShards, settlement };
}

const running: ThreadedPipeline[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

async function runThreaded(topology: EngineTopology, stages: "fused" | "split", encoded: boolean): Promise<{ events: string[]; hash: string }> {
  const events: string[] = [];
  const fatal: string[] = [];
  const p = await ThreadedPipeline.start(config, { onEvent: (e) => events.push(eventText(e)), onFatal: (m) => fatal.push(m) }, { topology, stages });
  running.push(p);
  const cmds = stream();
  const views = viewsOf(new ArrayBuffer(COMMAND_RECORD_BYTES));
  for (let i = 0; i < cmds.length; i++) {
    if (!encoded) {
      await p.submitBatch([cmds[i]!], 1, i + 1);
      continue;
    }
    writeCommand(views, 0, cmds[i]!);
    await p.submitEncoded(views, 0, 1, i + 1);
  }
  await p.waitForBatch(cmds.length);
  const hash = await p.stateHash();
  expect(fatal).toEqual([]);
  return { events, hash };
}

const TOPOLOGIES: EngineTopology[] = [
  { riskShards: 1, matchingShards: 1 },
  { riskShards: 1, matchingShards: 2 },
  { riskShards: 2, matchingShards: 1 },
  { riskShards: 2, matchingShards: 2 },
  { riskShards: 3, matchingShards: 2 },
];

describe("one routing table", () => {
  it("X4: the table routes every CommandKind: account's risk shard, risk shard 0 or every risk shard; then none, its market's, each market's or every matching shard; and settlement", () => {
    const kinds = Object.values(CommandKind);
    expect(Object.keys(COMMAND_ROUTES).map(Number).sort((a, b) => a - b)).toEqual([...kinds].sort((a, b) => a - b));
    for (const kind of kinds) {
      const r = COMMAND_ROUTES[kind];
      expect([kind, RISK_CLASS[r.risk], MATCHING_CLASS[r.matching], r.settlement]).toEqual([kind, ...EXPECTED[kind]!]);
      // engine.ts D1: what settlement takes, every risk and matching shard sees (they know the batch has its phase).
      if (r.settlement) expect([kind, r.risk, r.matching]).toEqual([kind, RiskRoute.Every, MatchingRoute.Every]);
    }
  });

  it("X4: the in-process Engine sends each command kind where the table says, in 1×1, 1×2, 2×1, 2×2 and 3×2, with the same events for any matching shard count", () => {
    const cmds = stream().slice(PRELUDE);
    expect(cmds.map((c) => c.kind)).toEqual(Object.values(CommandKind));
    // Events depend on the risk shard count (each shard borrows within its share of a pool, L: QueryMaxBorrow), not
    // on the matching shard count: the first topology of each risk shard count is the reference for the others.
    const reference = new Map<number, string[]>();
    for (const topology of TOPOLOGIES) {
      const run = runInProcess(topology);
      for (const c of cmds) expect([c.kind, run.went.get(c.kind)]).toEqual([c.kind, expectedDestinations(c, topology)]);
      // One speaker per command: the shards' events interleave differently, the multiset does not.
      const events = [...run.events].sort();
      const same = reference.get(topology.riskShards);
      if (same === undefined) reference.set(topology.riskShards, events);
      else expect(events).toEqual(same);
    }
    // The stream exercises the routes: the order rests, is replaced and canceled, the clock ticks, the mark moves, the
    // oracle quote applies (IndexPrice and CommandAccepted), positions are queried (CommandAccepted: Alice holds none)
    // and the open interest of the 3 perpetual markets (3 OpenInterest events); Q6: the liquidation and insurance
    // histories (a CommandAccepted each, no rows yet) and the insurance fund of the 5 assets (5 InsuranceFund events);
    // the three P4/P6 history queries are answered (CommandAccepted each: no perpetual activity yet); Q4: the lender
    // losses (a CommandAccepted, no rows); Q3/Q4: a LiquidationTransfer from outside is refused (CommandRejected
    // UnknownCommand).
    expect(reference.get(1)!.length).toBe(83);
  });

  it("X4: the threaded pipeline (fused 1×1, split 1×2, 2×2 and 3×2; as records and encoded) gives each topology's in-process events and state hash", async () => {
    const runs: [EngineTopology, "fused" | "split", boolean][] = [
      [TOPOLOGIES[0]!, "fused", false],
      [TOPOLOGIES[1]!, "split", true],
      [TOPOLOGIES[3]!, "split", true],
      [TOPOLOGIES[4]!, "split", false],
    ];
    for (const [topology, stages, encoded] of runs) {
      const expected = runInProcess(topology);
      const got = await runThreaded(topology, stages, encoded);
      expect(got.hash).toBe(expected.hash);
      if (topology.riskShards === 1) expect(got.events).toEqual(expected.events);
      else expect([...got.events].sort()).toEqual([...expected.events].sort());
      await running.pop()!.stop();
    }
    // Four pipelines started and stopped (up to six worker threads each): a machine shared with other suites needs time.
  }, 180_000);
});
