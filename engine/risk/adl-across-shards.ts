// Q4 ADL across risk shards, the rules (engine.ts "Q4 ADL across shards (as built)"; the state is adl-relay.ts). With
// K > 1 a bankrupt account's ADL takes three batches — demand (B), offers (B+1), decision (B+2):
//   - phase 0 of B (liquidation-transfers.ts declareBankrupt): a bankrupt account whose deficit this shard's cover
//     budget cannot pay posts one demand per position (postDemands), pays nothing yet and waits (no book step) until
//     its demand is decided;
//   - phase 3b of B+1 (publishOffers): for each market and candidate side some pending demand needs, every shard
//     publishes its own top ADL_OFFERS_PER_SIDE_MAX opposing holders, ranked as one shard ranks them
//     (rankAdlCandidates at the batch's mark, each with its net equity then; not liquidating, not a demander). The
//     allocation of B+2 touches a shard's holders in this order (an untouched holder outranks every later one), so it
//     is one shard's whenever it touches at most that many holders of any one shard;
//   - phase 0 of B+2, first thing (planReady): every shard runs the same allocation over the same replicated demands
//     and offers, in (account, market) order: the fund's cover of each account (min(deficit, what the fund has left),
//     from the fund's capital at the boundary less the funding the shards' slices held for receivers when the offers
//     were published, AdlRelay.fundingHeld), then, where the cover falls short, each position against the offers
//     ranked again with what earlier demands left of them (cost basis in proportion) — one shard's collectCandidates
//     and allocateAdl exactly. Each shard keeps the legs of its own accounts (decided in declareBankrupt at the
//     account's turn, at the bankruptcy price from its equity then) and reserves its own counterparties for the batch
//     (adlUsed: no book step, takeover or bankruptcy of them), so no quantity is allocated twice; the rest of the
//     batch's covers share what the ready covers left, floor(rest / K) a shard.
// The legs go through the market's matching shard as LiquidationTransfer commands to both accounts' shards (as every
// position leg). Nothing here moves a unit: the covers and legs are liquidation-transfers.ts's, so X1 is theirs.
import { AdlCandidate, allocateAdl, rankAdlCandidates } from "../liquidation/index.ts";
import type { Account } from "./accounts.ts";
import { ADL_OFFERS_PER_SIDE_MAX, type AdlDemand } from "./adl-relay.ts";
import { usdcOf } from "./backstop-transit.ts";
import { fundingOwedByFund } from "./funding.ts";
import type { RiskState } from "./state.ts";

class AdlScratch {
  readonly candidates: AdlCandidate[] = [];
  order = new Int32Array(64);
  readonly closes: bigint[] = [];
  readonly taken = new Map<number, bigint>();
  readonly demanders = new Set<number>();
  readonly sideTotal: bigint[] = [];
}
const scratch = new AdlScratch();

/** Is ADL decided across shards here (K > 1)? */
export function adlAcrossShards(s: RiskState): boolean {
  return s.shardCount > 1;
}

/** Phase 0 of B: one demand per position of the bankrupt account; false (nothing posted) when the slots are used. */
export function postDemands(s: RiskState, account: Account, deficit: bigint): boolean {
  const perps = account.perps;
  if (perps === null) return false;
  let n = 0;
  for (let m = 0; m < perps.positions.length; m++) if (perps.positions[m]!.netQuantity !== 0n) n++;
  if (n === 0 || n > s.adl.postsLeft) return false;
  for (let m = 0; m < perps.positions.length; m++) {
    const q = perps.positions[m]!.netQuantity;
    if (q !== 0n) s.adl.post(account.id, m, q, deficit);
  }
  return true;
}

/** Q4: the key of a counterparty's position in market m. */
function takenKey(account: number, m: number): number {
  return account * 65_536 + m;
}

/**
 * Phase 0 of B+2, before anything else of the batch spends the fund (see the module comment): the ready demands'
 * covers and legs, the same on every shard; this shard keeps its own and reserves its own counterparties.
 */
export function planReady(s: RiskState): void {
  const adl = s.adl;
  const ready = adl.ready;
  if (ready.length === 0) return;
  // The fund's capital less the funding it holds for receivers not yet paid (P5S), as every shard knows it alike.
  const fund = s.insurance.capital(usdcOf(s)) - adl.fundingHeld;
  let fundLeft = fund > 0n ? fund : 0n;
  scratch.taken.clear();
  scratch.demanders.clear();
  for (const d of ready) scratch.demanders.add(d.account);
  for (const d of adl.pending) scratch.demanders.add(d.account);
  let i = 0;
  while (i < ready.length) {
    const first = ready[i]!;
    const cover = first.deficit < fundLeft ? first.deficit : fundLeft;
    fundLeft -= cover;
    const own = s.owns(first.account);
    if (own) adl.covers.set(first.account, cover);
    for (; i < ready.length && ready[i]!.account === first.account; i++) {
      if (cover < first.deficit) allocate(s, ready[i]!, own);
    }
  }
  adl.coverReserved = (fund > 0n ? fund : 0n) - fundLeft;
  s.liquidation.coverBudget = fundLeft / BigInt(s.shardCount);
}

/** One ready demand against the offers of its market (every shard alike); own legs and counterparties recorded. */
function allocate(s: RiskState, d: AdlDemand, own: boolean): void {
  const n = collectOffers(s, d);
  if (n === 0) return;
  if (scratch.order.length < n) scratch.order = new Int32Array(n * 2);
  const ranked = rankAdlCandidates(scratch.candidates, n, d.quantity, s.marginContext.marketMark[d.market]!, scratch.order);
  allocateAdl(scratch.candidates, scratch.order, ranked, d.quantity, scratch.closes);
  const adl = s.adl;
  for (let k = 0; k < ranked; k++) {
    const take = scratch.closes[k]!;
    if (take === 0n) continue;
    const other = scratch.candidates[scratch.order[k]!]!.account;
    const key = takenKey(other, d.market);
    scratch.taken.set(key, (scratch.taken.get(key) ?? 0n) + take);
    if (s.owns(other)) s.liquidation.adlUsed.add(other);
    if (!own) continue;
    adl.legAccount.push(d.account);
    adl.legMarket.push(d.market);
    adl.legCounterparty.push(other);
    adl.legQuantity.push(d.quantity > 0n ? take : -take); // signed as the giver's position
  }
}

/** The offers of the demand's market, each with what earlier demands of the batch left of it; returns their count. */
function collectOffers(s: RiskState, d: AdlDemand): number {
  let n = 0;
  for (const o of s.adl.offers) {
    if (o.market !== d.market || scratch.demanders.has(o.account)) continue;
    const size = o.quantity < 0n ? -o.quantity : o.quantity;
    const taken = scratch.taken.get(takenKey(o.account, o.market)) ?? 0n;
    if (size <= taken) continue;
    if (scratch.candidates.length === n) scratch.candidates.push(new AdlCandidate());
    const c = scratch.candidates[n++]!;
    c.account = o.account;
    c.quantity = taken === 0n ? o.quantity : o.quantity < 0n ? -(size - taken) : size - taken;
    c.costBasis = taken === 0n ? o.costBasis : (o.costBasis * (size - taken)) / size;
    c.netEquityUsd = o.netEquityUsd;
  }
  return n;
}

/**
 * Phase 3b of B+1: for each market and candidate side the pending demands need (side 0: longs, for bankrupt shorts;
 * 1: shorts), this shard's own top-ranked opposing holders.
 */
export function publishOffers(s: RiskState): void {
  const adl = s.adl;
  if (adl.pending.length === 0) return;
  const totals = scratch.sideTotal;
  const markets = s.config.markets.length;
  totals.length = markets * 2;
  totals.fill(0n);
  for (const d of adl.pending) {
    const side = d.quantity < 0n ? 0 : 1;
    totals[d.market * 2 + side] = totals[d.market * 2 + side]! + (d.quantity < 0n ? -d.quantity : d.quantity);
  }
  scratch.demanders.clear();
  for (const d of adl.pending) scratch.demanders.add(d.account);
  for (const d of adl.ready) scratch.demanders.add(d.account);
  adl.publishFundingHeld(fundingOwedByFund(s, usdcOf(s))); // P5S: what planReady leaves out of the fund's capital
  for (let m = 0; m < markets; m++) {
    for (let side = 0; side < 2; side++) if (totals[m * 2 + side]! > 0n) publishSide(s, m, side);
  }
}

function publishSide(s: RiskState, m: number, side: number): void {
  const book = s.liquidation;
  let n = 0;
  for (const id of s.perpHolders[m]!) {
    if (book.isLiquidating(id) || scratch.demanders.has(id)) continue;
    const holder = s.syncedAccount(id);
    if (holder === undefined) continue;
    const pos = holder.perps!.positions[m]!;
    if (side === 0 ? pos.netQuantity <= 0n : pos.netQuantity >= 0n) continue;
    if (scratch.candidates.length === n) scratch.candidates.push(new AdlCandidate());
    const c = scratch.candidates[n++]!;
    c.account = id;
    c.quantity = pos.netQuantity;
    c.costBasis = pos.costBasis;
    c.netEquityUsd = holder.syncedMargin().netEquityUsd();
  }
  if (n === 0) return;
  if (scratch.order.length < n) scratch.order = new Int32Array(n * 2);
  const ranked = rankAdlCandidates(scratch.candidates, n, side === 0 ? -1n : 1n, s.marginContext.marketMark[m]!, scratch.order);
  for (let k = 0; k < ranked && k < ADL_OFFERS_PER_SIDE_MAX; k++) {
    const c = scratch.candidates[scratch.order[k]!]!;
    s.adl.offer(m, side, k, c.account, c.quantity, c.costBasis, c.netEquityUsd);
  }
}
