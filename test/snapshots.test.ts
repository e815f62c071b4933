// Snapshot files (X7): atomic, checksummed, versioned, owner-only; a damaged or mismatched snapshot is skipped with
// its reason and the one before it is used; SIGKILL at any point of a write leaves the previous snapshot usable; the
// default schedule's count trigger.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { listSnapshots, readSnapshot, snapshotFileName, SNAPSHOT_FORMAT_VERSION, validSnapshots, writeSnapshot, type SnapshotMeta } from "../engine/journal/snapshots.ts";
import { SNAPSHOT_POLICY_DEFAULT, SnapshotScheduler, type TakenSnapshot } from "../gateway/snapshots.ts";

const DIGEST = "cd".repeat(32);
const EXPECT = { configDigestHex: DIGEST, riskShards: 1, matchingShards: 1 };

function meta(seq: number, over: Partial<SnapshotMeta> = {}): SnapshotMeta {
  return { seq, batch: seq * 10, configDigestHex: DIGEST, stateHash: "ef".repeat(32), riskShards: 1, matchingShards: 1, ...over };
}

function payloadOf(seq: number, bytes = 1000): Uint8Array {
  return Uint8Array.from({ length: bytes }, (_, i) => (i * 7 + seq) & 0xff);
}

async function usable(dir: string): Promise<{ seqs: number[]; skipped: string[] }> {
  const seqs: number[] = [];
  const skipped: string[] = [];
  for await (const s of validSnapshots(dir, EXPECT, (path, reason) => skipped.push(`${path.slice(dir.length + 1)}: ${reason}`))) seqs.push(s.seq);
  return { seqs, skipped };
}

/** A snapshot directory with snapshots 10 and 20, one payload bit of 20 (the newest) flipped. */
async function damagedNewest(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "crossbook-snap-"));
  await writeSnapshot(dir, meta(10), payloadOf(10), 3);
  const { path } = await writeSnapshot(dir, meta(20), payloadOf(20), 3);
  const bytes = readFileSync(path);
  bytes[192 + 500] ^= 0x04;
  writeFileSync(path, bytes);
  return dir;
}

describe("snapshot files (X7)", () => {
  it("X7: a snapshot round-trips its header fields and payload, is named by its sequence number and is owner-only", async () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-snap-"));
    const { path, bytes } = await writeSnapshot(dir, meta(1234, { stateHash: "01".repeat(32) }), payloadOf(1), 3);
    expect(path).toBe(join(dir, "snapshot-0000000000001234.snap"));
    expect(bytes).toBe(192 + 1000);
    expect(statSync(path).size).toBe(1192);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const r = await readSnapshot(path, EXPECT);
    if ("error" in r) throw new Error(r.error);
    expect([r.seq, r.batch, r.stateHash, r.riskShards, r.matchingShards]).toEqual([1234, 12340, "01".repeat(32), 1, 1]);
    expect(Buffer.from(r.payload).equals(Buffer.from(payloadOf(1)))).toBe(true);
  });

  it("X7: the newest `keep` snapshots stay, older ones and leftover temp files go", async () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-snap-"));
    writeFileSync(join(dir, ".snapshot-99.tmp"), "a write that was killed");
    for (const seq of [10, 20, 30, 40]) await writeSnapshot(dir, meta(seq), payloadOf(seq), 2);
    expect(readdirSync(dir).sort()).toEqual([snapshotFileName(30), snapshotFileName(40)]);
    expect(listSnapshots(dir).map((s) => s.seq)).toEqual([40, 30]);
  });

  it("X7: a damaged newest snapshot (one flipped payload bit) is skipped with its reason; the previous one is used", async () => {
    const dir = await damagedNewest();
    expect(await usable(dir)).toEqual({ seqs: [10], skipped: [`${snapshotFileName(20)}: checksum mismatch (damaged file)`] });
  });

  it("X7: read with checksumLater (a restart), a file comes back before its SHA-256 is known and its checksum then names the damage", async () => {
    const dir = await damagedNewest();
    const files: { seq: number; checksum: string | null | undefined }[] = [];
    for await (const s of validSnapshots(dir, EXPECT, () => {}, true)) files.push({ seq: s.seq, checksum: await s.checksum });
    expect(files).toEqual([{ seq: 20, checksum: "checksum mismatch (damaged file)" }, { seq: 10, checksum: null }]);
    // Read the ordinary way, the damaged one is never returned, and a returned file carries no pending checksum.
    const newest = await readSnapshot(join(dir, snapshotFileName(10)), EXPECT);
    expect("checksum" in newest).toBe(false);
  });

  it("X7: by default a snapshot is due once 250,000 commands were sequenced since the last (SNAPSHOT_POLICY_DEFAULT, gateway/snapshots.ts)", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    try {
      let sequenced = 1_000;
      const taken: number[] = [];
      const take = async (): Promise<TakenSnapshot> => {
        taken.push(sequenced);
        return { seq: sequenced, batch: 1, stateHash: "", path: "", bytes: 0, captureMs: 0, totalMs: 0 };
      };
      const scheduler = new SnapshotScheduler(SNAPSHOT_POLICY_DEFAULT, take, () => sequenced, () => {}, 1_000);
      scheduler.start();
      sequenced = 1_000 + 249_999;
      await vi.advanceTimersByTimeAsync(1_000);
      expect(taken).toEqual([]);
      sequenced = 1_000 + 250_000;
      await vi.advanceTimersByTimeAsync(1_000);
      expect(taken).toEqual([251_000]);
      await scheduler.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it("X7: snapshots of another config, another topology, an unknown format version or cut short are skipped with their reason", async () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-snap-"));
    await writeSnapshot(dir, meta(10), payloadOf(10), 9);
    await writeSnapshot(dir, meta(20, { configDigestHex: "aa".repeat(32) }), payloadOf(20), 9);
    await writeSnapshot(dir, meta(30, { riskShards: 2, matchingShards: 2 }), payloadOf(30), 9);
    const v = await writeSnapshot(dir, meta(40), payloadOf(40), 9);
    const bytes = readFileSync(v.path);
    bytes.writeUInt32LE(SNAPSHOT_FORMAT_VERSION + 1, 8); // a later build's format
    writeFileSync(v.path, bytes);
    const short = await writeSnapshot(dir, meta(50), payloadOf(50), 9);
    writeFileSync(short.path, readFileSync(short.path).subarray(0, 600));
    expect(await usable(dir)).toEqual({
      seqs: [10],
      skipped: [
        `${snapshotFileName(50)}: payload of 408 bytes, the header says 1000`,
        `${snapshotFileName(40)}: snapshot format version ${SNAPSHOT_FORMAT_VERSION + 1}, this build reads version ${SNAPSHOT_FORMAT_VERSION} only`,
        `${snapshotFileName(30)}: written by a 2 × 2 engine, this one is 1 × 1`,
        `${snapshotFileName(20)}: written under another configuration (digest aaaaaaaaaaaa…)`,
      ],
    });
  });

  it("X7: SIGKILL at random points of a snapshot write, 20 times: the newest usable snapshot is always the previous one or the new one, complete", async () => {
    const dir = mkdtempSync(join(tmpdir(), "crossbook-snap-kill-"));
    const script = new URL("./fixtures/snapshot-writer.ts", import.meta.url).pathname;
    const run = (seq: number, killAfterMs: number | null): Promise<{ done: boolean; sawWriting: boolean; writeMs: number }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, ["--import", "tsx", script, dir, String(seq), "16", "2"], { stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        child.stdout.on("data", (chunk: Buffer) => {
          const first = !out.includes("writing");
          out += chunk.toString();
          if (first && out.includes("writing") && killAfterMs !== null) setTimeout(() => child.kill("SIGKILL"), killAfterMs);
        });
        child.once("exit", () => resolve({ done: out.includes("done"), sawWriting: out.includes("writing"), writeMs: Number(/done (\d+)/.exec(out)?.[1] ?? 0) }));
      });
    const first = await run(1, null);
    expect(first.done).toBe(true);
    // Kill anywhere from the start of the write (checksum, write, fsync, rename) to a little after its measured end.
    const windowMs = Math.max(20, Math.ceil(first.writeMs * 1.2));
    let killedMidWrite = 0;
    let seq = 1;
    for (let i = 0; i < 20; i++) {
      const next = seq + 1;
      const r = await run(next, Math.floor(Math.random() * windowMs));
      expect(r.sawWriting).toBe(true);
      const { seqs } = await usable(dir);
      if (r.done) expect(seqs[0]).toBe(next);
      else killedMidWrite++;
      // Whatever the kill hit, the newest usable snapshot is the new one (the rename happened) or the previous one.
      expect([seq, next]).toContain(seqs[0]);
      const newest = await readSnapshot(listSnapshots(dir).find((s) => s.seq === seqs[0])!.path, EXPECT);
      if ("error" in newest) throw new Error(newest.error);
      expect(newest.payload.length).toBe(16 * 1024 * 1024);
      expect(newest.payload[4096]).toBe((1 + seqs[0]!) & 0xff);
      seq = seqs[0]!;
    }
    expect(killedMidWrite).toBeGreaterThan(0);
  }, 300_000);
});
