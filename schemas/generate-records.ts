// Generates engine/model/generated/records.ts from the vocabulary (engine/model/vocabulary.ts): the CommandRecord and
// EventRecord classes with named fields, clear and copyFrom, and per union slot of the byte layout a reader (the
// kind's field stored in the slot) and a writer (sets the kind's field, zeroes the slot's other members).
// Usage: node --import tsx schemas/generate-records.ts [OUT_FILE]. Deterministic: test/schemas.test.ts compares.
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { COMMAND_FIELDS, EVENT_FIELDS, type FieldSpec } from "../engine/model/vocabulary.ts";

const ZERO: Record<FieldSpec["type"], string> = { i32: "0", u32: "0", f64: "0", i64: "0n", u64: "0n", string: '""' };
const TS_TYPE: Record<FieldSpec["type"], string> = { i32: "number", u32: "number", f64: "number", i64: "bigint", u64: "bigint", string: "string" };

function slotOf(f: FieldSpec): string {
  return f.slot ?? f.name;
}

function capital(s: string): string {
  return s[0]!.toUpperCase() + s.slice(1);
}

/**
 * EventRecord's int64 column for a Balance's available and locked (units[0], units[1]), used in place of those bigint
 * fields while unitsInColumn: a producer copies them from an account's int64 column into it, and the ring writer from
 * it into the slot, element to element, so no heap bigint is made (a sink that reads the fields asks for this form
 * only by EventSink.unitColumns; copyFrom turns it back into the fields). Private fields behind accessors: not an
 * event field, so JSON, spreads and structural comparisons of records see only the vocabulary's fields, as before.
 */
const EVENT_UNIT_COLUMN = {
  fields: [
    "  #units = new BigInt64Array(2);",
    "  #unitsInColumn = false;",
    "  /** Balance while unitsInColumn: available (units[0]) and locked (units[1]) in asset units, in place of the fields. */",
    "  get units(): BigInt64Array {",
    "    return this.#units;",
    "  }",
    "  /** A Balance's available and locked are in `units`, not in the fields (EventSink.unitColumns). */",
    "  get unitsInColumn(): boolean {",
    "    return this.#unitsInColumn;",
    "  }",
    "  set unitsInColumn(inColumn: boolean) {",
    "    this.#unitsInColumn = inColumn;",
    "  }",
  ],
  clear: ["    this.#unitsInColumn = false;"],
  copyFrom: [
    "    this.#unitsInColumn = false;",
    "    if (from.#unitsInColumn) {",
    "      this.available = from.#units[0]!;",
    "      this.locked = from.#units[1]!;",
    "    }",
  ],
};

function classCode(name: string, kindType: string, fields: readonly FieldSpec[]): string {
  const column = name === "EventRecord" ? EVENT_UNIT_COLUMN : null;
  const lines: string[] = [`export class ${name} {`, `  kind: ${kindType} | ControlKind = ${kindType}.None;`];
  for (const f of fields) {
    const carried = f.kinds === undefined ? "" : ` (${f.kinds.join(", ")})`;
    lines.push(`  /** ${f.unit}${carried}. */`, `  ${f.name}: ${TS_TYPE[f.type]} = ${ZERO[f.type]};`);
  }
  if (column !== null) lines.push(...column.fields);
  lines.push("", "  clear(): void {", `    this.kind = ${kindType}.None;`);
  for (const f of fields) lines.push(`    this.${f.name} = ${ZERO[f.type]};`);
  if (column !== null) lines.push(...column.clear);
  lines.push("  }", "", `  copyFrom(from: ${name}): void {`, "    this.kind = from.kind;");
  for (const f of fields) lines.push(`    this.${f.name} = from.${f.name};`);
  if (column !== null) lines.push(...column.copyFrom);
  lines.push("  }", "}");
  return lines.join("\n");
}

/** Union slots: slots holding more than one field or a field carried only by some kinds. */
function unionSlots(fields: readonly FieldSpec[]): Map<string, FieldSpec[]> {
  const bySlot = new Map<string, FieldSpec[]>();
  for (const f of fields) {
    const list = bySlot.get(slotOf(f)) ?? [];
    list.push(f);
    bySlot.set(slotOf(f), list);
  }
  for (const [slot, list] of bySlot) if (list.length === 1 && list[0]!.kinds === undefined) bySlot.delete(slot);
  return bySlot;
}

function slotAccessors(recordName: string, prefix: string, kindType: string, fields: readonly FieldSpec[]): string {
  const out: string[] = [];
  for (const [slot, members] of unionSlots(fields)) {
    const type = members[0]!.type;
    const fallback = members.find((m) => m.kinds === undefined);
    const name = `${prefix}${capital(slot)}Slot`;
    const get = [`/** The value of ${recordName}'s "${slot}" slot: the field the record's kind carries there. */`];
    get.push(`export function ${name}(r: ${recordName}): ${TS_TYPE[type]} {`, "  switch (r.kind) {");
    const set = [`/** Stores a "${slot}" slot value in the field the record's kind carries there; the slot's other fields become zero. */`];
    set.push(`export function set${capital(name)}(r: ${recordName}, value: ${TS_TYPE[type]}): void {`);
    for (const m of members) set.push(`  r.${m.name} = ${ZERO[type]};`);
    set.push("  switch (r.kind) {");
    for (const m of members) {
      if (m.kinds === undefined) continue;
      for (const k of m.kinds) {
        get.push(`    case ${kindType}.${k}:`);
        set.push(`    case ${kindType}.${k}:`);
      }
      get.push(`      return r.${m.name};`);
      set.push(`      r.${m.name} = value;`, "      return;");
    }
    get.push("    default:", `      return ${fallback === undefined ? ZERO[type] : `r.${fallback.name}`};`, "  }", "}");
    set.push("    default:", fallback === undefined ? "      return;" : `      r.${fallback.name} = value;`, "  }", "}");
    out.push(get.join("\n"), set.join("\n"));
  }
  return out.join("\n\n");
}

export function generateRecords(): string {
  return [
    "// GENERATED by schemas/generate-records.ts from engine/model/vocabulary.ts — do not edit; run npm run schemas.",
    "//",
    "// Reusable flat records for commands and events: the shape every stage reads and writes on the hot path. A record",
    "// is a mutable object with scalar fields only; producers fill one record and pass it on, consumers read it before",
    "// returning and never keep a reference (no allocation per message). Each field has one unit; a field is valid",
    "// only for the kinds that carry it (record-layout.ts copies a union slot's field only for its kinds).",
    'import { CommandKind, EventKind, type ControlKind } from "../vocabulary.ts";',
    "",
    classCode("CommandRecord", "CommandKind", COMMAND_FIELDS),
    "",
    classCode("EventRecord", "EventKind", EVENT_FIELDS),
    "",
    slotAccessors("CommandRecord", "command", "CommandKind", COMMAND_FIELDS),
    "",
    slotAccessors("EventRecord", "event", "EventKind", EVENT_FIELDS),
    "",
  ].join("\n");
}

export const GENERATED_RECORDS_PATH = join(dirname(fileURLToPath(import.meta.url)), "..", "engine", "model", "generated", "records.ts");

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(process.argv[2] ?? GENERATED_RECORDS_PATH, generateRecords());
}
