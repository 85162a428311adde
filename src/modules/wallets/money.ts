/**
 * Wallet money: integers in each currency's minor unit. The legacy API writes amounts as JSON
 * numbers in major units (`"txn_amount": 100`, a "Double"); they are converted here from their
 * source text, digit for digit, never through a float.
 */

/** Digits after the decimal point of each currency's minor unit (ISO 4217). */
export const CURRENCY_DIGITS: Readonly<Record<string, number>> = {
  // The rial's minor unit (dinar) is not used in practice: amounts are whole rials.
  IRR: 0,
  JPY: 0,
  USD: 2,
  EUR: 2,
  GBP: 2,
  BRL: 2,
  AED: 2,
  TRY: 2,
  KWD: 3,
};

export const DEFAULT_CURRENCY = 'IRR';

/** The largest amount a wallet transaction may carry, in minor units. */
export const MAX_AMOUNT = 10n ** 15n - 1n;

export function isCurrency(code: string): boolean {
  return Object.hasOwn(CURRENCY_DIGITS, code);
}

export function currencyDigits(currency: string): number {
  const digits = CURRENCY_DIGITS[currency];
  if (digits === undefined) throw new Error(`Unknown currency ${currency}`);
  return digits;
}

export type AmountProblem = 'NOT_A_DECIMAL' | 'TOO_PRECISE' | 'TOO_LARGE';

const DECIMAL = /^(-?)(0|[1-9]\d*)(?:\.(\d+))?$/;

/**
 * Parses the text of a decimal amount in major units (`100`, `12.5`, `12.50`) into minor units,
 * keeping its sign (callers decide what is allowed). Digits beyond the currency's minor unit are
 * accepted only when they are zeros (`100.0` rials); exponents (`1e2`) are refused, as are
 * magnitudes above MAX_AMOUNT.
 */
export function parseMajorAmount(text: string, currency: string): { ok: true; amount: bigint } | { ok: false; problem: AmountProblem } {
  const match = text.length <= 40 ? DECIMAL.exec(text) : null;
  if (!match) return { ok: false, problem: 'NOT_A_DECIMAL' };
  const [, sign, whole, fraction = ''] = match as unknown as [string, string, string, string | undefined];
  const digits = currencyDigits(currency);
  if (/[^0]/.test(fraction.slice(digits))) return { ok: false, problem: 'TOO_PRECISE' };
  const magnitude = BigInt(whole + fraction.slice(0, digits).padEnd(digits, '0'));
  if (magnitude > MAX_AMOUNT) return { ok: false, problem: 'TOO_LARGE' };
  return { ok: true, amount: sign === '-' ? -magnitude : magnitude };
}

/** Minor units as a decimal in major units with all the currency's digits: 150 USD cents → `1.50`. */
export function formatMajorAmount(amount: bigint, currency: string): string {
  return formatDecimal(amount, currencyDigits(currency));
}

/** `value / 10^digits` as a decimal with exactly `digits` decimals: (150n, 2) → `1.50`. */
export function formatDecimal(amount: bigint, digits: number): string {
  const negative = amount < 0n;
  const text = (negative ? -amount : amount).toString().padStart(digits + 1, '0');
  const major = digits === 0 ? text : `${text.slice(0, -digits)}.${text.slice(-digits)}`;
  return negative ? `-${major}` : major;
}
