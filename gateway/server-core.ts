// The server's live state and its command path: the sessions, limits and gateway views; the pipeline's handlers (events
// to sessions, batch ends, clock ticks); a decoded frame through the gate (rate limits, X6) to the sequencer; account
// catch-up and snapshot requests. server.ts starts and stops it; server-sockets.ts and http-routes.ts serve from it.
import { basename, join } from "node:path";
import { writeSnapshot, JOURNAL_ARCHIVE_DIR, SNAPSHOT_DIR, SnapshotDamagedError, type SnapshotFile } from "../engine/journal/index.ts";
import type { InlineJournal } from "./journal-inline.ts";
import type { JournalThread } from "./journal-thread.ts";
import { CommandKind, CommandRecord, EventKind, EventRecord, RejectCode, type ExchangeConfig } from "../engine/model/index.ts";
import {
  configDigest,
  DEFAULT_TOPOLOGY,
  snapshotStateHash,
  ThreadedPipeline,
  type EngineTopology,
  type PipelineHandlers,
} from "../engine/pipeline/index.ts";
import { Command as WireCommand } from "../schemas/index.ts";
import { isPublicCommand } from "./auth/authorize.ts";
import { Permission } from "./auth/keys.ts";
import { GatewayAuth, type Replies } from "./auth/gateway-auth.ts";
import { AccountEventLog, AccountView } from "./account-catch-up.ts";
import { BalanceView } from "./balance-view.ts";
import { ClockTickPolicy } from "./clock-ticks.ts";
import { isEngineOrderId } from "../engine/liquidation/index.ts";
import { decodeCommand, DecodedKind, DecodeResult, encodeEvent, encodeResumeDone, encodeSnapshotTaken } from "./codec/index.ts";
import { composeSnapshotPayload, openSnapshotPayload } from "./gateway-state.ts";
import {
  ADDRESS_COMMAND_BURST,
  ADDRESS_COMMANDS_PER_SECOND,
  ADDRESSES_TRACKED_MAX,
  CONNECTIONS_PER_ADDRESS_MAX,
  ConnectionCounter,
  KEY_COMMAND_BURST,
  KEY_COMMANDS_PER_SECOND,
  KeyedRateLimiter,
  KEYS_TRACKED_MAX,
  SESSION_UNSENT_BYTES_MAX,
  UNSENT_EVENTS_GLOBAL_BYTES_MAX,
  UnsentBudget,
} from "./limits.ts";
import { MarketDataHub } from "./market-data.ts";
import { WhatIfDesk } from "./what-if-desk.ts";
import { RecoveryStatus } from "./recovery.ts";
import type { Sequencer } from "./sequencer.ts";
import type { ServerOptions } from "./server.ts";
import {
  OutboxFlusher, Session, SessionRegistry, SESSION_CATCH_UP_BURST, SESSION_CATCH_UPS_PER_SECOND, SESSION_SUBSCRIPTION_BURST, SESSION_SUBSCRIPTIONS_PER_SECOND, SESSIONS_MAX,
} from "./sessions.ts";
import { SNAPSHOT_POLICY_DEFAULT, type SnapshotPolicy, type SnapshotScheduler, type SnapshotWriterKind, type TakenSnapshot } from "./snapshots.ts";
import { applyEventToViews, SnapshotFollower } from "./snapshot-writer.ts";

export interface GatewayLimits {
  /** Open sessions at once (SESSIONS_MAX): a full table closes its longest-open session without a login first. */
  readonly sessionsMax: number;
  readonly connectionsPerAddressMax: number;
  readonly addressCommandsPerSecond: number;
  readonly addressCommandBurst: number;
  readonly keyCommandsPerSecond: number;
  readonly keyCommandBurst: number;
  readonly sessionUnsentMaxBytes: number;
  readonly unsentGlobalMaxBytes: number;
}

export const DEFAULT_GATEWAY_LIMITS: GatewayLimits = {
  sessionsMax: SESSIONS_MAX,
  connectionsPerAddressMax: CONNECTIONS_PER_ADDRESS_MAX,
  addressCommandsPerSecond: ADDRESS_COMMANDS_PER_SECOND,
  addressCommandBurst: ADDRESS_COMMAND_BURST,
  keyCommandsPerSecond: KEY_COMMANDS_PER_SECOND,
  keyCommandBurst: KEY_COMMAND_BURST,
  sessionUnsentMaxBytes: SESSION_UNSENT_BYTES_MAX,
  unsentGlobalMaxBytes: UNSENT_EVENTS_GLOBAL_BYTES_MAX,
};

/** Snapshot requests waiting for a batch boundary at once; more are refused (Overloaded). */
export const SNAPSHOT_REQUESTS_PENDING_MAX = 1024;

/** A QueryAccountSnapshot waiting for the batch in flight to end. */
interface PendingAccountSnapshot {
  session: Session;
  account: number;
  clientSeq: bigint;
}

export class ServerCore implements Replies {
  readonly config: ExchangeConfig;
  readonly digest: string;
  readonly topology: EngineTopology;
  readonly log: (line: string) => void;
  readonly limits: GatewayLimits;
  readonly sessions: SessionRegistry;
  readonly outboxes = new OutboxFlusher();
  readonly auth: GatewayAuth;
  readonly status: RecoveryStatus;
  readonly ticks = new ClockTickPolicy();
  readonly connections: ConnectionCounter;
  readonly addressRates: KeyedRateLimiter<string>;
  readonly keyRates: KeyedRateLimiter<string>;
  /** Signed HTTP requests per remote address, at the address's command rate but a bucket of their own: an address's
   * WebSocket commands and its HTTP reads do not spend each other's rate (http-routes.ts signedRoute). */
  readonly httpAddressRates: KeyedRateLimiter<string>;
  readonly unsent: UnsentBudget;
  readonly snapshotPolicy: SnapshotPolicy;
  readonly snapshotDir: string;
  readonly dataDir: string;
  /** Archived journal segments (ServerOptions.archiveDir): the snapshot follower may need them. */
  readonly archiveDir: string;
  // The gateway views: fresh for each recovery attempt (startPipeline), then kept from the engine's events.
  balances: BalanceView;
  marketData: MarketDataHub;
  accountView: AccountView;
  readonly accountLog: AccountEventLog;
  /** Null until recovery is done; `seq` is the same sequencer once set (every route and frame handler checks status.ready first). */
  sequencer: Sequencer | null = null;
  seq!: Sequencer;
  pipeline!: ThreadedPipeline;
  journal: JournalThread | InlineJournal | null = null;
  snapshots: SnapshotScheduler | null = null;
  recovering = true;
  /** The newest clock tick the settlement timer proposed while recovering (0 = none). */
  private proposedWhileRecoveringMs = 0;
  shuttingDown = false;
  /** `--trace-hops`: the timer that logs the hop report (server.ts goLive); null when off. */
  hopReports: NodeJS.Timeout | null = null;
  /** Stops the process after an engine worker or the journal failed (set once the server can stop). */
  fatal: ((message: string) => void) | null = null;
  /** Snapshot requests waiting for the batch in flight to end (a snapshot is taken at a batch boundary). */
  private readonly pendingSnapshots: PendingAccountSnapshot[] = [];
  /** Q7: operators' QueryWhatIf, run on a copy by a follower (what-if-desk.ts). */
  private readonly whatIf: WhatIfDesk;
  /** X7: the standing worker that writes the scheduled snapshots (gateway/snapshot-writer.ts); closed at the stop. */
  readonly snapshotFollower = new SnapshotFollower();
  // Reused records: one reply, one clock tick, one decoded command at a time.
  private readonly rejection = new EventRecord();
  private readonly tick = new CommandRecord();
  private readonly decoded = new CommandRecord();
  private readonly result = new DecodeResult();
  private readonly tickIntervalMs: number;
  private readonly stages: "fused" | "split";

  constructor(opts: ServerOptions) {
    this.log = opts.log ?? ((line: string) => process.stdout.write(`${line}\n`));
    this.config = opts.config;
    this.digest = configDigest(this.config);
    this.topology = opts.topology ?? DEFAULT_TOPOLOGY;
    this.tickIntervalMs = opts.tickIntervalMs ?? 0;
    this.stages = opts.stages ?? "fused";
    const limits: GatewayLimits = { ...DEFAULT_GATEWAY_LIMITS, ...opts.limits };
    this.limits = limits;
    this.sessions = new SessionRegistry(this.config, limits.sessionsMax);
    this.auth = new GatewayAuth(opts.dataDir, this.sessions, this);
    this.marketData = new MarketDataHub(this.config);
    this.accountLog = new AccountEventLog(this.config);
    this.accountView = new AccountView(this.config);
    this.balances = new BalanceView(this.accountView);
    this.status = new RecoveryStatus(this.log);
    this.snapshotPolicy = opts.snapshots ?? SNAPSHOT_POLICY_DEFAULT;
    this.snapshotDir = join(opts.dataDir, SNAPSHOT_DIR);
    this.dataDir = opts.dataDir;
    this.archiveDir = opts.archiveDir ?? join(opts.dataDir, JOURNAL_ARCHIVE_DIR);
    this.connections = new ConnectionCounter(limits.connectionsPerAddressMax);
    this.addressRates = new KeyedRateLimiter<string>(limits.addressCommandsPerSecond, limits.addressCommandBurst, ADDRESSES_TRACKED_MAX);
    this.keyRates = new KeyedRateLimiter<string>(limits.keyCommandsPerSecond, limits.keyCommandBurst, KEYS_TRACKED_MAX);
    this.httpAddressRates = new KeyedRateLimiter<string>(limits.addressCommandsPerSecond, limits.addressCommandBurst, ADDRESSES_TRACKED_MAX);
    this.unsent = new UnsentBudget(limits.sessionUnsentMaxBytes, limits.unsentGlobalMaxBytes);
    this.whatIf = new WhatIfDesk(this.config, () => this.captureEngine(), this);
  }

  /** Q7: the engine's state at a batch boundary, captured as an X7 snapshot captures it (without its digests). */
  private captureEngine(): Promise<{ bytes: Uint8Array; seq: number }> {
    return this.seq.atBatchBoundary(async () => {
      const engine = await this.pipeline.snapshot({ stateHash: false });
      return { bytes: engine.bytes, seq: engine.seq };
    });
  }

  // ---- the pipeline's handlers ----

  /**
   * The engine and the gateway views, fresh or from the snapshot `file` resolves to (null: none; each recovery attempt
   * starts over). The engine's workers are spawned at once: they boot (module load, JIT) while the file is read and
   * checked, then restore the engine's state from their part (its CRC-32 checked first) while this thread finishes
   * the file's checksum (SnapshotFile.checksum, a restart's read) and then restores the gateway's views.
   */
  async startPipeline(file: Promise<SnapshotFile | null>): Promise<ThreadedPipeline> {
    this.marketData = new MarketDataHub(this.config);
    this.accountView = new AccountView(this.config);
    this.balances = new BalanceView(this.accountView);
    this.auth.registry.clear();
    const opened = file.then((snapshot) => (snapshot === null ? null : openSnapshotPayload(snapshot.payload)));
    const engine = opened.then((o) => (o === null ? null : o.engine));
    const options = { topology: this.topology, tickIntervalMs: this.tickIntervalMs, stages: this.stages, snapshot: engine } as const;
    const starting = ThreadedPipeline.start(this.config, this.pipelineHandlers(), options);
    // Handled here too: it may reject (a damaged engine part) while this thread awaits the file and its checksum.
    starting.catch(() => {});
    try {
      const snapshot = await file;
      const payload = await opened;
      if (snapshot === null || payload === null) return await starting;
      const damaged = snapshot.checksum === undefined ? null : await snapshot.checksum;
      if (damaged !== null) throw new SnapshotDamagedError(damaged);
      payload.restoreGateway([this.marketData, this.accountView, this.auth.registry]);
    } catch (e) {
      await starting.then((p) => p.stop(), () => {});
      throw e;
    }
    return starting;
  }

  private pipelineHandlers(): PipelineHandlers {
    return {
      onEvent: (e: EventRecord): void => this.onEvent(e),
      onBatchDone: (batch: number, passesPending: boolean): void => this.onBatchDone(batch, passesPending),
      onTick: (timeMs: number): void => this.onTick(timeMs),
      onMarketData: this.marketData,
      onFatal: (message: string): void => {
        this.log(`FATAL engine worker: ${message}`);
        this.fatal?.(message);
      },
    };
  }

  /** One engine event: the gateway views, then (once live) the account log and the sessions that should see it. */
  private onEvent(e: EventRecord): void {
    // P3/P4 public prices (seq 0, no account) go to market data only, never an account's log. A FundingRate with a
    // seq answers QueryFundingRateHistory: a reply like any.
    if (!applyEventToViews(this, e)) return;
    if (e.kind === EventKind.Fill) this.ticks.traded(e.timeMs);
    else if (e.kind === EventKind.LiquidationStarted || e.kind === EventKind.LiquidationEnded) this.ticks.liquidation(e.account, e.kind === EventKind.LiquidationStarted);
    else if (e.kind === EventKind.OrderAccepted && isEngineOrderId(e.orderId)) this.ticks.liquidation(e.account, true);
    const sequencer = this.sequencer;
    if (this.recovering || sequencer === null) return;
    const log = this.accountLog;
    // A seq-0 event's public copy is encoded before the dispatch: its frames must be the log's copies.
    log.record(e, e.seq === 0);
    if (e.seq === 0) this.marketData.liquidationEvent(e); // Q6: the public liquidation stream (live events only)
    const origin = sequencer.originOf(e.seq) as Session | null;
    if (origin === null) this.sessions.dispatch(e, null, 0, 0n, log.plainFrame, log.makerFrame);
    else this.sessions.dispatch(e, origin, sequencer.accountOf(e.seq), sequencer.clientSeqOf(e.seq), log.plainFrame, log.makerFrame);
  }

  private onBatchDone(batch: number, passesPending: boolean): void {
    const sequencer = this.sequencer;
    sequencer?.batchDone(batch);
    // P5S (clock-ticks.ts): spread P4/P5 passes left and nothing else in flight: one more batch, at once. Like the
    // timer's ticks, only when the clock ticks live (tickIntervalMs > 0; tests and tools that drive time themselves
    // journal exactly the commands they send).
    if (this.tickIntervalMs > 0 && sequencer !== null && sequencer.inflight === 0 && !this.recovering && !this.shuttingDown) {
      const tickMs = this.ticks.passes(passesPending);
      if (tickMs > 0) this.submitTick(sequencer, tickMs);
    }
    // One risk shard: every event of the batch has been dispatched, none of the next. Several: a shard may be a
    // batch ahead of the slowest, so snapshots wait until the engine has nothing in flight.
    const exact = this.topology.riskShards === 1 || sequencer?.inflight === 0;
    if (this.pendingSnapshots.length > 0 && sequencer !== null && exact) this.answerSnapshots(sequencer.lastSeq - sequencer.inflight);
  }

  private onTick(timeMs: number): void {
    if (this.shuttingDown) return;
    if (this.sequencer === null || this.recovering) {
      this.proposedWhileRecoveringMs = timeMs; // offered again when live (goLive): the engine's clock is never left at 0
      return;
    }
    if (this.ticks.propose(timeMs)) this.submitTick(this.sequencer, timeMs);
  }

  /**
   * Live now: the newest tick the settlement timer proposed while recovering is proposed again, so the first commands
   * (an oracle quote checks its source time against the engine clock) meet a fresh clock, not the replayed one.
   */
  proposeHeldTick(): void {
    const timeMs = this.proposedWhileRecoveringMs;
    this.proposedWhileRecoveringMs = 0;
    if (timeMs > 0) this.onTick(timeMs);
  }

  private submitTick(to: Sequencer, timeMs: number): void {
    this.tick.clear();
    this.tick.kind = CommandKind.AdvanceTime;
    this.tick.timeMs = timeMs;
    to.submit(this.tick, null, 0n);
  }

  // ---- replies (also GatewayAuth's) ----

  reject(session: Session, clientSeq: bigint, code: number, message: string, commandType: number, account: number, clientId: bigint): void {
    const rejection = this.rejection;
    rejection.clear();
    rejection.kind = commandType === WireCommand.LimitOrder || commandType === WireCommand.MarketOrder ? EventKind.OrderRejected : EventKind.CommandRejected;
    rejection.code = code;
    rejection.message = message;
    rejection.account = account;
    rejection.clientId = clientId;
    session.socket.send(encodeEvent(rejection, clientSeq, this.config));
  }

  accepted(session: Session, clientSeq: bigint, account: number): void {
    this.rejection.clear();
    this.rejection.kind = EventKind.CommandAccepted;
    this.rejection.account = account;
    session.socket.send(encodeEvent(this.rejection, clientSeq, this.config));
  }

  /** The session receives the account's events from now on, and the gateway logs them for a later resume. */
  watch(session: Session, account: number): boolean {
    if (!this.sessions.watch(session, account)) return false;
    this.accountLog.track(account, this.doneSeq());
    return true;
  }

  /** A text frame: refused (MalformedFrame), after it took its rate tokens like any frame (else a flood of them is free). */
  onTextFrame(session: Session, address: string): void {
    const result = this.result;
    result.clientSeq = 0n;
    result.commandType = 0;
    result.account = 0;
    result.clientId = 0n;
    if (this.refusedAtGate(session, address)) return;
    this.reject(session, 0n, RejectCode.MalformedFrame, "text frames are not accepted: send one binary FlatBuffers frame per message", 0, 0, 0n);
  }

  /** X7: a frame that arrives while the journal is replayed gets a typed reject (the connection stays open). */
  rejectRecovering(session: Session, bytes: Uint8Array): void {
    const { result, status } = this;
    decodeCommand(bytes, this.config, this.decoded, result);
    const left = status.secondsLeft;
    const message = `the exchange is recovering (${status.records} of ~${status.expectedRecords} journal records replayed` +
      `${left === null ? "" : `, ~${left} s left`}): retry when GET /health says ready`;
    this.reject(session, result.clientSeq, RejectCode.Recovering, message, result.commandType, result.account, result.clientId);
  }

  // ---- the command path ----

  /** One binary frame of a live session: decode, the gate, then the gateway-only reads or the sequencer. */
  onFrame(session: Session, address: string, bytes: Uint8Array): void {
    const { decoded, result, auth } = this;
    const decodedOk = decodeCommand(bytes, this.config, decoded, result);
    // Every frame takes its rate tokens, a malformed one too (its reject is work like any command's).
    if (this.refusedAtGate(session, address)) return;
    if (!decodedOk) {
      this.reject(session, result.clientSeq, result.code, result.message, result.commandType, result.account, result.clientId);
      return;
    }
    if (result.kind === DecodedKind.Login) {
      auth.login(session, result);
      return;
    }
    if (result.kind === DecodedKind.ResumeAccount || result.kind === DecodedKind.AccountSnapshot) {
      // Gateway-only reads of one account: the same X6 check as a query (login, own account, Read, rising client_seq).
      decoded.clear();
      decoded.account = result.account;
      if (!auth.check(session, result, decoded)) return;
      if (!session.takeCatchUpToken(performance.now())) {
        const why = `rate limit: more than ${SESSION_CATCH_UPS_PER_SECOND} account catch-ups (ResumeAccount, QueryAccountSnapshot) per second on this connection (burst ${SESSION_CATCH_UP_BURST})`;
        this.reject(session, result.clientSeq, RejectCode.RateLimited, why, result.commandType, result.account, 0n);
        return;
      }
      this.catchUp(session, result.kind, result.account, result.fromSeq, result.clientSeq);
      return;
    }
    // X6: login, the user's own accounts, the key's permissions, a rising client_seq — before anything is queued.
    if (!auth.check(session, result, decoded)) return;
    if (result.kind === DecodedKind.Subscribe || result.kind === DecodedKind.Unsubscribe) {
      this.changeSubscription(session);
      return;
    }
    if (result.kind === DecodedKind.TakeSnapshot) {
      this.answerSnapshot(session, result.clientSeq, result.commandType);
      return;
    }
    if (result.kind === DecodedKind.WhatIf) {
      this.whatIf.answer(session, result);
      return;
    }
    this.sequence(session);
  }

  /** Subscribe / Unsubscribe, at most SESSION_SUBSCRIPTIONS_PER_SECOND a session (a Depth one sends a snapshot). */
  private changeSubscription(session: Session): void {
    const result = this.result;
    if (!session.takeSubscriptionToken(performance.now())) {
      const why = `rate limit: more than ${SESSION_SUBSCRIPTIONS_PER_SECOND} subscription changes per second on this connection (burst ${SESSION_SUBSCRIPTION_BURST})`;
      this.reject(session, result.clientSeq, RejectCode.RateLimited, why, result.commandType, 0, 0n);
      return;
    }
    if (result.kind === DecodedKind.Subscribe) this.marketData.subscribe(session, result.market, result.channels);
    else this.marketData.unsubscribe(session, result.market, result.channels);
  }

  /** A checked command of the engine: the account watched, a held clock tick first, then into the sequencer. */
  private sequence(session: Session): void {
    const { decoded, result, seq } = this;
    // Operator sessions act for nobody (operator commands, reads): they get their answers as the command's origin. So do
    // public commands (X6): they act for no account, and watching "account 0" would hand every session that ever sent
    // one every other session's public answers and every event of account 0 (test/gateway-isolation.test.ts).
    // X6: only a key with Read watches the account it acts for (every event of it); a key without it gets the answers
    // to its own commands only (before, any refused Cancel made a trade-only session a reader of the whole account).
    if (!session.operator && !isPublicCommand(result.commandType) && (session.permissions & Permission.Read) !== 0) {
      if (!this.watch(session, decoded.account)) {
        this.reject(session, result.clientSeq, RejectCode.Overloaded, "this session already acts for the maximum number of accounts", result.commandType, decoded.account, decoded.clientId);
        return;
      }
    }
    // A clock tick held while the exchange was idle goes first, so the command sees the current time (clock-ticks.ts).
    const dueTickMs = decoded.kind === CommandKind.AdvanceTime ? 0 : this.ticks.dueBeforeCommand();
    if (dueTickMs > 0) this.submitTick(seq, dueTickMs);
    if (seq.submit(decoded, session, result.clientSeq) === 0) {
      this.reject(session, result.clientSeq, RejectCode.Overloaded, "engine saturated: retry later", result.commandType, decoded.account, decoded.clientId);
      return;
    }
    this.auth.sequenced(decoded);
  }

  /** Refuses a command that decoded but may not enter now (stopping, over a rate); false when it may. */
  private refusedAtGate(session: Session, address: string): boolean {
    let why = "";
    let code: number = RejectCode.RateLimited;
    // One clock read for the three buckets (a frame is one instant).
    const nowMs = performance.now();
    if (this.shuttingDown) {
      code = RejectCode.ShuttingDown;
      why = "the server is shutting down: nothing was queued; reconnect when it is back";
    } else if (!session.takeCommandToken(nowMs)) {
      why = "rate limit: too many commands per second on this connection";
    } else if (!this.addressRates.take(address, nowMs)) {
      why = "rate limit: too many commands per second from this address";
    } else if (session.apiKey !== null && !this.keyRates.take(session.apiKey.apiKey, nowMs)) {
      why = "rate limit: too many commands per second with this API key (all its sessions together)";
    }
    if (why === "") return false;
    const result = this.result;
    this.reject(session, result.clientSeq, code, why, result.commandType, result.account, result.clientId);
    return true;
  }

  /** The last command whose batch the engine finished (every event of commands up to it has been dispatched). */
  private doneSeq(): number {
    return this.seq.lastSeq - this.seq.inflight;
  }

  // ---- account catch-up and snapshots ----

  /**
   * ResumeAccount: the logged events again, then ResumeDone, then live events (no gap: all within this call).
   * QueryAccountSnapshot: answered at the next batch boundary (now, when no batch is in flight).
   */
  private catchUp(session: Session, kind: DecodedKind, account: number, fromSeq: number, clientSeq: bigint): void {
    if (!this.watch(session, account)) {
      this.reject(session, clientSeq, RejectCode.Overloaded, "this session already acts for the maximum number of accounts", this.result.commandType, account, 0n);
      return;
    }
    if (kind === DecodedKind.ResumeAccount) {
      const send = (frame: Uint8Array): void => session.socket.send(frame);
      const { events, complete } = this.accountLog.replay(account, fromSeq, send);
      send(encodeResumeDone(account, fromSeq, events, complete, clientSeq));
      return;
    }
    if (this.pendingSnapshots.length >= SNAPSHOT_REQUESTS_PENDING_MAX) {
      this.reject(session, clientSeq, RejectCode.Overloaded, "too many snapshot requests waiting: retry later", this.result.commandType, account, 0n);
      return;
    }
    this.pendingSnapshots.push({ session, account, clientSeq });
    if (this.seq.inflight === 0) this.answerSnapshots(this.doneSeq());
  }

  /** Answers every waiting snapshot request as the accounts stand after command `validAtSeq` (a batch boundary). */
  private answerSnapshots(validAtSeq: number): void {
    for (const p of this.pendingSnapshots.splice(0)) {
      if (p.session.closed) continue;
      this.accountView.sendSnapshot(p.account, validAtSeq, p.clientSeq, (frame) => p.session.socket.send(frame));
    }
  }

  /** An operator's TakeSnapshot: SnapshotTaken once the file is on disk, or a reject saying why not. */
  private answerSnapshot(session: Session, clientSeq: bigint, commandType: number): void {
    this.snapshots!.now().then(
      (t) => {
        if (!session.closed) session.socket.send(encodeSnapshotTaken(clientSeq, t.seq, t.batch, t.stateHash, t.bytes, basename(t.path)));
      },
      (e: unknown) => {
        if (!session.closed) this.reject(session, clientSeq, RejectCode.Overloaded, `snapshot failed: ${(e as Error).message}`, commandType, 0, 0n);
      },
    );
  }

  /**
   * X7: a snapshot of the state after the last batch journaled (engine.ts "X7 (as built)", X4P). By default the
   * follower writes it (gateway/snapshot-writer.ts) while the engine and the sequencer run on; writer "engine" takes
   * it from the stages themselves (takeSnapshotFromEngine).
   */
  async takeSnapshot(writer: SnapshotWriterKind = this.snapshotPolicy.writer ?? "follower"): Promise<TakenSnapshot> {
    if (writer === "engine") return this.takeSnapshotFromEngine();
    const startedMs = performance.now();
    const { seq, batch } = this.seq.journaled;
    const captureMs = performance.now() - startedMs;
    const f = await this.snapshotFollower.write({
      config: this.config,
      topology: this.topology,
      dataDir: this.dataDir,
      archiveDir: this.archiveDir,
      batch,
      seq,
      keep: this.snapshotPolicy.keep,
      writtenAtMs: Date.now(),
    });
    for (const reason of f.skipped) this.log(`snapshot writer: snapshot ${reason}: not used as the base`);
    const totalMs = performance.now() - startedMs;
    const from = f.continued ? `its state at ${f.baseSeq}` : `snapshot ${f.baseSeq}`;
    this.log(`snapshot at sequence ${f.seq} (batch ${f.batch}): ${f.path}, ${f.bytes} bytes; written by the follower from ${from} + ` +
      `${f.replayedCommands} journal commands (restore ${f.restoreMs.toFixed(0)} ms, replay ${f.replayMs.toFixed(0)} ms, write ${f.writeMs.toFixed(0)} ms), on disk after ${totalMs.toFixed(0)} ms`);
    return { seq: f.seq, batch: f.batch, stateHash: f.stateHash, path: f.path, bytes: f.bytes, captureMs, totalMs };
  }

  /**
   * X7, writer "engine": a snapshot at a batch boundary (gateway/snapshots.ts): the engine stages' state, then — once every event and
   * market-data record of the batches it covers is handled — the gateway views; the file is written after the
   * sequencer hands batches to the engine again, once a follower has restored the payload and hashed it for the header
   * (snapshotStateHash: the engine stalls only while its stages write their parts).
   */
  private async takeSnapshotFromEngine(): Promise<TakenSnapshot> {
    const startedMs = performance.now();
    const captured = await this.seq.atBatchBoundary(async (lastSeq, lastBatch) => {
      // The stages write their parts without their digests: the header's hash comes from a follower below.
      const engine = await this.pipeline.snapshot({ stateHash: false });
      if (engine.seq !== lastSeq || engine.batch !== lastBatch) {
        throw new Error(`the engine's snapshot covers ${engine.seq}/${engine.batch}, the sequencer handed ${lastSeq}/${lastBatch}`);
      }
      await this.pipeline.settle();
      return { engine, payload: composeSnapshotPayload(engine.bytes, [this.marketData, this.accountView, this.auth.registry]) };
    });
    const captureMs = performance.now() - startedMs;
    const { engine, payload } = captured;
    const stateHash = await snapshotStateHash(this.config, engine.bytes);
    const topology = this.topology;
    const meta = { seq: engine.seq, batch: engine.batch, configDigestHex: this.digest, stateHash, riskShards: topology.riskShards, matchingShards: topology.matchingShards };
    const file = await writeSnapshot(this.snapshotDir, meta, payload, this.snapshotPolicy.keep, Date.now());
    const totalMs = performance.now() - startedMs;
    this.log(`snapshot at sequence ${engine.seq} (batch ${engine.batch}): ${file.path}, ${file.bytes} bytes; state captured in ${captureMs.toFixed(0)} ms, on disk after ${totalMs.toFixed(0)} ms`);
    return { seq: engine.seq, batch: engine.batch, stateHash, path: file.path, bytes: file.bytes, captureMs, totalMs };
  }
}
