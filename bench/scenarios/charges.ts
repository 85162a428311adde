/** Variants shared by the batch and hot-account scenarios: pocket charges through the API and raw SQL. */
import { readFileSync } from 'node:fs';
import { httpLoad, pgLoad, type Context, type Samples, type Variant } from '../harness/measure.ts';
import { RAW_HOT_POCKET, RAW_POOL_FIRST, RAW_POOL_GROUP } from '../harness/postgres.ts';
import type { Row } from '../harness/report.ts';

/** `batch` charges of amount 1 on consecutive pockets of the group, through `chargePockets` or the legacy route. */
export function apiCharges(id: string, label: string, group: 'pool' | 'hot', batch: number, connections: number, via: 'graphql' | 'rest' = 'graphql'): Variant {
  return {
    id,
    label,
    perRequest: batch,
    unit: 'items/s',
    connections,
    run: (ctx, seconds) =>
      httpLoad(ctx, {
        connections,
        duration: seconds,
        sized: id,
        timeoutSeconds: 120,
        program: {
          type: 'charge',
          via,
          authorization: ctx.fixtures.authorization,
          groupSlug: group === 'pool' ? ctx.fixtures.poolSlug : ctx.fixtures.hotSlug,
          pockets: group === 'pool' ? ctx.fixtures.poolPockets : 1,
          batch,
        },
      }),
  };
}

/** Raw SQL: one transaction per batch (group total, one multi-row INSERT … ON CONFLICT DO NOTHING, balances). */
export function rawBatch(id: string, label: string, batch: number, connections: number): Variant {
  return {
    id,
    label,
    perRequest: batch,
    unit: 'items/s',
    connections,
    run: (ctx, seconds) =>
      ctx.rawUrl
        ? pgLoad(ctx, {
            connections,
            duration: seconds,
            program: { type: 'batch-insert', groupId: RAW_POOL_GROUP, firstPocketId: RAW_POOL_FIRST, pockets: ctx.fixtures.poolPockets, batch },
          })
        : Promise.resolve(null),
  };
}

/** Raw SQL: one conditional `UPDATE … RETURNING` per charge on one row. */
export function rawHot(id: string, label: string, connections: number): Variant {
  return {
    id,
    label,
    perRequest: 1,
    unit: 'items/s',
    connections,
    run: (ctx, seconds) =>
      ctx.rawUrl ? pgLoad(ctx, { connections, duration: seconds, program: { type: 'hot-update', pocketId: RAW_HOT_POCKET } }) : Promise.resolve(null),
  };
}

export const measured = (samples: Samples | undefined): Samples | null => (samples && samples.perSecond.length > 0 ? samples : null);

export const NO_POSTGRES = 'no PostgreSQL reachable: raw baseline skipped';

/** Deadlocks reported by the server (PostgreSQL's 40P01 in its log) so far. */
export function deadlocksLogged(ctx: Context): number {
  return (readFileSync(ctx.serverLog, 'utf8').match(/deadlock|40P01/gi) ?? []).length;
}

/** Zero failed requests, failed items, connection errors and timeouts across the given variants. */
export function failuresRow(scenario: string, check: string, samples: Samples[], deadlocks: number | null): Row {
  const failed = samples.reduce((sum, s) => sum + s.failed + s.errors + s.timeouts, 0);
  const failedItems = samples.reduce((sum, s) => sum + s.failedItems, 0);
  const settled = samples.reduce((sum, s) => sum + s.settled, 0);
  const parts = [`${failed} failed requests`, `${failedItems} failed items`];
  if (deadlocks !== null) parts.push(`${deadlocks} deadlocks logged`);
  const sample = samples.flatMap((s) => s.failureSamples)[0];
  return {
    scenario,
    check,
    candidate: parts.join(', '),
    baseline: '',
    ratio: null,
    target: '= 0',
    pass: failed === 0 && failedItems === 0 && (deadlocks ?? 0) === 0,
    ...(settled > 0 ? { note: `${settled} in-doubt requests (cut off at the end of a timed run) settled by sending them again` } : {}),
    data: { failed, failedItems, deadlocks, settled, ...(sample ? { sample } : {}) },
  };
}
