// Journal segments (X7) and corruption (X5): the journal rolls into segments named by their first sequence number,
// reads across them (and from a snapshot's sequence number on), a pre-segment journal.bin still reads, and a damaged
// batch with valid ones after it is refused — never cut as a torn tail — unless truncateAtCorruption is asked for.
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BatchEncoder,
  emptySummary,
  JournalCorruptError,
  JournalWriter,
  listSegments,
  migrateLegacyJournal,
  segmentBatches,
  segmentFileName,
  SyncJournalAppender,
  JOURNAL_SEGMENT_DIR,
  type JournalReadOptions,
} from "../engine/journal/index.ts";
import { fileHeader } from "../engine/journal/journal.ts";
import type { CommandRecord } from "../engine/model/index.ts";
import { deposit } from "./helpers/commands.ts";

const DIGEST = "ab".repeat(32);
const BATCH_BYTES = 32 + 2 * 128; // every test batch holds two commands

/** Writes `batches` batches of two deposits each (seq 1.., batch 1..) into a segmented journal under `dataDir`. */
async function writeSegmented(dataDir: string, batches: number, segmentBytes: number): Promise<void> {
  const w = await JournalWriter.openSegments(join(dataDir, JOURNAL_SEGMENT_DIR), DIGEST, segmentBytes, 1);
  const enc = new BatchEncoder();
  for (let b = 1; b <= batches; b++) {
    enc.begin(b);
    enc.add(deposit(16 + b, 0, BigInt(b * 10), 2 * b - 1));
    enc.add(deposit(16 + b, 0, BigInt(b * 10 + 1), 2 * b));
    await w.append(enc.finish());
  }
  await w.close();
}

function readSeqs(dataDir: string, opts: Partial<JournalReadOptions> = {}, archiveDir: string | null = null): { seqs: number[]; amounts: bigint[]; summary: ReturnType<typeof emptySummary> } {
  const summary = emptySummary();
  const seqs: number[] = [];
  const amounts: bigint[] = [];
  for (const b of segmentBatches(listSegments(dataDir, archiveDir), { configDigestHex: DIGEST, ...opts }, summary)) {
    for (let i = 0; i < b.count; i++) {
      const c: CommandRecord = b.commands[i]!;
      seqs.push(c.seq);
      amounts.push(c.amount);
    }
  }
  return { seqs, amounts, summary };
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

function tempData(): string {
  return mkdtempSync(join(tmpdir(), "crossbook-segments-"));
}

describe("journal segments (X7)", () => {
  it("X7: the writer starts a new segment once one holds segmentBytes, named by its first sequence number; reading crosses them in order", async () => {
    const data = tempData();
    // 64-byte header + 3 batches of 288 bytes = 928 ≥ 900: the 4th batch opens the next segment.
    await writeSegmented(data, 10, 900);
    const names = readdirSync(join(data, JOURNAL_SEGMENT_DIR)).sort();
    expect(names).toEqual([segmentFileName(1), segmentFileName(7), segmentFileName(13), segmentFileName(19)]);
    expect(names[0]).toBe("journal-0000000000000001.bin");
    expect(statSync(join(data, JOURNAL_SEGMENT_DIR, names[0]!)).size).toBe(64 + 3 * BATCH_BYTES);
    const { seqs, amounts, summary } = readSeqs(data);
    expect(seqs).toEqual(range(1, 20));
    expect(amounts[19]).toBe(101n);
    expect(summary).toMatchObject({ segments: 4, batches: 10, commands: 20, lastSeq: 20, lastBatch: 10, truncatedBytes: 0, corruption: null });
  });

  it("X4: journal files are created owner-only (0600)", async () => {
    const data = tempData();
    await writeSegmented(data, 4, 900);
    for (const name of readdirSync(join(data, JOURNAL_SEGMENT_DIR))) {
      expect(statSync(join(data, JOURNAL_SEGMENT_DIR, name)).mode & 0o777).toBe(0o600);
    }
  });

  it("X7: reading from a snapshot's sequence number skips the covered segments unopened and checks the first batch follows", async () => {
    const data = tempData();
    await writeSegmented(data, 10, 900);
    // Damage the first segment entirely: it is covered, so it must not even be read.
    writeFileSync(join(data, JOURNAL_SEGMENT_DIR, segmentFileName(1)), "garbage");
    const { seqs, summary } = readSeqs(data, { fromSeq: 9, afterBatch: 4 });
    expect(seqs).toEqual(range(9, 20));
    expect(summary).toMatchObject({ segments: 3, batches: 6, commands: 12, skippedCommands: 2, lastSeq: 20, lastBatch: 10 });
    expect(() => readSeqs(data, { fromSeq: 10 })).toThrow(/does not follow the snapshot/);
    expect(() => readSeqs(data, { fromSeq: 9, afterBatch: 5 })).toThrow(/does not follow the snapshot/);
  });

  it("X7: a journal that archived its first segments needs them for a replay from genesis", async () => {
    const data = tempData();
    await writeSegmented(data, 10, 900);
    const archive = join(data, "archive");
    const { mkdirSync, renameSync } = await import("node:fs");
    mkdirSync(archive);
    renameSync(join(data, JOURNAL_SEGMENT_DIR, segmentFileName(1)), join(archive, segmentFileName(1)));
    expect(() => readSeqs(data)).toThrow(/starts at sequence 7: earlier segments were archived/);
    expect(readSeqs(data, {}, archive).seqs).toEqual(range(1, 20));
    expect(readSeqs(data, { fromSeq: 13, afterBatch: 6 }).seqs).toEqual(range(13, 20));
  });

  it("X4: a journal.bin from before segments reads as the segment starting at sequence 1, and migrates by one rename", async () => {
    const data = tempData();
    const w = await JournalWriter.open(join(data, "journal.bin"), DIGEST);
    const enc = new BatchEncoder();
    enc.begin(1);
    enc.add(deposit(17, 0, 5n, 1));
    await w.append(enc.finish());
    await w.close();
    expect(readSeqs(data).seqs).toEqual([1]);
    expect(migrateLegacyJournal(data)).toBe(true);
    expect(existsSync(join(data, "journal.bin"))).toBe(false);
    expect(readdirSync(join(data, JOURNAL_SEGMENT_DIR))).toEqual([segmentFileName(1)]);
    expect(readSeqs(data).seqs).toEqual([1]);
    expect(migrateLegacyJournal(data)).toBe(false);
  });
});

describe("journal corruption (X5)", () => {
  /** Flips one payload byte of batch `batch` (1-based) of a single-segment journal. */
  function flipPayloadByte(data: string, batch: number): number {
    const path = join(data, JOURNAL_SEGMENT_DIR, segmentFileName(1));
    const bytes = readFileSync(path);
    const offset = 64 + (batch - 1) * BATCH_BYTES;
    bytes[offset + 32 + 100] ^= 0x01;
    writeFileSync(path, bytes);
    return offset;
  }

  it("X5: a mid-journal bit flip stops the read with the offset and the number of records after it; nothing is cut", async () => {
    const data = tempData();
    await writeSegmented(data, 10, 1 << 20);
    const offset = flipPayloadByte(data, 4);
    const path = join(data, JOURNAL_SEGMENT_DIR, segmentFileName(1));
    const size = statSync(path).size;
    let error: unknown = null;
    try {
      readSeqs(data, { repair: true });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(JournalCorruptError);
    const c = error as JournalCorruptError;
    expect([c.file, c.offset, c.reason, c.recordsAfter, c.batchesAfter]).toEqual([path, offset, "checksum mismatch", 12, 6]);
    expect(c.message).toContain(`at byte ${offset} (checksum mismatch), followed by 12 valid records in 6 batches`);
    expect(statSync(path).size).toBe(size);
  });

  it("X5: a damaged batch header (its size field) in the middle is found by scanning for the batches after it", async () => {
    const data = tempData();
    await writeSegmented(data, 5, 1 << 20);
    const path = join(data, JOURNAL_SEGMENT_DIR, segmentFileName(1));
    const bytes = readFileSync(path);
    bytes[64 + BATCH_BYTES + 6] = 0x7f; // batch 2's count becomes huge: looks like "incomplete batch" at the end
    writeFileSync(path, bytes);
    const summary = readSeqs(data, { reportCorruption: true }).summary;
    expect(summary.corruption).toMatchObject({ offset: 64 + BATCH_BYTES, reason: "bad batch size 8323074", recordsAfter: 6, batchesAfter: 3 });
  });

  it("X5: a corruption in an earlier segment counts the records of the later segments", async () => {
    const data = tempData();
    await writeSegmented(data, 10, 900);
    const offset = flipPayloadByte(data, 2);
    const summary = readSeqs(data, { reportCorruption: true }).summary;
    expect(summary.corruption).toMatchObject({ offset, recordsAfter: 2 + 14, batchesAfter: 1 + 7 });
    expect(summary.commands).toBe(2);
  });

  it("X5: truncateAtCorruption keeps exactly the records before the corruption and moves the rest to quarantine; the writer appends after them", async () => {
    const data = tempData();
    await writeSegmented(data, 10, 900);
    // Batch 5 (seq 9, 10) lives in the second segment (batches 4..6) at its second slot.
    const second = join(data, JOURNAL_SEGMENT_DIR, segmentFileName(7));
    const bytes = readFileSync(second);
    bytes[64 + BATCH_BYTES + 32 + 5] ^= 0x80;
    writeFileSync(second, bytes);
    const quarantine = join(data, "quarantine");
    const read = readSeqs(data, { repair: true, quarantineDir: quarantine });
    expect(read.seqs).toEqual(range(1, 8));
    expect(read.summary.corruption).toMatchObject({ file: second, offset: 64 + BATCH_BYTES, recordsAfter: 2 + 8, quarantinedTo: quarantine });
    expect(readdirSync(join(data, JOURNAL_SEGMENT_DIR)).sort()).toEqual([segmentFileName(1), segmentFileName(7)]);
    expect(statSync(second).size).toBe(64 + BATCH_BYTES);
    expect(readdirSync(quarantine).sort()).toEqual([`${segmentFileName(7)}.from-${64 + BATCH_BYTES}`, segmentFileName(13), segmentFileName(19)]);
    expect(statSync(join(quarantine, `${segmentFileName(7)}.from-${64 + BATCH_BYTES}`)).size).toBe(2 * BATCH_BYTES);
    // A clean read now ends at seq 8, and the journal continues from there.
    expect(readSeqs(data).seqs).toEqual(range(1, 8));
    const w = await JournalWriter.openSegments(join(data, JOURNAL_SEGMENT_DIR), DIGEST, 900, 9);
    const enc = new BatchEncoder();
    enc.begin(5);
    enc.add(deposit(40, 0, 1n, 9));
    await w.append(enc.finish());
    await w.close();
    expect(readSeqs(data).seqs).toEqual(range(1, 9));
  });

  it("X4: an incomplete last batch is still a torn tail: cut on repair, the segments before it untouched", async () => {
    const data = tempData();
    await writeSegmented(data, 10, 900);
    const last = join(data, JOURNAL_SEGMENT_DIR, segmentFileName(19));
    const { truncateSync } = await import("node:fs");
    truncateSync(last, 64 + 100); // batch 10, the last segment's only one, loses its end
    const read = readSeqs(data, { repair: true });
    expect(read.seqs).toEqual(range(1, 20 - 2));
    expect(read.summary.truncatedBytes).toBe(100);
    expect(read.summary.corruption).toBeNull();
    expect(statSync(last).size).toBe(64);
  });

  /** A fresh data dir whose journal holds batch 1: a deposit of 100 (seq 1), written by the appender the server uses. */
  function withFirstDeposit(): { data: string; dir: string; enc: BatchEncoder } {
    const data = tempData();
    const dir = join(data, JOURNAL_SEGMENT_DIR);
    const enc = new BatchEncoder();
    const first = SyncJournalAppender.openSegments(dir, DIGEST, 1 << 20, 1, 0);
    enc.begin(1);
    enc.add(deposit(16, 0, 100n, 1));
    first.appendGroups([enc.finish()]);
    first.close();
    return { data, dir, enc };
  }

  // A crash between a roll (the new segment created, named after the group's first sequence number) and the group's
  // write left a segment holding no batch; when that group began with read-only queries (sequenced, never journaled),
  // the restart numbers from below its name. The writer used to append the next acknowledged batch into it as it was
  // named: the reader took that batch, whose numbers disagree with the name, for a torn tail and cut it at the next
  // restart — acknowledged commands lost without a word.
  for (const [what, left] of [
    ["a header", (h: Uint8Array): Uint8Array => h],
    ["a torn header", (h: Uint8Array): Uint8Array => h.subarray(0, 20)],
  ] as const) {
    it(`X4: an empty last segment (${what}) named after a later sequence number than the restart's next batch: the batch appended to it reads back, nothing is cut`, () => {
      const { data, dir, enc } = withFirstDeposit();
      writeFileSync(join(dir, segmentFileName(3)), left(fileHeader(DIGEST)), { mode: 0o600 });
      // The recovery's repair (a torn header is cut to nothing), then the restart numbers from 2.
      expect(readSeqs(data, { repair: true }).seqs).toEqual([1]);
      const second = SyncJournalAppender.openSegments(dir, DIGEST, 1 << 20, 2, 0);
      enc.begin(2);
      enc.add(deposit(32, 0, 7n, 2));
      second.appendGroups([enc.finish()]);
      second.close();
      expect(readdirSync(dir).sort()).toEqual([segmentFileName(1), segmentFileName(3)]);
      const read = readSeqs(data, { repair: true });
      expect(read.seqs).toEqual([1, 2]);
      expect(read.amounts).toEqual([100n, 7n]);
      expect(read.summary.truncatedBytes).toBe(0);
    });
  }

  it("X4: the journal's first segment keeps its name 1 when the first commands were read-only queries (the first batch starts later), and reads", async () => {
    const data = tempData();
    const dir = join(data, JOURNAL_SEGMENT_DIR);
    const w = await JournalWriter.openSegments(dir, DIGEST, 1 << 20, 1);
    const enc = new BatchEncoder();
    enc.begin(2);
    enc.add(deposit(16, 0, 5n, 4));
    await w.append(enc.finish());
    await w.close();
    expect(readdirSync(dir)).toEqual([segmentFileName(1)]);
    expect(readSeqs(data, { repair: true }).seqs).toEqual([4]);
  });

  it("X4: a segment whose first batch is below its name (written so by a writer) reads in full", () => {
    const { data, dir, enc } = withFirstDeposit();
    // Batch 2 (seq 2) in a segment named 3.
    enc.begin(2);
    enc.add(deposit(32, 0, 7n, 2));
    writeFileSync(join(dir, segmentFileName(3)), Buffer.concat([fileHeader(DIGEST), enc.finish()]), { mode: 0o600 });
    const read = readSeqs(data, { repair: true });
    expect(read.seqs).toEqual([1, 2]);
    expect(read.amounts).toEqual([100n, 7n]);
    expect(read.summary.truncatedBytes).toBe(0);
  });

  it("X4/X5: a whole batch (its checksum holds) whose numbers do not follow is a corruption, never a torn tail to cut", () => {
    const data = tempData();
    const dir = join(data, JOURNAL_SEGMENT_DIR);
    const enc = new BatchEncoder();
    const w = SyncJournalAppender.openSegments(dir, DIGEST, 1 << 20, 1, 0);
    const frames: Uint8Array[] = [];
    for (const [batch, seq] of [[1, 1], [2, 3], [3, 2]] as const) {
      enc.begin(batch);
      enc.add(deposit(16, 0, 100n, seq));
      frames.push(enc.finish().slice());
    }
    w.appendGroups(frames);
    w.close();
    const path = join(dir, segmentFileName(1));
    const size = statSync(path).size;
    expect(() => readSeqs(data, { repair: true })).toThrow(JournalCorruptError);
    expect(statSync(path).size).toBe(size);
  });
});
