// The matching shard: owns the books of its markets and dispatches matching commands to them, synchronously.

import {
  ALL_MARKETS,
  CommandKind,
  DoneReason,
  EventKind,
  EventRecord,
  MarketState,
  OracleQuoteFlag,
  RejectCode,
  SnapshotTag,
  type CommandRecord,
  type SnapshotReader,
  type SnapshotWriter,
  type EventSink,
  type ExchangeConfig,
} from "../model/index.ts";
import { StateHasher } from "./hash.ts";
import { DEFAULT_MATCHING_LIMITS, type MatchingLimits } from "./limits.ts";
import type { DepthSnapshot, MarketDataSink, Ticker24h } from "./market-data.ts";
import { Market, ShardContext, type RestingOrder } from "./market.ts";
import { PerpPriceBook } from "./perp-prices.ts";

export interface MatchingShardOptions {
  /** Overrides of DEFAULT_MATCHING_LIMITS (tests use small ones). */
  readonly limits?: Partial<MatchingLimits>;
}

const NULL_SINK: EventSink = { publish() {} };

export class MatchingShard {
  private readonly byId: (Market | null)[];
  /** Owned markets in ascending id order (iteration order of CancelAll(all), hashing, validation). */
  private readonly owned: Market[];
  private readonly ctx: ShardContext;
  readonly limits: MatchingLimits;
  /** P3/P4: the oracle replica and the price state of the owned perpetuals (perp-prices.ts, engine.ts decision P3). */
  readonly perpPrices: PerpPriceBook;

  constructor(config: ExchangeConfig, marketIds: readonly number[], options?: MatchingShardOptions) {
    this.limits = { ...DEFAULT_MATCHING_LIMITS, ...options?.limits };
    this.ctx = new ShardContext(new EventRecord(), NULL_SINK);
    this.byId = new Array<Market | null>(config.markets.length).fill(null);
    const ids = [...new Set(marketIds)].sort((a, b) => a - b);
    this.owned = [];
    for (const id of ids) {
      const cfg = config.markets[id];
      if (cfg === undefined || cfg.id !== id) throw new Error(`MatchingShard: unknown market id ${id}`);
      const m = new Market(config, cfg, this.ctx, this.limits);
      this.byId[id] = m;
      this.owned.push(m);
    }
    this.perpPrices = new PerpPriceBook(config, this.owned);
  }

  /** Handles one command addressed to this shard; publishes its events into sink synchronously, in order. */
  handle(cmd: CommandRecord, sink: EventSink): void {
    const ctx = this.ctx;
    ctx.sink = sink;
    ctx.seq = cmd.seq;
    switch (cmd.kind) {
      case CommandKind.PlaceOrder: {
        const m = this.marketOf(cmd.market);
        if (m === null) return this.unknownMarket(cmd, EventKind.OrderRejected, cmd.seq);
        m.beginCommand();
        m.handlePlace(cmd);
        m.finishCommand();
        return;
      }
      case CommandKind.CancelOrder: {
        const m = this.marketOf(cmd.market);
        if (m === null) return this.unknownMarket(cmd, EventKind.OrderRejected, cmd.seq);
        m.beginCommand();
        m.handleCancel(cmd);
        m.finishCommand();
        return;
      }
      case CommandKind.ReplaceOrder: {
        const m = this.marketOf(cmd.market);
        if (m === null) return this.unknownMarket(cmd, EventKind.OrderRejected, cmd.seq);
        m.beginCommand();
        m.handleReplace(cmd);
        m.finishCommand();
        return;
      }
      case CommandKind.CancelAll:
        return this.cancelAll(cmd);
      case CommandKind.LiquidationTransfer: {
        // Q3/Q4: engine-originated (seq 0) in phase 0; risk refuses the kind from outside.
        const m = this.marketOf(cmd.market);
        if (m === null) return this.unknownMarket(cmd, EventKind.CommandRejected, 0);
        m.applyLiquidationTransfer(cmd);
        return;
      }
      case CommandKind.SetMarketState:
        return this.setMarketState(cmd);
      case CommandKind.MarketBandInputs:
        return this.setBandInputs(cmd);
      case CommandKind.AdvanceTime:
        this.setTime(cmd.timeMs);
        return;
      case CommandKind.OracleQuote:
        this.perpPrices.applyQuote(cmd.asset, cmd.oracleSource, cmd.bid, cmd.ask, cmd.last, cmd.sourceTimeMs, (cmd.flags & OracleQuoteFlag.Apply) !== 0, this.ctx.timeMs);
        return;
      default:
        this.shardEvent(cmd, EventKind.CommandRejected, RejectCode.UnknownCommand, "UnknownCommand: not a matching command", 0n);
    }
  }

  /** CancelAll in one market, or (ALL_MARKETS) in every market of this shard; accepted with the number canceled. */
  private cancelAll(cmd: CommandRecord): void {
    // Q2: the engine's CancelAll (seq 0, engine.ts decision D3) of an account entering liquidation.
    const reason = cmd.seq === 0 ? DoneReason.Liquidation : DoneReason.CanceledByAll;
    if (cmd.market === ALL_MARKETS) {
      let n = 0;
      for (const m of this.owned) {
        m.beginCommand();
        n += m.cancelAllOf(cmd.account, reason);
        m.finishCommand();
      }
      this.canceledAll(cmd, n);
      return;
    }
    const m = this.marketOf(cmd.market);
    if (m === null) return this.unknownMarket(cmd, EventKind.CommandRejected, 0);
    m.beginCommand();
    const n = m.cancelAllOf(cmd.account, reason);
    m.events.commandAccepted(cmd.account, CommandKind.CancelAll, 0, BigInt(n));
    m.finishCommand();
  }

  /** The operator's SetMarketState: a valid state is set and accepted (Closed cancels every resting order). */
  private setMarketState(cmd: CommandRecord): void {
    const m = this.marketOf(cmd.market);
    if (m === null) return this.unknownMarket(cmd, EventKind.CommandRejected, 0);
    const state = cmd.marketState;
    if (state !== (state | 0) || state < MarketState.Open || state > MarketState.Closed) {
      m.events.reject(EventKind.CommandRejected, RejectCode.InvalidField, "InvalidField: market state", 0, cmd.account, 0, 0n);
      return;
    }
    m.beginCommand();
    m.setState(state);
    m.events.commandAccepted(cmd.account, CommandKind.SetMarketState, state, 0n);
    m.finishCommand();
  }

  /** MarketBandInputs from settlement: the mean mark, mean premium and index the O4 price band is computed from. */
  private setBandInputs(cmd: CommandRecord): void {
    const m = this.marketOf(cmd.market);
    if (m === null) return this.unknownMarket(cmd, EventKind.CommandRejected, 0);
    const code = m.setBandInputs(cmd.price, cmd.meanPremium, cmd.indexPrice);
    if (code !== RejectCode.None) {
      m.events.reject(EventKind.CommandRejected, code, "MarketBandInputs: mean mark and index must be > 0, premium > −100%", 0, cmd.account, 0, 0n);
    }
  }

  /**
   * The shard's part of a settlement batch (engine.ts decision P3), after its last command of the batch: when the
   * batch moved the clock or an index, every owned perpetual's mark, moving means, band inputs and funding interval
   * (perp-prices.ts). Its MarkPrice and FundingRate events (seq 0) go to `sink` for every risk shard.
   */
  endBatch(sink: EventSink): void {
    this.perpPrices.endBatch(this.ctx.timeMs, this.ctx.ev, sink);
  }

  /** Engine time (ms since epoch, from AdvanceTime); drives trade timestamps and the 24 h ticker. Never goes back. */
  setTime(timeMs: number): void {
    this.perpPrices.markDue();
    if (timeMs <= this.ctx.timeMs) return;
    this.ctx.timeMs = timeMs;
    for (const m of this.owned) {
      if (m.ticker.advance(timeMs)) m.publishTicker();
    }
  }

  get timeMs(): number {
    return this.ctx.timeMs;
  }

  /** Attaches (or detaches with null) the O8 market-data sink. Depth update ids continue from where they were. */
  setMarketDataSink(sink: MarketDataSink | null): void {
    this.ctx.md = sink;
    for (const m of this.owned) {
      m.book.trackDirty = sink !== null;
      m.resetMarketDataBaseline();
    }
  }

  /** L2 depth, best first, with the last depth update id it contains. */
  depthSnapshot(market: number, maxLevels: number): DepthSnapshot {
    return this.requireMarket(market).depthSnapshot(maxLevels);
  }

  ticker(market: number): Ticker24h {
    return this.requireMarket(market).ticker.snapshot();
  }

  /** Resting orders of a market: bids best→worst, then asks best→worst, FIFO within a level. */
  bookOrders(market: number): RestingOrder[] {
    return this.requireMarket(market).bookOrders();
  }

  marketState(market: number): number {
    return this.requireMarket(market).state;
  }

  /** Markets owned by this shard, ascending. */
  marketIds(): number[] {
    return this.owned.map((m) => m.id);
  }

  /**
   * Deterministic 64-bit hash (16 hex digits) of every book (orders, levels, sequences, band inputs, ticker window)
   * and the engine time.
   */
  stateHash(): string {
    const h = new StateHasher();
    h.num(this.ctx.timeMs);
    for (const m of this.owned) m.hashInto(h);
    this.perpPrices.hashInto(h);
    return h.digest().toString(16).padStart(16, "0");
  }

  /** X7: the shard's whole state at a batch boundary — engine time and every owned market (market.ts). */
  writeSnapshot(w: SnapshotWriter): void {
    w.beginSection(SnapshotTag.Matching);
    w.uint(this.ctx.timeMs);
    w.uint(this.owned.length);
    for (const m of this.owned) m.writeSnapshot(w);
    this.perpPrices.writeSnapshot(w);
    w.endSection();
  }

  /** Restores a fresh shard (same config and markets) from writeSnapshot's bytes. */
  restoreSnapshot(r: SnapshotReader): void {
    r.beginSection(SnapshotTag.Matching, "matching shard");
    this.ctx.timeMs = r.uint();
    const markets = r.uint();
    if (markets !== this.owned.length) r.fail(`the snapshot holds ${markets} markets, this shard owns ${this.owned.length}`);
    for (const m of this.owned) m.restoreSnapshot(r);
    this.perpPrices.restoreSnapshot(r);
    r.endSection();
  }

  /** Throws on any broken invariant: levels, FIFOs, id index, account lists, X3 (never crossed). */
  validateInternalState(): void {
    for (const m of this.owned) m.validate();
  }

  private marketOf(id: number): Market | null {
    const m = this.byId[id];
    return m === undefined ? null : m;
  }

  private requireMarket(id: number): Market {
    const m = this.marketOf(id);
    if (m === null) throw new Error(`MatchingShard: market ${id} is not owned by this shard`);
    return m;
  }

  private unknownMarket(cmd: CommandRecord, kind: EventKind, orderId: number): void {
    const ev = this.ctx.ev;
    ev.clear();
    ev.kind = kind;
    ev.seq = cmd.seq;
    ev.market = cmd.market;
    ev.account = cmd.account;
    ev.side = cmd.side;
    ev.orderId = orderId;
    ev.clientId = cmd.clientId;
    ev.code = RejectCode.UnknownMarket;
    ev.message = "UnknownMarket: market is not served by this shard";
    ev.timeMs = this.ctx.timeMs;
    this.ctx.sink.publish(ev);
  }

  /** CommandAccepted of a CancelAll over every market (marketSeq 0): how many orders it canceled. */
  private canceledAll(cmd: CommandRecord, canceledOrders: number): void {
    const ev = this.ctx.ev;
    ev.clear();
    ev.kind = EventKind.CommandAccepted;
    ev.seq = cmd.seq;
    ev.market = cmd.market;
    ev.account = cmd.account;
    ev.acceptedKind = CommandKind.CancelAll;
    ev.canceledOrders = BigInt(canceledOrders);
    ev.timeMs = this.ctx.timeMs;
    this.ctx.sink.publish(ev);
  }

  /** An event not tied to one market (marketSeq 0). */
  private shardEvent(cmd: CommandRecord, kind: EventKind, code: number, message: string, amount: bigint): void {
    const ev = this.ctx.ev;
    ev.clear();
    ev.kind = kind;
    ev.seq = cmd.seq;
    ev.market = cmd.market;
    ev.account = cmd.account;
    ev.code = code;
    ev.message = message;
    ev.commandAmount = amount;
    ev.timeMs = this.ctx.timeMs;
    this.ctx.sink.publish(ev);
  }
}
