// Several events per WebSocket message (issue 15, `?frames=batch`): a connection that asks for it at the upgrade
// gets each turn's events in one message (each a FlatBuffers size-prefixed EventEnvelope); one that does not gets one
// event per message, as before. Both see the same events, byte for byte, in the same order.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signLogin } from "../gateway/auth/keys.ts";
import { decodeEvent, encodeCommand, splitEventFrames, type CommandJson, type EventJson } from "../gateway/client/codec.ts";
import { CrossbookClient } from "../gateway/client/ws-client.ts";
import { registerKey } from "./helpers/auth.ts";
import { startTestServer, stopTestServer, type TestServer } from "./helpers/test-server.ts";

let running: TestServer;
let url: string;
let operator: CrossbookClient;

beforeAll(async () => {
  running = await startTestServer("batch-frames");
  ({ url, operator } = running);
});

afterAll(() => stopTestServer(running));

/** A raw WebSocket on `query` that records every message's bytes as they came. */
function rawSocket(query: string): Promise<{ ws: WebSocket; messages: Uint8Array[] }> {
  const ws = new WebSocket(`${url}/${query}`);
  ws.binaryType = "arraybuffer";
  const messages: Uint8Array[] = [];
  ws.addEventListener("message", (m: MessageEvent) => messages.push(new Uint8Array(m.data as ArrayBuffer)));
  return new Promise((resolve, reject) => {
    ws.addEventListener("open", () => resolve({ ws, messages }), { once: true });
    ws.addEventListener("error", () => reject(new Error("cannot connect")), { once: true });
  });
}

async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("?frames=batch (issue 15: fewer messages per command)", () => {
  it("X4: X6: a batch-framed watcher gets exactly the events of a one-per-message watcher, byte for byte, in order, in fewer messages", async () => {
    const user = 6;
    const account = user * 16;
    const key = await registerKey(operator, user);
    await operator.request({ type: "Deposit", account, asset: 0, amount: "1000000" });
    const batch = await rawSocket(`?frames=batch&watch=${account}`);
    const single = await rawSocket(`?watch=${account}`);
    // Two signatures: one signature logs in once (X6 replay guard), and two signed in the same millisecond are one.
    const signedAtMs = Date.now();
    batch.ws.send(encodeCommand(1n, { type: "Login", ...signLogin(key, signedAtMs, 60_000) } as CommandJson));
    single.ws.send(encodeCommand(1n, { type: "Login", ...signLogin(key, signedAtMs + 1, 60_000) } as CommandJson));
    await until("both logins", () => batch.messages.length >= 1 && single.messages.length >= 1);
    // The login answers: one event each, the batch one behind its size prefix.
    const loginAnswers: EventJson[] = [];
    expect(splitEventFrames(batch.messages[0]!, (f) => loginAnswers.push(decodeEvent(f)))).toBe(1);
    expect(loginAnswers[0]).toMatchObject({ type: "CommandAccepted", clientSeq: 1n });
    expect(decodeEvent(single.messages[0]!)).toMatchObject({ type: "CommandAccepted", clientSeq: 1n });
    // A third session (the SDK, batch framing by default) sends 40 resting orders at once; each gives the watchers an
    // OrderAccepted and a Balance (clientSeq 0: neither watcher sent them).
    const trader = await CrossbookClient.connect(url, { key });
    const answers = [];
    for (let i = 0; i < 40; i++) {
      answers.push(trader.request({ type: "LimitOrder", account, market: 0, side: "Buy", price: String(1000 + i), quantity: "0.01", clientId: 100 + i, postOnly: true }));
    }
    const answered = await Promise.all(answers);
    expect(answered.map((events) => events.find((e) => e.type === "OrderAccepted")?.clientId)).toEqual(Array.from({ length: 40 }, (_, i) => BigInt(100 + i)));
    await until("80 events at each watcher", () => single.messages.length >= 81);
    const batchFrames: string[] = [];
    await until("80 events in the batch messages", () => {
      batchFrames.length = 0;
      for (const m of batch.messages.slice(1)) splitEventFrames(m, (f) => batchFrames.push(Buffer.from(f).toString("hex")));
      return batchFrames.length >= 80;
    });
    const singleFrames = single.messages.slice(1).map((m) => Buffer.from(m).toString("hex"));
    expect(singleFrames).toHaveLength(80);
    expect(batchFrames).toEqual(singleFrames);
    const events = singleFrames.map((h) => decodeEvent(Buffer.from(h, "hex")));
    expect(events.filter((e) => e.type === "OrderAccepted").map((e) => (e as { clientId: bigint }).clientId)).toEqual(Array.from({ length: 40 }, (_, i) => BigInt(100 + i)));
    expect(events.every((e) => e.clientSeq === 0n)).toBe(true);
    expect(events.filter((e) => e.type === "Balance" && (e as { account: number }).account === account)).toHaveLength(40);
    // A command's two events leave in the same turn: at most one message per command (usually a few for all 40).
    expect(batch.messages.length - 1).toBeLessThanOrEqual(40);
    await trader.close();
    batch.ws.close();
    single.ws.close();
  });
});
