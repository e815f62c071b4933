// X6 login and signed HTTP requests: checks the timestamp window and the key, refuses a signature seen before, and
// verifies the ED25519 signature on a piscina pool so that a burst of logins never stalls the gateway thread.
import { availableParallelism } from "node:os";
import { Piscina } from "piscina";
import { RejectCode } from "../../engine/model/index.ts";
import { workerExecArgv } from "../../engine/pipeline/worker-bundle.ts";
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SIGNATURE_BYTES, LOGIN_WINDOW_DEFAULT_MS, LOGIN_WINDOW_MAX_MS } from "../codec/index.ts";
import { signingString } from "./keys.ts";
import type { ApiKeyEntry, ApiKeyRegistry } from "./registry.ts";

/** Verification threads: one per spare core, at most this many (the engine workers need the others). */
export const LOGIN_VERIFY_THREADS_MAX = 2;
/** Signatures waiting for a verification thread, at most; beyond it a login is refused with Overloaded. */
export const LOGIN_VERIFY_QUEUE_MAX = 4096;
/**
 * Of those, signed HTTP requests may hold at most this many: the rest of the queue is the logins' (HTTP requests with
 * bad signatures from many keep-alive connections filled the whole queue and refused every login, Overloaded).
 */
export const HTTP_VERIFY_QUEUE_MAX = 2048;
/** Accepted login signatures remembered until their window ends (a login is accepted once), at most. */
export const LOGIN_SIGNATURES_REMEMBERED_MAX = 100_000;
/** Of those, at most this many for one user's keys (the operator counts as one user): one user logging in without
 * pause cannot fill the guard and lock every other user out (a signature is remembered up to 2 × 60 s). */
export const LOGIN_SIGNATURES_PER_USER_MAX = 2_000;
/** Failed logins on one connection before it is closed. */
export const LOGIN_FAILURES_MAX = 3;
/** Permission bits of the operator's key: it reads every account, and only it sends operator commands. */
export const OPERATOR_PERMISSIONS = 1;

/** Who a verified signature speaks for. */
export interface Identity {
  readonly operator: boolean;
  /** The user (account >> 4); -1 for the operator. */
  readonly user: number;
  readonly permissions: number;
  /** The registry entry (null for the operator's key): a revocation sets entry.revoked. */
  readonly entry: ApiKeyEntry | null;
}

export interface AuthOutcome {
  readonly identity: Identity | null;
  /** RejectCode (None when identity is set) and why. */
  readonly code: number;
  readonly message: string;
}

function refused(code: number, message: string): AuthOutcome {
  return { identity: null, code, message };
}

/** Signatures sent to a verification thread as one task, at most: fewer messages per login on the gateway thread. */
export const LOGIN_VERIFY_BATCH_MAX = 32;

interface VerifyJob {
  readonly publicKey: Uint8Array;
  readonly message: string;
  readonly signature: Uint8Array;
  readonly resolve: (ok: boolean | null) => void;
}

/**
 * The ED25519 verification pool (piscina). Signatures that arrive in one turn of the event loop go to the pool in
 * tasks of up to LOGIN_VERIFY_BATCH_MAX, so a burst of logins costs the gateway thread one message per batch.
 */
export class SignatureVerifier {
  private readonly pool: Piscina;
  private pending: VerifyJob[] = [];
  /** Signatures accepted and not yet answered (waiting, queued or being verified). */
  private inFlight = 0;
  private flushScheduled = false;
  private readonly flushPending = (): void => {
    this.flushScheduled = false;
    while (this.pending.length > 0) this.send(this.pending.splice(0, LOGIN_VERIFY_BATCH_MAX));
  };

  constructor(threads = Math.max(1, Math.min(LOGIN_VERIFY_THREADS_MAX, availableParallelism() - 1))) {
    const filename = new URL("./verify-worker.mjs", import.meta.url);
    this.pool = new Piscina({
      filename: filename.href,
      // Plain JavaScript: without the process's module preloads (an inherited `--import tsx` loaded tsx and esbuild
      // into the pool's first thread at every start, ~0.6 s of CPU beside a restart's restore on 2 cores).
      execArgv: workerExecArgv(filename),
      minThreads: 1,
      maxThreads: threads,
      maxQueue: LOGIN_VERIFY_QUEUE_MAX,
      idleTimeout: 60_000,
    });
  }

  /** Signatures waiting for an answer. */
  get queued(): number {
    return this.inFlight;
  }

  /**
   * Resolves true when `signature` is `publicKey`'s signature of `message`; null when it cannot be checked now (the
   * queue is full, or the pool is closing). Never rejects: a login must not become an unhandled rejection.
   */
  verify(publicKey: Uint8Array, message: string, signature: Uint8Array, queueMax = LOGIN_VERIFY_QUEUE_MAX): Promise<boolean | null> {
    if (this.inFlight >= queueMax) return Promise.resolve(null);
    this.inFlight++;
    return new Promise((resolve) => {
      this.pending.push({ publicKey, message, signature, resolve });
      if (this.pending.length >= LOGIN_VERIFY_BATCH_MAX) this.send(this.pending.splice(0, LOGIN_VERIFY_BATCH_MAX));
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flushPending);
      }
    });
  }

  private send(batch: VerifyJob[]): void {
    const task = { publicKeys: batch.map((j) => j.publicKey), messages: batch.map((j) => j.message), signatures: batch.map((j) => j.signature) };
    this.pool.run(task).then(
      (results: boolean[]) => this.answer(batch, results),
      () => this.answer(batch, null),
    );
  }

  private answer(batch: readonly VerifyJob[], results: readonly boolean[] | null): void {
    this.inFlight -= batch.length;
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(results === null ? null : results[i] === true);
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}

/** A remembered login signature: when its window ends, and whose (user; −1 the operator). */
interface Claim {
  readonly expiresAtMs: number;
  readonly user: number;
}

/** Login signatures already accepted, each until its window ends (then it could not pass the time check anyway). */
export class ReplayGuard {
  private readonly claims = new Map<string, Claim>();
  /** Live claims per user (LOGIN_SIGNATURES_PER_USER_MAX each). */
  private readonly perUser = new Map<number, number>();

  get size(): number {
    return this.claims.size;
  }

  /**
   * Claims a signature for `user`: "ok", "replayed" (seen within its window), "full" (LOGIN_SIGNATURES_REMEMBERED_MAX
   * live ones) or "userFull" (LOGIN_SIGNATURES_PER_USER_MAX live ones of this user). Expired claims are swept first
   * when either bound is reached.
   */
  claim(signature: string, expiresAtMs: number, nowMs: number, user = 0): "ok" | "replayed" | "full" | "userFull" {
    if (this.claims.has(signature)) return "replayed";
    if (this.claims.size >= LOGIN_SIGNATURES_REMEMBERED_MAX || (this.perUser.get(user) ?? 0) >= LOGIN_SIGNATURES_PER_USER_MAX) this.sweep(nowMs);
    if ((this.perUser.get(user) ?? 0) >= LOGIN_SIGNATURES_PER_USER_MAX) return "userFull";
    if (this.claims.size >= LOGIN_SIGNATURES_REMEMBERED_MAX) return "full";
    this.claims.set(signature, { expiresAtMs, user });
    this.perUser.set(user, (this.perUser.get(user) ?? 0) + 1);
    return "ok";
  }

  /** Forgets a claim whose signature turned out invalid (it proved nothing, so it blocks nothing). */
  release(signature: string): void {
    const claim = this.claims.get(signature);
    if (claim !== undefined) this.forget(signature, claim);
  }

  private forget(signature: string, claim: Claim): void {
    this.claims.delete(signature);
    const left = this.perUser.get(claim.user)! - 1;
    if (left === 0) this.perUser.delete(claim.user);
    else this.perUser.set(claim.user, left);
  }

  private sweep(nowMs: number): void {
    for (const [signature, claim] of this.claims) if (claim.expiresAtMs < nowMs) this.forget(signature, claim);
  }
}

/** The reason T is not within W of the gateway's clock (Backpack's rule), or null when it is. */
export function staleTimestamp(timestampMs: number, windowMs: number, nowMs: number): string | null {
  if (Math.abs(nowMs - timestampMs) <= windowMs) return null;
  return `timestamp ${timestampMs} is not within the ${windowMs} ms window of the gateway's clock (${nowMs})`;
}

/** Logins (WebSocket) and signed requests (HTTP) against the registry and the operator's key. */
export class Authenticator {
  readonly replays = new ReplayGuard();

  constructor(
    private readonly registry: ApiKeyRegistry,
    /** Base64 of the operator's public key (trusted at start, not journaled: see server.ts). */
    private readonly operatorApiKey: string,
    private readonly operatorPublicKey: Uint8Array,
    private readonly verifier: SignatureVerifier,
  ) {}

  private identityOf(apiKey: string): Identity | null {
    if (apiKey === this.operatorApiKey) return { operator: true, user: -1, permissions: OPERATOR_PERMISSIONS, entry: null };
    const entry = this.registry.lookup(apiKey);
    return entry === undefined ? null : { operator: false, user: entry.user, permissions: entry.permissions, entry };
  }

  private publicKeyOf(identity: Identity): Uint8Array {
    return identity.entry === null ? this.operatorPublicKey : identity.entry.publicKey;
  }

  /** A WebSocket login: the signature of instruction=subscribe&timestamp=T&window=W, accepted once. */
  async login(publicKey: Uint8Array, signature: Uint8Array, timestampMs: number, windowMs: number, nowMs: number): Promise<AuthOutcome> {
    const stale = staleTimestamp(timestampMs, windowMs, nowMs);
    if (stale !== null) return refused(RejectCode.BadSignature, stale);
    const apiKey = Buffer.from(publicKey).toString("base64");
    const identity = this.identityOf(apiKey);
    if (identity === null) return refused(RejectCode.UnknownApiKey, `API key ${apiKey} is not registered`);
    const signatureText = Buffer.from(signature).toString("base64");
    const claim = this.replays.claim(signatureText, timestampMs + windowMs, nowMs, identity.user);
    if (claim === "replayed") return refused(RejectCode.Replayed, "this login signature was accepted before: sign a new one");
    if (claim === "full") return refused(RejectCode.Overloaded, "too many logins in flight: retry in a few seconds");
    if (claim === "userFull") {
      return refused(RejectCode.RateLimited, `this user's keys logged in ${LOGIN_SIGNATURES_PER_USER_MAX} times within their windows: retry when they end`);
    }
    const ok = await this.verifier.verify(this.publicKeyOf(identity), signingString("subscribe", {}, timestampMs, windowMs), signature);
    if (ok !== true) {
      this.replays.release(signatureText);
      return ok === null ? refused(RejectCode.Overloaded, "login queue full: retry later") : refused(RejectCode.BadSignature, "signature does not verify");
    }
    if (identity.entry !== null && identity.entry.revoked) return refused(RejectCode.UnknownApiKey, `API key ${apiKey} was revoked`);
    return { identity, code: RejectCode.None, message: "" };
  }

  /**
   * A signed HTTP request (Backpack's X-API-Key, X-Signature, X-Timestamp, X-Window headers) over
   * `instruction=<instruction>&<params sorted>&timestamp=T&window=W`. Reads only, so not claimed against replay.
   */
  async request(headers: RequestHeaders, instruction: string, params: Readonly<Record<string, string>>, nowMs: number): Promise<AuthOutcome> {
    const publicKey = Buffer.from(headers.apiKey, "base64");
    const signature = Buffer.from(headers.signature, "base64");
    const timestampMs = Number(headers.timestamp);
    const windowMs = headers.window === "" ? LOGIN_WINDOW_DEFAULT_MS : Number(headers.window);
    if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES || signature.length !== ED25519_SIGNATURE_BYTES) {
      return refused(RejectCode.NotLoggedIn, "sign the request: X-API-Key, X-Signature, X-Timestamp, X-Window headers");
    }
    if (!Number.isSafeInteger(timestampMs) || !Number.isInteger(windowMs) || windowMs <= 0 || windowMs > LOGIN_WINDOW_MAX_MS) {
      return refused(RejectCode.BadSignature, `X-Timestamp must be ms since the epoch and X-Window 1..${LOGIN_WINDOW_MAX_MS}`);
    }
    const stale = staleTimestamp(timestampMs, windowMs, nowMs);
    if (stale !== null) return refused(RejectCode.BadSignature, stale);
    const identity = this.identityOf(headers.apiKey);
    if (identity === null) return refused(RejectCode.UnknownApiKey, `API key ${headers.apiKey} is not registered`);
    const message = signingString(instruction, params, timestampMs, windowMs);
    const ok = await this.verifier.verify(this.publicKeyOf(identity), message, signature, HTTP_VERIFY_QUEUE_MAX);
    if (ok === null) return refused(RejectCode.Overloaded, "verification queue full: retry later");
    if (!ok) return refused(RejectCode.BadSignature, "signature does not verify");
    // Revoked while its signature waited (as a login): the key's requests end with the RevokeApiKey.
    if (identity.entry !== null && identity.entry.revoked) return refused(RejectCode.UnknownApiKey, `API key ${headers.apiKey} was revoked`);
    return { identity, code: RejectCode.None, message: "" };
  }
}

/** The signature headers of an HTTP request ("" when absent), read before the handler returns. */
export interface RequestHeaders {
  readonly apiKey: string;
  readonly signature: string;
  readonly timestamp: string;
  readonly window: string;
}
