// The load harness: a separate client process drives crossbook over real WebSocket connections with a
// market-maker-like mix (bench/load/mix.ts), closed loop (throughput) and open loop at fixed rates (latency stamped
// at the scheduled send, so a stalled server is charged for every command it delays: no coordinated omission), and
// the same client against a bare uWebSockets.js echo server in the same run for the ratio. Used by
// bench/ws.bench.ts (`npm run bench -- --filter ws.`) and by `crossbook load` (any server, --url).
//
// Every loop is bounded: each phase runs phaseSeconds (+ a bounded drain), the in-flight commands of a connection
// are bounded by STAMP_RING / 2 (beyond it the phase stops early and says so), and the run is loopback-only unless
// --url names another host.
import { spawn, type ChildProcess } from "node:child_process";
import { type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as hdr from "hdr-histogram-js";
import { apiKeyOf, generateKey, operatorKeyPath, readPrivateKeyFile, signLogin } from "../../gateway/auth/keys.ts";
import { EVENT_SIZE_PREFIX_BYTES, encodeCommand, type CommandJson, type EventFraming } from "../../gateway/client/codec.ts";
import { ByteBuffer } from "flatbuffers";
import { CommandRejected, Event, EventEnvelope, OrderRejected, RejectCode } from "../../schemas/index.ts";
import { ACCOUNTS_PER_CONNECTION, BTC_USDC_MIX, MixCursor } from "./mix.ts";
import { RawWsClient } from "./raw-ws.ts";
import { commandsDue, Pacer } from "./pacer.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const BIN = join(ROOT, "bin/crossbook.mjs");
const ECHO = join(ROOT, "bench/load/echo-server.ts");
/** Send stamps kept per connection (a power of two): at most half of it may be in flight. */
const STAMP_RING = 1 << 17;
const DRAIN_MS_MAX = 5_000;
const START_MS_MAX = 60_000;
const SETUP_MS_MAX = 60_000;
/** /proc/<pid>/stat ticks per second (USER_HZ, 100 on Linux). */
const CLOCK_TICKS_PER_SECOND = 100;
/** Loopback source addresses the connections are spread over (127.0.0.2 … 127.0.0.251). */
const LOOPBACK_SOURCES = 250;
/** The client_seq of the login frame; commands follow from 2. */
const LOGIN_SEQ = 1;
/**
 * The open loop's shortest gap between two wake-ups of the client (ms): a command due sooner than this after the
 * last wake-up leaves with the next one (at most this late), so the pacer's wake-ups stay ≤ 10k/s at any rate.
 */
const PACER_TICK_MS = 0.1;

export interface LoadOptions {
  /** Target a running server (ws://host:port) instead of spawning one; needs operatorKeyFile. */
  readonly url?: string;
  readonly operatorKeyFile?: string;
  /** First user id given keys and funds (users firstUser .. firstUser + connections − 1). */
  readonly firstUser: number;
  readonly connections: number;
  /** Closed loop: commands in flight per connection. */
  readonly inflight: number;
  /** Run the closed-loop phase (off: open-loop phases only, e.g. to profile the server at one rate). */
  readonly closed: boolean;
  /** Open loop: offered rates, commands per second over all connections. */
  readonly rates: readonly number[];
  readonly phaseSeconds: number;
  readonly warmupSeconds: number;
  /** Also measure the echo server (the floor). */
  readonly echo: boolean;
  /** Measure crossbook (off: the echo server alone, to check the client itself). */
  readonly crossbook: boolean;
  /** With url: the process id of that server when it runs on this machine, for its CPU (/proc); absent = not measured. */
  readonly serverPid?: number;
  /** Extra node arguments of the spawned server (e.g. --cpu-prof). */
  readonly serverNodeArgs: readonly string[];
  /** Extra arguments of the spawned `crossbook start` (e.g. --journal-write=inline). */
  readonly serverArgs?: readonly string[];
  /**
   * How the open loop waits for its next send: "thread" (bench/load/pacer.ts: a worker's sub-millisecond futex
   * wait, the default) or "timer" (setTimeout(0), ≥ 1 ms: the instrument before it, kept to compare the two).
   */
  readonly pacer: "thread" | "timer";
  /**
   * How crossbook puts its events into messages (gateway/sessions.ts EventFraming): "batch" (a turn's events of a
   * connection in one message, the default) or "single" (one event per message, as older clients ask). The echo
   * server echoes each command frame as it came, whatever this says.
   */
  readonly frames: EventFraming;
  readonly log: (line: string) => void;
}

export const DEFAULT_LOAD_OPTIONS: LoadOptions = {
  firstUser: 1,
  connections: 16,
  inflight: 256,
  closed: true,
  rates: [10_000, 50_000, 100_000],
  phaseSeconds: 3,
  warmupSeconds: 0.5,
  echo: true,
  crossbook: true,
  serverNodeArgs: [],
  pacer: "thread",
  frames: "batch",
  log: (line) => process.stderr.write(`${line}\n`),
};

export interface PhaseResult {
  /** closed.k16, open.10k, … */
  readonly name: string;
  readonly offeredPerSec: number | null;
  /** Acknowledgements received inside the measured window, per second. */
  readonly ackedPerSec: number;
  readonly acked: number;
  readonly rejected: number;
  /**
   * Commands refused unserved — a rate limit (RateLimited) or a saturated engine (Overloaded): counted apart, in
   * neither the throughput nor the latency — a refusal is not the command served.
   */
  readonly refused: number;
  /** Commands not acknowledged by the end of the drain after the phase. */
  readonly unacked: number;
  /** Latency from the scheduled send (open loop) or the send (closed loop), µs. */
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly meanUs: number;
  /** Latency from the real send, µs. */
  readonly realP50Us: number;
  /** Open loop: the client's own lag, each command's real send minus its scheduled time, µs (0 in a closed loop). */
  readonly sendLagP50Us: number;
  readonly sendLagP99Us: number;
  readonly sendLagP999Us: number;
  readonly serverCores: number | null;
  readonly clientCores: number;
  /** Set when the phase stopped early (too many in flight). */
  readonly note: string;
}

export interface LoadReport {
  readonly crossbook: PhaseResult[];
  readonly echo: PhaseResult[];
}

// ---------------------------------------------------------------- processes

interface Spawned {
  readonly child: ChildProcess;
  readonly url: string;
  readonly output: () => string;
}

function spawnListening(args: string[], pattern: RegExp, what: string): Promise<Spawned> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`load: ${what} did not start within ${START_MS_MAX} ms:\n${out}`));
    }, START_MS_MAX);
    const onData = (chunk: Buffer): void => {
      if (out.length < 65_536) out += chunk.toString();
      const m = pattern.exec(out);
      if (m === null) return;
      clearTimeout(timer);
      child.stdout!.off("data", onData);
      resolve({ child, url: `ws://127.0.0.1:${m[1]}/`, output: () => out });
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (c: Buffer) => {
      if (out.length < 65_536) out += c.toString();
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`load: ${what} exited (${code}) before listening:\n${out}`));
    });
  });
}

/** Stops a spawned process with SIGTERM (a graceful stop; --cpu-prof writes its profile then), SIGKILL after 15 s. */
function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** CPU seconds (user + system, all threads) of process `pid` so far; null when /proc is unavailable. */
export function processCpuSeconds(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- frames

/** client_seq (field 0 of EventEnvelope and of CommandEnvelope) of a received frame, as a number. */
function clientSeqOf(frame: Buffer): number {
  const table = frame.readUInt32LE(0);
  const vtable = table - frame.readInt32LE(table);
  if (frame.readUInt16LE(vtable) < 6) return 0;
  const field = frame.readUInt16LE(vtable + 4);
  if (field === 0) return 0;
  return frame.readUInt32LE(table + field) + frame.readUInt32LE(table + field + 4) * 4294967296;
}

/** The RejectCode of a CommandRejected or OrderRejected frame (0 for any other event type). */
export function rejectCodeOf(frame: Buffer, type: number): number {
  if (type !== Event.CommandRejected && type !== Event.OrderRejected) return 0;
  const envelope = EventEnvelope.getRootAsEventEnvelope(new ByteBuffer(frame));
  const rejected = type === Event.CommandRejected ? (envelope.event(new CommandRejected()) as CommandRejected | null) : (envelope.event(new OrderRejected()) as OrderRejected | null);
  return rejected === null ? 0 : rejected.code();
}

/** A reject that refuses the command unserved (a rate limit, a saturated engine): not an ack. */
export function isRefusal(code: number): boolean {
  return code === RejectCode.RateLimited || code === RejectCode.Overloaded;
}

/** event_type (field 3 of EventEnvelope) of a received frame. */
function eventTypeOf(frame: Buffer): number {
  const table = frame.readUInt32LE(0);
  const vtable = table - frame.readInt32LE(table);
  if (frame.readUInt16LE(vtable) < 12) return 0;
  const field = frame.readUInt16LE(vtable + 10);
  return field === 0 ? 0 : frame[table + field]!;
}

// ---------------------------------------------------------------- connections

/** One load connection: its mix, send stamps by client_seq, and what it counts for the current phase. */
export class LoadConnection {
  client!: RawWsClient;
  readonly scheduledAt = new Float64Array(STAMP_RING);
  readonly sentAt = new Float64Array(STAMP_RING);
  nextSeq = LOGIN_SEQ + 1;
  outstanding = 0;
  /** Closed loop: acks received in the current data chunk (as many commands are sent after it). */
  refill = 0;
  /** Setup requests waiting for their first event, by client_seq. */
  readonly waiters = new Map<number, (type: number) => void>();

  constructor(
    readonly cursor: MixCursor,
    readonly phase: PhaseState,
  ) {}

  onFrame(frame: Buffer): void {
    const seq = clientSeqOf(frame);
    if (seq === 0) return;
    const waiter = this.waiters.get(seq);
    if (waiter !== undefined) {
      this.waiters.delete(seq);
      waiter(this.phase.echo ? Event.CommandAccepted : eventTypeOf(frame));
      return;
    }
    const slot = seq & (STAMP_RING - 1);
    const scheduled = this.scheduledAt[slot]!;
    if (scheduled === 0) return;
    this.scheduledAt[slot] = 0;
    this.outstanding--;
    this.refill++;
    const type = this.phase.echo ? 0 : eventTypeOf(frame);
    this.phase.ack(scheduled, this.sentAt[slot]!, type, rejectCodeOf(frame, type));
  }

  /** One message of a `?frames=batch` connection: each event behind its 4-byte little-endian size, in order. */
  onBatch(message: Buffer): void {
    let at = 0;
    while (at < message.length) {
      const end = at + EVENT_SIZE_PREFIX_BYTES > message.length ? Infinity : at + EVENT_SIZE_PREFIX_BYTES + message.readUInt32LE(at);
      if (end > message.length) throw new Error(`load: a batch message's event at byte ${at} runs past its ${message.length} bytes`);
      this.onFrame(message.subarray(at + EVENT_SIZE_PREFIX_BYTES, end));
      at = end;
    }
  }

  /** Sends one setup command and resolves with the type of the first event answering it. */
  request(payload: Uint8Array): Promise<number> {
    const seq = this.nextSeq++;
    return this.requestWithSeq(seq, payload);
  }

  requestWithSeq(seq: number, payload: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`load: no answer to setup command ${seq} within ${SETUP_MS_MAX} ms`)), SETUP_MS_MAX);
      this.waiters.set(seq, (type) => {
        clearTimeout(timer);
        resolve(type);
      });
      const header = payload.length < 126 ? Uint8Array.of(0x82, 0x80 | payload.length, 0, 0, 0, 0) : Uint8Array.of(0x82, 0xfe, payload.length >>> 8, payload.length & 0xff, 0, 0, 0, 0);
      this.client.write(Buffer.concat([header, payload]));
    });
  }

  /** Writes `count` commands of the mix stamped with `scheduled` (ms, performance.now() time). */
  sendMix(count: number, scheduled: number, spacingMs: number): void {
    const out = Buffer.allocUnsafe(count * this.cursor.frameBytesMax);
    const now = performance.now();
    let at = 0;
    for (let i = 0; i < count; i++) {
      const seq = this.nextSeq++;
      const slot = seq & (STAMP_RING - 1);
      const due = spacingMs === 0 ? now : scheduled + i * spacingMs;
      this.scheduledAt[slot] = due;
      this.sentAt[slot] = now;
      if (spacingMs !== 0) this.phase.sent(due, now);
      at = this.cursor.next(out, at, seq);
    }
    this.outstanding += count;
    this.client.write(out.subarray(0, at));
  }
}

/** What one phase measures: latency histograms and counters, recording only inside its window. */
export class PhaseState {
  fromScheduled = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  fromSent = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  /** Open loop: real send minus scheduled time of each command scheduled inside the window, µs. */
  sendLag = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  measureFrom = Infinity;
  measureTo = Infinity;
  acked = 0;
  rejected = 0;
  refused = 0;

  constructor(readonly echo: boolean) {}

  reset(): void {
    this.fromScheduled.reset();
    this.fromSent.reset();
    this.sendLag.reset();
    this.measureFrom = Infinity;
    this.measureTo = Infinity;
    this.acked = 0;
    this.rejected = 0;
    this.refused = 0;
  }

  /** An open-loop command scheduled at `scheduled` left at `sentAt` (ms): its lag, if scheduled inside the window. */
  sent(scheduled: number, sentAt: number): void {
    if (scheduled < this.measureFrom || scheduled >= this.measureTo) return;
    this.sendLag.recordValue(Math.max(1, Math.round((sentAt - scheduled) * 1000)));
  }

  ack(scheduled: number, sent: number, type: number, code: number): void {
    const now = performance.now();
    // Throughput: acks received inside the window; latency: commands scheduled inside it. A rate-limit refusal is
    // neither (counted apart).
    if (isRefusal(code)) {
      if (now >= this.measureFrom && now < this.measureTo) this.refused++;
      return;
    }
    if (now >= this.measureFrom && now < this.measureTo) this.acked++;
    if (scheduled < this.measureFrom || scheduled >= this.measureTo) return;
    if (type === Event.CommandRejected || type === Event.OrderRejected) this.rejected++;
    this.fromScheduled.recordValue(Math.max(1, Math.round((now - scheduled) * 1000)));
    this.fromSent.recordValue(Math.max(1, Math.round((now - sent) * 1000)));
  }
}

/**
 * The source address of load connection `i` to a loopback server: 127.0.0.2, .3, … — each connection is a client of
 * its own address, as market makers are, so the server's per-address command limit (ADDRESS_COMMANDS_PER_SECOND, far
 * below the closed loop's rate) does not refuse most of the load as it did from 127.0.0.1 alone. Undefined (the
 * system's choice) for any other host.
 */
export function sourceAddressOf(url: string, i: number): string | undefined {
  const host = new URL(url).hostname;
  if (host !== "127.0.0.1" && host !== "localhost") return undefined;
  return `127.0.0.${2 + (i % LOOPBACK_SOURCES)}`;
}

/** Opens a connection per cursor; `frames` "batch" asks the server for several events per message (?frames=batch). */
function openConnections(url: string, cursors: MixCursor[], phase: PhaseState, frames: EventFraming): Promise<LoadConnection[]> {
  const target = frames === "batch" ? `${url.replace(/\/?$/, "/")}?frames=batch` : url;
  return Promise.all(
    cursors.map(async (cursor, i) => {
      const c = new LoadConnection(cursor, phase);
      const onMessage = frames === "batch" ? (m: Uint8Array): void => c.onBatch(m as Buffer) : (m: Uint8Array): void => c.onFrame(m as Buffer);
      c.client = await RawWsClient.open(target, onMessage, () => refillClosedLoop(c), sourceAddressOf(url, i));
      return c;
    }),
  );
}

/** Logs a connection in with `key` (client_seq 1). */
async function login(c: LoadConnection, key: KeyObject): Promise<void> {
  const type = await c.requestWithSeq(LOGIN_SEQ, encodeCommand(BigInt(LOGIN_SEQ), { type: "Login", ...signLogin(key, Date.now(), 60_000) } as CommandJson));
  if (type !== Event.CommandAccepted) throw new Error(`load: login refused (event type ${type})`);
}

async function operatorCommand(op: LoadConnection, cmd: CommandJson): Promise<void> {
  const seq = op.nextSeq;
  const type = await op.request(encodeCommand(BigInt(seq), cmd));
  if (type === Event.CommandRejected) throw new Error(`load: the server refused ${cmd.type} (${JSON.stringify(cmd)})`);
}

/** Registers one key per user and funds each of its ACCOUNTS_PER_CONNECTION accounts (USDC and BTC). */
async function fundUsers(url: string, operatorKey: KeyObject, users: readonly number[], phase: PhaseState, frames: EventFraming): Promise<KeyObject[]> {
  const [op] = await openConnections(url, [new MixCursor([0], BTC_USDC_MIX)], phase, frames);
  await login(op!, operatorKey);
  const keys: KeyObject[] = [];
  const pending: Promise<void>[] = [];
  for (const user of users) {
    const key = generateKey();
    keys.push(key);
    pending.push(operatorCommand(op!, { type: "RegisterApiKey", user, apiKey: apiKeyOf(key), permissions: 7 } as CommandJson));
    for (let sub = 0; sub < ACCOUNTS_PER_CONNECTION; sub++) {
      const account = user * 16 + sub;
      pending.push(operatorCommand(op!, { type: "Deposit", account, asset: 0, amount: "100000000" } as CommandJson));
      pending.push(operatorCommand(op!, { type: "Deposit", account, asset: 2, amount: "1000" } as CommandJson));
    }
  }
  await Promise.all(pending);
  op!.client.close();
  return keys;
}

// ---------------------------------------------------------------- phases

/** The closed loop is on while this is set: each ack is answered with a new command on its connection. */
let closedLoopOpen = false;

function refillClosedLoop(c: LoadConnection): void {
  if (c.refill === 0) return;
  const n = c.refill;
  c.refill = 0;
  if (closedLoopOpen && !c.client.closed) c.sendMix(n, 0, 0);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits (bounded) until no connection has commands in flight; returns how many are still unacknowledged. */
async function drain(conns: readonly LoadConnection[]): Promise<number> {
  const until = performance.now() + DRAIN_MS_MAX;
  let left = 0;
  do {
    left = 0;
    for (const c of conns) left += c.outstanding;
    if (left === 0) return 0;
    await sleep(5);
  } while (performance.now() < until);
  return left;
}

interface Meter {
  readonly wallMs: number;
  readonly server: number | null;
  readonly client: NodeJS.CpuUsage;
}

function meterStart(serverPid: number | undefined): Meter {
  return { wallMs: performance.now(), server: processCpuSeconds(serverPid), client: process.cpuUsage() };
}

/** Server and client CPU over a phase's window, read when the window ends (before the drain). */
interface WindowCpu {
  readonly serverCores: number | null;
  readonly clientCores: number;
}

function windowCpu(m: Meter, serverPid: number | undefined): WindowCpu {
  const seconds = (performance.now() - m.wallMs) / 1000;
  const serverNow = processCpuSeconds(serverPid);
  const client = process.cpuUsage(m.client);
  return {
    serverCores: m.server !== null && serverNow !== null ? (serverNow - m.server) / seconds : null,
    clientCores: (client.user + client.system) / 1e6 / seconds,
  };
}

/** The stamp arrays of a load connection (LoadConnection), as chargeUnacked reads them. */
export interface StampedConnection {
  readonly scheduledAt: Float64Array;
  readonly sentAt: Float64Array;
  outstanding: number;
}

/**
 * After the drain: every command of the window still unacknowledged is recorded with the time it has waited so far (a
 * lower bound of its latency), then forgotten (a later answer is not counted again). Leaving them out — as the
 * harness did, with the percentiles read before the drain too — reported the latency of the commands that got
 * through: an overloaded phase showed its fastest acks, or none at all as 0 ms. Returns how many were charged.
 */
export function chargeUnacked(conns: readonly StampedConnection[], phase: PhaseState, nowMs: number): number {
  let charged = 0;
  for (const c of conns) {
    for (let slot = 0; slot < c.scheduledAt.length; slot++) {
      const scheduled = c.scheduledAt[slot]!;
      if (scheduled === 0) continue;
      c.scheduledAt[slot] = 0;
      if (scheduled < phase.measureFrom || scheduled >= phase.measureTo) continue;
      phase.fromScheduled.recordValue(Math.max(1, Math.round((nowMs - scheduled) * 1000)));
      phase.fromSent.recordValue(Math.max(1, Math.round((nowMs - c.sentAt[slot]!) * 1000)));
      charged++;
    }
    c.outstanding = 0;
  }
  return charged;
}

/** A phase's figures: throughput and CPU over its window, latency over every command scheduled in it (drained, charged). */
function summarize(name: string, phase: PhaseState, offered: number | null, cpu: WindowCpu, unacked: number, note: string): PhaseResult {
  const windowSeconds = (phase.measureTo - phase.measureFrom) / 1000;
  const h = phase.fromScheduled;
  return {
    name,
    offeredPerSec: offered,
    ackedPerSec: phase.acked / windowSeconds,
    acked: phase.acked,
    rejected: phase.rejected,
    refused: phase.refused,
    unacked,
    p50Us: h.getValueAtPercentile(50),
    p99Us: h.getValueAtPercentile(99),
    p999Us: h.getValueAtPercentile(99.9),
    meanUs: h.mean,
    realP50Us: phase.fromSent.getValueAtPercentile(50),
    sendLagP50Us: phase.sendLag.totalCount === 0 ? 0 : phase.sendLag.getValueAtPercentile(50),
    sendLagP99Us: phase.sendLag.totalCount === 0 ? 0 : phase.sendLag.getValueAtPercentile(99),
    sendLagP999Us: phase.sendLag.totalCount === 0 ? 0 : phase.sendLag.getValueAtPercentile(99.9),
    serverCores: cpu.serverCores,
    clientCores: cpu.clientCores,
    note,
  };
}

/** Closed loop: every connection keeps `inflight` commands outstanding for the phase; throughput = acks per second. */
async function closedLoop(conns: LoadConnection[], phase: PhaseState, o: LoadOptions, serverPid: number | undefined): Promise<PhaseResult> {
  phase.reset();
  const t0 = performance.now();
  phase.measureFrom = t0 + o.warmupSeconds * 1000;
  phase.measureTo = phase.measureFrom + o.phaseSeconds * 1000;
  closedLoopOpen = true;
  for (const c of conns) c.sendMix(o.inflight, 0, 0);
  await sleep(o.warmupSeconds * 1000);
  const m = meterStart(serverPid);
  await sleep(o.phaseSeconds * 1000);
  closedLoopOpen = false;
  const cpu = windowCpu(m, serverPid);
  const unacked = await drain(conns);
  chargeUnacked(conns, phase, performance.now());
  const note = unacked > 0 ? `${unacked} commands unacknowledged ${DRAIN_MS_MAX} ms after the phase (counted with their wait)` : "";
  return summarize(`closed.k${conns.length}`, phase, null, cpu, unacked, note);
}

/** An open-loop phase's name: open.10k, … */
function openName(rate: number): string {
  return `open.${rate >= 1000 ? `${rate / 1000}k` : rate}`;
}

/** Sends open-loop commands scheduled..dueTotal−1 (command n to connection n % k, stamped t0 + n × spacing). */
function sendDue(conns: readonly LoadConnection[], perConn: Int32Array, scheduled: number, dueTotal: number, t0: number, spacingMs: number): void {
  const k = conns.length;
  perConn.fill(0);
  for (let i = scheduled; i < dueTotal; i++) perConn[i % k]!++;
  for (let j = 0; j < k; j++) {
    if (perConn[j]! > 0) conns[j]!.sendMix(perConn[j]!, t0 + (scheduled + ((j - (scheduled % k) + k) % k)) * spacingMs, spacingMs * k);
  }
}

/** The most commands in flight on one connection. */
function worstOutstanding(conns: readonly LoadConnection[]): number {
  let worst = 0;
  for (const c of conns) if (c.outstanding > worst) worst = c.outstanding;
  return worst;
}

/** What an open loop's sending part leaves for its summary. */
interface OpenSent {
  readonly meter: Meter | null;
  readonly note: string;
}

/**
 * Open loop at `rate` commands/s over all connections: command n is due at t0 + n / rate and stamped with that time
 * whenever it leaves, so client or server stalls count in full. The pacer thread (bench/load/pacer.ts) wakes the
 * client when the next command is due (no sooner than PACER_TICK_MS after the last wake-up).
 */
async function openLoop(conns: LoadConnection[], phase: PhaseState, rate: number, o: LoadOptions, serverPid: number | undefined): Promise<PhaseResult> {
  phase.reset();
  const spacingMs = 1000 / rate;
  const totalMs = (o.warmupSeconds + o.phaseSeconds) * 1000;
  const total = Math.floor((totalMs * rate) / 1000);
  const perConn = new Int32Array(conns.length);
  let scheduled = 0;
  let meter: Meter | null = null;
  let finish!: (sent: OpenSent) => void;
  const done = new Promise<OpenSent>((resolve) => (finish = resolve));
  let t0 = 0;
  const tick = (): void => {
    if (t0 === 0) return;
    const now = performance.now();
    if (meter === null && now >= phase.measureFrom) meter = meterStart(serverPid);
    const dueTotal = commandsDue(Math.min(now, phase.measureTo) - t0, spacingMs, total);
    if (dueTotal > scheduled) sendDue(conns, perConn, scheduled, dueTotal, t0, spacingMs);
    scheduled = Math.max(scheduled, dueTotal);
    const worst = worstOutstanding(conns);
    if (now >= phase.measureTo || scheduled >= total || worst >= STAMP_RING / 2) {
      const early = now < phase.measureTo && scheduled < total;
      if (early) phase.measureTo = now;
      t0 = 0;
      finish({ meter, note: early ? `stopped early: ${worst} commands in flight on one connection (the server fell behind)` : "" });
      return;
    }
    pacer.wakeAt(Math.max(t0 + scheduled * spacingMs, now + PACER_TICK_MS));
  };
  const pacer = await Pacer.start(tick);
  t0 = performance.now();
  phase.measureFrom = t0 + o.warmupSeconds * 1000;
  phase.measureTo = t0 + totalMs;
  tick();
  const sent = await done;
  await pacer.stop();
  return openLoopEnd(conns, phase, rate, serverPid, sent);
}

/** The open loop's end: CPU over the window, the drain, the unacknowledged charged with their wait. */
async function openLoopEnd(conns: LoadConnection[], phase: PhaseState, rate: number, serverPid: number | undefined, sent: OpenSent): Promise<PhaseResult> {
  const cpu = windowCpu(sent.meter ?? meterStart(serverPid), serverPid);
  const unacked = await drain(conns);
  chargeUnacked(conns, phase, performance.now());
  const note = unacked > 0 ? `${sent.note} ${unacked} unacknowledged after the drain (counted with their wait)`.trim() : sent.note;
  return summarize(openName(rate), phase, rate, cpu, unacked, note);
}

/**
 * The open loop as it was paced before the pacer thread (`--pacer timer`, to compare the instruments in one run):
 * `setTimeout(0)` between sends (≥ 1 ms), and command n sent once n + 1 were due — each command at least a spacing
 * and up to ~1 ms after its scheduled time, that lag charged to the server.
 */
async function openLoopTimer(conns: LoadConnection[], phase: PhaseState, rate: number, o: LoadOptions, serverPid: number | undefined): Promise<PhaseResult> {
  phase.reset();
  const spacingMs = 1000 / rate;
  const t0 = performance.now();
  const totalMs = (o.warmupSeconds + o.phaseSeconds) * 1000;
  phase.measureFrom = t0 + o.warmupSeconds * 1000;
  phase.measureTo = t0 + totalMs;
  let meter: Meter | null = null;
  let scheduled = 0;
  let note = "";
  const perConn = new Int32Array(conns.length);
  while (true) {
    const now = performance.now();
    if (meter === null && now >= phase.measureFrom) meter = meterStart(serverPid);
    const dueTotal = Math.min(Math.floor(((Math.min(now, phase.measureTo) - t0) * rate) / 1000), Math.floor((totalMs * rate) / 1000));
    if (dueTotal > scheduled) sendDue(conns, perConn, scheduled, dueTotal, t0, spacingMs);
    scheduled = Math.max(scheduled, dueTotal);
    if (now >= phase.measureTo) break;
    const worst = worstOutstanding(conns);
    if (worst >= STAMP_RING / 2) {
      note = `stopped early: ${worst} commands in flight on one connection (the server fell behind)`;
      phase.measureTo = now;
      break;
    }
    await sleep(0);
  }
  return openLoopEnd(conns, phase, rate, serverPid, { meter, note });
}

async function runPhases(conns: LoadConnection[], phase: PhaseState, o: LoadOptions, serverPid: number | undefined, label: string): Promise<PhaseResult[]> {
  const results: PhaseResult[] = [];
  if (o.closed) {
    results.push(await closedLoop(conns, phase, o, serverPid));
    o.log(`${label} ${describe(results[results.length - 1]!)}`);
  }
  for (const rate of o.rates) {
    results.push(await (o.pacer === "timer" ? openLoopTimer : openLoop)(conns, phase, rate, o, serverPid));
    o.log(`${label} ${describe(results[results.length - 1]!)}`);
  }
  return results;
}

export function describe(r: PhaseResult): string {
  const cores = r.serverCores === null ? "" : ` server ${r.serverCores.toFixed(2)} cores,`;
  const ms = (us: number): string => (us / 1000).toFixed(2);
  return (
    `${r.name}: ${(r.ackedPerSec / 1000).toFixed(1)}k acked/s, p50/p99/p99.9 ${ms(r.p50Us)}/${ms(r.p99Us)}/${ms(r.p999Us)} ms ` +
    `(from real send p50 ${ms(r.realP50Us)} ms${r.offeredPerSec === null ? "" : `; send lag p50/p99/p99.9 ${ms(r.sendLagP50Us)}/${ms(r.sendLagP99Us)}/${ms(r.sendLagP999Us)} ms`}),${cores} client ${r.clientCores.toFixed(2)} cores, ${r.rejected} rejected${r.refused > 0 ? `, ${r.refused} refused (rate limit or overloaded, not counted)` : ""}${r.note === "" ? "" : `; ${r.note}`}`
  );
}

// ---------------------------------------------------------------- runs

function cursorsFor(users: readonly number[]): MixCursor[] {
  return users.map((user) => {
    const accounts: number[] = [];
    for (let sub = 0; sub < ACCOUNTS_PER_CONNECTION; sub++) accounts.push(user * 16 + sub);
    return new MixCursor(accounts, BTC_USDC_MIX);
  });
}

/** Spawns `crossbook start` on a temp data dir and a free loopback port (or uses o.url), funds, logs in, runs the phases. */
async function runCrossbook(o: LoadOptions): Promise<PhaseResult[]> {
  let server: Spawned | null = null;
  let dataDir: string | null = null;
  try {
    let url = o.url;
    let operatorKeyFile = o.operatorKeyFile;
    if (url === undefined) {
      dataDir = mkdtempSync(join(tmpdir(), "crossbook-load-"));
      server = await spawnListening([...o.serverNodeArgs, BIN, "start", "--port", "0", "--data", dataDir, ...(o.serverArgs ?? [])], /listening on ws:\/\/127\.0\.0\.1:(\d+)/, "crossbook start");
      url = server.url;
      operatorKeyFile = operatorKeyPath(dataDir);
    }
    if (operatorKeyFile === undefined) throw new Error("load: --url needs the operator key (--operator-key FILE) to fund the load accounts");
    const phase = new PhaseState(false);
    const users: number[] = [];
    for (let i = 0; i < o.connections; i++) users.push(o.firstUser + i);
    const keys = await fundUsers(url, readPrivateKeyFile(operatorKeyFile), users, phase, o.frames);
    const conns = await openConnections(url, cursorsFor(users), phase, o.frames);
    await Promise.all(conns.map((c, i) => login(c, keys[i]!)));
    o.log(`load: ${conns.length} connections logged in to ${url}, ${conns.length * ACCOUNTS_PER_CONNECTION} funded accounts`);
    const results = await runPhases(conns, phase, o, server?.child.pid ?? o.serverPid, "crossbook");
    for (const c of conns) c.client.close();
    return results;
  } finally {
    if (server !== null) await stopProcess(server.child);
    if (dataDir !== null) rmSync(dataDir, { recursive: true, force: true });
  }
}

async function runEcho(o: LoadOptions): Promise<PhaseResult[]> {
  const echo = await spawnListening(["--import", "tsx", ECHO], /echo listening on ws:\/\/127\.0\.0\.1:(\d+)/, "echo server");
  try {
    const phase = new PhaseState(true);
    const users: number[] = [];
    for (let i = 0; i < o.connections; i++) users.push(o.firstUser + i);
    const conns = await openConnections(echo.url, cursorsFor(users), phase, "single");
    const results = await runPhases(conns, phase, o, echo.child.pid, "echo");
    for (const c of conns) c.client.close();
    return results;
  } finally {
    await stopProcess(echo.child);
  }
}

export async function runLoad(o: LoadOptions): Promise<LoadReport> {
  const crossbook = o.crossbook ? await runCrossbook(o) : [];
  const echo = o.echo ? await runEcho(o) : [];
  return { crossbook, echo };
}

// ---------------------------------------------------------------- the plot

const SVG_W = 720;
const SVG_H = 420;
const PLOT = { left: 70, right: 170, top: 40, bottom: 60 };

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * A hand-written SVG: p50 / p99 / p99.9 latency (ms, log scale) of the open-loop phases against the offered rate,
 * crossbook solid and the echo server dashed. Returns the SVG text.
 */
export function latencySvg(report: LoadReport, title: string): string {
  const open = (rs: PhaseResult[]): PhaseResult[] => rs.filter((r) => r.offeredPerSec !== null);
  const series = [...open(report.crossbook), ...open(report.echo)];
  const rates = [...new Set(series.map((r) => r.offeredPerSec!))].sort((a, b) => a - b);
  const values = series.flatMap((r) => [r.p50Us, r.p99Us, r.p999Us]).filter((v) => v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.max(1, Math.min(...values, 1000)) / 1000)));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values, 1000) / 1000)));
  const w = SVG_W - PLOT.left - PLOT.right;
  const h = SVG_H - PLOT.top - PLOT.bottom;
  const x = (rate: number): number => PLOT.left + (rates.length <= 1 ? w / 2 : (rates.indexOf(rate) * w) / (rates.length - 1));
  const y = (us: number): number => PLOT.top + h - ((Math.log10(Math.max(us / 1000, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * h;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${SVG_W}" height="${SVG_H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="${PLOT.left}" y="22" font-size="14">${escapeXml(title)}</text>`);
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    out.push(`<line x1="${PLOT.left}" x2="${PLOT.left + w}" y1="${y(d * 1000)}" y2="${y(d * 1000)}" stroke="#ddd"/>`);
    out.push(`<text x="${PLOT.left - 8}" y="${y(d * 1000) + 4}" text-anchor="end">${d} ms</text>`);
  }
  for (const r of rates) out.push(`<text x="${x(r)}" y="${PLOT.top + h + 20}" text-anchor="middle">${r / 1000}k/s</text>`);
  out.push(`<text x="${PLOT.left + w / 2}" y="${SVG_H - 15}" text-anchor="middle">offered rate (open loop, latency from the scheduled send)</text>`);
  const colors = ["#1f77b4", "#ff7f0e", "#d62728"];
  const pick: ((r: PhaseResult) => number)[] = [(r) => r.p50Us, (r) => r.p99Us, (r) => r.p999Us];
  const names = ["p50", "p99", "p99.9"];
  let legend = PLOT.top;
  for (const [label, rs, dash] of [["crossbook", open(report.crossbook), ""], ["uWS echo", open(report.echo), ` stroke-dasharray="6 4"`]] as const) {
    for (let q = 0; q < 3; q++) {
      if (rs.length === 0) continue;
      const points = rs.map((r) => `${x(r.offeredPerSec!).toFixed(1)},${y(pick[q]!(r)).toFixed(1)}`).join(" ");
      out.push(`<polyline fill="none" stroke="${colors[q]}" stroke-width="2"${dash} points="${points}"/>`);
      for (const r of rs) out.push(`<circle cx="${x(r.offeredPerSec!).toFixed(1)}" cy="${y(pick[q]!(r)).toFixed(1)}" r="3" fill="${colors[q]}"/>`);
      out.push(`<line x1="${SVG_W - PLOT.right + 15}" x2="${SVG_W - PLOT.right + 45}" y1="${legend}" y2="${legend}" stroke="${colors[q]}" stroke-width="2"${dash}/>`);
      out.push(`<text x="${SVG_W - PLOT.right + 50}" y="${legend + 4}">${label} ${names[q]}</text>`);
      legend += 18;
    }
  }
  out.push(`</svg>`);
  return `${out.join("\n")}\n`;
}
