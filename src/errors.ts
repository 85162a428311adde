/**
 * One error type for every expected failure, with a stable code. GraphQL returns these as data
 * (result unions) or as errors carrying `extensions.code`; each legacy REST route maps the same
 * codes to its own envelope, with the HTTP status from this one table.
 */
export const errorStatus = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  VALIDATION_FAILED: 400,
  CONFLICT: 409,
  INVALID_STATE_TRANSITION: 409,
  EXPIRED: 409,
  IDEMPOTENCY_KEY_REUSED: 422,
  IDEMPOTENCY_KEY_IN_PROGRESS: 409,
  INSUFFICIENT_FUNDS: 422,
  DUPLICATE_TOKEN: 409,
  CAP_EXCEEDED: 422,
  RATE_LIMITED: 429,
  TOO_MANY_SUBSCRIPTIONS: 429,
  SLOW_CONSUMER: 429,
  GATEWAY_NOT_CONFIGURED: 422,
  GATEWAY_REJECTED: 502,
  GATEWAY_UNAVAILABLE: 503,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof errorStatus;
export const errorCodes = Object.keys(errorStatus) as ErrorCode[];

export class AppError extends Error {
  override readonly name = 'AppError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** The input field at fault, for validation errors, as a dotted path. */
    readonly field: string | null = null,
  ) {
    super(message);
  }

  get status(): number {
    return errorStatus[this.code];
  }
}

/**
 * Missing or insufficient credentials. Kept apart from AppError because it is never a business
 * outcome: GraphQL answers it as an error with HTTP 401/403, not as result data.
 */
export class AccessError extends Error {
  override readonly name = 'AccessError';
  constructor(
    readonly code: 'UNAUTHENTICATED' | 'FORBIDDEN',
    message: string,
  ) {
    super(message);
  }

  get status(): number {
    return errorStatus[this.code];
  }
}

export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found.`);
export const invalid = (field: string, message: string) => new AppError('VALIDATION_FAILED', message, field);
