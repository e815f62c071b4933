// The loaded exchange configuration: assets, markets, fee tiers, with every number already fixed-point.
//
// Scales: asset amounts in the asset's own units (10^decimals per whole unit); prices (quote per one whole
// base, and USD marks) at PRICE_DECIMALS; ratios (weights, multipliers, rates, fractions) at RATIO_DECIMALS.

export const PRICE_DECIMALS = 9;
export const PRICE_SCALE = 1_000_000_000n;
export const RATIO_DECIMALS = 18;
export const RATIO_SCALE = 1_000_000_000_000_000_000n;

export interface SqrtMarginFunction {
  /** Ratio. */
  readonly base: bigint;
  /** Ratio per sqrt(USD notional). */
  readonly factor: bigint;
}

export type HaircutConfig =
  | { readonly kind: "identity" }
  | { readonly kind: "inverseSqrt"; /** Ratio */ readonly base: bigint; /** Ratio */ readonly penalty: bigint };

export const PoolState = { Open: 0, Closed: 1, RepayOnly: 2 } as const;
export type PoolState = (typeof PoolState)[keyof typeof PoolState];

export interface PoolConfig {
  /** All ratios (APR for rates). */
  readonly optimalUtilization: bigint;
  readonly maxUtilization: bigint;
  readonly throttleUtilizationThreshold: bigint;
  readonly minRate: bigint;
  readonly optimalRate: bigint;
  readonly maxRate: bigint;
  readonly k: bigint;
  readonly fee: bigint;
  /** Cap on total lent, asset units. */
  readonly openBorrowLendLimit: bigint;
  readonly state: PoolState;
}

/** P2: one oracle source of an asset's index. */
export interface OracleSourceConfig {
  /** The source's name (the feeder's label), 1–32 of A-Z, a-z, 0-9, _, -. */
  readonly name: string;
  /** Weight in the index's weighted mean, a Ratio > 0. */
  readonly weight: bigint;
}

/** P2: an asset's index parameters and sources (engine/perps IndexParams plus the sources). */
export interface OracleConfig {
  /** 1…INDEX_SOURCES_MAX sources; an OracleQuote names one by its index here. */
  readonly sources: readonly OracleSourceConfig[];
  /** Clamp around the median of the source prices, basis points (default 30). */
  readonly clampBps: number;
  /** A source whose quote is older than this (engine time) drops out, ms (default 10,000). */
  readonly staleAfterMs: number;
  /** Largest factor one update moves the index by, a Ratio ≥ 1 (default 1.0025). */
  readonly maxPriceUpdateMultiplier: bigint;
}

export interface AssetConfig {
  readonly id: number;
  readonly symbol: string;
  readonly decimals: number;
  /** 10n ** decimals. */
  readonly unit: bigint;
  readonly haircut: HaircutConfig;
  /** USD mark at start, PRICE_DECIMALS, until the oracle says otherwise. */
  readonly initialMark: bigint;
  readonly borrow: { readonly imf: SqrtMarginFunction; readonly mmf: SqrtMarginFunction };
  readonly pool: PoolConfig;
  /** P2: the asset's oracle; null = no oracle (its mark moves by SetMarkPrice only, e.g. USDC at 1). */
  readonly oracle: OracleConfig | null;
}

export interface BandMultipliers {
  /** Ratios. */
  readonly minMultiplier: bigint;
  readonly maxMultiplier: bigint;
}

export interface FundingConfig {
  readonly lowerBps: number;
  readonly upperBps: number;
  /** Ratio. */
  readonly divisor: bigint;
  readonly intervalHours: number;
}

export interface MarketConfig {
  readonly id: number;
  readonly symbol: string;
  /** MarketKind. */
  readonly kind: number;
  readonly baseAsset: number;
  readonly quoteAsset: number;
  /** Prices, PRICE_DECIMALS. */
  readonly tickSize: bigint;
  readonly minPrice: bigint;
  readonly maxPrice: bigint;
  /** Base-asset units. */
  readonly stepSize: bigint;
  readonly minQuantity: bigint;
  readonly maxQuantity: bigint;
  /** Quote-asset units. */
  readonly minNotional: bigint;
  readonly priceBand: BandMultipliers;
  readonly impactBand: BandMultipliers;
  readonly meanMarkBand: BandMultipliers;
  /** Perpetuals only (null on spot). Ratio. */
  readonly premiumTolerance: bigint | null;
  readonly imf: SqrtMarginFunction | null;
  readonly mmf: SqrtMarginFunction | null;
  readonly funding: FundingConfig | null;
  /** P1: perpetuals only, base units: an order that would raise the market's open interest (Σ longs) above it is
   * refused; 0 = no limit (and on spot). */
  readonly openInterestLimit: bigint;
}

export interface FeeTier {
  readonly name: string;
  /** USD, PRICE_DECIMALS (a USD amount is a price of 1 unit). */
  readonly minVolumeUsd: bigint;
  readonly makerBps: number;
  readonly takerBps: number;
}

/** SPEC Q's parameters (defaults and ranges: engine/liquidation/params.ts; the config's optional "liquidation"). */
export interface LiquidationConfig {
  /** Q1: a liquidating account leaves at MMR ≤ this. Ratio. */
  readonly liquidationExitMmr: bigint;
  /** Q2: at most this fraction of a position or borrow per book step. Ratio. */
  readonly liquidationStepFraction: bigint;
  /** Q2: a step is priced no worse than mark × (1 ± this). Ratio. */
  readonly liquidationMaxSlippage: bigint;
  /** Q2: the fee of each liquidation fill's notional, to the insurance fund. Ratio. */
  readonly liquidationFee: bigint;
  /** Q3: ACMF = max(account MMF / acmfDivisor, account MMF − acmfOffset). Ratios. */
  readonly acmfDivisor: bigint;
  readonly acmfOffset: bigint;
  /** Q3: the backstop liquidity provider's account (a client account; 0 = none: no takeover). */
  readonly backstopAccount: number;
  /** Q3: the largest exposure the backstop account takes on, USD at PRICE_DECIMALS (0 when there is none). */
  readonly backstopLimitUsd: bigint;
}

export interface ExchangeConfig {
  /** Ratio (e.g. 50). */
  readonly platformMaxLeverage: bigint;
  /** SPEC Q (absent in the JSON: every default, no backstop). */
  readonly liquidation: LiquidationConfig;
  readonly feeTiers: readonly FeeTier[];
  readonly assets: readonly AssetConfig[];
  readonly markets: readonly MarketConfig[];
}
