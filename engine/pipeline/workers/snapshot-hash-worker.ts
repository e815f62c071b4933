// The follower that hashes a snapshot (X7, ThreadedPipeline.snapshotStateHash): restores the payload into an engine of
// its own, off the engine's threads, and posts that engine's state hash — so the stages stall only to write their
// parts, and a payload that does not restore is found before it is written as a file.
import { parentPort, workerData } from "node:worker_threads";
import { Engine } from "../engine.ts";
import type { SnapshotHashWorkerData } from "./protocol.ts";

const data = workerData as SnapshotHashWorkerData;
try {
  const hash = Engine.fromSnapshot(data.config, data.snapshot).stateHash();
  parentPort!.postMessage({ type: "result", value: hash });
} catch (e) {
  parentPort!.postMessage({ type: "fatal", message: `snapshot hash: ${(e as Error).stack ?? String(e)}` });
}
