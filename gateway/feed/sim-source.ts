// `sim` quote source: a seeded, deterministic random walk per source around a drifting mid, with occasional jumps.
//
// Model, per asset, one step every stepMs of the clock the caller passes in (engine time, never the wall clock here):
//   mid ← mid + mid × (driftPpm + u[−volatilityPpm, +volatilityPpm]) / 1e6, truncated toward zero;
//   with probability jumpProbabilityPpm / 1e6: mid ← mid ± mid × jumpPpm / 1e6 (sign drawn);
//   mid never falls below SIM_MID_MIN;
//   per source: offsetPpm ← clamp(offsetPpm + u[−noisePpm, +noisePpm], ±offsetMaxPpm) — each source walks on its own
//   around the common mid, so the sources disagree a little and the engine's P2 median/clamp has work to do.
// A quote (emitted per asset × source at the poll's time): sourceMid = mid + mid × offsetPpm / 1e6,
// bid = sourceMid − sourceMid × spreadPpm / 1e6, ask = sourceMid + sourceMid × spreadPpm / 1e6 (truncated), last =
// bid + (ask − bid) × r / 2^32 for a drawn 32-bit r. All price arithmetic is bigint; the generator is mulberry32 on
// 32-bit integers, so the same seed and the same clock readings give the same quotes on every machine.

import { RATIO_SCALE, type Price, type Ratio } from "../../engine/fixed/index.ts";
import { checkFeedName, FEED_ASSETS_MAX, FEED_SOURCES_PER_ASSET_MAX, type FeedQuote, type QuoteSink, pushInBatches } from "./quote.ts";

/** Parts per million in one. */
const PPM = 1_000_000n;
/** Lowest simulated mid, PRICE_DECIMALS (1e-6 USD): a walk never reaches zero. */
export const SIM_MID_MIN: Price = 1_000n;
/** Most walk steps one poll advances; after a longer pause the walk skips ahead (bounds a poll's work). */
export const SIM_STEPS_PER_POLL_MAX = 10_000;
/** Bounds of the per-step parameters, ppm. */
export const SIM_STEP_PPM_MAX = 100_000;
export const SIM_OFFSET_PPM_MAX = 100_000;

export interface SimSourceConfig {
  /** The source's name in the asset's index configuration. */
  readonly name: string;
  /** Its P2 weight (RATIO_DECIMALS, > 0), as the engine's asset configuration must give it. */
  readonly weight: Ratio;
  /** Largest step of this source's offset from the mid per walk step, ppm. */
  readonly noisePpm: number;
  /** Largest distance of this source's mid from the common mid, ppm. */
  readonly offsetMaxPpm: number;
  /** Half-spread of this source's bid/ask around its mid, ppm. */
  readonly spreadPpm: number;
}

export interface SimAssetConfig {
  readonly asset: string;
  /** Starting mid, PRICE_DECIMALS. */
  readonly startMid: Price;
  /** Signed drift of the mid per step, ppm. */
  readonly driftPpm: number;
  /** Largest random move of the mid per step, ppm. */
  readonly volatilityPpm: number;
  /** Chance of a jump per step, ppm (0 = never, 1e6 = every step). */
  readonly jumpProbabilityPpm: number;
  /** Size of a jump, ppm of the mid. */
  readonly jumpPpm: number;
  readonly sources: readonly SimSourceConfig[];
}

export interface SimConfig {
  /** Seed of the generator, a 32-bit unsigned integer. */
  readonly seed: number;
  /** Clock ms per walk step (> 0). */
  readonly stepMs: number;
  readonly assets: readonly SimAssetConfig[];
}

function checkPpm(field: string, value: number, min: number, max: number): string | null {
  return Number.isInteger(value) && value >= min && value <= max ? null : `${field} must be an integer in [${min}, ${max}] (ppm)`;
}

function checkSimSource(where: string, s: SimSourceConfig): string | null {
  const nameError = checkFeedName(`${where} name`, s.name);
  if (nameError !== null) return nameError;
  if (typeof s.weight !== "bigint" || s.weight <= 0n || s.weight > 1_000n * RATIO_SCALE) return `${where} weight must be in (0, 1000]`;
  return (
    checkPpm(`${where} noisePpm`, s.noisePpm, 0, SIM_STEP_PPM_MAX) ??
    checkPpm(`${where} offsetMaxPpm`, s.offsetMaxPpm, 0, SIM_OFFSET_PPM_MAX) ??
    checkPpm(`${where} spreadPpm`, s.spreadPpm, 0, SIM_OFFSET_PPM_MAX)
  );
}

function checkSimAsset(a: SimAssetConfig): string | null {
  const nameError = checkFeedName("asset", a.asset);
  if (nameError !== null) return nameError;
  if (typeof a.startMid !== "bigint" || a.startMid < SIM_MID_MIN) return `${a.asset}: startMid must be at least ${SIM_MID_MIN}`;
  const paramError =
    checkPpm(`${a.asset}: driftPpm`, a.driftPpm, -SIM_STEP_PPM_MAX, SIM_STEP_PPM_MAX) ??
    checkPpm(`${a.asset}: volatilityPpm`, a.volatilityPpm, 0, SIM_STEP_PPM_MAX) ??
    checkPpm(`${a.asset}: jumpProbabilityPpm`, a.jumpProbabilityPpm, 0, 1_000_000) ??
    checkPpm(`${a.asset}: jumpPpm`, a.jumpPpm, 0, 500_000);
  if (paramError !== null) return paramError;
  if (a.sources.length < 1 || a.sources.length > FEED_SOURCES_PER_ASSET_MAX) return `${a.asset}: 1 to ${FEED_SOURCES_PER_ASSET_MAX} sources`;
  const names = new Set<string>();
  for (const s of a.sources) {
    const sourceError = checkSimSource(`${a.asset} source ${JSON.stringify(s.name)}`, s);
    if (sourceError !== null) return sourceError;
    if (names.has(s.name)) return `${a.asset}: source ${s.name} twice`;
    names.add(s.name);
  }
  return null;
}

/** Why a sim configuration is refused, or null. */
export function checkSimConfig(c: SimConfig): string | null {
  if (!Number.isInteger(c.seed) || c.seed < 0 || c.seed > 0xffff_ffff) return "seed must be an integer in [0, 2^32)";
  if (!Number.isSafeInteger(c.stepMs) || c.stepMs < 1) return "stepMs must be a positive integer";
  if (c.assets.length < 1 || c.assets.length > FEED_ASSETS_MAX) return `1 to ${FEED_ASSETS_MAX} assets`;
  const assets = new Set<string>();
  for (const a of c.assets) {
    const error = checkSimAsset(a);
    if (error !== null) return error;
    if (assets.has(a.asset)) return `asset ${a.asset} twice`;
    assets.add(a.asset);
  }
  return null;
}

/** mulberry32: a small 32-bit generator, exact on every platform (integer ops only). */
export class Mulberry32 {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The next unsigned 32-bit integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** An integer in [−bound, +bound] (bound ≤ 2^31; modulo bias below bound / 2^32 is irrelevant to a simulation). */
  nextSymmetric(bound: number): number {
    if (bound === 0) return 0;
    return (this.nextUint32() % (2 * bound + 1)) - bound;
  }
}

/** value × ppm / 1e6, truncated toward zero. */
function scalePpm(value: Price, ppm: number): Price {
  return (value * BigInt(ppm)) / PPM;
}

interface AssetWalk {
  readonly config: SimAssetConfig;
  mid: Price;
  readonly offsetsPpm: number[];
}

/** The sim source: poll() at each feeder tick returns the quotes of the walk at the clock's time. */
export class SimQuoteSource {
  private readonly random: Mulberry32;
  private readonly walks: AssetWalk[];
  private lastStepMs: number;
  private polled = false;
  /** Jumps taken so far (all assets). */
  jumps = 0;

  /** Throws RangeError on a configuration checkSimConfig refuses. `clockMs` is the engine clock (ms). */
  constructor(
    private readonly config: SimConfig,
    private readonly clockMs: () => number,
  ) {
    const error = checkSimConfig(config);
    if (error !== null) throw new RangeError(`sim source: ${error}`);
    this.random = new Mulberry32(config.seed);
    this.walks = config.assets.map((a) => ({ config: a, mid: a.startMid, offsetsPpm: a.sources.map(() => 0) }));
    this.lastStepMs = clockMs();
  }

  /** The current common mid of an asset (PRICE_DECIMALS), or undefined for an unknown asset. */
  midOf(asset: string): Price | undefined {
    return this.walks.find((w) => w.config.asset === asset)?.mid;
  }

  /**
   * Advances the walk by the whole steps elapsed on the clock (at most SIM_STEPS_PER_POLL_MAX) and returns one quote
   * per asset × source stamped with the clock's time; [] when no step elapsed since the last poll (the first poll
   * always quotes the starting state).
   */
  poll(): FeedQuote[] {
    const nowMs = this.clockMs();
    const elapsedSteps = Math.max(0, Math.floor((nowMs - this.lastStepMs) / this.config.stepMs));
    if (elapsedSteps === 0 && this.polled) return [];
    this.polled = true;
    this.lastStepMs += elapsedSteps * this.config.stepMs;
    const steps = Math.min(elapsedSteps, SIM_STEPS_PER_POLL_MAX);
    for (let s = 0; s < steps; s++) for (const walk of this.walks) this.stepWalk(walk);
    const quotes: FeedQuote[] = [];
    for (const walk of this.walks) this.quoteWalk(walk, nowMs, quotes);
    return quotes;
  }

  /** poll(), pushed to the sink in batches; returns the number of quotes pushed. */
  async pollInto(sink: QuoteSink): Promise<number> {
    const quotes = this.poll();
    await pushInBatches(sink, quotes);
    return quotes.length;
  }

  private stepWalk(walk: AssetWalk): void {
    const a = walk.config;
    let mid = walk.mid + scalePpm(walk.mid, a.driftPpm + this.random.nextSymmetric(a.volatilityPpm));
    if (a.jumpProbabilityPpm > 0 && this.random.nextUint32() % 1_000_000 < a.jumpProbabilityPpm) {
      const jump = scalePpm(mid, a.jumpPpm);
      mid = (this.random.nextUint32() & 1) === 0 ? mid + jump : mid - jump;
      this.jumps++;
    }
    walk.mid = mid < SIM_MID_MIN ? SIM_MID_MIN : mid;
    for (let i = 0; i < a.sources.length; i++) {
      const src = a.sources[i]!;
      const next = walk.offsetsPpm[i]! + this.random.nextSymmetric(src.noisePpm);
      walk.offsetsPpm[i] = Math.max(-src.offsetMaxPpm, Math.min(src.offsetMaxPpm, next));
    }
  }

  private quoteWalk(walk: AssetWalk, nowMs: number, out: FeedQuote[]): void {
    const a = walk.config;
    for (let i = 0; i < a.sources.length; i++) {
      const src = a.sources[i]!;
      const sourceMid = walk.mid + scalePpm(walk.mid, walk.offsetsPpm[i]!);
      const halfSpread = scalePpm(sourceMid, src.spreadPpm);
      const bid = sourceMid - halfSpread;
      const ask = sourceMid + halfSpread;
      const last = bid + ((ask - bid) * BigInt(this.random.nextUint32())) / 4_294_967_296n;
      out.push({ asset: a.asset, source: src.name, bid, ask, last, sourceTimeMs: nowMs });
    }
  }
}
