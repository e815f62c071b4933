// Snapshots on a schedule and on an operator's request (X7). A snapshot is the state at a batch boundary. By default
// (writer "follower", engine.ts "X7 (as built)") the boundary is the last batch whose journal write returned (X4P),
// and a follower worker writes the state there from the newest snapshot and the journal (gateway/snapshot-writer.ts):
// nothing on the engine's path waits. With writer "engine" the sequencer stops handing batches to the engine (it
// keeps accepting and journaling commands), the request travels through the pipeline's rings so every stage saves
// its state after the same batch, the gateway's views are added, and the file is written (engine/journal/snapshots.ts)
// after the engine has moved on.
//
// Defaults (config: `crossbook start --snapshot-every-commands N --snapshot-every-minutes T --snapshots-kept K`):
//   - every 250,000 commands: what a restart replays after the newest snapshot is at most that plus the commands that
//     came while the follower wrote it. The tail replays at ~0.1 M records/s here (bench snapshot.restart: 100,000
//     records in ~0.95 s at load ~4.6), so 250,000 is ~2.5 s of replay — 1,000,000 (the default before) was ~10 s,
//     more than the snapshot's own load. The follower (snapshot-writer.ts) must keep up: a one-shot follower took
//     ~5 s at 100,000 accounts (restore the previous snapshot, encode, write) plus the replay of the commands since,
//     ~7.5 s for 250,000, so it kept up to ~33,000 commands/s; the standing one restores only for its first snapshot
//     (bench snapshot.pause, the second follower snapshot: on disk after 3.2 s against 5.0 s). Above its pace
//     snapshots run back to back (one at a time) and the tail is bounded by what arrives during one. What it cannot
//     shed is one replay of every command (~1.7 µs each on the demo's state): ~0.25 core of this 2-core machine at
//     150,000 commands/s, at nice 19, and nothing on the engine's or the sequencer's path at any rate;
//   - every 15 minutes (when at least one command came since the last one): a quiet exchange still restarts from a
//     recent state; below ~280 commands/s this trigger comes first, so the tail stays under 250,000 whatever the
//     rate, for the price of at most 96 snapshots a day;
//   - 3 kept: a damaged newest snapshot falls back to the one before it, twice, before the whole journal is needed;
//     `crossbook journal-archive` may move the segments the oldest of them covers.
export interface SnapshotPolicy {
  /** Take one when this many commands were sequenced since the last (0 = never by count). */
  readonly everyCommands: number;
  /** Take one when this much wall-clock time passed since the last and a command came (0 = never by time). */
  readonly everyMs: number;
  /** Snapshots kept on disk (older ones are deleted once a new one is in place). */
  readonly keep: number;
  /**
   * Who writes it (engine.ts "X7 (as built)"): "follower" (default) — a worker, from the newest snapshot and the
   * journal up to the sequencer's boundary, while the engine runs on; "engine" — the stages write their state at a
   * batch boundary while the sequencer holds batches back (the engine stalls for it).
   */
  readonly writer?: SnapshotWriterKind;
}

export type SnapshotWriterKind = "follower" | "engine";

export const SNAPSHOT_POLICY_DEFAULT: SnapshotPolicy = { everyCommands: 250_000, everyMs: 15 * 60_000, keep: 3 };

/** How often the schedule is checked. */
const SCHEDULE_CHECK_MS = 1_000;

export interface TakenSnapshot {
  readonly seq: number;
  readonly batch: number;
  readonly stateHash: string;
  readonly path: string;
  readonly bytes: number;
  /**
   * How long the sequencer held batches back from the engine for it: "engine", from the request to the stages' state
   * and the gateway's views handed back (the engine's stall); "follower", reading the boundary (no stall).
   */
  readonly captureMs: number;
  /** From the request to the file being durable. */
  readonly totalMs: number;
}

/** Runs `take` on the schedule and on request, one snapshot at a time. */
export class SnapshotScheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<TakenSnapshot> | null = null;
  private lastSeq: number;
  private lastAtMs = performance.now();

  constructor(
    private readonly policy: SnapshotPolicy,
    private readonly take: (writer?: SnapshotWriterKind) => Promise<TakenSnapshot>,
    private readonly sequencedSeq: () => number,
    private readonly log: (line: string) => void,
    startSeq: number,
  ) {
    this.lastSeq = startSeq;
  }

  start(): void {
    if (this.policy.everyCommands <= 0 && this.policy.everyMs <= 0) return;
    this.timer = setInterval(() => this.check(), SCHEDULE_CHECK_MS);
    this.timer.unref();
  }

  private due(): boolean {
    const commands = this.sequencedSeq() - this.lastSeq;
    if (this.policy.everyCommands > 0 && commands >= this.policy.everyCommands) return true;
    return this.policy.everyMs > 0 && commands > 0 && performance.now() - this.lastAtMs >= this.policy.everyMs;
  }

  private check(): void {
    if (this.running !== null || !this.due()) return;
    this.now().catch((e: unknown) => this.log(`snapshot failed: ${(e as Error).message}`));
  }

  /** Takes a snapshot now (after the one in progress, if any); `writer` overrides the policy's for this one. */
  async now(writer?: SnapshotWriterKind): Promise<TakenSnapshot> {
    while (this.running !== null) await this.running.catch(() => {});
    this.running = this.take(writer);
    try {
      const taken = await this.running;
      this.lastSeq = taken.seq;
      this.lastAtMs = performance.now();
      return taken;
    } finally {
      this.running = null;
    }
  }

  /** Stops the schedule and waits for a snapshot in progress. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    while (this.running !== null) await this.running.catch(() => {});
  }
}
