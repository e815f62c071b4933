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
//   {"type":"Subscribe","market":0,"channels":["Depth","Trades","Bbo","Ticker","Mark","Liquidation"]}  market omitted = all
//        Mark: P3 MarkPrice (the last one at once, then each update) and P4 FundingRate of perpetuals
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
//   {"type":"QueryLiquidationHistory","account":17,"sinceMs":0,"limit":100} → LiquidationStarted/Ended, LiquidationTransfer, SocializedLoss rows, CommandAccepted
//   {"type":"QueryInsuranceFund","asset":0}                   → InsuranceFund (asset omitted = every asset)
//   {"type":"QueryInsuranceHistory","asset":0,"sinceMs":0}    → InsuranceEntry rows (asset omitted = all), CommandAccepted
//   {"type":"QuerySettlementHistory","account":17,"market":3,"sinceMs":0,"limit":100}   → Settlement…, CommandAccepted
//   {"type":"QueryFundingHistory","account":17,"market":3,"sinceMs":0,"limit":100}      → FundingPayment…, CommandAccepted
//        (market omitted = every market; limit omitted = the most kept; next page: sinceMs = the last row's timeMs)
//   {"type":"QueryFundingRateHistory","market":3,"sinceMs":0,"limit":100}  → FundingRate…, CommandAccepted (public)
//   {"type":"QueryLenderLosses","asset":2,"sinceMs":0}        → Socialization rows (LenderWriteDown, account 0), CommandAccepted (public)
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
//   {"type":"QueryWhatIf","asset1":4,"factor1":"0.7"}      privileged → WhatIfStage/WhatIfFills/WhatIfAccount…, WhatIfDone (Q7)
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
  AdvanceTime,
  Cancel,
  CancelAll,
  Channel,
  Command,
  CommandEnvelope,
  Decimal,
  Deposit,
  EVENT_ENVELOPE,
  EVENT_LAYOUTS,
  EventEnvelope,
  LimitOrder,
  MarketOrder,
  MarketState,
  Borrow,
  QueryAccountSnapshot,
  ResumeAccount,
  QueryInterestHistory,
  QueryMaxBorrow,
  Login,
  Permission,
  RegisterApiKey,
  RevokeApiKey,
  QueryPoolStats,
  QueryRateCurve,
  QueryCollateral,
  QueryMaxOrder,
  QueryMaxWithdrawal,
  Replace,
  SelfTradePrevention,
  SetMarkPrice,
  SetMarketState,
  Side,
  Subscribe,
  TakeSnapshot,
  TimeInForce,
  Toggle,
  Transfer,
  Unsubscribe,
  UpdateAccountSettings,
  VerifiedFrame,
  verifyEnvelope,
  Withdraw,
} from "../../schemas/index.ts";
import { ByteBuffer } from "flatbuffers";
import * as wire from "../../schemas/index.ts";
import { COMMAND_WIRE, type CommandWire } from "../codec/wire-map.ts";
import { decodeEventBody, type EventJson } from "./generated/decode-events.ts";
import { parseWireDecimal, WireDecimalError } from "./wire-decimal.ts";

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
export interface QueryLiquidationHistoryCommand {
  type: "QueryLiquidationHistory";
  account: number;
  sinceMs?: number;
  limit?: number;
}
export interface QueryInsuranceFundCommand {
  type: "QueryInsuranceFund";
  asset?: number;
}
export interface QueryInsuranceHistoryCommand {
  type: "QueryInsuranceHistory";
  asset?: number;
  sinceMs?: number;
  limit?: number;
}
/** P6/P7 (market omitted = every market): Settlement rows oldest first from sinceMs, at most limit, then CommandAccepted. */
export interface QuerySettlementHistoryCommand {
  type: "QuerySettlementHistory";
  account: number;
  market?: number;
  sinceMs?: number;
  limit?: number;
}
/** P4 (market omitted = every market): FundingPayment events oldest first from sinceMs, at most limit, then CommandAccepted. */
export interface QueryFundingHistoryCommand {
  type: "QueryFundingHistory";
  account: number;
  market?: number;
  sinceMs?: number;
  limit?: number;
}
/** Q4: the exchange's lender write-downs (Socialization rows, account 0) oldest first, then CommandAccepted (no login). */
export interface QueryLenderLossesCommand {
  type: "QueryLenderLosses";
  asset?: number;
  sinceMs?: number;
  limit?: number;
}
/** P4: a perpetual's FundingRate events oldest first from sinceMs, at most limit, then CommandAccepted (no login). */
export interface QueryFundingRateHistoryCommand {
  type: "QueryFundingRateHistory";
  market: number;
  sinceMs?: number;
  limit?: number;
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
/** Q7, operator: a what-if on a copy of the state; factorN is assetN's mark multiplier (0.7 = -30%). */
export interface QueryWhatIfCommand {
  type: "QueryWhatIf";
  asset1: number;
  factor1: string;
  asset2?: number;
  factor2?: string;
  asset3?: number;
  factor3?: string;
  asset4?: number;
  factor4?: string;
  /** 0 or absent: 100 batches after the shock's; at most 1000. */
  stagesMax?: number;
}

export type CommandJson =
  | LoginCommand
  | RegisterApiKeyCommand
  | RevokeApiKeyCommand
  | ResumeAccountCommand
  | QueryAccountSnapshotCommand
  | TakeSnapshotCommand
  | QueryWhatIfCommand
  | PoolActionCommand
  | QueryPoolStatsCommand
  | QueryRateCurveCommand
  | QueryInterestHistoryCommand
  | QueryMaxBorrowCommand
  | QueryPositionsCommand
  | QueryOpenInterestCommand
  | QueryLiquidationHistoryCommand
  | QueryInsuranceFundCommand
  | QueryInsuranceHistoryCommand
  | QuerySettlementHistoryCommand
  | QueryFundingHistoryCommand
  | QueryFundingRateHistoryCommand
  | QueryLenderLossesCommand
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

const SETTING_TOGGLES: JsonFields = [["auto_lend", toggle], ["auto_repay_borrows", toggle], ["auto_borrow_settlements", toggle], ["auto_realize_pnl", toggle], ["margin_enabled", toggle]];

/**
 * The client reader of each COMMAND_WIRE reading (gateway/codec/wire-map.ts): the server's decoders and this encoder
 * read the same rows, so a command kind with a COMMAND_WIRE row needs no client row. A `flag:` reading is a bool; a
 * `check:` row is the server's rule across fields (nothing to encode). Readings where absent means 0 to the server
 * (u8, u16) are optional here.
 */
const READING_JSON: Readonly<Record<string, JsonRead>> = {
  account: u32,
  market: u16,
  marketOrAll: u16OrAll,
  clientId: u64Optional,
  orderRef: u64Optional,
  asset: u16,
  assetOrAll: u16OrAll,
  u8: u8Optional,
  u16: u16Optional,
  side,
  tif,
  stp,
  marketState,
  price: decimal,
  base: decimal,
  "base?": decimalOptional,
  "quote?": decimalOptional,
  amount: decimal,
  "amount?": decimalOptional,
  timeMs: u64,
};

/** Fields (Wire.field) the client reads otherwise than READING_JSON says: what a person must give, or may leave out. */
const JSON_READING_EXCEPTIONS: Readonly<Record<string, JsonRead>> = {
  // An oracle quote names its source; 0 is a real source, so it is never left to the default.
  "OracleQuote.source": u8,
  "QueryInterestHistory.since_ms": safeU64Optional,
  "QueryLiquidationHistory.since_ms": safeU64Optional,
  "QueryInsuranceHistory.since_ms": safeU64Optional,
  "QuerySettlementHistory.since_ms": safeU64Optional,
  "QueryFundingHistory.since_ms": safeU64Optional,
  "QueryFundingRateHistory.since_ms": safeU64Optional,
  "QueryLenderLosses.since_ms": safeU64Optional,
};

function jsonFieldsOf(c: CommandWire): JsonFields {
  const fields: (readonly [string, JsonRead])[] = [];
  for (const [wireField, , reading] of c.fields) {
    if (reading.startsWith("check:")) continue;
    const read = JSON_READING_EXCEPTIONS[`${c.wire}.${wireField}`] ?? (reading.startsWith("flag:") ? bool : READING_JSON[reading]);
    if (read === undefined) throw new Error(`client codec: no JSON reader for reading "${reading}" (${c.wire}.${wireField})`);
    fields.push([wireField, read]);
  }
  return fields;
}

/** Commands the gateway decodes by hand (decode.ts), so without a COMMAND_WIRE row: their fields, as the wire table's. */
const GATEWAY_COMMAND_JSON: Readonly<Record<string, JsonFields>> = {
  Subscribe: [["market", u16OrAll], ["channels", channels]],
  Unsubscribe: [["market", u16OrAll], ["channels", channels]],
  UpdateAccountSettings: [["account", u32], ["leverage_limit", u8Optional], ...SETTING_TOGGLES],
  ResumeAccount: [["account", u32], ["from_seq", safeU64]],
  QueryAccountSnapshot: [["account", u32]],
  TakeSnapshot: [],
  QueryWhatIf: [
    ["asset_1", u16OrAll], ["factor_1", decimalOptional], ["asset_2", u16OrAll], ["factor_2", decimalOptional],
    ["asset_3", u16OrAll], ["factor_3", decimalOptional], ["asset_4", u16OrAll], ["factor_4", decimalOptional], ["stages_max", u16Optional],
  ],
  Login: [["api_key", text], ["signature", text], ["timestamp_ms", u64], ["window_ms", u32Optional]],
  RegisterApiKey: [["user", u32], ["api_key", text], ["permissions", permissions]],
  RevokeApiKey: [["user", u32], ["api_key", text]],
};

/** Every command the client encodes: its wire table (the Command union member of the same name) and its fields. */
const COMMAND_JSON: Readonly<Record<string, JsonFields>> = {
  ...Object.fromEntries(COMMAND_WIRE.map((c) => [c.wire, jsonFieldsOf(c)])),
  ...GATEWAY_COMMAND_JSON,
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

export type { EnumText, EnvelopeFields, LevelJson } from "./event-values.ts";
export type { EventJson } from "./generated/decode-events.ts";

const EVENT_VERIFY_OPTIONS = { rejectUnknownFields: false, rejectUnknownUnionType: false } as const;

/** Decodes one event frame. Throws WireFormatError when the frame is not a well-formed EventEnvelope. */
export function decodeEvent(bytes: Uint8Array): EventJson {
  const failure = { message: "" };
  if (!verifyEnvelope(bytes, EVENT_ENVELOPE, EVENT_LAYOUTS, EVENT_VERIFY_OPTIONS, failure, new VerifiedFrame())) {
    throw new WireFormatError(`malformed event frame: ${failure.message}`);
  }
  const env = EventEnvelope.getRootAsEventEnvelope(new ByteBuffer(bytes));
  const type = env.eventType();
  const table = <T extends object>(t: T): T => {
    const found = env.event(t) as T | null;
    if (found === null) throw new WireFormatError(`event type ${type} set but its table is missing`);
    return found;
  };
  return decodeEventBody(type, { clientSeq: env.clientSeq(), seq: env.seq(), marketSeq: env.marketSeq() }, table);
}

/** How a connection's events are put into WebSocket messages (gateway/sessions.ts says what each framing is). */
export type EventFraming = "single" | "batch";

/** Bytes of the length in front of each event of a "batch" message (FlatBuffers' size prefix). */
export const EVENT_SIZE_PREFIX_BYTES = 4;

/**
 * The events of one message of a connection opened with `?frames=batch` (gateway/sessions.ts EventFraming): each a
 * 4-byte little-endian length, then that many bytes of one EventEnvelope (FlatBuffers' size-prefixed buffer). Calls
 * `each` with every event's bytes (views into `message`), in order; returns how many. Throws WireFormatError when a
 * length runs past the message's end (nothing of it is handed on then).
 */
export function splitEventFrames(message: Uint8Array, each: (frame: Uint8Array) => void): number {
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  let at = 0;
  let n = 0;
  while (at < message.length) {
    const end = at + EVENT_SIZE_PREFIX_BYTES > message.length ? Infinity : at + EVENT_SIZE_PREFIX_BYTES + view.getUint32(at, true);
    if (end > message.length) throw new WireFormatError(`malformed batch message: the event at byte ${at} runs past the message's ${message.length} bytes`);
    at = end;
    n++;
  }
  for (at = 0; at < message.length; ) {
    const start = at + EVENT_SIZE_PREFIX_BYTES;
    at = start + view.getUint32(start - EVENT_SIZE_PREFIX_BYTES, true);
    each(message.subarray(start, at));
  }
  return n;
}

/** JSON text of a decoded event (or any value holding bigints): bigints are written as decimal strings. */
export function toJsonText(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}
