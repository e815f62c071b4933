// The command line's shared parts: the usage text, usage errors (one line, exit 2), option parsing, per-command help.
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { ExchangeConfig } from "../engine/model/index.ts";
import { DEFAULT_CONFIG_PATH, loadConfig } from "../engine/pipeline/index.ts";

export const USAGE = `crossbook — cross-margin exchange engine

  crossbook start [--host 127.0.0.1] [--port 8080] [--data data] [--config FILE] [--allow-fallback]
                  [--risk-shards 1] [--matching-shards 1] [--stages fused|split] [--tick-ms 1000]
                  [--feed none|sim|file] [--feed-seed 1] [--feed-file QUOTES.jsonl] [--trace-hops S]
                                                   --feed: a price feeder (crossbook feed) against this server,
                                                   stopped before it; none by default (npm start passes --feed sim)
                                                   1 × 1 runs risk and matching fused on one engine worker;
                                                   --stages split gives each its own worker
                                                   --trace-hops S: log every S s where an ack's time goes
                                                   (group-commit wait, write, hand-off, engine), p50/p99/max
                  [--journal-write hybrid]         who makes the journal's durable writes: hybrid (default):
                                                   the gateway thread a small group (<= 16 KiB) that finds the
                                                   journal thread idle, the journal thread the rest; thread:
                                                   the journal thread every group; inline: the gateway thread
                                                   every group, at the end of its turn
                  [--journal-group-us 0]           group commit's pace: a durable write begins at least this
                                                   long after the one before it began, unless 16 commands wait
                                                   or the last group was one command (a single client): fewer
                                                   writes and wake-ups (less CPU) at low rates for a longer
                                                   ack; 0 (default) = as soon as the write before returned
  crossbook replay FILE.jsonl [--config FILE]      one JSON command per line, in-process, simulated clock;
                                                   prints one JSON event per line, then the state hash
                  [--truncate-at-corruption] [--journal-segment-mb 64] [--archive DIR]
                  [--snapshot-every-commands 250000] [--snapshot-every-minutes 15] [--snapshots-kept 3]
                                                   --truncate-at-corruption: start past a corrupt journal,
                                                   keeping exactly the records before the corruption
  crossbook config [--config FILE]                 loads and checks a config as start does; prints its digest,
                                                   assets, markets and liquidation parameters (SPEC Q)
  crossbook stress --shock ASSET=CHANGE% [--shock ...] [--data data] [--config FILE] [--batches 100]
                                                   what-if (Q7): the server's newest snapshot + journal in a
                                                   copy of its own, shocked marks; per stage the accounts that
                                                   start liquidating, engine fills, the insurance fund; the
                                                   server is only read. e.g. --shock SOL=-30%
  crossbook stress --sweep ASSET=FROM%..TO% [--steps 12] [--out stress-sweep.svg] [--shock ...]
                                                   the run at each of STEPS shocks: liquidating notional and
                                                   insurance fund use, one JSON line each, and an SVG chart
  crossbook snapshot [--url ws://127.0.0.1:8080] [--data data]
                                                   (operator) the server writes a snapshot now
  crossbook journal-hash [--data data] [--config FILE] [--from-genesis] [--archive DIR]
                                                   replays the journal in-process, prints the state hash;
                                                   --from-genesis also reads the archived segments
  crossbook journal-verify [--data data] [--config FILE] [--archive DIR]
                                                   checks every batch of every segment: records, segments,
                                                   and the offset of a corruption (exit 1 if there is one)
  crossbook journal-archive [--data data] [--config FILE] [--archive DIR]
                                                   moves the segments the oldest kept snapshot covers to
                                                   DIR (default data/journal-archive)
  crossbook keys create USER [--permissions read,trade,withdraw] [--out FILE]
                                                   a new ED25519 API key for USER: the private key goes to
                                                   data/keys/user-USER.key (mode 0600), the public key is
                                                   registered through the operator session (default: read,trade)
  crossbook keys list USER                         USER's API keys and their permissions
  crossbook keys revoke USER API_KEY               sessions logged in with it stop acting
  keys options: [--url ws://127.0.0.1:8080] [--data data]   (the operator key is data/operator.key)
  crossbook client deposit ACCOUNT ASSET AMOUNT            (operator: signs with data/operator.key)
  crossbook client order ACCOUNT MARKET buy|sell QUANTITY [PRICE] [--tif GTC|IOC|FOK] [--post-only]
                                                   [--client-id N] [--margin] [--reduce-only]   (no PRICE = market
                                                   order; --margin: spot margin, autoBorrow; --reduce-only: a
                                                   perpetual order that may only shrink the position)
  crossbook client cancel ACCOUNT MARKET ORDER_ID
  crossbook client cancel-all ACCOUNT [MARKET]
  crossbook client withdraw ACCOUNT ASSET AMOUNT [--margin]
  crossbook client transfer FROM TO ASSET AMOUNT
  crossbook client balances ACCOUNT
  crossbook client collateral ACCOUNT                      net equity, margin ratios, and per asset: quantity,
                                                           mark, haircut weight, collateral value, open orders
  crossbook client max-order ACCOUNT MARKET buy|sell PRICE [--margin]
                                                           largest order risk accepts now (and the margin limit;
                                                           perpetuals too: C8 with the USDC fee, sqrt IMF, OI limit)
  crossbook client max-withdrawal ACCOUNT ASSET [--margin] largest withdrawal risk accepts now
  crossbook client positions ACCOUNT                       perpetual positions: quantity, entry, break-even, mark,
                                                           PnL, exposure, IMF/MMF, estimated liquidation price
  crossbook client open-interest [MARKET]                  open interest of a perpetual market (none: every one)
  crossbook client liquidations ACCOUNT                    liquidation history: Started / Ended, backstop and ADL legs,
                                                           losses, Socialization rows (Q4 bankruptcy, Q5 lender ADL)
  crossbook client insurance [ASSET]                       the insurance fund's balance per asset, then its history
  crossbook client losses [ASSET]                          Q4 lender write-downs per batch: quantity written off,
                                                           USDC paid to the lenders, the part beyond the fund
  crossbook client settlements ACCOUNT [MARKET]            USDC settlement history: each fee, realized PnL and
                                                           funding row with its waterfall step (oldest first)
  crossbook client funding ACCOUNT [MARKET]                funding payments: rate, mark, position, amount paid (> 0)
                                                           or received (< 0) at each interval end
  crossbook client funding-rates MARKET                    a perpetual's funding rate at each interval end, with
                                                           the mean premium, samples and the mark payments used
  crossbook client settings ACCOUNT [--leverage 1..50] [--auto-lend on|off] [--auto-repay-borrows on|off]
                                    [--auto-borrow-settlements on|off] [--auto-realize-pnl on|off]
                                    [--margin-enabled on|off]   (no option: show the settings)
  crossbook client mark ASSET PRICE                        (operator) the asset's USD mark price
  crossbook client borrow|lend ACCOUNT ASSET AMOUNT        manual borrow / lend (refused while auto-lend is on)
  crossbook client repay|redeem ACCOUNT ASSET [AMOUNT]     manual repay / redeem (no AMOUNT: all of it)
  crossbook client pool [ASSET]                            pool market stats: lent, borrowed, utilization, APRs
  crossbook client rate-curve ASSET [POINTS]               the borrow / lend APR at POINTS utilizations (2..101)
  crossbook client interest ACCOUNT [ASSET]                interest history: entry fees, hourly borrow and lend
  crossbook client max-borrow ACCOUNT ASSET                largest manual borrow risk accepts now
  crossbook client watch ACCOUNT [ACCOUNT ...]
  crossbook client market MARKET                           L2 snapshot + deltas, trades, BBO, 24 h ticker, marks
  crossbook client marks [MARKET]                          the last P3 mark of each perpetual (or of MARKET): mark,
                                                           index, its rule, predicted funding rate, next funding time
  crossbook client snapshot                                (operator) the server writes a snapshot now (as crossbook snapshot)
  crossbook client what-if ASSET=CHANGE% [ASSET=CHANGE% …]  (operator, Q7) the cascade of up to 4 shocks on a copy of
                                                           the server's state as it stands (the server is unchanged):
                                                           WhatIfStage, WhatIfFills, WhatIfAccount rows, WhatIfDone
  crossbook client send '{"type":"LimitOrder",...}'          any command as JSON (see gateway/client/codec.ts)
  client options: [--url ws://127.0.0.1:8080 (or CROSSBOOK_URL)] [--key FILE] [--data data]
                  a command for ACCOUNT logs in with its user's key, data/keys/user-<ACCOUNT / 16>.key,
                  operator commands with data/operator.key; --key FILE uses that key instead

  crossbook feed [--source sim|file|backpack] [--seed 1] [--file QUOTES.jsonl] [--source-url wss://…]
                 [--assets BTC,SOL,…] [--interval-ms 2000] [--inflight 64] [--url ws://127.0.0.1:8080] [--data data] [--key FILE]
                                                   the price feeder (P2): sends OracleQuote commands as the operator
                                                   (data/operator.key) until Ctrl-C; sim = seeded random walk, file =
                                                   replays recorded quotes, backpack = Backpack's public ticker stream

  crossbook load [--url ws://HOST:PORT --operator-key FILE] [--connections 16] [--inflight 256]
                 [--rates 10000,50000,100000] [--seconds 3] [--first-user 1] [--no-echo] [--svg FILE]
                 [--server-node-arg ARG]... [--server-arg ARG]... (e.g. --server-arg=--journal-write=inline)
                                                   the load harness (bench/load): without --url it starts a server on
                                                   a temp data dir; funds users FIRST..FIRST+connections-1 (4 accounts
                                                   each), runs the mix closed loop then open loop at each rate, and the
                                                   same client against a bare uWS echo server (unless --no-echo)

Accounts: user × 16 + sub-account (0 = main, 1..10): user 1's main account is 16.
ASSET and MARKET take a symbol (BTC, BTC_USDC) or an id.`;

/** A usage error: main() prints it as one line and exits 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

export function fail(message: string): never {
  throw new UsageError(message);
}

/** The exchange config at `path` (the default config when absent); a bad file is one line and exit 2. */
export function configFrom(path: string | undefined): ExchangeConfig {
  try {
    return loadConfig(path ?? DEFAULT_CONFIG_PATH);
  } catch (e) {
    fail((e as Error).message);
  }
}

/** The usage lines of one subcommand (`crossbook start`, `crossbook client deposit`, …) cut from USAGE. */
export function usageOf(command: string, verb?: string): string {
  const lines = USAGE.split("\n");
  const prefix = `  crossbook ${command}`;
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line !== prefix && !line.startsWith(`${prefix} `)) continue;
    // `crossbook client repay|redeem …` is the usage of both verbs.
    if (verb !== undefined && !(line.slice(prefix.length + 1).split(" ")[0] ?? "").split("|").includes(verb)) continue;
    out.push(line);
    // Continuation lines (indented further, not another command) belong to it.
    for (let j = i + 1; j < lines.length && /^ {3,}\S/.test(lines[j]!) && !lines[j]!.trimStart().startsWith("crossbook "); j++) out.push(lines[j]!);
  }
  if (command === "client" || command === "keys") out.push(lines.find((l) => l.startsWith(`  ${command} options:`))!);
  return out.join("\n");
}

/** Prints a subcommand's usage when its arguments ask for help; true then (the subcommand does nothing else). */
export function helpRequested(argv: readonly string[], command: string, verb?: string): boolean {
  if (!argv.includes("--help") && !argv.includes("-h")) return false;
  process.stdout.write(`${usageOf(command, verb)}\n`);
  return true;
}

/**
 * parseArgs with usage errors as one line and exit code 2: an unknown or mistyped option, an option missing its
 * value, a negative number where none is meaningful (amounts, quantities, prices, ids, ports, counts).
 */
export function parse<T extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: T, command: string): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  const see = `(see: crossbook ${command} --help)`;
  for (let i = 0; i < argv.length; i++) {
    if (!/^-\d/.test(argv[i]!)) continue;
    const prev = argv[i - 1];
    const name = prev?.startsWith("--") === true ? prev.slice(2) : "";
    if (name in options && options[name]!.type === "string") fail(`${command}: --${name} must not be negative (got ${argv[i]}) ${see}`);
    fail(`${command}: ${argv[i]} is negative: amounts, quantities, prices and ids are positive ${see}`);
  }
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true }) as { values: Record<string, string | boolean | undefined>; positionals: string[] };
  } catch (e) {
    const err = e as Error & { code?: string };
    const option = /'(-[^' ]+)/.exec(err.message)?.[1] ?? "";
    switch (err.code) {
      case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
        fail(`${command}: unknown option ${option} ${see}`);
      case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
        fail(`${command}: option ${option} ${/argument missing|ambiguous/.test(err.message) ? "needs a value" : "takes no value"} ${see}`);
      default:
        fail(`${command}: ${err.message.split("\n")[0]} ${see}`);
    }
  }
}

export function intOption(v: string | undefined, name: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) fail(`--${name} must be an integer in [${min}, ${max}]`);
  return n;
}
