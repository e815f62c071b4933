// The exchange-core workload for one book, pre-generated into typed arrays and replayed through MatchingShard (and,
// for the peer comparison, through nodejs-order-book).
//
// BTC_USDC, $1 price steps, 0.001–0.01 BTC per order, 200 accounts. A warm-up builds ~1,000 resting orders; the mix
// is 9% GTC limit, 3% IOC, 6% cancel, 82% cancel-replace (move). Passive prices are uniform over 750 levels on each
// side of $60,000, so ~1,000 orders occupy ~750 levels. Like exchange-core's generator, the stream steers the book
// around its target size: GTC orders turn aggressive (crossing up to 8 levels) when the book is above target, and
// a move crosses the spread (and trades) with probability 2% above target, 0.2% below; 10% of moves keep the price and
// change the quantity (priority kept when it shrinks). IOC orders always cross up to 8 levels. The generator runs
// every command through a MatchingShard so that cancels and moves address orders that really rest.
//
// (bench/workload-excore.ts, the pipeline's version, moves orders to a random level on EITHER side, so about half
// the moves cross; its book drains to ~0 resting orders within 10k commands. This generator keeps the book at the
// target instead.)

import { MatchingShard } from "../engine/matching/index.ts";
import {
  CommandKind,
  CommandRecord,
  EventKind,
  OrderType,
  SelfTradePrevention,
  Side,
  TimeInForce,
  type EventRecord,
  type EventSink,
  type ExchangeConfig,
} from "../engine/model/index.ts";
import { loadConfig } from "../engine/pipeline/index.ts";

export const BOOK_MARKET = 0; // BTC_USDC
const MID_STEPS = 60_000;
/** Passive depth range on each side, in $1 levels. */
const LEVELS = 750;
const ACCOUNTS = 200;
const TARGET_RESTING = 1_000;
const PRICE_STEP = 1_000_000_000n; // $1 at PRICE_DECIMALS
const QTY_STEP = 100_000n; // 0.001 BTC
const LOW_STEPS = MID_STEPS - LEVELS; // price table origin

/** Prebuilt bigint operands so that replay allocates nothing of its own. */
const PRICE_TABLE: bigint[] = Array.from({ length: 2 * LEVELS + 1 }, (_, i) => PRICE_STEP * BigInt(LOW_STEPS + i));
const QTY_TABLE: bigint[] = Array.from({ length: 11 }, (_, i) => QTY_STEP * BigInt(i));

/** A command stream in structure-of-arrays form; command i has seq = seqBase + i. */
export interface BookStream {
  readonly length: number;
  readonly seqBase: number;
  readonly kind: Uint8Array;
  readonly tif: Uint8Array;
  readonly side: Uint8Array;
  readonly account: Uint32Array;
  readonly target: Float64Array;
  readonly priceIdx: Int32Array;
  readonly qtyLots: Uint8Array;
  /** nodejs-order-book call per command (a prefix of the stream): limit() options, cancel() id, modify() id + update. */
  readonly peer: PeerCall[];
}

export type PeerCall =
  | { readonly op: 0; readonly options: { id: string; side: "buy" | "sell"; size: number; price: number; timeInForce: "GTC" | "IOC" } }
  | { readonly op: 1; readonly id: string }
  | { readonly op: 2; readonly id: string; readonly update: { price: number; size: number } };

export interface BookWorkload {
  readonly config: ExchangeConfig;
  /** Builds the book to ~1,000 resting orders (replayed untimed). */
  readonly warmup: BookStream;
  /** The measured mix. */
  readonly mix: BookStream;
  /** Levels and orders resting at the end of the generation run (sanity: the book stayed near its target). */
  readonly restingAtEnd: number;
  readonly levelsAtEnd: number;
}

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

class StreamBuilder {
  kind: number[] = [];
  tif: number[] = [];
  side: number[] = [];
  account: number[] = [];
  target: number[] = [];
  priceIdx: number[] = [];
  qtyLots: number[] = [];
  peer: PeerCall[] = [];
  constructor(readonly seqBase: number) {}
  build(): BookStream {
    return {
      length: this.kind.length,
      seqBase: this.seqBase,
      kind: Uint8Array.from(this.kind),
      tif: Uint8Array.from(this.tif),
      side: Uint8Array.from(this.side),
      account: Uint32Array.from(this.account),
      target: Float64Array.from(this.target),
      priceIdx: Int32Array.from(this.priceIdx),
      qtyLots: Uint8Array.from(this.qtyLots),
      peer: this.peer,
    };
  }
}

/** Fills `c` with command i of the stream (the replay loop's only per-command work besides handle()). */
export function loadCommand(s: BookStream, i: number, c: CommandRecord): void {
  fillCommand(c, s.kind[i]!, s.seqBase + i, s.tif[i]!, s.side[i]!, s.account[i]!, s.target[i]!, s.priceIdx[i]!, s.qtyLots[i]!);
}

function fillCommand(c: CommandRecord, kind: number, seq: number, tif: number, side: number, account: number, target: number, priceIdx: number, lots: number): void {
  c.kind = kind as CommandKind;
  c.seq = seq;
  c.account = account;
  c.market = BOOK_MARKET;
  c.flags = 0;
  if (kind === CommandKind.PlaceOrder) {
    c.side = side;
    c.tif = tif;
    c.orderType = OrderType.Limit;
    c.stp = SelfTradePrevention.Allow;
    c.price = PRICE_TABLE[priceIdx]!;
    c.quantity = QTY_TABLE[lots]!;
  } else if (kind === CommandKind.CancelOrder) {
    c.orderId = target;
  } else {
    c.orderId = target;
    c.price = PRICE_TABLE[priceIdx]!;
    c.quantity = QTY_TABLE[lots]!;
  }
}

/**
 * The generator's state: the live orders (ids with O(1) random pick and removal; our id → account, peer id, side,
 * price steps) and the MatchingShard every generated command runs through, so cancels and moves address orders that
 * really rest. It is the sink of that shard's events.
 */
class WorkloadGenerator implements EventSink {
  readonly shard: MatchingShard;
  readonly ids: number[] = [];
  /** The measured stream; its peer calls stop at peerCount (the warm-up keeps all of them). */
  mix: StreamBuilder | null = null;
  /** The last command's seq (our order id of a placed order). */
  seq = 0;
  private readonly rand: () => number;
  private readonly index = new Map<number, number>();
  private readonly owner = new Map<number, number>();
  private readonly peerIdOf = new Map<number, string>();
  private readonly sideOf = new Map<number, number>();
  private readonly priceOf = new Map<number, number>();
  private readonly accepted: number[] = [];
  private readonly done = new Set<number>();
  private readonly cmd = new CommandRecord();

  constructor(config: ExchangeConfig, private readonly peerCount: number, seed: number) {
    this.shard = new MatchingShard(config, [BOOK_MARKET]);
    this.rand = prng(seed);
  }

  publish(e: EventRecord): void {
    if (e.kind === EventKind.OrderAccepted) this.accepted.push(e.orderId);
    else if (e.kind === EventKind.OrderDone) {
      this.done.add(e.orderId);
      this.remove(e.orderId);
    }
  }

  private remove(id: number): void {
    const i = this.index.get(id);
    if (i === undefined) return;
    const last = this.ids.pop()!;
    if (last !== id) {
      this.ids[i] = last;
      this.index.set(last, i);
    }
    this.index.delete(id);
    this.owner.delete(id);
  }

  /** Appends one command to the stream and runs it through the generation shard to learn what rests. */
  private push(b: StreamBuilder, kind: number, tif: number, side: number, account: number, target: number, steps: number, lots: number, peer: PeerCall): void {
    b.kind.push(kind);
    b.tif.push(tif);
    b.side.push(side);
    b.account.push(account);
    b.target.push(target);
    b.priceIdx.push(steps - LOW_STEPS);
    b.qtyLots.push(lots);
    if (b !== this.mix || b.peer.length < this.peerCount) b.peer.push(peer);
    const cmd = this.cmd;
    cmd.clear();
    fillCommand(cmd, kind, ++this.seq, tif, side, account, target, steps - LOW_STEPS, lots);
    this.accepted.length = 0;
    this.done.clear();
    this.shard.handle(cmd, this);
    for (const id of this.accepted) {
      if (this.done.has(id)) continue;
      this.index.set(id, this.ids.length);
      this.ids.push(id);
      this.owner.set(id, account);
    }
  }

  /** Price steps that cross up to 8 levels from the mid. */
  private pickAggressive(side: number): number {
    return side === Side.Buy ? MID_STEPS + Math.floor(this.rand() * 8) : MID_STEPS - Math.floor(this.rand() * 8);
  }

  /** Price steps uniform over LEVELS levels on the order's own side of the mid. */
  private pickPassive(side: number): number {
    const depth = 1 + Math.floor(this.rand() * LEVELS);
    return side === Side.Buy ? MID_STEPS - depth : MID_STEPS + depth;
  }

  /** A limit order of a random account, side and size: passive, or crossing up to 8 levels when `aggressive`. */
  limit(b: StreamBuilder, tif: number, aggressive: boolean): void {
    const rand = this.rand;
    const account = (Math.floor(rand() * ACCOUNTS) + 1) * 16;
    const side = rand() < 0.5 ? Side.Buy : Side.Sell;
    const steps = aggressive ? this.pickAggressive(side) : this.pickPassive(side);
    const lots = 1 + Math.floor(rand() * 10);
    const id = String(this.seq + 1);
    this.peerIdOf.set(this.seq + 1, id);
    this.sideOf.set(this.seq + 1, side);
    this.priceOf.set(this.seq + 1, steps);
    this.push(b, CommandKind.PlaceOrder, tif, side, account, 0, steps, lots, {
      op: 0,
      options: { id, side: side === Side.Buy ? "buy" : "sell", size: lots, price: steps, timeInForce: tif === TimeInForce.IOC ? "IOC" : "GTC" },
    });
  }

  /** One command of the measured mix: 9% GTC limit, 3% IOC, 6% cancel, 82% cancel-replace (see the module comment). */
  mixCommand(b: StreamBuilder): void {
    const rand = this.rand;
    const ids = this.ids;
    const r = rand();
    const above = ids.length > TARGET_RESTING;
    if (r < 0.09 || ids.length === 0) {
      this.limit(b, TimeInForce.GTC, ids.length > TARGET_RESTING * 1.1 || rand() < 0.02);
    } else if (r < 0.12) {
      this.limit(b, TimeInForce.IOC, true);
    } else if (r < 0.18) {
      const id = ids[Math.floor(rand() * ids.length)]!;
      this.push(b, CommandKind.CancelOrder, 0, 0, this.owner.get(id)!, id, MID_STEPS, 0, { op: 1, id: this.peerIdOf.get(id)! });
    } else {
      this.move(b, above);
    }
  }

  /** Moves a random live order: 10% keep the price, a few cross the spread (more when the book is above target). */
  private move(b: StreamBuilder, above: boolean): void {
    const rand = this.rand;
    const id = this.ids[Math.floor(rand() * this.ids.length)]!;
    const side = this.sideOf.get(id)!;
    const r2 = rand();
    const steps = r2 < 0.1 ? (this.priceOf.get(id) ?? this.pickPassive(side)) : r2 < 0.1 + (above ? 0.02 : 0.002) ? this.pickAggressive(side) : this.pickPassive(side);
    const lots = 1 + Math.floor(rand() * 10);
    const peerId = this.peerIdOf.get(id)!;
    // nodejs-order-book keeps the id across modify(); ours is the replace command's seq.
    this.peerIdOf.set(this.seq + 1, peerId);
    this.sideOf.set(this.seq + 1, side);
    this.priceOf.set(this.seq + 1, steps);
    this.push(b, CommandKind.ReplaceOrder, 0, 0, this.owner.get(id)!, id, steps, lots, { op: 2, id: peerId, update: { price: steps, size: lots } });
  }
}

/**
 * Generates the warm-up and `count` measured commands (seeded, deterministic); nodejs-order-book calls are built for
 * the warm-up and the first `peerCount` measured commands.
 */
export function bookWorkload(count: number, peerCount: number, seed = 1): BookWorkload {
  const config = loadConfig();
  const generator = new WorkloadGenerator(config, peerCount, seed);
  const warm = new StreamBuilder(1);
  while (generator.ids.length < TARGET_RESTING) generator.limit(warm, TimeInForce.GTC, false);
  const mix = new StreamBuilder(generator.seq + 1);
  generator.mix = mix;
  for (let n = 0; n < count; n++) generator.mixCommand(mix);
  const depth = generator.shard.depthSnapshot(BOOK_MARKET, 100_000);
  return {
    config,
    warmup: warm.build(),
    mix: mix.build(),
    restingAtEnd: generator.ids.length,
    levelsAtEnd: depth.bids.length + depth.asks.length,
  };
}

/** Counts events; the cheapest sink that still receives every event. */
export class CountingSink implements EventSink {
  count = 0;
  publish(_e: EventRecord): void {
    this.count++;
  }
}

export function replay(shard: MatchingShard, s: BookStream, from: number, to: number, cmd: CommandRecord, sink: EventSink): void {
  for (let i = from; i < to; i++) {
    loadCommand(s, i, cmd);
    shard.handle(cmd, sink);
  }
}
