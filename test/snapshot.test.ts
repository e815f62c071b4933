// X7 (and the "snapshot +" half of X4): a snapshot of every stage at one batch boundary, restored into a fresh
// engine, goes on exactly as the engine it was taken from — the same events in the same order and the same state
// hash — for the in-process engine, the threaded engine (fused and split) and 2 × 2 shards, in both directions
// between them; a payload that is damaged, of another format version, config or topology, or that carries a field
// this version does not know, is refused with a clear error.
import { afterEach, describe, expect, it } from "vitest";
import fc from "fast-check";
import { CommandRecord, EventKind, EventRecord, SnapshotFormatError, SnapshotReader, SnapshotTag, SnapshotWriter, type EventSink } from "../engine/model/index.ts";
import { Engine, loadConfig, readSnapshotInfo, SNAPSHOT_FORMAT_VERSION, snapshotStateHash, splitSnapshot, ThreadedPipeline, type EngineTopology } from "../engine/pipeline/index.ts";
import { beginSnapshot, finishSnapshot } from "../engine/pipeline/snapshot.ts";
import { CommandGenerator, prng } from "./helpers/random-commands.ts";
import { Account } from "../engine/risk/accounts.ts";
import { HoldTable, OrderHold } from "../engine/risk/holds.ts";
import { LendingCommandGenerator } from "./helpers/lending-commands.ts";
import { crc32 } from "node:zlib";
import { eventAmount2Slot, eventAmountSlot, eventCodeSlot, eventSideSlot } from "../engine/model/generated/records.ts";

const config = loadConfig();

/** An event as the rings carry it: every kind's own fields, the account and pool blocks only where they belong. */
function eventText(e: EventRecord): string {
  let s = `${e.kind}|${e.seq}|${e.marketSeq}|${e.account}|${e.market}|${e.asset}|${eventSideSlot(e)}|${e.orderId}|${e.clientId}|${eventCodeSlot(e)}|${e.message}|${e.price}|${e.quantity}|${eventAmountSlot(e)}|${eventAmount2Slot(e)}|${e.makerAccount}|${e.makerOrderId}|${e.makerClientId}|${e.makerFee}|${e.takerFee}|${e.tradeId}|${e.timeMs}`;
  const accountBlock = e.kind >= EventKind.AccountSettings && e.kind <= EventKind.MaxBorrowQuantity;
  if (e.kind === EventKind.Balance || accountBlock) s += `|${e.lent}|${e.borrowed}`;
  if (accountBlock) s += `|${e.netEquityUsd}|${e.collateralValueUsd}|${e.imr}|${e.mmr}|${e.settings}|${e.leverageLimit}|${e.feeTier}|${e.volumeUsd}`;
  // The kinds that carry the pool fields (later kinds, e.g. P3's MarkPrice, leave a reused record's values as they were).
  if (e.kind >= EventKind.PoolStats && e.kind <= EventKind.MaxBorrowQuantity) s += `|${e.utilization}|${e.borrowRate}|${e.lendRate}`;
  return s;
}

/** Funding, then `count` commands in batches of 1…maxBatch; `lending`: the stream with pools, margin and marks. */
function batches(seed: number, count: number, maxBatch: number, lending: boolean): CommandRecord[][] {
  const gen = lending ? new LendingCommandGenerator(seed) : new CommandGenerator(seed);
  const rand = prng(seed ^ 0x5eed);
  const out: CommandRecord[][] = [gen.funding()];
  let left = count;
  while (left > 0) {
    const n = Math.min(left, 1 + Math.floor(rand() * maxBatch));
    const b: CommandRecord[] = [];
    for (let i = 0; i < n; i++) b.push(gen.next());
    out.push(b);
    left -= n;
  }
  return out;
}

function collect(events: string[]): EventSink {
  return { publish: (e) => events.push(eventText(e)) };
}

function runEngine(engine: Engine, stream: readonly CommandRecord[][]): string[] {
  const events: string[] = [];
  const sink = collect(events);
  for (const b of stream) engine.processBatch(b, b.length, sink);
  return events;
}

const running: ThreadedPipeline[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

async function startThreaded(topology: EngineTopology, stages: "fused" | "split", events: string[], snapshot?: Uint8Array): Promise<ThreadedPipeline> {
  const fatal: string[] = [];
  const p = await ThreadedPipeline.start(
    config,
    { onEvent: (e) => events.push(eventText(e)), onFatal: (m) => fatal.push(m) },
    { topology, stages, ...(snapshot === undefined ? {} : { snapshot }) },
  );
  running.push(p);
  return p;
}

async function submitAll(p: ThreadedPipeline, stream: readonly CommandRecord[][], firstBatch: number): Promise<number> {
  let n = firstBatch - 1;
  for (const b of stream) await p.submitBatch(b, b.length, ++n);
  await p.waitForBatch(n);
  return n;
}

function expectSameEvents(actual: readonly string[], expected: readonly string[], ordered: boolean): void {
  expect(actual.length).toBe(expected.length);
  if (!ordered) {
    expect([...actual].sort()).toEqual([...expected].sort());
    return;
  }
  for (let i = 0; i < expected.length; i++) if (actual[i] !== expected[i]) expect(actual[i]).toBe(expected[i]);
}

describe("X7: snapshot and restore of the in-process engine", () => {
  for (const [name, topology] of [["1 × 1", { riskShards: 1, matchingShards: 1 }], ["2 risk × 2 matching", { riskShards: 2, matchingShards: 2 }]] as const) {
    for (const lending of [false, true]) {
      it(`X7: ${name}, ${lending ? "pools, margin orders, marks and hour marks" : "spot stream"}: N commands, snapshot, restore, M more — identical events and state hash`, () => {
        const stream = batches(lending ? 1407 : 1408, 3_000, 200, lending);
        const cut = Math.floor(stream.length / 2);
        const live = new Engine(config, topology);
        runEngine(live, stream.slice(0, cut));
        const bytes = live.snapshot();
        const restored = Engine.fromSnapshot(config, bytes);
        expect(restored.topology).toEqual(topology);
        expect(restored.stateHash()).toBe(live.stateHash());
        expect(restored.batches).toBe(cut);
        expect(restored.lastSeq).toBe(stream[cut - 1]!.at(-1)!.seq);
        for (const r of restored.risk) r.validateInternalState();
        for (const m of restored.matching) m.validateInternalState();
        // A restored engine writes the same bytes again (nothing lost, nothing reordered).
        expect(Buffer.from(restored.snapshot()).equals(Buffer.from(bytes))).toBe(true);
        const a = runEngine(live, stream.slice(cut));
        const b = runEngine(restored, stream.slice(cut));
        expect(a.length).toBeGreaterThan(3_000);
        expectSameEvents(b, a, true);
        expect(restored.stateHash()).toBe(live.stateHash());
        for (const r of restored.risk) r.validateInternalState();
      });
    }
  }

  it("X7: the state hash after restart from snapshot + tail equals an uninterrupted run, snapshots taken at several points", () => {
    const stream = batches(77, 2_000, 300, true);
    const whole = new Engine(config);
    const events = runEngine(whole, stream);
    for (const cut of [1, 7, stream.length - 1]) {
      const head = new Engine(config);
      const before = runEngine(head, stream.slice(0, cut));
      const after = runEngine(Engine.fromSnapshot(config, head.snapshot()), stream.slice(cut));
      expect([...before, ...after]).toEqual(events);
    }
  });

  for (const [name, topology] of [["1 × 1", { riskShards: 1, matchingShards: 1 }], ["2 × 2", { riskShards: 2, matchingShards: 2 }]] as const) {
    it(`X7: ${name}: restored holds are made on first read — with nothing hashed or written first, the tail's events, then every account's queries, the state hash and the next snapshot equal the live engine's (holds read by the tail and holds never read)`, () => {
      const stream = batches(2_024, 3_000, 200, true);
      const cut = Math.floor(stream.length / 2);
      const live = new Engine(config, topology);
      runEngine(live, stream.slice(0, cut));
      const bytes = live.snapshot();
      // Written again straight after a restore (every record made by the snapshot's walk): the same bytes.
      const rewritten = Engine.fromSnapshot(config, bytes);
      const pendingAll = rewritten.risk.reduce((n, r) => n + r.holdRecordsPending, 0);
      expect(pendingAll).toBeGreaterThan(50);
      expect(Buffer.from(rewritten.snapshot()).equals(Buffer.from(bytes))).toBe(true);
      expect(rewritten.risk.reduce((n, r) => n + r.holdRecordsPending, 0)).toBe(0);
      const restored = Engine.fromSnapshot(config, bytes);
      expect(restored.risk.reduce((n, r) => n + r.holdRecordsPending, 0)).toBe(pendingAll);
      expectSameEvents(runEngine(restored, stream.slice(cut)), runEngine(live, stream.slice(cut)), true);
      // The tail read some restored holds (fills, cancels) and left others unread.
      const pendingAfter = restored.risk.reduce((n, r) => n + r.holdRecordsPending, 0);
      expect(pendingAfter).toBeGreaterThan(0);
      expect(pendingAfter).toBeLessThan(pendingAll);
      for (let k = 0; k < live.risk.length; k++) {
        const a = live.risk[k]!;
        const b = restored.risk[k]!;
        expect(b.accountIds()).toEqual(a.accountIds());
        for (const id of a.accountIds()) {
          expect(b.collateralStatement(id)).toEqual(a.collateralStatement(id));
          expect(b.settingsOf(id)).toEqual(a.settingsOf(id));
          for (let asset = 0; asset < config.assets.length; asset++) {
            expect(b.balance(id, asset)).toEqual(a.balance(id, asset));
            expect(b.poolBalance(id, asset)).toEqual(a.poolBalance(id, asset));
          }
        }
      }
      expect(restored.stateHash()).toBe(live.stateHash());
      // The next snapshot holds the same state (its bytes may differ from the live engine's: holds are written in
      // slot order, and a restore packs the slots that removed holds left free).
      expect(Engine.fromSnapshot(config, restored.snapshot()).stateHash()).toBe(live.stateHash());
      for (const r of restored.risk) r.validateInternalState();
    });
  }

  for (const [name, topology] of [["1 × 1", { riskShards: 1, matchingShards: 1 }], ["2 × 2", { riskShards: 2, matchingShards: 2 }]] as const) {
    it(`X7: ${name}: restored plain accounts are kept as bytes and made on first read — written again at once, the same bytes; after a tail, the same events, queries, state hash and next snapshot as the live engine`, () => {
      const stream = batches(2_025, 3_000, 200, false);
      const cut = Math.floor(stream.length / 2);
      const live = new Engine(config, topology);
      runEngine(live, stream.slice(0, cut));
      const bytes = live.snapshot();
      const accounts = live.risk.reduce((n, r) => n + r.accountIds().length, 0);
      const pending = (e: Engine): number => e.risk.reduce((n, r) => n + r.accountsPending, 0);
      // The spot stream's accounts are all plain (default settings, no pool position, no perpetual): all kept.
      const rewritten = Engine.fromSnapshot(config, bytes);
      expect(accounts).toBeGreaterThan(20);
      expect(pending(rewritten)).toBe(accounts);
      expect(Buffer.from(rewritten.snapshot()).equals(Buffer.from(bytes))).toBe(true);
      expect(pending(rewritten)).toBe(0);
      const restored = Engine.fromSnapshot(config, bytes);
      expectSameEvents(runEngine(restored, stream.slice(cut)), runEngine(live, stream.slice(cut)), true);
      expect(pending(restored)).toBeLessThan(accounts);
      for (let k = 0; k < live.risk.length; k++) {
        const a = live.risk[k]!;
        const b = restored.risk[k]!;
        expect(b.accountIds()).toEqual(a.accountIds());
        for (const id of a.accountIds()) {
          expect(b.collateralStatement(id)).toEqual(a.collateralStatement(id));
          for (let asset = 0; asset < config.assets.length; asset++) expect(b.balance(id, asset)).toEqual(a.balance(id, asset));
        }
      }
      expect(restored.stateHash()).toBe(live.stateHash());
      expect(Engine.fromSnapshot(config, restored.snapshot()).stateHash()).toBe(live.stateHash());
      for (const r of restored.risk) r.validateInternalState();
    });
  }

  it("X7: a restored hold's record is made from the table's columns with every field as it was restored, amounts of 2^64 and more included; peek copies one without making it (nor reading its owner's account)", () => {
    const accounts = new Map<number, Account>([[32, new Account(32, config.assets.length, null, null)]]);
    const table = new HoldTable();
    table.beginRestore(2, (id) => accounts.get(id));
    const h = new OrderHold();
    const fill = (orderId: number, big: bigint): void => {
      h.reset();
      h.orderId = orderId;
      h.account = 32;
      h.market = 1;
      h.side = 1;
      h.clientId = (1n << 64n) - 1n;
      h.flags = 3;
      h.asset = 2;
      h.remaining = big;
      h.borrowMax = big + 1n;
      h.reserved = 5n;
      h.inflowAsset = 4;
      h.inflowCredit = big + 2n;
      h.inflowRepays = true;
      h.perp = false;
      h.perpOpen = 0n;
    };
    fill(7, 123_456_789n);
    table.restoreHeld(h);
    fill(9, 1n << 70n);
    table.restoreHeld(h);
    expect(table.recordsPending).toBe(2);
    const peeked = new OrderHold();
    expect(table.peek(9, peeked)).toBe(true);
    expect(table.recordsPending).toBe(2);
    expect(table.accountAt(0)).toBe(32);
    const made = table.get(9)!;
    expect(table.recordsPending).toBe(1);
    expect(made.owner).toBe(accounts.get(32));
    expect(peeked.owner).toBe(null);
    for (const hold of [made, peeked]) {
      expect([hold.slot, hold.orderId, hold.account, hold.market, hold.side, hold.clientId, hold.flags, hold.asset]).toEqual([1, 9, 32, 1, 1, (1n << 64n) - 1n, 3, 2]);
      expect([hold.remaining, hold.borrowMax, hold.reserved, hold.inflowAsset, hold.inflowCredit, hold.inflowRepays, hold.perp, hold.perpOpen]).toEqual([
        1n << 70n, (1n << 70n) + 1n, 5n, 4, (1n << 70n) + 2n, true, false, 0n,
      ]);
    }
    expect(table.get(9)).toBe(made);
    expect(table.slotAt(0).remaining).toBe(123_456_789n);
    expect(table.recordsPending).toBe(0);
    expect(table.sorted().map((x) => x.orderId)).toEqual([7, 9]);
  });

  it("X7: the follower's hash of a payload (snapshotStateHash, off the engine's threads) is the hash of the engine it was taken from; a damaged payload is refused", async () => {
    const engine = new Engine(config);
    runEngine(engine, batches(91, 1_500, 200, true));
    const payload = engine.snapshot().slice();
    expect(await snapshotStateHash(config, payload)).toBe(engine.stateHash());
    payload[payload.length >> 1] = payload[payload.length >> 1]! ^ 0x40;
    await expect(snapshotStateHash(config, payload)).rejects.toThrow("snapshot: checksum mismatch (the payload is damaged)");
  }, 60_000);

  it("X7: a snapshot of an empty engine restores to an empty engine", () => {
    const fresh = new Engine(config);
    const restored = Engine.fromSnapshot(config, fresh.snapshot());
    expect(restored.stateHash()).toBe(fresh.stateHash());
    expect(restored.batches).toBe(0);
    expect(restored.lastSeq).toBe(0);
  });
});

describe("X7: snapshots of the threaded engine", () => {
  const cases: [string, EngineTopology, "fused" | "split"][] = [
    ["fused 1 × 1", { riskShards: 1, matchingShards: 1 }, "fused"],
    ["split 1 × 1", { riskShards: 1, matchingShards: 1 }, "split"],
    ["2 risk × 2 matching", { riskShards: 2, matchingShards: 2 }, "split"],
  ];
  for (const [name, topology, stages] of cases) {
    it(`X7: ${name}: a snapshot taken through the rings restores into a threaded and an in-process engine that go on identically`, async () => {
      const stream = batches(topology.riskShards * 10 + (stages === "fused" ? 1 : 2), 2_000, 250, true);
      const cut = Math.floor(stream.length / 2);
      const liveEvents: string[] = [];
      const live = await startThreaded(topology, stages, liveEvents);
      const submitted = await submitAll(live, stream.slice(0, cut), 1);
      const snap = await live.snapshot();
      expect(snap.batch).toBe(submitted);
      expect(snap.seq).toBe(stream[cut - 1]!.at(-1)!.seq);
      // The hash the stages reported with their parts is the hash of the live engine at the same boundary.
      expect(snap.stateHash).toBe(await live.stateHash());
      const info = readSnapshotInfo(config, snap.bytes);
      expect(info).toEqual({ riskShards: topology.riskShards, matchingShards: topology.matchingShards, batch: submitted, seq: snap.seq });

      // Into the in-process engine.
      const inProcess = Engine.fromSnapshot(config, snap.bytes, topology);
      expect(inProcess.stateHash()).toBe(snap.stateHash);
      expect(inProcess.batches).toBe(submitted);

      // Into a fresh threaded engine of the same layout.
      const restoredEvents: string[] = [];
      const restored = await startThreaded(topology, stages, restoredEvents, snap.bytes);
      expect(await restored.stateHash()).toBe(snap.stateHash);
      await restored.waitForBatch(submitted);

      liveEvents.length = 0;
      const last = await submitAll(live, stream.slice(cut), submitted + 1);
      await submitAll(restored, stream.slice(cut), submitted + 1);
      const inProcessEvents = runEngine(inProcess, stream.slice(cut));
      const ordered = topology.riskShards === 1;
      expect(liveEvents.length).toBeGreaterThan(3_000);
      expectSameEvents(restoredEvents, liveEvents, ordered);
      expectSameEvents(inProcessEvents, liveEvents, ordered);
      const hash = await live.stateHash();
      expect(await restored.stateHash()).toBe(hash);
      expect(inProcess.stateHash()).toBe(hash);
      // The restored pipeline's own snapshot covers the batches it ran after the restore.
      const again = await restored.snapshot();
      expect(again.batch).toBe(last);
      expect(again.stateHash).toBe(hash);
    });
  }

  it("X7: an in-process snapshot starts the threaded engine (fused and split), which goes on as the in-process engine does", async () => {
    const stream = batches(5150, 2_500, 200, true);
    const cut = Math.floor(stream.length / 3);
    const engine = new Engine(config);
    runEngine(engine, stream.slice(0, cut));
    const bytes = engine.snapshot();
    const fusedEvents: string[] = [];
    const splitEvents: string[] = [];
    const fused = await startThreaded({ riskShards: 1, matchingShards: 1 }, "fused", fusedEvents, bytes);
    const split = await startThreaded({ riskShards: 1, matchingShards: 1 }, "split", splitEvents, bytes);
    await submitAll(fused, stream.slice(cut), cut + 1);
    await submitAll(split, stream.slice(cut), cut + 1);
    const expected = runEngine(engine, stream.slice(cut));
    expectSameEvents(fusedEvents, expected, true);
    expectSameEvents(splitEvents, expected, true);
    expect(await fused.stateHash()).toBe(engine.stateHash());
    expect(await split.stateHash()).toBe(engine.stateHash());
    // Started from the same bytes and fed the same batches, the threaded engines write the same bytes as an in-process
    // engine restored from them, with or without the stage digests. (Bytes are not canonical across histories: holds
    // follow the hold table's slot order, which an engine that never restarted recycles differently.)
    const twin = Engine.fromSnapshot(config, bytes);
    runEngine(twin, stream.slice(cut));
    const expectedBytes = Buffer.from(twin.snapshot());
    const withHash = await fused.snapshot();
    expect(withHash.stateHash).toBe(engine.stateHash());
    expect(Buffer.from(withHash.bytes).equals(expectedBytes)).toBe(true);
    const bare = await split.snapshot({ stateHash: false });
    expect(Object.keys(bare).sort()).toEqual(["batch", "bytes", "seq"]);
    expect(bare.batch).toBe(engine.batches);
    expect(Buffer.from(bare.bytes).equals(expectedBytes)).toBe(true);
  });

  it("X7: an in-process 2 × 2 snapshot starts a threaded 2 × 2 engine with the same outcome", async () => {
    const topology = { riskShards: 2, matchingShards: 2 };
    const stream = batches(2222, 1_500, 200, true);
    const cut = Math.floor(stream.length / 2);
    const engine = new Engine(config, topology);
    runEngine(engine, stream.slice(0, cut));
    const events: string[] = [];
    const p = await startThreaded(topology, "split", events, engine.snapshot());
    await submitAll(p, stream.slice(cut), cut + 1);
    expectSameEvents(events, runEngine(engine, stream.slice(cut)), false);
    expect(await p.stateHash()).toBe(engine.stateHash());
  });

  it("X7: started before its snapshot is read (a restart: the parts come by message once the promise settles), the threaded engine — fused, split and 2 × 2 — goes on as the in-process engine does; a promise of null starts it empty", async () => {
    const layouts = [
      [{ riskShards: 1, matchingShards: 1 }, "fused"],
      [{ riskShards: 1, matchingShards: 1 }, "split"],
      [{ riskShards: 2, matchingShards: 2 }, "split"],
    ] as const;
    for (const [topology, stages] of layouts) {
      const stream = batches(6160, 1_200, 150, true);
      const cut = Math.floor(stream.length / 2);
      const engine = new Engine(config, topology);
      runEngine(engine, stream.slice(0, cut));
      // The payload as a restart has it: a Buffer view inside the file's bytes, handed over only after the workers spawned.
      const payload = engine.snapshot();
      const file = Buffer.alloc(payload.length + 192);
      file.set(payload, 192);
      let give!: (b: Uint8Array | null) => void;
      const later = new Promise<Uint8Array | null>((resolve) => (give = resolve));
      const events: string[] = [];
      const starting = ThreadedPipeline.start(config, { onEvent: (e) => events.push(eventText(e)) }, { topology, stages, snapshot: later });
      setTimeout(() => give(file.subarray(192)), 50);
      const p = await starting;
      running.push(p);
      await submitAll(p, stream.slice(cut), cut + 1);
      expectSameEvents(events, runEngine(engine, stream.slice(cut)), topology.riskShards === 1);
      expect(await p.stateHash()).toBe(engine.stateHash());
    }
    const empty = await ThreadedPipeline.start(config, { onEvent: () => {} }, { snapshot: Promise.resolve(null) });
    running.push(empty);
    expect(await empty.stateHash()).toBe(new Engine(config).stateHash());
  });

  it("X7: a snapshot requested while a batch is being submitted lands between two batches", async () => {
    const stream = batches(99, 2_000, 1_000, false);
    const events: string[] = [];
    const p = await startThreaded({ riskShards: 2, matchingShards: 2 }, "split", events);
    let n = 0;
    const submits: Promise<void>[] = [];
    const snaps: Promise<{ batch: number; stateHash: string; bytes: Uint8Array }>[] = [];
    for (const b of stream) {
      submits.push(p.submitBatch(b, b.length, ++n));
      if (n % 3 === 0) snaps.push(p.snapshot());
      await submits[submits.length - 1];
    }
    await p.waitForBatch(n);
    for (const s of await Promise.all(snaps)) {
      const e = new Engine(config, { riskShards: 2, matchingShards: 2 });
      runEngine(e, stream.slice(0, s.batch));
      expect(Engine.fromSnapshot(config, s.bytes).stateHash()).toBe(e.stateHash());
      expect(s.stateHash).toBe(e.stateHash());
    }
    expect(snaps.length).toBeGreaterThan(0);
  });
});

describe("X7: damaged and foreign snapshots are refused", () => {
  const engine = new Engine(config, { riskShards: 2, matchingShards: 2 });
  runEngine(engine, batches(3, 2_000, 100, true));
  const bytes = engine.snapshot();

  /** A copy of `b` with its checksum recomputed (to reach the checks behind it). */
  function resealed(b: Uint8Array): Uint8Array {
    const out = b.slice();
    new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
    return out;
  }

  it("X7: any flipped byte is refused: checksum mismatch (damaged payload)", () => {
    const rand = prng(42);
    for (let i = 0; i < 50; i++) {
      const damaged = bytes.slice();
      const at = Math.floor(rand() * damaged.length);
      damaged[at] = damaged[at]! ^ (1 + Math.floor(rand() * 255));
      expect(() => Engine.fromSnapshot(config, damaged)).toThrow(SnapshotFormatError);
    }
    const damaged = bytes.slice();
    damaged[bytes.length >> 1] = damaged[bytes.length >> 1]! ^ 0x40;
    expect(() => Engine.fromSnapshot(config, damaged)).toThrow("snapshot: checksum mismatch (the payload is damaged)");
    expect(() => Engine.fromSnapshot(config, bytes.subarray(0, bytes.length - 100))).toThrow(SnapshotFormatError);
    expect(() => Engine.fromSnapshot(config, new Uint8Array(3))).toThrow("too short to be a snapshot");
  });

  it("X7: another format version, magic, config or topology is refused with a message that says which", () => {
    const newer = bytes.slice();
    new DataView(newer.buffer).setUint16(8, SNAPSHOT_FORMAT_VERSION + 1, true);
    expect(() => Engine.fromSnapshot(config, resealed(newer))).toThrow(`snapshot: format version ${SNAPSHOT_FORMAT_VERSION + 1}, this crossbook reads version ${SNAPSHOT_FORMAT_VERSION}`);
    const notOurs = bytes.slice();
    notOurs[0] = 0x58;
    expect(() => Engine.fromSnapshot(config, notOurs)).toThrow("not a crossbook snapshot (bad magic)");
    const other = { ...config, platformMaxLeverage: config.platformMaxLeverage - 1n };
    expect(() => Engine.fromSnapshot(other, bytes)).toThrow("written with another configuration");
    expect(() => Engine.fromSnapshot(config, bytes, { riskShards: 1, matchingShards: 1 })).toThrow("taken with 2 risk × 2 matching shards, the engine has 1 × 1");
    return expect(ThreadedPipeline.start(config, { onEvent: () => {} }, { topology: { riskShards: 1, matchingShards: 2 }, snapshot: bytes })).rejects.toThrow(
      "taken with 2 risk × 2 matching shards, the engine has 1 × 2",
    );
  });

  it("X7: a part that a stage refuses stops the in-process restore and the threaded start with that stage's message", async () => {
    // A well-formed payload (checksum, config, topology) whose risk part claims to be shard 5 of 1.
    const one = new Engine(config);
    runEngine(one, batches(4, 200, 50, false));
    const parts = splitSnapshot(config, one.snapshot());
    const w = new SnapshotWriter();
    beginSnapshot(w, config, parts.info);
    w.beginSection(SnapshotTag.Risk);
    w.uint(5);
    w.uint(1);
    w.endSection();
    w.raw(parts.matching[0]!);
    w.raw(parts.settlement);
    const forged = finishSnapshot(w);
    expect(() => Engine.fromSnapshot(config, forged)).toThrow("risk shard 0: risk shard 5 of 1 found where shard 0 of 1 was expected");
    const fatal: string[] = [];
    await expect(ThreadedPipeline.start(config, { onEvent: () => {}, onFatal: (m) => fatal.push(m) }, { snapshot: forged, stages: "split" })).rejects.toThrow(
      "risk shard 5 of 1 found where shard 0 of 1 was expected",
    );
    // The same when the workers were started before the snapshot was read (a restart), fused and split.
    for (const stages of ["fused", "split"] as const) {
      await expect(ThreadedPipeline.start(config, { onEvent: () => {} }, { snapshot: Promise.resolve(forged), stages })).rejects.toThrow(
        "risk shard 5 of 1 found where shard 0 of 1 was expected",
      );
    }
  });

  it("X7: started before its snapshot is read, the threaded engine refuses a payload of another topology or a damaged one, and a read that fails, with their messages", async () => {
    const opts = (snapshot: Promise<Uint8Array | null>) => ({ topology: { riskShards: 1, matchingShards: 2 }, snapshot });
    await expect(ThreadedPipeline.start(config, { onEvent: () => {} }, opts(Promise.resolve(bytes)))).rejects.toThrow(
      "taken with 2 risk × 2 matching shards, the engine has 1 × 2",
    );
    const damaged = bytes.slice();
    damaged[bytes.length >> 1] = damaged[bytes.length >> 1]! ^ 0x40;
    await expect(ThreadedPipeline.start(config, { onEvent: () => {} }, { snapshot: Promise.resolve(damaged) })).rejects.toThrow(
      "snapshot: checksum mismatch (the payload is damaged)",
    );
    await expect(ThreadedPipeline.start(config, { onEvent: () => {} }, opts(Promise.reject(new Error("cannot read: EIO"))))).rejects.toThrow("cannot read: EIO");
  });

  it("X7: a section with a field this version does not know, or an unknown section, is refused rather than misread", () => {
    // The settlement section is the last one: append a byte to its body (a newer version's extra field).
    const body = bytes.subarray(0, bytes.length - 4);
    const settlementAt = lastSectionOffset(body, SnapshotTag.Settlement);
    const grown = new Uint8Array(body.length + 1 + 4);
    grown.set(body);
    grown[body.length] = 7;
    const dv = new DataView(grown.buffer);
    dv.setUint32(settlementAt + 2, dv.getUint32(settlementAt + 2, true) + 1, true);
    expect(() => Engine.fromSnapshot(config, resealed(grown))).toThrow(/settlement: section 9 has 1 bytes this version does not know/);
    // An unknown tag where the settlement section should be.
    const unknown = body.slice();
    new DataView(unknown.buffer).setUint16(settlementAt, 99, true);
    const sealed = new Uint8Array(unknown.length + 4);
    sealed.set(unknown);
    expect(() => Engine.fromSnapshot(config, resealed(sealed))).toThrow("expected section 9 (settlement), found section 99: written by another version of crossbook?");
  });
});

/** Offset of the last top-level section with `tag` (walks the stage sections after the engine section). */
function lastSectionOffset(body: Uint8Array, tag: number): number {
  const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
  let at = 10;
  let found = -1;
  while (at < body.length) {
    if (dv.getUint16(at, true) === tag) found = at;
    at += 6 + dv.getUint32(at + 2, true);
  }
  return found;
}

describe("X7: the snapshot byte writer and reader", () => {
  it("X7: bigints of any size, signed and unsigned integers and strings read back exactly", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.bigInt(), fc.bigInt({ min: -(1n << 300n), max: 1n << 300n }), fc.bigInt({ min: -(1n << 51n), max: 1n << 51n }))),
        fc.array(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER })),
        fc.array(fc.integer({ min: -(2 ** 51), max: 2 ** 51 })),
        fc.string(),
        (bigs, uints, ints, text) => {
          const w = new SnapshotWriter(8);
          for (const b of bigs) w.big(b);
          for (const u of uints) w.uint(u);
          for (const i of ints) w.int(i);
          w.str(text);
          const r = new SnapshotReader(w.bytes());
          for (const b of bigs) expect(r.big()).toBe(b);
          for (const u of uints) expect(r.uint()).toBe(u);
          for (const i of ints) expect(r.int()).toBe(i);
          expect(r.str()).toBe(text);
          r.expectEnd();
        },
      ),
    );
  });

  it("X7: repeated values read back exactly through the reader's cache of small bigints (colliding slots evict, never confuse)", () => {
    // 20,000 distinct values of |x| < 2^50 (more than the cache's slots, so slots collide), each read again later and
    // next to a neighbour one apart, signed both ways, with larger values in between.
    const values: bigint[] = [];
    for (let i = 1; i <= 20_000; i++) values.push(BigInt(i) * 1_000_003n * (i % 2 === 0 ? 1n : -1n), BigInt(i) * 1_000_003n + 1n);
    values.push((1n << 50n) - 1n, -(1n << 50n) + 1n, 1n << 60n);
    const sequence = [...values, ...values.slice().reverse(), ...values];
    const w = new SnapshotWriter(8);
    for (const v of sequence) w.big(v);
    const r = new SnapshotReader(w.bytes());
    for (const v of sequence) expect(r.big()).toBe(v);
    r.expectEnd();
  });

  it("X7: encodings are compact: zero and small values take one byte, a u64 amount at most nine", () => {
    const w = new SnapshotWriter();
    w.big(0n);
    w.big(31n);
    w.big(-32n);
    expect(w.length).toBe(3);
    w.big((1n << 64n) - 1n);
    expect(w.length).toBe(3 + 1 + 8);
    w.uint(127);
    expect(w.length).toBe(13);
    w.uint(128);
    expect(w.length).toBe(15);
  });

  it("X7: a reader refuses a truncated value, a wrong section, a short section and trailing bytes", () => {
    const w = new SnapshotWriter();
    w.beginSection(SnapshotTag.Settlement);
    w.uint(300);
    w.endSection();
    const bytes = w.bytes();
    expect(() => new SnapshotReader(bytes.subarray(0, bytes.length - 1), "t").beginSection(SnapshotTag.Settlement, "settlement")).toThrow("t: section 9 (settlement) claims 2 bytes, only 1 remain");
    expect(() => new SnapshotReader(bytes, "t").beginSection(SnapshotTag.Risk, "risk")).toThrow("t: expected section 2 (risk), found section 9");
    const r = new SnapshotReader(bytes, "t");
    r.beginSection(SnapshotTag.Settlement, "settlement");
    expect(() => r.u32()).toThrow("t: section 9 ends before its fields");
    expect(r.uint()).toBe(300);
    r.endSection();
    r.expectEnd();
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    const tail = new SnapshotReader(longer, "t");
    tail.beginSection(SnapshotTag.Settlement, "settlement");
    tail.uint();
    tail.endSection();
    expect(() => tail.expectEnd()).toThrow("t: 1 bytes after the end");
    expect(() => new SnapshotReader(new Uint8Array([0x80, 0x80]), "t").uint()).toThrow("t: truncated varint");
  });
});
