// The exchange server: recovers the engine from the journal, then serves the binary WebSocket protocol (one
// FlatBuffers frame per message) and a few HTTP endpoints on uWebSockets.js; stops cleanly on SIGINT/SIGTERM.
// This file starts and stops it; server-core.ts holds the live state and the command path, server-sockets.ts the
// WebSocket handlers, http-routes.ts the HTTP routes.
import type { KeyObject } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { InlineJournal } from "./journal-inline.ts";
import { JOURNAL_INLINE_GROUP_BYTES_MAX, JOURNAL_RING_BYTES, JournalThread } from "./journal-thread.ts";
import { JOURNAL_ARCHIVE_DIR, JOURNAL_SEGMENT_BYTES_DEFAULT, JOURNAL_SEGMENT_DIR } from "../engine/journal/index.ts";
import type { ExchangeConfig } from "../engine/model/index.ts";
import type { EngineTopology, ThreadedPipeline } from "../engine/pipeline/index.ts";
import { lockDataDir } from "./data-lock.ts";
import { serveHttpRoutes } from "./http-routes.ts";
import { recoverEngine, type RecoveredEngine } from "./recovery.ts";
import { HopTimer } from "./hop-timer.ts";
import { JOURNAL_GROUP_INTERVAL_MS_DEFAULT, Sequencer } from "./sequencer.ts";
import { ServerCore, type GatewayLimits } from "./server-core.ts";
import { closeAllSockets, serveWebSockets } from "./server-sockets.ts";
import { SnapshotScheduler, type SnapshotPolicy, type SnapshotWriterKind, type TakenSnapshot } from "./snapshots.ts";

export { BalanceView } from "./balance-view.ts";
export { publicConfig } from "./http-routes.ts";
export { DEFAULT_GATEWAY_LIMITS, SNAPSHOT_REQUESTS_PENDING_MAX, type GatewayLimits } from "./server-core.ts";
export { CUT_CLOSE_GRACE_MS, STOP_CLOSE_GRACE_MS, STOP_FLUSH_MS_MAX, WS_MESSAGE_BYTES_MAX } from "./server-sockets.ts";

const require = createRequire(import.meta.url);

export interface ServerOptions {
  readonly config: ExchangeConfig;
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly topology?: EngineTopology;
  /** 1 × 1 only: "fused" (default) runs risk and matching on one engine worker, "split" on one worker each. */
  readonly stages?: "fused" | "split";
  /** Live clock ticks (ms); 0 = no timer (tests drive time with AdvanceTime). */
  readonly tickIntervalMs?: number;
  /** Run on the package's slow `ws` fallback if the native uWS build does not load. */
  readonly allowFallback?: boolean;
  readonly log?: (line: string) => void;
  /** Overrides of the gateway limits (tests use small ones); each defaults to its named constant in limits.ts. */
  readonly limits?: Partial<GatewayLimits>;
  /** A journal segment is closed and the next one started once it holds this many bytes. */
  readonly journalSegmentBytes?: number;
  /** Archived journal segments (default `<dataDir>/journal-archive`), read when the whole journal is replayed. */
  readonly archiveDir?: string;
  /** X5: cut the journal at a corruption (keeping exactly the batches before it) instead of refusing to start. */
  readonly truncateAtCorruption?: boolean;
  /** X7: when snapshots are taken and how many are kept (default SNAPSHOT_POLICY_DEFAULT, gateway/snapshots.ts). */
  readonly snapshots?: SnapshotPolicy;
  /**
   * X7: after restoring a snapshot, hash the whole restored state and skip the snapshot if it differs from the hash in
   * its header (default false: the file's SHA-256 already proves the bytes are the ones written, and the full hash
   * costs ~0.5 s of a restart at 100,000 accounts; turn it on to check the encoder against the engine).
   */
  readonly verifySnapshotHash?: boolean;
  /**
   * Issue 15: log where an acknowledgement's time goes inside the server (gateway/hop-timer.ts) every this many
   * seconds — the group-commit wait, the durable write, the hand-off, the engine and the events' dispatch; 0 or absent
   * = off (`crossbook start --trace-hops S`).
   */
  readonly traceHopsSeconds?: number;
  /**
   * Test hook (X4P tests): called with the journal thread once it is open, before any command is taken — a test holds
   * or fails its writes through it (JournalThread.holdWritesForTest, failNextWriteForTest).
   */
  readonly onJournalOpen?: (journal: JournalThread | InlineJournal, pipeline: ThreadedPipeline) => void;
  /**
   * Issue 15: who makes the journal's durable writes — "hybrid" (the default: the gateway thread a group of up to
   * JOURNAL_INLINE_GROUP_BYTES_MAX that finds the journal thread idle, the journal thread the rest), "thread" (the
   * journal thread every group, journal-thread.ts) or "inline" (the gateway thread every group at the end of its turn,
   * journal-inline.ts: no thread wake-up on either side of the write). Durability is the same in all three
   * (`crossbook start --journal-write hybrid|thread|inline`).
   */
  readonly journalWrite?: "thread" | "inline" | "hybrid";
  /**
   * Issue 15: the least time between the starts of two durable writes (ms; 0 = a write begins as soon as the one before
   * it returned), JOURNAL_GROUP_INTERVAL_MS_DEFAULT (0: no pace) when absent (`crossbook start --journal-group-us`).
   */
  readonly journalGroupMs?: number;
}

export interface RunningServer {
  readonly port: number;
  /** X6: the operator's private key (`<dataDir>/operator.key`, created 0600 on the first start; its public key is trusted). */
  readonly operatorKey: KeyObject;
  /** Recovery summary: journal batches and commands replayed (after the snapshot, if one was used). */
  readonly recovered: {
    readonly batches: number;
    readonly commands: number;
    readonly truncatedBytes: number;
    /** Of truncatedBytes, the zero-filled space written ahead (not a torn write). */
    readonly preallocatedBytes: number;
    readonly snapshotSeq: number;
    /** Finding, checking and restoring snapshots, then replaying the journal after them (ms). */
    readonly snapshotLoadMs: number;
    readonly journalReplayMs: number;
  };
  stateHash(): Promise<string>;
  /** X7: writes a snapshot now (as the operator's `crossbook snapshot` does); `writer` overrides the policy's. */
  snapshot(writer?: SnapshotWriterKind): Promise<TakenSnapshot>;
  /** Gateway counters: open sessions, bytes of events unsent, slow consumers cut. */
  stats(): GatewayStats;
  /**
   * Graceful stop: new commands get ShuttingDown, everything journaled is processed and its events delivered, every
   * client gets a close frame (1001), then the engine stops, the journal closes and the data directory is unlocked.
   */
  stop(): Promise<void>;
}

export interface GatewayStats {
  readonly sessions: number;
  readonly unsentBytes: number;
  readonly unsentPeakBytes: number;
  readonly slowConsumersCut: number;
}

export type UwsModule = typeof import("uWebSockets.js");

/**
 * Loads uWebSockets.js and tells whether its native build is in use. The package silently falls back to a slow
 * `ws`-based implementation when its binary does not load (or UWS_USE_FALLBACK is set); we refuse that unless asked.
 */
export function loadUws(allowFallback: boolean): UwsModule {
  const flag = process.env.UWS_USE_FALLBACK;
  let native = flag === undefined || !["true", "True", "TRUE", "1"].includes(flag);
  if (native) {
    try {
      require(`uWebSockets.js/binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
    } catch {
      native = false;
    }
  }
  if (!native && !allowFallback) {
    throw new Error(
      "uWebSockets.js native build unavailable (or UWS_USE_FALLBACK set): refusing to serve on the slow `ws` fallback. " +
        "Use Node 20 on linux-x64/arm64 or pass --allow-fallback.",
    );
  }
  return require("uWebSockets.js") as UwsModule;
}

/** uWS listen option: bind without SO_REUSEPORT, so another process cannot listen on the same port (uWS ListenOptions). */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const uWS = loadUws(opts.allowFallback ?? false);
  mkdirSync(opts.dataDir, { recursive: true });
  // One process per data directory (refuses, naming the holder's pid); released when the server stops or fails to start.
  const lock = lockDataDir(opts.dataDir);
  try {
    return await serveLocked(opts, uWS, lock.release);
  } catch (e) {
    lock.release();
    throw e;
  }
}

/** Opens the port, recovers the engine, opens the journal and the sequencer: the server is live when this returns. */
async function serveLocked(opts: ServerOptions, uWS: UwsModule, releaseLock: () => void): Promise<RunningServer> {
  const core = new ServerCore(opts);
  const app = uWS.App();
  const sockets = serveWebSockets(app, uWS, core);
  serveHttpRoutes(app, core);
  // The port opens before recovery (X7: a client learns the exchange is recovering); nothing is running yet if it fails.
  const port = await listenExclusive(uWS, app, opts.host, opts.port);
  core.log(`crossbook started on ws://${opts.host}:${port.port}: recovering (GET /health for progress)`);
  const journalDir = join(opts.dataDir, JOURNAL_SEGMENT_DIR);
  const recovered = await recoverFromDisk(core, opts, journalDir);
  await goLive(core, opts, journalDir, recovered);
  core.log(`crossbook listening on ws://${opts.host}:${port.port} (journal ${journalDir}, ${opts.journalWrite ?? "hybrid"} writes, ${core.config.markets.length} markets)`);
  const stop = stopOnce(core, uWS, port.socket, () => closeAllSockets(sockets), releaseLock);
  core.fatal = () => {
    void stop().finally(() => process.exit(70));
  };
  return runningServer(core, port.port, recovered, stop);
}

/** Recovery: the newest usable snapshot plus the journal after it (gateway/recovery.ts), events discarded. */
async function recoverFromDisk(core: ServerCore, opts: ServerOptions, journalDir: string): Promise<RecoveredEngine> {
  const recovered = await recoverEngine({
    dataDir: opts.dataDir,
    archiveDir: opts.archiveDir ?? join(opts.dataDir, JOURNAL_ARCHIVE_DIR),
    configDigestHex: core.digest,
    topology: core.topology,
    truncateAtCorruption: opts.truncateAtCorruption ?? false,
    status: core.status,
    log: core.log,
    startPipeline: (file) => core.startPipeline(file),
    verifyRestoredHash: opts.verifySnapshotHash ?? false,
    onRecoveredCommand: (cmd) => core.auth.recover(cmd),
  });
  core.pipeline = recovered.pipeline;
  const summary = recovered.journal;
  if (recovered.snapshot !== null || summary.batches > 0 || summary.truncatedBytes > 0) {
    core.log(`recovered ${recovered.snapshot === null ? "" : `snapshot ${recovered.snapshot.seq} + `}${summary.commands} commands in ` +
      `${summary.batches} batches from ${journalDir}` +
      tailCutMessage(summary.truncatedBytes, summary.preallocatedBytes));
  }
  return recovered;
}

/** After recovery: the journal open for appending, the sequencer taking commands, the snapshot schedule running. */
async function goLive(core: ServerCore, opts: ServerOptions, journalDir: string, recovered: RecoveredEngine): Promise<void> {
  const segmentBytes = opts.journalSegmentBytes ?? JOURNAL_SEGMENT_BYTES_DEFAULT;
  // The durable writes run on a thread of their own (journal-thread.ts), not through libuv's pool, or on the gateway
  // thread at the end of its turn (journal-inline.ts).
  core.journal =
    opts.journalWrite === "inline"
      ? InlineJournal.openSegments(journalDir, core.digest, segmentBytes, recovered.lastSeq + 1)
      : await JournalThread.openSegments(journalDir, core.digest, segmentBytes, recovered.lastSeq + 1, JOURNAL_RING_BYTES,
          opts.journalWrite === "thread" ? 0 : JOURNAL_INLINE_GROUP_BYTES_MAX);
  opts.onJournalOpen?.(core.journal, core.pipeline);
  const hops = (opts.traceHopsSeconds ?? 0) > 0 ? new HopTimer() : null;
  core.sequencer = new Sequencer(core.journal, core.pipeline, recovered.lastSeq, recovered.lastBatch, (e) => {
    core.log(`FATAL journal: ${e.message}`);
    core.fatal?.(e.message);
  }, hops, opts.journalGroupMs ?? JOURNAL_GROUP_INTERVAL_MS_DEFAULT);
  if (hops !== null) {
    core.hopReports = setInterval(() => {
      const line = hops.report();
      if (line !== null) core.log(line);
    }, opts.traceHopsSeconds! * 1000);
    core.hopReports.unref();
  }
  core.seq = core.sequencer;
  core.recovering = false;
  core.proposeHeldTick();
  // Trades restored with a snapshot (not replayed) still keep the ticker's clock ticks minutely (clock-ticks.ts).
  const tradesMs = core.marketData.latestTradeWindowMs();
  if (tradesMs > 0) core.ticks.traded(tradesMs);
  core.status.finish(recovered.lastSeq);
  core.snapshots = new SnapshotScheduler(core.snapshotPolicy, (writer) => core.takeSnapshot(writer), () => core.seq.lastSeq, core.log, recovered.snapshot?.seq ?? 0);
  core.snapshots.start();
}

/**
 * The graceful stop (RunningServer.stop), run once however often it is called: new commands get ShuttingDown, the
 * port closes, everything journaled is processed and delivered, the sockets close, then the engine, the journal, auth
 * and the data-directory lock.
 */
function stopOnce(core: ServerCore, uWS: UwsModule, listenSocket: unknown, closeSockets: () => Promise<void>, releaseLock: () => void): () => Promise<void> {
  let stopping: Promise<void> | null = null;
  return async () => {
    if (stopping !== null) return stopping;
    core.shuttingDown = true;
    stopping = (async () => {
      uWS.us_listen_socket_close(listenSocket as never);
      await core.snapshots?.stop();
      await core.snapshotFollower.close();
      if (core.hopReports !== null) clearInterval(core.hopReports);
      // Everything journaled is processed and its events (the acknowledgements) handed to the sockets.
      await core.seq.drain();
      await closeSockets();
      await core.pipeline.stop();
      await core.journal?.close();
      await core.auth.close();
      releaseLock();
    })();
    return stopping;
  };
}

function runningServer(core: ServerCore, port: number, recovered: RecoveredEngine, stop: () => Promise<void>): RunningServer {
  const summary = recovered.journal;
  return {
    port,
    operatorKey: core.auth.operatorKey,
    recovered: {
      batches: summary.batches,
      commands: summary.commands,
      truncatedBytes: summary.truncatedBytes,
      preallocatedBytes: summary.preallocatedBytes,
      snapshotSeq: recovered.snapshot?.seq ?? 0,
      snapshotLoadMs: core.status.snapshotLoadMs,
      journalReplayMs: core.status.journalReplayMs,
    },
    stateHash: async () => {
      await core.seq.drain();
      return core.pipeline.stateHash();
    },
    stats: () => ({ sessions: core.sessions.size, unsentBytes: core.unsent.total, unsentPeakBytes: core.unsent.peakBytes, slowConsumersCut: core.unsent.cuts }),
    snapshot: (writer) => core.snapshots!.now(writer),
    stop,
  };
}

/**
 * Listens without SO_REUSEPORT (LIBUS_LISTEN_EXCLUSIVE_PORT): a second crossbook on the same port fails to start
 * instead of silently taking half the connections. Resolves with the listen socket and the port bound.
 */
function listenExclusive(uWS: UwsModule, app: import("uWebSockets.js").TemplatedApp, host: string, port: number): Promise<{ socket: unknown; port: number }> {
  type ListenWithOptions = (host: string, port: number, options: number, cb: (socket: unknown) => void) => void;
  return new Promise((resolve, reject) => {
    (app.listen as unknown as ListenWithOptions).call(app, host, port, LIBUS_LISTEN_EXCLUSIVE_PORT, (socket) => {
      if (socket === false) {
        reject(new Error(`cannot listen on ${host}:${port}: the port is in use (by another crossbook?)`));
        return;
      }
      resolve({ socket, port: uWS.us_socket_local_port(socket as never) });
    });
  });
}

/**
 * What recovery cut after the last complete batch, for the log: the torn part of an interrupted write (never
 * acknowledged) apart from the zero-filled space the journal thread writes ahead, which a crash always leaves and which
 * is not lost data.
 */
export function tailCutMessage(truncatedBytes: number, preallocatedBytes: number): string {
  const torn = truncatedBytes - preallocatedBytes;
  let out = "";
  if (torn > 0) out += ` (cut a torn tail of ${torn} bytes: a write the crash interrupted, never acknowledged)`;
  if (preallocatedBytes > 0) out += ` (cut ${preallocatedBytes} bytes of zero-filled space written ahead)`;
  return out;
}
