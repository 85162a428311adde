/**
 * 4. Hot account: 16 clients charging one pocket, beside the same on 10,000 pockets, beside raw
 * SQL doing one conditional `UPDATE … RETURNING` per charge on one row. Lost updates are checked
 * after the run (see run.ts), once the server has stopped.
 */
import { measure, type Context } from '../harness/measure.ts';
import { ratioRow, type Row } from '../harness/report.ts';
import { apiCharges, deadlocksLogged, failuresRow, measured, NO_POSTGRES, rawHot } from './charges.ts';

const CLIENTS = 16;

export async function hot(ctx: Context): Promise<Row[]> {
  const one = apiCharges('hot-api-one', 'chargePockets, one pocket, 16 clients', 'hot', 1, CLIENTS);
  const many = apiCharges('hot-api-many', 'chargePockets, 10,000 pockets, 16 clients', 'pool', 1, CLIENTS);
  const raw = rawHot('hot-raw', 'raw conditional UPDATE, one row, 16 clients', CLIENTS);
  const alone = apiCharges('hot-api-one-alone', 'chargePockets, one pocket, 1 client', 'hot', 1, 1);
  const samples = await measure(ctx, [[one], [raw], [many], [alone]]);
  const get = (id: string) => samples.get(id)!;
  const note = ctx.rawUrl ? undefined : NO_POSTGRES;
  return [
    ratioRow('4 hot', 'one pocket vs raw UPDATE on one row', get(one.id), measured(get(raw.id)), 0.5, note),
    ratioRow('4 hot', '10,000 pockets vs raw UPDATE on one row', get(many.id), measured(get(raw.id)), null, note),
    ratioRow('4 hot', 'one pocket vs 10,000 pockets', get(one.id), get(many.id), null),
    ratioRow('4 hot', 'one pocket: 16 clients vs 1 client', get(one.id), get(alone.id), null),
    failuresRow('4 hot', 'deadlocks and failed charges', [one, many, alone, raw].map((v) => get(v.id)), deadlocksLogged(ctx)),
  ];
}
