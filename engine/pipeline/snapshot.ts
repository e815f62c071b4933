// The engine snapshot payload (SPEC X7): every stage's state at one batch boundary, in one versioned, checksummed
// byte string. The in-process Engine writes it directly (Engine.snapshot); the threaded pipeline gathers the parts its
// workers write when a snapshot request reaches them through the rings (ThreadedPipeline.snapshot). Either restores
// from either, for the same topology (Engine.fromSnapshot, ThreadedPipeline.start({ snapshot })).
//
// API as delivered (issue 14, state half):
//   engine/model/snapshot-io.ts   SnapshotWriter / SnapshotReader (varints, bigints of any size, strings, tagged
//                                 length-prefixed sections), SnapshotFormatError, SnapshotTag
//   RiskShard / MatchingShard / SettlementShard   writeSnapshot(w) at a batch boundary; restoreSnapshot(r) into a
//                                 fresh instance (same config, shard index and count)
//   Engine.snapshot(): Uint8Array                  between batches
//   Engine.fromSnapshot(config, bytes, topology?)  a new Engine in the snapshot's state (topology: the snapshot's;
//                                 passing another one is refused); engine.batches / engine.lastSeq continue from it
//   ThreadedPipeline.snapshot(): Promise<PipelineSnapshot>   { batch, seq, stateHash, bytes }
//   ThreadedPipeline.snapshot({ stateHash: false }): Promise<PipelineSnapshotBytes>   { batch, seq, bytes }: the
//                                 stages skip their digests (most of a stage's stall at 100,000 accounts)
//   ThreadedPipeline.start(config, handlers, { snapshot })   every worker starts from its part of the snapshot
//   readSnapshotInfo(config, bytes): SnapshotInfo             header only (topology, batch, seq), payload verified
//   splitSnapshot(config, bytes): SnapshotParts               the stages' parts (views), payload verified
//   SNAPSHOT_FORMAT_VERSION, SnapshotFormatError (re-exported)
//   bench/snapshot-state.ts       buildSnapshotState(config, shape?, topology?) → Engine with 100,000 funded accounts
//                                 and 200,000 resting orders (SNAPSHOT_BENCH_SHAPE); snapshotStateBatches(shape) → the
//                                 journal batches that build it
// Refused with SnapshotFormatError, saying why: another magic or format version, a checksum mismatch, another config
// (digest), another topology, an unknown section or a section with bytes this version does not read. The bytes are
// not canonical across histories (holds follow the hold table's slots): compare state hashes, not payloads.
// `batch` is the last journal batch the snapshot includes (the sequencer's batch number; the in-process engine counts
// the batches it processed), `seq` the sequence number of that batch's last command: recovery replays the journal's
// batches after `batch`.
//
// Layout: "CBSNAPSH", u16 format version, section Engine { config digest, risk shards, matching shards, batch, seq },
// then the stage sections — risk shards 0…K−1, matching shards 0…M−1, settlement — each exactly as its stage wrote it
// (so a worker's part is copied in as it is), then u32 CRC-32 of everything before it.
import { crc32 } from "node:zlib";
import { SnapshotFormatError, SnapshotReader, SnapshotTag, SnapshotWriter, type ExchangeConfig } from "../model/index.ts";
import { configDigest } from "./config.ts";

export { SnapshotFormatError };

/** The payload format. 2: risk accounts with open orders carry repayCover (C4: what open repaying proceeds offset).
 * 3: each matching shard's section ends with its perpetual price state (P3/P4: oracle replica, EWMA, mark, moving
 * means, funding samples and history; engine.ts decision P3). 4: each risk shard's section carries its liquidating set
 * (Q1) and its open-interest replica (P1), and its accounts their perpetual positions, perp holds and unsettled USDC.
 * 5: each risk shard's section carries its insurance-fund slice after the fee account (D4; P4 funding remainders).
 * 6: each perpetual market's section carries its position replica after the ticker (O1 reduceOnly at fill time).
 * 7: each risk shard's section carries the accounts' liquidation histories and the insurance fund's replica and
 * history (Q6), and its batch deltas the fund's changes.
 * 8: each account's perpetual state ends with its settlement and funding histories, and each risk shard's section
 * with its markets' funding-rate histories (P4, P6/P7; engine/risk/histories.ts).
 * 9: each risk shard's section carries, after the liquidating set, the Q2 stalls (account, batches without a
 * liquidation fill, last NoStepReason).
 * 10: after an account's repayCover, a flag and (when set) the sell orders' part of it (C4/C8 corners: SellTerms).
 * 11: each risk shard's section ends with its spread P4/P5 passes (engine.ts P5S: the realization pass's cursor, each
 * market's pending funding interval with its cursor and the accounts paid early; risk/passes.ts).
 * 12: the insurance fund's replica carries, after its balances, the realized PnL in transit per asset (Q4: covers
 * spend the balance less it; risk/insurance.ts pnlFloat), and each risk shard's section ends with the settlement
 * borrows due a collateral conversion (P6 (3): risk/settlement-conversions.ts).
 * 13: each position log entry (L14) ends with the account's open realized PnL (risk/pools.ts noteOpenPnl).
 * 14: each risk shard's section ends with the backstop's replicated headroom (Q3 across shards: exposure notional
 * used, liquidating flag; risk/backstop-relay.ts).
 * 15: each risk shard's section ends with the replicated ADL demands (pending, ready) and offers (Q4 ADL across
 * shards; risk/adl-relay.ts).
 * 16: each risk shard's section ends with the replicated lender ADL demands (pending, ready with the lender's shares)
 * and offers (Q5 lender ADL across shards; risk/adl-lender-relay.ts).
 * 17: the ADL demands and offers are followed by the replicated funding the fund held for receivers when the offers
 * were published (AdlRelay.fundingHeld: what the ready covers leave out of the fund's capital, P5S).
 * 18: the perpetual prices section ends with each spot market's O6 state (its moving mean of the mark: matching/
 * perp-prices.ts SpotMarkState). */
export const SNAPSHOT_FORMAT_VERSION = 18;
const MAGIC = "CBSNAPSH";
const CRC_BYTES = 4;
/** Shards of one stage a snapshot may hold (a damaged count must not drive a long loop). */
const SNAPSHOT_SHARDS_MAX = 1024;

export interface SnapshotInfo {
  readonly riskShards: number;
  readonly matchingShards: number;
  /** Last journal batch included. */
  readonly batch: number;
  /** Sequence number of the last command included (0 if none). */
  readonly seq: number;
}

/** A snapshot split into its stages' parts (views into the payload). */
export interface SnapshotParts {
  readonly info: SnapshotInfo;
  readonly risk: readonly Uint8Array[];
  readonly matching: readonly Uint8Array[];
  readonly settlement: Uint8Array;
}

/** What ThreadedPipeline.snapshot({ stateHash: false }) resolves to: the payload and what it covers. */
export interface PipelineSnapshotBytes {
  readonly batch: number;
  readonly seq: number;
  readonly bytes: Uint8Array;
}

/** What ThreadedPipeline.snapshot() resolves to. */
export interface PipelineSnapshot extends PipelineSnapshotBytes {
  /** The engine's state hash at the snapshot (Engine.stateHash of the restored engine equals it). */
  readonly stateHash: string;
}

/** Starts a payload: magic, version and the engine section. The caller writes the stage sections, then finishSnapshot. */
export function beginSnapshot(w: SnapshotWriter, config: ExchangeConfig, info: SnapshotInfo): void {
  for (let i = 0; i < MAGIC.length; i++) w.u8(MAGIC.charCodeAt(i));
  w.u16(SNAPSHOT_FORMAT_VERSION);
  w.beginSection(SnapshotTag.Engine);
  w.str(configDigest(config));
  w.uint(info.riskShards);
  w.uint(info.matchingShards);
  w.uint(info.batch);
  w.uint(info.seq);
  w.endSection();
}

/** Bytes of everything but the stage sections, at most (magic, version, engine section, checksum). */
export const SNAPSHOT_HEADER_BYTES_MAX = 192;

/** Ends a payload with its checksum and returns it (a view over the writer's buffer; the writer is done). */
export function finishSnapshot(w: SnapshotWriter): Uint8Array {
  const bodyLength = w.length;
  w.u32(0);
  const all = w.bytes();
  new DataView(all.buffer, all.byteOffset, all.byteLength).setUint32(bodyLength, crc32(all.subarray(0, bodyLength)), true);
  return all;
}

/**
 * The writer of this thread's stage parts, kept from snapshot to snapshot: after the first its buffer has the part's
 * size, so a stage's stall is the encoding alone (no growth steps, no zero-filled megabytes).
 */
let partWriter: SnapshotWriter | null = null;

/** Writes one stage's part on its own (a worker's contribution to ThreadedPipeline.snapshot); an exact-size copy. */
export function stagePart(write: (w: SnapshotWriter) => void): Uint8Array {
  const w = (partWriter ??= new SnapshotWriter(1 << 20));
  w.reset();
  write(w);
  const part = w.bytes().slice();
  w.reset();
  return part;
}

/** Checks magic, version, checksum and config; returns a reader positioned after the engine section, and its info. */
function openSnapshot(config: ExchangeConfig, bytes: Uint8Array): { r: SnapshotReader; info: SnapshotInfo } {
  if (bytes.length < MAGIC.length + 2 + CRC_BYTES) throw new SnapshotFormatError(`snapshot: ${bytes.length} bytes is too short to be a snapshot`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC.charCodeAt(i)) throw new SnapshotFormatError("snapshot: not a crossbook snapshot (bad magic)");
  }
  const version = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(MAGIC.length, true);
  if (version !== SNAPSHOT_FORMAT_VERSION) {
    throw new SnapshotFormatError(`snapshot: format version ${version}, this crossbook reads version ${SNAPSHOT_FORMAT_VERSION} (written by another release: restore it with that release or replay the journal)`);
  }
  const bodyLength = bytes.length - CRC_BYTES;
  const stored = new DataView(bytes.buffer, bytes.byteOffset + bodyLength, CRC_BYTES).getUint32(0, true);
  if (crc32(bytes.subarray(0, bodyLength)) !== stored) throw new SnapshotFormatError("snapshot: checksum mismatch (the payload is damaged)");
  const r = new SnapshotReader(bytes.subarray(0, bodyLength), "snapshot");
  r.raw(MAGIC.length + 2);
  r.beginSection(SnapshotTag.Engine, "engine");
  const digest = r.str();
  const riskShards = r.uint();
  const matchingShards = r.uint();
  const batch = r.uint();
  const seq = r.uint();
  r.endSection();
  if (digest !== configDigest(config)) r.fail(`written with another configuration (digest ${digest.slice(0, 12)}…); use the same --config`);
  if (riskShards < 1 || riskShards > SNAPSHOT_SHARDS_MAX || matchingShards < 1 || matchingShards > SNAPSHOT_SHARDS_MAX) {
    r.fail(`bad topology ${riskShards} risk × ${matchingShards} matching shards`);
  }
  return { r, info: { riskShards, matchingShards, batch, seq } };
}

/** The header of a verified payload (magic, version, checksum, config digest). */
export function readSnapshotInfo(config: ExchangeConfig, bytes: Uint8Array): SnapshotInfo {
  return openSnapshot(config, bytes).info;
}

/** Splits a verified payload into its stages' parts (views, no copies). */
export function splitSnapshot(config: ExchangeConfig, bytes: Uint8Array): SnapshotParts {
  const { r, info } = openSnapshot(config, bytes);
  const risk: Uint8Array[] = [];
  for (let k = 0; k < info.riskShards; k++) risk.push(r.sectionBytes(SnapshotTag.Risk, `risk shard ${k}`));
  const matching: Uint8Array[] = [];
  for (let m = 0; m < info.matchingShards; m++) matching.push(r.sectionBytes(SnapshotTag.Matching, `matching shard ${m}`));
  const settlement = r.sectionBytes(SnapshotTag.Settlement, "settlement");
  r.expectEnd();
  return { info, risk, matching, settlement };
}

/** Restores one stage from its part: the stage must read the part exactly (unknown trailing fields are refused). */
export function restorePart(part: Uint8Array, what: string, restore: (r: SnapshotReader) => void): void {
  const r = new SnapshotReader(part, what);
  restore(r);
  r.expectEnd();
}

/** Refuses a snapshot of another topology: risk and matching state are partitioned by shard (accounts by user, markets by id). */
export function requireTopology(info: SnapshotInfo, riskShards: number, matchingShards: number): void {
  if (info.riskShards !== riskShards || info.matchingShards !== matchingShards) {
    throw new SnapshotFormatError(
      `snapshot: taken with ${info.riskShards} risk × ${info.matchingShards} matching shards, the engine has ${riskShards} × ${matchingShards}: ` +
        "start with the snapshot's topology (its accounts and markets are partitioned by shard), or replay the journal",
    );
  }
}

