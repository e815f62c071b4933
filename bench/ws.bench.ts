// ws.* — the real path, measured from outside (issue 15): bench/load/ drives a spawned `crossbook start` over
// WebSocket with logged-in, funded accounts and the market-maker mix, closed loop (16 connections × 256 in flight)
// and open loop at 10k / 50k / 100k commands/s, then the same client against a bare uWebSockets.js echo server
// (ws.echo.*) in the same run. Times are per command from its scheduled send to its first event (the ack). One run
// serves every ws.* id (the first id run starts it); it also writes bench/results/ws-latency.svg.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BenchDef, BenchResult } from "./harness.ts";
import { DEFAULT_LOAD_OPTIONS, latencySvg, runLoad, type LoadReport, type PhaseResult } from "./load/load.ts";

const SVG_FILE = join(fileURLToPath(new URL(".", import.meta.url)), "results", "ws-latency.svg");

let run: Promise<LoadReport> | null = null;

function report(): Promise<LoadReport> {
  run ??= runLoad(DEFAULT_LOAD_OPTIONS).then((r) => {
    writeFileSync(SVG_FILE, latencySvg(r, "crossbook vs uWS echo: ack latency against offered rate"));
    process.stderr.write(`wrote ${SVG_FILE}\n`);
    return r;
  });
  return run;
}

function toResult(r: PhaseResult, floor: PhaseResult | undefined, echo: boolean): BenchResult {
  const cores = r.serverCores === null ? "" : `server ${r.serverCores.toFixed(2)} cores, `;
  // crossbook's events come several per message (?frames=batch) since issue 15's batch framing; the echo server's one per message.
  const framing = echo ? "" : `events ${DEFAULT_LOAD_OPTIONS.frames === "batch" ? "batched per message" : "one per message"}, `;
  const ratio = floor === undefined ? "" : `; vs echo: ${(r.ackedPerSec / floor.ackedPerSec).toFixed(2)}× throughput, p50 ${(r.p50Us / floor.p50Us).toFixed(1)}×, p99 ${(r.p99Us / floor.p99Us).toFixed(1)}×`;
  return {
    id: r.name,
    opsPerSec: r.ackedPerSec,
    meanNs: r.meanUs * 1000,
    p50Ns: r.p50Us * 1000,
    p99Ns: r.p99Us * 1000,
    p999Ns: r.p999Us * 1000,
    notes:
      `${r.offeredPerSec === null ? "closed loop" : `offered ${r.offeredPerSec}/s`}, ${framing}${r.acked} acks (${r.rejected} rejects${r.refused > 0 ? `; ${r.refused} refused (rate limit or overloaded), not counted` : ""}), ` +
      `p50 from the real send ${(r.realP50Us / 1000).toFixed(2)} ms${r.offeredPerSec === null ? "" : `, client send lag p50/p99 ${(r.sendLagP50Us / 1000).toFixed(2)}/${(r.sendLagP99Us / 1000).toFixed(2)} ms`}, ${cores}client ${r.clientCores.toFixed(2)} cores${r.unacked > 0 ? `, ${r.unacked} unacked` : ""}${r.note === "" ? "" : `; ${r.note}`}${ratio}`,
  };
}

function phase(name: string, echo: boolean): BenchDef {
  return {
    id: echo ? `ws.echo.${name}` : `ws.${name}`,
    kind: "custom",
    run: async () => {
      const r = await report();
      const mine = (echo ? r.echo : r.crossbook).find((p) => p.name === name);
      if (mine === undefined) throw new Error(`ws load run has no phase ${name}`);
      return toResult(mine, echo ? undefined : r.echo.find((p) => p.name === name), echo);
    },
  };
}

const PHASES = ["closed.k16", "open.10k", "open.50k", "open.100k"];

export const benchmarks: BenchDef[] = [...PHASES.map((p) => phase(p, false)), ...PHASES.map((p) => phase(p, true))];
