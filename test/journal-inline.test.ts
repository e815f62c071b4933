// The journal written on the gateway thread (gateway/journal-inline.ts, `crossbook start --journal-write inline`,
// issue 15): the same files as JournalWriter and the journal thread, byte for byte; each append is on disk when it
// returns; the sequencer hands a group to the engine before the write and releases its outputs only after it (X4P);
// a failed write refuses that group and every later one. The server-level gate tests run on both writers
// (test/durability-gate.test.ts).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { emptySummary, JournalError, JournalWriter, segmentBatches, segmentFileName, JOURNAL_SEGMENT_DIR } from "../engine/journal/index.ts";
import { InlineJournal } from "../gateway/journal-inline.ts";
import { Sequencer } from "../gateway/sequencer.ts";
import { deposit } from "./helpers/commands.ts";
import { batchNumbers, GROUPS, JOURNAL_TEST_DIGEST, recordingPipeline, segmentFiles } from "./helpers/journal-groups.ts";

const DIGEST = JOURNAL_TEST_DIGEST;

describe("inline journal", () => {
  it("X4: each group is on disk when its append returns (the promise is already settled); the segment files are JournalWriter's, byte for byte (rolling included)", async () => {
    const a = mkdtempSync(join(tmpdir(), "crossbook-ji-"));
    const b = mkdtempSync(join(tmpdir(), "crossbook-ji-"));
    const writer = await JournalWriter.openSegments(join(a, JOURNAL_SEGMENT_DIR), DIGEST, 1500, 1);
    for (const g of GROUPS) await writer.append(g);
    await writer.close();
    const inline = InlineJournal.openSegments(join(b, JOURNAL_SEGMENT_DIR), DIGEST, 1500, 1);
    let batches = 0;
    for (let i = 0; i < GROUPS.length; i++) {
      const settled = { done: false };
      void inline.append(GROUPS[i]!).then(() => (settled.done = true));
      batches += 1 + (i % 3);
      // Before any promise turn: the group's batches are already readable from the segment files.
      expect(batchNumbers(b).length).toBe(batches);
      await Promise.resolve();
      expect(settled.done).toBe(true);
      expect(inline.lastWriteStartMs > 0 && inline.lastWriteStartMs <= inline.lastWriteEndMs).toBe(true);
    }
    await inline.close();
    const expected = segmentFiles(join(a, JOURNAL_SEGMENT_DIR));
    expect(expected.size).toBeGreaterThan(3);
    expect(segmentFiles(join(b, JOURNAL_SEGMENT_DIR))).toEqual(expected);
    expect(batchNumbers(b)).toEqual(Array.from({ length: 79 }, (_, i) => i + 1));
  });

  it("X4: a write that fails (the next segment cannot be created) refuses its group and every later one; the groups before it are on disk", async () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-ji-"));
    const segments = join(dir, JOURNAL_SEGMENT_DIR);
    const inline = InlineJournal.openSegments(segments, DIGEST, 600, 1);
    // Groups 1–3 (batches 1–6) fill the first segment past 600 bytes; group 4 opens the segment of seq 7, which exists.
    for (const g of GROUPS.slice(0, 3)) await inline.append(g);
    writeFileSync(join(segments, segmentFileName(7)), "in the way");
    const outcomes = await Promise.allSettled(GROUPS.slice(3, 6).map((g) => inline.append(g)));
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected", "rejected"]);
    expect((outcomes[0] as PromiseRejectedResult).reason).toBeInstanceOf(JournalError);
    await expect(inline.append(GROUPS[6]!)).rejects.toBeInstanceOf(JournalError);
    await inline.close();
    const read: number[] = [];
    for (const b of segmentBatches([{ path: join(segments, segmentFileName(1)), firstSeq: 1, archived: false }], { configDigestHex: DIGEST }, emptySummary())) read.push(b.batchNumber);
    expect(read).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("X4P: over the inline journal the sequencer hands each group to the engine, then writes it, and releases its outputs only once the write returned, group after group", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-ji-"));
    const inline = InlineJournal.openSegments(join(dataDir, JOURNAL_SEGMENT_DIR), DIGEST, 1 << 30, 1);
    const order: string[] = [];
    const append = inline.append.bind(inline);
    inline.append = (frames: Uint8Array) => {
      order.push(`write (${batchNumbers(dataDir).length} batches on disk)`);
      const p = append(frames);
      order.push(`written (${batchNumbers(dataDir).length} batches on disk)`);
      return p;
    };
    const pipeline = recordingPipeline(order, dataDir);
    const sequencer = new Sequencer(inline, pipeline, 0, 0, (e) => expect.unreachable(e.message));
    const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
    sequencer.submit(deposit(17, 0, 1n, 0), null, 0n);
    sequencer.submit(deposit(17, 0, 2n, 0), null, 0n);
    await turn();
    sequencer.submit(deposit(17, 0, 3n, 0), null, 0n);
    await sequencer.drain();
    await inline.close();
    expect(order).toEqual([
      "hand 1: 1–2",
      "write (0 batches on disk)",
      "written (1 batches on disk)",
      "release 1 (1 batches on disk)",
      "hand 2: 3–3",
      "write (1 batches on disk)",
      "written (2 batches on disk)",
      "release 2 (2 batches on disk)",
    ]);
  });
});
