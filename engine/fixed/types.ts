// Fixed-point vocabulary: documentation aliases for scaled bigints, the rounding modes, and powers of ten.
//
// Amount: asset units (10^decimals per whole unit). Price: PRICE_DECIMALS. Ratio: RATIO_DECIMALS.
// The aliases are plain bigint (not branded) so that hot paths pay nothing; names carry the scale.

export type Amount = bigint;
export type Price = bigint;
export type Ratio = bigint;

/** Direction of every division: Down = floor (toward -inf), Up = ceil (toward +inf), HalfEven = nearest, ties to even. */
export const Rounding = { Down: 0, Up: 1, HalfEven: 2 } as const;
export type Rounding = 0 | 1 | 2;

/** Largest scale accepted by the public functions (decimals arguments); a bound on work, far above any asset. */
export const DECIMALS_MAX = 36;

const POW10_CACHED = 160;
const POW10: bigint[] = [];
for (let i = 0, p = 1n; i <= POW10_CACHED; i++, p *= 10n) POW10.push(p);

/** 10^n for an integer n >= 0 (table lookup up to 160). */
export function pow10(n: number): bigint {
  const p = POW10[n];
  if (p !== undefined) return p;
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`pow10: exponent must be a non-negative integer, got ${n}`);
  return 10n ** BigInt(n);
}

/** Throws unless decimals is an integer in [0, DECIMALS_MAX]; a wrong scale is a programming error, not input. */
export function checkDecimals(fn: string, decimals: number): void {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > DECIMALS_MAX) {
    throw new RangeError(`${fn}: decimals must be an integer in [0, ${DECIMALS_MAX}], got ${decimals}`);
  }
}
