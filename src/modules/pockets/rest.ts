/**
 * The legacy pockets API (Django REST Framework with TokenAuthentication), served unchanged on the
 * wire: `Authorization: Token <token>`, `{"detail": "..."}` error bodies, Persian messages.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { requireMerchant, type MerchantPrincipal } from '../../auth/principal.ts';
import type { Deps } from '../../deps.ts';
import { AccessError, AppError } from '../../errors.ts';
import type { HttpEnv } from '../../http/rest.ts';
import { MAX_BATCH_SIZE, PocketChargeError, SUCCESS_MESSAGE_FA } from './charge-failures.ts';
import { chargePockets, traceCharge } from './service.ts';

type LegacyFailure =
  | 'NO_CREDENTIALS'
  | 'BAD_CREDENTIALS'
  | 'FORBIDDEN'
  | 'GROUP_NOT_FOUND'
  | 'CHARGE_NOT_FOUND'
  | 'MALFORMED_JSON'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'INVALID_BODY'
  | 'INTERNAL';

/** Every failure of these routes, with its status and DRF-style `detail` (the first two are DRF's own wording). */
const LEGACY_FAILURES: Record<LegacyFailure, { status: ContentfulStatusCode; detail: string }> = {
  NO_CREDENTIALS: { status: 401, detail: 'اطلاعات برای اعتبارسنجی ارسال نشده است.' },
  BAD_CREDENTIALS: { status: 401, detail: 'توکن نامعتبر است.' },
  FORBIDDEN: { status: 403, detail: 'شما اجازه انجام این دستور را ندارید.' },
  GROUP_NOT_FOUND: { status: 404, detail: 'گروه جیب یافت نشد.' },
  CHARGE_NOT_FOUND: { status: 404, detail: 'شارژ موفقی با این توکن در این گروه جیب یافت نشد.' },
  MALFORMED_JSON: { status: 400, detail: 'بدنه درخواست JSON معتبر نیست.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, detail: 'نوع محتوای درخواست پشتیبانی نمی‌شود؛ بدنه را با Content-Type: application/json بفرستید.' },
  INVALID_BODY: { status: 400, detail: 'بدنه درخواست نامعتبر است.' },
  INTERNAL: { status: 500, detail: 'خطای داخلی سرور رخ داد.' },
};

class LegacyError extends Error {
  constructor(
    readonly failure: LegacyFailure,
    /** Replaces the table's detail with a more precise one (body validation). */
    readonly detail?: string,
  ) {
    super(failure);
  }
}

function legacyFailureOf(error: unknown): LegacyError | null {
  if (error instanceof LegacyError) return error;
  if (error instanceof AccessError) return new LegacyError(error.code === 'UNAUTHENTICATED' ? 'NO_CREDENTIALS' : 'FORBIDDEN');
  if (error instanceof AppError && error.code === 'NOT_FOUND') return new LegacyError('GROUP_NOT_FOUND');
  if (error instanceof AppError && error.code === 'VALIDATION_FAILED') return new LegacyError('INVALID_BODY');
  if (error instanceof HTTPException && error.status === 400) return new LegacyError('MALFORMED_JSON');
  if (error instanceof HTTPException && error.status === 415) return new LegacyError('UNSUPPORTED_MEDIA_TYPE');
  return null;
}

type PocketsEnv = { Variables: HttpEnv['Variables'] & { merchant: MerchantPrincipal } };

function answerFailure(c: Context<PocketsEnv>, error: LegacyError) {
  const { status, detail } = LEGACY_FAILURES[error.failure];
  if (status === 401) c.header('WWW-Authenticate', 'Token');
  return c.json({ detail: error.detail ?? detail }, status);
}

const Detail = z.object({ detail: z.string() }).openapi('PocketsErrorDetail');
const failureResponse = (description: string) => ({ description, content: { 'application/json': { schema: Detail } } });
const accessResponses = {
  401: failureResponse('No `Authorization: Token …` header, or an invalid token.'),
  403: failureResponse('The credential lacks the scope `pockets`.'),
};

const Slug = z.string().openapi({ param: { name: 'pocket_group_slug', in: 'path' }, example: 'my-pocket-group' });

// Items are validated one by one by the service (a bad item fails alone), so the body schema only
// checks the envelope; the item shape below is for the OpenAPI document.
const ChargeItem = z.unknown().openapi('PocketChargeItem', {
  type: 'object',
  required: ['token', 'phone_number', 'amount'],
  properties: {
    token: { type: 'string', format: 'uuid', description: 'A UUID version 7, used once per merchant, forever.' },
    phone_number: { type: 'string', description: 'The user\'s mobile number: 989120000000, 09120000000 or +989120000000.' },
    amount: { type: 'integer', description: 'Minor units (rials), a positive safe integer.' },
  },
});

const ChargeBody = z
  .strictObject(
    {
      charges: z
        .array(ChargeItem, {
          error: (issue) => (issue.input === undefined ? 'فیلد charges الزامی است.' : 'فیلد charges باید یک آرایه باشد.'),
        })
        .max(MAX_BATCH_SIZE, { error: `هر درخواست حداکثر ${MAX_BATCH_SIZE} شارژ می‌پذیرد.` }),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `فیلد ناشناخته در بدنه درخواست: ${issue.keys.join(', ')}`
          : 'بدنه درخواست باید یک شیء JSON با فیلد charges باشد.',
    },
  )
  .openapi('PocketChargeRequest');

/** A failed item echoes the value sent when it is one (a string, number or boolean), else null. */
const Echoed = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const ChargeResultItem = z
  .object({
    token: Echoed.openapi({ description: 'On success the canonical token; on a failed item the value sent, or null.' }),
    phone_number: Echoed.openapi({ description: 'On success the canonical number; on a failed item the canonical number once valid, else the value sent, or null.' }),
    amount: Echoed.openapi({ description: 'On success the amount in minor units (an integer); on a failed item the value sent, or null.' }),
    status: z.enum(['success', 'error']),
    message: z.string(),
  })
  .openapi('PocketChargeResultItem');

const chargeRoute = createRoute({
  method: 'post',
  path: '/badje/v1/pockets/{pocket_group_slug}/charge/',
  summary: 'شارژ کیف پول‌ها (charge pockets)',
  description:
    'Charges one or more pockets of a group. Every item is judged on its own and answered in order; a token is used once per merchant, forever.',
  request: {
    params: z.object({ pocket_group_slug: Slug }),
    body: { required: true, content: { 'application/json': { schema: ChargeBody } } },
  },
  responses: {
    200: { description: 'One result per item, in order.', content: { 'application/json': { schema: z.object({ results: z.array(ChargeResultItem) }) } } },
    400: failureResponse('The body is not JSON, or has no `charges` array, or more than 1000 items.'),
    ...accessResponses,
    404: failureResponse('No pocket group with this slug for this merchant.'),
    415: failureResponse('The body is not sent as application/json.'),
  },
});

const traceRoute = createRoute({
  method: 'get',
  path: '/badje/v1/pockets/{pocket_group_slug}/charge/{token}/',
  summary: 'پیگیری شارژ (trace a charge)',
  description: "A successful charge of this merchant in this group, by its token.",
  request: {
    params: z.object({
      pocket_group_slug: Slug,
      token: z.string().openapi({ param: { name: 'token', in: 'path' }, example: '01988f7a-d22b-7c3d-977f-27af99c2a5a5' }),
    }),
  },
  responses: {
    200: {
      description: 'The charge.',
      content: { 'application/json': { schema: z.object({ token: z.string(), phone_number: z.string(), amount: z.number().int() }) } },
    },
    ...accessResponses,
    404: failureResponse('No successful charge with this token in this group (an unknown group, or another merchant\'s, answers the same).'),
  },
});

/** A charge amount as a JSON integer: amounts are bounded by MAX_CHARGE_AMOUNT, far below 2^53. */
const jsonInteger = (amount: bigint | null): number | null => (amount === null ? null : Number(amount));

/** The item's own value, as sent. */
function sentField(item: unknown, key: string): unknown {
  return item !== null && typeof item === 'object' && !Array.isArray(item) ? (item as Record<string, unknown>)[key] : undefined;
}

/** What a failed item echoes of a field: the value sent when it is one value (not an object or array), else null. */
function echoed(item: unknown, key: string): string | number | boolean | null {
  const value = sentField(item, key);
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : null;
}

export function routes(deps: Deps): OpenAPIHono<HttpEnv> {
  const app = new OpenAPIHono<PocketsEnv>({
    defaultHook: (result, c) => {
      if (!result.success) return answerFailure(c, new LegacyError('INVALID_BODY', result.error.issues[0]?.message));
    },
  });

  // Authentication comes first, as in DRF: a request without valid credentials learns nothing else.
  // Only the document's `Token` scheme: DRF's TokenAuthentication passes over any other header.
  app.use('/badje/v1/pockets/*', async (c, next) => {
    const header = c.req.header('authorization');
    if (!header || !/^token\s/i.test(header)) throw new LegacyError('NO_CREDENTIALS');
    const principal = await deps.auth.authenticate(header);
    if (!principal) throw new LegacyError('BAD_CREDENTIALS');
    c.set('merchant', requireMerchant(principal, { scope: 'pockets' }));
    await next();
  });

  app.openapi(chargeRoute, async (c) => {
    const { pocket_group_slug: slug } = c.req.valid('param');
    const { charges } = c.req.valid('json');
    const results = await chargePockets(
      deps,
      c.get('merchant').merchantId,
      slug,
      charges.map((item) => ({ token: sentField(item, 'token'), phoneNumber: sentField(item, 'phone_number'), amount: sentField(item, 'amount') })),
    );
    return c.json(
      {
        results: results.map((result, index) => {
          if (!(result instanceof PocketChargeError)) {
            return { token: result.token, phone_number: result.phoneNumber, amount: jsonInteger(result.amount)!, status: 'success' as const, message: SUCCESS_MESSAGE_FA };
          }
          const item = charges[index];
          return {
            token: echoed(item, 'token'),
            phone_number: result.phoneNumber ?? echoed(item, 'phone_number'),
            amount: echoed(item, 'amount'),
            status: 'error' as const,
            message: result.messageFa,
          };
        }),
      },
      200,
    );
  });

  app.openapi(traceRoute, async (c) => {
    const { pocket_group_slug: slug, token } = c.req.valid('param');
    const charge = await traceCharge(deps.prisma, c.get('merchant').merchantId, slug, token);
    if (!charge) throw new LegacyError('CHARGE_NOT_FOUND');
    return c.json({ token: charge.token, phone_number: charge.phoneNumber, amount: jsonInteger(charge.amount)! }, 200);
  });

  app.onError((error, c) => {
    const known = legacyFailureOf(error);
    if (known) return answerFailure(c, known);
    c.get('logger')?.error({ err: error }, 'unexpected error in the pockets API');
    return answerFailure(c, new LegacyError('INTERNAL'));
  });

  return app as unknown as OpenAPIHono<HttpEnv>;
}
