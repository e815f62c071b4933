// The X6 API key registry: which ED25519 public key belongs to which user, with which permissions.
//
// Where it lives: in the gateway, not the engine. Only the gateway authenticates (the engine never sees a key, and
// DESIGN rule 9 keeps crypto off the engine's hot path), and a login must be answered without a round trip through
// the engine's rings. The registry is still journaled state: RegisterApiKey / RevokeApiKey are operator commands that
// the sequencer journals like any other, and the gateway applies each one at the moment it is sequenced — the same
// order the journal holds — and again, in journal order, when it replays the journal on start. So the registry after a
// restart is exactly the fold of the journal's key commands; the engine only acknowledges them (CommandAccepted).
// Anything a key's session does is sequenced after the key's registration, so a replay never meets an unknown key.
import { CommandKind, RejectCode, userOf, type CommandRecord } from "../../engine/model/index.ts";
import type { SnapshotReader, SnapshotWriter } from "../../engine/model/snapshot-io.ts";
import { readKeyWords } from "../codec/index.ts";

/** API keys one user may hold at once (Backpack-like: a handful per bot), and keys registered in all. */
export const API_KEYS_PER_USER_MAX = 16;
export const API_KEYS_MAX = 100_000;

export class ApiKeyEntry {
  /** Set on revocation: sessions logged in with the key can no longer act. */
  revoked = false;

  constructor(
    /** Base64 of the raw 32-byte public key. */
    readonly apiKey: string,
    readonly publicKey: Uint8Array,
    readonly user: number,
    /** Permission bits: Read 1, Trade 2, Withdraw 4. */
    readonly permissions: number,
  ) {}
}

/** Why a key command would be refused (code None: it would be applied). */
export interface KeyCheck {
  code: number;
  message: string;
}

export class ApiKeyRegistry {
  private readonly byKey = new Map<string, ApiKeyEntry>();
  private readonly byUser = new Map<number, ApiKeyEntry[]>();

  /** `reserved`: keys that may never be registered to a user (the operator's). */
  constructor(private readonly reserved: ReadonlySet<string> = new Set()) {}

  get size(): number {
    return this.byKey.size;
  }

  lookup(apiKey: string): ApiKeyEntry | undefined {
    return this.byKey.get(apiKey);
  }

  list(user: number): readonly ApiKeyEntry[] {
    return this.byUser.get(user) ?? [];
  }

  /** Checks a decoded RegisterApiKey / RevokeApiKey before it is journaled; nothing changes. */
  check(cmd: CommandRecord, out: KeyCheck): boolean {
    const apiKey = Buffer.from(readKeyWords(cmd)).toString("base64");
    const user = userOf(cmd.account);
    out.code = RejectCode.None;
    out.message = "";
    if (cmd.kind === CommandKind.RegisterApiKey) {
      if (this.reserved.has(apiKey)) return this.refuse(out, RejectCode.InvalidField, "api_key: the operator's key cannot be a user's key");
      if (this.byKey.has(apiKey)) return this.refuse(out, RejectCode.InvalidField, `api_key ${apiKey} is registered already`);
      if (this.list(user).length >= API_KEYS_PER_USER_MAX) {
        return this.refuse(out, RejectCode.TooManyApiKeys, `user ${user} holds ${API_KEYS_PER_USER_MAX} API keys, the maximum: revoke one first`);
      }
      if (this.byKey.size >= API_KEYS_MAX) return this.refuse(out, RejectCode.TooManyApiKeys, `the exchange holds ${API_KEYS_MAX} API keys, the maximum`);
      return true;
    }
    const entry = this.byKey.get(apiKey);
    if (entry === undefined || entry.user !== user) return this.refuse(out, RejectCode.UnknownApiKey, `user ${user} has no API key ${apiKey}`);
    return true;
  }

  /** Forgets every key (a recovery attempt starts over from a snapshot or the journal's start). */
  clear(): void {
    this.byKey.clear();
    this.byUser.clear();
  }

  /** X7: the registered keys, in registration order (a snapshot part: keys registered before it are not replayed). */
  writeState(w: SnapshotWriter): void {
    w.uint(this.byKey.size);
    for (const entry of this.byKey.values()) {
      w.uint(entry.user);
      w.u8(entry.permissions);
      w.raw(entry.publicKey);
    }
  }

  /** X7: restores writeState's keys into an empty registry (the reserved operator key is the process's own). */
  readState(r: SnapshotReader): void {
    const count = r.count(API_KEYS_MAX, "API keys");
    for (let i = 0; i < count; i++) {
      const user = r.uint();
      const permissions = r.u8();
      const raw = r.raw(32).slice();
      const entry = new ApiKeyEntry(Buffer.from(raw).toString("base64"), raw, user, permissions);
      this.byKey.set(entry.apiKey, entry);
      const list = this.byUser.get(user);
      if (list === undefined) this.byUser.set(user, [entry]);
      else list.push(entry);
    }
  }

  private refuse(out: KeyCheck, code: number, message: string): false {
    out.code = code;
    out.message = message;
    return false;
  }

  /**
   * Applies a journaled RegisterApiKey / RevokeApiKey (live, as it is sequenced, or replayed from the journal).
   * Returns the revoked entry of a revocation (its sessions must stop), else null.
   */
  apply(cmd: CommandRecord): ApiKeyEntry | null {
    const raw = readKeyWords(cmd);
    const apiKey = Buffer.from(raw).toString("base64");
    const user = userOf(cmd.account);
    if (cmd.kind === CommandKind.RegisterApiKey) {
      const entry = new ApiKeyEntry(apiKey, raw, user, cmd.flags);
      this.byKey.set(apiKey, entry);
      const list = this.byUser.get(user);
      if (list === undefined) this.byUser.set(user, [entry]);
      else list.push(entry);
      return null;
    }
    if (cmd.kind !== CommandKind.RevokeApiKey) return null;
    const entry = this.byKey.get(apiKey);
    if (entry === undefined || entry.user !== user) return null;
    entry.revoked = true;
    this.byKey.delete(apiKey);
    const list = this.byUser.get(user)!;
    list.splice(list.indexOf(entry), 1);
    if (list.length === 0) this.byUser.delete(user);
    return entry;
  }
}
