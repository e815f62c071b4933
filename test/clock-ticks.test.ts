// Idle clock ticks (X7): which proposed ticks are journaled. Before, every 1 s proposal was: 86,400 × 160 bytes
// (a one-command batch: 32-byte header + 128-byte record) = 13,824,000 bytes a day.
import { describe, expect, it } from "vitest";
import { ClockTickPolicy, HOUR_MS, MINUTE_MS } from "../gateway/clock-ticks.ts";

const T0 = 1_767_225_600_000 + 1_234; // 1.234 s after an hour mark
const DAY_S = 86_400;
const TICK_BATCH_BYTES = 32 + 128;

describe("clock ticks of an idle exchange (X7)", () => {
  it("X7: a day of 1 s proposals with no command and no trade journals 25 ticks (the first, then one per hour mark): 4,000 bytes instead of 13,824,000", () => {
    const p = new ClockTickPolicy();
    const journaled: number[] = [];
    for (let s = 0; s < DAY_S; s++) if (p.propose(T0 + s * 1000)) journaled.push(T0 + s * 1000);
    expect(journaled.length).toBe(25);
    expect(journaled[0]).toBe(T0);
    // Each later one is the first proposal past an hour mark (the marks are 1.234 s before T0 + k h).
    for (let k = 1; k <= 24; k++) expect(journaled[k]).toBe(T0 + k * HOUR_MS - 1_000);
    expect(journaled.length * TICK_BATCH_BYTES).toBe(4_000);
    expect(DAY_S * TICK_BATCH_BYTES).toBe(13_824_000);
  });

  it("X7: after a trade, ticks stay minutely until the trade has left the 24 h ticker window, then hourly again", () => {
    const p = new ClockTickPolicy();
    expect(p.propose(T0)).toBe(true);
    p.traded(T0);
    let minutely = 0;
    for (let s = 1; s < 2 * DAY_S; s++) {
      if (!p.propose(T0 + s * 1000)) continue;
      if (s <= DAY_S + 60) minutely++;
    }
    // One per minute boundary crossed while the window holds the trade: 24 × 60 + 1 (the bucket after it).
    expect(minutely).toBe(24 * 60 + 1);
  });

  it("X7: a command after an idle stretch is preceded by the latest proposal, exactly once", () => {
    const p = new ClockTickPolicy();
    expect(p.propose(T0)).toBe(true);
    expect(p.dueBeforeCommand()).toBe(0);
    for (let s = 1; s <= 30; s++) expect(p.propose(T0 + s * 1000)).toBe(false);
    expect(p.dueBeforeCommand()).toBe(T0 + 30_000);
    expect(p.dueBeforeCommand()).toBe(0);
    expect(p.propose(T0 + 30_000)).toBe(false);
    expect(p.propose(T0 + 31_000)).toBe(false);
    expect(p.dueBeforeCommand()).toBe(T0 + 31_000);
    expect(MINUTE_MS).toBe(60_000);
  });

  it("Q2/D3: while an account is liquidating every 1 s proposal is journaled (its book steps run at each batch head); after LiquidationEnded ticks are hourly again", () => {
    const p = new ClockTickPolicy();
    expect(p.propose(T0)).toBe(true);
    p.liquidation(32, true);
    p.liquidation(48, true);
    for (let s = 1; s <= 60; s++) expect(p.propose(T0 + s * 1000)).toBe(true);
    p.liquidation(32, false);
    expect(p.liquidatingAccounts).toBe(1);
    expect(p.propose(T0 + 61_000)).toBe(true);
    p.liquidation(48, false);
    expect(p.liquidatingAccounts).toBe(0);
    for (let s = 62; s <= 120; s++) expect(p.propose(T0 + s * 1000)).toBe(false);
  });
});
