// A small market-making bot on the crossbook SDK (gateway/client/). Run it beside `npm start` (which feeds simulated
// index prices):
//
//   npx tsx --experimental-websocket examples/market-maker.ts            # Ctrl-C cancels its orders and exits
//   npx tsx --experimental-websocket examples/market-maker.ts --help     # the options
//
// What it does:
//   1. With the operator key (data/operator.key) it gives its user an API key (data/keys/user-<USER>.key, read+trade)
//      if there is none, and deposits demo funds into the user's main account: 1,000,000 USDC and, per base asset,
//      what 200,000 USD buys at the asset's initial mark.
//   2. It logs in as that user and reads the markets from GET /config, spot and perpetual alike. A market whose
//      orders the engine refuses (perpetuals, until they are enabled) is logged once and left alone.
//   3. Every --poll-ms it reads the account's collateral statement, whose per-asset mark is the oracle's index (C1),
//      and on every market whose index moved since its last quote it cancels its two orders and places new ones
//      (post-only GTC): a bid at index × (1 − spread) rounded down to the tick, an ask at index × (1 + spread)
//      rounded up, each for --notional USDC of the base rounded down to the step. It never holds more than two
//      orders per market. (IndexPrice events go to the feeder's session only; a mark stream is issue 12 item 7.)
import type { KeyObject } from "node:crypto";
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { apiKeyOf, generateKey, operatorKeyPath, readPrivateKeyFile, userKeyPath, writePrivateKeyFile } from "../gateway/auth/keys.ts";
import type { EventJson } from "../gateway/client/codec.ts";
import { CrossbookClient, fetchPublicConfig, httpBaseOf, type PublicConfig, type PublicMarket } from "../gateway/client/ws-client.ts";

/** Prices on the wire and in the statement are decimal text; the bot computes at 1e-9 (the engine's price scale). */
const PRICE_DECIMALS = 9;
const BPS = 10_000n;

export interface MarketMakerOptions {
  readonly url: string;
  readonly dataDir: string;
  /** The bot's user: it trades in the main account user × 16. */
  readonly user: number;
  /** Half-spread around the index, basis points (1..1000). */
  readonly spreadBps: number;
  /** USDC per order (10..1,000,000). */
  readonly notionalUsdc: number;
  readonly pollMs: number;
  readonly log: (line: string) => void;
}

/** One market's current quote. */
export interface Quote {
  readonly index: bigint;
  readonly bid: string;
  readonly ask: string;
  readonly quantity: string;
}

/** Decimal text → integer at `decimals` (truncating finer digits). */
export function toUnits(text: string, decimals: number): bigint {
  const [whole, fraction = ""] = text.split(".");
  return BigInt(whole!) * 10n ** BigInt(decimals) + BigInt(fraction.padEnd(decimals, "0").slice(0, decimals));
}

/** Integer at `decimals` → decimal text without trailing zeros. */
export function fromUnits(value: bigint, decimals: number): string {
  const scale = 10n ** BigInt(decimals);
  const fraction = (value % scale).toString().padStart(decimals, "0").replace(/0+$/, "");
  return fraction === "" ? `${value / scale}` : `${value / scale}.${fraction}`;
}

/** The bot's two prices and size around `index` (1e-9 USD) on a market: bid down, ask up to the tick; size down to the step. */
export function quoteAround(index: bigint, market: PublicMarket, baseDecimals: number, spreadBps: number, notionalUsdc: number): Quote {
  const tick = toUnits(market.tickSize, PRICE_DECIMALS);
  const step = toUnits(market.stepSize, baseDecimals);
  const bidRaw = (index * (BPS - BigInt(spreadBps))) / BPS;
  const askRaw = (index * (BPS + BigInt(spreadBps)) + BPS - 1n) / BPS;
  const bid = (bidRaw / tick) * tick;
  const ask = ((askRaw + tick - 1n) / tick) * tick;
  const units = (BigInt(notionalUsdc) * 10n ** BigInt(PRICE_DECIMALS + baseDecimals)) / index;
  const quantity = (units / step) * step;
  return { index, bid: fromUnits(bid, PRICE_DECIMALS), ask: fromUnits(ask, PRICE_DECIMALS), quantity: fromUnits(quantity, baseDecimals) };
}

export class MarketMaker {
  /** By market id: the quote resting now. */
  readonly quotes = new Map<number, Quote>();
  /** Markets whose orders the engine refused (by id, with the reason). */
  readonly refused = new Map<number, string>();
  refreshes = 0;
  private stopping = false;
  private timer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private loop: Promise<void> = Promise.resolve();

  private constructor(
    private readonly options: MarketMakerOptions,
    private readonly client: CrossbookClient,
    private readonly pub: PublicConfig,
    readonly account: number,
  ) {}

  /** Funds the demo account (operator), logs in as the bot's user and starts quoting. */
  static async start(options: MarketMakerOptions): Promise<MarketMaker> {
    const pub = await fetchPublicConfig(httpBaseOf(options.url));
    const account = options.user * 16;
    const key = await fundDemoAccount(options, pub, account);
    const client = await CrossbookClient.connect(options.url, { key });
    const bot = new MarketMaker(options, client, pub, account);
    options.log(`market maker: account ${account}, ${pub.markets.map((m) => m.symbol).join(", ")}, ±${options.spreadBps} bps, ${options.notionalUsdc} USDC a side`);
    bot.loop = bot.run();
    bot.loop.catch(() => {}); // seen by `stopped`, not an unhandled rejection meanwhile
    return bot;
  }

  /** Settles when quoting stops by itself: rejects with why (ConnectionClosedError when the server closed the
   * session, e.g. on its shutdown), resolves after stop(). */
  stopped(): Promise<void> {
    return this.loop;
  }

  /** Stops refreshing, cancels every order of the account and closes the session. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
    await this.client.request({ type: "CancelAll", account: this.account });
    await this.client.close();
    this.options.log("market maker: orders cancelled, stopped");
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      await this.refresh();
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, this.options.pollMs);
      });
    }
  }

  /** Reads the marks (the indexes) and re-quotes every market whose index moved. */
  private async refresh(): Promise<void> {
    const statement = await this.client.request({ type: "QueryCollateral", account: this.account });
    const marks = new Map<string, bigint>();
    for (const e of statement) if (e.type === "AssetCollateral") marks.set(this.pub.assets[e.asset]!.symbol, toUnits(e.markPrice, PRICE_DECIMALS));
    for (const market of this.pub.markets) {
      const base = marks.get(market.base);
      const quote = marks.get(market.quote);
      if (this.stopping || this.refused.has(market.id) || base === undefined || quote === undefined) continue;
      const index = (base * 10n ** BigInt(PRICE_DECIMALS)) / quote;
      if (this.quotes.get(market.id)?.index === index) continue;
      await this.requote(market, index);
    }
  }

  /** Cancel and replace: the market's orders go, a bid and an ask around the index rest. */
  private async requote(market: PublicMarket, index: bigint): Promise<void> {
    const baseDecimals = this.pub.assets.find((a) => a.symbol === market.base)!.decimals;
    const q = quoteAround(index, market, baseDecimals, this.options.spreadBps, this.options.notionalUsdc);
    await this.client.request({ type: "CancelAll", account: this.account, market: market.id });
    this.quotes.delete(market.id);
    for (const [side, price] of [["Buy", q.bid], ["Sell", q.ask]] as const) {
      const answer = await this.client.request({ type: "LimitOrder", account: this.account, market: market.id, side, price, quantity: q.quantity, tif: "GTC", postOnly: true });
      const refusal = answer.find((e) => e.type === "OrderRejected" || e.type === "CommandRejected") as (EventJson & { message?: string }) | undefined;
      if (refusal !== undefined) return this.refuse(market, refusal.message ?? refusal.type);
    }
    this.quotes.set(market.id, q);
    this.refreshes++;
    this.options.log(`${market.symbol}: bid ${q.bid} / ask ${q.ask} × ${q.quantity} (index ${fromUnits(index, PRICE_DECIMALS)})`);
  }

  private async refuse(market: PublicMarket, why: string): Promise<void> {
    this.refused.set(market.id, why);
    await this.client.request({ type: "CancelAll", account: this.account, market: market.id });
    this.options.log(`${market.symbol}: orders refused (${why}) — not quoted`);
  }
}

/** The bot's user key (created and registered with the operator key when missing) and its demo deposits. */
async function fundDemoAccount(options: MarketMakerOptions, pub: PublicConfig, account: number): Promise<KeyObject> {
  const operatorPath = operatorKeyPath(options.dataDir);
  if (!existsSync(operatorPath)) throw new Error(`no operator key at ${operatorPath}: run the bot with the server's --data dir`);
  const operator = await CrossbookClient.connect(options.url, { key: readPrivateKeyFile(operatorPath) });
  try {
    const keyPath = userKeyPath(options.dataDir, options.user);
    if (!existsSync(keyPath)) {
      const key = generateKey();
      writePrivateKeyFile(keyPath, key);
      await operator.request({ type: "RegisterApiKey", user: options.user, apiKey: apiKeyOf(key), permissions: ["Read", "Trade"] });
    }
    for (const asset of pub.assets) {
      const bases = pub.markets.some((m) => m.base === asset.symbol);
      const amount = asset.symbol === "USDC" ? 1_000_000n * 10n ** BigInt(asset.decimals) : (200_000n * 10n ** BigInt(asset.decimals + PRICE_DECIMALS)) / toUnits(asset.initialMark, PRICE_DECIMALS);
      if (asset.symbol === "USDC" || bases) await operator.request({ type: "Deposit", account, asset: asset.id, amount: fromUnits(amount, asset.decimals) });
    }
    return readPrivateKeyFile(keyPath);
  } finally {
    await operator.close();
  }
}

function intArg(value: string | undefined, name: string, dflt: number, min: number, max: number): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`--${name} must be an integer in [${min}, ${max}]`);
  return n;
}

const USAGE = `usage: npx tsx --experimental-websocket examples/market-maker.ts [--url ws://127.0.0.1:8080] [--data data]
       [--user 9] [--spread-bps 10] [--notional 2000] [--poll-ms 1000]`;

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { url: { type: "string" }, data: { type: "string" }, user: { type: "string" }, "spread-bps": { type: "string" }, notional: { type: "string" }, "poll-ms": { type: "string" }, help: { type: "boolean" } } });
  if (values.help === true) return void process.stdout.write(`${USAGE}\n`);
  if (typeof WebSocket === "undefined") throw new RangeError(`this Node has no global WebSocket\n${USAGE}`);
  const bot = await MarketMaker.start({
    url: values.url ?? process.env.CROSSBOOK_URL ?? "ws://127.0.0.1:8080",
    dataDir: values.data ?? "data",
    user: intArg(values.user, "user", 9, 1, 1_000_000),
    spreadBps: intArg(values["spread-bps"], "spread-bps", 10, 1, 1000),
    notionalUsdc: intArg(values.notional, "notional", 2000, 10, 1_000_000),
    pollMs: intArg(values["poll-ms"], "poll-ms", 1000, 100, 60_000),
    log: (line) => void process.stdout.write(`${line}\n`),
  });
  process.stdout.write("quoting — Ctrl-C to cancel the orders and stop\n");
  // A signal stops the bot; the server closing the session (its shutdown) ends it with the close's reason (main's
  // catch prints it; the orders it rested stay on the book).
  await Promise.race([
    new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    }),
    bot.stopped(),
  ]);
  await bot.stop();
  process.exit(0);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`market-maker: ${(e as Error).message}\n`);
    process.exit(e instanceof RangeError || (e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") === true ? 2 : 1);
  });
}
