/**
 * The contract between the invoice service and a payment gateway, the typed errors a connector
 * throws, and the transport rules every connector shares (POST with a timeout, always parse the
 * body, anything unreadable means "gateway unavailable").
 */

export type GatewayName = 'zarinpal' | 'shepa';

export interface PaymentRequest {
  /** IRR rials. */
  amount: bigint;
  callbackUrl: string;
  description: string;
  mobile?: string;
  email?: string;
  orderId: string;
}

export interface PaymentRedirect {
  /** Zarinpal's Authority or Shepa's token: the key the callback, verify and refund use. */
  authority: string;
  /** Where to send the payer's browser (GET). */
  redirectUrl: string;
  raw: unknown;
}

export interface CallbackParams {
  authority: string;
  /** The gateway says the payer paid; only then is verify worth calling. */
  success: boolean;
}

export type VerifyOutcome = 'verified' | 'already_verified' | 'failed' | 'amount_mismatch';

export interface VerifyInput {
  authority: string;
  /** The amount stored when the payment was requested, never one read from the callback. */
  amount: bigint;
}

export interface VerifyResult {
  outcome: VerifyOutcome;
  refId?: string;
  /** Masked, e.g. 502229******5995. */
  cardPan?: string;
  /** The amount the gateway confirms was paid. */
  verifiedAmount?: bigint;
  /** Shepa's transaction_id, which its refund call needs. */
  transactionId?: string;
  /** The gateway's own result code when it gave one, e.g. '100', '-51'. */
  gatewayCode?: string;
  raw: unknown;
}

export interface RefundInput {
  authority: string;
  amount: bigint;
  refId?: string;
  /** Required by Shepa: the transactionId its verify returned. */
  transactionId?: string;
  /**
   * Zarinpal: `reverse` (the whole payment, fee-free, within 30 minutes of payment; the default)
   * or `refund` (GraphQL AddRefund: any amount from 20,000 rials, any time, needs a panel token).
   */
  method?: 'reverse' | 'refund';
  /** Refunds of this payment the gateway already confirmed, IRR rials (tells a new refund from old ones). */
  refundedBefore?: bigint;
}

export interface RefundResult {
  outcome: 'refunded' | 'failed';
  /** The gateway's tracking reference for the refund, when it gives one. */
  reference?: string;
  gatewayCode?: string;
  raw: unknown;
}

export interface UnverifiedPayment {
  authority: string;
  amount: bigint;
  callbackUrl: string;
  /** As the gateway prints it: "YYYY-MM-DD HH:MM:SS". */
  date: string;
}

export type InquiryStatus = 'VERIFIED' | 'PAID' | 'IN_BANK' | 'FAILED' | 'REVERSED';

/**
 * What a gateway says of a refund asked earlier whose answer was lost: it happened, or it did
 * not (so asking again is safe only if `refundRepeatable`).
 */
export type RefundStatus = 'refunded' | 'not_refunded';

export interface InquiryResult {
  status: InquiryStatus;
  raw: unknown;
}

/**
 * What a gateway call can end in:
 * - a result value for every answer about the payment itself (failed, amount_mismatch, ...);
 * - GatewayUnavailableError when there was no usable answer (network, timeout, garbage): the
 *   payment's state is unknown, so leave it for reconciliation;
 * - GatewayRejectedError when the gateway refused the call for reasons that say nothing about
 *   the payment (bad merchant, rate limit, validation): also leave the payment as it is;
 * - InvalidGatewayRequestError when the input cannot be sent at all; nothing left this process.
 */
export interface GatewayConnector {
  readonly name: GatewayName;
  requestPayment(request: PaymentRequest): Promise<PaymentRedirect>;
  /** null when the query is not a callback of this gateway. */
  parseCallback(query: URLSearchParams): CallbackParams | null;
  verify(input: VerifyInput): Promise<VerifyResult>;
  refund(input: RefundInput): Promise<RefundResult>;
  /**
   * True when asking for the same refund twice cannot pay the payer twice (Zarinpal's reverse
   * returns whole payments only, and a repeat answers -61), so a refund whose answer was lost may
   * be asked again once `refundStatus` says it did not happen.
   */
  refundRepeatable(input: RefundInput): boolean;
  /** The gateway's view of an earlier refund (Zarinpal only; Shepa has no way to ask). */
  refundStatus?(input: RefundInput): Promise<RefundStatus>;
  /** Paid but not yet verified payments, most recent first (Zarinpal only). */
  listUnverified?(): Promise<UnverifiedPayment[]>;
  /** The gateway's view of one payment, for reconciliation (Zarinpal only). */
  inquire?(input: { authority: string }): Promise<InquiryResult>;
}

export abstract class GatewayError extends Error {
  abstract readonly code: string;

  constructor(
    readonly gateway: GatewayName,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export type UnavailableReason = 'timeout' | 'network' | 'bad_response';

export class GatewayUnavailableError extends GatewayError {
  readonly code = 'GATEWAY_UNAVAILABLE';

  constructor(
    gateway: GatewayName,
    readonly reason: UnavailableReason,
    message: string,
    options?: ErrorOptions,
  ) {
    super(gateway, message, options);
  }
}

export class GatewayRejectedError extends GatewayError {
  readonly code = 'GATEWAY_REJECTED';

  constructor(
    gateway: GatewayName,
    readonly gatewayCode: string,
    message: string,
    readonly raw: unknown,
  ) {
    super(gateway, message);
  }
}

export class InvalidGatewayRequestError extends GatewayError {
  readonly code = 'INVALID_GATEWAY_REQUEST';
}

/** Amounts travel as JSON numbers in Zarinpal's protocol, so they must survive the conversion. */
export function toJsonAmount(gateway: GatewayName, amount: bigint): number {
  if (amount <= 0n || amount > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new InvalidGatewayRequestError(gateway, `amount ${amount} is not a positive safe integer`);
  }
  return Number(amount);
}

export interface GatewayHttpAnswer {
  status: number;
  body: unknown;
}

export type GatewayRequestBody = { json: Record<string, unknown> } | { form: Record<string, string> };

/**
 * POSTs and returns the parsed JSON body whatever the HTTP status: both gateways put their error
 * codes in the body, sometimes with a non-2xx status.
 */
export async function postToGateway(
  gateway: GatewayName,
  url: string,
  body: GatewayRequestBody,
  timeoutMs: number,
  headers: Record<string, string> = {},
): Promise<GatewayHttpAnswer> {
  const [payload, contentType] =
    'json' in body
      ? [JSON.stringify(body.json), 'application/json']
      : [new URLSearchParams(body.form).toString(), 'application/x-www-form-urlencoded'];
  let status: number;
  let text: string;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': contentType, accept: 'application/json' },
      body: payload,
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
    });
    status = response.status;
    text = await response.text();
  } catch (error) {
    const timedOut = (error as { name?: unknown } | null)?.name === 'TimeoutError';
    throw new GatewayUnavailableError(
      gateway,
      timedOut ? 'timeout' : 'network',
      timedOut ? `${gateway}: no answer from ${url} within ${timeoutMs} ms` : `${gateway}: request to ${url} failed`,
      { cause: error },
    );
  }
  try {
    return { status, body: JSON.parse(text) as unknown };
  } catch (error) {
    throw new GatewayUnavailableError(gateway, 'bad_response', `${gateway}: HTTP ${status} from ${url} is not JSON`, {
      cause: error,
    });
  }
}

export function trimTrailingSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
