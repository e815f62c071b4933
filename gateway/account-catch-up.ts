// Catching up after falling behind (a client cut for unread events, or one that reconnects): the gateway keeps
//  - a bounded log of the events it sent for each watched account, so a client can ask for them again from a
//    sequence number it names (ResumeAccount), and
//  - a view of every account's balances and resting orders, kept from the engine's events, so a client can take a
//    fresh snapshot valid at a sequence point instead (QueryAccountSnapshot).
// Both are the gateway's own copies (the engine's stages own the state); both are bounded by named limits.
import { EventKind, EventRecord, SnapshotReader, type ExchangeConfig, type SnapshotWriter } from "../engine/model/index.ts";
import { encodeAccountSnapshot, encodeEvent, encodeOpenOrder } from "./codec/index.ts";
import { AccountOrders, OpenOrderTable } from "./open-order-table.ts";

/** Bytes of encoded events kept per logged account; the oldest are dropped beyond it. */
export const ACCOUNT_EVENT_LOG_BYTES_MAX = 256 * 1024;
/** Accounts whose events are logged at once; the one watched least recently is forgotten beyond it. */
export const ACCOUNT_EVENT_LOGS_MAX = 1024;

/** Bytes of the largest frame a log keeps in its arena (engine events encode to ~100–400 B); a larger one is refused. */
const LOGGED_FRAME_BYTES_MAX = 16 * 1024;
/** Arena bytes a new log starts with; it grows ARENA_GROWTH times at a step, up to ARENA_BYTES_MAX. */
const ARENA_BYTES_INITIAL = 4 * 1024;
/**
 * How many times larger an arena grows at a step (4 KB, 32 KB, then ARENA_BYTES_MAX, which a step within twice of it
 * goes to at once). Every step is fresh memory (page faults) and a copy of the kept frames: doubling made a busy log
 * take seven steps, ~0.8 MB touched to hold 288 KB — 3–4% of the gateway thread over the first seconds of the closed
 * loop (64 accounts' logs filling) — against ~0.3 MB in three steps. An idle account's log stays at 4 KB.
 */
const ARENA_GROWTH = 8;
/**
 * The arena's largest size: the byte budget plus room for a wrap's unused tail and the frame being written, so the
 * budget (not the arena) decides which frames are dropped.
 */
const ARENA_BYTES_MAX = ACCOUNT_EVENT_LOG_BYTES_MAX + 2 * LOGGED_FRAME_BYTES_MAX;

/**
 * One account's logged frames, oldest first. The frames' bytes live in one arena per log, written in a circle (a frame
 * that does not fit before the arena's end starts again at 0), and the frames themselves are views into it: logging an
 * event copies its bytes once and allocates no buffer. Index rings (seq, offset, length) are O(1) to append and to
 * drop the oldest. The arena grows in steps of ARENA_GROWTH up to ARENA_BYTES_MAX, the rings by doubling up to the most
 * frames the budget has held; they never shrink.
 */
class AccountLog {
  // The index rings are a power of two long (16, then doubled): a position is masked, not divided.
  private seqs = new Float64Array(16);
  private offsets = new Int32Array(16);
  private lengths = new Int32Array(16);
  private arena = new Uint8Array(ARENA_BYTES_INITIAL);
  /** Arena position where the next frame starts (or 0 when it does not fit before the end). */
  private writeAt = 0;
  /** Ring position of the oldest frame. */
  private head = 0;
  count = 0;
  bytes = 0;
  /** Events of commands from this seq on are all in the log (earlier ones were dropped or never logged). */
  coversFromSeq: number;
  /** When the account was last tracked (AccountEventLog's track count): the least recent is forgotten first. */
  trackedAt = 0;

  constructor(fromSeq: number) {
    this.coversFromSeq = fromSeq;
  }

  /**
   * Copies `frame` into the log; drops the oldest while the log holds more than ACCOUNT_EVENT_LOG_BYTES_MAX (keeping
   * the newest). Returns the logged copy: a view valid until the log drops it.
   */
  push(seq: number, frame: Uint8Array): Uint8Array {
    const at = this.append(seq, frame);
    return this.arena.subarray(at, at + frame.length);
  }

  /** push without the view: returns where the copy starts in the arena (no typed-array view made per event). */
  append(seq: number, frame: Uint8Array): number {
    const n = frame.length;
    if (n > LOGGED_FRAME_BYTES_MAX) throw new RangeError(`AccountLog: a ${n}-byte frame is over ${LOGGED_FRAME_BYTES_MAX}`);
    this.bytes += n;
    while (this.bytes > ACCOUNT_EVENT_LOG_BYTES_MAX && this.count > 0) this.dropOldest();
    if (this.count === this.seqs.length) this.growIndex();
    let at = this.placeFor(n);
    if (at < 0) {
      this.growArena();
      at = this.placeFor(n);
    }
    this.arena.set(frame, at);
    const slot = (this.head + this.count) & (this.seqs.length - 1);
    this.seqs[slot] = seq;
    this.offsets[slot] = at;
    this.lengths[slot] = n;
    this.count++;
    this.writeAt = at + n;
    return at;
  }

  /** The seq of the i-th frame, oldest first. */
  seqAt(i: number): number {
    return this.seqs[(this.head + i) & (this.seqs.length - 1)]!;
  }

  /** The i-th frame, oldest first: a view into the arena. */
  frameAt(i: number): Uint8Array {
    const slot = (this.head + i) & (this.seqs.length - 1);
    const at = this.offsets[slot]!;
    return this.arena.subarray(at, at + this.lengths[slot]!);
  }

  /**
   * Where an n-byte frame goes without overwriting a kept one — at writeAt, or at 0 after a wrap — or −1 when the
   * arena is too small for the frames kept (it then grows).
   */
  private placeFor(n: number): number {
    if (this.count === 0) return 0;
    const oldest = this.offsets[this.head]!;
    const wrapped = this.writeAt <= oldest; // the kept frames run from oldest to the end, then from 0 to writeAt
    if (!wrapped) {
      if (this.writeAt + n <= this.arena.length) return this.writeAt;
      return n <= oldest ? 0 : -1;
    }
    return this.writeAt + n <= oldest ? this.writeAt : -1;
  }

  private dropOldest(): void {
    const seq = this.seqs[this.head]!;
    this.bytes -= this.lengths[this.head]!;
    if (seq + 1 > this.coversFromSeq) this.coversFromSeq = seq + 1;
    this.head = (this.head + 1) & (this.seqs.length - 1);
    this.count--;
  }

  /** Twice the index room, the entries unrolled oldest first from position 0. */
  private growIndex(): void {
    const k = this.seqs.length * 2;
    const seqs = new Float64Array(k);
    const offsets = new Int32Array(k);
    const lengths = new Int32Array(k);
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) & (this.seqs.length - 1);
      seqs[i] = this.seqs[slot]!;
      offsets[i] = this.offsets[slot]!;
      lengths[i] = this.lengths[slot]!;
    }
    this.seqs = seqs;
    this.offsets = offsets;
    this.lengths = lengths;
    this.head = 0;
  }

  /**
   * A larger arena (ARENA_GROWTH times, at most ARENA_BYTES_MAX), the kept frames copied to its start oldest first. They lie in
   * at most two runs — from the oldest frame to the end of the last one written before a wrap, then from 0 to writeAt
   * after it — so the bytes move in two block copies and only the offsets are rewritten frame by frame (a copy per
   * frame made every growth of a busy log cost ~0.1 ms).
   */
  private growArena(): void {
    const grown = this.arena.length * ARENA_GROWTH;
    const size = grown * 2 > ARENA_BYTES_MAX ? ARENA_BYTES_MAX : grown;
    if (size <= this.arena.length) throw new Error("AccountLog: the arena is full below the byte budget (a frame bound is wrong)");
    const arena = new Uint8Array(size);
    const ring = this.seqs.length;
    const oldest = this.count === 0 ? 0 : this.offsets[this.head]!;
    // The first run: frames at or after the oldest one's offset (every frame when the log has not wrapped).
    let firstRunEnd = oldest;
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) & (ring - 1);
      const from = this.offsets[slot]!;
      if (from >= oldest && from + this.lengths[slot]! > firstRunEnd) firstRunEnd = from + this.lengths[slot]!;
    }
    const firstRunBytes = firstRunEnd - oldest;
    const wrapped = this.count > 0 && this.writeAt <= oldest;
    arena.set(this.arena.subarray(oldest, firstRunEnd), 0);
    if (wrapped) arena.set(this.arena.subarray(0, this.writeAt), firstRunBytes);
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) & (ring - 1);
      const from = this.offsets[slot]!;
      this.offsets[slot] = from >= oldest ? from - oldest : from + firstRunBytes;
    }
    this.arena = arena;
    this.writeAt = firstRunBytes + (wrapped ? this.writeAt : 0);
  }
}

/** The events sent for each watched account, as they were sent to its watchers (client_seq 0). */
export class AccountEventLog {
  private readonly logs = new Map<number, AccountLog>();
  /** Calls of track() so far: each log keeps the count of its latest one. */
  private tracks = 0;

  constructor(private readonly config: ExchangeConfig) {}

  /**
   * Starts (or refreshes) logging `account`: every event of a command after `doneSeq` (the last command the engine
   * finished) will be in the log. The least recently tracked account is forgotten beyond ACCOUNT_EVENT_LOGS_MAX.
   * Called for every command: a refresh only stamps the log (no map reordering); the scan for the least recent one
   * runs only when a new account arrives at the bound.
   */
  track(account: number, doneSeq: number): void {
    const stamp = ++this.tracks;
    const log = this.logs.get(account);
    if (log !== undefined) {
      log.trackedAt = stamp;
      return;
    }
    if (this.logs.size >= ACCOUNT_EVENT_LOGS_MAX) this.forgetLeastRecent();
    const fresh = new AccountLog(doneSeq + 1);
    fresh.trackedAt = stamp;
    this.logs.set(account, fresh);
  }

  private forgetLeastRecent(): void {
    let oldest = -1;
    let oldestAt = Infinity;
    for (const [account, log] of this.logs) {
      if (log.trackedAt < oldestAt) {
        oldestAt = log.trackedAt;
        oldest = account;
      }
    }
    this.logs.delete(oldest);
  }

  /** The frame record() logged for the last event in its account's view (a view of the log's copy), null when not logged. */
  plainFrame: Uint8Array | null = null;
  /** The frame record() logged for the last event, a fill, in its maker's view; null when not logged. */
  makerFrame: Uint8Array | null = null;

  /**
   * Logs one engine event for its account (and a fill for its maker's account, in the maker's view), each view
   * encoded once; the frames stay in plainFrame / makerFrame for the watchers (Sessions.dispatch sends the same bytes).
   * `stableFrames` false: nothing encodes between this call and the frames' sends, so plainFrame may be the
   * encoder's own view (valid until the next encode) — no view of the log's copy is made for it (a typed-array view
   * per event, ~50 ns and garbage). An event with a maker's view (encoded second) always gets the log's copies.
   */
  record(e: EventRecord, stableFrames = true): void {
    this.plainFrame = null;
    this.makerFrame = null;
    if (this.logs.size === 0) return;
    const log = this.logs.get(e.account);
    // Q3/Q4: a LiquidationTransfer's makerAccount (the backstop, the ADL counterparty) watches it as a fill's maker does.
    const makerView = (e.kind === EventKind.Fill || e.kind === EventKind.LiquidationTransfer) && e.makerAccount !== e.account;
    if (log !== undefined) {
      const frame = encodeEvent(e, 0n, this.config);
      if (stableFrames || makerView) this.plainFrame = log.push(e.seq, frame);
      else {
        log.append(e.seq, frame);
        this.plainFrame = frame;
      }
    }
    if (makerView) {
      const maker = this.logs.get(e.makerAccount);
      if (maker !== undefined) {
        this.makerFrame = maker.push(e.seq, encodeEvent(e, 0n, this.config, true));
      }
    }
  }

  /**
   * Sends again every logged event of `account` from the first one of a command with seq ≥ fromSeq, in the order
   * they were first sent (so a fill of an earlier command that was sent after it comes too). Returns how many were
   * sent, and whether the log reaches back to fromSeq (complete) — if not, some events are gone: take a snapshot.
   */
  replay(account: number, fromSeq: number, send: (frame: Uint8Array) => void): { events: number; complete: boolean } {
    const log = this.logs.get(account);
    if (log === undefined) return { events: 0, complete: false };
    let first = log.count;
    for (let i = 0; i < log.count; i++) {
      if (log.seqAt(i) >= fromSeq) {
        first = i;
        break;
      }
    }
    for (let i = first; i < log.count; i++) send(log.frameAt(i));
    return { events: log.count - first, complete: fromSeq >= log.coversFromSeq };
  }
}

/** Every account's latest Balance per asset and its resting orders, kept from the engine's events in order. */
/** A bound on every count read back from a snapshot's account view (accounts, resting orders). */
const ACCOUNT_VIEW_SNAPSHOT_ROWS_MAX = 100_000_000;

/**
 * An account's latest Balance event of one asset: what its Balance frame carries besides the account and asset (a
 * whole EventRecord per account and asset was ~0.7 kB: 400,000 of them made a snapshot restore GC for seconds).
 */
export class BalanceEntry {
  seq = 0;
  marketSeq = 0;
  available = 0n;
  locked = 0n;
  lent = 0n;
  borrowed = 0n;
}

type BalanceRow = (BalanceEntry | undefined)[];

/**
 * X7 restart: a restored view keeps its rows in the snapshot's bytes (a copy of its part) and makes an account's
 * objects when it is first read — an event for it, a query, a snapshot — so a restart does not build 400,000 balance
 * entries and 200,000 order rows on the main thread while the engine restores (most accounts are not read for a
 * while). readState still reads every byte (a damaged part is refused at the restore, as before); a row not read yet
 * is written back byte for byte. In the maps a number is such a row: its offset in those bytes. The order of the maps
 * (the snapshot's bytes) is the same as an eager restore's: a row made takes its own key's place.
 */
export class AccountView {
  private readonly balances = new Map<number, BalanceRow | number>();
  /** Per account with resting orders, its rows' list (or a restored row not read yet); the rows are in `table`. */
  private readonly orders = new Map<number, AccountOrders | number>();
  private readonly table = new OpenOrderTable();
  /** The restored part's bytes while rows of it are not read yet (null: none). */
  private restored: SnapshotReader | null = null;
  private rowsNotRead = 0;

  constructor(private readonly config: ExchangeConfig) {}

  /** The account's latest Balance of the asset (GET /balances, balance-view.ts), undefined before its first. */
  balanceOf(account: number, asset: number): Readonly<BalanceEntry> | undefined {
    return this.balanceRow(account)?.[asset];
  }

  apply(e: EventRecord): void {
    switch (e.kind) {
      case EventKind.Balance: {
        let row = this.balanceRow(e.account);
        if (row === undefined) {
          row = new Array<BalanceEntry | undefined>(this.config.assets.length);
          this.balances.set(e.account, row);
        }
        const b = row[e.asset] ?? (row[e.asset] = new BalanceEntry());
        b.seq = e.seq;
        b.marketSeq = e.marketSeq;
        b.available = e.available;
        b.locked = e.locked;
        b.lent = e.lent;
        b.borrowed = e.borrowed;
        return;
      }
      case EventKind.OrderAccepted: {
        let open = this.openOrders(e.account);
        if (open === undefined) {
          open = new AccountOrders();
          this.orders.set(e.account, open);
        }
        this.table.put(open, e.account, e.orderId, e.market, e.clientId, e.side, e.price, e.quantity);
        return;
      }
      case EventKind.Fill:
        this.reduce(e.account, e.orderId, e.quantity);
        this.reduce(e.makerAccount, e.makerOrderId, e.quantity);
        return;
      case EventKind.OrderDone: {
        const open = this.openOrders(e.account);
        if (open === undefined) return;
        this.table.remove(open, e.account, e.orderId);
        if (open.count === 0) this.orders.delete(e.account);
        return;
      }
    }
  }

  /** The account's balance row, made from the restored bytes on its first read. */
  private balanceRow(account: number): BalanceRow | undefined {
    const row = this.balances.get(account);
    if (typeof row !== "number") return row;
    const made = readBalanceRow(this.restoredAt(row), this.config.assets.length);
    this.balances.set(account, made);
    return made;
  }

  /** The account's resting orders, made from the restored bytes on their first read. */
  private openOrders(account: number): AccountOrders | undefined {
    const open = this.orders.get(account);
    if (typeof open !== "number") return open;
    const made = readOpenOrders(this.restoredAt(open), account, this.table);
    this.orders.set(account, made);
    return made;
  }

  /** The restored bytes at `offset`, for one row about to be made (the bytes are dropped after the last one). */
  private restoredAt(offset: number): SnapshotReader {
    const r = this.restored!;
    r.seek(offset);
    if (--this.rowsNotRead === 0) this.restored = null;
    return r;
  }

  /** A row not read yet, as bytes: what writeState would write for it once made (the bytes were written by it). */
  private restoredBytes(offset: number, skip: (r: SnapshotReader, assets: number) => void): Uint8Array {
    const r = this.restored!;
    r.seek(offset);
    skip(r, this.config.assets.length);
    const end = r.offset;
    r.seek(offset);
    return r.raw(end - offset);
  }

  /** X7: a snapshot part — the latest Balance per account and asset, and every resting order, as kept. */
  writeState(w: SnapshotWriter): void {
    w.uint(this.balances.size);
    for (const [account, row] of this.balances) {
      w.uint(account);
      if (typeof row === "number") {
        w.raw(this.restoredBytes(row, skipBalanceRow));
        continue;
      }
      for (const b of row) {
        w.bool(b !== undefined);
        if (b === undefined) continue;
        w.uint(b.seq);
        w.uint(b.marketSeq);
        w.big(b.available);
        w.big(b.locked);
        w.big(b.lent);
        w.big(b.borrowed);
      }
    }
    w.uint(this.orders.size);
    for (const [account, open] of this.orders) {
      w.uint(account);
      if (typeof open === "number") {
        w.raw(this.restoredBytes(open, skipOpenOrders));
        continue;
      }
      w.uint(open.count);
      for (const o of this.table.rowsOf(open)) {
        w.uint(o.market);
        w.uint(o.orderId);
        w.big(o.clientId);
        w.u8(o.side);
        w.big(o.price);
        w.big(o.remaining);
      }
    }
  }

  /** Reads (and checks) writeState's bytes; the rows are made when first read (see the class comment). */
  readState(r: SnapshotReader): void {
    this.balances.clear();
    this.orders.clear();
    this.table.clear();
    this.restored = null;
    const assets = this.config.assets.length;
    const start = r.offset;
    for (let n = r.count(ACCOUNT_VIEW_SNAPSHOT_ROWS_MAX, "account-view balance rows"); n > 0; n--) {
      const account = r.uint();
      this.balances.set(account, r.offset - start);
      skipBalanceRow(r, assets);
    }
    for (let n = r.count(ACCOUNT_VIEW_SNAPSHOT_ROWS_MAX, "account-view order rows"); n > 0; n--) {
      const account = r.uint();
      this.orders.set(account, r.offset - start);
      skipOpenOrders(r);
    }
    this.rowsNotRead = this.balances.size + this.orders.size;
    if (this.rowsNotRead > 0) this.restored = new SnapshotReader(r.copyFrom(start), "account view");
  }

  private reduce(account: number, orderId: number, quantity: bigint): void {
    if (this.openOrders(account) !== undefined) this.table.reduce(account, orderId, quantity);
  }

  /**
   * Sends the snapshot of `account` valid after command `validAtSeq`: a Balance per asset it ever held, an OpenOrder
   * per resting order (by order id), then AccountSnapshot. Every frame carries the request's clientSeq.
   */
  sendSnapshot(account: number, validAtSeq: number, clientSeq: bigint, send: (frame: Uint8Array) => void): void {
    let balances = 0;
    const row = this.balanceRow(account);
    if (row !== undefined) {
      const e = new EventRecord();
      e.kind = EventKind.Balance;
      e.account = account;
      for (let asset = 0; asset < row.length; asset++) {
        const b = row[asset];
        if (b === undefined) continue;
        e.asset = asset;
        e.seq = b.seq;
        e.marketSeq = b.marketSeq;
        e.available = b.available;
        e.locked = b.locked;
        e.lent = b.lent;
        e.borrowed = b.borrowed;
        send(encodeEvent(e, clientSeq, this.config));
        balances++;
      }
    }
    const list = this.openOrders(account);
    const open = list === undefined ? [] : this.table.rowsOf(list).sort((a, b) => a.orderId - b.orderId);
    for (const o of open) send(encodeOpenOrder(account, o.market, o.orderId, o.clientId, o.side, o.price, o.remaining, clientSeq, this.config));
    send(encodeAccountSnapshot(account, validAtSeq, balances, open.length, clientSeq));
  }
}

/** One account's balance row of AccountView.writeState's bytes (the reader at its first asset). */
function readBalanceRow(r: SnapshotReader, assets: number): BalanceRow {
  const row = new Array<BalanceEntry | undefined>(assets);
  for (let asset = 0; asset < assets; asset++) {
    if (!r.bool()) continue;
    const b = new BalanceEntry();
    b.seq = r.uint();
    b.marketSeq = r.uint();
    b.available = r.big();
    b.locked = r.big();
    b.lent = r.big();
    b.borrowed = r.big();
    row[asset] = b;
  }
  return row;
}

/** readBalanceRow's bytes stepped over, checked as it reads them. */
function skipBalanceRow(r: SnapshotReader, assets: number): void {
  for (let asset = 0; asset < assets; asset++) {
    if (!r.bool()) continue;
    r.uint();
    r.uint();
    r.skipBig();
    r.skipBig();
    r.skipBig();
    r.skipBig();
  }
}

/** One account's resting orders of AccountView.writeState's bytes (the reader at their count), into `table`. */
function readOpenOrders(r: SnapshotReader, account: number, table: OpenOrderTable): AccountOrders {
  const open = new AccountOrders();
  for (let k = r.count(ACCOUNT_VIEW_SNAPSHOT_ROWS_MAX, "resting orders"); k > 0; k--) {
    const market = r.uint();
    const orderId = r.uint();
    const clientId = r.big();
    const side = r.u8();
    const price = r.big();
    const remaining = r.big();
    table.put(open, account, orderId, market, clientId, side, price, remaining);
  }
  return open;
}

/** readOpenOrders' bytes stepped over, checked as it reads them. */
function skipOpenOrders(r: SnapshotReader): void {
  for (let k = r.count(ACCOUNT_VIEW_SNAPSHOT_ROWS_MAX, "resting orders"); k > 0; k--) {
    r.uint();
    r.uint();
    r.skipBig();
    r.u8();
    r.skipBig();
    r.skipBig();
  }
}
