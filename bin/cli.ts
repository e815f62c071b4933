// The `crossbook` command line (bin/crossbook.mjs runs it): start the exchange, replay a command file in-process, check
// a journal, the load harness, and a terminal client for people (deposit, order, cancel, balances, watch). It lives
// beside its entry point, not in the client SDK (gateway/client/), which it uses like any other program.
import { spawn, type ChildProcess } from "node:child_process";
import type { KeyObject } from "node:crypto";
import { existsSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatDecimal, tryParseDecimal } from "../engine/fixed/index.ts";
import { USER_MAX, userOf } from "../engine/model/index.ts";
import { WHAT_IF_SHOCKS_MAX } from "../gateway/codec/wire-reads.ts";
import { type EngineTopology } from "../engine/pipeline/index.ts";
import {
  apiKeyOf,
  formatPermissions,
  generateKey,
  operatorKeyPath,
  parsePermissions,
  readPrivateKeyFile,
  userKeyPath,
  writePrivateKeyFile,
} from "../gateway/auth/keys.ts";
import { startServer } from "../gateway/server.ts";
import { JOURNAL_GROUP_INTERVAL_MS_DEFAULT } from "../gateway/sequencer.ts";
import { SNAPSHOT_POLICY_DEFAULT, type SnapshotPolicy } from "../gateway/snapshots.ts";
import { toJsonText, type CommandJson, type EventJson } from "../gateway/client/codec.ts";
import { CrossbookClient, fetchPublicConfig, httpBaseOf, signedGet, type PublicConfig } from "../gateway/client/ws-client.ts";
import { configFrom, fail, helpRequested, intOption, parse, USAGE, UsageError } from "./cli-args.ts";
import { journalArchive, journalHash, journalVerify, replay } from "./cli-journal.ts";
import { loadCommand } from "./cli-load.ts";
import { configCommand } from "./cli-config.ts";
import { stressCommand } from "./cli-stress.ts";

export { UsageError, usageOf } from "./cli-args.ts";



async function start(argv: string[]): Promise<void> {
  if (helpRequested(argv, "start")) return;
  const { values, positionals } = parse(argv, {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "8080" },
      data: { type: "string", default: "data" },
      config: { type: "string" },
      "allow-fallback": { type: "boolean", default: false },
      "risk-shards": { type: "string" },
      "matching-shards": { type: "string" },
      stages: { type: "string" },
      "tick-ms": { type: "string" },
      "truncate-at-corruption": { type: "boolean", default: false },
      "journal-segment-mb": { type: "string" },
      archive: { type: "string" },
      "snapshot-every-commands": { type: "string" },
      "snapshot-every-minutes": { type: "string" },
      "snapshots-kept": { type: "string" },
      feed: { type: "string", default: "none" },
      "feed-seed": { type: "string" },
      "feed-file": { type: "string" },
      "trace-hops": { type: "string" },
      "journal-write": { type: "string", default: "hybrid" },
      "journal-group-us": { type: "string" },
  }, "start");
  if (positionals.length > 0) fail(`start: unexpected argument "${positionals[0]}" (see: crossbook start --help)`);
  const config = configFrom(values.config as string | undefined);
  const snapshots: SnapshotPolicy = {
    everyCommands: intOption(values["snapshot-every-commands"] as string | undefined, "snapshot-every-commands", SNAPSHOT_POLICY_DEFAULT.everyCommands, 0, 1e12),
    everyMs: intOption(values["snapshot-every-minutes"] as string | undefined, "snapshot-every-minutes", SNAPSHOT_POLICY_DEFAULT.everyMs / 60_000, 0, 10_080) * 60_000,
    keep: intOption(values["snapshots-kept"] as string | undefined, "snapshots-kept", SNAPSHOT_POLICY_DEFAULT.keep, 1, 100),
  };
  const topology: EngineTopology = {
    riskShards: intOption(values["risk-shards"] as string | undefined, "risk-shards", 1, 1, 8),
    matchingShards: intOption(values["matching-shards"] as string | undefined, "matching-shards", 1, 1, 8),
  };
  const feedArgs = startFeedArgs(values);
  const journalWrite = values["journal-write"] as string;
  if (journalWrite !== "thread" && journalWrite !== "inline" && journalWrite !== "hybrid") fail(`--journal-write: expected thread, inline or hybrid, got "${journalWrite}"`);
  const stages = (values.stages as string | undefined) ?? "fused";
  if (stages !== "fused" && stages !== "split") fail(`--stages: expected fused or split, got "${stages}"`);
  const server = await startServer({
    config,
    stages,
    host: values.host as string,
    port: intOption(values.port as string, "port", 8080, 0, 65535),
    dataDir: values.data as string,
    topology,
    tickIntervalMs: intOption(values["tick-ms"] as string | undefined, "tick-ms", 1000, 0, 3_600_000),
    allowFallback: values["allow-fallback"] === true,
    truncateAtCorruption: values["truncate-at-corruption"] === true,
    snapshots,
    journalSegmentBytes: intOption(values["journal-segment-mb"] as string | undefined, "journal-segment-mb", 64, 1, 4096) * 1024 * 1024,
    ...(values.archive !== undefined ? { archiveDir: values.archive as string } : {}),
    traceHopsSeconds: intOption(values["trace-hops"] as string | undefined, "trace-hops", 0, 0, 3600),
    journalWrite,
    journalGroupMs: intOption(values["journal-group-us"] as string | undefined, "journal-group-us", JOURNAL_GROUP_INTERVAL_MS_DEFAULT * 1000, 0, 100_000) / 1000,
  }).catch((e: unknown) => fail((e as Error).message));
  stopOnSignals(server, feedArgs === null ? null : startFeedProcess(feedArgs, values, server.port));
}

/** SIGINT / SIGTERM: the feed stops first (its last commands are answered), then the server drains; exit 0. */
function stopOnSignals(server: { stop(): Promise<void> }, feed: ChildProcess | null): void {
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: draining and stopping\n`);
    (feed === null ? Promise.resolve() : stopFeedProcess(feed)).then(() => server.stop()).then(
      () => {
        process.stdout.write("stopped: journal flushed\n");
        process.exit(0);
      },
      (e: unknown) => {
        process.stderr.write(`stop failed: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
}

/** `start --feed …`: the `crossbook feed` arguments of the demo's feed (source, seed, file), or null for none. */
function startFeedArgs(values: Record<string, string | boolean | undefined>): string[] | null {
  const feed = values.feed as string;
  const seed = values["feed-seed"] as string | undefined;
  const file = values["feed-file"] as string | undefined;
  if (feed !== "none" && feed !== "sim" && feed !== "file") fail(`--feed: expected none, sim or file, got "${feed}"`);
  if (seed !== undefined && feed !== "sim") fail("--feed-seed goes with --feed sim");
  if ((file !== undefined) !== (feed === "file")) fail(feed === "file" ? "--feed file needs --feed-file QUOTES.jsonl" : "--feed-file goes with --feed file");
  if (feed === "none") return null;
  if (feed === "file") return ["--source", "file", "--file", file!];
  const seedNumber = intOption(seed, "feed-seed", 1, 0, 0xffff_ffff);
  return ["--source", "sim", "--seed", String(seedNumber)];
}

/** The demo's feeder: `crossbook feed` as a child with an IPC channel (it stops when this process goes away). */
function startFeedProcess(feedArgs: string[], values: Record<string, string | boolean | undefined>, port: number): ChildProcess {
  const host = values.host === "0.0.0.0" || values.host === "::" ? "127.0.0.1" : (values.host as string);
  const url = `ws://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const label = feedArgs[1] === "sim" ? `sim (seed ${feedArgs[3]}) — prices are simulated` : `file ${feedArgs[3]} — recorded quotes`;
  process.stdout.write(`price feed: ${label} (--feed none turns it off)\n`);
  const bin = fileURLToPath(new URL("./crossbook.mjs", import.meta.url));
  const args = ["--experimental-websocket", "--disable-warning=ExperimentalWarning", bin, "feed", ...feedArgs, "--url", url, "--data", values.data as string];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "inherit", "ipc"] });
  child.on("exit", (code, signal) => process.stdout.write(`price feed stopped (${signal ?? `exit ${code}`})\n`));
  return child;
}

/** SIGTERM to the feed, then waits for it (SIGKILL after FEED_STOP_MS). */
function stopFeedProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), FEED_STOP_MS);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** How long `start` waits for its feed to stop before killing it, ms. */
const FEED_STOP_MS = 5000;

/** Prints engine events as the client would see them (same encoder, then the client decoder). */
function resolveId(kind: "asset" | "market", text: string, pub: PublicConfig): number {
  const list = kind === "asset" ? pub.assets : pub.markets;
  const bySymbol = list.find((x) => x.symbol === text.toUpperCase());
  if (bySymbol !== undefined) return bySymbol.id;
  const n = Number(text);
  if (Number.isInteger(n) && list.some((x) => x.id === n)) return n;
  fail(`unknown ${kind} "${text}" (known: ${list.map((x) => x.symbol).join(", ")})`);
}

function accountArg(text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n) || n <= 0 || n > 0xffffffff) fail(`"${text ?? ""}" is not an account id`);
  return n;
}

function print(e: EventJson): void {
  process.stdout.write(`${toJsonText(e)}\n`);
}

/** The client's options as parsed (strings, and booleans for the flags). */
interface ClientValues {
  url: string;
  key?: string;
  data: string;
  tif: string;
  "post-only": boolean;
  "reduce-only": boolean;
  "client-id"?: string;
  margin: boolean;
  leverage?: string;
  "auto-lend"?: string;
  "auto-repay-borrows"?: string;
  "auto-borrow-settlements"?: string;
  "auto-realize-pnl"?: string;
  "margin-enabled"?: string;
}

/** The client's subcommands (each has its usage line in USAGE). */
export const CLIENT_VERBS = [
  "deposit", "order", "cancel", "cancel-all", "withdraw", "transfer", "balances", "collateral", "max-order", "max-withdrawal", "settings",
  "positions", "liquidations", "open-interest", "insurance", "losses", "settlements", "funding", "funding-rates", "mark", "borrow", "lend", "repay", "redeem", "pool", "rate-curve", "interest", "max-borrow", "watch", "market", "marks", "send", "snapshot", "what-if",
];

async function client(argv: string[]): Promise<void> {
  const firstPositional = argv.find((a) => !a.startsWith("-"));
  if (helpRequested(argv, "client", firstPositional)) return;
  const { values, verb, args } = parseClientArgs(argv);
  const url = values.url!;
  const pub = await fetchPublicConfig(httpBaseOf(url)).catch((e: unknown) => fail(noServer(url, e)));
  const keys = new KeyChooser(values.data!, values.key);
  if (verb === "balances") return clientBalances(url, keys, args);
  if (verb === "watch") return clientWatch(url, keys, args);
  if (verb === "market") return clientMarket(url, pub, args);
  if (verb === "marks") return clientMarks(url, pub, args);
  if (verb === "insurance") return clientInsurance(url, pub, args);
  const cmd = verb === "send"
    ? sentCommand(args)
    : (accountCommand(verb, args, values, pub) ?? historyCommand(verb, args, pub) ?? tradingCommand(verb, args, values, pub) ?? lendingCommand(verb, args, pub) ??
      operatorCommand(verb, args, pub) ??
      fail(`client: unknown subcommand "${verb}" (see: crossbook client --help)`));
  const key = keys.forCommand(cmd);
  const c = await connectOrFail(url, key === null ? {} : { key });
  try {
    // A snapshot of a large state takes seconds (it is written to disk before the answer); so does a what-if's cascade.
    for (const e of await c.request(cmd, 150, cmd.type === "TakeSnapshot" || cmd.type === "QueryWhatIf" ? 600_000 : 5000)) print(e);
  } catch (e) {
    fail((e as Error).message);
  } finally {
    await c.close();
  }
}

/** The client's options and its subcommand (one of CLIENT_VERBS) with the subcommand's arguments. */
function parseClientArgs(argv: string[]): { values: ClientValues; verb: string; args: string[] } {
  const parsed = parse(argv, {
      url: { type: "string", default: process.env.CROSSBOOK_URL ?? "ws://127.0.0.1:8080" },
      key: { type: "string" },
      data: { type: "string", default: "data" },
      tif: { type: "string", default: "GTC" },
      "post-only": { type: "boolean", default: false },
      "reduce-only": { type: "boolean", default: false },
      "client-id": { type: "string" },
      margin: { type: "boolean", default: false },
      leverage: { type: "string" },
      "auto-lend": { type: "string" },
      "auto-repay-borrows": { type: "string" },
      "auto-borrow-settlements": { type: "string" },
      "auto-realize-pnl": { type: "string" },
      "margin-enabled": { type: "string" },
  }, "client");
  const values = parsed.values as unknown as ClientValues;
  const [verb, ...args] = parsed.positionals;
  if (verb === undefined) fail("client needs a subcommand (see: crossbook client --help)");
  if (!CLIENT_VERBS.includes(verb)) fail(`client: unknown subcommand "${verb}" (see: crossbook client --help)`);
  return { values, verb, args };
}

/** `client balances ACCOUNT`: the gateway's balance view (a signed GET /balances). */
async function clientBalances(url: string, keys: KeyChooser, args: string[]): Promise<void> {
  const account = accountArg(args[0]);
  const r = await signedGet(httpBaseOf(url), "/balances", "balanceQuery", { account: String(account) }, keys.forUser(userOf(account)));
  process.stdout.write(`${await r.text()}\n`);
  if (!r.ok) process.exitCode = 1;
}

/** `client watch ACCOUNT…`: every event of these accounts until Ctrl-C. */
async function clientWatch(url: string, keys: KeyChooser, args: string[]): Promise<void> {
  const accounts = args.map(accountArg);
  if (accounts.length === 0) fail("watch needs at least one ACCOUNT");
  // One session per user: a session reads only its own user's accounts (X6).
  const users = [...new Set(accounts.map((a) => userOf(a)))];
  const sessions: CrossbookClient[] = [];
  for (const user of users) {
    const c = await connectOrFail(url, { watch: accounts.filter((a) => userOf(a) === user), key: keys.forUser(user) });
    c.onEvent(print);
    sessions.push(c);
  }
  // Ctrl-C is handled from the moment the line below says so.
  const stopped = new Promise<void>((resolve) => process.on("SIGINT", () => resolve()));
  process.stdout.write(`watching ${accounts.join(", ")} — Ctrl-C to stop\n`);
  await stopped;
  for (const c of sessions) await c.close();
}

/** How long `client marks` waits for the marks the gateway sends on subscribe (they come at once). */
const MARKS_WAIT_MS = 500;

/** `client marks [MARKET]`: the last MarkPrice of every perpetual (or of MARKET), as the Mark channel sends on subscribe. */
async function clientMarks(url: string, pub: PublicConfig, args: string[]): Promise<void> {
  const market = args[0] === undefined ? undefined : resolveId("market", args[0], pub);
  const c = await connectOrFail(url, {});
  const marks: EventJson[] = [];
  c.onEvent((e) => {
    if (e.type === "MarkPrice") marks.push(e);
  });
  c.send(market === undefined ? { type: "Subscribe", channels: ["Mark"] } : { type: "Subscribe", market, channels: ["Mark"] });
  await new Promise((resolve) => setTimeout(resolve, MARKS_WAIT_MS));
  await c.close();
  if (marks.length === 0) process.stdout.write("no mark yet (a perpetual gets its mark once oracle quotes or the book give one)\n");
  for (const e of marks) print(e);
}

/** `client insurance [ASSET]`: the insurance fund's balance per asset (Σ of the shard slices), then its history (Q6). */
async function clientInsurance(url: string, pub: PublicConfig, args: string[]): Promise<void> {
  const asset = args[0] === undefined ? undefined : resolveId("asset", args[0], pub);
  const c = await connectOrFail(url, {});
  try {
    for (const e of await c.insuranceFund(asset)) print(e);
    for (const e of await c.insuranceHistory(asset === undefined ? {} : { asset })) print(e);
  } catch (e) {
    fail((e as Error).message);
  } finally {
    await c.close();
  }
}

/** `client market MARKET`: the market's public data until Ctrl-C. */
async function clientMarket(url: string, pub: PublicConfig, args: string[]): Promise<void> {
  const market = resolveId("market", args[0] ?? "", pub);
  const c = await CrossbookClient.connect(url);
  c.onEvent(print);
  c.send({ type: "Subscribe", market, channels: ["Depth", "Trades", "Bbo", "Ticker", "Mark"] });
  const stopped = new Promise<void>((resolve) => process.on("SIGINT", () => resolve()));
  process.stdout.write(`market data of ${pub.markets[market]!.symbol} — Ctrl-C to stop\n`);
  await stopped;
  await c.close();
}

/** An account's funds, settings and positions: deposit, withdraw, transfer, collateral, max-withdrawal, positions,
 * liquidations, open-interest, settings; else null. */
function accountCommand(verb: string, args: string[], values: ClientValues, pub: PublicConfig): CommandJson | null {
  switch (verb) {
    case "deposit":
      return { type: "Deposit", account: accountArg(args[0]), asset: resolveId("asset", args[1] ?? "", pub), amount: args[2] ?? fail("deposit needs AMOUNT") };
    case "withdraw":
      return { type: "Withdraw", account: accountArg(args[0]), asset: resolveId("asset", args[1] ?? "", pub), amount: args[2] ?? fail("withdraw needs AMOUNT"), margin: values.margin };
    case "transfer":
      return { type: "Transfer", fromAccount: accountArg(args[0]), toAccount: accountArg(args[1]), asset: resolveId("asset", args[2] ?? "", pub), amount: args[3] ?? fail("transfer needs AMOUNT") };
    case "collateral":
      return { type: "QueryCollateral", account: accountArg(args[0]) };
    case "max-withdrawal":
      return { type: "QueryMaxWithdrawal", account: accountArg(args[0]), asset: resolveId("asset", args[1] ?? "", pub), margin: values.margin };
    case "positions":
      return { type: "QueryPositions", account: accountArg(args[0]) };
    case "liquidations":
      return { type: "QueryLiquidationHistory", account: accountArg(args[0]) };
    case "open-interest":
      return args[0] === undefined ? { type: "QueryOpenInterest" } : { type: "QueryOpenInterest", market: resolveId("market", args[0], pub) };
    case "settings":
      return settingsCommand(accountArg(args[0]), values);
    default:
      return null;
  }
}

/** Perpetual histories (P4, P6/P7): settlements, funding, funding-rates; else null. The newest rows are kept (a named
 * limit each); SDK users page with sinceMs and limit. */
function historyCommand(verb: string, args: string[], pub: PublicConfig): CommandJson | null {
  const market = (): { market?: number } => (args[1] === undefined ? {} : { market: resolveId("market", args[1], pub) });
  switch (verb) {
    case "settlements":
      return { type: "QuerySettlementHistory", account: accountArg(args[0]), ...market() };
    case "funding":
      return { type: "QueryFundingHistory", account: accountArg(args[0]), ...market() };
    case "funding-rates":
      return { type: "QueryFundingRateHistory", market: resolveId("market", args[0] ?? "", pub) };
    case "losses": // Q4: the exchange's lender write-downs (public)
      return args[0] === undefined ? { type: "QueryLenderLosses" } : { type: "QueryLenderLosses", asset: resolveId("asset", args[0], pub) };
    default:
      return null;
  }
}

/** `client settings ACCOUNT [--leverage N] [--auto-… on|off]`: the changes, or (none given) a look at them. */
function settingsCommand(account: number, values: ClientValues): CommandJson {
  const toggle = (option: string): boolean | undefined => {
    const v = values[option as "auto-lend"];
    if (v === undefined) return undefined;
    if (v === "on") return true;
    if (v === "off") return false;
    fail(`--${option} must be on or off`);
  };
  const settings = {
    autoLend: toggle("auto-lend"),
    autoRepayBorrows: toggle("auto-repay-borrows"),
    autoBorrowSettlements: toggle("auto-borrow-settlements"),
    autoRealizePnl: toggle("auto-realize-pnl"),
    marginEnabled: toggle("margin-enabled"),
  };
  const changes = Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined));
  // Nothing to change: show them (the statement carries the settings).
  if (values.leverage === undefined && Object.keys(changes).length === 0) return { type: "QueryCollateral", account };
  return {
    type: "UpdateAccountSettings",
    account,
    ...(values.leverage !== undefined ? { leverageLimit: intOption(values.leverage, "leverage", 0, 1, 50) } : {}),
    ...changes,
  };
}

/** Orders: order, cancel, cancel-all, max-order; else null. */
function tradingCommand(verb: string, args: string[], values: ClientValues, pub: PublicConfig): CommandJson | null {
  switch (verb) {
    case "order":
      return orderCommand(args, values, pub);
    case "cancel":
      return { type: "Cancel", account: accountArg(args[0]), market: resolveId("market", args[1] ?? "", pub), orderId: args[2] ?? fail("cancel needs ORDER_ID") };
    case "cancel-all":
      return args[1] === undefined
        ? { type: "CancelAll", account: accountArg(args[0]) }
        : { type: "CancelAll", account: accountArg(args[0]), market: resolveId("market", args[1], pub) };
    case "max-order": {
      const side = (args[2] ?? "").toLowerCase();
      if (side !== "buy" && side !== "sell") fail("max-order side must be buy or sell");
      return {
        type: "QueryMaxOrder",
        account: accountArg(args[0]),
        market: resolveId("market", args[1] ?? "", pub),
        side: side === "buy" ? "Buy" : "Sell",
        price: args[3] ?? fail("max-order needs PRICE"),
        autoBorrow: values.margin,
      };
    }
    default:
      return null;
  }
}

/** `client order ACCOUNT MARKET buy|sell QUANTITY [PRICE]`: a limit order with a price, else a market order. */
function orderCommand(args: string[], values: ClientValues, pub: PublicConfig): CommandJson {
  const side = (args[2] ?? "").toLowerCase();
  if (side !== "buy" && side !== "sell") fail("order side must be buy or sell");
  const common = {
    account: accountArg(args[0]),
    market: resolveId("market", args[1] ?? "", pub),
    side: side === "buy" ? ("Buy" as const) : ("Sell" as const),
    ...(values["client-id"] !== undefined ? { clientId: values["client-id"] } : {}),
    ...(values.margin ? { autoBorrow: true } : {}),
    ...(values["reduce-only"] ? { reduceOnly: true } : {}),
  };
  const quantity = args[3] ?? fail("order needs QUANTITY");
  const price = args[4];
  return price === undefined
    ? { type: "MarketOrder", ...common, quantity }
    : { type: "LimitOrder", ...common, quantity, price, tif: values.tif as "GTC", postOnly: values["post-only"] };
}

/** Borrow/lend pools: borrow, lend, repay, redeem, pool, rate-curve, interest, max-borrow; else null. */
function lendingCommand(verb: string, args: string[], pub: PublicConfig): CommandJson | null {
  switch (verb) {
    case "borrow":
    case "lend":
    case "repay":
    case "redeem": {
      const type = verb === "borrow" ? "Borrow" : verb === "lend" ? "Lend" : verb === "repay" ? "Repay" : "Redeem";
      const amount = args[2] ?? (verb === "borrow" || verb === "lend" ? fail(`${verb} needs AMOUNT`) : undefined);
      return { type, account: accountArg(args[0]), asset: resolveId("asset", args[1] ?? "", pub), ...(amount === undefined ? {} : { amount }) };
    }
    case "pool":
      return args[0] === undefined ? { type: "QueryPoolStats" } : { type: "QueryPoolStats", asset: resolveId("asset", args[0], pub) };
    case "rate-curve":
      return { type: "QueryRateCurve", asset: resolveId("asset", args[0] ?? "", pub), points: args[1] === undefined ? 11 : Number(args[1]) };
    case "interest":
      return args[1] === undefined
        ? { type: "QueryInterestHistory", account: accountArg(args[0]) }
        : { type: "QueryInterestHistory", account: accountArg(args[0]), asset: resolveId("asset", args[1], pub) };
    case "max-borrow":
      return { type: "QueryMaxBorrow", account: accountArg(args[0]), asset: resolveId("asset", args[1] ?? "", pub) };
    default:
      return null;
  }
}

/** The operator's commands: mark, snapshot; else null. */
function operatorCommand(verb: string, args: string[], pub: PublicConfig): CommandJson | null {
  switch (verb) {
    case "mark":
      return { type: "SetMarkPrice", asset: resolveId("asset", args[0] ?? "", pub), price: args[1] ?? fail("mark needs PRICE") };
    case "snapshot":
      return { type: "TakeSnapshot" };
    case "what-if":
      return whatIfCommand(args, pub);
    default:
      return null;
  }
}

/** `client what-if SOL=-30% [BTC=-10% …]` (Q7): QueryWhatIf with each shock's mark multiplier (−30% → 0.7). */
function whatIfCommand(args: string[], pub: PublicConfig): CommandJson {
  if (args.length === 0 || args.length > WHAT_IF_SHOCKS_MAX) fail(`what-if needs 1 to ${WHAT_IF_SHOCKS_MAX} shocks, e.g. SOL=-30%`);
  const cmd: Record<string, unknown> = { type: "QueryWhatIf" };
  args.forEach((text, i) => {
    const m = /^([A-Za-z0-9_]+)=([+-]?[0-9.]+)%$/.exec(text) ?? fail(`what-if: ${text}: expected ASSET=CHANGE%, e.g. SOL=-30%`);
    const error = { message: "" };
    // A percent with up to 4 decimals is a factor with up to 6: 1 + pct / 100.
    const percent = tryParseDecimal(m[2]!, 4, true, error) ?? fail(`what-if: ${text}: "${m[2]}%" is not a percentage (${error.message})`);
    const factor = 1_000_000n + percent;
    if (factor <= 0n) fail(`what-if: ${text}: a shock must be above -100%`);
    cmd[`asset${i + 1}`] = resolveId("asset", m[1]!, pub);
    cmd[`factor${i + 1}`] = formatDecimal(factor, 6);
  });
  return cmd as unknown as CommandJson;
}

/** `client send JSON`: any command, as JSON text. */
function sentCommand(args: string[]): CommandJson {
  const text = args[0] ?? fail("send needs a JSON command");
  try {
    return JSON.parse(text) as CommandJson;
  } catch (e) {
    fail(`not JSON: ${(e as Error).message}`);
  }
}

// ---- X6: which key signs, and the `keys` command ----

/** Operator commands sign with the operator's key; the pools' public stats need no key. */
const OPERATOR_COMMANDS = new Set(["Deposit", "SetMarketState", "AdvanceTime", "SetMarkPrice", "OracleQuote", "RegisterApiKey", "RevokeApiKey", "TakeSnapshot", "QueryWhatIf"]);
const PUBLIC_COMMANDS = new Set(["QueryPoolStats", "QueryRateCurve", "QueryOpenInterest", "QueryInsuranceFund", "QueryInsuranceHistory", "QueryFundingRateHistory", "QueryLenderLosses", "Subscribe", "Unsubscribe"]);

/** Finds the private key a command signs with: --key FILE, else the data dir's operator or user key file. */
class KeyChooser {
  constructor(
    private readonly dataDir: string,
    private readonly keyFile: string | undefined,
  ) {}

  private read(path: string, missing: string): KeyObject {
    if (!existsSync(path)) fail(missing);
    try {
      return readPrivateKeyFile(path);
    } catch (e) {
      fail((e as Error).message);
    }
  }

  operator(): KeyObject {
    if (this.keyFile !== undefined) return this.read(this.keyFile, `--key ${this.keyFile}: no such file`);
    const path = operatorKeyPath(this.dataDir);
    return this.read(path, `no operator key at ${path}: the server writes it on its first start (use the server's --data dir, or --key FILE)`);
  }

  forUser(user: number): KeyObject {
    if (this.keyFile !== undefined) return this.read(this.keyFile, `--key ${this.keyFile}: no such file`);
    const path = userKeyPath(this.dataDir, user);
    return this.read(path, `no API key for user ${user} at ${path}: create one with \`npx crossbook keys create ${user}\` (or pass --key FILE)`);
  }

  /** The key a command signs with, or null for a public one. */
  forCommand(cmd: CommandJson): KeyObject | null {
    if (OPERATOR_COMMANDS.has(cmd.type)) return this.operator();
    if (PUBLIC_COMMANDS.has(cmd.type)) return this.keyFile !== undefined ? this.operator() : null;
    const fields = cmd as { account?: unknown; fromAccount?: unknown };
    const account = typeof fields.account === "number" ? fields.account : fields.fromAccount;
    if (typeof account !== "number") fail(`${cmd.type}: no account to choose a key by (pass --key FILE)`);
    return this.forUser(userOf(account));
  }
}

async function connectOrFail(url: string, options: Parameters<typeof CrossbookClient.connect>[1]): Promise<CrossbookClient> {
  try {
    return await CrossbookClient.connect(url, options);
  } catch (e) {
    fail((e as Error).message);
  }
}

function userArg(text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n) || n <= 0 || n > USER_MAX) fail(`"${text ?? ""}" is not a user id (1..${USER_MAX})`);
  return n;
}

async function keysCommand(argv: string[]): Promise<void> {
  if (helpRequested(argv, "keys", argv.find((a) => !a.startsWith("-")))) return;
  const parsed = parse(argv, {
      url: { type: "string", default: process.env.CROSSBOOK_URL ?? "ws://127.0.0.1:8080" },
      data: { type: "string", default: "data" },
      permissions: { type: "string", default: "read,trade" },
      out: { type: "string" },
  }, "keys");
  const values = parsed.values as { url: string; data: string; permissions: string; out?: string };
  const [verb, userText, apiKey] = parsed.positionals;
  if (verb !== "create" && verb !== "list" && verb !== "revoke") fail("keys needs create, list or revoke (see: crossbook keys --help)");
  const user = userArg(userText);
  const url = values.url!;
  await fetchPublicConfig(httpBaseOf(url)).catch((e: unknown) => fail(noServer(url, e)));
  const operator = new KeyChooser(values.data!, undefined).operator();
  if (verb === "list") {
    const r = await signedGet(httpBaseOf(url), "/keys", "apiKeyQuery", { user: String(user) }, operator);
    process.stdout.write(`${await r.text()}\n`);
    if (!r.ok) process.exitCode = 1;
    return;
  }
  if (verb === "revoke") {
    await operatorRequest(url, operator, { type: "RevokeApiKey", user, apiKey: apiKey ?? fail("keys revoke needs USER API_KEY") });
    return;
  }
  let permissions: number;
  try {
    permissions = parsePermissions(values.permissions!);
  } catch (e) {
    fail(`--permissions: ${(e as Error).message}`);
  }
  const path = values.out ?? userKeyPath(values.data!, user);
  if (existsSync(path)) fail(`${path} exists already: revoke its key with \`keys revoke\` and delete it, or give --out FILE`);
  const key = generateKey();
  writePrivateKeyFile(path, key);
  if (!(await operatorRequest(url, operator, { type: "RegisterApiKey", user, apiKey: apiKeyOf(key), permissions }))) {
    unlinkSync(path);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`${JSON.stringify({ user, apiKey: apiKeyOf(key), permissions: formatPermissions(permissions), keyFile: path })}\n`);
}

/** Sends one operator command and prints its answer; true when accepted. */
async function operatorRequest(url: string, operator: KeyObject, cmd: CommandJson): Promise<boolean> {
  const c = await connectOrFail(url, { key: operator });
  try {
    const events = await c.request(cmd);
    for (const e of events) print(e);
    return events.some((e) => e.type === "CommandAccepted");
  } catch (e) {
    fail((e as Error).message);
  } finally {
    await c.close();
  }
}

// ---- the price feeder (gateway/feed/feeder.ts does the work; this only parses) ----

/** `crossbook feed`: OracleQuote commands from a quote source until Ctrl-C / SIGTERM (or the file's end). */
async function feedCommand(argv: string[]): Promise<void> {
  if (helpRequested(argv, "feed")) return;
  const { values, positionals } = parse(argv, {
      source: { type: "string", default: "sim" },
      seed: { type: "string", default: "1" },
      file: { type: "string" },
      "source-url": { type: "string" },
      assets: { type: "string" },
      "interval-ms": { type: "string" },
      inflight: { type: "string" },
      url: { type: "string", default: process.env.CROSSBOOK_URL ?? "ws://127.0.0.1:8080" },
      data: { type: "string", default: "data" },
      key: { type: "string" },
  }, "feed");
  if (positionals.length > 0) fail(`feed: unexpected argument "${positionals[0]}" (see: crossbook feed --help)`);
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const url = str("url")!;
  const { checkFeederOptions, Feeder, FeedError, FEED_INFLIGHT_DEFAULT, FEED_INTERVAL_MS_DEFAULT } = await import("../gateway/feed/index.ts");
  const checked = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof FeedError) fail(`feed: ${e.message}`);
      throw e;
    }
  };
  const options = {
    url,
    operatorKey: undefined as unknown as KeyObject,
    source: str("source") as "sim",
    seed: Number(str("seed")),
    ...(str("file") !== undefined ? { file: str("file")! } : {}),
    ...(str("source-url") !== undefined ? { sourceUrl: str("source-url")! } : {}),
    ...(str("assets") !== undefined ? { assets: str("assets")!.split(",") } : {}),
    intervalMs: str("interval-ms") === undefined ? FEED_INTERVAL_MS_DEFAULT : Number(str("interval-ms")),
    inflightMax: str("inflight") === undefined ? FEED_INFLIGHT_DEFAULT : Number(str("inflight")),
    log: (line: string) => void process.stdout.write(`feed: ${line}\n`),
  };
  checked(() => checkFeederOptions(options));
  options.operatorKey = new KeyChooser(str("data")!, str("key")).operator();
  const pub = await configWhenUp(url);
  const feeder = await Feeder.start(options, pub).catch((e: unknown) => checked(() => {
    throw e;
  }));
  // The handlers go in before the first line: a caller may answer that line with Ctrl-C at once.
  const stop = (): void => void feeder.stop();
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  process.stdout.write(`price feed: ${feeder.describe()} — Ctrl-C to stop\n`);
  // Started by `crossbook start --feed …` (an IPC channel): stop when the server process goes away.
  if (process.connected === true) process.on("disconnect", stop);
  await feeder.done;
  if (feeder.error !== null) throw feeder.error;
  process.exit(0);
}

/** Why a GET of the server failed: the error's message and its cause's code or message (ECONNREFUSED, a timeout…). */
function fetchFailure(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message;
  return `${(e as Error).message}${detail !== undefined ? ` (${detail})` : ""}`;
}

function noServer(url: string, e: unknown): string {
  return `no crossbook server at ${url} (${fetchFailure(e)}; start one with: npm start)`;
}

/** How long `crossbook feed` waits for the server's GET /config (a server it was started beside may still be busy), ms. */
const FEED_SERVER_WAIT_MS = 30_000;

async function configWhenUp(url: string): Promise<PublicConfig> {
  const deadline = Date.now() + FEED_SERVER_WAIT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fetchPublicConfig(httpBaseOf(url));
    } catch (e) {
      const why = fetchFailure(e);
      if (Date.now() > deadline) fail(noServer(url, e));
      if (attempt === 0) process.stdout.write(`feed: no answer from ${url} yet (${why}): retrying for ${FEED_SERVER_WAIT_MS / 1000} s\n`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

export async function main(argv: string[]): Promise<void> {
  try {
    await run(argv);
  } catch (e) {
    // Never a stack trace: a usage error is one line with exit 2, an unexpected failure one line with exit 1.
    process.stderr.write(`crossbook: ${(e as Error).message ?? String(e)}\n`);
    process.exit(e instanceof UsageError ? 2 : 1);
  }
}

async function run(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "start":
      await start(rest);
      return;
    case "replay":
      replay(rest);
      return;
    case "journal-hash":
      journalHash(rest);
      return;
    case "journal-verify":
      journalVerify(rest);
      return;
    case "journal-archive":
      await journalArchive(rest);
      return;
    case "client":
      await client(rest);
      return;
    case "keys":
      await keysCommand(rest);
      return;
    case "load":
      await loadCommand(rest);
      return;
    case "feed":
      await feedCommand(rest);
      return;
    case "config":
      configCommand(rest, configFrom);
      return;
    case "stress":
      await stressCommand(rest, configFrom);
      return;
    case "snapshot":
      // An operator command like `client mark`: the same connection, signed with the operator key.
      await client(["snapshot", ...rest]);
      return;
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      fail(`unknown command "${command}" (see: crossbook --help)`);
  }
}
