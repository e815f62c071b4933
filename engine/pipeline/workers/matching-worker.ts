// A matching shard on its own thread: merges its risk shards' command streams by sequence number, one batch at a
// time, and sends each event to the risk shard(s) of the accounts it concerns (see engine/pipeline/engine.ts).
import { workerData } from "node:worker_threads";
import { MatchingShard } from "../../matching/index.ts";
import { CommandKind, CommandRecord, EventKind, EventRecord, type EventSink } from "../../model/index.ts";
import { riskShardOf } from "../../risk/index.ts";
import { RingBuffer, SpinThenParkWait } from "../../ring/index.ts";
import { marketsOfShard } from "../engine.ts";
import { toEveryRiskShard, toMakerRiskShardToo } from "../routing.ts";
import { BATCH_END_KIND, commandKindAt, commandSeqAt, readCommand, writeEvent, writeEventBatchEnd } from "../../model/index.ts";
import { RingMarketDataSink } from "../market-data-codec.ts";
import { PARK_MS, RingReader, RingWriter } from "../ring-io.ts";
import { restorePart, stagePart } from "../snapshot.ts";
import { CONTROL_SNAPSHOT, CONTROL_STATE_HASH, postSnapshotPart, postToMain, snapshotDigest, withSnapshotPart, type MatchingWorkerData } from "./protocol.ts";

const data = workerData as MatchingWorkerData;
// Short spins: see risk-worker.ts.
const wait = new SpinThenParkWait({ spinIterations: 100 });
const shard = new MatchingShard(data.config, marketsOfShard(data.config, data.shardIndex, data.matchingShards));
const inputs = data.fromRisk.map((h) => new RingReader(RingBuffer.attach(h), wait));
const outputs = data.toRisk.map((h) => new RingWriter(RingBuffer.attach(h), wait));
const ended = new Uint8Array(inputs.length);
const cmd = new CommandRecord();
const control = new EventRecord();
const riskShards = outputs.length;
const marketData = data.marketDataOut === null ? null : new RingWriter(RingBuffer.attach(data.marketDataOut), wait);
const marketDataSink = marketData === null ? null : new RingMarketDataSink(marketData);
if (marketDataSink !== null) shard.setMarketDataSink(marketDataSink);

const toRisk: EventSink = {
  publish(e: EventRecord): void {
    if (toEveryRiskShard(e.kind)) {
      // Decision P3 (engine.ts): marks and funding rates to every risk shard.
      for (const w of outputs) writeEvent(w.ring, w.slot(), e);
      return;
    }
    const taker = riskShardOf(e.account, riskShards);
    const w = outputs[taker]!;
    writeEvent(w.ring, w.slot(), e);
    if (toMakerRiskShardToo(e.kind)) {
      const maker = riskShardOf(e.makerAccount, riskShards);
      if (maker !== taker) {
        const wm = outputs[maker]!;
        writeEvent(wm.ring, wm.slot(), e);
      }
    }
  },
};

function flushAll(): void {
  for (const w of outputs) w.flush();
  marketData?.flush();
}

/** One batch: returns its number, or null when the risk shards closed their rings. */
function matchBatch(): number | null {
  ended.fill(0);
  let endedCount = 0;
  let batch = 0;
  while (endedCount < inputs.length) {
    let best = -1;
    let bestSeq = 0;
    let starving = -1;
    for (let k = 0; k < inputs.length; k++) {
      if (ended[k] === 1) continue;
      const reader = inputs[k]!;
      const offset = reader.peek();
      if (offset < 0) {
        starving = k;
        break;
      }
      if (commandKindAt(reader.ring, offset) === BATCH_END_KIND) {
        batch = commandSeqAt(reader.ring, offset);
        reader.advance();
        ended[k] = 1;
        endedCount++;
        continue;
      }
      const seq = commandSeqAt(reader.ring, offset);
      if (best < 0 || seq < bestSeq) {
        best = k;
        bestSeq = seq;
      }
    }
    if (starving >= 0) {
      flushAll();
      const ring = inputs[starving]!.ring;
      if (ring.isClosed() && ring.available() === 0) return null;
      inputs[starving]!.waitData(PARK_MS);
      continue;
    }
    if (best < 0) continue;
    const reader = inputs[best]!;
    readCommand(reader.ring, reader.peek(), cmd);
    reader.advance();
    if (cmd.kind === CONTROL_STATE_HASH) {
      control.clear();
      control.kind = CONTROL_STATE_HASH;
      control.seq = cmd.seq;
      control.code = 1;
      control.account = data.shardIndex;
      control.message = shard.stateHash();
      toRisk.publish(control);
    } else if (cmd.kind === CONTROL_SNAPSHOT) {
      postSnapshotPart("matching", data.shardIndex, snapshotDigest(cmd.flags, () => shard.stateHash()), stagePart((w) => shard.writeSnapshot(w)));
    } else if (cmd.kind === CommandKind.AdvanceTime) {
      shard.setTime(cmd.timeMs);
    } else {
      shard.handle(cmd, toRisk);
    }
  }
  // Decision P3 (engine.ts): the shard's settlement phase after its last command (marks, band inputs, funding).
  shard.endBatch(toRisk);
  marketDataSink?.batchEnd(); // X4P: the gateway releases a batch's market data once the batch is journaled
  for (const w of outputs) writeEventBatchEnd(w.ring, w.slot(), batch);
  flushAll();
  return batch;
}

function run(snapshot: Uint8Array | null): void {
  if (snapshot !== null) restorePart(snapshot, `matching shard ${data.shardIndex}`, (r) => shard.restoreSnapshot(r));
  postToMain({ type: "ready" });
  while (matchBatch() !== null);
  flushAll();
  for (const w of outputs) w.ring.close();
  marketData?.ring.close();
}

withSnapshotPart(data, `matching ${data.shardIndex}`, run);
