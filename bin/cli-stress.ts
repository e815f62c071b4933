// `crossbook stress`: Q7's what-if from the command line. It reads a server's state the way a restart would — the
// newest usable snapshot of DATA/snapshots, then the journal after it (or the whole journal) — into an in-process
// engine of its own, and runs the shocks on a copy of it (engine/pipeline/what-if.ts). The server is never asked or
// touched: its files are only read, so it may keep running (a batch it is still writing is a torn tail, left out).
//   --shock SOL=-30% [--shock BTC=-10% …]    one report: the marks, per stage the accounts that start and end
//                                            liquidating (net equity, exposure, MMR), engine fills, the insurance fund
//   --sweep SOL=-5%..-60% [--steps 12]       the run at each of STEPS shocks from the first to the last (the --shock
//                                            ones held), one JSON line each, and the SVG chart (--out FILE)
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { formatDecimal, tryParseDecimal } from "../engine/fixed/index.ts";
import { emptySummary, listSegments, segmentBatches, SNAPSHOT_DIR, validSnapshots } from "../engine/journal/index.ts";
import { PRICE_DECIMALS, RATIO_DECIMALS, RATIO_SCALE, REPORTED_RATIO_DECIMALS, REPORTED_RATIO_UNBOUNDED, type ExchangeConfig } from "../engine/model/index.ts";
import { checkShocks, configDigest, Engine, runStress, STRESS_STAGES_DEFAULT, STRESS_STAGES_MAX, type PriceShock, type StressAccount, type StressReport } from "../engine/pipeline/index.ts";
import { openSnapshotPayload } from "../gateway/gateway-state.ts";
import { fail, helpRequested, intOption, parse } from "./cli-args.ts";
import { sweepChartSvg, type SweepPoint } from "./stress-chart.ts";

/** Points of a sweep at most. */
export const SWEEP_STEPS_MAX = 100;
const SWEEP_STEPS_DEFAULT = 12;
/** Decimals a shock's percent may carry. */
const SHOCK_PERCENT_DECIMALS = 4;

function assetId(config: ExchangeConfig, symbol: string, what: string): number {
  const a = config.assets.find((x) => x.symbol === symbol);
  if (a === undefined) fail(`stress: ${what}: unknown asset "${symbol}" (assets: ${config.assets.map((x) => x.symbol).join(", ")})`);
  return a.id;
}

/** "-30%" → −0.3 as a Ratio. */
function percentRatio(text: string, what: string): bigint {
  const error = { message: "" };
  const v = tryParseDecimal(text, SHOCK_PERCENT_DECIMALS, true, error);
  if (v === null) fail(`stress: ${what}: "${text}%" is not a percentage (${error.message})`);
  return (v * RATIO_SCALE) / (100n * 10n ** BigInt(SHOCK_PERCENT_DECIMALS));
}

/** `--shock SOL=-30%`. */
export function parseShock(config: ExchangeConfig, text: string): PriceShock {
  const m = /^([A-Za-z0-9_]+)=([+-]?[0-9.]+)%$/.exec(text);
  if (m === null) fail(`stress: --shock ${text}: expected ASSET=CHANGE%, e.g. SOL=-30%`);
  return { asset: assetId(config, m[1]!, `--shock ${text}`), change: percentRatio(m[2]!, `--shock ${text}`) };
}

/** `--sweep SOL=-5%..-60%` with `steps` points: the shocks, first to last, evenly spaced. */
export function parseSweep(config: ExchangeConfig, text: string, steps: number): PriceShock[] {
  const m = /^([A-Za-z0-9_]+)=([+-]?[0-9.]+)%\.\.([+-]?[0-9.]+)%$/.exec(text);
  if (m === null) fail(`stress: --sweep ${text}: expected ASSET=FROM%..TO%, e.g. SOL=-5%..-60%`);
  if (steps < 2 || steps > SWEEP_STEPS_MAX) fail(`stress: --steps must be 2..${SWEEP_STEPS_MAX}`);
  const asset = assetId(config, m[1]!, `--sweep ${text}`);
  const from = percentRatio(m[2]!, `--sweep ${text}`);
  const to = percentRatio(m[3]!, `--sweep ${text}`);
  const out: PriceShock[] = [];
  for (let i = 0; i < steps; i++) out.push({ asset, change: from + ((to - from) * BigInt(i)) / BigInt(steps - 1) });
  return out;
}

/** The server's state as a restart would rebuild it: the newest usable snapshot, then the journal after it. */
export async function loadState(config: ExchangeConfig, dataDir: string): Promise<{ engine: Engine; snapshotSeq: number }> {
  const digest = configDigest(config);
  const snapshots = validSnapshots(join(dataDir, SNAPSHOT_DIR), { configDigestHex: digest, riskShards: 0, matchingShards: 0 }, () => {});
  const newest = (await snapshots.next()).value ?? null;
  await snapshots.return();
  const engine = newest === null ? new Engine(config) : Engine.fromSnapshot(config, openSnapshotPayload(newest.payload).engine);
  const fromSeq = newest === null ? 0 : newest.seq + 1;
  const opts = { configDigestHex: digest, fromSeq, afterBatch: newest?.batch ?? 0 };
  const discard = { publish: (): void => {} };
  try {
    for (const b of segmentBatches(listSegments(dataDir), opts, emptySummary())) engine.processJournalBatch(b.commands, b.count, discard, b.batchNumber);
  } catch (e) {
    fail(`stress: ${dataDir}: ${(e as Error).message}`);
  }
  return { engine, snapshotSeq: newest?.seq ?? 0 };
}

const usd = (x: bigint): string => formatDecimal(x, PRICE_DECIMALS);
const mmrText = (x: bigint): string => (x === REPORTED_RATIO_UNBOUNDED ? "unbounded" : formatDecimal(x, REPORTED_RATIO_DECIMALS));
const percentText = (change: bigint): string => `${formatDecimal(change * 100n, RATIO_DECIMALS)}%`;

function accountJson(a: StressAccount): Record<string, unknown> {
  return { account: a.account, netEquity: usd(a.netEquityUsd), exposure: usd(a.exposureUsd), mmr: mmrText(a.mmr) };
}

function fundJson(config: ExchangeConfig, fund: readonly bigint[]): Record<string, string> {
  return Object.fromEntries(config.assets.map((a) => [a.symbol, formatDecimal(fund[a.id]!, a.decimals)]));
}

/** The report as JSON (decimals as strings, symbols for ids). */
export function reportJson(config: ExchangeConfig, shocks: readonly PriceShock[], r: StressReport): Record<string, unknown> {
  return {
    shocks: shocks.map((s, i) => ({ asset: config.assets[s.asset]!.symbol, change: percentText(s.change), markBefore: usd(r.marks[i]!.before), markAfter: usd(r.marks[i]!.after) })),
    liquidatingBefore: r.liquidatingBefore,
    stages: r.stages.map((st) => ({
      stage: st.stage,
      started: st.started.map(accountJson),
      ended: st.ended.map(accountJson),
      fills: st.fills.map((f) => ({ market: config.markets[f.market]!.symbol, fills: f.fills, quantity: String(f.quantity), quoteQuantity: String(f.quoteQuantity) })),
      insuranceFund: fundJson(config, st.insuranceFund),
      // Q4, only when the stage had any: accounts found bankrupt, lender payouts beyond the fund (USDC units).
      ...(st.bankrupt.length > 0 ? { bankrupt: st.bankrupt } : {}),
      ...(st.socializedLossQuote !== 0n ? { socializedLoss: String(st.socializedLossQuote) } : {}),
    })),
    liquidatingAfter: r.liquidatingAfter.map(accountJson),
    liquidatingExposure: usd(r.liquidatingExposureUsd),
    insuranceFundBefore: fundJson(config, r.insuranceFundBefore),
    insuranceFundAfter: fundJson(config, r.insuranceFundAfter),
    batchesAfterShock: r.batchesAfterShock,
    cutShort: r.cutShort,
  };
}

/** The settlement asset the insurance fund pays from (USDC; else asset 0). */
function usdcOf(config: ExchangeConfig): number {
  return config.assets.find((a) => a.symbol === "USDC")?.id ?? 0;
}

/** One sweep point from a run's report. */
export function sweepPoint(config: ExchangeConfig, change: bigint, r: StressReport): SweepPoint & { liquidatingAccounts: number } {
  const usdc = usdcOf(config);
  const used = r.insuranceFundBefore[usdc]! - r.insuranceFundAfter[usdc]!;
  return {
    shockPercent: Number(change * 100n) / Number(RATIO_SCALE),
    liquidatingAccounts: r.liquidatingAfter.length,
    liquidatingNotionalUsd: Number(r.liquidatingExposureUsd) / 10 ** PRICE_DECIMALS,
    insuranceFundUseUsdc: used > 0n ? Number(used) / 10 ** config.assets[usdc]!.decimals : 0,
  };
}

export async function stressCommand(argv: string[], load: (path: string | undefined) => ExchangeConfig): Promise<void> {
  if (helpRequested(argv, "stress")) return;
  const { values, positionals } = parse(argv, {
    data: { type: "string", default: "data" },
    config: { type: "string" },
    shock: { type: "string", multiple: true },
    sweep: { type: "string" },
    steps: { type: "string" },
    out: { type: "string", default: "stress-sweep.svg" },
    batches: { type: "string" },
  } as const, "stress");
  if (positionals.length > 0) fail(`stress: unexpected argument "${positionals[0]}" (see: crossbook stress --help)`);
  const config = load(values.config as string | undefined);
  const shocks = ((values.shock as unknown as string[] | undefined) ?? []).map((s) => parseShock(config, s));
  const sweepText = values.sweep as string | undefined;
  if (shocks.length === 0 && sweepText === undefined) fail("stress: give at least one --shock ASSET=CHANGE% or a --sweep (see: crossbook stress --help)");
  const batches = intOption(values.batches as string | undefined, "batches", STRESS_STAGES_DEFAULT, 0, STRESS_STAGES_MAX);
  const problem = checkShocks(config, shocks);
  if (problem !== null) fail(`stress: ${problem}`);
  const { engine } = await loadState(config, values.data as string);
  const snapshot = engine.snapshot();
  if (sweepText === undefined) {
    process.stdout.write(`${JSON.stringify(reportJson(config, shocks, runStress(config, snapshot, shocks, batches)), null, 2)}\n`);
    return;
  }
  const steps = intOption(values.steps as string | undefined, "steps", SWEEP_STEPS_DEFAULT, 2, SWEEP_STEPS_MAX);
  const levels = parseSweep(config, sweepText, steps);
  const swept = levels[0]!.asset;
  if (shocks.some((s) => s.asset === swept)) fail(`stress: ${config.assets[swept]!.symbol} is both swept and shocked`);
  const points: SweepPoint[] = [];
  for (const level of levels) {
    const all = [...shocks, level];
    const point = sweepPoint(config, level.change, runStress(config, snapshot, all, batches));
    points.push(point);
    process.stdout.write(`${JSON.stringify({ shock: percentText(level.change), ...point })}\n`);
  }
  const symbol = config.assets[swept]!.symbol;
  const held = shocks.map((s) => `${config.assets[s.asset]!.symbol} ${percentText(s.change)}`).join(", ");
  writeFileSync(values.out as string, sweepChartSvg(points, `Liquidations against a ${symbol} shock${held === "" ? "" : ` (with ${held})`}`, `${symbol} shock (%)`));
  process.stdout.write(`${JSON.stringify({ svg: values.out })}\n`);
}
