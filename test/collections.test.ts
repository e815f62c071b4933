// engine/collections: the shared allocation-free structures. Sha256 must give node:crypto's bytes exactly, since the
// risk shard's state digest (replay equality, X4; snapshot digests) switched to it from node:crypto.
import { createHash as nodeCreateHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ClientIdIndex, createHash, IdMap, SortedEdges } from "../engine/collections/index.ts";

describe("collections", () => {
  it("X4: Sha256 of UTF-8 text equals node:crypto's sha256, across block and padding boundaries", () => {
    expect(createHash("sha256").update("abc").digest("hex")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(createHash("sha256").digest("hex")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const texts = ["a".repeat(55), "a".repeat(56), "a".repeat(63), "a".repeat(64), "a".repeat(65), "ü€😀 risk 1,2\n".repeat(300)];
    for (const text of texts) {
      expect(createHash("sha256").update(text).digest("hex"), `${text.length} chars`).toBe(nodeCreateHash("sha256").update(text).digest("hex"));
    }
    const parts = Array.from({ length: 2_000 }, (_, i) => `a${i * 16} o${i % 7} ${i * 1_000_003},0,${i}\n`);
    const ours = createHash("sha256");
    const node = nodeCreateHash("sha256");
    for (const p of parts) {
      ours.update(p);
      node.update(p);
    }
    expect(ours.digest("hex")).toBe(node.digest("hex"));
  });

  it("IdMap maps ids to slots and forgets deleted ones (shared by matching and risk)", () => {
    const map = new IdMap(4);
    for (let id = 1; id <= 100; id++) map.set(id * 16, id);
    expect(map.size).toBe(100);
    expect(map.get(50 * 16)).toBe(50);
    map.delete(50 * 16);
    expect(map.get(50 * 16)).toBe(-1);
    expect(map.get(51 * 16)).toBe(51);
    expect(map.size).toBe(99);
  });

  it("IdMap.clear forgets every id and takes them again (the gateway's resting-order rows on a restore)", () => {
    const map = new IdMap(4);
    for (let id = 1; id <= 100; id++) map.set(id, id + 1000);
    map.clear();
    expect(map.size).toBe(0);
    for (let id = 1; id <= 100; id++) expect(map.get(id)).toBe(-1);
    map.set(7, 3);
    expect([map.get(7), map.size]).toEqual([3, 1]);
  });
});

describe("O1: ClientIdIndex (risk's open orders by client order id)", () => {
  it("O1: 30,000 random sets and conditional deletes over accounts, markets and 64-bit clientIds equal a Map keyed by the packed bigint", () => {
    let x = 0xc11e;
    const rand = (n: number): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return (x >>> 8) % n;
    };
    const index = new ClientIdIndex(4);
    const naive = new Map<bigint, number>();
    const keyOf = (a: number, m: number, c: bigint): bigint => (BigInt(a) << 80n) | (BigInt(m) << 64n) | c;
    const live: [number, number, bigint][] = [];
    let orderId = 0;
    for (let step = 0; step < 30_000; step++) {
      if (live.length === 0 || rand(5) < 3) {
        const account = 16 * (1 + rand(40));
        const market = rand(3);
        // Small ids, ids sharing low halves, and ids past 2^63 (unsigned).
        const clientId = [BigInt(1 + rand(50)), BigInt(rand(4)) << 32n, (1n << 63n) + BigInt(rand(1000)), 2n ** 64n - 1n - BigInt(rand(3))][rand(4)]!;
        index.set(account, market, clientId, ++orderId); // a later order takes the clientId over
        naive.set(keyOf(account, market, clientId), orderId);
        live.push([account, market, clientId]);
      } else {
        const [account, market, clientId] = live.splice(rand(live.length), 1)[0]!;
        const key = keyOf(account, market, clientId);
        const held = naive.get(key);
        const asked = rand(2) === 0 && held !== undefined ? held : orderId + 1; // the holder, or an order that lost it
        expect(index.deleteIf(account, market, clientId, asked)).toBe(held === asked);
        if (held === asked) naive.delete(key);
      }
      expect(index.size).toBe(naive.size);
    }
    for (const [key, id] of naive) {
      const account = Number(key >> 80n);
      const market = Number((key >> 64n) & 0xffffn);
      expect(index.get(account, market, key & (2n ** 64n - 1n))).toBe(id);
    }
    expect(index.get(16, 0, 123_456_789n)).toBe(0);
    const ids: number[] = [];
    index.forEachOrderId((id) => ids.push(id));
    expect(ids.sort((a, b) => a - b)).toEqual([...naive.values()].sort((a, b) => a - b));
    index.clear();
    expect([index.size, index.get(16, 0, 1n)]).toEqual([0, 0]);
  });
});

describe("Q1: SortedEdges (the safe-band index's sorted lists)", () => {
  it("Q1: random inserts and removes over many chunks: the ids above and below a value equal a naive sorted list's, in (edge, id) order", () => {
    let x = 0x5eed;
    const rand = (n: number): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return (x >>> 8) % n;
    };
    const list = new SortedEdges();
    let naive: [bigint, number][] = [];
    for (let round = 0; round < 40; round++) {
      for (let c = 0; c < 400; c++) {
        if (naive.length > 0 && rand(3) === 0) {
          const [edge, id] = naive[rand(naive.length)]!;
          expect(list.remove(edge, id)).toBe(true);
          naive = naive.filter(([e, i]) => e !== edge || i !== id);
          expect(list.remove(edge, id)).toBe(false); // gone: a second remove finds nothing
        } else {
          const edge = BigInt(rand(500)); // many equal edges: the id orders them
          const id = rand(1_000_000);
          if (naive.some(([e, i]) => e === edge && i === id)) continue;
          list.insert(edge, id);
          naive.push([edge, id]);
        }
      }
      naive.sort(([e1, i1], [e2, i2]) => (e1 < e2 ? -1 : e1 > e2 ? 1 : i1 - i2));
      expect(list.size).toBe(naive.length);
      for (const value of [-1n, 0n, 1n, 137n, 250n, 499n, 500n]) {
        const above: number[] = [];
        const below: number[] = [];
        list.forEachAbove(value, (id) => above.push(id));
        list.forEachBelow(value, (id) => below.push(id));
        expect(above).toEqual(naive.filter(([e]) => e > value).map(([, i]) => i));
        expect(below).toEqual(naive.filter(([e]) => e < value).map(([, i]) => i));
      }
    }
    expect(list.size).toBeGreaterThan(2 * 512); // several chunks were split on the way
  });
  it("Q1: entries that all move the same way (bands re-derived in turn) empty chunks at one end and split them at the other — the emptied chunks are reused and the order stays a naive sorted list's", () => {
    const list = new SortedEdges();
    const naive = new Map<number, bigint>();
    for (let id = 0; id < 3000; id++) {
      list.insert(BigInt(id), id);
      naive.set(id, BigInt(id));
    }
    for (let round = 0; round < 4; round++) {
      for (let id = 0; id < 3000; id++) {
        const edge = naive.get(id)!;
        expect(list.remove(edge, id)).toBe(true);
        const moved = round % 2 === 0 ? edge + 5000n : edge - 4000n + BigInt(id % 7);
        list.insert(moved, id);
        naive.set(id, moved);
      }
      const sorted = [...naive.entries()].sort(([i1, e1], [i2, e2]) => (e1 < e2 ? -1 : e1 > e2 ? 1 : i1 - i2));
      expect(list.size).toBe(3000);
      for (const value of [-1n, 1500n, 4999n, 6000n, 20_000n]) {
        const above: number[] = [];
        const below: number[] = [];
        list.forEachAbove(value, (id) => above.push(id));
        list.forEachBelow(value, (id) => below.push(id));
        expect(above).toEqual(sorted.filter(([, e]) => e > value).map(([i]) => i));
        expect(below).toEqual(sorted.filter(([, e]) => e < value).map(([i]) => i));
      }
    }
    for (const [id, edge] of naive) expect(list.remove(edge, id)).toBe(true);
    expect(list.size).toBe(0);
    const none: number[] = [];
    list.forEachAbove(-1n, (id) => none.push(id));
    expect(none).toEqual([]);
    list.insert(7n, 1); // an emptied list takes entries again
    list.forEachBelow(8n, (id) => none.push(id));
    expect(none).toEqual([1]);
  });
});
