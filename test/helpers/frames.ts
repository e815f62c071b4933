// Hand-built command frames for bad-input tests: an envelope with any union type and any (or no) command table.
import { Builder } from "flatbuffers";
import * as wire from "../../schemas/index.ts";

export function rawFrame(clientSeq: bigint, type: number, build: ((b: Builder) => number) | null): Uint8Array {
  const b = new Builder(256);
  const table = build === null ? 0 : build(b);
  wire.CommandEnvelope.startCommandEnvelope(b);
  wire.CommandEnvelope.addClientSeq(b, clientSeq);
  wire.CommandEnvelope.addCommandType(b, type);
  if (build !== null) wire.CommandEnvelope.addCommand(b, table);
  b.finish(wire.CommandEnvelope.endCommandEnvelope(b));
  return b.asUint8Array().slice();
}
