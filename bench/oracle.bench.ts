// Benchmarks of the oracle and the marks (SPEC P2, P3; issue 12's perf list):
// - oracle.update: one index update of one asset with 5 sources end to end through the in-process engine — the
//   update's 5 OracleQuote commands (the last with Apply) as one batch: R1 at the risk shard (replica, index, C1
//   mark, IndexPrice and acknowledgements), the matching shard's replica, and the batch's settlement phase (the marks
//   of the 3 perpetuals: engine.ts decision P3).
// - oracle.settlement-phase: what a settlement batch adds: MatchingShard.endBatch for the 3 perpetuals (each with a
//   two-sided book and a fresh index: EWMA sample, mark by rule (a), moving means, funding sample, band inputs,
//   MarkPrice to risk), then each risk shard setting the marks; the whole AdvanceTime batch is in the notes.
import { CommandKind, CommandRecord, EventRecord, OracleQuoteFlag, Side, type EventSink, type ExchangeConfig } from "../engine/model/index.ts";
import { Engine, loadConfig } from "../engine/pipeline/index.ts";
import { resultFromSamplesNs, type BenchDef, type BenchResult } from "./harness.ts";

const T0 = 1_767_225_600_000;
const BTC = 2;
const SOURCES = 5;
const USD = 1_000_000_000n;
const UPDATES = 20_000;
const WARMUP = 2_000;
const NULL_SINK: EventSink = { publish() {} };

/** The default config with BTC's oracle widened to 5 equal-weight sources. */
function fiveSourceConfig(): ExchangeConfig {
  const config = loadConfig();
  const assets = config.assets.map((a) => {
    if (a.id !== BTC || a.oracle === null) return a;
    const sources = Array.from({ length: SOURCES }, (_, i) => ({ name: `s${i}`, weight: 10n ** 18n }));
    return { ...a, oracle: { ...a.oracle, sources } };
  });
  return { ...config, assets };
}

/** The 5 quotes of one update around `mid` (sources spread ±2 USD), the last with Apply. */
function fillUpdate(batch: CommandRecord[], seq: number, mid: bigint, timeMs: number): void {
  for (let s = 0; s < SOURCES; s++) {
    const c = batch[s]!;
    c.clear();
    c.kind = CommandKind.OracleQuote;
    c.seq = seq + s;
    c.asset = BTC;
    c.oracleSource = s;
    const p = mid + BigInt(s - 2) * USD;
    c.bid = p - USD;
    c.ask = p + USD;
    c.last = p;
    c.sourceTimeMs = timeMs;
    c.flags = s === SOURCES - 1 ? OracleQuoteFlag.Apply : 0;
  }
}

function advance(engine: Engine, seq: number, timeMs: number): void {
  const c = new CommandRecord();
  c.kind = CommandKind.AdvanceTime;
  c.seq = seq;
  c.timeMs = timeMs;
  engine.execute(c, NULL_SINK);
}

async function oracleUpdate(): Promise<BenchResult> {
  const engine = new Engine(fiveSourceConfig());
  advance(engine, 1, T0);
  const batch = Array.from({ length: SOURCES }, () => new CommandRecord());
  const samples = new Float64Array(UPDATES);
  let seq = 2;
  // A walk of ±10 USD per update around 60,000 (inside the 0.25% step limit).
  let mid = 60_000n * USD;
  for (let i = 0; i < WARMUP + UPDATES; i++) {
    mid += (i & 1) === 0 ? 10n * USD : -7n * USD;
    fillUpdate(batch, seq, mid, T0);
    seq += SOURCES;
    const start = process.hrtime.bigint();
    engine.processBatch(batch, SOURCES, NULL_SINK);
    if (i >= WARMUP) samples[i - WARMUP] = Number(process.hrtime.bigint() - start);
  }
  const result = resultFromSamplesNs("oracle.update", samples, null);
  result.notes =
    `one index update = ${SOURCES} OracleQuote commands (one asset, ${SOURCES} sources, the last with Apply) as one batch ` +
    `through the in-process engine (1 risk × 1 matching): R1 replica + P2 index + C1 mark + IndexPrice and 5 acks, the ` +
    `matching replica, and the settlement phase's marks of the 3 perpetuals (empty books: rule (b)); per update ` +
    `(per command: ÷ ${SOURCES})`;
  return result;
}

/** Two resting orders on each perpetual, placed straight into the matching shard (risk does not take perp orders yet). */
function seedPerpBooks(engine: Engine, seq: number): number {
  const config = engine.config;
  const c = new CommandRecord();
  for (const m of config.markets) {
    if (m.kind !== 1) continue;
    const mark = config.assets[m.baseAsset]!.initialMark;
    for (const side of [Side.Buy, Side.Sell]) {
      c.clear();
      c.kind = CommandKind.PlaceOrder;
      c.seq = seq++;
      c.market = m.id;
      c.account = 16;
      c.side = side;
      c.price = side === Side.Buy ? mark - (mark / 1000n / m.tickSize) * m.tickSize : mark + (mark / 1000n / m.tickSize) * m.tickSize;
      c.quantity = m.minQuantity * 10n;
      engine.matching[0]!.handle(c, NULL_SINK);
    }
  }
  return seq;
}

/** Fresh quotes for every perpetual's base asset at the assets' initial marks. */
function quoteAll(engine: Engine, seq: number, timeMs: number): number {
  const c = new CommandRecord();
  for (const m of engine.config.markets) {
    if (m.kind !== 1) continue;
    const a = engine.config.assets[m.baseAsset]!;
    const n = a.oracle!.sources.length;
    for (let s = 0; s < n; s++) {
      c.clear();
      c.kind = CommandKind.OracleQuote;
      c.seq = seq++;
      c.asset = a.id;
      c.oracleSource = s;
      c.bid = a.initialMark;
      c.ask = a.initialMark;
      c.last = a.initialMark;
      c.sourceTimeMs = timeMs;
      c.flags = s === n - 1 ? OracleQuoteFlag.Apply : 0;
      engine.execute(c, NULL_SINK);
    }
  }
  return seq;
}

const SECONDS = 20_000;

async function settlementPhase(): Promise<BenchResult> {
  const engine = new Engine(loadConfig());
  advance(engine, 1, T0);
  let seq = seedPerpBooks(engine, 2);
  const phase = new Float64Array(SECONDS);
  const whole = new Float64Array(SECONDS);
  const matching = engine.matching[0]!;
  const toRisk: EventSink = { publish: (e: EventRecord) => engine.risk[0]!.postTrade(e, NULL_SINK) };
  for (let i = 0; i < WARMUP + SECONDS; i++) {
    const now = T0 + (i + 1) * 1000;
    // Every 5 s, fresh quotes (untimed), so the index stays fresh and the marks take rule (a).
    if (i % 5 === 0) seq = quoteAll(engine, seq, now);
    let start = process.hrtime.bigint();
    advance(engine, seq++, now);
    const batchNs = Number(process.hrtime.bigint() - start);
    // The phase alone, once more in the same second: the EWMA and the means take no second sample, the rest runs.
    matching.setTime(now);
    start = process.hrtime.bigint();
    matching.endBatch(toRisk);
    const phaseNs = Number(process.hrtime.bigint() - start);
    if (i >= WARMUP) {
      whole[i - WARMUP] = batchNs;
      phase[i - WARMUP] = phaseNs;
    }
  }
  const result = resultFromSamplesNs("oracle.settlement-phase", phase, null);
  const batch = resultFromSamplesNs("batch", whole, null);
  result.notes =
    `MatchingShard.endBatch for 3 perpetuals with two-sided books and a fresh index (mark by rule (a), band inputs, ` +
    `predicted funding rate, MarkPrice applied by the risk shard), re-run within the same engine second (no new ` +
    `EWMA / moving-mean sample); the whole AdvanceTime batch that includes a first-in-second phase: mean ` +
    `${((batch.meanNs ?? 0) / 1000).toFixed(2)} µs, p99 ${((batch.p99Ns ?? 0) / 1000).toFixed(2)} µs`;
  return result;
}

export const benchmarks: BenchDef[] = [
  { id: "oracle.update", kind: "custom", run: oracleUpdate },
  { id: "oracle.settlement-phase", kind: "custom", run: settlementPhase },
];
