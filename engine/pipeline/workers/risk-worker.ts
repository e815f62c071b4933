// A risk shard on its own thread: R1 for each batch from the sequencer, then R2 for the batch's matching events,
// exactly the batch rule of engine/pipeline/engine.ts.
//
// Phase 1 never writes to a matching ring: it queues, so it can never block. The pump then writes the queues and
// reads matching events in the same loop without ever blocking on one side, so the cycle risk ⇄ matching cannot
// deadlock on full rings (DESIGN rule 3) whatever a batch produces.
import { workerData } from "node:worker_threads";
import { PoolDelta } from "../../lending/index.ts";
import { CommandRecord, EventRecord, type EventSink } from "../../model/index.ts";
import { RingBuffer, SpinThenParkWait } from "../../ring/index.ts";
import { RiskShard } from "../../risk/index.ts";
import { CommandQueue, forwardToMatching } from "../engine.ts";
import {
  BATCH_END_KIND,
  commandKindAt,
  commandSeqAt,
  eventKindAt,
  eventSeqAt,
  readCommand,
  readEvent,
  writeCommand,
  writeCommandBatchEnd,
  writeEventBatchEnd,
} from "../../model/index.ts";
import { poolDeltaKindAt, readPoolDelta, writePoolDelta, writePoolDeltaEnd } from "../pool-delta-codec.ts";
import { PARK_MS, RingReader, RingWriter, ringEventSink } from "../ring-io.ts";
import { RiskRoute, routeOf } from "../routing.ts";
import { restorePart, stagePart } from "../snapshot.ts";
import { CONTROL_SNAPSHOT, CONTROL_STATE_HASH, postSnapshotPart, postToMain, snapshotDigest, withSnapshotPart, type RiskWorkerData } from "./protocol.ts";

const data = workerData as RiskWorkerData;
// Short spins: on this 2-core machine three engine threads and the gateway share the cores, and a spinning
// thread takes time from the stage it waits for.
const wait = new SpinThenParkWait({ spinIterations: 100 });
const shard = new RiskShard(data.config, data.shardIndex, data.riskShards);
const input = new RingReader(RingBuffer.attach(data.commandsIn), wait);
const toMatching = data.toMatching.map((h) => new RingWriter(RingBuffer.attach(h), wait));
const fromMatching = data.fromMatching.map((h) => new RingReader(RingBuffer.attach(h), wait));
const output = new RingWriter(RingBuffer.attach(data.eventsOut), wait);
const poolOut = data.poolDeltasOut.map((h) => (h === null ? null : new RingWriter(RingBuffer.attach(h), wait)));
const poolIn = data.poolDeltasIn.map((h) => (h === null ? null : new RingReader(RingBuffer.attach(h), wait)));
const remote = shard.poolDeltas().map(() => new PoolDelta());
const queues = toMatching.map(() => new CommandQueue());
const written = new Int32Array(queues.length);
const cmd = new CommandRecord();
const scratch = new CommandRecord();
const event = new EventRecord();
const control = new EventRecord();

const out: EventSink = ringEventSink(output);

/**
 * The journal batches (> 0) run since genesis, as the in-process Engine counts them (its batch number: the snapshot's
 * batch, then one per journal batch): phase 0 of the next one names its engine orders by it (D3), as the Engine does.
 */
let lastBatch = data.firstBatch;
/** Phase 0 of the current batch is still to run (before its first command, or at its end when it brought none). */
let phase0Pending = true;
const engineOut = { forward: (c: CommandRecord): void => forwardToMatching(c, data.config, queues, scratch) };

/** Phase 0 (engine.ts decision D3): this shard's engine commands for batch lastBatch + 1, queued before any R1. */
function runPhase0(): void {
  phase0Pending = false;
  shard.beginBatch(++lastBatch, engineOut, out);
}

/** Phase 1: R1 over one batch. Returns the batch number, or null when the sequencer closed the ring. */
function preTradeBatch(): number | null {
  phase0Pending = true;
  for (;;) {
    const offset = input.peek();
    if (offset < 0) {
      output.flush();
      if (input.ring.isClosed() && input.ring.available() === 0) return null;
      input.waitData(PARK_MS);
      continue;
    }
    const kind = commandKindAt(input.ring, offset);
    if (kind === BATCH_END_KIND) {
      const batch = commandSeqAt(input.ring, offset);
      input.advance();
      // A journal batch (> 0) always has its phase 0; a control batch (< 0) never.
      if (batch > 0 && phase0Pending) runPhase0();
      return batch;
    }
    readCommand(input.ring, offset, cmd);
    input.advance();
    if (phase0Pending && kind !== CONTROL_STATE_HASH && kind !== CONTROL_SNAPSHOT) runPhase0();
    if (kind === CONTROL_STATE_HASH || kind === CONTROL_SNAPSHOT) {
      // Alone in its control batch: every earlier batch is finished here, and matching sees it at the same boundary.
      if (kind === CONTROL_STATE_HASH) reportStateHash(cmd.seq);
      else postSnapshotPart("risk", data.shardIndex, snapshotDigest(cmd.flags, () => shard.stateHash()), stagePart((w) => shard.writeSnapshot(w)));
      if (data.shardIndex === 0) for (let m = 0; m < queues.length; m++) queues[m]!.push(cmd);
      continue;
    }
    if (shard.preTrade(cmd, out)) {
      // A command every risk shard runs (routing.ts) goes on from shard 0 alone.
      if (data.shardIndex !== 0 && routeOf(cmd.kind).risk === RiskRoute.Every) continue;
      forwardToMatching(cmd, data.config, queues, scratch);
      // Let matching start on the batch while R1 goes on: write what fits now, never block (see writeQueues).
      if (++sinceWrite === STREAM_EVERY) {
        sinceWrite = 0;
        writeQueues(0, false);
      }
    }
  }
}

/** Forwarded commands are handed to matching every this many, during R1. */
const STREAM_EVERY = 32;
let sinceWrite = 0;

function reportStateHash(seq: number): void {
  control.clear();
  control.kind = CONTROL_STATE_HASH;
  control.seq = seq;
  control.code = 0;
  control.account = data.shardIndex;
  control.message = shard.stateHash();
  out.publish(control);
}

/**
 * Writes as much of the queued commands as fits, without blocking; `withEnd` (once R1 of the batch is over) also
 * the batch-end marker after the last of them. `written[m]` counts what queue m already handed over.
 */
function writeQueues(batch: number, withEnd: boolean): boolean {
  let progress = false;
  for (let m = 0; m < queues.length; m++) {
    const q = queues[m]!;
    const w = toMatching[m]!;
    const limit = withEnd ? q.length + 1 : q.length;
    if (written[m]! >= limit) continue;
    while (written[m]! < limit) {
      const offset = w.trySlot();
      if (offset < 0) break;
      if (written[m]! < q.length) writeCommand(w.ring, offset, q.at(written[m]!));
      else writeCommandBatchEnd(w.ring, offset, batch);
      written[m]!++;
      progress = true;
    }
    w.flush();
  }
  return progress;
}

/** Phases 2–3: feed matching and apply its events, matching shards in index order, until each ended the batch. */
function postTradeBatch(batch: number): void {
  let m = 0;
  while (m < fromMatching.length) {
    let progress = writeQueues(batch, true);
    const reader = fromMatching[m]!;
    for (;;) {
      const offset = reader.peek();
      if (offset < 0) break;
      progress = true;
      if (eventKindAt(reader.ring, offset) === BATCH_END_KIND) {
        if (eventSeqAt(reader.ring, offset) !== batch) throw new Error(`risk ${data.shardIndex}: matching ${m} ended batch ${eventSeqAt(reader.ring, offset)}, expected ${batch}`);
        reader.advance();
        reader.releaseRead();
        m++;
        break;
      }
      readEvent(reader.ring, offset, event);
      reader.advance();
      if (event.kind === CONTROL_STATE_HASH) out.publish(event);
      else shard.postTrade(event, out);
    }
    if (!progress && m < fromMatching.length) {
      output.flush();
      fromMatching[m]!.waitData(1);
    }
  }
  for (let q = 0; q < queues.length; q++) queues[q]!.clear();
  written.fill(0);
  sinceWrite = 0;
  shard.settle(out); // phase 3b (engine.ts D2(c), P5S): P4 payments and P5 realization, before the pool merge
  exchangePoolDeltas(batch);
  shard.endBatch(out); // phase 4's interest, then phase 5 (Q1): its events precede the batch end
  writeEventBatchEnd(output.ring, output.slot(), batch, shard.passesPending, shard.idleBatchActs); // P5S: ticks keep coming while true; D3
  output.flush();
}

/**
 * Phase 4 (K > 1): sends this batch's pool deltas to every other risk shard, then applies theirs in shard order — the
 * in-process Engine's merge exactly. Every shard writes before it reads, and a ring holds many batches of deltas, so
 * the exchange cannot deadlock; it is the one barrier between risk shards, once per batch.
 */
function exchangePoolDeltas(batch: number): void {
  if (data.riskShards === 1) return;
  const own = shard.poolDeltas();
  for (const w of poolOut) {
    if (w === null) continue;
    for (let a = 0; a < own.length; a++) if (!own[a]!.isZero()) writePoolDelta(w.ring, w.slot(), a, own[a]!);
    writePoolDeltaEnd(w.ring, w.slot(), batch);
    w.flush();
  }
  output.flush();
  const scratch = new PoolDelta();
  for (const reader of poolIn) {
    if (reader === null) continue;
    for (const d of remote) d.clear();
    for (;;) {
      const offset = reader.peek();
      if (offset < 0) {
        reader.waitData(1);
        continue;
      }
      if (poolDeltaKindAt(reader.ring, offset) === BATCH_END_KIND) {
        reader.advance();
        reader.releaseRead();
        break;
      }
      const a = readPoolDelta(reader.ring, offset, scratch);
      remote[a]!.add(scratch);
      reader.advance();
    }
    shard.applyRemotePoolDeltas(remote);
  }
}

function run(snapshot: Uint8Array | null, firstBatch: number): void {
  if (snapshot !== null) restorePart(snapshot, `risk shard ${data.shardIndex}`, (r) => shard.restoreSnapshot(r));
  lastBatch = firstBatch;
  postToMain({ type: "ready" });
  for (;;) {
    const batch = preTradeBatch();
    if (batch === null) break;
    postTradeBatch(batch);
  }
  output.flush();
  for (const w of toMatching) w.ring.close();
  for (const w of poolOut) w?.ring.close();
  output.ring.close();
}

withSnapshotPart(data, `risk ${data.shardIndex}`, run);

