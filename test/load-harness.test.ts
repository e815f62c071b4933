// The load harness's own parts (bench/load): pre-encoded frames patched in place decode exactly as the server reads
// them, the mix has the proportions, and the plot is drawn from the phases it is given.
import { describe, expect, it } from "vitest";
import { loadConfig } from "../engine/pipeline/index.ts";
import { CommandKind, CommandRecord, EventKind, EventRecord, RejectCode } from "../engine/model/index.ts";
import { decodeCommand, DecodeResult, encodeEvent } from "../gateway/codec/index.ts";
import { Event } from "../schemas/index.ts";
import { chargeUnacked, isRefusal, latencySvg, LoadConnection, PhaseState, rejectCodeOf, sourceAddressOf, type PhaseResult } from "../bench/load/load.ts";
import { BTC_USDC_MIX, MixCursor } from "../bench/load/mix.ts";
import { clientFrame, frameHeader } from "../bench/load/raw-ws.ts";
import { commandsDue, Pacer } from "../bench/load/pacer.ts";

const config = loadConfig();

/** The payload of the i-th client frame in `bytes` (zero mask key, as the harness sends). */
function payloads(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    let length = bytes[at + 1]! & 0x7f;
    let header = 6;
    if (length === 126) {
      length = (bytes[at + 2]! << 8) | bytes[at + 3]!;
      header = 8;
    }
    out.push(bytes.subarray(at + header, at + header + length));
    at += header + length;
  }
  return out;
}

describe("load harness frames and mix", () => {
  it("a client frame header carries the length and a zero mask key", () => {
    expect([...frameHeader(5)]).toEqual([0x82, 0x85, 0, 0, 0, 0]);
    expect([...frameHeader(300)]).toEqual([0x82, 0xfe, 1, 44, 0, 0, 0, 0]);
    expect([...clientFrame(Uint8Array.of(7, 8))]).toEqual([0x82, 0x82, 0, 0, 0, 0, 7, 8]);
  });

  it("patched templates decode to the client_seq, clientId and order the harness meant", () => {
    const accounts = [16, 17, 18, 19];
    const cursor = new MixCursor(accounts, BTC_USDC_MIX);
    const out = new Uint8Array(80 * accounts.length * cursor.frameBytesMax);
    let at = 0;
    for (let i = 0; i < 80 * accounts.length; i++) at = cursor.next(out, at, 2 + i + 2 ** 33);
    const frames = payloads(out.subarray(0, at));
    expect(frames.length).toBe(320);
    const cmd = new CommandRecord();
    const result = new DecodeResult();
    let places = 0;
    let cancels = 0;
    let iocs = 0;
    const iocSides = [0, 0];
    const placedIds = new Map<number, Set<bigint>>();
    for (let i = 0; i < frames.length; i++) {
      expect(decodeCommand(frames[i]!, config, cmd, result), result.message).toBe(true);
      expect(result.clientSeq).toBe(BigInt(2 + i + 2 ** 33));
      expect(cmd.account).toBe(accounts[i % 4]);
      // Counted over the second cycle of 40 per account (the first has nothing to cancel at its start).
      const counted = i >= 160 ? 1 : 0;
      if (cmd.kind === CommandKind.CancelOrder) {
        cancels += counted;
        // A cancel names an order its own account placed before.
        expect(placedIds.get(cmd.account)!.has(cmd.clientId)).toBe(true);
      } else if (cmd.tif === 1) {
        iocs += counted;
        iocSides[cmd.side]! += counted;
        expect(cmd.price).toBe(cmd.side === 0 ? 62_000_000_000_000n : 58_000_000_000_000n);
      } else {
        places += counted;
        expect(cmd.kind).toBe(CommandKind.PlaceOrder);
        expect(cmd.tif).toBe(0);
        const set = placedIds.get(cmd.account) ?? new Set<bigint>();
        expect(set.has(cmd.clientId)).toBe(false);
        set.add(cmd.clientId);
        placedIds.set(cmd.account, set);
        // Away from the touch: bids at or below 59,000, asks at or above 61,000 (prices scaled by 10^9).
        if (cmd.side === 0) expect(cmd.price <= 59_000_000_000_000n, `bid at ${cmd.price}`).toBe(true);
        else expect(cmd.price >= 61_000_000_000_000n).toBe(true);
      }
    }
    // 47.5% / 47.5% / 5% of 160 commands.
    expect(iocs).toBe(8);
    expect(iocSides).toEqual([4, 4]);
    expect(places).toBe(76);
    expect(cancels).toBe(76);
  });
});

describe("load harness acks", () => {
  const rejectFrame = (kind: typeof EventKind.CommandRejected | typeof EventKind.OrderRejected, code: number): Buffer => {
    const e = new EventRecord();
    e.kind = kind;
    e.code = code;
    e.account = 17;
    e.message = "rate limit: too many commands per second from this address";
    return Buffer.from(encodeEvent(e, 5n, config));
  };

  it("X6: a RateLimited or Overloaded refusal is told from other rejects (counted apart, not as a served command)", () => {
    expect(rejectCodeOf(rejectFrame(EventKind.CommandRejected, RejectCode.RateLimited), Event.CommandRejected)).toBe(RejectCode.RateLimited);
    expect(rejectCodeOf(rejectFrame(EventKind.OrderRejected, RejectCode.RateLimited), Event.OrderRejected)).toBe(RejectCode.RateLimited);
    expect(rejectCodeOf(rejectFrame(EventKind.OrderRejected, RejectCode.Overloaded), Event.OrderRejected)).toBe(RejectCode.Overloaded);
    expect(rejectCodeOf(rejectFrame(EventKind.CommandRejected, RejectCode.RateLimited), Event.OrderAccepted)).toBe(0);
    // Refusals (not acks): a rate limit, a saturated engine. Any other reject answers the command.
    expect([RejectCode.RateLimited, RejectCode.Overloaded, RejectCode.InsufficientMargin, 0].map(isRefusal)).toEqual([true, true, false, false]);
  });

  it("X5: a ?frames=batch message is split into its size-prefixed events: each answers its own command; an overrun is refused", async () => {
    const c = new LoadConnection(new MixCursor([16], BTC_USDC_MIX), new PhaseState(false));
    const answered: number[] = [];
    for (const seq of [5, 6, 7]) c.waiters.set(seq, (type) => answered.push(seq * 1000 + type));
    const frames = [5n, 6n, 7n].map((clientSeq) => {
      const e = new EventRecord();
      e.kind = clientSeq === 6n ? EventKind.CommandAccepted : EventKind.Balance;
      e.account = 16;
      e.available = 5n;
      return Buffer.from(encodeEvent(e, clientSeq, config));
    });
    const message = Buffer.concat(frames.flatMap((f) => [Buffer.from(Uint32Array.of(f.length).buffer), f]));
    c.onBatch(message);
    expect(answered).toEqual([5000 + Event.Balance, 6000 + Event.CommandAccepted, 7000 + Event.Balance]);
    expect(c.waiters.size).toBe(0);
    expect(() => c.onBatch(message.subarray(0, message.length - 1))).toThrow(/runs past/);
  });

  it("X6: loopback load connections come from addresses of their own (the per-address limit is per client)", () => {
    expect(sourceAddressOf("ws://127.0.0.1:9000/", 0)).toBe("127.0.0.2");
    expect(sourceAddressOf("ws://localhost:9000/", 15)).toBe("127.0.0.17");
    expect(sourceAddressOf("ws://10.1.2.3:9000/", 3)).toBeUndefined();
  });
});

describe("load harness latency", () => {
  it("a command of the window still unacknowledged after the drain counts with its wait so far; one from before the window is only forgotten", () => {
    const phase = new PhaseState(false);
    phase.measureFrom = 1000;
    phase.measureTo = 1002;
    const c = { scheduledAt: new Float64Array(8), sentAt: new Float64Array(8), outstanding: 3 };
    c.scheduledAt[1] = 1000.5;
    c.sentAt[1] = 1000.75;
    c.scheduledAt[2] = 999; // scheduled before the window (the previous phase's)
    c.sentAt[2] = 999;
    c.scheduledAt[5] = 1001.25;
    c.sentAt[5] = 1001.5;
    expect(chargeUnacked([c], phase, 1002)).toBe(2);
    expect(phase.fromScheduled.totalCount).toBe(2);
    expect([phase.fromScheduled.minNonZeroValue, phase.fromScheduled.maxValue, phase.fromScheduled.mean]).toEqual([750, 1500, 1125]);
    expect([phase.fromSent.minNonZeroValue, phase.fromSent.maxValue]).toEqual([500, 1250]);
    // Forgotten: an answer that comes later is not counted again.
    expect([...c.scheduledAt]).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(c.outstanding).toBe(0);
  });
});

describe("load harness open-loop pacing", () => {
  it("command n is due at n × spacing: the first at once, none before the start, never more than the phase's total", () => {
    // 10k/s: 0.1 ms apart. The timer pacer counted floor(elapsed / spacing) — command 0 only after 0.1 ms.
    expect(commandsDue(-0.01, 0.1, 100)).toBe(0);
    expect(commandsDue(0, 0.1, 100)).toBe(1);
    expect(commandsDue(0.099, 0.1, 100)).toBe(1);
    expect(commandsDue(0.25, 0.1, 100)).toBe(3);
    expect(commandsDue(1_000, 0.1, 100)).toBe(100);
  });

  it("the send lag is each command's real send minus its scheduled time, recorded only for the window", () => {
    const phase = new PhaseState(false);
    phase.measureFrom = 1000;
    phase.measureTo = 2000;
    phase.sent(999, 1000.5);
    phase.sent(1000, 1000.05);
    phase.sent(1500, 1500.3);
    phase.sent(2000, 2000.1);
    expect(phase.sendLag.totalCount).toBe(2);
    expect([phase.sendLag.minNonZeroValue, phase.sendLag.maxValue]).toEqual([50, 300]);
  });

  it("the pacer wakes the client once per request, not before the time asked for", async () => {
    const woke: number[] = [];
    let asked = 0;
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const pacer = await Pacer.start(() => {
      woke.push(performance.now());
      if (woke.length === 3) return done();
      asked = performance.now() + 2;
      pacer.wakeAt(asked);
    });
    asked = performance.now() + 2;
    const first = asked;
    pacer.wakeAt(asked);
    await finished;
    await pacer.stop();
    expect(woke.length).toBe(3);
    expect(woke[0]!).toBeGreaterThanOrEqual(first);
    expect(woke[2]!).toBeGreaterThanOrEqual(asked);
  });
});

describe("load harness plot", () => {
  const phase = (name: string, rate: number | null, p50Us: number): PhaseResult => ({
    name, offeredPerSec: rate, ackedPerSec: 1, acked: 1, rejected: 0, unacked: 0, p50Us, p99Us: p50Us * 4, p999Us: p50Us * 8,
    meanUs: p50Us, realP50Us: p50Us, sendLagP50Us: 0, sendLagP99Us: 0, sendLagP999Us: 0, serverCores: null, clientCores: 0, note: "", refused: 0,
  });

  it("draws one line per percentile and server, one point per open-loop rate", () => {
    const svg = latencySvg({ crossbook: [phase("closed.k16", null, 9000), phase("open.10k", 10_000, 800), phase("open.50k", 50_000, 1200)], echo: [phase("open.10k", 10_000, 70), phase("open.50k", 50_000, 90)] }, "t");
    expect(svg.match(/<polyline/g)!.length).toBe(6);
    expect(svg.match(/<circle/g)!.length).toBe(12);
    expect(svg).toContain(">10k/s<");
    expect(svg).toContain(">50k/s<");
    expect(svg.match(/stroke-dasharray/g)!.length).toBe(6);
  });
});
