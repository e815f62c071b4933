// Public face of the risk stage: accounts, settings, balances, holds, pre- and post-trade, fees, margin queries.
export * from "./accounts.ts";
export {
  RiskShard,
  RISK_LIMITS,
  PoolMovement,
  reportedRatio,
  type AssetCollateral,
  type CollateralStatement,
  type MaxQuantity,
} from "./shard.ts";
export { DAY_MS, VOLUME_WINDOW_DAYS, dayOf, VolumeBook } from "./fees.ts";
