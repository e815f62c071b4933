// Fixed-size binary layouts of CommandRecord and EventRecord, shared by the rings and the journal.
//
// Union slots (state, timeMs, price, quantity, quoteQuantity, amount of a command; side, code, orderId, price, quantity,
// amount, amount2
// of an event)
// hold the field the record's kind carries there (engine/model/vocabulary.ts); the generated slot accessors pick it.
//
// A slot is addressed by its byte offset inside a buffer seen through Int32/Float64/BigInt64/Uint8 views (a ring's
// SharedArrayBuffer or a journal buffer). Offsets are multiples of 8. Bigint fields are int64 on the wire: the
// gateway only admits values that fit (X5), and balances are bounded by AMOUNT_MAX.
import {
  commandAmountSlot,
  commandPriceSlot,
  commandQuantitySlot,
  commandQuoteQuantitySlot,
  commandStateSlot,
  commandTimeMsSlot,
  eventAmount2Slot,
  eventAmountSlot,
  eventBorrowedSlot,
  eventExposureUsdSlot,
  eventLentSlot,
  eventLiabilityUsdSlot,
  eventNetEquityLockedUsdSlot,
  eventNotionalUsdSlot,
  eventPnlUsdSlot,
  eventQuantitySlot,
  eventVolumeUsdSlot,
  eventCodeSlot,
  eventMakerAccountSlot,
  eventOrderIdSlot,
  eventPriceSlot,
  eventSideSlot,
  setCommandAmountSlot,
  setCommandPriceSlot,
  setCommandQuantitySlot,
  setCommandQuoteQuantitySlot,
  setCommandStateSlot,
  setCommandTimeMsSlot,
  setEventAmount2Slot,
  setEventAmountSlot,
  setEventBorrowedSlot,
  setEventExposureUsdSlot,
  setEventLentSlot,
  setEventLiabilityUsdSlot,
  setEventNetEquityLockedUsdSlot,
  setEventNotionalUsdSlot,
  setEventPnlUsdSlot,
  setEventQuantitySlot,
  setEventVolumeUsdSlot,
  setEventCodeSlot,
  setEventMakerAccountSlot,
  setEventOrderIdSlot,
  setEventPriceSlot,
  setEventSideSlot,
  type CommandRecord,
  EventRecord,
} from "./generated/records.ts";
import { CommandKind, ControlKind, EventKind } from "./vocabulary.ts";

export interface RecordViews {
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly i64: BigInt64Array;
  readonly u8: Uint8Array;
}

export function viewsOf(buffer: ArrayBufferLike): RecordViews {
  return {
    i32: new Int32Array(buffer),
    f64: new Float64Array(buffer, 0, buffer.byteLength >> 3),
    i64: new BigInt64Array(buffer, 0, buffer.byteLength >> 3),
    u8: new Uint8Array(buffer),
  };
}

/** Largest amount/quantity/price the engine admits: every such value travels as int64. */
export const AMOUNT_MAX = (1n << 62n) - 1n;

/**
 * The int64 at float64-word index `d` as a bigint. Reading a BigInt64Array element allocates a bigint; most int64
 * fields of a record are zero (fees, the maker's fields, client ids), so a zero word gives the shared 0n instead and
 * the reading thread allocates only for the values that are there.
 */
export function readInt64(v: RecordViews, d: number): bigint {
  return (v.i32[d << 1]! | v.i32[(d << 1) + 1]!) === 0 ? 0n : v.i64[d]!;
}

/**
 * The price or quantity of an order command at float64-word index `d` (on the gateway thread: an order event's
 * price and sizes, a depth level's or the best bid and offer's), as readInt64, but a value read recently comes
 * back as the same bigint instead of a new one: a direct-mapped table of INTERNED_SLOTS entries keyed by the int64's
 * two words (equal words are the same integer, so the bigint there is that value — and bigints are immutable, their
 * identity invisible). An order stream repeats a few prices and sizes, so most commands allocate no bigint to be read
 * (pipeline.excore-mix: ~2 per command), and the values that do stay in the young generation less: an interned bigint
 * is old, so a hold or a book slot that keeps it makes no old-to-new reference for the scavenger to walk.
 */
export function readInt64Interned(v: RecordViews, d: number): bigint {
  const i32 = v.i32;
  const lo = i32[d << 1]!;
  const hi = i32[(d << 1) + 1]!;
  if ((lo | hi) === 0) return 0n;
  const h = Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> (32 - INTERNED_BITS);
  const words = INTERNED_WORDS;
  if (words[2 * h] === lo && words[2 * h + 1] === hi) return INTERNED_VALUES[h]!;
  const value = v.i64[d]!;
  words[2 * h] = lo;
  words[2 * h + 1] = hi;
  INTERNED_VALUES[h] = value;
  return value;
}

const INTERNED_BITS = 12;
/** Each entry's int64 as its two int32 words, in the record's word order (entry 0…: words 2h, 2h + 1). */
const INTERNED_WORDS = new Int32Array(2 << INTERNED_BITS);
/** Each entry's bigint (0n for an entry never written, whose words are zero: a zero int64 never reaches the table). */
const INTERNED_VALUES: bigint[] = new Array<bigint>(1 << INTERNED_BITS).fill(0n);

/** The unsigned 64-bit id (client order id) at float64-word index `d`, with the same zero shortcut. */
function readUint64(v: RecordViews, d: number): bigint {
  return (v.i32[d << 1]! | v.i32[(d << 1) + 1]!) === 0 ? 0n : BigInt.asUintN(64, v.i64[d]!);
}

/** Marker kind (in the kind slot of either record type): the end of a journal batch, with its batch number. */
export const BATCH_END_KIND = ControlKind.BatchEnd;

// ---- commands: 128 bytes ----
export const COMMAND_RECORD_BYTES = 128;
// int32 word offsets within the slot
const C_KIND = 0;
const C_ACCOUNT = 1;
const C_ACCOUNT2 = 2;
const C_MARKET = 3;
const C_ASSET = 4;
const C_SIDE = 5;
const C_ORDER_TYPE = 6;
const C_TIF = 7;
const C_STP = 8;
const C_FLAGS = 9;
const C_STATE = 10;
// float64 word offsets (byte 48..71)
const C_SEQ = 6;
const C_ORDER_ID = 7;
const C_TIME = 8;
// int64 word offsets (byte 72..119)
const C_CLIENT_ID = 9;
const C_PRICE = 10;
const C_QUANTITY = 11;
const C_QUOTE_QUANTITY = 12;
const C_AMOUNT = 13;
const C_POSITION = 14;

export function writeCommand(v: RecordViews, byteOffset: number, c: CommandRecord): void {
  const w = byteOffset >> 2;
  const d = byteOffset >> 3;
  v.i32[w + C_KIND] = c.kind;
  v.i32[w + C_ACCOUNT] = c.account | 0;
  v.i32[w + C_ACCOUNT2] = c.account2 | 0;
  v.i32[w + C_MARKET] = c.market;
  v.i32[w + C_ASSET] = c.asset;
  v.i32[w + C_SIDE] = c.side;
  v.i32[w + C_ORDER_TYPE] = c.orderType;
  v.i32[w + C_TIF] = c.tif;
  v.i32[w + C_STP] = c.stp;
  v.i32[w + C_FLAGS] = c.flags;
  v.i32[w + C_STATE] = commandStateSlot(c);
  v.i32[w + 11] = 0;
  v.f64[d + C_SEQ] = c.seq;
  v.f64[d + C_ORDER_ID] = c.orderId;
  v.f64[d + C_TIME] = commandTimeMsSlot(c);
  v.i64[d + C_CLIENT_ID] = BigInt.asIntN(64, c.clientId);
  v.i64[d + C_PRICE] = commandPriceSlot(c);
  v.i64[d + C_QUANTITY] = commandQuantitySlot(c);
  v.i64[d + C_QUOTE_QUANTITY] = commandQuoteQuantitySlot(c);
  v.i64[d + C_AMOUNT] = commandAmountSlot(c);
  v.i64[d + C_POSITION] = c.positionQuantity;
  v.i64[d + 15] = 0n;
}

/**
 * Reads the command in the slot at `byteOffset` into `c`. The order commands (PlaceOrder, ReplaceOrder, CancelOrder:
 * every command of an order stream) take readOrderCommand, which sets the same fields without the kind switches of
 * the generated slot setters; every other kind takes readCommandBySlots. Both leave `c` in the same state
 * (test/record-layout.test.ts compares them over every kind).
 */
export function readCommand(v: RecordViews, byteOffset: number, c: CommandRecord): void {
  const kind = v.i32[(byteOffset >> 2) + C_KIND]!;
  if (kind === CommandKind.PlaceOrder || kind === CommandKind.ReplaceOrder || kind === CommandKind.CancelOrder) readOrderCommand(v, byteOffset, c, kind);
  else readCommandBySlots(v, byteOffset, c);
}

/**
 * readCommandBySlots for an order command: none of the three kinds is a member of a union slot (engine/model/
 * vocabulary.ts), so each slot's plain field takes the value (the state slot carries nothing) and every member of
 * another kind is zeroed, as the generated setters do.
 */
function readOrderCommand(v: RecordViews, byteOffset: number, c: CommandRecord, kind: CommandKind): void {
  const w = byteOffset >> 2;
  const d = byteOffset >> 3;
  const i32 = v.i32;
  c.kind = kind;
  c.account = i32[w + C_ACCOUNT]! >>> 0;
  c.account2 = i32[w + C_ACCOUNT2]! >>> 0;
  c.market = i32[w + C_MARKET]!;
  c.asset = i32[w + C_ASSET]!;
  c.side = i32[w + C_SIDE]!;
  c.orderType = i32[w + C_ORDER_TYPE]!;
  c.tif = i32[w + C_TIF]!;
  c.stp = i32[w + C_STP]!;
  c.flags = i32[w + C_FLAGS]!;
  c.marketState = 0;
  c.leverageLimit = 0;
  c.curvePoints = 0;
  c.historyLimit = 0;
  c.oracleSource = 0;
  c.liquidationStep = 0;
  c.seq = v.f64[d + C_SEQ]!;
  c.orderId = v.f64[d + C_ORDER_ID]!;
  c.timeMs = v.f64[d + C_TIME]!;
  c.sourceTimeMs = 0;
  c.clientId = readUint64(v, d + C_CLIENT_ID);
  c.price = readInt64Interned(v, d + C_PRICE);
  c.publicKeyWord0 = 0n;
  c.bid = 0n;
  c.quantity = readInt64Interned(v, d + C_QUANTITY);
  c.publicKeyWord1 = 0n;
  c.ask = 0n;
  c.quoteQuantity = readInt64(v, d + C_QUOTE_QUANTITY);
  c.publicKeyWord2 = 0n;
  c.indexPrice = 0n;
  c.last = 0n;
  c.legMarkPrice = 0n;
  c.amount = readInt64(v, d + C_AMOUNT);
  c.publicKeyWord3 = 0n;
  c.meanPremium = 0n;
  c.positionQuantity = readInt64(v, d + C_POSITION);
}

/** Reads any command through the generated slot setters (each slot's field chosen by the command's kind). */
export function readCommandBySlots(v: RecordViews, byteOffset: number, c: CommandRecord): void {
  const w = byteOffset >> 2;
  const d = byteOffset >> 3;
  c.kind = v.i32[w + C_KIND]! as CommandKind | ControlKind;
  c.account = v.i32[w + C_ACCOUNT]! >>> 0;
  c.account2 = v.i32[w + C_ACCOUNT2]! >>> 0;
  c.market = v.i32[w + C_MARKET]!;
  c.asset = v.i32[w + C_ASSET]!;
  c.side = v.i32[w + C_SIDE]!;
  c.orderType = v.i32[w + C_ORDER_TYPE]!;
  c.tif = v.i32[w + C_TIF]!;
  c.stp = v.i32[w + C_STP]!;
  c.flags = v.i32[w + C_FLAGS]!;
  setCommandStateSlot(c, v.i32[w + C_STATE]!);
  c.seq = v.f64[d + C_SEQ]!;
  c.orderId = v.f64[d + C_ORDER_ID]!;
  setCommandTimeMsSlot(c, v.f64[d + C_TIME]!);
  c.clientId = readUint64(v, d + C_CLIENT_ID);
  setCommandPriceSlot(c, readInt64(v, d + C_PRICE));
  setCommandQuantitySlot(c, readInt64(v, d + C_QUANTITY));
  setCommandQuoteQuantitySlot(c, readInt64(v, d + C_QUOTE_QUANTITY));
  setCommandAmountSlot(c, readInt64(v, d + C_AMOUNT));
  c.positionQuantity = readInt64(v, d + C_POSITION);
}

/** Writes a batch-end marker into a command slot. */
export function writeCommandBatchEnd(v: RecordViews, byteOffset: number, batch: number): void {
  v.i32[byteOffset >> 2] = BATCH_END_KIND;
  v.f64[(byteOffset >> 3) + C_SEQ] = batch;
}

export function commandKindAt(v: RecordViews, byteOffset: number): number {
  return v.i32[byteOffset >> 2]!;
}

/** Sequence number of the command in a slot (the batch number for a batch-end marker). */
export function commandSeqAt(v: RecordViews, byteOffset: number): number {
  return v.f64[(byteOffset >> 3) + C_SEQ]!;
}

// ---- events: 400 bytes (144 of fields + up to 256 bytes of ASCII message, or the account block) ----
export const EVENT_MESSAGE_BYTES_MAX = 256;
export const EVENT_RECORD_BYTES = 144 + EVENT_MESSAGE_BYTES_MAX;
const E_KIND = 0;
const E_ACCOUNT = 1;
const E_MARKET = 2;
const E_ASSET = 3;
const E_SIDE = 4;
const E_CODE = 5;
const E_MAKER_ACCOUNT = 6;
const E_MESSAGE_LEN = 7;
// float64 words (byte 32..79)
const E_SEQ = 4;
const E_MARKET_SEQ = 5;
const E_ORDER_ID = 6;
const E_MAKER_ORDER_ID = 7;
const E_TRADE_ID = 8;
const E_TIME = 9;
// int64 words (byte 80..143)
const E_CLIENT_ID = 10;
const E_PRICE = 11;
const E_QUANTITY = 12;
const E_AMOUNT = 13;
const E_AMOUNT2 = 14;
const E_MAKER_CLIENT_ID = 15;
const E_MAKER_FEE = 16;
const E_TAKER_FEE = 17;
const E_MESSAGE_BYTE = 144;
// The account block (EventRecord's lent … feeTier) shares the message bytes: the kinds that carry it (Balance: lent
// and borrowed; the statement and query answers: all of it) never carry a message. It is written and read only for
// those kinds, so order events pay one branch and the record keeps its size.
// int64 words (byte 144..271), then int32 words (byte 272..283)
const E_LENT = 18;
const E_BORROWED = 19;
const E_NET_EQUITY = 20;
const E_NET_EQUITY_LOCKED = 21;
const E_COLLATERAL_VALUE = 22;
const E_LIABILITY = 23;
const E_EXPOSURE = 24;
const E_NOTIONAL = 25;
const E_PNL = 26;
const E_VOLUME = 27;
const E_IMF = 28;
const E_MMF = 29;
const E_MARGIN_FRACTION = 30;
const E_IMR = 31;
const E_MMR = 32;
const E_WEIGHT = 33;
const E_SETTINGS = 68;
const E_LEVERAGE_LIMIT = 69;
const E_FEE_TIER = 70;
const E_MAKER_FEE_BPS = 71;
// (byte 360..367 is the pool block's reservedBorrow; the taker's fee bps follows it.)
const E_TAKER_FEE_BPS = 92;
// The pool block (PoolStats, RateCurvePoint, InterestEntry, MaxBorrowQuantity): int64 words (byte 288..359).
const E_UTILIZATION = 36;
const E_BORROW_RATE = 37;
const E_LEND_RATE = 38;
const E_LEND_RATE_AFTER_FEE = 39;
const E_HOUR_BORROW_RATE = 40;
const E_OPTIMAL_UTILIZATION = 41;
const E_THROTTLE_UTILIZATION = 42;
const E_MAX_UTILIZATION = 43;
const E_POOL_FEE = 44;
const E_RESERVED_BORROW = 45;

/**
 * The trade's block, written and read only for Fill events and the account-block kinds (whose fee fields are zero; their fee
 * bps are makerFeeBps/takerFeeBps of the account block): every other kind has these fields at zero (matching clears them after a fill; risk's events start
 * from a cleared record), so order and balance events skip six stores and six loads. A Fill carries no message.
 */
function writeFillBlock(v: RecordViews, w: number, d: number, e: EventRecord): void {
  v.i32[w + E_MAKER_ACCOUNT] = e.makerAccount | 0;
  v.f64[d + E_MAKER_ORDER_ID] = e.makerOrderId;
  v.f64[d + E_TRADE_ID] = e.tradeId;
  v.i64[d + E_MAKER_CLIENT_ID] = e.makerClientId === 0n ? 0n : BigInt.asIntN(64, e.makerClientId);
  v.i64[d + E_MAKER_FEE] = e.makerFee;
  v.i64[d + E_TAKER_FEE] = e.takerFee;
  v.i32[w + E_MESSAGE_LEN] = 0;
}

function readFillBlock(v: RecordViews, w: number, d: number, e: EventRecord): void {
  e.makerAccount = v.i32[w + E_MAKER_ACCOUNT]! >>> 0;
  e.makerOrderId = v.f64[d + E_MAKER_ORDER_ID]!;
  e.tradeId = v.f64[d + E_TRADE_ID]!;
  e.makerClientId = readUint64(v, d + E_MAKER_CLIENT_ID);
  e.makerFee = readInt64(v, d + E_MAKER_FEE);
  e.takerFee = readInt64(v, d + E_TAKER_FEE);
}

/** Kinds that carry the whole account block (the statement and query answers; Q3/Q4's legs and socialized losses, for
 * their makerAccount, lent and borrowed slots). */
function hasAccountBlock(kind: number): boolean {
  // Q4/Q5's Socialization carries the account's net equity (account block) and its counterparty (the trade block's maker);
  // Q3/Q4's LiquidationTransfer and SocializedLoss carry the account block too, so makerAccount survives the rings.
  return (
    (kind >= EventKind.AccountSettings && kind <= EventKind.MaxBorrowQuantity) ||
    isLiquidationStatus(kind) ||
    kind === EventKind.Position ||
    kind === EventKind.Socialization ||
    kind === EventKind.LiquidationTransfer ||
    kind === EventKind.SocializedLoss
  );
}

/** Q1's LiquidationStarted / LiquidationEnded carry the account block's equity, exposure, MMF and MMR. */
function isLiquidationStatus(kind: number): boolean {
  return kind === EventKind.LiquidationStarted || kind === EventKind.LiquidationEnded;
}

function hasPoolBlock(kind: number): boolean {
  return kind >= EventKind.PoolStats && kind <= EventKind.MaxBorrowQuantity;
}

function writeAccountBlock(v: RecordViews, w: number, d: number, e: EventRecord): void {
  v.i64[d + E_NET_EQUITY] = e.netEquityUsd;
  v.i64[d + E_NET_EQUITY_LOCKED] = eventNetEquityLockedUsdSlot(e);
  v.i64[d + E_COLLATERAL_VALUE] = e.collateralValueUsd;
  v.i64[d + E_LIABILITY] = eventLiabilityUsdSlot(e);
  v.i64[d + E_EXPOSURE] = eventExposureUsdSlot(e);
  v.i64[d + E_NOTIONAL] = eventNotionalUsdSlot(e);
  v.i64[d + E_PNL] = eventPnlUsdSlot(e);
  v.i64[d + E_VOLUME] = eventVolumeUsdSlot(e);
  v.i64[d + E_IMF] = e.imf;
  v.i64[d + E_MMF] = e.mmf;
  v.i64[d + E_MARGIN_FRACTION] = e.marginFraction;
  v.i64[d + E_IMR] = e.imr;
  v.i64[d + E_MMR] = e.mmr;
  v.i64[d + E_WEIGHT] = e.weight;
  v.i32[w + E_SETTINGS] = e.settings;
  v.i32[w + E_LEVERAGE_LIMIT] = e.leverageLimit;
  v.i32[w + E_FEE_TIER] = e.feeTier;
  v.i32[w + E_MAKER_FEE_BPS] = e.makerFeeBps;
  v.i32[w + E_TAKER_FEE_BPS] = e.takerFeeBps;
  if (!hasPoolBlock(e.kind)) return;
  v.i64[d + E_UTILIZATION] = e.utilization;
  v.i64[d + E_BORROW_RATE] = e.borrowRate;
  v.i64[d + E_LEND_RATE] = e.lendRate;
  v.i64[d + E_LEND_RATE_AFTER_FEE] = e.lendRateAfterFee;
  v.i64[d + E_HOUR_BORROW_RATE] = e.hourBorrowRate;
  v.i64[d + E_OPTIMAL_UTILIZATION] = e.optimalUtilization;
  v.i64[d + E_THROTTLE_UTILIZATION] = e.throttleUtilization;
  v.i64[d + E_MAX_UTILIZATION] = e.maxUtilization;
  v.i64[d + E_POOL_FEE] = e.poolFee;
  v.i64[d + E_RESERVED_BORROW] = e.reservedBorrow;
}

function readAccountBlock(v: RecordViews, w: number, d: number, e: EventRecord): void {
  e.netEquityUsd = readInt64(v, d + E_NET_EQUITY);
  setEventNetEquityLockedUsdSlot(e, readInt64(v, d + E_NET_EQUITY_LOCKED));
  e.collateralValueUsd = readInt64(v, d + E_COLLATERAL_VALUE);
  setEventLiabilityUsdSlot(e, readInt64(v, d + E_LIABILITY));
  setEventExposureUsdSlot(e, readInt64(v, d + E_EXPOSURE));
  setEventNotionalUsdSlot(e, readInt64(v, d + E_NOTIONAL));
  setEventPnlUsdSlot(e, readInt64(v, d + E_PNL));
  setEventVolumeUsdSlot(e, readInt64(v, d + E_VOLUME));
  e.imf = readInt64(v, d + E_IMF);
  e.mmf = readInt64(v, d + E_MMF);
  e.marginFraction = readInt64(v, d + E_MARGIN_FRACTION);
  e.imr = readInt64(v, d + E_IMR);
  e.mmr = readInt64(v, d + E_MMR);
  e.weight = readInt64(v, d + E_WEIGHT);
  e.settings = v.i32[w + E_SETTINGS]!;
  e.leverageLimit = v.i32[w + E_LEVERAGE_LIMIT]!;
  e.feeTier = v.i32[w + E_FEE_TIER]!;
  e.makerFeeBps = v.i32[w + E_MAKER_FEE_BPS]!;
  e.takerFeeBps = v.i32[w + E_TAKER_FEE_BPS]!;
  if (!hasPoolBlock(e.kind)) return;
  e.utilization = readInt64(v, d + E_UTILIZATION);
  e.borrowRate = readInt64(v, d + E_BORROW_RATE);
  e.lendRate = readInt64(v, d + E_LEND_RATE);
  e.lendRateAfterFee = readInt64(v, d + E_LEND_RATE_AFTER_FEE);
  e.hourBorrowRate = readInt64(v, d + E_HOUR_BORROW_RATE);
  e.optimalUtilization = readInt64(v, d + E_OPTIMAL_UTILIZATION);
  e.throttleUtilization = readInt64(v, d + E_THROTTLE_UTILIZATION);
  e.maxUtilization = readInt64(v, d + E_MAX_UTILIZATION);
  e.poolFee = readInt64(v, d + E_POOL_FEE);
  e.reservedBorrow = readInt64(v, d + E_RESERVED_BORROW);
}

/**
 * Writes event `e` into the slot at `byteOffset`. The three kinds most events are (an order's OrderAccepted and
 * OrderDone, and the Balance risk publishes after a hold moves: ~3 per command of pipeline.excore-mix) take
 * writeOrderOrBalanceEvent, which stores the same words without the kind switches of the slot accessors (a third of
 * the time per event); every other kind, and an order event with a message, takes writeEventBySlots. The two paths
 * write identical bytes (test/record-layout.test.ts compares them).
 */
export function writeEvent(v: RecordViews, byteOffset: number, e: EventRecord): void {
  const kind = e.kind;
  if (kind === EventKind.Balance || ((kind === EventKind.OrderAccepted || kind === EventKind.OrderDone) && e.message.length === 0)) {
    writeOrderOrBalanceEvent(v, byteOffset, e, kind);
  } else {
    writeEventBySlots(v, byteOffset, e);
  }
}

/**
 * writeEventBySlots for an OrderAccepted or OrderDone without a message, or a Balance, with each slot's field named
 * (engine/model/vocabulary.ts): side, code, orderId, price and quantity are the fields of those names for the three
 * kinds; amount and amount2 are openQuantity and quoteQuantity (OrderAccepted), remainingQuantity and filledQuantity
 * (OrderDone), available and locked (Balance); a Balance also carries lent and borrowed, and no message.
 */
function writeOrderOrBalanceEvent(v: RecordViews, byteOffset: number, e: EventRecord, kind: number): void {
  const w = byteOffset >> 2;
  const d = byteOffset >> 3;
  const i32 = v.i32;
  const f64 = v.f64;
  const i64 = v.i64;
  i32[w + E_KIND] = kind;
  i32[w + E_ACCOUNT] = e.account | 0;
  i32[w + E_MARKET] = e.market;
  i32[w + E_ASSET] = e.asset;
  i32[w + E_SIDE] = e.side;
  i32[w + E_CODE] = e.code;
  f64[d + E_SEQ] = e.seq;
  f64[d + E_MARKET_SEQ] = e.marketSeq;
  f64[d + E_ORDER_ID] = e.orderId;
  f64[d + E_TIME] = e.timeMs;
  i64[d + E_CLIENT_ID] = e.clientId === 0n ? 0n : BigInt.asIntN(64, e.clientId);
  i64[d + E_PRICE] = e.price;
  i64[d + E_QUANTITY] = e.quantity;
  i32[w + E_MESSAGE_LEN] = 0;
  if (kind === EventKind.Balance) {
    if (e.unitsInColumn) {
      // Column to column: no heap bigint (EventSink.unitColumns).
      const units = e.units;
      i64[d + E_AMOUNT] = units[0]!;
      i64[d + E_AMOUNT2] = units[1]!;
    } else {
      i64[d + E_AMOUNT] = e.available;
      i64[d + E_AMOUNT2] = e.locked;
    }
    i64[d + E_LENT] = e.lent;
    i64[d + E_BORROWED] = e.borrowed;
  } else if (kind === EventKind.OrderAccepted) {
    i64[d + E_AMOUNT] = e.openQuantity;
    i64[d + E_AMOUNT2] = e.quoteQuantity;
  } else {
    i64[d + E_AMOUNT] = e.remainingQuantity;
    i64[d + E_AMOUNT2] = e.filledQuantity;
  }
}

/** Writes any event through the generated slot accessors (each slot's field chosen by the event's kind). */
export function writeEventBySlots(v: RecordViews, byteOffset: number, e: EventRecord): void {
  const w = byteOffset >> 2;
  const d = byteOffset >> 3;
  const kind = e.kind;
  v.i32[w + E_KIND] = kind;
  v.i32[w + E_ACCOUNT] = e.account | 0;
  v.i32[w + E_MARKET] = e.market;
  v.i32[w + E_ASSET] = e.asset;
  v.i32[w + E_SIDE] = eventSideSlot(e);
  v.i32[w + E_CODE] = eventCodeSlot(e);
  v.f64[d + E_SEQ] = e.seq;
  v.f64[d + E_MARKET_SEQ] = e.marketSeq;
  v.f64[d + E_ORDER_ID] = eventOrderIdSlot(e);
  v.f64[d + E_TIME] = e.timeMs;
  v.i64[d + E_CLIENT_ID] = e.clientId === 0n ? 0n : BigInt.asIntN(64, e.clientId);
  v.i64[d + E_PRICE] = eventPriceSlot(e);
  v.i64[d + E_QUANTITY] = eventQuantitySlot(e);
  v.i64[d + E_AMOUNT] = eventAmountSlot(e);
  v.i64[d + E_AMOUNT2] = eventAmount2Slot(e);
  if (kind === EventKind.Fill) {
    writeFillBlock(v, w, d, e);
    return;
  }
  if (kind === EventKind.Balance || hasAccountBlock(kind)) {
    v.i32[w + E_MESSAGE_LEN] = 0;
    v.i64[d + E_LENT] = eventLentSlot(e);
    v.i64[d + E_BORROWED] = eventBorrowedSlot(e);
    if (kind === EventKind.Balance && e.unitsInColumn) {
      v.i64[d + E_AMOUNT] = e.units[0]!;
      v.i64[d + E_AMOUNT2] = e.units[1]!;
    }
    if (kind !== EventKind.Balance) {
      writeFillBlock(v, w, d, e);
      v.i32[w + E_MAKER_ACCOUNT] = eventMakerAccountSlot(e) | 0; // Socialization's counterparty (a Fill keeps the fast path)
      writeAccountBlock(v, w, d, e);
    }
    return;
  }
  // Messages are ASCII by construction (engine-written); anything else is replaced by '?'.
  const m = e.message;
  const n = m.length < EVENT_MESSAGE_BYTES_MAX ? m.length : EVENT_MESSAGE_BYTES_MAX;
  const base = byteOffset + E_MESSAGE_BYTE;
  for (let i = 0; i < n; i++) {
    const ch = m.charCodeAt(i);
    v.u8[base + i] = ch < 128 ? ch : 63;
  }
  v.i32[w + E_MESSAGE_LEN] = n;
}

export function readEvent(v: RecordViews, byteOffset: number, e: EventRecord): void {
  const w = byteOffset >> 2;
  const d = byteOffset >> 3;
  const kind = v.i32[w + E_KIND]! as EventKind | ControlKind;
  e.kind = kind;
  e.account = v.i32[w + E_ACCOUNT]! >>> 0;
  e.market = v.i32[w + E_MARKET]!;
  e.asset = v.i32[w + E_ASSET]!;
  setEventSideSlot(e, v.i32[w + E_SIDE]!);
  setEventCodeSlot(e, v.i32[w + E_CODE]!);
  e.seq = v.f64[d + E_SEQ]!;
  e.marketSeq = v.f64[d + E_MARKET_SEQ]!;
  setEventOrderIdSlot(e, v.f64[d + E_ORDER_ID]!);
  e.timeMs = v.f64[d + E_TIME]!;
  e.clientId = readUint64(v, d + E_CLIENT_ID);
  setEventPriceSlot(e, readInt64(v, d + E_PRICE));
  setEventQuantitySlot(e, readInt64(v, d + E_QUANTITY));
  setEventAmountSlot(e, readInt64(v, d + E_AMOUNT));
  setEventAmount2Slot(e, readInt64(v, d + E_AMOUNT2));
  if (kind === EventKind.Fill) {
    readFillBlock(v, w, d, e);
    e.message = "";
    return;
  }
  if (hasAccountBlock(kind)) {
    // The statement and query answers carry the trade's block like a fill (its fields zero).
    readFillBlock(v, w, d, e);
    setEventMakerAccountSlot(e, v.i32[w + E_MAKER_ACCOUNT]! >>> 0);
    e.message = "";
    setEventLentSlot(e, readInt64(v, d + E_LENT));
    setEventBorrowedSlot(e, readInt64(v, d + E_BORROWED));
    readAccountBlock(v, w, d, e);
    return;
  }
  // Every other kind leaves the maker's fields, the fees and the trade id at zero (writeEvent does not carry them).
  e.makerAccount = 0;
  e.makerOrderId = 0;
  e.tradeId = 0;
  e.makerClientId = 0n;
  e.makerFee = 0n;
  e.takerFee = 0n;
  if (kind === EventKind.Balance) {
    e.message = "";
    e.lent = readInt64(v, d + E_LENT);
    e.borrowed = readInt64(v, d + E_BORROWED);
    return;
  }
  e.message = readEventMessage(v, byteOffset);
}

/** The event slot's message (ASCII, EVENT_MESSAGE_BYTES_MAX at most): "" when it has none. */
function readEventMessage(v: RecordViews, byteOffset: number): string {
  const n = v.i32[(byteOffset >> 2) + E_MESSAGE_LEN]!;
  return n === 0 ? "" : String.fromCharCode.apply(null, v.u8.subarray(byteOffset + E_MESSAGE_BYTE, byteOffset + E_MESSAGE_BYTE + n) as unknown as number[]);
}

/** True for the kinds EventRecordReader reads without the per-slot resets (writeOrderOrBalanceEvent's kinds). */
function isOrderOrBalanceKind(kind: number): boolean {
  return kind === EventKind.Balance || kind === EventKind.OrderAccepted || kind === EventKind.OrderDone;
}

/**
 * readEvent into one record that receives every event a reader reads (the gateway's drain of the engine's out rings),
 * with the commonest kinds — OrderAccepted, OrderDone, Balance, ~90% of a market maker's events — read without the
 * generated per-slot resets (each slot setter zeroes every field its slot could mean, ~70 stores and a switch per
 * event). The record ends exactly as readEvent would leave it (test/record-layout.test.ts reads random kind sequences
 * both ways and compares every field): after a read of one of those kinds, by either path, every field readEvent
 * resets for them is zero except the few the three kinds carry (side, code, orderId, price, quantity, and the amount
 * slots' openQuantity / quoteQuantity, remainingQuantity / filledQuantity, available / locked), and the maker's fields
 * are zero; so the next read of one of them need only write those. Any other kind goes through readEvent and the
 * next read does too. The record is the reader's: a consumer that writes into it breaks that invariant.
 */
export class EventRecordReader {
  readonly record = new EventRecord();
  /** The last read was an order-or-balance kind: readOrderOrBalance's invariant above holds. */
  private orderOrBalanceOnly = false;

  read(v: RecordViews, byteOffset: number): EventRecord {
    const e = this.record;
    const kind = v.i32[(byteOffset >> 2) + E_KIND]!;
    if (!isOrderOrBalanceKind(kind)) {
      readEvent(v, byteOffset, e);
      this.orderOrBalanceOnly = false;
    } else if (this.orderOrBalanceOnly) {
      readOrderOrBalanceEvent(v, byteOffset, e, kind);
    } else {
      readEvent(v, byteOffset, e);
      this.orderOrBalanceOnly = true;
    }
    return e;
  }
}

/**
 * readEvent of an OrderAccepted, OrderDone or Balance into a record whose last read was one of them (EventRecordReader):
 * the fields readEvent writes for the kind, and zero in the other two kinds' amount-slot fields.
 */
function readOrderOrBalanceEvent(v: RecordViews, byteOffset: number, e: EventRecord, kind: number): void {
  const w = byteOffset >> 2;
  const d = byteOffset >> 3;
  const i32 = v.i32;
  const f64 = v.f64;
  e.kind = kind as EventKind;
  e.account = i32[w + E_ACCOUNT]! >>> 0;
  e.market = i32[w + E_MARKET]!;
  e.asset = i32[w + E_ASSET]!;
  e.side = i32[w + E_SIDE]!;
  e.code = i32[w + E_CODE]!;
  e.seq = f64[d + E_SEQ]!;
  e.marketSeq = f64[d + E_MARKET_SEQ]!;
  e.orderId = f64[d + E_ORDER_ID]!;
  e.timeMs = f64[d + E_TIME]!;
  e.clientId = readUint64(v, d + E_CLIENT_ID);
  // An order's price and size repeat from event to event (its OrderAccepted and OrderDone, the next quote's), and so
  // does its open or remaining size: the gateway reads them through the table of recent values, as the engine reads
  // commands' (no bigint allocated). The event path's young bytes fell from ~144 to ~95 an event
  // (bench/gateway-cpu-compare.ts --alloc), the gateway thread's scavenges a closed-loop ack by ~30%.
  e.price = readInt64Interned(v, d + E_PRICE);
  e.quantity = readInt64Interned(v, d + E_QUANTITY);
  const amount = readInt64Interned(v, d + E_AMOUNT);
  const amount2 = readInt64(v, d + E_AMOUNT2);
  const accepted = kind === EventKind.OrderAccepted;
  const done = kind === EventKind.OrderDone;
  const balance = kind === EventKind.Balance;
  e.openQuantity = accepted ? amount : 0n;
  e.quoteQuantity = accepted ? amount2 : 0n;
  e.remainingQuantity = done ? amount : 0n;
  e.filledQuantity = done ? amount2 : 0n;
  e.available = balance ? amount : 0n;
  e.locked = balance ? amount2 : 0n;
  if (balance) {
    e.message = "";
    e.lent = readInt64(v, d + E_LENT);
    e.borrowed = readInt64(v, d + E_BORROWED);
    return;
  }
  e.message = readEventMessage(v, byteOffset);
}

/**
 * The end of a stage's events of `batch`. A risk stage sets `passesPending` when its shard still has P4 payments or a
 * P5 realization pass left after the batch (engine.ts decision P5S): the gateway then keeps clock ticks coming; and
 * `idleBatchActs` when a next batch of read-only queries alone would still change state (RiskShard.idleBatchActs): the
 * gateway then journals such a batch (gateway/sequencer.ts).
 */
export function writeEventBatchEnd(v: RecordViews, byteOffset: number, batch: number, passesPending = false, idleBatchActs = false): void {
  v.i32[(byteOffset >> 2) + E_KIND] = BATCH_END_KIND;
  v.i32[(byteOffset >> 2) + E_CODE] = (passesPending ? BATCH_END_PASSES : 0) | (idleBatchActs ? BATCH_END_IDLE_ACTS : 0);
  v.f64[(byteOffset >> 3) + E_SEQ] = batch;
}

/** Bits of a batch end's code slot. */
const BATCH_END_PASSES = 1;
const BATCH_END_IDLE_ACTS = 2;

/** P5S: did the stage whose batch end is at byteOffset report spread passes still pending? */
export function batchEndPassesPending(v: RecordViews, byteOffset: number): boolean {
  return (v.i32[(byteOffset >> 2) + E_CODE]! & BATCH_END_PASSES) !== 0;
}

/** Did the stage whose batch end is at byteOffset report that a next batch of queries alone would change state? */
export function batchEndIdleBatchActs(v: RecordViews, byteOffset: number): boolean {
  return (v.i32[(byteOffset >> 2) + E_CODE]! & BATCH_END_IDLE_ACTS) !== 0;
}

export function eventKindAt(v: RecordViews, byteOffset: number): number {
  return v.i32[(byteOffset >> 2) + E_KIND]!;
}

export function eventSeqAt(v: RecordViews, byteOffset: number): number {
  return v.f64[(byteOffset >> 3) + E_SEQ]!;
}
