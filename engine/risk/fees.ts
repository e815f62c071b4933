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

/**
 * The buckets of every user that has not traded: shared and never written (VolumeBook.add gives a user its own on
 * its first trade). Every user with an account has a record, and most never trade, so a large state — and its
 * restore from a snapshot — does not allocate 30 days of buckets per user.
 */
const UNUSED_BUCKET_DAYS: Int32Array = new Int32Array(VOLUME_WINDOW_DAYS).fill(-1);
const UNUSED_BUCKET_USD: readonly bigint[] = Object.freeze(new Array<bigint>(VOLUME_WINDOW_DAYS).fill(0n));

/** One user's traded volume: a ring of daily buckets and the window total as of `day`. */
export class UserVolume {
  /** Engine day each bucket holds (−1 = never used); bucket `d % 30` holds day d. Shared and all −1 until a trade. */
  bucketDay: Int32Array = UNUSED_BUCKET_DAYS;
  /** USD (PRICE_DECIMALS) traded on that day. */
  bucketUsd: bigint[] = UNUSED_BUCKET_USD as bigint[];
  /** Σ of the buckets of days (day − 29 … day): derived, recomputed when the day moves on. */
  totalUsd = 0n;
  day = -1;
  tier = 0;

  /** The user's own buckets, made on its first trade or restored bucket. */
  ownBuckets(): void {
    if (this.bucketDay !== UNUSED_BUCKET_DAYS) return;
    this.bucketDay = new Int32Array(VOLUME_WINDOW_DAYS).fill(-1);
    this.bucketUsd = new Array<bigint>(VOLUME_WINDOW_DAYS).fill(0n);
  }

  /** True until the user's first trade (its buckets are the shared unused ones). */
  get untraded(): boolean {
    return this.bucketDay === UNUSED_BUCKET_DAYS;
  }
}

export class VolumeBook {
  private readonly users = new Map<number, UserVolume>();
  /** Tier thresholds, ascending (USD, PRICE_DECIMALS). */
  private readonly minVolumeUsd: bigint[];

  constructor(readonly tiers: readonly FeeTier[]) {
    this.minVolumeUsd = tiers.map((t) => t.minVolumeUsd);
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
      for (let i = 0; i < VOLUME_WINDOW_DAYS; i++) {
        const d = u.bucketDay[i]!;
        if (d > day - VOLUME_WINDOW_DAYS && d <= day) total += u.bucketUsd[i]!;
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
    u.ownBuckets();
    const slot = day % VOLUME_WINDOW_DAYS;
    if (u.bucketDay[slot] !== day) {
      // The slot held day − 30k: already outside the window, so not in the total.
      u.bucketDay[slot] = day;
      u.bucketUsd[slot] = 0n;
    }
    u.bucketUsd[slot] = u.bucketUsd[slot]! + usd;
    u.totalUsd += usd;
    // Volume only grows here, so the tier can only rise: look further only once the next threshold is reached.
    const mins = this.minVolumeUsd;
    if (u.tier + 1 < mins.length && u.totalUsd >= mins[u.tier + 1]!) u.tier = this.tierOfVolume(u.totalUsd);
  }

  /** X7: every user record (also untraded ones: a record's existence is state), in insertion order, as it is. */
  writeSnapshot(w: SnapshotWriter): void {
    w.beginSection(SnapshotTag.RiskVolumes);
    w.uint(this.users.size);
    for (const [user, u] of this.users) {
      w.uint(user);
      w.int(u.day);
      w.uint(u.tier);
      w.big(u.totalUsd);
      let used = 0;
      for (let i = 0; i < VOLUME_WINDOW_DAYS; i++) if (u.bucketDay[i]! >= 0) used++;
      w.uint(used);
      for (let i = 0; i < VOLUME_WINDOW_DAYS; i++) {
        if (u.bucketDay[i]! < 0) continue;
        w.uint(i);
        w.uint(u.bucketDay[i]!);
        w.big(u.bucketUsd[i]!);
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
      if (used > 0) u.ownBuckets();
      for (let k = 0; k < used; k++) {
        const i = r.uint();
        if (i >= VOLUME_WINDOW_DAYS) r.fail(`volume bucket ${i} out of range`);
        u.bucketDay[i] = r.uint();
        u.bucketUsd[i] = r.big();
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
      // Records are created for every user with an account; only traded ones are state.
      if (u.untraded || u.bucketDay.every((d) => d < 0)) continue;
      s += `v${id}`;
      for (let i = 0; i < VOLUME_WINDOW_DAYS; i++) if (u.bucketDay[i]! >= 0) s += ` ${u.bucketDay[i]}:${u.bucketUsd[i]}`;
      s += "\n";
    }
    return s;
  }
}

/** USD value (PRICE_DECIMALS, rounded down) of `quoteUnits` of an asset with 10^decimals = `unit` at `markUsd`. */
export function quoteVolumeUsd(quoteUnits: bigint, markUsd: bigint, unit: bigint): bigint {
  return (quoteUnits * markUsd) / unit;
}
