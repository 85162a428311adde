/**
 * Recharge providers and their payments. A payment credits a merchant's end user through a
 * provider: creating it opens a pending (two-phase) ledger transfer from the provider's clearing
 * account to the user's account, which the user's balance does not include; committing posts it,
 * rolling back (by request or by expiry) voids it. The payment row is locked for every change, so
 * a commit and a rollback of one payment serialise: exactly one resolves the transfer.
 */
import type { Db } from '../../db/database.ts';
import type { Sql } from '../../db/sql.ts';
import { transactSql, type Deps } from '../../deps.ts';
import { AppError, invalid, notFound, type ErrorCode } from '../../errors.ts';
import { recordEvents } from '../../events/outbox.ts';
import type { Prisma, RechargePayment, RechargeProvider } from '../../generated/prisma/client.ts';
import { idempotentSql } from '../../idempotency/idempotency.ts';
import { balance, createTransfers, findAccount, openAccounts, resolvePendingTransfer } from '../../ledger/ledger.ts';
import { uuidv7 } from '../../lib/ids.ts';
import { isOverdue, planTransition, type PaymentAction, type PaymentState, type PaymentStatus } from './state-machine.ts';
import {
  checkCurrency,
  checkReference,
  checkText,
  parseParameterDefinitions,
  parseUserId,
  validatePaymentParams,
  type ParameterDefinition,
} from './validation.ts';

/** Events of one payment go to `RECHARGE_PAYMENT:<paymentId>` (and the merchant stream). */
export const PAYMENT_TOPIC = 'RECHARGE_PAYMENT';
export const EXPIRED_REASON = 'expired';
export const DEFAULT_CURRENCY = 'IRR';
export const DEFAULT_EXPIRES_IN_SECONDS = 15 * 60;
const MAX_EXPIRES_IN_SECONDS = 30 * 24 * 3600;
const MAX_DESCRIPTION = 1000;
const MAX_REASON = 500;

export const userAccountName = (userId: bigint, currency: string) => `recharge-user:${userId}:${currency}`;
export const providerAccountName = (providerId: string) => `recharge-provider:${providerId}`;

const statusOf = (payment: RechargePayment): PaymentStatus => ({
  state: payment.state as PaymentState,
  expired: payment.expired,
  expiresAt: payment.expiresAt,
});

export const parameterDefinitions = (provider: Pick<RechargeProvider, 'params'>) => provider.params as unknown as ParameterDefinition[];

// Providers

export interface NewProvider {
  merchantId: string;
  reference: string;
  name: string;
  description?: string;
  params?: unknown;
  currency?: string;
  expiresInSeconds?: number;
}

export async function createRechargeProvider(db: Db, input: NewProvider, now: Date): Promise<RechargeProvider> {
  const reference = checkReference(input.reference);
  const name = checkText(input.name.trim(), 'name', 200);
  if (!name) throw invalid('name', 'name must not be empty.');
  const expiresInSeconds = input.expiresInSeconds ?? DEFAULT_EXPIRES_IN_SECONDS;
  if (!Number.isSafeInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_EXPIRES_IN_SECONDS) {
    throw invalid('expiresInSeconds', `expiresInSeconds must be a whole number from 1 to ${MAX_EXPIRES_IN_SECONDS}.`);
  }
  const data = {
    id: uuidv7(now.getTime()),
    merchantId: input.merchantId,
    reference,
    name,
    description: checkText(input.description ?? '', 'description', MAX_DESCRIPTION),
    params: parseParameterDefinitions(input.params) as unknown as Prisma.InputJsonValue,
    currency: checkCurrency(input.currency ?? DEFAULT_CURRENCY),
    expiresInSeconds,
    createdAt: now,
    updatedAt: now,
  };
  const created = await db.rechargeProvider.createMany({ data: [data], skipDuplicates: true });
  if (created.count === 0) throw new AppError('CONFLICT', `This merchant already has a recharge provider with reference "${reference}".`, 'reference');
  return db.rechargeProvider.findUniqueOrThrow({ where: { id: data.id } });
}

export function listRechargeProviders(db: Db, merchantId: string): Promise<RechargeProvider[]> {
  return db.rechargeProvider.findMany({ where: { merchantId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
}

export async function findRechargeProvider(db: Db, merchantId: string, reference: string): Promise<RechargeProvider | null> {
  return db.rechargeProvider.findUnique({ where: { merchantId_reference: { merchantId, reference } } });
}

async function requireProvider(db: Db, merchantId: string, reference: string): Promise<RechargeProvider> {
  const provider = await findRechargeProvider(db, merchantId, reference);
  if (!provider) throw notFound('Recharge provider');
  return provider;
}

// The ledger side of a payment

async function reserve(
  tx: Sql,
  payment: Pick<RechargePayment, 'id' | 'merchantId' | 'providerId' | 'userId' | 'amount' | 'currency' | 'revision' | 'expiresAt'>,
  now: Date,
): Promise<string> {
  const userAccount = userAccountName(payment.userId, payment.currency);
  const providerAccount = providerAccountName(payment.providerId);
  const accounts = await openAccounts(tx, [
    { merchantId: payment.merchantId, name: userAccount, kind: 'recharge_user', currency: payment.currency, floor: 0n },
    // Money arrives from outside through the provider: its clearing account goes negative.
    { merchantId: payment.merchantId, name: providerAccount, kind: 'recharge_provider', currency: payment.currency, floor: null },
  ]);
  const [outcome] = await createTransfers(
    tx,
    [
      {
        merchantId: payment.merchantId,
        key: `recharge:${payment.id}:${payment.revision}`,
        debitAccountId: accounts.get(providerAccount)!.id,
        creditAccountId: accounts.get(userAccount)!.id,
        amount: payment.amount,
        currency: payment.currency,
        code: 'recharge.payment',
        pending: { expiresAt: payment.expiresAt },
      },
    ],
    now,
  );
  if (!outcome?.ok) throw new Error(`The ledger refused a recharge transfer: ${outcome?.reason}`);
  return outcome.transfer.id;
}

async function resolve(tx: Sql, payment: RechargePayment, action: 'post' | 'void', code: string, now: Date): Promise<void> {
  const outcome = await resolvePendingTransfer(
    tx,
    { merchantId: payment.merchantId, pendingId: payment.transferId, action, key: `recharge:${payment.id}:${payment.revision}:${action}`, code },
    now,
  );
  // The payment row is locked and pending, so its transfer is unresolved and (for a post) not expired.
  if (!outcome.ok) throw new Error(`The ledger refused to ${action} recharge transfer ${payment.transferId}: ${outcome.reason}`);
}

async function recordPaymentEvent(tx: Sql, payment: RechargePayment, type: string, now: Date): Promise<void> {
  await recordEvents(
    tx,
    [
      {
        merchantId: payment.merchantId,
        type: `recharge.${type}`,
        topic: PAYMENT_TOPIC,
        objectId: payment.id,
        data: {
          providerId: payment.providerId,
          paymentNo: payment.paymentNo,
          userId: payment.userId.toString(),
          amount: payment.amount.toString(),
          state: payment.state,
          ...(payment.reason !== null ? { reason: payment.reason } : {}),
        },
      },
    ],
    now,
  );
}

// A payment's writes are raw SQL in raw transactions (see transactSql): they are the hot path.

interface PaymentRow {
  id: string;
  merchant_id: string;
  provider_id: string;
  payment_no: number;
  user_id: bigint;
  amount: bigint;
  currency: string;
  state: string;
  description: string;
  params: Prisma.JsonValue;
  reason: string | null;
  expired: boolean;
  transfer_id: string;
  revision: number;
  created_at: Date;
  updated_at: Date;
  expires_at: Date;
  committed_at: Date | null;
  rolled_back_at: Date | null;
}

const toPayment = (row: PaymentRow): RechargePayment => ({
  id: row.id,
  merchantId: row.merchant_id,
  providerId: row.provider_id,
  paymentNo: row.payment_no,
  userId: row.user_id,
  amount: row.amount,
  currency: row.currency,
  state: row.state,
  description: row.description,
  params: row.params,
  reason: row.reason,
  expired: row.expired,
  transferId: row.transfer_id,
  revision: row.revision,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  expiresAt: row.expires_at,
  committedAt: row.committed_at,
  rolledBackAt: row.rolled_back_at,
});

/** Sets these columns of one payment, and its updated_at; answers the payment as it now is. */
async function updatePayment(tx: Sql, id: string, now: Date, changes: Partial<Record<keyof PaymentRow, unknown>>): Promise<RechargePayment> {
  const columns = Object.keys(changes);
  const [row] = await tx.$queryRawUnsafe<PaymentRow[]>(
    `UPDATE recharge_payments SET updated_at = $2::timestamptz${columns.map((column, i) => `, ${column} = $${i + 3}`).join('')}
     WHERE id = $1 RETURNING *`,
    id,
    now.toISOString(),
    ...Object.values(changes).map((value) => (value instanceof Date ? value.toISOString() : typeof value === 'bigint' ? value.toString() : value)),
  );
  return toPayment(row!);
}

async function expireLocked(tx: Sql, payment: RechargePayment, now: Date): Promise<RechargePayment> {
  const step = planTransition(statusOf(payment), 'expire', now);
  if (step.kind !== 'apply') return payment;
  await resolve(tx, payment, 'void', 'recharge.expiry', now);
  const expired = await updatePayment(tx, payment.id, now, { state: step.to, reason: EXPIRED_REASON, expired: true, rolled_back_at: now });
  await recordPaymentEvent(tx, expired, 'expired', now);
  return expired;
}

// Payments

export interface PaymentTarget {
  merchantId: string;
  paymentId: string;
  /** The legacy routes name the provider too: a payment of another provider is not found. */
  providerReference?: string | null;
  idempotencyKey: string | null;
}

export interface PaymentResult {
  payment: RechargePayment;
  /** Answered from the idempotency record of an earlier request with the same key. */
  replayed: boolean;
}

export interface NewPayment {
  merchantId: string;
  providerReference: string;
  userId: unknown;
  description?: string | null;
  params: unknown;
  idempotencyKey: string | null;
}

export async function createRechargePayment(deps: Deps, input: NewPayment): Promise<PaymentResult> {
  const provider = await requireProvider(deps.prisma, input.merchantId, input.providerReference);
  const userId = parseUserId(input.userId);
  const description = checkText(input.description ?? '', 'description', MAX_DESCRIPTION);
  const { params, amount } = validatePaymentParams(parameterDefinitions(provider), input.params);
  const { value, replayed } = await idempotentSql(
    deps,
    {
      merchantId: input.merchantId,
      key: input.idempotencyKey,
      scope: 'recharge.create',
      payload: { providerId: provider.id, userId, description, params },
    },
    async (tx) => {
      const now = deps.clock.now();
      // Locks the provider's row until commit: concurrent payments of one provider number in turn, without gaps.
      const [numbered] = await tx.$queryRawUnsafe<{ last_payment_no: number }[]>(
        `UPDATE recharge_providers SET last_payment_no = last_payment_no + 1 WHERE id = $1 RETURNING last_payment_no`,
        provider.id,
      );
      const fields = {
        id: uuidv7(now.getTime()),
        merchantId: input.merchantId,
        providerId: provider.id,
        userId,
        amount,
        currency: provider.currency,
        revision: 1,
        expiresAt: new Date(now.getTime() + provider.expiresInSeconds * 1000),
      };
      const transferId = await reserve(tx, fields, now);
      const [row] = await tx.$queryRawUnsafe<PaymentRow[]>(
        `INSERT INTO recharge_payments (id, merchant_id, provider_id, payment_no, user_id, amount, currency, state, description, params,
           transfer_id, revision, created_at, updated_at, expires_at)
         VALUES ($1, $2, $3, $4, $5::bigint, $6::bigint, $7, 'pending', $8, $9::jsonb, $10, $11, $12::timestamptz, $12::timestamptz, $13::timestamptz)
         RETURNING *`,
        fields.id,
        fields.merchantId,
        fields.providerId,
        numbered!.last_payment_no,
        userId.toString(),
        amount.toString(),
        fields.currency,
        description,
        JSON.stringify(params),
        transferId,
        fields.revision,
        now.toISOString(),
        fields.expiresAt.toISOString(),
      );
      const payment = toPayment(row!);
      await recordPaymentEvent(tx, payment, 'created', now);
      return payment;
    },
  );
  return { payment: value, replayed };
}

type ActionOutcome = { payment: RechargePayment } | { failure: { code: ErrorCode; message: string } };

/**
 * Runs one action of the state machine on a locked payment. A payment found past its expiry is
 * rolled back first, and that rollback commits even when the action then fails (EXPIRED), which
 * is why the failure travels out of the transaction as a value and is thrown only after it.
 */
async function act(
  deps: Deps,
  target: PaymentTarget,
  action: Exclude<PaymentAction, 'expire'>,
  payload: Record<string, unknown>,
  /** Makes the change; `to` is the state the state machine moves the payment to. */
  apply: (tx: Sql, payment: RechargePayment, now: Date, to: PaymentState) => Promise<RechargePayment>,
): Promise<PaymentResult> {
  // A replay answers before the payment is locked: a legacy route naming the payment under another
  // provider's reference is told it is not found first, with a key or without.
  if (target.providerReference != null && target.idempotencyKey !== null) await findPayment(deps.sql, target, false);
  const { value, replayed } = await idempotentSql<ActionOutcome>(
    deps,
    {
      merchantId: target.merchantId,
      key: target.idempotencyKey,
      scope: `recharge.${action}`,
      payload: { paymentId: target.paymentId, ...payload },
    },
    async (tx) => {
      const now = deps.clock.now();
      let payment = await findPayment(tx, target, true);
      let step = planTransition(statusOf(payment), action, now);
      if (step.kind === 'expire-first') {
        payment = await expireLocked(tx, payment, now);
        try {
          step = planTransition(statusOf(payment), action, now);
        } catch (error) {
          if (error instanceof AppError) return { failure: { code: error.code, message: error.message } };
          throw error;
        }
      }
      if (step.kind === 'apply') payment = await apply(tx, payment, now, step.to);
      return { payment };
    },
  );
  if ('failure' in value) throw new AppError(value.failure.code, value.failure.message);
  return { payment: value.payment, replayed };
}

/** The target payment, or NOT_FOUND; locked until commit when `forUpdate`. */
async function findPayment(db: Sql, target: PaymentTarget, forUpdate: boolean): Promise<RechargePayment> {
  const [row] = await db.$queryRawUnsafe<PaymentRow[]>(
    `SELECT p.* FROM recharge_payments p JOIN recharge_providers r ON r.id = p.provider_id
     WHERE p.id = $1 AND p.merchant_id = $2 AND ($3::text IS NULL OR r.reference = $3::text)
     ${forUpdate ? 'FOR UPDATE OF p' : ''}`,
    target.paymentId,
    target.merchantId,
    target.providerReference ?? null,
  );
  if (!row) throw notFound('Recharge payment');
  return toPayment(row);
}

export function commitRechargePayment(deps: Deps, target: PaymentTarget): Promise<PaymentResult> {
  return act(deps, target, 'commit', {}, async (tx, payment, now, to) => {
    await resolve(tx, payment, 'post', 'recharge.commit', now);
    const committed = await updatePayment(tx, payment.id, now, { state: to, committed_at: now });
    await recordPaymentEvent(tx, committed, 'committed', now);
    return committed;
  });
}

export function rollbackRechargePayment(deps: Deps, target: PaymentTarget & { reason: string }): Promise<PaymentResult> {
  const reason = checkText(target.reason.trim(), 'reason', MAX_REASON);
  if (!reason) throw invalid('reason', 'reason must not be empty.');
  return act(deps, target, 'rollback', { reason }, async (tx, payment, now, to) => {
    await resolve(tx, payment, 'void', 'recharge.rollback', now);
    const rolledBack = await updatePayment(tx, payment.id, now, { state: to, reason, rolled_back_at: now });
    await recordPaymentEvent(tx, rolledBack, 'rolled_back', now);
    return rolledBack;
  });
}

export interface PaymentChanges {
  description?: string | null;
  /** Replaces the payment's parameters as a whole; a new amount replaces the pending transfer. */
  params?: unknown;
}

export function updateRechargePayment(deps: Deps, target: PaymentTarget & PaymentChanges): Promise<PaymentResult> {
  const description = target.description === undefined || target.description === null ? undefined : checkText(target.description, 'description', MAX_DESCRIPTION);
  const params = target.params === null ? undefined : target.params;
  if (description === undefined && params === undefined) throw invalid('body', 'Give a description, params or both.');
  return act(deps, target, 'update', { description, params }, async (tx, payment, now) => {
    const changes: Partial<Record<keyof PaymentRow, unknown>> = {};
    if (description !== undefined) changes.description = description;
    if (params !== undefined) {
      const [provider] = await tx.$queryRawUnsafe<Pick<RechargeProvider, 'params'>[]>(`SELECT params FROM recharge_providers WHERE id = $1`, payment.providerId);
      const validated = validatePaymentParams(parameterDefinitions(provider!), params);
      changes.params = JSON.stringify(validated.params);
      if (validated.amount !== payment.amount) {
        // The ledger cannot change a pending transfer's amount: void it and reserve the new amount.
        await resolve(tx, payment, 'void', 'recharge.amend', now);
        const revision = payment.revision + 1;
        changes.transfer_id = await reserve(tx, { ...payment, amount: validated.amount, revision }, now);
        changes.amount = validated.amount;
        changes.revision = revision;
      }
    }
    const updated = await updatePayment(tx, payment.id, now, changes);
    await recordPaymentEvent(tx, updated, 'updated', now);
    return updated;
  });
}

/**
 * Rolls back pending payments past their expiry (reason `expired`), each in its own transaction,
 * oldest first; answers how many it rolled back. Rows another transaction holds (a commit or a
 * rollback in progress) are skipped: that transaction decides, and itself expires an overdue payment.
 */
export async function expireRechargePayments(
  deps: Deps,
  scope: { merchantId?: string; providerId?: string; paymentId?: string; limit?: number } = {},
): Promise<number> {
  const now = deps.clock.now();
  const due = await deps.prisma.rechargePayment.findMany({
    where: {
      state: 'pending',
      expiresAt: { lte: now },
      ...(scope.merchantId ? { merchantId: scope.merchantId } : {}),
      ...(scope.providerId ? { providerId: scope.providerId } : {}),
      ...(scope.paymentId ? { id: scope.paymentId } : {}),
    },
    select: { id: true },
    orderBy: { expiresAt: 'asc' },
    take: scope.limit ?? 100,
  });
  let expired = 0;
  for (const { id } of due) {
    const done = await transactSql(deps, async (tx) => {
      const [locked] = await tx.$queryRawUnsafe<PaymentRow[]>(
        `SELECT * FROM recharge_payments WHERE id = $1 AND state = 'pending' AND expires_at <= $2::timestamptz FOR UPDATE SKIP LOCKED`,
        id,
        now.toISOString(),
      );
      if (!locked) return false;
      await expireLocked(tx, toPayment(locked), now);
      return true;
    });
    if (done) expired++;
  }
  return expired;
}

/** One payment as it is now (an overdue one is expired first); null when unknown or another merchant's. */
export async function findRechargePayment(
  deps: Deps,
  merchantId: string,
  paymentId: string,
  providerReference: string | null = null,
): Promise<RechargePayment | null> {
  const where: Prisma.RechargePaymentWhereInput = { id: paymentId, merchantId, ...(providerReference ? { provider: { reference: providerReference } } : {}) };
  const payment = await deps.prisma.rechargePayment.findFirst({ where });
  if (!payment || !isOverdue(statusOf(payment), deps.clock.now())) return payment;
  await expireRechargePayments(deps, { paymentId });
  return deps.prisma.rechargePayment.findFirst({ where });
}

export interface PaymentFilter {
  state?: PaymentState | null;
  userId?: bigint | null;
  createdFrom?: Date | null;
  createdTo?: Date | null;
}

/** The payments of one provider matching a filter; `createdTo` is exclusive. */
export function paymentWhere(provider: Pick<RechargeProvider, 'id' | 'merchantId'>, filter: PaymentFilter): Prisma.RechargePaymentWhereInput {
  return {
    merchantId: provider.merchantId,
    providerId: provider.id,
    ...(filter.state ? { state: filter.state } : {}),
    ...(filter.userId !== undefined && filter.userId !== null ? { userId: filter.userId } : {}),
    ...(filter.createdFrom || filter.createdTo
      ? { createdAt: { ...(filter.createdFrom ? { gte: filter.createdFrom } : {}), ...(filter.createdTo ? { lt: filter.createdTo } : {}) } }
      : {}),
  };
}

/** Expires the provider's overdue payments, so that a listing shows no pending payment past its expiry. */
export async function settleExpiredPayments(deps: Deps, provider: Pick<RechargeProvider, 'id' | 'merchantId'>): Promise<void> {
  const batch = 500;
  let expired: number;
  do expired = await expireRechargePayments(deps, { merchantId: provider.merchantId, providerId: provider.id, limit: batch });
  while (expired === batch);
}

export async function listRechargePayments(
  deps: Deps,
  input: { merchantId: string; providerReference: string; filter: PaymentFilter; offset: number; limit: number },
): Promise<{ payments: (RechargePayment & { provider: RechargeProvider })[]; count: number }> {
  const provider = await requireProvider(deps.prisma, input.merchantId, input.providerReference);
  await settleExpiredPayments(deps, provider);
  const where = paymentWhere(provider, input.filter);
  const [payments, count] = await Promise.all([
    deps.prisma.rechargePayment.findMany({
      where,
      include: { provider: true },
      orderBy: { paymentNo: 'desc' },
      skip: input.offset,
      take: input.limit,
    }),
    deps.prisma.rechargePayment.count({ where }),
  ]);
  return { payments, count };
}

/** A user's balance counts committed payments only; pending ones show apart. */
export async function rechargeBalance(
  db: Db,
  input: { merchantId: string; userId: bigint; currency: string },
): Promise<{ userId: bigint; currency: string; balance: bigint; pending: bigint }> {
  const account = await findAccount(db, input.merchantId, userAccountName(input.userId, input.currency));
  return { userId: input.userId, currency: input.currency, balance: account ? balance(account) : 0n, pending: account?.creditsPending ?? 0n };
}

export interface PaymentTotals {
  providerId: string;
  currency: string;
  state: PaymentState;
  count: number;
  amount: bigint;
}

/** Payments per provider and state: how many, and their amount. */
export async function paymentTotals(db: Db, merchantId: string): Promise<PaymentTotals[]> {
  const rows = await db.rechargePayment.groupBy({
    by: ['providerId', 'currency', 'state'],
    where: { merchantId },
    _count: { _all: true },
    _sum: { amount: true },
    orderBy: [{ providerId: 'asc' }, { currency: 'asc' }, { state: 'asc' }],
  });
  return rows.map((row) => ({
    providerId: row.providerId,
    currency: row.currency,
    state: row.state as PaymentState,
    count: row._count._all,
    amount: row._sum.amount ?? 0n,
  }));
}
