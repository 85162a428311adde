/**
 * The building blocks every invoice action is made of, each running inside the caller's
 * transaction: locks, payment transitions (recorded and published), invoice status upkeep,
 * ledger moves and the trip to a gateway that opens an attempt.
 *
 * Lock order, everywhere: the invoice row first, then its payment rows. Every writer of a payment
 * takes its invoice's lock, so verifications of one invoice run one at a time and the check
 * "verified sum + amount <= total" cannot race.
 */
import { randomUUID } from 'node:crypto';
import type { Config } from '../../config.ts';
import type { Db } from '../../db/database.ts';
import type { Deps } from '../../deps.ts';
import { AppError } from '../../errors.ts';
import { recordEvents, type NewEvent } from '../../events/outbox.ts';
import type { Invoice, InvoicePayment, InvoicePaymentAttempt } from '../../generated/prisma/client.ts';
import { createTransfers, openAccounts } from '../../ledger/ledger.ts';
import { connectorFor } from './connectors.ts';
import { GatewayError, GatewayRejectedError, GatewayUnavailableError, type GatewayName } from './gateways/types.ts';
import { assertTransition, CURRENCY, deriveInvoiceStatus, type PaymentState } from './model.ts';

export type ServiceDeps = Pick<Deps, 'config' | 'prisma' | 'relay' | 'clock' | 'logger'>;

export const PAYMENT_TOPIC = 'PAYMENT';
export const INVOICE_TOPIC = 'INVOICE';

export const newId = (): string => randomUUID();

export function publicBaseUrl(config: Config): string {
  return (config.PUBLIC_BASE_URL ?? `http://localhost:${config.PORT}`).replace(/\/+$/, '');
}

/** Where the gateway sends the payer back: our payment id travels in it, the authority is added by the gateway. */
export const callbackUrl = (config: Config, gateway: GatewayName, paymentId: string): string =>
  `${publicBaseUrl(config)}/payment/callback/${gateway}?paymentId=${paymentId}`;

export const resultPageUrl = (config: Config, paymentId: string): string => `${publicBaseUrl(config)}/payment/result?paymentId=${paymentId}`;

export async function lockInvoice(tx: Db, invoiceId: string, merchantId?: string): Promise<Invoice | null> {
  const rows = merchantId
    ? await tx.$queryRawUnsafe<{ id: string }[]>(`SELECT id FROM invoices WHERE id = $1 AND merchant_id = $2 FOR UPDATE`, invoiceId, merchantId)
    : await tx.$queryRawUnsafe<{ id: string }[]>(`SELECT id FROM invoices WHERE id = $1 FOR UPDATE`, invoiceId);
  if (rows.length === 0) return null;
  return tx.invoice.findUniqueOrThrow({ where: { id: invoiceId } });
}

/** Locks a payment and its invoice (invoice first); null when unknown or another merchant's. */
export async function lockPayment(
  tx: Db,
  paymentId: string,
  merchantId?: string,
): Promise<{ invoice: Invoice; payment: InvoicePayment } | null> {
  const head = await tx.invoicePayment.findFirst({
    where: { id: paymentId, ...(merchantId ? { merchantId } : {}) },
    select: { invoiceId: true },
  });
  if (!head) return null;
  const invoice = await lockInvoice(tx, head.invoiceId);
  await tx.$queryRawUnsafe(`SELECT id FROM invoice_payments WHERE id = $1 FOR UPDATE`, paymentId);
  const payment = await tx.invoicePayment.findUniqueOrThrow({ where: { id: paymentId } });
  return { invoice: invoice!, payment };
}

export function paymentEvent(payment: InvoicePayment, type: string, data: Record<string, unknown> = {}): NewEvent {
  return {
    merchantId: payment.merchantId,
    type,
    topic: PAYMENT_TOPIC,
    objectId: payment.id,
    data: { invoiceId: payment.invoiceId, status: payment.state, gateway: payment.gateway, amount: payment.amount.toString(), ...data },
  };
}

function invoiceEvent(invoice: Invoice, type: string, data: Record<string, unknown> = {}): NewEvent {
  return {
    merchantId: invoice.merchantId,
    type,
    topic: INVOICE_TOPIC,
    objectId: invoice.id,
    data: {
      status: invoice.status,
      totalAmount: invoice.totalAmount.toString(),
      paidAmount: invoice.paidAmount.toString(),
      refundedAmount: invoice.refundedAmount.toString(),
      ...data,
    },
  };
}

/** Records a new payment in state `created`. */
export async function insertPayment(
  tx: Db,
  invoice: Invoice,
  input: { gateway: GatewayName; amount: bigint; description: string; mobile: string | null; email: string | null },
  now: Date,
): Promise<InvoicePayment> {
  const payment = await tx.invoicePayment.create({
    data: {
      id: newId(),
      merchantId: invoice.merchantId,
      invoiceId: invoice.id,
      gateway: input.gateway,
      amount: input.amount,
      currency: CURRENCY,
      description: input.description,
      mobile: input.mobile,
      email: input.email,
      state: 'created',
      reason: 'requested',
      createdAt: now,
      updatedAt: now,
    },
  });
  await tx.invoicePaymentTransition.create({
    data: { paymentId: payment.id, merchantId: payment.merchantId, from: null, to: 'created', reason: 'requested', at: now },
  });
  await recordEvents(tx, [paymentEvent(payment, 'payment.created', { from: null, reason: 'requested' })], now);
  return payment;
}

/** The one way a payment changes state: checked against the state machine, recorded, published. */
export async function movePayment(
  tx: Db,
  payment: InvoicePayment,
  to: PaymentState,
  reason: string,
  now: Date,
  patch: Partial<Omit<InvoicePayment, 'id' | 'state' | 'reason'>> = {},
): Promise<InvoicePayment> {
  assertTransition(payment.state, to);
  const updated = await tx.invoicePayment.update({
    where: { id: payment.id },
    data: { ...patch, state: to, reason, updatedAt: now },
  });
  await tx.invoicePaymentTransition.create({
    data: { paymentId: payment.id, merchantId: payment.merchantId, from: payment.state, to, reason, at: now },
  });
  await recordEvents(tx, [paymentEvent(updated, `payment.${to}`, { from: payment.state, reason })], now);
  return updated;
}

/** Applies a change of the invoice's money or cancellation and publishes `invoice.<status>` when the status moves. */
export async function updateInvoice(
  tx: Db,
  invoice: Invoice,
  change: Partial<Pick<Invoice, 'paidAmount' | 'refundedAmount' | 'canceledAt'>>,
  now: Date,
): Promise<Invoice> {
  const status = deriveInvoiceStatus({ ...invoice, ...change });
  const updated = await tx.invoice.update({ where: { id: invoice.id }, data: { ...change, status, updatedAt: now } });
  if (status !== invoice.status) await recordEvents(tx, [invoiceEvent(updated, `invoice.${status}`, { from: invoice.status })], now);
  return updated;
}

export async function insertInvoice(
  tx: Db,
  merchantId: string,
  input: { title: string; totalAmount: bigint; mobile: string | null; email: string | null },
  now: Date,
): Promise<Invoice> {
  const invoice = await tx.invoice.create({
    data: { id: newId(), merchantId, ...input, currency: CURRENCY, status: 'unpaid', createdAt: now, updatedAt: now },
  });
  await recordEvents(tx, [invoiceEvent(invoice, 'invoice.created')], now);
  return invoice;
}

export const clearingAccountName = (gateway: GatewayName | string): string => `gateway:${gateway}:clearing`;
export const MERCHANT_ACCOUNT_NAME = `invoices:merchant:${CURRENCY}`;

/**
 * Money in (verified: gateway clearing -> merchant) or out (refund: merchant -> gateway clearing).
 * The clearing account has no floor (it stands for money outside); the merchant's has floor 0.
 * A refusal here means a broken invariant (a key spent twice), so it aborts the transaction.
 */
export async function moveMoney(
  tx: Db,
  input: { merchantId: string; gateway: string; amount: bigint; key: string; code: string; direction: 'in' | 'out' },
  now: Date,
): Promise<string> {
  const clearingName = clearingAccountName(input.gateway);
  const accounts = await openAccounts(tx, [
    { merchantId: input.merchantId, name: clearingName, kind: 'gateway_clearing', currency: CURRENCY, floor: null },
    { merchantId: input.merchantId, name: MERCHANT_ACCOUNT_NAME, kind: 'invoices_merchant', currency: CURRENCY, floor: 0n },
  ]);
  const clearing = accounts.get(clearingName)!;
  const merchant = accounts.get(MERCHANT_ACCOUNT_NAME)!;
  const [outcome] = await createTransfers(
    tx,
    [
      {
        merchantId: input.merchantId,
        key: input.key,
        debitAccountId: input.direction === 'in' ? clearing.id : merchant.id,
        creditAccountId: input.direction === 'in' ? merchant.id : clearing.id,
        amount: input.amount,
        currency: CURRENCY,
        code: input.code,
      },
    ],
    now,
  );
  if (!outcome?.ok) throw new Error(`ledger refused ${input.key}: ${outcome?.reason ?? 'no outcome'}`);
  return outcome.transfer.id;
}

/** A connector failure as the business error a client sees; the payment is left as it was. */
export function gatewayFailure(gateway: GatewayName, action: string, error: unknown): Error {
  if (error instanceof AppError) return error;
  if (error instanceof GatewayUnavailableError) {
    return new AppError('GATEWAY_UNAVAILABLE', `${gateway} did not answer the ${action} (${error.reason}); try again later or use another gateway.`);
  }
  if (error instanceof GatewayRejectedError) {
    return new AppError('GATEWAY_REJECTED', `${gateway} refused the ${action} (code ${error.gatewayCode}).`);
  }
  if (error instanceof GatewayError) return new AppError('VALIDATION_FAILED', error.message);
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Sends the payer's payment to a gateway: asks it for an authority, supersedes the payment's
 * previous attempt (a late callback of that one is still checked with the gateway) and moves the
 * payment to `waiting`.
 */
export async function openAttempt(
  tx: Db,
  deps: ServiceDeps,
  payment: InvoicePayment,
  gateway: GatewayName,
  now: Date,
): Promise<{ payment: InvoicePayment; attempt: InvoicePaymentAttempt }> {
  const connector = await connectorFor(tx, deps, payment.merchantId, gateway);
  let redirect;
  try {
    redirect = await connector.requestPayment({
      amount: payment.amount,
      callbackUrl: callbackUrl(deps.config, gateway, payment.id),
      description: payment.description,
      ...(payment.mobile ? { mobile: payment.mobile } : {}),
      ...(payment.email ? { email: payment.email } : {}),
      orderId: payment.id,
    });
  } catch (error) {
    deps.logger.warn({ err: (error as Error).message, paymentId: payment.id, gateway }, 'gateway payment request failed');
    throw gatewayFailure(gateway, 'payment request', error);
  }
  await tx.invoicePaymentAttempt.updateMany({
    where: { paymentId: payment.id, status: 'open' },
    data: { status: 'superseded', reason: `restarted_on_${gateway}`, updatedAt: now },
  });
  const attempt = await tx.invoicePaymentAttempt.create({
    data: {
      id: newId(),
      paymentId: payment.id,
      merchantId: payment.merchantId,
      gateway,
      authority: redirect.authority,
      redirectUrl: redirect.redirectUrl,
      amount: payment.amount,
      status: 'open',
      createdAt: now,
      updatedAt: now,
    },
  });
  const moved = await movePayment(tx, payment, 'waiting', payment.state === 'waiting' ? `restarted_on_${gateway}` : `sent_to_${gateway}`, now, {
    gateway,
    authority: redirect.authority,
    redirectUrl: redirect.redirectUrl,
    waitingSince: now,
    note: null,
  });
  return { payment: moved, attempt };
}
