// R1 of the commands that go on to matching (SPEC S1–S4, C8; P1, C4, C5 for perpetual orders): orders are checked (checks.checkOrder fills the
// state's reused OrderPlan), their funds held (funds.takeHold reads that plan), and they are handed on; cancels and
// market states are validated. Each returns true when the command must go on to matching.
import {
  MarketKind,
  OrderFlag,
  OrderType,
  RejectCode,
  SPOT_MARGIN_FLAGS,
  type CommandRecord,
  type EventSink,
  type MarketConfig,
} from "../model/index.ts";
import { isValidClientAccount } from "../model/index.ts";
import type { Account } from "./accounts.ts";
import { checkOrder, checkPerpOrder } from "./checks.ts";
import { takeHold, takePerpHold } from "./funds.ts";
import {
  clientAccount,
  orderMessage,
  publishBalance,
  reject,
  rejectInvalidAccount,
  rejectTooManyOpenOrders,
  rejectUnknownMarket,
} from "./replies.ts";
import { RISK_LIMITS, type RiskState } from "./state.ts";

export function placeOrder(s: RiskState, cmd: CommandRecord, sink: EventSink): boolean {
  const account = clientAccount(s, cmd, sink);
  if (account === null) return false;
  const market = s.config.markets[cmd.market];
  if (market === undefined) {
    rejectUnknownMarket(s, cmd, sink);
    return false;
  }
  if (account.openOrders >= RISK_LIMITS.openOrdersPerAccountMax) {
    rejectTooManyOpenOrders(s, cmd, sink);
    return false;
  }
  if (market.kind !== MarketKind.Spot) return placePerpOrder(s, cmd, market, account, cmd.clientId, sink);
  const flags = cmd.flags & SPOT_MARGIN_FLAGS;
  const plan = s.order;
  const code = checkOrder(s, cmd, market, account, flags, plan);
  // A market buy by base quantity goes on with its spend cap (matching stops there).
  if (plan.quoteCap !== 0n) cmd.quoteQuantity = plan.quoteCap;
  if (code !== RejectCode.None) {
    reject(s, cmd, code, orderMessage(s, code, cmd, account, plan), sink);
    return false;
  }
  takeHold(s, cmd.seq, account, cmd.market, cmd.side, cmd.clientId, flags, plan);
  publishBalance(s, cmd.seq, account, plan.asset, sink);
  return true;
}

/**
 * Cancel-replace: the replacement is a new order (id = cmd.seq) on the target's side, with the target's margin
 * flags, that holds its own funds and passes the same checks; the target's hold comes back when matching reports
 * it Replaced. So the account needs the new hold on top of the old one for the duration of the batch
 * (pessimistic, never short). A target risk holds nothing for is refused here (UnknownOrder): a replacement never
 * reaches matching without its hold. By clientId, the target risk resolved goes along as cmd.orderId, and matching
 * replaces only that order (its own index may point elsewhere when the key changed hands within the batch).
 *
 * The new hold publishes no Balance: R2 always publishes one for the same account and asset before the command's
 * events end — the target's release when matching reports it Replaced, or the new hold's release when matching
 * refuses the replacement — so clients see the balance after the command, not the transient double hold.
 */
export function replaceOrder(s: RiskState, cmd: CommandRecord, sink: EventSink): boolean {
  const account = clientAccount(s, cmd, sink);
  if (account === null) return false;
  const byClientId = (cmd.flags & OrderFlag.ByClientId) !== 0;
  const targetId = byClientId ? s.byClientId.get(cmd.account, cmd.market, cmd.clientId) : cmd.orderId;
  const target = targetId === 0 ? undefined : s.holds.get(targetId);
  if (target === undefined || target.account !== cmd.account || target.market !== cmd.market) {
    reject(s, cmd, RejectCode.UnknownOrder, "UnknownOrder: no such open order", sink);
    return false;
  }
  if (byClientId) {
    cmd.orderId = targetId;
    cmd.flags |= OrderFlag.TargetResolved;
  }
  const market = s.config.markets[cmd.market]!;
  cmd.side = target.side;
  cmd.orderType = OrderType.Limit;
  if (target.perp) return placePerpOrder(s, cmd, market, account, target.clientId, sink);
  const plan = s.order;
  const code = checkOrder(s, cmd, market, account, target.flags, plan);
  if (code !== RejectCode.None) {
    reject(s, cmd, code, orderMessage(s, code, cmd, account, plan), sink);
    return false;
  }
  takeHold(s, cmd.seq, account, cmd.market, target.side, target.clientId, target.flags, plan);
  return true;
}

/**
 * P1, C4, C8: a perpetual order (or a perpetual replacement). It holds no asset, only its open quantity (margin via
 * C8). A reduceOnly order's cap is matching's (its position replica is exact within the batch; risk's lags by it).
 */
function placePerpOrder(s: RiskState, cmd: CommandRecord, market: MarketConfig, account: Account, clientId: bigint, sink: EventSink): boolean {
  const plan = s.order;
  const code = checkPerpOrder(s, cmd, market, account, plan);
  if (code !== RejectCode.None) {
    reject(s, cmd, code, orderMessage(s, code, cmd, account, plan), sink);
    return false;
  }
  takePerpHold(s, cmd.seq, account, cmd.market, cmd.side, clientId, plan);
  return true;
}

/** Cancels go on to matching for client accounts (an unknown order is matching's to refuse). */
export function cancelOrder(s: RiskState, cmd: CommandRecord, sink: EventSink): boolean {
  if (isValidClientAccount(cmd.account)) return true;
  rejectInvalidAccount(s, cmd, sink);
  return false;
}

/** A market state change goes on to matching for a known market. */
export function setMarketState(s: RiskState, cmd: CommandRecord, sink: EventSink): boolean {
  if (cmd.market < s.config.markets.length) return true;
  rejectUnknownMarket(s, cmd, sink);
  return false;
}
