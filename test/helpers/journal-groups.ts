// The journal tests' shared input (test/journal-thread.test.ts, test/journal-inline.test.ts, test/journal-pace.test.ts):
// groups of encoded batches of one deposit each, readers of what a journal directory holds, and a pipeline stand-in.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BatchEncoder, emptySummary, listSegments, segmentBatches } from "../../engine/journal/index.ts";
import { commandSeqAt, COMMAND_RECORD_BYTES, type RecordViews, type ThreadedPipeline } from "../../engine/pipeline/index.ts";
import { deposit } from "./commands.ts";

export const JOURNAL_TEST_DIGEST = "ab".repeat(32);

/** `size` batches of one deposit each, numbered on from `firstBatch`; seq = batch number. */
export function groupFrames(firstBatch: number, size: number): Uint8Array {
  const enc = new BatchEncoder();
  const parts: Uint8Array[] = [];
  for (let b = firstBatch; b < firstBatch + size; b++) {
    enc.begin(b);
    enc.add(deposit(16 + (b % 7), 0, BigInt(b * 10), b));
    parts.push(enc.finish().slice());
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** 40 groups of 1–3 batches (79 batches). */
export const GROUPS: readonly Uint8Array[] = (() => {
  const out: Uint8Array[] = [];
  for (let g = 0, b = 1; g < 40; g++) {
    const size = 1 + (g % 3);
    out.push(groupFrames(b, size));
    b += size;
  }
  return out;
})();

/** Every file of `dir` by name, with its bytes. */
export function segmentFiles(dir: string): Map<string, Buffer> {
  return new Map(readdirSync(dir).sort().map((name) => [name, readFileSync(join(dir, name))]));
}

/** The batch numbers in the journal of data directory `dataDir` (its JOURNAL_SEGMENT_DIR). */
export function batchNumbers(dataDir: string): number[] {
  const out: number[] = [];
  for (const b of segmentBatches(listSegments(dataDir), { configDigestHex: JOURNAL_TEST_DIGEST }, emptySummary())) out.push(b.batchNumber);
  return out;
}

/**
 * A pipeline stand-in for the sequencer tests (test/journal-inline.test.ts, test/journal-pace.test.ts): it takes every
 * batch at once and logs each hand-off (the batch's first and last seq) and each release (with the batches on disk
 * in `dataDir` at that moment) into `order`.
 */
export function recordingPipeline(order: string[], dataDir: string): ThreadedPipeline {
  return {
    trySubmitEncoded: (source: RecordViews, offset: number, count: number, batch: number) => {
      order.push(`hand ${batch}: ${commandSeqAt(source, offset)}–${commandSeqAt(source, offset + (count - 1) * COMMAND_RECORD_BYTES)}`);
      return true;
    },
    submitEncoded: async () => {
      throw new Error("recordingPipeline: the rings take every batch at once here");
    },
    waitForBatch: async () => {},
    gateOutputs: () => {},
    releaseThrough: (batch: number) => {
      order.push(`release ${batch} (${batchNumbers(dataDir).length} batches on disk)`);
    },
  } as unknown as ThreadedPipeline;
}
