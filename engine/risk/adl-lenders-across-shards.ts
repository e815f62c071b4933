// Q5 lender ADL across risk shards, the rules (engine.ts "Q5 lender ADL across shards (as built)"; the state is
// adl-lender-relay.ts). With K > 1 what a liquidating lender's own shard's borrowers cannot take takes three batches —
// demand (B), confirmation and offers (B+1), decision (B+2):
//   - phase 0 of B (liquidation-lenders.ts lenderAdl): the pool refuses the lender's redemption (the one-shard
//     condition), its own shard's borrowers take what they can (one shard's rule), and the rest is posted;
//   - phase 3b of B+1, last thing (publishLenderAdl): the lender's shard confirms each pending demand whose lender is
//     still liquidating with its lend shares of the asset now; every shard publishes, per demanded asset, its own
//     borrowers as one shard collects and ranks them (not liquidating, not a demanding lender, not the backstop, a
//     borrow and USDC available; rankLenderAdlBorrowers: largest borrow first, ties by account id), the top
//     LENDER_ADL_OFFERS_PER_ASSET_MAX, each with its borrow and its available USDC;
//   - phase 0 of B+2, first of the lenders' work (executeReadyLenderAdl): every shard runs the same allocation over
//     the same confirmed demands and offers, in (account, asset) order: each lender's need is min(quantity posted,
//     its claim = its confirmed shares at the lend index now), matched by one shard's planLenderAdl against the offers
//     with what earlier demands of the batch took of them (borrow and USDC), at the collateral marks' price now; the
//     lend shares each leg burns are one shard's redeemForced's, from the confirmed shares. Each shard executes the
//     halves of its own accounts: the borrower's shard repays the borrow with the q units and burns the lender's
//     shares and q of cash from the pool (pools.ts burnLendShares: the pair is its one pool delta, so every replica's
//     lent and borrowed totals move together at the merge) and takes `pay` USDC from the borrower into its payout
//     transit; the lender's shard drops the lender's shares (releaseLendShares: no total moves) and pays it `pay`
//     USDC out of its own transit. The transits return to the insurance slices in the same phase 0 (Σ over the
//     shards of a leg's two halves is 0: the fund's Σ does not move).
// Why both halves agree without a message: nothing between B+1's phase 3b and B+2's phase 0 lowers a published
// borrower's borrow (interest only raises it) or its USDC (phase 4 only pays lenders), nor changes a confirmed
// lender's shares (every pool action of an account is its command's, its fill's or phase 0's, and the legs run
// first in phase 0); the shard that owns the account checks it (a risk invariant) before it moves anything.
import { lentAmount, redeemSharesFor } from "../lending/index.ts";
import { AdlBorrower, LenderAdlPlan, planLenderAdl, rankLenderAdlBorrowers } from "../liquidation/index.ts";
import { RejectCode, SocializationKind, type EventSink } from "../model/index.ts";
import { LENDER_ADL_OFFERS_PER_ASSET_MAX, type LenderAdlDemand } from "./adl-lender-relay.ts";
import { publishSocialization, quotePrice } from "./liquidation-lenders.ts";
import type { RiskState } from "./state.ts";

class LenderAdlScratch {
  readonly borrowers: AdlBorrower[] = [];
  order = new Int32Array(16);
  readonly close: bigint[] = [];
  readonly pay: bigint[] = [];
  readonly plan = new LenderAdlPlan();
  readonly takenQuantity = new Map<number, bigint>();
  readonly takenQuote = new Map<number, bigint>();
  readonly assets: boolean[] = [];
}
const scratch = new LenderAdlScratch();

/** Q5: the key of a borrower's borrow of asset a. */
function borrowKey(account: number, a: number): number {
  return account * 256 + a;
}

/** Phase 0 of B+2 (module comment): the ready demands' legs, every shard alike; this shard executes its own halves. */
export function executeReadyLenderAdl(s: RiskState, quote: number, sink: EventSink): void {
  scratch.takenQuantity.clear();
  scratch.takenQuote.clear();
  for (const d of s.lenderAdl.ready) allocateDemand(s, d, quote, sink);
}

function allocateDemand(s: RiskState, d: LenderAdlDemand, quote: number, sink: EventSink): void {
  const a = d.asset;
  const index = s.pools.pools[a]!.lendIndex;
  const claim = lentAmount(d.shares, index);
  const need = d.quantity < claim ? d.quantity : claim;
  const price = quotePrice(s, a, quote);
  if (need <= 0n || price <= 0n) return;
  const n = collectOffers(s, a);
  if (n === 0) return;
  const ranked = rankLenderAdlBorrowers(scratch.borrowers, n, scratch.order);
  const ctx = s.marginContext;
  planLenderAdl(need, price, ctx.assetDecimals[a]!, ctx.assetDecimals[quote]!, scratch.borrowers, scratch.order, ranked, scratch.close, scratch.pay, scratch.plan);
  let held = d.shares;
  for (let k = 0; k < ranked; k++) {
    const q = scratch.close[k]!;
    if (q === 0n) continue;
    const pay = scratch.pay[k]!;
    const borrower = scratch.borrowers[scratch.order[k]!]!.account;
    // The shares one shard's redeemForced would burn for q of the lender's claim (the rest worth < 1 unit goes too).
    let burn = redeemSharesFor(q, index);
    if (burn > held || lentAmount(held - burn, index) === 0n) burn = held;
    held -= burn;
    const key = borrowKey(borrower, a);
    scratch.takenQuantity.set(key, (scratch.takenQuantity.get(key) ?? 0n) + q);
    scratch.takenQuote.set(key, (scratch.takenQuote.get(key) ?? 0n) + pay);
    executeLeg(s, d.account, borrower, a, quote, q, pay, burn, sink);
  }
}

/** The offers of asset a, each less what earlier demands of the batch took of it; returns their count. */
function collectOffers(s: RiskState, a: number): number {
  let n = 0;
  for (const o of s.lenderAdl.offers) {
    if (o.asset !== a) continue;
    const key = borrowKey(o.account, a);
    const borrow = o.borrowQuantity - (scratch.takenQuantity.get(key) ?? 0n);
    const free = o.freeQuote - (scratch.takenQuote.get(key) ?? 0n);
    if (borrow <= 0n || free <= 0n) continue;
    n = pushBorrower(n, o.account, borrow, free);
  }
  if (scratch.order.length < n) scratch.order = new Int32Array(n * 2);
  return n;
}

function pushBorrower(n: number, account: number, borrow: bigint, free: bigint): number {
  if (scratch.borrowers.length === n) scratch.borrowers.push(new AdlBorrower());
  const row = scratch.borrowers[n]!;
  row.account = account;
  row.borrowQuantity = borrow;
  row.freeQuote = free;
  return n + 1;
}

/** One leg: this shard's halves of it (module comment), and their LenderAdl events as one shard publishes them. */
function executeLeg(s: RiskState, lenderId: number, borrowerId: number, a: number, quote: number, q: bigint, pay: bigint, burn: bigint, sink: EventSink): void {
  const mark = s.marginContext.assetMark[a]!;
  const borrower = s.owns(borrowerId) ? s.accounts.get(borrowerId) : undefined;
  const lender = s.owns(lenderId) ? s.accounts.get(lenderId) : undefined;
  if (s.owns(borrowerId)) {
    if (borrower === undefined) throw new Error(`risk invariant (Q5): lender ADL borrower ${borrowerId} unknown`);
    s.pools.sync(borrower);
    if (borrower.borrowed[a]! < q || borrower.available[quote]! < pay) {
      throw new Error(`risk invariant (Q5): borrower ${borrowerId} owes ${borrower.borrowed[a]} of asset ${a} and holds ${borrower.available[quote]} USDC, below its leg ${q} / ${pay}`);
    }
    borrower.addAvailable(a, q);
    if (s.pools.repay(borrower, a, q, s.nowMs) !== RejectCode.None) throw new Error(`risk invariant (Q5): account ${borrowerId} cannot repay ${q} of asset ${a}`);
    s.pools.burnLendShares(a, burn, q);
    borrower.subAvailable(quote, pay);
    s.lenders.transitQuote += pay;
    borrower.markChanged(a);
    borrower.markChanged(quote);
  }
  if (s.owns(lenderId)) {
    if (lender === undefined) throw new Error(`risk invariant (Q5): lender ADL lender ${lenderId} unknown`);
    s.pools.sync(lender);
    s.pools.releaseLendShares(lender, a, burn, s.nowMs);
    lender.addAvailable(quote, pay);
    s.lenders.transitQuote -= pay;
    lender.markChanged(a);
    lender.markChanged(quote);
    publishSocialization(s, SocializationKind.LenderAdl, lender, a, q, pay, 0n, mark, borrowerId, sink);
  }
  if (borrower !== undefined) publishSocialization(s, SocializationKind.LenderAdl, borrower, a, q, -pay, 0n, mark, lenderId, sink);
}

/** Phase 3b of B+1, after everything else of the phase (module comment): confirmations, then this shard's offers. */
export function publishLenderAdl(s: RiskState, quote: number): void {
  const relay = s.lenderAdl;
  const assets = scratch.assets;
  assets.length = s.assetCount;
  assets.fill(false);
  for (let i = 0; i < relay.pending.length; i++) {
    const d = relay.pending[i]!;
    if (d.redeem) continue; // a reserved redemption: no confirmation, no offers
    assets[d.asset] = true;
    if (!s.owns(d.account) || !s.liquidation.isLiquidating(d.account)) continue;
    const lender = s.accounts.get(d.account);
    const shares = lender === undefined ? 0n : lender.positions[d.asset]!.lendShares;
    if (shares > 0n) relay.confirm(i, shares);
  }
  for (let a = 0; a < s.assetCount; a++) if (assets[a]) publishAsset(s, a, quote);
}

/** This shard's borrowers of `a` as one shard collects them (liquidation-lenders.ts collectBorrowers), top ranked. */
function publishAsset(s: RiskState, a: number, quote: number): void {
  const backstop = s.config.liquidation.backstopAccount;
  let n = 0;
  for (const id of [...s.accounts.keys()].sort((x, y) => x - y)) { // rare (a stuck lender), so a scan in id order
    if (id === backstop || s.liquidation.isLiquidating(id) || s.lenderAdl.demanding(id)) continue;
    const b = s.accounts.get(id)!;
    s.pools.sync(b);
    if (b.borrowed[a]! <= 0n || b.available[quote]! <= 0n) continue;
    n = pushBorrower(n, id, b.borrowed[a]!, b.available[quote]!);
  }
  if (n === 0) return;
  if (scratch.order.length < n) scratch.order = new Int32Array(n * 2);
  const ranked = rankLenderAdlBorrowers(scratch.borrowers, n, scratch.order);
  for (let k = 0; k < ranked && k < LENDER_ADL_OFFERS_PER_ASSET_MAX; k++) {
    const b = scratch.borrowers[scratch.order[k]!]!;
    s.lenderAdl.offer(a, k, b.account, b.borrowQuantity, b.freeQuote);
  }
}
