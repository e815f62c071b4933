// journal.path.* (issue 15): the sequencer and its durable write alone — a command's time from its scheduled submit
// to its batch released (engine.ts X4P: handed to the engine as its write begins, released once the write returned;
// a pipeline stub that only stamps), open loop at 10k and 50k commands/s, through
// the journal thread the server runs (gateway/journal-thread.ts: a worker's blocking O_DSYNC writev into a
// zero-filled segment, groups queued while a write runs) and, alternating in the same run, through JournalWriter (a
// libuv thread-pool write per group, one group at a time: the server's path before) and InlineJournal (the same
// blocking O_DSYNC writev on the sequencer's own thread at the end of its turn: `--journal-write inline`, no thread
// wake-up around the write), and the server's default since 12-07, the journal thread with the sequencer's thread
// writing a group of at most JOURNAL_INLINE_GROUP_BYTES_MAX itself when the thread is idle (`--journal-write hybrid`:
// journal.path.hybrid.*). Same disk, same process: the ratios are the journal path's change, whatever the machine's
// load; the absolute figures move with the disk.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as hdr from "hdr-histogram-js";
import { JournalWriter, JOURNAL_SEGMENT_BYTES_DEFAULT, JOURNAL_SEGMENT_DIR } from "../engine/journal/index.ts";
import { InlineJournal } from "../gateway/journal-inline.ts";
import { JOURNAL_INLINE_GROUP_BYTES_MAX, JOURNAL_RING_BYTES, JournalThread } from "../gateway/journal-thread.ts";
import { CommandKind, CommandRecord } from "../engine/model/index.ts";
import { COMMAND_RECORD_BYTES, commandSeqAt, type RecordViews, type ThreadedPipeline } from "../engine/pipeline/index.ts";
import { Sequencer, type GroupJournal } from "../gateway/sequencer.ts";
import type { BenchDef, BenchResult } from "./harness.ts";

const PHASE_SECONDS = 2;
/** Alternating rounds per rate: thread, pool, inline, hybrid, thread, pool, inline, hybrid, … */
const ROUNDS = 3;
const DIGEST = "ab".repeat(32);

type JournalKind = "thread" | "pool" | "inline" | "hybrid";
const KINDS: readonly JournalKind[] = ["thread", "pool", "inline", "hybrid"];

interface PathRun {
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly meanUs: number;
  readonly handed: number;
}

/** One open-loop phase: `rate` deposits/s for PHASE_SECONDS through a fresh journal of `kind`. */
async function runPath(kind: JournalKind, rate: number): Promise<PathRun> {
  const dir = mkdtempSync(join(tmpdir(), "crossbook-jpath-"));
  const segments = join(dir, JOURNAL_SEGMENT_DIR);
  const journal: GroupJournal & { close(): Promise<void> } =
    kind === "thread" || kind === "hybrid"
      ? await JournalThread.openSegments(segments, DIGEST, JOURNAL_SEGMENT_BYTES_DEFAULT, 1, JOURNAL_RING_BYTES, kind === "hybrid" ? JOURNAL_INLINE_GROUP_BYTES_MAX : 0)
      : kind === "inline"
        ? InlineJournal.openSegments(segments, DIGEST, JOURNAL_SEGMENT_BYTES_DEFAULT, 1)
        : await JournalWriter.openSegments(segments, DIGEST, JOURNAL_SEGMENT_BYTES_DEFAULT, 1);
  const total = Math.floor(rate * PHASE_SECONDS);
  const scheduledMs = new Float64Array(total + 1);
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let handed = 0;
  // Batches handed and not released yet: [batch, first seq, last seq] (the stub's engine answers at once).
  const pending: [number, number, number][] = [];
  const pipeline = {
    submitEncoded: async (source: RecordViews, offset: number, count: number, batch: number): Promise<void> => {
      pending.push([batch, commandSeqAt(source, offset), commandSeqAt(source, offset + (count - 1) * COMMAND_RECORD_BYTES)]);
      handed += count;
    },
    waitForBatch: async () => {},
    gateOutputs: () => {},
    trySubmitEncoded: () => false,
    // X4P: a batch's answers leave once its write returned: each command is timed then.
    releaseThrough: (released: number): void => {
      const nowMs = performance.now();
      while (pending.length > 0 && pending[0]![0] <= released) {
        const [batch, firstSeq, lastSeq] = pending.shift()!;
        for (let seq = firstSeq; seq <= lastSeq; seq++) histogram.recordValue(Math.max(1, Math.round((nowMs - scheduledMs[seq]!) * 1000)));
        // The commands leave the sequencer's in-flight window.
        sequencer.batchDone(batch);
      }
    },
  } as unknown as ThreadedPipeline;
  const sequencer = new Sequencer(journal, pipeline, 0, 0, (e) => {
    throw e;
  });
  const cmd = new CommandRecord();
  cmd.kind = CommandKind.Deposit;
  cmd.account = 17;
  cmd.amount = 1_000_000n;
  const startMs = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    // Sends what is due each turn (setImmediate), each command stamped with its scheduled time.
    const turn = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - startMs) / 1000) * rate));
      while (sent < due) {
        sent++;
        scheduledMs[sent] = startMs + (sent * 1000) / rate;
        if (sequencer.submit(cmd, null, 0n) !== sent) throw new Error("journal.path: the sequencer refused a command (overloaded)");
      }
      if (sent >= total) resolve();
      else setImmediate(turn);
    };
    turn();
  });
  await sequencer.drain();
  await journal.close();
  rmSync(dir, { recursive: true, force: true });
  const run = {
    p50Us: histogram.getValueAtPercentile(50),
    p99Us: histogram.getValueAtPercentile(99),
    p999Us: histogram.getValueAtPercentile(99.9),
    meanUs: histogram.mean,
    handed,
  };
  histogram.destroy();
  return run;
}

const results = new Map<string, Promise<Map<JournalKind, PathRun[]>>>();

/** The four journals at `rate`, alternating, ROUNDS each (the first id of a rate runs them; the others read them). */
function alternated(rate: number): Promise<Map<JournalKind, PathRun[]>> {
  const key = String(rate);
  let p = results.get(key);
  if (p === undefined) {
    p = (async () => {
      const out = new Map<JournalKind, PathRun[]>(KINDS.map((k) => [k, []]));
      for (let r = 0; r < ROUNDS; r++) {
        for (const kind of KINDS) out.get(kind)!.push(await runPath(kind, rate));
      }
      return out;
    })();
    results.set(key, p);
  }
  return p;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const DESCRIBED: Record<JournalKind, string> = {
  thread: "journal thread",
  pool: "JournalWriter (thread pool, one write at a time)",
  inline: "InlineJournal (the write on the sequencer's thread)",
  hybrid: "hybrid (the sequencer's thread a small group while the journal thread is idle; the server's default)",
};

function def(kind: JournalKind, rate: number): BenchDef {
  const name = `${rate / 1000}k`;
  const id = kind === "thread" ? `journal.path.${name}` : `journal.path.${kind}.${name}`;
  return {
    id,
    kind: "custom",
    run: async (): Promise<BenchResult> => {
      const runs = await alternated(rate);
      const mine = runs.get(kind)!;
      const others = KINDS.filter((k) => k !== kind);
      const p50 = median(mine.map((r) => r.p50Us));
      const p99 = median(mine.map((r) => r.p99Us));
      return {
        id,
        opsPerSec: rate,
        meanNs: median(mine.map((r) => r.meanUs)) * 1000,
        p50Ns: p50 * 1000,
        p99Ns: p99 * 1000,
        p999Ns: median(mine.map((r) => r.p999Us)) * 1000,
        notes:
          `${DESCRIBED[kind]}: scheduled submit → batch released (journaled), open loop ${rate}/s × ${PHASE_SECONDS} s, ` +
          `medians of ${ROUNDS} alternating rounds (p50 per round ${mine.map((r) => (r.p50Us / 1000).toFixed(2)).join("/")} ms` +
          others
            .map((k) => {
              const theirs = runs.get(k)!;
              return `; ${DESCRIBED[k]} ${theirs.map((r) => (r.p50Us / 1000).toFixed(2)).join("/")} ms, p50 ratio to it ${(p50 / median(theirs.map((r) => r.p50Us))).toFixed(2)}×`;
            })
            .join("") +
          ")",
      };
    },
  };
}

export const benchmarks: BenchDef[] = [10_000, 50_000].flatMap((rate) => KINDS.map((kind) => def(kind, rate)));
