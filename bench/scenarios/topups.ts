/**
 * 5. Wallet top-ups and recharge commits: requests per second and p99, beside scenario 1's floor
 * (the full server answering `{ viewer }`) measured in the same rounds. Commits need pending
 * payments: each round's commit run commits exactly the payments its create run made just before.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { httpLoad, measure, type Context, type Variant } from '../harness/measure.ts';
import { ratioRow, type Row } from '../harness/report.ts';
import { fullServerFloor } from './floor.ts';

const CONNECTIONS = 10;

export async function topups(ctx: Context): Promise<Row[]> {
  const { authorization, walletId, txnCode, provider } = ctx.fixtures;
  const floor = fullServerFloor('topups-floor');
  const sequences: Variant[][] = [[floor]];
  let topup: Variant | null = null;
  if (walletId) {
    topup = {
      id: 'topup-wallet',
      label: 'topUpWallet (GraphQL, idempotency key)',
      perRequest: 1,
      unit: 'req/s',
      connections: CONNECTIONS,
      run: (ctx, seconds) =>
        httpLoad(ctx, { connections: CONNECTIONS, duration: seconds, sized: 'topup-wallet', program: { type: 'topup', authorization, walletId, txnCode } }),
    };
    sequences.push([topup]);
  }
  let create: Variant | null = null;
  let commit: Variant | null = null;
  if (provider) {
    let runs = 0;
    let idsFile = '';
    create = {
      id: 'recharge-create',
      label: 'createRechargePayment (GraphQL)',
      perRequest: 1,
      unit: 'req/s',
      connections: CONNECTIONS,
      run: (ctx, seconds) => {
        idsFile = path.join(ctx.tmp, `recharge-ids-${++runs}.txt`);
        return httpLoad(ctx, { connections: CONNECTIONS, duration: seconds, sized: 'recharge-create', program: { type: 'recharge-create', authorization, provider, idsFile } });
      },
    };
    commit = {
      id: 'recharge-commit',
      label: 'commitRechargePayment (GraphQL)',
      perRequest: 1,
      unit: 'req/s',
      connections: CONNECTIONS,
      run: (ctx, seconds) => {
        const ids = existsSync(idsFile) ? readFileSync(idsFile, 'utf8').split('\n').filter(Boolean).length : 0;
        if (ids === 0) return Promise.resolve(null);
        return httpLoad(ctx, {
          connections: Math.min(CONNECTIONS, ids),
          duration: seconds,
          amount: ids,
          program: { type: 'recharge-commit', authorization, idsFile },
        });
      },
    };
    sequences.push([create, commit]);
  }
  const samples = await measure(ctx, sequences);
  const floorSamples = samples.get(floor.id)!;
  const rows: Row[] = [];
  if (topup) rows.push(ratioRow('5 top-ups', 'wallet top-up vs floor', samples.get(topup.id)!, floorSamples, null));
  else rows.push(skipped('wallet top-up', ctx.notes.find((note) => note.startsWith('wallets')) ?? 'wallets not available'));
  if (create && commit) {
    rows.push(ratioRow('5 top-ups', 'recharge create vs floor', samples.get(create.id)!, floorSamples, null));
    rows.push(ratioRow('5 top-ups', 'recharge commit vs floor', samples.get(commit.id)!, floorSamples, null));
  } else rows.push(skipped('recharge commit', ctx.notes.find((note) => note.startsWith('recharge')) ?? 'recharge not available'));
  return rows;
}

function skipped(check: string, note: string): Row {
  return { scenario: '5 top-ups', check, candidate: 'skipped', baseline: '', ratio: null, target: '', pass: null, note };
}
