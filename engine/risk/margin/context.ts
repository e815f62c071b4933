// Per-shard margin constants derived from the config (flat-region limits, scales) and the current USD marks.

import { pow10 } from "../../fixed/index.ts";
import {
  MarketKind,
  PRICE_DECIMALS,
  RATIO_SCALE,
  type ExchangeConfig,
  type HaircutConfig,
  type SqrtMarginFunction,
} from "../../model/index.ts";
import { haircutFlatLimitUsd, haircutFlatWeight, sqrtTermFlatLimitUsd } from "./formulas.ts";

/**
 * Shared by every AccountMargin of one risk shard (single writer: the shard's thread). Marks live here, not in the
 * accounts: an oracle update is one write per asset, and each account revalues the slots whose mark moved the
 * next time it is asked something (a version number per mark says which).
 */
export class MarginContext {
  readonly assetCount: number;
  readonly marketCount: number;
  readonly platformMaxLeverage: bigint;

  readonly assetDecimals: number[];
  /** 10^decimals. */
  readonly assetUnit: bigint[];
  /** 10^decimals − 1: ceil(v / unit) = (v + unit − 1) / unit for v ≥ 0 with one addition. */
  readonly assetUnitMinusOne: bigint[];
  /** 10^decimals × RATIO_SCALE: the divisor of qty × mark × weight. */
  readonly assetUnitRatio: bigint[];
  readonly haircut: HaircutConfig[];
  /** Weight of the flat region (base, or 1 for identity), and the largest notional (USD) it covers. */
  readonly haircutFlatWeight: bigint[];
  readonly haircutFlatLimitUsd: bigint[];
  readonly borrowImf: SqrtMarginFunction[];
  readonly borrowMmf: SqrtMarginFunction[];
  readonly borrowMmfFlatLimitUsd: bigint[];

  /** Perpetual markets only carry margin functions; spot entries are null. */
  readonly marketIsPerpetual: boolean[];
  readonly marketBaseAsset: number[];
  readonly marketQuoteAsset: number[];
  readonly marketBaseDecimals: number[];
  readonly marketBaseUnit: bigint[];
  /** marketBaseUnit − 1 (a ceiling's numerator term). */
  readonly marketBaseUnitMinusOne: bigint[];
  /** Trade quote amount = floor(qty × price × multiplier / divisor): 10^(quoteDecimals − baseDecimals − PRICE_DECIMALS)
   * split into a multiplier and a divisor (one of them 1), so the hot path pays no pow10. */
  readonly marketQuoteMultiplier: bigint[];
  readonly marketQuoteDivisor: bigint[];
  /** 10^(quoteDecimals − baseDecimals − PRICE_DECIMALS) as a double (within 2^-53 of it): a bound's scale (fill-bound.ts), never an exact amount's. */
  readonly marketFeeShiftScale: number[];
  readonly marketImf: (SqrtMarginFunction | null)[];
  readonly marketMmf: (SqrtMarginFunction | null)[];
  readonly marketMmfFlatLimitUsd: bigint[];

  /** USD marks of assets (PRICE_DECIMALS) and marks of perpetual markets (quote per base, PRICE_DECIMALS). */
  readonly assetMark: bigint[];
  readonly marketMark: bigint[];
  /** Doubles of the marks, the units and the IMF factors (within 2^-53 of each; set with the mark): the inputs of
   * fill-bound.ts's certificate, which would otherwise convert them per check (a BigInt's Number() costs about a
   * bigint addition). Never an exact amount. */
  readonly marketMarkNumber: number[];
  readonly assetMarkNumber: number[];
  readonly marketBaseUnitNumber: number[];
  readonly assetUnitNumber: number[];
  readonly marketImfFactorNumber: number[];
  /** Bumped on every mark write; per-slot versions say which slot moved. */
  markVersion = 0;
  readonly assetMarkVersion: number[];
  readonly marketMarkVersion: number[];

  constructor(readonly config: ExchangeConfig) {
    const assets = config.assets;
    const markets = config.markets;
    this.assetCount = assets.length;
    this.marketCount = markets.length;
    this.platformMaxLeverage = config.platformMaxLeverage;
    this.assetDecimals = assets.map((a) => a.decimals);
    this.assetUnit = assets.map((a) => pow10(a.decimals));
    this.assetUnitMinusOne = assets.map((a) => pow10(a.decimals) - 1n);
    this.assetUnitRatio = assets.map((a) => pow10(a.decimals) * RATIO_SCALE);
    this.haircut = assets.map((a) => a.haircut);
    this.haircutFlatWeight = assets.map((a) => haircutFlatWeight(a.haircut));
    this.haircutFlatLimitUsd = assets.map((a) => haircutFlatLimitUsd(a.haircut));
    this.borrowImf = assets.map((a) => a.borrow.imf);
    this.borrowMmf = assets.map((a) => a.borrow.mmf);
    this.borrowMmfFlatLimitUsd = assets.map((a) => sqrtTermFlatLimitUsd(a.borrow.mmf.factor, a.borrow.mmf.base));
    this.assetMark = assets.map((a) => a.initialMark);
    this.assetMarkVersion = assets.map(() => 0);

    this.marketIsPerpetual = markets.map((m) => m.kind === MarketKind.Perpetual && m.imf !== null && m.mmf !== null);
    this.marketBaseAsset = markets.map((m) => m.baseAsset);
    this.marketQuoteAsset = markets.map((m) => m.quoteAsset);
    this.marketBaseDecimals = markets.map((m) => assets[m.baseAsset]!.decimals);
    this.marketBaseUnit = markets.map((m) => pow10(assets[m.baseAsset]!.decimals));
    this.marketBaseUnitMinusOne = this.marketBaseUnit.map((u) => u - 1n);
    const quoteShift = markets.map((m) => assets[m.quoteAsset]!.decimals - assets[m.baseAsset]!.decimals - PRICE_DECIMALS);
    this.marketQuoteMultiplier = quoteShift.map((k) => (k > 0 ? pow10(k) : 1n));
    this.marketQuoteDivisor = quoteShift.map((k) => (k < 0 ? pow10(-k) : 1n));
    this.marketFeeShiftScale = quoteShift.map((k) => 10 ** k);
    this.marketImf = markets.map((m) => m.imf);
    this.marketMmf = markets.map((m) => m.mmf);
    this.marketMmfFlatLimitUsd = markets.map((m) => (m.mmf === null ? -1n : sqrtTermFlatLimitUsd(m.mmf.factor, m.mmf.base)));
    // Until the oracle speaks, a perpetual's mark is its base asset's USD mark (quote is USDC at par).
    this.marketMark = markets.map((m) => assets[m.baseAsset]!.initialMark);
    this.marketMarkVersion = markets.map(() => 0);
    this.marketMarkNumber = this.marketMark.map(Number);
    this.assetMarkNumber = this.assetMark.map(Number);
    this.marketBaseUnitNumber = this.marketBaseUnit.map(Number);
    this.assetUnitNumber = this.assetUnit.map(Number);
    this.marketImfFactorNumber = markets.map((m) => (m.imf === null ? 0 : Number(m.imf.factor)));
  }

  /** New USD mark of an asset (PRICE_DECIMALS, ≥ 0). */
  setAssetMark(asset: number, markPrice: bigint): void {
    if (markPrice < 0n) throw new RangeError(`asset ${asset}: mark must be ≥ 0, got ${markPrice}`);
    if (this.assetMark[asset] === markPrice) return;
    this.assetMark[asset] = markPrice;
    this.assetMarkNumber[asset] = Number(markPrice);
    this.assetMarkVersion[asset] = ++this.markVersion;
  }

  /** New mark of a perpetual market (quote per base, PRICE_DECIMALS, ≥ 0). */
  setMarketMark(market: number, markPrice: bigint): void {
    if (markPrice < 0n) throw new RangeError(`market ${market}: mark must be ≥ 0, got ${markPrice}`);
    if (this.marketMark[market] === markPrice) return;
    this.marketMark[market] = markPrice;
    this.marketMarkNumber[market] = Number(markPrice);
    this.marketMarkVersion[market] = ++this.markVersion;
  }
}
