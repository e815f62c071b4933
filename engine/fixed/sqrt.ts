// Integer square roots: isqrt (floor) and sqrtFixed (square root of a fixed-point value in the same scale).

import { checkDecimals, pow10, Rounding } from "./types.ts";

/** Number of bits of n > 0, found by doubling then halving shifts (no string conversion, no float). */
function bitLength(n: bigint): number {
  let bits = 0;
  let step = 64;
  while (n >> BigInt(bits + step) > 0n) {
    bits += step;
    step *= 2;
  }
  // n < 2^(bits + step): binary search the remaining step.
  while (step > 1) {
    step >>= 1;
    if (n >> BigInt(bits + step) > 0n) bits += step;
  }
  return bits + 1;
}

/** Below this n, Number(n) is finite and its square root is a start within a relative 2^-50 of sqrt(n). */
const FLOAT_SEED_LIMIT = 1n << 1000n;

/**
 * floor(sqrt(n)) for n >= 0, exact for any size (Newton's method from above). The start is the double square root
 * raised by a relative 2^-48 (Number(n) and the double root each err by at most 2^-53 relatively), so it is ≥ sqrt(n) and
 * the iterates decrease monotonically to floor(sqrt(n)) in one to three divisions; the float only picks the start,
 * the answer is the integer iteration's. Above 2^1000 the start is 2^ceil(bits/2).
 */
export function isqrt(n: bigint): bigint {
  if (n < 0n) throw new RangeError(`isqrt: argument must be non-negative, got ${n}`);
  if (n < 2n) return n;
  let x = n < FLOAT_SEED_LIMIT
    ? BigInt(Math.ceil(Math.sqrt(Number(n)) * (1 + 2 ** -48))) + 1n // FLOAT-START: only the start; the result is the integer iteration's
    : 1n << BigInt((bitLength(n) + 1) >> 1);
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

/**
 * sqrt(x) for x >= 0 at scale 10^decimals, result at the same scale: the root of the integer x * 10^decimals,
 * rounded as asked (HalfEven has no ties: an integer's square root is never a half-integer).
 */
export function sqrtFixed(x: bigint, decimals: number, rounding: Rounding): bigint {
  checkDecimals("sqrtFixed", decimals);
  if (x < 0n) throw new RangeError(`sqrtFixed: argument must be non-negative, got ${x}`);
  const m = x * pow10(decimals);
  const r = isqrt(m);
  const excess = m - r * r; // in [0, 2r]
  if (rounding === Rounding.Down) return r;
  if (rounding === Rounding.Up) return excess === 0n ? r : r + 1n;
  if (rounding !== Rounding.HalfEven) throw new RangeError(`sqrtFixed: unknown rounding ${rounding as number}`);
  // sqrt(m) > r + 1/2  <=>  m > r^2 + r + 1/4  <=>  m - r^2 > r (integers).
  return excess > r ? r + 1n : r;
}
