// Q3 across risk shards, the state of one risk shard (state layer: data, snapshot, hash; the rules are in
// liquidation-transfers.ts and backstop-transit.ts; the decision is engine.ts "Q3 across shards (as built)"). With
// K > 1 risk shards the backstop account lives on one shard (its owner), and a takeover is decided by the liquidated
// account's shard. What crosses shards travels with the phase-4 deltas, three kinds of them:
//   - status (one delta): from the backstop's owner, its exposure notional at the end of phase 3b (lendShares) and
//     whether it is liquidating or liquidatable (C9) then (cash: 1); from every shard, the liabilities of the cross-shard takeovers it decided
//     this batch (borrowShares, the plans' figure): their positions reached the backstop in R2, before the owner
//     measured, but their other legs arrive after the merge — TEN is subadditive, so the sum bounds the exposure;
//   - holdings (one per asset, from the backstop's owner): the backstop's available units, lend and borrow shares at
//     the end of phase 3b — what every shard needs to replay an L15 netting of the backstop on its pool replica;
//   - outgoing (one per asset, from each deciding shard): what left its liquidated accounts for the backstop into its
//     transit slice in phase 3b — available units (cash), lend and borrow shares, unsettled USDC (entryFeesPending).
// Replicated at every boundary (snapshot and state hash): `usedUsd` (the backstop's exposure notional as the last merge
// saw it, plus that batch's cross-shard takeovers) and `liquidating`. Within a batch only: the deltas, the merged sums
// and each shard's transit slice (units per asset that left an account and have not yet reached the backstop: > 0 on
// the deciding shard, < 0 on the owner once it credited them, Σ 0 after the merge, each slice 0 again at the boundary).
import { PoolDelta } from "../lending/index.ts";
import type { SnapshotReader, SnapshotWriter } from "../model/index.ts";

export class BackstopRelay {
  /** Replicated: the backstop's exposure notional (USD, PRICE_DECIMALS) as of the last merge, cross-shard takeovers
   * of that batch included; the per-batch budget of every shard's takeovers is floor((limit − usedUsd) / K). */
  usedUsd = 0n;
  /** Replicated: the backstop was liquidating, or liquidatable, at the end of the last batch's phase 3b (no takeover
   * to it then). */
  liquidating = false;
  /** This shard's own deltas of the batch: status, holdings per asset, outgoing per asset. */
  readonly deltas: PoolDelta[];
  /** Σ of the other shards' deltas of the batch (the merge adds them; own ones are read from `deltas`). */
  readonly remote: PoolDelta[];
  /** This shard's transit slice, units per asset (see the module comment; 0 at every boundary). */
  readonly transit: bigint[];

  constructor(readonly assetCount: number) {
    this.deltas = [];
    this.remote = [];
    for (let i = 0; i < 1 + 2 * assetCount; i++) {
      this.deltas.push(new PoolDelta());
      this.remote.push(new PoolDelta());
    }
    this.transit = new Array<bigint>(assetCount).fill(0n);
  }

  get status(): PoolDelta {
    return this.deltas[0]!;
  }

  holdings(a: number): PoolDelta {
    return this.deltas[1 + a]!;
  }

  outgoing(a: number): PoolDelta {
    return this.deltas[1 + this.assetCount + a]!;
  }

  /** Phase 4: another shard's deltas of the batch; `deltas[first + i]` is its delta i. */
  applyRemote(deltas: readonly PoolDelta[], first: number): void {
    for (let i = 0; i < this.remote.length; i++) {
      const d = deltas[first + i]!;
      if (!d.isZero()) this.remote[i]!.add(d);
    }
  }

  /** Σ over every shard of delta i (own + merged). */
  merged(i: number, out: PoolDelta): PoolDelta {
    out.clear();
    out.add(this.deltas[i]!);
    out.add(this.remote[i]!);
    return out;
  }

  /** The batch end, after the backstop's credit: nothing stays in flight. */
  endBatch(): void {
    for (const d of this.deltas) d.clear();
    for (const d of this.remote) d.clear();
    this.transit.fill(0n);
  }

  hashText(): string {
    if (this.usedUsd === 0n && !this.liquidating) return "";
    return `backstop relay ${this.usedUsd} ${this.liquidating ? 1 : 0}\n`;
  }

  /** At a boundary (deltas empty, transit 0). */
  writeSnapshot(w: SnapshotWriter): void {
    w.big(this.usedUsd);
    w.uint(this.liquidating ? 1 : 0);
  }

  restoreSnapshot(r: SnapshotReader): void {
    this.usedUsd = r.big();
    const flag = r.uint();
    if (flag > 1) r.fail(`backstop relay flag ${flag}`);
    this.liquidating = flag === 1;
  }
}
