// P2: a replica of the oracle — per asset with an oracle, the latest quote of every configured source and the last
// index. Every risk shard and every matching shard (P3's marks, engine.ts decision P3) applies every OracleQuote that
// risk shard 0 passed, in sequence order, so the replicas agree without a message between them (engine.ts D2/P2 say
// why the index is computed where it is used). The index itself is computeIndexPrice (oracle-index.ts); this file
// keeps its inputs and result.
import { type SnapshotReader, type SnapshotWriter, type ExchangeConfig, type OracleConfig } from "../model/index.ts";
import { computeIndexPrice, IndexResult, isSourceFresh, type IndexSourceQuote } from "./oracle-index.ts";

/** One asset's oracle: the latest quote per configured source (timeMs −1 = none yet) and the last result. */
export class AssetOracle {
  readonly quotes: IndexSourceQuote[];
  readonly weights: bigint[];
  /** The last index (0 before the first fresh update): the previous value of the step limit. */
  index = 0n;
  /** No fresh source at the last update (true before the first): the index did not move and says so. */
  stale = true;
  sourcesUsed = 0;
  stepLimited = false;

  constructor(readonly config: OracleConfig) {
    this.quotes = config.sources.map(() => ({ bid: 0n, ask: 0n, last: 0n, timeMs: -1 }));
    this.weights = config.sources.map((s) => s.weight);
  }
}

export class OracleBook {
  /** By asset id; null where the asset has no oracle. */
  readonly assets: (AssetOracle | null)[];
  private readonly result = new IndexResult();

  constructor(config: ExchangeConfig) {
    this.assets = config.assets.map((a) => (a.oracle === null ? null : new AssetOracle(a.oracle)));
  }

  /** Keeps a source's latest quote (checked by the handler: asset has an oracle, source in range, prices > 0). */
  setQuote(asset: number, source: number, bid: bigint, ask: bigint, last: bigint, timeMs: number): void {
    const q = this.assets[asset]!.quotes[source]!;
    q.bid = bid;
    q.ask = ask;
    q.last = last;
    q.timeMs = timeMs;
  }

  /**
   * P2 at engine time nowMs from every source's latest quote (a source never quoted counts as stale). Returns the
   * asset's oracle with index, stale, sourcesUsed and stepLimited updated; a stale update keeps the index.
   */
  update(asset: number, nowMs: number): AssetOracle {
    const o = this.assets[asset]!;
    const r = computeIndexPrice(o.quotes, o.weights, o.quotes.length, o.config, o.index, nowMs, this.result);
    o.index = r.index;
    o.stale = r.stale;
    o.sourcesUsed = r.freshSourceCount;
    o.stepLimited = r.stepLimited;
    return o;
  }

  /** The last index of `asset` (0 without an oracle or before its first fresh update). */
  lastIndex(asset: number): bigint {
    const o = this.assets[asset];
    return o === null || o === undefined ? 0n : o.index;
  }

  /**
   * P3: the index of `asset` usable at engine time nowMs — the last one, while at least one source's latest quote is
   * still fresh (P2's staleAfterMs) — or 0 (no oracle, no index yet, or every source silent too long).
   */
  freshIndex(asset: number, nowMs: number): bigint {
    const o = this.assets[asset];
    if (o === null || o === undefined || o.index === 0n) return 0n;
    for (const q of o.quotes) if (q.timeMs >= 0 && isSourceFresh(q.timeMs, nowMs, o.config.staleAfterMs)) return o.index;
    return 0n;
  }

  /** Digest text of every asset's oracle (stateHash, X4). */
  hashText(): string {
    let text = "oracle";
    for (const o of this.assets) {
      if (o === null) continue;
      text += ` ${o.index}/${o.stale ? 1 : 0}/${o.sourcesUsed}/${o.stepLimited ? 1 : 0}`;
      for (const q of o.quotes) text += `:${q.bid},${q.ask},${q.last},${q.timeMs}`;
    }
    return text + "\n";
  }

  /** X7: the sources' latest quotes and the last result of every asset with an oracle (config order). */
  writeSnapshot(w: SnapshotWriter): void {
    for (const o of this.assets) {
      if (o === null) continue;
      w.big(o.index);
      w.uint(o.stale ? 1 : 0);
      w.uint(o.sourcesUsed);
      w.uint(o.stepLimited ? 1 : 0);
      for (const q of o.quotes) {
        w.big(q.bid);
        w.big(q.ask);
        w.big(q.last);
        w.uint(q.timeMs + 1);
      }
    }
  }

  restoreSnapshot(r: SnapshotReader): void {
    for (const o of this.assets) {
      if (o === null) continue;
      o.index = r.big();
      if (o.index < 0n) r.fail("negative oracle index");
      o.stale = r.uint() === 1;
      o.sourcesUsed = r.uint();
      o.stepLimited = r.uint() === 1;
      for (const q of o.quotes) {
        q.bid = r.big();
        q.ask = r.big();
        q.last = r.big();
        q.timeMs = r.uint() - 1;
      }
    }
  }
}
