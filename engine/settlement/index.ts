// The settlement stage: owner of the engine clock (and, as they land, the cross-shard steps of liquidation, D5).
// Time enters only as journaled AdvanceTime commands (DESIGN rule 5). The index is each risk shard's replica (P2);
// marks, band inputs and funding rates are each matching shard's (engine/pipeline/engine.ts decision P3).
import { CommandKind, SnapshotTag, type CommandRecord, type SnapshotReader, type SnapshotWriter } from "../model/index.ts";

/** How often the live settlement worker asks the sequencer for a clock tick. */
export const CLOCK_TICK_INTERVAL_MS = 1000;

export class SettlementShard {
  private nowMs = 0;

  get timeMs(): number {
    return this.nowMs;
  }

  /** Applies a command the risk stage has already validated (AdvanceTime is monotonic by then). */
  handle(cmd: CommandRecord): void {
    if (cmd.kind === CommandKind.AdvanceTime && cmd.timeMs >= this.nowMs) this.nowMs = cmd.timeMs;
  }

  /**
   * The engine time a live timer should propose next, given the wall clock read by the worker (not domain code):
   * never behind the engine's own time, so a wall clock that steps back cannot produce a rejected tick.
   */
  proposeTick(wallClockMs: number): number {
    return wallClockMs > this.nowMs ? wallClockMs : this.nowMs;
  }

  stateHash(): string {
    return `settlement t=${this.nowMs}`;
  }

  /** X7: the stage's whole state (the clock; the oracle, funding and the liquidation desk add theirs as they land). */
  writeSnapshot(w: SnapshotWriter): void {
    w.beginSection(SnapshotTag.Settlement);
    w.uint(this.nowMs);
    w.endSection();
  }

  /** Restores a fresh shard from writeSnapshot's bytes. */
  restoreSnapshot(r: SnapshotReader): void {
    r.beginSection(SnapshotTag.Settlement, "settlement");
    this.nowMs = r.uint();
    r.endSection();
  }
}
