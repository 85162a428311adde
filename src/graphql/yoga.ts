import { PothosValidationError } from '@pothos/core';
import { execute, GraphQLError } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Principal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { sharedSubscriptionExecution } from '../events/shared-execution.ts';
import { sseEventIds, subscriptionLimits, unconditionalSubscriptionRoot, type ConnectionSubscriptions, type StreamCursor } from '../events/subscriptions.ts';
import { AccessError, AppError } from '../errors.ts';
import { headerKey } from '../idempotency/idempotency.ts';
import { armorPlugin, csrfPreventionPlugin, introspectionPlugin, jsonBodiesPlugin, rateLimitPlugin } from '../limits/graphql.ts';
import { hasUnstorableText, ILL_FORMED_TEXT_MESSAGE } from '../lib/unicode.ts';
import type { Logger } from '../logger.ts';
import type { GraphQLContext, OperationScope } from './context.ts';
import { wellFormedCursors } from './cursors.ts';
import { buildSchema } from './schema.ts';

/** What the HTTP layer (or the WebSocket server) hands to every GraphQL operation. */
export interface ServerContext {
  requestId: string;
  /**
   * Set by the WebSocket server, which authenticates the connection_init's credential again for
   * every operation: the principal it resolves to now, and the credential.
   */
  ws?: { principal: Principal; authorization: string };
  /** Set by the WebSocket server: the connection's subscription count. */
  connection?: ConnectionSubscriptions;
  /** Set by the HTTP layer for GraphQL requests: SSE resume position and event ids. */
  stream?: StreamCursor;
  /** Drops the client's connection (a WebSocket closed with 4008, an SSE response destroyed). */
  dropConnection?: () => void;
  /** Set by the server's own listener: told the status once Yoga has the response. */
  responded?: (status: number) => void;
}

/** An operation's lifetime; its signal is made only for the operations that listen (subscriptions). */
class OperationLifetime implements OperationScope {
  #controller: AbortController | undefined;
  #ended = false;

  constructor(private readonly dropConnection: (() => void) | undefined) {}

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#ended) this.#controller.abort();
    }
    return this.#controller.signal;
  }

  end(): void {
    this.#ended = true;
    this.#controller?.abort();
  }

  onOverflow(): void {
    this.dropConnection?.();
    this.end();
  }
}

export type Yoga = YogaServerInstance<ServerContext, GraphQLContext>;

export const unauthenticated = () =>
  new GraphQLError('The credentials are invalid, expired or revoked.', {
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
  });

export function maskError(error: unknown, logger: Logger): GraphQLError {
  const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
  const located = error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {};
  if (original instanceof AccessError) {
    return new GraphQLError(original.message, { ...located, extensions: { code: original.code, http: { status: original.status } } });
  }
  if (original instanceof AppError) {
    return new GraphQLError(original.message, {
      ...located,
      extensions: { code: original.code, ...(original.field ? { field: original.field } : {}) },
    });
  }
  if (original instanceof GraphQLError) {
    if (original.extensions.code) {
      // Yoga attaches the JSON parser's own error to a malformed body's, which is not the client's
      // business, and answers 400 only while it is there: the error keeps its 400 without it.
      if (original.extensions.originalError === undefined) return original;
      const { originalError: _internal, http, ...extensions } = original.extensions as { originalError: unknown; http?: object };
      return new GraphQLError(original.message, { ...located, extensions: { ...extensions, http: { ...http, spec: false } } });
    }
    // What the request asks wrongly and the executor or a plugin refuses with no code of its own:
    // a variable of the wrong type (no path: before any field ran), a negative `first`.
    if (original instanceof PothosValidationError || !(error as GraphQLError).path) {
      return new GraphQLError(original.message, { ...located, extensions: { ...original.extensions, code: 'VALIDATION_FAILED' } });
    }
  }
  logger.error({ err: original }, 'unexpected error in a GraphQL operation');
  return new GraphQLError('Unexpected error.', { ...located, extensions: { code: 'INTERNAL' } });
}

/** Reports idempotent replays in the response, as `extensions.idempotency`. */
const idempotencyExtension: Plugin<GraphQLContext> = {
  onExecute: () => ({
    onExecuteDone: ({ args, result, setResult }) => {
      const context = args.contextValue as GraphQLContext;
      if (context.idempotency.length === 0 || !result || Symbol.asyncIterator in result) return;
      setResult({ ...result, extensions: { ...result.extensions, idempotency: context.idempotency } });
    },
  }),
};

/**
 * Refuses variables holding text PostgreSQL cannot store (an unpaired surrogate from a JSON
 * `\ud800` escape, or NUL) before any resolver runs; GraphQL's own lexer already refuses both in
 * the query text. As an envelop hook it applies to HTTP, SSE and WebSocket operations alike.
 */
const wellFormedVariables: Plugin<GraphQLContext> = {
  onExecute: ({ args, setResultAndStopExecution }) => {
    if (hasUnstorableText(args.variableValues)) setResultAndStopExecution({ errors: [illFormed()] });
  },
  onSubscribe: ({ args, setResultAndStopExecution }) => {
    if (hasUnstorableText(args.variableValues)) setResultAndStopExecution({ errors: [illFormed()] });
  },
};

/** Tells the server's listener that the response is ready (see ServerContext.responded). */
const respondedHook: Plugin<GraphQLContext, ServerContext> = {
  onResponse: ({ response, serverContext }) => serverContext?.responded?.(response.status),
};

/**
 * Queries and mutations run on graphql-js's own executor. Yoga's default (@graphql-tools/executor)
 * first copies every input object of the variables into an object without a prototype, which V8
 * keeps as a hash table, and then coerces the copy: for a batch of 1,000 pocket charges, an eighth
 * of the server's time. Subscriptions keep Yoga's executor (see shared-execution.ts).
 */
const referenceExecutor: Plugin<GraphQLContext> = {
  onExecute: ({ setExecuteFn }) => setExecuteFn(execute),
};

const illFormed = () => new GraphQLError(ILL_FORMED_TEXT_MESSAGE, { extensions: { code: 'VALIDATION_FAILED' } });

export function createGraphQL(deps: Deps): Yoga {
  const { config } = deps;
  return createYoga<ServerContext, GraphQLContext>({
    schema: buildSchema(),
    graphqlEndpoint: '/graphql',
    graphiql: config.GRAPHIQL ? { title: 'Payments platform', subscriptionsProtocol: 'WS' } : false,
    landingPage: false,
    logging: false,
    maskedErrors: { maskError: (error) => maskError(error, deps.logger) },
    // One operation per request: a batch would multiply every limit below by its length.
    batching: false,
    // The HTTP layer limits bodies (GRAPHQL_MAX_BODY_BYTES) before Yoga reads them: by their
    // Content-Length, which Node holds them to, or while streaming them; Yoga's own limit would
    // count every body once more through a transform stream.
    maxRequestBodySize: false,
    plugins: [
      referenceExecutor,
      csrfPreventionPlugin(),
      jsonBodiesPlugin(),
      armorPlugin(config),
      introspectionPlugin(config),
      rateLimitPlugin(deps.limiter),
      wellFormedVariables,
      wellFormedCursors,
      idempotencyExtension,
      unconditionalSubscriptionRoot,
      subscriptionLimits(deps.subscriptions),
      sharedSubscriptionExecution(),
      sseEventIds(),
      respondedHook,
    ],
    context: async (initial): Promise<GraphQLContext> => {
      const base = {
        deps,
        requestId: initial.requestId,
        idempotency: [],
        operation: new OperationLifetime(initial.dropConnection),
        connection: initial.connection,
        stream: initial.stream,
      };
      if (initial.ws) return { ...base, principal: initial.ws.principal, authorization: initial.ws.authorization, idempotencyKey: null };
      const header = initial.request.headers.get('authorization');
      const principal = header ? await deps.auth.authenticate(header) : null;
      if (header && !principal) throw unauthenticated();
      return { ...base, principal, authorization: header, idempotencyKey: headerKey(initial.request.headers.get('idempotency-key')) };
    },
  });
}
