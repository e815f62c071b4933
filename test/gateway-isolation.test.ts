// X6: a session sees only its own answers and the accounts it may act for. Public commands (pool stats, rate curves,
// the insurance fund…) need no login and act for no account (account 0): the gateway must not make their sender a
// watcher of account 0, or every anonymous session would receive every other one's public answers (and anything else
// an event of account 0 carries).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../engine/pipeline/index.ts";
import { startServer, type RunningServer } from "../gateway/server.ts";
import { CrossbookClient } from "../gateway/client/ws-client.ts";
import type { EventJson } from "../gateway/client/codec.ts";

const config = loadConfig();
let server: RunningServer;

beforeAll(async () => {
  server = await startServer({ config, host: "127.0.0.1", port: 0, dataDir: mkdtempSync(join(tmpdir(), "crossbook-iso-")), tickIntervalMs: 0, log: () => {} });
});
afterAll(async () => {
  await server.stop();
});

describe("X6: public answers go to their sender only", () => {
  it("X6: two anonymous sessions each ask for pool stats; neither receives the other's answer", async () => {
    const url = `ws://127.0.0.1:${server.port}`;
    const a = await CrossbookClient.connect(url);
    const b = await CrossbookClient.connect(url);
    const seenByB: EventJson[] = [];
    const off = b.onEvent((e) => seenByB.push(e));
    // B asks once (before the fix this made B a watcher of account 0).
    const own = await b.request({ type: "QueryPoolStats", asset: 0 }, 100);
    expect(own.map((e) => e.type)).toContain("PoolStats");
    seenByB.length = 0;
    // A asks: its answer is A's alone.
    const answer = await a.request({ type: "QueryRateCurve", asset: 0 }, 150);
    expect(answer.filter((e) => e.type === "RateCurvePoint").length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 150));
    expect(seenByB.map((e) => e.type)).toEqual([]);
    off();
    await a.close();
    await b.close();
  });
});
