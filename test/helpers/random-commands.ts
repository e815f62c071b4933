// A seeded generator of realistic command streams over the spot demo markets: deposits, limit orders of every
// time in force around a mid price, market orders, cancels, cancel-replaces, cancel-alls, transfers, withdrawals
// and clock ticks — for differential tests (threaded vs in-process, live vs replay).
import { ALL_MARKETS, CommandKind, CommandRecord, OrderFlag, OrderType, Side, TimeInForce } from "../../engine/model/index.ts";

/** mulberry32: small, fast, deterministic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface SpotMarketShape {
  market: number;
  base: number;
  /** price of one tick step used by the generator (price units) and the mid in such steps */
  priceStep: bigint;
  midSteps: number;
  qtyStep: bigint;
}

const MARKETS: SpotMarketShape[] = [
  { market: 0, base: 2, priceStep: 1_000_000_000n, midSteps: 60_000, qtyStep: 100_000n }, // BTC_USDC: $1, 0.001 BTC
  { market: 1, base: 3, priceStep: 100_000_000n, midSteps: 30_000, qtyStep: 1_000_000n }, // ETH_USDC: $0.1, 0.01 ETH
  { market: 2, base: 4, priceStep: 10_000_000n, midSteps: 15_000, qtyStep: 100_000_000n }, // SOL_USDC: $0.01, 0.1 SOL
];
const USDC = 0;

export const GENERATOR_ACCOUNTS: number[] = [];
for (let user = 1; user <= 12; user++) GENERATOR_ACCOUNTS.push(user * 16, user * 16 + 1);

export class CommandGenerator {
  private readonly rand: () => number;
  private seq = 0;
  private timeMs = 1_767_225_600_000;
  private readonly placed: { id: number; account: number; market: number }[] = [];

  constructor(seed: number) {
    this.rand = prng(seed);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rand() * xs.length)]!;
  }

  private int(lo: number, hi: number): number {
    return lo + Math.floor(this.rand() * (hi - lo + 1));
  }

  /** Initial funding: every account gets USDC and every base asset. */
  funding(): CommandRecord[] {
    const out: CommandRecord[] = [];
    for (const account of GENERATOR_ACCOUNTS) {
      for (const [asset, amount] of [[USDC, 5_000_000_000_000n], [2, 10_000_000_000n], [3, 100_000_000_000n], [4, 100_000_000_000_000n]] as const) {
        const c = this.base(CommandKind.Deposit, account);
        c.asset = asset;
        c.amount = amount;
        out.push(c);
      }
    }
    return out;
  }

  private base(kind: CommandKind, account: number): CommandRecord {
    const c = new CommandRecord();
    c.kind = kind;
    c.seq = ++this.seq;
    c.account = account;
    return c;
  }

  next(): CommandRecord {
    const r = this.rand();
    const account = this.pick(GENERATOR_ACCOUNTS);
    const m = this.pick(MARKETS);
    if (r < 0.5) return this.limit(account, m);
    if (r < 0.58) return this.market(account, m);
    if (r < 0.75 && this.placed.length > 0) {
      const o = this.placed[this.int(Math.max(0, this.placed.length - 200), this.placed.length - 1)]!;
      const c = this.base(CommandKind.CancelOrder, o.account);
      c.market = o.market;
      c.orderId = o.id;
      return c;
    }
    if (r < 0.88 && this.placed.length > 0) {
      const o = this.placed[this.int(Math.max(0, this.placed.length - 200), this.placed.length - 1)]!;
      const shape = MARKETS[o.market]!;
      const c = this.base(CommandKind.ReplaceOrder, o.account);
      c.market = o.market;
      c.orderId = o.id;
      c.price = shape.priceStep * BigInt(shape.midSteps + this.int(-40, 40));
      c.quantity = shape.qtyStep * BigInt(this.int(1, 30));
      this.placed.push({ id: c.seq, account: o.account, market: o.market });
      return c;
    }
    if (r < 0.9) {
      const c = this.base(CommandKind.CancelAll, account);
      c.market = this.rand() < 0.5 ? m.market : ALL_MARKETS;
      return c;
    }
    if (r < 0.93) {
      const c = this.base(CommandKind.AdvanceTime, 0);
      this.timeMs += this.int(0, 5000);
      c.timeMs = this.timeMs;
      return c;
    }
    if (r < 0.96) {
      const c = this.base(CommandKind.Transfer, account);
      c.account2 = (account & 1) === 0 ? account + 1 : account - 1;
      c.asset = this.pick([USDC, 2, 3, 4]);
      c.amount = BigInt(this.int(1, 1_000_000));
      return c;
    }
    if (r < 0.98) {
      const c = this.base(CommandKind.Withdraw, account);
      c.asset = this.pick([USDC, 2, 3, 4]);
      c.amount = BigInt(this.int(1, 1_000_000));
      return c;
    }
    const c = this.base(CommandKind.Deposit, account);
    c.asset = this.pick([USDC, 2, 3, 4]);
    c.amount = BigInt(this.int(1, 1_000_000_000));
    return c;
  }

  private limit(account: number, m: SpotMarketShape): CommandRecord {
    const c = this.base(CommandKind.PlaceOrder, account);
    c.market = m.market;
    c.side = this.rand() < 0.5 ? Side.Buy : Side.Sell;
    c.orderType = OrderType.Limit;
    const t = this.rand();
    c.tif = t < 0.8 ? TimeInForce.GTC : t < 0.93 ? TimeInForce.IOC : TimeInForce.FOK;
    // Buys mostly below the mid, sells above, with some crossing.
    const offset = this.int(-10, 40) * (c.side === Side.Buy ? -1 : 1);
    c.price = m.priceStep * BigInt(m.midSteps + offset);
    c.quantity = m.qtyStep * BigInt(this.int(1, 30));
    if (c.tif === TimeInForce.GTC && this.rand() < 0.1) c.flags |= OrderFlag.PostOnly;
    c.stp = this.int(0, 3);
    if (this.rand() < 0.2) c.clientId = BigInt(this.int(1, 50));
    if (c.tif === TimeInForce.GTC) this.placed.push({ id: c.seq, account, market: m.market });
    return c;
  }

  private market(account: number, m: SpotMarketShape): CommandRecord {
    const c = this.base(CommandKind.PlaceOrder, account);
    c.market = m.market;
    c.side = this.rand() < 0.5 ? Side.Buy : Side.Sell;
    c.orderType = OrderType.Market;
    c.tif = TimeInForce.IOC;
    c.quantity = m.qtyStep * BigInt(this.int(1, 20));
    c.stp = this.int(0, 3);
    return c;
  }
}
