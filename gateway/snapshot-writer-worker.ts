// The snapshot follower's worker (gateway/snapshot-writer.ts): writes the snapshot of the boundary it is given from
// the newest usable snapshot and the journal, then posts what it wrote, once. It runs from the workers' bundle
// (engine/pipeline/worker-bundle.ts), whose digest covers the gateway's sources too.
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { writeSnapshotFromJournal, type SnapshotWriterData } from "./snapshot-writer.ts";

/** Nice value of this thread: the engine's and the gateway's threads win a core from it whenever they want one. */
const FOLLOWER_NICE = 19;

/**
 * Lowers this thread's CPU priority (Linux: a thread is a task of its own, and setpriority takes its id, found in
 * /proc/thread-self). Elsewhere the follower keeps the normal priority.
 */
function lowerPriority(): void {
  try {
    const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, FOLLOWER_NICE);
  } catch {
    // No /proc/thread-self (not Linux) or not permitted: normal priority.
  }
}

lowerPriority();
writeSnapshotFromJournal(workerData as SnapshotWriterData).then(
  (value) => parentPort!.postMessage({ type: "result", value }),
  (e: unknown) => parentPort!.postMessage({ type: "fatal", message: `snapshot writer: ${(e as Error).stack ?? String(e)}` }),
);
