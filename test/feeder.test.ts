// `crossbook feed` (issue 12 item 2): the feeder turns quote batches into OracleQuote commands (P2: one quote per
// command, the last of an asset's update carries Apply), refuses bad inputs with a typed FeedError, drives the sim
// source against a real started server — whose index then equals engine/perps computeIndexPrice over exactly the
// quotes sent — reconnects after the server restarts, and as a CLI stops cleanly on SIGTERM.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatDecimal } from "../engine/fixed/index.ts";
import { PRICE_DECIMALS } from "../engine/model/index.ts";
import { computeIndexPrice, IndexResult, type IndexSourceQuote } from "../engine/perps/oracle-index.ts";
import { loadConfig } from "../engine/pipeline/index.ts";
import type { OracleQuoteCommand } from "../gateway/client/codec.ts";
import { CrossbookClient, fetchPublicConfig, type PublicConfig } from "../gateway/client/ws-client.ts";
import { checkFeederOptions, FeedError, Feeder, type FeederOptions, type FeedQuote, oracleTargets, quotesToCommands, selectTargets } from "../gateway/feed/index.ts";
import { startServer, type RunningServer } from "../gateway/server.ts";
import { operatorKeyPath, readPrivateKeyFile } from "../gateway/auth/keys.ts";
import { BIN, exitOf, startServerProcess } from "./helpers/server-process.ts";

const config = loadConfig();
const USD = 1_000_000_000n;
const BTC = config.assets.findIndex((a) => a.symbol === "BTC");

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** P2 over exactly the commands sent, in order: the index each asset's last applied update must give. */
function expectedIndexes(commands: readonly OracleQuoteCommand[]): Map<number, bigint> {
  const quotes = new Map<number, IndexSourceQuote[]>();
  const indexes = new Map<number, bigint>();
  const out = new IndexResult();
  const parse = (text: string): bigint => {
    const [whole, fraction = ""] = text.split(".");
    return BigInt(whole!) * USD + BigInt(fraction.padEnd(9, "0"));
  };
  for (const c of commands) {
    const oracle = config.assets[c.asset]!.oracle!;
    let qs = quotes.get(c.asset);
    if (qs === undefined) quotes.set(c.asset, (qs = oracle.sources.map(() => ({ bid: 0n, ask: 0n, last: 0n, timeMs: -1 }))));
    qs[c.source] = { bid: parse(c.bid as string), ask: parse(c.ask as string), last: parse(c.last as string), timeMs: Number(c.sourceTimeMs) };
    if (c.apply !== true) continue;
    const weights = oracle.sources.map((s) => s.weight);
    computeIndexPrice(qs, weights, qs.length, oracle, indexes.get(c.asset) ?? 0n, Number(c.sourceTimeMs), out);
    indexes.set(c.asset, out.index);
  }
  return indexes;
}

describe("feeder: quotes to oracle commands (P2)", () => {
  const pub: PublicConfig = {
    assets: config.assets.map((a) => ({ id: a.id, symbol: a.symbol, decimals: a.decimals, initialMark: formatDecimal(a.initialMark, PRICE_DECIMALS), oracle: a.oracle === null ? null : { sources: a.oracle.sources.map((s) => s.name), staleAfterMs: a.oracle.staleAfterMs } })),
    markets: [],
  };
  const targets = oracleTargets(pub);
  const q = (asset: string, source: string, bid: bigint): FeedQuote => ({ asset, source, bid, ask: bid + USD, last: bid, sourceTimeMs: 1_767_225_600_000 });

  it("P2: one quote per command, an asset's quotes together in batch order, the last of each asset carries apply", () => {
    const commands = quotesToCommands([q("BTC", "sim-a", 60_000n * USD), q("SOL", "sim-b", 150n * USD), q("BTC", "sim-b", 60_001n * USD), q("BTC", "backpack", 60_002n * USD)], targets);
    expect(commands.map((c) => [config.assets[c.asset]!.symbol, c.source, c.bid, c.ask, c.apply])).toEqual([
      ["BTC", 1, "60000", "60001", false],
      ["BTC", 2, "60001", "60002", false],
      ["BTC", 0, "60002", "60003", true],
      ["SOL", 2, "150", "151", true],
    ]);
    expect(commands[0]!.sourceTimeMs).toBe(1_767_225_600_000);
  });

  it("P2: a quote for an asset without an oracle or a source the asset does not have is a FeedError naming them", () => {
    expect(() => quotesToCommands([q("USDC", "sim-a", USD)], targets)).toThrow(new FeedError("asset USDC has no oracle on this server"));
    expect(() => quotesToCommands([q("BTC", "binance", USD)], targets)).toThrow(new FeedError("BTC has no oracle source binance (its sources: backpack, sim-a, sim-b)"));
  });

  it("P2: options out of bounds are refused with a typed FeedError and a clear message", () => {
    const ok: FeederOptions = { url: "ws://127.0.0.1:8080", operatorKey: undefined as never, source: "sim", seed: 1, intervalMs: 2000, inflightMax: 64, log: () => {} };
    expect(() => checkFeederOptions(ok)).not.toThrow();
    const refused = (patch: Partial<FeederOptions>): string => {
      try {
        checkFeederOptions({ ...ok, ...patch } as FeederOptions);
      } catch (e) {
        expect(e).toBeInstanceOf(FeedError);
        return (e as Error).message;
      }
      return "accepted";
    };
    expect(refused({ source: "binance" as never })).toBe('--source must be one of sim, file, backpack, got "binance"');
    expect(refused({ intervalMs: 50 })).toBe("--interval-ms must be an integer in [100, 60000], got 50");
    expect(refused({ seed: 2 ** 32 })).toBe("--seed must be an integer in [0, 4294967295], got 4294967296");
    expect(refused({ url: "http://x" })).toBe('--url must be ws://HOST:PORT, got "http://x"');
    expect(refused({ source: "file" })).toBe("--source file needs --file QUOTES.jsonl");
    expect(refused({ file: "q.jsonl" })).toBe("--file goes with --source file");
    expect(refused({ inflightMax: 0 })).toBe("--inflight must be an integer in [1, 1024]");
    expect(refused({ assets: ["BTC", "BTC"] })).toBe("--assets names an asset twice");
    expect(() => selectTargets(pub, "sim", ["DOGE"])).toThrow(new FeedError("--assets: DOGE is not an asset with an oracle (those are: USDT, BTC, ETH, SOL)"));
    expect(selectTargets(pub, "sim", undefined).map((t) => t.symbol)).toEqual(["USDT", "BTC", "ETH", "SOL"]);
  });
});

describe("feeder against a started server (P2, C1)", () => {
  let server: RunningServer;
  let url: string;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "crossbook-feed-"));
    server = await startServer({ config, host: "127.0.0.1", port: 0, dataDir, tickIntervalMs: 100, log: () => {} });
    url = `ws://127.0.0.1:${server.port}`;
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("P2: after N sim ticks every asset's index moved and equals computeIndexPrice over the quotes sent; the index is the collateral mark (C1)", async () => {
    const sent: OracleQuoteCommand[] = [];
    const log: string[] = [];
    const pub = await fetchPublicConfig(`http://127.0.0.1:${server.port}/`);
    const feeder = await Feeder.start({ url, operatorKey: server.operatorKey, source: "sim", seed: 7, intervalMs: 150, inflightMax: 16, log: (l) => log.push(l), onCommand: (c) => sent.push(c) }, pub);
    const perTick = 4 * 2; // USDT, BTC, ETH, SOL × sim-a, sim-b
    await until(() => feeder.ticks >= 6 && feeder.sender.stats.accepted >= 6 * perTick, 20_000, "6 ticks accepted");
    await feeder.stop();
    const stats = feeder.sender.stats;
    expect(stats.rejected).toBe(0);
    expect(stats.accepted).toBe(stats.sent);
    expect(sent.length % perTick).toBe(0);
    const expected = expectedIndexes(sent);
    const firstTick = expectedIndexes(sent.slice(0, perTick));
    expect([...expected.keys()].sort()).toEqual([1, 2, 3, 4]);
    for (const [asset, index] of expected) {
      const seen = stats.indexes.get(asset)!;
      expect(seen.index).toBe(formatDecimal(index, PRICE_DECIMALS));
      expect(seen.stale).toBe(false);
      expect(seen.sourcesUsed).toBe(2); // backpack was never quoted: stale
      if (sent.length > perTick) expect(index).not.toBe(firstTick.get(asset));
      expect(index).not.toBe(config.assets[asset]!.initialMark);
    }
    // C1: the index is BTC's collateral mark.
    const operator = await CrossbookClient.connect(url, { key: server.operatorKey });
    await operator.request({ type: "Deposit", account: 16, asset: BTC, amount: "1" });
    const statement = await operator.request({ type: "QueryCollateral", account: 16 });
    await operator.close();
    const btc = statement.find((e) => e.type === "AssetCollateral" && e.asset === BTC) as { markPrice: string };
    expect(btc.markPrice).toBe(formatDecimal(expected.get(BTC)!, PRICE_DECIMALS));
    expect(log.some((l) => l.startsWith("connected to ws://127.0.0.1:"))).toBe(true);
    expect(log.at(-1)).toMatch(/^stopped: tick \d+: USDT \d\.\d+, BTC \d+\.\d+, ETH \d+\.\d+, SOL \d+\.\d+ \| sent \d+, accepted \d+, refused 0, dropped 0/);
  }, 60_000);

  it("P2: the feeder reconnects with backoff after its connection drops, and its quotes are accepted again", async () => {
    // A loopback TCP proxy between the feeder and the server: cutting its sockets drops the feeder's session.
    const sockets = new Set<Socket>();
    const proxy = createServer((inbound) => {
      const outbound = connect(server.port, "127.0.0.1");
      for (const s of [inbound, outbound]) {
        sockets.add(s);
        s.on("error", () => {});
        s.on("close", () => sockets.delete(s));
      }
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const proxyUrl = `ws://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    const log: string[] = [];
    const pub = await fetchPublicConfig(`http://127.0.0.1:${server.port}/`);
    const feeder = await Feeder.start({ url: proxyUrl, operatorKey: server.operatorKey, source: "sim", seed: 3, intervalMs: 150, inflightMax: 16, assets: ["SOL"], log: (l) => log.push(l) }, pub);
    await until(() => feeder.sender.stats.accepted >= 4, 20_000, "quotes accepted");
    for (const s of sockets) s.destroy();
    await until(() => !feeder.sender.connected, 10_000, "the feeder to see the drop");
    const before = feeder.sender.stats.accepted;
    await until(() => feeder.sender.stats.connects === 2 && feeder.sender.stats.accepted >= before + 4, 30_000, "accepted after reconnecting");
    await feeder.stop();
    proxy.close();
    expect(feeder.sender.stats.rejected).toBe(0);
    expect(log.filter((l) => /^connection closed \(\d+\): reconnecting in 250 ms$/.test(l)).length).toBe(1);
    expect(log.filter((l) => l.startsWith("connected to")).length).toBe(2);
  }, 90_000);

  it("P2: `crossbook feed` refuses bad options with one line and exit 2, and stops cleanly on SIGTERM with its summary", async () => {
    const run = (args: string[], onOut?: (text: string, kill: () => void) => void): Promise<{ code: number | null; out: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [BIN, "feed", ...args], { stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        const take = (chunk: Buffer): void => {
          out += chunk.toString();
          onOut?.(out, () => child.kill("SIGTERM"));
        };
        child.stdout.on("data", take);
        child.stderr.on("data", take);
        child.on("exit", (code) => resolve({ code, out }));
      });
    const bad = await run(["--interval-ms", "5", "--url", url]);
    expect(bad).toEqual({ code: 2, out: "crossbook: feed: --interval-ms must be an integer in [100, 60000], got 5\n" });
    const quotes = join(dataDir, "bad-quotes.jsonl");
    writeFileSync(quotes, '{"asset":"BTC","source":"binance","bid":"1","ask":"2","last":"1","sourceTimeMs":1}\n');
    const badFile = await run(["--source", "file", "--file", quotes, "--url", url, "--data", dataDir]);
    expect(badFile).toEqual({ code: 2, out: `crossbook: feed: ${quotes} line 1: BTC has no oracle source binance (its sources: backpack, sim-a, sim-b)\n` });
    let killed = false;
    const good = await run(["--url", url, "--data", dataDir, "--interval-ms", "200", "--assets", "BTC"], (out, kill) => {
      if (!killed && out.includes("connected to")) {
        killed = true;
        setTimeout(kill, 600);
      }
    });
    expect(good.code).toBe(0);
    expect(good.out).toMatch(/^price feed: sim \(seed 1\) every 200 ms for BTC — prices are simulated — Ctrl-C to stop\n/);
    expect(good.out).toMatch(/feed: stopped: tick \d+: BTC \d+\.\d+ \| sent (\d+), accepted \1, refused 0, dropped 0\n$/);
  }, 90_000);
});

describe("the demo's feed: `crossbook start --feed sim` (npm start)", () => {
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  });

  it("P2: the sim feed runs against the server's own port, labelled in the log; the marks move; SIGTERM stops the feed first, then the server, exit 0", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-demo-feed-"));
    const s = await startServerProcess(dataDir, children, ["--feed", "sim", "--feed-seed", "5", "--tick-ms", "200"]);
    const operator = await CrossbookClient.connect(`ws://127.0.0.1:${s.port}`, { key: readPrivateKeyFile(operatorKeyPath(dataDir)) });
    await operator.request({ type: "Deposit", account: 16, asset: BTC, amount: "1" });
    let mark = "60000";
    const deadline = Date.now() + 30_000;
    while (mark === "60000" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      const statement = await operator.request({ type: "QueryCollateral", account: 16 });
      mark = (statement.find((e) => e.type === "AssetCollateral" && e.asset === BTC) as { markPrice: string }).markPrice;
    }
    await operator.close();
    expect(mark).not.toBe("60000");
    s.child.kill("SIGTERM");
    expect(await exitOf(s.child)).toEqual({ code: 0, signal: null });
    const log = s.log();
    expect(log).toContain("price feed: sim (seed 5) — prices are simulated (--feed none turns it off)\n");
    const order = ["SIGTERM: draining and stopping", "feed: stopped: tick", "price feed stopped (exit 0)", "stopped: journal flushed"].map((l) => log.indexOf(l));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  }, 90_000);

  it("P2: `start --feed` takes none, sim or file, each with its own options (one line, exit 2)", async () => {
    const refused = (args: string[]): Promise<{ code: number | null; out: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [BIN, "start", "--port", "0", "--data", mkdtempSync(join(tmpdir(), "crossbook-feed-opt-")), ...args], { stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        child.stdout.on("data", (c: Buffer) => (out += c.toString()));
        child.stderr.on("data", (c: Buffer) => (out += c.toString()));
        child.on("exit", (code) => resolve({ code, out }));
      });
    expect(await refused(["--feed", "live"])).toEqual({ code: 2, out: 'crossbook: --feed: expected none, sim or file, got "live"\n' });
    expect(await refused(["--feed", "none", "--feed-seed", "3"])).toEqual({ code: 2, out: "crossbook: --feed-seed goes with --feed sim\n" });
    expect(await refused(["--feed", "file"])).toEqual({ code: 2, out: "crossbook: --feed file needs --feed-file QUOTES.jsonl\n" });
  }, 60_000);
});
