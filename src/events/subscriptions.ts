import { GraphQLError, Kind, type ExecutionResult, type SelectionSetNode, type ValidationRule } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { GraphQLContext } from '../graphql/context.ts';

/** One graphql-ws connection, as the subscription limits see it. */
export interface ConnectionSubscriptions {
  active: number;
  /** Called whenever `active` changes (the WebSocket server closes connections idle too long). */
  changed(): void;
}

/** What an SSE response needs from the subscription it streams: the id of each event it writes. */
export interface StreamCursor {
  /** The request's `Last-Event-ID` header: where a reconnecting EventSource resumes. */
  lastEventId: string | null;
  /** Set by a resumable subscription as it yields each event; written as the SSE message's `id:`. */
  eventId: string | null;
}

/**
 * The subscriptions open on this instance, counted per merchant (or per operator credential).
 * The count is per process: with N instances behind a load balancer, a merchant may hold up to N
 * times SUBSCRIPTIONS_PER_MERCHANT in all. A shared count in Redis would have to survive the
 * crash of the instance holding a slot, and a stale count would refuse a paying merchant's
 * dashboard; the per-instance bound is what protects each process's memory.
 */
export class SubscriptionRegistry {
  readonly #byOwner = new Map<string, number>();
  /** Connections dropped because their client did not keep up, since start. */
  slowConsumersDropped = 0;

  constructor(readonly limits: { perConnection: number; perOwner: number }) {}

  count(owner: string): number {
    return this.#byOwner.get(owner) ?? 0;
  }

  get total(): number {
    let sum = 0;
    for (const count of this.#byOwner.values()) sum += count;
    return sum;
  }

  /** Takes a slot, or answers why not. */
  acquire(owner: string | null, connection: ConnectionSubscriptions | undefined): (() => void) | GraphQLError {
    if (connection && connection.active >= this.limits.perConnection) {
      return tooMany(`This connection already holds ${this.limits.perConnection} subscriptions.`, 'connection', this.limits.perConnection);
    }
    if (owner !== null && this.count(owner) >= this.limits.perOwner) {
      return tooMany(`This merchant already holds ${this.limits.perOwner} subscriptions on this server.`, 'merchant', this.limits.perOwner);
    }
    if (owner !== null) this.#byOwner.set(owner, this.count(owner) + 1);
    if (connection) {
      connection.active++;
      connection.changed();
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (owner !== null) {
        const left = this.count(owner) - 1;
        if (left > 0) this.#byOwner.set(owner, left);
        else this.#byOwner.delete(owner);
      }
      if (connection) {
        connection.active--;
        connection.changed();
      }
    };
  }
}

const tooMany = (message: string, scope: 'connection' | 'merchant', limit: number) =>
  new GraphQLError(`${message} Complete one before starting another.`, { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', scope, limit } });

/** Calls `release` once, when the stream ends, fails, or is stopped by its consumer. */
function releasing<T>(source: AsyncIterable<T>, release: () => void): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  const stream: AsyncGenerator<T> = {
    [Symbol.asyncIterator]: () => stream,
    next: () =>
      iterator.next().then(
        (step) => {
          if (step.done) release();
          return step;
        },
        (error: unknown) => {
          release();
          throw error;
        },
      ),
    return: async (value) => {
      release();
      return (await iterator.return?.(value)) ?? { value: undefined, done: true };
    },
    throw: async (error) => {
      release();
      if (iterator.throw) return iterator.throw(error);
      throw error;
    },
  };
  return stream;
}

/**
 * Ends a subscription at its first event after its credential stopped working (revoked, rotated
 * or expired): that event is not delivered; an UNAUTHENTICATED error is, and the stream completes.
 * The credential is checked at the events, at most once per CREDENTIAL_CACHE_MS (the time a
 * request may also take to see a change), so a busy stream costs no lookup per event.
 */
function whileCredentialLive(source: AsyncIterable<ExecutionResult>, ctx: GraphQLContext): AsyncIterable<ExecutionResult> {
  const authorization = ctx.authorization;
  if (authorization === null) return source;
  const iterator = source[Symbol.asyncIterator]();
  const recheckMs = ctx.deps.config.CREDENTIAL_CACHE_MS;
  let checkedAt = Number.NEGATIVE_INFINITY;
  let ended = false;
  const stream: AsyncIterableIterator<ExecutionResult> = {
    [Symbol.asyncIterator]: () => stream,
    next: async () => {
      if (ended) return { done: true, value: undefined };
      const step = await iterator.next();
      const now = Date.now();
      if (step.done || now - checkedAt < recheckMs) return step;
      if (await ctx.deps.auth.authenticate(authorization)) {
        checkedAt = now;
        return step;
      }
      ended = true;
      await iterator.return?.();
      const error = new GraphQLError('The credentials of this subscription were revoked or have expired.', { extensions: { code: 'UNAUTHENTICATED' } });
      return { done: false, value: { errors: [error] } };
    },
    return: async (value?: unknown) => (await iterator.return?.(value)) ?? { done: true, value: undefined },
    throw: async (error?: unknown) => {
      if (iterator.throw) return iterator.throw(error);
      throw error;
    },
  };
  return stream;
}

const ownerOf = (ctx: GraphQLContext): string | null =>
  ctx.principal?.kind === 'merchant' ? `merchant:${ctx.principal.merchantId}` : ctx.principal ? `operator:${ctx.principal.credentialId}` : null;

/** Refuses a subscription past the per-connection or per-merchant limit, and frees the slot when it ends. */
export function subscriptionLimits(registry: SubscriptionRegistry): Plugin<GraphQLContext> {
  return {
    onSubscribe: ({ args, setResultAndStopExecution }) => {
      const ctx = args.contextValue as GraphQLContext;
      const slot = registry.acquire(ownerOf(ctx), ctx.connection);
      if (slot instanceof GraphQLError) {
        setResultAndStopExecution({ errors: [slot] });
        return;
      }
      // Ending the operation also stops its sources at once (see GraphQLContext.signal).
      const end = () => {
        slot();
        ctx.operation.end();
      };
      return {
        onSubscribeResult: ({ result, setResult }) => {
          if (isAsyncIterable(result)) setResult(releasing(whileCredentialLive(result, ctx), end));
          else end();
        },
        onSubscribeError: () => end(),
      };
    },
  };
}

/**
 * Refuses `@skip` and `@include` on what a subscription selects at its root, as the GraphQL
 * specification does since its 2021 edition: a subscription whose one root field is left out has
 * no event stream to start.
 */
const unconditionalRoot: ValidationRule = (context) => ({
  OperationDefinition(operation) {
    if (operation.operation !== 'subscription') return;
    const seen = new Set<string>();
    const walk = (selectionSet: SelectionSetNode) => {
      for (const selection of selectionSet.selections) {
        const directive = selection.directives?.find((d) => d.name.value === 'skip' || d.name.value === 'include');
        if (directive) {
          context.reportError(
            new GraphQLError(`A subscription's root field cannot be skipped or included conditionally (@${directive.name.value}).`, {
              nodes: directive,
              extensions: { code: 'VALIDATION_FAILED' },
            }),
          );
        }
        if (selection.kind === Kind.INLINE_FRAGMENT) walk(selection.selectionSet);
        else if (selection.kind === Kind.FRAGMENT_SPREAD && !seen.has(selection.name.value)) {
          seen.add(selection.name.value);
          const fragment = context.getFragment(selection.name.value);
          if (fragment) walk(fragment.selectionSet);
        }
      }
    };
    walk(operation.selectionSet);
  },
});

export const unconditionalSubscriptionRoot: Plugin<GraphQLContext> = {
  onValidate: ({ addValidationRule }) => addValidationRule(unconditionalRoot),
};

/**
 * Gives each SSE message of a resumable subscription an `id:` line holding its event id, so that
 * an EventSource sends it back as `Last-Event-ID` when it reconnects. Yoga writes each message as
 * `event: next` then `data: <result>`; the id is appended through the result's serializer, which
 * produces the data line (the order of the fields of an SSE message does not matter).
 */
export function sseEventIds(): Plugin<GraphQLContext> {
  return {
    onResultProcess: ({ result, setResult, serverContext }) => {
      const cursor = (serverContext as { stream?: StreamCursor }).stream;
      if (!cursor || !isAsyncIterable(result)) return;
      // Not an async generator: a generator's return() would wait for the pending next(), and a
      // client that went away would hold its subscription until the next event.
      const iterator = (result as AsyncIterable<ExecutionResult>)[Symbol.asyncIterator]();
      const withIds: AsyncIterableIterator<ExecutionResult> = {
        [Symbol.asyncIterator]: () => withIds,
        next: async () => {
          const step = await iterator.next();
          const id = cursor.eventId;
          cursor.eventId = null;
          if (step.done || id === null) return step;
          return { done: false, value: { ...step.value, stringify: (sanitized: ExecutionResult) => `${JSON.stringify(sanitized)}\nid: ${id}` } };
        },
        return: async (value?: unknown) => (await iterator.return?.(value)) ?? { value: undefined, done: true },
      };
      setResult(withIds);
    },
  };
}
