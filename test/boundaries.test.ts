// The rooms of engine/ (DESIGN "The shape"), enforced by reading every import under engine/: a failure names the
// importing file, the specifier, the file it resolves to, and the rule it breaks. Specifiers are read with the
// TypeScript scanner (ts.preProcessFile: static imports, re-exports, dynamic import()), so comments and strings that
// merely look like imports are not counted.
import { builtinModules } from "node:module";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Domain folders: the vocabulary, the pure rules and the stages. No wiring, no I/O. */
const DOMAIN = ["model", "fixed", "collections", "lending", "perps", "liquidation", "matching", "risk", "settlement"];
/** What domain code may never import: the wiring, the log, the rings, the server (and node:* builtins, below). */
const WIRING = ["engine/pipeline", "engine/journal", "engine/ring", "gateway"];
/** Pure folders: rules as functions of their inputs. They import only the vocabulary, fixed point and collections. */
const PURE = ["fixed", "lending", "risk/margin", "perps", "liquidation"];
const PURE_MAY_IMPORT = ["engine/model", "engine/fixed", "engine/collections"];
/** Stages (one worker kind each): none imports another; they talk through records on rings. */
const STAGES = ["matching", "risk", "settlement"];


interface Import {
  /** Importing file, relative to the repository root with forward slashes. */
  file: string;
  specifier: string;
  /** The file it names (repository-relative), or null for a package or builtin. */
  target: string | null;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|mjs|js)$/.test(entry.name)) out.push(path);
  }
  return out.sort();
}

function repoPath(absolute: string): string {
  return relative(ROOT, absolute).split(sep).join("/");
}

function importsOf(absolute: string): Import[] {
  const info = ts.preProcessFile(readFileSync(absolute, "utf8"), true, true);
  const file = repoPath(absolute);
  return info.importedFiles.map(({ fileName: specifier }) => ({
    file,
    specifier,
    target: specifier.startsWith(".") ? repoPath(resolve(dirname(absolute), specifier)) : null,
  }));
}

/** Every import of every source file under engine/ (or under `root`, for the self-test). */
function engineImports(root = join(ROOT, "engine")): Import[] {
  return sourceFiles(root).flatMap(importsOf);
}

/** The folder of `path` under engine/ that `folders` lists (longest first: risk/margin before risk), or null. */
function folderOf(path: string, folders: readonly string[]): string | null {
  let best: string | null = null;
  for (const f of folders) {
    if (path.startsWith(`engine/${f}/`) && (best === null || f.length > best.length)) best = f;
  }
  return best;
}

function within(path: string, dirs: readonly string[]): boolean {
  return dirs.some((d) => path === d || path.startsWith(`${d}/`));
}

function isBuiltin(specifier: string): boolean {
  return specifier.startsWith("node:") || builtinModules.includes(specifier.split("/")[0]!);
}

function describeImport(i: Import, rule: string): string {
  return `${i.file} imports "${i.specifier}"${i.target !== null ? ` (${i.target})` : ""}: ${rule}`;
}

/** Rule 1: domain code imports no wiring (pipeline, journal, ring, gateway) and no node:* builtin. */
function domainViolations(imports: readonly Import[]): string[] {
  const out: string[] = [];
  for (const i of imports) {
    const folder = folderOf(i.file, DOMAIN);
    if (folder === null) continue;
    if (isBuiltin(i.specifier)) out.push(describeImport(i, `domain code (engine/${folder}) imports a node builtin`));
    else if (i.target !== null && within(i.target, WIRING)) {
      out.push(describeImport(i, `domain code (engine/${folder}) imports the wiring (${WIRING.join(", ")})`));
    }
  }
  return out;
}

/** Rule 2: a pure folder imports its own files, the vocabulary, fixed point and collections — nothing else. */
function pureViolations(imports: readonly Import[]): string[] {
  const out: string[] = [];
  for (const i of imports) {
    const folder = folderOf(i.file, PURE);
    if (folder === null) continue;
    const allowed = i.target !== null && within(i.target, [`engine/${folder}`, ...PURE_MAY_IMPORT]);
    if (!allowed) {
      out.push(describeImport(i, `pure folder engine/${folder} may import only ${PURE_MAY_IMPORT.join(", ")}`));
    }
  }
  return out;
}

/** Rule 3: no stage (matching, risk, settlement) imports another stage. */
function stageViolations(imports: readonly Import[]): string[] {
  const out: string[] = [];
  for (const i of imports) {
    const from = folderOf(i.file, STAGES);
    const to = i.target === null ? null : folderOf(i.target, STAGES);
    if (from !== null && to !== null && from !== to) {
      out.push(describeImport(i, `stage engine/${from} imports stage engine/${to}`));
    }
  }
  return out;
}

/** The module a repository path belongs to: its deepest folder under engine/ that has an index.ts (its public face). */
function moduleOf(path: string): string {
  let dir = dirname(path);
  while (dir.startsWith("engine/") && !existsSync(join(ROOT, dir, "index.ts"))) dir = dirname(dir);
  return dir;
}

/**
 * Rule 4: a file reaches another module only through its index.ts. A module is a folder with an index.ts (every
 * folder directly under engine/ is one; a sub-folder without one, like pipeline/workers, is private to its parent).
 * Its own module and the modules above it are not "another"; a sibling or a sub-module is (risk/shard.ts imports
 * ./margin/index.ts, not ./margin/solvers.ts).
 */
function indexViolations(imports: readonly Import[]): string[] {
  const out: string[] = [];
  for (const i of imports) {
    if (i.target === null) continue;
    const from = moduleOf(i.file);
    const to = moduleOf(i.target);
    const ownOrAbove = from === to || from.startsWith(`${to}/`);
    if (!ownOrAbove && i.target !== `${to}/index.ts`) out.push(describeImport(i, `reaches past ${to}/index.ts`));
  }
  return out;
}

describe("engine boundaries (DESIGN: the rooms of engine/)", () => {
  const imports = engineImports();

  it("reads the imports of every engine file (the scanner finds them)", () => {
    const holds = imports.filter((i) => i.file === "engine/risk/holds.ts").map((i) => i.target);
    expect(holds).toContain("engine/collections/index.ts");
    expect(imports.length).toBeGreaterThan(200);
  });

  it("domain code imports no pipeline, journal, ring, gateway or node:* module", () => {
    expect(domainViolations(imports)).toEqual([]);
  });

  it("pure folders (fixed, lending, risk/margin, perps, liquidation) import only model, fixed and collections", () => {
    expect(pureViolations(imports)).toEqual([]);
  });

  it("no stage (matching, risk, settlement) imports another", () => {
    expect(stageViolations(imports)).toEqual([]);
  });

  it("every folder directly under engine/ has an index.ts (its public face)", () => {
    const folders = readdirSync(join(ROOT, "engine"), { withFileTypes: true }).filter((e) => e.isDirectory());
    expect(folders.filter((f) => !existsSync(join(ROOT, "engine", f.name, "index.ts"))).map((f) => f.name)).toEqual([]);
  });

  it("no file reaches past another folder's index.ts", () => {
    expect(indexViolations(imports)).toEqual([]);
  });


  it("each rule catches a bad import (the checks are not vacuous)", () => {
    const bad = (file: string, specifier: string): Import => ({
      file,
      specifier,
      target: specifier.startsWith(".") ? repoPath(resolve(ROOT, dirname(file), specifier)) : null,
    });
    expect(domainViolations([bad("engine/risk/x.ts", "node:fs"), bad("engine/matching/x.ts", "../pipeline/index.ts")])).toEqual([
      'engine/risk/x.ts imports "node:fs": domain code (engine/risk) imports a node builtin',
      'engine/matching/x.ts imports "../pipeline/index.ts" (engine/pipeline/index.ts): domain code (engine/matching) imports the wiring (engine/pipeline, engine/journal, engine/ring, gateway)',
    ]);
    expect(pureViolations([bad("engine/risk/margin/x.ts", "../accounts.ts"), bad("engine/perps/x.ts", "../fixed/index.ts")])).toEqual([
      'engine/risk/margin/x.ts imports "../accounts.ts" (engine/risk/accounts.ts): pure folder engine/risk/margin may import only engine/model, engine/fixed, engine/collections',
    ]);
    expect(stageViolations([bad("engine/risk/x.ts", "../matching/index.ts"), bad("engine/risk/x.ts", "./margin/index.ts")])).toEqual([
      'engine/risk/x.ts imports "../matching/index.ts" (engine/matching/index.ts): stage engine/risk imports stage engine/matching',
    ]);
    expect(
      indexViolations([
        bad("engine/risk/x.ts", "./margin/solvers.ts"),
        bad("engine/journal/x.ts", "../pipeline/workers/protocol.ts"),
        bad("engine/risk/margin/x.ts", "../../model/index.ts"),
        bad("engine/risk/x.ts", "./holds.ts"),
        bad("engine/pipeline/x.ts", "./workers/protocol.ts"),
      ]),
    ).toEqual([
      'engine/risk/x.ts imports "./margin/solvers.ts" (engine/risk/margin/solvers.ts): reaches past engine/risk/margin/index.ts',
      'engine/journal/x.ts imports "../pipeline/workers/protocol.ts" (engine/pipeline/workers/protocol.ts): reaches past engine/pipeline/index.ts',
    ]);
  });
});
