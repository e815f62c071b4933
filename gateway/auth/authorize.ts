// X6 authorization of one decoded command, on the hot path: a table lookup and a few integer compares, no crypto
// (the session proved who it is once, at login — DESIGN rule 9).
import { RejectCode, userOf, type CommandRecord } from "../../engine/model/index.ts";
import { Command } from "../../schemas/index.ts";
import { Permission } from "./keys.ts";

/** Needs no login: public market data (subscriptions) and the pools' public stats and rate curves. */
const PUBLIC = 0;
/** Needs the operator's key. */
const OPERATOR = 0x80;

/** What each wire command (indexed by its `Command` union type) needs. */
const REQUIRED: Uint8Array = (() => {
  const t = new Uint8Array(64).fill(OPERATOR);
  const set = (need: number, ...types: number[]): void => {
    for (const type of types) t[type] = need;
  };
  set(PUBLIC, Command.Subscribe, Command.Unsubscribe, Command.QueryPoolStats, Command.QueryRateCurve, Command.QueryOpenInterest, Command.QueryInsuranceFund, Command.QueryInsuranceHistory, Command.QueryFundingRateHistory, Command.QueryLenderLosses);
  set(OPERATOR, Command.Deposit, Command.SetMarketState, Command.AdvanceTime, Command.SetMarkPrice, Command.RegisterApiKey, Command.RevokeApiKey, Command.OracleQuote, Command.TakeSnapshot, Command.QueryWhatIf);
  set(Permission.Read, Command.QueryCollateral, Command.QueryMaxOrder, Command.QueryMaxWithdrawal, Command.QueryInterestHistory, Command.QueryMaxBorrow, Command.QueryPositions, Command.QueryLiquidationHistory, Command.QuerySettlementHistory, Command.QueryFundingHistory);
  set(Permission.Read, Command.ResumeAccount, Command.QueryAccountSnapshot);
  set(Permission.Trade, Command.LimitOrder, Command.MarketOrder, Command.Cancel, Command.CancelAll, Command.Replace);
  set(Permission.Trade, Command.UpdateAccountSettings, Command.Borrow, Command.Repay, Command.Lend, Command.Redeem);
  set(Permission.Withdraw, Command.Withdraw, Command.Transfer);
  return t;
})();

const PERMISSION_NAME: Record<number, string> = { [Permission.Read]: "read", [Permission.Trade]: "trade", [Permission.Withdraw]: "withdraw" };

/** What a session proved at login (sessions.ts Session implements it). */
export interface Principal {
  readonly loggedIn: boolean;
  readonly operator: boolean;
  /** account >> 4 of the accounts it may act for; -1 for the operator. */
  readonly user: number;
  readonly permissions: number;
  /** True once its API key was revoked. */
  readonly revoked: boolean;
}

/** A refusal: RejectCode and message (reused). */
export class Denial {
  code = 0;
  message = "";
}

function deny(out: Denial, code: number, message: string): false {
  out.code = code;
  out.message = message;
  return false;
}

/** True when the command needs no login (market data, pool stats). */
export function isPublicCommand(commandType: number): boolean {
  return commandType < REQUIRED.length && REQUIRED[commandType] === PUBLIC;
}

/**
 * May `who` send this decoded command? A user's session acts and reads only for its own accounts (user × 16 + sub),
 * within its key's permissions; operator commands need the operator's key, which reads every account but trades and
 * withdraws for none. False with `out` filled otherwise (nothing is queued).
 */
export function authorize(who: Principal, commandType: number, cmd: CommandRecord, out: Denial): boolean {
  const need = commandType < REQUIRED.length ? REQUIRED[commandType]! : OPERATOR;
  if (need === PUBLIC) return true;
  if (!who.loggedIn) return deny(out, RejectCode.NotLoggedIn, "log in first: the first frame of a session is a Login");
  if (who.revoked) return deny(out, RejectCode.Forbidden, "this session's API key was revoked");
  if (need === OPERATOR) {
    return who.operator || deny(out, RejectCode.Unauthorized, "operator command: log in with the operator key");
  }
  if (who.operator) {
    return need === Permission.Read || deny(out, RejectCode.Forbidden, "the operator key trades and withdraws for no account: use the user's key");
  }
  if ((who.permissions & need) === 0) {
    return deny(out, RejectCode.Forbidden, `this API key lacks the ${PERMISSION_NAME[need]!} permission`);
  }
  if (userOf(cmd.account) !== who.user) return deny(out, RejectCode.Forbidden, `account ${cmd.account} is not user ${who.user}'s`);
  if (commandType === Command.Transfer && userOf(cmd.account2) !== who.user) {
    return deny(out, RejectCode.Forbidden, `account ${cmd.account2} is not user ${who.user}'s`);
  }
  return true;
}
