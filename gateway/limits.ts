// Gateway limits (a limit on everything a client can make the server hold or do), each a named constant:
// command rates per connection, per remote address and per principal (a token bucket, reusable for any key),
// connections per address, and the memory held for events not yet written to slow sockets — per socket and
// globally, where the slowest consumer is cut first.

/** Commands one remote address may send per second over all its connections, and the burst it may save up. */
export const ADDRESS_COMMANDS_PER_SECOND = 50_000;
export const ADDRESS_COMMAND_BURST = 100_000;
/** Commands one API key may send per second over all its sessions (X6 logins), and the burst it may save up. */
export const KEY_COMMANDS_PER_SECOND = 50_000;
export const KEY_COMMAND_BURST = 100_000;
/** API keys whose rate buckets are kept (every registered key at most: gateway/auth/registry.ts API_KEYS_MAX). */
export const KEYS_TRACKED_MAX = 100_000;
/** Open WebSocket connections from one remote address; further upgrades get HTTP 429. */
export const CONNECTIONS_PER_ADDRESS_MAX = 128;
/** Remote addresses whose rate buckets are kept; idle ones (no connection) are forgotten beyond it. */
export const ADDRESSES_TRACKED_MAX = 100_000;
/** Bytes of events queued on one socket beyond which its client is behind: it is closed with a reason (1013). */
export const SESSION_UNSENT_BYTES_MAX = 16 * 1024 * 1024;
/** Bytes of events queued on all sockets together; beyond it the socket holding the most is closed first. */
export const UNSENT_EVENTS_GLOBAL_BYTES_MAX = 256 * 1024 * 1024;
/** WebSocket close codes the gateway sends (RFC 6455 §7.4.1). */
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_MESSAGE_TOO_BIG = 1009;
export const CLOSE_TRY_AGAIN_LATER = 1013;

/**
 * A token bucket: `ratePerSecond` tokens a second, at most `burst` saved. Time is the caller's wall clock in ms (the
 * gateway's own pacing, never engine state), so tests drive it.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAtMs = -1;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /** Takes one token; false when the bucket is empty (the caller refuses the action). */
  take(nowMs: number): boolean {
    if (this.refilledAtMs < 0) this.refilledAtMs = nowMs;
    if (this.tokens < 1) this.refill(nowMs);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Whether the bucket is back at its burst (nothing owed): an idle key may be forgotten. */
  isFull(nowMs: number): boolean {
    this.refill(nowMs);
    return this.tokens >= this.burst;
  }

  private refill(nowMs: number): void {
    const elapsedMs = nowMs - this.refilledAtMs;
    if (elapsedMs <= 0) return;
    const tokens = this.tokens + (elapsedMs * this.ratePerSecond) / 1000;
    this.tokens = tokens > this.burst ? this.burst : tokens;
    this.refilledAtMs = nowMs;
  }
}

/**
 * Token buckets by key (a remote address, an API key): one bucket per key, at most `keysMax` keys; when full, keys
 * whose bucket is full again are forgotten (they owe nothing), and a new key beyond that is refused.
 */
export class KeyedRateLimiter<K> {
  private readonly buckets = new Map<K, TokenBucket>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly keysMax: number,
  ) {}

  take(key: K, nowMs: number): boolean {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.keysMax && !this.forgetIdle(nowMs)) return false;
      bucket = new TokenBucket(this.ratePerSecond, this.burst);
      this.buckets.set(key, bucket);
    }
    return bucket.take(nowMs);
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Drops every bucket that is full again; true when room was made. */
  private forgetIdle(nowMs: number): boolean {
    for (const [key, bucket] of this.buckets) if (bucket.isFull(nowMs)) this.buckets.delete(key);
    return this.buckets.size < this.keysMax;
  }
}

/** Open connections by remote address, bounded per address. */
export class ConnectionCounter {
  private readonly open = new Map<string, number>();

  constructor(private readonly perAddressMax: number) {}

  /** Counts a new connection from `address`; false (nothing counted) when the address is at its maximum. */
  tryOpen(address: string): boolean {
    const n = this.open.get(address) ?? 0;
    if (n >= this.perAddressMax) return false;
    this.open.set(address, n + 1);
    return true;
  }

  close(address: string): void {
    const n = this.open.get(address) ?? 0;
    if (n <= 1) this.open.delete(address);
    else this.open.set(address, n - 1);
  }

  of(address: string): number {
    return this.open.get(address) ?? 0;
  }
}

/** A consumer of events whose unsent bytes the budget tracks (a session's socket). */
export interface UnsentConsumer {
  /** Bytes queued for this consumer and not yet written to the network. */
  bufferedAmount(): number;
  /** Closes the consumer with a reason (its queued bytes are released by the transport). */
  cut(code: number, reason: string): void;
}

/**
 * The memory held for events not yet written, per consumer and in total. After each send (and each drain) the
 * consumer's queued bytes are noted; a consumer over `perConsumerMaxBytes` is cut, and while the total is over
 * `globalMaxBytes` the consumer holding the most is cut first. A cut consumer no longer counts: the transport releases
 * its bytes as it closes.
 */
export class UnsentBudget {
  private readonly held = new Map<UnsentConsumer, number>();
  private totalBytes = 0;
  /** Consumers cut so far (behind alone, or largest while the total was over). */
  cuts = 0;
  /** The highest total noted (after cutting), for tests and operators. */
  peakBytes = 0;

  constructor(
    private readonly perConsumerMaxBytes: number,
    private readonly globalMaxBytes: number,
  ) {}

  get total(): number {
    return this.totalBytes;
  }

  /** Notes a consumer's queued bytes now (after a send or a drain) and enforces both limits. */
  note(c: UnsentConsumer): void {
    const bytes = c.bufferedAmount();
    const before = this.held.get(c) ?? 0;
    if (bytes === before) return;
    if (bytes === 0) this.held.delete(c);
    else this.held.set(c, bytes);
    this.totalBytes += bytes - before;
    if (bytes > this.perConsumerMaxBytes) {
      this.cut(c, `behind: ${bytes} bytes of events unsent (limit ${this.perConsumerMaxBytes}); reconnect and resume`);
    }
    while (this.totalBytes > this.globalMaxBytes) {
      const slowest = this.slowest();
      if (slowest === null) break;
      this.cut(slowest, `behind: slowest of all clients with ${this.held.get(slowest)} bytes unsent (server limit reached); reconnect and resume`);
    }
    if (this.totalBytes > this.peakBytes) this.peakBytes = this.totalBytes;
  }

  /** Forgets a consumer that closed. */
  forget(c: UnsentConsumer): void {
    const bytes = this.held.get(c);
    if (bytes === undefined) return;
    this.held.delete(c);
    this.totalBytes -= bytes;
  }

  private slowest(): UnsentConsumer | null {
    let worst: UnsentConsumer | null = null;
    let worstBytes = 0;
    for (const [c, bytes] of this.held) {
      if (bytes > worstBytes) {
        worst = c;
        worstBytes = bytes;
      }
    }
    return worst;
  }

  private cut(c: UnsentConsumer, reason: string): void {
    this.forget(c);
    this.cuts++;
    c.cut(CLOSE_TRY_AGAIN_LATER, reason);
  }
}
