// Public face of the server-side wire codec: command frames in (decodeCommand), event frames out (encode*).
export { ALL_MARKETS } from "../../engine/model/index.ts";
export {
  CHANNELS_ALL,
  DecodedKind,
  DecodeResult,
  ED25519_PUBLIC_KEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  LOGIN_WINDOW_DEFAULT_MS,
  LOGIN_WINDOW_MAX_MS,
  MAX_COMMAND_FRAME_BYTES,
  PERMISSIONS_ALL,
  decodeCommand,
  readKeyWords,
  writeKeyWords,
} from "./decode.ts";
export {
  encodeAccountSnapshot,
  encodeBookTicker,
  encodeOpenOrder,
  encodeResumeDone,
  encodeDepthDelta,
  encodeDepthSnapshot,
  encodeEvent,
  withClientSeq,
  encodeSnapshotTaken,
  encodeTicker,
  encodeTrade,
  feeAssetOf,
  type TickerStats,
} from "./encode.ts";
