// Bootstrap for the ring benchmark's TypeScript workers: Node 20 does not apply `execArgv: ["--import", "tsx"]`
// hooks to a worker's entry module, so the worker registers tsx itself, then imports workerData.entry (a .ts URL).
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);
