// Q4 over the wire (gateway): the bankrupt borrower's Socialization rows on the public Liquidation channel (without
// any account), on the account's history query, and the WithdrawalsPaused reject while the bankruptcy is open.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../engine/pipeline/index.ts";
import type { EventJson } from "../gateway/client/codec.ts";
import { CrossbookClient } from "../gateway/client/ws-client.ts";
import { startServer } from "../gateway/server.ts";
import { registerKey } from "./helpers/auth.ts";

const config = loadConfig();
type Any = Record<string, unknown>;

describe("Q4 over the wire", () => {
  it("Q4, Q6, issue 13 item 7: seed 004's bankrupt borrower — Socialization rows on the Liquidation channel without accounts and in the history; a withdrawal meanwhile refused with WithdrawalsPaused", async () => {
    const server = await startServer({ config, host: "127.0.0.1", port: 0, dataDir: mkdtempSync(join(tmpdir(), "crossbook-q4-")), tickIntervalMs: 0, log: () => {} });
    const url = `ws://127.0.0.1:${server.port}`;
    const operator = await CrossbookClient.connect(url, { key: server.operatorKey });
    const watcher = await CrossbookClient.connect(url);
    const got: EventJson[] = [];
    watcher.onEvent((e) => got.push(e));
    watcher.send({ type: "Subscribe", channels: ["Liquidation"] });
    const lender = await CrossbookClient.connect(url, { key: await registerKey(operator, 1) });
    const alice = await CrossbookClient.connect(url, { key: await registerKey(operator, 2) });
    const bob = await CrossbookClient.connect(url, { key: await registerKey(operator, 3) });
    await operator.request({ type: "AdvanceTime", timeMs: 1_767_225_600_000 }, 30);
    await operator.request({ type: "Deposit", account: 16, asset: 2, amount: "2" }, 30);
    await lender.request({ type: "Lend", account: 16, asset: 2, amount: "2" }, 30);
    await operator.request({ type: "Deposit", account: 32, asset: 1, amount: "100000" }, 30);
    await operator.request({ type: "Deposit", account: 48, asset: 0, amount: "1000" }, 30);
    await alice.request({ type: "Withdraw", account: 32, asset: 2, amount: "1", margin: true }, 30);
    // BTC $100,000: Alice (100,000 USDT × 0.98 against 1 BTC owed) is liquidating with nothing the book can sell.
    await operator.request({ type: "SetMarkPrice", asset: 2, price: "100000" }, 30);
    await operator.request({ type: "SetMarkPrice", asset: 1, price: "0.01" }, 30); // phase 0 of this batch: bankrupt
    const paused = await bob.request({ type: "Withdraw", account: 48, asset: 0, amount: "1" }, 30); // resolved at its head
    expect(paused.map((e) => [e.type, (e as unknown as Any).code])).toEqual([["CommandRejected", "WithdrawalsPaused"]]);
    const open = await bob.request({ type: "Withdraw", account: 48, asset: 0, amount: "1" }, 30);
    expect(open.map((e) => e.type)).toContain("CommandAccepted");
    await new Promise((r) => setTimeout(r, 200));
    const rows = got.filter((e) => e.type === "Socialization") as unknown as Any[];
    // Found before the USDT mark of its batch (net equity 98,000 − 100,000), resolved after it: the lender is paid
    // $100,000 in USDC rather than 1 BTC, all of it beyond the (empty) insurance fund.
    expect(rows.map((e) => [e.kind, e.account, e.asset, e.quantity, e.amount, e.loss, e.price, e.counterparty, e.netEquity])).toEqual([
      ["Bankrupt", 0, 0, "0", "0", "0", "0", 0, "-2000"],
      ["LenderWriteDown", 0, 2, "1", "-100000", "100000", "100000", 0, "980"],
      ["LenderPaid", 0, 2, "1", "100000", "0", "100000", 0, "195000"],
    ]);
    const history = (await alice.liquidationHistory(32)) as unknown as Any[];
    expect(history.map((e) => [e.type, e.kind ?? null, e.account])).toEqual([
      ["LiquidationStarted", null, 32], ["Socialization", "Bankrupt", 32], ["Socialization", "LenderWriteDown", 32], ["LiquidationEnded", null, 32],
    ]);
    // The exchange-wide report (public): one row for the batch, account 0.
    const losses = (await watcher.lenderLosses()) as unknown as Any[];
    expect(losses.map((e) => [e.type, e.kind, e.account, e.asset, e.quantity, e.amount, e.loss])).toEqual([["Socialization", "LenderWriteDown", 0, 2, "1", "-100000", "100000"]]);
    expect(await watcher.lenderLosses({ asset: 1 })).toEqual([]);
    for (const c of [watcher, lender, alice, bob, operator]) await c.close();
    await server.stop();
  }, 30_000);
});
