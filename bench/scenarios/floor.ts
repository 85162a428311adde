/**
 * 1. Floor: a trivial authenticated GraphQL query through the full server (Hono, the credential
 * check, Yoga, Pothos), beside plain createYoga answering the same query, beside bare node:http
 * answering a constant.
 */
import { httpLoad, measure, type Context, type Variant } from '../harness/measure.ts';
import type { HttpProgram } from '../harness/protocol.ts';
import { ratioRow, type Row } from '../harness/report.ts';

export const FLOOR_QUERY = JSON.stringify({ query: '{ viewer { credentialKind } }' });
const CONNECTIONS = 10;

const floorProgram = (authorization: string): HttpProgram => ({
  type: 'static',
  method: 'POST',
  path: '/graphql',
  headers: { authorization, 'content-type': 'application/json' },
  body: FLOOR_QUERY,
  graphql: true,
});

function floorVariant(id: string, label: string, url: (ctx: Context) => string | null): Variant {
  return {
    id,
    label,
    perRequest: 1,
    unit: 'req/s',
    connections: CONNECTIONS,
    run: (ctx, seconds) => {
      const target = url(ctx);
      return target ? httpLoad(ctx, { url: target, connections: CONNECTIONS, duration: seconds, program: floorProgram(ctx.fixtures.authorization) }) : Promise.resolve(null);
    },
  };
}

/** The full server's floor, also measured beside the top-ups and commits of scenario 5. */
export const fullServerFloor = (id = 'floor-full') => floorVariant(id, 'full server: { viewer }', (ctx) => ctx.serverUrl);

export async function floor(ctx: Context): Promise<Row[]> {
  const full = fullServerFloor();
  const yoga = floorVariant('floor-yoga', 'plain createYoga: { viewer }', (ctx) => ctx.baselines.yoga);
  const unlimited = floorVariant('floor-yoga-unlimited', 'plain createYoga without its body limit: { viewer }', (ctx) => ctx.baselines.yogaUnlimited);
  const bare = floorVariant('floor-bare', 'bare node:http constant', (ctx) => ctx.baselines.bare);
  const samples = await measure(ctx, [[full], [yoga], [unlimited], [bare]]);
  const get = (variant: Variant) => samples.get(variant.id)!;
  return [
    ratioRow('1 floor', 'full server vs plain Yoga', get(full), get(yoga), 0.8),
    ratioRow('1 floor', 'full server vs plain Yoga without its body limit', get(full), get(unlimited), null),
    ratioRow('1 floor', 'full server vs bare node:http', get(full), get(bare), null),
    ratioRow('1 floor', 'plain Yoga vs bare node:http', get(yoga), get(bare), null),
  ];
}
