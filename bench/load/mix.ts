// The market-maker-like command mix of the load harness, as pre-encoded FlatBuffers frames: each template is a
// whole client WebSocket frame whose client_seq and clientId are patched in place when it is sent (no encoding and
// no allocation per command). Per 40 commands of a connection: 19 post-only GTC orders away from the touch (bids
// below, asks above the configured mark), 19 cancels by clientId of the order placed CANCEL_LAG orders earlier on
// that account, 2 crossing IOCs (47.5% / 47.5% / 5%). Each connection acts for ACCOUNTS_PER_CONNECTION accounts of
// its user (main + sub-accounts), round robin.
import { encodeCommand, type CommandJson } from "../../gateway/client/codec.ts";
import { clientFrame } from "./raw-ws.ts";

export const ACCOUNTS_PER_CONNECTION = 4;
/** Commands in one cycle of the mix, and how many of them are IOCs (the rest alternate place / cancel). */
const CYCLE = 40;
const IOC_SLOTS = [12, 13];
/** A cancel targets the order its account placed this many places before (so the book holds some depth). */
const CANCEL_LAG = 8;
/** Distinct price levels on each side. */
const LEVELS = 16;

const SEQ_SENTINEL = 0x00f1e2d3c4b5a697n;
const ID_SENTINEL = 0x00a1b2c3d4e5f607n;

/** The mix's market (BTC_USDC in config/default.json) and its prices: the book rests away from MID. */
export interface MixMarket {
  readonly market: number;
  /** Bids rest at bidTop − level × step, asks at askBottom + level × step (decimal strings of whole ticks). */
  readonly bidTop: number;
  readonly askBottom: number;
  readonly step: number;
  readonly quantity: string;
  /** IOC limit prices: above every ask / below every bid, inside the price band. */
  readonly iocBuyPrice: string;
  readonly iocSellPrice: string;
}

export const BTC_USDC_MIX: MixMarket = {
  market: 0,
  bidTop: 59_000,
  askBottom: 61_000,
  step: 1,
  quantity: "0.0001",
  iocBuyPrice: "62000",
  iocSellPrice: "58000",
};

export interface Template {
  readonly frame: Uint8Array;
  readonly seqOffset: number;
  /** -1: the template has no clientId to patch. */
  readonly idOffset: number;
}

function offsetOf(frame: Uint8Array, value: bigint): number {
  const probe = new Uint8Array(8);
  new DataView(probe.buffer).setBigUint64(0, value, true);
  let found = -1;
  for (let i = 0; i + 8 <= frame.length; i++) {
    let j = 0;
    while (j < 8 && frame[i + j] === probe[j]) j++;
    if (j === 8) {
      if (found >= 0) throw new Error("load: a sentinel occurs twice in a template frame");
      found = i;
    }
  }
  if (found < 0) throw new Error("load: sentinel not found in a template frame");
  return found;
}

export function template(cmd: CommandJson, hasClientId: boolean): Template {
  const frame = clientFrame(encodeCommand(SEQ_SENTINEL, hasClientId ? ({ ...cmd, clientId: ID_SENTINEL } as CommandJson) : cmd));
  return { frame, seqOffset: offsetOf(frame, SEQ_SENTINEL), idOffset: hasClientId ? offsetOf(frame, ID_SENTINEL) : -1 };
}

function writeU64(out: Uint8Array, at: number, value: number): void {
  const lo = value >>> 0;
  const hi = Math.floor(value / 4294967296) >>> 0;
  out[at] = lo & 0xff;
  out[at + 1] = (lo >>> 8) & 0xff;
  out[at + 2] = (lo >>> 16) & 0xff;
  out[at + 3] = lo >>> 24;
  out[at + 4] = hi & 0xff;
  out[at + 5] = (hi >>> 8) & 0xff;
  out[at + 6] = (hi >>> 16) & 0xff;
  out[at + 7] = hi >>> 24;
}

/** Copies a template into `out` at `at` with its client_seq and clientId set; returns the end offset. */
export function emit(t: Template, out: Uint8Array, at: number, clientSeq: number, clientId: number): number {
  out.set(t.frame, at);
  writeU64(out, at + t.seqOffset, clientSeq);
  if (t.idOffset >= 0) writeU64(out, at + t.idOffset, clientId);
  return at + t.frame.length;
}

/** The templates of one connection's accounts and the state that picks the next command. */
export class MixCursor {
  /** [account][side][level] post-only GTC orders; [account] cancels by clientId; [account][side] IOCs. */
  private readonly places: Template[] = [];
  private readonly cancels: Template[] = [];
  private readonly iocs: Template[] = [];
  private readonly placedIds: Float64Array;
  private step = 0;
  private readonly nextId: Float64Array;
  /** The longest template (sizes the send buffer). */
  readonly frameBytesMax: number;

  constructor(accounts: readonly number[], m: MixMarket) {
    let longest = 0;
    for (const account of accounts) {
      for (let side = 0; side < 2; side++) {
        for (let level = 0; level < LEVELS; level++) {
          const price = side === 0 ? m.bidTop - level * m.step : m.askBottom + level * m.step;
          const t = template({ type: "LimitOrder", account, market: m.market, side: side === 0 ? "Buy" : "Sell", price: String(price), quantity: m.quantity, tif: "GTC", postOnly: true } as CommandJson, true);
          this.places.push(t);
          longest = Math.max(longest, t.frame.length);
        }
        const ioc = template({ type: "LimitOrder", account, market: m.market, side: side === 0 ? "Buy" : "Sell", price: side === 0 ? m.iocBuyPrice : m.iocSellPrice, quantity: m.quantity, tif: "IOC" } as CommandJson, false);
        this.iocs.push(ioc);
        longest = Math.max(longest, ioc.frame.length);
      }
      const cancel = template({ type: "Cancel", account, market: m.market } as CommandJson, true);
      this.cancels.push(cancel);
      longest = Math.max(longest, cancel.frame.length);
    }
    this.frameBytesMax = longest;
    this.placedIds = new Float64Array(accounts.length * CANCEL_LAG);
    this.nextId = new Float64Array(accounts.length).fill(1);
  }

  /** Writes the next command of the mix into `out` at `at` with `clientSeq`; returns the end offset. */
  next(out: Uint8Array, at: number, clientSeq: number): number {
    const s = this.step++;
    const accounts = this.cancels.length;
    const a = s % accounts;
    const inCycle = Math.floor(s / accounts) % CYCLE;
    if (inCycle === IOC_SLOTS[0] || inCycle === IOC_SLOTS[1]) return emit(this.iocs[a * 2 + (inCycle & 1)]!, out, at, clientSeq, 0);
    const lagSlot = a * CANCEL_LAG + (this.nextId[a]! % CANCEL_LAG);
    if ((inCycle & 1) === 1 && this.placedIds[lagSlot]! > 0) {
      const id = this.placedIds[lagSlot]!;
      this.placedIds[lagSlot] = 0;
      return emit(this.cancels[a]!, out, at, clientSeq, id);
    }
    const id = this.nextId[a]!;
    this.nextId[a] = id + 1;
    this.placedIds[a * CANCEL_LAG + (id % CANCEL_LAG)] = id;
    const side = (s >>> 1) & 1;
    const level = (s * 7) % LEVELS;
    return emit(this.places[(a * 2 + side) * LEVELS + level]!, out, at, clientSeq, id);
  }
}
