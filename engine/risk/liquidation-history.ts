// Q6: each account's liquidation history, in its risk shard (state layer: data, snapshot, hash; no rules). A row is
// the liquidation event itself as it went out on the account's stream (LiquidationStarted / LiquidationEnded today;
// Q2's book fills are one recordLiquidationRow call where they are published), kept in the event ring's byte layout
// (engine/model/record-layout.ts), so a new kind needs no change here. QueryLiquidationHistory sends the rows again
// with the query's seq. At most LIQUIDATION_HISTORY_ENTRIES_MAX rows per account are kept (the newest).
import {
  EVENT_RECORD_BYTES,
  EventRecord,
  LIQUIDATION_HISTORY_ENTRIES_MAX,
  readEvent,
  SNAPSHOT_COUNT_MAX,
  viewsOf,
  writeEvent,
  type RecordViews,
  type SnapshotReader,
  type SnapshotWriter,
} from "../model/index.ts";
import { createHash } from "../collections/index.ts";

export class LiquidationHistory {
  /** Per account: its rows, oldest first, each EVENT_RECORD_BYTES of the event layout. */
  private readonly rows = new Map<number, Uint8Array[]>();
  private readonly scratch = new Uint8Array(EVENT_RECORD_BYTES);
  private readonly views: RecordViews = viewsOf(this.scratch.buffer);

  /** Keeps a copy of the published event `e` as a row of e.account's history. */
  record(e: EventRecord): void {
    // Zeroed first: the layout leaves the slots of other kinds' union members unwritten, and a row must not carry the
    // previous row's bytes there (a restored shard, whose scratch starts empty, would hash differently: X7).
    this.scratch.fill(0);
    writeEvent(this.views, 0, e);
    let list = this.rows.get(e.account);
    if (list === undefined) {
      list = [];
      this.rows.set(e.account, list);
    }
    if (list.length >= LIQUIDATION_HISTORY_ENTRIES_MAX) list.shift();
    list.push(this.scratch.slice());
  }

  /** The account's rows from `fromMs` on, oldest first, at most `limit`, each read into `out` and handed to `each`. */
  forEachRow(account: number, fromMs: number, limit: number, out: EventRecord, each: (e: EventRecord) => void): void {
    const list = this.rows.get(account);
    if (list === undefined) return;
    let sent = 0;
    for (let i = 0; i < list.length && sent < limit; i++) {
      readEvent(viewsOf(list[i]!.buffer), 0, out);
      if (out.timeMs < fromMs) continue;
      each(out);
      sent++;
    }
  }

  /** Rows of the account (tests). */
  count(account: number): number {
    return this.rows.get(account)?.length ?? 0;
  }

  private sortedAccounts(): number[] {
    return [...this.rows.keys()].sort((a, b) => a - b);
  }

  hashText(): string {
    if (this.rows.size === 0) return "";
    const parts: string[] = [];
    for (const id of this.sortedAccounts()) {
      const list = this.rows.get(id)!;
      const h = createHash("sha256");
      for (const row of list) h.updateBytes(row);
      parts.push(`lh${id} ${list.length} ${h.digest("hex")}`);
    }
    return parts.join("\n") + "\n";
  }

  writeSnapshot(w: SnapshotWriter): void {
    const ids = this.sortedAccounts();
    w.uint(ids.length);
    for (const id of ids) {
      const list = this.rows.get(id)!;
      w.uint(id);
      w.uint(list.length);
      for (const row of list) w.raw(row);
    }
  }

  restoreSnapshot(r: SnapshotReader): void {
    this.rows.clear();
    for (let n = r.count(SNAPSHOT_COUNT_MAX, "liquidation history accounts"); n > 0; n--) {
      const id = r.uint();
      const count = r.count(LIQUIDATION_HISTORY_ENTRIES_MAX, "liquidation history rows");
      const list: Uint8Array[] = [];
      for (let i = 0; i < count; i++) list.push(r.raw(EVENT_RECORD_BYTES).slice());
      this.rows.set(id, list);
    }
  }
}
