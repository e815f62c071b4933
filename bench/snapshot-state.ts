// A large exchange state for the snapshot benchmarks (issue 14): N funded accounts and M resting orders on the three
// spot books, built through the engine itself (deposits, then non-crossing limit orders), so it is a state the engine
// really reaches. `buildSnapshotState` returns the in-process engine; for a threaded engine in that state start
// ThreadedPipeline with `{ snapshot: engine.snapshot() }`; for a journal of it, journal `snapshotStateBatches`.
import { CommandKind, CommandRecord, EventKind, OrderType, Side, TimeInForce, type EventSink, type ExchangeConfig } from "../engine/model/index.ts";
import { BATCH_COMMANDS_MAX, DEFAULT_TOPOLOGY, Engine, type EngineTopology } from "../engine/pipeline/index.ts";

export interface SnapshotStateShape {
  readonly accounts: number;
  readonly restingOrders: number;
}

/** The state the benchmarks name: 100,000 funded accounts, 200,000 resting orders. */
export const SNAPSHOT_BENCH_SHAPE: SnapshotStateShape = { accounts: 100_000, restingOrders: 200_000 };

/** The spot books of config/default.json: quote USDC (asset 0); price step and quantity step in engine units. */
const BOOKS = [
  { market: 0, base: 2, priceStep: 1_000_000_000n, midSteps: 60_000n, qtyStep: 100_000n },
  { market: 1, base: 3, priceStep: 100_000_000n, midSteps: 30_000n, qtyStep: 1_000_000n },
  { market: 2, base: 4, priceStep: 10_000_000n, midSteps: 15_000n, qtyStep: 100_000_000n },
] as const;
/** Price levels per side of each book the orders spread over. */
const LEVELS_PER_SIDE = 2_000;
const DEPOSITS: readonly (readonly [number, bigint])[] = [
  [0, 10_000_000_000_000n],
  [2, 10_000_000_000n],
  [3, 100_000_000_000n],
  [4, 100_000_000_000_000n],
];

/** Client account of the i-th funded user (main sub-account). */
function accountOf(i: number): number {
  return (i + 1) * 16;
}

/**
 * The commands that build the state, in journal batches of BATCH_COMMANDS_MAX (sequence numbers from 1): every
 * account's deposits, then the orders, round-robin over accounts and books, bids below and asks above the mid.
 */
export function* snapshotStateBatches(shape: SnapshotStateShape = SNAPSHOT_BENCH_SHAPE): Generator<CommandRecord[]> {
  let seq = 0;
  let batch: CommandRecord[] = [];
  const emit = (c: CommandRecord): CommandRecord[] | null => {
    c.seq = ++seq;
    batch.push(c);
    if (batch.length < BATCH_COMMANDS_MAX) return null;
    const full = batch;
    batch = [];
    return full;
  };
  for (let i = 0; i < shape.accounts; i++) {
    for (const [asset, amount] of DEPOSITS) {
      const c = new CommandRecord();
      c.kind = CommandKind.Deposit;
      c.account = accountOf(i);
      c.asset = asset;
      c.amount = amount;
      const full = emit(c);
      if (full !== null) yield full;
    }
  }
  for (let i = 0; i < shape.restingOrders; i++) {
    const full = emit(restingOrder(i, shape.accounts));
    if (full !== null) yield full;
  }
  if (batch.length > 0) yield batch;
}

/** The i-th resting order: GTC limit, never crossing (bids at mid − 1 − level steps, asks at mid + 1 + level). */
function restingOrder(i: number, accounts: number): CommandRecord {
  const book = BOOKS[i % BOOKS.length]!;
  const c = new CommandRecord();
  c.kind = CommandKind.PlaceOrder;
  c.account = accountOf(i % accounts);
  c.market = book.market;
  c.side = (i >> 1) & 1 ? Side.Sell : Side.Buy;
  c.orderType = OrderType.Limit;
  c.tif = TimeInForce.GTC;
  const level = BigInt(1 + ((i >> 2) % LEVELS_PER_SIDE));
  c.price = book.priceStep * (c.side === Side.Buy ? book.midSteps - level : book.midSteps + level);
  c.quantity = book.qtyStep * BigInt(1 + (i % 5));
  if (i % 4 === 0) c.clientId = BigInt(i + 1);
  return c;
}

/** Builds the state in an in-process engine (about a second per 100,000 orders on this machine). */
export function buildSnapshotState(config: ExchangeConfig, shape: SnapshotStateShape = SNAPSHOT_BENCH_SHAPE, topology: EngineTopology = DEFAULT_TOPOLOGY): Engine {
  const engine = new Engine(config, topology);
  let rejected = 0;
  const sink: EventSink = {
    publish: (e) => {
      if (e.kind === EventKind.OrderRejected || e.kind === EventKind.CommandRejected) rejected++;
    },
  };
  for (const b of snapshotStateBatches(shape)) engine.processBatch(b, b.length, sink);
  if (rejected > 0) throw new Error(`snapshot state: ${rejected} commands were rejected`);
  return engine;
}
