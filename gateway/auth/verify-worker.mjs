// Piscina worker (X6): verifies a batch of ED25519 signatures off the gateway thread. Plain JavaScript so the pool's
// threads start without a TypeScript loader. Input: { publicKeys: Uint8Array(32)[], messages: string[],
// signatures: Uint8Array(64)[] }; output: one boolean per signature (true = valid).
import { createPublicKey, verify } from "node:crypto";

const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
/** Parsed public keys kept per thread (a user's logins reuse them), at most; the cache is emptied when full. */
const KEY_CACHE_MAX = 4096;
const keys = new Map();

function keyObject(raw) {
  const name = Buffer.from(raw).toString("latin1");
  let key = keys.get(name);
  if (key === undefined) {
    if (keys.size >= KEY_CACHE_MAX) keys.clear();
    key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: "der", type: "spki" });
    keys.set(name, key);
  }
  return key;
}

function verifyOne(raw, message, signature) {
  try {
    return verify(null, Buffer.from(message), keyObject(raw), signature);
  } catch {
    return false; // a key or signature OpenSSL cannot read proves nothing
  }
}

export default function verifySignatures({ publicKeys, messages, signatures }) {
  const results = new Array(publicKeys.length);
  for (let i = 0; i < publicKeys.length; i++) results[i] = verifyOne(publicKeys[i], messages[i], signatures[i]);
  return results;
}
