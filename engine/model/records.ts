// Reusable flat records for commands and events: the shape every stage reads and writes on the hot path.
//
// A record is a mutable object with scalar fields only. Producers fill one record and pass it on; consumers
// read it before returning and never keep a reference (Disruptor style: no allocation per message). The ring
// codec (engine/pipeline) maps each field to a fixed slot of a fixed-size ring record.

export const CommandKind = {
  None: 0,
  Deposit: 1,
  Withdraw: 2,
  PlaceOrder: 3,
  CancelOrder: 4,
  CancelAll: 5,
  AdvanceTime: 6,
  Transfer: 7,
  SetMarketState: 8,
  SetOraclePrice: 9,
  /** Cancel-replace: orderId (or clientId with ByClientId) gets a new price/quantity. */
  ReplaceOrder: 10,
  /** Settlement → matching: band inputs of a market (mean mark in price, mean premium in amount as a Ratio). */
  MarketBandInputs: 11,
  /** A3: account settings. flags: AccountSetting bits changed (bits 0–7) and their new values (bits 8–15);
   * state: new leverageLimit (1…50), 0 = unchanged. */
  UpdateAccountSettings: 12,
  /** Privileged: the USD mark of `asset` is now `price` (PRICE_DECIMALS). Until the oracle (P2/P3) lands this is
   * how marks move; every risk shard applies it. */
  SetMarkPrice: 13,
  /** Query (changes nothing, answered by events): the collateral statement of `account`. */
  QueryCollateral: 14,
  /** Query, C10: the largest limit order of `account` on market/side/price with the order `flags` risk accepts. */
  QueryMaxOrder: 15,
  /** Query, C10/A5: the largest withdrawal of `asset` risk accepts (flags AutoBorrow = margin withdrawal). */
  QueryMaxWithdrawal: 16,
  /** L9 manual borrow of `amount` units of `asset` (refused while autoLend is on). */
  Borrow: 17,
  /** L10 manual repay of `amount` units of `asset` (0 = the whole debt; refused while autoLend is on). */
  Repay: 18,
  /** L1 manual lend of `amount` units of `asset` (refused while autoLend is on: it lends everything already). */
  Lend: 19,
  /** L11 manual redeem of `amount` units of `asset` (0 = the whole lent balance; refused while autoLend is on). */
  Redeem: 20,
  /** Query, L13: the market stats of `asset`'s pool (ALL_ASSETS: every pool). */
  QueryPoolStats: 21,
  /** Query, L3/L4/L13: the rate curve of `asset`'s pool at `state` evenly spaced utilizations (2…101) from 0 to 1. */
  QueryRateCurve: 22,
  /** Query, L14: the interest history of `account` (asset or ALL_ASSETS) from `timeMs` on, at most `state` entries. */
  QueryInterestHistory: 23,
  /** Query, L8: the largest manual borrow of `asset` risk accepts now. */
  QueryMaxBorrow: 24,
  /** Privileged, X6: registers an ED25519 API key to user `account >> 4` with permissions `flags` (Permission bits).
   * The 32-byte public key travels as four little-endian int64 words in price, quantity, quoteQuantity, amount.
   * The gateway's key registry is rebuilt from these journaled commands; the engine only acknowledges them. */
  RegisterApiKey: 25,
  /** Privileged, X6: revokes user `account >> 4`'s API key (the same four words as RegisterApiKey). */
  RevokeApiKey: 26,
} as const;
export type CommandKind = (typeof CommandKind)[keyof typeof CommandKind];

/** CancelAll's `market` meaning "every market". */
export const ALL_MARKETS = 0xffff;
/** The pool and interest-history queries' `asset` meaning "every asset". */
export const ALL_ASSETS = 0xffff;

/** Order flag bits (CommandRecord.flags). */
export const OrderFlag = {
  PostOnly: 1,
  ReduceOnly: 2,
  AutoBorrow: 4,
  AutoBorrowRepay: 8,
  AutoLend: 16,
  AutoLendRedeem: 32,
  /** cancel-by-clientId instead of orderId (CancelOrder). */
  ByClientId: 64,
} as const;

/** The spot-margin flags of S2: an order carrying any of them is a margin order. */
export const SPOT_MARGIN_FLAGS =
  OrderFlag.AutoBorrow | OrderFlag.AutoBorrowRepay | OrderFlag.AutoLend | OrderFlag.AutoLendRedeem;

/** Boolean account settings (A3), as bits of UpdateAccountSettings' flags and of AccountSettings' `settings`. */
export const AccountSetting = {
  AutoLend: 1,
  AutoRepayBorrows: 2,
  AutoBorrowSettlements: 4,
  AutoRealizePnl: 8,
  MarginEnabled: 16,
} as const;
/** UpdateAccountSettings: new values sit this many bits above the mask of changed settings. */
export const ACCOUNT_SETTING_VALUE_SHIFT = 8;

export class CommandRecord {
  kind: number = CommandKind.None;
  /** Global sequence number assigned by the sequencer (gateway); also the order id of a PlaceOrder. */
  seq = 0;
  account = 0;
  /** Transfer destination. */
  account2 = 0;
  market = 0;
  asset = 0;
  side = 0;
  orderType = 0;
  tif = 0;
  stp = 0;
  flags = 0;
  /** Market state (SetMarketState) or other small enum argument. */
  state = 0;
  /** Target order of a cancel (engine order id). */
  orderId = 0;
  /** Client's order id, u64, echoed back; 0 = none. */
  clientId = 0n;
  /** Price, PRICE_DECIMALS fixed point. */
  price = 0n;
  /** Base quantity in base-asset units. */
  quantity = 0n;
  /** Quote quantity (market buy by quote) in quote-asset units. */
  quoteQuantity = 0n;
  /** Deposit / withdraw / transfer amount in asset units. */
  amount = 0n;
  /** Engine time in ms since epoch (AdvanceTime). */
  timeMs = 0;
  /** Signed position of the account in a perpetual market, filled by risk for reduceOnly orders. */
  positionQuantity = 0n;

  clear(): void {
    this.kind = CommandKind.None;
    this.seq = 0;
    this.account = 0;
    this.account2 = 0;
    this.market = 0;
    this.asset = 0;
    this.side = 0;
    this.orderType = 0;
    this.tif = 0;
    this.stp = 0;
    this.flags = 0;
    this.state = 0;
    this.orderId = 0;
    this.clientId = 0n;
    this.price = 0n;
    this.quantity = 0n;
    this.quoteQuantity = 0n;
    this.amount = 0n;
    this.timeMs = 0;
    this.positionQuantity = 0n;
  }

  copyFrom(o: CommandRecord): void {
    this.kind = o.kind;
    this.seq = o.seq;
    this.account = o.account;
    this.account2 = o.account2;
    this.market = o.market;
    this.asset = o.asset;
    this.side = o.side;
    this.orderType = o.orderType;
    this.tif = o.tif;
    this.stp = o.stp;
    this.flags = o.flags;
    this.state = o.state;
    this.orderId = o.orderId;
    this.clientId = o.clientId;
    this.price = o.price;
    this.quantity = o.quantity;
    this.quoteQuantity = o.quoteQuantity;
    this.amount = o.amount;
    this.timeMs = o.timeMs;
    this.positionQuantity = o.positionQuantity;
  }
}

export const EventKind = {
  None: 0,
  OrderAccepted: 1,
  OrderRejected: 2,
  Fill: 3,
  OrderDone: 4,
  Balance: 5,
  Clock: 6,
  /** A non-order command (deposit, withdraw, transfer, admin) was accepted. */
  CommandAccepted: 7,
  /** A non-order command was refused. Same fields as OrderRejected. */
  CommandRejected: 8,
  /** An account's settings after UpdateAccountSettings: settings (AccountSetting bits on), leverageLimit. */
  AccountSettings: 9,
  /** Collateral statement, account part (C2–C9): the USD and ratio fields, settings, fee tier, 30-day volume. */
  AccountCollateral: 10,
  /** Collateral statement, one asset: quantity = net (available + locked + lent − borrowed), price = USD mark,
   * amount = available, amount2 = locked (held by open orders), lent, borrowed, weight, notionalUsd,
   * collateralValueUsd, liabilityUsd. */
  AssetCollateral: 11,
  /** C10 answer: quantity = largest accepted now, amount = the margin check's own limit (as if any shortfall could
   * be borrowed); market, side, price echo the query. */
  MaxOrderQuantity: 12,
  /** C10/A5 answer: quantity = largest withdrawal accepted now, amount = the margin check's own limit; asset. */
  MaxWithdrawalQuantity: 13,
  /** L13 pool market stats: asset, state (PoolState), lent = total lent, borrowed = total borrowed, amount = free
   * liquidity (lent − borrowed), amount2 = openBorrowLendLimit, quantity = borrow capacity reserved by open margin
   * orders, and the pool ratios (utilization … poolFee). */
  PoolStats: 14,
  /** One point of a pool's rate curve: asset, utilization, borrowRate, lendRate, lendRateAfterFee. */
  RateCurvePoint: 15,
  /** L14 one interest history entry: account, asset, side = InterestKind, amount (≥ 0, paid or earned by kind),
   * borrowRate = the APR applied, timeMs = the hour mark (or the borrow time for EntryFee). */
  InterestEntry: 16,
  /** L8 answer: asset, quantity = largest manual borrow accepted now, amount = the margin check's own limit,
   * amount2 = the pool's limit. */
  MaxBorrowQuantity: 17,
} as const;
export type EventKind = (typeof EventKind)[keyof typeof EventKind];

export class EventRecord {
  kind: number = EventKind.None;
  /** Sequence number of the command that caused this event. */
  seq = 0;
  /** Market sequence number (order events) — O8. */
  marketSeq = 0;
  account = 0;
  market = 0;
  asset = 0;
  side = 0;
  orderId = 0;
  clientId = 0n;
  /** Reject code (RejectCode) or done reason (DoneReason). */
  code = 0;
  /** Human-readable reject message (OrderRejected / CommandRejected). */
  message = "";
  price = 0n;
  quantity = 0n;
  /** Fill: quote amount of the trade; Done: filled quantity; Balance: locked. */
  amount2 = 0n;
  /** Balance: available; Done: remaining quantity. */
  amount = 0n;
  /** Fill: the maker side's identity. */
  makerAccount = 0;
  makerOrderId = 0;
  makerClientId = 0n;
  makerFee = 0n;
  takerFee = 0n;
  tradeId = 0;
  timeMs = 0;
  // ---- account fields (Balance: lent, borrowed; the statement and query kinds above: the rest). Valid only for the
  // kinds that carry them (the ring copies them only for those kinds).
  /** Asset units lent to / borrowed from the asset's pool (zero until lending lands). */
  lent = 0n;
  borrowed = 0n;
  /** USD at PRICE_DECIMALS. AccountCollateral: C3 net equity, C6 locked part, C2 collateral, borrow liability, C4
   * TEN, unrealized PnL, 30-day traded volume. AssetCollateral: notional (|qty| × mark), collateral value,
   * liability. */
  netEquityUsd = 0n;
  netEquityLockedUsd = 0n;
  collateralValueUsd = 0n;
  liabilityUsd = 0n;
  exposureUsd = 0n;
  notionalUsd = 0n;
  pnlUsd = 0n;
  volumeUsd = 0n;
  /** Ratios at 1e-9 (REPORTED_RATIO_DECIMALS), rounded down; REPORTED_RATIO_UNBOUNDED when unbounded (C7). */
  imf = 0n;
  mmf = 0n;
  marginFraction = 0n;
  imr = 0n;
  mmr = 0n;
  weight = 0n;
  /** AccountSetting bits that are on; max account leverage (1…50); fee tier index (S5). */
  settings = 0;
  leverageLimit = 0;
  feeTier = 0;
  // ---- pool fields (PoolStats, RateCurvePoint, InterestEntry): ratios at 1e-9 (REPORTED_RATIO_DECIMALS), rounded
  // down; rates are APRs.
  utilization = 0n;
  borrowRate = 0n;
  lendRate = 0n;
  lendRateAfterFee = 0n;
  hourBorrowRate = 0n;
  optimalUtilization = 0n;
  throttleUtilization = 0n;
  maxUtilization = 0n;
  poolFee = 0n;

  clear(): void {
    this.kind = EventKind.None;
    this.seq = 0;
    this.marketSeq = 0;
    this.account = 0;
    this.market = 0;
    this.asset = 0;
    this.side = 0;
    this.orderId = 0;
    this.clientId = 0n;
    this.code = 0;
    this.message = "";
    this.price = 0n;
    this.quantity = 0n;
    this.amount2 = 0n;
    this.amount = 0n;
    this.makerAccount = 0;
    this.makerOrderId = 0;
    this.makerClientId = 0n;
    this.makerFee = 0n;
    this.takerFee = 0n;
    this.tradeId = 0;
    this.timeMs = 0;
    this.lent = 0n;
    this.borrowed = 0n;
    this.netEquityUsd = 0n;
    this.netEquityLockedUsd = 0n;
    this.collateralValueUsd = 0n;
    this.liabilityUsd = 0n;
    this.exposureUsd = 0n;
    this.notionalUsd = 0n;
    this.pnlUsd = 0n;
    this.volumeUsd = 0n;
    this.imf = 0n;
    this.mmf = 0n;
    this.marginFraction = 0n;
    this.imr = 0n;
    this.mmr = 0n;
    this.weight = 0n;
    this.settings = 0;
    this.leverageLimit = 0;
    this.feeTier = 0;
    this.utilization = 0n;
    this.borrowRate = 0n;
    this.lendRate = 0n;
    this.lendRateAfterFee = 0n;
    this.hourBorrowRate = 0n;
    this.optimalUtilization = 0n;
    this.throttleUtilization = 0n;
    this.maxUtilization = 0n;
    this.poolFee = 0n;
  }

  copyFrom(from: EventRecord): void {
    this.kind = from.kind;
    this.seq = from.seq;
    this.marketSeq = from.marketSeq;
    this.account = from.account;
    this.market = from.market;
    this.asset = from.asset;
    this.side = from.side;
    this.orderId = from.orderId;
    this.clientId = from.clientId;
    this.code = from.code;
    this.message = from.message;
    this.price = from.price;
    this.quantity = from.quantity;
    this.amount2 = from.amount2;
    this.amount = from.amount;
    this.makerAccount = from.makerAccount;
    this.makerOrderId = from.makerOrderId;
    this.makerClientId = from.makerClientId;
    this.makerFee = from.makerFee;
    this.takerFee = from.takerFee;
    this.tradeId = from.tradeId;
    this.timeMs = from.timeMs;
    this.lent = from.lent;
    this.borrowed = from.borrowed;
    this.netEquityUsd = from.netEquityUsd;
    this.netEquityLockedUsd = from.netEquityLockedUsd;
    this.collateralValueUsd = from.collateralValueUsd;
    this.liabilityUsd = from.liabilityUsd;
    this.exposureUsd = from.exposureUsd;
    this.notionalUsd = from.notionalUsd;
    this.pnlUsd = from.pnlUsd;
    this.volumeUsd = from.volumeUsd;
    this.imf = from.imf;
    this.mmf = from.mmf;
    this.marginFraction = from.marginFraction;
    this.imr = from.imr;
    this.mmr = from.mmr;
    this.weight = from.weight;
    this.settings = from.settings;
    this.leverageLimit = from.leverageLimit;
    this.feeTier = from.feeTier;
    this.utilization = from.utilization;
    this.borrowRate = from.borrowRate;
    this.lendRate = from.lendRate;
    this.lendRateAfterFee = from.lendRateAfterFee;
    this.hourBorrowRate = from.hourBorrowRate;
    this.optimalUtilization = from.optimalUtilization;
    this.throttleUtilization = from.throttleUtilization;
    this.maxUtilization = from.maxUtilization;
    this.poolFee = from.poolFee;
  }
}

/** Ratios in events are reported at 1e-9 (an int64 then holds up to 9.2e9, where 1e-18 would stop at 9.2). */
export const REPORTED_RATIO_DECIMALS = 9;
/** A reported ratio that is unbounded (a margin fraction without exposure; IMR/MMR with net equity ≤ 0). */
export const REPORTED_RATIO_UNBOUNDED = -(1n << 63n);

/** Where a stage publishes its events. The record is only valid during the call. */
export interface EventSink {
  publish(e: EventRecord): void;
}
