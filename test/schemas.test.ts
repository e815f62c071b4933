// The wire schema stays in step with its generated code, the engine's enums and the frame verifier's layouts.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import * as engine from "../engine/model/index.ts";
import * as wire from "../schemas/index.ts";
import { generateRecords, GENERATED_RECORDS_PATH } from "../schemas/generate-records.ts";
import {
  generateClientDecoders,
  generateCodec,
  generateDecoders,
  GENERATED_CLIENT_DECODERS_PATH,
  GENERATED_CODEC_PATH,
  GENERATED_DECODERS_PATH,
} from "../schemas/generate-codec.ts";
import { parseFbs, SCALAR_BYTES } from "../schemas/fbs-reader.ts";

const schemasDir = fileURLToPath(new URL("../schemas/", import.meta.url));
const fbsText = readFileSync(join(schemasDir, "crossbook.fbs"), "utf8");

function hasFlatc(): boolean {
  try {
    execFileSync("flatc", ["--version"], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

const flatcPresent = hasFlatc();

describe("generated code", () => {
  if (!flatcPresent) {
    console.warn("schemas.test: flatc not installed (Debian flatbuffers-compiler 2.0.x): staleness check skipped");
  }

  it.skipIf(!flatcPresent)("is exactly what schemas/generate.sh produces from crossbook.fbs (skipped without flatc)", () => {
    const tmp = mkdtempSync(join(tmpdir(), "crossbook-schemas-"));
    try {
      const out = join(tmp, "generated");
      execFileSync("bash", [join(schemasDir, "generate.sh"), out], { stdio: "pipe" });
      const committedDir = join(schemasDir, "generated");
      const fresh = listFiles(out);
      expect(listFiles(committedDir)).toEqual(fresh);
      for (const file of fresh) {
        const a = readFileSync(join(out, file));
        const b = readFileSync(join(committedDir, file));
        expect(b.equals(a), `${file} is stale: run npm run schemas`).toBe(true);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("engine/model/generated/records.ts is exactly what schemas/generate-records.ts makes of the vocabulary", () => {
    expect(readFileSync(GENERATED_RECORDS_PATH, "utf8") === generateRecords(), "records.ts is stale: run npm run schemas").toBe(true);
  });

  it("gateway/codec/generated/encode-events.ts is exactly what schemas/generate-codec.ts makes of the wire map", () => {
    expect(readFileSync(GENERATED_CODEC_PATH, "utf8") === generateCodec(), "encode-events.ts is stale: run npm run schemas").toBe(true);
  });

  it("gateway/codec/generated/decode-commands.ts is exactly what schemas/generate-codec.ts makes of the wire map", () => {
    expect(readFileSync(GENERATED_DECODERS_PATH, "utf8") === generateDecoders(), "decode-commands.ts is stale: run npm run schemas").toBe(true);
  });

  it("gateway/client/generated/decode-events.ts is exactly what schemas/generate-codec.ts makes of crossbook.fbs and the wire map", () => {
    const stale = "client decode-events.ts is stale: run npm run schemas";
    expect(readFileSync(GENERATED_CLIENT_DECODERS_PATH, "utf8") === generateClientDecoders(), stale).toBe(true);
  });
});

describe("the client SDK's event decoders follow the schema", () => {
  it("a new event table and Event union member need no hand-written client code: the generator writes its decoder and its EventJson member", () => {
    const withNew = fbsText
      .replace("union Event {", "table PerpMarkThrowaway {\n  market: ushort;\n  mark: Decimal;\n  side: Side;\n  funding_ts: ulong;\n}\n\nunion Event {")
      .replace(/(union Event \{[^}]*?)\n\}/, "$1,\n  PerpMarkThrowaway\n}");
    const code = generateClientDecoders(parseFbs(withNew));
    expect(code).toContain('  | { type: "PerpMarkThrowaway"; market: number; mark: string; side: EnumText; fundingTs: bigint }');
    expect(code).toContain(
      [
        "function decodePerpMarkThrowaway(head: EnvelopeFields, table: EventTable): EventJson {",
        "  const t = table(new PerpMarkThrowaway());",
        "  return {",
        "    ...head,",
        '    type: "PerpMarkThrowaway",',
        "    market: t.market(),",
        "    mark: dec(t.mark()),",
        "    side: name(Side, t.side()),",
        "    fundingTs: t.fundingTs(),",
        "  };",
        "}",
      ].join("\n"),
    );
    expect(code).toMatch(/EVENT_DECODERS: readonly \(EventDecoder \| null\)\[\] = \[null, decodeOrderAccepted, .*, decodePerpMarkThrowaway\];/);
  });

  it("a field type the client cannot read fails generation, naming the field", () => {
    const withVector = fbsText.replace("table Clock {\n  time_ms: ulong;", "table Clock {\n  time_ms: ulong;\n  ids: [ulong];");
    expect(() => generateClientDecoders(parseFbs(withVector))).toThrow("no client reading for Clock.ids of type [ulong]");
  });
});

/** Member names of a TS enum object (generated enums also map numbers back to names). */
function members(e: object): [string, number][] {
  return Object.entries(e).filter((kv): kv is [string, number] => typeof kv[1] === "number");
}

describe("enums", () => {
  const pairs: [string, object, object][] = [
    ["Side", engine.Side, wire.Side],
    ["OrderType", engine.OrderType, wire.OrderType],
    ["TimeInForce", engine.TimeInForce, wire.TimeInForce],
    ["SelfTradePrevention", engine.SelfTradePrevention, wire.SelfTradePrevention],
    ["MarketState", engine.MarketState, wire.MarketState],
    ["DoneReason", engine.DoneReason, wire.DoneReason],
    ["RejectCode", engine.RejectCode, wire.RejectCode],
  ];
  for (const [name, engineEnum, wireEnum] of pairs) {
    it(`${name}: every engine member equals the wire member of the same name, and there are no others`, () => {
      const engineMembers = members(engineEnum);
      expect(engineMembers.length).toBeGreaterThan(1);
      expect(Object.fromEntries(members(wireEnum))).toEqual(Object.fromEntries(engineMembers));
    });
  }

  it("RejectCode is a ushort on the wire, the small enums ubytes", () => {
    expect(fbsText).toMatch(/enum RejectCode : ushort/);
    for (const name of ["Side", "OrderType", "TimeInForce", "SelfTradePrevention", "MarketState", "DoneReason"]) {
      expect(fbsText).toMatch(new RegExp(`enum ${name} : ubyte`));
    }
  });
});

// ---- the schema as schemas/fbs-reader.ts reads it, to restate the verifier's layouts

/** The slots a table's fields occupy: [name, FieldKind] each; a union field `x` takes two, `x_type` and `x`. */
function expectedSlots(
  fields: [string, string][],
  unions: Map<string, string[]>,
  enumBytes: Map<string, number>,
): [string, number][] {
  const slots: [string, number][] = [];
  for (const [name, t] of fields) {
    if (unions.has(t)) slots.push([`${name}_type`, 1], [name, wire.FieldKind.UnionValue]);
    else if (t === "Decimal") slots.push([name, wire.FieldKind.Decimal]);
    else if (t === "string") slots.push([name, wire.FieldKind.String]);
    else if (t === "[Level]") slots.push([name, wire.FieldKind.LevelVector]);
    else if (SCALAR_BYTES[t] !== undefined) slots.push([name, SCALAR_BYTES[t]]);
    else if (enumBytes.has(t)) slots.push([name, enumBytes.get(t)!]);
    else throw new Error(`schemas.test: no layout kind for field type ${t}`);
  }
  return slots;
}

function actualSlots(layout: wire.TableLayout): [string, number][] {
  return layout.fields.map((kind, i) => [layout.fieldNames[i]!, kind]);
}

describe("verifier layouts (schemas/verify.ts) restate crossbook.fbs", () => {
  const { tables, unions, enumBytes } = parseFbs(fbsText);
  const cases: [string, readonly (wire.TableLayout | null)[]][] = [
    ["Command", wire.COMMAND_LAYOUTS],
    ["Event", wire.EVENT_LAYOUTS],
  ];
  for (const [union, layouts] of cases) {
    it(`${union}: one layout per union member, in union order, with the schema's field names and sizes`, () => {
      const memberNames = unions.get(union)!;
      expect(layouts[0]).toBeNull();
      expect(layouts.slice(1).map((l) => l!.name)).toEqual(memberNames);
      for (const name of memberNames) {
        const layout = layouts[memberNames.indexOf(name) + 1]!;
        expect(actualSlots(layout), name).toEqual(expectedSlots(tables.get(name)!, unions, enumBytes));
      }
    });
  }

  it("envelopes", () => {
    expect(actualSlots(wire.COMMAND_ENVELOPE)).toEqual(expectedSlots(tables.get("CommandEnvelope")!, unions, enumBytes));
    expect(actualSlots(wire.EVENT_ENVELOPE)).toEqual(expectedSlots(tables.get("EventEnvelope")!, unions, enumBytes));
  });

  it("the union enums of the generated code number members as the layouts do", () => {
    expect(wire.Command.LimitOrder).toBe(wire.COMMAND_LAYOUTS.findIndex((l) => l?.name === "LimitOrder"));
    expect(wire.Event.Fill).toBe(wire.EVENT_LAYOUTS.findIndex((l) => l?.name === "Fill"));
    expect(wire.Decimal.sizeOf()).toBe(wire.FieldKind.Decimal);
    expect(wire.Level.sizeOf()).toBe(32);
  });
});
