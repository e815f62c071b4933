// Q6 and D4 (engine/pipeline/engine.ts): the insurance fund as every risk shard sees it. Each shard owns one slice of
// the fund (s.insuranceAccount, in its snapshot and state hash); the fund is the sum of the slices. Every change of a
// slice goes through creditInsurance with its reason (P4's funding remainder now; Q2's liquidation fees and Q4's covers
// are one call each where they land), which also records it as an additive delta that travels with the pool deltas
// in phase 4 (one PoolDelta.cash per asset × reason, after the pools' and the open interest's: RiskState.batchDeltas).
// So at every batch boundary each shard holds the same replica: the fund's balance per asset (Σ slices) and its
// history, one row per asset and reason whose Σ over the shards changed in the batch, appended in (asset, reason)
// order at the batch end — queries read it at any shard (account 0's answers) without a cross-shard message.
import { PoolDelta } from "../lending/index.ts";
import {
  INSURANCE_HISTORY_KEPT_MAX,
  INSURANCE_REASON_COUNT,
  InsuranceReason,
  SNAPSHOT_COUNT_MAX,
  type SnapshotReader,
  type SnapshotWriter,
} from "../model/index.ts";
import type { RiskState } from "./state.ts";

/** One row of the fund's history: the Σ change of one asset for one reason in one batch, and the balance after it. */
export interface InsuranceRow {
  readonly timeMs: number;
  readonly asset: number;
  readonly reason: InsuranceReason;
  readonly change: bigint;
  readonly balance: bigint;
}

export class InsuranceLedger {
  /** Σ of every shard's slice per asset, as of the last boundary plus this shard's own changes of the batch. */
  readonly balances: bigint[];
  /**
   * Q4: per asset, the part of the balance that is realized PnL in transit (Σ of every RealizedPnl change): D4 makes
   * the fund the counterparty of realization, so while the losers of a move have paid and the winners hold open
   * positions the balance holds what those positions will be paid when they close (Σ cost basis). Not the fund's to
   * spend: covers spend capital(), balance − float.
   */
  readonly pnlFloat: bigint[];
  /** This shard's own changes of the batch, per asset × reason (PoolDelta.cash), exchanged in phase 4. */
  readonly deltas: PoolDelta[];
  /** Σ over every shard of the batch's changes per asset × reason (own at once, the others' at the merge). */
  private readonly batchChanges: bigint[];
  private batchChanged = false;
  /** The newest rows, oldest first (at most INSURANCE_HISTORY_KEPT_MAX; older ones are dropped, the balance stays). */
  readonly history: InsuranceRow[] = [];

  constructor(readonly assetCount: number) {
    this.balances = new Array<bigint>(assetCount).fill(0n);
    this.pnlFloat = new Array<bigint>(assetCount).fill(0n);
    this.deltas = [];
    for (let i = 0; i < assetCount * INSURANCE_REASON_COUNT; i++) this.deltas.push(new PoolDelta());
    this.batchChanges = new Array<bigint>(assetCount * INSURANCE_REASON_COUNT).fill(0n);
  }

  /** This shard's own change (its slice moved by `change`). */
  addOwn(asset: number, reason: InsuranceReason, change: bigint): void {
    const i = asset * INSURANCE_REASON_COUNT + reason;
    this.deltas[i]!.cash += change;
    this.batchChanges[i] = this.batchChanges[i]! + change;
    this.balances[asset] = this.balances[asset]! + change;
    if (reason === InsuranceReason.RealizedPnl) this.pnlFloat[asset] = this.pnlFloat[asset]! + change;
    this.batchChanged = true;
  }

  /**
   * Q4: what covers may spend of `asset` — the balance less the realized PnL in transit (pnlFloat), and never more
   * than the balance (when winners were paid before the losers, the float is negative and the cash is not there yet);
   * may be < 0. A cover's budget also leaves out the funding the slice holds for receivers of an interval still being
   * paid (liquidation-transfers.ts coverBudget, funding.ts fundingOwedByFund).
   */
  capital(asset: number): bigint {
    const balance = this.balances[asset]!;
    const float = this.pnlFloat[asset]!;
    return float > 0n ? balance - float : balance;
  }

  /** Phase 4: another shard's changes of the batch; `deltas[first + i]` is its delta i. */
  applyRemote(deltas: readonly PoolDelta[], first: number): void {
    for (let i = 0; i < this.deltas.length; i++) {
      const change = deltas[first + i]!.cash;
      if (change === 0n) continue;
      this.batchChanges[i] = this.batchChanges[i]! + change;
      const asset = (i / INSURANCE_REASON_COUNT) | 0;
      this.balances[asset] = this.balances[asset]! + change;
      if (i - asset * INSURANCE_REASON_COUNT === InsuranceReason.RealizedPnl) this.pnlFloat[asset] = this.pnlFloat[asset]! + change;
      this.batchChanged = true;
    }
  }

  /** The batch end, after the merge: one history row per asset × reason that changed, then the deltas cleared. */
  endBatch(nowMs: number): void {
    if (!this.batchChanged) return;
    this.batchChanged = false;
    for (let a = 0; a < this.assetCount; a++) {
      let before = this.balances[a]!;
      for (let r = 0; r < INSURANCE_REASON_COUNT; r++) before -= this.batchChanges[a * INSURANCE_REASON_COUNT + r]!;
      for (let r = 0; r < INSURANCE_REASON_COUNT; r++) {
        const i = a * INSURANCE_REASON_COUNT + r;
        const change = this.batchChanges[i]!;
        this.deltas[i]!.cash = 0n;
        if (change === 0n) continue;
        this.batchChanges[i] = 0n;
        before += change;
        this.history.push({ timeMs: nowMs, asset: a, reason: r as InsuranceReason, change, balance: before });
      }
    }
    // Drop the oldest tenth at once when full (amortized O(1) per row).
    if (this.history.length > INSURANCE_HISTORY_KEPT_MAX) this.history.splice(0, this.history.length - INSURANCE_HISTORY_KEPT_MAX + INSURANCE_HISTORY_KEPT_MAX / 10);
  }

  /** Rows of `asset` (or every asset when `asset` < 0) from `fromMs` on, oldest first, at most `limit`. */
  rows(asset: number, fromMs: number, limit: number): InsuranceRow[] {
    const out: InsuranceRow[] = [];
    for (const row of this.history) {
      if (out.length >= limit) break;
      if (row.timeMs >= fromMs && (asset < 0 || row.asset === asset)) out.push(row);
    }
    return out;
  }

  hashText(): string {
    if (this.history.length === 0 && this.balances.every((b) => b === 0n)) return "";
    const last = this.history[this.history.length - 1];
    const tail = last === undefined ? "" : ` ${last.timeMs}/${last.asset}/${last.reason}/${last.change}/${last.balance}`;
    return `insurance ${this.balances.join(",")} float ${this.pnlFloat.join(",")} rows ${this.history.length}${tail}\n`;
  }

  /** At a boundary (the batch's changes are rows already). */
  writeSnapshot(w: SnapshotWriter): void {
    for (const b of this.balances) w.big(b);
    for (const f of this.pnlFloat) w.big(f);
    w.uint(this.history.length);
    for (const row of this.history) {
      w.uint(row.timeMs);
      w.uint(row.asset);
      w.uint(row.reason);
      w.big(row.change);
      w.big(row.balance);
    }
  }

  restoreSnapshot(r: SnapshotReader): void {
    for (let a = 0; a < this.assetCount; a++) this.balances[a] = r.big();
    for (let a = 0; a < this.assetCount; a++) this.pnlFloat[a] = r.big();
    this.history.length = 0;
    for (let n = r.count(SNAPSHOT_COUNT_MAX, "insurance history rows"); n > 0; n--) {
      const timeMs = r.uint();
      const asset = r.uint();
      const reason = r.uint();
      if (asset >= this.assetCount || reason >= INSURANCE_REASON_COUNT) r.fail(`insurance history row of asset ${asset}, reason ${reason}`);
      this.history.push({ timeMs, asset, reason: reason as InsuranceReason, change: r.big(), balance: r.big() });
    }
  }
}

/**
 * D4: moves this shard's insurance slice of `asset` by `change` (signed, asset units) for `reason`, and records it
 * for the fund's replicated balance and history. The only writer of s.insuranceAccount.
 */
export function creditInsurance(s: RiskState, asset: number, reason: InsuranceReason, change: bigint): void {
  if (change === 0n) return;
  s.insuranceAccount.addAvailable(asset, change);
  s.insurance.addOwn(asset, reason, change);
}
