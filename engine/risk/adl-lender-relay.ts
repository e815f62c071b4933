// Q5 lender ADL across risk shards, the state of one risk shard: what a liquidating lender's demands and the
// borrowers' offers carry through the relay (adl-demand-relay.ts: slots, rounds, snapshot, hash); the rules are in
// adl-lenders-across-shards.ts, the decision is engine.ts "Q5 lender ADL across shards (as built)". A demand (account,
// asset, quantity) is what the lender's own shard's borrowers could not take; its shard confirms it in B+1 with the
// lender's lend shares if it is still liquidating. Offers per asset (SPEC Q5's ranking: largest borrow first, ties by
// account id), at most LENDER_ADL_OFFERS_PER_ASSET_MAX, each with its borrow and free USDC.
// A redemption demand rides the same slots: a liquidating lender whose pool would take its whole claim but whose
// shard's budget (K > 1) only a part reserves the rest out of every shard's next budgets (pools.ts redemptionReserved)
// and redeems it in the next batch's phase 0 — one batch later than one shard, never starved by borrowers that keep
// the pool at its throttle's edge (fuzz --stuck-lenders, seed 2654435772 at 2 × 2: Q2 broken at step 291).
import type { SnapshotReader, SnapshotWriter } from "../model/index.ts";
import { DemandOfferRelay, demandIndexOf, type RelayKind } from "./adl-demand-relay.ts";

/** Lender (account, asset) demands one shard may post a batch; more wait a batch (they are posted again). */
export const LENDER_ADL_DEMANDS_PER_SHARD_MAX = 4;
/** Borrowers one shard publishes per demanded asset a batch (a deeper demand is served over rounds). */
export const LENDER_ADL_OFFERS_PER_ASSET_MAX = 8;

/** One liquidating lender's unredeemable claim: replicated. */
export class LenderAdlDemand {
  constructor(
    public account = 0,
    public asset = 0,
    /** What its own shard's borrowers could not take when it was posted (asset units). */
    public quantity = 0n,
    /**
     * A redemption demand, not an ADL one: the pool would take the lender's whole claim but its shard's budget (K > 1)
     * does not; `quantity` is reserved out of every shard's budget for the next batch, in which the lender's shard
     * redeems it (pools.ts redemptionReserved, redeemReserved). Never confirmed or offered.
     */
    public redeem = false,
    /** The lender's lend shares of the asset when its shard confirmed the demand (0 while pending). */
    public shares = 0n,
  ) {}
}

/** One borrower a shard published: replicated. */
export class LenderAdlOffer {
  constructor(
    public account = 0,
    public asset = 0,
    /** Its borrow of the asset then (units). */
    public borrowQuantity = 0n,
    /** Its available USDC then (quote units): what it can pay the lender. */
    public freeQuote = 0n,
  ) {}
}

/** Q5 in the relay: a demand's detail is 1 for a redemption; confirmed with the lend shares; offers by asset (key). */
const LENDER_ADL_KIND: RelayKind<LenderAdlDemand, LenderAdlOffer> = {
  hashName: "lender adl",
  what: "lender ADL",
  demandsPerShardMax: LENDER_ADL_DEMANDS_PER_SHARD_MAX,
  groupsPerKey: 1,
  offersPerGroupMax: LENDER_ADL_OFFERS_PER_ASSET_MAX,
  confirmed: true,
  demandOf: (account, asset, quantity, redeem) => new LenderAdlDemand(account, asset, quantity, redeem !== 0n),
  confirm(d, shares) {
    d.shares = shares;
  },
  offerOf: (account, asset, borrowQuantity, _unused, freeQuote) => new LenderAdlOffer(account, asset, borrowQuantity, freeQuote),
  compareDemands: (a, b) => (a.account !== b.account ? a.account - b.account : a.asset - b.asset),
  demandText: (x) => `${x.account}:${x.asset}:${x.quantity}:${x.shares}${x.redeem ? ":r" : ""}`,
  offerText: (x) => `${x.account}:${x.asset}:${x.borrowQuantity}:${x.freeQuote}`,
  writeDemand: writeLenderAdlDemand,
  readDemand: readLenderAdlDemand,
  writeOffer(w, x) {
    w.uint(x.account);
    w.uint(x.asset);
    w.big(x.borrowQuantity);
    w.big(x.freeQuote);
  },
  readOffer(r, assetCount) {
    const account = r.uint();
    const asset = r.uint();
    if (asset >= assetCount) r.fail(`lender ADL offer of asset ${asset}`);
    const o = new LenderAdlOffer(account, asset, r.big(), r.big());
    if (o.borrowQuantity <= 0n || o.freeQuote <= 0n) r.fail(`lender ADL offer of account ${o.account} without a borrow or USDC`);
    return o;
  },
};

function writeLenderAdlDemand(w: SnapshotWriter, x: LenderAdlDemand): void {
  w.uint(x.account);
  w.uint(x.asset);
  w.big(x.quantity);
  w.big(x.shares);
  w.uint(x.redeem ? 1 : 0);
}

function readLenderAdlDemand(r: SnapshotReader, assetCount: number, confirmed: boolean): LenderAdlDemand {
  const account = r.uint();
  const asset = r.uint();
  if (asset >= assetCount) r.fail(`lender ADL demand of asset ${asset}`);
  const d = new LenderAdlDemand(account, asset, r.big(), false, r.big());
  const kind = r.uint();
  if (kind > 1 || (confirmed && kind !== 0)) r.fail(`lender ADL demand of account ${d.account}: kind ${kind}`);
  d.redeem = kind === 1;
  if (d.quantity <= 0n || (confirmed ? d.shares <= 0n : d.shares !== 0n)) r.fail(`lender ADL demand of account ${d.account}: quantity ${d.quantity}, shares ${d.shares}`);
  return d;
}

export class LenderAdlRelay extends DemandOfferRelay<LenderAdlDemand, LenderAdlOffer> {
  constructor(shardIndex: number, shardCount: number, assetCount: number) {
    super(LENDER_ADL_KIND, shardIndex, shardCount, assetCount);
  }

  /** Phase 0: a demand (ADL, or `redeem`) into this shard's next free slot; false when the batch's slots are used. */
  post(account: number, asset: number, quantity: bigint, redeem = false): boolean {
    return quantity > 0n && this.postDemand(account, asset, quantity, redeem ? 1n : 0n);
  }

  /** Phase 3b: this shard confirms pending[i] (its own lender) with the lender's lend shares now (> 0). */
  confirm(i: number, shares: bigint): void {
    this.confirmDemand(i, shares);
  }

  /** Phase 3b: offer j of this shard for asset a. */
  offer(a: number, j: number, account: number, borrowQuantity: bigint, freeQuote: bigint): void {
    this.postOffer(a, 0, j, account, borrowQuantity, 0n, freeQuote);
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

  /** Is the lender's ADL (or redemption) of `asset` posted and not decided yet, or decided in this batch? */
  waiting(account: number, asset: number): boolean {
    return findClaim(this.pending, account, asset) || findClaim(this.ready, account, asset);
  }

  /** Is the account a lender of a pending or ready demand (no borrower offer of it)? */
  demanding(account: number): boolean {
    return demandIndexOf(this.pending, account) >= 0 || demandIndexOf(this.ready, account) >= 0;
  }
}

function findClaim(list: readonly LenderAdlDemand[], account: number, asset: number): boolean {
  for (const d of list) if (d.account === account && d.asset === asset) return true;
  return false;
}
