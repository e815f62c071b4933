// The state hash of a snapshot payload, computed by a follower (X7): a worker of its own restores the payload and
// hashes the engine it restored. The server takes its snapshots with ThreadedPipeline.snapshot({ stateHash: false }) —
// the stages then stall only to write their parts, not for their digests (about three quarters of the stall at
// 100,000 accounts) — and asks this for the header's hash while the engine runs on. The hash so found is the one a
// restart from the file restores (the restart-equals-live tests prove it equal to the live engine's), and a payload
// that does not restore fails here, before it is written as a file.
import type { ExchangeConfig } from "../model/index.ts";
import { askFollower } from "./follower.ts";
import type { SnapshotHashWorkerData } from "./workers/protocol.ts";

/** The state hash of the engine `snapshot` restores (Engine.fromSnapshot(config, snapshot).stateHash()), off this thread. */
export function snapshotStateHash(config: ExchangeConfig, snapshot: Uint8Array): Promise<string> {
  const data: SnapshotHashWorkerData = { entry: new URL("./workers/snapshot-hash-worker.ts", import.meta.url).href, config, snapshot };
  return askFollower<string>(data, "snapshot hash");
}
