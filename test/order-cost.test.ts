// engine/risk/order-cost.ts: S1's hold of a limit buy, ceil(quantity × price / 10^k), certified in doubles — always
// the bigint ceiling (divRound … Up), or −1 for the caller to divide in bigints.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { divRound, quoteAmount, Rounding } from "../engine/fixed/index.ts";
import { ceilProductByPow10 } from "../engine/risk/order-cost.ts";

const { Up } = Rounding;

describe("ceilProductByPow10 (S1: a limit buy's hold in doubles)", () => {
  const ceilExact = (q: bigint, p: bigint, k: number): bigint => divRound(q * p, 10n ** BigInt(k), Up);
  const TWO53 = 1n << 53n;

  it("S1: the hold of a buy of the pipeline's BTC_USDC orders takes the double path, exactly", () => {
    // 0.001–0.01 BTC (8 decimals) at $59,250–$60,750 (9 price decimals), USDC 6 decimals: ÷ 10^11.
    expect(ceilProductByPow10(100_000n, 60_000_000_000_000n, 11)).toBe(60_000_000);
    expect(ceilProductByPow10(1_000_000n, 59_250_000_000_000n, 11)).toBe(592_500_000);
    expect(ceilProductByPow10(1n, 50_000_123_456_789n, 11)).toBe(501);
    expect(ceilProductByPow10(12_345_678n, 61_234_567_890_000n, 11)).toBe(7_559_822_577);
    expect(quoteAmount(12_345_678n, 61_234_567_890_000n, 8, 6, Up)).toBe(7_559_822_577n);
    expect(ceilProductByPow10(0n, 61_234_567_890_000n, 11)).toBe(0);
    expect(Object.is(ceilProductByPow10(0n, 0n, 11), 0)).toBe(true);
  });

  it("declines (−1) operands outside [0, 2^53), divisors outside 10^1…10^14 and quotients of 2^48 or more", () => {
    expect(ceilProductByPow10(-1n, 5n, 1)).toBe(-1);
    expect(ceilProductByPow10(5n, -1n, 1)).toBe(-1);
    expect(ceilProductByPow10(TWO53, 5n, 1)).toBe(-1);
    expect(ceilProductByPow10(5n, TWO53 + (1n << 64n), 1)).toBe(-1); // int64 words alone would alias 2^53
    expect(ceilProductByPow10(5n, -(1n << 64n) + 7n, 1)).toBe(-1); // …and this one 7
    expect(ceilProductByPow10(TWO53 - 1n, TWO53 - 1n, 14)).toBe(-1);
    expect(ceilProductByPow10(5n, 7n, 0)).toBe(-1);
    expect(ceilProductByPow10(5n, 7n, 15)).toBe(-1);
  });

  it("property: equals the bigint ceiling wherever it answers, on random operands and near-integer quotients", () => {
    const k = fc.integer({ min: 1, max: 14 });
    const operand = fc.oneof(fc.bigInt({ min: 0n, max: TWO53 - 1n }), fc.bigInt({ min: 0n, max: 1n << 32n }), fc.bigInt({ min: 0n, max: 1_000_000n }));
    fc.assert(
      fc.property(operand, operand, k, (q, p, digits) => {
        const c = ceilProductByPow10(q, p, digits);
        if (c >= 0) expect(BigInt(c)).toBe(ceilExact(q, p, digits));
        if ((q * p) / 10n ** BigInt(digits) < 1n << 47n) expect(c).not.toBe(-1); // well below 2^48: always answered
      }),
      { numRuns: 20_000 },
    );
    // q·p = n·10^k + e for e in [−3, 3]: the quotient within a hair of an integer, where the doubles cannot tell.
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 1n << 40n }), fc.bigInt({ min: 0n, max: 1n << 47n }), k, fc.integer({ min: -3, max: 3 }), (q, n, digits, e) => {
        const d = 10n ** BigInt(digits);
        const p = (n * d) / q + BigInt(e);
        if (p < 0n || p >= TWO53) return;
        const c = ceilProductByPow10(q, p, digits);
        if (c >= 0) expect(BigInt(c)).toBe(ceilExact(q, p, digits));
      }),
      { numRuns: 20_000 },
    );
  });

  it("equals the bigint ceiling for every order of the BTC_USDC grid (0.001-step quantities, $1 prices)", () => {
    let taken = 0;
    for (let lots = 1n; lots <= 1000n; lots += 7n) {
      for (let dollars = 1n; dollars <= 200_000n; dollars += 997n) {
        const q = lots * 100_000n + (lots % 3n);
        const p = dollars * 1_000_000_000n + (dollars % 5n);
        const c = ceilProductByPow10(q, p, 11);
        expect(BigInt(c)).toBe(ceilExact(q, p, 11));
        taken++;
      }
    }
    expect(taken).toBe(143 * 201);
  });
});
