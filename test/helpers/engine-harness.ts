// An in-process engine driven batch by batch, as the liquidation tests use it: every batch's commands are kept (for
// replays and threaded runs), every batch ends with the risk shards' internal checks (and the matching shards', when
// asked), and a tick moves the clock one second, as ClockTickPolicy journals while an account is liquidating.
import { CommandKind, CommandRecord, EventRecord, type ExchangeConfig } from "../../engine/model/index.ts";
import { Engine, type EngineTopology } from "../../engine/pipeline/index.ts";
import type { RiskShard } from "../../engine/risk/index.ts";

/** 2026-01-01 00:00 UTC: an hour mark and a 10 s mark. */
export const HARNESS_T0 = 1_767_225_600_000;

export function copyEvent(e: EventRecord): EventRecord {
  const c = new EventRecord();
  c.copyFrom(e);
  return c;
}

export interface EngineHarnessOptions {
  topology?: EngineTopology;
  /** Also run the matching shards' internal checks after each batch. */
  validateMatching?: boolean;
}

export class EngineHarness {
  readonly engine: Engine;
  seq = 0;
  protected timeMs = HARNESS_T0;
  /** Copies of every batch's commands, in order. */
  readonly journal: CommandRecord[][] = [];
  private readonly validateMatching: boolean;

  constructor(
    readonly config: ExchangeConfig,
    options: EngineHarnessOptions = {},
  ) {
    this.engine = new Engine(config, options.topology ?? { riskShards: 1, matchingShards: 1 });
    this.validateMatching = options.validateMatching ?? false;
    this.batch([{ kind: CommandKind.AdvanceTime, timeMs: HARNESS_T0 }]);
  }

  batch(list: Partial<CommandRecord>[]): EventRecord[] {
    const cmds = list.map((f) => Object.assign(new CommandRecord(), f, { seq: ++this.seq }));
    this.journal.push(cmds.map((c) => Object.assign(new CommandRecord(), c)));
    const got: EventRecord[] = [];
    this.engine.processBatch(cmds, cmds.length, { publish: (e) => got.push(copyEvent(e)) });
    for (const r of this.engine.risk) r.validateInternalState();
    if (this.validateMatching) for (const m of this.engine.matching) m.validateInternalState();
    return got;
  }

  /** A clock tick one second on, with `extra` commands in the same batch. */
  tick(extra: Partial<CommandRecord>[] = []): EventRecord[] {
    this.timeMs += 1000;
    return this.batch([{ kind: CommandKind.AdvanceTime, timeMs: this.timeMs }, ...extra]);
  }

  /** The risk shard that owns `account`. */
  risk(account: number): RiskShard {
    return this.engine.risk.find((r) => r.owns(account))!;
  }

  /** Every liquidating account, over the shards, in id order. */
  /** The account's available units of the asset (on its risk shard). */
  available(account: number, asset: number): bigint {
    return this.risk(account).balance(account, asset).available;
  }

  /** The account's lent units of the asset. */
  lent(account: number, asset: number): bigint {
    return this.risk(account).poolBalance(account, asset).lent;
  }

  /** The account's borrowed units of the asset. */
  borrowed(account: number, asset: number): bigint {
    return this.risk(account).poolBalance(account, asset).borrowed;
  }

  liquidating(): number[] {
    return this.engine.risk.flatMap((r) => r.liquidatingAccounts()).sort((a, b) => a - b);
  }

  /** Σ over the shards of the insurance fund's balance of `asset` (D4: each shard's slice). */
  insurance(asset: number): bigint {
    return this.engine.risk.reduce((sum, r) => sum + r.insuranceBalance(asset), 0n);
  }

  /** X1: Σ over the shards, per asset, of every account's available + locked + lent − borrowed, fee and insurance. */
  totals(): bigint[] {
    const sums = this.config.assets.map(() => 0n);
    for (const r of this.engine.risk) r.totals().forEach((t, a) => (sums[a] = sums[a]! + t));
    return sums;
  }
}
