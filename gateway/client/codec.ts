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
//   {"type":"QueryPositions","account":17}                    → Position per perpetual market held, CommandAccepted
//   {"type":"QueryOpenInterest","market":3}                   → OpenInterest (market omitted = every perpetual)
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
  InterestEntry,
  InterestKind,
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
  IndexPrice,
  OpenInterest,
  Position,
  Settlement,
  SettlementReason,
  SettlementStep,
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
import * as wire from "../../schemas/index.ts";
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
export interface SetMarkPriceCommand {
  type: "SetMarkPrice";
  asset: number;
  /** USD. */
  price: DecimalText;
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
export interface QueryPositionsCommand {
  type: "QueryPositions";
  account: number;
}
export interface QueryOpenInterestCommand {
  type: "QueryOpenInterest";
  market?: number;
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
  | QueryPositionsCommand
  | QueryOpenInterestCommand
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

/** Reads one JSON field (named `key`) of a command; null = leave the wire field out. */
type JsonRead = (f: FieldReader, key: string) => number | bigint | boolean | string | { mantissa: bigint; scale: number } | null;

const U32 = 0xffff_ffff;
const U16 = 0xffff;
const u32: JsonRead = (f, k) => f.uint(k, U32, true);
const u16: JsonRead = (f, k) => f.uint(k, U16, true);
/** A market or asset id; omitted = all of them (0xFFFF). */
const u16OrAll: JsonRead = (f, k) => f.uint(k, U16, false, ALL_MARKETS);
const u16Optional: JsonRead = (f, k) => f.uint(k, U16, false);
const u8: JsonRead = (f, k) => f.uint(k, 255, true);
const u8Optional: JsonRead = (f, k) => f.uint(k, 255, false);
const u32Optional: JsonRead = (f, k) => f.uint(k, U32, false);
const u64: JsonRead = (f, k) => f.u64(k, true);
const u64Optional: JsonRead = (f, k) => f.u64(k, false);
/** A sequence number or ms time given as a safe integer. */
const safeU64: JsonRead = (f, k) => BigInt(f.uint(k, Number.MAX_SAFE_INTEGER, true));
const safeU64Optional: JsonRead = (f, k) => BigInt(f.uint(k, Number.MAX_SAFE_INTEGER, false));
const decimal: JsonRead = (f, k) => f.decimal(k, true);
const decimalOptional: JsonRead = (f, k) => f.decimal(k, false);
const bool: JsonRead = (f, k) => f.bool(k);
const toggle: JsonRead = (f, k) => f.toggle(k);
const text: JsonRead = (f, k) => f.text(k, true);
const side: JsonRead = (f, k) => f.enumValue(k, Side, true);
const tif: JsonRead = (f, k) => f.enumValue(k, TimeInForce, false, TimeInForce.GTC);
const stp: JsonRead = (f, k) => f.enumValue(k, SelfTradePrevention, false, SelfTradePrevention.RejectTaker);
const marketState: JsonRead = (f, k) => f.enumValue(k, MarketState, true);
const channels: JsonRead = (f, k) => f.channels(k);
const permissions: JsonRead = (f, k) => f.flags(k, Permission);

/** A command's wire fields (snake_case, as in crossbook.fbs; the JSON key is the camelCase form) and their readers. */
type JsonFields = readonly (readonly [wire: string, read: JsonRead])[];

const ORDER_FLAGS: JsonFields = [["auto_borrow", bool], ["auto_borrow_repay", bool], ["auto_lend", bool], ["auto_lend_redeem", bool]];
const ACCOUNT_ASSET: JsonFields = [["account", u32], ["asset", u16]];
const SETTING_TOGGLES: JsonFields = [["auto_lend", toggle], ["auto_repay_borrows", toggle], ["auto_borrow_settlements", toggle], ["auto_realize_pnl", toggle], ["margin_enabled", toggle]];

/** Every command the client encodes: its wire table (the Command union member of the same name) and its fields. */
const COMMAND_JSON: Readonly<Record<string, JsonFields>> = {
  Deposit: [...ACCOUNT_ASSET, ["amount", decimal]],
  Withdraw: [...ACCOUNT_ASSET, ["amount", decimal], ["margin", bool]],
  LimitOrder: [
    ["account", u32], ["market", u16], ["side", side], ["tif", tif], ["price", decimal], ["quantity", decimal], ["post_only", bool],
    ["reduce_only", bool], ["client_id", u64Optional], ["stp", stp], ...ORDER_FLAGS,
  ],
  MarketOrder: [
    ["account", u32], ["market", u16], ["side", side], ["quantity", decimalOptional], ["quote_quantity", decimalOptional],
    ["reduce_only", bool], ["client_id", u64Optional], ["stp", stp], ...ORDER_FLAGS,
  ],
  Cancel: [["account", u32], ["market", u16], ["order_id", u64Optional], ["client_id", u64Optional]],
  CancelAll: [["account", u32], ["market", u16OrAll]],
  Replace: [["account", u32], ["market", u16], ["order_id", u64Optional], ["client_id", u64Optional], ["price", decimal], ["quantity", decimal]],
  Transfer: [["from_account", u32], ["to_account", u32], ["asset", u16], ["amount", decimal]],
  SetMarketState: [["market", u16], ["state", marketState]],
  AdvanceTime: [["time_ms", u64]],
  Subscribe: [["market", u16OrAll], ["channels", channels]],
  Unsubscribe: [["market", u16OrAll], ["channels", channels]],
  UpdateAccountSettings: [["account", u32], ["leverage_limit", u8Optional], ...SETTING_TOGGLES],
  SetMarkPrice: [["asset", u16], ["price", decimal]],
  OracleQuote: [["asset", u16], ["source", u8], ["bid", decimal], ["ask", decimal], ["last", decimal], ["source_time_ms", u64], ["apply", bool]],
  QueryCollateral: [["account", u32]],
  QueryMaxOrder: [["account", u32], ["market", u16], ["side", side], ["price", decimal], ...ORDER_FLAGS],
  QueryMaxWithdrawal: [...ACCOUNT_ASSET, ["margin", bool]],
  Borrow: [...ACCOUNT_ASSET, ["amount", decimal]],
  Repay: [...ACCOUNT_ASSET, ["amount", decimalOptional]],
  Lend: [...ACCOUNT_ASSET, ["amount", decimal]],
  Redeem: [...ACCOUNT_ASSET, ["amount", decimalOptional]],
  QueryPoolStats: [["asset", u16OrAll]],
  QueryRateCurve: [["asset", u16], ["points", u8Optional]],
  QueryInterestHistory: [["account", u32], ["asset", u16OrAll], ["since_ms", safeU64Optional], ["limit", u16Optional]],
  QueryMaxBorrow: ACCOUNT_ASSET,
  QueryPositions: [["account", u32]],
  QueryOpenInterest: [["market", u16OrAll]],
  ResumeAccount: [["account", u32], ["from_seq", safeU64]],
  QueryAccountSnapshot: [["account", u32]],
  TakeSnapshot: [],
  Login: [["api_key", text], ["signature", text], ["timestamp_ms", u64], ["window_ms", u32Optional]],
  RegisterApiKey: [["user", u32], ["api_key", text], ["permissions", permissions]],
  RevokeApiKey: [["user", u32], ["api_key", text]],
};

function pascalOf(snake: string): string {
  return snake.replace(/(^|_)([a-z0-9])/g, (_, _sep: string, c: string) => c.toUpperCase());
}

function camelOf(snake: string): string {
  const p = pascalOf(snake);
  return p[0]!.toLowerCase() + p.slice(1);
}

/** The generated table class's static start/add/end functions, looked up by name. */
type TableClass = Record<string, (builder: Builder, value?: unknown) => number | void>;
const WIRE = wire as unknown as Readonly<Record<string, TableClass>>;

/** Builds the command table from its COMMAND_JSON row; returns [union type, table offset]. */
function buildCommand(builder: Builder, obj: Obj, type: string): [Command, number] {
  const fields = Object.hasOwn(COMMAND_JSON, type) ? COMMAND_JSON[type] : undefined;
  if (fields === undefined) throw new CommandJsonError(`unknown command type ${describe(type)}`);
  const f = new FieldReader(obj, type);
  const values = fields.map(([name, read]) => read(f, camelOf(name)));
  f.done(["clientSeq"]);
  // Strings are written before the table starts; Decimal structs inline, as each field is added.
  const strings = values.map((v) => (typeof v === "string" ? builder.createString(v) : 0));
  const table = WIRE[type]!;
  table[`start${type}`]!(builder);
  for (let i = 0; i < fields.length; i++) {
    const v = values[i]!;
    if (v === null) continue;
    const add = table[`add${pascalOf(fields[i]![0])}`]!;
    if (typeof v === "string") add(builder, strings[i]);
    else if (typeof v === "object") add(builder, writeDecimal(builder, v));
    else add(builder, v);
  }
  return [Command[type as keyof typeof Command], table[`end${type}`]!(builder) as number];
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
    | { type: "OpenOrder"; account: number; market: number; orderId: bigint; clientId: bigint; side: EnumText; price: string; remaining: string }
    | { type: "AccountSnapshot"; account: number; validAtSeq: bigint; balances: number; orders: number }
    | { type: "ResumeDone"; account: number; fromSeq: bigint; events: number; complete: boolean }
    | { type: "CommandAccepted"; account: number; asset: number; amount: string; canceledOrders?: number }
    | { type: "CommandRejected"; account: number; code: EnumText; message: string }
    | { type: "Clock"; timeMs: bigint }
    | { type: "IndexPrice"; asset: number; index: string; stale: boolean; sourcesUsed: number; stepLimited: boolean; timeMs: bigint }
    | { type: "Settlement"; account: number; market: number; asset: number; reason: EnumText; step: EnumText; amount: string; timeMs: bigint }
    | {
        type: "Position";
        account: number;
        market: number;
        netQuantity: string;
        entryPrice: string;
        breakEvenPrice: string;
        markPrice: string;
        pnlUnrealized: string;
        pnlRealized: string;
        cumulativeFundingPayment: string;
        netExposureQuantity: string;
        netExposureNotional: string;
        imf: string;
        mmf: string;
        estLiquidationPrice: string;
        timeMs: bigint;
      }
    | { type: "OpenInterest"; market: number; quantity: string; timeMs: bigint }
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
  for (const decode of EVENT_DECODERS) {
    const decoded = decode(type, head, table);
    if (decoded !== null) return decoded;
  }
  return { ...head, type: "Unknown", eventType: type };
}

/** decodeEvent's order events: accepted, rejected, fills; null when `type` is none of them. */
function decodeOrderEvent(type: Event, head: EnvelopeFields, table: (t: object) => object): EventJson | null {
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
    default:
      return null;
  }
}

/** decodeEvent's an order's end, balances and settings; null when `type` is none of them. */
function decodeOrderEndOrBalance(type: Event, head: EnvelopeFields, table: (t: object) => object): EventJson | null {
  switch (type) {
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
    default:
      return null;
  }
}

/** decodeEvent's the collateral statement; null when `type` is none of them. */
function decodeCollateralEvent(type: Event, head: EnvelopeFields, table: (t: object) => object): EventJson | null {
  switch (type) {
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
    default:
      return null;
  }
}

/** decodeEvent's max-order answers and pool queries; null when `type` is none of them. */
function decodeQueryAnswer(type: Event, head: EnvelopeFields, table: (t: object) => object): EventJson | null {
  switch (type) {
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
    default:
      return null;
  }
}

/** decodeEvent's open orders, catch-up, max borrow/withdrawal answers; null when `type` is none of them. */
function decodeAccountAnswer(type: Event, head: EnvelopeFields, table: (t: object) => object): EventJson | null {
  switch (type) {
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
    case Event.IndexPrice: {
      const t = table(new IndexPrice()) as IndexPrice;
      const index = dec(t.index());
      return { ...head, type: "IndexPrice", asset: t.asset(), index, stale: t.stale(), sourcesUsed: t.sourcesUsed(), stepLimited: t.stepLimited(), timeMs: t.timeMs() };
    }
    default:
      return null;
  }
}

/** decodeEvent's perpetual events (P1, P6): settlement rows, positions, open interest; null for any other type. */
function decodePerpEvent(type: Event, head: EnvelopeFields, table: (t: object) => object): EventJson | null {
  switch (type) {
    case Event.Settlement: {
      const t = table(new Settlement()) as Settlement;
      const step = name(SettlementStep, t.step());
      return { ...head, type: "Settlement", account: t.account(), market: t.market(), asset: t.asset(), reason: name(SettlementReason, t.reason()), step, amount: dec(t.amount()), timeMs: t.timeMs() };
    }
    case Event.Position: {
      const t = table(new Position()) as Position;
      return {
        ...head,
        type: "Position",
        account: t.account(),
        market: t.market(),
        netQuantity: dec(t.netQuantity()),
        entryPrice: dec(t.entryPrice()),
        breakEvenPrice: dec(t.breakEvenPrice()),
        markPrice: dec(t.markPrice()),
        pnlUnrealized: dec(t.pnlUnrealized()),
        pnlRealized: dec(t.pnlRealized()),
        cumulativeFundingPayment: dec(t.cumulativeFundingPayment()),
        netExposureQuantity: dec(t.netExposureQuantity()),
        netExposureNotional: dec(t.netExposureNotional()),
        imf: dec(t.imf()),
        mmf: dec(t.mmf()),
        estLiquidationPrice: dec(t.estLiquidationPrice()),
        timeMs: t.timeMs(),
      };
    }
    case Event.OpenInterest: {
      const t = table(new OpenInterest()) as OpenInterest;
      return { ...head, type: "OpenInterest", market: t.market(), quantity: dec(t.quantity()), timeMs: t.timeMs() };
    }
    default:
      return null;
  }
}

/** decodeEvent's command acknowledgements, the clock, snapshots and 24-hour tickers; null when `type` is none of them. */
function decodeCommandEvent(type: Event, head: EnvelopeFields, table: (t: object) => object): EventJson | null {
  switch (type) {
  case Event.CommandAccepted: {
    const t = table(new CommandAccepted()) as CommandAccepted;
    const accepted = { ...head, type: "CommandAccepted" as const, account: t.account(), asset: t.asset(), amount: dec(t.amount()) };
    // CancelAll's count of canceled orders; absent from every other answer.
    return t.canceledOrders() === 0 ? accepted : { ...accepted, canceledOrders: t.canceledOrders() };
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
      return null;
  }
}

/** decodeEvent's market data: depth, trades, book tickers; null when `type` is none of them. */
function decodeMarketEvent(type: Event, head: EnvelopeFields, table: (t: object) => object): EventJson | null {
  switch (type) {
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
    default:
      return null;
  }
}

const EVENT_DECODERS = [
  decodeOrderEvent,
  decodeOrderEndOrBalance,
  decodeCollateralEvent,
  decodeQueryAnswer,
  decodeAccountAnswer,
  decodeCommandEvent,
  decodeMarketEvent,
  decodePerpEvent,
] as const;

/** JSON text of a decoded event (or any value holding bigints): bigints are written as decimal strings. */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}
