// The snapshot follower's worker (gateway/snapshot-writer.ts): writes the snapshot of the boundary it is given from
// the newest usable snapshot and the journal, then posts what it wrote, once. It runs from the workers' bundle
// (engine/pipeline/worker-bundle.ts), whose digest covers the gateway's sources too.
import { parentPort, workerData } from "node:worker_threads";
import { writeSnapshotFromJournal, type SnapshotWriterData } from "./snapshot-writer.ts";

writeSnapshotFromJournal(workerData as SnapshotWriterData).then(
  (value) => parentPort!.postMessage({ type: "result", value }),
  (e: unknown) => parentPort!.postMessage({ type: "fatal", message: `snapshot writer: ${(e as Error).stack ?? String(e)}` }),
);
