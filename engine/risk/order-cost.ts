// S1: the quote a limit buy holds, ceil(quantity × price / 10^k) (k = base decimals + PRICE_DECIMALS − quote decimals),
// found in doubles where that is certified exact, so that the commonest order costs no bigint long division.
//
// Why: quoteAmount(…, Rounding.Up) makes five bigints (the product, the quotient, q·d, the remainder, q + 1) and a
// long division, ~120–150 ns of every buy and every move of a buy (pipeline.excore-mix: about half its commands).
// For q, p < 2^53 and d = 10^k < 2^47 the quotient T = q·p / d is found in doubles: x = fl(fl(q·p) / d) is within
// T·2^-52 of T, so with δ = x·2^-50 (and x < 2^48, so δ < 1/4) c = ceil(x − δ) satisfies c − 1 < T < c + 1. Which
// of c and c + 1 is ceil(T) is the sign of r = q·p − c·d, and |r| < d < 2^47: r is computed exactly modulo 2^48
// (mulMod48: 24-bit limbs, every partial product below 2^53) and read back in (−2^47, 2^47]; r ≤ 0 gives c, else
// c + 1. Outside those ranges (and for k ≤ 0 or k > 14) it answers −1 and the caller takes the bigint path.
// test/order-cost.test.ts compares both on random operands, near-integer quotients and the whole BTC_USDC grid.
// (engine/fixed stays free of floats: this is a certificate beside it, as margin/fill-bound.ts is for C8.)

/** Powers of ten below 2^47 as doubles (exact), by exponent. */
const POW10_NUMBER: readonly number[] = Array.from({ length: 15 }, (_, k) => 10 ** k);
const DIVISOR_DIGITS_MAX = 14;
const OPERAND_MAX = (1n << 53n) - 1n;
const TWO24 = 16_777_216;
const TWO48 = TWO24 * TWO24;
const TWO47 = TWO48 / 2;
/** Exact reciprocals (powers of two): a product by one is the exact quotient. */
const INV_TWO24 = 1 / TWO24;
const INV_TWO48 = 1 / TWO48;
/** 2^-50: the margin δ / x (see above). */
const QUOTIENT_MARGIN = 2 ** -50;
const QUOTIENT_MAX = TWO48;
/** Scratch: the operands' int64 words, read as doubles without a BigInt → Number call. */
const OPERANDS = new BigInt64Array(2);
const OPERAND_WORDS = new Uint32Array(OPERANDS.buffer);
const HIGH_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** a·b mod 2^48 for integers 0 ≤ a, b < 2^53, exact in doubles. */
function mulMod48(a: number, b: number): number {
  // FLOAT-EXACT: integers below 2^53 and products by powers of two only — every value here is exact, no rounding.
  const ah = Math.floor(a * INV_TWO24);
  const al = a - ah * TWO24;
  const am = ah - Math.floor(ah * INV_TWO24) * TWO24;
  const bh = Math.floor(b * INV_TWO24);
  const bl = b - bh * TWO24;
  const bm = bh - Math.floor(bh * INV_TWO24) * TWO24;
  const mid = al * bm + am * bl; // < 2^49
  const s = al * bl + (mid - Math.floor(mid * INV_TWO24) * TWO24) * TWO24; // < 2^49
  return s - Math.floor(s * INV_TWO48) * TWO48;
}

/**
 * ceil(q·p / 10^digits) as a double (exact), or −1 when q or p is outside [0, 2^53), digits outside [1, 14] or the
 * quotient 2^48 or more (the caller then divides in bigints).
 */
export function ceilProductByPow10(q: bigint, p: bigint, digits: number): number {
  if (digits < 1 || digits > DIVISOR_DIGITS_MAX) return -1;
  // Range first: the int64 words of a value outside it could alias one inside.
  if (q < 0n || q > OPERAND_MAX || p < 0n || p > OPERAND_MAX) return -1;
  const d = POW10_NUMBER[digits]!;
  OPERANDS[0] = q;
  OPERANDS[1] = p;
  const w = OPERAND_WORDS;
  const qn = w[HIGH_WORD]! * 4_294_967_296 + w[1 - HIGH_WORD]!;
  const pn = w[2 + HIGH_WORD]! * 4_294_967_296 + w[3 - HIGH_WORD]!;
  // FLOAT-ESTIMATE: x and c only bracket the quotient (c − 1 < T < c + 1); the exact remainder below decides.
  const x = (qn * pn) / d;
  if (!(x < QUOTIENT_MAX)) return -1;
  const c = Math.ceil(x - x * QUOTIENT_MARGIN);
  let r = mulMod48(qn, pn) - mulMod48(c, d);
  if (r > TWO47) r -= TWO48;
  else if (r <= -TWO47) r += TWO48;
  return r > 0 ? c + 1 : c + 0; // + 0: never −0
}
