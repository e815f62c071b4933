// C8's exact shortcut for a perpetual order (issue 12, pipeline.perp-order): a certificate in double precision that
// the account passes C8 after the order's full fill — the bigint evaluation (corners.ts evaluate) is then not needed.
//
// What the full check decides for a perpetual order's fill (no corners to judge, the fee paid from spendable units
// of an identity-haircut quote asset, so nothing is borrowed): pass iff TEN after ≤ 0 or NE after > IM after, with
//   NE after = NE − uPnL_m + uPnL'_m − (coll(held) − coll(held − fee)),   IM after = IM − IM_m + IM'_m,
// the sums and slot m's parts as the margin state holds them, the primed ones at the position after the fill:
//   uPnL' = floor((q′ × mark − c′) / unit)           ≥ (q′ × mark − c′) / unit − 1
//   N′    = ceil(E′ × mark / unit)                   ≤ E′ × mark / unit + 1        (E′: C4 exposure after)
//   IMF′  = max(floor, ceil(f × ceil(√(N′ × 1e9)) / 1e9)) ≤ max(floor, f × (√(N″ × 1e9) + 1) / 1e9 + 1), N″ ≥ N′
//   IM′   = ceil(N′ × IMF′ / 1e18)                   ≤ N″ × IMF″ / 1e18 + 1
//   coll(held) − coll(held − fee) = floor(h × p / u) − floor((h − fee) × p / u) ≤ fee × p / u + 1   (weight 1)
// (each rounded term is monotone in its inputs, so bounding the inputs bounds it). NE after − IM after ≥ lhs − rhs
// of these bounds; it is computed in doubles, each of whose ≲ 30 operations and conversions errs by at most 2^-53 of
// the magnitudes it combines, so the total error is below 2^-48 × `scale` (Σ of those magnitudes); the test asks for
// a margin of 2^-40 × scale + 16 units — 256 times that error plus the units above. When it holds, NE after > IM
// after exactly and C8 passes; otherwise the caller runs the full evaluation, which decides. The bound never
// refuses. test/perp-shortcuts.test.ts checks it against the full evaluation on random accounts and near the edge.

/** 2^-40: the relative margin a certificate keeps over its magnitudes (256 × the doubles' worst error). */
export const FILL_BOUND_RELATIVE = 2 ** -40;
/** Units of USD (PRICE_DECIMALS) a certificate keeps besides: the +1s above are in the bounds already. */
export const FILL_BOUND_ABSOLUTE = 16;
/** 1 + 2^-45: inflates a double bound of an exact non-negative quantity over its own rounding errors. */
const UP = 1 + 2 ** -45;

/** The doubles of one perpetual fill's certificate (a reused record; see the module comment). */
export class PerpFillBound {
  /** The margin state's Σ net equity and Σ initial margin (all-fill state), and slot m's uPnL and IM in them. */
  netEquity = 0;
  initialMargin = 0;
  slotUpnl = 0;
  slotIm = 0;
  /** Position, cost basis and open orders before the fill; the fill's signed quantity and price. */
  quantity = 0;
  costBasis = 0;
  openBuy = 0;
  openSell = 0;
  fillQuantity = 0;
  fillPrice = 0;
  /** The market's mark, 10^baseDecimals, the account's IMF floor for it and the market's IMF factor (ratio units). */
  mark = 0;
  baseUnit = 0;
  imfFloor = 0;
  imfFactor = 0;
  /** An upper bound of the net equity the fee takes (≥ 0). */
  feeLossUsd = 0;
}

/** BoundInputs' fields: the bigints of one account's certificate that hold still between its orders of a batch (and
 * its last order's quantity and price: a market maker's orders often repeat them). */
export const BoundInput = {
  NetEquity: 0,
  InitialMargin: 1,
  SlotUpnl: 2,
  SlotIm: 3,
  Quantity: 4,
  CostBasis: 5,
  Spendable: 6,
  FillQuantity: 7,
  FillPrice: 8,
} as const;
const BOUND_INPUT_FIELDS = 9;
/** Slots of BoundInputs (direct-mapped; a power of two). */
export const BOUND_INPUT_SLOTS = 1024;

/**
 * The doubles of a certificate's bigint inputs, kept between an account's perpetual orders: R1 runs a batch's orders
 * before its fills, so between two orders of one account its margin sums, the slot's parts, its position and its
 * spendable quote hold still, and each Number() of a bigint is a runtime call (~13 ns; ~37 ns past 2^53, as a cost
 * basis is). Each double is kept with the bigint it was converted from and reused only while the input equals that
 * bigint (=== compares bigints by value), so what a slot holds — another account's inputs after a collision, or
 * stale ones — can only cost a conversion, never change a double. Slots are direct-mapped (AccountMargin.boundSlot).
 */
export class BoundInputs {
  private readonly keys: bigint[] = new Array<bigint>(BOUND_INPUT_SLOTS * BOUND_INPUT_FIELDS).fill(0n);
  private readonly values = new Float64Array(BOUND_INPUT_SLOTS * BOUND_INPUT_FIELDS);

  /** Number(x), from the slot's field when it was converted from an equal bigint. */
  number(slot: number, field: number, x: bigint): number {
    const i = slot * BOUND_INPUT_FIELDS + field;
    if (this.keys[i] === x) return this.values[i]!;
    const v = Number(x);
    this.keys[i] = x;
    this.values[i] = v;
    return v;
  }
}

/** Does the certificate hold (C8 passes after the fill)? False: not decided here. */
export function perpFillBoundPasses(b: PerpFillBound): boolean {
  const q = b.quantity + b.fillQuantity;
  const fillCost = b.fillQuantity * b.fillPrice;
  const c = b.costBasis + fillCost;
  const mark = b.mark;
  const unit = b.baseUnit;
  const upnlLow = (q * mark - c) / unit - 1;
  const ifBuys = Math.abs(q + b.openBuy);
  const ifSells = Math.abs(q - b.openSell);
  const notionalHigh = (((ifBuys > ifSells ? ifBuys : ifSells) * mark) / unit) * UP + 1;
  let imf = b.imfFloor;
  if (b.imfFactor > 0) {
    // FLOAT-BOUND: rounded outward (UP, + 1); the certificate only passes, the bigint check decides every refusal.
    const term = ((b.imfFactor * (Math.sqrt(notionalHigh * 1e9) * UP + 1)) / 1e9) * UP + 1;
    if (term > imf) imf = term;
  }
  const imHigh = ((notionalHigh * imf) / 1e18) * UP + 1;
  const lhs = b.netEquity - b.slotUpnl + upnlLow - b.feeLossUsd;
  const rhs = b.initialMargin - b.slotIm + imHigh;
  const positionScale = ((Math.abs(b.quantity) + Math.abs(b.fillQuantity)) * mark + Math.abs(b.costBasis) + Math.abs(fillCost)) / unit;
  const scale = Math.abs(b.netEquity) + Math.abs(b.slotUpnl) + positionScale + b.feeLossUsd + Math.abs(b.initialMargin) + Math.abs(b.slotIm) + imHigh;
  return lhs - rhs > scale * FILL_BOUND_RELATIVE + FILL_BOUND_ABSOLUTE;
}

/**
 * An upper bound of the fee (quote units) of a fill of `fills` base units at `price` with `feeBps` > 0: the notional
 * quoteAmount(fills, price, …, Up) = ceil(fills × price × 10^shift) (shift = quoteDecimals − baseDecimals −
 * PRICE_DECIMALS) and its fee feeAmount = ceil(notional × feeBps / 10,000), each below its double times UP plus 1.
 */
export function feeUpperBound(fills: number, price: number, shiftScale: number, feeBps: number): number {
  const notionalHigh = fills * price * shiftScale * UP + 1;
  return ((notionalHigh * feeBps) / 10_000) * UP + 1;
}
