// The SDK and the demo bot when the server closes the session (README "On a fresh machine": a stopping server sends
// every client a close frame 1001 "server shutting down"): a request, query or wait still pending ends at once with
// ConnectionClosedError (code and reason), not with a timeout's "no answer" seconds later, and so does one made after
// the close; the market maker's quoting ends with that error instead of an unhandled rejection.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../engine/pipeline/index.ts";
import { ConnectionClosedError, CrossbookClient } from "../gateway/client/ws-client.ts";
import { startServer, type RunningServer } from "../gateway/server.ts";
import { MarketMaker } from "../examples/market-maker.ts";

let server: RunningServer | null = null;

afterEach(async () => {
  await server?.stop();
  server = null;
});

async function start(dataDir: string): Promise<{ server: RunningServer; url: string }> {
  server = await startServer({ config: loadConfig(), host: "127.0.0.1", port: 0, dataDir, tickIntervalMs: 0, log: () => {} });
  return { server, url: `ws://127.0.0.1:${server.port}` };
}

/** What a promise settles with: its error, or "resolved". */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => "resolved",
    (e: unknown) => e,
  );
}

describe("SDK: the server closes the session", () => {
  it("shutdown (close 1001): a pending wait, a pending query and a request after the close each reject with ConnectionClosedError", async () => {
    const s = await start(mkdtempSync(join(tmpdir(), "crossbook-close-")));
    const client = await CrossbookClient.connect(s.url, { key: s.server.operatorKey });
    // Timeouts far beyond the test's: only the close can settle these.
    const waiting = rejection(client.waitFor(() => false, 600_000));
    await s.server.stop();
    server = null;
    const close = await client.closed;
    expect(close).toEqual({ code: 1001, reason: "server shutting down" });
    const waited = await waiting;
    expect(waited).toBeInstanceOf(ConnectionClosedError);
    expect((waited as ConnectionClosedError).close).toEqual({ code: 1001, reason: "server shutting down" });
    expect((waited as Error).message).toBe("connection closed (1001 server shutting down) before a matching event");
    const after = await rejection(client.request({ type: "QueryCollateral", account: 16 }, 150, 600_000));
    expect(after).toBeInstanceOf(ConnectionClosedError);
    expect((after as Error).message).toBe("connection closed (1001 server shutting down) before the answer to QueryCollateral");
    const history = await rejection(client.insuranceHistory({}, 600_000));
    expect((history as Error).message).toBe("connection closed (1001 server shutting down) before the CommandAccepted answering QueryInsuranceHistory");
  });
});

describe("examples/market-maker.ts: the server stops under it", () => {
  it("shutdown (close 1001): the bot's quoting ends with ConnectionClosedError, which main prints as one line", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-close-mm-"));
    const s = await start(dataDir);
    const bot = await MarketMaker.start({ url: s.url, dataDir, user: 9, spreadBps: 10, notionalUsdc: 2000, pollMs: 100, log: () => {} });
    const ended = rejection(bot.stopped());
    await s.server.stop();
    server = null;
    const why = await ended;
    expect(why).toBeInstanceOf(ConnectionClosedError);
    expect((why as ConnectionClosedError).close).toEqual({ code: 1001, reason: "server shutting down" });
    expect((why as Error).message).toMatch(/^connection closed \(1001 server shutting down\) before the answer to (QueryCollateral|CancelAll|LimitOrder)$/);
  });
});
