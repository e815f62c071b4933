// Single-threaded tests of engine/ring: validation, claim/publish/release accounting, wrap-around, field views,
// waits and the worker hand-off helpers. The cross-thread stress tests are in ring-threads.test.ts.

import fc from "fast-check";
import { MessageChannel } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import {
  AdaptiveSpinThenParkWait,
  BlockingWait,
  DATA_OFFSET_BYTES,
  isRingHandle,
  postRing,
  receiveRing,
  RingBuffer,
  SpinThenParkWait,
  waitForData,
  waitForDataAsync,
  waitForSpace,
  waitForSpaceAsync,
} from "../engine/ring/index.ts";
import { EVENT_WRITE_CLAIM_BATCH, MidBatchWake, RingReader, RingWriter, WRITE_CLAIM_BATCH } from "../engine/pipeline/ring-io.ts";

/** Writes `value` into claimed slot i as (i32 value, i64 value × 3) — records of ≥ 16 B — and reads it back. */
function writeSlot(ring: RingBuffer, i: number, value: number): void {
  const offset = ring.slotOffset(i);
  ring.i32[offset >> 2] = value;
  ring.i64[(offset + 8) >> 3] = BigInt(value) * 3n;
}

function readSlot(ring: RingBuffer, i: number): number {
  const offset = ring.readOffset(i);
  const value = ring.i32[offset >> 2]!;
  expect(ring.i64[(offset + 8) >> 3]).toBe(BigInt(value) * 3n);
  return value;
}

describe("RingBuffer.create / attach validation", () => {
  it("rejects record sizes that are not a multiple of 8 in [8, 65536]", () => {
    expect(() => RingBuffer.create(12, 16)).toThrow("ring recordBytes must be a multiple of 8 in [8, 65536], got 12");
    expect(() => RingBuffer.create(0, 16)).toThrow("got 0");
    expect(() => RingBuffer.create(65_544, 16)).toThrow("got 65544");
    expect(() => RingBuffer.create(8.5, 16)).toThrow("got 8.5");
  });

  it("rejects capacities that are not a power of two in [2, 2^30]", () => {
    expect(() => RingBuffer.create(8, 1000)).toThrow("ring capacity must be a power of two in [2, 2^30], got 1000");
    expect(() => RingBuffer.create(8, 1)).toThrow("got 1");
    expect(() => RingBuffer.create(8, 2 ** 31)).toThrow("got 2147483648");
  });

  it("rejects a data region over 1 GiB and a start sequence that is not 32-bit", () => {
    expect(() => RingBuffer.create(16, 2 ** 27)).toThrow("ring data region 16 B × 134217728 slots = 2147483648 B exceeds 1073741824 B");
    expect(() => RingBuffer.create(8, 16, { startSequence: 2 ** 32 })).toThrow("ring startSequence must be a 32-bit integer");
  });

  it("sizes the buffer as header + capacity × recordBytes", () => {
    const ring = RingBuffer.create(24, 8);
    expect(DATA_OFFSET_BYTES).toBe(640);
    expect(ring.sab.byteLength).toBe(640 + 24 * 8);
    expect(RingBuffer.bytesFor(24, 8)).toBe(832);
    expect([ring.recordBytes, ring.capacity, ring.mask, ring.dataOffset]).toEqual([24, 8, 7, 640]);
  });

  it("attach reads recordBytes and capacity from the header and shares the memory", () => {
    const ring = RingBuffer.create(16, 4);
    const other = RingBuffer.attach(ring.sab);
    expect([other.recordBytes, other.capacity]).toEqual([16, 4]);
    expect(ring.tryClaim(1)).toBe(1);
    writeSlot(ring, 0, 77);
    ring.publish(1);
    expect(other.available()).toBe(1);
    expect(readSlot(other, 0)).toBe(77);
    other.release(1);
    expect(ring.freeSlots()).toBe(4);
  });

  it("attach refuses buffers that are not rings", () => {
    expect(() => RingBuffer.attach(new SharedArrayBuffer(100))).toThrow("not a ring: 100 B is smaller than the 640 B header");
    expect(() => RingBuffer.attach(new SharedArrayBuffer(1024))).toThrow("not a ring: bad magic word");
    const ring = RingBuffer.create(8, 4);
    const bigger = new SharedArrayBuffer(ring.sab.byteLength + 8);
    new Uint8Array(bigger).set(new Uint8Array(ring.sab));
    expect(() => RingBuffer.attach(bigger)).toThrow("ring header says 672 B (8 B × 4) but the buffer is 680 B");
    expect(() => RingBuffer.attach({} as SharedArrayBuffer)).toThrow("RingBuffer.attach needs a SharedArrayBuffer or a RingHandle");
  });
});

describe("claim / publish / release", () => {
  it("a full ring refuses claims until the consumer releases", () => {
    const ring = RingBuffer.create(16, 8);
    expect(ring.tryClaim(20)).toBe(8);
    for (let i = 0; i < 8; i++) writeSlot(ring, i, 100 + i);
    ring.publish(8);
    expect(ring.tryClaim(1)).toBe(0);
    expect(ring.freeSlots()).toBe(0);
    expect(ring.available()).toBe(8);
    expect(readSlot(ring, 0)).toBe(100);
    expect(readSlot(ring, 1)).toBe(101);
    ring.release(2);
    expect(ring.tryClaim(5)).toBe(2);
    expect(ring.available()).toBe(6);
    expect(readSlot(ring, 0)).toBe(102);
  });

  it("claimed slots stay invisible until one publish makes the whole batch visible", () => {
    const ring = RingBuffer.create(16, 16);
    expect(ring.tryClaim(5)).toBe(5);
    for (let i = 0; i < 5; i++) writeSlot(ring, i, i * 10);
    expect(ring.available()).toBe(0);
    expect(ring.producerSequence()).toBe(0);
    ring.publish(5);
    expect(ring.producerSequence()).toBe(5);
    expect(ring.available()).toBe(5);
    expect([0, 1, 2, 3, 4].map((i) => readSlot(ring, i))).toEqual([0, 10, 20, 30, 40]);
    ring.release(5);
    expect(ring.consumerSequence()).toBe(5);
    expect(ring.available()).toBe(0);
  });

  it("publishing part of a claim drops the rest; a new claim starts after what was published", () => {
    const ring = RingBuffer.create(16, 8);
    expect(ring.tryClaim(4)).toBe(4);
    for (let i = 0; i < 4; i++) writeSlot(ring, i, 1 + i);
    ring.publish(2);
    expect(ring.available()).toBe(2);
    expect(ring.tryClaim(1)).toBe(1);
    writeSlot(ring, 0, 9);
    ring.publish(1);
    expect([0, 1, 2].map((i) => readSlot(ring, i))).toEqual([1, 2, 9]);
  });

  it("publish beyond the claim and release beyond what is available throw", () => {
    const ring = RingBuffer.create(8, 4);
    expect(ring.tryClaim(2)).toBe(2);
    expect(() => ring.publish(3)).toThrow("ring publish(3) but 2 slots are claimed");
    ring.publish(2);
    expect(() => ring.publish(1)).toThrow("ring publish(1) but 0 slots are claimed");
    expect(ring.available()).toBe(2);
    expect(() => ring.release(3)).toThrow("ring release(3) but 2 records were available");
    expect(() => ring.release(-1)).toThrow("ring release(-1)");
    expect(ring.tryClaim(0)).toBe(0);
    expect(ring.tryClaim(-3)).toBe(0);
    expect(ring.tryClaim(Number.NaN)).toBe(0);
    expect(() => ring.publish(Number.NaN)).toThrow("ring publish(NaN) but 0 slots are claimed");
    expect(() => ring.release(Number.NaN)).toThrow("ring release(NaN) but 2 records were available");
  });

  for (const start of [2 ** 31 - 5, -5, 2 ** 32 - 3]) {
    it(`sequences wrap around 32 bits without losing order (start ${start})`, () => {
      const ring = RingBuffer.create(16, 4, { startSequence: start });
      const seen: number[] = [];
      let next = 0;
      while (next < 23) {
        const n = ring.tryClaim(Math.min(3, 23 - next));
        for (let i = 0; i < n; i++) writeSlot(ring, i, next + i);
        ring.publish(n);
        next += n;
        const a = ring.available();
        expect(a).toBe(n);
        for (let i = 0; i < a; i++) seen.push(readSlot(ring, i));
        ring.release(a);
      }
      expect(seen).toEqual(Array.from({ length: 23 }, (_, i) => i));
      expect(ring.producerSequence()).toBe((start + 23) | 0);
      expect(ring.consumerSequence()).toBe((start + 23) | 0);
    });
  }

  it("behaves like a bounded FIFO queue for any interleaving, start sequence and capacity (property)", () => {
    const op = fc.record({ produce: fc.boolean(), n: fc.integer({ min: 0, max: 40 }), m: fc.integer({ min: 0, max: 40 }) });
    const start = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(2 ** 31 - 7, -7, 0));
    fc.assert(
      fc.property(start, fc.integer({ min: 1, max: 5 }), fc.array(op, { maxLength: 120 }), (startSequence, capacityLog2, ops) => {
        const capacity = 2 ** capacityLog2;
        const ring = RingBuffer.create(16, capacity, { startSequence });
        const model: number[] = [];
        let nextValue = 1;
        for (const { produce, n, m } of ops) {
          if (produce) {
            const claimed = ring.tryClaim(n);
            expect(claimed).toBe(Math.min(n, capacity - model.length));
            for (let i = 0; i < claimed; i++) writeSlot(ring, i, nextValue + i);
            const published = Math.min(m, claimed);
            ring.publish(published);
            for (let i = 0; i < published; i++) model.push(nextValue + i);
            nextValue += claimed;
          } else {
            const available = ring.available();
            expect(available).toBe(model.length);
            const taken = Math.min(n, available);
            for (let i = 0; i < taken; i++) expect(readSlot(ring, i)).toBe(model[i]);
            ring.release(taken);
            model.splice(0, taken);
          }
          expect(ring.freeSlots()).toBe(capacity - model.length);
          expect((ring.producerSequence() - ring.consumerSequence()) | 0).toBe(model.length);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("record fields through the views", () => {
  it("round-trips Int32, Uint32, Float64, BigInt64, Uint8 and DataView fields at slot offsets across the wrap", () => {
    const ring = RingBuffer.create(64, 4, { startSequence: -2 });
    for (let round = 0; round < 3; round++) {
      expect(ring.tryClaim(4)).toBe(4);
      for (let i = 0; i < 4; i++) {
        const o = ring.slotOffset(i);
        const k = round * 4 + i;
        ring.i32[o >> 2] = -123_456_789 + k;
        ring.u32[(o + 4) >> 2] = 0xfedc_ba98 - k;
        ring.f64[(o + 8) >> 3] = 1.5e-7 * (k + 1);
        ring.i64[(o + 16) >> 3] = -(2n ** 63n) + BigInt(k);
        ring.i64[(o + 24) >> 3] = 2n ** 63n - 1n - BigInt(k);
        ring.u8[o + 32] = 250 + (k % 6);
        ring.view.setUint16(o + 34, 0xbeef - k, true);
        ring.view.setBigUint64(o + 40, 2n ** 64n - 1n - BigInt(k), true);
        ring.view.setFloat32(o + 48, 0.25 * k, true);
      }
      ring.publish(4);
      expect(ring.available()).toBe(4);
      for (let i = 0; i < 4; i++) {
        const o = ring.readOffset(i);
        const k = round * 4 + i;
        expect(ring.i32[o >> 2]).toBe(-123_456_789 + k);
        expect(ring.view.getInt32(o, true)).toBe(-123_456_789 + k);
        expect(ring.u32[(o + 4) >> 2]).toBe(0xfedc_ba98 - k);
        expect(ring.f64[(o + 8) >> 3]).toBe(1.5e-7 * (k + 1));
        expect(ring.i64[(o + 16) >> 3]).toBe(-(2n ** 63n) + BigInt(k));
        expect(ring.view.getBigInt64(o + 24, true)).toBe(2n ** 63n - 1n - BigInt(k));
        expect(ring.u8[o + 32]).toBe(250 + (k % 6));
        expect(ring.view.getUint16(o + 34, true)).toBe(0xbeef - k);
        expect(ring.view.getBigUint64(o + 40, true)).toBe(2n ** 64n - 1n - BigInt(k));
        expect(ring.view.getFloat32(o + 48, true)).toBe(0.25 * k);
      }
      ring.release(4);
    }
  });

  it("slot offsets are 8-byte aligned and inside the data region", () => {
    const ring = RingBuffer.create(40, 8, { startSequence: 2 ** 31 - 3 });
    const offsets = new Set<number>();
    expect(ring.tryClaim(8)).toBe(8);
    for (let i = 0; i < 8; i++) offsets.add(ring.slotOffset(i));
    expect([...offsets].sort((a, b) => a - b)).toEqual([640, 680, 720, 760, 800, 840, 880, 920]);
    expect(ring.slotOffset(0)).toBe(640 + 5 * 40);
  });
});

describe("wait strategies (single thread)", () => {
  const spin = new SpinThenParkWait({ spinIterations: 100, parkSliceMs: 1 });
  const blocking = new BlockingWait({ parkSliceMs: 1 });

  it("names the strategies and validates their options", () => {
    expect([spin.name, spin.spinIterations, blocking.name, blocking.spinIterations]).toEqual(["spin-then-park", 100, "blocking", 0]);
    expect(new SpinThenParkWait().spinIterations).toBe(1000);
    expect(new SpinThenParkWait().parkSliceMs).toBe(10);
    expect(() => new SpinThenParkWait({ spinIterations: -1 })).toThrow("spinIterations must be an integer in [0, 10^7], got -1");
    expect(() => new SpinThenParkWait({ parkSliceMs: 0 })).toThrow("parkSliceMs must be in (0, 1000], got 0");
  });

  for (const strategy of [spin, blocking]) {
    it(`${strategy.name}: waitForData is true when data is there, false after a timeout on an empty ring`, () => {
      const ring = RingBuffer.create(8, 4);
      expect(waitForData(ring, strategy, 0)).toBe(false);
      expect(waitForData(ring, strategy, 3)).toBe(false);
      expect(ring.tryClaim(2)).toBe(2);
      ring.publish(2);
      expect(waitForData(ring, strategy, 0)).toBe(true);
      expect(waitForData(ring, strategy, 0, 2)).toBe(true);
      expect(waitForData(ring, strategy, 2, 3)).toBe(false);
      expect(new Int32Array(ring.sab)[96]).toBe(0); // consumerParked is cleared after every wait
    });

    it(`${strategy.name}: waitForSpace is false on a full ring until the consumer releases`, () => {
      const ring = RingBuffer.create(8, 4);
      expect(waitForSpace(ring, strategy, 0, 4)).toBe(true);
      expect(ring.tryClaim(4)).toBe(4);
      ring.publish(4);
      expect(waitForSpace(ring, strategy, 3)).toBe(false);
      expect(ring.available()).toBe(4);
      ring.release(1);
      expect(waitForSpace(ring, strategy, 0)).toBe(true);
      expect(waitForSpace(ring, strategy, 2, 2)).toBe(false);
      expect(new Int32Array(ring.sab)[128]).toBe(0); // producerParked is cleared after every wait
    });
  }

  it("rejects wait counts outside [1, capacity] and negative timeouts", () => {
    const ring = RingBuffer.create(8, 4);
    expect(() => waitForData(ring, spin, 0, 0)).toThrow("minCount must be an integer in [1, 4], got 0");
    expect(() => waitForSpace(ring, spin, 0, 5)).toThrow("minFree must be an integer in [1, 4], got 5");
    expect(() => waitForData(ring, spin, -1)).toThrow("timeoutMs must be ≥ 0 (Infinity allowed), got -1");
  });

  it("a closed ring ends waits: data still published is reported, then false", () => {
    const ring = RingBuffer.create(8, 4);
    expect(ring.tryClaim(1)).toBe(1);
    ring.publish(1);
    ring.close();
    expect(ring.isClosed()).toBe(true);
    expect(waitForData(ring, blocking, Infinity)).toBe(true);
    expect(ring.available()).toBe(1);
    ring.release(1);
    expect(waitForData(ring, blocking, Infinity)).toBe(false);
    expect(ring.tryClaim(4)).toBe(4);
    ring.publish(4);
    expect(waitForSpace(ring, blocking, Infinity)).toBe(false);
  });

  it("waitForDataAsync parks without blocking the event loop and resolves once the producer publishes", async () => {
    const ring = RingBuffer.create(8, 4);
    const producer = RingBuffer.attach(ring.sab);
    const waiting = waitForDataAsync(ring, new BlockingWait({ parkSliceMs: 1_000 }), 5_000);
    expect(new Int32Array(ring.sab)[96]).toBe(1); // parked: the producer will notify
    // The timer can only fire if the wait left the event loop free.
    setTimeout(() => {
      producer.tryClaim(1);
      producer.publish(1);
    }, 1);
    expect(await waiting).toBe(true);
    expect(ring.available()).toBe(1);
    expect(new Int32Array(ring.sab)[96]).toBe(0);
    expect(await waitForDataAsync(ring, spin, 0, 2)).toBe(false);
  });

  it("waitForSpaceAsync resolves once the consumer releases", async () => {
    const ring = RingBuffer.create(8, 2);
    const consumer = RingBuffer.attach(ring.sab);
    expect(ring.tryClaim(2)).toBe(2);
    ring.publish(2);
    expect(await waitForSpaceAsync(ring, spin, 2)).toBe(false);
    const waiting = waitForSpaceAsync(ring, new BlockingWait({ parkSliceMs: 1_000 }), 5_000, 2);
    expect(new Int32Array(ring.sab)[128]).toBe(1);
    setTimeout(() => {
      consumer.available();
      consumer.release(1);
      setTimeout(() => consumer.release(1), 1);
    }, 1);
    expect(await waiting).toBe(true);
    expect(ring.freeSlots()).toBe(2);
  });
});

describe("adaptive spin-then-park (single thread)", () => {
  it("validates its options; starts at the max budget with the defaults 100..1000 polls", () => {
    const w = new AdaptiveSpinThenParkWait();
    expect([w.name, w.spinIterations, w.spaceSpinIterations, w.spinIterationsMin, w.spinIterationsMax, w.parkSliceMs, w.shortParkMs]).toEqual([
      "adaptive-spin-then-park", 1000, 1000, 100, 1000, 10, 0.1,
    ]);
    expect(() => new AdaptiveSpinThenParkWait({ spinIterationsMin: -1 })).toThrow("spinIterationsMin must be an integer in [0, 10^7], got -1");
    expect(() => new AdaptiveSpinThenParkWait({ spinIterationsMin: 10, spinIterationsMax: 5 })).toThrow("spinIterationsMax (5) must be ≥ spinIterationsMin (10)");
    expect(() => new AdaptiveSpinThenParkWait({ parkSliceMs: 0 })).toThrow("parkSliceMs must be in (0, 1000], got 0");
    expect(() => new AdaptiveSpinThenParkWait({ parkSliceMs: 1, shortParkMs: 2 })).toThrow("shortParkMs must be in [0, parkSliceMs = 1], got 2");
  });

  it("halves the budget after every wait that times out, down to the floor; a wait met at once keeps it", () => {
    const ring = RingBuffer.create(8, 4);
    const w = new AdaptiveSpinThenParkWait({ spinIterationsMin: 100, spinIterationsMax: 800, parkSliceMs: 1, shortParkMs: 0 });
    const budgets: number[] = [];
    for (let i = 0; i < 4; i++) {
      expect(waitForData(ring, w, 0)).toBe(false);
      budgets.push(w.spinIterations);
    }
    expect(budgets).toEqual([400, 200, 100, 100]);
    expect(ring.tryClaim(1)).toBe(1);
    ring.publish(1);
    expect(waitForData(ring, w, 0)).toBe(true);
    expect(w.spinIterations).toBe(100);
    // The space side keeps its own budget.
    expect(w.spaceSpinIterations).toBe(800);
    expect(ring.tryClaim(3)).toBe(3);
    ring.publish(3);
    expect(waitForSpace(ring, w, 0)).toBe(false);
    expect([w.spaceSpinIterations, w.spinIterations]).toEqual([400, 100]);
    expect(new Int32Array(ring.sab)[96]).toBe(0);
    expect(new Int32Array(ring.sab)[128]).toBe(0);
  });

  it("afterLongPark floor: a wait that times out drops the budget to the floor at once", () => {
    const ring = RingBuffer.create(8, 4);
    const w = new AdaptiveSpinThenParkWait({ spinIterationsMin: 100, spinIterationsMax: 800, parkSliceMs: 1, shortParkMs: 0, afterLongPark: "floor" });
    expect(w.afterLongPark).toBe("floor");
    expect(waitForData(ring, w, 0)).toBe(false);
    expect(w.spinIterations).toBe(100);
    expect(ring.tryClaim(4)).toBe(4);
    ring.publish(4);
    expect(waitForSpace(ring, w, 0)).toBe(false);
    expect([w.spaceSpinIterations, w.spinIterations]).toEqual([100, 100]);
  });

  it("doubles the budget after a park that data ended within shortParkMs, up to the max", async () => {
    const ring = RingBuffer.create(8, 16);
    const producer = RingBuffer.attach(ring.sab);
    // shortParkMs = one whole slice: any park that ends with data (not a timeout) counts as short.
    const w = new AdaptiveSpinThenParkWait({ spinIterationsMin: 0, spinIterationsMax: 4, parkSliceMs: 1_000, shortParkMs: 1_000 });
    for (let i = 0; i < 3; i++) expect(await waitForDataAsync(ring, w, 0)).toBe(false);
    expect(w.spinIterations).toBe(0);
    const budgets: number[] = [];
    for (let i = 0; i < 5; i++) {
      const waiting = waitForDataAsync(ring, w, 60_000);
      expect(new Int32Array(ring.sab)[96]).toBe(1); // parked: the publish below must notify it
      setImmediate(() => {
        producer.tryClaim(1);
        producer.publish(1);
      });
      expect(await waiting).toBe(true);
      ring.available();
      ring.release(1);
      budgets.push(w.spinIterations);
    }
    expect(budgets).toEqual([1, 2, 4, 4, 4]);
  });
});

describe("hand-off to another thread", () => {
  it("postRing / receiveRing carry the ring through a MessagePort, sharing memory", async () => {
    const ring = RingBuffer.create(16, 8);
    const { port1, port2 } = new MessageChannel();
    const received = new Promise<unknown>((resolve) => port2.once("message", resolve));
    postRing(port1, ring, "risk0.in");
    const message = await received;
    port1.close();
    expect(isRingHandle(message)).toBe(true);
    const got = receiveRing(message);
    expect(got?.name).toBe("risk0.in");
    expect(got!.ring.sab).not.toBe(ring.sab); // a new object over the same memory
    expect(ring.tryClaim(1)).toBe(1);
    writeSlot(ring, 0, 4242);
    ring.publish(1);
    expect(got!.ring.available()).toBe(1);
    expect(readSlot(got!.ring, 0)).toBe(4242);
  });

  it("receiveRing ignores other messages", () => {
    expect(receiveRing({ kind: "crossbook.ring", name: "x", sab: new ArrayBuffer(8) })).toBe(null);
    expect(receiveRing("hello")).toBe(null);
    expect(receiveRing(null)).toBe(null);
    expect(isRingHandle(RingBuffer.create(8, 2).handle("a"))).toBe(true);
  });
});

describe("RingWriter claim batches (engine/pipeline/ring-io.ts)", () => {
  /** Writes `n` records through `w`, each its index; returns how many the reader sees before any explicit flush. */
  function visibleAfter(w: RingWriter, n: number): number {
    for (let i = 0; i < n; i++) w.ring.i32[w.trySlot() >> 2] = i;
    return w.ring.available();
  }

  it("a writer publishes once per claim batch (256 by default, the event writer's 1024), and flush publishes the rest in order", () => {
    const wait = new SpinThenParkWait({ spinIterations: 0 });
    expect([WRITE_CLAIM_BATCH, EVENT_WRITE_CLAIM_BATCH]).toEqual([256, 1024]);
    const plain = new RingWriter(RingBuffer.create(8, 4096), wait);
    // The 257th record's claim publishes the first 256.
    expect(visibleAfter(plain, 257)).toBe(256);
    const events = new RingWriter(RingBuffer.create(8, 4096), wait, EVENT_WRITE_CLAIM_BATCH);
    expect(visibleAfter(events, 1024)).toBe(0);
    expect(visibleAfter(events, 1)).toBe(1024);
    events.flush();
    expect(events.ring.available()).toBe(1025);
    const r = new RingReader(events.ring, wait);
    const seen: number[] = [];
    for (let offset = r.peek(); offset >= 0; offset = r.peek()) {
      seen.push(events.ring.i32[offset >> 2]!);
      r.advance();
    }
    expect(seen).toEqual([...Array.from({ length: 1024 }, (_, i) => i), 0]);
  });

  it("a claim never passes the free slots: a nearly full ring gives what it has, then -1", () => {
    const wait = new SpinThenParkWait({ spinIterations: 0 });
    const w = new RingWriter(RingBuffer.create(8, 16), wait, EVENT_WRITE_CLAIM_BATCH);
    for (let i = 0; i < 16; i++) expect(w.trySlot()).toBeGreaterThanOrEqual(0);
    expect(w.trySlot()).toBe(-1);
    expect(w.ring.available()).toBe(16);
  });

  it("QuietWhileBelowHalf: a used-up claim wakes a parked consumer only past half the ring; flush always wakes it", async () => {
    // The longest park slice (1 s): within it only a notify ends the consumer's wait (a slice's end would re-check and
    // see the data), so "woken" below means notified.
    const wait = new SpinThenParkWait({ spinIterations: 0, parkSliceMs: 1000 });
    const notifiedWithin = (p: Promise<unknown>, ms: number): Promise<boolean> =>
      Promise.race([p.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), ms))]);
    const ring = RingBuffer.create(8, 4096);
    const w = new RingWriter(ring, wait, 1024, MidBatchWake.QuietWhileBelowHalf);
    let woken = false;
    const parked = waitForDataAsync(ring, wait, 60_000).then((ok) => (woken = ok));
    // Claims of 1024: the 1025th and 2049th records publish 1024 and 2048 records (half the ring), quietly.
    for (let i = 0; i < 2049; i++) ring.i32[w.trySlot() >> 2] = i;
    expect(ring.available()).toBe(2048);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(woken).toBe(false);
    // The 3073rd publishes 3072 of 4096: past half, so the consumer is woken (the await returns only then).
    for (let i = 2049; i < 3073; i++) ring.i32[w.trySlot() >> 2] = i;
    expect(await notifiedWithin(parked, 900)).toBe(true);
    expect(woken).toBe(true);
    // A batch's end (flush) wakes a parked consumer whatever the fill.
    const quiet = new RingWriter(RingBuffer.create(8, 4096), wait, 1024, MidBatchWake.QuietWhileBelowHalf);
    const second = waitForDataAsync(quiet.ring, wait, 60_000);
    quiet.ring.i32[quiet.trySlot() >> 2] = 7;
    quiet.flush();
    expect(await notifiedWithin(second, 900)).toBe(true);
  });
});
