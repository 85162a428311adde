/**
 * 3. Batch charges: `chargePockets` with 100 and with 1,000 items, beside the same rows written by
 * plain `pg` (one transaction: the group's total, one multi-row INSERT … ON CONFLICT DO NOTHING,
 * the pockets' balances), and beside single-item calls.
 */
import { measure, type Context } from '../harness/measure.ts';
import { ratioRow, type Row } from '../harness/report.ts';
import { apiCharges, failuresRow, measured, NO_POSTGRES, rawBatch } from './charges.ts';

const BATCH_CONNECTIONS = 4;
const SINGLE_CONNECTIONS = 16;

export async function batch(ctx: Context): Promise<Row[]> {
  const api100 = apiCharges('batch-api-100', 'chargePockets × 100 items', 'pool', 100, BATCH_CONNECTIONS);
  const raw100 = rawBatch('batch-raw-100', 'raw pg batch of 100', 100, BATCH_CONNECTIONS);
  const api1000 = apiCharges('batch-api-1000', 'chargePockets × 1,000 items', 'pool', 1000, BATCH_CONNECTIONS);
  const raw1000 = rawBatch('batch-raw-1000', 'raw pg batch of 1,000', 1000, BATCH_CONNECTIONS);
  const single = apiCharges('batch-api-1', 'chargePockets × 1 item', 'pool', 1, SINGLE_CONNECTIONS);
  const samples = await measure(ctx, [[api100], [raw100], [api1000], [raw1000], [single]]);
  const get = (id: string) => samples.get(id)!;
  const note = ctx.rawUrl ? undefined : NO_POSTGRES;
  return [
    ratioRow('3 batch', 'batch of 100 vs raw pg', get(api100.id), measured(get(raw100.id)), 0.4, note),
    ratioRow('3 batch', 'batch of 1,000 vs raw pg', get(api1000.id), measured(get(raw1000.id)), 0.4, note),
    ratioRow('3 batch', 'batch of 100 vs single-item calls', get(api100.id), get(single.id), 5),
    failuresRow('3 batch', 'failed charges', [api100, api1000, single, raw100, raw1000].map((v) => get(v.id)), null),
  ];
}
