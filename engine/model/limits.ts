// Every named limit of the domain, spelled once (TigerBeetle: a limit on everything; each breach has a typed reject).
// Names end in _MAX (or _MIN). The gateway checks the same numbers at the boundary that the stages check again.
// Account identity limits (SUB_ACCOUNT_MAX, USER_MAX, ACCOUNT_ID_MAX) are in identity.ts, beside the layout.

/** The int64 range: every engine amount and every wire Decimal mantissa is an int64. */
export const INT64_MAX = 0x7fff_ffff_ffff_ffffn;
export const INT64_MIN = -0x8000_0000_0000_0000n;
/**
 * The bound of an int64 column's in-place path (book level totals, account balance slots): a value and a delta both
 * strictly inside ±2^62 have a sum or difference strictly inside ±2^63, so the column's store cannot wrap (a
 * BigInt64Array store wraps silently). Anything else takes the exact bigint path. The negation is a constant too: one
 * written in the test would make a bigint per call.
 */
export const INT64_COLUMN_FAST_LIMIT = 1n << 62n;
export const INT64_COLUMN_FAST_LIMIT_NEG = -INT64_COLUMN_FAST_LIMIT;

/** A3: an account's max leverage is a whole number in 1…50 (and never above the platform's), default 10. */
export const LEVERAGE_LIMIT_MIN = 1;
export const LEVERAGE_LIMIT_MAX = 50;
export const LEVERAGE_LIMIT_DEFAULT = 10;

/** Risk: open orders one account may have over all markets; more → TooManyOpenOrders. */
export const OPEN_ORDERS_PER_ACCOUNT_MAX = 1000;
/** Risk: accounts one risk shard holds; a new one beyond it → Overloaded. */
export const ACCOUNTS_PER_SHARD_MAX = 1_000_000;
/**
 * Matching: accounts with a position in one perpetual market (its reduceOnly replica, engine/matching/perp-positions.ts)
 * that a snapshot may hold: every account of 64 full risk shards. Only a snapshot's count is checked against it (a
 * position exists only for an account a risk shard admitted).
 */
export const POSITIONS_PER_MARKET_MAX = 64 * ACCOUNTS_PER_SHARD_MAX;
/** L13: points of a rate curve (QueryRateCurve). */
export const RATE_CURVE_POINTS_MAX = 101;
/** L14: entries of an interest history (QueryInterestHistory). */
export const INTEREST_HISTORY_ENTRIES_MAX = 1000;
/** P6/P7: settlement rows kept per account (QuerySettlementHistory; the oldest goes first). A fill writes up to 4 per
 * side, a funding payment or a realization up to 4: ~7 KB per account when full. */
export const SETTLEMENT_HISTORY_ROWS_MAX = 256;
/** P4: funding payments kept per account over all its markets (QueryFundingHistory): a week of hourly intervals. */
export const FUNDING_HISTORY_ENTRIES_MAX = 168;
/** P4: funding rates kept per perpetual market in each risk shard (QueryFundingRateHistory): 30 days of hourly intervals. */
export const FUNDING_RATE_HISTORY_MAX = 720;

/** Q6: rows of one account's liquidation history kept (the newest) and returned by one QueryLiquidationHistory. */
export const LIQUIDATION_HISTORY_ENTRIES_MAX = 256;
/** Q6/D4: rows of the insurance fund's history kept (the newest; the balance never drops anything). */
export const INSURANCE_HISTORY_KEPT_MAX = 10_000;
/** Q6/D4: rows one QueryInsuranceHistory returns at most. */
export const INSURANCE_HISTORY_ENTRIES_MAX = 1000;
/** Q4: rows of the exchange's lender write-downs kept (the newest) and returned by one QueryLenderLosses. */
export const LENDER_LOSS_ROWS_KEPT_MAX = 10_000;
export const LENDER_LOSS_ENTRIES_MAX = 1000;

/** Matching (defaults of MatchingLimits): open orders one account may rest in one market; more → TooManyOpenOrders. */
export const OPEN_ORDERS_PER_ACCOUNT_MARKET_MAX = 1_000;
/** Matching: resting orders in one book; more → Overloaded. */
export const ORDERS_PER_BOOK_MAX = 1 << 22;
/** Matching: price levels on one side of one book; a new level beyond it → Overloaded. */
export const LEVELS_PER_SIDE_MAX = 1 << 16;
/** Matching: highest tick index a market may have (price / tickSize); tick indices live in Int32Arrays. */
export const TICK_INDEX_MAX = 0x7fff_ffff;

/** P2: how far an oracle quote's source time may run ahead of engine time, ms (a later one → InvalidTime): a quote
 * from the future would otherwise stay fresh past staleAfterMs. */
export const ORACLE_QUOTE_AHEAD_MS_MAX = 60_000;

/** Configuration tables: small, and every number inside int64 on the wire. */
export const ASSETS_MAX = 256;
export const MARKETS_MAX = 1024;
export const ASSET_DECIMALS_MAX = 12;
export const FEE_TIERS_MAX = 32;
