// The gateway's resting-order rows (gateway/open-order-table.ts, AccountView's orders): a random run of placements,
// fills and ends over many accounts — past the table's first 1,024 rows, with freed rows reused — read back exactly as
// the Map per account the view kept before (insertion order, an id placed again rewritten in place).
import { describe, expect, it } from "vitest";
import { AccountOrders, OpenOrderTable, type OpenOrderRow } from "../gateway/open-order-table.ts";

/** A small deterministic generator (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

describe("OpenOrderTable", () => {
  it("X5: 20,000 random placements, fills and ends over 50 accounts read back as the Map per account: same rows, same order, exact amounts", () => {
    const table = new OpenOrderTable();
    const lists = new Map<number, AccountOrders>();
    const model = new Map<number, Map<number, OpenOrderRow>>();
    const live: [number, number][] = []; // [account, orderId]
    const random = rng(7);
    let nextId = 1;
    let most = 0;
    for (let step = 0; step < 20_000; step++) {
      const r = random();
      if (r < 0.5 || live.length === 0) {
        const account = 16 * (1 + Math.floor(random() * 50));
        // Client orders are their sequence numbers; an engine order (liquidation) is 2^52 + … (engine.ts).
        const orderId = random() < 0.1 ? 2 ** 52 + nextId++ * 4096 : nextId++;
        const row: OpenOrderRow = {
          market: Math.floor(random() * 4),
          orderId,
          clientId: BigInt(Math.floor(random() * 2 ** 53)) * 2048n + 2047n, // past 2^63: an unsigned id
          side: random() < 0.5 ? 0 : 1,
          price: BigInt(Math.floor(random() * 2 ** 40)) * 1000n,
          remaining: BigInt(1 + Math.floor(random() * 1e9)),
        };
        const list = lists.get(account) ?? new AccountOrders();
        lists.set(account, list);
        table.put(list, account, orderId, row.market, row.clientId, row.side, row.price, row.remaining);
        if (!model.has(account)) model.set(account, new Map());
        model.get(account)!.set(orderId, row);
        live.push([account, orderId]);
      } else if (r < 0.65) {
        const [account, orderId] = live[Math.floor(random() * live.length)]!;
        const quantity = 1n + BigInt(Math.floor(random() * 1000));
        table.reduce(account, orderId, quantity);
        const row = model.get(account)!.get(orderId)!;
        model.get(account)!.set(orderId, { ...row, remaining: row.remaining - quantity });
      } else if (r < 0.7) {
        // The same id accepted again (a Map per account overwrote it where it stood).
        const [account, orderId] = live[Math.floor(random() * live.length)]!;
        const row = { ...model.get(account)!.get(orderId)!, price: 77_000n, remaining: 5n };
        table.put(lists.get(account)!, account, orderId, row.market, row.clientId, row.side, row.price, row.remaining);
        model.get(account)!.set(orderId, row);
      } else {
        const k = Math.floor(random() * live.length);
        const [account, orderId] = live[k]!;
        live[k] = live[live.length - 1]!;
        live.pop();
        expect(table.remove(lists.get(account)!, account, orderId)).toBe(true);
        model.get(account)!.delete(orderId);
      }
      most = Math.max(most, live.length);
    }
    expect(most).toBeGreaterThan(1024); // the rows grew at least once, the index (2,048 slots, half full) too
    expect(table.size).toBe(live.length);
    for (const [account, orderId] of live) expect(table.remove(new AccountOrders(), account + 1, orderId)).toBe(false);
    for (const [account, orders] of model) {
      const list = lists.get(account)!;
      expect(list.count).toBe(orders.size);
      expect(table.rowsOf(list)).toEqual([...orders.values()]);
    }
    // Every order left is found by its id (the index's deletions shifted the probe runs right), then nothing is.
    for (const [account, orderId] of live) expect(table.remove(lists.get(account)!, account, orderId)).toBe(true);
    expect(table.size).toBe(0);
    for (const list of lists.values()) expect([list.count, list.head, list.tail]).toEqual([0, -1, -1]);
  });

  it("X5: an order is found only under its own account: a fill or an end named with another account changes nothing", () => {
    const table = new OpenOrderTable();
    const a = new AccountOrders();
    const b = new AccountOrders();
    table.put(a, 32, 9, 1, 5n, 0, 60_000_000_000_000n, 3_000n);
    table.reduce(48, 9, 1_000n);
    table.reduce(32, 0, 1_000n); // no order id 0 (an empty slot of the index)
    expect(table.remove(a, 32, 0)).toBe(false);
    expect(table.remove(b, 48, 9)).toBe(false);
    table.put(b, 48, 9, 2, 6n, 1, 1n, 1n); // the id is another account's: ignored
    expect(b.count).toBe(0);
    expect(table.rowsOf(a)).toEqual([{ market: 1, orderId: 9, clientId: 5n, side: 0, price: 60_000_000_000_000n, remaining: 3_000n }]);
    table.reduce(32, 9, 1_000n);
    expect(table.rowsOf(a)[0]!.remaining).toBe(2_000n);
    expect(table.remove(a, 32, 9)).toBe(true);
    expect(a.count).toBe(0);
    expect(a.head).toBe(-1);
    expect(table.size).toBe(0);
  });
});
