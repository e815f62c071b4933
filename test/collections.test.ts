// engine/collections: the shared allocation-free structures. Sha256 must give node:crypto's bytes exactly, since the
// risk shard's state digest (replay equality, X4; snapshot digests) switched to it from node:crypto.
import { createHash as nodeCreateHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createHash, IdMap } from "../engine/collections/index.ts";

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
});
