// What the client SDK's generated event decoders (generated/decode-events.ts) read wire values into: the envelope
// fields, decimals as canonical strings, enums as member names, price levels. Hand-written; codec.ts re-exports the
// types.
import type { Decimal, Level } from "../../schemas/index.ts";
import { formatWireDecimal } from "./wire-decimal.ts";

export interface EnvelopeFields {
  clientSeq: bigint;
  seq: bigint;
  marketSeq: bigint;
}

/** An enum value: its member name when known, else the raw number (from a newer server). */
export type EnumText = string | number;

export interface LevelJson {
  price: string;
  quantity: string;
}

/** Returns the envelope's event table read into `t`; throws WireFormatError when the type is set but the table is missing. */
export type EventTable = <T extends object>(t: T) => T;

/** A decimal as canonical text; absent reads as "0". */
export function dec(d: Decimal | null): string {
  return d === null ? "0" : formatWireDecimal(d.mantissa(), d.scale());
}

/** A ratio the server leaves out when unbounded (AccountCollateral): absent reads as "unbounded". */
export function ratio(d: Decimal | null): string {
  return d === null ? "unbounded" : formatWireDecimal(d.mantissa(), d.scale());
}

export function name(members: Readonly<Record<number, string>>, value: number): EnumText {
  const n = members[value];
  return typeof n === "string" ? n : value;
}

export function levelsOf(count: number, at: (i: number) => Level | null): LevelJson[] {
  const out: LevelJson[] = [];
  for (let i = 0; i < count; i++) {
    const level = at(i)!;
    out.push({ price: dec(level.price()), quantity: dec(level.quantity()) });
  }
  return out;
}
