import { describe, expect, it } from 'vitest';
import {
  addDays,
  civilFromDays,
  daysFromCivil,
  daysInMonth,
  formatBrazilianDate,
  isLeapYear,
  parseIsoDate,
  parseLegacyDate,
  toCalendarDate,
  toIsoDate,
} from '../../src/modules/charges/dates.ts';
import type { DateFailureReason } from '../../src/modules/charges/dates.ts';

const DAY_MS = 86_400_000;

/** The independent oracle: JavaScript's own UTC calendar. */
function utcIso(epochDay: number): string {
  return new Date(epochDay * DAY_MS).toISOString().slice(0, 10);
}

describe('parseLegacyDate', () => {
  it.each<[string, string]>([
    ['2025-01-31', '2025-01-31'],
    ['31/01/2025', '2025-01-31'],
    ['30/10/2020', '2020-10-30'],
    ['1/2/2025', '2025-02-01'],
    ['01/02/2025', '2025-02-01'],
    ['2025-2-1', '2025-02-01'],
    ['29/02/2024', '2024-02-29'],
    ['2000-02-29', '2000-02-29'],
    ['31/12/9999', '9999-12-31'],
    ['0001-01-01', '0001-01-01'],
    [' 2025-01-31 ', '2025-01-31'],
  ])('reads %s as %s', (input, date) => {
    expect(parseLegacyDate(input)).toEqual({ ok: true, date });
  });

  it.each<[unknown, DateFailureReason]>([
    ['31/02/2025', 'impossible_date'],
    ['29/02/2025', 'impossible_date'],
    ['29/02/1900', 'impossible_date'],
    ['2100-02-29', 'impossible_date'],
    ['31/04/2025', 'impossible_date'],
    ['2025-06-31', 'impossible_date'],
    ['2025-13-01', 'impossible_date'],
    ['2025-00-10', 'impossible_date'],
    ['00/01/2025', 'impossible_date'],
    ['32/01/2025', 'impossible_date'],
    ['0000-01-01', 'impossible_date'],
    ['2025/01/31', 'invalid_format'],
    ['01-31-2025', 'invalid_format'],
    ['31-01-2025', 'invalid_format'],
    ['2025-01-31T00:00:00', 'invalid_format'],
    ['2025-01-31 00:00:00', 'invalid_format'],
    ['31/01/25', 'invalid_format'],
    ['20250131', 'invalid_format'],
    ['2025-001-31', 'invalid_format'],
    ['١٢/٠١/٢٠٢٥', 'invalid_format'],
    ['', 'invalid_format'],
    [20250131, 'invalid_type'],
    [new Date(0), 'invalid_type'],
    [null, 'invalid_type'],
  ])('refuses %j (%s)', (input, reason) => {
    const result = parseLegacyDate(input);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toBe(reason);
      expect(result.message).not.toBe('');
    }
  });

  it('accepts exactly the days that exist, 1896 to 2104, in both forms', () => {
    const wrong: unknown[] = [];
    for (let year = 1896; year <= 2104; year++) {
      for (let month = 1; month <= 12; month++) {
        for (let day = 1; day <= 31; day++) {
          const exists = new Date(Date.UTC(year, month - 1, day)).getUTCMonth() === month - 1;
          const iso = `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
          for (const input of [iso, `${day}/${month}/${year}`, `${String(day).padStart(2, '0')}/${iso.slice(5, 7)}/${year}`]) {
            const result = parseLegacyDate(input);
            const right = exists ? result.ok && result.date === iso : !result.ok && result.reason === 'impossible_date';
            if (!right) wrong.push({ input, result });
          }
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('parseIsoDate', () => {
  it('takes only zero-padded YYYY-MM-DD', () => {
    expect(parseIsoDate('2025-02-01')).toEqual({ ok: true, date: '2025-02-01' });
    expect(parseIsoDate('2025-2-1')).toMatchObject({ ok: false, reason: 'invalid_format' });
    expect(parseIsoDate('01/02/2025')).toMatchObject({ ok: false, reason: 'invalid_format' });
    expect(parseIsoDate('2025-02-30')).toMatchObject({ ok: false, reason: 'impossible_date' });
    expect(parseIsoDate(undefined)).toMatchObject({ ok: false, reason: 'invalid_type' });
  });
});

describe('calendar arithmetic', () => {
  it.each<[number, boolean]>([
    [1900, false],
    [2000, true],
    [2023, false],
    [2024, true],
    [2025, false],
    [2028, true],
    [2100, false],
    [2400, true],
  ])('%i is a leap year: %s', (year, leap) => {
    expect(isLeapYear(year)).toBe(leap);
    expect(daysInMonth(year, 2)).toBe(leap ? 29 : 28);
  });

  it('has the usual month lengths', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((month) => daysInMonth(2025, month))).toEqual([
      31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31,
    ]);
  });

  it('counts days like the UTC calendar, 1700 to 2300', () => {
    const wrong: unknown[] = [];
    const from = Math.floor(Date.UTC(1700, 0, 1) / DAY_MS);
    const to = Math.floor(Date.UTC(2300, 11, 31) / DAY_MS);
    for (let epochDay = from; epochDay <= to; epochDay++) {
      const date = civilFromDays(epochDay);
      if (toIsoDate(date) !== utcIso(epochDay) || daysFromCivil(date) !== epochDay) wrong.push({ epochDay, date });
    }
    expect(wrong).toEqual([]);
  });

  it('counts days at the ends of the supported range', () => {
    expect(daysFromCivil({ year: 1970, month: 1, day: 1 })).toBe(0);
    expect(toIsoDate(civilFromDays(daysFromCivil({ year: 1, month: 1, day: 1 })))).toBe('0001-01-01');
    expect(toIsoDate(civilFromDays(daysFromCivil({ year: 9999, month: 12, day: 31 })))).toBe('9999-12-31');
    expect(civilFromDays(daysFromCivil({ year: 9999, month: 12, day: 31 }) + 1)).toEqual({ year: 10000, month: 1, day: 1 });
  });

  it.each<[string, number, string]>([
    ['2024-02-28', 1, '2024-02-29'],
    ['2024-02-29', 1, '2024-03-01'],
    ['2025-02-28', 1, '2025-03-01'],
    ['2025-12-31', 1, '2026-01-01'],
    ['2026-01-01', -1, '2025-12-31'],
    ['2025-01-31', 30, '2025-03-02'],
    ['2024-01-01', 366, '2025-01-01'],
    ['2025-01-01', 365, '2026-01-01'],
  ])('%s plus %i days is %s', (date, days, expected) => {
    expect(addDays(date, days)).toBe(expected);
  });

  it('formats back to both legacy forms', () => {
    expect(formatBrazilianDate('2020-10-30')).toBe('30/10/2020');
    expect(formatBrazilianDate('0099-01-02')).toBe('02/01/0099');
    expect(toIsoDate({ year: 2020, month: 1, day: 2 })).toBe('2020-01-02');
    expect(toCalendarDate('2020-10-30')).toEqual({ year: 2020, month: 10, day: 30 });
    for (const text of ['2024-02-29', '2025-12-31', '0001-01-01']) {
      const parsed = parseLegacyDate(formatBrazilianDate(text));
      expect(parsed).toEqual({ ok: true, date: text });
    }
  });

  it('throws when handed something that is not a date', () => {
    expect(() => toIsoDate({ year: 2025, month: 2, day: 29 })).toThrow(RangeError);
    expect(() => toIsoDate({ year: 10000, month: 1, day: 1 })).toThrow(RangeError);
    expect(() => toCalendarDate('2025-02-29')).toThrow(RangeError);
    expect(() => toCalendarDate('31/01/2025')).toThrow(RangeError);
    expect(() => addDays('9999-12-31', 1)).toThrow(RangeError);
  });
});
