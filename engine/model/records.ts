// Reusable flat records for commands and events: the shape every stage reads and writes on the hot path.
//
// A record is a mutable object with scalar fields only. Producers fill one record and pass it on; consumers
// read it before returning and never keep a reference (Disruptor style: no allocation per message). The kinds
// and fields are declared once in vocabulary.ts; the classes are generated from it (generated/records.ts);
// record-layout.ts maps each field to a slot of a fixed-size record.
import type { EventRecord } from "./generated/records.ts";

export { CommandKind, ControlKind, EventKind } from "./vocabulary.ts";
export { CommandRecord, EventRecord } from "./generated/records.ts";

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
  /** Set by risk on a ReplaceOrder by clientId (never by a client): cmd.orderId is the order risk resolved the clientId
   * to and funded the replacement against, and matching replaces only that order (engine/risk/pre-trade.ts). */
  TargetResolved: 128,
} as const;

/** OracleQuote flag bits (CommandRecord.flags). */
export const OracleQuoteFlag = {
  /** The update's last quote: recompute the asset's index from every source's latest quote (P2). */
  Apply: 1,
} as const;

/** IndexPrice event flag bits (EventRecord.indexFlags). */
export const IndexFlag = {
  /** No fresh source (P2): the index kept its previous value and the mark did not move. */
  Stale: 1,
  /** The per-update step limit held the index back (P2). */
  StepLimited: 2,
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

/** Ratios in events are reported at 1e-9 (an int64 then holds up to 9.2e9, where 1e-18 would stop at 9.2). */
export const REPORTED_RATIO_DECIMALS = 9;
/** A reported ratio that is unbounded (a margin fraction without exposure; IMR/MMR with net equity ≤ 0). */
export const REPORTED_RATIO_UNBOUNDED = -(1n << 63n);

/** Where a stage publishes its events. The record is only valid during the call. */
export interface EventSink {
  publish(e: EventRecord): void;
  /**
   * True for a sink that reads a Balance only through writeEvent (or copyFrom): a producer may then leave its
   * available and locked in the record's int64 column (EventRecord.units, unitsInColumn) instead of the bigint
   * fields, which saves the two heap bigints a read from an account's column makes (publishBalance). Any other sink
   * gets the fields.
   */
  readonly unitColumns?: boolean;
}
