// Commands that only touch accounts and complete in R1 (SPEC A, C): deposit, withdraw, transfer, settings, the
// clock, mark prices. Each: validate, one check (checks.ts), then one reply or one apply (funds.ts) and its events.
import {
  ACCOUNT_SETTING_VALUE_SHIFT,
  AccountSetting,
  MarketKind,
  RATIO_SCALE,
  RejectCode,
  type CommandRecord,
  type EventSink,
} from "../model/index.ts";
import { isValidClientAccount, LEVERAGE_LIMIT_MIN, userOf } from "../model/index.ts";
import { Account, ACCOUNT_SETTINGS_ALL } from "./accounts.ts";
import { withdrawalCode } from "./checks.ts";
import { incoming, recapOrderCredits, takeOutflow } from "./funds.ts";
import { autoRealizeAtMark, trackAutoRealize } from "./realization.ts";
import {
  accepted,
  clientAccount,
  rejectWithdrawalsPaused,
  markAccepted,
  outflowMessage,
  publishAccountSettings,
  publishBalance,
  publishClock,
  reject,
  rejectLiquidating,
  rejectInvalidAccount,
  rejectInvalidTransfer,
  rejectLeverageMargin,
  rejectLeverageRange,
  rejectNonPositiveAmount,
  rejectNonPositiveMark,
  rejectNothingToChange,
  rejectSettingBits,
  rejectShardFull,
  rejectTimeBehind,
  rejectUnknownAsset,
} from "./replies.ts";
import type { RiskState } from "./state.ts";

export function deposit(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  if (!isValidClientAccount(cmd.account)) return rejectInvalidAccount(s, cmd, sink);
  if (cmd.asset >= s.assetCount) return rejectUnknownAsset(s, cmd, sink);
  if (cmd.amount <= 0n) return rejectNonPositiveAmount(s, cmd, "deposit amount", sink);
  const account = s.accountOrCreate(cmd.account);
  if (account === null) return rejectShardFull(s, cmd, sink);
  // A4: credited at once; with autoLend on it repays a borrow of the asset first, then the rest is lent (L10, L12).
  account.addAvailable(cmd.asset, cmd.amount);
  account.markChanged(cmd.asset);
  incoming(s, account, cmd.asset, cmd.amount, 0);
  accepted(s, cmd, sink);
  publishBalance(s, cmd.seq, account, cmd.asset, sink);
}

/**
 * A5: a withdrawal takes the available balance, then redeems lent units of the asset (L11), then — with the margin
 * flag (AutoBorrow) — borrows the rest (L9). Plain: the balance first (INSUFFICIENT_BALANCE), then the margin
 * (INSUFFICIENT_MARGIN, the entry fee of a borrow included), then the pool (RedeemThrottled, BorrowThrottled,
 * MaxUtilization, BorrowUnavailable…). Nothing changes on a refusal.
 */
export function withdraw(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  const account = clientAccount(s, cmd, sink);
  if (account === null) return;
  if (cmd.asset >= s.assetCount) return rejectUnknownAsset(s, cmd, sink);
  if (cmd.amount <= 0n) return rejectNonPositiveAmount(s, cmd, "withdrawal amount", sink);
  if (s.liquidation.isLiquidating(account.id)) return rejectLiquidating(s, cmd, "a withdrawal", sink); // Q1
  if (s.lenders.withdrawalsPaused()) return rejectWithdrawalsPaused(s, cmd, "a withdrawal", sink); // Q4, issue 13 item 7
  const code = withdrawalCode(s, account, cmd.asset, cmd.amount, cmd.flags, s.poolPlan);
  if (code !== RejectCode.None) return reject(s, cmd, code, outflowMessage(s, code, "withdraw", account, cmd.asset, cmd.amount), sink);
  takeOutflow(s, account, cmd.asset, cmd.amount);
  accepted(s, cmd, sink);
  publishBalance(s, cmd.seq, account, cmd.asset, sink);
}

/**
 * A2: instant between a user's own accounts; the source is judged and funded as for a plain withdrawal (A5): its
 * available balance, then its lent units redeemed (L11), never a borrow; C8 as for a withdrawal.
 */
export function transfer(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  const from = clientAccount(s, cmd, sink);
  if (from === null) return;
  if (!isValidClientAccount(cmd.account2) || userOf(cmd.account2) !== userOf(cmd.account) || cmd.account2 === cmd.account) {
    return rejectInvalidTransfer(s, cmd, sink);
  }
  if (cmd.asset >= s.assetCount) return rejectUnknownAsset(s, cmd, sink);
  if (cmd.amount <= 0n) return rejectNonPositiveAmount(s, cmd, "transfer amount", sink);
  if (s.liquidation.isLiquidating(from.id)) return rejectLiquidating(s, cmd, "a transfer out", sink); // Q1
  if (s.lenders.withdrawalsPaused()) return rejectWithdrawalsPaused(s, cmd, "a transfer out", sink); // Q4
  const code = withdrawalCode(s, from, cmd.asset, cmd.amount, 0, s.poolPlan);
  if (code !== RejectCode.None) return reject(s, cmd, code, outflowMessage(s, code, "transfer", from, cmd.asset, cmd.amount), sink);
  const to = s.accountOrCreate(cmd.account2);
  if (to === null) return rejectShardFull(s, cmd, sink);
  takeOutflow(s, from, cmd.asset, cmd.amount);
  to.addAvailable(cmd.asset, cmd.amount);
  to.markChanged(cmd.asset);
  incoming(s, to, cmd.asset, cmd.amount, 0);
  accepted(s, cmd, sink);
  publishBalance(s, cmd.seq, from, cmd.asset, sink);
  publishBalance(s, cmd.seq, to, cmd.asset, sink);
}

/** The clock moves forward (every shard); shard 0 answers and forwards it to matching (returns true). */
export function advanceTime(s: RiskState, cmd: CommandRecord, sink: EventSink): boolean {
  const speaks = s.shardIndex === 0;
  if (cmd.timeMs < s.nowMs) {
    if (speaks) rejectTimeBehind(s, cmd, sink);
    return false;
  }
  s.nowMs = cmd.timeMs;
  if (speaks) publishClock(s, cmd, sink);
  return speaks;
}

/**
 * A3: changes the settings named in the mask (flags bits 0–7, values in bits 8–15) and the leverage limit (state,
 * 0 = unchanged). A new leverage limit re-prices the initial margin of every position and is refused when the IMR
 * would be ≥ 100% at it (raising it never is). All or nothing. Accounts come into existence only by a deposit or
 * a transfer (X5): settings of a never-funded account are refused and create nothing.
 */
export function updateSettings(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  if (!isValidClientAccount(cmd.account)) return rejectInvalidAccount(s, cmd, sink);
  const mask = cmd.flags & 0xff;
  const values = (cmd.flags >>> ACCOUNT_SETTING_VALUE_SHIFT) & 0xff;
  if ((mask & ~ACCOUNT_SETTINGS_ALL) !== 0 || (values & ~mask) !== 0 || cmd.flags >>> (2 * ACCOUNT_SETTING_VALUE_SHIFT) !== 0) {
    return rejectSettingBits(s, cmd, sink);
  }
  const leverage = cmd.leverageLimit;
  if (leverage !== 0 && (!Number.isInteger(leverage) || leverage < LEVERAGE_LIMIT_MIN || leverage > s.leverageLimitMax)) {
    return rejectLeverageRange(s, cmd, LEVERAGE_LIMIT_MIN, sink);
  }
  if (mask === 0 && leverage === 0) return rejectNothingToChange(s, cmd, sink);
  const account = clientAccount(s, cmd, sink);
  if (account === null) return;
  // Q1: a leverage change is a risk-increasing action (C8); the other settings pass.
  if (leverage !== 0 && leverage !== account.leverageLimit && s.liquidation.isLiquidating(account.id)) {
    return rejectLiquidating(s, cmd, "a leverage change", sink);
  }
  if (leverage !== 0 && leverage !== account.leverageLimit) {
    const margin = account.syncedMargin();
    const ratio = BigInt(leverage) * RATIO_SCALE;
    if (!margin.wouldPassLeverageLimit(ratio)) return rejectLeverageMargin(s, cmd, account, sink);
    const rises = leverage > account.leverageLimit;
    margin.setLeverageLimit(ratio);
    account.leverageLimit = leverage;
    if (rises) recapOrderCredits(s, account);
  }
  const lendingBefore = account.isOn(AccountSetting.AutoLend);
  account.settings = (account.settings & ~mask) | values;
  if ((mask & AccountSetting.AutoRealizePnl) !== 0) trackAutoRealize(s, account); // P5
  accepted(s, cmd, sink);
  publishAccountSettings(s, cmd.seq, account, sink);
  if (!lendingBefore && account.isOn(AccountSetting.AutoLend)) lendEveryBalance(s, cmd.seq, account, sink);
}

/**
 * L12: auto-lend was turned on: every available balance repays its debt, then is lent at once; each moved balance is
 * published (watchers and GET /balances see it leave available).
 */
function lendEveryBalance(s: RiskState, seq: number, account: Account, sink: EventSink): void {
  for (let a = 0; a < s.assetCount; a++) {
    if (account.available[a]! <= 0n) continue;
    incoming(s, account, a, account.available[a]!, 0);
    account.markChanged(a);
    publishBalance(s, seq, account, a, sink);
  }
}

/**
 * The USD mark of an asset, an operator override of the oracle (P2: the mark is the index; this sets it until the
 * asset's next oracle update; its answer is a CommandAccepted with code SetMarkPrice, never an IndexPrice). Every risk shard applies it; shard 0
 * answers. A perpetual on the asset follows it (quote at par).
 */
export function setMarkPrice(s: RiskState, cmd: CommandRecord, sink: EventSink): void {
  const speaks = s.shardIndex === 0;
  if (cmd.asset >= s.assetCount) {
    if (speaks) rejectUnknownAsset(s, cmd, sink);
    return;
  }
  if (cmd.price <= 0n) {
    if (speaks) rejectNonPositiveMark(s, cmd, sink);
    return;
  }
  s.setAssetMark(cmd.asset, cmd.price);
  if (speaks) markAccepted(s, cmd, sink);
  // P5 autoRealizePnl: the override is a mark update of the asset's perpetuals too.
  const markets = s.config.markets;
  for (let m = 0; m < markets.length; m++) {
    if (markets[m]!.kind === MarketKind.Perpetual && markets[m]!.baseAsset === cmd.asset) autoRealizeAtMark(s, m, sink);
  }
}
