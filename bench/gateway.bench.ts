// gateway.login (X6, DESIGN rule 9): bursts of 1,000 logins through the gateway's Authenticator — the timestamp and
// key checks and the replay guard on the gateway thread, the ED25519 verification on the piscina pool. Reports
// logins/s and per-login latency (submit → verified), and the gateway thread's longest stall during a burst, measured
// by a 1 ms timer's lateness (and node's event-loop delay histogram); for comparison, the stall that verifying the
// same burst inline on the gateway thread causes.
import { verify, type KeyObject } from "node:crypto";
import { monitorEventLoopDelay } from "node:perf_hooks";
import * as hdr from "hdr-histogram-js";
import { CommandRecord } from "../engine/model/index.ts";
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

export const benchmarks: BenchDef[] = [{ id: "gateway.login", kind: "custom", run: loginBurst }];
