// A client that falls behind is closed with a reason and catches up (X5): it asks for its account's events again
// from a sequence number it names (the gateway's bounded per-account log), or for a fresh snapshot of the account —
// balances and resting orders — with the sequence number it is valid at.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { EventKind, EventRecord } from "../engine/model/index.ts";
import { loadConfig } from "../engine/pipeline/index.ts";
import { ACCOUNT_EVENT_LOG_BYTES_MAX, ACCOUNT_EVENT_LOGS_MAX, AccountEventLog } from "../gateway/account-catch-up.ts";
import { decodeEvent, type EventJson } from "../gateway/client/codec.ts";
import { encodeEvent } from "../gateway/codec/index.ts";
import { SessionRegistry } from "../gateway/sessions.ts";
import { CrossbookClient } from "../gateway/client/ws-client.ts";
import { CLOSE_TRY_AGAIN_LATER } from "../gateway/limits.ts";
import { startServer, type GatewayLimits, type RunningServer } from "../gateway/server.ts";
import { connectUser, getStateHash, registerKey } from "./helpers/auth.ts";
import { floodUntil, nonReadingClient } from "./helpers/raw-ws.ts";

const config = loadConfig();
const running: RunningServer[] = [];

afterEach(async () => {
  for (const s of running.splice(0)) await s.stop();
});

async function serve(limits: Partial<GatewayLimits> = {}): Promise<{ server: RunningServer; url: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), "crossbook-catch-up-"));
  const server = await startServer({ config, host: "127.0.0.1", port: 0, dataDir, tickIntervalMs: 0, log: () => {}, limits });
  running.push(server);
  return { server, url: `ws://127.0.0.1:${server.port}` };
}

/** An event without its client_seq (re-sent events carry 0; the watcher saw 0 too, but say so explicitly). */
function plain(e: EventJson): EventJson {
  return { ...e, clientSeq: 0n };
}

describe("catching up on an account", () => {
  it("X5: a client cut for not reading (close 1013) reconnects and resumes its account's events from a seq it names: exactly the events a reading watcher got from there", async () => {
    const { server, url } = await serve({ sessionUnsentMaxBytes: 256 * 1024 });
    const ALICE = 16 * 300;
    const BOB = 16 * 301;
    const operator = await CrossbookClient.connect(url, { key: server.operatorKey });
    const watcher = await connectUser(url, operator, ALICE >>> 4, [ALICE]);
    const seen: EventJson[] = [];
    watcher.onEvent((e) => seen.push(e));
    // The hog watches Alice too, and asks for large answers it never reads until it is cut.
    const hog = await nonReadingClient(server.port, `/?watch=${ALICE}`, await registerKey(operator, ALICE >>> 4));
    await operator.request({ type: "Deposit", account: ALICE, asset: 0, amount: "100000" }, 20);
    await operator.request({ type: "Deposit", account: BOB, asset: 2, amount: "2" }, 20);
    const bob = await connectUser(url, operator, BOB >>> 4);
    const alice = await connectUser(url, operator, ALICE >>> 4);
    await bob.request({ type: "LimitOrder", account: BOB, market: 0, side: "Sell", price: "60000", quantity: "1" }, 20);
    for (let i = 0; i < 20; i++) await alice.request({ type: "LimitOrder", account: ALICE, market: 0, side: "Buy", price: "60000", quantity: "0.01" }, 5);
    await floodUntil(hog, () => server.stats().slowConsumersCut > 0);
    expect(server.stats().slowConsumersCut).toBe(1); // else resume() would read what the server holds and wait forever
    const close = await hog.resume();
    expect(close?.code).toBe(CLOSE_TRY_AGAIN_LATER);
    // The hog's queries accepted before the cut are still being answered (thousands under load: the flood runs on this
    // process's event loop, beside the gateway): wait for the engine to pass them before timing requests again.
    await operator.request({ type: "QueryPoolStats", asset: 0 }, 20, 60_000);
    // (X6: registering the resuming session's key answers on Alice's account too: connect it before counting.)
    const resumed = await connectUser(url, operator, ALICE >>> 4);
    await new Promise((r) => setTimeout(r, 100));
    // Resume from the seq of the third order's events: the watcher's events from the first of that seq on, in order.
    const orderSeqs = [...new Set(seen.filter((e) => e.type === "OrderAccepted").map((e) => e.seq))];
    expect(orderSeqs).toHaveLength(20);
    const fromSeq = Number(orderSeqs[2]!);
    const expected = seen.slice(seen.findIndex((e) => e.seq >= BigInt(fromSeq))).map(plain);
    const { events, done } = await resumed.resume(ALICE, fromSeq);
    expect(done).toMatchObject({ type: "ResumeDone", account: ALICE, fromSeq: BigInt(fromSeq), events: expected.length, complete: true });
    expect(events.map(plain)).toEqual(expected);
    // 18 orders of 0.01 BTC at 60,000, each filled against Bob's sell, each with its fill and balances.
    expect(events.filter((e) => e.type === "Fill")).toHaveLength(18);
    // Alice was watched before her first command. Bob was first watched when his session logged in (after seq 5,
    // his key's registration), after his deposit (seq 4): from seq 1 his log is not complete; from his order (7) it is.
    // (X6: seq 1 registers the watcher's key, answered on Alice's account before anyone watched it: from 2 on.)
    expect((await resumed.resume(ALICE, 1)).done).toMatchObject({ complete: false });
    expect((await resumed.resume(ALICE, 2)).done).toMatchObject({ complete: true });
    // (X6: Bob's account is read through a session of Bob's user; key registrations are journaled commands too.)
    const resumedBob = await connectUser(url, operator, BOB >>> 4);
    expect((await resumedBob.resume(BOB, 1)).done).toMatchObject({ complete: false });
    expect((await resumedBob.resume(BOB, 7)).done).toMatchObject({ complete: true });
    await resumedBob.close();
    // The resumed connection watches the account from then on.
    const live = resumed.waitFor((e) => e.type === "Balance" && (e as { account: number }).account === ALICE);
    await operator.request({ type: "Deposit", account: ALICE, asset: 0, amount: "1" }, 20);
    expect(await live).toMatchObject({ available: "88001" });
    for (const c of [operator, watcher, bob, alice, resumed]) await c.close();
  }, 90_000);

  it("X5: a snapshot gives the account's balances and resting orders (remaining after partial fills) with the seq it is valid at, then live events follow", async () => {
    const { server, url } = await serve();
    const ALICE = 16 * 310;
    const BOB = 16 * 311;
    const operator = await CrossbookClient.connect(url, { key: server.operatorKey });
    await operator.request({ type: "Deposit", account: ALICE, asset: 0, amount: "100000" }, 20);
    await operator.request({ type: "Deposit", account: BOB, asset: 2, amount: "1" }, 20);
    const alice = await connectUser(url, operator, ALICE >>> 4);
    const bob = await connectUser(url, operator, BOB >>> 4);
    const buy1 = await alice.request({ type: "LimitOrder", account: ALICE, market: 0, side: "Buy", price: "59000", quantity: "0.5", clientId: 11 }, 20);
    await alice.request({ type: "LimitOrder", account: ALICE, market: 0, side: "Buy", price: "58000", quantity: "0.2", clientId: 12 }, 20);
    await bob.request({ type: "MarketOrder", account: BOB, market: 0, side: "Sell", quantity: "0.3" }, 50);
    const orderId1 = (buy1.find((e) => e.type === "OrderAccepted") as { orderId: bigint }).orderId;
    const fresh = await connectUser(url, operator, ALICE >>> 4);
    const lastSeq = (await getStateHash(server.port, server.operatorKey)).lastSeq;
    const { events, done } = await fresh.snapshot(ALICE);
    expect(done).toMatchObject({ type: "AccountSnapshot", account: ALICE, validAtSeq: BigInt(lastSeq), balances: 2, orders: 2 });
    // Alice, the maker, bought 0.3 BTC at 59,000 (17,700 USDC; maker fee 0.08% of the BTC received); her two
    // orders still lock 0.2 × 59,000 + 0.2 × 58,000 = 23,400 USDC.
    expect(events.filter((e) => e.type === "Balance").map((e) => ({ asset: (e as { asset: number }).asset, available: (e as { available: string }).available, locked: (e as { locked: string }).locked }))).toEqual([
      { asset: 0, available: "58900", locked: "23400" },
      { asset: 2, available: "0.29976", locked: "0" },
    ]);
    expect(events.filter((e) => e.type === "OpenOrder")).toEqual([
      expect.objectContaining({ orderId: orderId1, clientId: 11n, side: "Buy", price: "59000", remaining: "0.2" }),
      expect.objectContaining({ clientId: 12n, side: "Buy", price: "58000", remaining: "0.2" }),
    ]);
    const live = fresh.waitFor((e) => e.type === "Fill");
    await bob.request({ type: "MarketOrder", account: BOB, market: 0, side: "Sell", quantity: "0.1" }, 50);
    expect(await live).toMatchObject({ makerAccount: ALICE, quantity: "0.1", price: "59000" });
    for (const c of [operator, alice, bob, fresh]) await c.close();
  }, 60_000);
});

/** A CommandRejected of `account` for command `seq` whose frame size grows with `messageChars`. */
function rejected(account: number, seq: number, messageChars: number): EventRecord {
  const e = new EventRecord();
  e.kind = EventKind.CommandRejected;
  e.account = account;
  e.seq = seq;
  e.code = 1;
  e.message = `m${seq}:`.padEnd(messageChars, "x");
  return e;
}

describe("the account event log (a ring bounded by ACCOUNT_EVENT_LOG_BYTES_MAX)", () => {
  it("X5: beyond ACCOUNT_EVENT_LOGS_MAX accounts the least recently tracked one is forgotten — a refresh (the account's next command) keeps it", () => {
    const log = new AccountEventLog(config);
    const logged = (account: number): boolean => log.replay(account, 1, () => {}).complete;
    for (let a = 0; a < ACCOUNT_EVENT_LOGS_MAX; a++) log.track(1000 + a, 0);
    log.track(1000, 0); // the oldest, refreshed: 1001 is now the least recent
    log.track(5000, 0);
    expect([logged(1000), logged(1001), logged(1002), logged(5000)]).toEqual([true, false, true, true]);
    log.track(1002, 0);
    log.track(5001, 0); // 1003 is the least recent now (1002 was refreshed)
    expect([logged(1002), logged(1003), logged(1004), logged(5001)]).toEqual([true, false, true, true]);
  });

  it("X5: frames of random sizes through many wraps and growths of the log's byte arena: every kept frame is byte-exact", () => {
    const ACCOUNT = 16 * 8;
    const log = new AccountEventLog(config);
    log.track(ACCOUNT, 0);
    let x = 20261206;
    const next = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
    const frames = new Map<number, Uint8Array>();
    const kept: number[] = [];
    let keptBytes = 0;
    for (let seq = 1; seq <= 6000; seq++) {
      const chars = next() % 8 === 0 ? 600 + (next() % 2400) : 10 + (next() % 200);
      const e = rejected(ACCOUNT, seq, chars);
      log.record(e);
      const bytes = encodeEvent(e, 0n, config).slice();
      expect(log.plainFrame).toEqual(bytes);
      frames.set(seq, bytes);
      kept.push(seq);
      keptBytes += bytes.length;
      while (keptBytes > ACCOUNT_EVENT_LOG_BYTES_MAX && kept.length > 1) keptBytes -= frames.get(kept.shift()!)!.length;
      if (seq % 1000 === 0) {
        const got: Uint8Array[] = [];
        log.replay(ACCOUNT, 1, (f) => got.push(f.slice()));
        expect(got.length).toBe(kept.length);
        for (let i = 0; i < got.length; i++) expect(got[i]).toEqual(frames.get(kept[i]!));
      }
    }
  });

  it("X5: after the log wrapped (and grew while wrapped), resume returns exactly the kept events from the named seq, oldest first, and says whether it reaches back", () => {
    const ACCOUNT = 16 * 7;
    const log = new AccountEventLog(config);
    log.track(ACCOUNT, 0);
    // A reference model of the bound: keep the newest frames whose bytes fit, always at least one.
    const kept: { seq: number; bytes: number }[] = [];
    let keptBytes = 0;
    let coversFromSeq = 1;
    // Large frames first (the ring wraps as the oldest are dropped), then small ones (it grows while wrapped).
    const sizes = [...Array.from({ length: 400 }, () => 2000), ...Array.from({ length: 3000 }, (_, i) => 20 + (i % 7))];
    sizes.forEach((chars, i) => {
      const e = rejected(ACCOUNT, i + 1, chars);
      log.record(e);
      kept.push({ seq: i + 1, bytes: encodeEvent(e, 0n, config).length });
      keptBytes += kept.at(-1)!.bytes;
      while (keptBytes > ACCOUNT_EVENT_LOG_BYTES_MAX && kept.length > 1) {
        const dropped = kept.shift()!;
        keptBytes -= dropped.bytes;
        coversFromSeq = dropped.seq + 1;
      }
    });
    expect(kept[0]!.seq).toBeGreaterThan(400); // every large frame is gone
    expect(coversFromSeq).toBe(kept[0]!.seq);
    const resend = (fromSeq: number): { seqs: bigint[]; messages: string[]; events: number; complete: boolean } => {
      const got: EventJson[] = [];
      const r = log.replay(ACCOUNT, fromSeq, (frame) => got.push(decodeEvent(frame)));
      const messages = got.map((e) => (e.type === "CommandRejected" ? e.message : e.type));
      return { seqs: got.map((e) => e.seq), messages, ...r };
    };
    const from = 3000;
    const expected = kept.filter((k) => k.seq >= from);
    const tail = resend(from);
    expect(tail.seqs).toEqual(expected.map((k) => BigInt(k.seq)));
    expect(tail.messages[0]).toBe(rejected(ACCOUNT, from, 20 + ((from - 401) % 7)).message);
    expect(tail).toMatchObject({ events: 3400 - from + 1, complete: true });
    // From before what the log still holds: everything kept, and not complete (some events are gone).
    const all = resend(coversFromSeq - 1);
    expect(all.seqs).toEqual(kept.map((k) => BigInt(k.seq)));
    expect(all).toMatchObject({ events: kept.length, complete: false });
    expect(resend(coversFromSeq)).toMatchObject({ events: kept.length, complete: true });
    expect(resend(3401)).toMatchObject({ seqs: [], events: 0, complete: true });
  });

  it("X5: each view of an event is encoded once: the frame logged is the frame the account's watchers and the maker's watchers are sent", () => {
    const TAKER = 16 * 8;
    const MAKER = 16 * 9;
    const log = new AccountEventLog(config);
    log.track(TAKER, 0);
    log.track(MAKER, 0);
    const fill = new EventRecord();
    fill.kind = EventKind.Fill;
    fill.seq = 5;
    fill.account = TAKER;
    fill.makerAccount = MAKER;
    fill.market = 0;
    fill.price = 60_000_000_000n;
    fill.quantity = 1_000n;
    log.record(fill);
    expect(log.plainFrame).toEqual(encodeEvent(fill, 0n, config).slice());
    expect(log.makerFrame).toEqual(encodeEvent(fill, 0n, config, true).slice());
    const replayed: Uint8Array[] = [];
    log.replay(TAKER, 5, (f) => replayed.push(f));
    log.replay(MAKER, 5, (f) => replayed.push(f));
    // The replayed frames are the logged bytes themselves (views of the same arena bytes), not encoded again.
    const where = (f: Uint8Array): [ArrayBufferLike, number, number] => [f.buffer, f.byteOffset, f.length];
    expect(where(replayed[0]!)).toEqual(where(log.plainFrame!));
    expect(replayed[0]!.buffer).toBe(log.plainFrame!.buffer);
    expect(where(replayed[1]!)).toEqual(where(log.makerFrame!));
    expect(replayed[1]!.buffer).toBe(log.makerFrame!.buffer);
    const sent = new Map<string, Uint8Array[]>([["taker", []], ["maker", []]]);
    const reg = new SessionRegistry(config);
    const taker = reg.open({ send: (b) => sent.get("taker")!.push(b), bufferedAmount: () => 0 }, false);
    const maker = reg.open({ send: (b) => sent.get("maker")!.push(b), bufferedAmount: () => 0 }, false);
    reg.watch(taker, TAKER);
    reg.watch(maker, MAKER);
    reg.dispatch(fill, null, 0, 0n, log.plainFrame, log.makerFrame);
    expect(sent.get("taker")).toEqual([log.plainFrame]);
    expect(sent.get("taker")![0]).toBe(log.plainFrame);
    expect(sent.get("maker")![0]).toBe(log.makerFrame);
    expect(decodeEvent(sent.get("maker")![0]!)).toMatchObject({ type: "Fill", isMaker: true, takerAccount: TAKER, makerAccount: MAKER, quantity: "0.00001" });
    // The sender's frame is the logged frame with client_seq set in its bytes (no second encode): the same event
    // as a direct encode for the sender, and every byte but the 8 of client_seq equal to the logged frame's.
    const senderSent: Uint8Array[] = [];
    const sender = reg.open({ send: (b) => senderSent.push(b.slice()), bufferedAmount: () => 0 }, false);
    reg.watch(sender, TAKER);
    reg.dispatch(fill, sender, TAKER, 4_242n, log.plainFrame, log.makerFrame);
    expect(senderSent).toHaveLength(1);
    expect(decodeEvent(senderSent[0]!)).toEqual(decodeEvent(encodeEvent(fill, 4_242n, config).slice()));
    expect(decodeEvent(senderSent[0]!)).toMatchObject({ clientSeq: 4_242n, seq: 5n });
    const differing = [...senderSent[0]!].filter((b, i) => b !== log.plainFrame![i]).length;
    expect([senderSent[0]!.length, differing]).toEqual([log.plainFrame!.length, 2]); // 4,242 = 0x1092: two bytes
    expect(decodeEvent(log.plainFrame!)).toMatchObject({ clientSeq: 0n });
    // An event of an account nobody logs: no frame kept, the watchers' frame is encoded at dispatch.
    log.record(rejected(16 * 10, 6, 10));
    expect(log.plainFrame).toBeNull();
    expect(log.makerFrame).toBeNull();
  });

  it("X5: record(e, false) (nothing encodes before the dispatch, as for every event with a seq) hands the watchers the encoder's frame, no view of the log's copy; the log keeps the same bytes, and a fill with a maker's view still gets the log's copies", () => {
    const A = 16 * 8;
    const MAKER = 16 * 9;
    const log = new AccountEventLog(config);
    log.track(A, 0);
    log.track(MAKER, 0);
    const balance = new EventRecord();
    balance.kind = EventKind.Balance;
    balance.seq = 7;
    balance.account = A;
    balance.asset = 1;
    balance.available = 123_456_789n;
    balance.locked = 5n;
    const expected = encodeEvent(balance, 0n, config).slice();
    const sent: Uint8Array[] = [];
    const senderSent: Uint8Array[] = [];
    const reg = new SessionRegistry(config);
    const watcher = reg.open({ send: (b) => sent.push(b.slice()), bufferedAmount: () => 0 }, false);
    const sender = reg.open({ send: (b) => senderSent.push(b.slice()), bufferedAmount: () => 0 }, false);
    reg.watch(watcher, A);
    reg.watch(sender, A);
    log.record(balance, false);
    const frame = log.plainFrame!;
    expect(frame).toEqual(expected);
    reg.dispatch(balance, sender, A, 31n, log.plainFrame, log.makerFrame);
    const logged: Uint8Array[] = [];
    log.replay(A, 7, (f) => logged.push(f));
    expect(logged).toEqual([expected]);
    // Not a view of the log's arena: the encoder's own bytes, valid until the next encode (the log has its copy).
    expect(logged[0]!.buffer).not.toBe(frame.buffer);
    expect(sent).toEqual([expected]);
    expect(senderSent).toEqual([encodeEvent(balance, 31n, config).slice()]);
    // The same bytes as with the stable copies (record(e) as before).
    const stable = new AccountEventLog(config);
    stable.track(A, 0);
    stable.record(balance);
    expect(stable.plainFrame).toEqual(expected);
    // A fill with a maker's view: the maker's frame is encoded second, so the taker's frame is the log's copy.
    const fill = new EventRecord();
    fill.kind = EventKind.Fill;
    fill.seq = 8;
    fill.account = A;
    fill.makerAccount = MAKER;
    fill.market = 0;
    fill.price = 60_000_000_000n;
    fill.quantity = 1_000n;
    log.record(fill, false);
    const fillLogged: Uint8Array[] = [];
    log.replay(A, 8, (f) => fillLogged.push(f));
    expect(fillLogged[0]!.buffer).toBe(log.plainFrame!.buffer);
    expect(log.plainFrame).toEqual(encodeEvent(fill, 0n, config).slice());
    expect(log.makerFrame).toEqual(encodeEvent(fill, 0n, config, true).slice());
  });
});
