// A sorted multiset of (edge: bigint, id: integer) entries, ordered by edge then id, kept in chunks of at most
// CHUNK_MAX entries (a two-level B+-tree without the tree: the chunks sit in an array ordered by their first entry).
// Q1's safe-band index keeps one per asset and side (risk/liquidation-book.ts): a batch end changes k of n entries
// in O(k × (log n + CHUNK_MAX)) — no pass over all n, which a flat sorted array needs for each splice or merge — and a
// mark move visits a prefix (edges below a value) or a suffix (edges above it) after two binary searches.

/** Entries per chunk before it splits in two (a splice inside a chunk moves at most this many). */
const CHUNK_MAX = 512;

class Chunk {
  readonly edges: bigint[] = [];
  readonly ids: number[] = [];
}

/**
 * Inserts (edge, id) at position `at` of `c` by moving the entries after it one up. Not Array.prototype.splice: a
 * splice returns a new array and V8 trims or regrows the backing stores it changes, so each band move allocated a
 * chunk's worth of new backing store, which the long-lived chunk keeps and each scavenge then copies (GC pauses of
 * perp.realize-100k). push/pop keep the capacity.
 */
function insertAt(c: Chunk, at: number, edge: bigint, id: number): void {
  const edges = c.edges;
  const ids = c.ids;
  let i = edges.length;
  edges.push(edge);
  ids.push(id);
  for (; i > at; i--) {
    edges[i] = edges[i - 1]!;
    ids[i] = ids[i - 1]!;
  }
  edges[at] = edge;
  ids[at] = id;
}

/** Removes the entry at position `at` of `c` by moving the entries after it one down (see insertAt). */
function removeAt(c: Chunk, at: number): void {
  const edges = c.edges;
  const ids = c.ids;
  const last = edges.length - 1;
  for (let i = at; i < last; i++) {
    edges[i] = edges[i + 1]!;
    ids[i] = ids[i + 1]!;
  }
  edges.pop();
  ids.pop();
}

/** (edge, id) < (e, i)? */
function before(edge: bigint, id: number, e: bigint, i: number): boolean {
  return edge < e || (edge === e && id < i);
}

/** Position of the first entry of `c` not below (edge, id). */
function lowerBound(c: Chunk, edge: bigint, id: number): number {
  let lo = 0;
  let hi = c.edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(c.edges[mid]!, c.ids[mid]!, edge, id)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first edge > value in sorted `edges` (their length if none). */
function firstAbove(edges: readonly bigint[], value: bigint): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! > value) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export class SortedEdges {
  private readonly chunks: Chunk[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Index of the chunk where (edge, id) belongs: the last whose first entry is not above it (0 if none). */
  private chunkOf(edge: bigint, id: number): number {
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      const c = this.chunks[mid]!;
      if (before(edge, id, c.edges[0]!, c.ids[0]!)) hi = mid - 1;
      else lo = mid;
    }
    return lo;
  }

  insert(edge: bigint, id: number): void {
    if (this.chunks.length === 0) this.chunks.push(new Chunk());
    const k = this.chunkOf(edge, id);
    const c = this.chunks[k]!;
    const at = lowerBound(c, edge, id);
    insertAt(c, at, edge, id);
    this.count++;
    if (c.edges.length > CHUNK_MAX) {
      const half = c.edges.length >>> 1;
      const tail = new Chunk();
      tail.edges.push(...c.edges.splice(half));
      tail.ids.push(...c.ids.splice(half));
      this.chunks.splice(k + 1, 0, tail);
    }
  }

  /** Removes the entry (edge, id); false when it is not there. */
  remove(edge: bigint, id: number): boolean {
    if (this.chunks.length === 0) return false;
    const k = this.chunkOf(edge, id);
    const c = this.chunks[k]!;
    const at = lowerBound(c, edge, id);
    if (at >= c.edges.length || c.edges[at] !== edge || c.ids[at] !== id) return false;
    removeAt(c, at);
    this.count--;
    if (c.edges.length === 0 && this.chunks.length > 1) this.chunks.splice(k, 1);
    return true;
  }

  /** Calls `visit` with the id of every entry whose edge is > value, in order. */
  forEachAbove(value: bigint, visit: (id: number) => void): void {
    const chunks = this.chunks;
    // The first chunk whose last edge is > value; entries before it are all ≤ value.
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = chunks[mid]!;
      if (c.edges.length === 0 || c.edges[c.edges.length - 1]! <= value) lo = mid + 1;
      else hi = mid;
    }
    for (let k = lo; k < chunks.length; k++) {
      const c = chunks[k]!;
      for (let i = k === lo ? firstAbove(c.edges, value) : 0; i < c.edges.length; i++) visit(c.ids[i]!);
    }
  }

  /** Calls `visit` with the id of every entry whose edge is < value, in order. */
  forEachBelow(value: bigint, visit: (id: number) => void): void {
    for (const c of this.chunks) {
      if (c.edges.length > 0 && c.edges[0]! >= value) return;
      for (let i = 0; i < c.edges.length; i++) {
        if (c.edges[i]! >= value) return;
        visit(c.ids[i]!);
      }
    }
  }
}
