// engine/fixed: exact rounding directions, strict decimal text, integer sqrt and exp.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DecimalFormatError,
  divCeil,
  divFloor,
  divRound,
  EXP_ABS_WHOLE_MAX,
  expFixed,
  formatDecimal,
  isqrt,
  DECIMAL_TEXT_LENGTH_MAX,
  mulDiv,
  mulRatio,
  parseDecimal,
  PRICE_DECIMALS,
  PRICE_SCALE,
  quoteAmount,
  RATIO_DECIMALS,
  RATIO_SCALE,
  Rounding,
  sqrtFixed,
  tryParseDecimal,
} from "../engine/fixed/index.ts";
// Internal, for the bracket-soundness property only (the public face does not expose it).
import { expBracket, type ExpBracket } from "../engine/fixed/exp.ts";

const { Down, Up, HalfEven } = Rounding;
const BIG = 1n << 200n;
const bigIntArb = fc.bigInt({ min: -BIG, max: BIG });
const divisorArb = fc.oneof(fc.bigInt({ min: 1n, max: 1000n }), fc.bigInt({ min: 1n, max: BIG }));
const roundingArb = fc.constantFrom(Down, Up, HalfEven);

function abs(v: bigint): bigint {
  return v < 0n ? -v : v;
}

/** The defining inequalities of each rounding of n / d (d > 0). */
function expectRounded(n: bigint, d: bigint, rounding: Rounding, r: bigint): void {
  if (rounding === Down) {
    expect(r * d <= n && n < (r + 1n) * d).toBe(true);
  } else if (rounding === Up) {
    expect((r - 1n) * d < n && n <= r * d).toBe(true);
  } else {
    const diff2 = abs(n - r * d) * 2n;
    expect(diff2 <= d).toBe(true);
    if (diff2 === d) expect(r % 2n).toBe(0n); // tie: the even neighbour
  }
}

describe("scales", () => {
  it("re-exports the model's price and ratio scales", () => {
    expect(PRICE_DECIMALS).toBe(9);
    expect(PRICE_SCALE).toBe(10n ** 9n);
    expect(RATIO_DECIMALS).toBe(18);
    expect(RATIO_SCALE).toBe(10n ** 18n);
    expect(Rounding).toEqual({ Down: 0, Up: 1, HalfEven: 2 });
  });

  it("no float arithmetic in engine/fixed sources", () => {
    const dir = join(import.meta.dirname, "..", "engine", "fixed");
    const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) {
      // One exception, marked FLOAT-START: isqrt's Newton start (any start ≥ sqrt(n) gives the exact floor; the
      // "exact beside every square" test below proves the start is never below it).
      const lines = readFileSync(join(dir, f), "utf8").split("\n");
      const src = lines.filter((l) => !(f === "sqrt.ts" && l.includes("// FLOAT-START:"))).join("\n");
      expect(`${f}: ${/\bMath\.|parseFloat|parseInt|toFixed|Number\.parseFloat/.test(src)}`).toBe(`${f}: false`);
    }
  });
});

describe("divRound", () => {
  it("rounds the table of signs and ties exactly", () => {
    const cases: [bigint, bigint, bigint, bigint, bigint][] = [
      // n, d, Down, Up, HalfEven
      [7n, 2n, 3n, 4n, 4n],
      [5n, 2n, 2n, 3n, 2n],
      [-5n, 2n, -3n, -2n, -2n],
      [-7n, 2n, -4n, -3n, -4n],
      [-1n, 3n, -1n, 0n, 0n],
      [-2n, 3n, -1n, 0n, -1n],
      [1n, 3n, 0n, 1n, 0n],
      [2n, 3n, 0n, 1n, 1n],
      [6n, 3n, 2n, 2n, 2n],
      [-6n, 3n, -2n, -2n, -2n],
      [0n, 5n, 0n, 0n, 0n],
      [15n, 10n, 1n, 2n, 2n],
      [25n, 10n, 2n, 3n, 2n],
      [-15n, 10n, -2n, -1n, -2n],
      [-25n, 10n, -3n, -2n, -2n],
    ];
    for (const [n, d, down, up, even] of cases) {
      expect([divRound(n, d, Down), divRound(n, d, Up), divRound(n, d, HalfEven)]).toEqual([down, up, even]);
    }
  });

  it("rejects a non-positive divisor", () => {
    expect(() => divRound(1n, 0n, Down)).toThrow(RangeError);
    expect(() => divRound(1n, -3n, Up)).toThrow("divisor must be positive");
  });

  it("property: every rounding satisfies its defining inequalities, for any sign and size", () => {
    fc.assert(
      fc.property(bigIntArb, divisorArb, roundingArb, (n, d, rounding) => {
        expectRounded(n, d, rounding, divRound(n, d, rounding));
      }),
      { numRuns: 2000 },
    );
  });

  it("property: Down <= HalfEven <= Up, Up - Down is 0 exactly when d divides n, else 1", () => {
    fc.assert(
      fc.property(bigIntArb, divisorArb, (n, d) => {
        const down = divRound(n, d, Down);
        const up = divRound(n, d, Up);
        const even = divRound(n, d, HalfEven);
        expect(down <= even && even <= up).toBe(true);
        expect(up - down).toBe(n % d === 0n ? 0n : 1n);
      }),
      { numRuns: 1000 },
    );
  });

  it("property: divCeil and divFloor (the hot paths' ceilings and floors) equal divRound Up and Down for any sign and size", () => {
    fc.assert(
      fc.property(bigIntArb, divisorArb, (n, d) => {
        expect([divCeil(n, d), divFloor(n, d)]).toEqual([divRound(n, d, Up), divRound(n, d, Down)]);
      }),
      { numRuns: 5000 },
    );
    expect([divCeil(7n, 2n), divCeil(-7n, 2n), divCeil(6n, 3n), divFloor(7n, 2n), divFloor(-7n, 2n), divFloor(0n, 5n)]).toEqual([4n, -3n, 2n, 3n, -4n, 0n]);
  });
});

describe("mulDiv / mulRatio / quoteAmount", () => {
  it("mulDiv rounds the exact product once", () => {
    const u64 = (1n << 64n) - 1n;
    expect(mulDiv(u64, u64, u64, Down)).toBe(u64);
    expect(mulDiv(u64, u64 - 1n, u64 - 2n, Down)).toBe(18446744073709551616n);
    expect(mulDiv(u64, u64 - 1n, u64 - 2n, Up)).toBe(18446744073709551617n);
    expect(mulDiv(-3n, 5n, 4n, Down)).toBe(-4n);
    expect(mulDiv(-3n, 5n, 4n, Up)).toBe(-3n);
    expect(mulDiv(-3n, 5n, 4n, HalfEven)).toBe(-4n);
    expect(mulDiv(3n, 5n, 2n, HalfEven)).toBe(8n); // 7.5 -> 8 (even)
    expect(mulDiv(3n, 3n, 2n, HalfEven)).toBe(4n); // 4.5 -> 4 (even)
  });

  it("property: mulDiv satisfies the rounding inequalities of a*b/d", () => {
    const operand = fc.bigInt({ min: -(1n << 100n), max: 1n << 100n });
    fc.assert(
      fc.property(operand, operand, divisorArb, roundingArb, (a, b, d, rounding) => {
        expectRounded(a * b, d, rounding, mulDiv(a, b, d, rounding));
      }),
      { numRuns: 1000 },
    );
  });

  it("mulRatio scales by a 1e18 ratio, rounding in the asked direction", () => {
    const half = RATIO_SCALE / 2n;
    expect(mulRatio(1001n, half, Down)).toBe(500n);
    expect(mulRatio(1001n, half, Up)).toBe(501n);
    expect(mulRatio(1001n, half, HalfEven)).toBe(500n); // 500.5 -> 500 (even)
    expect(mulRatio(1003n, half, HalfEven)).toBe(502n); // 501.5 -> 502 (even)
    expect(mulRatio(-1001n, half, Down)).toBe(-501n);
    expect(mulRatio(-1001n, half, Up)).toBe(-500n);
    expect(mulRatio(123_456_789n, RATIO_SCALE, Down)).toBe(123_456_789n);
    expect(mulRatio(10n ** 6n, 1n, Up)).toBe(1n); // a dust fee the exchange is owed still rounds up to 1 unit
    expect(mulRatio(10n ** 6n, 1n, Down)).toBe(0n);
  });

  it("quoteAmount: BTC(8)/USDC(6), one rounding of qty*price*10^6/(10^8*10^9)", () => {
    // 1 BTC at 50000.5 USDC = 50000.5 USDC.
    expect(quoteAmount(100_000_000n, 50_000_500_000_000n, 8, 6, Down)).toBe(50_000_500_000n);
    // 1 satoshi at 50000.123456789: 500.00123456789 micro-USDC.
    expect(quoteAmount(1n, 50_000_123_456_789n, 8, 6, Down)).toBe(500n);
    expect(quoteAmount(1n, 50_000_123_456_789n, 8, 6, Up)).toBe(501n);
    expect(quoteAmount(1n, 50_000_123_456_789n, 8, 6, HalfEven)).toBe(500n);
    // 0.12345678 BTC at 61234.56789 USDC = 7559.822576390... USDC.
    expect(quoteAmount(12_345_678n, 61_234_567_890_000n, 8, 6, Down)).toBe(7_559_822_576n);
    expect(quoteAmount(12_345_678n, 61_234_567_890_000n, 8, 6, Up)).toBe(7_559_822_577n);
  });

  it("quoteAmount: a quote scale above base + price scale multiplies exactly", () => {
    // base 0 decimals, quote 18: shift +9. 3 units at 1.5 = 4.5 whole = 4.5e18.
    expect(quoteAmount(3n, 1_500_000_000n, 0, 18, Down)).toBe(4_500_000_000_000_000_000n);
    expect(quoteAmount(3n, 1_500_000_000n, 0, 9, Up)).toBe(4_500_000_000n);
  });

  it("property: quoteAmount equals mulDiv by the defining formula", () => {
    const decimalsArb = fc.constantFrom(0, 6, 8, 9, 18);
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 1n << 70n }),
        fc.bigInt({ min: 0n, max: 1n << 60n }),
        decimalsArb,
        decimalsArb,
        roundingArb,
        (qty, price, baseDecimals, quoteDecimals, rounding) => {
          const num = qty * price * 10n ** BigInt(quoteDecimals);
          const den = 10n ** BigInt(baseDecimals) * PRICE_SCALE;
          expect(quoteAmount(qty, price, baseDecimals, quoteDecimals, rounding)).toBe(divRound(num, den, rounding));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("isqrt / sqrtFixed", () => {
  it("isqrt is exact on the first 5000 integers and at powers and squares", () => {
    let r = 0n;
    for (let n = 0n; n < 5000n; n++) {
      if ((r + 1n) * (r + 1n) <= n) r++;
      expect(isqrt(n)).toBe(r);
    }
    expect(isqrt(10n ** 100n)).toBe(10n ** 50n);
    expect(isqrt(10n ** 100n - 1n)).toBe(10n ** 50n - 1n);
    const big = (1n << 300n) + 12345n;
    expect(isqrt(big * big)).toBe(big);
    expect(isqrt(big * big - 1n)).toBe(big - 1n);
    expect(isqrt(big * big + 2n * big)).toBe(big);
    expect(() => isqrt(-1n)).toThrow(RangeError);
  });

  it("isqrt is exact beside every square where a double's root is inexact (the float start, 2^26 … 2^520)", () => {
    for (let bits = 26n; bits <= 520n; bits += 3n) {
      for (const k of [(1n << bits) - 1n, 1n << bits, (1n << bits) + 1n, (1n << bits) * 3n + 12_345n]) {
        expect(isqrt(k * k - 1n)).toBe(k - 1n);
        expect(isqrt(k * k)).toBe(k);
        expect(isqrt(k * k + 2n * k)).toBe(k);
        expect(isqrt(k * k + 2n * k + 1n)).toBe(k + 1n);
      }
    }
  });

  it("property: r*r <= n < (r+1)^2, for huge n", () => {
    fc.assert(
      fc.property(fc.oneof(fc.bigInt({ min: 0n, max: 1n << 64n }), fc.bigInt({ min: 0n, max: 1n << 1024n })), (n) => {
        const r = isqrt(n);
        expect(r * r <= n && n < (r + 1n) * (r + 1n)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("sqrtFixed: known roots at 18 and 9 decimals, exact squares unchanged by Up", () => {
    const two18 = 2n * 10n ** 18n;
    expect(sqrtFixed(two18, 18, Down)).toBe(1_414213562373095048n);
    expect(sqrtFixed(two18, 18, Up)).toBe(1_414213562373095049n);
    expect(sqrtFixed(two18, 18, HalfEven)).toBe(1_414213562373095049n); // 1.41421356237309504880...
    expect(sqrtFixed(3n * 10n ** 9n, 9, HalfEven)).toBe(1_732050808n); // 1.7320508075...
    expect(sqrtFixed(3n * 10n ** 9n, 9, Down)).toBe(1_732050807n);
    expect(sqrtFixed(2_250000000n, 9, Up)).toBe(1_500000000n); // sqrt(2.25) = 1.5 exactly
    expect(sqrtFixed(2_250000000n, 9, Down)).toBe(1_500000000n);
    expect(sqrtFixed(0n, 18, Up)).toBe(0n);
    expect(sqrtFixed(1n, 18, Down)).toBe(1_000000000n); // sqrt(1e-18) = 1e-9
    expect(sqrtFixed(1_000_000n, 0, Down)).toBe(1000n);
    expect(() => sqrtFixed(-1n, 9, Down)).toThrow(RangeError);
  });

  it("property: sqrtFixed brackets sqrt(x * 10^d) in each direction", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 200n }), fc.constantFrom(0, 6, 9, 18), (x, d) => {
        const m = x * 10n ** BigInt(d);
        const down = sqrtFixed(x, d, Down);
        const up = sqrtFixed(x, d, Up);
        const even = sqrtFixed(x, d, HalfEven);
        expect(down * down <= m && m < (down + 1n) * (down + 1n)).toBe(true);
        expect((up === 0n || (up - 1n) * (up - 1n) < m) && m <= up * up).toBe(true);
        // nearest: (2r-1)^2 < 4m < (2r+1)^2 (no ties between integers' roots and half-integers)
        expect(even === down || even === up).toBe(true);
        expect((2n * even - 1n) ** 2n < 4n * m || even === 0n).toBe(true);
        expect(4n * m < (2n * even + 1n) ** 2n).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("expFixed", () => {
  const E18 = 10n ** 18n;
  const p18 = (s: string): bigint => parseDecimal(s, 18, true);

  it("known values at 18 decimals (reference: correctly rounded 100-digit decimal exp)", () => {
    // x, floor(e^x), nearest(e^x)
    const cases: [string, string, string][] = [
      ["1", "2.718281828459045235", "2.718281828459045235"],
      ["5", "148.413159102576603421", "148.413159102576603421"],
      ["-1", "0.367879441171442321", "0.367879441171442322"],
      ["0.5", "1.648721270700128146", "1.648721270700128147"],
      ["2.5", "12.182493960703473438", "12.182493960703473438"],
      ["-7.25", "0.000710174388842549", "0.000710174388842549"],
      ["3.999999999999999999", "54.598150033144239023", "54.598150033144239024"],
      ["0.000000000000000001", "1.000000000000000001", "1.000000000000000001"],
      ["-36.999999999999999999", "0.000000000000000085", "0.000000000000000085"],
      [
        "100",
        "26881171418161354484126255515800135873611118.773741922415191608",
        "26881171418161354484126255515800135873611118.773741922415191609",
      ],
      ["-100", "0", "0"],
    ];
    for (const [x, floor, nearest] of cases) {
      const down = expFixed(p18(x), 18, Down);
      expect(`${x}: ${formatDecimal(down, 18)}`).toBe(`${x}: ${floor}`);
      expect(`${x}: ${formatDecimal(expFixed(p18(x), 18, HalfEven), 18)}`).toBe(`${x}: ${nearest}`);
      expect(expFixed(p18(x), 18, Up)).toBe(down + 1n);
    }
  });

  it("known values at other scales", () => {
    const cases: [number, string, string, string][] = [
      [0, "1", "2", "3"],
      [0, "-1", "0", "0"],
      [9, "0.5", "1.64872127", "1.648721271"],
      [9, "-3.141592653", "0.043213918", "0.043213918"],
      [6, "12.345678", "229963.987601", "229963.987601"],
      [36, "1", "2.718281828459045235360287471352662497", "2.718281828459045235360287471352662498"],
      [36, "-2.5", "0.082084998623898795169528674467159807", "0.082084998623898795169528674467159808"],
      [36, "0.000000000000000000000000000000000001", "1.000000000000000000000000000000000001", "1.000000000000000000000000000000000001"],
      [0, "100", "26881171418161354484126255515800135873611118", "26881171418161354484126255515800135873611119"],
    ];
    for (const [d, x, floor, nearest] of cases) {
      const v = parseDecimal(x, d, true);
      expect(`${d} ${x}: ${formatDecimal(expFixed(v, d, Down), d)}`).toBe(`${d} ${x}: ${floor}`);
      expect(`${d} ${x}: ${formatDecimal(expFixed(v, d, HalfEven), d)}`).toBe(`${d} ${x}: ${nearest}`);
    }
  });

  it("e^0 = 1 exactly in every direction and scale", () => {
    for (const d of [0, 6, 9, 18, 36]) {
      for (const r of [Down, Up, HalfEven] as const) expect(expFixed(0n, d, r)).toBe(10n ** BigInt(d));
    }
  });

  it(`bounds the input at |x| <= ${EXP_ABS_WHOLE_MAX} whole units`, () => {
    expect(EXP_ABS_WHOLE_MAX).toBe(100);
    expect(() => expFixed(100n * E18 + 1n, 18, Down)).toThrow(RangeError);
    expect(() => expFixed(-100n * E18 - 1n, 18, Up)).toThrow("at most 100 whole units");
    expect(() => expFixed(101n, 0, Down)).toThrow(RangeError);
    expect(expFixed(-100n * E18, 18, Up)).toBe(1n);
  });

  const xArb = fc.oneof(
    fc.bigInt({ min: -100n * E18, max: 100n * E18 }),
    fc.bigInt({ min: -5n * E18, max: 5n * E18 }),
    fc.bigInt({ min: -1000n, max: 1000n }),
  );

  it("property: Down <= HalfEven <= Up and Up - Down = 1 ulp (e^x is never on the grid for x != 0)", () => {
    fc.assert(
      fc.property(xArb, (x) => {
        const down = expFixed(x, 18, Down);
        const up = expFixed(x, 18, Up);
        const even = expFixed(x, 18, HalfEven);
        expect(up - down).toBe(x === 0n ? 0n : 1n);
        expect(even === down || even === up).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("property: a low-precision bracket contains the high-precision one (every inner rounding goes outward)", () => {
    // With only 1-4 guard digits, any inward rounding or missing tail term shows as a bracket that misses the
    // value pinned down 25 digits further.
    const low: ExpBracket = { lo: 0n, hi: 0n };
    const high: ExpBracket = { lo: 0n, hi: 0n };
    const lift = 10n ** 25n;
    fc.assert(
      fc.property(xArb.filter((x) => x !== 0n), fc.integer({ min: 1, max: 4 }), fc.constantFrom(0, 9, 18), (x, extra, d) => {
        const xd = d === 18 ? x : x / 10n ** BigInt(18 - d);
        if (xd === 0n) return;
        expBracket(xd, d, extra, low);
        expBracket(xd, d, extra + 25, high);
        expect(low.lo * lift <= high.lo).toBe(true);
        expect(high.lo <= high.hi).toBe(true);
        expect(high.hi <= low.hi * lift).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it("property: e^a * e^b brackets e^(a+b) (checks direction against an independent product)", () => {
    const part = fc.bigInt({ min: -50n * E18, max: 50n * E18 });
    fc.assert(
      fc.property(part, part, (a, b) => {
        // true e^(a+b) = e^a * e^b lies in [Down(a)Down(b), Up(a)Up(b)] / 1e18
        const lower = mulDiv(expFixed(a, 18, Down), expFixed(b, 18, Down), E18, Down);
        const upper = mulDiv(expFixed(a, 18, Up), expFixed(b, 18, Up), E18, Up);
        expect(expFixed(a + b, 18, Down) <= upper).toBe(true);
        expect(expFixed(a + b, 18, Up) >= lower).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it("property: e^x * e^-x = 1 lies between the products of the lower and of the upper bounds", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 100n * E18 }), (x) => {
        const one = E18 * E18;
        expect(expFixed(x, 18, Down) * expFixed(-x, 18, Down) <= one).toBe(true);
        expect(expFixed(x, 18, Up) * expFixed(-x, 18, Up) >= one).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it("property: monotone in x for each direction", () => {
    fc.assert(
      fc.property(xArb, fc.bigInt({ min: 1n, max: E18 }), roundingArb, (x, dx, r) => {
        const hi = x + dx > 100n * E18 ? 100n * E18 : x + dx;
        expect(expFixed(x, 18, r) <= expFixed(hi, 18, r)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("L3: e^(k·x) for k = 5 and x in [0, 1] (the rate-curve term) rises from 1 to e^5", () => {
    const k = 5n;
    let prev = 0n;
    for (let i = 0n; i <= 20n; i++) {
      const x = (i * E18) / 20n; // x = i/20
      const v = expFixed(k * x, 18, Down);
      expect(v > prev).toBe(true);
      prev = v;
    }
    expect(expFixed(0n, 18, Down)).toBe(E18);
    expect(prev).toBe(148_413159102576603421n);
  });
});

describe("parseDecimal / tryParseDecimal", () => {
  it("parses canonical text exactly", () => {
    const cases: [string, number, boolean, bigint][] = [
      ["0", 2, false, 0n],
      ["1", 2, false, 100n],
      ["1.5", 2, false, 150n],
      ["1.50", 2, false, 150n], // trailing zeros within the scale are exact
      ["0.01", 2, false, 1n],
      ["0.5", 9, false, 500_000_000n],
      ["-0.001", 3, true, -1n],
      ["-12.34", 6, true, -12_340_000n],
      ["123456789", 0, false, 123_456_789n],
      ["50000.123456789", 9, false, 50_000_123_456_789n],
      ["0.000000000000000001", 18, false, 1n],
      ["123456789012345678901.123456789012345678", 18, false, 123456789012345678901_123456789012345678n],
    ];
    for (const [text, d, neg, want] of cases) expect(parseDecimal(text, d, neg)).toBe(want);
    expect(parseDecimal("7", 1)).toBe(70n); // allowNegative defaults to false
  });

  it("rejects every non-canonical form with a message naming the problem and the input", () => {
    const longText = "1".repeat(DECIMAL_TEXT_LENGTH_MAX + 1);
    const cases: [string, number, boolean, string][] = [
      ["", 2, true, "empty string is not a decimal"],
      ["1e5", 2, true, 'exponent notation not allowed: "1e5"'],
      ["1E5", 2, true, 'exponent notation not allowed: "1E5"'],
      ["1.5e-3", 9, true, 'exponent notation not allowed: "1.5e-3"'],
      ["1.123", 2, false, 'over-scale: "1.123" has 3 decimals, at most 2 allowed'],
      ["1.120", 2, false, 'over-scale: "1.120" has 3 decimals, at most 2 allowed'],
      ["1.0", 0, false, 'over-scale: "1.0" has 1 decimals, at most 0 allowed'],
      ["-1", 2, false, 'negative value not allowed: "-1"'],
      ["-0.5", 2, false, 'negative value not allowed: "-0.5"'],
      ["+1", 2, true, 'plus sign not allowed: "+1"'],
      ["-0", 2, true, 'negative zero not allowed: "-0"'],
      ["-0.00", 2, true, 'negative zero not allowed: "-0.00"'],
      ["NaN", 2, true, 'not a finite number: "NaN"'],
      ["Infinity", 2, true, 'not a finite number: "Infinity"'],
      ["-Infinity", 2, true, 'not a finite number: "-Infinity"'],
      [" 1", 2, true, 'whitespace not allowed: " 1"'],
      ["1 ", 2, true, 'whitespace not allowed: "1 "'],
      ["1\n", 2, true, 'whitespace not allowed: "1\\n"'],
      ["1.5x", 2, true, 'unexpected character "x" at position 3: "1.5x"'],
      ["0x10", 2, true, 'unexpected character "x" at position 1: "0x10"'],
      ["1,000", 2, true, 'unexpected character "," at position 1: "1,000"'],
      ["1_000", 2, true, 'unexpected character "_" at position 1: "1_000"'],
      ["abc", 2, true, 'unexpected character "a" at position 0: "abc"'],
      ["1.2.3", 2, true, "more than one '.': \"1.2.3\""],
      ["--1", 2, true, 'misplaced minus sign: "--1"'],
      ["1-", 2, true, 'misplaced minus sign: "1-"'],
      [".", 2, true, "missing digit before '.': \".\""],
      [".5", 2, true, "missing digit before '.': \".5\""],
      ["-.5", 2, true, "missing digit before '.': \"-.5\""],
      ["1.", 2, true, "missing digit after '.': \"1.\""],
      ["-", 2, true, 'no digits: "-"'],
      ["01", 2, true, 'leading zero not allowed: "01"'],
      ["00.5", 2, true, 'leading zero not allowed: "00.5"'],
      ["-01", 2, true, 'leading zero not allowed: "-01"'],
      [longText, 2, true, `too long: 41 characters, at most 40 allowed: "${"1".repeat(40)}"...`],
    ];
    for (const [text, d, neg, message] of cases) {
      const error = { message: "" };
      expect(tryParseDecimal(text, d, neg, error)).toBe(null);
      expect(error.message).toBe(message);
      expect(() => parseDecimal(text, d, neg)).toThrow(DecimalFormatError);
      expect(() => parseDecimal(text, d, neg)).toThrow(message);
    }
  });

  it("DecimalFormatError is an Error named for its class", () => {
    let caught: unknown = null;
    try {
      parseDecimal("1e5", 2);
    } catch (err) {
      caught = err;
    }
    expect(caught instanceof DecimalFormatError && caught instanceof Error).toBe(true);
    expect((caught as Error).name).toBe("DecimalFormatError");
  });

  it("a bad decimals argument is a programming error (RangeError), not a format error", () => {
    expect(() => parseDecimal("1", -1)).toThrow(RangeError);
    expect(() => parseDecimal("1", 1.5)).toThrow(RangeError);
    expect(() => formatDecimal(1n, 37)).toThrow(RangeError);
  });

  it("accepts exactly 40 characters", () => {
    const text = "1".repeat(DECIMAL_TEXT_LENGTH_MAX);
    expect(parseDecimal(text, 0)).toBe(BigInt(text));
  });
});

describe("formatDecimal", () => {
  it("writes the canonical shortest form", () => {
    const cases: [bigint, number, string][] = [
      [0n, 0, "0"],
      [0n, 18, "0"],
      [150n, 2, "1.5"],
      [200n, 2, "2"],
      [-1n, 3, "-0.001"],
      [1n, 18, "0.000000000000000001"],
      [-1_500_000_000n, 9, "-1.5"],
      [123n, 0, "123"],
      [-123n, 0, "-123"],
      [10n, 1, "1"],
      [1_000_000_100n, 9, "1.0000001"],
    ];
    for (const [v, d, want] of cases) expect(formatDecimal(v, d)).toBe(want);
  });

  it("property: parseDecimal(formatDecimal(v, d), d, true) === v", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 38n) + 1n, max: 10n ** 38n - 1n }), fc.integer({ min: 0, max: 36 }), (v, d) => {
        const text = formatDecimal(v, d);
        expect(text.length <= DECIMAL_TEXT_LENGTH_MAX).toBe(true);
        expect(parseDecimal(text, d, true)).toBe(v);
      }),
      { numRuns: 2000 },
    );
  });

  it("property: format(parse(text)) gives back canonical text without trailing fraction zeros", () => {
    const digits = (min: number, max: number) =>
      fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((a) => a.join(""));
    const canonical = fc
      .tuple(fc.boolean(), fc.oneof(fc.constant("0"), fc.tuple(fc.integer({ min: 1, max: 9 }), digits(0, 15)).map(([h, t]) => `${h}${t}`)), fc.option(digits(1, 9).map((f) => f.replace(/0+$/, "")).filter((f) => f.length > 0)))
      .map(([neg, int, frac]) => `${neg ? "-" : ""}${int}${frac === null ? "" : `.${frac}`}`)
      .filter((t) => !/^-0(\.0*)?$/.test(t));
    fc.assert(
      fc.property(canonical, (text) => {
        expect(formatDecimal(parseDecimal(text, 9, true), 9)).toBe(text);
      }),
      { numRuns: 1000 },
    );
  });
});
