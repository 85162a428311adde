import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { SandboxCardProcessor, type CardProcessor, type DebitRequest } from '../../src/modules/charges/card-processor.ts';
import { configureCharges } from '../../src/modules/charges/runtime.ts';
import { runAutoDebits } from '../../src/modules/charges/debits.ts';
import { runSchedulerRound } from '../../src/modules/charges/scheduler.ts';
import { expectLedgerBalanced, startApp, TestClock, token, until, usesPostgres, type TestApp } from '../support/app.ts';
import { holdMerchantAccount, MANUAL, merchantBalance, paymentTransfers, waitingFor } from './support.ts';

const DAY = 24 * 60 * 60 * 1000;
let t: TestApp;
const clock = new TestClock(new Date('2030-01-05T15:00:00Z'));

/** The sandbox, counting every call (replays included). */
class CountingProcessor implements CardProcessor {
  readonly sandbox = new SandboxCardProcessor();
  readonly calls: DebitRequest[] = [];
  async debit(request: DebitRequest) {
    this.calls.push(request);
    // Yield so that concurrent rounds interleave around the call.
    await new Promise((resolve) => setImmediate(resolve));
    return this.sandbox.debit(request);
  }
}
const processor = new CountingProcessor();

beforeAll(async () => {
  t = await startApp({ ...MANUAL }, { clock });
  configureCharges(t.app.deps, { processor });
});
afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

const setClock = (iso: string) => clock.advance(new Date(iso).getTime() - clock.now().getTime());
/** A round for one merchant: on PostgreSQL other suites' charges share the tables. */
const round = (m: MerchantCredentials) => runSchedulerRound(t.app.deps, { merchantIds: [m.merchantId] });

const CREATE = `mutation ($input: CreateChargeInput!) { createCharge(input: $input) {
  ... on MutationCreateChargeSuccess { data { id } } ... on AppError { code message } } }`;

async function createCharge(m: MerchantCredentials, input: Record<string, unknown>): Promise<number> {
  const response = await t.graphql(CREATE, { input: { description: 'scheduled', customer: { name: 'Sam' }, ...input } }, { authorization: token(m) });
  const id = response.data?.createCharge?.data?.id;
  if (!id) throw new Error(JSON.stringify(response));
  return Number(id);
}

async function state(chargeId: number) {
  const charge = await t.app.deps.prisma.charge.findUniqueOrThrow({ where: { id: chargeId }, include: { installments: { orderBy: { number: 'asc' } } } });
  return {
    status: charge.status,
    installments: charge.installments.map((i) => `${i.number} ${i.dueDate.toISOString().slice(0, 10)} ${i.status}`),
  };
}

const eventTypes = async (chargeId: number) =>
  (await t.app.deps.prisma.event.findMany({ where: { objectId: String(chargeId) }, orderBy: { id: 'asc' } })).map((event) => event.type);

async function payExternally(m: MerchantCredentials, chargeId: number, number: number) {
  const response = await t.graphql(
    `mutation ($id: ID!, $n: Int!) { payChargeInstallment(chargeId: $id, number: $n) { __typename ... on AppError { message } } }`,
    { id: String(chargeId), n: number },
    { authorization: token(m) },
  );
  expect(response.errors).toBeUndefined();
  expect(response.data.payChargeInstallment.__typename).toBe('MutationPayChargeInstallmentSuccess');
}

describe('overdue', () => {
  it('marks an installment overdue once its due date is past in São Paulo, not before', async () => {
    setClock('2030-01-05T15:00:00Z');
    const m = await t.merchant();
    const id = await createCharge(m, { amount: '1000', dueDate: '2030-01-10', installments: 2 });
    await round(m);
    expect(await state(id)).toEqual({ status: 'pending', installments: ['1 2030-01-10 pending', '2 2030-02-10 pending'] });

    // 02:59 UTC on the 11th is still the 10th in São Paulo (UTC-3).
    setClock('2030-01-11T02:59:00Z');
    await round(m);
    expect((await state(id)).status).toBe('pending');
    setClock('2030-01-11T03:00:00Z');
    await round(m);
    expect(await state(id)).toEqual({ status: 'overdue', installments: ['1 2030-01-10 overdue', '2 2030-02-10 pending'] });
    expect(await eventTypes(id)).toEqual(['charge.created', 'installment.overdue', 'charge.overdue']);

    // Nothing changes on a second round: no repeated events.
    await round(m);
    expect(await eventTypes(id)).toHaveLength(3);

    await payExternally(m, id, 1);
    expect((await state(id)).status).toBe('partially_paid');
  });

  it("creates a charge due in the past as pending, as the document's example shows, and the next round makes it overdue", async () => {
    setClock('2030-01-05T15:00:00Z');
    const m = await t.merchant();
    const id = await createCharge(m, { amount: '1000', dueDate: '2020-10-30' });
    expect((await state(id)).status).toBe('pending');
    await round(m);
    expect(await state(id)).toEqual({ status: 'overdue', installments: ['1 2020-10-30 overdue'] });
  });
});

describe('recurring charges', () => {
  it('issues an occurrence per month on the 31st (or the month\'s last day) until last_charge_date, then finishes', async () => {
    setClock('2030-01-20T15:00:00Z');
    const m = await t.merchant();
    const paid = await createCharge(m, { amount: '5000', type: 'RECURRING', dueDate: '2030-01-31', lastChargeDate: '2030-05-31' });
    const unpaid = await createCharge(m, { amount: '5000', type: 'RECURRING', dueDate: '2030-01-31', lastChargeDate: '2030-05-31' });
    expect(await state(paid)).toEqual({ status: 'pending', installments: ['1 2030-01-31 pending'] });

    await payExternally(m, paid, 1);
    expect((await state(paid)).status).toBe('paid');
    await round(m);
    expect((await state(paid)).installments).toHaveLength(1);

    setClock('2030-02-01T15:00:00Z');
    await round(m);
    expect(await state(paid)).toEqual({ status: 'pending', installments: ['1 2030-01-31 paid', '2 2030-02-28 pending'] });
    for (const [date, number] of [
      ['2030-03-01T15:00:00Z', 2],
      ['2030-04-01T15:00:00Z', 3],
      ['2030-05-01T15:00:00Z', 4],
    ] as const) {
      await payExternally(m, paid, number);
      setClock(date);
      await round(m);
    }
    expect((await state(paid)).installments).toEqual(['1 2030-01-31 paid', '2 2030-02-28 paid', '3 2030-03-31 paid', '4 2030-04-30 paid', '5 2030-05-31 pending']);
    await payExternally(m, paid, 5);
    expect((await state(paid)).status).toBe('finished');
    setClock('2030-08-01T15:00:00Z');
    await round(m);
    expect((await state(paid)).installments).toHaveLength(5);

    // The unpaid one caught up in one round after months without rounds, everything overdue.
    expect(await state(unpaid)).toEqual({
      status: 'overdue',
      installments: ['1 2030-01-31 overdue', '2 2030-02-28 overdue', '3 2030-03-31 overdue', '4 2030-04-30 overdue', '5 2030-05-31 overdue'],
    });
    expect(await merchantBalance(t, m.merchantId)).toBe(25000n);
  });

  it('keeps `installments` occurrences issued ahead, stops when deactivated and resumes from today when reactivated', async () => {
    setClock('2030-03-01T15:00:00Z');
    const m = await t.merchant();
    const id = await createCharge(m, { amount: '700', type: 'RECURRING', interval: 'WEEK', frequency: 1, installments: 2, dueDate: '2030-03-04' });
    expect((await state(id)).installments).toEqual(['1 2030-03-04 pending', '2 2030-03-11 pending']);
    setClock('2030-03-05T15:00:00Z');
    await round(m);
    expect((await state(id)).installments).toEqual(['1 2030-03-04 overdue', '2 2030-03-11 pending', '3 2030-03-18 pending']);

    const deactivate = `mutation ($id: ID!) { deactivateCharge(id: $id) { __typename } }`;
    await t.graphql(deactivate, { id: String(id) }, { authorization: token(m) });
    setClock('2030-04-02T15:00:00Z');
    await round(m);
    expect(await state(id)).toEqual({ status: 'canceled', installments: ['1 2030-03-04 canceled', '2 2030-03-11 canceled', '3 2030-03-18 canceled'] });

    await t.graphql(`mutation ($id: ID!) { updateCharge(id: $id, input: { isActive: true }) { __typename } }`, { id: String(id) }, { authorization: token(m) });
    // Occurrences that fell due while it was off are skipped: the next is the first due from today.
    expect((await state(id)).installments.slice(3)).toEqual(['6 2030-04-08 pending', '7 2030-04-15 pending']);
    expect((await state(id)).status).toBe('overdue');
  });
});

describe('auto-debit', () => {
  it('debits the card on file on the due date, once', async () => {
    setClock('2030-06-01T15:00:00Z');
    const m = await t.merchant();
    const id = await createCharge(m, { amount: '3000', dueDate: '2030-06-03', installments: 2, autoDebit: true, cardToken: 'tok_ok_0001' });
    await round(m);
    expect(processor.calls.filter((call) => call.idempotencyKey.includes(':debit:'))).not.toContainEqual(expect.objectContaining({ cardToken: 'tok_ok_0001' }));
    setClock('2030-06-03T15:00:00Z');
    await round(m);
    await round(m);
    const installment = await t.app.deps.prisma.chargeInstallment.findFirstOrThrow({ where: { chargeId: id, number: 1 } });
    expect(installment).toMatchObject({ status: 'paid', paymentMethod: 'auto_debit', paidAmount: 1500n, debitAttempts: 1 });
    expect(installment.paymentReference).toMatch(/^sandbox_/);
    expect(processor.calls.filter((call) => call.cardToken === 'tok_ok_0001')).toHaveLength(1);
    expect(await merchantBalance(t, m.merchantId)).toBe(1500n);
    expect((await state(id)).status).toBe('partially_paid');
  });

  it('retries a declined card 1, 3 and 7 days after the due date, then leaves it to the payer', async () => {
    setClock('2030-07-01T15:00:00Z');
    const m = await t.merchant();
    const id = await createCharge(m, { amount: '2000', dueDate: '2030-07-01', autoDebit: true, cardToken: 'tok_low_0002' });
    const attempts = () => processor.calls.filter((call) => call.cardToken === 'tok_low_0002').length;
    await round(m);
    expect(attempts()).toBe(1);
    const schedule: [number, number][] = [
      [DAY - 60_000, 1],
      [60_000, 2],
      [2 * DAY, 3],
      [4 * DAY, 4],
      [30 * DAY, 4],
    ];
    for (const [advance, expected] of schedule) {
      clock.advance(advance);
      await round(m);
      expect(attempts()).toBe(expected);
    }
    const installment = await t.app.deps.prisma.chargeInstallment.findFirstOrThrow({ where: { chargeId: id } });
    expect(installment).toMatchObject({ status: 'overdue', debitAttempts: 4, nextDebitAt: null, lastDebitError: 'declined: insufficient_funds' });
    expect(await merchantBalance(t, m.merchantId)).toBe(0n);
    expect((await eventTypes(id)).filter((type) => type === 'installment.debit_failed')).toHaveLength(4);
  });

  // The embedded database runs one transaction at a time: the race needs PostgreSQL.
  it.runIf(usesPostgres)('leaves the card alone while the merchant records a payment of the installment due', async () => {
    setClock('2030-08-01T15:00:00Z');
    const m = await t.merchant();
    // A first payment opens the merchant's charges account, which the test then holds.
    await payExternally(m, await createCharge(m, { amount: '500', dueDate: '2030-08-01' }), 1);
    const id = await createCharge(m, { amount: '1000', dueDate: '2030-08-01', autoDebit: true, cardToken: 'tok_meanwhile_0001' });
    const account = await holdMerchantAccount(t, m.merchantId);
    const external = payExternally(m, id, 1);
    // The merchant's payment has checked the installment and waits at the ledger, in its transaction.
    await until(async () => (await waitingFor(t, account.pid))[0]);
    let finished = false;
    const debits = runAutoDebits(t.app.deps, { merchantIds: [m.merchantId] }).finally(() => (finished = true));
    const debited = () => processor.calls.some((call) => call.cardToken === 'tok_meanwhile_0001');
    await until(async () => (finished || debited() ? true : undefined));
    await account.release();
    await external;
    await expect(debits).resolves.toEqual({ approved: 0, failed: 0, unknown: 0 });
    expect(debited()).toBe(false);
    expect(await merchantBalance(t, m.merchantId)).toBe(1500n);
  });

  it('debits each installment once when two schedulers run at the same time', async () => {
    setClock('2030-09-10T15:00:00Z');
    const m = await t.merchant();
    const count = 12;
    const ids: number[] = [];
    for (let index = 0; index < count; index++) {
      ids.push(await createCharge(m, { amount: String(1000 + index), dueDate: '2030-09-10', autoDebit: true, cardToken: `tok_race_${index}_0001` }));
    }
    // On PostgreSQL the second scheduler is a second app instance on the same database.
    const other = usesPostgres ? await startApp({ ...MANUAL }, { clock }) : t;
    if (other !== t) configureCharges(other.app.deps, { processor });
    try {
      const scope = { merchantIds: [m.merchantId] };
      await Promise.all([runSchedulerRound(t.app.deps, scope), runSchedulerRound(other.app.deps, scope), runSchedulerRound(t.app.deps, scope)]);
    } finally {
      if (other !== t) await other.stop();
    }
    const calls = processor.calls.filter((call) => call.cardToken.startsWith('tok_race_'));
    expect(calls).toHaveLength(count);
    expect(new Set(calls.map((call) => call.idempotencyKey)).size).toBe(count);
    expect(processor.sandbox.debits.filter((debit) => debit.cardToken.startsWith('tok_race_'))).toHaveLength(count);
    const transfers = await paymentTransfers(t, m.merchantId);
    expect(transfers).toHaveLength(count);
    expect(await merchantBalance(t, m.merchantId)).toBe(BigInt(count * 1000 + (count * (count - 1)) / 2));
    const statuses = await t.app.deps.prisma.charge.findMany({ where: { id: { in: ids } }, select: { status: true } });
    expect(statuses.every((charge) => charge.status === 'paid')).toBe(true);
  });
});
