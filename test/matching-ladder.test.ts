// PriceLadder (one side's price levels by tick: dense window + bitset + sorted overflow) against a plain model.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NO_TICK, PriceLadder } from "../engine/matching/index.ts";

type Op = { kind: "insert" | "remove" | "jump"; x: number };

/** Applies ops to a ladder and a Map model; checks get/best/nextWorse/validate after every op. */
function run(side: number, windowBits: number, ops: readonly Op[], spread: number): void {
  const ladder = new PriceLadder(side, windowBits, 16, 1 << 20);
  const model = new Map<number, number>();
  let center = 1_000_000;
  let nextLvl = 0;
  const tickOf = new Map<number, number>();
  const better = (a: number, b: number) => (side === 0 ? a > b : a < b);
  for (const op of ops) {
    if (op.kind === "jump") {
      center += (op.x % 2 === 0 ? 1 : -1) * (1 << windowBits) * (1 + (op.x % 3));
      continue;
    }
    const tick = Math.max(1, center + (op.x % (2 * spread + 1)) - spread);
    if (op.kind === "insert" && !model.has(tick)) {
      const lvl = nextLvl++;
      model.set(tick, lvl);
      tickOf.set(lvl, tick);
      ladder.insert(tick, lvl);
    } else if (model.size > 0) {
      // Remove an existing tick: the nearest one to `tick` in the model, or the best sometimes.
      const ticks = [...model.keys()];
      const victim = op.x % 4 === 0 ? ticks.reduce((a, b) => (better(a, b) ? a : b)) : ticks[op.x % ticks.length]!;
      model.delete(victim);
      ladder.remove(victim);
    }
    ladder.validate("ladder", (l) => tickOf.get(l)!);
    const sorted = [...model.keys()].sort((a, b) => (side === 0 ? b - a : a - b));
    expect(ladder.count).toBe(sorted.length);
    expect(ladder.bestTick).toBe(sorted[0] ?? NO_TICK);
    expect(ladder.bestLvl).toBe(sorted.length > 0 ? model.get(sorted[0]!)! : -1);
    const walked: number[] = [];
    for (let t = ladder.bestTick; t !== NO_TICK; t = ladder.nextWorse(t)) walked.push(t);
    expect(walked).toEqual(sorted);
    expect(ladder.get(tick)).toBe(model.get(tick) ?? -1);
  }
}

const ops = fc.array(
  fc.record({ kind: fc.constantFrom<Op["kind"]>("insert", "insert", "insert", "remove", "remove", "jump"), x: fc.noBias(fc.nat()) }),
  { minLength: 50, maxLength: 400 },
);

describe("PriceLadder (O1 price levels by tick)", () => {
  for (const side of [0, 1]) {
    it(`side ${side}: a 32-tick window with far levels (overflow, re-centring) behaves like a sorted map`, () => {
      fc.assert(fc.property(ops, (o) => run(side, 5, o, 60)), { seed: 11 + side, numRuns: 150 });
    });
    it(`side ${side}: the default 2^17 window behaves like a sorted map, also across 32/1024-tick word boundaries`, () => {
      fc.assert(fc.property(ops, (o) => run(side, 17, o, 5_000)), { seed: 21 + side, numRuns: 40 });
    });
  }

  it("finds the next level across empty bitset words in both directions", () => {
    for (const side of [0, 1]) {
      const ladder = new PriceLadder(side, 17, 16, 1000);
      const ticks = side === 0 ? [500_000, 499_000, 470_001, 400_000] : [400_000, 401_000, 429_999, 500_000];
      ticks.forEach((t, i) => ladder.insert(t, i));
      const walked: number[] = [];
      for (let t = ladder.bestTick; t !== NO_TICK; t = ladder.nextWorse(t)) walked.push(t);
      expect(walked).toEqual(ticks);
      ladder.remove(ticks[0]!);
      expect(ladder.bestTick).toBe(ticks[1]);
      ladder.remove(ticks[1]!);
      ladder.remove(ticks[2]!);
      expect(ladder.bestTick).toBe(ticks[3]);
      expect(ladder.bestLvl).toBe(3);
    }
  });
});
