// The demand/offer relay shared by Q4's perpetual ADL and Q5's lender ADL across risk shards
// (engine/risk/adl-demand-relay.ts; the kinds adl-relay.ts and adl-lender-relay.ts): its slots through a phase-4
// merge of two shards, the rounds (pending → ready), Q5's confirmation, the per-shard limits, the state hash lines and
// the snapshot section, pinned here beside the engine-level tests (liquidation-adl-shards, liquidation-lender-adl-shards).
import { describe, expect, it } from "vitest";
import { InsuranceReason, SnapshotReader, SnapshotWriter } from "../engine/model/index.ts";
import { loadConfig } from "../engine/pipeline/index.ts";
import { planReady } from "../engine/risk/adl-across-shards.ts";
import { RiskState } from "../engine/risk/state.ts";
import { ADL_DEMANDS_PER_SHARD_MAX, AdlDemand, AdlRelay } from "../engine/risk/adl-relay.ts";
import { LENDER_ADL_DEMANDS_PER_SHARD_MAX, LenderAdlDemand, LenderAdlRelay } from "../engine/risk/adl-lender-relay.ts";

type Relay = AdlRelay | LenderAdlRelay;

/** One batch boundary of two shards: each applies the other's slots, then rolls (shard.ts phase 4). */
function boundary(a: Relay, b: Relay): void {
  a.applyRemote(b.deltas, 0);
  b.applyRemote(a.deltas, 0);
  a.roll();
  b.roll();
}

function text(r: AdlRelay): string[] {
  return [...r.pending.map((d) => `p ${d.account}:${d.market}:${d.quantity}:${d.deficit}`), ...r.ready.map((d) => `r ${d.account}:${d.market}:${d.quantity}:${d.deficit}`), ...r.offers.map((o) => `o ${o.account}:${o.market}:${o.quantity}:${o.costBasis}:${o.netEquityUsd}`)];
}

function roundTrip<R extends Relay>(from: R, to: R): R {
  const w = new SnapshotWriter();
  from.writeSnapshot(w);
  const bytes = w.bytes();
  const r = new SnapshotReader(bytes, "risk shard 0");
  to.restoreSnapshot(r);
  const again = new SnapshotWriter();
  to.writeSnapshot(again);
  expect(again.bytes()).toEqual(bytes);
  return to;
}

describe("ADL demand/offer relay (Q4, Q5 across risk shards)", () => {
  it("Q4: demands of two shards merge in (account, market) order on both; a batch later they are ready with both shards' offers by shard, market and side; then nothing", () => {
    const s0 = new AdlRelay(0, 2, 3);
    const s1 = new AdlRelay(1, 2, 3);
    expect(s0.post(32, 2, 5_000n, 1_234n)).toBe(true);
    expect(s1.post(16, 1, -7n, 99n)).toBe(true);
    expect(s0.post(32, 0, -3n, 1_234n)).toBe(true);
    boundary(s0, s1);
    for (const s of [s0, s1]) expect(text(s)).toEqual(["p 16:1:-7:99", "p 32:0:-3:1234", "p 32:2:5000:1234"]);
    expect(s0.waiting(32) && s0.waiting(16) && !s0.waiting(48)).toBe(true);
    s1.offer(2, 1, 0, 49, -400n, -90_000n, 12_000n);
    s0.offer(1, 0, 0, 48, 7n, 700n, 5_000n);
    s0.offer(1, 0, 1, 64, 2n, 210n, 800n);
    s0.offer(0, 0, 0, 80, 3n, 300n, 900n);
    boundary(s0, s1);
    const ready = ["r 16:1:-7:99", "r 32:0:-3:1234", "r 32:2:5000:1234", "o 80:0:3:300:900", "o 48:1:7:700:5000", "o 64:1:2:210:800", "o 49:2:-400:-90000:12000"];
    for (const s of [s0, s1]) expect(text(s)).toEqual(ready);
    expect(s0.hashText()).toBe("adl pending  ready 16:1:-7:99,32:0:-3:1234,32:2:5000:1234 offers 80:0:3:300:900,48:1:7:700:5000,64:1:2:210:800,49:2:-400:-90000:12000\n");
    boundary(s0, s1);
    for (const s of [s0, s1]) expect([text(s), s.hashText()]).toEqual([[], ""]);
  });

  it("Q4: at most ADL_DEMANDS_PER_SHARD_MAX (8) demands a shard a batch; the batch's covers and legs are cleared at its end", () => {
    const s0 = new AdlRelay(0, 2, 1);
    const s1 = new AdlRelay(1, 2, 1);
    for (let i = 0; i < ADL_DEMANDS_PER_SHARD_MAX; i++) expect(s0.post(100 + i, 0, 1n, 1n)).toBe(true);
    expect([s0.post(200, 0, 1n, 1n), s0.postsLeft, s1.postsLeft]).toEqual([false, 0, 8]);
    s0.covers.set(100, 5n);
    s0.coverReserved = 5n;
    s0.legAccount.push(100);
    boundary(s0, s1);
    expect([s1.pending.length, s0.postsLeft, s0.covers.size, s0.coverReserved, s0.legAccount.length]).toEqual([8, 8, 0, 0n, 0]);
  });

  it("Q5: only the demands their lender's shard confirms become ready, with its shares; a redemption demand is pending one batch and reserves its quantity", () => {
    const s0 = new LenderAdlRelay(0, 2, 4);
    const s1 = new LenderAdlRelay(1, 2, 4);
    expect(s1.post(80, 1, 0n)).toBe(false); // nothing to post
    expect(s1.post(80, 1, 100_007_626n)).toBe(true);
    expect(s1.post(16, 1, 55n)).toBe(true);
    expect(s0.post(96, 3, 42n, true)).toBe(true);
    boundary(s0, s1);
    const pending = s0.pending.map((d) => `${d.account}:${d.asset}:${d.quantity}:${d.shares}:${d.redeem}`);
    expect(pending).toEqual(["16:1:55:0:false", "80:1:100007626:0:false", "96:3:42:0:true"]);
    expect(s1.pending.map((d) => `${d.account}:${d.asset}:${d.quantity}:${d.shares}:${d.redeem}`)).toEqual(pending);
    const reserved = [9n, 9n, 9n, 9n];
    s0.reservedRedemptions(reserved);
    expect(reserved).toEqual([0n, 0n, 0n, 42n]);
    expect([s0.redemption(96, 3)?.quantity, s0.redemption(80, 1), s0.waiting(80, 1), s0.waiting(80, 2), s0.demanding(16), s0.demanding(48)]).toEqual([42n, null, true, false, true, false]);
    s1.confirm(1, 10n ** 17n); // Dave's (pending[1]) only: the lender 16 left liquidation
    s0.offer(1, 0, 96, 54_004_448n, 20_000_000_000n);
    s0.offer(1, 1, 48, 36_002_437n, 11_000_000_000n);
    boundary(s0, s1);
    for (const s of [s0, s1]) {
      expect(s.hashText()).toBe("lender adl pending  ready 80:1:100007626:100000000000000000 offers 96:1:54004448:20000000000,48:1:36002437:11000000000\n");
    }
    boundary(s0, s1);
    expect([s0.hashText(), s1.hashText()]).toEqual(["", ""]);
  });

  it("Q5: a batch in which nothing is confirmed keeps no offers (the demands lapse)", () => {
    const s0 = new LenderAdlRelay(0, 2, 2);
    const s1 = new LenderAdlRelay(1, 2, 2);
    s1.post(80, 1, 500n);
    boundary(s0, s1);
    s0.offer(1, 0, 96, 7n, 8n);
    boundary(s0, s1);
    expect([s0.pending.length, s0.ready.length, s0.offers.length, s1.offers.length]).toEqual([0, 0, 0, 0]);
  });

  it("Q4 (P5S): each shard's funding held for receivers, published beside its offers, is one replicated total on both a batch later — in the hash line and the snapshot; a batch without it is 0", () => {
    const s0 = new AdlRelay(0, 2, 3);
    const s1 = new AdlRelay(1, 2, 3);
    s0.post(32, 0, 5_000n, 1_234n);
    boundary(s0, s1);
    s0.publishFundingHeld(55_900_729n);
    s1.publishFundingHeld(1_000n);
    s1.offer(0, 1, 0, 49, -5_000n, -300_000n, 12_000n);
    boundary(s0, s1);
    for (const s of [s0, s1]) expect(s.fundingHeld).toBe(55_901_729n);
    expect(s1.hashText()).toBe("adl pending  ready 32:0:5000:1234 offers 49:0:-5000:-300000:12000\nadl funding held 55901729\n");
    expect(roundTrip(s1, new AdlRelay(1, 2, 3)).fundingHeld).toBe(55_901_729n);
    boundary(s0, s1);
    for (const s of [s0, s1]) expect([s.fundingHeld, s.hashText()]).toEqual([0n, ""]);
  });

  it("Q4 (P5S): planReady covers a ready account from the fund's capital less the replicated funding held for receivers: 1,046,500 − 600,000 = 446,500 of a 5,000,000 deficit (before: the whole 1,046,500)", () => {
    const config = loadConfig();
    const s = new RiskState(config, 0, 2);
    const usdc = 0;
    s.insurance.addOwn(usdc, InsuranceReason.LiquidationFee, 1_046_500n);
    const ALICE = 32; // user 2: shard 0 of 2
    s.adl.ready = [new AdlDemand(ALICE, 3, 100_000_000n, 5_000_000n)];
    s.adl.fundingHeld = 600_000n;
    planReady(s);
    expect([s.adl.covers.get(ALICE), s.adl.coverReserved, s.liquidation.coverBudget]).toEqual([446_500n, 446_500n, 0n]);
  });

  it("Q4, Q5, X7: the snapshot section round-trips byte for byte; more demands than K × the per-shard limit are refused (Q4 as Q5)", () => {
    const s0 = new AdlRelay(0, 2, 3);
    const s1 = new AdlRelay(1, 2, 3);
    s0.post(32, 2, 5_000n, 1_234n);
    boundary(s0, s1);
    s1.offer(2, 1, 0, 49, -400n, -90_000n, 12_000n);
    s0.post(48, 1, -2n, 77n);
    boundary(s0, s1);
    const restored = roundTrip(s0, new AdlRelay(0, 2, 3));
    expect([restored.hashText(), restored.postsLeft]).toEqual([s0.hashText(), 8]);
    const l0 = new LenderAdlRelay(0, 2, 4);
    const l1 = new LenderAdlRelay(1, 2, 4);
    l1.post(80, 1, 100n);
    l0.post(96, 3, 42n, true);
    boundary(l0, l1);
    l1.confirm(0, 5n);
    l0.offer(1, 0, 48, 3n, 4n);
    boundary(l0, l1);
    expect(roundTrip(l0, new LenderAdlRelay(0, 2, 4)).hashText()).toBe(l0.hashText());
    const tooMany = new AdlRelay(0, 2, 3);
    for (let i = 0; i <= 2 * ADL_DEMANDS_PER_SHARD_MAX; i++) tooMany.pending.push(new AdlDemand(i, 0, 1n, 1n));
    const w = new SnapshotWriter();
    tooMany.writeSnapshot(w);
    expect(() => new AdlRelay(0, 2, 3).restoreSnapshot(new SnapshotReader(w.bytes(), "risk shard 0"))).toThrow(/17 ADL demands/);
    const lenders = new LenderAdlRelay(0, 2, 4);
    for (let i = 0; i <= 2 * LENDER_ADL_DEMANDS_PER_SHARD_MAX; i++) lenders.pending.push(new LenderAdlDemand(i, 0, 1n));
    const wl = new SnapshotWriter();
    lenders.writeSnapshot(wl);
    expect(() => new LenderAdlRelay(0, 2, 4).restoreSnapshot(new SnapshotReader(wl.bytes(), "risk shard 0"))).toThrow(/9 lender ADL demands/);
  });
});
