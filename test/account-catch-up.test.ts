// A client that falls behind is closed with a reason and catches up (X5): it asks for its account's events again
// from a sequence number it names (the gateway's bounded per-account log), or for a fresh snapshot of the account —
// balances and resting orders — with the sequence number it is valid at.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../engine/pipeline/index.ts";
import { type EventJson } from "../gateway/client/codec.ts";
import { CrossbookClient } from "../gateway/client/ws-client.ts";
import { CLOSE_TRY_AGAIN_LATER } from "../gateway/limits.ts";
import { startServer, type GatewayLimits, type RunningServer } from "../gateway/server.ts";
import { connectUser, getStateHash, registerKey } from "./helpers/auth.ts";
import { floodUntil, nonReadingClient } from "./helpers/raw-ws.ts";

const config = loadConfig();
const running: RunningServer[] = [];

afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
});

async function serve(limits: Partial<GatewayLimits> = {}): Promise<{ server: RunningServer; url: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), "crossbook-catch-up-"));
  const server = await startServer({ config, host: "127.0.0.1", port: 0, dataDir, tickIntervalMs: 0, log: () => {}, limits });
  running.push(server);
  return { server, url: `ws://127.0.0.1:${server.port}` };
}

/** An event without its client_seq (re-sent events carry 0; the watcher saw 0 too, but say so explicitly). */
function plain(e: EventJson): EventJson {
  return { ...e, clientSeq: 0n };
}

describe("catching up on an account", () => {
  it("X5: a client cut for not reading (close 1013) reconnects and resumes its account's events from a seq it names: exactly the events a reading watcher got from there", async () => {
    const { server, url } = await serve({ sessionUnsentMaxBytes: 256 * 1024 });
    const ALICE = 16 * 300;
    const BOB = 16 * 301;
    const operator = await CrossbookClient.connect(url, { key: server.operatorKey });
    const watcher = await connectUser(url, operator, ALICE >>> 4, [ALICE]);
    const seen: EventJson[] = [];
    watcher.onEvent((e) => seen.push(e));
    // The hog watches Alice too, and asks for large answers it never reads until it is cut.
    const hog = await nonReadingClient(server.port, `/?watch=${ALICE}`, await registerKey(operator, ALICE >>> 4));
    await operator.request({ type: "Deposit", account: ALICE, asset: 0, amount: "100000" }, 20);
    await operator.request({ type: "Deposit", account: BOB, asset: 2, amount: "2" }, 20);
    const bob = await connectUser(url, operator, BOB >>> 4);
    const alice = await connectUser(url, operator, ALICE >>> 4);
    await bob.request({ type: "LimitOrder", account: BOB, market: 0, side: "Sell", price: "60000", quantity: "1" }, 20);
    for (let i = 0; i < 20; i++) await alice.request({ type: "LimitOrder", account: ALICE, market: 0, side: "Buy", price: "60000", quantity: "0.01" }, 5);
    await floodUntil(hog, () => server.stats().slowConsumersCut > 0);
    const close = await hog.resume();
    expect(close?.code).toBe(CLOSE_TRY_AGAIN_LATER);
    // (X6: registering the resuming session's key answers on Alice's account too: connect it before counting.)
    const resumed = await connectUser(url, operator, ALICE >>> 4);
    await new Promise((r) => setTimeout(r, 100));
    // Resume from the seq of the third order's events: the watcher's events from the first of that seq on, in order.
    const orderSeqs = [...new Set(seen.filter((e) => e.type === "OrderAccepted").map((e) => e.seq))];
    expect(orderSeqs).toHaveLength(20);
    const fromSeq = Number(orderSeqs[2]!);
    const expected = seen.slice(seen.findIndex((e) => e.seq >= BigInt(fromSeq))).map(plain);
    const { events, done } = await resumed.resume(ALICE, fromSeq);
    expect(done).toMatchObject({ type: "ResumeDone", account: ALICE, fromSeq: BigInt(fromSeq), events: expected.length, complete: true });
    expect(events.map(plain)).toEqual(expected);
    // 18 orders of 0.01 BTC at 60,000, each filled against Bob's sell, each with its fill and balances.
    expect(events.filter((e) => e.type === "Fill")).toHaveLength(18);
    // Alice was watched before her first command. Bob was first watched when his session logged in (after seq 5,
    // his key's registration), after his deposit (seq 4): from seq 1 his log is not complete; from his order (7) it is.
    // (X6: seq 1 registers the watcher's key, answered on Alice's account before anyone watched it: from 2 on.)
    expect((await resumed.resume(ALICE, 1)).done).toMatchObject({ complete: false });
    expect((await resumed.resume(ALICE, 2)).done).toMatchObject({ complete: true });
    // (X6: Bob's account is read through a session of Bob's user; key registrations are journaled commands too.)
    const resumedBob = await connectUser(url, operator, BOB >>> 4);
    expect((await resumedBob.resume(BOB, 1)).done).toMatchObject({ complete: false });
    expect((await resumedBob.resume(BOB, 7)).done).toMatchObject({ complete: true });
    await resumedBob.close();
    // The resumed connection watches the account from then on.
    const live = resumed.waitFor((e) => e.type === "Balance" && (e as { account: number }).account === ALICE);
    await operator.request({ type: "Deposit", account: ALICE, asset: 0, amount: "1" }, 20);
    expect(await live).toMatchObject({ available: "88001" });
    for (const c of [operator, watcher, bob, alice, resumed]) await c.close();
  }, 90_000);

  it("X5: a snapshot gives the account's balances and resting orders (remaining after partial fills) with the seq it is valid at, then live events follow", async () => {
    const { server, url } = await serve();
    const ALICE = 16 * 310;
    const BOB = 16 * 311;
    const operator = await CrossbookClient.connect(url, { key: server.operatorKey });
    await operator.request({ type: "Deposit", account: ALICE, asset: 0, amount: "100000" }, 20);
    await operator.request({ type: "Deposit", account: BOB, asset: 2, amount: "1" }, 20);
    const alice = await connectUser(url, operator, ALICE >>> 4);
    const bob = await connectUser(url, operator, BOB >>> 4);
    const buy1 = await alice.request({ type: "LimitOrder", account: ALICE, market: 0, side: "Buy", price: "59000", quantity: "0.5", clientId: 11 }, 20);
    await alice.request({ type: "LimitOrder", account: ALICE, market: 0, side: "Buy", price: "58000", quantity: "0.2", clientId: 12 }, 20);
    await bob.request({ type: "MarketOrder", account: BOB, market: 0, side: "Sell", quantity: "0.3" }, 50);
    const orderId1 = (buy1.find((e) => e.type === "OrderAccepted") as { orderId: bigint }).orderId;
    const fresh = await connectUser(url, operator, ALICE >>> 4);
    const lastSeq = (await getStateHash(server.port, server.operatorKey)).lastSeq;
    const { events, done } = await fresh.snapshot(ALICE);
    expect(done).toMatchObject({ type: "AccountSnapshot", account: ALICE, validAtSeq: BigInt(lastSeq), balances: 2, orders: 2 });
    // Alice, the maker, bought 0.3 BTC at 59,000 (17,700 USDC; maker fee 0.08% of the BTC received); her two
    // orders still lock 0.2 × 59,000 + 0.2 × 58,000 = 23,400 USDC.
    expect(events.filter((e) => e.type === "Balance").map((e) => ({ asset: (e as { asset: number }).asset, available: (e as { available: string }).available, locked: (e as { locked: string }).locked }))).toEqual([
      { asset: 0, available: "58900", locked: "23400" },
      { asset: 2, available: "0.29976", locked: "0" },
    ]);
    expect(events.filter((e) => e.type === "OpenOrder")).toEqual([
      expect.objectContaining({ orderId: orderId1, clientId: 11n, side: "Buy", price: "59000", remaining: "0.2" }),
      expect.objectContaining({ clientId: 12n, side: "Buy", price: "58000", remaining: "0.2" }),
    ]);
    const live = fresh.waitFor((e) => e.type === "Fill");
    await bob.request({ type: "MarketOrder", account: BOB, market: 0, side: "Sell", quantity: "0.1" }, 50);
    expect(await live).toMatchObject({ makerAccount: ALICE, quantity: "0.1", price: "59000" });
    for (const c of [operator, alice, bob, fresh]) await c.close();
  }, 60_000);
});
