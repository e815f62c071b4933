// Q7 what-if: shocks run on a copy of an engine's state (never the engine itself), per stage the accounts that start
// liquidating with their exact figures, the insurance fund; `crossbook stress` reads a data dir's newest snapshot and
// journal; --sweep writes the points and an SVG chart.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CommandKind, CommandRecord, OrderFlag, RATIO_SCALE, REPORTED_RATIO_UNBOUNDED } from "../engine/model/index.ts";
import { checkShocks, Engine, loadConfig, runStress, shockedMark, type EngineTopology } from "../engine/pipeline/index.ts";
import { BatchEncoder, JOURNAL_SEGMENT_BYTES_DEFAULT, JOURNAL_SEGMENT_DIR, JournalWriter } from "../engine/journal/index.ts";
import { configDigest } from "../engine/pipeline/index.ts";
import { startServer } from "../gateway/server.ts";
import { CrossbookClient } from "../gateway/client/ws-client.ts";
import type { CommandJson } from "../gateway/client/codec.ts";
import { getStateHash, registerKey } from "./helpers/auth.ts";
import { niceCeiling, sweepChartSvg } from "../bin/stress-chart.ts";

const config = loadConfig();
const USDC = 0;
const SOL = 4;
const USD = 1_000_000_000n;
const USDC_UNIT = 1_000_000n;
const SOL_UNIT = 1_000_000_000n;
const T0 = 1_767_225_600_000;
const LENDER = 16;
const ALICE = 32;
const BOB = 48;
const PCT = RATIO_SCALE / 100n;
const BIN = new URL("../bin/crossbook.mjs", import.meta.url).pathname;

/** The lender's 10,000 USDC pool; Alice 10 SOL and Bob 15 SOL, each 1,000 USDC borrowed (SOL at 150, weight 0.9):
 * Alice liquidates at SOL ≤ 116.66… (−22.2%), Bob at ≤ 77.77… (−48.1%). */
function commands(): Partial<CommandRecord>[] {
  return [
    { kind: CommandKind.AdvanceTime, timeMs: T0 },
    { kind: CommandKind.Deposit, account: LENDER, asset: USDC, amount: 10_000n * USDC_UNIT },
    { kind: CommandKind.Lend, account: LENDER, asset: USDC, amount: 10_000n * USDC_UNIT },
    { kind: CommandKind.Deposit, account: ALICE, asset: SOL, amount: 10n * SOL_UNIT },
    { kind: CommandKind.Deposit, account: BOB, asset: SOL, amount: 15n * SOL_UNIT },
    { kind: CommandKind.Withdraw, account: ALICE, asset: USDC, amount: 1_000n * USDC_UNIT, flags: OrderFlag.AutoBorrow },
    { kind: CommandKind.Withdraw, account: BOB, asset: USDC, amount: 1_000n * USDC_UNIT, flags: OrderFlag.AutoBorrow },
  ];
}

function records(): CommandRecord[] {
  return commands().map((f, i) => Object.assign(new CommandRecord(), f, { seq: i + 1 }));
}

/** The clock's first tick alone (a borrow in the batch whose clock crosses an hour mark pays its hour), the deposits
 * and the lend, then the borrows (with several risk shards a shard sees another's lend at the batch end). */
function batches(): CommandRecord[][] {
  const cmds = records();
  return [cmds.slice(0, 1), cmds.slice(1, 5), cmds.slice(5)];
}

function engineOf(topology?: EngineTopology): Engine {
  const engine = new Engine(config, topology);
  for (const b of batches()) engine.processBatch(b, b.length, { publish: () => {} });
  return engine;
}

describe("Q7 what-if on a copy", () => {
  it("Q7: SOL −22.5% (mark 150 → 116.25): Alice starts liquidating at stage 0 with net equity 46.25, exposure 1,000, MMR 1.081081081; Bob stays healthy; the engine itself is unchanged", () => {
    const engine = engineOf();
    const hash = engine.stateHash();
    const r = runStress(config, engine.snapshot(), [{ asset: SOL, change: -225n * PCT / 10n }]);
    expect(r.marks).toEqual([{ asset: SOL, before: 150n * USD, after: 116_250_000_000n }]);
    expect(r.liquidatingBefore).toEqual([]);
    const alice = { account: ALICE, netEquityUsd: 46_250_000_000n, exposureUsd: 1_000n * USD, mmr: 1_081_081_081n };
    expect(r.stages).toEqual([{ stage: 0, started: [alice], ended: [], fills: [], insuranceFund: [0n, 0n, 0n, 0n, 0n], bankrupt: [], socializedLossQuote: 0n }]);
    expect(r.liquidatingAfter).toEqual([alice]);
    expect(r.liquidatingExposureUsd).toBe(1_000n * USD);
    // Without Q2's book steps nothing more happens: the first batch after the shock is quiet.
    expect([r.batchesAfterShock, r.cutShort]).toEqual([1, false]);
    expect(engine.stateHash()).toBe(hash);
    expect(engine.risk[0]!.markOf(SOL)).toBe(150n * USD);
  });

  it("Q7: SOL −50% and BTC −10% together: both accounts, Alice below zero (MMR unbounded), Bob at 1,012.50 − 1,000; two risk shards give the same report", () => {
    const shocks = [{ asset: 2, change: -10n * PCT }, { asset: SOL, change: -50n * PCT }];
    const one = runStress(config, engineOf().snapshot(), shocks);
    // SOL 75: Alice 10 × 75 × 0.9 = 675 − 1,000 = −325; Bob 15 × 75 × 0.9 = 1,012.5 − 1,000 = 12.5, MM 50: MMR 4.
    expect(one.stages[0]!.started).toEqual([
      { account: ALICE, netEquityUsd: -325n * USD, exposureUsd: 1_000n * USD, mmr: REPORTED_RATIO_UNBOUNDED },
      { account: BOB, netEquityUsd: 12_500_000_000n, exposureUsd: 1_000n * USD, mmr: 4n * 1_000_000_000n },
    ]);
    expect(one.liquidatingExposureUsd).toBe(2_000n * USD);
    const two = runStress(config, engineOf({ riskShards: 2, matchingShards: 2 }).snapshot(), shocks);
    expect(two.stages).toEqual(one.stages);
    expect(two.liquidatingAfter).toEqual(one.liquidatingAfter);
  });

  it("Q7: an account already liquidating (SOL 116) that a +20% shock (139.2) brings back ends at stage 0; stagesMax 0 runs no batch after the shock", () => {
    const engine = engineOf();
    const mark = Object.assign(new CommandRecord(), { kind: CommandKind.SetMarkPrice, asset: SOL, price: 116n * USD, seq: engine.lastSeq + 1 });
    engine.processBatch([mark], 1, { publish: () => {} });
    const r = runStress(config, engine.snapshot(), [{ asset: SOL, change: 20n * PCT }], 0);
    expect(r.liquidatingBefore).toEqual([ALICE]);
    expect(r.marks).toEqual([{ asset: SOL, before: 116n * USD, after: 139_200_000_000n }]);
    // 10 × 139.2 × 0.9 = 1,252.80 − 1,000 = 252.80; MMR 50 / 252.8 = 0.197784810.
    expect(r.stages.map((st) => [st.stage, st.started, st.ended])).toEqual([[0, [], [{ account: ALICE, netEquityUsd: 252_800_000_000n, exposureUsd: 1_000n * USD, mmr: 197_784_810n }]]]);
    expect([r.liquidatingAfter, r.batchesAfterShock, r.cutShort]).toEqual([[], 0, false]);
  });

  it("Q7, X5: shocks are checked: known assets, each once, above −100% and at most +1000%; a mark never reaches 0", () => {
    expect(checkShocks(config, [{ asset: 9, change: 0n }])).toBe("unknown asset 9");
    expect(checkShocks(config, [{ asset: SOL, change: 0n }, { asset: SOL, change: PCT }])).toBe("SOL is shocked twice");
    expect(checkShocks(config, [{ asset: SOL, change: -RATIO_SCALE }])).toBe("SOL: a shock must be above -100% and at most +1000%");
    expect(checkShocks(config, [{ asset: SOL, change: 10n * RATIO_SCALE + 1n }])).toBe("SOL: a shock must be above -100% and at most +1000%");
    expect(() => runStress(config, engineOf().snapshot(), [{ asset: 9, change: 0n }])).toThrow("stress: unknown asset 9");
    expect(shockedMark(150n * USD, -RATIO_SCALE + 1n)).toBe(1n);
    expect(shockedMark(3n, -30n * PCT)).toBe(2n);
  });
});

describe("Q7 chart", () => {
  it("Q7: the sweep chart's axis bound is 1, 2 or 5 × 10^k; the SVG has both series at the exact coordinates", () => {
    expect([niceCeiling(0), niceCeiling(1000), niceCeiling(1001), niceCeiling(2500), niceCeiling(7)]).toEqual([1, 1000, 2000, 5000, 10]);
    const svg = sweepChartSvg([
      { shockPercent: -10, liquidatingNotionalUsd: 0, insuranceFundUseUsdc: 0 },
      { shockPercent: -30, liquidatingNotionalUsd: 1000, insuranceFundUseUsdc: 0 },
      { shockPercent: -50, liquidatingNotionalUsd: 2000, insuranceFundUseUsdc: 0 },
    ], "Liquidations against a SOL shock", "SOL shock (%)");
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="720" height="420"')).toBe(true);
    // x: 90 … 690 from −10% to −50%; y: 360 (0) … 64 (2,000).
    expect(svg).toContain('<polyline fill="none" stroke="#c0392b" stroke-width="2" points="90.0,360.0 390.0,212.0 690.0,64.0"/>');
    expect(svg).toContain('points="90.0,360.0 390.0,360.0 690.0,360.0"/>');
    expect(svg).toContain(">-30%</text>");
    expect(svg).toContain(">2k</text>");
    expect(() => sweepChartSvg([], "t", "x")).toThrow("no points");
  });
});

describe("crossbook stress", () => {
  /** A data dir whose journal holds the commands' batches, as a server writes them. */
  async function dataDir(): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-stress-"));
    const w = await JournalWriter.openSegments(join(dir, "data", JOURNAL_SEGMENT_DIR), configDigest(config), JOURNAL_SEGMENT_BYTES_DEFAULT, 1);
    const enc = new BatchEncoder();
    let n = 0;
    for (const b of batches()) {
      enc.begin(++n);
      for (const c of b) enc.add(c);
      await w.append(enc.finish());
    }
    await w.close();
    return dir;
  }

  const stress = (dir: string, ...args: string[]) => spawnSync(process.execPath, [BIN, "stress", "--data", join(dir, "data"), ...args], { encoding: "utf8", timeout: 60_000, cwd: dir });

  it("Q7: --shock SOL=-22.5% on a data dir's journal prints the report (Alice at stage 0, exact figures); bad shocks are one clear line", async () => {
    const dir = await dataDir();
    const r = stress(dir, "--shock", "SOL=-22.5%");
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as Record<string, unknown>;
    const alice = { account: ALICE, netEquity: "46.25", exposure: "1000", mmr: "1.081081081" };
    expect(report).toMatchObject({
      shocks: [{ asset: "SOL", change: "-22.5%", markBefore: "150", markAfter: "116.25" }],
      liquidatingBefore: [],
      stages: [{ stage: 0, started: [alice], ended: [], fills: [], insuranceFund: { USDC: "0" } }],
      liquidatingAfter: [alice],
      liquidatingExposure: "1000",
      batchesAfterShock: 1,
      cutShort: false,
    });
    for (const [args, message] of [
      [["--shock", "DOGE=-10%"], "stress: --shock DOGE=-10%: unknown asset \"DOGE\" (assets: USDC, USDT, BTC, ETH, SOL)"],
      [["--shock", "SOL=-30"], "stress: --shock SOL=-30: expected ASSET=CHANGE%, e.g. SOL=-30%"],
      [["--shock", "SOL=-100%"], "stress: SOL: a shock must be above -100% and at most +1000%"],
      [["--shock", "SOL=-1%", "--shock", "SOL=-2%"], "stress: SOL is shocked twice"],
      [[], "stress: give at least one --shock ASSET=CHANGE% or a --sweep (see: crossbook stress --help)"],
      [["--sweep", "SOL=-5%..-60%", "--steps", "1"], "--steps must be an integer in [2, 100]"],
    ] as const) {
      const bad = stress(dir, ...args);
      expect([bad.status, bad.stderr.trim()]).toEqual([2, `crossbook: ${message}`]);
    }
  });

  it("Q7: --sweep SOL=-5%..-60% gives 12 points (Alice from −25%, Bob from −50%: 1,000 then 2,000 USD liquidating) and the SVG chart", async () => {
    const dir = await dataDir();
    const r = stress(dir, "--sweep", "SOL=-5%..-60%", "--out", "sweep.svg");
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.slice(0, 12).map((l) => [l.shock, l.liquidatingAccounts, l.liquidatingNotionalUsd, l.insuranceFundUseUsdc])).toEqual([
      ["-5%", 0, 0, 0], ["-10%", 0, 0, 0], ["-15%", 0, 0, 0], ["-20%", 0, 0, 0], ["-25%", 1, 1000, 0], ["-30%", 1, 1000, 0],
      ["-35%", 1, 1000, 0], ["-40%", 1, 1000, 0], ["-45%", 1, 1000, 0], ["-50%", 2, 2000, 0], ["-55%", 2, 2000, 0], ["-60%", 2, 2000, 0],
    ]);
    expect(lines[12]).toEqual({ svg: "sweep.svg" });
    const svg = readFileSync(join(dir, "sweep.svg"), "utf8");
    // x: 90 … 690 over 11 steps of 5%; y: 360 (0) … 64 (2,000).
    expect(svg).toContain('points="90.0,360.0 144.5,360.0 199.1,360.0 253.6,360.0 308.2,212.0 362.7,212.0 417.3,212.0 471.8,212.0 526.4,212.0 580.9,64.0 635.5,64.0 690.0,64.0"');
    expect(svg).toContain(">Liquidations against a SOL shock</text>");
  });

  it("Q7: from a running server's newest snapshot + the journal after it, changing nothing in the server", async () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-stress-server-"));
    const server = await startServer({ config, host: "127.0.0.1", port: 0, dataDir: join(dir, "data"), tickIntervalMs: 0, log: () => {} });
    try {
      const operator = await CrossbookClient.connect(`ws://127.0.0.1:${server.port}`, { key: server.operatorKey });
      const json = (f: Partial<CommandRecord>): CommandJson => {
        if (f.kind === CommandKind.AdvanceTime) return { type: "AdvanceTime", timeMs: f.timeMs! };
        if (f.kind === CommandKind.Deposit) return { type: "Deposit", account: f.account!, asset: f.asset!, amount: String(Number(f.amount!) / Number(f.asset === SOL ? SOL_UNIT : USDC_UNIT)) };
        if (f.kind === CommandKind.Lend) return { type: "Lend", account: f.account!, asset: f.asset!, amount: "10000" };
        return { type: "Withdraw", account: f.account!, asset: f.asset!, amount: "1000", margin: true };
      };
      const list = commands();
      // The operator signs for every account (Lend and Withdraw need the account's own key otherwise).
      const users = [LENDER, ALICE, BOB].map((a) => a >> 4);
      const keys = new Map<number, CrossbookClient>();
      for (const u of users) keys.set(u, await CrossbookClient.connect(`ws://127.0.0.1:${server.port}`, { key: await registerKey(operator, u) }));
      const send = async (f: Partial<CommandRecord>): Promise<void> => {
        const c = f.kind === CommandKind.Lend || f.kind === CommandKind.Withdraw ? keys.get(f.account! >> 4)! : operator;
        const got = await c.request(json(f), 30);
        expect(got.map((e) => e.type)).not.toContain("CommandRejected");
      };
      for (const f of list.slice(0, 6)) await send(f);
      expect((await operator.request({ type: "TakeSnapshot" }, 100, 60_000)).map((e) => e.type)).toContain("SnapshotTaken");
      await send(list[6]!); // Bob's borrow: only in the journal after the snapshot
      const before = await getStateHash(server.port, server.operatorKey);
      const r = stress(dir, "--shock", "SOL=-50%");
      expect(r.status, r.stderr).toBe(0);
      const report = JSON.parse(r.stdout) as { stages: { started: unknown[] }[] };
      expect(report.stages[0]!.started).toEqual([
        { account: ALICE, netEquity: "-325", exposure: "1000", mmr: "unbounded" },
        { account: BOB, netEquity: "12.5", exposure: "1000", mmr: "4" },
      ]);
      expect(await getStateHash(server.port, server.operatorKey)).toEqual(before);
      for (const c of [operator, ...keys.values()]) await c.close();
    } finally {
      await server.stop();
    }
  });

  it("Q7, X6, X5: QueryWhatIf over the wire runs on a copy of the live state (Alice below zero, Bob at MMR 4 under SOL −50%), changes nothing; only the operator may ask; bad shocks are typed rejects", async () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-whatif-"));
    const server = await startServer({ config, host: "127.0.0.1", port: 0, dataDir: join(dir, "data"), tickIntervalMs: 0, log: () => {} });
    try {
      const url = `ws://127.0.0.1:${server.port}`;
      const operator = await CrossbookClient.connect(url, { key: server.operatorKey });
      const ok = async (c: CrossbookClient, cmd: CommandJson): Promise<void> => {
        expect((await c.request(cmd, 30)).map((e) => e.type)).not.toContain("CommandRejected");
      };
      const users = new Map<number, CrossbookClient>();
      for (const a of [LENDER, ALICE, BOB]) users.set(a, await CrossbookClient.connect(url, { key: await registerKey(operator, a >> 4) }));
      await ok(operator, { type: "AdvanceTime", timeMs: T0 });
      await ok(operator, { type: "Deposit", account: LENDER, asset: USDC, amount: "10000" });
      await ok(users.get(LENDER)!, { type: "Lend", account: LENDER, asset: USDC, amount: "10000" });
      await ok(operator, { type: "Deposit", account: ALICE, asset: SOL, amount: "10" });
      await ok(operator, { type: "Deposit", account: BOB, asset: SOL, amount: "15" });
      await ok(users.get(ALICE)!, { type: "Withdraw", account: ALICE, asset: USDC, amount: "1000", margin: true });
      await ok(users.get(BOB)!, { type: "Withdraw", account: BOB, asset: USDC, amount: "1000", margin: true });
      const before = await getStateHash(server.port, server.operatorKey);

      const { events, done } = await operator.whatIf([{ asset: SOL, factor: "0.5" }]);
      // Stage 0 (the shock's batch): both start liquidating; no book to step them on, no fund to use.
      expect(events.map((e) => e.type)).toEqual(["WhatIfStage", "WhatIfAccount", "WhatIfAccount"]);
      expect(events[0]).toMatchObject({ stage: 0, started: 2, ended: 0, fills: 0, insuranceFund: "0" });
      expect(events[1]).toMatchObject({ stage: 0, account: ALICE, started: true, netEquity: "-325", exposure: "1000", mmr: "unbounded" });
      expect(events[2]).toMatchObject({ stage: 0, account: BOB, started: true, netEquity: "12.5", exposure: "1000", mmr: "4" });
      expect(done).toMatchObject({
        type: "WhatIfDone", stages: 1, liquidatingBefore: 0, liquidatingAfter: 2, liquidatingExposure: "2000",
        insuranceFundBefore: "0", insuranceFundAfter: "0", cutShort: false, accountsLeftOut: 0,
      });
      // The copy covered every command sent: the 3 key registrations and the 7 above.
      expect(done.seq).toBe(10n);
      expect(await getStateHash(server.port, server.operatorKey)).toEqual(before);

      // X6: a user's key may not ask (operator only); nothing runs.
      const refused = await users.get(ALICE)!.request({ type: "QueryWhatIf", asset1: SOL, factor1: "0.5" }, 50);
      expect(refused.map((e) => [e.type, (e as { code?: string }).code])).toEqual([["CommandRejected", "Unauthorized"]]);
      // X5: typed rejects at the gateway, each naming the field.
      for (const [cmd, message] of [
        [{ type: "QueryWhatIf", asset1: 99, factor1: "0.5" }, "asset 99"],
        [{ type: "QueryWhatIf", asset1: SOL, factor1: "11.5" }, "factor_1"],
        [{ type: "QueryWhatIf", asset1: SOL, factor1: "0.5", asset2: SOL, factor2: "0.9" }, "asset 4 is shocked twice"],
        [{ type: "QueryWhatIf", factor2: "0.9" }, "factor_2 without asset_2"],
        [{ type: "QueryWhatIf" }, "no shock"],
        [{ type: "QueryWhatIf", asset1: SOL, factor1: "0.5", stagesMax: 1001 }, "stages_max 1001 over 1000"],
      ] as const) {
        const got = await operator.request(cmd as unknown as CommandJson, 50);
        expect(got.length).toBe(1);
        expect(got[0]!.type).toBe("CommandRejected");
        expect((got[0] as { message: string }).message).toContain(message);
      }
      expect(await getStateHash(server.port, server.operatorKey)).toEqual(before);
      for (const c of [operator, ...users.values()]) await c.close();
    } finally {
      await server.stop();
    }
  });
});
