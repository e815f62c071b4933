// The gateway's read-only balances (GET /balances), kept from the engine's Balance events and saved with snapshots.
import { formatDecimal } from "../engine/fixed/index.ts";
import { SNAPSHOT_COUNT_MAX, type EventRecord, type ExchangeConfig, type SnapshotReader, type SnapshotWriter } from "../engine/model/index.ts";
import type { SnapshotPart } from "./gateway-state.ts";

/** Per asset in a BalanceView row: available, locked, lent, borrowed. */
const BALANCE_VIEW_SLOTS = 4;

/**
 * The gateway's read-only view of balances, kept from the engine's Balance events (the risk shards own the real
 * state; every change of an account's available, locked, lent or borrowed units publishes one). Serves
 * GET /balances without a round trip into the engine: per asset available, locked, lent and borrowed.
 */
export class BalanceView implements SnapshotPart {
  private readonly byAccount = new Map<number, bigint[]>();

  constructor(private readonly assetCount: number) {}

  apply(e: EventRecord): void {
    let row = this.byAccount.get(e.account);
    if (row === undefined) {
      row = new Array<bigint>(this.assetCount * BALANCE_VIEW_SLOTS).fill(0n);
      this.byAccount.set(e.account, row);
    }
    const i = e.asset * BALANCE_VIEW_SLOTS;
    row[i] = e.available;
    row[i + 1] = e.locked;
    row[i + 2] = e.lent;
    row[i + 3] = e.borrowed;
  }

  /** X7: the view as it stands at a snapshot's batch boundary. */
  writeState(w: SnapshotWriter): void {
    w.uint(this.assetCount);
    w.uint(this.byAccount.size);
    for (const [account, row] of this.byAccount) {
      w.uint(account);
      for (const v of row) w.big(v);
    }
  }

  readState(r: SnapshotReader): void {
    if (r.uint() !== this.assetCount) r.fail("balances: another number of assets");
    this.byAccount.clear();
    for (let n = r.count(SNAPSHOT_COUNT_MAX, "balance accounts"); n > 0; n--) {
      const account = r.uint();
      const row = new Array<bigint>(this.assetCount * BALANCE_VIEW_SLOTS);
      for (let i = 0; i < row.length; i++) row[i] = r.big();
      this.byAccount.set(account, row);
    }
  }

  describe(account: number, config: ExchangeConfig): unknown {
    const row = this.byAccount.get(account);
    return {
      account,
      balances: config.assets.map((a) => {
        const i = a.id * BALANCE_VIEW_SLOTS;
        return {
          asset: a.symbol,
          available: formatDecimal(row?.[i] ?? 0n, a.decimals),
          locked: formatDecimal(row?.[i + 1] ?? 0n, a.decimals),
          lent: formatDecimal(row?.[i + 2] ?? 0n, a.decimals),
          borrowed: formatDecimal(row?.[i + 3] ?? 0n, a.decimals),
        };
      }),
    };
  }
}
