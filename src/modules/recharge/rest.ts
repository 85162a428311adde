/**
 * The legacy recharge API (`/v3/rechargeProviders`), served as its document describes. Routes are
 * thin: authenticate, validate strictly, call the service GraphQL also calls, shape the answer.
 * The document gives no error envelope; failures answer `{"error": CODE, "message", "field"?}`.
 */
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { requireMerchant, type MerchantPrincipal } from '../../auth/principal.ts';
import type { Deps } from '../../deps.ts';
import { AccessError, AppError, errorStatus, invalid, type ErrorCode } from '../../errors.ts';
import type { RechargePayment, RechargeProvider } from '../../generated/prisma/client.ts';
import type { HttpEnv } from '../../http/rest.ts';
import { isOneHeaderKey, TWO_HEADER_KEYS } from '../../idempotency/idempotency.ts';
import {
  commitRechargePayment,
  createRechargePayment,
  listRechargePayments,
  listRechargeProviders,
  parameterDefinitions,
  rollbackRechargePayment,
  updateRechargePayment,
  type PaymentResult,
} from './service.ts';
import { PAYMENT_STATES } from './state-machine.ts';
import { PARAMETER_TYPES, parseUserId } from './validation.ts';

type RechargeEnv = HttpEnv & { Variables: { merchant: MerchantPrincipal } };

const errorBody = z
  .object({
    error: z.string().openapi({ example: 'INVALID_STATE_TRANSITION' }),
    message: z.string(),
    field: z.string().optional().openapi({ description: 'The input at fault, for VALIDATION_FAILED.' }),
  })
  .openapi('RechargeError');

const errorResponses = {
  400: { description: 'Invalid body or query (VALIDATION_FAILED, naming the field)', content: { 'application/json': { schema: errorBody } } },
  401: { description: 'Missing, bad or expired access token', content: { 'application/json': { schema: errorBody } } },
  403: { description: 'The token lacks the scope `credit` (or the right "Manage payments")', content: { 'application/json': { schema: errorBody } } },
  404: { description: 'Unknown provider or payment (another merchant\'s included)', content: { 'application/json': { schema: errorBody } } },
} as const;

const stateChangeResponses = {
  409: { description: 'INVALID_STATE_TRANSITION or EXPIRED', content: { 'application/json': { schema: errorBody } } },
  422: { description: 'IDEMPOTENCY_KEY_REUSED', content: { 'application/json': { schema: errorBody } } },
} as const;

const parameterDefinition = z
  .object({
    name: z.string(),
    type: z.enum(PARAMETER_TYPES),
    required: z.boolean(),
    fixed: z.string().optional(),
  })
  .openapi('RechargeParameter');

const providerBody = z
  .object({
    name: z.string(),
    reference: z.string(),
    description: z.string(),
    params: z.array(parameterDefinition).openapi({ description: 'The parameters a payment through this provider takes.' }),
  })
  .openapi('RechargeProvider');

// The document's amounts and user ids are JSON numbers; the service keeps both below 2^53.
const legacyNumber = (value: bigint) => Number(value);

const paymentItem = z
  .object({
    id: z.string(),
    userId: z.number().int(),
    amount: z.number().int().openapi({ description: 'Minor units.' }),
    currency: z.string(),
    state: z.enum(PAYMENT_STATES),
    created: z.string(),
    updated: z.string(),
    expires: z.string(),
    paymentNo: z.number().int(),
    provider: z.string().openapi({ description: "The provider's reference." }),
    description: z.string(),
  })
  .openapi('RechargePaymentListItem');

const paymentDetail = paymentItem
  .extend({
    params: z.record(z.string(), z.string()),
    reason: z.string().nullable(),
  })
  .openapi('RechargePayment');

// Values are checked by the service against the provider's definitions, which names the parameter at fault.
const paramValues = z
  .union([z.record(z.string(), z.unknown()), z.string()])
  .openapi({ description: 'A map of strings, e.g. {"amount": "50000"}; the same map as a JSON string is accepted too.' });

const referenceParams = z.object({ reference: z.string().min(1).max(64) });
const paymentParams = referenceParams.extend({ id: z.string().min(1).max(64) });
const idempotencyHeader = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(255)
    .refine(isOneHeaderKey, TWO_HEADER_KEYS)
    .optional(),
});

const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
const jsonBody = <T extends z.ZodType>(schema: T) => ({ required: true, content: { 'application/json': { schema } } });

function toItem(payment: RechargePayment, providerReference: string) {
  return {
    id: payment.id,
    userId: legacyNumber(payment.userId),
    amount: legacyNumber(payment.amount),
    currency: payment.currency,
    state: payment.state as (typeof PAYMENT_STATES)[number],
    created: payment.createdAt.toISOString(),
    updated: payment.updatedAt.toISOString(),
    expires: payment.expiresAt.toISOString(),
    paymentNo: payment.paymentNo,
    provider: providerReference,
    description: payment.description,
  };
}

const toDetail = (payment: RechargePayment, providerReference: string) => ({
  ...toItem(payment, providerReference),
  params: payment.params as Record<string, string>,
  reason: payment.reason,
});

const toProvider = (provider: RechargeProvider) => ({
  name: provider.name,
  reference: provider.reference,
  description: provider.description,
  params: parameterDefinitions(provider),
});

/** The document's create body shows `params` as a string: such a string must hold the JSON map. */
function legacyParams(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    throw invalid('params', 'params must be an object of strings, or that object as a JSON string.');
  }
}

function errorResponse(c: Context, code: ErrorCode, message: string, field: string | null = null) {
  if (code === 'UNAUTHENTICATED') c.header('WWW-Authenticate', 'Bearer error="invalid_token"');
  return c.json({ error: code, message, ...(field ? { field } : {}) }, errorStatus[code] as ContentfulStatusCode);
}

/** Tells a client its answer came from an earlier request with the same Idempotency-Key. */
function markReplay(c: Context, result: PaymentResult): RechargePayment {
  if (result.replayed) c.header('Idempotent-Replayed', 'true');
  return result.payment;
}

export function routes(deps: Deps) {
  const app = new OpenAPIHono<HttpEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const issue = result.error.issues[0];
      const path = issue?.path.map(String).join('.') || (result.target === 'json' ? 'body' : result.target);
      const message = issue?.code === 'unrecognized_keys' ? `Unknown field(s): ${issue.keys.join(', ')}.` : `${path}: ${issue?.message ?? 'invalid'}.`;
      const field = issue?.code === 'unrecognized_keys' ? issue.keys[0]! : path;
      return errorResponse(c, 'VALIDATION_FAILED', message, field);
    },
  });

  // The document writes the header as `Authentication: Bearer ...`; clients copying it are served too.
  const authenticate = (need: Parameters<typeof requireMerchant>[1]) =>
    createMiddleware<RechargeEnv>(async (c, next) => {
      const header = c.req.header('authorization') ?? c.req.header('authentication');
      const principal = header && /^Bearer\s/i.test(header) ? await deps.auth.authenticate(header) : null;
      if (header && !principal) throw new AccessError('UNAUTHENTICATED', 'The access token is invalid, expired or revoked; get one from POST /oauth/token.');
      c.set('merchant', requireMerchant(principal, need));
      await next();
    });
  const readProviders = authenticate({ scope: 'credit' });
  const managePayments = authenticate({ scope: 'credit', right: 'Manage payments' });
  const tags = ['recharge'];
  const security = [{ Bearer: [] }];

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v3/rechargeProviders',
      summary: 'Get current active recharge providers',
      tags,
      security,
      middleware: [readProviders] as const,
      responses: {
        200: json(z.object({ providers: z.array(providerBody), count: z.number().int() }), 'The providers'),
        401: errorResponses[401],
        403: errorResponses[403],
      },
    }),
    async (c) => {
      const providers = await listRechargeProviders(deps.prisma, c.get('merchant').merchantId);
      return c.json({ providers: providers.map(toProvider), count: providers.length }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v3/rechargeProviders/{reference}/payments',
      summary: "Get a provider's payments, newest first",
      description: 'Needs the right "Manage payments". `count` is the number of payments matching the filter; `limit` and `offset` page through them.',
      tags,
      security,
      middleware: [managePayments] as const,
      request: {
        params: referenceParams,
        query: z.object({
          state: z.enum(PAYMENT_STATES).optional(),
          userId: z.string().regex(/^\d{1,16}$/, 'a non-negative integer').optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
        }),
      },
      responses: {
        200: json(z.object({ payments: z.array(paymentItem), count: z.number().int() }), 'The payments'),
        ...errorResponses,
      },
    }),
    async (c) => {
      const { reference } = c.req.valid('param');
      const query = c.req.valid('query');
      const { payments, count } = await listRechargePayments(deps, {
        merchantId: c.get('merchant').merchantId,
        providerReference: reference,
        filter: { state: query.state ?? null, userId: query.userId === undefined ? null : parseUserId(query.userId) },
        offset: query.offset,
        limit: query.limit,
      });
      return c.json({ payments: payments.map((payment) => toItem(payment, payment.provider.reference)), count }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v3/rechargeProviders/{reference}/payments',
      summary: 'Create a payment; commit it to make it effective',
      description: 'Needs the right "Manage payments". An Idempotency-Key header makes a retry answer the first result.',
      tags,
      security,
      middleware: [managePayments] as const,
      request: {
        params: referenceParams,
        headers: idempotencyHeader,
        body: jsonBody(
          z
            .object({
              userId: z.union([z.number().int(), z.string()]).openapi({ description: 'A non-negative integer; a string of digits is accepted.' }),
              description: z.string().max(1000).nullable().optional(),
              params: paramValues.optional(),
            })
            .strict(),
        ),
      },
      responses: {
        200: json(
          z.object({ id: z.string(), userId: z.number().int(), amount: z.number().int(), description: z.string(), params: z.record(z.string(), z.string()) }),
          'The pending payment',
        ),
        ...errorResponses,
        422: stateChangeResponses[422],
      },
    }),
    async (c) => {
      const { reference } = c.req.valid('param');
      const body = c.req.valid('json');
      const payment = markReplay(
        c,
        await createRechargePayment(deps, {
          merchantId: c.get('merchant').merchantId,
          providerReference: reference,
          userId: body.userId,
          description: body.description ?? null,
          params: legacyParams(body.params),
          idempotencyKey: c.req.valid('header')['idempotency-key'] ?? null,
        }),
      );
      return c.json(
        {
          id: payment.id,
          userId: legacyNumber(payment.userId),
          amount: legacyNumber(payment.amount),
          description: payment.description,
          params: payment.params as Record<string, string>,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/v3/rechargeProviders/{reference}/payments/{id}',
      summary: "Update a pending payment's description or params",
      description: 'Needs the right "Manage payments". `params` replaces the parameters as a whole.',
      tags,
      security,
      middleware: [managePayments] as const,
      request: {
        params: paymentParams,
        headers: idempotencyHeader,
        body: jsonBody(z.object({ description: z.string().max(1000).nullable().optional(), params: paramValues.nullable().optional() }).strict()),
      },
      responses: { 200: json(paymentDetail, 'The updated payment'), ...errorResponses, ...stateChangeResponses },
    }),
    async (c) => {
      const { reference, id } = c.req.valid('param');
      const body = c.req.valid('json');
      const payment = markReplay(
        c,
        await updateRechargePayment(deps, {
          merchantId: c.get('merchant').merchantId,
          providerReference: reference,
          paymentId: id,
          description: body.description ?? null,
          params: body.params === undefined || body.params === null ? null : legacyParams(body.params),
          idempotencyKey: c.req.valid('header')['idempotency-key'] ?? null,
        }),
      );
      return c.json(toDetail(payment, reference), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v3/rechargeProviders/{reference}/payments/{id}/commit',
      summary: 'Commit the payment, to make it effective',
      description: 'Needs the right "Manage payments". Committing a committed payment answers the same amount again.',
      tags,
      security,
      middleware: [managePayments] as const,
      request: { params: paymentParams, headers: idempotencyHeader },
      responses: { 200: json(z.object({ amount: z.number().int() }), 'The amount credited'), ...errorResponses, ...stateChangeResponses },
    }),
    async (c) => {
      const { reference, id } = c.req.valid('param');
      const payment = markReplay(
        c,
        await commitRechargePayment(deps, {
          merchantId: c.get('merchant').merchantId,
          providerReference: reference,
          paymentId: id,
          idempotencyKey: c.req.valid('header')['idempotency-key'] ?? null,
        }),
      );
      return c.json({ amount: legacyNumber(payment.amount) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v3/rechargeProviders/{reference}/payments/{id}/rollback',
      summary: 'Roll back the payment',
      description: 'Needs the right "Manage payments". Rolling back a rolled-back payment answers it again, with its first reason.',
      tags,
      security,
      middleware: [managePayments] as const,
      request: {
        params: paymentParams,
        headers: idempotencyHeader,
        body: jsonBody(z.object({ reason: z.string().min(1).max(500) }).strict()),
      },
      responses: { 200: json(paymentDetail, 'The rolled-back payment'), ...errorResponses, ...stateChangeResponses },
    }),
    async (c) => {
      const { reference, id } = c.req.valid('param');
      const payment = markReplay(
        c,
        await rollbackRechargePayment(deps, {
          merchantId: c.get('merchant').merchantId,
          providerReference: reference,
          paymentId: id,
          reason: c.req.valid('json').reason,
          idempotencyKey: c.req.valid('header')['idempotency-key'] ?? null,
        }),
      );
      return c.json(toDetail(payment, reference), 200);
    },
  );

  app.onError((error, c) => {
    if (error instanceof AppError) return errorResponse(c, error.code, error.message, error.field);
    if (error instanceof AccessError) return errorResponse(c, error.code, error.message);
    // Hono's own body checks: a body that is not JSON (415), malformed JSON.
    if (error instanceof HTTPException && error.status === 415) {
      return c.json({ error: 'UNSUPPORTED_MEDIA_TYPE', message: 'The body is sent as application/json.', field: 'body' }, 415);
    }
    if (error instanceof HTTPException && error.status < 500) return errorResponse(c, 'VALIDATION_FAILED', `body: ${error.message}.`, 'body');
    c.get('logger')?.error({ err: error }, 'unexpected error in a recharge route');
    return errorResponse(c, 'INTERNAL', 'Unexpected error.');
  });
  return app;
}
