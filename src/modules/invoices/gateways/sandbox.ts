/**
 * A sandbox payment gateway: one node:http server emulating both Zarinpal v4 and Shepa on the
 * very paths their connectors call, with payments kept in memory.
 *
 * Zarinpal (JSON, any UUID as merchant_id):
 *   POST /pg/v4/payment/request.json | verify.json | unVerified.json | inquiry.json | reverse.json
 *   GET  /pg/StartPay/{authority}        -> callback?Authority=…&Status=OK|NOK
 *   POST /api/v4/graphql/                (any Bearer token, any terminal) the Session query and the
 *                                        AddRefund mutation, recognised by name; a verified
 *                                        payment's session id is its transactionId
 * Shepa (form-urlencoded or JSON, api key "sandbox"):
 *   POST /api/v1/token | /api/v1/verify | /api/v1/refund-transaction
 *   GET  /v1/{token}                     -> callback?token=…&status=success|failed
 *
 * The payment page shows Pay / Cancel / Decline buttons; `?action=pay|cancel|decline` on it
 * skips the page and answers 302 to the merchant's callback straight away.
 *
 * Scenarios: each payment has one, 'success' unless set, chosen either
 *   - by a tag in the description when requesting: "[sandbox:verify_timeout] Invoice 42"
 *     (works through any client, including a browser-driven demo), or
 *   - later with sandbox.setScenario(authority, scenario), which also resets it to 'success'.
 * An unknown tag is refused like any other validation error.
 *   success             normal behaviour
 *   cancel | decline    the payment page ends as cancelled / declined even when "Pay" is chosen
 *   verify_timeout      verify answers nothing for verifyHangMs (then proceeds, if the client
 *                       is still there; a client that gave up leaves the payment untouched)
 *   verify_garbage      verify answers HTTP 200 JSON of an unexpected shape
 *   verify_bad_gateway  verify answers HTTP 502 with an HTML page
 *   amount_mismatch     the payer pays half the amount: Zarinpal verify gives -50, Shepa verify
 *                       reports the smaller amount
 *   refund_fail         reverse gives -60 (bank refused) / Shepa refund gives success:false
 *   refund_timeout      the reverse / refund is carried out, but its answer comes only after
 *                       verifyHangMs (the client has given up: it never learns it happened)
 *   refund_bad_gateway  the reverse / refund answers HTTP 502 with an HTML page, doing nothing
 * Without a scenario the protocol rules still apply: a second Zarinpal verify gives 101, a verify
 * of an unpaid payment -51, a wrong amount -50, a reverse after 30 minutes (per `now`) -63, a
 * second reverse -61.
 *
 * Sandbox choices where the real gateways are undocumented: Zarinpal errors come with HTTP 400
 * (the real status varies); Shepa answers everything with HTTP 200, uses invented errorCodes,
 * repeats the first success on a second verify, reports the paid amount on verify without
 * checking the one sent, and allows partial refunds up to the paid amount.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { escapeHtml } from '../../../http/html.ts';

export const sandboxScenarios = [
  'success',
  'cancel',
  'decline',
  'verify_timeout',
  'verify_garbage',
  'verify_bad_gateway',
  'amount_mismatch',
  'refund_fail',
  'refund_timeout',
  'refund_bad_gateway',
] as const;

export type SandboxScenario = (typeof sandboxScenarios)[number];

export type SandboxPaymentStatus = 'pending' | 'paid' | 'cancelled' | 'declined' | 'verified' | 'reversed' | 'refunded';

export interface SandboxPayment {
  protocol: 'zarinpal' | 'shepa';
  /** Zarinpal authority or Shepa token. */
  authority: string;
  /** merchant_id or api key that requested it. */
  merchant: string;
  amount: bigint;
  /** What the payer actually paid, once paid. */
  paidAmount?: bigint;
  refundedAmount: bigint;
  callbackUrl: string;
  description: string;
  mobile?: string;
  email?: string;
  orderId?: string;
  scenario: SandboxScenario;
  status: SandboxPaymentStatus;
  refId?: string;
  transactionId?: string;
  cardPan?: string;
  createdAt: Date;
  paidAt?: Date;
  refundedAt?: Date;
  verifyCalls: number;
  /** Reverse or refund-transaction calls that reached the payment, whatever they answered. */
  refundCalls: number;
}

export interface SandboxGatewayOptions {
  /** 0 or unset: a free port. */
  port?: number;
  host?: string;
  /** How long a verify_timeout verify stays silent; default 30 s. */
  verifyHangMs?: number;
  /** The sandbox's clock, for the reverse window and dates. */
  now?: () => Date;
}

export interface SandboxGateway {
  /** e.g. http://127.0.0.1:4100: the baseUrl of both connectors. */
  url: string;
  port: number;
  close(): Promise<void>;
  setScenario(authority: string, scenario: SandboxScenario): void;
  payment(authority: string): SandboxPayment | undefined;
  payments(): SandboxPayment[];
}

const SCENARIO_TAG = /\[sandbox:([^\]]*)\]/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const REVERSE_WINDOW_MS = 30 * 60 * 1000;
const SHEPA_API_KEY = 'sandbox';
const MAX_BODY_BYTES = 64 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const safeAmount = z.number().int().positive();
const formAmount = z
  .union([safeAmount, z.string().regex(/^\d{1,15}$/).transform(Number)])
  .pipe(safeAmount)
  .transform((value) => BigInt(value));
const httpUrl = z.url({ protocol: /^https?$/ });

const zarinpalRequestBody = z.object({
  merchant_id: z.string().regex(UUID, 'merchant_id must be a 36-character UUID'),
  // The SDK refuses amounts below 1000; the official minimum is unconfirmed.
  amount: safeAmount.min(1000),
  currency: z.enum(['IRR', 'IRT']).optional(),
  description: z.string().min(1).max(500),
  callback_url: httpUrl,
  metadata: z
    .object({
      mobile: z.string().regex(/^09\d{9}$/).optional(),
      email: z.email().optional(),
      order_id: z.string().optional(),
    })
    .optional(),
});
const zarinpalMerchantBody = z.object({ merchant_id: z.string().regex(UUID) });
const zarinpalAuthorityBody = zarinpalMerchantBody.extend({ authority: z.string().min(1) });
const zarinpalVerifyBody = zarinpalAuthorityBody.extend({ amount: safeAmount });

const shepaTokenBody = z.object({
  api: z.string(),
  amount: formAmount,
  callback: httpUrl,
  description: z.string().max(500).optional(),
  mobile: z.string().optional(),
  email: z.string().optional(),
});
const shepaVerifyBody = z.object({ api: z.string(), token: z.string().min(1), amount: formAmount });
const shepaRefundBody = z.object({
  api: z.string(),
  amount: formAmount,
  transaction_id: z.string().min(1),
  token: z.string().optional(),
});

export async function startSandboxGateway(options: SandboxGatewayOptions = {}): Promise<SandboxGateway> {
  const now = options.now ?? (() => new Date());
  const verifyHangMs = options.verifyHangMs ?? 30_000;
  const payments = new Map<string, SandboxPayment>();
  const timers = new Set<NodeJS.Timeout>();
  let nextRefId = 1_000_000 + randomInt(1_000_000);
  let baseUrl = '';

  function randomString(length: number): string {
    return Array.from(randomBytes(length), (byte) => ALPHANUMERIC[byte % ALPHANUMERIC.length]).join('');
  }

  function scenarioOf(description: string | undefined): string {
    return SCENARIO_TAG.exec(description ?? '')?.[1] ?? 'success';
  }

  function isScenario(value: string): value is SandboxScenario {
    return (sandboxScenarios as readonly string[]).includes(value);
  }

  function find(protocol: SandboxPayment['protocol'], authority: string): SandboxPayment | undefined {
    const payment = payments.get(authority);
    return payment?.protocol === protocol ? payment : undefined;
  }

  /** Waits, for verify_timeout; false when the client gave up meanwhile. */
  function hang(res: ServerResponse): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve(!res.destroyed);
      }, verifyHangMs);
      timers.add(timer);
      res.once('close', () => {
        clearTimeout(timer);
        timers.delete(timer);
        resolve(false);
      });
    });
  }

  /** verify_* scenarios; true when the response has been taken care of. */
  async function misbehave(payment: SandboxPayment, res: ServerResponse): Promise<boolean> {
    switch (payment.scenario) {
      case 'verify_timeout':
        return !(await hang(res));
      case 'verify_garbage':
        sendJson(res, 200, { status: 'ok', data: 'Verified', code: '100' });
        return true;
      case 'verify_bad_gateway':
        send(res, 502, 'text/html; charset=utf-8', '<html><body><h1>502 Bad Gateway</h1></body></html>');
        return true;
      default:
        return false;
    }
  }

  /**
   * refund_* scenarios that hide the answer; `perform` carries the refund out. True when the
   * response has been taken care of.
   */
  async function misbehaveOnRefund(payment: SandboxPayment, res: ServerResponse, perform: () => void): Promise<boolean> {
    switch (payment.scenario) {
      case 'refund_timeout':
        perform();
        if (await hang(res)) sendJson(res, 504, { error: 'timeout' });
        return true;
      case 'refund_bad_gateway':
        send(res, 502, 'text/html; charset=utf-8', '<html><body><h1>502 Bad Gateway</h1></body></html>');
        return true;
      default:
        return false;
    }
  }

  function settle(payment: SandboxPayment): void {
    payment.status = 'verified';
    payment.refId = String(nextRefId++);
    payment.transactionId = String(randomInt(100_000_000, 999_999_999));
  }

  // ---- Zarinpal ---------------------------------------------------------------------------

  function zarinpalError(res: ServerResponse, code: number, message: string, validations: unknown[] = []): void {
    sendJson(res, 400, { data: [], errors: { code, message, validations } });
  }

  function zarinpalData(res: ServerResponse, data: Record<string, unknown>): void {
    sendJson(res, 200, { data, errors: [] });
  }

  function zarinpalInvalid(res: ServerResponse, error: z.ZodError): void {
    zarinpalError(
      res,
      -9,
      'The input params invalid, validation error.',
      error.issues.map((issue) => ({ [issue.path.join('.')]: issue.message })),
    );
  }

  function zarinpalPayment(res: ServerResponse, merchantId: string, authority: string): SandboxPayment | undefined {
    const payment = find('zarinpal', authority);
    if (!payment) {
      zarinpalError(res, -54, 'Invalid authority.');
      return undefined;
    }
    if (payment.merchant.toLowerCase() !== merchantId.toLowerCase()) {
      zarinpalError(res, -53, 'Session is not belongs to this merchant_id.');
      return undefined;
    }
    return payment;
  }

  function zarinpalRequest(body: unknown, res: ServerResponse): void {
    const parsed = zarinpalRequestBody.safeParse(body);
    if (!parsed.success) return zarinpalInvalid(res, parsed.error);
    const input = parsed.data;
    const scenario = scenarioOf(input.description);
    if (!isScenario(scenario)) return zarinpalError(res, -9, `Unknown sandbox scenario "${scenario}".`);
    const amount = BigInt(input.amount) * (input.currency === 'IRT' ? 10n : 1n);
    const authority = `S${randomString(35)}`;
    payments.set(authority, {
      protocol: 'zarinpal',
      authority,
      merchant: input.merchant_id,
      amount,
      refundedAmount: 0n,
      callbackUrl: input.callback_url,
      description: input.description,
      mobile: input.metadata?.mobile,
      email: input.metadata?.email,
      orderId: input.metadata?.order_id,
      scenario,
      status: 'pending',
      createdAt: now(),
      verifyCalls: 0,
      refundCalls: 0,
    });
    zarinpalData(res, { code: 100, message: 'Success', authority, fee_type: 'Merchant', fee: Number(amount / 100n) });
  }

  async function zarinpalVerify(body: unknown, res: ServerResponse): Promise<void> {
    const parsed = zarinpalVerifyBody.safeParse(body);
    if (!parsed.success) return zarinpalInvalid(res, parsed.error);
    const payment = zarinpalPayment(res, parsed.data.merchant_id, parsed.data.authority);
    if (!payment) return;
    if (await misbehave(payment, res)) return;
    payment.verifyCalls += 1;
    if (payment.status === 'pending' || payment.status === 'cancelled' || payment.status === 'declined') {
      return zarinpalError(res, -51, 'Session is not valid, session is not active paid try.');
    }
    if (payment.status === 'reversed') return zarinpalError(res, -51, 'Session was reversed.');
    if (BigInt(parsed.data.amount) !== payment.paidAmount) {
      return zarinpalError(res, -50, 'Session is not valid, amounts values is not the same.');
    }
    const first = payment.status === 'paid';
    if (first) settle(payment);
    const cardPan = payment.cardPan ?? '';
    zarinpalData(res, {
      code: first ? 100 : 101,
      message: first ? 'Paid' : 'Verified',
      card_hash: createHash('sha256').update(cardPan).digest('hex'),
      card_pan: cardPan,
      ref_id: Number(payment.refId),
      fee_type: 'Merchant',
      fee: Number(payment.amount / 100n),
    });
  }

  function graphqlError(res: ServerResponse, message: string, status = 200): void {
    sendJson(res, status, { data: null, errors: [{ message }] });
  }

  function sessionView(payment: SandboxPayment): Record<string, unknown> {
    return {
      terminal_id: '1',
      id: payment.transactionId,
      status: { verified: 'VERIFIED', reversed: 'REVERSED', refunded: 'REFUNDED' }[payment.status as 'verified'] ?? 'PAID',
      amount: Number(payment.paidAmount ?? payment.amount),
      description: payment.description,
      created_at: (payment.paidAt ?? payment.createdAt).toISOString(),
      timeline: {
        refund_amount: Number(payment.refundedAmount),
        refund_time: payment.refundedAt?.toISOString() ?? null,
        refund_status: payment.refundedAmount > 0n ? 'DONE' : null,
      },
    };
  }

  /** Zarinpal's GraphQL API, as far as refunds need it: Session (by id or reference_id) and AddRefund. */
  async function zarinpalGraphql(req: IncomingMessage, body: unknown, res: ServerResponse): Promise<void> {
    if (!/^Bearer \S+$/.test(req.headers.authorization ?? '')) return graphqlError(res, 'Unauthenticated.', 401);
    const parsed = z.object({ query: z.string(), variables: z.record(z.string(), z.unknown()).default({}) }).safeParse(body);
    if (!parsed.success) return graphqlError(res, 'Must provide query string.', 400);
    const { query, variables } = parsed.data;
    const sessions = () =>
      [...payments.values()].filter((p) => p.protocol === 'zarinpal' && p.transactionId !== undefined && p.refId !== undefined);
    if (/\bAddRefund\s*\(/.test(query)) {
      const input = z.object({ session_id: z.union([z.string(), z.number()]).transform(String), amount: safeAmount }).safeParse(variables);
      if (!input.success) return graphqlError(res, 'Variable "$amount" or "$session_id" is invalid.');
      const payment = sessions().find((p) => p.transactionId === input.data.session_id);
      if (!payment) return graphqlError(res, 'Session not found.');
      payment.refundCalls += 1;
      const amount = BigInt(input.data.amount);
      const refundable = (payment.paidAmount ?? 0n) - payment.refundedAmount;
      const allowed = payment.status === 'verified' && amount >= 20_000n && amount <= refundable;
      const refund = () => {
        if (!allowed) return;
        payment.refundedAmount += amount;
        payment.refundedAt = now();
        if (payment.refundedAmount === payment.paidAmount) payment.status = 'refunded';
      };
      if (await misbehaveOnRefund(payment, res, refund)) return;
      if (payment.status !== 'verified') return graphqlError(res, 'Session is not refundable.');
      if (amount < 20_000n) return graphqlError(res, 'The amount must be at least 20000 IRR.');
      if (amount > refundable) return graphqlError(res, `The amount is more than the refundable ${refundable} IRR.`);
      if (payment.scenario === 'refund_fail') return graphqlError(res, 'The refund was refused by the bank.');
      refund();
      return sendJson(res, 200, { data: { resource: sessionView(payment) } });
    }
    if (/\bSession\s*\(/.test(query)) {
      const input = z
        .object({ terminal_id: z.union([z.string().min(1), z.number()]), id: z.string().nullish(), reference_id: z.string().nullish() })
        .safeParse(variables);
      if (!input.success) return graphqlError(res, 'Variable "$terminal_id" of required type "ID!" was not provided.');
      const { id, reference_id: referenceId } = input.data;
      const found = sessions().filter((p) => (!id || p.transactionId === id) && (!referenceId || p.refId === referenceId));
      return sendJson(res, 200, { data: { Session: found.map(sessionView) } });
    }
    return graphqlError(res, 'The sandbox answers only the Session query and the AddRefund mutation.', 400);
  }

  function zarinpalUnverified(body: unknown, res: ServerResponse): void {
    const parsed = zarinpalMerchantBody.safeParse(body);
    if (!parsed.success) return zarinpalInvalid(res, parsed.error);
    const merchant = parsed.data.merchant_id.toLowerCase();
    const authorities = [...payments.values()]
      .filter((p) => p.protocol === 'zarinpal' && p.merchant.toLowerCase() === merchant && p.status === 'paid')
      .sort((a, b) => (b.paidAt?.getTime() ?? 0) - (a.paidAt?.getTime() ?? 0))
      .slice(0, 100)
      .map((p) => ({
        authority: p.authority,
        amount: Number(p.amount),
        callback_url: p.callbackUrl,
        referer: '',
        date: formatDate(p.paidAt ?? p.createdAt),
      }));
    zarinpalData(res, { code: 100, message: 'Success', authorities });
  }

  function zarinpalInquiry(body: unknown, res: ServerResponse): void {
    const parsed = zarinpalAuthorityBody.safeParse(body);
    if (!parsed.success) return zarinpalInvalid(res, parsed.error);
    const payment = zarinpalPayment(res, parsed.data.merchant_id, parsed.data.authority);
    if (!payment) return;
    const status = {
      pending: 'IN_BANK',
      paid: 'PAID',
      cancelled: 'FAILED',
      declined: 'FAILED',
      verified: 'VERIFIED',
      reversed: 'REVERSED',
      refunded: 'REVERSED',
    }[payment.status];
    zarinpalData(res, { code: 100, message: 'Success', status });
  }

  async function zarinpalReverse(body: unknown, res: ServerResponse): Promise<void> {
    const parsed = zarinpalAuthorityBody.safeParse(body);
    if (!parsed.success) return zarinpalInvalid(res, parsed.error);
    const payment = zarinpalPayment(res, parsed.data.merchant_id, parsed.data.authority);
    if (!payment) return;
    payment.refundCalls += 1;
    const reversible = (payment.status === 'paid' || payment.status === 'verified') && payment.paidAt !== undefined && payment.refundedAmount === 0n;
    const inWindow = payment.paidAt !== undefined && now().getTime() - payment.paidAt.getTime() <= REVERSE_WINDOW_MS;
    const reverse = () => {
      if (!reversible || !inWindow) return;
      payment.status = 'reversed';
      payment.refundedAmount = payment.paidAmount ?? 0n;
    };
    if (await misbehaveOnRefund(payment, res, reverse)) return;
    if (!reversible || payment.paidAt === undefined) {
      return zarinpalError(res, -61, 'Session is not in success status or already reversed.');
    }
    if (now().getTime() - payment.paidAt.getTime() > REVERSE_WINDOW_MS) {
      return zarinpalError(res, -63, 'Maximum time for reverse this session is expired.');
    }
    if (payment.scenario === 'refund_fail') return zarinpalError(res, -60, 'Session can not be reversed with bank.');
    reverse();
    zarinpalData(res, { code: 100, message: 'Reversed' });
  }

  // ---- Shepa ------------------------------------------------------------------------------

  function shepaError(res: ServerResponse, errorCode: number, ...error: string[]): void {
    sendJson(res, 200, { success: false, error, errorCode });
  }

  function shepaInvalid(res: ServerResponse, error: z.ZodError): void {
    shepaError(res, 422, ...error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }

  function shepaApiKey(res: ServerResponse, api: string): boolean {
    if (api === SHEPA_API_KEY) return true;
    shepaError(res, 401, 'api key is not valid');
    return false;
  }

  function shepaToken(body: unknown, res: ServerResponse): void {
    const parsed = shepaTokenBody.safeParse(body);
    if (!parsed.success) return shepaInvalid(res, parsed.error);
    const input = parsed.data;
    if (!shepaApiKey(res, input.api)) return;
    const scenario = scenarioOf(input.description);
    if (!isScenario(scenario)) return shepaError(res, 422, `unknown sandbox scenario "${scenario}"`);
    const token = randomString(40);
    payments.set(token, {
      protocol: 'shepa',
      authority: token,
      merchant: input.api,
      amount: input.amount,
      refundedAmount: 0n,
      callbackUrl: input.callback,
      description: input.description ?? '',
      mobile: input.mobile,
      email: input.email,
      scenario,
      status: 'pending',
      createdAt: now(),
      verifyCalls: 0,
      refundCalls: 0,
    });
    sendJson(res, 200, { success: true, result: { token, url: `${baseUrl}/v1/${token}` } });
  }

  async function shepaVerify(body: unknown, res: ServerResponse): Promise<void> {
    const parsed = shepaVerifyBody.safeParse(body);
    if (!parsed.success) return shepaInvalid(res, parsed.error);
    if (!shepaApiKey(res, parsed.data.api)) return;
    const payment = find('shepa', parsed.data.token);
    if (!payment) return shepaError(res, 404, 'token not found');
    if (await misbehave(payment, res)) return;
    payment.verifyCalls += 1;
    if (payment.status === 'paid') settle(payment);
    if (payment.status !== 'verified' && payment.status !== 'refunded') {
      return shepaError(res, 400, 'payment is not successful');
    }
    sendJson(res, 200, {
      success: true,
      result: {
        refid: Number(payment.refId),
        transaction_id: Number(payment.transactionId),
        amount: Number(payment.paidAmount),
        card_pan: payment.cardPan,
        date: formatDate(payment.paidAt ?? payment.createdAt),
      },
    });
  }

  async function shepaRefund(body: unknown, res: ServerResponse): Promise<void> {
    const parsed = shepaRefundBody.safeParse(body);
    if (!parsed.success) return shepaInvalid(res, parsed.error);
    if (!shepaApiKey(res, parsed.data.api)) return;
    const payment = [...payments.values()].find(
      (p) => p.protocol === 'shepa' && p.transactionId !== undefined && p.transactionId === parsed.data.transaction_id,
    );
    if (!payment || (parsed.data.token !== undefined && parsed.data.token !== payment.authority)) {
      return shepaError(res, 404, 'transaction not found');
    }
    payment.refundCalls += 1;
    const refundable = (payment.paidAmount ?? 0n) - payment.refundedAmount;
    const allowed = payment.status === 'verified' && parsed.data.amount <= refundable;
    const refund = () => {
      if (!allowed) return;
      payment.refundedAmount += parsed.data.amount;
      if (payment.refundedAmount === payment.paidAmount) payment.status = 'refunded';
    };
    if (await misbehaveOnRefund(payment, res, refund)) return;
    if (payment.status !== 'verified') return shepaError(res, 400, 'transaction is not refundable');
    if (parsed.data.amount > refundable) return shepaError(res, 400, `amount is more than the refundable ${refundable}`);
    if (payment.scenario === 'refund_fail') return shepaError(res, 500, 'refund was refused by the bank');
    refund();
    sendJson(res, 200, { success: true, result: `RF${randomInt(100_000_000, 999_999_999)}` });
  }

  // ---- Payment page -----------------------------------------------------------------------

  function paymentPage(protocol: SandboxPayment['protocol'], authority: string, query: URLSearchParams, res: ServerResponse): void {
    const payment = find(protocol, authority);
    if (!payment) throw new HttpError(404, 'No such payment.');
    if (payment.status !== 'pending') throw new HttpError(409, `This payment is already ${payment.status}.`);
    const action = query.get('action');
    if (action === null) {
      return send(res, 200, 'text/html; charset=utf-8', pageHtml(payment));
    }
    if (action !== 'pay' && action !== 'cancel' && action !== 'decline') {
      throw new HttpError(400, 'action must be pay, cancel or decline.');
    }
    const outcome = action === 'pay' && (payment.scenario === 'cancel' || payment.scenario === 'decline') ? payment.scenario : action;
    if (outcome === 'pay') {
      payment.status = 'paid';
      payment.paidAt = now();
      payment.paidAmount = payment.scenario === 'amount_mismatch' ? payment.amount / 2n : payment.amount;
      payment.cardPan = `${protocol === 'zarinpal' ? '502229' : '603799'}******${String(randomInt(10_000)).padStart(4, '0')}`;
    } else {
      payment.status = outcome === 'cancel' ? 'cancelled' : 'declined';
    }
    const callback = new URL(payment.callbackUrl);
    if (protocol === 'zarinpal') {
      callback.searchParams.set('Authority', authority);
      callback.searchParams.set('Status', outcome === 'pay' ? 'OK' : 'NOK');
    } else {
      callback.searchParams.set('token', authority);
      callback.searchParams.set('status', outcome === 'pay' ? 'success' : 'failed');
    }
    res.writeHead(302, { location: callback.toString(), 'cache-control': 'no-store' }).end();
  }

  // ---- Server -----------------------------------------------------------------------------

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const path = url.pathname;
    if (req.method === 'GET') {
      const startPay = /^\/pg\/StartPay\/([^/]+)$/.exec(path);
      if (startPay) return paymentPage('zarinpal', decodeURIComponent(startPay[1]!), url.searchParams, res);
      const shepaPage = /^\/v1\/([^/]+)$/.exec(path);
      if (shepaPage) return paymentPage('shepa', decodeURIComponent(shepaPage[1]!), url.searchParams, res);
      if (path === '/') return send(res, 200, 'text/plain; charset=utf-8', 'Sandbox gateway: Zarinpal v4 and Shepa.\n');
      throw new HttpError(404, 'Not found.');
    }
    if (req.method !== 'POST') throw new HttpError(405, 'Method not allowed.');
    switch (path) {
      case '/pg/v4/payment/request.json':
        return zarinpalRequest(await readJson(req), res);
      case '/pg/v4/payment/verify.json':
        return zarinpalVerify(await readJson(req), res);
      case '/pg/v4/payment/unVerified.json':
        return zarinpalUnverified(await readJson(req), res);
      case '/pg/v4/payment/inquiry.json':
        return zarinpalInquiry(await readJson(req), res);
      case '/pg/v4/payment/reverse.json':
        return zarinpalReverse(await readJson(req), res);
      case '/api/v4/graphql/':
      case '/api/v4/graphql':
        return zarinpalGraphql(req, await readJson(req), res);
      case '/api/v1/token':
        return shepaToken(await readFormOrJson(req), res);
      case '/api/v1/verify':
        return shepaVerify(await readFormOrJson(req), res);
      case '/api/v1/refund-transaction':
        return shepaRefund(await readFormOrJson(req), res);
      default:
        throw new HttpError(404, 'Not found.');
    }
  }

  const server = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (res.headersSent || res.destroyed) return;
      const status = error instanceof HttpError ? error.status : 500;
      const message = error instanceof Error ? error.message : String(error);
      send(res, status, 'text/plain; charset=utf-8', `${message}\n`);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  baseUrl = `http://${host}:${address.port}`;

  return {
    url: baseUrl,
    port: address.port,
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
    setScenario(authority, scenario) {
      const payment = payments.get(authority);
      if (!payment) throw new Error(`sandbox: no payment ${authority}`);
      if (!isScenario(scenario)) throw new Error(`sandbox: unknown scenario ${String(scenario)}`);
      payment.scenario = scenario;
    },
    payment(authority) {
      const payment = payments.get(authority);
      return payment && { ...payment };
    },
    payments() {
      return [...payments.values()].map((payment) => ({ ...payment }));
    },
  };
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) }).end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json', JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'Body too large.');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'Body is not JSON.');
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
    throw new HttpError(415, 'Zarinpal takes application/json.');
  }
  return parseJson(await readBody(req));
}

async function readFormOrJson(req: IncomingMessage): Promise<unknown> {
  const contentType = req.headers['content-type'] ?? '';
  const text = await readBody(req);
  if (contentType.startsWith('application/json')) return parseJson(text);
  if (contentType.startsWith('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text));
  throw new HttpError(415, 'Shepa takes application/x-www-form-urlencoded or application/json.');
}

function formatDate(date: Date): string {
  return date.toISOString().slice(0, 19).replace('T', ' ');
}

function pageHtml(payment: SandboxPayment): string {
  const title = payment.protocol === 'zarinpal' ? 'Zarinpal sandbox' : 'Shepa sandbox';
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${title}</title></head>
<body>
<h1>${title}</h1>
<p>Amount: <strong>${payment.amount.toString()} IRR</strong></p>
<p>${escapeHtml(payment.description)}</p>
<p>Scenario: ${payment.scenario}</p>
<form method="get">
<button name="action" value="pay">Pay</button>
<button name="action" value="cancel">Cancel</button>
<button name="action" value="decline">Decline</button>
</form>
</body>
</html>
`;
}
