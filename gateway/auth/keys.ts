// X6 API keys on the client side and in files: ED25519 key pairs (node:crypto), private keys in files only their
// owner can read, and Backpack's signing strings — `instruction=subscribe&timestamp=T&window=W` for a WebSocket
// login, `instruction=<name>&<params sorted by name>&timestamp=T&window=W` for a signed HTTP request.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { LOGIN_WINDOW_DEFAULT_MS } from "../codec/index.ts";

/** The operator's private key in a data dir (created by the server on its first start). */
export const OPERATOR_KEY_FILE = "operator.key";
/** Users' private keys written by `crossbook keys create` live here, one file per user: keys/user-<USER>.key. */
export const USER_KEYS_DIR = "keys";
/** Owner read/write only. */
const PRIVATE_FILE_MODE = 0o600;
const PRIVATE_DIR_MODE = 0o700;
/** DER prefix of an ED25519 SubjectPublicKeyInfo; the raw 32-byte key follows it. */
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** Permission bits (schema `Permission`). */
export const Permission = { Read: 1, Trade: 2, Withdraw: 4 } as const;
const PERMISSION_NAMES = ["read", "trade", "withdraw"] as const;

export function userKeyPath(dataDir: string, user: number): string {
  return join(dataDir, USER_KEYS_DIR, `user-${user}.key`);
}

export function operatorKeyPath(dataDir: string): string {
  return join(dataDir, OPERATOR_KEY_FILE);
}

/** "read,trade" → 3; throws on an unknown or empty list. */
export function parsePermissions(text: string): number {
  let mask = 0;
  for (const part of text.split(",")) {
    const i = PERMISSION_NAMES.indexOf(part.trim().toLowerCase() as (typeof PERMISSION_NAMES)[number]);
    if (i < 0) throw new Error(`unknown permission "${part}" (known: ${PERMISSION_NAMES.join(", ")})`);
    mask |= 1 << i;
  }
  return mask;
}

/** 3 → "read,trade". */
export function formatPermissions(mask: number): string {
  return PERMISSION_NAMES.filter((_, i) => (mask & (1 << i)) !== 0).join(",");
}

export function generateKey(): KeyObject {
  return generateKeyPairSync("ed25519").privateKey;
}

/** The raw 32-byte public key of a private (or public) ED25519 key. */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const spki = createPublicKey(key).export({ format: "der", type: "spki" });
  return new Uint8Array(spki.subarray(SPKI_ED25519_PREFIX.length));
}

/** Base64 of the raw public key: the API key's name on the wire and in `keys list`. */
export function apiKeyOf(key: KeyObject): string {
  return Buffer.from(rawPublicKey(key)).toString("base64");
}

/** A public KeyObject from the raw 32 bytes. */
export function publicKeyFromRaw(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: "der", type: "spki" });
}

/**
 * Writes a private key as PKCS#8 PEM to a new file only its owner can read or write (0600; the directory 0700).
 * Refuses to overwrite an existing file.
 */
export function writePrivateKeyFile(path: string, key: KeyObject): void {
  mkdirSync(dirname(path), { recursive: true, mode: PRIVATE_DIR_MODE });
  const fd = openSync(path, "wx", PRIVATE_FILE_MODE);
  try {
    writeSync(fd, key.export({ format: "pem", type: "pkcs8" }) as string);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, PRIVATE_FILE_MODE); // the umask may have narrowed it further; never wider
}

/** Reads a private key file, refusing one that others can read or write. */
export function readPrivateKeyFile(path: string): KeyObject {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(`${path}: private key file is readable by others (mode ${mode.toString(8)}): chmod 600 ${path}`);
  }
  const key = createPrivateKey(readFileSync(path, "utf8"));
  if (key.asymmetricKeyType !== "ed25519") throw new Error(`${path}: not an ED25519 private key`);
  return key;
}

/** The key in `path`, created (0600) when the file does not exist yet. */
export function loadOrCreatePrivateKeyFile(path: string): KeyObject {
  if (!existsSync(path)) writePrivateKeyFile(path, generateKey());
  return readPrivateKeyFile(path);
}

/** Backpack's signing string: instruction first, then the parameters sorted by name, then timestamp and window. */
export function signingString(instruction: string, params: Readonly<Record<string, string>>, timestampMs: number, windowMs: number): string {
  const parts = [`instruction=${instruction}`];
  for (const name of Object.keys(params).sort()) parts.push(`${name}=${params[name]!}`);
  parts.push(`timestamp=${timestampMs}`, `window=${windowMs}`);
  return parts.join("&");
}

export interface SignedLogin {
  readonly apiKey: string;
  readonly signature: string;
  readonly timestampMs: number;
  readonly windowMs: number;
}

/** The fields of a Login frame: a signature of instruction=subscribe&timestamp=T&window=W with `key`. */
export function signLogin(key: KeyObject, timestampMs = Date.now(), windowMs = LOGIN_WINDOW_DEFAULT_MS): SignedLogin {
  const message = signingString("subscribe", {}, timestampMs, windowMs);
  return { apiKey: apiKeyOf(key), signature: sign(null, Buffer.from(message), key).toString("base64"), timestampMs, windowMs };
}

/** Headers of a signed HTTP request (X-API-Key, X-Signature, X-Timestamp, X-Window), Backpack style. */
export function signedHeaders(
  key: KeyObject,
  instruction: string,
  params: Readonly<Record<string, string>>,
  timestampMs = Date.now(),
  windowMs = LOGIN_WINDOW_DEFAULT_MS,
): Record<string, string> {
  const message = signingString(instruction, params, timestampMs, windowMs);
  return {
    "X-API-Key": apiKeyOf(key),
    "X-Signature": sign(null, Buffer.from(message), key).toString("base64"),
    "X-Timestamp": String(timestampMs),
    "X-Window": String(windowMs),
  };
}
