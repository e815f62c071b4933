// Where an acknowledgement's time goes inside the server (issue 15, `crossbook start --trace-hops S`): per journal
// group, the hops a command takes between the socket and the engine's answer, stamped with performance.now() on the
// gateway thread. Journal and engine run in parallel (engine.ts X4P): a group is handed to the engine as its write
// begins, and its outputs are released once the write returns —
//   wait     the group's first command sequenced → its durable write is asked for (this turn's other commands
//            before it: group commit; with one write in flight, also the previous group's write),
//   write    asked for → on disk, as the gateway learns it (with the journal thread: any write still running
//            before it, then its own O_DSYNC write, the fsync wait included, and the gateway's wake-up),
//   hand     asked for → the group's records are in the engine's ring (the engine runs it during the write),
//   release  the later of the write's return and the hand-off → the group's last batch end read back on the gateway
//            thread: any engine work left after the write, and every event of the group handled here (the views,
//            the account log's encode, the frames queued for the sockets, which are written in the same turn).
// With the journal thread (it stamps each writev in the gateway's clock), the write hop is split as well:
//   wake     asked for → the thread's writev begins (the thread's futex wake-up, or the write still running before),
//   disk     the writev itself (O_DSYNC: on disk when it returns),
//   back     the writev returned → the gateway knows it (the thread's notify, the event loop's wake-up, the promise).
// What the client adds (its socket, the kernel, the decode before sequencing) is its round trip minus these. Off by
// default; on, it costs a few clock reads per group, nothing per command.

/** Groups timed per report at most (a report every few seconds sees fewer at any realistic rate). */
export const HOP_SAMPLES_MAX = 100_000;

/** Groups written and handed to the engine but not yet answered, at most (more than the sequencer lets in flight). */
const PENDING_GROUPS_MAX = 4096;

const HOPS = ["wait", "write", "hand", "release"] as const;
/** The write hop's parts, timed for the groups whose journal stamps its writev (JournalThread). */
const WRITE_PARTS = ["wake", "disk", "back"] as const;

/** One group's stamps (ms, performance.now()), kept from its hand-off until its last batch ends. */
interface PendingGroup {
  lastBatch: number;
  sequencedMs: number;
  writeStartMs: number;
  writeEndMs: number;
  handedMs: number;
  commands: number;
  /** The journal's writev of the group, begun and returned (ms, this thread's clock); 0 = not stamped. */
  diskStartMs: number;
  diskEndMs: number;
}

export class HopTimer {
  /** Durations (ms) per hop since the last report, one per answered group. */
  private readonly samples: Float64Array[] = HOPS.map(() => new Float64Array(HOP_SAMPLES_MAX));
  private readonly commands = new Float64Array(HOP_SAMPLES_MAX);
  private count = 0;
  /** Durations (ms) of the write hop's parts, one per answered group whose writev was stamped. */
  private readonly parts: Float64Array[] = WRITE_PARTS.map(() => new Float64Array(HOP_SAMPLES_MAX));
  private partsCount = 0;
  private readonly pending: PendingGroup[] = [];

  /** A group handed over and journaled (its outputs released): its stamps, kept until `batchDone(lastBatch)`. */
  handed(lastBatch: number, sequencedMs: number, writeStartMs: number, writeEndMs: number, handedMs: number, commands: number, diskStartMs = 0, diskEndMs = 0): void {
    if (this.pending.length >= PENDING_GROUPS_MAX) return;
    this.pending.push({ lastBatch, sequencedMs, writeStartMs, writeEndMs, handedMs, commands, diskStartMs, diskEndMs });
  }

  /** The engine finished `batch` (journal batches end in order): a group ending with it is timed. */
  batchDone(batch: number, nowMs: number): void {
    while (this.pending.length > 0 && this.pending[0]!.lastBatch <= batch) {
      const g = this.pending.shift()!;
      if (g.lastBatch !== batch || this.count >= HOP_SAMPLES_MAX) continue;
      const i = this.count++;
      this.samples[0]![i] = g.writeStartMs - g.sequencedMs;
      this.samples[1]![i] = g.writeEndMs - g.writeStartMs;
      this.samples[2]![i] = g.handedMs - g.writeStartMs;
      this.samples[3]![i] = nowMs - Math.max(g.writeEndMs, g.handedMs);
      this.commands[i] = g.commands;
      if (g.diskStartMs > 0) {
        const j = this.partsCount++;
        this.parts[0]![j] = g.diskStartMs - g.writeStartMs;
        this.parts[1]![j] = g.diskEndMs - g.diskStartMs;
        this.parts[2]![j] = g.writeEndMs - g.diskEndMs;
      }
    }
  }

  /** Groups timed since the last report. */
  get timed(): number {
    return this.count;
  }

  /**
   * One line: per hop the p50 / p99 / max (ms) over the groups answered since the last call, and the commands per
   * group; null when none was. Starts the next window. The max is the one stall a p99 over a few thousand groups hides
   * (a disk that paused, a long collection).
   */
  report(): string | null {
    const n = this.count;
    if (n === 0) return null;
    this.count = 0;
    const parts: string[] = [];
    for (let h = 0; h < HOPS.length; h++) parts.push(`${HOPS[h]} ${percentiles(this.samples[h]!, n, 3)}`);
    parts.push(`commands/group ${percentiles(this.commands, n, 0)}`);
    const m = this.partsCount;
    this.partsCount = 0;
    if (m > 0) parts.push(`write = ${WRITE_PARTS.map((name, h) => `${name} ${percentiles(this.parts[h]!, m, 3)}`).join(" + ")}`);
    return `hops over ${n} groups (p50/p99/max, ms): ${parts.join(", ")}`;
  }
}

/** "p50/p99/max" of the first n values (sorted in place), with `digits` decimals. */
function percentiles(values: Float64Array, n: number, digits: number): string {
  const sorted = values.subarray(0, n).sort();
  const at = (q: number): string => sorted[Math.min(n - 1, Math.floor(n * q))]!.toFixed(digits);
  return `${at(0.5)}/${at(0.99)}/${sorted[n - 1]!.toFixed(digits)}`;
}
