// Client sessions and the routing of engine events to them: who watches which account, and which session sent
// the command an event answers (it gets its client_seq back).
import { EventKind, EventRecord, type ExchangeConfig } from "../engine/model/index.ts";
import type { Principal } from "./auth/authorize.ts";
import type { Identity } from "./auth/login.ts";
import type { ApiKeyEntry } from "./auth/registry.ts";
import { encodeEvent } from "./codec/index.ts";
import { TokenBucket } from "./limits.ts";

/** Accounts one session may act for or watch (a limit on everything). */
export const SESSION_ACCOUNTS_MAX = 64;
/** Open sessions at once; further connections are refused at the upgrade. */
export const SESSIONS_MAX = 10_000;
/**
 * Commands one session may send per second (token bucket), and the burst it may save up: above what the project's
 * own SDK and a market maker send (~11 k/s through one socket), far below what a flooding socket sends.
 */
export const SESSION_COMMANDS_PER_SECOND = 20_000;
export const SESSION_COMMAND_BURST = 40_000;

/** The transport side of a session (a uWS socket, or a test double). */
export interface SessionSocket {
  /** Sends one binary frame; the bytes are only valid during the call. */
  send(bytes: Uint8Array): void;
  /** Bytes accepted by send() but not yet written to the network. */
  bufferedAmount(): number;
  /** Closes the connection with a close frame (code, reason). */
  close?(code: number, reason: string): void;
}

/** X6 login state of a session. */
export const LoginState = { None: 0, Pending: 1, Done: 2 } as const;

export class Session implements Principal {
  readonly accounts = new Set<number>();
  /** Set when the socket closed: events for its in-flight commands are dropped, never sent to a dead socket. */
  closed = false;
  /** Token bucket of the command rate limit (wall clock: the gateway's own pacing, not engine state). */
  private readonly commandTokens = new TokenBucket(SESSION_COMMANDS_PER_SECOND, SESSION_COMMAND_BURST);

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
  private nextId = 1;

  constructor(private readonly config: ExchangeConfig) {}

  /** False when SESSIONS_MAX sessions are open already. */
  hasRoom(): boolean {
    return this.sessions.size < SESSIONS_MAX;
  }

  open(socket: SessionSocket, operator: boolean): Session {
    const s = new Session(this.nextId++, socket, operator);
    this.sessions.add(s);
    return s;
  }

  close(s: Session): void {
    s.closed = true;
    this.sessions.delete(s);
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
   */
  dispatch(e: EventRecord, origin: Session | null, originAccount: number, clientSeq: bigint): void {
    let originServed = false;
    const list = this.watchers.get(e.account);
    if (list !== undefined) {
      for (let i = 0; i < list.length; i++) {
        const s = list[i]!;
        const mine = s === origin;
        if (mine) originServed = true;
        s.socket.send(encodeEvent(e, mine ? clientSeq : 0n, this.config));
      }
    }
    if (e.kind === EventKind.Fill && e.makerAccount !== e.account) {
      const makers = this.watchers.get(e.makerAccount);
      if (makers !== undefined) {
        for (let i = 0; i < makers.length; i++) {
          const s = makers[i]!;
          s.socket.send(encodeEvent(e, 0n, this.config, true));
        }
      }
    }
    if (origin !== null && !originServed && !origin.closed && e.account === originAccount) origin.socket.send(encodeEvent(e, clientSeq, this.config));
  }
}
