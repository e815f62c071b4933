// The pipeline's workers run from one esbuild bundle of their TypeScript entries, built once per version of the
// engine's sources, instead of compiling every module through tsx in every worker at each start.
//
// Why: Node 20 does not hand `--import tsx` to worker threads, so each worker registered tsx itself (workers/boot.mjs)
// and compiled the engine's ~130 modules through tsx's loader thread: 1–2.5 s of every start and restart (issue 14's
// restart budget is 2 s), and again in every test that starts a pipeline. The bundle is plain JavaScript: a worker
// loads it like any module.
//
// Where: node_modules/.cache/crossbook-workers/<digest>/, the digest a SHA-256 over every engine/, gateway/ and
// schemas/ **/*.ts file's path
// and bytes and esbuild's version, so an edited source gets a new bundle and a stale one is never run. Built into a
// temporary directory and renamed into place, so processes that start at once (vitest's workers) never see half a
// bundle; the loser of the rename keeps the winner's. Bounded: at most BUNDLES_KEPT digests stay in the cache.
// CROSSBOOK_WORKERS=tsx (or esbuild missing) runs the sources through workers/boot.mjs as before.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The worker entries the bundle holds: engine/pipeline/workers/<name>.ts, and the gateway's snapshot follower. */
export const WORKER_ENTRIES = ["engine-worker", "risk-worker", "matching-worker", "settlement-worker", "snapshot-hash-worker", "what-if-worker", "snapshot-writer-worker", "journal-worker"] as const;
export type WorkerEntry = (typeof WORKER_ENTRIES)[number];

/** Each entry's source, relative to the repository root. */
export function workerEntrySource(name: WorkerEntry): string {
  return GATEWAY_ENTRIES.includes(name) ? join("gateway", `${name}.ts`) : join("engine", "pipeline", "workers", `${name}.ts`);
}

/** The entries that are the gateway's own threads: the snapshot follower and the journal thread. */
const GATEWAY_ENTRIES: readonly WorkerEntry[] = ["snapshot-writer-worker", "journal-worker"];

/**
 * The source directories the digest covers (relative to the root): every module a worker entry may import. The
 * snapshot follower (gateway/snapshot-writer.ts) runs the gateway's views, which encode through schemas/.
 */
export const WORKER_SOURCE_DIRS = ["engine", "gateway", "schemas"] as const;

/** Bundles of older source versions kept in the cache (the newest by mtime); older ones are removed. */
const BUNDLES_KEPT = 4;

const ROOT_DIR = fileURLToPath(new URL("../../", import.meta.url));
const CACHE_DIR = join(ROOT_DIR, "node_modules", ".cache", "crossbook-workers");
const BOOT = new URL("./workers/boot.mjs", import.meta.url);

interface Esbuild {
  version: string;
  buildSync(options: Record<string, unknown>): unknown;
}

let bundleDir: string | null | undefined;

/**
 * The module a worker whose TypeScript entry is `entryHref` (a file URL of engine/pipeline/workers/<name>.ts, passed
 * as workerData.entry) starts from: the bundle's <name>.mjs, or workers/boot.mjs, which registers tsx and imports the
 * entry.
 */
export function workerUrl(entryHref: string): URL {
  let dir = workerBundleDir();
  const name = entryHref.slice(entryHref.lastIndexOf("/") + 1).replace(/\.ts$/, "");
  if (dir === null || !(WORKER_ENTRIES as readonly string[]).includes(name)) return BOOT;
  if (!isComplete(dir)) {
    // Pruned since this process built or found it (another checkout's process sharing node_modules keeps only the
    // newest BUNDLES_KEPT): build it again rather than start a worker from a missing file.
    bundleDir = undefined;
    dir = workerBundleDir();
    if (dir === null) return BOOT;
  }
  return pathToFileURL(join(dir, `${name}.mjs`));
}

/** Flags that preload a module into every thread that inherits them (module hooks and loaders such as `--import tsx`). */
const PRELOAD_FLAGS: readonly string[] = ["--import", "--require", "-r", "--loader", "--experimental-loader"];

/**
 * The execArgv of a worker that starts from `url` (workerUrl): the process's own, less its module preloads when `url`
 * is a bundle module — plain JavaScript that needs no loader, while an inherited `--import tsx` made every worker load
 * tsx and register its hooks first: ~0.15–0.3 s of each boot on this machine, and a restart waits for the engine
 * worker's (engine.ts "X7 restart (as built)"). A worker that boots through tsx (workers/boot.mjs) keeps them all.
 */
export function workerExecArgv(url: URL, execArgv: readonly string[] = process.execArgv): string[] {
  if (url.href === BOOT.href) return [...execArgv];
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const eq = arg.indexOf("=");
    if (!PRELOAD_FLAGS.includes(eq < 0 ? arg : arg.slice(0, eq))) out.push(arg);
    else if (eq < 0) i++; // its value is the next argument
  }
  return out;
}

/** The directory of the current bundle (built on first use in this process), or null when workers run through tsx. */
export function workerBundleDir(): string | null {
  if (bundleDir !== undefined) return bundleDir;
  bundleDir = process.env.CROSSBOOK_WORKERS === "tsx" ? null : buildIfMissing(loadEsbuild());
  return bundleDir;
}

function loadEsbuild(): Esbuild | null {
  try {
    return createRequire(import.meta.url)("esbuild") as Esbuild;
  } catch {
    return null;
  }
}

function buildIfMissing(esbuild: Esbuild | null): string | null {
  if (esbuild === null) return null;
  const dir = join(CACHE_DIR, sourceDigest(esbuild.version, ...WORKER_SOURCE_DIRS.map((d) => join(ROOT_DIR, d))));
  if (isComplete(dir)) return dir;
  mkdirSync(CACHE_DIR, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  esbuild.buildSync({
    entryPoints: Object.fromEntries(WORKER_ENTRIES.map((n) => [n, join(ROOT_DIR, workerEntrySource(n))])),
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    outdir: tmp,
    outExtension: { ".js": ".mjs" },
    logLevel: "error",
  });
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another process put the same bundle there first
  }
  pruneOldBundles(dir);
  return isComplete(dir) ? dir : null;
}

function isComplete(dir: string): boolean {
  try {
    return WORKER_ENTRIES.every((n) => statSync(join(dir, `${n}.mjs`)).isFile());
  } catch {
    return false;
  }
}

/** SHA-256 over esbuild's version and every .ts file under each of `sourceDirs` (path and bytes), in path order. */
export function sourceDigest(esbuildVersion: string, ...sourceDirs: string[]): string {
  const hash = createHash("sha256").update(`esbuild ${esbuildVersion}\n`);
  for (const [k, sourceDir] of sourceDirs.entries()) {
    for (const file of tsFiles(sourceDir)) hash.update(`${k}:${file.slice(sourceDir.length)}\n`).update(readFileSync(file));
  }
  return hash.digest("hex").slice(0, 24);
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(path));
    else if (e.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

function pruneOldBundles(current: string): void {
  let names: string[];
  try {
    names = readdirSync(CACHE_DIR).filter((n) => !n.includes(".tmp-"));
  } catch {
    return;
  }
  const byAge = names
    .map((n) => ({ path: join(CACHE_DIR, n), mtimeMs: statSync(join(CACHE_DIR, n)).mtimeMs }))
    .filter((b) => b.path !== current)
    .sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const b of byAge.slice(BUNDLES_KEPT - 1)) rmSync(b.path, { recursive: true, force: true });
}
