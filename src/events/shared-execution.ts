import { buildExecutionContext, execute, type ExecutionArgs as ExecutorArgs } from '@graphql-tools/executor';
import { createSourceEventStream, getOperationAST, GraphQLError, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { GraphQLContext } from '../graphql/context.ts';

type Result = ExecutionResult | Promise<ExecutionResult>;

/** Each event's results by subscription key, forgotten with the event itself. */
const resultsByEvent = new WeakMap<object, Map<string, Result>>();
const documentIds = new WeakMap<DocumentNode, number>();
let documents = 0;

function documentId(document: DocumentNode): number {
  let id = documentIds.get(document);
  if (id === undefined) documentIds.set(document, (id = ++documents));
  return id;
}

/**
 * What a subscription's result for one event depends on besides the event: the document (the
 * parser cache hands out one object per query text), the operation, the variables and who is
 * asking (every field of the principal, its scopes and rights included).
 */
function subscriptionKey(args: ExecutionArgs): string {
  const principal = JSON.stringify((args.contextValue as GraphQLContext).principal ?? null, (_key, value: unknown) =>
    value instanceof Set ? [...(value as Set<string>)].sort() : value,
  );
  return `${documentId(args.document)}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}\u0000${principal}`;
}

/**
 * Maps a subscription's event stream to its results, executing the selection once per event for
 * every subscription with the same key: a hundred dashboards on one merchant stream cost one
 * execution of each event (and one read of what its resolvers load), not a hundred. The bus hands
 * the same event object to every local subscriber of a channel, which is what the results are
 * remembered by; events read from the event log are each subscriber's own and executed for it.
 * Errors of the stream are wrapped as the executor wraps them (the original kept as
 * `originalError`).
 */
function eachResult(source: AsyncIterable<unknown>, args: ExecutionArgs): AsyncIterableIterator<ExecutionResult> {
  const iterator = source[Symbol.asyncIterator]();
  const key = subscriptionKey(args);
  const operation = getOperationAST(args.document, args.operationName);
  // The schema has neither @defer nor @stream: an execution has one result.
  const run = (payload: unknown) => execute({ ...(args as ExecutorArgs), rootValue: payload }) as Result;
  const resultOf = (payload: unknown): Result => {
    if (typeof payload !== 'object' || payload === null) return run(payload);
    let byKey = resultsByEvent.get(payload);
    if (!byKey) resultsByEvent.set(payload, (byKey = new Map()));
    let result = byKey.get(key);
    if (!result) byKey.set(key, (result = run(payload)));
    return result;
  };
  const results: AsyncIterableIterator<ExecutionResult> = {
    [Symbol.asyncIterator]: () => results,
    next: async () => {
      let step: IteratorResult<unknown>;
      try {
        step = await iterator.next();
      } catch (error) {
        const original = error instanceof Error ? error : new Error(String(error));
        throw new GraphQLError(original.message, { originalError: original, nodes: operation ? [operation] : undefined });
      }
      if (step.done) return { done: true, value: undefined };
      return { done: false, value: await resultOf(step.value) };
    },
    return: async () => {
      await iterator.return?.();
      return { done: true, value: undefined };
    },
    throw: async (error: unknown) => {
      await iterator.return?.();
      throw error;
    },
  };
  return results;
}

/**
 * Subscriptions through `eachResult`. Arguments that make no execution context (variables that do
 * not coerce, say) are answered by the executor's own subscribe, with its errors.
 */
export function sharedSubscriptionExecution(): Plugin<GraphQLContext> {
  return {
    onSubscribe: ({ subscribeFn, setSubscribeFn }) => {
      setSubscribeFn(async (args) => {
        if (Array.isArray(buildExecutionContext(args as ExecutorArgs))) return subscribeFn(args);
        let source: Awaited<ReturnType<typeof createSourceEventStream>>;
        try {
          source = await createSourceEventStream(args);
        } catch (error) {
          // Answered as the operation's error (masked, logged), so that its slot is freed like any
          // other failed subscription's, and the connection's other subscriptions live on.
          return { errors: [new GraphQLError(String((error as Error)?.message ?? error), { originalError: error as Error })] };
        }
        return isAsyncIterable(source) ? eachResult(source, args) : source;
      });
    },
  };
}
