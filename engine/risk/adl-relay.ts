// Q4 ADL across risk shards, the state of one risk shard: what a bankrupt account's demands and the opposing holders'
// offers carry through the relay (adl-demand-relay.ts: slots, rounds, snapshot, hash); the rules are in
// adl-across-shards.ts, the decision is engine.ts "Q4 ADL across shards (as built)". A demand per position (account,
// market, signed quantity, the deficit in USDC units), not confirmed: `ready` is the last batch's `pending`. Offers
// per market and candidate side (SPEC Q4's profit % × leverage, ties by account id), at most ADL_OFFERS_PER_SIDE_MAX,
// each with its quantity, cost basis and net equity. Within a batch only: the ready accounts' covers and legs.
import { PoolDelta } from "../lending/index.ts";
import type { SnapshotReader, SnapshotWriter } from "../model/index.ts";
import { DemandOfferRelay, demandIndexOf, type RelayKind } from "./adl-demand-relay.ts";

/** (account, market) demands one shard may post a batch; more wait a batch. */
export const ADL_DEMANDS_PER_SHARD_MAX = 8;
/** Candidates one shard publishes per market and side a batch (a demand deeper than that is served over rounds). */
export const ADL_OFFERS_PER_SIDE_MAX = 8;

/** One bankrupt position that needs ADL: replicated. */
export class AdlDemand {
  constructor(
    public account = 0,
    public market = 0,
    /** The bankrupt account's position when it was posted (signed base units). */
    public quantity = 0n,
    /** The account's deficit then, USDC units rounded up (the same on each of its positions' demands). */
    public deficit = 0n,
  ) {}
}

/** One opposing holder a shard published: replicated. */
export class AdlOffer {
  constructor(
    public account = 0,
    public market = 0,
    public quantity = 0n,
    public costBasis = 0n,
    public netEquityUsd = 0n,
  ) {}
}

/** Q4 in the relay: a demand's detail is its deficit; offers by market (key) and candidate side (group). */
const ADL_KIND: RelayKind<AdlDemand, AdlOffer> = {
  hashName: "adl",
  what: "ADL",
  demandsPerShardMax: ADL_DEMANDS_PER_SHARD_MAX,
  groupsPerKey: 2,
  offersPerGroupMax: ADL_OFFERS_PER_SIDE_MAX,
  confirmed: false,
  demandOf: (account, market, quantity, deficit) => new AdlDemand(account, market, quantity, deficit),
  confirm() {
    throw new Error("Q4 ADL demands are not confirmed");
  },
  offerOf: (account, market, quantity, costBasis, netEquityUsd) => new AdlOffer(account, market, quantity, costBasis, netEquityUsd),
  compareDemands: (a, b) => (a.account !== b.account ? a.account - b.account : a.market - b.market),
  demandText: (x) => `${x.account}:${x.market}:${x.quantity}:${x.deficit}`,
  offerText: (x) => `${x.account}:${x.market}:${x.quantity}:${x.costBasis}:${x.netEquityUsd}`,
  writeDemand: writeAdlDemand,
  readDemand: readAdlDemand,
  writeOffer(w, x) {
    w.uint(x.account);
    w.uint(x.market);
    w.big(x.quantity);
    w.big(x.costBasis);
    w.big(x.netEquityUsd);
  },
  readOffer(r, marketCount) {
    const account = r.uint();
    const market = r.uint();
    if (market >= marketCount) r.fail(`ADL offer of market ${market}`);
    return new AdlOffer(account, market, r.big(), r.big(), r.big());
  },
};

function writeAdlDemand(w: SnapshotWriter, x: AdlDemand): void {
  w.uint(x.account);
  w.uint(x.market);
  w.big(x.quantity);
  w.big(x.deficit);
}

function readAdlDemand(r: SnapshotReader, marketCount: number): AdlDemand {
  const account = r.uint();
  const market = r.uint();
  if (market >= marketCount) r.fail(`ADL demand of market ${market}`);
  const d = new AdlDemand(account, market, r.big(), r.big());
  if (d.quantity === 0n) r.fail(`ADL demand of account ${d.account} without a position`);
  return d;
}

export class AdlRelay extends DemandOfferRelay<AdlDemand, AdlOffer> {
  /** Phase 0: what the ready demands' covers reserve of the fund (USDC units), for the other budgets of the batch. */
  coverReserved = 0n;
  /** Phase 0 (within the batch): per own ready account, the cover the allocation reserved for it (USDC units). */
  readonly covers = new Map<number, bigint>();
  /** Phase 0 (within the batch): the own ready accounts' legs — account, market, counterparty, base quantity (signed
   * as the giver's position when it was posted). */
  readonly legAccount: number[] = [];
  readonly legMarket: number[] = [];
  readonly legCounterparty: number[] = [];
  readonly legQuantity: bigint[] = [];

  /**
   * Replicated (P5S): Σ over the shards of the funding each shard's slice of the fund held for receivers its cursors
   * had not reached (funding.ts fundingOwedByFund) when the ready demands' offers were published (phase 3b of the last
   * batch). Not the fund's to spend: planReady leaves it out of the capital every shard allocates alike.
   */
  fundingHeld = 0n;
  /** The slot after the relay's where each shard publishes its part of fundingHeld (-1 with one shard: no slots). */
  private readonly fundingSlot: number;

  constructor(shardIndex: number, shardCount: number, marketCount: number) {
    super(ADL_KIND, shardIndex, shardCount, marketCount);
    this.fundingSlot = -1;
    if (shardCount > 1) {
      this.deltas.push(new PoolDelta());
      this.remote.push(new PoolDelta());
      this.fundingSlot = this.deltas.length - 1;
    }
  }

  /** Phase 3b, with the offers (adl-across-shards.ts publishOffers): this shard's funding held for receivers (≥ 0). */
  publishFundingHeld(units: bigint): void {
    if (units === 0n || this.fundingSlot < 0) return;
    this.deltas[this.fundingSlot]!.cash = units;
    this.touched = true;
  }

  /** Phase 4 after the merge: fundingHeld ← Σ of the shards' parts published with the offers, then the relay's roll. */
  override roll(): void {
    const i = this.fundingSlot;
    const held = i < 0 ? 0n : this.deltas[i]!.cash + this.remote[i]!.cash;
    super.roll();
    this.fundingHeld = held;
  }

  override hashText(): string {
    const text = super.hashText();
    return this.fundingHeld === 0n ? text : `${text}adl funding held ${this.fundingHeld}\n`;
  }

  /** The relay's records, then fundingHeld (snapshot format 17). */
  override writeSnapshot(w: SnapshotWriter): void {
    super.writeSnapshot(w);
    w.big(this.fundingHeld);
  }

  override restoreSnapshot(r: SnapshotReader): void {
    super.restoreSnapshot(r);
    this.fundingHeld = r.big();
    if (this.fundingHeld < 0n) r.fail(`ADL funding held ${this.fundingHeld}`);
  }

  /** Phase 0: a demand into this shard's next free slot; false when the batch's slots are used. */
  post(account: number, market: number, quantity: bigint, deficit: bigint): boolean {
    return this.postDemand(account, market, quantity, deficit);
  }

  /** Phase 3b: offer j of this shard for market m, candidate side (0 long, 1 short). */
  offer(m: number, side: number, j: number, account: number, quantity: bigint, costBasis: bigint, netEquityUsd: bigint): void {
    this.postOffer(m, side, j, account, quantity, costBasis, netEquityUsd);
  }

  /** Is the account's ADL waiting (posted, not decided yet)? */
  waiting(account: number): boolean {
    return demandIndexOf(this.pending, account) >= 0;
  }

  protected override endBatch(): void {
    super.endBatch();
    this.coverReserved = 0n;
    this.covers.clear();
    this.legAccount.length = this.legMarket.length = this.legCounterparty.length = this.legQuantity.length = 0;
  }
}
