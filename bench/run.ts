// The benchmark command: discovers bench/*.bench.ts, runs the selected benchmarks, prints a table and writes
// bench/results/latest.json (merged by id when --filter selects a subset, so one benchmark can be re-run alone).
//
// Usage: npm run bench -- [--filter ID_PREFIX]... [--time MS] [--list]

import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { runBenchmark, type BenchDef, type BenchResult } from "./harness.ts";

interface Args {
  filters: string[];
  timeMs: number;
  list: boolean;
}

interface LatestFile {
  commit: string | null;
  node: string;
  cpus: number;
  cpuModel: string | null;
  startedAt: string;
  results: BenchResult[];
}

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const RESULTS_FILE = join(BENCH_DIR, "results", "latest.json");

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\nusage: npm run bench -- [--filter ID_PREFIX]... [--time MS] [--list]\n`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { filters: [], timeMs: 1000, list: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const name = arg.startsWith("--") && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith("--") && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[++i];
      if (next === undefined) usage(`${name} needs a value`);
      return next;
    };
    if (name === "--filter") args.filters.push(value());
    else if (name === "--time") {
      const text = value();
      if (!/^[1-9][0-9]{0,6}$/.test(text)) usage(`--time wants a positive integer of ms, got "${text}"`);
      args.timeMs = Number(text);
    } else if (name === "--list") args.list = true;
    else usage(`unknown argument "${arg}"`);
  }
  return args;
}

function gitCommit(): string | null {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: BENCH_DIR, stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

function isBenchDef(value: unknown): value is BenchDef {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  if (typeof v.id !== "string" || v.id.length === 0) return false;
  if (v.kind === "tinybench") return typeof v.fn === "function";
  if (v.kind === "custom") return typeof v.run === "function";
  return false;
}

/** Imports every bench file. A file that fails to import is fatal unless filters are given (then it is only warned). */
async function discover(filtered: boolean): Promise<{ defs: BenchDef[]; broken: string[] }> {
  const files = readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith(".bench.ts"))
    .sort();
  const defs: BenchDef[] = [];
  const broken: string[] = [];
  const seen = new Map<string, string>();
  for (const file of files) {
    let mod: { benchmarks?: unknown };
    try {
      mod = (await import(pathToFileURL(join(BENCH_DIR, file)).href)) as { benchmarks?: unknown };
    } catch (err) {
      const message = `bench/${file} failed to import: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
      if (filtered) process.stderr.write(`warning: ${message}\n`);
      else broken.push(message);
      continue;
    }
    if (!Array.isArray(mod.benchmarks)) {
      broken.push(`bench/${file} does not export "benchmarks: BenchDef[]"`);
      continue;
    }
    for (const def of mod.benchmarks) {
      if (!isBenchDef(def)) {
        broken.push(`bench/${file} has a malformed BenchDef: ${JSON.stringify(def)}`);
        continue;
      }
      const other = seen.get(def.id);
      if (other !== undefined) {
        broken.push(`benchmark id "${def.id}" is defined in both bench/${other} and bench/${file}`);
        continue;
      }
      seen.set(def.id, file);
      defs.push(def);
    }
  }
  return { defs, broken };
}

function formatOps(ops: number | null): string {
  if (ops === null) return "-";
  if (ops >= 1e6) return `${(ops / 1e6).toFixed(2)}M`;
  if (ops >= 1e3) return `${(ops / 1e3).toFixed(1)}k`;
  return ops.toFixed(1);
}

function formatNs(ns: number | null): string {
  if (ns === null) return "-";
  if (ns < 10_000) return `${ns.toFixed(ns < 100 ? 1 : 0)} ns`;
  if (ns < 10_000_000) return `${(ns / 1000).toFixed(1)} µs`;
  return `${(ns / 1e6).toFixed(1)} ms`;
}

function printTable(results: readonly BenchResult[]): void {
  const header = ["id", "ops/s", "mean", "p50", "p99", "p99.9"];
  const rows = results.map((r) => [
    r.id,
    formatOps(r.opsPerSec),
    formatNs(r.meanNs),
    formatNs(r.p50Ns),
    formatNs(r.p99Ns),
    formatNs(r.p999Ns),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ");
  process.stdout.write(`${line(header)}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
  for (const r of results) if (r.notes !== null && r.notes.length > 0) process.stdout.write(`  ${r.id}: ${r.notes}\n`);
}

function readLatest(): BenchResult[] {
  if (!existsSync(RESULTS_FILE)) return [];
  try {
    const parsed = JSON.parse(readFileSync(RESULTS_FILE, "utf8")) as Partial<LatestFile>;
    return Array.isArray(parsed.results) ? parsed.results : [];
  } catch {
    process.stderr.write(`warning: ${RESULTS_FILE} is unreadable; starting a fresh one\n`);
    return [];
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const filtered = args.filters.length > 0;
  const { defs, broken } = await discover(filtered);
  const selected = filtered ? defs.filter((d) => args.filters.some((f) => d.id.startsWith(f))) : defs;

  if (args.list) {
    for (const d of selected) process.stdout.write(`${d.id}\t${d.kind}\n`);
    for (const b of broken) process.stderr.write(`error: ${b}\n`);
    process.exit(broken.length > 0 ? 1 : 0);
  }
  if (filtered && selected.length === 0) {
    process.stderr.write(`bench: no benchmark id starts with ${args.filters.map((f) => `"${f}"`).join(" or ")}\n`);
    process.exit(1);
  }

  const startedAt = new Date().toISOString();
  const results: BenchResult[] = [];
  const failed: string[] = [];
  for (const def of selected) {
    process.stderr.write(`running ${def.id} ...\n`);
    try {
      results.push(await runBenchmark(def, { timeMs: args.timeMs }));
    } catch (err) {
      failed.push(def.id);
      process.stderr.write(`error: benchmark ${def.id} threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
  }

  // Merge: a filtered run replaces only its own ids (and drops stale entries of ids that failed now).
  const rerun = new Set(selected.map((d) => d.id));
  const kept = filtered ? readLatest().filter((r) => !rerun.has(r.id)) : [];
  const merged = [...kept, ...results].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const cpuList = cpus();
  const latest: LatestFile = {
    commit: gitCommit(),
    node: process.version,
    cpus: cpuList.length,
    cpuModel: cpuList[0]?.model.trim() ?? null,
    startedAt,
    results: merged,
  };
  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  writeFileSync(RESULTS_FILE, `${JSON.stringify(latest, null, 2)}\n`);

  if (results.length > 0) printTable(results);
  process.stdout.write(`wrote ${RESULTS_FILE} (${merged.length} results)\n`);
  for (const b of broken) process.stderr.write(`error: ${b}\n`);
  if (failed.length > 0) process.stderr.write(`bench: FAILED: ${failed.join(", ")}\n`);
  if (failed.length > 0 || broken.length > 0) process.exit(1);
}

await main();
