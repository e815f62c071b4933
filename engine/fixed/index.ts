// Public face of engine/fixed: bigint fixed-point arithmetic (rounding, decimal text, sqrt, exp) and the scales.
export { PRICE_DECIMALS, PRICE_SCALE, RATIO_DECIMALS, RATIO_SCALE } from "../model/index.ts";
export { type Amount, type Price, type Ratio, Rounding, MAX_DECIMALS, pow10 } from "./types.ts";
export { divRound, mulDiv, mulRatio, quoteAmount } from "./rounding.ts";
export { isqrt, sqrtFixed } from "./sqrt.ts";
export { expFixed, EXP_MAX_ABS_WHOLE } from "./exp.ts";
export {
  parseDecimal,
  tryParseDecimal,
  formatDecimal,
  DecimalFormatError,
  MAX_DECIMAL_TEXT_LENGTH,
} from "./decimal.ts";
