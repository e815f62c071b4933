// Public face of the pipeline: configuration, the in-process engine, the threaded engine the record layout (engine/model) and the pool-delta codec.
export * from "./config.ts";
export { BATCH_COMMANDS_MAX, CommandQueue, DEFAULT_TOPOLOGY, Engine, marketsOfShard, matchingShardOf, riskShardOfCommand, type EngineTopology } from "./engine.ts";
export { ThreadedPipeline, type PipelineHandlers, type PipelineOptions } from "./threaded.ts";
export * from "../model/record-layout.ts";
export * from "./pool-delta-codec.ts";
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
