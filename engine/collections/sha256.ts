// SHA-256 (FIPS 180-4) of UTF-8 text, in plain TypeScript, so domain code can digest its state without node:crypto
// (the engine's domain imports no builtin: DESIGN, test/boundaries.test.ts). Used for the stages' state digests
// (replay equality, X4), which are compared, not trusted: the bytes are identical to node:crypto's sha256.
// `createHash("sha256")` mirrors node's call shape (update(text)…, digest("hex")), so a caller switches by its import.

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const INITIAL = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const BLOCK_BYTES = 64;
const encoder = new TextEncoder();

/** A streaming SHA-256: update with text any number of times, then digest once. */
export class Sha256 {
  private readonly state = new Int32Array(INITIAL);
  private readonly words = new Int32Array(64);
  private readonly block = new Uint8Array(BLOCK_BYTES);
  private blockBytes = 0;
  private totalBytes = 0;

  /** Adds the UTF-8 bytes of `text`. */
  update(text: string): this {
    this.updateBytes(encoder.encode(text));
    return this;
  }

  updateBytes(bytes: Uint8Array): this {
    this.totalBytes += bytes.length;
    let at = 0;
    while (at < bytes.length) {
      const n = Math.min(BLOCK_BYTES - this.blockBytes, bytes.length - at);
      this.block.set(bytes.subarray(at, at + n), this.blockBytes);
      this.blockBytes += n;
      at += n;
      if (this.blockBytes === BLOCK_BYTES) {
        this.compress();
        this.blockBytes = 0;
      }
    }
    return this;
  }

  /** The digest as 64 lowercase hex digits (node's digest("hex")); the hash is finished after it. */
  digest(_encoding: "hex"): string {
    const bits = this.totalBytes * 8;
    this.block[this.blockBytes++] = 0x80;
    if (this.blockBytes > BLOCK_BYTES - 8) {
      this.block.fill(0, this.blockBytes);
      this.compress();
      this.blockBytes = 0;
    }
    this.block.fill(0, this.blockBytes);
    const view = new DataView(this.block.buffer);
    view.setUint32(BLOCK_BYTES - 8, (bits / 0x1_0000_0000) >>> 0);
    view.setUint32(BLOCK_BYTES - 4, bits >>> 0);
    this.compress();
    let hex = "";
    for (let i = 0; i < 8; i++) hex += (this.state[i]! >>> 0).toString(16).padStart(8, "0");
    return hex;
  }

  private compress(): void {
    const w = this.words;
    const b = this.block;
    for (let i = 0; i < 16; i++) w[i] = (b[4 * i]! << 24) | (b[4 * i + 1]! << 16) | (b[4 * i + 2]! << 8) | b[4 * i + 3]!;
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!;
      const y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    const s = this.state;
    let a = s[0]!, c1 = s[1]!, c2 = s[2]!, d = s[3]!, e = s[4]!, f = s[5]!, g = s[6]!, h = s[7]!;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & c1) ^ (a & c2) ^ (c1 & c2))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c2;
      c2 = c1;
      c1 = a;
      a = (t1 + t2) | 0;
    }
    s[0] = (s[0]! + a) | 0;
    s[1] = (s[1]! + c1) | 0;
    s[2] = (s[2]! + c2) | 0;
    s[3] = (s[3]! + d) | 0;
    s[4] = (s[4]! + e) | 0;
    s[5] = (s[5]! + f) | 0;
    s[6] = (s[6]! + g) | 0;
    s[7] = (s[7]! + h) | 0;
  }
}

/** A new SHA-256 hash, called like node:crypto's createHash("sha256"). */
export function createHash(_algorithm: "sha256"): Sha256 {
  return new Sha256();
}
