/**
 * Input checks shared by the legacy REST routes and GraphQL. Every failing field is reported at
 * once, as the legacy 406 body does: `{"description": ["Description is required"], ...}`, keyed
 * by the legacy (snake_case, dotted) field names.
 */
import { AppError } from '../../errors.ts';
import { parseCpfCnpj } from './cpf-cnpj.ts';
import { parseLegacyDate, type IsoDate } from './dates.ts';
import { CHARGE_TYPES, type ChargeType } from './model.ts';
import { MAX_CENTAVOS, parseBrlAmount, formatBrlAmount } from './money.ts';
import {
  INTERVALS,
  installmentSchedule,
  MAX_FREQUENCY,
  MAX_INSTALLMENTS,
  MIN_FREQUENCY,
  MIN_INSTALLMENTS,
  type Interval,
} from './schedule.ts';

export type FieldErrors = Record<string, string[]>;

/**
 * A rejected charge input: every failing field (by its legacy name) with its messages; a
 * CONFLICT when the input is valid but the charge's state refuses it now.
 */
export class ChargeInputError extends AppError {
  constructor(
    readonly fields: FieldErrors,
    code: 'VALIDATION_FAILED' | 'CONFLICT' = 'VALIDATION_FAILED',
  ) {
    const [first] = Object.keys(fields);
    super(
      code,
      Object.values(fields)
        .flat()
        .join('; '),
      first ? graphqlFieldPath(first) : null,
    );
  }
}

/** `customer.cpf_cnpj` → `customer.cpfCnpj`: the GraphQL input's name for a legacy field. */
export function graphqlFieldPath(legacyField: string): string {
  return legacyField
    .split('.')
    .map((segment) => segment.replace(/_([a-z])/g, (_match, letter: string) => letter.toUpperCase()))
    .join('.');
}

export const MAX_DESCRIPTION = 1000;
export const MAX_CUSTOMER_NAME = 100;
export const MAX_EMAIL = 50;
export const MAX_CALLBACK_URL = 255;
export const MAX_CARD_TOKEN = 100;

export interface CustomerDraft {
  name: string;
  /** Normalised. */
  cpfCnpj: string | null;
  /** Digits. */
  phone: string | null;
  email: string | null;
}

export interface ChargeDraft {
  amount: bigint;
  description: string;
  dueDate: IsoDate;
  type: ChargeType;
  interval: Interval;
  frequency: number;
  installments: number;
  lastChargeDate: IsoDate | null;
  callbackUrl: string | null;
  autoDebit: boolean;
  isActive: boolean;
  /** Either an inline customer (found again by CPF/CNPJ) or an existing customer's id. */
  customer: CustomerDraft | null;
  customerId: number | null;
  cardToken: string | null;
}

/** What an update may change; absent fields stay as they are, null clears an optional one. */
export interface ChargeChanges {
  amount?: bigint;
  description?: string;
  dueDate?: IsoDate;
  lastChargeDate?: IsoDate | null;
  callbackUrl?: string | null;
  autoDebit?: boolean;
  isActive?: boolean;
  cardToken?: string | null;
}

/** Answers an error message for a callback URL we must not call, or null when it may be used. */
export type CallbackUrlCheck = (url: string) => Promise<string | null>;

const CREATE_FIELDS = [
  'amount',
  'description',
  'due_date',
  'frequency',
  'interval',
  'type',
  'last_charge_date',
  'callback_url',
  'auto_debit',
  'installments',
  'is_active',
  'customer',
  'customer_id',
  'card_token',
] as const;
const UPDATE_FIELDS = ['amount', 'description', 'due_date', 'last_charge_date', 'callback_url', 'auto_debit', 'is_active', 'card_token'] as const;
const CUSTOMER_FIELDS = ['name', 'cpf_cnpj', 'phone', 'email'] as const;

/** Fields GraphQL takes but the legacy document does not: the REST routes refuse them. */
export const GRAPHQL_ONLY_FIELDS = ['customer_id', 'card_token'] as const;

const LABELS: Record<string, string> = {
  amount: 'Amount',
  description: 'Description',
  due_date: 'Due date',
  frequency: 'Frequency',
  interval: 'Interval',
  type: 'Type',
  last_charge_date: 'Last charge date',
  callback_url: 'Callback url',
  auto_debit: 'Auto debit',
  installments: 'Installments',
  is_active: 'Is active',
  customer: 'Customer',
  customer_id: 'Customer id',
  card_token: 'Card token',
  'customer.name': 'Customer name',
  'customer.cpf_cnpj': 'Customer CPF/CNPJ',
  'customer.phone': 'Customer phone',
  'customer.email': 'Customer email',
};

const label = (field: string) => LABELS[field] ?? field;

class Collector {
  readonly errors: FieldErrors = {};
  add(field: string, message: string): undefined {
    (this.errors[field] ??= []).push(message);
    return undefined;
  }
  get failed(): boolean {
    return Object.keys(this.errors).length > 0;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

function text(errors: Collector, field: string, value: unknown, max: number): string | undefined {
  if (typeof value !== 'string') return errors.add(field, `${label(field)} must be a string`);
  const trimmed = value.trim();
  if (trimmed === '') return errors.add(field, `${label(field)} is required`);
  if ([...trimmed].length > max) return errors.add(field, `${label(field)} must have at most ${max} characters`);
  return trimmed;
}

function amount(errors: Collector, field: string, value: unknown): bigint | undefined {
  if (typeof value === 'bigint') {
    if (value <= 0n) return errors.add(field, `${label(field)} must be greater than zero`);
    if (value > MAX_CENTAVOS) return errors.add(field, `${label(field)} must be at most ${formatBrlAmount(MAX_CENTAVOS)}`);
    return value;
  }
  const parsed = parseBrlAmount(value);
  return parsed.ok ? parsed.centavos : errors.add(field, parsed.message);
}

function date(errors: Collector, field: string, value: unknown): IsoDate | undefined {
  const parsed = parseLegacyDate(value);
  return parsed.ok ? parsed.date : errors.add(field, parsed.message.replace(/^Date/, label(field)));
}

function integer(errors: Collector, field: string, value: unknown, min: number, max: number): number | undefined {
  const number = typeof value === 'string' && /^\d{1,3}$/.test(value.trim()) ? Number(value.trim()) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
    return errors.add(field, `${label(field)} must be an integer from ${min} to ${max}`);
  }
  return number;
}

/** JSON booleans, and the 0/1 and "true"/"false" forms PHP clients send. */
function boolean(errors: Collector, field: string, value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (value === 1 || value === '1' || value === 'true') return true;
  if (value === 0 || value === '0' || value === 'false') return false;
  return errors.add(field, `${label(field)} must be true or false`);
}

function oneOf<T extends string>(errors: Collector, field: string, value: unknown, values: readonly T[]): T | undefined {
  if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as T;
  return errors.add(field, `${label(field)} must be ${values.slice(0, -1).join(', ')} or ${values.at(-1)}`);
}

async function callbackUrl(errors: Collector, value: unknown, check: CallbackUrlCheck): Promise<string | null | undefined> {
  if (value === null || value === '') return null;
  if (typeof value !== 'string') return errors.add('callback_url', 'Callback url must be a string');
  if (value.length > MAX_CALLBACK_URL) return errors.add('callback_url', `Callback url must have at most ${MAX_CALLBACK_URL} characters`);
  const refusal = await check(value);
  return refusal === null ? value : errors.add('callback_url', refusal);
}

function cardToken(errors: Collector, value: unknown): string | null | undefined {
  if (value === null || value === '') return null;
  if (typeof value !== 'string' || !/^[\w-]{1,100}$/.test(value)) {
    return errors.add('card_token', `Card token must be 1 to ${MAX_CARD_TOKEN} letters, digits, _ or -`);
  }
  return value;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function customer(errors: Collector, value: unknown): CustomerDraft | undefined {
  if (!isRecord(value)) return errors.add('customer', 'Customer must be an object');
  for (const key of Object.keys(value)) {
    if (!(CUSTOMER_FIELDS as readonly string[]).includes(key)) errors.add(`customer.${key}`, `customer.${key} is not an accepted field`);
  }
  const name = value.name === undefined || value.name === null ? errors.add('customer.name', 'Customer name is required') : text(errors, 'customer.name', value.name, MAX_CUSTOMER_NAME);
  let cpfCnpj: string | null | undefined = null;
  if (value.cpf_cnpj !== undefined && value.cpf_cnpj !== null && value.cpf_cnpj !== '') {
    const parsed = parseCpfCnpj(value.cpf_cnpj);
    cpfCnpj = parsed.ok ? parsed.normalized : errors.add('customer.cpf_cnpj', parsed.message);
  }
  let phone: string | null | undefined = null;
  if (value.phone !== undefined && value.phone !== null && value.phone !== '') {
    const digits = typeof value.phone === 'string' ? value.phone.replace(/[\s().-]/g, '') : '';
    phone = /^\d{10,11}$/.test(digits) ? digits : errors.add('customer.phone', 'Customer phone must have 10 or 11 digits (area code and number)');
  }
  let email: string | null | undefined = null;
  if (value.email !== undefined && value.email !== null && value.email !== '') {
    if (typeof value.email !== 'string' || !EMAIL.test(value.email.trim())) {
      email = errors.add('customer.email', 'Customer email must be a valid email address');
    } else if (value.email.trim().length > MAX_EMAIL) {
      email = errors.add('customer.email', `Customer email must have at most ${MAX_EMAIL} characters`);
    } else {
      email = value.email.trim().toLowerCase();
    }
  }
  if (name === undefined || cpfCnpj === undefined || phone === undefined || email === undefined) return undefined;
  return { name, cpfCnpj, phone, email };
}

function unknownFields(errors: Collector, body: Record<string, unknown>, allowed: readonly string[], createOnly: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (allowed.includes(key)) continue;
    if (createOnly.includes(key)) errors.add(key, `${label(key)} cannot be changed after the charge is created`);
    else errors.add(key, `${key} is not an accepted field`);
  }
}

const present = (value: unknown) => value !== undefined;

/**
 * A new charge. Defaults as the legacy document gives them: type normal, interval month,
 * frequency 1, one installment, active, no auto-debit.
 */
export async function validateNewCharge(
  body: unknown,
  options: { checkCallbackUrl: CallbackUrlCheck; legacy: boolean },
): Promise<ChargeDraft> {
  const errors = new Collector();
  if (!isRecord(body)) throw new ChargeInputError({ body: ['The body must be a JSON object'] });
  const allowed = options.legacy ? CREATE_FIELDS.filter((field) => !(GRAPHQL_ONLY_FIELDS as readonly string[]).includes(field)) : CREATE_FIELDS;
  unknownFields(errors, body, allowed, []);

  const required = (field: string) => (present(body[field]) && body[field] !== null ? true : errors.add(field, `${label(field)} is required`));
  const draft: Partial<ChargeDraft> = {
    amount: required('amount') && amount(errors, 'amount', body.amount),
    description: required('description') && text(errors, 'description', body.description, MAX_DESCRIPTION),
    dueDate: required('due_date') && date(errors, 'due_date', body.due_date),
    type: present(body.type) ? oneOf(errors, 'type', body.type, CHARGE_TYPES) : 'normal',
    interval: present(body.interval) ? oneOf(errors, 'interval', body.interval, INTERVALS) : 'month',
    frequency: present(body.frequency) ? integer(errors, 'frequency', body.frequency, MIN_FREQUENCY, MAX_FREQUENCY) : 1,
    installments: present(body.installments) ? integer(errors, 'installments', body.installments, MIN_INSTALLMENTS, MAX_INSTALLMENTS) : 1,
    lastChargeDate: present(body.last_charge_date) && body.last_charge_date !== null && body.last_charge_date !== '' ? date(errors, 'last_charge_date', body.last_charge_date) : null,
    callbackUrl: present(body.callback_url) ? await callbackUrl(errors, body.callback_url, options.checkCallbackUrl) : null,
    autoDebit: present(body.auto_debit) ? boolean(errors, 'auto_debit', body.auto_debit) : false,
    isActive: present(body.is_active) ? boolean(errors, 'is_active', body.is_active) : true,
    cardToken: present(body.card_token) ? cardToken(errors, body.card_token) : null,
    customer: null,
    customerId: null,
  };
  if (!options.legacy && present(body.customer_id) && body.customer_id !== null) {
    const id = typeof body.customer_id === 'number' ? String(body.customer_id) : body.customer_id;
    draft.customerId =
      typeof id === 'string' && /^\d{1,10}$/.test(id) && Number(id) >= 1 && Number(id) <= 2_147_483_647
        ? Number(id)
        : errors.add('customer_id', 'Customer id must be the id of one of your customers');
    if (present(body.customer) && body.customer !== null) errors.add('customer', 'Give either customer or customer_id, not both');
  } else if (required('customer')) {
    draft.customer = customer(errors, body.customer);
  }

  const { amount: total, dueDate, lastChargeDate, installments, interval, frequency, type } = draft;
  if (dueDate && lastChargeDate && lastChargeDate < dueDate) {
    errors.add('last_charge_date', 'Last charge date must not be before the due date');
  }
  if (type === 'normal' && total !== undefined && dueDate && installments !== undefined && interval && frequency !== undefined) {
    const schedule = installmentSchedule({ total, firstDueDate: dueDate, installments, interval, frequency });
    if (!schedule.ok && schedule.reason === 'amount_below_installments') {
      errors.add('installments', `Amount of ${formatBrlAmount(total)} cannot be split into ${installments} installments of at least 0.01`);
    } else if (!schedule.ok) {
      errors.add('due_date', schedule.message);
    }
  }
  if (errors.failed) throw new ChargeInputError(errors.errors);
  return draft as ChargeDraft;
}

/** A partial update: only the fields present change. */
export async function validateChargeChanges(
  body: unknown,
  options: { checkCallbackUrl: CallbackUrlCheck; legacy: boolean },
): Promise<ChargeChanges> {
  const errors = new Collector();
  if (!isRecord(body)) throw new ChargeInputError({ body: ['The body must be a JSON object'] });
  const graphqlOnly = (field: string) => options.legacy && (GRAPHQL_ONLY_FIELDS as readonly string[]).includes(field);
  const allowed = UPDATE_FIELDS.filter((field) => !graphqlOnly(field));
  unknownFields(errors, body, allowed, CREATE_FIELDS.filter((field) => !graphqlOnly(field)));
  const changes: ChargeChanges = {};
  const nonNull = (field: string) => (body[field] === null ? errors.add(field, `${label(field)} must not be empty`) : true);
  if (present(body.amount) && nonNull('amount')) changes.amount = amount(errors, 'amount', body.amount);
  if (present(body.description) && nonNull('description')) changes.description = text(errors, 'description', body.description, MAX_DESCRIPTION);
  if (present(body.due_date) && nonNull('due_date')) changes.dueDate = date(errors, 'due_date', body.due_date);
  if (present(body.last_charge_date)) {
    changes.lastChargeDate = body.last_charge_date === null || body.last_charge_date === '' ? null : date(errors, 'last_charge_date', body.last_charge_date);
  }
  if (present(body.callback_url)) changes.callbackUrl = await callbackUrl(errors, body.callback_url, options.checkCallbackUrl);
  if (present(body.auto_debit) && nonNull('auto_debit')) changes.autoDebit = boolean(errors, 'auto_debit', body.auto_debit);
  if (present(body.is_active) && nonNull('is_active')) changes.isActive = boolean(errors, 'is_active', body.is_active);
  if (present(body.card_token) && !graphqlOnly('card_token')) changes.cardToken = cardToken(errors, body.card_token);
  if (errors.failed) throw new ChargeInputError(errors.errors);
  return changes;
}

/** For checks that need the stored charge: one failing field, in the same shape. */
export const fieldError = (field: string, message: string) => new ChargeInputError({ [field]: [message] });
