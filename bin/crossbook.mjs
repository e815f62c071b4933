#!/usr/bin/env node
// Entry point of the `crossbook` command: runs the TypeScript CLI through tsx. The terminal client needs the
// global WebSocket (so does `keys`), which Node 20 has only behind --experimental-websocket: re-run with it when missing.
// The re-run gets SIGINT and SIGTERM passed on (the feeder stops cleanly on either), and this process exits with its code.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const NEEDS_WEBSOCKET = ["client", "keys", "feed", "snapshot"];
if (typeof globalThis.WebSocket === "undefined" && NEEDS_WEBSOCKET.includes(process.argv[2])) {
  const child = spawn(
    process.execPath,
    ["--experimental-websocket", "--disable-warning=ExperimentalWarning", fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: "inherit" },
  );
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code) => process.exit(code ?? 1));
} else {
  const { register } = await import("tsx/esm/api");
  register();
  const { main } = await import("./cli.ts");
  await main(process.argv.slice(2));
}
