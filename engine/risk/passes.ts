// P4 and P5 spread over batches (engine.ts decision P5S, as built): the state of this shard's funding payments not yet
// made and of its realization pass not yet finished — each a cursor in account-id order over the market's holders
// (state.perpHolders, a SortedIdSet). In the shard's snapshot section and state hash: a snapshot taken mid-pass
// resumes it where it stopped.
import { SNAPSHOT_COUNT_MAX, type SnapshotReader, type SnapshotWriter } from "../model/index.ts";

/**
 * Holder visits one batch spends on spread passes at most (funding first, then realization): one visit = one holder
 * paid or realized (or passed over: nothing to move, paid already). Measured with bench perp.realize-100k on a loaded
 * 2-core machine: a realized holder costs ~45–70 µs of CPU all told (phase 3b, its three events, and phase 5's Q1
 * re-evaluation of the account it touched), so 16 visits keep a batch's pass work under 1 ms (fourth round: ~35 µs,
 * the Q1 band of a USDC holding in closed form). What the bench's longest pause measures is not this work but V8's
 * collections (issue 12, fourth round, --trace-gc-nvp on perp.realize-100k and perp.funding-100k): scavenges of
 * 15–45 ms each on this ~1.4–1.6 GB heap at load 5–15 (~730 a run before this round, ~390 after: the closed-form band
 * halved the young garbage), and a mark-compact now and then. Most of a scavenge is scavenge.parallel — copying the
 * young survivors and visiting the old-to-new slots that point at them, i.e. the new bigints a visit stores into
 * long-lived account records (546 bytes a realized holder before this round, 237 after: margin slots keep equal
 * values and share one output record, unchanged bands stay, the band index's chunks are made once) — plus ~5 ms
 * outside every sub-phase in the scavenges that promote. V8 also walks every old-generation page's header at each
 * scavenge (perf: the loop of RememberedSet<OLD_TO_NEW>::IterateMemoryChunks): a plain-JS heap of this shape with
 * nothing surviving still paid 3–4 ms a scavenge at 0.5 GB and 6–20 ms at 2 GB here. A longest pause ≤ 1 ms needs
 * the accounts' state off V8's pages (typed columns), not a smaller budget.
 * Sixth round (measured, load 12–18): the walk is the chunk list itself — perf puts ~93% of the scavenge's own time
 * on one load, the next-chunk pointer of each old-generation page (V8 11.3, Node 20), so its cost is the number of
 * old pages, whatever they hold: 1 GB of pointer-free double arrays still cost ~4 ms a scavenge, the same bytes in
 * ArrayBuffers (off V8's pages) ~0.1 ms. The heap was ~10.5 kB an account after a full GC (heap snapshot by
 * retaining record: the margin state 5.1 kB — about 60 small arrays and their bigints —, the settlement log's five
 * typed arrays 1.3 kB, Account 1.2 kB, the 30-day volume ring 0.7 kB, six PerpPositions 0.65 kB, bands 0.64 kB);
 * copy-on-write zero slots, shared IMF floors per leverage limit, one buffer per history ring, sparse volume buckets
 * and exactly sized small arrays made it ~6.9 kB (100,000 accounts: 1,068 → 726 MB after a full GC, ~1.3 → ~0.8 GB
 * in use at the bench's end); a scavenge's median fell ~30% (e.g. 52–55 → 35–40 ms wall in one alternated pair),
 * still ~30 ms of CPU. A pass allocates ~5 kB of young bigints a realized holder (allocation sampling: the margin
 * slot's recomputation, the Position event's P8 solve and report, the new bands), ~500 MB a pass: ~95 scavenges,
 * each paying the walk. The hour mark no longer re-evaluates every holder (liquidation-trigger.ts POSITION_EDGE:
 * funding's first batch 0.5–0.9 s of CPU → under 0.1 s).
 * Seventh round (measured, load 7–19; bench/scavenge-experiment.mjs, a standalone heap of the same shape): with
 * ~0.7 GB of old records holding bigints, a scavenge with nothing surviving (young garbage only) costs 3.5–11 ms,
 * all of it outside V8's sub-phases (scavenge.parallel 0.01 ms): the walk over old pages, ~1 ms per 100 MB here
 * (0.13 / 0.32 / 0.7 / 1.26 GB: 0.9 / 1.8 / 7.3 / 15.8 ms; pointer-free double arrays of the same bytes the same;
 * no old heap 0.03 ms). Fresh bigints stored into 16 old records a batch make it 33–41 ms; the same values stored
 * into a BigInt64Array column 3–9 ms, i.e. no more than garbage alone. In this bench (--trace-gc-nvp) a scavenge is
 * ~44 ms: 34 ms scavenge.parallel (~0.7 MB of survivors and their old-to-new slots) and ~8 ms of the walk. What
 * survives a pass (sampling heap profiler, collected objects excluded): ~143 B a realized holder — the margin
 * slots' position part 57% and USDC part 16.5% (AccountMargin: the order path's state), PerpPosition's costBasis and
 * realizedPnl 24%. So columns for the pass's own fields remove at most a quarter of the survivors (and costBasis is
 * past int64 already: 0.01 BTC at 60,000 is 6×10^19 raw, two words a value and a bigint made at every read on the
 * order path), and with no survivors at all the walk alone is 3.5–11 ms: a longest pause ≤ 1 ms needs the V8 old
 * heap under ~100 MB for 100,000 accounts (~1 kB an account), i.e. the accounts' whole state in ArrayBuffers — a
 * redesign of the account records, not of the pass. V8 flags on this bench (2 alternated rounds): a 4 MB semi-space
 * makes each scavenge ~4× cheaper (median 15–23 against 59–78 ms; engine CPU per batch max 18 against 35–951 ms) and
 * ~4× as frequent (p99 per batch 9 against 2.5–3 ms), CPU per pass unchanged; 64 MB is worse (scavenges ~270 ms);
 * --single-threaded-gc within the noise (median 54–58 ms). None reaches 1 ms, so none is set (nor can one be put in a
 * worker's execArgv: Node refuses it — the engine worker would take resourceLimits.maxYoungGenerationSizeMb).
 */
export const PASS_VISITS_PER_BATCH_MAX = 16;

/** P4: one market's interval end while some of its holders are not paid yet. */
export class PendingFunding {
  active = false;
  /** The interval end's time, rate and mark (the FundingRate event's): every payment of the interval uses them. */
  timeMs = 0;
  rate = 0n;
  mark = 0n;
  /** Every holder with an id below this has been paid (or held no position when the cursor passed it). */
  cursorId = 0;
  /** Holders at or above the cursor already paid, before a fill changed their position (funding.ts payBeforeFill). */
  readonly paidEarly = new Set<number>();

  start(timeMs: number, rate: bigint, mark: bigint): void {
    this.active = true;
    this.timeMs = timeMs;
    this.rate = rate;
    this.mark = mark;
    this.cursorId = 0;
    this.paidEarly.clear();
  }

  finish(): void {
    this.active = false;
    this.cursorId = 0;
    this.paidEarly.clear();
  }

  /** Is `id`'s payment of this interval still to be made? */
  owes(id: number): boolean {
    return this.active && id >= this.cursorId && !this.paidEarly.has(id);
  }
}

/** P5: the realization pass (markets in id order, each market's holders in account-id order). */
export class RealizationPass {
  active = false;
  /** The market the cursor is in, and every holder there with an id below cursorId has been realized this pass. */
  market = 0;
  cursorId = 0;
  /** Another 10 s mark was crossed while this pass ran: a new pass starts when it ends. */
  again = false;

  start(): void {
    this.active = true;
    this.market = 0;
    this.cursorId = 0;
    this.again = false;
  }
}

export class SettlementPasses {
  readonly funding: PendingFunding[];
  readonly realization = new RealizationPass();

  constructor(markets: number) {
    this.funding = [];
    for (let m = 0; m < markets; m++) this.funding.push(new PendingFunding());
  }

  /** Is any pass unfinished (the gateway keeps clock ticks coming while one is: clock-ticks.ts)? */
  get pending(): boolean {
    if (this.realization.active) return true;
    for (const f of this.funding) if (f.active) return true;
    return false;
  }

  write(w: SnapshotWriter): void {
    const r = this.realization;
    w.uint(r.active ? 1 : 0);
    w.uint(r.market);
    w.uint(r.cursorId);
    w.uint(r.again ? 1 : 0);
    for (const f of this.funding) {
      w.uint(f.active ? 1 : 0);
      if (!f.active) continue;
      w.int(f.timeMs);
      w.big(f.rate);
      w.big(f.mark);
      w.uint(f.cursorId);
      const early = [...f.paidEarly].sort((a, b) => a - b);
      w.uint(early.length);
      for (const id of early) w.uint(id);
    }
  }

  restore(r: SnapshotReader): void {
    const pass = this.realization;
    pass.active = flag(r, "realization pass");
    pass.market = r.uint();
    pass.cursorId = r.uint();
    pass.again = flag(r, "realization again");
    if (pass.market > this.funding.length) r.fail(`realization pass in market ${pass.market}`);
    for (let m = 0; m < this.funding.length; m++) {
      const f = this.funding[m]!;
      if (!flag(r, "pending funding")) continue;
      f.start(r.int(), r.big(), r.big());
      f.cursorId = r.uint();
      if (f.mark <= 0n || f.rate === 0n) r.fail(`market ${m}: pending funding at mark ${f.mark}, rate ${f.rate}`);
      const early = r.count(SNAPSHOT_COUNT_MAX, "accounts paid early");
      for (let i = 0; i < early; i++) f.paidEarly.add(r.uint());
    }
  }

  hashText(): string {
    const r = this.realization;
    let text = `passes r${r.active ? 1 : 0}:${r.market}:${r.cursorId}:${r.again ? 1 : 0}`;
    for (let m = 0; m < this.funding.length; m++) {
      const f = this.funding[m]!;
      if (!f.active) continue;
      const early = [...f.paidEarly].sort((a, b) => a - b).join(",");
      text += ` f${m}:${f.timeMs}:${f.rate}:${f.mark}:${f.cursorId}:${early}`;
    }
    return `${text}\n`;
  }
}

function flag(r: SnapshotReader, what: string): boolean {
  const x = r.uint();
  if (x > 1) r.fail(`${what}: flag ${x}`);
  return x === 1;
}
