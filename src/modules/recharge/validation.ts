import { invalid } from '../../errors.ts';

/**
 * A provider declares the parameters its payments take. Payment parameter values are strings (the
 * legacy document's `params` is a map of strings); the definition's `type` says what the string
 * must spell. `amount` is always defined: an integer string of minor units, unless the provider
 * fixes it.
 */
export const PARAMETER_TYPES = ['string', 'integer', 'boolean'] as const;
export type ParameterType = (typeof PARAMETER_TYPES)[number];

export interface ParameterDefinition {
  name: string;
  type: ParameterType;
  required: boolean;
  /** The value every payment gets; a payment may repeat it but not change it. */
  fixed?: string;
}

export const AMOUNT_PARAMETER = 'amount';
const DEFAULT_AMOUNT: ParameterDefinition = { name: AMOUNT_PARAMETER, type: 'integer', required: true };
const MAX_DEFINITIONS = 50;
const MAX_VALUE_LENGTH = 1000;
const NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const REFERENCE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const CURRENCY = /^[A-Z]{3}$/;
// Legacy clients read amounts and user ids as JSON numbers: anything beyond 2^53-1 would reach them altered.
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The JSON scalars a parameter value may arrive as, spelled as the string it is stored as. */
function scalarText(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return null;
}

function checkValue(definition: ParameterDefinition, value: string, field: string): void {
  if (definition.name === AMOUNT_PARAMETER) {
    parseAmount(value, field);
    return;
  }
  if (definition.type === 'integer' && !/^-?\d{1,30}$/.test(value)) throw invalid(field, `${field} must be an integer, written as a string of digits.`);
  if (definition.type === 'boolean' && value !== 'true' && value !== 'false') throw invalid(field, `${field} must be "true" or "false".`);
  if (value.length > MAX_VALUE_LENGTH) throw invalid(field, `${field} has at most ${MAX_VALUE_LENGTH} characters.`);
}

export function parseAmount(value: string, field = `params.${AMOUNT_PARAMETER}`): bigint {
  if (!/^\d{1,16}$/.test(value) || BigInt(value) <= 0n || BigInt(value) > MAX_SAFE) {
    throw invalid(field, `${field} must be a positive whole number of minor units, written as a string of digits (at most ${MAX_SAFE}).`);
  }
  return BigInt(value);
}

/**
 * Checks a provider's parameter definitions and answers them normalised: `fixed` as a string,
 * `required` explicit, and `amount` defined (first) when the merchant did not define it.
 */
export function parseParameterDefinitions(input: unknown, field = 'params'): ParameterDefinition[] {
  if (input === undefined || input === null) return [DEFAULT_AMOUNT];
  if (!Array.isArray(input)) throw invalid(field, `${field} must be an array of parameter definitions {name, type, required, fixed}.`);
  if (input.length > MAX_DEFINITIONS) throw invalid(field, `${field} holds at most ${MAX_DEFINITIONS} definitions.`);
  const definitions = input.map((raw, index): ParameterDefinition => {
    const at = `${field}[${index}]`;
    if (!isRecord(raw)) throw invalid(at, `${at} must be an object {name, type, required, fixed}.`);
    const unknown = Object.keys(raw).find((key) => !['name', 'type', 'required', 'fixed'].includes(key));
    if (unknown) throw invalid(`${at}.${unknown}`, `${at}.${unknown} is not a field of a parameter definition.`);
    if (typeof raw.name !== 'string' || !NAME.test(raw.name)) {
      throw invalid(`${at}.name`, `${at}.name must start with a letter and hold up to 64 letters, digits or underscores.`);
    }
    if (!PARAMETER_TYPES.includes(raw.type as ParameterType)) throw invalid(`${at}.type`, `${at}.type must be one of ${PARAMETER_TYPES.join(', ')}.`);
    if (raw.required !== undefined && typeof raw.required !== 'boolean') throw invalid(`${at}.required`, `${at}.required must be a boolean.`);
    const definition: ParameterDefinition = { name: raw.name, type: raw.type as ParameterType, required: raw.required ?? false };
    if (definition.name === AMOUNT_PARAMETER && definition.type !== 'integer') throw invalid(`${at}.type`, `${at}.type must be integer for amount.`);
    if (raw.fixed !== undefined) {
      const fixed = scalarText(raw.fixed);
      if (fixed === null) throw invalid(`${at}.fixed`, `${at}.fixed must be a string, a safe integer or a boolean.`);
      checkValue(definition, fixed, `${at}.fixed`);
      definition.fixed = fixed;
    } else if (definition.name === AMOUNT_PARAMETER && !definition.required) {
      throw invalid(`${at}.required`, 'The amount is required unless the provider fixes it.');
    }
    return definition;
  });
  const names = new Set<string>();
  for (const [index, definition] of definitions.entries()) {
    if (names.has(definition.name)) throw invalid(`${field}[${index}].name`, `The parameter ${definition.name} is defined twice.`);
    names.add(definition.name);
  }
  return names.has(AMOUNT_PARAMETER) ? definitions : [DEFAULT_AMOUNT, ...definitions];
}

/**
 * Checks a payment's parameters against its provider's definitions; answers the values to store
 * (fixed ones filled in) and the amount they name.
 */
export function validatePaymentParams(
  definitions: ParameterDefinition[],
  input: unknown,
  field = 'params',
): { params: Record<string, string>; amount: bigint } {
  const given = input === undefined || input === null ? {} : input;
  if (!isRecord(given)) throw invalid(field, `${field} must be an object mapping parameter names to string values.`);
  const known = new Set(definitions.map((definition) => definition.name));
  for (const name of Object.keys(given)) {
    if (!known.has(name)) throw invalid(`${field}.${name}`, `${field}.${name} is not a parameter of this provider; it takes ${[...known].join(', ')}.`);
  }
  const params: Record<string, string> = {};
  for (const definition of definitions) {
    const at = `${field}.${definition.name}`;
    const raw = Object.hasOwn(given, definition.name) ? given[definition.name] : undefined;
    let value = raw === undefined || raw === null ? undefined : scalarText(raw);
    if (value === null) throw invalid(at, `${at} must be a string.`);
    if (definition.fixed !== undefined) {
      if (value !== undefined && value !== definition.fixed) throw invalid(at, `${at} is fixed by the provider at "${definition.fixed}".`);
      value = definition.fixed;
    }
    if (value === undefined) {
      if (definition.required) throw invalid(at, `${at} is required.`);
      continue;
    }
    checkValue(definition, value, at);
    params[definition.name] = value;
  }
  return { params, amount: parseAmount(params[AMOUNT_PARAMETER] ?? '', `${field}.${AMOUNT_PARAMETER}`) };
}

/** The legacy document's userId is a number; a string of digits is taken too. */
export function parseUserId(value: unknown, field = 'userId'): bigint {
  const text = typeof value === 'number' ? (Number.isSafeInteger(value) ? String(value) : '') : typeof value === 'string' ? value : '';
  if (!/^\d{1,16}$/.test(text) || BigInt(text) > MAX_SAFE) {
    throw invalid(field, `${field} must be a non-negative integer (a JSON number or a string of digits, at most ${MAX_SAFE}).`);
  }
  return BigInt(text);
}

export function checkReference(reference: string, field = 'reference'): string {
  if (!REFERENCE.test(reference)) {
    throw invalid(field, `${field} must start with a letter or digit and hold up to 64 letters, digits, dots, dashes or underscores.`);
  }
  return reference;
}

export function checkCurrency(currency: string, field = 'currency'): string {
  if (!CURRENCY.test(currency)) throw invalid(field, `${field} must be a three-letter ISO 4217 code in capitals, e.g. IRR.`);
  return currency;
}

export function checkText(value: string, field: string, max: number): string {
  if (value.length > max) throw invalid(field, `${field} has at most ${max} characters.`);
  return value;
}
