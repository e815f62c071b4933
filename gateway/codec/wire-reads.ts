// Reads and checks of one verified command frame (X5), shared by decode.ts and the generated per-kind decoders
// (generated/decode-commands.ts). The verifier (schemas/verify.ts) bounds-checks the frame and reports where every
// field sits; the reads below take those positions directly. Each check returns false after rejecting with a
// RejectCode and a message naming the field.
import {
  ALL_ASSETS,
  ALL_MARKETS,
  INT64_MAX,
  isExchangeAccount,
  MarketState,
  OrderFlag,
  RATE_CURVE_POINTS_MAX,
  RejectCode,
  SelfTradePrevention,
  Side,
  SUB_ACCOUNT_MAX,
  subIndexOf,
  TimeInForce,
  userOf,
  type CommandRecord,
  type ExchangeConfig,
} from "../../engine/model/index.ts";
import { VerifiedFrame, type VerifyFailure } from "../../schemas/index.ts";

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
  /** Gateway-only, operator: a what-if on a copy of the state (Q7); see DecodeResult.whatIf*. */
  WhatIf: 8,
} as const;

/** Q7: shocks one QueryWhatIf carries at most (asset_1 … asset_4). */
export const WHAT_IF_SHOCKS_MAX = 4;
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
  /** QueryWhatIf (Q7): whatIfShocks shocks, each an asset and its mark's change (a signed Ratio, −0.3 = −30%). */
  whatIfShocks = 0;
  readonly whatIfAssets = new Int32Array(WHAT_IF_SHOCKS_MAX);
  readonly whatIfChanges: bigint[] = new Array<bigint>(WHAT_IF_SHOCKS_MAX).fill(0n);
  /** QueryWhatIf: batches after the shock's at most. */
  whatIfStagesMax = 0;

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
    this.whatIfShocks = 0;
    this.whatIfStagesMax = 0;
  }
}

export const SIDE_MAX = maxValue(Side);
export const TIF_MAX = maxValue(TimeInForce);
export const STP_MAX = maxValue(SelfTradePrevention);
export const MARKET_STATE_MAX = maxValue(MarketState);
/** Toggle (UpdateAccountSettings): 0 unchanged, 1 off, 2 on. */
export const TOGGLE_MAX = 2;

function maxValue(e: Readonly<Record<string, number>>): number {
  let max = 0;
  for (const v of Object.values(e)) if (v > max) max = v;
  return max;
}

export const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const POW10: readonly bigint[] = Array.from({ length: 39 }, (_, i) => 10n ** BigInt(i));
/** Powers of ten exact as doubles (10^22 is the last). */
const POW10_DOUBLE: readonly number[] = Array.from({ length: 23 }, (_, i) => 10 ** i);
const TWO_POW_32 = 4294967296;
/** A high word below 2^21 means the 64-bit value is below 2^53, exact as a double. */
const SAFE_HIGH_WORD = 0x200000;

export const failure: VerifyFailure = { message: "" };
export const VERIFY_OPTIONS = { rejectUnknownFields: true, rejectUnknownUnionType: true } as const;
export const verified = new VerifiedFrame();
/** Field positions of the verified command table (module-local: reads of an exported binding are slower). */
const at = verified.bodyAt;
/** The frame being decoded (module state: decoding is synchronous and never re-entered). */
let bytes: Uint8Array = new Uint8Array(0);

/** Makes `frame` the frame every read below reads. */
export function setFrame(frame: Uint8Array): void {
  bytes = frame;
}

/** The frame being decoded. */
export function frameBytes(): Uint8Array {
  return bytes;
}

// ---------------------------------------------------------------- field reads at verified positions (0 = absent)

export function readU32(p: number): number {
  return (bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16) | (bytes[p + 3]! << 24)) >>> 0;
}

export function readU64(p: number): bigint {
  const low = readU32(p);
  const high = readU32(p + 4);
  if (high < SAFE_HIGH_WORD) return BigInt(high * TWO_POW_32 + low);
  return (BigInt(high) << 32n) + BigInt(low);
}

export function readI64(p: number): bigint {
  return BigInt.asIntN(64, (BigInt(readU32(p + 4)) << 32n) + BigInt(readU32(p)));
}

export function u8(slot: number): number {
  const p = at[slot]!;
  return p === 0 ? 0 : bytes[p]!;
}

export function u16(slot: number, fallback: number): number {
  const p = at[slot]!;
  return p === 0 ? fallback : bytes[p]! | (bytes[p + 1]! << 8);
}

export function u32(slot: number): number {
  const p = at[slot]!;
  return p === 0 ? 0 : readU32(p);
}

export function u64(slot: number): bigint {
  const p = at[slot]!;
  return p === 0 ? 0n : readU64(p);
}

export function bool(slot: number): boolean {
  return u8(slot) !== 0;
}


export function reject(result: DecodeResult, code: number, message: string): false {
  result.kind = DecodedKind.Rejected;
  result.code = code;
  result.message = message;
  return false;
}

// ---------------------------------------------------------------- field checks (each returns false after rejecting)

/**
 * Account id checks at the boundary: 0 is nobody, sub-account indices stop at 10 (A1), and accounts 1..15 (user 0)
 * belong to the exchange (fees, insurance): only a privileged command (Deposit) may name them.
 */
export function checkAccount(account: number, field: string, result: DecodeResult): boolean {
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

export function checkMarket(market: number, allowAll: boolean, config: ExchangeConfig, result: DecodeResult): boolean {
  if (market < config.markets.length) return true;
  if (allowAll && market === ALL_MARKETS) return true;
  return reject(result, RejectCode.UnknownMarket, `unknown market ${market}`);
}

export function checkAsset(asset: number, config: ExchangeConfig, result: DecodeResult): boolean {
  if (asset < config.assets.length) return true;
  return reject(result, RejectCode.UnknownAsset, `unknown asset ${asset}`);
}

export function checkEnum(value: number, max: number, field: string, enumName: string, result: DecodeResult): boolean {
  if (value <= max) return true;
  return reject(result, RejectCode.InvalidField, `${field}: ${value} is not a ${enumName} (0..${max})`);
}

/**
 * Engine units of the Decimal in `slot` at `decimals` places, or -1n after rejecting with `code`: negative values,
 * a scale finer than the unit ("over-scale"), zero (unless allowZero; an absent field counts as zero) and values
 * beyond int64 are refused.
 */
export function units(
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

export function accepted(result: DecodeResult): true {
  result.kind = DecodedKind.Engine;
  return true;
}

/** Exactly one of order_id / client_id; fills out.orderId or out.clientId + ByClientId. */
export function orderReference(orderIdWire: bigint, clientId: bigint, out: CommandRecord, result: DecodeResult): boolean {
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

/** A u64 time (ms) at `slot` as a number, or -1 after rejecting (InvalidTime) beyond 2^53 - 1. */
export function readTimeMs(slot: number, field: string, result: DecodeResult): number {
  const time = u64(slot);
  if (time <= MAX_SAFE) return Number(time);
  reject(result, RejectCode.InvalidTime, `${field} ${time} is beyond ${Number.MAX_SAFE_INTEGER}`);
  return -1;
}

/** An asset id, or ALL_ASSETS (the pool and interest-history queries). */
export function checkAssetOrAll(asset: number, config: ExchangeConfig, result: DecodeResult): boolean {
  return asset === ALL_ASSETS || checkAsset(asset, config, result);
}

export function baseDecimalsOf(config: ExchangeConfig, market: number): number {
  return config.assets[config.markets[market]!.baseAsset]!.decimals;
}

export function quoteDecimalsOf(config: ExchangeConfig, market: number): number {
  return config.assets[config.markets[market]!.quoteAsset]!.decimals;
}

export function assetDecimalsOf(config: ExchangeConfig, asset: number): number {
  return config.assets[asset]!.decimals;
}

/** O1: a market order gives exactly one of quantity / quote_quantity, and quote_quantity only to buy. */
export function checkMarketOrderSize(quantity: bigint, quoteQuantity: bigint, side: number, result: DecodeResult): boolean {
  if ((quantity === 0n) === (quoteQuantity === 0n)) {
    return reject(
      result,
      RejectCode.InvalidQuantity,
      quantity === 0n ? "zero quantity: give quantity or quote_quantity" : "quantity and quote_quantity: give exactly one of them",
    );
  }
  if (quoteQuantity !== 0n && side !== Side.Buy) {
    return reject(result, RejectCode.InvalidQuantity, "quote_quantity is for buy orders only (O1)");
  }
  return true;
}

/** A2: a transfer moves between two different accounts of one user. */
/** P2: the asset has an oracle and `source` is one of its configured sources. */
export function checkOracleSource(config: ExchangeConfig, asset: number, source: number, result: DecodeResult): boolean {
  const oracle = config.assets[asset]!.oracle;
  if (oracle === null) return reject(result, RejectCode.InvalidField, `asset ${asset} has no oracle sources configured`);
  if (source >= oracle.sources.length) {
    return reject(result, RejectCode.InvalidField, `source ${source}: asset ${asset} has oracle sources 0..${oracle.sources.length - 1}`);
  }
  return true;
}

/** P2: a source's quote is not crossed (bid ≤ ask). */
export function checkQuoteNotCrossed(bid: bigint, ask: bigint, result: DecodeResult): boolean {
  return bid <= ask || reject(result, RejectCode.InvalidPrice, `bid ${bid} above ask ${ask} (crossed quote)`);
}

/** L3: a rate curve query asks for 0 points (the default, 11) or 2..RATE_CURVE_POINTS_MAX. */
export function checkCurvePoints(points: number, result: DecodeResult): boolean {
  if (points === 0 || (points >= 2 && points <= RATE_CURVE_POINTS_MAX)) return true;
  return reject(result, RejectCode.InvalidField, `a rate curve has 2..${RATE_CURVE_POINTS_MAX} points`);
}

export function checkTransferAccounts(from: number, to: number, result: DecodeResult): boolean {
  if (from === to) return reject(result, RejectCode.InvalidTransfer, `transfer from account ${from} to itself`);
  if (userOf(from) !== userOf(to)) {
    return reject(result, RejectCode.InvalidTransfer, `accounts ${from} and ${to} belong to different users: transfers stay within one user (A2)`);
  }
  return true;
}
