// A sorted multiset of (edge: bigint, id: integer) entries, ordered by edge then id, kept in chunks of at most
// CHUNK_MAX entries (a two-level B+-tree without the tree: the chunks sit in an array ordered by their first entry).
// Q1's safe-band index keeps one per asset and side (risk/liquidation-book.ts): a batch end changes k of n entries
// in O(k × (log n + CHUNK_MAX)) — no pass over all n, which a flat sorted array needs for each splice or merge — and a
// mark move visits a prefix (edges below a value) or a suffix (edges above it) after two binary searches.

/** Entries per chunk before it splits in two (a splice inside a chunk moves at most this many). */
const CHUNK_MAX = 512;

/**
 * A run of entries in two arrays made once at their full capacity (CHUNK_MAX + 1) and never resized: `size` of them
 * are in use. A chunk that empties goes to the list's spares and is the next split's new chunk. So the list allocates
 * nothing once it has its chunks: a band re-derived every 10 s for 100,000 holders (perp.realize-100k) moved its
 * entries across chunks, and each split's splice and each regrown backing store was new memory the long-lived chunk
 * kept, which the next scavenge copied and promoted (~150 bytes per re-derived band, issue 12 fourth round).
 */
class Chunk {
  size = 0;
  readonly edges: bigint[] = new Array<bigint>(CHUNK_MAX + 1).fill(0n);
  readonly ids: number[] = new Array<number>(CHUNK_MAX + 1).fill(0);
}

/** Inserts (edge, id) at position `at` of `c` (size < CHUNK_MAX + 1) by moving the entries after it one up. */
function insertAt(c: Chunk, at: number, edge: bigint, id: number): void {
  const edges = c.edges;
  const ids = c.ids;
  for (let i = c.size; i > at; i--) {
    edges[i] = edges[i - 1]!;
    ids[i] = ids[i - 1]!;
  }
  edges[at] = edge;
  ids[at] = id;
  c.size++;
}

/** Removes the entry at position `at` of `c` by moving the entries after it one down (the freed slot keeps 0n). */
function removeAt(c: Chunk, at: number): void {
  const edges = c.edges;
  const ids = c.ids;
  const last = c.size - 1;
  for (let i = at; i < last; i++) {
    edges[i] = edges[i + 1]!;
    ids[i] = ids[i + 1]!;
  }
  edges[last] = 0n;
  c.size = last;
}

/** (edge, id) < (e, i)? */
function before(edge: bigint, id: number, e: bigint, i: number): boolean {
  return edge < e || (edge === e && id < i);
}

/** Position of the first entry of `c` not below (edge, id). */
function lowerBound(c: Chunk, edge: bigint, id: number): number {
  let lo = 0;
  let hi = c.size;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(c.edges[mid]!, c.ids[mid]!, edge, id)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first edge > value among the `size` sorted `edges` (size if none). */
function firstAbove(edges: readonly bigint[], size: number, value: bigint): number {
  let lo = 0;
  let hi = size;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! > value) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export class SortedEdges {
  /** The chunks in use, in order; chunkCount of chunks' slots are in use (the array only grows). */
  private readonly chunks: Chunk[] = [];
  private chunkCount = 0;
  /** Emptied chunks, for the next split. */
  private readonly spares: Chunk[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Index of the chunk where (edge, id) belongs: the last whose first entry is not above it (0 if none). */
  private chunkOf(edge: bigint, id: number): number {
    let lo = 0;
    let hi = this.chunkCount - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      const c = this.chunks[mid]!;
      if (before(edge, id, c.edges[0]!, c.ids[0]!)) hi = mid - 1;
      else lo = mid;
    }
    return lo;
  }

  /** Puts `c` at chunk position k, moving the chunks from k on one up. */
  private placeChunk(k: number, c: Chunk): void {
    const chunks = this.chunks;
    if (this.chunkCount === chunks.length) chunks.push(c);
    for (let j = this.chunkCount; j > k; j--) chunks[j] = chunks[j - 1]!;
    chunks[k] = c;
    this.chunkCount++;
  }

  /** Takes the (empty) chunk at position k out, into the spares. */
  private dropChunk(k: number): void {
    const chunks = this.chunks;
    this.spares.push(chunks[k]!);
    for (let j = k + 1; j < this.chunkCount; j++) chunks[j - 1] = chunks[j]!;
    this.chunkCount--;
  }

  /** Empties the list (its chunks become spares). */
  clear(): void {
    for (let k = 0; k < this.chunkCount; k++) {
      const c = this.chunks[k]!;
      c.edges.fill(0n, 0, c.size);
      c.size = 0;
      this.spares.push(c);
    }
    this.chunkCount = 0;
    this.count = 0;
  }

  insert(edge: bigint, id: number): void {
    if (this.chunkCount === 0) this.placeChunk(0, this.spares.pop() ?? new Chunk());
    const k = this.chunkOf(edge, id);
    const c = this.chunks[k]!;
    insertAt(c, lowerBound(c, edge, id), edge, id);
    this.count++;
    if (c.size > CHUNK_MAX) this.split(k, c);
  }

  /** Moves the upper half of the full chunk `c` (at position k) into a new chunk after it. */
  private split(k: number, c: Chunk): void {
    const tail = this.spares.pop() ?? new Chunk();
    const half = c.size >>> 1;
    for (let i = half; i < c.size; i++) {
      tail.edges[i - half] = c.edges[i]!;
      tail.ids[i - half] = c.ids[i]!;
      c.edges[i] = 0n;
    }
    tail.size = c.size - half;
    c.size = half;
    this.placeChunk(k + 1, tail);
  }

  /** Removes the entry (edge, id); false when it is not there. */
  remove(edge: bigint, id: number): boolean {
    if (this.chunkCount === 0) return false;
    const k = this.chunkOf(edge, id);
    const c = this.chunks[k]!;
    const at = lowerBound(c, edge, id);
    if (at >= c.size || c.edges[at] !== edge || c.ids[at] !== id) return false;
    removeAt(c, at);
    this.count--;
    if (c.size === 0 && this.chunkCount > 1) this.dropChunk(k);
    return true;
  }

  /** Calls `visit` with the id of every entry whose edge is > value, in order. */
  forEachAbove(value: bigint, visit: (id: number) => void): void {
    const chunks = this.chunks;
    const n = this.chunkCount;
    // The first chunk whose last edge is > value; entries before it are all ≤ value.
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = chunks[mid]!;
      if (c.size === 0 || c.edges[c.size - 1]! <= value) lo = mid + 1;
      else hi = mid;
    }
    for (let k = lo; k < n; k++) {
      const c = chunks[k]!;
      for (let i = k === lo ? firstAbove(c.edges, c.size, value) : 0; i < c.size; i++) visit(c.ids[i]!);
    }
  }

  /**
   * Calls `visit` with every entry's edge in order — from the lowest, or (`descending`) from the highest — until it
   * returns false: a best-first read of the first few of many (gateway/market-data.ts DepthSide) stops early.
   */
  forEachEdge(descending: boolean, visit: (edge: bigint) => boolean): void {
    const chunks = this.chunks;
    if (descending) {
      for (let k = this.chunkCount - 1; k >= 0; k--) {
        const c = chunks[k]!;
        for (let i = c.size - 1; i >= 0; i--) if (!visit(c.edges[i]!)) return;
      }
      return;
    }
    for (let k = 0; k < this.chunkCount; k++) {
      const c = chunks[k]!;
      for (let i = 0; i < c.size; i++) if (!visit(c.edges[i]!)) return;
    }
  }

  /** Calls `visit` with the id of every entry whose edge is < value, in order. */
  forEachBelow(value: bigint, visit: (id: number) => void): void {
    for (let k = 0; k < this.chunkCount; k++) {
      const c = this.chunks[k]!;
      if (c.size > 0 && c.edges[0]! >= value) return;
      for (let i = 0; i < c.size; i++) {
        if (c.edges[i]! >= value) return;
        visit(c.ids[i]!);
      }
    }
  }
}
