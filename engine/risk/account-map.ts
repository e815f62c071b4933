// A risk shard's accounts by id (RiskState.accounts): a Map whose restored accounts may still be bytes (X7 restart).
//
// Why: restoring 100,000 accounts made 100,000 Account objects and their arrays — ~60 MB of a restored shard's heap,
// and with its GC ~40% of the engine worker's restore, the critical path of a restart — though most accounts are not
// read for a long while after it. A restore (engine/risk/snapshot.ts restoreAccounts) now keeps a plain account
// (default settings, no borrow, lend, pool log, perpetual state or unsettled USDC, no borrowing or perpetual order)
// as its snapshot bytes, and `PendingAccounts.make` decodes it, with its orders' open-order terms, when it is first
// read — by `get`, `has`… like the holds' records (holds.ts) and the gateway's views (account-catch-up.ts).
//
// Every read of the map sees the same accounts as an eager restore: `get` makes a pending account, `size` and `has`
// count it, and iteration first makes every pending one and puts the map back in the order an eager restore gives
// (the snapshot's order, then the accounts created since, in creation order), so what iterates — a snapshot, the
// state digest, scans in map order — is unchanged. Only `madeValues` skips pending accounts: the restore's own
// rebuilds (liquidation index, perpetual holders, autoRealizePnl list), which no plain account is part of.
import type { Account } from "./accounts.ts";

/** Restored accounts not made yet (engine/risk/snapshot.ts LazyAccounts). */
export interface PendingAccounts {
  /** Restored accounts not made yet. */
  readonly pending: number;
  /** Whether `id` is a pending (restored, not made) account. */
  isPending(id: number): boolean;
  /** Whether `id` was restored (pending or made). */
  isRestored(id: number): boolean;
  /** Makes pending account `id` (it is no longer pending); undefined when `id` is not pending. */
  make(id: number): Account | undefined;
  /** Every restored id, in the snapshot's order. */
  restoredIds(): ArrayLike<number>;
}

export class AccountMap extends Map<number, Account> {
  private lazy: PendingAccounts | null = null;

  /** X7: `pending` accounts are kept as bytes until first read (see the file comment). */
  setPending(pending: PendingAccounts): void {
    if (pending.pending > 0) this.lazy = pending;
  }

  /** Restored accounts not made yet (tests and the restore's figures). */
  get pendingCount(): number {
    return this.lazy === null ? 0 : this.lazy.pending;
  }

  override get(id: number): Account | undefined {
    const account = super.get(id);
    if (account !== undefined || this.lazy === null) return account;
    return this.makePending(id);
  }

  /** A pending account set over is made first (so it is counted once and iterated in its place). */
  override set(id: number, account: Account): this {
    if (this.lazy !== null && this.lazy.isPending(id)) this.get(id);
    return super.set(id, account);
  }

  override has(id: number): boolean {
    return super.has(id) || (this.lazy !== null && this.lazy.isPending(id));
  }

  override get size(): number {
    return super.size + this.pendingCount;
  }

  override delete(id: number): boolean {
    this.get(id);
    return super.delete(id);
  }

  override clear(): void {
    this.lazy = null;
    super.clear();
  }

  override values(): MapIterator<Account> {
    this.makeAll();
    return super.values();
  }

  override keys(): MapIterator<number> {
    this.makeAll();
    return super.keys();
  }

  override entries(): MapIterator<[number, Account]> {
    this.makeAll();
    return super.entries();
  }

  override [Symbol.iterator](): MapIterator<[number, Account]> {
    this.makeAll();
    return super[Symbol.iterator]();
  }

  override forEach(fn: (account: Account, id: number, map: Map<number, Account>) => void, thisArg?: unknown): void {
    this.makeAll();
    super.forEach(fn, thisArg);
  }

  /** The account if made (a pending one stays pending: a restore's own reads). */
  made(id: number): Account | undefined {
    return super.get(id);
  }

  /**
   * The restore made some accounts out of the snapshot's order (restoreHolds: those with a perpetual or borrowing
   * order): the made ones go back in that order, as the restore's rebuilds walk them (madeValues).
   */
  restoreOrder(): void {
    const lazy = this.lazy;
    if (lazy === null) return;
    const ids = lazy.restoredIds();
    const made: Account[] = [];
    for (let i = 0; i < ids.length; i++) {
      const account = super.get(ids[i]!);
      if (account !== undefined) made.push(account);
    }
    super.clear();
    for (const account of made) super.set(account.id, account);
  }

  /** The accounts made so far, pending ones skipped (the restore's rebuilds: see the file comment). */
  madeValues(): MapIterator<Account> {
    return super.values();
  }

  private makePending(id: number): Account | undefined {
    const lazy = this.lazy!;
    const account = lazy.make(id);
    if (account === undefined) return undefined;
    super.set(id, account);
    if (lazy.pending === 0) this.lazy = null;
    return account;
  }

  /** Makes every pending account and puts the entries in an eager restore's order (see the file comment). */
  private makeAll(): void {
    const lazy = this.lazy;
    if (lazy === null) return;
    this.lazy = null;
    const ids = lazy.restoredIds();
    const accounts: Account[] = [];
    for (let i = 0; i < ids.length; i++) accounts.push(super.get(ids[i]!) ?? lazy.make(ids[i]!)!);
    for (const account of super.values()) if (!lazy.isRestored(account.id)) accounts.push(account);
    super.clear();
    for (const account of accounts) super.set(account.id, account);
  }
}
