/**
 * Charge and installment statuses, worked out from the installments and the calendar; the
 * service stores them and reacts to every change (event, callback).
 *
 * Installment status, first match wins:
 * - `paid`: paid (paid_amount + discount covers the amount);
 * - `canceled`: the charge is deactivated;
 * - `overdue`: its due date is before today (in CHARGES_TIME_ZONE);
 * - `pending`.
 *
 * Charge status, first match wins:
 * - inactive: `paid` (normal, every installment paid), `finished` (recurring, see below), else `canceled`;
 * - normal: `paid` when every installment is paid;
 * - recurring: `finished` when no occurrence is left to issue (last_charge_date reached) and
 *   every issued one is paid;
 * - `overdue` when an installment is overdue;
 * - normal: `partially_paid` when some installments are paid;
 * - recurring: `paid` when every occurrence issued so far is paid (up to date);
 * - `pending`.
 */
import type { IsoDate } from './dates.ts';
import type { Interval } from './schedule.ts';

export const CHARGE_STATUSES = ['pending', 'paid', 'partially_paid', 'overdue', 'canceled', 'finished'] as const;
export type ChargeStatus = (typeof CHARGE_STATUSES)[number];

export const INSTALLMENT_STATUSES = ['pending', 'paid', 'overdue', 'canceled'] as const;
export type InstallmentStatus = (typeof INSTALLMENT_STATUSES)[number];

export const CHARGE_TYPES = ['normal', 'recurring'] as const;
export type ChargeType = (typeof CHARGE_TYPES)[number];

export type { Interval };

export const PAYMENT_METHODS = ['payment_link', 'auto_debit', 'external'] as const;
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];

export const CURRENCY = 'BRL';
export const CHARGE_TOPIC = 'CHARGE';

export interface InstallmentState {
  dueDate: IsoDate;
  amount: bigint;
  paidAmount: bigint;
  discount: bigint;
}

export interface ChargeState {
  type: ChargeType;
  isActive: boolean;
  /** Recurring: whether occurrences are left to issue. */
  moreToIssue: boolean;
}

export const isSettled = (installment: Pick<InstallmentState, 'amount' | 'paidAmount' | 'discount'>): boolean =>
  installment.paidAmount > 0n && installment.paidAmount + installment.discount >= installment.amount;

export function installmentStatus(charge: Pick<ChargeState, 'isActive'>, installment: InstallmentState, today: IsoDate): InstallmentStatus {
  if (isSettled(installment)) return 'paid';
  if (!charge.isActive) return 'canceled';
  if (installment.dueDate < today) return 'overdue';
  return 'pending';
}

export function chargeStatus(charge: ChargeState, installments: InstallmentState[], today: IsoDate): ChargeStatus {
  const statuses = installments.map((installment) => installmentStatus(charge, installment, today));
  const allPaid = statuses.every((status) => status === 'paid');
  const finished = charge.type === 'recurring' && !charge.moreToIssue && allPaid && installments.length > 0;
  if (!charge.isActive) {
    if (charge.type === 'normal' && allPaid) return 'paid';
    return finished ? 'finished' : 'canceled';
  }
  if (charge.type === 'normal' && allPaid) return 'paid';
  if (finished) return 'finished';
  if (statuses.includes('overdue')) return 'overdue';
  if (charge.type === 'normal') return statuses.includes('paid') ? 'partially_paid' : 'pending';
  return allPaid && installments.length > 0 ? 'paid' : 'pending';
}

/** What is left to pay on an installment. */
export const remainingOf = (installment: Pick<InstallmentState, 'amount' | 'paidAmount' | 'discount'>): bigint => {
  const left = installment.amount - installment.discount - installment.paidAmount;
  return left > 0n ? left : 0n;
};

const dateFormats = new Map<string, Intl.DateTimeFormat>();

function partsIn(timeZone: string, instant: Date): Record<string, string> {
  let format = dateFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', {
      timeZone,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    dateFormats.set(timeZone, format);
  }
  return Object.fromEntries(format.formatToParts(instant).map((part) => [part.type, part.value]));
}

/** The calendar date at `instant` in `timeZone`. */
export function calendarDateIn(timeZone: string, instant: Date): IsoDate {
  const parts = partsIn(timeZone, instant);
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/** `Y-m-d H:i:s` in `timeZone`, as the legacy API writes `created_at`. */
export function legacyTimestamp(timeZone: string, instant: Date): string {
  const parts = partsIn(timeZone, instant);
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}

/** Prisma reads and writes `date` columns as midnight UTC. */
export const toDbDate = (date: IsoDate): Date => new Date(`${date}T00:00:00.000Z`);
export const fromDbDate = (date: Date): IsoDate => date.toISOString().slice(0, 10);

/** `11 99999-9999` (mobile, 11 digits) or `11 9999-9999` (landline, 10 digits), from digits. */
export function formatPhone(digits: string): string {
  const split = digits.length - 4;
  return `${digits.slice(0, 2)} ${digits.slice(2, split)}-${digits.slice(split)}`;
}
