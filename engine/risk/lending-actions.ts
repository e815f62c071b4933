// Manual pool actions (L9–L11: borrow, repay, lend, redeem; refused while auto-lend is on, per the seeds) and the
// lending test seam that moves slots without a pool.
import { AccountSetting, CommandKind, RejectCode, type CommandRecord, type EventSink } from "../model/index.ts";
import type { Account } from "./accounts.ts";
import { borrowCode } from "./checks.ts";
import {
  accepted,
  clientAccount,
  manualPoolActionName,
  marginMessage,
  poolMessage,
  publishBalance,
  reject,
  rejectAutoLendOn,
  rejectLiquidating,
  rejectNonPositiveAmount,
  rejectUnknownAsset,
} from "./replies.ts";
import type { RiskState } from "./state.ts";

/** Lending seam: how units move between an account's available balance and its pool slots (issue 5 drives it). */
export const PoolMovement = {
  /** available += amount, borrowed += amount. */
  Borrow: 0,
  /** available −= amount, borrowed −= amount. */
  Repay: 1,
  /** available −= amount, lent += amount. */
  Lend: 2,
  /** lent −= amount, available += amount. */
  Redeem: 3,
} as const;
export type PoolMovement = (typeof PoolMovement)[keyof typeof PoolMovement];

export function manualPoolAction(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  const account = clientAccount(s, cmd, sink);
  if (account === null) return;
  const a = cmd.asset;
  if (a >= s.assetCount) return rejectUnknownAsset(s, cmd, sink);
  const wholeAllowed = cmd.kind === CommandKind.Repay || cmd.kind === CommandKind.Redeem;
  if (cmd.amount < 0n || (cmd.amount === 0n && !wholeAllowed)) return rejectNonPositiveAmount(s, cmd, "amount", sink);
  if (account.isOn(AccountSetting.AutoLend)) return rejectAutoLendOn(s, cmd, sink);
  // Q1: a borrow increases risk; repay, lend and redeem do not.
  if (cmd.kind === CommandKind.Borrow && s.liquidation.isLiquidating(account.id)) return rejectLiquidating(s, cmd, "a borrow", sink);
  const code = applyManualPoolAction(s, cmd, account);
  if (code !== RejectCode.None) {
    const name = manualPoolActionName(cmd.kind);
    const message = code === RejectCode.InsufficientMargin ? marginMessage(s, name, account) : poolMessage(s, code, name, a, requestedUnits(s, cmd), account.available[a]!);
    return reject(s, cmd, code, message, sink);
  }
  account.markChanged(a);
  accepted(s, cmd, sink);
  publishBalance(s, cmd.seq, account, a, sink);
}

/** What a refused manual pool action asked for: its amount, or for a repay / redeem of all (amount 0) what the check
 * planned — the whole debt with its interest, the whole claim — so the refusal names the units it needed, not 0. */
function requestedUnits(s: RiskState, cmd: CommandRecord): bigint {
  if (cmd.amount !== 0n) return cmd.amount;
  return cmd.kind === CommandKind.Repay ? s.pools.plan.amount : s.poolPlan.amount;
}

/** Checks and applies one manual pool action (nothing changes on a refusal). */
function applyManualPoolAction(s: RiskState, cmd: CommandRecord, account: Account): RejectCode {
  const pools = s.pools;
  const a = cmd.asset;
  switch (cmd.kind) {
    case CommandKind.Borrow: {
      const code = borrowCode(s, account, a, cmd.amount, s.poolPlan);
      if (code === RejectCode.None) pools.applyBorrow(account, a, s.nowMs, s.poolPlan);
      return code;
    }
    case CommandKind.Repay:
      return pools.repay(account, a, cmd.amount, s.nowMs);
    case CommandKind.Lend:
      return account.available[a]! < cmd.amount ? RejectCode.InsufficientBalance : pools.lend(account, a, cmd.amount, s.nowMs);
    default: {
      const code = pools.checkRedeem(account, a, cmd.amount, s.poolPlan);
      if (code === RejectCode.None) pools.applyRedeem(account, a, s.nowMs, s.poolPlan);
      return code;
    }
  }
}

/**
 * Moves `amount` (> 0) units of `asset` between an account's available balance and its pool slots, keeping the
 * margin state in step, and publishes the balance when given a sink. The lending issue drives it from the pools
 * after its own checks (C8, L7, L8); this only refuses what would make a slot negative (returns false, nothing
 * changed). Not reachable from the wire yet.
 */
export function applyPoolMovement(s: RiskState, accountId: number, asset: number, movement: PoolMovement, amount: bigint, seq: number, sink: EventSink | null): boolean {
  const account = s.accounts.get(accountId);
  if (account === undefined || asset >= s.assetCount || amount <= 0n) return false;
  const a = asset;
  const owedBefore = account.borrowed[a]! > 0n;
  switch (movement) {
    case PoolMovement.Borrow:
      account.setBorrowed(a, account.borrowed[a]! + amount);
      account.addAvailable(a, amount);
      break;
    case PoolMovement.Repay:
      if (account.available[a]! < amount || account.borrowed[a]! < amount) return false;
      account.subAvailable(a, amount);
      account.setBorrowed(a, account.borrowed[a]! - amount);
      break;
    case PoolMovement.Lend:
      if (account.available[a]! < amount) return false;
      account.subAvailable(a, amount);
      account.setLent(a, account.lent[a]! + amount);
      break;
    case PoolMovement.Redeem:
      if (account.lent[a]! < amount) return false;
      account.setLent(a, account.lent[a]! - amount);
      account.addAvailable(a, amount);
      break;
    default:
      return false;
  }
  const owedAfter = account.borrowed[a]! > 0n;
  if (owedAfter !== owedBefore) account.borrowedAssets += owedAfter ? 1 : -1;
  account.markChanged(a);
  if (sink !== null) publishBalance(s, seq, account, a, sink);
  return true;
}
