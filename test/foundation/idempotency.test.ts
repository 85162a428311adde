import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.ts';
import { idempotent } from '../../src/idempotency/idempotency.ts';
import { balance, createTransfers, findAccount, openAccounts } from '../../src/ledger/ledger.ts';
import { uuidv7 } from '../../src/lib/ids.ts';
import { expectLedgerBalanced, startApp, type TestApp } from '../support/app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startApp();
});
afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

/** An action that moves `amount` and answers what it did, as a money-moving mutation would. */
async function setup() {
  const { merchantId } = await t.merchant();
  const opened = await openAccounts(t.app.deps.prisma, [
    { merchantId, name: 'from', kind: 'test', currency: 'IRR', floor: null },
    { merchantId, name: 'to', kind: 'test', currency: 'IRR', floor: 0n },
  ]);
  let executions = 0;
  const pay = (key: string | null, amount: bigint) =>
    idempotent(t.app.deps, { merchantId, key, scope: 'test:pay', payload: { amount } }, async (tx) => {
      executions++;
      const [outcome] = await createTransfers(tx, [
        { merchantId, key: uuidv7(), debitAccountId: opened.get('from')!.id, creditAccountId: opened.get('to')!.id, amount, currency: 'IRR', code: 'test' },
      ]);
      if (!outcome!.ok) throw new AppError('INSUFFICIENT_FUNDS', outcome!.reason);
      return { transferId: outcome!.transfer.id, amount, at: outcome!.transfer.createdAt };
    });
  const received = async () => balance((await findAccount(t.app.deps.prisma, merchantId, 'to'))!);
  return { pay, received, executions: () => executions };
}

describe('idempotency', () => {
  it('replays the stored result for the same key and payload, bigints and dates intact', async () => {
    const s = await setup();
    const first = await s.pay('key-1', 10n);
    const second = await s.pay('key-1', 10n);
    expect(first.replayed).toBe(false);
    expect(second).toEqual({ value: first.value, replayed: true });
    expect(typeof second.value.amount).toBe('bigint');
    expect(second.value.at).toBeInstanceOf(Date);
    expect(await s.received()).toBe(10n);
    expect(s.executions()).toBe(1);
  });

  it('refuses the same key with another payload, and scopes keys per merchant', async () => {
    const s = await setup();
    await s.pay('key-2', 10n);
    await expect(s.pay('key-2', 11n)).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    const other = await setup();
    expect((await other.pay('key-2', 11n)).replayed).toBe(false);
    expect(await s.received()).toBe(10n);
  });

  it('runs without a key every time', async () => {
    const s = await setup();
    await s.pay(null, 1n);
    await s.pay(null, 1n);
    expect(await s.received()).toBe(2n);
  });

  it('executes once when many requests with one key arrive together', async () => {
    const s = await setup();
    const results = await Promise.allSettled(Array.from({ length: 25 }, () => s.pay('key-3', 7n)));
    const fulfilled = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const rejected = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    expect(fulfilled.filter((r) => !r.replayed)).toHaveLength(1);
    for (const reason of rejected) expect(reason).toMatchObject({ code: 'IDEMPOTENCY_KEY_IN_PROGRESS' });
    expect(await s.received()).toBe(7n);
    expect(s.executions()).toBe(1);
  });

  it('does not store a failure: the key stays free and nothing moved', async () => {
    const s = await setup();
    await expect(s.pay('key-4', -1n)).rejects.toMatchObject({ code: 'INSUFFICIENT_FUNDS' });
    expect(await s.received()).toBe(0n);
    expect((await s.pay('key-4', -1n).catch((e: AppError) => e.code))).toBe('INSUFFICIENT_FUNDS');
  });
});
