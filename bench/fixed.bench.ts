// Micro-benchmarks of engine/fixed: the per-trade products (mulDiv, quoteAmount), sqrt (margin functions),
// exp (L3 rate curve) and decimal parsing. Operands come from preallocated arrays filled by a seeded generator,
// so nothing is constant-folded and every run sees the same inputs.

import {
  expFixed,
  formatDecimal,
  mulDiv,
  parseDecimal,
  quoteAmount,
  Rounding,
  sqrtFixed,
} from "../engine/fixed/index.ts";
import type { BenchDef } from "./harness.ts";

const N = 1024; // operands per call; a power of two so the index wraps with a mask
const MASK = N - 1;

/** xorshift32, seeded: deterministic operands without Math.random. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** Uniform-ish bigint with about `bits` bits (top bit not forced). */
function randomBits(next: () => number, bits: number): bigint {
  let v = 0n;
  for (let b = 0; b < bits; b += 32) v = (v << 32n) | BigInt(next());
  return v & ((1n << BigInt(bits)) - 1n);
}

const next = rng(0x5eed);
const mulA = new Array<bigint>(N);
const mulB = new Array<bigint>(N);
const mulD = new Array<bigint>(N);
const qty = new Array<bigint>(N);
const price = new Array<bigint>(N);
const sqrtX = new Array<bigint>(N);
const expX = new Array<bigint>(N);
const decimalText = new Array<string>(N);
for (let i = 0; i < N; i++) {
  mulA[i] = randomBits(next, 63) + 1n; // quantity-sized
  mulB[i] = randomBits(next, 50) + 1n; // price-sized
  mulD[i] = randomBits(next, 40) + 1n; // divisor, so the quotient is ~73 bits
  qty[i] = randomBits(next, 40) + 1n; // up to ~10^4 BTC in satoshis
  price[i] = randomBits(next, 47) + 1n; // up to ~140k quote per base at 1e9
  sqrtX[i] = randomBits(next, 70); // USD notional up to ~10^12 at 1e9
  expX[i] = randomBits(next, 62) % 5_000_000_000_000_000_001n; // k*x in [0, 5] at 1e18 (L3 curve)
  decimalText[i] = formatDecimal(randomBits(next, 56), 9);
}

let sinkBig = 0n;
let sinkIndex = 0;

export const benchmarks: BenchDef[] = [
  {
    id: "fixed.muldiv",
    kind: "tinybench",
    notes: "mulDiv(a<2^63, b<2^50, d<2^40, Down), 1024 operand triples per call",
    opsPerCall: N,
    fn: () => {
      let acc = 0n;
      for (let i = 0; i < N; i++) acc ^= mulDiv(mulA[i]!, mulB[i]!, mulD[i]!, Rounding.Down);
      sinkBig ^= acc;
    },
  },
  {
    id: "fixed.quote",
    kind: "tinybench",
    notes: "quoteAmount(qty<2^40, price<2^47, 8, 6, Down): the trade quote amount (BTC/USDC scales)",
    opsPerCall: N,
    fn: () => {
      let acc = 0n;
      for (let i = 0; i < N; i++) acc ^= quoteAmount(qty[i]!, price[i]!, 8, 6, Rounding.Down);
      sinkBig ^= acc;
    },
  },
  {
    id: "fixed.sqrt",
    kind: "tinybench",
    notes: "sqrtFixed(x<2^70, 9, Up): sqrt of a USD notional for the IMF/MMF functions",
    opsPerCall: 64,
    fn: () => {
      let acc = 0n;
      const base = sinkIndex;
      for (let i = 0; i < 64; i++) acc ^= sqrtFixed(sqrtX[(base + i) & MASK]!, 9, Rounding.Up);
      sinkIndex = (base + 64) & MASK;
      sinkBig ^= acc;
    },
  },
  {
    id: "fixed.exp",
    kind: "tinybench",
    notes: "expFixed(x in [0,5], 18, Down): the L3 rate-curve term e^(k·x)",
    fn: () => {
      const i = sinkIndex;
      sinkBig ^= expFixed(expX[i]!, 18, Rounding.Down);
      sinkIndex = (i + 1) & MASK;
    },
  },
  {
    id: "fixed.parse",
    kind: "tinybench",
    notes: "parseDecimal of ~17-digit texts at 9 decimals",
    opsPerCall: 64,
    fn: () => {
      let acc = 0n;
      const base = sinkIndex;
      for (let i = 0; i < 64; i++) acc ^= parseDecimal(decimalText[(base + i) & MASK]!, 9);
      sinkIndex = (base + 64) & MASK;
      sinkBig ^= acc;
    },
  },
];

/** Keeps the sinks observable so the loops cannot be dropped as dead code. */
export function benchSink(): bigint {
  return sinkBig + BigInt(sinkIndex);
}
