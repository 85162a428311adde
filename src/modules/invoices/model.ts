/**
 * The invoice domain's vocabulary: states, statuses, the payment state machine and the rules
 * that derive an invoice's status from its money. Every amount here is IRR rials (not tomans).
 */
import type { InvoicePayment, Invoice } from '../../generated/prisma/client.ts';
import { AppError } from '../../errors.ts';
import type { GatewayName } from './gateways/types.ts';

export const CURRENCY = 'IRR';
export const GATEWAYS = ['zarinpal', 'shepa'] as const satisfies readonly GatewayName[];

/** Zarinpal's SDK refuses less than 1,000 rials; the same floor applies to Shepa for one rule. */
export const MIN_PAYMENT_AMOUNT = 1_000n;
export const MAX_AMOUNT = BigInt(Number.MAX_SAFE_INTEGER);

export const PAYMENT_STATES = ['created', 'waiting', 'verified', 'failed', 'canceled', 'expired', 'refunded'] as const;
export type PaymentState = (typeof PAYMENT_STATES)[number];

export const INVOICE_STATUSES = ['unpaid', 'partially_paid', 'paid', 'partially_refunded', 'refunded', 'canceled'] as const;
export type InvoiceStatus = (typeof INVOICE_STATUSES)[number];

/**
 * The payment state machine. `waiting -> waiting` is a restart on a (possibly other) gateway;
 * verified, failed, canceled, expired and refunded admit nothing else except verified -> refunded.
 */
const TRANSITIONS: Record<PaymentState, readonly PaymentState[]> = {
  created: ['waiting', 'failed', 'canceled'],
  waiting: ['waiting', 'verified', 'failed', 'canceled', 'expired'],
  verified: ['refunded'],
  failed: [],
  canceled: [],
  expired: [],
  refunded: [],
};

export function assertTransition(from: string, to: PaymentState): void {
  if (!(TRANSITIONS[from as PaymentState] ?? []).includes(to)) {
    throw new AppError('INVALID_STATE_TRANSITION', `A payment that is ${from} cannot become ${to}.`);
  }
}

/** Attempt statuses: one trip of the payer to a gateway. */
export type AttemptStatus =
  | 'open'
  | 'superseded'
  | 'verified'
  | 'failed'
  | 'reversed'
  | 'reverse_pending'
  | 'reverse_unknown'
  | 'reverse_failed';

/** Attempts whose money may still arrive: the gateway is asked about them when a callback comes. */
export const LIVE_ATTEMPT_STATUSES: readonly AttemptStatus[] = ['open', 'superseded'];

/**
 * An invoice's status follows from its money: canceled when canceled; once anything was refunded,
 * refunded or partially refunded; otherwise unpaid, partially paid or paid by the verified sum.
 */
export function deriveInvoiceStatus(invoice: Pick<Invoice, 'totalAmount' | 'paidAmount' | 'refundedAmount' | 'canceledAt'>): InvoiceStatus {
  if (invoice.canceledAt) return 'canceled';
  if (invoice.refundedAmount > 0n) return invoice.refundedAmount >= invoice.paidAmount ? 'refunded' : 'partially_refunded';
  if (invoice.paidAmount === 0n) return 'unpaid';
  return invoice.paidAmount < invoice.totalAmount ? 'partially_paid' : 'paid';
}

/** What is left to pay; an invoice that was canceled or refunded takes no more payments. */
export function remainingAmount(invoice: Pick<Invoice, 'status' | 'totalAmount' | 'paidAmount'>): bigint {
  return isPayable(invoice) ? invoice.totalAmount - invoice.paidAmount : 0n;
}

export function isPayable(invoice: Pick<Invoice, 'status'>): boolean {
  return invoice.status === 'unpaid' || invoice.status === 'partially_paid';
}

/** What may still be refunded: neither refunded nor pending at the gateway. */
export const refundableAmount = (payment: Pick<InvoicePayment, 'state' | 'amount' | 'refundedAmount' | 'refundPendingAmount'>): bigint =>
  payment.state === 'verified' ? payment.amount - payment.refundedAmount - payment.refundPendingAmount : 0n;

/**
 * Iranian mobile numbers in any common spelling (+98…, 0098…, 98…, 09…, Persian or Arabic-Indic
 * digits, spaces and dashes), normalised to 09XXXXXXXXX as Zarinpal requires. null if not one.
 */
export function normalizeMobile(input: string): string | null {
  const ascii = input
    .replace(/[\s\-()]/g, '')
    .replace(/[\u06f0-\u06f9]/g, (digit) => String(digit.charCodeAt(0) - 0x06f0))
    .replace(/[\u0660-\u0669]/g, (digit) => String(digit.charCodeAt(0) - 0x0660));
  const match = /^(?:\+98|0098|98|0)?(9\d{9})$/.exec(ascii);
  return match ? `0${match[1]}` : null;
}

export function parseGateway(value: string, field = 'gateway'): GatewayName {
  if ((GATEWAYS as readonly string[]).includes(value)) return value as GatewayName;
  throw new AppError('VALIDATION_FAILED', `${field} must be one of: ${GATEWAYS.join(', ')}.`, field);
}
