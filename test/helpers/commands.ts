// Builders of engine command records for tests (scalar fields, engine units).
import { CommandKind, CommandRecord, OrderType, TimeInForce, SelfTradePrevention } from "../../engine/model/index.ts";

let nextSeq = 1;

export function resetSeq(): void {
  nextSeq = 1;
}

export function deposit(account: number, asset: number, amount: bigint, seq = nextSeq++): CommandRecord {
  const c = new CommandRecord();
  c.kind = CommandKind.Deposit;
  c.seq = seq;
  c.account = account;
  c.asset = asset;
  c.amount = amount;
  return c;
}

export function withdraw(account: number, asset: number, amount: bigint, seq = nextSeq++): CommandRecord {
  const c = deposit(account, asset, amount, seq);
  c.kind = CommandKind.Withdraw;
  return c;
}

export function transfer(from: number, to: number, asset: number, amount: bigint, seq = nextSeq++): CommandRecord {
  const c = deposit(from, asset, amount, seq);
  c.kind = CommandKind.Transfer;
  c.account2 = to;
  return c;
}

export function limit(
  account: number,
  market: number,
  side: number,
  price: bigint,
  quantity: bigint,
  opts: { tif?: number; flags?: number; clientId?: bigint; stp?: number } = {},
  seq = nextSeq++,
): CommandRecord {
  const c = new CommandRecord();
  c.kind = CommandKind.PlaceOrder;
  c.seq = seq;
  c.account = account;
  c.market = market;
  c.side = side;
  c.orderType = OrderType.Limit;
  c.tif = opts.tif ?? TimeInForce.GTC;
  c.stp = opts.stp ?? SelfTradePrevention.RejectTaker;
  c.flags = opts.flags ?? 0;
  c.clientId = opts.clientId ?? 0n;
  c.price = price;
  c.quantity = quantity;
  return c;
}

export function marketOrder(account: number, market: number, side: number, quantity: bigint, quoteQuantity = 0n, seq = nextSeq++): CommandRecord {
  const c = limit(account, market, side, 0n, quantity, { tif: TimeInForce.IOC }, seq);
  c.orderType = OrderType.Market;
  c.quoteQuantity = quoteQuantity;
  return c;
}

export function cancel(account: number, market: number, orderId: number, seq = nextSeq++): CommandRecord {
  const c = new CommandRecord();
  c.kind = CommandKind.CancelOrder;
  c.seq = seq;
  c.account = account;
  c.market = market;
  c.orderId = orderId;
  return c;
}

export function advanceTime(timeMs: number, seq = nextSeq++): CommandRecord {
  const c = new CommandRecord();
  c.kind = CommandKind.AdvanceTime;
  c.seq = seq;
  c.timeMs = timeMs;
  return c;
}
