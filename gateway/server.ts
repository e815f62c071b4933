// The exchange server: recovers the engine from the journal, then serves the binary WebSocket protocol (one
// FlatBuffers frame per message) and a few HTTP endpoints on uWebSockets.js; stops cleanly on SIGINT/SIGTERM.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, join } from "node:path";
import {
  JournalWriter,
  writeSnapshot,
  JOURNAL_ARCHIVE_DIR,
  JOURNAL_SEGMENT_BYTES_DEFAULT,
  JOURNAL_SEGMENT_DIR,
  SNAPSHOT_DIR,
  type SnapshotFile,
} from "../engine/journal/index.ts";
import {
  CommandKind,
  CommandRecord,
  EventKind,
  EventRecord,
  RejectCode,
  SNAPSHOT_COUNT_MAX,
  type ExchangeConfig,
  type SnapshotReader,
  type SnapshotWriter,
} from "../engine/model/index.ts";
import { configDigest, DEFAULT_TOPOLOGY, ThreadedPipeline, type EngineTopology, type PipelineHandlers } from "../engine/pipeline/index.ts";
import { formatDecimal } from "../engine/fixed/index.ts";
import { PRICE_DECIMALS } from "../engine/model/index.ts";
import { Command as WireCommand } from "../schemas/index.ts";
import { decodeCommand, DecodedKind, DecodeResult, encodeEvent, encodeSnapshotTaken, MAX_COMMAND_FRAME_BYTES } from "./codec/index.ts";
import { composeSnapshotPayload, restoreSnapshotPayload, type SnapshotPart } from "./gateway-state.ts";
import { ClockTickPolicy } from "./clock-ticks.ts";
import { MarketDataHub } from "./market-data.ts";
import { recoverEngine, RecoveryStatus } from "./recovery.ts";
import { Sequencer } from "./sequencer.ts";
import { SNAPSHOT_POLICY_DEFAULT, SnapshotScheduler, type SnapshotPolicy, type TakenSnapshot } from "./snapshots.ts";
import { Session, SessionRegistry } from "./sessions.ts";

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
  /** Operator token; default: $CROSSBOOK_ADMIN_TOKEN, else `<dataDir>/admin.token` (created on first start). */
  readonly adminToken?: string;
  readonly log?: (line: string) => void;
  /** A journal segment is closed and the next one started once it holds this many bytes. */
  readonly journalSegmentBytes?: number;
  /** Archived journal segments (default `<dataDir>/journal-archive`), read when the whole journal is replayed. */
  readonly archiveDir?: string;
  /** X5: cut the journal at a corruption (keeping exactly the batches before it) instead of refusing to start. */
  readonly truncateAtCorruption?: boolean;
  /** X7: when snapshots are taken and how many are kept (default SNAPSHOT_POLICY_DEFAULT, gateway/snapshots.ts). */
  readonly snapshots?: SnapshotPolicy;
}

export interface RunningServer {
  readonly port: number;
  readonly adminToken: string;
  /** Recovery summary: journal batches and commands replayed (after the snapshot, if one was used). */
  readonly recovered: {
    readonly batches: number;
    readonly commands: number;
    readonly truncatedBytes: number;
    readonly snapshotSeq: number;
    /** Finding, checking and restoring snapshots, then replaying the journal after them (ms). */
    readonly snapshotLoadMs: number;
    readonly journalReplayMs: number;
  };
  stateHash(): Promise<string>;
  /** X7: writes a snapshot now (as the operator's `crossbook snapshot` does). */
  snapshot(): Promise<TakenSnapshot>;
  /** Stop accepting, drain in-flight commands, stop the engine, close the journal. */
  stop(): Promise<void>;
}

/** Per-socket state kept by uWS. */
interface SocketData {
  session: Session | null;
  operator: boolean;
}

type UwsModule = typeof import("uWebSockets.js");

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

function adminTokenFor(dataDir: string, given: string | undefined): string {
  if (given !== undefined && given.length > 0) return given;
  const env = process.env.CROSSBOOK_ADMIN_TOKEN;
  if (env !== undefined && env.length > 0) return env;
  const path = join(dataDir, "admin.token");
  if (existsSync(path)) return readFileSync(path, "utf8").trim();
  const token = randomBytes(24).toString("hex");
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  return token;
}

/** The public description of the exchange served at GET /config (symbols, ids, scales, filters). */
export function publicConfig(config: ExchangeConfig): unknown {
  return {
    assets: config.assets.map((a) => ({ id: a.id, symbol: a.symbol, decimals: a.decimals })),
    markets: config.markets.map((m) => {
      const base = config.assets[m.baseAsset]!;
      const quote = config.assets[m.quoteAsset]!;
      return {
        id: m.id,
        symbol: m.symbol,
        kind: m.kind === 0 ? "spot" : "perpetual",
        base: base.symbol,
        quote: quote.symbol,
        tickSize: formatDecimal(m.tickSize, PRICE_DECIMALS),
        stepSize: formatDecimal(m.stepSize, base.decimals),
        minQuantity: formatDecimal(m.minQuantity, base.decimals),
        maxQuantity: formatDecimal(m.maxQuantity, base.decimals),
        minNotional: formatDecimal(m.minNotional, quote.decimals),
      };
    }),
  };
}

/**
 * The gateway's read-only view of balances, kept from the engine's Balance events (the risk shards own the real
 * state). Serves GET /balances without a round trip into the engine.
 */
export class BalanceView implements SnapshotPart {
  private readonly byAccount = new Map<number, bigint[]>();

  constructor(private readonly assetCount: number) {}

  apply(e: EventRecord): void {
    let row = this.byAccount.get(e.account);
    if (row === undefined) {
      row = new Array<bigint>(this.assetCount * 2).fill(0n);
      this.byAccount.set(e.account, row);
    }
    row[e.asset * 2] = e.amount;
    row[e.asset * 2 + 1] = e.amount2;
  }

  /** X7: the view as it stands at a snapshot's batch boundary. */
  writeState(w: SnapshotWriter): void {
    w.uint(this.assetCount);
    w.uint(this.byAccount.size);
    for (const [account, row] of this.byAccount) {
      w.uint(account);
      for (const v of row) w.big(v);
    }
  }

  readState(r: SnapshotReader): void {
    if (r.uint() !== this.assetCount) r.fail("balances: another number of assets");
    this.byAccount.clear();
    for (let n = r.count(SNAPSHOT_COUNT_MAX, "balance accounts"); n > 0; n--) {
      const account = r.uint();
      const row = new Array<bigint>(this.assetCount * 2);
      for (let i = 0; i < row.length; i++) row[i] = r.big();
      this.byAccount.set(account, row);
    }
  }

  describe(account: number, config: ExchangeConfig): unknown {
    const row = this.byAccount.get(account);
    return {
      account,
      balances: config.assets.map((a) => ({
        asset: a.symbol,
        available: formatDecimal(row?.[a.id * 2] ?? 0n, a.decimals),
        locked: formatDecimal(row?.[a.id * 2 + 1] ?? 0n, a.decimals),
      })),
    };
  }
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const uWS = loadUws(opts.allowFallback ?? false);
  const config = opts.config;
  mkdirSync(opts.dataDir, { recursive: true });
  const adminToken = adminTokenFor(opts.dataDir, opts.adminToken);
  const digest = configDigest(config);
  const topology = opts.topology ?? DEFAULT_TOPOLOGY;
  const journalDir = join(opts.dataDir, JOURNAL_SEGMENT_DIR);

  const sessions = new SessionRegistry(config);
  let balances = new BalanceView(config.assets.length);
  let marketData = new MarketDataHub(config);
  let sequencer: Sequencer | null = null;
  let recovering = true;
  let fatal: ((message: string) => void) | null = null;
  const status = new RecoveryStatus(log);
  const tick = new CommandRecord();
  const ticks = new ClockTickPolicy();
  function submitTick(to: Sequencer, timeMs: number): void {
    tick.clear();
    tick.kind = CommandKind.AdvanceTime;
    tick.timeMs = timeMs;
    to.submit(tick, null, 0n);
  }
  const handlers = (): PipelineHandlers => (
    {
      onEvent(e: EventRecord): void {
        if (e.kind === EventKind.Balance) balances.apply(e);
        else if (e.kind === EventKind.Fill) ticks.traded(e.timeMs);
        if (recovering || sequencer === null) return;
        const origin = sequencer.originOf(e.seq) as Session | null;
        if (origin === null) sessions.dispatch(e, null, 0, 0n);
        else sessions.dispatch(e, origin, sequencer.accountOf(e.seq), sequencer.clientSeqOf(e.seq));
      },
      onBatchDone(batch: number): void {
        sequencer?.batchDone(batch);
      },
      onTick(timeMs: number): void {
        if (sequencer === null || recovering) return;
        if (ticks.propose(timeMs)) submitTick(sequencer, timeMs);
      },
      onMarketData: marketData,
      onFatal(message: string): void {
        log(`FATAL engine worker: ${message}`);
        fatal?.(message);
      },
    }
  );
  /** The engine and the gateway views, fresh or from a snapshot (each recovery attempt starts over). */
  async function startPipeline(snapshot: SnapshotFile | null): Promise<ThreadedPipeline> {
    balances = new BalanceView(config.assets.length);
    marketData = new MarketDataHub(config);
    let engineState: Uint8Array | null = null;
    if (snapshot !== null) engineState = restoreSnapshotPayload(snapshot.payload, [balances, marketData]);
    const options = { topology, tickIntervalMs: opts.tickIntervalMs ?? 0, stages: opts.stages ?? "fused" } as const;
    return ThreadedPipeline.start(config, handlers(), engineState === null ? options : { ...options, snapshot: engineState });
  }
  // Set once recovery is done (every route and frame handler checks status.ready first).
  let pipeline!: ThreadedPipeline;
  let seq!: Sequencer;
  let journal: JournalWriter | null = null;
  const snapshotPolicy = opts.snapshots ?? SNAPSHOT_POLICY_DEFAULT;
  const snapshotDir = join(opts.dataDir, SNAPSHOT_DIR);

  /**
   * X7: a snapshot at a batch boundary (gateway/snapshots.ts): the engine stages' state, then — once every event and
   * market-data record of the batches it covers is handled — the gateway views; the file is written after the
   * sequencer hands batches to the engine again.
   */
  async function takeSnapshot(): Promise<TakenSnapshot> {
    const startedMs = performance.now();
    const captured = await seq.atBatchBoundary(async (lastSeq, lastBatch) => {
      const engine = await pipeline.snapshot();
      if (engine.seq !== lastSeq || engine.batch !== lastBatch) {
        throw new Error(`the engine's snapshot covers ${engine.seq}/${engine.batch}, the sequencer handed ${lastSeq}/${lastBatch}`);
      }
      await pipeline.settle();
      return { engine, payload: composeSnapshotPayload(engine.bytes, [balances, marketData]) };
    });
    const captureMs = performance.now() - startedMs;
    const { engine, payload } = captured;
    const meta = { seq: engine.seq, batch: engine.batch, configDigestHex: digest, stateHash: engine.stateHash, riskShards: topology.riskShards, matchingShards: topology.matchingShards };
    const file = await writeSnapshot(snapshotDir, meta, payload, snapshotPolicy.keep, Date.now());
    const totalMs = performance.now() - startedMs;
    log(`snapshot at sequence ${engine.seq} (batch ${engine.batch}): ${file.path}, ${file.bytes} bytes; state captured in ${captureMs.toFixed(0)} ms, on disk after ${totalMs.toFixed(0)} ms`);
    return { seq: engine.seq, batch: engine.batch, stateHash: engine.stateHash, path: file.path, bytes: file.bytes, captureMs, totalMs };
  }
  let snapshots: SnapshotScheduler | null = null;

  const decoded = new CommandRecord();
  const result = new DecodeResult();
  const rejection = new EventRecord();

  function reject(session: Session, clientSeq: bigint, code: number, message: string, commandType: number, account: number, clientId: bigint): void {
    rejection.clear();
    rejection.kind = commandType === WireCommand.LimitOrder || commandType === WireCommand.MarketOrder ? EventKind.OrderRejected : EventKind.CommandRejected;
    rejection.code = code;
    rejection.message = message;
    rejection.account = account;
    rejection.clientId = clientId;
    session.socket.send(encodeEvent(rejection, clientSeq, config));
  }

  /** X7: a frame that arrives while the journal is replayed gets a typed reject (the connection stays open). */
  function rejectRecovering(session: Session, bytes: Uint8Array): void {
    decodeCommand(bytes, config, decoded, result);
    const left = status.secondsLeft;
    const message = `the exchange is recovering (${status.records} of ~${status.expectedRecords} journal records replayed` +
      `${left === null ? "" : `, ~${left} s left`}): retry when GET /health says ready`;
    reject(session, result.clientSeq, RejectCode.Recovering, message, result.commandType, result.account, result.clientId);
  }

  /** An operator's TakeSnapshot: SnapshotTaken once the file is on disk, or a reject saying why not. */
  function answerSnapshot(session: Session, clientSeq: bigint, commandType: number): void {
    snapshots!.now().then(
      (t) => {
        if (!session.closed) session.socket.send(encodeSnapshotTaken(clientSeq, t.seq, t.batch, t.stateHash, t.bytes, basename(t.path)));
      },
      (e: unknown) => {
        if (!session.closed) reject(session, clientSeq, RejectCode.Overloaded, `snapshot failed: ${(e as Error).message}`, commandType, 0, 0n);
      },
    );
  }

  function onFrame(session: Session, bytes: Uint8Array): void {
    if (!decodeCommand(bytes, config, decoded, result)) {
      reject(session, result.clientSeq, result.code, result.message, result.commandType, result.account, result.clientId);
      return;
    }
    if (!session.takeCommandToken(performance.now())) {
      reject(session, result.clientSeq, RejectCode.Overloaded, "rate limit: too many commands per second on this connection", result.commandType, result.account, result.clientId);
      return;
    }
    if (result.kind === DecodedKind.Subscribe) {
      marketData.subscribe(session, result.market, result.channels);
      return;
    }
    if (result.kind === DecodedKind.Unsubscribe) {
      marketData.unsubscribe(session, result.market, result.channels);
      return;
    }
    if (result.privileged && !session.operator) {
      reject(session, result.clientSeq, RejectCode.Unauthorized, "operator command: connect with the admin token", result.commandType, result.account, result.clientId);
      return;
    }
    if (result.kind === DecodedKind.TakeSnapshot) {
      answerSnapshot(session, result.clientSeq, result.commandType);
      return;
    }
    // Operator commands (deposit, market state, clock, marks) act for nobody: the operator does not watch the account.
    if (!result.privileged) {
      if (!sessions.watch(session, decoded.account)) {
        reject(session, result.clientSeq, RejectCode.Overloaded, "this session already acts for the maximum number of accounts", result.commandType, decoded.account, decoded.clientId);
        return;
      }
    }
    // A clock tick held while the exchange was idle goes first, so the command sees the current time (clock-ticks.ts).
    const dueTickMs = decoded.kind === CommandKind.AdvanceTime ? 0 : ticks.dueBeforeCommand();
    if (dueTickMs > 0) submitTick(seq, dueTickMs);
    if (seq.submit(decoded, session, result.clientSeq) === 0) {
      reject(session, result.clientSeq, RejectCode.Overloaded, "engine saturated: retry later", result.commandType, decoded.account, decoded.clientId);
    }
  }

  let listenSocket: unknown = null;
  const app = uWS.App();
  app.ws<SocketData>("/*", {
    compression: uWS.DISABLED,
    maxPayloadLength: MAX_COMMAND_FRAME_BYTES,
    idleTimeout: 120,
    maxBackpressure: 16 * 1024 * 1024,
    closeOnBackpressureLimit: 1,
    upgrade: (res, req, context) => {
      if (!sessions.hasRoom()) {
        res.writeStatus("503 Service Unavailable").end("too many connections\n");
        return;
      }
      const token = req.getQuery("token") ?? "";
      const watch = req.getQuery("watch") ?? "";
      res.upgrade<SocketData & { watch: string }>(
        { session: null, operator: token === adminToken, watch },
        req.getHeader("sec-websocket-key"),
        req.getHeader("sec-websocket-protocol"),
        req.getHeader("sec-websocket-extensions"),
        context,
      );
    },
    open: (ws) => {
      const data = ws.getUserData() as SocketData & { watch: string };
      data.session = sessions.open({ send: (bytes) => void ws.send(bytes, true), bufferedAmount: () => ws.getBufferedAmount() }, data.operator);
      // ?watch=17,18: receive every event of these accounts (a person's `client watch`).
      for (const part of data.watch.split(",")) {
        const account = Number(part);
        if (part !== "" && Number.isInteger(account) && account > 0 && account <= 0xffffffff) sessions.watch(data.session, account);
      }
    },
    message: (ws, message, isBinary) => {
      const session = ws.getUserData().session!;
      if (!isBinary) {
        reject(session, 0n, RejectCode.MalformedFrame, "text frames are not accepted: send one binary FlatBuffers frame per message", 0, 0, 0n);
        return;
      }
      if (status.ready) onFrame(session, new Uint8Array(message));
      else rejectRecovering(session, new Uint8Array(message));
    },
    drain: (ws) => {
      const session = ws.getUserData().session;
      if (session !== null) marketData.drained(session);
    },
    close: (ws) => {
      const session = ws.getUserData().session;
      if (session !== null) {
        sessions.close(session);
        marketData.close(session);
      }
    },
  });
  app.get("/health", (res) => {
    // 503 until the engine is recovered, so a load balancer sends no client to a recovering exchange.
    if (!status.ready) res.writeStatus("503 Service Unavailable");
    res.writeHeader("content-type", "application/json").end(JSON.stringify(status.health()));
  });
  const answerRecovering = (res: import("uWebSockets.js").HttpResponse): void => {
    res.writeStatus("503 Service Unavailable").writeHeader("content-type", "application/json").end(JSON.stringify(status.health()));
  };
  app.get("/config", (res) => {
    res.writeHeader("content-type", "application/json").end(JSON.stringify(publicConfig(config)));
  });
  app.get("/balances", (res, req) => {
    if (!status.ready) return answerRecovering(res);
    const account = Number(req.getQuery("account"));
    if (!Number.isInteger(account) || account <= 0 || account > 0xffffffff) {
      res.writeStatus("400 Bad Request").end("usage: GET /balances?account=N\n");
      return;
    }
    res.writeHeader("content-type", "application/json").end(JSON.stringify(balances.describe(account, config)));
  });
  app.get("/state-hash", (res, req) => {
    if (!status.ready) return answerRecovering(res);
    if (req.getQuery("token") !== adminToken) {
      res.writeStatus("403 Forbidden").end("operator token required\n");
      return;
    }
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    void seq.drain().then(() => pipeline.stateHash()).then((hash) => {
      if (aborted) return;
      res.cork(() => {
        res.writeHeader("content-type", "application/json").end(JSON.stringify({ hash, lastSeq: seq.lastSeq }));
      });
    });
  });
  app.any("/*", (res) => {
    res.writeStatus("404 Not Found").end("not found: use a WebSocket, GET /health, GET /config\n");
  });

  const port = await new Promise<number>((resolve, reject) => {
    app.listen(opts.host, opts.port, (socket) => {
      if (socket === false) {
        reject(new Error(`cannot listen on ${opts.host}:${opts.port}`));
        return;
      }
      listenSocket = socket;
      resolve(uWS.us_socket_local_port(socket as never));
    });
  });
  log(`crossbook started on ws://${opts.host}:${port}: recovering (GET /health for progress)`);

  // Recovery: the newest usable snapshot plus the journal after it (gateway/recovery.ts), events discarded.
  const recovered = await recoverEngine({
    dataDir: opts.dataDir,
    archiveDir: opts.archiveDir ?? join(opts.dataDir, JOURNAL_ARCHIVE_DIR),
    configDigestHex: digest,
    topology,
    truncateAtCorruption: opts.truncateAtCorruption ?? false,
    status,
    log,
    startPipeline,
  });
  pipeline = recovered.pipeline;
  const summary = recovered.journal;
  if (recovered.snapshot !== null || summary.batches > 0 || summary.truncatedBytes > 0) {
    log(`recovered ${recovered.snapshot === null ? "" : `snapshot ${recovered.snapshot.seq} + `}${summary.commands} commands in ` +
      `${summary.batches} batches from ${journalDir}` +
      (summary.truncatedBytes > 0 ? ` (cut a torn tail of ${summary.truncatedBytes} bytes)` : ""));
  }
  journal = await JournalWriter.openSegments(journalDir, digest, opts.journalSegmentBytes ?? JOURNAL_SEGMENT_BYTES_DEFAULT, recovered.lastSeq + 1);
  sequencer = new Sequencer(journal, pipeline, recovered.lastSeq, recovered.lastBatch, (e) => {
    log(`FATAL journal: ${e.message}`);
    fatal?.(e.message);
  });
  seq = sequencer;
  recovering = false;
  // Trades restored with a snapshot (not replayed) still keep the ticker's clock ticks minutely (clock-ticks.ts).
  const tradesMs = marketData.latestTradeWindowMs();
  if (tradesMs > 0) ticks.traded(tradesMs);
  status.finish(recovered.lastSeq);
  snapshots = new SnapshotScheduler(snapshotPolicy, takeSnapshot, () => seq.lastSeq, log, recovered.snapshot?.seq ?? 0);
  snapshots.start();
  log(`crossbook listening on ws://${opts.host}:${port} (journal ${journalDir}, ${config.markets.length} markets)`);

  let stopping: Promise<void> | null = null;
  async function stop(): Promise<void> {
    if (stopping !== null) return stopping;
    stopping = (async () => {
      if (listenSocket !== null) uWS.us_listen_socket_close(listenSocket as never);
      listenSocket = null;
      await snapshots?.stop();
      await seq.drain();
      await pipeline.stop();
      await journal?.close();
    })();
    return stopping;
  }
  fatal = () => {
    void stop().finally(() => process.exit(70));
  };

  return {
    port,
    adminToken,
    recovered: {
      batches: summary.batches,
      commands: summary.commands,
      truncatedBytes: summary.truncatedBytes,
      snapshotSeq: recovered.snapshot?.seq ?? 0,
      snapshotLoadMs: status.snapshotLoadMs,
      journalReplayMs: status.journalReplayMs,
    },
    stateHash: async () => {
      await seq.drain();
      return pipeline.stateHash();
    },
    snapshot: () => snapshots!.now(),
    stop,
  };
}
