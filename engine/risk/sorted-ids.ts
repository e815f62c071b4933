// A set of account ids kept in ascending order, for the spread P4/P5 passes (engine.ts decision P5S): each batch asks
// for the next holder at or after a cursor, so a pass over 100,000 holders never sorts them and no batch scans them.
// Chunked (a list of sorted runs of at most CHUNK_IDS_MAX ids): add and delete move at most one run's ids, ceiling is
// two binary searches. Iteration (values) is in ascending order, so a set rebuilt from the same ids is the same set.

const CHUNK_IDS_MAX = 512;

export class SortedIdSet {
  /** Sorted runs; every id of chunk i is below every id of chunk i + 1; no chunk is empty. */
  private readonly chunks: number[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  has(id: number): boolean {
    const c = this.chunkFor(id);
    if (c < 0) return false;
    const chunk = this.chunks[c]!;
    const i = lowerBound(chunk, id);
    return i < chunk.length && chunk[i] === id;
  }

  /** Adds `id`; false when it was there already. */
  add(id: number): boolean {
    const chunks = this.chunks;
    if (chunks.length === 0) {
      chunks.push([id]);
      this.count = 1;
      return true;
    }
    const c = this.chunkFor(id);
    const chunk = chunks[c < 0 ? 0 : c]!;
    const i = lowerBound(chunk, id);
    if (i < chunk.length && chunk[i] === id) return false;
    if (i === chunk.length) chunk.push(id);
    else chunk.splice(i, 0, id);
    this.count++;
    if (chunk.length > CHUNK_IDS_MAX) chunks.splice((c < 0 ? 0 : c) + 1, 0, chunk.splice(CHUNK_IDS_MAX >>> 1));
    return true;
  }

  /** Removes `id`; false when it was not there. */
  delete(id: number): boolean {
    const c = this.chunkFor(id);
    if (c < 0) return false;
    const chunk = this.chunks[c]!;
    const i = lowerBound(chunk, id);
    if (i === chunk.length || chunk[i] !== id) return false;
    chunk.splice(i, 1);
    this.count--;
    if (chunk.length === 0) this.chunks.splice(c, 1);
    return true;
  }

  /** The smallest id ≥ `id`, or -1 when there is none. */
  ceiling(id: number): number {
    const chunks = this.chunks;
    let c = this.chunkFor(id);
    if (c < 0) c = 0;
    for (; c < chunks.length; c++) {
      const chunk = chunks[c]!;
      const i = lowerBound(chunk, id);
      if (i < chunk.length) return chunk[i]!;
    }
    return -1;
  }

  clear(): void {
    this.chunks.length = 0;
    this.count = 0;
  }

  /** Every id, ascending. */
  *values(): IterableIterator<number> {
    for (const chunk of this.chunks) yield* chunk;
  }

  [Symbol.iterator](): IterableIterator<number> {
    return this.values();
  }

  /** The last chunk whose first id is ≤ `id` (-1: `id` is below every id). */
  private chunkFor(id: number): number {
    const chunks = this.chunks;
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (chunks[mid]![0]! <= id) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }
}

/** The first index whose id is ≥ `id` (ids ascending). */
function lowerBound(ids: readonly number[], id: number): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
