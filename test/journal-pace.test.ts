// The group commit's pace (gateway/sequencer.ts groupIntervalMs, `crossbook start --journal-group-us`, issue 15): a
// durable write begins at least the interval after the one before it began, so the commands of the turns in between
// join one group — one write, one hand-off to the engine, one release — and X4P's order (hand, write, release only
// after the write returned) is unchanged; drain() writes a waiting group at once; after a group of one command (a
// single client waiting for each ack) the next group is not paced.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { JOURNAL_SEGMENT_DIR } from "../engine/journal/index.ts";
import type { ThreadedPipeline } from "../engine/pipeline/index.ts";
import { InlineJournal } from "../gateway/journal-inline.ts";
import { Sequencer } from "../gateway/sequencer.ts";
import { deposit } from "./helpers/commands.ts";
import { batchNumbers, JOURNAL_TEST_DIGEST, recordingPipeline } from "./helpers/journal-groups.ts";

/** An inline journal and a pipeline stand-in that log the sequencer's hand-offs, writes and releases in order. */
function recorded(): { inline: InlineJournal; pipeline: ThreadedPipeline; order: string[]; dataDir: string } {
  const dataDir = mkdtempSync(join(tmpdir(), "crossbook-jp-"));
  const inline = InlineJournal.openSegments(join(dataDir, JOURNAL_SEGMENT_DIR), JOURNAL_TEST_DIGEST, 1 << 30, 1);
  const order: string[] = [];
  const append = inline.append.bind(inline);
  inline.append = (frames: Uint8Array) => {
    order.push(`write (${batchNumbers(dataDir).length} batches on disk)`);
    return append(frames);
  };
  const pipeline = recordingPipeline(order, dataDir);
  return { inline, pipeline, order, dataDir };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe("group commit pace", () => {
  it("X4P: the commands of the turns within the interval after a write began are one group, written once the interval has passed, released after its write", async () => {
    const { inline, pipeline, order } = recorded();
    const intervalMs = 1_000;
    const sequencer = new Sequencer(inline, pipeline, 0, 0, (e) => expect.unreachable(e.message), null, intervalMs);
    sequencer.submit(deposit(17, 0, 1n, 0), null, 0n);
    sequencer.submit(deposit(17, 0, 2n, 0), null, 0n);
    const firstMs = performance.now();
    await turn();
    // The first write began at once (none before it); these three turns come well within its interval.
    sequencer.submit(deposit(17, 0, 3n, 0), null, 0n);
    await turn();
    sequencer.submit(deposit(17, 0, 4n, 0), null, 0n);
    await turn();
    sequencer.submit(deposit(17, 0, 5n, 0), null, 0n);
    await turn();
    expect(performance.now() - firstMs).toBeLessThan(intervalMs);
    expect(order).toEqual(["hand 1: 1–2", "write (0 batches on disk)", "release 1 (1 batches on disk)"]);
    // The pace's timer writes the three commands waiting as one group.
    while (order.length < 6) await new Promise((r) => setTimeout(r, 5));
    expect(performance.now() - firstMs).toBeGreaterThanOrEqual(intervalMs - 1);
    await sequencer.drain();
    await inline.close();
    expect(order).toEqual([
      "hand 1: 1–2",
      "write (0 batches on disk)",
      "release 1 (1 batches on disk)",
      "hand 2: 3–5",
      "write (1 batches on disk)",
      "release 2 (2 batches on disk)",
    ]);
  });

  it("X4P: drain() writes a group waiting for the pace at once", async () => {
    const { inline, pipeline, order } = recorded();
    const sequencer = new Sequencer(inline, pipeline, 0, 0, (e) => expect.unreachable(e.message), null, 60_000);
    sequencer.submit(deposit(17, 0, 1n, 0), null, 0n);
    sequencer.submit(deposit(17, 0, 2n, 0), null, 0n);
    await turn();
    sequencer.submit(deposit(17, 0, 3n, 0), null, 0n);
    await turn();
    expect(order.length).toBe(3);
    const drainMs = performance.now();
    await sequencer.drain();
    expect(performance.now() - drainMs).toBeLessThan(1_000);
    await inline.close();
    expect(order).toEqual([
      "hand 1: 1–2",
      "write (0 batches on disk)",
      "release 1 (1 batches on disk)",
      "hand 2: 3–3",
      "write (1 batches on disk)",
      "release 2 (2 batches on disk)",
    ]);
  });

  it("after a group of one command the next is not paced: a single client waiting for each ack gets it a write later, not an interval later", async () => {
    const { inline, pipeline, order } = recorded();
    const sequencer = new Sequencer(inline, pipeline, 0, 0, (e) => expect.unreachable(e.message), null, 60_000);
    for (let i = 1; i <= 3; i++) {
      sequencer.submit(deposit(17, 0, BigInt(i), 0), null, 0n);
      await turn();
    }
    expect(order.filter((o) => o.startsWith("hand"))).toEqual(["hand 1: 1–1", "hand 2: 2–2", "hand 3: 3–3"]);
    await sequencer.drain();
    await inline.close();
  });

  it("without a pace (interval 0) each turn's commands are written as soon as the write before returned", async () => {
    const { inline, pipeline, order } = recorded();
    const sequencer = new Sequencer(inline, pipeline, 0, 0, (e) => expect.unreachable(e.message), null, 0);
    for (let i = 1; i <= 3; i++) {
      sequencer.submit(deposit(17, 0, BigInt(2 * i - 1), 0), null, 0n);
      sequencer.submit(deposit(17, 0, BigInt(2 * i), 0), null, 0n);
      await turn();
    }
    await sequencer.drain();
    await inline.close();
    expect(order.filter((o) => o.startsWith("hand"))).toEqual(["hand 1: 1–2", "hand 2: 3–4", "hand 3: 5–6"]);
  });
});
