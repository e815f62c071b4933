// The pipeline's workers start from an esbuild bundle of their TypeScript entries (engine/pipeline/worker-bundle.ts),
// built once per version of the engine's sources: these tests hold the bundle to the sources it was built from.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { sourceDigest, WORKER_ENTRIES, WORKER_SOURCE_DIRS, workerBundleDir, workerEntrySource, workerExecArgv, workerUrl } from "../engine/pipeline/worker-bundle.ts";

const WORKERS = new URL("../engine/pipeline/workers/", import.meta.url);

describe("worker bundle (X4: the workers run the engine's current sources)", () => {
  it("every pipeline worker entry maps to its module in the bundle of this source version; anything else boots through tsx", () => {
    const dir = workerBundleDir();
    expect(dir).not.toBeNull();
    expect(dir!).toContain(join("node_modules", ".cache", "crossbook-workers"));
    for (const name of WORKER_ENTRIES) {
      const url = workerUrl(new URL(`${name}.ts`, WORKERS).href);
      expect(fileURLToPath(url)).toBe(join(dir!, `${name}.mjs`));
      expect(existsSync(url)).toBe(true);
    }
    expect(workerUrl(new URL("not-a-worker.ts", WORKERS).href).href).toBe(new URL("boot.mjs", WORKERS).href);
  });

  it("X7: a bundle worker inherits the process's flags but not its module preloads (--import tsx and the like); a tsx-booted worker keeps them all", () => {
    const execArgv = ["--import", "tsx", "--cpu-prof", "--import=./other.mjs", "--require", "x.cjs", "-r", "y.cjs", "--loader=z.mjs", "--experimental-loader", "w.mjs", "--max-old-space-size=4096", "--conditions=dev"];
    const bundled = workerUrl(new URL("engine-worker.ts", WORKERS).href);
    expect(workerExecArgv(bundled, execArgv)).toEqual(["--cpu-prof", "--max-old-space-size=4096", "--conditions=dev"]);
    const booted = workerUrl(new URL("not-a-worker.ts", WORKERS).href);
    expect(workerExecArgv(booted, execArgv)).toEqual(execArgv);
  });

  it("every source the bundle holds is under engine/, gateway/ or schemas/ (what the digest covers) or a package", async () => {
    const esbuild = await import("esbuild");
    const root = fileURLToPath(new URL("../", import.meta.url));
    const r = esbuild.buildSync({
      entryPoints: WORKER_ENTRIES.map((n) => join(root, workerEntrySource(n))),
      bundle: true, splitting: true, format: "esm", platform: "node", outdir: join(tmpdir(), "crossbook-bundle-check"),
      metafile: true, write: false, absWorkingDir: root, logLevel: "error",
    });
    // Packages may resolve through a symlinked node_modules (a worktree's points at another checkout's).
    const covered = WORKER_SOURCE_DIRS.map((d) => `${d}/`);
    const outside = Object.keys(r.metafile!.inputs).filter((p) => !covered.some((d) => p.startsWith(d)) && !p.includes("node_modules/"));
    expect(outside).toEqual([]);
  });

  it("the digest changes with any source file's bytes, a new file or esbuild's version, and with nothing else", () => {
    const src = mkdtempSync(join(tmpdir(), "crossbook-digest-"));
    try {
      mkdirSync(join(src, "risk"));
      writeFileSync(join(src, "a.ts"), "export const a = 1;\n");
      writeFileSync(join(src, "risk", "b.ts"), "export const b = 2;\n");
      writeFileSync(join(src, "notes.md"), "not a source\n");
      const first = sourceDigest("0.28.2", src);
      expect(sourceDigest("0.28.2", src)).toBe(first);
      writeFileSync(join(src, "notes.md"), "edited, still not a source\n");
      expect(sourceDigest("0.28.2", src)).toBe(first);
      writeFileSync(join(src, "risk", "b.ts"), "export const b = 3;\n");
      const edited = sourceDigest("0.28.2", src);
      expect(edited).not.toBe(first);
      writeFileSync(join(src, "risk", "c.ts"), "");
      const added = sourceDigest("0.28.2", src);
      expect(added).not.toBe(edited);
      expect(sourceDigest("0.28.3", src)).not.toBe(added);
      expect(added).toMatch(/^[0-9a-f]{24}$/);
    } finally {
      rmSync(src, { recursive: true, force: true });
    }
  });
});
