/**
 * Calendar dates as the legacy charges API means them: a day, with no time and no time zone.
 * Values travel as ISO `YYYY-MM-DD` strings (they sort and compare as strings, and PostgreSQL
 * `date` takes them as they are); arithmetic goes through whole days since 1970-01-01 so that
 * no `Date`, clock or zone is involved.
 */

/** `YYYY-MM-DD`, years 0001 to 9999. */
export type IsoDate = string;

export interface CalendarDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

export type DateFailureReason = 'invalid_type' | 'invalid_format' | 'impossible_date';

export type DateParse =
  | { readonly ok: true; readonly date: IsoDate }
  | { readonly ok: false; readonly reason: DateFailureReason; readonly message: string };

export const MIN_YEAR = 1;
export const MAX_YEAR = 9999;

// The legacy docs write the formats in PHP date notation, and PHP parses `m` and `d` with or
// without a leading zero; the year must have four digits.
const YMD = /^(\d{4})-(\d{1,2})-(\d{1,2})$/;
const DMY = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A `due_date` or `last_charge_date` as the legacy API takes it: `Y-m-d` or `d/m/Y`. */
export function parseLegacyDate(input: unknown): DateParse {
  if (typeof input !== 'string') {
    return { ok: false, reason: 'invalid_type', message: 'Date must be a string in Y-m-d or d/m/Y format' };
  }
  const text = input.trim();
  const ymd = YMD.exec(text);
  if (ymd) return fromParts(Number(ymd[1]), Number(ymd[2]), Number(ymd[3]));
  const dmy = DMY.exec(text);
  if (dmy) return fromParts(Number(dmy[3]), Number(dmy[2]), Number(dmy[1]));
  return { ok: false, reason: 'invalid_format', message: 'Date must be in Y-m-d or d/m/Y format' };
}

/** Strict `YYYY-MM-DD` only, for values that are already ours (GraphQL, the database). */
export function parseIsoDate(input: unknown): DateParse {
  if (typeof input !== 'string') {
    return { ok: false, reason: 'invalid_type', message: 'Date must be a YYYY-MM-DD string' };
  }
  const iso = ISO.exec(input);
  if (!iso) return { ok: false, reason: 'invalid_format', message: 'Date must be in YYYY-MM-DD format' };
  return fromParts(Number(iso[1]), Number(iso[2]), Number(iso[3]));
}

function fromParts(year: number, month: number, day: number): DateParse {
  if (!isValidCalendarDate({ year, month, day })) {
    return { ok: false, reason: 'impossible_date', message: 'Date does not exist in the calendar (years 0001 to 9999)' };
  }
  return { ok: true, date: toIsoDate({ year, month, day }) };
}

export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

export function daysInMonth(year: number, month: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

export function isValidCalendarDate({ year, month, day }: CalendarDate): boolean {
  return (
    Number.isInteger(year) &&
    Number.isInteger(month) &&
    Number.isInteger(day) &&
    year >= MIN_YEAR &&
    year <= MAX_YEAR &&
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth(year, month)
  );
}

/** Throws on a date outside 0001-01-01..9999-12-31 or one that does not exist. */
export function toIsoDate(date: CalendarDate): IsoDate {
  if (!isValidCalendarDate(date)) {
    throw new RangeError(`not a calendar date: ${date.year}-${date.month}-${date.day}`);
  }
  return `${pad(date.year, 4)}-${pad(date.month, 2)}-${pad(date.day, 2)}`;
}

/** Throws unless given a real `YYYY-MM-DD` date: callers hold dates that were parsed already. */
export function toCalendarDate(date: IsoDate): CalendarDate {
  const parsed = ISO.exec(date);
  const parts = parsed ? { year: Number(parsed[1]), month: Number(parsed[2]), day: Number(parsed[3]) } : undefined;
  if (!parts || !isValidCalendarDate(parts)) throw new RangeError(`not a YYYY-MM-DD date: ${date}`);
  return parts;
}

/** `DD/MM/YYYY`, the other form the legacy API accepts. */
export function formatBrazilianDate(date: IsoDate): string {
  const { year, month, day } = toCalendarDate(date);
  return `${pad(day, 2)}/${pad(month, 2)}/${pad(year, 4)}`;
}

export function addDays(date: IsoDate, days: number): IsoDate {
  return toIsoDate(civilFromDays(daysFromCivil(toCalendarDate(date)) + days));
}

/**
 * Days since 1970-01-01 in the proleptic Gregorian calendar (negative before it), after
 * Howard Hinnant's `days_from_civil`: http://howardhinnant.github.io/date_algorithms.html
 */
export function daysFromCivil({ year, month, day }: CalendarDate): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

/** The inverse of {@link daysFromCivil}; the result may fall outside years 1..9999. */
export function civilFromDays(days: number): CalendarDate {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const dayOfEra = z - era * 146097;
  const yearOfEra = Math.floor(
    (dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36524) - Math.floor(dayOfEra / 146096)) / 365,
  );
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const shiftedMonth = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * shiftedMonth + 2) / 5) + 1;
  const month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9;
  return { year: yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day };
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}
