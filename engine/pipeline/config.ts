// Loads and validates the exchange configuration (assets, markets, fee tiers) from JSON into fixed-point types.
//
// Every error names the JSON path of the offending field (`markets[3].tickSize: ...`) so a bad config fails at
// start with a message a person can act on.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { tryParseDecimal } from "../fixed/index.ts";
import { validatePoolConfig } from "../lending/index.ts";
import { checkLiquidationConfig, LIQUIDATION_CONFIG_DEFAULT } from "../liquidation/index.ts";
import { INDEX_CLAMP_BPS_DEFAULT, INDEX_SOURCES_MAX, INDEX_STALE_AFTER_MS_DEFAULT, MAX_PRICE_UPDATE_MULTIPLIER_DEFAULT } from "../perps/index.ts";
import {
  ASSET_DECIMALS_MAX,
  ASSETS_MAX,
  FEE_TIERS_MAX,
  MarketKind,
  MARKETS_MAX,
  PRICE_DECIMALS,
  RATIO_DECIMALS,
  RATIO_SCALE,
  PoolState,
  type AssetConfig,
  type BandMultipliers,
  type ExchangeConfig,
  type FeeTier,
  type FundingConfig,
  type HaircutConfig,
  type LiquidationConfig,
  type MarketConfig,
  type OracleConfig,
  type OracleSourceConfig,
  type PoolConfig,
  type SqrtMarginFunction,
} from "../model/index.ts";

export class ConfigError extends Error {
  constructor(
    readonly path: string,
    detail: string,
  ) {
    super(`config ${path}: ${detail}`);
    this.name = "ConfigError";
  }
}

export const DEFAULT_CONFIG_PATH = fileURLToPath(new URL("../../config/default.json", import.meta.url));

export function loadConfig(path: string = DEFAULT_CONFIG_PATH): ExchangeConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError("(file)", `cannot read ${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError("(file)", `${path} is not valid JSON: ${(e as Error).message}`);
  }
  return parseConfig(json);
}

type Json = Record<string, unknown>;

function obj(v: unknown, path: string): Json {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ConfigError(path, "expected an object");
  return v as Json;
}

function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) throw new ConfigError(path, "expected an array");
  return v;
}

function str(v: unknown, path: string): string {
  if (typeof v !== "string" || v.length === 0) throw new ConfigError(path, "expected a non-empty string");
  return v;
}

function int(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(path, `expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return v;
}

function decimal(v: unknown, path: string, decimals: number, allowNegative = false): bigint {
  if (typeof v !== "string") throw new ConfigError(path, `expected a decimal string, got ${JSON.stringify(v)}`);
  const error = { message: "" };
  const value = tryParseDecimal(v, decimals, allowNegative, error);
  if (value === null) throw new ConfigError(path, error.message);
  return value;
}

function positive(v: bigint, path: string): bigint {
  if (v <= 0n) throw new ConfigError(path, "must be greater than zero");
  return v;
}

function ratio(v: unknown, path: string): bigint {
  return decimal(v, path, RATIO_DECIMALS);
}

function unitRatio(v: unknown, path: string): bigint {
  const r = ratio(v, path);
  if (r > RATIO_SCALE) throw new ConfigError(path, "must be at most 1");
  return r;
}

function sqrtFunction(v: unknown, path: string): SqrtMarginFunction {
  const o = obj(v, path);
  return { base: unitRatio(o.base, `${path}.base`), factor: ratio(o.factor, `${path}.factor`) };
}

function haircut(v: unknown, path: string): HaircutConfig {
  const o = obj(v, path);
  const kind = str(o.kind, `${path}.kind`);
  if (kind === "identity") return { kind };
  if (kind === "inverseSqrt") {
    return {
      kind,
      base: positive(unitRatio(o.base, `${path}.base`), `${path}.base`),
      penalty: positive(ratio(o.penalty, `${path}.penalty`), `${path}.penalty`),
    };
  }
  throw new ConfigError(`${path}.kind`, `unknown haircut function "${kind}" (identity | inverseSqrt)`);
}

function pool(v: unknown, path: string, decimals: number): PoolConfig {
  const o = obj(v, path);
  const stateName = str(o.state, `${path}.state`);
  const state = PoolState[stateName as keyof typeof PoolState];
  if (state === undefined) throw new ConfigError(`${path}.state`, `unknown pool state "${stateName}" (Open | Closed | RepayOnly)`);
  const p: PoolConfig = {
    optimalUtilization: unitRatio(o.optimalUtilization, `${path}.optimalUtilization`),
    maxUtilization: unitRatio(o.maxUtilization, `${path}.maxUtilization`),
    throttleUtilizationThreshold: unitRatio(o.throttleUtilizationThreshold, `${path}.throttleUtilizationThreshold`),
    minRate: ratio(o.minRate, `${path}.minRate`),
    optimalRate: ratio(o.optimalRate, `${path}.optimalRate`),
    maxRate: ratio(o.maxRate, `${path}.maxRate`),
    k: ratio(o.k, `${path}.k`),
    fee: unitRatio(o.fee, `${path}.fee`),
    openBorrowLendLimit: decimal(o.openBorrowLendLimit, `${path}.openBorrowLendLimit`, decimals),
    state,
  };
  // SPEC L3: parameters are validated at load.
  if (p.optimalUtilization <= 0n || p.optimalUtilization >= RATIO_SCALE) {
    throw new ConfigError(`${path}.optimalUtilization`, "must be strictly between 0 and 1");
  }
  if (p.minRate > p.optimalRate) throw new ConfigError(`${path}.minRate`, "must be at most optimalRate");
  if (p.optimalRate > p.maxRate) throw new ConfigError(`${path}.optimalRate`, "must be at most maxRate");
  if (p.k <= 0n) throw new ConfigError(`${path}.k`, "must be greater than zero");
  if (p.throttleUtilizationThreshold > p.maxUtilization) {
    throw new ConfigError(`${path}.throttleUtilizationThreshold`, "must be at most maxUtilization");
  }
  if (p.fee >= RATIO_SCALE) throw new ConfigError(`${path}.fee`, "must be less than 1");
  // The lending core's own validation (L3, L7, L13) has the last word, naming the field.
  const error = validatePoolConfig(p);
  if (error !== null) throw new ConfigError(`${path}.${error.field}`, error.message.slice(error.field.length + 1));
  return p;
}

function asset(v: unknown, path: string, id: number): AssetConfig {
  const o = obj(v, path);
  const decimals = int(o.decimals, `${path}.decimals`, 0, ASSET_DECIMALS_MAX);
  const borrow = obj(o.borrow, `${path}.borrow`);
  return {
    id,
    symbol: symbol(o.symbol, `${path}.symbol`),
    decimals,
    unit: 10n ** BigInt(decimals),
    haircut: haircut(o.haircut, `${path}.haircut`),
    initialMark: positive(decimal(o.initialMark, `${path}.initialMark`, PRICE_DECIMALS), `${path}.initialMark`),
    borrow: { imf: sqrtFunction(borrow.imf, `${path}.borrow.imf`), mmf: sqrtFunction(borrow.mmf, `${path}.borrow.mmf`) },
    pool: pool(o.pool, `${path}.pool`, decimals),
    oracle: o.oracle === undefined ? null : oracle(o.oracle, `${path}.oracle`),
  };
}

/** P2: an asset's oracle sources and index parameters; absent numbers take SPEC P2's defaults. */
function oracle(v: unknown, path: string): OracleConfig {
  const o = obj(v, path);
  const list = arr(o.sources, `${path}.sources`);
  if (list.length < 1 || list.length > INDEX_SOURCES_MAX) throw new ConfigError(`${path}.sources`, `needs 1 to ${INDEX_SOURCES_MAX} sources`);
  const names = new Set<string>();
  const sources = list.map((entry, i): OracleSourceConfig => {
    const so = obj(entry, `${path}.sources[${i}]`);
    const name = str(so.name, `${path}.sources[${i}].name`);
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/.test(name)) throw new ConfigError(`${path}.sources[${i}].name`, `"${name}" must be 1-32 of A-Z, a-z, 0-9, ., _, - (a letter or digit first)`);
    if (names.has(name)) throw new ConfigError(`${path}.sources[${i}].name`, `duplicate source "${name}"`);
    names.add(name);
    return { name, weight: positive(ratio(so.weight, `${path}.sources[${i}].weight`), `${path}.sources[${i}].weight`) };
  });
  return {
    sources,
    clampBps: o.clampBps === undefined ? INDEX_CLAMP_BPS_DEFAULT : int(o.clampBps, `${path}.clampBps`, 0, 9_999),
    staleAfterMs: o.staleAfterMs === undefined ? INDEX_STALE_AFTER_MS_DEFAULT : int(o.staleAfterMs, `${path}.staleAfterMs`, 0, 86_400_000),
    maxPriceUpdateMultiplier: o.maxPriceUpdateMultiplier === undefined ? MAX_PRICE_UPDATE_MULTIPLIER_DEFAULT : stepMultiplier(o.maxPriceUpdateMultiplier, `${path}.maxPriceUpdateMultiplier`),
  };
}

function stepMultiplier(v: unknown, path: string): bigint {
  const r = ratio(v, path);
  if (r < RATIO_SCALE) throw new ConfigError(path, "must be at least 1");
  return r;
}

function symbol(v: unknown, path: string): string {
  const s = str(v, path);
  if (!/^[A-Z0-9_]{1,32}$/.test(s)) throw new ConfigError(path, `symbol "${s}" must be 1-32 of A-Z, 0-9, _`);
  return s;
}

function band(v: unknown, path: string): BandMultipliers {
  const o = obj(v, path);
  const minMultiplier = ratio(o.minMultiplier, `${path}.minMultiplier`);
  const maxMultiplier = ratio(o.maxMultiplier, `${path}.maxMultiplier`);
  if (minMultiplier <= 0n || minMultiplier > RATIO_SCALE) throw new ConfigError(`${path}.minMultiplier`, "must be in (0, 1]");
  if (maxMultiplier < RATIO_SCALE) throw new ConfigError(`${path}.maxMultiplier`, "must be at least 1");
  return { minMultiplier, maxMultiplier };
}

function funding(v: unknown, path: string): FundingConfig {
  const o = obj(v, path);
  const lowerBps = int(o.lowerBps, `${path}.lowerBps`, -10_000, 0);
  const upperBps = int(o.upperBps, `${path}.upperBps`, 0, 10_000);
  const divisor = positive(ratio(o.divisor, `${path}.divisor`), `${path}.divisor`);
  return { lowerBps, upperBps, divisor, intervalHours: int(o.intervalHours, `${path}.intervalHours`, 1, 24) };
}

function market(v: unknown, path: string, id: number, assetIds: Map<string, AssetConfig>): MarketConfig {
  const o = obj(v, path);
  const kindName = str(o.kind, `${path}.kind`);
  const kind = kindName === "spot" ? MarketKind.Spot : kindName === "perpetual" ? MarketKind.Perpetual : -1;
  if (kind < 0) throw new ConfigError(`${path}.kind`, `unknown market kind "${kindName}" (spot | perpetual)`);
  const baseName = str(o.base, `${path}.base`);
  const quoteName = str(o.quote, `${path}.quote`);
  const base = assetIds.get(baseName);
  if (base === undefined) throw new ConfigError(`${path}.base`, `unknown asset "${baseName}"`);
  const quote = assetIds.get(quoteName);
  if (quote === undefined) throw new ConfigError(`${path}.quote`, `unknown asset "${quoteName}"`);
  if (base.id === quote.id) throw new ConfigError(`${path}.quote`, "base and quote must differ");
  const tickSize = positive(decimal(o.tickSize, `${path}.tickSize`, PRICE_DECIMALS), `${path}.tickSize`);
  const minPrice = positive(decimal(o.minPrice, `${path}.minPrice`, PRICE_DECIMALS), `${path}.minPrice`);
  const maxPrice = positive(decimal(o.maxPrice, `${path}.maxPrice`, PRICE_DECIMALS), `${path}.maxPrice`);
  if (minPrice % tickSize !== 0n) throw new ConfigError(`${path}.minPrice`, "must be a multiple of tickSize");
  if (maxPrice % tickSize !== 0n) throw new ConfigError(`${path}.maxPrice`, "must be a multiple of tickSize");
  if (maxPrice < minPrice) throw new ConfigError(`${path}.maxPrice`, "must be at least minPrice");
  const stepSize = positive(decimal(o.stepSize, `${path}.stepSize`, base.decimals), `${path}.stepSize`);
  const minQuantity = positive(decimal(o.minQuantity, `${path}.minQuantity`, base.decimals), `${path}.minQuantity`);
  const maxQuantity = positive(decimal(o.maxQuantity, `${path}.maxQuantity`, base.decimals), `${path}.maxQuantity`);
  if (minQuantity % stepSize !== 0n) throw new ConfigError(`${path}.minQuantity`, "must be a multiple of stepSize");
  if (maxQuantity % stepSize !== 0n) throw new ConfigError(`${path}.maxQuantity`, "must be a multiple of stepSize");
  if (maxQuantity < minQuantity) throw new ConfigError(`${path}.maxQuantity`, "must be at least minQuantity");
  // The tick index of a price must fit a small integer (DESIGN rule 4): the book indexes levels by it.
  if (maxPrice / tickSize > 2_000_000_000n) throw new ConfigError(`${path}.maxPrice`, "more than 2e9 ticks between 0 and maxPrice");
  const perp = kind === MarketKind.Perpetual;
  return {
    id,
    symbol: symbol(o.symbol, `${path}.symbol`),
    kind,
    baseAsset: base.id,
    quoteAsset: quote.id,
    tickSize,
    minPrice,
    maxPrice,
    stepSize,
    minQuantity,
    maxQuantity,
    minNotional: decimal(o.minNotional, `${path}.minNotional`, quote.decimals),
    priceBand: band(o.priceBand, `${path}.priceBand`),
    impactBand: band(o.impactBand, `${path}.impactBand`),
    meanMarkBand: band(o.meanMarkBand, `${path}.meanMarkBand`),
    premiumTolerance: perp ? ratio(obj(o.premiumBand, `${path}.premiumBand`).tolerance, `${path}.premiumBand.tolerance`) : null,
    imf: perp ? sqrtFunction(o.imf, `${path}.imf`) : null,
    mmf: perp ? sqrtFunction(o.mmf, `${path}.mmf`) : null,
    funding: perp ? funding(o.funding, `${path}.funding`) : null,
    openInterestLimit: perp && o.openInterestLimit !== undefined ? decimal(o.openInterestLimit, `${path}.openInterestLimit`, base.decimals) : 0n,
  };
}

function feeTier(v: unknown, path: string): FeeTier {
  const o = obj(v, path);
  return {
    name: str(o.name, `${path}.name`),
    minVolumeUsd: decimal(o.minVolumeUsd, `${path}.minVolumeUsd`, PRICE_DECIMALS),
    makerBps: int(o.makerBps, `${path}.makerBps`, 0, 1000),
    takerBps: int(o.takerBps, `${path}.takerBps`, 0, 1000),
  };
}

export function parseConfig(json: unknown): ExchangeConfig {
  const root = obj(json, "(root)");
  const platformMaxLeverage = positive(ratio(root.platformMaxLeverage, "platformMaxLeverage"), "platformMaxLeverage");
  const tiersJson = arr(root.feeTiers, "feeTiers");
  if (tiersJson.length === 0 || tiersJson.length > FEE_TIERS_MAX) {
    throw new ConfigError("feeTiers", `expected 1 to ${FEE_TIERS_MAX} tiers`);
  }
  const feeTiers = tiersJson.map((t, i) => feeTier(t, `feeTiers[${i}]`));
  if (feeTiers[0]!.minVolumeUsd !== 0n) throw new ConfigError("feeTiers[0].minVolumeUsd", "the first tier must start at 0");
  for (let i = 1; i < feeTiers.length; i++) {
    if (feeTiers[i]!.minVolumeUsd <= feeTiers[i - 1]!.minVolumeUsd) {
      throw new ConfigError(`feeTiers[${i}].minVolumeUsd`, "tiers must be in increasing volume order");
    }
  }
  const assetsJson = arr(root.assets, "assets");
  if (assetsJson.length === 0 || assetsJson.length > ASSETS_MAX) {
    throw new ConfigError("assets", `expected 1 to ${ASSETS_MAX} assets`);
  }
  const assets = assetsJson.map((a, i) => asset(a, `assets[${i}]`, i));
  const assetIds = new Map<string, AssetConfig>();
  assets.forEach((a, i) => {
    if (assetIds.has(a.symbol)) throw new ConfigError(`assets[${i}].symbol`, `duplicate asset "${a.symbol}"`);
    assetIds.set(a.symbol, a);
  });
  const marketsJson = arr(root.markets, "markets");
  if (marketsJson.length > MARKETS_MAX) throw new ConfigError("markets", `at most ${MARKETS_MAX} markets`);
  const markets = marketsJson.map((m, i) => market(m, `markets[${i}]`, i, assetIds));
  const marketSymbols = new Set<string>();
  markets.forEach((m, i) => {
    if (marketSymbols.has(m.symbol)) throw new ConfigError(`markets[${i}].symbol`, `duplicate market "${m.symbol}"`);
    marketSymbols.add(m.symbol);
  });
  for (const key of Object.keys(root)) {
    if (!["platformMaxLeverage", "feeTiers", "assets", "markets", "liquidation"].includes(key)) {
      throw new ConfigError(key, "unknown field");
    }
  }
  const liquidation = root.liquidation === undefined ? LIQUIDATION_CONFIG_DEFAULT : liquidationConfig(root.liquidation, "liquidation");
  return { platformMaxLeverage, feeTiers, assets, markets, liquidation };
}

/** The ratio fields of "liquidation" (decimal strings, RATIO_DECIMALS). */
const LIQUIDATION_RATIOS = ["liquidationExitMmr", "liquidationStepFraction", "liquidationMaxSlippage", "liquidationFee", "acmfDivisor", "acmfOffset"] as const;

/** SPEC Q's parameters: each field optional (its default), then the ranges of checkLiquidationConfig. */
function liquidationConfig(v: unknown, path: string): LiquidationConfig {
  const o = obj(v, path);
  for (const key of Object.keys(o)) {
    if (!(LIQUIDATION_RATIOS as readonly string[]).includes(key) && key !== "backstopAccount" && key !== "backstopLimitUsd") {
      throw new ConfigError(`${path}.${key}`, "unknown field");
    }
  }
  const d = LIQUIDATION_CONFIG_DEFAULT;
  const ratioOf = (key: (typeof LIQUIDATION_RATIOS)[number]): bigint => (o[key] === undefined ? d[key] : ratio(o[key], `${path}.${key}`));
  const c: LiquidationConfig = {
    liquidationExitMmr: ratioOf("liquidationExitMmr"),
    liquidationStepFraction: ratioOf("liquidationStepFraction"),
    liquidationMaxSlippage: ratioOf("liquidationMaxSlippage"),
    liquidationFee: ratioOf("liquidationFee"),
    acmfDivisor: ratioOf("acmfDivisor"),
    acmfOffset: ratioOf("acmfOffset"),
    backstopAccount: o.backstopAccount === undefined ? d.backstopAccount : int(o.backstopAccount, `${path}.backstopAccount`, 0, 0xffff_ffff),
    backstopLimitUsd: o.backstopLimitUsd === undefined ? d.backstopLimitUsd : decimal(o.backstopLimitUsd, `${path}.backstopLimitUsd`, PRICE_DECIMALS),
  };
  const problem = checkLiquidationConfig(c);
  if (problem !== null) throw new ConfigError(`${path}.${problem.split(" ")[0]}`, problem);
  return c;
}

export function assetBySymbol(config: ExchangeConfig, symbolName: string): AssetConfig | undefined {
  return config.assets.find((a) => a.symbol === symbolName);
}

export function marketBySymbol(config: ExchangeConfig, symbolName: string): MarketConfig | undefined {
  return config.markets.find((m) => m.symbol === symbolName);
}

/** Digest of a loaded configuration: the journal records it so a journal is never replayed under another config. */
export function configDigest(config: ExchangeConfig): string {
  const text = JSON.stringify(config, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  return createHash("sha256").update(text).digest("hex");
}
