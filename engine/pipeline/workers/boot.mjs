// Worker bootstrap: Node 20 does not apply `--import tsx` to a worker's entry module, so each pipeline worker
// registers tsx itself, then imports its TypeScript entry (workerData.entry).
//
// A worker of a booting pipeline (ThreadedPipeline.boot, workerData.deferSnapshot) first loads its entry's module
// graph (workerData.preload) — most of a worker's start — and only then waits for its snapshot part (a message
// { snapshot }), so the loading overlaps the main thread reading and checking the snapshot file.
import { once } from "node:events";
import { parentPort, workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
if (workerData.deferSnapshot) {
  await import(workerData.preload);
  const [message] = await once(parentPort, "message");
  workerData.snapshot = message.snapshot;
}
await import(workerData.entry);
