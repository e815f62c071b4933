// Restart from a snapshot at the server level (X4, X7): the state hash after a restart from snapshot + journal tail
// equals that of an uninterrupted run (the whole journal replayed in-process), for the fused and split 1 × 1 engines
// and for 2 × 2 shards; balances and market data served after the restart are the same; a damaged newest snapshot
// falls back to the one before it.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { emptySummary, listSegments, segmentBatches } from "../engine/journal/index.ts";
import { configDigest, Engine, loadConfig, readSnapshotInfo, type EngineTopology } from "../engine/pipeline/index.ts";
import { openSnapshotPayload } from "../gateway/gateway-state.ts";
import { isReadOnlyCommand } from "../gateway/sequencer.ts";
import { SnapshotFollower } from "../gateway/snapshot-writer.ts";
import type { CommandJson, EventJson } from "../gateway/client/codec.ts";
import { CrossbookClient } from "../gateway/client/ws-client.ts";
import { startServer, type RunningServer } from "../gateway/server.ts";
import { connectUser, getBalances, getStateHash } from "./helpers/auth.ts";
import { prng } from "./helpers/random-commands.ts";

const config = loadConfig();
const BIN = new URL("../bin/crossbook.mjs", import.meta.url).pathname;
const TRADERS = [16, 32, 48, 64, 80, 96, 112, 128];
/** A restarted server on a loaded 2-core machine may take seconds to answer its first queries (5 s was seen to run out). */
const REQUEST_TIMEOUT_MS = 30_000;

interface Layout {
  readonly name: string;
  readonly topology: EngineTopology;
  readonly stages: "fused" | "split";
}

const LAYOUTS: Layout[] = [
  { name: "fused 1 × 1", topology: { riskShards: 1, matchingShards: 1 }, stages: "fused" },
  { name: "split 1 × 1", topology: { riskShards: 1, matchingShards: 1 }, stages: "split" },
  { name: "2 × 2", topology: { riskShards: 2, matchingShards: 2 }, stages: "split" },
];

function serverOn(dataDir: string, layout: Layout, log: (line: string) => void = () => {}, journalSegmentBytes?: number, verifySnapshotHash?: boolean): Promise<RunningServer> {
  return startServer({
    ...(journalSegmentBytes === undefined ? {} : { journalSegmentBytes }),
    ...(verifySnapshotHash === undefined ? {} : { verifySnapshotHash }),
    config,
    host: "127.0.0.1",
    port: 0,
    dataDir,
    topology: layout.topology,
    stages: layout.stages,
    tickIntervalMs: 0,
    log,
    snapshots: { everyCommands: 0, everyMs: 0, keep: 3 },
  });
}

/** A seeded stream: deposits first, then crossing limit orders on BTC_USDC and SOL_USDC, cancels and clock ticks. */
function workload(seed: number, commands: number, startMs: number): CommandJson[] {
  const rand = prng(seed);
  const out: CommandJson[] = [];
  for (const account of TRADERS) {
    out.push({ type: "Deposit", account, asset: 0, amount: "1000000" });
    out.push({ type: "Deposit", account, asset: 2, amount: "10" });
    out.push({ type: "Deposit", account, asset: 4, amount: "5000" });
  }
  let clientId = seed * 1_000_000;
  for (let i = 0; i < commands; i++) {
    const account = TRADERS[Math.floor(rand() * TRADERS.length)]!;
    const r = rand();
    if (r < 0.05) out.push({ type: "AdvanceTime", timeMs: startMs + i * 1_000 });
    else if (r < 0.2 && clientId > seed * 1_000_000) out.push({ type: "Cancel", account, market: 0, clientId: String(clientId - Math.floor(rand() * 5)) });
    else {
      const btc = rand() < 0.6;
      const side = rand() < 0.5 ? "Buy" : "Sell";
      const price = btc ? String(59_990 + Math.floor(rand() * 21)) : (149.9 + Math.floor(rand() * 21) / 100).toFixed(2);
      out.push({ type: "LimitOrder", account, market: btc ? 0 : 2, side, price, quantity: btc ? "0.01" : "1.5", clientId: String(++clientId) });
    }
  }
  return out;
}

/**
 * The workload's sessions (X6): the operator's for deposits and clock ticks, one per trader's user for its orders.
 * Registering their keys is journaled, before any workload.
 */
class Sessions {
  private constructor(readonly operator: CrossbookClient, private readonly users: Map<number, CrossbookClient>) {}

  static async open(server: RunningServer): Promise<Sessions> {
    const url = `ws://127.0.0.1:${server.port}`;
    const operator = await CrossbookClient.connect(url, { key: server.operatorKey });
    const users = new Map<number, CrossbookClient>();
    for (const account of TRADERS) users.set(account >>> 4, await connectUser(url, operator, account >>> 4));
    return new Sessions(operator, users);
  }

  send(cmd: CommandJson): void {
    if (cmd.type === "Deposit" || cmd.type === "AdvanceTime") this.operator.send(cmd);
    else this.users.get((cmd as { account: number }).account >>> 4)!.send(cmd);
  }

  /** Every frame sent so far has been sequenced: each user session's last frame is answered (same socket, in order). */
  async settle(): Promise<void> {
    for (const [user, c] of this.users) await c.request({ type: "QueryCollateral", account: user * 16 }, 50, REQUEST_TIMEOUT_MS);
  }

  async close(): Promise<void> {
    for (const c of this.users.values()) await c.close();
    await this.operator.close();
  }
}

/**
 * Sends every command, then one clock tick at `syncMs` (journaled like every command) and waits for its answer: every
 * frame before it has then been sequenced. Returns the state hash after them.
 */
async function run(server: RunningServer, client: Sessions, commands: readonly CommandJson[], syncMs: number): Promise<string> {
  for (let i = 0; i < commands.length; i++) {
    client.send(commands[i]!);
    if (i % 200 === 199) await new Promise((r) => setImmediate(r));
  }
  await client.settle();
  await client.operator.request({ type: "AdvanceTime", timeMs: syncMs }, 50, REQUEST_TIMEOUT_MS);
  return server.stateHash();
}

/**
 * Read-only queries the journal holds after `afterSeq`: a query alone in its batch is written with it (its phase 0,
 * gateway/sequencer.ts framesWithoutQueries), so a replayed tail counts the settling queries that went alone.
 */
function queriesJournaledAfter(dataDir: string, afterSeq: number): number {
  let n = 0;
  for (const b of segmentBatches(listSegments(dataDir), { configDigestHex: configDigest(config) }, emptySummary())) {
    for (let i = 0; i < b.count; i++) if (b.commands[i]!.seq > afterSeq && isReadOnlyCommand(b.commands[i]!.kind)) n++;
  }
  return n;
}

/** The state hash of the whole journal (or its batches up to `lastBatch`) replayed in one thread: the uninterrupted run. */
function replayHash(dataDir: string, topology: EngineTopology, lastBatch = Number.POSITIVE_INFINITY): string {
  const engine = new Engine(config, topology);
  for (const b of segmentBatches(listSegments(dataDir), { configDigestHex: configDigest(config) }, emptySummary())) {
    if (b.batchNumber > lastBatch) break;
    engine.processJournalBatch(b.commands, b.count, { publish: () => {} }, b.batchNumber);
  }
  return engine.stateHash();
}

async function views(server: RunningServer): Promise<{ balances: unknown[]; depth: EventJson[] }> {
  const balances: unknown[] = [];
  for (const account of TRADERS) balances.push(await (await getBalances(server.port, account, server.operatorKey)).json());
  // A subscription's snapshot events answer no command (clientSeq 0): collect what comes in the first 300 ms.
  const md = await CrossbookClient.connect(`ws://127.0.0.1:${server.port}`);
  const depth: EventJson[] = [];
  md.onEvent((e) => depth.push(e));
  md.send({ type: "Subscribe", market: 0, channels: ["Depth", "Bbo", "Ticker"] });
  await new Promise((r) => setTimeout(r, 300));
  await md.close();
  expect(depth.map((e) => e.type)).toEqual(["DepthSnapshot", "BookTicker", "Ticker"]);
  return { balances, depth };
}

describe("restart from snapshot + journal tail (X4, X7)", () => {
  for (const layout of LAYOUTS) {
    it(`X4/X7: ${layout.name}: the state hash after a restart from snapshot + tail equals the uninterrupted run's; balances and market data are the same`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), "crossbook-snaprestart-"));
      const first = await serverOn(dataDir, layout);
      const client = await Sessions.open(first);
      await run(first, client, workload(7, 1_500, 1_767_225_600_000), 1_767_229_000_000);
      const snapshot = await first.snapshot();
      expect(snapshot.stateHash).toBe(await first.stateHash());
      const liveHash = await run(first, client, workload(8, 1_000, 1_767_230_000_000), 1_767_232_000_000);
      const before = await views(first);
      await client.close();
      await first.stop();

      const lines: string[] = [];
      const second = await serverOn(dataDir, layout, (l) => lines.push(l));
      try {
        expect(second.recovered.snapshotSeq).toBe(snapshot.seq);
        // Only the tail after the snapshot was replayed: the second workload and the tick that closed it.
        expect(second.recovered.commands).toBe(workload(8, 1_000, 0).length + 1 + queriesJournaledAfter(dataDir, snapshot.seq));
        expect(await second.stateHash()).toBe(liveHash);
        expect(replayHash(dataDir, layout.topology)).toBe(liveHash);
        expect(await views(second)).toEqual(before);
      } finally {
        await second.stop();
      }
    }, 120_000);
  }

  for (const layout of [LAYOUTS[0]!, LAYOUTS[2]!]) {
    it(`X7: ${layout.name}: a follower snapshot taken while commands keep flowing holds the journal's state at its boundary; a restart from it + tail equals the uninterrupted run`, async () => {
      const dataDir = mkdtempSync(join(tmpdir(), "crossbook-snapflow-"));
      const first = await serverOn(dataDir, layout);
      const client = await Sessions.open(first);
      await run(first, client, workload(41, 600, 1_767_225_600_000), 1_767_229_000_000);
      const settledSeq = Number((await getStateHash(first.port, first.operatorKey)).lastSeq);
      // The second workload is sent while the follower writes: the snapshot's boundary falls inside the stream.
      const flow = workload(42, 1_500, 1_767_230_000_000);
      let taking: Promise<Awaited<ReturnType<RunningServer["snapshot"]>>> | null = null;
      for (let i = 0; i < flow.length; i++) {
        client.send(flow[i]!);
        if (i % 100 === 99) await new Promise((r) => setTimeout(r, 2));
        if (i === 500) {
          // The boundary must fall inside the stream: wait until the server has sequenced some of it (on a loaded
          // machine the 500 sent may all still be in the socket, and the boundary was the first workload's end).
          while (Number((await getStateHash(first.port, first.operatorKey)).lastSeq) <= settledSeq + 1) await new Promise((r) => setTimeout(r, 2));
          taking = first.snapshot("follower");
        }
      }
      const liveHash = await run(first, client, [], 1_767_233_000_000);
      const taken = await taking!;
      const before = await views(first);
      await client.close();
      await first.stop();
      // Inside the stream: after the first workload, before the end of the second.
      expect(taken.seq).toBeGreaterThan(settledSeq);
      expect(taken.seq).toBeLessThan(settledSeq + flow.length);
      // The header's hash is the journal's state at the boundary, replayed in one thread.
      expect(taken.stateHash).toBe(replayHash(dataDir, layout.topology, taken.batch));

      const second = await serverOn(dataDir, layout);
      try {
        expect(second.recovered.snapshotSeq).toBe(taken.seq);
        expect(await second.stateHash()).toBe(liveHash);
        expect(await views(second)).toEqual(before);
      } finally {
        await second.stop();
      }
    }, 120_000);
  }

  it("X7: at one boundary the follower (from the journal) and the engine's stages (stop-the-world) write the same snapshot: same state hash, same header, same gateway views", async () => {
    const layout = LAYOUTS[0]!;
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-snapsame-"));
    const server = await serverOn(dataDir, layout);
    try {
      const client = await Sessions.open(server);
      await run(server, client, workload(51, 800, 1_767_225_600_000), 1_767_229_000_000);
      const older = await server.snapshot("engine");
      await run(server, client, workload(52, 800, 1_767_230_000_000), 1_767_232_000_000);
      // Nothing is sent from here on: both writers see the same boundary (the follower from the older snapshot + journal).
      const byFollower = await server.snapshot("follower");
      const followerFile = readFileSync(byFollower.path);
      const byEngine = await server.snapshot("engine");
      await client.close();
      expect(older.seq).toBeLessThan(byFollower.seq);
      expect([byEngine.seq, byEngine.batch, byEngine.path]).toEqual([byFollower.seq, byFollower.batch, byFollower.path]);
      expect(byFollower.stateHash).toBe(byEngine.stateHash);
      expect(byFollower.stateHash).toBe(await server.stateHash());
      // The engine's part is compared by its state (restored hash, above): its bytes are not canonical across
      // histories (a restored hold table numbers its slots afresh). The gateway's views and the file header are.
      const engineFile = readFileSync(byEngine.path);
      const [fromFollower, fromEngine] = [followerFile, engineFile].map((f) => openSnapshotPayload(f.subarray(192)));
      expect(readSnapshotInfo(config, fromFollower!.engine)).toEqual(readSnapshotInfo(config, fromEngine!.engine));
      const gatewayBytes = (f: Buffer, engine: Uint8Array): Buffer => f.subarray(engine.byteOffset - f.byteOffset + engine.length);
      expect(gatewayBytes(followerFile, fromFollower!.engine).length).toBeGreaterThan(100);
      expect(Buffer.compare(gatewayBytes(followerFile, fromFollower!.engine), gatewayBytes(engineFile, fromEngine!.engine))).toBe(0);
      expect(Buffer.compare(followerFile.subarray(0, 104), engineFile.subarray(0, 104))).toBe(0);
    } finally {
      await server.stop();
    }
  }, 120_000);

  it("X7: the standing follower goes on from the state it kept: the second snapshot replays only the commands since the first, with the journal's hash; a new follower restores from the files", async () => {
    const layout = LAYOUTS[0]!;
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-snapstand-"));
    const server = await serverOn(dataDir, layout);
    try {
      const client = await Sessions.open(server);
      await run(server, client, workload(61, 900, 1_767_225_600_000), 1_767_229_000_000);
      await client.close();
    } finally {
      await server.stop();
    }
    const batches: { batch: number; seq: number; commands: number }[] = [];
    for (const b of segmentBatches(listSegments(dataDir), { configDigestHex: configDigest(config) }, emptySummary())) {
      batches.push({ batch: b.batchNumber, seq: b.commands[b.count - 1]!.seq, commands: b.count });
    }
    // Three boundaries: the first batch at or past a third of the commands, the first at or past two thirds after
    // it, and the last (a group of the stream may hold several thirds: each is a later batch than the one before).
    const total = batches.reduce((n, b) => n + b.commands, 0);
    const b1 = batches.find((b) => b.seq >= total / 3)!;
    const b2 = batches.find((b) => b.seq >= (2 * total) / 3 && b.batch > b1.batch) ?? batches[batches.length - 2]!;
    const b3 = batches[batches.length - 1]!;
    expect(b1.batch < b2.batch && b2.batch < b3.batch).toBe(true);
    const commandsIn = (from: number, to: number): number => batches.filter((b) => b.batch > from && b.batch <= to).reduce((n, b) => n + b.commands, 0);
    const request = (b: { batch: number; seq: number }) => ({ config, topology: layout.topology, dataDir, archiveDir: join(dataDir, "archive"), ...b, keep: 3, writtenAtMs: Date.now() });

    const follower = new SnapshotFollower();
    const first = await follower.write(request(b1));
    const second = await follower.write(request(b2));
    await follower.close();
    expect([first.continued, first.baseSeq, first.replayedCommands]).toEqual([false, 0, commandsIn(0, b1.batch)]);
    expect([second.continued, second.baseSeq, second.replayedCommands, second.restoreMs]).toEqual([true, b1.seq, commandsIn(b1.batch, b2.batch), 0]);
    expect(first.stateHash).toBe(replayHash(dataDir, layout.topology, b1.batch));
    expect(second.stateHash).toBe(replayHash(dataDir, layout.topology, b2.batch));
    // Closed (as a failed worker is dropped), its state goes with it: the next follower restores the newest file.
    const fresh = new SnapshotFollower();
    try {
      const third = await fresh.write(request(b3));
      expect([third.continued, third.baseSeq, third.replayedCommands]).toEqual([false, b2.seq, commandsIn(b2.batch, b3.batch)]);
      expect(third.stateHash).toBe(replayHash(dataDir, layout.topology));
      const again = await fresh.write(request(b3));
      expect([again.continued, again.replayedCommands, again.path]).toEqual([true, 0, third.path]);
    } finally {
      await fresh.close();
    }
    const restarted = await serverOn(dataDir, layout);
    try {
      expect(restarted.recovered.snapshotSeq).toBe(b3.seq);
      expect(await restarted.stateHash()).toBe(replayHash(dataDir, layout.topology));
    } finally {
      await restarted.stop();
    }
  }, 120_000);

  it("X7: a damaged newest snapshot is skipped with its reason and the previous one is used; the hash is the same (and with both damaged, the journal)", async () => {
    const layout = LAYOUTS[0]!;
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-snapfallback-"));
    const first = await serverOn(dataDir, layout);
    const client = await Sessions.open(first);
    await run(first, client, workload(11, 800, 1_767_225_600_000), 1_767_229_000_000);
    const older = await first.snapshot();
    await run(first, client, workload(12, 800, 1_767_230_000_000), 1_767_232_000_000);
    const newer = await first.snapshot();
    const liveHash = await run(first, client, workload(13, 300, 1_767_240_000_000), 1_767_242_000_000);
    await client.close();
    await first.stop();
    const bytes = readFileSync(newer.path);
    bytes[bytes.length - 1000] ^= 0x20;
    writeFileSync(newer.path, bytes);

    const lines: string[] = [];
    const second = await serverOn(dataDir, layout, (l) => lines.push(l));
    try {
      expect(lines).toContain(`snapshot ${newer.path.slice(newer.path.lastIndexOf("/") + 1)} skipped: checksum mismatch (damaged file)`);
      expect(second.recovered.snapshotSeq).toBe(older.seq);
      expect(second.recovered.commands).toBe(workload(12, 800, 0).length + 1 + workload(13, 300, 0).length + 1 + queriesJournaledAfter(dataDir, older.seq));
      expect(await second.stateHash()).toBe(liveHash);
    } finally {
      await second.stop();
    }
    // The older one damaged inside its engine part (whose own CRC-32 fails while the file's SHA-256 is still being
    // checked, restart's checksumLater): skipped for the same reason, and the whole journal is replayed.
    const olderBytes = readFileSync(older.path);
    olderBytes[192 + 64] ^= 0x20;
    writeFileSync(older.path, olderBytes);
    lines.length = 0;
    const third = await serverOn(dataDir, layout, (l) => lines.push(l));
    try {
      for (const s of [newer, older]) expect(lines).toContain(`snapshot ${s.path.slice(s.path.lastIndexOf("/") + 1)} skipped: checksum mismatch (damaged file)`);
      expect(third.recovered.snapshotSeq).toBe(0);
      expect(await third.stateHash()).toBe(liveHash);
    } finally {
      await third.stop();
    }
  }, 120_000);

  it("X7: the restored state is checked against the header's hash only when asked (verifySnapshotHash); a mismatch then falls back to the journal", async () => {
    const layout = LAYOUTS[0]!;
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-snapverify-"));
    const first = await serverOn(dataDir, layout);
    const client = await Sessions.open(first);
    await run(first, client, workload(21, 600, 1_767_225_600_000), 1_767_229_000_000);
    const snapshot = await first.snapshot();
    const liveHash = await run(first, client, workload(22, 200, 1_767_230_000_000), 1_767_232_000_000);
    await client.close();
    await first.stop();
    // A header hash that is not the state's, with the file's checksum (SHA-256 of header bytes 0..160 and the payload,
    // at 160) made good again: only the restored-hash check can tell.
    const bytes = readFileSync(snapshot.path);
    bytes[64] ^= 0xff;
    bytes.set(createHash("sha256").update(bytes.subarray(0, 160)).update(bytes.subarray(192)).digest(), 160);
    writeFileSync(snapshot.path, bytes);
    const name = snapshot.path.slice(snapshot.path.lastIndexOf("/") + 1);

    const trusting = await serverOn(dataDir, layout);
    try {
      expect(trusting.recovered.snapshotSeq).toBe(snapshot.seq);
      expect(trusting.recovered.commands).toBe(workload(22, 200, 0).length + 1 + queriesJournaledAfter(dataDir, snapshot.seq));
      expect(await trusting.stateHash()).toBe(liveHash);
    } finally {
      await trusting.stop();
    }
    const lines: string[] = [];
    const checking = await serverOn(dataDir, layout, (l) => lines.push(l), undefined, true);
    try {
      expect(lines.some((l) => l.startsWith(`snapshot ${name} skipped: restored state hash `) && l.includes("differs from its header's"))).toBe(true);
      expect(checking.recovered.snapshotSeq).toBe(0);
      // The whole journal: the traders' key registrations, both workloads and their closing ticks.
      expect(checking.recovered.commands).toBe(TRADERS.length + workload(21, 600, 0).length + 1 + workload(22, 200, 0).length + 1 + queriesJournaledAfter(dataDir, 0));
      expect(await checking.stateHash()).toBe(liveHash);
    } finally {
      await checking.stop();
    }
  }, 120_000);

  it("X7: `crossbook snapshot` through the operator session answers SnapshotTaken with the sequence number, hash and file", async () => {
    const layout = LAYOUTS[0]!;
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-snapcmd-"));
    const server = await serverOn(dataDir, layout);
    try {
      const sessions = await Sessions.open(server);
      const operator = sessions.operator;
      await run(server, sessions, workload(21, 100, 1_767_225_600_000), 1_767_229_000_000);
      const hash = await server.stateHash();
      // Every command sequenced so far: key registrations, the workload, queries (sequenced, not journaled), the tick.
      const commands = BigInt((await getStateHash(server.port, server.operatorKey)).lastSeq);
      const answer = await operator.request({ type: "TakeSnapshot" }, 50, 30_000);
      const user = await CrossbookClient.connect(`ws://127.0.0.1:${server.port}`);
      const refused = await user.request({ type: "TakeSnapshot" }, 50);
      await user.close();
      await sessions.close();
      expect(answer.length).toBe(1);
      const e = answer[0]!;
      if (e.type !== "SnapshotTaken") throw new Error(`expected SnapshotTaken, got ${e.type}`);
      expect([e.seq, e.stateHash, e.file]).toEqual([commands, hash, `snapshot-${String(commands).padStart(16, "0")}.snap`]);
      expect(e.bytes).toBe(BigInt(statSync(join(dataDir, "snapshots", e.file)).size));
      expect(refused.map((x) => [x.type, "code" in x ? x.code : null])).toEqual([["CommandRejected", "NotLoggedIn"]]);
    } finally {
      await server.stop();
    }
  }, 60_000);

  it("X7: `npx crossbook snapshot` as a person runs it (plain node, no global WebSocket on Node 20) prints SnapshotTaken", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-snapcli-"));
    const server = await serverOn(dataDir, LAYOUTS[0]!);
    try {
      const bin = new URL("../bin/crossbook.mjs", import.meta.url).pathname;
      const child = spawn(process.execPath, [bin, "snapshot", "--url", `ws://127.0.0.1:${server.port}`, "--data", dataDir], { stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d.toString()));
      child.stderr.on("data", (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      expect([code, out.includes('"type":"SnapshotTaken"')]).toEqual([0, true]);
      expect(readdirSync(join(dataDir, "snapshots")).filter((f) => f.endsWith(".snap")).length).toBe(1);
    } finally {
      await server.stop();
    }
  }, 60_000);

  it("X7: journal-archive moves the segments the oldest snapshot covers; a restart still recovers, and journal-hash --from-genesis replays archived + live segments", async () => {
    const layout = LAYOUTS[0]!;
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-archive-"));
    const first = await serverOn(dataDir, layout, () => {}, 4 * 1024);
    const client = await Sessions.open(first);
    await run(first, client, workload(31, 1_000, 1_767_225_600_000), 1_767_229_000_000);
    const taken = await first.snapshot();
    const liveHash = await run(first, client, workload(32, 300, 1_767_230_000_000), 1_767_232_000_000);
    await client.close();
    await first.stop();
    const liveBefore = readdirSync(join(dataDir, "journal")).sort();
    // The group commit puts up to 8,192 commands in one write and a segment rolls between writes: at least two here.
    expect(liveBefore.length).toBeGreaterThan(1);

    const archived = spawnSync(process.execPath, [BIN, "journal-archive", "--data", dataDir], { encoding: "utf8" });
    expect(archived.status).toBe(0);
    const report = JSON.parse(archived.stdout) as { oldestSnapshotSeq: number; archived: string[]; archiveDir: string; liveSegments: number };
    expect(report.oldestSnapshotSeq).toBe(taken.seq);
    expect(report.archived.length).toBeGreaterThan(0);
    // Exactly the segments whose successor starts at or before the snapshot's next command moved.
    const firstSeqs = liveBefore.map((n) => Number(/(\d{16})/.exec(n)![1]));
    const covered = liveBefore.filter((_, i) => i + 1 < firstSeqs.length && firstSeqs[i + 1]! <= taken.seq + 1);
    expect(report.archived).toEqual(covered);
    expect(readdirSync(report.archiveDir).sort()).toEqual(covered);
    expect(readdirSync(join(dataDir, "journal")).sort()).toEqual(liveBefore.filter((n) => !covered.includes(n)));

    const plain = spawnSync(process.execPath, [BIN, "journal-hash", "--data", dataDir], { encoding: "utf8" });
    expect(plain.status).toBe(2);
    expect(plain.stderr).toContain("earlier segments were archived; read them with --from-genesis");
    const genesis = spawnSync(process.execPath, [BIN, "journal-hash", "--data", dataDir, "--from-genesis"], { encoding: "utf8" });
    expect(genesis.status).toBe(0);
    expect((JSON.parse(genesis.stdout) as { stateHash: string }).stateHash).toBe(liveHash);

    const second = await serverOn(dataDir, layout);
    try {
      expect(second.recovered.snapshotSeq).toBe(taken.seq);
      expect(await second.stateHash()).toBe(liveHash);
    } finally {
      await second.stop();
    }
  }, 120_000);
});
