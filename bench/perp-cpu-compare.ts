// Issue 12's in-process compare of pipeline.perp-order against pipeline.spot-order: the bench's exact pair streams
// (a maker's GTC sell rests, a funded taker's IOC buy fills it; 100 takers, 100 makers; batches of
// BATCH_COMMANDS_MAX) through Engine.processBatch in this thread, timed by process CPU per batch. With `--base DIR`
// (another checkout of the repository) both builds run in this one process, their batches alternating one by one
// (which goes first swaps each batch), so the machine's load falls on both alike. With `--events` each build also
// hashes every event record but the Position events (whose count P1 position reports changed), and it prints its
// final state hash: equal digests mean the change gave byte-identical events otherwise (timings are then the hash's).
// The Position events are hashed apart ("positions" digest): equal means the P1 reports are byte-identical too.
//   node --import tsx bench/perp-cpu-compare.ts [--base DIR] [--perp-only | --modes perp,margin,spot] [--events]
// (`--modes` picks the pair streams: pipeline.margin-order's is "margin".)
// Prints, per build and mode, the CPU per command (mean over the measured batches) and the digests.
import { createHash } from "node:crypto";
import { pathToFileURL } from "node:url";
import { CommandRecord, type EventRecord } from "../engine/model/index.ts";
import { PAIR_WARMUP, pairStream } from "./pair-stream.ts";

const BATCH = 1024;

type Mode = "spot" | "perp" | "margin";
const MODES: readonly Mode[] = ["spot", "perp", "margin"];

/** pair-stream.ts's commands (the pipeline bench's), each its own record. */
function pairCommands(mode: Mode): { setup: CommandRecord[]; commands: CommandRecord[] } {
  const commands: CommandRecord[] = [];
  const setup = pairStream(mode, (c) => {
    const copy = new CommandRecord();
    copy.copyFrom(c);
    commands.push(copy);
  });
  return { setup, commands };
}

interface EngineLike {
  processBatch(cmds: readonly CommandRecord[], count: number, sink: { publish(e: EventRecord): void }): void;
  stateHash(): string;
}

interface Run {
  readonly label: string;
  readonly engine: EngineLike;
  readonly stream: { setup: CommandRecord[]; commands: CommandRecord[] };
  readonly sink: { publish(e: EventRecord): void };
  readonly hash: ReturnType<typeof createHash> | null;
  readonly positionHash: ReturnType<typeof createHash> | null;
  cpuUs: number;
  events: number;
  positions: number;
}

async function makeRun(root: string, label: string, mode: Mode, hashEvents: boolean): Promise<Run> {
  const mod = await import(pathToFileURL(`${root}/engine/pipeline/index.ts`).href);
  const engine = new mod.Engine(mod.loadConfig(`${root}/config/default.json`)) as EngineLike;
  const hash = hashEvents ? createHash("sha256") : null;
  const positionHash = hashEvents ? createHash("sha256") : null;
  const run: Run = { label: `${label} ${mode}`, engine, stream: pairCommands(mode), hash, positionHash, cpuUs: 0, events: 0, positions: 0, sink: { publish: () => {} } };
  (run as { sink: Run["sink"] }).sink = {
    publish(e: EventRecord): void {
      run.events++;
      if (e.kind === 24) run.positions++; // EventKind.Position
      // Position events are left out of the digest: their count is what "P1 position reports" changed by design.
      // They have their own digest (the same reports since then).
      if (hash === null) return;
      const text = JSON.stringify(e, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
      if (e.kind !== 24) hash.update(text);
      else positionHash!.update(text);
    },
  };
  for (const c of run.stream.setup) engine.processBatch([c], 1, run.sink);
  return run;
}

function batchOf(run: Run, from: number): void {
  const cmds = run.stream.commands;
  const to = Math.min(cmds.length, from + BATCH);
  // A fresh array per batch: processBatch reads records R1 passed on in place until it returns.
  run.engine.processBatch(cmds.slice(from, to), to - from, run.sink);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const base = args.includes("--base") ? args[args.indexOf("--base") + 1]! : null;
  const hashEvents = args.includes("--events");
  const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const runs: Run[] = [];
  const listed = args.includes("--modes") ? args[args.indexOf("--modes") + 1]!.split(",") : null;
  if (listed !== null && !listed.every((m) => (MODES as readonly string[]).includes(m))) throw new Error(`--modes: each of ${MODES.join(", ")}`);
  const modes: Mode[] = listed !== null ? (listed as Mode[]) : args.includes("--perp-only") ? ["perp"] : ["perp", "spot"];
  for (const mode of modes) {
    runs.push(await makeRun(here, "new", mode, hashEvents));
    if (base !== null) runs.push(await makeRun(base, "base", mode, hashEvents));
  }
  const total = runs[0]!.stream.commands.length;
  let flip = false;
  for (let from = 0; from < total; from += BATCH) {
    const order = flip ? [...runs].reverse() : runs;
    flip = !flip;
    for (const r of order) {
      const t0 = process.cpuUsage();
      batchOf(r, from);
      const d = process.cpuUsage(t0);
      if (from >= PAIR_WARMUP) r.cpuUs += d.user + d.system;
    }
  }
  const measured = total - PAIR_WARMUP;
  for (const r of runs) {
    const digest = r.hash === null ? "" : ` events ${r.hash.digest("hex").slice(0, 16)} positions ${r.positionHash!.digest("hex").slice(0, 16)}`;
    console.log(`${r.label}: ${(r.cpuUs / measured).toFixed(2)} µs/command; ${r.events} events (${r.positions} Position); state ${r.engine.stateHash().slice(0, 16)}${digest}`);
  }
}

await main();
