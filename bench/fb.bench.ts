// Micro-benchmarks of the wire codec's hot path: decoding a LimitOrder frame into a reused CommandRecord (verify +
// validate + convert decimals) and encoding a Fill event with the reused builder. Inputs are pre-built, varied
// frames and records, so nothing is constant-folded.
import { CommandRecord, EventKind, EventRecord, type ExchangeConfig } from "../engine/model/index.ts";
import { loadConfig } from "../engine/pipeline/config.ts";
import { encodeCommand } from "../gateway/client/codec.ts";
import { DecodeResult, decodeCommand, encodeEvent } from "../gateway/codec/index.ts";
import type { BenchDef } from "./harness.ts";

const N = 64; // frames / records per call
let config: ExchangeConfig;
const frames: Uint8Array[] = [];
const fills: EventRecord[] = [];
const out = new CommandRecord();
const result = new DecodeResult();
let sink = 0;

function setupDecode(): void {
  config = loadConfig();
  frames.length = 0;
  for (let i = 0; i < N; i++) {
    frames.push(
      encodeCommand(BigInt(i + 1), {
        type: "LimitOrder",
        account: 17 + 16 * i,
        market: i % 3,
        side: i % 2 === 0 ? "Buy" : "Sell",
        tif: "GTC",
        price: `${100 + i}.${(i * 37) % 100}`,
        quantity: `0.${1000 + i}`,
        clientId: BigInt(1_000_000 + i),
        postOnly: i % 5 === 0,
      }),
    );
  }
  // Sanity: every frame must decode, or the figure would time the reject path.
  for (const f of frames) {
    if (!decodeCommand(f, config, out, result)) throw new Error(`fb.decode.order setup: ${result.message}`);
  }
}

function setupEncode(): void {
  config = loadConfig();
  fills.length = 0;
  for (let i = 0; i < N; i++) {
    fills.push(
      Object.assign(new EventRecord(), {
        kind: EventKind.Fill,
        seq: 1_000_000 + i,
        marketSeq: 50_000 + i,
        market: i % 3,
        tradeId: 700_000 + i,
        price: 50_000_000_000_000n + BigInt(i) * 10_000_000n,
        quantity: 1_000_000n + BigInt(i),
        quoteQuantity: 500_000_000n + BigInt(i),
        account: 17 + 16 * i,
        makerAccount: 33 + 16 * i,
        orderId: 1_000_000 + i,
        makerOrderId: 900_000 + i,
        clientId: BigInt(i),
        makerClientId: BigInt(i + 1),
        side: i % 2,
        takerFee: 500_000n + BigInt(i),
        makerFee: 400_000n + BigInt(i),
        timeMs: 1_767_225_600_000 + i,
      }),
    );
  }
}

export const benchmarks: BenchDef[] = [
  {
    id: "fb.decode.order",
    kind: "tinybench",
    setup: setupDecode,
    opsPerCall: N,
    notes: "decodeCommand(LimitOrder frame) into a reused CommandRecord: verify, validate, Decimal → units; target ≤ 200 ns",
    fn: () => {
      for (let i = 0; i < N; i++) {
        decodeCommand(frames[i]!, config, out, result);
        sink ^= out.account;
      }
    },
  },
  {
    id: "fb.encode.fill",
    kind: "tinybench",
    setup: setupEncode,
    opsPerCall: N,
    notes: "encodeEvent(Fill) with the reused builder (view of its buffer, no copy)",
    fn: () => {
      for (let i = 0; i < N; i++) sink ^= encodeEvent(fills[i]!, BigInt(i), config, (i & 1) === 1).length;
    },
  },
];

/** Keeps the results observable so the loops are not dead code. */
export function benchSink(): number {
  return sink;
}
