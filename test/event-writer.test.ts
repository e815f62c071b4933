// The hand-written frames of the hot event kinds (gateway/codec/event-writer.ts) against the FlatBuffers Builder path
// (encodeEventWithBuilder): byte for byte, for random values of every field, both views of a fill, and every market.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EventKind, EventRecord } from "../engine/model/index.ts";
import { loadConfig } from "../engine/pipeline/config.ts";
import { decodeEvent } from "../gateway/client/codec.ts";
import { encodeEvent } from "../gateway/codec/index.ts";
import { encodeEventWithBuilder } from "../gateway/codec/encode.ts";
import { encodeHotEvent } from "../gateway/codec/event-writer.ts";

const config = loadConfig();
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const SAFE = Number.MAX_SAFE_INTEGER;

/** Amounts: mostly 0 and small values (left out / short), sometimes anywhere in int64 (past 2^53: the Builder's path). */
const amount = fc.oneof(
  { weight: 2, arbitrary: fc.constant(0n) },
  { weight: 6, arbitrary: fc.bigInt({ min: -(10n ** 15n), max: 10n ** 15n }) },
  { weight: 1, arbitrary: fc.bigInt({ min: INT64_MIN, max: INT64_MAX }) },
);
/** Ulong ids carried as bigints (client ids): 0, small, or any 64-bit value. */
const bigId = fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 1n << 20n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }));
/** Ids and times carried as numbers (order ids, trade ids, seqs, times). */
const numId = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1 << 20 }), fc.integer({ min: 0, max: SAFE }));

const fields = fc.record({
  kind: fc.constantFrom(EventKind.OrderAccepted, EventKind.OrderDone, EventKind.Balance, EventKind.Fill),
  account: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 0, max: 0xffffffff })),
  makerAccount: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffffffff })),
  market: fc.integer({ min: 0, max: config.markets.length - 1 }),
  asset: fc.integer({ min: 0, max: config.assets.length - 1 }),
  side: fc.integer({ min: 0, max: 1 }),
  code: fc.integer({ min: 0, max: 12 }),
  orderId: numId,
  makerOrderId: numId,
  tradeId: numId,
  timeMs: numId,
  seq: numId,
  marketSeq: numId,
  clientId: bigId,
  makerClientId: bigId,
  price: amount,
  quantity: amount,
  quoteQuantity: amount,
  filledQuantity: amount,
  remainingQuantity: amount,
  available: amount,
  locked: amount,
  lent: amount,
  borrowed: amount,
  takerFee: amount,
  makerFee: amount,
});

const e = new EventRecord();

function fill(f: typeof fields extends fc.Arbitrary<infer T> ? T : never): EventRecord {
  e.clear();
  Object.assign(e, f);
  return e;
}

/** Both paths' bytes, copied (each is a view of a reused buffer). */
function both(r: EventRecord, clientSeq: bigint, asMaker: boolean): { fast: Uint8Array; builder: Uint8Array } {
  const fast = encodeEvent(r, clientSeq, config, asMaker).slice();
  const builder = encodeEventWithBuilder(r, clientSeq, config, asMaker).slice();
  return { fast, builder };
}

describe("X5: hot event frames written without the Builder", () => {
  it("X5: OrderAccepted, OrderDone, Balance and Fill (taker's and maker's view) are the Builder's bytes for random values of every field", () => {
    fc.assert(
      fc.property(fields, bigId, fc.boolean(), (f, clientSeq, asMaker) => {
        const r = fill(f);
        const { fast, builder } = both(r, clientSeq, asMaker);
        expect(Buffer.from(fast).toString("hex")).toBe(Buffer.from(builder).toString("hex"));
      }),
      { numRuns: 20_000 },
    );
  });

  it("X5: values within 2^53 take the fast path (not the Builder's), and its frames decode to the record's values", () => {
    let taken = 0;
    fc.assert(
      fc.property(fields, fc.bigInt({ min: 0n, max: 1n << 40n }), (f, clientSeq) => {
        const r = fill(f);
        const safe = [r.price, r.quantity, r.quoteQuantity, r.filledQuantity, r.remainingQuantity, r.available, r.locked, r.lent, r.borrowed, r.takerFee, r.makerFee];
        const hot = encodeHotEvent(r, clientSeq, config, false);
        if (safe.every((v) => v >= -BigInt(SAFE) && v <= BigInt(SAFE))) {
          expect(hot).not.toBeNull();
          taken++;
        }
        if (hot === null) return;
        const decoded = decodeEvent(hot.slice());
        expect(decoded.clientSeq).toBe(clientSeq);
        expect(decoded.seq).toBe(BigInt(r.seq));
      }),
      { numRuns: 2_000 },
    );
    expect(taken).toBeGreaterThan(500);
  });

  it("X5: an order accepted on BTC_USDC: the exact frame, both ways", () => {
    const r = fill({ ...fc.sample(fields, { numRuns: 1, seed: 1 })[0]!, kind: EventKind.OrderAccepted, account: 17, market: 0, orderId: 42, clientId: 7n, side: 1, price: 46_000_000_000_000n, quantity: 12_345_678n, seq: 9, marketSeq: 3 });
    const { fast, builder } = both(r, 123n, false);
    expect(fast).toEqual(builder);
    expect(decodeEvent(fast)).toEqual({
      clientSeq: 123n,
      seq: 9n,
      marketSeq: 3n,
      type: "OrderAccepted",
      account: 17,
      market: 0,
      orderId: 42n,
      clientId: 7n,
      side: "Sell",
      price: "46000",
      quantity: "0.12345678",
    });
  });

  it("X5: a shape's later frames (its plan's bytes with the values written over them) are the Builder's too, and a field at 0 is a shape of its own", () => {
    const base = { ...fc.sample(fields, { numRuns: 1, seed: 3 })[0]!, kind: EventKind.Fill, market: 1, account: 5, makerAccount: 6, orderId: 11, makerOrderId: 12, tradeId: 13, clientId: 14n, makerClientId: 15n, side: 0, timeMs: 16, seq: 17, marketSeq: 18, price: 1n, quantity: 2n, quoteQuantity: 3n, takerFee: 4n, makerFee: 5n };
    const first = both(fill(base), 1n, true);
    expect(first.fast).toEqual(first.builder);
    // Same fields present, every value different (a market with other decimals: the scales are values too).
    const again = both(fill({ ...base, market: 3, account: 0xfffffffe, makerAccount: 7, orderId: SAFE, makerOrderId: 1, tradeId: 2 ** 40, clientId: (1n << 64n) - 1n, makerClientId: 1n << 63n, side: 0, timeMs: 1_765_000_000_000, seq: SAFE, marketSeq: 1, price: -(10n ** 15n), quantity: 1n, quoteQuantity: 7n, takerFee: -1n, makerFee: 10n ** 12n }), 2n ** 60n, true);
    expect(again.fast).toEqual(again.builder);
    expect(again.fast.length).toBe(first.fast.length);
    // The maker's client id at 0 leaves the field out: a shorter frame of another shape.
    const fewer = both(fill({ ...base, makerClientId: 0n }), 1n, true);
    expect(fewer.fast).toEqual(fewer.builder);
    expect(fewer.fast.length).toBeLessThan(first.fast.length);
  });

  it("X5: OrderRejected is the Builder's bytes for random values and messages (empty, ASCII up to and past 256 characters, non-ASCII)", () => {
    const message = fc.oneof(
      fc.constant(""),
      fc.constantFrom("UnknownOrder: no such open order", "InsufficientBalance: the order's hold is above the available balance"),
      fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 }),
      fc.string({ maxLength: 40 }),
    );
    let taken = 0;
    fc.assert(
      fc.property(fields, message, bigId, (f, text, clientSeq) => {
        const r = fill({ ...f, kind: EventKind.OrderRejected as typeof f.kind, code: f.code * 1000 });
        r.message = text;
        const { fast, builder } = both(r, clientSeq, false);
        expect(Buffer.from(fast).toString("hex")).toBe(Buffer.from(builder).toString("hex"));
        if (encodeHotEvent(r, clientSeq, config, false) !== null) taken++;
        // eslint-disable-next-line no-control-regex
        else expect(text.length > 256 || /[^\x00-\x7f]/.test(text) || r.seq > SAFE).toBe(true);
      }),
      { numRuns: 20_000 },
    );
    expect(taken).toBeGreaterThan(10_000);
    const sample = fc.sample(fields, { numRuns: 1, seed: 4 })[0]!;
    const r = fill({ ...sample, kind: EventKind.OrderRejected as typeof sample.kind, account: 17, market: 0, orderId: 0, clientId: 9n, code: 19, seq: 5, marketSeq: 0 });
    r.message = "UnknownOrder: no such open order";
    expect(decodeEvent(encodeEvent(r, 77n, config).slice())).toMatchObject({ clientSeq: 77n, seq: 5n, type: "OrderRejected", account: 17, clientId: 9n, message: "UnknownOrder: no such open order" });
  });

  it("X5: a value the fast path does not take goes to the Builder, errors included (a seq past 2^53, an unknown market or asset)", () => {
    const base = fc.sample(fields, { numRuns: 1, seed: 2 })[0]!;
    let r = fill({ ...base, kind: EventKind.Balance, available: INT64_MAX, locked: INT64_MIN });
    expect(encodeHotEvent(r, 0n, config, false)).toBeNull();
    expect(encodeEvent(r, 0n, config).slice()).toEqual(encodeEventWithBuilder(r, 0n, config).slice());
    r = fill({ ...base, kind: EventKind.OrderAccepted, seq: 2 ** 60 });
    expect(encodeHotEvent(r, 0n, config, false)).toBeNull();
    expect(() => encodeEvent(r, 0n, config)).toThrow(RangeError);
    r = fill({ ...base, kind: EventKind.Fill, market: config.markets.length });
    expect(() => encodeEvent(r, 0n, config)).toThrow("unknown market");
    r = fill({ ...base, kind: EventKind.Balance, asset: config.assets.length });
    expect(() => encodeEvent(r, 0n, config)).toThrow("unknown asset");
    r = fill({ ...base, kind: EventKind.OrderDone, price: 1n << 70n, filledQuantity: 1n << 70n });
    expect(() => encodeEvent(r, 0n, config)).toThrow("out of int64 range");
  });
});
