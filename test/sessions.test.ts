// Gateway sessions: event routing never leaks another account's events, and every session is bounded (accounts
// watched, command rate) — a limit on everything, with a typed reject when exceeded.
import { describe, expect, it } from "vitest";
import { EventKind, EventRecord } from "../engine/model/index.ts";
import { loadConfig } from "../engine/pipeline/index.ts";
import { decodeEvent } from "../gateway/client/codec.ts";
import { encodeEvent, withClientSeq } from "../gateway/codec/index.ts";
import {
  BatchedSocket,
  OUTBOX_BYTES_MAX,
  OutboxFlusher,
  SESSION_ACCOUNTS_MAX,
  SESSION_COMMAND_BURST,
  SESSION_COMMANDS_PER_SECOND,
  SessionRegistry,
  type CorkableWebSocket,
} from "../gateway/sessions.ts";

const config = loadConfig();

function socket(): { frames: ReturnType<typeof decodeEvent>[]; send(b: Uint8Array): void; bufferedAmount(): number } {
  const frames: ReturnType<typeof decodeEvent>[] = [];
  return { frames, send: (b) => frames.push(decodeEvent(b)), bufferedAmount: () => 0 };
}

function balance(account: number, seq: number): EventRecord {
  const e = new EventRecord();
  e.kind = EventKind.Balance;
  e.seq = seq;
  e.account = account;
  e.asset = 0;
  e.available = 5n;
  return e;
}

describe("sessions", () => {
  it("X5: a command's sender gets the events of the account it acted for, never another account's", () => {
    const reg = new SessionRegistry(config);
    const a = socket();
    const operator = socket();
    const alice = reg.open(a, false);
    const op = reg.open(operator, true);
    reg.watch(alice, 16);
    reg.dispatch(balance(16, 9), op, 16, 3n); // the operator's deposit to 16: alice watches 16, the operator sent it
    reg.dispatch(balance(32, 9), op, 16, 3n); // a maker's balance in the same command: nobody watching 32 sees it
    expect(a.frames.map((f) => f.clientSeq)).toEqual([0n]);
    expect(operator.frames).toHaveLength(1);
    expect(operator.frames[0]).toMatchObject({ type: "Balance", account: 16, clientSeq: 3n });
  });

  it("a session acts for at most SESSION_ACCOUNTS_MAX accounts", () => {
    const reg = new SessionRegistry(config);
    const s = reg.open(socket(), false);
    for (let i = 0; i < SESSION_ACCOUNTS_MAX; i++) expect(reg.watch(s, (i + 1) * 16)).toBe(true);
    expect(reg.watch(s, 99_999 * 16)).toBe(false);
    expect(reg.watch(s, 16)).toBe(true);
  });

  it("the command rate limit admits a burst, refuses beyond it, and refills with time", () => {
    const reg = new SessionRegistry(config);
    const s = reg.open(socket(), false);
    let admitted = 0;
    for (let i = 0; i < SESSION_COMMAND_BURST + 10; i++) if (s.takeCommandToken(1000)) admitted++;
    expect(admitted).toBe(SESSION_COMMAND_BURST);
    expect(s.takeCommandToken(1000)).toBe(false);
    // 1 ms later: SESSION_COMMANDS_PER_SECOND / 1000 new tokens.
    let refilled = 0;
    while (s.takeCommandToken(1001)) refilled++;
    expect(refilled).toBe(SESSION_COMMANDS_PER_SECOND / 1000);
  });
});

/** A uWS WebSocket double: records each send and whether it happened inside cork(). */
function fakeWebSocket(): { sends: { bytes: number[]; corked: boolean }[]; corks: number; ended: number; api: CorkableWebSocket } {
  const state = { sends: [] as { bytes: number[]; corked: boolean }[], corks: 0, ended: 0, api: null as unknown as CorkableWebSocket };
  let corked = false;
  state.api = {
    send: (bytes) => state.sends.push({ bytes: [...bytes], corked }),
    cork: (write) => {
      state.corks++;
      corked = true;
      write();
      corked = false;
    },
    getBufferedAmount: () => 7,
    end: () => state.ended++,
  };
  return state;
}

describe("batched socket (issue 15: one write per socket per turn)", () => {
  it("frames of one turn are written in order under one cork, after the turn; send copies the bytes", async () => {
    const flusher = new OutboxFlusher();
    const ws = fakeWebSocket();
    const s = new BatchedSocket(ws.api, flusher);
    const scratch = Uint8Array.of(1, 2, 3);
    s.send(scratch);
    scratch[0] = 9; // the encoder reuses its buffer: the queued frame must not change
    s.send(Uint8Array.of(4));
    s.send(new Uint8Array(5000).fill(6));
    expect(ws.sends).toHaveLength(0);
    expect(s.bufferedAmount()).toBe(7 + 3 + 1 + 5000);
    await Promise.resolve();
    expect(ws.corks).toBe(1);
    expect(ws.sends.map((x) => x.bytes.length)).toEqual([3, 1, 5000]);
    expect(ws.sends[0]!.bytes).toEqual([1, 2, 3]);
    expect(ws.sends[1]!.bytes).toEqual([4]);
    expect(ws.sends.every((x) => x.corked)).toBe(true);
    expect(s.bufferedAmount()).toBe(7);
    s.send(Uint8Array.of(8));
    await Promise.resolve();
    expect(ws.corks).toBe(2);
    expect(ws.sends[3]!.bytes).toEqual([8]);
  });

  it("a closed connection gets nothing more; close() writes what was queued first", async () => {
    const flusher = new OutboxFlusher();
    const gone = fakeWebSocket();
    const closing = fakeWebSocket();
    const a = new BatchedSocket(gone.api, flusher);
    const b = new BatchedSocket(closing.api, flusher);
    const reg = new SessionRegistry(config);
    const session = reg.open(a, false);
    a.send(Uint8Array.of(1));
    b.send(Uint8Array.of(2));
    reg.close(session); // uWS reported the close: the queued frame is dropped
    b.close(4403, "revoked");
    expect(closing.sends.map((x) => x.bytes)).toEqual([[2]]);
    expect(closing.ended).toBe(1);
    b.send(Uint8Array.of(3));
    await Promise.resolve();
    expect(gone.sends).toHaveLength(0);
    expect(closing.sends).toHaveLength(1);
  });

  it("the outbox is bounded: past OUTBOX_BYTES_MAX the queued frames are written at once", () => {
    const ws = fakeWebSocket();
    const s = new BatchedSocket(ws.api, new OutboxFlusher());
    const frame = new Uint8Array(OUTBOX_BYTES_MAX / 4);
    for (let i = 0; i < 4; i++) s.send(frame);
    expect(ws.sends).toHaveLength(0);
    s.send(frame);
    expect(ws.sends).toHaveLength(4);
    expect(s.bufferedAmount()).toBe(7 + OUTBOX_BYTES_MAX / 4);
  });
});

describe("the sender's client_seq set in the outbox's copy (issue 15: one copy fewer)", () => {
  it("X5: a watcher sees client_seq 0, the sender its client_seq, byte for byte withClientSeq's frame — also when the send grows the outbox (a frame queued across the growth)", async () => {
    const reg = new SessionRegistry(config);
    const ws = fakeWebSocket();
    const flusher = new OutboxFlusher();
    const sender = reg.open(new BatchedSocket(ws.api, flusher), false);
    const other = socket();
    reg.watch(reg.open(other, false), 16);
    reg.watch(sender, 16);
    const expected: string[] = [];
    // 4 KiB of outbox to start: ~90-byte Balance frames grow it several times within the turn.
    for (let i = 1; i <= 200; i++) {
      const e = balance(16, i);
      e.available = BigInt(i) * 1_000_003n;
      reg.dispatch(e, sender, 16, BigInt(1000 + i));
      expected.push(Buffer.from(withClientSeq(encodeEvent(e, 0n, config), BigInt(1000 + i))).toString("hex"));
      // The sender's frame is the frame encoded for it directly (encodeEvent with its client_seq), byte for byte.
      expect(expected[i - 1]).toBe(Buffer.from(encodeEvent(e, BigInt(1000 + i), config)).toString("hex"));
    }
    await Promise.resolve();
    expect(ws.sends.map((x) => Buffer.from(x.bytes).toString("hex"))).toEqual(expected);
    expect(other.frames.map((f) => f.clientSeq)).toEqual(expected.map(() => 0n));
    expect(decodeEvent(Uint8Array.from(ws.sends[199]!.bytes))).toMatchObject({ type: "Balance", clientSeq: 1200n, seq: 200n, available: "200.0006" });
  });
});

describe("event fan-out encodes once", () => {
  it("X5: every watcher of the account gets the event, only the sender with its client_seq (shared bytes are re-encoded after the sender's)", () => {
    const reg = new SessionRegistry(config);
    const sockets = [socket(), socket(), socket(), socket()];
    const sessions = sockets.map((s) => reg.open(s, false));
    for (const s of sessions) reg.watch(s, 16);
    reg.dispatch(balance(16, 9), sessions[1]!, 16, 3n);
    expect(sockets.map((s) => s.frames.map((f) => f.clientSeq))).toEqual([[0n], [3n], [0n], [0n]]);
    expect(sockets.map((s) => s.frames[0])).toEqual(sockets.map(() => expect.objectContaining({ type: "Balance", account: 16, available: "0.000005", seq: 9n })));
  });
});
