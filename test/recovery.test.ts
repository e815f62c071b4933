// Crash recovery: the server process is killed with SIGKILL while a client is sending; after a restart every
// acknowledged command is in the recovered state, and the live state hash equals a single-threaded replay of the
// journal (X4, DESIGN rule 6) — with snapshots off, and on (X7: restart from the newest snapshot + journal tail).
// Also: SIGTERM drains, flushes and exits 0.
import { spawnSync, type ChildProcess } from "node:child_process";
import type { KeyObject } from "node:crypto";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { JOURNAL_SEGMENT_DIR, listSegments, listSnapshots, segmentBatches, SNAPSHOT_DIR } from "../engine/journal/index.ts";
import { CommandKind } from "../engine/model/index.ts";
import { operatorKeyPath, readPrivateKeyFile } from "../gateway/auth/keys.ts";
import { CrossbookClient, type CloseInfo } from "../gateway/client/ws-client.ts";
import { getBalances, getStateHash, registerKey } from "./helpers/auth.ts";
import { BIN, exitOf, startServerProcess as startServer, type ServerProcess } from "./helpers/server-process.ts";

const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

function startServerProcess(dataDir: string, extra: readonly string[] = []): Promise<ServerProcess> {
  return startServer(dataDir, children, extra);
}

/** The operator's key the server created in its data dir (X6). */
function operatorKey(dataDir: string): KeyObject {
  return readPrivateKeyFile(operatorKeyPath(dataDir));
}

async function usdcOf(port: number, account: number, dataDir: string): Promise<string> {
  const r = await getBalances(port, account, operatorKey(dataDir));
  const body = (await r.json()) as { balances: { asset: string; available: string }[] };
  return body.balances.find((b) => b.asset === "USDC")!.available;
}

async function liveHash(port: number, dataDir: string): Promise<string> {
  return (await getStateHash(port, operatorKey(dataDir))).hash;
}

function replayHash(dataDir: string): string {
  const r = spawnSync(process.execPath, [BIN, "journal-hash", "--data", dataDir], { encoding: "utf8" });
  expect(r.status).toBe(0);
  return (JSON.parse(r.stdout.trim()) as { stateHash: string }).stateHash;
}

describe("crash recovery", () => {
  // The journal written as by default (`hybrid`: the gateway small groups, the journal thread the rest), by the
  // journal thread alone (`--journal-write thread`), and by default into 1 MiB segments: the kill comes once the
  // journal has rolled, so the gateway's writes and the thread's rolls interleave before it.
  for (const [snapshots, journalWrite, segmentMb] of [[false, "hybrid", 0], [true, "hybrid", 0], [false, "thread", 0], [false, "hybrid", 1]] as const) {
    // With snapshots on, the server writes one every 1,000 commands (checked each second) while the client sends, so
    // the kill can land during a snapshot write and the restart loads the newest snapshot plus the journal after it.
    const extra = [
      ...(snapshots ? ["--snapshot-every-commands", "1000"] : ["--snapshot-every-commands", "0", "--snapshot-every-minutes", "0"]),
      ...(journalWrite === "hybrid" ? [] : ["--journal-write", journalWrite]),
      ...(segmentMb === 0 ? [] : ["--journal-segment-mb", String(segmentMb)]),
    ];
    it(`X4${snapshots ? "/X7" : ""}: SIGKILL while a client is sending${snapshots ? " (snapshots on)" : ""}${journalWrite === "hybrid" ? "" : ` (--journal-write ${journalWrite})`}${segmentMb === 0 ? "" : ` (${segmentMb} MiB segments, killed after a roll)`}: every acknowledged deposit survives, and the live hash equals a single-threaded journal replay`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), "crossbook-recovery-"));
      const first = await startServerProcess(dataDir, extra);
      const url = `ws://127.0.0.1:${first.port}`;
      const client = await CrossbookClient.connect(url, { key: operatorKey(dataDir) });
      // Two traders with funds, so orders rest and trade while deposits stream in (each logs in with its user's key).
      const traders = [
        await CrossbookClient.connect(url, { key: await registerKey(client, 1) }),
        await CrossbookClient.connect(url, { key: await registerKey(client, 2) }),
      ];
      await client.request({ type: "Deposit", account: 16, asset: 0, amount: "1000000" }, 50);
      await client.request({ type: "Deposit", account: 32, asset: 2, amount: "100" }, 50);
      const acked = new Map<bigint, number>(); // clientSeq → account whose deposit was acknowledged
      const sentDeposits = new Map<bigint, number>();
      const ackedOrders = new Set<bigint>();
      client.onEvent((e) => {
        if (e.type === "CommandAccepted" && sentDeposits.has(e.clientSeq)) acked.set(e.clientSeq, sentDeposits.get(e.clientSeq)!);
      });
      for (const t of traders) t.onEvent((e) => {
        if (e.type === "OrderAccepted") ackedOrders.add(e.clientSeq);
      });
      // Stream: each deposit goes to its own account (user 100 + i), 1 USDC + i units, so each is checkable alone.
      let killed = false;
      const sending = (async () => {
        for (let i = 0; i < 20_000 && !killed; i++) {
          const account = (100 + i) * 16;
          const seq = client.send({ type: "Deposit", account, asset: 0, amount: `1.${String(i).padStart(6, "0")}` });
          sentDeposits.set(seq, account);
          traders[i % 2]!.send({ type: "LimitOrder", account: i % 2 === 0 ? 16 : 32, market: 0, side: i % 2 === 0 ? "Buy" : "Sell", price: String(60000 + (i % 7) - 3), quantity: "0.001" });
          if (i % 50 === 49) await new Promise((r) => setImmediate(r));
        }
      })();
      while (acked.size < 2000) await new Promise((r) => setTimeout(r, 5));
      // With snapshots on, kill only once one is on disk (the schedule is checked once a second).
      while (snapshots && listSnapshots(join(dataDir, SNAPSHOT_DIR)).length === 0) await new Promise((r) => setTimeout(r, 5));
      while (segmentMb > 0 && readdirSync(join(dataDir, JOURNAL_SEGMENT_DIR)).length < 2) await new Promise((r) => setTimeout(r, 5));
      first.child.kill("SIGKILL");
      killed = true;
      await exitOf(first.child);
      await sending;
      await client.close().catch(() => {});
      for (const t of traders) await t.close().catch(() => {});
      const ackedCount = acked.size;
      expect(ackedCount).toBeGreaterThanOrEqual(2000);

      const second = await startServerProcess(dataDir, extra);
      if (snapshots) expect(second.log()).toMatch(/recovered snapshot \d+ \+ \d+ commands/);
      else expect(second.log()).not.toContain("snapshot");
      for (const [clientSeq, account] of acked) {
        const i = account / 16 - 100;
        expect(await usdcOf(second.port, account, dataDir), `acknowledged deposit #${clientSeq} to ${account}`).toBe(`1.${String(i).padStart(6, "0")}`.replace(/0+$/, "").replace(/\.$/, ""));
      }
      const hash = await liveHash(second.port, dataDir);
      second.child.kill("SIGTERM");
      expect(await exitOf(second.child)).toEqual({ code: 0, signal: null });
      expect(replayHash(dataDir)).toBe(hash);
      expect(ackedOrders.size).toBeGreaterThan(0);
    }, 300_000);
  }

  it("X4: SIGTERM drains in-flight commands, flushes the journal and exits 0; a restart reaches the same state", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-sigterm-"));
    const first = await startServerProcess(dataDir);
    const client = await CrossbookClient.connect(`ws://127.0.0.1:${first.port}`, { key: operatorKey(dataDir) });
    await client.request({ type: "Deposit", account: 16, asset: 0, amount: "123.456789" }, 50);
    const hash = await liveHash(first.port, dataDir);
    await client.close();
    first.child.kill("SIGTERM");
    expect(await exitOf(first.child)).toEqual({ code: 0, signal: null });
    expect(first.log()).toContain("stopped: journal flushed");
    const second = await startServerProcess(dataDir);
    expect(await usdcOf(second.port, 16, dataDir)).toBe("123.456789");
    expect(await liveHash(second.port, dataDir)).toBe(hash);
    second.child.kill("SIGINT");
    expect(await exitOf(second.child)).toEqual({ code: 0, signal: null });
  }, 180_000);

  it("X4: X5: SIGTERM under load loses no acknowledgement: every acknowledged deposit is journaled, every journaled one was acknowledged, later ones get ShuttingDown, clients get a 1001 close frame, exit 0", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-sigterm-load-"));
    const first = await startServerProcess(dataDir);
    const client = await CrossbookClient.connect(`ws://127.0.0.1:${first.port}`, { key: operatorKey(dataDir) });
    const accountOf = new Map<bigint, number>();
    const acked = new Set<number>();
    const shuttingDown = new Set<number>();
    let otherAnswers = 0;
    client.onEvent((e) => {
      const account = accountOf.get(e.clientSeq);
      if (account === undefined) return;
      if (e.type === "CommandAccepted") acked.add(account);
      else if (e.type === "CommandRejected" && (e as { code: string }).code === "ShuttingDown") shuttingDown.add(account);
      else if (e.type !== "Balance") otherAnswers++;
    });
    let close: CloseInfo | null = null;
    void client.closed.then((c) => {
      close = c;
    });
    let signalled = false;
    // Deposits to one account each ((1000 + i) × 16), so the journal tells exactly which were executed.
    const sending = (async () => {
      for (let i = 0; i < 30_000 && close === null; i++) {
        const account = (1000 + i) * 16;
        accountOf.set(client.send({ type: "Deposit", account, asset: 0, amount: "1" }), account);
        if (i % 200 === 199) await new Promise((r) => setImmediate(r));
        if (!signalled && acked.size >= 1000) {
          signalled = true;
          first.child.kill("SIGTERM");
        }
      }
    })();
    await sending;
    expect(await exitOf(first.child)).toEqual({ code: 0, signal: null });
    await client.closed;
    expect(close).toEqual({ code: 1001, reason: "server shutting down" });
    expect(first.log()).not.toContain("FATAL");
    const journaled = new Set<number>();
    for (const b of segmentBatches(listSegments(dataDir), { configDigestHex: null })) {
      for (let i = 0; i < b.count; i++) if (b.commands[i]!.kind === CommandKind.Deposit) journaled.add(b.commands[i]!.account);
    }
    expect(acked.size).toBeGreaterThanOrEqual(1000);
    expect([...journaled].filter((a) => !acked.has(a))).toEqual([]);
    expect([...acked].filter((a) => !journaled.has(a))).toEqual([]);
    // Frames read after the signal (how many depends on timing) are refused with ShuttingDown and never executed.
    expect([...shuttingDown].filter((a) => journaled.has(a))).toEqual([]);
    expect(otherAnswers).toBe(0);
    // The restarted server has every acknowledged deposit (and the data directory was unlocked).
    const second = await startServerProcess(dataDir);
    const last = Math.max(...acked);
    expect(await usdcOf(second.port, last, dataDir)).toBe("1");
    second.child.kill("SIGTERM");
    expect(await exitOf(second.child)).toEqual({ code: 0, signal: null });
  }, 120_000);
});
