import { AccessError, AppError, type ErrorCode } from '../../errors.ts';

/**
 * Every way a wallet request can fail, with its platform error code (GraphQL's `code`), and the
 * legacy API's numeric code and HTTP status: THE one table the legacy routes answer from.
 */
export const walletFailures = {
  MALFORMED_REQUEST: { code: 'VALIDATION_FAILED', legacy: 1, status: 400 },
  INVALID_WALLET_ID: { code: 'VALIDATION_FAILED', legacy: 2, status: 400 },
  INVALID_AMOUNT: { code: 'VALIDATION_FAILED', legacy: 3, status: 400 },
  INVALID_TXN_CODE: { code: 'VALIDATION_FAILED', legacy: 4, status: 400 },
  INVALID_PAYMENT_MODE: { code: 'VALIDATION_FAILED', legacy: 5, status: 400 },
  INVALID_NOTE: { code: 'VALIDATION_FAILED', legacy: 6, status: 400 },
  INVALID_DEBIT_USER_INFO: { code: 'VALIDATION_FAILED', legacy: 7, status: 400 },
  INVALID_CREDIT_USER_INFO: { code: 'VALIDATION_FAILED', legacy: 8, status: 400 },
  INVALID_CARD_INFO: { code: 'VALIDATION_FAILED', legacy: 9, status: 400 },
  INVALID_PAYMENT_RESPONSE: { code: 'VALIDATION_FAILED', legacy: 10, status: 400 },
  INVALID_DEVICE_INFO: { code: 'VALIDATION_FAILED', legacy: 11, status: 400 },
  INVALID_META_DATA: { code: 'VALIDATION_FAILED', legacy: 12, status: 400 },
  INVALID_CHARGES_INFO: { code: 'VALIDATION_FAILED', legacy: 13, status: 400 },
  CHARGES_CHANGED: { code: 'CONFLICT', legacy: 14, status: 400 },
  FEE_EXCEEDS_AMOUNT: { code: 'VALIDATION_FAILED', legacy: 15, status: 400 },
  REQUEST_ID_REUSED: { code: 'IDEMPOTENCY_KEY_REUSED', legacy: 16, status: 400 },
  REQUEST_IN_PROGRESS: { code: 'IDEMPOTENCY_KEY_IN_PROGRESS', legacy: 17, status: 409 },
  WALLET_NOT_FOUND: { code: 'NOT_FOUND', legacy: 18, status: 404 },
  UNAUTHENTICATED: { code: 'UNAUTHENTICATED', legacy: 19, status: 401 },
  FORBIDDEN: { code: 'FORBIDDEN', legacy: 20, status: 403 },
  COMPANY_MISMATCH: { code: 'FORBIDDEN', legacy: 21, status: 403 },
  INTERNAL: { code: 'INTERNAL', legacy: 99, status: 500 },
} as const satisfies Record<string, { code: ErrorCode; legacy: number; status: 400 | 401 | 403 | 404 | 409 | 500 }>;

export type WalletFailure = keyof typeof walletFailures;

/** An AppError that also names its wallet failure, so the legacy routes pick the exact code. */
export class WalletError extends AppError {
  constructor(
    readonly failure: WalletFailure,
    message: string,
    field: string | null = null,
  ) {
    super(walletFailures[failure].code, message, field);
  }
}

/** The wallet failure of any error a wallet route may see. */
export function walletFailureOf(error: unknown): WalletFailure {
  if (error instanceof WalletError) return error.failure;
  if (error instanceof AppError || error instanceof AccessError) {
    switch (error.code) {
      case 'IDEMPOTENCY_KEY_REUSED':
        return 'REQUEST_ID_REUSED';
      case 'IDEMPOTENCY_KEY_IN_PROGRESS':
        return 'REQUEST_IN_PROGRESS';
      case 'NOT_FOUND':
        return 'WALLET_NOT_FOUND';
      case 'UNAUTHENTICATED':
        return 'UNAUTHENTICATED';
      case 'FORBIDDEN':
        return 'FORBIDDEN';
      case 'VALIDATION_FAILED':
        return 'MALFORMED_REQUEST';
      default:
        return 'INTERNAL';
    }
  }
  return 'INTERNAL';
}
