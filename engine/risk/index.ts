// Public face of the risk stage: accounts, settings, balances, holds, pre- and post-trade, fees, margin queries.
export * from "./accounts.ts";
export { RiskShard } from "./shard.ts";
export { RISK_LIMITS, SettlementReason, SettlementStep, type AssetCollateral, type CollateralStatement, type MaxQuantity, type PositionReport } from "./state.ts";
export { reportedRatio } from "./replies.ts";
export { PoolMovement } from "./lending-actions.ts";
export { DAY_MS, VOLUME_WINDOW_DAYS, dayOf, VolumeBook } from "./fees.ts";
export type { EngineCommandOut } from "./liquidation-steps.ts";
export { PASS_VISITS_PER_BATCH_MAX } from "./passes.ts";
