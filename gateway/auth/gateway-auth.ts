// X6 at the gateway: the operator's key, the API key registry, logins of WebSocket sessions, per-frame
// authorization (accounts, permissions, strictly increasing client_seq) and signed HTTP requests. server.ts calls it;
// the hot path (check) does no crypto and allocates nothing on success.
import type { KeyObject } from "node:crypto";
import { CommandKind, mainAccountOf, RejectCode, userOf, type CommandRecord } from "../../engine/model/index.ts";
import type { DecodeResult } from "../codec/index.ts";
import type { Session, SessionRegistry } from "../sessions.ts";
import { LoginState, SESSION_ACCOUNTS_MAX } from "../sessions.ts";
import { authorize, Denial } from "./authorize.ts";
import { apiKeyOf, loadOrCreatePrivateKeyFile, operatorKeyPath, Permission, rawPublicKey } from "./keys.ts";
import { Authenticator, LOGIN_FAILURES_MAX, SignatureVerifier, type AuthOutcome, type Identity, type RequestHeaders } from "./login.ts";
import { ApiKeyRegistry, type KeyCheck } from "./registry.ts";

/** Close code sent after LOGIN_FAILURES_MAX failed logins (4000–4999: application codes). */
export const CLOSE_LOGIN_FAILURES = 4401;
/** Close code sent to the sessions of a revoked key. */
export const CLOSE_KEY_REVOKED = 4403;

/** How the gateway answers a session (server.ts supplies them). */
export interface Replies {
  reject(session: Session, clientSeq: bigint, code: number, message: string, commandType: number, account: number, clientId: bigint): void;
  accepted(session: Session, clientSeq: bigint, account: number): void;
  watch(session: Session, account: number): boolean;
}

export class GatewayAuth {
  readonly registry: ApiKeyRegistry;
  readonly operatorKey: KeyObject;
  private readonly verifier = new SignatureVerifier();
  private readonly authenticator: Authenticator;
  private readonly denial = new Denial();
  private readonly keyCheck: KeyCheck = { code: 0, message: "" };
  private readonly pendingWatches = new Map<Session, string>();

  /**
   * The operator's key is `<dataDir>/operator.key` (PKCS#8 PEM, 0600), created on the first start; the server trusts
   * its public key at every start (it is never journaled: whoever can read the data dir is the operator anyway).
   * To rotate it, stop the server, delete the file and start again.
   */
  constructor(dataDir: string, private readonly sessions: SessionRegistry, private readonly replies: Replies) {
    this.operatorKey = loadOrCreatePrivateKeyFile(operatorKeyPath(dataDir));
    const operatorApiKey = apiKeyOf(this.operatorKey);
    this.registry = new ApiKeyRegistry(new Set([operatorApiKey]));
    this.authenticator = new Authenticator(this.registry, operatorApiKey, rawPublicKey(this.operatorKey), this.verifier);
  }

  /** Replays a journaled command into the registry (recovery, in journal order). */
  recover(cmd: CommandRecord): void {
    if (cmd.kind === CommandKind.RegisterApiKey || cmd.kind === CommandKind.RevokeApiKey) this.registry.apply(cmd);
  }

  /** Remembers a session's ?watch= list until it logs in. */
  watchAfterLogin(session: Session, text: string): void {
    if (text !== "") this.pendingWatches.set(session, text);
  }

  forget(session: Session): void {
    this.pendingWatches.delete(session);
  }

  /** A Login frame: verified off-thread; the session is answered CommandAccepted or CommandRejected. */
  login(session: Session, result: DecodeResult): void {
    const clientSeq = result.clientSeq;
    const type = result.commandType;
    if (session.loginState !== LoginState.None) {
      const why = session.loginState === LoginState.Pending ? "a login is in progress" : "this session is logged in already";
      this.replies.reject(session, clientSeq, RejectCode.InvalidField, why, type, 0, 0n);
      return;
    }
    session.loginState = LoginState.Pending;
    void this.authenticator
      .login(result.loginKey!, result.loginSignature!, result.loginTimestampMs, result.loginWindowMs, Date.now())
      .then((outcome) => this.finishLogin(session, clientSeq, type, outcome));
  }

  private finishLogin(session: Session, clientSeq: bigint, type: number, outcome: AuthOutcome): void {
    if (session.closed) return;
    if (outcome.identity === null) {
      session.loginState = LoginState.None;
      // A full verification queue is the gateway's problem, not a failed proof: it does not count.
      if (outcome.code !== RejectCode.Overloaded) session.loginFailures++;
      this.replies.reject(session, clientSeq, outcome.code, outcome.message, type, 0, 0n);
      if (session.loginFailures >= LOGIN_FAILURES_MAX) session.socket.close?.(CLOSE_LOGIN_FAILURES, "too many failed logins");
      return;
    }
    session.logIn(outcome.identity, clientSeq);
    this.replies.accepted(session, clientSeq, outcome.identity.operator ? 0 : mainAccountOf(outcome.identity.user));
    const watch = this.pendingWatches.get(session);
    if (watch !== undefined) {
      this.pendingWatches.delete(session);
      this.applyWatches(session, watch);
    }
  }

  /** ?watch=17,18: every event of these accounts, each one the session's user's (with Read) or any for the operator. */
  private applyWatches(session: Session, text: string): void {
    const parts = text.split(",", SESSION_ACCOUNTS_MAX); // a ?watch= list names at most what a session keeps
    for (const part of parts) {
      const account = Number(part);
      if (part === "" || !Number.isInteger(account) || account <= 0 || account > 0xffffffff) continue;
      const mine = userOf(account) === session.user && (session.permissions & Permission.Read) !== 0;
      if (!session.operator && !mine) {
        this.replies.reject(session, 0n, RejectCode.Forbidden, `watch: account ${account} is not readable with this key`, 0, account, 0n);
        continue;
      }
      this.replies.watch(session, account);
    }
  }

  /**
   * Hot path: may this decoded frame act? Checks login, account ownership and permission (authorize), that client_seq
   * rises, and (operator) that a key command fits the registry. False after sending the reject; nothing queued.
   */
  check(session: Session, result: DecodeResult, decoded: CommandRecord): boolean {
    if (!authorize(session, result.commandType, decoded, this.denial)) {
      this.replies.reject(session, result.clientSeq, this.denial.code, this.denial.message, result.commandType, result.account, result.clientId);
      return false;
    }
    if (session.loggedIn) {
      if (result.clientSeq <= session.lastClientSeq) {
        const message = `client_seq ${result.clientSeq} is not above this session's last ${session.lastClientSeq}: a replayed frame does nothing`;
        this.replies.reject(session, result.clientSeq, RejectCode.Replayed, message, result.commandType, result.account, result.clientId);
        return false;
      }
      session.lastClientSeq = result.clientSeq;
    }
    const kind = decoded.kind;
    if ((kind === CommandKind.RegisterApiKey || kind === CommandKind.RevokeApiKey) && !this.registry.check(decoded, this.keyCheck)) {
      this.replies.reject(session, result.clientSeq, this.keyCheck.code, this.keyCheck.message, result.commandType, decoded.account, 0n);
      return false;
    }
    return true;
  }

  /** A command was sequenced (journal order): key commands change the registry now; a revoked key's sessions stop. */
  sequenced(cmd: CommandRecord): void {
    if (cmd.kind !== CommandKind.RegisterApiKey && cmd.kind !== CommandKind.RevokeApiKey) return;
    const revoked = this.registry.apply(cmd);
    if (revoked !== null) this.sessions.closeSessionsOf(revoked, "API key revoked");
  }

  /** A signed HTTP request (see Authenticator.request). */
  request(headers: RequestHeaders, instruction: string, params: Readonly<Record<string, string>>): Promise<AuthOutcome> {
    return this.authenticator.request(headers, instruction, params, Date.now());
  }

  /** May `who` read `account` (GET /balances)? */
  static canRead(who: Identity, account: number): boolean {
    return who.operator || (userOf(account) === who.user && (who.permissions & Permission.Read) !== 0);
  }

  close(): Promise<void> {
    return this.verifier.close();
  }
}
