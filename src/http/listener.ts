import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { Deps } from '../deps.ts';
import type { ServerContext, Yoga } from '../graphql/yoga.ts';
import { uuidv7 } from '../lib/ids.ts';
import type { Logger } from '../logger.ts';

const REQUEST_ID = /^[\w.-]{1,128}$/;

/** A request's id: the caller's `X-Request-Id` when well-formed, else a new one. */
export function requestIdOf(given: string | undefined): string {
  return given && REQUEST_ID.test(given) ? given : uuidv7();
}

/** The one line logged per request. The path only: query strings can carry tokens. */
export function logRequest(logger: Logger, requestId: string, method: string, path: string, status: number, started: number): void {
  if (logger.isLevelEnabled('info')) logger.info({ requestId, method, path, status, ms: Math.round(performance.now() - started) }, 'request');
}

/**
 * What every GraphQL request over HTTP hands to Yoga: its id, its SSE resume position, and a way
 * to end an SSE response whose client stopped reading.
 */
export function graphqlServerContext(
  deps: Deps,
  request: { requestId: string; lastEventId: string | null },
  outgoing: () => { destroy(): void; destroyed: boolean } | undefined,
): ServerContext {
  return {
    requestId: request.requestId,
    stream: { lastEventId: request.lastEventId, eventId: null },
    dropConnection: () => {
      const response = outgoing();
      if (!response || response.destroyed) return;
      deps.subscriptions.slowConsumersDropped++;
      deps.logger.warn({ requestId: request.requestId }, 'ending an SSE response whose client does not keep up');
      response.destroy();
    },
  };
}

/**
 * Whether Yoga can take the request straight from Node: a GET, or a POST whose declared length is
 * within the GraphQL body limit (Node's parser never lets a body run past its Content-Length), at
 * the GraphQL endpoint, with no `%00` in the URL. Anything else (a chunked or oversized body, other
 * methods, `%00`) goes through the HTTP app, whose middleware answers it exactly as before.
 */
function isDirectGraphQL(request: IncomingMessage, endpoint: string, maxBodyBytes: number): boolean {
  const url = request.url ?? '';
  if (!url.startsWith(endpoint) || (url.length > endpoint.length && url[endpoint.length] !== '?') || url.includes('%00')) return false;
  if (request.method === 'GET') return request.headers['content-length'] === undefined && request.headers['transfer-encoding'] === undefined;
  if (request.method !== 'POST' || request.headers['transfer-encoding'] !== undefined) return false;
  const length = Number(request.headers['content-length']);
  return Number.isInteger(length) && length <= maxBodyBytes;
}

/**
 * The server's request listener. GraphQL requests Yoga can take as they are go to Yoga's own Node
 * handler, without the HTTP app's Request and Response conversions (about half of a small query's
 * cost); they get the same request id, log line, in-flight count and limits. Everything else goes
 * to the HTTP app.
 */
export function createRequestListener(
  deps: Deps,
  yoga: Yoga,
  app: { fetch(request: Request, env: unknown): Response | Promise<Response> },
  prepare: (request: Request) => Request,
  inFlight: { count: number },
): RequestListener {
  const viaApp = getRequestListener((request, env) => app.fetch(prepare(request), env));
  const maxBodyBytes = deps.config.GRAPHQL_MAX_BODY_BYTES;
  return (req: IncomingMessage, res: ServerResponse) => {
    if (!isDirectGraphQL(req, yoga.graphqlEndpoint, maxBodyBytes)) return viaApp(req, res);
    const started = performance.now();
    const given = req.headers['x-request-id'];
    const requestId = requestIdOf(typeof given === 'string' ? given : undefined);
    const lastEventId = req.headers['last-event-id'];
    res.setHeader('x-request-id', requestId);
    // In flight until Yoga has its response, as in the HTTP app: an SSE stream that stays open does
    // not hold up a shutdown. A client gone before that ends it too.
    inFlight.count++;
    let done = false;
    const responded = (status: number) => {
      if (done) return;
      done = true;
      inFlight.count--;
      logRequest(deps.logger, requestId, req.method!, yoga.graphqlEndpoint, status, started);
    };
    res.once('close', () => responded(res.statusCode));
    const context = graphqlServerContext(deps, { requestId, lastEventId: typeof lastEventId === 'string' && lastEventId ? lastEventId : null }, () => res);
    context.responded = responded;
    void yoga(req, res, context);
  };
}
