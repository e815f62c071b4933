// A small reader of our own crossbook.fbs (tables, enums, unions, in declaration order): enough for the client
// codec generator (schemas/generate-codec.ts) and for test/schemas.test.ts to restate the verifier's layouts. It
// reads the subset of the FlatBuffers grammar the schema uses, not the whole language.
import { readFileSync } from "node:fs";

export const SCALAR_BYTES: Readonly<Record<string, number>> = {
  bool: 1,
  byte: 1,
  ubyte: 1,
  short: 2,
  ushort: 2,
  int: 4,
  uint: 4,
  float: 4,
  long: 8,
  ulong: 8,
  double: 8,
};

export interface FbsSchema {
  /** Table name → its fields [name, type] in declaration order (= vtable slot order). */
  readonly tables: Map<string, [string, string][]>;
  /** Union name → its members in declaration order (member i has union type i + 1). */
  readonly unions: Map<string, string[]>;
  /** Enum name → the byte size of its underlying type. */
  readonly enumBytes: Map<string, number>;
  /** Enums declared (bit_flags): their values are masks, not members. */
  readonly bitFlagEnums: Set<string>;
}

export function parseFbs(text: string): FbsSchema {
  const clean = text.replace(/\/\/.*$/gm, "");
  const enumBytes = new Map<string, number>();
  const bitFlagEnums = new Set<string>();
  for (const m of clean.matchAll(/enum\s+(\w+)\s*:\s*(\w+)\s*(\(bit_flags\))?/g)) {
    enumBytes.set(m[1]!, SCALAR_BYTES[m[2]!]!);
    if (m[3] !== undefined) bitFlagEnums.add(m[1]!);
  }
  const unions = new Map<string, string[]>();
  for (const m of clean.matchAll(/union\s+(\w+)\s*\{([^}]*)\}/g)) {
    unions.set(
      m[1]!,
      m[2]!
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    );
  }
  const tables = new Map<string, [string, string][]>();
  for (const m of clean.matchAll(/table\s+(\w+)\s*\{([^}]*)\}/g)) {
    const fields = [...m[2]!.matchAll(/(\w+)\s*:\s*([\w[\]]+)\s*(=\s*[\w.-]+)?\s*;/g)].map(
      (f): [string, string] => [f[1]!, f[2]!],
    );
    tables.set(m[1]!, fields);
  }
  return { tables, unions, enumBytes, bitFlagEnums };
}

/** crossbook.fbs, read. */
export function readCrossbookFbs(): FbsSchema {
  return parseFbs(readFileSync(new URL("./crossbook.fbs", import.meta.url), "utf8"));
}
