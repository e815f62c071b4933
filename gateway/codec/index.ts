// Public face of the server-side wire codec: command frames in (decodeCommand), event frames out (encode*).
export { ALL_MARKETS } from "../../engine/model/index.ts";
export {
  CHANNELS_ALL,
  DecodedKind,
  DecodeResult,
  MAX_COMMAND_FRAME_BYTES,
  SUB_ACCOUNT_MAX,
  decodeCommand,
} from "./decode.ts";
export {
  encodeBookTicker,
  encodeDepthDelta,
  encodeDepthSnapshot,
  encodeEvent,
  encodeSnapshotTaken,
  encodeTicker,
  encodeTrade,
  feeAssetOf,
  type TickerStats,
} from "./encode.ts";
