// The gateway's reusable limiters (X5): token buckets per key with a bounded key set, connections per address, and
// the unsent-event budget that cuts the consumer holding the most first.
import { describe, expect, it } from "vitest";
import { CLOSE_TRY_AGAIN_LATER, ConnectionCounter, KeyedRateLimiter, TokenBucket, UnsentBudget, type UnsentConsumer } from "../gateway/limits.ts";

function consumer(name: string, cuts: string[]): UnsentConsumer & { bytes: number } {
  const c = {
    bytes: 0,
    bufferedAmount: () => c.bytes,
    cut: (code: number, reason: string) => {
      cuts.push(`${name} ${code} ${reason}`);
      c.bytes = 0;
    },
  };
  return c;
}

describe("gateway limiters", () => {
  it("X5: a token bucket admits its burst, then its rate: 10/s with burst 5 admits 5 at once and 1 per 100 ms", () => {
    const b = new TokenBucket(10, 5);
    let admitted = 0;
    for (let i = 0; i < 20; i++) if (b.take(1000)) admitted++;
    expect(admitted).toBe(5);
    expect(b.take(1099)).toBe(false);
    expect(b.take(1100)).toBe(true);
    expect(b.take(1100)).toBe(false);
    // A long pause refills to the burst, never beyond.
    let later = 0;
    for (let i = 0; i < 20; i++) if (b.take(60_000)) later++;
    expect(later).toBe(5);
  });

  it("X5: a keyed limiter limits each key on its own, holds at most keysMax keys, forgets only keys that owe nothing", () => {
    const l = new KeyedRateLimiter<string>(1, 2, 2);
    expect([l.take("a", 0), l.take("a", 0), l.take("a", 0)]).toEqual([true, true, false]);
    expect(l.take("b", 0)).toBe(true);
    // Both keys owe tokens: a third key is refused rather than forgetting them (an abuser cannot reset by rotating).
    expect(l.take("c", 0)).toBe(false);
    expect(l.size).toBe(2);
    // Two seconds later both are full again: they are forgotten and c gets its own bucket.
    expect(l.take("c", 2000)).toBe(true);
    expect(l.size).toBe(1);
  });

  it("X5: connections per address: the one over the maximum is refused, a close frees a place", () => {
    const c = new ConnectionCounter(2);
    expect([c.tryOpen("10.0.0.1"), c.tryOpen("10.0.0.1"), c.tryOpen("10.0.0.1"), c.tryOpen("10.0.0.2")]).toEqual([true, true, false, true]);
    c.close("10.0.0.1");
    expect(c.tryOpen("10.0.0.1")).toBe(true);
    expect(c.of("10.0.0.1")).toBe(2);
  });

  it("X5: unsent bytes: over the global cap the consumer holding the most is cut first; one over its own limit is cut alone", () => {
    const cuts: string[] = [];
    const budget = new UnsentBudget(1000, 1500);
    const fast = consumer("fast", cuts);
    const slow = consumer("slow", cuts);
    const slower = consumer("slower", cuts);
    fast.bytes = 100;
    budget.note(fast);
    slow.bytes = 600;
    budget.note(slow);
    slower.bytes = 700;
    budget.note(slower);
    expect(budget.total).toBe(1400);
    expect(cuts).toEqual([]);
    slow.bytes = 800;
    budget.note(slow); // 1,600 > 1,500: slow (800) holds the most
    expect(cuts).toEqual([`slow ${CLOSE_TRY_AGAIN_LATER} behind: slowest of all clients with 800 bytes unsent (server limit reached); reconnect and resume`]);
    expect(budget.total).toBe(800);
    slower.bytes = 1001;
    budget.note(slower);
    expect(cuts[1]).toBe(`slower ${CLOSE_TRY_AGAIN_LATER} behind: 1001 bytes of events unsent (limit 1000); reconnect and resume`);
    expect(budget.total).toBe(100);
    expect(budget.cuts).toBe(2);
    expect(budget.peakBytes).toBe(1400);
    budget.forget(fast);
    expect(budget.total).toBe(0);
  });
});
