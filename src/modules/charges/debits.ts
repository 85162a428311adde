/**
 * Card debits of installments: the scheduler's auto-debits and the payment link's card payments.
 *
 * A debit first takes the installment's lease (`debit_lease_until`) in one conditional UPDATE,
 * so of two schedulers, or a scheduler and a payer, exactly one calls the processor for an
 * installment at a time. The processor is called outside any transaction; its answer is then
 * recorded in one. The processor's idempotency key for an auto-debit is
 * `installment:<id>:debit:<attempt>`, and the attempt only counts once an answer was recorded, so
 * a debit whose outcome was lost (crash, timeout) is retried with the same key after the lease
 * runs out and cannot charge the card twice. The ledger key `installment:<id>:payment` makes a
 * second recorded payment impossible anyway.
 *
 * Auto-debit schedule: on the due date, then 1, 3 and 7 days after it (each retry 1, 2 and 4
 * days after the previous failure), whether the card was declined or the processor failed;
 * after four failures the installment waits for the payer (payment link) or the merchant.
 */
import { transact, type Deps } from '../../deps.ts';
import { AppError } from '../../errors.ts';
import { recordEvents } from '../../events/outbox.ts';
import type { ChargeInstallment } from '../../generated/prisma/client.ts';
import { uuidv7 } from '../../lib/ids.ts';
import type { DebitOutcome } from './card-processor.ts';
import { CHARGE_TOPIC, remainingOf } from './model.ts';
import { chargesRuntime } from './runtime.ts';
import { EVERY_MERCHANT, recordCardPayment, todayOf, type ChargeRecord, type WorkScope } from './service.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
/** Delay after failed attempt n (1-based) before attempt n + 1. */
export const DEBIT_RETRY_DELAYS_MS = [DAY_MS, 2 * DAY_MS, 4 * DAY_MS] as const;
export const MAX_DEBIT_ATTEMPTS = DEBIT_RETRY_DELAYS_MS.length + 1;
/** How long a debit in flight keeps others off the installment. */
export const DEBIT_LEASE_MS = 5 * 60 * 1000;
const CLAIM_BATCH = 25;

interface ClaimedDebit {
  id: string;
  merchant_id: string;
  charge_id: number;
  number: number;
  amount: bigint;
  paid_amount: bigint;
  discount: bigint;
  debit_attempts: number;
  card_token: string;
}

async function recordFailure(deps: Deps, claim: ClaimedDebit, outcome: Exclude<DebitOutcome, { outcome: 'approved' }>): Promise<void> {
  const attempts = claim.debit_attempts + 1;
  const now = deps.clock.now();
  const error = outcome.outcome === 'declined' ? `declined: ${outcome.reason}` : `error: ${outcome.message}`;
  const retryIn = DEBIT_RETRY_DELAYS_MS[attempts - 1];
  await transact(deps, async (tx) => {
    await tx.chargeInstallment.update({
      where: { id: claim.id },
      data: {
        debitAttempts: attempts,
        lastDebitError: error,
        nextDebitAt: retryIn === undefined ? null : new Date(now.getTime() + retryIn),
        debitLeaseUntil: null,
        updatedAt: now,
      },
    });
    await recordEvents(
      tx,
      [
        {
          merchantId: claim.merchant_id,
          type: 'installment.debit_failed',
          topic: CHARGE_TOPIC,
          objectId: String(claim.charge_id),
          data: { chargeId: claim.charge_id, installmentNumber: claim.number, attempt: attempts, error, retries: retryIn !== undefined },
        },
      ],
      now,
    );
  });
}

async function debitOne(deps: Deps, claim: ClaimedDebit): Promise<'approved' | 'failed' | 'unknown'> {
  const amount = remainingOf({ amount: claim.amount, paidAmount: claim.paid_amount, discount: claim.discount });
  let outcome: DebitOutcome;
  try {
    outcome = await chargesRuntime(deps).processor.debit({
      cardToken: claim.card_token,
      amount,
      idempotencyKey: `installment:${claim.id}:debit:${claim.debit_attempts + 1}`,
    });
  } catch (error) {
    // The outcome is unknown: the lease runs out and the same attempt (same key) is tried again.
    deps.logger.warn({ err: (error as Error).message, installmentId: claim.id }, 'auto-debit outcome unknown; retried after the lease');
    return 'unknown';
  }
  if (outcome.outcome !== 'approved') {
    await recordFailure(deps, claim, outcome);
    return 'failed';
  }
  try {
    await recordCardPayment(deps, {
      installmentId: claim.id,
      method: 'auto_debit',
      authorizationId: outcome.authorizationId,
      cardToken: claim.card_token,
      countsAsDebitAttempt: true,
    });
  } catch (error) {
    deps.logger.error({ err: error, installmentId: claim.id, authorizationId: outcome.authorizationId }, 'approved auto-debit could not be recorded');
    throw error;
  }
  return 'approved';
}

export interface AutoDebitReport {
  approved: number;
  failed: number;
  unknown: number;
}

/** Debits every auto-debit installment due by today whose next try has come. */
export async function runAutoDebits(deps: Deps, scope: WorkScope = EVERY_MERCHANT): Promise<AutoDebitReport> {
  const report: AutoDebitReport = { approved: 0, failed: 0, unknown: 0 };
  for (;;) {
    const now = deps.clock.now();
    const claimed = await deps.prisma.$queryRawUnsafe<ClaimedDebit[]>(
      `WITH due AS (
         SELECT i.id FROM charge_installments i JOIN charges c ON c.id = i.charge_id
         WHERE i.status IN ('pending', 'overdue') AND i.due_date <= $1::date
           AND c.is_active AND c.auto_debit AND c.card_token IS NOT NULL
           AND (i.debit_lease_until IS NULL OR i.debit_lease_until <= $2::timestamptz)
           AND (i.next_debit_at IS NULL OR i.next_debit_at <= $2::timestamptz)
           AND i.debit_attempts < $3 AND ($6::text[] IS NULL OR i.merchant_id = ANY($6::text[]))
         ORDER BY i.due_date, i.id LIMIT $4 FOR UPDATE OF i SKIP LOCKED)
       UPDATE charge_installments i SET debit_lease_until = $5::timestamptz
       FROM due, charges c
       WHERE i.id = due.id AND c.id = i.charge_id
       RETURNING i.id, i.merchant_id, i.charge_id, i.number, i.amount, i.paid_amount, i.discount, i.debit_attempts, c.card_token`,
      todayOf(deps),
      now.toISOString(),
      MAX_DEBIT_ATTEMPTS,
      CLAIM_BATCH,
      new Date(now.getTime() + DEBIT_LEASE_MS).toISOString(),
      scope.merchantIds,
    );
    for (const claim of claimed) report[await debitOne(deps, claim)]++;
    if (claimed.length < CLAIM_BATCH) return report;
  }
}

export type LinkPaymentOutcome =
  | { kind: 'paid'; charge: ChargeRecord; installment: ChargeInstallment }
  | { kind: 'declined'; reason: string }
  | { kind: 'error'; message: string }
  | { kind: 'unavailable'; reason: 'unknown_charge' | 'inactive' | 'already_paid' | 'in_progress' | 'unknown_installment' };

/** The payer pays one installment through the payment link with a card. */
export async function payThroughLink(deps: Deps, input: { paymentToken: string; number: number; cardToken: string }): Promise<LinkPaymentOutcome> {
  const now = deps.clock.now();
  const [claim] = await deps.prisma.$queryRawUnsafe<ClaimedDebit[]>(
    `UPDATE charge_installments i SET debit_lease_until = $4::timestamptz
     FROM charges c
     WHERE c.payment_token = $1 AND c.is_active AND i.charge_id = c.id AND i.number = $2
       AND i.status IN ('pending', 'overdue') AND (i.debit_lease_until IS NULL OR i.debit_lease_until <= $3::timestamptz)
     RETURNING i.id, i.merchant_id, i.charge_id, i.number, i.amount, i.paid_amount, i.discount, i.debit_attempts, c.card_token`,
    input.paymentToken,
    input.number,
    now.toISOString(),
    new Date(now.getTime() + DEBIT_LEASE_MS).toISOString(),
  );
  if (!claim) return { kind: 'unavailable', reason: await whyNotPayable(deps, input.paymentToken, input.number, now) };
  const amount = remainingOf({ amount: claim.amount, paidAmount: claim.paid_amount, discount: claim.discount });
  const release = () => deps.prisma.chargeInstallment.update({ where: { id: claim.id }, data: { debitLeaseUntil: null } });
  let outcome: DebitOutcome;
  try {
    outcome = await chargesRuntime(deps).processor.debit({ cardToken: input.cardToken, amount, idempotencyKey: `installment:${claim.id}:link:${uuidv7()}` });
  } catch (error) {
    deps.logger.warn({ err: (error as Error).message, installmentId: claim.id }, 'payment-link debit outcome unknown');
    return { kind: 'error', message: 'The card processor did not answer; if your card was charged, the payment shows up shortly.' };
  }
  if (outcome.outcome === 'declined') {
    await release();
    return { kind: 'declined', reason: outcome.reason };
  }
  if (outcome.outcome === 'error') {
    await release();
    return { kind: 'error', message: outcome.message };
  }
  try {
    const charge = await recordCardPayment(deps, {
      installmentId: claim.id,
      method: 'payment_link',
      authorizationId: outcome.authorizationId,
      cardToken: input.cardToken,
      countsAsDebitAttempt: false,
    });
    return { kind: 'paid', charge, installment: charge.installments.find((item) => item.id === claim.id)! };
  } catch (error) {
    deps.logger.error({ err: error, installmentId: claim.id, authorizationId: outcome.authorizationId }, 'approved payment-link debit could not be recorded; refund it');
    if (error instanceof AppError && error.code === 'CONFLICT') return { kind: 'unavailable', reason: 'already_paid' };
    throw error;
  }
}

async function whyNotPayable(deps: Deps, paymentToken: string, number: number, now: Date): Promise<Extract<LinkPaymentOutcome, { kind: 'unavailable' }>['reason']> {
  const charge = await deps.prisma.charge.findUnique({ where: { paymentToken }, include: { installments: { where: { number } } } });
  if (!charge) return 'unknown_charge';
  if (!charge.isActive) return 'inactive';
  const installment = charge.installments[0];
  if (!installment) return 'unknown_installment';
  if (installment.status === 'paid') return 'already_paid';
  return installment.debitLeaseUntil && installment.debitLeaseUntil > now ? 'in_progress' : 'already_paid';
}
