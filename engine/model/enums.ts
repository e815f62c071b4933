// The small closed vocabularies shared by every stage; numeric values equal the wire schema's enums.

export const Side = { Buy: 0, Sell: 1 } as const;
export type Side = (typeof Side)[keyof typeof Side];

export const OrderType = { Limit: 0, Market: 1 } as const;
export type OrderType = (typeof OrderType)[keyof typeof OrderType];

export const TimeInForce = { GTC: 0, IOC: 1, FOK: 2 } as const;
export type TimeInForce = (typeof TimeInForce)[keyof typeof TimeInForce];

export const SelfTradePrevention = { RejectTaker: 0, RejectMaker: 1, RejectBoth: 2, Allow: 3 } as const;
export type SelfTradePrevention = (typeof SelfTradePrevention)[keyof typeof SelfTradePrevention];

export const MarketKind = { Spot: 0, Perpetual: 1 } as const;
export type MarketKind = (typeof MarketKind)[keyof typeof MarketKind];

export const MarketState = { Open: 0, PostOnly: 1, LimitOnly: 2, CancelOnly: 3, Closed: 4 } as const;
export type MarketState = (typeof MarketState)[keyof typeof MarketState];

/** Why an order left the book (or never rested). */
export const DoneReason = {
  Filled: 0,
  Canceled: 1,
  /** IOC / market remainder with nothing left to match. */
  Expired: 2,
  FokUnfilled: 3,
  SelfTradeTaker: 4,
  SelfTradeMaker: 5,
  ImpactBand: 6,
  MeanMarkBand: 7,
  PremiumBand: 8,
  ReduceOnlyCapped: 9,
  Replaced: 10,
  CanceledByAll: 11,
  /** Q2: canceled by the engine when its account entered liquidation (an engine CancelAll, seq 0). */
  Liquidation: 12,
  /** P1 at fill time: the taker's next fill would have raised the perpetual market's open interest above its
   * openInterestLimit (the fill is cut to the room left; the rest of the taker does not rest). */
  OpenInterestLimit: 13,
} as const;
export type DoneReason = (typeof DoneReason)[keyof typeof DoneReason];

/**
 * Typed reject codes. Values are stable: they are the wire enum `RejectCode` in schemas/crossbook.fbs.
 * Add new codes at the end only.
 */
export const RejectCode = {
  None: 0,
  MalformedFrame: 1,
  UnknownCommand: 2,
  UnknownMarket: 3,
  UnknownAsset: 4,
  InvalidAmount: 5,
  InvalidPrice: 6,
  InvalidQuantity: 7,
  InsufficientBalance: 8,
  InsufficientMargin: 9,
  UnknownOrder: 10,
  Unauthorized: 11,
  InvalidAccount: 12,
  TickSize: 13,
  StepSize: 14,
  MinQuantity: 15,
  MaxQuantity: 16,
  MinNotional: 17,
  MinPrice: 18,
  MaxPrice: 19,
  PostOnlyWouldTake: 20,
  FokNotFilled: 21,
  PriceBand: 22,
  MarketStateForbids: 23,
  SelfTrade: 24,
  ReduceOnlyNotReducing: 25,
  DuplicateClientId: 26,
  TooManyOpenOrders: 27,
  InvalidField: 28,
  Overloaded: 29,
  InvalidTime: 30,
  BorrowThrottled: 31,
  RedeemThrottled: 32,
  PoolClosed: 33,
  MaxUtilization: 34,
  LendRequiresBorrowRepay: 35,
  BorrowRequiresLendRedeem: 36,
  AutoLendOn: 37,
  InvalidSetting: 38,
  NoLiquidity: 39,
  InvalidTransfer: 40,
  /** The order or withdrawal passes the margin check but needs a borrow the pool cannot give now (S2, A5, L7, L8). */
  BorrowUnavailable: 41,
  /** L13: a lend would take the pool's total lent above its openBorrowLendLimit. */
  PoolLendLimit: 42,
  /** X6: the session has not logged in. */
  NotLoggedIn: 43,
  /** X6: another user's account, or a permission the session's key lacks. */
  Forbidden: 44,
  /** X6: a login whose signature, key or timestamp does not check out. */
  BadSignature: 45,
  /** X5/X6: a login signature already used, or a client_seq not above the session's last one. */
  Replayed: 46,
  /** X6: the user (or the exchange) holds the maximum number of API keys. */
  TooManyApiKeys: 47,
  /** X6: no such API key is registered to the user. */
  UnknownApiKey: 48,
  /** The gateway is stopping (SIGTERM): the command was not accepted; reconnect to the next server. */
  ShuttingDown: 49,
  /** Over a gateway rate limit (per connection, per address or per key): nothing was queued; slow down. */
  RateLimited: 50,
  /** A frame over the gateway's command frame limit: refused, then the connection is closed with 1009. */
  FrameTooLarge: 51,
  /** X7: the server is replaying its journal; the command was not taken (retry when GET /health says ready). */
  Recovering: 52,
  /** Q1: the account is liquidating; only commands that reduce its risk (risk-reducing orders, deposits, repays,
   * cancels) are taken until it leaves liquidation at liquidationExitMmr. */
  AccountLiquidating: 53,
  /** P1: the order's opening part would raise the perpetual market's open interest above its openInterestLimit. */
  OpenInterestLimit: 54,
  /** Q4 (issue 13 item 7): an account is bankrupt and not yet resolved (insurance cover or lender payout): withdrawals
   * and transfers out wait until it is (every risk shard knows from the batch after its detection). */
  WithdrawalsPaused: 55,
  /** Q4: the account is an ADL counterparty this batch (its position moves at the bankruptcy price before the batch's
   * orders run): a change that R1 would judge on its position before that is refused; send it again. */
  Deleveraging: 56,
} as const;
export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode];

/** Q6/D4: what changed the insurance fund (InsuranceEntry.insuranceReason; the .fbs enum of the same name). Q2's
 * liquidation fees and Q4's covers are recorded by creditInsurance (engine/risk/insurance.ts) under their reasons. */
/** D4/Q6: why a slice of the insurance fund moved (RealizedPnl: the fund is the counterparty of realized PnL, P5). */
export const InsuranceReason = { FundingRemainder: 0, LiquidationFee: 1, Cover: 2, RealizedPnl: 3, LenderPayout: 4 } as const;
export type InsuranceReason = (typeof InsuranceReason)[keyof typeof InsuranceReason];
export const INSURANCE_REASON_COUNT = 5;

/**
 * Q4/Q5 (engine/risk/liquidation-lenders.ts): what a Socialization event reports. Bankrupt: the account was found
 * bankrupt (no perpetual position, nothing left to sell, net equity < 0); InsuranceCover: the fund paid its deficit;
 * LenderWriteDown: its unrepayable borrow was written off, the lenders owed its USD value in USDC; LenderPaid: one
 * lender's USDC payout and the part of its claim written down; LenderAdl: a lender ADL match (Q5), on the lender's and
 * on the borrower's stream.
 */
export const SocializationKind = { Bankrupt: 0, InsuranceCover: 1, LenderWriteDown: 2, LenderPaid: 3, LenderAdl: 4 } as const;
export type SocializationKind = (typeof SocializationKind)[keyof typeof SocializationKind];

/** Q3/Q4: the system order type of a liquidation leg without the book (LiquidationTransfer / SocializedLoss
 * .liquidationStep; the .fbs enum of the same name): LiquidatePositionOnBackstop (Q3), LiquidatePositionOnAdl (Q4). */
export const LiquidationStep = { OnBackstop: 1, OnAdl: 2 } as const;
export type LiquidationStep = (typeof LiquidationStep)[keyof typeof LiquidationStep];

export const rejectCodeName: Record<number, string> = Object.fromEntries(
  Object.entries(RejectCode).map(([k, v]) => [v, k]),
);
