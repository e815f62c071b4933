// A server for a test file: in-process on a free loopback port, its own temp data dir, no clock ticks, silent, with
// an operator session logged in. Start it in beforeAll and stop it in afterAll (stopTestServer).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../engine/pipeline/index.ts";
import { CrossbookClient } from "../../gateway/client/ws-client.ts";
import { startServer, type RunningServer } from "../../gateway/server.ts";

export interface TestServer {
  readonly server: RunningServer;
  readonly url: string;
  readonly operator: CrossbookClient;
}

/** Starts the server with the default config, its data under a fresh temp dir named `crossbook-<dirName>-…`. */
export async function startTestServer(dirName: string): Promise<TestServer> {
  const server = await startServer({
    config: loadConfig(),
    host: "127.0.0.1",
    port: 0,
    dataDir: mkdtempSync(join(tmpdir(), `crossbook-${dirName}-`)),
    tickIntervalMs: 0,
    log: () => {},
  });
  const url = `ws://127.0.0.1:${server.port}`;
  return { server, url, operator: await CrossbookClient.connect(url, { key: server.operatorKey }) };
}

export async function stopTestServer(t: TestServer | undefined): Promise<void> {
  await t?.operator.close();
  await t?.server.stop();
}
