/**
 * Shepa (shepa.com). There is no official documentation: this follows what the independent
 * drivers agree on (shetabit/multipay Shepa driver, parsisolution/gateway, WC_SHEPA plugin).
 * Calls are form-urlencoded POSTs under /api/v1/ carrying the api key; answers are
 * {success:true,result} or {success:false,error|errors,errorCode}. No error-code list exists.
 */
import { z } from 'zod';
import { GatewayRejectedError, GatewayUnavailableError, InvalidGatewayRequestError, postToGateway, trimTrailingSlash } from './types.ts';
import type {
  CallbackParams,
  GatewayConnector,
  PaymentRedirect,
  PaymentRequest,
  RefundInput,
  RefundResult,
  VerifyInput,
  VerifyResult,
} from './types.ts';

export const shepaHosts = {
  production: 'https://merchant.shepa.com',
  sandbox: 'https://sandbox.shepa.com',
} as const;

/** Shepa's own sandbox takes this literal api key (multipay config, shepacom driver). */
export const SHEPA_SANDBOX_API_KEY = 'sandbox';

export interface ShepaOptions {
  /** e.g. shepaHosts.production; the /api/v1/... paths are appended. */
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  /**
   * When set, the payer is sent to {startPayBaseUrl}/v1/{token} (as multipay builds it) instead of
   * the url the token call returns.
   */
  startPayBaseUrl?: string;
}

const id = z.union([z.number().int().nonnegative(), z.string().regex(/^\w+$/)]).transform(String);
const amount = z
  .union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)])
  .transform((value) => BigInt(value));
const token = z.string().regex(/^[\w-]{1,255}$/);

const failure = z.object({
  success: z.literal(false),
  error: z.union([z.array(z.string()), z.string()]).optional(),
  errors: z.union([z.array(z.string()), z.string()]).optional(),
  errorCode: z.union([z.number(), z.string()]).optional(),
});

const tokenResult = z.object({ token, url: z.url({ protocol: /^https?$/ }) });

const verifyResult = z.object({
  refid: id,
  transaction_id: id,
  amount,
  card_pan: z.string().nullish(),
  date: z.string().nullish(),
});

const refundResult = z.union([z.string(), z.number()]).transform(String);

type ShepaAnswer<T> = { ok: true; result: T; raw: unknown } | { ok: false; code: string; message: string; raw: unknown };

export class ShepaConnector implements GatewayConnector {
  readonly name = 'shepa';
  /**
   * refund-transaction takes any amount up to what is left, so a repeat after a lost answer could
   * pay the payer twice, and Shepa has no call that tells whether a refund happened.
   */
  refundRepeatable(): boolean {
    return false;
  }
  private readonly baseUrl: string;

  constructor(private readonly options: ShepaOptions) {
    if (options.apiKey === '') throw new InvalidGatewayRequestError('shepa', 'apiKey is empty');
    this.baseUrl = trimTrailingSlash(options.baseUrl);
  }

  async requestPayment(request: PaymentRequest): Promise<PaymentRedirect> {
    if (request.amount <= 0n) throw new InvalidGatewayRequestError('shepa', `amount ${request.amount} is not positive`);
    // Shepa has no order-id field; the order travels only in our callback URL and description.
    const form: Record<string, string> = {
      amount: request.amount.toString(),
      callback: request.callbackUrl,
      description: request.description,
    };
    if (request.mobile !== undefined) form.mobile = request.mobile;
    if (request.email !== undefined) form.email = request.email;
    const answer = await this.call('token', form, tokenResult);
    if (!answer.ok) throw this.rejected('token', answer);
    const redirectUrl =
      this.options.startPayBaseUrl === undefined
        ? answer.result.url
        : `${trimTrailingSlash(this.options.startPayBaseUrl)}/v1/${answer.result.token}`;
    return { authority: answer.result.token, redirectUrl, raw: answer.raw };
  }

  /** Drivers verify only status=success and treat every other status as failed or cancelled. */
  parseCallback(query: URLSearchParams): CallbackParams | null {
    const authority = query.get('token');
    const status = query.get('status');
    if (authority === null || !token.safeParse(authority).success || status === null || status === '') return null;
    return { authority, success: status === 'success' };
  }

  /**
   * Shepa has no documented "already verified" answer; how a repeat verify behaves is unconfirmed
   * (our sandbox repeats the first success), so a repeat may come back 'verified' again with the
   * same refId and callers must be idempotent. Any success:false counts as 'failed', as in every
   * driver, because no code list tells a refusal about the payment from a configuration error.
   */
  async verify({ authority, amount: expected }: VerifyInput): Promise<VerifyResult> {
    const answer = await this.call(
      'verify',
      { token: authority, amount: expected.toString() },
      verifyResult,
    );
    if (!answer.ok) return { outcome: 'failed', gatewayCode: answer.code, raw: answer.raw };
    const { result } = answer;
    return {
      // The drivers compare result.amount with the order amount themselves.
      outcome: result.amount === expected ? 'verified' : 'amount_mismatch',
      refId: result.refid,
      transactionId: result.transaction_id,
      cardPan: result.card_pan ?? undefined,
      verifiedAmount: result.amount,
      raw: answer.raw,
    };
  }

  /**
   * Unconfirmed: Shepa publishes no refund API. This follows third-party code calling
   * POST /api/v1/refund-transaction with api, amount and transaction_id (one also sends token),
   * answered with a tracking string in result; it is what our sandbox emulates.
   */
  async refund({ authority, amount, transactionId }: RefundInput): Promise<RefundResult> {
    if (transactionId === undefined) {
      throw new InvalidGatewayRequestError('shepa', 'refund needs the transactionId returned by verify');
    }
    if (amount <= 0n) throw new InvalidGatewayRequestError('shepa', `amount ${amount} is not positive`);
    const answer = await this.call(
      'refund-transaction',
      { amount: amount.toString(), transaction_id: transactionId, token: authority },
      refundResult,
    );
    if (!answer.ok) return { outcome: 'failed', gatewayCode: answer.code, raw: answer.raw };
    return { outcome: 'refunded', reference: answer.result, raw: answer.raw };
  }

  private async call<T>(path: string, form: Record<string, string>, result: z.ZodType<T>): Promise<ShepaAnswer<T>> {
    const url = `${this.baseUrl}/api/v1/${path}`;
    const answer = await postToGateway('shepa', url, { form: { api: this.options.apiKey, ...form } }, this.options.timeoutMs);
    const refused = failure.safeParse(answer.body);
    if (refused.success) {
      // Drivers disagree on `error` vs `errors`; multipay reads both.
      const messages = refused.data.error ?? refused.data.errors ?? [];
      return {
        ok: false,
        code: String(refused.data.errorCode ?? 'unknown'),
        message: Array.isArray(messages) ? messages.join('; ') : messages,
        raw: answer.body,
      };
    }
    const success = z.object({ success: z.literal(true), result }).safeParse(answer.body);
    if (success.success) return { ok: true, result: success.data.result, raw: answer.body };
    throw new GatewayUnavailableError('shepa', 'bad_response', `shepa: unexpected answer from ${url} (HTTP ${answer.status})`, {
      cause: success.error,
    });
  }

  private rejected(call: string, answer: { code: string; message: string; raw: unknown }): GatewayRejectedError {
    return new GatewayRejectedError('shepa', answer.code, `shepa ${call}: ${answer.code} ${answer.message}`, answer.raw);
  }
}
