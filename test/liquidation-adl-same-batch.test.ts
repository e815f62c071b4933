// Q4 ADL legs are sized in phase 0 from the boundary positions, but seq-0 commands queued before them in the same batch
// (another liquidating account's book step filling the counterparty's resting order, a backstop takeover giving the
// backstop a position) can change the counterparty's position first. Matching now moves an ADL leg only as far as it
// still reduces both sides at that moment (market.ts adlLegQuantity); before, the leg flipped the counterparty: Dave,
// short 0.5 and flat after his bid filled, was handed a long 0.5 at the bankruptcy price (audit B); the backstop, made
// flat by a takeover leg, a long 0.5 (audit C). What a leg does not move is deleveraged in a later batch. (Found by a
// helper session's audit; its scenarios are kept here.)
import { describe, expect, it } from "vitest";
import { EventKind, EventRecord, LiquidationStep, OrderFlag, rejectCodeName, Side, TimeInForce } from "../engine/model/index.ts";
import type { EngineTopology } from "../engine/pipeline/index.ts";
import {
  ALICE, BOB, BTC_PERP, BTC_UNIT, BackstopHarness as Harness, CARL, DAVE, ERIN, FRANK, LENDER, SOL, SOL_UNIT, SOL_USDC, USD, USDC, USDC_UNIT,
  adlSetup, base, deposit, fundWithFrank, gtc, kinds, mark, quotes,
} from "./helpers/backstop-scenario.ts";
import { CommandKind } from "../engine/model/index.ts";

const ONE: EngineTopology = { riskShards: 1, matchingShards: 1 };
const TWO_BY_TWO: EngineTopology = { riskShards: 2, matchingShards: 2 };

const legs = (events: EventRecord[]) =>
  kinds(events, EventKind.LiquidationTransfer)
    .filter((e) => e.liquidationStep === LiquidationStep.OnAdl)
    .map((e) => ({ from: e.account, to: e.makerAccount, side: e.side, qty: e.quantity, price: e.price }));
const fills = (events: EventRecord[]) =>
  kinds(events, EventKind.Fill).map((e) => ({ taker: e.account, maker: e.makerAccount, side: e.side, qty: e.quantity, price: e.price }));

const ioc = (account: number, side: number, price: bigint, quantity: bigint, reduceOnly: boolean) => ({
  ...gtc(account, BTC_PERP, side, price, quantity), tif: TimeInForce.IOC, flags: reduceOnly ? OrderFlag.ReduceOnly : 0,
});

describe("Q4: the counterparty closes with its own IOC in the batch its ADL leg is applied", () => {
  for (const t of [ONE, TWO_BY_TWO]) {
    for (const reduceOnly of [true, false]) {
      it(`Q4 (${t.riskShards}×${t.matchingShards}, reduceOnly ${reduceOnly}): the leg closes Dave's short; his own buy of that batch is refused (Deleveraging), not filled as a new long R1 never judged; X1 holds`, () => {
        const h = new Harness(base, t);
        adlSetup(h);
        h.batch([deposit(CARL, USDC, 20_000n * USDC_UNIT)]);
        h.batch(quotes(50_000n * USD, 53_955n * USD));
        expect(h.liquidating()).toEqual([ALICE]);
        expect(kinds(h.tick(), EventKind.Fill)).toEqual([]); // stalled
        // Carl rests an ask of 0.5 at 54,000 (behind the maker's 0.01 at 53,955): Dave's IOC buy will close on it.
        const totals = h.totals();
        let events: EventRecord[] = [];
        const pre = t.riskShards === 1 ? 0 : 2; // ticks before the ADL batch (K > 1: demand, offers)
        for (let i = 0; i < pre; i++) events = h.tick();
        expect(legs(events)).toEqual([]);
        const daveBefore = h.position(DAVE)[0];
        events = h.tick([gtc(CARL, BTC_PERP, Side.Sell, 54_000n * USD, BTC_UNIT / 2n), ioc(DAVE, Side.Buy, 54_000n * USD, BTC_UNIT / 2n, reduceOnly)]);
        const l = legs(events);
        expect(fills(events)).toEqual([]);
        const refusal = events.find((e) => (e.kind === EventKind.OrderRejected || e.kind === EventKind.CommandRejected) && e.account === DAVE)!;
        expect([rejectCodeName[refusal.code], refusal.message]).toEqual(["Deleveraging", "account 80's position is auto-deleveraged (Q4) in this batch: send it again"]);
        expect(h.position(DAVE)[0]).toBe(0n);
        for (const r of h.engine.risk) r.validateInternalState();
        for (const m of h.engine.matching) m.validateInternalState();
        expect(h.totals()).toEqual(totals);
        const daveLeg = l.filter((x) => x.to === DAVE).reduce((a, x) => a + x.qty, 0n);
        expect(daveLeg).toBeLessThanOrEqual(-daveBefore); // never more than the short it reduces
      });
    }
  }
});

/**
 * Audit B: the counterparty's RESTING order is filled by another liquidating account's Q2 book step, which phase 0
 * queues (seq 0) ahead of the bankrupt account's ADL legs in the same batch (D3 order: account id, shard order).
 * X = 32 (long 5, liquidating, equity > 0: steps on the book), G = 33 (long 1, Alice's profile: bankrupt), same user
 * so the same risk shard at every K, X first in id order. Dave (short 0.5) rests a bid of 0.5 at 53,000 in the batch
 * before the ADL batch; X's step (sell 0.5, bound 51,257.25) fills it; then G's leg hands Dave 0.5 more.
 */
const X = 32;
const G = 33;
describe("Q4: another liquidation step fills the counterparty's resting order before its ADL leg, same batch", () => {
  for (const t of [ONE, TWO_BY_TWO]) {
    it(`Q4 (${t.riskShards}×${t.matchingShards}): Dave is never given a long — no leg exceeds his short at that moment; G's rest is deleveraged later`, () => {
      const h = new Harness(base, t);
      fundWithFrank(h);
      h.batch([deposit(X, USDC, 31_600n * USDC_UNIT), deposit(G, USDC, 6_100n * USDC_UNIT), deposit(DAVE, USDC, 3_100n * USDC_UNIT), deposit(ERIN, USDC, 50_000n * USDC_UNIT)]);
      h.batch([gtc(BOB, BTC_PERP, Side.Sell, 60_000n * USD, 6n * BTC_UNIT), gtc(DAVE, BTC_PERP, Side.Sell, 60_000n * USD, BTC_UNIT / 2n)]);
      h.batch([gtc(X, BTC_PERP, Side.Buy, 60_000n * USD, 5n * BTC_UNIT), gtc(G, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT), gtc(ERIN, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT / 2n)]);
      const pos = (a: number) => h.risk(a).perpPosition(a, BTC_PERP).netQuantity;
      expect([pos(X), pos(G), pos(BOB), pos(DAVE), pos(ERIN)]).toEqual([5n * BTC_UNIT, BTC_UNIT, -6n * BTC_UNIT, -BTC_UNIT / 2n, BTC_UNIT / 2n]);
      h.batch(quotes(50_000n * USD, 53_955n * USD));
      expect(h.liquidating()).toEqual([X, G]);
      const eq = (a: number) => h.risk(a).accountMargin(a).netEquityUsd();
      expect(eq(X) > 0n && eq(G) < 0n).toBe(true);
      const totals = h.totals();
      const pre = t.riskShards === 1 ? 1 : 3; // stall (+ demand, offers at K > 1)
      let events: EventRecord[] = [];
      for (let i = 0; i < pre; i++) {
        // Dave's bid rests at the boundary before the ADL batch (placed in the batch just before it).
        events = h.tick(i === pre - 1 ? [gtc(DAVE, BTC_PERP, Side.Buy, 53_000n * USD, BTC_UNIT / 2n)] : []);
        expect(legs(events)).toEqual([]);
        expect(fills(events)).toEqual([]);
      }
      const daveAtBoundary = pos(DAVE);
      expect(daveAtBoundary).toBe(-BTC_UNIT / 2n);
      events = h.tick();
      for (const r of h.engine.risk) r.validateInternalState();
      for (const m of h.engine.matching) m.validateInternalState();
      expect(h.totals()).toEqual(totals); // X1
      // Walk the batch's position changes of Dave in the order they were applied: no leg may exceed his short then.
      let dave = daveAtBoundary;
      const seen = new Set<string>();
      for (const e of events) {
        if (e.kind !== EventKind.Fill && e.kind !== EventKind.LiquidationTransfer) continue;
        const key = `${e.kind}/${e.account}/${e.makerAccount}/${e.quantity}/${e.price}/${e.side}`;
        if (seen.has(key)) continue; // K > 1: both sides' shards publish a fill
        seen.add(key);
        const sign = e.side === Side.Buy ? 1n : -1n; // e.side = what e.account does
        if (e.account === DAVE) dave += sign * e.quantity;
        if (e.makerAccount === DAVE) {
          if (e.kind === EventKind.LiquidationTransfer) {
            expect(e.quantity, "ADL leg vs Dave's short at that moment").toBeLessThanOrEqual(dave < 0n ? -dave : 0n);
          }
          dave -= sign * e.quantity;
        }
      }
      expect(pos(DAVE), "Dave flat after his bid filled, not long").toBe(0n);
      expect(legs(events).filter((l) => l.to === DAVE)).toEqual([]);
      // What Dave's leg did not move stays with G and is deleveraged against Bob's short in the batches after.
      for (let i = 0; i < 6 && pos(G) !== 0n; i++) h.tick();
      expect([pos(G), pos(DAVE)]).toEqual([0n, 0n]);
      for (const r of h.engine.risk) r.validateInternalState();
      expect(h.totals()).toEqual(totals);
    });
  }
});

/**
 * Audit C (1×1): the counterparty is the Q3 backstop, and an earlier account's takeover in the same phase 0 moves its
 * position (the takeover's legs go first in D3 order) before the bankrupt account's ADL leg sized from the boundary.
 */
describe("Q3/Q4: a takeover leg to the backstop precedes an ADL leg against the backstop, same batch", () => {
  it("Q3/Q4 (1×1): the backstop is never handed more than its short at that moment (flat after the takeover, not long)", async () => {
    const { withBackstop, BACKSTOP } = await import("./helpers/backstop-scenario.ts");
    const h = new Harness(withBackstop(1_000_000n * USD), ONE);
    fundWithFrank(h);
    h.batch([deposit(X, USDC, 3_200n * USDC_UNIT), deposit(G, USDC, 6_100n * USDC_UNIT), deposit(BACKSTOP, USDC, 3_100n * USDC_UNIT)]);
    h.batch([gtc(BOB, BTC_PERP, Side.Sell, 60_000n * USD, BTC_UNIT), gtc(BACKSTOP, BTC_PERP, Side.Sell, 60_000n * USD, BTC_UNIT / 2n)]);
    h.batch([gtc(X, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT / 2n), gtc(G, BTC_PERP, Side.Buy, 60_000n * USD, BTC_UNIT)]);
    const pos = (a: number) => h.risk(a).perpPosition(a, BTC_PERP).netQuantity;
    expect([pos(X), pos(G), pos(BOB), pos(BACKSTOP)]).toEqual([BTC_UNIT / 2n, BTC_UNIT, -BTC_UNIT, -BTC_UNIT / 2n]);
    h.batch(quotes(50_000n * USD, 53_955n * USD));
    expect(h.liquidating()).toEqual([X, G]);
    const totals = h.totals();
    h.tick(); // both step: no bid within the bound, both stall (X above ACMF)
    const backstopAtBoundary = pos(BACKSTOP);
    const events = h.tick();
    expect(h.totals()).toEqual(totals);
    let b = backstopAtBoundary;
    for (const e of events) {
      if (e.kind !== EventKind.LiquidationTransfer || e.makerAccount !== BACKSTOP) continue;
      const sign = e.side === Side.Buy ? 1n : -1n;
      if (e.liquidationStep === LiquidationStep.OnAdl) expect(e.quantity, "ADL leg vs backstop's short then").toBeLessThanOrEqual(b < 0n ? -b : 0n);
      b -= sign * e.quantity;
    }
    expect(pos(BACKSTOP)).toBe(0n);
  });
});
