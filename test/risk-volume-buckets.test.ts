// S5's 30-day fee volume, kept sparse (risk/fees.ts UserVolume: only the slots a user used, in slot order) instead of
// a 30-slot ring per trader: random trades over random days give the ring's window totals and tiers, the ring's
// snapshot bytes (slot, day, USD for each used slot, slots ascending) and its hash text; a restore goes on the same.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EventKind, Side, SnapshotReader, SnapshotWriter, SnapshotTag, type CommandRecord, type EventSink } from "../engine/model/index.ts";
import { VolumeBook, VOLUME_WINDOW_DAYS } from "../engine/risk/index.ts";
import { Engine, loadConfig } from "../engine/pipeline/index.ts";
import { deposit, limit, resetSeq } from "./helpers/commands.ts";

const tiers = loadConfig().feeTiers;

/** The ring the sparse buckets replace (the previous UserVolume): slot d % 30 holds day d (−1 = never used). */
class RingVolume {
  readonly day = new Array<number>(VOLUME_WINDOW_DAYS).fill(-1);
  readonly usd = new Array<bigint>(VOLUME_WINDOW_DAYS).fill(0n);
  owned = false;

  add(day: number, usd: bigint): void {
    if (usd <= 0n) return;
    this.owned = true;
    const slot = day % VOLUME_WINDOW_DAYS;
    if (this.day[slot] !== day) {
      this.day[slot] = day;
      this.usd[slot] = 0n;
    }
    this.usd[slot] = this.usd[slot]! + usd;
  }

  total(day: number): bigint {
    let t = 0n;
    for (let i = 0; i < VOLUME_WINDOW_DAYS; i++) if (this.day[i]! > day - VOLUME_WINDOW_DAYS && this.day[i]! <= day) t += this.usd[i]!;
    return t;
  }

  /** The ring's bytes after (day, tier, total): used count, then slot, day, USD per used slot. */
  writeBuckets(w: SnapshotWriter): void {
    let used = 0;
    for (let i = 0; i < VOLUME_WINDOW_DAYS; i++) if (this.day[i]! >= 0) used++;
    w.uint(used);
    for (let i = 0; i < VOLUME_WINDOW_DAYS; i++) {
      if (this.day[i]! < 0) continue;
      w.uint(i);
      w.uint(this.day[i]!);
      w.big(this.usd[i]!);
    }
  }

  hashText(id: number): string {
    if (!this.owned) return "";
    let s = `v${id}`;
    for (let i = 0; i < VOLUME_WINDOW_DAYS; i++) if (this.day[i]! >= 0) s += ` ${this.day[i]}:${this.usd[i]}`;
    return `${s}\n`;
  }
}

describe("S5: sparse 30-day volume buckets", () => {
  it("S5, X7: property — random trades over random days give the 30-slot ring's totals, tiers, snapshot bytes and hash text; a restore goes on the same", () => {
    const trade = fc.record({ user: fc.integer({ min: 1, max: 4 }), dayStep: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 25, max: 70 })), usd: fc.bigInt({ min: 0n, max: 10n ** 16n }) });
    fc.assert(
      fc.property(fc.array(trade, { maxLength: 120 }), (trades) => {
        const book = new VolumeBook(tiers);
        const rings = new Map<number, RingVolume>();
        let day = 20_000;
        for (const t of trades) {
          day += t.dayStep;
          const u = book.userVolume(t.user);
          const ring = rings.get(t.user) ?? new RingVolume();
          rings.set(t.user, ring);
          book.add(u, day, t.usd);
          ring.add(day, t.usd);
          for (const [id, r] of rings) expect(book.volumeUsdOf(id, day)).toBe(r.total(day));
        }
        // Snapshot bytes: the book's section equals the ring's layout, user by user (insertion order).
        const w = new SnapshotWriter();
        book.writeSnapshot(w);
        const want = new SnapshotWriter();
        want.beginSection(SnapshotTag.RiskVolumes);
        want.uint(rings.size);
        for (const [id, r] of rings) {
          const u = book.userVolume(id);
          want.uint(id);
          want.int(u.day);
          want.uint(u.tier);
          want.big(u.totalUsd);
          r.writeBuckets(want);
        }
        want.endSection();
        expect(Buffer.from(w.bytes()).equals(Buffer.from(want.bytes()))).toBe(true);
        const ids = [...rings.keys()].sort((a, b) => a - b);
        expect(book.hashText()).toBe(ids.map((id) => rings.get(id)!.hashText(id)).join(""));
        // A restored book answers and goes on as the ring does.
        const restored = new VolumeBook(tiers);
        restored.restoreSnapshot(new SnapshotReader(w.bytes()));
        expect(restored.hashText()).toBe(book.hashText());
        day += 1;
        for (const id of ids) {
          restored.add(restored.userVolume(id), day, 7n);
          rings.get(id)!.add(day, 7n);
          expect(restored.volumeUsdOf(id, day)).toBe(rings.get(id)!.total(day));
          expect(restored.tierOf(id, day)).toBe(book.tierOfVolume(rings.get(id)!.total(day)));
        }
      }),
      { numRuns: 400 },
    );
  });

  it("S5, X7: a snapshot whose bucket is not in its day's slot (or out of slot order) is refused", () => {
    const bad = (slots: [number, number][]): SnapshotWriter => {
      const w = new SnapshotWriter();
      w.beginSection(SnapshotTag.RiskVolumes);
      w.uint(1);
      w.uint(5);
      w.int(20_010);
      w.uint(0);
      w.big(0n);
      w.uint(slots.length);
      for (const [slot, day] of slots) {
        w.uint(slot);
        w.uint(day);
        w.big(1n);
      }
      w.endSection();
      return w;
    };
    expect(() => new VolumeBook(tiers).restoreSnapshot(new SnapshotReader(bad([[20_010 % 30, 20_010]]).bytes()))).not.toThrow();
    expect(() => new VolumeBook(tiers).restoreSnapshot(new SnapshotReader(bad([[3, 20_010]]).bytes()))).toThrow(/volume bucket 3/);
    expect(() => new VolumeBook(tiers).restoreSnapshot(new SnapshotReader(bad([[20_001 % 30, 20_001], [20_010 % 30, 20_010]]).bytes()))).toThrow(/order/);
  });

  it("S5, X7: a user's volume record is made at its first fill, not with its account; a restore goes on exactly as the live engine", () => {
    const config = loadConfig();
    const live = new Engine(config, { riskShards: 1, matchingShards: 1 });
    const fills: number[] = [];
    const sink: EventSink = { publish: (e) => void (e.kind === EventKind.Fill && fills.push(e.account)) };
    const run = (engine: Engine, cmds: CommandRecord[]): void => engine.processBatch(cmds, cmds.length, sink);
    const usd = (n: bigint): bigint => n * 1_000_000n;
    const btcAt60k = 60_000n * 1_000_000_000n;
    resetSeq();
    run(live, [deposit(32, 0, usd(1_000_000n)), deposit(33, 0, usd(1_000_000n)), deposit(48, 2, 100_000_000n), deposit(64, 2, 100_000_000n)]);
    expect(live.risk[0]!.volumeUsers()).toBe(0); // four funded accounts of three users, none traded
    run(live, [limit(48, 0, Side.Sell, btcAt60k, 100_000n), limit(64, 0, Side.Sell, btcAt60k + 1_000_000_000n, 100_000n)]);
    expect(live.risk[0]!.volumeUsers()).toBe(0); // resting orders trade nothing
    run(live, [limit(32, 0, Side.Buy, btcAt60k, 100_000n)]);
    expect(fills).toEqual([32]);
    expect(live.risk[0]!.volumeUsers()).toBe(2); // users 2 (account 32) and 3 (account 48)
    const restored = Engine.fromSnapshot(config, live.snapshot());
    expect(restored.risk[0]!.volumeUsers()).toBe(2);
    expect(restored.stateHash()).toBe(live.stateHash());
    // Account 33 (user 2's second account) takes 64's ask: user 4's first fill; the same on both engines.
    const next = limit(33, 0, Side.Buy, btcAt60k + 1_000_000_000n, 100_000n);
    run(live, [next]);
    run(restored, [next]);
    expect(fills).toEqual([32, 33, 33]);
    expect([live.risk[0]!.volumeUsers(), restored.risk[0]!.volumeUsers()]).toEqual([3, 3]);
    expect(restored.stateHash()).toBe(live.stateHash());
    expect(Buffer.from(restored.snapshot()).equals(Buffer.from(live.snapshot()))).toBe(true);
  });

  it("S5, X7: records of untraded users (every user with an account had one in snapshots of earlier builds) change no answer", () => {
    const withThem = new VolumeBook(tiers);
    const without = new VolumeBook(tiers);
    for (const book of [withThem, without]) book.add(book.userVolume(7), 20_010, 3_000_000_000_000_000n);
    withThem.userVolume(5);
    withThem.userVolume(9);
    const w = new SnapshotWriter();
    withThem.writeSnapshot(w);
    const restored = new VolumeBook(tiers);
    restored.restoreSnapshot(new SnapshotReader(w.bytes()));
    expect(restored.size).toBe(3);
    for (const user of [5, 7, 9, 11]) {
      expect(restored.tierOf(user, 20_011)).toBe(without.tierOf(user, 20_011));
      expect(restored.volumeUsdOf(user, 20_011)).toBe(without.volumeUsdOf(user, 20_011));
    }
    expect(restored.tierOf(7, 20_011)).toBe(1);
    expect(restored.hashText()).toBe(without.hashText());
  });
});
