/**
 * Refunds: money a merchant gives back through the gateway, whole or in part.
 *
 * A refund is recorded as `pending` in its own transaction before the gateway is asked, and the
 * ledger moves only once the gateway confirmed it. A gateway that times out or answers garbage
 * leaves it pending; it is then never asked blindly again (that could pay the payer twice):
 * - where the protocol can tell (Zarinpal: the payment's inquiry says REVERSED; the session's
 *   refunded total covers an AddRefund), the gateway is asked what happened, on a retry of the
 *   refund and by reconciliation; a reverse that did not happen is asked again, which is safe
 *   because a reverse returns the whole payment or nothing, while an AddRefund that does not show
 *   is asked about again later, and only an operator may declare it failed;
 * - where it cannot (Shepa), the refund stays pending until an operator, who checked the
 *   gateway's panel, settles it (`cli payments refund-resolve`).
 * At most one refund of a payment is pending at a time (a partial unique index backs this up),
 * and pending amounts are not refundable again, so the refunds of a payment never exceed it.
 */
import type { Db } from '../../db/database.ts';
import { transact } from '../../deps.ts';
import { AppError, invalid, notFound } from '../../errors.ts';
import { recordEvents } from '../../events/outbox.ts';
import type { InvoicePayment, InvoicePaymentRefund } from '../../generated/prisma/client.ts';
import { idempotent } from '../../idempotency/idempotency.ts';
import { connectorFor } from './connectors.ts';
import {
  GatewayError,
  GatewayRejectedError,
  GatewayUnavailableError,
  type GatewayConnector,
  type GatewayName,
  type RefundInput,
} from './gateways/types.ts';
import { ZARINPAL_MIN_REFUND, ZarinpalConnector } from './gateways/zarinpal.ts';
import { lockPayment, moveMoney, movePayment, newId, paymentEvent, updateInvoice, type ServiceDeps } from './records.ts';

export type RefundTarget = { paymentId: string } | { invoiceId: string; authority: string };

export type RefundStatus = 'pending' | 'refunded' | 'failed';

/** Who settled a refund's outcome. */
export type RefundResolver = 'gateway' | 'reconciliation' | 'operator';

export interface RefundResult {
  payment: InvoicePayment;
  refund: InvoicePaymentRefund;
  replayed: boolean;
}

const refusalHints: Record<string, string> = {
  '-60': 'the bank refused the reverse',
  '-61': 'the payment is not successful or already reversed',
  '-63': "past Zarinpal's 30-minute reverse window",
};

/** What became of one request to the gateway. */
type GatewayAnswer =
  | { kind: 'refunded'; reference: string | null }
  | { kind: 'refused'; detail: string }
  | { kind: 'unknown'; detail: string };

/** How a refund is asked of its gateway (stored on the refund). */
export type RefundMethod = 'reverse' | 'add_refund' | 'refund_transaction';

/** Zarinpal reverses only within 30 minutes of payment; a minute is kept for the call itself. */
const REVERSE_WINDOW_MS = 29 * 60_000;

const refundInput = (payment: InvoicePayment, refund: Pick<InvoicePaymentRefund, 'amount' | 'method'>): RefundInput => ({
  authority: payment.authority!,
  amount: refund.amount,
  ...(payment.refId ? { refId: payment.refId } : {}),
  ...(payment.transactionId ? { transactionId: payment.transactionId } : {}),
  ...(refund.method === 'add_refund' ? { method: 'refund' as const } : refund.method === 'reverse' ? { method: 'reverse' as const } : {}),
  refundedBefore: payment.refundedAmount,
});

/**
 * Shepa: refund-transaction, whole or in part. Zarinpal: `reverse` for a whole payment within
 * 30 minutes of payment (fee-free, needs only the merchant_id); otherwise AddRefund, which takes
 * any amount from 20,000 rials but needs the merchant's panel access token and terminal id.
 */
async function chooseMethod(connector: GatewayConnector, payment: InvoicePayment, amount: bigint, now: Date): Promise<RefundMethod> {
  if (!(connector instanceof ZarinpalConnector)) return 'refund_transaction';
  const early = payment.verifiedAt !== null && now.getTime() - payment.verifiedAt.getTime() <= REVERSE_WINDOW_MS;
  if (amount === payment.amount && payment.refundedAmount === 0n && early) return 'reverse';
  if (!connector.canRefundInPart) {
    throw new AppError(
      'GATEWAY_NOT_CONFIGURED',
      'Zarinpal refunds other than a whole payment within 30 minutes of payment go through its GraphQL API, which needs the merchant\'s panel access token and terminal id (`cli gateway set --gateway zarinpal … --access-token … --terminal-id …`).',
      'amount',
    );
  }
  if (amount < ZARINPAL_MIN_REFUND) {
    throw invalid('amount', `Zarinpal refunds a part of a payment, or a payment older than 30 minutes, from ${ZARINPAL_MIN_REFUND} rials.`);
  }
  return 'add_refund';
}

/** Asks the gateway for the refund. Only an answer about the refund itself settles it. */
async function sendRefund(connector: GatewayConnector, input: RefundInput): Promise<GatewayAnswer> {
  try {
    const result = await connector.refund(input);
    if (result.outcome === 'refunded') return { kind: 'refunded', reference: result.reference ?? null };
    // A reverse whose answer was lost and that is asked again answers -61: the inquiry tells.
    if (connector.refundStatus && (await connector.refundStatus(input)) === 'refunded') return { kind: 'refunded', reference: null };
    const hint = refusalHints[result.gatewayCode ?? ''];
    return { kind: 'refused', detail: `${connector.name} refused the refund (code ${result.gatewayCode ?? 'none'}${hint ? `: ${hint}` : ''}).` };
  } catch (error) {
    if (error instanceof GatewayUnavailableError) {
      return { kind: 'unknown', detail: `${connector.name} did not confirm the refund (${error.reason}): ${error.message}` };
    }
    // A refusal of the call itself (credentials, validation, rate limit): nothing was refunded.
    if (error instanceof GatewayRejectedError) return { kind: 'refused', detail: `${connector.name} refused the refund (code ${error.gatewayCode}).` };
    if (error instanceof GatewayError) return { kind: 'refused', detail: error.message };
    throw error;
  }
}

/**
 * Settles a pending refund whose gateway answer is not known: asks the gateway where its
 * protocol allows, and asks for the refund again only where a repeat cannot pay twice.
 */
async function resolveWithGateway(connector: GatewayConnector, input: RefundInput): Promise<GatewayAnswer> {
  if (!connector.refundStatus) {
    return {
      kind: 'unknown',
      detail: `${connector.name} cannot be asked whether a refund happened; an operator settles it with \`cli payments refund-resolve\` after checking the gateway's panel.`,
    };
  }
  try {
    if ((await connector.refundStatus(input)) === 'refunded') return { kind: 'refunded', reference: null };
  } catch (error) {
    if (error instanceof GatewayUnavailableError || error instanceof GatewayRejectedError) {
      return { kind: 'unknown', detail: `${connector.name} did not say whether the refund happened: ${error.message}` };
    }
    throw error;
  }
  if (!connector.refundRepeatable(input)) {
    return {
      kind: 'unknown',
      detail: `${connector.name} shows no such refund yet; it is asked again by reconciliation, and an operator who finds it never happened settles it with \`cli payments refund-resolve\`.`,
    };
  }
  return sendRefund(connector, input);
}

/**
 * Applies a refund's outcome under the payment's lock: refunded moves the money in the ledger and
 * the payment (and invoice) on; failed frees the amount; unknown only notes why it is pending. A
 * refund that is no longer pending (settled meanwhile) is left as it is: answers false.
 */
async function applyOutcome(tx: Db, refundId: string, answer: GatewayAnswer, resolvedBy: RefundResolver, now: Date): Promise<boolean> {
  const head = await tx.invoicePaymentRefund.findUniqueOrThrow({ where: { id: refundId } });
  const locked = await lockPayment(tx, head.paymentId);
  const refund = await tx.invoicePaymentRefund.findUniqueOrThrow({ where: { id: refundId } });
  if (!locked || refund.status !== 'pending') return false;
  const { invoice } = locked;
  let { payment } = locked;
  if (answer.kind === 'unknown') {
    await tx.invoicePaymentRefund.update({ where: { id: refundId }, data: { note: answer.detail } });
    await tx.invoicePayment.update({
      where: { id: payment.id },
      data: { note: `A refund of ${refund.amount} rials is pending: ${answer.detail}`, updatedAt: now },
    });
    return true;
  }
  const refundPendingAmount = payment.refundPendingAmount - refund.amount;
  if (answer.kind === 'refused') {
    await tx.invoicePaymentRefund.update({ where: { id: refundId }, data: { status: 'failed', note: answer.detail, resolvedBy, resolvedAt: now } });
    payment = await tx.invoicePayment.update({ where: { id: payment.id }, data: { refundPendingAmount, note: answer.detail, updatedAt: now } });
    await recordEvents(tx, [paymentEvent(payment, 'payment.refund_failed', { refundId, amount: refund.amount.toString(), reason: answer.detail })], now);
    return true;
  }
  const transferId = await moveMoney(
    tx,
    {
      merchantId: payment.merchantId,
      gateway: payment.gateway,
      amount: refund.amount,
      key: `invoice-payment:${payment.id}:refund:${refund.id}`,
      code: 'invoice.payment.refunded',
      direction: 'out',
    },
    now,
  );
  await tx.invoicePaymentRefund.update({
    where: { id: refundId },
    data: { status: 'refunded', reference: answer.reference, ledgerTransferId: transferId, note: null, resolvedBy, resolvedAt: now },
  });
  const refundedAmount = payment.refundedAmount + refund.amount;
  const patch = { refundedAmount, refundPendingAmount, note: null };
  if (refundedAmount === payment.amount) {
    payment = await movePayment(tx, payment, 'refunded', 'refunded_by_merchant', now, patch);
  } else {
    payment = await tx.invoicePayment.update({ where: { id: payment.id }, data: { ...patch, updatedAt: now } });
    await recordEvents(tx, [paymentEvent(payment, 'payment.refunded', { refundId, amount: refund.amount.toString(), partial: true })], now);
  }
  await updateInvoice(tx, invoice, { refundedAmount: invoice.refundedAmount + refund.amount }, now);
  return true;
}

/** Drives a pending refund: asks the gateway for it (`send`) or about it (`resolve`), then applies the answer. */
async function settle(deps: ServiceDeps, refundId: string, mode: 'send' | 'resolve', resolvedBy: RefundResolver): Promise<void> {
  const refund = await deps.prisma.invoicePaymentRefund.findUniqueOrThrow({ where: { id: refundId }, include: { payment: true } });
  if (refund.status !== 'pending') return;
  // The first request for it is still waiting for the gateway (it notes an unknown outcome when done).
  const inFlight = refund.note === null && deps.clock.now().getTime() - refund.createdAt.getTime() < 2 * deps.config.GATEWAY_TIMEOUT_MS + 5_000;
  if (mode === 'resolve' && inFlight) return;
  // The payment stays locked while the gateway is asked, as a check of a payment does: an operator
  // settling the refund meanwhile (resolveRefund) waits for the answer and then finds it settled,
  // rather than settling it the other way while the gateway carries it out.
  await transact(deps, async (tx) => {
    const locked = await lockPayment(tx, refund.paymentId);
    const current = await tx.invoicePaymentRefund.findUniqueOrThrow({ where: { id: refundId } });
    if (!locked || current.status !== 'pending') return;
    const connector = await connectorFor(tx, deps, refund.merchantId, refund.payment.gateway as GatewayName);
    const input = refundInput(locked.payment, current);
    let answer: GatewayAnswer;
    try {
      answer = mode === 'send' ? await sendRefund(connector, input) : await resolveWithGateway(connector, input);
    } catch (error) {
      deps.logger.error({ err: error, refundId }, 'unexpected failure asking the gateway for a refund; it stays pending');
      answer = { kind: 'unknown', detail: 'Unexpected failure while asking the gateway.' };
    }
    if (answer.kind === 'unknown') deps.logger.warn({ refundId, paymentId: refund.paymentId, detail: answer.detail }, 'refund left pending');
    await applyOutcome(tx, refundId, answer, resolvedBy, deps.clock.now());
  });
}

async function findTarget(tx: Db, merchantId: string, target: RefundTarget): Promise<string | null> {
  if ('paymentId' in target) return target.paymentId;
  const payment = await tx.invoicePayment.findFirst({ where: { merchantId, invoiceId: target.invoiceId, authority: target.authority } });
  return payment?.id ?? null;
}

/**
 * Gives (part of) a verified payment back through its gateway (see `chooseMethod` for how each
 * gateway is asked). Answers the payment and
 * the refund: `refunded`, or `pending` when the gateway's answer did not come (see above). A
 * refusal by the gateway is GATEWAY_REJECTED and changes nothing but the refund's record.
 *
 * A repeat of a refund that is pending (the same amount, or no amount) asks the gateway what
 * happened instead of refunding again; any other refund waits until the pending one is settled.
 */
export async function refundPayment(
  deps: ServiceDeps,
  merchantId: string,
  target: RefundTarget,
  amount: bigint | null = null,
  idempotencyKey: string | null = null,
): Promise<RefundResult> {
  const payload = { target, amount };
  const { value, replayed } = await idempotent(deps, { merchantId, key: idempotencyKey, scope: 'invoices:refundPayment', payload }, async (tx) => {
    const paymentId = await findTarget(tx, merchantId, target);
    const locked = paymentId ? await lockPayment(tx, paymentId, merchantId) : null;
    if (!locked) throw notFound('Payment');
    const { payment } = locked;
    const pending = await tx.invoicePaymentRefund.findFirst({ where: { paymentId: payment.id, status: 'pending' } });
    if (pending) {
      if (amount === null || amount === pending.amount) return { refundId: pending.id, send: false };
      throw new AppError(
        'INVALID_STATE_TRANSITION',
        `A refund of ${pending.amount} rials of this payment is pending at the gateway; another refund can be asked once it is settled.`,
      );
    }
    if (payment.state !== 'verified') {
      throw new AppError('INVALID_STATE_TRANSITION', `Only a verified payment can be refunded; this one is ${payment.state}.`);
    }
    const refundable = payment.amount - payment.refundedAmount;
    const refund = amount ?? refundable;
    if (refund <= 0n || refund > refundable) throw invalid('amount', `amount must be from 1 to the refundable ${refundable} rials.`);
    const gateway = payment.gateway as GatewayName;
    const now = deps.clock.now();
    // Fails early, before anything is recorded, when the merchant has no credentials.
    const method = await chooseMethod(await connectorFor(tx, deps, merchantId, gateway), payment, refund, now);
    const created = await tx.invoicePaymentRefund.create({
      data: {
        id: newId(),
        paymentId: payment.id,
        merchantId,
        amount: refund,
        status: 'pending',
        method,
        createdAt: now,
      },
    });
    const updated = await tx.invoicePayment.update({
      where: { id: payment.id },
      data: { refundPendingAmount: payment.refundPendingAmount + refund, updatedAt: now },
    });
    await recordEvents(tx, [paymentEvent(updated, 'payment.refund_pending', { refundId: created.id, amount: refund.toString() })], now);
    return { refundId: created.id, send: true };
  });

  await settle(deps, value.refundId, value.send && !replayed ? 'send' : 'resolve', 'gateway');
  const refund = await deps.prisma.invoicePaymentRefund.findUniqueOrThrow({ where: { id: value.refundId }, include: { payment: true } });
  if (refund.status === 'failed') throw new AppError('GATEWAY_REJECTED', refund.note ?? 'The gateway refused the refund.');
  const { payment, ...row } = refund;
  return { payment, refund: row, replayed };
}

export type RefundResolution = { outcome: 'refunded'; reference?: string | null } | { outcome: 'failed'; note?: string | null };

/**
 * An operator's word on what became of money sent back through a gateway that could not be asked
 * (Shepa): the payment's pending refund, or else the return of money it could not accept whose
 * outcome is unknown (an attempt `reverse_unknown`). `refunded` moves the ledger for a refund.
 */
export async function resolveRefund(
  deps: ServiceDeps,
  paymentId: string,
  resolution: RefundResolution,
): Promise<{ payment: InvoicePayment; refund: InvoicePaymentRefund | null; attemptId: string | null }> {
  const pending = await deps.prisma.invoicePaymentRefund.findFirst({ where: { paymentId, status: 'pending' } });
  if (pending) {
    const note = resolution.outcome === 'failed' ? (resolution.note ?? 'An operator found that the gateway did not refund it.') : null;
    const answer: GatewayAnswer =
      resolution.outcome === 'refunded' ? { kind: 'refunded', reference: resolution.reference ?? null } : { kind: 'refused', detail: note! };
    const applied = await transact(deps, (tx) => applyOutcome(tx, pending.id, answer, 'operator', deps.clock.now()));
    // The gateway's answer to the request that sent it came first (see settle).
    if (!applied) throw new AppError('INVALID_STATE_TRANSITION', 'The refund was settled meanwhile by the gateway\'s answer; this resolution was not applied.');
    const refund = await deps.prisma.invoicePaymentRefund.findUniqueOrThrow({ where: { id: pending.id } });
    return { payment: await deps.prisma.invoicePayment.findUniqueOrThrow({ where: { id: paymentId } }), refund, attemptId: null };
  }
  const attemptId = await transact(deps, async (tx) => {
    const locked = await lockPayment(tx, paymentId);
    if (!locked) throw notFound('Payment');
    const attempt = await tx.invoicePaymentAttempt.findFirst({ where: { paymentId, status: 'reverse_unknown' }, orderBy: { updatedAt: 'asc' } });
    if (!attempt) throw new AppError('INVALID_STATE_TRANSITION', 'This payment has no refund or return of money whose outcome is unknown.');
    const now = deps.clock.now();
    const status = resolution.outcome === 'refunded' ? 'reversed' : 'reverse_failed';
    await tx.invoicePaymentAttempt.update({ where: { id: attempt.id }, data: { status, updatedAt: now } });
    const amount = attempt.verifiedAmount ?? attempt.amount;
    const note =
      status === 'reversed'
        ? `The gateway took ${amount} rials that could not be accepted; an operator confirmed they were returned to the payer.`
        : `The gateway took ${amount} rials that could not be accepted; an operator found they were not returned and must return them by hand.`;
    const payment = await tx.invoicePayment.update({ where: { id: paymentId }, data: { note, updatedAt: now } });
    await recordEvents(tx, [paymentEvent(payment, status === 'reversed' ? 'payment.returned' : 'payment.return_failed', { attemptId: attempt.id, amount: amount.toString() })], now);
    return attempt.id;
  });
  return { payment: await deps.prisma.invoicePayment.findUniqueOrThrow({ where: { id: paymentId } }), refund: null, attemptId };
}

export interface RefundReconcileReport {
  refundsChecked: number;
  refundsResolved: number;
  refundsAwaitingOperator: number;
  errors: number;
}

/**
 * Pending refunds older than PAYMENT_RECONCILE_AFTER_MS are asked about where the gateway can
 * tell; the others are counted as waiting for an operator.
 */
export async function reconcileRefunds(deps: ServiceDeps, options: { merchantId?: string; limit?: number } = {}): Promise<RefundReconcileReport> {
  const now = deps.clock.now();
  const pending = await deps.prisma.invoicePaymentRefund.findMany({
    where: {
      status: 'pending',
      createdAt: { lte: new Date(now.getTime() - deps.config.PAYMENT_RECONCILE_AFTER_MS) },
      ...(options.merchantId ? { merchantId: options.merchantId } : {}),
    },
    orderBy: { createdAt: 'asc' },
    take: options.limit ?? 500,
    include: { payment: { select: { gateway: true } } },
  });
  const report: RefundReconcileReport = { refundsChecked: 0, refundsResolved: 0, refundsAwaitingOperator: 0, errors: 0 };
  for (const refund of pending) {
    try {
      const connector = await connectorFor(deps.prisma, deps, refund.merchantId, refund.payment.gateway as GatewayName);
      if (!connector.refundStatus) {
        report.refundsAwaitingOperator++;
        continue;
      }
      report.refundsChecked++;
      await settle(deps, refund.id, 'resolve', 'reconciliation');
      const after = await deps.prisma.invoicePaymentRefund.findUniqueOrThrow({ where: { id: refund.id } });
      if (after.status !== 'pending') report.refundsResolved++;
    } catch (error) {
      report.errors++;
      deps.logger.error({ err: error, refundId: refund.id }, 'reconciling a pending refund failed');
    }
  }
  return report;
}
