// Crash recovery: the server process is killed with SIGKILL while a client is sending; after a restart every
// acknowledged command is in the recovered state, and the live state hash equals a single-threaded replay of the
// journal (X4, DESIGN rule 6) — with snapshots off, and on (X7: restart from the newest snapshot + journal tail).
// Also: SIGTERM drains, flushes and exits 0.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { listSnapshots, SNAPSHOT_DIR } from "../engine/journal/index.ts";
import { CrossbookClient } from "../gateway/client/ws-client.ts";

const BIN = new URL("../bin/crossbook.mjs", import.meta.url).pathname;
const TOKEN = "recovery-operator-token";
const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

/** Starts `crossbook start` on a free port; resolves with the process and its port once it listens. */
function startServerProcess(dataDir: string, extra: readonly string[] = []): Promise<{ child: ChildProcess; port: number; log: () => string }> {
  const child = spawn(process.execPath, [BIN, "start", "--port", "0", "--data", dataDir, "--tick-ms", "0", ...extra], {
    env: { ...process.env, CROSSBOOK_ADMIN_TOKEN: TOKEN },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  return new Promise((resolve, reject) => {
    // Generous: on a loaded machine the restart replays tens of thousands of journal records before it listens.
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 120_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = /listening on ws:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), log: () => out });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`server exited (${code}) before listening:\n${out}`)));
  });
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

async function usdcOf(port: number, account: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/balances?account=${account}`);
  const body = (await r.json()) as { balances: { asset: string; available: string }[] };
  return body.balances.find((b) => b.asset === "USDC")!.available;
}

async function liveHash(port: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/state-hash?token=${TOKEN}`);
  return ((await r.json()) as { hash: string }).hash;
}

function replayHash(dataDir: string): string {
  const r = spawnSync(process.execPath, [BIN, "journal-hash", "--data", dataDir], { encoding: "utf8" });
  expect(r.status).toBe(0);
  return (JSON.parse(r.stdout.trim()) as { stateHash: string }).stateHash;
}

describe("crash recovery", () => {
  for (const snapshots of [false, true]) {
    // With snapshots on, the server writes one every 1,000 commands (checked each second) while the client sends, so
    // the kill can land during a snapshot write and the restart loads the newest snapshot plus the journal after it.
    const extra = snapshots ? ["--snapshot-every-commands", "1000"] : ["--snapshot-every-commands", "0", "--snapshot-every-minutes", "0"];
    it(`X4${snapshots ? "/X7" : ""}: SIGKILL while a client is sending${snapshots ? " (snapshots on)" : ""}: every acknowledged deposit survives, and the live hash equals a single-threaded journal replay`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), "crossbook-recovery-"));
      const first = await startServerProcess(dataDir, extra);
      const client = await CrossbookClient.connect(`ws://127.0.0.1:${first.port}`, { token: TOKEN });
      // Two traders with funds, so orders rest and trade while deposits stream in.
      await client.request({ type: "Deposit", account: 16, asset: 0, amount: "1000000" }, 50);
      await client.request({ type: "Deposit", account: 32, asset: 2, amount: "100" }, 50);
      const acked = new Map<bigint, number>(); // clientSeq → account whose deposit was acknowledged
      const sentDeposits = new Map<bigint, number>();
      const ackedOrders = new Set<bigint>();
      client.onEvent((e) => {
        if (e.type === "CommandAccepted" && sentDeposits.has(e.clientSeq)) acked.set(e.clientSeq, sentDeposits.get(e.clientSeq)!);
        if (e.type === "OrderAccepted") ackedOrders.add(e.clientSeq);
      });
      // Stream: each deposit goes to its own account (user 100 + i), 1 USDC + i units, so each is checkable alone.
      let killed = false;
      const sending = (async () => {
        for (let i = 0; i < 20_000 && !killed; i++) {
          const account = (100 + i) * 16;
          const seq = client.send({ type: "Deposit", account, asset: 0, amount: `1.${String(i).padStart(6, "0")}` });
          sentDeposits.set(seq, account);
          client.send({ type: "LimitOrder", account: i % 2 === 0 ? 16 : 32, market: 0, side: i % 2 === 0 ? "Buy" : "Sell", price: String(60000 + (i % 7) - 3), quantity: "0.001" });
          if (i % 50 === 49) await new Promise((r) => setImmediate(r));
        }
      })();
      while (acked.size < 2000) await new Promise((r) => setTimeout(r, 5));
      // With snapshots on, kill only once one is on disk (the schedule is checked once a second).
      while (snapshots && listSnapshots(join(dataDir, SNAPSHOT_DIR)).length === 0) await new Promise((r) => setTimeout(r, 5));
      first.child.kill("SIGKILL");
      killed = true;
      await exitOf(first.child);
      await sending;
      await client.close().catch(() => {});
      const ackedCount = acked.size;
      expect(ackedCount).toBeGreaterThanOrEqual(2000);

      const second = await startServerProcess(dataDir, extra);
      if (snapshots) expect(second.log()).toMatch(/recovered snapshot \d+ \+ \d+ commands/);
      else expect(second.log()).not.toContain("snapshot");
      for (const [clientSeq, account] of acked) {
        const i = account / 16 - 100;
        expect(await usdcOf(second.port, account), `acknowledged deposit #${clientSeq} to ${account}`).toBe(`1.${String(i).padStart(6, "0")}`.replace(/0+$/, "").replace(/\.$/, ""));
      }
      const hash = await liveHash(second.port);
      second.child.kill("SIGTERM");
      expect(await exitOf(second.child)).toEqual({ code: 0, signal: null });
      expect(replayHash(dataDir)).toBe(hash);
      expect(ackedOrders.size).toBeGreaterThan(0);
    }, 300_000);
  }

  it("X4: SIGTERM drains in-flight commands, flushes the journal and exits 0; a restart reaches the same state", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-sigterm-"));
    const first = await startServerProcess(dataDir);
    const client = await CrossbookClient.connect(`ws://127.0.0.1:${first.port}`, { token: TOKEN });
    await client.request({ type: "Deposit", account: 16, asset: 0, amount: "123.456789" }, 50);
    const hash = await liveHash(first.port);
    await client.close();
    first.child.kill("SIGTERM");
    expect(await exitOf(first.child)).toEqual({ code: 0, signal: null });
    expect(first.log()).toContain("stopped: journal flushed");
    const second = await startServerProcess(dataDir);
    expect(await usdcOf(second.port, 16)).toBe("123.456789");
    expect(await liveHash(second.port)).toBe(hash);
    second.child.kill("SIGINT");
    expect(await exitOf(second.child)).toEqual({ code: 0, signal: null });
  }, 180_000);
});
