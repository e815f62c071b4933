// Values on the wire for the server's encoders: the reused event builder, Decimal structs, and the scales a record
// field is written at. Shared by encode.ts and the generated per-kind encoders (generated/encode-events.ts).
import { Builder } from "flatbuffers";
import {
  INT64_MAX,
  INT64_MIN,
  MarketKind,
  PRICE_DECIMALS,
  RATIO_DECIMALS,
  REPORTED_RATIO_DECIMALS,
  REPORTED_RATIO_UNBOUNDED,
  Side,
  type ExchangeConfig,
  type MarketConfig,
} from "../../engine/model/index.ts";
import { Decimal } from "../../schemas/index.ts";

const TWO_POW_32 = 4294967296;
/** Longest string EventBuilder.createString copies itself (a reject's message is ~30–200 characters); longer: the runtime's. */
const ASCII_STRING_CHARS_MAX = 1024;

/**
 * The runtime writes every 64-bit field with two BigInt.asIntN calls and a shift; a value within ±(2^53 - 1)
 * (every id, time and realistic amount) is split with doubles instead. Same bytes: the high word goes first because
 * the builder writes downwards (space decreases), after addInt64's 8-byte alignment.
 */
export class EventBuilder extends Builder {
  /** createString's ASCII bytes, and one view of them per length (made once): no TextEncoder call, no allocation. */
  private readonly ascii = new Uint8Array(ASCII_STRING_CHARS_MAX);
  private readonly asciiViews: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(ASCII_STRING_CHARS_MAX + 1);

  /**
   * The runtime's createString encodes every string with a TextEncoder call (a trip into C++ and a new array: ~2–3%
   * of the gateway thread in the closed loop, every OrderRejected and CommandRejected message). An ASCII string's
   * UTF-8 bytes are its char codes: they are copied here and handed over as bytes, which the runtime writes as they
   * are — the same bytes. Anything else (a non-ASCII character, a long string, bytes, null) takes the runtime's path.
   */
  override createString(s: string | Uint8Array | null | undefined): number {
    if (typeof s !== "string" || s.length > ASCII_STRING_CHARS_MAX) return super.createString(s);
    const n = s.length;
    const ascii = this.ascii;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return super.createString(s);
      ascii[i] = c;
    }
    const view = this.asciiViews[n] ?? (this.asciiViews[n] = ascii.subarray(0, n));
    return super.createString(view);
  }

  override writeInt64(value: bigint): void {
    const n = Number(value);
    if (Number.isSafeInteger(n)) {
      const high = Math.floor(n / TWO_POW_32);
      this.writeInt32(high);
      this.writeInt32(n - high * TWO_POW_32);
      return;
    }
    super.writeInt64(value);
  }

  /**
   * addFieldInt64(voffset, BigInt(value), 0n) for a number: the same bytes (nothing when 0, the field's default),
   * without a BigInt made and split per field. For the envelope's seq and market_seq, numbers in the engine.
   */
  addFieldInt64Number(voffset: number, value: number): void {
    if (value === 0) return;
    if (!Number.isSafeInteger(value)) throw new RangeError(`addFieldInt64Number: ${value} is not a safe integer`);
    this.prep(8, 0);
    const high = Math.floor(value / TWO_POW_32);
    this.writeInt32(high);
    this.writeInt32(value - high * TWO_POW_32);
    this.slot(voffset);
  }
}

/**
 * Writes a Decimal struct inline (call it as the argument of the table's add function): Decimal.createDecimal's
 * bytes. A mantissa within ±(2^53 − 1) (every realistic amount) is range-checked and split with doubles, not with
 * two BigInt comparisons and the runtime's BigInt split (~7% of an event's encode on the gateway thread).
 */
export function decimal(b: Builder, value: bigint, scale: number): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) {
    // An engine value beyond int64 is a bug upstream; the runtime would truncate it silently.
    if (value < INT64_MIN || value > INT64_MAX) throw new RangeError(`wire decimal out of int64 range: ${value}`);
    return Decimal.createDecimal(b, value, scale);
  }
  b.prep(8, 16);
  // The struct's bytes 8–15 (the builder writes downwards): scale, then 7 bytes of padding — createDecimal's pad(7)
  // and writeInt8(scale) as two 32-bit words (scale is a ubyte).
  b.writeInt32(0);
  b.writeInt32(scale & 0xff);
  const high = Math.floor(n / TWO_POW_32);
  b.writeInt32(high);
  b.writeInt32(n - high * TWO_POW_32);
  return b.offset();
}

/** USD amounts of the account statement are at PRICE_DECIMALS (a USD value is a price of one unit). */
export const USD_DECIMALS = PRICE_DECIMALS;
export { PRICE_DECIMALS, RATIO_DECIMALS, REPORTED_RATIO_DECIMALS, REPORTED_RATIO_UNBOUNDED };

/** One AccountSetting bit as a wire bool. */
export function on(settings: number, bit: number): boolean {
  return (settings & bit) !== 0;
}

/** C9: MMR ≥ 100% with exposure (an unbounded MMR has exposure by definition). */
export function liquidatable(mmr: bigint): boolean {
  return mmr === REPORTED_RATIO_UNBOUNDED || mmr >= 10n ** BigInt(REPORTED_RATIO_DECIMALS);
}

export function marketOf(config: ExchangeConfig, market: number): MarketConfig {
  const m = config.markets[market];
  if (m === undefined) throw new RangeError(`encode: unknown market ${market}`);
  return m;
}

export function decimalsOf(config: ExchangeConfig, asset: number): number {
  const a = config.assets[asset];
  if (a === undefined) throw new RangeError(`encode: unknown asset ${asset}`);
  return a.decimals;
}

/**
 * The asset a fill's fee is charged in for one side of it (S5): the asset received on spot (base for the buyer,
 * quote for the seller), the quote (USDC) on perpetuals.
 */
export function feeAssetOf(m: MarketConfig, side: number): number {
  if (m.kind === MarketKind.Perpetual) return m.quoteAsset;
  return side === Side.Buy ? m.baseAsset : m.quoteAsset;
}
