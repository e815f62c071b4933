// X7 restart: the gateway's account view restored from a snapshot (its rows made when first read, account-catch-up.ts
// AccountView) answers every query exactly as the view it was written from, before and after more events, and is
// written back to the same bytes; a damaged part is refused at the restore, not at a later read.
import { describe, expect, it } from "vitest";
import { EventKind, EventRecord, SnapshotFormatError, SnapshotReader, SnapshotWriter } from "../engine/model/index.ts";
import { loadConfig } from "../engine/pipeline/index.ts";
import { AccountView } from "../gateway/account-catch-up.ts";

const config = loadConfig();
const ASSETS = config.assets.length;
const ACCOUNTS = 40;

/** A deterministic stream of the events the view keeps: balances (small, ≥ 2^50, negative), orders, fills, dones. */
function* events(seed: number, count: number, firstSeq: number): Generator<EventRecord> {
  let x = seed;
  const next = (n: number): number => {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    return x % n;
  };
  const e = new EventRecord();
  const open: { account: number; orderId: number }[] = [];
  let orderId = seed * 10_000;
  for (let i = 0; i < count; i++) {
    e.clear();
    e.seq = firstSeq + i;
    e.account = (next(ACCOUNTS) + 1) * 16;
    const pick = next(10);
    if (pick < 5) {
      e.kind = EventKind.Balance;
      e.asset = next(ASSETS);
      e.marketSeq = next(1_000);
      e.available = BigInt(next(1_000_000)) + (pick === 0 ? 1n << 60n : 0n);
      e.locked = pick === 1 ? -BigInt(next(100)) : BigInt(next(5_000));
      e.lent = pick === 2 ? BigInt(next(9)) : 0n;
      e.borrowed = pick === 3 ? (1n << 55n) + BigInt(next(9)) : 0n;
    } else if (pick < 8 || open.length === 0) {
      e.kind = EventKind.OrderAccepted;
      e.orderId = ++orderId;
      e.market = next(3);
      e.clientId = BigInt(next(1_000_000)) << BigInt(next(40));
      e.side = next(2);
      e.price = BigInt(next(100_000) + 1) * 1_000_000n;
      e.quantity = BigInt(next(1_000) + 10);
      open.push({ account: e.account, orderId: e.orderId });
    } else if (pick === 8) {
      const taker = open[next(open.length)]!;
      const maker = open[next(open.length)]!;
      e.kind = EventKind.Fill;
      e.account = taker.account;
      e.orderId = taker.orderId;
      e.makerAccount = maker.account;
      e.makerOrderId = maker.orderId;
      e.quantity = BigInt(next(5) + 1);
    } else {
      const [done] = open.splice(next(open.length), 1);
      e.kind = EventKind.OrderDone;
      e.account = done!.account;
      e.orderId = done!.orderId;
    }
    yield e;
  }
}

function written(view: AccountView): Uint8Array {
  const w = new SnapshotWriter();
  view.writeState(w);
  return w.bytes().slice();
}

function restored(bytes: Uint8Array): AccountView {
  const view = new AccountView(config);
  const r = new SnapshotReader(bytes, "account view");
  view.readState(r);
  r.expectEnd();
  return view;
}

/** Every query of the view: each account's balance of each asset, and its snapshot frames (balances, orders). */
function answers(view: AccountView): unknown[] {
  const out: unknown[] = [];
  for (let a = 1; a <= ACCOUNTS + 1; a++) {
    const account = a * 16;
    for (let asset = 0; asset < ASSETS; asset++) out.push(view.balanceOf(account, asset) === undefined ? null : { ...view.balanceOf(account, asset) });
    const frames: number[][] = [];
    view.sendSnapshot(account, 99, 7n, (f) => frames.push([...f]));
    out.push(frames);
  }
  return out;
}

describe("the account view restored from a snapshot (X7)", () => {
  it("X7: written back before any read, it gives the same bytes; then every query, and the bytes after more events, equal the live view's", () => {
    const live = new AccountView(config);
    for (const e of events(1, 3_000, 1)) live.apply(e);
    const bytes = written(live);
    const view = restored(bytes);
    expect(written(view)).toEqual(bytes);
    // Some rows read (a query, an event), the rest not: the bytes are still the live view's.
    expect(view.balanceOf(16, 0)).toEqual(live.balanceOf(16, 0));
    for (const e of events(2, 40, 3_001)) {
      live.apply(e);
      view.apply(e);
    }
    expect(written(view)).toEqual(written(live));
    for (const e of events(3, 2_000, 3_041)) {
      live.apply(e);
      view.apply(e);
    }
    expect(answers(view)).toEqual(answers(live));
    expect(written(view)).toEqual(written(live));
    // Every row read now: a restore of those bytes again is the same view.
    expect(answers(restored(written(view)))).toEqual(answers(live));
  });

  it("X7: events for accounts whose rows were not read yet (each event kind first) act as on the live view", () => {
    const live = new AccountView(config);
    for (const e of events(4, 3_000, 1)) live.apply(e);
    const bytes = written(live);
    for (const kind of [EventKind.Balance, EventKind.OrderAccepted, EventKind.Fill, EventKind.OrderDone]) {
      const a = restored(bytes);
      const b = restored(bytes);
      let n = 0;
      for (const e of events(5, 3_000, 3_001)) {
        if (e.kind !== kind) continue;
        a.apply(e);
        if (++n === 50) break;
      }
      n = 0;
      const copy = new AccountView(config);
      copy.readState(new SnapshotReader(bytes));
      for (const e of events(5, 3_000, 3_001)) {
        if (e.kind !== kind) continue;
        copy.apply(e);
        b.apply(e);
        if (++n === 50) break;
      }
      expect(answers(a)).toEqual(answers(b));
      expect(written(a)).toEqual(written(copy));
    }
  });

  it("X7: a damaged account-view part (a row cut short, a bad boolean) is refused when it is restored", () => {
    const live = new AccountView(config);
    const first = new EventRecord();
    first.kind = EventKind.Balance;
    first.account = 16;
    first.asset = 0;
    first.available = 5n;
    live.apply(first);
    for (const e of events(6, 500, 2)) live.apply(e);
    const bytes = written(live);
    expect([...bytes.subarray(0, 3)]).toEqual([ACCOUNTS, 16, 1]); // rows, the first account, its asset 0 flag
    expect(() => new AccountView(config).readState(new SnapshotReader(bytes.subarray(0, bytes.length - 3)))).toThrow(SnapshotFormatError);
    const bad = bytes.slice();
    bad[2] = 7; // the first row's first asset flag (one-byte count and account id): not a boolean
    expect(() => new AccountView(config).readState(new SnapshotReader(bad))).toThrow("bad boolean 7");
  });
});
