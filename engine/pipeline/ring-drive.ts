// How the main thread reads a pipeline's out rings (engine/pipeline/threaded.ts): a reader polled once per event-loop
// turn while records come, parked in Atomics.waitAsync when they stop, and — once the gateway gates outputs on
// durability (engine.ts X4P) — asleep until the release while its next batch is not journaled.
import { PARK_MS, type RingReader } from "./ring-io.ts";

/**
 * Empty event-loop turns a main-thread reader keeps polling its ring for (setImmediate, no promise) after the last
 * record it read, before it may park in Atomics.waitAsync (the worker's publish then notifies it). Counted in turns,
 * not time: the engine answers a batch per journal fsync (~1 ms here), so a 1 ms polling window rarely closed at
 * 10 k commands/s and the gateway thread spun on setImmediate between batches. An empty turn costs a few µs.
 */
const POLL_EMPTY_TURNS_MAX = 4;

/**
 * While a submitted batch is still in the engine its events are coming, so a reader with nothing to read keeps
 * polling instead of parking — for at most this long since its last record (a long batch, e.g. a snapshot, still
 * lets the thread sleep). Parking mid-batch is what cost throughput: every flush of the worker then paid a futex
 * notify and the reader a wake-up through the event loop while the out ring filled (pipeline.excore-mix.max fell
 * from ~0.8 M to ~0.6 M ops/s with the turn bound alone). Between batches (nothing in flight) the reader parks after
 * POLL_EMPTY_TURNS_MAX turns, so a server at 10 k commands/s sleeps between fsyncs.
 */
const POLL_IN_FLIGHT_MS = 2;

/**
 * Drives a ring reader on the main thread until its ring is closed and drained: `drain` reads what is there and
 * returns how many records it read; between drains the reader polls once per turn (setImmediate, no promise) and
 * parks when it has seen POLL_EMPTY_TURNS_MAX empty turns and either no batch is in flight (`batchInFlight`) or
 * POLL_IN_FLIGHT_MS passed since its last record. A reader at the durability gate (engine.ts X4P: its next record,
 * there or still to come, belongs to a batch not yet journaled) neither polls nor parks on its ring — so the engine's
 * publish wakes no one while the write runs: `gate.held()` says so and `gate.resumeOnRelease` calls it again once a
 * batch is released (or the pipeline stops: it then resolves, held records never read). Resolves when the ring is
 * closed and empty.
 */
export function drive(reader: RingReader, drain: () => number, batchInFlight: () => boolean, gate: ReaderGate): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let emptyTurns = 0;
    let lastRecordMs = performance.now();
    const turn = (): void => {
      try {
        if (drain() > 0) {
          emptyTurns = 0;
          lastRecordMs = performance.now();
        } else if (reader.ring.isClosed() && reader.ring.available() === 0) return resolve();
        else emptyTurns++;
        if (gate.held()) {
          if (gate.stopping()) return resolve();
          gate.resumeOnRelease(turn);
        } else if (emptyTurns <= POLL_EMPTY_TURNS_MAX || (batchInFlight() && performance.now() - lastRecordMs < POLL_IN_FLIGHT_MS)) {
          setImmediate(turn);
        } else {
          // A park that times out with nothing read parks again at once (emptyTurns stays above the bound).
          reader.waitDataAsync(PARK_MS).then(turn, reject);
        }
      } catch (e) {
        reject(e);
      }
    };
    turn();
  });
}

/** A ring reader's view of the durability gate (ThreadedPipeline.gateOutputs). */
export interface ReaderGate {
  /** The reader's next record (there or to come) belongs to a batch not released yet. */
  held(): boolean;
  /** Calls `resume` once, at the next release (or stop). */
  resumeOnRelease(resume: () => void): void;
  stopping(): boolean;
}

