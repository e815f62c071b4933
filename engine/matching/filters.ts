// A market's O2 order filters: which new orders and replacements are well formed for it (enumerations, flags, the
// market state) and within its filters (tick size, price bounds, step size, quantity bounds, minimum notional), with
// the conversion of a base quantity at a price into the quote amount. A failed check leaves its reject code and
// message in `code` / `why` for the market to publish; nothing here publishes or changes the book.

import {
  MarketState,
  OrderFlag,
  OrderType,
  RejectCode,
  SelfTradePrevention,
  Side,
  TICK_INDEX_MAX,
  TimeInForce,
  type CommandRecord,
  type ExchangeConfig,
  type MarketConfig,
} from "../model/index.ts";
import { ceilDiv, int31, LOW64, LOW_WORD, WORDS32 } from "./bands.ts";

/** Direct-mapped cache of validated limit prices (tick index and the notional's minimum quantity at that price). */
const PRICE_CACHE_BITS = 14;

export class OrderFilters {
  readonly tickSize: bigint;
  readonly stepSize: bigint;
  private readonly minQty: bigint;
  private readonly maxQty: bigint;
  private readonly minPrice: bigint;
  private readonly maxPrice: bigint;
  private readonly minNotional: bigint;
  /** q × p ≥ this ⟺ floor(q × p × qMul / qDiv) ≥ minNotional. */
  private readonly notionalProductMin: bigint;
  /** Trade quote amount = floor(q × p × qMul / qDiv) (10^quoteDecimals / (10^baseDecimals × 10^PRICE_DECIMALS), reduced). */
  readonly qMul: bigint;
  readonly qDiv: bigint;

  // ---- validated-price cache: repeated prices skip the tick division and the notional multiplication ----
  private readonly pcPrice = new BigInt64Array(1 << PRICE_CACHE_BITS);
  private readonly pcTick = new Int32Array(1 << PRICE_CACHE_BITS).fill(-1);
  /** Smallest quantity whose notional at pcPrice meets minNotional (capped at maxQuantity + 1). */
  private readonly pcMinQty = new BigInt64Array(1 << PRICE_CACHE_BITS);
  /** Cache slot of the price last accepted by priceTick (read by belowMinNotional). */
  private pcSlot = 0;

  /** The last failed check's reject code and message. */
  code: number = RejectCode.None;
  why = "";

  /** Throws on a market configuration the filters cannot serve (a config error, found at load). */
  constructor(config: ExchangeConfig, cfg: MarketConfig) {
    const base = config.assets[cfg.baseAsset];
    const quote = config.assets[cfg.quoteAsset];
    if (base === undefined || quote === undefined) throw new Error(`market ${cfg.symbol}: unknown asset`);
    if (cfg.tickSize <= 0n || cfg.stepSize <= 0n) throw new Error(`market ${cfg.symbol}: tick and step must be > 0`);
    if (cfg.minPrice <= 0n || cfg.maxPrice < cfg.minPrice) throw new Error(`market ${cfg.symbol}: bad price range`);
    if (cfg.maxPrice / cfg.tickSize > BigInt(TICK_INDEX_MAX)) {
      throw new Error(`market ${cfg.symbol}: maxPrice / tickSize exceeds TICK_INDEX_MAX`);
    }
    if (cfg.minQuantity <= 0n || cfg.maxQuantity < cfg.minQuantity) throw new Error(`market ${cfg.symbol}: bad qty range`);
    this.tickSize = cfg.tickSize;
    this.stepSize = cfg.stepSize;
    this.minQty = cfg.minQuantity;
    this.maxQty = cfg.maxQuantity;
    this.minPrice = cfg.minPrice;
    this.maxPrice = cfg.maxPrice;
    this.minNotional = cfg.minNotional;
    let qMul = 10n ** BigInt(quote.decimals);
    let qDiv = 10n ** BigInt(base.decimals + 9);
    while (qMul % 10n === 0n && qDiv % 10n === 0n) {
      qMul /= 10n;
      qDiv /= 10n;
    }
    this.qMul = qMul;
    this.qDiv = qDiv;
    this.notionalProductMin = ceilDiv(cfg.minNotional * qDiv, qMul);
  }

  private fail(code: number, why: string): false {
    this.code = code;
    this.why = why;
    return false;
  }

  /** A new order's enumerations and flags are valid and the market state (`state`) takes it. */
  fieldsAllowed(cmd: CommandRecord, state: number): boolean {
    const side = cmd.side;
    const type = cmd.orderType;
    const tif = cmd.tif;
    const stp = cmd.stp;
    const postOnly = (cmd.flags & OrderFlag.PostOnly) !== 0;
    const isLimit = type === OrderType.Limit;
    const F = RejectCode.InvalidField;
    const S = RejectCode.MarketStateForbids;
    if ((side !== Side.Buy && side !== Side.Sell) || (type !== OrderType.Limit && type !== OrderType.Market)) return this.fail(F, "InvalidField: side or orderType");
    if (tif !== TimeInForce.GTC && tif !== TimeInForce.IOC && tif !== TimeInForce.FOK) return this.fail(F, "InvalidField: timeInForce");
    if (stp < 0 || stp > SelfTradePrevention.Allow || (stp | 0) !== stp) return this.fail(F, "InvalidField: selfTradePrevention");
    if (postOnly && (!isLimit || tif !== TimeInForce.GTC)) return this.fail(F, "InvalidField: postOnly needs a GTC limit order");
    if (state === MarketState.Closed || state === MarketState.CancelOnly) return this.fail(S, "MarketStateForbids: market takes no new orders");
    if (state === MarketState.PostOnly && !postOnly) return this.fail(S, "MarketStateForbids: market is post-only");
    if (state === MarketState.LimitOnly && !isLimit) return this.fail(S, "MarketStateForbids: market is limit-only");
    return true;
  }

  /**
   * O2 filters of a new order: the limit price (tick size, bounds), the base or quote quantity (step, bounds), the
   * minimum notional. Returns the limit price's tick (0 for a market order), or −1.
   */
  placeTick(cmd: CommandRecord, isLimit: boolean): number {
    let tick = 0;
    if (isLimit) {
      tick = this.priceTick(cmd.price);
      if (tick < 0) return -1;
    }
    const qty = cmd.quantity;
    const quoteQty = cmd.quoteQuantity;
    const Q = RejectCode.InvalidQuantity;
    const N = RejectCode.MinNotional;
    let ok = true;
    if (quoteQty !== 0n && (isLimit || cmd.side !== Side.Buy)) ok = this.fail(RejectCode.InvalidField, "InvalidField: quoteQuantity is for market buys");
    else if (quoteQty < 0n || qty < 0n) ok = this.fail(Q, "InvalidQuantity: negative quantity");
    else if (qty === 0n && quoteQty === 0n) ok = this.fail(Q, "InvalidQuantity: quantity is zero");
    else if (qty === 0n && cmd.tif === TimeInForce.FOK) ok = this.fail(RejectCode.InvalidField, "InvalidField: FOK needs a base quantity");
    else if (qty !== 0n && !this.quantityOk(qty)) ok = false;
    else if (isLimit && this.belowMinNotional(qty)) ok = this.fail(N, "MinNotional: quantity × price below the minimum notional");
    else if (!isLimit && qty === 0n && quoteQty < this.minNotional) ok = this.fail(N, "MinNotional: quote quantity below the minimum notional");
    return ok ? tick : -1;
  }

  /**
   * Tick index of a valid limit price, or −1. Leaves pcSlot at the price's cache entry, whose pcMinQty is the
   * notional threshold for this price (belowMinNotional).
   */
  priceTick(price: bigint): number {
    // The price's low 32 bits through the scratch words: only a hash; a hit is confirmed by comparing the bigint.
    LOW64[0] = price;
    const h = Math.imul(WORDS32[LOW_WORD], 0x9e3779b1) >>> (32 - PRICE_CACHE_BITS);
    const cached = this.pcTick[h];
    if (cached >= 0 && this.pcPrice[h] === price) {
      this.pcSlot = h;
      return cached;
    }
    let ok = true;
    const t = price / this.tickSize;
    if (price <= 0n) ok = this.fail(RejectCode.InvalidPrice, "InvalidPrice: price must be > 0");
    else if (t * this.tickSize !== price) ok = this.fail(RejectCode.TickSize, "TickSize: price is not a multiple of the tick size");
    else if (price < this.minPrice) ok = this.fail(RejectCode.MinPrice, "MinPrice: price below the market minimum");
    else if (price > this.maxPrice) ok = this.fail(RejectCode.MaxPrice, "MaxPrice: price above the market maximum");
    if (!ok) return -1;
    const tick = int31(t); // minPrice ≤ price ≤ maxPrice keeps the tick within TICK_INDEX_MAX (constructor)
    const minQty = ceilDiv(this.notionalProductMin, price);
    this.pcPrice[h] = price;
    this.pcTick[h] = tick;
    this.pcMinQty[h] = minQty > this.maxQty ? this.maxQty + 1n : minQty;
    this.pcSlot = h;
    return tick;
  }

  /** The quantity is a multiple of the step and within the market's bounds. */
  quantityOk(qty: bigint): boolean {
    if (qty % this.stepSize !== 0n) return this.fail(RejectCode.StepSize, "StepSize: quantity is not a multiple of the step size");
    if (qty < this.minQty) return this.fail(RejectCode.MinQuantity, "MinQuantity: quantity below the market minimum");
    if (qty > this.maxQty) return this.fail(RejectCode.MaxQuantity, "MaxQuantity: quantity above the market maximum");
    return true;
  }

  /** qty × (the price priceTick last accepted) is below the minimum notional. */
  belowMinNotional(qty: bigint): boolean {
    return qty < this.pcMinQty[this.pcSlot];
  }
}
