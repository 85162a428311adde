/**
 * Installment schedules of a charge.
 *
 * Rules:
 * 1. Dates. Installment k (1-based) is due `(k - 1) × frequency` intervals after the first due
 *    date. `day` is 1 day and `week` is 7 days, counted on the calendar (no zones, no clock).
 *    `month` counts calendar months from the first due date and keeps its day of month; when a
 *    month is too short the installment falls on that month's last day, and the next month goes
 *    back to the original day. First due 31 Jan: 28 Feb (29 in leap years), 31 Mar, 30 Apr,
 *    31 May. Each date is computed from the first, never from the previous one, so nothing
 *    drifts. A first due date on the 28th of February is the 28th, not "the end of the month".
 * 2. Normal charges (`installmentSchedule`): `installments` (1–48) parts of the total, summing
 *    exactly to it. Each part is ⌊total / n⌋ and the first `total mod n` parts get one centavo
 *    more, so the earliest installments are never the smaller ones and no part differs from
 *    another by more than one centavo. A total below n centavos is refused rather than giving
 *    installments of zero.
 * 3. Recurring charges (`recurringSchedule`): the charge amount is charged on every occurrence,
 *    it is not split. Occurrences follow rule 1 and are produced while due on or before
 *    min(last_charge_date, horizon), both inclusive; none when the first due date is already
 *    past that. Without `last_charge_date` the charge recurs until deactivated, and the caller's
 *    horizon ("generate up to") bounds the list. At most 1000 occurrences per call.
 * 4. `frequency` is 1–12 for every interval, as the legacy API documents. Defaults (`month`,
 *    frequency 1, one installment) belong to the API edge, not here.
 */
import { civilFromDays, daysFromCivil, daysInMonth, MAX_YEAR, parseIsoDate, toCalendarDate, toIsoDate } from './dates.ts';
import type { CalendarDate, IsoDate } from './dates.ts';

export type Interval = 'day' | 'week' | 'month';

export const INTERVALS: readonly Interval[] = ['day', 'week', 'month'];
export const MIN_FREQUENCY = 1;
export const MAX_FREQUENCY = 12;
export const MIN_INSTALLMENTS = 1;
export const MAX_INSTALLMENTS = 48;
export const MAX_RECURRING_OCCURRENCES = 1000;

export interface ScheduledInstallment {
  /** 1-based. */
  readonly number: number;
  readonly dueDate: IsoDate;
  /** Centavos. */
  readonly amount: bigint;
}

export type ScheduleFailureReason =
  | 'invalid_interval'
  | 'invalid_frequency'
  | 'invalid_installments'
  | 'invalid_date'
  | 'invalid_amount'
  | 'amount_below_installments'
  | 'last_charge_before_first_due'
  | 'date_out_of_range'
  | 'too_many_occurrences';

export type ScheduleResult =
  | { readonly ok: true; readonly installments: ScheduledInstallment[] }
  | { readonly ok: false; readonly reason: ScheduleFailureReason; readonly message: string };

export interface InstallmentScheduleInput {
  /** Centavos, split across the installments. */
  readonly total: bigint;
  readonly firstDueDate: IsoDate;
  readonly installments: number;
  readonly interval: Interval;
  readonly frequency: number;
}

export interface RecurringScheduleInput {
  /** Centavos, charged on every occurrence. */
  readonly amount: bigint;
  readonly firstDueDate: IsoDate;
  readonly interval: Interval;
  readonly frequency: number;
  readonly lastChargeDate?: IsoDate | undefined;
  /** Generate occurrences due up to this date, inclusive. */
  readonly horizon: IsoDate;
}

/** A normal charge, pre-split into installments (a carnê). */
export function installmentSchedule(input: InstallmentScheduleInput): ScheduleResult {
  const invalid = checkCadence(input.interval, input.frequency) ?? checkDate('firstDueDate', input.firstDueDate);
  if (invalid) return invalid;
  const { total, installments } = input;
  if (!Number.isInteger(installments) || installments < MIN_INSTALLMENTS || installments > MAX_INSTALLMENTS) {
    return failure('invalid_installments', `Installments must be an integer from ${MIN_INSTALLMENTS} to ${MAX_INSTALLMENTS}`);
  }
  if (total <= 0n) return failure('invalid_amount', 'Amount must be greater than zero');
  if (total < BigInt(installments)) {
    return failure('amount_below_installments', `Amount of ${total} centavos cannot be split into ${installments} installments`);
  }
  const first = toCalendarDate(input.firstDueDate);
  const last = dueDateParts(first, input.interval, input.frequency, installments - 1);
  if (last.year > MAX_YEAR) return failure('date_out_of_range', `Installments would fall due after the year ${MAX_YEAR}`);

  const amounts = splitAmount(total, installments);
  return {
    ok: true,
    installments: amounts.map((amount, index) => ({
      number: index + 1,
      dueDate: toIsoDate(dueDateParts(first, input.interval, input.frequency, index)),
      amount,
    })),
  };
}

/** A recurring charge: every occurrence due up to min(lastChargeDate, horizon). */
export function recurringSchedule(input: RecurringScheduleInput): ScheduleResult {
  const invalid =
    checkCadence(input.interval, input.frequency) ??
    checkDate('firstDueDate', input.firstDueDate) ??
    (input.lastChargeDate === undefined ? undefined : checkDate('lastChargeDate', input.lastChargeDate)) ??
    checkDate('horizon', input.horizon);
  if (invalid) return invalid;
  if (input.amount <= 0n) return failure('invalid_amount', 'Amount must be greater than zero');
  if (input.lastChargeDate !== undefined && input.lastChargeDate < input.firstDueDate) {
    return failure('last_charge_before_first_due', 'Last charge date must not be before the first due date');
  }
  const until =
    input.lastChargeDate !== undefined && input.lastChargeDate < input.horizon ? input.lastChargeDate : input.horizon;
  const limit = daysFromCivil(toCalendarDate(until));
  const first = toCalendarDate(input.firstDueDate);

  const installments: ScheduledInstallment[] = [];
  for (let index = 0; ; index++) {
    // Dates only grow with the index, and `limit` is at most 9999-12-31, so the loop ends
    // before leaving the calendar.
    const due = dueDateParts(first, input.interval, input.frequency, index);
    if (daysFromCivil(due) > limit) break;
    if (installments.length === MAX_RECURRING_OCCURRENCES) {
      return failure('too_many_occurrences', `More than ${MAX_RECURRING_OCCURRENCES} occurrences; use a nearer horizon`);
    }
    installments.push({ number: index + 1, dueDate: toIsoDate(due), amount: input.amount });
  }
  return { ok: true, installments };
}

/**
 * `total` in `parts` amounts differing by at most one centavo, larger ones first, summing to
 * `total`. Throws unless 1 ≤ parts ≤ total.
 */
export function splitAmount(total: bigint, parts: number): bigint[] {
  if (!Number.isInteger(parts) || parts < 1 || total < BigInt(parts)) {
    throw new RangeError(`cannot split ${total} into ${parts} positive parts`);
  }
  const count = BigInt(parts);
  const base = total / count;
  const remainder = total % count;
  return Array.from({ length: parts }, (_, index) => (BigInt(index) < remainder ? base + 1n : base));
}

/** The due date `index` (0-based) periods after `firstDueDate`, by rule 1. */
export function dueDateAt(firstDueDate: IsoDate, interval: Interval, frequency: number, index: number): IsoDate {
  return toIsoDate(dueDateParts(toCalendarDate(firstDueDate), interval, frequency, index));
}

function dueDateParts(first: CalendarDate, interval: Interval, frequency: number, index: number): CalendarDate {
  const steps = index * frequency;
  if (interval === 'day') return civilFromDays(daysFromCivil(first) + steps);
  if (interval === 'week') return civilFromDays(daysFromCivil(first) + steps * 7);
  const months = first.year * 12 + (first.month - 1) + steps;
  const year = Math.floor(months / 12);
  const month = (months % 12) + 1;
  return { year, month, day: Math.min(first.day, daysInMonth(year, month)) };
}

function checkCadence(interval: Interval, frequency: number): ScheduleResult | undefined {
  if (!INTERVALS.includes(interval)) return failure('invalid_interval', 'Interval must be day, week or month');
  if (!Number.isInteger(frequency) || frequency < MIN_FREQUENCY || frequency > MAX_FREQUENCY) {
    return failure('invalid_frequency', `Frequency must be an integer from ${MIN_FREQUENCY} to ${MAX_FREQUENCY}`);
  }
  return undefined;
}

function checkDate(field: string, date: IsoDate): ScheduleResult | undefined {
  const parsed = parseIsoDate(date);
  return parsed.ok ? undefined : failure('invalid_date', `${field}: ${parsed.message}`);
}

function failure(reason: ScheduleFailureReason, message: string): ScheduleResult {
  return { ok: false, reason, message };
}
