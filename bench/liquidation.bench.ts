// Q1's index under load (issue 13): 100,000 accounts borrowing USDC against SOL; one SOL mark move that makes 1% of
// them liquidatable. Timed: the whole batch of that move (R1 of the SetMarkPrice and phase 5: the safe-band lookups,
// the re-evaluation of the accounts found and their LiquidationStarted events; a liquidating account keeps no bands),
// and the index's lookup alone before it (RiskShard.liquidationIndexCandidates: the accounts the batch end will
// re-evaluate), beside a naive full scan of the same accounts (each account's margin synced and tested) in the same
// run. Rounds alternate the shock and the
// recovery (the recovery batch re-evaluates the liquidating 1% and lets them leave), so each round starts from the
// same state.
import { loadConfig } from "../engine/pipeline/config.ts";
import { Engine } from "../engine/pipeline/index.ts";
import { CommandKind, CommandRecord, EventKind, LiquidationStep, OrderFlag, OrderType, Side, SocializationKind, TimeInForce, type EventSink } from "../engine/model/index.ts";
import { isEngineOrderId } from "../engine/liquidation/index.ts";
import { SettlementReason } from "../engine/risk/index.ts";
import { resultFromSamplesNs, type BenchDef, type BenchResult } from "./harness.ts";

const USD = 1_000_000_000n;
const USDC_UNIT = 1_000_000n;
const SOL_UNIT = 1_000_000_000n;
const USDC = 0;
const SOL = 4;
const SOL_USDC = 2;
const ACCOUNTS = 100_000;
const ROUNDS = 10;
const BATCH = 1024;
const CALM_CENTS = 15_000n;
const SHOCK_CENTS = 14_200n;

/** Account i's trigger mark in cents: every 100th in (142, 143.2], the others in [30, 141]. */
function triggerCents(i: number): bigint {
  if (i % 100 === 0) return 14_201n + BigInt(i % 110);
  return 3_000n + BigInt((i * 7919) % 11_100);
}

class Builder {
  private seq = 0;
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
}

/** 10 SOL each (collateral 9 × mark at the 0.9 weight) and a USDC borrow L = 9 × trigger / 1.05 withdrawn. */
function build(engine: Engine, sink: EventSink): Builder {
  const b = new Builder(engine, sink);
  b.add({ kind: CommandKind.AdvanceTime, timeMs: 1_767_225_600_000 });
  b.add({ kind: CommandKind.Deposit, account: 16, asset: USDC, amount: 1_000_000_000n * USDC_UNIT });
  b.add({ kind: CommandKind.Lend, account: 16, asset: USDC, amount: 1_000_000_000n * USDC_UNIT });
  for (let i = 0; i < ACCOUNTS; i++) {
    const account = (i + 2) * 16;
    const borrowUnits = (9n * triggerCents(i) * 10_000n * 100n) / 105n;
    b.add({ kind: CommandKind.Deposit, account, asset: SOL, amount: 10n * SOL_UNIT });
    b.add({ kind: CommandKind.Withdraw, account, asset: USDC, amount: borrowUnits, flags: OrderFlag.AutoBorrow });
  }
  b.flush();
  return b;
}

function naiveScanNs(engine: Engine): { ns: number; found: number } {
  const risk = engine.risk[0]!;
  const ids = risk.accountIds();
  const start = process.hrtime.bigint();
  let found = 0;
  for (const id of ids) if (risk.accountMargin(id).isLiquidatable()) found++;
  return { ns: Number(process.hrtime.bigint() - start), found };
}

async function markShock(): Promise<BenchResult> {
  const engine = new Engine(loadConfig());
  let started = 0;
  const sink: EventSink = { publish: (e) => void (e.kind === EventKind.LiquidationStarted && started++) };
  const b = build(engine, sink);
  const shock = new Float64Array(ROUNDS);
  const scans = new Float64Array(ROUNDS);
  const finds = new Float64Array(ROUNDS);
  let scanFound = 0;
  let candidates = 0;
  for (let r = 0; r < ROUNDS; r++) {
    started = 0;
    // The index's lookup alone (read-only): the accounts the shock's batch end will re-evaluate.
    const f0 = process.hrtime.bigint();
    candidates = engine.risk[0]!.liquidationIndexCandidates(SOL, SHOCK_CENTS * (USD / 100n));
    finds[r] = Number(process.hrtime.bigint() - f0);
    b.add({ kind: CommandKind.SetMarkPrice, asset: SOL, price: SHOCK_CENTS * (USD / 100n) });
    const t0 = process.hrtime.bigint();
    b.flush();
    shock[r] = Number(process.hrtime.bigint() - t0);
    if (started !== ACCOUNTS / 100) throw new Error(`liquidation bench: ${started} accounts entered, expected ${ACCOUNTS / 100}`);
    const scan = naiveScanNs(engine);
    scans[r] = scan.ns;
    scanFound = scan.found;
    b.add({ kind: CommandKind.SetMarkPrice, asset: SOL, price: CALM_CENTS * (USD / 100n) });
    b.flush();
  }
  const scan = resultFromSamplesNs("scan", scans, null);
  const find = resultFromSamplesNs("find", finds, null);
  const result = resultFromSamplesNs("liquidation.mark-shock-100k", shock, null);
  result.opsPerSec = null;
  result.notes =
    `${ACCOUNTS} accounts borrowing USDC against SOL, SOL 150 → 142 makes ${ACCOUNTS / 100} liquidatable: the whole batch ` +
    `(safe-band lookups, re-evaluation, ${ACCOUNTS / 100} LiquidationStarted; liquidating accounts keep no bands), ${ROUNDS} rounds; ` +
    `the index's lookup alone finds ${candidates} candidates: p50 ${((find.p50Ns ?? 0) / 1e6).toFixed(3)} ms, max ` +
    `${((find.p999Ns ?? 0) / 1e6).toFixed(3)} ms; a naive full ` +
    `scan of the same accounts in the same run (margin synced and tested, found ${scanFound}): p50 ` +
    `${((scan.p50Ns ?? 0) / 1e6).toFixed(2)} ms`;
  return result;
}

// ---------------------------------------------------------------- liquidation.interest-hour-100k
// L5 + Q1: the batch that crosses an hour mark under the 100,000 borrowers of mark-shock-100k: the USDC pool accrues,
// every borrower's debt grows, and the safe-band index finds those the interest may push over (a borrow index that
// moves is a move of the band key mark × index; liquidation-trigger.ts). Timed: that batch, for HOURS hour marks.
const HOURS = 3;
const HOUR_MS = 3_600_000;

async function interestHour(): Promise<BenchResult> {
  const engine = new Engine(loadConfig());
  const b = build(engine, { publish: () => {} });
  const samples = new Float64Array(HOURS);
  for (let h = 0; h < HOURS; h++) {
    b.add({ kind: CommandKind.AdvanceTime, timeMs: 1_767_225_600_000 + (h + 1) * HOUR_MS });
    const t0 = process.hrtime.bigint();
    b.flush();
    samples[h] = Number(process.hrtime.bigint() - t0);
  }
  const result = resultFromSamplesNs("liquidation.interest-hour-100k", samples, null);
  result.opsPerSec = null;
  result.notes =
    `${ACCOUNTS} accounts borrowing USDC against SOL: the batch that crosses an hour mark (accrual; the band index ` +
    `finds the borrowers the interest may push over), ${HOURS} hours: p50 ${((result.p50Ns ?? 0) / 1e6).toFixed(0)} ms`;
  return result;
}

// ---------------------------------------------------------------- liquidation.cascade-10k
// Issue 13: a 30% crash of SOL (150 → 105) under 10,000 spot-margin accounts (10 SOL each, a USDC borrow with its
// trigger spread over [60, 140]: the 45% above 105 become liquidatable, those above ~117 are under water) and a book
// with liquidity: the maker re-quotes SOL_USDC at the crash, bids every 0.10 from 104.90 down to 55.00, 2,000 SOL each (104,000 SOL within Q2’s 5% bound; the accounts hold 100,000).
// A backstop (Q3) is configured, as an exchange runs one: account 32, 10,000,000 USDC, a 1,000,000 USD limit. Then
// empty batches (the clock policy's ticks, D3) until no account is liquidating, or no account made progress for 20
// batches. Every liquidated account ends healthy again (LiquidationEnded after Q2's steps), taken over by the backstop
// (Q3: below ACMF, or a holding too small for one sale), or bankrupt (Q4: the fund or the lenders cover its deficit).
// Timed: every batch from the crash on, CPU time (process.cpuUsage) beside the wall time.
const CASCADE_ACCOUNTS = 10_000;
const CASCADE_IDLE_BATCHES = 20;
const CASCADE_MAX_BATCHES = 5_000;
const MAKER = 16 * 3;
const BACKSTOP = 16 * 2;
const CRASH_CENTS = 10_500n;

/** Account i of the cascade: 10 SOL and a USDC borrow that makes SOL's trigger price 60 + i × 80 / 10,000 (cents). */
function buildCascade(engine: Engine, sink: EventSink): Builder {
  const b = new Builder(engine, sink);
  b.add({ kind: CommandKind.AdvanceTime, timeMs: 1_767_225_600_000 });
  b.add({ kind: CommandKind.Deposit, account: 16, asset: USDC, amount: 1_000_000_000n * USDC_UNIT });
  b.add({ kind: CommandKind.Lend, account: 16, asset: USDC, amount: 1_000_000_000n * USDC_UNIT });
  b.add({ kind: CommandKind.Deposit, account: MAKER, asset: USDC, amount: 100_000_000n * USDC_UNIT });
  b.add({ kind: CommandKind.Deposit, account: BACKSTOP, asset: USDC, amount: 10_000_000n * USDC_UNIT });
  for (let i = 0; i < CASCADE_ACCOUNTS; i++) {
    const trigger = 6_000n + (BigInt(i) * 8_000n) / BigInt(CASCADE_ACCOUNTS);
    b.add({ kind: CommandKind.Deposit, account: (i + 8) * 16, asset: SOL, amount: 10n * SOL_UNIT });
    b.add({ kind: CommandKind.Withdraw, account: (i + 8) * 16, asset: USDC, amount: (9n * trigger * 10_000n * 100n) / 105n, flags: OrderFlag.AutoBorrow });
  }
  b.flush();
  return b;
}

/** The crash batch: SOL's mark to 105 and the maker's bid ladder below it. */
function crash(b: Builder): void {
  b.add({ kind: CommandKind.SetMarkPrice, asset: SOL, price: CRASH_CENTS * (USD / 100n) });
  for (let cents = CRASH_CENTS - 10n; cents >= 5_500n; cents -= 10n) {
    b.add({
      kind: CommandKind.PlaceOrder, account: MAKER, market: SOL_USDC, side: Side.Buy, orderType: OrderType.Limit,
      tif: TimeInForce.GTC, price: cents * (USD / 100n), quantity: 2_000n * SOL_UNIT,
    });
  }
}

class CascadeCounts {
  started = 0;
  ended = 0;
  fills = 0;
  liquidationFills = 0;
  feesUsdc = 0n;
  /** Q3: accounts the backstop took over; Q4: accounts found bankrupt. */
  readonly takenOver = new Set<number>();
  bankrupt = 0;
  progressed = false;
}

function cascadeSink(c: CascadeCounts): EventSink {
  return {
    publish: (e) => {
      if (e.kind === EventKind.LiquidationStarted) c.started++;
      else if (e.kind === EventKind.LiquidationEnded) (c.ended++, (c.progressed = true));
      else if (e.kind === EventKind.Fill) {
        c.fills++;
        if (isEngineOrderId(e.orderId)) (c.liquidationFills++, (c.progressed = true));
      } else if (e.kind === EventKind.Settlement && e.settlementReason === SettlementReason.LiquidationFee) c.feesUsdc += e.settledAmount;
      else if (e.kind === EventKind.LiquidationTransfer && e.liquidationStep === LiquidationStep.OnBackstop) (c.takenOver.add(e.account), (c.progressed = true));
      else if (e.kind === EventKind.Socialization && e.socializationKind === SocializationKind.Bankrupt) (c.bankrupt++, (c.progressed = true));
    },
  };
}

async function cascade(): Promise<BenchResult> {
  const base = loadConfig();
  const engine = new Engine({ ...base, liquidation: { ...base.liquidation, backstopAccount: BACKSTOP, backstopLimitUsd: 1_000_000n * USD } });
  const counts = new CascadeCounts();
  const sink = cascadeSink(counts);
  const b = buildCascade(engine, sink);
  counts.started = counts.ended = counts.fills = 0;
  crash(b);
  const samples: number[] = [];
  const cpu0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  let idle = 0;
  for (let batch = 0; batch < CASCADE_MAX_BATCHES && idle < CASCADE_IDLE_BATCHES; batch++) {
    counts.progressed = false;
    const t0 = process.hrtime.bigint();
    b.flush();
    if (batch > 0) engine.processBatch([], 0, sink);
    samples.push(Number(process.hrtime.bigint() - t0));
    if (engine.risk[0]!.liquidatingAccounts().length === 0) break;
    idle = counts.progressed ? 0 : idle + 1;
  }
  const cpu = process.cpuUsage(cpu0);
  const wallMs = Number(process.hrtime.bigint() - wall0) / 1e6;
  return cascadeResult(engine, counts, Float64Array.from(samples), (cpu.user + cpu.system) / 1000, wallMs, idle);
}

function cascadeResult(engine: Engine, c: CascadeCounts, samples: Float64Array, cpuMs: number, wallMs: number, idle: number): BenchResult {
  const risk = engine.risk[0]!;
  const left = risk.liquidatingAccounts();
  const reasons = new Map<number, number>();
  for (const id of left) {
    const reason = risk.liquidationStall(id)?.reason ?? -1;
    reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
  }
  const stalled = [...reasons].map(([r, n]) => `${n} NoStepReason ${r}`).join(", ");
  const batches = samples.length - idle;
  const result = resultFromSamplesNs("liquidation.cascade-10k", samples, null);
  result.opsPerSec = null;
  result.notes =
    `${CASCADE_ACCOUNTS} SOL-collateral accounts borrowing USDC, SOL 150 → 105 (−30%) with a 500-level maker bid ladder: ` +
    `${c.started} liquidated; after ${batches} batches ${c.ended} ended (${c.takenOver.size} taken over by the backstop, ` +
    `${c.bankrupt} bankrupt, the rest healthy again); ${c.liquidationFills} liquidation fills, ` +
    `${Number(c.feesUsdc / USDC_UNIT)} USDC of 1% fees to the insurance fund; CPU ${cpuMs.toFixed(0)} ms, wall ` +
    `${wallMs.toFixed(0)} ms; left liquidating: ${left.length}${left.length > 0 ? ` (stalled: ${stalled})` : ""}; per-batch times below`;
  return result;
}

export const benchmarks: BenchDef[] = [
  { id: "liquidation.mark-shock-100k", kind: "custom", run: markShock },
  { id: "liquidation.interest-hour-100k", kind: "custom", run: interestHour },
  { id: "liquidation.cascade-10k", kind: "custom", run: cascade },
];
