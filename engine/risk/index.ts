// Public face of the risk stage: accounts, balances, holds, pre- and post-trade.
export * from "./accounts.ts";
export { RiskShard, RISK_LIMITS } from "./shard.ts";
