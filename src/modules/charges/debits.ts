/**
 * Card debits of installments: the scheduler's auto-debits and the payment link's card payments.
 *
 * A debit first takes the installment's lease (`debit_lease_until`) in one conditional UPDATE,
 * so of two schedulers, or a scheduler and a payer, exactly one calls the processor for an
 * installment at a time. The processor is called outside any transaction; its answer is then
 * recorded in one. The processor's idempotency key for an auto-debit is
 * `installment:<id>:debit:<attempt>` (the attempt only counts once an answer was recorded), and a
 * new `installment:<id>:link:<uuid>` for each try on the payment page. Before it is sent, a debit
 * is kept on the installment as in doubt; if its answer never comes (crash, timeout), that same
 * debit (key, card, amount) is asked again before anything else may pay the installment: by the
 * scheduler once the lease runs out, or by the payer's next try, while a merchant's payment or an
 * amount change is refused meanwhile. The processor answers a repeated key without charging again,
 * so a card is charged at most once. The ledger key `installment:<id>:payment` makes a second
 * recorded payment impossible anyway.
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
import { EVERY_MERCHANT, NO_DEBIT_IN_FLIGHT, recordCardPayment, todayOf, type ChargeRecord, type WorkScope } from './service.ts';

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
  /** The charge's card on file (null when it has none). */
  card_token: string | null;
  debit_key: string | null;
  debit_card: string | null;
  debit_amount: bigint | null;
}

const CLAIMED_COLUMNS =
  'i.id, i.merchant_id, i.charge_id, i.number, i.amount, i.paid_amount, i.discount, i.debit_attempts, c.card_token, i.debit_key, i.debit_card, i.debit_amount';

/** A debit as sent to the processor. */
interface Debit {
  key: string;
  cardToken: string;
  amount: bigint;
}

/** The debit of the installment sent earlier whose answer never came, if any. */
const inDoubt = (claim: ClaimedDebit): Debit | null =>
  claim.debit_key !== null && claim.debit_card !== null && claim.debit_amount !== null
    ? { key: claim.debit_key, cardToken: claim.debit_card, amount: claim.debit_amount }
    : null;

/** How a debit was made, by its key: on the payment page, or by the scheduler. */
const methodOf = (debit: Debit): 'payment_link' | 'auto_debit' => (debit.key.includes(':link:') ? 'payment_link' : 'auto_debit');

/**
 * Sends a debit, first kept on the installment as in doubt (see NO_DEBIT_IN_FLIGHT): if its answer
 * never comes, the same debit is asked again, as sent, before the installment may be paid
 * otherwise, and the processor answers it without charging twice. Answers the outcome, or null
 * when no answer came.
 */
async function sendDebit(deps: Deps, installmentId: string, debit: Debit): Promise<DebitOutcome | null> {
  await deps.prisma.chargeInstallment.update({
    where: { id: installmentId },
    data: { debitKey: debit.key, debitCard: debit.cardToken, debitAmount: debit.amount },
  });
  try {
    return await chargesRuntime(deps).processor.debit({ cardToken: debit.cardToken, amount: debit.amount, idempotencyKey: debit.key });
  } catch (error) {
    deps.logger.warn({ err: (error as Error).message, installmentId }, 'card debit outcome unknown; asked again before the installment is paid otherwise');
    return null;
  }
}

/** Records an approved debit as the installment's payment (also when the charge was deactivated meanwhile: the money was taken). */
async function recordApproved(deps: Deps, claim: ClaimedDebit, debit: Debit, authorizationId: string): Promise<ChargeRecord> {
  try {
    return await recordCardPayment(deps, {
      installmentId: claim.id,
      method: methodOf(debit),
      authorizationId,
      cardToken: debit.cardToken,
      countsAsDebitAttempt: methodOf(debit) === 'auto_debit',
    });
  } catch (error) {
    deps.logger.error({ err: error, installmentId: claim.id, authorizationId }, 'approved card debit could not be recorded; refund it');
    throw error;
  }
}

/**
 * A refused debit: an auto-debit counts as a failed try (see the schedule above); a payment-page
 * debit only frees the installment. The lease is kept while `keepLease` (the caller debits next).
 */
async function recordRefusal(deps: Deps, claim: ClaimedDebit, debit: Debit, outcome: Exclude<DebitOutcome, { outcome: 'approved' }>, keepLease = false): Promise<void> {
  const cleared = keepLease ? { debitKey: null, debitCard: null, debitAmount: null } : NO_DEBIT_IN_FLIGHT;
  if (methodOf(debit) !== 'auto_debit') {
    await deps.prisma.chargeInstallment.update({ where: { id: claim.id }, data: cleared });
    return;
  }
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
        ...cleared,
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

/** The scheduler's debit of a claimed installment: the debit in doubt, as sent, if there is one; else its next auto-debit. */
async function debitOne(deps: Deps, claim: ClaimedDebit): Promise<'approved' | 'failed' | 'unknown'> {
  const debit = inDoubt(claim) ?? {
    key: `installment:${claim.id}:debit:${claim.debit_attempts + 1}`,
    cardToken: claim.card_token!,
    amount: remainingOf({ amount: claim.amount, paidAmount: claim.paid_amount, discount: claim.discount }),
  };
  const outcome = await sendDebit(deps, claim.id, debit);
  // No answer: the lease runs out and the same debit (same key) is asked again.
  if (outcome === null) return 'unknown';
  if (outcome.outcome !== 'approved') {
    await recordRefusal(deps, claim, debit, outcome);
    return 'failed';
  }
  await recordApproved(deps, claim, debit, outcome.authorizationId);
  return 'approved';
}

export interface AutoDebitReport {
  approved: number;
  failed: number;
  unknown: number;
}

/**
 * Debits every auto-debit installment due by today whose next try has come, and asks again about
 * every debit in doubt (of any charge, deactivated ones too: the card may have been charged).
 */
export async function runAutoDebits(deps: Deps, scope: WorkScope = EVERY_MERCHANT): Promise<AutoDebitReport> {
  const report: AutoDebitReport = { approved: 0, failed: 0, unknown: 0 };
  for (;;) {
    const now = deps.clock.now();
    const claimed = await deps.prisma.$queryRawUnsafe<ClaimedDebit[]>(
      `WITH due AS (
         SELECT i.id FROM charge_installments i JOIN charges c ON c.id = i.charge_id
         WHERE (i.debit_lease_until IS NULL OR i.debit_lease_until <= $2::timestamptz)
           AND ($6::text[] IS NULL OR i.merchant_id = ANY($6::text[]))
           AND ((i.debit_key IS NOT NULL AND i.status <> 'paid')
             OR (i.status IN ('pending', 'overdue') AND i.due_date <= $1::date
                 AND c.is_active AND c.auto_debit AND c.card_token IS NOT NULL
                 AND (i.next_debit_at IS NULL OR i.next_debit_at <= $2::timestamptz) AND i.debit_attempts < $3))
         ORDER BY i.due_date, i.id LIMIT $4 FOR UPDATE OF i SKIP LOCKED)
       UPDATE charge_installments i SET debit_lease_until = $5::timestamptz
       FROM due, charges c
       WHERE i.id = due.id AND c.id = i.charge_id
       RETURNING ${CLAIMED_COLUMNS}`,
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

const paid = (charge: ChargeRecord, claim: ClaimedDebit): LinkPaymentOutcome => ({
  kind: 'paid',
  charge,
  installment: charge.installments.find((item) => item.id === claim.id)!,
});

/**
 * The payer pays one installment through the payment link with a card. A debit of it in doubt
 * is asked again first: approved after all, it is the payment (the payer's card is not charged).
 */
export async function payThroughLink(deps: Deps, input: { paymentToken: string; number: number; cardToken: string }): Promise<LinkPaymentOutcome> {
  const now = deps.clock.now();
  const [claim] = await deps.prisma.$queryRawUnsafe<ClaimedDebit[]>(
    `UPDATE charge_installments i SET debit_lease_until = $4::timestamptz
     FROM charges c
     WHERE c.payment_token = $1 AND c.is_active AND i.charge_id = c.id AND i.number = $2
       AND i.status IN ('pending', 'overdue') AND (i.debit_lease_until IS NULL OR i.debit_lease_until <= $3::timestamptz)
     RETURNING ${CLAIMED_COLUMNS}`,
    input.paymentToken,
    input.number,
    now.toISOString(),
    new Date(now.getTime() + DEBIT_LEASE_MS).toISOString(),
  );
  if (!claim) return { kind: 'unavailable', reason: await whyNotPayable(deps, input.paymentToken, input.number, now) };
  const unanswered = 'The card processor did not answer; if your card was charged, the payment shows up shortly.';
  const earlier = inDoubt(claim);
  if (earlier) {
    const outcome = await sendDebit(deps, claim.id, earlier);
    if (outcome === null) return { kind: 'error', message: unanswered };
    if (outcome.outcome === 'approved') return paid(await recordApproved(deps, claim, earlier, outcome.authorizationId), claim);
    await recordRefusal(deps, claim, earlier, outcome, true);
  }
  const debit = {
    key: `installment:${claim.id}:link:${uuidv7()}`,
    cardToken: input.cardToken,
    amount: remainingOf({ amount: claim.amount, paidAmount: claim.paid_amount, discount: claim.discount }),
  };
  const outcome = await sendDebit(deps, claim.id, debit);
  if (outcome === null) return { kind: 'error', message: unanswered };
  if (outcome.outcome !== 'approved') {
    await recordRefusal(deps, claim, debit, outcome);
    return outcome.outcome === 'declined' ? { kind: 'declined', reason: outcome.reason } : { kind: 'error', message: outcome.message };
  }
  try {
    return paid(await recordApproved(deps, claim, debit, outcome.authorizationId), claim);
  } catch (error) {
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
