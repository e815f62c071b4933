// The journal thread (gateway/journal-thread.ts, issue 15): the server's durable writes run on a worker thread
// with blocking O_DSYNC writes instead of libuv's thread pool. X4 holds as with JournalWriter: the files are the same
// bytes, groups reach the disk in the order they were appended, an append resolves only once its group and every
// earlier one are on disk, and a failed write refuses that group and every later one. The sequencer pipelines groups
// to such a journal (later turns queued while a write runs) and hands each to the engine as its write begins, but
// releases a group's outputs only after its write (engine.ts X4P).
import { closeSync, mkdtempSync, openSync, readdirSync, statSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { JournalThread } from "../gateway/journal-thread.ts";
import { tailCutMessage } from "../gateway/server.ts";
import { emptySummary, JournalError, JournalWriter, listSegments, segmentBatches, segmentFileName, JOURNAL_SEGMENT_DIR } from "../engine/journal/index.ts";
import { JOURNAL_PREALLOCATE_BYTES, JOURNAL_PREALLOCATE_SLICE_BYTES, SyncJournalAppender } from "../engine/journal/index.ts";
import { InlineJournal } from "../gateway/journal-inline.ts";
import { commandSeqAt, COMMAND_RECORD_BYTES, type RecordViews, type ThreadedPipeline } from "../engine/pipeline/index.ts";
import { Sequencer, type GroupJournal } from "../gateway/sequencer.ts";
import { deposit } from "./helpers/commands.ts";
import { batchNumbers, GROUPS, groupFrames, JOURNAL_TEST_DIGEST, segmentFiles } from "./helpers/journal-groups.ts";

const DIGEST = JOURNAL_TEST_DIGEST;

describe("journal thread", () => {
  it("X4P: the thread stamps each group's writev in the gateway's clock, between its append and its resolve (--trace-hops)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-jt-"));
    const thread = await JournalThread.openSegments(join(dir, JOURNAL_SEGMENT_DIR), DIGEST, 1 << 30, 1);
    const stamps: number[][] = [];
    for (let g = 0; g < 3; g++) {
      const askedMs = performance.now();
      await thread.append(GROUPS[g]!);
      stamps.push([askedMs, thread.lastWriteStartMs, thread.lastWriteEndMs, performance.now()]);
    }
    await thread.close();
    // The two threads' clocks meet through their time origins, each read once at the thread's start: allow 0.05 ms.
    const SLACK_MS = 0.05;
    for (const [askedMs, startMs, endMs, resolvedMs] of stamps) {
      expect(askedMs! <= startMs! + SLACK_MS && startMs! <= endMs! && endMs! <= resolvedMs! + SLACK_MS).toBe(true);
    }
  });

  it("X4: groups appended without waiting reach the disk in order, each append resolving after every earlier one; the segment files are JournalWriter's, byte for byte (rolling included)", async () => {
    const a = mkdtempSync(join(tmpdir(), "crossbook-jt-"));
    const b = mkdtempSync(join(tmpdir(), "crossbook-jt-"));
    const writer = await JournalWriter.openSegments(join(a, JOURNAL_SEGMENT_DIR), DIGEST, 1500, 1);
    for (const g of GROUPS) await writer.append(g);
    await writer.close();
    const thread = await JournalThread.openSegments(join(b, JOURNAL_SEGMENT_DIR), DIGEST, 1500, 1);
    const resolved: number[] = [];
    await Promise.all(GROUPS.map((g, i) => thread.append(g).then(() => resolved.push(i))));
    await thread.close();
    expect(resolved).toEqual(GROUPS.map((_, i) => i));
    const expected = segmentFiles(join(a, JOURNAL_SEGMENT_DIR));
    expect(expected.size).toBeGreaterThan(3);
    expect(segmentFiles(join(b, JOURNAL_SEGMENT_DIR))).toEqual(expected);
    expect(batchNumbers(b)).toEqual(Array.from({ length: 79 }, (_, i) => i + 1));
  });

  it("X4: a ring smaller than what is queued: appends wait for room, in call order, and the journal holds every group in order; a reopened thread appends after them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-jt-"));
    const segments = join(dir, JOURNAL_SEGMENT_DIR);
    // The largest group is 3 × (32 + 128) = 480 bytes: a 1,000-byte ring holds two at most, and wraps often.
    const thread = await JournalThread.openSegments(segments, DIGEST, 1 << 30, 1, 1000);
    const resolved: number[] = [];
    await Promise.all(GROUPS.map((g, i) => thread.append(g).then(() => resolved.push(i))));
    await thread.close();
    expect(resolved).toEqual(GROUPS.map((_, i) => i));
    const again = await JournalThread.openSegments(segments, DIGEST, 1 << 30, 80);
    await again.append(groupFrames(80, 2));
    await again.close();
    expect(batchNumbers(dir)).toEqual(Array.from({ length: 81 }, (_, i) => i + 1));
    expect(readdirSync(segments)).toEqual([segmentFileName(1)]);
  });

  it("X4: a write that fails (the next segment cannot be created) refuses its group and every later one; the groups before it are on disk", async () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-jt-"));
    const segments = join(dir, JOURNAL_SEGMENT_DIR);
    const thread = await JournalThread.openSegments(segments, DIGEST, 600, 1);
    // Groups 1–3 (batches 1–6) fill the first segment past 600 bytes; group 4 opens the segment of seq 7, which exists.
    for (const g of GROUPS.slice(0, 3)) await thread.append(g);
    writeFileSync(join(segments, segmentFileName(7)), "in the way");
    const outcomes = await Promise.allSettled(GROUPS.slice(3, 6).map((g) => thread.append(g)));
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect((outcomes[0] as PromiseRejectedResult).reason).toBeInstanceOf(JournalError);
    await expect(thread.append(GROUPS[6]!)).rejects.toBeInstanceOf(JournalError);
    await thread.close();
    const read: number[] = [];
    for (const b of segmentBatches([{ path: join(segments, segmentFileName(1)), firstSeq: 1, archived: false }], { configDigestHex: DIGEST }, emptySummary())) read.push(b.batchNumber);
    expect(read).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe("journal thread: zeros written ahead", () => {
  it("X4: a crash leaves zeros past the last batch — recovery keeps every batch written and cuts them as a torn tail; appending then resumes after the last batch, and a clean close ends the segment there", async () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-jt-"));
    const segments = join(dir, JOURNAL_SEGMENT_DIR);
    const path = join(segments, segmentFileName(1));
    const appender = SyncJournalAppender.openSegments(segments, DIGEST, 1 << 30, 1);
    appender.appendGroups(GROUPS.slice(0, 20));
    appender.appendGroups(GROUPS.slice(20));
    const written = 64 + GROUPS.reduce((n, g) => n + g.length, 0);
    // Not closed: the process died here. The file is zero-filled to the next whole slice past the batches.
    expect(statSync(path).size).toBe(JOURNAL_PREALLOCATE_SLICE_BYTES);
    const summary = emptySummary();
    const read: number[] = [];
    for (const b of segmentBatches(listSegments(dir), { configDigestHex: DIGEST, repair: true }, summary)) read.push(b.batchNumber);
    expect(read).toEqual(Array.from({ length: 79 }, (_, i) => i + 1));
    expect(summary.truncatedBytes).toBe(JOURNAL_PREALLOCATE_SLICE_BYTES - written);
    expect(summary.preallocatedBytes).toBe(JOURNAL_PREALLOCATE_SLICE_BYTES - written);
    expect(tailCutMessage(summary.truncatedBytes, summary.preallocatedBytes)).toBe(` (cut ${JOURNAL_PREALLOCATE_SLICE_BYTES - written} bytes of zero-filled space written ahead)`);
    expect(statSync(path).size).toBe(written);
    const again = await JournalThread.openSegments(segments, DIGEST, 1 << 30, 80);
    await again.append(groupFrames(80, 2));
    await again.close();
    expect(statSync(path).size).toBe(written + groupFrames(80, 2).length);
    expect(batchNumbers(dir)).toEqual(Array.from({ length: 81 }, (_, i) => i + 1));
  });
});

describe("journal thread, hybrid: the gateway writes small groups itself while the thread is idle", () => {
  it("X4: groups appended one at a time (as the sequencer does), the small ones written by the gateway and the large ones by the thread, make JournalWriter's segment files byte for byte (rolling included, each roll the thread's)", async () => {
    const a = mkdtempSync(join(tmpdir(), "crossbook-jt-"));
    const b = mkdtempSync(join(tmpdir(), "crossbook-jt-"));
    const writer = await JournalWriter.openSegments(join(a, JOURNAL_SEGMENT_DIR), DIGEST, 1500, 1);
    for (const g of GROUPS) await writer.append(g);
    await writer.close();
    // Groups of one or two batches go inline when they fit the segment's zeros; three-batch groups, never.
    const inlineMax = GROUPS[1]!.length;
    expect(GROUPS[2]!.length).toBeGreaterThan(inlineMax);
    const thread = await JournalThread.openSegments(join(b, JOURNAL_SEGMENT_DIR), DIGEST, 1500, 1, 1 << 20, inlineMax);
    for (const g of GROUPS) await thread.append(g);
    // Not closed yet: every batch is on disk (a crash here loses none), the zeros past them cut by a recovery.
    expect(batchNumbers(b)).toEqual(Array.from({ length: 79 }, (_, i) => i + 1));
    await thread.close();
    expect(thread.inlineGroups).toBeGreaterThan(5);
    expect(thread.inlineGroups).toBeLessThan(27); // at most the 27 groups of one or two batches
    const expected = segmentFiles(join(a, JOURNAL_SEGMENT_DIR));
    expect(expected.size).toBeGreaterThan(3);
    expect(segmentFiles(join(b, JOURNAL_SEGMENT_DIR))).toEqual(expected);
  });

  it("X4: appended without waiting, a group that finds the thread holding earlier ones (or the lock) is queued behind them: the groups reach the disk in order, each append resolving after every earlier one", async () => {
    const a = mkdtempSync(join(tmpdir(), "crossbook-jt-"));
    const b = mkdtempSync(join(tmpdir(), "crossbook-jt-"));
    const writer = await JournalWriter.openSegments(join(a, JOURNAL_SEGMENT_DIR), DIGEST, 1 << 30, 1);
    for (const g of GROUPS) await writer.append(g);
    await writer.close();
    const thread = await JournalThread.openSegments(join(b, JOURNAL_SEGMENT_DIR), DIGEST, 1 << 30, 1, 1 << 20, 1 << 16);
    const path = join(b, JOURNAL_SEGMENT_DIR, segmentFileName(1));
    const resolved: number[] = [];
    await thread.append(GROUPS[0]!); // the first write fills the segment's first zeros: the thread's
    expect(thread.inlineGroups).toBe(0);
    // The thread then adds a slice (idle); once it has, it waits and the lock is free.
    for (let i = 0; i < 200 && statSync(path).size < 2 * JOURNAL_PREALLOCATE_SLICE_BYTES; i++) await new Promise((r) => setTimeout(r, 10));
    await thread.segmentFreeForTest();
    // All at once: the first goes inline; each later one goes inline too unless the thread holds the lock (the slice
    // the inline writes ask of it) — then it is queued, and so is every one after it until those are on disk.
    await Promise.all(GROUPS.slice(1).map((g, i) => thread.append(g).then(() => resolved.push(i + 1))));
    await thread.close();
    expect(resolved).toEqual(GROUPS.slice(1).map((_, i) => i + 1));
    expect(thread.inlineGroups).toBeGreaterThanOrEqual(1);
    expect(segmentFiles(join(b, JOURNAL_SEGMENT_DIR))).toEqual(segmentFiles(join(a, JOURNAL_SEGMENT_DIR)));
  });

  it("X4: after the gateway's own writes the thread fills the zeros ahead (asked, not by its own write); a clean close trims where the gateway's last write ended", async () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-jt-"));
    const segments = join(dir, JOURNAL_SEGMENT_DIR);
    const path = join(segments, segmentFileName(1));
    const thread = await JournalThread.openSegments(segments, DIGEST, 1 << 30, 1, 1 << 20, 1 << 16);
    await thread.append(GROUPS[0]!); // the thread: fills one slice for it, then one more (idle)
    for (let i = 0; i < 200 && statSync(path).size < 2 * JOURNAL_PREALLOCATE_SLICE_BYTES; i++) await new Promise((r) => setTimeout(r, 10));
    expect(statSync(path).size).toBe(2 * JOURNAL_PREALLOCATE_SLICE_BYTES);
    await thread.segmentFreeForTest();
    await thread.append(GROUPS[1]!); // the gateway: written inline, then the thread is asked for a slice
    expect(thread.inlineGroups).toBe(1);
    for (let i = 0; i < 200 && statSync(path).size < 3 * JOURNAL_PREALLOCATE_SLICE_BYTES; i++) await new Promise((r) => setTimeout(r, 10));
    expect(statSync(path).size).toBe(3 * JOURNAL_PREALLOCATE_SLICE_BYTES);
    await thread.close();
    expect(statSync(path).size).toBe(64 + GROUPS[0]!.length + GROUPS[1]!.length);
    expect(batchNumbers(dir)).toEqual([1, 2, 3]);
  });
});

describe("journal: zeros written ahead a slice at a time", () => {
  const SLICE = JOURNAL_PREALLOCATE_SLICE_BYTES;

  it("X4: topUp adds one synced slice of zeros per call while fewer than JOURNAL_PREALLOCATE_BYTES lie ahead (busy: only below a quarter of them), never past the segment's size; a crash then loses no batch and recovery cuts exactly the zeros", () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-jt-"));
    const segments = join(dir, JOURNAL_SEGMENT_DIR);
    const path = join(segments, segmentFileName(1));
    const appender = SyncJournalAppender.openSegments(segments, DIGEST, 1 << 30, 1);
    appender.appendGroups(GROUPS.slice(0, 40));
    expect(statSync(path).size).toBe(SLICE);
    // Busy (a group waits): a quarter of the 4 MiB is 1 MiB; below it, one slice a call.
    const slicesToQuarter = JOURNAL_PREALLOCATE_BYTES / 4 / SLICE;
    for (let i = 1; i <= slicesToQuarter; i++) {
      expect(appender.topUp(false)).toBe(true);
      expect(statSync(path).size).toBe((i + 1) * SLICE);
    }
    expect(appender.topUp(false)).toBe(false);
    expect(statSync(path).size).toBe((slicesToQuarter + 1) * SLICE);
    // Idle: on to 4 MiB ahead of the batches, then no more.
    let calls = 0;
    while (appender.wantsTopUp()) {
      expect(appender.topUp(true)).toBe(true);
      calls++;
    }
    const written = 64 + GROUPS.slice(0, 40).reduce((n, g) => n + g.length, 0);
    expect(statSync(path).size).toBe(JOURNAL_PREALLOCATE_BYTES + SLICE);
    expect(statSync(path).size - written).toBeGreaterThanOrEqual(JOURNAL_PREALLOCATE_BYTES);
    expect(statSync(path).size - written - SLICE).toBeLessThan(JOURNAL_PREALLOCATE_BYTES);
    expect(calls).toBe(JOURNAL_PREALLOCATE_BYTES / SLICE - slicesToQuarter);
    expect(appender.topUp(true)).toBe(false);
    // The next groups land inside the zeros: the file does not grow.
    appender.appendGroups(GROUPS.slice(40));
    expect(statSync(path).size).toBe(JOURNAL_PREALLOCATE_BYTES + SLICE);
    const summary = emptySummary();
    const read: number[] = [];
    for (const b of segmentBatches(listSegments(dir), { configDigestHex: DIGEST, repair: true }, summary)) read.push(b.batchNumber);
    expect(read).toEqual(Array.from({ length: 79 }, (_, i) => i + 1));
    const all = 64 + GROUPS.reduce((n, g) => n + g.length, 0);
    expect(summary.preallocatedBytes).toBe(JOURNAL_PREALLOCATE_BYTES + SLICE - all);
    expect(statSync(path).size).toBe(all);
  });

  it("X4: a segment is never zero-filled past its size: the slice that would cross it stops there, and topUp then writes nothing", () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-jt-"));
    const segments = join(dir, JOURNAL_SEGMENT_DIR);
    const path = join(segments, segmentFileName(1));
    const segmentBytes = SLICE + 1000;
    const appender = SyncJournalAppender.openSegments(segments, DIGEST, segmentBytes, 1);
    appender.appendGroups(GROUPS.slice(0, 2));
    expect(statSync(path).size).toBe(SLICE);
    expect(appender.topUp(true)).toBe(true);
    expect(statSync(path).size).toBe(segmentBytes);
    expect(appender.wantsTopUp()).toBe(false);
    expect(appender.topUp(true)).toBe(false);
    appender.close();
    expect(statSync(path).size).toBe(64 + GROUPS[0]!.length + GROUPS[1]!.length);
  });

  it("X4: the journal thread tops up after a write, once the gateway has the group's count; a clean close cuts the zeros", async () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-jt-"));
    const segments = join(dir, JOURNAL_SEGMENT_DIR);
    const path = join(segments, segmentFileName(1));
    const thread = await JournalThread.openSegments(segments, DIGEST, 1 << 30, 1);
    await thread.append(GROUPS[0]!);
    // The write filled one slice to fit the group; the idle thread then adds one more.
    for (let i = 0; i < 200 && statSync(path).size < 2 * SLICE; i++) await new Promise((r) => setTimeout(r, 10));
    expect(statSync(path).size).toBe(2 * SLICE);
    await thread.append(GROUPS[1]!);
    for (let i = 0; i < 200 && statSync(path).size < 3 * SLICE; i++) await new Promise((r) => setTimeout(r, 10));
    expect(statSync(path).size).toBe(3 * SLICE);
    await thread.close();
    expect(statSync(path).size).toBe(64 + GROUPS[0]!.length + GROUPS[1]!.length);
    expect(batchNumbers(dir)).toEqual([1, 2, 3]); // GROUPS[1] holds two batches
  });

  it("X4: the inline journal tops up after the turn that wrote (the group is on disk when append returns, the slice comes later); a clean close cuts the zeros", async () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-jt-"));
    const segments = join(dir, JOURNAL_SEGMENT_DIR);
    const path = join(segments, segmentFileName(1));
    const inline = InlineJournal.openSegments(segments, DIGEST, 1 << 30, 1);
    await inline.append(GROUPS[0]!);
    expect(statSync(path).size).toBe(SLICE);
    await new Promise((r) => setImmediate(r));
    expect(statSync(path).size).toBe(2 * SLICE);
    await inline.append(GROUPS[1]!);
    await new Promise((r) => setImmediate(r));
    expect(statSync(path).size).toBe(3 * SLICE);
    await inline.close();
    expect(statSync(path).size).toBe(64 + GROUPS[0]!.length + GROUPS[1]!.length);
    expect(batchNumbers(dir)).toEqual([1, 2, 3]); // GROUPS[1] holds two batches
  });
});

describe("journal thread: a torn write inside the zeros", () => {
  it("X4: a group write the crash interrupted, inside the zero-filled space: recovery cuts both, and tells the torn bytes (never acknowledged) from the zeros written ahead", () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-jt-"));
    const segments = join(dir, JOURNAL_SEGMENT_DIR);
    const path = join(segments, segmentFileName(1));
    const appender = SyncJournalAppender.openSegments(segments, DIGEST, 1 << 30, 1);
    appender.appendGroups(GROUPS);
    const written = 64 + GROUPS.reduce((n, g) => n + g.length, 0);
    // The next group's first `torn` bytes reached the disk, the rest did not: the process died mid-write. (A torn
    // write's own trailing zeros cannot be told from the zeros written ahead; the fragment ends on a non-zero byte.)
    const frame = groupFrames(80, 1);
    let torn = 50;
    while (frame[torn - 1] === 0) torn--;
    expect(torn).toBeGreaterThan(30);
    const fd = openSync(path, "r+");
    writeSync(fd, frame, 0, torn, written);
    closeSync(fd);
    const summary = emptySummary();
    const read: number[] = [];
    for (const b of segmentBatches(listSegments(dir), { configDigestHex: DIGEST, repair: true }, summary)) read.push(b.batchNumber);
    expect(read).toEqual(Array.from({ length: 79 }, (_, i) => i + 1));
    expect(summary.truncatedBytes).toBe(JOURNAL_PREALLOCATE_SLICE_BYTES - written);
    expect(summary.preallocatedBytes).toBe(JOURNAL_PREALLOCATE_SLICE_BYTES - written - torn);
    expect(tailCutMessage(summary.truncatedBytes, summary.preallocatedBytes)).toBe(
      ` (cut a torn tail of ${torn} bytes: a write the crash interrupted, never acknowledged) (cut ${JOURNAL_PREALLOCATE_SLICE_BYTES - written - torn} bytes of zero-filled space written ahead)`,
    );
    expect(statSync(path).size).toBe(written);
  });
});

describe("sequencer over a pipelined journal", () => {
  it("X4P: a later turn's group is queued while the write before it runs; each group is handed to the engine before its write begins and its outputs released only after its own write returned, in order", async () => {
    const order: string[] = [];
    const pending: (() => void)[] = [];
    let appended = 0;
    // A journal that takes many groups at once and finishes them in order, when the test says so.
    const journal: GroupJournal = {
      appendsInFlightMax: 16,
      append: () => {
        const g = ++appended;
        order.push(`write ${g}`);
        return new Promise<void>((resolve) => pending.push(() => {
          order.push(`written ${g}`);
          resolve();
        }));
      },
    };
    const pipeline = {
      submitEncoded: async (source: RecordViews, offset: number, count: number, batch: number) => {
        order.push(`hand ${batch}: ${commandSeqAt(source, offset)}–${commandSeqAt(source, offset + (count - 1) * COMMAND_RECORD_BYTES)}`);
      },
      waitForBatch: async () => {},
      gateOutputs: () => {},
      releaseThrough: (batch: number) => {
        order.push(`release ${batch}`);
      },
      trySubmitEncoded: () => false,
    } as unknown as ThreadedPipeline;
    const sequencer = new Sequencer(journal, pipeline, 0, 0, (e) => expect.unreachable(e.message));
    const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
    sequencer.submit(deposit(17, 0, 1n, 0), null, 0n);
    sequencer.submit(deposit(17, 0, 2n, 0), null, 0n);
    await turn();
    sequencer.submit(deposit(17, 0, 3n, 0), null, 0n);
    await turn();
    sequencer.submit(deposit(17, 0, 4n, 0), null, 0n);
    await turn();
    // X4P: three groups queued, none written: each is handed to the engine before its write begins (so a journal that
    // writes on the sequencer's own thread, InlineJournal, has the engine run the group during the write), none released.
    expect(order).toEqual(["hand 1: 1–2", "write 1", "hand 2: 3–3", "write 2", "hand 3: 4–4", "write 3"]);
    pending.shift()!();
    await turn();
    expect(order.slice(6)).toEqual(["written 1", "release 1"]);
    pending.shift()!();
    pending.shift()!();
    await sequencer.drain();
    expect(order.slice(8)).toEqual(["written 2", "written 3", "release 2", "release 3"]);
  });
});
