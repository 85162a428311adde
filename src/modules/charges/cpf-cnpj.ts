/**
 * Brazilian taxpayer ids: CPF (people, 11 digits) and CNPJ (companies, 14 characters), both
 * ending in two mod-11 check digits.
 *
 * Since July 2026 the Receita Federal also issues alphanumeric CNPJs (IN RFB 2.229/2024): the
 * first 12 characters may be 0-9 or A-Z, the check digits stay numeric, and each character
 * counts as its ASCII code minus 48 (so digits keep their value and A = 17). Numeric CNPJs
 * therefore validate exactly as before.
 */

export type TaxIdKind = 'cpf' | 'cnpj';

export type TaxIdFailureReason =
  | 'invalid_type'
  | 'empty'
  | 'invalid_characters'
  | 'invalid_length'
  | 'repeated_digits'
  | 'invalid_check_digits';

/** `normalized` is digits only, except for the letters (upper case) of an alphanumeric CNPJ. */
export type TaxIdParse =
  | { readonly ok: true; readonly kind: TaxIdKind; readonly normalized: string }
  | { readonly ok: false; readonly reason: TaxIdFailureReason; readonly message: string };

const CPF_FIRST_WEIGHTS = [10, 9, 8, 7, 6, 5, 4, 3, 2];
const CPF_SECOND_WEIGHTS = [11, 10, 9, 8, 7, 6, 5, 4, 3, 2];
const CNPJ_FIRST_WEIGHTS = [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];
const CNPJ_SECOND_WEIGHTS = [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2];

// The mask punctuation (`123.456.789-09`, `12.345.678/0001-95`) and spaces, wherever they are:
// clients format these ids in many ways, and the check digits catch what matters.
const PUNCTUATION = /[.\-/\s]/g;

/** A `customer.cpf_cnpj`, with or without punctuation. */
export function parseCpfCnpj(input: unknown): TaxIdParse {
  if (typeof input !== 'string') return failure('invalid_type', 'CPF/CNPJ must be a string');
  const compact = input.replace(PUNCTUATION, '').toUpperCase();
  if (compact === '') return failure('empty', 'CPF/CNPJ is empty');
  if (!/^[0-9A-Z]+$/.test(compact)) return failure('invalid_characters', 'CPF/CNPJ may hold only digits, letters (CNPJ) and . - / as punctuation');

  if (compact.length === 11) {
    if (!/^\d{11}$/.test(compact)) return failure('invalid_characters', 'CPF must have digits only');
    return checked('cpf', compact, CPF_FIRST_WEIGHTS, CPF_SECOND_WEIGHTS);
  }
  if (compact.length === 14) {
    if (!/^[0-9A-Z]{12}\d{2}$/.test(compact)) {
      return failure('invalid_characters', 'CNPJ must end in two numeric check digits');
    }
    return checked('cnpj', compact, CNPJ_FIRST_WEIGHTS, CNPJ_SECOND_WEIGHTS);
  }
  return failure('invalid_length', 'CPF/CNPJ must have 11 (CPF) or 14 (CNPJ) characters');
}

/** The usual mask: `852.391.120-02`, `12.345.678/0001-95`. Takes a `normalized` value. */
export function formatCpfCnpj(normalized: string): string {
  if (/^\d{11}$/.test(normalized)) {
    return `${normalized.slice(0, 3)}.${normalized.slice(3, 6)}.${normalized.slice(6, 9)}-${normalized.slice(9)}`;
  }
  if (/^[0-9A-Z]{12}\d{2}$/.test(normalized)) {
    return `${normalized.slice(0, 2)}.${normalized.slice(2, 5)}.${normalized.slice(5, 8)}/${normalized.slice(8, 12)}-${normalized.slice(12)}`;
  }
  throw new RangeError(`not a normalized CPF or CNPJ: ${normalized}`);
}

function checked(
  kind: TaxIdKind,
  value: string,
  firstWeights: readonly number[],
  secondWeights: readonly number[],
): TaxIdParse {
  const label = kind.toUpperCase();
  // All-same-digit numbers pass the check digits, and clients send them as placeholders.
  if (/^(\d)\1+$/.test(value)) return failure('repeated_digits', `${label} with all digits the same is not a real ${label}`);
  const values = [...value].map((character) => character.charCodeAt(0) - 48);
  const first = checkDigit(values, firstWeights);
  const second = checkDigit(values, secondWeights);
  const body = firstWeights.length;
  if (values[body] !== first || values[body + 1] !== second) {
    return failure('invalid_check_digits', `${label} has invalid check digits`);
  }
  return { ok: true, kind, normalized: value };
}

function checkDigit(values: readonly number[], weights: readonly number[]): number {
  let sum = 0;
  for (const [index, weight] of weights.entries()) sum += values[index]! * weight;
  const remainder = sum % 11;
  return remainder < 2 ? 0 : 11 - remainder;
}

function failure(reason: TaxIdFailureReason, message: string): TaxIdParse {
  return { ok: false, reason, message };
}
