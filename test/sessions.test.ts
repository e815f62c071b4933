// Gateway sessions: event routing never leaks another account's events, and every session is bounded (accounts
// watched, command rate) — a limit on everything, with a typed reject when exceeded.
import { describe, expect, it } from "vitest";
import { EventKind, EventRecord } from "../engine/model/index.ts";
import { loadConfig } from "../engine/pipeline/index.ts";
import { decodeEvent, splitEventFrames, WireFormatError } from "../gateway/client/codec.ts";
import { encodeEvent, withClientSeq } from "../gateway/codec/index.ts";
import {
  BatchedSocket,
  eventFramingOf,
  OUTBOX_BYTES_KEPT,
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

describe("the outbox after a burst (X5)", () => {
  it("X5: an outbox a burst grew (600 KB in one turn) is let go once written: the idle session keeps at most OUTBOX_BYTES_KEPT (32 KB) and 512 frame lengths — before, its busiest turn's buffer for as long as it stayed open", async () => {
    const ws = fakeWebSocket();
    const s = new BatchedSocket(ws.api, new OutboxFlusher());
    const initial = s.heldBytes();
    for (let i = 0; i < 600; i++) s.send(new Uint8Array(1000));
    expect(s.heldBytes()).toBe(1024 * 1024 + 1024 * 4); // grown by doubling to 1 MB, 1,024 lengths
    await Promise.resolve(); // the turn's flush writes the 600 frames
    expect(ws.sends).toHaveLength(600);
    expect([s.heldBytes(), OUTBOX_BYTES_KEPT]).toEqual([32 * 1024 + 512 * 4, 32 * 1024]);
    expect(initial).toBe(4096 + 64 * 4);
    s.send(Uint8Array.of(5)); // it still works after
    await Promise.resolve();
    expect(ws.sends[600]!.bytes).toEqual([5]);
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

describe("several events per message (issue 15: ?frames=batch)", () => {
  it("X5: with the batch framing a turn's frames leave as one message, each behind its 4-byte little-endian size, in order", async () => {
    const ws = fakeWebSocket();
    const s = new BatchedSocket(ws.api, new OutboxFlusher(), "batch");
    const scratch = Uint8Array.of(1, 2, 3);
    s.send(scratch);
    scratch[0] = 9; // copied when queued, as with one frame per message
    s.send(Uint8Array.of(4));
    s.send(new Uint8Array(300).fill(6));
    expect(s.bufferedAmount()).toBe(7 + 3 * 4 + 3 + 1 + 300);
    await Promise.resolve();
    expect(ws.corks).toBe(1);
    expect(ws.sends).toHaveLength(1);
    expect(ws.sends[0]!.bytes.slice(0, 12)).toEqual([3, 0, 0, 0, 1, 2, 3, 1, 0, 0, 0, 4]);
    expect(ws.sends[0]!.bytes.slice(12, 16)).toEqual([44, 1, 0, 0]);
    expect(ws.sends[0]!.bytes).toHaveLength(12 + 4 + 300);
    const split: number[][] = [];
    expect(splitEventFrames(Uint8Array.from(ws.sends[0]!.bytes), (f) => split.push([...f]))).toBe(3);
    expect(split).toEqual([[1, 2, 3], [4], new Array<number>(300).fill(6)]);
  });

  it("X5: a batch message holds the sender's client_seq and the watchers' 0 in the same bytes as one frame per message; a message stays within OUTBOX_BYTES_MAX", async () => {
    const reg = new SessionRegistry(config);
    const batchWs = fakeWebSocket();
    const singleWs = fakeWebSocket();
    const flusher = new OutboxFlusher();
    const batched = reg.open(new BatchedSocket(batchWs.api, flusher, "batch"), false);
    const single = reg.open(new BatchedSocket(singleWs.api, flusher, "single"), false);
    reg.watch(batched, 16);
    reg.watch(single, 16);
    // 200 Balance frames, the first 100 sent by the batched session (its client_seq), the others by nobody.
    for (let i = 1; i <= 200; i++) {
      const e = balance(16, i);
      e.available = BigInt(i) * 1_000_003n;
      reg.dispatch(e, i <= 100 ? batched : null, 16, i <= 100 ? BigInt(1000 + i) : 0n);
    }
    await Promise.resolve();
    expect(batchWs.sends).toHaveLength(1);
    expect(singleWs.sends).toHaveLength(200);
    const frames: string[] = [];
    splitEventFrames(Uint8Array.from(batchWs.sends[0]!.bytes), (f) => frames.push(Buffer.from(f).toString("hex")));
    const expected = singleWs.sends.map((x, i) => Buffer.from(i < 100 ? withClientSeq(Uint8Array.from(x.bytes), BigInt(1001 + i)) : Uint8Array.from(x.bytes)).toString("hex"));
    expect(frames).toEqual(expected);
    const first = decodeEvent(Buffer.from(frames[0]!, "hex"));
    expect(first).toMatchObject({ type: "Balance", clientSeq: 1001n, seq: 1n, available: "1.000003" });
    expect(decodeEvent(Buffer.from(frames[100]!, "hex"))).toMatchObject({ type: "Balance", clientSeq: 0n, seq: 101n, available: "101.000303" });
    // The bound on one message: frames past OUTBOX_BYTES_MAX (with their prefixes) go out in a message of their own.
    const big = new BatchedSocket(batchWs.api, flusher, "batch");
    const quarter = new Uint8Array(OUTBOX_BYTES_MAX / 4 - 4);
    for (let i = 0; i < 5; i++) big.send(quarter);
    expect(batchWs.sends).toHaveLength(2);
    expect(batchWs.sends[1]!.bytes).toHaveLength(OUTBOX_BYTES_MAX);
  });

  it("X5: a batch message whose size prefix runs past its end is refused whole (WireFormatError, nothing handed on); framing is opt-in", () => {
    const seen: Uint8Array[] = [];
    expect(() => splitEventFrames(Uint8Array.of(1, 0, 0, 0, 7, 5, 0, 0, 0, 1), (f) => seen.push(f))).toThrow(WireFormatError);
    expect(() => splitEventFrames(Uint8Array.of(1, 0, 0, 0, 7, 0, 0), (f) => seen.push(f))).toThrow(WireFormatError);
    expect(seen).toHaveLength(0);
    expect(splitEventFrames(new Uint8Array(0), (f) => seen.push(f))).toBe(0);
    expect(splitEventFrames(Uint8Array.of(0, 0, 0, 0), (f) => seen.push(f))).toBe(1);
    expect(seen[0]).toHaveLength(0);
    expect(eventFramingOf("batch")).toBe("batch");
    expect(eventFramingOf(undefined)).toBe("single");
    expect(eventFramingOf("Batch")).toBe("single");
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
