/**
 * 2. REST overhead: one read, the legacy trace of a pocket charge
 * (`GET /badje/v1/pockets/{slug}/charge/{token}/`), beside the same read through /graphql
 * (`pocketCharge(token)` with the fields the trace answers, and the group it checks).
 */
import { httpLoad, measure, type Context, type Variant } from '../harness/measure.ts';
import { ratioRow, type Row } from '../harness/report.ts';

const CONNECTIONS = 10;
const TRACE = 'query Trace($t: String!) { pocketCharge(token: $t) { token phoneNumber amount status group { slug } } }';

export async function rest(ctx: Context): Promise<Row[]> {
  const { authorization, poolSlug, traceToken } = ctx.fixtures;
  const legacy: Variant = {
    id: 'rest-trace',
    label: 'REST GET …/charge/{token}/',
    perRequest: 1,
    unit: 'req/s',
    connections: CONNECTIONS,
    run: (ctx, seconds) =>
      httpLoad(ctx, {
        connections: CONNECTIONS,
        duration: seconds,
        program: { type: 'static', method: 'GET', path: `/badje/v1/pockets/${poolSlug}/charge/${traceToken}/`, headers: { authorization } },
      }),
  };
  const graphql: Variant = {
    id: 'rest-graphql',
    label: 'GraphQL pocketCharge(token)',
    perRequest: 1,
    unit: 'req/s',
    connections: CONNECTIONS,
    run: (ctx, seconds) =>
      httpLoad(ctx, {
        connections: CONNECTIONS,
        duration: seconds,
        program: {
          type: 'static',
          method: 'POST',
          path: '/graphql',
          headers: { authorization, 'content-type': 'application/json' },
          body: JSON.stringify({ query: TRACE, variables: { t: traceToken } }),
          graphql: true,
        },
      }),
  };
  const samples = await measure(ctx, [[legacy], [graphql]]);
  return [ratioRow('2 REST', 'REST trace vs GraphQL, same read', samples.get(legacy.id)!, samples.get(graphql.id)!, 0.9)];
}
