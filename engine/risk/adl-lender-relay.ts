// Q5 lender ADL across risk shards, the state of one risk shard (state layer: data, deltas, snapshot, hash; the rules
// are in adl-lenders-across-shards.ts; the decision is engine.ts "Q5 lender ADL across shards (as built)"). With K > 1
// risk shards a liquidating lender's borrowers may sit on any shard, so what its own shard's borrowers cannot take is
// decided in three batches, every input crossing shards with the phase-4 deltas, as Q4's perpetual ADL (adl-relay.ts):
//   - batch B, phase 0: the lender's shard posts a demand — (account, asset, quantity) — into its own demand slots;
//   - batch B+1, phase 3b: the lender's shard confirms each of its pending demands whose account is still liquidating
//     with its lend shares of the asset (a confirmation slot per pending demand), and every shard publishes, per
//     demanded asset, its own best-ranked borrowers (SPEC Q5's ranking: largest borrow first, ties by account id) with
//     their borrow and free USDC, at most LENDER_ADL_OFFERS_PER_ASSET_MAX;
//   - batch B+2, phase 0: every shard runs the same allocation over the same replicated confirmed demands and offers,
//     and executes its own accounts' legs.
// A redemption demand rides the same slots: a liquidating lender whose pool would take its whole claim but whose
// shard's budget (K > 1) only a part reserves the rest out of every shard's next budgets (pools.ts redemptionReserved)
// and redeems it in the next batch's phase 0 — one batch later than one shard, never starved by borrowers that keep
// the pool at its throttle's edge (fuzz --stuck-lenders, seed 2654435772 at 2 × 2: Q2 broken at step 291).
// Replicated at every boundary (snapshot and state hash): `pending` (posted in the last batch), `ready` (confirmed in
// the last batch, with the lender's shares then: decided in this batch's phase 0) and `offers` (published in the last
// batch for `ready`). Within a batch only: the deltas and the merged sums.
import { PoolDelta } from "../lending/index.ts";
import type { SnapshotReader, SnapshotWriter } from "../model/index.ts";

/** Lender (account, asset) demands one shard may post a batch; more wait a batch (they are posted again). */
export const LENDER_ADL_DEMANDS_PER_SHARD_MAX = 4;
/** Borrowers one shard publishes per demanded asset a batch (a deeper demand is served over rounds). */
export const LENDER_ADL_OFFERS_PER_ASSET_MAX = 8;

/** One liquidating lender's unredeemable claim: replicated. */
export class LenderAdlDemand {
  account = 0;
  asset = 0;
  /** What its own shard's borrowers could not take when it was posted (asset units). */
  quantity = 0n;
  /** The lender's lend shares of the asset when its shard confirmed the demand (0 while pending). */
  shares = 0n;
  /**
   * A redemption demand, not an ADL one: the pool would take the lender's whole claim but its shard's budget (K > 1)
   * does not; `quantity` is reserved out of every shard's budget for the next batch, in which the lender's shard
   * redeems it (pools.ts redemptionReserved, redeemReserved). Never confirmed or offered.
   */
  redeem = false;
}

/** One borrower a shard published: replicated. */
export class LenderAdlOffer {
  account = 0;
  asset = 0;
  /** Its borrow of the asset then (units). */
  borrowQuantity = 0n;
  /** Its available USDC then (quote units): what it can pay the lender. */
  freeQuote = 0n;
}

export class LenderAdlRelay {
  /** Replicated: demands posted in the last batch (confirmed and offered for this batch). */
  pending: LenderAdlDemand[] = [];
  /** Replicated: demands confirmed in the last batch, decided in this batch's phase 0 (by (account, asset)). */
  ready: LenderAdlDemand[] = [];
  /** Replicated: the offers published in the last batch for `ready`. */
  offers: LenderAdlOffer[] = [];
  /** This shard's own slots of the batch: K × demands, K × demands' confirmations (by index in `pending`), then
   * K × assets × offers (a shard writes only its own). */
  readonly deltas: PoolDelta[];
  /** Σ of the other shards' slots of the batch. */
  readonly remote: PoolDelta[];
  /** Own demand slots used this batch. */
  posted = 0;
  private touched = false;
  private readonly scratch = new PoolDelta();

  constructor(
    readonly shardIndex: number,
    readonly shardCount: number,
    readonly assetCount: number,
  ) {
    const n = shardCount > 1 ? shardCount * (2 * LENDER_ADL_DEMANDS_PER_SHARD_MAX + assetCount * LENDER_ADL_OFFERS_PER_ASSET_MAX) : 0;
    this.deltas = [];
    this.remote = [];
    for (let i = 0; i < n; i++) {
      this.deltas.push(new PoolDelta());
      this.remote.push(new PoolDelta());
    }
  }

  private demandIndex(shard: number, j: number): number {
    return shard * LENDER_ADL_DEMANDS_PER_SHARD_MAX + j;
  }

  /** The confirmation slot of pending[i] (i < K × LENDER_ADL_DEMANDS_PER_SHARD_MAX). */
  private confirmIndex(i: number): number {
    return this.shardCount * LENDER_ADL_DEMANDS_PER_SHARD_MAX + i;
  }

  private offerIndex(shard: number, a: number, j: number): number {
    return this.shardCount * 2 * LENDER_ADL_DEMANDS_PER_SHARD_MAX + (shard * this.assetCount + a) * LENDER_ADL_OFFERS_PER_ASSET_MAX + j;
  }

  /** Phase 0: a demand (ADL, or `redeem`) into this shard's next free slot; false when the batch's slots are used. */
  post(account: number, asset: number, quantity: bigint, redeem = false): boolean {
    if (this.posted >= LENDER_ADL_DEMANDS_PER_SHARD_MAX || quantity <= 0n) return false;
    this.touched = true;
    const d = this.deltas[this.demandIndex(this.shardIndex, this.posted++)]!;
    d.cash = BigInt(account) + 1n;
    d.borrowShares = BigInt(asset);
    d.lendShares = quantity;
    d.entryFeesPending = redeem ? 1n : 0n;
    return true;
  }

  /** The lender's redemption demand of `asset` posted in the last batch (reserved for this one), or null. */
  redemption(account: number, asset: number): LenderAdlDemand | null {
    for (const d of this.pending) if (d.redeem && d.account === account && d.asset === asset) return d;
    return null;
  }

  /** Σ per asset of the pending redemption demands, into `out` (the pools' redemptionReserved). */
  reservedRedemptions(out: bigint[]): void {
    out.fill(0n);
    for (const d of this.pending) if (d.redeem) out[d.asset] = out[d.asset]! + d.quantity;
  }

  /** Phase 3b: this shard confirms pending[i] (its own lender) with the lender's lend shares now (> 0). */
  confirm(i: number, shares: bigint): void {
    this.touched = true;
    this.deltas[this.confirmIndex(i)]!.cash = shares;
  }

  /** Phase 3b: offer j of this shard for asset a. */
  offer(a: number, j: number, account: number, borrowQuantity: bigint, freeQuote: bigint): void {
    this.touched = true;
    const d = this.deltas[this.offerIndex(this.shardIndex, a, j)]!;
    d.cash = BigInt(account) + 1n;
    d.lendShares = borrowQuantity;
    d.entryFeesPending = freeQuote;
  }

  /** Is the lender's ADL (or redemption) of `asset` posted and not decided yet, or decided in this batch? */
  waiting(account: number, asset: number): boolean {
    return find(this.pending, account, asset) || find(this.ready, account, asset);
  }

  /** Is the account a lender of a pending or ready demand (no borrower offer of it)? */
  demanding(account: number): boolean {
    for (const d of this.pending) if (d.account === account) return true;
    for (const d of this.ready) if (d.account === account) return true;
    return false;
  }

  /** Phase 4: another shard's slots of the batch; `deltas[first + i]` is its slot i. */
  applyRemote(deltas: readonly PoolDelta[], first: number): void {
    for (let i = 0; i < this.remote.length; i++) {
      const d = deltas[first + i]!;
      if (d.isZero()) continue;
      this.remote[i]!.add(d);
      this.touched = true;
    }
  }

  /** Phase 4 after the merge: ready ← the confirmed pending demands, offers ← the merged offers, pending ← the merged
   * demands; slots cleared. */
  roll(): void {
    if (!this.touched) {
      // No slot set this batch (every batch without a stuck lender): nothing confirmed, offered or posted.
      if (this.pending.length !== 0 || this.ready.length !== 0 || this.offers.length !== 0) {
        this.pending = [];
        this.ready = [];
        this.offers = [];
      }
      this.posted = 0;
      return;
    }
    const merged = this.scratch;
    const ready: LenderAdlDemand[] = [];
    for (let i = 0; i < this.pending.length; i++) {
      if (!this.merged(this.confirmIndex(i), merged)) continue;
      const d = this.pending[i]!;
      d.shares = merged.cash;
      ready.push(d);
    }
    const offers: LenderAdlOffer[] = [];
    for (let k = 0; k < this.shardCount; k++) {
      for (let a = 0; a < this.assetCount; a++) {
        for (let j = 0; j < LENDER_ADL_OFFERS_PER_ASSET_MAX; j++) {
          if (!this.merged(this.offerIndex(k, a, j), merged)) break;
          const o = new LenderAdlOffer();
          o.account = Number(merged.cash - 1n);
          o.asset = a;
          o.borrowQuantity = merged.lendShares;
          o.freeQuote = merged.entryFeesPending;
          offers.push(o);
        }
      }
    }
    const demands: LenderAdlDemand[] = [];
    for (let k = 0; k < this.shardCount; k++) {
      for (let j = 0; j < LENDER_ADL_DEMANDS_PER_SHARD_MAX; j++) {
        if (!this.merged(this.demandIndex(k, j), merged)) break;
        const d = new LenderAdlDemand();
        d.account = Number(merged.cash - 1n);
        d.asset = Number(merged.borrowShares);
        d.quantity = merged.lendShares;
        d.redeem = merged.entryFeesPending !== 0n;
        demands.push(d);
      }
    }
    demands.sort(compareDemands);
    this.ready = ready.length === 0 ? [] : ready;
    this.offers = ready.length === 0 ? [] : offers;
    this.pending = demands;
    for (const d of this.deltas) d.clear();
    for (const d of this.remote) d.clear();
    this.touched = false;
    this.posted = 0;
  }

  private merged(i: number, out: PoolDelta): boolean {
    out.clear();
    out.add(this.deltas[i]!);
    out.add(this.remote[i]!);
    return out.cash !== 0n;
  }

  /** The state hash's line: empty while idle (so every hash without a stuck lender is as before). */
  hashText(): string {
    if (this.pending.length === 0 && this.ready.length === 0 && this.offers.length === 0) return "";
    const d = (x: LenderAdlDemand) => `${x.account}:${x.asset}:${x.quantity}:${x.shares}${x.redeem ? ":r" : ""}`;
    const o = (x: LenderAdlOffer) => `${x.account}:${x.asset}:${x.borrowQuantity}:${x.freeQuote}`;
    return `lender adl pending ${this.pending.map(d).join(",")} ready ${this.ready.map(d).join(",")} offers ${this.offers.map(o).join(",")}\n`;
  }

  /** At a boundary (slots empty). */
  writeSnapshot(w: SnapshotWriter): void {
    for (const list of [this.pending, this.ready]) {
      w.uint(list.length);
      for (const x of list) {
        w.uint(x.account);
        w.uint(x.asset);
        w.big(x.quantity);
        w.big(x.shares);
        w.uint(x.redeem ? 1 : 0);
      }
    }
    w.uint(this.offers.length);
    for (const x of this.offers) {
      w.uint(x.account);
      w.uint(x.asset);
      w.big(x.borrowQuantity);
      w.big(x.freeQuote);
    }
  }

  restoreSnapshot(r: SnapshotReader): void {
    this.pending = this.readDemands(r, false);
    this.ready = this.readDemands(r, true);
    const n = r.uint();
    const offers: LenderAdlOffer[] = [];
    for (let i = 0; i < n; i++) {
      const o = new LenderAdlOffer();
      o.account = r.uint();
      o.asset = r.uint();
      if (o.asset >= this.assetCount) r.fail(`lender ADL offer of asset ${o.asset}`);
      o.borrowQuantity = r.big();
      o.freeQuote = r.big();
      if (o.borrowQuantity <= 0n || o.freeQuote <= 0n) r.fail(`lender ADL offer of account ${o.account} without a borrow or USDC`);
      offers.push(o);
    }
    this.offers = offers;
  }

  private readDemands(r: SnapshotReader, confirmed: boolean): LenderAdlDemand[] {
    const n = r.uint();
    if (n > this.shardCount * LENDER_ADL_DEMANDS_PER_SHARD_MAX) r.fail(`${n} lender ADL demands`);
    const out: LenderAdlDemand[] = [];
    for (let i = 0; i < n; i++) {
      const d = new LenderAdlDemand();
      d.account = r.uint();
      d.asset = r.uint();
      if (d.asset >= this.assetCount) r.fail(`lender ADL demand of asset ${d.asset}`);
      d.quantity = r.big();
      d.shares = r.big();
      const kind = r.uint();
      if (kind > 1 || (confirmed && kind !== 0)) r.fail(`lender ADL demand of account ${d.account}: kind ${kind}`);
      d.redeem = kind === 1;
      if (d.quantity <= 0n || (confirmed ? d.shares <= 0n : d.shares !== 0n)) r.fail(`lender ADL demand of account ${d.account}: quantity ${d.quantity}, shares ${d.shares}`);
      out.push(d);
    }
    return out;
  }
}

function compareDemands(a: LenderAdlDemand, b: LenderAdlDemand): number {
  return a.account !== b.account ? a.account - b.account : a.asset - b.asset;
}

function find(list: readonly LenderAdlDemand[], account: number, asset: number): boolean {
  for (const d of list) if (d.account === account && d.asset === asset) return true;
  return false;
}
