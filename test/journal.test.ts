// The journal: batches round-trip exactly, a torn or corrupt tail is cut at the last complete batch (X4).
import { appendFileSync, constants as fsConstants, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BatchEncoder, JournalCorruptError, JournalError, JournalWriter, readJournal } from "../engine/journal/index.ts";
import { CommandKind, CommandRecord } from "../engine/model/index.ts";
import { BATCH_COMMANDS_MAX, COMMAND_RECORD_BYTES, commandKindAt, commandSeqAt, type RecordViews, type ThreadedPipeline } from "../engine/pipeline/index.ts";
import { Sequencer } from "../gateway/sequencer.ts";
import { deposit, limit } from "./helpers/commands.ts";

function tempJournal(): string {
  return join(mkdtempSync(join(tmpdir(), "crossbook-journal-")), "journal.bin");
}

async function writeBatches(path: string, batches: CommandRecord[][], digest = "ab".repeat(32)): Promise<void> {
  const w = await JournalWriter.open(path, digest);
  const enc = new BatchEncoder();
  let n = 0;
  for (const b of batches) {
    enc.begin(++n);
    for (const c of b) enc.add(c);
    await w.append(enc.finish());
  }
  await w.close();
}

function readAll(path: string, repair = false, digest: string | null = "ab".repeat(32)): { batches: number[]; seqs: number[]; records: CommandRecord[]; summary: ReturnType<typeof readJournal> } {
  const batches: number[] = [];
  const seqs: number[] = [];
  const records: CommandRecord[] = [];
  const summary = readJournal(path, digest, (cmds, count, batch) => {
    batches.push(batch);
    for (let i = 0; i < count; i++) {
      const copy = new CommandRecord();
      copy.copyFrom(cmds[i]!);
      records.push(copy);
      seqs.push(copy.seq);
    }
  }, repair);
  return { batches, seqs, records, summary };
}

describe("journal", () => {
  it("X4: every field of every command survives a write and a read, in order and in its batch", async () => {
    const path = tempJournal();
    const a = deposit(17, 2, 123_456_789n, 1);
    const b = limit(17, 0, 1, 60_000_120_000_000n, 150_000n, { clientId: 0xffff_ffff_ffff_fff0n, flags: 5, tif: 1, stp: 2 }, 2);
    b.quoteQuantity = 99n;
    b.positionQuantity = -7n;
    b.timeMs = 1_767_225_600_000;
    b.account2 = 0xffff_fff0;
    const c = deposit(33, 0, 1n, 3);
    await writeBatches(path, [[a, b], [c]]);
    const { batches, seqs, records, summary } = readAll(path);
    expect(batches).toEqual([1, 2]);
    expect(seqs).toEqual([1, 2, 3]);
    expect(summary).toEqual({ segments: 1, batches: 2, commands: 3, skippedCommands: 0, lastSeq: 3, lastBatch: 2, truncatedBytes: 0, preallocatedBytes: 0, corruption: null });
    expect(records[1]).toEqual(b);
    expect(records[0]).toEqual(a);
    expect(records[2]).toEqual(c);
  });

  it("X4: a torn last batch is cut off on repair; the complete batches before it stay", async () => {
    const path = tempJournal();
    await writeBatches(path, [[deposit(17, 0, 5n, 1)], [deposit(17, 0, 6n, 2), deposit(17, 0, 7n, 3)]]);
    const full = statSync(path).size;
    truncateSync(path, full - 50);
    const read = readAll(path, true);
    expect(read.seqs).toEqual([1]);
    expect(read.summary.truncatedBytes).toBe(32 + 2 * 128 - 50);
    expect(statSync(path).size).toBe(64 + 32 + 128);
    // After the repair a writer appends after the last good batch.
    const w = await JournalWriter.open(path, "ab".repeat(32));
    const enc = new BatchEncoder();
    enc.begin(2);
    enc.add(deposit(17, 0, 8n, 2));
    await w.append(enc.finish());
    await w.close();
    expect(readAll(path).seqs).toEqual([1, 2]);
  });

  it("X5: a batch whose bytes were corrupted, with a valid batch after it, is corruption, not a torn tail (CRC)", async () => {
    const path = tempJournal();
    await writeBatches(path, [[deposit(17, 0, 5n, 1)], [deposit(17, 0, 6n, 2)], [deposit(17, 0, 7n, 3)]]);
    const bytes = readFileSync(path);
    bytes[64 + (32 + 128) + 32 + 40] ^= 0xff; // a payload byte of batch 2
    writeFileSync(path, bytes);
    const size = statSync(path).size;
    expect(() => readAll(path, true)).toThrow(JournalCorruptError);
    expect(() => readAll(path, true)).toThrow(`at byte ${64 + 160} (checksum mismatch), followed by 1 valid records in 1 batches`);
    expect(statSync(path).size).toBe(size); // nothing was cut
  });

  it("X4: a corrupt LAST batch (its CRC fails, nothing valid after it) is a torn tail and is cut on repair", async () => {
    const path = tempJournal();
    await writeBatches(path, [[deposit(17, 0, 5n, 1)], [deposit(17, 0, 6n, 2)]]);
    const bytes = readFileSync(path);
    bytes[64 + 160 + 32 + 40] ^= 0xff;
    writeFileSync(path, bytes);
    const read = readAll(path, true);
    expect(read.seqs).toEqual([1]);
    expect(read.summary.truncatedBytes).toBe(160);
    expect(statSync(path).size).toBe(64 + 160);
  });

  it("X4: garbage appended after the last batch is ignored and cut on repair", async () => {
    const path = tempJournal();
    await writeBatches(path, [[deposit(17, 0, 5n, 1)]]);
    appendFileSync(path, Buffer.from("this is not a batch header at all......"));
    const read = readAll(path, true);
    expect(read.seqs).toEqual([1]);
    expect(statSync(path).size).toBe(64 + 32 + 128);
  });

  it.runIf(existsSync("/proc/self/fdinfo"))("X4: every journal file the writer appends to is open O_DSYNC — a group's one write returns only once it is on disk (new file, reopened file, rolled segment)", async () => {
    // The flags of the open descriptors of `file`, as the kernel reports them (octal in /proc/self/fdinfo).
    const flagsOf = (file: string): number[] =>
      readdirSync("/proc/self/fd")
        .filter((fd) => {
          try {
            return readlinkSync(`/proc/self/fd/${fd}`) === file;
          } catch {
            return false;
          }
        })
        .map((fd) => parseInt(/flags:\s*([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))![1]!, 8));
    const dsync = fsConstants.O_DSYNC;
    const path = tempJournal();
    const created = await JournalWriter.open(path, "ab".repeat(32));
    expect(flagsOf(path).map((f) => f & dsync)).toEqual([dsync]);
    await created.close();
    const reopened = await JournalWriter.open(path, "ab".repeat(32));
    expect(flagsOf(path).map((f) => f & dsync)).toEqual([dsync]);
    await reopened.close();
    const dir = mkdtempSync(join(tmpdir(), "crossbook-journal-seg-"));
    const segments = await JournalWriter.openSegments(dir, "ab".repeat(32), 65, 1);
    const enc = new BatchEncoder();
    for (let b = 1; b <= 2; b++) {
      enc.begin(b);
      enc.add(deposit(17, 0, 5n, b));
      await segments.append(enc.finish());
    }
    const files = readdirSync(dir).sort();
    expect(files.length).toBe(2);
    expect(flagsOf(join(dir, files[1]!)).map((f) => f & dsync)).toEqual([dsync]);
    await segments.close();
    expect(readAll(path).batches).toEqual([]);
  });

  it("refuses a journal written under another configuration", async () => {
    const path = tempJournal();
    await writeBatches(path, [[deposit(17, 0, 5n, 1)]]);
    expect(() => readAll(path, false, "cd".repeat(32))).toThrow(JournalError);
    expect(() => readAll(path, false, "cd".repeat(32))).toThrow(/another configuration/);
  });
});

describe("sequencer group commit", () => {
  it("X4: 2,500 commands queued in one turn are journaled under one durable write (none goes alone ahead of the others), as batches of at most BATCH_COMMANDS_MAX, and reach the engine with the same boundaries; a command of a later turn goes in the next group", async () => {
    const path = tempJournal();
    const writer = await JournalWriter.open(path, "ab".repeat(32));
    let appends = 0;
    const append = writer.append.bind(writer);
    writer.append = (frame: Uint8Array) => {
      appends++;
      return append(frame);
    };
    const submitted: [number, number, number, number][] = [];
    const pipeline = {
      // The sequencer hands the engine the records it journaled (encode once).
      async submitEncoded(source: RecordViews, offset: number, count: number, batch: number): Promise<void> {
        submitted.push([batch, count, commandSeqAt(source, offset), commandSeqAt(source, offset + (count - 1) * COMMAND_RECORD_BYTES)]);
      },
      waitForBatch: async () => {},
      // X4P: the sequencer gates the engine's outputs and releases them per journaled group; nothing to hold here.
      gateOutputs: () => {},
      releaseThrough: () => {},
      trySubmitEncoded: () => false,
    } as unknown as ThreadedPipeline;
    const failures: Error[] = [];
    const sequencer = new Sequencer(writer, pipeline, 0, 0, (e) => failures.push(e));
    for (let i = 0; i < 2_500; i++) expect(sequencer.submit(deposit(17, 0, BigInt(i + 1), 0), null, 0n)).toBe(i + 1);
    await new Promise((r) => setImmediate(r));
    // The group's write has begun: this one waits for the next group.
    expect(sequencer.submit(deposit(17, 0, 2_501n, 0), null, 0n)).toBe(2_501);
    await sequencer.drain();
    await writer.close();
    expect(failures).toEqual([]);
    expect(BATCH_COMMANDS_MAX).toBe(1024);
    expect(appends).toBe(2);
    expect(submitted).toEqual([[1, 1024, 1, 1024], [2, 1024, 1025, 2048], [3, 452, 2049, 2500], [4, 1, 2501, 2501]]);
    const back = readAll(path);
    expect(back.batches).toEqual([1, 2, 3, 4]);
    expect(back.seqs).toEqual(Array.from({ length: 2_501 }, (_, i) => i + 1));
    expect(back.records[2_499]!.amount).toBe(2_500n);
  });

  it("X4: encode once — the engine's rings get the very bytes the journal wrote (the same buffer, no copy); queries go to the engine in sequence but not to the journal, whose frames hold the other records byte for byte", async () => {
    const path = tempJournal();
    const writer = await JournalWriter.open(path, "ab".repeat(32));
    const appended: { buffer: ArrayBufferLike; bytes: Uint8Array }[] = [];
    const append = writer.append.bind(writer);
    writer.append = (frame: Uint8Array) => {
      appended.push({ buffer: frame.buffer, bytes: frame.slice() });
      return append(frame);
    };
    const handed: { buffer: ArrayBufferLike; batch: number; kinds: number[]; records: Uint8Array[] }[] = [];
    const pipeline = {
      async submitEncoded(source: RecordViews, offset: number, count: number, batch: number): Promise<void> {
        const records: Uint8Array[] = [];
        const kinds: number[] = [];
        for (let i = 0; i < count; i++) {
          const at = offset + i * COMMAND_RECORD_BYTES;
          records.push(source.u8.slice(at, at + COMMAND_RECORD_BYTES));
          kinds.push(commandKindAt(source, at));
        }
        handed.push({ buffer: source.u8.buffer, batch, kinds, records });
      },
      waitForBatch: async () => {},
      // X4P: the sequencer gates the engine's outputs and releases them per journaled group; nothing to hold here.
      gateOutputs: () => {},
      releaseThrough: () => {},
      trySubmitEncoded: () => false,
    } as unknown as ThreadedPipeline;
    const sequencer = new Sequencer(writer, pipeline, 0, 0, (e) => expect.unreachable(e.message));
    const query = (kind: CommandKind, account: number): CommandRecord => {
      const c = new CommandRecord();
      c.kind = kind;
      c.account = account;
      return c;
    };
    const first = deposit(17, 0, 5n, 0);
    sequencer.submit(first, null, 0n);
    // The caller's record is left as it was (its sequence number is only in the bytes).
    expect(first.seq).toBe(0);
    // The rest come in a later turn, once the first group's write has begun: a second group.
    await new Promise((r) => setImmediate(r));
    sequencer.submit(deposit(17, 2, 6n, 0), null, 0n);
    sequencer.submit(query(CommandKind.QueryCollateral, 17), null, 0n);
    sequencer.submit(limit(17, 0, 1, 60_000_000_000_000n, 100_000n, {}, 0), null, 0n);
    sequencer.submit(query(CommandKind.QueryPoolStats, 17), null, 0n);
    sequencer.submit(deposit(33, 0, 7n, 0), null, 0n);
    await sequencer.drain();
    await writer.close();
    // Group 1: the first command, alone in its turn; its frame is the arena the rings copied from.
    expect(handed.map((h) => [h.batch, h.kinds])).toEqual([
      [1, [CommandKind.Deposit]],
      [2, [CommandKind.Deposit, CommandKind.QueryCollateral, CommandKind.PlaceOrder, CommandKind.QueryPoolStats, CommandKind.Deposit]],
    ]);
    expect(appended).toHaveLength(2);
    expect(appended[0]!.buffer).toBe(handed[0]!.buffer);
    expect(appended[0]!.bytes.subarray(32)).toEqual(handed[0]!.records[0]);
    // Group 2 holds queries: its frame carries the other three records, each byte for byte as the rings got it.
    const journaled = appended[1]!.bytes;
    expect(journaled.length).toBe(32 + 3 * COMMAND_RECORD_BYTES);
    const expected = [0, 2, 4].map((i) => handed[1]!.records[i]!);
    for (let r = 0; r < 3; r++) expect(journaled.subarray(32 + r * COMMAND_RECORD_BYTES, 32 + (r + 1) * COMMAND_RECORD_BYTES)).toEqual(expected[r]);
    const back = readAll(path);
    expect(back.batches).toEqual([1, 2]);
    expect(back.seqs).toEqual([1, 2, 4, 6]);
    expect(back.records.map((c) => c.amount)).toEqual([5n, 6n, 0n, 7n]);
    expect(back.records[2]!.price).toBe(60_000_000_000_000n);
  });
});
