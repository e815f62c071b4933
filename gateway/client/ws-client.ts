// A small WebSocket client for crossbook: sends command objects, receives decoded events. For people (the CLI),
// tests and scripts — not for latency work (it allocates per event). Needs the global WebSocket (Node 20:
// run with --experimental-websocket; bin/crossbook.mjs does that for you).
import type { KeyObject } from "node:crypto";
import { apiKeyOf, signedHeaders, signLogin } from "../auth/keys.ts";
import { decodeEvent, encodeCommand, splitEventFrames, type CommandJson, type EventFraming, type EventJson } from "./codec.ts";

export interface PublicAsset {
  readonly id: number;
  readonly symbol: string;
  readonly decimals: number;
  /** The asset's starting USD mark (config initialMark), decimal text. */
  readonly initialMark: string;
  /** P2: the asset's oracle sources by index (an OracleQuote's `source`) and staleAfterMs; null without an oracle. */
  readonly oracle: { readonly sources: readonly string[]; readonly staleAfterMs: number } | null;
}

export interface PublicMarket {
  readonly id: number;
  readonly symbol: string;
  readonly kind: string;
  readonly base: string;
  readonly quote: string;
  readonly tickSize: string;
  readonly stepSize: string;
}

export interface PublicConfig {
  readonly assets: readonly PublicAsset[];
  readonly markets: readonly PublicMarket[];
}

export interface ConnectOptions {
  /**
   * X6: the ED25519 private key to log in with (a user's API key, or the operator's for Deposit, SetMarketState,
   * AdvanceTime, SetMarkPrice, RegisterApiKey, RevokeApiKey). Without a key the connection gets public market data only.
   */
  readonly key?: KeyObject;
  /** The login signature's window (ms; default 5000, at most 60000). */
  readonly windowMs?: number;
  /** Accounts whose every event this connection receives (the key's user's accounts; any for the operator). */
  readonly watch?: readonly number[];
  /**
   * How the server puts events into messages (gateway/sessions.ts EventFraming): "batch" (the default: a turn's
   * events in one message, split here) or "single" (one event per message, as every client before issue 15 asked).
   * Listeners see the same events in the same order either way.
   */
  readonly frames?: EventFraming;
}

/** A refused login (code: the RejectCode name). */
export class LoginError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`login refused (${code}): ${message}`);
  }
}

type Listener = (e: EventJson) => void;

/** Logins signed again after a `Replayed` refusal (the gateway closes a session at its third failed login). */
export const LOGIN_REPLAYED_RETRIES = 1;

/** The last login timestamp (ms) used with each key in this process: two logins never sign the same message. */
const lastLoginTimestampMsByApiKey = new Map<string, number>();

/** Now, or one past this key's last login timestamp in this process when the clock has not moved on since. */
function nextLoginTimestampMs(key: KeyObject): number {
  const apiKey = apiKeyOf(key);
  const last = lastLoginTimestampMsByApiKey.get(apiKey) ?? 0;
  const timestampMs = Math.max(Date.now(), last + 1);
  lastLoginTimestampMsByApiKey.set(apiKey, timestampMs);
  return timestampMs;
}

/** How the connection ended: the server's close code and reason (1001 stop, 1009 frame too large, 1013 behind). */
export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

/** A request, query or wait that the connection's close ended before its answer came (the server stopped, or
 * closed this session): `close` says how. Such a request gets no answer; one it sent may still have been acted on. */
export class ConnectionClosedError extends Error {
  constructor(
    readonly close: CloseInfo,
    what: string,
  ) {
    super(`connection closed (${close.code}${close.reason === "" ? "" : ` ${close.reason}`}) before ${what}`);
  }
}

export class CrossbookClient {
  private nextClientSeq = 1n;
  private readonly listeners = new Set<Listener>();
  /** Each pending request's or wait's failure, called with the close when the connection closes first. */
  private readonly pending = new Set<(close: CloseInfo) => void>();
  /** How the connection ended, once it has. */
  private closeInfo: CloseInfo | null = null;
  /** Resolves when the connection has closed, with the close code and reason (1006: dropped without a close frame). */
  readonly closed: Promise<CloseInfo>;

  private constructor(
    private readonly ws: WebSocket,
    frames: EventFraming,
  ) {
    ws.binaryType = "arraybuffer";
    const deliver = (frame: Uint8Array): void => {
      const e = decodeEvent(frame);
      for (const l of this.listeners) l(e);
    };
    ws.addEventListener("message", (m: MessageEvent) => {
      const message = new Uint8Array(m.data as ArrayBuffer);
      if (frames === "batch") splitEventFrames(message, deliver);
      else deliver(message);
    });
    this.closed = new Promise((resolve) =>
      ws.addEventListener("close", (c: { code: number; reason: string }) => {
        const info = { code: c.code, reason: c.reason };
        this.closeInfo = info;
        for (const fail of [...this.pending]) fail(info);
        resolve(info);
      }),
    );
  }

  /**
   * Registers a pending request's `fail` (called with the close if the connection closes before it settles): returns
   * the function that unregisters it. When the connection has closed already, `fail` runs at once.
   */
  private untilClosed(fail: (close: CloseInfo) => void): () => void {
    if (this.closeInfo !== null) {
      fail(this.closeInfo);
      return () => {};
    }
    this.pending.add(fail);
    return () => void this.pending.delete(fail);
  }

  /** Opens a connection and, given a key, logs in (resolves once the login is accepted; rejects with LoginError). */
  static async connect(url: string, options: ConnectOptions = {}): Promise<CrossbookClient> {
    const client = await CrossbookClient.open(url, options.watch, options.frames ?? "batch");
    if (options.key === undefined) return client;
    try {
      await client.login(options.key, options.windowMs);
    } catch (e) {
      await client.close();
      throw e;
    }
    return client;
  }

  private static open(url: string, watch: readonly number[] | undefined, frames: EventFraming): Promise<CrossbookClient> {
    const u = new URL(url);
    const options = { watch };
    if (options.watch !== undefined && options.watch.length > 0) u.searchParams.set("watch", options.watch.join(","));
    if (frames === "batch") u.searchParams.set("frames", "batch");
    if (typeof WebSocket === "undefined") {
      throw new Error("this Node has no global WebSocket: run node with --experimental-websocket (Node 20)");
    }
    const ws = new WebSocket(u.toString());
    return new Promise((resolve, reject) => {
      ws.addEventListener("open", () => resolve(new CrossbookClient(ws, frames)), { once: true });
      ws.addEventListener("error", () => reject(new Error(`cannot connect to ${url}`)), { once: true });
    });
  }

  /**
   * X6 login: signs instruction=subscribe&timestamp=now&window=W and sends it as this session's first frame.
   * Resolves with the CommandAccepted (account = the user's main account, 0 for the operator).
   */
  async login(key: KeyObject, windowMs?: number): Promise<EventJson> {
    for (let attempt = 0; ; attempt++) {
      const e = await this.loginOnce(key, nextLoginTimestampMs(key), windowMs);
      if (e.type === "CommandAccepted") return e;
      const r = e as EventJson & { code?: unknown; message?: unknown };
      // The signature of (subscribe, T, W) is the same bytes for every login with one key in one millisecond, so
      // another process's login in our millisecond makes ours a replay: sign again at a later T (once: the gateway
      // closes a session after LOGIN_FAILURES_MAX failed logins).
      if (String(r.code) === "Replayed" && attempt < LOGIN_REPLAYED_RETRIES) continue;
      throw new LoginError(String(r.code), String(r.message));
    }
  }

  private async loginOnce(key: KeyObject, timestampMs: number, windowMs: number | undefined): Promise<EventJson> {
    const signed = signLogin(key, timestampMs, windowMs);
    const clientSeq = this.nextClientSeq;
    const answer = this.waitFor((e) => e.clientSeq === clientSeq);
    this.send({ type: "Login", ...signed });
    return answer;
  }

  /** Receives every event this connection gets; returns the unsubscribe function. */
  onEvent(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Sends one command; returns its clientSeq (echoed on the events that answer it). */
  send(cmd: CommandJson): bigint {
    const clientSeq = this.nextClientSeq++;
    this.ws.send(encodeCommand(clientSeq, cmd));
    return clientSeq;
  }

  /** Sends raw bytes as one binary frame (tests of bad input). */
  sendRaw(bytes: Uint8Array): void {
    this.ws.send(bytes);
  }

  /**
   * Sends a command and collects the events answering it: waits for the first one, then keeps collecting until
   * `quietMs` pass without another (the engine answers a command within one batch). Rejects after `timeoutMs` with
   * no answer, or at once with ConnectionClosedError when the connection closes first (or has closed already).
   */
  request(cmd: CommandJson, quietMs = 150, timeoutMs = 5000): Promise<EventJson[]> {
    return new Promise((resolve, reject) => {
      const got: EventJson[] = [];
      let clientSeq = 0n;
      let quiet: NodeJS.Timeout | null = null;
      const settle = (): void => {
        off();
        unwatch();
        clearTimeout(deadline);
        if (quiet !== null) clearTimeout(quiet);
      };
      const finish = (): void => {
        settle();
        resolve(got);
      };
      const off = this.onEvent((e) => {
        if (e.clientSeq !== clientSeq) return;
        got.push(e);
        if (quiet !== null) clearTimeout(quiet);
        quiet = setTimeout(finish, quietMs);
      });
      const deadline = setTimeout(() => {
        settle();
        if (got.length > 0) resolve(got);
        else reject(new Error(`no answer to ${cmd.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      // A close ends the wait: the events already answering it are the answer, else it has none.
      let unwatch = (): void => {};
      unwatch = this.untilClosed((close) => {
        settle();
        if (got.length > 0) resolve(got);
        else reject(new ConnectionClosedError(close, `the answer to ${cmd.type}`));
      });
      if (this.closeInfo === null) clientSeq = this.send(cmd);
    });
  }

  /**
   * Catches up on an account after falling behind (a 1013 close): asks for every event the gateway logged for it
   * from the first one of a command with seq ≥ fromSeq, in the order first sent. Resolves with those events and the
   * ResumeDone (complete = false: the log no longer reaches back that far, take a snapshot). The connection watches
   * the account from then on. Use a fresh connection: every event until ResumeDone is counted as re-sent.
   */
  resume(account: number, fromSeq: number, timeoutMs = 5000): Promise<{ events: EventJson[]; done: Extract<EventJson, { type: "ResumeDone" }> }> {
    return this.collectUntil({ type: "ResumeAccount", account, fromSeq }, "ResumeDone", false, timeoutMs) as never;
  }

  /**
   * A fresh snapshot of the account: its Balance per asset and OpenOrder per resting order, and the AccountSnapshot
   * with the sequence number it is valid at. The connection watches the account from then on (events after it).
   */
  snapshot(account: number, timeoutMs = 5000): Promise<{ events: EventJson[]; done: Extract<EventJson, { type: "AccountSnapshot" }> }> {
    return this.collectUntil({ type: "QueryAccountSnapshot", account }, "AccountSnapshot", true, timeoutMs) as never;
  }

  /** Q6: the account's liquidation history (its LiquidationStarted / LiquidationEnded rows, oldest first). */
  async liquidationHistory(account: number, options: { sinceMs?: number; limit?: number } = {}, timeoutMs = 5000): Promise<EventJson[]> {
    return (await this.collectUntil({ type: "QueryLiquidationHistory", account, ...options }, "CommandAccepted", true, timeoutMs)).events;
  }

  /** Q6/D4: the insurance fund's balance of `asset` (omitted: of every asset), one InsuranceFund event each. */
  insuranceFund(asset?: number): Promise<EventJson[]> {
    return this.request(asset === undefined ? { type: "QueryInsuranceFund" } : { type: "QueryInsuranceFund", asset });
  }

  /** Q4: the exchange's lender write-downs (Socialization rows, account 0, oldest first) of `asset` (omitted: every asset). */
  async lenderLosses(options: { asset?: number; sinceMs?: number; limit?: number } = {}, timeoutMs = 5000): Promise<EventJson[]> {
    return (await this.collectUntil({ type: "QueryLenderLosses", ...options }, "CommandAccepted", true, timeoutMs)).events;
  }

  /**
   * Q7 (operator): the cascade of `shocks` (asset id → the mark's multiplier as a decimal string, "0.7" = −30%; at most
   * 4) on a copy of the exchange's state as it stands: the WhatIfStage / WhatIfFills / WhatIfAccount rows and the
   * closing WhatIfDone. Refused (rejects) when another what-if is running.
   */
  async whatIf(shocks: readonly { asset: number; factor: string }[], stagesMax = 0, timeoutMs = 600_000): Promise<{ events: EventJson[]; done: EventJson }> {
    const cmd: Record<string, unknown> = { type: "QueryWhatIf", stagesMax: stagesMax };
    shocks.forEach((s, i) => {
      cmd[`asset${i + 1}`] = s.asset;
      cmd[`factor${i + 1}`] = s.factor;
    });
    return this.collectUntil(cmd as unknown as CommandJson, "WhatIfDone", true, timeoutMs);
  }

  /** Q6/D4: the insurance fund's history (InsuranceEntry rows, oldest first) of `asset` (omitted: every asset). */
  async insuranceHistory(options: { asset?: number; sinceMs?: number; limit?: number } = {}, timeoutMs = 5000): Promise<EventJson[]> {
    return (await this.collectUntil({ type: "QueryInsuranceHistory", ...options }, "CommandAccepted", true, timeoutMs)).events;
  }

  private collectUntil(cmd: CommandJson, last: string, ownOnly: boolean, timeoutMs: number): Promise<{ events: EventJson[]; done: EventJson }> {
    return new Promise((resolve, reject) => {
      const events: EventJson[] = [];
      let clientSeq = -1n;
      const settle = (): void => {
        off();
        unwatch();
        clearTimeout(t);
      };
      const off = this.onEvent((e) => {
        if (e.type === last && e.clientSeq === clientSeq) {
          settle();
          resolve({ events, done: e });
        } else if (e.clientSeq === clientSeq && (e.type === "CommandRejected" || e.type === "OrderRejected")) {
          settle();
          reject(new Error(`${cmd.type} refused: ${(e as { message: string }).message}`));
        } else if (!ownOnly || e.clientSeq === clientSeq) {
          events.push(e);
        }
      });
      const t = setTimeout(() => {
        settle();
        reject(new Error(`no ${last} within ${timeoutMs} ms`));
      }, timeoutMs);
      let unwatch = (): void => {};
      unwatch = this.untilClosed((close) => {
        settle();
        reject(new ConnectionClosedError(close, `the ${last} answering ${cmd.type}`));
      });
      if (this.closeInfo === null) clientSeq = this.send(cmd);
    });
  }

  /** Resolves on the first event matching `predicate` (rejects after `timeoutMs`, or with ConnectionClosedError when
   * the connection closes first). */
  waitFor(predicate: (e: EventJson) => boolean, timeoutMs = 5000): Promise<EventJson> {
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        off();
        unwatch();
        clearTimeout(t);
      };
      const off = this.onEvent((e) => {
        if (!predicate(e)) return;
        settle();
        resolve(e);
      });
      const t = setTimeout(() => {
        settle();
        reject(new Error(`no matching event within ${timeoutMs} ms`));
      }, timeoutMs);
      let unwatch = (): void => {};
      unwatch = this.untilClosed((close) => {
        settle();
        reject(new ConnectionClosedError(close, "a matching event"));
      });
    });
  }

  async close(): Promise<void> {
    this.ws.close();
    await this.closed;
  }
}

/** GET /config of a running server: asset and market ids, symbols and scales. */
export async function fetchPublicConfig(httpBase: string): Promise<PublicConfig> {
  const r = await fetch(new URL("/config", httpBase));
  if (!r.ok) throw new Error(`GET /config: HTTP ${r.status}`);
  return (await r.json()) as PublicConfig;
}

/** ws://host:port/... → http://host:port */
export function httpBaseOf(wsUrl: string): string {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === "wss:" ? "https:" : "http:";
  u.pathname = "/";
  u.search = "";
  return u.toString();
}

/**
 * GET `path` signed with `key` (X6, Backpack style): X-API-Key, X-Signature, X-Timestamp, X-Window headers over
 * instruction=<instruction>&<params sorted by name>&timestamp=T&window=W; the params go in the query string.
 */
export function signedGet(httpBase: string, path: string, instruction: string, params: Readonly<Record<string, string>>, key: KeyObject): Promise<Response> {
  const u = new URL(path, httpBase);
  for (const [name, value] of Object.entries(params)) u.searchParams.set(name, value);
  return fetch(u, { headers: signedHeaders(key, instruction, params) });
}
