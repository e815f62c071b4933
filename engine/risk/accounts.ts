// Account identity and per-asset balances of the accounts one risk shard owns.

/** Accounts are u32: the user is `account >>> 4`, the sub-account index `account & 15` (0 = main). */
export const SUB_ACCOUNTS_MAX = 10;
export const ACCOUNT_ID_MAX = 0xffff_ffff;

/** User 0 is the exchange itself; its sub-accounts hold fees and the insurance fund. */
export const EXCHANGE_USER = 0;
export const FEE_ACCOUNT = 1;
export const INSURANCE_ACCOUNT = 2;

export function userOf(account: number): number {
  return account >>> 4;
}

export function subIndexOf(account: number): number {
  return account & 15;
}

export function isValidClientAccount(account: number): boolean {
  return (
    Number.isInteger(account) &&
    account > 0 &&
    account <= ACCOUNT_ID_MAX &&
    userOf(account) !== EXCHANGE_USER &&
    subIndexOf(account) <= SUB_ACCOUNTS_MAX
  );
}

/** Which risk shard owns an account: by user, so a user's transfers stay inside one shard. */
export function riskShardOf(account: number, shardCount: number): number {
  return userOf(account) % shardCount;
}

/** Balances of one account, one slot per asset id, in asset units. */
export class Account {
  readonly available: bigint[];
  /** Held by open orders (S1). */
  readonly locked: bigint[];
  openOrders = 0;

  constructor(
    readonly id: number,
    assetCount: number,
  ) {
    this.available = new Array<bigint>(assetCount).fill(0n);
    this.locked = new Array<bigint>(assetCount).fill(0n);
  }
}
