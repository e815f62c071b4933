// Q7 over the wire (QueryWhatIf): the what-if of engine/pipeline/what-if.ts run by a follower — a worker of its own
// restores the engine snapshot it is handed and runs the cascade there, so the exchange's stages stall only while the
// snapshot is taken (the same capture as an X7 snapshot's), never for the cascade.
import { Worker } from "node:worker_threads";
import type { ExchangeConfig } from "../model/index.ts";
import type { PriceShock, StressReport } from "./what-if.ts";
import { workerUrl } from "./worker-bundle.ts";
import type { WhatIfWorkerData } from "./workers/protocol.ts";

/** runStress(config, snapshot, shocks, stagesMax), off this thread. */
export function runStressOffThread(config: ExchangeConfig, snapshot: Uint8Array, shocks: readonly PriceShock[], stagesMax: number): Promise<StressReport> {
  const data: WhatIfWorkerData = { entry: new URL("./workers/what-if-worker.ts", import.meta.url).href, config, snapshot, shocks, stagesMax };
  const worker = new Worker(workerUrl(data.entry), { workerData: data });
  return new Promise<StressReport>((resolve, reject) => {
    let answered = false;
    worker.on("message", (m: { type: "report"; report: StressReport } | { type: "fatal"; message: string }) => {
      answered = true;
      if (m.type === "report") resolve(m.report);
      else reject(new Error(m.message));
      void worker.terminate();
    });
    worker.on("error", (e) => {
      answered = true;
      reject(e);
    });
    worker.on("exit", (code) => {
      if (!answered) reject(new Error(`what-if worker exited (code ${code}) without an answer`));
    });
  });
}
