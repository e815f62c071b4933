// Q4 ADL across risk shards, the state of one risk shard (state layer: data, deltas, snapshot, hash; the rules are in
// adl-across-shards.ts; the decision is engine.ts "Q4 ADL across shards (as built)"). With K > 1 risk shards a
// bankrupt account's opposing positions may sit on any shard, so its perpetual ADL is decided in three batches, every
// input crossing shards with the phase-4 deltas:
//   - batch B, phase 0: the account's shard posts a demand per position — (account, market, signed quantity, the
//     deficit in USDC units) — into its own demand slots;
//   - batch B+1, phase 3b: every shard publishes, per demanded market and candidate side, its own top-ranked opposing
//     holders (SPEC Q4's profit % × leverage, ties by account id) into its own offer slots — as many as cover the
//     demanded quantity, at most ADL_OFFERS_PER_SIDE_MAX;
//   - batch B+2, phase 0: every shard runs the same allocation over the same replicated demands and offers, and the
//     deciding shard sends the legs of its own accounts.
// Replicated at every boundary (snapshot and state hash): `pending` (the demands posted in the last batch: offers for
// them go out this batch), `ready` (posted the batch before: decided in this batch's phase 0) and `offers` (published
// in the last batch for `ready`). Within a batch only: the deltas and the merged sums.
import { PoolDelta } from "../lending/index.ts";
import type { SnapshotReader, SnapshotWriter } from "../model/index.ts";

/** (account, market) demands one shard may post a batch; more wait a batch. */
export const ADL_DEMANDS_PER_SHARD_MAX = 8;
/** Candidates one shard publishes per market and side a batch (a demand deeper than that is served over rounds). */
export const ADL_OFFERS_PER_SIDE_MAX = 8;

/** One bankrupt position that needs ADL: replicated. */
export class AdlDemand {
  account = 0;
  market = 0;
  /** The bankrupt account's position when it was posted (signed base units). */
  quantity = 0n;
  /** The account's deficit then, USDC units rounded up (the same on each of its positions' demands). */
  deficit = 0n;
}

/** One opposing holder a shard published: replicated. */
export class AdlOffer {
  account = 0;
  market = 0;
  quantity = 0n;
  costBasis = 0n;
  netEquityUsd = 0n;
}

export class AdlRelay {
  /** Replicated: demands posted in the last batch (offers for them are published this batch). */
  pending: AdlDemand[] = [];
  /** Replicated: demands posted two batches ago, decided in this batch's phase 0 (by (account, market)). */
  ready: AdlDemand[] = [];
  /** Replicated: the offers published in the last batch for `ready`. */
  offers: AdlOffer[] = [];
  /** This shard's own slots of the batch: K × demands, then K × markets × 2 sides × offers (a shard writes its own). */
  readonly deltas: PoolDelta[];
  /** Σ of the other shards' slots of the batch. */
  readonly remote: PoolDelta[];
  /** Own demand slots used this batch. */
  posted = 0;
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
  /** A slot of the batch is set (own or merged): roll must read them. */
  private touched = false;
  private readonly scratch = new PoolDelta();

  constructor(
    readonly shardIndex: number,
    readonly shardCount: number,
    readonly marketCount: number,
  ) {
    const n = shardCount > 1 ? shardCount * (ADL_DEMANDS_PER_SHARD_MAX + marketCount * 2 * ADL_OFFERS_PER_SIDE_MAX) : 0;
    this.deltas = [];
    this.remote = [];
    for (let i = 0; i < n; i++) {
      this.deltas.push(new PoolDelta());
      this.remote.push(new PoolDelta());
    }
  }

  private demandIndex(shard: number, j: number): number {
    return shard * ADL_DEMANDS_PER_SHARD_MAX + j;
  }

  private offerIndex(shard: number, m: number, side: number, j: number): number {
    return this.shardCount * ADL_DEMANDS_PER_SHARD_MAX + ((shard * this.marketCount + m) * 2 + side) * ADL_OFFERS_PER_SIDE_MAX + j;
  }

  /** Phase 0: a demand into this shard's next free slot; false when the batch's slots are used. */
  post(account: number, market: number, quantity: bigint, deficit: bigint): boolean {
    if (this.posted >= ADL_DEMANDS_PER_SHARD_MAX) return false;
    this.touched = true;
    const d = this.deltas[this.demandIndex(this.shardIndex, this.posted++)]!;
    d.cash = BigInt(account) + 1n;
    d.borrowShares = BigInt(market);
    d.lendShares = quantity;
    d.entryFeesPending = deficit;
    return true;
  }

  /** Demand slots left this batch. */
  get postsLeft(): number {
    return ADL_DEMANDS_PER_SHARD_MAX - this.posted;
  }

  /** Phase 3b: offer j of this shard for market m, candidate side (0 long, 1 short). */
  offer(m: number, side: number, j: number, account: number, quantity: bigint, costBasis: bigint, netEquityUsd: bigint): void {
    this.touched = true;
    const d = this.deltas[this.offerIndex(this.shardIndex, m, side, j)]!;
    d.cash = BigInt(account) + 1n;
    d.lendShares = quantity;
    d.borrowShares = costBasis;
    d.entryFeesPending = netEquityUsd;
  }

  /** Is the account's ADL waiting (posted, not decided yet) or being decided this batch? */
  waiting(account: number): boolean {
    return findDemand(this.pending, account) >= 0;
  }

  readyIndex(account: number): number {
    return findDemand(this.ready, account);
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

  /** Phase 4 after the merge: ready ← pending with the merged offers, pending ← the merged demands; slots cleared. */
  roll(): void {
    if (!this.touched) {
      // No slot set this batch (every batch without a bankruptcy): no demands, no offers — nothing to read.
      if (this.pending.length !== 0 || this.ready.length !== 0 || this.offers.length !== 0) {
        this.ready = this.pending;
        this.pending = [];
        this.offers = [];
      }
      this.endBatch();
      return;
    }
    const merged = this.scratch;
    const offers: AdlOffer[] = [];
    for (let k = 0; k < this.shardCount; k++) {
      for (let m = 0; m < this.marketCount; m++) {
        for (let side = 0; side < 2; side++) {
          for (let j = 0; j < ADL_OFFERS_PER_SIDE_MAX; j++) {
            if (!this.merged(this.offerIndex(k, m, side, j), merged)) break;
            const o = new AdlOffer();
            o.account = Number(merged.cash - 1n);
            o.market = m;
            o.quantity = merged.lendShares;
            o.costBasis = merged.borrowShares;
            o.netEquityUsd = merged.entryFeesPending;
            offers.push(o);
          }
        }
      }
    }
    const demands: AdlDemand[] = [];
    for (let k = 0; k < this.shardCount; k++) {
      for (let j = 0; j < ADL_DEMANDS_PER_SHARD_MAX; j++) {
        if (!this.merged(this.demandIndex(k, j), merged)) break;
        const d = new AdlDemand();
        d.account = Number(merged.cash - 1n);
        d.market = Number(merged.borrowShares);
        d.quantity = merged.lendShares;
        d.deficit = merged.entryFeesPending;
        demands.push(d);
      }
    }
    demands.sort(compareDemands);
    this.ready = this.pending;
    this.offers = offers;
    this.pending = demands;
    for (const d of this.deltas) d.clear();
    for (const d of this.remote) d.clear();
    this.endBatch();
  }

  /** The batch's own bookkeeping, cleared at its end (the slots are clear). */
  private endBatch(): void {
    this.touched = false;
    this.posted = 0;
    this.coverReserved = 0n;
    this.covers.clear();
    this.legAccount.length = this.legMarket.length = this.legCounterparty.length = this.legQuantity.length = 0;
  }

  private merged(i: number, out: PoolDelta): boolean {
    out.clear();
    out.add(this.deltas[i]!);
    out.add(this.remote[i]!);
    return out.cash !== 0n;
  }

  hashText(): string {
    if (this.pending.length === 0 && this.ready.length === 0 && this.offers.length === 0) return "";
    const d = (x: AdlDemand) => `${x.account}:${x.market}:${x.quantity}:${x.deficit}`;
    const o = (x: AdlOffer) => `${x.account}:${x.market}:${x.quantity}:${x.costBasis}:${x.netEquityUsd}`;
    return `adl pending ${this.pending.map(d).join(",")} ready ${this.ready.map(d).join(",")} offers ${this.offers.map(o).join(",")}\n`;
  }

  /** At a boundary (slots empty). */
  writeSnapshot(w: SnapshotWriter): void {
    for (const list of [this.pending, this.ready]) {
      w.uint(list.length);
      for (const x of list) {
        w.uint(x.account);
        w.uint(x.market);
        w.big(x.quantity);
        w.big(x.deficit);
      }
    }
    w.uint(this.offers.length);
    for (const x of this.offers) {
      w.uint(x.account);
      w.uint(x.market);
      w.big(x.quantity);
      w.big(x.costBasis);
      w.big(x.netEquityUsd);
    }
  }

  restoreSnapshot(r: SnapshotReader): void {
    this.pending = this.readDemands(r);
    this.ready = this.readDemands(r);
    const n = r.uint();
    const offers: AdlOffer[] = [];
    for (let i = 0; i < n; i++) {
      const o = new AdlOffer();
      o.account = r.uint();
      o.market = r.uint();
      if (o.market >= this.marketCount) r.fail(`ADL offer of market ${o.market}`);
      o.quantity = r.big();
      o.costBasis = r.big();
      o.netEquityUsd = r.big();
      offers.push(o);
    }
    this.offers = offers;
  }

  private readDemands(r: SnapshotReader): AdlDemand[] {
    const n = r.uint();
    const out: AdlDemand[] = [];
    for (let i = 0; i < n; i++) {
      const d = new AdlDemand();
      d.account = r.uint();
      d.market = r.uint();
      if (d.market >= this.marketCount) r.fail(`ADL demand of market ${d.market}`);
      d.quantity = r.big();
      d.deficit = r.big();
      if (d.quantity === 0n) r.fail(`ADL demand of account ${d.account} without a position`);
      out.push(d);
    }
    return out;
  }
}

function compareDemands(a: AdlDemand, b: AdlDemand): number {
  return a.account !== b.account ? a.account - b.account : a.market - b.market;
}

function findDemand(list: readonly AdlDemand[], account: number): number {
  for (let i = 0; i < list.length; i++) if (list[i]!.account === account) return i;
  return -1;
}
