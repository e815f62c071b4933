// The byte writer and reader of stage snapshots (SPEC X7): compact (varints, bigints of any size, no floats, no
// JSON), versioned, and cut into tagged, length-prefixed sections so that a reader refuses what it does not know —
// an unknown section, a section longer than the fields it reads (a field added by a newer version), a truncated or
// over-long payload — with a SnapshotFormatError that says where, instead of misreading the bytes after it.
//
// Encodings (little-endian where fixed):
//   uint        LEB128 varint of a non-negative safe integer (< 2^53)
//   int         zigzag, then uint (|x| < 2^52)
//   big         a bigint of any size: uint h; h even → the value is zigzag(h / 2) (|x| < 2^50, one to eight bytes);
//               h odd → h = (byteLength << 2) | (negative << 1) | 1, then the magnitude's bytes, little-endian
//   str         uint byte length, then UTF-8
//   section     u16 tag, u32 byte length of the body, the body
// Domain folders (risk, matching, settlement) write their own state with it; the pipeline composes the parts.

/** A snapshot that this version cannot read: wrong format, unknown section or field, damaged bytes. */
export class SnapshotFormatError extends Error {
  override name = "SnapshotFormatError";
}

/** Bigints in (−SMALL_BIG_LIMIT, SMALL_BIG_LIMIT) take the short encoding (the doubled zigzag stays below 2^53). */
const SMALL_BIG_LIMIT = 2 ** 50;
const SECTION_HEADER_BYTES = 6;
const ZERO = 0n;
/** Slots of SnapshotReader.smallBig's cache (2^BIG_CACHE_BITS). */
const BIG_CACHE_BITS = 12;
const BIG_CACHE_SLOTS = 1 << BIG_CACHE_BITS;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export class SnapshotWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;
  /** Start offsets of the sections still open (nested sections are allowed). */
  private readonly open: number[] = [];

  constructor(initialBytes = 1 << 16) {
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.pos;
  }

  /**
   * Starts over, keeping the buffer (a writer reused from snapshot to snapshot needs no growth after the first); also
   * after a write that failed half-way.
   */
  reset(): void {
    this.open.length = 0;
    this.pos = 0;
  }

  /** The bytes written so far (a view; copy it before writing more if it must stay). */
  bytes(): Uint8Array {
    if (this.open.length !== 0) throw new Error(`snapshot writer: ${this.open.length} section(s) still open`);
    return this.buf.subarray(0, this.pos);
  }

  private ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(x: number): void {
    this.ensure(1);
    this.buf[this.pos++] = x;
  }

  u16(x: number): void {
    this.ensure(2);
    this.view.setUint16(this.pos, x, true);
    this.pos += 2;
  }

  u32(x: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, x, true);
    this.pos += 4;
  }

  /** A non-negative safe integer. */
  uint(x: number): void {
    if (this.pos + 8 > this.buf.length) this.ensure(8);
    const buf = this.buf;
    let p = this.pos;
    if (x >>> 0 === x) {
      // A u32 (the common case: counts, ids, small amounts): 7-bit groups by shifts.
      let n = x;
      while (n >= 0x80) {
        buf[p++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
      buf[p++] = n;
    } else {
      if (!Number.isSafeInteger(x) || x < 0) throw new RangeError(`snapshot: uint ${x} is not a non-negative safe integer`);
      // Four 7-bit groups of the low 28 bits, then the rest (< 2^25) by shifts.
      const low = x % 0x10000000;
      let high = (x - low) / 0x10000000;
      buf[p++] = (low & 0x7f) | 0x80;
      buf[p++] = ((low >>> 7) & 0x7f) | 0x80;
      buf[p++] = ((low >>> 14) & 0x7f) | 0x80;
      buf[p++] = ((low >>> 21) & 0x7f) | 0x80;
      while (high >= 0x80) {
        buf[p++] = (high & 0x7f) | 0x80;
        high >>>= 7;
      }
      buf[p++] = high;
    }
    this.pos = p;
  }

  /** A signed safe integer with |x| < 2^52 (zigzag). */
  int(x: number): void {
    this.uint(x >= 0 ? x * 2 : -x * 2 - 1);
  }

  bool(x: boolean): void {
    this.u8(x ? 1 : 0);
  }

  /** A bigint of any size. */
  big(x: bigint): void {
    if (x === ZERO) {
      // Zero is most slots of a state (locked, lent, borrowed…): one byte, no conversion.
      if (this.pos >= this.buf.length) this.ensure(1);
      this.buf[this.pos++] = 0;
      return;
    }
    // One conversion decides: below 2^50 in magnitude Number(x) is exact, and nothing at or above 2^50 rounds under it.
    const n = Number(x);
    if (n < SMALL_BIG_LIMIT && n > -SMALL_BIG_LIMIT) {
      this.uint(n >= 0 ? n * 4 : -n * 4 - 2);
      return;
    }
    const negative = x < 0n;
    let m = negative ? -x : x;
    let bytes = 0;
    for (let t = m; t > 0n; t >>= 8n) bytes++;
    this.uint(bytes * 4 + (negative ? 2 : 0) + 1);
    this.ensure(bytes);
    for (let i = 0; i < bytes; i++) {
      this.buf[this.pos++] = Number(m & 0xffn);
      m >>= 8n;
    }
  }

  str(s: string): void {
    const b = encoder.encode(s);
    this.uint(b.length);
    this.raw(b);
  }

  /** Bytes as they are (the caller knows their length). */
  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Opens a section with `tag`; endSection() writes its length. */
  beginSection(tag: number): void {
    this.u16(tag);
    this.u32(0);
    this.open.push(this.pos);
  }

  endSection(): void {
    const start = this.open.pop();
    if (start === undefined) throw new Error("snapshot writer: endSection without beginSection");
    this.view.setUint32(start - 4, this.pos - start, true);
  }
}

export class SnapshotReader {
  private pos: number;
  private readonly view: DataView;
  /** End offsets of the sections being read. */
  private readonly ends: number[] = [];
  private readonly tags: number[] = [];
  /** Where the current section (or the payload) ends. */
  private end: number;
  /** smallBig's cache: the codes (h) of the slots (0 = empty: zero is never cached), and their values. */
  private bigKeys: Float64Array | null = null;
  private bigVals: bigint[] | null = null;

  constructor(
    private readonly buf: Uint8Array,
    /** What the bytes are, for error messages ("risk shard 1"). */
    private readonly what = "snapshot",
  ) {
    this.pos = 0;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.end = buf.length;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.limit() - this.pos;
  }

  private limit(): number {
    return this.end;
  }

  fail(message: string): never {
    throw new SnapshotFormatError(`${this.what}: ${message} (at byte ${this.pos})`);
  }

  private need(n: number): void {
    if (this.pos + n > this.limit()) this.fail(this.ends.length === 0 ? "truncated" : `section ${this.tags[this.tags.length - 1]} ends before its fields`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const x = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return x;
  }

  u32(): number {
    this.need(4);
    const x = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return x;
  }

  uint(): number {
    const buf = this.buf;
    let p = this.pos;
    if (p + 5 <= this.end) {
      // Up to 28 bits by shifts (counts, ids, most amounts); longer ones below.
      let b = buf[p++]!;
      let x = b & 0x7f;
      if (b < 0x80) {
        this.pos = p;
        return x;
      }
      for (let shift = 7; shift < 28; shift += 7) {
        b = buf[p++]!;
        x |= (b & 0x7f) << shift;
        if (b < 0x80) {
          this.pos = p;
          return x;
        }
      }
      return this.uintTail(p, x);
    }
    return this.uintTail(p, 0, true);
  }

  /** The varint from byte p on, `low` holding its first 28 bits (or from its start, `fromStart`), with bounds checks. */
  private uintTail(from: number, low: number, fromStart = false): number {
    const buf = this.buf;
    const end = this.end;
    let p = from;
    let x = fromStart ? 0 : low;
    let scale = fromStart ? 1 : 0x10000000;
    for (let i = fromStart ? 0 : 4; i < 8; i++) {
      if (p >= end) this.fail("truncated varint");
      const b = buf[p++]!;
      x += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (x > Number.MAX_SAFE_INTEGER) break;
        this.pos = p;
        return x;
      }
      scale *= 0x80;
    }
    return this.fail("varint out of range");
  }

  int(): number {
    const z = this.uint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  bool(): boolean {
    const b = this.u8();
    if (b > 1) this.fail(`bad boolean ${b}`);
    return b === 1;
  }

  big(): bigint {
    const h = this.uint();
    // Zero is most slots of a restored state (locked, lent, borrowed…): one shared value, not a heap bigint each.
    if (h === 0) return ZERO;
    const kind = h % 4;
    if (kind === 0 || kind === 2) return this.smallBig(h, kind);
    const bytes = (h - (h % 4)) / 4;
    const negative = h % 4 === 3;
    this.need(bytes);
    let m = 0n;
    for (let i = bytes - 1; i >= 0; i--) m = (m << 8n) | BigInt(this.buf[this.pos + i]!);
    this.pos += bytes;
    return negative ? -m : m;
  }

  /**
   * A value of |x| < 2^50 (h = its zigzag code × 2), shared with the last one of the same code that hashed to its
   * slot: a restored state repeats values (lot-sized quantities, their holds, equal deposits), and each distinct
   * bigint is a heap object that every scavenge of the restore copies. Bigints are immutable, so sharing is safe.
   */
  private smallBig(h: number, kind: number): bigint {
    const keys = (this.bigKeys ??= new Float64Array(BIG_CACHE_SLOTS));
    const vals = (this.bigVals ??= new Array<bigint>(BIG_CACHE_SLOTS).fill(ZERO));
    const slot = Math.imul(h | 0, 0x9e3779b1) >>> (32 - BIG_CACHE_BITS);
    if (keys[slot] === h) return vals[slot]!;
    const v = kind === 0 ? BigInt(h / 4) : BigInt(-(h + 2) / 4);
    keys[slot] = h;
    vals[slot] = v;
    return v;
  }

  str(): string {
    const n = this.uint();
    this.need(n);
    let s: string;
    try {
      s = decoder.decode(this.buf.subarray(this.pos, this.pos + n));
    } catch {
      return this.fail("string is not UTF-8");
    }
    this.pos += n;
    return s;
  }

  raw(n: number): Uint8Array {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** Steps over a big without making it: the scan of bytes kept to be decoded later (checked as big() checks them). */
  skipBig(): void {
    const h = this.uint();
    const kind = h % 4;
    if (kind === 0 || kind === 2) return;
    const bytes = (h - kind) / 4;
    this.need(bytes);
    this.pos += bytes;
  }

  /** Steps over `n` bigs as skipBig does; a zero (one 0 byte: most slots of a state) without decoding a varint. */
  skipBigs(n: number): void {
    const buf = this.buf;
    for (let i = 0; i < n; i++) {
      if (this.pos < this.end && buf[this.pos] === 0) this.pos++;
      else this.skipBig();
    }
  }

  /** A copy of the bytes from offset `start` to the current position (kept after the payload is dropped). */
  copyFrom(start: number): Uint8Array {
    if (start < 0 || start > this.pos) throw new RangeError(`snapshot reader: copyFrom(${start}) past the position ${this.pos}`);
    // Not slice(): a payload read from a file is a Buffer, whose slice() is a view of the file's memory.
    const out = new Uint8Array(this.pos - start);
    out.set(this.buf.subarray(start, this.pos));
    return out;
  }

  /** Moves back to byte `offset`, read already (in the current section): a part read again another way. */
  rewind(offset: number): void {
    if (offset < 0 || offset > this.pos) throw new RangeError(`snapshot reader: rewind(${offset}) past the position ${this.pos}`);
    this.pos = offset;
  }

  /** Moves to byte `offset` (no section open): a reader kept over such a copy decodes its parts when asked. */
  seek(offset: number): void {
    if (this.ends.length !== 0 || offset < 0 || offset > this.end) throw new RangeError(`snapshot reader: seek(${offset}) out of its bytes`);
    this.pos = offset;
  }

  /** A uint that must be at most `max` (a count read before a loop: damaged bytes must not allocate gigabytes). */
  count(max: number, what: string): number {
    const n = this.uint();
    if (n > max) this.fail(`${what}: ${n} exceeds ${max}`);
    return n;
  }

  /** Enters the section that must come next, with tag `tag`; anything else is refused. */
  beginSection(tag: number, name: string): void {
    this.need(SECTION_HEADER_BYTES);
    const found = this.view.getUint16(this.pos, true);
    if (found !== tag) this.fail(`expected section ${tag} (${name}), found section ${found}: written by another version of crossbook?`);
    const length = this.view.getUint32(this.pos + 2, true);
    this.pos += SECTION_HEADER_BYTES;
    if (this.pos + length > this.limit()) this.fail(`section ${tag} (${name}) claims ${length} bytes, only ${this.limit() - this.pos} remain`);
    this.ends.push(this.pos + length);
    this.tags.push(tag);
    this.end = this.pos + length;
  }

  /** The next section, header included, as bytes (a view), without reading into it: a part handed on whole. */
  sectionBytes(tag: number, name: string): Uint8Array {
    const start = this.pos;
    this.beginSection(tag, name);
    const end = this.ends.pop()!;
    this.tags.pop();
    this.end = this.outerEnd();
    this.pos = end;
    return this.buf.subarray(start, end);
  }

  /** Leaves the current section; unread bytes in it are fields this version does not know: refused. */
  endSection(): void {
    const end = this.ends.pop();
    const tag = this.tags.pop();
    if (end === undefined) throw new Error("snapshot reader: endSection without beginSection");
    if (this.pos !== end) {
      this.ends.push(end);
      this.tags.push(tag!);
      this.fail(`section ${tag} has ${end - this.pos} bytes this version does not know (a field added by a newer version?)`);
    }
    this.end = this.outerEnd();
  }

  private outerEnd(): number {
    return this.ends.length === 0 ? this.buf.length : this.ends[this.ends.length - 1]!;
  }

  /** The whole payload must have been read. */
  expectEnd(): void {
    if (this.pos !== this.buf.length) this.fail(`${this.buf.length - this.pos} bytes after the end`);
  }
}

/** Tags of the stage sections (one list for the whole engine, so a tag never means two things). */
export const SnapshotTag = {
  Engine: 1,
  Risk: 2,
  RiskPools: 3,
  RiskVolumes: 4,
  RiskAccounts: 5,
  RiskHolds: 6,
  Matching: 7,
  Market: 8,
  Settlement: 9,
  Parts: 10,
  /** Inside a matching shard's section: its oracle replica and perpetual price state (P3, P4). */
  PerpPrices: 11,
} as const;

/** Upper bounds checked while reading counts (corrupt bytes must fail, not allocate without bound). */
export const SNAPSHOT_COUNT_MAX = 1 << 28;

