// Configuration loading (errors name the field's path), the `crossbook replay` CLI, the uWS fallback guard, and
// the rule that time and randomness never enter domain code except as journaled commands (DESIGN rule 5).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CommandKind, CommandRecord, EventKind, EventRecord, OrderFlag } from "../engine/model/index.ts";
import { ConfigError, Engine, loadConfig, parseConfig } from "../engine/pipeline/index.ts";

const BIN = new URL("../bin/crossbook.mjs", import.meta.url).pathname;
const defaultJson = (): Record<string, unknown> => JSON.parse(readFileSync(new URL("../config/default.json", import.meta.url), "utf8")) as Record<string, unknown>;

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("config", () => {
  it("loads the demo set: 5 assets, 3 spot and 3 perpetual markets with the SPEC defaults", () => {
    const c = loadConfig();
    expect(c.assets.map((a) => a.symbol)).toEqual(["USDC", "USDT", "BTC", "ETH", "SOL"]);
    expect(c.markets.map((m) => m.symbol)).toEqual(["BTC_USDC", "ETH_USDC", "SOL_USDC", "BTC_USDC_PERP", "ETH_USDC_PERP", "SOL_USDC_PERP"]);
    const sol = c.assets[4]!;
    expect(sol.haircut).toEqual({ kind: "inverseSqrt", base: 900_000_000_000_000_000n, penalty: 700_000_000_000_000n });
    const solPerp = c.markets[5]!;
    expect(solPerp.imf).toEqual({ base: 20_000_000_000_000_000n, factor: 127_500_000_000_000n });
    expect(c.feeTiers[0]).toMatchObject({ makerBps: 8, takerBps: 10 });
    expect(c.feeTiers[c.feeTiers.length - 1]).toMatchObject({ makerBps: 0, takerBps: 3 });
  });

  it("L3: pool parameters are validated at load, naming the field", () => {
    const j = defaultJson();
    (j.assets as { pool: Record<string, string> }[])[2]!.pool.optimalUtilization = "1";
    expect(errorOf(() => parseConfig(j))).toBe("config assets[2].pool.optimalUtilization: must be strictly between 0 and 1");
    const k = defaultJson();
    (k.assets as { pool: Record<string, string> }[])[0]!.pool.minRate = "0.2";
    expect(errorOf(() => parseConfig(k))).toBe("config assets[0].pool.minRate: must be at most optimalRate");
  });

  it("Q1, Q2, Q3: the liquidation parameters load from the config's optional \"liquidation\" (each field optional, the SPEC defaults otherwise)", () => {
    expect(loadConfig().liquidation).toEqual({
      liquidationExitMmr: 980_000_000_000_000_000n, liquidationStepFraction: 100_000_000_000_000_000n, liquidationMaxSlippage: 50_000_000_000_000_000n,
      liquidationFee: 10_000_000_000_000_000n, acmfDivisor: 2_000_000_000_000_000_000n, acmfOffset: 10_000_000_000_000_000n, backstopAccount: 0, backstopLimitUsd: 0n,
    });
    const j = defaultJson();
    j.liquidation = { liquidationExitMmr: "0.9", liquidationFee: "0.015", backstopAccount: 160, backstopLimitUsd: "250000.5" };
    expect(parseConfig(j).liquidation).toMatchObject({
      liquidationExitMmr: 900_000_000_000_000_000n, liquidationFee: 15_000_000_000_000_000n, liquidationStepFraction: 100_000_000_000_000_000n,
      backstopAccount: 160, backstopLimitUsd: 250_000_500_000_000n,
    });
  });

  it("Q1, Q2, Q3, X5: bad liquidation parameters fail at load, naming the field", () => {
    const bad = (liquidation: unknown): string => {
      const j = defaultJson();
      j.liquidation = liquidation;
      return errorOf(() => parseConfig(j));
    };
    expect(bad({ liquidationExitMmr: "1" })).toBe("config liquidation.liquidationExitMmr: liquidationExitMmr must be in (0, 1)");
    expect(bad({ liquidationStepFraction: "0" })).toBe("config liquidation.liquidationStepFraction: liquidationStepFraction must be in (0, 1]");
    expect(bad({ liquidationMaxSlippage: "1" })).toBe("config liquidation.liquidationMaxSlippage: liquidationMaxSlippage must be in [0, 1)");
    expect(bad({ liquidationFee: "1.5" })).toBe("config liquidation.liquidationFee: liquidationFee must be in [0, 1)");
    expect(bad({ acmfDivisor: "0.5" })).toBe("config liquidation.acmfDivisor: acmfDivisor must be ≥ 1");
    expect(bad({ acmfOffset: "2" })).toBe("config liquidation.acmfOffset: acmfOffset must be in [0, 1]");
    expect(bad({ backstopAccount: 16 })).toBe("config liquidation.backstopLimitUsd: backstopLimitUsd must be greater than zero for a backstopAccount");
    expect(bad({ backstopLimitUsd: "5" })).toBe("config liquidation.backstopLimitUsd: backstopLimitUsd must be 0 without a backstopAccount");
    expect(bad({ backstopAccount: 5, backstopLimitUsd: "5" })).toBe("config liquidation.backstopAccount: backstopAccount 5 is not a client account");
    expect(bad({ backstopAccount: -1 })).toMatch(/^config liquidation.backstopAccount: expected an integer/);
    expect(bad({ exitMmr: "0.9" })).toBe("config liquidation.exitMmr: unknown field");
    expect(bad([])).toBe("config liquidation: expected an object");
  });

  it("Q1: a configured liquidationExitMmr is the trigger's exit (90%: an account at MMR 97.7% stays liquidating)", () => {
    const j = defaultJson();
    j.liquidation = { liquidationExitMmr: "0.9" };
    const results = [loadConfig(), parseConfig(j)].map((config) => {
      const engine = new Engine(config);
      let seq = 0;
      const batch = (list: Partial<CommandRecord>[]): EventRecord[] => {
        const got: EventRecord[] = [];
        const cmds = list.map((f) => Object.assign(new CommandRecord(), f, { seq: ++seq }));
        engine.processBatch(cmds, cmds.length, { publish: (e) => got.push(Object.assign(new EventRecord(), { kind: e.kind, code: e.code })) });
        return got;
      };
      batch([
        { kind: CommandKind.AdvanceTime, timeMs: 1_767_225_600_000 },
        { kind: CommandKind.Deposit, account: 16, asset: 0, amount: 10_000_000_000n },
        { kind: CommandKind.Lend, account: 16, asset: 0, amount: 10_000_000_000n },
        { kind: CommandKind.Deposit, account: 32, asset: 4, amount: 10_000_000_000n },
        { kind: CommandKind.Withdraw, account: 32, asset: 0, amount: 1_000_000_000n, flags: OrderFlag.AutoBorrow },
      ]);
      batch([{ kind: CommandKind.SetMarkPrice, asset: 4, price: 116_660_000_000n }]); // MMR 100.1%: liquidating
      // SOL $116.80: MMR 50 / 51.20 = 97.66%: out at the default 98%, still in at 90%.
      return batch([{ kind: CommandKind.SetMarkPrice, asset: 4, price: 116_800_000_000n }]).some((e) => e.kind === EventKind.LiquidationEnded);
    });
    expect(results).toEqual([true, false]);
  });

  it("Q1, Q2, Q3: `crossbook config --config FILE` prints the digest and the liquidation parameters; a bad one fails naming the field", () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-config-"));
    const j = defaultJson();
    j.liquidation = { liquidationStepFraction: "0.25", backstopAccount: 160, backstopLimitUsd: "1000000" };
    writeFileSync(join(dir, "q.json"), JSON.stringify(j));
    const ok = spawnSync(process.execPath, [BIN, "config", "--config", join(dir, "q.json")], { encoding: "utf8", timeout: 30_000 });
    expect(ok.status).toBe(0);
    const out = JSON.parse(ok.stdout) as { digest: string; liquidation: Record<string, unknown> };
    expect(out.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(out.liquidation).toEqual({
      liquidationExitMmr: "0.98", liquidationStepFraction: "0.25", liquidationMaxSlippage: "0.05", liquidationFee: "0.01", acmfDivisor: "2", acmfOffset: "0.01",
      backstopAccount: 160, backstopLimitUsd: "1000000",
    });
    j.liquidation = { liquidationFee: "1" };
    writeFileSync(join(dir, "bad.json"), JSON.stringify(j));
    const bad = spawnSync(process.execPath, [BIN, "config", "--config", join(dir, "bad.json")], { encoding: "utf8", timeout: 30_000 });
    expect([bad.status, bad.stdout, bad.stderr.trim()]).toEqual([2, "", "crossbook: config liquidation.liquidationFee: liquidationFee must be in [0, 1)"]);
  });

  it("a bad market field fails with its path and the reason", () => {
    const j = defaultJson();
    (j.markets as Record<string, unknown>[])[1]!.tickSize = "0.001x";
    expect(errorOf(() => parseConfig(j))).toBe('config markets[1].tickSize: unexpected character "x" at position 5: "0.001x"');
    const k = defaultJson();
    (k.markets as Record<string, unknown>[])[0]!.base = "DOGE";
    expect(errorOf(() => parseConfig(k))).toBe('config markets[0].base: unknown asset "DOGE"');
    const l = defaultJson();
    (l.markets as Record<string, unknown>[])[0]!.minQuantity = "0.000015";
    expect(errorOf(() => parseConfig(l))).toBe("config markets[0].minQuantity: must be a multiple of stepSize");
    expect(errorOf(() => parseConfig({ ...defaultJson(), extra: 1 }))).toBe("config extra: unknown field");
  });

  it("`crossbook start --config bad.json` fails at start naming the field", () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-cfg-"));
    const j = defaultJson();
    (j.assets as Record<string, unknown>[])[1]!.decimals = 40;
    writeFileSync(join(dir, "bad.json"), JSON.stringify(j));
    const r = spawnSync(process.execPath, [BIN, "start", "--config", join(dir, "bad.json"), "--data", dir, "--port", "0"], { encoding: "utf8", timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("config assets[1].decimals: expected an integer in [0, 12], got 40");
  });
});

describe("cli options", () => {
  it("`crossbook start --stages both` fails at start: the stage layout is fused or split", () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-stages-"));
    const r = spawnSync(process.execPath, [BIN, "start", "--stages", "both", "--data", dir, "--port", "0"], { encoding: "utf8", timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--stages: expected fused or split, got "both"');
  });
});

describe("cli", () => {
  it("`crossbook replay FILE.jsonl` runs the commands in-process and prints one JSON event per line, then the state hash", () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-replay-"));
    const file = join(dir, "session.jsonl");
    writeFileSync(file, [
      '{"type":"AdvanceTime","timeMs":1767225600000}',
      '{"type":"Deposit","account":16,"asset":0,"amount":"1000"}',
      '{"type":"Deposit","account":32,"asset":4,"amount":"10"}',
      '{"type":"LimitOrder","account":32,"market":2,"side":"Sell","price":"150","quantity":"2","clientSeq":7}',
      '{"type":"LimitOrder","account":16,"market":2,"side":"Buy","price":"151","quantity":"1.5"}',
      '{"type":"Deposit","account":16,"asset":0,"amount":"1.0000001"}',
      "",
    ].join("\n"));
    const run = (): string[] => {
      const r = spawnSync(process.execPath, [BIN, "replay", file], { encoding: "utf8", timeout: 30_000 });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      return r.stdout.trim().split("\n");
    };
    const lines = run();
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events[0]).toMatchObject({ type: "Clock", timeMs: "1767225600000" });
    const fill = events.find((e) => e.type === "Fill")!;
    expect(fill).toMatchObject({ market: 2, price: "150", quantity: "1.5", quoteQuantity: "225", takerAccount: 16, makerAccount: 32, fee: "0.0015" });
    const sellAccepted = events.find((e) => e.type === "OrderAccepted" && e.account === 32)!;
    expect(sellAccepted.clientSeq).toBe("7");
    expect(events.filter((e) => e.type === "Balance" && e.account === 16 && e.asset === 0).pop()).toMatchObject({ available: "775", locked: "0" });
    expect(events[events.length - 2]).toMatchObject({ type: "CommandRejected", code: "InvalidAmount" });
    const last = events[events.length - 1]!;
    expect(last.commands).toBe(5);
    expect(last.stateHash).toMatch(/^[0-9a-f]{64}$/);
    // Deterministic: the same file gives the same output, byte for byte.
    expect(run()).toEqual(lines);
  });
});

describe("gateway guard", () => {
  it("refuses to serve on the slow ws fallback unless --allow-fallback", () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-fallback-"));
    const r = spawnSync(process.execPath, [BIN, "start", "--data", dir, "--port", "0"], {
      encoding: "utf8",
      timeout: 30_000,
      env: { ...process.env, UWS_USE_FALLBACK: "1" },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("refusing to serve on the slow `ws` fallback");
  });
});

describe("determinism", () => {
  it("DESIGN rule 5: domain code never reads the wall clock or a random source", () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) walk(path);
        else if (name.endsWith(".ts")) {
          const text = readFileSync(path, "utf8").replace(/\/\/.*$/gm, "");
          if (/Date\.now\(|new Date\(|Math\.random\(|performance\.now\(|process\.hrtime/.test(text)) offenders.push(path);
        }
      }
    };
    for (const d of ["matching", "risk", "lending", "settlement", "fixed", "model", "journal"]) walk(new URL(`../engine/${d}`, import.meta.url).pathname);
    expect(offenders).toEqual([]);
  });
});
