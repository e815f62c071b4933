// Public face of the pipeline: configuration, the in-process engine, the threaded engine and the record codec.
export * from "./config.ts";
export { COMMAND_ROUTES, EVERY_RISK_SHARD, MatchingRoute, RiskRoute, routeOf, type CommandRoute } from "./routing.ts";
export { BATCH_COMMANDS_MAX, CommandQueue, DEFAULT_TOPOLOGY, Engine, marketsOfShard, matchingShardOf, riskShardOfCommand, type EngineTopology } from "./engine.ts";
export { ThreadedPipeline, type PipelineHandlers, type PipelineOptions } from "./threaded.ts";
export * from "./record-codec.ts";
export { snapshotStateHash } from "./snapshot-hash.ts";
export {
  readSnapshotInfo,
  SNAPSHOT_FORMAT_VERSION,
  SnapshotFormatError,
  splitSnapshot,
  type PipelineSnapshot,
  type PipelineSnapshotBytes,
  type SnapshotInfo,
  type SnapshotParts,
} from "./snapshot.ts";
