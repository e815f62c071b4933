// Borrowing and lending on the wire and across threads: the pool commands and answers through the codecs (client JSON
// → frame → CommandRecord; EventRecord → ring slot → frame → JSON), and the threaded pipeline = the in-process engine
// on a stream of lends, borrows, margin orders, auto-lend switches and hour marks (1 × 1 and 2 × 2: the pool-delta
// exchange between risk shards), state hash included (X4, L5, L7, L13).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  AccountSetting,
  ACCOUNT_SETTING_VALUE_SHIFT,
  ALL_ASSETS,
  CommandKind,
  CommandRecord,
  EventKind,
  EventRecord,
  OrderFlag,
  OrderType,
  rejectCodeName,
  Side,
  TimeInForce,
  type EventSink,
  RATE_CURVE_POINTS_MAX,
} from "../engine/model/index.ts";
import { Engine, loadConfig, ThreadedPipeline, type EngineTopology } from "../engine/pipeline/index.ts";
import { EVENT_RECORD_BYTES, readEvent, viewsOf, writeEvent } from "../engine/model/record-layout.ts";
import { decodeEvent, encodeCommand, type CommandJson } from "../gateway/client/codec.ts";
import { CrossbookClient } from "../gateway/client/ws-client.ts";
import { decodeCommand, DecodeResult, encodeEvent } from "../gateway/codec/index.ts";
import { startServer } from "../gateway/server.ts";
import { connectUser } from "./helpers/auth.ts";
import { eventAmount2Slot, eventAmountSlot, eventCodeSlot, eventSideSlot } from "../engine/model/generated/records.ts";

const config = loadConfig();
const USDC = 0;
const SOL = 4;
const SOL_USDC = 2;
const USD = 1_000_000_000n;
const HOUR = 3_600_000;
const T0 = 1_767_225_600_000;

const out = new CommandRecord();
const result = new DecodeResult();

function decoded(cmd: CommandJson): CommandRecord | string {
  if (!decodeCommand(encodeCommand(1n, cmd), config, out, result)) return `${rejectCodeName[result.code]}: ${result.message}`;
  return out;
}

/** EventRecord → ring slot → wire frame → client JSON. */
function wire(fields: Partial<EventRecord>): unknown {
  const e = Object.assign(new EventRecord(), fields);
  const views = viewsOf(new SharedArrayBuffer(EVENT_RECORD_BYTES));
  writeEvent(views, 0, e);
  const back = new EventRecord();
  readEvent(views, 0, back);
  const { clientSeq: _c, seq: _s, marketSeq: _m, ...rest } = decodeEvent(encodeEvent(back, 1n, config)) as unknown as Record<string, unknown>;
  return rest;
}

describe("codec: pool commands and answers", () => {
  it("L9–L11: Borrow / Repay / Lend / Redeem carry account, asset and amount in the asset's units; Repay/Redeem without an amount mean all", () => {
    expect(decoded({ type: "Borrow", account: 17, asset: USDC, amount: "100.5" })).toMatchObject({ kind: CommandKind.Borrow, account: 17, asset: USDC, amount: 100_500_000n });
    expect(decoded({ type: "Lend", account: 17, asset: SOL, amount: "2" })).toMatchObject({ kind: CommandKind.Lend, asset: SOL, amount: 2_000_000_000n });
    expect(decoded({ type: "Repay", account: 17, asset: USDC })).toMatchObject({ kind: CommandKind.Repay, amount: 0n });
    expect(decoded({ type: "Redeem", account: 17, asset: USDC, amount: "1" })).toMatchObject({ kind: CommandKind.Redeem, amount: 1_000_000n });
    expect(decoded({ type: "Borrow", account: 17, asset: USDC, amount: "0.0000001" })).toMatch(/^InvalidAmount/);
    expect(decoded({ type: "Borrow", account: 17, asset: 9, amount: "1" })).toMatch(/^UnknownAsset/);
  });

  it("L8: L13: L14: QueryPoolStats (all pools by default), QueryRateCurve, QueryInterestHistory, QueryMaxBorrow", () => {
    expect(decoded({ type: "QueryPoolStats" })).toMatchObject({ kind: CommandKind.QueryPoolStats, asset: ALL_ASSETS });
    expect(decoded({ type: "QueryRateCurve", asset: SOL, points: 21 })).toMatchObject({ kind: CommandKind.QueryRateCurve, asset: SOL, curvePoints: 21 });
    expect(decoded({ type: "QueryInterestHistory", account: 17, sinceMs: T0, limit: 50 })).toMatchObject({ kind: CommandKind.QueryInterestHistory, account: 17, asset: ALL_ASSETS, timeMs: T0, historyLimit: 50 });
    expect(decoded({ type: "QueryMaxBorrow", account: 17, asset: USDC })).toMatchObject({ kind: CommandKind.QueryMaxBorrow, account: 17, asset: USDC });
  });

  it("L8, X5: QueryRateCurve's points are checked at the gateway too: 0 (the default 11) or 2..RATE_CURVE_POINTS_MAX", () => {
    for (const points of [0, 2, RATE_CURVE_POINTS_MAX]) expect(decoded({ type: "QueryRateCurve", asset: SOL, points })).toMatchObject({ curvePoints: points });
    for (const points of [1, RATE_CURVE_POINTS_MAX + 1, 255]) {
      expect(decoded({ type: "QueryRateCurve", asset: SOL, points })).toBe(`InvalidField: a rate curve has 2..${RATE_CURVE_POINTS_MAX} points`);
    }
  });

  it("L13: L14: L8: PoolStats, RateCurvePoint, InterestEntry and MaxBorrowQuantity survive a ring slot and the wire", () => {
    expect(wire({ kind: EventKind.PoolStats, asset: USDC, poolState: 2, throttled: 1, lent: 10_000_000_000n, borrowed: 9_000_000_000n, freeLiquidity: 1_000_000_000n, openBorrowLendLimit: 1_000_000_000_000_000n, reservedBorrow: 5n, utilization: 900_000_000n, borrowRate: 161_290_322n, lendRate: 145_161_289n, lendRateAfterFee: 130_645_160n, hourBorrowRate: 50_000_000n, optimalUtilization: 800_000_000n, throttleUtilization: 900_000_000n, maxUtilization: 950_000_000n, poolFee: 100_000_000n })).toEqual({
      type: "PoolStats", asset: USDC, state: "RepayOnly", throttled: true, totalLent: "10000", totalBorrowed: "9000", freeLiquidity: "1000", reserved: "0.000005", openBorrowLendLimit: "1000000000",
      utilization: "0.9", borrowRate: "0.161290322", lendRate: "0.145161289", lendRateAfterFee: "0.13064516", hourBorrowRate: "0.05", optimalUtilization: "0.8", throttleUtilization: "0.9", maxUtilization: "0.95", fee: "0.1",
    });
    expect(wire({ kind: EventKind.RateCurvePoint, asset: SOL, utilization: 500_000_000n, borrowRate: 62_500_000n, lendRate: 31_250_000n, lendRateAfterFee: 28_125_000n })).toEqual({
      type: "RateCurvePoint", asset: SOL, utilization: "0.5", borrowRate: "0.0625", lendRate: "0.03125", lendRateAfterFee: "0.028125",
    });
    expect(wire({ kind: EventKind.InterestEntry, account: 17, asset: USDC, interestKind: 0, interest: 953n, borrowRate: 50_000_000n, timeMs: T0 })).toEqual({
      type: "InterestEntry", account: 17, asset: USDC, kind: "EntryFee", amount: "0.000953", rate: "0.05", timeMs: BigInt(T0),
    });
    expect(wire({ kind: EventKind.MaxBorrowQuantity, account: 17, asset: SOL, quantity: 1_500_000_000n, marginLimit: 2_000_000_000n, poolLimit: 1_500_000_000n })).toEqual({
      type: "MaxBorrowQuantity", account: 17, asset: SOL, quantity: "1.5", marginLimit: "2", poolLimit: "1.5",
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

function eventText(e: EventRecord): string {
  const base = `${e.kind}|${e.seq}|${e.account}|${e.market}|${e.asset}|${eventSideSlot(e)}|${e.orderId}|${eventCodeSlot(e)}|${e.message}|${e.price}|${e.quantity}|${eventAmountSlot(e)}|${eventAmount2Slot(e)}|${e.timeMs}`;
  if (e.kind === EventKind.Balance || (e.kind >= EventKind.AccountSettings && e.kind < EventKind.PoolStats)) return `${base}|${e.lent}|${e.borrowed}`;
  // The kinds that carry the pool fields (later kinds, e.g. P3's MarkPrice, leave a reused record's values as they were).
  if (e.kind >= EventKind.PoolStats && e.kind <= EventKind.MaxBorrowQuantity) return `${base}|${e.lent}|${e.borrowed}|${e.reservedBorrow}|${e.utilization}|${e.borrowRate}|${e.lendRate}|${e.hourBorrowRate}`;
  return base;
}

/** Lenders, borrowers and margin traders on 8 users (both risk shards when K = 2), with hour marks crossed. */
function lendingStream(seed: number, batches: number): CommandRecord[][] {
  let x = seed >>> 0;
  const rnd = (n: number): number => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x % n;
  };
  let seq = 0;
  let t = T0;
  const cmd = (f: Partial<CommandRecord>): CommandRecord => Object.assign(new CommandRecord(), f, { seq: ++seq });
  const stream: CommandRecord[][] = [[cmd({ kind: CommandKind.AdvanceTime, timeMs: t })]];
  const setup: CommandRecord[] = [];
  for (let u = 1; u <= 8; u++) {
    setup.push(cmd({ kind: CommandKind.Deposit, account: u * 16, asset: USDC, amount: 20_000n * 1_000_000n }));
    setup.push(cmd({ kind: CommandKind.Deposit, account: u * 16, asset: SOL, amount: 100n * 1_000_000_000n }));
    setup.push(cmd({ kind: CommandKind.Lend, account: u * 16, asset: u % 2 === 0 ? USDC : SOL, amount: (u % 2 === 0 ? 10_000n * 1_000_000n : 50n * 1_000_000_000n) }));
  }
  stream.push(setup);
  for (let b = 0; b < batches; b++) {
    const batch: CommandRecord[] = [];
    const n = 1 + rnd(12);
    for (let i = 0; i < n; i++) {
      const account = (1 + rnd(8)) * 16 + (rnd(4) === 0 ? 1 : 0);
      const asset = rnd(2) === 0 ? USDC : SOL;
      const unit = asset === USDC ? 1_000_000n : 1_000_000_000n;
      const amount = BigInt(1 + rnd(asset === USDC ? 3_000 : 20)) * unit;
      switch (rnd(11)) {
        case 0: batch.push(cmd({ kind: CommandKind.Borrow, account, asset, amount })); break;
        case 1: batch.push(cmd({ kind: CommandKind.Repay, account, asset, amount: rnd(2) === 0 ? 0n : amount })); break;
        case 2: batch.push(cmd({ kind: CommandKind.Lend, account, asset, amount })); break;
        case 3: batch.push(cmd({ kind: CommandKind.Redeem, account, asset, amount: rnd(2) === 0 ? 0n : amount })); break;
        case 4: {
          const on = rnd(2) === 0 ? AccountSetting.AutoLend : 0;
          batch.push(cmd({ kind: CommandKind.UpdateAccountSettings, account, flags: AccountSetting.AutoLend | (on << ACCOUNT_SETTING_VALUE_SHIFT) }));
          break;
        }
        case 5:
        case 6: {
          const side = rnd(2) === 0 ? Side.Buy : Side.Sell;
          const price = (150n + BigInt(rnd(5)) - 2n) * USD;
          const flags = [0, OrderFlag.AutoBorrow, OrderFlag.AutoBorrow | OrderFlag.AutoBorrowRepay, OrderFlag.AutoLend][rnd(4)]!;
          batch.push(cmd({ kind: CommandKind.PlaceOrder, account, market: SOL_USDC, side, orderType: OrderType.Limit, tif: rnd(3) === 0 ? TimeInForce.IOC : TimeInForce.GTC, price, quantity: BigInt(1 + rnd(30)) * 1_000_000_000n, flags }));
          break;
        }
        case 7: batch.push(cmd({ kind: CommandKind.Withdraw, account, asset, amount, flags: rnd(2) === 0 ? OrderFlag.AutoBorrow : 0 })); break;
        case 8: batch.push(cmd({ kind: CommandKind.AdvanceTime, timeMs: (t += rnd(3) === 0 ? HOUR + rnd(HOUR) : rnd(600_000)) })); break;
        case 9: batch.push(cmd({ kind: [CommandKind.QueryPoolStats, CommandKind.QueryMaxBorrow, CommandKind.QueryInterestHistory][rnd(3)]!, account, asset })); break;
        default: batch.push(cmd({ kind: CommandKind.Deposit, account, asset, amount })); break;
      }
    }
    stream.push(batch);
  }
  return stream;
}

function runInProcess(stream: CommandRecord[][], topology: EngineTopology): { events: string[]; hash: string; engine: Engine } {
  const engine = new Engine(config, topology);
  const events: string[] = [];
  const sink: EventSink = { publish: (e) => events.push(eventText(e)) };
  for (const b of stream) engine.processBatch(b, b.length, sink);
  for (const r of engine.risk) r.validateInternalState();
  return { events, hash: engine.stateHash(), engine };
}

const running: ThreadedPipeline[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

async function runThreaded(stream: CommandRecord[][], topology: EngineTopology): Promise<{ events: string[]; hash: string }> {
  const events: string[] = [];
  const fatal: string[] = [];
  const p = await ThreadedPipeline.start(config, { onEvent: (e) => events.push(eventText(e)), onFatal: (m) => fatal.push(m) }, { topology });
  running.push(p);
  let n = 0;
  for (const b of stream) await p.submitBatch(b, b.length, ++n);
  await p.waitForBatch(n);
  const hash = await p.stateHash();
  expect(fatal).toEqual([]);
  return { events, hash };
}

describe("threaded pipeline = in-process engine, with lending", () => {
  it("X4: L5: lends, borrows, margin orders, auto-lend and hour marks: identical events and state hash, 1 × 1", async () => {
    const stream = lendingStream(11, 600);
    const a = runInProcess(stream, { riskShards: 1, matchingShards: 1 });
    const pool = a.engine.risk[0]!.pools.pools[USDC]!;
    expect(pool.borrowShares > 0n && pool.borrowInterestTotal > 0n).toBe(true);
    const b = await runThreaded(stream, { riskShards: 1, matchingShards: 1 });
    expect(b.events.length).toBe(a.events.length);
    for (let i = 0; i < a.events.length; i++) if (b.events[i] !== a.events[i]) expect(b.events[i]).toBe(a.events[i]);
    expect(b.hash).toBe(a.hash);
  });

  it("X4: L7: L13: 2 risk × 2 matching shards share the pools through the batch-end delta exchange: same hash, same multiset of events", async () => {
    const stream = lendingStream(29, 600);
    const a = runInProcess(stream, { riskShards: 2, matchingShards: 2 });
    expect(a.engine.risk[1]!.pools.hashText()).toBe(a.engine.risk[0]!.pools.hashText());
    const b = await runThreaded(stream, { riskShards: 2, matchingShards: 2 });
    expect(b.hash).toBe(a.hash);
    expect([...b.events].sort()).toEqual([...a.events].sort());
  });
});

describe("server end to end", () => {
  it("L9: L13: L8: L14: S2: lend, pool stats, max borrow, a margin buy that borrows, the interest history — over the WebSocket", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-lending-wire-"));
    const server = await startServer({ config, host: "127.0.0.1", port: 0, dataDir, tickIntervalMs: 0, log: () => {} });
    const url = `ws://127.0.0.1:${server.port}`;
    const operator = await CrossbookClient.connect(url, { key: server.operatorKey });
    // X6: one logged-in session per user (a session acts only for its user's accounts).
    const user1 = await connectUser(url, operator, 1);
    const user2 = await connectUser(url, operator, 2);
    const user3 = await connectUser(url, operator, 3);
    try {
      await operator.request({ type: "Deposit", account: 16, asset: USDC, amount: "10000" });
      await operator.request({ type: "Deposit", account: 32, asset: USDC, amount: "1000" });
      await operator.request({ type: "Deposit", account: 48, asset: SOL, amount: "20" });
      expect(await user1.request({ type: "Lend", account: 16, asset: USDC, amount: "10000" })).toMatchObject([
        { type: "CommandAccepted", account: 16 },
        { type: "Balance", account: 16, asset: USDC, available: "0", lent: "10000" },
      ]);
      expect(await user1.request({ type: "QueryPoolStats", asset: USDC })).toMatchObject([
        { type: "PoolStats", asset: USDC, state: "Open", totalLent: "10000", totalBorrowed: "0", utilization: "0", throttleUtilization: "0.9", maxUtilization: "0.95" },
      ]);
      expect(await user1.request({ type: "QueryRateCurve", asset: USDC, points: 3 })).toMatchObject([
        { type: "RateCurvePoint", utilization: "0", borrowRate: "0" },
        { type: "RateCurvePoint", utilization: "0.5", borrowRate: "0.0625" },
        { type: "RateCurvePoint", utilization: "1", borrowRate: "1.5" },
      ]);
      const max = await user2.request({ type: "QueryMaxBorrow", account: 32, asset: USDC });
      expect(max).toMatchObject([{ type: "MaxBorrowQuantity", account: 32, asset: USDC }]);
      await user3.request({ type: "LimitOrder", account: 48, market: SOL_USDC, side: "Sell", price: "150", quantity: "10" });
      const buy = await user2.request({ type: "LimitOrder", account: 32, market: SOL_USDC, side: "Buy", price: "150", quantity: "10", autoBorrow: true });
      expect(buy.filter((e) => e.type === "Fill")).toHaveLength(1);
      // 1,500 USDC paid: 1,000 own + 500 borrowed at fill time (before the first hour mark: no entry fee).
      expect(buy.filter((e) => e.type === "Balance" && (e as { asset: number }).asset === USDC).at(-1)).toMatchObject({ available: "0", borrowed: "500" });
      expect(await user2.request({ type: "QueryInterestHistory", account: 32 })).toMatchObject([{ type: "CommandAccepted", account: 32 }]);
      expect((await user2.request({ type: "Borrow", account: 32, asset: USDC, amount: "100000" }))[0]).toMatchObject({ type: "CommandRejected", code: "MaxUtilization" });
    } finally {
      await user1.close();
      await user2.close();
      await user3.close();
      await operator.close();
      await server.stop();
    }
  });
});
