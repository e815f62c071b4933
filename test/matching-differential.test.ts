// Differential test: MatchingShard against the naive ReferenceShard on random command streams over every order type
// (O1–O8, X3). Both must publish identical events and market data, and end with identical books; the engine's
// invariants are checked after every command and its state hash must be reproducible by replay.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MatchingShard, type MatchingLimits } from "../engine/matching/index.ts";
import {
  ALL_MARKETS,
  CommandKind,
  CommandRecord,
  DoneReason,
  EventKind,
  OrderFlag,
  RejectCode,
  type EventRecord,
  type EventSink,
} from "../engine/model/index.ts";
import { copyEvent, P, PERP, Q, R, RecordingMdSink, SPOT, testConfig, U, type Ev, type MdCall } from "./matching-helpers.ts";
import { ReferenceShard } from "./reference-book.ts";

// Tight bands so that every band, filter and limit is reached by prices within ±40 ticks of 100.00.
const CONFIG = testConfig({
  minNotional: U("0.15"),
  priceBand: { minMultiplier: R("0.9975"), maxMultiplier: R("1.0025") },
  impactBand: { minMultiplier: R("0.999"), maxMultiplier: R("1.001") },
  meanMarkBand: { minMultiplier: R("0.998"), maxMultiplier: R("1.002") },
});
// The perpetual's open interest limit is reached now and then by the streams' positions (P1 at fill time).
const CONFIG_PERP = { ...CONFIG, markets: CONFIG.markets.map((m) => (m.id === PERP ? { ...m, premiumTolerance: R("0.001"), openInterestLimit: Q("0.05") } : m)) };
const LIMITS: Partial<MatchingLimits> = {
  maxOpenOrdersPerAccountMarket: 6,
  maxOrdersPerBook: 20,
  maxLevelsPerSide: 8,
  initialOrderCapacity: 16,
  initialLevelCapacity: 16,
};
const MARKETS = [SPOT, PERP];

type Raw = readonly [number, number, number, number, number, number];

const rawCommand: fc.Arbitrary<Raw> = fc.tuple(
  fc.noBias(fc.nat(999)),
  fc.noBias(fc.nat()),
  fc.noBias(fc.nat()),
  fc.noBias(fc.nat()),
  fc.noBias(fc.nat()),
  fc.noBias(fc.nat()),
);

const BASE_TICK = 10_000; // 100.00
const TICK = P("0.01");

/** What the generator knows of the books (from the engine's own events), to aim commands where things happen. */
interface StreamState {
  /** Resting orders per market index: [order id, account, price]. */
  live: [number, number, bigint][][];
  /** Mid price in ticks per market index. */
  mid: number[];
  state: number[];
  timeMs: number;
}

/**
 * Turns six random integers into one command. Prices cluster around the current mid (buys a little higher, sells a
 * little lower, so that orders cross often); most cancels and replaces address a live order.
 */
function decode(raw: Raw, seq: number, st: StreamState, c: CommandRecord): void {
  const [op, a, b, d, e, f] = raw;
  c.clear();
  c.seq = seq;
  c.account = 1 + (a % 4);
  const mi = (a >>> 3) % 2;
  c.market = MARKETS[mi]!;
  if ((a >>> 5) % 200 === 0) c.market = 5; // unknown market
  const side = (b >>> 8) & 1;
  const priceTick = st.mid[mi]! + ((b % 41) - 20) + (side === 0 ? 3 : -3);
  const price = BigInt(Math.max(1, priceTick)) * TICK;
  const qty = BigInt(1 + (d % 20)) * Q("0.001");
  const clientId = (e & 3) === 0 ? BigInt(1 + ((e >>> 2) % 5)) : 0n;
  const live = st.live[mi]!;
  const hit = (f >>> 20) % 5 !== 0 && live.length > 0 ? live[f % live.length]! : null;
  const target = hit !== null ? hit[0] : Math.max(1, seq - 1 - (f % 40));
  const targetAccount = hit !== null && (f >>> 24) % 10 !== 0 ? hit[1] : c.account;
  if (op < 560) {
    c.kind = CommandKind.PlaceOrder;
    c.side = side;
    c.price = price;
    c.quantity = qty;
    c.clientId = clientId;
    c.stp = (e >>> 5) % 4;
    const kind = op % 28;
    if (kind < 12) c.tif = 0; // GTC limit
    else if (kind < 15) c.tif = 1; // IOC limit
    else if (kind < 17) c.tif = 2; // FOK limit
    else if (kind < 19) c.flags = OrderFlag.PostOnly;
    else if (kind < 24) {
      c.orderType = 1; // market
      c.price = 0n;
      c.tif = (f >>> 7) % 3;
      const how = (f >>> 10) % 4;
      if (side === 0 && how === 1) {
        c.quantity = 0n;
        c.quoteQuantity = BigInt(50_000 + ((f >>> 12) % 3_000_000));
      } else if (side === 0 && how === 2) {
        c.quoteQuantity = BigInt(50_000 + ((f >>> 12) % 3_000_000));
      }
    } else if (kind < 27) {
      c.flags = OrderFlag.ReduceOnly;
      c.market = PERP;
      c.tif = (f >>> 7) % 3;
      if ((f >>> 21) % 3 === 0) {
        c.orderType = 1;
        c.price = 0n;
      }
    } else {
      // Malformed or filter-breaking variants.
      switch ((f >>> 3) % 10) {
        case 0: c.price += 1n; break; // TickSize
        case 1: c.quantity += 1n; break; // StepSize
        case 2: c.quantity = 0n; break;
        case 3: c.price = 0n; break;
        case 4: c.quantity = Q("0.001"); break; // MinNotional at this price (0.1 USDC)
        case 5: c.quantity = Q("2000"); break; // MaxQuantity
        case 6: c.tif = 7; break;
        case 7: c.price = P("2000000"); break; // MaxPrice
        case 8: c.price = BigInt(st.mid[mi]! + (side === 0 ? 60 : -60)) * TICK; break; // PriceBand
        default: c.flags = OrderFlag.PostOnly; c.tif = 1; break;
      }
    }
  } else if (op < 700) {
    c.kind = CommandKind.CancelOrder;
    c.orderId = target;
    c.account = targetAccount;
    if ((e >>> 7) % 4 === 0) {
      c.flags = OrderFlag.ByClientId;
      c.clientId = BigInt(1 + ((e >>> 9) % 5));
    }
  } else if (op < 860) {
    c.kind = CommandKind.ReplaceOrder;
    c.orderId = target;
    c.account = targetAccount;
    const how = (e >>> 11) % 5;
    c.price = how === 0 ? BigInt(st.mid[mi]! + ((f % 41) - 20)) * TICK : how < 3 && hit !== null ? hit[2] : price;
    c.quantity = qty;
    if ((e >>> 7) % 5 === 0) {
      c.flags = OrderFlag.ByClientId;
      c.clientId = BigInt(1 + ((e >>> 9) % 5));
    }
    if ((e >>> 13) % 25 === 0) c.price += 1n;
  } else if (op < 885) {
    c.kind = CommandKind.CancelAll;
    if ((e >>> 3) % 4 === 0) c.market = ALL_MARKETS;
  } else if (op < 925) {
    c.kind = CommandKind.SetMarketState;
    const r = (e >>> 3) % 20;
    if (st.state[mi] !== 0) c.marketState = r < 19 ? 0 : 1 + (r % 4);
    else c.marketState = r < 16 ? 0 : r < 19 ? 1 + (r % 4) : 5; // 5 = invalid
  } else if (op < 955) {
    c.kind = CommandKind.MarketBandInputs;
    c.price = BigInt(st.mid[mi]! + ((e % 51) - 25)) * TICK + BigInt((e >>> 8) % 7) * 1000n;
    c.meanPremium = BigInt((f % 41) - 20) * R("0.0001");
    c.indexPrice = (f >>> 8) % 2 === 0 ? 0n : BigInt(st.mid[mi]! + (((f >>> 9) % 41) - 20)) * TICK;
    if ((f >>> 15) % 40 === 0) c.price = 0n;
  } else if (op < 995) {
    c.kind = CommandKind.AdvanceTime;
    const r = (e >>> 4) % 40;
    c.timeMs = st.timeMs + (r === 0 ? 25 * 3_600_000 : r < 20 ? e % 180_000 : e % 14_400_000);
  } else {
    c.kind = 99 as CommandKind; // unknown command
  }
}

/** Updates the generator's view from the engine's events and book after one command. */
function observe(st: StreamState, c: CommandRecord, events: readonly Ev[], engine: MatchingShard): void {
  for (const ev of events) {
    const mi = MARKETS.indexOf(ev.market);
    if (mi < 0) continue;
    if (ev.kind === EventKind.OrderAccepted) st.live[mi]!.push([ev.orderId, ev.account, ev.price]);
    else if (ev.kind === EventKind.OrderDone) {
      const l = st.live[mi]!;
      const i = l.findIndex((x) => x[0] === ev.orderId);
      if (i >= 0) l.splice(i, 1);
    } else if (ev.kind === EventKind.CommandAccepted && c.kind === CommandKind.SetMarketState) st.state[mi] = c.marketState;
  }
  if (c.kind === CommandKind.AdvanceTime) st.timeMs = Math.max(st.timeMs, c.timeMs);
  for (let mi = 0; mi < MARKETS.length; mi++) {
    const d = engine.depthSnapshot(MARKETS[mi]!, 1);
    const bid = d.bids[0] ? Number(d.bids[0].price / TICK) : 0;
    const ask = d.asks[0] ? Number(d.asks[0].price / TICK) : 0;
    if (bid > 0 && ask > 0) st.mid[mi] = Math.floor((bid + ask) / 2);
    else if (bid > 0) st.mid[mi] = bid + 2;
    else if (ask > 0) st.mid[mi] = ask - 2;
    // Keep the market near 100.00 so the configured filters stay meaningful.
    if (st.mid[mi]! < BASE_TICK - 300) st.mid[mi] = BASE_TICK - 300;
    if (st.mid[mi]! > BASE_TICK + 300) st.mid[mi] = BASE_TICK + 300;
  }
}

class Collect implements EventSink {
  events: Ev[] = [];
  publish(e: EventRecord): void {
    this.events.push(copyEvent(e));
  }
}

function show(x: unknown): string {
  return JSON.stringify(x, (_k, v) => (typeof v === "bigint" ? `${v}n` : v));
}

function sameList<T>(what: string, i: number, got: readonly T[], want: readonly T[], raw: Raw): void {
  const a = show(got);
  const b = show(want);
  if (a !== b) throw new Error(`command #${i} ${show(raw)}: ${what} differ\n engine:    ${a}\n reference: ${b}`);
}

/** Runs one stream through both; throws on the first difference. Returns the engine for further checks. */
function runBoth(raws: readonly Raw[], windowBits = 5): { engine: MatchingShard; cmds: CommandRecord[] } {
  const engine = new MatchingShard(CONFIG_PERP, MARKETS, { limits: { ...LIMITS, ladderWindowBits: windowBits } });
  const ref = new ReferenceShard(CONFIG_PERP, MARKETS, { limits: LIMITS });
  const mdE = new RecordingMdSink();
  const mdR = new RecordingMdSink();
  engine.setMarketDataSink(mdE);
  ref.setMarketDataSink(mdR);
  const sE = new Collect();
  const sR = new Collect();
  const cmds: CommandRecord[] = [];
  const st: StreamState = { live: [[], []], mid: [BASE_TICK, BASE_TICK], state: [0, 0], timeMs: 1_700_000_000_000 };
  engine.setTime(st.timeMs);
  ref.setTime(st.timeMs);
  for (let i = 0; i < raws.length; i++) {
    const c = new CommandRecord();
    decode(raws[i]!, i + 1, st, c);
    cmds.push(c);
    sE.events = [];
    sR.events = [];
    mdE.calls.length = 0;
    mdR.calls.length = 0;
    engine.handle(c, sE);
    engine.validateInternalState();
    ref.handle(c, sR);
    sameList("events", i, sE.events, sR.events, raws[i]!);
    sameList<MdCall>("market data", i, mdE.calls, mdR.calls, raws[i]!);
    for (const ev of sE.events) tally(ev);
    observe(st, c, sE.events, engine);
  }
  for (const m of MARKETS) {
    sameList("final book", raws.length, engine.bookOrders(m), ref.bookOrders(m), [0, 0, 0, 0, 0, 0]);
    sameList("depth", raws.length, [engine.depthSnapshot(m, 1000)], [ref.depthSnapshot(m, 1000)], [0, 0, 0, 0, 0, 0]);
    sameList("ticker", raws.length, [engine.ticker(m)], [ref.ticker(m)], [0, 0, 0, 0, 0, 0]);
  }
  return { engine, cmds };
}

/** X4-style: replaying the same commands into a fresh shard (no market-data sink) gives the same state hash. */
function replayHash(cmds: readonly CommandRecord[]): string {
  const s = new MatchingShard(CONFIG_PERP, MARKETS, { limits: LIMITS });
  s.setTime(1_700_000_000_000);
  const sink: EventSink = { publish() {} };
  for (const c of cmds) s.handle(c, sink);
  return s.stateHash();
}

const stream = fc.array(rawCommand, { minLength: 300, maxLength: 500 });
/** What the streams reached: "Done:<reason>", "Reject:<code>", "Fill", … — the generator must reach every rule. */
const seen = new Map<string, number>();
function tally(e: Ev): void {
  const k = e.kind === EventKind.OrderDone ? `Done:${e.code}` : e.kind === EventKind.OrderRejected || e.kind === EventKind.CommandRejected ? `Reject:${e.code}` : `Kind:${e.kind}`;
  seen.set(k, (seen.get(k) ?? 0) + 1);
}
let commandsRun = 0;
let runs = 0;
/** fast-check's interrupt for one property; each test's own timeout sits above it. */
const DIFFERENTIAL_TIME_LIMIT_MS = 240_000;
const DIFFERENTIAL_TEST_TIMEOUT_MS = DIFFERENTIAL_TIME_LIMIT_MS + 60_000;

/** fc.check with a compact report: seed, path, stream length and the first difference (not the whole stream). */
function check(prop: fc.IProperty<[Raw[]]>, params: fc.Parameters<[Raw[]]>): void {
  // Shrinking a long stream can take minutes: stop after 240 s and report the smallest failure found by then. The
  // limit also stops passing runs, so it sits far above a loaded machine's run time (23 s quiet, ~100 s at load 40):
  // the fixed-seed test then still reaches its 100k commands instead of failing on the clock.
  const out = fc.check(prop, { ...params, interruptAfterTimeLimit: DIFFERENTIAL_TIME_LIMIT_MS, markInterruptAsFailure: false });
  if (!out.failed) return;
  const err = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
  const n = out.counterexample?.[0].length ?? 0;
  throw new Error(`seed ${out.seed}, path "${out.counterexamplePath}", shrunk stream of ${n} commands:\n${err.slice(0, 6000)}`);
}

describe("matching: differential against the reference book", () => {
  it("O1–O8, X3: identical events, market data and final books on 100k+ random commands (fixed seed)", () => {
    check(
      fc.property(stream, (raws) => {
        // Tiny price windows push levels into the ladder's overflow and force re-centring; 11 bits keeps them inside.
        const { engine, cmds } = runBoth(raws, [5, 6, 11][runs % 3]);
        commandsRun += raws.length;
        if (++runs % 8 === 0) expect(replayHash(cmds)).toBe(engine.stateHash());
      }),
      { seed: 20_260_611, numRuns: 260 },
    );
    expect(commandsRun).toBeGreaterThanOrEqual(100_000);
    const missing: string[] = [];
    // DoneReason Liquidation comes only from the engine's own CancelAll (Q2, seq 0), never from a client's stream: it
    // is tested in test/liquidation-book.test.ts.
    for (const [name, code] of Object.entries(DoneReason)) if (code !== DoneReason.Liquidation && !seen.has(`Done:${code}`)) missing.push(`Done ${name}`);
    const rejects = ["InvalidField", "MarketStateForbids", "InvalidPrice", "TickSize", "MaxPrice", "InvalidQuantity", "StepSize",
      "MaxQuantity", "MinNotional", "DuplicateClientId", "TooManyOpenOrders", "Overloaded", "ReduceOnlyNotReducing",
      "PriceBand", "PostOnlyWouldTake", "UnknownOrder", "UnknownMarket", "UnknownCommand", "InvalidPrice"] as const;
    for (const r of rejects) if (!seen.has(`Reject:${RejectCode[r]}`)) missing.push(`Reject ${r}`);
    console.log(`differential: ${commandsRun} commands in ${runs} streams; outcomes: ${[...seen].map(([k, v]) => `${k}=${v}`).join(" ")}`);
    expect(missing).toEqual([]);
  }, DIFFERENTIAL_TEST_TIMEOUT_MS);

  it("O1–O8, X3: identical behaviour on a random seed (the seed is printed on failure)", () => {
    check(
      fc.property(stream, (raws) => {
        runBoth(raws);
      }),
      { seed: (Math.random() * 2 ** 31) | 0, numRuns: 30 },
    );
  }, DIFFERENTIAL_TEST_TIMEOUT_MS);

  it("X4: the state hash is a function of the command stream (replay with and without market data)", () => {
    const raws = fc.sample(stream, { seed: 7, numRuns: 1 })[0]!;
    const { engine, cmds } = runBoth(raws);
    expect(replayHash(cmds)).toBe(engine.stateHash());
    const other = runBoth(fc.sample(stream, { seed: 8, numRuns: 1 })[0]!);
    expect(other.engine.stateHash()).not.toBe(engine.stateHash());
  });
});
