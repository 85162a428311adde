/**
 * The legacy wallet API, at its original paths: POST /digipay/v3/transaction/agent_calculate_charges
 * and /wallet_topup. Every answer is the legacy envelope `{success, error: [codes], data}`; the
 * codes and statuses come from the one table in ./errors.ts.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler, TypedResponse } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { requireMerchant, type MerchantPrincipal } from '../../auth/principal.ts';
import type { Deps } from '../../deps.ts';
import type { HttpEnv } from '../../http/rest.ts';
import { WalletError, walletFailureOf, walletFailures, type WalletFailure } from './errors.ts';
import { encodeLegacyJson, JsonDecimal, numberTokens } from './legacy-json.ts';
import { formatDecimal, formatMajorAmount } from './money.ts';
import { quoteTopUp, topUpWallet, type PartyInfo, type TopUpQuote, type TopUpRequest } from './service.ts';

const party = z
  .object({
    currency_id: z.string().max(8).nullish(),
    wallet_id: z.string().max(64).nullish(),
    user_id: z.string().max(64).nullish(),
    user_type: z.union([z.literal(1), z.literal(2)]).nullish().openapi({ description: '1: company admin (agent), 2: company user.' }),
    payment_type: z.union([z.string().max(64), z.number().int()]).nullish().openapi({ description: 'Stored verbatim.' }),
    username: z.string().max(64).nullish(),
  })
  .strict();

const jsonObject = z.record(z.string(), z.unknown());
const metaData = z.object({ wallet_topup_request_id: z.string().nullish() }).strict();
const device = z.object({ device_id: z.string() }).strict();

/** A quote as agent_calculate_charges answers it, sent back with a top-up. */
const quoted = z.object({ total_charges: z.number(), charges: z.array(z.unknown()).optional() }).strict();

const TopUpBody = z
  .object({
    wallet_id: z.string().openapi({ example: '116a51aa2b7d459a8b7e3db7dcf5e70a' }),
    txn_amount: z.number().openapi({ example: 100, description: "In major units of the wallet's currency, read exactly from the JSON text." }),
    txn_code: z.string().openapi({ example: 'CIB' }),
    payment_mode: z.number().int().openapi({ example: 2, description: '1: card, 2: bank.' }),
    note: z.string().nullish().openapi({ example: 'testing' }),
    charges_info: z
      .union([quoted, z.array(quoted).length(1)])
      .nullish()
      .openapi({ description: 'A quote from agent_calculate_charges (or a list of one, the document typing it Array): refused (code 14) if total_charges is no longer the fee.' }),
    payment_response: jsonObject.nullish().openapi({ description: "The payment gateway's answer; stored verbatim." }),
    card_info: z.union([z.array(jsonObject), jsonObject]).nullish().openapi({ description: 'Stored with card numbers masked and CVV/PIN removed.' }),
    debit_user_info: party.nullish().openapi({ description: 'The company admin (agent) performing the top-up.' }),
    credit_user_info: party.nullish().openapi({ description: "The wallet's owner; each field given must match." }),
    txn_device_info: z.union([z.array(device), device]).nullish(),
    meta_data: z.union([metaData, z.array(metaData).max(1)]).nullish().openapi({ description: 'wallet_topup_request_id: the idempotency key.' }),
  })
  .strict()
  .openapi('WalletTopUpRequest');

type TopUpBody = z.infer<typeof TopUpBody>;

const Failure = z
  .object({
    success: z.literal(0),
    error: z.array(z.number().int()).openapi({ description: 'Codes: see docs/wallets.md.' }),
    data: z.object({ message: z.string().openapi({ example: 'BAD_REQUEST' }) }),
  })
  .openapi('WalletLegacyFailure');

const Charge = z.object({
  charge_id: z.string(),
  txn_code: z.string(),
  payment_mode: z.number().int().nullable(),
  fixed_charge: z.number(),
  percentage: z.number(),
  min_charge: z.number().nullable(),
  max_charge: z.number().nullable(),
  charge_amount: z.number(),
});

const ChargesAnswer = z
  .object({
    success: z.literal(1),
    error: z.array(z.number()),
    data: z.object({
      message: z.string(),
      wallet_id: z.string(),
      currency: z.string(),
      txn_amount: z.number(),
      credit_amount: z.number(),
      charges_info: z.object({ total_charges: z.number(), charges: z.array(Charge) }),
    }),
  })
  .openapi('WalletChargesAnswer');

const TopUpAnswer = z
  .object({
    success: z.literal(1),
    error: z.array(z.number()),
    data: z.object({
      message: z.literal('Money successfully added to your wallet.'),
      transaction: z.object({ txn_id: z.string(), txn_number: z.string(), txn_status: z.number().int() }),
    }),
  })
  .openapi('WalletTopUpAnswer');

const failures = {
  400: { description: 'BAD REQUEST', content: { 'application/json': { schema: Failure } } },
  401: { description: 'Missing or invalid Authorization or CompanyID', content: { 'application/json': { schema: Failure } } },
  403: { description: 'Credential lacks the wallets scope, or CompanyID is not its company', content: { 'application/json': { schema: Failure } } },
  404: { description: 'NOT FOUND (unknown wallet)', content: { 'application/json': { schema: Failure } } },
  500: { description: 'INTERNAL SERVER ERROR', content: { 'application/json': { schema: Failure } } },
} as const;

const headers = z.object({
  authorization: z.string().optional().openapi({ example: 'Token duik7309njdlkhdauhknksadhjkas986876sd873j' }),
  companyid: z.string().optional().openapi({ example: '7753ad6bd8cf48f5b1312fd21eb36588' }),
});

const STATUS_MESSAGES = { 400: 'BAD_REQUEST', 401: 'UNAUTHORIZED', 403: 'FORBIDDEN', 404: 'NOT_FOUND', 409: 'CONFLICT', 500: 'INTERNAL_SERVER_ERROR' } as const;

function legacyAnswer(c: Context, status: 200 | keyof typeof STATUS_MESSAGES, body: unknown): Response {
  return c.body(encodeLegacyJson(body), status, { 'content-type': 'application/json; charset=UTF-8' });
}

/**
 * A 200 answer of the declared schema `T`. It is written by encodeLegacyJson rather than c.json,
 * so that decimals are printed digit for digit, hence the type is asserted here.
 */
const legacyOk = <T>(c: Context, body: unknown) => legacyAnswer(c, 200, body) as unknown as TypedResponse<T, 200, 'json'>;

function legacyFailure(c: Context, failures: WalletFailure[]): Response {
  const codes = [...new Set(failures.map((failure) => walletFailures[failure].legacy))].sort((a, b) => a - b);
  const status = Math.max(...failures.map((failure) => walletFailures[failure].status)) as keyof typeof STATUS_MESSAGES;
  return legacyAnswer(c, status, { success: 0, error: codes, data: { message: STATUS_MESSAGES[status] } });
}

/** Which failure a schema problem at a top-level member is. */
const FIELD_FAILURES: Record<string, WalletFailure> = {
  wallet_id: 'INVALID_WALLET_ID',
  txn_amount: 'INVALID_AMOUNT',
  txn_code: 'INVALID_TXN_CODE',
  payment_mode: 'INVALID_PAYMENT_MODE',
  note: 'INVALID_NOTE',
  debit_user_info: 'INVALID_DEBIT_USER_INFO',
  credit_user_info: 'INVALID_CREDIT_USER_INFO',
  card_info: 'INVALID_CARD_INFO',
  payment_response: 'INVALID_PAYMENT_RESPONSE',
  txn_device_info: 'INVALID_DEVICE_INFO',
  meta_data: 'INVALID_META_DATA',
  charges_info: 'INVALID_CHARGES_INFO',
};

function toParty(info: z.infer<typeof party> | null | undefined): PartyInfo | null {
  if (!info) return null;
  return {
    userId: info.user_id ?? null,
    walletId: info.wallet_id ?? null,
    currency: info.currency_id ?? null,
    username: info.username ?? null,
    userType: info.user_type == null ? null : info.user_type === 1 ? 'agent' : 'user',
    paymentType: info.payment_type == null ? null : String(info.payment_type),
  };
}

/** The service's request from a validated legacy body and its source text (for exact amounts). */
function toTopUpRequest(body: TopUpBody, text: string): TopUpRequest {
  const tokens = numberTokens(text);
  const decimal = (path: (string | number)[], failure: WalletFailure) => {
    const token = tokens.get(path);
    if (token === undefined) throw new WalletError(failure, `${path.join('.')} is a JSON number.`);
    return { decimal: token };
  };
  const meta = Array.isArray(body.meta_data) ? body.meta_data[0] : body.meta_data;
  const devices = body.txn_device_info == null ? [] : Array.isArray(body.txn_device_info) ? body.txn_device_info : [body.txn_device_info];
  return {
    walletId: body.wallet_id,
    amount: decimal(['txn_amount'], 'INVALID_AMOUNT'),
    txnCode: body.txn_code,
    paymentMode: body.payment_mode,
    note: body.note ?? null,
    agent: toParty(body.debit_user_info),
    user: toParty(body.credit_user_info),
    cardInfo: body.card_info ?? null,
    paymentResponse: body.payment_response ?? null,
    deviceIds: devices.map((entry) => entry.device_id),
    expectedCharges: body.charges_info
      ? decimal(Array.isArray(body.charges_info) ? ['charges_info', 0, 'total_charges'] : ['charges_info', 'total_charges'], 'INVALID_CHARGES_INFO')
      : null,
    requestId: meta?.wallet_topup_request_id ?? null,
  };
}

function chargesInfo(quote: TopUpQuote) {
  const money = (amount: bigint) => new JsonDecimal(formatMajorAmount(amount, quote.currency));
  return {
    total_charges: money(quote.totalCharges),
    charges: quote.charges.map((charge) => ({
      charge_id: charge.ruleId,
      txn_code: charge.txnCode,
      payment_mode: charge.paymentMode,
      fixed_charge: money(charge.fixed),
      percentage: new JsonDecimal(formatDecimal(BigInt(charge.percentBasisPoints), 2)),
      min_charge: charge.min === null ? null : money(charge.min),
      max_charge: charge.max === null ? null : money(charge.max),
      charge_amount: money(charge.amount),
    })),
  };
}

export function routes(deps: Deps): OpenAPIHono<HttpEnv> {
  const app = new OpenAPIHono<HttpEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const problems = result.error.issues.map((issue) => FIELD_FAILURES[String(issue.path[0])] ?? 'MALFORMED_REQUEST');
      c.get('logger').info({ issues: result.error.issues.map((issue) => ({ path: issue.path, message: issue.message })) }, 'wallet request refused');
      return legacyFailure(c, problems);
    },
  });

  const merchants = new WeakMap<Request, MerchantPrincipal>();
  const merchantOf = (c: Context) => merchants.get(c.req.raw)!;

  /** `Authorization: Token …` and `CompanyID` must both be given and name one company. */
  const authenticate: MiddlewareHandler<HttpEnv> = async (c, next) => {
    const header = c.req.header('authorization');
    // Only the document's `Token` scheme; another one is no credential here.
    const principal = header && /^token\s/i.test(header) ? await deps.auth.authenticate(header) : null;
    const merchant = requireMerchant(principal, { scope: 'wallets' });
    const companyId = c.req.header('companyid')?.trim();
    if (!companyId) throw new WalletError('UNAUTHENTICATED', 'The CompanyID header is required.');
    if (companyId !== merchant.companyId) throw new WalletError('COMPANY_MISMATCH', 'CompanyID is not the company of this token.');
    merchants.set(c.req.raw, merchant);
    await next();
  };

  app.onError((error, c) => {
    const failure = error instanceof HTTPException && error.status < 500 ? 'MALFORMED_REQUEST' : walletFailureOf(error);
    if (failure === 'INTERNAL') c.get('logger').error({ err: error }, 'unexpected error in a wallet route');
    else c.get('logger').info({ failure, reason: error.message }, 'wallet request refused');
    return legacyFailure(c, [failure]);
  });

  const body = { required: true, content: { 'application/json': { schema: TopUpBody } } } as const;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/digipay/v3/transaction/agent_calculate_charges',
      summary: 'The charges of a prospective top-up (moves nothing)',
      middleware: [authenticate] as const,
      request: { headers, body },
      responses: { 200: { description: 'OK', content: { 'application/json': { schema: ChargesAnswer } } }, ...failures },
    }),
    async (c) => {
      const request = toTopUpRequest(c.req.valid('json'), await c.req.text());
      const quote = await quoteTopUp(deps.sql, merchantOf(c).merchantId, request);
      const money = (amount: bigint) => new JsonDecimal(formatMajorAmount(amount, quote.currency));
      return legacyOk<z.infer<typeof ChargesAnswer>>(c, {
        success: 1,
        error: [],
        data: {
          message: 'Charges calculated successfully.',
          wallet_id: quote.walletId,
          currency: quote.currency,
          txn_amount: money(quote.amount),
          credit_amount: money(quote.creditedAmount),
          charges_info: chargesInfo(quote),
        },
      });
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/digipay/v3/transaction/wallet_topup',
      summary: "Adds money from a card or bank to a user's wallet",
      middleware: [authenticate] as const,
      request: { headers, body },
      responses: { 200: { description: 'OK', content: { 'application/json': { schema: TopUpAnswer } } }, ...failures },
    }),
    async (c) => {
      const request = toTopUpRequest(c.req.valid('json'), await c.req.text());
      const { result } = await topUpWallet(deps, merchantOf(c).merchantId, request);
      return legacyOk<z.infer<typeof TopUpAnswer>>(c, {
        success: 1,
        error: [],
        data: {
          message: 'Money successfully added to your wallet.',
          transaction: { txn_id: result.transactionId, txn_number: result.txnNumber, txn_status: result.txnStatus },
        },
      });
    },
  );

  return app;
}
