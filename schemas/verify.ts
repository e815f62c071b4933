// Bounds verifier for crossbook.fbs frames: the flatbuffers JS runtime reads whatever an offset points at, so
// every table, vtable, field, string and vector of a frame is checked to lie inside the buffer before any
// generated accessor touches it.
//
// The field layouts below restate the schema (one entry per field, in declaration order = vtable slot order);
// test/schemas.test.ts parses crossbook.fbs and checks they match, so a schema change cannot leave them stale.

/** Inline field kinds: a positive number is a scalar or struct of that many bytes. */
export const FieldKind = {
  U8: 1,
  U16: 2,
  U32: 4,
  U64: 8,
  /** struct Decimal { mantissa: long; scale: ubyte } (16 bytes with padding). */
  Decimal: 16,
  /** Offset to a string. */
  String: -1,
  /** Offset to a vector of struct Level (32 bytes each). */
  LevelVector: -2,
  /** Offset to the table of a union; its type is the field just before it. */
  UnionValue: -3,
} as const;

const LEVEL_BYTES = 32;
const { U8, U16, U32, U64, Decimal: DEC, String: STR, LevelVector: LVEC, UnionValue: UVAL } = FieldKind;

export interface TableLayout {
  readonly name: string;
  readonly fields: readonly number[];
}

function layout(name: string, fields: number[]): TableLayout {
  return { name, fields };
}

/** Indexed by the `Command` union type (0 = NONE). */
export const COMMAND_LAYOUTS: readonly (TableLayout | null)[] = [
  null,
  layout("Deposit", [U32, U16, DEC]),
  layout("Withdraw", [U32, U16, DEC, U8]),
  layout("LimitOrder", [U32, U16, U8, U8, DEC, DEC, U8, U8, U64, U8, U8, U8, U8, U8]),
  layout("MarketOrder", [U32, U16, U8, DEC, DEC, U8, U64, U8, U8, U8, U8, U8]),
  layout("Cancel", [U32, U16, U64, U64]),
  layout("CancelAll", [U32, U16]),
  layout("Replace", [U32, U16, U64, U64, DEC, DEC]),
  layout("Transfer", [U32, U32, U16, DEC]),
  layout("SetMarketState", [U16, U8]),
  layout("AdvanceTime", [U64]),
  layout("Subscribe", [U16, U8]),
  layout("Unsubscribe", [U16, U8]),
];

/** Indexed by the `Event` union type (0 = NONE). */
export const EVENT_LAYOUTS: readonly (TableLayout | null)[] = [
  null,
  layout("OrderAccepted", [U32, U16, U64, U64, U8, DEC, DEC]),
  layout("OrderRejected", [U32, U16, U64, U64, U16, STR]),
  layout("Fill", [U16, U64, DEC, DEC, DEC, U32, U32, U64, U64, U64, U64, U8, DEC, U16, U8, U64]),
  layout("OrderDone", [U32, U16, U64, U64, U8, U8, DEC, DEC]),
  layout("Balance", [U32, U16, DEC, DEC]),
  layout("CommandAccepted", [U32, U16, DEC]),
  layout("CommandRejected", [U32, U16, STR]),
  layout("Clock", [U64]),
  layout("DepthSnapshot", [U16, U64, LVEC, LVEC]),
  layout("DepthDelta", [U16, U64, U64, LVEC, LVEC]),
  layout("Trade", [U16, U64, DEC, DEC, DEC, U8, U64]),
  layout("BookTicker", [U16, U64, DEC, DEC, DEC, DEC]),
  layout("Ticker", [U16, U64, U64, DEC, DEC, DEC, DEC, DEC, DEC, U64]),
];

/** client_seq, command_type, command. */
export const COMMAND_ENVELOPE_LAYOUT: TableLayout = layout("CommandEnvelope", [U64, U8, UVAL]);
/** client_seq, seq, market_seq, event_type, event. */
export const EVENT_ENVELOPE_LAYOUT: TableLayout = layout("EventEnvelope", [U64, U64, U64, U8, UVAL]);

/** Why the last verification failed (set only on failure, so the success path allocates nothing). */
export interface VerifyFailure {
  message: string;
}

export interface VerifyOptions {
  /**
   * Reject fields beyond the known layout (a server reading commands must not silently ignore a field it does not
   * understand); a client reading events from a newer server ignores them instead.
   */
  readonly rejectUnknownFields: boolean;
  /** Reject a union type beyond the known members (else the caller sees the raw type and skips the frame). */
  readonly rejectUnknownUnionType: boolean;
}

// Reads match the runtime's: offsets are signed 32-bit, vtable entries signed 16-bit (ByteBuffer.__offset).
function readI32(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
}

function readI16(b: Uint8Array, o: number): number {
  return ((b[o]! | (b[o + 1]! << 8)) << 16) >> 16;
}

/** Result of the last successful root check: union type found in the envelope (0 when absent). */
export const verifiedUnion = { type: 0 };

/**
 * Checks a whole frame whose root table is an envelope with one union field (the last field of `envelope`), and
 * the union's table. Returns false and fills `failure.message` when anything lies outside the buffer, a vtable is
 * malformed, or (per options) a field or union type is unknown. Unknown union types are not descended into.
 */
export function verifyEnvelope(
  bytes: Uint8Array,
  envelope: TableLayout,
  unionLayouts: readonly (TableLayout | null)[],
  options: VerifyOptions,
  failure: VerifyFailure,
): boolean {
  verifiedUnion.type = 0;
  const length = bytes.length;
  if (length < 8) {
    failure.message = `frame of ${length} bytes is shorter than the 8-byte minimum`;
    return false;
  }
  const root = readI32(bytes, 0);
  if (!verifyTable(bytes, root, envelope, options, failure)) return false;
  // The union type is the field right before the union value.
  const fields = envelope.fields;
  const unionSlot = fields.length - 1;
  const typeOffset = fieldOffset(bytes, root, unionSlot - 1);
  const unionType = typeOffset === 0 ? 0 : bytes[root + typeOffset]!;
  verifiedUnion.type = unionType;
  const valueOffset = fieldOffset(bytes, root, unionSlot);
  if (unionType === 0 || valueOffset === 0) return true;
  const inner = unionType < unionLayouts.length ? unionLayouts[unionType]! : null;
  if (inner === null) {
    if (options.rejectUnknownUnionType) {
      failure.message = `unknown ${envelope.name} union type ${unionType}`;
      return false;
    }
    return true;
  }
  const at = root + valueOffset;
  const target = at + readI32(bytes, at);
  return verifyTable(bytes, target, inner, options, failure);
}

/** Vtable entry of an already verified table (0 = field absent). */
function fieldOffset(bytes: Uint8Array, table: number, slot: number): number {
  const vtable = table - readI32(bytes, table);
  const entry = 4 + 2 * slot;
  return entry < readI16(bytes, vtable) ? readI16(bytes, vtable + entry) : 0;
}

function verifyTable(
  bytes: Uint8Array,
  table: number,
  shape: TableLayout,
  options: VerifyOptions,
  failure: VerifyFailure,
): boolean {
  const length = bytes.length;
  if (table < 4 || table + 4 > length) {
    failure.message = `${shape.name}: table offset ${table} outside the ${length}-byte frame`;
    return false;
  }
  const vtable = table - readI32(bytes, table);
  if (vtable < 0 || vtable + 4 > length) {
    failure.message = `${shape.name}: vtable offset ${vtable} outside the ${length}-byte frame`;
    return false;
  }
  const vtableBytes = readI16(bytes, vtable);
  const objectBytes = readI16(bytes, vtable + 2);
  if (vtableBytes < 4 || (vtableBytes & 1) !== 0 || vtable + vtableBytes > length) {
    failure.message = `${shape.name}: bad vtable size ${vtableBytes}`;
    return false;
  }
  if (objectBytes < 4 || table + objectBytes > length) {
    failure.message = `${shape.name}: bad table size ${objectBytes}`;
    return false;
  }
  const fields = shape.fields;
  const slots = (vtableBytes - 4) >> 1;
  for (let slot = 0; slot < slots; slot++) {
    const offset = readI16(bytes, vtable + 4 + 2 * slot);
    if (offset === 0) continue;
    if (slot >= fields.length) {
      if (options.rejectUnknownFields) {
        failure.message = `${shape.name}: unknown field #${slot}`;
        return false;
      }
      continue;
    }
    const kind = fields[slot]!;
    const inlineBytes = kind > 0 ? kind : 4;
    if (offset < 4 || offset + inlineBytes > objectBytes) {
      failure.message = `${shape.name}: field #${slot} at ${offset} outside its ${objectBytes}-byte table`;
      return false;
    }
    if (kind > 0 || kind === UVAL) {
      if (kind === UVAL) {
        const at = table + offset;
        const target = at + readI32(bytes, at);
        if (target <= at || target + 4 > length) {
          failure.message = `${shape.name}: field #${slot} points outside the frame`;
          return false;
        }
      }
      continue;
    }
    const at = table + offset;
    const target = at + readI32(bytes, at);
    if (target <= at || target + 4 > length) {
      failure.message = `${shape.name}: field #${slot} points outside the frame`;
      return false;
    }
    const count = readI32(bytes, target);
    // A string is followed by its NUL terminator (as the reference verifier requires).
    const dataBytes = kind === STR ? count + 1 : count * LEVEL_BYTES;
    if (count < 0 || target + 4 + dataBytes > length) {
      failure.message = `${shape.name}: field #${slot} length ${count} runs past the frame`;
      return false;
    }
    if (kind === STR && bytes[target + 4 + count] !== 0) {
      failure.message = `${shape.name}: field #${slot} string is not NUL-terminated`;
      return false;
    }
  }
  return true;
}
