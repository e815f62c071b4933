// S5 fee tiers: each user's 30-day traded volume (USD, all its accounts) in daily buckets keyed by engine time,
// and the tier it selects from the config's table.
import { SNAPSHOT_COUNT_MAX, SnapshotTag, type FeeTier, type SnapshotReader, type SnapshotWriter } from "../model/index.ts";

export const VOLUME_WINDOW_DAYS = 30;
export const DAY_MS = 86_400_000;

/**
 * Engine day of a time (ms since the epoch, a non-negative safe integer: AdvanceTime is a u64 that never moves back
 * from 0): buckets are UTC days of engine time, never the wall clock. Integer arithmetic, exact.
 */
export function dayOf(timeMs: number): number {
  return (timeMs - (timeMs % DAY_MS)) / DAY_MS;
}

/** Every untraded user's buckets: shared and never written (a user's first bucket gives it its own arrays). */
const NO_DAYS: readonly number[] = Object.freeze([]);
const NO_USD: readonly bigint[] = Object.freeze([]);

/**
 * One user's traded volume: its daily buckets and the window total as of `day`. The buckets are a ring of 30 slots
 * (day d in slot d % 30, a slot's old day dropped when a later one takes it), kept sparse: only the slots used, in slot
 * order — a user who trades on a few days holds a few entries, not 30 (two 30-entry arrays were ~600 bytes of every
 * trader's heap: perp.realize-100k's heap snapshot). A user has one from its first fill on (Account.volume); a user
 * without one is tier 0 with volume 0, as one whose buckets are empty (tiers start at 0: config.ts).
 */
export class UserVolume {
  /** Engine day each used slot holds, in slot (day % 30) order. */
  days: number[] = NO_DAYS as number[];
  /** USD (PRICE_DECIMALS) traded on that day. */
  usd: bigint[] = NO_USD as bigint[];
  /** Σ of the buckets of days (day − 29 … day): derived, recomputed when the day moves on. */
  totalUsd = 0n;
  day = -1;
  tier = 0;

  /** True until the user's first bucket (its arrays are the shared empty ones). */
  get untraded(): boolean {
    return this.days === NO_DAYS;
  }

  /** The index of the entry for `day`'s slot: made (USD 0) or taken over from the slot's older day (USD reset). */
  bucketOf(day: number): number {
    if (this.days === NO_DAYS) {
      // One entry (an empty array's first insert reserves 17 slots).
      this.days = [day];
      this.usd = [0n];
      return 0;
    }
    const slot = day % VOLUME_WINDOW_DAYS;
    let k = 0;
    while (k < this.days.length && this.days[k]! % VOLUME_WINDOW_DAYS < slot) k++;
    if (k < this.days.length && this.days[k]! % VOLUME_WINDOW_DAYS === slot) {
      if (this.days[k] !== day) {
        // The slot held day − 30k: already outside the window, so not in the total.
        this.days[k] = day;
        this.usd[k] = 0n;
      }
      return k;
    }
    this.days.splice(k, 0, day);
    this.usd.splice(k, 0, 0n);
    return k;
  }
}

export class VolumeBook {
  private readonly users = new Map<number, UserVolume>();
  /** Tier thresholds, ascending (USD, PRICE_DECIMALS). */
  private readonly minVolumeUsd: bigint[];

  constructor(readonly tiers: readonly FeeTier[]) {
    this.minVolumeUsd = tiers.map((t) => t.minVolumeUsd);
  }

  /** Users with a record. */
  get size(): number {
    return this.users.size;
  }

  /** The user's record (created empty): the accounts of a user share it, so a fill needs no lookup. */
  userVolume(user: number): UserVolume {
    let u = this.users.get(user);
    if (u === undefined) {
      u = new UserVolume();
      this.users.set(user, u);
    }
    return u;
  }

  /** Rolls a record's window total to `day` (a no-op on the same day). */
  roll(u: UserVolume, day: number): UserVolume {
    if (u.day !== day) {
      // Days only move forward (AdvanceTime is monotonic); O(30) once per user per day.
      let total = 0n;
      for (let i = 0; i < u.days.length; i++) {
        const d = u.days[i]!;
        if (d > day - VOLUME_WINDOW_DAYS && d <= day) total += u.usd[i]!;
      }
      u.totalUsd = total;
      u.day = day;
      u.tier = this.tierOfVolume(total);
    }
    return u;
  }

  /** The highest tier whose threshold the volume reaches (tier 0 starts at 0). */
  tierOfVolume(volumeUsd: bigint): number {
    const mins = this.minVolumeUsd;
    let tier = 0;
    for (let i = 1; i < mins.length; i++) if (volumeUsd >= mins[i]!) tier = i;
    return tier;
  }

  /** S5: the user's tier on `day` (its volume of the 30 days ending that day, before any further trade). */
  tierOf(user: number, day: number): number {
    const u = this.users.get(user);
    if (u === undefined) return 0;
    return this.roll(u, day).tier;
  }

  volumeUsdOf(user: number, day: number): bigint {
    const u = this.users.get(user);
    if (u === undefined) return 0n;
    return this.roll(u, day).totalUsd;
  }

  /** Adds one trade's USD value to the user's bucket of `day`. */
  add(u: UserVolume, day: number, usd: bigint): void {
    if (usd <= 0n) return;
    this.roll(u, day);
    const k = u.bucketOf(day);
    u.usd[k] = u.usd[k]! + usd;
    u.totalUsd += usd;
    // Volume only grows here, so the tier can only rise: look further only once the next threshold is reached.
    const mins = this.minVolumeUsd;
    if (u.tier + 1 < mins.length && u.totalUsd >= mins[u.tier + 1]!) u.tier = this.tierOfVolume(u.totalUsd);
  }

  /**
   * X7: every user record, in insertion order (first fills), as it is. Snapshots of earlier builds also hold a record
   * for every user with an account (made with the account then): read as they are, they change no answer, only the
   * order of this section in the snapshots written after them.
   */
  writeSnapshot(w: SnapshotWriter): void {
    w.beginSection(SnapshotTag.RiskVolumes);
    w.uint(this.users.size);
    for (const [user, u] of this.users) {
      w.uint(user);
      w.int(u.day);
      w.uint(u.tier);
      w.big(u.totalUsd);
      w.uint(u.days.length);
      for (let k = 0; k < u.days.length; k++) {
        w.uint(u.days[k]! % VOLUME_WINDOW_DAYS);
        w.uint(u.days[k]!);
        w.big(u.usd[k]!);
      }
    }
    w.endSection();
  }

  /** Restores a fresh book (no user yet) from writeSnapshot's bytes. */
  restoreSnapshot(r: SnapshotReader): void {
    if (this.users.size !== 0) throw new Error("volume book: restore needs a fresh book");
    r.beginSection(SnapshotTag.RiskVolumes, "fee volumes");
    const users = r.count(SNAPSHOT_COUNT_MAX, "volume users");
    for (let n = 0; n < users; n++) {
      const u = this.userVolume(r.uint());
      u.day = r.int();
      u.tier = r.uint();
      if (u.tier >= this.tiers.length) r.fail(`fee tier ${u.tier} does not exist`);
      u.totalUsd = r.big();
      const used = r.count(VOLUME_WINDOW_DAYS, "volume buckets");
      let previous = -1;
      for (let k = 0; k < used; k++) {
        const i = r.uint();
        const day = r.uint();
        // Slots ascending, each holding a day of its own slot (what writeSnapshot writes).
        if (i >= VOLUME_WINDOW_DAYS || i <= previous || day % VOLUME_WINDOW_DAYS !== i) r.fail(`volume bucket ${i} (day ${day}) out of range or order`);
        previous = i;
        const k = u.bucketOf(day); // first: it may replace u.usd (the shared empty array until the first bucket)
        u.usd[k] = r.big();
      }
    }
    r.endSection();
  }

  /** Deterministic text of the buckets (the state; totals and tiers derive from them and the clock). */
  hashText(): string {
    const ids = [...this.users.keys()].sort((a, b) => a - b);
    let s = "";
    for (const id of ids) {
      const u = this.users.get(id)!;
      // A record without buckets (made by a fill worth 0 USD, or read from an earlier build) is not state.
      if (u.days.length === 0) continue;
      s += `v${id}`;
      for (let k = 0; k < u.days.length; k++) s += ` ${u.days[k]}:${u.usd[k]}`;
      s += "\n";
    }
    return s;
  }
}

/** USD value (PRICE_DECIMALS, rounded down) of `quoteUnits` of an asset with 10^decimals = `unit` at `markUsd`. */
export function quoteVolumeUsd(quoteUnits: bigint, markUsd: bigint, unit: bigint): bigint {
  return (quoteUnits * markUsd) / unit;
}
