// Public face of the wire protocol: the generated FlatBuffers classes of crossbook.fbs and the frame verifier.
export * from "./generated/crossbook_generated.ts";
export * from "./verify.ts";
