// The parameters of SPEC Q with their defaults (Q1 exit MMR, Q2 step fraction, slippage and fee, Q3 ACMF divisor and
// offset), all ratios at RATIO_DECIMALS, and the check a loader runs on them.

import { RATIO_SCALE, type Ratio } from "../fixed/index.ts";
import { isValidClientAccount, type LiquidationConfig } from "../model/index.ts";

/** Q1: a liquidating account leaves liquidation at MMR ≤ this (default 98%, a buffer so it does not flap). */
export const LIQUIDATION_EXIT_MMR_DEFAULT: Ratio = 980_000_000_000_000_000n;
/** Q2: at most this fraction of a position or borrow per book step (default 10%). */
export const LIQUIDATION_STEP_FRACTION_DEFAULT: Ratio = 100_000_000_000_000_000n;
/** Q2: a step is priced no worse than mark × (1 ± this) (default 5%). */
export const LIQUIDATION_MAX_SLIPPAGE_DEFAULT: Ratio = 50_000_000_000_000_000n;
/** Q2: every liquidation fill pays this fraction of its notional to the insurance fund (seed 002: 1%). */
export const LIQUIDATION_FEE_DEFAULT: Ratio = 10_000_000_000_000_000n;
/** Q3: ACMF = max(account MMF / divisor, account MMF − offset); defaults 2 and 1%. */
export const ACMF_DIVISOR_DEFAULT: Ratio = 2n * RATIO_SCALE;
export const ACMF_OFFSET_DEFAULT: Ratio = 10_000_000_000_000_000n;

export interface LiquidationParams {
  readonly liquidationExitMmr: Ratio;
  readonly liquidationStepFraction: Ratio;
  readonly liquidationMaxSlippage: Ratio;
  readonly liquidationFee: Ratio;
  readonly acmfDivisor: Ratio;
  readonly acmfOffset: Ratio;
}

export const LIQUIDATION_PARAMS_DEFAULT: LiquidationParams = {
  liquidationExitMmr: LIQUIDATION_EXIT_MMR_DEFAULT,
  liquidationStepFraction: LIQUIDATION_STEP_FRACTION_DEFAULT,
  liquidationMaxSlippage: LIQUIDATION_MAX_SLIPPAGE_DEFAULT,
  liquidationFee: LIQUIDATION_FEE_DEFAULT,
  acmfDivisor: ACMF_DIVISOR_DEFAULT,
  acmfOffset: ACMF_OFFSET_DEFAULT,
};

/**
 * The ranges that keep the rules meaningful, or null: 0 < exit MMR < 1 (an exit at or above 100% would let an account
 * leave while liquidatable), 0 < step fraction ≤ 1, 0 ≤ slippage < 1 (a sell bound must stay positive), 0 ≤ fee < 1,
 * divisor ≥ 1 (ACMF ≤ MMF, so the backstop comes after the trigger), 0 ≤ offset ≤ 1.
 */
export function checkLiquidationParams(p: LiquidationParams): string | null {
  if (p.liquidationExitMmr <= 0n || p.liquidationExitMmr >= RATIO_SCALE) return "liquidationExitMmr must be in (0, 1)";
  if (p.liquidationStepFraction <= 0n || p.liquidationStepFraction > RATIO_SCALE) {
    return "liquidationStepFraction must be in (0, 1]";
  }
  if (p.liquidationMaxSlippage < 0n || p.liquidationMaxSlippage >= RATIO_SCALE) {
    return "liquidationMaxSlippage must be in [0, 1)";
  }
  if (p.liquidationFee < 0n || p.liquidationFee >= RATIO_SCALE) return "liquidationFee must be in [0, 1)";
  if (p.acmfDivisor < RATIO_SCALE) return "acmfDivisor must be ≥ 1";
  if (p.acmfOffset < 0n || p.acmfOffset > RATIO_SCALE) return "acmfOffset must be in [0, 1]";
  return null;
}

/** Q3: no backstop account configured (the takeover is not available; the book and Q4 remain). */
export const BACKSTOP_ACCOUNT_NONE = 0;

/** Every Q parameter at its default, and no backstop. */
export const LIQUIDATION_CONFIG_DEFAULT: LiquidationConfig = { ...LIQUIDATION_PARAMS_DEFAULT, backstopAccount: BACKSTOP_ACCOUNT_NONE, backstopLimitUsd: 0n };

/** The ranges of checkLiquidationParams, and Q3's backstop: a client account with a limit > 0, or none (0) with 0. */
export function checkLiquidationConfig(c: LiquidationConfig): string | null {
  const params = checkLiquidationParams(c);
  if (params !== null) return params;
  if (c.backstopAccount === BACKSTOP_ACCOUNT_NONE) return c.backstopLimitUsd === 0n ? null : "backstopLimitUsd must be 0 without a backstopAccount";
  if (!isValidClientAccount(c.backstopAccount)) return `backstopAccount ${c.backstopAccount} is not a client account`;
  return c.backstopLimitUsd > 0n ? null : "backstopLimitUsd must be greater than zero for a backstopAccount";
}
