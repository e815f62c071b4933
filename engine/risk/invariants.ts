// The shard's invariants (X1, X2, C4, L5, L15) as a check tests call after every step, its per-asset totals, and the
// deterministic digest of everything it owns (replay equality, X4). Off the hot path.
import { createHash } from "../collections/index.ts";
import { RATIO_SCALE } from "../model/index.ts";
import type { Account } from "./accounts.ts";
import type { OrderHold } from "./holds.ts";
import { lentAmount as lentAmountOf, owedAmount as owedAmountOf } from "../lending/index.ts";
import type { RiskState } from "./state.ts";

/** Per account, what its holds add up to (locked, open-order borrows and credited proceeds, counts). */
interface HoldSums {
  locked: bigint[];
  borrow: bigint[];
  inflow: bigint[];
  repay: bigint[];
  /** The sell holds' part of locked, borrow, inflow, repay (C4/C8 corners: Account.sellTerms). */
  sellLocked: bigint[];
  sellBorrow: bigint[];
  sellInflow: bigint[];
  sellRepay: bigint[];
  orders: number;
  borrowing: number;
}

export function accountIds(s: RiskState): number[] {
  return [...s.accounts.keys()].sort((a, b) => a - b);
}

/** X1: Σ over this shard's accounts (fee account and insurance slice included) of available + locked + lent − borrowed, per asset. */
export function totals(s: RiskState): bigint[] {
  const sums = new Array<bigint>(s.assetCount).fill(0n);
  for (const a of s.accounts.values()) {
    s.pools.sync(a);
    for (let i = 0; i < s.assetCount; i++) sums[i] = sums[i]! + a.netBalance(i);
  }
  for (let i = 0; i < s.assetCount; i++) sums[i] = sums[i]! + s.feeAccount.available[i]! + s.insuranceAccount.available[i]!;
  const quote = s.config.assets.findIndex((a) => a.symbol === "USDC");
  sums[quote >= 0 ? quote : (s.config.markets[0]?.quoteAsset ?? 0)]! += s.lenders.transitQuote; // Q4: payouts in transit
  for (let i = 0; i < s.assetCount; i++) sums[i] = sums[i]! + s.relay.transit[i]!; // Q3 across shards (0 at a boundary)
  return sums;
}

/**
 * Throws on any broken invariant (tests call it after every step): X2 no negative available, locked, lent or
 * borrowed; each account's locked = Σ its holds and openOrders = their count; the margin state holds exactly the
 * net balances, its sums equal a recomputation, and its leverage is the setting's.
 */
export function validateInternalState(s: RiskState): void {
  const n = s.assetCount;
  const holds = s.holds.sorted();
  const sums = sumHolds(holds, n);
  validateClientIdIndex(s, holds);
  if (s.shardCount === 1) {
    const reservedByHolds = new Array<bigint>(n).fill(0n);
    for (const h of holds) reservedByHolds[h.asset] = reservedByHolds[h.asset]! + h.reserved;
    for (let i = 0; i < n; i++) {
      if (reservedByHolds[i] !== s.pools.reserved[i]) throw new Error(`risk invariant: pool ${i} reserved ${s.pools.reserved[i]}, holds ${reservedByHolds[i]}`);
    }
  }
  for (const a of s.accounts.values()) {
    s.pools.sync(a);
    const held = sums.get(a.id);
    for (let i = 0; i < n; i++) validateAssetSlots(s, a, i, held);
    if (a.borrowed.filter((b) => b > 0n).length !== a.borrowedAssets) throw new Error(`risk invariant: account ${a.id} borrowedAssets ${a.borrowedAssets}`);
    if ((held?.borrowing ?? 0) !== a.openBorrowOrders) throw new Error(`risk invariant: account ${a.id} openBorrowOrders ${a.openBorrowOrders}`);
    if ((held?.orders ?? 0) !== a.openOrders) throw new Error(`risk invariant: account ${a.id} openOrders ${a.openOrders}, holds ${held?.orders ?? 0}`);
    if (a.syncedMargin().leverageLimit !== BigInt(a.leverageLimit) * RATIO_SCALE) throw new Error(`risk invariant: account ${a.id} leverage`);
    validatePerps(s, a, holds);
    a.syncedMargin().validateInternalState();
  }
  for (let i = 0; i < n; i++) if (s.feeAccount.available[i]! < 0n) throw new Error(`risk invariant: fee account asset ${i} negative`);
  validatePerpHolders(s);
  if (s.shardCount === 1 && ownOpenInterest(s).join() !== s.openInterest.join()) {
    throw new Error(`risk invariant (P1): open interest ${s.openInterest.join()}, positions ${ownOpenInterest(s).join()}`);
  }
  // Q6/D4: with one shard the fund's replica is its one slice (a slice written past creditInsurance breaks this).
  if (s.shardCount === 1 && s.insurance.balances.join() !== s.insuranceAccount.available.join()) {
    throw new Error(`risk invariant (D4): insurance fund replica ${s.insurance.balances.join()}, slice ${s.insuranceAccount.available.join()} (write the slice through creditInsurance)`);
  }
}

/** P1/C4: the account's open perpetual quantities are the sums over its perpetual holds, and its margin state holds
 * exactly its positions; unsettled USDC is never negative. */
function validatePerps(s: RiskState, a: Account, holds: readonly OrderHold[]): void {
  if (a.unsettledUsdc < 0n) throw new Error(`risk invariant: account ${a.id} unsettled USDC ${a.unsettledUsdc}`);
  const perps = a.perps;
  if (perps === null) return;
  const m = s.config.markets.length;
  const buy = new Array<bigint>(m).fill(0n);
  const sell = new Array<bigint>(m).fill(0n);
  for (const h of holds) {
    if (h.account !== a.id || !h.perp) continue;
    if (h.perpOpen < 0n || h.remaining !== 0n) throw new Error(`risk invariant: perpetual order ${h.orderId} open ${h.perpOpen}, holds ${h.remaining}`);
    if (h.side === 0) buy[h.market] = buy[h.market]! + h.perpOpen;
    else sell[h.market] = sell[h.market]! + h.perpOpen;
  }
  const margin = a.syncedMargin();
  for (let i = 0; i < m; i++) {
    if (perps.openBuy[i] !== buy[i] || perps.openSell[i] !== sell[i]) {
      throw new Error(`risk invariant (C4): account ${a.id} market ${i} open ${perps.openBuy[i]}/${perps.openSell[i]}, holds ${buy[i]}/${sell[i]}`);
    }
    if (s.marginContext.marketIsPerpetual[i] && margin.positionQuantity(i) !== perps.positions[i]!.netQuantity) {
      throw new Error(`risk invariant (P1): account ${a.id} market ${i} margin position ${margin.positionQuantity(i)}, position ${perps.positions[i]!.netQuantity}`);
    }
  }
}

/** P1: Σ over this shard's accounts of the long part of each position, per market (its part of the open interest). */
export function ownOpenInterest(s: RiskState): bigint[] {
  const sums = s.config.markets.map(() => 0n);
  for (const a of s.accounts.values()) {
    if (a.perps === null) continue;
    for (let m = 0; m < sums.length; m++) {
      const q = a.perps.positions[m]!.netQuantity;
      if (q > 0n) sums[m] = sums[m]! + q;
    }
  }
  return sums;
}

/**
 * At a batch boundary every held order with a clientId is the one its key points to and shadows none (funds.ts
 * indexClientId: chains live within a batch only), and every key points to a held order with that key.
 */
function validateClientIdIndex(s: RiskState, holds: readonly OrderHold[]): void {
  let keyed = 0;
  for (const h of holds) {
    if (h.shadowed !== 0) throw new Error(`risk invariant: order ${h.orderId} still shadows order ${h.shadowed} at a batch boundary`);
    if (h.clientId === 0n) continue;
    keyed++;
    const indexed = s.byClientId.get(h.account, h.market, h.clientId);
    if (indexed !== h.orderId) throw new Error(`risk invariant: clientId ${h.clientId} of order ${h.orderId} (account ${h.account}) indexes order ${indexed}`);
  }
  if (keyed !== s.byClientId.size) throw new Error(`risk invariant: ${s.byClientId.size} clientId index entries, ${keyed} held orders with a clientId`);
}

/** C4: each account's locked units, open-order borrows and credited proceeds are the sums over its holds. */
function sumHolds(holds: readonly OrderHold[], n: number): Map<number, HoldSums> {
  const byAccount = new Map<number, HoldSums>();
  const zeros = (): bigint[] => new Array<bigint>(n).fill(0n);
  for (const h of holds) {
    if (h.remaining < 0n) throw new Error(`risk invariant: order ${h.orderId} holds ${h.remaining}`);
    if (h.borrowMax < 0n || h.inflowCredit < 0n) throw new Error(`risk invariant: order ${h.orderId} borrowMax ${h.borrowMax}, credit ${h.inflowCredit}`);
    let o = byAccount.get(h.account);
    if (o === undefined) {
      o = { locked: zeros(), borrow: zeros(), inflow: zeros(), repay: zeros(), sellLocked: zeros(), sellBorrow: zeros(), sellInflow: zeros(), sellRepay: zeros(), orders: 0, borrowing: 0 };
      byAccount.set(h.account, o);
    }
    o.locked[h.asset] = o.locked[h.asset]! + h.remaining;
    o.orders++;
    o.borrow[h.asset] = o.borrow[h.asset]! + h.borrowMax;
    const credits = h.inflowRepays ? o.repay : o.inflow;
    credits[h.inflowAsset] = credits[h.inflowAsset]! + h.inflowCredit;
    if (!h.perp && h.side === 1) {
      o.sellLocked[h.asset] = o.sellLocked[h.asset]! + h.remaining;
      o.sellBorrow[h.asset] = o.sellBorrow[h.asset]! + h.borrowMax;
      const sellCredits = h.inflowRepays ? o.sellRepay : o.sellInflow;
      sellCredits[h.inflowAsset] = sellCredits[h.inflowAsset]! + h.inflowCredit;
    }
    if (h.borrowMax > 0n) o.borrowing++;
  }
  return byAccount;
}

/** One asset of one account: L15, pool slots valued from shares (L5), X2, C4 against its holds, the margin state. */
function validateAssetSlots(s: RiskState, a: Account, i: number, held: HoldSums | undefined): void {
  const pos = a.positions[i]!;
  const pool = s.pools.pools[i]!;
  if (pos.lendShares > 0n && pos.borrowShares > 0n) throw new Error(`risk invariant (L15): account ${a.id} asset ${i} lends and borrows`);
  if (pos.lendShares > 0n || pos.borrowShares > 0n) {
    if (a.lent[i] !== lentAmountOf(pos.lendShares, pool.lendIndex) || a.borrowed[i] !== owedAmountOf(pos.borrowShares, pool.borrowIndex)) {
      throw new Error(`risk invariant: account ${a.id} asset ${i} pool slots do not value its shares`);
    }
  }
  if (a.available[i]! < 0n || a.locked[i]! < 0n || a.lent[i]! < 0n || a.borrowed[i]! < 0n) {
    throw new Error(`risk invariant (X2): account ${a.id} asset ${i}: available ${a.available[i]}, locked ${a.locked[i]}, lent ${a.lent[i]}, borrowed ${a.borrowed[i]}`);
  }
  if ((held?.borrow[i] ?? 0n) !== a.openBorrow[i] || (held?.inflow[i] ?? 0n) !== a.openInflow[i] || (held?.repay[i] ?? 0n) !== a.openRepay[i]) {
    throw new Error(`risk invariant (C4): account ${a.id} asset ${i} open-order borrow ${a.openBorrow[i]} / proceeds ${a.openInflow[i]}, holds ${held?.borrow[i] ?? 0n} / ${held?.inflow[i] ?? 0n}`);
  }
  const locked = held?.locked[i] ?? 0n;
  if (locked !== a.locked[i]) throw new Error(`risk invariant: account ${a.id} asset ${i} locked ${a.locked[i]}, holds ${locked}`);
  validateSellTerms(a, i, held);
  if (a.syncedMargin().assetBalance(i) !== a.netBalance(i)) {
    throw new Error(`risk invariant: account ${a.id} asset ${i} margin balance ${a.syncedMargin().assetBalance(i)}, net ${a.netBalance(i)}`);
  }
}

/** C4/C8: the account's sell part of its open-order terms is its sell holds' sum; its repay cover within bounds. */
function validateSellTerms(a: Account, i: number, held: HoldSums | undefined): void {
  const sell = a.sellTerms;
  const got = sell === null ? [0n, 0n, 0n, 0n] : [sell.locked[i]!, sell.openBorrow[i]!, sell.openInflow[i]!, sell.openRepay[i]!];
  const want = [held?.sellLocked[i] ?? 0n, held?.sellBorrow[i] ?? 0n, held?.sellInflow[i] ?? 0n, held?.sellRepay[i] ?? 0n];
  if (got.some((v, k) => v !== want[k])) {
    throw new Error(`risk invariant (C4): account ${a.id} asset ${i} sell terms ${got.join("/")}, sell holds ${want.join("/")}`);
  }
  const cover = sell === null ? 0n : sell.repayCover[i]!;
  if (cover < 0n || cover > a.repayCover[i]!) throw new Error(`risk invariant (C4): account ${a.id} asset ${i} sell repay cover ${cover} of ${a.repayCover[i]}`);
}

/** P1: every field of the account's positions and open perpetual quantities that carries state. */
function hashPerps(h: ReturnType<typeof createHash>, a: Account): void {
  const perps = a.perps!;
  for (let m = 0; m < perps.openBuy.length; m++) {
    const p = perps.positions[m]!;
    if (!perps.hasState(m) && p.realizedPnl === 0n && p.cumulativeFees === 0n) continue;
    h.update(`pp${a.id}/${m} ${p.netQuantity} ${p.costBasis} ${p.openCostBasis} ${p.realizedPnl} ${p.feesPaid} ${p.fundingPaid} ${p.cumulativeFees} ${p.cumulativeFundingPayment} ${perps.openBuy[m]} ${perps.openSell[m]}\n`);
  }
  if (perps.settlements !== null) h.update(`ps${a.id} ${perps.settlements.hashText()}\n`);
  if (perps.funding !== null) h.update(`pf${a.id} ${perps.funding.hashText()}\n`);
}

/** C4: the account's repay covers as every use sees them (Account.repayCoverValue: the stored ones may wait for a sync). */
function hashRepayCover(h: ReturnType<typeof createHash>, a: Account): void {
  if (!a.repayCover.some((c) => c !== 0n)) return;
  const covers = a.repayCover.map((_, i) => a.repayCoverValue(i));
  if (covers.some((c) => c !== 0n)) h.update(`c${a.id} ${covers.join(",")}\n`);
  const sells = covers.map((c, i) => a.sellRepayCoverValue(i, c));
  if (sells.some((c) => c !== 0n)) h.update(`cs${a.id} ${sells.join(",")}\n`);
}

/** Deterministic digest of everything this shard owns (replay equality, X4). */
export function stateHash(s: RiskState): string {
  const h = createHash("sha256");
  h.update(`risk ${s.shardIndex}/${s.shardCount} t=${s.nowMs}\n`);
  h.update(`marks ${s.marginContext.assetMark.join(",")} ${s.marginContext.marketMark.join(",")}\n`);
  const ids = accountIds(s);
  for (const id of ids) {
    const a = s.accounts.get(id)!;
    s.pools.sync(a);
    h.update(`a${id} o${a.openOrders} s${a.settings} L${a.leverageLimit} ${a.available.join(",")} ${a.locked.join(",")} ${a.lent.join(",")} ${a.borrowed.join(",")}\n`);
    hashRepayCover(h, a);
    if (a.unsettledUsdc !== 0n) h.update(`u${id} ${a.unsettledUsdc}\n`);
    if (a.perps !== null) hashPerps(h, a);
  }
  h.update(`oi ${s.openInterest.join(",")}\n`);
  h.update(s.passes.hashText()); // P5S
  h.update(s.conversions.hashText()); // P6 (3)
  for (let m = 0; m < s.fundingRates.length; m++) if (s.fundingRates[m]!.length > 0) h.update(`fr${m} ${s.fundingRates[m]!.hashText()}\n`);
  h.update(`fee ${s.feeAccount.available.join(",")}\n`);
  if (s.insuranceAccount.available.some((x) => x !== 0n)) h.update(`ins ${s.insuranceAccount.available.join(",")}\n`); // D4
  h.update(s.pools.hashText());
  for (const id of ids) {
    const a = s.accounts.get(id)!;
    if (a.poolPositions === 0) continue;
    h.update(`p${id} ${a.positions.map((p) => `${p.lendShares}/${p.borrowShares}`).join(",")}\n`);
  }
  h.update(s.volumes.hashText());
  h.update(s.oracle.hashText());
  h.update(`liquidating ${s.liquidation.liquidatingSorted().join(",")}\n`); // Q1
  h.update(s.liquidationHistory.hashText()); // Q6
  h.update(s.insurance.hashText()); // Q6/D4
  h.update(s.lenders.hashText()); // Q4
  h.update(s.relay.hashText()); // Q3 across shards: the backstop's replicated headroom
  h.update(s.adl.hashText()); // Q4 across shards: the replicated ADL demands and offers
  h.update(s.lenderAdl.hashText()); // Q5 across shards: the replicated lender ADL demands and offers (empty when idle)
  const stalled = s.liquidation.stalled;
  h.update(`stalled ${s.liquidation.stalledSorted().map((id) => `${id}:${stalled.get(id)!.batches}:${stalled.get(id)!.reason}`).join(",")}\n`); // Q2
  for (const hold of s.holds.sorted()) {
    h.update(`h${hold.orderId} ${hold.account} ${hold.asset} ${hold.flags} ${hold.remaining} ${hold.borrowMax} ${hold.reserved} ${hold.inflowAsset} ${hold.inflowCredit} ${hold.inflowRepays}\n`);
    if (hold.perp) h.update(`hp${hold.orderId} ${hold.perpOpen}\n`);
  }
  return h.digest("hex");
}

/** P4: each market's holder set is exactly the stored accounts with a non-zero position there. */
function validatePerpHolders(s: RiskState): void {
  for (let m = 0; m < s.perpHolders.length; m++) {
    let count = 0;
    for (const a of s.accounts.values()) {
      const open = a.perps !== null && a.perps.positions[m]!.netQuantity !== 0n;
      if (open !== s.perpHolders[m]!.has(a.id)) throw new Error(`risk invariant (P4): account ${a.id} market ${m}: position ${open}, holder set ${!open}`);
      if (open) count++;
    }
    if (count !== s.perpHolders[m]!.size) throw new Error(`risk invariant (P4): market ${m} holder set ${s.perpHolders[m]!.size}, positions ${count}`);
  }
}
