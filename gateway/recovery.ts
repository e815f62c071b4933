// Restart (X4, X7): the engine is rebuilt from the newest usable snapshot and the journal after it, while the server
// already listens and says so — GET /health answers {"status":"recovering", …progress} and then {"status":"ready"},
// commands get a typed Recovering reject, and the log shows records replayed, rate and time left.
//
// Order of preference: each snapshot, newest first (one that is damaged, of another config or topology, whose
// restored state hash differs from its header — checked when asked, verifyRestoredHash — or whose journal tail does
// not follow it is skipped with the reason);
// then the whole journal from sequence 1 (archived segments included). A corrupt journal stops the start
// (JournalCorruptError) unless the operator asked for --truncate-at-corruption: then the journal is cut before the
// corruption first, and the snapshots that include commands after the cut are moved aside with the cut bytes.
import type { CommandRecord } from "../engine/model/index.ts";
import { existsSync, mkdirSync, renameSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import {
  emptySummary,
  JournalCorruptError,
  JournalError,
  listSegments,
  listSnapshots,
  migrateLegacyJournal,
  segmentBatches,
  validSnapshots,
  JOURNAL_QUARANTINE_DIR,
  JOURNAL_SEGMENT_DIR,
  SNAPSHOT_DIR,
  type JournalSegment,
  type JournalSummary,
  type SnapshotFile,
} from "../engine/journal/index.ts";
import { COMMAND_RECORD_BYTES, type EngineTopology, type ThreadedPipeline } from "../engine/pipeline/index.ts";

/** Progress goes to the log at most this often while replaying. */
const PROGRESS_LOG_INTERVAL_MS = 2_000;
/** The commands of a batch that held read-only queries alone, as the replay submits it. */
const NO_COMMANDS: readonly CommandRecord[] = [];
/** The replay loop gives the event loop a turn this often, so /health and early clients are answered. */
const RECOVERY_YIELD_INTERVAL_MS = 20;

/** What the server is doing before it serves: read by GET /health and the Recovering reject. */
export class RecoveryStatus {
  phase: "starting" | "snapshot" | "journal" | "ready" = "starting";
  /** The snapshot being restored or restored (its last sequence number), 0 = none. */
  snapshotSeq = 0;
  records = 0;
  expectedRecords = 0;
  private phaseStartedMs = performance.now();
  private lastLogMs = performance.now();
  lastSeq = 0;

  constructor(private readonly log: (line: string) => void) {}

  get ready(): boolean {
    return this.phase === "ready";
  }

  /** Time spent finding, reading, checking and restoring snapshots (all attempts), then replaying the journal. */
  snapshotLoadMs = 0;
  journalReplayMs = 0;

  begin(phase: "snapshot" | "journal", snapshotSeq: number, expectedRecords: number): void {
    this.endPhase();
    this.phase = phase;
    this.snapshotSeq = snapshotSeq;
    this.records = 0;
    this.expectedRecords = expectedRecords;
    this.phaseStartedMs = performance.now();
    this.lastLogMs = this.phaseStartedMs;
  }

  /** Recovery is over: the server serves. */
  finish(lastSeq: number): void {
    this.endPhase();
    this.lastSeq = lastSeq;
    this.phase = "ready";
  }

  private endPhase(): void {
    const ms = performance.now() - this.phaseStartedMs;
    if (this.phase === "snapshot" || this.phase === "starting") this.snapshotLoadMs += ms;
    else if (this.phase === "journal") this.journalReplayMs += ms;
  }

  /** Journal records replayed per second in this phase. */
  get rate(): number {
    const s = (performance.now() - this.phaseStartedMs) / 1000;
    return s > 0 ? Math.round(this.records / s) : 0;
  }

  get secondsLeft(): number | null {
    const rate = this.rate;
    return rate > 0 ? Math.max(0, Math.round((this.expectedRecords - this.records) / rate)) : null;
  }

  /** Logs progress when PROGRESS_LOG_INTERVAL_MS passed since the last line. */
  maybeLog(): void {
    const now = performance.now();
    if (now - this.lastLogMs < PROGRESS_LOG_INTERVAL_MS) return;
    this.lastLogMs = now;
    const left = this.secondsLeft;
    this.log(
      `recovering: ${this.records.toLocaleString("en-US")} of ~${this.expectedRecords.toLocaleString("en-US")} journal records replayed` +
        `${this.snapshotSeq > 0 ? ` after snapshot ${this.snapshotSeq}` : ""} (${this.rate.toLocaleString("en-US")}/s` +
        `${left === null ? "" : `, ~${left} s left`})`,
    );
  }

  /** The body of GET /health. */
  health(): Record<string, unknown> {
    if (this.ready) return { status: "ready", lastSeq: this.lastSeq, snapshotSeq: this.snapshotSeq };
    return {
      status: "recovering",
      phase: this.phase,
      snapshotSeq: this.snapshotSeq,
      records: this.records,
      expectedRecords: this.expectedRecords,
      recordsPerSecond: this.rate,
      secondsLeft: this.secondsLeft,
    };
  }
}

export interface RecoveryOptions {
  readonly dataDir: string;
  /** Archived segments (read when the whole journal is replayed). */
  readonly archiveDir: string;
  readonly configDigestHex: string;
  readonly topology: EngineTopology;
  readonly truncateAtCorruption: boolean;
  readonly status: RecoveryStatus;
  readonly log: (line: string) => void;
  /**
   * Starts the engine, empty or from the payload of the snapshot `file` resolves to (its workers boot meanwhile);
   * throws when the payload cannot be restored.
   */
  readonly startPipeline: (file: Promise<SnapshotFile | null>) => Promise<ThreadedPipeline>;
  /** Hash the restored state and skip the snapshot if it differs from its header's (ServerOptions.verifySnapshotHash). */
  readonly verifyRestoredHash: boolean;
  /** Each journal command replayed, in journal order, before the engine gets its batch (the gateway's key registry). */
  readonly onRecoveredCommand?: (cmd: CommandRecord) => void;
}

export interface RecoveredEngine {
  readonly pipeline: ThreadedPipeline;
  readonly snapshot: SnapshotFile | null;
  readonly journal: JournalSummary;
  readonly lastSeq: number;
  readonly lastBatch: number;
}

/** Why one snapshot could not be used (recovery falls back to the one before). */
class SnapshotUnusable extends Error {}

/** Rebuilds the engine (see the file comment). */
export async function recoverEngine(o: RecoveryOptions): Promise<RecoveredEngine> {
  if (migrateLegacyJournal(o.dataDir)) o.log(`moved ${join(o.dataDir, "journal.bin")} to ${join(o.dataDir, JOURNAL_SEGMENT_DIR)}/ as its first segment`);
  if (o.truncateAtCorruption) cutAtCorruption(o);
  o.status.begin("snapshot", 0, 0);
  const expectation = { configDigestHex: o.configDigestHex, riskShards: o.topology.riskShards, matchingShards: o.topology.matchingShards };
  const skip = (path: string, reason: string): void => o.log(`snapshot ${basename(path)} skipped: ${reason}`);
  // Each attempt's workers boot while the next usable file is found and read; its checksum is checked while its
  // restore starts (readSnapshot's checksumLater). After the last snapshot, the whole journal (a file of null).
  const files = validSnapshots(join(o.dataDir, SNAPSHOT_DIR), expectation, skip, true);
  for (;;) {
    const file = files.next().then((r) => (r.done === true ? null : r.value));
    const recovered = await recoverFrom(o, file);
    if (recovered !== null) {
      await files.return();
      return recovered;
    }
  }
}

/**
 * The engine from the snapshot `file` resolves to (or from nothing: null) and the journal after it; null when that
 * snapshot is unusable.
 */
async function recoverFrom(o: RecoveryOptions, file: Promise<SnapshotFile | null>): Promise<RecoveredEngine | null> {
  o.status.begin("snapshot", 0, 0);
  const starting = o.startPipeline(file);
  starting.catch(() => {}); // awaited below, once the file is known
  const snapshot = await file;
  o.status.snapshotSeq = snapshot?.seq ?? 0;
  let pipeline: ThreadedPipeline;
  try {
    pipeline = await starting;
  } catch (e) {
    if (snapshot === null) throw e;
    // A damaged file is reported as such, whichever part of it failed first.
    const damaged = snapshot.checksum === undefined ? null : await snapshot.checksum;
    o.log(`snapshot ${basename(snapshot.path)} skipped: ${damaged ?? `it does not restore (${(e as Error).message})`}`);
    return null;
  }
  try {
    if (snapshot !== null && o.verifyRestoredHash) {
      const hash = await pipeline.stateHash();
      if (hash !== snapshot.stateHash) throw new SnapshotUnusable(`restored state hash ${hash.slice(0, 12)}… differs from its header's ${snapshot.stateHash.slice(0, 12)}…`);
    }
    const journal = await replayJournal(o, pipeline, snapshot);
    return {
      pipeline,
      snapshot,
      journal,
      lastSeq: Math.max(journal.lastSeq, snapshot?.seq ?? 0),
      lastBatch: Math.max(journal.lastBatch, snapshot?.batch ?? 0),
    };
  } catch (e) {
    await pipeline.stop();
    const usable = snapshot !== null && (e instanceof SnapshotUnusable || (e instanceof JournalError && !(e instanceof JournalCorruptError)));
    if (!usable) throw e;
    o.log(`snapshot ${basename(snapshot.path)} skipped: ${(e as Error).message}`);
    return null;
  }
}

/** Journal records from `fromSeq` on, estimated from the sizes of the segments that hold them. */
function expectedRecords(segments: readonly JournalSegment[], fromSeq: number): number {
  let records = 0;
  for (let i = 0; i < segments.length; i++) {
    const next = segments[i + 1];
    if (next !== undefined && next.firstSeq <= fromSeq) continue;
    records += Math.floor(statSync(segments[i]!.path).size / COMMAND_RECORD_BYTES);
    if (segments[i]!.firstSeq < fromSeq) records -= fromSeq - segments[i]!.firstSeq;
  }
  return Math.max(0, records);
}

/** Replays every journal batch after the snapshot (or all of them) through the pipeline, cutting a torn tail. */
async function replayJournal(o: RecoveryOptions, pipeline: ThreadedPipeline, snapshot: SnapshotFile | null): Promise<JournalSummary> {
  const segments = listSegments(o.dataDir, existsSync(o.archiveDir) ? o.archiveDir : null);
  const fromSeq = snapshot === null ? 0 : snapshot.seq + 1;
  o.status.begin("journal", snapshot?.seq ?? 0, expectedRecords(segments, fromSeq));
  const summary = emptySummary();
  const opts = { configDigestHex: o.configDigestHex, repair: true, fromSeq, afterBatch: snapshot?.batch ?? 0 };
  let lastBatch = 0;
  let sinceYieldMs = performance.now();
  // X4: the journal skips the numbers of batches that held read-only queries alone; the live engine ran each (its
  // phase 0, decision D3), so the replay runs an empty batch for each (Engine.processJournalBatch).
  let previousBatch = snapshot?.batch ?? 0;
  for (const b of segmentBatches(segments, opts, summary)) {
    for (let i = 0; i < b.count; i++) o.onRecoveredCommand?.(b.commands[i]!);
    while (++previousBatch < b.batchNumber) await pipeline.submitBatch(NO_COMMANDS, 0, previousBatch);
    await pipeline.submitBatch(b.commands, b.count, b.batchNumber);
    previousBatch = b.batchNumber;
    lastBatch = b.batchNumber;
    o.status.records += b.count;
    if (performance.now() - sinceYieldMs >= RECOVERY_YIELD_INTERVAL_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      sinceYieldMs = performance.now();
      o.status.maybeLog();
    }
  }
  if (lastBatch > 0) await pipeline.waitForBatch(lastBatch);
  return summary;
}

/**
 * --truncate-at-corruption: reads the live segments once, cutting at the first corruption (the rest goes to a
 * quarantine directory), then moves there every snapshot that includes commands after the cut.
 */
function cutAtCorruption(o: RecoveryOptions): void {
  const segments = listSegments(o.dataDir, null);
  if (segments.length === 0) return;
  const quarantine = join(o.dataDir, JOURNAL_QUARANTINE_DIR, new Date().toISOString().replace(/[:.]/g, "-"));
  const summary = emptySummary();
  const opts = { configDigestHex: o.configDigestHex, repair: true, fromSeq: segments[0]!.firstSeq, quarantineDir: quarantine };
  const batches = segmentBatches(segments, opts, summary);
  while (batches.next().done !== true);
  const c = summary.corruption;
  if (c === null) {
    o.log("--truncate-at-corruption: the journal has no corruption; nothing cut");
    return;
  }
  o.log(`--truncate-at-corruption: cut ${c.file} at byte ${c.offset} (${c.reason}); the journal ends at sequence ${summary.lastSeq}; ` +
    `${c.recordsAfter} records after it moved to ${quarantine}`);
  for (const s of listSnapshots(join(o.dataDir, SNAPSHOT_DIR))) {
    if (s.seq <= summary.lastSeq) continue;
    mkdirSync(quarantine, { recursive: true });
    renameSync(s.path, join(quarantine, basename(s.path)));
    o.log(`--truncate-at-corruption: snapshot ${basename(s.path)} includes commands after the cut: moved to ${quarantine}`);
  }
}
