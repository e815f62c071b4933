// Q7 what-if: price shocks applied to a COPY of an engine's state (Engine.fromSnapshot of its snapshot), never to the
// engine itself. Stage 0 is one batch of SetMarkPrice commands at the shocked marks (mark × (1 + change), every perpetual
// on the asset moves with it): its batch end (phase 5, Q1) finds the accounts the shock makes liquidating. Then the
// copy runs on by batches of AdvanceTime (one second each), exactly as the server would: engine orders (Q2 book
// steps, D3) and whatever they fill, fees into the insurance fund, accounts leaving liquidation — each batch with any
// of it is a stage of the report, until a quiet batch or STRESS_STAGES_MAX. Before Q2 lands, a shock's cascade is its
// stage 0. The report's figures: the accounts that start (and end) liquidating with their net equity, exposure and
// MMR at the batch end; every liquidating account after the run; engine fills (seq 0) per market; the insurance
// fund (Σ of the slices, D4) per asset after each stage; Q4's bankruptcies found and the lender payouts' loss beyond
// the fund (a Socialization event keeps the run going: a bankruptcy found in one batch is resolved in the next).
import { CommandKind, CommandRecord, EventKind, RATIO_SCALE, SocializationKind, type EventRecord, type EventSink, type ExchangeConfig } from "../model/index.ts";
import { reportedRatio } from "../risk/index.ts";
import { Engine } from "./engine.ts";

/** Stage batches after the shock at most (a cascade still running then is reported as such). */
export const STRESS_STAGES_MAX = 1000;
/** Stage batches after the shock when the caller does not say (crossbook stress --batches, QueryWhatIf stages_max 0). */
export const STRESS_STAGES_DEFAULT = 100;
/** Engine time one stage batch advances, ms (Q2's steps run once per batch). */
export const STRESS_STAGE_MS = 1000;
/** A shock is a change of −100% < change ≤ +1000% (the mark stays positive). */
export const STRESS_SHOCK_RATIO_MIN = -RATIO_SCALE;
export const STRESS_SHOCK_RATIO_MAX = 10n * RATIO_SCALE;

export interface PriceShock {
  readonly asset: number;
  /** The mark's relative change, a signed Ratio (−0.3 = −30%). */
  readonly change: bigint;
}

export interface StressAccount {
  readonly account: number;
  /** USD at PRICE_DECIMALS. */
  readonly netEquityUsd: bigint;
  readonly exposureUsd: bigint;
  /** C7 at REPORTED_RATIO_DECIMALS (REPORTED_RATIO_UNBOUNDED with net equity ≤ 0). */
  readonly mmr: bigint;
}

export interface StressFills {
  readonly market: number;
  readonly fills: number;
  /** Base units. */
  readonly quantity: bigint;
  /** Quote units. */
  readonly quoteQuantity: bigint;
}

export interface StressStage {
  /** 0: the shock's batch; n: the n-th batch after it. */
  readonly stage: number;
  readonly started: StressAccount[];
  readonly ended: StressAccount[];
  /** Engine-originated fills (seq 0) of the stage, per market. */
  readonly fills: StressFills[];
  /** The insurance fund per asset after the stage (asset units). */
  readonly insuranceFund: bigint[];
  /** Q4: accounts found bankrupt in the stage (resolved the stage after), in id order. */
  readonly bankrupt: number[];
  /** Q4: USDC units of the stage's lender payouts beyond the insurance fund (the socialized loss). */
  readonly socializedLossQuote: bigint;
}

export interface StressMark {
  readonly asset: number;
  readonly before: bigint;
  readonly after: bigint;
}

export interface StressReport {
  readonly marks: StressMark[];
  /** Accounts liquidating before the shock. */
  readonly liquidatingBefore: number[];
  readonly stages: StressStage[];
  /** Every liquidating account after the run, with its figures then. */
  readonly liquidatingAfter: StressAccount[];
  /** Σ exposure of liquidatingAfter, USD at PRICE_DECIMALS. */
  readonly liquidatingExposureUsd: bigint;
  readonly insuranceFundBefore: bigint[];
  readonly insuranceFundAfter: bigint[];
  /** Batches run after the shock's (the last one quiet unless stagesMax stopped the run). */
  readonly batchesAfterShock: number;
  /** true when stagesMax stopped a run that was still active. */
  readonly cutShort: boolean;
}

/** Whether a shock list is usable: known assets, each once, within the bounds; null or the problem. */
export function checkShocks(config: ExchangeConfig, shocks: readonly PriceShock[]): string | null {
  const seen = new Set<number>();
  for (const s of shocks) {
    if (!Number.isInteger(s.asset) || s.asset < 0 || s.asset >= config.assets.length) return `unknown asset ${s.asset}`;
    if (seen.has(s.asset)) return `${config.assets[s.asset]!.symbol} is shocked twice`;
    seen.add(s.asset);
    if (s.change <= STRESS_SHOCK_RATIO_MIN || s.change > STRESS_SHOCK_RATIO_MAX) return `${config.assets[s.asset]!.symbol}: a shock must be above -100% and at most +1000%`;
  }
  return null;
}

/** The mark after a shock: mark × (1 + change), rounded down, at least 1 (a positive price). */
export function shockedMark(mark: bigint, change: bigint): bigint {
  const after = (mark * (RATIO_SCALE + change)) / RATIO_SCALE;
  return after > 0n ? after : 1n;
}

function liquidatingIds(engine: Engine): number[] {
  return engine.risk.flatMap((r) => r.liquidatingAccounts()).sort((a, b) => a - b);
}

function insuranceFund(engine: Engine): bigint[] {
  return engine.config.assets.map((a) => engine.risk[0]!.insuranceFund(a.id));
}

function accountOf(e: EventRecord): StressAccount {
  return { account: e.account, netEquityUsd: e.netEquityUsd, exposureUsd: e.exposureUsd, mmr: e.mmr };
}

/** Collects one stage's events: status changes and engine fills (a fill is published by each side's shard: once). */
class StageSink implements EventSink {
  readonly started: StressAccount[] = [];
  readonly ended: StressAccount[] = [];
  private readonly fills = new Map<number, { fills: number; quantity: bigint; quoteQuantity: bigint }>();
  private readonly tradesSeen = new Set<string>();
  private readonly bankrupt: number[] = [];
  private socializedLossQuote = 0n;
  private socializations = 0;

  publish(e: EventRecord): void {
    if (e.kind === EventKind.LiquidationStarted) this.started.push(accountOf(e));
    else if (e.kind === EventKind.LiquidationEnded) this.ended.push(accountOf(e));
    else if (e.kind === EventKind.Fill && e.seq === 0) this.fill(e);
    else if (e.kind === EventKind.Socialization) this.socialization(e);
  }

  /** Q4/Q5: a bankruptcy found, a lender write-down's loss beyond the fund; any step keeps the run going. */
  private socialization(e: EventRecord): void {
    this.socializations++;
    if (e.socializationKind === SocializationKind.Bankrupt) this.bankrupt.push(e.account);
    else if (e.socializationKind === SocializationKind.LenderWriteDown) this.socializedLossQuote += e.socializedLoss;
  }

  private fill(e: EventRecord): void {
    const key = `${e.market}/${e.tradeId}`;
    if (this.tradesSeen.has(key)) return;
    this.tradesSeen.add(key);
    const f = this.fills.get(e.market) ?? { fills: 0, quantity: 0n, quoteQuantity: 0n };
    f.fills++;
    f.quantity += e.quantity;
    f.quoteQuantity += e.quoteQuantity;
    this.fills.set(e.market, f);
  }

  get active(): boolean {
    return this.started.length + this.ended.length + this.fills.size + this.socializations > 0;
  }

  stage(n: number, engine: Engine): StressStage {
    const byAccount = (a: StressAccount, b: StressAccount): number => a.account - b.account;
    const fills = [...this.fills].sort((a, b) => a[0] - b[0]).map(([market, f]) => ({ market, ...f }));
    const bankrupt = this.bankrupt.sort((a, b) => a - b);
    return { stage: n, started: this.started.sort(byAccount), ended: this.ended.sort(byAccount), fills, insuranceFund: insuranceFund(engine), bankrupt, socializedLossQuote: this.socializedLossQuote };
  }
}

/** The shock batch: one SetMarkPrice per shocked asset, at the engine's time. */
function shockBatch(copy: Engine, shocks: readonly PriceShock[], marks: StressMark[]): CommandRecord[] {
  let seq = copy.lastSeq;
  return shocks.map((s) => {
    const before = copy.risk[0]!.markOf(s.asset);
    const after = shockedMark(before, s.change);
    marks.push({ asset: s.asset, before, after });
    return Object.assign(new CommandRecord(), { kind: CommandKind.SetMarkPrice, asset: s.asset, price: after, seq: ++seq });
  });
}

/**
 * Q7: runs `shocks` on a copy of the engine whose snapshot is `snapshot` (Engine.snapshot(); the engine itself is not
 * touched) and reports per stage. `stagesMax` bounds the batches after the shock (≤ STRESS_STAGES_MAX).
 */
export function runStress(config: ExchangeConfig, snapshot: Uint8Array, shocks: readonly PriceShock[], stagesMax = STRESS_STAGES_MAX): StressReport {
  const problem = checkShocks(config, shocks);
  if (problem !== null) throw new RangeError(`stress: ${problem}`);
  const copy = Engine.fromSnapshot(config, snapshot);
  const liquidatingBefore = liquidatingIds(copy);
  const insuranceFundBefore = insuranceFund(copy);
  const marks: StressMark[] = [];
  const shock = shockBatch(copy, shocks, marks);
  const stages: StressStage[] = [];
  const first = new StageSink();
  if (shock.length > 0) copy.processBatch(shock, shock.length, first);
  stages.push(first.stage(0, copy));
  let batches = 0;
  let cutShort = false;
  const bound = Math.min(Math.max(stagesMax, 0), STRESS_STAGES_MAX);
  for (;;) {
    if (batches >= bound) {
      cutShort = bound > 0;
      break;
    }
    const sink = new StageSink();
    const tick = Object.assign(new CommandRecord(), { kind: CommandKind.AdvanceTime, timeMs: copy.risk[0]!.timeMs + STRESS_STAGE_MS, seq: copy.lastSeq + 1 });
    copy.processBatch([tick], 1, sink);
    batches++;
    if (!sink.active) break;
    stages.push(sink.stage(batches, copy));
  }
  const liquidatingAfter = liquidatingIds(copy).map((id) => {
    const m = copy.risk.find((r) => r.owns(id))!.accountMargin(id);
    return { account: id, netEquityUsd: m.netEquityUsd(), exposureUsd: m.totalExposureNotionalUsd(), mmr: reportedRatio(m.mmr()) };
  });
  const liquidatingExposureUsd = liquidatingAfter.reduce((sum, a) => sum + a.exposureUsd, 0n);
  return { marks, liquidatingBefore, stages, liquidatingAfter, liquidatingExposureUsd, insuranceFundBefore, insuranceFundAfter: insuranceFund(copy), batchesAfterShock: batches, cutShort };
}
