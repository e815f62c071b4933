// Named capacity limits of the matching engine: every structure that grows is bounded here (STYLE: a limit on everything).

export interface MatchingLimits {
  /** Open (resting) orders one account may have in one market; more → TooManyOpenOrders. */
  readonly maxOpenOrdersPerAccountMarket: number;
  /** Resting orders in one book (slot storage cap); more → Overloaded. */
  readonly maxOrdersPerBook: number;
  /** Price levels on one side of one book; a new level beyond it → Overloaded. */
  readonly maxLevelsPerSide: number;
  /** Order slots preallocated per book; storage doubles in steps up to maxOrdersPerBook. */
  readonly initialOrderCapacity: number;
  /** Level slots preallocated per book; doubles in steps. */
  readonly initialLevelCapacity: number;
  /**
   * log2 of the tick window each side indexes densely around its touch (ladder.ts); levels outside it are still
   * supported, just slower. 17 = 131,072 ticks (≈ ±$1,300 at a $0.01 tick), ~0.5 MB per side.
   */
  readonly ladderWindowBits: number;
}

export const DEFAULT_MATCHING_LIMITS: MatchingLimits = {
  maxOpenOrdersPerAccountMarket: 1_000,
  maxOrdersPerBook: 1 << 22,
  maxLevelsPerSide: 1 << 16,
  initialOrderCapacity: 4_096,
  initialLevelCapacity: 1_024,
  ladderWindowBits: 17,
};

/** Highest tick index a market may have (price / tickSize); tick indices live in Int32Arrays. */
export const MAX_TICK_INDEX = 0x7fff_ffff;

/** Width of one ticker bucket and of the rolling window (O8 24 h ticker). */
export const TICKER_BUCKET_MS = 60_000;
export const TICKER_WINDOW_BUCKETS = 1_440;
