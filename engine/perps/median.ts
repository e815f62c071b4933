// Medians of prices (P2 source price and index centre, P3 fallback (c)): exact integer rules, no allocation.
//
// Median of three: the middle value after sorting (ties are harmless: equal values are the same price).
// Median of n: the middle value for odd n; for even n the floor of the mean of the two middle values — the same
// choice as O4's active price (engine/matching activePrice: "the floor mean when two are present"), so the house has
// one median rule. Floor is exact for positive prices (truncation = floor) and never leaves [lower, upper middle].

import type { Price } from "../fixed/index.ts";

/** The middle of a, b, c. */
export function medianOfThree(a: Price, b: Price, c: Price): Price {
  const lo = a < b ? a : b;
  const hi = a < b ? b : a;
  return c < lo ? lo : c > hi ? hi : c;
}

/**
 * Median of values[0..count) (count ≥ 1), sorting that prefix of `values` in place (insertion sort: count is a
 * small, bounded number of oracle sources). Even count: floor((lower middle + upper middle) / 2).
 */
export function medianInPlace(values: Price[], count: number): Price {
  if (count < 1 || count > values.length) throw new RangeError(`medianInPlace: count must be in [1, ${values.length}], got ${count}`);
  for (let i = 1; i < count; i++) {
    const v = values[i]!;
    let j = i - 1;
    while (j >= 0 && values[j]! > v) {
      values[j + 1] = values[j]!;
      j--;
    }
    values[j + 1] = v;
  }
  const mid = count >> 1;
  if ((count & 1) === 1) return values[mid]!;
  const sum = values[mid - 1]! + values[mid]!;
  // Floor toward −∞ for any sign (bigint division truncates); prices are positive, where both agree.
  return sum >= 0n ? sum / 2n : -((-sum + 1n) / 2n);
}
