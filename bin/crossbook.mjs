#!/usr/bin/env node
// Entry point of the `crossbook` command: runs the TypeScript CLI through tsx. The terminal client needs the
// global WebSocket (so does `keys`), which Node 20 has only behind --experimental-websocket: re-run with it when missing.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

if (typeof globalThis.WebSocket === "undefined" && (process.argv[2] === "client" || process.argv[2] === "keys")) {
  const r = spawnSync(
    process.execPath,
    ["--experimental-websocket", "--disable-warning=ExperimentalWarning", fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: "inherit" },
  );
  process.exit(r.status ?? 1);
}
const { register } = await import("tsx/esm/api");
register();
const { main } = await import("./cli.ts");
await main(process.argv.slice(2));
