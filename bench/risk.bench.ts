// Risk micro-benchmarks: the pre-trade cross-margin check (C8) of one order on an account with 5 collateral assets
// and 3 perpetual positions, through the incremental AccountMargin (only the touched slots are recomputed); and the
// risk shard's own paths: R1 of a spot-margin order (check, hold, balance event, release) and R2 of a fill.
import { loadConfig } from "../engine/pipeline/config.ts";
import { CommandKind, CommandRecord, EventKind, EventRecord, OrderFlag, OrderType, RATIO_SCALE, Side, TimeInForce, type EventSink } from "../engine/model/index.ts";
import { PoolMovement, RiskShard } from "../engine/risk/index.ts";
import { AccountMargin, MarginChanges, MarginContext, spotTradeChanges } from "../engine/risk/margin/index.ts";
import type { BenchDef } from "./harness.ts";

const USD = 1_000_000_000n;
const USDC = 0;
const USDT = 1;
const BTC = 2;
const ETH = 3;
const SOL = 4;
const SOL_USDC = 2;
const BTC_USDC = 0;
const BTC_PERP = 3;
const ETH_PERP = 4;
const SOL_PERP = 5;
const VARIANTS = 64;

interface Fixture {
  ctx: MarginContext;
  account: AccountMargin;
  changes: MarginChanges;
  quantities: bigint[];
  prices: bigint[];
  markets: number[];
}

/** 5 collateral assets (USDC, USDT, BTC, ETH, SOL; SOL past its flat haircut region) and 3 perp positions. */
function fixture(): Fixture {
  const ctx = new MarginContext(loadConfig());
  const account = new AccountMargin(ctx, 10n * RATIO_SCALE);
  account.setAssetBalance(USDC, 40_000n * 1_000_000n);
  account.setAssetBalance(USDT, 10_000n * 1_000_000n);
  account.setAssetBalance(BTC, 50_000_000n); // 0.5 BTC
  account.setAssetBalance(ETH, 400_000_000n); // 4 ETH
  account.setAssetBalance(SOL, 800n * 1_000_000_000n); // 120,000 USD: the weight needs its root
  account.setPosition(BTC_PERP, 100_000_000n, 58_000n * USD); // long 1 BTC
  account.setPosition(ETH_PERP, -1_000_000_000n, 3_100n * USD); // short 10 ETH
  account.setPosition(SOL_PERP, 20_000_000_000n, 140n * USD); // long 20 SOL
  account.setPositionOrders(BTC_PERP, 20_000_000n, 0n);
  const quantities: bigint[] = [];
  const prices: bigint[] = [];
  const markets: number[] = [];
  for (let i = 0; i < VARIANTS; i++) {
    const sol = i % 2 === 0;
    markets.push(sol ? SOL_USDC : BTC_USDC);
    quantities.push(sol ? BigInt(1 + i) * 100_000_000n : BigInt(1 + i) * 100_000n); // 0.1–6.4 SOL, 0.001–0.064 BTC
    prices.push(sol ? (150n + BigInt(i % 5)) * USD : (60_000n + BigInt(i * 10)) * USD);
  }
  return { ctx, account, changes: new MarginChanges(), quantities, prices, markets };
}

let f: Fixture = fixture();
let i = 0;
let accepted = 0;

/** One order's check: build its post-trade balance deltas, evaluate C8 on the touched slots. */
function preTradeCheck(side: Side): void {
  const k = i++ & (VARIANTS - 1);
  spotTradeChanges(f.changes, f.ctx, f.markets[k]!, side, f.quantities[k]!, f.prices[k]!, 10);
  if (f.account.wouldPassInitialMargin(f.changes)) accepted++;
}

/** A margin buy that turns USDC into a borrow (the borrow slot's IMF path, not the collateral path). */
let borrowFixture: Fixture = fixture();
function preTradeCheckBorrowing(): void {
  const k = i++ & (VARIANTS - 1);
  spotTradeChanges(borrowFixture.changes, borrowFixture.ctx, SOL_USDC, Side.Buy, 300_000_000_000n + borrowFixture.quantities[k]!, 150n * USD, 10);
  if (borrowFixture.account.wouldPassInitialMargin(borrowFixture.changes)) accepted++;
}

/** A perp order: its open quantity added to the position's exposure (C4), checked with C8. */
function preTradeCheckPerp(): void {
  const k = i++ & (VARIANTS - 1);
  f.changes.clear().addPositionOrders(SOL_PERP, f.quantities[k]!, 0n);
  if (f.account.wouldPassInitialMargin(f.changes)) accepted++;
}

// ---- the risk shard ----

const config = loadConfig();
const ACCOUNT = 16;
const MAKER = 32;
const discard: EventSink = { publish: () => {} };
let events = 0;
const counting: EventSink = {
  publish: () => {
    events++;
  },
};

function shardCommand(risk: RiskShard, fields: Partial<CommandRecord>, seq: number): void {
  risk.preTrade(Object.assign(new CommandRecord(), fields, { seq }), discard);
}

interface ShardFixture {
  risk: RiskShard;
  orders: CommandRecord[];
  done: EventRecord;
}

/** The same account in a risk shard: 5 collateral assets and a 5,000 USDC borrow (the check has exposure to weigh). */
function shardFixture(): ShardFixture {
  const risk = new RiskShard(config);
  let seq = 0;
  for (const [asset, amount] of [[USDC, 40_000n * 1_000_000n], [USDT, 10_000n * 1_000_000n], [BTC, 50_000_000n], [ETH, 400_000_000n], [SOL, 800n * 1_000_000_000n]] as const) {
    shardCommand(risk, { kind: CommandKind.Deposit, account: ACCOUNT, asset, amount }, ++seq);
  }
  risk.applyPoolMovement(ACCOUNT, USDC, PoolMovement.Borrow, 45_000n * 1_000_000n);
  shardCommand(risk, { kind: CommandKind.Withdraw, account: ACCOUNT, asset: USDC, amount: 45_000n * 1_000_000n }, ++seq);
  const orders: CommandRecord[] = [];
  for (let k = 0; k < VARIANTS; k++) {
    const sol = k % 2 === 0;
    orders.push(Object.assign(new CommandRecord(), {
      kind: CommandKind.PlaceOrder,
      account: ACCOUNT,
      market: sol ? SOL_USDC : BTC_USDC,
      side: (k >> 1) % 2 === 0 ? Side.Sell : Side.Buy,
      orderType: OrderType.Limit,
      tif: TimeInForce.GTC,
      price: sol ? (150n + BigInt(k % 5)) * USD : (60_000n + BigInt(k * 10)) * USD,
      quantity: sol ? BigInt(1 + k) * 10_000_000n : BigInt(1 + k) * 1_000n,
      flags: OrderFlag.AutoBorrow,
    }));
  }
  const done = Object.assign(new EventRecord(), { kind: EventKind.OrderDone, account: ACCOUNT });
  return { risk, orders, done };
}

let sf: ShardFixture | null = null;
let orderSeq = 1_000_000;
let acceptedOrders = 0;

/** R1 of one order (validation, S1 funding, C8 on its full fill, hold, balance event) and R2 of its cancel. */
function shardPreTrade(): void {
  const f = sf!;
  const c = f.orders[i++ & (VARIANTS - 1)]!;
  c.seq = ++orderSeq;
  if (f.risk.preTrade(c, counting)) {
    acceptedOrders++;
    f.done.orderId = c.seq;
    f.done.seq = c.seq;
    f.risk.postTrade(f.done, counting);
  }
}

interface FillFixture {
  risk: RiskShard;
  fill: EventRecord;
  left: number;
}

/** Below the 400,000 fills the 40,000 SOL orders can take, so a fixture never runs dry. */
const FILLS_PER_FIXTURE = 300_000;
let ff: FillFixture | null = null;

/** A taker buy and a maker sell of 40,000 SOL each, resting; every call settles 0.1 SOL between them. */
function fillFixture(): FillFixture {
  const risk = new RiskShard(config);
  let seq = 0;
  shardCommand(risk, { kind: CommandKind.Deposit, account: ACCOUNT, asset: USDC, amount: 7_000_000n * 1_000_000n }, ++seq);
  shardCommand(risk, { kind: CommandKind.Deposit, account: ACCOUNT, asset: SOL, amount: 800n * 1_000_000_000n }, ++seq);
  shardCommand(risk, { kind: CommandKind.Deposit, account: MAKER, asset: SOL, amount: 50_000n * 1_000_000_000n }, ++seq);
  const order = (account: number, side: Side): number => {
    const s = ++seq;
    shardCommand(risk, { kind: CommandKind.PlaceOrder, account, market: SOL_USDC, side, orderType: OrderType.Limit, tif: TimeInForce.GTC, price: 150n * USD, quantity: 40_000n * 1_000_000_000n }, s);
    return s;
  };
  const maker = order(MAKER, Side.Sell);
  const taker = order(ACCOUNT, Side.Buy);
  const fill = Object.assign(new EventRecord(), {
    kind: EventKind.Fill,
    market: SOL_USDC,
    account: ACCOUNT,
    orderId: taker,
    side: Side.Buy,
    makerAccount: MAKER,
    makerOrderId: maker,
    price: 150n * USD,
    quantity: 100_000_000n,
    quoteQuantity: 15_000_000n,
  });
  return { risk, fill, left: FILLS_PER_FIXTURE };
}

/** R2 of one fill with both sides in the shard: holds, balances, tiered fees, 30-day volume, margin sync, events. */
function shardFill(): void {
  let f = ff!;
  if (f.left-- === 0) f = ff = fillFixture();
  f.fill.takerFee = 0n;
  f.fill.makerFee = 0n;
  f.risk.postTrade(f.fill, counting);
}

export const benchmarks: BenchDef[] = [
  {
    id: "risk.pretrade-check",
    kind: "tinybench",
    setup: () => {
      f = fixture();
      if (!f.account.wouldPassInitialMargin(f.changes.clear())) throw new Error("fixture account must pass");
    },
    fn: () => preTradeCheck((i & 1) === 0 ? Side.Buy : Side.Sell),
    notes:
      "C8 pre-trade margin check of a spot-margin order (build post-trade deltas of 2 assets + IMR test) on an " +
      "account with 5 collateral assets and 3 perp positions; alternates SOL/BTC, buy/sell, 64 sizes",
  },
  {
    id: "risk.pretrade-check.borrowing",
    kind: "tinybench",
    setup: () => {
      borrowFixture = fixture();
    },
    fn: preTradeCheckBorrowing,
    notes: "same account, a SOL margin buy large enough to turn USDC into a borrow (borrow IMF path)",
  },
  {
    id: "risk.pretrade-check.perp-order",
    kind: "tinybench",
    setup: () => {
      f = fixture();
    },
    fn: preTradeCheckPerp,
    notes: "same account, a SOL perp order added to open-order exposure (C4) and checked (C8)",
  },
  {
    id: "risk.shard-pretrade",
    kind: "tinybench",
    setup: () => {
      sf = shardFixture();
      const before = acceptedOrders;
      for (let k = 0; k < VARIANTS; k++) shardPreTrade();
      if (acceptedOrders - before !== VARIANTS) throw new Error("risk.shard-pretrade: every fixture order must pass the check");
    },
    fn: shardPreTrade,
    notes:
      "RiskShard R1 of a spot-margin limit order (autoBorrow) on an account with 5 collateral assets and a USDC borrow: " +
      "validation, S1 funding, C8 on its full fill at the taker tier's fee, hold, balance event — plus R2 of its cancel (release, balance event)",
  },
  {
    id: "risk.shard-fill",
    kind: "tinybench",
    setup: () => {
      ff = fillFixture();
      const before = events;
      shardFill();
      if (events - before !== 5) throw new Error("risk.shard-fill: a fill must publish the fill and 4 balances");
    },
    fn: shardFill,
    notes: "RiskShard R2 of one SOL_USDC fill with both sides in the shard: holds, balances, fees by 30-day tier, volume, margin sync of 2 assets per side, fill + 4 balance events",
  },
];

/** Keeps the result observable so the checks cannot be optimized away. */
export function acceptedCount(): number {
  return accepted + acceptedOrders + events;
}
