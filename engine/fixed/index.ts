// Public face of engine/fixed: bigint fixed-point arithmetic (rounding, decimal text, sqrt, exp) and the scales.
export { PRICE_DECIMALS, PRICE_SCALE, RATIO_DECIMALS, RATIO_SCALE } from "../model/index.ts";
export { type Amount, type Price, type Ratio, Rounding, DECIMALS_MAX, pow10 } from "./types.ts";
export { divCeil, divFloor, divRound, mulDiv, mulRatio, quoteAmount } from "./rounding.ts";
export { isqrt, sqrtFixed } from "./sqrt.ts";
export { expFixed, EXP_ABS_WHOLE_MAX } from "./exp.ts";
export {
  parseDecimal,
  tryParseDecimal,
  formatDecimal,
  DecimalFormatError,
  DECIMAL_TEXT_LENGTH_MAX,
} from "./decimal.ts";
