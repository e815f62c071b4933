// What no client can break (X5): one server per data directory and per port; typed rejects and named limits for
// oversized frames, command rates per address, connections per address and events a client does not read (the
// slowest consumer is cut first, with a close frame and a reason); read-only queries are not journaled (but for a batch
// of queries alone whose phase 0 may act).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { emptySummary, listSegments, segmentBatches } from "../engine/journal/index.ts";
import { CommandKind, type EventSink } from "../engine/model/index.ts";
import { configDigest, Engine, loadConfig } from "../engine/pipeline/index.ts";
import { decodeEvent, type EventJson } from "../gateway/client/codec.ts";
import { CrossbookClient } from "../gateway/client/ws-client.ts";
import { DATA_LOCK_FILE } from "../gateway/data-lock.ts";
import { CLOSE_MESSAGE_TOO_BIG, CLOSE_TRY_AGAIN_LATER } from "../gateway/limits.ts";
import { isReadOnlyCommand } from "../gateway/sequencer.ts";
import { startServer, type GatewayLimits, type RunningServer } from "../gateway/server.ts";
import { connectUser, getBalances, registerKey } from "./helpers/auth.ts";
import { floodUntil, nonReadingClient } from "./helpers/raw-ws.ts";

const BIN = new URL("../bin/crossbook.mjs", import.meta.url).pathname;
const config = loadConfig();
const running: RunningServer[] = [];

afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
});

async function serve(limits: Partial<GatewayLimits> = {}, dataDir = mkdtempSync(join(tmpdir(), "crossbook-limits-"))): Promise<{ server: RunningServer; url: string; dataDir: string }> {
  const server = await startServer({ config, host: "127.0.0.1", port: 0, dataDir, tickIntervalMs: 0, log: () => {}, limits });
  running.push(server);
  return { server, url: `ws://127.0.0.1:${server.port}`, dataDir };
}

/** `crossbook start` in a child process; returns its exit status and output (it is expected to refuse). */
function startRefused(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, "start", "--tick-ms", "0", ...args], { encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

describe("one server per data directory and per port", () => {
  it("X5: a second server on the same data directory refuses to start, naming the holder's pid; one on the same port refuses too", async () => {
    const { server, dataDir } = await serve();
    expect(readFileSync(join(dataDir, DATA_LOCK_FILE), "utf8").trim()).toBe(String(process.pid));
    const sameDir = startRefused(["--port", "0", "--data", dataDir]);
    expect(sameDir.status).toBe(2);
    expect(sameDir.stderr).toBe(`crossbook: data directory ${dataDir} is in use by another crossbook (pid ${process.pid}): one server per data directory\n`);
    // In the same process as well (a second startServer on the directory).
    await expect(startServer({ config, host: "127.0.0.1", port: 0, dataDir, tickIntervalMs: 0, log: () => {} })).rejects.toThrow(`(pid ${process.pid})`);
    const samePort = startRefused(["--port", String(server.port), "--data", mkdtempSync(join(tmpdir(), "crossbook-limits-"))]);
    expect(samePort.status).toBe(2);
    expect(samePort.stderr).toBe(`crossbook: cannot listen on 127.0.0.1:${server.port}: the port is in use (by another crossbook?)\n`);
  }, 60_000);

  it("X5: a lock left by a killed server (its pid is gone) is taken over; a stopped server leaves no lock", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-limits-"));
    const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
    writeFileSync(join(dataDir, DATA_LOCK_FILE), `${dead}\n`);
    const { server } = await serve({}, dataDir);
    expect(readFileSync(join(dataDir, DATA_LOCK_FILE), "utf8").trim()).toBe(String(process.pid));
    await server.stop();
    running.splice(0);
    expect(existsSync(join(dataDir, DATA_LOCK_FILE))).toBe(false);
  }, 30_000);
});

describe("limits with typed rejects", () => {
  it("X5: a frame over 1,024 bytes gets a FrameTooLarge reject and a 1009 close with the reason", async () => {
    const { url } = await serve();
    const c = await CrossbookClient.connect(url);
    const reject = c.waitFor(() => true);
    c.sendRaw(new Uint8Array(2000));
    expect(await reject).toMatchObject({ type: "CommandRejected", code: "FrameTooLarge", message: "frame of 2000 bytes is over the limit of 1024" });
    expect(await c.closed).toEqual({ code: CLOSE_MESSAGE_TOO_BIG, reason: "frame of 2000 bytes is over the limit of 1024" });
  }, 30_000);

  it("X5: commands over an address's rate are refused with RateLimited on every connection from it, and nothing is queued", async () => {
    // A burst of 102: the two logins (X6) take two tokens of it, the deposits share the other 100.
    const { server, url } = await serve({ addressCommandBurst: 102, addressCommandsPerSecond: 1e-6 });
    const a = await CrossbookClient.connect(url, { key: server.operatorKey });
    const b = await CrossbookClient.connect(url, { key: server.operatorKey });
    const answers: EventJson[] = [];
    a.onEvent((e) => answers.push(e));
    b.onEvent((e) => answers.push(e));
    for (let i = 0; i < 80; i++) a.send({ type: "Deposit", account: 16, asset: 0, amount: "1" });
    for (let i = 0; i < 80; i++) b.send({ type: "Deposit", account: 32, asset: 0, amount: "1" });
    const usdc = async (account: number): Promise<string> => {
      const r = await getBalances(server.port, account, server.operatorKey);
      return ((await r.json()) as { balances: { available: string }[] }).balances[0]!.available;
    };
    while (answers.filter((e) => e.type === "CommandAccepted" || e.type === "CommandRejected").length < 160) await new Promise((r) => setTimeout(r, 10));
    const rejected = answers.filter((e) => e.type === "CommandRejected");
    expect(rejected).toHaveLength(60);
    expect(rejected.every((e) => (e as { code: string }).code === "RateLimited")).toBe(true);
    expect((rejected[0] as { message: string }).message).toBe("rate limit: too many commands per second from this address");
    // The address's burst of 100, shared by both connections in whatever order their frames arrived: each accepted
    // deposit credited exactly once, no refused one.
    const acceptedFor = (account: number): number => answers.filter((e) => e.type === "CommandAccepted" && (e as { account: number }).account === account).length;
    expect(acceptedFor(16) + acceptedFor(32)).toBe(100);
    expect(await usdc(16)).toBe(String(acceptedFor(16)));
    expect(await usdc(32)).toBe(String(acceptedFor(32)));
    await a.close();
    await b.close();
  }, 30_000);

  it("X5: X6: commands over an API key's rate are refused with RateLimited on every session of that key, and nothing is queued", async () => {
    const { server, url } = await serve({ keyCommandBurst: 50, keyCommandsPerSecond: 1e-6 });
    const operator = await CrossbookClient.connect(url, { key: server.operatorKey });
    const key = await registerKey(operator, 9);
    const a = await CrossbookClient.connect(url, { key });
    const b = await CrossbookClient.connect(url, { key });
    const other = await connectUser(url, operator, 10);
    // Each query's answers (a pool's stats per asset, or one reject) carry its client_seq: count queries, not events.
    const answered = new Map<string, string>();
    a.onEvent((e) => answered.set(`a${e.clientSeq}`, e.type === "CommandRejected" ? (e as { message: string }).message : "answered"));
    b.onEvent((e) => answered.set(`b${e.clientSeq}`, e.type === "CommandRejected" ? (e as { message: string }).message : "answered"));
    for (let i = 0; i < 40; i++) a.send({ type: "QueryPoolStats" });
    for (let i = 0; i < 40; i++) b.send({ type: "QueryPoolStats" });
    const deadline = Date.now() + 20_000;
    while ([...answered.keys()].filter((k) => k !== "a0" && k !== "b0").length < 80 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const rejected = [...answered.entries()].filter(([k, v]) => k !== "a0" && k !== "b0" && v !== "answered");
    // The key's burst of 50 is shared by its two sessions: 30 of their 80 queries are refused, whatever the order.
    expect(rejected).toHaveLength(30);
    expect(rejected.every(([, v]) => v === "rate limit: too many commands per second with this API key (all its sessions together)")).toBe(true);
    // Another key (another user) is not held back by it.
    expect((await other.request({ type: "QueryPoolStats" }, 20)).every((e) => e.type !== "CommandRejected")).toBe(true);
    for (const c of [a, b, other, operator]) await c.close();
  }, 30_000);

  it("X5: a frame that does not decode takes its rate tokens too: with a burst of 2, 500 garbage frames get 2 MalformedFrame and 498 RateLimited", async () => {
    const { url } = await serve({ addressCommandBurst: 2, addressCommandsPerSecond: 1e-6 });
    const c = await CrossbookClient.connect(url);
    const codes = new Map<string, number>();
    c.onEvent((e) => {
      const code = e.type === "CommandRejected" ? String((e as { code: string }).code) : e.type;
      codes.set(code, (codes.get(code) ?? 0) + 1);
    });
    const garbage = new Uint8Array(200).fill(0xab);
    for (let i = 0; i < 500; i++) c.sendRaw(garbage);
    const deadline = Date.now() + 20_000;
    while ([...codes.values()].reduce((a, b) => a + b, 0) < 500 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await c.close();
    expect(Object.fromEntries(codes)).toEqual({ MalformedFrame: 2, RateLimited: 498 });
  });

  it("X5: X6: a signed HTTP request takes a token of its address's HTTP bucket before its signature is verified: over the rate it gets 429 RateLimited", async () => {
    // The address may make 3 signed requests in all (no refill), beside its own 3 WebSocket commands.
    const { server, url } = await serve({ addressCommandBurst: 3, addressCommandsPerSecond: 1e-6 });
    const operator = await CrossbookClient.connect(url, { key: server.operatorKey });
    const key = await registerKey(operator, 5);
    await operator.close();
    const statuses: number[] = [];
    for (let i = 0; i < 23; i++) {
      const r = await getBalances(server.port, 80, key);
      statuses.push(r.status);
      if (i === 3) expect(await r.json()).toEqual({ code: "RateLimited", message: "rate limit: too many signed requests per second from this address" });
    }
    expect(statuses).toEqual([200, 200, 200, ...Array.from({ length: 20 }, () => 429)]);
  });

  it("X5, O8: subscription changes are paced per connection: of 103 Subscribe/Unsubscribe sent at once, the burst of 100 is acted on (50 Depth snapshots) and 3 get RateLimited with the limit; other commands are not affected", async () => {
    const { url } = await serve();
    const c = await CrossbookClient.connect(url);
    const got: EventJson[] = [];
    c.onEvent((e) => got.push(e));
    for (let i = 0; i < 103; i++) c.send({ type: i % 2 === 0 ? "Subscribe" : "Unsubscribe", market: 0, channels: ["Depth"] });
    const last = await c.request({ type: "QueryPoolStats", asset: 0 }, 20);
    expect(last.map((e) => e.type)).toEqual(["PoolStats"]);
    expect(got.filter((e) => e.type === "DepthSnapshot").length).toBe(50);
    const limited = got.filter((e) => e.type === "CommandRejected");
    expect(limited.map((e) => [e.code, e.clientSeq])).toEqual([["RateLimited", 101n], ["RateLimited", 102n], ["RateLimited", 103n]]);
    expect(limited[0]!.message).toBe("rate limit: more than 20 subscription changes per second on this connection (burst 100)");
    await c.close();
  }, 30_000);

  it("X5: text frames take rate tokens like any frame: with an address burst of 5, 200 text frames get 5 MalformedFrame and 195 RateLimited (before, 200 MalformedFrame: a flood the limits never saw)", async () => {
    const { url } = await serve({ addressCommandBurst: 5, addressCommandsPerSecond: 1e-6 });
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    const codes: string[] = [];
    ws.addEventListener("message", (m: MessageEvent) => {
      codes.push(String((decodeEvent(new Uint8Array(m.data as ArrayBuffer)) as { code?: unknown }).code)); // one event a message (no ?frames=batch)
    });
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error("no connect")), { once: true });
    });
    for (let i = 0; i < 200; i++) ws.send("x");
    const deadline = Date.now() + 10_000;
    while (codes.length < 200 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect([codes.filter((c) => c === "MalformedFrame").length, codes.filter((c) => c === "RateLimited").length]).toEqual([5, 195]);
    ws.close();
  }, 30_000);

  it("X5: account catch-ups are paced per connection: of 70 ResumeAccount sent at once the burst of 64 is answered (ResumeDone each), 6 get RateLimited with the limit (before, every one replayed the account's whole log)", async () => {
    const { server, url } = await serve();
    const operator = await CrossbookClient.connect(url, { key: server.operatorKey });
    await operator.request({ type: "Deposit", account: 32, asset: 0, amount: "1000" }, 20);
    const reader = await connectUser(url, operator, 2);
    const got: EventJson[] = [];
    reader.onEvent((e) => got.push(e));
    for (let i = 0; i < 70; i++) reader.send({ type: "ResumeAccount", account: 32, fromSeq: 1 });
    await reader.request({ type: "QueryPoolStats", asset: 0 }, 50);
    expect(got.filter((e) => e.type === "ResumeDone").length).toBe(64);
    const limited = got.filter((e) => e.type === "CommandRejected");
    expect(limited.map((e) => e.code)).toEqual(Array(6).fill("RateLimited"));
    expect(limited[0]!.message).toBe("rate limit: more than 2 account catch-ups (ResumeAccount, QueryAccountSnapshot) per second on this connection (burst 64)");
    await Promise.all([operator.close(), reader.close()]);
  }, 30_000);

  it("X6: a key without Read does not watch the account it trades for: after its refused Cancel it gets no event it did not cause (the operator's deposit) — before, any command made it a reader of the account's whole stream", async () => {
    const { server, url } = await serve();
    const operator = await CrossbookClient.connect(url, { key: server.operatorKey });
    await operator.request({ type: "Deposit", account: 32, asset: 0, amount: "1000" }, 20);
    const tradeOnly = await connectUser(url, operator, 2, undefined, 2); // Trade only
    expect((await tradeOnly.request({ type: "QueryCollateral", account: 32 }, 50))[0]).toMatchObject({ type: "CommandRejected", code: "Forbidden" });
    const answer = await tradeOnly.request({ type: "Cancel", account: 32, market: 0, orderId: 999_999n } as never, 50);
    expect(answer.map((e) => e.type)).toEqual(["OrderRejected"]); // its own command's answer still reaches it
    const seen: EventJson[] = [];
    tradeOnly.onEvent((e) => seen.push(e));
    await operator.request({ type: "Deposit", account: 32, asset: 0, amount: "12345" }, 50);
    await tradeOnly.request({ type: "QueryPoolStats", asset: 0 }, 50);
    expect(seen.filter((e) => e.clientSeq === 0n).map((e) => e.type)).toEqual([]);
    await Promise.all([operator.close(), tradeOnly.close()]);
  }, 30_000);

  it("X5: connections per address are bounded: the one over the limit is refused at the upgrade (HTTP 429)", async () => {
    const { url } = await serve({ connectionsPerAddressMax: 3 });
    const open = [await CrossbookClient.connect(url), await CrossbookClient.connect(url), await CrossbookClient.connect(url)];
    await expect(CrossbookClient.connect(url)).rejects.toThrow("cannot connect");
    await open[0]!.close();
    // A closed connection frees its place.
    const again = await CrossbookClient.connect(url);
    for (const c of [again, ...open.slice(1)]) await c.close();
  }, 30_000);

  it("X5: the session table is bounded, and anonymous connections cannot lock traders out: when it is full the longest-open session without a login is closed (1013) to make room; logged-in sessions are never closed for room", async () => {
    const { url } = await serve({ sessionsMax: 4 });
    const operator = await CrossbookClient.connect(url, { key: (running[0]!).operatorKey });
    const trader = await connectUser(url, operator, 1);
    // Two anonymous connections (public market data needs no login) fill the table: 4 of 4.
    const idle = [await CrossbookClient.connect(url), await CrossbookClient.connect(url)];
    // A trader who connects now gets in: the oldest anonymous session makes room, with a reason.
    const late = await connectUser(url, operator, 2);
    expect(await idle[0]!.closed).toEqual({ code: CLOSE_TRY_AGAIN_LATER, reason: "the server is full (4 sessions): the longest-open session without a login is closed to make room" });
    expect((await late.request({ type: "QueryPoolStats", asset: 0 }, 20)).map((e) => e.type)).toEqual(["PoolStats"]);
    // The second anonymous one goes for the next connection; then every session is logged in and the next is refused.
    const last = await connectUser(url, operator, 3);
    expect((await idle[1]!.closed).code).toBe(CLOSE_TRY_AGAIN_LATER);
    await expect(CrossbookClient.connect(url)).rejects.toThrow("cannot connect");
    for (const c of [operator, trader, late, last]) expect((await c.request({ type: "QueryPoolStats", asset: 0 }, 20)).map((e) => e.type)).toEqual(["PoolStats"]);
    for (const c of [operator, trader, late, last]) await c.close();
  }, 30_000);

  it("X5: read-only queries are answered in sequence and add nothing to the journal — also a batch of queries alone while no phase 0 has work (engine.ts D3) — and never beside a written command; the state hash equals a replay", async () => {
    const { server, url, dataDir } = await serve();
    const operator = await CrossbookClient.connect(url, { key: server.operatorKey });
    const c = await connectUser(url, operator, 1);
    await operator.request({ type: "Deposit", account: 16, asset: 0, amount: "1000" }, 20);
    await c.request({ type: "LimitOrder", account: 16, market: 0, side: "Buy", price: "50000", quantity: "0.01" }, 20);
    const journalBytes = (): number => listSegments(dataDir).reduce((n, seg) => n + statSync(seg.path).size, 0);
    const bytesBefore = journalBytes();
    const queries = [
      { type: "QueryCollateral", account: 16 },
      { type: "QueryMaxOrder", account: 16, market: 0, side: "Buy", price: "50000" },
      { type: "QueryMaxWithdrawal", account: 16, asset: 0 },
      { type: "QueryPoolStats" },
      { type: "QueryRateCurve", asset: 0, points: 5 },
      { type: "QueryInterestHistory", account: 16 },
      { type: "QueryMaxBorrow", account: 16, asset: 0 },
    ] as const;
    // One at a time: each query is a batch of its own, after a finished batch that left no phase-0 work: not written.
    let answered = 0;
    for (let round = 0; round < 30; round++) {
      for (const q of queries) answered += (await c.request(q, 5)).length > 0 ? 1 : 0;
    }
    expect(answered).toBe(30 * queries.length);
    expect(journalBytes()).toBe(bytesBefore);
    // Queries sent with deposits, back to back: wherever the batches fall, a query beside a deposit is not written.
    for (let round = 0; round < 20; round++) {
      for (const q of queries) c.send(q);
      operator.send({ type: "Deposit", account: 16, asset: 0, amount: "1" });
    }
    // The operator's connection is not ordered with the user's: the last deposit is awaited before the last query.
    await operator.request({ type: "Deposit", account: 16, asset: 0, amount: "1" }, 20);
    expect((await c.request({ type: "QueryMaxWithdrawal", account: 16, asset: 0 }, 20))[0]).toMatchObject({ type: "MaxWithdrawalQuantity", quantity: "521" });
    const live = await server.stateHash();
    await c.close();
    await operator.close();
    const engine = new Engine(config);
    const discard: EventSink = { publish: () => {} };
    const written: number[][] = [];
    for (const b of segmentBatches(listSegments(dataDir), { configDigestHex: configDigest(config) }, emptySummary())) {
      written.push(b.commands.slice(0, b.count).map((cmd) => cmd.kind));
      engine.processJournalBatch(b.commands, b.count, discard, b.batchNumber);
    }
    expect(written.filter((kinds) => kinds.some(isReadOnlyCommand) && !kinds.every(isReadOnlyCommand))).toEqual([]);
    // The key registration is journaled too (X6): the gateway rebuilds its key registry from the journal.
    const commands = written.filter((kinds) => !kinds.every(isReadOnlyCommand)).flat();
    expect(commands).toEqual([CommandKind.RegisterApiKey, CommandKind.Deposit, CommandKind.PlaceOrder, ...new Array<number>(21).fill(CommandKind.Deposit)]);
    expect(engine.stateHash()).toBe(live);
  }, 60_000);
});

describe("events a client does not read", () => {
  it("X5: a non-reading client is cut at the global cap (close 1013 with a reason), the slowest first, while a reading client gets every answer", async () => {
    const CAP = 1024 * 1024;
    const { server, url } = await serve({ unsentGlobalMaxBytes: CAP, sessionUnsentMaxBytes: 64 * CAP });
    const hog = await nonReadingClient(server.port, "/");
    const normal = await CrossbookClient.connect(url, { key: server.operatorKey });
    let accepted = 0;
    normal.onEvent((e) => {
      if (e.type === "CommandAccepted") accepted++;
    });
    // Large answers for the hog until it is cut; meanwhile the normal client deposits and reads.
    const flooding = floodUntil(hog, () => server.stats().slowConsumersCut > 0);
    const DEPOSITS = 2000;
    for (let i = 0; i < DEPOSITS; i++) {
      normal.send({ type: "Deposit", account: 16 * (10 + (i % 50)), asset: 0, amount: "1" });
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 5));
    }
    const deadline = Date.now() + 30_000;
    while ((accepted < DEPOSITS || server.stats().slowConsumersCut === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await flooding;
    expect(accepted).toBe(DEPOSITS);
    expect(server.stats().slowConsumersCut).toBe(1);
    expect(server.stats().unsentPeakBytes).toBeLessThanOrEqual(CAP);
    const close = await hog.resume();
    expect(close?.code).toBe(CLOSE_TRY_AGAIN_LATER);
    expect(close?.reason).toMatch(/^behind: slowest of all clients with \d+ bytes unsent \(server limit reached\); reconnect and resume$/);
    expect(server.stats().sessions).toBe(1);
    await normal.close();
  }, 60_000);

  it("X5: a client over its own unsent limit gets a close frame with the reason (1013), not a dropped connection (1006)", async () => {
    const LIMIT = 256 * 1024;
    const { server } = await serve({ sessionUnsentMaxBytes: LIMIT });
    const hog = await nonReadingClient(server.port, "/");
    await floodUntil(hog, () => server.stats().slowConsumersCut > 0);
    expect(server.stats().slowConsumersCut).toBe(1); // else resume() would read what the server holds and wait forever
    const close = await hog.resume();
    expect(close?.code).toBe(CLOSE_TRY_AGAIN_LATER);
    expect(close?.reason).toMatch(new RegExp(`^behind: \\d+ bytes of events unsent \\(limit ${LIMIT}\\); reconnect and resume$`));
  }, 60_000);
});
