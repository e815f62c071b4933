// Where each command kind goes: the one routing table every producer reads (Engine.preTrade, ThreadedPipeline's
// submit paths, the risk worker's forwarding to matching). A route has three parts:
//   risk       — which risk shard runs R1: the account's owner, risk shard 0, or every risk shard (replicated state:
//                the clock, marks; shard 0 speaks for the command and alone decides whether it goes on);
//   matching   — where a command R1 passes goes next: nowhere, its market's matching shard (CancelAll over
//                ALL_MARKETS: one copy per market), or every matching shard (the clock);
//   settlement — whether the settlement stage applies it too (the clock; as they land, oracle and funding inputs).
// The table is a mapped type over CommandKind: a new kind without a route does not compile.
import { ALL_MARKETS, CommandKind, EventKind } from "../model/index.ts";
import { riskShardOf } from "../risk/index.ts";

export const RiskRoute = {
  /** The risk shard owning `account` (riskShardOf). */
  ByAccount: 0,
  /** Risk shard 0 alone: market-wide commands that carry no account of their own. */
  ShardZero: 1,
  /** Every risk shard, in shard order; shard 0 answers and decides whether the command goes on. */
  Every: 2,
} as const;
export type RiskRoute = (typeof RiskRoute)[keyof typeof RiskRoute];

export const MatchingRoute = {
  /** Completed (or refused) by risk: never reaches matching. */
  None: 0,
  /** The matching shard of `market` (matchingShardOf). */
  ByMarket: 1,
  /** By market; `market` = ALL_MARKETS becomes one copy per market, in market order, same sequence number. */
  ByMarketOrEach: 2,
  /** Every matching shard, in shard order. */
  Every: 3,
} as const;
export type MatchingRoute = (typeof MatchingRoute)[keyof typeof MatchingRoute];

export interface CommandRoute {
  readonly risk: RiskRoute;
  readonly matching: MatchingRoute;
  readonly settlement: boolean;
}

/** Account commands, queries and manual pool actions: the account's risk shard, nothing after it. */
const ACCOUNT_ONLY: CommandRoute = { risk: RiskRoute.ByAccount, matching: MatchingRoute.None, settlement: false };
/** Orders and cancels: the account's risk shard, then the market's matching shard. */
const ORDER: CommandRoute = { risk: RiskRoute.ByAccount, matching: MatchingRoute.ByMarket, settlement: false };

/** The routing table: every CommandKind, one route. */
export const COMMAND_ROUTES: { readonly [K in CommandKind]: CommandRoute } = {
  // Never produced by the gateway; risk refuses it (UnknownCommand) at the account's shard.
  [CommandKind.None]: ACCOUNT_ONLY,
  [CommandKind.Deposit]: ACCOUNT_ONLY,
  [CommandKind.Withdraw]: ACCOUNT_ONLY,
  [CommandKind.PlaceOrder]: ORDER,
  [CommandKind.CancelOrder]: ORDER,
  [CommandKind.CancelAll]: { risk: RiskRoute.ByAccount, matching: MatchingRoute.ByMarketOrEach, settlement: false },
  [CommandKind.AdvanceTime]: { risk: RiskRoute.Every, matching: MatchingRoute.Every, settlement: true },
  // A2: between sub-accounts of one user, and shards are by user: both accounts are on the source's shard.
  [CommandKind.Transfer]: ACCOUNT_ONLY,
  [CommandKind.SetMarketState]: { risk: RiskRoute.ShardZero, matching: MatchingRoute.ByMarket, settlement: false },
  // Not accepted from outside yet (the oracle lands with P2); risk refuses it (UnknownCommand).
  [CommandKind.SetOraclePrice]: ACCOUNT_ONLY,
  [CommandKind.ReplaceOrder]: ORDER,
  // Matching sets its band inputs itself (engine.ts decision P3); the kind stays for tests of O6/O7 and, from outside,
  // risk refuses it (UnknownCommand).
  [CommandKind.MarketBandInputs]: ACCOUNT_ONLY,
  [CommandKind.UpdateAccountSettings]: ACCOUNT_ONLY,
  [CommandKind.SetMarkPrice]: { risk: RiskRoute.Every, matching: MatchingRoute.None, settlement: false },
  [CommandKind.QueryCollateral]: ACCOUNT_ONLY,
  [CommandKind.QueryMaxOrder]: ACCOUNT_ONLY,
  [CommandKind.QueryMaxWithdrawal]: ACCOUNT_ONLY,
  [CommandKind.Borrow]: ACCOUNT_ONLY,
  [CommandKind.Repay]: ACCOUNT_ONLY,
  [CommandKind.Lend]: ACCOUNT_ONLY,
  [CommandKind.Redeem]: ACCOUNT_ONLY,
  [CommandKind.QueryPoolStats]: ACCOUNT_ONLY,
  [CommandKind.QueryRateCurve]: ACCOUNT_ONLY,
  [CommandKind.QueryInterestHistory]: ACCOUNT_ONLY,
  [CommandKind.QueryMaxBorrow]: ACCOUNT_ONLY,
  [CommandKind.RegisterApiKey]: ACCOUNT_ONLY,
  [CommandKind.RevokeApiKey]: ACCOUNT_ONLY,
  // P2: every risk shard keeps a replica of the oracle and computes the index itself (engine.ts D2, P2 replica);
  // P3: so does every matching shard, for its perpetuals' marks (engine.ts decision P3).
  [CommandKind.OracleQuote]: { risk: RiskRoute.Every, matching: MatchingRoute.Every, settlement: false },
  [CommandKind.QueryPositions]: ACCOUNT_ONLY,
  // Every risk shard's open-interest replica agrees at a batch boundary: the shard of account 0 answers.
  [CommandKind.QueryOpenInterest]: ACCOUNT_ONLY,
  [CommandKind.QueryLiquidationHistory]: ACCOUNT_ONLY,
  // Every risk shard's insurance replica (Σ of the slices, its history) agrees at a batch boundary: account 0's answers.
  [CommandKind.QueryInsuranceFund]: ACCOUNT_ONLY,
  [CommandKind.QueryInsuranceHistory]: ACCOUNT_ONLY,
  // The account's own shard keeps its histories; every shard replicates the funding rates: account 0's answers.
  [CommandKind.QuerySettlementHistory]: ACCOUNT_ONLY,
  [CommandKind.QueryFundingHistory]: ACCOUNT_ONLY,
  [CommandKind.QueryFundingRateHistory]: ACCOUNT_ONLY,
  [CommandKind.QueryLenderLosses]: ACCOUNT_ONLY, // Q4: account 0's shard answers from its replica
  // Q3/Q4 (engine.ts "Q3/Q4 (as built)"): made in phase 0 by the giving account's risk shard and forwarded to its
  // market's matching shard like an engine order; from outside (a journal) risk refuses it (UnknownCommand).
  [CommandKind.LiquidationTransfer]: ORDER,
};

/**
 * Matching events addressed to every risk shard rather than to an account's (engine.ts decision P3): the marks and
 * funding rates of a settlement batch, which every shard applies to its own accounts.
 */
export function toEveryRiskShard(eventKind: number): boolean {
  return eventKind === EventKind.MarkPrice || eventKind === EventKind.FundingRate;
}

/**
 * Matching events that go to the maker's (the taking account's) risk shard as well as to the account's: a Fill, and
 * a Q3/Q4 LiquidationTransfer (engine.ts "Q3/Q4 (as built)": the matching shard is the cross-shard switch).
 */
export function toMakerRiskShardToo(eventKind: number): boolean {
  return eventKind === EventKind.Fill || eventKind === EventKind.LiquidationTransfer;
}

/** The table as an array indexed by kind (a kind outside it, e.g. from a test, routes like None). */
const ROUTE_BY_KIND: readonly CommandRoute[] = (() => {
  const byKind: CommandRoute[] = [];
  for (const kind of Object.values(CommandKind)) byKind[kind] = COMMAND_ROUTES[kind];
  for (let k = 0; k < byKind.length; k++) byKind[k] ??= ACCOUNT_ONLY;
  return byKind;
})();

export function routeOf(kind: number): CommandRoute {
  return ROUTE_BY_KIND[kind] ?? ACCOUNT_ONLY;
}

/** Risk shard index meaning "every risk shard" (riskShardOfRoute). */
export const EVERY_RISK_SHARD = -1;

/** The risk shard that runs R1 for a command of `kind` for `account`, or EVERY_RISK_SHARD. */
export function riskShardOfRoute(kind: number, account: number, riskShards: number): number {
  const risk = routeOf(kind).risk;
  if (risk === RiskRoute.ByAccount) return riskShardOf(account, riskShards);
  return risk === RiskRoute.ShardZero ? 0 : EVERY_RISK_SHARD;
}

/** Does the settlement stage take commands of `kind`? */
export function settlementTakes(kind: number): boolean {
  return routeOf(kind).settlement;
}

/** `market` is ALL_MARKETS and the route expands it into one copy per market. */
export function expandsToEachMarket(route: CommandRoute, market: number): boolean {
  return route.matching === MatchingRoute.ByMarketOrEach && market === ALL_MARKETS;
}
