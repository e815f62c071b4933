// `npm run fuzz [-- --steps N] [--seed S] [--episode-steps E] [--risk-shards K] [--matching-shards M] [--stuck-lenders 1]`:
// the liquidation fuzz of test/fuzz/model.ts (with --stuck-lenders 1 every episode also runs test/fuzz/stuck-lenders.ts) for N steps (default 1,000,000) from seed S (default: random, printed), in episodes of E
// steps (default 5,000) on fresh engines. Prints progress every tenth of the run, then the report; exits 1 when an
// invariant failed (each failure names its rule, seed and step: `npm run fuzz -- --seed S --steps N` replays it).
import { formatFuzzReport, runFuzz, type FuzzRunOptions } from "./model.ts";

const USAGE = "usage: npm run fuzz -- [--steps N] [--seed S] [--episode-steps E] [--risk-shards K] [--matching-shards M] [--stuck-lenders 1]";

function parse(argv: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]!;
    const value = Number(argv[i + 1]);
    if (!name.startsWith("--") || !Number.isInteger(value) || value < 0) throw new Error(`${USAGE}\n(bad argument: ${name} ${argv[i + 1] ?? ""})`);
    out.set(name.slice(2), value);
  }
  for (const name of out.keys()) if (!["steps", "seed", "episode-steps", "risk-shards", "matching-shards", "stuck-lenders"].includes(name)) throw new Error(`${USAGE}\n(unknown option --${name})`);
  return out;
}

function main(): void {
  const args = parse(process.argv.slice(2));
  const steps = args.get("steps") ?? 1_000_000;
  const episodeSteps = args.get("episode-steps") ?? 5_000;
  const o: FuzzRunOptions = {
    seed: args.get("seed") ?? Math.floor(Math.random() * 2 ** 31),
    steps,
    episodeSteps: episodeSteps > 0 ? episodeSteps : 5_000,
    topology: { riskShards: args.get("risk-shards") ?? 1, matchingShards: args.get("matching-shards") ?? 1 },
    stuckLenders: (args.get("stuck-lenders") ?? 0) > 0,
  };
  const t = o.topology!;
  const shards = (t.riskShards === 1 && t.matchingShards === 1 ? "" : ` --risk-shards ${t.riskShards} --matching-shards ${t.matchingShards}`) + (o.stuckLenders ? " --stuck-lenders 1" : "");
  console.log(`fuzz: seed ${o.seed}, ${steps} steps (rerun: npm run fuzz -- --seed ${o.seed} --steps ${steps}${shards})`);
  const every = Math.max(1, Math.ceil(steps / o.episodeSteps / 10));
  let done = 0;
  o.onEpisode = (k, seed, stats, failure) => {
    done += stats.steps;
    if (failure !== null) console.log(`  FAILED: ${failure.message}`); // at once: a long run's failures are not held back
    if ((k + 1) % every === 0) console.log(`  … ${done} steps (episode ${k}, seed ${seed}: ${stats.liquidationsStarted} liquidations, ${stats.liquidationFills} liquidation fills)`);
  };
  const result = runFuzz(o);
  for (const line of formatFuzzReport(o, result)) console.log(line);
  process.exitCode = result.failures.length > 0 ? 1 : 0;
}

main();
