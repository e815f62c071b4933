// A reusable flatbuffers ByteBuffer over the current frame, with allocation-light 64-bit reads.
import { ByteBuffer } from "flatbuffers";

const TWO_POW_32 = 4294967296;
/** |high word| below 2^21 means the 64-bit value is below 2^53 and exact as a double. */
const SAFE_HIGH_WORD = 0x200000;

export class FrameBuffer extends ByteBuffer {
  constructor() {
    super(new Uint8Array(0));
  }

  /**
   * Points the buffer at a new frame. ByteBuffer has no setter and its constructor allocates a TextDecoder, so the
   * one instance is re-pointed instead of building a wrapper per frame.
   */
  reset(bytes: Uint8Array): void {
    (this as unknown as { bytes_: Uint8Array }).bytes_ = bytes;
    this.setPosition(0);
  }

  // The runtime builds each 64-bit value from four BigInts; a value under 2^53 (every realistic price, quantity,
  // id) needs only one.
  override readInt64(offset: number): bigint {
    const low = this.readUint32(offset);
    const high = this.readInt32(offset + 4);
    if (high >= -SAFE_HIGH_WORD && high < SAFE_HIGH_WORD) return BigInt(high * TWO_POW_32 + low);
    return (BigInt(high) << 32n) + BigInt(low);
  }

  override readUint64(offset: number): bigint {
    const low = this.readUint32(offset);
    const high = this.readUint32(offset + 4);
    if (high < SAFE_HIGH_WORD) return BigInt(high * TWO_POW_32 + low);
    return (BigInt(high) << 32n) + BigInt(low);
  }
}
