import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
    // Node 20 has the WebSocket client (used by the end-to-end tests' client) only behind this flag.
    execArgv: ["--experimental-websocket", "--disable-warning=ExperimentalWarning"],
  },
});
