// Q4/Q5 lenders' state in one risk shard (state layer: data, snapshot, hash; no rules — those are in
// liquidation-lenders.ts). What every shard must agree on travels with the pool deltas of phase 4 (engine.ts decision
// "Q4/Q5 lenders (as built)"): per asset, the units of lent claims written down in the batch and the USDC owed to
// that asset's lenders for them, and the change of the number of open bankruptcies. So at every boundary each shard
// holds the same count (withdrawals wait while it is > 0) and has paid its own lenders.
import { PoolDelta } from "../lending/index.ts";
import { LENDER_LOSS_ROWS_KEPT_MAX, SNAPSHOT_COUNT_MAX, type SnapshotReader, type SnapshotWriter } from "../model/index.ts";

/** One batch's Σ write-downs of one asset over every shard (QueryLenderLosses; the same on every shard). */
export interface LenderLossRow {
  readonly timeMs: number;
  readonly asset: number;
  /** Units of lent claims written down. */
  readonly quantity: bigint;
  /** USDC units owed to the asset's lenders for them. */
  readonly payoutQuote: bigint;
  /** USDC units of that beyond the insurance fund (the socialized loss). */
  readonly lossQuote: bigint;
}

export class LenderBook {
  /** Bankruptcies found and not yet resolved, Σ over every shard as of the last batch boundary (replicated). */
  openBankruptcies = 0;
  /**
   * This shard's accounts found bankrupt, → ready: found in an earlier batch (so every shard knows the bankruptcy is
   * open) and resolved at this batch's phase 0. At a boundary every entry is ready.
   */
  readonly pending = new Map<number, boolean>();
  /**
   * USDC units of lender payouts in transit on this shard: the borrower's shard takes the payout in (from the account
   * and its insurance slice) at phase 0; each shard pays its own lenders out of it at the batch end. Σ over the shards
   * is then the payouts' rounding remainder (≥ 0), which the next phase 0 returns to the insurance slices.
   */
  transitQuote = 0n;
  /**
   * Per asset, this batch's own write-downs as additive deltas exchanged in phase 4 (lendShares: units of lent claims
   * written down; cash: USDC units owed to the asset's lenders for them; entryFeesPending: USDC units of that beyond
   * the insurance fund); then one delta whose cash is the change of the open bankruptcies.
   */
  readonly deltas: PoolDelta[];
  /** Σ of every shard's write-downs, payouts and bankruptcy changes of the batch (own at once, others' at the merge). */
  readonly writeDown: bigint[];
  readonly payout: bigint[];
  readonly loss: bigint[];
  openChange = 0;
  /** Q4: the exchange's write-downs, one row per batch and asset, oldest first (replicated; the newest kept). */
  readonly losses: LenderLossRow[] = [];

  constructor(readonly assetCount: number) {
    this.deltas = [];
    for (let i = 0; i <= assetCount; i++) this.deltas.push(new PoolDelta());
    this.writeDown = new Array<bigint>(assetCount).fill(0n);
    this.payout = new Array<bigint>(assetCount).fill(0n);
    this.loss = new Array<bigint>(assetCount).fill(0n);
  }

  /** This shard wrote `quantity` of `asset`'s lent claims down, owing its lenders `payoutQuote` USDC units. */
  addWriteDown(asset: number, quantity: bigint, payoutQuote: bigint, lossQuote: bigint): void {
    const d = this.deltas[asset]!;
    d.lendShares += quantity;
    d.cash += payoutQuote;
    d.entryFeesPending += lossQuote;
    this.writeDown[asset] = this.writeDown[asset]! + quantity;
    this.payout[asset] = this.payout[asset]! + payoutQuote;
    this.loss[asset] = this.loss[asset]! + lossQuote;
  }

  /** A bankruptcy of this shard opened (+1) or was resolved (−1). */
  addOpenChange(change: number): void {
    this.deltas[this.assetCount]!.cash += BigInt(change);
    this.openChange += change;
  }

  /** Phase 4: another shard's deltas of the batch; `deltas[first + i]` is its delta i. */
  applyRemote(deltas: readonly PoolDelta[], first: number): void {
    for (let a = 0; a < this.assetCount; a++) {
      const d = deltas[first + a]!;
      this.writeDown[a] = this.writeDown[a]! + d.lendShares;
      this.payout[a] = this.payout[a]! + d.cash;
      this.loss[a] = this.loss[a]! + d.entryFeesPending;
    }
    this.openChange += Number(deltas[first + this.assetCount]!.cash);
  }

  /** Withdrawals wait (issue 13 item 7): a bankruptcy is open anywhere (as of the boundary) or found here. */
  withdrawalsPaused(): boolean {
    return this.openBankruptcies > 0 || this.pending.size > 0;
  }

  /** The batch end, after the payouts: the count moves by the batch's Σ change, found entries become ready. */
  endBatch(nowMs: number): void {
    for (let a = 0; a < this.assetCount; a++) {
      if (this.writeDown[a] === 0n && this.payout[a] === 0n) continue;
      this.losses.push({ timeMs: nowMs, asset: a, quantity: this.writeDown[a]!, payoutQuote: this.payout[a]!, lossQuote: this.loss[a]! });
    }
    if (this.losses.length > LENDER_LOSS_ROWS_KEPT_MAX) this.losses.splice(0, this.losses.length - LENDER_LOSS_ROWS_KEPT_MAX + LENDER_LOSS_ROWS_KEPT_MAX / 10);
    this.openBankruptcies += this.openChange;
    this.openChange = 0;
    for (const d of this.deltas) d.clear();
    this.writeDown.fill(0n);
    this.payout.fill(0n);
    this.loss.fill(0n);
    for (const id of this.pending.keys()) this.pending.set(id, true);
  }

  pendingSorted(): number[] {
    return [...this.pending.keys()].sort((a, b) => a - b);
  }

  hashText(): string {
    if (this.openBankruptcies === 0 && this.pending.size === 0 && this.transitQuote === 0n && this.losses.length === 0) return "";
    const last = this.losses[this.losses.length - 1];
    const tail = last === undefined ? "" : ` ${last.timeMs}/${last.asset}/${last.quantity}/${last.payoutQuote}/${last.lossQuote}`;
    return `lenders ${this.openBankruptcies} ${this.pendingSorted().join(",")} ${this.transitQuote} rows ${this.losses.length}${tail}\n`;
  }

  /** At a boundary (the deltas are empty, every pending entry ready). */
  writeSnapshot(w: SnapshotWriter): void {
    w.uint(this.openBankruptcies);
    const ids = this.pendingSorted();
    w.uint(ids.length);
    for (const id of ids) w.uint(id);
    w.big(this.transitQuote);
    w.uint(this.losses.length);
    for (const row of this.losses) {
      w.uint(row.timeMs);
      w.uint(row.asset);
      w.big(row.quantity);
      w.big(row.payoutQuote);
      w.big(row.lossQuote);
    }
  }

  restoreSnapshot(r: SnapshotReader): void {
    this.openBankruptcies = r.uint();
    this.pending.clear();
    for (let n = r.count(SNAPSHOT_COUNT_MAX, "pending bankruptcies"); n > 0; n--) this.pending.set(r.uint(), true);
    this.transitQuote = r.big();
    this.losses.length = 0;
    for (let n = r.count(LENDER_LOSS_ROWS_KEPT_MAX, "lender loss rows"); n > 0; n--) {
      const timeMs = r.uint();
      const asset = r.uint();
      if (asset >= this.assetCount) r.fail(`lender loss row of asset ${asset}`);
      this.losses.push({ timeMs, asset, quantity: r.big(), payoutQuote: r.big(), lossQuote: r.big() });
    }
  }
}
