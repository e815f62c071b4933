// Server-side command decoding: one verified FlatBuffers frame → one engine CommandRecord, or a typed reject (X5).
//
// Hot path. The verifier (schemas/verify.ts) bounds-checks the frame and reports where every field of the
// envelope and of the command table sits; the decoder then reads those positions directly (the generated
// accessors would walk the vtable again for every field). Decimals convert in double arithmetic when the result
// is below 2^53, so a command allocates only the BigInts of its 64-bit fields. Every check happens here, before
// the engine sees anything, and every reject carries a RejectCode and a message naming the field.
import {
  ACCOUNT_SETTING_VALUE_SHIFT,
  AccountSetting,
  ALL_ASSETS,
  ALL_MARKETS,
  CommandKind,
  INT64_MAX,
  isExchangeAccount,
  LEVERAGE_LIMIT_MAX,
  mainAccountOf,
  MarketState,
  OrderFlag,
  OracleQuoteFlag,
  PRICE_DECIMALS,
  RejectCode,
  SelfTradePrevention,
  Side,
  SUB_ACCOUNT_MAX,
  subIndexOf,
  TimeInForce,
  OrderType,
  USER_MAX,
  userOf,
  type CommandRecord,
  type ExchangeConfig,
} from "../../engine/model/index.ts";
import {
  ADVANCE_TIME,
  BORROW,
  LEND,
  QUERY_INTEREST_HISTORY,
  QUERY_MAX_BORROW,
  LOGIN,
  REGISTER_API_KEY,
  REVOKE_API_KEY,
  QUERY_ACCOUNT_SNAPSHOT,
  RESUME_ACCOUNT,
  QUERY_POOL_STATS,
  QUERY_RATE_CURVE,
  REDEEM,
  REPAY,
  CANCEL,
  CANCEL_ALL,
  Command,
  COMMAND_ENVELOPE,
  COMMAND_LAYOUTS,
  DEPOSIT,
  LIMIT_ORDER,
  MARKET_ORDER,
  QUERY_COLLATERAL,
  QUERY_MAX_ORDER,
  QUERY_MAX_WITHDRAWAL,
  REPLACE,
  SET_MARK_PRICE,
  ORACLE_QUOTE,
  SET_MARKET_STATE,
  SUBSCRIBE,
  TRANSFER,
  UPDATE_ACCOUNT_SETTINGS,
  VerifiedFrame,
  verifyEnvelope,
  WITHDRAW,
  type VerifyFailure,
} from "../../schemas/index.ts";

/** Largest command frame accepted; the biggest command encodes to well under 200 bytes. */
export const MAX_COMMAND_FRAME_BYTES = 1024;
/** X6 (Backpack): a login's signature window when the client gives none, and the largest it may give. */
export const LOGIN_WINDOW_DEFAULT_MS = 5000;
export const LOGIN_WINDOW_MAX_MS = 60_000;
/** ED25519 public key and signature sizes (bytes). */
export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;
/** Permission bits (schema `Permission`): Read 1, Trade 2, Withdraw 4. */
export const PERMISSIONS_ALL = 0x07;
/** Every market-data channel bit (Channel: Depth 1, Trades 2, Bbo 4, Ticker 8). */
export const CHANNELS_ALL = 0x0f;

/** What a decoded frame asks for. */
export const DecodedKind = {
  /** The frame was refused: see code and message. */
  Rejected: 0,
  /** An engine command: the CommandRecord is filled. */
  Engine: 1,
  /** Gateway-only: subscribe `market` (or ALL_MARKETS) to `channels`. */
  Subscribe: 2,
  /** Gateway-only: unsubscribe. */
  Unsubscribe: 3,
  /** Gateway-only (X6): a login; see DecodeResult.loginKey, loginSignature, loginTimestampMs, loginWindowMs. */
  Login: 4,
  /** Gateway-only: re-send an account's logged events from `account`, `fromSeq` (ResumeAccount). */
  ResumeAccount: 5,
  /** Gateway-only: an account snapshot of `account` (QueryAccountSnapshot). */
  AccountSnapshot: 6,
  /** Gateway-only, operator: write a snapshot now (X7). */
  TakeSnapshot: 7,
} as const;
export type DecodedKind = (typeof DecodedKind)[keyof typeof DecodedKind];

/** Reused per connection or per thread; read it before decoding the next frame. */
export class DecodeResult {
  /** The envelope's client_seq (0 when the frame is too broken to read it). */
  clientSeq = 0n;
  kind: DecodedKind = DecodedKind.Rejected;
  /** RejectCode; None on success. */
  code: number = RejectCode.None;
  message = "";
  /** The wire union type (schemas `Command`), 0 when unreadable: chooses OrderRejected vs CommandRejected. */
  commandType = 0;
  /** Deposit, SetMarketState, AdvanceTime, SetMarkPrice: only an operator session may send them. */
  privileged = false;
  /** As far as read before a reject (for routing and echoing it). */
  account = 0;
  market = 0;
  clientId = 0n;
  /** Subscribe / Unsubscribe channel mask. */
  channels = 0;
  /** Login (X6): the 32-byte public key and 64-byte signature (copies: they outlive the frame), T and W in ms. */
  loginKey: Uint8Array | null = null;
  loginSignature: Uint8Array | null = null;
  loginTimestampMs = 0;
  loginWindowMs = 0;
  /** ResumeAccount: the first sequence number asked for. */
  fromSeq = 0;

  reset(): void {
    this.clientSeq = 0n;
    this.kind = DecodedKind.Rejected;
    this.code = RejectCode.None;
    this.message = "";
    this.commandType = 0;
    this.privileged = false;
    this.account = 0;
    this.market = 0;
    this.clientId = 0n;
    this.channels = 0;
    this.loginKey = null;
    this.loginSignature = null;
    this.loginTimestampMs = 0;
    this.loginWindowMs = 0;
    this.fromSeq = 0;
  }
}

const SIDE_MAX = maxValue(Side);
const TIF_MAX = maxValue(TimeInForce);
const STP_MAX = maxValue(SelfTradePrevention);
const MARKET_STATE_MAX = maxValue(MarketState);
/** Toggle (UpdateAccountSettings): 0 unchanged, 1 off, 2 on. */
const TOGGLE_MAX = 2;

function maxValue(e: Readonly<Record<string, number>>): number {
  let max = 0;
  for (const v of Object.values(e)) if (v > max) max = v;
  return max;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const POW10: readonly bigint[] = Array.from({ length: 39 }, (_, i) => 10n ** BigInt(i));
/** Powers of ten exact as doubles (10^22 is the last). */
const POW10_DOUBLE: readonly number[] = Array.from({ length: 23 }, (_, i) => 10 ** i);
const TWO_POW_32 = 4294967296;
/** A high word below 2^21 means the 64-bit value is below 2^53, exact as a double. */
const SAFE_HIGH_WORD = 0x200000;

const failure: VerifyFailure = { message: "" };
const VERIFY_OPTIONS = { rejectUnknownFields: true, rejectUnknownUnionType: true } as const;
const verified = new VerifiedFrame();
const at = verified.bodyAt;
/** The frame being decoded (module state: decoding is synchronous and never re-entered). */
let bytes: Uint8Array = new Uint8Array(0);

// ---------------------------------------------------------------- field reads at verified positions (0 = absent)

function readU32(p: number): number {
  return (bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16) | (bytes[p + 3]! << 24)) >>> 0;
}

function readU64(p: number): bigint {
  const low = readU32(p);
  const high = readU32(p + 4);
  if (high < SAFE_HIGH_WORD) return BigInt(high * TWO_POW_32 + low);
  return (BigInt(high) << 32n) + BigInt(low);
}

function readI64(p: number): bigint {
  return BigInt.asIntN(64, (BigInt(readU32(p + 4)) << 32n) + BigInt(readU32(p)));
}

function u8(slot: number): number {
  const p = at[slot]!;
  return p === 0 ? 0 : bytes[p]!;
}

function u16(slot: number, fallback: number): number {
  const p = at[slot]!;
  return p === 0 ? fallback : bytes[p]! | (bytes[p + 1]! << 8);
}

function u32(slot: number): number {
  const p = at[slot]!;
  return p === 0 ? 0 : readU32(p);
}

function u64(slot: number): bigint {
  const p = at[slot]!;
  return p === 0 ? 0n : readU64(p);
}

function bool(slot: number): boolean {
  return u8(slot) !== 0;
}

/**
 * Decodes and validates one client frame. Returns true when accepted: `result.kind` is Engine (and `out` holds the
 * command; its `seq` is left 0 for the sequencer) or Subscribe/Unsubscribe (`out` untouched). Returns false with
 * `result.code`/`result.message` set otherwise; `out` may then be partly written and must be ignored. Never throws.
 */
export function decodeCommand(
  frame: Uint8Array,
  config: ExchangeConfig,
  out: CommandRecord,
  result: DecodeResult,
): boolean {
  result.reset();
  bytes = frame;
  try {
    return decodeFrame(config, out, result);
  } catch (e) {
    // Backstop only: the verifier should make this unreachable.
    return reject(result, RejectCode.MalformedFrame, `undecodable frame: ${(e as Error).message}`);
  }
}

function reject(result: DecodeResult, code: number, message: string): false {
  result.kind = DecodedKind.Rejected;
  result.code = code;
  result.message = message;
  return false;
}

function decodeFrame(config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  if (bytes.length > MAX_COMMAND_FRAME_BYTES) {
    return reject(
      result,
      RejectCode.MalformedFrame,
      `frame of ${bytes.length} bytes exceeds the ${MAX_COMMAND_FRAME_BYTES}-byte limit`,
    );
  }
  const ok = verifyEnvelope(bytes, COMMAND_ENVELOPE, COMMAND_LAYOUTS, VERIFY_OPTIONS, failure, verified);
  const type = verified.unionType;
  if (type !== 0 || ok) {
    // The envelope is sound: echo client_seq even when the command is not.
    const seqAt = verified.envelopeAt[COMMAND_ENVELOPE.slot.client_seq]!;
    result.clientSeq = seqAt === 0 ? 0n : readU64(seqAt);
    result.commandType = type;
  }
  if (!ok) {
    if (type >= COMMAND_LAYOUTS.length) return reject(result, RejectCode.UnknownCommand, `unknown command type ${type}`);
    return reject(result, RejectCode.MalformedFrame, `malformed frame: ${failure.message}`);
  }
  if (type === Command.NONE) return reject(result, RejectCode.UnknownCommand, "frame carries no command");
  if (verified.body === 0) {
    return reject(result, RejectCode.MalformedFrame, "command type set but the command table is missing");
  }
  switch (type) {
    case Command.Deposit:
      return decodeDeposit(config, out, result);
    case Command.Withdraw:
      return decodeWithdraw(config, out, result);
    case Command.LimitOrder:
      return decodeLimitOrder(config, out, result);
    case Command.MarketOrder:
      return decodeMarketOrder(config, out, result);
    case Command.Cancel:
      return decodeCancel(config, out, result);
    case Command.CancelAll:
      return decodeCancelAll(config, out, result);
    case Command.Replace:
      return decodeReplace(config, out, result);
    case Command.Transfer:
      return decodeTransfer(config, out, result);
    case Command.SetMarketState:
      return decodeSetMarketState(config, out, result);
    case Command.AdvanceTime:
      return decodeAdvanceTime(out, result);
    case Command.Subscribe:
    case Command.Unsubscribe:
      return decodeSubscription(type, config, result);
    case Command.ResumeAccount:
    case Command.QueryAccountSnapshot:
      return decodeAccountCatchUp(type, result);
    case Command.UpdateAccountSettings:
      return decodeUpdateAccountSettings(out, result);
    case Command.SetMarkPrice:
      return decodeSetMarkPrice(config, out, result);
    case Command.QueryCollateral:
      return decodeQueryCollateral(out, result);
    case Command.QueryMaxOrder:
      return decodeQueryMaxOrder(config, out, result);
    case Command.QueryMaxWithdrawal:
      return decodeQueryMaxWithdrawal(config, out, result);
    case Command.Borrow:
      return decodePoolAction(BORROW.slot, CommandKind.Borrow, false, config, out, result);
    case Command.Repay:
      return decodePoolAction(REPAY.slot, CommandKind.Repay, true, config, out, result);
    case Command.Lend:
      return decodePoolAction(LEND.slot, CommandKind.Lend, false, config, out, result);
    case Command.Redeem:
      return decodePoolAction(REDEEM.slot, CommandKind.Redeem, true, config, out, result);
    case Command.QueryPoolStats:
      return decodeQueryPoolStats(config, out, result);
    case Command.QueryRateCurve:
      return decodeQueryRateCurve(config, out, result);
    case Command.QueryInterestHistory:
      return decodeQueryInterestHistory(config, out, result);
    case Command.QueryMaxBorrow:
      return decodeQueryMaxBorrow(config, out, result);
    case Command.Login:
      return decodeLogin(result);
    case Command.RegisterApiKey:
      return decodeApiKeyCommand(CommandKind.RegisterApiKey, out, result);
    case Command.RevokeApiKey:
      return decodeApiKeyCommand(CommandKind.RevokeApiKey, out, result);
    case Command.OracleQuote:
      return decodeOracleQuote(config, out, result);
    case Command.TakeSnapshot:
      result.privileged = true;
      result.kind = DecodedKind.TakeSnapshot;
      return true;
    default:
      return reject(result, RejectCode.UnknownCommand, `unknown command type ${type}`);
  }
}

// ---------------------------------------------------------------- field checks (each returns false after rejecting)

/**
 * Account id checks at the boundary: 0 is nobody, sub-account indices stop at 10 (A1), and accounts 1..15 (user 0)
 * belong to the exchange (fees, insurance): only a privileged command (Deposit) may name them.
 */
function checkAccount(account: number, field: string, result: DecodeResult): boolean {
  if (account === 0) return reject(result, RejectCode.InvalidAccount, `${field}: account 0 does not exist`);
  if (isExchangeAccount(account) && !result.privileged) {
    return reject(result, RejectCode.InvalidAccount, `${field}: account ${account} belongs to the exchange`);
  }
  const sub = subIndexOf(account);
  if (sub > SUB_ACCOUNT_MAX) {
    return reject(
      result,
      RejectCode.InvalidAccount,
      `${field}: sub-account index ${sub} of account ${account} is above ${SUB_ACCOUNT_MAX}`,
    );
  }
  return true;
}

function checkMarket(market: number, allowAll: boolean, config: ExchangeConfig, result: DecodeResult): boolean {
  if (market < config.markets.length) return true;
  if (allowAll && market === ALL_MARKETS) return true;
  return reject(result, RejectCode.UnknownMarket, `unknown market ${market}`);
}

function checkAsset(asset: number, config: ExchangeConfig, result: DecodeResult): boolean {
  if (asset < config.assets.length) return true;
  return reject(result, RejectCode.UnknownAsset, `unknown asset ${asset}`);
}

function checkEnum(value: number, max: number, field: string, enumName: string, result: DecodeResult): boolean {
  if (value <= max) return true;
  return reject(result, RejectCode.InvalidField, `${field}: ${value} is not a ${enumName} (0..${max})`);
}

/**
 * Engine units of the Decimal in `slot` at `decimals` places, or -1n after rejecting with `code`: negative values,
 * a scale finer than the unit ("over-scale"), zero (unless allowZero; an absent field counts as zero) and values
 * beyond int64 are refused.
 */
function units(
  slot: number,
  decimals: number,
  code: number,
  field: string,
  allowZero: boolean,
  result: DecodeResult,
): bigint {
  const p = at[slot]!;
  if (p === 0) {
    if (allowZero) return 0n;
    reject(result, code, `zero ${field}: the field is missing`);
    return -1n;
  }
  const low = readU32(p);
  const high = readU32(p + 4);
  const scale = bytes[p + 8]!;
  if (high >= 0x8000_0000) {
    reject(result, code, `negative ${field}: mantissa ${readI64(p)}, scale ${scale}`);
    return -1n;
  }
  if (scale > decimals) {
    reject(result, code, `over-scale: ${field} has scale ${scale}, at most ${decimals} decimal places allowed`);
    return -1n;
  }
  if (high === 0 && low === 0) {
    if (allowZero) return 0n;
    reject(result, code, `zero ${field}`);
    return -1n;
  }
  const shift = decimals - scale;
  if (high < SAFE_HIGH_WORD && shift < POW10_DOUBLE.length) {
    // Both factors are exact doubles; a product that rounds to at most 2^53 - 1 was exact (2^53 is representable).
    const value = (high * TWO_POW_32 + low) * POW10_DOUBLE[shift]!;
    if (value <= Number.MAX_SAFE_INTEGER) return BigInt(value);
  }
  const value = ((BigInt(high) << 32n) + BigInt(low)) * POW10[shift]!;
  if (value > INT64_MAX) {
    reject(result, code, `${field} overflows int64 at ${decimals} decimal places: mantissa ${readI64(p)}, scale ${scale}`);
    return -1n;
  }
  return value;
}

function accepted(result: DecodeResult): true {
  result.kind = DecodedKind.Engine;
  return true;
}

/** Exactly one of order_id / client_id; fills out.orderId or out.clientId + ByClientId. */
function orderReference(orderIdWire: bigint, clientId: bigint, out: CommandRecord, result: DecodeResult): boolean {
  if ((orderIdWire === 0n) === (clientId === 0n)) {
    return reject(result, RejectCode.InvalidField, "order_id, client_id: give exactly one of them (non-zero)");
  }
  if (orderIdWire > MAX_SAFE) {
    return reject(result, RejectCode.UnknownOrder, `order_id ${orderIdWire} does not exist`);
  }
  out.orderId = Number(orderIdWire);
  out.clientId = clientId;
  if (clientId !== 0n) out.flags |= OrderFlag.ByClientId;
  return true;
}

// ---------------------------------------------------------------- per command

const D = DEPOSIT.slot;
function decodeDeposit(config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  result.privileged = true;
  const account = u32(D.account);
  const asset = u16(D.asset, 0);
  result.account = account;
  if (!checkAccount(account, "account", result) || !checkAsset(asset, config, result)) return false;
  const amount = units(D.amount, config.assets[asset]!.decimals, RejectCode.InvalidAmount, "amount", false, result);
  if (amount < 0n) return false;
  out.clear();
  out.kind = CommandKind.Deposit;
  out.account = account;
  out.asset = asset;
  out.amount = amount;
  return accepted(result);
}

const W = WITHDRAW.slot;
function decodeWithdraw(config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  const account = u32(W.account);
  const asset = u16(W.asset, 0);
  result.account = account;
  if (!checkAccount(account, "account", result) || !checkAsset(asset, config, result)) return false;
  const amount = units(W.amount, config.assets[asset]!.decimals, RejectCode.InvalidAmount, "amount", false, result);
  if (amount < 0n) return false;
  out.clear();
  out.kind = CommandKind.Withdraw;
  out.account = account;
  out.asset = asset;
  out.amount = amount;
  // A margin withdrawal borrows the missing part (A5, L9).
  out.flags = bool(W.margin) ? OrderFlag.AutoBorrow : 0;
  return accepted(result);
}

const L = LIMIT_ORDER.slot;
function decodeLimitOrder(config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  const account = u32(L.account);
  const market = u16(L.market, 0);
  const clientId = u64(L.client_id);
  result.account = account;
  result.market = market;
  result.clientId = clientId;
  if (!checkAccount(account, "account", result) || !checkMarket(market, false, config, result)) return false;
  const side = u8(L.side);
  const tif = u8(L.tif);
  const stp = u8(L.stp);
  if (
    !checkEnum(side, SIDE_MAX, "side", "Side", result) ||
    !checkEnum(tif, TIF_MAX, "tif", "TimeInForce", result) ||
    !checkEnum(stp, STP_MAX, "stp", "SelfTradePrevention", result)
  ) {
    return false;
  }
  const baseDecimals = config.assets[config.markets[market]!.baseAsset]!.decimals;
  const price = units(L.price, PRICE_DECIMALS, RejectCode.InvalidPrice, "price", false, result);
  if (price < 0n) return false;
  const quantity = units(L.quantity, baseDecimals, RejectCode.InvalidQuantity, "quantity", false, result);
  if (quantity < 0n) return false;
  out.clear();
  out.kind = CommandKind.PlaceOrder;
  out.orderType = OrderType.Limit;
  out.account = account;
  out.market = market;
  out.side = side;
  out.tif = tif;
  out.stp = stp;
  out.clientId = clientId;
  out.price = price;
  out.quantity = quantity;
  out.flags =
    (bool(L.post_only) ? OrderFlag.PostOnly : 0) |
    (bool(L.reduce_only) ? OrderFlag.ReduceOnly : 0) |
    (bool(L.auto_borrow) ? OrderFlag.AutoBorrow : 0) |
    (bool(L.auto_borrow_repay) ? OrderFlag.AutoBorrowRepay : 0) |
    (bool(L.auto_lend) ? OrderFlag.AutoLend : 0) |
    (bool(L.auto_lend_redeem) ? OrderFlag.AutoLendRedeem : 0);
  return accepted(result);
}

const M = MARKET_ORDER.slot;
function decodeMarketOrder(config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  const account = u32(M.account);
  const market = u16(M.market, 0);
  const clientId = u64(M.client_id);
  result.account = account;
  result.market = market;
  result.clientId = clientId;
  if (!checkAccount(account, "account", result) || !checkMarket(market, false, config, result)) return false;
  const side = u8(M.side);
  const stp = u8(M.stp);
  if (
    !checkEnum(side, SIDE_MAX, "side", "Side", result) ||
    !checkEnum(stp, STP_MAX, "stp", "SelfTradePrevention", result)
  ) {
    return false;
  }
  const m = config.markets[market]!;
  const baseDecimals = config.assets[m.baseAsset]!.decimals;
  const quoteDecimals = config.assets[m.quoteAsset]!.decimals;
  const quantity = units(M.quantity, baseDecimals, RejectCode.InvalidQuantity, "quantity", true, result);
  if (quantity < 0n) return false;
  const quoteQuantity = units(
    M.quote_quantity,
    quoteDecimals,
    RejectCode.InvalidQuantity,
    "quote_quantity",
    true,
    result,
  );
  if (quoteQuantity < 0n) return false;
  if ((quantity === 0n) === (quoteQuantity === 0n)) {
    return reject(
      result,
      RejectCode.InvalidQuantity,
      quantity === 0n
        ? "zero quantity: give quantity or quote_quantity"
        : "quantity and quote_quantity: give exactly one of them",
    );
  }
  if (quoteQuantity !== 0n && side !== Side.Buy) {
    return reject(result, RejectCode.InvalidQuantity, "quote_quantity is for buy orders only (O1)");
  }
  out.clear();
  out.kind = CommandKind.PlaceOrder;
  out.orderType = OrderType.Market;
  out.account = account;
  out.market = market;
  out.side = side;
  // A market order never rests: whatever does not fill at once expires.
  out.tif = TimeInForce.IOC;
  out.stp = stp;
  out.clientId = clientId;
  out.quantity = quantity;
  out.quoteQuantity = quoteQuantity;
  out.flags =
    (bool(M.reduce_only) ? OrderFlag.ReduceOnly : 0) |
    (bool(M.auto_borrow) ? OrderFlag.AutoBorrow : 0) |
    (bool(M.auto_borrow_repay) ? OrderFlag.AutoBorrowRepay : 0) |
    (bool(M.auto_lend) ? OrderFlag.AutoLend : 0) |
    (bool(M.auto_lend_redeem) ? OrderFlag.AutoLendRedeem : 0);
  return accepted(result);
}

const C = CANCEL.slot;
function decodeCancel(config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  const account = u32(C.account);
  const market = u16(C.market, 0);
  const clientId = u64(C.client_id);
  result.account = account;
  result.market = market;
  result.clientId = clientId;
  if (!checkAccount(account, "account", result) || !checkMarket(market, false, config, result)) return false;
  out.clear();
  if (!orderReference(u64(C.order_id), clientId, out, result)) return false;
  out.kind = CommandKind.CancelOrder;
  out.account = account;
  out.market = market;
  return accepted(result);
}

const CA = CANCEL_ALL.slot;
function decodeCancelAll(config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  const account = u32(CA.account);
  // The schema default of CancelAll.market is 0xFFFF: absent = every market.
  const market = u16(CA.market, ALL_MARKETS);
  result.account = account;
  result.market = market;
  if (!checkAccount(account, "account", result) || !checkMarket(market, true, config, result)) return false;
  out.clear();
  out.kind = CommandKind.CancelAll;
  out.account = account;
  out.market = market;
  return accepted(result);
}

const R = REPLACE.slot;
function decodeReplace(config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  const account = u32(R.account);
  const market = u16(R.market, 0);
  const clientId = u64(R.client_id);
  result.account = account;
  result.market = market;
  result.clientId = clientId;
  if (!checkAccount(account, "account", result) || !checkMarket(market, false, config, result)) return false;
  const baseDecimals = config.assets[config.markets[market]!.baseAsset]!.decimals;
  const price = units(R.price, PRICE_DECIMALS, RejectCode.InvalidPrice, "price", false, result);
  if (price < 0n) return false;
  const quantity = units(R.quantity, baseDecimals, RejectCode.InvalidQuantity, "quantity", false, result);
  if (quantity < 0n) return false;
  out.clear();
  if (!orderReference(u64(R.order_id), clientId, out, result)) return false;
  out.kind = CommandKind.ReplaceOrder;
  out.account = account;
  out.market = market;
  out.price = price;
  out.quantity = quantity;
  return accepted(result);
}

const T = TRANSFER.slot;
function decodeTransfer(config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  const from = u32(T.from_account);
  const to = u32(T.to_account);
  const asset = u16(T.asset, 0);
  result.account = from;
  if (!checkAccount(from, "from_account", result) || !checkAccount(to, "to_account", result)) return false;
  if (from === to) return reject(result, RejectCode.InvalidTransfer, `transfer from account ${from} to itself`);
  if (userOf(from) !== userOf(to)) {
    return reject(
      result,
      RejectCode.InvalidTransfer,
      `accounts ${from} and ${to} belong to different users: transfers stay within one user (A2)`,
    );
  }
  if (!checkAsset(asset, config, result)) return false;
  const amount = units(T.amount, config.assets[asset]!.decimals, RejectCode.InvalidAmount, "amount", false, result);
  if (amount < 0n) return false;
  out.clear();
  out.kind = CommandKind.Transfer;
  out.account = from;
  out.account2 = to;
  out.asset = asset;
  out.amount = amount;
  return accepted(result);
}

const S = SET_MARKET_STATE.slot;
function decodeSetMarketState(config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  result.privileged = true;
  const market = u16(S.market, 0);
  const state = u8(S.state);
  result.market = market;
  if (!checkMarket(market, false, config, result)) return false;
  if (!checkEnum(state, MARKET_STATE_MAX, "state", "MarketState", result)) return false;
  out.clear();
  out.kind = CommandKind.SetMarketState;
  out.market = market;
  out.marketState = state;
  return accepted(result);
}

function decodeAdvanceTime(out: CommandRecord, result: DecodeResult): boolean {
  result.privileged = true;
  const timeMs = u64(ADVANCE_TIME.slot.time_ms);
  if (timeMs > MAX_SAFE) {
    return reject(result, RejectCode.InvalidTime, `time_ms ${timeMs} is beyond ${Number.MAX_SAFE_INTEGER}`);
  }
  out.clear();
  out.kind = CommandKind.AdvanceTime;
  out.timeMs = Number(timeMs);
  return accepted(result);
}

// Subscribe and Unsubscribe share one layout.
const SU = SUBSCRIBE.slot;
function decodeSubscription(type: number, config: ExchangeConfig, result: DecodeResult): boolean {
  const market = u16(SU.market, 0);
  const channels = u8(SU.channels);
  result.market = market;
  if (!checkMarket(market, true, config, result)) return false;
  if (channels === 0 || (channels & ~CHANNELS_ALL) !== 0) {
    return reject(
      result,
      RejectCode.InvalidField,
      `channels: ${channels} is not a non-empty mask of Depth 1, Trades 2, Bbo 4, Ticker 8`,
    );
  }
  result.channels = channels;
  result.kind = type === Command.Subscribe ? DecodedKind.Subscribe : DecodedKind.Unsubscribe;
  return true;
}

/** ResumeAccount and QueryAccountSnapshot: the account (a client account id) and, for a resume, the first seq. */
function decodeAccountCatchUp(type: number, result: DecodeResult): boolean {
  const resume = type === Command.ResumeAccount;
  const account = u32(resume ? RESUME_ACCOUNT.slot.account : QUERY_ACCOUNT_SNAPSHOT.slot.account);
  result.account = account;
  if (!checkAccount(account, "account", result)) return false;
  if (resume) {
    const fromSeq = u64(RESUME_ACCOUNT.slot.from_seq);
    if (fromSeq === 0n || fromSeq > MAX_SAFE) return reject(result, RejectCode.InvalidField, `from_seq ${fromSeq} is not a sequence number (1..${Number.MAX_SAFE_INTEGER})`);
    result.fromSeq = Number(fromSeq);
  }
  result.kind = resume ? DecodedKind.ResumeAccount : DecodedKind.AccountSnapshot;
  return true;
}

const US = UPDATE_ACCOUNT_SETTINGS.slot;
/** Toggle fields of UpdateAccountSettings with their AccountSetting bits. */
const SETTING_FIELDS: readonly [number, number, string][] = [
  [US.auto_lend, AccountSetting.AutoLend, "auto_lend"],
  [US.auto_repay_borrows, AccountSetting.AutoRepayBorrows, "auto_repay_borrows"],
  [US.auto_borrow_settlements, AccountSetting.AutoBorrowSettlements, "auto_borrow_settlements"],
  [US.auto_realize_pnl, AccountSetting.AutoRealizePnl, "auto_realize_pnl"],
  [US.margin_enabled, AccountSetting.MarginEnabled, "margin_enabled"],
];
function decodeUpdateAccountSettings(out: CommandRecord, result: DecodeResult): boolean {
  const account = u32(US.account);
  result.account = account;
  if (!checkAccount(account, "account", result)) return false;
  const leverage = u8(US.leverage_limit);
  if (leverage > LEVERAGE_LIMIT_MAX) {
    return reject(result, RejectCode.InvalidSetting, `leverage_limit: ${leverage} is outside 1..${LEVERAGE_LIMIT_MAX} (0 = unchanged)`);
  }
  let mask = 0;
  let values = 0;
  for (const [slot, bit, field] of SETTING_FIELDS) {
    const toggle = u8(slot);
    if (!checkEnum(toggle, TOGGLE_MAX, field, "Toggle", result)) return false;
    if (toggle === 0) continue;
    mask |= bit;
    if (toggle === 2) values |= bit;
  }
  if (mask === 0 && leverage === 0) return reject(result, RejectCode.InvalidSetting, "UpdateAccountSettings changes nothing");
  out.clear();
  out.kind = CommandKind.UpdateAccountSettings;
  out.account = account;
  out.leverageLimit = leverage;
  out.flags = mask | (values << ACCOUNT_SETTING_VALUE_SHIFT);
  return accepted(result);
}

const MP = SET_MARK_PRICE.slot;
function decodeSetMarkPrice(config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  result.privileged = true;
  const asset = u16(MP.asset, 0);
  if (!checkAsset(asset, config, result)) return false;
  const price = units(MP.price, PRICE_DECIMALS, RejectCode.InvalidPrice, "price", false, result);
  if (price < 0n) return false;
  out.clear();
  out.kind = CommandKind.SetMarkPrice;
  out.asset = asset;
  out.price = price;
  return accepted(result);
}

const OQ = ORACLE_QUOTE.slot;
/** P2: one source's quote; the asset must have an oracle and `source` be one of its configured sources. */
function decodeOracleQuote(config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  result.privileged = true;
  const asset = u16(OQ.asset, 0);
  if (!checkAsset(asset, config, result)) return false;
  const oracle = config.assets[asset]!.oracle;
  if (oracle === null) return reject(result, RejectCode.InvalidField, `asset ${asset} has no oracle sources configured`);
  const source = u8(OQ.source);
  if (source >= oracle.sources.length) {
    return reject(result, RejectCode.InvalidField, `source ${source}: asset ${asset} has oracle sources 0..${oracle.sources.length - 1}`);
  }
  const bid = units(OQ.bid, PRICE_DECIMALS, RejectCode.InvalidPrice, "bid", false, result);
  if (bid < 0n) return false;
  const ask = units(OQ.ask, PRICE_DECIMALS, RejectCode.InvalidPrice, "ask", false, result);
  if (ask < 0n) return false;
  const last = units(OQ.last, PRICE_DECIMALS, RejectCode.InvalidPrice, "last", false, result);
  if (last < 0n) return false;
  if (bid > ask) return reject(result, RejectCode.InvalidPrice, `bid ${bid} above ask ${ask} (crossed quote)`);
  const timeMs = u64(OQ.source_time_ms);
  if (timeMs > MAX_SAFE) return reject(result, RejectCode.InvalidTime, `source_time_ms ${timeMs} is beyond ${Number.MAX_SAFE_INTEGER}`);
  out.clear();
  out.kind = CommandKind.OracleQuote;
  out.asset = asset;
  out.oracleSource = source;
  out.bid = bid;
  out.ask = ask;
  out.last = last;
  out.sourceTimeMs = Number(timeMs);
  out.flags = bool(OQ.apply) ? OracleQuoteFlag.Apply : 0;
  return accepted(result);
}

function decodeQueryCollateral(out: CommandRecord, result: DecodeResult): boolean {
  const account = u32(QUERY_COLLATERAL.slot.account);
  result.account = account;
  if (!checkAccount(account, "account", result)) return false;
  out.clear();
  out.kind = CommandKind.QueryCollateral;
  out.account = account;
  return accepted(result);
}

const QO = QUERY_MAX_ORDER.slot;
function decodeQueryMaxOrder(config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  const account = u32(QO.account);
  const market = u16(QO.market, 0);
  result.account = account;
  result.market = market;
  if (!checkAccount(account, "account", result) || !checkMarket(market, false, config, result)) return false;
  const side = u8(QO.side);
  if (!checkEnum(side, SIDE_MAX, "side", "Side", result)) return false;
  const price = units(QO.price, PRICE_DECIMALS, RejectCode.InvalidPrice, "price", false, result);
  if (price < 0n) return false;
  out.clear();
  out.kind = CommandKind.QueryMaxOrder;
  out.orderType = OrderType.Limit;
  out.account = account;
  out.market = market;
  out.side = side;
  out.price = price;
  out.flags =
    (bool(QO.auto_borrow) ? OrderFlag.AutoBorrow : 0) |
    (bool(QO.auto_borrow_repay) ? OrderFlag.AutoBorrowRepay : 0) |
    (bool(QO.auto_lend) ? OrderFlag.AutoLend : 0) |
    (bool(QO.auto_lend_redeem) ? OrderFlag.AutoLendRedeem : 0);
  return accepted(result);
}

const QW = QUERY_MAX_WITHDRAWAL.slot;
function decodeQueryMaxWithdrawal(config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  const account = u32(QW.account);
  const asset = u16(QW.asset, 0);
  result.account = account;
  if (!checkAccount(account, "account", result) || !checkAsset(asset, config, result)) return false;
  out.clear();
  out.kind = CommandKind.QueryMaxWithdrawal;
  out.account = account;
  out.asset = asset;
  out.flags = bool(QW.margin) ? OrderFlag.AutoBorrow : 0;
  return accepted(result);
}

/** Borrow / Repay / Lend / Redeem (L9–L11): account, asset, amount (Repay/Redeem: absent = all of it). */
function decodePoolAction(
  slot: { readonly account: number; readonly asset: number; readonly amount: number },
  kind: CommandKind,
  wholeAllowed: boolean,
  config: ExchangeConfig,
  out: CommandRecord,
  result: DecodeResult,
): boolean {
  const account = u32(slot.account);
  const asset = u16(slot.asset, 0);
  result.account = account;
  if (!checkAccount(account, "account", result) || !checkAsset(asset, config, result)) return false;
  const amount = units(slot.amount, config.assets[asset]!.decimals, RejectCode.InvalidAmount, "amount", wholeAllowed, result);
  if (amount < 0n) return false;
  out.clear();
  out.kind = kind;
  out.account = account;
  out.asset = asset;
  out.amount = amount;
  return accepted(result);
}

function decodeQueryPoolStats(config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  const asset = u16(QUERY_POOL_STATS.slot.asset, 0);
  if (asset !== ALL_ASSETS && !checkAsset(asset, config, result)) return false;
  out.clear();
  out.kind = CommandKind.QueryPoolStats;
  out.asset = asset;
  return accepted(result);
}

function decodeQueryRateCurve(config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  const asset = u16(QUERY_RATE_CURVE.slot.asset, 0);
  if (!checkAsset(asset, config, result)) return false;
  out.clear();
  out.kind = CommandKind.QueryRateCurve;
  out.asset = asset;
  out.curvePoints = u8(QUERY_RATE_CURVE.slot.points);
  return accepted(result);
}

function decodeQueryInterestHistory(config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  const q = QUERY_INTEREST_HISTORY.slot;
  const account = u32(q.account);
  const asset = u16(q.asset, 0);
  result.account = account;
  if (!checkAccount(account, "account", result)) return false;
  if (asset !== ALL_ASSETS && !checkAsset(asset, config, result)) return false;
  const since = u64(q.since_ms);
  if (since > BigInt(Number.MAX_SAFE_INTEGER)) return reject(result, RejectCode.InvalidTime, `since_ms ${since} is out of range`);
  out.clear();
  out.kind = CommandKind.QueryInterestHistory;
  out.account = account;
  out.asset = asset;
  out.timeMs = Number(since);
  out.historyLimit = u16(q.limit, 0);
  return accepted(result);
}

function decodeQueryMaxBorrow(config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  const account = u32(QUERY_MAX_BORROW.slot.account);
  const asset = u16(QUERY_MAX_BORROW.slot.asset, 0);
  result.account = account;
  if (!checkAccount(account, "account", result) || !checkAsset(asset, config, result)) return false;
  out.clear();
  out.kind = CommandKind.QueryMaxBorrow;
  out.account = account;
  out.asset = asset;
  return accepted(result);
}

// ---------------------------------------------------------------- X6: login and API keys (not the hot path)

/** The string at `slot` (ASCII), or null when absent. */
function str(slot: number): string | null {
  const p = at[slot]!;
  if (p === 0) return null;
  const target = p + readU32(p);
  const length = readU32(target);
  return Buffer.from(bytes.buffer, bytes.byteOffset + target + 4, length).toString("latin1");
}

/** Canonical base64 of exactly `length` bytes, decoded (a copy), or null after rejecting with `code`. */
function base64Bytes(slot: number, length: number, field: string, code: number, result: DecodeResult): Uint8Array | null {
  const text = str(slot);
  if (text === null) {
    reject(result, code, `${field}: required (base64 of ${length} bytes)`);
    return null;
  }
  const decoded = text.length === Math.ceil(length / 3) * 4 ? Buffer.from(text, "base64") : null;
  if (decoded === null || decoded.length !== length || decoded.toString("base64") !== text) {
    reject(result, code, `${field}: expected base64 of ${length} bytes, got ${text.length} characters`);
    return null;
  }
  return new Uint8Array(decoded);
}

const LG = LOGIN.slot;
function decodeLogin(result: DecodeResult): boolean {
  const key = base64Bytes(LG.api_key, ED25519_PUBLIC_KEY_BYTES, "api_key", RejectCode.BadSignature, result);
  if (key === null) return false;
  const signature = base64Bytes(LG.signature, ED25519_SIGNATURE_BYTES, "signature", RejectCode.BadSignature, result);
  if (signature === null) return false;
  const timestampMs = u64(LG.timestamp_ms);
  const window = u32(LG.window_ms);
  if (window > LOGIN_WINDOW_MAX_MS) {
    return reject(result, RejectCode.BadSignature, `window_ms: ${window} is above the ${LOGIN_WINDOW_MAX_MS} ms maximum`);
  }
  if (timestampMs === 0n || timestampMs > MAX_SAFE) return reject(result, RejectCode.BadSignature, `timestamp_ms: ${timestampMs} is not a time`);
  result.loginKey = key;
  result.loginSignature = signature;
  result.loginTimestampMs = Number(timestampMs);
  result.loginWindowMs = window === 0 ? LOGIN_WINDOW_DEFAULT_MS : window;
  result.kind = DecodedKind.Login;
  return true;
}

/** Register / revoke: user → account user × 16, the key → four little-endian int64 words, permissions → flags. */
function decodeApiKeyCommand(kind: CommandKind, out: CommandRecord, result: DecodeResult): boolean {
  result.privileged = true;
  const register = kind === CommandKind.RegisterApiKey;
  const user = u32(register ? REGISTER_API_KEY.slot.user : REVOKE_API_KEY.slot.user);
  if (user === 0 || user > USER_MAX) return reject(result, RejectCode.InvalidAccount, `user: ${user} is not a user id (1..${USER_MAX})`);
  result.account = mainAccountOf(user);
  const keySlot = register ? REGISTER_API_KEY.slot.api_key : REVOKE_API_KEY.slot.api_key;
  const key = base64Bytes(keySlot, ED25519_PUBLIC_KEY_BYTES, "api_key", RejectCode.InvalidField, result);
  if (key === null) return false;
  const permissions = register ? u8(REGISTER_API_KEY.slot.permissions) : 0;
  if (register && (permissions === 0 || permissions > PERMISSIONS_ALL)) {
    return reject(result, RejectCode.InvalidField, `permissions: ${permissions} is not a non-empty set of Read 1, Trade 2, Withdraw 4`);
  }
  out.clear();
  out.kind = kind;
  out.account = mainAccountOf(user);
  out.flags = permissions;
  writeKeyWords(key, out);
  result.loginKey = key;
  return accepted(result);
}

/** The 32-byte key as four little-endian int64 words publicKeyWord0…3. */
export function writeKeyWords(key: Uint8Array, out: CommandRecord): void {
  const view = new DataView(key.buffer, key.byteOffset, ED25519_PUBLIC_KEY_BYTES);
  out.publicKeyWord0 = view.getBigInt64(0, true);
  out.publicKeyWord1 = view.getBigInt64(8, true);
  out.publicKeyWord2 = view.getBigInt64(16, true);
  out.publicKeyWord3 = view.getBigInt64(24, true);
}

/** The inverse of writeKeyWords: the 32-byte key of a RegisterApiKey / RevokeApiKey record. */
export function readKeyWords(cmd: CommandRecord): Uint8Array {
  const key = new Uint8Array(ED25519_PUBLIC_KEY_BYTES);
  const view = new DataView(key.buffer);
  view.setBigInt64(0, BigInt.asIntN(64, cmd.publicKeyWord0), true);
  view.setBigInt64(8, BigInt.asIntN(64, cmd.publicKeyWord1), true);
  view.setBigInt64(16, BigInt.asIntN(64, cmd.publicKeyWord2), true);
  view.setBigInt64(24, BigInt.asIntN(64, cmd.publicKeyWord3), true);
  return key;
}
