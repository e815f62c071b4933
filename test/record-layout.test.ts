// The direct paths of engine/model/record-layout.ts against the generated slot accessors' paths: writeEvent's for
// OrderAccepted, OrderDone and Balance writes the same bytes, readCommand's for the order commands leaves the record
// in the same state, for every kind, whatever else the record held.
import { describe, expect, it } from "vitest";
import {
  COMMAND_FIELDS,
  COMMAND_RECORD_BYTES,
  CommandKind,
  CommandRecord,
  EVENT_FIELDS,
  EVENT_RECORD_BYTES,
  EventKind,
  EventRecord,
  EventRecordReader,
  readCommand,
  readEvent,
  readCommandBySlots,
  viewsOf,
  writeCommand,
  writeEvent,
  writeEventBySlots,
} from "../engine/model/index.ts";
import { readInt64, readInt64Interned } from "../engine/model/record-layout.ts";

/** Every field of the record set to a distinct non-zero value (the kind's own and every other kind's). */
function filled(kind: number, seed: number, message: string): EventRecord {
  const e = new EventRecord();
  const r = e as unknown as Record<string, number | bigint | string>;
  EVENT_FIELDS.forEach((f, i) => {
    if (f.type === "string") r[f.name] = message;
    else if (f.type === "i64" || f.type === "u64") r[f.name] = BigInt(seed + i) * 1_000_000_007n * (i % 3 === 0 ? -1n : 1n);
    else r[f.name] = seed + 100 + i;
  });
  e.kind = kind as EventKind;
  return e;
}

/** The slot bytes each path writes over the same garbage. */
function bytesOf(write: typeof writeEvent, e: EventRecord): Uint8Array {
  const buffer = new ArrayBuffer(3 * EVENT_RECORD_BYTES);
  const v = viewsOf(buffer);
  for (let i = 0; i < v.u8.length; i++) v.u8[i] = (i * 37 + 11) & 0xff;
  write(v, EVENT_RECORD_BYTES, e);
  return v.u8.slice(EVENT_RECORD_BYTES, 2 * EVENT_RECORD_BYTES);
}

describe("record layout: writeEvent", () => {
  it("X5: every kind, with and without a message, writes the bytes of the slot accessors' path", () => {
    const kinds = Object.values(EventKind).filter((k) => k !== EventKind.None);
    expect(kinds).toContain(EventKind.OrderAccepted);
    for (const kind of kinds) {
      for (const message of ["", "InvalidQuantity: quantity must be > 0"]) {
        for (const seed of [1, 977]) {
          const e = filled(kind, seed, message);
          expect(bytesOf(writeEvent, e), `kind ${kind} message "${message}"`).toEqual(bytesOf(writeEventBySlots, e));
        }
      }
    }
  });

  it("X5: an OrderDone, an OrderAccepted and a Balance carry their own amount fields (not another kind's)", () => {
    const v = viewsOf(new ArrayBuffer(EVENT_RECORD_BYTES));
    const amounts = (e: EventRecord): bigint[] => {
      writeEvent(v, 0, e);
      return [v.i64[13]!, v.i64[14]!];
    };
    const e = filled(EventKind.OrderDone, 5, "");
    e.remainingQuantity = 7n;
    e.filledQuantity = 3n;
    expect(amounts(e)).toEqual([7n, 3n]);
    e.kind = EventKind.OrderAccepted;
    e.openQuantity = 11n;
    e.quoteQuantity = 13n;
    expect(amounts(e)).toEqual([11n, 13n]);
    e.kind = EventKind.Balance;
    e.available = 17n;
    e.locked = 19n;
    expect(amounts(e)).toEqual([17n, 19n]);
  });
});

/** Every field of a command record set to a distinct non-zero value (the kind's own and every other kind's). */
function filledCommand(kind: number, seed: number): CommandRecord {
  const c = new CommandRecord();
  const r = c as unknown as Record<string, number | bigint>;
  COMMAND_FIELDS.forEach((f, i) => {
    if (f.type === "i64" || f.type === "u64") r[f.name] = BigInt(seed + i) * 1_000_000_007n;
    else r[f.name] = seed + 100 + i;
  });
  c.kind = kind as CommandKind;
  return c;
}

describe("record layout: readCommand", () => {
  it("X5: every kind read into a record that held another command leaves it as the slot setters' path does", () => {
    const kinds = Object.values(CommandKind).filter((k) => k !== CommandKind.None);
    expect(kinds).toContain(CommandKind.ReplaceOrder);
    const v = viewsOf(new ArrayBuffer(COMMAND_RECORD_BYTES));
    for (const kind of kinds) {
      for (const seed of [1, 977]) {
        writeCommand(v, 0, filledCommand(kind, seed));
        const direct = filledCommand(CommandKind.Deposit, 5000);
        const bySlots = filledCommand(CommandKind.Deposit, 5000);
        readCommand(v, 0, direct);
        readCommandBySlots(v, 0, bySlots);
        expect(direct, `kind ${kind}`).toEqual(bySlots);
      }
    }
  });

  it("X5: a ReplaceOrder read over a Deposit carries its price and quantity, and no amount", () => {
    const v = viewsOf(new ArrayBuffer(COMMAND_RECORD_BYTES));
    const c = new CommandRecord();
    c.kind = CommandKind.ReplaceOrder;
    c.price = 60_000_000_000_000n;
    c.quantity = 500_000n;
    c.orderId = 42;
    writeCommand(v, 0, c);
    const into = filledCommand(CommandKind.Deposit, 3);
    readCommand(v, 0, into);
    expect([into.kind, into.price, into.quantity, into.orderId, into.amount, into.quoteQuantity]).toEqual([CommandKind.ReplaceOrder, 60_000_000_000_000n, 500_000n, 42, 0n, 0n]);
  });
});

describe("record layout: interned order prices and quantities", () => {
  /** 4,096 int64 values into one slot each, read back both ways. */
  function readBoth(values: readonly bigint[]): { plain: bigint[]; interned: bigint[] } {
    const v = viewsOf(new ArrayBuffer(8 * values.length));
    values.forEach((x, i) => (v.i64[i] = x));
    return { plain: values.map((_, i) => readInt64(v, i)), interned: values.map((_, i) => readInt64Interned(v, i)) };
  }

  it("X5: every value reads back exactly, through table hits, misses and collisions, at the int64 range's ends", () => {
    const values: bigint[] = [0n, 1n, -1n, (1n << 63n) - 1n, -(1n << 63n), 1n << 32n, (1n << 32n) - 1n, -(1n << 32n)];
    // Prices of BTC_USDC around $60,000 and sizes of 0.001–0.01 BTC, each many times, then 2,000 distinct values
    // (every entry of the 4,096-entry table overwritten, many twice), then the first ones again.
    for (let round = 0; round < 3; round++) for (let i = 0; i < 300; i++) values.push(60_000_000_000_000n + BigInt(i % 150) * 1_000_000_000n, BigInt(1 + (i % 10)) * 100_000n);
    for (let i = 0; i < 2_000; i++) values.push(BigInt(i) * 7_919n * (1n << 31n) + BigInt(i) - (i % 2 === 0 ? 0n : 1n << 62n));
    for (let i = 0; i < 50; i++) values.push(60_000_000_000_000n + BigInt(i) * 1_000_000_000n, -(1n << 63n), (1n << 63n) - 1n);
    const { plain, interned } = readBoth(values);
    expect(interned).toEqual(values);
    expect(plain).toEqual(values);
  });

  it("X5: a ReplaceOrder and a PlaceOrder that follow one with other values carry their own price and quantity", () => {
    const v = viewsOf(new ArrayBuffer(2 * COMMAND_RECORD_BYTES));
    const c = new CommandRecord();
    const got: bigint[] = [];
    for (const [kind, price, quantity] of [
      [CommandKind.PlaceOrder, 60_000_000_000_000n, 500_000n],
      [CommandKind.ReplaceOrder, 60_001_000_000_000n, 500_000n],
      [CommandKind.ReplaceOrder, 60_000_000_000_000n, 100_000n],
      [CommandKind.PlaceOrder, 60_000_000_000_000n + (1n << 32n), 500_000n + (1n << 32n)],
    ] as const) {
      c.clear();
      c.kind = kind;
      c.price = price;
      c.quantity = quantity;
      writeCommand(v, COMMAND_RECORD_BYTES, c);
      const into = new CommandRecord();
      readCommand(v, COMMAND_RECORD_BYTES, into);
      got.push(into.price, into.quantity);
    }
    expect(got).toEqual([60_000_000_000_000n, 500_000n, 60_001_000_000_000n, 500_000n, 60_000_000_000_000n, 100_000n, 60_000_000_000_000n + (1n << 32n), 500_000n + (1n << 32n)]);
  });
});

/** A deterministic stream of events of every kind (the three the reader takes directly most often), some at the ends of their ranges. */
function eventStream(count: number, seed: number): EventRecord[] {
  let x = seed;
  const next = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8;
  const kinds = Object.values(EventKind).filter((k) => k !== EventKind.None);
  const common = [EventKind.OrderAccepted, EventKind.OrderDone, EventKind.Balance];
  const edges = [0n, 1n, -1n, (1n << 63n) - 1n, -(1n << 63n), 60_000_000_000_000n];
  const out: EventRecord[] = [];
  for (let i = 0; i < count; i++) {
    const kind = next() % 4 !== 0 ? common[next() % 3]! : kinds[next() % kinds.length]!;
    const e = filled(kind, next() % 5000, next() % 5 === 0 ? "UnknownOrder: no such open order" : "");
    const r = e as unknown as Record<string, number | bigint | string>;
    // Some fields at zero (a Balance without lent, an order without a client id) or at the int64 range's ends.
    for (const f of EVENT_FIELDS) {
      if (f.type !== "i64" && f.type !== "u64") continue;
      const pick = next() % 8;
      if (pick < 2) r[f.name] = pick === 0 ? 0n : edges[next() % edges.length]!;
    }
    e.clientId = BigInt.asUintN(64, e.clientId as bigint);
    out.push(e);
  }
  return out;
}

describe("record layout: EventRecordReader", () => {
  it("X5: a stream of every kind read into one record leaves it after each event as readEvent does", () => {
    const stream = eventStream(4000, 7);
    const v = viewsOf(new ArrayBuffer(stream.length * EVENT_RECORD_BYTES));
    stream.forEach((e, i) => writeEvent(v, i * EVENT_RECORD_BYTES, e));
    const reader = new EventRecordReader();
    const expected = new EventRecord();
    let runs = 0;
    for (let i = 0; i < stream.length; i++) {
      readEvent(v, i * EVENT_RECORD_BYTES, expected);
      expect(reader.read(v, i * EVENT_RECORD_BYTES), `event ${i} kind ${stream[i]!.kind}`).toEqual(expected);
      if (i > 0 && stream[i]!.kind === EventKind.Balance && stream[i - 1]!.kind === EventKind.OrderDone) runs++;
    }
    expect(runs).toBeGreaterThan(100); // the direct path ran, over another of its kinds
  });
});
