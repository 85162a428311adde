/**
 * The ledger: the only code that moves money.
 *
 * Every transfer moves `amount` minor units (bigint) from a debit account to a credit account of
 * the same currency, so entries sum to zero by construction. An account's balance is
 * `credits_posted - debits_posted`; a pending transfer reserves funds (debits_pending and
 * credits_pending) until it is posted or voided, once. Where an account has a floor,
 * `credits_posted - debits_posted - debits_pending >= floor` holds after every transfer.
 *
 * Every function here must run inside the caller's database transaction, so that the transfer,
 * the caller's idempotency record and its outbox event commit together; or, with prepareTransfers,
 * write them all in the caller's one statement (a WriteBatch). Accounts are locked (in id order,
 * so two transfers never deadlock) before balances are read, either first (createTransfers) or by
 * the last part of the statement that writes the transfers (prepareTransfers), so concurrent
 * transfers on one account serialise and never lose an update or overdraw a floor. The lock is
 * `FOR NO KEY UPDATE`, the one an update of the balances takes anyway. Writing a transfer takes no
 * lock on its accounts: the database checks once per statement, over all the transfers it wrote,
 * that their accounts exist, and refuses any deletion of an account (migration
 * `statement_reference_checks`), so a batch that writes its transfers before locking
 * (prepareTransfers) waits for nothing until its last part. A batch costs a fixed number of
 * statements whatever its size. Every transfer is also recorded in the audit trail (who, what,
 * when, why), in the same transaction.
 */
import type { AuditActor } from '../audit/actor.ts';
import { recordAudit, type AuditedTransfer } from '../audit/audit.ts';
import { WriteBatch } from '../db/write-batch.ts';
import { unnestRows, type Sql } from '../db/sql.ts';
import { AppError } from '../errors.ts';
import { uuidv7 } from '../lib/ids.ts';

export interface AccountSpec {
  merchantId: string;
  /** Stable name, unique per merchant, e.g. `pocket:<groupId>:<phone>`. */
  name: string;
  kind: string;
  currency: string;
  floor: bigint | null;
}

export interface Account extends AccountSpec {
  id: string;
  debitsPosted: bigint;
  creditsPosted: bigint;
  debitsPending: bigint;
  creditsPending: bigint;
}

export interface TransferRequest {
  merchantId: string;
  /** Unique per merchant: a key never moves money twice. */
  key: string;
  debitAccountId: string;
  creditAccountId: string;
  amount: bigint;
  currency: string;
  /** The business reason, e.g. `pocket.charge`. */
  code: string;
  /** Makes it a pending (two-phase) transfer that reserves the amount until posted or voided. */
  pending?: { expiresAt: Date | null };
  /** Who asked, for the audit trail, when it is not the request the ledger runs in (coalesced work). */
  actor?: AuditActor;
}

export interface Transfer {
  id: string;
  merchantId: string;
  key: string;
  debitAccountId: string;
  creditAccountId: string;
  amount: bigint;
  currency: string;
  kind: 'posted' | 'pending' | 'post' | 'void';
  pendingId: string | null;
  expiresAt: Date | null;
  code: string;
  createdAt: Date;
}

export type TransferFailure =
  | 'INVALID_AMOUNT'
  | 'SAME_ACCOUNT'
  | 'ACCOUNT_NOT_FOUND'
  | 'CURRENCY_MISMATCH'
  | 'DUPLICATE_KEY'
  | 'FLOOR_EXCEEDED';

export type TransferOutcome = { ok: true; transfer: Transfer } | { ok: false; reason: TransferFailure };

/** The largest total an account keeps of its debits or credits, posted or pending (a PostgreSQL bigint). */
export const MAX_TOTAL = 2n ** 63n - 1n;

/**
 * `total + amount`, refused as the caller's error when an account's column could not hold it: no
 * currency's money comes near, but amounts up to 2^53 each, committed a thousand times to one
 * account, would.
 */
function raised(total: bigint, amount: bigint): bigint {
  const sum = total + amount;
  if (sum > MAX_TOTAL) {
    throw new AppError('VALIDATION_FAILED', `The amount would take an account past the largest total the ledger keeps (${MAX_TOTAL} minor units).`, 'amount');
  }
  return sum;
}

export const balance = (account: Pick<Account, 'creditsPosted' | 'debitsPosted'>): bigint =>
  account.creditsPosted - account.debitsPosted;

export const availableBalance = (account: Pick<Account, 'creditsPosted' | 'debitsPosted' | 'debitsPending'>): bigint =>
  account.creditsPosted - account.debitsPosted - account.debitsPending;

interface AccountRow {
  id: string;
  merchant_id: string;
  name: string;
  kind: string;
  currency: string;
  floor: bigint | null;
  debits_posted: bigint;
  credits_posted: bigint;
  debits_pending: bigint;
  credits_pending: bigint;
}

const ACCOUNT_COLUMNS = `id, merchant_id, name, kind, currency, floor, debits_posted, credits_posted, debits_pending, credits_pending`;

function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    merchantId: row.merchant_id,
    name: row.name,
    kind: row.kind,
    currency: row.currency,
    floor: row.floor,
    debitsPosted: row.debits_posted,
    creditsPosted: row.credits_posted,
    debitsPending: row.debits_pending,
    creditsPending: row.credits_pending,
  };
}

/** Opens the accounts that do not exist yet (by merchant and name) and returns all of them by name. */
export async function openAccounts(db: Sql, specs: AccountSpec[]): Promise<Map<string, Account>> {
  if (specs.length === 0) return new Map();
  const merchantId = specs[0]!.merchantId;
  if (specs.some((spec) => spec.merchantId !== merchantId)) throw new Error('openAccounts takes one merchant at a time');
  await db.$executeRawUnsafe(
    `INSERT INTO ledger_accounts (id, merchant_id, name, kind, currency, floor)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
     ON CONFLICT (merchant_id, name) DO NOTHING`,
    specs.map(() => uuidv7()),
    specs.map((spec) => spec.merchantId),
    specs.map((spec) => spec.name),
    specs.map((spec) => spec.kind),
    specs.map((spec) => spec.currency),
    specs.map((spec) => (spec.floor === null ? null : spec.floor.toString())),
  );
  return findAccountsByName(
    db,
    merchantId,
    specs.map((spec) => spec.name),
  );
}

export async function findAccountsByName(db: Sql, merchantId: string, names: string[]): Promise<Map<string, Account>> {
  const rows = await db.$queryRawUnsafe<AccountRow[]>(
    `SELECT ${ACCOUNT_COLUMNS} FROM ledger_accounts WHERE merchant_id = $1 AND name = ANY($2::text[])`,
    merchantId,
    names,
  );
  return new Map(rows.map((row) => [row.name, toAccount(row)]));
}

export async function findAccount(db: Sql, merchantId: string, name: string): Promise<Account | null> {
  return (await findAccountsByName(db, merchantId, [name])).get(name) ?? null;
}

/** Changes an account's floor (e.g. a spending cap). Refused if the current balance is already below it. */
export async function setFloor(db: Sql, accountId: string, floor: bigint | null): Promise<boolean> {
  const changed = await db.$executeRawUnsafe(
    `UPDATE ledger_accounts SET floor = $2::bigint, updated_at = now()
     WHERE id = $1 AND ($2::bigint IS NULL OR credits_posted - debits_posted - debits_pending >= $2::bigint)`,
    accountId,
    floor === null ? null : floor.toString(),
  );
  return changed === 1;
}

/**
 * The accounts by id, locked in id order (so two transactions never deadlock). Locked through a
 * join with the ids rather than `id = ANY($1)`: a row another transaction changed while this one
 * waited for its lock is checked again (EvalPlanQual), and with `= ANY` each check prepared the
 * whole array again (1,001 ids for a batch of 1,000 charges, a tenth of PostgreSQL's time under 4
 * clients); through the join, a check reads its one row. settleLast locks the same way.
 */
async function lockAccounts(db: Sql, ids: string[]): Promise<Map<string, Account>> {
  const rows = await db.$queryRawUnsafe<AccountRow[]>(
    `SELECT ${ACCOUNT_COLUMNS} FROM unnest($1::text[]) AS k(id) JOIN ledger_accounts USING (id) ORDER BY ledger_accounts.id FOR NO KEY UPDATE OF ledger_accounts`,
    inIdOrder(ids),
  );
  return new Map(rows.map((row) => [row.id, toAccount(row)]));
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Distinct ids, sorted: locking in id order then sorts rows already in order, which PostgreSQL's
 * sort finds at once. Code-unit order is the database's for ids: they are ASCII, in the "C"
 * collation (migration `bytewise_identifiers`).
 */
const inIdOrder = (ids: Iterable<string>): string[] => [...new Set(ids)].sort(byCodeUnits);

/** What never changes about an account: it is never removed, and only its floor and balances change. */
type AccountFacts = Pick<Account, 'id' | 'merchantId' | 'currency'>;

/** Facts of accounts seen, by id; ids are never reused, so a fact once read holds for good. */
const knownAccounts = new Map<string, AccountFacts>();
const KNOWN_ACCOUNTS_KEPT = 100_000;

/**
 * The facts of the accounts that exist, by id, read only for ids not seen before. An id read in a
 * transaction that then rolled back stays known, harmlessly: nothing holds that id any more.
 */
async function accountFacts(db: Sql, ids: string[]): Promise<Map<string, AccountFacts>> {
  const facts = new Map<string, AccountFacts>();
  const unknown: string[] = [];
  for (const id of new Set(ids)) {
    const known = knownAccounts.get(id);
    if (known) facts.set(id, known);
    else unknown.push(id);
  }
  if (unknown.length === 0) return facts;
  const rows = await db.$queryRawUnsafe<Pick<AccountRow, 'id' | 'merchant_id' | 'currency'>[]>(
    `SELECT id, merchant_id, currency FROM ledger_accounts WHERE id = ANY($1::text[])`,
    unknown,
  );
  for (const row of rows) {
    const fact = { id: row.id, merchantId: row.merchant_id, currency: row.currency };
    if (knownAccounts.size >= KNOWN_ACCOUNTS_KEPT) knownAccounts.delete(knownAccounts.keys().next().value!);
    knownAccounts.set(row.id, fact);
    facts.set(row.id, fact);
  }
  return facts;
}

/**
 * An account's debits and credits, posted (dp, cp) and pending (dq, cq): what a batch adds to
 * them (settleLast), or their values (saveBalances).
 */
interface Move {
  id: string;
  dp: bigint;
  cp: bigint;
  dq: bigint;
  cq: bigint;
}

const MOVE_ROWS = unnestRows<Move>([
  ['id', 'text', (m) => m.id],
  ['dp', 'bigint', (m) => m.dp.toString()],
  ['cp', 'bigint', (m) => m.cp.toString()],
  ['dq', 'bigint', (m) => m.dq.toString()],
  ['cq', 'bigint', (m) => m.cq.toString()],
]);

function saveBalances(writes: WriteBatch, accounts: Account[]): void {
  if (accounts.length === 0) return;
  writes.add(
    `UPDATE ledger_accounts AS a
     SET debits_posted = v.dp, credits_posted = v.cp, debits_pending = v.dq, credits_pending = v.cq, updated_at = now()
     FROM (SELECT ${MOVE_ROWS.select} FROM ${MOVE_ROWS.unnest} AS v(${MOVE_ROWS.names})) AS v
     WHERE a.id = v.id`,
    ...MOVE_ROWS.params(accounts.map((a) => ({ id: a.id, dp: a.debitsPosted, cp: a.creditsPosted, dq: a.debitsPending, cq: a.creditsPending }))),
  );
}

const TRANSFER_ROWS = unnestRows<Transfer>([
  ['id', 'text', (t) => t.id],
  ['merchant_id', 'text', (t) => t.merchantId],
  ['key', 'text', (t) => t.key],
  ['debit_account_id', 'text', (t) => t.debitAccountId],
  ['credit_account_id', 'text', (t) => t.creditAccountId],
  ['amount', 'bigint', (t) => t.amount.toString()],
  ['currency', 'text', (t) => t.currency],
  ['kind', 'text', (t) => t.kind],
  ['pending_id', 'text', (t) => t.pendingId],
  ['expires_at', 'timestamptz', (t) => t.expiresAt?.toISOString() ?? null],
  ['code', 'text', (t) => t.code],
  ['created_at', 'timestamptz', (t) => t.createdAt.toISOString()],
]);

function insertTransfers(writes: WriteBatch, unsorted: Transfer[]): void {
  if (unsorted.length === 0) return;
  // In key order: concurrent transactions writing the same keys take the index entries in one order.
  const transfers = [...unsorted].sort((a, b) => (a.merchantId === b.merchantId ? (a.key < b.key ? -1 : 1) : a.merchantId < b.merchantId ? -1 : 1));
  // A concurrent transaction inserting the same key makes this one wait for it and then fail
  // on the unique index: the key is spent at most once even if a caller skipped its own check.
  writes.add(
    `INSERT INTO ledger_transfers (${TRANSFER_ROWS.names}) SELECT ${TRANSFER_ROWS.select} FROM ${TRANSFER_ROWS.unnest} AS v(${TRANSFER_ROWS.names})`,
    ...TRANSFER_ROWS.params(transfers),
  );
}

export interface CreateTransfersOptions {
  /** Holds the writes, for the caller to run with its own (see WriteBatch); by default they run at once. */
  writes?: WriteBatch;
  /**
   * The ledger does not look the keys up: each derives from a record the caller found absent, or
   * writes in the same statement under a unique index of its own. A key used before, or meanwhile
   * by a concurrent transaction, still fails the write, on the unique index, and moves nothing.
   */
  keysChecked?: boolean;
}

/** The requests' keys already spent, as `merchant NUL key`. */
async function spentKeys(db: Sql, requests: TransferRequest[], keysChecked: boolean | undefined): Promise<Set<string>> {
  const spent = new Set<string>();
  if (keysChecked) return spent;
  const keysByMerchant = new Map<string, string[]>();
  for (const r of requests) {
    const keys = keysByMerchant.get(r.merchantId);
    if (keys) keys.push(r.key);
    else keysByMerchant.set(r.merchantId, [r.key]);
  }
  for (const [merchantId, keys] of keysByMerchant) {
    const rows = await db.$queryRawUnsafe<{ key: string }[]>(
      `SELECT key FROM ledger_transfers WHERE merchant_id = $1 AND key = ANY($2::text[])`,
      merchantId,
      keys,
    );
    for (const row of rows) spent.add(`${merchantId}\u0000${row.key}`);
  }
  return spent;
}

interface Judged {
  outcomes: TransferOutcome[];
  accepted: Transfer[];
  audited: AuditedTransfer[];
  /** The accounts whose balances the accepted transfers changed (in `balances`, in place). */
  touched: Set<Account>;
}

/**
 * Judges transfers in order, each on its own. With `balances` (the accounts, locked), checks the
 * floors and moves the balances in memory; without, floors are left for the caller to check
 * (see prepareTransfers).
 */
function judgeTransfers(
  requests: TransferRequest[],
  accounts: Map<string, AccountFacts>,
  spent: Set<string>,
  now: Date,
  balances?: Map<string, Account>,
): Judged {
  const touched = new Set<Account>();
  const accepted: Transfer[] = [];
  const audited: AuditedTransfer[] = [];
  const outcomes = requests.map((r): TransferOutcome => {
    const debit = accounts.get(r.debitAccountId);
    const credit = accounts.get(r.creditAccountId);
    if (r.amount <= 0n) return { ok: false, reason: 'INVALID_AMOUNT' };
    if (r.debitAccountId === r.creditAccountId) return { ok: false, reason: 'SAME_ACCOUNT' };
    if (!debit || !credit || debit.merchantId !== r.merchantId || credit.merchantId !== r.merchantId) {
      return { ok: false, reason: 'ACCOUNT_NOT_FOUND' };
    }
    if (debit.currency !== r.currency || credit.currency !== r.currency) return { ok: false, reason: 'CURRENCY_MISMATCH' };
    const keyId = `${r.merchantId}\u0000${r.key}`;
    if (spent.has(keyId)) return { ok: false, reason: 'DUPLICATE_KEY' };
    if (balances) {
      const [from, to] = [balances.get(debit.id)!, balances.get(credit.id)!];
      if (from.floor !== null && availableBalance(from) - r.amount < from.floor) return { ok: false, reason: 'FLOOR_EXCEEDED' };
      if (r.pending) {
        from.debitsPending = raised(from.debitsPending, r.amount);
        to.creditsPending = raised(to.creditsPending, r.amount);
      } else {
        from.debitsPosted = raised(from.debitsPosted, r.amount);
        to.creditsPosted = raised(to.creditsPosted, r.amount);
      }
      touched.add(from).add(to);
    }
    spent.add(keyId);
    const transfer: Transfer = {
      id: uuidv7(now.getTime()),
      merchantId: r.merchantId,
      key: r.key,
      debitAccountId: r.debitAccountId,
      creditAccountId: r.creditAccountId,
      amount: r.amount,
      currency: r.currency,
      kind: r.pending ? 'pending' : 'posted',
      pendingId: null,
      expiresAt: r.pending?.expiresAt ?? null,
      code: r.code,
      createdAt: now,
    };
    accepted.push(transfer);
    audited.push({ transfer, actor: r.actor });
    return { ok: true, transfer };
  });
  return { outcomes, accepted, audited, touched };
}

/**
 * Applies transfers in order, each judged on its own: one that would break a floor fails alone
 * and the following ones see the balances without it. Costs three statements for any batch size
 * (the accounts' locks, the keys already spent, then every write at once); fewer with options.
 */
export async function createTransfers(db: Sql, requests: TransferRequest[], now = new Date(), options: CreateTransfersOptions = {}): Promise<TransferOutcome[]> {
  if (requests.length === 0) return [];
  const accounts = await lockAccounts(
    db,
    requests.flatMap((r) => [r.debitAccountId, r.creditAccountId]),
  );
  const judged = judgeTransfers(requests, accounts, await spentKeys(db, requests, options.keysChecked), now, accounts);
  const batch = options.writes ?? new WriteBatch();
  insertTransfers(batch, judged.accepted);
  saveBalances(batch, [...judged.touched]);
  recordAudit(batch, judged.audited, now);
  if (!options.writes) await batch.run(db);
  return judged.outcomes;
}

/** The SQLSTATE of a settling statement refused because a debited account's floor would not hold. */
const FLOOR_REFUSED = 'LF001';

/** PostgreSQL's SQLSTATE for a bigint that overflowed: here, an account's total past MAX_TOTAL. */
const TOTAL_OVERFLOWED = '22003';

/**
 * The error `WriteBatch.run` throws when the transfers prepared into it would break a floor, or
 * take an account's total past MAX_TOTAL (nothing was written): createTransfers, judging them one
 * by one, tells which.
 */
export const isSettleRefusal = (error: unknown): boolean => {
  const code = (error as { code?: unknown } | null)?.code;
  return code === FLOOR_REFUSED || code === TOTAL_OVERFLOWED;
};

/**
 * Transfers for a caller whose accounts are contended (every charge of a pocket group debits its
 * funding account): they join the caller's `writes`, and the batch's last statement (see
 * WriteBatch.last), run once every other write of the batch is in, locks the accounts in id order
 * and moves the balances. A busy account is held for the end of one statement and the commit,
 * never while a round trip to the caller or another write's wait on a unique index goes on.
 *
 * Everything but floors is judged as createTransfers does, on the accounts' facts that never
 * change (their merchant and currency; see accountFacts), read once per process. Floors are
 * checked on the locked balances, against every debit of the batch and none of its credits: as
 * each debit lowers the balance, an account within its floor after all of them was within it after
 * each, so when the batch runs the outcomes are exactly createTransfers'. When some transfer would break a floor, `writes.run`
 * fails as a whole (see isSettleRefusal) and writes nothing; the caller can then use
 * createTransfers, which judges the transfers one by one.
 */
export async function prepareTransfers(
  db: Sql,
  requests: TransferRequest[],
  now: Date,
  options: CreateTransfersOptions & { writes: WriteBatch },
): Promise<TransferOutcome[]> {
  const accounts = await accountFacts(
    db,
    requests.flatMap((r) => [r.debitAccountId, r.creditAccountId]),
  );
  const judged = judgeTransfers(requests, accounts, await spentKeys(db, requests, options.keysChecked), now);
  insertTransfers(options.writes, judged.accepted);
  recordAudit(options.writes, judged.audited, now);
  // What the accepted transfers add to each account's balances.
  const moves = new Map<string, Move>();
  const move = (id: string) => moves.get(id) ?? moves.set(id, { id, dp: 0n, cp: 0n, dq: 0n, cq: 0n }).get(id)!;
  for (const t of judged.accepted) {
    if (t.kind === 'pending') {
      move(t.debitAccountId).dq += t.amount;
      move(t.creditAccountId).cq += t.amount;
    } else {
      move(t.debitAccountId).dp += t.amount;
      move(t.creditAccountId).cp += t.amount;
    }
  }
  settleLast(options.writes, [...moves.values()]);
  return judged.outcomes;
}

/**
 * The batch's last statement: once the batch's other writes are in (`written`), locks the accounts
 * in id order (the CTE is materialized, so run, before any row is updated), checks the debited
 * ones' floors on the locked balances, and adds the moves to the balances; a floor that would not
 * hold raises FLOOR_REFUSED (see the migration ledger_floor_check), which undoes the whole batch.
 */
function settleLast(writes: WriteBatch, moves: Move[]): void {
  if (moves.length === 0) return;
  // In id order, as inIdOrder; locked through a join, as lockAccounts does.
  moves.sort((a, b) => byCodeUnits(a.id, b.id));
  writes.last(
    `WITH moves AS (SELECT ${MOVE_ROWS.select} FROM ${MOVE_ROWS.unnest} AS v(${MOVE_ROWS.names})),
     locked AS MATERIALIZED (
       SELECT a.id, a.floor, a.credits_posted - a.debits_posted - a.debits_pending AS available
       FROM moves m JOIN ledger_accounts a ON a.id = m.id WHERE (SELECT rows FROM written) >= 0 ORDER BY a.id FOR NO KEY UPDATE OF a),
     applied AS (
       UPDATE ledger_accounts AS a
       SET debits_posted = a.debits_posted + m.dp, credits_posted = a.credits_posted + m.cp,
           debits_pending = a.debits_pending + m.dq, credits_pending = a.credits_pending + m.cq, updated_at = now()
       FROM moves m JOIN locked l ON l.id = m.id
       WHERE a.id = m.id AND ledger_floor_holds(l.floor IS NULL OR l.available - m.dp - m.dq >= l.floor)
       RETURNING a.id)
     SELECT count(*) FROM applied`,
    ...MOVE_ROWS.params(moves),
  );
}

/**
 * Columns are named, never `*`: statements are prepared per connection (see Sql), and a prepared
 * `SELECT *` fails once a migration adds a column.
 */
const TRANSFER_COLUMNS =
  'id, merchant_id, key, debit_account_id, credit_account_id, amount, currency, kind, pending_id, resolved_at, expires_at, code, created_at';

interface TransferRow {
  id: string;
  merchant_id: string;
  key: string;
  debit_account_id: string;
  credit_account_id: string;
  amount: bigint;
  currency: string;
  kind: Transfer['kind'];
  pending_id: string | null;
  resolved_at: Date | null;
  expires_at: Date | null;
  code: string;
  created_at: Date;
}

function toTransfer(row: TransferRow): Transfer {
  return {
    id: row.id,
    merchantId: row.merchant_id,
    key: row.key,
    debitAccountId: row.debit_account_id,
    creditAccountId: row.credit_account_id,
    amount: row.amount,
    currency: row.currency,
    kind: row.kind,
    pendingId: row.pending_id,
    expiresAt: row.expires_at,
    code: row.code,
    createdAt: row.created_at,
  };
}

export async function findTransfer(db: Sql, merchantId: string, id: string): Promise<Transfer | null> {
  const rows = await db.$queryRawUnsafe<TransferRow[]>(
    `SELECT ${TRANSFER_COLUMNS} FROM ledger_transfers WHERE id = $1 AND merchant_id = $2`,
    id,
    merchantId,
  );
  return rows[0] ? toTransfer(rows[0]) : null;
}

export type ResolveFailure = 'NOT_FOUND' | 'NOT_PENDING' | 'ALREADY_RESOLVED' | 'EXPIRED' | 'INVALID_AMOUNT';
export type ResolveOutcome =
  | { ok: true; transfer: Transfer; pending: Transfer }
  | { ok: false; reason: ResolveFailure; resolution?: Transfer };

/**
 * Posts (all of, or `amount` of, releasing the rest) or voids a pending transfer, exactly once:
 * the pending row is locked, and a second attempt answers ALREADY_RESOLVED with the resolution.
 * An expired pending transfer can only be voided.
 */
export async function resolvePendingTransfer(
  db: Sql,
  input: { merchantId: string; pendingId: string; action: 'post' | 'void'; amount?: bigint; key: string; code: string },
  now = new Date(),
): Promise<ResolveOutcome> {
  const rows = await db.$queryRawUnsafe<TransferRow[]>(
    `SELECT ${TRANSFER_COLUMNS} FROM ledger_transfers WHERE id = $1 AND merchant_id = $2 FOR UPDATE`,
    input.pendingId,
    input.merchantId,
  );
  const row = rows[0];
  if (!row) return { ok: false, reason: 'NOT_FOUND' };
  if (row.kind !== 'pending') return { ok: false, reason: 'NOT_PENDING' };
  const pending = toTransfer(row);
  if (row.resolved_at) {
    const resolution = await db.$queryRawUnsafe<TransferRow[]>(`SELECT ${TRANSFER_COLUMNS} FROM ledger_transfers WHERE pending_id = $1`, row.id);
    return { ok: false, reason: 'ALREADY_RESOLVED', ...(resolution[0] ? { resolution: toTransfer(resolution[0]) } : {}) };
  }
  if (input.action === 'post' && row.expires_at && row.expires_at.getTime() <= now.getTime()) {
    return { ok: false, reason: 'EXPIRED' };
  }
  const amount = input.action === 'post' ? (input.amount ?? row.amount) : row.amount;
  if (amount <= 0n || amount > row.amount) return { ok: false, reason: 'INVALID_AMOUNT' };

  const accounts = await lockAccounts(db, [row.debit_account_id, row.credit_account_id]);
  const debit = accounts.get(row.debit_account_id)!;
  const credit = accounts.get(row.credit_account_id)!;
  debit.debitsPending -= row.amount;
  credit.creditsPending -= row.amount;
  if (input.action === 'post') {
    debit.debitsPosted = raised(debit.debitsPosted, amount);
    credit.creditsPosted = raised(credit.creditsPosted, amount);
  }
  const transfer: Transfer = {
    ...pending,
    id: uuidv7(now.getTime()),
    key: input.key,
    amount,
    kind: input.action,
    pendingId: pending.id,
    expiresAt: null,
    code: input.code,
    createdAt: now,
  };
  const writes = new WriteBatch();
  insertTransfers(writes, [transfer]);
  writes.add(`UPDATE ledger_transfers SET resolved_at = $2::timestamptz WHERE id = $1`, row.id, now.toISOString());
  saveBalances(writes, [debit, credit]);
  recordAudit(writes, [{ transfer }], now);
  await writes.run(db);
  return { ok: true, transfer, pending };
}

/** Pending transfers past their expiry, oldest first, for the caller to void with its own bookkeeping. */
export async function findExpiredPendingTransfers(db: Sql, now: Date, limit = 100): Promise<Transfer[]> {
  const rows = await db.$queryRawUnsafe<TransferRow[]>(
    `SELECT ${TRANSFER_COLUMNS} FROM ledger_transfers
     WHERE kind = 'pending' AND resolved_at IS NULL AND expires_at <= $1::timestamptz
     ORDER BY expires_at LIMIT $2`,
    now.toISOString(),
    limit,
  );
  return rows.map(toTransfer);
}

export interface LedgerViolation {
  check: 'currency_sum' | 'cached_balance' | 'floor' | 'transfer_currency' | 'pending_resolution';
  detail: string;
}

/**
 * Checks the ledger's invariants over the whole database: per currency, credits equal debits;
 * every account's cached balances equal the sum of its transfers; no account is below its floor;
 * every transfer joins accounts of its own currency; each pending transfer is resolved at most once.
 */
export async function verifyLedger(db: Sql): Promise<{ accounts: number; transfers: number; violations: LedgerViolation[] }> {
  const violations: LedgerViolation[] = [];
  const sums = await db.$queryRawUnsafe<{ currency: string; posted: bigint; pending: bigint }[]>(
    `SELECT currency, SUM(credits_posted - debits_posted)::bigint AS posted, SUM(credits_pending - debits_pending)::bigint AS pending
     FROM ledger_accounts GROUP BY currency`,
  );
  for (const s of sums) {
    if (s.posted !== 0n || s.pending !== 0n) {
      violations.push({ check: 'currency_sum', detail: `${s.currency}: posted ${s.posted}, pending ${s.pending}` });
    }
  }
  const cached = await db.$queryRawUnsafe<{ id: string; name: string }[]>(
    `WITH moves AS (
       SELECT debit_account_id AS account_id,
              CASE WHEN kind IN ('posted', 'post') THEN amount ELSE 0 END AS dp, 0::bigint AS cp,
              CASE WHEN kind = 'pending' AND resolved_at IS NULL THEN amount ELSE 0 END AS dq, 0::bigint AS cq
       FROM ledger_transfers
       UNION ALL
       SELECT credit_account_id, 0, CASE WHEN kind IN ('posted', 'post') THEN amount ELSE 0 END,
              0, CASE WHEN kind = 'pending' AND resolved_at IS NULL THEN amount ELSE 0 END
       FROM ledger_transfers),
     totals AS (SELECT account_id, SUM(dp) dp, SUM(cp) cp, SUM(dq) dq, SUM(cq) cq FROM moves GROUP BY account_id)
     SELECT a.id, a.name FROM ledger_accounts a LEFT JOIN totals t ON t.account_id = a.id
     WHERE a.debits_posted <> COALESCE(t.dp, 0) OR a.credits_posted <> COALESCE(t.cp, 0)
        OR a.debits_pending <> COALESCE(t.dq, 0) OR a.credits_pending <> COALESCE(t.cq, 0)`,
  );
  for (const row of cached) violations.push({ check: 'cached_balance', detail: `${row.name} (${row.id})` });
  const floors = await db.$queryRawUnsafe<{ id: string; name: string }[]>(
    `SELECT id, name FROM ledger_accounts WHERE floor IS NOT NULL AND credits_posted - debits_posted - debits_pending < floor`,
  );
  for (const row of floors) violations.push({ check: 'floor', detail: `${row.name} (${row.id})` });
  const mixed = await db.$queryRawUnsafe<{ id: string }[]>(
    `SELECT t.id FROM ledger_transfers t
     JOIN ledger_accounts d ON d.id = t.debit_account_id JOIN ledger_accounts c ON c.id = t.credit_account_id
     WHERE d.currency <> t.currency OR c.currency <> t.currency OR t.amount <= 0`,
  );
  for (const row of mixed) violations.push({ check: 'transfer_currency', detail: row.id });
  const resolution = await db.$queryRawUnsafe<{ id: string }[]>(
    `SELECT p.id FROM ledger_transfers p LEFT JOIN ledger_transfers r ON r.pending_id = p.id
     WHERE p.kind = 'pending' AND ((p.resolved_at IS NULL) <> (r.id IS NULL) OR r.amount > p.amount)`,
  );
  for (const row of resolution) violations.push({ check: 'pending_resolution', detail: row.id });
  const [counts] = await db.$queryRawUnsafe<{ accounts: bigint; transfers: bigint }[]>(
    `SELECT (SELECT COUNT(*) FROM ledger_accounts) AS accounts, (SELECT COUNT(*) FROM ledger_transfers) AS transfers`,
  );
  return { accounts: Number(counts!.accounts), transfers: Number(counts!.transfers), violations };
}
