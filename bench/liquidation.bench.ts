// Q1's index under load (issue 13): 100,000 accounts borrowing USDC against SOL; one SOL mark move that makes 1% of
// them liquidatable. Timed: the whole batch of that move (R1 of the SetMarkPrice and phase 5: the safe-band lookups,
// the re-evaluation of the accounts found, their LiquidationStarted events and new bands), beside a naive full scan
// of the same accounts (each account's margin synced and tested) in the same run. Rounds alternate the shock and the
// recovery (the recovery batch re-evaluates the liquidating 1% and lets them leave), so each round starts from the
// same state.
import { loadConfig } from "../engine/pipeline/config.ts";
import { Engine } from "../engine/pipeline/index.ts";
import { CommandKind, CommandRecord, EventKind, OrderFlag, type EventSink } from "../engine/model/index.ts";
import { resultFromSamplesNs, type BenchDef, type BenchResult } from "./harness.ts";

const USD = 1_000_000_000n;
const USDC_UNIT = 1_000_000n;
const SOL_UNIT = 1_000_000_000n;
const USDC = 0;
const SOL = 4;
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
  let scanFound = 0;
  for (let r = 0; r < ROUNDS; r++) {
    started = 0;
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
  const result = resultFromSamplesNs("liquidation.mark-shock-100k", shock, null);
  result.opsPerSec = null;
  result.notes =
    `${ACCOUNTS} accounts borrowing USDC against SOL, SOL 150 → 142 makes ${ACCOUNTS / 100} liquidatable: the whole batch ` +
    `(safe-band lookups, re-evaluation, ${ACCOUNTS / 100} LiquidationStarted, new bands), ${ROUNDS} rounds; a naive full ` +
    `scan of the same accounts in the same run (margin synced and tested, found ${scanFound}): p50 ` +
    `${((scan.p50Ns ?? 0) / 1e6).toFixed(2)} ms`;
  return result;
}

export const benchmarks: BenchDef[] = [{ id: "liquidation.mark-shock-100k", kind: "custom", run: markShock }];
