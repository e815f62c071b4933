// Server-side command decoding: one verified FlatBuffers frame → one engine CommandRecord, or a typed reject (X5).
//
// Hot path. The verifier (schemas/verify.ts) bounds-checks the frame and reports where every field of the
// envelope and of the command table sits; the decoders then read those positions directly (wire-reads.ts; the
// generated accessors would walk the vtable again for every field). The engine commands are decoded by the
// per-kind decoders generated from the wire map (gateway/codec/wire-map.ts → generated/decode-commands.ts); this
// file keeps the envelope and the commands with genuinely special validation: subscriptions, account catch-up,
// settings toggles, login and API keys. Decimals convert in double arithmetic when the result is below 2^53, so a
// command allocates only the BigInts of its 64-bit fields. Every reject carries a RejectCode and a message naming
// the field.
import {
  ACCOUNT_SETTING_VALUE_SHIFT,
  AccountSetting,
  CommandKind,
  LEVERAGE_LIMIT_MAX,
  RATIO_DECIMALS,
  RATIO_SCALE,
  mainAccountOf,
  RejectCode,
  USER_MAX,
  type CommandRecord,
  type ExchangeConfig,
} from "../../engine/model/index.ts";
import {
  LOGIN,
  REGISTER_API_KEY,
  REVOKE_API_KEY,
  QUERY_ACCOUNT_SNAPSHOT,
  QUERY_WHAT_IF,
  RESUME_ACCOUNT,
  Command,
  COMMAND_ENVELOPE,
  COMMAND_LAYOUTS,
  SUBSCRIBE,
  UPDATE_ACCOUNT_SETTINGS,
  verifyEnvelope,
} from "../../schemas/index.ts";
import { STRESS_STAGES_DEFAULT, STRESS_STAGES_MAX, STRESS_SHOCK_RATIO_MAX } from "../../engine/pipeline/what-if.ts";
import { decodeTableCommand } from "./generated/decode-commands.ts";
import {
  accepted,
  checkAccount,
  checkAsset,
  checkEnum,
  checkMarket,
  DecodedKind,
  DecodeResult,
  failure,
  frameBytes,
  MAX_SAFE,
  readU32,
  readU64,
  reject,
  setFrame,
  TOGGLE_MAX,
  u16,
  u32,
  u64,
  u8,
  units,
  verified,
  VERIFY_OPTIONS,
  WHAT_IF_SHOCKS_MAX,
} from "./wire-reads.ts";

export { DecodedKind, DecodeResult } from "./wire-reads.ts";

/** Largest command frame accepted; the biggest command encodes to well under 200 bytes. */
export const MAX_COMMAND_FRAME_BYTES = 1024;
/** X6 (Backpack): a login's signature window when the client gives none, and the largest it may give. */
export const LOGIN_WINDOW_DEFAULT_MS = 5000;
export const LOGIN_WINDOW_MAX_MS = 60_000;
/** ED25519 public key and signature sizes (bytes). */
export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;
/** Permission bits (schema `Permission`): Read 1, Trade 2, Withdraw 4. */
export const PERMISSIONS_ALL = 0x07;
/** Every market-data channel bit (Channel: Depth 1, Trades 2, Bbo 4, Ticker 8, Mark 16, Liquidation 32). */
export const CHANNELS_ALL = 0x3f;

/**
 * Decodes and validates one client frame. Returns true when accepted: `result.kind` is Engine (and `out` holds the
 * command; its `seq` is left 0 for the sequencer) or Subscribe/Unsubscribe (`out` untouched). Returns false with
 * `result.code`/`result.message` set otherwise; `out` may then be partly written and must be ignored. Never throws.
 */
export function decodeCommand(
  frame: Uint8Array,
  config: ExchangeConfig,
  out: CommandRecord,
  result: DecodeResult,
): boolean {
  result.reset();
  setFrame(frame);
  try {
    return decodeFrame(frame, config, out, result);
  } catch (e) {
    // Backstop only: the verifier should make this unreachable.
    return reject(result, RejectCode.MalformedFrame, `undecodable frame: ${(e as Error).message}`);
  }
}

function decodeFrame(bytes: Uint8Array, config: ExchangeConfig, out: CommandRecord, result: DecodeResult): boolean {
  if (bytes.length > MAX_COMMAND_FRAME_BYTES) {
    return reject(
      result,
      RejectCode.MalformedFrame,
      `frame of ${bytes.length} bytes exceeds the ${MAX_COMMAND_FRAME_BYTES}-byte limit`,
    );
  }
  const ok = verifyEnvelope(bytes, COMMAND_ENVELOPE, COMMAND_LAYOUTS, VERIFY_OPTIONS, failure, verified);
  const type = verified.unionType;
  if (type !== 0 || ok) {
    // The envelope is sound: echo client_seq even when the command is not.
    const seqAt = verified.envelopeAt[COMMAND_ENVELOPE.slot.client_seq]!;
    result.clientSeq = seqAt === 0 ? 0n : readU64(seqAt);
    result.commandType = type;
  }
  if (!ok) {
    if (type >= COMMAND_LAYOUTS.length) return reject(result, RejectCode.UnknownCommand, `unknown command type ${type}`);
    return reject(result, RejectCode.MalformedFrame, `malformed frame: ${failure.message}`);
  }
  if (type === Command.NONE) return reject(result, RejectCode.UnknownCommand, "frame carries no command");
  if (verified.body === 0) {
    return reject(result, RejectCode.MalformedFrame, "command type set but the command table is missing");
  }
  switch (type) {
    case Command.Subscribe:
    case Command.Unsubscribe:
      return decodeSubscription(type, config, result);
    case Command.ResumeAccount:
    case Command.QueryAccountSnapshot:
      return decodeAccountCatchUp(type, result);
    case Command.UpdateAccountSettings:
      return decodeUpdateAccountSettings(out, result);
    case Command.Login:
      return decodeLogin(result);
    case Command.RegisterApiKey:
      return decodeApiKeyCommand(CommandKind.RegisterApiKey, out, result);
    case Command.RevokeApiKey:
      return decodeApiKeyCommand(CommandKind.RevokeApiKey, out, result);
    case Command.TakeSnapshot:
      result.privileged = true;
      result.kind = DecodedKind.TakeSnapshot;
      return true;
    case Command.QueryWhatIf:
      return decodeWhatIf(config, result);
    default:
      // Every engine command of the wire map (Deposit … QueryMaxBorrow); unknown types are rejected there.
      return decodeTableCommand(type, config, out, result);
  }
}

// Subscribe and Unsubscribe share one layout.
const SU = SUBSCRIBE.slot;
function decodeSubscription(type: number, config: ExchangeConfig, result: DecodeResult): boolean {
  const market = u16(SU.market, 0);
  const channels = u8(SU.channels);
  result.market = market;
  if (!checkMarket(market, true, config, result)) return false;
  if (channels === 0 || (channels & ~CHANNELS_ALL) !== 0) {
    return reject(
      result,
      RejectCode.InvalidField,
      `channels: ${channels} is not a non-empty mask of Depth 1, Trades 2, Bbo 4, Ticker 8, Mark 16`,
    );
  }
  result.channels = channels;
  result.kind = type === Command.Subscribe ? DecodedKind.Subscribe : DecodedKind.Unsubscribe;
  return true;
}

/** ResumeAccount and QueryAccountSnapshot: the account (a client account id) and, for a resume, the first seq. */
function decodeAccountCatchUp(type: number, result: DecodeResult): boolean {
  const resume = type === Command.ResumeAccount;
  const account = u32(resume ? RESUME_ACCOUNT.slot.account : QUERY_ACCOUNT_SNAPSHOT.slot.account);
  result.account = account;
  if (!checkAccount(account, "account", result)) return false;
  if (resume) {
    const fromSeq = u64(RESUME_ACCOUNT.slot.from_seq);
    if (fromSeq === 0n || fromSeq > MAX_SAFE) return reject(result, RejectCode.InvalidField, `from_seq ${fromSeq} is not a sequence number (1..${Number.MAX_SAFE_INTEGER})`);
    result.fromSeq = Number(fromSeq);
  }
  result.kind = resume ? DecodedKind.ResumeAccount : DecodedKind.AccountSnapshot;
  return true;
}

const US = UPDATE_ACCOUNT_SETTINGS.slot;
/** Toggle fields of UpdateAccountSettings with their AccountSetting bits. */
const SETTING_FIELDS: readonly [number, number, string][] = [
  [US.auto_lend, AccountSetting.AutoLend, "auto_lend"],
  [US.auto_repay_borrows, AccountSetting.AutoRepayBorrows, "auto_repay_borrows"],
  [US.auto_borrow_settlements, AccountSetting.AutoBorrowSettlements, "auto_borrow_settlements"],
  [US.auto_realize_pnl, AccountSetting.AutoRealizePnl, "auto_realize_pnl"],
  [US.margin_enabled, AccountSetting.MarginEnabled, "margin_enabled"],
];
function decodeUpdateAccountSettings(out: CommandRecord, result: DecodeResult): boolean {
  const account = u32(US.account);
  result.account = account;
  if (!checkAccount(account, "account", result)) return false;
  const leverage = u8(US.leverage_limit);
  if (leverage > LEVERAGE_LIMIT_MAX) {
    return reject(result, RejectCode.InvalidSetting, `leverage_limit: ${leverage} is outside 1..${LEVERAGE_LIMIT_MAX} (0 = unchanged)`);
  }
  let mask = 0;
  let values = 0;
  for (const [slot, bit, field] of SETTING_FIELDS) {
    const toggle = u8(slot);
    if (!checkEnum(toggle, TOGGLE_MAX, field, "Toggle", result)) return false;
    if (toggle === 0) continue;
    mask |= bit;
    if (toggle === 2) values |= bit;
  }
  if (mask === 0 && leverage === 0) return reject(result, RejectCode.InvalidSetting, "UpdateAccountSettings changes nothing");
  out.clear();
  out.kind = CommandKind.UpdateAccountSettings;
  out.account = account;
  out.leverageLimit = leverage;
  out.flags = mask | (values << ACCOUNT_SETTING_VALUE_SHIFT);
  return accepted(result);
}

// ---------------------------------------------------------------- X6: login and API keys (not the hot path)

/** The string at `slot` (ASCII), or null when absent. */
function str(slot: number): string | null {
  const p = verified.bodyAt[slot]!;
  if (p === 0) return null;
  const bytes = frameBytes();
  const target = p + readU32(p);
  const length = readU32(target);
  return Buffer.from(bytes.buffer, bytes.byteOffset + target + 4, length).toString("latin1");
}

/** Canonical base64 of exactly `length` bytes, decoded (a copy), or null after rejecting with `code`. */
function base64Bytes(slot: number, length: number, field: string, code: number, result: DecodeResult): Uint8Array | null {
  const text = str(slot);
  if (text === null) {
    reject(result, code, `${field}: required (base64 of ${length} bytes)`);
    return null;
  }
  const decoded = text.length === Math.ceil(length / 3) * 4 ? Buffer.from(text, "base64") : null;
  if (decoded === null || decoded.length !== length || decoded.toString("base64") !== text) {
    reject(result, code, `${field}: expected base64 of ${length} bytes, got ${text.length} characters`);
    return null;
  }
  return new Uint8Array(decoded);
}

const LG = LOGIN.slot;
function decodeLogin(result: DecodeResult): boolean {
  const key = base64Bytes(LG.api_key, ED25519_PUBLIC_KEY_BYTES, "api_key", RejectCode.BadSignature, result);
  if (key === null) return false;
  const signature = base64Bytes(LG.signature, ED25519_SIGNATURE_BYTES, "signature", RejectCode.BadSignature, result);
  if (signature === null) return false;
  const timestampMs = u64(LG.timestamp_ms);
  const window = u32(LG.window_ms);
  if (window > LOGIN_WINDOW_MAX_MS) {
    return reject(result, RejectCode.BadSignature, `window_ms: ${window} is above the ${LOGIN_WINDOW_MAX_MS} ms maximum`);
  }
  if (timestampMs === 0n || timestampMs > MAX_SAFE) return reject(result, RejectCode.BadSignature, `timestamp_ms: ${timestampMs} is not a time`);
  result.loginKey = key;
  result.loginSignature = signature;
  result.loginTimestampMs = Number(timestampMs);
  result.loginWindowMs = window === 0 ? LOGIN_WINDOW_DEFAULT_MS : window;
  result.kind = DecodedKind.Login;
  return true;
}

/** Register / revoke: user → account user × 16, the key → four little-endian int64 words, permissions → flags. */
function decodeApiKeyCommand(kind: CommandKind, out: CommandRecord, result: DecodeResult): boolean {
  result.privileged = true;
  const register = kind === CommandKind.RegisterApiKey;
  const user = u32(register ? REGISTER_API_KEY.slot.user : REVOKE_API_KEY.slot.user);
  if (user === 0 || user > USER_MAX) return reject(result, RejectCode.InvalidAccount, `user: ${user} is not a user id (1..${USER_MAX})`);
  result.account = mainAccountOf(user);
  const keySlot = register ? REGISTER_API_KEY.slot.api_key : REVOKE_API_KEY.slot.api_key;
  const key = base64Bytes(keySlot, ED25519_PUBLIC_KEY_BYTES, "api_key", RejectCode.InvalidField, result);
  if (key === null) return false;
  const permissions = register ? u8(REGISTER_API_KEY.slot.permissions) : 0;
  if (register && (permissions === 0 || permissions > PERMISSIONS_ALL)) {
    return reject(result, RejectCode.InvalidField, `permissions: ${permissions} is not a non-empty set of Read 1, Trade 2, Withdraw 4`);
  }
  out.clear();
  out.kind = kind;
  out.account = mainAccountOf(user);
  out.flags = permissions;
  writeKeyWords(key, out);
  result.loginKey = key;
  return accepted(result);
}

/** The 32-byte key as four little-endian int64 words publicKeyWord0…3. */
export function writeKeyWords(key: Uint8Array, out: CommandRecord): void {
  const view = new DataView(key.buffer, key.byteOffset, ED25519_PUBLIC_KEY_BYTES);
  out.publicKeyWord0 = view.getBigInt64(0, true);
  out.publicKeyWord1 = view.getBigInt64(8, true);
  out.publicKeyWord2 = view.getBigInt64(16, true);
  out.publicKeyWord3 = view.getBigInt64(24, true);
}

/** The inverse of writeKeyWords: the 32-byte key of a RegisterApiKey / RevokeApiKey record. */
export function readKeyWords(cmd: CommandRecord): Uint8Array {
  const key = new Uint8Array(ED25519_PUBLIC_KEY_BYTES);
  const view = new DataView(key.buffer);
  view.setBigInt64(0, BigInt.asIntN(64, cmd.publicKeyWord0), true);
  view.setBigInt64(8, BigInt.asIntN(64, cmd.publicKeyWord1), true);
  view.setBigInt64(16, BigInt.asIntN(64, cmd.publicKeyWord2), true);
  view.setBigInt64(24, BigInt.asIntN(64, cmd.publicKeyWord3), true);
  return key;
}

// QueryWhatIf (Q7): up to WHAT_IF_SHOCKS_MAX (asset, factor) pairs; the factor is the mark's multiplier on the wire
// (an unsigned Decimal: 0.7 = −30%), a signed change for the engine's what-if. Checked here as runStress checks them.
const WI = QUERY_WHAT_IF.slot;
const WHAT_IF_ASSET_SLOTS = [WI.asset_1, WI.asset_2, WI.asset_3, WI.asset_4];
const WHAT_IF_FACTOR_SLOTS = [WI.factor_1, WI.factor_2, WI.factor_3, WI.factor_4];
const WHAT_IF_UNUSED = 0xffff;
const WHAT_IF_FACTOR_MAX = RATIO_SCALE + STRESS_SHOCK_RATIO_MAX;
function decodeWhatIf(config: ExchangeConfig, result: DecodeResult): boolean {
  result.privileged = true;
  result.whatIfShocks = 0;
  for (let i = 0; i < WHAT_IF_SHOCKS_MAX; i++) {
    const asset = u16(WHAT_IF_ASSET_SLOTS[i]!, WHAT_IF_UNUSED);
    const field = `factor_${i + 1}`;
    if (asset === WHAT_IF_UNUSED) {
      if (units(WHAT_IF_FACTOR_SLOTS[i]!, RATIO_DECIMALS, RejectCode.InvalidAmount, field, true, result) !== 0n) {
        return reject(result, RejectCode.UnknownAsset, `${field} without asset_${i + 1}`);
      }
      continue;
    }
    if (!checkAsset(asset, config, result)) return false;
    const factor = units(WHAT_IF_FACTOR_SLOTS[i]!, RATIO_DECIMALS, RejectCode.InvalidAmount, field, false, result);
    if (factor < 0n) return false;
    if (factor > WHAT_IF_FACTOR_MAX) return reject(result, RejectCode.InvalidAmount, `${field} ${factor} over ${WHAT_IF_FACTOR_MAX} (a shock is at most +1000%)`);
    for (let j = 0; j < result.whatIfShocks; j++) {
      if (result.whatIfAssets[j] === asset) return reject(result, RejectCode.UnknownAsset, `asset ${asset} is shocked twice`);
    }
    result.whatIfAssets[result.whatIfShocks] = asset;
    result.whatIfChanges[result.whatIfShocks] = factor - RATIO_SCALE;
    result.whatIfShocks++;
  }
  if (result.whatIfShocks === 0) return reject(result, RejectCode.UnknownAsset, "no shock: give asset_1 and factor_1 at least");
  const stages = u16(WI.stages_max, 0);
  if (stages > STRESS_STAGES_MAX) return reject(result, RejectCode.InvalidAmount, `stages_max ${stages} over ${STRESS_STAGES_MAX}`);
  result.whatIfStagesMax = stages === 0 ? STRESS_STAGES_DEFAULT : stages;
  result.kind = DecodedKind.WhatIf;
  return true;
}
