// Public face of the pipeline: configuration, the in-process engine, the threaded engine, the record layout (engine/model) and the pool-delta codec.
export * from "./config.ts";
export { COMMAND_ROUTES, EVERY_RISK_SHARD, MatchingRoute, RiskRoute, routeOf, type CommandRoute } from "./routing.ts";
export { BATCH_COMMANDS_MAX, CommandQueue, DEFAULT_TOPOLOGY, Engine, marketsOfShard, matchingShardOf, riskShardOfCommand, type EngineTopology } from "./engine.ts";
export { ThreadedPipeline, type PipelineHandlers, type PipelineOptions } from "./threaded.ts";
// The record byte layout lives in engine/model (below the journal); the pipeline's users reach it here too.
export {
  AMOUNT_MAX,
  BATCH_END_KIND,
  COMMAND_RECORD_BYTES,
  commandKindAt,
  commandSeqAt,
  EVENT_MESSAGE_BYTES_MAX,
  EVENT_RECORD_BYTES,
  eventKindAt,
  eventSeqAt,
  readCommand,
  readEvent,
  readInt64,
  viewsOf,
  writeCommand,
  writeCommandBatchEnd,
  writeEvent,
  writeEventBatchEnd,
  type RecordViews,
} from "../model/index.ts";
export * from "./pool-delta-codec.ts";
export { snapshotStateHash } from "./snapshot-hash.ts";
export { runStressOffThread } from "./what-if-follower.ts";
export { checkShocks, runStress, shockedMark, STRESS_STAGE_MS, STRESS_STAGES_DEFAULT, STRESS_STAGES_MAX, type PriceShock, type StressAccount, type StressReport, type StressStage } from "./what-if.ts";
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
