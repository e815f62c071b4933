// Q1 and C9: when an account is liquidating — enter at MMR ≥ 100%, leave at MMR ≤ liquidationExitMmr — as a pure
// transition on the account's margin sums (USD at PRICE_DECIMALS, as engine/risk/margin keeps them).
//
// The comparisons are exact on the sums, never on a rounded ratio: MMR = Σ notional × MMF / net equity, so
// MMR ≥ 100% ⇔ maintenance ≥ equity (with exposure; risk/margin's isLiquidatable, restated here because a pure
// folder may not import risk), and MMR ≤ exit ⇔ maintenance × 1e18 ≤ exit × equity. The exit test is therefore a
// shade stricter than "the reported MMR (rounded down) ≤ 98%": an account leaves only when its exact MMR is there.
// Drift keeps the same two-threshold shape (enter below maintenance, `can_exit_cross_margin_liquidation` only once
// the margin requirement plus a buffer is met: programs/drift/src/state/margin_calculation.rs); the buffer here is a
// ratio below 100% instead of an added margin.

import { RATIO_SCALE, type Ratio } from "../fixed/index.ts";

export const LiquidationStatus = { Healthy: 0, Liquidating: 1 } as const;
export type LiquidationStatus = (typeof LiquidationStatus)[keyof typeof LiquidationStatus];

/** C9: MMR ≥ 100% with exposure (TEN > 0). */
export function isLiquidatable(maintenanceMarginUsd: bigint, netEquityUsd: bigint, tenUsd: bigint): boolean {
  return tenUsd > 0n && maintenanceMarginUsd >= netEquityUsd;
}

/** Q1: may a liquidating account leave? No exposure left, or exact MMR ≤ exitMmr (which needs equity > 0). */
export function canExitLiquidation(
  maintenanceMarginUsd: bigint,
  netEquityUsd: bigint,
  tenUsd: bigint,
  exitMmr: Ratio,
): boolean {
  if (tenUsd <= 0n) return true;
  if (netEquityUsd <= 0n) return false;
  return maintenanceMarginUsd * RATIO_SCALE <= exitMmr * netEquityUsd;
}

/**
 * Q1's hysteresis: Healthy → Liquidating at MMR ≥ 100%; Liquidating → Healthy at MMR ≤ exitMmr; otherwise the
 * status holds (an account between the two thresholds stays as it was).
 */
export function nextLiquidationStatus(
  status: LiquidationStatus,
  maintenanceMarginUsd: bigint,
  netEquityUsd: bigint,
  tenUsd: bigint,
  exitMmr: Ratio,
): LiquidationStatus {
  if (status === LiquidationStatus.Healthy) {
    return isLiquidatable(maintenanceMarginUsd, netEquityUsd, tenUsd) ? LiquidationStatus.Liquidating : status;
  }
  return canExitLiquidation(maintenanceMarginUsd, netEquityUsd, tenUsd, exitMmr) ? LiquidationStatus.Healthy : status;
}
