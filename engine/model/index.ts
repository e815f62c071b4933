// Public face of the shared domain vocabulary: enums, records, sinks and configuration types.
export * from "./enums.ts";
export * from "./records.ts";
export { COMMAND_FIELDS, EVENT_FIELDS, type FieldSpec, type FieldType } from "./vocabulary.ts";
export * from "./config.ts";
export * from "./snapshot-io.ts";
export * from "./record-layout.ts";
