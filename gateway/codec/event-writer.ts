// The hot event kinds' frames written by hand (issue 15, sixth round): OrderAccepted, OrderDone, Balance and Fill —
// what a market maker's place, cancel and crossing order answer with — and OrderRejected (a cancel of an order already
// gone: ~4% of a market maker's commands, and 3–4% of the gateway thread in the closed loop through the Builder) in the same bytes as the FlatBuffers Builder
// path (encode.ts encodeEventWithBuilder: the generated per-kind encoder, then the envelope), without the Builder.
//
// FastEventWriter runs the Builder's own algorithm — back to front, prep()'s alignment from the end of the buffer,
// the same field order, defaults left out, a vtable per table shared when an earlier one matches, finish()'s root
// offset — on one reused Uint8Array through a DataView: no ByteBuffer calls per byte, no vtable arrays made per frame,
// no BigInt per 64-bit field. Every byte but the values (padding, vtables, offsets, the union type) depends only on
// the kind and on which fields are present (a field at its default is left out), so the first frame of each such
// shape is kept as a plan — its bytes and where each value sits — and later frames of that shape are the plan's bytes
// with the values written over them: one copy and a store per field. The kind's body function (orderAccepted, …)
// drives all three modes, so a field's order and presence have one source. test/event-writer.test.ts pins the frames
// byte for byte against the Builder for random values of every field. A value the fast path does not take (a number
// past 2^53, an unknown market or asset) makes it give up (`encodeHotEvent` returns null) and the Builder encodes the
// frame as before, errors included.
import { EventKind, MarketKind, Side, type EventRecord, type ExchangeConfig } from "../../engine/model/index.ts";
import { Event } from "../../schemas/index.ts";
import { PRICE_DECIMALS } from "./wire-values.ts";

/** Bytes of the writer's buffer: a hot frame is at most ~300 B (a Fill with every field), far below it. */
const WRITER_BYTES = 1024;
const TWO_POW_32 = 4294967296;
/** Field slots of EventEnvelope (schemas/crossbook.fbs: client_seq, seq, market_seq, event_type, event). */
const ENVELOPE_FIELDS = 5;
/** Vtables one frame keeps for sharing: the body's and the envelope's. */
const VTABLES_MAX = 4;
/** Values one frame writes at most (a Fill's 16 fields and the envelope's 5). */
const VALUES_MAX = 32;
/** Shapes (kind × present fields) kept as plans per kind; past it a frame is written field by field, not kept. */
const PLANS_PER_KIND_MAX = 1024;
/**
 * Longest string the writer takes (characters, all ASCII: one UTF-8 byte each); a longer one or any other character
 * gives up (the Builder writes it). An engine event's message is at most EVENT_MESSAGE_BYTES_MAX (256) ASCII bytes.
 */
const STRING_CHARS_MAX = 256;

/** What the body functions drive: the shape's key, a plan's values, or the whole frame (and a new plan). */
const Mode = { Key: 0, Fill: 1, Build: 2 } as const;
type Mode = (typeof Mode)[keyof typeof Mode];

/** One frame shape: its bytes as first written, and where each value it writes starts (in write order). */
class Plan {
  constructor(
    readonly template: Uint8Array,
    readonly valueAt: Int32Array,
  ) {}
}

/** A FlatBuffers builder for the hot event frames only: fixed capacity, scalars and inline structs, no strings. */
class FastEventWriter {
  private readonly bytes = new Uint8Array(WRITER_BYTES);
  private readonly view = new DataView(this.bytes.buffer);
  /** Where the next byte goes (downwards): data lives in [space, WRITER_BYTES). */
  private space = WRITER_BYTES;
  private minalign = 1;
  /** Offsets (from the end) of the fields of the table being written; 0 = not written. */
  private readonly vtable = new Int32Array(16);
  private vtableInUse = 0;
  private objectStart = 0;
  private readonly vtables = new Int32Array(VTABLES_MAX);
  private vtableCount = 0;
  /** Set when a value is outside the fast path (a number past 2^53): the frame is encoded by the Builder instead. */
  gaveUp = false;
  mode: Mode = Mode.Build;
  /** Mode.Key: one bit per optional field, present or not (with the kind, it names the frame's shape). */
  key = 0;
  /** Mode.Build: where each value was written (bytes index); Mode.Fill: the plan's value positions. */
  private readonly writtenAt = new Int32Array(VALUES_MAX);
  private values = 0;
  private fillAt: Int32Array = this.writtenAt;
  /** Mode.Fill: the frame being filled (a copy of a plan's template) and its view. */
  private readonly fillBytes = new Uint8Array(WRITER_BYTES);
  private readonly fillView = new DataView(this.fillBytes.buffer);
  private fillLength = 0;
  /**
   * The frames handed out, one view per length (Fill: fillBytes[0, n)) or start (Build: bytes[space, end)), made once:
   * every view is of the writer's own buffer and valid until the next begin, as a fresh subarray would be — without
   * allocating one (two to three per event before).
   */
  private readonly fillViews: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(WRITER_BYTES + 1);
  private readonly buildViews: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(WRITER_BYTES + 1);
  private readonly emptyFrame = this.fillBytes.subarray(0, 0);

  /** Starts a frame in `mode` (Fill: over a copy of the plan's template). */
  begin(mode: Mode, plan: Plan | null): void {
    this.mode = mode;
    this.key = 0;
    this.values = 0;
    this.gaveUp = false;
    if (mode === Mode.Fill) {
      this.fillBytes.set(plan!.template);
      this.fillLength = plan!.template.length;
      this.fillAt = plan!.valueAt;
      return;
    }
    this.space = WRITER_BYTES;
    this.minalign = 1;
    this.vtableCount = 0;
  }

  /** Mode.Build, after finishEnvelope: the frame just written as a plan. */
  plan(frame: Uint8Array): Plan {
    const valueAt = new Int32Array(this.values);
    for (let i = 0; i < this.values; i++) valueAt[i] = this.writtenAt[i]! - this.space;
    return new Plan(frame.slice(), valueAt);
  }

  /** Mode.Key: an optional field's presence bit; true when the field is to be written (Fill, Build). */
  private present(isPresent: boolean): boolean {
    if (this.mode === Mode.Key) {
      this.key = this.key * 2 + (isPresent ? 1 : 0);
      return false;
    }
    return isPresent;
  }

  /** Mode.Build: notes where the value just written starts. */
  private noteValue(): void {
    this.writtenAt[this.values++] = this.space;
  }

  /** Mode.Fill: where the next value goes in the frame. */
  private nextFillAt(): number {
    return this.fillAt[this.values++]!;
  }

  private offset(): number {
    return WRITER_BYTES - this.space;
  }

  /** Builder.prep: align so that `size` bytes written after `additional` more are aligned to `size`. */
  private prep(size: number, additional: number): void {
    if (size > this.minalign) this.minalign = size;
    const align = (~(WRITER_BYTES - this.space + additional) + 1) & (size - 1);
    if (this.space < align + size + additional) throw new RangeError("FastEventWriter: a frame over its buffer (a hot frame's bound is wrong)");
    for (let i = 0; i < align; i++) this.bytes[--this.space] = 0;
  }

  private writeInt32(value: number): void {
    this.space -= 4;
    this.view.setInt32(this.space, value, true);
  }

  private writeInt16(value: number): void {
    this.space -= 2;
    this.view.setInt16(this.space, value, true);
  }

  /** A number within ±(2^53 − 1) as int64 (else the frame goes to the Builder). */
  private writeInt64Number(n: number): void {
    if (!Number.isSafeInteger(n)) {
      this.gaveUp = true;
      n = 0;
    }
    const high = Math.floor(n / TWO_POW_32);
    this.space -= 8;
    this.view.setInt32(this.space + 4, high, true);
    this.view.setInt32(this.space, n - high * TWO_POW_32, true);
  }

  /** A bigint's low 64 bits, as the runtime's writeInt64 writes them. */
  private writeInt64Big(value: bigint): void {
    const n = Number(value);
    if (Number.isSafeInteger(n)) {
      this.writeInt64Number(n);
      return;
    }
    this.space -= 8;
    this.view.setBigUint64(this.space, BigInt.asUintN(64, value), true);
  }

  startObject(fields: number): void {
    if (this.mode !== Mode.Build) return;
    for (let i = 0; i < fields; i++) this.vtable[i] = 0;
    this.vtableInUse = fields;
    this.objectStart = this.offset();
  }

  // Fields (each left out at its default, 0, like the Builder's addField*): in Mode.Key only the presence bit, in
  // Mode.Fill the value at the plan's next position, in Mode.Build the Builder's steps and the value's position.

  int8(slot: number, value: number): void {
    if (!this.present(value !== 0)) return;
    if (this.mode === Mode.Fill) {
      this.fillBytes[this.nextFillAt()] = value;
      return;
    }
    this.prep(1, 0);
    this.bytes[--this.space] = value;
    this.noteValue();
    this.vtable[slot] = this.offset();
  }

  int16(slot: number, value: number): void {
    if (!this.present(value !== 0)) return;
    if (this.mode === Mode.Fill) {
      this.fillView.setInt16(this.nextFillAt(), value, true);
      return;
    }
    this.prep(2, 0);
    this.writeInt16(value);
    this.noteValue();
    this.vtable[slot] = this.offset();
  }

  int32(slot: number, value: number): void {
    if (!this.present(value !== 0)) return;
    if (this.mode === Mode.Fill) {
      this.fillView.setInt32(this.nextFillAt(), value, true);
      return;
    }
    this.prep(4, 0);
    this.writeInt32(value);
    this.noteValue();
    this.vtable[slot] = this.offset();
  }

  /** A ulong field from a number (ids, times), left out when 0. */
  int64Number(slot: number, value: number): void {
    if (!this.present(value !== 0)) return;
    if (this.mode === Mode.Fill) {
      this.fillInt64Number(this.nextFillAt(), value);
      return;
    }
    this.prep(8, 0);
    this.writeInt64Number(value);
    this.noteValue();
    this.vtable[slot] = this.offset();
  }

  /** A ulong field from a bigint; `force`: written even when 0 (the envelope's client_seq, no presence bit). */
  int64Big(slot: number, value: bigint, force: boolean): void {
    if (!force && !this.present(value !== 0n)) return;
    if (this.mode === Mode.Key) return;
    if (this.mode === Mode.Fill) {
      this.fillInt64Big(this.nextFillAt(), value);
      return;
    }
    this.prep(8, 0);
    this.writeInt64Big(value);
    this.noteValue();
    this.vtable[slot] = this.offset();
  }

  /** A Decimal struct inline (Decimal.createDecimal's bytes) as field `slot`; a mantissa past 2^53 gives up. */
  decimal(slot: number, mantissa: bigint, scale: number): void {
    if (this.mode === Mode.Key) return;
    // Number() of a bigint past ±(2^53 − 1) is not a safe integer: exact whenever it is taken.
    if (this.mode === Mode.Fill) {
      const at = this.nextFillAt();
      this.fillInt64Number(at, Number(mantissa));
      this.fillView.setInt32(at + 8, scale & 0xff, true);
      return;
    }
    this.prep(8, 16);
    this.writeInt32(0);
    this.writeInt32(scale & 0xff);
    this.writeInt64Number(Number(mantissa));
    this.noteValue();
    this.vtable[slot] = this.offset();
  }

  /** A Decimal field left out when 0 (Balance's lent and borrowed). */
  optionalDecimal(slot: number, mantissa: bigint, scale: number): void {
    if (this.present(mantissa !== 0n)) this.decimal(slot, mantissa, scale);
  }

  private fillInt64Number(at: number, n: number): void {
    if (!Number.isSafeInteger(n)) {
      this.gaveUp = true;
      return;
    }
    const high = Math.floor(n / TWO_POW_32);
    this.fillView.setInt32(at + 4, high, true);
    this.fillView.setInt32(at, n - high * TWO_POW_32, true);
  }

  private fillInt64Big(at: number, value: bigint): void {
    const n = Number(value);
    if (Number.isSafeInteger(n)) this.fillInt64Number(at, n);
    else this.fillView.setBigUint64(at, BigInt.asUintN(64, value), true);
  }

  /**
   * Builder.createString of an ASCII string (its UTF-8 bytes are its char codes): the terminating 0, the bytes, the
   * length; returns its offset (Mode.Build; 0 in the others). Its length is part of the shape (Mode.Key: the key),
   * so Mode.Fill writes the bytes only. Anything the fast path does not take gives up.
   */
  asciiString(value: string): number {
    const n = value.length;
    if (n > STRING_CHARS_MAX) {
      this.gaveUp = true;
      return 0;
    }
    if (this.mode === Mode.Key) {
      this.key = this.key * (STRING_CHARS_MAX + 1) + n;
      return 0;
    }
    let at: number;
    if (this.mode === Mode.Fill) at = this.nextFillAt();
    else {
      this.prep(1, 0);
      this.bytes[--this.space] = 0;
      this.prep(4, n);
      this.space -= n;
      at = this.space;
      this.noteValue();
    }
    const bytes = this.mode === Mode.Fill ? this.fillBytes : this.bytes;
    for (let i = 0; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c >= 0x80) this.gaveUp = true;
      bytes[at + i] = c;
    }
    if (this.mode === Mode.Fill) return 0;
    this.writeInt32(n);
    return this.offset();
  }

  /** An offset field (the envelope's event): Builder.addOffset. */
  offsetField(slot: number, target: number): void {
    if (this.mode !== Mode.Build) return;
    this.prep(4, 0);
    this.writeInt32(this.offset() - target + 4);
    this.vtable[slot] = this.offset();
  }

  /** Builder.endObject: the vtable (trailing absent fields trimmed), shared with an equal earlier one of the frame. */
  endObject(): number {
    if (this.mode !== Mode.Build) return 0;
    this.prep(4, 0);
    this.writeInt32(0);
    const vtableAt = this.offset();
    let i = this.vtableInUse - 1;
    while (i >= 0 && this.vtable[i] === 0) i--;
    const trimmed = i + 1;
    for (; i >= 0; i--) {
      this.prep(2, 0);
      this.writeInt16(this.vtable[i] !== 0 ? vtableAt - this.vtable[i]! : 0);
    }
    this.prep(2, 0);
    this.writeInt16(vtableAt - this.objectStart);
    const len = (trimmed + 2) * 2;
    this.prep(2, 0);
    this.writeInt16(len);
    const existing = this.matchingVtable(len);
    if (existing !== 0) {
      this.space = WRITER_BYTES - vtableAt;
      this.view.setInt32(this.space, existing - vtableAt, true);
    } else {
      this.vtables[this.vtableCount++] = this.offset();
      this.view.setInt32(WRITER_BYTES - vtableAt, this.offset() - vtableAt, true);
    }
    return vtableAt;
  }

  /** The offset of an earlier vtable equal to the one just written at `space` (`len` bytes), 0 when none. */
  private matchingVtable(len: number): number {
    const view = this.view;
    const at = this.space;
    for (let k = 0; k < this.vtableCount; k++) {
      const other = WRITER_BYTES - this.vtables[k]!;
      if (view.getInt16(other, true) !== len) continue;
      let same = true;
      for (let j = 2; j < len && same; j += 2) same = view.getInt16(at + j, true) === view.getInt16(other + j, true);
      if (same) return this.vtables[k]!;
    }
    return 0;
  }

  /**
   * The envelope around `body` (encode.ts finish), then Builder.finish. Returns the frame (a view valid until the next
   * begin; Mode.Key: an empty one).
   */
  finishEnvelope(type: number, body: number, clientSeq: bigint, seq: number, marketSeq: number): Uint8Array {
    this.startObject(ENVELOPE_FIELDS);
    this.int64Big(0, clientSeq, true);
    this.int64Number(1, seq);
    this.int64Number(2, marketSeq);
    this.int8(3, type);
    this.offsetField(4, body);
    if (this.mode === Mode.Key) return this.emptyFrame;
    if (this.mode === Mode.Fill) return (this.fillViews[this.fillLength] ??= this.fillBytes.subarray(0, this.fillLength));
    const root = this.endObject();
    this.prep(this.minalign, 4);
    this.prep(4, 0);
    this.writeInt32(this.offset() - root + 4);
    return (this.buildViews[this.space] ??= this.bytes.subarray(this.space, WRITER_BYTES));
  }
}

/** Per market its base and quote decimals and kind; per asset its decimals (one config at a time is cached). */
class WireScales {
  constructor(
    readonly config: ExchangeConfig,
    readonly assetDecimals: Int32Array = Int32Array.from(config.assets, (a) => a.decimals),
    readonly baseDecimals: Int32Array = Int32Array.from(config.markets, (m) => config.assets[m.baseAsset]?.decimals ?? -1),
    readonly quoteDecimals: Int32Array = Int32Array.from(config.markets, (m) => config.assets[m.quoteAsset]?.decimals ?? -1),
  ) {}
}

const writer = new FastEventWriter();
let scales: WireScales | null = null;
/** The hot kinds, and per hot kind its plans by shape key (Mode.Key's bits). */
const HOT_ORDER_ACCEPTED = 0;
const HOT_ORDER_DONE = 1;
const HOT_BALANCE = 2;
const HOT_FILL = 3;
const HOT_ORDER_REJECTED = 4;
const plans: Map<number, Plan>[] = [new Map(), new Map(), new Map(), new Map(), new Map()];

function scalesOf(config: ExchangeConfig): WireScales {
  // Plans hold no config: a Decimal's scale is one of the values written over them.
  if (scales === null || scales.config !== config) scales = new WireScales(config);
  return scales;
}

/** True when the market and both its assets are known (else the Builder path throws its RangeError). */
function knownMarket(s: WireScales, market: number): boolean {
  return market >= 0 && market < s.baseDecimals.length && s.baseDecimals[market]! >= 0 && s.quoteDecimals[market]! >= 0;
}

/** The hot kind index of `e` (HOT_…), or -1 for another kind or an unknown market or asset. */
function hotKindOf(e: EventRecord, s: WireScales): number {
  switch (e.kind) {
    case EventKind.OrderAccepted:
      return knownMarket(s, e.market) ? HOT_ORDER_ACCEPTED : -1;
    case EventKind.OrderDone:
      return knownMarket(s, e.market) ? HOT_ORDER_DONE : -1;
    case EventKind.Balance:
      return s.assetDecimals[e.asset] === undefined ? -1 : HOT_BALANCE;
    case EventKind.Fill:
      return knownMarket(s, e.market) ? HOT_FILL : -1;
    case EventKind.OrderRejected:
      return HOT_ORDER_REJECTED;
    default:
      return -1;
  }
}

/** Drives the writer through the frame of `e` (hot kind `hot`) in its current mode; returns the frame. */
function writeFrame(w: FastEventWriter, hot: number, e: EventRecord, s: WireScales, asMaker: boolean, clientSeq: bigint): Uint8Array {
  let type: number;
  let body: number;
  if (hot === HOT_ORDER_ACCEPTED) {
    type = Event.OrderAccepted;
    body = orderAccepted(w, e, s);
  } else if (hot === HOT_ORDER_DONE) {
    type = Event.OrderDone;
    body = orderDone(w, e, s);
  } else if (hot === HOT_BALANCE) {
    type = Event.Balance;
    body = balance(w, e, s);
  } else if (hot === HOT_ORDER_REJECTED) {
    type = Event.OrderRejected;
    body = orderRejected(w, e);
  } else {
    type = Event.Fill;
    body = fill(w, e, s, asMaker);
  }
  return w.finishEnvelope(type, body, clientSeq, e.seq, e.marketSeq);
}

/**
 * encodeEvent for OrderAccepted, OrderDone, Balance, Fill and OrderRejected: the frame's bytes (a view valid until the next call),
 * or null for any other kind or a value the fast path does not take (the caller then encodes with the Builder).
 * The frame's shape (which fields are present) picks a plan; a shape seen for the first time is written field by
 * field and kept.
 */
export function encodeHotEvent(e: EventRecord, clientSeq: bigint, config: ExchangeConfig, asMaker: boolean): Uint8Array | null {
  const s = scalesOf(config);
  const hot = hotKindOf(e, s);
  if (hot < 0) return null;
  const w = writer;
  w.begin(Mode.Key, null);
  writeFrame(w, hot, e, s, asMaker, clientSeq);
  const shapes = plans[hot]!;
  const key = w.key;
  const plan = shapes.get(key);
  if (plan !== undefined) {
    w.begin(Mode.Fill, plan);
    const frame = writeFrame(w, hot, e, s, asMaker, clientSeq);
    return w.gaveUp ? null : frame;
  }
  w.begin(Mode.Build, null);
  const frame = writeFrame(w, hot, e, s, asMaker, clientSeq);
  if (w.gaveUp) return null;
  if (shapes.size < PLANS_PER_KIND_MAX) shapes.set(key, w.plan(frame));
  return frame;
}

// The bodies: the generated encoders' calls (generated/encode-events.ts), in their order.

function orderAccepted(w: FastEventWriter, e: EventRecord, s: WireScales): number {
  w.startObject(7);
  w.int32(0, e.account);
  w.int16(1, e.market);
  w.int64Number(2, e.orderId);
  w.int64Big(3, e.clientId, false);
  w.int8(4, e.side);
  w.decimal(5, e.price, PRICE_DECIMALS);
  w.decimal(6, e.quantity, s.baseDecimals[e.market]!);
  return w.endObject();
}

function orderDone(w: FastEventWriter, e: EventRecord, s: WireScales): number {
  const baseDecimals = s.baseDecimals[e.market]!;
  w.startObject(8);
  w.int32(0, e.account);
  w.int16(1, e.market);
  w.int64Number(2, e.orderId);
  w.int64Big(3, e.clientId, false);
  w.int8(4, e.side);
  w.int8(5, e.code);
  w.decimal(6, e.filledQuantity, baseDecimals);
  w.decimal(7, e.remainingQuantity, baseDecimals);
  return w.endObject();
}

function orderRejected(w: FastEventWriter, e: EventRecord): number {
  const message = w.asciiString(e.message);
  w.startObject(6);
  w.int32(0, e.account);
  w.int16(1, e.market);
  w.int64Number(2, e.orderId);
  w.int64Big(3, e.clientId, false);
  w.int16(4, e.code);
  w.offsetField(5, message);
  return w.endObject();
}

function balance(w: FastEventWriter, e: EventRecord, s: WireScales): number {
  const decimals = s.assetDecimals[e.asset]!;
  w.startObject(6);
  w.int32(0, e.account);
  w.int16(1, e.asset);
  w.decimal(2, e.available, decimals);
  w.decimal(3, e.locked, decimals);
  w.optionalDecimal(4, e.lent, decimals);
  w.optionalDecimal(5, e.borrowed, decimals);
  return w.endObject();
}

function fill(w: FastEventWriter, e: EventRecord, s: WireScales, asMaker: boolean): number {
  const m = s.config.markets[e.market]!;
  // feeAssetOf (wire-values.ts): S5's fee asset of the receiving side.
  const side = asMaker ? 1 - e.side : e.side;
  const feeAsset = m.kind === MarketKind.Perpetual || side !== Side.Buy ? m.quoteAsset : m.baseAsset;
  w.startObject(16);
  w.int16(0, e.market);
  w.int64Number(1, e.tradeId);
  w.decimal(2, e.price, PRICE_DECIMALS);
  w.decimal(3, e.quantity, s.baseDecimals[e.market]!);
  w.decimal(4, e.quoteQuantity, s.quoteDecimals[e.market]!);
  w.int32(5, e.account);
  w.int32(6, e.makerAccount);
  w.int64Number(7, e.orderId);
  w.int64Number(8, e.makerOrderId);
  w.int64Big(9, e.clientId, false);
  w.int64Big(10, e.makerClientId, false);
  w.int8(11, e.side);
  w.decimal(12, asMaker ? e.makerFee : e.takerFee, s.assetDecimals[feeAsset]!);
  w.int16(13, feeAsset);
  w.int8(14, asMaker ? 1 : 0);
  w.int64Number(15, e.timeMs);
  return w.endObject();
}
