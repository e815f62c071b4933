// X4: no acknowledged command is lost to a crash between a journal segment's roll and the group's write. roll()
// creates the next segment named after the group's first sequence number; if the process dies before the group is on
// disk, the segment holds no batch, and when that group began with read-only queries (sequenced, never journaled) the
// restart numbers from below that name. The writer used to append the next acknowledged batch into the segment as it
// was named, and the next restart's reader took that batch (numbers disagreeing with the name) for a torn tail and cut
// it: acknowledged deposits lost, the log saying "never acknowledged". Now the reader judges a batch by its checksum
// and its numbers, not by the segment's name (journal.ts continues), and a whole batch is never cut as a torn tail.
// The crash state is written byte for byte as roll() leaves it (a real kill cannot be timed into that window).
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { emptySummary, JOURNAL_SEGMENT_DIR, listSegments, segmentBatches, segmentFileName } from "../engine/journal/index.ts";
import { fileHeader } from "../engine/journal/journal.ts";
import { configDigest, loadConfig } from "../engine/pipeline/index.ts";
import { CrossbookClient } from "../gateway/client/ws-client.ts";
import { startServer, type RunningServer } from "../gateway/server.ts";
import { getBalances } from "./helpers/auth.ts";

const config = loadConfig();

function serverOn(dataDir: string, log: (l: string) => void = () => {}): Promise<RunningServer> {
  return startServer({ config, host: "127.0.0.1", port: 0, dataDir, tickIntervalMs: 0, log, snapshots: { everyCommands: 0, everyMs: 0, keep: 3 } });
}

async function usdcOf(server: RunningServer, account: number): Promise<string> {
  const r = await getBalances(server.port, account, server.operatorKey);
  const body = (await r.json()) as { balances: { asset: string; available: string }[] };
  return body.balances.find((b) => b.asset === "USDC")?.available ?? "0";
}

function journalEnd(dataDir: string): { lastSeq: number; lastBatch: number } {
  const summary = emptySummary();
  for (const _ of segmentBatches(listSegments(dataDir), { configDigestHex: configDigest(config) }, summary));
  return { lastSeq: summary.lastSeq, lastBatch: summary.lastBatch };
}

const CRASH_LEFT = [
  ["header only (killed after createJournalFileSync)", (h: Uint8Array): Uint8Array => h],
  ["a torn header (killed inside createJournalFileSync's write)", (h: Uint8Array): Uint8Array => h.subarray(0, 20)],
  ["header + a torn first batch (killed inside the group's writev)", (h: Uint8Array): Uint8Array => Buffer.concat([h, Buffer.from([0xc4, 0xa7, 0x0b, 0xcb, 1, 0, 0, 0]), Buffer.alloc(40, 7)])],
] as const;

describe("X4: a crash between a segment roll and the group's write", () => {
  for (const [what, leftBy] of CRASH_LEFT) it(`X4 [${what}]: the deposit acknowledged after the restart, written into the segment the roll left, is still there after the next restart`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "audit-roll-"));
    // Life 1: one acknowledged deposit (seq X), then a clean stop.
    let server = await serverOn(dataDir);
    let op = await CrossbookClient.connect(`ws://127.0.0.1:${server.port}`, { key: server.operatorKey });
    expect((await op.request({ type: "Deposit", account: 16, asset: 0, amount: "100" }, 50))[0]!.type).toBe("CommandAccepted");
    await op.close();
    await server.stop();
    const { lastSeq: X } = journalEnd(dataDir);
    // The crash: the next group was [a read-only query (seq X+1, never journaled), a deposit (seq X+2)]; it found the
    // segment full, so SyncJournalAppender.roll() created journal-<X+2>.bin (createJournalFileSync: header written,
    // directory fsynced) and the process was SIGKILLed before the group's writev. That is exactly this file:
    const segDir = join(dataDir, JOURNAL_SEGMENT_DIR);
    writeFileSync(join(segDir, segmentFileName(X + 2)), leftBy(fileHeader(configDigest(config))), { mode: 0o600 });

    // Life 2: recovery accepts the data dir (no batch in the new segment), the sequencer resumes at X+1, and an
    // acknowledged deposit is written as batch "X+1" into the segment named X+2.
    server = await serverOn(dataDir);
    op = await CrossbookClient.connect(`ws://127.0.0.1:${server.port}`, { key: server.operatorKey });
    expect((await op.request({ type: "Deposit", account: 32, asset: 0, amount: "7" }, 50))[0]!.type).toBe("CommandAccepted");
    expect(await usdcOf(server, 32)).toBe("7");
    await op.close();
    await server.stop();
    // The deposit went into the segment the crash left (named X + 2, holding batch X + 1).
    expect(readdirSync(segDir).sort()).toEqual([segmentFileName(1), segmentFileName(X + 2)].sort());

    // Life 3: a plain restart must recover both acknowledged deposits.
    const lines: string[] = [];
    const third = await serverOn(dataDir, (l) => lines.push(l)).then(
      (s) => s,
      (e: unknown) => e as Error,
    );
    if (third instanceof Error) expect.fail(`restart refused: ${third.message}`);
    try {
      expect(third.recovered.truncatedBytes).toBe(0);
      expect(await usdcOf(third, 16)).toBe("100");
      expect(await usdcOf(third, 32)).toBe("7");
    } finally {
      await third.stop();
    }
  }, 120_000);
});
