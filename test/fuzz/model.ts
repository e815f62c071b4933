// Issue 13 item 8: model-based fuzzing of liquidation. Random price paths with crashes and recoveries (regimes per
// asset) over spot-margin and perpetual accounts, driving the real in-process Engine (engine/pipeline/engine.ts):
// deposits, withdrawals that borrow, borrow / repay / lend / redeem, spot-margin orders (AutoBorrow), perpetual orders,
// cancels, leverage settings, oracle quotes (BTC, SOL: P2 index → C1 marks, P3 perp marks through matching) and
// operator marks (ETH), a market maker re-quoting every market around the moving price (the book liquidity Q2's steps
// trade against) and an arbitrageur trading at the new quotes (so the O4 band follows the price), and clock steps
// through 10 s realization marks (P5) and funding intervals (P4). After every step (one journal batch):
//   X1  for every asset, Σ (available + locked) over the accounts + fee and insurance slices + pool cash − unsettled
//       USDC = deposits − withdrawals; the same with the ledger (lent − borrowed, the pool's exchange share and its
//       roundings). The backstop account (Q3) is an account like any: counted once it exists.
//   X2  every risk shard's validateInternalState (nothing negative, holds backed, margin = recomputation); the pools'
//       own invariants and every replica equal; each shard's insurance-fund replica = Σ of the slices (D4); the
//       matching shards' invariants every MATCHING_CHECK_EVERY steps.
//   Q2  no engine step is refused by matching (a step planned against the market's filters would be refused every
//       batch and stall its account for good: O2's MinNotional did, see test/liquidation-min-notional.test.ts), and
//       no liquidating account goes more than PROGRESS_BOUND_BATCHES batches without progress. Progress: a fill of
//       the account (a book step that executed), a cancel of its orders by the engine (DoneReason Liquidation), a Q3
//       leg or a Q4 ADL leg, a cover of its deficit by the fund (InsuranceCover; with K > 1 the deficit its ADL demand
//       posted two batches earlier: engine.ts "Q4 ADL across shards (as built)", seed 1062833690 at 2 × 2), a Q4/Q5
//       Socialization row, its MMR (MM / E) falling, or its exit (LiquidationEnded). An account whose book step could not be taken or found
//       nothing within the slippage bound (RiskShard.liquidationStall: the hand-over point to Q3's backstop) is counted
//       apart as "stalled, no book step" while BACKSTOP_TAKES_STALLED is false — see that switch.
//   Q4  the insurance fund is never negative without a recorded socialized loss — in USDC by no more than the losses
//       recorded: fund at close-out + Σ LenderWriteDown losses (the part of a write-down beyond the fund's budget, the
//       only path that may take the fund below 0) ≥ 0 at every step. (Before, any Socialization row — even the Bankrupt
//       row that precedes every lending cover — switched the check off for good, so it could not see a double spend of
//       the fund by two cover budgets, test/liquidation-cover-budget.test.ts.) D4 makes the fund the counterparty of
//       realized PnL, so while the winners of a move have realized and the losers still hold their positions its raw
//       USDC balance dips below 0 by what the open positions owe it: the USDC check is on the fund at close-out,
//       fund + Σ cost basis / 10^shift over every perpetual position (floor) — what the fund holds once every open
//       position is realized at any common price (Σ quantities = 0), plus the funding payments a spread interval end
//       (P5S) has still to collect (its receivers may be paid first: seed 4153617179). Other assets: the raw balance.
// A failure throws FuzzFailure naming the rule, the seed and the step; `npm run fuzz -- --seed S --steps N` replays it.
import {
  ACCOUNT_SETTING_VALUE_SHIFT,
  AccountSetting,
  ALL_MARKETS,
  CommandKind,
  CommandRecord,
  DoneReason,
  EventKind,
  LiquidationStep,
  MarketKind,
  OracleQuoteFlag,
  OrderFlag,
  OrderType,
  RATIO_SCALE,
  Side,
  SocializationKind,
  TimeInForce,
  type EventRecord,
  type EventSink,
} from "../../engine/model/index.ts";
import { exchangeShare, validatePoolState } from "../../engine/lending/index.ts";
import { StuckLenders } from "./stuck-lenders.ts";
import { isEngineOrderId } from "../../engine/liquidation/index.ts";
import { Engine, loadConfig, type EngineTopology } from "../../engine/pipeline/index.ts";
import { riskShardOf, SettlementReason } from "../../engine/risk/index.ts";

/**
 * Q3's switch: the model configures a backstop account (BACKSTOP, funded at genesis, a limit no run reaches), so an
 * account the book cannot step ("stalled, no book step") must be taken over, or be bankrupt (Q4), within the
 * progress bound like any other — with any number of risk shards: the backstop takes accounts of every shard
 * (engine.ts "Q3 across shards (as built)") and ADL picks counterparties on every shard, two batches after the
 * bankruptcy is found (engine.ts "Q4 ADL across shards (as built)"). Before the latter, a bankrupt account whose
 * opposing positions were all on other shards got the fund's cover each batch and no ADL (seed 361279826, 2 × 2), so
 * stalls were counted apart with K > 1.
 */
export const BACKSTOP_TAKES_STALLED = true;
/** Q2: the most batches a liquidating account may go without progress (one step a batch; a cancel, then steps). */
export const PROGRESS_BOUND_BATCHES = 4;
/** Event kinds that record a socialized loss: Q4/Q5's Socialization rows and Q4's perpetual ADL SocializedLoss. */
export const SOCIALIZED_LOSS_EVENT_KINDS: readonly number[] = [EventKind.Socialization, EventKind.SocializedLoss];
const MATCHING_CHECK_EVERY = 64;

const BACKSTOP = 176;
const base = loadConfig();
/**
 * The spot markets' O6 band wide open (multipliers 10^-18 and 10^9): the model's crashes move a mark 30% within the
 * band's 5-minute mean, and the regression cases that pin this model's trajectories (test/liquidation-cover-funding,
 * test/liquidation-fuzz) come from before O6 reached the spot markets; the band is tested on its own
 * (test/spot-mean-mark-band.test.ts) and the perpetuals keep theirs here.
 */
const SPOT_BAND_OPEN = { minMultiplier: 1n, maxMultiplier: 1_000_000_000n * RATIO_SCALE };
const config = {
  ...base,
  markets: base.markets.map((m) => (m.kind === MarketKind.Perpetual ? m : { ...m, meanMarkBand: SPOT_BAND_OPEN })),
  liquidation: { ...base.liquidation, backstopAccount: BACKSTOP, backstopLimitUsd: 10n ** 12n * 1_000_000_000n },
};
const ASSETS = config.assets.length;
const USDC = 0;
const USDT = 1;
const BTC = 2;
const ETH = 3;
const SOL = 4;
const USD = 1_000_000_000n; // PRICE_DECIMALS
const T0 = 1_767_225_600_000;
const SPOT = [0, 1, 2]; // BTC_USDC, ETH_USDC, SOL_USDC
const PERPS = [3, 5]; // BTC_USDC_PERP, SOL_USDC_PERP (their marks come from the oracle, P3)
const MARKETS = [...SPOT, ...PERPS];
const ORACLE_ASSETS = [BTC, SOL];
const PRICED = [BTC, ETH, SOL];
/** P2: the index moves at most 0.25% per update (config maxPriceUpdateMultiplier): updates per price step at most. */
const ORACLE_UPDATES_MAX = 60;
const ORACLE_STEP = 1.0025;
const TRADERS = [32, 33, 48, 49, 64, 65, 80, 96, 112, 113];
const MAKER = 128;
const ARB = 144;
const LENDER = 160;
const UNIT = config.assets.map((a) => a.unit);
const INITIAL_USD = config.assets.map((a) => Number(a.initialMark / USD));

/** sfc32 seeded through splitmix32: deterministic, fast, 2^32 seeds. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t / 4294967296;
  }

  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
}

/** An invariant broken at a step: the rule, what, and how to reproduce. */
export class FuzzFailure extends Error {
  constructor(
    readonly rule: string,
    readonly detail: string,
    readonly seed: number,
    readonly step: number,
    topology: EngineTopology,
  ) {
    const shards = topology.riskShards === 1 && topology.matchingShards === 1 ? "" : ` --risk-shards ${topology.riskShards} --matching-shards ${topology.matchingShards}`;
    super(`${rule} broken at step ${step} of seed ${seed}: ${detail} (reproduce: npm run fuzz -- --seed ${seed} --steps ${step}${shards})`);
  }
}

/** What a run did (summed over models by the runner). */
export class FuzzStats {
  steps = 0;
  batches = 0;
  fills = 0;
  liquidationFills = 0;
  liquidationCancels = 0;
  liquidationsStarted = 0;
  liquidationsEnded = 0;
  /** USDC units of Q2's 1% fee (Settlement rows, reason LiquidationFee). */
  liquidationFeesUsdc = 0n;
  crashes = 0;
  pumps = 0;
  oracleUpdates = 0;
  fundingRates = 0;
  realizations = 0;
  borrows = 0;
  rejects = 0;
  /** Q3 legs (LiquidationTransfer OnBackstop), and those whose account is on another risk shard than the backstop. */
  backstopLegs = 0;
  backstopLegsCrossShard = 0;
  /** Q4 ADL legs (LiquidationTransfer OnAdl), and those whose counterparty is on another risk shard. */
  adlLegs = 0;
  adlLegsCrossShard = 0;
  /** Q5 lender ADL legs (the lender's LenderAdl Socialization), and those whose borrower is on another risk shard. */
  lenderAdlLegs = 0;
  lenderAdlLegsCrossShard = 0;
  /** Q4 (and Q3) covers: InsuranceCover Settlement rows, the fund paying a liquidated account's deficit. */
  insuranceCovers = 0;
  /** Longest run of batches without progress of a liquidating account (a stalled one too while BACKSTOP_TAKES_STALLED). */
  maxBatchesWithoutProgress = 0;
  /** Distinct (account, liquidation) episodes that were "stalled, no book step" at some batch (Q3's share). */
  stalledNoBookStep = 0;
  /** Batches in which at least one liquidating account was stalled with no book step. */
  stalledBatches = 0;
  /** Lowest insurance fund seen (USDC units): raw, and at close-out (see the module comment). */
  minInsuranceRawUsdc = 0n;
  minInsuranceCloseOutUsdc = 0n;
  finalInsuranceUsdc = 0n;
  /** Σ of the LenderWriteDown losses recorded (USDC units): how far below 0 the fund may be (Q4). */
  writeDownLossUsdc = 0n;

  add(o: FuzzStats): void {
    for (const k of Object.keys(this) as (keyof FuzzStats)[]) {
      const v = this[k];
      const w = o[k];
      if (k === "maxBatchesWithoutProgress") this.maxBatchesWithoutProgress = Math.max(this.maxBatchesWithoutProgress, o.maxBatchesWithoutProgress);
      else if (k === "minInsuranceRawUsdc" || k === "minInsuranceCloseOutUsdc") (this[k] as bigint) = (w as bigint) < (v as bigint) ? (w as bigint) : (v as bigint);
      else if (typeof v === "number") (this[k] as number) = v + (w as number);
      else if (typeof v === "bigint") (this[k] as bigint) = v + (w as bigint);
    }
  }
}

/** Per asset: where its price regime is. */
interface PricePath {
  usd: number;
  /** Steps left of a crash (< 0) or pump (> 0); 0 = calm. */
  trend: number;
}

/** A liquidating account's watch (Q2 progress). */
interface Watch {
  batches: number;
  mm: bigint;
  equity: bigint;
  stalledCounted: boolean;
}

export class FuzzModel {
  readonly engine: Engine;
  readonly stats = new FuzzStats();
  private readonly rng: Rng;
  private seq = 0;
  private timeMs = T0;
  private readonly netIn = new Array<bigint>(ASSETS).fill(0n);
  /** The traders' resting orders (the maker's are re-quoted wholesale). */
  private readonly open: { id: number; account: number; market: number; price: bigint }[] = [];
  /** Per market: the last trade price (0: none yet). */
  private readonly lastTrade = config.markets.map(() => 0n);
  private readonly cmds: CommandRecord[] = [];
  private readonly sink: EventSink;
  private readonly paths: PricePath[];
  /** Accounts with progress in the batch being run (fill, engine cancel, exit). */
  private readonly progressed = new Set<number>();
  private readonly watch = new Map<number, Watch>();
  private readonly socialized = new Array<boolean>(ASSETS).fill(false);
  /** An engine order (Q2 step) matching refused: planned against its filters, it would be refused every batch. */
  private refusedStep: string | null = null;
  private stepNo = 0;
  /** Tests: sees every event of a step after the model did (the record is reused: copy what it keeps). */
  onEvent: ((e: EventRecord, step: number) => void) | null = null;
  /** Q5: the stuck lenders of an episode that runs them (stuck-lenders.ts), else null. */
  private readonly stuck: StuckLenders | null = null;

  constructor(
    readonly seed: number,
    readonly topology: EngineTopology = { riskShards: 1, matchingShards: 1 },
    stuckLenders = false,
  ) {
    this.rng = new Rng(seed);
    this.engine = new Engine(config, topology);
    this.sink = { publish: (e) => this.observe(e) };
    this.paths = config.assets.map((_, a) => ({ usd: INITIAL_USD[a]!, trend: 0 }));
    this.genesis();
    if (stuckLenders) {
      const own = new Rng(seed ^ 0x5bd1e995); // Q5: the stuck lenders' own stream (stuck-lenders.ts)
      this.stuck = new StuckLenders(this.engine, () => own.next(), (f) => this.cmd(f));
    }
  }

  /** The lender, the market maker and the arbitrageur, funded; the first oracle quotes and quotes in every book. */
  private genesis(): void {
    const c = this.cmds;
    c.length = 0;
    c.push(this.cmd({ kind: CommandKind.AdvanceTime, timeMs: this.timeMs }));
    for (const [asset, whole] of [[USDC, 50_000_000n], [BTC, 500n], [ETH, 10_000n], [SOL, 200_000n]] as const) {
      c.push(this.deposit(LENDER, asset, whole * UNIT[asset]!));
      c.push(this.cmd({ kind: CommandKind.Lend, account: LENDER, asset, amount: whole * UNIT[asset]! }));
    }
    for (const [asset, whole] of [[USDC, 1_000_000_000n], [BTC, 20_000n], [ETH, 300_000n], [SOL, 5_000_000n]] as const) {
      c.push(this.deposit(MAKER, asset, whole * UNIT[asset]!));
      c.push(this.deposit(ARB, asset, (whole / 10n) * UNIT[asset]!));
    }
    c.push(this.deposit(BACKSTOP, USDC, 500_000_000n * UNIT[USDC]!)); // Q3: the backstop liquidity provider
    this.run();
    for (const asset of ORACLE_ASSETS) this.oracleTo(asset);
    this.run();
    this.quoteAll();
    this.run();
  }

  private cmd(fields: Partial<CommandRecord>): CommandRecord {
    return Object.assign(new CommandRecord(), fields, { seq: ++this.seq });
  }

  private deposit(account: number, asset: number, amount: bigint): CommandRecord {
    return this.cmd({ kind: CommandKind.Deposit, account, asset, amount });
  }

  private observe(e: EventRecord): void {
    if (this.onEvent !== null) this.onEvent(e, this.stepNo);
    const st = this.stats;
    switch (e.kind) {
      case EventKind.Fill:
        st.fills++;
        this.lastTrade[e.market] = e.price;
        this.progressed.add(e.account);
        this.progressed.add(e.makerAccount);
        if (isEngineOrderId(e.orderId)) st.liquidationFills++;
        return;
      case EventKind.OrderAccepted:
        if (!isEngineOrderId(e.orderId) && e.account !== MAKER) this.open.push({ id: e.orderId, account: e.account, market: e.market, price: e.price });
        return;
      case EventKind.OrderDone:
        if (e.code === DoneReason.Liquidation) {
          st.liquidationCancels++;
          this.progressed.add(e.account);
        }
        this.forget(e.orderId);
        return;
      case EventKind.OrderRejected:
      case EventKind.CommandRejected:
        st.rejects++;
        if (e.kind === EventKind.OrderRejected) this.forget(e.orderId);
        if (e.kind === EventKind.OrderRejected && isEngineOrderId(e.orderId) && this.refusedStep === null) {
          this.refusedStep = `account ${e.account}'s step in market ${e.market} refused by matching (RejectCode ${e.code})`;
        }
        return;
      case EventKind.CommandAccepted:
        if (e.acceptedKind === CommandKind.Deposit) this.netIn[e.asset] = this.netIn[e.asset]! + e.commandAmount;
        else if (e.acceptedKind === CommandKind.Withdraw) this.netIn[e.asset] = this.netIn[e.asset]! - e.commandAmount;
        else if (e.acceptedKind === CommandKind.Borrow) st.borrows++;
        return;
      case EventKind.LiquidationStarted:
        st.liquidationsStarted++;
        return;
      case EventKind.LiquidationEnded:
        st.liquidationsEnded++;
        this.progressed.add(e.account);
        return;
      case EventKind.LiquidationTransfer: // Q3 takeover or Q4 ADL leg: progress of the account that gives
        this.progressed.add(e.account);
        if (e.liquidationStep === LiquidationStep.OnBackstop) {
          st.backstopLegs++;
          if (riskShardOf(e.account, this.topology.riskShards) !== riskShardOf(e.makerAccount, this.topology.riskShards)) st.backstopLegsCrossShard++;
        } else if (e.liquidationStep === LiquidationStep.OnAdl) {
          st.adlLegs++;
          if (riskShardOf(e.account, this.topology.riskShards) !== riskShardOf(e.makerAccount, this.topology.riskShards)) st.adlLegsCrossShard++;
        }
        return;
      case EventKind.FundingRate:
        st.fundingRates++;
        return;
      case EventKind.Settlement:
        if (e.settlementReason === SettlementReason.LiquidationFee) st.liquidationFeesUsdc += e.settledAmount;
        else if (e.settlementReason === SettlementReason.Realization) st.realizations++;
        else if (e.settlementReason === SettlementReason.InsuranceCover) {
          // Q4 (Q3's takeover too): the fund paid the account's deficit, or the deficit its demand posted two batches
          // earlier with K > 1 — a step of its bankruptcy (engine.ts "Q4 ADL across shards (as built)", the round).
          st.insuranceCovers++;
          this.progressed.add(e.account);
        }
        return;
      default:
        if (!SOCIALIZED_LOSS_EVENT_KINDS.includes(e.kind)) return;
        this.progressed.add(e.account); // a Q4/Q5 step of the account's bankruptcy (or its lender ADL)
        this.socialized[e.asset] = true;
        // A Socialization's USDC amounts are in its market's quote asset (the borrowed asset is e.asset).
        if (e.kind === EventKind.Socialization) this.socialized[config.markets[e.market]!.quoteAsset] = true;
        if (e.kind === EventKind.Socialization && e.socializationKind === SocializationKind.LenderAdl && e.socializedAmount > 0n) {
          this.stats.lenderAdlLegs++; // the lender's event of a leg (its borrower's carries −amount)
          if (riskShardOf(e.account, this.topology.riskShards) !== riskShardOf(e.counterpartyAccount, this.topology.riskShards)) this.stats.lenderAdlLegsCrossShard++;
        }
        // Q4: the fund pays a write-down beyond its budget and goes below 0 by exactly the loss on the account's row.
        if (e.kind === EventKind.Socialization && e.socializationKind === SocializationKind.LenderWriteDown && e.account !== 0) {
          if (config.markets[e.market]!.quoteAsset !== USDC) this.fail("Q4", `a write-down loss of ${e.socializedLoss} in asset ${config.markets[e.market]!.quoteAsset}, not USDC`);
          this.stats.writeDownLossUsdc += e.socializedLoss;
        }
    }
  }

  private forget(orderId: number): void {
    for (let i = this.open.length - 1; i >= 0; i--) {
      if (this.open[i]!.id === orderId) {
        this.open.splice(i, 1);
        return;
      }
    }
  }

  /** Runs the queued commands as one batch (an empty one too: phase 0's steps run every batch). */
  private run(): void {
    this.progressed.clear();
    this.engine.processBatch(this.cmds, this.cmds.length, this.sink);
    this.cmds.length = 0;
    this.stats.batches++;
  }

  // ------------------------------------------------------------------ prices

  /** A price step of one asset: calm drift, or one leg of a crash / pump (regimes of 2–6 legs of 4–12%). */
  private movePrice(asset: number): void {
    const rng = this.rng;
    const path = this.paths[asset]!;
    const ratio = path.usd / INITIAL_USD[asset]!;
    if (path.trend === 0) {
      const r = rng.next();
      if (r < (ratio > 0.5 ? 0.1 : 0.02)) {
        path.trend = -rng.int(2, 6);
        this.stats.crashes++;
      } else if (r > (ratio < 1.6 ? 0.93 : 0.99)) {
        path.trend = rng.int(2, 5);
        this.stats.pumps++;
      }
    }
    let pct: number;
    if (path.trend < 0) {
      pct = -rng.int(4, 12);
      path.trend++;
    } else if (path.trend > 0) {
      pct = rng.int(4, 12);
      path.trend--;
    } else {
      pct = (rng.next() - 0.5 + (ratio < 0.7 ? 0.15 : 0)) * 3; // calm, drifting back up after a deep crash
    }
    path.usd = Math.min(INITIAL_USD[asset]! * 3, Math.max(INITIAL_USD[asset]! * 0.2, path.usd * (1 + pct / 100)));
    if (ORACLE_ASSETS.includes(asset)) this.oracleTo(asset);
    else this.cmds.push(this.cmd({ kind: CommandKind.SetMarkPrice, asset, price: this.priceUsd(asset) }));
  }

  /** The path's price of `asset` in USD at PRICE_DECIMALS, 5 significant digits. */
  private priceUsd(asset: number): bigint {
    const usd = this.paths[asset]!.usd;
    const digits = Math.max(0, 4 - Math.floor(Math.log10(usd)));
    return (BigInt(Math.round(usd * 10 ** digits)) * USD) / 10n ** BigInt(digits);
  }

  /** P2: enough updates (three sources each, the last applies) for the index to reach the path, at most 60 a step. */
  private oracleTo(asset: number): void {
    const target = this.priceUsd(asset);
    const index = this.engine.risk[0]!.markOf(asset);
    const gap = index > 0n ? Math.abs(Math.log(Number(target) / Number(index))) : 0;
    const updates = Math.min(ORACLE_UPDATES_MAX, Math.ceil(gap / Math.log(ORACLE_STEP)) + 1);
    for (let u = 0; u < updates; u++) {
      for (const source of [0, 1, 2]) {
        this.cmds.push(this.cmd({
          kind: CommandKind.OracleQuote, asset, oracleSource: source, bid: target, ask: target, last: target,
          sourceTimeMs: this.timeMs, flags: source === 2 ? OracleQuoteFlag.Apply : 0,
        }));
      }
    }
    this.stats.oracleUpdates += updates;
  }

  /**
   * Where market m's book trades: its base asset's path price, but at most 18% from the last trade. O4 refuses limits
   * 25% from the book's active price, so a book the path left behind in one leg could never catch up; it follows
   * through the arbitrageur's trade at each re-quote instead, lagging the oracle in a steep crash as real books do.
   */
  private center(m: number): bigint {
    const path = this.priceUsd(config.markets[m]!.baseAsset);
    const last = this.lastTrade[m]!;
    if (last === 0n) return path;
    const low = (last * 82n) / 100n;
    const high = (last * 118n) / 100n;
    return path < low ? low : path > high ? high : path;
  }

  /** Market m's price `permille` ‰ from its center, on its tick grid. */
  private price(m: number, permille: number): bigint {
    const market = config.markets[m]!;
    const p = ((this.center(m) * BigInt(1000 + permille)) / 1000n / market.tickSize) * market.tickSize;
    return p < market.minPrice ? market.minPrice : p;
  }

  /** Base quantity worth about `usd` dollars in market m, on its step grid (at least one step). */
  private quantity(m: number, usd: number): bigint {
    const market = config.markets[m]!;
    const whole = usd / this.paths[market.baseAsset]!.usd;
    const steps = BigInt(Math.max(1, Math.floor((whole * Number(UNIT[market.baseAsset]!)) / Number(market.stepSize))));
    return steps * market.stepSize;
  }

  // ------------------------------------------------------------------ the market maker and the arbitrageur

  /**
   * The traders cancel their orders 8% or more from the book's center (a stale bid above the market would hold O4's
   * active price up and every new quote out); the maker cancels everything and quotes three levels a side in every
   * market; the arbitrageur takes the touch.
   */
  private quoteAll(): void {
    this.cancelStale();
    this.cmds.push(this.cmd({ kind: CommandKind.CancelAll, account: MAKER, market: ALL_MARKETS }));
    for (const m of MARKETS) this.quoteMarket(m);
    for (const m of MARKETS) this.arbTrade(m);
  }

  /** After a price step: the same for the markets of `asset` only. */
  private quote(asset: number): void {
    this.cancelStale();
    for (const m of MARKETS) {
      if (config.markets[m]!.baseAsset !== asset) continue;
      this.cmds.push(this.cmd({ kind: CommandKind.CancelAll, account: MAKER, market: m }));
      this.quoteMarket(m);
      this.arbTrade(m);
    }
  }

  private cancelStale(): void {
    for (const o of this.open) {
      const center = this.center(o.market);
      const gap = o.price > center ? o.price - center : center - o.price;
      if (gap * 100n >= center * 8n) this.cmds.push(this.cmd({ kind: CommandKind.CancelOrder, account: o.account, market: o.market, orderId: o.id }));
    }
  }

  private quoteMarket(m: number): void {
    for (const [permille, usd] of [[2, 40_000], [10, 150_000], [40, 400_000]] as const) {
      this.cmds.push(this.order(MAKER, m, Side.Buy, OrderType.Limit, TimeInForce.GTC, this.price(m, -permille), this.quantity(m, usd), 0));
      this.cmds.push(this.order(MAKER, m, Side.Sell, OrderType.Limit, TimeInForce.GTC, this.price(m, permille), this.quantity(m, usd), 0));
    }
  }

  private arbTrade(m: number): void {
    const side = this.rng.next() < 0.5 ? Side.Buy : Side.Sell;
    this.cmds.push(this.order(ARB, m, side, OrderType.Limit, TimeInForce.IOC, this.price(m, side === Side.Buy ? 3 : -3), this.quantity(m, 200), 0));
  }

  private order(account: number, market: number, side: Side, type: OrderType, tif: TimeInForce, price: bigint, quantity: bigint, flags: number): CommandRecord {
    return this.cmd({ kind: CommandKind.PlaceOrder, account, market, side, orderType: type, tif, price: type === OrderType.Limit ? price : 0n, quantity, flags });
  }

  // ------------------------------------------------------------------ traders

  /** One random trader action into the batch. */
  private traderAction(): void {
    const rng = this.rng;
    const a = rng.pick(TRADERS);
    const r = rng.next();
    if (r < 0.05) this.topUp();
    else if (r < 0.12) this.traderDeposit(a);
    else if (r < 0.2) this.traderBorrowOut(a);
    else if (r < 0.42) this.spotMarginOrder(a);
    else if (r < 0.72) this.perpOrder(a);
    else if (r < 0.8) this.cancelSome();
    else if (r < 0.92) this.poolAction(a);
    else this.settings(a);
  }

  private usdAmount(asset: number, usd: number): bigint {
    return BigInt(Math.max(1, Math.floor((usd / this.paths[asset]!.usd) * Number(UNIT[asset]!))));
  }

  private traderDeposit(a: number): void {
    const asset = this.rng.pick([USDC, USDC, USDT, BTC, ETH, SOL, SOL]);
    this.cmds.push(this.deposit(a, asset, this.usdAmount(asset, this.rng.int(500, 20_000))));
  }

  /**
   * A liquidating trader tops its account up with USDC (allowed while liquidating, Q1): its deficit and twice its
   * maintenance margin, so it leaves at the exit MMR. Until Q3/Q4 resolve the accounts the book cannot step, this keeps
   * a long run's traders trading rather than frozen.
   */
  private topUp(): void {
    for (const r of this.engine.risk) {
      const ids = r.liquidatingAccounts();
      if (ids.length === 0) continue;
      const id = this.rng.pick(ids);
      const margin = r.accountMargin(id);
      const needUsd = 2n * margin.maintenanceMarginUsd() - margin.netEquityUsd();
      this.cmds.push(this.deposit(id, USDC, (needUsd > 0n ? needUsd / 1000n : 0n) + 1_000n * UNIT[USDC]!));
      return;
    }
  }

  /** A withdrawal that borrows (L, C: the collateral carries it): USDC, or an asset out (a short). */
  private traderBorrowOut(a: number): void {
    const asset = this.rng.pick([USDC, USDC, SOL, BTC, ETH]);
    const amount = this.usdAmount(asset, this.rng.int(100, 8_000));
    this.cmds.push(this.cmd({ kind: CommandKind.Withdraw, account: a, asset, amount, flags: OrderFlag.AutoBorrow }));
  }

  private spotMarginOrder(a: number): void {
    const rng = this.rng;
    const m = rng.pick(SPOT);
    const side = rng.next() < 0.6 ? Side.Buy : Side.Sell;
    const flags = rng.pick([OrderFlag.AutoBorrow, OrderFlag.AutoBorrow | OrderFlag.AutoBorrowRepay, 0, OrderFlag.AutoBorrowRepay]);
    const market = rng.next() < 0.3;
    const off = rng.int(-5, 15) * (side === Side.Buy ? 1 : -1);
    const type = market ? OrderType.Market : OrderType.Limit;
    const tif = market ? TimeInForce.IOC : rng.pick([TimeInForce.GTC, TimeInForce.IOC]);
    this.cmds.push(this.order(a, m, side, type, tif, this.price(m, off), this.quantity(m, this.levered(a, 4)), flags));
  }

  private perpOrder(a: number): void {
    const rng = this.rng;
    const m = rng.pick(PERPS);
    const side = rng.next() < 0.55 ? Side.Buy : Side.Sell;
    const reduce = rng.next() < 0.15;
    const market = rng.next() < 0.35;
    const off = rng.int(-5, 15) * (side === Side.Buy ? 1 : -1);
    const type = market ? OrderType.Market : OrderType.Limit;
    const tif = market ? TimeInForce.IOC : rng.pick([TimeInForce.GTC, TimeInForce.IOC, TimeInForce.IOC]);
    this.cmds.push(this.order(a, m, side, type, tif, this.price(m, off), this.quantity(m, this.levered(a, 10)), reduce ? OrderFlag.ReduceOnly : 0));
  }

  /** An order's USD size: the account's net equity (C3) times up to `leverage` (high: crashes must liquidate). */
  private levered(a: number, leverage: number): number {
    const r = this.engine.risk.find((x) => x.owns(a))!;
    const equityUsd = Number(r.accountMargin(a).netEquityUsd() / USD);
    return Math.min(500_000, Math.max(500, equityUsd * (0.3 + this.rng.next() * leverage)));
  }

  private cancelSome(): void {
    if (this.open.length === 0) return;
    const o = this.open[Math.max(0, this.open.length - 1 - this.rng.int(0, 10))]!;
    this.cmds.push(this.cmd({ kind: CommandKind.CancelOrder, account: o.account, market: o.market, orderId: o.id }));
  }

  private poolAction(a: number): void {
    const rng = this.rng;
    const kind = rng.pick([CommandKind.Borrow, CommandKind.Borrow, CommandKind.Repay, CommandKind.Repay, CommandKind.Lend, CommandKind.Redeem]);
    const asset = rng.pick([USDC, USDC, SOL, BTC, ETH]);
    const all = (kind === CommandKind.Repay || kind === CommandKind.Redeem) && rng.next() < 0.5;
    this.cmds.push(this.cmd({ kind, account: a, asset, amount: all ? 0n : this.usdAmount(asset, rng.int(100, 10_000)) }));
  }

  private settings(a: number): void {
    const bits = AccountSetting.AutoLend | AccountSetting.AutoBorrowSettlements | AccountSetting.AutoRepayBorrows;
    const mask = this.rng.int(0, bits) & bits;
    const values = this.rng.int(0, bits) & mask;
    const leverage = this.rng.pick([0, 0, 2, 5, 10, 20, 50]);
    this.cmds.push(this.cmd({ kind: CommandKind.UpdateAccountSettings, account: a, leverageLimit: leverage, flags: mask | (values << ACCOUNT_SETTING_VALUE_SHIFT) }));
  }

  // ------------------------------------------------------------------ steps

  /** One step: one journal batch of random commands, then every check. */
  step(): void {
    this.stepNo++;
    this.stats.steps++;
    const rng = this.rng;
    // The feed's second (P3 samples the mark into O6's 5-minute mean once an engine second): most batches are a second
    // later than the one before, as with a feed quoting every second and the clock policy's ticks.
    if (rng.next() < 0.8) this.tick(1_000);
    const r = rng.next();
    if (r < 0.22) {
      const asset = rng.pick(PRICED);
      this.movePrice(asset);
      this.quote(asset);
    } else if (r < 0.32) {
      this.timeStep();
    } else if (r < 0.4) {
      this.quoteAll();
    } else if (r < 0.47) {
      // An empty batch: the clock policy's tick while liquidations are due (D3), nothing but phase 0's steps.
    } else {
      for (let n = rng.pick([1, 1, 1, 2, 3, 5]); n > 0; n--) this.traderAction();
    }
    if (this.stuck !== null) this.stuck.step(this.cmds);
    this.run();
    this.check();
  }

  /** Clock steps across 10 s realization marks (P5) and funding interval ends (P4, hourly), hourly interest (L5). */
  private timeStep(): void {
    this.tick(this.rng.pick([2_000, 5_000, 10_000, 10_000, 60_000, 600_000, 1_800_000, 3_600_000]));
    for (const asset of ORACLE_ASSETS) this.oracleTo(asset); // the feed keeps the sources fresh
  }

  private tick(ms: number): void {
    this.timeMs += ms;
    this.cmds.push(this.cmd({ kind: CommandKind.AdvanceTime, timeMs: this.timeMs }));
  }

  // ------------------------------------------------------------------ checks

  private fail(rule: string, detail: string): never {
    throw new FuzzFailure(rule, detail, this.seed, this.stepNo, this.topology);
  }

  /** Every invariant after a step (see the module comment). */
  check(): void {
    const risk = this.engine.risk;
    for (const r of risk) {
      try {
        r.validateInternalState();
      } catch (err) {
        this.fail("X2", (err as Error).message);
      }
    }
    const replica = risk[0]!.pools.hashText();
    for (const r of risk) if (r.pools.hashText() !== replica) this.fail("X2", "pool replicas differ between risk shards");
    const unsettled = this.unsettledUsdc();
    for (let asset = 0; asset < ASSETS; asset++) this.checkAsset(asset, asset === USDC ? unsettled : 0n);
    this.checkInsurance();
    if (this.refusedStep !== null) this.fail("Q2", this.refusedStep);
    this.checkProgress();
    if (this.stepNo % MATCHING_CHECK_EVERY === 0) this.checkMatching();
  }

  private unsettledUsdc(): bigint {
    let sum = 0n;
    for (const r of this.engine.risk) for (const id of r.accountIds()) sum += r.unsettledUsdc(id);
    return sum;
  }

  /** X1 for one asset (units and ledger) and the pool's own invariants. */
  private checkAsset(asset: number, unsettled: bigint): void {
    const risk = this.engine.risk;
    const pool = risk[0]!.pools.pools[asset]!;
    const bad = validatePoolState(pool);
    if (bad !== null) this.fail("X2", `pool of asset ${asset}: ${bad}`);
    let units = 0n;
    let net = 0n;
    let lent = 0n;
    let owed = 0n;
    for (const r of risk) {
      // Q4: lender payouts in transit (USDC owed to the lenders, paid at the batch end; Σ = their rounding).
      const transit = asset === USDC ? r.lenderTransit() : 0n;
      units += r.feeBalance(asset) + r.insuranceBalance(asset) + transit;
      net += r.feeBalance(asset) + r.insuranceBalance(asset) + transit;
      for (const id of r.accountIds()) {
        const b = r.balance(id, asset);
        const p = r.poolBalance(id, asset);
        units += b.available + b.locked;
        net += b.available + b.locked + p.lent - p.borrowed;
        lent += p.lent;
        owed += p.borrowed;
      }
    }
    const expected = this.netIn[asset]!;
    if (units + pool.cash - unsettled !== expected) {
      this.fail("X1", `units of asset ${asset}: ${units} + cash ${pool.cash} − unsettled ${unsettled} ≠ deposits − withdrawals ${expected}`);
    }
    const exchange = exchangeShare(pool) + (pool.totalLent - lent) + (owed - pool.totalBorrowed);
    if (net + exchange - unsettled !== expected) {
      this.fail("X1", `ledger of asset ${asset}: ${net} + exchange ${exchange} − unsettled ${unsettled} ≠ ${expected}`);
    }
  }

  /** D4 replicas and Q4: the fund never negative without a recorded socialized loss (USDC at close-out). */
  private checkInsurance(): void {
    const risk = this.engine.risk;
    for (let asset = 0; asset < ASSETS; asset++) {
      let fund = 0n;
      for (const r of risk) fund += r.insuranceBalance(asset);
      for (const r of risk) if (r.insuranceFund(asset) !== fund) this.fail("D4", `shard ${r.shardIndex}'s fund replica of asset ${asset} ${r.insuranceFund(asset)} ≠ Σ slices ${fund}`);
      const closeOut = asset === USDC ? fund + this.openCostUsdc() + this.fundingInTransitUsdc() : fund;
      if (asset === USDC) {
        if (fund < this.stats.minInsuranceRawUsdc) this.stats.minInsuranceRawUsdc = fund;
        if (closeOut < this.stats.minInsuranceCloseOutUsdc) this.stats.minInsuranceCloseOutUsdc = closeOut;
        this.stats.finalInsuranceUsdc = fund;
      }
      if (asset === USDC && closeOut + this.stats.writeDownLossUsdc < 0n) {
        this.fail("Q4", `insurance fund of USDC at ${fund} (close-out ${closeOut}) below 0 by more than the ${this.stats.writeDownLossUsdc} of write-down losses recorded`);
      }
      if (asset !== USDC && closeOut < 0n && !this.socialized[asset]) this.fail("Q4", `insurance fund of asset ${asset} at ${fund} (close-out ${closeOut}) with no socialized loss recorded`);
    }
  }

  /** P5S: Σ of the funding payments still owed for pending intervals (the receivers paid first took it from the fund). */
  private fundingInTransitUsdc(): bigint {
    let total = 0n;
    for (const m of PERPS) for (const r of this.engine.risk) total += r.fundingInTransit(m);
    return total;
  }

  /** Σ over every perpetual position of its cost basis in USDC units (floor): what the open positions owe the fund. */
  private openCostUsdc(): bigint {
    let total = 0n;
    for (const m of PERPS) {
      const market = config.markets[m]!;
      const shift = config.assets[market.baseAsset]!.decimals + 9 - config.assets[market.quoteAsset]!.decimals;
      let cost = 0n;
      for (const r of this.engine.risk) {
        for (const id of r.accountIds()) {
          const p = r.perpState(id, m);
          if (p !== null) cost += p.costBasis;
        }
      }
      const scale = 10n ** BigInt(shift);
      total += cost >= 0n ? cost / scale : -((-cost + scale - 1n) / scale);
    }
    return total;
  }

  /** Q2: every liquidating account progresses within PROGRESS_BOUND_BATCHES batches (stalled ones apart, see above). */
  private checkProgress(): void {
    const live = new Set<number>();
    let stalledNow = false;
    for (const r of this.engine.risk) {
      for (const id of r.liquidatingAccounts()) {
        live.add(id);
        const margin = r.accountMargin(id);
        const mm = margin.maintenanceMarginUsd();
        const equity = margin.netEquityUsd();
        let w = this.watch.get(id);
        if (w === undefined) {
          w = { batches: 0, mm, equity, stalledCounted: false };
          this.watch.set(id, w);
          continue;
        }
        const progress = this.progressed.has(id) || mmrFell(w.mm, w.equity, mm, equity);
        w.mm = mm;
        w.equity = equity;
        w.batches = progress ? 0 : w.batches + 1;
        const stalled = r.liquidationStall(id) !== null;
        if (stalled && !BACKSTOP_TAKES_STALLED) {
          stalledNow = true;
          if (!w.stalledCounted) this.stats.stalledNoBookStep++;
          w.stalledCounted = true;
          continue;
        }
        if (w.batches > this.stats.maxBatchesWithoutProgress) this.stats.maxBatchesWithoutProgress = w.batches;
        if (w.batches > PROGRESS_BOUND_BATCHES) this.fail("Q2", `account ${id} liquidating ${w.batches} batches without progress (${stalled ? "stalled, no book step: the backstop (Q3) or bankruptcy (Q4) must take it" : "not stalled: the book could step it"})`);
      }
    }
    if (stalledNow) this.stats.stalledBatches++;
    for (const id of this.watch.keys()) if (!live.has(id)) this.watch.delete(id);
  }

  private checkMatching(): void {
    for (const m of this.engine.matching) {
      try {
        m.validateInternalState();
      } catch (err) {
        this.fail("X3", (err as Error).message);
      }
    }
  }

  /** The end of a run: the books' invariants once more. */
  finish(): void {
    this.checkMatching();
  }
}

/** MM / E fell from (mm0, e0) to (mm1, e1)? E ≤ 0 is an infinite MMR. */
function mmrFell(mm0: bigint, e0: bigint, mm1: bigint, e1: bigint): boolean {
  if (e1 <= 0n) return false;
  if (e0 <= 0n) return true;
  return mm1 * e0 < mm0 * e1;
}

export interface FuzzRunOptions {
  seed: number;
  steps: number;
  /** Steps per fresh engine; model k runs seed episodeSeed(seed, k). */
  episodeSteps: number;
  topology?: EngineTopology;
  /** Q5: every episode also runs the stuck lenders of stuck-lenders.ts (`npm run fuzz -- --stuck-lenders 1`). */
  stuckLenders?: boolean;
  /** Called after each episode (progress output), with its failure if it had one. */
  onEpisode?: (episode: number, seed: number, stats: FuzzStats, failure: FuzzFailure | null) => void;
}

export interface FuzzRunResult {
  stats: FuzzStats;
  failures: FuzzFailure[];
  elapsedMs: number;
  /** CPU time of the process over the run (user + system): the figure that does not depend on the machine's load. */
  cpuMs: number;
}

/** The seed of episode k of a run: episode 0 is the run's seed itself, so a failure reproduces with its own seed. */
export function episodeSeed(seed: number, episode: number): number {
  return (seed + Math.imul(episode, 0x9e3779b1)) >>> 0;
}

/** Runs `steps` steps in episodes of fresh engines; a failure ends its episode (recorded), the run goes on. */
export function runFuzz(o: FuzzRunOptions): FuzzRunResult {
  const stats = new FuzzStats();
  const failures: FuzzFailure[] = [];
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  let done = 0;
  for (let k = 0; done < o.steps; k++) {
    const seed = episodeSeed(o.seed, k);
    const n = Math.min(o.episodeSteps, o.steps - done);
    const model = new FuzzModel(seed, o.topology, o.stuckLenders ?? false);
    let failure: FuzzFailure | null = null;
    try {
      for (let i = 0; i < n; i++) model.step();
      model.finish();
    } catch (err) {
      if (!(err instanceof FuzzFailure)) throw err;
      failure = err;
      failures.push(err);
    }
    stats.add(model.stats);
    done += n;
    o.onEpisode?.(k, seed, model.stats, failure);
  }
  const cpu = process.cpuUsage(cpu0);
  return { stats, failures, elapsedMs: performance.now() - start, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** The run's report, one line each (the vitest test and `npm run fuzz` print it). */
export function formatFuzzReport(o: FuzzRunOptions, r: FuzzRunResult): string[] {
  const s = r.stats;
  const usdc = (units: bigint): string => `${units < 0n ? "-" : ""}${(units < 0n ? -units : units) / 1_000_000n}.${((units < 0n ? -units : units) % 1_000_000n).toString().padStart(6, "0")}`;
  const lines = [
    `fuzz: seed ${o.seed}, ${s.steps} steps (${s.batches} batches) in episodes of ${o.episodeSteps}, ${(r.elapsedMs / 1000).toFixed(1)} s (${Math.round((s.steps * 1000) / r.elapsedMs)} steps/s), CPU ${(r.cpuMs / 1000).toFixed(1)} s (${Math.round((s.steps * 1000) / r.cpuMs)} steps/s)`,
    `  prices: ${s.crashes} crashes, ${s.pumps} pumps, ${s.oracleUpdates} oracle updates; ${s.fundingRates} funding rates, ${s.realizations} realization rows`,
    `  trading: ${s.fills} fills, ${s.borrows} borrows, ${s.rejects} refusals`,
    `  liquidation: ${s.liquidationsStarted} started, ${s.liquidationsEnded} ended, ${s.liquidationFills} liquidation fills, ${s.liquidationCancels} orders canceled by it; ${s.backstopLegs} backstop legs (Q3), ${s.backstopLegsCrossShard} from another risk shard; ${s.adlLegs} ADL legs (Q4), ${s.adlLegsCrossShard} against another risk shard; ${s.insuranceCovers} covers by the fund; ${s.lenderAdlLegs} lender ADL legs (Q5), ${s.lenderAdlLegsCrossShard} against another risk shard`,
    `  insurance (USDC): ${usdc(s.liquidationFeesUsdc)} in liquidation fees; lowest raw ${usdc(s.minInsuranceRawUsdc)}, lowest at close-out ${usdc(s.minInsuranceCloseOutUsdc)}; write-down losses recorded ${usdc(s.writeDownLossUsdc)}`,
    `  progress (Q2): longest wait ${s.maxBatchesWithoutProgress} batches (bound ${PROGRESS_BOUND_BATCHES}); stalled with no book step (Q3's, backstop switch ${BACKSTOP_TAKES_STALLED ? "on" : "off"}): ${s.stalledNoBookStep} accounts over ${s.stalledBatches} batches`,
    `  invariant failures: ${r.failures.length}`,
  ];
  for (const f of r.failures) lines.push(`    ${f.message}`);
  return lines;
}
