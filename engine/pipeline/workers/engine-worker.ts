// The fused stage worker of the 1 risk × 1 matching topology: one thread runs risk R1, matching and risk R2 of
// every batch through the in-process Engine itself (engine.ts), so the batch rule is the same code, not a copy.
//
// Why: on a 2-core machine four busy threads (gateway, risk, matching, settlement) take turns on two cores, and
// the batch rule hands work risk → matching → risk at every batch; most of those hand-offs find the other thread
// parked, and waking a parked thread costs tens of µs. With one stage thread the only hand-offs left are gateway →
// engine → gateway, one per batch each way, and the engine thread can afford to spin: nothing else on its core is
// waiting for work from it. Sharded topologies (K risk or M matching shards > 1) keep one thread per shard.
import { workerData } from "node:worker_threads";
import { CommandRecord, EventRecord, type EventSink } from "../../model/index.ts";
import { AdaptiveSpinThenParkWait, RingBuffer } from "../../ring/index.ts";
import { BATCH_COMMANDS_MAX, Engine } from "../engine.ts";
import { RingMarketDataSink } from "../market-data-codec.ts";
import { BATCH_END_KIND, commandKindAt, commandSeqAt, readCommand, writeEventBatchEnd } from "../../model/index.ts";
import { EVENT_WRITE_CLAIM_BATCH, MidBatchWake, PARK_MS, RingReader, RingWriter, ringEventSink } from "../ring-io.ts";
import { stagePart, type SnapshotParts } from "../snapshot.ts";
import { CONTROL_SNAPSHOT, CONTROL_STATE_HASH, ENGINE_WORKER_SPIN_ITERATIONS, postSnapshotPart, postToMain, snapshotDigest, withSnapshotPart, type EngineWorkerData } from "./protocol.ts";

const data = workerData as EngineWorkerData;
// A long park drops the spin to the floor at once (afterLongPark "floor"): fed a journal group at each write's start
// (X4P), halving let one short park inside a group and one long park between groups cancel out.
const wait = new AdaptiveSpinThenParkWait({ spinIterationsMax: ENGINE_WORKER_SPIN_ITERATIONS, afterLongPark: "floor" });
const engine = new Engine(data.config);
const input = new RingReader(RingBuffer.attach(data.commandsIn), wait);
const output = new RingWriter(RingBuffer.attach(data.eventsOut), wait, EVENT_WRITE_CLAIM_BATCH, MidBatchWake.QuietWhileBelowHalf);
const marketData = data.marketDataOut === null ? null : new RingWriter(RingBuffer.attach(data.marketDataOut), wait);
const marketDataSink = marketData === null ? null : new RingMarketDataSink(marketData);
if (marketDataSink !== null) engine.matching[0]!.setMarketDataSink(marketDataSink);

/** One batch's commands, decoded into records reused from batch to batch. */
const batch: CommandRecord[] = [];
for (let i = 0; i < BATCH_COMMANDS_MAX; i++) batch.push(new CommandRecord());
const control = new EventRecord();
/** A control record read in full (its flags). */
const controlCommand = new CommandRecord();

const out: EventSink = ringEventSink(output);

function flushAll(): void {
  output.flush();
  marketData?.flush();
}

/** The digests of the risk and matching stages, as the split workers report them (threaded.ts composes them). */
function reportStateHash(seq: number): void {
  for (let code = 0; code <= 1; code++) {
    control.clear();
    control.kind = CONTROL_STATE_HASH;
    control.seq = seq;
    control.code = code;
    control.account = 0;
    control.message = code === 0 ? engine.risk[0]!.stateHash() : engine.matching[0]!.stateHash();
    out.publish(control);
  }
}

/** Reads one batch and runs it. Returns false when the sequencer closed the ring. */
function runBatch(): boolean {
  let count = 0;
  for (;;) {
    const offset = input.peek();
    if (offset < 0) {
      flushAll();
      if (input.ring.isClosed() && input.ring.available() === 0) return false;
      input.waitData(PARK_MS);
      continue;
    }
    const kind = commandKindAt(input.ring, offset);
    if (kind === BATCH_END_KIND) {
      const number = commandSeqAt(input.ring, offset);
      input.advance();
      // The batch's command slots go back to the gateway now, not when the ring runs dry: a gateway that filled the
      // ring (and parked for space) refills it while this batch runs, so the engine does not wait for its wake-up.
      input.releaseRead();
      // Every journal batch (> 0) is a batch of the Engine, even one with no command here: its number names the engine
      // orders of its phase 0 (engine.ts decision D3). Control batches (< 0) are not.
      if (number > 0) engine.processBatch(batch, count, out);
      marketDataSink?.batchEnd(); // X4P: the gateway releases a batch's market data once the batch is journaled
      writeEventBatchEnd(output.ring, output.slot(), number, engine.passesPending, engine.idleBatchActs); // P5S, D3
      flushAll();
      return true;
    }
    // A journal written with a larger batch bound (recovery replays it as it was cut) grows the array.
    if (count === batch.length) batch.push(new CommandRecord());
    if (kind === CONTROL_STATE_HASH) {
      // Control batches hold this one record (ThreadedPipeline.stateHash), so the digests are at a batch boundary.
      reportStateHash(commandSeqAt(input.ring, offset));
      input.advance();
      continue;
    }
    if (kind === CONTROL_SNAPSHOT) {
      // The same for a snapshot (ThreadedPipeline.snapshot): risk 0 and matching 0 write their parts; the settlement
      // worker writes the clock.
      const risk = engine.risk[0]!;
      const matching = engine.matching[0]!;
      readCommand(input.ring, offset, controlCommand);
      postSnapshotPart("risk", 0, snapshotDigest(controlCommand.flags, () => risk.stateHash()), stagePart((w) => risk.writeSnapshot(w)));
      postSnapshotPart("matching", 0, snapshotDigest(controlCommand.flags, () => matching.stateHash()), stagePart((w) => matching.writeSnapshot(w)));
      input.advance();
      continue;
    }
    readCommand(input.ring, offset, batch[count++]!);
    input.advance();
  }
}

function run(snapshot: SnapshotParts | null): void {
  if (snapshot !== null) engine.restoreParts(snapshot);
  postToMain({ type: "ready" });
  while (runBatch());
  flushAll();
  output.ring.close();
  marketData?.ring.close();
}

withSnapshotPart(data, "engine", run);
