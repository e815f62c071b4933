// The README's walkthroughs run exactly as printed: every `npx crossbook …` line of each section's ```sh blocks,
// extracted from README.md itself, in order, against a real `crossbook start` on a fresh data dir and a free port,
// with the outputs the README's comments promise checked. Any subcommand runs (client, replay, journal-hash, keys…):
// each line runs as `node bin/crossbook.mjs <its arguments>` in a scratch directory whose `data/` is the server's
// data dir (so `--data` defaults to it and the operator key is data/operator.key), with CROSSBOOK_URL
// pointing the client at the server. A section's ```json block is written to `session.jsonl` there (the replay
// walkthrough reads it). `watch` and `market` stream until Ctrl-C: they run until their first line, then get SIGINT.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

const BIN = new URL("../bin/crossbook.mjs", import.meta.url).pathname;
const README = readFileSync(new URL("../README.md", import.meta.url), "utf8");
/** Bounds: a command's run, a server's start, a streaming command's first line. */
const COMMAND_TIMEOUT_MS = 60_000;
const STREAMING = new Set(["watch", "market"]);

/** One `npx crossbook` line of a walkthrough: its arguments after `npx crossbook`, and its comment. */
export interface ReadmeStep {
  readonly text: string;
  readonly args: readonly string[];
  readonly comment: string;
}

export interface ReadmeSection {
  readonly title: string;
  readonly steps: ReadmeStep[];
  /** The section's ```json blocks (one command per line). */
  readonly json: string[];
}

/** Splits a shell line into words (single and double quotes, no expansion) and its trailing `# comment`. */
function shellWords(line: string): { words: string[]; comment: string } {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote !== "") {
      if (ch === quote) quote = "";
      else word += ch;
      continue;
    }
    if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === "#" && !inWord) {
      return { words, comment: line.slice(i + 1).trim() };
    } else if (ch === " " || ch === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return { words, comment: "" };
}

/** The README's sections with their `npx crossbook` lines, in order (sections without any are left out). */
export function readmeWalkthroughs(markdown: string): ReadmeSection[] {
  const sections: ReadmeSection[] = [];
  let current: ReadmeSection | null = null;
  let fence = "";
  let block: string[] = [];
  for (const raw of markdown.split("\n")) {
    const line = raw.trimEnd();
    if (fence === "" && line.startsWith("## ")) {
      current = { title: line.slice(3).trim(), steps: [], json: [] };
      sections.push(current);
      continue;
    }
    if (line.startsWith("```")) {
      if (fence === "") {
        fence = line.slice(3).trim() || "text";
        block = [];
      } else {
        if (fence === "json" && current !== null) current.json.push(block.join("\n"));
        fence = "";
      }
      continue;
    }
    if (fence === "json") block.push(line);
    if (fence !== "sh" || current === null) continue;
    const trimmed = line.trim();
    if (!trimmed.startsWith("npx crossbook ")) continue;
    const { words, comment } = shellWords(trimmed);
    current.steps.push({ text: words.slice(2).join(" "), args: words.slice(2), comment });
  }
  return sections.filter((s) => s.steps.length > 0);
}

interface Run {
  readonly code: number | null;
  readonly out: string;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.CROSSBOOK_URL; // a fresh machine: the server writes data/operator.key, the CLI reads it
  return { ...env, ...extra };
}

/** `crossbook start` on a free port with `dir/data`; resolves with its port once it listens, and what it printed. */
function startServer(dir: string): Promise<{ child: ChildProcess; port: number; printed: () => string }> {
  const child = spawn(process.execPath, [BIN, "start", "--port", "0", "--data", join(dir, "data")], { cwd: dir, env: cleanEnv({}), stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), COMMAND_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = /listening on ws:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), printed: () => out });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code, signal) => {
      out += `\n[server exited: code ${code}, signal ${signal}]`;
      reject(new Error(`server exited (${code}) before listening:\n${out}`));
    });
  });
}

/** Runs one README line; a streaming one until its first line of output, then SIGINT. */
function runStep(step: ReadmeStep, dir: string, port: number): Promise<Run> {
  // With the WebSocket flags bin/crossbook.mjs would re-run itself with (one process, so SIGINT reaches the client).
  const child = spawn(process.execPath, ["--experimental-websocket", "--disable-warning=ExperimentalWarning", BIN, ...step.args], { cwd: dir, env: cleanEnv({ CROSSBOOK_URL: `ws://127.0.0.1:${port}` }), stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  const streaming = (step.args[0] === "client" && STREAMING.has(step.args[1] ?? "")) || step.args[0] === "feed";
  let out = "";
  let interrupted = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`"${step.text}" did not finish within ${COMMAND_TIMEOUT_MS} ms:\n${out}`));
    }, COMMAND_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      // Ctrl-C once, after its first line (the client handles it from then on).
      if (streaming && !interrupted && out.includes("\n")) {
        interrupted = true;
        child.kill("SIGINT");
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** The JSON events a client line printed (one per line). */
function events(run: Run): Record<string, unknown>[] {
  return run.out
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function rejected(run: Run): string[] {
  return events(run).filter((e) => String(e.type).endsWith("Rejected")).map((e) => String(e.code));
}

type Check = (run: Run) => void;

function balancesOf(run: Run): Record<string, Record<string, string>> {
  const body = JSON.parse(run.out) as { balances: { asset: string }[] };
  return Object.fromEntries(body.balances.map((b) => [b.asset, b as unknown as Record<string, string>]));
}

const refusedBy = (code: string, message?: RegExp): Check => (run) => {
  expect(rejected(run)).toEqual([code]);
  if (message !== undefined) expect(String(events(run).find((e) => String(e.type).endsWith("Rejected"))!.message)).toMatch(message);
};

/**
 * What the README's comments promise, by section and line (the n-th occurrence of the same line counts apart).
 * Every other line must exit 0 and print no reject.
 */
const PROMISES: Record<string, Record<string, Check[]>> = {
  "A first trade from the terminal": {
    "client order 32 BTC_USDC sell 0.5 60000": [(r) => expect(events(r).map((e) => e.type)).toContain("OrderAccepted")],
    "client order 16 BTC_USDC buy 0.5 60000": [(r) => expect(events(r).map((e) => e.type)).toContain("Fill")],
    "client balances 16": [(r) => expect(balancesOf(r)).toMatchObject({ USDC: { available: "70000" }, BTC: { available: "0.4995" } })],
    "client balances 32": [(r) => expect(balancesOf(r)).toMatchObject({ USDC: { available: "29976" }, BTC: { available: "0.5" } })],
    "client watch 16 32": [(r) => expect(r.out).toMatch(/^watching 16, 32/)],
    "client market BTC_USDC": [(r) => expect(r.out).toMatch(/^market data of BTC_USDC/)],
  },
  "Accounts, margin and fees": {
    "client max-order 48 SOL_USDC buy 150 --margin": [(r) => expect(events(r)[0]).toMatchObject({ type: "MaxOrderQuantity", quantity: "3.65", marginLimit: "3.65" })],
    "client order 48 SOL_USDC buy 3.66 150 --margin": [refusedBy("InsufficientMargin", /100\.65%/)],
    "client order 48 SOL_USDC buy 3.65 150 --margin": [
      (r) => expect(events(r).map((e) => e.type).sort()).toEqual(["Balance", "OrderAccepted"]),
      refusedBy("InsufficientMargin"),
    ],
    "client collateral 48": [
      (r) => expect(events(r)[0]).toMatchObject({ type: "AccountCollateral", netEquity: "100", exposureNotional: "0" }),
      (r) => expect(events(r)[0]).toMatchObject({ type: "AccountCollateral", netEquity: "100", exposureNotional: "447.5", netEquityLocked: "44.75", imr: "0.4475" }),
    ],
    "client settings 48 --leverage 5": [refusedBy("InsufficientMargin")],
    "client max-withdrawal 48 USDC": [(r) => expect(events(r)[0]).toMatchObject({ type: "MaxWithdrawalQuantity", quantity: "100" })],
    "client transfer 48 49 USDC 10": [(r) => expect(events(r).map((e) => e.type)).toContain("CommandAccepted")],
    "client balances 48": [(r) => expect(balancesOf(r).USDC).toMatchObject({ available: "0", lent: "90", borrowed: "0" })],
  },
  "Borrowing and lending": {
    "client max-borrow 112 USDC": [(r) => expect(events(r)[0]).toMatchObject({ type: "MaxBorrowQuantity", quantity: "9500", marginLimit: "13499.999999" })],
    "client borrow 112 USDC 500": [(r) => expect(events(r).map((e) => e.type)).toContain("CommandAccepted")],
  },
  "Prices: the oracle and the feeder": {
    "feed --source sim --seed 7 --interval-ms 1000 --assets BTC,SOL": [
      (r) => expect(r.out).toMatch(/^price feed: sim \(seed 7\) every 1000 ms for BTC, SOL — prices are simulated — Ctrl-C to stop\n/),
      (r) => expect(r.out).toMatch(/feed: stopped: tick \d+: .*\| sent (\d+), accepted \1, refused 0, dropped 0\n$/),
    ],
  },
  Liquidation: {
    "client withdraw 128 USDC 1000 --margin": [(r) => expect(events(r).map((e) => e.type)).toContain("CommandAccepted")],
    "client collateral 128": [
      (r) => expect(events(r)[0]).toMatchObject({ type: "AccountCollateral", netEquity: "44", mmr: "1.136363636", liquidatable: true }),
      // Q2: one step sold 0.91 SOL at 115 (fee 1.0465 USDC); the borrow is 896.3965 USDC.
      (r) => expect(events(r)[0]).toMatchObject({ type: "AccountCollateral", netEquity: "52.5995", mmr: "0.852096027", liquidatable: false }),
    ],
    "client liquidations 128": [
      (r) => expect(events(r).map((e) => e.type)).toEqual(["LiquidationStarted", "Fill", "LiquidationEnded", "CommandAccepted"]),
      (r) => expect(events(r).filter((e) => e.type !== "Fill").map((e) => [e.type, e.account, e.netEquity])).toEqual([["LiquidationStarted", 128, "44"], ["LiquidationEnded", 128, "52.5995"], ["CommandAccepted", 128, undefined]]),
      // Q6: the step's fill is a row too: 0.91 SOL sold at 115.
      (r) => expect(events(r)[1]).toMatchObject({ type: "Fill", price: "115", quantity: "0.91", quoteQuantity: "104.65" }),
    ],
    "client insurance USDC": [
      (r) => expect(events(r).map((e) => [e.type, e.asset, e.balance])).toEqual([["InsuranceFund", 0, "1.0465"], ["InsuranceEntry", 0, "1.0465"]]),
      (r) => expect(events(r)[1]).toMatchObject({ reason: "LiquidationFee", amount: "1.0465" }),
    ],
    config: [(r) => expect(events(r)[0]).toMatchObject({ liquidation: { liquidationExitMmr: "0.98", liquidationFee: "0.01", backstopAccount: 0 } })],
    "stress --shock SOL=-30%": [
      (r) => expect(JSON.parse(r.out).stages[0]).toMatchObject({ stage: 0, started: [{ account: 128, netEquity: "-232.0993", exposure: "896.3965", mmr: "unbounded" }] }),
      // The copy then steps 128 through the book (the bid at 115 rests, inside the 81.2 × 0.95 bound): engine fills.
      (r) => expect(JSON.parse(r.out).stages.slice(1).flatMap((st: { fills: unknown[] }) => st.fills).length).toBeGreaterThan(0),
    ],
    "client what-if SOL=-30%": [
      // Q7 over the wire: the same stage 0 as the stress report above, from a copy of the live state.
      (r) => expect(events(r).slice(0, 2)).toMatchObject([
        { type: "WhatIfStage", stage: 0, started: 1, ended: 0, fills: 0 },
        { type: "WhatIfAccount", stage: 0, account: 128, started: true, netEquity: "-232.0993", exposure: "896.3965", mmr: "unbounded" },
      ]),
      (r) => expect(events(r).filter((e) => e.type === "WhatIfFills").length).toBeGreaterThan(0),
      (r) => expect(events(r)[events(r).length - 1]).toMatchObject({ type: "WhatIfDone", liquidatingBefore: 0, cutShort: false, accountsLeftOut: 0 }),
    ],
    "stress --sweep SOL=-5%..-60% --steps 12": [
      (r) => expect(events(r).map((e) => e.liquidatingAccounts)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, undefined]),
    ],
    "client withdraw 128 SOL 0.1": [refusedBy("AccountLiquidating", /liquidating/)],
  },
  Perpetuals: {
    "client max-order 128 BTC_USDC_PERP buy 60000": [
      (r) => expect(events(r)).toMatchObject([{ type: "MaxOrderQuantity", account: 128, quantity: "1.6501", marginLimit: "1.6501" }]),
    ],
    "client order 128 BTC_USDC_PERP buy 0.1 60000": [
      (r) => expect(events(r).map((e) => e.type)).toEqual(expect.arrayContaining(["Fill", "Settlement", "Balance", "Position"])),
    ],
    "client positions 128": [
      (r) => expect(events(r)[0]).toMatchObject({ type: "Position", netQuantity: "0.1", entryPrice: "60000", breakEvenPrice: "60060" }),
    ],
    "client open-interest BTC_USDC_PERP": [(r) => expect(events(r)[0]).toMatchObject({ type: "OpenInterest", quantity: "0.1" })],
    "client order 128 BTC_USDC_PERP sell 0.5 60000 --reduce-only": [
      (r) => expect(events(r).find((e) => e.type === "OrderDone")).toMatchObject({ reason: "ReduceOnlyCapped" }),
    ],
    "client settlements 128": [
      (r) => expect(events(r)).toMatchObject([
        { type: "Settlement", account: 128, reason: "Fee", step: "FromBalance", amount: "6" },
        { type: "Settlement", account: 128, reason: "Fee", step: "FromBalance", amount: "6" },
        { type: "CommandAccepted", account: 128 },
      ]),
    ],
    "client funding 128 BTC_USDC_PERP": [(r) => expect(events(r).map((e) => e.type)).toEqual(["CommandAccepted"])],
    "client funding-rates BTC_USDC_PERP": [(r) => expect(events(r).map((e) => e.type)).toEqual(["CommandAccepted"])],
  },
  "Replaying and checking": {
    "replay session.jsonl": [(r) => expect(r.out).toMatch(/"stateHash":"[0-9a-f]{64}","commands":3/)],
    "journal-hash": [(r) => expect(r.out).toMatch(/"stateHash":"[0-9a-f]{64}"/)],
  },
};

describe("README walkthroughs run exactly as printed (extracted from README.md)", () => {
  const sections = readmeWalkthroughs(README);

  it("the extractor finds every walkthrough and its lines, in order", () => {
    expect(sections.map((s) => s.title)).toEqual(["A first trade from the terminal", "Accounts, margin and fees", "Borrowing and lending", "Prices: the oracle and the feeder", "Liquidation", "Perpetuals", "Replaying and checking", "Restart, snapshots and the journal"]);
    expect(sections[1]!.steps[0]!.text).toBe("keys create 3 --permissions read,trade,withdraw");
    expect(readmeWalkthroughs("## K\n```sh\nnpx crossbook keys create 1   # a key\nnpm test\n```\n")).toEqual([
      { title: "K", steps: [{ text: "keys create 1", args: ["keys", "create", "1"], comment: "a key" }], json: [] },
    ]);
    // Every promise names a line the README has.
    for (const [title, promises] of Object.entries(PROMISES)) {
      const texts = sections.find((s) => s.title === title)?.steps.map((s) => s.text) ?? [];
      for (const text of Object.keys(promises)) expect(texts, `${title}: ${text}`).toContain(text);
    }
  });

  for (const section of sections) {
    it(`${section.title}: every line on a fresh server`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "crossbook-readme-"));
      mkdirSync(join(dir, "data"));
      if (section.json.length > 0) writeFileSync(join(dir, "session.jsonl"), `${section.json.join("\n")}\n`);
      const { port, printed } = await startServer(dir);
      const seen = new Map<string, number>();
      for (const step of section.steps) {
        const run = await runStep(step, dir, port);
        const n = seen.get(step.text) ?? 0;
        seen.set(step.text, n + 1);
        const check = PROMISES[section.title]?.[step.text]?.[n];
        expect(run.code, `${step.text}\n${run.out}\nserver:\n${printed().slice(-4000)}`).toBe(0);
        if (check !== undefined) check(run);
        else expect(rejected(run), `${step.text}\n${run.out}`).toEqual([]);
      }
    }, 240_000);
  }
});
