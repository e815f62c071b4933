// The command line never answers a person with a stack trace (X5): `--help` on every subcommand prints its usage
// (exit 0); a mistyped option, a negative number, a missing value or argument is one clear line on stderr (exit 2).
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { CLIENT_VERBS, main, usageOf } from "../bin/cli.ts";

const BIN = new URL("../bin/crossbook.mjs", import.meta.url).pathname;

function spawned(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

class Exited {
  constructor(readonly code: number) {}
}

afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs the CLI's main() in this process (what bin/crossbook.mjs runs), capturing its output and exit code. */
async function run(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation(((chunk: string) => {
    stdout += chunk;
    return true;
  }) as never);
  vi.spyOn(process.stderr, "write").mockImplementation(((chunk: string) => {
    stderr += chunk;
    return true;
  }) as never);
  vi.spyOn(process, "exit").mockImplementation(((code?: number) => {
    throw new Exited(code ?? 0);
  }) as never);
  let status = 0;
  try {
    await main(args);
  } catch (e) {
    if (!(e instanceof Exited)) throw e;
    status = e.code;
  } finally {
    vi.restoreAllMocks();
  }
  return { status, stdout, stderr };
}

describe("crossbook CLI usage", () => {
  it("X5: every client subcommand has its usage line, and the client options", () => {
    for (const verb of CLIENT_VERBS) {
      const usage = usageOf("client", verb).split("\n");
      expect(usage[0], verb).toMatch(new RegExp(`^  crossbook client (\\S+\\|)?${verb}(\\|\\S+)?( |$)`));
      expect(usage[usage.length - 1]).toBe("  client options: [--url ws://127.0.0.1:8080 (or CROSSBOOK_URL)] [--key FILE] [--data data]");
    }
  });

  it("X5: --help on start, replay, journal-hash, client and a client subcommand prints the usage and exits 0", async () => {
    for (const args of [["start", "--help"], ["replay", "--help"], ["journal-hash", "-h"], ["client", "--help"], ["client", "order", "--help"]]) {
      const r = await run(args);
      expect(r.status, args.join(" ")).toBe(0);
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe(`${usageOf(args[0]!, args[0] === "client" && args[1] !== "--help" ? args[1] : undefined)}\n`);
    }
  }, 120_000);

  it("X5: usage errors are one line on stderr with exit code 2, never a stack trace", async () => {
    const cases: [string[], string][] = [
      [["start", "--prot", "8080"], "crossbook: start: unknown option --prot (see: crossbook start --help)"],
      [["start", "--port", "-1"], "crossbook: start: --port must not be negative (got -1) (see: crossbook start --help)"],
      [["start", "--port=70000"], "crossbook: --port must be an integer in [0, 65535]"],
      [["start", "--port"], "crossbook: start: option --port needs a value (see: crossbook start --help)"],
      [["replay"], "crossbook: replay needs a FILE.jsonl (see: crossbook replay --help)"],
      [["journal-hash", "--dta", "x"], "crossbook: journal-hash: unknown option --dta (see: crossbook journal-hash --help)"],
      [["client"], "crossbook: client needs a subcommand (see: crossbook client --help)"],
      [["client", "deposit", "16", "USDC", "-5"], "crossbook: client: -5 is negative: amounts, quantities, prices and ids are positive (see: crossbook client --help)"],
      [["client", "order", "16", "BTC_USDC", "buy", "1", "--tif"], "crossbook: client: option --tif needs a value (see: crossbook client --help)"],
      [["client", "frobnicate"], 'crossbook: client: unknown subcommand "frobnicate" (see: crossbook client --help)'],
      [["bogus"], 'crossbook: unknown command "bogus" (see: crossbook --help)'],
    ];
    for (const [args, line] of cases) {
      const r = await run(args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toBe(`${line}\n`);
      expect(r.stdout).toBe("");
    }
  }, 120_000);

  it("X5: through bin/crossbook.mjs as a person runs it: --help exits 0, a mistyped option is one line with exit 2", () => {
    const help = spawned(["client", "deposit", "--help"]);
    expect(help).toEqual({ status: 0, stdout: `${usageOf("client", "deposit")}\n`, stderr: "" });
    const typo = spawned(["start", "--prot", "8080"]);
    expect(typo).toEqual({ status: 2, stdout: "", stderr: "crossbook: start: unknown option --prot (see: crossbook start --help)\n" });
  }, 120_000);

  it("X5: a client or keys command with no server at --url says why in one line (exit 2): the refused connection", async () => {
    const port = await closedPort();
    for (const args of [["client", "balances", "16"], ["keys", "list", "1"]]) {
      const r = await run([...args, "--url", `ws://127.0.0.1:${port}`]);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toBe(`crossbook: no crossbook server at ws://127.0.0.1:${port} (fetch failed (ECONNREFUSED); start one with: npm start)\n`);
    }
  }, 60_000);
});

/** A loopback port nothing listens on: bound by the OS, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
