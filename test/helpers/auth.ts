// X6 helpers for tests that talk to a running server: register a user's API key through the operator session,
// connect and log in with it, and read GET routes with signed headers.
import type { KeyObject } from "node:crypto";
import { apiKeyOf, generateKey } from "../../gateway/auth/keys.ts";
import { CrossbookClient, signedGet } from "../../gateway/client/ws-client.ts";

/** Read | Trade | Withdraw. */
export const ALL_PERMISSIONS = 7;

/** A new key registered to `user` (fails the test when the operator's RegisterApiKey is refused). */
export async function registerKey(operator: CrossbookClient, user: number, permissions = ALL_PERMISSIONS): Promise<KeyObject> {
  const key = generateKey();
  const events = await operator.request({ type: "RegisterApiKey", user, apiKey: apiKeyOf(key), permissions }, 20);
  if (events[0]?.type !== "CommandAccepted") throw new Error(`RegisterApiKey for user ${user} refused: ${JSON.stringify(events[0], (_, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`);
  return key;
}

/** Registers a key for `user` and returns a session logged in with it (watching `watch`). */
export async function connectUser(url: string, operator: CrossbookClient, user: number, watch?: number[], permissions = ALL_PERMISSIONS): Promise<CrossbookClient> {
  const key = await registerKey(operator, user, permissions);
  return CrossbookClient.connect(url, { key, ...(watch !== undefined ? { watch } : {}) });
}

/** GET /balances?account=N signed with `key` (the operator's reads every account). */
export async function getBalances(port: number, account: number, key: KeyObject): Promise<Response> {
  return signedGet(`http://127.0.0.1:${port}/`, "/balances", "balanceQuery", { account: String(account) }, key);
}

/** GET /state-hash signed with the operator's key. */
export async function getStateHash(port: number, operatorKey: KeyObject): Promise<{ hash: string; lastSeq: number }> {
  const r = await signedGet(`http://127.0.0.1:${port}/`, "/state-hash", "stateHashQuery", {}, operatorKey);
  if (!r.ok) throw new Error(`GET /state-hash: HTTP ${r.status} ${await r.text()}`);
  return (await r.json()) as { hash: string; lastSeq: number };
}
