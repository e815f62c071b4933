// Which clock ticks are journaled (X7: idle time costs almost nothing). The settlement worker proposes a tick every
// second; journaling each one cost an idle exchange 86,400 × 160 bytes = 13.8 MB a day. A tick now goes into the
// journal only when the engine has time-driven work at it, or when a command is about to be sequenced:
//   - it crosses an hour mark: hourly interest (L5) is charged at the batch whose clock crosses the mark;
//   - it crosses a minute while the 24 h ticker window still holds trades (the window moves in minute buckets, and
//     a ticker update is published when trades leave it);
//   - a command arrives and a later tick was proposed: the tick is sequenced just before the command, so every
//     command sees the engine time as fresh as before (at most one tick interval old).
//   - an account is liquidating (engine.ts decision D3): its book steps (Q2) are taken at the head of each batch, so
//     every proposed tick is journaled while the gateway has seen a LiquidationStarted (or an engine order: after a
//     restart from a snapshot the first batch's step says so) without its LiquidationEnded.
//   - a risk shard reports P4 payments or a P5 realization pass left at its batch end (engine.ts decision P5S: each
//     batch makes at most PASS_VISITS_PER_BATCH_MAX of them): when nothing else is in flight, the gateway journals a
//     tick at once (passTick: the latest time proposed, never behind the last tick), so an idle exchange still
//     finishes a pass within a few hundred batches instead of one visit budget per second.
// Otherwise the proposal is held (only the latest is kept). What is journaled is still the only time the engine
// knows: replay reproduces the same state (determinism proved by the replay-equals-live tests), and an idle day now
// costs 24 ticks (3,840 bytes), or 1,440 (230 KB) on a day after trades.
export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;
/** The ticker window (O8: 24 h) plus one minute bucket: ticks stay minutely until the last trade has left it. */
export const TICKER_WINDOW_MS = 86_400_000 + MINUTE_MS;

export class ClockTickPolicy {
  /** Engine time of the last tick sequenced (0 before the first). */
  private journaledMs = 0;
  /** The latest proposal not sequenced yet (0 = none). */
  private pendingMs = 0;
  /** Ticks stay minutely until this engine time (the last trade's time + the ticker window). */
  private tradesUntilMs = 0;
  /** Q2: the accounts liquidating, as the engine's events report them (every tick is journaled while any is). */
  private readonly liquidating = new Set<number>();
  /** P5S: the engine's latest batch end reported spread passes pending (every proposed tick is journaled meanwhile). */
  private passesPending = false;

  /** The settlement timer proposes a tick at `timeMs`: true = sequence it now, false = hold it. */
  propose(timeMs: number): boolean {
    if (timeMs <= this.journaledMs) return false;
    const crossesHour = Math.floor(timeMs / HOUR_MS) > Math.floor(this.journaledMs / HOUR_MS);
    const tickerMoves = this.journaledMs < this.tradesUntilMs && Math.floor(timeMs / MINUTE_MS) > Math.floor(this.journaledMs / MINUTE_MS);
    if (crossesHour || tickerMoves || this.liquidating.size !== 0 || this.passesPending) {
      this.sequenced(timeMs);
      return true;
    }
    this.pendingMs = timeMs;
    return false;
  }

  /** A command is about to be sequenced: the held tick to sequence before it, or 0 when none is due. */
  dueBeforeCommand(): number {
    const due = this.pendingMs;
    if (due <= this.journaledMs) return 0;
    this.sequenced(due);
    return due;
  }

  /**
   * P5S: a batch ended with spread passes `pending` or not. Returns the time of a tick to journal now (the held
   * proposal's, else the last tick's), or 0 when none is due: nothing pending, or no tick journaled yet since start
   * (the timer's next proposal is then journaled, the passes being pending).
   */
  passes(pending: boolean): number {
    this.passesPending = pending;
    if (!pending || this.journaledMs === 0) return 0;
    const timeMs = this.pendingMs > this.journaledMs ? this.pendingMs : this.journaledMs;
    this.sequenced(timeMs);
    return timeMs;
  }

  /** A trade happened at engine time `timeMs` (a Fill event): the ticker window holds trades until it has passed. */
  traded(timeMs: number): void {
    if (timeMs + TICKER_WINDOW_MS > this.tradesUntilMs) this.tradesUntilMs = timeMs + TICKER_WINDOW_MS;
  }

  /** Q1/Q2: `account` is liquidating (LiquidationStarted, or an engine order of it) or has left (LiquidationEnded). */
  liquidation(account: number, liquidating: boolean): void {
    if (liquidating) this.liquidating.add(account);
    else this.liquidating.delete(account);
  }

  /** Accounts the policy keeps ticks coming for (tests, health). */
  get liquidatingAccounts(): number {
    return this.liquidating.size;
  }

  private sequenced(timeMs: number): void {
    this.journaledMs = timeMs;
    this.pendingMs = 0;
  }
}
