// Issue 12 (P5S), standalone: what a scavenge costs with ~0.7 GB of old objects holding bigint fields, by what the
// "batches" do between scavenges. Not a benchmark (not discovered by bench/run.ts); run by hand:
//   node --expose-gc [V8 flags] bench/scavenge-experiment.mjs MODE [accounts]
// MODE: a = young garbage only (bigints made and dropped); b = the same, plus fresh bigints stored into 16 old
// records per batch (the pass's pattern); c = the same values stored into a BigInt64Array column instead;
// f = into a Float64Array column (Number); p = the old heap as pointer-free double arrays, young garbage only;
// n = no old heap (the same bytes in ArrayBuffers), young garbage only.
// Prints the minor GCs' durations (PerformanceObserver 'gc', kind minor): count, median, p99, max, and the time
// of the run.
import { PerformanceObserver, constants } from "node:perf_hooks";
import { getHeapStatistics } from "node:v8";

const mode = process.argv[2] ?? "a";
const ACCOUNTS = Number(process.argv[3] ?? 100_000);
const SLOTS = 60; // small arrays per account (the margin state's shape)
const BATCHES = 20_000;
const HOLDERS_PER_BATCH = 16;
const YOUNG_BIGINTS_PER_HOLDER = 200; // ~5 kB of young bigints a holder (24–32 B each)

class Position {
  constructor(i) {
    this.netQuantity = BigInt(i) * 1_000_000n;
    this.costBasis = BigInt(i) * 60_000_000_000_000n;
    this.openCostBasis = this.costBasis;
    this.realizedPnl = BigInt(i);
    this.feesPaid = 7n * BigInt(i);
    this.fundingPaid = 3n * BigInt(i);
    this.cumulativeFees = this.feesPaid;
    this.cumulativeFundingPayment = this.fundingPaid;
  }
}

function makeAccount(i) {
  const slots = new Array(SLOTS);
  for (let s = 0; s < SLOTS; s++) slots[s] = [BigInt(i * SLOTS + s) << 40n, BigInt(s) << 50n, BigInt(i) << 45n, BigInt(s + i)];
  const positions = [];
  for (let m = 0; m < 6; m++) positions.push(new Position(i + m));
  return { id: i, slots, positions, balance: BigInt(i) * 1_000_000n };
}

let old = [];
let buffers = [];
if (mode === "n") {
  for (let i = 0; i < 700; i++) buffers.push(new ArrayBuffer(1 << 20));
} else if (mode === "p") {
  // the same bytes (~12.6 kB an account) as pointer-free arrays of doubles on V8's old pages
  for (let i = 0; i < ACCOUNTS; i++) old.push(new Array(1570).fill(i + 0.5));
} else {
  for (let i = 0; i < ACCOUNTS; i++) old.push(makeAccount(i));
}
const colBig = new BigInt64Array(ACCOUNTS * 6);
const colF64 = new Float64Array(ACCOUNTS * 6);
globalThis.gc();
globalThis.gc();
const heapMb = (getHeapStatistics().used_heap_size / 1e6).toFixed(0);

const minor = [];
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minor.push(e.duration);
});
obs.observe({ entryTypes: ["gc"] });

let sink = 0n;
let seed = 12345;
function rnd(n) {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
}

const t0 = performance.now();
for (let b = 0; b < BATCHES; b++) {
  for (let h = 0; h < HOLDERS_PER_BATCH; h++) {
    let x = BigInt(b * HOLDERS_PER_BATCH + h) << 33n;
    for (let k = 0; k < YOUNG_BIGINTS_PER_HOLDER; k++) x = (x * 3n + 7n) % 1_000_000_000_000_000_007n; // young, dropped
    sink ^= x;
    if (mode === "a" || mode === "n" || mode === "p") continue;
    const i = rnd(ACCOUNTS);
    const m = i % 6;
    if (mode === "b") {
      const p = old[i].positions[m];
      p.costBasis = x; // a fresh bigint into an old record: an old-to-new slot, then a promotion
      p.realizedPnl = p.realizedPnl + 1n;
      old[i].balance = old[i].balance + 1n;
      old[i].slots[h % SLOTS][0] = x + 1n;
    } else if (mode === "c") {
      colBig[i * 6 + m] = x;
      colBig[(i * 6 + m + 1) % colBig.length] += 1n;
    } else if (mode === "f") {
      colF64[i * 6 + m] = Number(x & 0xfffffffffffffn);
      colF64[(i * 6 + m + 1) % colF64.length] += 1;
    }
  }
}
const ms = performance.now() - t0;
await new Promise((r) => setTimeout(r, 50));
obs.disconnect();
const s = Float64Array.from(minor).sort();
const q = (p) => (s.length ? s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)].toFixed(2) : "-");
console.log(
  `mode ${mode} flags [${process.execArgv.join(" ")}] heap ${heapMb} MB: ${s.length} scavenges, median ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms; run ${ms.toFixed(0)} ms (sink ${sink & 1n})`,
);
