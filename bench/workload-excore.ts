// The exchange-core benchmark workload on one book: 9% GTC limit, 3% IOC, 6% cancel, 82% cancel-replace (move),
// about 1,000 resting orders over about 750 price levels, seeded. The generator runs each command through the
// in-process engine so that cancels and moves target orders that really rest (as exchange-core's generator does).
import { CommandKind, CommandRecord, EventKind, OrderType, SelfTradePrevention, Side, TimeInForce, type EventRecord } from "../engine/model/index.ts";
import { Engine, loadConfig } from "../engine/pipeline/index.ts";

export const EXCORE_MARKET = 0; // BTC_USDC
const USDC = 0;
const BTC = 2;
/** $1 steps around $60,000: 750 levels span $59,625 … $60,375. */
const PRICE_STEP = 1_000_000_000n;
const MID_STEPS = 60_000;
const LEVELS = 750;
const QTY_STEP = 100_000n; // 0.001 BTC
export const EXCORE_ACCOUNTS = 200;
const TARGET_RESTING = 1000;

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ExcoreWorkload {
  /** Deposits that fund every account (run first, one batch). */
  readonly funding: CommandRecord[];
  /** Warm-up commands that build the book to ~1,000 resting orders. */
  readonly warmup: CommandRecord[];
  /** The measured mix. */
  readonly commands: CommandRecord[];
  /** Resting orders after the whole stream (check that the book stayed near the target). */
  readonly restingAtEnd: number;
}

class LiveOrders {
  readonly ids: number[] = [];
  readonly accountOf = new Map<number, number>();
  private readonly index = new Map<number, number>();

  add(id: number, account: number): void {
    this.index.set(id, this.ids.length);
    this.ids.push(id);
    this.accountOf.set(id, account);
  }

  remove(id: number): void {
    const i = this.index.get(id);
    if (i === undefined) return;
    const last = this.ids.pop()!;
    if (last !== id) {
      this.ids[i] = last;
      this.index.set(last, i);
    }
    this.index.delete(id);
    this.accountOf.delete(id);
  }

  get size(): number {
    return this.ids.length;
  }
}

/** Builds `count` measured commands (plus funding and warm-up) with seq numbers 1, 2, 3, … in stream order. */
export function excoreWorkload(count: number, seed = 1): ExcoreWorkload {
  const config = loadConfig();
  const engine = new Engine(config);
  const rand = prng(seed);
  const live = new LiveOrders();
  let seq = 0;
  // Orders that rest after their command: accepted and not done within the same command.
  const accepted: { id: number; account: number }[] = [];
  const done = new Set<number>();
  const sink = {
    publish(e: EventRecord): void {
      if (e.kind === EventKind.OrderAccepted) accepted.push({ id: e.orderId, account: e.account });
      else if (e.kind === EventKind.OrderDone) {
        done.add(e.orderId);
        live.remove(e.orderId);
      }
    },
  };
  const run = (c: CommandRecord): CommandRecord => {
    accepted.length = 0;
    done.clear();
    engine.execute(c, sink);
    for (const a of accepted) if (!done.has(a.id)) live.add(a.id, a.account);
    return c;
  };
  const account = (i: number): number => (i + 1) * 16;
  const funding: CommandRecord[] = [];
  for (let i = 0; i < EXCORE_ACCOUNTS; i++) {
    for (const [asset, amount] of [[USDC, 1_000_000_000_000_000n], [BTC, 10_000_000_000_000n]] as const) {
      const c = new CommandRecord();
      c.kind = CommandKind.Deposit;
      c.seq = ++seq;
      c.account = account(i);
      c.asset = asset;
      c.amount = amount;
      funding.push(run(c));
    }
  }
  const limit = (tif: number, aggressive: boolean): CommandRecord => {
    const c = new CommandRecord();
    c.kind = CommandKind.PlaceOrder;
    c.seq = ++seq;
    c.account = account(Math.floor(rand() * EXCORE_ACCOUNTS));
    c.market = EXCORE_MARKET;
    c.side = rand() < 0.5 ? Side.Buy : Side.Sell;
    c.orderType = OrderType.Limit;
    c.tif = tif;
    c.stp = SelfTradePrevention.Allow;
    // Passive orders spread over the 750 levels on their own side; aggressive ones reach a few levels through.
    const depth = aggressive ? -Math.floor(rand() * 8) : 1 + Math.floor(rand() * (LEVELS / 2));
    const steps = c.side === Side.Buy ? MID_STEPS - depth : MID_STEPS + depth;
    c.price = PRICE_STEP * BigInt(steps);
    c.quantity = QTY_STEP * BigInt(1 + Math.floor(rand() * 10));
    return c;
  };
  const warmup: CommandRecord[] = [];
  while (live.size < TARGET_RESTING) warmup.push(run(limit(TimeInForce.GTC, false)));
  const commands: CommandRecord[] = [];
  for (let i = 0; i < count; i++) {
    const r = rand();
    let c: CommandRecord;
    if (r < 0.09 || live.size === 0) {
      // Keep the book near its target size: new GTC orders are passive when it is small, sometimes crossing.
      c = limit(TimeInForce.GTC, live.size > TARGET_RESTING * 1.2 || rand() < 0.1);
    } else if (r < 0.12) {
      c = limit(TimeInForce.IOC, true);
    } else if (r < 0.18) {
      const id = live.ids[Math.floor(rand() * live.size)]!;
      c = new CommandRecord();
      c.kind = CommandKind.CancelOrder;
      c.seq = ++seq;
      c.account = live.accountOf.get(id)!;
      c.market = EXCORE_MARKET;
      c.orderId = id;
    } else {
      const id = live.ids[Math.floor(rand() * live.size)]!;
      c = new CommandRecord();
      c.kind = CommandKind.ReplaceOrder;
      c.seq = ++seq;
      c.account = live.accountOf.get(id)!;
      c.market = EXCORE_MARKET;
      c.orderId = id;
      c.price = PRICE_STEP * BigInt(MID_STEPS + (rand() < 0.5 ? -1 : 1) * (1 + Math.floor(rand() * (LEVELS / 2))));
      c.quantity = QTY_STEP * BigInt(1 + Math.floor(rand() * 10));
    }
    commands.push(run(c));
  }
  return { funding, warmup, commands, restingAtEnd: live.size };
}
