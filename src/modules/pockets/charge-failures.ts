import type { ErrorCode } from '../../errors.ts';

/** Items per `chargePockets` batch. */
export const MAX_BATCH_SIZE = 1000;
/** The most one charge may move, in minor units of the group's currency (ten billion rials for IRR). */
export const MAX_CHARGE_AMOUNT = 10_000_000_000n;

export const SUCCESS_MESSAGE_FA = 'شارژ با موفقیت انجام شد.';

export type ChargeFailure =
  | 'INVALID_TOKEN'
  | 'DUPLICATE_TOKEN'
  | 'INVALID_PHONE_NUMBER'
  | 'INVALID_AMOUNT'
  | 'AMOUNT_TOO_LARGE'
  | 'CAP_EXCEEDED';

/**
 * Why one item of a batch failed: its platform error code, the input at fault and its message, in
 * English for GraphQL and in Persian as the legacy REST API words it (`توکن تکراری است` is the
 * document's own).
 */
export const CHARGE_FAILURES: Record<ChargeFailure, { code: ErrorCode; field: string; message: string; messageFa: string }> = {
  INVALID_TOKEN: {
    code: 'VALIDATION_FAILED',
    field: 'token',
    message: 'The token must be a UUID version 7 (RFC 9562), e.g. 01988f7a-d22b-7c3d-977f-27af99c2a5a5.',
    messageFa: 'توکن نامعتبر است؛ توکن باید یک UUID نسخه ۷ باشد.',
  },
  DUPLICATE_TOKEN: {
    code: 'DUPLICATE_TOKEN',
    field: 'token',
    message: 'This token was already used; every charge needs a new token.',
    messageFa: 'توکن تکراری است',
  },
  INVALID_PHONE_NUMBER: {
    code: 'VALIDATION_FAILED',
    field: 'phoneNumber',
    message: 'The phone number is not a valid Iranian mobile number, such as 989120000000 or 09120000000.',
    messageFa: 'شماره تلفن نامعتبر است؛ شماره همراه را به شکل 989120000000 یا 09120000000 بفرستید.',
  },
  INVALID_AMOUNT: {
    code: 'VALIDATION_FAILED',
    field: 'amount',
    message: 'The amount must be a positive whole number (minor units, rials for IRR).',
    messageFa: 'مبلغ نامعتبر است؛ مبلغ باید یک عدد صحیح مثبت باشد.',
  },
  AMOUNT_TOO_LARGE: {
    code: 'VALIDATION_FAILED',
    field: 'amount',
    message: `The amount is above the limit of ${MAX_CHARGE_AMOUNT} per charge.`,
    messageFa: `مبلغ بیش از سقف مجاز هر شارژ (${MAX_CHARGE_AMOUNT}) است.`,
  },
  CAP_EXCEEDED: {
    code: 'CAP_EXCEEDED',
    field: 'amount',
    message: "The pocket group's spending cap leaves no room for this charge.",
    messageFa: 'سقف شارژ این گروه جیب پر شده است و این شارژ انجام نشد.',
  },
};

export const isChargeFailure = (value: string): value is ChargeFailure => Object.hasOwn(CHARGE_FAILURES, value);

/**
 * One failed item of a batch: returned as data, never thrown. Deliberately not an Error: GraphQL
 * treats an Error returned by a resolver as a field error, and this is a result.
 */
export class PocketChargeError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly field: string;

  constructor(
    readonly reason: ChargeFailure,
    /** The item's position in the batch, from 0. */
    readonly index: number,
    /** The token as sent, when it was a string (lowercase when valid). */
    readonly token: string | null,
    /** Canonical when valid, otherwise as sent, when it was a string. */
    readonly phoneNumber: string | null,
    /** The amount sent, when it was an integer. */
    readonly amount: bigint | null,
  ) {
    ({ code: this.code, message: this.message, field: this.field } = CHARGE_FAILURES[reason]);
  }

  get messageFa(): string {
    return CHARGE_FAILURES[this.reason].messageFa;
  }
}
