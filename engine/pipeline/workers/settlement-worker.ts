// The settlement stage on its own thread: applies the journaled clock (and, as they land, prices, funding and
// interest) and, in live mode, runs the timer that asks the sequencer for the next clock tick.
import { workerData } from "node:worker_threads";
import { CommandRecord } from "../../model/index.ts";
import { RingBuffer, SpinThenParkWait } from "../../ring/index.ts";
import { SettlementShard } from "../../settlement/index.ts";
import { BATCH_END_KIND, commandKindAt, readCommand } from "../../model/index.ts";
import { RingReader } from "../ring-io.ts";
import { restorePart, stagePart } from "../snapshot.ts";
import { CONTROL_SNAPSHOT, CONTROL_STATE_HASH, postSnapshotPart, postToMain, snapshotDigest, type SettlementWorkerData } from "./protocol.ts";

const data = workerData as SettlementWorkerData;
const shard = new SettlementShard();
// Parks for up to a second at a time: close() and every publish notify, so the slice only bounds a missed wake-up.
// (With 10 ms slices this mostly idle thread woke 100 times a second, and on two busy cores each wake-up preempts the
// gateway or the engine thread.)
const IDLE_PARK_MS = 1_000;
const input = new RingReader(RingBuffer.attach(data.commandsIn), new SpinThenParkWait({ spinIterations: 0, parkSliceMs: IDLE_PARK_MS }));
const cmd = new CommandRecord();

let timer: NodeJS.Timeout | null = null;
if (data.tickIntervalMs > 0) {
  // The only wall-clock read in the engine: it proposes a tick; the sequencer journals it as AdvanceTime.
  const propose = (): void => postToMain({ type: "tick", timeMs: shard.proposeTick(Date.now()) });
  propose(); // at once too: a server that goes live before the first interval has a fresh clock (server-core proposeHeldTick)
  timer = setInterval(propose, data.tickIntervalMs);
}

// A pending Atomics.waitAsync does not keep a worker's event loop alive: this handle does, until the ring closes.
const keepAlive = setInterval(() => {}, 1 << 30);

async function run(): Promise<void> {
  if (data.snapshot !== null) restorePart(data.snapshot, "settlement", (r) => shard.restoreSnapshot(r));
  postToMain({ type: "ready" });
  for (;;) {
    const offset = input.peek();
    if (offset < 0) {
      if (input.ring.isClosed() && input.ring.available() === 0) break;
      await input.waitDataAsync(IDLE_PARK_MS);
      continue;
    }
    const kind = commandKindAt(input.ring, offset);
    if (kind !== BATCH_END_KIND) {
      readCommand(input.ring, offset, cmd);
      if (kind === CONTROL_STATE_HASH) postToMain({ type: "stateHash", hash: shard.stateHash() });
      else if (kind === CONTROL_SNAPSHOT) postSnapshotPart("settlement", 0, snapshotDigest(cmd.flags, () => shard.stateHash()), stagePart((w) => shard.writeSnapshot(w)));
      else shard.handle(cmd);
    }
    input.advance();
  }
  if (timer !== null) clearInterval(timer);
  clearInterval(keepAlive);
}

run().catch((e: unknown) => {
  postToMain({ type: "fatal", message: `settlement: ${(e as Error).stack ?? String(e)}` });
  process.exit(1);
});
