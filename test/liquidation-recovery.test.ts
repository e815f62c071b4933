// Q2 across a crash: the server is killed with SIGKILL while four accounts are being liquidated through the book, one
// engine step per account per batch (the clock ticks journaled every second while they are liquidating). The steps are
// never journaled, only the commands and ticks that led to them; the restart replays the journal and makes the same
// steps again, the liquidation goes on, and the live state hash equals a single-threaded replay of the journal (X4) —
// also when batches of queries alone stepped the accounts live (D3): such a batch is journaled with its queries.
import { spawnSync, type ChildProcess } from "node:child_process";
import type { KeyObject } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ENGINE_ORDER_ID_BASE } from "../engine/liquidation/index.ts";
import { operatorKeyPath, readPrivateKeyFile } from "../gateway/auth/keys.ts";
import { CrossbookClient } from "../gateway/client/ws-client.ts";
import type { EventJson } from "../gateway/client/codec.ts";
import { connectUser, getStateHash } from "./helpers/auth.ts";
import { BIN, exitOf, startServerProcess, type ServerProcess } from "./helpers/server-process.ts";

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

const USDC = 0;
const SOL = 4;
const SOL_USDC = 2;
const BORROWERS = [2, 3, 4, 5]; // users: accounts 32, 48, 64, 80
// Snapshots off (the restart replays the whole journal). The first server proposes a clock tick every second (the
// helper turns them off), as `crossbook start` does; the restarted one none.
const NO_SNAPSHOTS = ["--snapshot-every-commands", "0", "--snapshot-every-minutes", "0"];
const TICKING = [...NO_SNAPSHOTS, "--tick-ms", "1000"];

function operatorKey(dataDir: string): KeyObject {
  return readPrivateKeyFile(operatorKeyPath(dataDir));
}

function replayHash(dataDir: string): string {
  const r = spawnSync(process.execPath, [BIN, "journal-hash", "--data", dataDir], { encoding: "utf8" });
  expect(r.status).toBe(0);
  return (JSON.parse(r.stdout.trim()) as { stateHash: string }).stateHash;
}

const isStep = (e: EventJson): boolean => e.type === "Fill" && e.takerOrderId >= BigInt(ENGINE_ORDER_ID_BASE);

async function until(what: string, done: () => boolean, timeoutMs = 60_000): Promise<void> {
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A session per borrower (watching its account) that counts the account's liquidation fills. */
async function watchBorrowers(url: string, op: CrossbookClient, steps: Map<number, number>): Promise<CrossbookClient[]> {
  const sessions: CrossbookClient[] = [];
  for (const user of BORROWERS) {
    const s = await connectUser(url, op, user, [user * 16]);
    s.onEvent((e) => {
      if (isStep(e)) steps.set(user * 16, (steps.get(user * 16) ?? 0) + 1);
    });
    sessions.push(s);
  }
  return sessions;
}

/** The lender, the bidder at 105 and the four borrowers, each with 10 SOL and a 1,000 USDC borrow. */
async function leveredBorrowers(url: string, op: CrossbookClient): Promise<CrossbookClient[]> {
  const lender = await connectUser(url, op, 1);
  const bidder = await connectUser(url, op, 6);
  await op.request({ type: "Deposit", account: 16, asset: USDC, amount: "100000" }, 20);
  await lender.request({ type: "Lend", account: 16, asset: USDC, amount: "100000" }, 20);
  await op.request({ type: "Deposit", account: 96, asset: USDC, amount: "100000" }, 20);
  const sessions = [lender, bidder];
  for (const user of BORROWERS) {
    const s = await connectUser(url, op, user);
    await op.request({ type: "Deposit", account: user * 16, asset: SOL, amount: "10" }, 20);
    expect((await s.request({ type: "Withdraw", account: user * 16, asset: USDC, amount: "1000", margin: true }, 50)).map((e) => e.type)).toContain("CommandAccepted");
    sessions.push(s);
  }
  await bidder.request({ type: "LimitOrder", account: 96, market: SOL_USDC, side: "Buy", price: "105", quantity: "200" }, 20);
  return sessions;
}

describe("Q2 book liquidation across a crash", () => {
  it("X4, D3: batches of one query each step every liquidating account live and are journaled with their query: a SIGKILL right after them, and the restart has the live hash (those steps' fills, already sent, are not lost)", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-liq-queries-"));
    // No clock ticks: every batch below is one request's.
    const first: ServerProcess = await startServerProcess(dataDir, children, NO_SNAPSHOTS);
    const url = `ws://127.0.0.1:${first.port}`;
    const op = await CrossbookClient.connect(url, { key: operatorKey(dataDir) });
    const sessions = await leveredBorrowers(url, op);
    const steps = new Map<number, number>();
    const watchers = await watchBorrowers(url, op, steps);
    await op.request({ type: "SetMarkPrice", asset: SOL, price: "105" }, 20);
    // Three batches of one query each, the last ones before the kill: each has its phase 0, one step per borrower
    // (the first step comes the batch after the mark's), whose fills the watchers get.
    for (let i = 0; i < 3; i++) await op.request({ type: "QueryCollateral", account: 32 }, 20);
    await until("three steps of every borrower", () => BORROWERS.every((u) => (steps.get(u * 16) ?? 0) >= 3));
    expect(BORROWERS.map((u) => steps.get(u * 16))).toEqual([3, 3, 3, 3]);
    const liveHash = (await getStateHash(first.port, operatorKey(dataDir))).hash;
    for (const c of [op, ...sessions, ...watchers]) await c.close().catch(() => {});
    first.child.kill("SIGKILL");
    await exitOf(first.child);

    const second = await startServerProcess(dataDir, children, NO_SNAPSHOTS);
    try {
      expect((await getStateHash(second.port, operatorKey(dataDir))).hash).toBe(liveHash);
    } finally {
      second.child.kill("SIGTERM");
      await exitOf(second.child);
    }
    expect(replayHash(dataDir)).toBe(liveHash);
  }, 300_000);

  it("Q2, X4: SIGKILL mid-liquidation (4 spot-margin accounts stepped each batch): the restart replays the same steps, the steps go on, and the live hash equals a single-threaded journal replay", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-liq-recovery-"));
    const first: ServerProcess = await startServerProcess(dataDir, children, TICKING);
    const url = `ws://127.0.0.1:${first.port}`;
    const op = await CrossbookClient.connect(url, { key: operatorKey(dataDir) });
    const sessions = await leveredBorrowers(url, op);
    const before = new Map<number, number>();
    const watchers = await watchBorrowers(url, op, before);
    // SOL falls to 105: 10 × 105 × 0.9 = 945 against 1,000 owed (negative equity). Each step sells ~1 SOL at 105 for
    // ~100 USDC (1 USDC of fee) and gains the 10% haircut back: about ten steps, one per batch, before each is out.
    await op.request({ type: "SetMarkPrice", asset: SOL, price: "105" }, 20);
    await until("two steps of every borrower", () => BORROWERS.every((u) => (before.get(u * 16) ?? 0) >= 2));
    first.child.kill("SIGKILL");
    await exitOf(first.child);
    for (const c of [op, ...sessions, ...watchers]) await c.close().catch(() => {});

    const second = await startServerProcess(dataDir, children, NO_SNAPSHOTS);
    const url2 = `ws://127.0.0.1:${second.port}`;
    const op2 = await CrossbookClient.connect(url2, { key: operatorKey(dataDir) });
    const after = new Map<number, number>();
    const watchers2 = await watchBorrowers(url2, op2, after);
    // The replayed journal left them liquidating (the steps of the first server replayed), and the steps go on.
    // No clock ticks now (--tick-ms 0): each command is one batch, so one step per borrower per command, and the
    // hash below cannot race a tick.
    let nudges = 0;
    while (!BORROWERS.every((u) => (after.get(u * 16) ?? 0) >= 1) && nudges < 50) {
      await op2.request({ type: "Deposit", account: 96, asset: USDC, amount: "1" }, 20);
      nudges++;
    }
    expect(BORROWERS.map((u) => after.get(u * 16) ?? 0).every((n) => n >= 1)).toBe(true);
    await op2.request({ type: "SetMarkPrice", asset: SOL, price: "150" }, 20);
    const hash = (await getStateHash(second.port, operatorKey(dataDir))).hash;
    for (const c of [op2, ...watchers2]) await c.close().catch(() => {});
    second.child.kill("SIGTERM");
    expect(await exitOf(second.child)).toEqual({ code: 0, signal: null });
    expect(replayHash(dataDir)).toBe(hash);
  }, 300_000);
});
