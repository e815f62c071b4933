// Worker bootstrap: Node 20 does not apply `--import tsx` to a worker's entry module, so each pipeline worker
// registers tsx itself, then imports its TypeScript entry (workerData.entry).
//
// A worker of a booting pipeline (ThreadedPipeline.boot, workerData.deferSnapshot) starts its thread and registers tsx
// (its loader thread) first, then waits for its snapshot part (a message { snapshot }) before it imports its entry, so
// that much of a worker's start overlaps the main thread reading and checking the snapshot file. (Importing a stage's
// modules before the part arrives, from engine.ts as the root, evaluated them in another order and the fused engine
// stopped answering in test/snapshot-restart.test.ts: not done.)
import { once } from "node:events";
import { parentPort, workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
if (workerData.deferSnapshot) {
  const [message] = await once(parentPort, "message");
  workerData.snapshot = message.snapshot;
}
await import(workerData.entry);
