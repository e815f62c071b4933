// P2: the oracle command. Every risk shard applies each OracleQuote (routing.ts: RiskRoute.Every) to its replica of
// the oracle (perps/oracle-book.ts); shard 0 answers. One check, then one reply (a reject, nothing changed) or one apply:
// keep the source's quote and, on the update's last quote (OracleQuoteFlag.Apply), recompute the index, which
// becomes the asset's collateral mark (C1) unless no source is fresh (stale: the mark stays).
import { ORACLE_QUOTE_AHEAD_MS_MAX, OracleQuoteFlag, type CommandRecord, type EventRecord, type EventSink } from "../model/index.ts";
import {
  acknowledged,
  publishIndex,
  rejectNoOracle,
  rejectOracleFlags,
  rejectOraclePrices,
  rejectOracleSource,
  rejectOracleTime,
  rejectUnknownAsset,
} from "./replies.ts";
import type { RiskState } from "./state.ts";
import { MARK_MOVED_PRICE } from "./liquidation-book.ts";

/** Why an OracleQuote is refused; each has its own reject text (and RejectCode) in replies.ts. */
export const OracleRefusal = { None: 0, UnknownAsset: 1, NoOracle: 2, Source: 3, Flags: 4, Prices: 5, Time: 6 } as const;
export type OracleRefusal = (typeof OracleRefusal)[keyof typeof OracleRefusal];

/** Why an OracleQuote is refused, or OracleRefusal.None. Reads only. */
export function checkOracleQuote(s: RiskState, cmd: CommandRecord): OracleRefusal {
  if (cmd.asset < 0 || cmd.asset >= s.assetCount) return OracleRefusal.UnknownAsset;
  const oracle = s.oracle.assets[cmd.asset]!;
  if (oracle === null) return OracleRefusal.NoOracle;
  if (cmd.oracleSource < 0 || cmd.oracleSource >= oracle.quotes.length) return OracleRefusal.Source;
  if ((cmd.flags & ~OracleQuoteFlag.Apply) !== 0) return OracleRefusal.Flags;
  if (cmd.bid <= 0n || cmd.ask <= 0n || cmd.last <= 0n || cmd.bid > cmd.ask) return OracleRefusal.Prices;
  const t = cmd.sourceTimeMs;
  if (!Number.isSafeInteger(t) || t < 0 || t > s.nowMs + ORACLE_QUOTE_AHEAD_MS_MAX) return OracleRefusal.Time;
  return OracleRefusal.None;
}

/** Applies one OracleQuote; true when it passed (it goes on to the matching shards' replicas, engine.ts P3). */
export function oracleQuote(s: RiskState, cmd: CommandRecord, sink: EventSink): boolean {
  const speaks = s.shardIndex === 0;
  const code = checkOracleQuote(s, cmd);
  if (code !== OracleRefusal.None) {
    if (speaks) rejectOracleQuote(s, cmd, code, sink);
    return false;
  }
  s.oracle.setQuote(cmd.asset, cmd.oracleSource, cmd.bid, cmd.ask, cmd.last, cmd.sourceTimeMs);
  if ((cmd.flags & OracleQuoteFlag.Apply) !== 0) {
    const oracle = s.oracle.update(cmd.asset, s.nowMs);
    // C1: the asset's collateral mark. Its perpetuals take P3's mark at the batch's end (applyMarkPrice).
    if (!oracle.stale) s.marginContext.setAssetMark(cmd.asset, oracle.index);
    if (speaks) publishIndex(s, cmd, oracle, sink);
  }
  if (speaks) acknowledged(s, cmd, sink);
  return true;
}

/**
 * P3: a perpetual's mark from matching's settlement phase (MarkPrice, seq 0; engine.ts decision P3): every risk shard
 * sets it in its margin context, in the same batch (phase 3) — accounts revalue lazily; shard 0 publishes it.
 */
export function applyMarkPrice(s: RiskState, e: EventRecord, sink: EventSink): void {
  const moved = s.marginContext.marketMark[e.market] !== e.markPrice;
  s.marginContext.setMarketMark(e.market, e.markPrice);
  // Q1: the batch end re-evaluates the positions this mark moves. A position's band on its base asset is empty
  // (liquidation-trigger.ts), so flagging the base asset reaches every holder of the market without a scan of others.
  // Matching publishes the mark at every batch with a clock tick, moved or not: an unchanged mark moves no margin, and
  // flagging it would re-evaluate every holder at each tick (P5S: a pass's ticks would each cost a full scan).
  if (moved) s.liquidation.markMoved[s.config.markets[e.market]!.baseAsset] |= MARK_MOVED_PRICE;
  if (s.shardIndex === 0) sink.publish(e);
}

function rejectOracleQuote(s: RiskState, cmd: CommandRecord, code: OracleRefusal, sink: EventSink): void {
  switch (code) {
    case OracleRefusal.UnknownAsset:
      return rejectUnknownAsset(s, cmd, sink);
    case OracleRefusal.NoOracle:
      return rejectNoOracle(s, cmd, sink);
    case OracleRefusal.Source:
      return rejectOracleSource(s, cmd, s.oracle.assets[cmd.asset]!.quotes.length, sink);
    case OracleRefusal.Flags:
      return rejectOracleFlags(s, cmd, sink);
    case OracleRefusal.Prices:
      return rejectOraclePrices(s, cmd, sink);
    default:
      return rejectOracleTime(s, cmd, ORACLE_QUOTE_AHEAD_MS_MAX, sink);
  }
}
