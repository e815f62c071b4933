// X7: a risk shard's accounts by id, restored ones kept as bytes until first read (engine/risk/account-map.ts).
import { describe, expect, it } from "vitest";
import { Account } from "../engine/risk/accounts.ts";
import { AccountMap, type PendingAccounts } from "../engine/risk/account-map.ts";

/** Restored ids 10, 20, 30, 40 in that order; 20 and 40 made at the restore, 10 and 30 kept (made when asked). */
function restoredMap(): { map: AccountMap; made: number[] } {
  const map = new AccountMap();
  const restored = [10, 20, 30, 40];
  const kept = new Set([10, 30]);
  const made: number[] = [];
  map.set(20, new Account(20, 2, null, null));
  map.set(40, new Account(40, 2, null, null));
  const pending: PendingAccounts = {
    get pending() {
      return kept.size;
    },
    isPending: (id) => kept.has(id),
    isRestored: (id) => restored.includes(id),
    make: (id) => {
      if (!kept.delete(id)) return undefined;
      made.push(id);
      return new Account(id, 2, null, null);
    },
    restoredIds: () => restored,
  };
  map.setPending(pending);
  return { map, made };
}

describe("X7: AccountMap (restored accounts kept as bytes)", () => {
  it("X7: size and has count kept accounts; get makes one once; an unknown id stays unknown", () => {
    const { map, made } = restoredMap();
    expect(map.size).toBe(4);
    expect(map.pendingCount).toBe(2);
    expect([map.has(10), map.has(20), map.has(30), map.has(50)]).toEqual([true, true, true, false]);
    expect(map.made(30)).toBeUndefined();
    const a = map.get(30)!;
    expect(a.id).toBe(30);
    expect(map.get(30)).toBe(a);
    expect(map.get(50)).toBeUndefined();
    expect(made).toEqual([30]);
    expect([map.size, map.pendingCount]).toEqual([4, 1]);
    expect([...map.madeValues()].map((x) => x.id)).toEqual([20, 40, 30]);
  });

  it("X7: iteration makes every kept account and walks an eager restore's order: the snapshot's, then accounts created since", () => {
    const { map, made } = restoredMap();
    map.get(30);
    map.set(5, new Account(5, 2, null, null)); // created after the restore
    expect([...map.keys()]).toEqual([10, 20, 30, 40, 5]);
    expect(made).toEqual([30, 10]);
    expect(map.pendingCount).toBe(0);
    expect([...map.values()].map((a) => a.id)).toEqual([10, 20, 30, 40, 5]);
    expect([...map].map(([id]) => id)).toEqual([10, 20, 30, 40, 5]);
    const seen: number[] = [];
    map.forEach((_, id) => seen.push(id));
    expect(seen).toEqual([10, 20, 30, 40, 5]);
    expect(map.size).toBe(5);
  });

  it("X7: restoreOrder puts accounts made out of order back in the snapshot's order, kept ones still kept", () => {
    const { map } = restoredMap();
    map.get(30);
    map.restoreOrder();
    expect([...map.madeValues()].map((a) => a.id)).toEqual([20, 30, 40]);
    expect(map.pendingCount).toBe(1);
    expect([...map.entries()].map(([id]) => id)).toEqual([10, 20, 30, 40]);
  });

  it("X7: a kept account set over is made first: counted once, iterated in its restored place with the new value", () => {
    const { map, made } = restoredMap();
    const replacement = new Account(30, 2, null, null);
    map.set(30, replacement);
    expect(made).toEqual([30]);
    expect([map.size, map.pendingCount]).toEqual([4, 1]);
    expect(map.get(30)).toBe(replacement);
    expect([...map.keys()]).toEqual([10, 20, 30, 40]);
    expect(map.get(30)).toBe(replacement);
  });

  it("X7: delete makes the account first; clear drops kept accounts", () => {
    const { map, made } = restoredMap();
    expect(map.delete(10)).toBe(true);
    expect(made).toEqual([10]);
    expect([map.size, map.has(10)]).toEqual([3, false]);
    map.clear();
    expect([map.size, map.pendingCount, map.get(30)]).toEqual([0, 0, undefined]);
  });
});
