// Named capacity limits of the matching engine: every structure that grows is bounded here (STYLE: a limit on everything).
// The numbers are engine/model/limits.ts's; MatchingLimits lets a test shrink them.
import {
  LEVELS_PER_SIDE_MAX,
  OPEN_ORDERS_PER_ACCOUNT_MARKET_MAX,
  ORDERS_PER_BOOK_MAX,
  POSITIONS_PER_MARKET_MAX,
} from "../model/index.ts";

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
  /** Accounts with a position in one perpetual market that a snapshot may restore (the reduceOnly replica). */
  readonly maxPositionsPerMarket: number;
}

export const DEFAULT_MATCHING_LIMITS: MatchingLimits = {
  maxOpenOrdersPerAccountMarket: OPEN_ORDERS_PER_ACCOUNT_MARKET_MAX,
  maxOrdersPerBook: ORDERS_PER_BOOK_MAX,
  maxLevelsPerSide: LEVELS_PER_SIDE_MAX,
  initialOrderCapacity: 4_096,
  initialLevelCapacity: 1_024,
  ladderWindowBits: 17,
  maxPositionsPerMarket: POSITIONS_PER_MARKET_MAX,
};

/** Width of one ticker bucket and of the rolling window (O8 24 h ticker). */
export const TICKER_BUCKET_MS = 60_000;
export const TICKER_WINDOW_BUCKETS = 1_440;
