// Account identity (A1), spelled once: an account id is a u32, `user × 16 + sub`, where sub 0 is the user's main
// account and 1..SUB_ACCOUNT_MAX its sub-accounts. User 0 is the exchange itself: its accounts hold the fees, the
// insurance fund and the backstop (Q3/Q4); no client may name them, only privileged commands (Deposit).
//
// Pure functions of a number: the gateway, risk, the pipeline's routing and the client SDK all read the layout here.

/** Sub-account slots per user: the low four bits of an account id. */
export const ACCOUNT_SUB_SLOTS = 16;
/** A1: sub-accounts 1..10 besides the main account 0. */
export const SUB_ACCOUNT_MAX = 10;
/** Account ids are u32. */
export const ACCOUNT_ID_MAX = 0xffff_ffff;
/** Users are 1 .. 2^28 − 1 (the account id's high 28 bits; user 0 is the exchange). */
export const USER_MAX = 0x0fff_ffff;

/** The exchange's own user: its sub-accounts are the exchange accounts below. */
export const EXCHANGE_USER = 0;

/** The account of `user`'s sub-account `sub` (0 = main). user ≤ USER_MAX, sub < 16. */
export function accountOf(user: number, sub: number): number {
  return user * ACCOUNT_SUB_SLOTS + sub;
}

/** The main account (sub 0) of `user`. */
export function mainAccountOf(user: number): number {
  return user * ACCOUNT_SUB_SLOTS;
}

/** The user who owns `account` (a u32). */
export function userOf(account: number): number {
  return account >>> 4;
}

/** The sub-account index of `account`: 0 = main. */
export function subIndexOf(account: number): number {
  return account & 15;
}

/** Risk fees (taker and maker) collect here. */
export const FEE_ACCOUNT = accountOf(EXCHANGE_USER, 1);
/** Q2/Q4, P funding: the insurance fund (liquidation fees, funding rounding remainders; covers deficits first). */
export const INSURANCE_FUND_ACCOUNT = accountOf(EXCHANGE_USER, 2);
/** Q3: the backstop liquidity provider's account, which takes over positions the book cannot absorb. */
export const BACKSTOP_ACCOUNT = accountOf(EXCHANGE_USER, 3);

/** Whether `account` belongs to the exchange (user 0): fees, insurance fund, backstop. */
export function isExchangeAccount(account: number): boolean {
  return userOf(account) === EXCHANGE_USER;
}

/** An account a client may name: a u32 of a real user (≥ 1) with a sub-account index of at most SUB_ACCOUNT_MAX. */
export function isValidClientAccount(account: number): boolean {
  return (
    Number.isInteger(account) &&
    account > 0 &&
    account <= ACCOUNT_ID_MAX &&
    !isExchangeAccount(account) &&
    subIndexOf(account) <= SUB_ACCOUNT_MAX
  );
}
