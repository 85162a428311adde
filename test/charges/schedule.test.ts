import { describe, expect, it } from 'vitest';
import {
  dueDateAt,
  installmentSchedule,
  MAX_INSTALLMENTS,
  MAX_RECURRING_OCCURRENCES,
  recurringSchedule,
  splitAmount,
} from '../../src/modules/charges/schedule.ts';
import type { Interval, ScheduleFailureReason, ScheduledInstallment } from '../../src/modules/charges/schedule.ts';
import { seededRandom } from './seeded-random.ts';

const DAY_MS = 86_400_000;
const INTERVALS: Interval[] = ['day', 'week', 'month'];
const FREQUENCIES = [1, 2, 3, 4, 6, 7, 12];

/** The independent oracle: the UTC calendar of `Date`, which no zone can shift. */
function expectedDueDate(first: string, interval: Interval, frequency: number, index: number): string {
  const [year, month, day] = first.split('-').map(Number) as [number, number, number];
  if (interval !== 'month') {
    const days = index * frequency * (interval === 'week' ? 7 : 1);
    return new Date(Date.UTC(year, month - 1, day) + days * DAY_MS).toISOString().slice(0, 10);
  }
  const target = new Date(Date.UTC(year, month - 1 + index * frequency, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(day, lastDay));
  return target.toISOString().slice(0, 10);
}

function ok(result: ReturnType<typeof installmentSchedule>): ScheduledInstallment[] {
  if (!result.ok) throw new Error(`expected a schedule, got ${result.reason}: ${result.message}`);
  return result.installments;
}

const dates = (installments: ScheduledInstallment[]) => installments.map((installment) => installment.dueDate);

describe('splitAmount', () => {
  it('splits 100.00 in 3 as 33.34, 33.33, 33.33', () => {
    expect(splitAmount(10000n, 3)).toEqual([3334n, 3333n, 3333n]);
  });

  it('gives the remainder centavos to the first installments, one each', () => {
    expect(splitAmount(10n, 4)).toEqual([3n, 3n, 2n, 2n]);
    expect(splitAmount(47n, 48 - 1)).toEqual(Array.from({ length: 47 }, () => 1n));
    expect(splitAmount(95n, 48)).toEqual([...Array.from({ length: 47 }, () => 2n), 1n]);
    expect(splitAmount(15000n, 1)).toEqual([15000n]);
  });

  it('sums exactly for every total up to 2 000 centavos and every count', () => {
    const wrong: unknown[] = [];
    for (let parts = 1; parts <= MAX_INSTALLMENTS; parts++) {
      for (let total = BigInt(parts); total <= 2000n; total++) {
        if (!isExactSplit(total, parts)) wrong.push({ total, parts });
      }
    }
    expect(wrong).toEqual([]);
  });

  it('sums exactly for generated large totals', () => {
    const random = seededRandom(48);
    const wrong: unknown[] = [];
    for (let round = 0; round < 20_000; round++) {
      const total = random.bigint(random.int(6, 63)) + 48n;
      const parts = random.int(1, MAX_INSTALLMENTS);
      if (!isExactSplit(total, parts)) wrong.push({ total, parts });
    }
    expect(wrong).toEqual([]);
    expect(isExactSplit(2n ** 53n - 1n, 48)).toBe(true);
    expect(isExactSplit(10n ** 15n - 1n, 47)).toBe(true);
  });

  it('throws below one centavo per part', () => {
    expect(() => splitAmount(2n, 3)).toThrow(RangeError);
    expect(() => splitAmount(10n, 0)).toThrow(RangeError);
    expect(() => splitAmount(10n, 1.5)).toThrow(RangeError);
  });

  /** Sums to the total, has `parts` parts, and the one-centavo remainders lead. */
  function isExactSplit(total: bigint, parts: number): boolean {
    const amounts = splitAmount(total, parts);
    const smallest = total / BigInt(parts);
    const larger = total % BigInt(parts);
    return (
      amounts.length === parts &&
      amounts.reduce((sum, amount) => sum + amount, 0n) === total &&
      amounts.every((amount, index) => amount === (BigInt(index) < larger ? smallest + 1n : smallest))
    );
  }
});

describe('installmentSchedule', () => {
  const base = { total: 120000n, firstDueDate: '2025-01-31', installments: 12, interval: 'month', frequency: 1 } as const;

  it('anchors monthly installments on the original day: the 31st', () => {
    expect(dates(ok(installmentSchedule(base)))).toEqual([
      '2025-01-31', '2025-02-28', '2025-03-31', '2025-04-30', '2025-05-31', '2025-06-30',
      '2025-07-31', '2025-08-31', '2025-09-30', '2025-10-31', '2025-11-30', '2025-12-31',
    ]);
  });

  it('goes to 29 February in a leap year and back to the 31st after', () => {
    expect(dates(ok(installmentSchedule({ ...base, firstDueDate: '2023-12-31', installments: 5 })))).toEqual([
      '2023-12-31', '2024-01-31', '2024-02-29', '2024-03-31', '2024-04-30',
    ]);
  });

  it.each<[string, number, string[]]>([
    ['2025-01-30', 1, ['2025-01-30', '2025-02-28', '2025-03-30', '2025-04-30', '2025-05-30']],
    ['2024-01-30', 1, ['2024-01-30', '2024-02-29', '2024-03-30', '2024-04-30', '2024-05-30']],
    ['2025-01-29', 1, ['2025-01-29', '2025-02-28', '2025-03-29', '2025-04-29', '2025-05-29']],
    ['2024-01-29', 1, ['2024-01-29', '2024-02-29', '2024-03-29', '2024-04-29', '2024-05-29']],
    ['2024-02-29', 1, ['2024-02-29', '2024-03-29', '2024-04-29', '2024-05-29', '2024-06-29']],
    ['2024-02-29', 12, ['2024-02-29', '2025-02-28', '2026-02-28', '2027-02-28', '2028-02-29']],
    ['2025-02-28', 1, ['2025-02-28', '2025-03-28', '2025-04-28', '2025-05-28', '2025-06-28']],
    ['2025-11-30', 3, ['2025-11-30', '2026-02-28', '2026-05-30', '2026-08-30', '2026-11-30']],
    ['2025-08-31', 6, ['2025-08-31', '2026-02-28', '2026-08-31', '2027-02-28', '2027-08-31']],
    ['2027-08-31', 6, ['2027-08-31', '2028-02-29', '2028-08-31', '2029-02-28', '2029-08-31']],
    ['2025-10-31', 2, ['2025-10-31', '2025-12-31', '2026-02-28', '2026-04-30', '2026-06-30']],
    ['2099-12-31', 2, ['2099-12-31', '2100-02-28', '2100-04-30', '2100-06-30', '2100-08-31']],
    ['2399-12-31', 2, ['2399-12-31', '2400-02-29', '2400-04-30', '2400-06-30', '2400-08-31']],
    ['2025-01-15', 1, ['2025-01-15', '2025-02-15', '2025-03-15', '2025-04-15', '2025-05-15']],
  ])('monthly from %s every %i months', (firstDueDate, frequency, expected) => {
    expect(dates(ok(installmentSchedule({ ...base, firstDueDate, frequency, installments: 5 })))).toEqual(expected);
  });

  it.each<[Interval, number, string, string[]]>([
    ['day', 1, '2024-02-27', ['2024-02-27', '2024-02-28', '2024-02-29', '2024-03-01']],
    ['day', 1, '2025-02-27', ['2025-02-27', '2025-02-28', '2025-03-01', '2025-03-02']],
    ['day', 12, '2025-12-25', ['2025-12-25', '2026-01-06', '2026-01-18', '2026-01-30']],
    ['week', 1, '2024-02-15', ['2024-02-15', '2024-02-22', '2024-02-29', '2024-03-07']],
    ['week', 2, '2025-12-24', ['2025-12-24', '2026-01-07', '2026-01-21', '2026-02-04']],
    ['week', 12, '2025-01-31', ['2025-01-31', '2025-04-25', '2025-07-18', '2025-10-10']],
  ])('%s every %i from %s', (interval, frequency, firstDueDate, expected) => {
    expect(dates(ok(installmentSchedule({ ...base, interval, frequency, firstDueDate, installments: 4 })))).toEqual(
      expected,
    );
  });

  it('numbers installments from 1 and splits the total exactly', () => {
    expect(ok(installmentSchedule({ ...base, total: 10000n, installments: 3 }))).toEqual([
      { number: 1, dueDate: '2025-01-31', amount: 3334n },
      { number: 2, dueDate: '2025-02-28', amount: 3333n },
      { number: 3, dueDate: '2025-03-31', amount: 3333n },
    ]);
  });

  it('gives one installment of the whole amount on the due date', () => {
    expect(ok(installmentSchedule({ ...base, total: 15000n, installments: 1 }))).toEqual([
      { number: 1, dueDate: '2025-01-31', amount: 15000n },
    ]);
  });

  it('matches the calendar oracle for every interval, frequency and month-end start, 2023 to 2028', () => {
    const starts: string[] = [];
    for (let year = 2023; year <= 2028; year++) {
      for (let month = 1; month <= 12; month++) {
        const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
        for (const day of [1, 28, 29, 30, 31]) {
          if (day <= last) starts.push(`${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`);
        }
      }
    }
    const wrong: unknown[] = [];
    for (const interval of INTERVALS) {
      for (const frequency of FREQUENCIES) {
        for (const firstDueDate of starts) {
          const schedule = ok(installmentSchedule({ total: 4800n, firstDueDate, installments: 48, interval, frequency }));
          schedule.forEach((installment, index) => {
            const dueDate = expectedDueDate(firstDueDate, interval, frequency, index);
            if (installment.number !== index + 1 || installment.dueDate !== dueDate || installment.amount !== 100n) {
              wrong.push({ firstDueDate, interval, frequency, index, installment, dueDate });
            }
          });
          if (schedule.length !== 48) wrong.push({ firstDueDate, interval, frequency, length: schedule.length });
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('keeps generated totals exact whatever the cadence', () => {
    const random = seededRandom(2025);
    for (let round = 0; round < 1000; round++) {
      const installments = random.int(1, MAX_INSTALLMENTS);
      const total = BigInt(installments) + random.bigint(random.int(1, 49));
      const schedule = ok(
        installmentSchedule({
          total,
          firstDueDate: expectedDueDate('2024-01-01', 'day', 1, random.int(0, 3000)),
          installments,
          interval: random.pick(INTERVALS),
          frequency: random.int(1, 12),
        }),
      );
      expect(schedule).toHaveLength(installments);
      expect(schedule.reduce((sum, installment) => sum + installment.amount, 0n)).toBe(total);
    }
  });

  it.each<[Partial<Parameters<typeof installmentSchedule>[0]>, ScheduleFailureReason]>([
    [{ total: 2n, installments: 3 }, 'amount_below_installments'],
    [{ total: 47n, installments: 48 }, 'amount_below_installments'],
    [{ total: 0n }, 'invalid_amount'],
    [{ total: -100n }, 'invalid_amount'],
    [{ installments: 0 }, 'invalid_installments'],
    [{ installments: 49 }, 'invalid_installments'],
    [{ installments: 2.5 }, 'invalid_installments'],
    [{ installments: Number.NaN }, 'invalid_installments'],
    [{ frequency: 0 }, 'invalid_frequency'],
    [{ frequency: 13 }, 'invalid_frequency'],
    [{ frequency: 1.5 }, 'invalid_frequency'],
    [{ interval: 'year' as Interval }, 'invalid_interval'],
    [{ firstDueDate: '2025-02-29' }, 'invalid_date'],
    [{ firstDueDate: '31/01/2025' }, 'invalid_date'],
    [{ firstDueDate: '9999-01-31', installments: 48, frequency: 12 }, 'date_out_of_range'],
    [{ firstDueDate: '9999-12-28', installments: 2, interval: 'week' }, 'date_out_of_range'],
  ])('refuses %s (%s)', (change, reason) => {
    const result = installmentSchedule({ ...base, ...change });
    expect(result).toMatchObject({ ok: false, reason });
  });

  it('accepts a total of exactly one centavo per installment', () => {
    const schedule = ok(installmentSchedule({ ...base, total: 48n, installments: 48 }));
    expect(schedule.every((installment) => installment.amount === 1n)).toBe(true);
  });

  it('reaches the last day of the calendar', () => {
    const schedule = ok(installmentSchedule({ ...base, firstDueDate: '9995-12-31', installments: 5, frequency: 12 }));
    expect(dates(schedule).at(-1)).toBe('9999-12-31');
  });
});

describe('recurringSchedule', () => {
  const base = {
    amount: 4990n,
    firstDueDate: '2025-01-31',
    interval: 'month',
    frequency: 1,
    horizon: '2025-12-31',
  } as const;

  it('charges the full amount on every occurrence, anchored like installments', () => {
    const result = recurringSchedule({ ...base, lastChargeDate: '2025-05-31' });
    expect(result).toEqual({
      ok: true,
      installments: [
        { number: 1, dueDate: '2025-01-31', amount: 4990n },
        { number: 2, dueDate: '2025-02-28', amount: 4990n },
        { number: 3, dueDate: '2025-03-31', amount: 4990n },
        { number: 4, dueDate: '2025-04-30', amount: 4990n },
        { number: 5, dueDate: '2025-05-31', amount: 4990n },
      ],
    });
  });

  it.each<[string | undefined, string, string[]]>([
    // last_charge_date before the horizon: it is the limit, inclusive.
    ['2025-04-30', '2025-12-31', ['2025-01-31', '2025-02-28', '2025-03-31', '2025-04-30']],
    // last_charge_date between two due dates.
    ['2025-04-29', '2025-12-31', ['2025-01-31', '2025-02-28', '2025-03-31']],
    // The horizon before the last charge: it is the limit, inclusive.
    ['2030-01-01', '2025-03-31', ['2025-01-31', '2025-02-28', '2025-03-31']],
    ['2030-01-01', '2025-03-30', ['2025-01-31', '2025-02-28']],
    // No last charge: until the horizon.
    [undefined, '2025-04-30', ['2025-01-31', '2025-02-28', '2025-03-31', '2025-04-30']],
    // Both on the first due date.
    ['2025-01-31', '2025-01-31', ['2025-01-31']],
    // Horizon before the first due date: nothing due yet.
    [undefined, '2025-01-30', []],
    ['2025-06-30', '2024-12-31', []],
  ])('with last charge %s and horizon %s', (lastChargeDate, horizon, expected) => {
    const result = recurringSchedule({ ...base, lastChargeDate, horizon });
    if (!result.ok) throw new Error(result.message);
    expect(dates(result.installments)).toEqual(expected);
  });

  it('produces exactly the oracle dates up to the limit, for every interval and frequency', () => {
    const random = seededRandom(99);
    for (let round = 0; round < 600; round++) {
      const interval = random.pick(INTERVALS);
      const frequency = random.int(1, 12);
      const firstDueDate = expectedDueDate('2024-01-01', 'day', 1, random.int(0, 1500));
      const horizon = expectedDueDate(firstDueDate, 'day', 1, random.int(-10, 900));
      const lastChargeDate = random.next() < 0.5 ? undefined : expectedDueDate(firstDueDate, 'day', 1, random.int(0, 900));
      const limit = lastChargeDate !== undefined && lastChargeDate < horizon ? lastChargeDate : horizon;
      const result = recurringSchedule({ amount: 100n, firstDueDate, interval, frequency, lastChargeDate, horizon });
      if (!result.ok) throw new Error(result.message);
      const expected: string[] = [];
      for (let index = 0; expectedDueDate(firstDueDate, interval, frequency, index) <= limit; index++) {
        expected.push(expectedDueDate(firstDueDate, interval, frequency, index));
      }
      expect(dates(result.installments)).toEqual(expected);
      expect(result.installments.every((installment, index) => installment.number === index + 1)).toBe(true);
    }
  });

  it('gives the same dates as an installment schedule of the same cadence', () => {
    for (const interval of INTERVALS) {
      for (const frequency of FREQUENCIES) {
        const installments = ok(installmentSchedule({ total: 4800n, firstDueDate: '2024-01-31', installments: 20, interval, frequency }));
        const recurring = recurringSchedule({
          amount: 1n,
          firstDueDate: '2024-01-31',
          interval,
          frequency,
          horizon: installments.at(-1)!.dueDate,
        });
        if (!recurring.ok) throw new Error(recurring.message);
        expect(dates(recurring.installments)).toEqual(dates(installments));
      }
    }
  });

  it(`stops at ${MAX_RECURRING_OCCURRENCES} occurrences`, () => {
    const atCap = recurringSchedule({ ...base, interval: 'day', horizon: dueDateAt(base.firstDueDate, 'day', 1, 999) });
    expect(atCap.ok && atCap.installments.length).toBe(MAX_RECURRING_OCCURRENCES);
    const aboveCap = recurringSchedule({ ...base, interval: 'day', horizon: dueDateAt(base.firstDueDate, 'day', 1, 1000) });
    expect(aboveCap).toMatchObject({ ok: false, reason: 'too_many_occurrences' });
  });

  it('ends at the end of the calendar without failing', () => {
    const result = recurringSchedule({ ...base, firstDueDate: '9990-12-31', frequency: 12, horizon: '9999-12-31' });
    expect(result.ok && dates(result.installments).at(-1)).toBe('9999-12-31');
    expect(result.ok && result.installments).toHaveLength(10);
  });

  it.each<[Partial<Parameters<typeof recurringSchedule>[0]>, ScheduleFailureReason]>([
    [{ lastChargeDate: '2025-01-30' }, 'last_charge_before_first_due'],
    [{ amount: 0n }, 'invalid_amount'],
    [{ amount: -1n }, 'invalid_amount'],
    [{ frequency: 0 }, 'invalid_frequency'],
    [{ frequency: 13 }, 'invalid_frequency'],
    [{ interval: 'fortnight' as Interval }, 'invalid_interval'],
    [{ horizon: '2025-02-30' }, 'invalid_date'],
    [{ lastChargeDate: '31/12/2025' }, 'invalid_date'],
    [{ firstDueDate: '' }, 'invalid_date'],
  ])('refuses %s (%s)', (change, reason) => {
    expect(recurringSchedule({ ...base, ...change })).toMatchObject({ ok: false, reason });
  });
});

describe('dueDateAt', () => {
  it('computes each date from the first, so a short month does not drift the rest', () => {
    expect(dueDateAt('2025-01-31', 'month', 1, 1)).toBe('2025-02-28');
    expect(dueDateAt('2025-01-31', 'month', 1, 2)).toBe('2025-03-31');
    expect(dueDateAt('2025-01-31', 'month', 1, 13)).toBe('2026-02-28');
    expect(dueDateAt('2025-01-31', 'week', 3, 2)).toBe('2025-03-14');
    expect(dueDateAt('2025-01-31', 'day', 7, 0)).toBe('2025-01-31');
  });
});
