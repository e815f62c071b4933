// The feeder's side of the wire (issue 12 item 2): one operator session that turns FeedQuote batches into OracleQuote
// commands (P2) and keeps itself connected.
//
//   - One quote per command. The quotes of one asset in a batch go out together, in the batch's order, and the last
//     of them carries `apply` (the engine recomputes that asset's index once per update, risk/oracle-commands.ts).
//   - Bounded in flight: at most `inflightMax` commands sent and not yet answered (every OracleQuote is answered by
//     exactly one CommandAccepted or CommandRejected with its clientSeq; an applied one also by IndexPrice first).
//     A batch waits for room; it never queues beyond that.
//   - Reconnects: a session that closes (server restart, network) is reopened after FEED_RECONNECT_INITIAL_MS × 2^n
//     (capped at FEED_RECONNECT_MAX_MS); quotes pushed while there is no session are dropped and counted — an old
//     price is worth nothing to the index, and the source's next tick carries the newer one. A login refused for
//     its key (not the operator's) is not retried: the feeder stops with that error; `Recovering` is retried.
import type { KeyObject } from "node:crypto";
import { formatDecimal } from "../../engine/fixed/index.ts";
import { PRICE_DECIMALS } from "../../engine/model/index.ts";
import type { EventJson, OracleQuoteCommand } from "../client/codec.ts";
import { CrossbookClient, LoginError, type PublicConfig } from "../client/ws-client.ts";
import { backoffDelayMs } from "./backpack-source.ts";
import { parseQuotePrice, type FeedQuote, type QuoteSink } from "./quote.ts";

/** First reconnect delay and its cap, ms. */
export const FEED_RECONNECT_INITIAL_MS = 250;
export const FEED_RECONNECT_MAX_MS = 10_000;
/** Bounds of the commands one feeder keeps in flight. */
export const FEED_INFLIGHT_DEFAULT = 64;
export const FEED_INFLIGHT_MAX = 1024;

/** A feeder input refused (options, the server's config, a quote file naming what the server does not have). */
export class FeedError extends Error {
  override name = "FeedError";
}

/** One asset the feeder may quote: its id and the names of its oracle sources, by index. */
export interface OracleTarget {
  readonly assetId: number;
  readonly symbol: string;
  readonly sources: readonly string[];
  readonly staleAfterMs: number;
  /** The asset's initialMark, PRICE_DECIMALS. */
  readonly initialMark: bigint;
}

/** The assets with an oracle in a server's public config, by symbol. */
export function oracleTargets(pub: PublicConfig): Map<string, OracleTarget> {
  const targets = new Map<string, OracleTarget>();
  for (const a of pub.assets) {
    if (a.oracle === null || a.oracle === undefined) continue;
    let initialMark: bigint;
    try {
      initialMark = parseQuotePrice(`${a.symbol} initialMark`, a.initialMark);
    } catch (e) {
      throw new FeedError(`server config: ${(e as Error).message}`);
    }
    targets.set(a.symbol, { assetId: a.id, symbol: a.symbol, sources: a.oracle.sources, staleAfterMs: a.oracle.staleAfterMs, initialMark });
  }
  return targets;
}

/**
 * P2 commands for one batch: one OracleQuote per quote, grouped by asset in the order assets first appear, the
 * last quote of each asset with apply = true. Throws FeedError for an asset or source the targets do not have.
 */
export function quotesToCommands(batch: readonly FeedQuote[], targets: ReadonlyMap<string, OracleTarget>): OracleQuoteCommand[] {
  const byAsset = new Map<string, FeedQuote[]>();
  for (const q of batch) {
    let list = byAsset.get(q.asset);
    if (list === undefined) byAsset.set(q.asset, (list = []));
    list.push(q);
  }
  const commands: OracleQuoteCommand[] = [];
  for (const [asset, quotes] of byAsset) {
    const target = targets.get(asset);
    if (target === undefined) throw new FeedError(`asset ${asset} has no oracle on this server`);
    for (let i = 0; i < quotes.length; i++) {
      const q = quotes[i]!;
      const source = target.sources.indexOf(q.source);
      if (source < 0) throw new FeedError(`${asset} has no oracle source ${q.source} (its sources: ${target.sources.join(", ")})`);
      commands.push({
        type: "OracleQuote",
        asset: target.assetId,
        source,
        bid: formatDecimal(q.bid, PRICE_DECIMALS),
        ask: formatDecimal(q.ask, PRICE_DECIMALS),
        last: formatDecimal(q.last, PRICE_DECIMALS),
        sourceTimeMs: q.sourceTimeMs,
        apply: i === quotes.length - 1,
      });
    }
  }
  return commands;
}

/** The last IndexPrice the feeder saw for an asset. */
export interface SeenIndex {
  readonly index: string;
  readonly stale: boolean;
  readonly sourcesUsed: number;
  readonly stepLimited: boolean;
}

export interface SenderStats {
  sent: number;
  accepted: number;
  rejected: number;
  /** Quotes pushed while no session was open (dropped). */
  dropped: number;
  connects: number;
  lastReject: string;
  /** By asset id. */
  readonly indexes: Map<number, SeenIndex>;
}

export interface SenderOptions {
  readonly url: string;
  readonly operatorKey: KeyObject;
  readonly inflightMax: number;
  readonly targets: ReadonlyMap<string, OracleTarget>;
  readonly log: (line: string) => void;
  /** Called with every command just before it is sent (tests, logs). */
  readonly onCommand?: (cmd: OracleQuoteCommand) => void;
  /** Called when the feeder cannot go on (a refused login). */
  readonly onFatal: (error: Error) => void;
}

/** Login refusals the feeder does not retry: the key is not the server's operator key. */
const FATAL_LOGIN_CODES = new Set(["BadSignature", "UnknownApiKey", "Forbidden"]);

/** Most reject lines printed; later rejects are counted (stats.rejected) and the last one kept. */
const REJECT_LINES_MAX = 20;

/** The QuoteSink of `crossbook feed`: OracleQuote commands on one operator session, reconnecting (see the header). */
export class OracleSender implements QuoteSink {
  readonly stats: SenderStats = { sent: 0, accepted: 0, rejected: 0, dropped: 0, connects: 0, lastReject: "", indexes: new Map() };
  private client: CrossbookClient | null = null;
  private readonly pending = new Set<bigint>();
  private waiters: (() => void)[] = [];
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly options: SenderOptions) {}

  get connected(): boolean {
    return this.client !== null;
  }

  /** Opens the session (retrying with backoff until stop()). */
  start(): void {
    void this.connect();
  }

  /** Resolves once a session is open, or when stop() is called. */
  whenConnected(): Promise<void> {
    if (this.client !== null || this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push(resolve)).then(() => this.whenConnected());
  }

  async pushQuotes(batch: readonly FeedQuote[]): Promise<void> {
    const commands = quotesToCommands(batch, this.options.targets);
    for (const cmd of commands) {
      while (this.client !== null && this.pending.size >= this.options.inflightMax) await new Promise<void>((resolve) => this.waiters.push(resolve));
      const client = this.client;
      if (client === null || this.stopped) {
        this.stats.dropped++;
        continue;
      }
      this.options.onCommand?.(cmd);
      this.pending.add(client.send(cmd));
      this.stats.sent++;
    }
  }

  /** Resolves once every command sent is answered, or after timeoutMs (false then). */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending.size > 0 && this.client !== null && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.pending.size === 0;
  }

  /** Closes the session and stops reconnecting. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeWaiters();
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    const client = this.client;
    this.lost();
    if (client !== null) await client.close();
  }

  private async connect(): Promise<void> {
    this.reconnectTimer = null;
    if (this.stopped) return;
    let client: CrossbookClient;
    try {
      client = await CrossbookClient.connect(this.options.url, { key: this.options.operatorKey });
    } catch (e) {
      // A wrong key does not become right by retrying; a server still recovering (or overloaded) does answer later.
      if (e instanceof LoginError && FATAL_LOGIN_CODES.has(e.code)) return this.options.onFatal(new FeedError(`${this.options.url}: ${e.message} (is this the server's operator key?)`));
      return this.scheduleReconnect((e as Error).message);
    }
    if (this.stopped) return void client.close();
    this.attempt = 0;
    this.stats.connects++;
    this.client = client;
    client.onEvent((e) => this.onEvent(e));
    this.options.log(`connected to ${this.options.url} as the operator`);
    this.wakeWaiters();
    void client.closed.then((info) => {
      if (this.client !== client) return;
      this.lost();
      this.scheduleReconnect(`connection closed (${info.code}${info.reason === "" ? "" : ` ${info.reason}`})`);
    });
  }

  private scheduleReconnect(why: string): void {
    if (this.stopped) return;
    const delayMs = backoffDelayMs(this.attempt++, FEED_RECONNECT_INITIAL_MS, FEED_RECONNECT_MAX_MS);
    this.options.log(`${why}: reconnecting in ${delayMs} ms`);
    this.reconnectTimer = setTimeout(() => void this.connect(), delayMs);
  }

  /** The session is gone: what was in flight is unknown now; waiters go on (and drop). */
  private lost(): void {
    this.client = null;
    this.pending.clear();
    this.wakeWaiters();
  }

  private wakeWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private onEvent(e: EventJson): void {
    if (e.type === "IndexPrice") {
      this.stats.indexes.set(e.asset, { index: e.index, stale: e.stale, sourcesUsed: e.sourcesUsed, stepLimited: e.stepLimited });
      return;
    }
    if ((e.type !== "CommandAccepted" && e.type !== "CommandRejected") || !this.pending.delete(e.clientSeq)) return;
    if (e.type === "CommandAccepted") this.stats.accepted++;
    else this.noteReject(`${String(e.code)}: ${e.message}`);
    this.wakeWaiters();
  }

  private noteReject(text: string): void {
    this.stats.rejected++;
    this.stats.lastReject = text;
    if (this.stats.rejected <= REJECT_LINES_MAX) this.options.log(`OracleQuote refused: ${text}${this.stats.rejected === REJECT_LINES_MAX ? " (further refusals are only counted)" : ""}`);
  }
}
