// Accounts and margin on the wire and through every layer: the JSON/FlatBuffers codec of the account commands and
// events (settings, marks, collateral statement, max quantities, lent/borrowed balances), the ring record's account
// block, the threaded pipeline against the in-process engine with these commands (marks reach every risk shard),
// and the server and the `crossbook client` CLI end to end.
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  ACCOUNT_SETTING_VALUE_SHIFT,
  AccountSetting,
  CommandKind,
  CommandRecord,
  EventKind,
  EventRecord,
  OrderFlag,
  OrderType,
  RejectCode,
  rejectCodeName,
  REPORTED_RATIO_UNBOUNDED,
  Side,
  TimeInForce,
  type EventSink,
} from "../engine/model/index.ts";
import { COMMAND_RECORD_BYTES, Engine, loadConfig, ThreadedPipeline, writeCommand, type EngineTopology } from "../engine/pipeline/index.ts";
import { EVENT_RECORD_BYTES, readEvent, viewsOf, writeEvent } from "../engine/model/record-layout.ts";
import { decodeEvent, encodeCommand, jsonToFrame, type CommandJson, type EventJson } from "../gateway/client/codec.ts";
import { CrossbookClient } from "../gateway/client/ws-client.ts";
import { userKeyPath, writePrivateKeyFile } from "../gateway/auth/keys.ts";
import { decodeCommand, DecodeResult, encodeEvent } from "../gateway/codec/index.ts";
import { startServer, type RunningServer } from "../gateway/server.ts";
import { CommandGenerator } from "./helpers/random-commands.ts";
import { connectUser, registerKey } from "./helpers/auth.ts";
import { eventAmount2Slot, eventAmountSlot, eventCodeSlot, eventSideSlot } from "../engine/model/generated/records.ts";

const config = loadConfig();
const USDC = 0;
const SOL = 4;
const SOL_USDC = 2;
const USD = 1_000_000_000n;

const out = new CommandRecord();
const result = new DecodeResult();

function decoded(cmd: CommandJson): CommandRecord | string {
  if (!decodeCommand(encodeCommand(1n, cmd), config, out, result)) return `${rejectCodeName[result.code]}: ${result.message}`;
  return out;
}

function record(fields: Partial<CommandRecord>): CommandRecord {
  return Object.assign(new CommandRecord(), fields);
}

function event(fields: Partial<EventRecord>): EventRecord {
  return Object.assign(new EventRecord(), fields);
}

describe("codec: account commands (JSON → frame → CommandRecord)", () => {
  it("A3: UpdateAccountSettings — toggles become the changed-mask and values, leverageLimit its own field", () => {
    expect({ ...(decoded({ type: "UpdateAccountSettings", account: 17, leverageLimit: 5, autoLend: true, marginEnabled: false }) as CommandRecord) }).toEqual({
      ...record({
        kind: CommandKind.UpdateAccountSettings,
        account: 17,
        leverageLimit: 5,
        flags: AccountSetting.AutoLend | AccountSetting.MarginEnabled | (AccountSetting.AutoLend << ACCOUNT_SETTING_VALUE_SHIFT),
      }),
    });
    const names = decoded({ type: "UpdateAccountSettings", account: 17, autoRepayBorrows: "Off", autoRealizePnl: "On" }) as CommandRecord;
    expect(names.flags).toBe(AccountSetting.AutoRepayBorrows | AccountSetting.AutoRealizePnl | (AccountSetting.AutoRealizePnl << ACCOUNT_SETTING_VALUE_SHIFT));
    expect(names.leverageLimit).toBe(0);
    expect(result.privileged).toBe(false);
  });

  it("X5: UpdateAccountSettings with a bad toggle, leverage above 50, or nothing to change is refused at the gateway", () => {
    expect(decoded({ type: "UpdateAccountSettings", account: 17, autoLend: 3 })).toBe("InvalidField: auto_lend: 3 is not a Toggle (0..2)");
    expect(decoded({ type: "UpdateAccountSettings", account: 17, leverageLimit: 51 })).toBe("InvalidSetting: leverage_limit: 51 is outside 1..50 (0 = unchanged)");
    expect(decoded({ type: "UpdateAccountSettings", account: 17 })).toBe("InvalidSetting: UpdateAccountSettings changes nothing");
    expect(decoded({ type: "UpdateAccountSettings", account: 27, leverageLimit: 2 })).toContain("InvalidAccount");
  });

  it("SetMarkPrice is privileged and carries the USD price at 1e-9; zero or negative is refused", () => {
    expect({ ...(decoded({ type: "SetMarkPrice", asset: SOL, price: "140.123456789" }) as CommandRecord) }).toEqual({
      ...record({ kind: CommandKind.SetMarkPrice, asset: SOL, price: 140_123_456_789n }),
    });
    expect(result.privileged).toBe(true);
    expect(decoded({ type: "SetMarkPrice", asset: SOL, price: "0" })).toBe("InvalidPrice: zero price");
    expect(decoded({ type: "SetMarkPrice", asset: SOL, price: "-1" })).toContain("InvalidPrice: negative price");
    expect(decoded({ type: "SetMarkPrice", asset: 9, price: "1" })).toBe("UnknownAsset: unknown asset 9");
  });

  it("C10: QueryCollateral, QueryMaxOrder (limit price, spot-margin flags) and QueryMaxWithdrawal (margin flag)", () => {
    expect({ ...(decoded({ type: "QueryCollateral", account: 33 }) as CommandRecord) }).toEqual({ ...record({ kind: CommandKind.QueryCollateral, account: 33 }) });
    expect({ ...(decoded({ type: "QueryMaxOrder", account: 33, market: SOL_USDC, side: "Sell", price: "150", autoBorrow: true, autoLendRedeem: true }) as CommandRecord) }).toEqual({
      ...record({
        kind: CommandKind.QueryMaxOrder,
        account: 33,
        market: SOL_USDC,
        side: Side.Sell,
        orderType: OrderType.Limit,
        price: 150n * USD,
        flags: OrderFlag.AutoBorrow | OrderFlag.AutoLendRedeem,
      }),
    });
    expect({ ...(decoded({ type: "QueryMaxWithdrawal", account: 33, asset: SOL, margin: true }) as CommandRecord) }).toEqual({
      ...record({ kind: CommandKind.QueryMaxWithdrawal, account: 33, asset: SOL, flags: OrderFlag.AutoBorrow }),
    });
    expect(decoded({ type: "QueryMaxOrder", account: 33, market: SOL_USDC, side: "Buy", price: "0" })).toBe("InvalidPrice: zero price");
    expect(decoded({ type: "QueryMaxOrder", account: 33, market: SOL_USDC, side: 7, price: "1" })).toBe("InvalidField: side: 7 is not a Side (0..1)");
    expect(decoded({ type: "QueryMaxOrder", account: 33, market: 77, side: "Buy", price: "1" })).toBe("UnknownMarket: unknown market 77");
    expect(() => jsonToFrame({ type: "QueryCollateral", account: 33, asset: 1 })).toThrow('QueryCollateral: unknown field "asset"');
  });
});

describe("codec: account events (EventRecord → frame → JSON)", () => {
  const wire = (e: EventRecord): EventJson => decodeEvent(encodeEvent(e, 9n, config));

  it("Balance carries lent and borrowed when non-zero, and leaves them out (= 0) otherwise", () => {
    const b = event({ kind: EventKind.Balance, seq: 3, account: 17, asset: SOL, available: 5n, locked: 6n });
    expect(wire(b)).toEqual({ clientSeq: 9n, seq: 3n, marketSeq: 0n, type: "Balance", account: 17, asset: SOL, available: "0.000000005", locked: "0.000000006" });
    b.lent = 1_500_000_000n;
    b.borrowed = 2n;
    expect(wire(b)).toMatchObject({ lent: "1.5", borrowed: "0.000000002" });
  });

  it("AccountSettings: every setting and the leverage limit", () => {
    expect(wire(event({ kind: EventKind.AccountSettings, seq: 4, account: 17, leverageLimit: 7, settings: AccountSetting.AutoLend | AccountSetting.MarginEnabled }))).toEqual({
      clientSeq: 9n,
      seq: 4n,
      marketSeq: 0n,
      type: "AccountSettings",
      account: 17,
      leverageLimit: 7,
      autoLend: true,
      autoRepayBorrows: false,
      autoBorrowSettlements: false,
      autoRealizePnl: false,
      marginEnabled: true,
    });
  });

  it("C7: AccountCollateral — USD amounts at 1e-9 (negative equity too), ratios at 1e-9, unbounded ratios read 'unbounded', C9 liquidatable", () => {
    const e = event({
      kind: EventKind.AccountCollateral,
      seq: 5,
      account: 17,
      netEquityUsd: -12_500_000_000n,
      netEquityLockedUsd: 100n * USD,
      collateralValueUsd: 987_500_000_000n,
      liabilityUsd: 1000n * USD,
      exposureUsd: 1000n * USD,
      pnlUsd: 0n,
      volumeUsd: 1_234_567_891n,
      imf: 100_000_000n,
      mmf: 50_000_000n,
      marginFraction: -12_500_000n,
      imr: REPORTED_RATIO_UNBOUNDED,
      mmr: REPORTED_RATIO_UNBOUNDED,
      settings: AccountSetting.AutoRepayBorrows,
      leverageLimit: 10,
      feeTier: 2,
      makerFeeBps: 4,
      takerFeeBps: 7,
    });
    expect(wire(e)).toEqual({
      clientSeq: 9n,
      seq: 5n,
      marketSeq: 0n,
      type: "AccountCollateral",
      account: 17,
      netEquity: "-12.5",
      netEquityAvailable: "-112.5",
      netEquityLocked: "100",
      collateralValue: "987.5",
      borrowLiability: "1000",
      unrealizedPnl: "0",
      exposureNotional: "1000",
      imf: "0.1",
      mmf: "0.05",
      marginFraction: "-0.0125",
      imr: "unbounded",
      mmr: "unbounded",
      liquidatable: true,
      leverageLimit: 10,
      autoLend: false,
      autoRepayBorrows: true,
      autoBorrowSettlements: false,
      autoRealizePnl: false,
      marginEnabled: false,
      feeTier: 2,
      makerFeeBps: 4,
      takerFeeBps: 7,
      volume30d: "1.234567891",
    });
  });

  it("AssetCollateral (an owed asset: negative quantity), MaxOrderQuantity and MaxWithdrawalQuantity in the asset's decimals", () => {
    const row = event({
      kind: EventKind.AssetCollateral,
      seq: 6,
      account: 17,
      asset: USDC,
      quantity: -1000n * 1_000_000n,
      available: 0n,
      locked: 0n,
      lent: 0n,
      borrowed: 1000n * 1_000_000n,
      price: USD,
      weight: USD,
      notionalUsd: 1000n * USD,
      collateralValueUsd: 0n,
      liabilityUsd: 1000n * USD,
    });
    expect(wire(row)).toMatchObject({ type: "AssetCollateral", quantity: "-1000", borrowed: "1000", markPrice: "1", weight: "1", notional: "1000", liability: "1000" });
    const max = event({ kind: EventKind.MaxOrderQuantity, seq: 7, account: 17, market: SOL_USDC, side: Side.Buy, price: 150n * USD, quantity: 660_000_000n, marginLimit: 3_650_000_000n });
    expect(wire(max)).toEqual({ clientSeq: 9n, seq: 7n, marketSeq: 0n, type: "MaxOrderQuantity", account: 17, market: SOL_USDC, side: "Buy", price: "150", quantity: "0.66", marginLimit: "3.65" });
    const w = event({ kind: EventKind.MaxWithdrawalQuantity, seq: 8, account: 17, asset: SOL, quantity: 1_851_851_851n, marginLimit: 1_851_851_851n });
    expect(wire(w)).toEqual({ clientSeq: 9n, seq: 8n, marketSeq: 0n, type: "MaxWithdrawalQuantity", account: 17, asset: SOL, quantity: "1.851851851", marginLimit: "1.851851851" });
  });
});

describe("ring record: the account block", () => {
  it("every account field of the statement kinds, and Balance's lent/borrowed, survive a ring slot exactly", () => {
    const views = viewsOf(new ArrayBuffer(EVENT_RECORD_BYTES * 2));
    const e = event({
      kind: EventKind.AccountCollateral,
      seq: 77,
      account: 0xfffffff0,
      message: "",
      lent: 1n,
      borrowed: 2n,
      netEquityUsd: -3n,
      netEquityLockedUsd: 4n,
      collateralValueUsd: 5n,
      liabilityUsd: 6n,
      exposureUsd: 7n,
      notionalUsd: 8n,
      pnlUsd: -9n,
      volumeUsd: 10n,
      imf: 11n,
      mmf: 12n,
      marginFraction: -13n,
      imr: REPORTED_RATIO_UNBOUNDED,
      mmr: (1n << 63n) - 1n,
      weight: 16n,
      settings: 31,
      leverageLimit: 50,
      feeTier: 4,
      makerFeeBps: 17,
      takerFeeBps: 18,
      makerFee: 6n,
      takerFee: 9n,
    });
    writeEvent(views, EVENT_RECORD_BYTES, e);
    const back = new EventRecord();
    readEvent(views, EVENT_RECORD_BYTES, back);
    expect({ ...back }).toEqual({ ...e });
    const b = event({ kind: EventKind.Balance, account: 17, asset: 4, available: 1n, locked: 2n, lent: 3n, borrowed: 4n });
    writeEvent(views, 0, b);
    const bb = new EventRecord();
    readEvent(views, 0, bb);
    expect({ ...bb }).toEqual({ ...b });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Threaded pipeline = in-process engine with the account commands.

function eventText(e: EventRecord): string {
  const base = `${e.kind}|${e.seq}|${e.account}|${e.market}|${e.asset}|${eventSideSlot(e)}|${e.orderId}|${eventCodeSlot(e)}|${e.message}|${e.price}|${e.quantity}|${eventAmountSlot(e)}|${eventAmount2Slot(e)}|${e.makerFee}|${e.takerFee}`;
  if (e.kind === EventKind.Balance) return `${base}|${e.lent}|${e.borrowed}`;
  if (e.kind < EventKind.AccountSettings) return base;
  return `${base}|${e.lent}|${e.borrowed}|${e.netEquityUsd}|${e.netEquityLockedUsd}|${e.collateralValueUsd}|${e.liabilityUsd}|${e.exposureUsd}|${e.notionalUsd}|${e.pnlUsd}|${e.volumeUsd}|${e.imf}|${e.mmf}|${e.marginFraction}|${e.imr}|${e.mmr}|${e.weight}|${e.settings}|${e.leverageLimit}|${e.feeTier}|${e.makerFeeBps}|${e.takerFeeBps}|${e.reservedBorrow}`;
}

/** The spot generator's stream with account commands mixed in: settings, marks, queries, margin orders. */
function accountStream(seed: number, count: number): CommandRecord[][] {
  const gen = new CommandGenerator(seed);
  // One global sequence in stream order (the generator's own numbers are mapped, so its cancels and replaces still
  // name the orders they meant).
  let seq = 0;
  const renumbered = new Map<number, number>();
  const number = (c: CommandRecord): CommandRecord => {
    if (c.kind === CommandKind.CancelOrder || c.kind === CommandKind.ReplaceOrder) c.orderId = renumbered.get(c.orderId) ?? c.orderId;
    if (c.seq !== 0) renumbered.set(c.seq, seq + 1);
    c.seq = ++seq;
    return c;
  };
  const batches: CommandRecord[][] = [gen.funding().map(number)];
  let batch: CommandRecord[] = [];
  const accounts = [16, 17, 32, 33, 48, 49, 64, 65];
  for (let i = 0; i < count; i++) {
    const c = number(gen.next());
    const a = accounts[i % accounts.length]!;
    const extra = new CommandRecord();
    switch (i % 9) {
      case 0:
        Object.assign(extra, { kind: CommandKind.SetMarkPrice, asset: (i >> 3) % 5, price: (config.assets[(i >> 3) % 5]!.initialMark * BigInt(80 + (i % 41))) / 100n });
        break;
      case 2:
        Object.assign(extra, { kind: CommandKind.UpdateAccountSettings, account: a, leverageLimit: 1 + (i % 50), flags: (i & 31) | ((i >> 5) & 31 & i) << ACCOUNT_SETTING_VALUE_SHIFT });
        break;
      case 4:
        Object.assign(extra, { kind: CommandKind.QueryCollateral, account: a });
        break;
      case 5:
        Object.assign(extra, { kind: CommandKind.QueryMaxOrder, account: a, market: i % 3, side: i & 1, price: (config.assets[[2, 3, 4][i % 3]!]!.initialMark * 99n) / 100n, flags: OrderFlag.AutoBorrow });
        break;
      case 6:
        Object.assign(extra, { kind: CommandKind.QueryMaxWithdrawal, account: a, asset: i % 5, flags: i & OrderFlag.AutoBorrow });
        break;
      case 7:
        Object.assign(extra, { kind: CommandKind.PlaceOrder, account: a, market: SOL_USDC, side: i & 1, orderType: OrderType.Limit, tif: TimeInForce.GTC, price: 150n * USD, quantity: BigInt(1 + (i % 50)) * 1_000_000_000n, flags: OrderFlag.AutoBorrow });
        break;
      default:
        extra.kind = CommandKind.None;
    }
    batch.push(c);
    if (extra.kind !== CommandKind.None) batch.push(number(extra));
    if (batch.length >= 1 + (i % 37)) {
      batches.push(batch);
      batch = [];
    }
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

function runInProcess(stream: CommandRecord[][], topology: EngineTopology): { events: string[]; hash: string } {
  const engine = new Engine(config, topology);
  const events: string[] = [];
  const sink: EventSink = { publish: (e) => events.push(eventText(e)) };
  for (const b of stream) engine.processBatch(b, b.length, sink);
  for (const r of engine.risk) r.validateInternalState();
  return { events, hash: engine.stateHash() };
}

const running: ThreadedPipeline[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

async function runThreaded(stream: CommandRecord[][], topology: EngineTopology, encoded = false): Promise<{ events: string[]; hash: string }> {
  const events: string[] = [];
  const fatal: string[] = [];
  const p = await ThreadedPipeline.start(config, { onEvent: (e) => events.push(eventText(e)), onFatal: (m) => fatal.push(m) }, { topology });
  running.push(p);
  let n = 0;
  for (const b of stream) {
    if (!encoded) {
      await p.submitBatch(b, b.length, ++n);
      continue;
    }
    const views = viewsOf(new ArrayBuffer(b.length * COMMAND_RECORD_BYTES));
    b.forEach((c, i) => writeCommand(views, i * COMMAND_RECORD_BYTES, c));
    await p.submitEncoded(views, 0, b.length, ++n);
  }
  await p.waitForBatch(n);
  const hash = await p.stateHash();
  expect(fatal).toEqual([]);
  return { events, hash };
}

describe("threaded pipeline = in-process engine, with the account commands", () => {
  it("X4: settings, marks, queries and margin orders: identical events (account fields included) and state hash, 1 × 1", async () => {
    const stream = accountStream(4242, 4_000);
    const a = runInProcess(stream, { riskShards: 1, matchingShards: 1 });
    const b = await runThreaded(stream, { riskShards: 1, matchingShards: 1 });
    const kinds = new Set(a.events.map((t) => Number(t.split("|")[0])));
    for (const k of [EventKind.AccountSettings, EventKind.AccountCollateral, EventKind.AssetCollateral, EventKind.MaxOrderQuantity, EventKind.MaxWithdrawalQuantity]) {
      expect(kinds.has(k)).toBe(true);
    }
    expect(b.events.length).toBe(a.events.length);
    for (let i = 0; i < a.events.length; i++) if (b.events[i] !== a.events[i]) expect(b.events[i]).toBe(a.events[i]);
    expect(b.hash).toBe(a.hash);
  });

  it("X4: 2 risk × 2 matching shards — SetMarkPrice reaches every risk shard: same hash, same multiset of events", async () => {
    const stream = accountStream(77, 3_000);
    const a = runInProcess(stream, { riskShards: 2, matchingShards: 2 });
    const b = await runThreaded(stream, { riskShards: 2, matchingShards: 2 });
    expect(b.hash).toBe(a.hash);
    expect([...b.events].sort()).toEqual([...a.events].sort());
    // Marks are part of every risk shard's state: the shard layout does not change an account's statement.
    const one = new Engine(config, { riskShards: 1, matchingShards: 1 });
    const two = new Engine(config, { riskShards: 2, matchingShards: 2 });
    const discard: EventSink = { publish: () => {} };
    for (const s of stream) {
      one.processBatch(s, s.length, discard);
      two.processBatch(s, s.length, discard);
    }
    for (const account of [16, 17, 32, 33]) {
      expect(two.risk[(account >>> 4) % 2]!.collateralStatement(account)).toEqual(one.risk[0]!.collateralStatement(account));
    }
  });

  it("X4: 2 × 2 with the commands handed over encoded (submitEncoded): marks reach every risk shard there too", async () => {
    const stream = accountStream(78, 2_000);
    expect(stream.some((b) => b.some((c) => c.kind === CommandKind.SetMarkPrice))).toBe(true);
    const a = runInProcess(stream, { riskShards: 2, matchingShards: 2 });
    const b = await runThreaded(stream, { riskShards: 2, matchingShards: 2 }, true);
    expect(b.hash).toBe(a.hash);
    expect([...b.events].sort()).toEqual([...a.events].sort());
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The server and the CLI.

let server: RunningServer;
let url: string;
let operator: CrossbookClient;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "crossbook-risk-wire-"));
  server = await startServer({ config, host: "127.0.0.1", port: 0, dataDir, tickIntervalMs: 0, log: () => {} });
  url = `ws://127.0.0.1:${server.port}`;
  operator = await CrossbookClient.connect(url, { key: server.operatorKey });
});

afterAll(async () => {
  await operator?.close();
  await server?.stop();
});

describe("server end to end", () => {
  it("A3/C/C10: settings, an operator's mark, the collateral statement and the max answers over the WebSocket", async () => {
    const user = await connectUser(url, operator, 5);
    try {
      expect((await operator.request({ type: "Deposit", account: 80, asset: USDC, amount: "100" })).map((e) => e.type)).toEqual(["CommandAccepted", "Balance"]);
      // A mark from a plain session is refused; from the operator it is accepted and answered to the operator.
      const refused = await user.request({ type: "SetMarkPrice", asset: SOL, price: "140" });
      expect(refused).toMatchObject([{ type: "CommandRejected", code: "Unauthorized" }]);
      expect(await operator.request({ type: "SetMarkPrice", asset: SOL, price: "150" })).toMatchObject([{ type: "CommandAccepted", asset: SOL }]);
      expect(await user.request({ type: "UpdateAccountSettings", account: 80, leverageLimit: 5, autoLend: true })).toMatchObject([
        { type: "CommandAccepted", account: 80 },
        { type: "AccountSettings", account: 80, leverageLimit: 5, autoLend: true, marginEnabled: true },
        // L12: auto-lend lends the 100 USDC at once and publishes the moved balance.
        { type: "Balance", account: 80, asset: USDC, available: "0", lent: "100" },
      ]);
      const statement = await user.request({ type: "QueryCollateral", account: 80 });
      expect(statement).toMatchObject([
        { type: "AccountCollateral", account: 80, netEquity: "100", collateralValue: "100", imr: "0", marginFraction: "unbounded", leverageLimit: 5, autoLend: true },
        // L12: with auto-lend on, the available USDC is lent at once and stays collateral (C1).
        { type: "AssetCollateral", account: 80, asset: USDC, quantity: "100", available: "0", lent: "100", weight: "1", collateralValue: "100" },
      ]);
      const max = await user.request({ type: "QueryMaxOrder", account: 80, market: SOL_USDC, side: "Buy", price: "150", autoBorrow: true });
      // At 5× the borrow IMF is 0.2: NE = 100 − 15.135 q (SOL at 0.9 after the 10 bps fee) must exceed
      // IM = 0.2 × (150 q − 100) ⇔ q < 2.6587…: 2.65 SOL.
      expect(max).toMatchObject([{ type: "MaxOrderQuantity", account: 80, quantity: "0.66", marginLimit: "2.65" }]);
      const order = await user.request({ type: "LimitOrder", account: 80, market: SOL_USDC, side: "Buy", price: "150", quantity: "2.65", autoBorrow: true });
      // The only USDC in the pool is the account's own 100 (which it would redeem first, L15): the 297.5 USDC borrow
      // would take the pool to its maximum utilization (L13).
      expect(order).toMatchObject([{ type: "OrderRejected", code: "MaxUtilization" }]);
      expect(await user.request({ type: "QueryMaxWithdrawal", account: 80, asset: USDC })).toMatchObject([{ type: "MaxWithdrawalQuantity", quantity: "100", marginLimit: "100" }]);
    } finally {
      await user.close();
    }
  });

  it("the `crossbook client` subcommands of the README: collateral, max-order, max-withdrawal, settings, mark", async () => {
    await operator.request({ type: "Deposit", account: 96, asset: SOL, amount: "10" });
    // X6: the CLI signs with the account's user's key from the data dir (and operator commands with operator.key).
    writePrivateKeyFile(userKeyPath(dataDir, 6), await registerKey(operator, 6));
    const bin = fileURLToPath(new URL("../bin/crossbook.mjs", import.meta.url));
    const cli = async (...args: string[]): Promise<EventJson[]> => {
      const { stdout } = await promisify(execFile)(process.execPath, [bin, "client", ...args, "--url", url, "--data", dataDir], { encoding: "utf8", timeout: 60_000 });
      return stdout.trim().split("\n").map((line) => JSON.parse(line) as EventJson);
    };
    const [settings, statement, maxOrder, maxWithdrawal, mark] = await Promise.all([
      cli("settings", "96", "--leverage", "20", "--margin-enabled", "off"),
      cli("collateral", "96"),
      cli("max-order", "96", "SOL_USDC", "sell", "150"),
      cli("max-withdrawal", "96", "SOL", "--margin"),
      cli("mark", "BTC", "61000"),
    ]);
    expect(settings).toMatchObject([{ type: "CommandAccepted" }, { type: "AccountSettings", account: 96, leverageLimit: 20, marginEnabled: false }]);
    expect(statement[0]).toMatchObject({ type: "AccountCollateral", account: 96, netEquity: "1350", collateralValue: "1350" });
    expect(statement[1]).toMatchObject({ type: "AssetCollateral", asset: SOL, quantity: "10", markPrice: "150", weight: "0.9" });
    expect(maxOrder).toMatchObject([{ type: "MaxOrderQuantity", side: "Sell", quantity: "10" }]);
    expect(maxWithdrawal).toMatchObject([{ type: "MaxWithdrawalQuantity", quantity: "10" }]);
    expect(mark).toMatchObject([{ type: "CommandAccepted", asset: 2 }]);
  }, 90_000);

  it("X5: queries of an exchange account or an unknown market are typed rejects", async () => {
    expect(await operator.request({ type: "QueryMaxOrder", account: 16, market: 42, side: "Buy", price: "1" })).toMatchObject([{ type: "CommandRejected", code: "UnknownMarket" }]);
    expect(await operator.request({ type: "QueryCollateral", account: 5 })).toMatchObject([{ type: "CommandRejected", code: "InvalidAccount" }]);
    expect(RejectCode.BorrowUnavailable).toBe(41);
  });
});
