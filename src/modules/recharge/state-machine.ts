import { AppError } from '../../errors.ts';

/**
 * The life of a recharge payment, in one table. A payment is created `pending`; it ends either
 * `committed` (its ledger transfer posted) or `rolled_back` (voided, by request or by expiry), once.
 */
export const PAYMENT_STATES = ['pending', 'committed', 'rolled_back'] as const;
export type PaymentState = (typeof PAYMENT_STATES)[number];
export type PaymentAction = 'update' | 'commit' | 'rollback' | 'expire';

/** `replay`: the action already happened; it answers as it did the first time and changes nothing. */
type Outcome = PaymentState | 'replay';

const transitions: Record<PaymentState, Partial<Record<PaymentAction, Outcome>>> = {
  pending: { update: 'pending', commit: 'committed', rollback: 'rolled_back', expire: 'rolled_back' },
  committed: { commit: 'replay' },
  rolled_back: { rollback: 'replay', expire: 'replay' },
};

export interface PaymentStatus {
  state: PaymentState;
  /** Rolled back by the expiry, not by a request. */
  expired: boolean;
  expiresAt: Date;
}

export type Step = { kind: 'apply'; to: PaymentState } | { kind: 'replay' } | { kind: 'expire-first' };

const verbs: Record<PaymentAction, string> = { update: 'updated', commit: 'committed', rollback: 'rolled back', expire: 'expired' };

export const isOverdue = (payment: PaymentStatus, now: Date) =>
  payment.state === 'pending' && payment.expiresAt.getTime() <= now.getTime();

/**
 * What `action` does to a payment at `now`. A pending payment past its expiry must first be
 * expired (the caller records that, then asks again); an illegal action throws a typed error:
 * EXPIRED when the expiry is what stands in the way, INVALID_STATE_TRANSITION otherwise.
 */
export function planTransition(payment: PaymentStatus, action: PaymentAction, now: Date): Step {
  if (action !== 'expire' && isOverdue(payment, now)) return { kind: 'expire-first' };
  const outcome = transitions[payment.state][action];
  if (outcome === 'replay') return { kind: 'replay' };
  if (outcome) return { kind: 'apply', to: outcome };
  if (payment.expired && payment.state === 'rolled_back') {
    throw new AppError('EXPIRED', `The payment expired at ${payment.expiresAt.toISOString()} and was rolled back; it cannot be ${verbs[action]}.`);
  }
  throw new AppError(
    'INVALID_STATE_TRANSITION',
    `A ${payment.state.replace('_', ' ')} payment cannot be ${verbs[action]}.`,
  );
}
