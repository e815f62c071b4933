// `crossbook start --trace-hops` (issue 15): the per-group hop stamps — what each hop is computed from, which batch end
// closes a group, the report's percentiles — and the sequencer stamping a group exactly once, after its durable write
// returned and its records were handed to the engine (X4P: the hand-off comes as the write begins, the release after it).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { JournalWriter } from "../engine/journal/index.ts";
import type { RecordViews, ThreadedPipeline } from "../engine/pipeline/index.ts";
import { HopTimer } from "../gateway/hop-timer.ts";
import { Sequencer } from "../gateway/sequencer.ts";
import { deposit } from "./helpers/commands.ts";

describe("hop timer", () => {
  it("X4: each hop is the difference of its stamps; a group is timed when its last batch ends, not before", () => {
    const hops = new HopTimer();
    // Group A: batches 1–3, sequenced at 10 ms, written 10.5–11.25, handed at 10.6. Group B: batches 4–5.
    hops.handed(3, 10, 10.5, 11.25, 10.6, 2500);
    hops.handed(5, 11, 11.25, 13, 11.3, 40);
    hops.batchDone(1, 12);
    hops.batchDone(2, 12.5);
    expect(hops.timed).toBe(0);
    hops.batchDone(3, 14.5);
    expect(hops.timed).toBe(1);
    hops.batchDone(-1, 15); // a control batch closes nothing
    hops.batchDone(4, 15);
    expect(hops.timed).toBe(1);
    hops.batchDone(5, 16.75);
    expect(hops.timed).toBe(2);
    // p50 of two values is the larger (index floor(2 × 0.5) = 1), p99 the same.
    expect(hops.report()).toBe(
      "hops over 2 groups (p50/p99/max, ms): wait 0.500/0.500/0.500, write 1.750/1.750/1.750, hand 0.100/0.100/0.100, release 3.750/3.750/3.750, commands/group 2500/2500/2500",
    );
    expect(hops.report()).toBeNull();
  });

  it("X4: a group whose writev the journal stamped splits its write hop into wake, disk and back", () => {
    const hops = new HopTimer();
    // Write asked for at 10.5, the thread's writev 10.75–11.0, the gateway told at 11.25.
    hops.handed(3, 10, 10.5, 11.25, 10.6, 8, 10.75, 11);
    hops.handed(5, 11, 11.25, 13, 11.3, 4);
    hops.batchDone(3, 14.5);
    hops.batchDone(5, 16.75);
    expect(hops.report()).toBe(
      "hops over 2 groups (p50/p99/max, ms): wait 0.500/0.500/0.500, write 1.750/1.750/1.750, hand 0.100/0.100/0.100, release 3.750/3.750/3.750, commands/group 8/8/8, " +
        "write = wake 0.250/0.250/0.250 + disk 0.250/0.250/0.250 + back 0.250/0.250/0.250",
    );
  });

  it("X4: the max is the one slowest group, past the p99: 200 groups with disk writes of 0.2 ms but one of 12 ms report disk 0.200/0.200/12.000", () => {
    const hops = new HopTimer();
    for (let b = 1; b <= 200; b++) {
      const queued = 10 * b;
      const diskMs = b === 137 ? 12 : 0.2;
      // queued, the writev begins 0.1 later, takes diskMs, the gateway knows 0.1 after; handed 0.05 after queued.
      hops.handed(b, queued - 0.5, queued, queued + 0.2 + diskMs, queued + 0.05, b === 50 ? 900 : 5, queued + 0.1, queued + 0.1 + diskMs);
      hops.batchDone(b, queued + 0.2 + diskMs + 0.25);
    }
    expect(hops.report()).toBe(
      "hops over 200 groups (p50/p99/max, ms): wait 0.500/0.500/0.500, write 0.400/0.400/12.200, hand 0.050/0.050/0.050, release 0.250/0.250/0.250, commands/group 5/5/900, " +
        "write = wake 0.100/0.100/0.100 + disk 0.200/0.200/12.000 + back 0.100/0.100/0.100",
    );
  });

  it("X4: a group whose batch end was missed is dropped when a later batch ends (the next group is still timed)", () => {
    const hops = new HopTimer();
    hops.handed(2, 0, 1, 2, 3, 1);
    hops.handed(4, 1, 2, 4, 5, 3);
    hops.batchDone(4, 9);
    expect(hops.timed).toBe(1);
    // Handed after the write returned (a hold delayed it): the release hop starts at the hand-off.
    expect(hops.report()).toBe("hops over 1 groups (p50/p99/max, ms): wait 1.000/1.000/1.000, write 2.000/2.000/2.000, hand 3.000/3.000/3.000, release 4.000/4.000/4.000, commands/group 3/3/3");
  });

  it("X4P: the sequencer stamps each group once, when its write returned: sequenced ≤ write start ≤ handed ≤ write end, and the release hop ends at its batch end", async () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-hops-"));
    const writer = await JournalWriter.open(join(dir, "journal"), "ab".repeat(32));
    const order: string[] = [];
    const append = writer.append.bind(writer);
    writer.append = async (frame: Uint8Array) => {
      order.push("write");
      await append(frame);
      order.push("written");
    };
    const pipeline = {
      submitEncoded: async (_source: RecordViews, _offset: number, _count: number, batch: number) => {
        order.push(`hand ${batch}`);
      },
      waitForBatch: async () => {},
      gateOutputs: () => {},
      releaseThrough: (batch: number) => {
        order.push(`release ${batch}`);
      },
      trySubmitEncoded: () => false,
    } as unknown as ThreadedPipeline;
    const stamps: number[][] = [];
    const hops = new HopTimer();
    const handed = hops.handed.bind(hops);
    hops.handed = (lastBatch, sequencedMs, writeStartMs, writeEndMs, handedMs, commands) => {
      order.push(`stamped ${lastBatch}`);
      stamps.push([lastBatch, sequencedMs, writeStartMs, writeEndMs, handedMs, commands]);
      handed(lastBatch, sequencedMs, writeStartMs, writeEndMs, handedMs, commands);
    };
    const sequencer = new Sequencer(writer, pipeline, 0, 0, (e) => expect.unreachable(e.message), hops);
    for (let i = 0; i < 1030; i++) sequencer.submit(deposit(17, 0, BigInt(i + 1), 0), null, 0n);
    await sequencer.drain();
    await writer.close();
    // One group of two batches (1,024 + 6 commands): its hand-off begins before its write (batch 1 at once; the stub's
    // rings take batch 2 asynchronously, while the write runs), stamped once written, then released.
    expect(order).toEqual(["hand 1", "write", "hand 2", "written", "stamped 2", "release 2"]);
    const [lastBatch, sequencedMs, writeStartMs, writeEndMs, handedMs, commands] = stamps[0]!;
    expect([lastBatch, commands]).toEqual([2, 1030]);
    expect(sequencedMs! > 0 && sequencedMs! <= writeStartMs! && writeStartMs! <= handedMs! && handedMs! <= writeEndMs!).toBe(true);
    sequencer.batchDone(1);
    expect(hops.timed).toBe(0);
    sequencer.batchDone(2);
    expect(hops.timed).toBe(1);
  });
});
