// Ring hand-off throughput between two worker threads (DESIGN.md rule 2): records per second, batched and not.
//
// A producer worker and a consumer worker share one ring; the main thread only starts them and waits. Each
// figure is measured by the consumer over `measuredRecords` after a warm-up, with the spin-then-park wait on
// both sides, and is checked for exact count and checksum (a benchmark that lost records would be a lie).
//
// What limits it (node --cpu-prof, 32 B batched): the consumer's read loop, not the ring protocol. The producer
// spends most of its time waiting for space; the per-batch claim/publish/release costs under 2% of the run.
// Touching one word per 64 B record instead of all sixteen runs at ~170 M records/s, so the cost is per word
// moved between the two cores' caches (each side ~7 ns per 32 B record single-threaded, ~32 ns across cores).
// With only two cores, any other busy process halves the figure: the notes report the cores the two threads got.

import { loadavg } from "node:os";
import { Worker } from "node:worker_threads";
import { RingBuffer, SPIN_ITERATIONS_DEFAULT, PARK_SLICE_MS_DEFAULT } from "../engine/ring/index.ts";
import type { BenchDef, BenchResult } from "./harness.ts";
import type { RingBenchReport, RingBenchWorkerData } from "./ring-worker.ts";

interface HandoffShape {
  readonly recordBytes: number;
  readonly capacity: number;
  readonly batch: number;
  readonly warmupRecords: number;
  readonly measuredRecords: number;
}

function startWorker(data: RingBenchWorkerData): { worker: Worker; report: Promise<RingBenchReport> } {
  const worker = new Worker(new URL("../engine/pipeline/workers/boot.mjs", import.meta.url), {
    workerData: { ...data, entry: new URL("./ring-worker.ts", import.meta.url).href },
  });
  const report = new Promise<RingBenchReport>((resolve, reject) => {
    worker.once("message", (m: RingBenchReport) => resolve(m));
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`ring bench ${data.role} exited with code ${code} before reporting`)));
  });
  return { worker, report };
}

export async function measureHandoff(id: string, shape: HandoffShape): Promise<BenchResult> {
  const ring = RingBuffer.create(shape.recordBytes, shape.capacity);
  const control = new SharedArrayBuffer(4);
  const common = {
    ring: ring.sab,
    control,
    warmupRecords: shape.warmupRecords,
    measuredRecords: shape.measuredRecords,
    batch: shape.batch,
  };
  const consumer = startWorker({ ...common, role: "consumer" });
  const producer = startWorker({ ...common, role: "producer" });
  try {
    // Give both workers time to load (tsx) and park on the start word; then release them together.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // Two cores are shared with other processes; a busy machine takes a core from one side (see notes).
    const loadAverage1m = loadavg()[0]!;
    const start = new Int32Array(control);
    const cpuBefore = process.cpuUsage();
    const wallBefore = process.hrtime.bigint();
    Atomics.store(start, 0, 1);
    Atomics.notify(start, 0);
    const [produced, consumed] = await Promise.all([producer.report, consumer.report]);
    // CPU time of all threads of this process over the wall time: ≈ 2 when both sides ran on their own core.
    const cpu = process.cpuUsage(cpuBefore);
    const coresUsed = ((cpu.user + cpu.system) * 1_000) / Number(process.hrtime.bigint() - wallBefore);
    const total = shape.warmupRecords + shape.measuredRecords;
    if (produced.records !== total || consumed.records !== total || produced.checksum !== consumed.checksum) {
      throw new Error(
        `${id}: ring delivered ${consumed.records}/${total} records, checksum ${consumed.checksum} vs ${produced.checksum}`,
      );
    }
    const meanNs = consumed.elapsedNs / shape.measuredRecords;
    return {
      id,
      opsPerSec: 1e9 / meanNs,
      meanNs,
      p50Ns: null,
      p99Ns: null,
      p999Ns: null,
      notes:
        `${shape.recordBytes} B records, batch ${shape.batch}, ring ${shape.capacity} slots, ` +
        `${shape.measuredRecords / 1e6}M records after ${shape.warmupRecords / 1e6}M warm-up, producer worker → consumer worker, ` +
        `spin-then-park (${SPIN_ITERATIONS_DEFAULT} spins, ${PARK_SLICE_MS_DEFAULT} ms park); ` +
        `stalls: producer full ${produced.stalls}, consumer empty ${consumed.stalls}; ` +
        `cores used ${coresUsed.toFixed(2)} of 2, load average ${loadAverage1m.toFixed(2)} at start`,
    };
  } finally {
    await Promise.all([producer.worker.terminate(), consumer.worker.terminate()]);
  }
}

export const benchmarks: BenchDef[] = [
  {
    id: "ring.handoff",
    kind: "custom",
    run: () =>
      measureHandoff("ring.handoff", { recordBytes: 32, capacity: 4096, batch: 256, warmupRecords: 5_000_000, measuredRecords: 50_000_000 }),
  },
  {
    id: "ring.handoff.64B",
    kind: "custom",
    run: () =>
      measureHandoff("ring.handoff.64B", { recordBytes: 64, capacity: 4096, batch: 256, warmupRecords: 2_000_000, measuredRecords: 20_000_000 }),
  },
  {
    id: "ring.handoff.unbatched",
    kind: "custom",
    run: () =>
      measureHandoff("ring.handoff.unbatched", { recordBytes: 32, capacity: 4096, batch: 1, warmupRecords: 1_000_000, measuredRecords: 10_000_000 }),
  },
];
