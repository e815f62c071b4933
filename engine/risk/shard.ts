// The risk shard: single writer of its accounts' balances and order holds — pre-trade checks (R1) and
// post-trade settlement of matching results (R2), exchange-core style.
//
// R1 (`preTrade`) sees every command addressed to one of its accounts in sequence order. Commands that only touch
// balances (deposit, withdraw, transfer) complete here; orders are checked, their funds are held, and they are
// handed on to matching. R2 (`postTrade`) applies what matching reports: fills move money between both sides and
// charge fees, done/reject releases what the order still holds. Money never appears or vanishes: every unit moves
// from one balance to another, fees go to the exchange's fee account (X1).
import { createHash } from "node:crypto";
import { formatDecimal, quoteAmount, Rounding } from "../fixed/index.ts";
import {
  CommandKind,
  EventKind,
  EventRecord,
  MarketKind,
  OrderFlag,
  OrderType,
  RejectCode,
  Side,
  type CommandRecord,
  type EventSink,
  type ExchangeConfig,
  type MarketConfig,
} from "../model/index.ts";
import { Account, FEE_ACCOUNT, isValidClientAccount, riskShardOf, userOf } from "./accounts.ts";

/** Named limits (TigerBeetle: a limit on everything), each with a typed reject. */
export const RISK_LIMITS = {
  openOrdersPerAccountMax: 1000,
  accountsPerShardMax: 1_000_000,
} as const;

const BPS = 10_000n;

/** What an open order holds, so R2 can release exactly the rest when it ends. */
class OrderHold {
  orderId = 0;
  account = 0;
  market = 0;
  side = 0;
  clientId = 0n;
  asset = 0;
  /** Units of `asset` still held for this order. */
  remaining = 0n;

  reset(): void {
    this.orderId = 0;
    this.account = 0;
    this.market = 0;
    this.side = 0;
    this.clientId = 0n;
    this.asset = 0;
    this.remaining = 0n;
  }
}

/** Key of an open order by its client id: (account, market, clientId) packed into one bigint. */
function clientKey(account: number, market: number, clientId: bigint): bigint {
  return (BigInt(account) << 80n) | (BigInt(market) << 64n) | clientId;
}

export class RiskShard {
  private readonly accounts = new Map<number, Account>();
  private readonly holds = new Map<number, OrderHold>();
  /** Open orders by client id, for cancel-replace by client id. */
  private readonly byClientId = new Map<bigint, number>();
  private readonly freeHolds: OrderHold[] = [];
  private readonly assetCount: number;
  /** Exchange fee account balances collected by this shard, per asset. */
  private readonly feeAccount: Account;
  private readonly out = new EventRecord();
  private nowMs = 0;

  constructor(
    private readonly config: ExchangeConfig,
    readonly shardIndex = 0,
    readonly shardCount = 1,
  ) {
    this.assetCount = config.assets.length;
    this.feeAccount = new Account(FEE_ACCOUNT, this.assetCount);
  }

  /** Does this shard own `account`? */
  owns(account: number): boolean {
    return riskShardOf(account, this.shardCount) === this.shardIndex;
  }

  get timeMs(): number {
    return this.nowMs;
  }

  /**
   * R1: handle one command in sequence order. Returns true when `cmd` must go on to matching (it may have been
   * amended, e.g. a market buy's spend cap); false when it was completed or rejected here.
   */
  preTrade(cmd: CommandRecord, sink: EventSink): boolean {
    switch (cmd.kind) {
      case CommandKind.Deposit:
        this.deposit(cmd, sink);
        return false;
      case CommandKind.Withdraw:
        this.withdraw(cmd, sink);
        return false;
      case CommandKind.Transfer:
        this.transfer(cmd, sink);
        return false;
      case CommandKind.PlaceOrder:
        return this.placeOrder(cmd, sink);
      case CommandKind.ReplaceOrder:
        return this.replaceOrder(cmd, sink);
      case CommandKind.CancelOrder:
      case CommandKind.CancelAll:
        if (!isValidClientAccount(cmd.account)) {
          this.reject(cmd, RejectCode.InvalidAccount, `account ${cmd.account} is not a client account`, sink);
          return false;
        }
        return true;
      case CommandKind.AdvanceTime:
        return this.advanceTime(cmd, sink);
      case CommandKind.SetMarketState:
        if (cmd.market >= this.config.markets.length) {
          this.reject(cmd, RejectCode.UnknownMarket, `unknown market ${cmd.market}`, sink);
          return false;
        }
        return true;
      default:
        this.reject(cmd, RejectCode.UnknownCommand, `command kind ${cmd.kind} is not handled by risk`, sink);
        return false;
    }
  }

  /** R2: apply one matching event (fills, done, rejects, acceptances) and pass it on to the client stream. */
  postTrade(e: EventRecord, sink: EventSink): void {
    switch (e.kind) {
      case EventKind.Fill:
        this.applyFill(e, sink);
        return;
      case EventKind.OrderDone:
      case EventKind.OrderRejected:
        if (this.owns(e.account)) {
          const seq = e.seq;
          sink.publish(e);
          this.releaseHold(e.orderId, seq, sink);
        }
        return;
      default:
        if (this.owns(e.account)) sink.publish(e);
        return;
    }
  }

  // ---- commands completed in R1 ----

  private deposit(cmd: CommandRecord, sink: EventSink): void {
    if (!isValidClientAccount(cmd.account)) {
      this.reject(cmd, RejectCode.InvalidAccount, `account ${cmd.account} is not a client account`, sink);
      return;
    }
    if (cmd.asset >= this.assetCount) {
      this.reject(cmd, RejectCode.UnknownAsset, `unknown asset ${cmd.asset}`, sink);
      return;
    }
    if (cmd.amount <= 0n) {
      this.reject(cmd, RejectCode.InvalidAmount, "deposit amount must be positive", sink);
      return;
    }
    const account = this.accountOrCreate(cmd.account);
    if (account === null) {
      this.reject(cmd, RejectCode.Overloaded, `risk shard holds the maximum of ${RISK_LIMITS.accountsPerShardMax} accounts`, sink);
      return;
    }
    account.available[cmd.asset] = account.available[cmd.asset]! + cmd.amount;
    this.accepted(cmd, sink);
    this.publishBalance(cmd.seq, account, cmd.asset, sink);
  }

  private withdraw(cmd: CommandRecord, sink: EventSink): void {
    const account = this.clientAccount(cmd, sink);
    if (account === null) return;
    if (cmd.asset >= this.assetCount) {
      this.reject(cmd, RejectCode.UnknownAsset, `unknown asset ${cmd.asset}`, sink);
      return;
    }
    if (cmd.amount <= 0n) {
      this.reject(cmd, RejectCode.InvalidAmount, "withdrawal amount must be positive", sink);
      return;
    }
    const available = account.available[cmd.asset]!;
    if (available < cmd.amount) {
      this.reject(cmd, RejectCode.InsufficientBalance, this.shortfallMessage("withdraw", cmd.asset, cmd.amount, available), sink);
      return;
    }
    account.available[cmd.asset] = available - cmd.amount;
    this.accepted(cmd, sink);
    this.publishBalance(cmd.seq, account, cmd.asset, sink);
  }

  private transfer(cmd: CommandRecord, sink: EventSink): void {
    const from = this.clientAccount(cmd, sink);
    if (from === null) return;
    if (!isValidClientAccount(cmd.account2) || userOf(cmd.account2) !== userOf(cmd.account) || cmd.account2 === cmd.account) {
      this.reject(cmd, RejectCode.InvalidTransfer, `transfers go between two different accounts of the same user (A2)`, sink);
      return;
    }
    if (cmd.asset >= this.assetCount) {
      this.reject(cmd, RejectCode.UnknownAsset, `unknown asset ${cmd.asset}`, sink);
      return;
    }
    if (cmd.amount <= 0n) {
      this.reject(cmd, RejectCode.InvalidAmount, "transfer amount must be positive", sink);
      return;
    }
    const available = from.available[cmd.asset]!;
    if (available < cmd.amount) {
      this.reject(cmd, RejectCode.InsufficientBalance, this.shortfallMessage("transfer", cmd.asset, cmd.amount, available), sink);
      return;
    }
    const to = this.accountOrCreate(cmd.account2);
    if (to === null) {
      this.reject(cmd, RejectCode.Overloaded, `risk shard holds the maximum of ${RISK_LIMITS.accountsPerShardMax} accounts`, sink);
      return;
    }
    from.available[cmd.asset] = available - cmd.amount;
    to.available[cmd.asset] = to.available[cmd.asset]! + cmd.amount;
    this.accepted(cmd, sink);
    this.publishBalance(cmd.seq, from, cmd.asset, sink);
    this.publishBalance(cmd.seq, to, cmd.asset, sink);
  }

  private advanceTime(cmd: CommandRecord, sink: EventSink): boolean {
    if (cmd.timeMs < this.nowMs) {
      if (this.shardIndex === 0) {
        this.reject(cmd, RejectCode.InvalidTime, `time ${cmd.timeMs} is before the engine time ${this.nowMs}`, sink);
      }
      return false;
    }
    this.nowMs = cmd.timeMs;
    if (this.shardIndex === 0) {
      const e = this.out;
      e.clear();
      e.kind = EventKind.Clock;
      e.seq = cmd.seq;
      e.timeMs = cmd.timeMs;
      sink.publish(e);
    }
    return this.shardIndex === 0;
  }

  // ---- orders ----

  private placeOrder(cmd: CommandRecord, sink: EventSink): boolean {
    const account = this.clientAccount(cmd, sink);
    if (account === null) return false;
    const market = this.config.markets[cmd.market];
    if (market === undefined) {
      this.reject(cmd, RejectCode.UnknownMarket, `unknown market ${cmd.market}`, sink);
      return false;
    }
    if (market.kind !== MarketKind.Spot) {
      this.reject(cmd, RejectCode.MarketStateForbids, `${market.symbol}: perpetual trading is not enabled yet`, sink);
      return false;
    }
    if (account.openOrders >= RISK_LIMITS.openOrdersPerAccountMax) {
      this.reject(cmd, RejectCode.TooManyOpenOrders, `at most ${RISK_LIMITS.openOrdersPerAccountMax} open orders per account`, sink);
      return false;
    }
    const holdAsset = this.spotHold(cmd, market, account, sink);
    if (holdAsset < 0) return false;
    this.takeHold(cmd.seq, account, cmd.market, cmd.side, cmd.clientId, holdAsset, this.pendingHold, sink);
    return true;
  }

  /**
   * Cancel-replace: the replacement is a new order (id = cmd.seq) on the target's side that holds its own funds;
   * the target's hold comes back when matching reports it Replaced. So the account needs the new hold on top of the
   * old one for the duration of the batch (pessimistic, never short). An unknown target is matching's to refuse.
   */
  private replaceOrder(cmd: CommandRecord, sink: EventSink): boolean {
    const account = this.clientAccount(cmd, sink);
    if (account === null) return false;
    const targetId = (cmd.flags & OrderFlag.ByClientId) !== 0
      ? this.byClientId.get(clientKey(cmd.account, cmd.market, cmd.clientId)) ?? 0
      : cmd.orderId;
    const target = this.holds.get(targetId);
    if (target === undefined || target.account !== cmd.account || target.market !== cmd.market) return true;
    const market = this.config.markets[cmd.market]!;
    cmd.side = target.side;
    cmd.orderType = OrderType.Limit;
    const holdAsset = this.spotHold(cmd, market, account, sink);
    if (holdAsset < 0) return false;
    this.takeHold(cmd.seq, account, cmd.market, target.side, target.clientId, holdAsset, this.pendingHold, sink);
    return true;
  }

  private takeHold(orderId: number, account: Account, market: number, side: number, clientId: bigint, asset: number, amount: bigint, sink: EventSink): void {
    account.available[asset] = account.available[asset]! - amount;
    account.locked[asset] = account.locked[asset]! + amount;
    account.openOrders++;
    const hold = this.freeHolds.pop() ?? new OrderHold();
    hold.orderId = orderId;
    hold.account = account.id;
    hold.market = market;
    hold.side = side;
    hold.clientId = clientId;
    hold.asset = asset;
    hold.remaining = amount;
    this.holds.set(orderId, hold);
    if (clientId !== 0n) this.byClientId.set(clientKey(account.id, market, clientId), orderId);
    this.publishBalance(orderId, account, asset, sink);
  }

  /** Set by spotHold: how much of the returned asset the order must hold. */
  private pendingHold = 0n;

  /**
   * S1: a spot order without margin holds its full cost — quote for a buy (at its limit price, rounded up, so every
   * fill at that price or better is covered), base for a sell. Returns the held asset, or -1 after a reject.
   */
  private spotHold(cmd: CommandRecord, market: MarketConfig, account: Account, sink: EventSink): number {
    const base = this.config.assets[market.baseAsset]!;
    const quote = this.config.assets[market.quoteAsset]!;
    if (cmd.quantity < 0n || cmd.quoteQuantity < 0n || cmd.price < 0n) {
      this.reject(cmd, RejectCode.InvalidQuantity, "quantities and prices must not be negative", sink);
      return -1;
    }
    if (cmd.side === Side.Buy) {
      const available = account.available[quote.id]!;
      let need: bigint;
      if (cmd.orderType === OrderType.Limit) {
        if (cmd.quantity === 0n || cmd.price === 0n) {
          this.reject(cmd, RejectCode.InvalidQuantity, "a limit order needs a positive price and quantity", sink);
          return -1;
        }
        need = quoteAmount(cmd.quantity, cmd.price, base.decimals, quote.decimals, Rounding.Up);
      } else if (cmd.quantity === 0n) {
        if (cmd.quoteQuantity === 0n) {
          this.reject(cmd, RejectCode.InvalidQuantity, "a market buy needs a quantity or a quote quantity", sink);
          return -1;
        }
        need = cmd.quoteQuantity;
      } else {
        // A market buy by base quantity cannot know its cost: it may spend up to the whole available quote, and
        // matching stops at that cap (quoteQuantity) or at the quantity, whichever comes first.
        need = cmd.quoteQuantity !== 0n && cmd.quoteQuantity < available ? cmd.quoteQuantity : available;
        if (need === 0n) {
          this.reject(cmd, RejectCode.InsufficientBalance, this.shortfallMessage("buy", quote.id, 1n, 0n), sink);
          return -1;
        }
        cmd.quoteQuantity = need;
      }
      if (available < need) {
        this.reject(cmd, RejectCode.InsufficientBalance, this.shortfallMessage("buy", quote.id, need, available), sink);
        return -1;
      }
      this.pendingHold = need;
      return quote.id;
    }
    if (cmd.quantity === 0n) {
      this.reject(cmd, RejectCode.InvalidQuantity, "a sell needs a positive base quantity", sink);
      return -1;
    }
    const available = account.available[base.id]!;
    if (available < cmd.quantity) {
      this.reject(cmd, RejectCode.InsufficientBalance, this.shortfallMessage("sell", base.id, cmd.quantity, available), sink);
      return -1;
    }
    this.pendingHold = cmd.quantity;
    return base.id;
  }

  /** X1: a fill moves the quote amount from buyer to seller and the base quantity from seller to buyer; each side
   * pays its fee in the asset it receives (S5), rounded up, into the fee account. */
  private applyFill(e: EventRecord, sink: EventSink): void {
    const market = this.config.markets[e.market]!;
    const takerOwned = this.owns(e.account);
    const makerOwned = this.owns(e.makerAccount);
    if (!takerOwned && !makerOwned) return;
    const tier = this.config.feeTiers[0]!;
    const makerSide = e.side === Side.Buy ? Side.Sell : Side.Buy;
    if (takerOwned) e.takerFee = this.settleSide(e.account, e.orderId, e.side, market, e.quantity, e.amount2, tier.takerBps);
    if (makerOwned) e.makerFee = this.settleSide(e.makerAccount, e.makerOrderId, makerSide, market, e.quantity, e.amount2, tier.makerBps);
    // The record is reused by publishBalance's sink: copy what the balance events need first.
    const seq = e.seq;
    const takerAccount = e.account;
    const makerAccount = e.makerAccount;
    const takerSide = e.side;
    sink.publish(e);
    if (takerOwned) this.publishTradeBalances(seq, takerAccount, takerSide, market, sink);
    if (makerOwned && (makerAccount !== takerAccount || !takerOwned)) this.publishTradeBalances(seq, makerAccount, makerSide, market, sink);
  }

  private publishTradeBalances(seq: number, accountId: number, side: number, market: MarketConfig, sink: EventSink): void {
    const account = this.accounts.get(accountId)!;
    this.publishBalance(seq, account, side === Side.Buy ? market.quoteAsset : market.baseAsset, sink);
    this.publishBalance(seq, account, side === Side.Buy ? market.baseAsset : market.quoteAsset, sink);
  }

  private settleSide(
    accountId: number,
    orderId: number,
    side: number,
    market: MarketConfig,
    quantity: bigint,
    quoteAmt: bigint,
    feeBps: number,
  ): bigint {
    const account = this.accounts.get(accountId);
    const hold = this.holds.get(orderId);
    if (account === undefined || hold === undefined) {
      throw new Error(`risk invariant: fill for order ${orderId} of account ${accountId} without a hold`);
    }
    const paid = side === Side.Buy ? quoteAmt : quantity;
    const receivedAsset = side === Side.Buy ? market.baseAsset : market.quoteAsset;
    const received = side === Side.Buy ? quantity : quoteAmt;
    if (hold.remaining < paid) {
      throw new Error(`risk invariant: order ${orderId} pays ${paid} but holds only ${hold.remaining}`);
    }
    hold.remaining -= paid;
    account.locked[hold.asset] = account.locked[hold.asset]! - paid;
    const fee = (received * BigInt(feeBps) + BPS - 1n) / BPS;
    account.available[receivedAsset] = account.available[receivedAsset]! + received - fee;
    this.feeAccount.available[receivedAsset] = this.feeAccount.available[receivedAsset]! + fee;
    return fee;
  }

  private releaseHold(orderId: number, seq: number, sink: EventSink): void {
    const hold = this.holds.get(orderId);
    if (hold === undefined) return;
    this.holds.delete(orderId);
    if (hold.clientId !== 0n) {
      const key = clientKey(hold.account, hold.market, hold.clientId);
      if (this.byClientId.get(key) === orderId) this.byClientId.delete(key);
    }
    const account = this.accounts.get(hold.account)!;
    account.locked[hold.asset] = account.locked[hold.asset]! - hold.remaining;
    account.available[hold.asset] = account.available[hold.asset]! + hold.remaining;
    account.openOrders--;
    this.publishBalance(seq, account, hold.asset, sink);
    hold.reset();
    this.freeHolds.push(hold);
  }

  // ---- helpers ----

  private clientAccount(cmd: CommandRecord, sink: EventSink): Account | null {
    if (!isValidClientAccount(cmd.account)) {
      this.reject(cmd, RejectCode.InvalidAccount, `account ${cmd.account} is not a client account`, sink);
      return null;
    }
    const account = this.accounts.get(cmd.account);
    if (account === undefined) {
      this.reject(cmd, RejectCode.InsufficientBalance, `account ${cmd.account} has no balance`, sink);
      return null;
    }
    return account;
  }

  private accountOrCreate(id: number): Account | null {
    let account = this.accounts.get(id);
    if (account === undefined) {
      if (this.accounts.size >= RISK_LIMITS.accountsPerShardMax) return null;
      account = new Account(id, this.assetCount);
      this.accounts.set(id, account);
    }
    return account;
  }

  private shortfallMessage(action: string, asset: number, need: bigint, available: bigint): string {
    const a = this.config.assets[asset]!;
    return `insufficient ${a.symbol} to ${action}: needs ${formatDecimal(need, a.decimals)}, available ${formatDecimal(available, a.decimals)}`;
  }

  private reject(cmd: CommandRecord, code: number, message: string, sink: EventSink): void {
    const e = this.out;
    e.clear();
    e.kind = cmd.kind === CommandKind.PlaceOrder ? EventKind.OrderRejected : EventKind.CommandRejected;
    e.seq = cmd.seq;
    e.account = cmd.account;
    e.market = cmd.market;
    e.orderId = cmd.kind === CommandKind.PlaceOrder ? cmd.seq : cmd.orderId;
    e.clientId = cmd.clientId;
    e.code = code;
    e.message = message;
    sink.publish(e);
  }

  private accepted(cmd: CommandRecord, sink: EventSink): void {
    const e = this.out;
    e.clear();
    e.kind = EventKind.CommandAccepted;
    e.seq = cmd.seq;
    e.account = cmd.account;
    e.asset = cmd.asset;
    e.amount = cmd.amount;
    e.code = cmd.kind;
    sink.publish(e);
  }

  private publishBalance(seq: number, account: Account, asset: number, sink: EventSink): void {
    const e = this.out;
    e.clear();
    e.kind = EventKind.Balance;
    e.seq = seq;
    e.account = account.id;
    e.asset = asset;
    e.amount = account.available[asset]!;
    e.amount2 = account.locked[asset]!;
    sink.publish(e);
  }

  // ---- queries (off the hot path) ----

  balance(account: number, asset: number): { available: bigint; locked: bigint } {
    const a = this.accounts.get(account);
    return { available: a?.available[asset] ?? 0n, locked: a?.locked[asset] ?? 0n };
  }

  feeBalance(asset: number): bigint {
    return this.feeAccount.available[asset]!;
  }

  accountIds(): number[] {
    return [...this.accounts.keys()].sort((a, b) => a - b);
  }

  /** Σ over this shard's accounts (fee account included) of available + locked, per asset (X1). */
  totals(): bigint[] {
    const sums = new Array<bigint>(this.assetCount).fill(0n);
    for (const a of this.accounts.values()) {
      for (let i = 0; i < this.assetCount; i++) sums[i] = sums[i]! + a.available[i]! + a.locked[i]!;
    }
    for (let i = 0; i < this.assetCount; i++) sums[i] = sums[i]! + this.feeAccount.available[i]!;
    return sums;
  }

  /** Deterministic digest of everything this shard owns (replay equality, X4). */
  stateHash(): string {
    const h = createHash("sha256");
    h.update(`risk ${this.shardIndex}/${this.shardCount} t=${this.nowMs}\n`);
    for (const id of this.accountIds()) {
      const a = this.accounts.get(id)!;
      h.update(`a${id} o${a.openOrders} ${a.available.join(",")} ${a.locked.join(",")}\n`);
    }
    h.update(`fee ${this.feeAccount.available.join(",")}\n`);
    const orderIds = [...this.holds.keys()].sort((a, b) => a - b);
    for (const id of orderIds) {
      const hold = this.holds.get(id)!;
      h.update(`h${id} ${hold.account} ${hold.asset} ${hold.remaining}\n`);
    }
    return h.digest("hex");
  }
}
