// Q7's what-if off the engine's threads (QueryWhatIf): restores the engine snapshot it is given into an engine of its
// own and runs the shocks' cascade on it (runStress), then posts the report — the exchange's stages never wait for it.
import { parentPort, workerData } from "node:worker_threads";
import { runStress } from "../what-if.ts";
import type { WhatIfWorkerData } from "./protocol.ts";

const data = workerData as WhatIfWorkerData;
try {
  const report = runStress(data.config, data.snapshot, data.shocks, data.stagesMax);
  parentPort!.postMessage({ type: "result", value: report });
} catch (e) {
  parentPort!.postMessage({ type: "fatal", message: `what-if: ${(e as Error).message}` });
}
