// X4P (engine.ts; gateway/sequencer.ts): journal and execution in parallel. The engine runs a group while its durable
// write is on the way, and every output of the group — replies, account events, public market data — is held in the
// engine's out rings until the write returns. With the journal thread's write held (a test hook), the engine's outputs
// are in the rings and no client has received any of them (each client's own rejected frame, answered by the gateway
// alone, proves nothing was queued for it before); released, everything arrives, in order. A write that fails stops
// the server (fail-stop) without releasing anything, and a restart recovers exactly the groups written.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { loadConfig, type ThreadedPipeline } from "../engine/pipeline/index.ts";
import type { EventJson } from "../gateway/client/codec.ts";
import { CrossbookClient } from "../gateway/client/ws-client.ts";
import type { InlineJournal } from "../gateway/journal-inline.ts";
import type { JournalThread } from "../gateway/journal-thread.ts";
import { startServer, type RunningServer } from "../gateway/server.ts";
import { getBalances, registerKey } from "./helpers/auth.ts";

const config = loadConfig();
const SOL_USDC = 2;
/** A frame no command decodes from: the gateway answers it at once with a reject, never through the engine. */
const GARBAGE = new Uint8Array([1, 2, 3]);

interface Started {
  server: RunningServer;
  journal: JournalThread | InlineJournal;
  pipeline: ThreadedPipeline;
  url: string;
}

const servers: RunningServer[] = [];
const clients: CrossbookClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => {});
  for (const s of servers.splice(0)) await s.stop().catch(() => {});
  vi.restoreAllMocks();
});

async function start(dataDir: string, journalWrite: "thread" | "inline" | "hybrid"): Promise<Started> {
  let journal: JournalThread | InlineJournal | null = null;
  let pipeline: ThreadedPipeline | null = null;
  const lines: string[] = [];
  const server = await startServer({
    config,
    host: "127.0.0.1",
    port: 0,
    dataDir,
    tickIntervalMs: 0,
    snapshots: { everyCommands: 0, everyMs: 0, keep: 2 },
    log: (line) => lines.push(line),
    journalWrite,
    onJournalOpen: (j, p) => {
      journal = j;
      pipeline = p;
    },
  });
  servers.push(server);
  // The start-up line names the writer (an operator reading the log knows which one runs).
  expect(lines.find((l) => l.startsWith("crossbook listening on"))).toContain(`, ${journalWrite} writes, `);
  return { server, journal: journal!, pipeline: pipeline!, url: `ws://127.0.0.1:${server.port}` };
}

async function connect(url: string, options: Parameters<typeof CrossbookClient.connect>[1] = {}): Promise<CrossbookClient> {
  const c = await CrossbookClient.connect(url, options);
  clients.push(c);
  return c;
}

function collect(c: CrossbookClient): EventJson[] {
  const got: EventJson[] = [];
  c.onEvent((e) => got.push(e));
  return got;
}

/** Sends a frame the gateway rejects by itself and waits for that reject: every frame queued before it has arrived. */
async function roundTrip(c: CrossbookClient): Promise<void> {
  const reject = c.waitFor(() => true);
  c.sendRaw(GARBAGE);
  await reject;
}

async function usdcOf(s: Started, account: number): Promise<string> {
  const r = await getBalances(s.server.port, account, s.server.operatorKey);
  const body = (await r.json()) as { balances: { asset: string; available: string }[] };
  return body.balances.find((b) => b.asset === "USDC")!.available;
}

// Every writer of the journal: its own thread (the default), the gateway thread itself (`--journal-write inline`) and
// both (`hybrid`: the gateway small groups while the thread is idle).
describe.each(["thread", "inline", "hybrid"] as const)("X4P: outputs gated on durability (journal written by %s)", (journalWrite) => {
  it("X4P: with the journal write held, the engine's outputs wait in the rings and no client gets any of them (replies, fills, depth, trades); released, each client gets all of them, in order", async () => {
    const s = await start(mkdtempSync(join(tmpdir(), "crossbook-gate-")), journalWrite);
    const operator = await connect(s.url, { key: s.server.operatorKey });
    const buyerKey = await registerKey(operator, 1);
    const sellerKey = await registerKey(operator, 2);
    await operator.request({ type: "AdvanceTime", timeMs: 1_767_225_600_000 }, 30);
    await operator.request({ type: "Deposit", account: 16, asset: 0, amount: "100000" }, 30);
    await operator.request({ type: "Deposit", account: 32, asset: 4, amount: "1000" }, 30);
    const seller = await connect(s.url, { key: sellerKey });
    const buyer = await connect(s.url, { key: buyerKey });
    await seller.request({ type: "LimitOrder", account: 32, market: SOL_USDC, side: "Sell", price: "150", quantity: "10" }, 50);
    const watcher = await connect(s.url);
    const watched = collect(watcher);
    watcher.send({ type: "Subscribe", market: SOL_USDC, channels: ["Depth", "Trades", "Bbo"] });
    await watcher.waitFor((e) => e.type === "DepthSnapshot");
    const [byBuyer, bySeller, byOperator] = [collect(buyer), collect(seller), collect(operator)];
    const watchedBefore = watched.length;

    s.journal.holdWritesForTest(true);
    const buySeq = buyer.send({ type: "LimitOrder", account: 16, market: SOL_USDC, side: "Buy", price: "150", quantity: "4", clientId: 9 });
    const depositSeq = operator.send({ type: "Deposit", account: 16, asset: 0, amount: "5" });
    // The engine has run the buy (its events are in the out ring) while its write is held.
    await vi.waitFor(() => expect(s.pipeline.unreadOutputs()).toBeGreaterThan(0), { timeout: 10_000, interval: 5 });
    for (const c of [buyer, seller, operator, watcher]) await roundTrip(c);
    const rejectsOnly = (got: EventJson[]): boolean => got.every((e) => e.type === "CommandRejected" || e.type === "OrderRejected");
    expect(rejectsOnly(byBuyer) && rejectsOnly(bySeller) && rejectsOnly(byOperator)).toBe(true);
    expect(watched.slice(watchedBefore).every((e) => e.type === "CommandRejected")).toBe(true);
    expect(await usdcOf(s, 16)).toBe("100000"); // the gateway's views are fed from the same held outputs

    const arrived = Promise.all([
      buyer.waitFor((e) => e.type === "OrderDone" && e.clientSeq === buySeq),
      seller.waitFor((e) => e.type === "Fill"),
      operator.waitFor((e) => e.clientSeq === depositSeq),
      watcher.waitFor((e) => e.type === "BookTicker" && (e as { askQuantity?: string }).askQuantity === "6"),
    ]);
    s.journal.holdWritesForTest(false);
    await arrived;
    const mine = byBuyer.filter((e) => e.clientSeq === buySeq).map((e) => e.type);
    expect(mine.indexOf("OrderAccepted")).toBeLessThan(mine.indexOf("Fill"));
    expect(mine.indexOf("Fill")).toBeLessThan(mine.indexOf("OrderDone"));
    expect(byBuyer.find((e) => e.type === "Fill")).toMatchObject({ price: "150", quantity: "4", quoteQuantity: "600", isMaker: false });
    expect(bySeller.find((e) => e.type === "Fill")).toMatchObject({ price: "150", quantity: "4", isMaker: true });
    // Market data in order: the delta after the snapshot continues its update ids, the trade, then the new top.
    const md = watched.slice(watchedBefore).filter((e) => e.type !== "CommandRejected");
    const delta = md.find((e) => e.type === "DepthDelta") as { firstUpdateId: bigint; asks: unknown } | undefined;
    const snapshot = watched.find((e) => e.type === "DepthSnapshot") as { lastUpdateId: bigint };
    expect(delta?.firstUpdateId).toBe(snapshot.lastUpdateId + 1n);
    expect(delta?.asks).toEqual([{ price: "150", quantity: "6" }]);
    expect(md.find((e) => e.type === "Trade")).toMatchObject({ market: SOL_USDC, price: "150", quantity: "4", takerSide: "Buy" });
    // 600 USDC paid for the 4 SOL (the taker's fee is in SOL), 5 deposited.
    expect(await usdcOf(s, 16)).toBe("99405");
  });

  it("X4P: a journal write that fails after the engine applied the group: nothing of it reaches a client, the server stops (exit 70), and a restart recovers exactly the groups written", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-gate-fail-"));
    const exits: (string | number | null | undefined)[] = [];
    vi.spyOn(process, "exit").mockImplementation(((code?: string | number | null) => {
      exits.push(code);
    }) as never);
    const s = await start(dataDir, journalWrite);
    const operator = await connect(s.url, { key: s.server.operatorKey });
    const got = collect(operator);
    await operator.request({ type: "Deposit", account: 48, asset: 0, amount: "700" }, 30);
    const before = got.length;

    s.journal.failNextWriteForTest();
    const lost = operator.send({ type: "Deposit", account: 48, asset: 0, amount: "55" });
    await vi.waitFor(() => expect(exits).toEqual([70]), { timeout: 20_000, interval: 10 });
    // Stopped: the deposit's answer never left (the session was closed without it).
    expect(got.slice(before).filter((e) => e.clientSeq === lost)).toEqual([]);
    servers.splice(0);

    const again = await start(dataDir, journalWrite);
    expect(again.server.recovered.commands).toBe(1);
    expect(await usdcOf(again, 48)).toBe("700");
  });
});
