// Cross-thread stress tests of engine/ring: records pushed by a producer worker_thread through a small ring
// arrive exactly once, in order, intact (count, per-record sequence/payload check, and a running checksum).

import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { RingBuffer, SpinThenParkWait } from "../engine/ring/index.ts";
import { Word } from "../engine/ring/layout.ts";
import type { ParkWorkerData, ParkWorkerReport } from "./fixtures/ring-park-worker.ts";
import { consumeAll, consumeAllAsync } from "./fixtures/ring-consumer.ts";
import type { ConsumerData, ConsumerReport, ProducerData, ProducerReport } from "./fixtures/ring-records.ts";
import { STRESS_RECORD_BYTES } from "./fixtures/ring-records.ts";

const workers: Worker[] = [];

/** Starts a TypeScript fixture in a worker through the pipeline's tsx bootstrap (engine/pipeline/workers/boot.mjs). */
function startWorker<T>(fixture: string, data: ProducerData | ConsumerData | ParkWorkerData): Promise<T> {
  const worker = new Worker(new URL("../engine/pipeline/workers/boot.mjs", import.meta.url), {
    workerData: { ...data, entry: new URL(`./fixtures/${fixture}`, import.meta.url).href },
  });
  workers.push(worker);
  return new Promise<T>((resolve, reject) => {
    worker.once("message", (message: T) => resolve(message));
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`${fixture} exited with code ${code} before reporting`)));
  });
}

afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
});

function expectExactDelivery(consumer: ConsumerReport, producer: ProducerReport, count: number): void {
  expect(producer.produced).toBe(count);
  expect(consumer.consumed).toBe(count);
  expect(consumer.badRecords).toBe(0);
  expect(consumer.firstBadIndex).toBe(-1);
  expect(consumer.checksum).toBe(producer.checksum);
}

describe("ring across threads", () => {
  it("10,000,000 records through a 1024-slot ring: none lost, reordered or duplicated (spin-then-park both sides)", async () => {
    const count = 10_000_000;
    // Starting 5M below 2^31 drives both sequences through the signed Int32 wrap mid-run.
    const ring = RingBuffer.create(STRESS_RECORD_BYTES, 1024, { startSequence: 2 ** 31 - 5_000_000 });
    const producer = startWorker<ProducerReport>("ring-producer.ts", { ring: ring.sab, count, batch: 100, wait: "spin", closeAtEnd: true });
    const consumer = consumeAll(ring, new SpinThenParkWait());
    expectExactDelivery(consumer, await producer, count);
    expect(ring.consumerSequence()).toBe((2 ** 31 - 5_000_000 + count) | 0);
  });

  it("an async consumer on the main thread (Atomics.waitAsync) receives 1,000,000 records across the 2^32 wrap", async () => {
    const count = 1_000_000;
    const ring = RingBuffer.create(STRESS_RECORD_BYTES, 256, { startSequence: -500_000 });
    const producer = startWorker<ProducerReport>("ring-producer.ts", { ring: ring.sab, count, batch: 64, wait: "blocking", closeAtEnd: true });
    const consumer = await consumeAllAsync(ring, new SpinThenParkWait({ spinIterations: 200 }));
    expectExactDelivery(consumer, await producer, count);
    expect(ring.consumerSequence()).toBe(500_000);
  });

  it("worker to worker, unbatched, blocking waits on a 16-slot ring: 200,000 records exactly once", async () => {
    const count = 200_000;
    const ring = RingBuffer.create(STRESS_RECORD_BYTES, 16);
    const consumer = startWorker<ConsumerReport>("ring-consumer-worker.ts", { ring: ring.sab, wait: "blocking" });
    const producer = startWorker<ProducerReport>("ring-producer.ts", { ring: ring.sab, count, batch: 1, wait: "blocking", closeAtEnd: true });
    const producerReport = await producer;
    expectExactDelivery(await consumer, producerReport, count);
    // Unbatched through 16 slots with a consumer that parks: both sides must have waited on each other.
    expect(producerReport.fullWaits + (await consumer).emptyWaits).toBeGreaterThan(0);
  });

  it("worker to worker, unbatched, adaptive spin-then-park on a 16-slot ring: 200,000 records exactly once", async () => {
    const count = 200_000;
    const ring = RingBuffer.create(STRESS_RECORD_BYTES, 16);
    const consumer = startWorker<ConsumerReport>("ring-consumer-worker.ts", { ring: ring.sab, wait: "adaptive" });
    const producer = startWorker<ProducerReport>("ring-producer.ts", { ring: ring.sab, count, batch: 1, wait: "adaptive", closeAtEnd: true });
    expectExactDelivery(await consumer, await producer, count);
  });
});

/** Yields to the event loop until `ready()` holds; throws after `turns` turns (a hung peer fails the test). */
async function until(ready: () => boolean, turns: number, what: string): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (ready()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`gave up waiting for ${what} after ${turns} event-loop turns`);
}

describe("park and wake across threads", () => {
  it("a consumer parked in Atomics.wait wakes on each publish: 200 rounds, one record each, no timeouts", async () => {
    const rounds = 200;
    const ring = RingBuffer.create(8, 4);
    const report = startWorker<ParkWorkerReport>("ring-park-worker.ts", { ring: ring.sab, rounds });
    for (let round = 0; round < rounds; round++) {
      // The worker released the previous record and set its parked flag: it is in (or entering) Atomics.wait.
      await until(() => ring.consumerSequence() === round && Atomics.load(ring.i32, Word.consumerParked) === 1, 5_000_000, `park ${round}`);
      expect(ring.tryClaim(1)).toBe(1);
      ring.i32[ring.slotOffset(0) >> 2] = 1_000 + round;
      ring.publish(1);
    }
    const { values, timeouts } = await report;
    expect(timeouts).toBe(0);
    expect(values).toEqual(Array.from({ length: rounds }, (_, i) => 1_000 + i));
    expect(Atomics.load(ring.i32, Word.consumerParked)).toBe(0);
  });
});
