/**
 * The invoice domain's actions, shared by GraphQL and the legacy REST routes. Amounts are IRR
 * rials (bigint) everywhere. Actions that talk to a gateway hold the invoice's lock while they
 * do (see records.ts), bounded by GATEWAY_TIMEOUT_MS.
 */
import { z } from 'zod';
import type { Config } from '../../config.ts';
import type { Db } from '../../db/database.ts';
import { DEMO } from '../../demo.ts';
import { transact } from '../../deps.ts';
import { AppError, invalid, notFound } from '../../errors.ts';
import type { Invoice, InvoicePayment, Prisma as PrismaTypes } from '../../generated/prisma/client.ts';
import { idempotent } from '../../idempotency/idempotency.ts';
import type { GatewayName } from './gateways/types.ts';
import {
  GATEWAYS,
  isPayable,
  MAX_AMOUNT,
  MIN_PAYMENT_AMOUNT,
  normalizeMobile,
  PAYMENT_STATES,
  remainingAmount,
  type InvoiceStatus,
  type PaymentState,
} from './model.ts';
import {
  gatewayFailure,
  insertInvoice,
  insertPayment,
  lockInvoice,
  lockPayment,
  movePayment,
  openAttempt,
  updateInvoice,
  type ServiceDeps,
} from './records.ts';

/** The merchant the legacy routes serve without credentials: configured, or the demo merchant in demo mode. */
export const defaultMerchantId = (config: Config): string | null => config.INVOICES_MERCHANT_ID ?? (config.DEMO ? DEMO.merchantId : null);

export const MAX_DESCRIPTION = 500;

/** A result of an action that takes an idempotency key: `replayed` when a stored result answered. */
export interface Replayable<T> {
  value: T;
  replayed: boolean;
}
const emailSchema = z.email();

export function checkAmount(field: string, amount: bigint, minimum = MIN_PAYMENT_AMOUNT): bigint {
  if (amount < minimum || amount > MAX_AMOUNT) {
    throw invalid(field, `${field} is a whole number of IRR rials (not tomans) from ${minimum} to ${MAX_AMOUNT}.`);
  }
  return amount;
}

export function checkMobile(field: string, mobile: string | null | undefined): string | null {
  if (mobile === null || mobile === undefined || mobile === '') return null;
  const normalized = normalizeMobile(mobile);
  if (!normalized) throw invalid(field, `${field} must be an Iranian mobile number such as 09123456789 or +989123456789.`);
  return normalized;
}

export function checkEmail(field: string, email: string | null | undefined): string | null {
  if (email === null || email === undefined || email === '') return null;
  if (email.length > 254 || !emailSchema.safeParse(email).success) throw invalid(field, `${field} must be an email address.`);
  return email;
}

export function checkText(field: string, value: string, max: number): string {
  const trimmed = value.trim();
  if (trimmed.length === 0 || trimmed.length > max) throw invalid(field, `${field} must have 1 to ${max} characters.`);
  return trimmed;
}

// ---- Reading --------------------------------------------------------------------------------

export const findInvoice = (db: Db, merchantId: string, id: string): Promise<Invoice | null> =>
  db.invoice.findFirst({ where: { id, merchantId } });

export const findPayment = (db: Db, merchantId: string, id: string): Promise<InvoicePayment | null> =>
  db.invoicePayment.findFirst({ where: { id, merchantId } });

/** Waiting payments of an invoice, oldest first; null when the invoice is unknown (or another merchant's). */
export async function waitingPayments(db: Db, merchantId: string, invoiceId: string): Promise<InvoicePayment[] | null> {
  const invoice = await findInvoice(db, merchantId, invoiceId);
  if (!invoice) return null;
  return db.invoicePayment.findMany({ where: { invoiceId, state: 'waiting' }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
}

export interface InvoiceFilter {
  status?: InvoiceStatus[] | null;
  search?: string | null;
  mobile?: string | null;
  createdFrom?: Date | null;
  createdTo?: Date | null;
}

export function invoiceWhere(merchantId: string, filter: InvoiceFilter = {}): PrismaTypes.InvoiceWhereInput {
  const mobile = filter.mobile ? (normalizeMobile(filter.mobile) ?? filter.mobile) : null;
  return {
    merchantId,
    ...(filter.status?.length ? { status: { in: filter.status } } : {}),
    ...(filter.search ? { title: { contains: filter.search, mode: 'insensitive' as const } } : {}),
    ...(mobile ? { mobile } : {}),
    ...(filter.createdFrom || filter.createdTo
      ? { createdAt: { ...(filter.createdFrom ? { gte: filter.createdFrom } : {}), ...(filter.createdTo ? { lt: filter.createdTo } : {}) } }
      : {}),
  };
}

export interface StatusRow {
  gateway: GatewayName;
  status: PaymentState;
  count: number;
  amount: bigint;
  refundedAmount: bigint;
}

/** Counts and sums (IRR rials) of payments per gateway and state; every pair is present. */
export async function paymentsStatus(db: Db, merchantId: string | null): Promise<StatusRow[]> {
  const groups = await db.invoicePayment.groupBy({
    by: ['gateway', 'state'],
    where: merchantId ? { merchantId } : {},
    _count: { _all: true },
    _sum: { amount: true, refundedAmount: true },
  });
  return GATEWAYS.flatMap((gateway) =>
    PAYMENT_STATES.map((status) => {
      const group = groups.find((g) => g.gateway === gateway && g.state === status);
      return {
        gateway,
        status,
        count: group?._count._all ?? 0,
        amount: group?._sum.amount ?? 0n,
        refundedAmount: group?._sum.refundedAmount ?? 0n,
      };
    }),
  );
}

// ---- Invoices -------------------------------------------------------------------------------

export interface CreateInvoiceInput {
  title: string;
  totalAmount: bigint;
  mobile?: string | null;
  email?: string | null;
}

export async function createInvoice(
  deps: ServiceDeps,
  merchantId: string,
  input: CreateInvoiceInput,
  idempotencyKey: string | null = null,
): Promise<Replayable<Invoice>> {
  const fields = {
    title: checkText('title', input.title, 255),
    totalAmount: checkAmount('totalAmount', input.totalAmount),
    mobile: checkMobile('mobile', input.mobile),
    email: checkEmail('email', input.email),
  };
  const { value, replayed } = await idempotent(deps, { merchantId, key: idempotencyKey, scope: 'invoices:createInvoice', payload: fields }, async (tx) => {
    const invoice = await insertInvoice(tx, merchantId, fields, deps.clock.now());
    return { invoiceId: invoice.id };
  });
  return { value: await deps.prisma.invoice.findUniqueOrThrow({ where: { id: value.invoiceId } }), replayed };
}

/**
 * Cancels an invoice that holds no money: its created and waiting payments are canceled with
 * it. A payer who still pays one of them is refunded through the gateway when the callback comes.
 */
export async function cancelInvoice(deps: ServiceDeps, merchantId: string, invoiceId: string): Promise<Invoice> {
  return transact(deps, async (tx) => {
    const invoice = await lockInvoice(tx, invoiceId, merchantId);
    if (!invoice) throw notFound('Invoice');
    if (invoice.status === 'canceled') throw new AppError('INVALID_STATE_TRANSITION', 'The invoice is already canceled.');
    if (await tx.invoicePayment.count({ where: { invoiceId, state: 'verified' } })) {
      throw new AppError('INVALID_STATE_TRANSITION', 'The invoice has verified payments; refund them before canceling it.');
    }
    const now = deps.clock.now();
    const open = await tx.invoicePayment.findMany({ where: { invoiceId, state: { in: ['created', 'waiting'] } }, orderBy: { createdAt: 'asc' } });
    for (const payment of open) {
      await tx.invoicePaymentAttempt.updateMany({
        where: { paymentId: payment.id, status: 'open' },
        data: { status: 'superseded', reason: 'invoice_canceled', updatedAt: now },
      });
      await movePayment(tx, payment, 'canceled', 'invoice_canceled', now);
    }
    return updateInvoice(tx, invoice, { canceledAt: now }, now);
  });
}

// ---- Payments -------------------------------------------------------------------------------

export interface RequestPaymentInput {
  invoiceId: string;
  gateway: GatewayName;
  amount: bigint;
  description?: string | null;
  mobile?: string | null;
  email?: string | null;
}

export function ensurePayable(invoice: Invoice, amount: bigint): void {
  if (!isPayable(invoice)) {
    throw new AppError('INVALID_STATE_TRANSITION', `The invoice is ${invoice.status.replace('_', ' ')} and takes no more payments.`);
  }
  const remaining = remainingAmount(invoice);
  if (amount > remaining) throw invalid('amount', `amount exceeds what is left to pay on the invoice: ${remaining} rials.`);
}

/**
 * Creates a payment of (part of) an invoice and sends it to the gateway; answers the payment in
 * state `waiting` with the gateway's redirect URL. If the gateway cannot be reached or refuses,
 * nothing is kept and the error says so.
 */
export async function requestPayment(
  deps: ServiceDeps,
  merchantId: string,
  input: RequestPaymentInput,
  idempotencyKey: string | null = null,
): Promise<Replayable<InvoicePayment>> {
  const amount = checkAmount('amount', input.amount);
  const description = input.description?.trim() ? checkText('description', input.description, MAX_DESCRIPTION) : null;
  const mobile = checkMobile('mobile', input.mobile);
  const email = checkEmail('email', input.email);
  const payload = { invoiceId: input.invoiceId, gateway: input.gateway, amount, description, mobile, email };
  const { value, replayed } = await idempotent(deps, { merchantId, key: idempotencyKey, scope: 'invoices:requestPayment', payload }, async (tx) => {
    const invoice = await lockInvoice(tx, input.invoiceId, merchantId);
    if (!invoice) throw notFound('Invoice');
    ensurePayable(invoice, amount);
    const now = deps.clock.now();
    const created = await insertPayment(
      tx,
      invoice,
      {
        gateway: input.gateway,
        amount,
        description: description ?? invoice.title.slice(0, MAX_DESCRIPTION),
        mobile: mobile ?? invoice.mobile,
        email: email ?? invoice.email,
      },
      now,
    );
    const { payment } = await openAttempt(tx, deps, created, input.gateway, now);
    return { paymentId: payment.id };
  });
  return { value: await deps.prisma.invoicePayment.findUniqueOrThrow({ where: { id: value.paymentId } }), replayed };
}

/**
 * Sends a created or waiting payment to a gateway again (the same or another one) for a fresh
 * redirect. The previous attempt is superseded: if the payer completes it after all, its
 * callback is still checked, and the money is either accepted or returned.
 */
export async function startWaiting(
  deps: ServiceDeps,
  merchantId: string,
  input: { paymentId: string; gateway: GatewayName },
  idempotencyKey: string | null = null,
): Promise<Replayable<InvoicePayment>> {
  const { value, replayed } = await idempotent(deps, { merchantId, key: idempotencyKey, scope: 'invoices:startWaiting', payload: input }, async (tx) => {
    const locked = await lockPayment(tx, input.paymentId, merchantId);
    if (!locked) throw notFound('Payment');
    const { invoice, payment } = locked;
    if (payment.state !== 'created' && payment.state !== 'waiting') {
      throw new AppError(
        'INVALID_STATE_TRANSITION',
        `The payment is ${payment.state}; only a created or waiting payment can be started again. Request a new payment instead.`,
      );
    }
    if (!isPayable(invoice) || payment.amount > remainingAmount(invoice)) {
      throw new AppError(
        'INVALID_STATE_TRANSITION',
        `The invoice is ${invoice.status.replace('_', ' ')} with ${remainingAmount(invoice)} rials left, less than this payment; request a new payment instead.`,
      );
    }
    await openAttempt(tx, deps, payment, input.gateway, deps.clock.now());
    return { paymentId: payment.id };
  });
  return { value: await deps.prisma.invoicePayment.findUniqueOrThrow({ where: { id: value.paymentId } }), replayed };
}

export const paymentHistory = (db: Db, paymentId: string) =>
  db.invoicePaymentTransition.findMany({ where: { paymentId }, orderBy: { id: 'asc' } });

export const paymentRefunds = (db: Db, paymentId: string) =>
  db.invoicePaymentRefund.findMany({ where: { paymentId }, orderBy: { createdAt: 'asc' } });
