// Client sessions and the routing of engine events to them: who watches which account, and which session sent
// the command an event answers (it gets its client_seq back).
import { EventKind, EventRecord, type ExchangeConfig } from "../engine/model/index.ts";
import type { Principal } from "./auth/authorize.ts";
import type { Identity } from "./auth/login.ts";
import type { ApiKeyEntry } from "./auth/registry.ts";
import { EVENT_SIZE_PREFIX_BYTES, type EventFraming } from "./client/codec.ts";
import { encodeEvent, setClientSeq, withClientSeq } from "./codec/index.ts";
import { CLOSE_TRY_AGAIN_LATER, TokenBucket } from "./limits.ts";

/** Accounts one session may act for or watch (a limit on everything). */
export const SESSION_ACCOUNTS_MAX = 64;
/**
 * Open sessions at once (GatewayLimits.sessionsMax). When the table is full a new connection closes the longest-open
 * session without a login (SessionRegistry.makeRoom): anonymous connections (public market data) cannot lock traders
 * out; only when every session is logged in is a connection refused at the upgrade.
 */
export const SESSIONS_MAX = 10_000;
/**
 * Commands one session may send per second (token bucket), and the burst it may save up: above what the project's
 * own SDK and a market maker send (~11 k/s through one socket), far below what a flooding socket sends.
 */
export const SESSION_COMMANDS_PER_SECOND = 20_000;
export const SESSION_COMMAND_BURST = 40_000;
/**
 * Subscribe and Unsubscribe commands one session may send per second, and the burst (beside the command rate): a
 * Depth subscription sends a snapshot of up to 1,000 levels a side, so changing subscriptions is paced apart.
 */
export const SESSION_SUBSCRIPTIONS_PER_SECOND = 20;
export const SESSION_SUBSCRIPTION_BURST = 100;
/**
 * ResumeAccount and QueryAccountSnapshot one session may send per second, and the burst: each sends up to an account's
 * whole event log (256 KB) or its open orders, so they are paced apart — the burst lets a reconnecting client catch
 * up every account it may act for (SESSION_ACCOUNTS_MAX) at once.
 */
export const SESSION_CATCH_UPS_PER_SECOND = 2;
export const SESSION_CATCH_UP_BURST = 64;

/** The transport side of a session (a uWS socket, or a test double). */
export interface SessionSocket {
  /** Sends one binary frame; the bytes are only valid during the call (the same bytes may go to several sockets). */
  send(bytes: Uint8Array): void;
  /**
   * send(withClientSeq(frame, clientSeq)) for an encodeEvent frame, the client_seq set in the socket's own copy (one
   * copy fewer). Optional: without it the registry sends withClientSeq's bytes.
   */
  sendWithClientSeq?(frame: Uint8Array, clientSeq: bigint): void;
  /** Bytes accepted by send() but not yet written to the network. */
  bufferedAmount(): number;
  /** Closes the connection with a close frame (code, reason). */
  close?(code: number, reason: string): void;
  /** The connection is gone: drop whatever is still queued for it (never write to a closed socket). */
  discard?(): void;
}

/** Bytes one socket may have queued within a turn before they are written at once (a bound on the outbox). */
export const OUTBOX_BYTES_MAX = 1 << 20;
const OUTBOX_BYTES_INITIAL = 4096;
/**
 * The most a flushed outbox keeps: a larger one (a burst's turn) is let go after it was written, so an idle session
 * holds at most this (before, each kept its busiest turn's buffer, up to OUTBOX_BYTES_MAX, for as long as it stayed
 * open: 10,000 sessions could pin ~10 GB that no budget counts).
 */
export const OUTBOX_BYTES_KEPT = 32 * 1024;
const OUTBOX_FRAMES_KEPT = 512;
const OUTBOX_FRAMES_INITIAL = 64;

/**
 * How a connection's events are put into WebSocket messages, chosen by the client at the upgrade (`?frames=batch`):
 *  - "single": one EventEnvelope FlatBuffers buffer per binary message (every client before issue 15; the default);
 *  - "batch": a message carries one or more events of a turn, each a FlatBuffers size-prefixed buffer — a 4-byte
 *    little-endian length, then that many bytes of one EventEnvelope (what getSizePrefixedRootAsEventEnvelope reads;
 *    splitEventFrames in gateway/client/codec.ts splits a message). Same events, same order, same bytes per event:
 *    only the number of messages (and the per-message work on both sides) changes.
 */
export type { EventFraming };

/** The framing a client asked for with the upgrade's `frames` query parameter (absent or anything else: "single"). */
export function eventFramingOf(query: string | undefined): EventFraming {
  return query === "batch" ? "batch" : "single";
}

/** The uWS WebSocket calls a BatchedSocket uses. */
export interface CorkableWebSocket {
  send(bytes: Uint8Array, isBinary: boolean): unknown;
  cork(write: () => void): unknown;
  getBufferedAmount(): number;
  end(code: number, reason: string): void;
}

/** Flushes every socket that queued frames in this turn, once, after the turn's synchronous work (a microtask). */
export class OutboxFlusher {
  private readonly dirty: BatchedSocket[] = [];
  private scheduled = false;
  private readonly run = (): void => {
    this.scheduled = false;
    for (let i = 0; i < this.dirty.length; i++) this.dirty[i]!.flush();
    this.dirty.length = 0;
  };

  schedule(socket: BatchedSocket): void {
    this.dirty.push(socket);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(this.run);
  }
}

/**
 * A session's socket that queues the frames of one turn (say the events of every command in an engine batch) and
 * writes them under one uWS cork: one syscall per socket per turn instead of one per event. Frames keep their order;
 * send() copies the bytes (they are only valid during the call). With the "batch" framing each frame is queued
 * behind its size prefix and the turn's frames leave as one message (one uWS send instead of one per event; a
 * message holds at most OUTBOX_BYTES_MAX bytes).
 */
export class BatchedSocket implements SessionSocket {
  private bytes = new Uint8Array(OUTBOX_BYTES_INITIAL);
  private view = new DataView(this.bytes.buffer);
  private lengths = new Int32Array(OUTBOX_FRAMES_INITIAL);
  private frames = 0;
  private used = 0;
  private gone = false;
  private readonly writeAll = (): void => {
    if (this.prefixBytes > 0) {
      this.ws.send(this.bytes.subarray(0, this.used), true);
      return;
    }
    let at = 0;
    for (let i = 0; i < this.frames; i++) {
      const end = at + this.lengths[i]!;
      this.ws.send(this.bytes.subarray(at, end), true);
      at = end;
    }
  };
  /** Bytes in front of each queued frame: EVENT_SIZE_PREFIX_BYTES with the "batch" framing, 0 with "single". */
  private readonly prefixBytes: number;

  constructor(
    private readonly ws: CorkableWebSocket,
    private readonly flusher: OutboxFlusher,
    framing: EventFraming = "single",
  ) {
    this.prefixBytes = framing === "batch" ? EVENT_SIZE_PREFIX_BYTES : 0;
  }

  send(frame: Uint8Array): void {
    if (!this.gone) this.queue(frame);
  }

  sendWithClientSeq(frame: Uint8Array, clientSeq: bigint): void {
    if (this.gone) return;
    const at = this.queue(frame); // first: queueing may grow the outbox (a new view)
    setClientSeq(this.view, at, clientSeq);
  }

  /** Copies `frame` (behind its size prefix with the "batch" framing) to the end of the outbox; returns where it starts. */
  private queue(frame: Uint8Array): number {
    const bytes = this.prefixBytes + frame.length;
    if (this.used + bytes > OUTBOX_BYTES_MAX) this.flush();
    if (this.used + bytes > this.bytes.length) this.grow(this.used + bytes);
    if (this.frames === this.lengths.length) {
      const lengths = new Int32Array(this.lengths.length * 2);
      lengths.set(this.lengths);
      this.lengths = lengths;
    }
    if (this.prefixBytes > 0) this.view.setUint32(this.used, frame.length, true);
    const at = this.used + this.prefixBytes;
    this.bytes.set(frame, at);
    this.used = at + frame.length;
    this.lengths[this.frames++] = bytes;
    if (this.frames === 1) this.flusher.schedule(this);
    return at;
  }

  bufferedAmount(): number {
    return this.gone ? 0 : this.ws.getBufferedAmount() + this.used;
  }

  /** Bytes the outbox holds (its buffers' capacity, queued or not). */
  heldBytes(): number {
    return this.bytes.byteLength + this.lengths.byteLength;
  }

  close(code: number, reason: string): void {
    this.flush();
    this.gone = true;
    this.ws.end(code, reason);
  }

  discard(): void {
    this.gone = true;
    this.frames = 0;
    this.used = 0;
  }

  /** Writes the queued frames under one cork (nothing when the socket is gone). */
  flush(): void {
    if (this.frames === 0) return;
    if (!this.gone) this.ws.cork(this.writeAll);
    this.frames = 0;
    this.used = 0;
    if (this.bytes.length > OUTBOX_BYTES_KEPT) {
      this.bytes = new Uint8Array(OUTBOX_BYTES_KEPT);
      this.view = new DataView(this.bytes.buffer);
    }
    if (this.lengths.length > OUTBOX_FRAMES_KEPT) this.lengths = new Int32Array(OUTBOX_FRAMES_KEPT);
  }

  private grow(bytes: number): void {
    let size = this.bytes.length * 2;
    while (size < bytes) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.bytes.subarray(0, this.used));
    this.bytes = next;
    this.view = new DataView(next.buffer);
  }
}

/** X6 login state of a session. */
export const LoginState = { None: 0, Pending: 1, Done: 2 } as const;

export class Session implements Principal {
  readonly accounts = new Set<number>();
  /** Set when the socket closed: events for its in-flight commands are dropped, never sent to a dead socket. */
  closed = false;
  /** Token bucket of the command rate limit (wall clock: the gateway's own pacing, not engine state). */
  private readonly commandTokens = new TokenBucket(SESSION_COMMANDS_PER_SECOND, SESSION_COMMAND_BURST);
  private readonly subscriptionTokens = new TokenBucket(SESSION_SUBSCRIPTIONS_PER_SECOND, SESSION_SUBSCRIPTION_BURST);
  private readonly catchUpTokens = new TokenBucket(SESSION_CATCH_UPS_PER_SECOND, SESSION_CATCH_UP_BURST);

  /** Takes one catch-up token (ResumeAccount, QueryAccountSnapshot); false when the session asks too often. */
  takeCatchUpToken(nowMs: number): boolean {
    return this.catchUpTokens.take(nowMs);
  }

  /** Takes one subscription token (Subscribe, Unsubscribe); false when the session changes them too often. */
  takeSubscriptionToken(nowMs: number): boolean {
    return this.subscriptionTokens.take(nowMs);
  }

  /** Takes one command token; false when the session is over its rate (the command is refused, nothing queued). */
  takeCommandToken(nowMs: number): boolean {
    return this.commandTokens.take(nowMs);
  }

  /** X6: set by a login. */
  loginState: number = LoginState.None;
  /** The operator's key logged in: may send privileged commands (deposit, market state, time, keys). */
  operator: boolean;
  /** account >> 4 of the accounts this session acts for (-1: none, or the operator). */
  user = -1;
  /** Permission bits of the key it logged in with. */
  permissions = 0;
  /** Its API key (null for the operator and before login). */
  apiKey: ApiKeyEntry | null = null;
  /** Highest client_seq acted on: a frame must carry a higher one (a replayed frame does nothing). */
  lastClientSeq = 0n;
  /** Failed logins so far (LOGIN_FAILURES_MAX closes the connection). */
  loginFailures = 0;

  constructor(
    readonly id: number,
    readonly socket: SessionSocket,
    /** Logged in as the operator from the start (in-process test doubles only; sockets log in with a key). */
    operator: boolean,
  ) {
    this.operator = operator;
    if (operator) this.loginState = LoginState.Done;
  }

  get loggedIn(): boolean {
    return this.loginState === LoginState.Done;
  }

  get revoked(): boolean {
    return this.apiKey !== null && this.apiKey.revoked;
  }

  /** Records a verified login. */
  logIn(identity: Identity, clientSeq: bigint): void {
    this.loginState = LoginState.Done;
    this.operator = identity.operator;
    this.user = identity.user;
    this.permissions = identity.permissions;
    this.apiKey = identity.entry;
    this.lastClientSeq = clientSeq;
  }
}

export class SessionRegistry {
  private readonly watchers = new Map<number, Session[]>();
  private readonly sessions = new Set<Session>();
  /** Sessions opened without a login, oldest first; one that logged in since leaves it when makeRoom meets it. */
  private readonly withoutLogin = new Set<Session>();
  private nextId = 1;

  constructor(
    private readonly config: ExchangeConfig,
    private readonly sessionsMax = SESSIONS_MAX,
  ) {}

  /**
   * Room for one more session: true when the table is under its limit, or once the longest-open session without a
   * login has been closed for it (1013, with the reason); false when every session is logged in.
   */
  makeRoom(): boolean {
    if (this.sessions.size < this.sessionsMax) return true;
    for (const s of this.withoutLogin) {
      this.withoutLogin.delete(s);
      if (s.loggedIn || s.closed) continue;
      s.socket.close?.(CLOSE_TRY_AGAIN_LATER, `the server is full (${this.sessionsMax} sessions): the longest-open session without a login is closed to make room`);
      if (!s.closed) this.close(s); // a socket's close handler closes the session at once (uWS end()); a test double may not
      return this.sessions.size < this.sessionsMax;
    }
    return false;
  }

  open(socket: SessionSocket, operator: boolean): Session {
    const s = new Session(this.nextId++, socket, operator);
    this.sessions.add(s);
    if (!operator) this.withoutLogin.add(s);
    return s;
  }

  close(s: Session): void {
    s.closed = true;
    s.socket.discard?.();
    this.sessions.delete(s);
    this.withoutLogin.delete(s);
    for (const a of s.accounts) {
      const list = this.watchers.get(a);
      if (list === undefined) continue;
      const i = list.indexOf(s);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.watchers.delete(a);
    }
    s.accounts.clear();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Closes every session logged in with a revoked API key. */
  closeSessionsOf(key: ApiKeyEntry, reason: string): void {
    for (const s of this.sessions) if (s.apiKey === key) s.socket.close?.(4403, reason);
  }

  /** The session receives every event of `account` from now on. False when it watches too many accounts. */
  watch(s: Session, account: number): boolean {
    if (s.accounts.has(account)) return true;
    if (s.accounts.size >= SESSION_ACCOUNTS_MAX) return false;
    s.accounts.add(account);
    const list = this.watchers.get(account);
    if (list === undefined) this.watchers.set(account, [s]);
    else list.push(s);
    return true;
  }

  /**
   * Delivers one engine event: to every session watching its account (a fill also to the maker's watchers, in
   * the maker's view), and to the session that sent the causing command when the event is about the account that
   * command acted for (an operator's deposit) and the session does not watch it. Never another account's events.
   * `logged` / `loggedMakerView`: the event's client_seq-0 frames the account log already encoded (stable copies),
   * sent as they are; null = encode here.
   */
  dispatch(e: EventRecord, origin: Session | null, originAccount: number, clientSeq: bigint, logged: Uint8Array | null = null, loggedMakerView: Uint8Array | null = null): void {
    let originServed = false;
    const list = this.watchers.get(e.account);
    if (list !== undefined) {
      // Encoded once for every watcher but the sender (the encoder's view lives until the next encode; send copies).
      let plain = logged;
      for (let i = 0; i < list.length; i++) {
        const s = list[i]!;
        plain ??= encodeEvent(e, 0n, this.config);
        if (s === origin) {
          originServed = true;
          sendAs(s.socket, plain, clientSeq);
        } else {
          s.socket.send(plain);
        }
      }
    }
    // Q3/Q4: a LiquidationTransfer's makerAccount (the backstop, the ADL counterparty) watches it as a fill's maker does.
    if ((e.kind === EventKind.Fill || e.kind === EventKind.LiquidationTransfer) && e.makerAccount !== e.account) {
      const makers = this.watchers.get(e.makerAccount);
      if (makers !== undefined && makers.length > 0) {
        const makerView = loggedMakerView ?? encodeEvent(e, 0n, this.config, true);
        for (let i = 0; i < makers.length; i++) makers[i]!.socket.send(makerView);
      }
    }
    if (origin !== null && !originServed && !origin.closed && e.account === originAccount) {
      if (logged === null) origin.socket.send(encodeEvent(e, clientSeq, this.config));
      else sendAs(origin.socket, logged, clientSeq);
    }
  }
}

/** Sends an encodeEvent frame (client_seq 0) as the sender of the command sees it: with its client_seq. */
function sendAs(socket: SessionSocket, frame: Uint8Array, clientSeq: bigint): void {
  if (clientSeq === 0n) socket.send(frame);
  else if (socket.sendWithClientSeq !== undefined) socket.sendWithClientSeq(frame, clientSeq);
  else socket.send(withClientSeq(frame, clientSeq));
}
