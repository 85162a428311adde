import type { Server } from 'node:http';
import { GraphQLError, type DocumentNode, type ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Principal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import type { Yoga } from '../graphql/yoga.ts';
import { uuidv7 } from '../lib/ids.ts';

interface Extra {
  principal?: Principal;
  requestId?: string;
}

/**
 * graphql-ws on the GraphQL path of the HTTP server. Connections authenticate once, in
 * connection_init's payload (`{"authorization": "<scheme> <credential>"}`, the value of the HTTP
 * header); a missing or bad credential closes the socket with 4403. Every operation then runs
 * through `yoga.getEnveloped`, so Yoga's plugins (masking, limits, context) apply as on HTTP.
 */
export function attachWebSocketServer(server: Server, yoga: Yoga, deps: Deps): { close(): Promise<void> } {
  // A message over the GraphQL body limit closes the socket (1009), as a body over it is refused on HTTP.
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint, maxPayload: deps.config.GRAPHQL_MAX_BODY_BYTES });
  type EnvelopedArgs = ExecutionArgs & { rootValue: { execute: (args: ExecutionArgs) => unknown; subscribe: (args: ExecutionArgs) => unknown } };
  const disposable = useServer(
    {
      connectionInitWaitTimeout: 10_000,
      execute: (args) => (args as EnvelopedArgs).rootValue.execute(args) as never,
      subscribe: (args) => (args as EnvelopedArgs).rootValue.subscribe(args) as never,
      onConnect: async (ctx) => {
        const authorization = ctx.connectionParams?.authorization;
        const principal = typeof authorization === 'string' ? await deps.auth.authenticate(authorization) : null;
        if (!principal) return false;
        const extra = ctx.extra as unknown as Extra;
        extra.principal = principal;
        extra.requestId = uuidv7();
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        const extra = ctx.extra as unknown as Extra & { request: Request; socket: unknown };
        const requestId = extra.requestId ?? uuidv7();
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: extra.request,
          socket: extra.socket,
          params: payload,
          requestId,
          logger: deps.logger.child({ requestId, transport: 'ws' }),
          wsPrincipal: extra.principal,
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
  return {
    close: async () => {
      for (const client of wss.clients) client.close(1001, 'Server shutting down');
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
