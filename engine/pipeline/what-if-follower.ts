// Q7 over the wire (QueryWhatIf): the what-if of engine/pipeline/what-if.ts run by a follower (follower.ts) — a worker
// of its own restores the engine snapshot it is handed and runs the cascade there, so the exchange's stages stall only
// while the snapshot is taken (the same capture as an X7 snapshot's), never for the cascade.
import type { ExchangeConfig } from "../model/index.ts";
import { askFollower } from "./follower.ts";
import type { PriceShock, StressReport } from "./what-if.ts";
import type { WhatIfWorkerData } from "./workers/protocol.ts";

/** runStress(config, snapshot, shocks, stagesMax), off this thread. */
export function runStressOffThread(config: ExchangeConfig, snapshot: Uint8Array, shocks: readonly PriceShock[], stagesMax: number): Promise<StressReport> {
  const data: WhatIfWorkerData = { entry: new URL("./workers/what-if-worker.ts", import.meta.url).href, config, snapshot, shocks, stagesMax };
  return askFollower<StressReport>(data, "what-if");
}
