import { OpenAPIHono, z } from '@hono/zod-openapi';
import { decodeBasic, issueAccessToken } from '../../auth/credentials.ts';
import type { Deps } from '../../deps.ts';
import type { HttpEnv } from '../../http/rest.ts';

const tokenRequest = z
  .object({
    grant_type: z.string().min(1).max(64),
    username: z.string().min(1).max(64).optional(),
    password: z.string().min(1).max(256).optional(),
    client_id: z.string().min(1).max(128).optional(),
    client_secret: z.string().min(1).max(512).optional(),
    scope: z.string().max(512).optional(),
  })
  .strict();

const tokenResponse = z.object({
  access_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
  scope: z.string(),
});

const GRANTS = ['client_credentials', 'login_info'];

const oauthError = (error: string, description: string) => ({ error, error_description: description });

/** RFC 6749 §5.2: errors are JSON with `error`, and never cached. */
function reply(c: { json: (body: unknown, status: 200 | 400 | 401, headers: Record<string, string>) => Response }, body: unknown, status: 200 | 400 | 401) {
  return c.json(body, status, { 'Cache-Control': 'no-store', Pragma: 'no-cache' });
}

/**
 * POST /oauth/token: the client-credentials grant (RFC 6749 §4.4), and the recharge document's
 * `login_info` grant, read as a staff member's login (shaped like RFC 6749 §4.3's password grant):
 * the merchant's client authenticates as usual and adds a staff member's username and password;
 * the token gets what both the client and the staff member hold. The client authenticates with
 * HTTP Basic (client_secret_basic) or with client_id and client_secret in the body
 * (client_secret_post); the body is a form or JSON.
 */
export function oauthRoutes(deps: Deps) {
  const app = new OpenAPIHono<HttpEnv>();
  app.openAPIRegistry.registerPath({
    method: 'post',
    path: '/oauth/token',
    summary: 'Exchange OAuth2 client credentials for an access token',
    tags: ['oauth'],
    request: {
      body: {
        content: {
          'application/x-www-form-urlencoded': { schema: tokenRequest },
          'application/json': { schema: tokenRequest },
        },
      },
    },
    responses: {
      200: { description: 'An access token', content: { 'application/json': { schema: tokenResponse } } },
      400: { description: 'invalid_request, unsupported_grant_type, invalid_grant or invalid_scope' },
      401: { description: 'invalid_client' },
    },
  });

  app.post('/oauth/token', async (c) => {
    const type = c.req.header('content-type') ?? '';
    let raw: unknown;
    try {
      raw = type.includes('application/json') ? await c.req.json() : Object.fromEntries(new URLSearchParams(await c.req.text()));
    } catch {
      return reply(c, oauthError('invalid_request', 'The body is not valid JSON or form data.'), 400);
    }
    // RFC 6749 §5.2: any other grant is unsupported, whatever parameters it carries.
    const grant = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>).grant_type : undefined;
    if (typeof grant === 'string' && !GRANTS.includes(grant)) {
      return reply(c, oauthError('unsupported_grant_type', 'The grant types are client_credentials and login_info.'), 400);
    }
    const parsed = tokenRequest.safeParse(raw);
    if (!parsed.success) {
      const field = parsed.error.issues[0]?.path.join('.') || 'body';
      return reply(c, oauthError('invalid_request', `Invalid or unknown parameter: ${field}.`), 400);
    }
    const body = parsed.data;
    const login = body.grant_type === 'login_info';
    if (login && (!body.username || !body.password)) {
      return reply(c, oauthError('invalid_request', 'The login_info grant takes username and password.'), 400);
    }
    if (!login && (body.username !== undefined || body.password !== undefined)) {
      return reply(c, oauthError('invalid_request', 'username and password belong to the login_info grant.'), 400);
    }
    let clientId = body.client_id;
    let clientSecret = body.client_secret;
    const header = /^Basic +(\S+)$/i.exec(c.req.header('authorization') ?? '');
    if (header) {
      const basic = decodeBasic(header[1]!, true);
      if (!basic) return reply(c, oauthError('invalid_client', 'The Basic credentials are malformed.'), 401);
      clientId = basic.userId;
      clientSecret = basic.password;
    }
    if (!clientId || !clientSecret) return reply(c, oauthError('invalid_client', 'Client authentication is missing.'), 401);
    const issued = await issueAccessToken(deps.prisma, {
      clientId,
      clientSecret,
      scope: body.scope ?? null,
      ttlSeconds: deps.config.OAUTH_TOKEN_TTL_SECONDS,
      ...(login ? { staff: { username: body.username!, password: body.password! } } : {}),
    }, deps.clock.now());
    if ('error' in issued) {
      if (issued.error === 'invalid_client') return reply(c, oauthError('invalid_client', 'Unknown client or wrong secret.'), 401);
      if (issued.error === 'invalid_grant') return reply(c, oauthError('invalid_grant', 'Unknown username or wrong password.'), 400);
      return reply(c, oauthError('invalid_scope', 'The requested scope exceeds what was granted.'), 400);
    }
    return reply(c, { access_token: issued.accessToken, token_type: 'Bearer', expires_in: issued.expiresIn, scope: issued.scope }, 200);
  });
  return app;
}
