// Public face of the shared domain vocabulary: enums, records, sinks, configuration types, account identity and the
// named limits.
export * from "./enums.ts";
export * from "./records.ts";
export { COMMAND_FIELDS, EVENT_FIELDS, type FieldSpec, type FieldType } from "./vocabulary.ts";
export * from "./config.ts";
export * from "./snapshot-io.ts";
export * from "./identity.ts";
export * from "./limits.ts";
export * from "./record-layout.ts";
