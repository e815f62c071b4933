// The vocabulary (engine/model/vocabulary.ts) drives the records and their byte layout: every named field of every
// kind survives the ring/journal layout, a union slot carries only the kind's own field, and no field has two units.
import { describe, expect, it } from "vitest";
import {
  COMMAND_FIELDS,
  COMMAND_RECORD_BYTES,
  CommandKind,
  CommandRecord,
  EVENT_FIELDS,
  EVENT_RECORD_BYTES,
  EventKind,
  EventRecord,
  readCommand,
  readEvent,
  viewsOf,
  writeCommand,
  writeEvent,
  type FieldSpec,
} from "../engine/model/index.ts";
import { COMMAND_ROUTES } from "../engine/pipeline/routing.ts";
import { COMMAND_WIRE, COMMANDS_DECODED_ELSEWHERE, EVENT_WIRE } from "../gateway/codec/wire-map.ts";
import { Command, COMMAND_LAYOUTS, Event } from "../schemas/index.ts";

/** A distinct non-zero test value per field index, of the field's type. */
function valueOf(f: FieldSpec, i: number): number | bigint | string {
  if (f.type === "i64" || f.type === "u64") return BigInt(1000 + i) * 1_000_000_007n;
  if (f.type === "string") return "";
  return 100 + i;
}

/** The fields a record of `kind` carries: every field without a kind list whose slot no member of `kind` takes, and its members. */
function fieldsOf(fields: readonly FieldSpec[], kind: string): FieldSpec[] {
  const taken = new Set(fields.filter((f) => f.kinds?.includes(kind)).map((f) => f.slot ?? f.name));
  return fields.filter((f) => (f.kinds === undefined ? !taken.has(f.name) : f.kinds.includes(kind)));
}

describe("vocabulary", () => {
  it("X5: field names are unique, and every union member names a slot of a plain field and existing kinds", () => {
    for (const [fields, kinds] of [[COMMAND_FIELDS, CommandKind], [EVENT_FIELDS, EventKind]] as const) {
      const names = fields.map((f) => f.name);
      expect(new Set(names).size).toBe(names.length);
      const slots = new Set(fields.filter((f) => f.slot === undefined).map((f) => f.name));
      for (const f of fields) {
        if (f.slot !== undefined) expect(slots.has(f.slot) || fields.some((g) => g.slot === f.slot && g !== f), `${f.name}'s slot ${f.slot}`).toBe(true);
        for (const k of f.kinds ?? []) expect(Object.keys(kinds), `${f.name}: kind ${k}`).toContain(k);
      }
    }
  });

  it("X5: every command kind's named fields survive the 128-byte record layout; the slot's other fields read back 0", () => {
    const v = viewsOf(new ArrayBuffer(COMMAND_RECORD_BYTES * 2));
    for (const [name, kind] of Object.entries(CommandKind)) {
      if (kind === CommandKind.None) continue;
      const c = new CommandRecord() as unknown as Record<string, unknown>;
      c.kind = kind;
      const carried = fieldsOf(COMMAND_FIELDS, name);
      carried.forEach((f) => (c[f.name] = valueOf(f, COMMAND_FIELDS.indexOf(f))));
      writeCommand(v, COMMAND_RECORD_BYTES, c as unknown as CommandRecord);
      const back = new CommandRecord() as unknown as Record<string, unknown>;
      readCommand(v, COMMAND_RECORD_BYTES, back as unknown as CommandRecord);
      for (const f of COMMAND_FIELDS) {
        const expected = carried.includes(f) ? valueOf(f, COMMAND_FIELDS.indexOf(f)) : f.type === "i64" || f.type === "u64" ? 0n : 0;
        expect(back[f.name], `${name}.${f.name}`).toBe(expected);
      }
    }
  });

  it("X5: every event kind's union fields survive the event record layout and land in the kind's own field only", () => {
    const v = viewsOf(new ArrayBuffer(EVENT_RECORD_BYTES * 2));
    for (const [name, kind] of Object.entries(EventKind)) {
      if (kind === EventKind.None) continue;
      const unionMembers = EVENT_FIELDS.filter((f) => f.kinds !== undefined);
      const e = new EventRecord() as unknown as Record<string, unknown>;
      e.kind = kind;
      const own = unionMembers.filter((f) => f.kinds!.includes(name));
      own.forEach((f) => (e[f.name] = valueOf(f, EVENT_FIELDS.indexOf(f))));
      writeEvent(v, EVENT_RECORD_BYTES, e as unknown as EventRecord);
      const back = new EventRecord() as unknown as Record<string, unknown>;
      readEvent(v, EVENT_RECORD_BYTES, back as unknown as EventRecord);
      for (const f of unionMembers) {
        const expected = own.includes(f) ? valueOf(f, EVENT_FIELDS.indexOf(f)) : f.type === "i64" ? 0n : 0;
        expect(back[f.name], `${name}.${f.name}`).toBe(expected);
      }
    }
  });
});

describe("adding a kind", () => {
  it("X5: every command kind has a route and a server wire row (or a stated reason), every event kind a wire row: a new kind fails here until the vocabulary, the schema, the wire map and its route list it", () => {
    const commandRows = new Set(COMMAND_WIRE.map((c) => c.kind));
    const kinds = Object.keys(CommandKind).filter((k) => k !== "None");
    for (const name of kinds) {
      expect(commandRows.has(name) || COMMANDS_DECODED_ELSEWHERE[name] !== undefined, `${name}: no COMMAND_WIRE row`).toBe(true);
      expect(COMMAND_ROUTES[CommandKind[name as keyof typeof CommandKind]], `${name}: no route`).toBeDefined();
    }
    for (const c of COMMAND_WIRE) {
      const type = (Command as unknown as Record<string, number>)[c.wire];
      expect(type, `${c.wire} is a Command union member`).toBeGreaterThan(0);
      expect(COMMAND_LAYOUTS[type!]?.name).toBe(c.wire);
    }
    const eventRows = new Set(EVENT_WIRE.map((e) => e.kind));
    for (const name of Object.keys(EventKind).filter((k) => k !== "None")) {
      expect(eventRows.has(name), `${name}: no EVENT_WIRE row`).toBe(true);
      expect((Event as unknown as Record<string, number>)[name], `${name} is an Event union member`).toBeGreaterThan(0);
    }
    // The commands decoded elsewhere are exactly these (a new one needs a reason here too).
    expect(Object.keys(COMMANDS_DECODED_ELSEWHERE).sort()).toEqual(["LiquidationTransfer", "MarketBandInputs", "None", "RegisterApiKey", "RevokeApiKey", "SetOraclePrice", "UpdateAccountSettings"]);
  });
});
