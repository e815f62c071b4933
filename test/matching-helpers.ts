// Test fixtures for the matching engine: a small config, decimal helpers, and a harness that records events.

import {
  CommandKind,
  CommandRecord,
  EventKind,
  MarketKind,
  OrderType,
  SelfTradePrevention,
  TimeInForce,
  type EventRecord,
  type EventSink,
  type ExchangeConfig,
  type MarketConfig,
} from "../engine/model/index.ts";
import { parseDecimal } from "../engine/fixed/index.ts";
import type { MarketDataSink, MatchingLimits } from "../engine/matching/index.ts";

export const SPOT = 0;
export const PERP = 1;
export const SPOT2 = 2;

/** Price (PRICE_DECIMALS). */
export const P = (s: string): bigint => parseDecimal(s, 9);
/** BTC quantity (8 decimals). */
export const Q = (s: string): bigint => parseDecimal(s, 8, true);
/** USDC amount (6 decimals). */
export const U = (s: string): bigint => parseDecimal(s, 6);
/** Ratio (18 decimals). */
export const R = (s: string): bigint => parseDecimal(s, 18, true);

function market(id: number, symbol: string, kind: number, over: Partial<MarketConfig> = {}): MarketConfig {
  return {
    id,
    symbol,
    kind,
    baseAsset: 1,
    quoteAsset: 0,
    tickSize: P("0.01"),
    minPrice: P("0.01"),
    maxPrice: P("1000000"),
    stepSize: Q("0.0001"),
    minQuantity: Q("0.0001"),
    maxQuantity: Q("1000"),
    minNotional: U("1"),
    priceBand: { minMultiplier: R("0.75"), maxMultiplier: R("1.25") },
    impactBand: { minMultiplier: R("0.95"), maxMultiplier: R("1.05") },
    meanMarkBand: { minMultiplier: R("0.9"), maxMultiplier: R("1.1") },
    premiumTolerance: kind === MarketKind.Perpetual ? R("0.05") : null,
    openInterestLimit: 0n,
    imf: null,
    mmf: null,
    funding: null,
    ...over,
  };
}

const NO_POOL = {
  optimalUtilization: 0n,
  maxUtilization: 0n,
  throttleUtilizationThreshold: 0n,
  minRate: 0n,
  optimalRate: 0n,
  maxRate: 0n,
  k: 0n,
  fee: 0n,
  openBorrowLendLimit: 0n,
  state: 0 as const,
};
const NO_BORROW = { imf: { base: 0n, factor: 0n }, mmf: { base: 0n, factor: 0n } };

/** USDC (6 decimals) and BTC (8); markets: 0 BTC_USDC spot, 1 BTC_USDC_PERP, 2 a second spot book. */
export function testConfig(overrides: Partial<MarketConfig> = {}): ExchangeConfig {
  return {
    platformMaxLeverage: 50n,
    feeTiers: [],
    assets: [
      { id: 0, symbol: "USDC", decimals: 6, unit: 10n ** 6n, haircut: { kind: "identity" }, initialMark: P("1"), borrow: NO_BORROW, pool: NO_POOL, oracle: null },
      { id: 1, symbol: "BTC", decimals: 8, unit: 10n ** 8n, haircut: { kind: "identity" }, initialMark: P("60000"), borrow: NO_BORROW, pool: NO_POOL, oracle: null },
    ],
    markets: [
      market(SPOT, "BTC_USDC", MarketKind.Spot, overrides),
      market(PERP, "BTC_USDC_PERP", MarketKind.Perpetual, overrides),
      market(SPOT2, "BTC_USDC_2", MarketKind.Spot, overrides),
    ],
  };
}

/** A plain copy of the order-event fields of an event (records are reused by the engine). */
export type Ev = Pick<
  EventRecord,
  | "kind" | "seq" | "marketSeq" | "account" | "market" | "asset" | "side" | "orderId" | "clientId" | "code" | "message"
  | "price" | "quantity" | "openQuantity" | "quoteQuantity" | "remainingQuantity" | "filledQuantity" | "commandAmount" | "acceptedKind" | "marketState" | "canceledOrders" | "makerAccount" | "makerOrderId" | "makerClientId" | "makerFee"
  | "takerFee" | "tradeId" | "timeMs"
>;

export function copyEvent(e: EventRecord): Ev {
  return {
    kind: e.kind,
    seq: e.seq,
    marketSeq: e.marketSeq,
    account: e.account,
    market: e.market,
    asset: e.asset,
    side: e.side,
    orderId: e.orderId,
    clientId: e.clientId,
    code: e.code,
    message: e.message,
    price: e.price,
    quantity: e.quantity,
    openQuantity: e.openQuantity,
    quoteQuantity: e.quoteQuantity,
    remainingQuantity: e.remainingQuantity,
    filledQuantity: e.filledQuantity,
    commandAmount: e.commandAmount,
    acceptedKind: e.acceptedKind,
    marketState: e.marketState,
    canceledOrders: e.canceledOrders,
    makerAccount: e.makerAccount,
    makerOrderId: e.makerOrderId,
    makerClientId: e.makerClientId,
    makerFee: e.makerFee,
    takerFee: e.takerFee,
    tradeId: e.tradeId,
    timeMs: e.timeMs,
  };
}

export class RecordingSink implements EventSink {
  readonly events: Ev[] = [];
  publish(e: EventRecord): void {
    this.events.push(copyEvent(e));
  }
}

export type MdCall =
  | { t: "trade"; market: number; tradeId: number; price: bigint; quantity: bigint; quote: bigint; makerSide: number; timeMs: number }
  | { t: "depth"; market: number; first: number; last: number; timeMs: number }
  | { t: "level"; market: number; side: number; price: bigint; quantity: bigint; updateId: number }
  | { t: "bbo"; market: number; bidPrice: bigint; bidQty: bigint; askPrice: bigint; askQty: bigint; updateId: number; timeMs: number }
  | { t: "ticker"; market: number; open: bigint; high: bigint; low: bigint; close: bigint; volume: bigint; quoteVolume: bigint; count: number; timeMs: number };

export class RecordingMdSink implements MarketDataSink {
  readonly calls: MdCall[] = [];
  trade(market: number, tradeId: number, price: bigint, quantity: bigint, quote: bigint, makerSide: number, timeMs: number): void {
    this.calls.push({ t: "trade", market, tradeId, price, quantity, quote, makerSide, timeMs });
  }
  depthDelta(market: number, first: number, last: number, timeMs: number): void {
    this.calls.push({ t: "depth", market, first, last, timeMs });
  }
  depthLevel(market: number, side: number, price: bigint, quantity: bigint, updateId: number): void {
    this.calls.push({ t: "level", market, side, price, quantity, updateId });
  }
  bbo(market: number, bidPrice: bigint, bidQty: bigint, askPrice: bigint, askQty: bigint, updateId: number, timeMs: number): void {
    this.calls.push({ t: "bbo", market, bidPrice, bidQty, askPrice, askQty, updateId, timeMs });
  }
  ticker(market: number, open: bigint, high: bigint, low: bigint, close: bigint, volume: bigint, quoteVolume: bigint, count: number, timeMs: number): void {
    this.calls.push({ t: "ticker", market, open, high, low, close, volume, quoteVolume, count, timeMs });
  }
}

export interface PlaceArgs {
  account: number;
  side: number;
  price?: bigint;
  qty?: bigint;
  quote?: bigint;
  type?: number;
  tif?: number;
  stp?: number;
  flags?: number;
  clientId?: bigint;
  market?: number;
}

/** The engine surface the harness drives: MatchingShard and the reference book both provide it. */
export interface ShardLike {
  handle(cmd: CommandRecord, sink: EventSink): void;
  setMarketDataSink(sink: MarketDataSink | null): void;
  setTime(ms: number): void;
  validateInternalState(): void;
}

/** Drives a shard with commands of increasing seq, records events, validates after every command. */
export class Harness<S extends ShardLike = ShardLike> {
  readonly sink = new RecordingSink();
  readonly md = new RecordingMdSink();
  readonly cmd = new CommandRecord();
  seq = 0;
  constructor(readonly shard: S) {
    shard.setMarketDataSink(this.md);
  }

  run(fill: (c: CommandRecord) => void): Ev[] {
    const c = this.cmd;
    c.clear();
    c.seq = ++this.seq;
    fill(c);
    const from = this.sink.events.length;
    this.shard.handle(c, this.sink);
    this.shard.validateInternalState();
    return this.sink.events.slice(from);
  }

  place(a: PlaceArgs): Ev[] {
    return this.run((c) => {
      c.kind = CommandKind.PlaceOrder;
      c.market = a.market ?? SPOT;
      c.account = a.account;
      c.side = a.side;
      c.orderType = a.type ?? OrderType.Limit;
      c.tif = a.tif ?? TimeInForce.GTC;
      c.stp = a.stp ?? SelfTradePrevention.Allow;
      c.flags = a.flags ?? 0;
      c.price = a.price ?? 0n;
      c.quantity = a.qty ?? 0n;
      c.quoteQuantity = a.quote ?? 0n;
      c.clientId = a.clientId ?? 0n;
    });
  }

  cancel(account: number, orderId: number, market = SPOT): Ev[] {
    return this.run((c) => {
      c.kind = CommandKind.CancelOrder;
      c.market = market;
      c.account = account;
      c.orderId = orderId;
    });
  }

  cancelByClientId(account: number, clientId: bigint, flags: number, market = SPOT): Ev[] {
    return this.run((c) => {
      c.kind = CommandKind.CancelOrder;
      c.market = market;
      c.account = account;
      c.clientId = clientId;
      c.flags = flags;
    });
  }

  cancelAll(account: number, market = SPOT): Ev[] {
    return this.run((c) => {
      c.kind = CommandKind.CancelAll;
      c.market = market;
      c.account = account;
    });
  }

  replace(account: number, orderId: number, price: bigint, qty: bigint, extra: { market?: number; clientId?: bigint; flags?: number } = {}): Ev[] {
    return this.run((c) => {
      c.kind = CommandKind.ReplaceOrder;
      c.market = extra.market ?? SPOT;
      c.account = account;
      c.orderId = orderId;
      c.price = price;
      c.quantity = qty;
      c.clientId = extra.clientId ?? 0n;
      c.flags = extra.flags ?? 0;
    });
  }

  setState(state: number, market = SPOT): Ev[] {
    return this.run((c) => {
      c.kind = CommandKind.SetMarketState;
      c.market = market;
      c.marketState = state;
    });
  }

  bandInputs(meanMark: bigint, meanPremium: bigint, market = SPOT, indexPrice = 0n): Ev[] {
    return this.run((c) => {
      c.kind = CommandKind.MarketBandInputs;
      c.market = market;
      c.price = meanMark;
      c.meanPremium = meanPremium;
      c.indexPrice = indexPrice;
    });
  }

  advance(timeMs: number): Ev[] {
    return this.run((c) => {
      c.kind = CommandKind.AdvanceTime;
      c.timeMs = timeMs;
    });
  }
}

export const kinds = (evs: readonly Ev[]): string[] =>
  evs.map((e) => Object.entries(EventKind).find(([, v]) => v === e.kind)![0]);
