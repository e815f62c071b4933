// Piscina worker (X6): verifies one ED25519 signature off the gateway thread. Plain JavaScript so the pool's
// threads start without a TypeScript loader. Input: { publicKey: Uint8Array(32), message: string,
// signature: Uint8Array(64) }; output: true when the signature is valid.
import { createPublicKey, verify } from "node:crypto";

const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export default function verifySignature({ publicKey, message, signature }) {
  try {
    const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, publicKey]), format: "der", type: "spki" });
    return verify(null, Buffer.from(message), key, signature);
  } catch {
    return false; // a key or signature OpenSSL cannot read proves nothing
  }
}
