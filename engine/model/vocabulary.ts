// The one vocabulary of commands and events: their kinds and every named field with its wire type and unit.
//
// This table is the single place a record field is declared. `npm run schemas` (schemas/generate-records.ts) turns it
// into engine/model/generated/records.ts: the CommandRecord and EventRecord classes with their clear/copyFrom, and
// the union-slot accessors the byte layout (record-layout.ts) uses. A field never carries two units: where kinds
// share a slot of the fixed-size layout (a union), each kind's value has its own name and the layout stores the
// kind's field in the shared slot. test/schemas.test.ts fails when the generated file is stale.
//
// ## Adding a command kind (test/vocabulary.test.ts checks each table below names every kind)
// 1. here: a CommandKind member, and any new named fields in COMMAND_FIELDS (with unit; a union slot if the record
//    has no free slot);
// 2. schemas/crossbook.fbs: its wire table and Command union member, appended at the end (never reorder or retype),
//    and its layout in schemas/verify.ts (COMMAND_LAYOUTS);
// 3. gateway/codec/wire-map.ts: a COMMAND_WIRE row pairing each wire field with its record field and reading (or an
//    entry in COMMANDS_DECODED_ELSEWHERE saying why not) — then `npm run schemas` regenerates the records and the
//    server's decoder;
// 4. engine/pipeline/routing.ts: its COMMAND_ROUTES row (a typed map over CommandKind: tsc fails without it);
// 5. its handler in the stage that runs it, and the case in that stage's exhaustive dispatch switch (`never`).
// The client SDK (gateway/client/codec.ts) still spells its JSON form by hand: one buildCommand case.
// An event kind is the same: EventKind + EVENT_FIELDS here, its table in crossbook.fbs, an EVENT_WIRE row, the handler
// that writes it, and (by hand) the client's decodeEvent case.

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
  /** Settlement → matching: band inputs of a market (mean mark in price, meanPremium as a Ratio, indexPrice). */
  MarketBandInputs: 11,
  /** A3: account settings. flags: AccountSetting bits changed (bits 0–7) and their new values (bits 8–15);
   * leverageLimit: new max leverage (1…50), 0 = unchanged. */
  UpdateAccountSettings: 12,
  /** Privileged: the USD mark of `asset` is now `price` (PRICE_DECIMALS): an operator override of the oracle (P2),
   * until the asset's next OracleQuote update; answered by CommandAccepted with code SetMarkPrice. Every risk shard
   * applies it. */
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
  /** Query, L3/L4/L13: the rate curve of `asset`'s pool at `curvePoints` evenly spaced utilizations (2…101) from 0 to 1. */
  QueryRateCurve: 22,
  /** Query, L14: the interest history of `account` (asset or ALL_ASSETS) from `timeMs` on, at most `historyLimit` entries. */
  QueryInterestHistory: 23,
  /** Query, L8: the largest manual borrow of `asset` risk accepts now. */
  QueryMaxBorrow: 24,
  /** Privileged, X6: registers an ED25519 API key to user `account >> 4` with permissions `flags` (Permission bits).
   * The 32-byte public key travels as four little-endian int64 words publicKeyWord0…3.
   * The gateway's key registry is rebuilt from these journaled commands; the engine only acknowledges them. */
  RegisterApiKey: 25,
  /** Privileged, X6: revokes user `account >> 4`'s API key (the same four publicKeyWord fields as RegisterApiKey). */
  RevokeApiKey: 26,
  /** Privileged, P2: one oracle source's quote for `asset`: source (its index in the asset's configured sources), bid,
   * ask, last, sourceTimeMs. One quote per command; the quotes of one update are consecutive commands and the last
   * carries OracleQuoteFlag.Apply, which recomputes the asset's index from every configured source's latest quote. */
  OracleQuote: 27,
  /** Query, P1: the positions of `account` (a Position event per perpetual market with a position or open orders),
   * then CommandAccepted. */
  QueryPositions: 28,
  /** Query, P1: the open interest of `market` (ALL_MARKETS: every perpetual market), one OpenInterest event each. */
  QueryOpenInterest: 29,
  /** Query, Q6: the liquidation history of `account` (its LiquidationStarted / LiquidationEnded rows and the fills of the
   * engine's liquidation orders, oldest first) from
   * `timeMs` on, at most `historyLimit` rows, then CommandAccepted. */
  QueryLiquidationHistory: 30,
  /** Query, Q6/D4: the insurance fund's balance (Σ of the risk shards' slices) of `asset` (ALL_ASSETS: every asset),
   * one InsuranceFund event each. */
  QueryInsuranceFund: 31,
  /** Query, Q6/D4: the insurance fund's history (each batch's change per asset and reason) of `asset` (or ALL_ASSETS)
   * from `timeMs` on, at most `historyLimit` rows, then CommandAccepted. */
  QueryInsuranceHistory: 32,
  /** Query, P6/P7: the settlement history of `account` (market or ALL_MARKETS) from `timeMs` on, oldest first, at most
   * `historyLimit` rows: a Settlement event per row (its time, reason and waterfall step), then CommandAccepted. */
  QuerySettlementHistory: 33,
  /** Query, P4: the funding payments of `account` (market or ALL_MARKETS) from `timeMs` on, oldest first, at most
   * `historyLimit`: a FundingPayment event each, then CommandAccepted. */
  QueryFundingHistory: 34,
  /** Query, P4: the funding rates of perpetual `market` from `timeMs` on, oldest first, at most `historyLimit`: a
   * FundingRate event each (the query's seq), then CommandAccepted. */
  QueryFundingRateHistory: 35,
  /** Query, Q4: the exchange's lender write-downs (each batch's Σ per asset over every shard) of `asset` (or ALL_ASSETS)
   * from `timeMs` on, oldest first, at most `historyLimit`: a Socialization event each (kind LenderWriteDown, account 0:
   * quantity written down, USDC owed to the lenders, the part beyond the insurance fund), then CommandAccepted. */
  QueryLenderLosses: 36,
  /** Engine-originated (seq 0, never on the wire), Q3/Q4 (engine.ts "Q3/Q4 (as built)"): one position leg of a
   * backstop takeover or a perpetual ADL from `account` to `account2`, decided in phase 0 by `account`'s risk shard and
   * carried by the matching shard of perpetual `market` (which moves its position replica) to both accounts' risk
   * shards as a LiquidationTransfer event: `quantity` base units (`side` = what `account` does: Sell gives up a long)
   * at `price` (the mark, or the bankruptcy price), liquidationStep, legMarkPrice. */
  LiquidationTransfer: 37,
} as const;
export type CommandKind = (typeof CommandKind)[keyof typeof CommandKind];

export const EventKind = {
  None: 0,
  OrderAccepted: 1,
  OrderRejected: 2,
  Fill: 3,
  OrderDone: 4,
  Balance: 5,
  Clock: 6,
  /** A non-order command (deposit, withdraw, transfer, admin) was accepted: acceptedKind, commandAmount (asset units),
   * marketState (SetMarketState), canceledOrders (CancelAll). */
  CommandAccepted: 7,
  /** A non-order command was refused. Same fields as OrderRejected. */
  CommandRejected: 8,
  /** An account's settings after UpdateAccountSettings: settings (AccountSetting bits on), leverageLimit. */
  AccountSettings: 9,
  /** Collateral statement, account part (C2–C9): the USD and ratio fields, settings, fee tier, 30-day volume. */
  AccountCollateral: 10,
  /** Collateral statement, one asset: quantity = net (available + locked + lent − borrowed), price = USD mark,
   * available, locked (held by open orders), lent, borrowed, weight, notionalUsd,
   * collateralValueUsd, liabilityUsd. */
  AssetCollateral: 11,
  /** C10 answer: quantity = largest accepted now, marginLimit = the margin check's own limit (as if any shortfall could
   * be borrowed); market, side, price echo the query. */
  MaxOrderQuantity: 12,
  /** C10/A5 answer: quantity = largest withdrawal accepted now, marginLimit = the margin check's own limit; asset. */
  MaxWithdrawalQuantity: 13,
  /** L13 pool market stats: asset, poolState (PoolState), throttled, lent = total lent, borrowed = total borrowed,
   * freeLiquidity (lent − borrowed), openBorrowLendLimit, reservedBorrow = borrow capacity reserved by open margin
   * orders, and the pool ratios (utilization … poolFee). */
  PoolStats: 14,
  /** One point of a pool's rate curve: asset, utilization, borrowRate, lendRate, lendRateAfterFee. */
  RateCurvePoint: 15,
  /** L14 one interest history entry: account, asset, interestKind, interest (≥ 0, paid or earned by kind),
   * borrowRate = the APR applied, timeMs = the hour mark (or the borrow time for EntryFee). */
  InterestEntry: 16,
  /** L8 answer: asset, quantity = largest manual borrow accepted now, marginLimit = the margin check's own limit,
   * poolLimit = the pool's limit. */
  MaxBorrowQuantity: 17,
  /** P2/C1 an asset's index after an oracle update (its new collateral mark unless stale): asset, indexPrice,
   * indexFlags (IndexFlag: Stale = no fresh source, the index and the mark kept their values; StepLimited),
   * sourcesUsed (fresh sources in the index), timeMs = engine time. */
  IndexPrice: 18,
  /** P3 a perpetual's mark after a settlement batch (engine.ts decision P3; seq 0, account 0): market, markPrice,
   * indexPrice (0 = no fresh index), markSource (MarkSource: which rule of P3 (a)–(e) gave it), fundingRate = the
   * predicted P4 rate of the running interval, nextFundingTimeMs, timeMs = engine time. Every risk shard sets it as
   * the market's mark; shard 0 publishes it. */
  MarkPrice: 19,
  /** P4 a perpetual's funding rate at an interval end (seq 0, account 0): market, fundingRate, meanPremium = P̄ of
   * the interval's samples, fundingSamples = how many, markPrice = the mark payments use (P4: F × position × mark;
   * 0 = the market has no mark yet), timeMs = the interval end. To every risk shard (D2(b)); shard 0 publishes it. */
  FundingRate: 20,
  /** Q1/C9: the account entered liquidation at the batch end (MMR ≥ 100%): account, netEquityUsd, exposureUsd,
   * mmf, mmr (C6, C7), timeMs = engine time; seq 0 (caused by no command: a mark, a fill, interest). */
  LiquidationStarted: 21,
  /** Q1: the account left liquidation (MMR ≤ liquidationExitMmr, or no exposure left); the same fields. */
  LiquidationEnded: 22,
  /** P6/P7 one row of an account's USDC settlement history: account, market (the perpetual that caused it), asset
   * (the settlement asset), settlementReason, settlementStep (which waterfall step), settledAmount (> 0, asset units),
   * timeMs = engine time. */
  Settlement: 23,
  /** P1 one position of an account in a perpetual market (after each fill that changes it, and as the QueryPositions
   * answer): netQuantity, entryPrice, breakEvenPrice, markPrice, pnlUnrealized, pnlRealized, cumulativeFundingPayment,
   * netExposureQuantity, positionExposureUsd (C4), imf, mmf (C5), estLiquidationPrice (P8, 0 = none), timeMs. */
  Position: 24,
  /** P1 a perpetual market's open interest (Σ longs): market, openInterestQuantity, timeMs. */
  OpenInterest: 25,
  /** Q6/D4 the insurance fund's balance of one asset (Σ of every risk shard's slice at the last batch boundary):
   * asset, insuranceBalance, timeMs. */
  InsuranceFund: 26,
  /** Q6/D4 one change of the insurance fund in one batch: asset, insuranceReason (InsuranceReason), insuranceChange
   * (signed, the Σ over every shard's slice), insuranceBalance after it, timeMs = engine time of the batch. */
  InsuranceEntry: 27,
  /** P4 one funding payment of an account (QueryFundingHistory's answer): market, fundingRate and markPrice of the
   * interval end, fundedQuantity (the position, signed), fundingPayment (> 0 paid, < 0 received), timeMs = the
   * interval end. */
  FundingPayment: 28,
  /** Q4/Q5 a bankruptcy or lender step (engine/risk/liquidation-lenders.ts; seq 0): account, asset (the borrowed or
   * lent asset), market (a market quoted in USDC — the asset's spot market when it has one — in whose quote asset the
   * USDC amounts read), socializationKind (SocializationKind), socializedQuantity (units of `asset` written down,
   * redeemed or closed), socializedAmount (USDC units: > 0 received by the account, < 0 paid), socializedLoss (USDC
   * units beyond the insurance fund, or a payout's rounding remainder), socializationPrice (USD per asset unit the
   * step used), counterpartyAccount (Q5: the other side; 0 = none), netEquityUsd (Bankrupt: the deficit's sign),
   * timeMs. Also a row of the account's liquidation history (QueryLiquidationHistory). */
  Socialization: 29,
  /** Q3/Q4 one leg of a backstop takeover or a perpetual ADL; seq 0. account = who gives (the liquidated account),
   * makerAccount = who takes (the backstop, or the ADL counterparty), liquidationStep (LiquidationStep: OnBackstop,
   * OnAdl), legMarkPrice, timeMs. A position leg (the LiquidationTransfer command's echo from the market's matching
   * shard, applied in R2 by both accounts' risk shards like a fill, fee 0): market, side (what `account` does),
   * quantity (base units) at price. A takeover's asset leg (applied in phase 3b inside the one shard both accounts
   * are on): asset with transferAmount (collateral units; < 0: unsettled USDC the backstop takes on) or
   * transferBorrowShares and borrowed (a borrow: its pool shares and the units owed). */
  LiquidationTransfer: 30,
  /** Q4 a loss beyond the insurance fund, socialized by ADL: account (the bankrupt one), market, asset (the settlement
   * asset), quantity (the position closed by ADL, signed base units), price (its bankruptcy price), markPrice (the
   * mark it was judged at), adlLoss (quote units the ADL counterparties gave up against the mark, rounded up),
   * insuranceBalance (the fund's balance at the boundary it was decided at), timeMs. Seq 0; in the account's
   * liquidation history and on the public liquidation stream. */
  SocializedLoss: 31,
} as const;
export type EventKind = (typeof EventKind)[keyof typeof EventKind];

/** Kinds of the pipeline's own control records (command and event slots; never on the wire, never journaled except
 * the batch end): a batch end, a state-digest request, a snapshot request. */
export const ControlKind = { BatchEnd: -1, StateHash: -2, Snapshot: -3 } as const;
export type ControlKind = (typeof ControlKind)[keyof typeof ControlKind];

/** Wire type of a field: int32 (i32), unsigned int32 (u32), an integer kept in a float64 (f64: sequence numbers,
 * order ids, ms times), int64 / uint64 bigints (i64, u64) or an ASCII string (the reject message). */
export type FieldType = "i32" | "u32" | "f64" | "i64" | "u64" | "string";

export interface FieldSpec {
  readonly name: string;
  readonly type: FieldType;
  /** Unit and meaning: what one unit of the value is. */
  readonly unit: string;
  /** The layout slot the field is stored in; defaults to the field's own name. */
  readonly slot?: string;
  /** The kinds that carry the field in its slot (a union member); absent = every kind whose slot has no member. */
  readonly kinds?: readonly string[];
}

const ORDER_PRICE = "price, PRICE_DECIMALS fixed point";
const ASSET_UNITS = "units of `asset` (its smallest unit)";
const BASE_UNITS = "base-asset units of the market";
const QUOTE_UNITS = "quote-asset units of the market";
const USD = "USD at PRICE_DECIMALS";
const RATIO9 = "ratio at 1e-9 (REPORTED_RATIO_DECIMALS), rounded down";

/** Command fields in record order. `kind` is implicit (CommandKind). */
export const COMMAND_FIELDS: readonly FieldSpec[] = [
  { name: "seq", type: "f64", unit: "global sequence number assigned by the sequencer; also the order id of a PlaceOrder" },
  { name: "account", type: "u32", unit: "account id (user × 16 + sub); RegisterApiKey/RevokeApiKey: the user's account 0" },
  { name: "account2", type: "u32", unit: "Transfer destination account id" },
  { name: "market", type: "i32", unit: "market id (ALL_MARKETS for CancelAll over every market)" },
  { name: "asset", type: "i32", unit: "asset id (ALL_ASSETS for the pool and interest-history queries)" },
  { name: "side", type: "i32", unit: "Side" },
  { name: "orderType", type: "i32", unit: "OrderType" },
  { name: "tif", type: "i32", unit: "TimeInForce" },
  { name: "stp", type: "i32", unit: "SelfTradePrevention" },
  { name: "flags", type: "i32", unit: "OrderFlag bits; UpdateAccountSettings: AccountSetting mask and values; RegisterApiKey: Permission bits" },
  { name: "marketState", type: "i32", unit: "MarketState", slot: "state", kinds: ["SetMarketState"] },
  { name: "leverageLimit", type: "i32", unit: "new max account leverage 1…50, 0 = unchanged", slot: "state", kinds: ["UpdateAccountSettings"] },
  { name: "curvePoints", type: "i32", unit: "evenly spaced utilizations 2…101 (0 = 11)", slot: "state", kinds: ["QueryRateCurve"] },
  { name: "historyLimit", type: "i32", unit: "history entries at most (0 = the maximum)", slot: "state", kinds: ["QueryInterestHistory", "QueryLiquidationHistory", "QueryInsuranceHistory", "QuerySettlementHistory", "QueryFundingHistory", "QueryFundingRateHistory", "QueryLenderLosses"] },
  { name: "oracleSource", type: "i32", unit: "index of the source in the asset's configured oracle sources", slot: "state", kinds: ["OracleQuote"] },
  { name: "liquidationStep", type: "i32", unit: "LiquidationStep: OnBackstop (Q3) or OnAdl (Q4)", slot: "state", kinds: ["LiquidationTransfer"] },
  { name: "orderId", type: "f64", unit: "target order of a cancel or replace (engine order id)" },
  { name: "timeMs", type: "f64", unit: "engine time, ms since the epoch (AdvanceTime; the history queries: from)" },
  { name: "sourceTimeMs", type: "f64", unit: "the oracle source's own time of the quote, ms since the epoch", slot: "timeMs", kinds: ["OracleQuote"] },
  { name: "clientId", type: "u64", unit: "client's order id, echoed back; 0 = none" },
  { name: "price", type: "i64", unit: ORDER_PRICE + "; SetMarkPrice: USD mark; MarketBandInputs: mean mark" },
  { name: "publicKeyWord0", type: "i64", unit: "ED25519 public key bytes 0…7, little-endian", slot: "price", kinds: ["RegisterApiKey", "RevokeApiKey"] },
  { name: "bid", type: "i64", unit: "the source's best bid, USD at PRICE_DECIMALS", slot: "price", kinds: ["OracleQuote"] },
  { name: "quantity", type: "i64", unit: BASE_UNITS },
  { name: "publicKeyWord1", type: "i64", unit: "ED25519 public key bytes 8…15, little-endian", slot: "quantity", kinds: ["RegisterApiKey", "RevokeApiKey"] },
  { name: "ask", type: "i64", unit: "the source's best ask, USD at PRICE_DECIMALS", slot: "quantity", kinds: ["OracleQuote"] },
  { name: "quoteQuantity", type: "i64", unit: QUOTE_UNITS + " (market buy by quote)" },
  { name: "publicKeyWord2", type: "i64", unit: "ED25519 public key bytes 16…23, little-endian", slot: "quoteQuantity", kinds: ["RegisterApiKey", "RevokeApiKey"] },
  { name: "indexPrice", type: "i64", unit: "the index price, PRICE_DECIMALS (0 = implied by meanMark / (1 + meanPremium))", slot: "quoteQuantity", kinds: ["MarketBandInputs"] },
  { name: "last", type: "i64", unit: "the source's last trade price, USD at PRICE_DECIMALS", slot: "quoteQuantity", kinds: ["OracleQuote"] },
  { name: "amount", type: "i64", unit: ASSET_UNITS + " (deposit, withdraw, transfer, borrow, repay, lend, redeem)" },
  { name: "publicKeyWord3", type: "i64", unit: "ED25519 public key bytes 24…31, little-endian", slot: "amount", kinds: ["RegisterApiKey", "RevokeApiKey"] },
  { name: "meanPremium", type: "i64", unit: "mean premium over the mark, a Ratio (RATIO_DECIMALS)", slot: "amount", kinds: ["MarketBandInputs"] },
  { name: "legMarkPrice", type: "i64", unit: "Q3/Q4: the mark the leg was decided at, " + ORDER_PRICE, slot: "quoteQuantity", kinds: ["LiquidationTransfer"] },
  { name: "positionQuantity", type: "i64", unit: "reserved: 0 (risk filled in the position for reduceOnly until matching kept its own replica, engine/matching/perp-positions.ts)" },
];

/** Event fields in record order. `kind` is implicit (EventKind). */
export const EVENT_FIELDS: readonly FieldSpec[] = [
  { name: "seq", type: "f64", unit: "sequence number of the command that caused the event" },
  { name: "marketSeq", type: "f64", unit: "market sequence number of order events (O8)" },
  { name: "account", type: "u32", unit: "account id (Fill: the taker's)" },
  { name: "market", type: "i32", unit: "market id" },
  { name: "asset", type: "i32", unit: "asset id" },
  { name: "side", type: "i32", unit: "Side (Fill: the taker's)" },
  { name: "interestKind", type: "i32", unit: "InterestKind", slot: "side", kinds: ["InterestEntry"] },
  { name: "throttled", type: "i32", unit: "1 = the pool is throttled (utilization above its throttle), else 0", slot: "side", kinds: ["PoolStats"] },
  { name: "marketState", type: "i32", unit: "MarketState after an accepted SetMarketState (0 for other commands)", slot: "side", kinds: ["CommandAccepted"] },
  { name: "indexFlags", type: "i32", unit: "IndexFlag bits: Stale (no fresh source, the index kept its value), StepLimited", slot: "side", kinds: ["IndexPrice"] },
  { name: "fundingSamples", type: "i32", unit: "P4: premium samples of the interval (one a second)", slot: "side", kinds: ["FundingRate"] },
  { name: "settlementStep", type: "i32", unit: "SettlementStep: the P6/P7 waterfall step of the row", slot: "side", kinds: ["Settlement"] },
  { name: "orderId", type: "f64", unit: "engine order id (Fill: the taker's)" },
  { name: "nextFundingTimeMs", type: "f64", unit: "P4: end of the running funding interval, engine ms since the epoch", slot: "orderId", kinds: ["MarkPrice"] },
  { name: "clientId", type: "u64", unit: "client order id (Fill: the taker's)" },
  { name: "code", type: "i32", unit: "RejectCode (OrderRejected / CommandRejected), DoneReason (OrderDone)" },
  { name: "acceptedKind", type: "i32", unit: "CommandKind of the accepted command", slot: "code", kinds: ["CommandAccepted"] },
  { name: "poolState", type: "i32", unit: "PoolState", slot: "code", kinds: ["PoolStats"] },
  { name: "sourcesUsed", type: "i32", unit: "fresh oracle sources the index was computed from (P2)", slot: "code", kinds: ["IndexPrice"] },
  { name: "markSource", type: "i32", unit: "MarkSource: the rule of P3 that gave the mark (IndexPlusEwma, Index, BookMedian, Mid, Last, PostOnlyIndex)", slot: "code", kinds: ["MarkPrice"] },
  { name: "insuranceReason", type: "i32", unit: "InsuranceReason: what changed the insurance fund (funding remainder, liquidation fee, cover)", slot: "code", kinds: ["InsuranceEntry"] },
  { name: "socializationKind", type: "i32", unit: "SocializationKind: which Q4/Q5 step the row reports", slot: "code", kinds: ["Socialization"] },
  { name: "settlementReason", type: "i32", unit: "SettlementReason: what the row settles (fee, realized PnL, P4 funding, Q2 liquidation fee)", slot: "code", kinds: ["Settlement"] },
  { name: "liquidationStep", type: "i32", unit: "LiquidationStep: OnBackstop (Q3) or OnAdl (Q4)", slot: "code", kinds: ["LiquidationTransfer", "SocializedLoss"] },
  { name: "message", type: "string", unit: "human-readable reject message, ASCII (OrderRejected / CommandRejected)" },
  { name: "price", type: "i64", unit: ORDER_PRICE + "; AssetCollateral: the asset's USD mark" },
  { name: "indexPrice", type: "i64", unit: "the asset's index and collateral mark, USD at PRICE_DECIMALS (P2, C1); MarkPrice: the index the mark used (0 = none fresh)", slot: "price", kinds: ["IndexPrice", "MarkPrice"] },
  { name: "fundedQuantity", type: "i64", unit: BASE_UNITS + ", signed: the position a funding payment was for (P4)", slot: "price", kinds: ["FundingPayment"] },
  { name: "entryPrice", type: "i64", unit: "P1 entry price (cost basis / quantity), " + ORDER_PRICE + "; 0 when flat", slot: "price", kinds: ["Position"] },
  { name: "netQuantity", type: "i64", unit: BASE_UNITS + ", signed: long > 0, short < 0 (P1)", slot: "quantity", kinds: ["Position"] },
  { name: "openInterestQuantity", type: "i64", unit: BASE_UNITS + ": the market's open interest, Σ longs (P1)", slot: "quantity", kinds: ["OpenInterest"] },
  { name: "breakEvenPrice", type: "i64", unit: "P1 break-even price (entry moved by fees and funding paid), " + ORDER_PRICE, slot: "lent", kinds: ["Position"] },
  { name: "positionMarkPrice", type: "i64", unit: "the market's mark the position is valued at, " + ORDER_PRICE, slot: "borrowed", kinds: ["Position"] },
  { name: "pnlUnrealized", type: "i64", unit: QUOTE_UNITS + ": quantity × (mark − entry), floor (P1, P5)", slot: "pnlUsd", kinds: ["Position"] },
  { name: "pnlRealized", type: "i64", unit: QUOTE_UNITS + ": cumulative realized PnL (P1)", slot: "volumeUsd", kinds: ["Position"] },
  { name: "cumulativeFundingPayment", type: "i64", unit: QUOTE_UNITS + ": all funding paid (> 0) or received (< 0) (P1, P4)", slot: "netEquityLockedUsd", kinds: ["Position"] },
  { name: "netExposureQuantity", type: "i64", unit: BASE_UNITS + ": position + the risk-increasing part of open orders (C4)", slot: "liabilityUsd", kinds: ["Position"] },
  { name: "positionExposureUsd", type: "i64", unit: USD + ": netExposureQuantity × mark (C4)", slot: "exposureUsd", kinds: ["Position"] },
  { name: "estLiquidationPrice", type: "i64", unit: "P8 estimated liquidation price, " + ORDER_PRICE + "; 0 = none", slot: "notionalUsd", kinds: ["Position"] },
  { name: "socializationPrice", type: "i64", unit: USD + " per whole unit of `asset`: the price a Q4/Q5 step valued it at", slot: "price", kinds: ["Socialization"] },
  { name: "quantity", type: "i64", unit: BASE_UNITS + "; the Max* answers: the largest accepted now" },
  { name: "socializedQuantity", type: "i64", unit: ASSET_UNITS + ": written down (Q4) or redeemed / closed (Q5)", slot: "quantity", kinds: ["Socialization"] },
  { name: "markPrice", type: "i64", unit: "P3: the perpetual's mark, USD at PRICE_DECIMALS (FundingRate: the mark at the interval end, which payments use)", slot: "quantity", kinds: ["MarkPrice", "FundingRate", "FundingPayment"] },
  { name: "legMarkPrice", type: "i64", unit: "Q3/Q4: the mark the leg (SocializedLoss: the bankrupt position) was decided at, " + ORDER_PRICE, slot: "lent", kinds: ["LiquidationTransfer", "SocializedLoss"] },
  { name: "openQuantity", type: "i64", unit: BASE_UNITS + ": what the book may fill (the quantity, or the reduceOnly cap; 0 for a market buy by quote only)", slot: "amount", kinds: ["OrderAccepted"] },
  { name: "remainingQuantity", type: "i64", unit: BASE_UNITS + ": requested − filled (0 for a market buy by quote only)", slot: "amount", kinds: ["OrderDone"] },
  { name: "available", type: "i64", unit: ASSET_UNITS + " free to use", slot: "amount", kinds: ["Balance", "AssetCollateral"] },
  { name: "marginLimit", type: "i64", unit: "the margin check's own limit, base units (MaxOrderQuantity) or asset units", slot: "amount", kinds: ["MaxOrderQuantity", "MaxWithdrawalQuantity", "MaxBorrowQuantity"] },
  { name: "freeLiquidity", type: "i64", unit: ASSET_UNITS + ": lent − borrowed", slot: "amount", kinds: ["PoolStats"] },
  { name: "interest", type: "i64", unit: ASSET_UNITS + " paid or earned (by interestKind), ≥ 0", slot: "amount", kinds: ["InterestEntry"] },
  { name: "fundingRate", type: "i64", unit: "P4 funding rate, a Ratio (RATIO_DECIMALS; MarkPrice: the predicted rate of the running interval)", slot: "amount", kinds: ["MarkPrice", "FundingRate", "FundingPayment"] },
  { name: "insuranceChange", type: "i64", unit: ASSET_UNITS + ": the insurance fund's change in one batch, signed", slot: "amount", kinds: ["InsuranceEntry"] },
  { name: "socializedAmount", type: "i64", unit: QUOTE_UNITS + " (USDC): > 0 received by the account, < 0 paid", slot: "amount", kinds: ["Socialization"] },
  { name: "settledAmount", type: "i64", unit: ASSET_UNITS + " moved by the step, > 0", slot: "amount", kinds: ["Settlement"] },
  { name: "transferAmount", type: "i64", unit: ASSET_UNITS + ": collateral a takeover leg moves (Q3); < 0: unsettled USDC it moves", slot: "amount", kinds: ["LiquidationTransfer"] },
  { name: "adlLoss", type: "i64", unit: QUOTE_UNITS + ": what the ADL counterparties gave up against the mark (Q4), rounded up", slot: "amount", kinds: ["SocializedLoss"] },
  { name: "commandAmount", type: "i64", unit: "the accepted command's amount in " + ASSET_UNITS + " (deposit, withdraw, transfer, pool actions)", slot: "amount", kinds: ["CommandAccepted", "CommandRejected"] },
  { name: "quoteQuantity", type: "i64", unit: QUOTE_UNITS + " (OrderAccepted: the market buy's quote limit; Fill: the trade's quote amount)", slot: "amount2", kinds: ["OrderAccepted", "Fill"] },
  { name: "filledQuantity", type: "i64", unit: BASE_UNITS + " filled", slot: "amount2", kinds: ["OrderDone"] },
  { name: "locked", type: "i64", unit: ASSET_UNITS + " held by open orders", slot: "amount2", kinds: ["Balance", "AssetCollateral"] },
  { name: "canceledOrders", type: "i64", unit: "CancelAll: how many orders it canceled (a count)", slot: "amount2", kinds: ["CommandAccepted"] },
  { name: "openBorrowLendLimit", type: "i64", unit: ASSET_UNITS + ": the pool's open borrow/lend limit", slot: "amount2", kinds: ["PoolStats"] },
  { name: "meanPremium", type: "i64", unit: "P4: P̄, the mean premium of the interval's samples, a Ratio (RATIO_DECIMALS)", slot: "amount2", kinds: ["FundingRate"] },
  { name: "insuranceBalance", type: "i64", unit: ASSET_UNITS + ": the insurance fund's balance (Σ of the shard slices)", slot: "amount2", kinds: ["InsuranceFund", "InsuranceEntry", "SocializedLoss"] },
  { name: "transferBorrowShares", type: "i64", unit: "borrow shares of `asset`'s pool a takeover leg moves (Q3)", slot: "amount2", kinds: ["LiquidationTransfer"] },
  { name: "fundingPayment", type: "i64", unit: QUOTE_UNITS + ": > 0 paid, < 0 received (P4: payers rounded up, receivers down)", slot: "amount2", kinds: ["FundingPayment"] },
  { name: "socializedLoss", type: "i64", unit: QUOTE_UNITS + " (USDC): beyond the insurance fund (LenderWriteDown), or rounding left unpaid", slot: "amount2", kinds: ["Socialization"] },
  { name: "poolLimit", type: "i64", unit: ASSET_UNITS + ": the pool's own limit on a manual borrow", slot: "amount2", kinds: ["MaxBorrowQuantity"] },
  { name: "makerAccount", type: "u32", unit: "Fill: the maker's account id" },
  { name: "counterpartyAccount", type: "u32", unit: "Q5 lender ADL: the other side's account (0 = none)", slot: "makerAccount", kinds: ["Socialization"] },
  { name: "makerOrderId", type: "f64", unit: "Fill: the maker's order id" },
  { name: "makerClientId", type: "u64", unit: "Fill: the maker's client order id" },
  { name: "makerFee", type: "i64", unit: "Fill: the maker's fee, units of the maker's fee asset" },
  { name: "takerFee", type: "i64", unit: "Fill: the taker's fee, units of the taker's fee asset" },
  { name: "tradeId", type: "f64", unit: "Fill: per-market trade counter" },
  { name: "timeMs", type: "f64", unit: "engine time, ms since the epoch (InterestEntry: the hour mark or the borrow time)" },
  { name: "lent", type: "i64", unit: ASSET_UNITS + " lent to the asset's pool (PoolStats: total lent)" },
  { name: "borrowed", type: "i64", unit: ASSET_UNITS + " borrowed from the asset's pool (PoolStats: total borrowed)" },
  { name: "netEquityUsd", type: "i64", unit: USD + ": C3 net equity" },
  { name: "netEquityLockedUsd", type: "i64", unit: USD + ": C6 locked part of net equity" },
  { name: "collateralValueUsd", type: "i64", unit: USD + ": C2 collateral value" },
  { name: "liabilityUsd", type: "i64", unit: USD + ": borrow liability" },
  { name: "exposureUsd", type: "i64", unit: USD + ": C4 total exposure notional" },
  { name: "notionalUsd", type: "i64", unit: USD + ": |quantity| × mark (AssetCollateral)" },
  { name: "pnlUsd", type: "i64", unit: USD + ": unrealized PnL" },
  { name: "volumeUsd", type: "i64", unit: USD + ": 30-day traded volume" },
  { name: "imf", type: "i64", unit: RATIO9 + "; REPORTED_RATIO_UNBOUNDED when unbounded (C7)" },
  { name: "mmf", type: "i64", unit: RATIO9 },
  { name: "marginFraction", type: "i64", unit: RATIO9 + "; REPORTED_RATIO_UNBOUNDED without exposure" },
  { name: "imr", type: "i64", unit: RATIO9 + "; REPORTED_RATIO_UNBOUNDED with net equity ≤ 0" },
  { name: "mmr", type: "i64", unit: RATIO9 + "; REPORTED_RATIO_UNBOUNDED with net equity ≤ 0" },
  { name: "weight", type: "i64", unit: RATIO9 + ": the asset's collateral weight" },
  { name: "settings", type: "i32", unit: "AccountSetting bits that are on" },
  { name: "leverageLimit", type: "i32", unit: "max account leverage 1…50" },
  { name: "feeTier", type: "i32", unit: "fee tier index (S5)" },
  { name: "makerFeeBps", type: "i32", unit: "AccountCollateral: the account's maker fee, basis points (S5)" },
  { name: "takerFeeBps", type: "i32", unit: "AccountCollateral: the account's taker fee, basis points (S5)" },
  { name: "utilization", type: "i64", unit: RATIO9 },
  { name: "borrowRate", type: "i64", unit: RATIO9 + ", APR" },
  { name: "lendRate", type: "i64", unit: RATIO9 + ", APR" },
  { name: "lendRateAfterFee", type: "i64", unit: RATIO9 + ", APR" },
  { name: "hourBorrowRate", type: "i64", unit: RATIO9 + ", APR" },
  { name: "optimalUtilization", type: "i64", unit: RATIO9 },
  { name: "throttleUtilization", type: "i64", unit: RATIO9 },
  { name: "maxUtilization", type: "i64", unit: RATIO9 },
  { name: "poolFee", type: "i64", unit: RATIO9 },
  { name: "reservedBorrow", type: "i64", unit: "PoolStats: " + ASSET_UNITS + " of borrow capacity reserved by open margin orders" },
];
