// Order-book benchmarks: the exchange-core mix through MatchingShard alone, and through nodejs-order-book (peer).
//
//   book.excore-mix                          throughput of handle() over the pre-generated mix (median of 3 passes on
//                                            fresh books), per-op latency p50/p99/p99.9 from a separate pass timing
//                                            every operation with process.hrtime.bigint into an hdr histogram.
//   book.excore-mix.peer-nodejs-order-book   the same stream prefix through nodejs-order-book 10.1.1 (limit / cancel /
//                                            modify), with our throughput on the same prefix measured alongside.
import * as hdr from "hdr-histogram-js";
import { OrderBook } from "nodejs-order-book";
import { MatchingShard, type MarketDataSink } from "../engine/matching/index.ts";
import { CommandRecord } from "../engine/model/index.ts";
import type { BenchDef, BenchResult } from "./harness.ts";
import { BOOK_MARKET, CountingSink, bookWorkload, loadCommand, replay, type BookStream, type BookWorkload } from "./book-workload.ts";

const MIX_COMMANDS = 2_000_000;
const PEER_COMMANDS = 300_000;
const PASSES = 3;

let cached: BookWorkload | null = null;
function workload(): BookWorkload {
  cached ??= bookWorkload(MIX_COMMANDS, PEER_COMMANDS, 1);
  return cached;
}

/** A book with the warm-up applied (untimed). */
function warmedShard(w: BookWorkload, cmd: CommandRecord, sink: CountingSink): MatchingShard {
  const shard = new MatchingShard(w.config, [BOOK_MARKET]);
  replay(shard, w.warmup, 0, w.warmup.length, cmd, sink);
  return shard;
}

/** A market-data sink that only counts calls (the cost of producing O8 data, without any fan-out). */
class CountingMdSink implements MarketDataSink {
  calls = 0;
  trade(): void {
    this.calls++;
  }
  depthDelta(): void {
    this.calls++;
  }
  depthLevel(): void {
    this.calls++;
  }
  bbo(): void {
    this.calls++;
  }
  ticker(): void {
    this.calls++;
  }
}

/** Seconds to replay commands [0, n) of the mix on a fresh warmed book. */
function timedPass(w: BookWorkload, n: number, md: MarketDataSink | null = null): { seconds: number; events: number } {
  const cmd = new CommandRecord();
  const sink = new CountingSink();
  const shard = warmedShard(w, cmd, sink);
  shard.setMarketDataSink(md);
  sink.count = 0;
  const t0 = process.hrtime.bigint();
  replay(shard, w.mix, 0, n, cmd, sink);
  const t1 = process.hrtime.bigint();
  return { seconds: Number(t1 - t0) / 1e9, events: sink.count };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function runBook(): Promise<BenchResult> {
  const w = workload();
  const n = w.mix.length;
  timedPass(w, n); // JIT warm-up
  const passes: number[] = [];
  let events = 0;
  for (let p = 0; p < PASSES; p++) {
    const r = timedPass(w, n);
    passes.push(n / r.seconds);
    events = r.events;
  }
  const opsPerSec = median(passes);
  const md = new CountingMdSink();
  const withMd = n / timedPass(w, n, md).seconds;

  // Latency: every operation timed on its own (timer cost included; measured below and reported).
  const cmd = new CommandRecord();
  const sink = new CountingSink();
  const shard = warmedShard(w, cmd, sink);
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 1_000_000_000, numberOfSignificantValueDigits: 3 });
  const mix = w.mix;
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    loadCommand(mix, i, cmd);
    shard.handle(cmd, sink);
    const t1 = process.hrtime.bigint();
    hist.recordValue(Number(t1 - t0));
  }
  const timer = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 1_000_000_000, numberOfSignificantValueDigits: 3 });
  for (let i = 0; i < 200_000; i++) {
    const t0 = process.hrtime.bigint();
    const t1 = process.hrtime.bigint();
    timer.recordValue(Number(t1 - t0));
  }
  const depth = shard.depthSnapshot(BOOK_MARKET, 100_000);
  const notes =
    `${n.toLocaleString("en")} commands (median of ${PASSES} passes: ${passes.map((x) => (x / 1e6).toFixed(2)).join(", ")} M ops/s), ` +
    `${(events / n).toFixed(2)} events/op; book at end: ${depth.bids.length + depth.asks.length} levels, ` +
    `${shard.bookOrders(BOOK_MARKET).length} orders; latency from a separate pass timing each op ` +
    `(includes hrtime.bigint cost, p50 ${timer.getValueAtPercentile(50)} ns); no market-data sink ` +
    `(with a counting MarketDataSink attached: ${(withMd / 1e6).toFixed(2)} M ops/s, ${(md.calls / n).toFixed(2)} md calls/op)`;
  const result: BenchResult = {
    id: "book.excore-mix",
    opsPerSec,
    meanNs: 1e9 / opsPerSec,
    p50Ns: hist.getValueAtPercentile(50),
    p99Ns: hist.getValueAtPercentile(99),
    p999Ns: hist.getValueAtPercentile(99.9),
    notes,
  };
  hist.destroy();
  timer.destroy();
  return result;
}

function peerReplay(ob: OrderBook, s: BookStream, n: number): void {
  const calls = s.peer;
  for (let i = 0; i < n; i++) {
    const c = calls[i]!;
    if (c.op === 0) ob.limit(c.options as never);
    else if (c.op === 1) ob.cancel(c.id);
    else ob.modify(c.id, c.update as never);
  }
}

async function runPeer(): Promise<BenchResult> {
  const w = workload();
  const n = Math.min(PEER_COMMANDS, w.mix.peer.length);
  const peerRates: number[] = [];
  const ourRates: number[] = [];
  for (let p = 0; p < PASSES + 1; p++) {
    const ob = new OrderBook();
    peerReplay(ob, w.warmup, w.warmup.length);
    const t0 = process.hrtime.bigint();
    peerReplay(ob, w.mix, n);
    const t1 = process.hrtime.bigint();
    const ours = timedPass(w, n);
    if (p === 0) continue; // warm-up pass for both
    peerRates.push(n / (Number(t1 - t0) / 1e9));
    ourRates.push(n / ours.seconds);
  }
  const peer = median(peerRates);
  const ours = median(ourRates);
  return {
    id: "book.excore-mix.peer-nodejs-order-book",
    opsPerSec: peer,
    meanNs: 1e9 / peer,
    p50Ns: null,
    p99Ns: null,
    p999Ns: null,
    notes:
      `nodejs-order-book 10.1.1 on the first ${n.toLocaleString("en")} commands of the book.excore-mix stream ` +
      `(limit/cancel/modify, float sizes/prices): ${(peer / 1e3).toFixed(0)} k ops/s; MatchingShard on the same prefix ` +
      `${(ours / 1e6).toFixed(2)} M ops/s → ratio ${(ours / peer).toFixed(1)}× (median of ${PASSES} passes each)`,
  };
}

export const benchmarks: BenchDef[] = [
  { id: "book.excore-mix", kind: "custom", run: runBook },
  { id: "book.excore-mix.peer-nodejs-order-book", kind: "custom", run: runPeer },
];
