import type { Server } from 'node:http';
import { GraphQLError, type DocumentNode, type ExecutionArgs, type GraphQLFormattedError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocket, WebSocketServer } from 'ws';
import type { Deps } from '../deps.ts';
import type { ConnectionSubscriptions } from '../events/subscriptions.ts';
import { maskError, unauthenticated, type Yoga } from '../graphql/yoga.ts';
import { uuidv7 } from '../lib/ids.ts';

interface Extra {
  authorization?: string;
  requestId?: string;
  connection?: ConnectionSubscriptions;
}

/** Close codes of our own, beside graphql-ws's 4400–4499 (see docs/live-updates.md). */
const CLOSE_IDLE = 1000;
const CLOSE_SLOW_CONSUMER = 4008;
/** graphql-ws's own code for a connection whose credential is refused. */
const CLOSE_FORBIDDEN = 4403;
// A client that stops reading never answers the close frame; ws drops the TCP connection after
// its own closing timeout (30 s) in that case.

const isSlowConsumer = (error: unknown): boolean => {
  for (let current = error as { extensions?: { code?: unknown }; code?: unknown; originalError?: unknown } | undefined; current; current = current.originalError as typeof current) {
    if (current.extensions?.code === 'SLOW_CONSUMER' || current.code === 'SLOW_CONSUMER') return true;
  }
  return false;
};

/**
 * graphql-ws on the GraphQL path of the HTTP server. Connections authenticate in connection_init's
 * payload (`{"authorization": "<scheme> <credential>"}`, the value of the HTTP header), and that
 * credential is checked again for every operation: a missing, bad, revoked or expired one closes
 * the socket with 4403. Every operation then runs through `yoga.getEnveloped`, so Yoga's plugins
 * (masking, subscription limits, context) apply as on HTTP. A connection without subscriptions for WS_IDLE_TIMEOUT_MS is closed with 1000; one
 * whose client does not read (more than WS_MAX_BUFFERED_BYTES waiting to be sent, or a
 * subscription SUBSCRIPTION_QUEUE_LIMIT events behind) with 4008.
 */
export function attachWebSocketServer(server: Server, yoga: Yoga, deps: Deps): { close(): Promise<void> } {
  const { config } = deps;
  // A message over the GraphQL body limit closes the socket (1009), as a body over it is refused on HTTP.
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint, maxPayload: config.GRAPHQL_MAX_BODY_BYTES });
  const dropSlow = (socket: WebSocket, reason: string) => {
    if (socket.readyState !== WebSocket.OPEN) return;
    deps.subscriptions.slowConsumersDropped++;
    deps.logger.warn({ reason, bufferedBytes: socket.bufferedAmount }, 'closing a WebSocket whose client does not keep up');
    socket.close(CLOSE_SLOW_CONSUMER, 'Slow consumer');
  };
  /**
   * An error as HTTP answers it (masked, with its code), without HTTP's status: errors the protocol
   * layer raises itself (a syntax error, an unknown operation name) reach the socket unmasked.
   */
  const formatted = (error: GraphQLError | GraphQLFormattedError): GraphQLFormattedError => {
    const masked = maskError(error instanceof GraphQLError ? error : new GraphQLError(error.message, { extensions: error.extensions }), deps.logger);
    const { http: _http, ...extensions } = masked.extensions;
    return { ...masked.toJSON(), extensions };
  };
  const connections = new WeakMap<WebSocket, ConnectionSubscriptions>();
  wss.on('connection', (socket) => {
    let idle: NodeJS.Timeout | null = null;
    const connection: ConnectionSubscriptions = {
      active: 0,
      changed: () => {
        if (idle) clearTimeout(idle);
        idle = null;
        if (connection.active === 0 && config.WS_IDLE_TIMEOUT_MS > 0 && socket.readyState === WebSocket.OPEN) {
          idle = setTimeout(() => socket.close(CLOSE_IDLE, 'Idle timeout'), config.WS_IDLE_TIMEOUT_MS);
        }
      },
    };
    connections.set(socket, connection);
    connection.changed();
    socket.once('close', () => {
      if (idle) clearTimeout(idle);
      idle = null;
    });
  });
  // graphql-ws waits for each message to be written before sending a subscription's next one, so
  // the socket's buffer grows only with many subscriptions on one connection; what piles up for a
  // client that stops reading is each subscription's queue (bounded by the bus). Both are checked.
  const sweep = setInterval(() => {
    for (const socket of wss.clients) if (socket.bufferedAmount > config.WS_MAX_BUFFERED_BYTES) dropSlow(socket, 'buffered bytes');
  }, 1000);
  sweep.unref();
  type EnvelopedArgs = ExecutionArgs & { rootValue: { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown } };
  const disposable = useServer(
    {
      connectionInitWaitTimeout: config.WS_CONNECTION_INIT_TIMEOUT_MS,
      execute: (args) => (args as EnvelopedArgs).rootValue.execute(args) as never,
      subscribe: (args) => (args as EnvelopedArgs).rootValue.subscribe(args) as never,
      onConnect: async (ctx) => {
        const authorization = ctx.connectionParams?.authorization;
        const principal = typeof authorization === 'string' ? await deps.auth.authenticate(authorization) : null;
        if (!principal) return false;
        const extra = ctx.extra as unknown as Extra & { socket: WebSocket };
        extra.authorization = authorization as string;
        extra.requestId = uuidv7();
        extra.connection = connections.get(extra.socket);
        return true;
      },
      onNext: (ctx, _id, _payload, _args, result) => {
        const { socket } = ctx.extra as unknown as { socket: WebSocket };
        if (socket.bufferedAmount > config.WS_MAX_BUFFERED_BYTES) dropSlow(socket, 'buffered bytes');
        if (result.errors) return { ...result, errors: result.errors.map(formatted) };
      },
      onError: (ctx, _id, _payload, errors) => {
        if (errors.some(isSlowConsumer)) dropSlow((ctx.extra as unknown as { socket: WebSocket }).socket, 'subscription queue');
        return errors.map(formatted);
      },
      onSubscribe: async (ctx, _id, payload) => {
        const extra = ctx.extra as unknown as Extra & { request: Request; socket: WebSocket };
        // The credential is checked for every operation, as on HTTP: one revoked, rotated or
        // expired since the connection opened closes it (and so ends its subscriptions).
        const principal = extra.authorization ? await deps.auth.authenticate(extra.authorization) : null;
        if (!principal) {
          extra.socket.close(CLOSE_FORBIDDEN, 'Forbidden');
          return [unauthenticated()];
        }
        const requestId = extra.requestId ?? uuidv7();
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: extra.request,
          socket: extra.socket,
          params: payload,
          requestId,
          ws: { principal, authorization: extra.authorization! },
          connection: extra.connection,
          dropConnection: () => dropSlow(extra.socket, 'subscription queue'),
        });
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (error) {
          // Syntax errors and the token limit: answered as the operation's errors, socket kept.
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        const args: EnvelopedArgs = {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        let errors: readonly GraphQLError[];
        try {
          errors = validate(args.schema, args.document);
        } catch (error) {
          // The abuse limits refuse a document by throwing, to stop validating at once.
          if (error instanceof GraphQLError) return [error];
          throw error;
        }
        if (errors.length) return [...errors];
        return args;
      },
    },
    wss,
  );
  // A client that breaks the protocol (a message over the limit, a malformed frame) is closed by
  // ws with the matching code, then reported as the socket's error: graphql-ws prints that to the
  // console, stack and all, as if the server had failed. It is the client's, so a warning. Added
  // after useServer's own listener, so that this one runs second and replaces the listener it added.
  wss.on('connection', (socket) => {
    socket.removeAllListeners('error');
    socket.on('error', (error: Error & { code?: string }) =>
      deps.logger.warn({ err: error.message, code: error.code }, 'closed a WebSocket whose client broke the protocol'),
    );
  });
  return {
    close: async () => {
      clearInterval(sweep);
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
