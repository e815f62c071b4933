// Q3 across risk shards, the executor (engine.ts "Q3 across shards (as built)"; the state is backstop-relay.ts): a
// takeover decided by the liquidated account's shard for a backstop on another shard. Four places in a batch:
//   - phase 0 (liquidation-transfers.ts takeOver): the takeover fits this shard's budget of the backstop's replicated
//     headroom, floor((limit − usedUsd) / K), so the K shards' takeovers together never pass the limit;
//   - R2: the position legs, through the market's matching shard to both accounts' risk shards (as on one shard);
//   - phase 3b (releaseToBackstop): the account's non-position assets leave it into this shard's transit slice and
//     the outgoing deltas (available units, lend and borrow shares, unsettled USDC); the backstop's owner records the
//     backstop's exposure, status and holdings (relayBackstopStatus);
//   - phase 4, after the merge (relayBatchEnd, before the lenders' payouts and interest): every shard takes the
//     replicated headroom; the owner credits the backstop with the Σ outgoing from its transit slice, and — L15 — nets
//     a lend against a borrow of one asset as on one shard (netOwnClaim); every other shard replays that netting on a
//     copy of the backstop's asset (its holdings + the Σ outgoing), so every pool replica moves alike; each slice is 0.
import {
  EventKind,
  LiquidationStep,
  RejectCode,
  type EventSink,
  type ExchangeConfig,
} from "../model/index.ts";
import { PoolDelta } from "../lending/index.ts";
import { BACKSTOP_ACCOUNT_NONE } from "../liquidation/index.ts";
import { Account } from "./accounts.ts";
import { publishBalance } from "./replies.ts";
import type { RiskState } from "./state.ts";

class TransitScratch {
  config: ExchangeConfig | null = null;
  usdc = 0;
  readonly status = new PoolDelta();
  readonly holdings = new PoolDelta();
  readonly incoming = new PoolDelta();
}
const scratch = new TransitScratch();

/** The settlement asset covers are paid in: the asset named USDC, else the first market's quote (as Q2 converts). */
export function usdcOf(s: RiskState): number {
  if (scratch.config !== s.config) {
    scratch.config = s.config;
    const usdc = s.config.assets.findIndex((a) => a.symbol === "USDC");
    scratch.usdc = usdc >= 0 ? usdc : (s.config.markets[0]?.quoteAsset ?? 0);
  }
  return scratch.usdc;
}

/** Is the relay in use: several risk shards and a configured backstop? */
export function relays(s: RiskState): boolean {
  return s.shardCount > 1 && s.config.liquidation.backstopAccount !== BACKSTOP_ACCOUNT_NONE;
}

/** Phase 0 with K > 1: the exposure notional (USD) this shard's takeovers may hand the backstop this batch. */
export function backstopBudgetUsd(s: RiskState): bigint {
  const left = s.config.liquidation.backstopLimitUsd - s.relay.usedUsd;
  return left > 0n ? left / BigInt(s.shardCount) : 0n;
}

/**
 * Phase 3b end on the backstop's owner (K > 1): the backstop's exposure notional and whether it is (or is about to
 * be) liquidating, and per asset
 * its available units and pool shares, into the status and holdings deltas of the batch.
 */
export function relayBackstopStatus(s: RiskState): void {
  const id = s.config.liquidation.backstopAccount;
  if (!s.owns(id)) return;
  const backstop = s.syncedAccount(id);
  if (backstop === undefined) return;
  const relay = s.relay;
  const margin = backstop.syncedMargin();
  relay.status.lendShares = margin.totalExposureNotionalUsd();
  // Liquidating now, or liquidatable (C9, MMR ≥ 100%) at this batch's marks — what phase 5 will most likely start
  // after the merge: so no other shard hands it more the next batch (as its own shard refuses; on the safe side).
  relay.status.cash = s.liquidation.isLiquidating(id) || margin.isLiquidatable() ? 1n : 0n;
  for (let a = 0; a < s.assetCount; a++) {
    const h = relay.holdings(a);
    h.cash = backstop.available[a]!;
    h.lendShares = backstop.positions[a]!.lendShares;
    h.borrowShares = backstop.positions[a]!.borrowShares;
  }
}

/**
 * Phase 3b on the liquidated account's shard (K > 1, the backstop elsewhere): every asset of `from` — available, lent
 * and borrowed shares, unsettled USDC — leaves it into this shard's transit slice and the outgoing deltas; the leg is
 * published as on one shard (a row of the account's history).
 */
export function releaseToBackstop(s: RiskState, from: Account, backstopId: number, sink: EventSink): void {
  const usdc = usdcOf(s);
  const relay = s.relay;
  for (let a = 0; a < s.assetCount; a++) {
    const available = from.available[a]!;
    const owed = from.borrowed[a]!;
    const p = from.positions[a]!;
    const lendShares = p.lendShares;
    const borrowShares = p.borrowShares;
    const lent = from.lent[a]!;
    const unsettled = a === usdc ? from.unsettledUsdc : 0n;
    if (available === 0n && lent === 0n && borrowShares === 0n && unsettled === 0n) continue; // as moveAssets
    if (from.locked[a]! !== 0n) throw new Error(`risk invariant: takeover of account ${from.id} with ${from.locked[a]} of asset ${a} held`);
    from.setAvailable(a, 0n);
    s.pools.releaseShares(from, a, s.nowMs);
    if (unsettled > 0n) {
      const ctx = s.marginContext;
      from.setUnsettledUsdc(0n, ctx.assetMark[usdc]!, ctx.assetUnit[usdc]!);
    }
    const out = relay.outgoing(a);
    out.cash += available;
    out.lendShares += lendShares;
    out.borrowShares += borrowShares;
    out.entryFeesPending += unsettled;
    relay.transit[a] = relay.transit[a]! + available;
    from.markChanged(a);
    publishAssetLeg(s, from.id, backstopId, a, available + lent - unsettled, borrowShares, owed, sink);
    publishBalance(s, 0, from, a, sink);
  }
  s.liquidation.recordProgress(from.id);
}

/**
 * Phase 4 after the merge (K > 1): the replicated headroom of the next batch, the backstop's credit on its owner and
 * the L15 netting on every replica (see the module comment); then nothing of the relay is left in flight.
 */
export function relayBatchEnd(s: RiskState, sink: EventSink): void {
  const relay = s.relay;
  if (!relays(s)) return;
  const status = relay.merged(0, scratch.status);
  relay.usedUsd = status.lendShares + status.borrowShares;
  relay.liquidating = status.cash !== 0n;
  const id = s.config.liquidation.backstopAccount;
  for (let a = 0; a < s.assetCount; a++) {
    const incoming = relay.merged(1 + s.assetCount + a, scratch.incoming);
    if (incoming.isZero()) continue;
    if (s.owns(id)) {
      const backstop = s.accountOrCreate(id);
      if (backstop === null) throw new Error(`risk invariant: backstop ${id} cannot be stored for a takeover`);
      creditBackstop(s, backstop, a, incoming, sink);
    } else {
      replayNetting(s, id, a, relay.merged(1 + a, scratch.holdings), incoming);
    }
  }
  relay.endBatch();
}

/** The owner: the Σ outgoing of asset `a` reaches the backstop from this shard's transit slice; then L15. */
function creditBackstop(s: RiskState, backstop: Account, a: number, incoming: PoolDelta, sink: EventSink): void {
  s.relay.transit[a] = s.relay.transit[a]! - incoming.cash;
  backstop.addAvailable(a, incoming.cash);
  s.pools.receiveShares(backstop, a, incoming.lendShares, incoming.borrowShares, s.nowMs);
  if (incoming.entryFeesPending !== 0n) {
    const ctx = s.marginContext;
    const usdc = usdcOf(s);
    backstop.setUnsettledUsdc(backstop.unsettledUsdc + incoming.entryFeesPending, ctx.assetMark[usdc]!, ctx.assetUnit[usdc]!);
  }
  backstop.markChanged(a);
  const q = backstop.positions[a]!;
  if (q.lendShares !== 0n && q.borrowShares !== 0n) netOwnClaim(s, backstop, a);
  publishBalance(s, 0, backstop, a, sink);
}

/**
 * Every shard but the owner: the owner's netting of asset `a` changes the pool (repay, redemption), so this replica
 * runs the same netting on a copy of the backstop's asset — its holdings at phase 3b's end plus the Σ outgoing — that
 * no account keeps. The same code on the same replica and the same inputs: the pool moves as on the owner's.
 */
function replayNetting(s: RiskState, id: number, a: number, holdings: PoolDelta, incoming: PoolDelta): void {
  const lendShares = holdings.lendShares + incoming.lendShares;
  const borrowShares = holdings.borrowShares + incoming.borrowShares;
  if (lendShares === 0n || borrowShares === 0n) return;
  const copy = new Account(id, s.assetCount, null, null);
  copy.setAvailable(a, holdings.cash + incoming.cash);
  const q = copy.positions[a]!;
  q.lendShares = lendShares;
  q.borrowShares = borrowShares;
  copy.poolPositions = 1;
  copy.poolEpoch = s.pools.epoch - 1;
  netOwnClaim(s, copy, a);
}

/**
 * L15 after a takeover: the backstop received a lend of an asset it borrows (or the reverse). Its available units of
 * the asset repay the borrow first; then its lent units are redeemed into the repayment, in chunks of the pool's cash
 * (each repayment returns what the redemption took), until one side is closed (seed 3270706892 of the fuzz).
 */
export function netOwnClaim(s: RiskState, backstop: Account, a: number): void {
  const pools = s.pools;
  const p = backstop.positions[a]!;
  s.pools.sync(backstop);
  const pay = backstop.available[a]! < backstop.borrowed[a]! ? backstop.available[a]! : backstop.borrowed[a]!;
  if (pay > 0n && pools.repay(backstop, a, pay === backstop.borrowed[a]! ? 0n : pay, s.nowMs) !== RejectCode.None) {
    throw new Error(`risk invariant: backstop ${backstop.id} repay of ${pay} refused`);
  }
  while (p.lendShares !== 0n && p.borrowShares !== 0n) {
    const owed = backstop.borrowed[a]!;
    const cash = pools.pools[a]!.cash;
    let x = backstop.lent[a]! < owed ? backstop.lent[a]! : owed;
    if (x > cash) x = cash;
    if (x <= 0n || pools.redeemForced(backstop, a, x, s.nowMs) < 0n) break; // no cash at all: left as it is
    if (pools.repay(backstop, a, x === owed ? 0n : x, s.nowMs) !== RejectCode.None) throw new Error(`risk invariant: backstop ${backstop.id} repay of ${x} refused`);
  }
  backstop.markChanged(a);
}

/** Q3: one asset leg of a takeover as a LiquidationTransfer event (row of the account's history). */
export function publishAssetLeg(s: RiskState, from: number, to: number, asset: number, amount: bigint, borrowShares: bigint, owed: bigint, sink: EventSink): void {
  const e = s.out;
  e.clear();
  e.kind = EventKind.LiquidationTransfer;
  e.account = from;
  e.makerAccount = to;
  e.asset = asset;
  e.liquidationStep = LiquidationStep.OnBackstop;
  e.transferAmount = amount;
  e.transferBorrowShares = borrowShares;
  e.borrowed = owed;
  e.legMarkPrice = s.marginContext.assetMark[asset]!;
  e.timeMs = s.nowMs;
  s.liquidationHistory.record(e);
  sink.publish(e);
}
