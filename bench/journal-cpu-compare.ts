// The engine's CPU on a real command stream: a server's journal (for example one `crossbook start --data DIR` wrote
// under the load harness) replayed through Engine.processJournalBatch in this thread, as recovery and the snapshot
// follower replay it, timed by process CPU per batch. With `--base DIR` (another checkout of the repository) both
// builds replay it in this one process, each reading the journal with its own reader, their batches alternating one
// by one (which goes first swaps each batch), so the machine's load falls on both alike; each prints its state hash
// (equal hashes: the change left the state as it was). `--rounds N` replays it N times (fresh engines each round).
// With `--survivors FILE` (this build alone, run under node --expose-gc) V8's sampling heap profiler records, over the
// second half of the commands, what survived a scavenge (objects a scavenge collected are left out): what the
// young generation copied and promoted (issue 15, fifteenth round), written to FILE (a .heapprofile for DevTools).
//   node --import tsx bench/journal-cpu-compare.ts --data DIR [--base DIR] [--rounds N]
//   node --expose-gc --import tsx bench/journal-cpu-compare.ts --data DIR --survivors FILE
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { pathToFileURL } from "node:url";

interface Batch {
  readonly commands: unknown[];
  readonly count: number;
  readonly batchNumber: number;
}

interface Build {
  readonly label: string;
  /** A fresh engine of this build and the journal's batches as its own reader yields them. */
  start(): { engine: { processJournalBatch(c: unknown[], n: number, sink: unknown, b: number): void; stateHash(): string }; batches: Iterator<Batch> };
  cpuUs: number;
  commands: number;
  hash: string;
}

const DISCARD = { publish: (): void => {} };

async function buildOf(root: string, label: string, dataDir: string): Promise<Build> {
  const pipeline = await import(pathToFileURL(`${root}/engine/pipeline/index.ts`).href);
  const journal = await import(pathToFileURL(`${root}/engine/journal/index.ts`).href);
  const config = pipeline.loadConfig(`${root}/config/default.json`);
  const opts = { configDigestHex: pipeline.configDigest(config) };
  return {
    label,
    start: () => ({
      engine: new pipeline.Engine(config),
      batches: journal.segmentBatches(journal.listSegments(dataDir, null), opts, journal.emptySummary()) as Iterator<Batch>,
    }),
    cpuUs: 0,
    commands: 0,
    hash: "",
  };
}

/** One replay of the journal by every build, batch by batch in turn (fresh engines); their state hashes kept. */
function round(builds: readonly Build[]): void {
  const runs = builds.map((b) => ({ build: b, ...b.start() }));
  for (let k = 0; ; k++) {
    const order = k % 2 === 0 ? runs : [...runs].reverse();
    let done = 0;
    for (const r of order) {
      const next = r.batches.next();
      if (next.done === true) {
        done++;
        continue;
      }
      const b = next.value;
      const t0 = process.cpuUsage();
      r.engine.processJournalBatch(b.commands, b.count, DISCARD, b.batchNumber);
      const d = process.cpuUsage(t0);
      r.build.cpuUs += d.user + d.system;
      r.build.commands += b.count;
    }
    if (done === runs.length) break;
    if (done !== 0) throw new Error("journal-cpu-compare: the builds read different numbers of batches");
  }
  for (const r of runs) r.build.hash = r.engine.stateHash().slice(0, 16);
}

/** --survivors: one replay of this build, sampling what survives the scavenges over the second half of the commands. */
async function survivors(build: Build, file: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("journal-cpu-compare: --survivors needs node --expose-gc");
  let total = 0;
  for (let it = build.start().batches, n = it.next(); n.done !== true; n = it.next()) total += n.value.count;
  const { engine, batches } = build.start();
  const session = new Session();
  session.connect();
  let seen = 0;
  let sampling = false;
  for (let n = batches.next(); n.done !== true; n = batches.next()) {
    if (!sampling && seen >= total / 2) {
      await session.post("HeapProfiler.enable");
      await session.post("HeapProfiler.startSampling", { samplingInterval: 1024, includeObjectsCollectedByMinorGC: false, includeObjectsCollectedByMajorGC: true });
      sampling = true;
    }
    engine.processJournalBatch(n.value.commands, n.value.count, DISCARD, n.value.batchNumber);
    seen += n.value.count;
  }
  gc();
  const { profile } = await session.post("HeapProfiler.stopSampling");
  writeFileSync(file, JSON.stringify(profile));
  console.log(`${build.label}: ${total} commands; survivors of the last ${total - Math.floor(total / 2)} sampled into ${file}; state ${engine.stateHash().slice(0, 16)}`);
}

function arg(args: readonly string[], name: string): string | null {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : null;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const dataDir = arg(args, "--data");
  if (dataDir === null) throw new Error("usage: node --import tsx bench/journal-cpu-compare.ts --data DIR [--base DIR] [--rounds N] [--survivors FILE]");
  const base = arg(args, "--base");
  const rounds = Number(arg(args, "--rounds") ?? 1);
  const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const builds = [await buildOf(here, "new", dataDir)];
  const file = arg(args, "--survivors");
  if (file !== null) return survivors(builds[0]!, file);
  if (base !== null) builds.push(await buildOf(base, "base", dataDir));
  for (let r = 0; r < rounds; r++) round(builds);
  for (const b of builds) console.log(`${b.label}: ${(b.cpuUs / b.commands).toFixed(3)} µs/command over ${b.commands / rounds} commands × ${rounds}; state ${b.hash}`);
  if (builds.length === 2) console.log(`new ÷ base: ${(builds[0]!.cpuUs / builds[1]!.cpuUs).toFixed(3)}`);
}

await main();
