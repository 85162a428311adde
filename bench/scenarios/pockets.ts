/**
 * The pockets domain's own figures: one batch of 1,000 charges to distinct phone numbers, and 200
 * concurrent single-charge batches to one pocket, each through the legacy REST route and through
 * `chargePockets`, beside raw `pg` writing the same rows.
 */
import { measure, type Context } from '../harness/measure.ts';
import { ratioRow, type Row } from '../harness/report.ts';
import { apiCharges, failuresRow, measured, NO_POSTGRES, rawBatch, rawHot } from './charges.ts';

const CONCURRENT = 200;
/** PostgreSQL's connection limit (100 by default) rules out 200 raw connections; 50 keep the row as busy. */
const RAW_CONNECTIONS = 50;

export async function pockets(ctx: Context): Promise<Row[]> {
  const restBatch = apiCharges('pockets-rest-1000', 'REST charge, 1,000 items, 1 client', 'pool', 1000, 1, 'rest');
  const graphqlBatch = apiCharges('pockets-graphql-1000', 'chargePockets, 1,000 items, 1 client', 'pool', 1000, 1);
  const rawOneBatch = rawBatch('pockets-raw-1000', 'raw pg batch of 1,000, 1 client', 1000, 1);
  const restHot = apiCharges('pockets-rest-hot', 'REST charge, 1 item, one pocket, 200 clients', 'hot', 1, CONCURRENT, 'rest');
  const graphqlHot = apiCharges('pockets-graphql-hot', 'chargePockets, 1 item, one pocket, 200 clients', 'hot', 1, CONCURRENT);
  const rawHotRow = rawHot('pockets-raw-hot', `raw conditional UPDATE, one row, ${RAW_CONNECTIONS} clients`, RAW_CONNECTIONS);
  const variants = [restBatch, graphqlBatch, rawOneBatch, restHot, graphqlHot, rawHotRow];
  const samples = await measure(ctx, variants.map((variant) => [variant]));
  const get = (id: string) => samples.get(id)!;
  const note = ctx.rawUrl ? undefined : NO_POSTGRES;
  return [
    ratioRow('pockets', 'REST batch of 1,000 vs raw pg', get(restBatch.id), measured(get(rawOneBatch.id)), 0.25, note),
    ratioRow('pockets', 'GraphQL batch of 1,000 vs raw pg', get(graphqlBatch.id), measured(get(rawOneBatch.id)), 0.25, note),
    ratioRow('pockets', 'REST, 200 clients on one pocket vs raw UPDATE', get(restHot.id), measured(get(rawHotRow.id)), null, note),
    ratioRow('pockets', 'GraphQL, 200 clients on one pocket vs raw UPDATE', get(graphqlHot.id), measured(get(rawHotRow.id)), null, note),
    failuresRow('pockets', 'failed charges', variants.map((variant) => get(variant.id)), null),
  ];
}
