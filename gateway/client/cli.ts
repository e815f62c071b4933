// The `crossbook` command line: start the exchange, replay a command file in-process, check a journal, and a
// terminal client for people (deposit, order, cancel, balances, watch).
import { closeSync, copyFileSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import {
  emptySummary,
  listSegments,
  segmentBatches,
  validSnapshots,
  JOURNAL_ARCHIVE_DIR,
  JOURNAL_SEGMENT_DIR,
  SNAPSHOT_DIR,
  type JournalSegment,
} from "../../engine/journal/index.ts";
import { CommandRecord, EventKind, EventRecord, RejectCode, type EventSink, type ExchangeConfig } from "../../engine/model/index.ts";
import { configDigest, DEFAULT_CONFIG_PATH, Engine, loadConfig, type EngineTopology } from "../../engine/pipeline/index.ts";
import { Command as WireCommand } from "../../schemas/index.ts";
import { decodeCommand, DecodedKind, DecodeResult, encodeEvent } from "../codec/index.ts";
import { startServer } from "../server.ts";
import { SNAPSHOT_POLICY_DEFAULT, type SnapshotPolicy } from "../snapshots.ts";
import { CommandJsonError, decodeEvent, jsonToFrame, toJsonText, type CommandJson, type EventJson } from "./codec.ts";
import { CrossbookClient, fetchPublicConfig, httpBaseOf, type PublicConfig } from "./ws-client.ts";

const USAGE = `crossbook — cross-margin exchange engine

  crossbook start [--host 127.0.0.1] [--port 8080] [--data data] [--config FILE] [--allow-fallback]
                  [--risk-shards 1] [--matching-shards 1] [--stages fused|split] [--tick-ms 1000]
                                                   1 × 1 runs risk and matching fused on one engine worker;
                                                   --stages split gives each its own worker
  crossbook replay FILE.jsonl [--config FILE]      one JSON command per line, in-process, simulated clock;
                                                   prints one JSON event per line, then the state hash
                  [--truncate-at-corruption] [--journal-segment-mb 64] [--archive DIR]
                  [--snapshot-every-commands 1000000] [--snapshot-every-minutes 15] [--snapshots-kept 3]
                                                   --truncate-at-corruption: start past a corrupt journal,
                                                   keeping exactly the records before the corruption
  crossbook snapshot [--url ws://127.0.0.1:8080] [--token T] [--data data]
                                                   (operator) the server writes a snapshot now
  crossbook journal-hash [--data data] [--config FILE] [--from-genesis] [--archive DIR]
                                                   replays the journal in-process, prints the state hash;
                                                   --from-genesis also reads the archived segments
  crossbook journal-verify [--data data] [--config FILE] [--archive DIR]
                                                   checks every batch of every segment: records, segments,
                                                   and the offset of a corruption (exit 1 if there is one)
  crossbook journal-archive [--data data] [--config FILE] [--archive DIR]
                                                   moves the segments the oldest kept snapshot covers to
                                                   DIR (default data/journal-archive)
  crossbook client deposit ACCOUNT ASSET AMOUNT            (operator: uses data/admin.token)
  crossbook client order ACCOUNT MARKET buy|sell QUANTITY [PRICE] [--tif GTC|IOC|FOK] [--post-only]
                                                   [--client-id N] [--margin]   (no PRICE = market order;
                                                   --margin: spot margin, autoBorrow)
  crossbook client cancel ACCOUNT MARKET ORDER_ID
  crossbook client cancel-all ACCOUNT [MARKET]
  crossbook client withdraw ACCOUNT ASSET AMOUNT [--margin]
  crossbook client transfer FROM TO ASSET AMOUNT
  crossbook client balances ACCOUNT
  crossbook client collateral ACCOUNT                      net equity, margin ratios, and per asset: quantity,
                                                           mark, haircut weight, collateral value, open orders
  crossbook client max-order ACCOUNT MARKET buy|sell PRICE [--margin]
                                                           largest order risk accepts now (and the margin limit)
  crossbook client max-withdrawal ACCOUNT ASSET [--margin] largest withdrawal risk accepts now
  crossbook client settings ACCOUNT [--leverage 1..50] [--auto-lend on|off] [--auto-repay-borrows on|off]
                                    [--auto-borrow-settlements on|off] [--auto-realize-pnl on|off]
                                    [--margin-enabled on|off]   (no option: show the settings)
  crossbook client mark ASSET PRICE                        (operator) the asset's USD mark price
  crossbook client borrow|lend ACCOUNT ASSET AMOUNT        manual borrow / lend (refused while auto-lend is on)
  crossbook client repay|redeem ACCOUNT ASSET [AMOUNT]     manual repay / redeem (no AMOUNT: all of it)
  crossbook client pool [ASSET]                            pool market stats: lent, borrowed, utilization, APRs
  crossbook client rate-curve ASSET [POINTS]               the borrow / lend APR at POINTS utilizations (2..101)
  crossbook client interest ACCOUNT [ASSET]                interest history: entry fees, hourly borrow and lend
  crossbook client max-borrow ACCOUNT ASSET                largest manual borrow risk accepts now
  crossbook client watch ACCOUNT [ACCOUNT ...]
  crossbook client market MARKET                           L2 snapshot + deltas, trades, BBO, 24 h ticker
  crossbook client send '{"type":"LimitOrder",...}'          any command as JSON (see gateway/client/codec.ts)
  client options: [--url ws://127.0.0.1:8080] [--token T] [--data data]

Accounts: user × 16 + sub-account (0 = main, 1..10): user 1's main account is 16.
ASSET and MARKET take a symbol (BTC, BTC_USDC) or an id.`;

function fail(message: string): never {
  process.stderr.write(`crossbook: ${message}\n`);
  process.exit(2);
}

function configFrom(path: string | undefined): ExchangeConfig {
  try {
    return loadConfig(path ?? DEFAULT_CONFIG_PATH);
  } catch (e) {
    fail((e as Error).message);
  }
}

function intOption(v: string | undefined, name: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be an integer in [${min}, ${max}]`);
  return n;
}

async function start(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
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
    },
  });
  const config = configFrom(values.config);
  const snapshots: SnapshotPolicy = {
    everyCommands: intOption(values["snapshot-every-commands"], "snapshot-every-commands", SNAPSHOT_POLICY_DEFAULT.everyCommands, 0, 1e12),
    everyMs: intOption(values["snapshot-every-minutes"], "snapshot-every-minutes", SNAPSHOT_POLICY_DEFAULT.everyMs / 60_000, 0, 10_080) * 60_000,
    keep: intOption(values["snapshots-kept"], "snapshots-kept", SNAPSHOT_POLICY_DEFAULT.keep, 1, 100),
  };
  const topology: EngineTopology = {
    riskShards: intOption(values["risk-shards"], "risk-shards", 1, 1, 8),
    matchingShards: intOption(values["matching-shards"], "matching-shards", 1, 1, 8),
  };
  const stages = values.stages ?? "fused";
  if (stages !== "fused" && stages !== "split") fail(`--stages: expected fused or split, got "${stages}"`);
  const server = await startServer({
    config,
    stages,
    host: values.host!,
    port: intOption(values.port, "port", 8080, 0, 65535),
    dataDir: values.data!,
    topology,
    tickIntervalMs: intOption(values["tick-ms"], "tick-ms", 1000, 0, 3_600_000),
    allowFallback: values["allow-fallback"],
    truncateAtCorruption: values["truncate-at-corruption"],
    snapshots,
    journalSegmentBytes: intOption(values["journal-segment-mb"], "journal-segment-mb", 64, 1, 4096) * 1024 * 1024,
    ...(values.archive !== undefined ? { archiveDir: values.archive } : {}),
  }).catch((e: unknown) => fail((e as Error).message));
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: draining and stopping\n`);
    server.stop().then(
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

/** Prints engine events as the client would see them (same encoder, then the client decoder). */
function printingSink(config: ExchangeConfig, clientSeqOf: () => bigint): EventSink {
  return {
    publish(e: EventRecord): void {
      process.stdout.write(`${toJsonText(decodeEvent(encodeEvent(e, clientSeqOf(), config)))}\n`);
    },
  };
}

function printReject(config: ExchangeConfig, clientSeq: bigint, code: number, message: string, commandType: number): void {
  const e = new EventRecord();
  e.kind = commandType === WireCommand.LimitOrder || commandType === WireCommand.MarketOrder ? EventKind.OrderRejected : EventKind.CommandRejected;
  e.code = code;
  e.message = message;
  process.stdout.write(`${toJsonText(decodeEvent(encodeEvent(e, clientSeq, config)))}\n`);
}

function replay(argv: string[]): void {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { config: { type: "string" } } });
  const file = positionals[0] ?? fail("replay needs a FILE.jsonl");
  const config = configFrom(values.config);
  const engine = new Engine(config);
  const cmd = new CommandRecord();
  const result = new DecodeResult();
  let clientSeq = 0n;
  const sink = printingSink(config, () => clientSeq);
  let seq = 0;
  const lines = readFileSync(file, "utf8").split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    let frame: Uint8Array;
    try {
      frame = jsonToFrame(JSON.parse(line));
    } catch (e) {
      const why = e instanceof CommandJsonError || e instanceof SyntaxError ? e.message : String(e);
      fail(`${file}:${i + 1}: ${why}`);
    }
    if (!decodeCommand(frame, config, cmd, result)) {
      printReject(config, result.clientSeq, result.code, result.message, result.commandType);
      continue;
    }
    if (result.kind !== DecodedKind.Engine) {
      printReject(config, result.clientSeq, RejectCode.UnknownCommand, "market-data subscriptions have no meaning in a replay", result.commandType);
      continue;
    }
    clientSeq = result.clientSeq;
    cmd.seq = ++seq;
    engine.execute(cmd, sink);
  }
  process.stdout.write(`${JSON.stringify({ stateHash: engine.stateHash(), commands: seq })}\n`);
}

const JOURNAL_TOOL_OPTIONS = {
  data: { type: "string", default: "data" },
  config: { type: "string" },
  archive: { type: "string" },
} as const;

function archiveDirOf(values: { data?: string; archive?: string }): string {
  return values.archive ?? join(values.data!, JOURNAL_ARCHIVE_DIR);
}

function journalHash(argv: string[]): void {
  const { values } = parseArgs({ args: argv, options: { ...JOURNAL_TOOL_OPTIONS, "from-genesis": { type: "boolean", default: false } } });
  const config = configFrom(values.config);
  const engine = new Engine(config);
  const discard: EventSink = { publish: () => {} };
  const summary = emptySummary();
  // Without --from-genesis only the live segments are read (they must still start at sequence 1).
  const segments = listSegments(values.data!, values["from-genesis"] ? archiveDirOf(values) : null);
  try {
    for (const b of segmentBatches(segments, { configDigestHex: configDigest(config) }, summary)) engine.processBatch(b.commands, b.count, discard);
  } catch (e) {
    fail((e as Error).message);
  }
  const segmentsRead = segments.length;
  process.stdout.write(`${JSON.stringify({ stateHash: engine.stateHash(), batches: summary.batches, commands: summary.commands, lastSeq: summary.lastSeq, segments: segmentsRead, tornTailBytes: summary.truncatedBytes })}\n`);
}

/** Every batch of the archived and live segments checked (magic, size, CRC, numbering), nothing replayed. */
function journalVerify(argv: string[]): void {
  const { values } = parseArgs({ args: argv, options: JOURNAL_TOOL_OPTIONS });
  const config = configFrom(values.config);
  const segments = listSegments(values.data!, archiveDirOf(values));
  const summary = emptySummary();
  try {
    const opts = { configDigestHex: configDigest(config), reportCorruption: true, fromSeq: segments[0]?.firstSeq ?? 0 };
    const batches = segmentBatches(segments, opts, summary);
    while (batches.next().done !== true);
  } catch (e) {
    fail((e as Error).message);
  }
  const c = summary.corruption;
  process.stdout.write(`${JSON.stringify({
    records: summary.commands,
    batches: summary.batches,
    segments: segments.length,
    archivedSegments: segments.filter((x) => x.archived).length,
    firstSeq: segments[0]?.firstSeq ?? 0,
    lastSeq: summary.lastSeq,
    tornTailBytes: summary.truncatedBytes,
    corruption: c === null ? null : { file: c.file, offset: c.offset, reason: c.reason, recordsAfter: c.recordsAfter, batchesAfter: c.batchesAfter },
  })}\n`);
  if (c !== null) process.exit(1);
}

/** Moves a segment, by rename when the archive is on the same file system, else copy, fsync and unlink. */
function moveSegment(s: JournalSegment, archiveDir: string): void {
  const target = join(archiveDir, basename(s.path));
  try {
    renameSync(s.path, target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EXDEV") throw e;
    copyFileSync(s.path, target);
    const fd = openSync(target, "r");
    fsyncSync(fd);
    closeSync(fd);
    unlinkSync(s.path);
  }
}

/** X7: segments whose every record the oldest usable snapshot includes go to the archive directory. */
async function journalArchive(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: JOURNAL_TOOL_OPTIONS });
  const config = configFrom(values.config);
  const dataDir = values.data!;
  const archiveDir = archiveDirOf(values);
  let oldest = 0;
  const expectation = { configDigestHex: configDigest(config), riskShards: 0, matchingShards: 0 };
  // Any topology (0): a snapshot of this config makes the segments it covers unnecessary for a restart.
  const skip = (path: string, reason: string): void => void process.stderr.write(`snapshot ${basename(path)} ignored: ${reason}\n`);
  for await (const s of validSnapshots(join(dataDir, SNAPSHOT_DIR), expectation, skip)) oldest = s.seq;
  const live = listSegments(dataDir, null).filter((s) => dirname(s.path) === join(dataDir, JOURNAL_SEGMENT_DIR));
  const moved: string[] = [];
  if (oldest > 0) {
    mkdirSync(archiveDir, { recursive: true, mode: 0o700 });
    // A segment is covered when the next one starts at or before oldest + 1; the last (open) segment never moves.
    for (let i = 0; i + 1 < live.length && live[i + 1]!.firstSeq <= oldest + 1; i++) {
      moveSegment(live[i]!, archiveDir);
      moved.push(basename(live[i]!.path));
    }
    if (moved.length > 0) {
      for (const dir of [archiveDir, join(dataDir, JOURNAL_SEGMENT_DIR)]) {
        const fd = openSync(dir, "r");
        fsyncSync(fd);
        closeSync(fd);
      }
    }
  }
  process.stdout.write(`${JSON.stringify({ oldestSnapshotSeq: oldest, archived: moved, archiveDir, liveSegments: live.length - moved.length })}\n`);
}

// ---- the terminal client ----

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

async function client(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: "string", default: "ws://127.0.0.1:8080" },
      token: { type: "string" },
      data: { type: "string", default: "data" },
      tif: { type: "string", default: "GTC" },
      "post-only": { type: "boolean", default: false },
      "client-id": { type: "string" },
      margin: { type: "boolean", default: false },
      leverage: { type: "string" },
      "auto-lend": { type: "string" },
      "auto-repay-borrows": { type: "string" },
      "auto-borrow-settlements": { type: "string" },
      "auto-realize-pnl": { type: "string" },
      "margin-enabled": { type: "string" },
    },
  });
  const [verb, ...args] = positionals;
  if (verb === undefined) fail(`client needs a subcommand\n\n${USAGE}`);
  const url = values.url!;
  const pub = await fetchPublicConfig(httpBaseOf(url)).catch(() => fail(`no crossbook server at ${url} (start one with: npm start)`));
  if (verb === "balances") {
    const account = accountArg(args[0]);
    const r = await fetch(new URL(`/balances?account=${account}`, httpBaseOf(url)));
    process.stdout.write(`${await r.text()}\n`);
    return;
  }
  let token = values.token ?? process.env.CROSSBOOK_ADMIN_TOKEN;
  if (token === undefined) {
    try {
      token = readFileSync(join(values.data!, "admin.token"), "utf8").trim();
    } catch {
      token = undefined;
    }
  }
  if (verb === "watch") {
    const accounts = args.map(accountArg);
    if (accounts.length === 0) fail("watch needs at least one ACCOUNT");
    const c = await CrossbookClient.connect(url, { watch: accounts });
    c.onEvent(print);
    process.stdout.write(`watching ${accounts.join(", ")} — Ctrl-C to stop\n`);
    await new Promise<void>((resolve) => process.on("SIGINT", () => resolve()));
    await c.close();
    return;
  }
  if (verb === "market") {
    const market = resolveId("market", args[0] ?? "", pub);
    const c = await CrossbookClient.connect(url);
    c.onEvent(print);
    c.send({ type: "Subscribe", market, channels: ["Depth", "Trades", "Bbo", "Ticker"] });
    process.stdout.write(`market data of ${pub.markets[market]!.symbol} — Ctrl-C to stop\n`);
    await new Promise<void>((resolve) => process.on("SIGINT", () => resolve()));
    await c.close();
    return;
  }
  let cmd: CommandJson;
  switch (verb) {
    case "deposit":
      cmd = { type: "Deposit", account: accountArg(args[0]), asset: resolveId("asset", args[1] ?? "", pub), amount: args[2] ?? fail("deposit needs AMOUNT") };
      break;
    case "withdraw":
      cmd = { type: "Withdraw", account: accountArg(args[0]), asset: resolveId("asset", args[1] ?? "", pub), amount: args[2] ?? fail("withdraw needs AMOUNT"), margin: values.margin };
      break;
    case "collateral":
      cmd = { type: "QueryCollateral", account: accountArg(args[0]) };
      break;
    case "max-order": {
      const side = (args[2] ?? "").toLowerCase();
      if (side !== "buy" && side !== "sell") fail("max-order side must be buy or sell");
      cmd = {
        type: "QueryMaxOrder",
        account: accountArg(args[0]),
        market: resolveId("market", args[1] ?? "", pub),
        side: side === "buy" ? "Buy" : "Sell",
        price: args[3] ?? fail("max-order needs PRICE"),
        autoBorrow: values.margin,
      };
      break;
    }
    case "borrow":
    case "lend":
    case "repay":
    case "redeem": {
      const type = verb === "borrow" ? "Borrow" : verb === "lend" ? "Lend" : verb === "repay" ? "Repay" : "Redeem";
      const amount = args[2] ?? (verb === "borrow" || verb === "lend" ? fail(`${verb} needs AMOUNT`) : undefined);
      cmd = { type, account: accountArg(args[0]), asset: resolveId("asset", args[1] ?? "", pub), ...(amount === undefined ? {} : { amount }) };
      break;
    }
    case "pool":
      cmd = args[0] === undefined ? { type: "QueryPoolStats" } : { type: "QueryPoolStats", asset: resolveId("asset", args[0], pub) };
      break;
    case "rate-curve":
      cmd = { type: "QueryRateCurve", asset: resolveId("asset", args[0] ?? "", pub), points: args[1] === undefined ? 11 : Number(args[1]) };
      break;
    case "interest":
      cmd = args[1] === undefined
        ? { type: "QueryInterestHistory", account: accountArg(args[0]) }
        : { type: "QueryInterestHistory", account: accountArg(args[0]), asset: resolveId("asset", args[1], pub) };
      break;
    case "max-borrow":
      cmd = { type: "QueryMaxBorrow", account: accountArg(args[0]), asset: resolveId("asset", args[1] ?? "", pub) };
      break;
    case "max-withdrawal":
      cmd = { type: "QueryMaxWithdrawal", account: accountArg(args[0]), asset: resolveId("asset", args[1] ?? "", pub), margin: values.margin };
      break;
    case "settings": {
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
      const account = accountArg(args[0]);
      if (values.leverage === undefined && Object.keys(changes).length === 0) {
        // Nothing to change: show them (the statement carries the settings).
        cmd = { type: "QueryCollateral", account };
        break;
      }
      cmd = {
        type: "UpdateAccountSettings",
        account,
        ...(values.leverage !== undefined ? { leverageLimit: intOption(values.leverage, "leverage", 0, 1, 50) } : {}),
        ...changes,
      };
      break;
    }
    case "mark":
      cmd = { type: "SetMarkPrice", asset: resolveId("asset", args[0] ?? "", pub), price: args[1] ?? fail("mark needs PRICE") };
      break;
    case "transfer":
      cmd = { type: "Transfer", fromAccount: accountArg(args[0]), toAccount: accountArg(args[1]), asset: resolveId("asset", args[2] ?? "", pub), amount: args[3] ?? fail("transfer needs AMOUNT") };
      break;
    case "order": {
      const side = (args[2] ?? "").toLowerCase();
      if (side !== "buy" && side !== "sell") fail("order side must be buy or sell");
      const common = {
        account: accountArg(args[0]),
        market: resolveId("market", args[1] ?? "", pub),
        side: side === "buy" ? ("Buy" as const) : ("Sell" as const),
        ...(values["client-id"] !== undefined ? { clientId: values["client-id"] } : {}),
        ...(values.margin ? { autoBorrow: true } : {}),
      };
      const quantity = args[3] ?? fail("order needs QUANTITY");
      const price = args[4];
      cmd = price === undefined
        ? { type: "MarketOrder", ...common, quantity }
        : { type: "LimitOrder", ...common, quantity, price, tif: values.tif as "GTC", postOnly: values["post-only"] };
      break;
    }
    case "cancel":
      cmd = { type: "Cancel", account: accountArg(args[0]), market: resolveId("market", args[1] ?? "", pub), orderId: args[2] ?? fail("cancel needs ORDER_ID") };
      break;
    case "cancel-all":
      cmd = args[1] === undefined
        ? { type: "CancelAll", account: accountArg(args[0]) }
        : { type: "CancelAll", account: accountArg(args[0]), market: resolveId("market", args[1], pub) };
      break;
    case "snapshot":
      cmd = { type: "TakeSnapshot" };
      break;
    case "send":
      try {
        cmd = JSON.parse(args[0] ?? fail("send needs a JSON command")) as CommandJson;
      } catch (e) {
        fail(`not JSON: ${(e as Error).message}`);
      }
      break;
    default:
      fail(`unknown client subcommand "${verb}"\n\n${USAGE}`);
  }
  const c = await CrossbookClient.connect(url, token !== undefined ? { token } : {});
  try {
    // A snapshot of a large state takes seconds (it is written to disk before the answer).
    for (const e of await c.request(cmd, 150, cmd.type === "TakeSnapshot" ? 600_000 : 5000)) print(e);
  } catch (e) {
    fail((e as Error).message);
  } finally {
    await c.close();
  }
}

export async function main(argv: string[]): Promise<void> {
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
    case "snapshot":
      // An operator command like `client mark`: the same connection and token lookup.
      await client(["snapshot", ...rest]);
      return;
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      fail(`unknown command "${command}"\n\n${USAGE}`);
  }
}
