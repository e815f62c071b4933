// The wire side of the vocabulary: which FlatBuffers table field (crossbook.fbs, snake_case as declared) carries
// which record field (engine/model/vocabulary.ts), at which scale. `npm run schemas` (schemas/generate-codec.ts)
// turns EVENT_WIRE into the per-kind encoders of gateway/codec/generated/encode-events.ts; test/schemas.test.ts fails
// when that file is stale. Adding an event kind = one row here (and its table in crossbook.fbs).
//
// A field row is [wire field, value, conversion?, omit?]:
// - value: a record field name (checked against EVENT_FIELDS) or an expression over `e` (the EventRecord), `m` (its
//   market), `asMaker` and `feeAsset` (Fill);
// - conversion: absent = the value as is (ints, bools, u64 bigints); "id" = an f64 id or time as a u64; "bool" =
//   a 0/1 int as a bool; "string" = an ASCII string; a Decimal at the scale of: "price" (PRICE_DECIMALS), "base" /
//   "quote" (the market's base / quote asset), "asset" (e.asset), "fee" (the fee asset), "echo" (e.asset, or 0 when
//   the value is 0: commands without an asset), "usd" (USD_DECIMALS), "ratio" (REPORTED_RATIO_DECIMALS);
// - omit: "zero" = left out when 0n (absent reads as 0), "unbounded" = left out when REPORTED_RATIO_UNBOUNDED (C7).

export type WireConversion = "id" | "bool" | "string" | "price" | "base" | "quote" | "asset" | "fee" | "echo" | "usd" | "ratio";
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
    fields: [["account", "account"], ["asset", "asset"], ["amount", "commandAmount", "echo"], ["canceled_orders", "Number(e.canceledOrders)"]],
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
];
