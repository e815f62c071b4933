// Wire codec: client commands → frames → engine CommandRecords, engine events → frames → client objects, and typed
// rejects for every kind of bad frame (X5).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ALL_MARKETS,
  CommandKind,
  CommandRecord,
  EventKind,
  EventRecord,
  OrderFlag,
  RejectCode,
  rejectCodeName,
} from "../engine/model/index.ts";
import { loadConfig } from "../engine/pipeline/config.ts";
import {
  CommandJsonError,
  WireFormatError,
  decodeEvent,
  encodeCommand,
  jsonToFrame,
  parseWireDecimal,
  type CommandJson,
} from "../gateway/client/codec.ts";
import {
  DecodedKind,
  DecodeResult,
  MAX_COMMAND_FRAME_BYTES,
  decodeCommand,
  encodeBookTicker,
  encodeDepthDelta,
  encodeDepthSnapshot,
  encodeEvent,
  encodeTicker,
  encodeTrade,
} from "../gateway/codec/index.ts";
import { encodeEventBody } from "../gateway/codec/generated/encode-events.ts";
import { WHAT_IF_SHOCKS_MAX } from "../gateway/codec/wire-reads.ts";
import { decimal } from "../gateway/codec/wire-values.ts";
import { Builder } from "flatbuffers";
import * as wire from "../schemas/index.ts";
import { rawFrame } from "./helpers/frames.ts";

const config = loadConfig();
// Markets of config/default.json: 0 BTC_USDC (BTC 8 decimals, USDC 6), 2 SOL_USDC (SOL 9), 3 BTC_USDC_PERP.
const BTC = 2;
const USDC = 0;
const SOL = 4;

const out = new CommandRecord();
const result = new DecodeResult();

function decode(frame: Uint8Array): boolean {
  return decodeCommand(frame, config, out, result);
}

function record(fields: Partial<CommandRecord>): CommandRecord {
  return Object.assign(new CommandRecord(), fields);
}

function event(fields: Partial<EventRecord>): EventRecord {
  return Object.assign(new EventRecord(), fields);
}

function expectAccepted(frame: Uint8Array, expected: CommandRecord, clientSeq = 0n): void {
  const ok = decode(frame);
  expect(result.message).toBe("");
  expect(ok).toBe(true);
  expect(result.kind).toBe(DecodedKind.Engine);
  expect(result.clientSeq).toBe(clientSeq);
  expect({ ...out }).toEqual({ ...expected });
}

function expectReject(frame: Uint8Array, code: number, messagePart: string): void {
  const ok = decode(frame);
  expect(ok).toBe(false);
  expect(result.kind).toBe(DecodedKind.Rejected);
  expect(rejectCodeName[result.code]).toBe(rejectCodeName[code]);
  expect(result.message).toContain(messagePart);
}

// ---- raw frames, for what the client SDK refuses to write

type Dec = [bigint, number];


interface RawLimit {
  account?: number;
  market?: number;
  side?: number;
  tif?: number;
  stp?: number;
  price?: Dec | null;
  quantity?: Dec | null;
}

function rawLimitOrder(f: RawLimit): Uint8Array {
  return rawFrame(1n, wire.Command.LimitOrder, (b) => {
    wire.LimitOrder.startLimitOrder(b);
    wire.LimitOrder.addAccount(b, f.account ?? 17);
    wire.LimitOrder.addMarket(b, f.market ?? 0);
    wire.LimitOrder.addSide(b, f.side ?? 0);
    wire.LimitOrder.addTif(b, f.tif ?? 0);
    wire.LimitOrder.addStp(b, f.stp ?? 0);
    const price = f.price === undefined ? ([50_000n, 0] as Dec) : f.price;
    const quantity = f.quantity === undefined ? ([1n, 1] as Dec) : f.quantity;
    if (price !== null) wire.LimitOrder.addPrice(b, wire.Decimal.createDecimal(b, price[0], price[1]));
    if (quantity !== null) wire.LimitOrder.addQuantity(b, wire.Decimal.createDecimal(b, quantity[0], quantity[1]));
    return wire.LimitOrder.endLimitOrder(b);
  });
}

function rawDeposit(account: number, asset: number, amount: Dec): Uint8Array {
  return rawFrame(1n, wire.Command.Deposit, (b) => {
    wire.Deposit.startDeposit(b);
    wire.Deposit.addAccount(b, account);
    wire.Deposit.addAsset(b, asset);
    wire.Deposit.addAmount(b, wire.Decimal.createDecimal(b, amount[0], amount[1]));
    return wire.Deposit.endDeposit(b);
  });
}

// ---- one valid frame per command type (also the seeds of the truncation and mutation tests)

const validCommands: CommandJson[] = [
  { type: "Deposit", account: 17, asset: BTC, amount: "1.5" },
  { type: "Withdraw", account: 18, asset: USDC, amount: "100.25", margin: true },
  {
    type: "LimitOrder",
    account: 17,
    market: 0,
    side: "Sell",
    tif: "FOK",
    price: "50000.5",
    quantity: "0.12345678",
    postOnly: true,
    reduceOnly: true,
    clientId: 18_446_744_073_709_551_615n,
    stp: "RejectBoth",
    autoBorrow: true,
    autoBorrowRepay: true,
    autoLend: true,
    autoLendRedeem: true,
  },
  { type: "MarketOrder", account: 17, market: 0, side: "Buy", quoteQuantity: "1000.5", clientId: 9 },
  { type: "Cancel", account: 17, market: 0, orderId: 42 },
  { type: "CancelAll", account: 17, market: 1 },
  { type: "Replace", account: 17, market: 0, clientId: "7", price: "51000", quantity: "0.2" },
  { type: "Transfer", fromAccount: 17, toAccount: 18, asset: USDC, amount: "10" },
  { type: "SetMarketState", market: 3, state: "CancelOnly" },
  { type: "AdvanceTime", timeMs: 1_767_225_600_000 },
  { type: "Subscribe", market: 0, channels: ["Depth", "Bbo"] },
  { type: "Unsubscribe", channels: 15 },
];
const validFrames = validCommands.map((c, i) => encodeCommand(BigInt(i + 1), c));

describe("commands: client JSON → frame → CommandRecord (exact values)", () => {
  it("Deposit: amount in the asset's units, privileged", () => {
    expectAccepted(
      encodeCommand(5n, { type: "Deposit", account: 17, asset: BTC, amount: "1.5" }),
      record({ kind: CommandKind.Deposit, account: 17, asset: BTC, amount: 150_000_000n }),
      5n,
    );
    expect(result.privileged).toBe(true);
  });

  it("Withdraw: margin withdrawal borrows the missing part (AutoBorrow flag)", () => {
    expectAccepted(
      validFrames[1]!,
      record({ kind: CommandKind.Withdraw, account: 18, asset: USDC, amount: 100_250_000n, flags: OrderFlag.AutoBorrow }),
      2n,
    );
    expect(result.privileged).toBe(false);
  });

  it("LimitOrder with every field set", () => {
    expectAccepted(
      validFrames[2]!,
      record({
        kind: CommandKind.PlaceOrder,
        orderType: wire.OrderType.Limit,
        account: 17,
        market: 0,
        side: wire.Side.Sell,
        tif: wire.TimeInForce.FOK,
        stp: wire.SelfTradePrevention.RejectBoth,
        price: 50_000_500_000_000n,
        quantity: 12_345_678n,
        clientId: 18_446_744_073_709_551_615n,
        flags: 63,
      }),
      3n,
    );
    expect(result.clientId).toBe(18_446_744_073_709_551_615n);
  });

  it("LimitOrder defaults: tif GTC, stp RejectTaker, no flags, clientId 0 (SOL: 9 decimals)", () => {
    expectAccepted(
      jsonToFrame({ type: "LimitOrder", account: 33, market: 2, side: "Buy", price: "150.123", quantity: "2.000" }),
      record({
        kind: CommandKind.PlaceOrder,
        account: 33,
        market: 2,
        side: wire.Side.Buy,
        tif: wire.TimeInForce.GTC,
        stp: wire.SelfTradePrevention.RejectTaker,
        price: 150_123_000_000n,
        quantity: 2_000_000_000n,
      }),
    );
  });

  it("MarketOrder buy by quote quantity: quote units, IOC", () => {
    expectAccepted(
      validFrames[3]!,
      record({
        kind: CommandKind.PlaceOrder,
        orderType: wire.OrderType.Market,
        account: 17,
        market: 0,
        side: wire.Side.Buy,
        tif: wire.TimeInForce.IOC,
        quoteQuantity: 1_000_500_000n,
        clientId: 9n,
      }),
      4n,
    );
  });

  it("MarketOrder sell by quantity, reduce-only on a perpetual, STP Allow", () => {
    expectAccepted(
      encodeCommand(0, {
        type: "MarketOrder",
        account: 17,
        market: 3,
        side: "Sell",
        quantity: "0.5",
        reduceOnly: true,
        stp: "Allow",
      }),
      record({
        kind: CommandKind.PlaceOrder,
        orderType: wire.OrderType.Market,
        account: 17,
        market: 3,
        side: wire.Side.Sell,
        tif: wire.TimeInForce.IOC,
        stp: wire.SelfTradePrevention.Allow,
        quantity: 50_000_000n,
        flags: OrderFlag.ReduceOnly,
      }),
    );
  });

  it("Cancel by order id and by client id", () => {
    expectAccepted(validFrames[4]!, record({ kind: CommandKind.CancelOrder, account: 17, market: 0, orderId: 42 }), 5n);
    expectAccepted(
      encodeCommand(0, { type: "Cancel", account: 17, market: 0, clientId: 7 }),
      record({ kind: CommandKind.CancelOrder, account: 17, market: 0, clientId: 7n, flags: OrderFlag.ByClientId }),
    );
  });

  it("CancelAll: one market, market 0 written explicitly, or every market when omitted", () => {
    expectAccepted(validFrames[5]!, record({ kind: CommandKind.CancelAll, account: 17, market: 1 }), 6n);
    expectAccepted(
      encodeCommand(0, { type: "CancelAll", account: 17, market: 0 }),
      record({ kind: CommandKind.CancelAll, account: 17, market: 0 }),
    );
    expectAccepted(
      encodeCommand(0, { type: "CancelAll", account: 17 }),
      record({ kind: CommandKind.CancelAll, account: 17, market: ALL_MARKETS }),
    );
  });

  it("Replace by client id: new price and quantity", () => {
    expectAccepted(
      validFrames[6]!,
      record({
        kind: CommandKind.ReplaceOrder,
        account: 17,
        market: 0,
        clientId: 7n,
        flags: OrderFlag.ByClientId,
        price: 51_000_000_000_000n,
        quantity: 20_000_000n,
      }),
      7n,
    );
  });

  it("Transfer between two accounts of one user", () => {
    expectAccepted(
      validFrames[7]!,
      record({ kind: CommandKind.Transfer, account: 17, account2: 18, asset: USDC, amount: 10_000_000n }),
      8n,
    );
  });

  it("SetMarketState and AdvanceTime are privileged", () => {
    expectAccepted(validFrames[8]!, record({ kind: CommandKind.SetMarketState, market: 3, marketState: 3 }), 9n);
    expect(result.privileged).toBe(true);
    expectAccepted(validFrames[9]!, record({ kind: CommandKind.AdvanceTime, timeMs: 1_767_225_600_000 }), 10n);
    expect(result.privileged).toBe(true);
  });

  it("Subscribe / Unsubscribe are reported to the gateway and leave the record alone", () => {
    out.clear();
    out.account = 99;
    expect(decode(validFrames[10]!)).toBe(true);
    expect(result.kind).toBe(DecodedKind.Subscribe);
    expect([result.market, result.channels, result.clientSeq]).toEqual([0, 5, 11n]);
    expect(decode(validFrames[11]!)).toBe(true);
    expect(result.kind).toBe(DecodedKind.Unsubscribe);
    expect([result.market, result.channels]).toEqual([ALL_MARKETS, 15]);
    expect(out.account).toBe(99);
  });

  it("property: any in-range price and quantity text converts to exact engine units", () => {
    fc.assert(
      fc.property(
        // Up to 10^18 engine units, inside int64 at any scale.
        fc.bigInt({ min: 1n, max: 10n ** 9n }),
        fc.integer({ min: 0, max: 9 }),
        fc.bigInt({ min: 1n, max: 10n ** 10n }),
        fc.integer({ min: 0, max: 8 }),
        (priceMantissa, priceScale, qtyMantissa, qtyScale) => {
          const text = (m: bigint, s: number): string =>
            s === 0 ? m.toString() : `${m / 10n ** BigInt(s)}.${(m % 10n ** BigInt(s)).toString().padStart(s, "0")}`;
          const frame = encodeCommand(1, {
            type: "LimitOrder",
            account: 17,
            market: 0,
            side: "Buy",
            price: text(priceMantissa, priceScale),
            quantity: text(qtyMantissa, qtyScale),
          });
          expect(decode(frame)).toBe(true);
          expect(out.price).toBe(priceMantissa * 10n ** BigInt(9 - priceScale));
          expect(out.quantity).toBe(qtyMantissa * 10n ** BigInt(8 - qtyScale));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("commands: X5 bad input gets a typed reject and never throws", () => {
  it("X5: an unknown union type → UnknownCommand (client_seq still echoed)", () => {
    const frame = rawFrame(77n, 99, (b) => {
      wire.Deposit.startDeposit(b);
      wire.Deposit.addAccount(b, 17);
      return wire.Deposit.endDeposit(b);
    });
    expectReject(frame, RejectCode.UnknownCommand, "unknown command type 99");
    expect(result.clientSeq).toBe(77n);
    expectReject(rawFrame(78n, 0, null), RejectCode.UnknownCommand, "no command");
    expect(result.clientSeq).toBe(78n);
  });

  it("X5: a negative amount → InvalidAmount 'negative …'", () => {
    expectReject(encodeCommand(1, { type: "Deposit", account: 17, asset: BTC, amount: "-1" }), RejectCode.InvalidAmount, "negative amount");
    expectReject(rawLimitOrder({ price: [-5n, 0] }), RejectCode.InvalidPrice, "negative price");
    expectReject(rawLimitOrder({ quantity: [-1n, 8] }), RejectCode.InvalidQuantity, "negative quantity");
  });

  it("X5: an over-scale amount, price or quantity → 'over-scale: …'", () => {
    expectReject(
      encodeCommand(1, { type: "Deposit", account: 17, asset: BTC, amount: "0.000000001" }),
      RejectCode.InvalidAmount,
      "over-scale: amount has scale 9, at most 8",
    );
    expectReject(rawLimitOrder({ price: [10_000_000_001n, 10] }), RejectCode.InvalidPrice, "over-scale: price");
    expectReject(rawLimitOrder({ quantity: [1n, 9] }), RejectCode.InvalidQuantity, "over-scale: quantity");
    // USDC has 6 decimals: a quote quantity with 7 places is over-scale.
    expectReject(
      encodeCommand(1, { type: "MarketOrder", account: 17, market: 0, side: "Buy", quoteQuantity: "1.0000001" }),
      RejectCode.InvalidQuantity,
      "over-scale: quote_quantity has scale 7, at most 6",
    );
  });

  it("X5: trailing zeros are not over-scale when the client writes them (client trims) but are when raw", () => {
    expect(decode(encodeCommand(1, { type: "Deposit", account: 17, asset: BTC, amount: "1.0000000000" }))).toBe(true);
    expect(out.amount).toBe(100_000_000n);
    expectReject(rawDeposit(17, BTC, [10_000_000_000n, 10]), RejectCode.InvalidAmount, "over-scale");
  });

  it("X5: zero quantity, zero price, missing price → rejected", () => {
    expectReject(rawLimitOrder({ quantity: [0n, 0] }), RejectCode.InvalidQuantity, "zero quantity");
    expectReject(rawLimitOrder({ quantity: null }), RejectCode.InvalidQuantity, "zero quantity");
    expectReject(rawLimitOrder({ price: [0n, 3] }), RejectCode.InvalidPrice, "zero price");
    expectReject(rawLimitOrder({ price: null }), RejectCode.InvalidPrice, "zero price");
    expectReject(
      encodeCommand(1, { type: "Deposit", account: 17, asset: USDC, amount: "0" }),
      RejectCode.InvalidAmount,
      "zero amount",
    );
  });

  it("X5: a value that overflows int64 in engine units → rejected", () => {
    expectReject(rawLimitOrder({ quantity: [2n ** 62n, 0] }), RejectCode.InvalidQuantity, "overflows int64");
  });

  it("X5: market orders need exactly one of quantity and quote_quantity; quote only for buys", () => {
    expectReject(
      encodeCommand(1, { type: "MarketOrder", account: 17, market: 0, side: "Buy" }),
      RejectCode.InvalidQuantity,
      "zero quantity",
    );
    expectReject(
      encodeCommand(1, { type: "MarketOrder", account: 17, market: 0, side: "Buy", quantity: "1", quoteQuantity: "5" }),
      RejectCode.InvalidQuantity,
      "exactly one",
    );
    expectReject(
      encodeCommand(1, { type: "MarketOrder", account: 17, market: 0, side: "Sell", quoteQuantity: "5" }),
      RejectCode.InvalidQuantity,
      "buy orders only",
    );
  });

  it("X5: an unknown market → UnknownMarket; an unknown asset → UnknownAsset", () => {
    expectReject(rawLimitOrder({ market: config.markets.length }), RejectCode.UnknownMarket, `unknown market ${config.markets.length}`);
    expectReject(encodeCommand(1, { type: "Cancel", account: 17, market: ALL_MARKETS, orderId: 1 }), RejectCode.UnknownMarket, "unknown market");
    expectReject(rawDeposit(17, config.assets.length, [1n, 0]), RejectCode.UnknownAsset, `unknown asset ${config.assets.length}`);
    expectReject(
      encodeCommand(1, { type: "Transfer", fromAccount: 17, toAccount: 18, asset: 300, amount: "1" }),
      RejectCode.UnknownAsset,
      "unknown asset 300",
    );
  });

  it("X5: a bad enum value → InvalidField naming the field", () => {
    expectReject(rawLimitOrder({ side: 2 }), RejectCode.InvalidField, "side: 2 is not a Side");
    expectReject(rawLimitOrder({ tif: 3 }), RejectCode.InvalidField, "tif: 3 is not a TimeInForce");
    expectReject(rawLimitOrder({ stp: 200 }), RejectCode.InvalidField, "stp: 200 is not a SelfTradePrevention");
    expectReject(
      encodeCommand(1, { type: "SetMarketState", market: 0, state: 5 }),
      RejectCode.InvalidField,
      "state: 5 is not a MarketState",
    );
    // Depth 1 … Mark 16 (P3), Liquidation 32 (Q6): 64 names no channel.
    expectReject(encodeCommand(1, { type: "Subscribe", market: 0, channels: 64 }), RejectCode.InvalidField, "channels");
    expectReject(encodeCommand(1, { type: "Subscribe", market: 0, channels: [] }), RejectCode.InvalidField, "channels");
  });

  it("X5: accounts: 0, a sub-account index above 10, an exchange account → InvalidAccount", () => {
    expectReject(rawLimitOrder({ account: 0 }), RejectCode.InvalidAccount, "account 0");
    expectReject(rawLimitOrder({ account: (5 << 4) | 11 }), RejectCode.InvalidAccount, "sub-account index 11");
    expectReject(rawLimitOrder({ account: 1 }), RejectCode.InvalidAccount, "belongs to the exchange");
    expectReject(
      encodeCommand(1, { type: "Transfer", fromAccount: 17, toAccount: 31, asset: 0, amount: "1" }),
      RejectCode.InvalidAccount,
      "to_account: sub-account index 15",
    );
    // The operator may credit an exchange account (insurance fund).
    expect(decode(rawDeposit(2, USDC, [1n, 0]))).toBe(true);
    expect(out.account).toBe(2);
  });

  it("X5: transfers stay within one user and never to the same account", () => {
    expectReject(
      encodeCommand(1, { type: "Transfer", fromAccount: 17, toAccount: 33, asset: 0, amount: "1" }),
      RejectCode.InvalidTransfer,
      "different users",
    );
    expectReject(
      encodeCommand(1, { type: "Transfer", fromAccount: 17, toAccount: 17, asset: 0, amount: "1" }),
      RejectCode.InvalidTransfer,
      "to itself",
    );
  });

  it("X5: cancel/replace need exactly one of order_id and client_id", () => {
    expectReject(encodeCommand(1, { type: "Cancel", account: 17, market: 0 }), RejectCode.InvalidField, "exactly one");
    expectReject(
      encodeCommand(1, { type: "Cancel", account: 17, market: 0, orderId: 1, clientId: 1 }),
      RejectCode.InvalidField,
      "exactly one",
    );
    expectReject(
      encodeCommand(1, { type: "Replace", account: 17, market: 0, price: "1", quantity: "1" }),
      RejectCode.InvalidField,
      "exactly one",
    );
    expectReject(
      encodeCommand(1, { type: "Cancel", account: 17, market: 0, orderId: 2n ** 60n }),
      RejectCode.UnknownOrder,
      "does not exist",
    );
  });

  it("X5: a time beyond 2^53 ms → InvalidTime", () => {
    expectReject(encodeCommand(1, { type: "AdvanceTime", timeMs: 2n ** 53n }), RejectCode.InvalidTime, "time_ms");
  });

  it("X5: a field the server does not know (newer schema) → MalformedFrame 'unknown field'", () => {
    const frame = rawFrame(1n, wire.Command.Deposit, (b) => {
      b.startObject(5);
      b.addFieldInt32(0, 17, 0);
      b.addFieldInt16(1, USDC, 0);
      b.addFieldInt8(4, 1, 0);
      return b.endObject();
    });
    expectReject(frame, RejectCode.MalformedFrame, "Deposit: unknown field #4");
  });

  it("X5: a command type with no command table → MalformedFrame", () => {
    expectReject(rawFrame(3n, wire.Command.LimitOrder, null), RejectCode.MalformedFrame, "missing");
    expect(result.clientSeq).toBe(3n);
  });

  it("X5: frames shorter than 8 bytes or longer than the limit → MalformedFrame", () => {
    expectReject(new Uint8Array(0), RejectCode.MalformedFrame, "shorter than the 8-byte minimum");
    const big = new Uint8Array(MAX_COMMAND_FRAME_BYTES + 1);
    big.set(validFrames[2]!);
    expectReject(big, RejectCode.MalformedFrame, "exceeds");
  });

  it("X5: every truncated prefix of every valid frame → MalformedFrame, never throws", () => {
    let prefixes = 0;
    for (const frame of validFrames) {
      expect(decode(frame)).toBe(true);
      for (let length = 0; length < frame.length; length++) {
        expect(decode(frame.subarray(0, length)), `prefix ${length} of ${frame.length}`).toBe(false);
        expect(rejectCodeName[result.code]).toBe("MalformedFrame");
        expect(result.message).not.toContain("undecodable");
        prefixes++;
      }
    }
    expect(prefixes).toBeGreaterThan(500);
  });

  /** What an accepted frame must look like, however it was produced. */
  function expectSaneAcceptance(): void {
    if (result.kind === DecodedKind.Engine) {
      expect(out.kind).toBeGreaterThan(CommandKind.None);
      // The clock, market states and the public pool queries (stats, rate curve) name no account; a mutated frame
      // can turn into one of those (seed -463385383 made a SetMarketState frame a QueryPoolStats of asset 3).
      const accountless = out.kind === CommandKind.AdvanceTime || out.kind === CommandKind.SetMarketState ||
        out.kind === CommandKind.QueryPoolStats || out.kind === CommandKind.QueryRateCurve;
      if (!accountless) {
        expect(out.account).toBeGreaterThan(0);
        expect(out.account & 15).toBeLessThanOrEqual(10);
      }
      expect(out.market < config.markets.length || out.market === ALL_MARKETS).toBe(true);
      expect(out.asset).toBeLessThan(config.assets.length);
      for (const v of [out.price, out.quantity, out.quoteQuantity, out.amount]) {
        expect(v >= 0n && v <= 0x7fff_ffff_ffff_ffffn).toBe(true);
      }
    } else {
      // Gateway-only frames: a mutated frame can turn into any of them (seed 1080866182 at 400k runs made frame 9 an
      // AccountSnapshot), each with its fields within bounds.
      expect([
        DecodedKind.Subscribe,
        DecodedKind.Unsubscribe,
        DecodedKind.Login,
        DecodedKind.ResumeAccount,
        DecodedKind.AccountSnapshot,
        DecodedKind.TakeSnapshot,
        DecodedKind.WhatIf,
      ]).toContain(result.kind);
      if (result.kind === DecodedKind.ResumeAccount || result.kind === DecodedKind.AccountSnapshot) {
        expect(result.account).toBeGreaterThan(0);
        expect(result.fromSeq).toBeGreaterThanOrEqual(0);
      }
      if (result.kind === DecodedKind.Login) expect([result.loginKey?.length, result.loginSignature?.length]).toEqual([32, 64]);
      if (result.kind === DecodedKind.WhatIf) {
        expect(result.whatIfShocks >= 1 && result.whatIfShocks <= WHAT_IF_SHOCKS_MAX).toBe(true);
        for (let i = 0; i < result.whatIfShocks; i++) expect(result.whatIfAssets[i]).toBeLessThan(config.assets.length);
      }
    }
  }

  function expectHandled(frame: Uint8Array): void {
    const ok = decode(frame);
    if (ok) {
      expectSaneAcceptance();
    } else {
      expect(result.code).toBeGreaterThan(RejectCode.None);
      expect(rejectCodeName[result.code]).toBeDefined();
      expect(result.message.length).toBeGreaterThan(0);
      // The verifier, not the try/catch backstop, caught it.
      expect(result.message).not.toContain("undecodable");
    }
  }

  it("X5: 10k random byte strings → a typed reject (or a sane command), never a throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 160 }), (bytes) => {
        expectHandled(bytes);
      }),
      { numRuns: 10_000 },
    );
  });

  it("X5: 10k valid frames with random bytes overwritten → a typed reject or a sane command", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: validFrames.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (which, edits) => {
          const frame = validFrames[which]!.slice();
          for (const [at, value] of edits) frame[at % frame.length] = value;
          expectHandled(frame);
        },
      ),
      { numRuns: 10_000 },
    );
  });
});

describe("client JSON: what cannot be encoded throws CommandJsonError", () => {
  it("unknown type, unknown field, bad decimal text, out-of-range ids", () => {
    expect(() => jsonToFrame({ type: "Borrow", account: 17 })).toThrow(CommandJsonError);
    expect(() => jsonToFrame({ type: "Deposit", account: 17, asset: 0, amount: "1", qty: "2" })).toThrow(
      'Deposit: unknown field "qty"',
    );
    expect(() => jsonToFrame({ type: "Deposit", account: 17, asset: 0, amount: "1e5" })).toThrow("not a plain decimal");
    expect(() => jsonToFrame({ type: "Deposit", account: 17, asset: 0, amount: 0.1 })).toThrow("decimal string");
    expect(() => jsonToFrame({ type: "Deposit", account: -1, asset: 0, amount: "1" })).toThrow("Deposit.account");
    expect(() => jsonToFrame({ type: "LimitOrder", account: 17, market: 0, side: "Long", price: "1", quantity: "1" })).toThrow(
      "Buy, Sell",
    );
    expect(() => jsonToFrame({ type: "Cancel", account: 17, market: 0, clientId: "-3" })).toThrow("u64");
    expect(() => jsonToFrame({ type: "Deposit", account: 17, asset: 0, amount: "99999999999999999999" })).toThrow(
      "64-bit mantissa",
    );
    expect(() => jsonToFrame([1, 2])).toThrow("expected a JSON object");
  });

  it("jsonToFrame reads clientSeq from the object and equals encodeCommand", () => {
    const obj = { clientSeq: 12, type: "Withdraw", account: 18, asset: 0, amount: "100.25", margin: true };
    const frame = jsonToFrame(obj);
    expect(decode(frame)).toBe(true);
    expect(result.clientSeq).toBe(12n);
    expect([...frame]).toEqual([...encodeCommand(12, validCommands[1]!)]);
  });
});

// ---------------------------------------------------------------- events

describe("events: EventRecord → frame → client object (exact values)", () => {
  const base = { seq: 1001, marketSeq: 55 };

  it("X5: the envelope's seq and market_seq, written from numbers, are the bytes the generated BigInt adders write (0, 1, 2^32 + 5, 2^53 − 1)", () => {
    for (const n of [0, 1, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER]) {
      const e = event({ seq: n, marketSeq: n === 1 ? 0 : n, kind: EventKind.Balance, account: 17, asset: 0, available: 5n, locked: 1n });
      // The reference: the flatc-generated adders on a plain Builder, as encodeEvent wrote the envelope before.
      const b = new Builder(1024);
      const body = encodeEventBody(b, e, config, false);
      wire.EventEnvelope.startEventEnvelope(b);
      b.forceDefaults(true);
      wire.EventEnvelope.addClientSeq(b, 9n);
      b.forceDefaults(false);
      wire.EventEnvelope.addSeq(b, BigInt(e.seq));
      wire.EventEnvelope.addMarketSeq(b, BigInt(e.marketSeq));
      wire.EventEnvelope.addEventType(b, wire.Event.Balance);
      wire.EventEnvelope.addEvent(b, body);
      b.finish(wire.EventEnvelope.endEventEnvelope(b));
      expect(Buffer.from(encodeEvent(e, 9n, config)).toString("hex")).toBe(Buffer.from(b.asUint8Array()).toString("hex"));
      const back = decodeEvent(encodeEvent(e, 9n, config));
      expect([back.seq, back.marketSeq]).toEqual([BigInt(e.seq), BigInt(e.marketSeq)]);
    }
  });

  it("X5: a Decimal written by wire-values' decimal (doubles within ±(2^53 − 1)) is Decimal.createDecimal's bytes, from 0 to the int64 bounds; beyond them it throws", () => {
    const edges = [0n, 1n, -1n, 255n, -256n, 2n ** 31n, -(2n ** 31n) - 1n, 2n ** 32n - 1n, 2n ** 32n, -(2n ** 32n), 2n ** 53n - 1n, -(2n ** 53n) + 1n, 2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n)];
    const values = [...edges, ...fc.sample(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { numRuns: 300, seed: 15 })];
    for (const v of values) {
      for (const scale of [0, 6, 8, 18]) {
        // A byte written before the struct, so the alignment padding (prep) differs from the buffer's start.
        const mine = new Builder(16);
        mine.addInt8(7);
        decimal(mine, v, scale);
        const reference = new Builder(16);
        reference.addInt8(7);
        wire.Decimal.createDecimal(reference, v, scale);
        expect(Buffer.from(mine.asUint8Array()).toString("hex"), `${v} at scale ${scale}`).toBe(Buffer.from(reference.asUint8Array()).toString("hex"));
      }
    }
    expect(() => decimal(new Builder(16), 2n ** 63n, 0)).toThrow(RangeError);
    expect(() => decimal(new Builder(16), -(2n ** 63n) - 1n, 0)).toThrow(RangeError);
  });

  it("X5: a reject's message written by EventBuilder.createString (ASCII copied by hand) is the runtime's TextEncoder bytes, ASCII or not, empty or long", () => {
    const messages = [
      "",
      "post-only order would cross",
      "no open order with client id 18446744073709551615",
      "\u007f edge \u0000 nul",
      "not ascii: é",
      "€ first",
      "emoji 🚀 in it",
      "x".repeat(1024),
      "y".repeat(1025),
      "short again",
    ];
    for (const message of messages) {
      for (const kind of [EventKind.OrderRejected, EventKind.CommandRejected]) {
        const e = event({ ...base, kind, account: 17, market: 0, orderId: 0, clientId: 9n, code: RejectCode.InsufficientBalance, message });
        // The reference: the generated encoder on a plain Builder (the runtime's createString), then the envelope.
        const b = new Builder(1024);
        const body = encodeEventBody(b, e, config, false);
        wire.EventEnvelope.startEventEnvelope(b);
        b.forceDefaults(true);
        wire.EventEnvelope.addClientSeq(b, 4n);
        b.forceDefaults(false);
        wire.EventEnvelope.addSeq(b, BigInt(e.seq));
        wire.EventEnvelope.addMarketSeq(b, BigInt(e.marketSeq));
        wire.EventEnvelope.addEventType(b, kind === EventKind.OrderRejected ? wire.Event.OrderRejected : wire.Event.CommandRejected);
        wire.EventEnvelope.addEvent(b, body);
        b.finish(wire.EventEnvelope.endEventEnvelope(b));
        const mine = encodeEvent(e, 4n, config);
        expect(Buffer.from(mine).toString("hex"), `${kind} ${JSON.stringify(message.slice(0, 40))}`).toBe(Buffer.from(b.asUint8Array()).toString("hex"));
        expect((decodeEvent(encodeEvent(e, 4n, config)) as { message: string }).message).toBe(message);
      }
    }
  });

  it("OrderAccepted", () => {
    const e = event({
      ...base,
      kind: EventKind.OrderAccepted,
      account: 17,
      market: 0,
      orderId: 1001,
      clientId: 5n,
      side: 1,
      price: 50_000_500_000_000n,
      quantity: 10_000_000n,
    });
    expect(decodeEvent(encodeEvent(e, 3n, config))).toEqual({
      clientSeq: 3n,
      seq: 1001n,
      marketSeq: 55n,
      type: "OrderAccepted",
      account: 17,
      market: 0,
      orderId: 1001n,
      clientId: 5n,
      side: "Sell",
      price: "50000.5",
      quantity: "0.1",
    });
  });

  it("OrderRejected and CommandRejected carry the code name and message", () => {
    const e = event({
      ...base,
      kind: EventKind.OrderRejected,
      account: 17,
      market: 2,
      orderId: 1001,
      clientId: 8n,
      code: RejectCode.TickSize,
      message: "price 150.0005 is not a multiple of tick 0.01 — ünïcödé",
    });
    expect(decodeEvent(encodeEvent(e, 4n, config))).toEqual({
      clientSeq: 4n,
      seq: 1001n,
      marketSeq: 55n,
      type: "OrderRejected",
      account: 17,
      market: 2,
      orderId: 1001n,
      clientId: 8n,
      code: "TickSize",
      message: "price 150.0005 is not a multiple of tick 0.01 — ünïcödé",
    });
    const c = event({ seq: 7, kind: EventKind.CommandRejected, account: 18, code: RejectCode.InsufficientBalance, message: "no" });
    expect(decodeEvent(encodeEvent(c, 0n, config))).toEqual({
      clientSeq: 0n,
      seq: 7n,
      marketSeq: 0n,
      type: "CommandRejected",
      account: 18,
      code: "InsufficientBalance",
      message: "no",
    });
  });

  const fill = event({
    ...base,
    kind: EventKind.Fill,
    market: 0,
    tradeId: 9,
    price: 50_000_500_000_000n,
    quantity: 10_000_000n,
    quoteQuantity: 5_000_050_000n,
    account: 17,
    makerAccount: 33,
    orderId: 1001,
    makerOrderId: 900,
    clientId: 5n,
    makerClientId: 6n,
    side: 0,
    takerFee: 10_000n,
    makerFee: 4_000_040n,
    timeMs: 1_767_225_600_123,
  });
  const fillCommon = {
    clientSeq: 2n,
    seq: 1001n,
    marketSeq: 55n,
    type: "Fill",
    market: 0,
    tradeId: 9n,
    price: "50000.5",
    quantity: "0.1",
    quoteQuantity: "5000.05",
    takerAccount: 17,
    makerAccount: 33,
    takerOrderId: 1001n,
    makerOrderId: 900n,
    takerClientId: 5n,
    makerClientId: 6n,
    takerSide: "Buy",
    timeMs: 1_767_225_600_123n,
  };

  it("Fill, taker's view on spot: fee in the base asset it receives (S5)", () => {
    expect(decodeEvent(encodeEvent(fill, 2n, config))).toEqual({
      ...fillCommon,
      fee: "0.0001",
      feeAsset: BTC,
      isMaker: false,
    });
  });

  it("Fill, maker's view on spot: the seller's fee is in the quote asset", () => {
    expect(decodeEvent(encodeEvent(fill, 2n, config, true))).toEqual({
      ...fillCommon,
      fee: "4.00004",
      feeAsset: USDC,
      isMaker: true,
    });
  });

  it("Fill on a perpetual: fees in the quote asset for both sides", () => {
    const perp = event({ ...fill, market: 3 });
    const decoded = decodeEvent(encodeEvent(perp, 2n, config));
    expect(decoded).toMatchObject({ type: "Fill", market: 3, feeAsset: USDC, fee: "0.01", isMaker: false });
  });

  it("OrderDone: remainingQuantity, filledQuantity, code = reason", () => {
    const e = event({
      ...base,
      kind: EventKind.OrderDone,
      account: 33,
      market: 2,
      orderId: 1001,
      clientId: 0n,
      side: 0,
      code: wire.DoneReason.ImpactBand,
      remainingQuantity: 1_500_000_000n,
      filledQuantity: 500_000_001n,
    });
    expect(decodeEvent(encodeEvent(e, 0n, config))).toEqual({
      clientSeq: 0n,
      seq: 1001n,
      marketSeq: 55n,
      type: "OrderDone",
      account: 33,
      market: 2,
      orderId: 1001n,
      clientId: 0n,
      side: "Buy",
      reason: "ImpactBand",
      filled: "0.500000001",
      remaining: "1.5",
    });
  });

  it("Balance: available, locked, in the asset's decimals", () => {
    const e = event({ seq: 12, kind: EventKind.Balance, account: 17, asset: SOL, available: -1n, locked: 123_456_789_000n });
    expect(decodeEvent(encodeEvent(e, 0n, config))).toEqual({
      clientSeq: 0n,
      seq: 12n,
      marketSeq: 0n,
      type: "Balance",
      account: 17,
      asset: SOL,
      available: "-0.000000001",
      locked: "123.456789",
    });
  });

  it("CommandAccepted echoes asset and amount; Clock carries the time", () => {
    const a = event({ seq: 13, kind: EventKind.CommandAccepted, account: 17, asset: BTC, commandAmount: 150_000_000n });
    expect(decodeEvent(encodeEvent(a, 9n, config))).toEqual({
      clientSeq: 9n,
      seq: 13n,
      marketSeq: 0n,
      type: "CommandAccepted",
      account: 17,
      asset: BTC,
      amount: "1.5",
    });
    const c = event({ seq: 14, kind: EventKind.Clock, timeMs: 1_767_225_600_000 });
    expect(decodeEvent(encodeEvent(c, 0n, config))).toEqual({
      clientSeq: 0n,
      seq: 14n,
      marketSeq: 0n,
      type: "Clock",
      timeMs: 1_767_225_600_000n,
    });
  });

  it("an event kind with no wire form or an unknown market is a bug: encodeEvent throws", () => {
    expect(() => encodeEvent(event({ kind: EventKind.None }), 0n, config)).toThrow("no wire form");
    expect(() => encodeEvent(event({ kind: EventKind.OrderAccepted, market: 999 }), 0n, config)).toThrow("unknown market");
    expect(() => encodeEvent(event({ kind: EventKind.Balance, available: 2n ** 63n }), 0n, config)).toThrow("int64");
  });

  it("property: any int64 balance survives encode → decode → parse exactly", () => {
    fc.assert(
      fc.property(
        // Both of the encoder's 64-bit paths: doubles within ±2^53, BigInt beyond.
        fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.bigInt({ min: -(2n ** 54n), max: 2n ** 54n })),
        fc.integer({ min: 0, max: config.assets.length - 1 }),
        (available, asset) => {
          const decoded = decodeEvent(
            encodeEvent(event({ kind: EventKind.Balance, account: 17, asset, available, locked: 0n }), 0n, config),
          );
          if (decoded.type !== "Balance") throw new Error("not a Balance");
          const d = parseWireDecimal(decoded.available, "available");
          const decimals = config.assets[asset]!.decimals;
          expect(d.mantissa * 10n ** BigInt(decimals - d.scale)).toBe(available);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe("market data: encoders → client objects", () => {
  it("DepthSnapshot and DepthDelta keep level order and U..u ids", () => {
    const bids = new BigInt64Array([50_000_000_000_000n, 100_000_000n, 49_999_990_000_000n, 5n, 0n, 0n]);
    const asks = new BigInt64Array([50_001_000_000_000n, 1n]);
    expect(decodeEvent(encodeDepthSnapshot(0, 77, bids, 2, asks, 1, config))).toEqual({
      clientSeq: 0n,
      seq: 0n,
      marketSeq: 0n,
      type: "DepthSnapshot",
      market: 0,
      lastUpdateId: 77n,
      bids: [
        { price: "50000", quantity: "1" },
        { price: "49999.99", quantity: "0.00000005" },
      ],
      asks: [{ price: "50001", quantity: "0.00000001" }],
    });
    expect(decodeEvent(encodeDepthDelta(0, 78, 80, bids, 0, asks, 1, config))).toMatchObject({
      type: "DepthDelta",
      firstUpdateId: 78n,
      lastUpdateId: 80n,
      bids: [],
      asks: [{ price: "50001", quantity: "0.00000001" }],
    });
    expect(() => encodeDepthSnapshot(0, 1, bids, 4, asks, 0, config)).toThrow("levels");
  });

  it("Trade, BookTicker, Ticker", () => {
    expect(
      decodeEvent(encodeTrade(2, 31, 150_123_000_000n, 2_000_000_000n, 300_246_000n, 1, 1_767_225_600_000, config)),
    ).toEqual({
      clientSeq: 0n,
      seq: 0n,
      marketSeq: 0n,
      type: "Trade",
      market: 2,
      tradeId: 31n,
      price: "150.123",
      quantity: "2",
      quoteQuantity: "300.246",
      takerSide: "Sell",
      timeMs: 1_767_225_600_000n,
    });
    expect(decodeEvent(encodeBookTicker(0, 81, 50_000_000_000_000n, 3n, 0n, 0n, config))).toMatchObject({
      type: "BookTicker",
      market: 0,
      updateId: 81n,
      bidPrice: "50000",
      bidQuantity: "0.00000003",
      askPrice: "0",
      askQuantity: "0",
    });
    const stats = {
      openTimeMs: 1_000,
      closeTimeMs: 86_401_000,
      open: 1_000_000_000n,
      high: 2_500_000_000n,
      low: 500_000_000n,
      close: 2_000_000_000n,
      volume: 123_000_000_000n,
      quoteVolume: 150_000_000n,
      tradeCount: 42,
    };
    expect(decodeEvent(encodeTicker(2, stats, config))).toEqual({
      clientSeq: 0n,
      seq: 0n,
      marketSeq: 0n,
      type: "Ticker",
      market: 2,
      openTimeMs: 1_000n,
      closeTimeMs: 86_401_000n,
      open: "1",
      high: "2.5",
      low: "0.5",
      close: "2",
      volume: "123",
      quoteVolume: "150",
      tradeCount: 42n,
    });
  });

  it("X5: the client refuses truncated or random event frames with WireFormatError only", () => {
    const frames = [
      encodeEvent(event({ kind: EventKind.OrderRejected, market: 0, message: "m", code: 3 }), 1n, config).slice(),
      encodeDepthSnapshot(0, 1, new BigInt64Array([1n, 1n]), 1, new BigInt64Array(0), 0, config).slice(),
    ];
    for (const frame of frames) {
      const whole = decodeEvent(frame);
      let refused = 0;
      for (let length = 0; length < frame.length; length++) {
        // Cutting only trailing alignment padding leaves the same, still valid frame.
        try {
          expect(decodeEvent(frame.subarray(0, length))).toEqual(whole);
        } catch (e) {
          expect(e).toBeInstanceOf(WireFormatError);
          refused++;
        }
      }
      expect(refused).toBeGreaterThan(frame.length - 4);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 128 }), (bytes) => {
        try {
          decodeEvent(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(WireFormatError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
