// Deterministic, non-cryptographic 64-bit state hash used to prove replay equality of the books.

export class StateHasher {
  private a = 0x811c9dc5 | 0;
  private b = 0x2545f491 | 0;

  private mix(w: number): void {
    let a = Math.imul(this.a ^ w, 0x01000193);
    a ^= a >>> 13;
    this.a = a;
    let b = Math.imul(this.b ^ w, 0x5bd1e995);
    b ^= b >>> 15;
    this.b = Math.imul(b, 0x27d4eb2d) ^ a;
  }

  /** An integer-valued number (|x| < 2^53): its low word, then its high word (x − low is an exact multiple of 2^32). */
  num(x: number): void {
    const lo = x >>> 0;
    this.mix(lo);
    this.mix(((x - lo) / 4294967296) | 0);
  }

  big(x: bigint): void {
    let v = x < 0n ? -x : x;
    this.mix(x < 0n ? 0x2d : 0x2b);
    let limbs = 0;
    do {
      this.mix(Number(v & 0xffffffffn));
      v >>= 32n;
      limbs++;
    } while (v > 0n);
    this.mix(limbs);
  }

  digest(): bigint {
    return (BigInt(this.a >>> 0) << 32n) | BigInt(this.b >>> 0);
  }
}
