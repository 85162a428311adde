import type { Principal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import type { SubscriptionScope } from '../events/bus.ts';
import type { ConnectionSubscriptions, StreamCursor } from '../events/subscriptions.ts';

export interface GraphQLContext {
  deps: Deps;
  principal: Principal | null;
  /** The credential the principal was resolved from (the Authorization header, or connection_init's). */
  authorization: string | null;
  requestId: string;
  /** From the `Idempotency-Key` header; a mutation's own `idempotencyKey` argument wins. */
  idempotencyKey: string | null;
  /** Set when a mutation answered from a stored result; reported in `extensions.idempotency`. */
  idempotency: { key: string; replayed: boolean }[];
  /** The operation's lifetime, handed to the live subscriptions it opens. */
  operation: OperationScope;
  /** The graphql-ws connection the operation runs on (absent over HTTP). */
  connection?: ConnectionSubscriptions;
  /** Over HTTP: the SSE resume position and the id of the event being written. */
  stream?: StreamCursor;
}

export interface OperationScope extends SubscriptionScope {
  /**
   * Aborted when the operation ends (a subscription completed, failed, or stopped by its client).
   * Long-lived sources listen to it: an async generator's return() waits for its pending next(),
   * so without it a stopped subscription to a quiet stream would live until the next event.
   */
  signal: AbortSignal;
  end(): void;
  /** A subscription fell SUBSCRIPTION_QUEUE_LIMIT events behind: the client's connection is dropped. */
  onOverflow(): void;
}
