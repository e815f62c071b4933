// The gateway's read-only balances (GET /balances): each account's latest Balance event per asset, as the account
// view keeps them (account-catch-up.ts AccountView, which QueryAccountSnapshot answers from). One copy, not two: the
// view's balance entries are the same events' values, so this reads them instead of keeping (and snapshotting, and
// restoring) a second table — at 100,000 accounts the second copy was ~40% of a restart's gateway-view restore.
import { formatDecimal } from "../engine/fixed/index.ts";
import type { ExchangeConfig } from "../engine/model/index.ts";
import type { AccountView } from "./account-catch-up.ts";

/**
 * Serves GET /balances without a round trip into the engine: per asset available, locked, lent and borrowed, from
 * the engine's Balance events (the risk shards own the real state; every change of one of them publishes one).
 */
export class BalanceView {
  constructor(private readonly view: AccountView) {}

  describe(account: number, config: ExchangeConfig): unknown {
    return {
      account,
      balances: config.assets.map((a) => {
        const b = this.view.balanceOf(account, a.id);
        return {
          asset: a.symbol,
          available: formatDecimal(b?.available ?? 0n, a.decimals),
          locked: formatDecimal(b?.locked ?? 0n, a.decimals),
          lent: formatDecimal(b?.lent ?? 0n, a.decimals),
          borrowed: formatDecimal(b?.borrowed ?? 0n, a.decimals),
        };
      }),
    };
  }
}
