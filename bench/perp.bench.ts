// P5 and P4 at scale (issue 12): 100,000 open positions over the 3 perpetual markets (50,000 pairs of accounts, each
// pair long and short the same quantity of one market), one risk shard, in-process. Marks come from the oracle (P2 →
// P3 (b): the books are empty after the crosses).
//
// perp.realize-100k: one realization tick — the batch whose AdvanceTime crosses a 10 s mark after the marks moved
//   (±0.1% per round) starts the pass, and the clock ticks the gateway journals while it runs (engine.ts P5S) go on
//   with it: phase 3b realizes at most PASS_VISITS_PER_BATCH_MAX holders a batch (P5, the P6/P7 waterfall, 3 events
//   each), then phase 5 re-evaluates every touched account (Q1).
// perp.funding-100k: one funding interval end — the batch whose AdvanceTime crosses the hour with fresh quotes at
//   unchanged marks, and the ticks after it: the FundingRate of each market starts its payments (P4), made from a
//   cursor a budget a batch, then the hour's realization pass visits every holder and finds nothing to move.
// The engine is single-threaded here, so each batch is one pause: the samples are the batches' wall times (p50, p99,
// and the longest in the notes) and the notes give the CPU time of the whole pass (process.cpuUsage).
import { loadConfig } from "../engine/pipeline/config.ts";
import { Engine } from "../engine/pipeline/index.ts";
import { CommandKind, CommandRecord, EventKind, OracleQuoteFlag, OrderType, Side, TimeInForce, type EventSink } from "../engine/model/index.ts";
import { PASS_VISITS_PER_BATCH_MAX, SettlementReason } from "../engine/risk/index.ts";
import { resultFromSamplesNs, type BenchDef, type BenchResult } from "./harness.ts";
import { getHeapStatistics } from "node:v8";

const PRICE = 1_000_000_000n; // PRICE_DECIMALS = 9
const USDC_UNIT = 1_000_000n;
const T0 = 1_767_225_600_000;
const HOUR = 3_600_000;
const POSITIONS = 100_000;
const ROUNDS = 3;
const BATCH = 1024;
/** The three perpetuals: market id, base asset, price (USD), quantity per position (base units). */
const PERPS = [
  { market: 3, asset: 2, price: 60_000n, quantity: 1_000_000n }, // BTC 0.01
  { market: 4, asset: 3, price: 3_000n, quantity: 10_000_000n }, // ETH 0.1
  { market: 5, asset: 4, price: 150n, quantity: 1_000_000_000n }, // SOL 1
] as const;

class Builder {
  seq = 0;
  private readonly pending: CommandRecord[] = [];
  constructor(private readonly engine: Engine, private readonly sink: EventSink) {}

  add(fields: Partial<CommandRecord>): void {
    this.pending.push(Object.assign(new CommandRecord(), fields, { seq: ++this.seq }));
    if (this.pending.length === BATCH) this.flush();
  }

  flush(): void {
    if (this.pending.length === 0) return;
    this.engine.processBatch(this.pending, this.pending.length, this.sink);
    this.pending.length = 0;
  }

  /** Oracle quotes (3 sources) moving every asset's index to its price × (1 + permille / 1000), at engine time t. */
  quotes(permille: bigint, t: number): void {
    for (const p of PERPS) {
      const price = (p.price * PRICE * (1000n + permille)) / 1000n;
      for (let s = 0; s < 3; s++) {
        this.add({ kind: CommandKind.OracleQuote, asset: p.asset, oracleSource: s, bid: price, ask: price, last: price, sourceTimeMs: t, flags: s === 2 ? OracleQuoteFlag.Apply : 0 });
      }
    }
  }
}

function build(engine: Engine, sink: EventSink): Builder {
  const b = new Builder(engine, sink);
  b.add({ kind: CommandKind.AdvanceTime, timeMs: T0 });
  b.quotes(0n, T0);
  b.flush();
  for (let i = 0; i < POSITIONS; i++) b.add({ kind: CommandKind.Deposit, account: (i + 2) * 16, asset: 0, amount: 10_000n * USDC_UNIT });
  for (let k = 0; k < POSITIONS / 2; k++) {
    const p = PERPS[k % 3]!;
    const order = { kind: CommandKind.PlaceOrder, market: p.market, orderType: OrderType.Limit, tif: TimeInForce.GTC, price: p.price * PRICE, quantity: p.quantity };
    b.add({ ...order, account: (2 * k + 2) * 16, side: Side.Sell });
    b.add({ ...order, account: (2 * k + 3) * 16, side: Side.Buy });
  }
  b.flush();
  return b;
}

/** Runs `b`'s pending commands as one batch, then empty clock ticks at `t` while a pass is pending (engine.ts P5S: the
 * gateway journals them at once). Each batch's wall time into `wall`, its CPU into `batchCpu`; returns [batches, CPU µs
 * of all its batches]. The pass's CPU is the sum of its batches', not process.cpuUsage around the loop: that call
 * costs ~19 µs itself on the loaded machine (getrusage over the process's threads; node --cpu-prof put 12% of this
 * bench's samples in it), two a batch, ~7% of a pass the engine does not spend. */
function pass(engine: Engine, b: Builder, t: number, wall: number[], batchCpu: number[]): [number, number] {
  let batches = 0;
  let cpuUs = 0;
  do {
    if (batches > 0) b.add({ kind: CommandKind.AdvanceTime, timeMs: t });
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    b.flush();
    wall.push(Number(process.hrtime.bigint() - t0));
    const c = process.cpuUsage(c0);
    batchCpu.push(c.user + c.system);
    cpuUs += c.user + c.system;
    batches++;
  } while (engine.passesPending);
  return [batches, cpuUs];
}

/** The V8 heap in use (MB) — the accounts' state and what the passes left: a scavenge walks every old page of it. */
function heapMb(): string {
  return (getHeapStatistics().used_heap_size / 1e6).toFixed(0);
}

function noteOf(what: string, wall: number[], batchCpu: number[], batches: number[], cpuUs: number[], counted: number, kind: string, heapAfterBuild: string): string {
  const meanCpuMs = cpuUs.reduce((x, y) => x + y, 0) / cpuUs.length / 1000;
  const longestMs = wall.reduce((x, y) => (y > x ? y : x), 0) / 1e6;
  const cpuSorted = Float64Array.from(batchCpu).sort();
  const cpuP99Ms = cpuSorted[Math.ceil(0.99 * cpuSorted.length) - 1]! / 1000;
  const cpuMaxMs = cpuSorted[cpuSorted.length - 1]! / 1000;
  return `${POSITIONS} positions over 3 perps, ${what}; ${ROUNDS} rounds, each a pass spread over batches of at most ` +
    `${PASS_VISITS_PER_BATCH_MAX} holder visits (P5S: ${batches.join("/")} batches); p50/p99 = one batch's wall time = one ` +
    `engine pause, LONGEST PAUSE ${longestMs.toFixed(3)} ms wall (a loaded machine preempts: CPU per batch p99 ` +
    `${cpuP99Ms.toFixed(3)} ms, max ${cpuMaxMs.toFixed(3)} ms); CPU per pass (all its batches) mean ${meanCpuMs.toFixed(0)} ms; ` +
    `${counted} ${kind} events in the last round; V8 heap in use ${heapAfterBuild} MB after the build, ${heapMb()} MB at the end`;
}

async function realizeTick(): Promise<BenchResult> {
  const engine = new Engine(loadConfig());
  let settled = 0;
  const sink: EventSink = { publish: (e) => void (e.kind === EventKind.Settlement && settled++) };
  const b = build(engine, sink);
  const heapAfterBuild = heapMb();
  const wall: number[] = [];
  const batchCpu: number[] = [];
  const batches: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = T0 + 10_000 * (r + 1);
    b.add({ kind: CommandKind.AdvanceTime, timeMs: t - 9_000 });
    b.quotes(r % 2 === 0 ? 1n : 0n, t - 9_000); // marks ±0.1%: every position has PnL to realize
    b.flush();
    while (engine.passesPending) pass(engine, b, t - 9_000, [], []); // the build's passes (not timed)
    settled = 0;
    b.add({ kind: CommandKind.AdvanceTime, timeMs: t });
    const [n, us] = pass(engine, b, t, wall, batchCpu);
    batches.push(n);
    cpu.push(us);
    if (settled !== POSITIONS) throw new Error(`realize bench: ${settled} settlement rows, expected ${POSITIONS}`);
  }
  const result = resultFromSamplesNs("perp.realize-100k", Float64Array.from(wall), null);
  result.opsPerSec = null;
  result.notes = noteOf("the pass a 10 s mark starts after the marks moved 0.1% (P5: 1 row, Balance, Position each)", wall, batchCpu, batches, cpu, settled, "Settlement", heapAfterBuild);
  return result;
}

async function fundingEnd(): Promise<BenchResult> {
  const engine = new Engine(loadConfig());
  let settled = 0;
  const sink: EventSink = { publish: (e) => void (e.kind === EventKind.Settlement && e.settlementReason === SettlementReason.Funding && settled++) };
  const b = build(engine, sink);
  const heapAfterBuild = heapMb();
  const wall: number[] = [];
  const batchCpu: number[] = [];
  const batches: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = T0 + HOUR * (r + 1);
    b.add({ kind: CommandKind.AdvanceTime, timeMs: t - 5_000 });
    b.quotes(0n, t - 5_000); // a premium sample; the marks stay, so the hour's realization pass moves nothing
    b.flush();
    while (engine.passesPending) pass(engine, b, t - 5_000, [], []);
    settled = 0;
    b.add({ kind: CommandKind.AdvanceTime, timeMs: t });
    b.quotes(0n, t);
    const [n, us] = pass(engine, b, t, wall, batchCpu);
    batches.push(n);
    cpu.push(us);
    if (settled !== POSITIONS) throw new Error(`funding bench: ${settled} funding rows, expected ${POSITIONS}`);
  }
  const result = resultFromSamplesNs("perp.funding-100k", Float64Array.from(wall), null);
  result.opsPerSec = null;
  result.notes = noteOf("the interval end's payments (P4) and the hour's realization pass at unchanged marks (visits only), L5 interest", wall, batchCpu, batches, cpu, settled, "Settlement (Funding)", heapAfterBuild);
  return result;
}

export const benchmarks: BenchDef[] = [
  { id: "perp.realize-100k", kind: "custom", run: realizeTick },
  { id: "perp.funding-100k", kind: "custom", run: fundingEnd },
];
