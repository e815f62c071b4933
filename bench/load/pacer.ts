// The open loop's pacer: wakes the load client when its next command is due, to well under a millisecond, without
// spinning the client's event loop (the client shares the machine's two cores with the server it measures).
//
// Before, the open loop paced with `setTimeout(0)` — at least 1 ms in Node — so a command left up to ~1 ms after its
// scheduled time and that lag was charged to the server (the bare echo server showed 1.1 ms p50 from the scheduled
// send against ~74 µs from the real send). Now a worker thread sleeps in Atomics.wait (a futex with a sub-millisecond
// timeout) until the time the client asked for, then wakes the client's event loop (Atomics.notify on a word the client waits on with Atomics.waitAsync); the client sends
// every command due by then and says when to wake it next. Nothing else changes in the measurement: latency still
// counts from each command's scheduled time, so a stalled client or server is still charged in full.
//
// The worker's source is plain JavaScript run with `eval` (no TypeScript loader in the thread).
import { Worker } from "node:worker_threads";

/**
 * Int32 words of the control block. GEN: bumped when the worker must look again at once (it is idle, or stopping).
 * STOP: 1 = the worker exits. FIRE: the worker's wake-ups so far (the client waits on it with Atomics.waitAsync).
 * ANSWERED: the last wake-up the client has answered with a new wake time (a plain store: no system call).
 * IDLE: 1 while the worker sleeps with nothing scheduled (only then does wakeAt notify it).
 */
const GEN = 0;
const STOP = 1;
const FIRE = 2;
const ANSWERED = 3;
const IDLE = 4;
const CONTROL_BYTES = 24;
/** How often the worker looks for the client's answer to its last wake-up (the client is sending meanwhile). */
const ANSWER_POLL_MS = 0.05;
/** How long it sleeps at a time with nothing scheduled. */
const IDLE_WAIT_MS = 50;

// A wake-up costs the client one futex wake of its event loop and no system call of its own: it answers with plain
// stores, which the worker reads when its timed wait ends (a notify per answer cost the client ~18 µs each).
const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
const control = new Int32Array(workerData.shared, 0, 6);
const wakeAt = new Float64Array(workerData.shared, ${CONTROL_BYTES}, 1);
// The client's performance.now() frame: this thread's clock moved by the difference of the two time origins.
const offsetMs = performance.timeOrigin - workerData.timeOrigin;
let fired = 0;
for (;;) {
  if (Atomics.load(control, ${STOP}) !== 0) break;
  const gen = Atomics.load(control, ${GEN});
  if (Atomics.load(control, ${ANSWERED}) !== fired) { Atomics.wait(control, ${GEN}, gen, ${ANSWER_POLL_MS}); continue; }
  const at = wakeAt[0];
  if (!(at >= 0)) {
    Atomics.store(control, ${IDLE}, 1);
    if (!(wakeAt[0] >= 0)) Atomics.wait(control, ${GEN}, gen, ${IDLE_WAIT_MS});
    Atomics.store(control, ${IDLE}, 0);
    continue;
  }
  const waitMs = at - (performance.now() + offsetMs);
  if (waitMs > 0) { Atomics.wait(control, ${GEN}, gen, waitMs); continue; }
  fired = (fired + 1) | 0;
  Atomics.store(control, ${FIRE}, fired);
  Atomics.notify(control, ${FIRE});
}
`;

/** Atomics.waitAsync (Node 16+; not in the ES2022 lib this project compiles against). */
type WaitAsyncResult = { async: false; value: "not-equal" | "timed-out" } | { async: true; value: Promise<"ok" | "timed-out"> };
const waitAsync = (Atomics as unknown as { waitAsync: (a: Int32Array, index: number, value: number) => WaitAsyncResult }).waitAsync;

/** The client's side: `wakeAt(t)` asks for one call of `onWake` at performance.now() time `t` (ms). */
export class Pacer {
  private readonly control: Int32Array;
  private readonly at: Float64Array;
  private readonly worker: Worker;
  private readonly onWake: () => void;
  /** A waitAsync on FIRE is pending. */
  private armed = false;
  private stopped = false;
  private readonly fired = (): void => {
    this.armed = false;
    if (this.stopped) return;
    this.onWake();
  };

  private constructor(onWake: () => void) {
    const shared = new SharedArrayBuffer(CONTROL_BYTES + 8);
    this.control = new Int32Array(shared, 0, 6);
    this.at = new Float64Array(shared, CONTROL_BYTES, 1);
    this.at[0] = -1;
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { shared, timeOrigin: performance.timeOrigin } });
    this.onWake = onWake;
    this.worker.unref();
  }

  /** Starts the pacer's thread; resolves once it runs. */
  static async start(onWake: () => void): Promise<Pacer> {
    const p = new Pacer(onWake);
    await new Promise<void>((resolve, reject) => {
      p.worker.once("online", resolve);
      p.worker.once("error", reject);
    });
    return p;
  }

  /** The next wake-up at `atMs` (performance.now() time); a time already past wakes the client at once. */
  wakeAt(atMs: number): void {
    if (atMs >= 0 && !this.armed) this.arm();
    this.at[0] = atMs;
    // Stored after the time: the worker reads the time once it sees its wake-up answered.
    Atomics.store(this.control, ANSWERED, Atomics.load(this.control, FIRE));
    if (Atomics.load(this.control, IDLE) !== 0) this.nudge();
  }

  /** Makes the worker look again at once. */
  private nudge(): void {
    Atomics.add(this.control, GEN, 1);
    Atomics.notify(this.control, GEN);
  }

  /** Waits (Atomics.waitAsync: a futex wake-up of the event loop, no message) for the worker's next wake-up. */
  private arm(): void {
    this.armed = true;
    const r = waitAsync(this.control, FIRE, Atomics.load(this.control, FIRE));
    if (r.async) void r.value.then(this.fired);
    else queueMicrotask(this.fired);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    Atomics.store(this.control, STOP, 1);
    // Settles a pending waitAsync (fired() ignores it now).
    Atomics.add(this.control, FIRE, 1);
    Atomics.notify(this.control, FIRE);
    this.nudge();
    await this.worker.terminate();
  }
}

/**
 * Commands due `elapsedMs` after an open loop's start at `spacingMs` apart (command n is due at n × spacingMs, so
 * command 0 at once), at most `total`. The timer pacer before counted floor(elapsed / spacing) — each command sent a
 * spacing after its due time, and that spacing charged to the server.
 */
export function commandsDue(elapsedMs: number, spacingMs: number, total: number): number {
  if (elapsedMs < 0) return 0;
  return Math.min(total, Math.floor(elapsedMs / spacingMs) + 1);
}
