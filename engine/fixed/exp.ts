// e^x for fixed-point x by an integer algorithm, correctly rounded in the requested direction.
//
// Method: interval arithmetic at a working scale S = 10^W. For t = |x| the argument is halved m times
// (r = t / 2^m <= 1/16), e^r is bracketed by a Taylor series whose every term is bracketed by floor/ceil and whose
// tail is bounded, then the bracket is squared m times (e^t = (e^r)^(2^m)); for x < 0 the bracket is inverted.
// If the bracket does not settle the result at half-ulp resolution, W grows and it runs again (Ziv's strategy).
// The result is exact floor/ceil/nearest: for x != 0, e^x is transcendental (Lindemann), so it never lies on the
// (rational) grid or half-grid, and a retry always helps eventually. Hence for x != 0 Up = Down + 1 and HalfEven
// has no ties. Needing more than ATTEMPTS_MAX (e^x within ~1e-130 of a half-ulp point) would be an assertion.
//
// Input bound: |x| <= EXP_ABS_WHOLE_MAX whole units (e^100 ~ 2.7e43), else RangeError.

import { checkDecimals, pow10, Rounding } from "./types.ts";

/** Largest |x| (in whole units) accepted by expFixed. */
export const EXP_ABS_WHOLE_MAX = 100;

/** Digits beyond the output scale and the integer digits of e^|x|; covers the 2^m error growth of squaring. */
const GUARD_DIGITS = 30;
const RETRY_EXTRA_DIGITS = 20;
const ATTEMPTS_MAX = 6;

/** Largest r = t / 2^m is 1/16 (denominator exponent), so the Taylor ratio r / (k + 1) stays <= 1/2. */
const REDUCED_LOG2_INV = 4;

/** A bracket lo <= e^x * 10^(decimals + extra) <= hi, written by expBracket. */
export interface ExpBracket {
  lo: bigint;
  hi: bigint;
}

/** Smallest m with |x| / 2^m <= 2^-REDUCED_LOG2_INV (x at scale 10^decimals). */
function halvings(t: bigint, scale: bigint): number {
  let m = 0;
  while (t << BigInt(REDUCED_LOG2_INV) > scale << BigInt(m)) m++;
  return m;
}

/**
 * Brackets e^x at the working scale 10^(decimals + extraDigits), extraDigits >= 1. Every rounding inside goes
 * outward, so the bracket holds at any precision (it only gets wider when extraDigits is small). Exported for the
 * tests, which check that a low-precision bracket contains a high-precision one.
 */
export function expBracket(x: bigint, decimals: number, extraDigits: number, out: ExpBracket): void {
  const scale = pow10(decimals);
  const t = x < 0n ? -x : x;
  const m = halvings(t, scale);
  const s = pow10(decimals + extraDigits);
  // r = t / 2^m at scale s, bracketed.
  const rNum = t * pow10(extraDigits);
  const den = 1n << BigInt(m);
  const rLo = rNum / den;
  const rHi = rLo * den === rNum ? rLo : rLo + 1n;

  // Taylor: sum of r^k / k!, terms bracketed; stop once the upper term is <= 1 unit of s, then add that term
  // again as the tail bound (tail <= term_k * sum (1/2)^i = term_k since r / (k + 1) <= 1/2).
  let termLo = s;
  let termHi = s;
  let sumLo = s;
  let sumHi = s;
  for (let k = 1n; ; k++) {
    const dk = s * k;
    termLo = (termLo * rLo) / dk;
    const num = termHi * rHi;
    const q = num / dk;
    termHi = q * dk === num ? q : q + 1n;
    sumLo += termLo;
    sumHi += termHi;
    if (termHi <= 1n) break;
  }
  sumHi += termHi;

  // Square m times: e^t = (e^r)^(2^m).
  let lo = sumLo;
  let hi = sumHi;
  for (let i = 0; i < m; i++) {
    lo = (lo * lo) / s;
    const sq = hi * hi;
    const q = sq / s;
    hi = q * s === sq ? q : q + 1n;
  }

  if (x < 0n) {
    // e^x = 1 / e^t: the lower bound comes from the upper one and vice versa (lo >= s > 0).
    const ss = s * s;
    const newLo = ss / hi;
    const q = ss / lo;
    hi = q * lo === ss ? q : q + 1n;
    lo = newLo;
  }
  out.lo = lo;
  out.hi = hi;
}

const bracket: ExpBracket = { lo: 0n, hi: 0n };

export function expFixed(x: bigint, decimals: number, rounding: Rounding): bigint {
  checkDecimals("expFixed", decimals);
  if (rounding !== Rounding.Down && rounding !== Rounding.Up && rounding !== Rounding.HalfEven) {
    throw new RangeError(`expFixed: unknown rounding ${rounding as number}`);
  }
  const scale = pow10(decimals);
  const t = x < 0n ? -x : x;
  if (t > BigInt(EXP_ABS_WHOLE_MAX) * scale) {
    throw new RangeError(`expFixed: |x| must be at most ${EXP_ABS_WHOLE_MAX} whole units, got ${x} at ${decimals} decimals`);
  }
  if (x === 0n) return scale;

  // Integer digits of e^t are at most floor((floor(t) + 1) * 0.4343) + 1 (log10(e) < 0.4343); m <= 11 squarings
  // multiply the relative error by at most 2^11 < 10^4. A short guess only costs a retry.
  const resultIntDigits = Number((((t / scale) + 1n) * 4343n) / 10000n) + 1;
  let extra = resultIntDigits + GUARD_DIGITS + 4;
  for (let attempt = 0; attempt < ATTEMPTS_MAX; attempt++, extra += RETRY_EXTRA_DIGITS) {
    expBracket(x, decimals, extra, bracket);
    // Settle floor(2 * e^x * 10^decimals): it gives floor and the half-ulp side at once.
    const halfUnit = pow10(extra) / 2n; // extra >= 1: exact
    const hLo = bracket.lo / halfUnit;
    const hHi = bracket.hi / halfUnit;
    if (hLo !== hHi) continue;
    const floor = hLo >> 1n;
    if (rounding === Rounding.Down) return floor;
    if (rounding === Rounding.Up) return floor + 1n;
    return (hLo & 1n) === 0n ? floor : floor + 1n;
  }
  throw new Error(`expFixed: bracket did not settle after ${ATTEMPTS_MAX} attempts for x=${x} at ${decimals} decimals`);
}
