// `crossbook replay`, `journal-hash`, `journal-verify` and `journal-archive`: commands that read (or move) a journal
// and run it in-process, without a server (bin/cli.ts dispatches here).
import { closeSync, copyFileSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import {
  emptySummary,
  listSegments,
  segmentBatches,
  validSnapshots,
  JOURNAL_ARCHIVE_DIR,
  JOURNAL_SEGMENT_DIR,
  SNAPSHOT_DIR,
  type JournalSegment,
} from "../engine/journal/index.ts";
import { CommandRecord, EventKind, EventRecord, RejectCode, type EventSink, type ExchangeConfig } from "../engine/model/index.ts";
import { configDigest, Engine } from "../engine/pipeline/index.ts";
import { Command as WireCommand } from "../schemas/index.ts";
import { decodeCommand, DecodedKind, DecodeResult, encodeEvent } from "../gateway/codec/index.ts";
import { CommandJsonError, decodeEvent, jsonToFrame, toJsonText } from "../gateway/client/codec.ts";
import { configFrom, fail, helpRequested, parse } from "./cli-args.ts";

function printingSink(config: ExchangeConfig, clientSeqOf: () => bigint): EventSink {
  return {
    publish(e: EventRecord): void {
      process.stdout.write(`${toJsonText(decodeEvent(encodeEvent(e, clientSeqOf(), config)))}\n`);
    },
  };
}

function printReject(config: ExchangeConfig, clientSeq: bigint, code: number, message: string, commandType: number): void {
  const e = new EventRecord();
  e.kind = commandType === WireCommand.LimitOrder || commandType === WireCommand.MarketOrder ? EventKind.OrderRejected : EventKind.CommandRejected;
  e.code = code;
  e.message = message;
  process.stdout.write(`${toJsonText(decodeEvent(encodeEvent(e, clientSeq, config)))}\n`);
}

export function replay(argv: string[]): void {
  if (helpRequested(argv, "replay")) return;
  const { values, positionals } = parse(argv, { config: { type: "string" } }, "replay");
  const file = positionals[0] ?? fail("replay needs a FILE.jsonl (see: crossbook replay --help)");
  if (positionals.length > 1) fail(`replay: unexpected argument "${positionals[1]}" (see: crossbook replay --help)`);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    fail(`replay: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const config = configFrom(values.config as string | undefined);
  const engine = new Engine(config);
  const cmd = new CommandRecord();
  const result = new DecodeResult();
  let clientSeq = 0n;
  const sink = printingSink(config, () => clientSeq);
  let seq = 0;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    let frame: Uint8Array;
    try {
      frame = jsonToFrame(JSON.parse(line));
    } catch (e) {
      const why = e instanceof CommandJsonError || e instanceof SyntaxError ? e.message : String(e);
      fail(`${file}:${i + 1}: ${why}`);
    }
    if (!decodeCommand(frame, config, cmd, result)) {
      printReject(config, result.clientSeq, result.code, result.message, result.commandType);
      continue;
    }
    if (result.kind !== DecodedKind.Engine) {
      printReject(config, result.clientSeq, RejectCode.UnknownCommand, "gateway-only frames (subscriptions, logins) have no meaning in a replay", result.commandType);
      continue;
    }
    clientSeq = result.clientSeq;
    cmd.seq = ++seq;
    engine.execute(cmd, sink);
  }
  process.stdout.write(`${JSON.stringify({ stateHash: engine.stateHash(), commands: seq })}\n`);
}

const JOURNAL_TOOL_OPTIONS = {
  data: { type: "string", default: "data" },
  config: { type: "string" },
  archive: { type: "string" },
} as const;

function archiveDirOf(values: { data?: string; archive?: string }): string {
  return values.archive ?? join(values.data!, JOURNAL_ARCHIVE_DIR);
}

export function journalHash(argv: string[]): void {
  if (helpRequested(argv, "journal-hash")) return;
  const parsed = parse(argv, { ...JOURNAL_TOOL_OPTIONS, "from-genesis": { type: "boolean", default: false } }, "journal-hash");
  if (parsed.positionals.length > 0) fail(`journal-hash: unexpected argument "${parsed.positionals[0]}" (see: crossbook journal-hash --help)`);
  const values = parsed.values as { data: string; config?: string; archive?: string; "from-genesis": boolean };
  const config = configFrom(values.config);
  const engine = new Engine(config);
  const discard: EventSink = { publish: () => {} };
  const summary = emptySummary();
  // Without --from-genesis only the live segments are read (they must still start at sequence 1).
  const segments = listSegments(values.data, values["from-genesis"] ? archiveDirOf(values) : null);
  try {
    for (const b of segmentBatches(segments, { configDigestHex: configDigest(config) }, summary)) engine.processJournalBatch(b.commands, b.count, discard, b.batchNumber);
  } catch (e) {
    fail((e as Error).message);
  }
  const segmentsRead = segments.length;
  process.stdout.write(`${JSON.stringify({ stateHash: engine.stateHash(), batches: summary.batches, commands: summary.commands, lastSeq: summary.lastSeq, segments: segmentsRead, tornTailBytes: summary.truncatedBytes - summary.preallocatedBytes, preallocatedTailBytes: summary.preallocatedBytes })}\n`);
}

/** Every batch of the archived and live segments checked (magic, size, CRC, numbering), nothing replayed. */
export function journalVerify(argv: string[]): void {
  const { values } = parseArgs({ args: argv, options: JOURNAL_TOOL_OPTIONS });
  const config = configFrom(values.config);
  const segments = listSegments(values.data!, archiveDirOf(values));
  const summary = emptySummary();
  try {
    const opts = { configDigestHex: configDigest(config), reportCorruption: true, fromSeq: segments[0]?.firstSeq ?? 0 };
    const batches = segmentBatches(segments, opts, summary);
    while (batches.next().done !== true);
  } catch (e) {
    fail((e as Error).message);
  }
  const c = summary.corruption;
  process.stdout.write(`${JSON.stringify({
    records: summary.commands,
    batches: summary.batches,
    segments: segments.length,
    archivedSegments: segments.filter((x) => x.archived).length,
    firstSeq: segments[0]?.firstSeq ?? 0,
    lastSeq: summary.lastSeq,
    tornTailBytes: summary.truncatedBytes - summary.preallocatedBytes,
    preallocatedTailBytes: summary.preallocatedBytes,
    corruption: c === null ? null : { file: c.file, offset: c.offset, reason: c.reason, recordsAfter: c.recordsAfter, batchesAfter: c.batchesAfter },
  })}\n`);
  if (c !== null) process.exit(1);
}

/** Moves a segment, by rename when the archive is on the same file system, else copy, fsync and unlink. */
function moveSegment(s: JournalSegment, archiveDir: string): void {
  const target = join(archiveDir, basename(s.path));
  try {
    renameSync(s.path, target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EXDEV") throw e;
    copyFileSync(s.path, target);
    const fd = openSync(target, "r");
    fsyncSync(fd);
    closeSync(fd);
    unlinkSync(s.path);
  }
}

/** X7: segments whose every record the oldest usable snapshot includes go to the archive directory. */
export async function journalArchive(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: JOURNAL_TOOL_OPTIONS });
  const config = configFrom(values.config);
  const dataDir = values.data!;
  const archiveDir = archiveDirOf(values);
  let oldest = 0;
  const expectation = { configDigestHex: configDigest(config), riskShards: 0, matchingShards: 0 };
  // Any topology (0): a snapshot of this config makes the segments it covers unnecessary for a restart.
  const skip = (path: string, reason: string): void => void process.stderr.write(`snapshot ${basename(path)} ignored: ${reason}\n`);
  for await (const s of validSnapshots(join(dataDir, SNAPSHOT_DIR), expectation, skip)) oldest = s.seq;
  const live = listSegments(dataDir, null).filter((s) => dirname(s.path) === join(dataDir, JOURNAL_SEGMENT_DIR));
  const moved: string[] = [];
  if (oldest > 0) {
    mkdirSync(archiveDir, { recursive: true, mode: 0o700 });
    // A segment is covered when the next one starts at or before oldest + 1; the last (open) segment never moves.
    for (let i = 0; i + 1 < live.length && live[i + 1]!.firstSeq <= oldest + 1; i++) {
      moveSegment(live[i]!, archiveDir);
      moved.push(basename(live[i]!.path));
    }
    if (moved.length > 0) {
      for (const dir of [archiveDir, join(dataDir, JOURNAL_SEGMENT_DIR)]) {
        const fd = openSync(dir, "r");
        fsyncSync(fd);
        closeSync(fd);
      }
    }
  }
  process.stdout.write(`${JSON.stringify({ oldestSnapshotSeq: oldest, archived: moved, archiveDir, liveSegments: live.length - moved.length })}\n`);
}

// ---- the terminal client ----
