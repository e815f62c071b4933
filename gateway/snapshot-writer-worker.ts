// The standing snapshot follower's worker (gateway/snapshot-writer.ts, SnapshotFollower): for each request, writes the
// snapshot of the boundary it is given — from the state it kept after its previous one, else from the newest usable
// snapshot and the journal — answers what it wrote, and keeps the new state. A request that fails drops the kept
// state (a replay stopped halfway leaves it at no boundary): the next one restores from the files. It runs from the
// workers' bundle (engine/pipeline/worker-bundle.ts), whose digest covers the gateway's sources too.
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { parentPort } from "node:worker_threads";
import { writeSnapshotFromJournal, type FollowerReply, type FollowerRequest, type KeptState } from "./snapshot-writer.ts";

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

let kept: KeptState | null = null;
/** Requests run one after another (the scheduler sends one at a time; this keeps the order if it ever sends more). */
let queue: Promise<void> = Promise.resolve();

async function answer(request: FollowerRequest): Promise<void> {
  const from = kept;
  kept = null;
  let reply: FollowerReply;
  try {
    kept = await writeSnapshotFromJournal(request.data, from);
    reply = { id: request.id, type: "result", value: kept.written };
  } catch (e) {
    reply = { id: request.id, type: "fatal", message: `snapshot writer: ${(e as Error).stack ?? String(e)}` };
  }
  parentPort!.postMessage(reply);
}

lowerPriority();
parentPort!.on("message", (request: FollowerRequest) => {
  queue = queue.then(() => answer(request));
});
