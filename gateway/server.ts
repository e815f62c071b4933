// The exchange server: recovers the engine from the journal, then serves the binary WebSocket protocol (one
// FlatBuffers frame per message) and a few HTTP endpoints on uWebSockets.js; stops cleanly on SIGINT/SIGTERM.
import type { KeyObject } from "node:crypto";
import { mkdirSync } from "node:fs";
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
  rejectCodeName,
  SNAPSHOT_COUNT_MAX,
  type ExchangeConfig,
  type SnapshotReader,
  type SnapshotWriter,
} from "../engine/model/index.ts";
import { configDigest, DEFAULT_TOPOLOGY, snapshotStateHash, ThreadedPipeline, type EngineTopology, type PipelineHandlers } from "../engine/pipeline/index.ts";
import { formatDecimal } from "../engine/fixed/index.ts";
import { PRICE_DECIMALS } from "../engine/model/index.ts";
import { Command as WireCommand } from "../schemas/index.ts";
import { GatewayAuth } from "./auth/gateway-auth.ts";
import { formatPermissions } from "./auth/keys.ts";
import type { Identity, RequestHeaders } from "./auth/login.ts";
import { decodeCommand, DecodedKind, DecodeResult, encodeEvent, encodeResumeDone, encodeSnapshotTaken, MAX_COMMAND_FRAME_BYTES } from "./codec/index.ts";
import { AccountEventLog, AccountView } from "./account-catch-up.ts";
import { lockDataDir } from "./data-lock.ts";
import {
  ADDRESS_COMMAND_BURST,
  ADDRESS_COMMANDS_PER_SECOND,
  ADDRESSES_TRACKED_MAX,
  CLOSE_GOING_AWAY,
  CLOSE_MESSAGE_TOO_BIG,
  CONNECTIONS_PER_ADDRESS_MAX,
  ConnectionCounter,
  KEY_COMMAND_BURST,
  KEY_COMMANDS_PER_SECOND,
  KeyedRateLimiter,
  KEYS_TRACKED_MAX,
  SESSION_UNSENT_BYTES_MAX,
  UNSENT_EVENTS_GLOBAL_BYTES_MAX,
  UnsentBudget,
  type UnsentConsumer,
} from "./limits.ts";
import { composeSnapshotPayload, openSnapshotPayload, type SnapshotPart } from "./gateway-state.ts";
import { ClockTickPolicy } from "./clock-ticks.ts";
import { MarketDataHub } from "./market-data.ts";
import { recoverEngine, RecoveryStatus } from "./recovery.ts";
import { Sequencer } from "./sequencer.ts";
import { SNAPSHOT_POLICY_DEFAULT, SnapshotScheduler, type SnapshotPolicy, type TakenSnapshot } from "./snapshots.ts";
import { BatchedSocket, OutboxFlusher, Session, SessionRegistry, type CorkableWebSocket } from "./sessions.ts";

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
}

export interface GatewayLimits {
  readonly connectionsPerAddressMax: number;
  readonly addressCommandsPerSecond: number;
  readonly addressCommandBurst: number;
  readonly keyCommandsPerSecond: number;
  readonly keyCommandBurst: number;
  readonly sessionUnsentMaxBytes: number;
  readonly unsentGlobalMaxBytes: number;
}

export const DEFAULT_GATEWAY_LIMITS: GatewayLimits = {
  connectionsPerAddressMax: CONNECTIONS_PER_ADDRESS_MAX,
  addressCommandsPerSecond: ADDRESS_COMMANDS_PER_SECOND,
  addressCommandBurst: ADDRESS_COMMAND_BURST,
  keyCommandsPerSecond: KEY_COMMANDS_PER_SECOND,
  keyCommandBurst: KEY_COMMAND_BURST,
  sessionUnsentMaxBytes: SESSION_UNSENT_BYTES_MAX,
  unsentGlobalMaxBytes: UNSENT_EVENTS_GLOBAL_BYTES_MAX,
};

/** Bytes uWS accepts in one WebSocket message; frames above MAX_COMMAND_FRAME_BYTES get FrameTooLarge and a 1009 close. */
export const WS_MESSAGE_BYTES_MAX = 64 * 1024;
/** After a slow consumer is sent its close frame, how long it may take to read it before the socket is dropped. */
export const CUT_CLOSE_GRACE_MS = 5_000;
/** Snapshot requests waiting for a batch boundary at once; more are refused (Overloaded). */
export const SNAPSHOT_REQUESTS_PENDING_MAX = 1024;
/**
 * On stop: how long queued events (acknowledgements included) may take to reach clients before the close frames are
 * sent anyway; a client that reads nothing for this long may miss acknowledgements of journaled commands.
 */
export const STOP_FLUSH_MS_MAX = 10_000;
/** On stop: how long clients get to answer the close frames before the process closes their sockets. */
export const STOP_CLOSE_GRACE_MS = 300;

export interface RunningServer {
  readonly port: number;
  /** X6: the operator's private key (`<dataDir>/operator.key`, created 0600 on the first start; its public key is trusted). */
  readonly operatorKey: KeyObject;
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

/** Per-socket state kept by uWS. */
interface SocketData {
  session: Session | null;
  /** ?watch=17,18 of the upgrade: applied once the session logs in (each account checked). */
  watch: string;
  /** Remote address (text), for the per-address limits. */
  address: string;
  /** Until the close handler ran: the socket may be used. */
  open: boolean;
  /** Closing on our side (cut, oversize frame, stop): nothing more is sent. */
  closing: boolean;
  consumer: UnsentConsumer | null;
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

type UwsApp = ReturnType<UwsModule["App"]>;
type RouteAnswer = [status: number, body: unknown];
const HTTP_STATUS: Record<number, string> = { 200: "200 OK", 400: "400 Bad Request", 401: "401 Unauthorized", 403: "403 Forbidden", 503: "503 Service Unavailable" };

/**
 * A GET route that answers only a signed request (X6): the signature headers and the named query parameters are read
 * before the handler returns (uWS), verified on the pool, then `handle` answers for the verified identity.
 */
function signedRoute(
  app: UwsApp,
  auth: GatewayAuth,
  path: string,
  instruction: string,
  paramNames: readonly string[],
  handle: (who: Identity, params: Readonly<Record<string, string>>) => Promise<RouteAnswer>,
): void {
  app.get(path, (res, req) => {
    const headers: RequestHeaders = {
      apiKey: req.getHeader("x-api-key"),
      signature: req.getHeader("x-signature"),
      timestamp: req.getHeader("x-timestamp"),
      window: req.getHeader("x-window"),
    };
    const params: Record<string, string> = {};
    for (const name of paramNames) {
      const v = req.getQuery(name);
      if (v !== undefined && v !== "") params[name] = v;
    }
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    void auth
      .request(headers, instruction, params)
      .then(async (outcome): Promise<RouteAnswer> => {
        if (outcome.identity === null) return [outcome.code === RejectCode.Overloaded ? 503 : 401, { code: rejectCodeName[outcome.code], message: outcome.message }];
        return handle(outcome.identity, params);
      })
      .catch((e: unknown): RouteAnswer => [503, { code: "Overloaded", message: `cannot answer now: ${(e as Error).message}` }])
      .then(([status, body]) => {
        if (aborted) return;
        res.cork(() => {
          res.writeStatus(HTTP_STATUS[status] ?? `${status}`).writeHeader("content-type", "application/json").end(JSON.stringify(body));
        });
      });
  });
}

/**
 * The gateway's read-only view of balances, kept from the engine's Balance events (the risk shards own the real
 * state; every change of an account's available, locked, lent or borrowed units publishes one). Serves
 * GET /balances without a round trip into the engine: per asset available, locked, lent and borrowed.
 */
export class BalanceView implements SnapshotPart {
  private readonly byAccount = new Map<number, bigint[]>();

  constructor(private readonly assetCount: number) {}

  apply(e: EventRecord): void {
    let row = this.byAccount.get(e.account);
    if (row === undefined) {
      row = new Array<bigint>(this.assetCount * BALANCE_VIEW_SLOTS).fill(0n);
      this.byAccount.set(e.account, row);
    }
    const i = e.asset * BALANCE_VIEW_SLOTS;
    row[i] = e.available;
    row[i + 1] = e.locked;
    row[i + 2] = e.lent;
    row[i + 3] = e.borrowed;
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
      const row = new Array<bigint>(this.assetCount * BALANCE_VIEW_SLOTS);
      for (let i = 0; i < row.length; i++) row[i] = r.big();
      this.byAccount.set(account, row);
    }
  }

  describe(account: number, config: ExchangeConfig): unknown {
    const row = this.byAccount.get(account);
    return {
      account,
      balances: config.assets.map((a) => {
        const i = a.id * BALANCE_VIEW_SLOTS;
        return {
          asset: a.symbol,
          available: formatDecimal(row?.[i] ?? 0n, a.decimals),
          locked: formatDecimal(row?.[i + 1] ?? 0n, a.decimals),
          lent: formatDecimal(row?.[i + 2] ?? 0n, a.decimals),
          borrowed: formatDecimal(row?.[i + 3] ?? 0n, a.decimals),
        };
      }),
    };
  }
}

/** uWS listen option: bind without SO_REUSEPORT, so another process cannot listen on the same port (uWS ListenOptions). */
const LIBUS_LISTEN_EXCLUSIVE_PORT = 1;
/** Per asset in a BalanceView row: available, locked, lent, borrowed. */
const BALANCE_VIEW_SLOTS = 4;

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

async function serveLocked(opts: ServerOptions, uWS: UwsModule, releaseLock: () => void): Promise<RunningServer> {
  const log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const config = opts.config;
  const digest = configDigest(config);
  const topology = opts.topology ?? DEFAULT_TOPOLOGY;
  const journalDir = join(opts.dataDir, JOURNAL_SEGMENT_DIR);

  const rejection = new EventRecord();
  const sessions = new SessionRegistry(config);
  const outboxes = new OutboxFlusher();
  const auth = new GatewayAuth(opts.dataDir, sessions, {
    reject,
    accepted(session: Session, clientSeq: bigint, account: number): void {
      rejection.clear();
      rejection.kind = EventKind.CommandAccepted;
      rejection.account = account;
      session.socket.send(encodeEvent(rejection, clientSeq, config));
    },
    watch: (session: Session, account: number) => watchAccount(session, account),
  });
  let balances = new BalanceView(config.assets.length);
  let marketData = new MarketDataHub(config);
  const accountLog = new AccountEventLog(config);
  let accountView = new AccountView(config);
  /** Snapshot requests waiting for the batch in flight to end (a snapshot is taken at a batch boundary). */
  const pendingSnapshots: { session: Session; account: number; clientSeq: bigint }[] = [];
  let sequencer: Sequencer | null = null;
  let recovering = true;
  let shuttingDown = false;
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
        accountView.apply(e);
        if (recovering || sequencer === null) return;
        accountLog.record(e);
        const origin = sequencer.originOf(e.seq) as Session | null;
        if (origin === null) sessions.dispatch(e, null, 0, 0n);
        else sessions.dispatch(e, origin, sequencer.accountOf(e.seq), sequencer.clientSeqOf(e.seq));
      },
      onBatchDone(batch: number): void {
        sequencer?.batchDone(batch);
        // One risk shard: every event of the batch has been dispatched, none of the next. Several: a shard may be a
        // batch ahead of the slowest, so snapshots wait until the engine has nothing in flight.
        const exact = (opts.topology ?? DEFAULT_TOPOLOGY).riskShards === 1 || sequencer?.inflight === 0;
        if (pendingSnapshots.length > 0 && sequencer !== null && exact) answerSnapshots(sequencer.lastSeq - sequencer.inflight);
      },
      onTick(timeMs: number): void {
        if (sequencer === null || recovering || shuttingDown) return;
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
    accountView = new AccountView(config);
    auth.registry.clear();
    const options = { topology, tickIntervalMs: opts.tickIntervalMs ?? 0, stages: opts.stages ?? "fused" } as const;
    if (snapshot === null) return ThreadedPipeline.start(config, handlers(), options);
    const opened = openSnapshotPayload(snapshot.payload);
    // The workers boot and restore the engine's state while this thread restores the gateway's views.
    const starting = ThreadedPipeline.start(config, handlers(), { ...options, snapshot: opened.engine });
    try {
      opened.restoreGateway([balances, marketData, accountView, auth.registry]);
    } catch (e) {
      await starting.then((p) => p.stop(), () => {});
      throw e;
    }
    return starting;
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
   * sequencer hands batches to the engine again, once a follower has restored the payload and hashed it for the header
   * (snapshotStateHash: the engine stalls only while its stages write their parts).
   */
  async function takeSnapshot(): Promise<TakenSnapshot> {
    const startedMs = performance.now();
    const captured = await seq.atBatchBoundary(async (lastSeq, lastBatch) => {
      // The stages write their parts without their digests: the header's hash comes from a follower below.
      const engine = await pipeline.snapshot({ stateHash: false });
      if (engine.seq !== lastSeq || engine.batch !== lastBatch) {
        throw new Error(`the engine's snapshot covers ${engine.seq}/${engine.batch}, the sequencer handed ${lastSeq}/${lastBatch}`);
      }
      await pipeline.settle();
      return { engine, payload: composeSnapshotPayload(engine.bytes, [balances, marketData, accountView, auth.registry]) };
    });
    const captureMs = performance.now() - startedMs;
    const { engine, payload } = captured;
    const stateHash = await snapshotStateHash(config, engine.bytes);
    const meta = { seq: engine.seq, batch: engine.batch, configDigestHex: digest, stateHash, riskShards: topology.riskShards, matchingShards: topology.matchingShards };
    const file = await writeSnapshot(snapshotDir, meta, payload, snapshotPolicy.keep, Date.now());
    const totalMs = performance.now() - startedMs;
    log(`snapshot at sequence ${engine.seq} (batch ${engine.batch}): ${file.path}, ${file.bytes} bytes; state captured in ${captureMs.toFixed(0)} ms, on disk after ${totalMs.toFixed(0)} ms`);
    return { seq: engine.seq, batch: engine.batch, stateHash, path: file.path, bytes: file.bytes, captureMs, totalMs };
  }
  let snapshots: SnapshotScheduler | null = null;
  const decoded = new CommandRecord();
  const result = new DecodeResult();

  function reject(session: Session, clientSeq: bigint, code: number, message: string, commandType: number, account: number, clientId: bigint): void {
    rejection.clear();
    rejection.kind = commandType === WireCommand.LimitOrder || commandType === WireCommand.MarketOrder ? EventKind.OrderRejected : EventKind.CommandRejected;
    rejection.code = code;
    rejection.message = message;
    rejection.account = account;
    rejection.clientId = clientId;
    session.socket.send(encodeEvent(rejection, clientSeq, config));
  }

  const limits: GatewayLimits = { ...DEFAULT_GATEWAY_LIMITS, ...opts.limits };
  const connections = new ConnectionCounter(limits.connectionsPerAddressMax);
  const addressRates = new KeyedRateLimiter<string>(limits.addressCommandsPerSecond, limits.addressCommandBurst, ADDRESSES_TRACKED_MAX);
  const keyRates = new KeyedRateLimiter<string>(limits.keyCommandsPerSecond, limits.keyCommandBurst, KEYS_TRACKED_MAX);
  const unsent = new UnsentBudget(limits.sessionUnsentMaxBytes, limits.unsentGlobalMaxBytes);

  /** Refuses a command that decoded but may not enter now (stopping, over a rate); false when it may. */
  function refusedAtGate(session: Session, address: string): boolean {
    let why = "";
    let code: number = RejectCode.RateLimited;
    if (shuttingDown) {
      code = RejectCode.ShuttingDown;
      why = "the server is shutting down: nothing was queued; reconnect when it is back";
    } else if (!session.takeCommandToken(performance.now())) {
      why = "rate limit: too many commands per second on this connection";
    } else if (!addressRates.take(address, performance.now())) {
      why = "rate limit: too many commands per second from this address";
    } else if (session.apiKey !== null && !keyRates.take(session.apiKey.apiKey, performance.now())) {
      why = "rate limit: too many commands per second with this API key (all its sessions together)";
    }
    if (why === "") return false;
    reject(session, result.clientSeq, code, why, result.commandType, result.account, result.clientId);
    return true;
  }

  /** The last command whose batch the engine finished (every event of commands up to it has been dispatched). */
  function doneSeq(): number {
    return seq.lastSeq - seq.inflight;
  }

  /** The session receives the account's events from now on, and the gateway logs them for a later resume. */
  function watchAccount(session: Session, account: number): boolean {
    if (!sessions.watch(session, account)) return false;
    accountLog.track(account, doneSeq());
    return true;
  }

  /**
   * ResumeAccount: the logged events again, then ResumeDone, then live events (no gap: all within this call).
   * QueryAccountSnapshot: answered at the next batch boundary (now, when no batch is in flight).
   */
  function catchUp(session: Session, kind: DecodedKind, account: number, fromSeq: number, clientSeq: bigint): void {
    if (!watchAccount(session, account)) {
      reject(session, clientSeq, RejectCode.Overloaded, "this session already acts for the maximum number of accounts", result.commandType, account, 0n);
      return;
    }
    if (kind === DecodedKind.ResumeAccount) {
      const send = (frame: Uint8Array): void => session.socket.send(frame);
      const { events, complete } = accountLog.replay(account, fromSeq, send);
      send(encodeResumeDone(account, fromSeq, events, complete, clientSeq));
      return;
    }
    if (pendingSnapshots.length >= SNAPSHOT_REQUESTS_PENDING_MAX) {
      reject(session, clientSeq, RejectCode.Overloaded, "too many snapshot requests waiting: retry later", result.commandType, account, 0n);
      return;
    }
    pendingSnapshots.push({ session, account, clientSeq });
    if (seq.inflight === 0) answerSnapshots(doneSeq());
  }

  /** Answers every waiting snapshot request as the accounts stand after command `validAtSeq` (a batch boundary). */
  function answerSnapshots(validAtSeq: number): void {
    for (const p of pendingSnapshots.splice(0)) {
      if (p.session.closed) continue;
      accountView.sendSnapshot(p.account, validAtSeq, p.clientSeq, (frame) => p.session.socket.send(frame));
    }
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

  function onFrame(session: Session, address: string, bytes: Uint8Array): void {
    if (!decodeCommand(bytes, config, decoded, result)) {
      reject(session, result.clientSeq, result.code, result.message, result.commandType, result.account, result.clientId);
      return;
    }
    if (refusedAtGate(session, address)) return;
    if (result.kind === DecodedKind.Login) {
      auth.login(session, result);
      return;
    }
    if (result.kind === DecodedKind.ResumeAccount || result.kind === DecodedKind.AccountSnapshot) {
      // Gateway-only reads of one account: the same X6 check as a query (login, own account, Read, rising client_seq).
      decoded.clear();
      decoded.account = result.account;
      if (auth.check(session, result, decoded)) catchUp(session, result.kind, result.account, result.fromSeq, result.clientSeq);
      return;
    }
    // X6: login, the user's own accounts, the key's permissions, a rising client_seq — before anything is queued.
    if (!auth.check(session, result, decoded)) return;
    if (result.kind === DecodedKind.Subscribe) {
      marketData.subscribe(session, result.market, result.channels);
      return;
    }
    if (result.kind === DecodedKind.Unsubscribe) {
      marketData.unsubscribe(session, result.market, result.channels);
      return;
    }
    if (result.kind === DecodedKind.TakeSnapshot) {
      answerSnapshot(session, result.clientSeq, result.commandType);
      return;
    }
    // Operator sessions act for nobody (operator commands, reads): they get their answers as the command's origin.
    if (!session.operator) {
      if (!watchAccount(session, decoded.account)) {
        reject(session, result.clientSeq, RejectCode.Overloaded, "this session already acts for the maximum number of accounts", result.commandType, decoded.account, decoded.clientId);
        return;
      }
    }
    // A clock tick held while the exchange was idle goes first, so the command sees the current time (clock-ticks.ts).
    const dueTickMs = decoded.kind === CommandKind.AdvanceTime ? 0 : ticks.dueBeforeCommand();
    if (dueTickMs > 0) submitTick(seq, dueTickMs);
    if (seq.submit(decoded, session, result.clientSeq) === 0) {
      reject(session, result.clientSeq, RejectCode.Overloaded, "engine saturated: retry later", result.commandType, decoded.account, decoded.clientId);
      return;
    }
    auth.sequenced(decoded);
  }

  type Ws = import("uWebSockets.js").WebSocket<SocketData>;
  const sockets = new Set<Ws>();

  /** Sends a close frame with a reason; nothing more is sent on the socket. */
  function closeSocket(ws: Ws, data: SocketData, code: number, reason: string): void {
    if (data.closing) return;
    // What the session queued this turn (say the reject that explains the close) goes out before the close frame.
    (data.session?.socket as BatchedSocket | undefined)?.flush();
    data.closing = true;
    ws.end(code, reason);
  }

  /**
   * The socket as the unsent-events budget sees it. A cut happens inside a send (possibly while the registry walks a
   * watcher list), so the close is deferred to the next turn; a client that does not read its close frame within
   * CUT_CLOSE_GRACE_MS is dropped, releasing what uWS holds for it.
   */
  function slowConsumerOf(ws: Ws, data: SocketData): UnsentConsumer {
    return {
      bufferedAmount: () => (data.open ? ws.getBufferedAmount() : 0),
      cut: (code, reason) => {
        if (data.closing) return;
        data.closing = true;
        log(`closing a slow client (${data.address}): ${reason}`);
        setImmediate(() => {
          if (!data.open) return;
          ws.end(code, reason);
          setTimeout(() => {
            if (data.open) ws.close();
          }, CUT_CLOSE_GRACE_MS).unref();
        });
      },
    };
  }

  let listenSocket: unknown = null;
  const app = uWS.App();
  app.ws<SocketData>("/*", {
    compression: uWS.DISABLED,
    maxPayloadLength: WS_MESSAGE_BYTES_MAX,
    idleTimeout: 120,
    // Never reached: UnsentBudget closes a socket with a reason well before uWS would drop or close on its own.
    maxBackpressure: 2 * limits.sessionUnsentMaxBytes,
    closeOnBackpressureLimit: 0,
    upgrade: (res, req, context) => {
      const address = Buffer.from(res.getRemoteAddressAsText()).toString();
      if (!sessions.hasRoom() || shuttingDown) {
        res.writeStatus("503 Service Unavailable").end(shuttingDown ? "shutting down\n" : "too many connections\n");
        return;
      }
      if (connections.of(address) >= limits.connectionsPerAddressMax) {
        res.writeStatus("429 Too Many Requests").end(`too many connections from ${address} (limit ${limits.connectionsPerAddressMax})\n`);
        return;
      }
      const watch = req.getQuery("watch") ?? "";
      res.upgrade<SocketData>(
        { session: null, watch, address, open: true, closing: false, consumer: null },
        req.getHeader("sec-websocket-key"),
        req.getHeader("sec-websocket-protocol"),
        req.getHeader("sec-websocket-extensions"),
        context,
      );
    },
    open: (ws) => {
      const data = ws.getUserData();
      connections.tryOpen(data.address);
      sockets.add(ws);
      data.consumer = slowConsumerOf(ws, data);
      const consumer = data.consumer;
      // Frames of one turn go out together under one cork (gateway/sessions.ts BatchedSocket); each write is counted
      // by the unsent-events budget, and nothing is written once the socket is closing.
      const limited: CorkableWebSocket = {
        send: (bytes, isBinary) => {
          if (data.closing) return;
          ws.send(bytes, isBinary);
          unsent.note(consumer);
        },
        cork: (write) => ws.cork(write),
        getBufferedAmount: () => (data.open ? ws.getBufferedAmount() : 0),
        end: (code, reason) => closeSocket(ws, data, code, reason),
      };
      data.session = sessions.open(new BatchedSocket(limited, outboxes), false);
      // ?watch=17,18: receive every event of these accounts (a person's `client watch`), once logged in as their user.
      auth.watchAfterLogin(data.session, data.watch);
    },
    message: (ws, message, isBinary) => {
      const data = ws.getUserData();
      const session = data.session!;
      if (data.closing) return;
      if (message.byteLength > MAX_COMMAND_FRAME_BYTES) {
        const why = `frame of ${message.byteLength} bytes is over the limit of ${MAX_COMMAND_FRAME_BYTES}`;
        reject(session, 0n, RejectCode.FrameTooLarge, why, 0, 0, 0n);
        closeSocket(ws, data, CLOSE_MESSAGE_TOO_BIG, why);
        return;
      }
      if (!isBinary) {
        reject(session, 0n, RejectCode.MalformedFrame, "text frames are not accepted: send one binary FlatBuffers frame per message", 0, 0, 0n);
        return;
      }
      if (status.ready) onFrame(session, data.address, new Uint8Array(message));
      else rejectRecovering(session, new Uint8Array(message));
    },
    drain: (ws) => {
      const data = ws.getUserData();
      if (data.consumer !== null) unsent.note(data.consumer);
      if (data.session !== null) marketData.drained(data.session);
    },
    close: (ws) => {
      const data = ws.getUserData();
      data.open = false;
      data.closing = true;
      sockets.delete(ws);
      connections.close(data.address);
      if (data.consumer !== null) unsent.forget(data.consumer);
      const session = data.session;
      if (session !== null) {
        sessions.close(session);
        auth.forget(session);
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
  // X6: every route but /health and /config answers only a signed request (Backpack's X-API-Key, X-Signature,
  // X-Timestamp, X-Window over instruction=<name>&<query parameters sorted>&timestamp=T&window=W).
  signedRoute(app, auth, "/balances", "balanceQuery", ["account"], async (who, params) => {
    const account = Number(params.account);
    if (!status.ready) return [503, status.health()];
    if (!Number.isInteger(account) || account <= 0 || account > 0xffffffff) return [400, { code: "InvalidAccount", message: "usage: GET /balances?account=N" }];
    if (!GatewayAuth.canRead(who, account)) return [403, { code: "Forbidden", message: `account ${account} is not readable with this key` }];
    return [200, balances.describe(account, config)];
  });
  signedRoute(app, auth, "/state-hash", "stateHashQuery", [], async (who) => {
    if (!status.ready) return [503, status.health()];
    if (!who.operator) return [403, { code: "Unauthorized", message: "operator key required" }];
    await seq.drain();
    return [200, { hash: await pipeline.stateHash(), lastSeq: seq.lastSeq }];
  });
  signedRoute(app, auth, "/keys", "apiKeyQuery", ["user"], async (who, params) => {
    const user = Number(params.user);
    if (!who.operator) return [403, { code: "Unauthorized", message: "operator key required" }];
    if (!Number.isInteger(user) || user <= 0) return [400, { code: "InvalidAccount", message: "usage: GET /keys?user=N" }];
    return [200, { user, keys: auth.registry.list(user).map((k) => ({ apiKey: k.apiKey, permissions: formatPermissions(k.permissions) })) }];
  });
  app.any("/*", (res) => {
    res.writeStatus("404 Not Found").end("not found: use a WebSocket, GET /health, GET /config\n");
  });

  // The port opens before recovery (X7: a client learns the exchange is recovering); nothing is running yet if it fails.
  const port = await listenExclusive(uWS, app, opts.host, opts.port);
  listenSocket = port.socket;

  /** Step 3 of a stop: every socket's queued events written (or STOP_FLUSH_MS_MAX passed), then a close frame each. */
  async function closeAllSockets(): Promise<void> {
    const deadline = performance.now() + STOP_FLUSH_MS_MAX;
    const queued = (): boolean => {
      // A socket already being closed (a cut slow consumer) is not waited for.
      for (const ws of sockets) if (!ws.getUserData().closing && ws.getBufferedAmount() > 0) return true;
      return false;
    };
    while (queued() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const ws of [...sockets]) closeSocket(ws, ws.getUserData(), CLOSE_GOING_AWAY, "server shutting down");
    // Clients answer the close frame and close their end; the process must not exit under them (a reset loses it).
    await new Promise((r) => setTimeout(r, STOP_CLOSE_GRACE_MS));
  }

  log(`crossbook started on ws://${opts.host}:${port.port}: recovering (GET /health for progress)`);

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
    verifyRestoredHash: opts.verifySnapshotHash ?? false,
    onRecoveredCommand: (cmd) => auth.recover(cmd),
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
  log(`crossbook listening on ws://${opts.host}:${port.port} (journal ${journalDir}, ${config.markets.length} markets)`);

  let stopping: Promise<void> | null = null;
  async function stop(): Promise<void> {
    if (stopping !== null) return stopping;
    shuttingDown = true;
    stopping = (async () => {
      if (listenSocket !== null) uWS.us_listen_socket_close(listenSocket as never);
      listenSocket = null;
      await snapshots?.stop();
      // Everything journaled is processed and its events (the acknowledgements) handed to the sockets.
      await seq.drain();
      await closeAllSockets();
      await pipeline.stop();
      await journal?.close();
      await auth.close();
      releaseLock();
    })();
    return stopping;
  }
  fatal = () => {
    void stop().finally(() => process.exit(70));
  };

  return {
    port: port.port,
    operatorKey: auth.operatorKey,
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
    stats: () => ({ sessions: sessions.size, unsentBytes: unsent.total, unsentPeakBytes: unsent.peakBytes, slowConsumersCut: unsent.cuts }),
    snapshot: () => snapshots!.now(),
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
