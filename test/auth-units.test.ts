// X6 pieces without a server: the Login / RegisterApiKey frames at the decoder, the key's journey through the
// journal's record layout, the replay guard's bound, and the authorization table.
import { describe, expect, it } from "vitest";
import type { KeyObject } from "node:crypto";
import { CommandKind, CommandRecord, RejectCode, rejectCodeName } from "../engine/model/index.ts";
import { COMMAND_RECORD_BYTES, loadConfig, readCommand, viewsOf, writeCommand } from "../engine/pipeline/index.ts";
import { authorize, Denial } from "../gateway/auth/authorize.ts";
import { apiKeyOf, generateKey, rawPublicKey, signLogin } from "../gateway/auth/keys.ts";
import {
  Authenticator, HTTP_VERIFY_QUEUE_MAX, LOGIN_SIGNATURES_PER_USER_MAX, LOGIN_SIGNATURES_REMEMBERED_MAX, LOGIN_VERIFY_QUEUE_MAX, ReplayGuard, SignatureVerifier,
} from "../gateway/auth/login.ts";
import { ApiKeyRegistry } from "../gateway/auth/registry.ts";
import { encodeCommand, type CommandJson } from "../gateway/client/codec.ts";
import { decodeCommand, DecodedKind, DecodeResult, readKeyWords, writeKeyWords } from "../gateway/codec/index.ts";
import { Command } from "../schemas/index.ts";

const config = loadConfig();

function decode(cmd: CommandJson, clientSeq = 1n): { ok: boolean; out: CommandRecord; result: DecodeResult } {
  const out = new CommandRecord();
  const result = new DecodeResult();
  const ok = decodeCommand(encodeCommand(clientSeq, cmd), config, out, result);
  return { ok, out, result };
}

describe("X6: key frames at the decoder", () => {
  it("X6: RegisterApiKey carries the 32-byte key through the journal's record layout bit for bit", () => {
    for (let i = 0; i < 50; i++) {
      const key = generateKey();
      const { ok, out, result } = decode({ type: "RegisterApiKey", user: 7, apiKey: apiKeyOf(key), permissions: ["Read", "Withdraw"] });
      expect(ok).toBe(true);
      expect(result.privileged).toBe(true);
      expect(out).toMatchObject({ kind: CommandKind.RegisterApiKey, account: 112, flags: 5 });
      const slot = viewsOf(new ArrayBuffer(COMMAND_RECORD_BYTES));
      writeCommand(slot, 0, out);
      const back = new CommandRecord();
      readCommand(slot, 0, back);
      expect(Buffer.from(readKeyWords(back)).equals(Buffer.from(rawPublicKey(key)))).toBe(true);
    }
  });

  it("X5: X6: a key that is not canonical base64 of 32 bytes, no permission, an unknown permission bit, user 0 are typed rejects", () => {
    const key = apiKeyOf(generateKey());
    const cases: [CommandJson, string][] = [
      [{ type: "RegisterApiKey", user: 7, apiKey: key.slice(0, 43), permissions: 1 }, "InvalidField"],
      [{ type: "RegisterApiKey", user: 7, apiKey: `${key.slice(0, 42)}B=`, permissions: 1 }, "InvalidField"],
      [{ type: "RegisterApiKey", user: 7, apiKey: key, permissions: 0 }, "InvalidField"],
      [{ type: "RegisterApiKey", user: 7, apiKey: key, permissions: 8 }, "InvalidField"],
      [{ type: "RegisterApiKey", user: 0, apiKey: key, permissions: 1 }, "InvalidAccount"],
      [{ type: "RevokeApiKey", user: 0x1000_0000, apiKey: key }, "InvalidAccount"],
      [{ type: "Login", ...signLogin(generateKey()), signature: "AAAA" }, "BadSignature"],
      [{ type: "Login", ...signLogin(generateKey(), Date.now(), 60_001) }, "BadSignature"],
      [{ type: "Login", ...signLogin(generateKey()), timestampMs: 0 }, "BadSignature"],
    ];
    for (const [cmd, code] of cases) {
      const { ok, result } = decode(cmd);
      expect(ok, JSON.stringify(cmd)).toBe(false);
      expect((result.code as number), JSON.stringify(cmd)).toBe(rejectCodeOf(code));
    }
  });

  it("X6: a Login decodes to the raw key and signature, T and W (W omitted = 5000)", () => {
    const key = generateKey();
    const signed = signLogin(key, 1_767_225_600_000);
    const { ok, result } = decode({ type: "Login", apiKey: signed.apiKey, signature: signed.signature, timestampMs: signed.timestampMs });
    expect(ok).toBe(true);
    expect(result.kind).toBe(DecodedKind.Login);
    expect(Buffer.from(result.loginKey!).equals(Buffer.from(rawPublicKey(key)))).toBe(true);
    expect(Buffer.from(result.loginSignature!).toString("base64")).toBe(signed.signature);
    expect([result.loginTimestampMs, result.loginWindowMs]).toEqual([1_767_225_600_000, 5000]);
  });
});

/** The journaled RegisterApiKey of `key` for `user` with read, trade and withdraw. */
function registration(key: KeyObject, user: number): CommandRecord {
  const cmd = new CommandRecord();
  cmd.kind = CommandKind.RegisterApiKey;
  cmd.account = user * 16;
  cmd.flags = 7;
  writeKeyWords(rawPublicKey(key), cmd);
  return cmd;
}

function rejectCodeOf(name: string): number {
  return Number(Object.entries(rejectCodeName).find(([, n]) => n === name)![0]);
}

describe("X6: limits and rules", () => {
  it("X6: the replay guard refuses a signature twice, holds at most LOGIN_SIGNATURES_REMEMBERED_MAX and frees expired ones", () => {
    const guard = new ReplayGuard();
    expect(guard.claim("s", 1_000, 0)).toBe("ok");
    expect(guard.claim("s", 1_000, 500)).toBe("replayed");
    // Spread over 100 users (each under its LOGIN_SIGNATURES_PER_USER_MAX share).
    for (let i = 1; i < LOGIN_SIGNATURES_REMEMBERED_MAX; i++) expect(guard.claim(`x${i}`, 2_000 + (i & 1) * 1_000_000, 0, i % 100)).toBe("ok");
    expect(guard.size).toBe(LOGIN_SIGNATURES_REMEMBERED_MAX);
    expect(guard.claim("y", 3_000, 900, 100)).toBe("full");
    // At t = 2,500 "s" and the even half have expired: they are swept.
    expect(guard.claim("y", 3_000, 2_500, 100)).toBe("ok");
    expect(guard.size).toBe(LOGIN_SIGNATURES_REMEMBERED_MAX / 2 + 1);
  });

  it("X6: one user's logins fill at most LOGIN_SIGNATURES_PER_USER_MAX of the replay guard: another user still logs in, and the first again once its windows end", async () => {
    const heavy = generateKey();
    const other = generateKey();
    const registry = new ApiKeyRegistry();
    for (const [key, user] of [[heavy, 5], [other, 6]] as const) registry.apply(registration(key, user));
    // A verifier that accepts: every login of the heavy user is a genuine one (a fresh (T, W) signature each).
    const verifier = { verify: () => Promise.resolve(true) } as unknown as SignatureVerifier;
    const operator = generateKey();
    const auth = new Authenticator(registry, apiKeyOf(operator), rawPublicKey(operator), verifier);
    const nowMs = 1_767_225_600_000;
    const signature = new Uint8Array(64);
    const view = new DataView(signature.buffer);
    const login = (key: KeyObject, i: number, t: number) => {
      view.setUint32(0, i);
      return auth.login(rawPublicKey(key), signature, t, 60_000, t);
    };
    for (let i = 0; i < LOGIN_SIGNATURES_PER_USER_MAX; i++) expect((await login(heavy, i, nowMs)).code).toBe(RejectCode.None);
    const refusedOne = await login(heavy, LOGIN_SIGNATURES_PER_USER_MAX, nowMs);
    expect([refusedOne.code, refusedOne.message]).toEqual([RejectCode.RateLimited, "this user's keys logged in 2000 times within their windows: retry when they end"]);
    expect((await login(other, 1 << 30, nowMs)).code).toBe(RejectCode.None);
    // The heavy user's signatures expire at T + W = now + 60 s.
    expect((await login(heavy, LOGIN_SIGNATURES_PER_USER_MAX + 1, nowMs + 60_001)).code).toBe(RejectCode.None);
    expect(auth.replays.size).toBe(1); // every claim of the first minute was swept
  });

  it("X5, X6: signed HTTP requests hold at most HTTP_VERIFY_QUEUE_MAX (2,048) of the 4,096 verification slots: the next HTTP one is refused at once, a login still gets a slot (before, bad-signature HTTP floods refused every login Overloaded)", async () => {
    const verifier = new SignatureVerifier(1);
    const key = new Uint8Array(32);
    const signature = new Uint8Array(64);
    const http = Array.from({ length: HTTP_VERIFY_QUEUE_MAX }, () => verifier.verify(key, "instruction=balanceQuery", signature, HTTP_VERIFY_QUEUE_MAX));
    expect(verifier.queued).toBe(2048);
    expect(await verifier.verify(key, "instruction=balanceQuery", signature, HTTP_VERIFY_QUEUE_MAX)).toBe(null);
    const login = verifier.verify(key, "instruction=subscribe", signature);
    expect([verifier.queued, LOGIN_VERIFY_QUEUE_MAX]).toEqual([2049, 4096]);
    expect(await login).toBe(false); // verified (a zero signature does not verify), not refused (null)
    expect((await Promise.all(http)).every((ok) => ok === false)).toBe(true);
    await verifier.close();
  }, 30_000);

  it("X6: a signed HTTP request whose key is revoked while its signature waits for verification is refused (UnknownApiKey), as a login is — before, it was answered after the RevokeApiKey", async () => {
    const key = generateKey();
    const registry = new ApiKeyRegistry();
    registry.apply(registration(key, 5));
    let release: (ok: boolean) => void = () => {};
    const verifier = { verify: () => new Promise<boolean>((resolve) => (release = resolve)) } as unknown as SignatureVerifier;
    const operator = generateKey();
    const auth = new Authenticator(registry, apiKeyOf(operator), rawPublicKey(operator), verifier);
    const nowMs = 1_767_225_600_000;
    const headers = { apiKey: apiKeyOf(key), signature: Buffer.alloc(64, 1).toString("base64"), timestamp: String(nowMs), window: "5000" };
    const answer = auth.request(headers, "balanceQuery", { account: "80" }, nowMs);
    const revoke = registration(key, 5);
    revoke.kind = CommandKind.RevokeApiKey;
    expect(registry.apply(revoke)?.revoked).toBe(true); // journaled while the signature waits
    release(true);
    const outcome = await answer;
    expect([outcome.code, outcome.message]).toEqual([RejectCode.UnknownApiKey, `API key ${apiKeyOf(key)} was revoked`]);
  });

  it("X6: a user session may act for every sub-account 0..10 of its user and for no account of users next to it", () => {
    const who = { loggedIn: true, operator: false, user: 5, permissions: 7, revoked: false };
    const cmd = new CommandRecord();
    const denial = new Denial();
    for (let account = 64; account < 112; account++) {
      cmd.account = account;
      expect(authorize(who, Command.LimitOrder, cmd, denial), `account ${account}`).toBe(account >>> 4 === 5);
    }
    cmd.account = 80;
    expect(authorize({ ...who, revoked: true }, Command.LimitOrder, cmd, denial)).toBe(false);
    expect(denial.code).toBe(rejectCodeOf("Forbidden"));
    expect(authorize({ ...who, loggedIn: false }, Command.QueryPoolStats, cmd, denial)).toBe(true);
    expect(authorize({ ...who, loggedIn: false }, Command.QueryCollateral, cmd, denial)).toBe(false);
    expect(denial.code).toBe(rejectCodeOf("NotLoggedIn"));
  });

  it("X6: the registry refuses the operator's key, a second registration of a key and revoking another user's key", () => {
    const operatorKey = apiKeyOf(generateKey());
    const registry = new ApiKeyRegistry(new Set([operatorKey]));
    const register = (user: number, apiKey: string): CommandRecord => decode({ type: "RegisterApiKey", user, apiKey, permissions: 1 }).out;
    const check = { code: 0, message: "" };
    expect(registry.check(register(1, operatorKey), check)).toBe(false);
    const key = apiKeyOf(generateKey());
    const cmd = register(1, key);
    expect(registry.check(cmd, check)).toBe(true);
    registry.apply(cmd);
    expect(registry.check(register(2, key), check)).toBe(false);
    const revokeOther = decode({ type: "RevokeApiKey", user: 2, apiKey: key }).out;
    expect(registry.check(revokeOther, check)).toBe(false);
    expect(check.code).toBe(rejectCodeOf("UnknownApiKey"));
    expect(registry.lookup(key)).toMatchObject({ user: 1, permissions: 1, revoked: false });
  });
});
