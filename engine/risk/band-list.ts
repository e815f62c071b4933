// Q1's safe-band index (liquidation-book.ts): one asset's band edges, sorted by (edge, account), in chunks of at most
// CHUNK_ENTRIES_MAX entries. A flat array paid a memmove of the whole list per inserted or removed entry: at 100,000
// indexed accounts, the ~64 band changes of each batch of a spread P5/P4 pass (engine.ts P5S) cost ~12 ms (bench
// perp.realize-100k). Here an insert or a removal moves at most one chunk's entries; a merge of many changes (a mark
// shock re-deriving thousands of bands) is one pass over the list, as before.

const CHUNK_ENTRIES_MAX = 512;

function below(e1: bigint, a1: number, e2: bigint, a2: number): boolean {
  return e1 < e2 || (e1 === e2 && a1 < a2);
}

/** The first index of the run whose (edge, account) is not below (edge, account). */
function findIn(edges: readonly bigint[], accounts: readonly number[], edge: bigint, account: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (below(edges[mid]!, accounts[mid]!, edge, account)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class BandList {
  private readonly edges: bigint[][] = [];
  private readonly accounts: number[][] = [];
  private count = 0;

  get length(): number {
    return this.count;
  }

  insert(edge: bigint, account: number): void {
    if (this.edges.length === 0) {
      this.edges.push([edge]);
      this.accounts.push([account]);
      this.count = 1;
      return;
    }
    const c = Math.max(0, this.chunkFor(edge, account));
    const edges = this.edges[c]!;
    const accounts = this.accounts[c]!;
    const i = findIn(edges, accounts, edge, account);
    edges.splice(i, 0, edge);
    accounts.splice(i, 0, account);
    this.count++;
    if (edges.length > CHUNK_ENTRIES_MAX) {
      const half = CHUNK_ENTRIES_MAX >>> 1;
      this.edges.splice(c + 1, 0, edges.splice(half));
      this.accounts.splice(c + 1, 0, accounts.splice(half));
    }
  }

  /** Removes the entry; false when it is not in the list. */
  remove(edge: bigint, account: number): boolean {
    const c = this.chunkFor(edge, account);
    if (c < 0) return false;
    const edges = this.edges[c]!;
    const accounts = this.accounts[c]!;
    const i = findIn(edges, accounts, edge, account);
    if (i >= edges.length || edges[i] !== edge || accounts[i] !== account) return false;
    edges.splice(i, 1);
    accounts.splice(i, 1);
    this.count--;
    if (edges.length === 0) {
      this.edges.splice(c, 1);
      this.accounts.splice(c, 1);
    }
    return true;
  }

  /**
   * Rebuilds the list without the removed accounts' entries and with the added ones (any order), in one pass:
   * O(n + k log k) for k changes.
   */
  merge(removed: ReadonlySet<number>, addEdges: readonly bigint[], addAccounts: readonly number[]): void {
    const order = addEdges.map((_, i) => i);
    order.sort((x, y) => (addEdges[x]! < addEdges[y]! ? -1 : addEdges[x]! > addEdges[y]! ? 1 : addAccounts[x]! - addAccounts[y]!));
    const oldEdges = this.edges;
    const oldAccounts = this.accounts;
    const chunks = oldEdges.length;
    const outEdges: bigint[] = [];
    const outAccounts: number[] = [];
    let j = 0;
    for (let c = 0; c < chunks; c++) {
      const edges = oldEdges[c]!;
      const accounts = oldAccounts[c]!;
      for (let i = 0; i < edges.length; i++) {
        if (removed.has(accounts[i]!)) continue;
        while (j < order.length && below(addEdges[order[j]!]!, addAccounts[order[j]!]!, edges[i]!, accounts[i]!)) {
          outEdges.push(addEdges[order[j]!]!);
          outAccounts.push(addAccounts[order[j++]!]!);
        }
        outEdges.push(edges[i]!);
        outAccounts.push(accounts[i]!);
      }
    }
    for (; j < order.length; j++) {
      outEdges.push(addEdges[order[j]!]!);
      outAccounts.push(addAccounts[order[j]!]!);
    }
    this.edges.length = 0;
    this.accounts.length = 0;
    const half = CHUNK_ENTRIES_MAX >>> 1;
    for (let i = 0; i < outEdges.length; i += half) {
      this.edges.push(outEdges.slice(i, i + half));
      this.accounts.push(outAccounts.slice(i, i + half));
    }
    this.count = outEdges.length;
  }

  /** Calls `visit` with the account of every entry whose edge is above `mark` (ascending). */
  forEachAbove(mark: bigint, visit: (account: number) => void): void {
    const chunks = this.edges;
    // The first chunk whose last edge is above mark: every chunk from it on has such entries.
    let lo = 0;
    let hi = chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const edges = chunks[mid]!;
      if (edges[edges.length - 1]! > mark) hi = mid;
      else lo = mid + 1;
    }
    for (let c = lo; c < chunks.length; c++) {
      const edges = chunks[c]!;
      const accounts = this.accounts[c]!;
      let i = c === lo ? firstAbove(edges, mark) : 0;
      for (; i < edges.length; i++) visit(accounts[i]!);
    }
  }

  /** Calls `visit` with the account of every entry whose edge is below `mark` (ascending). */
  forEachBelow(mark: bigint, visit: (account: number) => void): void {
    const chunks = this.edges;
    for (let c = 0; c < chunks.length; c++) {
      const edges = chunks[c]!;
      const accounts = this.accounts[c]!;
      for (let i = 0; i < edges.length; i++) {
        if (edges[i]! >= mark) return;
        visit(accounts[i]!);
      }
    }
  }

  /** The last chunk whose first entry is not above (edge, account) (-1: the entry is below every chunk). */
  private chunkFor(edge: bigint, account: number): number {
    const edges = this.edges;
    let lo = 0;
    let hi = edges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (!below(edge, account, edges[mid]![0]!, this.accounts[mid]![0]!)) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }
}

/** The first index whose edge is above `mark` (edges ascending). */
function firstAbove(edges: readonly bigint[], mark: bigint): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid]! > mark) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
