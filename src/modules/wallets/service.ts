/**
 * Wallets: users of a company (agents and users), their wallets, fee rules and top-ups. The legacy
 * REST routes, the GraphQL fields and the operator CLI all call these functions.
 *
 * A top-up moves money that arrived from outside (a card or a bank, the payment mode) into a
 * wallet: in one transaction, the clearing account `wallet-topups:<currency>:<mode>` pays the
 * wallet `wallet:<id>` the amount minus the fee and the company's fee account
 * `wallet-fees:<currency>` the fee, the transaction is recorded and `wallet.topped_up` is written
 * to the outbox.
 */
import type { Db, Prisma } from '../../db/database.ts';
import type { Sql } from '../../db/sql.ts';
import { WriteBatch } from '../../db/write-batch.ts';
import type { Deps } from '../../deps.ts';
import { AppError, invalid, notFound } from '../../errors.ts';
import { recordEvents } from '../../events/outbox.ts';
import type { Wallet, WalletFeeRule, WalletUser } from '../../generated/prisma/client.ts';
import { idempotentSql } from '../../idempotency/idempotency.ts';
import { balance, findAccountsByName, openAccounts, prepareTransfers, type Account, type AccountSpec } from '../../ledger/ledger.ts';
import { randomHex, uuidv7 } from '../../lib/ids.ts';
import { WalletError } from './errors.ts';
import { calculateFee, selectRule, termsProblem, type FeeTerms } from './fees.ts';
import { CURRENCY_DIGITS, formatMajorAmount, isCurrency, MAX_AMOUNT, parseMajorAmount } from './money.ts';

export type UserType = 'agent' | 'user';
/** The legacy `user_type`: 1 a company admin (agent), 2 a company user. */
export const LEGACY_USER_TYPES: Record<UserType, number> = { agent: 1, user: 2 };
/** The legacy `payment_mode`: where the money comes from. */
export const PAYMENT_MODES = { 1: 'card', 2: 'bank' } as const;
/** The legacy `txn_status`. Top-ups are recorded only once they succeeded: they are always 1. */
export const TXN_STATUS = { PENDING: 0, SUCCESS: 1, FAILED: 2, REVERSED: 3 } as const;

const HEX_ID = /^[0-9a-f]{32}$/;
const TXN_CODE = /^[A-Z0-9_]{1,32}$/;
const USERNAME = /^[\w.@+-]{1,64}$/;
const MAX_NOTE = 255;
const MAX_REQUEST_ID = 200;

export const walletAccountName = (walletId: string) => `wallet:${walletId}`;
export const feeAccountName = (currency: string) => `wallet-fees:${currency}`;
export const clearingAccountName = (currency: string, paymentMode: number) => `wallet-topups:${currency}:${paymentMode}`;

/** Transaction ids are UUIDv7 without dashes: 32 hex characters that sort by time. */
const transactionId = (now: Date) => uuidv7(now.getTime()).replaceAll('-', '');

export const isPaymentMode = (value: number): value is keyof typeof PAYMENT_MODES => Object.hasOwn(PAYMENT_MODES, value);

/** Runs `fn` in a transaction, or in the caller's when `db` already is one. */
export async function withTransaction<T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  const client = db as Partial<Prisma>;
  return typeof client.$transaction === 'function' ? client.$transaction(fn) : fn(db);
}

function normalizeTxnCode(value: string, failure: (message: string) => Error): string {
  const code = value.trim().toUpperCase();
  if (!TXN_CODE.test(code)) throw failure('txn_code is 1 to 32 letters, digits or underscores, e.g. CIB.');
  return code;
}

function normalizeCurrency(value: string): string {
  const currency = value.trim().toUpperCase();
  if (!isCurrency(currency)) throw invalid('currency', `Unknown currency ${value}; supported: ${Object.keys(CURRENCY_DIGITS).join(', ')}.`);
  return currency;
}

const isUniqueViolation = (error: unknown) => (error as { code?: unknown }).code === 'P2002';

// ---------------------------------------------------------------------------------------------
// Users and wallets

/** A merchant by id or by its CompanyID, for operators who know either. */
export async function findMerchantId(db: Db, idOrCompanyId: string): Promise<string> {
  const merchant = await db.merchant.findFirst({ where: { OR: [{ id: idOrCompanyId }, { companyId: idOrCompanyId }] }, select: { id: true } });
  if (!merchant) throw notFound('Merchant');
  return merchant.id;
}

export interface CreateWalletInput {
  merchantId: string;
  username: string;
  userType: UserType;
  currency: string;
  /** Fixed ids, for the demo data whose ids are the legacy document's. */
  walletId?: string;
  userId?: string;
}

/**
 * Creates a wallet for a user of the company, creating the user on first use. A user is an agent
 * or a user for good: asking for the other kind is a CONFLICT, as is a second wallet in one
 * currency. Runs in the caller's transaction.
 */
export async function createWallet(db: Db, input: CreateWalletInput, now: Date): Promise<Wallet> {
  const username = input.username.trim();
  if (!USERNAME.test(username)) throw invalid('username', 'A username is 1 to 64 letters, digits or . _ @ + -.');
  const currency = normalizeCurrency(input.currency);
  if (!(await db.merchant.findUnique({ where: { id: input.merchantId }, select: { id: true } }))) throw notFound('Merchant');
  await db.$executeRawUnsafe(
    `INSERT INTO wallet_users (id, merchant_id, username, type, created_at) VALUES ($1, $2, $3, $4, $5::timestamptz)
     ON CONFLICT (merchant_id, username) DO NOTHING`,
    input.userId ?? randomHex(16),
    input.merchantId,
    username,
    input.userType,
    now.toISOString(),
  );
  const user = await db.walletUser.findUniqueOrThrow({ where: { merchantId_username: { merchantId: input.merchantId, username } } });
  if (user.type !== input.userType) {
    throw new AppError('CONFLICT', `${username} is a company ${user.type === 'agent' ? 'admin (agent)' : 'user'}; a user's kind does not change.`, 'userType');
  }
  const existing = await db.wallet.findUnique({ where: { userId_currency: { userId: user.id, currency } } });
  if (existing) throw new AppError('CONFLICT', `${username} already has a wallet in ${currency}: ${existing.id}.`, 'currency');
  const id = input.walletId ?? randomHex(16);
  const accounts = await openAccounts(db, [{ merchantId: input.merchantId, name: walletAccountName(id), kind: 'wallet', currency, floor: 0n }]);
  try {
    const wallet = await db.wallet.create({
      data: { id, merchantId: input.merchantId, userId: user.id, currency, accountId: accounts.get(walletAccountName(id))!.id, createdAt: now },
    });
    await recordEvents(db, [{ merchantId: input.merchantId, type: 'wallet.created', topic: 'WALLET', objectId: id, data: { walletId: id, userId: user.id } }], now);
    return wallet;
  } catch (error) {
    if (isUniqueViolation(error)) throw new AppError('CONFLICT', `${username} already has a wallet in ${currency}.`, 'currency');
    throw error;
  }
}

/** The merchant's wallet with its user. Raw SQL, one statement: every top-up reads it first. */
export async function findWallet(db: Sql, merchantId: string, walletId: string): Promise<(Wallet & { user: WalletUser }) | null> {
  const [row] = await db.$queryRawUnsafe<
    { id: string; user_id: string; currency: string; account_id: string; created_at: Date; user_merchant_id: string; username: string; type: string; user_created_at: Date }[]
  >(
    `SELECT w.id, w.user_id, w.currency, w.account_id, w.created_at,
            u.merchant_id AS user_merchant_id, u.username, u.type, u.created_at AS user_created_at
     FROM wallets w JOIN wallet_users u ON u.id = w.user_id WHERE w.id = $1 AND w.merchant_id = $2`,
    walletId.toLowerCase(),
    merchantId,
  );
  if (!row) return null;
  return {
    id: row.id,
    merchantId,
    userId: row.user_id,
    currency: row.currency,
    accountId: row.account_id,
    createdAt: row.created_at,
    user: { id: row.user_id, merchantId: row.user_merchant_id, username: row.username, type: row.type, createdAt: row.user_created_at },
  };
}

/** Wallet balances from the ledger, by wallet id. */
export async function walletBalances(db: Db, merchantId: string, walletIds: string[]): Promise<Map<string, bigint>> {
  const accounts = await findAccountsByName(db, merchantId, walletIds.map(walletAccountName));
  return new Map(walletIds.map((id) => [id, balance(accounts.get(walletAccountName(id)) ?? { creditsPosted: 0n, debitsPosted: 0n })]));
}

export async function walletBalance(db: Db, wallet: Pick<Wallet, 'merchantId' | 'id'>): Promise<bigint> {
  return (await walletBalances(db, wallet.merchantId, [wallet.id])).get(wallet.id)!;
}

// ---------------------------------------------------------------------------------------------
// Fee rules

export interface FeeRuleInput extends FeeTerms {
  merchantId: string;
  txnCode: string;
  currency: string;
  /** null: any payment mode. */
  paymentMode: number | null;
}

/** Creates or replaces the company's rule for one code, currency and payment mode. Runs in the caller's transaction. */
export async function setFeeRule(db: Db, input: FeeRuleInput, now: Date): Promise<WalletFeeRule> {
  const txnCode = normalizeTxnCode(input.txnCode, (message) => invalid('txnCode', message));
  const currency = normalizeCurrency(input.currency);
  if (input.paymentMode !== null && !isPaymentMode(input.paymentMode)) throw invalid('paymentMode', 'paymentMode is 1 (card), 2 (bank) or any.');
  const problem = termsProblem(input);
  if (problem) throw invalid('terms', problem);
  for (const [name, value] of [['fixed', input.fixed], ['min', input.min], ['max', input.max]] as const) {
    if (value !== null && value > MAX_AMOUNT) throw invalid(name, `${name} is at most ${MAX_AMOUNT} minor units.`);
  }
  if (!(await db.merchant.findUnique({ where: { id: input.merchantId }, select: { id: true } }))) throw notFound('Merchant');
  // paymentMode may be null, which a unique index would not compare: a lock per code serialises writers.
  await db.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(hashtext($1))`, `wallet_fee_rules:${input.merchantId}:${txnCode}:${currency}`);
  const terms = { fixed: input.fixed, percentBasisPoints: input.percentBasisPoints, min: input.min, max: input.max, updatedAt: now };
  const existing = await db.walletFeeRule.findFirst({ where: { merchantId: input.merchantId, txnCode, currency, paymentMode: input.paymentMode } });
  if (existing) return db.walletFeeRule.update({ where: { id: existing.id }, data: terms });
  return db.walletFeeRule.create({
    data: { id: randomHex(16), merchantId: input.merchantId, txnCode, currency, paymentMode: input.paymentMode, createdAt: now, ...terms },
  });
}

export function listFeeRules(db: Db, merchantId: string): Promise<WalletFeeRule[]> {
  return db.walletFeeRule.findMany({ where: { merchantId }, orderBy: [{ txnCode: 'asc' }, { currency: 'asc' }, { paymentMode: 'asc' }] });
}

export async function deleteFeeRule(db: Db, id: string): Promise<void> {
  const deleted = await db.walletFeeRule.deleteMany({ where: { id } });
  if (deleted.count === 0) throw notFound('Fee rule');
}

// ---------------------------------------------------------------------------------------------
// Top-ups

/** An amount in minor units (GraphQL), or the text of a decimal in major units (legacy JSON). */
export type AmountInput = { minor: bigint } | { decimal: string };

/** The legacy `debit_user_info` / `credit_user_info`: each given field must agree with the data. */
export interface PartyInfo {
  userId?: string | null;
  walletId?: string | null;
  currency?: string | null;
  username?: string | null;
  userType?: UserType | null;
  /** Kept verbatim on the transaction; its meaning belongs to the caller. */
  paymentType?: string | null;
}

export interface TopUpRequest {
  walletId: string;
  amount: AmountInput;
  txnCode: string;
  paymentMode: number;
  note?: string | null;
  /** The company admin performing the top-up; none: the company's credential acts itself. */
  agent?: PartyInfo | null;
  /** The wallet's owner, as the caller believes it to be. */
  user?: PartyInfo | null;
  cardInfo?: unknown;
  paymentResponse?: unknown;
  deviceIds?: string[] | null;
  /** The total charges the caller quoted to the user: refused if the fee is now different. */
  expectedCharges?: AmountInput | null;
  /** The idempotency key (legacy `meta_data.wallet_topup_request_id`). */
  requestId?: string | null;
}

export interface AppliedCharge {
  ruleId: string;
  txnCode: string;
  paymentMode: number | null;
  fixed: bigint;
  percentBasisPoints: number;
  min: bigint | null;
  max: bigint | null;
  /** The percentage part, rounded half up to the minor unit. */
  percentPart: bigint;
  /** What this rule charged, after min and max. */
  amount: bigint;
}

export interface TopUpQuote {
  walletId: string;
  currency: string;
  txnCode: string;
  paymentMode: number;
  amount: bigint;
  totalCharges: bigint;
  /** What the wallet receives: amount - totalCharges. */
  creditedAmount: bigint;
  charges: AppliedCharge[];
}

export interface TopUpResult {
  transactionId: string;
  txnNumber: string;
  txnStatus: number;
  walletId: string;
  currency: string;
  amount: bigint;
  fee: bigint;
  creditedAmount: bigint;
}

interface PreparedTopUp {
  merchantId: string;
  wallet: Wallet & { user: WalletUser };
  amount: bigint;
  txnCode: string;
  paymentMode: number;
  note: string | null;
  agentUserId: string | null;
  agentPaymentType: string | null;
  userPaymentType: string | null;
  cardInfo: Record<string, unknown>[] | null;
  paymentResponse: Record<string, unknown> | null;
  deviceIds: string[];
  expectedCharges: bigint | null;
  requestId: string | null;
}

const fail = (failure: ConstructorParameters<typeof WalletError>[0], field: string) => (message: string) => new WalletError(failure, message, field);

/** An amount in minor units, from either form; `minimum` is 1 for amounts and 0 for charges. */
function toMinor(amount: AmountInput, currency: string, failure: (message: string) => Error, minimum: 0n | 1n): bigint {
  let value: bigint;
  if ('minor' in amount) value = amount.minor;
  else {
    const parsed = parseMajorAmount(amount.decimal, currency);
    if (!parsed.ok) {
      const digits = CURRENCY_DIGITS[currency];
      throw failure(
        {
          NOT_A_DECIMAL: 'Amounts are plain decimal numbers, without exponent.',
          TOO_PRECISE: `${currency} amounts have at most ${digits} decimal${digits === 1 ? '' : 's'}.`,
          TOO_LARGE: `Amounts are at most ${formatMajorAmount(MAX_AMOUNT, currency)} ${currency}.`,
        }[parsed.problem],
      );
    }
    value = parsed.amount;
  }
  if (value < minimum) throw failure(minimum === 1n ? 'The amount must be positive.' : 'The amount must not be negative.');
  if (value > MAX_AMOUNT) throw failure(`Amounts are at most ${MAX_AMOUNT} minor units.`);
  return value;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// Card verification values and PINs must never be stored (PCI DSS 3.2); card numbers are masked.
const CARD_SECRETS = /^(cvv2?|cvc2?|cid|pin2?|otp|password|passcode)$/i;

function redactCard(value: unknown, failure: (message: string) => Error): unknown {
  if (typeof value === 'string') {
    const digits = value.replace(/[\s-]/g, '');
    return /^\d{12,19}$/.test(digits) ? `${digits.slice(0, 6)}${'*'.repeat(digits.length - 10)}${digits.slice(-4)}` : value;
  }
  if (typeof value === 'number' && Math.abs(value) >= 1e11) throw failure('Card numbers are sent as strings.');
  if (Array.isArray(value)) return value.map((item) => redactCard(item, failure));
  if (isPlainObject(value)) {
    return Object.fromEntries(Object.entries(value).filter(([key]) => !CARD_SECRETS.test(key)).map(([key, item]) => [key, redactCard(item, failure)]));
  }
  return value;
}

function prepareCardInfo(value: unknown): Record<string, unknown>[] | null {
  if (value === undefined || value === null) return null;
  const failure = fail('INVALID_CARD_INFO', 'cardInfo');
  const entries = Array.isArray(value) ? value : [value];
  if (entries.length > 5 || !entries.every(isPlainObject)) throw failure('card_info is an object, or a list of at most 5 objects.');
  if (JSON.stringify(entries).length > 4096) throw failure('card_info is at most 4 KB.');
  return entries.map((entry) => redactCard(entry, failure) as Record<string, unknown>);
}

function preparePaymentResponse(value: unknown): Record<string, unknown> | null {
  if (value === undefined || value === null) return null;
  const failure = fail('INVALID_PAYMENT_RESPONSE', 'paymentResponse');
  if (!isPlainObject(value)) throw failure('payment_response is the gateway\'s JSON object.');
  if (JSON.stringify(value).length > 16_384) throw failure('payment_response is at most 16 KB.');
  return value;
}

function checkParty(info: PartyInfo, expected: { wallet: Wallet | null; user: WalletUser; currency: string }, failure: (message: string) => Error): void {
  if (info.userId != null && info.userId.toLowerCase() !== expected.user.id) throw failure('user_id is not this user.');
  if (info.username != null && info.username !== expected.user.username) throw failure('username does not match the user.');
  if (info.userType != null && info.userType !== expected.user.type) throw failure(`user_type does not match: the user is ${LEGACY_USER_TYPES[expected.user.type as UserType]}.`);
  if (info.currency != null && info.currency.toUpperCase() !== expected.currency) throw failure(`currency_id must be the wallet's currency, ${expected.currency}.`);
  if (info.walletId != null && expected.wallet && info.walletId.toLowerCase() !== expected.wallet.id) throw failure('wallet_id does not match.');
  if (info.paymentType != null && info.paymentType.length > 64) throw failure('payment_type is at most 64 characters.');
}

/** The agent named by debit_user_info: a company admin of this company, by id, username or wallet. */
async function resolveAgent(db: Sql, merchantId: string, info: PartyInfo, currency: string): Promise<WalletUser> {
  const failure = fail('INVALID_DEBIT_USER_INFO', 'agent');
  let agentWallet: Wallet | null = null;
  let agent: WalletUser | null = null;
  if (info.walletId != null) {
    if (!HEX_ID.test(info.walletId.toLowerCase())) throw failure('debit_user_info.wallet_id is 32 hex characters.');
    const found = await findWallet(db, merchantId, info.walletId);
    if (!found) throw failure('debit_user_info.wallet_id is not a wallet of this company.');
    agentWallet = found;
    agent = found.user;
  } else if (info.userId != null) {
    agent = await findWalletUser(db, merchantId, 'id', info.userId.toLowerCase());
  } else if (info.username != null) {
    agent = await findWalletUser(db, merchantId, 'username', info.username);
  } else throw failure('debit_user_info names the agent by user_id, username or wallet_id.');
  if (!agent) throw failure('debit_user_info does not name a user of this company.');
  if (agent.type !== 'agent') throw failure('debit_user_info must name a company admin (agent, user_type 1).');
  checkParty(info, { wallet: agentWallet, user: agent, currency }, failure);
  return agent;
}

async function findWalletUser(db: Sql, merchantId: string, by: 'id' | 'username', value: string): Promise<WalletUser | null> {
  const [row] = await db.$queryRawUnsafe<{ id: string; username: string; type: string; created_at: Date }[]>(
    `SELECT id, username, type, created_at FROM wallet_users WHERE ${by} = $1 AND merchant_id = $2`,
    value,
    merchantId,
  );
  return row ? { id: row.id, merchantId, username: row.username, type: row.type, createdAt: row.created_at } : null;
}

/** Validates and normalises a top-up request; everything it checks is immutable, so a replay judges alike. */
async function prepareTopUp(db: Sql, merchantId: string, request: TopUpRequest): Promise<PreparedTopUp> {
  const walletId = request.walletId.trim().toLowerCase();
  if (!HEX_ID.test(walletId)) throw new WalletError('INVALID_WALLET_ID', 'wallet_id is 32 hex characters.', 'walletId');
  const wallet = await findWallet(db, merchantId, walletId);
  if (!wallet) throw new WalletError('WALLET_NOT_FOUND', 'Wallet not found.', 'walletId');
  const amount = toMinor(request.amount, wallet.currency, fail('INVALID_AMOUNT', 'amount'), 1n);
  const txnCode = normalizeTxnCode(request.txnCode, fail('INVALID_TXN_CODE', 'txnCode'));
  if (!isPaymentMode(request.paymentMode)) throw new WalletError('INVALID_PAYMENT_MODE', 'payment_mode is 1 (card) or 2 (bank).', 'paymentMode');
  const note = request.note ?? null;
  if (note !== null && note.length > MAX_NOTE) throw new WalletError('INVALID_NOTE', `note is at most ${MAX_NOTE} characters.`, 'note');
  const agent = request.agent ? await resolveAgent(db, merchantId, request.agent, wallet.currency) : null;
  if (request.user) checkParty(request.user, { wallet, user: wallet.user, currency: wallet.currency }, fail('INVALID_CREDIT_USER_INFO', 'user'));
  const deviceIds = request.deviceIds ?? [];
  if (deviceIds.length > 10 || deviceIds.some((id) => id.length === 0 || id.length > 128)) {
    throw new WalletError('INVALID_DEVICE_INFO', 'txn_device_info holds at most 10 device_id values of 1 to 128 characters.', 'deviceIds');
  }
  const requestId = request.requestId ?? null;
  if (requestId !== null && (requestId.length === 0 || requestId.length > MAX_REQUEST_ID || /[\u0000-\u001f]/.test(requestId))) {
    throw new WalletError('INVALID_META_DATA', `wallet_topup_request_id is 1 to ${MAX_REQUEST_ID} printable characters.`, 'idempotencyKey');
  }
  return {
    merchantId,
    wallet,
    amount,
    txnCode,
    paymentMode: request.paymentMode,
    note,
    agentUserId: agent?.id ?? null,
    agentPaymentType: request.agent?.paymentType ?? null,
    userPaymentType: request.user?.paymentType ?? null,
    cardInfo: prepareCardInfo(request.cardInfo),
    paymentResponse: preparePaymentResponse(request.paymentResponse),
    deviceIds,
    expectedCharges:
      request.expectedCharges == null
        ? null
        : toMinor(request.expectedCharges, wallet.currency, fail('INVALID_CHARGES_INFO', 'expectedCharges'), 0n),
    requestId,
  };
}

/** The company's fee rules for a transaction code and currency; raw SQL, so a top-up reads them in its raw transaction. */
async function feeRules(db: Sql, merchantId: string, txnCode: string, currency: string) {
  const rows = await db.$queryRawUnsafe<
    { id: string; txn_code: string; payment_mode: number | null; fixed: bigint; percent_basis_points: number; min: bigint | null; max: bigint | null }[]
  >(
    `SELECT id, txn_code, payment_mode, fixed, percent_basis_points, min, max FROM wallet_fee_rules
     WHERE merchant_id = $1 AND txn_code = $2 AND currency = $3 ORDER BY created_at, id`,
    merchantId,
    txnCode,
    currency,
  );
  return rows.map((row) => ({
    id: row.id,
    txnCode: row.txn_code,
    paymentMode: row.payment_mode,
    fixed: row.fixed,
    percentBasisPoints: row.percent_basis_points,
    min: row.min,
    max: row.max,
  }));
}

/** The charges of a prepared top-up under the company's current rules. */
async function charge(db: Sql, topUp: PreparedTopUp): Promise<TopUpQuote> {
  const rule = selectRule(await feeRules(db, topUp.merchantId, topUp.txnCode, topUp.wallet.currency), topUp.paymentMode);
  const charges: AppliedCharge[] = [];
  if (rule) {
    const { fee, percentPart } = calculateFee(topUp.amount, rule);
    charges.push({
      ruleId: rule.id,
      txnCode: rule.txnCode,
      paymentMode: rule.paymentMode,
      fixed: rule.fixed,
      percentBasisPoints: rule.percentBasisPoints,
      min: rule.min,
      max: rule.max,
      percentPart,
      amount: fee,
    });
  }
  const totalCharges = charges.reduce((sum, item) => sum + item.amount, 0n);
  const { currency } = topUp.wallet;
  if (topUp.expectedCharges !== null && topUp.expectedCharges !== totalCharges) {
    throw new WalletError(
      'CHARGES_CHANGED',
      `The charges are now ${formatMajorAmount(totalCharges, currency)} ${currency}, not ${formatMajorAmount(topUp.expectedCharges, currency)}: quote again.`,
      'expectedCharges',
    );
  }
  if (totalCharges >= topUp.amount) {
    throw new WalletError(
      'FEE_EXCEEDS_AMOUNT',
      `The charges (${formatMajorAmount(totalCharges, currency)} ${currency}) leave nothing to add to the wallet.`,
      'amount',
    );
  }
  return {
    walletId: topUp.wallet.id,
    currency,
    txnCode: topUp.txnCode,
    paymentMode: topUp.paymentMode,
    amount: topUp.amount,
    totalCharges,
    creditedAmount: topUp.amount - totalCharges,
    charges,
  };
}

/** The fee calculation for a prospective top-up; moves nothing. */
export async function quoteTopUp(db: Sql, merchantId: string, request: TopUpRequest): Promise<TopUpQuote> {
  return charge(db, await prepareTopUp(db, merchantId, request));
}

async function applyTopUp(tx: Sql, topUp: PreparedTopUp, now: Date): Promise<TopUpResult> {
  const quote = await charge(tx, topUp);
  const { merchantId, wallet } = topUp;
  const specs: AccountSpec[] = [
    { merchantId, name: walletAccountName(wallet.id), kind: 'wallet', currency: wallet.currency, floor: 0n },
    { merchantId, name: feeAccountName(wallet.currency), kind: 'wallet_fees', currency: wallet.currency, floor: 0n },
    { merchantId, name: clearingAccountName(wallet.currency, topUp.paymentMode), kind: 'wallet_topup_clearing', currency: wallet.currency, floor: null },
  ];
  const accounts = await openAccounts(tx, specs);
  const [walletAccount, feeAccount, clearingAccount] = specs.map((spec) => accounts.get(spec.name)!) as [Account, Account, Account];
  const id = transactionId(now);
  const transfer = (suffix: string, creditAccountId: string, amount: bigint, code: string) => ({
    merchantId,
    key: `wallet-topup:${id}:${suffix}`,
    debitAccountId: clearingAccount.id,
    creditAccountId,
    amount,
    currency: wallet.currency,
    code,
  });
  // Every top-up of a company credits its fee account from its clearing account: those are locked
  // last (see prepareTransfers), by the transaction's last statement, for its end and the commit only.
  const writes = new WriteBatch();
  const outcomes = await prepareTransfers(
    tx,
    [
      transfer('credit', walletAccount.id, quote.creditedAmount, 'wallet.topup'),
      ...(quote.totalCharges > 0n ? [transfer('fee', feeAccount.id, quote.totalCharges, 'wallet.topup_fee')] : []),
    ],
    now,
    // The keys derive from this top-up's new transaction id.
    { writes, keysChecked: true },
  );
  const refused = outcomes.find((outcome) => !outcome.ok);
  if (refused && !refused.ok) throw new Error(`the ledger refused a top-up transfer: ${refused.reason}`);
  // Top-ups: the legacy txn_number equals the id.
  writes.add(
    `INSERT INTO wallet_transactions
       (id, txn_number, merchant_id, wallet_id, kind, status, currency, amount, fee, credited_amount, txn_code, payment_mode,
        charges, note, agent_user_id, agent_payment_type, user_payment_type, card_info, payment_response, device_ids, request_id, created_at)
     VALUES ($1, $1, $2, $3, 'topup', $4::int, $5, $6::bigint, $7::bigint, $8::bigint, $9, $10::int,
             $11::jsonb, $12, $13, $14, $15, $16::jsonb, $17::jsonb, $18::text[], $19, $20::timestamptz)`,
    id,
    merchantId,
    wallet.id,
    TXN_STATUS.SUCCESS,
    wallet.currency,
    quote.amount.toString(),
    quote.totalCharges.toString(),
    quote.creditedAmount.toString(),
    topUp.txnCode,
    topUp.paymentMode,
    JSON.stringify(quote.charges.map(encodeCharge)),
    topUp.note,
    topUp.agentUserId,
    topUp.agentPaymentType,
    topUp.userPaymentType,
    topUp.cardInfo == null ? null : JSON.stringify(topUp.cardInfo),
    topUp.paymentResponse == null ? null : JSON.stringify(topUp.paymentResponse),
    topUp.deviceIds,
    topUp.requestId,
    now.toISOString(),
  );
  await recordEvents(
    writes,
    [
      {
        merchantId,
        type: 'wallet.topped_up',
        topic: 'WALLET',
        objectId: wallet.id,
        data: {
          transactionId: id,
          walletId: wallet.id,
          currency: wallet.currency,
          amount: quote.amount.toString(),
          fee: quote.totalCharges.toString(),
          creditedAmount: quote.creditedAmount.toString(),
        },
      },
    ],
    now,
  );
  // The clearing account debited has no floor: settling cannot be refused.
  await writes.run(tx);
  return {
    transactionId: id,
    txnNumber: id,
    txnStatus: TXN_STATUS.SUCCESS,
    walletId: wallet.id,
    currency: wallet.currency,
    amount: quote.amount,
    fee: quote.totalCharges,
    creditedAmount: quote.creditedAmount,
  };
}

/**
 * Tops a wallet up. With a request id, at most once: a retry with the same id and the same
 * request answers the first result and moves nothing; the same id with another request is
 * refused. Without one, every call is a new top-up.
 */
export async function topUpWallet(
  deps: Pick<Deps, 'sql' | 'relay' | 'clock'>,
  merchantId: string,
  request: TopUpRequest,
): Promise<{ result: TopUpResult; replayed: boolean }> {
  const topUp = await prepareTopUp(deps.sql, merchantId, request);
  // Everything the caller asked for, normalised, so that a REST retry of a GraphQL top-up matches.
  const payload = {
    walletId: topUp.wallet.id,
    amount: topUp.amount,
    txnCode: topUp.txnCode,
    paymentMode: topUp.paymentMode,
    note: topUp.note,
    agentUserId: topUp.agentUserId,
    agentPaymentType: topUp.agentPaymentType,
    userPaymentType: topUp.userPaymentType,
    cardInfo: topUp.cardInfo,
    paymentResponse: topUp.paymentResponse,
    deviceIds: topUp.deviceIds,
    expectedCharges: topUp.expectedCharges,
  };
  // A raw transaction: every statement of the top-up itself is raw SQL.
  const { value, replayed } = await idempotentSql(
    deps,
    { merchantId, key: topUp.requestId, namespace: 'wallet-topup', scope: 'wallets:topup', payload },
    (tx) => applyTopUp(tx, topUp, deps.clock.now()),
  );
  return { result: value, replayed };
}

// Charges are kept on the transaction as JSON, with amounts as decimal strings.
type StoredCharge = { [K in keyof AppliedCharge]: AppliedCharge[K] extends bigint ? string : AppliedCharge[K] extends bigint | null ? string | null : AppliedCharge[K] };

function encodeCharge(charge: AppliedCharge): StoredCharge {
  return {
    ...charge,
    fixed: charge.fixed.toString(),
    min: charge.min?.toString() ?? null,
    max: charge.max?.toString() ?? null,
    percentPart: charge.percentPart.toString(),
    amount: charge.amount.toString(),
  };
}

export function decodeCharges(stored: unknown): AppliedCharge[] {
  return (stored as StoredCharge[]).map((charge) => ({
    ...charge,
    fixed: BigInt(charge.fixed),
    min: charge.min === null ? null : BigInt(charge.min),
    max: charge.max === null ? null : BigInt(charge.max),
    percentPart: BigInt(charge.percentPart),
    amount: BigInt(charge.amount),
  }));
}

export interface TransactionTotals {
  kind: string;
  status: number;
  paymentMode: number;
  currency: string;
  count: number;
  amount: bigint;
  fee: bigint;
  creditedAmount: bigint;
}

/** Wallet transactions per kind, status, payment mode and currency: how many, and their amounts. */
export async function transactionTotals(db: Db, merchantId: string): Promise<TransactionTotals[]> {
  const rows = await db.walletTransaction.groupBy({
    by: ['kind', 'status', 'paymentMode', 'currency'],
    where: { merchantId },
    _count: { _all: true },
    _sum: { amount: true, fee: true, creditedAmount: true },
    orderBy: [{ kind: 'asc' }, { status: 'asc' }, { paymentMode: 'asc' }, { currency: 'asc' }],
  });
  return rows.map((row) => ({
    kind: row.kind,
    status: row.status,
    paymentMode: row.paymentMode,
    currency: row.currency,
    count: row._count._all,
    amount: row._sum.amount ?? 0n,
    fee: row._sum.fee ?? 0n,
    creditedAmount: row._sum.creditedAmount ?? 0n,
  }));
}
