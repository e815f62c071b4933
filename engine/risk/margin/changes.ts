// The reusable description of a hypothetical change (C8's "what if"): per asset and per perpetual market, merged
// deltas, allocation-free; AccountMargin.evaluate resolves it against the account's slots.

/** Most slots one hypothetical change may touch (a spot trade touches 2 assets; a perp fill 1 market + USDC). */
export const MARGIN_CHANGES_CAPACITY = 8;

/** MarginChanges.orderSide of an action that is not a spot order's fill (withdrawal, borrow, perpetual order). */
export const NO_ORDER_SIDE = -1;

/**
 * A reusable, allocation-free description of "what if", per asset and per perpetual market (deltas on the same slot
 * are merged). Asset effects, resolved against the account's slot when evaluated (AccountMargin.evaluate):
 * - a signed flow (`addAsset`): units leaving take the spendable units first (available + lent) and borrow the rest
 *   (a spend, a margin order's cost, a withdrawal); units arriving repay the asset's borrow first, then are held
 *   (a margin order's proceeds, S3; a deposit with auto-lend on, L10);
 * - units arriving that are held whatever the account owes (`addHeld`: a plain order's proceeds);
 * - explicit changes of the spendable and the borrowed units (`addHoldings`: a manual borrow kept in the account).
 */
export class MarginChanges {
  assetCount = 0;
  readonly assets = new Int32Array(MARGIN_CHANGES_CAPACITY);
  readonly assetDeltas: bigint[] = new Array<bigint>(MARGIN_CHANGES_CAPACITY).fill(0n);
  readonly assetHeldIn: bigint[] = new Array<bigint>(MARGIN_CHANGES_CAPACITY).fill(0n);
  readonly assetSpendableDeltas: bigint[] = new Array<bigint>(MARGIN_CHANGES_CAPACITY).fill(0n);
  readonly assetBorrowedDeltas: bigint[] = new Array<bigint>(MARGIN_CHANGES_CAPACITY).fill(0n);
  /** 1 when the entry has held units or explicit holdings (the evaluation skips them otherwise). */
  readonly assetExtra = new Uint8Array(MARGIN_CHANGES_CAPACITY);
  /**
   * True for an order's fill (set by spotTradeChanges): what its flows borrow is borrowed at fill time, like the open
   * orders' borrows, so other open orders' repaying proceeds are not counted against it. False (clear()) for an action
   * that borrows now (a margin withdrawal).
   */
  borrowsAtFill = false;
  /**
   * The side (Side.Buy / Side.Sell) of the spot order whose fill this is (set by spotTradeChanges), or NO_ORDER_SIDE
   * (clear()): C8's corners judge an order with its own side's open orders filled and the other side's cancelled.
   */
  orderSide = NO_ORDER_SIDE;
  positionCount = 0;
  readonly markets = new Int32Array(MARGIN_CHANGES_CAPACITY);
  readonly positionQtyDeltas: bigint[] = new Array<bigint>(MARGIN_CHANGES_CAPACITY).fill(0n);
  /** Σ qty × price of the hypothetical fills (base units × PRICE_DECIMALS). */
  readonly positionCostDeltas: bigint[] = new Array<bigint>(MARGIN_CHANGES_CAPACITY).fill(0n);
  readonly positionOpenBuyDeltas: bigint[] = new Array<bigint>(MARGIN_CHANGES_CAPACITY).fill(0n);
  readonly positionOpenSellDeltas: bigint[] = new Array<bigint>(MARGIN_CHANGES_CAPACITY).fill(0n);

  clear(): this {
    this.assetCount = 0;
    this.positionCount = 0;
    this.borrowsAtFill = false;
    this.orderSide = NO_ORDER_SIDE;
    return this;
  }

  /** The entry of `asset` among the asset changes, or −1. */
  assetIndex(asset: number): number {
    for (let i = 0; i < this.assetCount; i++) if (this.assets[i] === asset) return i;
    return -1;
  }

  /** A signed flow of `delta` units of `asset`: out of the spendable units then borrowed, or in repaying first. */
  addAsset(asset: number, delta: bigint): this {
    const i = this.assetSlot(asset);
    this.assetDeltas[i] = this.assetDeltas[i]! + delta;
    return this;
  }

  /** `amount` (≥ 0) units of `asset` arrive and are held (no repayment: a plain order's proceeds, S2/L10). */
  addHeld(asset: number, amount: bigint): this {
    const i = this.extraSlot(asset);
    this.assetHeldIn[i] = this.assetHeldIn[i]! + amount;
    return this;
  }

  /** The spendable units (available + lent) and the borrowed units of `asset` change by these signed amounts. */
  addHoldings(asset: number, spendableDelta: bigint, borrowedDelta: bigint): this {
    const i = this.extraSlot(asset);
    this.assetSpendableDeltas[i] = this.assetSpendableDeltas[i]! + spendableDelta;
    this.assetBorrowedDeltas[i] = this.assetBorrowedDeltas[i]! + borrowedDelta;
    return this;
  }

  /** Perpetual position of `market` changes by `qtyDelta` (signed, base units) filled at `price`. */
  addPositionFill(market: number, qtyDelta: bigint, price: bigint): this {
    const i = this.positionSlot(market);
    this.positionQtyDeltas[i] = this.positionQtyDeltas[i]! + qtyDelta;
    this.positionCostDeltas[i] = this.positionCostDeltas[i]! + qtyDelta * price;
    return this;
  }

  /** Open (resting) order quantities of `market` change (base units, signed deltas of non-negative totals). */
  addPositionOrders(market: number, openBuyDelta: bigint, openSellDelta: bigint): this {
    const i = this.positionSlot(market);
    this.positionOpenBuyDeltas[i] = this.positionOpenBuyDeltas[i]! + openBuyDelta;
    this.positionOpenSellDeltas[i] = this.positionOpenSellDeltas[i]! + openSellDelta;
    return this;
  }

  /** The slot inputs of `market` change by these signed deltas: position, cost basis (as positionCostDeltas) and open
   * order quantities (AccountMargin.passesPerpFillFromInputs: inputs the slot has not heard yet). */
  addPositionInputs(market: number, qtyDelta: bigint, costDelta: bigint, openBuyDelta: bigint, openSellDelta: bigint): this {
    const i = this.positionSlot(market);
    this.positionQtyDeltas[i] = this.positionQtyDeltas[i]! + qtyDelta;
    this.positionCostDeltas[i] = this.positionCostDeltas[i]! + costDelta;
    this.positionOpenBuyDeltas[i] = this.positionOpenBuyDeltas[i]! + openBuyDelta;
    this.positionOpenSellDeltas[i] = this.positionOpenSellDeltas[i]! + openSellDelta;
    return this;
  }

  private assetSlot(asset: number): number {
    for (let i = 0; i < this.assetCount; i++) if (this.assets[i] === asset) return i;
    const i = this.assetCount;
    if (i >= MARGIN_CHANGES_CAPACITY) throw new RangeError(`MarginChanges: more than ${MARGIN_CHANGES_CAPACITY} assets`);
    this.assets[i] = asset;
    this.assetDeltas[i] = 0n;
    this.assetExtra[i] = 0;
    this.assetCount = i + 1;
    return i;
  }

  /** The entry of `asset` with its held units and explicit holdings in use (zeroed on first use: the flow-only
   * entries of the hot path never touch them). */
  private extraSlot(asset: number): number {
    const i = this.assetSlot(asset);
    if (this.assetExtra[i] === 0) {
      this.assetExtra[i] = 1;
      this.assetHeldIn[i] = 0n;
      this.assetSpendableDeltas[i] = 0n;
      this.assetBorrowedDeltas[i] = 0n;
    }
    return i;
  }

  private positionSlot(market: number): number {
    for (let i = 0; i < this.positionCount; i++) if (this.markets[i] === market) return i;
    const i = this.positionCount;
    if (i >= MARGIN_CHANGES_CAPACITY) throw new RangeError(`MarginChanges: more than ${MARGIN_CHANGES_CAPACITY} markets`);
    this.markets[i] = market;
    this.positionQtyDeltas[i] = 0n;
    this.positionCostDeltas[i] = 0n;
    this.positionOpenBuyDeltas[i] = 0n;
    this.positionOpenSellDeltas[i] = 0n;
    this.positionCount = i + 1;
    return i;
  }
}
