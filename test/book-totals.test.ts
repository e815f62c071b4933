// Book level totals in their int64 column (engine/matching/book.ts addTotal / levelTotal): the column's fast path and
// its exact fallback past int64 against a plain bigint sum, on quantities at and around the fast path's 2^62 bound and
// int64's 2^63, and the market-data "changed since" test (totalChangedSince) against the exact totals.
import { describe, expect, it } from "vitest";
import { Book, NONE } from "../engine/matching/book.ts";
import { prng } from "./helpers/random-commands.ts";

const EDGES = [1n, 2n, (1n << 62n) - 1n, 1n << 62n, (1n << 62n) + 1n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) + 3n, 12_345n];

/** The exact total of the level at `tick` on `side`: the sum of its orders' open quantities. */
function exactTotal(book: Book, side: number, tick: number): bigint {
  const lvl = book.levelAt(side, tick);
  if (lvl === NONE) return 0n;
  let sum = 0n;
  for (let s = book.lHead[lvl]!; s !== NONE; s = book.oNext[s]!) sum += book.oQty[s]!;
  return sum;
}

describe("book level totals in an int64 column", () => {
  it("O8: rest, unlink, fill and setOpenQty keep every level total exact at and past 2^62 and 2^63 (column and fallback)", () => {
    const rand = prng(15);
    const book = new Book(16, 4096, 16, 64, 6);
    book.trackDirty = true;
    const live: number[] = [];
    let nextId = 1;
    for (let step = 0; step < 4000; step++) {
      book.beginCommand();
      const tick = 100 + Math.floor(rand() * 3);
      const before = [100, 101, 102].map((t) => exactTotal(book, 0, t));
      const r = rand();
      if (live.length === 0 || r < 0.45) {
        const slot = book.allocOrder();
        const q = EDGES[Math.floor(rand() * EDGES.length)]!;
        book.oId[slot] = nextId++;
        book.oQty[slot] = q;
        book.oOrig[slot] = q;
        book.oFilled[slot] = 0n;
        book.rest(slot, 0, tick, 1000n);
        live.push(slot);
      } else {
        const k = Math.floor(rand() * live.length);
        const slot = live[k]!;
        const q = book.oQty[slot]!;
        if (r < 0.75) {
          book.unlink(slot);
          book.releaseOrder(slot);
          live[k] = live[live.length - 1]!;
          live.pop();
        } else if (r < 0.9 && q > 1n) {
          book.fill(slot, q / 2n);
        } else {
          book.oOrig[slot] = book.oOrig[slot]! + EDGES[Math.floor(rand() * EDGES.length)]!;
          book.setOpenQty(slot, book.oOrig[slot]! - book.oFilled[slot]!);
        }
      }
      for (let t = 100; t < 103; t++) {
        const lvl = book.levelAt(0, t);
        if (lvl !== NONE) expect(book.levelTotal(lvl)).toBe(exactTotal(book, 0, t));
      }
      // Each dirty entry reports a change exactly when its level's exact total differs from the one before the command.
      for (let i = 0; i < book.dCount; i++) {
        const t = book.dTick[i]!;
        expect(book.totalChangedSince(i, book.dLvl[i]!)).toBe(exactTotal(book, 0, t) !== before[t - 100]);
      }
      book.validate(`step ${step}`);
    }
  });
});
