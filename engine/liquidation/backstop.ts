// Q3: the auto-close margin fraction, the choice between the book, the backstop and bankruptcy, and the backstop's
// takeover plan (LiquidatePositionOnBackstop): the backstop liquidity provider takes every position, borrow and
// collateral of the account at the mark, without the book (seed 004: "当触发自动关闭保证金阈值时，仓位将由后备流动性
// 提供者(BLP)接手" — below the auto-close margin fraction the BLP takes over).
//
// ACMF = max(account MMF / divisor, account MMF − offset). The decision compares exactly on the sums, with MF =
// E / TEN and MMF = MM / TEN: MF < MMF / d ⇔ E × d < MM × 1e18, and MF < MMF − o ⇔ E × 1e18 < MM × 1e18 − o × TEN.
//
// The takeover is all or nothing: it happens only when the account's total exposure notional fits the backstop's
// remaining limit. A partial takeover would need a rule for how much collateral goes with a part of the positions,
// which neither the SPEC nor the seeds give, and leaving an account with exposure but less collateral can make it
// worse; an account over the limit stays on the book path (or, with no book step, waits for the limit) and reaches
// Q4 if its equity runs out. The plan values what moves at the mark without haircuts: collateral floor(qty × mark),
// liabilities ceil, uPnL floor. A negative value is the deficit the insurance fund owes the backstop (Q4), so the
// backstop is never the one to lose; Drift pays its liquidators from the insurance fund the same way when a user is
// bankrupt (programs/drift/src/controller/liquidation.rs resolve_perp_bankruptcy: if_payment = min(loss, max)).

import { divRound, pow10, RATIO_SCALE, Rounding, type Amount, type Price, type Ratio } from "../fixed/index.ts";
import type { LiquidationParams } from "./params.ts";

/** Q3: ACMF as a ratio (for reports), from the account MMF: max(ceil(MMF / divisor), MMF − offset). */
export function autoCloseMarginFraction(accountMmf: Ratio, params: LiquidationParams): Ratio {
  const divided = divRound(accountMmf * RATIO_SCALE, params.acmfDivisor, Rounding.Up);
  const offset = accountMmf - params.acmfOffset;
  return divided > offset ? divided : offset;
}

/** Q3: MF < ACMF, exactly on the sums (USD at PRICE_DECIMALS); false with no exposure. */
export function isBelowAutoCloseMarginFraction(
  netEquityUsd: bigint,
  maintenanceMarginUsd: bigint,
  tenUsd: bigint,
  params: LiquidationParams,
): boolean {
  if (tenUsd <= 0n) return false;
  if (netEquityUsd * params.acmfDivisor < maintenanceMarginUsd * RATIO_SCALE) return true;
  return netEquityUsd * RATIO_SCALE < maintenanceMarginUsd * RATIO_SCALE - params.acmfOffset * tenUsd;
}

export const LiquidationStage = { None: 0, Book: 1, Backstop: 2, Bankrupt: 3 } as const;
export type LiquidationStage = (typeof LiquidationStage)[keyof typeof LiquidationStage];

/**
 * Q2–Q4: the stage of a liquidating account. Nothing left to liquidate (TEN = 0): bankrupt with negative equity
 * (Q4), else none. Otherwise the backstop below ACMF or when the book cannot take a step (Q3), else the book (Q2).
 */
export function chooseLiquidationStage(
  netEquityUsd: bigint,
  maintenanceMarginUsd: bigint,
  tenUsd: bigint,
  bookStepPossible: boolean,
  params: LiquidationParams,
): LiquidationStage {
  if (tenUsd <= 0n) return netEquityUsd < 0n ? LiquidationStage.Bankrupt : LiquidationStage.None;
  if (!bookStepPossible) return LiquidationStage.Backstop;
  const belowAcmf = isBelowAutoCloseMarginFraction(netEquityUsd, maintenanceMarginUsd, tenUsd, params);
  return belowAcmf ? LiquidationStage.Backstop : LiquidationStage.Book;
}

/** One perpetual position as the takeover sees it; a reused record. */
export class TakeoverPosition {
  market = 0;
  quantity: Amount = 0n;
  costBasis = 0n;
  baseDecimals = 0;
  mark: Price = 0n;
}

/** One asset's net balance (collateral > 0, borrow < 0); a reused record. */
export class TakeoverAsset {
  asset = 0;
  netQuantity: Amount = 0n;
  decimals = 0;
  mark: Price = 0n;
}

/** The takeover: every position and asset listed moves in full at its mark; a reused record. */
export class BackstopPlan {
  accepted = false;
  /** TEN of what moves (positions' |qty| × mark up, liabilities), USD at PRICE_DECIMALS. */
  exposureNotionalUsd = 0n;
  /** The liabilities' part of it (the borrows net of the asset's collateral, at the mark rounded up). */
  liabilitiesUsd = 0n;
  /** Unweighted value the backstop receives: collateral − liabilities + uPnL at the mark (signed). */
  valueUsd = 0n;
  /** max(0, −valueUsd): owed to the backstop by the insurance fund (Q4). */
  deficitUsd = 0n;
}

/** Q3: plan the takeover within the backstop's remaining limit (USD of exposure notional). */
export function planBackstopTakeover(
  positions: readonly TakeoverPosition[],
  positionCount: number,
  assets: readonly TakeoverAsset[],
  assetCount: number,
  backstopLimitRemainingUsd: bigint,
  out: BackstopPlan,
): BackstopPlan {
  let exposure = 0n;
  let value = 0n;
  let liabilities = 0n;
  for (let i = 0; i < positionCount; i++) {
    const p = positions[i]!;
    const unit = pow10(p.baseDecimals);
    const absQty = p.quantity < 0n ? -p.quantity : p.quantity;
    exposure += divRound(absQty * p.mark, unit, Rounding.Up);
    value += divRound(p.quantity * p.mark - p.costBasis, unit, Rounding.Down);
  }
  for (let i = 0; i < assetCount; i++) {
    const a = assets[i]!;
    const unit = pow10(a.decimals);
    if (a.netQuantity > 0n) value += divRound(a.netQuantity * a.mark, unit, Rounding.Down);
    if (a.netQuantity < 0n) {
      const liability = divRound(-a.netQuantity * a.mark, unit, Rounding.Up);
      exposure += liability;
      liabilities += liability;
      value -= liability;
    }
  }
  out.exposureNotionalUsd = exposure;
  out.liabilitiesUsd = liabilities;
  out.valueUsd = value;
  out.deficitUsd = value < 0n ? -value : 0n;
  out.accepted = exposure <= backstopLimitRemainingUsd;
  return out;
}
