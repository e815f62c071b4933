// `crossbook config [--config FILE]`: loads and validates an exchange configuration as `start` would, and prints what
// a person checks before starting with it: its digest (the journal and snapshots record it), the assets and markets,
// and SPEC Q's liquidation parameters (engine/liquidation/params.ts) as decimals.
import { formatDecimal } from "../engine/fixed/index.ts";
import { PRICE_DECIMALS, RATIO_DECIMALS, type ExchangeConfig } from "../engine/model/index.ts";
import { configDigest } from "../engine/pipeline/index.ts";
import { fail, helpRequested, parse } from "./cli-args.ts";

/** The config summary `crossbook config` prints (one JSON object). */
export function configSummary(config: ExchangeConfig): Record<string, unknown> {
  const q = config.liquidation;
  const ratio = (x: bigint): string => formatDecimal(x, RATIO_DECIMALS);
  return {
    digest: configDigest(config),
    assets: config.assets.map((a) => a.symbol),
    markets: config.markets.map((m) => m.symbol),
    liquidation: {
      liquidationExitMmr: ratio(q.liquidationExitMmr),
      liquidationStepFraction: ratio(q.liquidationStepFraction),
      liquidationMaxSlippage: ratio(q.liquidationMaxSlippage),
      liquidationFee: ratio(q.liquidationFee),
      acmfDivisor: ratio(q.acmfDivisor),
      acmfOffset: ratio(q.acmfOffset),
      backstopAccount: q.backstopAccount,
      backstopLimitUsd: formatDecimal(q.backstopLimitUsd, PRICE_DECIMALS),
    },
  };
}

export function configCommand(argv: string[], load: (path: string | undefined) => ExchangeConfig): void {
  if (helpRequested(argv, "config")) return;
  const { values, positionals } = parse(argv, { config: { type: "string" } }, "config");
  if (positionals.length > 0) fail(`config: unexpected argument "${positionals[0]}" (see: crossbook config --help)`);
  process.stdout.write(`${JSON.stringify(configSummary(load(values.config as string | undefined)))}\n`);
}
