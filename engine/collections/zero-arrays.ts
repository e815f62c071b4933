// Small zero arrays of an account's state (risk/accounts.ts, risk/margin/slots.ts): copy-on-write bigint literals and
// plain flag arrays, the cheapest forms V8 has for a few entries of each of 100,000s of accounts.

/**
 * A fresh array of n zero bigints. Up to 8 it is an array literal of constants: V8 gives it the literal's
 * copy-on-write backing store, so an array that stays zero costs its header only, and the first write copies it (an
 * account's own slot arrays, a margin state's; an account's slot arrays that stay zero share one array instead:
 * sharedZeroBigints).
 */
export function zeroBigints(n: number): bigint[] {
  switch (n) {
    case 1: return [0n];
    case 2: return [0n, 0n];
    case 3: return [0n, 0n, 0n];
    case 4: return [0n, 0n, 0n, 0n];
    case 5: return [0n, 0n, 0n, 0n, 0n];
    case 6: return [0n, 0n, 0n, 0n, 0n, 0n];
    case 7: return [0n, 0n, 0n, 0n, 0n, 0n, 0n];
    case 8: return [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n];
    default: return new Array<bigint>(n).fill(0n);
  }
}

const SHARED_ZERO_BIGINTS: (readonly bigint[] | undefined)[] = [];

/**
 * n zero bigints shared by every caller and frozen (a write throws): the value of an account's slot array that no
 * write has reached yet. A restore makes 100,000s of accounts at once, most of whose lent, borrowed, locked and
 * open-order terms are all zero: one shared array instead of one array header each (X7 restart, engine.ts). The
 * owner swaps in its own array (ownBigints) before its first write.
 */
export function sharedZeroBigints(n: number): readonly bigint[] {
  return SHARED_ZERO_BIGINTS[n] ?? (SHARED_ZERO_BIGINTS[n] = Object.freeze(zeroBigints(n)));
}

/** Is `slots` the shared zero array (sharedZeroBigints), which must be replaced, not written? */
export function isSharedZeroBigints(slots: readonly bigint[]): boolean {
  return slots === SHARED_ZERO_BIGINTS[slots.length];
}

/**
 * n zero flags or small counts (0…2^30) as a plain array: a Uint8Array / Uint16Array of a few entries costs its view,
 * an ArrayBuffer and a backing store (~200–300 bytes on the heap, perp.realize-100k's heap snapshot), this ~90.
 */
export function zeroFlags(n: number): number[] {
  return new Array<number>(n).fill(0);
}
