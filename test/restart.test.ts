// Restart at the server level (X4, X5, X7): the port opens before the journal is replayed and the server says it
// is recovering; a journal with a corruption in its middle refuses to start, and --truncate-at-corruption starts
// with exactly the records before it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BatchEncoder, JournalCorruptError, JournalWriter, JOURNAL_SEGMENT_DIR, segmentFileName } from "../engine/journal/index.ts";
import { CommandKind, CommandRecord } from "../engine/model/index.ts";
import { configDigest, Engine, loadConfig } from "../engine/pipeline/index.ts";
import { CrossbookClient } from "../gateway/client/ws-client.ts";
import { startServer, type RunningServer } from "../gateway/server.ts";

import { getBalances } from "./helpers/auth.ts";
const config = loadConfig();
const BIN = new URL("../bin/crossbook.mjs", import.meta.url).pathname;
const RECORD = 128;
const BATCH_HEADER = 32;

/** Deposit number i: 1,000,000 + i USDC units to account (100 + i mod `accounts`) × 16, sequence number `seq`. */
function depositRecord(i: number, seq: number, accounts = Infinity): CommandRecord {
  const c = new CommandRecord();
  c.kind = CommandKind.Deposit;
  c.seq = seq;
  c.account = (100 + (i % accounts)) * 16;
  c.asset = 0;
  c.amount = BigInt(1_000_000 + i);
  return c;
}

/** Writes `batches` batches of `perBatch` deposits to `accounts` accounts straight into a data dir's journal. */
async function writeDeposits(dataDir: string, batches: number, perBatch: number, accounts = Infinity): Promise<void> {
  const w = await JournalWriter.openSegments(join(dataDir, JOURNAL_SEGMENT_DIR), configDigest(config), 1 << 30, 1);
  const enc = new BatchEncoder();
  let seq = 0;
  for (let b = 1; b <= batches; b++) {
    enc.begin(b);
    for (let i = 0; i < perBatch; i++) enc.add(depositRecord(seq, ++seq, accounts));
    await w.append(enc.finish());
  }
  await w.close();
}

function serverOn(dataDir: string, log: (line: string) => void, extra: { truncateAtCorruption?: boolean } = {}): Promise<RunningServer> {
  return startServer({ config, host: "127.0.0.1", port: 0, dataDir, tickIntervalMs: 0, log, ...extra });
}

async function usdcOf(server: RunningServer, account: number): Promise<string> {
  const r = await getBalances(server.port, account, server.operatorKey);
  const body = (await r.json()) as { balances: { asset: string; available: string }[] };
  return body.balances.find((b) => b.asset === "USDC")!.available;
}

describe("restart (X4, X5, X7)", () => {
  it("X7: the port opens first: GET /health answers recovering with progress, an early command gets a typed Recovering reject on an open connection, then ready", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-restart-"));
    await writeDeposits(dataDir, 100, 1024, 1000); // 102,400 deposits to 1,000 accounts
    const health: { status: string; phase?: string; records?: number; expectedRecords?: number }[] = [];
    const codes: number[] = [];
    let early: Promise<string> | null = null;
    const starting = serverOn(dataDir, (line) => {
      const m = /started on ws:\/\/127\.0\.0\.1:(\d+)/.exec(line);
      if (m === null) return;
      const port = Number(m[1]);
      early = (async () => {
        // No login: a recovering server answers every frame, the Login too, with Recovering.
        const client = await CrossbookClient.connect(`ws://127.0.0.1:${port}`);
        const answer = await client.request({ type: "Deposit", account: 16, asset: 0, amount: "1" }, 20);
        await client.close();
        return JSON.stringify(answer.map((e) => [e.type, "code" in e ? e.code : null]));
      })();
      void (async () => {
        for (;;) {
          const r = await fetch(`http://127.0.0.1:${port}/health`);
          codes.push(r.status);
          const body = (await r.json()) as (typeof health)[number];
          health.push(body);
          if (body.status === "ready") return;
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
    });
    const server = await starting;
    try {
      expect(await early!).toBe(JSON.stringify([["CommandRejected", "Recovering"]]));
      const recovering = health.filter((h) => h.status === "recovering");
      expect(recovering.length).toBeGreaterThan(0);
      expect(codes[0]).toBe(503);
      const journalPhase = recovering.filter((h) => h.phase === "journal");
      // The estimate from the segment's size: 102,400 records of 128 bytes and 100 batch headers of 32.
      for (const h of journalPhase) expect(h.expectedRecords).toBe(Math.floor((64 + 100 * BATCH_HEADER + 102_400 * RECORD) / RECORD));
      while (health[health.length - 1]?.status !== "ready") await new Promise((r) => setTimeout(r, 10));
      expect(health[health.length - 1]).toEqual({ status: "ready", lastSeq: 102_400, snapshotSeq: 0 });
      expect(server.recovered).toMatchObject({ batches: 100, commands: 102_400, truncatedBytes: 0, snapshotSeq: 0 });
      // Account 1099 × 16 got deposits 999, 1999, …, 101,999 (102 of them): 102 × 1,000,000 + Σ i.
      const sum = Array.from({ length: 102 }, (_, k) => 1_000_000 + 999 + 1000 * k).reduce((a, b) => a + b, 0);
      expect(sum).toBe(107_252_898);
      expect(await usdcOf(server, 1099 * 16)).toBe("107.252898");
    } finally {
      await server.stop();
    }
  }, 120_000);

  it("X5: a mid-journal bit flip refuses to start, naming the offset and the records after it; --truncate-at-corruption starts with exactly the records before it", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-corrupt-"));
    await writeDeposits(dataDir, 10, 3); // seq 1..30, batches of 3
    const segment = join(dataDir, JOURNAL_SEGMENT_DIR, segmentFileName(1));
    const batchBytes = BATCH_HEADER + 3 * RECORD;
    const offset = 64 + 6 * batchBytes; // batch 7: seq 19..21
    const bytes = readFileSync(segment);
    bytes[offset + BATCH_HEADER + RECORD + 20] ^= 0x10;
    writeFileSync(segment, bytes);

    const lines: string[] = [];
    const refused = await serverOn(dataDir, (l) => lines.push(l)).then(
      async (s) => {
        await s.stop();
        return null;
      },
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(JournalCorruptError);
    expect((refused as Error).message).toContain(`${segment} at byte ${offset} (checksum mismatch), followed by 9 valid records in 3 batches`);
    // The command line says the same in one line and exits 2.
    const cli = spawnSync(process.execPath, [BIN, "start", "--port", "0", "--data", dataDir, "--tick-ms", "0"], { encoding: "utf8" });
    expect(cli.status).toBe(2);
    expect(cli.stderr).toContain(`at byte ${offset} (checksum mismatch), followed by 9 valid records in 3 batches`);
    expect(cli.stderr).toContain("--truncate-at-corruption");

    const verify = spawnSync(process.execPath, [BIN, "journal-verify", "--data", dataDir], { encoding: "utf8" });
    expect(verify.status).toBe(1);
    expect(JSON.parse(verify.stdout)).toEqual({
      records: 18,
      batches: 6,
      segments: 1,
      archivedSegments: 0,
      firstSeq: 1,
      lastSeq: 18,
      tornTailBytes: 0,
      preallocatedTailBytes: 0,
      corruption: { file: segment, offset, reason: "checksum mismatch", recordsAfter: 9, batchesAfter: 3 },
    });

    const server = await serverOn(dataDir, (l) => lines.push(l), { truncateAtCorruption: true });
    try {
      expect(server.recovered).toMatchObject({ batches: 6, commands: 18, truncatedBytes: 0, snapshotSeq: 0 });
      expect(await usdcOf(server, (100 + 17) * 16)).toBe("1.000017");
      expect(await usdcOf(server, (100 + 18) * 16)).toBe("0");
      expect(await usdcOf(server, (100 + 29) * 16)).toBe("0");
      // The state is exactly the 18 records before the corruption, replayed in-process.
      const engine = new Engine(config);
      for (let b = 0; b < 6; b++) engine.processBatch([0, 1, 2].map((i) => depositRecord(3 * b + i, 3 * b + i + 1)), 3, { publish: () => {} });
      expect(await server.stateHash()).toBe(engine.stateHash());
      expect(lines.some((l) => l.includes(`cut ${segment} at byte ${offset} (checksum mismatch); the journal ends at sequence 18; 9 records after it moved to`))).toBe(true);
      expect(readdirSync(join(dataDir, "journal-quarantine")).length).toBe(1);
    } finally {
      await server.stop();
    }
    // The cut journal verifies clean and continues where the server left it.
    const after = spawnSync(process.execPath, [BIN, "journal-verify", "--data", dataDir], { encoding: "utf8" });
    expect(after.status).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({ records: 18, lastSeq: 18, corruption: null });
  }, 120_000);
});
