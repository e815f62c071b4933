// The threaded pipeline and the in-process engine are the same machine: for the same journal batches they give
// the same events in the same order and the same state hash (DESIGN rule 5, X4) — also under load, with large
// batches, and with several risk and matching shards.
import { afterEach, describe, expect, it } from "vitest";
import { CommandRecord, EventRecord, type EventSink } from "../engine/model/index.ts";
import { COMMAND_RECORD_BYTES, Engine, loadConfig, ThreadedPipeline, viewsOf, writeCommand, type EngineTopology } from "../engine/pipeline/index.ts";
import { COMMAND_RING_SLOTS } from "../engine/pipeline/workers/protocol.ts";
import { CommandGenerator, prng } from "./helpers/random-commands.ts";
import { eventAmount2Slot, eventAmountSlot, eventCodeSlot, eventSideSlot } from "../engine/model/generated/records.ts";

const config = loadConfig();

function eventText(e: EventRecord): string {
  return `${e.kind}|${e.seq}|${e.marketSeq}|${e.account}|${e.market}|${e.asset}|${eventSideSlot(e)}|${e.orderId}|${e.clientId}|${eventCodeSlot(e)}|${e.message}|${e.price}|${e.quantity}|${eventAmountSlot(e)}|${eventAmount2Slot(e)}|${e.makerAccount}|${e.makerOrderId}|${e.makerClientId}|${e.makerFee}|${e.takerFee}|${e.tradeId}|${e.timeMs}`;
}

/** A journal-like stream: funding, then `count` generated commands cut into batches of random sizes. */
function batches(seed: number, count: number, maxBatch: number): CommandRecord[][] {
  const gen = new CommandGenerator(seed);
  const rand = prng(seed ^ 0x5eed);
  const out: CommandRecord[][] = [gen.funding()];
  let left = count;
  while (left > 0) {
    const n = Math.min(left, 1 + Math.floor(rand() * maxBatch));
    const b: CommandRecord[] = [];
    for (let i = 0; i < n; i++) b.push(gen.next());
    out.push(b);
    left -= n;
  }
  return out;
}

function runInProcess(stream: CommandRecord[][], topology: EngineTopology): { events: string[]; hash: string } {
  const engine = new Engine(config, topology);
  const events: string[] = [];
  const sink: EventSink = { publish: (e) => events.push(eventText(e)) };
  for (const b of stream) engine.processBatch(b, b.length, sink);
  return { events, hash: engine.stateHash() };
}

const running: ThreadedPipeline[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

async function runThreaded(stream: CommandRecord[][], topology: EngineTopology, stages?: "fused" | "split"): Promise<{ events: string[]; hash: string }> {
  const events: string[] = [];
  const fatal: string[] = [];
  const p = await ThreadedPipeline.start(config, { onEvent: (e) => events.push(eventText(e)), onFatal: (m) => fatal.push(m) }, { topology, ...(stages === undefined ? {} : { stages }) });
  running.push(p);
  let n = 0;
  for (const b of stream) await p.submitBatch(b, b.length, ++n);
  await p.waitForBatch(n);
  const hash = await p.stateHash();
  expect(fatal).toEqual([]);
  return { events, hash };
}

describe("threaded pipeline = in-process engine", () => {
  it("X4: 20,000 random commands in random batches (1–400): identical event stream and state hash, 1 risk × 1 matching shard (the fused engine worker, the default)", async () => {
    const stream = batches(20261121, 20_000, 400);
    const a = runInProcess(stream, { riskShards: 1, matchingShards: 1 });
    const b = await runThreaded(stream, { riskShards: 1, matchingShards: 1 });
    expect(a.events.length).toBeGreaterThan(60_000);
    expect(b.events.length).toBe(a.events.length);
    for (let i = 0; i < a.events.length; i++) if (b.events[i] !== a.events[i]) expect(b.events[i]).toBe(a.events[i]);
    expect(b.hash).toBe(a.hash);
  });

  it("X4: the same stream with risk and matching on separate workers (stages: split) gives the same events and hash", async () => {
    const stream = batches(20261122, 10_000, 400);
    const a = runInProcess(stream, { riskShards: 1, matchingShards: 1 });
    const b = await runThreaded(stream, { riskShards: 1, matchingShards: 1 }, "split");
    expect(a.events.length).toBeGreaterThan(30_000);
    expect(b.events.length).toBe(a.events.length);
    for (let i = 0; i < a.events.length; i++) if (b.events[i] !== a.events[i]) expect(b.events[i]).toBe(a.events[i]);
    expect(b.hash).toBe(a.hash);
  });

  it("X4: 2 risk × 2 matching shards: the same state hash and the same multiset of events", async () => {
    const stream = batches(7, 8_000, 300);
    const topology = { riskShards: 2, matchingShards: 2 };
    const a = runInProcess(stream, topology);
    const b = await runThreaded(stream, topology);
    expect(b.hash).toBe(a.hash);
    // Shards interleave on the way out; each shard's own stream is ordered, so the multiset is the same.
    expect([...b.events].sort()).toEqual([...a.events].sort());
  });

  it("X4: commands handed over already encoded (submitEncoded, as the benchmarks do) give the same events and hash", async () => {
    const stream = batches(31337, 3_000, 200);
    const a = runInProcess(stream, { riskShards: 1, matchingShards: 1 });
    const events: string[] = [];
    const p = await ThreadedPipeline.start(config, { onEvent: (e) => events.push(eventText(e)) });
    running.push(p);
    let n = 0;
    for (const b of stream) {
      const views = viewsOf(new ArrayBuffer(b.length * COMMAND_RECORD_BYTES));
      b.forEach((c, i) => writeCommand(views, i * COMMAND_RECORD_BYTES, c));
      await p.submitEncoded(views, 0, b.length, ++n);
    }
    await p.waitForBatch(n);
    // Waiting for a batch that already finished resolves at once (it used to wait forever).
    await p.waitForBatch(n);
    await p.waitForBatch(1);
    expect(events).toEqual(a.events);
    expect(await p.stateHash()).toBe(a.hash);
  });

  it("X4: a busy-polling driver (trySubmitEncoded + poll, no event-loop turn per batch) gives the same events and hash", async () => {
    const stream = batches(4242, 3_000, 200);
    const a = runInProcess(stream, { riskShards: 1, matchingShards: 1 });
    const events: string[] = [];
    let done = 0;
    const p = await ThreadedPipeline.start(config, { onEvent: (e) => events.push(eventText(e)), onBatchDone: () => done++ });
    running.push(p);
    // A batch that cannot fit whole is refused whole: nothing written, nothing to wait for.
    const tooBig = viewsOf(new ArrayBuffer(COMMAND_RING_SLOTS * COMMAND_RECORD_BYTES));
    expect(p.trySubmitEncoded(tooBig, 0, COMMAND_RING_SLOTS, 1)).toBe(false);
    let n = 0;
    const deadline = Date.now() + 30_000;
    for (const b of stream) {
      const views = viewsOf(new ArrayBuffer(b.length * COMMAND_RECORD_BYTES));
      b.forEach((c, i) => writeCommand(views, i * COMMAND_RECORD_BYTES, c));
      while (!p.trySubmitEncoded(views, 0, b.length, n + 1)) {
        if (Date.now() > deadline) throw new Error("the rings never drained");
        p.poll();
      }
      n++;
      p.poll();
    }
    while (done < n) {
      if (Date.now() > deadline) throw new Error(`only ${done} of ${n} batches finished`);
      p.poll();
    }
    expect(events).toEqual(a.events);
    expect(await p.stateHash()).toBe(a.hash);
  });

  it("X4: the shard layout does not change the outcome for one account's balances (1×1 vs 2×2 in-process)", () => {
    const stream = batches(99, 3_000, 50);
    const one = new Engine(config, { riskShards: 1, matchingShards: 1 });
    const four = new Engine(config, { riskShards: 2, matchingShards: 2 });
    const discard: EventSink = { publish: () => {} };
    for (const b of stream) {
      one.processBatch(b, b.length, discard);
      four.processBatch(b, b.length, discard);
    }
    const sum = (e: Engine): bigint[] => e.risk.map((r) => r.totals()).reduce((x, y) => x.map((v, i) => v + y[i]!));
    expect(sum(four)).toEqual(sum(one));
    for (const account of [16, 17, 32, 48, 193]) {
      for (let asset = 0; asset < config.assets.length; asset++) {
        const r1 = one.risk[0]!.balance(account, asset);
        const r4 = four.risk[(account >>> 4) % 2]!.balance(account, asset);
        expect(r4).toEqual(r1);
      }
    }
  });
});
