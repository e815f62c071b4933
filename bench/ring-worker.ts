// Worker side of bench/ring.bench.ts: a producer or consumer moving fixed-size records through one ring.
//
// Both wait for a start word in a control SAB so neither measures the other's start-up. The producer writes
// every 32-bit word of each record (like a codec filling a record), the consumer reads every word into a
// checksum (so the reads cannot be dropped) and times from the first measured record to the last.

import { parentPort, workerData } from "node:worker_threads";
import { RingBuffer, SpinThenParkWait, waitForData, waitForSpace } from "../engine/ring/index.ts";

export interface RingBenchWorkerData {
  readonly role: "producer" | "consumer";
  readonly ring: SharedArrayBuffer;
  /** Int32[0]: 0 = wait, 1 = go. */
  readonly control: SharedArrayBuffer;
  readonly warmupRecords: number;
  readonly measuredRecords: number;
  readonly batch: number;
}

export interface RingBenchReport {
  readonly role: "producer" | "consumer";
  readonly records: number;
  readonly checksum: number;
  /** Consumer only: ns from the first measured record's arrival to the last one's release. */
  readonly elapsedNs: number;
  /** Producer: times it found the ring full; consumer: times it found it empty. */
  readonly stalls: number;
}

const data = workerData as RingBenchWorkerData;
const ring = RingBuffer.attach(data.ring);
const control = new Int32Array(data.control);
const wait = new SpinThenParkWait();
const words = ring.recordBytes >> 2;
const total = data.warmupRecords + data.measuredRecords;

function produce(): RingBenchReport {
  const i32 = ring.i32;
  const batch = data.batch;
  // Sum of every word written: record s holds s, s+1, ..., s+words-1.
  const triangle = (words * (words - 1)) / 2;
  let sequence = 0;
  let checksum = 0;
  let stalls = 0;
  while (sequence < total) {
    const want = total - sequence < batch ? total - sequence : batch;
    const n = ring.tryClaim(want);
    if (n === 0) {
      stalls++;
      waitForSpace(ring, wait, 1_000);
      continue;
    }
    for (let i = 0; i < n; i++) {
      const w = ring.slotOffset(i) >> 2;
      for (let k = 0; k < words; k++) i32[w + k] = sequence + k;
      checksum = (checksum + Math.imul(words, sequence) + triangle) | 0;
      sequence++;
    }
    ring.publish(n);
  }
  return { role: "producer", records: sequence, checksum, elapsedNs: 0, stalls };
}

function consume(): RingBenchReport {
  const i32 = ring.i32;
  const batch = data.batch;
  let consumed = 0;
  let checksum = 0;
  let stalls = 0;
  let startNs = 0n;
  while (consumed < total) {
    let n = ring.available();
    if (n === 0) {
      stalls++;
      waitForData(ring, wait, 1_000);
      continue;
    }
    if (n > batch) n = batch;
    if (consumed <= data.warmupRecords && consumed + n > data.warmupRecords) startNs = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const w = ring.readOffset(i) >> 2;
      for (let k = 0; k < words; k++) checksum = (checksum + i32[w + k]!) | 0;
    }
    ring.release(n);
    consumed += n;
  }
  const elapsedNs = Number(process.hrtime.bigint() - startNs);
  return { role: "consumer", records: consumed, checksum, elapsedNs, stalls };
}

while (Atomics.load(control, 0) === 0) Atomics.wait(control, 0, 0, 100);
parentPort!.postMessage(data.role === "producer" ? produce() : consume());
