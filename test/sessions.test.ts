// Gateway sessions: event routing never leaks another account's events, and every session is bounded (accounts
// watched, command rate) — a limit on everything, with a typed reject when exceeded.
import { describe, expect, it } from "vitest";
import { EventKind, EventRecord } from "../engine/model/index.ts";
import { loadConfig } from "../engine/pipeline/index.ts";
import { decodeEvent } from "../gateway/client/codec.ts";
import { SESSION_ACCOUNTS_MAX, SESSION_COMMAND_BURST, SESSION_COMMANDS_PER_SECOND, SessionRegistry } from "../gateway/sessions.ts";

const config = loadConfig();

function socket(): { frames: ReturnType<typeof decodeEvent>[]; send(b: Uint8Array): void; bufferedAmount(): number } {
  const frames: ReturnType<typeof decodeEvent>[] = [];
  return { frames, send: (b) => frames.push(decodeEvent(b)), bufferedAmount: () => 0 };
}

function balance(account: number, seq: number): EventRecord {
  const e = new EventRecord();
  e.kind = EventKind.Balance;
  e.seq = seq;
  e.account = account;
  e.asset = 0;
  e.amount = 5n;
  return e;
}

describe("sessions", () => {
  it("X5: a command's sender gets the events of the account it acted for, never another account's", () => {
    const reg = new SessionRegistry(config);
    const a = socket();
    const operator = socket();
    const alice = reg.open(a, false);
    const op = reg.open(operator, true);
    reg.watch(alice, 16);
    reg.dispatch(balance(16, 9), op, 16, 3n); // the operator's deposit to 16: alice watches 16, the operator sent it
    reg.dispatch(balance(32, 9), op, 16, 3n); // a maker's balance in the same command: nobody watching 32 sees it
    expect(a.frames.map((f) => f.clientSeq)).toEqual([0n]);
    expect(operator.frames).toHaveLength(1);
    expect(operator.frames[0]).toMatchObject({ type: "Balance", account: 16, clientSeq: 3n });
  });

  it("a session acts for at most SESSION_ACCOUNTS_MAX accounts", () => {
    const reg = new SessionRegistry(config);
    const s = reg.open(socket(), false);
    for (let i = 0; i < SESSION_ACCOUNTS_MAX; i++) expect(reg.watch(s, (i + 1) * 16)).toBe(true);
    expect(reg.watch(s, 99_999 * 16)).toBe(false);
    expect(reg.watch(s, 16)).toBe(true);
  });

  it("the command rate limit admits a burst, refuses beyond it, and refills with time", () => {
    const reg = new SessionRegistry(config);
    const s = reg.open(socket(), false);
    let admitted = 0;
    for (let i = 0; i < SESSION_COMMAND_BURST + 10; i++) if (s.takeCommandToken(1000)) admitted++;
    expect(admitted).toBe(SESSION_COMMAND_BURST);
    expect(s.takeCommandToken(1000)).toBe(false);
    // 1 ms later: SESSION_COMMANDS_PER_SECOND / 1000 new tokens.
    let refilled = 0;
    while (s.takeCommandToken(1001)) refilled++;
    expect(refilled).toBe(SESSION_COMMANDS_PER_SECOND / 1000);
  });
});
