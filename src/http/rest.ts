import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { actorOf, reasonIn, withActor } from '../audit/actor.ts';
import type { Database } from '../db/database.ts';
import type { Deps } from '../deps.ts';
import type { Yoga } from '../graphql/yoga.ts';
import { replaceNulInForm, replaceNulInUrl, replaceUnstorableEscapes } from '../lib/unicode.ts';
import type { Logger } from '../logger.ts';
import { legacyRoutes, modules, type Refusal } from '../modules/index.ts';
import { oauthRoutes } from '../modules/merchants/oauth.ts';
import { dashboardRoutes } from './dashboard.ts';
import { PAGE_HEADERS } from './html.ts';
import { graphqlServerContext, logRequest, requestIdOf } from './listener.ts';

export interface HttpVariables {
  requestId: string;
  logger: Logger;
}
export type HttpEnv = { Variables: HttpVariables };

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

async function within<T>(ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The request with `%00` (NUL, which PostgreSQL text cannot hold) in its URL replaced by U+FFFD.
 * Applied before routing, since path parameters are taken from the URL the router matched.
 */
export function withStorableUrl(request: Request): Request {
  const url = replaceNulInUrl(request.url);
  if (url === null) return request;
  const hasBody = request.body !== null && request.method !== 'GET' && request.method !== 'HEAD';
  return new Request(url, {
    method: request.method,
    headers: request.headers,
    body: hasBody ? request.body : undefined,
    signal: request.signal,
    ...(hasBody ? { duplex: 'half' } : {}),
  } as RequestInit);
}

/**
 * The whole HTTP surface: GraphQL (HTTP and SSE) at /graphql, health checks, the OpenAPI document,
 * the dashboard's static files at /dashboard and every legacy REST route at its original path.
 */
export function createHttpApp(deps: Deps, yoga: Yoga, database: Database, inFlight: { count: number }) {
  const app = new OpenAPIHono<HttpEnv>();

  app.use('*', async (c, next) => {
    const started = performance.now();
    const requestId = requestIdOf(c.req.header('x-request-id'));
    const logger = deps.logger.child({ requestId });
    c.set('requestId', requestId);
    c.set('logger', logger);
    inFlight.count++;
    try {
      await next();
    } finally {
      inFlight.count--;
    }
    c.header('x-request-id', requestId);
    logRequest(deps.logger, requestId, c.req.method, c.req.path, c.res.status, started);
  });
  const { config } = deps;
  const isGraphQL = (c: Context) => c.req.path === yoga.graphqlEndpoint;
  const production = config.NODE_ENV === 'production';

  /** A refusal in the error format of the API the path belongs to (the platform's own elsewhere). */
  const refuse = (c: Context, refusal: Refusal) => {
    if (isGraphQL(c)) return c.json({ errors: [{ message: refusal.message, extensions: { code: refusal.code } }] }, refusal.status);
    const owner = modules.find((module) => module.refusals?.paths.some((prefix) => c.req.path.startsWith(prefix)));
    if (owner?.refusals) return c.json(owner.refusals.body(refusal, c.req.raw) as object, refusal.status);
    return c.json({ error: refusal.code.toLowerCase(), message: refusal.message }, refusal.status);
  };

  const limitBody = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: (c) =>
        refuse(c, {
          code: 'PAYLOAD_TOO_LARGE',
          status: 413,
          message: production ? 'The request body is too large.' : `The request body is larger than ${maxSize} bytes.`,
        }),
    });
  const graphqlBodyLimit = limitBody(config.GRAPHQL_MAX_BODY_BYTES);
  const restBodyLimit = limitBody(config.REST_MAX_BODY_BYTES);
  app.use('*', (c, next) => (isGraphQL(c) ? graphqlBodyLimit : restBodyLimit)(c, next));

  // Text PostgreSQL cannot store in a JSON body (unpaired surrogates as `\ud800` escapes, and
  // `\u0000`) or a form body (NUL) becomes U+FFFD, as a UTF-8 encoder makes the former, so that
  // each legacy route judges the value in its own format instead of failing in the database. `%00`
  // in URLs is handled by withStorableUrl, before routing; GraphQL refuses such variables with a
  // typed error instead. Before any middleware reads the body: Hono keeps the first text it reads.
  app.use('*', async (c, next) => {
    if (c.req.path === yoga.graphqlEndpoint || !['POST', 'PUT', 'PATCH', 'DELETE'].includes(c.req.method)) return next();
    const type = c.req.header('content-type') ?? '';
    const multipart = type.includes('multipart/form-data');
    const storable = type.includes('json')
      ? replaceUnstorableEscapes
      : multipart || type.includes('application/x-www-form-urlencoded')
        ? (text: string) => replaceNulInForm(text, multipart)
        : null;
    if (storable) {
      const body = storable(await c.req.raw.clone().text());
      if (body !== null) c.req.raw = new Request(c.req.raw, { body });
    }
    return next();
  });

  // REST requests: one operation each from the caller's rate budget, and the caller recorded as the
  // actor of any money they move (GraphQL does both per root field, in Yoga).
  app.use('*', async (c, next) => {
    if (isGraphQL(c)) return next();
    const mutating = !SAFE_METHODS.has(c.req.method);
    if (!mutating && !deps.limiter.enabled) return next();
    // The recharge document spells the header `Authentication`, and that API accepts it.
    const header = c.req.header('authorization') ?? c.req.header('authentication');
    const principal = header ? await deps.auth.authenticate(header) : null;
    if (principal) {
      const decision = await deps.limiter.consume(principal, 1);
      if (!decision.allowed) {
        c.header('Retry-After', String(decision.retryAfterSeconds));
        return refuse(c, {
          code: 'RATE_LIMITED',
          status: 429,
          message: `Too many requests for this credential or merchant; retry after ${decision.retryAfterSeconds} s.`,
        });
      }
    }
    if (!mutating) return next();
    let reason: string | null = null;
    if (c.req.header('content-type')?.toLowerCase().includes('json')) {
      // Read as text, which Hono keeps for the route to read again in any form.
      const text = await c.req.text();
      if (text.includes('"reason"')) {
        try {
          reason = reasonIn(JSON.parse(text));
        } catch {
          // The route answers a malformed body in its own format.
        }
      }
    }
    return withActor(actorOf(principal, { action: `${c.req.method} ${c.req.path}`, requestId: c.get('requestId'), reason }), next);
  });

  // The payer-facing pages' headers (PAGE_HEADERS), on every HTML answer that sets none of its own
  // (the dashboard has its own policy; GraphiQL, on /graphql, loads its scripts).
  app.use('*', async (c, next) => {
    await next();
    if (isGraphQL(c) || c.res.headers.has('content-security-policy') || !c.res.headers.get('content-type')?.startsWith('text/html')) return;
    for (const [name, value] of Object.entries(PAGE_HEADERS)) c.res.headers.set(name, value);
  });

  app.on(['GET', 'POST', 'OPTIONS'], yoga.graphqlEndpoint, (c) =>
    yoga.fetch(
      c.req.raw,
      graphqlServerContext(
        deps,
        { requestId: c.get('requestId'), lastEventId: c.req.header('last-event-id') || null },
        // Under @hono/node-server, the Node response.
        () => (c.env as { outgoing?: { destroy(): void; destroyed: boolean } } | undefined)?.outgoing,
      ),
    ),
  );

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const check = (work: Promise<void>) =>
      within(1500, work).then(
        () => 'up' as const,
        () => 'down' as const,
      );
    const [db, redis] = await Promise.all([
      check(database.ping()),
      deps.bus.kind === 'redis' ? check(deps.bus.ping()) : Promise.resolve('not configured' as const),
    ]);
    const ready = db === 'up' && redis !== 'down';
    return c.json({ status: ready ? 'ready' : 'unavailable', database: db, redis }, ready ? 200 : 503);
  });

  app.route('/', dashboardRoutes());
  app.route('/', oauthRoutes(deps));
  for (const routes of legacyRoutes(deps)) app.route('/', routes);

  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Payments platform: legacy REST routes',
      version: '1.0.0',
      description: 'Every route of the five legacy APIs, served unchanged on the wire. The GraphQL API at /graphql covers the same actions.',
    },
  });

  app.notFound((c) => refuse(c, { code: 'NOT_FOUND', status: 404, message: 'No route for this method and path.' }));
  app.onError((error, c) => {
    c.get('logger')?.error({ err: error }, 'unhandled error in a REST route');
    return c.json({ error: 'internal_error', message: 'Unexpected error.' }, 500);
  });
  return app;
}
