// The crossing pairs of pipeline.spot-order / margin-order / perp-order (bench/pipeline.bench.ts) and of the
// in-process compare bench/perp-cpu-compare.ts: one stream, so both measure the same commands.
import { CommandKind, CommandRecord, OrderFlag, OrderType, Side, TimeInForce } from "../engine/model/index.ts";

/** What a pair trades: plain spot, spot on margin (the taker borrows USDC), or the BTC perpetual. */
export type PairMode = "spot" | "margin" | "perp";
export const PAIR_TAKERS = 100;
export const PAIR_WARMUP = 20_000;
export const PAIR_MEASURED = 100_000;
const USDC_UNIT = 1_000_000n;
const SOL_UNIT = 1_000_000_000n;
const BTC_PERP_MARKET = 3;
/** 0.001 BTC a perp pair: 60,000 pairs stay under the market's open-interest limit (500 BTC). */
const PERP_PAIR_BTC = 100_000n;

/**
 * Maker sells 1 SOL at 150 (GTC, rests), taker buys it (IOC): with "margin", the taker has no USDC and borrows it;
 * with "perp", the pair trades 0.001 BTC of BTC_USDC_PERP at 60,000 (both sides hold USDC; positions grow).
 * `setup` funds the accounts; `eachCommand` gets the (PAIR_WARMUP + PAIR_MEASURED) commands in order, in one reused
 * record.
 */
export function pairStream(mode: PairMode, eachCommand: (c: CommandRecord, index: number) => void): CommandRecord[] {
  const margin = mode === "margin";
  const perp = mode === "perp";
  let seq = 0;
  const cmd = (f: Partial<CommandRecord>): CommandRecord => Object.assign(new CommandRecord(), f, { seq: ++seq });
  const setup: CommandRecord[] = [cmd({ kind: CommandKind.AdvanceTime, timeMs: 1_767_225_600_000 })];
  const lender = 300 * 16;
  setup.push(cmd({ kind: CommandKind.Deposit, account: lender, asset: 0, amount: 900_000_000n * USDC_UNIT }));
  setup.push(cmd({ kind: CommandKind.Lend, account: lender, asset: 0, amount: 900_000_000n * USDC_UNIT }));
  for (let t = 1; t <= PAIR_TAKERS; t++) {
    setup.push(cmd({ kind: CommandKind.Deposit, account: t * 16, asset: 2, amount: 10n * 100_000_000n })); // 10 BTC of collateral
    if (!margin) setup.push(cmd({ kind: CommandKind.Deposit, account: t * 16, asset: 0, amount: 1_000_000n * USDC_UNIT }));
    setup.push(cmd({ kind: CommandKind.Deposit, account: (PAIR_TAKERS + t) * 16, asset: perp ? 0 : 4, amount: perp ? 1_000_000n * USDC_UNIT : 100_000n * SOL_UNIT }));
  }
  const market = perp ? BTC_PERP_MARKET : 2;
  const price = perp ? 60_000_000_000_000n : 150_000_000_000n;
  const quantity = perp ? PERP_PAIR_BTC : SOL_UNIT;
  const c = new CommandRecord();
  for (let i = 0; i < (PAIR_WARMUP + PAIR_MEASURED) >> 1; i++) {
    const t = 1 + (i % PAIR_TAKERS);
    c.clear();
    Object.assign(c, { kind: CommandKind.PlaceOrder, seq: ++seq, account: (PAIR_TAKERS + t) * 16, market, side: Side.Sell, orderType: OrderType.Limit, tif: TimeInForce.GTC, price, quantity });
    eachCommand(c, 2 * i);
    c.clear();
    Object.assign(c, { kind: CommandKind.PlaceOrder, seq: ++seq, account: t * 16, market, side: Side.Buy, orderType: OrderType.Limit, tif: TimeInForce.IOC, price, quantity, flags: margin ? OrderFlag.AutoBorrow : 0 });
    eachCommand(c, 2 * i + 1);
  }
  return setup;
}
