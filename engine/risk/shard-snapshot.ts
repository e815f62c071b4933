// The risk shard's snapshot section (X7): the clock, marks, pool replicas, fee volumes, accounts, the fee account,
// the insurance slice (D4), holds and the clientId index, the oracle replica (perps/oracle-book.ts), the liquidating set (Q1) and its stalls (Q2), the open-interest
// replica (P1; positions are in the accounts), the liquidation histories and the insurance fund's replica (Q6), the markets' funding-rate histories (P4), the spread passes' cursors (P5S), the backstop's replicated headroom (Q3 across shards), the replicated perp and lender ADL demands and offers (Q4, Q5 across shards), composed from the encodings in snapshot.ts, pools.ts and fees.ts.
import { SnapshotTag, type SnapshotReader, type SnapshotWriter } from "../model/index.ts";
import { restoreAccounts, restoreFeeAccount, restoreHolds, restoreMarks, writeAccounts, writeFeeAccount, writeHolds, writeMarks } from "./snapshot.ts";
import type { RiskState } from "./state.ts";
import { rebuildLiquidationIndex } from "./liquidation-trigger.ts";
import { rebuildAutoRealize } from "./realization.ts";

/**
 * Writes everything the shard owns at a batch boundary (after endBatch): what stateHash covers and what future
 * commands read. A fresh shard restored from it behaves as this one does.
 */
export function writeShardSnapshot(s: RiskState, w: SnapshotWriter): void {
  w.beginSection(SnapshotTag.Risk);
  w.uint(s.shardIndex);
  w.uint(s.shardCount);
  w.uint(s.nowMs);
  writeMarks(w, s.marginContext);
  s.pools.writeSnapshot(w);
  s.volumes.writeSnapshot(w);
  writeAccounts(w, s.accounts, s.pools, s.assetCount);
  writeFeeAccount(w, s.feeAccount, s.assetCount);
  writeFeeAccount(w, s.insuranceAccount, s.assetCount); // D4: the shard's insurance slice (same encoding)
  writeHolds(w, s.holds, s.byClientId);
  s.oracle.writeSnapshot(w);
  // Q1: the liquidating set (its hysteresis is state); the safe-band index is derived again on restore.
  const liquidating = s.liquidation.liquidatingSorted();
  w.uint(liquidating.length);
  for (const id of liquidating) w.uint(id);
  // Q2: the accounts whose book liquidation made no progress (batches without a fill, last NoStepReason).
  const stalled = s.liquidation.stalledSorted();
  w.uint(stalled.length);
  for (const id of stalled) {
    const entry = s.liquidation.stalled.get(id)!;
    w.uint(id);
    w.uint(entry.batches);
    w.uint(entry.reason);
  }
  for (const oi of s.openInterest) w.big(oi);
  s.liquidationHistory.writeSnapshot(w); // Q6
  s.insurance.writeSnapshot(w); // Q6/D4: the fund's replica (Σ slices) and history
  s.lenders.writeSnapshot(w); // Q4: open bankruptcies, this shard's pending ones, its payout transit
  for (const log of s.fundingRates) log.write(w); // P4: each market's funding rates (histories.ts)
  s.passes.write(w); // P5S: pending funding payments and the realization pass (passes.ts)
  s.conversions.write(w); // P6 (3): the settlement borrows due a conversion (settlement-conversions.ts)
  s.relay.writeSnapshot(w); // Q3 across shards: the backstop's replicated headroom (backstop-relay.ts)
  s.adl.writeSnapshot(w); // Q4 across shards: the replicated ADL demands and offers (adl-relay.ts)
  s.lenderAdl.writeSnapshot(w); // Q5 across shards: the replicated lender ADL demands and offers (adl-lender-relay.ts)
  w.endSection();
}

/** Restores a fresh shard (same config, index and shard count) from writeShardSnapshot's bytes. */
export function restoreShardSnapshot(s: RiskState, r: SnapshotReader): void {
  if (s.accounts.size !== 0 || s.holds.size !== 0) throw new Error(`risk shard ${s.shardIndex}: restore needs a fresh shard`);
  r.beginSection(SnapshotTag.Risk, `risk shard ${s.shardIndex}`);
  const index = r.uint();
  const count = r.uint();
  if (index !== s.shardIndex || count !== s.shardCount) r.fail(`risk shard ${index} of ${count} found where shard ${s.shardIndex} of ${s.shardCount} was expected`);
  s.nowMs = r.uint();
  restoreMarks(r, s.marginContext);
  s.pools.restoreSnapshot(r);
  s.volumes.restoreSnapshot(r);
  const lazy = restoreAccounts(r, s.accounts, (id) => s.newAccount(id, true), s.pools, s.assetCount, s.config.markets);
  restoreFeeAccount(r, s.feeAccount, s.assetCount);
  restoreFeeAccount(r, s.insuranceAccount, s.assetCount);
  restoreHolds(r, s.holds, s.byClientId, s.accounts, lazy, s.assetCount, s.config.markets);
  s.oracle.restoreSnapshot(r);
  const liquidating = r.uint();
  for (let i = 0; i < liquidating; i++) s.liquidation.liquidating.add(r.uint());
  const stalled = r.uint();
  for (let i = 0; i < stalled; i++) {
    const id = r.uint();
    const batches = r.uint();
    const reason = r.uint();
    if (!s.liquidation.liquidating.has(id) || batches < 1) r.fail(`account ${id}: a liquidation stall of an account not liquidating`);
    s.liquidation.stalled.set(id, { batches, reason });
  }
  for (let m = 0; m < s.openInterest.length; m++) {
    const oi = r.big();
    if (oi < 0n) r.fail(`market ${m}: negative open interest`);
    s.openInterest[m] = oi;
  }
  s.liquidationHistory.restoreSnapshot(r);
  s.insurance.restoreSnapshot(r);
  s.lenders.restoreSnapshot(r);
  for (const log of s.fundingRates) log.restore(r);
  s.passes.restore(r);
  s.conversions.restore(r, s.accounts.size);
  s.relay.restoreSnapshot(r);
  s.adl.restoreSnapshot(r);
  s.lenderAdl.restoreSnapshot(r);
  r.endSection();
  rebuildLiquidationIndex(s);
  rebuildPerpHolders(s);
  rebuildAutoRealize(s);
  s.clockAtBatchStartMs = s.nowMs; // a snapshot is taken at a batch boundary (D2(c))
}

/** P4: the per-market holder sets are derived from the positions (not in the snapshot). */
function rebuildPerpHolders(s: RiskState): void {
  // An account still kept as bytes has no perpetual state (engine/risk/snapshot.ts skipPlainAccount).
  for (const a of s.accounts.madeValues()) {
    if (a.perps === null) continue;
    const positions = a.perps.positions;
    for (let m = 0; m < positions.length; m++) if (positions[m]!.netQuantity !== 0n) s.perpHolders[m]!.add(a.id);
  }
}
