// The sequencer: the one place new work enters the engine. It numbers commands and journals them in batches with one
// fsync each (group commit). Journal and engine run in parallel (engine.ts X4P, the LMAX way): a group is handed to
// the engine's rings as its durable write begins, and every output of it — events, acknowledgements, market data,
// query answers — stays in the engine's out rings until the write returns (ThreadedPipeline.gateOutputs and
// releaseThrough), so no client sees any effect of a command a crash could lose (X4, DESIGN rule 6).
//
// X4P journal and execution in parallel (as built):
//   - a write that fails: the engine has applied the group, nothing of it has left the process; the sequencer stops
//     (no release, no more commands, no more hand-offs) and the server exits (fail-stop, server.ts fatal); recovery
//     replays the journal, which holds the groups before it and at most a torn prefix of it (cut);
//   - the snapshot follower writes at `journaled` (the last batch whose write returned), never at `handed`; a task at a
//     batch boundary (an engine-written snapshot, a what-if copy) runs once the batches handed are journaled;
//   - risk-side effects of an unjournaled group (liquidations begun, clock ticks proposed from its events, P5S passes)
//     reach the gateway only through the gated rings: nothing of them leaves the process before the write returns; the
//     settlement worker's clock proposals are not outputs of a group (they are proposals, journaled as commands);
//   - released outputs keep the order they had: per ring, in batch order, as before;
//   - the group is in the engine's rings before its append is called: with the journal thread the order does not
//     matter (the thread writes while this thread goes on), with InlineJournal (`--journal-write inline`) the append
//     is the blocking write itself, and the engine runs the group meanwhile (issue 15, ninth round).
//
// Group commit's pace (issue 15, tenth round; off by default, `crossbook start --journal-group-us N`): a write begins
// at least N µs after the one before it began, unless JOURNAL_GROUP_EAGER_COMMANDS wait or the last group was a single command (one client
// waiting for each ack is not slowed). At a low rate most of the server's CPU was per group (thread wake-ups, the
// O_DSYNC write, the eventfd back), not per command; the pace only decides when a group is cut, never what is
// durable before what is released (X4P as above; drain() writes a waiting group at once).
//
// Encode once: submit() writes each command straight into the record layout, into a group arena laid out as the
// journal's batch frames (header, records, header, records, …). The journal writes the arena's bytes as they are
// (the headers filled in place), and the engine's rings get the same records (ThreadedPipeline.submitEncoded): no
// command is encoded twice, none is decoded on the way. Only a group holding read-only queries (answered in sequence
// but never journaled) has its journaled records copied, byte for byte, into frames without the queries.
import {
  BATCH_COMMANDS_MAX,
  COMMAND_RECORD_BYTES,
  commandKindAt,
  commandSeqAt,
  viewsOf,
  writeCommand,
  type RecordViews,
  type ThreadedPipeline,
} from "../engine/pipeline/index.ts";
import { BATCH_HEADER_BYTES, BatchEncoder, sealBatchFrame } from "../engine/journal/index.ts";
import { CommandKind, type CommandRecord } from "../engine/model/index.ts";
import type { HopTimer } from "./hop-timer.ts";

/**
 * Read-only queries: answered by the engine in sequence (at a sequence point, like any command) and left out of the
 * journal — they change no state, so a replay without them reaches the same state — except in a batch of queries
 * alone that may change state (framesWithoutQueries): that batch is written with them, since a liquidation step's
 * fills or a spread pass's payments in it must be durable before its outputs leave (engine.ts decision D3, P5S).
 */
export function isReadOnlyCommand(kind: number): boolean {
  switch (kind) {
    case CommandKind.QueryCollateral:
    case CommandKind.QueryMaxOrder:
    case CommandKind.QueryMaxWithdrawal:
    case CommandKind.QueryPoolStats:
    case CommandKind.QueryRateCurve:
    case CommandKind.QueryInterestHistory:
    case CommandKind.QueryMaxBorrow:
    case CommandKind.QueryPositions:
    case CommandKind.QueryOpenInterest:
    case CommandKind.QueryLiquidationHistory:
    case CommandKind.QueryInsuranceFund:
    case CommandKind.QueryInsuranceHistory:
    case CommandKind.QuerySettlementHistory:
    case CommandKind.QueryFundingHistory:
    case CommandKind.QueryFundingRateHistory:
    case CommandKind.QueryLenderLosses:
      return true;
    default:
      return false;
  }
}

/** Commands accepted but not yet fully processed, at most: beyond it new commands are refused (Overloaded). */
export const INFLIGHT_COMMANDS_MAX = 1 << 16;

/** Batches journaled under one fsync, at most (group commit): up to 8 × BATCH_COMMANDS_MAX commands per fsync. */
export const JOURNAL_GROUP_BATCHES_MAX = 8;

/**
 * The group commit's pace (issue 15, `crossbook start --journal-group-us`): the least time between the starts of two
 * durable writes, so that at a low rate the commands of several turns share one write. Every group costs the same
 * thread wake-ups and system calls however few commands it holds — the engine worker's wake-up and park, the journal
 * thread's, its O_DSYNC write and the eventfd that wakes the gateway, the gateway's futex notifies: 0.15–0.35 ms of
 * server CPU in all on this VM (more at load) — and at 10k commands/s with no pace the writes follow each other
 * (~3,000 a second with the journal thread, ~5,000 inline, 2–3 commands each), so most of the server's CPU there was
 * per group, not per command. At 1 ms a 10k/s feed is ~1,000 groups of ~10 and the server takes ~0.2 core less, but a
 * command's ack comes 0.3–0.6 ms later (p50 at 10k/s, 12-07): the default is 0 — a write begins as soon as the one
 * before it returned, latency first — and an operator who prefers CPU sets the pace.
 */
export const JOURNAL_GROUP_INTERVAL_MS_DEFAULT = 0;
/** A group of this many commands is written at once, whatever the pace: the pace only gathers small groups. */
export const JOURNAL_GROUP_EAGER_COMMANDS = 16;

/**
 * Where the sequencer journals its groups: JournalWriter (one durable write at a time) or JournalThread (groups
 * queued to a thread that writes them in order, each append resolving once it and every earlier one are on disk).
 */
export interface GroupJournal {
  /** Resolves when the frames are on disk, after every frame appended before them. */
  append(frames: Uint8Array): Promise<void>;
  /** Appends that may be outstanding at once (absent: 1, the next begins once the last resolved). */
  readonly appendsInFlightMax?: number;
  /**
   * The write that put the group last resolved on disk, begun and returned (performance.now() ms), when the journal
   * stamps it (JournalThread): `--trace-hops` splits the write hop with it. Absent or 0: not stamped.
   */
  readonly lastWriteStartMs?: number;
  readonly lastWriteEndMs?: number;
}

/**
 * A group whose durable write has begun: handed to the engine meanwhile (batch by batch, in order), its outputs
 * released once the write returns; its arena is reused once both are done.
 */
interface Writing {
  readonly group: GroupArena;
  readonly firstBatch: number;
  readonly writeStartMs: number;
  durable: Promise<void>;
  /** Batches of the group in the engine's rings so far. */
  batchesHanded: number;
  /** When its last batch was in the rings (performance.now(), stamped only when hops are timed). */
  handedMs: number;
}

const NO_WRITE: Promise<void> = Promise.resolve();

/** Who sent a command, for routing its events back (opaque to the sequencer). */
export type Origin = object;

/** Bytes of one batch frame in a group arena: its header and up to BATCH_COMMANDS_MAX records. */
const FRAME_BYTES_MAX = BATCH_HEADER_BYTES + BATCH_COMMANDS_MAX * COMMAND_RECORD_BYTES;
/** Groups whose write has begun, at most, whatever the journal could take (each holds its arena until handed). */
const GROUPS_WRITING_MAX = 64;
/** Empty arenas kept for reuse (more are given back to the collector). */
const FREE_ARENAS_MAX = 16;
/** An arena's first size: a frame of 63 commands (a turn's group at the open-loop rates); it grows past that. */
const ARENA_BYTES_INITIAL = 8 * 1024;

/**
 * One journal group's commands, encoded once: up to JOURNAL_GROUP_BATCHES_MAX batch frames back to back, each a
 * BATCH_HEADER_BYTES header (filled when the group is journaled) followed by its records. A batch holds at most
 * BATCH_COMMANDS_MAX commands: the arena cuts batches exactly as the sequencer always has.
 */
class GroupArena {
  /**
   * The frames' bytes: ARENA_BYTES_INITIAL at first (a turn's few commands), doubled while commands are added (never
   * after the group is sealed: the journal and the engine's rings read the same buffer), at most every batch's frame.
   */
  views: RecordViews = viewsOf(new ArrayBuffer(ARENA_BYTES_INITIAL));
  /** Batches begun; each batch b starts (its header) at byte b × FRAME_BYTES_MAX until sealed. */
  batches = 0;
  /** Commands in each batch. */
  readonly counts = new Int32Array(JOURNAL_GROUP_BATCHES_MAX);
  /** Read-only queries among the commands (not journaled). */
  queries = 0;
  /** When its first command was sequenced (performance.now(), stamped only when hops are timed). */
  sequencedMs = 0;

  /** Room for one more command: the last batch is not full, or another batch may begin. */
  hasRoom(): boolean {
    return this.batches < JOURNAL_GROUP_BATCHES_MAX || this.counts[this.batches - 1]! < BATCH_COMMANDS_MAX;
  }

  get empty(): boolean {
    return this.batches === 0;
  }

  /** Encodes `cmd` with sequence number `seq` behind the others (the one encoding it gets). */
  add(cmd: CommandRecord, seq: number, timed: boolean): void {
    if (timed && this.batches === 0) this.sequencedMs = performance.now();
    if (this.batches === 0 || this.counts[this.batches - 1]! === BATCH_COMMANDS_MAX) this.counts[this.batches++] = 0;
    const b = this.batches - 1;
    // Encoded with its sequence number; the caller's record is left as it was.
    const callerSeq = cmd.seq;
    cmd.seq = seq;
    const at = this.recordAt(b, this.counts[b]!);
    if (at + COMMAND_RECORD_BYTES > this.views.u8.length) this.grow(at + COMMAND_RECORD_BYTES);
    writeCommand(this.views, at, cmd);
    cmd.seq = callerSeq;
    this.counts[b]!++;
    if (isReadOnlyCommand(cmd.kind)) this.queries++;
  }

  /** Room for `bytes`: the buffer doubled (its bytes copied) until they fit, at most the group's largest layout. */
  private grow(bytes: number): void {
    let size = this.views.u8.length;
    while (size < bytes) size *= 2;
    const next = viewsOf(new ArrayBuffer(Math.min(size, JOURNAL_GROUP_BATCHES_MAX * FRAME_BYTES_MAX)));
    next.u8.set(this.views.u8);
    this.views = next;
  }

  /** Byte offset of batch `b`'s record `i`. */
  recordAt(b: number, i: number): number {
    return b * FRAME_BYTES_MAX + BATCH_HEADER_BYTES + i * COMMAND_RECORD_BYTES;
  }

  /** Commands in the group. */
  commands(): number {
    let n = 0;
    for (let b = 0; b < this.batches; b++) n += this.counts[b]!;
    return n;
  }

  /** Sequence number of batch `b`'s last command. */
  lastSeqOf(b: number): number {
    return commandSeqAt(this.views, this.recordAt(b, this.counts[b]! - 1));
  }

  reset(): void {
    this.batches = 0;
    this.queries = 0;
  }
}

export class Sequencer {
  /** The arena new commands are encoded into (null: none begun). */
  private filling: GroupArena | null = null;
  /** Full arenas waiting for the journal, oldest first. */
  private readonly queued: GroupArena[] = [];
  private readonly freeArenas: GroupArena[] = [];
  /** Frames without the read-only queries, for a group that holds some. */
  private readonly encoder = new BatchEncoder();
  /** The loop releasing the outputs of durable groups, while it runs. */
  private flushing: Promise<void> | null = null;
  /** Groups whose write began and which are not in the engine's rings yet (in part or whole), oldest first. */
  private readonly toHand: Writing[] = [];
  /** The flush loop waiting for a journaled group's hand-off to end (a hold or a full ring delays it). */
  private handWaiter: (() => void) | null = null;
  /** The last command and batch whose journal write returned. */
  private journaledSeq: number;
  private journaledBatch: number;
  /** Tasks at a batch boundary waiting for the batches handed to be journaled. */
  private journaledWaiters: { batch: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  /** Groups whose write began, oldest first (at most the journal's appendsInFlightMax). */
  private readonly writing: Writing[] = [];
  private readonly appendsInFlightMax: number;
  /** A turn's end is awaited (setImmediate) to start the writes of the commands that came in it. */
  private turnPending = false;
  private nextSeq: number;
  private nextBatch: number;
  /** Highest sequence number whose batch the engine has finished. */
  private doneSeq: number;
  private readonly batchLastSeq = new Map<number, number>();
  private readonly origins: (Origin | null)[] = new Array<Origin | null>(INFLIGHT_COMMANDS_MAX).fill(null);
  private readonly clientSeqs: bigint[] = new Array<bigint>(INFLIGHT_COMMANDS_MAX).fill(0n);
  private readonly accounts = new Uint32Array(INFLIGHT_COMMANDS_MAX);
  private failed: Error | null = null;
  /** Set while a task runs between two batches (atBatchBoundary): no batch is handed to the engine. */
  private hold: Promise<void> | null = null;
  /** A hand-off waiting for room in the engine's rings (or for a control request to be written). */
  private handing: Promise<void> | null = null;
  /** The last command and batch handed to the engine. */
  private handedSeq: number;
  private handedBatch: number;
  /** When the last durable write began (performance.now() ms), for the pace (groupIntervalMs). */
  private lastWriteBeganMs = -Infinity;
  /** Commands of the group whose write began last: one alone (a single client waiting for each ack) is not paced. */
  private lastGroupCommands = 0;
  /** A group waits for the pace: the timer that starts its write if no turn does first (armed once, refreshed). */
  private paceTimer: ReturnType<typeof setTimeout> | null = null;
  private paceArmed = false;
  /** Off while drain() runs: every group is written at once. */
  private pacing = true;

  constructor(
    private readonly journal: GroupJournal,
    private readonly pipeline: ThreadedPipeline,
    lastSeq: number,
    lastBatch: number,
    private readonly onJournalFailure: (e: Error) => void,
    /** `crossbook start --trace-hops`: each group's hops are stamped (gateway/hop-timer.ts); null = off. */
    private readonly hops: HopTimer | null = null,
    /** The least time between the starts of two durable writes (ms; 0 = none): JOURNAL_GROUP_INTERVAL_MS_DEFAULT. */
    private readonly groupIntervalMs = 0,
  ) {
    this.nextSeq = lastSeq + 1;
    this.nextBatch = lastBatch + 1;
    this.doneSeq = lastSeq;
    this.handedSeq = lastSeq;
    this.handedBatch = lastBatch;
    this.journaledSeq = lastSeq;
    this.journaledBatch = lastBatch;
    this.appendsInFlightMax = Math.min(journal.appendsInFlightMax ?? 1, GROUPS_WRITING_MAX);
    // X4P: from here on the engine's outputs wait for their batch's write (every batch up to lastBatch is on disk).
    pipeline.gateOutputs(lastBatch);
  }

  get inflight(): number {
    return this.nextSeq - 1 - this.doneSeq;
  }

  get lastSeq(): number {
    return this.nextSeq - 1;
  }

  /**
   * Numbers and queues one validated command. Returns its sequence number, or 0 when the engine is saturated
   * (the caller rejects with Overloaded; nothing was queued).
   */
  submit(cmd: CommandRecord, origin: Origin | null, clientSeq: bigint): number {
    if (this.failed !== null || this.inflight >= INFLIGHT_COMMANDS_MAX) return 0;
    const seq = this.nextSeq++;
    let arena = this.filling;
    if (arena === null || !arena.hasRoom()) {
      if (arena !== null) this.queued.push(arena);
      arena = this.freeArenas.pop() ?? new GroupArena();
      this.filling = arena;
    }
    arena.add(cmd, seq, this.hops !== null);
    const i = seq % INFLIGHT_COMMANDS_MAX;
    this.origins[i] = origin;
    this.clientSeqs[i] = clientSeq;
    this.accounts[i] = cmd.account;
    if (!this.turnPending) {
      this.turnPending = true;
      setImmediate(this.afterTurn);
    }
    return seq;
  }

  /** The session that sent command `seq` while it is in flight (null for timer ticks and after completion). */
  originOf(seq: number): Origin | null {
    return seq > this.doneSeq && seq < this.nextSeq ? this.origins[seq % INFLIGHT_COMMANDS_MAX]! : null;
  }

  /** The account command `seq` acted for (its sender sees that account's events of the command, no other's). */
  accountOf(seq: number): number {
    return seq > this.doneSeq && seq < this.nextSeq ? this.accounts[seq % INFLIGHT_COMMANDS_MAX]! : 0;
  }

  clientSeqOf(seq: number): bigint {
    return seq > this.doneSeq && seq < this.nextSeq ? this.clientSeqs[seq % INFLIGHT_COMMANDS_MAX]! : 0n;
  }

  /**
   * The engine finished batch `batch`: its commands' origins and client sequence numbers can be forgotten. The client
   * sequence number is dropped too, not left for the command INFLIGHT_COMMANDS_MAX later to overwrite: a bigint held
   * that long (~1.6 s at 40k commands/s) survived the gateway isolate's scavenges and was promoted — a third of what
   * survived them after AccountView's orders left the heap (V8's sampling heap profiler under the load harness).
   */
  batchDone(batch: number): void {
    this.hops?.batchDone(batch, performance.now());
    const last = this.batchLastSeq.get(batch);
    if (last === undefined) return;
    this.batchLastSeq.delete(batch);
    for (let s = this.doneSeq + 1; s <= last; s++) {
      const i = s % INFLIGHT_COMMANDS_MAX;
      this.origins[i] = null;
      this.clientSeqs[i] = 0n;
    }
    this.doneSeq = last;
  }

  /** The oldest arena with commands, taken out of the filling (new commands go to another); null when none. */
  private nextGroup(): GroupArena | null {
    const full = this.queued.shift();
    if (full !== undefined) return full;
    const arena = this.filling;
    if (arena === null || arena.empty) return null;
    this.filling = null;
    return arena;
  }

  /**
   * Starts the writes once this event-loop turn's I/O callbacks have run (setImmediate): every command that came in
   * the same turn — the frames of every socket one poll read — joins one group, one durable write for all of them.
   * Started at once, the first command of a turn would be written alone and the others would wait for its sync
   * before their own (two syncs in series for most commands of a burst, and twice the groups at low rates).
   */
  private readonly afterTurn = (): void => {
    this.turnPending = false;
    this.startWrites();
    if (this.flushing === null && this.writing.length > 0) this.flushing = this.flushLoop();
  };

  /**
   * Begins the durable write of each group waiting, oldest first, while the journal takes more (one at a time, so a
   * group keeps filling while the write before it runs). Each group is handed to the engine before its append:
   * JournalThread queues the group to its thread and returns; InlineJournal writes it on this thread and returns once
   * it is on disk, the engine having run it meanwhile.
   */
  private startWrites(): void {
    while (this.failed === null && this.writing.length < this.appendsInFlightMax) {
      if (this.paced()) break;
      const group = this.nextGroup();
      if (group === null) break;
      if (this.groupIntervalMs > 0) {
        this.lastWriteBeganMs = performance.now();
        this.lastGroupCommands = group.commands();
      }
      const firstBatch = this.nextBatch;
      this.nextBatch += group.batches;
      const frames = this.journalFrames(group, firstBatch);
      // --trace-hops: the group leaves the sequencer here (the end of `wait`; `hand` and `write` are timed from it).
      const writeStartMs = this.hops === null ? 0 : performance.now();
      const w: Writing = { group, firstBatch, writeStartMs, durable: NO_WRITE, batchesHanded: 0, handedMs: 0 };
      this.writing.push(w);
      this.toHand.push(w);
      // X4P: the engine runs each group while its write is on the way (its outputs wait for the write). Handed first:
      // a journal that writes on this thread (InlineJournal) returns from append() only once the group is on disk.
      this.handQueued();
      w.durable = frames.length > 0 ? this.journal.append(frames) : NO_WRITE;
      // A failure is handled in order by the flush loop; this keeps an unawaited rejection from being reported.
      w.durable.catch(() => {});
    }
    this.handQueued();
  }

  /**
   * The group commit's pace: true when the group filling (none full waits behind it) must wait, because the last
   * write began less than groupIntervalMs ago. It is written by the first turn's end (afterTurn) past the pace — at a
   * steady rate a turn comes every few commands — or else by the pace timer (Node's timers: 1 ms at the least).
   */
  private paced(): boolean {
    if (this.groupIntervalMs <= 0 || !this.pacing || this.queued.length > 0 || this.lastGroupCommands < 2) return false;
    const arena = this.filling;
    if (arena === null || arena.empty || arena.commands() >= JOURNAL_GROUP_EAGER_COMMANDS) return false;
    if (performance.now() - this.lastWriteBeganMs >= this.groupIntervalMs) return false;
    if (!this.paceArmed) {
      this.paceArmed = true;
      if (this.paceTimer === null) this.paceTimer = setTimeout(this.paceEnd, this.groupIntervalMs);
      else this.paceTimer.refresh();
    }
    return true;
  }

  private readonly paceEnd = (): void => {
    this.paceArmed = false;
    if (!this.turnPending) this.afterTurn();
  };

  /**
   * Hands the groups waiting, in order, to the engine: at once (trySubmitEncoded, no promise) while the rings have
   * room and no task holds the batch boundary; else the rest of the group is handed asynchronously and the groups
   * after it wait for that.
   */
  private handQueued(): void {
    while (this.handing === null && this.hold === null && this.failed === null && this.toHand.length > 0) {
      const w = this.toHand[0]!;
      if (!this.tryHand(w)) {
        this.handing = this.handRest(w);
        return;
      }
      this.toHand.shift();
      this.groupHanded(w);
    }
  }

  /** Hands the group's batches not handed yet while the rings take them now; true when all are in. */
  private tryHand(w: Writing): boolean {
    const { group } = w;
    while (w.batchesHanded < group.batches) {
      const b = w.batchesHanded;
      this.batchLastSeq.set(w.firstBatch + b, group.lastSeqOf(b));
      if (!this.pipeline.trySubmitEncoded(group.views, group.recordAt(b, 0), group.counts[b]!, w.firstBatch + b)) return false;
      this.batchHanded(w, b);
    }
    return true;
  }

  /** The rest of a group the rings could not take at once, waiting for room; then the groups queued behind it. */
  private async handRest(w: Writing): Promise<void> {
    const { group } = w;
    try {
      while (w.batchesHanded < group.batches) {
        const b = w.batchesHanded;
        await this.pipeline.submitEncoded(group.views, group.recordAt(b, 0), group.counts[b]!, w.firstBatch + b);
        this.batchHanded(w, b);
      }
    } finally {
      this.handing = null;
    }
    this.toHand.shift();
    this.groupHanded(w);
    this.handQueued();
  }

  private batchHanded(w: Writing, b: number): void {
    w.batchesHanded++;
    this.handedSeq = w.group.lastSeqOf(b);
    this.handedBatch = w.firstBatch + b;
  }

  /** A group is in the engine's rings: the flush loop may release it once its write returns. */
  private groupHanded(w: Writing): void {
    if (this.hops !== null) w.handedMs = performance.now();
    const waiter = this.handWaiter;
    if (waiter !== null) {
      this.handWaiter = null;
      waiter();
    }
  }

  private recycle(group: GroupArena): void {
    group.reset();
    if (this.freeArenas.length < FREE_ARENAS_MAX) this.freeArenas.push(group);
  }

  /**
   * Group commit, X4P: while groups are being written, wait for the oldest one's durable write, then release its
   * outputs (ThreadedPipeline.releaseThrough: read on this turn, in order); groups are released strictly in order,
   * each only after its write (and so every earlier one) returned. A crash during a write may keep a prefix of its
   * batches (recovery drops a torn tail); nothing of them had left the process.
   */
  private async flushLoop(): Promise<void> {
    try {
      for (let w = this.writing[0]; w !== undefined; w = this.writing[0]) {
        await w.durable;
        const writeEndMs = this.hops === null ? 0 : performance.now();
        const { group } = w;
        // The group is handed before it is released (a hold or a full ring may still delay its last batches).
        while (w.batchesHanded < group.batches) await new Promise<void>((resolve) => (this.handWaiter = resolve));
        this.writing.shift();
        const lastBatch = w.firstBatch + group.batches - 1;
        this.journaledSeq = group.lastSeqOf(group.batches - 1);
        this.journaledBatch = lastBatch;
        this.hops?.handed(lastBatch, group.sequencedMs, w.writeStartMs, writeEndMs, w.handedMs, group.commands(), this.journal.lastWriteStartMs ?? 0, this.journal.lastWriteEndMs ?? 0);
        // Handed and written: nothing reads the arena any more.
        this.recycle(group);
        // The next group's write and hand-off begin before this one's outputs are read: the release handles every
        // event of the group on this turn, and the disk and the engine need not wait for that.
        this.startWrites();
        this.pipeline.releaseThrough(lastBatch);
        this.wakeJournaledWaiters();
      }
    } catch (e) {
      // A journal that cannot write must stop the exchange (fail-stop): the engine applied the group, but nothing of
      // it is released; acknowledging without durability would lose data.
      this.failed = e as Error;
      this.writing.length = 0;
      this.toHand.length = 0;
      for (const waiter of this.journaledWaiters.splice(0)) waiter.reject(this.failed);
      this.onJournalFailure(this.failed);
    } finally {
      this.flushing = null;
    }
  }

  private wakeJournaledWaiters(): void {
    if (this.journaledWaiters.length === 0) return;
    const still = this.journaledWaiters.filter((w) => w.batch > this.journaledBatch);
    for (const w of this.journaledWaiters) if (w.batch <= this.journaledBatch) w.resolve();
    this.journaledWaiters = still;
  }

  /** Resolves once batch `batch` (and so every earlier one) is journaled; rejects if the journal fails first. */
  private whenJournaled(batch: number): Promise<void> {
    if (batch <= this.journaledBatch) return Promise.resolve();
    if (this.failed !== null) return Promise.reject(this.failed);
    return new Promise<void>((resolve, reject) => this.journaledWaiters.push({ batch, resolve, reject }));
  }

  /**
   * The last batch handed to the engine and its last sequence number (X4P: its journal write may still be on the way;
   * see `journaled`).
   */
  get handed(): { readonly seq: number; readonly batch: number } {
    return { seq: this.handedSeq, batch: this.handedBatch };
  }

  /**
   * The last batch whose journal write returned and its last sequence number: a batch boundary whose batches are all
   * in the journal. The snapshot follower writes the state there (X4P).
   */
  get journaled(): { readonly seq: number; readonly batch: number } {
    return { seq: this.journaledSeq, batch: this.journaledBatch };
  }

  /**
   * Runs `task` at a batch boundary: once the batch being handed to the engine (if any) is handed, no further batch
   * is until the task resolves; commands keep being accepted and journaled meanwhile. X4P: the task starts once the
   * batches handed are journaled too, so what it takes from the engine (a snapshot, a what-if copy) is durable. The
   * task gets the last sequence number and batch handed over — what a snapshot request written into the rings now
   * comes after.
   */
  async atBatchBoundary<T>(task: (lastSeq: number, lastBatch: number) => Promise<T>): Promise<T> {
    while (this.hold !== null) await this.hold;
    let release!: () => void;
    this.hold = new Promise<void>((resolve) => (release = resolve));
    try {
      while (this.handing !== null) await this.handing;
      await this.whenJournaled(this.handedBatch);
      return await task(this.handedSeq, this.handedBatch);
    } finally {
      this.hold = null;
      release();
      this.handQueued();
    }
  }

  /**
   * The journal frames of a group's batches (numbered from firstBatch), as one buffer for one write. Without queries
   * they are the arena's own bytes: each batch's header is written in front of its records, and the frames, back to
   * back but for the room a short last batch leaves, are written in place (a short batch can only be the last one).
   * Read-only queries are left out, and so is a batch of queries only (empty when the whole group is queries).
   */
  private journalFrames(group: GroupArena, firstBatch: number): Uint8Array {
    const u8 = group.views.u8;
    if (group.queries === 0) {
      let end = 0;
      for (let b = 0; b < group.batches; b++) {
        const at = b * FRAME_BYTES_MAX;
        const firstSeq = commandSeqAt(group.views, group.recordAt(b, 0));
        end = at + sealBatchFrame(u8, at, group.counts[b]!, firstBatch + b, firstSeq).length;
      }
      return u8.subarray(0, end);
    }
    return this.framesWithoutQueries(group, firstBatch);
  }

  /**
   * journalFrames for a group that holds read-only queries: its other records copied, byte for byte, into frames. A
   * batch of queries alone is left out only when it is known to change nothing (every stage finished the batch before
   * it and said so: ThreadedPipeline.idleBatchQuietAfter) — the common case, an idle exchange's queries answered
   * without a write. Otherwise it is written whole: the live engine runs its phase 0 (engine.ts D3: a liquidation
   * step's fills go out with the queries' answers) and its spread passes (P5S), and a journal that skipped it left
   * them to no record — a crash before the next write lost fills already sent. A replay runs an empty batch for each
   * number the journal skips (Engine.processJournalBatch).
   */
  private framesWithoutQueries(group: GroupArena, firstBatch: number): Uint8Array {
    const frames: Uint8Array[] = [];
    let bytes = 0;
    for (let b = 0; b < group.batches; b++) {
      this.encoder.begin(firstBatch + b);
      const count = group.counts[b]!;
      for (let i = 0; i < count; i++) {
        const at = group.recordAt(b, i);
        if (!isReadOnlyCommand(commandKindAt(group.views, at))) this.encoder.addEncoded(group.views, at);
      }
      if (this.encoder.size === 0) {
        // Queries alone: left out when the batch can change nothing, else written with them.
        if (this.pipeline.idleBatchQuietAfter(firstBatch + b - 1)) continue;
        for (let i = 0; i < count; i++) this.encoder.addEncoded(group.views, group.recordAt(b, i));
      }
      // The encoder's buffer is reused by the next begin(): each frame is copied out.
      const frame = this.encoder.finish().slice();
      frames.push(frame);
      bytes += frame.length;
    }
    const out = new Uint8Array(bytes);
    let at = 0;
    for (const f of frames) {
      out.set(f, at);
      at += f.length;
    }
    return out;
  }

  /** Resolves when every command submitted so far is journaled and processed by the engine. */
  async drain(): Promise<void> {
    this.pacing = false;
    try {
      await this.drainNow();
    } finally {
      this.pacing = true;
    }
  }

  private async drainNow(): Promise<void> {
    // A group waiting for the pace is written now.
    if (!this.turnPending && this.flushing === null) this.afterTurn();
    for (;;) {
      // X4P fail-stop: what was handed but not journaled is never released, so nothing more will finish.
      if (this.failed !== null) return;
      if (this.turnPending) await new Promise<void>((resolve) => setImmediate(resolve));
      else if (this.flushing !== null) await this.flushing;
      else break;
    }
    const last = this.nextBatch - 1;
    if (this.batchLastSeq.has(last)) await this.pipeline.waitForBatch(last);
  }
}

