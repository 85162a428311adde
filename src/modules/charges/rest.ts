/**
 * The legacy iPag charges API, unchanged on the wire: `Authorization: Basic base64(key:secret)`,
 * the document's `{id, resource, attributes}` bodies with amounts as reais, and failures as
 * `{"code": "406", "message": {field: [messages]}, "resource": "resources.charge.create"}`.
 * Also the payment link's page, `/vpos?billing=<token>`, which payers open in a browser.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { requireMerchant, type MerchantPrincipal } from '../../auth/principal.ts';
import type { Deps } from '../../deps.ts';
import { AccessError, AppError } from '../../errors.ts';
import type { HttpEnv } from '../../http/rest.ts';
import { headerKey } from '../../idempotency/idempotency.ts';
import { payThroughLink } from './debits.ts';
import { legacyCharge } from './legacy-json.ts';
import { CHARGE_STATUSES, type ChargeStatus } from './model.ts';
import { chargePage, messagePage } from './pay-page.ts';
import {
  callbackUrlCheck,
  createCharge,
  findCharge,
  findChargeByPaymentToken,
  legacyContext,
  listCharges,
  parseChargeId,
  updateCharge,
} from './service.ts';
import { ChargeInputError, validateChargeChanges, validateNewCharge, type FieldErrors } from './validation.ts';

const PATH = '/service/resources/charges';
const MAX_PER_PAGE = 100;

type Resource = 'resources.charge.create' | 'resources.charge.update' | 'resources.charge.show' | 'resources.charge.list';
type ChargesEnv = { Variables: HttpEnv['Variables'] & { merchant: MerchantPrincipal } };

/** Every failure of these routes: status and body. 401 and 403 are iPag's own (numeric code). */
const LEGACY_FAILURES = {
  UNAUTHENTICATED: { status: 401, body: () => ({ code: 401, message: 'Unauthorized', resource: 'authorization' }) },
  FORBIDDEN: { status: 403, body: () => ({ code: 403, message: 'Not Authorized', resource: 'authorization' }) },
  NOT_FOUND: { status: 404, body: (resource: Resource, message: string) => ({ code: '404', message, resource }) },
  NOT_ACCEPTABLE: { status: 406, body: (resource: Resource, fields: FieldErrors) => ({ code: '406', message: fields, resource }) },
  INTERNAL: { status: 500, body: (resource: Resource) => ({ code: '500', message: 'Internal server error', resource }) },
} as const;

class LegacyFailure extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly body: unknown,
  ) {
    super(`legacy failure ${status}`);
  }
}

function resourceOf(c: Context): Resource {
  return chargesResourceOf(c.req.raw);
}

/** The iPag resource a request addresses, as its error bodies name it. */
export function chargesResourceOf(request: Request): Resource {
  if (request.method === 'POST') return 'resources.charge.create';
  if (request.method === 'PUT') return 'resources.charge.update';
  return new URL(request.url).searchParams.has('id') ? 'resources.charge.show' : 'resources.charge.list';
}

/** Maps any error of a legacy route to its envelope; null for what is not ours to explain. */
function legacyFailureOf(error: unknown, resource: Resource): LegacyFailure | null {
  if (error instanceof LegacyFailure) return error;
  if (error instanceof AccessError) {
    const failure = error.code === 'UNAUTHENTICATED' ? LEGACY_FAILURES.UNAUTHENTICATED : LEGACY_FAILURES.FORBIDDEN;
    return new LegacyFailure(failure.status, failure.body());
  }
  if (error instanceof ChargeInputError) return new LegacyFailure(406, LEGACY_FAILURES.NOT_ACCEPTABLE.body(resource, error.fields));
  if (error instanceof AppError && error.code === 'NOT_FOUND') return new LegacyFailure(404, LEGACY_FAILURES.NOT_FOUND.body(resource, error.message));
  // Every other business refusal (a conflict, a reused idempotency key) is "not accepted" too.
  if (error instanceof AppError) return new LegacyFailure(406, LEGACY_FAILURES.NOT_ACCEPTABLE.body(resource, { [error.field ?? 'charge']: [error.message] }));
  if (error instanceof HTTPException && error.status < 500) {
    return new LegacyFailure(406, LEGACY_FAILURES.NOT_ACCEPTABLE.body(resource, { body: ['The body must be a JSON object sent as application/json'] }));
  }
  return null;
}

const Envelope = z
  .object({ code: z.union([z.string(), z.number()]), message: z.unknown(), resource: z.string() })
  .openapi('ChargesLegacyError', { description: '406: `message` maps each failing field to its messages, every failing field at once.' });
const failure = (description: string) => ({ description, content: { 'application/json': { schema: Envelope } } });
const accessResponses = {
  401: failure('No `Authorization: Basic …` header, or a wrong key or secret: `{"code":401,"message":"Unauthorized","resource":"authorization"}`.'),
  403: failure('The credential lacks the scope `charges`: `{"code":403,"message":"Not Authorized","resource":"authorization"}`.'),
};

const fieldDoc = (type: 'string' | 'number' | 'integer' | 'boolean', description: string) => ({ type, description });
const CustomerDoc = {
  type: 'object' as const,
  required: ['name'],
  properties: {
    name: fieldDoc('string', 'Up to 100 characters.'),
    cpf_cnpj: fieldDoc('string', 'A valid CPF or CNPJ, with or without punctuation; the customer is found again by it.'),
    phone: fieldDoc('string', 'Area code and number: 10 or 11 digits, punctuation allowed.'),
    email: fieldDoc('string', 'Up to 50 characters.'),
  },
  additionalProperties: false,
};
const ChargeFieldsDoc = {
  amount: fieldDoc('number', 'Reais, at most 2 decimals (150.00); a decimal string is accepted too.'),
  description: fieldDoc('string', '1 to 1000 characters.'),
  due_date: fieldDoc('string', 'First installment due date: Y-m-d or d/m/Y.'),
  last_charge_date: fieldDoc('string', 'Y-m-d or d/m/Y; a recurring charge issues no occurrence after it.'),
  callback_url: fieldDoc('string', 'Up to 255 characters; must resolve to public addresses only. Empty or null: none.'),
  auto_debit: fieldDoc('boolean', 'Debit the card on file on each due date.'),
  is_active: fieldDoc('boolean', 'false cancels what is unpaid (and stops a recurring charge).'),
};

// The body is checked by validation.ts, which names every failing field at once; these schemas
// only describe it for the OpenAPI document.
const CreateBody = z.unknown().openapi('ChargeCreateRequest', {
  type: 'object',
  required: ['amount', 'description', 'due_date', 'customer'],
  properties: {
    ...ChargeFieldsDoc,
    frequency: fieldDoc('integer', '1 to 12 intervals between installments. Default 1.'),
    interval: { type: 'string' as const, enum: ['day', 'week', 'month'], description: 'Default month.' },
    type: { type: 'string' as const, enum: ['normal', 'recurring'], description: 'Default normal.' },
    installments: fieldDoc('integer', 'normal: 1 to 48 parts the amount is split into; recurring: occurrences issued ahead. Default 1.'),
    customer: CustomerDoc,
  },
  additionalProperties: false,
});
const UpdateBody = z.unknown().openapi('ChargeUpdateRequest', {
  type: 'object',
  description: 'Only the fields sent change.',
  properties: ChargeFieldsDoc,
  additionalProperties: false,
});
const ChargeDocument = z.unknown().openapi('ChargeDocument', {
  type: 'object',
  description: 'The charge as the legacy document shows it: `{id, resource: "charges", attributes: {…, customer, installments: {data: […]}, links: {payment}}}`.',
});
const chargeResponse = (description: string) => ({ description, content: { 'application/json': { schema: ChargeDocument } } });

const IdQuery = z.string().openapi({ param: { name: 'id', in: 'query' }, example: '100000' });

const createRouteDef = createRoute({
  method: 'post',
  path: PATH,
  summary: 'New charge',
  request: { body: { required: true, content: { 'application/json': { schema: CreateBody } } } },
  responses: { 201: chargeResponse('Resource created.'), ...accessResponses, 406: failure('Not accepted: some sent data is invalid.') },
});

const updateRouteDef = createRoute({
  method: 'put',
  path: PATH,
  summary: 'Charge update (partial)',
  request: { query: z.object({ id: IdQuery.optional() }), body: { required: true, content: { 'application/json': { schema: UpdateBody } } } },
  responses: { 200: chargeResponse('The updated charge.'), ...accessResponses, 404: failure('No such charge.'), 406: failure('Not accepted.') },
});

const getRouteDef = createRoute({
  method: 'get',
  path: PATH,
  summary: 'Charge query (with ?id=) or list charges (paginated)',
  description:
    'With `id`: one charge. Without: the newest first, as `{"data": [charges], "meta": {"pagination": {total, count, per_page, current_page, total_pages, links}}}`.',
  request: {
    query: z.object({
      id: IdQuery.optional(),
      page: z.string().optional().openapi({ description: 'From 1.' }),
      per_page: z.string().optional().openapi({ description: `1 to ${MAX_PER_PAGE}, default 20.` }),
      status: z.string().optional().openapi({ description: CHARGE_STATUSES.join(' | ') }),
      is_active: z.string().optional().openapi({ description: 'true or false' }),
    }),
  },
  responses: { 200: chargeResponse('The charge, or a page of charges.'), ...accessResponses, 404: failure('No such charge.'), 406: failure('Bad query.') },
});

const payPageDef = createRoute({
  method: 'get',
  path: '/vpos',
  summary: 'Payment link: the payer’s page (HTML)',
  request: { query: z.object({ billing: z.string().optional() }) },
  responses: {
    200: { description: 'The charge and a form to pay an installment', content: { 'text/html': { schema: z.string() } } },
    404: { description: 'Unknown link', content: { 'text/html': { schema: z.string() } } },
  },
});

const PayForm = z.object({
  billing: z.string().max(64),
  installment: z.string().regex(/^\d{1,3}$/),
  card_token: z.string().regex(/^[\w-]{1,100}$/),
});

const payDef = createRoute({
  method: 'post',
  path: '/vpos',
  summary: 'Payment link: pay one installment with a (sandbox) card token',
  request: { body: { required: true, content: { 'application/x-www-form-urlencoded': { schema: PayForm } } } },
  responses: {
    200: { description: 'Paid: the page again, with the installment paid', content: { 'text/html': { schema: z.string() } } },
    400: { description: 'A malformed form', content: { 'text/html': { schema: z.string() } } },
    402: { description: 'The card was declined or the processor failed', content: { 'text/html': { schema: z.string() } } },
    404: { description: 'Unknown link or installment', content: { 'text/html': { schema: z.string() } } },
    409: { description: 'Already paid, or a payment of it is in progress', content: { 'text/html': { schema: z.string() } } },
    410: { description: 'The charge is no longer active', content: { 'text/html': { schema: z.string() } } },
  },
});

function booleanQuery(value: string | undefined, field: string, errors: FieldErrors): boolean | null {
  if (value === undefined || value === '') return null;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  errors[field] = [`${field} must be true or false`];
  return null;
}

function integerQuery(value: string | undefined, field: string, fallback: number, max: number, errors: FieldErrors): number {
  if (value === undefined || value === '') return fallback;
  if (!/^\d{1,6}$/.test(value) || Number(value) < 1 || Number(value) > max) {
    errors[field] = [`${field} must be an integer from 1 to ${max}`];
    return fallback;
  }
  return Number(value);
}

function requireId(value: string | undefined): number {
  if (value === undefined || value === '') throw new ChargeInputError({ id: ['Id is required'] });
  const id = parseChargeId(value);
  if (id === null) throw new ChargeInputError({ id: ['Id must be a positive integer'] });
  return id;
}

const idempotencyKeyOf = (c: Context) => headerKey(c.req.header('idempotency-key'));

export function routes(deps: Deps): OpenAPIHono<HttpEnv> {
  const app = new OpenAPIHono<ChargesEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      if (c.req.path === '/vpos') return c.html(messagePage('Invalid payment', 'Choose an installment and enter a valid card token.'), 400);
      const fields: FieldErrors = {};
      for (const issue of result.error.issues) (fields[issue.path.join('.') || 'body'] ??= []).push(issue.message);
      throw new LegacyFailure(406, LEGACY_FAILURES.NOT_ACCEPTABLE.body(resourceOf(c), fields));
    },
  });

  // Credentials come first: a request without valid ones learns nothing else.
  app.use(PATH, async (c, next) => {
    const header = c.req.header('authorization');
    if (!header || !/^basic\s/i.test(header)) throw new AccessError('UNAUTHENTICATED', 'Basic credentials are required.');
    const principal = await deps.auth.authenticate(header);
    if (!principal) throw new AccessError('UNAUTHENTICATED', 'Wrong key or secret.');
    c.set('merchant', requireMerchant(principal, { scope: 'charges' }));
    await next();
  });

  const context = legacyContext(deps);

  app.openapi(createRouteDef, async (c) => {
    const draft = await validateNewCharge(c.req.valid('json'), { checkCallbackUrl: callbackUrlCheck(deps), legacy: true });
    const { charge } = await createCharge(deps, c.get('merchant').merchantId, draft, idempotencyKeyOf(c));
    return c.json(legacyCharge(charge, context), 201);
  });

  app.openapi(updateRouteDef, async (c) => {
    const id = requireId(c.req.valid('query').id);
    const changes = await validateChargeChanges(c.req.valid('json'), { checkCallbackUrl: callbackUrlCheck(deps), legacy: true });
    const charge = await updateCharge(deps, c.get('merchant').merchantId, id, changes);
    return c.json(legacyCharge(charge, context), 200);
  });

  app.openapi(getRouteDef, async (c) => {
    const query = c.req.valid('query');
    const merchantId = c.get('merchant').merchantId;
    if (query.id !== undefined) {
      const charge = await findCharge(deps.prisma, merchantId, requireId(query.id));
      if (!charge) throw new LegacyFailure(404, LEGACY_FAILURES.NOT_FOUND.body('resources.charge.show', 'Charge not found'));
      return c.json(legacyCharge(charge, context), 200);
    }
    const errors: FieldErrors = {};
    const page = integerQuery(query.page, 'page', 1, 1_000_000, errors);
    const perPage = integerQuery(query.per_page, 'per_page', 20, MAX_PER_PAGE, errors);
    const isActive = booleanQuery(query.is_active, 'is_active', errors);
    if (query.status !== undefined && !(CHARGE_STATUSES as readonly string[]).includes(query.status)) {
      errors.status = [`status must be one of ${CHARGE_STATUSES.join(', ')}`];
    }
    if (Object.keys(errors).length > 0) throw new ChargeInputError(errors);
    const { total, charges } = await listCharges(
      deps.prisma,
      merchantId,
      { statuses: query.status ? [query.status as ChargeStatus] : null, isActive },
      page,
      perPage,
    );
    const totalPages = Math.max(1, Math.ceil(total / perPage));
    const pageLink = (n: number) => {
      const params = new URLSearchParams(c.req.query());
      params.set('page', String(n));
      return `${PATH}?${params.toString()}`;
    };
    return c.json(
      {
        data: charges.map((charge) => legacyCharge(charge, context)),
        meta: {
          pagination: {
            total,
            count: charges.length,
            per_page: perPage,
            current_page: page,
            total_pages: totalPages,
            links: { ...(page > 1 ? { previous: pageLink(page - 1) } : {}), ...(page < totalPages ? { next: pageLink(page + 1) } : {}) },
          },
        },
      },
      200,
    );
  });

  app.openapi(payPageDef, async (c) => {
    const charge = await findChargeByPaymentToken(deps.prisma, c.req.valid('query').billing ?? '');
    if (!charge) return c.html(messagePage('Unknown payment link', 'This payment link does not exist.'), 404);
    return c.html(chargePage(charge), 200);
  });

  app.openapi(payDef, async (c) => {
    const form = c.req.valid('form');
    const outcome = await payThroughLink(deps, { paymentToken: form.billing, number: Number(form.installment), cardToken: form.card_token });
    if (outcome.kind === 'paid') {
      return c.html(chargePage(outcome.charge, { tone: 'ok', text: `Installment ${outcome.installment.number} is paid. Thank you!` }), 200);
    }
    const charge = await findChargeByPaymentToken(deps.prisma, form.billing);
    if (!charge) return c.html(messagePage('Unknown payment link', 'This payment link does not exist.'), 404);
    if (outcome.kind === 'declined') return c.html(chargePage(charge, { tone: 'bad', text: `The card was declined (${outcome.reason}).` }), 402);
    if (outcome.kind === 'error') return c.html(chargePage(charge, { tone: 'bad', text: `The payment failed: ${outcome.message}. Please try again.` }), 402);
    const unavailable = {
      unknown_charge: [404, 'This payment link does not exist.'],
      unknown_installment: [404, `This charge has no installment ${form.installment}.`],
      inactive: [410, 'This charge is no longer active.'],
      already_paid: [409, `Installment ${form.installment} is already paid.`],
      in_progress: [409, `A payment of installment ${form.installment} is in progress; reload this page in a minute.`],
    } as const;
    const [status, text] = unavailable[outcome.reason];
    return c.html(chargePage(charge, { tone: 'bad', text }), status);
  });

  app.onError((error, c) => {
    const resource = resourceOf(c);
    if (c.req.path === '/vpos') {
      if (error instanceof HTTPException && error.status < 500) {
        return c.html(messagePage('Invalid payment', 'Choose an installment and enter a valid card token.'), 400);
      }
      c.get('logger')?.error({ err: error }, 'unexpected error on the charge payment page');
      return c.html(messagePage('Something went wrong', 'Unexpected error; please try again later.'), 500);
    }
    const known = legacyFailureOf(error, resource);
    if (known) {
      if (known.status === 401) c.header('WWW-Authenticate', 'Basic realm="charges"');
      return c.json(known.body, known.status);
    }
    c.get('logger')?.error({ err: error }, 'unexpected error in the charges API');
    return c.json(LEGACY_FAILURES.INTERNAL.body(resource), 500);
  });

  return app as unknown as OpenAPIHono<HttpEnv>;
}
