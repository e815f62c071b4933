// The live engine: risk, matching and settlement stages on worker threads linked by rings, driven from the main
// thread by the sequencer (gateway). Same stages and same batch rule as the in-process Engine (engine.ts).
//
//   main ──cmd ring──► risk[k] ──cmd ring──► matching[m] ──event ring──► risk[k] ──event ring──► main
//   main ──cmd ring──► settlement (clock)           settlement ──postMessage (timer ticks)──► main
//   risk[k] ──pool-delta ring──► risk[j] (K > 1: each batch's pool deltas, merged at the batch end; risk/pools.ts)
//
// The 1 × 1 topology runs fused by default: one engine worker (workers/engine-worker.ts) does risk → matching →
// risk on one thread, so a batch crosses threads twice (main → engine → main) instead of four times; its rings
// look like risk[0]'s, so everything below treats it as risk shard 0. `stages: "split"` keeps separate risk and
// matching threads (tests compare both).
//   main ──cmd ring──► engine (risk R1 → matching → risk R2) ──event ring──► main
import { Worker } from "node:worker_threads";
import type { MarketDataSink } from "../matching/index.ts";
import { CommandKind, CommandRecord, EventRecord, SnapshotWriter, type ControlKind, type ExchangeConfig } from "../model/index.ts";
import { RingBuffer, SpinThenParkWait, waitForSpaceAsync, type RingHandle } from "../ring/index.ts";
import { composeStateHash, DEFAULT_TOPOLOGY, riskShardOfCommand, type EngineTopology } from "./engine.ts";
import { EVERY_RISK_SHARD, riskShardOfRoute, settlementTakes } from "./routing.ts";
import {
  BATCH_END_KIND,
  batchEndPassesPending,
  batchEndIdleBatchActs,
  COMMAND_RECORD_BYTES,
  commandKindAt,
  commandSeqAt,
  EVENT_RECORD_BYTES,
  EventRecordReader,
  eventKindAt,
  writeCommand,
  writeCommandBatchEnd,
  type RecordViews,
} from "../model/index.ts";
import { POOL_DELTA_RECORD_BYTES } from "./pool-delta-codec.ts";
import { isMarketDataBatchEnd, MARKET_DATA_RECORD_BYTES, readMarketData } from "./market-data-codec.ts";
import { PARK_MS, RingReader, RingWriter, tryCopyRecord } from "./ring-io.ts";
import { drive, type ReaderGate } from "./ring-drive.ts";
import { workerExecArgv, workerUrl } from "./worker-bundle.ts";
import {
  beginSnapshot,
  finishSnapshot,
  requireTopology,
  SNAPSHOT_HEADER_BYTES_MAX,
  splitSnapshot,
  type PipelineSnapshot,
  type PipelineSnapshotBytes,
  type SnapshotParts,
} from "./snapshot.ts";
import {
  COMMAND_RING_SLOTS,
  CONTROL_SNAPSHOT,
  CONTROL_STATE_HASH,
  EVENT_RING_SLOTS,
  SNAPSHOT_WITH_STATE_HASH,
  MARKET_DATA_RING_SLOTS,
  OUT_EVENT_RING_SLOTS,
  POOL_DELTA_RING_SLOTS,
  type EngineWorkerData,
  type MatchingWorkerData,
  type RiskWorkerData,
  type SnapshotPartMessage,
  type SettlementWorkerData,
  type SnapshotStage,
  type WorkerMessage,
} from "./workers/protocol.ts";

export interface PipelineHandlers {
  /** Every engine event, in each risk shard's order. The record is only valid during the call. */
  onEvent(e: EventRecord): void;
  /**
   * All stages finished a submitted batch (journal batch number, or a negative control batch number). passesPending:
   * a risk shard's latest batch end reported P4 payments or a P5 realization pass left (engine.ts decision P5S).
   */
  onBatchDone?(batch: number, passesPending: boolean): void;
  /** The settlement timer proposes a clock tick (live mode). */
  onTick?(timeMs: number): void;
  /** O8 market data from every matching shard, in each shard's order (absent: matching publishes none). */
  onMarketData?: MarketDataSink;
  /** A worker died: the engine can no longer make progress. */
  onFatal?(message: string): void;
}

export interface PipelineOptions {
  readonly topology?: EngineTopology;
  /** Live clock ticks every this many ms; 0 = off (tests, benchmarks, replay). */
  readonly tickIntervalMs?: number;
  /**
   * "fused" (the default for 1 × 1): risk and matching share one engine worker; "split": one worker per stage
   * shard. Topologies with more than one shard of either stage are always split.
   */
  readonly stages?: "fused" | "split";
  /**
   * X7: start every stage from this snapshot (Engine.snapshot or ThreadedPipeline.snapshot bytes) instead of empty.
   * The topology defaults to the snapshot's; another one is refused. Batches up to the snapshot's count as finished.
   * A promise (a restart, X7 restart in engine.ts): the risk and matching workers are spawned at once and boot while
   * it settles, then get their parts (null: start empty); the topology is then `topology`'s (or the default), and
   * the snapshot's must match it. The settlement worker (its boot is off the critical path) is spawned after.
   */
  readonly snapshot?: Uint8Array | Promise<Uint8Array | null>;
}

/** The parts of a snapshot being gathered from the workers (ThreadedPipeline.snapshot). */
interface SnapshotWaiter {
  readonly risk: (Uint8Array | undefined)[];
  readonly matching: (Uint8Array | undefined)[];
  settlement: Uint8Array | null;
  readonly riskHashes: string[];
  readonly matchingHashes: string[];
  settlementHash: string;
  readonly done: Promise<void>;
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * A snapshot part copied into a buffer of its own, to be cloned or handed to a worker alone. Not `slice()`: the
 * payload read from a file is a Buffer, whose slice() is a view of the whole file's memory (cloned whole, or handed
 * over twice).
 */
function copyOf(part: Uint8Array): Uint8Array {
  const copy = new Uint8Array(part.length);
  copy.set(part);
  return copy;
}

function entry(name: string): string {
  return new URL(`./workers/${name}`, import.meta.url).href;
}

function handle(ring: RingBuffer, name: string): RingHandle {
  return ring.handle(name);
}

export class ThreadedPipeline {
  private readonly wait = new SpinThenParkWait({ spinIterations: 0 });
  private readonly riskIn: RingWriter[] = [];
  private readonly riskOut: RingReader[] = [];
  private settlementIn!: RingWriter;
  private readonly workers: Worker[] = [];
  private readonly exits: Promise<void>[] = [];
  private readonly batchesDone: Int32Array;
  /** P5S: per risk shard, whether its latest batch end reported spread passes pending. */
  private readonly passesPending: Uint8Array;
  /** Per risk shard, whether its latest batch end said a next batch of queries alone would change state. */
  private readonly idleBatchActs: Uint8Array;
  private readonly submitted: number[] = [];
  private completed = 0;
  /** Every event drained is read into its record (the commonest kinds without the per-slot resets). */
  private readonly events = new EventRecordReader();
  private pumps: Promise<void>[] = [];
  private stopping = false;
  private hashWaiters: { risk: string[]; matching: string[]; settlement: string | null; resolve: () => void } | null = null;
  private controlBatch = 0;
  private batchWaiters: { batch: number; resolve: () => void }[] = [];
  /** Highest journal batch (> 0) every stage has finished; journal batches complete in submission order. */
  private highestCompletedBatch = 0;
  /** Control batches (< 0) finished and not waited for yet. */
  private readonly completedControlBatches = new Set<number>();
  /** The last journal batch (> 0) submitted and its last command's sequence number: what a snapshot covers. */
  private lastJournalBatch = 0;
  private lastJournalSeq = 0;
  private snapshotWaiter: SnapshotWaiter | null = null;
  /** Open while a control request writes its records: submits wait, so a control record never lands inside a batch. */
  private controlGate: Promise<void> | null = null;
  private readonly marketDataReaders: RingReader[] = [];
  /** submitBatch / submitEncoded calls in progress (a control request waits for them to finish writing). */
  private submitting = 0;
  private submitIdle: (() => void) | null = null;
  /** X4P (gateOutputs): each output is read only once its batch is released; off: as it comes. */
  private gated = false;
  /** X4P: the highest journal batch released (on disk). */
  private releasedJournalBatch = 0;
  /** Entries dropped from the front of `submitted` so far: a batch's absolute index is submittedBase + its index. */
  private submittedBase = 0;
  /** X4P: submitted batches (an absolute count, in submission order) whose outputs may be read. */
  private releasedCount = 0;
  /** Batch ends read from each market-data ring (absolute, like releasedCount). */
  private readonly marketDataBatches: number[] = [];
  /** Readers held at the gate, resumed at the next release (two lists swapped: nothing allocated per release). */
  private resumes: (() => void)[] = [];
  private resuming: (() => void)[] = [];

  private constructor(
    readonly config: ExchangeConfig,
    readonly topology: EngineTopology,
    private readonly handlers: PipelineHandlers,
  ) {
    this.batchesDone = new Int32Array(topology.riskShards);
    this.passesPending = new Uint8Array(topology.riskShards);
    // Unknown until a shard's first batch end is read (a restored state may hold liquidating accounts): pending.
    this.idleBatchActs = new Uint8Array(topology.riskShards).fill(1);
  }

  static async start(config: ExchangeConfig, handlers: PipelineHandlers, options: PipelineOptions = {}): Promise<ThreadedPipeline> {
    const given = options.snapshot;
    const later = given instanceof Promise ? given : null;
    const parts = given === undefined || later !== null ? null : splitSnapshot(config, given as Uint8Array);
    const topology = options.topology ?? (parts === null ? DEFAULT_TOPOLOGY : parts.info);
    const p = new ThreadedPipeline(config, { riskShards: topology.riskShards, matchingShards: topology.matchingShards }, handlers);
    if (parts !== null) p.startAfter(parts);
    const fused = topology.riskShards === 1 && topology.matchingShards === 1 && options.stages !== "split";
    try {
      await p.spawn(options.tickIntervalMs ?? 0, fused, parts, later);
    } catch (e) {
      // A worker that cannot start (a snapshot part it refuses) must not leave the others running.
      p.stopping = true;
      await Promise.all(p.workers.map((w) => w.terminate()));
      throw e;
    }
    return p;
  }

  /** The topology's check and the batches a snapshot covers (they count as finished). */
  private startAfter(parts: SnapshotParts): void {
    requireTopology(parts.info, this.topology.riskShards, this.topology.matchingShards);
    this.highestCompletedBatch = parts.info.batch;
    this.lastJournalBatch = parts.info.batch;
    this.lastJournalSeq = parts.info.seq;
  }

  /**
   * Spawns every worker, from `given` parts or (`later`) the risk and matching workers first, which boot while `later`
   * settles and then get their parts by message (handOverParts); the settlement worker once the parts are known.
   */
  private async spawn(tickIntervalMs: number, fused: boolean, given: SnapshotParts | null, later: Promise<Uint8Array | null> | null): Promise<void> {
    const ready: Promise<void>[] = [];
    const marketDataRings: RingBuffer[] = [];
    if (fused) ready.push(this.spawnFused(marketDataRings, given, later !== null));
    else ready.push(...this.spawnSplit(marketDataRings, given, later !== null));
    let parts = given;
    if (later !== null) {
      // A worker that fails meanwhile is reported once the parts are handed over (the await below).
      for (const r of ready) r.catch(() => {});
      const bytes = await later;
      parts = bytes === null ? null : splitSnapshot(this.config, bytes);
      if (parts !== null) this.startAfter(parts);
      this.handOverParts(parts, fused);
    }
    const settlementRing = RingBuffer.create(COMMAND_RECORD_BYTES, 1024);
    this.settlementIn = new RingWriter(settlementRing, this.wait);
    const sdata: SettlementWorkerData = {
      entry: entry("settlement-worker.ts"),
      commandsIn: handle(settlementRing, "settlement.in"),
      tickIntervalMs,
      snapshot: parts === null ? null : copyOf(parts.settlement),
    };
    ready.push(this.startWorker(sdata));
    await Promise.all(ready);
    this.pumps = this.riskOut.map((r, k) => this.pump(r, k));
    const sink = this.handlers.onMarketData;
    if (sink !== undefined) {
      for (const md of marketDataRings) {
        this.marketDataReaders.push(new RingReader(md, this.wait));
        this.marketDataBatches.push(0);
      }
      for (let m = 0; m < marketDataRings.length; m++) this.pumps.push(this.pumpMarketData(m, sink));
    }
  }

  /**
   * To each risk and matching worker spawned with `snapshotLater` (this.workers, in spawn order: the fused worker, or
   * risk shards then matching shards), its part — copied out of the payload and handed over, not cloned.
   */
  private handOverParts(parts: SnapshotParts | null, fused: boolean): void {
    const firstBatch = parts === null ? 0 : parts.info.batch;
    const post = (index: number, part: unknown, buffers: Uint8Array[]): void => {
      const m: SnapshotPartMessage<unknown> = { part, firstBatch };
      this.workers[index]!.postMessage(m, buffers.map((b) => b.buffer as ArrayBuffer));
    };
    if (fused) {
      const part = parts === null ? null : { info: parts.info, risk: [copyOf(parts.risk[0]!)], matching: [copyOf(parts.matching[0]!)], settlement: copyOf(parts.settlement) };
      post(0, part, part === null ? [] : [part.risk[0]!, part.matching[0]!, part.settlement]);
      return;
    }
    const { riskShards, matchingShards } = this.topology;
    for (let k = 0; k < riskShards; k++) {
      const part = parts === null ? null : copyOf(parts.risk[k]!);
      post(k, part, part === null ? [] : [part]);
    }
    for (let m = 0; m < matchingShards; m++) {
      const part = parts === null ? null : copyOf(parts.matching[m]!);
      post(riskShards + m, part, part === null ? [] : [part]);
    }
  }

  /** The 1 × 1 engine on one worker; its rings take risk shard 0's place. */
  private spawnFused(marketDataRings: RingBuffer[], parts: SnapshotParts | null, snapshotLater: boolean): Promise<void> {
    const commandsIn = RingBuffer.create(COMMAND_RECORD_BYTES, COMMAND_RING_SLOTS);
    const eventsOut = RingBuffer.create(EVENT_RECORD_BYTES, OUT_EVENT_RING_SLOTS);
    this.riskIn.push(new RingWriter(commandsIn, this.wait));
    this.riskOut.push(new RingReader(eventsOut, this.wait));
    const md = this.handlers.onMarketData === undefined ? null : RingBuffer.create(MARKET_DATA_RECORD_BYTES, MARKET_DATA_RING_SLOTS);
    if (md !== null) marketDataRings.push(md);
    const data: EngineWorkerData = {
      entry: entry("engine-worker.ts"),
      config: this.config,
      commandsIn: handle(commandsIn, "engine.in"),
      eventsOut: handle(eventsOut, "engine.out"),
      marketDataOut: md === null ? null : handle(md, "engine.market-data"),
      // Each part copied out of the payload: a view would take the whole payload along to the worker.
      snapshot: parts === null ? null : { info: parts.info, risk: [copyOf(parts.risk[0]!)], matching: [copyOf(parts.matching[0]!)], settlement: copyOf(parts.settlement) },
      snapshotLater,
    };
    return this.startWorker(data);
  }

  /** One worker per risk shard and per matching shard, with the rings between them. */
  private spawnSplit(marketDataRings: RingBuffer[], parts: SnapshotParts | null, snapshotLater: boolean): Promise<void>[] {
    const { riskShards, matchingShards } = this.topology;
    const riskToMatching: RingBuffer[][] = [];
    const matchingToRisk: RingBuffer[][] = [];
    for (let k = 0; k < riskShards; k++) {
      riskToMatching.push([]);
      for (let m = 0; m < matchingShards; m++) riskToMatching[k]!.push(RingBuffer.create(COMMAND_RECORD_BYTES, COMMAND_RING_SLOTS));
    }
    for (let m = 0; m < matchingShards; m++) {
      matchingToRisk.push([]);
      for (let k = 0; k < riskShards; k++) matchingToRisk[m]!.push(RingBuffer.create(EVENT_RECORD_BYTES, EVENT_RING_SLOTS));
    }
    // K > 1: a ring from every risk shard to every other for the batch-end pool deltas (engine/risk/pools.ts).
    const poolRings: (RingBuffer | null)[][] = [];
    for (let k = 0; k < riskShards; k++) {
      poolRings.push([]);
      for (let j = 0; j < riskShards; j++) poolRings[k]!.push(j === k ? null : RingBuffer.create(POOL_DELTA_RECORD_BYTES, POOL_DELTA_RING_SLOTS));
    }
    const ready: Promise<void>[] = [];
    for (let k = 0; k < riskShards; k++) {
      const commandsIn = RingBuffer.create(COMMAND_RECORD_BYTES, COMMAND_RING_SLOTS);
      const eventsOut = RingBuffer.create(EVENT_RECORD_BYTES, OUT_EVENT_RING_SLOTS);
      this.riskIn.push(new RingWriter(commandsIn, this.wait));
      this.riskOut.push(new RingReader(eventsOut, this.wait));
      const data: RiskWorkerData = {
        entry: entry("risk-worker.ts"),
        config: this.config,
        shardIndex: k,
        riskShards,
        commandsIn: handle(commandsIn, `risk${k}.in`),
        toMatching: riskToMatching[k]!.map((r, m) => handle(r, `risk${k}.to.matching${m}`)),
        fromMatching: matchingToRisk.map((rings, m) => handle(rings[k]!, `matching${m}.to.risk${k}`)),
        eventsOut: handle(eventsOut, `risk${k}.out`),
        poolDeltasOut: poolRings[k]!.map((r, j) => (r === null ? null : handle(r, `risk${k}.pools.to.risk${j}`))),
        poolDeltasIn: poolRings.map((rings, j) => (rings[k] === null ? null : handle(rings[k]!, `risk${j}.pools.to.risk${k}`))),
        snapshot: parts === null ? null : copyOf(parts.risk[k]!),
        firstBatch: parts === null ? 0 : parts.info.batch,
        snapshotLater,
      };
      ready.push(this.startWorker(data));
    }
    for (let m = 0; m < matchingShards; m++) {
      const md = this.handlers.onMarketData === undefined ? null : RingBuffer.create(MARKET_DATA_RECORD_BYTES, MARKET_DATA_RING_SLOTS);
      if (md !== null) marketDataRings.push(md);
      const data: MatchingWorkerData = {
        entry: entry("matching-worker.ts"),
        config: this.config,
        shardIndex: m,
        matchingShards,
        fromRisk: riskToMatching.map((rings, k) => handle(rings[m]!, `risk${k}.to.matching${m}`)),
        toRisk: matchingToRisk[m]!.map((r, k) => handle(r, `matching${m}.to.risk${k}`)),
        marketDataOut: md === null ? null : handle(md, `matching${m}.market-data`),
        snapshot: parts === null ? null : copyOf(parts.matching[m]!),
        snapshotLater,
      };
      ready.push(this.startWorker(data));
    }
    return ready;
  }

  private pumpMarketData(m: number, sink: MarketDataSink): Promise<void> {
    const gate = this.readerGate(() => this.gated && this.marketDataBatches[m]! >= this.releasedCount);
    return drive(this.marketDataReaders[m]!, () => this.drainMarketData(m, sink), this.batchInFlight, gate);
  }

  /**
   * Hands every market-data record ring `m` holds now to `sink` (a batch end only counts the batch); returns how many
   * records it read. Gated (X4P): stops before a record of a batch not released yet.
   */
  private drainMarketData(m: number, sink: MarketDataSink): number {
    const reader = this.marketDataReaders[m]!;
    let n = 0;
    for (let offset = reader.peek(); offset >= 0; offset = reader.peek()) {
      if (this.gated && this.marketDataBatches[m]! >= this.releasedCount) {
        // The records read are the stage's again (held, it would wait for space with them).
        reader.releaseRead();
        break;
      }
      if (isMarketDataBatchEnd(reader.ring, offset)) this.marketDataBatches[m]!++;
      else readMarketData(reader.ring, offset, sink);
      reader.advance();
      n++;
    }
    return n;
  }

  private readerGate(held: () => boolean): ReaderGate {
    return { held, resumeOnRelease: (resume) => this.resumes.push(resume), stopping: () => this.stopping };
  }

  /**
   * X4P (engine.ts): from now on every output of a journal batch — its events, its batch end, its market data — stays
   * in the rings until releaseThrough says the batch is on disk; `journaledBatch` and every batch before it already
   * are (recovery's last). A control batch (a snapshot, a state hash) is released once every batch before it is.
   */
  gateOutputs(journaledBatch: number): void {
    this.gated = true;
    this.releasedJournalBatch = journaledBatch;
    this.releasedCount = this.submittedBase;
    this.advanceRelease();
  }

  /**
   * X4P: journal batches up to `batch` are on disk: their outputs (and any control batch after them) are read now, on
   * this turn, in order — the readers held at the gate drain what they may.
   */
  releaseThrough(batch: number): void {
    if (batch > this.releasedJournalBatch) this.releasedJournalBatch = batch;
    if (this.advanceRelease()) this.resumeHeld();
  }

  /**
   * X4P: records the engine has published that wait in the rings unread (events, batch ends, market data) — while a
   * batch is held at the gate, its outputs. For tests and diagnostics.
   */
  unreadOutputs(): number {
    let n = 0;
    for (const r of this.riskOut) n += r.unread();
    for (const r of this.marketDataReaders) n += r.unread();
    return n;
  }

  /** Counts the submitted batches now released (journal batches up to releasedJournalBatch, control batches between). */
  private advanceRelease(): boolean {
    const s = this.submitted;
    const before = this.releasedCount;
    // Control batches are negative, so never above the journal batch released.
    for (let i = this.releasedCount - this.submittedBase; i < s.length && s[i]! <= this.releasedJournalBatch; i++) this.releasedCount++;
    return this.releasedCount > before;
  }

  private resumeHeld(): void {
    const resumes = this.resumes;
    this.resumes = this.resuming;
    this.resuming = resumes;
    for (let i = 0; i < resumes.length; i++) resumes[i]!();
    resumes.length = 0;
  }

  /** A batch was submitted: recorded in order (gated, a control batch right after released ones is released). */
  private noteSubmitted(batch: number): void {
    this.submitted.push(batch);
    if (this.gated && this.advanceRelease()) this.resumeHeld();
  }

  /**
   * Resolves once every event of the batches submitted so far has gone to onEvent and all their market data to
   * onMarketData (a snapshot of the gateway's views taken then is at the same boundary as the stages'): an empty
   * control batch goes through every ring, then the market-data rings are read to their end — a stage publishes a
   * batch's market data before it takes the next batch, so what that empty batch follows is all there.
   */
  async settle(): Promise<void> {
    await this.afterControl();
    let open!: () => void;
    this.controlGate = new Promise<void>((resolve) => (open = resolve));
    let batch: number;
    try {
      while (this.submitting > 0) await new Promise<void>((resolve) => (this.submitIdle = resolve));
      batch = --this.controlBatch;
      await this.endBatch(batch);
    } finally {
      this.controlGate = null;
      open();
    }
    await this.waitForBatch(batch);
    const sink = this.handlers.onMarketData;
    if (sink !== undefined) for (let m = 0; m < this.marketDataReaders.length; m++) this.drainMarketData(m, sink);
  }

  private startWorker(data: { entry: string }): Promise<void> {
    const url = workerUrl(data.entry);
    const worker = new Worker(url, { workerData: data, execArgv: workerExecArgv(url) });
    this.workers.push(worker);
    this.exits.push(new Promise<void>((resolve) => worker.once("exit", (code) => {
      const message = `worker ${data.entry.slice(data.entry.lastIndexOf("/") + 1)} exited (code ${code}) while the engine runs`;
      if (!this.stopping) this.handlers.onFatal?.(message);
      this.snapshotWaiter?.reject(new Error(`snapshot not taken: ${message}`));
      resolve();
    })));
    return new Promise<void>((resolve, reject) => {
      worker.on("message", (m: WorkerMessage) => {
        switch (m.type) {
          case "ready":
            resolve();
            return;
          case "tick":
            if (!this.stopping) this.handlers.onTick?.(m.timeMs);
            return;
          case "stateHash":
            if (this.hashWaiters !== null) this.hashWaiters.settlement = m.hash;
            this.checkHashDone();
            return;
          case "snapshotPart":
            this.addSnapshotPart(m.stage, m.index, m.hash, m.bytes);
            return;
          case "fatal":
            this.handlers.onFatal?.(m.message);
            reject(new Error(m.message));
            return;
        }
      });
      worker.on("error", (e) => {
        this.handlers.onFatal?.(`worker error: ${e.stack ?? e.message}`);
        reject(e);
      });
    });
  }

  /** Reads one risk shard's event ring on the main thread without blocking its event loop. */
  private pump(reader: RingReader, k: number): Promise<void> {
    const gate = this.readerGate(() => this.gated && this.submittedBase + this.batchesDone[k]! >= this.releasedCount);
    return drive(reader, () => this.drainEvents(reader, k), this.batchInFlight, gate);
  }

  /**
   * Handles every event the ring holds now; returns how many records it read. Gated (X4P): stops before a record of a
   * batch not released yet (the ring's k-th batch is the k-th submitted).
   */
  private drainEvents(reader: RingReader, k: number): number {
    const events = this.events;
    let n = 0;
    for (let offset = reader.peek(); offset >= 0; offset = reader.peek()) {
      if (this.gated && this.submittedBase + this.batchesDone[k]! >= this.releasedCount) {
        // The records read are the stage's again (held, it would wait for space with them).
        reader.releaseRead();
        break;
      }
      n++;
      if (eventKindAt(reader.ring, offset) === BATCH_END_KIND) {
        this.passesPending[k] = batchEndPassesPending(reader.ring, offset) ? 1 : 0;
        this.idleBatchActs[k] = batchEndIdleBatchActs(reader.ring, offset) ? 1 : 0;
        reader.advance();
        this.batchesDone[k]!++;
        this.advanceCompleted();
        continue;
      }
      const e = events.read(reader.ring, offset);
      reader.advance();
      if (e.kind === CONTROL_STATE_HASH) {
        if (this.hashWaiters !== null) (e.code === 0 ? this.hashWaiters.risk : this.hashWaiters.matching)[e.account] = e.message;
      } else {
        this.handlers.onEvent(e);
      }
    }
    return n;
  }

  /**
   * Every stage has finished journal batch `batch` (and none after it was submitted), and no risk shard said a next
   * batch of read-only queries alone would change state (RiskShard.idleBatchActs: phase 0's work, D3, a spread pass,
   * Q3/Q4 transfers) — so one handed next changes nothing and the sequencer may leave it out of the journal. False
   * whenever that is not known yet.
   */
  idleBatchQuietAfter(batch: number): boolean {
    if (this.highestCompletedBatch !== batch || this.lastJournalBatch > batch) return false;
    return !this.idleBatchActs.includes(1);
  }

  /** A submitted batch has not finished in every stage yet (its events are still coming). */
  private readonly batchInFlight = (): boolean => this.submitted.length > this.completed;

  private advanceCompleted(): void {
    let min = this.batchesDone[0]!;
    for (let k = 1; k < this.batchesDone.length; k++) if (this.batchesDone[k]! < min) min = this.batchesDone[k]!;
    while (this.completed < min) {
      const batch = this.submitted[this.completed]!;
      this.completed++;
      this.handlers.onBatchDone?.(batch, this.passesPending.includes(1));
      if (batch > 0) this.highestCompletedBatch = batch;
      else if (this.completedControlBatches.size < 1024) this.completedControlBatches.add(batch);
      for (let i = this.batchWaiters.length - 1; i >= 0; i--) {
        if (this.batchWaiters[i]!.batch === batch) {
          this.batchWaiters.splice(i, 1)[0]!.resolve();
          this.completedControlBatches.delete(batch);
        }
      }
      if (batch < 0) this.checkHashDone();
    }
    if (this.completed > 4096) {
      this.submittedBase += this.completed;
      this.submitted.splice(0, this.completed);
      this.completed = 0;
      // batchesDone counts stay comparable: rebase them by the same amount.
      for (let k = 0; k < this.batchesDone.length; k++) this.batchesDone[k]! -= min;
    }
  }

  /** Writes one batch into the risk shards' rings (and the clock into settlement's). Resolves once written. */
  async submitBatch(cmds: readonly CommandRecord[], count: number, batchNumber: number): Promise<void> {
    if (this.controlGate !== null) await this.afterControl();
    this.submitting++;
    try {
      await this.writeBatch(cmds, count, batchNumber);
    } finally {
      this.submitDone();
    }
  }

  private async writeBatch(cmds: readonly CommandRecord[], count: number, batchNumber: number): Promise<void> {
    const shards = this.riskIn.length;
    if (count > 0) this.noteJournalBatch(batchNumber, cmds[count - 1]!.seq);
    for (let i = 0; i < count; i++) {
      const c = cmds[i]!;
      const shard = riskShardOfCommand(c, shards);
      if (shard !== EVERY_RISK_SHARD) await this.write(this.riskIn[shard]!, c);
      else for (let k = 0; k < shards; k++) await this.write(this.riskIn[k]!, c);
      if (settlementTakes(c.kind)) await this.write(this.settlementIn, c);
    }
    await this.endBatch(batchNumber);
  }

  /**
   * Like submitBatch, for commands already in the binary record layout (engine/model/record-layout.ts): `count` records of
   * COMMAND_RECORD_BYTES from byte `offset` of `source` are copied slot by slot into the rings — no record objects,
   * no bigint allocation (the shape of a gateway that decodes frames straight into records).
   */
  async submitEncoded(source: RecordViews, offset: number, count: number, batchNumber: number): Promise<void> {
    if (this.controlGate !== null) await this.afterControl();
    this.submitting++;
    try {
      await this.writeEncoded(source, offset, count, batchNumber);
    } finally {
      this.submitDone();
    }
  }

  private async writeEncoded(source: RecordViews, offset: number, count: number, batchNumber: number): Promise<void> {
    if (count > 0) this.noteJournalBatch(batchNumber, commandSeqAt(source, offset + (count - 1) * COMMAND_RECORD_BYTES));
    for (let i = 0; i < count; i++) {
      const from = offset + i * COMMAND_RECORD_BYTES;
      const kind = commandKindAt(source, from);
      const shard = this.encodedShard(source, from, kind);
      if (shard !== EVERY_RISK_SHARD) {
        const w = this.riskIn[shard]!;
        // The common case stays synchronous (no promise per command); only a full ring waits.
        if (!tryCopyRecord(w, source, from)) await this.copy(w, source, from);
      } else {
        for (const w of this.riskIn) await this.copy(w, source, from);
      }
      if (settlementTakes(kind)) await this.copy(this.settlementIn, source, from);
    }
    await this.endBatch(batchNumber);
  }

  /**
   * submitEncoded without waiting: writes the whole batch and returns true when every ring has room for it now,
   * else writes nothing and returns false. For a gateway (or a load driver) that polls the rings from a loop of its
   * own rather than from the event loop: with poll() it needs no promise and no event-loop turn per batch.
   */
  trySubmitEncoded(source: RecordViews, offset: number, count: number, batchNumber: number): boolean {
    if (this.controlGate !== null) return false;
    let toSettlement = 0;
    for (let i = 0; i < count; i++) if (settlementTakes(commandKindAt(source, offset + i * COMMAND_RECORD_BYTES))) toSettlement++;
    // Every risk ring may receive the whole batch (the clock and marks go to each) and the batch end.
    for (const w of this.riskIn) if (w.ring.freeSlots() < count + 1) return false;
    if (toSettlement > 0 && this.settlementIn.ring.freeSlots() < toSettlement) return false;
    if (count > 0) this.noteJournalBatch(batchNumber, commandSeqAt(source, offset + (count - 1) * COMMAND_RECORD_BYTES));
    for (let i = 0; i < count; i++) {
      const from = offset + i * COMMAND_RECORD_BYTES;
      const kind = commandKindAt(source, from);
      const shard = this.encodedShard(source, from, kind);
      if (shard !== EVERY_RISK_SHARD) tryCopyRecord(this.riskIn[shard]!, source, from);
      else for (const w of this.riskIn) tryCopyRecord(w, source, from);
      if (settlementTakes(kind)) tryCopyRecord(this.settlementIn, source, from);
    }
    this.noteSubmitted(batchNumber);
    for (const w of this.riskIn) {
      writeCommandBatchEnd(w.ring, w.trySlot(), batchNumber);
      w.flush();
    }
    this.settlementIn.flush();
    return true;
  }

  /** Records what a snapshot taken after this batch covers (journal batches only; control batches are negative). */
  private noteJournalBatch(batchNumber: number, lastSeq: number): void {
    if (batchNumber <= 0) return;
    this.lastJournalBatch = batchNumber;
    this.lastJournalSeq = lastSeq;
  }

  private submitDone(): void {
    if (--this.submitting === 0 && this.submitIdle !== null) {
      const idle = this.submitIdle;
      this.submitIdle = null;
      idle();
    }
  }

  private async afterControl(): Promise<void> {
    while (this.controlGate !== null) await this.controlGate;
  }

  /**
   * Writes a control batch — one record of `kind` to every risk shard and to settlement, then the batch end — between
   * two journal batches: it waits for a submit in progress to finish writing and holds new ones back meanwhile.
   * Returns the journal batch and sequence number it follows.
   */
  private async writeControl(kind: ControlKind, flags = 0): Promise<{ batch: number; seq: number }> {
    await this.afterControl();
    let open!: () => void;
    this.controlGate = new Promise<void>((resolve) => (open = resolve));
    try {
      while (this.submitting > 0) await new Promise<void>((resolve) => (this.submitIdle = resolve));
      const coverage = { batch: this.lastJournalBatch, seq: this.lastJournalSeq };
      const batch = --this.controlBatch;
      const c = new CommandRecord();
      c.kind = kind;
      c.flags = flags;
      for (const w of this.riskIn) await this.write(w, c);
      await this.write(this.settlementIn, c);
      this.settlementIn.flush();
      this.noteSubmitted(batch);
      for (const w of this.riskIn) {
        writeCommandBatchEnd(w.ring, await w.slotAsync(), batch);
        w.flush();
      }
      return coverage;
    } finally {
      this.controlGate = null;
      open();
    }
  }

  /**
   * The risk shard an encoded command of `kind` goes to (routing.ts, as submitBatch routes it), or EVERY_RISK_SHARD.
   * The account is the record's int32 word 1 (record-codec.ts layout), read without decoding the record.
   */
  private encodedShard(source: RecordViews, from: number, kind: number): number {
    return riskShardOfRoute(kind, source.i32[(from >> 2) + 1]! >>> 0, this.riskIn.length);
  }

  /** Writes batch `batchNumber`'s end into every risk ring (waiting for room) and publishes everything written. */
  private async endBatch(batchNumber: number): Promise<void> {
    this.noteSubmitted(batchNumber);
    for (const w of this.riskIn) {
      const end = w.trySlot();
      writeCommandBatchEnd(w.ring, end >= 0 ? end : await w.slotAsync(), batchNumber);
      w.flush();
    }
    this.settlementIn.flush();
  }

  /**
   * Handles, on the calling (main) thread and at once, every event the stages have published so far — the work the
   * event-loop pump would do on a later turn. Returns how many records it read. The pump stays on and picks up
   * whatever arrives after.
   */
  poll(): number {
    let n = 0;
    for (let k = 0; k < this.riskOut.length; k++) n += this.drainEvents(this.riskOut[k]!, k);
    return n;
  }

  private async copy(w: RingWriter, source: RecordViews, from: number): Promise<void> {
    while (!tryCopyRecord(w, source, from)) {
      if (w.ring.isClosed()) throw new Error("ring closed while writing");
      await waitForSpaceAsync(w.ring, this.wait, PARK_MS);
    }
  }

  /** Resolves when every stage has finished batch `batchNumber` (submitted before). */
  waitForBatch(batchNumber: number): Promise<void> {
    // A batch may finish before anyone waits for it (between a submit and this call): resolve at once then.
    if (batchNumber > 0 && batchNumber <= this.highestCompletedBatch) return Promise.resolve();
    if (batchNumber < 0 && this.completedControlBatches.delete(batchNumber)) return Promise.resolve();
    return new Promise((resolve) => this.batchWaiters.push({ batch: batchNumber, resolve }));
  }

  private async write(w: RingWriter, c: CommandRecord): Promise<void> {
    const offset = w.trySlot();
    writeCommand(w.ring, offset >= 0 ? offset : await w.slotAsync(), c);
  }

  /**
   * The digest of the whole engine, computed as Engine.stateHash() computes it, from every stage's own digest at
   * the same batch boundary (a control batch, never journaled).
   */
  async stateHash(): Promise<string> {
    const { riskShards, matchingShards } = this.topology;
    const done = new Promise<void>((resolve) => {
      this.hashWaiters = { risk: new Array<string>(riskShards), matching: new Array<string>(matchingShards), settlement: null, resolve };
    });
    await this.writeControl(CONTROL_STATE_HASH);
    await done;
    const waiters = this.hashWaiters!;
    this.hashWaiters = null;
    return composeStateHash(waiters.risk, waiters.matching, waiters.settlement!);
  }

  /**
   * X7: a consistent snapshot of every stage. The request travels through the rings as a control batch (the
   * exchange-core way): each risk shard writes its part when it reaches it, after every earlier batch, risk shard 0
   * passes it to every matching shard, which writes its part at the same boundary, and settlement writes the clock.
   * The parts come back by postMessage (their buffers handed over) and are put together here (snapshot.ts layout)
   * with the stages' digests. `batch`/`seq`: the last journal batch submitted before the request, and its last
   * command. One snapshot at a time.
   *
   * Each stage stalls while it writes its own part (and, unless `stateHash: false`, computes its digest, which at
   * 100,000 accounts costs a risk shard about four times its write: ~500 vs ~130 ms of CPU, bench snapshot.encode).
   * Without the digests the result carries no stateHash; a restored engine's Engine.stateHash() gives it, off the
   * live threads.
   */
  snapshot(): Promise<PipelineSnapshot>;
  snapshot(options: { readonly stateHash: false }): Promise<PipelineSnapshotBytes>;
  async snapshot(options?: { readonly stateHash: false }): Promise<PipelineSnapshot | PipelineSnapshotBytes> {
    const withHash = options === undefined;
    const taken = await this.takeSnapshot(withHash);
    return withHash ? taken : { batch: taken.batch, seq: taken.seq, bytes: taken.bytes };
  }

  private async takeSnapshot(withHash: boolean): Promise<PipelineSnapshot> {
    while (this.snapshotWaiter !== null) await this.snapshotWaiter.done.catch(() => {});
    const { riskShards, matchingShards } = this.topology;
    let resolve!: () => void;
    let reject!: (e: Error) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const waiter: SnapshotWaiter = {
      risk: new Array<Uint8Array | undefined>(riskShards),
      matching: new Array<Uint8Array | undefined>(matchingShards),
      settlement: null,
      riskHashes: new Array<string>(riskShards).fill(""),
      matchingHashes: new Array<string>(matchingShards).fill(""),
      settlementHash: "",
      done,
      resolve,
      reject,
    };
    this.snapshotWaiter = waiter;
    try {
      const coverage = await this.writeControl(CONTROL_SNAPSHOT, withHash ? SNAPSHOT_WITH_STATE_HASH : 0);
      await done;
      const stateHash = withHash ? composeStateHash(waiter.riskHashes, waiter.matchingHashes, waiter.settlementHash) : "";
      const parts = [...(waiter.risk as Uint8Array[]), ...(waiter.matching as Uint8Array[]), waiter.settlement!];
      let bytes = SNAPSHOT_HEADER_BYTES_MAX;
      for (const p of parts) bytes += p.length;
      const w = new SnapshotWriter(bytes);
      beginSnapshot(w, this.config, { riskShards, matchingShards, batch: coverage.batch, seq: coverage.seq });
      for (const p of parts) w.raw(p);
      return { batch: coverage.batch, seq: coverage.seq, stateHash, bytes: finishSnapshot(w) };
    } finally {
      this.snapshotWaiter = null;
    }
  }

  private addSnapshotPart(stage: SnapshotStage, index: number, hash: string, bytes: Uint8Array): void {
    const w = this.snapshotWaiter;
    if (w === null) return;
    if (stage === "risk") {
      w.risk[index] = bytes;
      w.riskHashes[index] = hash;
    } else if (stage === "matching") {
      w.matching[index] = bytes;
      w.matchingHashes[index] = hash;
    } else {
      w.settlement = bytes;
      w.settlementHash = hash;
    }
    if (w.settlement === null) return;
    for (let k = 0; k < w.risk.length; k++) if (w.risk[k] === undefined) return;
    for (let m = 0; m < w.matching.length; m++) if (w.matching[m] === undefined) return;
    w.resolve();
  }

  private checkHashDone(): void {
    const w = this.hashWaiters;
    if (w === null || w.settlement === null) return;
    for (let k = 0; k < w.risk.length; k++) if (w.risk[k] === undefined) return;
    for (let m = 0; m < w.matching.length; m++) if (w.matching[m] === undefined) return;
    w.resolve();
  }

  /** Lets in-flight batches finish, then closes the rings; the workers drain and exit. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const w of this.riskIn) {
      w.flush();
      w.ring.close();
    }
    this.settlementIn.flush();
    this.settlementIn.ring.close();
    // X4P: a reader still held at the gate (a journal write failed: those outputs must never be read) ends here.
    this.resumeHeld();
    await Promise.all(this.pumps);
    await Promise.all(this.exits);
  }
}
