// journal.fsync.* (issue 15): what one durable write costs on this machine's disk, with nothing else in the way — the
// floor of the journal thread's `write` hop (gateway/journal-thread.ts, `--trace-hops`). Four ways, each at 512 B,
// 4 KB, 8 KB and 64 KB, one blocking system call after the other on the main thread of this process:
//   dsync-prealloc  pwrite on an O_DSYNC descriptor into a segment zero-filled and synced ahead (the journal thread's way)
//   dsync-append    pwrite on an O_DSYNC descriptor at the end of the file (each write extends the file's size)
//   fdatasync-prealloc / fdatasync-append  the same pwrite on a plain descriptor, then fdatasync
// The cases alternate write by write (round robin over all sixteen), so a change of the machine's load is shared by
// every case; each case's p50 / p99 / p99.9 come from its own histogram. Files go to the system's temp directory —
// the directory `crossbook load` gives the server it spawns.
import { closeSync, constants as fsConstants, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as hdr from "hdr-histogram-js";
import type { BenchDef, BenchResult } from "./harness.ts";

const SIZES = [512, 4096, 8192, 65_536] as const;
const WAYS = ["dsync-prealloc", "dsync-append", "fdatasync-prealloc", "fdatasync-append"] as const;
/** Writes per case. */
const WRITES = 400;
/** Writes per case before the timing (the first writes into a new file pay for its first blocks). */
const WARMUP_WRITES = 20;

type Way = (typeof WAYS)[number];

interface Case {
  readonly way: Way;
  readonly bytes: number;
  readonly fd: number;
  readonly histogram: hdr.Histogram;
  position: number;
}

/** A file for one case: preallocated ones zero-filled (and synced) far enough for every write of the case. */
function openCase(dir: string, way: Way, bytes: number): Case {
  const path = join(dir, `${way}-${bytes}`);
  const dsync = way.startsWith("dsync");
  const fd = openSync(path, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL | (dsync ? fsConstants.O_DSYNC : 0), 0o600);
  if (way.endsWith("prealloc")) {
    const zeros = new Uint8Array(1 << 20);
    const end = (WRITES + WARMUP_WRITES) * bytes;
    const plain = openSync(path, fsConstants.O_RDWR);
    for (let at = 0; at < end; ) at += writeSync(plain, zeros, 0, Math.min(zeros.length, end - at), at);
    fdatasyncSync(plain);
    closeSync(plain);
  }
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: 3 });
  return { way, bytes, fd, histogram, position: 0 };
}

/** One durable write of the case: its time in µs. */
function writeOnce(c: Case, payload: Uint8Array): number {
  const t0 = process.hrtime.bigint();
  writeSync(c.fd, payload, 0, c.bytes, c.position);
  if (c.way.startsWith("fdatasync")) fdatasyncSync(c.fd);
  const us = Number(process.hrtime.bigint() - t0) / 1000;
  c.position += c.bytes;
  return us;
}

let run: Promise<Map<string, Case>> | null = null;

function measure(): Promise<Map<string, Case>> {
  run ??= Promise.resolve().then(() => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-fsync-"));
    const cases = new Map<string, Case>();
    try {
      for (const way of WAYS) for (const bytes of SIZES) cases.set(`${way}.${bytes}`, openCase(dir, way, bytes));
      const payload = new Uint8Array(SIZES[SIZES.length - 1]!).fill(0x5a);
      for (let i = 0; i < WARMUP_WRITES + WRITES; i++) {
        for (const c of cases.values()) {
          const us = writeOnce(c, payload);
          if (i >= WARMUP_WRITES) c.histogram.recordValue(Math.max(1, Math.round(us)));
        }
      }
    } finally {
      for (const c of cases.values()) closeSync(c.fd);
      rmSync(dir, { recursive: true, force: true });
    }
    return cases;
  });
  return run;
}

function sizeName(bytes: number): string {
  return bytes >= 1024 ? `${bytes / 1024}k` : `${bytes}`;
}

function bench(way: Way, bytes: number): BenchDef {
  return {
    id: `journal.fsync.${way}.${sizeName(bytes)}`,
    kind: "custom",
    run: async (): Promise<BenchResult> => {
      const c = (await measure()).get(`${way}.${bytes}`)!;
      const h = c.histogram;
      return {
        id: "",
        opsPerSec: 1e6 / h.mean,
        meanNs: h.mean * 1000,
        p50Ns: h.getValueAtPercentile(50) * 1000,
        p99Ns: h.getValueAtPercentile(99) * 1000,
        p999Ns: h.getValueAtPercentile(99.9) * 1000,
        notes: `${WRITES} durable writes of ${bytes} B, round robin with the other 15 cases; max ${(h.maxValue / 1000).toFixed(2)} ms`,
      };
    },
  };
}

export const benchmarks: BenchDef[] = WAYS.flatMap((way) => SIZES.map((bytes) => bench(way, bytes)));
