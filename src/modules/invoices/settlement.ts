/**
 * Where money arrives: callbacks and reconciliation both end here, in `checkAttempt`, which asks
 * the gateway server-to-server and applies what it answers. The callback itself is never
 * trusted: it only names the payment (our id, in the callback URL we registered) and the
 * attempt (the gateway's authority), and says whether to expect success.
 *
 * One check runs at a time per invoice (its row is locked for the whole check, gateway call
 * included), so a callback arriving twice, a replayed one and reconciliation racing it credit a
 * payment once: whoever comes second finds the attempt settled and changes nothing.
 */
import type { Db } from '../../db/database.ts';
import { transact } from '../../deps.ts';
import { recordEvents } from '../../events/outbox.ts';
import type { Invoice, InvoicePayment, InvoicePaymentAttempt } from '../../generated/prisma/client.ts';
import { connectorFor } from './connectors.ts';
import {
  GatewayError,
  GatewayRejectedError,
  GatewayUnavailableError,
  type GatewayConnector,
  type GatewayName,
  type InquiryStatus,
  type VerifyResult,
} from './gateways/types.ts';
import { isPayable, LIVE_ATTEMPT_STATUSES, type AttemptStatus } from './model.ts';
import { lockPayment, moveMoney, movePayment, paymentEvent, updateInvoice, type ServiceDeps } from './records.ts';
import { reconcileRefunds } from './refunds.ts';

/** What the trigger suggests: a success callback, a failure callback, or nothing (reconciliation). */
export type Hint = 'paid' | 'not_paid' | 'unknown';

type GatewayView =
  | { kind: 'paid'; verify: VerifyResult }
  | { kind: 'mismatch'; verify: VerifyResult }
  | { kind: 'not_paid'; final: boolean; detail: string }
  | { kind: 'unknown'; detail: string };

export type CheckOutcome =
  | 'unknown_payment'
  | 'unknown_attempt'
  | 'settled_before'
  | 'verified'
  | 'failed'
  | 'expired'
  | 'still_waiting'
  | 'late_attempt_reversed'
  | 'late_attempt_closed'
  | 'late_attempt_unsettled';

export interface CheckResult {
  outcome: CheckOutcome;
  payment: InvoicePayment | null;
}

/**
 * Asks the gateway what became of an attempt. Zarinpal's inquiry tells "still at the bank" from
 * "failed" without side effects, so it decides whether a payment that did not verify has failed;
 * the verify call is what confirms money, never the inquiry. Shepa has no inquiry: its verify
 * answers "not successful" both for a payer still on the page and for a failed payment, so only a
 * failure callback makes that answer final (reconciliation expires the rest).
 */
async function askGateway(connector: GatewayConnector, attempt: InvoicePaymentAttempt, hint: Hint): Promise<GatewayView> {
  try {
    let inquired: InquiryStatus | null = null;
    if (hint !== 'paid' && connector.inquire) {
      inquired = (await connector.inquire({ authority: attempt.authority })).status;
      if (inquired === 'FAILED' || inquired === 'REVERSED') return { kind: 'not_paid', final: true, detail: `inquiry: ${inquired}` };
      if (inquired === 'IN_BANK') return { kind: 'not_paid', final: false, detail: 'inquiry: IN_BANK' };
    }
    const verify = await connector.verify({ authority: attempt.authority, amount: attempt.amount });
    if (verify.outcome === 'verified' || verify.outcome === 'already_verified') {
      return verify.verifiedAmount === attempt.amount ? { kind: 'paid', verify } : { kind: 'mismatch', verify };
    }
    if (verify.outcome === 'amount_mismatch') return { kind: 'mismatch', verify };
    const detail = `verify: not successful (code ${verify.gatewayCode ?? 'none'})`;
    if (connector.inquire) {
      // A success callback for a payment still at the bank (forged, or too early) must not fail it.
      inquired ??= (await connector.inquire({ authority: attempt.authority })).status;
      return { kind: 'not_paid', final: inquired === 'FAILED' || inquired === 'REVERSED', detail: `${detail}; inquiry: ${inquired}` };
    }
    return { kind: 'not_paid', final: hint === 'not_paid', detail };
  } catch (error) {
    if (error instanceof GatewayUnavailableError || error instanceof GatewayRejectedError) {
      return { kind: 'unknown', detail: error.message };
    }
    throw error;
  }
}

async function reversedAtGateway(connector: GatewayConnector, authority: string): Promise<boolean> {
  if (!connector.inquire) return false;
  try {
    return (await connector.inquire({ authority })).status === 'REVERSED';
  } catch {
    return false;
  }
}

/** Asks the gateway to return money: whether it did, or the gateway error that kept it from answering. */
async function askReturn(connector: GatewayConnector, input: DeferredReturn['input']): Promise<'reversed' | 'reverse_failed' | GatewayError> {
  try {
    const result = await connector.refund(input);
    return result.outcome === 'refunded' || (await reversedAtGateway(connector, input.authority)) ? 'reversed' : 'reverse_failed';
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
}

/** A return of money to be asked of the gateway once the check that decided it has committed. */
interface DeferredReturn {
  attemptId: string;
  input: { authority: string; amount: bigint; refId?: string; transactionId?: string };
}

/**
 * Gives money the payer paid but we must not keep (overpayment, a closed payment, a wrong
 * amount) back through the gateway. No answer leaves it `reverse_pending` for reconciliation to
 * retry where a repeat cannot pay twice (Zarinpal's reverse), else `reverse_unknown` for an
 * operator (`cli payments refund-resolve`); a refusal is `reverse_failed`, for an operator.
 *
 * Where a repeat could pay twice (Shepa), the gateway is not asked inside the check's
 * transaction: the attempt is recorded `reverse_unknown` with it, and the return is asked only
 * once that has committed (see returnDeferred). A process that dies in between, or during the
 * call, leaves a return an operator settles, never one asked twice.
 */
async function reverseAttempt(
  tx: Db,
  connector: GatewayConnector,
  attempt: InvoicePaymentAttempt,
  verify: VerifyResult | null,
  reason: string,
  now: Date,
  deferred: DeferredReturn[],
): Promise<AttemptStatus> {
  const refId = verify?.refId ?? attempt.refId ?? undefined;
  const transactionId = verify?.transactionId ?? attempt.transactionId ?? undefined;
  const amount = verify?.verifiedAmount ?? attempt.verifiedAmount ?? attempt.amount;
  const input = { authority: attempt.authority, amount, ...(refId ? { refId } : {}), ...(transactionId ? { transactionId } : {}) };
  let status: AttemptStatus;
  if (!connector.refundRepeatable(input)) {
    status = 'reverse_unknown';
    deferred.push({ attemptId: attempt.id, input });
  } else {
    const answer = await askReturn(connector, input);
    if (!(answer instanceof GatewayError)) status = answer;
    else status = answer instanceof GatewayUnavailableError || answer instanceof GatewayRejectedError ? 'reverse_pending' : 'reverse_failed';
  }
  await tx.invoicePaymentAttempt.update({
    where: { id: attempt.id },
    data: {
      status,
      reason,
      ...(refId ? { refId } : {}),
      ...(transactionId ? { transactionId } : {}),
      ...(verify?.cardPan ? { cardPan: verify.cardPan } : {}),
      verifiedAmount: amount,
      updatedAt: now,
    },
  });
  return status;
}

/**
 * Asks the gateway for returns decided by a committed check (see reverseAttempt). A confirmed
 * return or an explicit refusal settles the attempt; no answer leaves it `reverse_unknown`.
 */
async function returnDeferred(deps: ServiceDeps, deferred: DeferredReturn[]): Promise<void> {
  for (const { attemptId, input } of deferred) {
    try {
      const head = await deps.prisma.invoicePaymentAttempt.findUniqueOrThrow({ where: { id: attemptId } });
      // The payment stays locked while the gateway is asked: an operator settling the return
      // meanwhile (resolveRefund) waits for the answer, and one who settled it first is not asked over.
      await transact(deps, async (tx) => {
        const locked = await lockPayment(tx, head.paymentId);
        const attempt = await tx.invoicePaymentAttempt.findUniqueOrThrow({ where: { id: attemptId } });
        if (!locked || attempt.status !== 'reverse_unknown') return;
        const connector = await connectorFor(tx, deps, head.merchantId, head.gateway as GatewayName);
        const answer = await askReturn(connector, input);
        const settled: AttemptStatus =
          answer instanceof GatewayError ? (answer instanceof GatewayUnavailableError ? 'reverse_unknown' : 'reverse_failed') : answer;
        const now = deps.clock.now();
        if (settled !== 'reverse_unknown') await tx.invoicePaymentAttempt.update({ where: { id: attemptId }, data: { status: settled, updatedAt: now } });
        let { payment } = locked;
        if (payment.state === 'failed' && payment.authority === attempt.authority) {
          payment = await tx.invoicePayment.update({ where: { id: payment.id }, data: { note: reversalNote(settled, input.amount), updatedAt: now } });
        }
        await recordReturn(tx, payment, attempt, settled, input.amount, now);
      });
    } catch (error) {
      deps.logger.error({ err: error, attemptId }, 'returning money through the gateway failed; an operator settles it');
    }
  }
}

const reversalNote = (status: AttemptStatus, amount: bigint): string =>
  ({
    reversed: `The gateway took ${amount} rials that could not be accepted; they were returned to the payer through the gateway.`,
    reverse_pending: `The gateway took ${amount} rials that could not be accepted; returning them is retried by reconciliation.`,
    reverse_failed: `The gateway took ${amount} rials that could not be accepted and refused to return them; an operator must return them by hand.`,
    reverse_unknown: `The gateway took ${amount} rials that could not be accepted; it did not confirm returning them, and cannot be asked: an operator checks its panel and settles it with \`cli payments refund-resolve\`.`,
  })[status as 'reversed'] ?? '';

const RETURN_EVENTS: Partial<Record<AttemptStatus, string>> = {
  reversed: 'payment.returned',
  reverse_pending: 'payment.return_pending',
  reverse_unknown: 'payment.return_unknown',
  reverse_failed: 'payment.return_failed',
};

/**
 * Publishes what became of money returned through the gateway (after the payment's own
 * transition); a return still to be asked (deferred) is `payment.return_pending`.
 */
async function recordReturn(
  tx: Db,
  payment: InvoicePayment,
  attempt: InvoicePaymentAttempt,
  status: AttemptStatus,
  amount: bigint,
  now: Date,
  deferred: DeferredReturn[] = [],
): Promise<void> {
  const type = deferred.some((item) => item.attemptId === attempt.id) ? 'payment.return_pending' : RETURN_EVENTS[status];
  if (!type) return;
  await recordEvents(tx, [paymentEvent(payment, type, { attemptId: attempt.id, authority: attempt.authority, amount: amount.toString() })], now);
}

/** Whether the invoice can take this payment's money now (the invoice row is locked). */
const fits = (invoice: Invoice, payment: InvoicePayment): boolean =>
  isPayable(invoice) && invoice.paidAmount + payment.amount <= invoice.totalAmount;

/**
 * Checks one attempt of a payment with its gateway and applies the answer. Runs in its own
 * transaction holding the invoice's lock, gateway call included.
 */
export async function checkAttempt(
  deps: ServiceDeps,
  target: { paymentId: string; gateway: GatewayName; authority: string },
  hint: Hint,
): Promise<CheckResult> {
  const deferred: DeferredReturn[] = [];
  const result = await checkInTransaction(deps, target, hint, deferred);
  if (deferred.length === 0) return result;
  await returnDeferred(deps, deferred);
  const payment = result.payment && (await deps.prisma.invoicePayment.findUnique({ where: { id: result.payment.id } }));
  return { ...result, payment: payment ?? result.payment };
}

function checkInTransaction(
  deps: ServiceDeps,
  target: { paymentId: string; gateway: GatewayName; authority: string },
  hint: Hint,
  deferred: DeferredReturn[],
): Promise<CheckResult> {
  return transact(deps, async (tx) => {
    const locked = await lockPayment(tx, target.paymentId);
    if (!locked) return { outcome: 'unknown_payment', payment: null };
    let { invoice, payment } = locked;
    const attempt = await tx.invoicePaymentAttempt.findUnique({
      where: { gateway_authority: { gateway: target.gateway, authority: target.authority } },
    });
    if (!attempt || attempt.paymentId !== payment.id) return { outcome: 'unknown_attempt', payment };
    if (!LIVE_ATTEMPT_STATUSES.includes(attempt.status as AttemptStatus)) return { outcome: 'settled_before', payment };

    const now = deps.clock.now();
    const connector = await connectorFor(tx, deps, payment.merchantId, attempt.gateway as GatewayName);
    const view = await askGateway(connector, attempt, hint);
    const isCurrent = attempt.status === 'open' && payment.state === 'waiting';
    if (isCurrent) {
      payment = await tx.invoicePayment.update({
        where: { id: payment.id },
        data: { checks: { increment: 1 }, lastCheckedAt: now, ...(view.kind === 'unknown' ? { note: view.detail } : {}) },
      });
    }

    if (view.kind === 'paid') {
      if (payment.state !== 'waiting') {
        const status = await reverseAttempt(tx, connector, attempt, view.verify, `payment_${payment.state}`, now, deferred);
        await recordReturn(tx, payment, attempt, status, view.verify.verifiedAmount ?? attempt.amount, now, deferred);
        deps.logger.warn({ paymentId: payment.id, attemptId: attempt.id, status }, 'money arrived for a closed payment; reversing it');
        return { outcome: 'late_attempt_reversed', payment };
      }
      if (attempt.status === 'superseded') {
        // The payer paid an earlier attempt after all: it becomes the one this payment settles with.
        await tx.invoicePaymentAttempt.updateMany({
          where: { paymentId: payment.id, status: 'open' },
          data: { status: 'superseded', reason: 'earlier_attempt_paid', updatedAt: now },
        });
      }
      if (!fits(invoice, payment)) {
        // Verified at the gateway, but crediting it would take the invoice past its total.
        const status = await reverseAttempt(tx, connector, attempt, view.verify, 'overpayment', now, deferred);
        payment = await movePayment(tx, payment, 'failed', 'overpayment', now, {
          gateway: attempt.gateway,
          authority: attempt.authority,
          redirectUrl: attempt.redirectUrl,
          note: reversalNote(status, payment.amount),
        });
        await recordReturn(tx, payment, attempt, status, payment.amount, now, deferred);
        return { outcome: 'failed', payment };
      }
      const { verify } = view;
      await moveMoney(
        tx,
        {
          merchantId: payment.merchantId,
          gateway: attempt.gateway,
          amount: payment.amount,
          key: `invoice-payment:${payment.id}:verified`,
          code: 'invoice.payment.verified',
          direction: 'in',
        },
        now,
      );
      await tx.invoicePaymentAttempt.update({
        where: { id: attempt.id },
        data: {
          status: 'verified',
          reason: verify.outcome,
          refId: verify.refId ?? null,
          transactionId: verify.transactionId ?? null,
          cardPan: verify.cardPan ?? null,
          verifiedAmount: verify.verifiedAmount ?? null,
          updatedAt: now,
        },
      });
      payment = await movePayment(tx, payment, 'verified', 'verified_with_gateway', now, {
        gateway: attempt.gateway,
        authority: attempt.authority,
        redirectUrl: attempt.redirectUrl,
        refId: verify.refId ?? null,
        cardPan: verify.cardPan ?? null,
        transactionId: verify.transactionId ?? null,
        verifiedAt: now,
        note: null,
      });
      invoice = await updateInvoice(tx, invoice, { paidAmount: invoice.paidAmount + payment.amount }, now);
      return { outcome: 'verified', payment };
    }

    if (view.kind === 'mismatch') {
      // Zarinpal refuses to verify a wrong amount (-50), so nothing was taken; Shepa's verify
      // settles whatever was paid and reports it, so that money goes back.
      const taken = view.verify.verifiedAmount;
      const status =
        taken === undefined
          ? await markAttempt(tx, attempt, 'failed', 'amount_mismatch', now)
          : await reverseAttempt(tx, connector, attempt, view.verify, 'amount_mismatch', now, deferred);
      if (isCurrent) {
        const note = taken === undefined ? 'The gateway reported a paid amount different from the requested one.' : reversalNote(status, taken);
        payment = await movePayment(tx, payment, 'failed', 'amount_mismatch', now, { note });
      }
      if (taken !== undefined) await recordReturn(tx, payment, attempt, status, taken, now, deferred);
      return { outcome: isCurrent ? 'failed' : 'late_attempt_closed', payment };
    }

    if (view.kind === 'not_paid') {
      if (view.final) {
        await markAttempt(tx, attempt, 'failed', view.detail, now);
        if (!isCurrent) return { outcome: 'late_attempt_closed', payment };
        payment = await movePayment(tx, payment, 'failed', hint === 'not_paid' ? 'canceled_or_declined_at_gateway' : 'not_paid', now, {
          note: view.detail,
        });
        return { outcome: 'failed', payment };
      }
      if (isCurrent && expired(deps, payment, now)) {
        // A late payment of this attempt is still checked (and returned) when its callback comes.
        await markAttempt(tx, attempt, 'superseded', 'expired', now);
        payment = await movePayment(tx, payment, 'expired', 'not_paid_in_time', now, { note: view.detail });
        return { outcome: 'expired', payment };
      }
    }
    return { outcome: isCurrent ? 'still_waiting' : 'late_attempt_unsettled', payment };
  });
}

function expired(deps: ServiceDeps, payment: InvoicePayment, now: Date): boolean {
  const since = payment.waitingSince ?? payment.createdAt;
  return now.getTime() - since.getTime() >= deps.config.PAYMENT_EXPIRE_AFTER_MS;
}

async function markAttempt(tx: Db, attempt: InvoicePaymentAttempt, status: AttemptStatus, reason: string, now: Date): Promise<AttemptStatus> {
  await tx.invoicePaymentAttempt.update({ where: { id: attempt.id }, data: { status, reason, updatedAt: now } });
  return status;
}

export type CallbackOutcome =
  | { kind: 'checked'; paymentId: string; result: CheckResult }
  | { kind: 'unknown_payment' }
  | { kind: 'malformed'; paymentId: string }
  | { kind: 'mismatch'; paymentId: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A gateway's callback (the payer's browser, sent back by the gateway). Our payment id comes
 * from the callback URL we registered; the authority from the gateway's query; they must belong
 * together, and the gateway is then asked what really happened.
 */
export async function handleCallback(deps: ServiceDeps, gateway: GatewayName, query: URLSearchParams): Promise<CallbackOutcome> {
  const paymentId = query.get('paymentId') ?? '';
  const payment = UUID.test(paymentId) ? await deps.prisma.invoicePayment.findUnique({ where: { id: paymentId } }) : null;
  if (!payment) return { kind: 'unknown_payment' };
  const connector = await connectorFor(deps.prisma, deps, payment.merchantId, gateway);
  const params = connector.parseCallback(query);
  if (!params) return { kind: 'malformed', paymentId };
  const result = await checkAttempt(deps, { paymentId, gateway, authority: params.authority }, params.success ? 'paid' : 'not_paid');
  if (result.outcome === 'unknown_attempt') {
    deps.logger.warn({ paymentId, gateway }, 'callback whose authority does not belong to the payment');
    return { kind: 'mismatch', paymentId };
  }
  return { kind: 'checked', paymentId, result };
}

export interface ReconcileReport {
  checked: number;
  verified: number;
  failed: number;
  expired: number;
  stillWaiting: number;
  reversalsRetried: number;
  reversed: number;
  /** Pending refunds asked about (where the gateway can tell), settled by that, and left for an operator. */
  refundsChecked: number;
  refundsResolved: number;
  refundsAwaitingOperator: number;
  errors: number;
}

/**
 * Resolves what callbacks did not: every payment waiting longer than PAYMENT_RECONCILE_AFTER_MS
 * is checked with its gateway (verified, failed, expired past PAYMENT_EXPIRE_AFTER_MS, or left
 * waiting when the gateway still does not answer), and returns of money we could not keep that
 * found no answer are retried, and pending refunds are asked about where the gateway can tell.
 * Safe to run from several processes at once.
 */
export async function reconcilePayments(deps: ServiceDeps, options: { merchantId?: string; limit?: number } = {}): Promise<ReconcileReport> {
  const limit = options.limit ?? 500;
  const now = deps.clock.now();
  const report: ReconcileReport = {
    checked: 0,
    verified: 0,
    failed: 0,
    expired: 0,
    stillWaiting: 0,
    reversalsRetried: 0,
    reversed: 0,
    refundsChecked: 0,
    refundsResolved: 0,
    refundsAwaitingOperator: 0,
    errors: 0,
  };
  const due = await deps.prisma.invoicePayment.findMany({
    where: {
      state: 'waiting',
      waitingSince: { lte: new Date(now.getTime() - deps.config.PAYMENT_RECONCILE_AFTER_MS) },
      ...(options.merchantId ? { merchantId: options.merchantId } : {}),
    },
    orderBy: { waitingSince: 'asc' },
    take: limit,
    select: { id: true, gateway: true, authority: true },
  });
  for (const payment of due) {
    if (!payment.authority) continue;
    try {
      const result = await checkAttempt(deps, { paymentId: payment.id, gateway: payment.gateway as GatewayName, authority: payment.authority }, 'unknown');
      report.checked++;
      if (result.outcome === 'verified') report.verified++;
      else if (result.outcome === 'failed') report.failed++;
      else if (result.outcome === 'expired') report.expired++;
      else if (result.outcome === 'still_waiting') report.stillWaiting++;
    } catch (error) {
      report.errors++;
      deps.logger.error({ err: error, paymentId: payment.id }, 'reconciling a payment failed');
    }
  }
  const pending = await deps.prisma.invoicePaymentAttempt.findMany({
    where: { status: 'reverse_pending', ...(options.merchantId ? { merchantId: options.merchantId } : {}) },
    orderBy: { updatedAt: 'asc' },
    take: limit,
    select: { id: true },
  });
  for (const { id } of pending) {
    try {
      report.reversalsRetried++;
      if ((await retryReversal(deps, id)) === 'reversed') report.reversed++;
    } catch (error) {
      report.errors++;
      deps.logger.error({ err: error, attemptId: id }, 'retrying a reversal failed');
    }
  }
  try {
    const refunds = await reconcileRefunds(deps, options);
    report.refundsChecked = refunds.refundsChecked;
    report.refundsResolved = refunds.refundsResolved;
    report.refundsAwaitingOperator = refunds.refundsAwaitingOperator;
    report.errors += refunds.errors;
  } catch (error) {
    report.errors++;
    deps.logger.error({ err: error }, 'reconciling pending refunds failed');
  }
  return report;
}

async function retryReversal(deps: ServiceDeps, attemptId: string): Promise<AttemptStatus | null> {
  return transact(deps, async (tx) => {
    const head = await tx.invoicePaymentAttempt.findUnique({ where: { id: attemptId } });
    if (!head) return null;
    const locked = await lockPayment(tx, head.paymentId);
    const attempt = await tx.invoicePaymentAttempt.findUniqueOrThrow({ where: { id: attemptId } });
    if (!locked || attempt.status !== 'reverse_pending') return null;
    const connector = await connectorFor(tx, deps, attempt.merchantId, attempt.gateway as GatewayName);
    const now = deps.clock.now();
    const status = await reverseAttempt(tx, connector, attempt, null, attempt.reason ?? 'retry', now, []);
    let { payment } = locked;
    const amount = attempt.verifiedAmount ?? attempt.amount;
    if (payment.state === 'failed' && payment.authority === attempt.authority) {
      payment = await tx.invoicePayment.update({ where: { id: payment.id }, data: { note: reversalNote(status, amount), updatedAt: now } });
    }
    // Still pending: nothing new to tell.
    if (status !== 'reverse_pending') await recordReturn(tx, payment, attempt, status, amount, now);
    return status;
  });
}
