// A market's state as a whole, outside its matching: the X7 snapshot (write and restore), the state hash, the
// invariant check, and the read-only views (every resting order, L2 depth) that tests, recovery and queries use.

import { OrderFlag, RejectCode, SnapshotTag, TICK_INDEX_MAX, type SnapshotReader, type SnapshotWriter } from "../model/index.ts";
import { NONE, RestFlag } from "./book.ts";
import type { StateHasher } from "./hash.ts";
import { NO_TICK } from "./ladder.ts";
import type { DepthLevel, DepthSnapshot } from "./market-data.ts";
import { CLIENT_ID_SCAN_MAX, type Market, type RestingOrder } from "./market.ts";

export function marketDepthSnapshot(m: Market, maxLevels: number): DepthSnapshot {
  const book = m.book;
  const sides: DepthLevel[][] = [[], []];
  for (let side = 0; side < 2; side++) {
    const ladder = book.ladders[side];
    for (let tick = ladder.bestTick, k = 0; tick !== NO_TICK && k < maxLevels; tick = ladder.nextWorse(tick), k++) {
      const lvl = ladder.get(tick);
      sides[side].push({ price: book.lPrice[lvl], quantity: book.levelTotal(lvl), orderCount: book.lCount[lvl] });
    }
  }
  return { market: m.id, lastUpdateId: m.publisher.depthUpdateId, timeMs: m.ctx.timeMs, bids: sides[0], asks: sides[1] };
}

/** Every resting order: bids best→worst, then asks best→worst, FIFO within a level. */
export function marketBookOrders(m: Market): RestingOrder[] {
  const book = m.book;
  const out: RestingOrder[] = [];
  for (let side = 0; side < 2; side++) {
    const ladder = book.ladders[side];
    for (let tick = ladder.bestTick; tick !== NO_TICK; tick = ladder.nextWorse(tick)) {
      const lvl = ladder.get(tick);
      for (let s = book.lHead[lvl]; s !== NONE; s = book.oNext[s]) {
        out.push({
          orderId: book.oId[s],
          account: book.oAccount[s],
          side,
          price: book.lPrice[lvl],
          openQuantity: book.oQty[s],
          filledQuantity: book.oFilled[s],
          originalQuantity: book.oOrig[s],
          clientId: book.oClientId[s],
          stp: book.oStp[s],
          postOnly: (book.oFlags[s] & RestFlag.PostOnly) !== 0,
          reduceOnly: (book.oFlags[s] & RestFlag.ReduceOnly) !== 0,
        });
      }
    }
  }
  return out;
}

// ================================================================ invariants and hashing

/** Throws if the book, the account lists (count, links, clientId index, limit) or the position replica disagree. */
export function validateMarket(m: Market): void {
  if (m.isPerp && m.positions.netSum() !== 0n) throw new Error(`market ${m.id}: positions sum to ${m.positions.netSum()}, not 0`);
  if (m.isPerp && m.positions.openInterest !== m.positions.longsSum()) {
    throw new Error(`market ${m.id}: open interest ${m.positions.openInterest} is not the Σ of the longs ${m.positions.longsSum()}`);
  }
  const label = `market ${m.id}`;
  m.book.validate(label);
  const book = m.book;
  let total = 0;
  const lists = m.accounts;
  for (let a = 0; a < lists.length; a++) {
    const account = lists.accountAt(a);
    if (lists.indexOf(account) !== a) throw new Error(`${label}: account ${account} index broken`);
    let count = 0;
    let prev = NONE;
    let withClientId = 0;
    for (let s = lists.headAt(a); s !== NONE; s = book.oANext[s]) {
      if (book.oAPrev[s] !== prev) throw new Error(`${label}: account ${account} list prev link broken`);
      if (book.oAccount[s] !== account || book.oAcct[s] !== a) {
        throw new Error(`${label}: order ${book.oId[s]} in account ${account}'s list`);
      }
      if (book.ids.get(book.oId[s]) !== s) throw new Error(`${label}: account list holds a non-resting order`);
      const cid = book.oClientId[s];
      if (cid !== 0n) {
        withClientId++;
        // Indexed (lists.clientIdsIndexed) or found by the list walk — the first order with it, so unique among the account's.
        if (m.slotOfClientId(a, cid) !== s) throw new Error(`${label}: clientId ${cid} of order ${book.oId[s]} not indexed`);
      }
      prev = s;
      if (++count > book.orderCount) throw new Error(`${label}: cycle in account ${account} list`);
    }
    if (lists.tailAt(a) !== prev) throw new Error(`${label}: account ${account} list tail mismatch`);
    if (lists.countAt(a) !== count) throw new Error(`${label}: account ${account} count ${lists.countAt(a)} != ${count}`);
    if (count > m.limits.maxOpenOrdersPerAccountMarket) throw new Error(`${label}: account ${account} over the open-order limit`);
    const indexed = lists.clientIdsIndexed(a);
    if (indexed ? lists.indexedClientIds(a) !== withClientId : count > CLIENT_ID_SCAN_MAX) {
      throw new Error(`${label}: account ${account} clientId index (${indexed ? lists.indexedClientIds(a) : "none"}) for ${withClientId} orders with one of ${count}`);
    }
    total += count;
  }
  if (total !== book.orderCount) throw new Error(`${label}: account lists hold ${total} orders, book ${book.orderCount}`);
}

// ================================================================ snapshots (X7)

/**
 * The market's whole state: counters, state, last trade, band inputs, the ticker window and every resting order,
 * bids then asks, levels best first, each level's FIFO in time order — so a restore re-rests them in exactly the
 * price-time priority they had. Derived structures (account lists, clientId index, caches) are rebuilt.
 */
export function writeMarketSnapshot(m: Market, w: SnapshotWriter): void {
  w.beginSection(SnapshotTag.Market);
  w.uint(m.id);
  w.uint(m.state);
  w.uint(m.marketSeq);
  w.uint(m.tradeSeq);
  w.uint(m.publisher.depthUpdateId);
  w.big(m.lastPrice);
  w.uint(m.lastTick);
  w.bool(m.hasBandInputs);
  w.big(m.meanMark);
  w.big(m.meanPremium);
  w.big(m.indexPrice);
  m.ticker.writeSnapshot(w);
  if (m.isPerp) m.positions.writeSnapshot(w);
  const book = m.book;
  w.uint(book.orderCount);
  for (let side = 0; side < 2; side++) {
    const ladder = book.ladders[side];
    w.uint(ladder.count);
    for (let tick = ladder.bestTick; tick !== NO_TICK; tick = ladder.nextWorse(tick)) {
      const lvl = ladder.get(tick);
      w.uint(tick);
      w.big(book.lPrice[lvl]);
      w.uint(book.lCount[lvl]);
      for (let s = book.lHead[lvl]; s !== NONE; s = book.oNext[s]) {
        w.uint(book.oId[s]);
        w.uint(book.oAccount[s]);
        w.big(book.oClientId[s]);
        w.big(book.oQty[s]);
        w.big(book.oFilled[s]);
        w.big(book.oOrig[s]);
        w.u8(book.oStp[s]);
        w.u8(book.oFlags[s]);
      }
    }
  }
  w.endSection();
}

/** Restores a fresh market (no order yet) from writeMarketSnapshot's bytes. */
export function restoreMarketSnapshot(m: Market, r: SnapshotReader): void {
  if (m.book.orderCount !== 0) throw new Error(`market ${m.id}: restore needs a fresh market`);
  r.beginSection(SnapshotTag.Market, `market ${m.id}`);
  const id = r.uint();
  if (id !== m.id) r.fail(`market ${id} found where market ${m.id} was expected`);
  m.state = r.uint();
  m.marketSeq = r.uint();
  m.tradeSeq = r.uint();
  m.publisher.depthUpdateId = r.uint();
  m.lastPrice = r.big();
  m.lastTick = r.uint();
  const hasBandInputs = r.bool();
  const meanMark = r.big();
  const meanPremium = r.big();
  const indexPrice = r.big();
  if (hasBandInputs && m.setBandInputs(meanMark, meanPremium, indexPrice) !== RejectCode.None) r.fail(`market ${m.id}: band inputs out of range`);
  m.ticker.restoreSnapshot(r);
  if (m.isPerp) m.positions.restoreSnapshot(r, m.limits.maxPositionsPerMarket, `market ${m.id}`);
  // Restored levels are not depth changes: a market-data sink sees the book as its baseline instead.
  const orders = r.count(m.limits.maxOrdersPerBook, `market ${m.id} orders`);
  m.book.reserveOrders(orders);
  // The resting orders' accounts are at most as many: the account index grows once, not by doublings.
  m.accounts.reserve(orders);
  const tracking = m.book.trackDirty;
  m.book.trackDirty = false;
  for (let side = 0; side < 2; side++) restoreSide(m, r, side);
  m.book.trackDirty = tracking;
  if (m.book.orderCount !== orders) r.fail(`market ${m.id}: ${m.book.orderCount} resting orders, the snapshot says ${orders}`);
  r.endSection();
  m.resetMarketDataBaseline();
}

function restoreSide(m: Market, r: SnapshotReader, side: number): void {
  const levels = r.count(m.limits.maxLevelsPerSide, `market ${m.id} levels`);
  for (let l = 0; l < levels; l++) {
    const tick = r.uint();
    if (tick > TICK_INDEX_MAX) r.fail(`market ${m.id}: tick ${tick} out of range`);
    const price = r.big();
    const orders = r.count(m.limits.maxOrdersPerBook, `market ${m.id} level orders`);
    if (orders === 0) r.fail(`market ${m.id}: empty level at tick ${tick}`);
    for (let i = 0; i < orders; i++) {
      const orderId = r.uint();
      const account = r.uint();
      const clientId = r.big();
      const open = r.big();
      const filled = r.big();
      const original = r.big();
      const stp = r.u8();
      const restFlags = r.u8();
      if (!m.book.hasOrderRoom()) r.fail(`market ${m.id}: more resting orders than the book holds`);
      if (m.book.ids.get(orderId) !== NONE) r.fail(`market ${m.id}: order ${orderId} rests twice`);
      const flags = ((restFlags & RestFlag.PostOnly) !== 0 ? OrderFlag.PostOnly : 0) | ((restFlags & RestFlag.ReduceOnly) !== 0 ? OrderFlag.ReduceOnly : 0);
      m.restNew(orderId, account, side, stp, flags, clientId, tick, price, original, filled, open, NONE);
    }
  }
}

export function hashMarket(m: Market, h: StateHasher): void {
  const book = m.book;
  h.num(m.id);
  h.num(m.state);
  h.num(m.marketSeq);
  h.num(m.tradeSeq);
  h.big(m.lastPrice);
  h.num(m.hasBandInputs ? 1 : 0);
  h.big(m.meanMark);
  h.big(m.meanPremium);
  h.big(m.indexPrice);
  for (let side = 0; side < 2; side++) {
    const ladder = book.ladders[side];
    h.num(ladder.count);
    for (let tick = ladder.bestTick; tick !== NO_TICK; tick = ladder.nextWorse(tick)) {
      const lvl = ladder.get(tick);
      h.num(book.lTick[lvl]);
      h.num(book.lCount[lvl]);
      h.big(book.levelTotal(lvl));
      for (let s = book.lHead[lvl]; s !== NONE; s = book.oNext[s]) {
        h.num(book.oId[s]);
        h.num(book.oAccount[s]);
        h.big(book.oClientId[s]);
        h.big(book.oQty[s]);
        h.big(book.oFilled[s]);
        h.big(book.oOrig[s]);
        h.num(book.oStp[s]);
        h.num(book.oFlags[s]);
      }
    }
  }
  m.ticker.hashInto(h);
  if (m.isPerp) m.positions.hashInto(h);
}
