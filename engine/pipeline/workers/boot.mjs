// Worker bootstrap: Node 20 does not apply `--import tsx` to a worker's entry module, so each pipeline worker
// registers tsx itself, then imports its TypeScript entry (workerData.entry).
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);
