import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import {
  getOperationAST,
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  type DocumentNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config.ts';
import type { GraphQLContext } from '../graphql/context.ts';
import type { RateLimiter } from './rate-limiter.ts';

/** What a rejected operation is told in production, where the limits' values stay private. */
const HIDDEN_LIMIT_MESSAGE = 'The operation is too large or too complex.';

/**
 * Depth, aliases, directives, tokens and cost, checked while parsing and validating, so that an
 * abusive document is refused before any resolver runs (HTTP, SSE and graphql-ws alike, since the
 * WebSocket server runs Yoga's enveloped parse and validate). Outside production the errors name
 * the limit, which helps client developers; in production they do not.
 */
export function armorPlugin(config: Config): Plugin {
  const exposeLimits = config.NODE_ENV !== 'production';
  // The rejection gets a code clients can tell apart from other invalid documents, and the status
  // 400 whatever media type the client accepts.
  const typed = (_context: unknown, error: GraphQLError) => {
    Object.assign(error.extensions, { code: 'QUERY_TOO_COMPLEX', http: { status: 400 } });
  };
  const common = { exposeLimits, errorMessage: HIDDEN_LIMIT_MESSAGE, onReject: [typed], propagateOnRejection: true };
  return EnvelopArmorPlugin({
    maxDepth: { ...common, n: config.GRAPHQL_MAX_DEPTH, ignoreIntrospection: false },
    maxAliases: { ...common, n: config.GRAPHQL_MAX_ALIASES },
    maxDirectives: { ...common, n: config.GRAPHQL_MAX_DIRECTIVES },
    maxTokens: { ...common, n: config.GRAPHQL_MAX_TOKENS },
    costLimit: { ...common, maxCost: config.GRAPHQL_MAX_COST, ignoreIntrospection: false },
    blockFieldSuggestion: { enabled: config.NODE_ENV === 'production' },
  }) as Plugin;
}

/** Refuses `__schema` and `__type` unless introspection is allowed (by default outside production). */
export function introspectionPlugin(config: Config): Plugin {
  return {
    onValidate: ({ addValidationRule }) => {
      if (!config.GRAPHQL_INTROSPECTION) addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}

/** Headers a browser cannot add to a cross-site request without a CORS preflight. */
const PREFLIGHT_HEADERS = ['authorization', 'graphql-require-preflight', 'apollo-require-preflight', 'x-graphql-yoga-csrf'];
const SIMPLE_CONTENT_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data'];

/**
 * CSRF prevention: a GraphQL request must be one a browser would only send cross-site after a
 * CORS preflight (which this server does not grant): a JSON body, or one of PREFLIGHT_HEADERS.
 * Credentials travel in the Authorization header, never in cookies, so a forged request carries
 * none; this also stops one from reaching even the anonymous fields.
 */
export function csrfPreventionPlugin(): Plugin {
  return {
    onRequestParse: ({ request }) => {
      const contentType = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase() ?? '';
      const preflighted = request.method === 'POST' ? contentType !== '' && !SIMPLE_CONTENT_TYPES.includes(contentType) : false;
      if (preflighted || PREFLIGHT_HEADERS.some((name) => request.headers.get(name))) return;
      throw new GraphQLError(
        'This request could have been forged by another site. Send a JSON body (Content-Type: application/json) or a GraphQL-Require-Preflight header.',
        { extensions: { code: 'CSRF_PREVENTED', http: { status: 403 } } },
      );
    },
  };
}

/** The media types whose POST bodies are GraphQL requests here: JSON. */
const JSON_BODIES = ['application/json', 'application/graphql+json'];

/**
 * A GraphQL POST carries JSON. Yoga would also read form and multipart bodies (which a browser
 * sends cross-site without asking; see csrfPreventionPlugin) and answer any other type with an
 * empty 415: every other type is answered 415 here, in GraphQL's error format.
 */
export function jsonBodiesPlugin(): Plugin {
  return {
    onRequestParse: ({ request }) => {
      if (request.method !== 'POST') return;
      const contentType = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase() ?? '';
      if (JSON_BODIES.includes(contentType)) return;
      throw new GraphQLError('A GraphQL POST takes a JSON body: Content-Type: application/json.', {
        extensions: { code: 'UNSUPPORTED_MEDIA_TYPE', http: { status: 415 } },
      });
    },
  };
}

/** Root fields of the operation that will run, fragments included; `__typename` costs nothing. */
export function countRootFields(document: DocumentNode, operationName: string | null | undefined): number {
  const operation = getOperationAST(document, operationName);
  if (!operation) return 1;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const count = (selectionSet: SelectionSetNode, seen: Set<string>): number => {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value !== '__typename') total += 1;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        total += count(selection.selectionSet, seen);
      } else {
        const fragment = fragments.get(selection.name.value);
        if (fragment && !seen.has(fragment.name.value)) total += count(fragment.selectionSet, new Set(seen).add(fragment.name.value));
      }
    }
    return total;
  };
  return Math.max(1, count(operation.selectionSet, new Set()));
}

export function rateLimited(retryAfterSeconds: number): GraphQLError {
  return new GraphQLError(`Too many operations for this credential or merchant; retry after ${retryAfterSeconds} s.`, {
    extensions: {
      code: 'RATE_LIMITED',
      retryAfter: retryAfterSeconds,
      http: { status: 429, headers: { 'Retry-After': String(retryAfterSeconds) } },
    },
  });
}

/**
 * Counts each root field of a query or mutation as one operation (100 aliased mutations cost 100)
 * and a subscription's root fields once, when it starts; the events it then delivers are free.
 * Checked after validation, before any resolver runs. Anonymous requests have no budget: they
 * can reach nothing but errors.
 */
export function rateLimitPlugin(limiter: RateLimiter): Plugin<GraphQLContext> {
  const check = async ({ args, setResultAndStopExecution }: { args: { document: DocumentNode; operationName?: string | null; contextValue: unknown }; setResultAndStopExecution: (result: { errors: GraphQLError[] }) => void }) => {
    const principal = (args.contextValue as GraphQLContext).principal;
    if (!limiter.enabled || !principal) return;
    const decision = await limiter.consume(principal, countRootFields(args.document, args.operationName));
    if (!decision.allowed) setResultAndStopExecution({ errors: [rateLimited(decision.retryAfterSeconds)] });
  };
  return { onExecute: check, onSubscribe: check };
}
