// Q7 over the wire: an operator's QueryWhatIf. The exchange's state is captured at a batch boundary exactly as an X7
// snapshot captures it (the stages stall only to write their parts), a follower worker restores that copy and runs the
// shocks' cascade on it (engine/pipeline/what-if-follower.ts), and the report goes back to the asking session as
// WhatIfStage / WhatIfFills / WhatIfAccount rows, then WhatIfDone. Nothing of the exchange changes and nothing is
// journaled. Named limits: WHAT_IF_RUNNING_MAX at once (more are refused Overloaded), WHAT_IF_ACCOUNT_ROWS_MAX account
// rows per answer (the rest counted in WhatIfDone.accounts_left_out).
import { RejectCode, type ExchangeConfig } from "../engine/model/index.ts";
import { runStressOffThread, type PriceShock, type StressReport } from "../engine/pipeline/index.ts";
import { encodeWhatIfAccount, encodeWhatIfDone, encodeWhatIfFills, encodeWhatIfStage, type DecodeResult } from "./codec/index.ts";
import type { Session } from "./sessions.ts";

/** What-ifs running at once: each holds a copy of the whole state in a worker. */
export const WHAT_IF_RUNNING_MAX = 1;
/** WhatIfAccount rows one answer sends at most. */
export const WHAT_IF_ACCOUNT_ROWS_MAX = 1000;

/** The engine's state at a batch boundary: its snapshot bytes and the last command they cover. */
export interface CapturedEngine {
  readonly bytes: Uint8Array;
  readonly seq: number;
}

export interface WhatIfReplies {
  reject(session: Session, clientSeq: bigint, code: number, message: string, commandType: number, account: number, clientId: bigint): void;
}

export class WhatIfDesk {
  private running = 0;
  /** The insurance fund the answers report: USDC (the asset named so, else the first market's quote). */
  private readonly fundAsset: number;

  constructor(
    private readonly config: ExchangeConfig,
    private readonly capture: () => Promise<CapturedEngine>,
    private readonly replies: WhatIfReplies,
  ) {
    const usdc = config.assets.find((a) => a.symbol === "USDC");
    this.fundAsset = usdc !== undefined ? usdc.id : (config.markets[0]?.quoteAsset ?? 0);
  }

  /** A decoded, authorized QueryWhatIf: answered when the follower is done, or refused at once when one is running. */
  answer(session: Session, result: DecodeResult): void {
    const { clientSeq, commandType } = result;
    if (this.running >= WHAT_IF_RUNNING_MAX) {
      this.replies.reject(session, clientSeq, RejectCode.Overloaded, "a what-if is already running: retry when it has answered", commandType, 0, 0n);
      return;
    }
    const shocks: PriceShock[] = [];
    for (let i = 0; i < result.whatIfShocks; i++) shocks.push({ asset: result.whatIfAssets[i]!, change: result.whatIfChanges[i]! });
    const stagesMax = result.whatIfStagesMax;
    this.running++;
    this.run(shocks, stagesMax).then(
      ({ report, seq }) => {
        this.running--;
        if (!session.closed) this.send(session, report, clientSeq, seq);
      },
      (e: unknown) => {
        this.running--;
        if (!session.closed) this.replies.reject(session, clientSeq, RejectCode.Overloaded, `what-if failed: ${(e as Error).message}`, commandType, 0, 0n);
      },
    );
  }

  private async run(shocks: readonly PriceShock[], stagesMax: number): Promise<{ report: StressReport; seq: number }> {
    const engine = await this.capture();
    return { report: await runStressOffThread(this.config, engine.bytes, shocks, stagesMax), seq: engine.seq };
  }

  private send(session: Session, report: StressReport, clientSeq: bigint, seq: number): void {
    const socket = session.socket;
    let rows = 0;
    let leftOut = 0;
    for (const st of report.stages) {
      socket.send(encodeWhatIfStage(this.config, st, this.fundAsset, clientSeq, seq));
      for (const f of st.fills) socket.send(encodeWhatIfFills(this.config, st.stage, f, clientSeq, seq));
      for (let i = 0; i < st.started.length + st.ended.length; i++) {
        if (rows >= WHAT_IF_ACCOUNT_ROWS_MAX) {
          leftOut++;
          continue;
        }
        const started = i < st.started.length;
        socket.send(encodeWhatIfAccount(st.stage, started ? st.started[i]! : st.ended[i - st.started.length]!, started, clientSeq, seq));
        rows++;
      }
    }
    socket.send(encodeWhatIfDone(this.config, report, this.fundAsset, leftOut, clientSeq, seq));
  }
}
