/**
 * BRL amounts at the legacy edge: the charges API sends reais as decimals (`150.00`, `150`,
 * `150.5`, as a JSON number or a string); everything inside is bigint centavos.
 */

/**
 * R$ 9 999 999 999 999.99: 15 significant digits, the most a JSON number (a double) carries
 * exactly. Every amount we accept therefore reads and echoes back exactly as a JSON number,
 * and stays far below 2^53.
 */
export const MAX_CENTAVOS = 10n ** 15n - 1n;

export type AmountFailureReason =
  | 'invalid_type'
  | 'invalid_format'
  | 'not_finite'
  | 'exponent'
  | 'negative'
  | 'zero'
  | 'too_many_decimals'
  | 'too_large';

export type AmountParse =
  | { readonly ok: true; readonly centavos: bigint }
  | { readonly ok: false; readonly reason: AmountFailureReason; readonly message: string };

export interface ParseAmountOptions {
  /** Accept `0` / `0.00` (a discount, say). Charges and installments need a positive amount. */
  readonly allowZero?: boolean;
}

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;
// Unambiguous on purpose: `\d+\.?\d*` backtracks quadratically on a long run of digits.
const EXPONENT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)[eE][+-]?\d+$/;
const MAX_WHOLE_DIGITS = String(MAX_CENTAVOS / 100n).length;

/**
 * Reais as sent by the legacy API into centavos, exactly: a JSON number is read back through
 * its shortest decimal form (`String(150.5)` is `"150.5"`), never multiplied as a float. Below
 * MAX_CENTAVOS that form is exactly what the client wrote, as long as it wrote at most 2
 * decimals; digits beyond a double's precision were lost by JSON.parse before we could see them.
 */
export function parseBrlAmount(input: unknown, options: ParseAmountOptions = {}): AmountParse {
  if (typeof input === 'number') return parseNumber(input, options);
  if (typeof input === 'string') return parseDecimal(input.trim(), options);
  return failure('invalid_type', 'Amount must be a number or a decimal string');
}

/** Centavos as the legacy decimal: `15000n` → `"150.00"`. */
export function formatBrlAmount(centavos: bigint): string {
  const negative = centavos < 0n;
  const magnitude = negative ? -centavos : centavos;
  const cents = (magnitude % 100n).toString().padStart(2, '0');
  return `${negative ? '-' : ''}${magnitude / 100n}.${cents}`;
}

function parseNumber(input: number, options: ParseAmountOptions): AmountParse {
  if (!Number.isFinite(input)) return failure('not_finite', 'Amount must be a finite number');
  if (input < 0) return failure('negative', 'Amount must not be negative');
  const text = String(input);
  // String() switches to exponent form at 1e21 and below 1e-6; neither was a 2-decimal amount.
  if (text.includes('e')) {
    return input >= 1
      ? failure('too_large', `Amount must be at most ${formatBrlAmount(MAX_CENTAVOS)}`)
      : failure('too_many_decimals', 'Amount must have at most 2 decimal places');
  }
  return parseDecimal(text, options);
}

function parseDecimal(text: string, options: ParseAmountOptions): AmountParse {
  if (EXPONENT.test(text)) return failure('exponent', 'Amount must be a plain decimal, not an exponent');
  if (text.startsWith('-') && DECIMAL.test(text.slice(1))) return failure('negative', 'Amount must not be negative');
  const match = DECIMAL.exec(text);
  if (!match) return failure('invalid_format', 'Amount must be a decimal such as 150.00');
  const whole = match[1]!.replace(/^0+(?=\d)/, '');
  const fraction = match[2] ?? '';
  if (fraction.length > 2) return failure('too_many_decimals', 'Amount must have at most 2 decimal places');
  // Checked before BigInt() so that a megabyte of digits costs nothing.
  if (whole.length > MAX_WHOLE_DIGITS) return failure('too_large', `Amount must be at most ${formatBrlAmount(MAX_CENTAVOS)}`);
  const centavos = BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0'));
  if (centavos > MAX_CENTAVOS) return failure('too_large', `Amount must be at most ${formatBrlAmount(MAX_CENTAVOS)}`);
  if (centavos === 0n && !options.allowZero) return failure('zero', 'Amount must be greater than zero');
  return { ok: true, centavos };
}

function failure(reason: AmountFailureReason, message: string): AmountParse {
  return { ok: false, reason, message };
}
