// examples/market-maker.ts (issue 12 item 8): against a started server fed by the sim feeder, the bot funds a demo
// account, quotes both sides of every spot market around the index (C1: the account's mark), re-quotes when the index
// moves (cancel and replace, at most two orders per market), leaves refused markets alone, and cancels all on stop.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../engine/pipeline/index.ts";
import { CrossbookClient, fetchPublicConfig, type PublicConfig } from "../gateway/client/ws-client.ts";
import { Feeder } from "../gateway/feed/index.ts";
import { startServer, type RunningServer } from "../gateway/server.ts";
import { MarketMaker, quoteAround, toUnits } from "../examples/market-maker.ts";

const config = loadConfig();
let server: RunningServer;
let url: string;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "crossbook-mm-"));
  server = await startServer({ config, host: "127.0.0.1", port: 0, dataDir, tickIntervalMs: 100, log: () => {} });
  url = `ws://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await server?.stop();
});

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("examples/market-maker.ts", () => {
  it("P2, C1: the bot's two orders rest on every spot market at exactly index × (1 ± spread) to the tick, re-quoted as the sim index moves; stop cancels them", async () => {
    const pub: PublicConfig = await fetchPublicConfig(`http://127.0.0.1:${server.port}/`);
    const feeder = await Feeder.start({ url, operatorKey: server.operatorKey, source: "sim", seed: 11, intervalMs: 150, inflightMax: 16, log: () => {} }, pub);
    const log: string[] = [];
    const bot = await MarketMaker.start({ url, dataDir, user: 9, spreadBps: 10, notionalUsdc: 2000, pollMs: 100, log: (l) => log.push(l) });
    await until(() => bot.refreshes >= 9, 30_000, "three quotes per spot market");
    await feeder.stop();
    // The index is frozen now: wait until the bot has quoted the final marks.
    const operator = await CrossbookClient.connect(url, { key: server.operatorKey });
    const marks = async (): Promise<Map<number, bigint>> => {
      const statement = await operator.request({ type: "QueryCollateral", account: bot.account });
      return new Map(statement.flatMap((e) => (e.type === "AssetCollateral" ? [[e.asset, toUnits(e.markPrice, 9)] as [number, bigint]] : [])));
    };
    const final = await marks();
    const spot = pub.markets.filter((m) => m.kind === "spot");
    const baseId = (symbol: string): number => pub.assets.find((a) => a.symbol === symbol)!.id;
    // Every market the engine accepts quotes on (spot and, since perpetual trading landed, the perpetuals) re-quotes.
    const quoted = (): typeof pub.markets => pub.markets.filter((m) => !bot.refused.has(m.id));
    await until(() => quoted().every((m) => bot.quotes.get(m.id)?.index === final.get(baseId(m.base))), 10_000, "quotes at the final marks");
    await new Promise((r) => setTimeout(r, 300));
    const snapshot = await operator.request({ type: "QueryAccountSnapshot", account: bot.account });
    const orders = snapshot.filter((e) => e.type === "OpenOrder") as { market: number; side: string; price: string; remaining: string }[];
    for (const m of spot) {
      const base = pub.assets.find((a) => a.symbol === m.base)!;
      const expected = quoteAround(final.get(base.id)!, m, base.decimals, 10, 2000);
      const mine = orders.filter((o) => o.market === m.id).map((o) => [o.side, o.price, o.remaining]).sort();
      expect(mine).toEqual([["Buy", expected.bid, expected.quantity], ["Sell", expected.ask, expected.quantity]]);
      expect(toUnits(expected.bid, 9)).toBeLessThan(final.get(base.id)!);
      expect(toUnits(expected.ask, 9)).toBeGreaterThan(final.get(base.id)!);
      expect(final.get(base.id)).not.toBe(config.assets[base.id]!.initialMark);
    }
    // A market whose orders the engine refuses is left alone (the bot says so once); the others carry both quotes.
    for (const m of pub.markets.filter((x) => x.kind === "perpetual")) {
      if (bot.refused.has(m.id)) expect(orders.some((o) => o.market === m.id)).toBe(false);
      else expect(orders.filter((o) => o.market === m.id).length).toBe(2);
    }
    expect(orders.length).toBe(2 * (pub.markets.length - bot.refused.size));
    await bot.stop();
    const after = await operator.request({ type: "QueryAccountSnapshot", account: bot.account });
    await operator.close();
    expect(after.filter((e) => e.type === "OpenOrder")).toEqual([]);
    expect(log.at(-1)).toBe("market maker: orders cancelled, stopped");
  }, 90_000);

  it("quoteAround: a bid rounded down and an ask rounded up to the tick, the size down to the step", () => {
    const market = { id: 0, symbol: "BTC_USDC", kind: "spot", base: "BTC", quote: "USDC", tickSize: "0.01", stepSize: "0.00001" };
    expect(quoteAround(60_123_456_789_000n, market, 8, 10, 2000)).toEqual({ index: 60_123_456_789_000n, bid: "60063.33", ask: "60183.59", quantity: "0.03326" });
  });
});
