// The order events of one market (O8 and the event rules in index.ts): every event goes out through ONE reused
// EventRecord (ShardContext.ev), stamped with the market's next sequence number. Matching decides; this writes.

import { EventKind, type CommandKind, type EventRecord, type EventSink } from "../model/index.ts";
import type { MarketDataSink } from "./market-data.ts";

/** Shared by the markets of one shard: the reused event record, the sinks, engine time and the current command. */
export class ShardContext {
  readonly ev: EventRecord;
  sink: EventSink;
  md: MarketDataSink | null = null;
  timeMs = 0;
  seq = 0;
  /** The record still holds a Fill's maker fields (and the fees a consumer may have set on it). */
  evFill = false;
  constructor(ev: EventRecord, sink: EventSink) {
    this.ev = ev;
    this.sink = sink;
  }
}

/** Writes one market's order events. `marketSeq` is the market's state (its snapshot and hash carry it). */
export class MarketEvents {
  /** The last event's market sequence number. */
  marketSeq = 0;

  constructor(
    private readonly market: number,
    private readonly ctx: ShardContext,
  ) {}

  /**
   * Publishes one non-Fill event through the shared record, writing every order-event field it carries, so nothing of
   * an earlier event leaks into it: the Fill-only fields (maker identity, fees, tradeId) are zeroed only when the
   * previous event was a Fill (ctx.evFill), and `asset` and the account-statement fields (lent, netEquityUsd, …) are
   * never written by matching and stay zero. Consumers may set makerFee/takerFee on a Fill (risk does) and must not
   * write anything else. Writing only these fields instead of calling clear() on the 41-field record (or writing all
   * 22 order fields) matters: the stores are a sizeable part of an event's cost.
   */
  private emit(
    kind: EventKind,
    account: number,
    side: number,
    orderId: number,
    clientId: bigint,
    code: number,
    message: string,
    price: bigint,
    quantity: bigint,
    amount: bigint,
    amount2: bigint,
  ): void {
    const ctx = this.ctx;
    const ev = ctx.ev;
    ev.kind = kind;
    ev.seq = ctx.seq;
    ev.marketSeq = ++this.marketSeq;
    ev.account = account;
    ev.market = this.market;
    // CommandAccepted (commandAccepted) passes its own fields in the side, code and amount2 slots.
    const isCommand = kind === EventKind.CommandAccepted;
    ev.side = isCommand ? 0 : side;
    ev.orderId = orderId;
    ev.clientId = clientId;
    ev.code = isCommand ? 0 : code;
    ev.message = message;
    ev.price = price;
    ev.quantity = quantity;
    // The union fields matching's kinds carry (engine/model/vocabulary.ts): the kind's own get amount/amount2, the
    // others zero, so nothing of an earlier event leaks.
    const isAccepted = kind === EventKind.OrderAccepted;
    const isDone = kind === EventKind.OrderDone;
    ev.openQuantity = isAccepted ? amount : 0n;
    ev.quoteQuantity = isAccepted ? amount2 : 0n;
    ev.remainingQuantity = isDone ? amount : 0n;
    ev.filledQuantity = isDone ? amount2 : 0n;
    ev.commandAmount = isAccepted || isDone ? 0n : amount;
    ev.marketState = isCommand ? side : 0;
    ev.acceptedKind = isCommand ? code : 0;
    ev.canceledOrders = isCommand ? amount2 : 0n;
    if (ctx.evFill) {
      ev.makerAccount = 0;
      ev.makerOrderId = 0;
      ev.makerClientId = 0n;
      ev.makerFee = 0n;
      ev.takerFee = 0n;
      ev.tradeId = 0;
      ctx.evFill = false;
    }
    ev.timeMs = ctx.timeMs;
    ctx.sink.publish(ev);
  }

  /** Publishes a Fill (taker identity, maker identity, price, quantity, quote amount, tradeId; fees 0). */
  fill(
    account: number,
    side: number,
    orderId: number,
    clientId: bigint,
    price: bigint,
    quantity: bigint,
    quote: bigint,
    makerAccount: number,
    makerOrderId: number,
    makerClientId: bigint,
    tradeId: number,
  ): void {
    const ctx = this.ctx;
    const ev = ctx.ev;
    ev.kind = EventKind.Fill;
    ev.seq = ctx.seq;
    ev.marketSeq = ++this.marketSeq;
    ev.account = account;
    ev.market = this.market;
    ev.side = side;
    ev.orderId = orderId;
    ev.clientId = clientId;
    ev.code = 0;
    ev.message = "";
    ev.price = price;
    ev.quantity = quantity;
    ev.quoteQuantity = quote;
    ev.openQuantity = 0n;
    ev.remainingQuantity = 0n;
    ev.filledQuantity = 0n;
    ev.commandAmount = 0n;
    ev.makerAccount = makerAccount;
    ev.makerOrderId = makerOrderId;
    ev.makerClientId = makerClientId;
    ev.makerFee = 0n;
    ev.takerFee = 0n;
    ev.tradeId = tradeId;
    ev.timeMs = ctx.timeMs;
    ctx.evFill = true;
    ctx.sink.publish(ev);
  }

  /** OrderRejected (or CommandRejected) for this market; nothing changed. */
  reject(kind: EventKind, code: number, message: string, orderId: number, account: number, side: number, clientId: bigint): void {
    this.emit(kind, account, side, orderId, clientId, code, message, 0n, 0n, 0n, 0n);
  }

  /** CommandAccepted of a market command: its kind, the market's new state (SetMarketState), orders canceled (CancelAll). */
  commandAccepted(account: number, acceptedKind: CommandKind, marketState: number, canceledOrders: bigint): void {
    this.emit(EventKind.CommandAccepted, account, marketState, 0, 0n, acceptedKind, "", 0n, 0n, 0n, canceledOrders);
  }

  accepted(
    orderId: number,
    account: number,
    side: number,
    price: bigint,
    quantity: bigint,
    openQty: bigint,
    quoteQty: bigint,
    clientId: bigint,
  ): void {
    this.emit(EventKind.OrderAccepted, account, side, orderId, clientId, 0, "", price, quantity, openQty, quoteQty);
  }

  done(
    orderId: number,
    account: number,
    side: number,
    price: bigint,
    original: bigint,
    filled: bigint,
    clientId: bigint,
    reason: number,
  ): void {
    // Most orders end unfilled: no subtraction (a fresh bigint) then.
    const unfilled = filled === 0n ? original : original > filled ? original - filled : 0n;
    this.emit(EventKind.OrderDone, account, side, orderId, clientId, reason, "", price, original, unfilled, filled);
  }
}
