/**
 * The GraphQL floor: a plain `createYoga` on `node:http` serving the floor query
 * (`{ viewer { credentialKind } }`) from a two-type schema, with the same bearer check the server
 * makes reduced to a string comparison. No Hono, no Pothos, no database. Listens on
 * 127.0.0.1:$PORT and prints its URL once listening. With BENCH_YOGA_BODY_LIMIT=off, without
 * Yoga's request body limit (`maxRequestBodySize: false`), which by default streams every body
 * through a byte-counting transform.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLError } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';

const expected = process.env.BENCH_AUTHORIZATION ?? '';

const yoga = createYoga({
  schema: createSchema<{ authorized: boolean }>({
    typeDefs: /* GraphQL */ `
      type Viewer { credentialKind: String! }
      type Query { viewer: Viewer }
    `,
    resolvers: {
      Query: {
        viewer: (_root: unknown, _args: unknown, context: { authorized: boolean }) => {
          if (!context.authorized) throw new GraphQLError('The credentials are invalid.', { extensions: { code: 'UNAUTHENTICATED' } });
          return { credentialKind: 'token' };
        },
      },
    },
  }),
  graphqlEndpoint: '/graphql',
  graphiql: false,
  landingPage: false,
  logging: false,
  ...(process.env.BENCH_YOGA_BODY_LIMIT === 'off' ? { maxRequestBodySize: false as const } : {}),
  context: ({ request }) => ({ authorized: request.headers.get('authorization') === expected }),
});

const server = createServer(yoga);
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
