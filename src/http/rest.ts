import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import type { Database } from '../db/database.ts';
import type { Deps } from '../deps.ts';
import type { Yoga } from '../graphql/yoga.ts';
import { uuidv7 } from '../lib/ids.ts';
import { replaceNulInUrl, replaceUnstorableEscapes } from '../lib/unicode.ts';
import type { Logger } from '../logger.ts';
import { legacyRoutes } from '../modules/index.ts';
import { oauthRoutes } from '../modules/merchants/oauth.ts';

export interface HttpVariables {
  requestId: string;
  logger: Logger;
}
export type HttpEnv = { Variables: HttpVariables };

const REQUEST_ID = /^[\w.-]{1,128}$/;
const MAX_BODY_BYTES = 1024 * 1024;

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
 * The whole HTTP surface: GraphQL (HTTP and SSE) at /graphql, health checks, the OpenAPI document
 * and every legacy REST route at its original path.
 */
export function createHttpApp(deps: Deps, yoga: Yoga, database: Database, inFlight: { count: number }) {
  const app = new OpenAPIHono<HttpEnv>();

  app.use('*', async (c, next) => {
    const given = c.req.header('x-request-id');
    const requestId = given && REQUEST_ID.test(given) ? given : uuidv7();
    const logger = deps.logger.child({ requestId });
    c.set('requestId', requestId);
    c.set('logger', logger);
    const started = performance.now();
    inFlight.count++;
    try {
      await next();
    } finally {
      inFlight.count--;
    }
    c.header('x-request-id', requestId);
    // The path only: query strings can carry tokens.
    logger.info({ method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started) }, 'request');
  });
  app.use(
    '*',
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => c.json({ error: 'payload_too_large', message: `The body is larger than ${MAX_BODY_BYTES} bytes.` }, 413),
    }),
  );

  // Text PostgreSQL cannot store in a JSON body (unpaired surrogates as `\ud800` escapes, and
  // `\u0000`) becomes U+FFFD, as a UTF-8 encoder makes the former, so that each legacy route judges
  // the value in its own format instead of failing in the database. `%00` in URLs is handled by
  // withStorableUrl, before routing; GraphQL refuses such variables with a typed error instead.
  app.use('*', async (c, next) => {
    if (c.req.path === yoga.graphqlEndpoint) return next();
    if (['POST', 'PUT', 'PATCH', 'DELETE'].includes(c.req.method) && (c.req.header('content-type') ?? '').includes('json')) {
      const body = replaceUnstorableEscapes(await c.req.raw.clone().text());
      if (body !== null) c.req.raw = new Request(c.req.raw, { body });
    }
    return next();
  });

  app.on(['GET', 'POST', 'OPTIONS'], yoga.graphqlEndpoint, (c) =>
    yoga.fetch(c.req.raw, { requestId: c.get('requestId'), logger: c.get('logger') }),
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

  app.notFound((c) => c.json({ error: 'not_found', message: 'No route for this method and path.' }, 404));
  app.onError((error, c) => {
    c.get('logger')?.error({ err: error }, 'unhandled error in a REST route');
    return c.json({ error: 'internal_error', message: 'Unexpected error.' }, 500);
  });
  return app;
}
