// gateway.events (issue 15): the gateway thread's share of every engine event on the real path, in process — the
// account log's encode and copy (AccountEventLog.record), the watchers' frames (SessionRegistry.dispatch, the sender's
// with its client_seq) and the batched socket's queue and corked flush (BatchedSocket over a socket that only counts
// bytes): the market-maker mix of bench/load (placements, cancels, a fill now and then) over 64 accounts and 16
// sessions. ns per event = the gateway CPU an ack costs beyond the engine and the kernel.
//
// gateway.login (X6, DESIGN rule 9): bursts of 1,000 logins through the gateway's Authenticator — the timestamp and
// key checks and the replay guard on the gateway thread, the ED25519 verification on the piscina pool. Reports
// logins/s and per-login latency (submit → verified), and the gateway thread's longest stall during a burst, measured
// by a 1 ms timer's lateness (and node's event-loop delay histogram); for comparison, the stall that verifying the
// same burst inline on the gateway thread causes.
import { verify, type KeyObject } from "node:crypto";
import { monitorEventLoopDelay } from "node:perf_hooks";
import * as hdr from "hdr-histogram-js";
import { CommandRecord, EventKind, EventRecord } from "../engine/model/index.ts";
import { AccountEventLog } from "../gateway/account-catch-up.ts";
import { BatchedSocket, OutboxFlusher, SessionRegistry, type CorkableWebSocket, type Session } from "../gateway/sessions.ts";
import { apiKeyOf, generateKey, publicKeyFromRaw, rawPublicKey, signingString, signLogin, type SignedLogin } from "../gateway/auth/keys.ts";
import { Authenticator, SignatureVerifier } from "../gateway/auth/login.ts";
import { ApiKeyRegistry } from "../gateway/auth/registry.ts";
import { encodeCommand } from "../gateway/client/codec.ts";
import { loadConfig } from "../engine/pipeline/index.ts";
import { decodeCommand, DecodeResult } from "../gateway/codec/index.ts";
import type { BenchDef, BenchResult } from "./harness.ts";

const BURST_LOGINS = 1000;
const BURSTS = 5;
const KEYS = 100;
const WINDOW_MS = 60_000;

interface PreparedLogin {
  readonly key: Uint8Array;
  readonly signature: Uint8Array;
  readonly timestampMs: number;
}

/** Registers KEYS keys and signs BURSTS × BURST_LOGINS distinct logins (client work: not measured). */
function prepare(registry: ApiKeyRegistry): PreparedLogin[][] {
  const config = loadConfig();
  const keys: KeyObject[] = [];
  const cmd = new CommandRecord();
  const result = new DecodeResult();
  for (let i = 0; i < KEYS; i++) {
    const key = generateKey();
    keys.push(key);
    if (!decodeCommand(encodeCommand(1n, { type: "RegisterApiKey", user: i + 1, apiKey: apiKeyOf(key), permissions: 7 }), config, cmd, result)) throw new Error(result.message);
    registry.apply(cmd);
  }
  const now = Date.now();
  const bursts: PreparedLogin[][] = [];
  for (let b = 0; b < BURSTS; b++) {
    const burst: PreparedLogin[] = [];
    for (let i = 0; i < BURST_LOGINS; i++) {
      const key = keys[i % KEYS]!;
      const signed: SignedLogin = signLogin(key, now - b * BURST_LOGINS - i, WINDOW_MS);
      burst.push({ key: rawPublicKey(key), signature: new Uint8Array(Buffer.from(signed.signature, "base64")), timestampMs: signed.timestampMs });
    }
    bursts.push(burst);
  }
  return bursts;
}

/** Max lateness (ms) of a 1 ms interval timer while `work` runs. */
async function longestStallMs(work: () => Promise<void>): Promise<{ stallMs: number; loopDelayMaxMs: number }> {
  const loop = monitorEventLoopDelay({ resolution: 1 });
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - last - 1 > worst) worst = now - last - 1;
    last = now;
  }, 1);
  await new Promise((r) => setTimeout(r, 20));
  loop.enable();
  last = performance.now();
  await work();
  await new Promise((r) => setTimeout(r, 5));
  loop.disable();
  clearInterval(timer);
  return { stallMs: worst, loopDelayMaxMs: loop.max / 1e6 };
}

async function loginBurst(): Promise<BenchResult> {
  const registry = new ApiKeyRegistry();
  const bursts = prepare(registry);
  const verifier = new SignatureVerifier();
  const operatorKey = generateKey();
  const latency = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: 3 });
  const rates: number[] = [];
  const stalls: number[] = [];
  const submits: number[] = [];
  let worstLoopDelay = 0;
  // The same timer with nothing to do over a burst's time: the machine's own scheduling noise.
  const idle = await longestStallMs(() => new Promise((r) => setTimeout(r, 500)));
  try {
    // Warm the pool's threads.
    await new Authenticator(registry, apiKeyOf(operatorKey), rawPublicKey(operatorKey), verifier).login(bursts[0]![0]!.key, bursts[0]![0]!.signature, bursts[0]![0]!.timestampMs, WINDOW_MS, Date.now());
    for (let b = 0; b < BURSTS; b++) {
      // A fresh replay guard per burst: a warm-up signature would otherwise count as a replay.
      const auth = new Authenticator(registry, apiKeyOf(operatorKey), rawPublicKey(operatorKey), verifier);
      let elapsedMs = 0;
      const { stallMs, loopDelayMaxMs } = await longestStallMs(async () => {
        const t0 = performance.now();
        const pending = bursts[b]!.map((l) =>
          auth.login(l.key, l.signature, l.timestampMs, WINDOW_MS, Date.now()).then((outcome) => {
            if (outcome.identity === null) throw new Error(`login refused: ${outcome.message}`);
            latency.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1e6)));
          }),
        );
        submits.push(performance.now() - t0);
        await Promise.all(pending);
        elapsedMs = performance.now() - t0;
      });
      rates.push((BURST_LOGINS / elapsedMs) * 1000);
      stalls.push(stallMs);
      worstLoopDelay = Math.max(worstLoopDelay, loopDelayMaxMs);
    }
  } finally {
    await verifier.close();
  }
  const inline = await longestStallMs(async () => {
    for (const l of bursts[0]!) verify(null, Buffer.from(signingString("subscribe", {}, l.timestampMs, WINDOW_MS)), publicKeyFromRaw(l.key), l.signature);
  });
  rates.sort((a, b) => a - b);
  const sortedStalls = [...stalls].sort((a, b) => a - b);
  submits.sort((a, b) => a - b);
  return {
    id: "gateway.login",
    opsPerSec: rates[Math.floor(rates.length / 2)]!,
    meanNs: latency.mean,
    p50Ns: latency.getValueAtPercentile(50),
    p99Ns: latency.getValueAtPercentile(99),
    p999Ns: latency.getValueAtPercentile(99.9),
    notes:
      `${BURSTS} bursts of ${BURST_LOGINS} logins (${KEYS} keys), ops/s = median logins/s (range ${rates[0]!.toFixed(0)}–${rates.at(-1)!.toFixed(0)}), ` +
      `latency = burst start → verified; gateway thread's longest stall per burst: median ${sortedStalls[BURSTS >> 1]!.toFixed(1)} ms, ` +
      `worst ${sortedStalls.at(-1)!.toFixed(1)} ms (bursts in order: ${stalls.map((x) => x.toFixed(1)).join(", ")}; event-loop delay max ` +
      `${worstLoopDelay.toFixed(1)} ms; idle timer over 500 ms: ${idle.stallMs.toFixed(1)} ms; handing the 1,000 to the pool in one ` +
      `turn: median ${submits[BURSTS >> 1]!.toFixed(1)} ms); the same burst verified inline on the ` +
      `gateway thread stalls it ${inline.stallMs.toFixed(1)} ms`,
  };
}

const EVENT_ACCOUNTS = 64;
const EVENT_SESSIONS = 16;
/** Events per flush of the sockets (an engine batch's events at ~10 k commands/s and a 0.3 ms fsync: tens). */
const EVENTS_PER_FLUSH = 64;
const EVENT_ROUNDS = 40;
const EVENTS_PER_ROUND = 20_000;

/** The load mix's events, each kind with realistic values: placement (OrderAccepted, Balance), cancel (OrderDone, Balance), fill. */
function eventMix(): EventRecord[] {
  const out: EventRecord[] = [];
  for (let i = 0; i < 400; i++) {
    const account = 1000 + (i % EVENT_ACCOUNTS);
    const e = new EventRecord();
    const phase = i % 5;
    e.kind = phase === 0 ? EventKind.OrderAccepted : phase === 2 ? EventKind.OrderDone : phase === 4 && i % 20 === 4 ? EventKind.Fill : EventKind.Balance;
    e.seq = 1_000_000 + i;
    e.marketSeq = e.kind === EventKind.Balance ? 0 : 500_000 + i;
    e.account = account;
    e.market = 0;
    e.asset = i % 2;
    e.orderId = 7_000_000 + i;
    e.clientId = BigInt(i + 1);
    e.side = i % 2;
    e.price = 60_000_000_000_000n + BigInt(i) * 1_000_000n;
    e.quantity = 1_000_000n;
    e.available = 100_000_000_000n - BigInt(i);
    e.locked = 60_000_000n;
    e.makerAccount = 1000 + ((i + 7) % EVENT_ACCOUNTS);
    e.makerOrderId = 6_000_000 + i;
    out.push(e);
  }
  return out;
}

async function eventPath(): Promise<BenchResult> {
  const config = loadConfig();
  const log = new AccountEventLog(config);
  const registry = new SessionRegistry(config);
  const flusher = new OutboxFlusher();
  let sentBytes = 0;
  const ws: CorkableWebSocket = {
    send: (bytes) => (sentBytes += bytes.length),
    cork: (write) => write(),
    getBufferedAmount: () => 0,
    end: () => {},
  };
  const sockets: BatchedSocket[] = [];
  const sessions: Session[] = [];
  for (let s = 0; s < EVENT_SESSIONS; s++) {
    const socket = new BatchedSocket(ws, flusher);
    sockets.push(socket);
    sessions.push(registry.open(socket, false));
  }
  for (let a = 0; a < EVENT_ACCOUNTS; a++) {
    registry.watch(sessions[a % EVENT_SESSIONS]!, 1000 + a);
    log.track(1000 + a, 0);
  }
  const mix = eventMix();
  const nsPerEvent: number[] = [];
  for (let round = 0; round < EVENT_ROUNDS; round++) {
    const t0 = performance.now();
    for (let i = 0; i < EVENTS_PER_ROUND; i++) {
      const e = mix[i % mix.length]!;
      log.record(e, false); // as the server's onEvent for an event with a seq (nothing encodes before the dispatch)
      registry.dispatch(e, sessions[(e.account - 1000) % EVENT_SESSIONS]!, e.account, BigInt(i + 2), log.plainFrame, log.makerFrame);
      if (i % EVENTS_PER_FLUSH === EVENTS_PER_FLUSH - 1) for (const s of sockets) s.flush();
    }
    for (const s of sockets) s.flush();
    nsPerEvent.push(((performance.now() - t0) * 1e6) / EVENTS_PER_ROUND);
  }
  // The first rounds grow the logs' arenas to their bound (a server's first minutes); the rest is the steady state.
  const warm = nsPerEvent.slice(EVENT_ROUNDS / 4).sort((a, b) => a - b);
  const p50 = warm[warm.length >> 1]!;
  return {
    id: "gateway.events",
    opsPerSec: 1e9 / p50,
    meanNs: warm.reduce((x, y) => x + y, 0) / warm.length,
    p50Ns: p50,
    p99Ns: warm[Math.floor(warm.length * 0.99)]!,
    p999Ns: warm.at(-1)!,
    notes:
      `per event: account log (encode + copy), dispatch to its watcher with client_seq, batched socket queue + corked flush every ${EVENTS_PER_FLUSH}; ` +
      `${EVENT_ACCOUNTS} accounts, ${EVENT_SESSIONS} sessions; percentiles over ${warm.length} rounds of ${EVENTS_PER_ROUND} after ${EVENT_ROUNDS / 4} warm-up rounds ` +
      `(fastest round ${warm[0]!.toFixed(0)} ns/event; warm-up median ${[...nsPerEvent.slice(0, EVENT_ROUNDS / 4)].sort((a, b) => a - b)[EVENT_ROUNDS / 8]!.toFixed(0)} ns); ${(sentBytes / 1e6).toFixed(0)} MB sent`,
  };
}

export const benchmarks: BenchDef[] = [
  { id: "gateway.login", kind: "custom", run: loginBurst },
  { id: "gateway.events", kind: "custom", run: eventPath },
];
