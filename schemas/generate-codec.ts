// Generates the server's wire codec from the wire map (gateway/codec/wire-map.ts): gateway/codec/generated/
// encode-events.ts (EVENT_WIRE: one encoder per event kind writing its wire table from the record's named fields, and
// the dispatcher encodeEvent calls) and gateway/codec/generated/decode-commands.ts (COMMAND_WIRE: one decoder per
// command table that reads, checks and stores each field in the record, and the dispatcher decodeCommand calls);
// and, from the Event union of schemas/crossbook.fbs with EVENT_WIRE's omit rules, the client SDK's event decoders
// gateway/client/generated/decode-events.ts (one per Event member, and the EventJson type).
// Usage: node --import tsx schemas/generate-codec.ts. Deterministic: test/schemas.test.ts compares the committed
// files with a fresh run.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { COMMAND_FIELDS, CommandKind, EVENT_FIELDS, EventKind } from "../engine/model/vocabulary.ts";
import {
  COMMAND_WIRE,
  COMMANDS_DECODED_ELSEWHERE,
  EVENT_WIRE,
  type CommandFieldRow,
  type CommandWire,
  type EventWire,
  type WireFieldRow,
} from "../gateway/codec/wire-map.ts";
import { readCrossbookFbs, SCALAR_BYTES, type FbsSchema } from "./fbs-reader.ts";

const RECORD_FIELDS = new Set(EVENT_FIELDS.map((f) => f.name));

function pascal(snake: string): string {
  return snake
    .split("_")
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join("");
}

/** The row's value as TypeScript: a record field (checked) or the row's own expression. */
function valueOf(kind: string, value: string): string {
  if (!/^[A-Za-z0-9]+$/.test(value) || value === "asMaker" || value === "feeAsset") return value;
  if (!RECORD_FIELDS.has(value)) throw new Error(`wire map ${kind}: "${value}" is not an EventRecord field`);
  return `e.${value}`;
}

const SCALE: Readonly<Record<string, string>> = {
  price: "PRICE_DECIMALS",
  base: "baseDecimals",
  quote: "quoteDecimals",
  asset: "assetDecimals",
  fee: "decimalsOf(config, feeAsset)",
  usd: "USD_DECIMALS",
  ratio: "REPORTED_RATIO_DECIMALS",
  rate: "RATIO_DECIMALS",
};

const DECIMAL_CONVERSIONS: ReadonlySet<string> = new Set(["price", "base", "quote", "asset", "fee", "echo", "usd", "ratio"]);

function argumentOf(kind: string, row: WireFieldRow): string {
  const [wire, value, conversion] = row;
  const v = valueOf(kind, value);
  switch (conversion) {
    case undefined:
      return v;
    case "id":
      return `BigInt(${v})`;
    case "bool":
      return `${v} !== 0`;
    case "string":
      return `${wire}Offset`;
    case "echo":
      return `decimal(b, ${v}, ${v} === 0n ? 0 : decimalsOf(config, e.asset))`;
    default:
      return `decimal(b, ${v}, ${SCALE[conversion]!})`;
  }
}

function encoderCode(w: EventWire): string {
  const table = w.table ?? w.kind;
  const used = new Set(w.fields.map((f) => f.at(2)));
  const lines = [`function encode${w.kind}(b: Builder, e: EventRecord, config: ExchangeConfig, asMaker: boolean): number {`];
  if (used.has("base") || used.has("quote") || used.has("fee")) lines.push("  const m = marketOf(config, e.market);");
  if (used.has("base")) lines.push("  const baseDecimals = decimalsOf(config, m.baseAsset);");
  if (used.has("quote")) lines.push("  const quoteDecimals = decimalsOf(config, m.quoteAsset);");
  if (used.has("asset")) lines.push("  const assetDecimals = decimalsOf(config, e.asset);");
  if (used.has("fee")) lines.push("  const feeAsset = feeAssetOf(m, asMaker ? 1 - e.side : e.side);");
  for (const [wire, value, conversion] of w.fields) {
    if (conversion === "string") lines.push(`  const ${wire}Offset = b.createString(${valueOf(w.kind, value)});`);
  }
  lines.push(`  ${table}.start${table}(b);`);
  for (const row of w.fields) {
    const add = `${table}.add${pascal(row[0])}(b, ${argumentOf(w.kind, row)});`;
    const v = valueOf(w.kind, row[1]);
    // A scalar at its default 0 is left out by the builder itself; a Decimal struct needs the test.
    if (row[3] === "zero" && row[2] !== undefined && DECIMAL_CONVERSIONS.has(row[2])) lines.push(`  if (${v} !== 0n) ${add}`);
    else if (row[3] === "unbounded") lines.push(`  if (${v} !== REPORTED_RATIO_UNBOUNDED) ${add}`);
    else lines.push(`  ${add}`);
  }
  lines.push(`  return ${table}.end${table}(b);`, "}");
  return lines.join("\n");
}

function dispatcherCode(): string {
  const byKind = new Map(EVENT_WIRE.map((w) => [w.kind, w]));
  const lines = [
    "/** Writes the wire table of `e` (its kind's encoder) and returns its offset; throws for a kind without a wire form. */",
    "export function encodeEventBody(b: Builder, e: EventRecord, config: ExchangeConfig, asMaker: boolean): number {",
    "  switch (e.kind) {",
  ];
  const types: string[] = [];
  for (const [name, value] of Object.entries(EventKind)) {
    if (value === EventKind.None) continue;
    const w = byKind.get(name);
    if (w === undefined) throw new Error(`wire map: EventKind.${name} has no row in EVENT_WIRE`);
    lines.push(`    case EventKind.${name}:`, `      return encode${name}(b, e, config, asMaker);`);
    types[value] = `Event.${w.table ?? w.kind}`;
  }
  lines.push("    default:", "      throw new RangeError(`encodeEvent: event kind ${e.kind} has no wire form`);", "  }", "}");
  const typeList = Array.from({ length: types.length }, (_, i) => types[i] ?? "Event.NONE").join(", ");
  lines.push("", "/** The Event union member of each EventKind (indexed by the kind). */", `export const WIRE_EVENT_TYPE: readonly Event[] = [${typeList}];`);
  return lines.join("\n");
}

export function generateCodec(): string {
  const tables = [...new Set(EVENT_WIRE.map((w) => w.table ?? w.kind))].sort();
  return [
    "// GENERATED by schemas/generate-codec.ts from gateway/codec/wire-map.ts — do not edit; run npm run schemas.",
    "//",
    "// The server's per-kind event encoders: each writes its kind's wire table from the EventRecord's named fields with",
    "// the reused builder `b` (no allocation beyond the builder's own BigInt splits of 64-bit fields).",
    'import type { Builder } from "flatbuffers";',
    'import { AccountSetting, EventKind, IndexFlag, type EventRecord, type ExchangeConfig } from "../../../engine/model/index.ts";',
    `import { Event, ${tables.join(", ")} } from "../../../schemas/index.ts";`,
    "import {",
    "  decimal,",
    "  decimalsOf,",
    "  feeAssetOf,",
    "  liquidatable,",
    "  marketOf,",
    "  on,",
    "  PRICE_DECIMALS,",
    "  RATIO_DECIMALS,",
    "  REPORTED_RATIO_DECIMALS,",
    "  REPORTED_RATIO_UNBOUNDED,",
    "  USD_DECIMALS,",
    '} from "../wire-values.ts";',
    "",
    ...EVENT_WIRE.map((w) => encoderCode(w) + "\n"),
    dispatcherCode(),
    "",
  ].join("\n");
}

// ---------------------------------------------------------------- command decoders

const COMMAND_RECORD_FIELDS = new Set(COMMAND_FIELDS.map((f) => f.name));

function camel(snake: string): string {
  const p = pascal(snake);
  return p[0]!.toLowerCase() + p.slice(1);
}

function screaming(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
}

const ENUMS: Readonly<Record<string, readonly [string, string]>> = {
  side: ["SIDE_MAX", "Side"],
  tif: ["TIF_MAX", "TimeInForce"],
  stp: ["STP_MAX", "SelfTradePrevention"],
  marketState: ["MARKET_STATE_MAX", "MarketState"],
};

/** Decimals read with units(): [scale expression, reject code, zero allowed]. */
const UNITS: Readonly<Record<string, readonly [string, string, boolean]>> = {
  price: ["PRICE_DECIMALS", "InvalidPrice", false],
  base: ["baseDecimalsOf(config, market)", "InvalidQuantity", false],
  "base?": ["baseDecimalsOf(config, market)", "InvalidQuantity", true],
  "quote?": ["quoteDecimalsOf(config, market)", "InvalidQuantity", true],
  amount: ["assetDecimalsOf(config, asset)", "InvalidAmount", false],
  "amount?": ["assetDecimalsOf(config, asset)", "InvalidAmount", true],
};

const IDENTITY: Readonly<Record<string, string>> = { account: "account", market: "market", marketOrAll: "market", clientId: "clientId" };

function readExpression(row: CommandFieldRow): string {
  const [wire, , reading] = row;
  switch (reading) {
    case "account":
      return `u32(S.${wire})`;
    case "market":
    case "asset":
    case "assetOrAll":
    case "u16":
      return `u16(S.${wire}, 0)`;
    case "marketOrAll":
      // The schema default of CancelAll.market is 0xFFFF: absent = every market.
      return `u16(S.${wire}, ALL_MARKETS)`;
    case "clientId":
      return `u64(S.${wire})`;
    default:
      return `u8(S.${wire})`;
  }
}

/** Lines that read and check one row into a local (identity rows were read already). */
function rowCode(kind: string, row: CommandFieldRow): string[] {
  const [wire, field, reading] = row;
  if (reading.startsWith("check:")) return [`  if (!${reading.slice(6, -1)}, result)) return false;`];
  if (!COMMAND_RECORD_FIELDS.has(field)) throw new Error(`wire map ${kind}: "${field}" is not a CommandRecord field`);
  if (reading === "orderRef") return [];
  const v = camel(wire);
  const store = "";
  const unit = UNITS[reading];
  if (unit !== undefined) {
    const [scale, code, zero] = unit;
    return [`  const ${v} = units(S.${wire}, ${scale}, RejectCode.${code}, "${wire}", ${zero}, result);`, `  if (${v} < 0n) return false;`];
  }
  if (reading === "timeMs") return [`  const ${v} = readTimeMs(S.${wire}, "${wire}", result);`, `  if (${v} < 0) return false;`];
  const read = IDENTITY[reading] !== undefined ? [] : [`  const ${v} = ${readExpression(row)};`];
  const enumSpec = ENUMS[reading];
  let check: string | null = null;
  if (reading === "account") check = `checkAccount(${v}, "${wire}", result)`;
  else if (reading === "market" || reading === "marketOrAll") check = `checkMarket(${v}, ${reading === "marketOrAll"}, config, result)`;
  else if (reading === "asset") check = `checkAsset(${v}, config, result)`;
  else if (reading === "assetOrAll") check = `checkAssetOrAll(${v}, config, result)`;
  else if (enumSpec !== undefined) check = `checkEnum(${v}, ${enumSpec[0]}, "${wire}", "${enumSpec[1]}", result)`;
  else if (reading !== "clientId" && reading !== "u8" && reading !== "u16") throw new Error(`wire map ${kind}: unknown reading "${reading}"`);
  return [...read, ...(check === null ? [] : [`  if (!${check}) return false;`])];
}

function decoderCode(c: CommandWire): string {
  const lines = [`function decode${c.wire}(config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {`];
  lines.push(`  const S = ${screaming(c.wire)}.slot;`);
  if (c.privileged === true) lines.push("  result.privileged = true;");
  // The sender's identity is echoed in a reject even when a later field is refused.
  for (const row of c.fields) {
    const echo = IDENTITY[row[2]];
    if (echo === undefined || (echo === "account" && row[1] !== "account")) continue;
    const v = camel(row[0]);
    lines.push(`  const ${v} = ${readExpression(row)};`, `  result.${echo} = ${v};`);
  }
  for (const row of c.fields) {
    if (row[2] === "account" && row[1] !== "account") lines.push(`  const ${camel(row[0])} = ${readExpression(row)};`);
  }
  // Every field is read and checked into a local first; the record is written only once all passed.
  const stored = c.fields.filter((row) => !row[2].startsWith("flag:") && !row[2].startsWith("check:") && row[2] !== "orderRef");
  for (const row of c.fields) if (!row[2].startsWith("flag:")) lines.push(...rowCode(c.wire, row));
  lines.push("  out.clear();");
  const ref = c.fields.find((row) => row[2] === "orderRef");
  if (ref !== undefined) lines.push(`  if (!orderReference(u64(S.${ref[0]}), clientId, out, result)) return false;`);
  lines.push(`  out.kind = CommandKind.${c.kind};`);
  for (const [field, value] of c.set ?? []) lines.push(`  out.${field} = ${value};`);
  for (const row of stored) lines.push(`  out.${row[1]} = ${camel(row[0])};`);
  // The flag rows become one OR of the bits.
  const flags = c.fields.filter((row) => row[2].startsWith("flag:"));
  if (flags.length > 0) lines.push(`  out.flags |= ${flags.map((f) => `(bool(S.${f[0]}) ? ${f[2].includes(".") ? f[2].slice(5) : `OrderFlag.${f[2].slice(5)}`} : 0)`).join(" | ")};`);
  lines.push("  return accepted(result);", "}");
  return lines.join("\n");
}

export function generateDecoders(): string {
  const covered = new Set(COMMAND_WIRE.map((c) => c.kind));
  for (const name of Object.keys(CommandKind)) {
    if (!covered.has(name) && COMMANDS_DECODED_ELSEWHERE[name] === undefined) throw new Error(`wire map: CommandKind.${name} has no row in COMMAND_WIRE`);
  }
  const layouts = COMMAND_WIRE.map((c) => screaming(c.wire)).sort();
  const dispatch = [
    "/** Decodes a command of a table-driven wire type into `out`; rejects any other type as unknown. */",
    "export function decodeTableCommand(type: number, config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {",
    "  switch (type) {",
  ];
  for (const c of COMMAND_WIRE) dispatch.push(`    case Command.${c.wire}:`, `      return decode${c.wire}(config, out, result);`);
  dispatch.push("    default:", "      return reject(result, RejectCode.UnknownCommand, `unknown command type ${type}`);", "  }", "}");
  return [
    "// GENERATED by schemas/generate-codec.ts from gateway/codec/wire-map.ts — do not edit; run npm run schemas.",
    "//",
    "// The server's per-kind command decoders: each reads its wire table's fields at the verified positions, checks",
    "// them (X5) and stores them in the CommandRecord's named fields, allocating only the BigInts of 64-bit fields.",
    'import { ALL_MARKETS, CommandKind, OracleQuoteFlag, OrderFlag, OrderType, PRICE_DECIMALS, RejectCode, TimeInForce, type CommandRecord, type ExchangeConfig } from "../../../engine/model/index.ts";',
    `import { Command, ${layouts.join(", ")} } from "../../../schemas/index.ts";`,
    "import {",
    "  accepted,",
    "  assetDecimalsOf,",
    "  baseDecimalsOf,",
    "  bool,",
    "  checkAccount,",
    "  checkAsset,",
    "  checkAssetOrAll,",
    "  checkCurvePoints,",
    "  checkEnum,",
    "  checkMarket,",
    "  checkMarketOrderSize,",
    "  checkOracleSource,",
    "  checkQuoteNotCrossed,",
    "  checkTransferAccounts,",
    "  MARKET_STATE_MAX,",
    "  orderReference,",
    "  quoteDecimalsOf,",
    "  readTimeMs,",
    "  reject,",
    "  SIDE_MAX,",
    "  STP_MAX,",
    "  TIF_MAX,",
    "  u16,",
    "  u32,",
    "  u64,",
    "  u8,",
    "  units,",
    "  type DecodeResult,",
    '} from "../wire-reads.ts";',
    "",
    ...COMMAND_WIRE.map((c) => decoderCode(c) + "\n"),
    dispatch.join("\n"),
    "",
  ].join("\n");
}

// ---------------------------------------------------------------- client event decoders

/** One field of a client event decoder: its key, the TypeScript type of its value, and how it is read from `t`. */
interface ClientField {
  readonly key: string;
  readonly type: string;
  /** The value read from the table `t`. */
  readonly read: string;
  /** Set: the key is present only when this holds of `read` (the server left the field out otherwise). */
  readonly presentWhen?: string;
}

/** The omit rules EVENT_WIRE gives the fields of one wire table (checked against the schema's fields). */
/** Omit rules of event tables the gateway writes itself (no EVENT_WIRE row): table → field → rule. */
const GATEWAY_EVENT_OMIT: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  WhatIfAccount: { mmr: "unbounded" },
};

function omitRulesOf(table: string, fields: readonly [string, string][]): Map<string, string> {
  const rules = new Map<string, string>(Object.entries(GATEWAY_EVENT_OMIT[table] ?? {}));
  const names = new Set(fields.map(([n]) => n));
  for (const w of EVENT_WIRE) {
    if ((w.table ?? w.kind) !== table) continue;
    for (const [wire, , , omit] of w.fields) {
      if (!names.has(wire)) throw new Error(`wire map ${w.kind}: "${wire}" is not a field of table ${table} in crossbook.fbs`);
      if (omit !== undefined) rules.set(wire, omit);
    }
  }
  return rules;
}

/** How the client reads one schema field (name, fbs type) that the server may leave out per `omit`. */
function clientFieldOf(schema: FbsSchema, table: string, [wire, type]: [string, string], omit: string | undefined): ClientField {
  const key = camel(wire);
  const at = `t.${key}()`;
  if (type === "Decimal") {
    if (omit === "unbounded") return { key, type: "string", read: `ratio(${at})` };
    if (omit === "zero") return { key, type: "string", read: `dec(${at})`, presentWhen: `${at} !== null` };
    return { key, type: "string", read: `dec(${at})` };
  }
  if (omit !== undefined && omit !== "zero") throw new Error(`wire map ${table}.${wire}: omit "${omit}" applies to Decimal fields only`);
  const wide = type === "long" || type === "ulong";
  const zero = omit === "zero" ? { presentWhen: `${at} !== ${wide ? "0n" : "0"}` } : {};
  if (type === "string") return { key, type: "string", read: `${at} ?? ""` };
  if (type === "bool") return { key, type: "boolean", read: at, ...zero };
  if (SCALAR_BYTES[type] !== undefined) return { key, type: wide ? "bigint" : "number", read: at, ...zero };
  // A vector of price levels: the one nested shape events carry, read by the hook levelsOf.
  if (type === "[Level]") return { key, type: "LevelJson[]", read: `levelsOf(t.${key}Length(), (i) => t.${key}(i))` };
  if (schema.enumBytes.has(type) && !schema.bitFlagEnums.has(type)) return { key, type: "EnumText", read: `name(${type}, ${at})` };
  throw new Error(`generate-codec: no client reading for ${table}.${wire} of type ${type} (add one to clientFieldOf)`);
}

function clientFieldsOf(schema: FbsSchema, table: string): ClientField[] {
  const fields = schema.tables.get(table);
  if (fields === undefined) throw new Error(`crossbook.fbs: Event member ${table} has no table`);
  const omit = omitRulesOf(table, fields);
  return fields.map((f) => clientFieldOf(schema, table, f, omit.get(f[0])));
}

function clientDecoderCode(table: string, fields: readonly ClientField[]): string {
  const lines = [`function decode${table}(head: EnvelopeFields, table: EventTable): EventJson {`, `  const t = table(new ${table}());`];
  lines.push("  return {", "    ...head,", `    type: "${table}",`);
  for (const f of fields) {
    if (f.presentWhen === undefined) lines.push(`    ${f.key}: ${f.read},`);
    else lines.push(`    ...(${f.presentWhen} ? { ${f.key}: ${f.read} } : {}),`);
  }
  lines.push("  };", "}");
  return lines.join("\n");
}

function clientTypeCode(table: string, fields: readonly ClientField[]): string {
  const members = fields.map((f) => `${f.key}${f.presentWhen === undefined ? "" : "?"}: ${f.type}`);
  return `  | { type: "${table}"; ${members.join("; ")} }`;
}

/** gateway/client/generated/decode-events.ts: the client SDK's decoder of every Event union member, and EventJson. */
export function generateClientDecoders(schema: FbsSchema = readCrossbookFbs()): string {
  const members = schema.unions.get("Event");
  if (members === undefined) throw new Error("crossbook.fbs: no union Event");
  const fields = members.map((table) => clientFieldsOf(schema, table));
  const enums = [...new Set(fields.flatMap((fs) => fs.filter((f) => f.type === "EnumText").map((f) => f.read.slice(5, f.read.indexOf(",")))))];
  return [
    "// GENERATED by schemas/generate-codec.ts from schemas/crossbook.fbs and gateway/codec/wire-map.ts — do not edit; run npm run schemas.",
    "//",
    "// The client SDK's event decoders (decodeEvent in gateway/client/codec.ts calls decodeEventBody): one per member of",
    "// the schema's Event union, reading every field of its table in declaration order into { ...envelope, type, field… }",
    "// (camelCase keys; u64 as bigint, Decimals as canonical strings, enums as member names). EVENT_WIRE's omit rules",
    "// decide the optional keys: \"zero\" → present only when sent, \"unbounded\" → the ratio reads \"unbounded\" when absent.",
    "// A new event kind needs nothing here by hand: its table in crossbook.fbs (and Event union member), its EVENT_WIRE",
    "// row when the engine emits it, then npm run schemas.",
    `import { ${[...members, ...enums].sort().join(", ")}, type Event } from "../../../schemas/index.ts";`,
    'import { dec, levelsOf, name, ratio, type EnumText, type EnvelopeFields, type EventTable, type LevelJson } from "../event-values.ts";',
    "",
    "/** A decoded event: the envelope's fields, the Event union member's name as `type`, and its table's fields. */",
    "export type EventJson = EnvelopeFields &",
    "  (",
    ...members.map((table, i) => clientTypeCode(table, fields[i]!)),
    "  /** An event type this client does not know (sent by a newer server). */",
    '  | { type: "Unknown"; eventType: number }',
    "  );",
    "",
    ...members.map((table, i) => clientDecoderCode(table, fields[i]!) + "\n"),
    "type EventDecoder = (head: EnvelopeFields, table: EventTable) => EventJson;",
    "",
    "/** The decoder of each Event union type (indexed by it; 0 is NONE). */",
    `const EVENT_DECODERS: readonly (EventDecoder | null)[] = [null, ${members.map((m) => `decode${m}`).join(", ")}];`,
    "",
    "/** Reads the envelope's event table into its plain object; a type this client does not know reads as Unknown. */",
    "export function decodeEventBody(type: Event, head: EnvelopeFields, table: EventTable): EventJson {",
    "  const decode = EVENT_DECODERS[type] ?? null;",
    '  return decode === null ? { ...head, type: "Unknown", eventType: type } : decode(head, table);',
    "}",
    "",
  ].join("\n");
}

export const GENERATED_CLIENT_DECODERS_PATH = join(dirname(fileURLToPath(import.meta.url)), "..", "gateway", "client", "generated", "decode-events.ts");

export const GENERATED_DECODERS_PATH = join(dirname(fileURLToPath(import.meta.url)), "..", "gateway", "codec", "generated", "decode-commands.ts");

export const GENERATED_CODEC_PATH = join(dirname(fileURLToPath(import.meta.url)), "..", "gateway", "codec", "generated", "encode-events.ts");

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(GENERATED_CODEC_PATH, generateCodec());
  writeFileSync(GENERATED_DECODERS_PATH, generateDecoders());
  mkdirSync(dirname(GENERATED_CLIENT_DECODERS_PATH), { recursive: true });
  writeFileSync(GENERATED_CLIENT_DECODERS_PATH, generateClientDecoders());
}
