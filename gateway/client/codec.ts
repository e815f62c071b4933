// Client-side wire codec: plain command objects (decimal strings, enum names) → frames, and frames → plain events.
//
// Off the hot path: clarity over allocation. The server validates every value again (gateway/codec), so this side
// only refuses what it cannot encode at all (unknown type or field, malformed decimal text, an id out of range) and
// passes numbers through otherwise — a replay file may deliberately carry a bad enum or a negative amount to see the
// server's typed reject.
//
// ## Command JSON (one command per line in `crossbook replay FILE.jsonl`; the same objects go to encodeCommand)
// Field names are the camelCase forms of crossbook.fbs; `type` is the union member name. Decimal values are strings
// ("50000.5"; a bigint or a safe integer also works, meaning whole units). u64 values (clientSeq, clientId, orderId,
// timeMs) are a non-negative safe integer, a decimal-integer string or a bigint. Enum fields take the enum member
// name ("Buy") or its number. Unknown fields are refused. Every line may carry `clientSeq` (default 0).
//
//   {"type":"Deposit","account":17,"asset":2,"amount":"1.5"}                                  privileged
//   {"type":"Withdraw","account":17,"asset":0,"amount":"100","margin":false}
//   {"type":"LimitOrder","account":17,"market":0,"side":"Buy","price":"50000.5","quantity":"0.1",
//    "tif":"GTC","postOnly":false,"reduceOnly":false,"clientId":5,"stp":"RejectTaker",
//    "autoBorrow":false,"autoBorrowRepay":false,"autoLend":false,"autoLendRedeem":false}
//   {"type":"MarketOrder","account":17,"market":0,"side":"Buy","quoteQuantity":"1000"}          or "quantity"
//        (+ reduceOnly, clientId, stp, autoBorrow, autoBorrowRepay, autoLend, autoLendRedeem)
//   {"type":"Cancel","account":17,"market":0,"orderId":42}                                    or "clientId"
//   {"type":"CancelAll","account":17,"market":0}                                              market omitted = all
//   {"type":"Replace","account":17,"market":0,"orderId":42,"price":"50001","quantity":"0.2"}  or "clientId"
//   {"type":"Transfer","fromAccount":17,"toAccount":18,"asset":0,"amount":"10"}
//   {"type":"SetMarketState","market":0,"state":"CancelOnly"}                                 privileged
//   {"type":"AdvanceTime","timeMs":1767225600000}                                             privileged
//   {"type":"Subscribe","market":0,"channels":["Depth","Trades","Bbo","Ticker"]}              market omitted = all
//   {"type":"Unsubscribe","market":0,"channels":["Depth"]}                                    channels: names or mask
//   {"type":"UpdateAccountSettings","account":17,"leverageLimit":5,"autoLend":false,"marginEnabled":true}
//        (+ autoRepayBorrows, autoBorrowSettlements, autoRealizePnl; a setting left out stays as it is;
//         leverageLimit 1..50; the toggles take true/false, "On"/"Off"/"Unchanged" or a number)
//   {"type":"SetMarkPrice","asset":4,"price":"140.5"}                                        privileged (USD)
//   {"type":"OracleQuote","asset":2,"source":1,"bid":"60000","ask":"60010","last":"60005","sourceTimeMs":1767225600000,"apply":true}
//        privileged, P2: one source's quote (source = index in the asset's configured sources); apply → IndexPrice
//   {"type":"QueryCollateral","account":17}                  → AccountCollateral, then AssetCollateral per asset
//   {"type":"QueryMaxOrder","account":17,"market":2,"side":"Buy","price":"150","autoBorrow":true}
//        (+ autoBorrowRepay, autoLend, autoLendRedeem)        → MaxOrderQuantity
//   {"type":"QueryMaxWithdrawal","account":17,"asset":0,"margin":false}                      → MaxWithdrawalQuantity
//   {"type":"Borrow","account":17,"asset":0,"amount":"100"}                 L9 (refused while auto-lend is on)
//   {"type":"Repay","account":17,"asset":0,"amount":"100"}                  L10; amount omitted = the whole debt
//   {"type":"Lend","account":17,"asset":0,"amount":"100"}                   L1
//   {"type":"Redeem","account":17,"asset":0,"amount":"100"}                 L11; amount omitted = all lent
//   {"type":"QueryPoolStats","asset":0}                       → PoolStats (asset omitted = every pool)
//   {"type":"QueryRateCurve","asset":0,"points":11}           → RateCurvePoint × points (2..101)
//   {"type":"QueryInterestHistory","account":17,"asset":0,"sinceMs":0,"limit":100}   → InterestEntry…, CommandAccepted
//   {"type":"QueryMaxBorrow","account":17,"asset":0}          → MaxBorrowQuantity
//   {"type":"Login","apiKey":"<base64>","signature":"<base64>","timestampMs":1767225600000,"windowMs":5000}
//        X6, the first frame of a session: the signature is over instruction=subscribe&timestamp=T&window=W
//        (see gateway/auth/keys.ts signLogin)                  → CommandAccepted (account = user × 16) or CommandRejected
//   {"type":"RegisterApiKey","user":1,"apiKey":"<base64>","permissions":["Read","Trade"]}        privileged (X6)
//        permissions: names of Read, Trade, Withdraw or a bit mask (1, 2, 4)
//   {"type":"RevokeApiKey","user":1,"apiKey":"<base64>"}                                       privileged (X6)
//   {"type":"ResumeAccount","account":17,"fromSeq":1200}      gateway: the account's logged events from seq 1200
//                                                             on, as first sent, then ResumeDone; watches it
//   {"type":"QueryAccountSnapshot","account":17}              gateway: Balance per asset held, OpenOrder per resting
//                                                             order, then AccountSnapshot (validAtSeq); watches it
//   {"type":"TakeSnapshot"}                                   privileged → SnapshotTaken (X7; not journaled)
// Defaults: tif GTC, stp RejectTaker, every flag false, clientId 0, orderId 0.
//
// ## Events
// decodeEvent returns { clientSeq, seq, marketSeq, type, ...fields } with u64 values as bigint, decimals as
// canonical strings ("0.1", not "0.10000000") and enums as member names (a number the client does not know is
// kept as a number). Use `toJsonText` to print one (bigints become strings). A Balance carries `lent` and
// `borrowed` only when the server sent them (non-zero). A ratio of AccountCollateral that is unbounded (a margin
// fraction without exposure; IMR/MMR with net equity ≤ 0) reads "unbounded".
import { Builder } from "flatbuffers";
import {
  AccountCollateral,
  AccountSettings,
  AdvanceTime,
  AssetCollateral,
  Balance,
  BookTicker,
  Cancel,
  CancelAll,
  Channel,
  Clock,
  Command,
  CommandAccepted,
  CommandEnvelope,
  CommandRejected,
  Decimal,
  Deposit,
  DepthDelta,
  DepthSnapshot,
  DoneReason,
  Event,
  EVENT_ENVELOPE,
  EVENT_LAYOUTS,
  EventEnvelope,
  Fill,
  Level,
  LimitOrder,
  MarketOrder,
  MarketState,
  Borrow,
  IndexPrice,
  InterestEntry,
  InterestKind,
  OracleQuote,
  MaxBorrowQuantity,
  AccountSnapshot,
  OpenOrder,
  QueryAccountSnapshot,
  ResumeAccount,
  ResumeDone,
  PoolState,
  PoolStats,
  QueryInterestHistory,
  QueryMaxBorrow,
  Login,
  Permission,
  RegisterApiKey,
  RevokeApiKey,
  QueryPoolStats,
  QueryRateCurve,
  RateCurvePoint,
  MaxOrderQuantity,
  MaxWithdrawalQuantity,
  QueryCollateral,
  QueryMaxOrder,
  QueryMaxWithdrawal,
  OrderAccepted,
  OrderDone,
  OrderRejected,
  RejectCode,
  Replace,
  SelfTradePrevention,
  SetMarkPrice,
  SetMarketState,
  Side,
  SnapshotTaken,
  Subscribe,
  TakeSnapshot,
  Ticker,
  TimeInForce,
  Toggle,
  Trade,
  Transfer,
  Unsubscribe,
  UpdateAccountSettings,
  VerifiedFrame,
  verifyEnvelope,
  Withdraw,
} from "../../schemas/index.ts";
import { ByteBuffer } from "flatbuffers";
import { formatWireDecimal, parseWireDecimal, WireDecimalError } from "./wire-decimal.ts";

export { formatWireDecimal, parseWireDecimal, WireDecimalError, type WireDecimal } from "./wire-decimal.ts";

/** A command object that cannot be encoded (the message names the field). */
export class CommandJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommandJsonError";
  }
}

/** An event frame that is not a well-formed EventEnvelope. */
export class WireFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WireFormatError";
  }
}

// ---------------------------------------------------------------- command types

export type DecimalText = string | bigint | number;
export type U64 = bigint | number | string;
export type SideName = keyof typeof Side;
export type TimeInForceName = keyof typeof TimeInForce;
export type SelfTradePreventionName = keyof typeof SelfTradePrevention;
export type MarketStateName = keyof typeof MarketState;
export type ChannelName = keyof typeof Channel;
export type ToggleName = keyof typeof Toggle;

interface OrderOptions {
  reduceOnly?: boolean;
  clientId?: U64;
  stp?: SelfTradePreventionName | number;
  autoBorrow?: boolean;
  autoBorrowRepay?: boolean;
  autoLend?: boolean;
  autoLendRedeem?: boolean;
}

export interface DepositCommand {
  type: "Deposit";
  account: number;
  asset: number;
  amount: DecimalText;
}
export interface WithdrawCommand {
  type: "Withdraw";
  account: number;
  asset: number;
  amount: DecimalText;
  margin?: boolean;
}
export interface LimitOrderCommand extends OrderOptions {
  type: "LimitOrder";
  account: number;
  market: number;
  side: SideName | number;
  price: DecimalText;
  quantity: DecimalText;
  tif?: TimeInForceName | number;
  postOnly?: boolean;
}
export interface MarketOrderCommand extends OrderOptions {
  type: "MarketOrder";
  account: number;
  market: number;
  side: SideName | number;
  quantity?: DecimalText;
  quoteQuantity?: DecimalText;
}
export interface CancelCommand {
  type: "Cancel";
  account: number;
  market: number;
  orderId?: U64;
  clientId?: U64;
}
export interface CancelAllCommand {
  type: "CancelAll";
  account: number;
  /** Omitted = every market (0xFFFF). */
  market?: number;
}
export interface ReplaceCommand {
  type: "Replace";
  account: number;
  market: number;
  orderId?: U64;
  clientId?: U64;
  price: DecimalText;
  quantity: DecimalText;
}
export interface TransferCommand {
  type: "Transfer";
  fromAccount: number;
  toAccount: number;
  asset: number;
  amount: DecimalText;
}
export interface SetMarketStateCommand {
  type: "SetMarketState";
  market: number;
  state: MarketStateName | number;
}
export interface AdvanceTimeCommand {
  type: "AdvanceTime";
  timeMs: U64;
}
export interface SubscribeCommand {
  type: "Subscribe";
  /** Omitted = every market (0xFFFF). */
  market?: number;
  channels: ChannelName[] | number;
}
export interface UnsubscribeCommand {
  type: "Unsubscribe";
  market?: number;
  channels: ChannelName[] | number;
}

export interface UpdateAccountSettingsCommand {
  type: "UpdateAccountSettings";
  account: number;
  /** 1..50; omitted = unchanged. */
  leverageLimit?: number;
  autoLend?: boolean | ToggleName | number;
  autoRepayBorrows?: boolean | ToggleName | number;
  autoBorrowSettlements?: boolean | ToggleName | number;
  autoRealizePnl?: boolean | ToggleName | number;
  marginEnabled?: boolean | ToggleName | number;
}
export interface SetMarkPriceCommand {
  type: "SetMarkPrice";
  asset: number;
  /** USD. */
  price: DecimalText;
}
/** P2: one oracle source's quote; the update's last quote has apply = true (answer: IndexPrice). */
export interface OracleQuoteCommand {
  type: "OracleQuote";
  asset: number;
  /** Index of the source in the asset's configured oracle sources. */
  source: number;
  /** USD. */
  bid: DecimalText;
  ask: DecimalText;
  last: DecimalText;
  sourceTimeMs: U64;
  apply?: boolean;
}
export interface QueryCollateralCommand {
  type: "QueryCollateral";
  account: number;
}
export interface QueryMaxOrderCommand {
  type: "QueryMaxOrder";
  account: number;
  market: number;
  side: SideName | number;
  price: DecimalText;
  autoBorrow?: boolean;
  autoBorrowRepay?: boolean;
  autoLend?: boolean;
  autoLendRedeem?: boolean;
}
export interface QueryMaxWithdrawalCommand {
  type: "QueryMaxWithdrawal";
  account: number;
  asset: number;
  margin?: boolean;
}

export interface PoolActionCommand {
  type: "Borrow" | "Repay" | "Lend" | "Redeem";
  account: number;
  asset: number;
  /** Required for Borrow and Lend; omitted on Repay / Redeem = all of it. */
  amount?: DecimalText;
}
export interface QueryPoolStatsCommand {
  type: "QueryPoolStats";
  asset?: number;
}
export interface QueryRateCurveCommand {
  type: "QueryRateCurve";
  asset: number;
  points?: number;
}
export interface QueryInterestHistoryCommand {
  type: "QueryInterestHistory";
  account: number;
  asset?: number;
  sinceMs?: number;
  limit?: number;
}
export interface QueryMaxBorrowCommand {
  type: "QueryMaxBorrow";
  account: number;
  asset: number;
}

export type PermissionName = keyof typeof Permission & ("Read" | "Trade" | "Withdraw");
export interface LoginCommand {
  type: "Login";
  /** Base64 of the 32-byte ED25519 public key. */
  apiKey: string;
  /** Base64 of the 64-byte signature of instruction=subscribe&timestamp=T&window=W. */
  signature: string;
  timestampMs: U64;
  /** Omitted or 0 = 5000; at most 60000. */
  windowMs?: number;
}
export interface RegisterApiKeyCommand {
  type: "RegisterApiKey";
  user: number;
  apiKey: string;
  permissions: PermissionName[] | number;
}
export interface RevokeApiKeyCommand {
  type: "RevokeApiKey";
  user: number;
  apiKey: string;
}

export interface ResumeAccountCommand {
  type: "ResumeAccount";
  account: number;
  fromSeq: number;
}
export interface QueryAccountSnapshotCommand {
  type: "QueryAccountSnapshot";
  account: number;
}

export interface TakeSnapshotCommand {
  type: "TakeSnapshot";
}

export type CommandJson =
  | LoginCommand
  | RegisterApiKeyCommand
  | RevokeApiKeyCommand
  | ResumeAccountCommand
  | QueryAccountSnapshotCommand
  | TakeSnapshotCommand
  | PoolActionCommand
  | QueryPoolStatsCommand
  | QueryRateCurveCommand
  | QueryInterestHistoryCommand
  | QueryMaxBorrowCommand
  | DepositCommand
  | WithdrawCommand
  | LimitOrderCommand
  | MarketOrderCommand
  | CancelCommand
  | CancelAllCommand
  | ReplaceCommand
  | TransferCommand
  | SetMarketStateCommand
  | AdvanceTimeCommand
  | SubscribeCommand
  | UnsubscribeCommand
  | UpdateAccountSettingsCommand
  | SetMarkPriceCommand
  | OracleQuoteCommand
  | QueryCollateralCommand
  | QueryMaxOrderCommand
  | QueryMaxWithdrawalCommand;

// ---------------------------------------------------------------- field readers (runtime checks of JSON input)

type Obj = Record<string, unknown>;
const U64_MAX = 0xffff_ffff_ffff_ffffn;
const ALL_MARKETS = 0xffff;

/** Reads fields of one command object and remembers which were read, so leftovers are reported as unknown. */
class FieldReader {
  private readonly seen = new Set<string>(["type"]);

  constructor(
    private readonly obj: Obj,
    private readonly type: string,
  ) {}

  private get(key: string, required: boolean): unknown {
    this.seen.add(key);
    const v = this.obj[key];
    if (v === undefined && required) throw new CommandJsonError(`${this.type}.${key}: required`);
    return v;
  }

  private fail(key: string, expected: string): never {
    throw new CommandJsonError(`${this.type}.${key}: expected ${expected}, got ${describe(this.obj[key])}`);
  }

  uint(key: string, max: number, required: boolean, fallback = 0): number {
    const v = this.get(key, required);
    if (v === undefined) return fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) this.fail(key, `an integer in 0..${max}`);
    return v;
  }

  u64(key: string, required: boolean): bigint {
    const v = this.get(key, required);
    if (v === undefined) return 0n;
    let n: bigint;
    if (typeof v === "bigint") n = v;
    else if (typeof v === "number" && Number.isSafeInteger(v)) n = BigInt(v);
    else if (typeof v === "string" && /^\d+$/.test(v)) n = BigInt(v);
    else this.fail(key, "a u64 (safe integer, digit string or bigint)");
    if (n < 0n || n > U64_MAX) this.fail(key, "a u64 (0..2^64-1)");
    return n;
  }

  bool(key: string): boolean {
    const v = this.get(key, false);
    if (v === undefined) return false;
    if (typeof v !== "boolean") this.fail(key, "true or false");
    return v;
  }

  decimal(key: string, required: boolean): { mantissa: bigint; scale: number } | null {
    const v = this.get(key, required);
    if (v === undefined) return null;
    if (typeof v === "bigint") return { mantissa: v, scale: 0 };
    if (typeof v === "number") {
      if (!Number.isSafeInteger(v)) this.fail(key, 'a decimal string ("0.1"): numbers only as safe integers');
      return { mantissa: BigInt(v), scale: 0 };
    }
    if (typeof v !== "string") this.fail(key, "a decimal string");
    try {
      return parseWireDecimal(v, `${this.type}.${key}`);
    } catch (e) {
      if (e instanceof WireDecimalError) throw new CommandJsonError(e.message);
      throw e;
    }
  }

  /** An enum member name or a raw ubyte (passed through for the server to judge). */
  enumValue(key: string, members: Readonly<Record<string, string | number>>, required: boolean, fallback = 0): number {
    const v = this.get(key, required);
    if (v === undefined) return fallback;
    if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 255) return v;
    if (typeof v === "string" && Object.hasOwn(members, v) && typeof members[v] === "number") return members[v];
    this.fail(key, `one of ${enumNames(members).join(", ")} (or a number 0..255)`);
  }

  /** A Toggle: true → On, false → Off, omitted → Unchanged; or a Toggle name or raw ubyte (for the server to judge). */
  toggle(key: string): number {
    const v = this.get(key, false);
    if (v === undefined) return Toggle.Unchanged;
    if (v === true) return Toggle.On;
    if (v === false) return Toggle.Off;
    if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 255) return v;
    if (typeof v === "string" && Object.hasOwn(Toggle, v) && typeof Toggle[v as ToggleName] === "number") return Toggle[v as ToggleName];
    this.fail(key, `true, false, one of ${enumNames(Toggle).join(", ")} (or a number 0..255)`);
  }

  channels(key: string): number {
    return this.flags(key, Channel);
  }

  /** A bit_flags enum: a list of member names or a raw mask 0..255. */
  flags(key: string, members: Readonly<Record<string, string | number>>): number {
    const v = this.get(key, true);
    if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 255) return v;
    if (Array.isArray(v)) {
      let mask = 0;
      for (const name of v) {
        if (typeof name !== "string" || !Object.hasOwn(members, name) || typeof members[name] !== "number") {
          this.fail(key, `a list of ${enumNames(members).join(", ")}`);
        }
        mask |= members[name] as number;
      }
      return mask;
    }
    this.fail(key, `a list of ${enumNames(members).join(", ")} or a bit mask`);
  }

  text(key: string, required: boolean): string | null {
    const v = this.get(key, required);
    if (v === undefined) return null;
    if (typeof v !== "string") this.fail(key, "a string");
    return v;
  }

  /** Throws on any field that no reader asked for. */
  done(extraAllowed: readonly string[]): void {
    for (const key of Object.keys(this.obj)) {
      if (!this.seen.has(key) && !extraAllowed.includes(key)) {
        throw new CommandJsonError(`${this.type}: unknown field "${key}"`);
      }
    }
  }
}

function describe(v: unknown): string {
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "string") return JSON.stringify(v);
  if (v === undefined) return "nothing";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

/** Names of a generated TS enum (its object also maps numbers back to names). */
function enumNames(members: Readonly<Record<string, string | number>>): string[] {
  return Object.keys(members).filter((k) => typeof members[k] === "number");
}

// ---------------------------------------------------------------- encoding

function writeDecimal(builder: Builder, d: { mantissa: bigint; scale: number }): number {
  return Decimal.createDecimal(builder, d.mantissa, d.scale);
}

/** Builds the command table; returns [union type, table offset]. */
function buildCommand(builder: Builder, obj: Obj, type: string): [Command, number] {
  const f = new FieldReader(obj, type);
  const U32 = 0xffff_ffff;
  const U16 = 0xffff;
  let result: [Command, number];
  switch (type) {
    case "Deposit": {
      const account = f.uint("account", U32, true);
      const asset = f.uint("asset", U16, true);
      const amount = f.decimal("amount", true)!;
      Deposit.startDeposit(builder);
      Deposit.addAccount(builder, account);
      Deposit.addAsset(builder, asset);
      Deposit.addAmount(builder, writeDecimal(builder, amount));
      result = [Command.Deposit, Deposit.endDeposit(builder)];
      break;
    }
    case "Withdraw": {
      const account = f.uint("account", U32, true);
      const asset = f.uint("asset", U16, true);
      const amount = f.decimal("amount", true)!;
      const margin = f.bool("margin");
      Withdraw.startWithdraw(builder);
      Withdraw.addAccount(builder, account);
      Withdraw.addAsset(builder, asset);
      Withdraw.addAmount(builder, writeDecimal(builder, amount));
      Withdraw.addMargin(builder, margin);
      result = [Command.Withdraw, Withdraw.endWithdraw(builder)];
      break;
    }
    case "LimitOrder": {
      const account = f.uint("account", U32, true);
      const market = f.uint("market", U16, true);
      const side = f.enumValue("side", Side, true);
      const tif = f.enumValue("tif", TimeInForce, false, TimeInForce.GTC);
      const price = f.decimal("price", true)!;
      const quantity = f.decimal("quantity", true)!;
      const postOnly = f.bool("postOnly");
      const reduceOnly = f.bool("reduceOnly");
      const clientId = f.u64("clientId", false);
      const stp = f.enumValue("stp", SelfTradePrevention, false, SelfTradePrevention.RejectTaker);
      const autoBorrow = f.bool("autoBorrow");
      const autoBorrowRepay = f.bool("autoBorrowRepay");
      const autoLend = f.bool("autoLend");
      const autoLendRedeem = f.bool("autoLendRedeem");
      LimitOrder.startLimitOrder(builder);
      LimitOrder.addAccount(builder, account);
      LimitOrder.addMarket(builder, market);
      LimitOrder.addSide(builder, side);
      LimitOrder.addTif(builder, tif);
      LimitOrder.addPrice(builder, writeDecimal(builder, price));
      LimitOrder.addQuantity(builder, writeDecimal(builder, quantity));
      LimitOrder.addPostOnly(builder, postOnly);
      LimitOrder.addReduceOnly(builder, reduceOnly);
      LimitOrder.addClientId(builder, clientId);
      LimitOrder.addStp(builder, stp);
      LimitOrder.addAutoBorrow(builder, autoBorrow);
      LimitOrder.addAutoBorrowRepay(builder, autoBorrowRepay);
      LimitOrder.addAutoLend(builder, autoLend);
      LimitOrder.addAutoLendRedeem(builder, autoLendRedeem);
      result = [Command.LimitOrder, LimitOrder.endLimitOrder(builder)];
      break;
    }
    case "MarketOrder": {
      const account = f.uint("account", U32, true);
      const market = f.uint("market", U16, true);
      const side = f.enumValue("side", Side, true);
      const quantity = f.decimal("quantity", false);
      const quoteQuantity = f.decimal("quoteQuantity", false);
      const reduceOnly = f.bool("reduceOnly");
      const clientId = f.u64("clientId", false);
      const stp = f.enumValue("stp", SelfTradePrevention, false, SelfTradePrevention.RejectTaker);
      const autoBorrow = f.bool("autoBorrow");
      const autoBorrowRepay = f.bool("autoBorrowRepay");
      const autoLend = f.bool("autoLend");
      const autoLendRedeem = f.bool("autoLendRedeem");
      MarketOrder.startMarketOrder(builder);
      MarketOrder.addAccount(builder, account);
      MarketOrder.addMarket(builder, market);
      MarketOrder.addSide(builder, side);
      if (quantity !== null) MarketOrder.addQuantity(builder, writeDecimal(builder, quantity));
      if (quoteQuantity !== null) MarketOrder.addQuoteQuantity(builder, writeDecimal(builder, quoteQuantity));
      MarketOrder.addReduceOnly(builder, reduceOnly);
      MarketOrder.addClientId(builder, clientId);
      MarketOrder.addStp(builder, stp);
      MarketOrder.addAutoBorrow(builder, autoBorrow);
      MarketOrder.addAutoBorrowRepay(builder, autoBorrowRepay);
      MarketOrder.addAutoLend(builder, autoLend);
      MarketOrder.addAutoLendRedeem(builder, autoLendRedeem);
      result = [Command.MarketOrder, MarketOrder.endMarketOrder(builder)];
      break;
    }
    case "Cancel": {
      const account = f.uint("account", U32, true);
      const market = f.uint("market", U16, true);
      const orderId = f.u64("orderId", false);
      const clientId = f.u64("clientId", false);
      result = [Command.Cancel, Cancel.createCancel(builder, account, market, orderId, clientId)];
      break;
    }
    case "CancelAll": {
      const account = f.uint("account", U32, true);
      const market = f.uint("market", U16, false, ALL_MARKETS);
      result = [Command.CancelAll, CancelAll.createCancelAll(builder, account, market)];
      break;
    }
    case "Replace": {
      const account = f.uint("account", U32, true);
      const market = f.uint("market", U16, true);
      const orderId = f.u64("orderId", false);
      const clientId = f.u64("clientId", false);
      const price = f.decimal("price", true)!;
      const quantity = f.decimal("quantity", true)!;
      Replace.startReplace(builder);
      Replace.addAccount(builder, account);
      Replace.addMarket(builder, market);
      Replace.addOrderId(builder, orderId);
      Replace.addClientId(builder, clientId);
      Replace.addPrice(builder, writeDecimal(builder, price));
      Replace.addQuantity(builder, writeDecimal(builder, quantity));
      result = [Command.Replace, Replace.endReplace(builder)];
      break;
    }
    case "Transfer": {
      const from = f.uint("fromAccount", U32, true);
      const to = f.uint("toAccount", U32, true);
      const asset = f.uint("asset", U16, true);
      const amount = f.decimal("amount", true)!;
      Transfer.startTransfer(builder);
      Transfer.addFromAccount(builder, from);
      Transfer.addToAccount(builder, to);
      Transfer.addAsset(builder, asset);
      Transfer.addAmount(builder, writeDecimal(builder, amount));
      result = [Command.Transfer, Transfer.endTransfer(builder)];
      break;
    }
    case "SetMarketState": {
      const market = f.uint("market", U16, true);
      const state = f.enumValue("state", MarketState, true);
      result = [Command.SetMarketState, SetMarketState.createSetMarketState(builder, market, state)];
      break;
    }
    case "AdvanceTime": {
      const timeMs = f.u64("timeMs", true);
      result = [Command.AdvanceTime, AdvanceTime.createAdvanceTime(builder, timeMs)];
      break;
    }
    case "Subscribe":
    case "Unsubscribe": {
      const market = f.uint("market", U16, false, ALL_MARKETS);
      const channels = f.channels("channels");
      result =
        type === "Subscribe"
          ? [Command.Subscribe, Subscribe.createSubscribe(builder, market, channels)]
          : [Command.Unsubscribe, Unsubscribe.createUnsubscribe(builder, market, channels)];
      break;
    }
    case "UpdateAccountSettings": {
      const account = f.uint("account", U32, true);
      const leverage = f.uint("leverageLimit", 255, false, 0);
      result = [
        Command.UpdateAccountSettings,
        UpdateAccountSettings.createUpdateAccountSettings(
          builder,
          account,
          leverage,
          f.toggle("autoLend"),
          f.toggle("autoRepayBorrows"),
          f.toggle("autoBorrowSettlements"),
          f.toggle("autoRealizePnl"),
          f.toggle("marginEnabled"),
        ),
      ];
      break;
    }
    case "SetMarkPrice": {
      const asset = f.uint("asset", U16, true);
      const price = f.decimal("price", true)!;
      SetMarkPrice.startSetMarkPrice(builder);
      SetMarkPrice.addAsset(builder, asset);
      SetMarkPrice.addPrice(builder, writeDecimal(builder, price));
      result = [Command.SetMarkPrice, SetMarkPrice.endSetMarkPrice(builder)];
      break;
    }
    case "OracleQuote": {
      const asset = f.uint("asset", U16, true);
      const source = f.uint("source", 255, true);
      const bid = f.decimal("bid", true)!;
      const ask = f.decimal("ask", true)!;
      const last = f.decimal("last", true)!;
      const sourceTimeMs = f.u64("sourceTimeMs", true);
      const apply = f.bool("apply");
      OracleQuote.startOracleQuote(builder);
      OracleQuote.addAsset(builder, asset);
      OracleQuote.addSource(builder, source);
      OracleQuote.addBid(builder, writeDecimal(builder, bid));
      OracleQuote.addAsk(builder, writeDecimal(builder, ask));
      OracleQuote.addLast(builder, writeDecimal(builder, last));
      OracleQuote.addSourceTimeMs(builder, sourceTimeMs);
      OracleQuote.addApply(builder, apply);
      result = [Command.OracleQuote, OracleQuote.endOracleQuote(builder)];
      break;
    }
    case "QueryCollateral": {
      const account = f.uint("account", U32, true);
      result = [Command.QueryCollateral, QueryCollateral.createQueryCollateral(builder, account)];
      break;
    }
    case "QueryMaxOrder": {
      const account = f.uint("account", U32, true);
      const market = f.uint("market", U16, true);
      const side = f.enumValue("side", Side, true);
      const price = f.decimal("price", true)!;
      const autoBorrow = f.bool("autoBorrow");
      const autoBorrowRepay = f.bool("autoBorrowRepay");
      const autoLend = f.bool("autoLend");
      const autoLendRedeem = f.bool("autoLendRedeem");
      QueryMaxOrder.startQueryMaxOrder(builder);
      QueryMaxOrder.addAccount(builder, account);
      QueryMaxOrder.addMarket(builder, market);
      QueryMaxOrder.addSide(builder, side);
      QueryMaxOrder.addPrice(builder, writeDecimal(builder, price));
      QueryMaxOrder.addAutoBorrow(builder, autoBorrow);
      QueryMaxOrder.addAutoBorrowRepay(builder, autoBorrowRepay);
      QueryMaxOrder.addAutoLend(builder, autoLend);
      QueryMaxOrder.addAutoLendRedeem(builder, autoLendRedeem);
      result = [Command.QueryMaxOrder, QueryMaxOrder.endQueryMaxOrder(builder)];
      break;
    }
    case "Borrow":
    case "Repay":
    case "Lend":
    case "Redeem": {
      const account = f.uint("account", U32, true);
      const asset = f.uint("asset", U16, true);
      const amount = f.decimal("amount", type === "Borrow" || type === "Lend");
      // The four tables share one layout (account, asset, amount); a Decimal struct is written inside its table.
      const kind = type === "Borrow" ? Command.Borrow : type === "Repay" ? Command.Repay : type === "Lend" ? Command.Lend : Command.Redeem;
      Borrow.startBorrow(builder);
      Borrow.addAccount(builder, account);
      Borrow.addAsset(builder, asset);
      if (amount !== null) Borrow.addAmount(builder, writeDecimal(builder, amount));
      result = [kind, Borrow.endBorrow(builder)];
      break;
    }
    case "QueryPoolStats": {
      const asset = obj["asset"] === undefined ? 0xffff : f.uint("asset", U16, true);
      result = [Command.QueryPoolStats, QueryPoolStats.createQueryPoolStats(builder, asset)];
      break;
    }
    case "QueryRateCurve": {
      const asset = f.uint("asset", U16, true);
      const points = f.uint("points", 255, false) ?? 0;
      result = [Command.QueryRateCurve, QueryRateCurve.createQueryRateCurve(builder, asset, points)];
      break;
    }
    case "QueryInterestHistory": {
      const account = f.uint("account", U32, true);
      const asset = obj["asset"] === undefined ? 0xffff : f.uint("asset", U16, true);
      const since = f.uint("sinceMs", Number.MAX_SAFE_INTEGER, false) ?? 0;
      const limit = f.uint("limit", U16, false) ?? 0;
      result = [Command.QueryInterestHistory, QueryInterestHistory.createQueryInterestHistory(builder, account, asset, BigInt(since), limit)];
      break;
    }
    case "ResumeAccount": {
      const account = f.uint("account", U32, true);
      const fromSeq = f.uint("fromSeq", Number.MAX_SAFE_INTEGER, true);
      result = [Command.ResumeAccount, ResumeAccount.createResumeAccount(builder, account, BigInt(fromSeq))];
      break;
    }
    case "QueryAccountSnapshot": {
      const account = f.uint("account", U32, true);
      result = [Command.QueryAccountSnapshot, QueryAccountSnapshot.createQueryAccountSnapshot(builder, account)];
      break;
    }
    case "TakeSnapshot": {
      TakeSnapshot.startTakeSnapshot(builder);
      result = [Command.TakeSnapshot, TakeSnapshot.endTakeSnapshot(builder)];
      break;
    }
    case "QueryMaxBorrow": {
      const account = f.uint("account", U32, true);
      const asset = f.uint("asset", U16, true);
      result = [Command.QueryMaxBorrow, QueryMaxBorrow.createQueryMaxBorrow(builder, account, asset)];
      break;
    }
    case "QueryMaxWithdrawal": {
      const account = f.uint("account", U32, true);
      const asset = f.uint("asset", U16, true);
      const margin = f.bool("margin");
      result = [Command.QueryMaxWithdrawal, QueryMaxWithdrawal.createQueryMaxWithdrawal(builder, account, asset, margin)];
      break;
    }
    case "Login": {
      const apiKey = builder.createString(f.text("apiKey", true)!);
      const signature = builder.createString(f.text("signature", true)!);
      const timestampMs = f.u64("timestampMs", true);
      const windowMs = f.uint("windowMs", U32, false);
      result = [Command.Login, Login.createLogin(builder, apiKey, signature, timestampMs, windowMs)];
      break;
    }
    case "RegisterApiKey": {
      const user = f.uint("user", U32, true);
      const apiKey = builder.createString(f.text("apiKey", true)!);
      const permissions = f.flags("permissions", Permission);
      result = [Command.RegisterApiKey, RegisterApiKey.createRegisterApiKey(builder, user, apiKey, permissions)];
      break;
    }
    case "RevokeApiKey": {
      const user = f.uint("user", U32, true);
      const apiKey = builder.createString(f.text("apiKey", true)!);
      result = [Command.RevokeApiKey, RevokeApiKey.createRevokeApiKey(builder, user, apiKey)];
      break;
    }
    default:
      throw new CommandJsonError(`unknown command type ${describe(type)}`);
  }
  f.done(["clientSeq"]);
  return result;
}

function encodeObject(clientSeq: bigint, obj: Obj): Uint8Array {
  const type = obj["type"];
  if (typeof type !== "string") throw new CommandJsonError(`command: "type" must be a string, got ${describe(type)}`);
  const builder = new Builder(256);
  const [unionType, table] = buildCommand(builder, obj, type);
  CommandEnvelope.startCommandEnvelope(builder);
  CommandEnvelope.addClientSeq(builder, clientSeq);
  CommandEnvelope.addCommandType(builder, unionType);
  CommandEnvelope.addCommand(builder, table);
  builder.finish(CommandEnvelope.endCommandEnvelope(builder));
  return builder.asUint8Array().slice();
}

/** Encodes one command (see the JSON shape at the top of this file). Throws CommandJsonError when it cannot. */
export function encodeCommand(clientSeq: U64, cmd: CommandJson): Uint8Array {
  const seq = new FieldReader({ clientSeq }, "envelope").u64("clientSeq", false);
  return encodeObject(seq, cmd as unknown as Obj);
}

/**
 * One parsed JSON object (a line of a replay file) → a command frame, which the engine side then reads with
 * decodeCommand like any client frame. `clientSeq` may be given in the object (default 0).
 */
export function jsonToFrame(obj: unknown): Uint8Array {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) {
    throw new CommandJsonError(`command: expected a JSON object, got ${describe(obj)}`);
  }
  const o = obj as Obj;
  const clientSeq = new FieldReader({ clientSeq: o["clientSeq"] }, "envelope").u64("clientSeq", false);
  return encodeObject(clientSeq, o);
}

// ---------------------------------------------------------------- events

export interface EnvelopeFields {
  clientSeq: bigint;
  seq: bigint;
  marketSeq: bigint;
}

/** An enum value: its member name when known, else the raw number (from a newer server). */
export type EnumText = string | number;

export interface LevelJson {
  price: string;
  quantity: string;
}

export type EventJson = EnvelopeFields &
  (
    | {
        type: "OrderAccepted";
        account: number;
        market: number;
        orderId: bigint;
        clientId: bigint;
        side: EnumText;
        price: string;
        quantity: string;
      }
    | {
        type: "OrderRejected";
        account: number;
        market: number;
        orderId: bigint;
        clientId: bigint;
        code: EnumText;
        message: string;
      }
    | {
        type: "Fill";
        market: number;
        tradeId: bigint;
        price: string;
        quantity: string;
        quoteQuantity: string;
        takerAccount: number;
        makerAccount: number;
        takerOrderId: bigint;
        makerOrderId: bigint;
        takerClientId: bigint;
        makerClientId: bigint;
        takerSide: EnumText;
        fee: string;
        feeAsset: number;
        isMaker: boolean;
        timeMs: bigint;
      }
    | {
        type: "OrderDone";
        account: number;
        market: number;
        orderId: bigint;
        clientId: bigint;
        side: EnumText;
        reason: EnumText;
        filled: string;
        remaining: string;
      }
    | { type: "Balance"; account: number; asset: number; available: string; locked: string; lent?: string; borrowed?: string }
    | {
        type: "AccountSettings";
        account: number;
        leverageLimit: number;
        autoLend: boolean;
        autoRepayBorrows: boolean;
        autoBorrowSettlements: boolean;
        autoRealizePnl: boolean;
        marginEnabled: boolean;
      }
    | {
        type: "AccountCollateral";
        account: number;
        netEquity: string;
        netEquityAvailable: string;
        netEquityLocked: string;
        collateralValue: string;
        borrowLiability: string;
        unrealizedPnl: string;
        exposureNotional: string;
        imf: string;
        mmf: string;
        marginFraction: string;
        imr: string;
        mmr: string;
        liquidatable: boolean;
        leverageLimit: number;
        autoLend: boolean;
        autoRepayBorrows: boolean;
        autoBorrowSettlements: boolean;
        autoRealizePnl: boolean;
        marginEnabled: boolean;
        feeTier: number;
        makerFeeBps: number;
        takerFeeBps: number;
        volume30d: string;
      }
    | {
        type: "AssetCollateral";
        account: number;
        asset: number;
        quantity: string;
        available: string;
        openOrderQuantity: string;
        lent: string;
        borrowed: string;
        markPrice: string;
        weight: string;
        notional: string;
        collateralValue: string;
        liability: string;
      }
    | { type: "MaxOrderQuantity"; account: number; market: number; side: EnumText; price: string; quantity: string; marginLimit: string }
    | { type: "MaxWithdrawalQuantity"; account: number; asset: number; quantity: string; marginLimit: string }
    | {
        type: "PoolStats";
        asset: number;
        state: EnumText;
        throttled: boolean;
        totalLent: string;
        totalBorrowed: string;
        freeLiquidity: string;
        reserved: string;
        openBorrowLendLimit: string;
        utilization: string;
        borrowRate: string;
        lendRate: string;
        lendRateAfterFee: string;
        hourBorrowRate: string;
        optimalUtilization: string;
        throttleUtilization: string;
        maxUtilization: string;
        fee: string;
      }
    | { type: "RateCurvePoint"; asset: number; utilization: string; borrowRate: string; lendRate: string; lendRateAfterFee: string }
    | { type: "InterestEntry"; account: number; asset: number; kind: EnumText; amount: string; rate: string; timeMs: bigint }
    | { type: "MaxBorrowQuantity"; account: number; asset: number; quantity: string; marginLimit: string; poolLimit: string }
    | { type: "IndexPrice"; asset: number; index: string; stale: boolean; sourcesUsed: number; stepLimited: boolean; timeMs: bigint }
    | { type: "OpenOrder"; account: number; market: number; orderId: bigint; clientId: bigint; side: EnumText; price: string; remaining: string }
    | { type: "AccountSnapshot"; account: number; validAtSeq: bigint; balances: number; orders: number }
    | { type: "ResumeDone"; account: number; fromSeq: bigint; events: number; complete: boolean }
    | { type: "CommandAccepted"; account: number; asset: number; amount: string }
    | { type: "CommandRejected"; account: number; code: EnumText; message: string }
    | { type: "Clock"; timeMs: bigint }
    | { type: "SnapshotTaken"; seq: bigint; batch: bigint; stateHash: string; bytes: bigint; file: string }
    | { type: "DepthSnapshot"; market: number; lastUpdateId: bigint; bids: LevelJson[]; asks: LevelJson[] }
    | {
        type: "DepthDelta";
        market: number;
        firstUpdateId: bigint;
        lastUpdateId: bigint;
        bids: LevelJson[];
        asks: LevelJson[];
      }
    | {
        type: "Trade";
        market: number;
        tradeId: bigint;
        price: string;
        quantity: string;
        quoteQuantity: string;
        takerSide: EnumText;
        timeMs: bigint;
      }
    | {
        type: "BookTicker";
        market: number;
        updateId: bigint;
        bidPrice: string;
        bidQuantity: string;
        askPrice: string;
        askQuantity: string;
      }
    | {
        type: "Ticker";
        market: number;
        openTimeMs: bigint;
        closeTimeMs: bigint;
        open: string;
        high: string;
        low: string;
        close: string;
        volume: string;
        quoteVolume: string;
        tradeCount: bigint;
      }
    /** An event type this client does not know (sent by a newer server). */
    | { type: "Unknown"; eventType: number }
  );

function dec(d: Decimal | null): string {
  return d === null ? "0" : formatWireDecimal(d.mantissa(), d.scale());
}

/** A ratio of AccountCollateral: absent means unbounded. */
function ratio(d: Decimal | null): string {
  return d === null ? "unbounded" : formatWireDecimal(d.mantissa(), d.scale());
}

function name(members: Readonly<Record<number, string>>, value: number): EnumText {
  const n = members[value];
  return typeof n === "string" ? n : value;
}

function levelsOf(count: number, at: (i: number) => Level | null): LevelJson[] {
  const out: LevelJson[] = [];
  for (let i = 0; i < count; i++) {
    const level = at(i)!;
    out.push({ price: dec(level.price()), quantity: dec(level.quantity()) });
  }
  return out;
}

const EVENT_VERIFY_OPTIONS = { rejectUnknownFields: false, rejectUnknownUnionType: false } as const;

/** Decodes one event frame. Throws WireFormatError when the frame is not a well-formed EventEnvelope. */
export function decodeEvent(bytes: Uint8Array): EventJson {
  const failure = { message: "" };
  if (!verifyEnvelope(bytes, EVENT_ENVELOPE, EVENT_LAYOUTS, EVENT_VERIFY_OPTIONS, failure, new VerifiedFrame())) {
    throw new WireFormatError(`malformed event frame: ${failure.message}`);
  }
  const env = EventEnvelope.getRootAsEventEnvelope(new ByteBuffer(bytes));
  const head: EnvelopeFields = { clientSeq: env.clientSeq(), seq: env.seq(), marketSeq: env.marketSeq() };
  const type = env.eventType();
  const table = (t: object): object => {
    const found = env.event(t) as object | null;
    if (found === null) throw new WireFormatError(`event type ${type} set but its table is missing`);
    return found;
  };
  switch (type) {
    case Event.OrderAccepted: {
      const t = table(new OrderAccepted()) as OrderAccepted;
      return {
        ...head,
        type: "OrderAccepted",
        account: t.account(),
        market: t.market(),
        orderId: t.orderId(),
        clientId: t.clientId(),
        side: name(Side, t.side()),
        price: dec(t.price()),
        quantity: dec(t.quantity()),
      };
    }
    case Event.OrderRejected: {
      const t = table(new OrderRejected()) as OrderRejected;
      return {
        ...head,
        type: "OrderRejected",
        account: t.account(),
        market: t.market(),
        orderId: t.orderId(),
        clientId: t.clientId(),
        code: name(RejectCode, t.code()),
        message: t.message() ?? "",
      };
    }
    case Event.Fill: {
      const t = table(new Fill()) as Fill;
      return {
        ...head,
        type: "Fill",
        market: t.market(),
        tradeId: t.tradeId(),
        price: dec(t.price()),
        quantity: dec(t.quantity()),
        quoteQuantity: dec(t.quoteQuantity()),
        takerAccount: t.takerAccount(),
        makerAccount: t.makerAccount(),
        takerOrderId: t.takerOrderId(),
        makerOrderId: t.makerOrderId(),
        takerClientId: t.takerClientId(),
        makerClientId: t.makerClientId(),
        takerSide: name(Side, t.takerSide()),
        fee: dec(t.fee()),
        feeAsset: t.feeAsset(),
        isMaker: t.isMaker(),
        timeMs: t.timeMs(),
      };
    }
    case Event.OrderDone: {
      const t = table(new OrderDone()) as OrderDone;
      return {
        ...head,
        type: "OrderDone",
        account: t.account(),
        market: t.market(),
        orderId: t.orderId(),
        clientId: t.clientId(),
        side: name(Side, t.side()),
        reason: name(DoneReason, t.reason()),
        filled: dec(t.filled()),
        remaining: dec(t.remaining()),
      };
    }
    case Event.Balance: {
      const t = table(new Balance()) as Balance;
      const lent = t.lent();
      const borrowed = t.borrowed();
      return {
        ...head,
        type: "Balance",
        account: t.account(),
        asset: t.asset(),
        available: dec(t.available()),
        locked: dec(t.locked()),
        ...(lent !== null ? { lent: dec(lent) } : {}),
        ...(borrowed !== null ? { borrowed: dec(borrowed) } : {}),
      };
    }
    case Event.AccountSettings: {
      const t = table(new AccountSettings()) as AccountSettings;
      return {
        ...head,
        type: "AccountSettings",
        account: t.account(),
        leverageLimit: t.leverageLimit(),
        autoLend: t.autoLend(),
        autoRepayBorrows: t.autoRepayBorrows(),
        autoBorrowSettlements: t.autoBorrowSettlements(),
        autoRealizePnl: t.autoRealizePnl(),
        marginEnabled: t.marginEnabled(),
      };
    }
    case Event.AccountCollateral: {
      const t = table(new AccountCollateral()) as AccountCollateral;
      return {
        ...head,
        type: "AccountCollateral",
        account: t.account(),
        netEquity: dec(t.netEquity()),
        netEquityAvailable: dec(t.netEquityAvailable()),
        netEquityLocked: dec(t.netEquityLocked()),
        collateralValue: dec(t.collateralValue()),
        borrowLiability: dec(t.borrowLiability()),
        unrealizedPnl: dec(t.unrealizedPnl()),
        exposureNotional: dec(t.exposureNotional()),
        imf: ratio(t.imf()),
        mmf: ratio(t.mmf()),
        marginFraction: ratio(t.marginFraction()),
        imr: ratio(t.imr()),
        mmr: ratio(t.mmr()),
        liquidatable: t.liquidatable(),
        leverageLimit: t.leverageLimit(),
        autoLend: t.autoLend(),
        autoRepayBorrows: t.autoRepayBorrows(),
        autoBorrowSettlements: t.autoBorrowSettlements(),
        autoRealizePnl: t.autoRealizePnl(),
        marginEnabled: t.marginEnabled(),
        feeTier: t.feeTier(),
        makerFeeBps: t.makerFeeBps(),
        takerFeeBps: t.takerFeeBps(),
        volume30d: dec(t.volume30d()),
      };
    }
    case Event.AssetCollateral: {
      const t = table(new AssetCollateral()) as AssetCollateral;
      return {
        ...head,
        type: "AssetCollateral",
        account: t.account(),
        asset: t.asset(),
        quantity: dec(t.quantity()),
        available: dec(t.available()),
        openOrderQuantity: dec(t.openOrderQuantity()),
        lent: dec(t.lent()),
        borrowed: dec(t.borrowed()),
        markPrice: dec(t.markPrice()),
        weight: dec(t.weight()),
        notional: dec(t.notional()),
        collateralValue: dec(t.collateralValue()),
        liability: dec(t.liability()),
      };
    }
    case Event.MaxOrderQuantity: {
      const t = table(new MaxOrderQuantity()) as MaxOrderQuantity;
      return {
        ...head,
        type: "MaxOrderQuantity",
        account: t.account(),
        market: t.market(),
        side: name(Side, t.side()),
        price: dec(t.price()),
        quantity: dec(t.quantity()),
        marginLimit: dec(t.marginLimit()),
      };
    }
    case Event.PoolStats: {
      const t = table(new PoolStats()) as PoolStats;
      return {
        ...head,
        type: "PoolStats",
        asset: t.asset(),
        state: name(PoolState, t.state()),
        throttled: t.throttled(),
        totalLent: dec(t.totalLent()),
        totalBorrowed: dec(t.totalBorrowed()),
        freeLiquidity: dec(t.freeLiquidity()),
        reserved: dec(t.reserved()),
        openBorrowLendLimit: dec(t.openBorrowLendLimit()),
        utilization: dec(t.utilization()),
        borrowRate: dec(t.borrowRate()),
        lendRate: dec(t.lendRate()),
        lendRateAfterFee: dec(t.lendRateAfterFee()),
        hourBorrowRate: dec(t.hourBorrowRate()),
        optimalUtilization: dec(t.optimalUtilization()),
        throttleUtilization: dec(t.throttleUtilization()),
        maxUtilization: dec(t.maxUtilization()),
        fee: dec(t.fee()),
      };
    }
    case Event.RateCurvePoint: {
      const t = table(new RateCurvePoint()) as RateCurvePoint;
      return {
        ...head,
        type: "RateCurvePoint",
        asset: t.asset(),
        utilization: dec(t.utilization()),
        borrowRate: dec(t.borrowRate()),
        lendRate: dec(t.lendRate()),
        lendRateAfterFee: dec(t.lendRateAfterFee()),
      };
    }
    case Event.InterestEntry: {
      const t = table(new InterestEntry()) as InterestEntry;
      return {
        ...head,
        type: "InterestEntry",
        account: t.account(),
        asset: t.asset(),
        kind: name(InterestKind, t.kind()),
        amount: dec(t.amount()),
        rate: dec(t.rate()),
        timeMs: t.timeMs(),
      };
    }
    case Event.OpenOrder: {
      const t = table(new OpenOrder()) as OpenOrder;
      return {
        ...head,
        type: "OpenOrder",
        account: t.account(),
        market: t.market(),
        orderId: t.orderId(),
        clientId: t.clientId(),
        side: name(Side, t.side()),
        price: dec(t.price()),
        remaining: dec(t.remaining()),
      };
    }
    case Event.AccountSnapshot: {
      const t = table(new AccountSnapshot()) as AccountSnapshot;
      return { ...head, type: "AccountSnapshot", account: t.account(), validAtSeq: t.validAtSeq(), balances: t.balances(), orders: t.orders() };
    }
    case Event.ResumeDone: {
      const t = table(new ResumeDone()) as ResumeDone;
      return { ...head, type: "ResumeDone", account: t.account(), fromSeq: t.fromSeq(), events: t.events(), complete: t.complete() };
    }
    case Event.IndexPrice: {
      const t = table(new IndexPrice()) as IndexPrice;
      const index = dec(t.index());
      return { ...head, type: "IndexPrice", asset: t.asset(), index, stale: t.stale(), sourcesUsed: t.sourcesUsed(), stepLimited: t.stepLimited(), timeMs: t.timeMs() };
    }
    case Event.MaxBorrowQuantity: {
      const t = table(new MaxBorrowQuantity()) as MaxBorrowQuantity;
      return {
        ...head,
        type: "MaxBorrowQuantity",
        account: t.account(),
        asset: t.asset(),
        quantity: dec(t.quantity()),
        marginLimit: dec(t.marginLimit()),
        poolLimit: dec(t.poolLimit()),
      };
    }
    case Event.MaxWithdrawalQuantity: {
      const t = table(new MaxWithdrawalQuantity()) as MaxWithdrawalQuantity;
      return {
        ...head,
        type: "MaxWithdrawalQuantity",
        account: t.account(),
        asset: t.asset(),
        quantity: dec(t.quantity()),
        marginLimit: dec(t.marginLimit()),
      };
    }
    case Event.CommandAccepted: {
      const t = table(new CommandAccepted()) as CommandAccepted;
      return { ...head, type: "CommandAccepted", account: t.account(), asset: t.asset(), amount: dec(t.amount()) };
    }
    case Event.CommandRejected: {
      const t = table(new CommandRejected()) as CommandRejected;
      return {
        ...head,
        type: "CommandRejected",
        account: t.account(),
        code: name(RejectCode, t.code()),
        message: t.message() ?? "",
      };
    }
    case Event.Clock: {
      const t = table(new Clock()) as Clock;
      return { ...head, type: "Clock", timeMs: t.timeMs() };
    }
    case Event.SnapshotTaken: {
      const t = table(new SnapshotTaken()) as SnapshotTaken;
      return { ...head, type: "SnapshotTaken", seq: t.seq(), batch: t.batch(), stateHash: t.stateHash() ?? "", bytes: t.bytes(), file: t.file() ?? "" };
    }
    case Event.DepthSnapshot: {
      const t = table(new DepthSnapshot()) as DepthSnapshot;
      return {
        ...head,
        type: "DepthSnapshot",
        market: t.market(),
        lastUpdateId: t.lastUpdateId(),
        bids: levelsOf(t.bidsLength(), (i) => t.bids(i)),
        asks: levelsOf(t.asksLength(), (i) => t.asks(i)),
      };
    }
    case Event.DepthDelta: {
      const t = table(new DepthDelta()) as DepthDelta;
      return {
        ...head,
        type: "DepthDelta",
        market: t.market(),
        firstUpdateId: t.firstUpdateId(),
        lastUpdateId: t.lastUpdateId(),
        bids: levelsOf(t.bidsLength(), (i) => t.bids(i)),
        asks: levelsOf(t.asksLength(), (i) => t.asks(i)),
      };
    }
    case Event.Trade: {
      const t = table(new Trade()) as Trade;
      return {
        ...head,
        type: "Trade",
        market: t.market(),
        tradeId: t.tradeId(),
        price: dec(t.price()),
        quantity: dec(t.quantity()),
        quoteQuantity: dec(t.quoteQuantity()),
        takerSide: name(Side, t.takerSide()),
        timeMs: t.timeMs(),
      };
    }
    case Event.BookTicker: {
      const t = table(new BookTicker()) as BookTicker;
      return {
        ...head,
        type: "BookTicker",
        market: t.market(),
        updateId: t.updateId(),
        bidPrice: dec(t.bidPrice()),
        bidQuantity: dec(t.bidQuantity()),
        askPrice: dec(t.askPrice()),
        askQuantity: dec(t.askQuantity()),
      };
    }
    case Event.Ticker: {
      const t = table(new Ticker()) as Ticker;
      return {
        ...head,
        type: "Ticker",
        market: t.market(),
        openTimeMs: t.openTimeMs(),
        closeTimeMs: t.closeTimeMs(),
        open: dec(t.open()),
        high: dec(t.high()),
        low: dec(t.low()),
        close: dec(t.close()),
        volume: dec(t.volume()),
        quoteVolume: dec(t.quoteVolume()),
        tradeCount: t.tradeCount(),
      };
    }
    default:
      return { ...head, type: "Unknown", eventType: type };
  }
}

/** JSON text of a decoded event (or any value holding bigints): bigints are written as decimal strings. */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}
