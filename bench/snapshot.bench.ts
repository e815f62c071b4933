// Snapshot encoding and decoding (issue 14, X7) on the state: 100,000 funded accounts and 200,000 resting
// orders (bench/snapshot-state.ts). `snapshot.encode`: Engine.snapshot() — every stage writes its part, the payload is
// checksummed; the notes split it into the stages' own writes (what one stage thread stalls for in the threaded
// engine) and the stage digests the threaded snapshot also reports. `snapshot.decode`: Engine.fromSnapshot() — verify,
// split and restore every stage. Each is timed a bounded number of times (count and time).
import { SnapshotWriter } from "../engine/model/index.ts";
import { Engine, loadConfig } from "../engine/pipeline/index.ts";
import { resultFromSamplesNs, type BenchDef, type BenchResult } from "./harness.ts";
import { buildSnapshotState, SNAPSHOT_BENCH_SHAPE } from "./snapshot-state.ts";

const RUNS_MAX = 8;
/** Restores are slower (they allocate the whole state): fewer of them. */
const DECODE_RUNS_MAX = 3;
const TIME_MS_MAX = 60_000;

let built: { engine: Engine; buildMs: number } | null = null;

function state(): { engine: Engine; buildMs: number } {
  if (built === null) {
    const t0 = performance.now();
    const engine = buildSnapshotState(loadConfig());
    built = { engine, buildMs: performance.now() - t0 };
  }
  return built;
}

/** Times `fn` up to `runs` times within TIME_MS_MAX (after one untimed warm-up run); ns per run. */
function timeRuns(fn: () => void, runs = RUNS_MAX): Float64Array {
  fn();
  const samples: number[] = [];
  const deadline = performance.now() + TIME_MS_MAX;
  while (samples.length < runs && performance.now() < deadline) {
    const t0 = process.hrtime.bigint();
    fn();
    samples.push(Number(process.hrtime.bigint() - t0));
  }
  return Float64Array.from(samples);
}

function medianMs(samples: Float64Array): string {
  const sorted = Float64Array.from(samples).sort();
  return (sorted[sorted.length >> 1]! / 1e6).toFixed(1);
}

async function encode(): Promise<BenchResult> {
  const { engine, buildMs } = state();
  let bytes = 0;
  const whole = timeRuns(() => {
    bytes = engine.snapshot().length;
  });
  const risk = timeRuns(() => engine.risk[0]!.writeSnapshot(new SnapshotWriter(1 << 20)));
  const matching = timeRuns(() => engine.matching[0]!.writeSnapshot(new SnapshotWriter(1 << 20)));
  const riskHash = timeRuns(() => engine.risk[0]!.stateHash());
  const matchingHash = timeRuns(() => engine.matching[0]!.stateHash());
  const { accounts, restingOrders } = SNAPSHOT_BENCH_SHAPE;
  const notes =
    `${accounts} accounts, ${restingOrders} resting orders (built in ${(buildMs / 1000).toFixed(1)} s); ${bytes} bytes; ` +
    `median ms: risk part ${medianMs(risk)}, matching part ${medianMs(matching)}; stage digests (threaded snapshot): ` +
    `risk ${medianMs(riskHash)}, matching ${medianMs(matchingHash)}`;
  return resultFromSamplesNs("snapshot.encode", whole, notes);
}

async function decode(): Promise<BenchResult> {
  const { engine } = state();
  const config = engine.config;
  const bytes = engine.snapshot();
  const expected = engine.stateHash();
  // As in a restart, the restored engine is the only state on the heap: the built one is let go first.
  built = null;
  let restored: Engine | null = null;
  const runs = timeRuns(() => {
    restored = null;
    restored = Engine.fromSnapshot(config, bytes);
  }, DECODE_RUNS_MAX);
  if (restored === null || (restored as Engine).stateHash() !== expected) throw new Error("snapshot.decode: the restored engine differs");
  return resultFromSamplesNs("snapshot.decode", runs, `Engine.fromSnapshot of ${bytes.length} bytes (verify, split, restore every stage), the built state released first`);
}

export const benchmarks: BenchDef[] = [
  { id: "snapshot.encode", kind: "custom", run: encode },
  { id: "snapshot.decode", kind: "custom", run: decode },
];
