// Issue 15's in-process compare of the gateway thread's event path, for two checkouts: the load harness's mix of
// events (per 100 commands: 48 placements — OrderAccepted, Balance —, 43 cancels — OrderDone, Balance —, 4 refused
// cancels — OrderRejected "UnknownOrder: no such open order" —, 5 crossing IOCs — OrderAccepted, Fill, two Balances
// per side, OrderDone), written once into event records of the ring layout, then per event what ServerCore.onEvent
// does on the real path: the drain's read (EventRecordReader where the build has it, else readEvent), AccountView
// .apply, AccountEventLog.record (as onEvent calls it), SessionRegistry.dispatch to the account's watcher with the
// command's client_seq, and the batched sockets ("batch" framing) flushed every 64 events. 64 accounts, 16 sessions.
// Both builds run in this one process, in rounds that alternate (which goes first swaps each pair), so the machine's
// load falls on both alike; timed by process CPU.
//   node --import tsx bench/gateway-cpu-compare.ts --base DIR [--pairs N]
// With --alloc (run it under node --max-semi-space-size=1 --min-semi-space-size=1) it prints instead one build's
// young-generation bytes per event (scavenges × 1 MB ÷ events; the --base build's when given, else this one's): the
// allocation the path makes, not timed.
import { pathToFileURL } from "node:url";
import { PerformanceObserver, constants } from "node:perf_hooks";
import { parseArgs } from "node:util";
import type { EventRecord } from "../engine/model/index.ts";

const ACCOUNTS = 64;
const SESSIONS = 16;
const FLUSH_EVERY = 64;
const ROUND_EVENTS = 100_000;
const WARMUP_EVENTS = 600_000;
const MIX_COMMANDS = 2000;

/** One build's modules, loaded from its checkout. */
interface Build {
  readonly label: string;
  readonly run: (events: number) => number;
}

type Fields = Partial<Record<keyof EventRecord, unknown>>;

/** The mix's events as plain field sets (each build makes its own records from them). */
function mixEvents(): { kind: string; account: number; fields: Fields }[] {
  const out: { kind: string; account: number; fields: Fields }[] = [];
  let orderId = 7_000_000;
  for (let c = 0; c < MIX_COMMANDS; c++) {
    const seq = 1_000_001 + c;
    const account = 1000 + (c % ACCOUNTS);
    const r = c % 100;
    const price = 60_000_000_000_000n + BigInt(c % 50) * 1_000_000n;
    const add = (kind: string, a: number, f: Fields): void => void out.push({ kind, account: a, fields: { seq, market: 0, ...f } });
    if (r < 48) {
      add("OrderAccepted", account, { marketSeq: 500_000 + c, orderId: ++orderId, clientId: BigInt(c + 1), side: c & 1, price, quantity: 1_000_000n });
      add("Balance", account, { asset: c & 1, available: 100_000_000_000n - BigInt(c), locked: 60_000_000n });
    } else if (r < 91) {
      add("OrderDone", account, { marketSeq: 500_000 + c, orderId: orderId - 3, clientId: BigInt(c - 2), side: c & 1, code: 1 });
      add("Balance", account, { asset: c & 1, available: 100_000_000_000n + BigInt(c), locked: 0n });
    } else if (r < 95) {
      add("OrderRejected", account, { orderId: 0, clientId: BigInt(c - 5), side: c & 1, code: 19, message: "UnknownOrder: no such open order" });
    } else {
      const maker = 1000 + ((c + 7) % ACCOUNTS);
      add("OrderAccepted", account, { marketSeq: 500_000 + c, orderId: ++orderId, clientId: BigInt(c + 1), side: 0, price, quantity: 1_000_000n });
      add("Fill", account, { marketSeq: 500_001 + c, orderId, makerAccount: maker, makerOrderId: orderId - 9, tradeId: c, price, quantity: 1_000_000n, takerFee: 100n, makerFee: 50n, clientId: BigInt(c + 1), makerClientId: 5n });
      for (const [a, asset] of [[account, 0], [account, 1], [maker, 0], [maker, 1]] as const) add("Balance", a, { asset, available: 5_000_000_000n + BigInt(asset), locked: 0n });
      add("OrderDone", account, { marketSeq: 500_002 + c, orderId, clientId: BigInt(c + 1), side: 0, code: 2 });
    }
  }
  return out;
}

/** The build in `dir`: its event path over the mix written into ring records. */
async function load(dir: string, label: string): Promise<Build> {
  const from = (path: string): Promise<Record<string, any>> => import(pathToFileURL(`${dir}/${path}`).href);
  const model = await from("engine/model/index.ts");
  const layout = await from("engine/model/record-layout.ts");
  const { loadConfig } = await from("engine/pipeline/index.ts");
  const catchUp = await from("gateway/account-catch-up.ts");
  const sessions = await from("gateway/sessions.ts");
  const config = loadConfig();
  const recordBytes: number = layout.EVENT_RECORD_BYTES;
  const mix = mixEvents();
  const views = layout.viewsOf(new SharedArrayBuffer(mix.length * recordBytes));
  mix.forEach((m, i) => {
    const e = new model.EventRecord();
    Object.assign(e, { kind: model.EventKind[m.kind], account: m.account }, m.fields);
    layout.writeEvent(views, i * recordBytes, e);
  });
  const view = new catchUp.AccountView(config);
  const log = new catchUp.AccountEventLog(config);
  const registry = new sessions.SessionRegistry(config);
  const flusher = new sessions.OutboxFlusher();
  const ws = { send: (): void => {}, cork: (write: () => void): void => write(), getBufferedAmount: (): number => 0, end: (): void => {} };
  const sockets: { flush(): void }[] = [];
  const open: unknown[] = [];
  for (let s = 0; s < SESSIONS; s++) {
    const socket = new sessions.BatchedSocket(ws, flusher, "batch");
    sockets.push(socket);
    open.push(registry.open(socket, false));
  }
  for (let a = 0; a < ACCOUNTS; a++) {
    registry.watch(open[a % SESSIONS], 1000 + a);
    log.track(1000 + a, 0);
  }
  const clientSeqs = Array.from({ length: 1024 }, (_, k) => BigInt(k + 2) * 1_000_000_000_000n);
  // The drain's reader (ThreadedPipeline.drainEvents) where the build has one, else readEvent into one record.
  const reader = layout.EventRecordReader === undefined ? null : new layout.EventRecordReader();
  const record = new model.EventRecord();
  const run = (events: number): number => {
    const started = process.cpuUsage();
    for (let i = 0; i < events; i++) {
      let e = record;
      if (reader === null) layout.readEvent(views, (i % mix.length) * recordBytes, e);
      else e = reader.read(views, (i % mix.length) * recordBytes);
      view.apply(e);
      log.record(e, e.seq === 0); // as ServerCore.onEvent (a build whose record takes one argument ignores it)
      registry.dispatch(e, open[(e.account - 1000) % SESSIONS], e.account, clientSeqs[i & 1023], log.plainFrame, log.makerFrame);
      if (i % FLUSH_EVERY === FLUSH_EVERY - 1) for (const s of sockets) s.flush();
    }
    for (const s of sockets) s.flush();
    const cpu = process.cpuUsage(started);
    return ((cpu.user + cpu.system) * 1000) / events;
  };
  return { label, run };
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
}

async function youngBytesPerEvent(build: Build): Promise<number> {
  build.run(WARMUP_EVENTS);
  let scavenges = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) if ((entry as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
  });
  observer.observe({ entryTypes: ["gc"] });
  const events = 20 * ROUND_EVENTS;
  build.run(events);
  await new Promise((r) => setTimeout(r, 50));
  observer.disconnect();
  return (scavenges * 1024 * 1024) / events;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { base: { type: "string" }, pairs: { type: "string" }, alloc: { type: "boolean", default: false } } });
  const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  if (values.alloc) {
    // The base's build with --base, else this one: one build per process (the other's allocation would count too).
    const dir = values.base ?? here;
    console.log(`${dir}: ~${(await youngBytesPerEvent(await load(dir, dir))).toFixed(0)} young bytes per event (scavenges × 1 MB: run under --max-semi-space-size=1 --min-semi-space-size=1)`);
    return;
  }
  const head = await load(here, "this build");
  if (values.base === undefined) throw new Error("usage: node --import tsx bench/gateway-cpu-compare.ts --base DIR [--pairs N] | --alloc");
  const base = await load(values.base, `base ${values.base}`);
  const pairs = Number(values.pairs ?? 21);
  head.run(WARMUP_EVENTS);
  base.run(WARMUP_EVENTS);
  const ns: Record<string, number[]> = { head: [], base: [] };
  for (let p = 0; p < pairs; p++) {
    const order = p % 2 === 0 ? (["head", "base"] as const) : (["base", "head"] as const);
    for (const which of order) ns[which]!.push((which === "head" ? head : base).run(ROUND_EVENTS));
  }
  const ratios = ns.head!.map((h, i) => h / ns.base![i]!);
  for (const [which, b] of [["head", head], ["base", base]] as const) {
    console.log(`${b.label}: CPU ns/event ${ns[which]!.map((x) => x.toFixed(0)).join(" ")}; median ${median(ns[which]!).toFixed(0)}`);
  }
  console.log(`this build ÷ base: median of the ${pairs} pairs' ratios ${median(ratios).toFixed(3)}`);
}

await main();
