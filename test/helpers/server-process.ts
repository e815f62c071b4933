// `crossbook start` as a child process, for tests that kill it (recovery is tested by killing the process).
import { spawn, type ChildProcess } from "node:child_process";

export const BIN = new URL("../../bin/crossbook.mjs", import.meta.url).pathname;

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  log(): string;
}

/**
 * Starts `crossbook start` on a free port of loopback (with `extra` options); resolves once it listens. The process is
 * pushed to `children` for the caller to kill after.
 */
export function startServerProcess(dataDir: string, children: ChildProcess[], extra: readonly string[] = []): Promise<ServerProcess> {
  const child = spawn(process.execPath, [BIN, "start", "--port", "0", "--data", dataDir, "--tick-ms", "0", ...extra], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  return new Promise((resolve, reject) => {
    // Generous: on a loaded machine a restart replays tens of thousands of journal records before it listens.
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 120_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = /listening on ws:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]), log: () => out });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`server exited (${code}) before listening:\n${out}`)));
  });
}

export function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}
