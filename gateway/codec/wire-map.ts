// The wire side of the vocabulary: which FlatBuffers table field (crossbook.fbs, snake_case as declared) carries
// which record field (engine/model/vocabulary.ts), at which scale. `npm run schemas` (schemas/generate-codec.ts)
// turns EVENT_WIRE into the per-kind encoders of gateway/codec/generated/encode-events.ts, and the Event union of
// crossbook.fbs with EVENT_WIRE's omit rules into the client SDK's decoders gateway/client/generated/decode-events.ts;
// test/schemas.test.ts fails when either is stale. Adding an event kind = its table (and Event union member) in
// crossbook.fbs, one row here, npm run schemas: no hand-written encoder or client decoder.
//
// A field row is [wire field, value, conversion?, omit?]:
// - value: a record field name (checked against EVENT_FIELDS) or an expression over `e` (the EventRecord), `m` (its
//   market), `asMaker` and `feeAsset` (Fill);
// - conversion: absent = the value as is (ints, bools, u64 bigints); "id" = an f64 id or time as a u64; "bool" =
//   a 0/1 int as a bool; "string" = an ASCII string; a Decimal at the scale of: "price" (PRICE_DECIMALS), "base" /
//   "quote" (the market's base / quote asset), "asset" (e.asset), "fee" (the fee asset), "echo" (e.asset, or 0 when
//   the value is 0: commands without an asset), "usd" (USD_DECIMALS), "ratio" (REPORTED_RATIO_DECIMALS), "rate"
//   (RATIO_DECIMALS: P4 rates and premiums, exact);
// - omit: "zero" = left out when 0 (absent reads as 0; the client SDK's object then has no such key), "unbounded" =
//   left out when REPORTED_RATIO_UNBOUNDED (C7; the client reads "unbounded").

export type WireConversion = "id" | "bool" | "string" | "price" | "base" | "quote" | "asset" | "fee" | "echo" | "usd" | "ratio" | "rate";
export type WireFieldRow = readonly [wire: string, value: string, conversion?: WireConversion, omit?: "zero" | "unbounded"];

export interface EventWire {
  /** EventKind member (and, unless `table` says otherwise, the wire table and Event union member). */
  readonly kind: string;
  readonly table?: string;
  readonly fields: readonly WireFieldRow[];
}

const SETTING_BOOLS: readonly WireFieldRow[] = [
  ["auto_lend", "on(e.settings, AccountSetting.AutoLend)"],
  ["auto_repay_borrows", "on(e.settings, AccountSetting.AutoRepayBorrows)"],
  ["auto_borrow_settlements", "on(e.settings, AccountSetting.AutoBorrowSettlements)"],
  ["auto_realize_pnl", "on(e.settings, AccountSetting.AutoRealizePnl)"],
  ["margin_enabled", "on(e.settings, AccountSetting.MarginEnabled)"],
];

const LIQUIDATION_STATUS: readonly WireFieldRow[] = [
  ["account", "account"], ["net_equity", "netEquityUsd", "usd"], ["exposure_notional", "exposureUsd", "usd"],
  ["mmf", "mmf", "ratio", "unbounded"], ["mmr", "mmr", "ratio", "unbounded"], ["time_ms", "timeMs", "id"],
];

/** Every engine event kind that has a wire form, in EventKind order. */
export const EVENT_WIRE: readonly EventWire[] = [
  {
    kind: "OrderAccepted",
    fields: [["account", "account"], ["market", "market"], ["order_id", "orderId", "id"], ["client_id", "clientId"], ["side", "side"], ["price", "price", "price"], ["quantity", "quantity", "base"]],
  },
  {
    kind: "OrderRejected",
    fields: [["account", "account"], ["market", "market"], ["order_id", "orderId", "id"], ["client_id", "clientId"], ["code", "code"], ["message", "message", "string"]],
  },
  {
    kind: "Fill",
    fields: [
      ["market", "market"], ["trade_id", "tradeId", "id"], ["price", "price", "price"], ["quantity", "quantity", "base"],
      ["quote_quantity", "quoteQuantity", "quote"], ["taker_account", "account"], ["maker_account", "makerAccount"],
      ["taker_order_id", "orderId", "id"], ["maker_order_id", "makerOrderId", "id"], ["taker_client_id", "clientId"],
      ["maker_client_id", "makerClientId"], ["taker_side", "side"], ["fee", "asMaker ? e.makerFee : e.takerFee", "fee"],
      ["fee_asset", "feeAsset"], ["is_maker", "asMaker"], ["time_ms", "timeMs", "id"],
    ],
  },
  {
    kind: "OrderDone",
    fields: [["account", "account"], ["market", "market"], ["order_id", "orderId", "id"], ["client_id", "clientId"], ["side", "side"], ["reason", "code"], ["filled", "filledQuantity", "base"], ["remaining", "remainingQuantity", "base"]],
  },
  {
    kind: "Balance",
    fields: [["account", "account"], ["asset", "asset"], ["available", "available", "asset"], ["locked", "locked", "asset"], ["lent", "lent", "asset", "zero"], ["borrowed", "borrowed", "asset", "zero"]],
  },
  { kind: "Clock", fields: [["time_ms", "timeMs", "id"]] },
  {
    kind: "CommandAccepted",
    fields: [["account", "account"], ["asset", "asset"], ["amount", "commandAmount", "echo"], ["canceled_orders", "Number(e.canceledOrders)", undefined, "zero"]],
  },
  { kind: "CommandRejected", fields: [["account", "account"], ["code", "code"], ["message", "message", "string"]] },
  { kind: "AccountSettings", fields: [["account", "account"], ["leverage_limit", "leverageLimit"], ...SETTING_BOOLS] },
  {
    kind: "AccountCollateral",
    fields: [
      ["account", "account"], ["net_equity", "netEquityUsd", "usd"], ["net_equity_available", "e.netEquityUsd - e.netEquityLockedUsd", "usd"],
      ["net_equity_locked", "netEquityLockedUsd", "usd"], ["collateral_value", "collateralValueUsd", "usd"],
      ["borrow_liability", "liabilityUsd", "usd"], ["unrealized_pnl", "pnlUsd", "usd"], ["exposure_notional", "exposureUsd", "usd"],
      ["imf", "imf", "ratio", "unbounded"], ["mmf", "mmf", "ratio", "unbounded"], ["margin_fraction", "marginFraction", "ratio", "unbounded"],
      ["imr", "imr", "ratio", "unbounded"], ["mmr", "mmr", "ratio", "unbounded"], ["liquidatable", "liquidatable(e.mmr)"],
      ["leverage_limit", "leverageLimit"], ...SETTING_BOOLS, ["fee_tier", "feeTier"], ["maker_fee_bps", "makerFeeBps"],
      ["taker_fee_bps", "takerFeeBps"], ["volume_30d", "volumeUsd", "usd"],
    ],
  },
  {
    kind: "AssetCollateral",
    fields: [
      ["account", "account"], ["asset", "asset"], ["quantity", "quantity", "asset"], ["available", "available", "asset"],
      ["open_order_quantity", "locked", "asset"], ["lent", "lent", "asset"], ["borrowed", "borrowed", "asset"],
      ["mark_price", "price", "price"], ["weight", "weight", "ratio"], ["notional", "notionalUsd", "usd"],
      ["collateral_value", "collateralValueUsd", "usd"], ["liability", "liabilityUsd", "usd"],
    ],
  },
  {
    kind: "MaxOrderQuantity",
    fields: [["account", "account"], ["market", "market"], ["side", "side"], ["price", "price", "price"], ["quantity", "quantity", "base"], ["margin_limit", "marginLimit", "base"]],
  },
  {
    kind: "MaxWithdrawalQuantity",
    fields: [["account", "account"], ["asset", "asset"], ["quantity", "quantity", "asset"], ["margin_limit", "marginLimit", "asset"]],
  },
  {
    kind: "PoolStats",
    fields: [
      ["asset", "asset"], ["state", "poolState"], ["throttled", "throttled", "bool"], ["total_lent", "lent", "asset"],
      ["total_borrowed", "borrowed", "asset"], ["free_liquidity", "freeLiquidity", "asset"], ["reserved", "reservedBorrow", "asset"],
      ["open_borrow_lend_limit", "openBorrowLendLimit", "asset"], ["utilization", "utilization", "ratio"],
      ["borrow_rate", "borrowRate", "ratio"], ["lend_rate", "lendRate", "ratio"], ["lend_rate_after_fee", "lendRateAfterFee", "ratio"],
      ["hour_borrow_rate", "hourBorrowRate", "ratio"], ["optimal_utilization", "optimalUtilization", "ratio"],
      ["throttle_utilization", "throttleUtilization", "ratio"], ["max_utilization", "maxUtilization", "ratio"], ["fee", "poolFee", "ratio"],
    ],
  },
  {
    kind: "RateCurvePoint",
    fields: [["asset", "asset"], ["utilization", "utilization", "ratio"], ["borrow_rate", "borrowRate", "ratio"], ["lend_rate", "lendRate", "ratio"], ["lend_rate_after_fee", "lendRateAfterFee", "ratio"]],
  },
  {
    kind: "InterestEntry",
    fields: [["account", "account"], ["asset", "asset"], ["kind", "interestKind"], ["amount", "interest", "asset"], ["rate", "borrowRate", "ratio"], ["time_ms", "timeMs", "id"]],
  },
  {
    kind: "MaxBorrowQuantity",
    fields: [["account", "account"], ["asset", "asset"], ["quantity", "quantity", "asset"], ["margin_limit", "marginLimit", "asset"], ["pool_limit", "poolLimit", "asset"]],
  },
  {
    kind: "IndexPrice",
    fields: [
      ["asset", "asset"], ["index", "indexPrice", "price"], ["stale", "on(e.indexFlags, IndexFlag.Stale)"], ["sources_used", "sourcesUsed"],
      ["step_limited", "on(e.indexFlags, IndexFlag.StepLimited)"], ["time_ms", "timeMs", "id"],
    ],
  },
  {
    kind: "MarkPrice",
    fields: [
      ["market", "market"], ["mark", "markPrice", "price"], ["index", "indexPrice", "price"], ["source", "markSource"],
      ["predicted_funding_rate", "fundingRate", "rate"], ["next_funding_time_ms", "nextFundingTimeMs", "id"], ["time_ms", "timeMs", "id"],
    ],
  },
  {
    kind: "FundingRate",
    fields: [
      ["market", "market"], ["rate", "fundingRate", "rate"], ["mean_premium", "meanPremium", "rate"], ["samples", "fundingSamples"],
      ["time_ms", "timeMs", "id"], ["mark", "markPrice", "price"],
    ],
  },
  // Q1: liquidation status changes (seq 0: the account's watchers see them, never as a reply).
  { kind: "LiquidationStarted", fields: LIQUIDATION_STATUS },
  { kind: "LiquidationEnded", fields: LIQUIDATION_STATUS },
  {
    kind: "Settlement",
    fields: [
      ["account", "account"], ["market", "market"], ["asset", "asset"], ["reason", "settlementReason"], ["step", "settlementStep"],
      ["amount", "settledAmount", "asset"], ["time_ms", "timeMs", "id"],
    ],
  },
  {
    kind: "Position",
    fields: [
      ["account", "account"], ["market", "market"], ["net_quantity", "netQuantity", "base"], ["entry_price", "entryPrice", "price"],
      ["break_even_price", "breakEvenPrice", "price"], ["mark_price", "positionMarkPrice", "price"], ["pnl_unrealized", "pnlUnrealized", "quote"],
      ["pnl_realized", "pnlRealized", "quote"], ["cumulative_funding_payment", "cumulativeFundingPayment", "quote"],
      ["net_exposure_quantity", "netExposureQuantity", "base"], ["net_exposure_notional", "positionExposureUsd", "usd"], ["imf", "imf", "ratio"],
      ["mmf", "mmf", "ratio"], ["est_liquidation_price", "estLiquidationPrice", "price"], ["time_ms", "timeMs", "id"],
    ],
  },
  { kind: "OpenInterest", fields: [["market", "market"], ["quantity", "openInterestQuantity", "base"], ["time_ms", "timeMs", "id"]] },
  { kind: "InsuranceFund", fields: [["asset", "asset"], ["balance", "insuranceBalance", "asset"], ["time_ms", "timeMs", "id"]] },
  {
    kind: "InsuranceEntry",
    fields: [["asset", "asset"], ["reason", "insuranceReason"], ["amount", "insuranceChange", "asset"], ["balance", "insuranceBalance", "asset"], ["time_ms", "timeMs", "id"]],
  },
  {
    kind: "FundingPayment",
    fields: [
      ["account", "account"], ["market", "market"], ["rate", "fundingRate", "rate"], ["mark", "markPrice", "price"],
      ["quantity", "fundedQuantity", "base"], ["amount", "fundingPayment", "quote"], ["time_ms", "timeMs", "id"],
    ],
  },
  {
    kind: "Socialization",
    fields: [
      ["account", "account"], ["asset", "asset"], ["market", "market"], ["kind", "socializationKind"], ["quantity", "socializedQuantity", "asset"],
      ["amount", "socializedAmount", "quote"], ["loss", "socializedLoss", "quote"], ["price", "socializationPrice", "price"],
      ["counterparty", "counterpartyAccount"], ["net_equity", "netEquityUsd", "usd"], ["time_ms", "timeMs", "id"],
    ],
  },
  {
    kind: "LiquidationTransfer",
    fields: [
      ["step", "liquidationStep"], ["from_account", "account"], ["to_account", "makerAccount"], ["market", "market"], ["asset", "asset"],
      ["side", "side"], ["quantity", "quantity", "base"], ["price", "price", "price"], ["amount", "transferAmount", "asset"],
      ["borrow_shares", "transferBorrowShares", "asset"], ["borrowed", "borrowed", "asset"], ["mark", "legMarkPrice", "price"],
      ["time_ms", "timeMs", "id"],
    ],
  },
  {
    kind: "SocializedLoss",
    fields: [
      ["account", "account"], ["market", "market"], ["asset", "asset"], ["quantity", "quantity", "base"], ["bankruptcy_price", "price", "price"],
      ["mark", "legMarkPrice", "price"], ["loss", "adlLoss", "quote"], ["insurance_balance", "insuranceBalance", "quote"], ["time_ms", "timeMs", "id"],
    ],
  },
];

// ---------------------------------------------------------------- commands (server decode)
//
// A command row pairs a wire table (schemas `Command` member, its verify.ts layout) with the CommandKind it becomes.
// Its field rows [wire field, record field, reading] are read, checked and stored in row order, after the fields
// that identify the sender (account, market, client_id) are echoed into the DecodeResult. Readings:
//   account · market · marketOrAll (absent = ALL_MARKETS) · clientId · asset · assetOrAll · u8 · u16 (as is)
//   side · tif · stp · marketState (enums, range-checked) · price · base / base? · quote? · amount / amount?
//   (Decimals at PRICE_DECIMALS or the asset's decimals; `?` = zero or absent allowed) · timeMs (u64 ms ≤ 2^53 − 1)
//   flag:<OrderFlag member, or Enum.Member of another flag set> (a bool field ORed into flags) · orderRef (order_id or client_id, exactly one)
//   check:<function of wire-reads.ts>(<locals of earlier rows>) (a rule across fields, at that point of the row
//   order; `result` is appended). Every field is checked before the record is written.
// The client SDK (gateway/client/codec.ts) encodes its command JSON from the same rows (key = camelCase wire field),
// so a command kind with a row here needs no client row.
// Commands the gateway answers itself and those with genuinely special validation (Login, API keys, settings
// toggles, subscriptions, account catch-up, snapshots) are decoded by hand in decode.ts.

export type CommandFieldRow = readonly [wire: string, field: string, reading: string];

export interface CommandWire {
  /** The wire table / Command union member. */
  readonly wire: string;
  /** The CommandKind it becomes. */
  readonly kind: string;
  /** Only an operator session may send it. */
  readonly privileged?: boolean;
  /** Record fields set to a constant expression. */
  readonly set?: readonly (readonly [field: string, value: string])[];
  readonly fields: readonly CommandFieldRow[];
}

const ORDER_FLAG_ROWS: readonly CommandFieldRow[] = [
  ["auto_borrow", "flags", "flag:AutoBorrow"],
  ["auto_borrow_repay", "flags", "flag:AutoBorrowRepay"],
  ["auto_lend", "flags", "flag:AutoLend"],
  ["auto_lend_redeem", "flags", "flag:AutoLendRedeem"],
];
const ACCOUNT_ASSET_AMOUNT: readonly CommandFieldRow[] = [["account", "account", "account"], ["asset", "asset", "asset"], ["amount", "amount", "amount"]];
const ACCOUNT_ASSET_WHOLE: readonly CommandFieldRow[] = [["account", "account", "account"], ["asset", "asset", "asset"], ["amount", "amount", "amount?"]];

export const COMMAND_WIRE: readonly CommandWire[] = [
  { wire: "Deposit", kind: "Deposit", privileged: true, fields: ACCOUNT_ASSET_AMOUNT },
  // A margin withdrawal borrows the missing part (A5, L9).
  { wire: "Withdraw", kind: "Withdraw", fields: [...ACCOUNT_ASSET_AMOUNT, ["margin", "flags", "flag:AutoBorrow"]] },
  {
    wire: "LimitOrder",
    kind: "PlaceOrder",
    set: [["orderType", "OrderType.Limit"]],
    fields: [
      ["account", "account", "account"], ["market", "market", "market"], ["client_id", "clientId", "clientId"],
      ["side", "side", "side"], ["tif", "tif", "tif"], ["stp", "stp", "stp"], ["price", "price", "price"], ["quantity", "quantity", "base"],
      ["post_only", "flags", "flag:PostOnly"], ["reduce_only", "flags", "flag:ReduceOnly"], ...ORDER_FLAG_ROWS,
    ],
  },
  {
    wire: "MarketOrder",
    kind: "PlaceOrder",
    // A market order never rests: whatever does not fill at once expires.
    set: [["orderType", "OrderType.Market"], ["tif", "TimeInForce.IOC"]],
    fields: [
      ["account", "account", "account"], ["market", "market", "market"], ["client_id", "clientId", "clientId"],
      ["side", "side", "side"], ["stp", "stp", "stp"], ["quantity", "quantity", "base?"], ["quote_quantity", "quoteQuantity", "quote?"],
      ["", "", "check:checkMarketOrderSize(quantity, quoteQuantity, side)"], ["reduce_only", "flags", "flag:ReduceOnly"], ...ORDER_FLAG_ROWS,
    ],
  },
  {
    wire: "Cancel",
    kind: "CancelOrder",
    fields: [["account", "account", "account"], ["market", "market", "market"], ["client_id", "clientId", "clientId"], ["order_id", "orderId", "orderRef"]],
  },
  { wire: "CancelAll", kind: "CancelAll", fields: [["account", "account", "account"], ["market", "market", "marketOrAll"]] },
  {
    wire: "Replace",
    kind: "ReplaceOrder",
    fields: [
      ["account", "account", "account"], ["market", "market", "market"], ["client_id", "clientId", "clientId"],
      ["price", "price", "price"], ["quantity", "quantity", "base"], ["order_id", "orderId", "orderRef"],
    ],
  },
  {
    wire: "Transfer",
    kind: "Transfer",
    fields: [
      ["from_account", "account", "account"], ["to_account", "account2", "account"], ["", "", "check:checkTransferAccounts(fromAccount, toAccount)"],
      ["asset", "asset", "asset"], ["amount", "amount", "amount"],
    ],
  },
  { wire: "SetMarketState", kind: "SetMarketState", privileged: true, fields: [["market", "market", "market"], ["state", "marketState", "marketState"]] },
  { wire: "AdvanceTime", kind: "AdvanceTime", privileged: true, fields: [["time_ms", "timeMs", "timeMs"]] },
  { wire: "SetMarkPrice", kind: "SetMarkPrice", privileged: true, fields: [["asset", "asset", "asset"], ["price", "price", "price"]] },
  {
    // P2: one source's quote; the update's last quote carries apply (the index is recomputed, answer IndexPrice).
    wire: "OracleQuote",
    kind: "OracleQuote",
    privileged: true,
    fields: [
      ["asset", "asset", "asset"], ["source", "oracleSource", "u8"], ["", "", "check:checkOracleSource(config, asset, source)"],
      ["bid", "bid", "price"], ["ask", "ask", "price"], ["", "", "check:checkQuoteNotCrossed(bid, ask)"], ["last", "last", "price"],
      ["source_time_ms", "sourceTimeMs", "timeMs"], ["apply", "flags", "flag:OracleQuoteFlag.Apply"],
    ],
  },
  { wire: "QueryCollateral", kind: "QueryCollateral", fields: [["account", "account", "account"]] },
  {
    wire: "QueryMaxOrder",
    kind: "QueryMaxOrder",
    set: [["orderType", "OrderType.Limit"]],
    fields: [["account", "account", "account"], ["market", "market", "market"], ["side", "side", "side"], ["price", "price", "price"], ...ORDER_FLAG_ROWS],
  },
  { wire: "QueryMaxWithdrawal", kind: "QueryMaxWithdrawal", fields: [["account", "account", "account"], ["asset", "asset", "asset"], ["margin", "flags", "flag:AutoBorrow"]] },
  { wire: "Borrow", kind: "Borrow", fields: ACCOUNT_ASSET_AMOUNT },
  { wire: "Repay", kind: "Repay", fields: ACCOUNT_ASSET_WHOLE },
  { wire: "Lend", kind: "Lend", fields: ACCOUNT_ASSET_AMOUNT },
  { wire: "Redeem", kind: "Redeem", fields: ACCOUNT_ASSET_WHOLE },
  { wire: "QueryPoolStats", kind: "QueryPoolStats", fields: [["asset", "asset", "assetOrAll"]] },
  { wire: "QueryRateCurve", kind: "QueryRateCurve", fields: [["asset", "asset", "asset"], ["points", "curvePoints", "u8"], ["", "", "check:checkCurvePoints(points)"]] },
  {
    wire: "QueryInterestHistory",
    kind: "QueryInterestHistory",
    fields: [["account", "account", "account"], ["asset", "asset", "assetOrAll"], ["since_ms", "timeMs", "timeMs"], ["limit", "historyLimit", "u16"]],
  },
  { wire: "QueryMaxBorrow", kind: "QueryMaxBorrow", fields: [["account", "account", "account"], ["asset", "asset", "asset"]] },
  { wire: "QueryPositions", kind: "QueryPositions", fields: [["account", "account", "account"]] },
  { wire: "QueryOpenInterest", kind: "QueryOpenInterest", fields: [["market", "market", "marketOrAll"]] },
  {
    wire: "QueryLiquidationHistory",
    kind: "QueryLiquidationHistory",
    fields: [["account", "account", "account"], ["since_ms", "timeMs", "timeMs"], ["limit", "historyLimit", "u16"]],
  },
  { wire: "QueryInsuranceFund", kind: "QueryInsuranceFund", fields: [["asset", "asset", "assetOrAll"]] },
  {
    wire: "QueryInsuranceHistory",
    kind: "QueryInsuranceHistory",
    fields: [["asset", "asset", "assetOrAll"], ["since_ms", "timeMs", "timeMs"], ["limit", "historyLimit", "u16"]],
  },
  {
    wire: "QuerySettlementHistory",
    kind: "QuerySettlementHistory",
    fields: [["account", "account", "account"], ["market", "market", "marketOrAll"], ["since_ms", "timeMs", "timeMs"], ["limit", "historyLimit", "u16"]],
  },
  {
    wire: "QueryFundingHistory",
    kind: "QueryFundingHistory",
    fields: [["account", "account", "account"], ["market", "market", "marketOrAll"], ["since_ms", "timeMs", "timeMs"], ["limit", "historyLimit", "u16"]],
  },
  {
    wire: "QueryLenderLosses",
    kind: "QueryLenderLosses",
    fields: [["asset", "asset", "assetOrAll"], ["since_ms", "timeMs", "timeMs"], ["limit", "historyLimit", "u16"]],
  },
  {
    wire: "QueryFundingRateHistory",
    kind: "QueryFundingRateHistory",
    fields: [["market", "market", "market"], ["since_ms", "timeMs", "timeMs"], ["limit", "historyLimit", "u16"]],
  },
];

/** CommandKinds without a COMMAND_WIRE row, and why: the generator fails on any other kind missing a row. */
export const COMMANDS_DECODED_ELSEWHERE: Readonly<Record<string, string>> = {
  None: "not a command",
  MarketBandInputs: "settlement → matching only, never on the wire",
  LiquidationTransfer: "engine-originated (phase 0, Q3/Q4) → matching → risk only, never on the wire",
  SetOraclePrice: "reserved, never on the wire: the oracle moves marks with OracleQuote (P2), operators with SetMarkPrice",
  UpdateAccountSettings: "decode.ts: toggles into a mask and values, and 'changes nothing' is refused",
  RegisterApiKey: "decode.ts: X6, a base64 key into four words",
  RevokeApiKey: "decode.ts: X6, a base64 key into four words",
};
