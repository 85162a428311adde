import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRecordTransfers } from '../../src/audit/audit.ts';
import { transact } from '../../src/deps.ts';
import { WriteBatch } from '../../src/db/write-batch.ts';
import {
  availableBalance,
  balance,
  createTransfers,
  findAccount,
  isSettleRefusal,
  openAccounts,
  prepareTransfers,
  resolvePendingTransfer,
  verifyLedger,
  type Account,
} from '../../src/ledger/ledger.ts';
import { uuidv7 } from '../../src/lib/ids.ts';
import { expectLedgerBalanced, startApp, usesPostgres, type TestApp } from '../support/app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startApp();
});
afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

async function accounts(cap: bigint | null) {
  const merchant = await t.merchant();
  const opened = await openAccounts(t.app.deps.prisma, [
    { merchantId: merchant.merchantId, name: 'funding', kind: 'test_funding', currency: 'IRR', floor: cap === null ? null : -cap },
    { merchantId: merchant.merchantId, name: 'user', kind: 'test_user', currency: 'IRR', floor: 0n },
    { merchantId: merchant.merchantId, name: 'usd', kind: 'test_user', currency: 'USD', floor: 0n },
  ]);
  return { merchantId: merchant.merchantId, funding: opened.get('funding')!, user: opened.get('user')!, usd: opened.get('usd')! };
}

const reload = async (merchantId: string, account: Account) => (await findAccount(t.app.deps.prisma, merchantId, account.name))!;
const move = (merchantId: string, from: Account, to: Account, amount: bigint, extra: object = {}) => ({
  merchantId,
  key: uuidv7(),
  debitAccountId: from.id,
  creditAccountId: to.id,
  amount,
  currency: from.currency,
  code: 'test',
  ...extra,
});

describe('ledger', () => {
  it('records the transfers of several ledger calls in one transaction in one audit record, in order', async () => {
    const { merchantId, funding, user } = await accounts(null);
    const keys = [uuidv7(), uuidv7(), uuidv7()];
    await transact(t.app.deps, async (tx) => {
      await createTransfers(tx, [move(merchantId, funding, user, 1n, { key: keys[0] }), move(merchantId, funding, user, 2n, { key: keys[1] })]);
      await createTransfers(tx, [move(merchantId, user, funding, 3n, { key: keys[2] })]);
    });
    const records = await t.app.deps.prisma.auditRecord.findMany({ where: { merchantId } });
    expect(records).toHaveLength(1);
    const [transfers] = await auditRecordTransfers(t.app.deps.prisma, [records[0]!.transferIds]);
    expect(transfers!.map((transfer) => [transfer.amount, transfer.debitAccountId])).toEqual([
      ['1', funding.id],
      ['2', funding.id],
      ['3', user.id],
    ]);
  });

  it('judges each transfer of a batch on its own, in order, against the floor', async () => {
    const { merchantId, funding, user } = await accounts(100n);
    const outcomes = await transact(t.app.deps, (tx) =>
      createTransfers(tx, [move(merchantId, funding, user, 60n), move(merchantId, funding, user, 50n), move(merchantId, funding, user, 40n)]),
    );
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.reason))).toEqual(['ok', 'FLOOR_EXCEEDED', 'ok']);
    expect(balance(await reload(merchantId, user))).toBe(100n);
    expect(balance(await reload(merchantId, funding))).toBe(-100n);
  });

  it('refuses zero, negative, same-account, cross-currency, foreign and repeated-key transfers', async () => {
    const a = await accounts(null);
    const b = await accounts(null);
    const repeated = move(a.merchantId, a.funding, a.user, 1n);
    const outcomes = await transact(t.app.deps, (tx) =>
      createTransfers(tx, [
        move(a.merchantId, a.funding, a.user, 0n),
        move(a.merchantId, a.funding, a.user, -5n),
        move(a.merchantId, a.user, a.user, 5n),
        move(a.merchantId, a.funding, a.usd, 5n),
        move(a.merchantId, a.funding, b.user, 5n),
        repeated,
        repeated,
      ]),
    );
    expect(outcomes.map((o) => (o.ok ? 'ok' : o.reason))).toEqual([
      'INVALID_AMOUNT',
      'INVALID_AMOUNT',
      'SAME_ACCOUNT',
      'CURRENCY_MISMATCH',
      'ACCOUNT_NOT_FOUND',
      'ok',
      'DUPLICATE_KEY',
    ]);
    const again = await transact(t.app.deps, (tx) => createTransfers(tx, [repeated]));
    expect(again[0]).toEqual({ ok: false, reason: 'DUPLICATE_KEY' });
    expect(balance(await reload(a.merchantId, a.user))).toBe(1n);
  });

  it('reserves with pending transfers, then posts or voids each exactly once', async () => {
    const { merchantId, funding, user } = await accounts(100n);
    const [held, other, expiring] = await transact(t.app.deps, (tx) =>
      createTransfers(tx, [
        move(merchantId, funding, user, 70n, { pending: { expiresAt: null } }),
        move(merchantId, funding, user, 40n, { pending: { expiresAt: null } }),
        move(merchantId, funding, user, 30n, { pending: { expiresAt: new Date(Date.now() - 1000) } }),
      ]),
    );
    expect(other).toEqual({ ok: false, reason: 'FLOOR_EXCEEDED' });
    expect(held!.ok && expiring!.ok).toBe(true);
    if (!held!.ok || !expiring!.ok) return;
    expect(availableBalance(await reload(merchantId, funding))).toBe(-100n);
    expect(balance(await reload(merchantId, user))).toBe(0n);

    const post = (pendingId: string, amount?: bigint) =>
      transact(t.app.deps, (tx) =>
        resolvePendingTransfer(tx, { merchantId, pendingId, action: 'post', key: uuidv7(), code: 'test', ...(amount ? { amount } : {}) }),
      );
    const posted = await post(held!.transfer.id, 50n);
    expect(posted.ok).toBe(true);
    const second = await post(held!.transfer.id);
    expect(second).toMatchObject({ ok: false, reason: 'ALREADY_RESOLVED' });
    expect(!second.ok && second.resolution?.amount).toBe(50n);
    expect(await post(expiring!.transfer.id)).toEqual({ ok: false, reason: 'EXPIRED' });
    const voided = await transact(t.app.deps, (tx) =>
      resolvePendingTransfer(tx, { merchantId, pendingId: expiring!.transfer.id, action: 'void', key: uuidv7(), code: 'test' }),
    );
    expect(voided.ok).toBe(true);
    const userNow = await reload(merchantId, user);
    const fundingNow = await reload(merchantId, funding);
    expect([balance(userNow), userNow.creditsPending]).toEqual([50n, 0n]);
    expect([balance(fundingNow), fundingNow.debitsPending]).toEqual([-50n, 0n]);
  });

  it('detects a cached balance that disagrees with the transfers', async () => {
    const { merchantId, funding, user } = await accounts(null);
    await transact(t.app.deps, (tx) => createTransfers(tx, [move(merchantId, funding, user, 5n)]));
    await t.app.deps.prisma.$executeRawUnsafe(`UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = $1`, user.id);
    const broken = await verifyLedger(t.app.deps.prisma);
    expect(broken.violations.map((v) => v.check)).toEqual(expect.arrayContaining(['currency_sum', 'cached_balance']));
    await t.app.deps.prisma.$executeRawUnsafe(`UPDATE ledger_accounts SET credits_posted = credits_posted - 1 WHERE id = $1`, user.id);
    expect((await verifyLedger(t.app.deps.prisma)).violations).toEqual([]);
  });

  it('refuses, in the database, a transfer naming an account that does not exist, any deletion of an account, any change of a transfer', async () => {
    const { merchantId, funding, user } = await accounts(null);
    const [outcome] = await transact(t.app.deps, (tx) => createTransfers(tx, [move(merchantId, funding, user, 5n)]));
    if (!outcome?.ok) throw new Error('the transfer was refused');
    const sql = (text: string, ...params: unknown[]) => t.app.deps.sql.$executeRawUnsafe(text, ...params);
    // A copy of the transfer under a new id and key, one of its accounts replaced.
    const copy = (column: 'debit_account_id' | 'credit_account_id', account: string) =>
      sql(
        `INSERT INTO ledger_transfers SELECT (jsonb_populate_record(NULL::ledger_transfers,
           to_jsonb(t) || jsonb_build_object('id', $2::text, 'key', $2::text, $3::text, $4::text))).* FROM ledger_transfers t WHERE id = $1`,
        outcome.transfer.id, uuidv7(), column, account,
      );
    await expect(copy('debit_account_id', uuidv7())).rejects.toThrow(/names an account that does not exist/);
    await expect(copy('credit_account_id', uuidv7())).rejects.toThrow(/names an account that does not exist/);
    // Checked over every row of a statement: one missing account among existing ones is refused.
    const copies = (debits: string[]) =>
      sql(
        `INSERT INTO ledger_transfers SELECT (jsonb_populate_record(NULL::ledger_transfers,
           to_jsonb(t) || jsonb_build_object('id', v.id, 'key', v.id, 'debit_account_id', v.debit))).*
         FROM ledger_transfers t, unnest($2::text[], $3::text[]) AS v(id, debit) WHERE t.id = $1`,
        outcome.transfer.id, debits.map(() => uuidv7()), debits,
      );
    await expect(copies([funding.id, uuidv7(), funding.id])).rejects.toThrow(/names an account that does not exist/);
    // A transfer is kept as written (audit records name transfers by id): never deleted, never changed
    // but for a pending transfer's resolution time.
    await expect(sql('UPDATE ledger_transfers SET credit_account_id = $2 WHERE id = $1', outcome.transfer.id, funding.id)).rejects.toThrow(/ledger transfers are kept/);
    await expect(sql('UPDATE ledger_transfers SET amount = amount + 1 WHERE id = $1', outcome.transfer.id)).rejects.toThrow(/ledger transfers are kept/);
    await expect(sql('DELETE FROM ledger_transfers WHERE id = $1', outcome.transfer.id)).rejects.toThrow(/ledger transfers are kept/);
    await expect(sql('TRUNCATE ledger_transfers')).rejects.toThrow(/ledger transfers are kept/);
    await expect(sql('UPDATE ledger_transfers SET resolved_at = now() WHERE id = $1', outcome.transfer.id)).resolves.toBe(1);
    await expect(sql('DELETE FROM ledger_accounts WHERE id = $1', user.id)).rejects.toThrow(/ledger_accounts rows are kept/);
    await expect(sql('UPDATE ledger_accounts SET id = $2 WHERE id = $1', user.id, uuidv7())).rejects.toThrow(/ledger_accounts rows are kept/);
    await expect(sql('TRUNCATE ledger_accounts CASCADE')).rejects.toThrow(/ledger_accounts rows are kept/);
    expect(await t.app.deps.prisma.ledgerTransfer.count({ where: { debitAccountId: funding.id } })).toBe(1);
  });

  describe('locking last (prepareTransfers)', () => {
    class Refused extends Error {}
    /** Prepares and runs the writes, as one statement outside any transaction. */
    const prepared = async (requests: ReturnType<typeof move>[]) => {
      const writes = new WriteBatch();
      const outcomes = await prepareTransfers(t.app.deps.sql, requests, new Date(), { writes });
      try {
        await writes.run(t.app.deps.sql);
      } catch (error) {
        throw isSettleRefusal(error) ? new Refused() : error;
      }
      return outcomes;
    };
    const transfersOf = async (account: Account) =>
      (await t.app.deps.prisma.ledgerTransfer.count({ where: { OR: [{ debitAccountId: account.id }, { creditAccountId: account.id }] } }));

    it('moves the balances in one statement at the end when every floor holds, with createTransfers\' refusals', async () => {
      const { merchantId, funding, user, usd } = await accounts(100n);
      const repeated = move(merchantId, funding, user, 1n);
      const outcomes = await prepared([move(merchantId, funding, user, 60n), move(merchantId, funding, user, 0n), move(merchantId, funding, usd, 5n), repeated, repeated, move(merchantId, funding, user, 39n)]);
      expect(outcomes.map((o) => (o.ok ? 'ok' : o.reason))).toEqual(['ok', 'INVALID_AMOUNT', 'CURRENCY_MISMATCH', 'ok', 'DUPLICATE_KEY', 'ok']);
      expect(balance(await reload(merchantId, user))).toBe(100n);
      expect(balance(await reload(merchantId, funding))).toBe(-100n);
      expect(await transfersOf(user)).toBe(3);
    });

    it('refuses the whole batch when a debit would pass a floor, leaving nothing behind', async () => {
      const { merchantId, funding, user } = await accounts(100n);
      await expect(prepared([move(merchantId, funding, user, 60n), move(merchantId, funding, user, 41n)])).rejects.toBeInstanceOf(Refused);
      expect(balance(await reload(merchantId, funding))).toBe(0n);
      expect(await transfersOf(funding)).toBe(0);
    });

    it('does not count a credit of the batch towards an earlier debit, as judging in order would not', async () => {
      const { merchantId, funding, user } = await accounts(null);
      // user (floor 0) pays 10 it only receives afterwards: in order, the first transfer fails.
      const requests = [move(merchantId, user, funding, 10n), move(merchantId, funding, user, 10n)];
      await expect(prepared(requests)).rejects.toBeInstanceOf(Refused);
      const outcomes = await transact(t.app.deps, (tx) => createTransfers(tx, requests));
      expect(outcomes.map((o) => (o.ok ? 'ok' : o.reason))).toEqual(['FLOOR_EXCEEDED', 'ok']);
    });

    it(`never loses an update, deadlocks or breaks a floor under ${usesPostgres ? 'real concurrent' : 'queued'} batches locking last and first on one account`, async () => {
      const { merchantId, funding, user } = await accounts(3_000n);
      const batches = Array.from({ length: 80 }, (_, i) => [move(merchantId, funding, user, BigInt((i % 5) + 20)), move(merchantId, funding, user, 30n)]);
      const sum = (amounts: bigint[]) => amounts.reduce((total, amount) => total + amount, 0n);
      const results = await Promise.all(
        batches.map((requests, i) =>
          i % 2 === 0
            ? prepared(requests).then(
                () => sum(requests.map((r) => r.amount)),
                (error: unknown) => {
                  if (!(error instanceof Refused)) throw error;
                  return 0n;
                },
              )
            : transact(t.app.deps, (tx) => createTransfers(tx, requests)).then((outcomes) => sum(outcomes.map((o) => (o.ok ? o.transfer.amount : 0n)))),
        ),
      );
      const acknowledged = sum(results);
      expect(results.filter((amount) => amount === 0n).length).toBeGreaterThan(0);
      expect(acknowledged).toBeLessThanOrEqual(3_000n);
      expect(acknowledged).toBeGreaterThan(3_000n - 55n);
      expect(balance(await reload(merchantId, user))).toBe(acknowledged);
      expect(balance(await reload(merchantId, funding))).toBe(-acknowledged);
    });
  });

  it(`never loses an update or breaks a floor under ${usesPostgres ? 'real concurrent' : 'queued'} transactions on one account`, async () => {
    const { merchantId, funding, user } = await accounts(5_000n);
    const amounts = Array.from({ length: 300 }, (_, i) => BigInt((i % 7) + 20));
    const results = await Promise.all(
      amounts.map((amount) =>
        transact(t.app.deps, (tx) => createTransfers(tx, [move(merchantId, funding, user, amount)])).then(
          ([outcome]) => (outcome!.ok ? amount : 0n),
          () => 0n,
        ),
      ),
    );
    const acknowledged = results.reduce((sum, amount) => sum + amount, 0n);
    const total = amounts.reduce((sum, amount) => sum + amount, 0n);
    expect(total).toBeGreaterThan(5_000n);
    expect(acknowledged).toBeLessThanOrEqual(5_000n);
    expect(acknowledged).toBeGreaterThan(5_000n - 27n);
    expect(balance(await reload(merchantId, user))).toBe(acknowledged);
    expect(balance(await reload(merchantId, funding))).toBe(-acknowledged);
  });
});
