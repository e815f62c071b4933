// X6 keys are journaled state: after the server is killed (SIGKILL) and restarted, the key registry is rebuilt from
// the journal exactly — registered keys log in with their permissions, revoked ones stay revoked. Keys created by
// the CLI and the operator's key live in files only their owner can read (0600).
import { execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { apiKeyOf, operatorKeyPath, readPrivateKeyFile, userKeyPath } from "../gateway/auth/keys.ts";
import { CrossbookClient, LoginError, signedGet } from "../gateway/client/ws-client.ts";
import { registerKey } from "./helpers/auth.ts";
import { BIN, exitOf, startServerProcess } from "./helpers/server-process.ts";

const children: ChildProcess[] = [];

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
});

function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

describe("X6: the key registry across a crash", () => {
  it("X6: X4: registered, revoked and CLI-created keys survive SIGKILL exactly; key files are 0600", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "crossbook-auth-recovery-"));
    const first = await startServerProcess(dataDir, children);
    const url = `ws://127.0.0.1:${first.port}`;
    expect(modeOf(operatorKeyPath(dataDir))).toBe(0o600);
    const operatorKey = readPrivateKeyFile(operatorKeyPath(dataDir));
    const operator = await CrossbookClient.connect(url, { key: operatorKey });
    const kept = await registerKey(operator, 1, 3);
    const revoked = await registerKey(operator, 2);
    expect((await operator.request({ type: "RevokeApiKey", user: 2, apiKey: apiKeyOf(revoked) }, 30))[0]).toMatchObject({ type: "CommandAccepted" });
    // The CLI: the private key goes to data/keys/user-3.key (0600, in a 0700 directory), the public key is registered.
    const { stdout } = await promisify(execFile)(process.execPath, [BIN, "keys", "create", "3", "--permissions", "read", "--url", url, "--data", dataDir], { encoding: "utf8", timeout: 60_000 });
    const created = JSON.parse(stdout.trim().split("\n").at(-1)!) as { user: number; apiKey: string; permissions: string; keyFile: string };
    expect(created).toMatchObject({ user: 3, permissions: "read", keyFile: userKeyPath(dataDir, 3) });
    expect(modeOf(userKeyPath(dataDir, 3))).toBe(0o600);
    expect(modeOf(join(dataDir, "keys"))).toBe(0o700);
    await operator.close();
    first.child.kill("SIGKILL");
    await exitOf(first.child);

    const second = await startServerProcess(dataDir, children);
    const url2 = `ws://127.0.0.1:${second.port}`;
    const trader = await CrossbookClient.connect(url2, { key: kept });
    expect((await trader.request({ type: "Withdraw", account: 16, asset: 0, amount: "1" }, 40))[0]).toMatchObject({ type: "CommandRejected", code: "Forbidden" });
    expect((await trader.request({ type: "QueryMaxWithdrawal", account: 16, asset: 0 }, 40))[0]).toMatchObject({ type: "MaxWithdrawalQuantity", quantity: "0" });
    await trader.close();
    await expect(CrossbookClient.connect(url2, { key: revoked })).rejects.toThrow(/UnknownApiKey/);
    await expect(CrossbookClient.connect(url2, { key: revoked })).rejects.toBeInstanceOf(LoginError);
    const reader = await CrossbookClient.connect(url2, { key: readPrivateKeyFile(userKeyPath(dataDir, 3)) });
    expect((await reader.request({ type: "LimitOrder", account: 48, market: 0, side: "Buy", price: "1", quantity: "1" }, 40))[0]).toMatchObject({ type: "OrderRejected", code: "Forbidden" });
    await reader.close();
    const keys = async (user: number): Promise<unknown> => (await signedGet(`http://127.0.0.1:${second.port}/`, "/keys", "apiKeyQuery", { user: String(user) }, operatorKey)).json();
    expect(await keys(1)).toEqual({ user: 1, keys: [{ apiKey: apiKeyOf(kept), permissions: "read,trade" }] });
    expect(await keys(2)).toEqual({ user: 2, keys: [] });
    expect(await keys(3)).toEqual({ user: 3, keys: [{ apiKey: created.apiKey, permissions: "read" }] });
    second.child.kill("SIGTERM");
    expect(await exitOf(second.child)).toEqual({ code: 0, signal: null });
  }, 120_000);
});
