/**
 * Pockets: users' balances in a merchant's pocket groups, charged in batches from the group's
 * funding account and traced by the client's token.
 *
 * Invariants kept here:
 * - A token (UUIDv7) is spent by its first judgement, once per merchant, forever: its charge is
 *   recorded under the unique index (merchant_id, token) on pocket_charges, in the same statement
 *   as its transfer. A replay of the same charge answers the stored result; any other reuse
 *   answers DUPLICATE_TOKEN. A batch first takes its tokens for new: a token recorded before, or
 *   by a concurrent batch meanwhile, fails the write on that index, nothing is applied, and the
 *   batch runs again, reading the recorded ones.
 * - Money moves only through the ledger, keyed `pocket-charge:<token>`, from the group's funding
 *   account (floor -cap) to the pocket's account (floor 0).
 * - A batch's statement count does not depend on its size. It writes in one statement, which
 *   writes its records first and locks the accounts last (see prepareTransfers), so the group's
 *   funding account, which every charge debits, is held for the end of that statement and its
 *   commit. A batch that would take the funding account past the cap runs again, in a transaction,
 *   judged one by one with the accounts locked first (see createTransfers). Accounts are always
 *   locked in id order, so batches never deadlock on them; two batches sharing a token meet on its
 *   unique index, and one runs again.
 */
import type { Db, Prisma } from '../../db/database.ts';
import { unnestRows, type Sql, type SqlDatabase } from '../../db/sql.ts';
import { WriteBatch } from '../../db/write-batch.ts';
import { currentActor, type AuditActor } from '../../audit/actor.ts';
import { transactSql, type Deps } from '../../deps.ts';
import { AppError, invalid, notFound } from '../../errors.ts';
import { recordEventGroup } from '../../events/outbox.ts';
import type { PocketCharge, PocketGroup } from '../../generated/prisma/client.ts';
import { balance, createTransfers, findAccount, isSettleRefusal, openAccounts, prepareTransfers, setFloor, type Account, type TransferRequest } from '../../ledger/ledger.ts';
import { KeyedBatcher } from '../../lib/batcher.ts';
import { isUuidV7, uuidv7 } from '../../lib/ids.ts';
import { isChargeFailure, MAX_BATCH_SIZE, MAX_CHARGE_AMOUNT, PocketChargeError, type ChargeFailure } from './charge-failures.ts';
import { canonicalPhoneNumber } from './phone-number.ts';

export const POCKET_TOPIC = 'POCKET';
export const POCKET_CHARGED = 'pocket.charged';

export const fundingAccountName = (groupId: string) => `pocket-group:${groupId}:funding`;
export const pocketAccountName = (groupId: string, phoneNumber: string) => `pocket:${groupId}:${phoneNumber}`;

const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const CURRENCY = /^[A-Z]{3}$/;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The CLI and the demo seed hand over the client itself; a caller's transaction is used as it is. */
function inTransaction<T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  const client = db as Partial<Pick<Prisma, '$transaction'>>;
  return typeof client.$transaction === 'function' ? client.$transaction(fn) : fn(db);
}

// ---------------------------------------------------------------------------------------------
// Groups (operator side)

export interface CreatePocketGroupInput {
  merchantId: string;
  slug: string;
  name?: string | null;
  currency?: string;
  /** null or absent: no cap, the funding account may go negative without limit. */
  cap?: bigint | null;
}

export async function createPocketGroup(db: Db, input: CreatePocketGroupInput, now: Date): Promise<PocketGroup> {
  const currency = input.currency ?? 'IRR';
  const cap = input.cap ?? null;
  if (input.slug.length > 64 || !SLUG.test(input.slug)) {
    throw invalid('slug', 'A slug has 1 to 64 lowercase letters, digits and single hyphens, e.g. my-pocket-group.');
  }
  if (!CURRENCY.test(currency)) throw invalid('currency', 'A currency is a three-letter ISO 4217 code, e.g. IRR.');
  if (cap !== null && cap < 0n) throw invalid('cap', 'A cap is zero or more minor units.');
  if (!(await db.merchant.findUnique({ where: { id: input.merchantId } }))) throw notFound('Merchant');
  const taken = () => new AppError('CONFLICT', `The merchant already has a pocket group "${input.slug}".`, 'slug');
  if (await findPocketGroup(db, input.merchantId, input.slug)) throw taken();
  try {
    return await inTransaction(db, async (tx) => {
      const id = uuidv7(now.getTime());
      const accounts = await openAccounts(tx, [
        { merchantId: input.merchantId, name: fundingAccountName(id), kind: 'pocket_group_funding', currency, floor: cap === null ? null : -cap },
      ]);
      return tx.pocketGroup.create({
        data: {
          id,
          merchantId: input.merchantId,
          slug: input.slug,
          name: input.name ?? null,
          currency,
          fundingAccountId: accounts.get(fundingAccountName(id))!.id,
          cap,
          createdAt: now,
        },
      });
    });
  } catch (error) {
    // A concurrent create of the same slug lost the race on the unique index.
    if ((error as { code?: string }).code === 'P2002') throw taken();
    throw error;
  }
}

/** Raises a capped group's cap (and so lowers its funding account's floor) by `amount`. */
export async function fundPocketGroup(db: Db, input: { merchantId: string; slug: string; amount: bigint }): Promise<PocketGroup> {
  if (input.amount <= 0n) throw invalid('amount', 'The amount is a positive number of minor units.');
  return inTransaction(db, async (tx) => {
    // The row lock taken by this update serialises concurrent fundings of one group.
    const [raised] = await tx.$queryRawUnsafe<{ id: string; cap: bigint | null; funding_account_id: string }[]>(
      `UPDATE pocket_groups SET cap = cap + $3::bigint WHERE merchant_id = $1 AND slug = $2
       RETURNING id, cap, funding_account_id`,
      input.merchantId,
      input.slug,
      input.amount.toString(),
    );
    if (!raised) throw notFound('Pocket group');
    if (raised.cap === null) throw invalid('slug', 'This pocket group has no cap, so there is nothing to fund.');
    // Lowering a floor is always accepted.
    await setFloor(tx, raised.funding_account_id, -raised.cap);
    return tx.pocketGroup.findUniqueOrThrow({ where: { id: raised.id } });
  });
}

/** Raw SQL: it is read by every charge, where Prisma's per-query work would cost more than the query. */
export async function findPocketGroup(db: Sql, merchantId: string, slug: string): Promise<PocketGroup | null> {
  const [row] = await db.$queryRawUnsafe<PocketGroupRow[]>(
    `SELECT id, merchant_id, slug, name, currency, funding_account_id, cap, created_at FROM pocket_groups WHERE merchant_id = $1 AND slug = $2`,
    merchantId,
    slug,
  );
  return row
    ? {
        id: row.id,
        merchantId: row.merchant_id,
        slug: row.slug,
        name: row.name,
        currency: row.currency,
        fundingAccountId: row.funding_account_id,
        cap: row.cap,
        createdAt: row.created_at,
      }
    : null;
}

interface PocketGroupRow {
  id: string;
  merchant_id: string;
  slug: string;
  name: string | null;
  currency: string;
  funding_account_id: string;
  cap: bigint | null;
  created_at: Date;
}

export interface PocketGroupFunding {
  /** What the group's charges have moved so far. */
  spent: bigint;
  /** What the cap still allows; null for a group without a cap. */
  remaining: bigint | null;
}

export function fundingOf(group: Pick<PocketGroup, 'cap'>, account: Account): PocketGroupFunding {
  const spent = -balance(account);
  return { spent, remaining: group.cap === null ? null : group.cap - spent };
}

export async function listPocketGroups(db: Db, merchantId: string) {
  const groups = await db.pocketGroup.findMany({ where: { merchantId }, orderBy: { createdAt: 'asc' }, include: { _count: { select: { pockets: true } } } });
  return Promise.all(
    groups.map(async ({ _count, ...group }) => {
      const account = await findAccount(db, merchantId, fundingAccountName(group.id));
      return { ...group, pockets: _count.pockets, ...fundingOf(group, account!) };
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Pockets and charges (merchant side)

export async function findPocket(db: Db, merchantId: string, groupSlug: string, phoneNumber: string) {
  const canonical = canonicalPhoneNumber(phoneNumber);
  if (!canonical) throw invalid('phoneNumber', 'The phone number is not a valid Iranian mobile number, such as 989120000000.');
  const group = await findPocketGroup(db, merchantId, groupSlug);
  if (!group) return null;
  return db.pocket.findUnique({ where: { groupId_phoneNumber: { groupId: group.id, phoneNumber: canonical } } });
}

/** The merchant's charge with this token (any group, any outcome), or null. */
export function findCharge(db: Db, merchantId: string, token: string): Promise<PocketCharge | null> {
  if (!isUuidV7(token)) return Promise.resolve(null);
  return db.pocketCharge.findUnique({ where: { merchantId_token: { merchantId, token: token.toLowerCase() } } });
}

/** The legacy trace: a successful charge of this merchant in this group, or null. */
export async function traceCharge(db: Db, merchantId: string, groupSlug: string, token: string): Promise<PocketCharge | null> {
  const charge = await findCharge(db, merchantId, token);
  if (!charge || charge.status !== 'success') return null;
  const group = await db.pocketGroup.findUnique({ where: { id: charge.groupId } });
  return group?.slug === groupSlug ? charge : null;
}

/** One item as the client sent it; REST passes raw JSON values, GraphQL typed ones. */
export interface ChargeItemInput {
  token: unknown;
  phoneNumber: unknown;
  amount: unknown;
}

export type ChargeResult = PocketCharge | PocketChargeError;

interface JudgedItem {
  index: number;
  /** Lowercase when valid; otherwise as sent, when a string. */
  token: string | null;
  /** Canonical when valid; otherwise as sent, when a string. */
  phoneNumber: string | null;
  amount: bigint | null;
  /** A failure known before the database is asked. */
  failure: ChargeFailure | null;
  /** Set when the item owns its token (a valid one, first in the batch): it is recorded. */
  claim: { token: string; phoneNumber: string; amount: bigint | null } | null;
  /** The caller's, for the audit trail (see ChargeCall). */
  actor?: AuditActor;
}

interface PocketChargeRow {
  id: string;
  merchant_id: string;
  group_id: string;
  token: string;
  phone_number: string;
  amount: bigint | null;
  status: string;
  error_code: string | null;
  pocket_id: string | null;
  transfer_id: string | null;
  created_at: Date;
}

const toPocketCharge = (row: PocketChargeRow): PocketCharge => ({
  id: row.id,
  merchantId: row.merchant_id,
  groupId: row.group_id,
  token: row.token,
  phoneNumber: row.phone_number,
  amount: row.amount,
  status: row.status,
  errorCode: row.error_code,
  pocketId: row.pocket_id,
  transferId: row.transfer_id,
  createdAt: row.created_at,
});

function integerAmount(value: unknown): bigint | null {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  return null;
}

/**
 * What a recorded item stores, and what a replay must match: the canonical phone number when it is
 * valid, else the value as sent (bounded); the amount when it is an integer int8 can hold.
 */
function storedPhoneNumber(raw: unknown, canonical: string | null): string {
  if (canonical) return canonical;
  const text = typeof raw === 'string' ? raw : (JSON.stringify(raw) ?? 'undefined');
  return text.slice(0, 64);
}

function judge(items: ChargeItemInput[]): JudgedItem[] {
  const seen = new Set<string>();
  return items.map((item, index): JudgedItem => {
    const sentPhone = typeof item.phoneNumber === 'string' ? item.phoneNumber : null;
    const canonical = sentPhone === null ? null : canonicalPhoneNumber(sentPhone);
    const phoneNumber = canonical ?? sentPhone;
    const amount = integerAmount(item.amount);
    if (typeof item.token !== 'string' || !isUuidV7(item.token)) {
      return judgedItem(index, typeof item.token === 'string' ? item.token : null, phoneNumber, amount, 'INVALID_TOKEN', null);
    }
    const token = item.token.toLowerCase();
    if (seen.has(token)) return judgedItem(index, token, phoneNumber, amount, 'DUPLICATE_TOKEN', null);
    seen.add(token);
    const failure: ChargeFailure | null =
      canonical === null
        ? 'INVALID_PHONE_NUMBER'
        : amount === null || amount <= 0n
          ? 'INVALID_AMOUNT'
          : amount > MAX_CHARGE_AMOUNT
            ? 'AMOUNT_TOO_LARGE'
            : null;
    const storedAmount = amount !== null && amount <= MAX_SAFE && amount >= -MAX_SAFE ? amount : null;
    const claim = { token, phoneNumber: storedPhoneNumber(item.phoneNumber, canonical), amount: storedAmount };
    return judgedItem(index, token, phoneNumber, amount, failure, claim);
  });
}

/**
 * One literal for every judged item, rather than a spread of a common part: a spread followed by
 * other properties costs V8 microseconds per object, more than the rest of judging an item.
 */
function judgedItem(
  index: number,
  token: string | null,
  phoneNumber: string | null,
  amount: bigint | null,
  failure: ChargeFailure | null,
  claim: JudgedItem['claim'],
): JudgedItem {
  return { index, token, phoneNumber, amount, failure, claim, actor: undefined };
}

const failed = (item: JudgedItem, reason: ChargeFailure) =>
  new PocketChargeError(reason, item.index, item.token, item.phoneNumber, item.amount);

function replayed(item: JudgedItem, stored: PocketCharge): ChargeResult {
  if (stored.status === 'success') return stored;
  if (!stored.errorCode || !isChargeFailure(stored.errorCode)) throw new Error(`pocket charge ${stored.id} has no known error code`);
  return failed(item, stored.errorCode);
}

/**
 * Charges pockets of one group, each item judged on its own; answers one result per item, in
 * order. Items with an invalid token, or repeating an earlier item's token, are answered and
 * forgotten; every other item spends its token (see the invariants above).
 *
 * Concurrent calls for one group are coalesced (see KeyedBatcher): they run as one batch, so
 * that a group's funding account, which every charge debits, is locked once per batch rather than
 * once per call. Each call still gets its own results, exactly as if it had run alone.
 */
export async function chargePockets(
  deps: Pick<Deps, 'sql' | 'relay' | 'clock'>,
  merchantId: string,
  groupSlug: string,
  items: ChargeItemInput[],
): Promise<ChargeResult[]> {
  if (items.length > MAX_BATCH_SIZE) throw invalid('charges', `A batch holds at most ${MAX_BATCH_SIZE} charges.`);
  const group = await chargedGroup(deps.sql, merchantId, groupSlug);
  if (!group) throw notFound('Pocket group');
  const judged = judge(items);
  if (judged.every((item) => item.claim === null)) return judged.map((item) => failed(item, item.failure!));
  return chargeBatcher(deps).submit(group.id, { group, judged, actor: currentActor() });
}

/** What charging needs of a group: none of it ever changes (a group is never renamed, moved or removed; its cap is not here). */
type ChargedGroup = Pick<PocketGroup, 'id' | 'merchantId' | 'currency' | 'fundingAccountId'>;

/** Groups charged, by merchant and slug (merchant ids are never reused). */
const knownGroups = new Map<string, ChargedGroup>();
const KNOWN_GROUPS_KEPT = 10_000;

/** The group, looked up once per process (a group not found is looked up again next time). */
async function chargedGroup(db: Sql, merchantId: string, slug: string): Promise<ChargedGroup | null> {
  const key = `${merchantId}\u0000${slug}`;
  const known = knownGroups.get(key);
  if (known) return known;
  const group = await findPocketGroup(db, merchantId, slug);
  if (!group) return null;
  if (knownGroups.size >= KNOWN_GROUPS_KEPT) knownGroups.delete(knownGroups.keys().next().value!);
  const charged = { id: group.id, merchantId: group.merchantId, currency: group.currency, fundingAccountId: group.fundingAccountId };
  knownGroups.set(key, charged);
  return charged;
}

interface ChargeCall {
  group: ChargedGroup;
  judged: JudgedItem[];
  /** The caller's, for the audit trail: a coalesced batch runs in the first caller's context. */
  actor: AuditActor | undefined;
}

const batchers = new WeakMap<SqlDatabase, KeyedBatcher<ChargeCall, ChargeResult[]>>();

/** Groups whose last batch met the cap: their batches are judged one by one from the start. */
const nearCap = new Set<string>();

/** A batch written with its accounts locked last would take a funding account past its cap (or an account past the ledger's largest total). */
class OverCap extends Error {}

/**
 * How a batch runs. `assumeFresh`: outside a transaction, takes the batch's tokens for unrecorded
 * without reading (a recorded one fails the write on its unique index, and the batch runs again
 * as `lockLast`), and locks the accounts last. `lockLast`: the same, reading the recorded tokens
 * first. `lockFirst`: in a transaction, locks the accounts first and judges the charges one by one.
 */
type BatchMode = 'assumeFresh' | 'lockLast' | 'lockFirst';

/**
 * One batcher per database (tests run several apps in one process). Every statement of a batch is
 * raw SQL. A batch writes everything in one statement that locks the group's funding account
 * last, and first reads only what it has not seen before (see BatchMode): a batch of fresh tokens
 * on known pockets is that one statement. Once the group is near its cap, a batch is a
 * transaction that locks the account in its first statement, and then each statement's cost is
 * paid by every charge of the group waiting behind it.
 */
function chargeBatcher(deps: Pick<Deps, 'sql' | 'relay' | 'clock'>): KeyedBatcher<ChargeCall, ChargeResult[]> {
  let batcher = batchers.get(deps.sql);
  if (!batcher) {
    batcher = new KeyedBatcher<ChargeCall, ChargeResult[]>({
      run: (calls) =>
        againOnConflict(async (attempt) => {
          const groupId = calls[0]!.group.id;
          if (!nearCap.has(groupId)) {
            try {
              // Its one write statement applies the batch whole or not at all: no transaction is needed.
              const results = await applyCalls(deps.sql, calls, deps.clock.now(), attempt === 1 ? 'assumeFresh' : 'lockLast');
              deps.relay.kick();
              return results;
            } catch (error) {
              if (!(error instanceof OverCap)) throw error;
            }
          }
          const results = await transactSql(deps, (tx) => applyCalls(tx, calls, deps.clock.now(), 'lockFirst'));
          // Until a batch fits under the cap again, the group's batches skip the attempt that would fail.
          if (results.some((own) => own.some((result) => result instanceof PocketChargeError && result.reason === 'CAP_EXCEEDED'))) nearCap.add(groupId);
          else nearCap.delete(groupId);
          return results;
        }),
      weight: (call) => call.judged.length,
      maxWeight: MAX_BATCH_SIZE,
      // While one batch settles and commits, the next ones write their records: three at a time
      // kept the database busier than two (batches of 100 from 4 clients: 0.28 -> 0.31 of raw pg).
      concurrency: 3,
    });
    batchers.set(deps.sql, batcher);
  }
  return batcher;
}

/** PostgreSQL's unique violation and deadlock: what a concurrent batch can cause another. */
const CONFLICTS = new Set(['23505', '40P01']);

/**
 * Runs a batch again when it failed on a conflict (a token recorded before, when the batch assumed
 * it fresh, or meanwhile by a concurrent batch): rolled back, it applied nothing, and run again it
 * finds the record.
 */
async function againOnConflict<T>(run: (attempt: number) => Promise<T>, attempts = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run(attempt);
    } catch (error) {
      if (attempt >= attempts || !CONFLICTS.has((error as { code?: string }).code ?? '')) throw error;
    }
  }
}

/**
 * Applies the calls of one coalesced batch. A token that an earlier call of the batch also sent
 * is, for the later call, a token already spent: once the earlier calls are settled, it is judged
 * against the stored charge (a replay, or DUPLICATE_TOKEN), as if the calls had run one after the other.
 */
async function applyCalls(tx: Sql, calls: ChargeCall[], now: Date, mode: BatchMode): Promise<ChargeResult[][]> {
  const group = calls[0]!.group;
  const tokens = new Set<string>();
  const repeats: JudgedItem[] = [];
  const items: JudgedItem[] = [];
  for (const call of calls) for (const item of call.judged) item.actor = call.actor;
  for (const item of calls.flatMap((call) => call.judged)) {
    if (item.claim && tokens.has(item.claim.token)) repeats.push(item);
    else {
      if (item.claim) tokens.add(item.claim.token);
      items.push(item);
    }
  }
  const results = await applyCharges(tx, group, items, now, mode);
  if (repeats.length > 0) {
    const stored = await storedCharges(tx, group.merchantId, repeats);
    for (const item of repeats) results.set(item, judgeStored(group, item, stored.get(item.claim!.token)!));
  }
  return calls.map((call) => call.judged.map((item) => results.get(item)!));
}

/** The recorded charges of these items' tokens, by token. */
async function storedCharges(tx: Sql, merchantId: string, items: JudgedItem[]): Promise<Map<string, PocketCharge>> {
  if (items.length === 0) return new Map();
  const rows = await tx.$queryRawUnsafe<PocketChargeRow[]>(
    `SELECT id, merchant_id, group_id, token, phone_number, amount, status, error_code, pocket_id, transfer_id, created_at
     FROM pocket_charges WHERE merchant_id = $1 AND token = ANY($2::text[])`,
    merchantId,
    items.map((item) => item.claim!.token),
  );
  return new Map(rows.map((row) => [row.token, toPocketCharge(row)]));
}

/** An item whose token was spent: the same charge replays the stored result, any other is a duplicate. */
function judgeStored(group: ChargedGroup, item: JudgedItem, row: PocketCharge): ChargeResult {
  const same = row.groupId === group.id && row.phoneNumber === item.claim!.phoneNumber && row.amount === item.claim!.amount;
  return same ? replayed(item, row) : failed(item, 'DUPLICATE_TOKEN');
}

/**
 * Judges and applies the items of one batch. Tokens recorded before are judged against their
 * stored charge; the others are recorded here, with their outcome, in one statement with every
 * other write. A token recorded meanwhile by a concurrent batch (or before, when the batch assumed
 * its tokens fresh) makes that statement fail on the unique index (nothing is applied), and the
 * batch runs again (see againOnConflict). Locking last, the same statement ends by locking the
 * accounts and moving their balances (see prepareTransfers), and a batch that would pass the cap
 * throws OverCap; `tx` need not be a transaction then.
 */
async function applyCharges(tx: Sql, group: ChargedGroup, judged: JudgedItem[], now: Date, mode: BatchMode): Promise<Map<JudgedItem, ChargeResult>> {
  const results = new Map<JudgedItem, ChargeResult>();
  for (const item of judged) if (!item.claim) results.set(item, failed(item, item.failure!));
  const claimed = judged.filter((item) => item.claim);
  const stored = mode === 'assumeFresh' ? new Map<string, PocketCharge>() : await storedCharges(tx, group.merchantId, claimed);
  const fresh: JudgedItem[] = [];
  for (const item of claimed) {
    const row = stored.get(item.claim!.token);
    if (row) results.set(item, judgeStored(group, item, row));
    else fresh.push(item);
  }

  const writes = new WriteBatch();
  const records: PocketCharge[] = [];
  const record = (item: JudgedItem, outcome: Pick<PocketCharge, 'status' | 'errorCode' | 'pocketId' | 'transferId'>): PocketCharge => {
    const charge: PocketCharge = {
      id: uuidv7(now.getTime()),
      merchantId: group.merchantId,
      groupId: group.id,
      token: item.claim!.token,
      phoneNumber: item.claim!.phoneNumber,
      amount: item.claim!.amount,
      status: outcome.status,
      errorCode: outcome.errorCode,
      pocketId: outcome.pocketId,
      transferId: outcome.transferId,
      createdAt: now,
    };
    records.push(charge);
    return charge;
  };
  for (const item of fresh) {
    if (!item.failure) continue;
    record(item, { status: 'error', errorCode: item.failure, pocketId: null, transferId: null });
    results.set(item, failed(item, item.failure));
  }
  const valid = fresh.filter((item) => !item.failure);
  if (valid.length > 0) {
    for (const [item, result] of await chargeValid(tx, group, valid, now, writes, record, mode !== 'lockFirst')) results.set(item, result);
  }
  // Rows go in token order: concurrent batches sharing tokens take the index locks in one order.
  records.sort((a, b) => (a.token < b.token ? -1 : 1));
  writes.add(
    `INSERT INTO pocket_charges (${CHARGE_ROWS.names})
     SELECT ${CHARGE_ROWS.select} FROM ${CHARGE_ROWS.unnest} WITH ORDINALITY AS v(${CHARGE_ROWS.names}, position) ORDER BY v.position`,
    ...CHARGE_ROWS.params(records),
  );
  try {
    await writes.run(tx);
  } catch (error) {
    throw isSettleRefusal(error) ? new OverCap() : error;
  }
  return results;
}

const CHARGE_ROWS = unnestRows<PocketCharge>([
  ['id', 'text', (charge) => charge.id],
  ['merchant_id', 'text', (charge) => charge.merchantId],
  ['group_id', 'text', (charge) => charge.groupId],
  ['token', 'text', (charge) => charge.token],
  ['phone_number', 'text', (charge) => charge.phoneNumber],
  ['amount', 'bigint', (charge) => charge.amount?.toString() ?? null],
  ['status', 'text', (charge) => charge.status],
  ['error_code', 'text', (charge) => charge.errorCode],
  ['pocket_id', 'text', (charge) => charge.pocketId],
  ['transfer_id', 'text', (charge) => charge.transferId],
  ['created_at', 'timestamptz', (charge) => charge.createdAt.toISOString()],
]);

interface PocketRef {
  id: string;
  accountId: string;
}

/**
 * Pockets read outside a transaction (so committed), by group and phone number: a pocket never
 * changes or goes away, so batches locking last read only pockets they have not seen.
 */
const knownPockets = new Map<string, PocketRef>();
const KNOWN_POCKETS_KEPT = 100_000;

/** The group's pockets of these phone numbers, opening the missing ones; `known` when `tx` is no transaction. */
async function pocketsOf(tx: Sql, group: ChargedGroup, phones: string[], now: Date, known: boolean): Promise<Map<string, PocketRef>> {
  const key = (phone: string) => `${group.id}\u0000${phone}`;
  const pockets = new Map<string, PocketRef>();
  if (known) {
    for (const phone of phones) {
      const pocket = knownPockets.get(key(phone));
      if (pocket) pockets.set(phone, pocket);
    }
  }
  const unseen = phones.filter((phone) => !pockets.has(phone));
  if (unseen.length === 0) return pockets;
  const found = await findPockets(tx, group.id, unseen);
  const missing = unseen.filter((phone) => !found.has(phone));
  if (missing.length > 0) for (const [phone, pocket] of await openPockets(tx, group, missing, now)) found.set(phone, pocket);
  for (const [phone, pocket] of found) {
    pockets.set(phone, pocket);
    if (!known) continue;
    if (knownPockets.size >= KNOWN_POCKETS_KEPT) knownPockets.delete(knownPockets.keys().next().value!);
    knownPockets.set(key(phone), pocket);
  }
  return pockets;
}

async function findPockets(tx: Sql, groupId: string, phones: string[]): Promise<Map<string, PocketRef>> {
  const rows = await tx.$queryRawUnsafe<{ id: string; phone_number: string; account_id: string }[]>(
    `SELECT id, phone_number, account_id FROM pockets WHERE group_id = $1 AND phone_number = ANY($2::text[])`,
    groupId,
    phones,
  );
  return new Map(rows.map((row) => [row.phone_number, { id: row.id, accountId: row.account_id }]));
}

/** Opens pockets (and their ledger accounts) that did not exist; a concurrent batch may open some first. */
async function openPockets(tx: Sql, group: ChargedGroup, phones: string[], now: Date): Promise<Map<string, PocketRef>> {
  const merchantId = group.merchantId;
  const accounts = await openAccounts(
    tx,
    phones.map((phone) => ({ merchantId, name: pocketAccountName(group.id, phone), kind: 'pocket', currency: group.currency, floor: 0n })),
  );
  await tx.$executeRawUnsafe(
    `INSERT INTO pockets (id, merchant_id, group_id, phone_number, account_id, created_at)
     SELECT v.id, $1, $2, v.phone_number, v.account_id, $3::timestamptz
     FROM unnest($4::text[], $5::text[], $6::text[]) AS v(id, phone_number, account_id)
     ON CONFLICT (group_id, phone_number) DO NOTHING`,
    merchantId,
    group.id,
    now.toISOString(),
    phones.map(() => uuidv7(now.getTime())),
    phones,
    phones.map((phone) => accounts.get(pocketAccountName(group.id, phone))!.id),
  );
  // A statement of its own, so that it also sees pockets a concurrent batch opened and committed meanwhile.
  return findPockets(tx, group.id, phones);
}

/**
 * Opens the pockets the valid items need and moves their money, in batch order; the transfers, the
 * items' records and their events join `writes`. With `lockLast`, the balances move when the
 * caller runs the writes (see prepareTransfers).
 */
async function chargeValid(
  tx: Sql,
  group: ChargedGroup,
  valid: JudgedItem[],
  now: Date,
  writes: WriteBatch,
  record: (item: JudgedItem, outcome: Pick<PocketCharge, 'status' | 'errorCode' | 'pocketId' | 'transferId'>) => PocketCharge,
  lockLast: boolean,
): Promise<Map<JudgedItem, ChargeResult>> {
  const merchantId = group.merchantId;
  const phones = [...new Set(valid.map((item) => item.claim!.phoneNumber))].sort();
  const pockets = await pocketsOf(tx, group, phones, now, lockLast);

  const requests = valid.map(
    (item): TransferRequest => ({
      merchantId,
      key: `pocket-charge:${item.claim!.token}`,
      debitAccountId: group.fundingAccountId,
      creditAccountId: pockets.get(item.claim!.phoneNumber)!.accountId,
      amount: item.amount!,
      currency: group.currency,
      code: 'pocket.charge',
      actor: item.actor,
    }),
  );
  // A key derives from a token whose record is written in the same statement, under its unique index.
  const options = { writes, keysChecked: true };
  const outcomes = await (lockLast ? prepareTransfers : createTransfers)(tx, requests, now, options);

  const results = new Map<JudgedItem, ChargeResult>();
  const charged: PocketCharge[] = [];
  valid.forEach((item, i) => {
    const outcome = outcomes[i]!;
    const pocketId = pockets.get(item.claim!.phoneNumber)!.id;
    if (outcome.ok) {
      const charge = record(item, { status: 'success', errorCode: null, pocketId, transferId: outcome.transfer.id });
      charged.push(charge);
      results.set(item, charge);
    } else if (outcome.reason === 'FLOOR_EXCEEDED') {
      record(item, { status: 'error', errorCode: 'CAP_EXCEEDED', pocketId, transferId: null });
      results.set(item, failed(item, 'CAP_EXCEEDED'));
    } else {
      // The token was found unrecorded, so its ledger key is fresh; the accounts are the group's own.
      throw new Error(`pocket charge ${item.claim!.token}: unexpected ledger outcome ${outcome.reason}`);
    }
  });

  // One row for the batch's events: see recordEventGroup.
  await recordEventGroup(
    writes,
    {
      merchantId,
      type: POCKET_CHARGED,
      topic: POCKET_TOPIC,
      events: charged.map((charge) => ({
        objectId: charge.pocketId!,
        data: { groupId: group.id, chargeId: charge.id, token: charge.token, amount: charge.amount!.toString() },
      })),
    },
    now,
  );
  return results;
}

export interface ChargeTotals {
  groupId: string;
  currency: string;
  status: 'success' | 'error';
  count: number;
  amount: bigint;
}

/** Recorded charges per group and status: how many, and what they asked for. */
export async function chargeTotals(db: Db, merchantId: string): Promise<ChargeTotals[]> {
  const [rows, groups] = await Promise.all([
    db.pocketCharge.groupBy({ by: ['groupId', 'status'], where: { merchantId }, _count: { _all: true }, _sum: { amount: true } }),
    db.pocketGroup.findMany({ where: { merchantId }, select: { id: true, slug: true, currency: true } }),
  ]);
  const groupOf = new Map(groups.map((group) => [group.id, group]));
  return rows
    .map((row) => ({
      groupId: row.groupId,
      currency: groupOf.get(row.groupId)!.currency,
      status: row.status as 'success' | 'error',
      count: row._count._all,
      amount: row._sum.amount ?? 0n,
    }))
    .sort((a, b) => groupOf.get(a.groupId)!.slug.localeCompare(groupOf.get(b.groupId)!.slug) || a.status.localeCompare(b.status));
}
