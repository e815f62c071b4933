// The engine in one thread: the same risk, matching and settlement stages as the worker pipeline, run in-process
// with the same batch rule. Tests, replay and recovery use it; the threaded pipeline must give the same events.
//
// ## The batch rule (DESIGN rule 5: how stages with two inputs stay deterministic)
//
// The sequencer (gateway) cuts the command stream into batches and journals each batch as one unit, batch
// boundaries included. Every stage processes a batch in three phases:
//   1. risk R1: every command of the batch, in sequence order (holds taken, non-order commands completed);
//      the commands bound for matching are queued per matching shard, still in sequence order;
//   2. matching: each matching shard handles its queue in sequence order (a shard that receives from several
//      risk shards merges their streams by sequence number);
//   3. risk R2: each risk shard applies the matching events addressed to it, taking matching shards in index
//      order and each shard's events in the order it produced them.
//   4. the batch end: with several risk shards, each applies the others' pool deltas of the batch (shard order), so
//      their pool replicas agree again; then every shard charges the hour marks the batch's clock crossed (L5; the
//      rule and the per-shard borrow budgets are in engine/risk/pools.ts).
// So the fills of batch B are always applied before any command of batch B+1 is checked, and a command of
// batch B is checked before any fill of batch B. Both facts follow from the journal alone, so replay (this
// class) reproduces the live threaded run exactly. The cost: within a batch, holds released by fills are not
// yet available to later commands (pessimistic, like exchange-core's R1/R2 split); batches are bounded by
// BATCH_COMMANDS_MAX.
//
// Where a command goes in phases 1–2 is one table, COMMAND_ROUTES (routing.ts): the account's risk shard, risk shard
// 0 or every risk shard; then no, its market's, each market's or every matching shard; and whether settlement takes
// it. This class, ThreadedPipeline and the risk worker read it; a kind without a route does not compile.
//
// ## Decided before perpetuals and liquidation (SPEC P, Q; the pure rules wait in engine/perps, engine/liquidation)
// D1 Settlement reads only journaled commands and matching's book tops. Every kind settlement takes (the clock; the
//    oracle command once P3 needs it in settlement, see P2 below) routes to every risk and every matching shard too, as AdvanceTime does (routing.test.ts holds
//    the table to it), so each shard knows from its own input which batches have a settlement phase; no other batch
//    waits for settlement. In such a batch each matching shard, after its last command, sends settlement the top of
//    each of its markets (best bid, best ask, last trade price).
// D2 Settlement's outputs reach risk inside the same batch, as phase 3b: after R2, before the pool merge of phase 4.
//    They are commands of engine-originated kinds with seq 0, written to each risk shard's ring (then a batch end),
//    applied in this order: (a) index and marks of the batch's oracle commands and tops (P2, P3), and the O6/O7 band
//    inputs, which matching applies before the next batch's first command; (b) at a funding interval end, each
//    market's rate: every shard pays and charges its own accounts' positions (P4); (c) when the clock crosses a 10 s
//    mark, each shard realizes its own positions at the marks of (a) (P5) — the P6 waterfall's redeem and borrow are
//    pool actions merged in phase 4 like any, its conversions are engine orders (D3) of the next batch; (d) the
//    cross-shard steps of D5. Phase 4 then merges pools and charges hourly interest; a new phase 5 re-evaluates (Q1)
//    the accounts the batch touched (fills, funding, realization, marks and — as a move of the band key mark × borrow
//    index — a borrow's interest through the index of their bands; lenders of a pool whose lend index moved) and
//    leaves the liquidating set at the boundary. A boundary — and so a snapshot — has no output in flight.
// P2 (amends D1 and D2(a) for the index; decided with the oracle command): the index is not sent from settlement.
//    OracleQuote routes to every risk shard (RiskRoute.Every, like SetMarkPrice), and each risk shard computes the
//    index itself from the journaled quotes as a replica (perps/oracle-book.ts: the latest quote per configured source
//    and the last index, in the shard's snapshot section and state hash). P2 is a pure function of the journaled
//    quotes, the engine clock every risk shard already replicates and the previous index, so the replicas agree
//    without a message and the index is the collateral mark (C1) from the very command that applies it — earlier
//    than phase 3b, with no settlement → risk ring and no batch waiting for settlement. Shard 0 answers (IndexPrice).
//    D2(a) stays for what needs matching's book tops (the P3 mark, the O6/O7 band inputs): settlement will then take
//    OracleQuote too (and D1 routes it to every matching shard) and combine its own replica of the index with the tops.
// P3 (amends D1 and D2(a) for the mark, the O6/O7 band inputs and the funding rate; decided with the mark): the P2
//    argument carried one step further. Every P3/P4 input is in the matching shard that owns the market: its book tops,
//    the engine clock it already replicates, and the index — OracleQuote routes to every matching shard too
//    (MatchingRoute.Every; risk shard 0 decides it passes), so each matching shard keeps its own replica of the
//    oracle (perps/oracle-book.ts, the same code as risk's). So the "settlement phase" of a batch (one with an
//    AdvanceTime or an OracleQuote) runs in each matching shard after its last command of the batch
//    (MatchingShard.endBatch, matching/perp-prices.ts): EWMA sample, mark by the chain (a)–(e), moving means, funding
//    samples and, at an interval end, the rate. Its outputs need no new ring and no batch waits for another stage:
//    the band inputs are the shard's own (set before the next batch's first command, as D2(a) asks); MarkPrice and
//    FundingRate (seq 0, account 0) go on the shard's existing rings to EVERY risk shard (toEveryRiskShard), in phase 3
//    after the shard's fills — earlier than 3b, same batch — and every risk shard sets the perp's mark in its margin
//    context; shard 0 publishes both. The state is in the matching shard's snapshot section and state hash. D2(b)
//    funding payments read the FundingRate event in R2 (RiskShard.postTrade's FundingRate case); (c)–(d) stay as
//    written, with "the marks of (a)" being the marks of this phase.
// P5 (D2(c) as built; risk/realization.ts): "the clock crosses a 10 s mark" = the batch's clock at its end is in a later
//    10 s period of engine time than at its start (perps/sampling.ts crossesRealizationMark; the start is the clock
//    at the previous batch end, so nothing but the clock is state). Phase 3b is RiskShard.settle, called by this class
//    and by the risk worker after R2 and before the pool merge: each shard realizes its own holders (perpHolders),
//    markets in id order, accounts in id order, at its margin context's marks — the same on every shard since the
//    MarkPrice events of phase 3 reach all of them. The shard's insurance slice is the counterparty of all realized
//    PnL (ticks and fills): no USDC crosses shards, and the slices' sum is the floor roundings after each tick.
//    autoRealizePnl's gains are realized in phase 3 at each MarkPrice, after the shard's fills of that matching shard
//    (and in R1 at an operator's SetMarkPrice). Realization needs no tick of its own (ClockTickPolicy journals none
//    for it): a command brings the held tick first, and no command moved a book or a quote since the mark, so the first
//    batch past a 10 s mark realizes at the marks a tick at the mark would have seen — unless, with no command for that
//    long, a source or the EWMA went stale meanwhile (the demo's feed sends quotes every second). Spread over batches
//    since P5S below (one tick realizing every holder of the shard cost 4.1 s for 100,000 in bench perp.realize-100k).
// P6 (3) (as built; risk/settlement-conversions.ts): converting collateral through the book needs an engine order,
//    which only phase 0 creates (D3), and a settlement cannot wait for one. So a debit that steps (1)–(2) cannot pay
//    is borrowed at once ignoring the throttle (SPEC's "what steps 1–3 cannot cover", taken first) and noted due; phase
//    0 of the next batch, after the liquidations' commands, sends each account due one IOC CollateralConversion sale
//    of its largest collateral (never for a liquidating account: Q2 converts), whose USDC repays the borrow. One
//    attempt; the dues are in the snapshot and state hash; a due keeps batches coming (passesPending).
// P5S (amends P5 and D2(b), as built; risk/passes.ts, realization.ts, funding.ts): the engine's pause per batch stays
//    bounded however many positions there are. A 10 s mark no longer realizes every holder: it starts the shard's
//    realization pass (or, while one runs, asks for another when it ends), and a FundingRate no longer pays every
//    holder in R2: it starts the market's pending interval (rate, mark and time of the interval end; an interval end
//    that finds the previous one unpaid pays the rest of it first, whatever the budget). Then in each batch's phase 3b
//    each risk shard spends at most PASS_VISITS_PER_BATCH_MAX holder visits: pending funding first (markets in id
//    order), the realization pass with the rest (markets in id order) — each from a cursor in account-id order over
//    the market's holders (perpHolders, kept sorted: SortedIdSet), each realization at the marks of THAT batch, each
//    payment at its interval's rate and mark. A pass whose next holder does not exist ends in the batch that visited
//    its last. P4 stays exact under the spread: before a fill changes the position of an account the funding cursor
//    has not reached, R2 pays that account's funding on the position it held at the interval end (and marks it
//    paid); so closing before one's turn skips nothing, and a position opened after the interval end pays nothing for
//    it. The cursors, the pending intervals and their paid-early sets are in the shard's snapshot section and state
//    hash (a snapshot mid-pass resumes it); they depend only on the journal, so replay equals live. Mid-pass the
//    shard's insurance slice carries what the pass moved so far (D4: it is every payment's and realization's
//    counterparty); at a pass end it holds the roundings again (funding: payers up, receivers down). Batches must keep
//    coming while a pass runs: each risk stage's batch end says whether its shard has passes left
//    (writeEventBatchEnd's flag; Engine.passesPending in-process), and the gateway (ClockTickPolicy.passes) journals a
//    tick at once when nothing else is in flight, and journals every proposed tick meanwhile. What made a batch cost
//    the size of the shard rather than of its work was removed with it: a MarkPrice that does not move the mark no
//    longer re-evaluates every holder (Q1, oracle-commands.ts), and the safe-band index's sorted lists are chunked
//    (collections/sorted-edges.ts), so a band change moves one chunk instead of the whole list. Nor does an hour's
//    accrual of a perpetual's base asset's borrow index re-evaluate every holder of it: a position's band is walked
//    at moves of the mark only, unless the account owes the asset (risk/liquidation-trigger.ts POSITION_EDGE).
// D3 Engine orders (Q2 LiquidatePositionOnBook and CollateralConversion, P6 conversions) are derived from the state
//    at the boundary before batch B and take a fixed place at its head: phase 0, before R1 of B's first command,
//    each risk shard creates one step per liquidating account of its own, in account-id order, at most
//    ENGINE_ORDERS_PER_BATCH_MAX (the rest wait a batch). They carry seq 0, so each matching shard's merge takes them
//    before B's journaled commands, risk shard 0's first (ties go to the lower shard), each shard's in its order; this
//    class queues them the same way. orderId = 2^52 + (B × riskShards + shard) × ENGINE_ORDERS_PER_BATCH_MAX + i:
//    no counter to snapshot, disjoint from journaled ids (= seq < 2^52), the same on every replay of the journal.
//    Their events carry seq 0: the gateway shows them to the account's watchers, never as a reply to a command.
//    Batches must keep coming while steps are due: settlement's tick proposal says when it has time-driven work
//    (open positions, liquidations reported), and ClockTickPolicy journals those ticks.
//    Built for Q2 (engine/risk/liquidation-steps.ts): RiskShard.beginBatch(B) is phase 0 — this class calls it for
//    every shard before R1, the risk worker before its first command of B (or at B's end when B brought it none).
//    B is this class's batch number — the snapshot's batch, then one more per journal batch run (the fused worker
//    runs every journal batch, even an empty one) — and the risk worker counts the same way, so every mode names the
//    same orders. It is the sequencer's number of the batch: the journal skips the numbers of batches of read-only
//    queries alone that were left out, which the live engine ran with their phase 0, so every replay runs an
//    empty batch for each number skipped (Engine.processJournalBatch; recovery submits them; the snapshot follower
//    also up to its boundary). Until 12-07 (fourteenth round) replays counted the journal's batches and fell one
//    behind the live engine per such batch — other steps, other ids, another state (test/liquidation-book.test.ts
//    "X4/D3"). Since then such a batch is written, with its queries, whenever it may change state — unless every stage
//    said at the end of the batch before that it would not (phase 0, a spread pass, Q3/Q4 transfers: batch ends carry
//    it, RiskShard.idleBatchActs, ThreadedPipeline.idleBatchQuietAfter; gateway/sequencer.ts framesWithoutQueries) —
//    and its outputs wait for that
//    write: one after the last write used to be lost in a crash, its fills already sent
//    (test/liquidation-recovery.test.ts). The empty batches cover the batches still left out. A liquidating
//    account with resting orders gets an engine CancelAll (seq 0: DoneReason Liquidation) and its first step the
//    batch after; matching takes an engine order's id from the command (seq 0). ClockTickPolicy journals every
//    proposed tick while the gateway has seen a LiquidationStarted (or an engine order) without its LiquidationEnded.
// D4 No shard writes another shard's accounts. The exchange's own accounts (fee, insurance fund, a transit account)
//    are sliced: each risk shard owns one slice of each (as it owns its fee account part today); the balance is the
//    sum of the slices, and a slice may go negative while the sum may not. Liquidation fees, each shard's funding net
//    (payers rounded up, receivers down) and realization rounding land in the shard's own insurance slice: no transfer.
// D5 (for Q3/Q4 replaced by "Q3/Q4 (as built)" below; the lending half of Q4 and Q5 may still follow it)
//    Value that must cross shards moves only as settlement commands, every leg in the same phase 3b(d). At the end of
//    each settlement batch each risk shard reports to settlement (a ring, closed by its batch end): its insurance
//    slice, its bankrupt accounts and deficits, the backstop's headroom if the backstop account is its own, and while
//    a bankruptcy is open its ADL candidates per market (rankAdlCandidates) and lenders per asset. At the next
//    settlement batch settlement decides from those reports alone, in account-id order, and sends:
//    - CoverFromInsurance{account, amount} to the bankrupt account's shard, budgeted against the reported Σ slices
//      (covers only spend; what (b) and (c) add meanwhile is left out, so the fund's sum never goes negative);
//    - for a backstop takeover (Q3) a release to the liquidated account's shard and a take to the backstop's, at the
//      marks of (a): positions move at the mark after realization, collateral through the shards' transit slices (Σ 0
//      once both legs ran), borrows as a repay and a fee-free borrow whose pool deltas cancel in phase 4;
//    - for perp ADL and lender payouts / lender ADL (Q4, Q5) one command per counterparty, to its shard, at the
//      bankruptcy or liquidation price; each socialized loss is an event; and to every shard whether a bankruptcy is
//      open (withdrawals wait while one is).
// Q3/Q4 (as built) — amends D5, which is not built as written (no settlement ring, no reports, nothing in 3b(d)
//    that another shard decided). Cross-account steps are decided in phase 0, like the D3 engine orders, by the
//    liquidated account's risk shard from the state at the boundary (engine/risk/liquidation-transfers.ts), for each
//    liquidating account without resting orders, in the D3 order and within its ENGINE_ORDERS_PER_BATCH_MAX:
//    - Q3: below ACMF, or stalled on the book (LiquidationBook.stalled: the last step could not be planned or filled
//      nothing within the slippage bound), the configured backstop (config "liquidation": backstopAccount,
//      backstopLimitUsd) takes everything at the mark when its exposure notional plus the takeover's stays within its
//      limit and the insurance fund can cover any deficit of what moves (then paid to the account first, so the
//      backstop never receives less than nothing); all or nothing (engine/liquidation/backstop.ts).
//    - Q4: otherwise an account with negative net equity and nothing the engine can liquidate (no exposure left, or
//      stalled) is bankrupt: the fund covers min(fund, deficit), and beyond it each perpetual position is closed by ADL
//      at its bankruptcy price against the opposing positions ranked by profit % × leverage (engine/liquidation/
//      bankruptcy.ts); each ADL leg is a SocializedLoss event (the account's stream and history, the public liquidation
//      stream). A borrow that cannot be repaid is the lending half of Q4 (not here). "The fund" of a cover (here and
//      in the lending half) is its capital: its balance less the realized PnL in transit (D4 makes the fund the
//      counterparty of realization, so the losers' paid losses sit in it until the winners' open positions close;
//      risk/insurance.ts pnlFloat, replicated with the fund), and never more than the balance.
//    A position may move only through its market's matching shard (RO): each position leg is a LiquidationTransfer
//    command (seq 0) forwarded to that shard as D3's orders are; the shard moves its replica (before any journaled
//    command of the batch, so the replica is still the boundary state the leg was decided from) and emits a
//    LiquidationTransfer event that goes, like a fill, to both accounts' risk shards; R2 applies each owned side as a
//    fill at the leg's price with fee 0 (post-trade.ts changePosition: PnL realized against the shard's insurance
//    slice, D4). The non-position legs of a takeover (collateral, lent and borrowed pool shares — the pool's totals
//    unchanged —, unsettled USDC) and the covers are applied directly, inside the one shard both accounts are on, in
//    phase 3b (RiskShard.settle, after every R2 of the batch; a cover before the account's first leg if it has one).
//    The deciding shard's accounts with legs in flight have their commands (but deposits, cancels and queries)
//    refused in R1 of that batch (AccountLiquidating); an ADL counterparty or an account taken over serves one
//    decision per batch. Nothing stays in flight past the batch end (LiquidationBook.endTransfers), so snapshots and
//    the state hash carry no new state.
//    With one risk shard (the default) every fact is known and the behaviour is exactly SPEC Q3/Q4. With K > 1 the
//    deciding shard lacks other shards' state, and the restriction was: ADL candidates are the deciding shard's own
//    accounts, and each shard's covers spend at most floor(fund at the boundary / K) per batch, so the fund's sum never
//    goes negative from a cover. The backstop takes over accounts of every shard ("Q3 across shards" below), and ADL
//    picks counterparties on every shard ("Q4 ADL across shards" below); the floor(fund / K) budget stays for the
//    covers a shard pays at once.
// Q3 across shards (as built; amends "Q3/Q4 (as built)", which let the backstop take only its own shard's accounts —
//    engine/risk/backstop-relay.ts (state), backstop-transit.ts (rules)). No new ring, no new phase: what crosses
//    shards rides the phase-4 delta exchange (RiskState.batchDeltas: one status delta, then per asset the backstop's
//    holdings and the takeovers' outgoing legs, after the lenders').
//    - Headroom: at the end of each batch's phase 3b the backstop's shard (its owner) sends its exposure notional
//      (TEN, C6) and whether it is liquidating; every deciding shard sends the liabilities of the cross-shard
//      takeovers it made in the batch (their positions are already in the owner's TEN, moved in R2; their borrows
//      arrive after the merge, and TEN is subadditive over net balances and positions, so the sum bounds the
//      backstop's TEN from above). After the merge every shard holds the same `used` (snapshot and state hash: the
//      only new state), and in phase 0 of the next batch each shard's takeovers — its own accounts, whichever shard
//      the backstop is on, the owner's included — may hand the backstop at most floor((limit − used) / K) of exposure
//      (the plans' figure, as with one shard): K shards together never pass the limit. A backstop that was liquidating
//      or liquidatable (C9) at the end of the last batch's 3b takes nothing (its owner also refuses while it is
//      liquidating now).
//    - Legs: the position legs go through the market's matching shard as before (LiquidationTransfer to both
//      accounts' risk shards; the event is published once, by the liquidated account's shard). In phase 3b the
//      deciding shard pays the cover (its insurance slice, budgeted as before) and then, for a backstop elsewhere, moves
//      every non-position asset of the account — available units, lent and borrowed pool shares, unsettled USDC — out
//      of it into its transit slice (units; counted in its X1 totals) and the outgoing deltas; the pool's totals do not
//      change (shares only change owner). In phase 4, after the merge and before the lenders' payouts and interest, the
//      owner credits the backstop with the Σ outgoing from its own transit slice (−Σ), so the slices sum to 0, and each
//      is reset to 0: nothing is in flight at a boundary.
//    - L15: a backstop that lends an asset and takes over a borrow of it (or the reverse) nets the two at once, as with
//      one shard (repay from its available units, then redeem into the repayment) — pool actions after the merge,
//      which no delta could carry any more. So the owner also sends, every batch, the backstop's available units and
//      pool shares per asset at the end of 3b, and every other shard replays the same netting on a copy of that asset
//      (holdings + Σ outgoing) against its own replica: the same code on the same replica and inputs, so the replicas
//      still agree at the boundary (tests compare them with one shard's).
//    Differences from one shard, all on the safe side: the per-shard budget (a takeover over (limit − used) / K waits
//    on the book, or goes to Q4, where one shard would take it); `used` is measured before the batch's interest and
//    counts liabilities that netting may cancel; the backstop's status reaches other shards as of the end of 3b (its
//    end of liquidation a batch late);
//    several takeovers into one backstop from other shards in one batch are credited (and netted) as one sum.
// Q4 ADL across shards (as built; amends "Q3/Q4 (as built)", which took ADL counterparties on the bankrupt account's
//    own shard only — a bankrupt account whose opposing positions were all elsewhere got a cover each batch and no ADL,
//    fuzz 2×2 seed 361279826. engine/risk/adl-relay.ts (state), adl-across-shards.ts (rules)). No new ring, no new
//    phase: two more kinds of phase-4 deltas, each shard writing only its own slots, so the merged sums are the union.
//    - Demand (batch B, phase 0): at K > 1 a bankrupt account (as before: negative equity, nothing the engine can
//      liquidate, the backstop did not take it) whose deficit the shard's cover budget pays is covered at once, as
//      before; else its shard pays nothing yet and posts one demand per position — account, market, signed quantity,
//      the deficit in USDC units — at most ADL_DEMANDS_PER_SHARD_MAX a batch (more wait a batch on the book). The
//      account takes no book step, takeover or cover while its demand is pending.
//    - Offers (B+1, phase 3b, after every R2 of the batch, so the positions are those of the boundary a leg will meet):
//      for each market and candidate side some pending demand needs, every shard publishes its own opposing holders
//      ranked as SPEC Q4 ranks them (profit % × leverage at the batch's mark, ties by account id — rankAdlCandidates,
//      the one-shard code), not liquidating and not demanding, the top ADL_OFFERS_PER_SIDE_MAX (8), each with its
//      quantity, cost basis and net equity.
//    - Decision (B+2, phase 0, before the lenders' half and the steps): every shard runs the same allocation over the
//      same replicated demands and offers, demands in (account, market) order: the fund's cover of each account,
//      min(deficit posted, what the fund's capital at the boundary has left — less the funding the shards' slices held
//      for receivers of an interval still being paid when the offers were published, P5S: AdlRelay.fundingHeld, each
//      shard's part in a phase-4 slot beside its offers, snapshot format 17), and where it falls short each position
//      against the offers of its market, ranked again with what earlier demands left of them (cost basis in
//      proportion) and allocated down the ranking — one shard's collectCandidates/allocateAdl. Each shard keeps the
//      legs of its own demands and reserves its own counterparties for the batch (no step, takeover or bankruptcy of
//      them: LiquidationBook.adlUsed), so no quantity is allocated twice and no other leg of phase 0 meets it; the
//      other covers of the batch (lenders' half, takeovers, covers paid at once) share floor((capital − the ready
//      covers) / K) a shard. At the account's turn (D3 order) its shard pays min(reserved cover, deficit now) and
//      sends the legs at the bankruptcy price from its equity now, never more than its position now: LiquidationTransfer
//      commands through the market's matching shard to both accounts' shards, as every position leg (RO). An account
//      that left liquidation or bankruptcy meanwhile (a deposit, a mark) simply does not use its allocation.
//    Replicated at every boundary (snapshot format 15 and the state hash): the pending demands, the ready demands and
//    their offers; the slots are empty at a boundary. Equal to one shard's legs, prices, covers and balances, two
//    batches later (test/liquidation-adl-shards.test.ts at 2×1, 2×2 and 3×2), when the allocation touches at most 8
//    holders of any one shard per market and side and nothing moves the accounts meanwhile. Where it differs it does
//    less, never more: a counterparty below a shard's 8th waits for the next round; the ranking uses each holder's
//    equity at B+1's phase 3b (one shard: at the decision); a holder that became liquidating after publishing is still
//    a counterparty (the leg only reduces its position, at a price better than the mark); the ready covers come before
//    the other covers of the batch, and the decision's order is account-id order, not the D3 rotation; an allocation a
//    deciding shard does not use (the account recovered, was taken over, or was not reached within
//    ENGINE_ORDERS_PER_BATCH_MAX) is left unused that batch, its counterparties idle for one batch.
//    A deficit that grew meanwhile: the decision covers the deficit posted at B — whole when the fund's capital has
//    it — and allocates legs only where that cover falls short, so an account the mark pushed deeper between B and
//    B+2 gets that cover and no leg, stays bankrupt, and posts again at B+3 (decided at B+5, against the deficit then).
//    Each round is one shard's two batches later (one shard covers the deficit at B, then deleverages the rest the
//    next batch): less, never more. The figure must be the replicated one (every shard reserves the same counterparties
//    and the same fund); the deficit now would need a confirmation at B+1 (as Q5's demands have). Q2's progress bound
//    (test/fuzz/model.ts, 4 batches) counts the cover as the step it is — the fund paid the account —, so a round
//    is 3 batches without progress (the stalled step, the demand, the offers; then the decision), and so is the next
//    (posted at B+3, decided at B+5). The fuzz did not count it (2 × 2 seed 1062833690: "account 96 liquidating 5 batches
//    without progress" — a cover of 689.14 USDC at B+2 when 5,756.63 USD was short, the legs at B+5).
// RO (decided with reduceOnly at fill time, O1/P1): each perpetual market's matching shard keeps every account's net
//    position in it, moved by each fill as the book makes it (matching/perp-positions.ts; snapshot and state hash), and
//    caps reduceOnly orders by it when placed and each time the book fills them. A perpetual position may change only
//    through a fill of its market's book — or, for a step that moves positions without the book (Q3 backstop takeover,
//    Q4 perp ADL), through a command routed to that market's matching shard as well as to the risk shards, so the
//    replica and risk's positions never disagree (the market's invariant checks Σ positions = 0).
// P1 position reports (as built; risk/post-trade.ts publishPendingPositions, state.ts PendingPositionReports): R2
//    publishes one Position event per account and perpetual market that the batch's fills changed, not one per fill.
//    A fill still publishes its Fill, Settlement rows and the sides' USDC Balance at once; the Position follows at the
//    end of R2 (RiskShard.settle's first step, before phase 3b's funding and realization), in the order the positions
//    first changed, with the state after the position's last fill and that fill's seq (so it answers the command that
//    made it, as before for a batch of one fill). Before R2 applies anything else that moves a reported field — a
//    MarkPrice (the mark, and autoRealizePnl's realization), a FundingRate, a LiquidationTransfer — the pending reports
//    are published first, so a report always carries the mark its fills were made under and never a later step's
//    state. Why: SPEC P1 asks for the fields a position reports, not an event per fill (the seeds say nothing of the
//    stream's cadence); dYdX's indexer sends a subaccount's position updates once per block, and Pacifica's position
//    stream is "a best effort picture of current state" with trades to follow each fill — the Fill events here still
//    say every fill. Cost it removes: the report's margin sync and P8 solve ran per fill and side (~33% of
//    pipeline.perp-order's CPU); they now run once per touched position per batch. Deterministic: the list depends only
//    on R2's events, which every mode applies in the same order (matching shards in index order), and it is empty at
//    every batch boundary, so neither snapshot nor state hash carries it; replay and the threaded pipeline give the
//    same events (test/perp-position-reports.test.ts; the X4 tests of perp-history and perp-trading).
// Q4/Q5 lenders (as built; amends D5 for the lending half of Q4 and for Q5 — engine/risk/liquidation-lenders.ts): no
//    settlement command and no new ring. The lenders' side of a bankruptcy travels with the phase-4 pool deltas:
//    (a) phase 0 of batch B, before Q2's steps, each shard finds its own bankrupt accounts (liquidating, no perpetual
//    position, no lent collateral, no order, nothing Q2 can step, net equity < 0) and counts them open (+1 in a delta);
//    at B's boundary every shard holds the same open count and refuses Withdraw and Transfer (WithdrawalsPaused) until
//    it is 0 again — the owner from the moment it finds one. (b) Phase 0 of B+1 resolves them: the fund covers the
//    deficit when the shard's cover budget can (K = 1: the fund; K > 1: fund at the boundary / K per shard per batch,
//    so covers never take Σ below 0); else each borrow is forgiven (its shares leave the pool, a delta) and its USD
//    value at the collateral mark, rounded down, is owed to the asset's lenders in USDC — taken from the account's own
//    USDC, then its shard's insurance slice (the part beyond the fund is the socialized loss: on the event, and the
//    fund's balance goes below 0 by exactly it), into the shard's payout transit; the written-down quantity and the
//    USDC owed are a per-asset delta. (c) Phase 4 of B+1, after the merge, every shard applies the Σ: it pays its own
//    lenders floor(Σ owed × their lend shares / the pool's) from its transit (each shard's transit may go negative;
//    Σ over the shards is the rounding, ≥ 0, which each shard's next phase 0 returns to its slice: an insurance row),
//    then lowers the lend index so the pool's lent total falls by the written-down units (writeDownLent; the same on
//    every replica, lenders revalued lazily). Q5 (phase 0): a liquidating account's lent collateral is redeemed for
//    Q2 to sell (K > 1: as much as the shard's budget allows, the rest reserved for the next batch — "Q5 lender ADL
//    across shards (as built)", redemptions); where the pool itself
//    refuses (utilization at the throttle, no cash), lender ADL matches it against the borrowers of the asset: K = 1
//    every borrower, exactly SPEC; K > 1 first its own shard's borrowers in that batch, then the rest against every
//    shard's borrowers two batches later ("Q5 lender ADL across shards (as built)" below; before it, own shard only).
// Q4 one cover budget (as built; amends "Q4/Q5 lenders (as built)" (b) and "Q4 ADL across shards (as built)" — engine/
//    risk/liquidation-transfers.ts coverBudget, LiquidationBook.coverBudget): each shard has ONE cover budget per batch
//    for both halves of Q4, set at its first use in phase 0 from the fund's capital at the boundary less the ready ADL
//    covers, floor(· / K) a shard (planReady sets the same value when it runs) — before the shard's payout transit
//    returns to its slice (a shard's transit is its part of a payout Σ over the shards: with K > 1 one shard's is > 0
//    while another's is < 0, so it is not the shard's to spend). The lending half spends it first (covers, and the
//    part of a write-down the fund covers), the perpetual half (covers, takeovers' deficits) what the lenders left; a
//    write-down beyond it is the recorded socialized loss, as before. So Σ over the shards of a batch's covers never
//    exceeds the fund, and the fund is never below 0 but by recorded losses. Before, the perpetual half read the fund
//    again after the lenders' debits (or planReady's fundLeft / K, the lenders' own money): up to ~2F / K a shard, and
//    at K = 2 two lending covers and a perpetual cover took a fund of 1,046,500 to −114,300 with no loss recorded
//    (test/liquidation-cover-budget.test.ts). K = 1 is unchanged but for the transit's rounding remainder, which now
//    waits for the next batch's budget.
// Q5 lender ADL across shards (as built; amends "Q4/Q5 lenders (as built)", which matched a stuck lender against its
//    own shard's borrowers only — a lender whose borrowers sat elsewhere waited, liquidating, until its pool freed.
//    engine/risk/adl-lender-relay.ts (state), adl-lenders-across-shards.ts (rules)). As Q4's ADL across shards: no new
//    ring, no new phase, three more kinds of phase-4 delta slots, each shard writing only its own.
//    - Demand (batch B, phase 0, liquidation-lenders.ts lenderAdl): a liquidating lender whose pool refuses the
//      redemption (the one-shard condition) is matched against its own shard's borrowers as before, and what they
//      cannot take is posted — account, asset, quantity — at most LENDER_ADL_DEMANDS_PER_SHARD_MAX a batch (more are
//      posted in a later batch). The lender's claim on that asset is not matched again while its demand is posted or
//      decided (its redemptions still go on: the claim confirmed below caps the legs).
//    - Confirmation and offers (B+1, phase 3b, after everything else of the phase): the lender's shard confirms the
//      demand with the lender's lend shares of the asset, if it is still liquidating (else the demand lapses); every
//      shard publishes, per demanded asset, its own borrowers as one shard collects and ranks them (not liquidating,
//      not a demanding lender, not the backstop; a borrow and available USDC; rankLenderAdlBorrowers: largest borrow
//      first, ties by account id), the top LENDER_ADL_OFFERS_PER_ASSET_MAX (8), each with its borrow and its USDC.
//    - Decision (B+2, phase 0, first of the lenders' work, after the cover budget is set): every shard runs the same
//      allocation over the same confirmed demands and offers, in (account, asset) order: the lender's need is
//      min(quantity, its confirmed shares at the lend index now), matched by one shard's planLenderAdl against the
//      offers less what earlier demands of the batch took of them (borrow and USDC), at the collateral marks' price
//      now; each leg burns the lend shares one shard's forced redemption would (from the confirmed shares, never more).
//      Each shard executes its own accounts' halves: the borrower's shard repays the borrow with the leg's q units and
//      burns the lender's shares and q of cash from the pool (pools.ts burnLendShares) — the pair is that shard's one
//      pool delta, so every replica's lent and borrowed totals move together at the merge, and the cash does not move —
//      and takes `pay` = ceil(q × price) USDC from the borrower into its payout transit; the lender's shard drops the
//      lender's shares (releaseLendShares: no total moves) and pays it `pay` out of its own transit. Each shard's
//      transit returns to its insurance slice a few lines later in the same phase 0: a leg's halves are +pay and −pay
//      on two slices, so the fund's Σ does not move and a boundary holds nothing in flight (X1 as one shard's: the
//      borrower pays exactly what the lender gets, in kind the pool's borrowed and lent both fall by q).
//    The halves agree without a message because nothing between B+1's phase 3b and B+2's phase 0 lowers a published
//    borrower's borrow (interest only raises it) or USDC (phase 4 only pays lenders), or changes a confirmed lender's
//    shares; each shard checks its own account before moving anything (a risk invariant, never seen in the fuzz).
//    Replicated at every boundary (snapshot format 16 and the state hash, a line only while a demand is relayed): the
//    pending demands, the confirmed ones with their shares, and their offers; the slots are empty at a boundary. Equal
//    to one shard's legs, prices and balances, two batches later (test/liquidation-lender-adl-shards.test.ts at 2×1,
//    2×2 and 3×2, and two lenders of two shards sharing one shard's borrowers at 3×2), when the lender's own shard has
//    no borrower of the asset, the allocation touches at most 8 borrowers of any one shard and nothing moves the
//    accounts meanwhile. Where it differs it does less, never more, and never pays more than a borrow: the own shard's
//    borrowers come first (one shard ranks every borrower together); a borrower below a shard's 8th waits for the next
//    round (the lender posts the rest again in the decision's batch at the earliest); the legs are two batches later at
//    the marks then, and the ranking uses borrows and USDC of B+1's phase 3b; a borrower that became liquidating after
//    publishing is still a counterparty (its leg repays a borrow at the mark, its value unchanged); a lender that left
//    liquidation before B+1's phase 3b is not confirmed and gets nothing; what a lender redeemed meanwhile lowers the
//    confirmed claim. A borrower repaying in B+1 is not published (its leg cannot be), one repaying later is too late:
//    its leg ran in B+2's phase 0, before any command of B+2.
//    Redemptions (same relay, found by the fuzz's stuck lenders): with K > 1 a liquidating lender whose pool would take
//    its whole claim but whose shard's budget (pools.ts: floor(room below the throttle / K) a batch) takes only a part
//    redeemed that part and waited; borrowers holding the pool at the throttle's edge shrank the room every batch, so
//    it redeemed a few units a batch and made no progress (fuzz --stuck-lenders seed 2654435772 at 2 × 2: Q2 broken at
//    step 291). Now the rest is posted as a redemption demand: at the boundary every shard deals its next budgets from
//    the room less Σ of those demands per asset (PoolBook.redemptionReserved), and in the next phase 0 the lender's
//    shard redeems the reserved quantity first, outside its budget, through the pool's own gates (redeemReserved) — so
//    the batch's borrows and redemptions over every shard still stay inside the boundary's room below the throttle.
//    One batch later than one shard (which redeems it at once), never more than the claim, no borrower touched. And
//    where the pool itself refuses the whole claim but the budget let a part out, the rest goes to lender ADL in the
//    same phase 0 (before, the part was redeemed and the rest waited for the next batch's part: the same starvation),
//    as one shard matches the whole claim — less ADL than one shard, by the part.
// X7 (as built; gateway/snapshot-writer.ts, gateway/snapshots.ts) — who writes a snapshot. Two ways were measured at
//    100,000 funded accounts and 200,000 resting orders: (a) stop-the-world, the request travelling through the rings
//    as a control batch so every stage writes its part after the same batch while the sequencer holds batches back,
//    then the gateway's views encoded on the main thread: the engine stalls 0.9–1.4 s (the views' encoding and the
//    stages' writes); a flat copy at the boundary was not an option — the state is objects (accounts' bigint arrays,
//    holds, orders), so a copy is an encode. (b) the follower (chosen, the default): the request only reads the
//    sequencer's boundary — the last batch journaled (X4P below; before it, the last handed) — and a worker of its
//    own restores the newest usable snapshot (engine stages and gateway views, as a restart does), replays the journal
//    after it up to that batch through an in-process Engine of the same topology (the gateway's views fed from its
//    events as recovery feeds them), and writes the file (temp, fsync, rename). Nothing on the engine's or the
//    sequencer's path waits: the stall is none (bench snapshot.pause probes it with queries). Consistency needs no
//    request through the rings: one engine replays one journal to one batch, and replay equals live (X4), so every
//    stage is at that batch; the header's hash is that engine's. The costs, paid off the engine's threads: the worker's
//    CPU (a restore plus the commands since the last snapshot — 250,000 by default — competing with the engine on a
//    2-core machine: the worker lowers its own thread to nice 19, so the engine's and gateway's threads win a core
//    from it) and its memory (a second copy of the state while it runs); the first snapshot of a server with none
//    replays the whole journal. Measured (bench snapshot.pause, alternating, load ~4): longest query round trip while
//    a snapshot is taken 1.18–1.23 s stop-the-world, 53–171 ms follower (p99 7.5–9 ms), 59 ms with none. Crash safety is the file writer's, unchanged. Writer "engine" (SnapshotPolicy)
//    keeps (a) for comparison; Q7's what-if still captures through (a) without the views (captureEngine).
//    Amended (12-07, fourteenth round): the follower stands — one worker for the server's life (SnapshotFollower)
//    keeps the engine and views it wrote and goes on from them at the next snapshot (Engine.continueAsRestored numbers
//    its batches as a restore would), so a snapshot no longer pays a worker boot and a restore (~2 s at 100,000
//    accounts, 50–150 ms for the demo's state); a request that fails drops the kept state and the next one restores
//    from the files as before. Its memory is now a second copy of the state for as long as the server runs. What is
//    left of its cost is one replay of every command (~1.7 µs each) and each snapshot's encode and write.
// X7 restart (as built; gateway/recovery.ts, gateway/server-core.ts startPipeline) — a restart from a snapshot, and
//    what limits it (the state: 100,000 funded accounts, 200,000 resting orders, a 25 MB file, a 100,000-
//    command tail; figures in the README's snapshot.restart row). The path to ready, the critical one first: the file
//    is read and its header checked while the engine worker boots; the worker gets its part (CRC-32 checked, handed
//    over, not cloned) and restores risk then matching; then the journal tail. Off that path, on the main thread: the
//    file's SHA-256 and the gateway's views; the settlement worker boots once the parts are known. A damaged file is
//    skipped, its workers stopped, the next attempt spawns fresh ones. Bundle workers do not inherit module preloads.
//    A restore is bound by allocation (every restored object survives the young generation and is copied out of it;
//    most of a restore's CPU was V8's scavenges and marking), so restored state is kept in as few heap objects as it
//    can be: (a) an account's zero slot arrays are one shared frozen array until written (accounts.ts writableSlots);
//    (b) restored holds are columns, a hold's record made on first read (holds.ts RestoredHolds); (c) matching's
//    per-account order lists are columns (account-lists.ts); (d) the reader shares small bigints; (e) a user's fee-
//    volume record is made at its first fill (Account.volume), not with its account; (f) the gateway's account view
//    keeps its part's bytes (checked on restore) and makes an account's balance row and order rows on first read
//    (account-catch-up.ts AccountView), writing rows never read back byte for byte. (e) and (f) took a restart's
//    restore-phase CPU from ~3.9 to ~3.2 s over all threads (main −190 ms, engine worker −115 ms, GC helpers and the
//    rest −425 ms; the tail +0.1 s: rows made as the tail reads them), the main thread's heap after it from ~118 to
//    ~80 MB. What limits it now: the engine worker's restore (~1.2 s of CPU: account and hold decoding, Map inserts,
//    its GC) and then the tail on the same thread (~0.9 s for 100,000 commands, ~9 µs each: every command of the
//    bench's tail touches an account not touched since the restore — its slot arrays and holds are made then — and
//    its events are written to the rings for the views, which the main thread applies in parallel, ~0.9 s:
//    MarketDataHub.depthLevel's bigint-keyed Maps, AccountView.apply); both cores stay busy (V8's GC helpers ~1.4 s),
//    so only less CPU, not moved CPU, shortens it. Left by count in the engine: 308,000 balance bigints, each
//    account's available and locked arrays, 100,000 Account records. Tried and dropped (each measured against the
//    unchanged build): pretenuring records, semi-space sizes of 16–64 MB, V8 flags for the engine worker, --no-
//    parallel-scavenge and --minor-mc, a forced GC between restore and tail, restoring matching before risk, an
//    open-addressing index for the views' balance rows, recycling the views' order rows. The default interval is
//    250,000 commands (gateway/snapshots.ts: ~2.5 s of tail at most). (g) The login verification pool's thread starts
//    without the process's module preloads (gateway/auth/login.ts): under `--import tsx` (the bench, tests) it loaded tsx
//    and esbuild at every start, ~0.5 s of CPU beside the restore on 2 cores. (h) The gateway's depth replica keeps an
//    emptied level at 0 (market-data.ts DepthSide): a Map's delete + insert of a level on every order rehashed a
//    2,000-level side every few dozen deltas (~5 µs a delta). Timeline of a restart (profiled, load ~11, ms from
//    startServer): engine worker boots at ~250 and has loaded its bundle at ~470; the main thread has read the file at
//    ~400, split and copied the engine part by ~1,070 (then SHA-256 and views); the worker restores risk (in-process
//    profile: accounts ~34%, holds ~36%, GC inside both) then matching (~16%) to ~4,100; tail to ~6,650; ready ~6,800 —
//    the worker's restore and its tail stay the critical path; next would be an account kept as its snapshot bytes until
//    first touched (54 direct uses of RiskState.accounts to route through one accessor).
// X4P journal and execution in parallel (as built; gateway/sequencer.ts, engine/pipeline/threaded.ts gateOutputs /
//    releaseThrough, gateway/journal-thread.ts) — the Disruptor/LMAX way. Before, a journal group went gateway →
//    journal thread → gateway → engine → gateway: three hand-offs, each a scheduler wake-up on 2 cores, with the engine
//    idle during the O_DSYNC write. Now the sequencer hands a group to the engine's rings as its durable write begins
//    (the same arena bytes to both), the engine executes it at once, and the gateway holds every output of it in the
//    engine's out rings until the journal thread says the group is on disk; then it reads them, in order, on that turn.
//    Durability is exactly as before: no client sees any effect of a command before its group is on disk.
//    (a) What is held: everything the gateway learns from a batch — events (replies, account events, acknowledgements),
//    its batch end (so batchDone, snapshot answers, P5S ticks), and its market data: each stage now writes a batch-end
//    record into its market-data ring too (market-data-codec.ts), so the k-th batch of every out ring is the k-th
//    submitted and a reader stops before a record of a batch not released. The gateway's views (balances, books, the
//    account log) are fed from the same held records, so HTTP reads and account snapshots cannot reveal a group early
//    either. Control batches (state hash, snapshot parts through the rings) are released once every batch before them is.
//    (b) A write that fails: the engine has applied the group, nothing of it has been read. The sequencer stops —
//    no release, no more hand-offs, no more commands — and the server exits (fail-stop, exit 70, server.ts fatal);
//    the held records are dropped with the process. Recovery replays the journal, which holds every group before it
//    and at most a torn prefix of the failed one (cut as a torn tail), none of it acknowledged.
//    (c) The snapshot follower's boundary is Sequencer.journaled (the last batch whose write returned), never
//    `handed`; a task at a batch boundary (an engine-written snapshot, Q7's what-if copy) starts only once the batches
//    handed are journaled, so nothing the engine had not made durable is written to a snapshot or shown to an operator.
//    (d) Risk-side effects of a group not yet durable (a liquidation begun, an engine order, P4/P5 passes) exist only
//    inside the engine and in the held records: none leaves the process before the write returns. A clock tick the
//    gateway journals because of them is proposed only from released events. The settlement worker's own clock
//    proposals (postMessage) are proposals, not outputs of a group: the gateway journals them as commands like any.
//    (e) Order: per ring, outputs are read in batch order exactly as before; releasing only moves when they are read.
//    One group is written at a time (JournalThread.appendsInFlightMax = 1), so the engine runs at most one group ahead
//    of the disk.
//    (f) Found while measuring: the release handles every event of the group on the journal's wake-up turn, so the
//    next group's write and hand-off start before it (first built after it, the disk idled while the gateway encoded
//    and 50k/s fell behind the serial build); a reader held at the gate hands back the slots it read and the
//    market-data rings hold a whole group (with 16,384 slots the engine parked for space ~17% of its time at 50k/s);
//    a reader at the gate sleeps until the release rather than on its ring (the engine's publish wakes no one). The
//    figures (README, the real path; load 18–25, alternated): open 10k/s p50 6.8–15 ms against 13–675 ms, 50k/s
//    17–33 ms against 156–858 ms; the engine's hop under the write (release 0.12–0.22 ms p50 at 10k/s against an
//    engine hop of 0.69 ms).
import { createHash } from "node:crypto";
import { MatchingShard } from "../matching/index.ts";
import {
  CommandKind,
  CommandRecord,
  EventKind,
  EventRecord,
  type EventSink,
  type ExchangeConfig,
  SnapshotWriter,
} from "../model/index.ts";
import { riskShardOf, RiskShard, type EngineCommandOut } from "../risk/index.ts";
import { SettlementShard } from "../settlement/index.ts";
import { EVERY_RISK_SHARD, expandsToEachMarket, MatchingRoute, riskShardOfRoute, routeOf, settlementTakes, toEveryRiskShard, toMakerRiskShardToo } from "./routing.ts";
import { beginSnapshot, finishSnapshot, requireTopology, restorePart, splitSnapshot, type SnapshotParts } from "./snapshot.ts";

/**
 * Upper bound on the commands of one batch (the sequencer cuts no larger ones; several batches share one fsync).
 * Measured on the excore mix through the fused worker: batches of 128–1,024 commands run ~1.0–1.15 M ops/s, batches
 * of 4,096 ~0.65–0.85 M (a batch's R1, matching and R2 passes stop sharing caches, and its events overrun the ring).
 */
export const BATCH_COMMANDS_MAX = 1024;

export interface EngineTopology {
  readonly riskShards: number;
  readonly matchingShards: number;
}

export const DEFAULT_TOPOLOGY: EngineTopology = { riskShards: 1, matchingShards: 1 };

export function matchingShardOf(market: number, shardCount: number): number {
  return market % shardCount;
}

/** Markets owned by one matching shard. */
export function marketsOfShard(config: ExchangeConfig, shard: number, shardCount: number): number[] {
  return config.markets.filter((m) => matchingShardOf(m.id, shardCount) === shard).map((m) => m.id);
}

/**
 * A growable queue of commands for one matching shard, reused across batches. push() keeps a copy (the caller
 * reuses its record); pushRef() keeps the caller's record itself, for a caller whose records stay unchanged until
 * the queue is cleared (the in-process Engine's batch records).
 */
export class CommandQueue {
  private readonly items: CommandRecord[] = [];
  private readonly copies: CommandRecord[] = [];
  private copiesUsed = 0;
  length = 0;

  push(c: CommandRecord): CommandRecord {
    let copy = this.copies[this.copiesUsed];
    if (copy === undefined) {
      copy = new CommandRecord();
      this.copies.push(copy);
    }
    this.copiesUsed++;
    copy.copyFrom(c);
    this.pushRef(copy);
    return copy;
  }

  pushRef(c: CommandRecord): void {
    if (this.length < this.items.length) this.items[this.length] = c;
    else this.items.push(c);
    this.length++;
  }

  at(i: number): CommandRecord {
    return this.items[i]!;
  }

  clear(): void {
    this.length = 0;
    this.copiesUsed = 0;
  }
}

/** The risk shard that runs R1 for a command (routing.ts), or EVERY_RISK_SHARD. */
export function riskShardOfCommand(cmd: CommandRecord, riskShards: number): number {
  return riskShardOfRoute(cmd.kind, cmd.account, riskShards);
}

/**
 * Queues a command that passed R1 for the matching shard(s) its route names (routing.ts): every shard, its market's,
 * or — CancelAll over ALL_MARKETS — one copy per market (same sequence number, market order). `byReference`: queue
 * `cmd` itself rather than a copy (it stays unchanged until the queues are cleared); expansions are copies.
 */
export function forwardToMatching(
  cmd: CommandRecord,
  config: ExchangeConfig,
  queues: readonly CommandQueue[],
  scratch: CommandRecord,
  byReference = false,
): void {
  const shards = queues.length;
  const route = routeOf(cmd.kind);
  if (route.matching === MatchingRoute.None) return;
  if (route.matching === MatchingRoute.Every) {
    for (let m = 0; m < shards; m++) {
      if (byReference) queues[m]!.pushRef(cmd);
      else queues[m]!.push(cmd);
    }
  } else if (expandsToEachMarket(route, cmd.market)) {
    scratch.copyFrom(cmd);
    for (const market of config.markets) {
      scratch.market = market.id;
      queues[matchingShardOf(market.id, shards)]!.push(scratch);
    }
  } else if (byReference) {
    queues[matchingShardOf(cmd.market, shards)]!.pushRef(cmd);
  } else {
    queues[matchingShardOf(cmd.market, shards)]!.push(cmd);
  }
}

/** The commands of a batch that held read-only queries alone, as a replay runs it (Engine.runBatchesUpTo). */
const EMPTY_BATCH: readonly CommandRecord[] = [];

export class Engine {
  readonly risk: RiskShard[];
  readonly matching: MatchingShard[];
  readonly settlement = new SettlementShard();
  private readonly queues: CommandQueue[];
  private readonly scratch = new EventRecord();
  private readonly expand = new CommandRecord();
  private batchNumber = 0;
  /** Sequence number of the last command processed (0 before any). */
  private lastSeqNumber = 0;
  private sink: EventSink | null = null;
  /** Kept from snapshot to snapshot: after the first, writing needs no growth steps (the payload is copied out). */
  private snapshotWriter: SnapshotWriter | null = null;
  /** Routes matching events to the risk shards' R2 (phase 3, fused: see routeMatchEvent). */
  private readonly router: EventSink = { publish: (e) => this.routeMatchEvent(e) };
  /** Phase 0 (decision D3): a risk shard's engine commands go to the matching queues (copies) as R1's would. */
  private readonly engineOut: EngineCommandOut = { forward: (c) => forwardToMatching(c, this.config, this.queues, this.expand) };

  constructor(
    readonly config: ExchangeConfig,
    readonly topology: EngineTopology = DEFAULT_TOPOLOGY,
  ) {
    if (topology.riskShards < 1 || topology.matchingShards < 1) throw new Error("topology: at least one shard of each");
    this.risk = [];
    for (let r = 0; r < topology.riskShards; r++) this.risk.push(new RiskShard(config, r, topology.riskShards));
    this.matching = [];
    this.queues = [];
    for (let m = 0; m < topology.matchingShards; m++) {
      this.matching.push(new MatchingShard(config, marketsOfShard(config, m, topology.matchingShards)));
      this.queues.push(new CommandQueue());
    }
  }

  get batches(): number {
    return this.batchNumber;
  }

  /** Sequence number of the last command processed (0 before any). */
  get lastSeq(): number {
    return this.lastSeqNumber;
  }

  /** One command as a batch of its own. */
  execute(cmd: CommandRecord, sink: EventSink): void {
    this.processBatch([cmd], 1, sink);
  }

  /** P5S: does any risk shard have P4 payments or a P5 realization pass left (batches must keep coming)? */
  get passesPending(): boolean {
    for (const r of this.risk) if (r.passesPending) return true;
    return false;
  }

  /** Would a next batch of read-only queries alone change anything on any risk shard (RiskShard.idleBatchActs)? */
  get idleBatchActs(): boolean {
    for (const r of this.risk) if (r.idleBatchActs) return true;
    return false;
  }

  /**
   * Processes the first `count` commands of `cmds` as one journal batch (see the batch rule above). The records
   * must not change while the call runs (matching reads the ones R1 passed on in place).
   */
  processBatch(cmds: readonly CommandRecord[], count: number, sink: EventSink): void {
    this.sink = sink;
    this.batchNumber++;
    if (count > 0) this.lastSeqNumber = cmds[count - 1]!.seq;
    // Phase 0 (D3): each risk shard's engine commands for its liquidating accounts, shard order, before any R1.
    for (let r = 0; r < this.risk.length; r++) this.risk[r]!.beginBatch(this.batchNumber, this.engineOut, sink);
    for (let i = 0; i < count; i++) this.preTrade(cmds[i]!, sink);
    for (let m = 0; m < this.matching.length; m++) {
      const q = this.queues[m]!;
      const shard = this.matching[m]!;
      for (let i = 0; i < q.length; i++) {
        const c = q.at(i);
        if (c.kind === CommandKind.AdvanceTime) shard.setTime(c.timeMs);
        else shard.handle(c, this.router);
      }
      q.clear();
      // Decision P3: the shard's settlement phase after its last command (marks, band inputs, funding).
      shard.endBatch(this.router);
    }
    this.endBatch();
    this.sink = null;
  }

  /**
   * Phase 4: merge the risk shards' pool deltas (K > 1), then each shard's batch end: hourly interest, then phase 5
   * (Q1: the touched accounts re-evaluated, their LiquidationStarted / LiquidationEnded events; shard order).
   */
  private endBatch(): void {
    const risk = this.risk;
    for (const r of risk) r.settle(this.sink!); // phase 3b (D2(b)(c), P5S): P4 payments, P5 realization
    if (risk.length > 1) {
      for (let r = 0; r < risk.length; r++) {
        for (let j = 0; j < risk.length; j++) if (j !== r) risk[r]!.applyRemotePoolDeltas(risk[j]!.poolDeltas());
      }
    }
    for (const r of risk) r.endBatch(this.sink!);
  }

  /** Phase 1 for one command: R1 at the risk shard(s) of its route (routing.ts), then on to settlement and matching. */
  private preTrade(cmd: CommandRecord, sink: EventSink): void {
    const shards = this.risk.length;
    const shard = riskShardOfCommand(cmd, shards);
    if (shard === EVERY_RISK_SHARD) {
      // Every risk shard keeps the replicated state (clock, marks); shard 0 speaks for the command and decides.
      let passes = false;
      for (let r = 0; r < shards; r++) if (this.risk[r]!.preTrade(cmd, sink) && r === 0) passes = true;
      if (!passes) return;
    } else if (!this.risk[shard]!.preTrade(cmd, sink)) {
      return;
    }
    if (settlementTakes(cmd.kind)) this.settlement.handle(cmd);
    // The batch's records stay as R1 left them until the batch ends: matching reads them in place.
    forwardToMatching(cmd, this.config, this.queues, this.expand, true);
  }

  /**
   * Phase 3, fused into phase 2: matching's outcome never depends on risk state, so applying each event at once
   * gives every risk shard exactly the events, in exactly the order, that it would read after matching finished.
   * Each shard gets its own copy, as it would from its own ring.
   */
  private routeMatchEvent(e: EventRecord): void {
    const sink = this.sink!;
    const shards = this.risk.length;
    if (shards === 1) {
      // One shard sees every event once, as its ring would hand it over; matching sets every field it uses again
      // for its next event (the fees risk writes into a Fill included), so the record needs no copy.
      this.risk[0]!.postTrade(e, sink);
      return;
    }
    const s = this.scratch;
    if (toEveryRiskShard(e.kind)) {
      // Decision P3: marks and funding rates go to every risk shard, in shard order.
      for (let r = 0; r < shards; r++) {
        s.copyFrom(e);
        this.risk[r]!.postTrade(s, sink);
      }
      return;
    }
    const takerShard = riskShardOf(e.account, shards);
    s.copyFrom(e);
    this.risk[takerShard]!.postTrade(s, sink);
    if (toMakerRiskShardToo(e.kind)) {
      const makerShard = riskShardOf(e.makerAccount, shards);
      if (makerShard !== takerShard) {
        s.copyFrom(e);
        this.risk[makerShard]!.postTrade(s, sink);
      }
    }
  }

  /**
   * X7: every stage's state, between batches (snapshot.ts has the layout). It covers batches 1…`batches` and
   * commands up to `lastSeq`; Engine.fromSnapshot makes an engine that goes on exactly as this one does. `covers`:
   * the journal batch and sequence number to write instead (the snapshot follower replays the journal, whose batch
   * numbers skip batches of read-only queries: it writes the sequencer's numbers, as the threaded pipeline does).
   */
  snapshot(covers?: { readonly batch: number; readonly seq: number }): Uint8Array {
    const w = (this.snapshotWriter ??= new SnapshotWriter(1 << 20));
    w.reset();
    const { riskShards, matchingShards } = this.topology;
    const batch = covers?.batch ?? this.batchNumber;
    const seq = covers?.seq ?? this.lastSeqNumber;
    beginSnapshot(w, this.config, { riskShards, matchingShards, batch, seq });
    for (const r of this.risk) r.writeSnapshot(w);
    for (const m of this.matching) m.writeSnapshot(w);
    this.settlement.writeSnapshot(w);
    const bytes = finishSnapshot(w).slice();
    w.reset();
    return bytes;
  }

  /**
   * X4, a replay of the journal (recovery's in-process readers, the snapshot follower, journal-hash): runs journal
   * batch `batchNumber`, first running an empty batch for each number skipped since the last one (runBatchesUpTo).
   * The journal skips the numbers of batches that held read-only queries alone and were left out (gateway/
   * sequencer.ts: when no phase 0 had work; before 12-07, every one), but the live engine ran them: each had its phase
   * 0 (decision D3 — liquidation steps, ADL, lenders' work), whose engine orders are named by the batch number and
   * whose served accounts take turns by it. Counting only the journal's batches put a replay one batch behind the live
   * engine for each such batch: other steps, other order ids.
   */
  processJournalBatch(cmds: readonly CommandRecord[], count: number, sink: EventSink, batchNumber: number): void {
    this.runBatchesUpTo(batchNumber - 1, sink);
    if (batchNumber !== this.batchNumber + 1) {
      throw new Error(`Engine.processJournalBatch: batch ${batchNumber} does not follow batch ${this.batchNumber}`);
    }
    this.processBatch(cmds, count, sink);
  }

  /** Runs an empty batch for each batch number after this engine's up to `batchNumber` (none when it is there). */
  runBatchesUpTo(batchNumber: number, sink: EventSink): void {
    while (this.batchNumber < batchNumber) this.processBatch(EMPTY_BATCH, 0, sink);
  }

  /**
   * X7, the standing snapshot follower (gateway/snapshot-writer.ts): after writing the snapshot that `covers` a journal
   * boundary, this engine goes on numbered as one restored from that snapshot would (restoreParts): the next batch is
   * covers.batch + 1 (the journal's numbers skip batches of read-only queries, and D3's engine orders take their ids
   * and their first served account from the batch number).
   */
  continueAsRestored(covers: { readonly batch: number; readonly seq: number }): void {
    this.batchNumber = covers.batch;
    this.lastSeqNumber = covers.seq;
  }

  /**
   * A new engine in the state of `bytes` (from Engine.snapshot or ThreadedPipeline.snapshot), with the snapshot's
   * topology; a `topology` that differs is refused (SnapshotFormatError), as are a damaged payload, another config
   * and another format version.
   */
  static fromSnapshot(config: ExchangeConfig, bytes: Uint8Array, topology?: EngineTopology): Engine {
    const parts = splitSnapshot(config, bytes);
    const { riskShards, matchingShards } = parts.info;
    if (topology !== undefined) requireTopology(parts.info, topology.riskShards, topology.matchingShards);
    const engine = new Engine(config, { riskShards, matchingShards });
    engine.restoreParts(parts);
    return engine;
  }

  /** Restores a fresh engine's stages from a split snapshot of the same topology (the fused worker's entry). */
  restoreParts(parts: SnapshotParts): void {
    requireTopology(parts.info, this.risk.length, this.matching.length);
    if (this.batchNumber !== 0) throw new Error("Engine.restoreParts: the engine has processed batches already");
    this.risk.forEach((r, k) => restorePart(parts.risk[k]!, `risk shard ${k}`, (reader) => r.restoreSnapshot(reader)));
    this.matching.forEach((m, k) => restorePart(parts.matching[k]!, `matching shard ${k}`, (reader) => m.restoreSnapshot(reader)));
    restorePart(parts.settlement, "settlement", (reader) => this.settlement.restoreSnapshot(reader));
    this.batchNumber = parts.info.batch;
    this.lastSeqNumber = parts.info.seq;
  }

  /** Digest of the whole engine state: equal digests mean equal books, balances, holds and clocks (X4). */
  stateHash(): string {
    return composeStateHash(this.risk.map((r) => r.stateHash()), this.matching.map((m) => m.stateHash()), this.settlement.stateHash());
  }
}

/**
 * The engine's digest from its stages' own digests (risk shards, then matching shards, in index order, then
 * settlement). The in-process Engine and the threaded pipeline both use it, so equal stage states mean equal hashes.
 */
export function composeStateHash(risk: readonly string[], matching: readonly string[], settlement: string): string {
  const h = createHash("sha256");
  for (const r of risk) h.update(r);
  for (const m of matching) h.update(m);
  h.update(settlement);
  return h.digest("hex");
}
