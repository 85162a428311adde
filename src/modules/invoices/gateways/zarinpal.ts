/**
 * Zarinpal REST v4 (docs at zarinpal.com/docs/paymentGateway, official PHP SDK
 * ZarinPal/zarinpal-php-sdk @252c6f7). Every call is a JSON POST under /pg/v4/payment/ carrying
 * merchant_id; answers are {data, errors} with the code in data.code on success and in
 * errors.code on failure.
 *
 * Refunds other than a whole-payment reverse go through Zarinpal's GraphQL API (docs
 * zarinpal.com/docs/apiDocs/query/refund and .../query/session; the SDK's RefundRequest and
 * TransactionListRequest): AddRefund(session_id, amount, description, method, reason) with a
 * panel access token as Bearer, where session_id is Zarinpal's transaction number, found with the
 * Session query by the verify's ref_id.
 */
import { z } from 'zod';
import {
  GatewayRejectedError,
  GatewayUnavailableError,
  InvalidGatewayRequestError,
  postToGateway,
  toJsonAmount,
  trimTrailingSlash,
} from './types.ts';
import type {
  CallbackParams,
  GatewayConnector,
  InquiryResult,
  PaymentRedirect,
  PaymentRequest,
  RefundInput,
  RefundResult,
  RefundStatus,
  UnverifiedPayment,
  VerifyInput,
  VerifyResult,
} from './types.ts';

export const zarinpalHosts = {
  production: 'https://payment.zarinpal.com',
  sandbox: 'https://sandbox.zarinpal.com',
} as const;

export interface ZarinpalOptions {
  /** e.g. zarinpalHosts.production; the /pg/v4/payment/... paths are appended. */
  baseUrl: string;
  /** The terminal's 36-character merchant_id (any UUID on Zarinpal's sandbox). */
  merchantId: string;
  timeoutMs: number;
  /** Host of /pg/StartPay/{authority}; defaults to baseUrl. */
  startPayBaseUrl?: string;
  /** For refunds through the GraphQL API (AddRefund); without it only `reverse` is possible. */
  refunds?: ZarinpalRefundOptions;
}

export interface ZarinpalRefundOptions {
  /** e.g. https://next.zarinpal.com/api/v4/graphql/ */
  graphqlUrl: string;
  /** A panel-issued access token (not the merchant_id). */
  accessToken: string;
  /** The terminal's id, which the Session query requires. */
  terminalId: string;
}

/** AddRefund's floor (docs and SDK: at least 20,000 rials). */
export const ZARINPAL_MIN_REFUND = 20_000n;

const ADD_REFUND = `mutation AddRefund($session_id: ID!, $amount: BigInteger!, $description: String, $method: InstantPayoutActionTypeEnum, $reason: RefundReasonEnum) {
  resource: AddRefund(session_id: $session_id, amount: $amount, description: $description, method: $method, reason: $reason) {
    terminal_id id amount timeline { refund_amount refund_time refund_status }
  }
}`;

// Session's filters are the SDK's; looking a payment up by reference_id = ref_id, and reading
// the refunded total from timeline.refund_amount (the shape AddRefund answers), are inferences
// from the documentation, not documented promises.
const SESSIONS = `query Sessions($terminal_id: ID!, $id: ID, $reference_id: String) {
  Session(terminal_id: $terminal_id, id: $id, reference_id: $reference_id) {
    id status amount timeline { refund_amount refund_time refund_status }
  }
}`;

const graphqlAmount = z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)]).transform((value) => BigInt(value));
const sessionShape = z.object({
  id: z.union([z.string().min(1), z.number().int()]).transform(String),
  amount: graphqlAmount.nullish(),
  timeline: z.object({ refund_amount: graphqlAmount.nullish() }).nullish(),
});
const graphqlErrors = z.object({ errors: z.array(z.object({ message: z.string() }).passthrough()).min(1) });

export const ZARINPAL_AUTHORITY = /^[AS][0-9a-zA-Z]{35}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const errorEnvelope = z.object({
  errors: z.object({ code: z.number().int(), message: z.string() }),
});

const requestData = z.object({
  code: z.literal(100),
  message: z.string(),
  authority: z.string().regex(ZARINPAL_AUTHORITY),
  fee_type: z.string().optional(),
  fee: z.number().optional(),
});

const verifyData = z.object({
  code: z.literal([100, 101]),
  message: z.string(),
  ref_id: z.number().int().nonnegative(),
  card_pan: z.string().nullish(),
  card_hash: z.string().nullish(),
  fee_type: z.string().nullish(),
  fee: z.number().nullish(),
});

const unverifiedData = z.object({
  code: z.literal(100),
  message: z.string(),
  authorities: z.array(
    z.object({
      authority: z.string().min(1),
      amount: z.number().int().positive(),
      callback_url: z.string(),
      referer: z.string().nullish(),
      date: z.string(),
    }),
  ),
});

const inquiryData = z.object({
  code: z.literal(100),
  message: z.string(),
  status: z.enum(['VERIFIED', 'PAID', 'IN_BANK', 'FAILED', 'REVERSED']),
});

const reverseData = z.object({ code: z.literal(100), message: z.string() });

type ZarinpalAnswer<T> = { ok: true; data: T; raw: unknown } | { ok: false; code: number; message: string; raw: unknown };

export class ZarinpalConnector implements GatewayConnector {
  readonly name = 'zarinpal';
  /** A reverse returns the whole payment or nothing; an AddRefund of an amount could happen twice. */
  refundRepeatable(input: RefundInput): boolean {
    return (input.method ?? 'reverse') === 'reverse';
  }
  private readonly baseUrl: string;
  private readonly startPayBaseUrl: string;

  constructor(private readonly options: ZarinpalOptions) {
    if (!UUID.test(options.merchantId)) {
      throw new InvalidGatewayRequestError('zarinpal', 'merchantId must be a 36-character UUID');
    }
    this.baseUrl = trimTrailingSlash(options.baseUrl);
    this.startPayBaseUrl = trimTrailingSlash(options.startPayBaseUrl ?? options.baseUrl);
  }

  async requestPayment(request: PaymentRequest): Promise<PaymentRedirect> {
    const metadata: Record<string, string> = { order_id: request.orderId };
    if (request.mobile !== undefined) metadata.mobile = nationalMobile(request.mobile);
    if (request.email !== undefined) metadata.email = request.email;
    const answer = await this.call(
      'request.json',
      {
        amount: toJsonAmount('zarinpal', request.amount),
        // Our amounts are rials; the SDK's default is IRR too, but saying so guards against a panel set to toman.
        currency: 'IRR',
        description: request.description,
        callback_url: request.callbackUrl,
        metadata,
      },
      requestData,
    );
    if (!answer.ok) throw this.rejected('request', answer);
    const { authority } = answer.data;
    return { authority, redirectUrl: `${this.startPayBaseUrl}/pg/StartPay/${authority}`, raw: answer.raw };
  }

  parseCallback(query: URLSearchParams): CallbackParams | null {
    const authority = query.get('Authority');
    const status = query.get('Status');
    if (authority === null || !ZARINPAL_AUTHORITY.test(authority)) return null;
    if (status !== 'OK' && status !== 'NOK') return null;
    return { authority, success: status === 'OK' };
  }

  async verify({ authority, amount }: VerifyInput): Promise<VerifyResult> {
    const answer = await this.call('verify.json', { authority, amount: toJsonAmount('zarinpal', amount) }, verifyData);
    if (answer.ok) {
      const { data } = answer;
      return {
        outcome: data.code === 100 ? 'verified' : 'already_verified',
        refId: String(data.ref_id),
        cardPan: data.card_pan ?? undefined,
        // Zarinpal does not echo the amount; it answers -50 unless ours equals the paid one.
        verifiedAmount: amount,
        gatewayCode: String(data.code),
        raw: answer.raw,
      };
    }
    switch (answer.code) {
      case -50:
        return { outcome: 'amount_mismatch', gatewayCode: '-50', raw: answer.raw };
      case -51: // payment not successful
      case -53: // the session belongs to another merchant
      case -54: // invalid authority
        return { outcome: 'failed', gatewayCode: String(answer.code), raw: answer.raw };
      default:
        throw this.rejected('verify', answer);
    }
  }

  /**
   * Uses reverse.json (docs: paymentGateway/moreFeatures/reverse): a fee-free return of the WHOLE
   * payment, allowed within 30 minutes of payment (-63 after), authenticated by merchant_id alone.
   * It takes no amount, so callers must only ask for full refunds. Later or partial refunds need
   * the GraphQL AddRefund mutation, which requires a panel access token and Zarinpal's session id;
   * this connector does not do that.
   */
  async refund(input: RefundInput): Promise<RefundResult> {
    if (input.method === 'refund') return this.addRefund(input);
    const { authority } = input;
    const answer = await this.call('reverse.json', { authority }, reverseData);
    if (answer.ok) return { outcome: 'refunded', gatewayCode: String(answer.data.code), raw: answer.raw };
    switch (answer.code) {
      case -53:
      case -54:
      case -60: // the bank refused the reverse
      case -61: // not successful, or already reversed
      case -63: // past the 30-minute window
        return { outcome: 'failed', gatewayCode: String(answer.code), raw: answer.raw };
      default:
        throw this.rejected('reverse', answer);
    }
  }

  /**
   * A reverse shows in the payment's inquiry as REVERSED. An AddRefund shows in the session's
   * refunded total: it happened when that covers the refunds confirmed before plus this one.
   */
  async refundStatus(input: RefundInput): Promise<RefundStatus> {
    if (input.method !== 'refund') {
      return (await this.inquire({ authority: input.authority })).status === 'REVERSED' ? 'refunded' : 'not_refunded';
    }
    const session = await this.findSession(input);
    const refunded = session.timeline?.refund_amount ?? 0n;
    return refunded >= (input.refundedBefore ?? 0n) + input.amount ? 'refunded' : 'not_refunded';
  }

  /** Whether partial and late refunds are possible: a panel access token and terminal are configured. */
  get canRefundInPart(): boolean {
    return this.options.refunds !== undefined;
  }

  private async addRefund(input: RefundInput): Promise<RefundResult> {
    if (input.amount < ZARINPAL_MIN_REFUND) {
      throw new InvalidGatewayRequestError('zarinpal', `AddRefund takes at least ${ZARINPAL_MIN_REFUND} rials`);
    }
    const session = await this.findSession(input);
    const answer = await this.graphql(ADD_REFUND, {
      session_id: session.id,
      amount: toJsonAmount('zarinpal', input.amount),
      description: `Refund of payment ${input.refId ?? input.authority}`,
      // CARD: returned to the payer's card at once, rather than at the next Paya cycle.
      method: 'CARD',
      reason: 'CUSTOMER_REQUEST',
    });
    if (!answer.ok) return { outcome: 'failed', gatewayCode: 'graphql', raw: answer.raw };
    const parsed = z.object({ resource: sessionShape }).safeParse(answer.data);
    if (!parsed.success) {
      throw new GatewayUnavailableError('zarinpal', 'bad_response', 'zarinpal AddRefund: unexpected answer', { cause: parsed.error });
    }
    return { outcome: 'refunded', reference: parsed.data.resource.id, raw: answer.raw };
  }

  /** Zarinpal's transaction (session) of a verified payment, by the ref_id its verify gave. */
  private async findSession(input: RefundInput): Promise<z.infer<typeof sessionShape>> {
    if (input.refId === undefined) throw new InvalidGatewayRequestError('zarinpal', 'a refund needs the ref_id returned by verify');
    const terminalId = this.refundOptions().terminalId;
    const answer = await this.graphql(SESSIONS, { terminal_id: terminalId, reference_id: input.refId });
    if (!answer.ok) throw new GatewayRejectedError('zarinpal', 'graphql', `zarinpal Session: ${answer.message}`, answer.raw);
    const parsed = z.object({ Session: z.array(sessionShape) }).safeParse(answer.data);
    if (!parsed.success) {
      throw new GatewayUnavailableError('zarinpal', 'bad_response', 'zarinpal Session: unexpected answer', { cause: parsed.error });
    }
    const [session] = parsed.data.Session;
    if (!session) throw new GatewayRejectedError('zarinpal', 'not_found', `zarinpal Session: no transaction with reference ${input.refId}`, answer.raw);
    return session;
  }

  private refundOptions(): ZarinpalRefundOptions {
    if (!this.options.refunds) {
      throw new InvalidGatewayRequestError('zarinpal', 'refunds other than a reverse need a panel access token and terminal id');
    }
    return this.options.refunds;
  }

  /** A GraphQL POST: {data} on success, {errors:[{message}]} on failure, whatever the HTTP status. */
  private async graphql(
    query: string,
    variables: Record<string, unknown>,
  ): Promise<{ ok: true; data: unknown; raw: unknown } | { ok: false; message: string; raw: unknown }> {
    const { graphqlUrl, accessToken } = this.refundOptions();
    const answer = await postToGateway(
      'zarinpal',
      graphqlUrl,
      { json: { query, variables } },
      this.options.timeoutMs,
      { authorization: `Bearer ${accessToken}` },
    );
    const failed = graphqlErrors.safeParse(answer.body);
    if (failed.success) return { ok: false, message: failed.data.errors.map((e) => e.message).join('; '), raw: answer.body };
    const success = z.object({ data: z.record(z.string(), z.unknown()) }).safeParse(answer.body);
    if (success.success) return { ok: true, data: success.data.data, raw: answer.body };
    throw new GatewayUnavailableError('zarinpal', 'bad_response', `zarinpal: unexpected answer from ${graphqlUrl} (HTTP ${answer.status})`, {
      cause: success.error,
    });
  }

  /** At most the 100 most recent paid-but-unverified payments (Zarinpal's limit). */
  async listUnverified(): Promise<UnverifiedPayment[]> {
    const answer = await this.call('unVerified.json', {}, unverifiedData);
    if (!answer.ok) throw this.rejected('unVerified', answer);
    return answer.data.authorities.map((entry) => ({
      authority: entry.authority,
      amount: BigInt(entry.amount),
      callbackUrl: entry.callback_url,
      date: entry.date,
    }));
  }

  /** Zarinpal's docs warn never to use inquiry in place of verify: PAID still needs a verify. */
  async inquire({ authority }: { authority: string }): Promise<InquiryResult> {
    const answer = await this.call('inquiry.json', { authority }, inquiryData);
    if (!answer.ok) throw this.rejected('inquiry', answer);
    return { status: answer.data.status, raw: answer.raw };
  }

  private async call<T>(path: string, body: Record<string, unknown>, data: z.ZodType<T>): Promise<ZarinpalAnswer<T>> {
    const url = `${this.baseUrl}/pg/v4/payment/${path}`;
    const answer = await postToGateway(
      'zarinpal',
      url,
      { json: { merchant_id: this.options.merchantId, ...body } },
      this.options.timeoutMs,
    );
    const failure = errorEnvelope.safeParse(answer.body);
    if (failure.success) {
      return { ok: false, code: failure.data.errors.code, message: failure.data.errors.message, raw: answer.body };
    }
    const success = z.object({ data }).safeParse(answer.body);
    if (success.success) return { ok: true, data: success.data.data, raw: answer.body };
    throw new GatewayUnavailableError('zarinpal', 'bad_response', `zarinpal: unexpected answer from ${url} (HTTP ${answer.status})`, {
      cause: success.error,
    });
  }

  private rejected(call: string, answer: { code: number; message: string; raw: unknown }): GatewayRejectedError {
    return new GatewayRejectedError('zarinpal', String(answer.code), `zarinpal ${call}: ${answer.code} ${answer.message}`, answer.raw);
  }
}

/** The SDK requires metadata.mobile to match ^09\d{9}$; accept the other common spellings too. */
function nationalMobile(mobile: string): string {
  const ascii = mobile
    .replace(/[\s\-()]/g, '')
    .replace(/[\u06f0-\u06f9]/g, (digit) => String(digit.charCodeAt(0) - 0x06f0))
    .replace(/[\u0660-\u0669]/g, (digit) => String(digit.charCodeAt(0) - 0x0660));
  const match = /^(?:\+98|0098|98|0)?(9\d{9})$/.exec(ascii);
  if (!match) throw new InvalidGatewayRequestError('zarinpal', `mobile ${JSON.stringify(mobile)} is not an Iranian mobile number`);
  return `0${match[1]}`;
}
