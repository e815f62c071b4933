// X6 (and X5 for replays): who may act. Every session proves who it is with an ED25519 login before it acts; it acts
// and reads only for its user's accounts (user × 16 + sub) within its key's permissions; a login signature and a
// client_seq are accepted once. The theft sequence of issue 10 — another user's cancels, settings, withdrawal,
// borrow and a cheap sale to the thief — is refused at its first frame and changes nothing.
import type { KeyObject } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../engine/pipeline/index.ts";
import { apiKeyOf, generateKey, signLogin } from "../gateway/auth/keys.ts";
import { encodeCommand, type CommandJson, type EventJson } from "../gateway/client/codec.ts";
import { CrossbookClient, LoginError, signedGet } from "../gateway/client/ws-client.ts";
import { startServer, type RunningServer } from "../gateway/server.ts";
import { connectUser, getBalances, registerKey } from "./helpers/auth.ts";

const config = loadConfig();
const USDC = 0;
const BTC = 2;
const BTC_USDC = 0;
const READ = 1;
const TRADE = 2;
const WITHDRAW = 4;

let server: RunningServer;
let url: string;
let http: string;
let operator: CrossbookClient;
/** The victim: user 2, main account 32, logged in with its own key. */
let victimKey: KeyObject;
/** The thief: user 1, main account 16. */
let thiefKey: KeyObject;

beforeAll(async () => {
  server = await startServer({ config, host: "127.0.0.1", port: 0, dataDir: mkdtempSync(join(tmpdir(), "crossbook-auth-")), tickIntervalMs: 0, log: () => {} });
  url = `ws://127.0.0.1:${server.port}`;
  http = `http://127.0.0.1:${server.port}/`;
  operator = await CrossbookClient.connect(url, { key: server.operatorKey });
  victimKey = await registerKey(operator, 2);
  thiefKey = await registerKey(operator, 1);
  await operator.request({ type: "SetMarkPrice", asset: BTC, price: "60000" }, 20);
  await operator.request({ type: "Deposit", account: 32, asset: USDC, amount: "10000" }, 20);
  await operator.request({ type: "Deposit", account: 32, asset: BTC, amount: "0.9" }, 20);
  await operator.request({ type: "Deposit", account: 16, asset: USDC, amount: "50000" }, 20);
  const victim = await CrossbookClient.connect(url, { key: victimKey });
  const rest = await victim.request({ type: "LimitOrder", account: 32, market: BTC_USDC, side: "Buy", price: "50000", quantity: "0.1", clientId: 1 }, 30);
  expect(rest.map((e) => e.type)).toEqual(["Balance", "OrderAccepted"]);
  await victim.close();
});

afterAll(async () => {
  await operator?.close();
  await server?.stop();
});

async function balancesOf(account: number): Promise<Record<string, { available: string; locked: string }>> {
  const r = await getBalances(server.port, account, server.operatorKey);
  const body = (await r.json()) as { balances: { asset: string; available: string; locked: string }[] };
  return Object.fromEntries(body.balances.filter((b) => b.available !== "0" || b.locked !== "0").map((b) => [b.asset, { available: b.available, locked: b.locked }]));
}

/** Sends a frame and returns every event answering its client_seq within a short quiet period. */
async function answerTo(c: CrossbookClient, clientSeq: bigint, frame: Uint8Array, quietMs = 60): Promise<EventJson[]> {
  const got: EventJson[] = [];
  const off = c.onEvent((e) => {
    if (e.clientSeq === clientSeq) got.push(e);
  });
  c.sendRaw(frame);
  const deadline = Date.now() + 3000;
  while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, quietMs));
  off();
  return got;
}

function codes(events: EventJson[]): string[] {
  return events.map((e) => `${e.type}:${String((e as { code?: string }).code ?? "")}`);
}

const VICTIM_BALANCES = { USDC: { available: "5000", locked: "5000" }, BTC: { available: "0.9", locked: "0" } };

const THEFT: CommandJson[] = [
  { type: "CancelAll", account: 32 },
  { type: "Cancel", account: 32, market: BTC_USDC, clientId: 1 },
  { type: "UpdateAccountSettings", account: 32, leverageLimit: 50, autoLend: true },
  { type: "Withdraw", account: 32, asset: USDC, amount: "1000" },
  { type: "Borrow", account: 32, asset: USDC, amount: "1000" },
  { type: "Transfer", fromAccount: 32, toAccount: 33, asset: USDC, amount: "1000" },
  { type: "LimitOrder", account: 32, market: BTC_USDC, side: "Sell", price: "46000", quantity: "0.9" },
  { type: "LimitOrder", account: 33, market: BTC_USDC, side: "Sell", price: "46000", quantity: "0.9" },
];

describe("X6: another user's account", () => {
  it("X6: the theft sequence (cancel, settings, withdraw, borrow, transfer, sell 0.9 BTC at 46,000) is refused at its first frame with Forbidden; the victim's balances and the state hash do not move, and the thief's bid finds nothing to buy", async () => {
    const hashBefore = await server.stateHash();
    const thief = await CrossbookClient.connect(url, { key: thiefKey });
    for (const cmd of THEFT) {
      const events = await thief.request(cmd, 40);
      expect(codes(events), cmd.type).toEqual([`${cmd.type === "LimitOrder" ? "OrderRejected" : "CommandRejected"}:Forbidden`]);
      expect((events[0] as { message: string }).message).toMatch(/is not user 1's/);
    }
    expect(await server.stateHash()).toBe(hashBefore);
    expect(await balancesOf(32)).toEqual(VICTIM_BALANCES);
    const buy = await thief.request({ type: "LimitOrder", account: 16, market: BTC_USDC, side: "Buy", price: "46000", quantity: "0.9", tif: "IOC" }, 40);
    expect(buy.filter((e) => e.type === "Fill")).toEqual([]);
    expect(buy.find((e) => e.type === "OrderDone")).toMatchObject({ reason: "Expired", filled: "0", remaining: "0.9" });
    expect(await balancesOf(32)).toEqual(VICTIM_BALANCES);
    expect(await balancesOf(16)).toEqual({ USDC: { available: "50000", locked: "0" } });
    await thief.close();
  });

  it("X6: without a login, every account command is refused with NotLoggedIn and changes nothing", async () => {
    const hashBefore = await server.stateHash();
    const anonymous = await CrossbookClient.connect(url);
    for (const cmd of THEFT) {
      const events = await anonymous.request(cmd, 40);
      expect(codes(events), cmd.type).toEqual([`${cmd.type === "LimitOrder" ? "OrderRejected" : "CommandRejected"}:NotLoggedIn`]);
    }
    expect(await server.stateHash()).toBe(hashBefore);
    // Public market data needs no login.
    const snapshot = anonymous.waitFor((e) => e.type === "DepthSnapshot");
    anonymous.send({ type: "Subscribe", market: BTC_USDC, channels: ["Depth"] });
    expect(await snapshot).toMatchObject({ market: BTC_USDC, bids: [{ price: "50000", quantity: "0.1" }] });
    await anonymous.close();
  });

  it("X6: reads of another user's account are refused: queries, ?watch=, GET /balances (and unsigned or forged requests)", async () => {
    const thief = await CrossbookClient.connect(url, { key: thiefKey });
    for (const cmd of [
      { type: "QueryCollateral", account: 32 },
      { type: "QueryMaxWithdrawal", account: 32, asset: USDC },
      { type: "QueryMaxOrder", account: 32, market: BTC_USDC, side: "Sell", price: "60000" },
      { type: "QueryInterestHistory", account: 32 },
      { type: "QueryMaxBorrow", account: 32, asset: USDC },
    ] as CommandJson[]) {
      expect(codes(await thief.request(cmd, 40)), cmd.type).toEqual(["CommandRejected:Forbidden"]);
    }
    await thief.close();

    const watcher = await CrossbookClient.connect(url, { key: thiefKey, watch: [32, 16] });
    const seen: EventJson[] = [];
    watcher.onEvent((e) => seen.push(e));
    await new Promise((r) => setTimeout(r, 50));
    await operator.request({ type: "Deposit", account: 32, asset: USDC, amount: "1" }, 30);
    await operator.request({ type: "Deposit", account: 16, asset: USDC, amount: "1" }, 30);
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.some((e) => (e as { account?: number }).account === 32 && e.type !== "CommandRejected")).toBe(false);
    expect(seen.filter((e) => e.type === "Balance").map((e) => (e as { account: number }).account)).toEqual([16]);
    await watcher.close();

    const foreign = await getBalances(server.port, 32, thiefKey);
    expect(foreign.status).toBe(403);
    expect(await foreign.json()).toMatchObject({ code: "Forbidden" });
    expect((await getBalances(server.port, 16, thiefKey)).status).toBe(200);
    const unsigned = await fetch(`${http}balances?account=32`);
    expect(unsigned.status).toBe(401);
    expect(await unsigned.json()).toMatchObject({ code: "NotLoggedIn" });
    // Signed for account 16, sent for account 32: the signature covers the parameters.
    const headers = (await import("../gateway/auth/keys.ts")).signedHeaders(thiefKey, "balanceQuery", { account: "16" });
    const forged = await fetch(`${http}balances?account=32`, { headers });
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ code: "BadSignature" });
    expect((await signedGet(http, "/state-hash", "stateHashQuery", {}, thiefKey)).status).toBe(403);
    expect((await fetch(`${http}state-hash`)).status).toBe(401);
    expect((await signedGet(http, "/keys", "apiKeyQuery", { user: "2" }, thiefKey)).status).toBe(403);
    expect((await fetch(`${http}config`)).status).toBe(200);
  });
});

describe("X6: login", () => {
  it("X5: X6: a replayed login frame is refused (Replayed) on another connection, which stays logged out", async () => {
    const signed = signLogin(victimKey);
    const frame = encodeCommand(1n, { type: "Login", ...signed });
    const first = await CrossbookClient.connect(url);
    expect(codes(await answerTo(first, 1n, frame))).toEqual(["CommandAccepted:"]);
    const second = await CrossbookClient.connect(url);
    const replay = await answerTo(second, 1n, frame);
    expect(codes(replay)).toEqual(["CommandRejected:Replayed"]);
    expect(codes(await second.request({ type: "CancelAll", account: 32 }, 40))).toEqual(["CommandRejected:NotLoggedIn"]);
    // And on the same connection: a session logs in once.
    expect(codes(await answerTo(first, 2n, encodeCommand(2n, { type: "Login", ...signed })))).toEqual(["CommandRejected:InvalidField"]);
    await first.close();
    await second.close();
  });

  it("X6: logins with one key in one millisecond all succeed: the client signs again one millisecond later when another process took this millisecond's signature (Replayed), and never signs one message twice itself", async () => {
    const frozenMs = Date.now();
    const clock = vi.spyOn(Date, "now").mockReturnValue(frozenMs);
    try {
      // "Another process": a raw login frame signed at the frozen millisecond.
      const other = await CrossbookClient.connect(url);
      expect(codes(await answerTo(other, 1n, encodeCommand(1n, { type: "Login", ...signLogin(victimKey, frozenMs) })))).toEqual(["CommandAccepted:"]);
      const sent: number[] = [];
      const clients: CrossbookClient[] = [];
      for (let i = 0; i < 3; i++) {
        const c = await CrossbookClient.connect(url);
        const send = c.send.bind(c);
        c.send = (cmd) => {
          if (cmd.type === "Login") sent.push(Number((cmd as { timestampMs: number }).timestampMs));
          return send(cmd);
        };
        expect((await c.login(victimKey)).type).toBe("CommandAccepted");
        clients.push(c);
      }
      // The first client's login at frozenMs was refused as a replay of the raw one and signed again at +1; the next two
      // clients started past their process's last timestamp.
      expect(sent.map((t) => t - frozenMs)).toEqual([0, 1, 2, 3]);
      expect(codes(await clients[2].request({ type: "CancelAll", account: 32, market: 99 }, 40))).toEqual(["CommandRejected:UnknownMarket"]);
      for (const c of [other, ...clients]) await c.close();
    } finally {
      clock.mockRestore();
    }
  });

  it("X6: a window above 60000 ms, a stale timestamp, another key's signature and an unregistered key are refused; the third failed login closes the connection (4401)", async () => {
    const c = await CrossbookClient.connect(url);
    const closed = new Promise<number>((resolve) => (c as unknown as { ws: WebSocket }).ws.addEventListener("close", (e) => resolve(e.code)));
    // Refused by the decoder (a malformed login, not a failed one).
    const wide = signLogin(victimKey, Date.now(), 60_001);
    expect(codes(await answerTo(c, 2n, encodeCommand(2n, { type: "Login", ...wide })))).toEqual(["CommandRejected:BadSignature"]);
    const stale = signLogin(victimKey, Date.now() - 10_001, 10_000);
    expect(codes(await answerTo(c, 1n, encodeCommand(1n, { type: "Login", ...stale })))).toEqual(["CommandRejected:BadSignature"]);
    const forged = { ...signLogin(thiefKey), apiKey: apiKeyOf(victimKey) };
    expect(codes(await answerTo(c, 3n, encodeCommand(3n, { type: "Login", ...forged })))).toEqual(["CommandRejected:BadSignature"]);
    const unknown = signLogin(generateKey());
    expect(codes(await answerTo(c, 4n, encodeCommand(4n, { type: "Login", ...unknown })))).toEqual(["CommandRejected:UnknownApiKey"]);
    expect(await closed).toBe(4401);
  });

  it("X5: X6: within a session client_seq must rise: a frame replayed three times makes one order", async () => {
    const c = await CrossbookClient.connect(url, { key: thiefKey });
    const frame = encodeCommand(100n, { type: "LimitOrder", account: 16, market: BTC_USDC, side: "Buy", price: "40000", quantity: "0.01", clientId: 77 });
    expect(codes(await answerTo(c, 100n, frame))).toEqual(["Balance:", "OrderAccepted:"]);
    expect(codes(await answerTo(c, 100n, frame))).toEqual(["OrderRejected:Replayed"]);
    expect(codes(await answerTo(c, 100n, frame))).toEqual(["OrderRejected:Replayed"]);
    const older = encodeCommand(99n, { type: "LimitOrder", account: 16, market: BTC_USDC, side: "Buy", price: "40000", quantity: "0.01", clientId: 78 });
    expect(codes(await answerTo(c, 99n, older))).toEqual(["OrderRejected:Replayed"]);
    // One order of 0.01 BTC at 40,000 holds exactly 400 USDC.
    // (50,000 deposited, 1 more by the reads test.)
    expect((await balancesOf(16)).USDC).toEqual({ available: "49601", locked: "400" });
    expect(codes(await answerTo(c, 101n, encodeCommand(101n, { type: "CancelAll", account: 16 })))).toContain("OrderDone:");
    expect((await balancesOf(16)).USDC).toEqual({ available: "50001", locked: "0" });
    await c.close();
  });
});

describe("X6: permissions and keys", () => {
  it("X6: a read key reads but neither trades nor withdraws; a trade key trades but cannot withdraw or transfer out; a withdraw key withdraws", async () => {
    await operator.request({ type: "Deposit", account: 48, asset: USDC, amount: "100" }, 20);
    const reader = await connectUser(url, operator, 3, undefined, READ);
    expect((await reader.request({ type: "QueryMaxWithdrawal", account: 48, asset: USDC }, 40))[0]).toMatchObject({ type: "MaxWithdrawalQuantity", quantity: "100" });
    expect(codes(await reader.request({ type: "LimitOrder", account: 48, market: BTC_USDC, side: "Buy", price: "40000", quantity: "0.001" }, 40))).toEqual(["OrderRejected:Forbidden"]);
    expect(codes(await reader.request({ type: "Withdraw", account: 48, asset: USDC, amount: "1" }, 40))).toEqual(["CommandRejected:Forbidden"]);
    const trader = await connectUser(url, operator, 3, undefined, READ | TRADE);
    expect(codes(await trader.request({ type: "Withdraw", account: 48, asset: USDC, amount: "1" }, 40))).toEqual(["CommandRejected:Forbidden"]);
    expect(codes(await trader.request({ type: "Transfer", fromAccount: 48, toAccount: 49, asset: USDC, amount: "1" }, 40))).toEqual(["CommandRejected:Forbidden"]);
    // (Account 48: a settings change on a never-funded account is refused, X5 — accounts exist only by deposit or transfer.)
    expect(codes(await trader.request({ type: "UpdateAccountSettings", account: 48, leverageLimit: 10 }, 40))).toEqual(["CommandAccepted:", "AccountSettings:"]);
    const withdrawer = await connectUser(url, operator, 3, undefined, WITHDRAW);
    expect(codes(await withdrawer.request({ type: "QueryCollateral", account: 48 }, 40))).toEqual(["CommandRejected:Forbidden"]);
    expect(codes(await withdrawer.request({ type: "Withdraw", account: 48, asset: USDC, amount: "1" }, 40))).toEqual(["CommandAccepted:", "Balance:"]);
    expect(await balancesOf(48)).toEqual({ USDC: { available: "99", locked: "0" } });
    for (const c of [reader, trader, withdrawer]) await c.close();
  });

  it("X6: operator commands need the operator key; the operator key reads any account but trades for none", async () => {
    const user = await CrossbookClient.connect(url, { key: thiefKey });
    for (const cmd of [
      { type: "Deposit", account: 16, asset: USDC, amount: "1000000" },
      { type: "SetMarkPrice", asset: BTC, price: "1" },
      { type: "SetMarketState", market: BTC_USDC, state: "Closed" },
      { type: "RegisterApiKey", user: 2, apiKey: apiKeyOf(generateKey()), permissions: 7 },
      { type: "RevokeApiKey", user: 2, apiKey: apiKeyOf(victimKey) },
    ] as CommandJson[]) {
      expect(codes(await user.request(cmd, 40)), cmd.type).toEqual(["CommandRejected:Unauthorized"]);
    }
    await user.close();
    expect((await operator.request({ type: "QueryCollateral", account: 32 }, 40))[0]).toMatchObject({ type: "AccountCollateral", account: 32 });
    expect(codes(await operator.request({ type: "Withdraw", account: 32, asset: USDC, amount: "1" }, 40))).toEqual(["CommandRejected:Forbidden"]);
  });

  it("X6: a revoked key's sessions are closed (4403) and it can no longer log in; keys per user are limited and a key is registered once", async () => {
    const key = await registerKey(operator, 4);
    const c = await CrossbookClient.connect(url, { key });
    const closed = new Promise<number>((resolve) => (c as unknown as { ws: WebSocket }).ws.addEventListener("close", (e) => resolve(e.code)));
    expect(codes(await operator.request({ type: "RevokeApiKey", user: 4, apiKey: apiKeyOf(key) }, 30))).toEqual(["CommandAccepted:"]);
    expect(await closed).toBe(4403);
    await expect(CrossbookClient.connect(url, { key })).rejects.toThrow(LoginError);
    expect(codes(await operator.request({ type: "RevokeApiKey", user: 4, apiKey: apiKeyOf(key) }, 30))).toEqual(["CommandRejected:UnknownApiKey"]);
    const { API_KEYS_PER_USER_MAX } = await import("../gateway/auth/registry.ts");
    const first = await registerKey(operator, 5);
    expect(codes(await operator.request({ type: "RegisterApiKey", user: 6, apiKey: apiKeyOf(first), permissions: 1 }, 30))).toEqual(["CommandRejected:InvalidField"]);
    for (let i = 1; i < API_KEYS_PER_USER_MAX; i++) await registerKey(operator, 5, READ);
    expect(codes(await operator.request({ type: "RegisterApiKey", user: 5, apiKey: apiKeyOf(generateKey()), permissions: 1 }, 30))).toEqual(["CommandRejected:TooManyApiKeys"]);
    expect(codes(await operator.request({ type: "RegisterApiKey", user: 5, apiKey: apiKeyOf(server.operatorKey), permissions: 1 }, 30))).toEqual(["CommandRejected:InvalidField"]);
    const listed = (await (await signedGet(http, "/keys", "apiKeyQuery", { user: "5" }, server.operatorKey)).json()) as { keys: { apiKey: string; permissions: string }[] };
    expect(listed.keys).toHaveLength(API_KEYS_PER_USER_MAX);
    expect(listed.keys[0]).toEqual({ apiKey: apiKeyOf(first), permissions: "read,trade,withdraw" });
  });
});
