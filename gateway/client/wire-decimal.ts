// Client-side conversion between decimal text ("50000.5") and the wire Decimal (mantissa, scale), exact both ways.
// The int64 bounds are the engine vocabulary's (engine/model is pure: no I/O, no builtins), so the SDK and the
// server check one definition.
import { INT64_MAX, INT64_MIN } from "../../engine/model/index.ts";

const DECIMAL_TEXT = /^(-?)(\d+)(?:\.(\d+))?$/;
/** A wire scale is a ubyte; anything finer than this is no amount any asset has. */
const SCALE_MAX = 38;

export class WireDecimalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WireDecimalError";
  }
}

export interface WireDecimal {
  readonly mantissa: bigint;
  readonly scale: number;
}

/**
 * Parses plain decimal text (digits, optional '-', optional fraction; no exponent, no '+', no spaces) into the
 * smallest-scale wire Decimal: trailing fractional zeros are dropped ("0.100" → 1 / 10^1), so a value that fits the
 * asset's decimals is never refused as over-scale because of how it was written.
 */
export function parseWireDecimal(text: string, field: string): WireDecimal {
  const match = DECIMAL_TEXT.exec(text);
  if (match === null) throw new WireDecimalError(`${field}: "${text}" is not a plain decimal number`);
  const negative = match[1] === "-";
  const fraction = (match[3] ?? "").replace(/0+$/, "");
  if (fraction.length > SCALE_MAX) {
    throw new WireDecimalError(`${field}: "${text}" has more than ${SCALE_MAX} decimal places`);
  }
  const digits = BigInt(match[2]! + fraction);
  const mantissa = negative ? -digits : digits;
  if (mantissa < INT64_MIN || mantissa > INT64_MAX) {
    throw new WireDecimalError(`${field}: "${text}" does not fit a 64-bit mantissa`);
  }
  return { mantissa, scale: fraction.length };
}

/** Canonical text of mantissa / 10^scale: no trailing fractional zeros, no exponent ("1.5", "2", "-0.001"). */
export function formatWireDecimal(mantissa: bigint, scale: number): string {
  const negative = mantissa < 0n;
  let digits = (negative ? -mantissa : mantissa).toString();
  if (scale > 0) {
    if (digits.length <= scale) digits = "0".repeat(scale - digits.length + 1) + digits;
    const whole = digits.slice(0, digits.length - scale);
    const fraction = digits.slice(digits.length - scale).replace(/0+$/, "");
    digits = fraction.length > 0 ? `${whole}.${fraction}` : whole;
  }
  return negative && digits !== "0" ? `-${digits}` : digits;
}
