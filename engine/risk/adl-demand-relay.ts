// The demand/offer relay of one risk shard: the mechanics Q4's perpetual ADL (adl-relay.ts) and Q5's lender ADL
// (adl-lender-relay.ts) across shards share; their rules are adl-across-shards.ts and adl-lenders-across-shards.ts,
// their decisions engine.ts "Q4 ADL across shards (as built)" and "Q5 lender ADL across shards (as built)". A demand
// is decided in three batches, every input crossing shards with the phase-4 deltas: B, phase 0, its shard posts it
// (account, key, quantity, detail; at most demandsPerShardMax a batch); B+1, phase 3b, its shard confirms it (a kind
// with `confirmed`) and every shard publishes its own top-ranked counterparties per demanded key and group (at most
// offersPerGroupMax); B+2, phase 0, every shard runs the same allocation over the same ready demands and offers.
// The slots are PoolDelta records summed by the merge, each written by its own shard only: K × demands, (with
// `confirmed`) K × confirmations by index in `pending`, then K × keys × groups × offers. A slot is set while its
// `cash` ≠ 0 (account + 1, or a confirmation's value); a demand's key, quantity and detail ride in borrowShares,
// lendShares and entryFeesPending, an offer's three values in lendShares, borrowShares and entryFeesPending.
// Replicated at every boundary (snapshot section and state hash line): `pending` (posted in the last batch), `ready`
// (decided in this batch's phase 0: the last batch's pending, or those of them it confirmed) and `offers` (published
// in the last batch for `ready`). Within a batch only: the slots and the merged sums.
import { PoolDelta } from "../lending/index.ts";
import type { SnapshotReader, SnapshotWriter } from "../model/index.ts";

/** What a relay's demands and offers share: the account they name. */
export interface RelayRecord {
  account: number;
}

/** What differs between two relays: the limits, the slots' meaning, the records' fields and their text and bytes. */
export interface RelayKind<D extends RelayRecord, O extends RelayRecord> {
  /** The state hash line's first words ("adl", "lender adl"). */
  readonly hashName: string;
  /** What a snapshot error calls the demands ("ADL", "lender ADL"). */
  readonly what: string;
  /** Demands one shard may post a batch. */
  readonly demandsPerShardMax: number;
  /** Offer groups per key (Q4: 2 candidate sides of a market; Q5: 1 per asset). */
  readonly groupsPerKey: number;
  /** Offers one shard publishes per key and group a batch. */
  readonly offersPerGroupMax: number;
  /** Does a pending demand need its shard's confirmation (a value > 0) to become ready? */
  readonly confirmed: boolean;
  /** A demand from its merged slot. */
  demandOf(account: number, key: number, quantity: bigint, detail: bigint): D;
  /** Records a confirmation's value into the pending demand it confirms. */
  confirm(d: D, value: bigint): void;
  /** An offer from its merged slot. */
  offerOf(account: number, key: number, first: bigint, second: bigint, third: bigint): O;
  /** The replicated order of the demands (account, then key). */
  compareDemands(a: D, b: D): number;
  demandText(d: D): string;
  offerText(o: O): string;
  writeDemand(w: SnapshotWriter, d: D): void;
  /** Reads and checks one demand (`confirmed`: of the ready list); `keyCount` bounds its key. */
  readDemand(r: SnapshotReader, keyCount: number, confirmed: boolean): D;
  writeOffer(w: SnapshotWriter, o: O): void;
  readOffer(r: SnapshotReader, keyCount: number): O;
}

export class DemandOfferRelay<D extends RelayRecord, O extends RelayRecord> {
  /** Replicated: demands posted in the last batch (confirmed and offered for this batch). */
  pending: D[] = [];
  /** Replicated: demands decided in this batch's phase 0 (in the kind's order). */
  ready: D[] = [];
  /** Replicated: the offers published in the last batch for `ready`. */
  offers: O[] = [];
  /** This shard's own slots of the batch (the layout above; a shard writes only its own). */
  readonly deltas: PoolDelta[];
  /** Σ of the other shards' slots of the batch. */
  readonly remote: PoolDelta[];
  /** Own demand slots used this batch. */
  posted = 0;
  /** A slot of the batch is set (own or merged): roll must read them. */
  protected touched = false;
  private readonly scratch = new PoolDelta();
  /** Where the confirmation slots start (= where they would, without confirmation: the offers). */
  private readonly confirmFirst: number;
  private readonly offerFirst: number;

  constructor(
    readonly kind: RelayKind<D, O>,
    readonly shardIndex: number,
    readonly shardCount: number,
    /** Markets (Q4) or assets (Q5). */
    readonly keyCount: number,
  ) {
    this.confirmFirst = shardCount * kind.demandsPerShardMax;
    this.offerFirst = this.confirmFirst * (kind.confirmed ? 2 : 1);
    const offerSlots = shardCount * keyCount * kind.groupsPerKey * kind.offersPerGroupMax;
    const n = shardCount > 1 ? this.offerFirst + offerSlots : 0;
    this.deltas = [];
    this.remote = [];
    for (let i = 0; i < n; i++) {
      this.deltas.push(new PoolDelta());
      this.remote.push(new PoolDelta());
    }
  }

  private demandIndex(shard: number, j: number): number {
    return shard * this.kind.demandsPerShardMax + j;
  }

  private offerIndex(shard: number, key: number, group: number, j: number): number {
    const k = this.kind;
    return this.offerFirst + ((shard * this.keyCount + key) * k.groupsPerKey + group) * k.offersPerGroupMax + j;
  }

  /** Demand slots left this batch. */
  get postsLeft(): number {
    return this.kind.demandsPerShardMax - this.posted;
  }

  /** Phase 0: a demand into this shard's next free slot; false when the batch's slots are used. */
  protected postDemand(account: number, key: number, quantity: bigint, detail: bigint): boolean {
    if (this.posted >= this.kind.demandsPerShardMax) return false;
    this.touched = true;
    const d = this.deltas[this.demandIndex(this.shardIndex, this.posted++)]!;
    d.cash = BigInt(account) + 1n;
    d.borrowShares = BigInt(key);
    d.lendShares = quantity;
    d.entryFeesPending = detail;
    return true;
  }

  /** Phase 3b: this shard confirms pending[i] (its own account's) with `value` (> 0). */
  protected confirmDemand(i: number, value: bigint): void {
    this.touched = true;
    this.deltas[this.confirmFirst + i]!.cash = value;
  }

  /** Phase 3b: offer j of this shard for (key, group). */
  protected postOffer(key: number, group: number, j: number, account: number, first: bigint, second: bigint, third: bigint): void {
    this.touched = true;
    const d = this.deltas[this.offerIndex(this.shardIndex, key, group, j)]!;
    d.cash = BigInt(account) + 1n;
    d.lendShares = first;
    d.borrowShares = second;
    d.entryFeesPending = third;
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

  /** Phase 4 after the merge: ready ← the (confirmed) pending demands, offers ← the merged offers, pending ← the
   * merged demands; slots cleared. */
  roll(): void {
    if (!this.touched) {
      // No slot set this batch (every batch without a demand): nothing confirmed, offered or posted.
      if (this.pending.length !== 0 || this.ready.length !== 0 || this.offers.length !== 0) {
        this.ready = this.kind.confirmed ? [] : this.pending;
        this.pending = [];
        this.offers = [];
      }
      this.endBatch();
      return;
    }
    const ready = this.kind.confirmed ? this.mergedConfirmed() : this.pending;
    const offers = this.kind.confirmed && ready.length === 0 ? [] : this.mergedOffers();
    this.pending = this.mergedDemands();
    this.ready = ready;
    this.offers = offers;
    for (const d of this.deltas) d.clear();
    for (const d of this.remote) d.clear();
    this.endBatch();
  }

  /** The pending demands whose confirmation slot is set, each with its value. */
  private mergedConfirmed(): D[] {
    const merged = this.scratch;
    const ready: D[] = [];
    for (let i = 0; i < this.pending.length; i++) {
      if (!this.merged(this.confirmFirst + i, merged)) continue;
      const d = this.pending[i]!;
      this.kind.confirm(d, merged.cash);
      ready.push(d);
    }
    return ready;
  }

  /** The merged offers, by shard, key, group and rank. */
  private mergedOffers(): O[] {
    const k = this.kind;
    const merged = this.scratch;
    const offers: O[] = [];
    for (let shard = 0; shard < this.shardCount; shard++) {
      for (let key = 0; key < this.keyCount; key++) {
        for (let group = 0; group < k.groupsPerKey; group++) {
          for (let j = 0; j < k.offersPerGroupMax; j++) {
            if (!this.merged(this.offerIndex(shard, key, group, j), merged)) break;
            offers.push(k.offerOf(Number(merged.cash - 1n), key, merged.lendShares, merged.borrowShares, merged.entryFeesPending));
          }
        }
      }
    }
    return offers;
  }

  /** The merged demands, in the kind's order. */
  private mergedDemands(): D[] {
    const k = this.kind;
    const merged = this.scratch;
    const demands: D[] = [];
    for (let shard = 0; shard < this.shardCount; shard++) {
      for (let j = 0; j < k.demandsPerShardMax; j++) {
        if (!this.merged(this.demandIndex(shard, j), merged)) break;
        demands.push(k.demandOf(Number(merged.cash - 1n), Number(merged.borrowShares), merged.lendShares, merged.entryFeesPending));
      }
    }
    demands.sort(k.compareDemands);
    return demands;
  }

  /** The batch's own bookkeeping, cleared at its end (the slots are clear); a kind's relay clears its own too. */
  protected endBatch(): void {
    this.touched = false;
    this.posted = 0;
  }

  private merged(i: number, out: PoolDelta): boolean {
    out.clear();
    out.add(this.deltas[i]!);
    out.add(this.remote[i]!);
    return out.cash !== 0n;
  }

  /** The state hash's line: empty while idle (so every hash without a demand is as before). */
  hashText(): string {
    if (this.pending.length === 0 && this.ready.length === 0 && this.offers.length === 0) return "";
    const k = this.kind;
    return `${k.hashName} pending ${this.pending.map(k.demandText).join(",")} ready ${this.ready.map(k.demandText).join(",")} offers ${this.offers.map(k.offerText).join(",")}\n`;
  }

  /** At a boundary (slots empty): pending, ready, offers, each its count then its records. */
  writeSnapshot(w: SnapshotWriter): void {
    this.writeDemands(w, this.pending);
    this.writeDemands(w, this.ready);
    w.uint(this.offers.length);
    for (const o of this.offers) this.kind.writeOffer(w, o);
  }

  private writeDemands(w: SnapshotWriter, list: readonly D[]): void {
    w.uint(list.length);
    for (const d of list) this.kind.writeDemand(w, d);
  }

  restoreSnapshot(r: SnapshotReader): void {
    this.pending = this.readDemands(r, false);
    this.ready = this.readDemands(r, true);
    const n = r.uint();
    const offers: O[] = [];
    for (let i = 0; i < n; i++) offers.push(this.kind.readOffer(r, this.keyCount));
    this.offers = offers;
  }

  private readDemands(r: SnapshotReader, confirmed: boolean): D[] {
    const n = r.uint();
    if (n > this.shardCount * this.kind.demandsPerShardMax) r.fail(`${n} ${this.kind.what} demands`);
    const out: D[] = [];
    for (let i = 0; i < n; i++) out.push(this.kind.readDemand(r, this.keyCount, confirmed));
    return out;
  }
}

/** The index of the account's first demand in `list`, or -1. */
export function demandIndexOf(list: readonly RelayRecord[], account: number): number {
  for (let i = 0; i < list.length; i++) if (list[i]!.account === account) return i;
  return -1;
}
