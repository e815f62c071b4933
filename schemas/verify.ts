// Bounds verifier for crossbook.fbs frames: the flatbuffers JS runtime reads whatever an offset points at, so
// every table, vtable, field, string and vector of a frame is checked to lie inside the buffer before anything
// reads it. It also reports where each field of the envelope and of its union table sits, so the server's hot
// path reads fields at those positions without walking the vtable again.
//
// The layouts below restate the schema (every field by its .fbs name, in declaration order = vtable slot order; a
// union field `x` is two slots, `x_type` and `x`); test/schemas.test.ts parses crossbook.fbs and checks they
// match, so a schema change cannot leave them stale.

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
/** More slots than any table has; sizes the position arrays. */
export const SLOTS_MAX = 32;
const { U8, U16, U32, U64, Decimal: DEC, String: STR, LevelVector: LVEC, UnionValue: UVAL } = FieldKind;

export interface TableLayout {
  readonly name: string;
  /** FieldKind per vtable slot. */
  readonly fields: readonly number[];
  /** The .fbs field name per vtable slot. */
  readonly fieldNames: readonly string[];
}

/** A layout that also maps each field name to its slot (for reading a position array). */
export interface NamedLayout<F extends string> extends TableLayout {
  readonly slot: { readonly [K in F]: number };
}

function layout<const T extends Record<string, number>>(name: string, spec: T): NamedLayout<Extract<keyof T, string>> {
  const fieldNames = Object.keys(spec);
  const slot: Record<string, number> = {};
  fieldNames.forEach((field, i) => {
    slot[field] = i;
  });
  if (fieldNames.length > SLOTS_MAX) throw new Error(`${name}: more than ${SLOTS_MAX} fields`);
  return {
    name,
    fields: fieldNames.map((f) => spec[f]!),
    fieldNames,
    slot: slot as { [K in Extract<keyof T, string>]: number },
  };
}

const ORDER_FLAGS = { auto_borrow: U8, auto_borrow_repay: U8, auto_lend: U8, auto_lend_redeem: U8 } as const;

export const DEPOSIT = layout("Deposit", { account: U32, asset: U16, amount: DEC });
export const WITHDRAW = layout("Withdraw", { account: U32, asset: U16, amount: DEC, margin: U8 });
export const LIMIT_ORDER = layout("LimitOrder", {
  account: U32,
  market: U16,
  side: U8,
  tif: U8,
  price: DEC,
  quantity: DEC,
  post_only: U8,
  reduce_only: U8,
  client_id: U64,
  stp: U8,
  ...ORDER_FLAGS,
});
export const MARKET_ORDER = layout("MarketOrder", {
  account: U32,
  market: U16,
  side: U8,
  quantity: DEC,
  quote_quantity: DEC,
  reduce_only: U8,
  client_id: U64,
  stp: U8,
  ...ORDER_FLAGS,
});
export const CANCEL = layout("Cancel", { account: U32, market: U16, order_id: U64, client_id: U64 });
export const CANCEL_ALL = layout("CancelAll", { account: U32, market: U16 });
export const REPLACE = layout("Replace", {
  account: U32,
  market: U16,
  order_id: U64,
  client_id: U64,
  price: DEC,
  quantity: DEC,
});
export const TRANSFER = layout("Transfer", { from_account: U32, to_account: U32, asset: U16, amount: DEC });
export const SET_MARKET_STATE = layout("SetMarketState", { market: U16, state: U8 });
export const ADVANCE_TIME = layout("AdvanceTime", { time_ms: U64 });
export const SUBSCRIBE = layout("Subscribe", { market: U16, channels: U8 });
export const UNSUBSCRIBE = layout("Unsubscribe", { market: U16, channels: U8 });
const SETTING_TOGGLES = {
  auto_lend: U8,
  auto_repay_borrows: U8,
  auto_borrow_settlements: U8,
  auto_realize_pnl: U8,
  margin_enabled: U8,
} as const;
export const UPDATE_ACCOUNT_SETTINGS = layout("UpdateAccountSettings", {
  account: U32,
  leverage_limit: U8,
  ...SETTING_TOGGLES,
});
export const SET_MARK_PRICE = layout("SetMarkPrice", { asset: U16, price: DEC });
export const QUERY_COLLATERAL = layout("QueryCollateral", { account: U32 });
export const QUERY_MAX_ORDER = layout("QueryMaxOrder", { account: U32, market: U16, side: U8, price: DEC, ...ORDER_FLAGS });
export const QUERY_MAX_WITHDRAWAL = layout("QueryMaxWithdrawal", { account: U32, asset: U16, margin: U8 });
export const BORROW = layout("Borrow", { account: U32, asset: U16, amount: DEC });
export const REPAY = layout("Repay", { account: U32, asset: U16, amount: DEC });
export const LEND = layout("Lend", { account: U32, asset: U16, amount: DEC });
export const REDEEM = layout("Redeem", { account: U32, asset: U16, amount: DEC });
export const QUERY_POOL_STATS = layout("QueryPoolStats", { asset: U16 });
export const QUERY_RATE_CURVE = layout("QueryRateCurve", { asset: U16, points: U8 });
export const QUERY_INTEREST_HISTORY = layout("QueryInterestHistory", { account: U32, asset: U16, since_ms: U64, limit: U16 });
export const QUERY_MAX_BORROW = layout("QueryMaxBorrow", { account: U32, asset: U16 });
export const LOGIN = layout("Login", { api_key: STR, signature: STR, timestamp_ms: U64, window_ms: U32 });
export const REGISTER_API_KEY = layout("RegisterApiKey", { user: U32, api_key: STR, permissions: U8 });
export const REVOKE_API_KEY = layout("RevokeApiKey", { user: U32, api_key: STR });
export const RESUME_ACCOUNT = layout("ResumeAccount", { account: U32, from_seq: U64 });
export const QUERY_ACCOUNT_SNAPSHOT = layout("QueryAccountSnapshot", { account: U32 });
export const TAKE_SNAPSHOT = layout("TakeSnapshot", {});
export const ORACLE_QUOTE = layout("OracleQuote", { asset: U16, source: U8, bid: DEC, ask: DEC, last: DEC, source_time_ms: U64, apply: U8 });
export const QUERY_POSITIONS = layout("QueryPositions", { account: U32 });
export const QUERY_OPEN_INTEREST = layout("QueryOpenInterest", { market: U16 });
export const QUERY_LIQUIDATION_HISTORY = layout("QueryLiquidationHistory", { account: U32, since_ms: U64, limit: U16 });
export const QUERY_INSURANCE_FUND = layout("QueryInsuranceFund", { asset: U16 });
export const QUERY_INSURANCE_HISTORY = layout("QueryInsuranceHistory", { asset: U16, since_ms: U64, limit: U16 });
export const QUERY_SETTLEMENT_HISTORY = layout("QuerySettlementHistory", { account: U32, market: U16, since_ms: U64, limit: U16 });
export const QUERY_FUNDING_HISTORY = layout("QueryFundingHistory", { account: U32, market: U16, since_ms: U64, limit: U16 });
export const QUERY_FUNDING_RATE_HISTORY = layout("QueryFundingRateHistory", { market: U16, since_ms: U64, limit: U16 });
export const QUERY_LENDER_LOSSES = layout("QueryLenderLosses", { asset: U16, since_ms: U64, limit: U16 });
export const QUERY_WHAT_IF = layout("QueryWhatIf", {
  asset_1: U16, factor_1: DEC, asset_2: U16, factor_2: DEC, asset_3: U16, factor_3: DEC, asset_4: U16, factor_4: DEC, stages_max: U16,
});

/** Indexed by the `Command` union type (0 = NONE). */
export const COMMAND_LAYOUTS: readonly (TableLayout | null)[] = [
  null,
  DEPOSIT,
  WITHDRAW,
  LIMIT_ORDER,
  MARKET_ORDER,
  CANCEL,
  CANCEL_ALL,
  REPLACE,
  TRANSFER,
  SET_MARKET_STATE,
  ADVANCE_TIME,
  SUBSCRIBE,
  UNSUBSCRIBE,
  UPDATE_ACCOUNT_SETTINGS,
  SET_MARK_PRICE,
  QUERY_COLLATERAL,
  QUERY_MAX_ORDER,
  QUERY_MAX_WITHDRAWAL,
  BORROW,
  REPAY,
  LEND,
  REDEEM,
  QUERY_POOL_STATS,
  QUERY_RATE_CURVE,
  QUERY_INTEREST_HISTORY,
  QUERY_MAX_BORROW,
  LOGIN,
  REGISTER_API_KEY,
  REVOKE_API_KEY,
  RESUME_ACCOUNT,
  QUERY_ACCOUNT_SNAPSHOT,
  TAKE_SNAPSHOT,
  ORACLE_QUOTE,
  QUERY_POSITIONS,
  QUERY_OPEN_INTEREST,
  QUERY_LIQUIDATION_HISTORY,
  QUERY_INSURANCE_FUND,
  QUERY_INSURANCE_HISTORY,
  QUERY_SETTLEMENT_HISTORY,
  QUERY_FUNDING_HISTORY,
  QUERY_FUNDING_RATE_HISTORY,
  QUERY_LENDER_LOSSES,
  QUERY_WHAT_IF,
];

/** Indexed by the `Event` union type (0 = NONE). */
export const EVENT_LAYOUTS: readonly (TableLayout | null)[] = [
  null,
  layout("OrderAccepted", {
    account: U32,
    market: U16,
    order_id: U64,
    client_id: U64,
    side: U8,
    price: DEC,
    quantity: DEC,
  }),
  layout("OrderRejected", { account: U32, market: U16, order_id: U64, client_id: U64, code: U16, message: STR }),
  layout("Fill", {
    market: U16,
    trade_id: U64,
    price: DEC,
    quantity: DEC,
    quote_quantity: DEC,
    taker_account: U32,
    maker_account: U32,
    taker_order_id: U64,
    maker_order_id: U64,
    taker_client_id: U64,
    maker_client_id: U64,
    taker_side: U8,
    fee: DEC,
    fee_asset: U16,
    is_maker: U8,
    time_ms: U64,
  }),
  layout("OrderDone", {
    account: U32,
    market: U16,
    order_id: U64,
    client_id: U64,
    side: U8,
    reason: U8,
    filled: DEC,
    remaining: DEC,
  }),
  layout("Balance", { account: U32, asset: U16, available: DEC, locked: DEC, lent: DEC, borrowed: DEC }),
  layout("CommandAccepted", { account: U32, asset: U16, amount: DEC, canceled_orders: U32 }),
  layout("CommandRejected", { account: U32, code: U16, message: STR }),
  layout("Clock", { time_ms: U64 }),
  layout("DepthSnapshot", { market: U16, last_update_id: U64, bids: LVEC, asks: LVEC }),
  layout("DepthDelta", { market: U16, first_update_id: U64, last_update_id: U64, bids: LVEC, asks: LVEC }),
  layout("Trade", {
    market: U16,
    trade_id: U64,
    price: DEC,
    quantity: DEC,
    quote_quantity: DEC,
    taker_side: U8,
    time_ms: U64,
  }),
  layout("BookTicker", {
    market: U16,
    update_id: U64,
    bid_price: DEC,
    bid_quantity: DEC,
    ask_price: DEC,
    ask_quantity: DEC,
  }),
  layout("Ticker", {
    market: U16,
    open_time_ms: U64,
    close_time_ms: U64,
    open: DEC,
    high: DEC,
    low: DEC,
    close: DEC,
    volume: DEC,
    quote_volume: DEC,
    trade_count: U64,
  }),
  layout("AccountSettings", { account: U32, leverage_limit: U8, ...SETTING_TOGGLES }),
  layout("AccountCollateral", {
    account: U32,
    net_equity: DEC,
    net_equity_available: DEC,
    net_equity_locked: DEC,
    collateral_value: DEC,
    borrow_liability: DEC,
    unrealized_pnl: DEC,
    exposure_notional: DEC,
    imf: DEC,
    mmf: DEC,
    margin_fraction: DEC,
    imr: DEC,
    mmr: DEC,
    liquidatable: U8,
    leverage_limit: U8,
    ...SETTING_TOGGLES,
    fee_tier: U8,
    maker_fee_bps: U16,
    taker_fee_bps: U16,
    volume_30d: DEC,
  }),
  layout("AssetCollateral", {
    account: U32,
    asset: U16,
    quantity: DEC,
    available: DEC,
    open_order_quantity: DEC,
    lent: DEC,
    borrowed: DEC,
    mark_price: DEC,
    weight: DEC,
    notional: DEC,
    collateral_value: DEC,
    liability: DEC,
  }),
  layout("MaxOrderQuantity", { account: U32, market: U16, side: U8, price: DEC, quantity: DEC, margin_limit: DEC }),
  layout("MaxWithdrawalQuantity", { account: U32, asset: U16, quantity: DEC, margin_limit: DEC }),
  layout("PoolStats", {
    asset: U16,
    state: U8,
    throttled: U8,
    total_lent: DEC,
    total_borrowed: DEC,
    free_liquidity: DEC,
    reserved: DEC,
    open_borrow_lend_limit: DEC,
    utilization: DEC,
    borrow_rate: DEC,
    lend_rate: DEC,
    lend_rate_after_fee: DEC,
    hour_borrow_rate: DEC,
    optimal_utilization: DEC,
    throttle_utilization: DEC,
    max_utilization: DEC,
    fee: DEC,
  }),
  layout("RateCurvePoint", { asset: U16, utilization: DEC, borrow_rate: DEC, lend_rate: DEC, lend_rate_after_fee: DEC }),
  layout("InterestEntry", { account: U32, asset: U16, kind: U8, amount: DEC, rate: DEC, time_ms: U64 }),
  layout("MaxBorrowQuantity", { account: U32, asset: U16, quantity: DEC, margin_limit: DEC, pool_limit: DEC }),
  layout("OpenOrder", { account: U32, market: U16, order_id: U64, client_id: U64, side: U8, price: DEC, remaining: DEC }),
  layout("AccountSnapshot", { account: U32, valid_at_seq: U64, balances: U32, orders: U32 }),
  layout("ResumeDone", { account: U32, from_seq: U64, events: U32, complete: U8 }),
  layout("SnapshotTaken", { seq: U64, batch: U64, state_hash: STR, bytes: U64, file: STR }),
  layout("IndexPrice", { asset: U16, index: DEC, stale: U8, sources_used: U8, step_limited: U8, time_ms: U64 }),
  layout("MarkPrice", { market: U16, mark: DEC, index: DEC, source: U8, predicted_funding_rate: DEC, next_funding_time_ms: U64, time_ms: U64 }),
  layout("FundingRate", { market: U16, rate: DEC, mean_premium: DEC, samples: U32, time_ms: U64, mark: DEC }),
  layout("LiquidationStarted", { account: U32, net_equity: DEC, exposure_notional: DEC, mmf: DEC, mmr: DEC, time_ms: U64 }),
  layout("LiquidationEnded", { account: U32, net_equity: DEC, exposure_notional: DEC, mmf: DEC, mmr: DEC, time_ms: U64 }),
  layout("Settlement", { account: U32, market: U16, asset: U16, reason: U8, step: U8, amount: DEC, time_ms: U64 }),
  layout("Position", {
    account: U32, market: U16, net_quantity: DEC, entry_price: DEC, break_even_price: DEC, mark_price: DEC, pnl_unrealized: DEC,
    pnl_realized: DEC, cumulative_funding_payment: DEC, net_exposure_quantity: DEC, net_exposure_notional: DEC, imf: DEC, mmf: DEC,
    est_liquidation_price: DEC, time_ms: U64,
  }),
  layout("OpenInterest", { market: U16, quantity: DEC, time_ms: U64 }),
  layout("InsuranceFund", { asset: U16, balance: DEC, time_ms: U64 }),
  layout("InsuranceEntry", { asset: U16, reason: U8, amount: DEC, balance: DEC, time_ms: U64 }),
  layout("FundingPayment", { account: U32, market: U16, rate: DEC, mark: DEC, quantity: DEC, amount: DEC, time_ms: U64 }),
  layout("Socialization", {
    account: U32, asset: U16, market: U16, kind: U8, quantity: DEC, amount: DEC, loss: DEC, price: DEC, counterparty: U32, net_equity: DEC,
    time_ms: U64,
  }),
  layout("LiquidationTransfer", {
    step: U8, from_account: U32, to_account: U32, market: U16, asset: U16, side: U8, quantity: DEC, price: DEC, amount: DEC,
    borrow_shares: DEC, borrowed: DEC, mark: DEC, time_ms: U64,
  }),
  layout("SocializedLoss", {
    account: U32, market: U16, asset: U16, quantity: DEC, bankruptcy_price: DEC, mark: DEC, loss: DEC, insurance_balance: DEC, time_ms: U64,
  }),
  layout("WhatIfStage", { stage: U32, started: U32, ended: U32, fills: U32, insurance_fund: DEC }),
  layout("WhatIfFills", { stage: U32, market: U16, fills: U32, quantity: DEC, quote_quantity: DEC }),
  layout("WhatIfAccount", { stage: U32, account: U32, started: U8, net_equity: DEC, exposure: DEC, mmr: DEC }),
  layout("WhatIfDone", {
    seq: U64, stages: U32, liquidating_before: U32, liquidating_after: U32, liquidating_exposure: DEC, insurance_fund_before: DEC,
    insurance_fund_after: DEC, cut_short: U8, accounts_left_out: U32,
  }),
];

export const COMMAND_ENVELOPE = layout("CommandEnvelope", { client_seq: U64, command_type: U8, command: UVAL });
export const EVENT_ENVELOPE = layout("EventEnvelope", {
  client_seq: U64,
  seq: U64,
  market_seq: U64,
  event_type: U8,
  event: UVAL,
});

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

/**
 * Where the fields of a verified frame are: absolute byte positions per slot (0 = absent, read the schema
 * default), for the envelope and for its union table, plus the union type. Reused across frames.
 */
export class VerifiedFrame {
  /** Union type found in the envelope (0 when absent or unreadable). */
  unionType = 0;
  /** Position of the union table (0 when absent). */
  body = 0;
  readonly envelopeAt = new Int32Array(SLOTS_MAX);
  readonly bodyAt = new Int32Array(SLOTS_MAX);
}

// Reads match the runtime's: offsets are signed 32-bit, vtable entries signed 16-bit (ByteBuffer.__offset).
function readI32(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24);
}

function readI16(b: Uint8Array, o: number): number {
  return ((b[o]! | (b[o + 1]! << 8)) << 16) >> 16;
}

/**
 * Checks a whole frame whose root table is an envelope ending in one union field (type slot, then value slot),
 * and the union's table. Returns false and fills `failure.message` when anything lies outside the buffer, a vtable
 * is malformed, or (per options) a field or union type is unknown; `frame.unionType` is set as soon as the
 * envelope itself is sound, so a caller can still tell an unknown command from a broken one.
 */
export function verifyEnvelope(
  bytes: Uint8Array,
  envelope: TableLayout,
  unionLayouts: readonly (TableLayout | null)[],
  options: VerifyOptions,
  failure: VerifyFailure,
  frame: VerifiedFrame,
): boolean {
  frame.unionType = 0;
  frame.body = 0;
  const length = bytes.length;
  if (length < 8) {
    failure.message = `frame of ${length} bytes is shorter than the 8-byte minimum`;
    return false;
  }
  const root = readI32(bytes, 0);
  const envelopeAt = frame.envelopeAt;
  if (!verifyTable(bytes, root, envelope, options, failure, envelopeAt)) return false;
  const valueSlot = envelope.fields.length - 1;
  const typeAt = envelopeAt[valueSlot - 1]!;
  const unionType = typeAt === 0 ? 0 : bytes[typeAt]!;
  frame.unionType = unionType;
  const valueAt = envelopeAt[valueSlot]!;
  if (unionType === 0 || valueAt === 0) return true;
  const inner = unionType < unionLayouts.length ? unionLayouts[unionType]! : null;
  if (inner === null) {
    if (options.rejectUnknownUnionType) {
      failure.message = `unknown ${envelope.name} union type ${unionType}`;
      return false;
    }
    return true;
  }
  const body = valueAt + readI32(bytes, valueAt);
  if (!verifyTable(bytes, body, inner, options, failure, frame.bodyAt)) return false;
  frame.body = body;
  return true;
}

function verifyTable(
  bytes: Uint8Array,
  table: number,
  shape: TableLayout,
  options: VerifyOptions,
  failure: VerifyFailure,
  at: Int32Array,
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
  const known = fields.length;
  const slots = (vtableBytes - 4) >> 1;
  for (let slot = 0; slot < known; slot++) at[slot] = 0;
  for (let slot = 0; slot < slots; slot++) {
    const offset = readI16(bytes, vtable + 4 + 2 * slot);
    if (offset === 0) continue;
    if (slot >= known) {
      if (options.rejectUnknownFields) {
        failure.message = `${shape.name}: unknown field #${slot}`;
        return false;
      }
      continue;
    }
    const kind = fields[slot]!;
    const inlineBytes = kind > 0 ? kind : 4;
    if (offset < 4 || offset + inlineBytes > objectBytes) {
      failure.message = `${shape.name}.${shape.fieldNames[slot]} at ${offset} outside its ${objectBytes}-byte table`;
      return false;
    }
    const position = table + offset;
    at[slot] = position;
    if (kind > 0) continue;
    if (!verifyOffsetField(bytes, position, kind, shape, slot, failure)) return false;
  }
  return true;
}

/**
 * A field stored as an offset (string, vector of levels, union value) at `position`: its target lies inside the frame,
 * and a string's or vector's length fits (a string followed by its NUL terminator). The union's table is the caller's.
 */
function verifyOffsetField(bytes: Uint8Array, position: number, kind: number, shape: TableLayout, slot: number, failure: VerifyFailure): boolean {
  const length = bytes.length;
  const target = position + readI32(bytes, position);
  if (target <= position || target + 4 > length) {
    failure.message = `${shape.name}.${shape.fieldNames[slot]} points outside the frame`;
    return false;
  }
  if (kind === UVAL) return true; // the caller verifies the union's table
  const count = readI32(bytes, target);
  // A string is followed by its NUL terminator (as the reference verifier requires).
  const dataBytes = kind === STR ? count + 1 : count * LEVEL_BYTES;
  if (count < 0 || target + 4 + dataBytes > length) {
    failure.message = `${shape.name}.${shape.fieldNames[slot]} length ${count} runs past the frame`;
    return false;
  }
  if (kind === STR && bytes[target + 4 + count] !== 0) {
    failure.message = `${shape.name}.${shape.fieldNames[slot]} string is not NUL-terminated`;
    return false;
  }
  return true;
}
