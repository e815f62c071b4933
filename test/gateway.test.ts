// The server end to end over the binary WebSocket protocol: an operator deposits, two accounts cross, both see
// the fill and exact balances; malformed and out-of-range frames get typed rejects and change nothing (X5).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeCommand, type EventJson } from "../gateway/client/codec.ts";
import { CrossbookClient } from "../gateway/client/ws-client.ts";
import type { RunningServer } from "../gateway/server.ts";
import * as wire from "../schemas/index.ts";
import { connectUser, getBalances } from "./helpers/auth.ts";
import { rawFrame } from "./helpers/frames.ts";
import { prng } from "./helpers/random-commands.ts";
import { startTestServer, stopTestServer, type TestServer } from "./helpers/test-server.ts";

let running: TestServer;
let server: RunningServer;
let url: string;
let operator: CrossbookClient;

beforeAll(async () => {
  running = await startTestServer("gw");
  ({ server, url, operator } = running);
});

afterAll(() => stopTestServer(running));

function only(events: EventJson[], type: string): EventJson[] {
  return events.filter((e) => e.type === type);
}

async function balances(account: number): Promise<Record<string, { available: string; locked: string; lent: string; borrowed: string }>> {
  const r = await getBalances(server.port, account, server.operatorKey);
  const body = (await r.json()) as { balances: { asset: string; available: string; locked: string; lent: string; borrowed: string }[] };
  return Object.fromEntries(body.balances.map((b) => [b.asset, { available: b.available, locked: b.locked, lent: b.lent, borrowed: b.borrowed }]));
}

/** Sends raw bytes and returns the first event answering them (the reject). */
async function rejectOf(client: CrossbookClient, bytes: Uint8Array): Promise<EventJson> {
  const next = client.waitFor(() => true);
  client.sendRaw(bytes);
  return next;
}


describe("gateway end to end", () => {
  it("two accounts cross on BTC_USDC: both see the fill and their balances change by exactly the trade and the fees (S5)", async () => {
    const alice = await connectUser(url, operator, 3, [48]);
    const bob = await connectUser(url, operator, 4, [64]);
    const dep1 = await operator.request({ type: "Deposit", account: 48, asset: 0, amount: "100000" });
    expect(only(dep1, "CommandAccepted")).toHaveLength(1);
    await operator.request({ type: "Deposit", account: 64, asset: 2, amount: "1" });
    const sell = await bob.request({ type: "LimitOrder", account: 64, market: 0, side: "Sell", price: "60000", quantity: "0.5", clientId: 7 });
    expect(only(sell, "OrderAccepted")[0]).toMatchObject({ clientId: 7n, price: "60000", quantity: "0.5" });
    const bobFill = bob.waitFor((e) => e.type === "Fill");
    const buy = await alice.request({ type: "LimitOrder", account: 48, market: 0, side: "Buy", price: "60500", quantity: "0.5" });
    const takerFill = only(buy, "Fill")[0]!;
    expect(takerFill).toMatchObject({ price: "60000", quantity: "0.5", quoteQuantity: "30000", takerAccount: 48, makerAccount: 64, fee: "0.0005", isMaker: false });
    expect(await bobFill).toMatchObject({ price: "60000", quantity: "0.5", fee: "24", isMaker: true });
    expect(only(buy, "OrderDone")[0]).toMatchObject({ reason: "Filled", filled: "0.5", remaining: "0" });
    // The taker's session never sees the maker's balances.
    expect(only(buy, "Balance").every((e) => (e as { account: number }).account === 48)).toBe(true);
    expect(await balances(48)).toMatchObject({ USDC: { available: "70000", locked: "0" }, BTC: { available: "0.4995", locked: "0" } });
    expect(await balances(64)).toMatchObject({ USDC: { available: "29976", locked: "0" }, BTC: { available: "0.5", locked: "0" } });
    await alice.close();
    await bob.close();
  });

  it("L12: turning auto-lend on publishes the moved balances; GET /balances shows lent and borrowed", async () => {
    const carol = await connectUser(url, operator, 7, [112, 113]);
    await operator.request({ type: "Deposit", account: 112, asset: 0, amount: "1000" });
    await operator.request({ type: "Deposit", account: 113, asset: 4, amount: "10" });
    const on = await carol.request({ type: "UpdateAccountSettings", account: 112, autoLend: true });
    const moved = only(on, "Balance");
    expect(moved).toHaveLength(1);
    expect(moved[0]).toMatchObject({ type: "Balance", account: 112, asset: 0, available: "0", locked: "0", lent: "1000" });
    expect((await balances(112)).USDC).toEqual({ available: "0", locked: "0", lent: "1000", borrowed: "0" });
    // A borrow kept in the account shows as available and borrowed.
    const borrow = await carol.request({ type: "Borrow", account: 113, asset: 0, amount: "100" });
    expect(only(borrow, "CommandAccepted")).toHaveLength(1);
    expect((await balances(113)).USDC).toEqual({ available: "100", locked: "0", lent: "0", borrowed: "100" });
    await carol.close();
  });

  it("X6: a deposit from a session without the operator key is refused (NotLoggedIn; a user's key: Unauthorized)", async () => {
    const c = await CrossbookClient.connect(url);
    const events = await c.request({ type: "Deposit", account: 80, asset: 0, amount: "5" });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: "CommandRejected", code: "NotLoggedIn" });
    await c.close();
    const user = await connectUser(url, operator, 5);
    const own = await user.request({ type: "Deposit", account: 80, asset: 0, amount: "5" });
    expect(own).toHaveLength(1);
    expect(own[0]).toMatchObject({ type: "CommandRejected", code: "Unauthorized" });
    await user.close();
  });

  it("X5: truncated frames, random bytes, an unknown union type, negative and over-scale amounts and an unknown market get typed rejects, and the state hash does not move", async () => {
    const before = await server.stateHash();
    const c = await CrossbookClient.connect(url, { key: server.operatorKey });
    const order = encodeCommand(5n, { type: "LimitOrder", account: 96, market: 0, side: "Buy", price: "60000", quantity: "0.1" });
    for (const cut of [0, 1, 4, 7, 8, 12, 20, order.length - 9, order.length - 1]) {
      const e = await rejectOf(c, order.subarray(0, cut));
      expect(e.type).toMatch(/Rejected$/);
      expect(e).toMatchObject({ code: "MalformedFrame" });
    }
    const rand = prng(42);
    for (let i = 0; i < 50; i++) {
      const bytes = new Uint8Array(1 + Math.floor(rand() * 200));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(rand() * 256);
      const e = await rejectOf(c, bytes);
      expect(["MalformedFrame", "UnknownCommand", "InvalidField", "InvalidAccount", "UnknownMarket", "UnknownAsset", "InvalidAmount", "InvalidPrice", "InvalidQuantity"]).toContain(e.type === "CommandRejected" || e.type === "OrderRejected" ? (e as { code: string }).code : "accepted?!");
    }
    const unknownUnion = rawFrame(9n, 99, (b) => {
      wire.Deposit.startDeposit(b);
      wire.Deposit.addAccount(b, 96);
      return wire.Deposit.endDeposit(b);
    });
    expect(await rejectOf(c, unknownUnion)).toMatchObject({ clientSeq: 9n, code: "UnknownCommand" });
    const negative = await c.request({ type: "Deposit", account: 96, asset: 0, amount: "-5" });
    expect(negative[0]).toMatchObject({ type: "CommandRejected", code: "InvalidAmount" });
    const overScale = await c.request({ type: "Deposit", account: 96, asset: 2, amount: "0.000000001" });
    expect(overScale[0]).toMatchObject({ type: "CommandRejected", code: "InvalidAmount" });
    expect((overScale[0] as { message: string }).message).toMatch(/over-scale/);
    const unknownMarket = await c.request({ type: "LimitOrder", account: 96, market: 77, side: "Buy", price: "1", quantity: "1" });
    expect(unknownMarket[0]).toMatchObject({ type: "OrderRejected", code: "UnknownMarket" });
    const unknownAsset = await c.request({ type: "Deposit", account: 96, asset: 42, amount: "1" });
    expect(unknownAsset[0]).toMatchObject({ type: "CommandRejected", code: "UnknownAsset" });
    expect(await server.stateHash()).toBe(before);
    await c.close();
  });

  it("X5: a text frame is refused with MalformedFrame", async () => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    await new Promise((r) => ws.addEventListener("open", r, { once: true }));
    const reply = new Promise<ArrayBuffer>((r) => ws.addEventListener("message", (m) => r(m.data as ArrayBuffer), { once: true }));
    ws.send("hello");
    const { decodeEvent } = await import("../gateway/client/codec.ts");
    expect(decodeEvent(new Uint8Array(await reply))).toMatchObject({ type: "CommandRejected", code: "MalformedFrame" });
    ws.close();
  });
});
