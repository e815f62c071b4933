// Decimal text <-> fixed-point bigint: the strict canonical parser and the shortest formatter.
//
// Accepted grammar (nothing else): `-?(0|[1-9][0-9]*)(\.[0-9]+)?`, at most DECIMAL_TEXT_LENGTH_MAX characters,
// at most `decimals` fraction digits (any digit beyond the scale is refused, even a zero: input must fit the scale
// exactly, so that "1.230" at 2 decimals is an error rather than a silent truncation), "-" only when negatives are
// allowed and never on zero, no "+", no exponent, no whitespace, no leading zeros, a digit on both sides of '.'.
// Trailing zeros within the scale ("1.50" at 2 decimals) are accepted: they are exact.

import { checkDecimals, pow10 } from "./types.ts";

/** Longest text parseDecimal reads; bounds the work done on untrusted input. */
export const DECIMAL_TEXT_LENGTH_MAX = 40;

export class DecimalFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DecimalFormatError";
  }
}

const CH_0 = 48;
const CH_9 = 57;
const CH_DOT = 46;
const CH_MINUS = 45;
const CH_PLUS = 43;

function quote(text: string): string {
  return JSON.stringify(text);
}

function isDigit(c: number): boolean {
  return c >= CH_0 && c <= CH_9;
}

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0xfeff || c === 0x2028 || c === 0x2029;
}

/** Names what is wrong with a character that the grammar does not allow at index i. */
function describeBadChar(text: string, i: number): string {
  const c = text.charCodeAt(i);
  if (isSpace(c)) return `whitespace not allowed: ${quote(text)}`;
  if (c === 101 || c === 69) return `exponent notation not allowed: ${quote(text)}`;
  if (c === CH_PLUS) return `plus sign not allowed: ${quote(text)}`;
  if (c === CH_MINUS) return `misplaced minus sign: ${quote(text)}`;
  if (c === CH_DOT) return `more than one '.': ${quote(text)}`;
  return `unexpected character ${quote(text.charAt(i))} at position ${i}: ${quote(text)}`;
}

/** What is wrong with the text as a whole (empty, too long, NaN or an infinity), or null. */
function wholeTextProblem(text: string): string | null {
  const len = text.length;
  if (len === 0) return "empty string is not a decimal";
  if (len > DECIMAL_TEXT_LENGTH_MAX) {
    return `too long: ${len} characters, at most ${DECIMAL_TEXT_LENGTH_MAX} allowed: ${quote(text.slice(0, DECIMAL_TEXT_LENGTH_MAX))}...`;
  }
  if (text === "NaN" || text === "Infinity" || text === "-Infinity" || text === "+Infinity") return `not a finite number: ${quote(text)}`;
  return null;
}

/**
 * What is wrong with the scanned digit groups (integer digits [intStart, intEnd), fraction digits [fracStart, fracEnd),
 * a '.' between them when fracStart !== intEnd): a missing digit before or after the '.', a leading zero; or null.
 */
function digitGroupsProblem(text: string, intStart: number, intEnd: number, fracStart: number, fracEnd: number): string | null {
  const hasDot = fracStart !== intEnd;
  if (intEnd === intStart) return hasDot ? `missing digit before '.': ${quote(text)}` : `no digits: ${quote(text)}`;
  if (hasDot && fracEnd === fracStart) return `missing digit after '.': ${quote(text)}`;
  if (intEnd - intStart > 1 && text.charCodeAt(intStart) === CH_0) return `leading zero not allowed: ${quote(text)}`;
  return null;
}

/**
 * Parses a canonical decimal into units of 10^-decimals. On bad input returns null and sets error.message
 * (naming the problem and the input); never throws for input, only for a bad `decimals` argument.
 */
export function tryParseDecimal(
  text: string,
  decimals: number,
  allowNegative: boolean,
  error: { message: string },
): bigint | null {
  checkDecimals("tryParseDecimal", decimals);
  const textProblem = wholeTextProblem(text);
  if (textProblem !== null) {
    error.message = textProblem;
    return null;
  }
  const len = text.length;
  let i = 0;
  let negative = false;
  const first = text.charCodeAt(0);
  if (first === CH_MINUS) {
    negative = true;
    i = 1;
  } else if (first === CH_PLUS) {
    error.message = `plus sign not allowed: ${quote(text)}`;
    return null;
  }
  const intStart = i;
  while (i < len && isDigit(text.charCodeAt(i))) i++;
  const intEnd = i;
  let fracStart = i;
  let fracEnd = i;
  if (i < len && text.charCodeAt(i) === CH_DOT) {
    i++;
    fracStart = i;
    while (i < len && isDigit(text.charCodeAt(i))) i++;
    fracEnd = i;
  }
  if (i < len) {
    error.message = describeBadChar(text, i);
    return null;
  }
  const digitsProblem = digitGroupsProblem(text, intStart, intEnd, fracStart, fracEnd);
  if (digitsProblem !== null) {
    error.message = digitsProblem;
    return null;
  }
  const fracDigits = fracEnd - fracStart;
  if (fracDigits > decimals) {
    error.message = `over-scale: ${quote(text)} has ${fracDigits} decimals, at most ${decimals} allowed`;
    return null;
  }
  if (negative && !allowNegative) {
    error.message = `negative value not allowed: ${quote(text)}`;
    return null;
  }
  // Digits only (validated above), so BigInt cannot throw here.
  const whole = BigInt(text.slice(intStart, intEnd));
  const frac = fracDigits === 0 ? 0n : BigInt(text.slice(fracStart, fracEnd)) * pow10(decimals - fracDigits);
  const magnitude = whole * pow10(decimals) + frac;
  if (negative && magnitude === 0n) {
    error.message = `negative zero not allowed: ${quote(text)}`;
    return null;
  }
  return negative ? -magnitude : magnitude;
}

/** parseDecimal's throwing form: returns units of 10^-decimals or throws DecimalFormatError. */
export function parseDecimal(text: string, decimals: number, allowNegative = false): bigint {
  const error = { message: "" };
  const value = tryParseDecimal(text, decimals, allowNegative, error);
  if (value === null) throw new DecimalFormatError(error.message);
  return value;
}

/** Canonical shortest text of value / 10^decimals: "0", "2", "1.5", "-0.001" (no trailing fraction zeros). */
export function formatDecimal(value: bigint, decimals: number): string {
  checkDecimals("formatDecimal", decimals);
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString();
  let text: string;
  if (decimals === 0) {
    text = digits;
  } else {
    const padded = digits.length > decimals ? digits : "0".repeat(decimals + 1 - digits.length) + digits;
    const cut = padded.length - decimals;
    let end = padded.length;
    while (end > cut && padded.charCodeAt(end - 1) === CH_0) end--;
    text = end === cut ? padded.slice(0, cut) : `${padded.slice(0, cut)}.${padded.slice(cut, end)}`;
  }
  return negative ? `-${text}` : text;
}
