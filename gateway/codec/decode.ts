// Server-side command decoding: one verified FlatBuffers frame → one engine CommandRecord, or a typed reject (X5).
//
// Hot path: one FrameBuffer, one envelope object, one accessor object per table type and one Decimal accessor are
// reused for every frame; the only allocations on success are the BigInts of 64-bit fields. Every check happens
// here, before the engine sees anything, and every reject carries a RejectCode and a message naming the field.
import {
  ALL_MARKETS,
  CommandKind,
  MarketState,
  OrderFlag,
  PRICE_DECIMALS,
  RejectCode,
  SelfTradePrevention,
  Side,
  TimeInForce,
  OrderType,
  type CommandRecord,
  type ExchangeConfig,
} from "../../engine/model/index.ts";
import {
  AdvanceTime,
  Cancel,
  CancelAll,
  Command,
  CommandEnvelope,
  COMMAND_ENVELOPE_LAYOUT,
  COMMAND_LAYOUTS,
  Decimal,
  Deposit,
  LimitOrder,
  MarketOrder,
  Replace,
  SetMarketState,
  Subscribe,
  Transfer,
  Unsubscribe,
  verifiedUnion,
  verifyEnvelope,
  Withdraw,
  type VerifyFailure,
} from "../../schemas/index.ts";
import { FrameBuffer } from "./frame-buffer.ts";

/** Largest command frame accepted; the biggest command encodes to well under 200 bytes. */
export const MAX_COMMAND_FRAME_BYTES = 1024;
/** Sub-accounts 1..10 besides the main account 0 (A1). */
export const SUB_ACCOUNT_MAX = 10;
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
  /** Deposit, SetMarketState, AdvanceTime: only an operator session may send them. */
  privileged = false;
  /** As far as read before a reject (for routing and echoing it). */
  account = 0;
  market = 0;
  clientId = 0n;
  /** Subscribe / Unsubscribe channel mask. */
  channels = 0;

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
  }
}

const SIDE_MAX = maxValue(Side);
const TIF_MAX = maxValue(TimeInForce);
const STP_MAX = maxValue(SelfTradePrevention);
const MARKET_STATE_MAX = maxValue(MarketState);

function maxValue(e: Readonly<Record<string, number>>): number {
  let max = 0;
  for (const v of Object.values(e)) if (v > max) max = v;
  return max;
}

const INT64_MAX = 0x7fff_ffff_ffff_ffffn;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const POW10: readonly bigint[] = Array.from({ length: 39 }, (_, i) => 10n ** BigInt(i));

// One of each accessor, re-pointed at every frame.
const frame = new FrameBuffer();
const envelope = new CommandEnvelope();
const decimal = new Decimal();
const deposit = new Deposit();
const withdraw = new Withdraw();
const limitOrder = new LimitOrder();
const marketOrder = new MarketOrder();
const cancel = new Cancel();
const cancelAll = new CancelAll();
const replace = new Replace();
const transfer = new Transfer();
const setMarketState = new SetMarketState();
const advanceTime = new AdvanceTime();
const subscribe = new Subscribe();
const unsubscribe = new Unsubscribe();
const failure: VerifyFailure = { message: "" };
const VERIFY_OPTIONS = { rejectUnknownFields: true, rejectUnknownUnionType: true } as const;

/**
 * Decodes and validates one client frame. Returns true when accepted: `result.kind` is Engine (and `out` holds the
 * command; its `seq` is left 0 for the sequencer) or Subscribe/Unsubscribe (`out` untouched). Returns false with
 * `result.code`/`result.message` set otherwise; `out` may then be partly written and must be ignored. Never throws.
 */
export function decodeCommand(
  bytes: Uint8Array,
  config: ExchangeConfig,
  out: CommandRecord,
  result: DecodeResult,
): boolean {
  result.reset();
  try {
    return decodeFrame(bytes, config, out, result);
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

function decodeFrame(bytes: Uint8Array, config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  if (bytes.length > MAX_COMMAND_FRAME_BYTES) {
    return reject(
      result,
      RejectCode.MalformedFrame,
      `frame of ${bytes.length} bytes exceeds the ${MAX_COMMAND_FRAME_BYTES}-byte limit`,
    );
  }
  const verified = verifyEnvelope(bytes, COMMAND_ENVELOPE_LAYOUT, COMMAND_LAYOUTS, VERIFY_OPTIONS, failure);
  if (!verified) {
    // The envelope may be sound while the command is not: then echo client_seq and name the command type.
    if (verifiedUnion.type !== 0) {
      readEnvelope(bytes, result);
      if (verifiedUnion.type >= COMMAND_LAYOUTS.length) {
        return reject(result, RejectCode.UnknownCommand, `unknown command type ${verifiedUnion.type}`);
      }
    }
    return reject(result, RejectCode.MalformedFrame, `malformed frame: ${failure.message}`);
  }
  readEnvelope(bytes, result);
  const type = result.commandType;
  if (type === Command.NONE) return reject(result, RejectCode.UnknownCommand, "frame carries no command");
  switch (type) {
    case Command.Deposit:
      return decodeDeposit(envelope.command(deposit) as Deposit | null, config, out, result);
    case Command.Withdraw:
      return decodeWithdraw(envelope.command(withdraw) as Withdraw | null, config, out, result);
    case Command.LimitOrder:
      return decodeLimitOrder(envelope.command(limitOrder) as LimitOrder | null, config, out, result);
    case Command.MarketOrder:
      return decodeMarketOrder(envelope.command(marketOrder) as MarketOrder | null, config, out, result);
    case Command.Cancel:
      return decodeCancel(envelope.command(cancel) as Cancel | null, config, out, result);
    case Command.CancelAll:
      return decodeCancelAll(envelope.command(cancelAll) as CancelAll | null, config, out, result);
    case Command.Replace:
      return decodeReplace(envelope.command(replace) as Replace | null, config, out, result);
    case Command.Transfer:
      return decodeTransfer(envelope.command(transfer) as Transfer | null, config, out, result);
    case Command.SetMarketState:
      return decodeSetMarketState(envelope.command(setMarketState) as SetMarketState | null, config, out, result);
    case Command.AdvanceTime:
      return decodeAdvanceTime(envelope.command(advanceTime) as AdvanceTime | null, out, result);
    case Command.Subscribe:
    case Command.Unsubscribe: {
      const table = type === Command.Subscribe ? subscribe : unsubscribe;
      return decodeSubscription(envelope.command(table) as Subscribe | null, type, config, result);
    }
    default:
      return reject(result, RejectCode.UnknownCommand, `unknown command type ${type}`);
  }
}

function readEnvelope(bytes: Uint8Array, result: DecodeResult): void {
  frame.reset(bytes);
  envelope.__init(frame.readInt32(0), frame);
  result.clientSeq = envelope.clientSeq();
  result.commandType = envelope.commandType();
}

function missing(result: DecodeResult): false {
  return reject(result, RejectCode.MalformedFrame, "command type set but the command table is missing");
}

// ---------------------------------------------------------------- field checks (each returns false after rejecting)

/**
 * Account id checks at the boundary: 0 is nobody, sub-account indices stop at 10 (A1), and accounts 1..15 (user 0)
 * belong to the exchange (fees, insurance): only a privileged command (Deposit) may name them.
 */
function checkAccount(account: number, field: string, result: DecodeResult): boolean {
  if (account === 0) return reject(result, RejectCode.InvalidAccount, `${field}: account 0 does not exist`);
  if (account >>> 4 === 0 && !result.privileged) {
    return reject(result, RejectCode.InvalidAccount, `${field}: account ${account} belongs to the exchange`);
  }
  const sub = account & 15;
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
 * Engine units of a wire Decimal at `decimals` places, or -1n after rejecting with `code`: negative values, a
 * scale finer than the unit ("over-scale"), zero (unless allowZero; an absent field counts as zero) and values
 * beyond int64 are refused.
 */
function units(
  d: Decimal | null,
  decimals: number,
  code: number,
  field: string,
  allowZero: boolean,
  result: DecodeResult,
): bigint {
  if (d === null) {
    if (allowZero) return 0n;
    reject(result, code, `zero ${field}: the field is missing`);
    return -1n;
  }
  const mantissa = d.mantissa();
  const scale = d.scale();
  if (mantissa < 0n) {
    reject(result, code, `negative ${field}: mantissa ${mantissa}, scale ${scale}`);
    return -1n;
  }
  if (scale > decimals) {
    reject(result, code, `over-scale: ${field} has scale ${scale}, at most ${decimals} decimal places allowed`);
    return -1n;
  }
  if (mantissa === 0n) {
    if (allowZero) return 0n;
    reject(result, code, `zero ${field}`);
    return -1n;
  }
  const value = scale === decimals ? mantissa : mantissa * POW10[decimals - scale]!;
  if (value > INT64_MAX) {
    reject(result, code, `${field} overflows int64 at ${decimals} decimal places: mantissa ${mantissa}, scale ${scale}`);
    return -1n;
  }
  return value;
}

function orderFlags(
  postOnly: boolean,
  reduceOnly: boolean,
  autoBorrow: boolean,
  autoBorrowRepay: boolean,
  autoLend: boolean,
  autoLendRedeem: boolean,
): number {
  return (
    (postOnly ? OrderFlag.PostOnly : 0) |
    (reduceOnly ? OrderFlag.ReduceOnly : 0) |
    (autoBorrow ? OrderFlag.AutoBorrow : 0) |
    (autoBorrowRepay ? OrderFlag.AutoBorrowRepay : 0) |
    (autoLend ? OrderFlag.AutoLend : 0) |
    (autoLendRedeem ? OrderFlag.AutoLendRedeem : 0)
  );
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

function decodeDeposit(t: Deposit | null, config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  if (t === null) return missing(result);
  result.privileged = true;
  const account = t.account();
  const asset = t.asset();
  result.account = account;
  if (!checkAccount(account, "account", result) || !checkAsset(asset, config, result)) return false;
  const amount = units(t.amount(decimal), config.assets[asset]!.decimals, RejectCode.InvalidAmount, "amount", false, result);
  if (amount < 0n) return false;
  out.clear();
  out.kind = CommandKind.Deposit;
  out.account = account;
  out.asset = asset;
  out.amount = amount;
  return accepted(result);
}

function decodeWithdraw(t: Withdraw | null, config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  if (t === null) return missing(result);
  const account = t.account();
  const asset = t.asset();
  result.account = account;
  if (!checkAccount(account, "account", result) || !checkAsset(asset, config, result)) return false;
  const amount = units(t.amount(decimal), config.assets[asset]!.decimals, RejectCode.InvalidAmount, "amount", false, result);
  if (amount < 0n) return false;
  out.clear();
  out.kind = CommandKind.Withdraw;
  out.account = account;
  out.asset = asset;
  out.amount = amount;
  // A margin withdrawal borrows the missing part (A5, L9).
  out.flags = t.margin() ? OrderFlag.AutoBorrow : 0;
  return accepted(result);
}

function decodeLimitOrder(
  t: LimitOrder | null,
  config: ExchangeConfig,
  out: CommandRecord,
  result: DecodeResult,
): boolean {
  if (t === null) return missing(result);
  const account = t.account();
  const market = t.market();
  const clientId = t.clientId();
  result.account = account;
  result.market = market;
  result.clientId = clientId;
  if (!checkAccount(account, "account", result) || !checkMarket(market, false, config, result)) return false;
  const side = t.side();
  const tif = t.tif();
  const stp = t.stp();
  if (
    !checkEnum(side, SIDE_MAX, "side", "Side", result) ||
    !checkEnum(tif, TIF_MAX, "tif", "TimeInForce", result) ||
    !checkEnum(stp, STP_MAX, "stp", "SelfTradePrevention", result)
  ) {
    return false;
  }
  const baseDecimals = config.assets[config.markets[market]!.baseAsset]!.decimals;
  const price = units(t.price(decimal), PRICE_DECIMALS, RejectCode.InvalidPrice, "price", false, result);
  if (price < 0n) return false;
  const quantity = units(t.quantity(decimal), baseDecimals, RejectCode.InvalidQuantity, "quantity", false, result);
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
  out.flags = orderFlags(
    t.postOnly(),
    t.reduceOnly(),
    t.autoBorrow(),
    t.autoBorrowRepay(),
    t.autoLend(),
    t.autoLendRedeem(),
  );
  return accepted(result);
}

function decodeMarketOrder(
  t: MarketOrder | null,
  config: ExchangeConfig,
  out: CommandRecord,
  result: DecodeResult,
): boolean {
  if (t === null) return missing(result);
  const account = t.account();
  const market = t.market();
  const clientId = t.clientId();
  result.account = account;
  result.market = market;
  result.clientId = clientId;
  if (!checkAccount(account, "account", result) || !checkMarket(market, false, config, result)) return false;
  const side = t.side();
  const stp = t.stp();
  if (
    !checkEnum(side, SIDE_MAX, "side", "Side", result) ||
    !checkEnum(stp, STP_MAX, "stp", "SelfTradePrevention", result)
  ) {
    return false;
  }
  const m = config.markets[market]!;
  const baseDecimals = config.assets[m.baseAsset]!.decimals;
  const quoteDecimals = config.assets[m.quoteAsset]!.decimals;
  const quantity = units(t.quantity(decimal), baseDecimals, RejectCode.InvalidQuantity, "quantity", true, result);
  if (quantity < 0n) return false;
  const quoteQuantity = units(
    t.quoteQuantity(decimal),
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
  out.flags = orderFlags(
    false,
    t.reduceOnly(),
    t.autoBorrow(),
    t.autoBorrowRepay(),
    t.autoLend(),
    t.autoLendRedeem(),
  );
  return accepted(result);
}

function decodeCancel(t: Cancel | null, config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  if (t === null) return missing(result);
  const account = t.account();
  const market = t.market();
  const clientId = t.clientId();
  result.account = account;
  result.market = market;
  result.clientId = clientId;
  if (!checkAccount(account, "account", result) || !checkMarket(market, false, config, result)) return false;
  out.clear();
  if (!orderReference(t.orderId(), clientId, out, result)) return false;
  out.kind = CommandKind.CancelOrder;
  out.account = account;
  out.market = market;
  return accepted(result);
}

function decodeCancelAll(t: CancelAll | null, config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  if (t === null) return missing(result);
  const account = t.account();
  const market = t.market();
  result.account = account;
  result.market = market;
  if (!checkAccount(account, "account", result) || !checkMarket(market, true, config, result)) return false;
  out.clear();
  out.kind = CommandKind.CancelAll;
  out.account = account;
  out.market = market;
  return accepted(result);
}

function decodeReplace(t: Replace | null, config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  if (t === null) return missing(result);
  const account = t.account();
  const market = t.market();
  const clientId = t.clientId();
  result.account = account;
  result.market = market;
  result.clientId = clientId;
  if (!checkAccount(account, "account", result) || !checkMarket(market, false, config, result)) return false;
  const baseDecimals = config.assets[config.markets[market]!.baseAsset]!.decimals;
  const price = units(t.price(decimal), PRICE_DECIMALS, RejectCode.InvalidPrice, "price", false, result);
  if (price < 0n) return false;
  const quantity = units(t.quantity(decimal), baseDecimals, RejectCode.InvalidQuantity, "quantity", false, result);
  if (quantity < 0n) return false;
  out.clear();
  if (!orderReference(t.orderId(), clientId, out, result)) return false;
  out.kind = CommandKind.ReplaceOrder;
  out.account = account;
  out.market = market;
  out.price = price;
  out.quantity = quantity;
  return accepted(result);
}

function decodeTransfer(t: Transfer | null, config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  if (t === null) return missing(result);
  const from = t.fromAccount();
  const to = t.toAccount();
  const asset = t.asset();
  result.account = from;
  if (!checkAccount(from, "from_account", result) || !checkAccount(to, "to_account", result)) return false;
  if (from === to) return reject(result, RejectCode.InvalidTransfer, `transfer from account ${from} to itself`);
  if (from >>> 4 !== to >>> 4) {
    return reject(
      result,
      RejectCode.InvalidTransfer,
      `accounts ${from} and ${to} belong to different users: transfers stay within one user (A2)`,
    );
  }
  if (!checkAsset(asset, config, result)) return false;
  const amount = units(t.amount(decimal), config.assets[asset]!.decimals, RejectCode.InvalidAmount, "amount", false, result);
  if (amount < 0n) return false;
  out.clear();
  out.kind = CommandKind.Transfer;
  out.account = from;
  out.account2 = to;
  out.asset = asset;
  out.amount = amount;
  return accepted(result);
}

function decodeSetMarketState(
  t: SetMarketState | null,
  config: ExchangeConfig,
  out: CommandRecord,
  result: DecodeResult,
): boolean {
  if (t === null) return missing(result);
  result.privileged = true;
  const market = t.market();
  const state = t.state();
  result.market = market;
  if (!checkMarket(market, false, config, result)) return false;
  if (!checkEnum(state, MARKET_STATE_MAX, "state", "MarketState", result)) return false;
  out.clear();
  out.kind = CommandKind.SetMarketState;
  out.market = market;
  out.state = state;
  return accepted(result);
}

function decodeAdvanceTime(t: AdvanceTime | null, out: CommandRecord, result: DecodeResult): boolean {
  if (t === null) return missing(result);
  result.privileged = true;
  const timeMs = t.timeMs();
  if (timeMs > MAX_SAFE) {
    return reject(result, RejectCode.InvalidTime, `time_ms ${timeMs} is beyond ${Number.MAX_SAFE_INTEGER}`);
  }
  out.clear();
  out.kind = CommandKind.AdvanceTime;
  out.timeMs = Number(timeMs);
  return accepted(result);
}

function decodeSubscription(
  t: Subscribe | Unsubscribe | null,
  type: number,
  config: ExchangeConfig,
  result: DecodeResult,
): boolean {
  if (t === null) return missing(result);
  const market = t.market();
  const channels = t.channels();
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
