// writeEvent's direct path for OrderAccepted, OrderDone and Balance (engine/model/record-layout.ts) against the
// generated slot accessors' path: the same bytes for every kind, whatever else the record holds.
import { describe, expect, it } from "vitest";
import { EVENT_FIELDS, EVENT_RECORD_BYTES, EventKind, EventRecord, viewsOf, writeEvent, writeEventBySlots } from "../engine/model/index.ts";

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
