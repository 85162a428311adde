import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basic, expectLedgerBalanced, startApp, TestClock, token, type TestApp } from '../support/app.ts';
import { basicOf, clearingBalance, createLegacyCharge, customer, MANUAL, merchantBalance, newCpf, paymentTransfers } from './support.ts';

let t: TestApp;
const clock = new TestClock(new Date('2030-01-05T12:00:00Z'));
beforeAll(async () => {
  t = await startApp({ ...MANUAL }, { clock });
});
afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

const CHARGE_FIELDS = `id status type interval frequency amount description dueDate lastChargeDate installmentCount callbackUrl autoDebit isActive paymentLink
  customer { id name cpfCnpj phone email }
  installments { number dueDate amount paidAmount discount remaining status paymentDate paymentMethod paymentReference }`;

const CREATE = `mutation ($input: CreateChargeInput!, $key: String) {
  createCharge(input: $input, idempotencyKey: $key) {
    __typename
    ... on MutationCreateChargeSuccess { data { ${CHARGE_FIELDS} } }
    ... on AppError { code message field }
  }
}`;

const PAY = `mutation ($chargeId: ID!, $number: Int!, $discount: BigInt, $paymentDate: String, $reference: String, $key: String) {
  payChargeInstallment(chargeId: $chargeId, number: $number, discount: $discount, paymentDate: $paymentDate, reference: $reference, idempotencyKey: $key) {
    __typename
    ... on MutationPayChargeInstallmentSuccess { data { number status paidAmount discount paymentDate paymentMethod paymentReference charge { id status } } }
    ... on AppError { code message field }
  }
}`;

const CHARGE = `query ($id: ID!) { charge(id: $id) { ${CHARGE_FIELDS} } }`;

async function create(auth: string, input: Record<string, unknown>, key?: string) {
  const response = await t.graphql(CREATE, { input, key }, { authorization: auth });
  expect(response.errors).toBeUndefined();
  return response.data.createCharge;
}

describe('createCharge', () => {
  it('creates a charge with installments in centavos, and answers validation failures as data', async () => {
    const m = await t.merchant();
    const created = await create(token(m), {
      amount: '10001',
      description: 'Carnê',
      dueDate: '2030-01-31',
      installments: 4,
      customer: { name: 'Ana', cpfCnpj: newCpf(), phone: '(21) 3333-4444', email: 'Ana@Example.com' },
    });
    expect(created.__typename).toBe('MutationCreateChargeSuccess');
    const charge = created.data;
    expect(charge).toMatchObject({ status: 'PENDING', type: 'NORMAL', interval: 'MONTH', frequency: 1, amount: '10001', installmentCount: 4, isActive: true });
    expect(charge.customer).toMatchObject({ name: 'Ana', phone: '2133334444', email: 'ana@example.com' });
    expect(charge.installments.map((i: { amount: string; dueDate: string }) => [i.dueDate, i.amount])).toEqual([
      ['2030-01-31', '2501'],
      ['2030-02-28', '2500'],
      ['2030-03-31', '2500'],
      ['2030-04-30', '2500'],
    ]);

    const refused = await create(token(m), { amount: '0', description: ' ', dueDate: '2030-13-01', frequency: 0, customerId: '999999', callbackUrl: 'http://10.0.0.1/' });
    expect(refused).toMatchObject({ __typename: 'AppError', code: 'VALIDATION_FAILED', field: 'amount' });
    for (const text of ['Amount must be greater than zero', 'Description is required', 'Due date does not exist', 'Frequency must be', 'Callback url is refused']) {
      expect(refused.message).toContain(text);
    }
    const noCustomer = await create(token(m), { amount: '100', description: 'x', dueDate: '2030-01-01', customerId: '999999' });
    expect(noCustomer).toMatchObject({ __typename: 'AppError', field: 'customerId', message: 'Customer not found' });
  });

  it('reuses an existing customer by id, only for its own merchant', async () => {
    const a = await t.merchant();
    const b = await t.merchant();
    const first = (await create(token(a), { amount: '100', description: 'x', dueDate: '2030-01-01', customer: { name: 'Bo' } })).data;
    const second = await create(token(a), { amount: '200', description: 'y', dueDate: '2030-01-01', customerId: first.customer.id });
    expect(second.data.customer.id).toBe(first.customer.id);
    const foreign = await create(token(b), { amount: '200', description: 'y', dueDate: '2030-01-01', customerId: first.customer.id });
    expect(foreign).toMatchObject({ __typename: 'AppError', field: 'customerId' });
  });

  it('needs the scope charges', async () => {
    const m = await t.merchant({ scopes: ['pockets'] });
    const response = await t.graphql(CREATE, { input: { amount: '1', description: 'x', dueDate: '2030-01-01', customer: { name: 'x' } } }, { authorization: token(m) });
    expect(response.status).toBe(403);
    const anonymous = await t.graphql('{ charges { totalCount } }');
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('queries', () => {
  it('lists charges with filters and pagination, and customers, only the merchant\'s own', async () => {
    const m = await t.merchant();
    const other = await t.merchant();
    await create(token(other), { amount: '100', description: 'other', dueDate: '2030-03-01', customer: { name: 'Zed' } });
    const cpf = newCpf();
    const early = (await create(token(m), { amount: '100', description: 'early', dueDate: '2030-02-01', customer: { name: 'Cy', cpfCnpj: cpf } })).data;
    const late = (await create(token(m), { amount: '300', description: 'late', dueDate: '2030-06-01', installments: 3, customer: { name: 'Di' } })).data;
    const off = (await create(token(m), { amount: '100', description: 'off', dueDate: '2030-02-01', customer: { name: 'Ed' }, isActive: false })).data;

    const list = async (args: string) => {
      const response = await t.graphql(`{ charges(${args}) { totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }`, {}, { authorization: token(m) });
      expect(response.errors).toBeUndefined();
      return response.data.charges;
    };
    const all = await list('first: 2');
    expect(all.totalCount).toBe(3);
    expect(all.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([off.id, late.id]);
    expect(all.pageInfo.hasNextPage).toBe(true);
    const next = await list(`first: 2, after: "${all.pageInfo.endCursor}"`);
    expect(next.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([early.id]);
    expect((await list('status: [CANCELED]')).edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([off.id]);
    expect((await list('status: [PENDING], dueFrom: "2030-07-01", dueTo: "2030-07-31"')).edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([late.id]);
    expect((await list(`customerId: "${early.customer.id}"`)).totalCount).toBe(1);
    expect((await list('isActive: false')).totalCount).toBe(1);

    const customers = await t.graphql(`{ chargeCustomers(cpfCnpj: "${cpf}") { totalCount edges { node { name cpfCnpj charges { totalCount } } } } }`, {}, { authorization: token(m) });
    expect(customers.data.chargeCustomers).toEqual({ totalCount: 1, edges: [{ node: { name: 'Cy', cpfCnpj: expect.stringMatching(/^\d{3}\.\d{3}\.\d{3}-\d{2}$/), charges: { totalCount: 1 } } }] });

    const foreign = await t.graphql(CHARGE, { id: early.id }, { authorization: token(other) });
    expect(foreign.data.charge).toBeNull();
    const unknown = await t.graphql(CHARGE, { id: 'nope' }, { authorization: token(m) });
    expect(unknown.data.charge).toBeNull();
  });

  it('works with the Basic credential too, as the README promises', async () => {
    const m = await t.merchant();
    const response = await t.graphql('{ charges { totalCount } chargeCallbackSecret }', {}, { authorization: basic(m.basicKey, m.basicSecret) });
    expect(response.data.charges.totalCount).toBe(0);
    expect(response.data.chargeCallbackSecret).toMatch(/^whsec_/);
  });
});

describe('payChargeInstallment', () => {
  it('records an external payment: ledger transfer, installment paid, charge status, events', async () => {
    const m = await t.merchant();
    const charge = (await create(token(m), { amount: '30000', description: 'three', dueDate: '2030-02-01', installments: 3, customer: { name: 'Fa' } })).data;
    const paid = await t.graphql(PAY, { chargeId: charge.id, number: 1, reference: 'receipt-1', paymentDate: '2030-01-04' }, { authorization: token(m) });
    expect(paid.data.payChargeInstallment).toEqual({
      __typename: 'MutationPayChargeInstallmentSuccess',
      data: {
        number: 1,
        status: 'PAID',
        paidAmount: '10000',
        discount: '0',
        paymentDate: '2030-01-04',
        paymentMethod: 'EXTERNAL',
        paymentReference: 'receipt-1',
        charge: { id: charge.id, status: 'PARTIALLY_PAID' },
      },
    });
    expect(await merchantBalance(t, m.merchantId)).toBe(10000n);
    expect(await clearingBalance(t, m.merchantId)).toBe(-10000n);

    const withDiscount = await t.graphql(PAY, { chargeId: charge.id, number: 2, discount: '500' }, { authorization: token(m) });
    expect(withDiscount.data.payChargeInstallment.data).toMatchObject({ paidAmount: '9500', discount: '500', paymentDate: '2030-01-05' });
    await t.graphql(PAY, { chargeId: charge.id, number: 3 }, { authorization: token(m) });
    const done = await t.graphql(CHARGE, { id: charge.id }, { authorization: token(m) });
    expect(done.data.charge.status).toBe('PAID');
    expect(await merchantBalance(t, m.merchantId)).toBe(29500n);

    const events = await t.app.deps.prisma.event.findMany({ where: { merchantId: m.merchantId, objectId: charge.id }, orderBy: { id: 'asc' } });
    expect(events.map((event) => event.type)).toEqual([
      'charge.created',
      'installment.paid',
      'charge.partially_paid',
      'installment.paid',
      'installment.paid',
      'charge.paid',
    ]);

    const again = await t.graphql(PAY, { chargeId: charge.id, number: 3 }, { authorization: token(m) });
    expect(again.data.payChargeInstallment).toMatchObject({ __typename: 'AppError', code: 'CONFLICT' });
    expect(await merchantBalance(t, m.merchantId)).toBe(29500n);
  });

  it('refuses bad input and foreign charges without moving money', async () => {
    const a = await t.merchant();
    const b = await t.merchant();
    const charge = (await create(token(a), { amount: '1000', description: 'x', dueDate: '2030-02-01', customer: { name: 'Ga' } })).data;
    const cases: [Record<string, unknown>, string, string][] = [
      [{ chargeId: charge.id, number: 2 }, 'NOT_FOUND', 'number'],
      [{ chargeId: charge.id, number: 1, discount: '1000' }, 'VALIDATION_FAILED', 'discount'],
      [{ chargeId: charge.id, number: 1, paymentDate: '05/01/2030' }, 'VALIDATION_FAILED', 'paymentDate'],
    ];
    for (const [variables, code, field] of cases) {
      const response = await t.graphql(PAY, variables, { authorization: token(a) });
      expect(response.data.payChargeInstallment).toMatchObject({ __typename: 'AppError', code, field });
    }
    const foreign = await t.graphql(PAY, { chargeId: charge.id, number: 1 }, { authorization: token(b) });
    expect(foreign.data.payChargeInstallment).toMatchObject({ __typename: 'AppError', code: 'NOT_FOUND' });
    await t.graphql('mutation ($id: ID!) { deactivateCharge(id: $id) { __typename } }', { id: charge.id }, { authorization: token(a) });
    const inactive = await t.graphql(PAY, { chargeId: charge.id, number: 1 }, { authorization: token(a) });
    expect(inactive.data.payChargeInstallment).toMatchObject({ __typename: 'AppError', code: 'INVALID_STATE_TRANSITION' });
    expect(await merchantBalance(t, a.merchantId)).toBe(0n);
    expect(await merchantBalance(t, b.merchantId)).toBe(0n);
  });

  it('pays an installment once under concurrent requests, and replays an idempotency key', async () => {
    const m = await t.merchant();
    const charge = (await create(token(m), { amount: '5000', description: 'race', dueDate: '2030-02-01', installments: 2, customer: { name: 'Hu' } })).data;
    const results = await Promise.all(Array.from({ length: 8 }, () => t.graphql(PAY, { chargeId: charge.id, number: 1 }, { authorization: token(m) })));
    const outcomes = results.map((result) => result.data.payChargeInstallment.__typename);
    expect(outcomes.filter((name) => name === 'MutationPayChargeInstallmentSuccess')).toHaveLength(1);
    expect(outcomes.filter((name) => name === 'AppError')).toHaveLength(7);
    expect(await merchantBalance(t, m.merchantId)).toBe(2500n);

    const keyed = await Promise.all(Array.from({ length: 4 }, () => t.graphql(PAY, { chargeId: charge.id, number: 2, key: 'pay-2' }, { authorization: token(m) })));
    for (const result of keyed) expect(result.data.payChargeInstallment.__typename).toBe('MutationPayChargeInstallmentSuccess');
    expect(keyed.filter((result) => result.extensions?.idempotency?.[0]?.replayed === true)).toHaveLength(3);
    expect(await merchantBalance(t, m.merchantId)).toBe(5000n);
    const reused = await t.graphql(PAY, { chargeId: charge.id, number: 1, key: 'pay-2' }, { authorization: token(m) });
    expect(reused.data.payChargeInstallment).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    expect((await paymentTransfers(t, m.merchantId)).length).toBe(2);
  });
});

describe('updateCharge and deactivateCharge', () => {
  it('cancels unpaid installments on deactivation, resumes on reactivation, and refuses amount changes after a payment', async () => {
    const m = await t.merchant();
    const charge = (await create(token(m), { amount: '900', description: 'x', dueDate: '2030-02-01', installments: 3, customer: { name: 'Io' } })).data;
    await t.graphql(PAY, { chargeId: charge.id, number: 1 }, { authorization: token(m) });
    const UPDATE = `mutation ($id: ID!, $input: UpdateChargeInput!) { updateCharge(id: $id, input: $input) {
      __typename ... on MutationUpdateChargeSuccess { data { status isActive callbackUrl installments { status } } } ... on AppError { code field message } } }`;
    const off = await t.graphql('mutation ($id: ID!) { deactivateCharge(id: $id) { ... on MutationDeactivateChargeSuccess { data { status isActive installments { status } } } } }', { id: charge.id }, { authorization: token(m) });
    expect(off.data.deactivateCharge.data).toEqual({ status: 'CANCELED', isActive: false, installments: [{ status: 'PAID' }, { status: 'CANCELED' }, { status: 'CANCELED' }] });
    const on = await t.graphql(UPDATE, { id: charge.id, input: { isActive: true, callbackUrl: 'https://public.example.invalid/cb' } }, { authorization: token(m) });
    expect(on.data.updateCharge.data).toEqual({ status: 'PARTIALLY_PAID', isActive: true, callbackUrl: 'https://public.example.invalid/cb', installments: [{ status: 'PAID' }, { status: 'PENDING' }, { status: 'PENDING' }] });
    const cleared = await t.graphql(UPDATE, { id: charge.id, input: { callbackUrl: null } }, { authorization: token(m) });
    expect(cleared.data.updateCharge.data.callbackUrl).toBeNull();
    const amount = await t.graphql(UPDATE, { id: charge.id, input: { amount: '1200' } }, { authorization: token(m) });
    expect(amount.data.updateCharge).toMatchObject({ __typename: 'AppError', code: 'VALIDATION_FAILED', field: 'amount' });
    const unknown = await t.graphql(UPDATE, { id: '999999999', input: { isActive: false } }, { authorization: token(m) });
    expect(unknown.data.updateCharge).toMatchObject({ __typename: 'AppError', code: 'NOT_FOUND' });
  });
});

describe('legacy and GraphQL agree', () => {
  it('shows a charge made through REST in GraphQL, with the same amounts', async () => {
    const m = await t.merchant();
    const created = await createLegacyCharge(t, m, { amount: '1234.56', description: 'both', due_date: '10/02/2030', installments: 2, customer: customer() });
    const response = await t.graphql(CHARGE, { id: String(created.id) }, { authorization: basicOf(m) });
    expect(response.data.charge).toMatchObject({ amount: '123456', dueDate: '2030-02-10', paymentLink: created.attributes.links.payment });
    expect(response.data.charge.installments.map((i: { amount: string }) => i.amount)).toEqual(['61728', '61728']);
  });
});

/** Opens an SSE subscription; `next(n)` resolves with the first n payloads. */
async function subscribe(query: string, variables: Record<string, unknown>, authorization: string) {
  const controller = new AbortController();
  const response = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  expect(response.status).toBe(200);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  const payloads: any[] = [];
  let buffer = '';
  return {
    next: async (count: number) => {
      while (payloads.length < count) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const data = buffer
            .slice(0, end)
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trim())
            .join('');
          buffer = buffer.slice(end + 2);
          if (data) payloads.push(JSON.parse(data));
        }
      }
      return payloads.slice(0, count);
    },
    close: () => controller.abort(),
  };
}

describe('subscriptions', () => {
  it("streams one charge's status changes, and all charge changes of the merchant", async () => {
    const m = await t.merchant();
    const other = await t.merchant();
    const charge = (await create(token(m), { amount: '2000', description: 'live', dueDate: '2030-02-01', installments: 2, customer: { name: 'Jo' } })).data;
    const noise = (await create(token(m), { amount: '100', description: 'noise', dueDate: '2030-02-01', customer: { name: 'Ko' } })).data;
    // The creations' events are numbered before the merchant stream starts; one numbered after its
    // start would be delivered live, as the stream promises.
    await t.app.deps.relay.flush();
    const status = await subscribe('subscription ($id: ID!) { chargeStatusChanged(id: $id) { id status } }', { id: charge.id }, token(m));
    const all = await subscribe('subscription { chargesChanged { type installmentNumber charge { id status } } }', {}, token(m));
    const foreign = await subscribe('subscription ($id: ID!) { chargeStatusChanged(id: $id) { id } }', { id: charge.id }, token(other));
    const [refusal] = await foreign.next(1);
    foreign.close();
    expect(refusal.errors[0]).toMatchObject({ message: 'Charge not found.', extensions: { code: 'NOT_FOUND' } });

    await t.graphql(PAY, { chargeId: noise.id, number: 1 }, { authorization: token(m) });
    await t.graphql(PAY, { chargeId: charge.id, number: 1 }, { authorization: token(m) });
    await t.graphql(PAY, { chargeId: charge.id, number: 2 }, { authorization: token(m) });
    try {
      expect(await status.next(2)).toEqual([
        { data: { chargeStatusChanged: { id: charge.id, status: expect.any(String) } } },
        { data: { chargeStatusChanged: { id: charge.id, status: 'PAID' } } },
      ]);
      const changes = (await all.next(6)).map((payload) => payload.data.chargesChanged);
      expect(changes.map((change) => [change.type, change.installmentNumber, change.charge.id])).toEqual([
        ['installment.paid', 1, noise.id],
        ['charge.paid', null, noise.id],
        ['installment.paid', 1, charge.id],
        ['charge.partially_paid', null, charge.id],
        ['installment.paid', 2, charge.id],
        ['charge.paid', null, charge.id],
      ]);
    } finally {
      status.close();
      all.close();
    }
  });
});
