// Worker side of pipeline.echo.100k (bench/pipeline.bench.ts): the fused engine worker's ring plumbing with no engine
// behind it. It reads command records batch by batch and answers each with one event (its sequence number), with
// the engine worker's wait strategy and flushes, so the benchmark shows the latency floor that the rings, the two
// threads and this machine put under pipeline.excore-mix.100k.
import { parentPort, workerData } from "node:worker_threads";
import { EventKind, EventRecord } from "../engine/model/index.ts";
import { BATCH_END_KIND, commandKindAt, commandSeqAt, writeEvent, writeEventBatchEnd } from "../engine/model/record-layout.ts";
import { PARK_MS, RingReader, RingWriter } from "../engine/pipeline/ring-io.ts";
import { ENGINE_WORKER_SPIN_ITERATIONS } from "../engine/pipeline/workers/protocol.ts";
import { RingBuffer, SpinThenParkWait, type RingHandle } from "../engine/ring/index.ts";

export interface EchoWorkerData {
  readonly entry: string;
  readonly commandsIn: RingHandle;
  readonly eventsOut: RingHandle;
}

const data = workerData as EchoWorkerData;
const wait = new SpinThenParkWait({ spinIterations: ENGINE_WORKER_SPIN_ITERATIONS });
const input = new RingReader(RingBuffer.attach(data.commandsIn), wait);
const output = new RingWriter(RingBuffer.attach(data.eventsOut), wait);
const answer = new EventRecord();
answer.kind = EventKind.CommandAccepted;

parentPort!.postMessage({ type: "ready" });
for (;;) {
  const offset = input.peek();
  if (offset < 0) {
    output.flush();
    if (input.ring.isClosed() && input.ring.available() === 0) break;
    input.waitData(PARK_MS);
    continue;
  }
  if (commandKindAt(input.ring, offset) === BATCH_END_KIND) {
    writeEventBatchEnd(output.ring, output.slot(), commandSeqAt(input.ring, offset));
    output.flush();
  } else {
    answer.seq = commandSeqAt(input.ring, offset);
    writeEvent(output.ring, output.slot(), answer);
  }
  input.advance();
}
output.flush();
output.ring.close();
