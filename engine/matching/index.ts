// Public face of the matching engine: MatchingShard (price-time books of a market shard), market data, limits.
//
// ## API
//   new MatchingShard(config, marketIds, { limits? })
//   handle(cmd, sink)              PlaceOrder, CancelOrder, CancelAll, ReplaceOrder, SetMarketState,
//                                  MarketBandInputs, AdvanceTime (= setTime). Events go to sink.publish through ONE
//                                  reused EventRecord, synchronously, in order; copy what you keep.
//   setTime(ms)                    engine time (from AdvanceTime); stamps events and trades, drives the 24 h ticker.
//   setMarketDataSink(sink|null)   O8 market data (see MarketDataSink in market-data.ts for the call order).
//   depthSnapshot(market, levels)  L2 snapshot with lastUpdateId; ticker(market); bookOrders(market); marketState(m).
//   stateHash(): string            deterministic 64-bit hash (hex) of all books (replay equality).
//   validateInternalState()        throws on any broken invariant (tests call it after every command).
//
// ## Events (EventRecord fields; every event of a known market carries marketSeq = previous + 1 for that market:
//    the counter advances once per published EVENT, rejects included; unknown-market rejects and the final ack of a
//    CancelAll over ALL_MARKETS carry marketSeq 0)
//   OrderAccepted  orderId (= cmd.seq), account, side, price (0 for market), quantity = requested base quantity,
//                  openQuantity = quantity the book may fill (= quantity, or the reduceOnly cap; 0 for a market buy
//                  by quote only), quoteQuantity (market buys), clientId. Published before any fill.
//   OrderRejected  code (RejectCode, names the filter), message, orderId = cmd.seq (also for a cancel: risk releases
//                  holds by orderId, so a reject never names a live order), clientId, account, side. Nothing changed.
//   Fill           account/orderId/clientId/side = TAKER, makerAccount/makerOrderId/makerClientId, price = maker's
//                  level price, quantity, quoteQuantity = quote amount floor(q × p × 10^qd / (10^bd × 10^9)), tradeId
//                  (per-market counter). Fees are 0 (risk computes them).
//   OrderDone      code = DoneReason, price = the order's limit price (0 for market), quantity = requested quantity,
//                  remainingQuantity = requested − filled (0 for a market buy by quote only), filledQuantity. Published for the
//                  taker when it does not rest, and for every maker that leaves the book (filled, STP, cancel).
//   CommandAccepted  SetMarketState (code = new state), CancelAll (commandAmount = orders canceled).
//   CommandRejected  SetMarketState / MarketBandInputs with bad fields, UnknownMarket, UnknownCommand.
//   Event order for a taker: OrderAccepted, then per maker either [Fill, maker OrderDone if it left the book] or an
//   STP cancel (maker OrderDone SelfTradeMaker), then the taker's OrderDone unless it rests.
//
// ## Order semantics (SPEC O1–O8)
// - Validation order: enum fields (InvalidField) → market state (MarketStateForbids) → price filters (InvalidPrice,
//   TickSize, MinPrice, MaxPrice) → quantity filters (InvalidQuantity, StepSize, MinQuantity, MaxQuantity) →
//   MinNotional (limits: q × p; market buy by quote: quoteQuantity; market by quantity: not checked, no price) →
//   DuplicateClientId → limits for a GTC limit (TooManyOpenOrders, Overloaded) → reduceOnly (ReduceOnlyNotReducing)
//   → O4 PriceBand (limit orders) → PostOnlyWouldTake.
// - Market orders never rest (GTC/IOC behave as IOC; FOK is fill-or-kill). A market buy may carry quantity and/or
//   quoteQuantity: it stops at whichever limit binds first; quantity 0 = by quote only. quoteQuantity on a limit
//   order or a sell is InvalidField; FOK by quote only is InvalidField; postOnly needs a GTC limit (InvalidField).
// - FOK that cannot fill completely (its limit, the bands, STP and the quote budget considered): OrderAccepted then
//   OrderDone FokUnfilled, nothing else changes.
// - reduceOnly (perpetuals only, else InvalidField): the market keeps every account's position, moved by each of its
//   fills (perp-positions.ts), so the cap is the position at that very moment. A sell needs a long, a buy a short
//   (else ReduceOnlyNotReducing); the book fills at most |position| (rounded down to the step). When that cap ends the
//   order, OrderDone says ReduceOnlyCapped with amount = requested − filled. A capped GTC order rests with open
//   quantity cap − filled, and is capped again each time the book fills it: it fills at most what is left of the
//   position it reduces, and when nothing is left it is removed (OrderDone ReduceOnlyCapped) instead of filling.
// - P1 openInterestLimit at fill time (perp-positions.ts openInterestCap): the replica also sums the longs, so a fill
//   that would raise open interest above the limit is cut to the room left and the taker ends there (OrderDone
//   OpenInterestLimit, even a GTC: its rest would cross the maker); a FOK that cannot fill whole within it does not
//   fill. R1's check at acceptance reads risk's copy, which lags the batch.
// - Engine orders (seq 0: Q2 steps) skip the O4 price band — their limit is Q2's mark bound — and keep O5–O7.
// - Done reasons of a taker that does not rest: Filled; ReduceOnlyCapped; OpenInterestLimit; SelfTradeTaker; ImpactBand / MeanMarkBand
//   / PremiumBand (a band stopped it even if it is a GTC limit: its remainder would cross); Expired (IOC / market
//   remainder; also a market buy whose quote budget ran out while it still had base quantity left, or by quote only
//   with nothing filled); Filled for a quote-only market buy that spent its budget.
// - O3 STP: the TAKER's mode decides (the resting order's mode is irrelevant); self-trade = same account (sub-accounts
//   are different accounts). RejectTaker: the taker stops, remainder SelfTradeTaker. RejectMaker: the resting order
//   is canceled (SelfTradeMaker) and matching continues. RejectBoth: both. Allow: they trade.
// - O4 price band (limit orders, also the new price of a replace): active = median{best bid, best ask, last trade};
//   with two of them present their floor mean, with one that one, with none no band. Reject PriceBand when
//   price > active × max or < active × min.
// - O5/O6/O7 taker bands, combined (the tightest binds): a buy may reach ask levels with price ≤ bound, a sell bid
//   levels with price ≥ bound. The OrderDone reason names the first band, in the order impact, mean-mark, premium,
//   that the level where matching stopped violates. Impact: best opposite price at arrival × impact multiplier.
//   Mean-mark: meanMark × mean-mark multiplier. Premium (perpetuals with premiumTolerance): a fill price P has premium
//   (P − I) / I against index I; buys need premium ≤ p̄ + t, sells ≥ p̄ − t. I = the index price in the
//   MarketBandInputs command's indexPrice, or, when that is 0, the index implied by the inputs: meanMark / (1 + p̄).
//   Mean-mark and premium bands are inactive until the first MarketBandInputs (price = mean mark, meanPremium
//   as a Ratio) for the market; it publishes nothing unless rejected.
// - Cancel: by orderId, or by clientId with OrderFlag.ByClientId; the order must be the account's (else UnknownOrder).
//   clientId (≠ 0) is unique per (account, market) among open orders.
// - CancelAll: cmd.market, or ALL_MARKETS (engine/model) for every market of the shard; the account's orders in ascending order id,
//   OrderDone CanceledByAll each, then CommandAccepted with amount = count.
// - ReplaceOrder (cancel-replace): target by orderId / clientId; cmd.price and cmd.quantity are the new limit price
//   and quantity (a fresh order: filled 0); side, stp, postOnly, reduceOnly and clientId are inherited (a reduceOnly
//   target is capped again by the position now). The replacement's id is cmd.seq. If the replacement would be
//   rejected (any filter, band, postOnly-would-take — judged against the book with the old order still in it) the old
//   order stays untouched. Otherwise: OrderDone(old, Replaced) then OrderAccepted(new). If the price is unchanged and
//   the new open quantity ≤ the old open quantity the order keeps its place in the queue; otherwise the new order
//   goes to the back of its level, and if its price crosses it matches as a GTC limit taker first (a moved order
//   that crosses trades; a postOnly one is rejected instead).
// - Market states (SetMarketState, privileged): Open — everything; PostOnly — only postOnly limit orders (a replace
//   must not take); LimitOnly — no market orders; CancelOnly — cancels only; Closed — cancels only, and entering
//   Closed cancels every resting order (CanceledByAll, bids then asks, best first). Forbidden → MarketStateForbids.
// - Limits (limits.ts): open orders per account per market (TooManyOpenOrders), orders per book and price levels per
//   side (Overloaded), checked for GTC limit orders before matching (conservatively: even if it would not rest).
//
// ## Structure (book.ts, ladder.ts, market.ts; the id index is collections/id-map.ts)
// market.ts matches; around it, per market: filters.ts (O2 checks), bands.ts (O4–O7 bounds and tick arithmetic),
// order-events.ts (the event writer and marketSeq), market-data.ts (MarketDataPublisher, O8), market-state.ts
// (snapshot, state hash, invariant check, resting-order and depth views).
// Per market: orders and levels are slots in preallocated arrays that double in steps — typed arrays for ids, links
// and level totals (BigInt64Array); order quantities, clientIds and level prices are references to the immutable
// bigints they arrived as (a BigInt64Array read allocates a fresh bigint, and these values go into every event). Each
// level holds an intrusive FIFO (prev/next slot links); each side indexes its levels by integer tick in a PriceLadder —
// a dense 2^ladderWindowBits-tick window around the touch with a 3-level bitset for the next best level, plus a sorted
// overflow for far levels — with the best level cached; order id → slot is an open-addressing hash in typed arrays
// (O(1) cancel). Each account's orders in a book form an unordered intrusive list (CancelAll sorts the ids it cancels),
// so a cancel-replace re-keys its slot in place. Nothing is allocated per order except bigint temporaries.
//
// ## Cost notes (bench/book.bench.ts, `node --cpu-prof`)
// The exchange-core mix is 82% cancel-replace moves. A non-crossing move reuses its slot (unlink, re-key, rest at the
// back of the new level); the O4 band ticks are recomputed only when the active price changes (the touch moves far
// more often); events write only the fields their kind carries. What remains is spread over the replace validation,
// level/FIFO upkeep, the id hash and the two events per move. With a market-data sink attached, each command's dirty
// levels (usually two per move) become one depthDelta + depthLevel calls; the dirty entries keep their level, price and
// publication key, so finishing a command does no ladder lookups and no bigint products.

export { MatchingShard, type MatchingShardOptions } from "./shard.ts";
export type { RestingOrder } from "./market.ts";
export { activePrice } from "./market.ts";
export type { MarketDataSink, DepthSnapshot, DepthLevel, Ticker24h } from "./market-data.ts";
export {
  DEFAULT_MATCHING_LIMITS,
  TICKER_BUCKET_MS,
  TICKER_WINDOW_BUCKETS,
  type MatchingLimits,
} from "./limits.ts";
export { StateHasher } from "./hash.ts";
// Internal structure, exported for its property test (test/matching-ladder.test.ts).
export { PriceLadder, NO_TICK } from "./ladder.ts";
