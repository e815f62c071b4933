// Market data over the wire (O8): a subscriber gets an L2 snapshot, then gap-free depth deltas (U = previous u + 1),
// trades, best bid/offer and the 24 h ticker; a late subscriber's snapshot agrees with the deltas.
import type { KeyObject } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../engine/pipeline/index.ts";
import type { EventJson } from "../gateway/client/codec.ts";
import { CrossbookClient } from "../gateway/client/ws-client.ts";
import { startServer, type RunningServer } from "../gateway/server.ts";
import { registerKey } from "./helpers/auth.ts";

const config = loadConfig();
const SOL_USDC = 2;
let server: RunningServer;
let url: string;
let operator: CrossbookClient;
/** X6: users 1 (account 16) and 2 (account 32) log in with these; market-data watchers need no key. */
let user1Key: KeyObject;
let user2Key: KeyObject;

beforeAll(async () => {
  server = await startServer({ config, host: "127.0.0.1", port: 0, dataDir: mkdtempSync(join(tmpdir(), "crossbook-md-")), tickIntervalMs: 0, log: () => {} });
  url = `ws://127.0.0.1:${server.port}`;
  operator = await CrossbookClient.connect(url, { key: server.operatorKey });
  user1Key = await registerKey(operator, 1);
  user2Key = await registerKey(operator, 2);
  await operator.request({ type: "AdvanceTime", timeMs: 1_767_225_600_000 }, 30);
  await operator.request({ type: "Deposit", account: 16, asset: 0, amount: "100000" }, 30);
  await operator.request({ type: "Deposit", account: 32, asset: 4, amount: "1000" }, 30);
});

afterAll(async () => {
  await operator?.close();
  await server?.stop();
});

type Any = Record<string, unknown>;

function collect(c: CrossbookClient): EventJson[] {
  const got: EventJson[] = [];
  c.onEvent((e) => got.push(e));
  return got;
}

async function settle(ms = 200): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

describe("market data", () => {
  it("O8: snapshot on subscribe, then ordered depth deltas, trades, best bid/offer and ticker", async () => {
    const watcher = await CrossbookClient.connect(url);
    const got = collect(watcher);
    watcher.send({ type: "Subscribe", market: SOL_USDC, channels: ["Depth", "Trades", "Bbo", "Ticker"] });
    await settle();
    expect(got[0]).toMatchObject({ type: "DepthSnapshot", market: SOL_USDC, lastUpdateId: 0n, bids: [], asks: [] });

    const seller = await CrossbookClient.connect(url, { key: user2Key });
    const buyer = await CrossbookClient.connect(url, { key: user1Key });
    await seller.request({ type: "LimitOrder", account: 32, market: SOL_USDC, side: "Sell", price: "150", quantity: "10" }, 50);
    await seller.request({ type: "LimitOrder", account: 32, market: SOL_USDC, side: "Sell", price: "151", quantity: "5" }, 50);
    await buyer.request({ type: "LimitOrder", account: 16, market: SOL_USDC, side: "Buy", price: "149", quantity: "2" }, 50);
    await buyer.request({ type: "LimitOrder", account: 16, market: SOL_USDC, side: "Buy", price: "150", quantity: "4" }, 50);
    await settle();

    const deltas = got.filter((e) => e.type === "DepthDelta") as unknown as unknown as Any[];
    expect(deltas.length).toBe(4);
    let last = 0n;
    for (const d of deltas) {
      expect(d.firstUpdateId).toBe(last + 1n);
      last = d.lastUpdateId as bigint;
    }
    expect(deltas[0]).toMatchObject({ asks: [{ price: "150", quantity: "10" }], bids: [] });
    expect(deltas[3]).toMatchObject({ asks: [{ price: "150", quantity: "6" }], bids: [] });
    const trades = got.filter((e) => e.type === "Trade");
    expect(trades).toHaveLength(1);
    expect(trades[0]).toMatchObject({ market: SOL_USDC, price: "150", quantity: "4", quoteQuantity: "600", takerSide: "Buy" });
    const bbo = got.filter((e) => e.type === "BookTicker").pop();
    expect(bbo).toMatchObject({ bidPrice: "149", bidQuantity: "2", askPrice: "150", askQuantity: "6" });
    const ticker = got.filter((e) => e.type === "Ticker").pop();
    expect(ticker).toMatchObject({ open: "150", high: "150", low: "150", close: "150", volume: "4", quoteVolume: "600", tradeCount: 1n });

    // A late subscriber's snapshot is the book the deltas describe, at the last update id.
    const late = await CrossbookClient.connect(url);
    const lateGot = collect(late);
    late.send({ type: "Subscribe", market: SOL_USDC, channels: ["Depth"] });
    await settle();
    expect(lateGot[0]).toMatchObject({
      type: "DepthSnapshot",
      lastUpdateId: last,
      bids: [{ price: "149", quantity: "2" }],
      asks: [{ price: "150", quantity: "6" }, { price: "151", quantity: "5" }],
    });
    for (const c of [watcher, seller, buyer, late]) await c.close();
  });

  it("O8: unsubscribing stops the stream", async () => {
    const c = await CrossbookClient.connect(url);
    const got = collect(c);
    c.send({ type: "Subscribe", market: SOL_USDC, channels: ["Trades"] });
    c.send({ type: "Unsubscribe", market: SOL_USDC, channels: ["Trades"] });
    await settle(100);
    const buyer = await CrossbookClient.connect(url, { key: user1Key });
    await buyer.request({ type: "LimitOrder", account: 16, market: SOL_USDC, side: "Buy", price: "150", quantity: "1" }, 50);
    await settle(100);
    expect(got.filter((e) => e.type === "Trade")).toEqual([]);
    await c.close();
    await buyer.close();
  });
});

describe("market data: marks (P3, P4)", () => {
  it("P3, P4: the Mark channel carries FundingRate at an interval end and MarkPrice after an oracle update; a late subscriber gets the last mark at once", async () => {
    const SOL_PERP = 5;
    const T0 = 1_767_225_600_000;
    const HOUR = 3_600_000;
    const now = T0 + 100 * HOUR;
    const c = await CrossbookClient.connect(url);
    const got = collect(c);
    c.send({ type: "Subscribe", market: SOL_PERP, channels: ["Mark"] });
    await settle(100);
    // The interval that began at T0's first settlement batch ended at T0 + 1 h without a sample: F = I / 8.
    await operator.request({ type: "AdvanceTime", timeMs: now }, 30);
    for (let source = 0; source < 3; source++) {
      await operator.request({ type: "OracleQuote", asset: 4, source, bid: "150", ask: "150", last: "150", sourceTimeMs: now, apply: source === 2 }, 30);
    }
    await settle(200);
    const mark = { type: "MarkPrice", market: SOL_PERP, mark: "150", index: "150", source: "Index", predictedFundingRate: "0.0000015625", nextFundingTimeMs: BigInt(now + HOUR), timeMs: BigInt(now) };
    expect(got.map((e) => ({ ...e, clientSeq: undefined, seq: undefined, marketSeq: undefined }))).toEqual([
      { type: "FundingRate", market: SOL_PERP, rate: "0.0000015625", meanPremium: "0", samples: 0, mark: "0", timeMs: BigInt(T0 + HOUR), clientSeq: undefined, seq: undefined, marketSeq: undefined },
      { ...mark, clientSeq: undefined, seq: undefined, marketSeq: undefined },
    ]);
    const late = await CrossbookClient.connect(url);
    const lateGot = collect(late);
    late.send({ type: "Subscribe", market: SOL_PERP, channels: ["Mark"] });
    await settle(200);
    expect(lateGot).toEqual([{ clientSeq: 0n, seq: 0n, marketSeq: 0n, ...mark }]);
    await c.close();
    await late.close();
  });
});

describe("market data: slow subscribers", () => {
  it("O8: a subscriber that falls behind stops getting deltas and is resynchronised with a snapshot, never an unbounded queue", async () => {
    const { MarketDataHub, MARKET_DATA_BACKLOG_MAX } = await import("../gateway/market-data.ts");
    const { SessionRegistry } = await import("../gateway/sessions.ts");
    const { decodeEvent } = await import("../gateway/client/codec.ts");
    const hub = new MarketDataHub(config);
    const frames: EventJson[] = [];
    let buffered = 0;
    const registry = new SessionRegistry(config);
    const session = registry.open({ send: (b) => frames.push(decodeEvent(b)), bufferedAmount: () => buffered }, false);
    hub.subscribe(session, SOL_USDC, 1);
    hub.depthDelta(SOL_USDC, 1, 1, 0);
    hub.depthLevel(SOL_USDC, 0, 149_000_000_000n, 2_000_000_000n, 1);
    buffered = MARKET_DATA_BACKLOG_MAX + 1; // the socket is behind
    hub.depthDelta(SOL_USDC, 2, 2, 0);
    hub.depthLevel(SOL_USDC, 1, 150_000_000_000n, 6_000_000_000n, 2);
    hub.depthDelta(SOL_USDC, 3, 3, 0);
    hub.depthLevel(SOL_USDC, 0, 149_000_000_000n, 0n, 3);
    buffered = 100; // caught up: still paused until the drain resynchronises
    hub.depthDelta(SOL_USDC, 4, 4, 0);
    hub.depthLevel(SOL_USDC, 1, 151_000_000_000n, 1_000_000_000n, 4);
    expect(frames.map((f) => f.type)).toEqual(["DepthSnapshot", "DepthDelta"]);
    hub.drained(session);
    expect(frames.map((f) => f.type)).toEqual(["DepthSnapshot", "DepthDelta", "DepthSnapshot"]);
    expect(frames[2]).toMatchObject({ lastUpdateId: 4n, bids: [], asks: [{ price: "150", quantity: "6" }, { price: "151", quantity: "1" }] });
    hub.depthDelta(SOL_USDC, 5, 5, 0);
    hub.depthLevel(SOL_USDC, 1, 151_000_000_000n, 0n, 5);
    expect(frames[3]).toMatchObject({ type: "DepthDelta", firstUpdateId: 5n, lastUpdateId: 5n });
  });
});

describe("market data: the public liquidation stream (Q6)", () => {
  it("Q6: LiquidationStarted / LiquidationEnded go out on the Liquidation channel without the account; the SDK reads the account's history and the insurance fund", async () => {
    const watcher = await CrossbookClient.connect(url);
    const got = collect(watcher);
    watcher.send({ type: "Subscribe", channels: ["Liquidation"] }); // every market: the account-wide events once
    const quiet = await CrossbookClient.connect(url);
    const quietGot = collect(quiet);
    quiet.send({ type: "Subscribe", market: SOL_USDC, channels: ["Trades"] });
    const user3 = await CrossbookClient.connect(url, { key: await registerKey(operator, 3) });
    const lender = await CrossbookClient.connect(url, { key: user1Key });
    await lender.request({ type: "Lend", account: 16, asset: 0, amount: "10000" }, 30);
    await operator.request({ type: "Deposit", account: 48, asset: 4, amount: "10" }, 30);
    await operator.request({ type: "SetMarkPrice", asset: 4, price: "150" }, 30);
    await user3.request({ type: "Withdraw", account: 48, asset: 0, amount: "1000", margin: true }, 30);
    // SOL at 116: collateral 10 × 116 × 0.9 = 1,044 against 1,000 borrowed (MM 50): MMR 50 / 44 = 1.136363636.
    await operator.request({ type: "SetMarkPrice", asset: 4, price: "116" }, 30);
    await operator.request({ type: "SetMarkPrice", asset: 4, price: "150" }, 30);
    await settle(200);
    const rows = got.filter((e) => e.type === "LiquidationStarted" || e.type === "LiquidationEnded") as unknown as Any[];
    expect(rows.map((e) => [e.type, e.account, e.netEquity, e.exposureNotional, e.mmr, e.seq, e.clientSeq])).toEqual([
      ["LiquidationStarted", 0, "44", "1000", "1.136363636", 0n, 0n],
      // Q2's step (the batch after the start) sold 0.91 SOL to a $149 bid left by the tests above: 135.59 USDC, the 1%
      // fee 1.3559 to the insurance fund, 134.2341 repaid: owed 865.7659; at $150, 9.09 × 135 − 865.7659 = 361.3841.
      ["LiquidationEnded", 0, "361.3841", "865.7659", "0.119784724", 0n, 0n],
    ]);
    expect(quietGot.filter((e) => String(e.type).startsWith("Liquidation"))).toEqual([]);
    // The account's history: the same two rows, with the account, as answers to the query, and between them the
    // step's fill (Q6: a row of every liquidation action): 0.91 SOL sold at $149.
    const history = (await user3.liquidationHistory(48)) as unknown as Any[];
    expect(history.map((e) => [e.type, e.account ?? e.takerAccount, e.netEquity])).toEqual([["LiquidationStarted", 48, "44"], ["Fill", 48, undefined], ["LiquidationEnded", 48, "361.3841"]]);
    expect(history[1]).toMatchObject({ price: "149", quantity: "0.91", quoteQuantity: "135.59" });
    expect((await user3.liquidationHistory(48, { limit: 1 })).map((e) => e.type)).toEqual(["LiquidationStarted"]);
    // No funding interval has paid yet: the fund holds only the step's 1% fee, 1.3559 USDC, in one history row.
    const fund = (await watcher.insuranceFund()) as unknown as Any[];
    expect(fund.map((e) => [e.type, e.asset, e.balance])).toEqual(config.assets.map((a) => ["InsuranceFund", a.id, a.id === 0 ? "1.3559" : "0"]));
    const entries = (await watcher.insuranceHistory({ asset: 0 })) as unknown as Any[];
    expect(entries.map((e) => [e.type, e.asset, e.reason, e.amount, e.balance])).toEqual([["InsuranceEntry", 0, "LiquidationFee", "1.3559", "1.3559"]]);
    for (const c of [watcher, quiet, user3, lender]) await c.close();
  });

  it("Q6, Q2: a book-liquidation fill goes out on its market's Liquidation channel, naming neither account", async () => {
    // A server of its own: the shared server's account 48 (the test above) would liquidate too at $116.
    const own = await startServer({ config, host: "127.0.0.1", port: 0, dataDir: mkdtempSync(join(tmpdir(), "crossbook-md-liq-")), tickIntervalMs: 0, log: () => {} });
    const url = `ws://127.0.0.1:${own.port}`;
    const operator = await CrossbookClient.connect(url, { key: own.operatorKey });
    const user1Key = await registerKey(operator, 1);
    await operator.request({ type: "AdvanceTime", timeMs: 1_767_225_600_000 }, 30);
    await operator.request({ type: "Deposit", account: 16, asset: 0, amount: "100000" }, 30);
    const watcher = await CrossbookClient.connect(url);
    const got = collect(watcher);
    watcher.send({ type: "Subscribe", market: SOL_USDC, channels: ["Liquidation"] });
    const user4 = await CrossbookClient.connect(url, { key: await registerKey(operator, 4) });
    const user5 = await CrossbookClient.connect(url, { key: await registerKey(operator, 5) });
    const lender = await CrossbookClient.connect(url, { key: user1Key });
    await lender.request({ type: "Lend", account: 16, asset: 0, amount: "10000" }, 30);
    await operator.request({ type: "SetMarkPrice", asset: 4, price: "150" }, 30);
    await operator.request({ type: "Deposit", account: 64, asset: 4, amount: "10" }, 30);
    await user4.request({ type: "Withdraw", account: 64, asset: 0, amount: "1000", margin: true }, 30);
    await operator.request({ type: "Deposit", account: 80, asset: 0, amount: "5000" }, 30);
    await user5.request({ type: "LimitOrder", account: 80, market: SOL_USDC, side: "Buy", price: "115", quantity: "20" }, 30);
    // SOL at 116: account 64 (10 SOL, 1,000 USDC owed) is liquidating; the next batches step it through the bid at
    // 115: 10% of the borrow at the 110.20 bound is 0.91 SOL (SPEC Q2; the README walkthrough's step).
    await operator.request({ type: "SetMarkPrice", asset: 4, price: "116" }, 30);
    await operator.request({ type: "Deposit", account: 80, asset: 0, amount: "1" }, 30);
    await settle(300);
    const fills = got.filter((e) => e.type === "Fill") as unknown as Any[];
    expect(fills).toHaveLength(1);
    expect(fills[0]).toMatchObject({ takerAccount: 0, makerAccount: 0, makerClientId: 0n, price: "115", quantity: "0.91", seq: 0n, clientSeq: 0n });
    for (const c of [watcher, user4, user5, lender, operator]) await c.close();
    await own.stop();
  });
});
