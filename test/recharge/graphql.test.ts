import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { PAYMENT_TOPIC } from '../../src/modules/recharge/service.ts';
import { expectLedgerBalanced, startApp, TestClock, token, type TestApp, wsClient } from '../support/app.ts';
import { createProvider, privilegedMerchant } from './helpers.ts';

let t: TestApp;
let merchant: MerchantCredentials;
let auth: string;
const clock = new TestClock(new Date('2030-01-01T10:00:00.000Z'));

beforeAll(async () => {
  t = await startApp({}, { clock });
  merchant = await privilegedMerchant(t);
  auth = token(merchant);
  await createProvider(t, merchant.merchantId, 'mobile', ['--params', JSON.stringify([{ name: 'phone', type: 'string' }])]);
});
afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

const PAYMENT = 'id paymentNo userId amount currency state description params reason expired createdAt expiresAt provider { reference }';
const RESULT = `... on AppError { code message field } ... on MutationCreateRechargePaymentSuccess { data { ${PAYMENT} } }`;

async function createPayment(variables: Record<string, unknown>, authorization = auth) {
  const res = await t.graphql(
    `mutation($provider: String!, $userId: ID!, $params: JSON!, $description: String, $key: String) {
      createRechargePayment(provider: $provider, userId: $userId, params: $params, description: $description, idempotencyKey: $key) { ${RESULT} }
    }`,
    { provider: 'mobile', ...variables },
    { authorization },
  );
  expect(res.errors).toBeUndefined();
  return { payment: res.data.createRechargePayment.data, error: res.data.createRechargePayment.code ? res.data.createRechargePayment : null, res };
}

const transition = async (name: 'commitRechargePayment' | 'rollbackRechargePayment', id: string, extra = '') => {
  const res = await t.graphql(
    `mutation($id: ID!) { ${name}(id: $id${extra}) { ... on AppError { code message } ... on ${name.replace(/^./, (c) => c.toUpperCase()).replace(/^/, 'Mutation')}Success { data { ${PAYMENT} } } } }`,
    { id },
    { authorization: auth },
  );
  expect(res.errors).toBeUndefined();
  return res.data[name];
};

const balanceOf = async (userId: string) => {
  const res = await t.graphql(`query($u: ID!) { rechargeBalance(userId: $u, currency: "IRR") { balance pending } }`, { u: userId }, { authorization: auth });
  return res.data.rechargeBalance as { balance: string; pending: string };
};

describe('queries', () => {
  it('lists providers with typed parameter definitions, and answers null for an unknown reference', async () => {
    const res = await t.graphql(
      `{ rechargeProviders { reference currency expiresInSeconds params { name type required fixed } } nope: rechargeProvider(reference: "nope") { id } }`,
      {},
      { authorization: auth },
    );
    expect(res.data).toEqual({
      rechargeProviders: [
        {
          reference: 'mobile',
          currency: 'IRR',
          expiresInSeconds: 900,
          params: [
            { name: 'amount', type: 'INTEGER', required: true, fixed: null },
            { name: 'phone', type: 'STRING', required: false, fixed: null },
          ],
        },
      ],
      nope: null,
    });
  });

  it('pages through payments filtered by state, user and time, with a total count', async () => {
    await createProvider(t, merchant.merchantId, 'filtered');
    const start = clock.now();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { payment } = await createPayment({ provider: 'filtered', userId: String(i % 2 === 0 ? 7 : 8), params: { amount: String(100 + i) } });
      ids.push(payment.id);
      clock.advance(1000);
    }
    await transition('commitRechargePayment', ids[0]!);
    const query = `query($state: RechargePaymentState, $userId: ID, $from: DateTime, $to: DateTime, $first: Int, $after: String) {
      rechargeProvider(reference: "filtered") {
        payments(state: $state, userId: $userId, createdFrom: $from, createdTo: $to, first: $first, after: $after) {
          totalCount pageInfo { hasNextPage endCursor } edges { node { paymentNo state userId } }
        }
      }
    }`;
    const page = async (variables: Record<string, unknown>) =>
      (await t.graphql(query, variables, { authorization: auth })).data.rechargeProvider.payments;

    const all = await page({ first: 2 });
    expect(all.totalCount).toBe(5);
    expect(all.edges.map((e: { node: { paymentNo: number } }) => e.node.paymentNo)).toEqual([5, 4]);
    expect(all.pageInfo.hasNextPage).toBe(true);
    const next = await page({ first: 2, after: all.pageInfo.endCursor });
    expect(next.edges.map((e: { node: { paymentNo: number } }) => e.node.paymentNo)).toEqual([3, 2]);

    const pending = await page({ state: 'PENDING' });
    expect(pending.totalCount).toBe(4);
    const committed = await page({ state: 'COMMITTED' });
    expect(committed.edges).toEqual([{ node: { paymentNo: 1, state: 'COMMITTED', userId: '7' } }]);
    const user8 = await page({ userId: '8' });
    expect(user8.edges.map((e: { node: { paymentNo: number } }) => e.node.paymentNo)).toEqual([4, 2]);
    const window = await page({ from: new Date(start.getTime() + 1000).toISOString(), to: new Date(start.getTime() + 3000).toISOString() });
    expect(window.totalCount).toBe(2);
    expect(window.edges.map((e: { node: { paymentNo: number } }) => e.node.paymentNo)).toEqual([3, 2]);
  });

  it("needs the right Manage payments for payments, and never shows another merchant's", async () => {
    const { payment } = await createPayment({ userId: '1', params: { amount: '10' } });
    const reader = await t.merchant({ scopes: ['credit'], rights: [] });
    const denied = await t.graphql(`query($id: ID!) { rechargePayment(id: $id) { id } }`, { id: payment.id }, { authorization: token(reader) });
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const other = await privilegedMerchant(t, 'Other');
    const foreign = await t.graphql(`query($id: ID!) { rechargePayment(id: $id) { id } }`, { id: payment.id }, { authorization: token(other) });
    expect(foreign.errors).toBeUndefined();
    expect(foreign.data.rechargePayment).toBeNull();
    const own = await t.graphql(`query($id: ID!) { rechargePayment(id: $id) { id state } }`, { id: payment.id }, { authorization: auth });
    expect(own.data.rechargePayment).toEqual({ id: payment.id, state: 'PENDING' });

    const commit = await t.graphql(`mutation($id: ID!) { commitRechargePayment(id: $id) { ... on AppError { code } } }`, { id: payment.id }, { authorization: token(other) });
    expect(commit.data.commitRechargePayment).toEqual({ code: 'NOT_FOUND' });
  });
});

describe('mutations', () => {
  it('creates, updates, commits; commit replays; the balance counts committed payments only', async () => {
    const { payment } = await createPayment({ userId: '501', params: { amount: '2500', phone: '0912' }, description: 'first' });
    expect(payment).toMatchObject({ paymentNo: expect.any(Number), userId: '501', amount: '2500', currency: 'IRR', state: 'PENDING', reason: null });
    expect(await balanceOf('501')).toEqual({ balance: '0', pending: '2500' });

    const updated = await t.graphql(
      `mutation($id: ID!) { updateRechargePayment(id: $id, description: "second", params: {amount: "3000"}) { ... on MutationUpdateRechargePaymentSuccess { data { amount description params } } } }`,
      { id: payment.id },
      { authorization: auth },
    );
    expect(updated.data.updateRechargePayment.data).toEqual({ amount: '3000', description: 'second', params: { amount: '3000' } });
    expect(await balanceOf('501')).toEqual({ balance: '0', pending: '3000' });

    const committed = await transition('commitRechargePayment', payment.id);
    expect(committed.data).toMatchObject({ state: 'COMMITTED', amount: '3000' });
    const again = await transition('commitRechargePayment', payment.id);
    expect(again.data).toMatchObject({ state: 'COMMITTED', amount: '3000' });
    expect(await balanceOf('501')).toEqual({ balance: '3000', pending: '0' });

    const rollback = await transition('rollbackRechargePayment', payment.id, ', reason: "late"');
    expect(rollback).toMatchObject({ code: 'INVALID_STATE_TRANSITION' });
  });

  it('returns business failures as typed data naming the field', async () => {
    const { error } = await createPayment({ userId: '1', params: { phone: '1' } });
    expect(error).toMatchObject({ code: 'VALIDATION_FAILED', field: 'params.amount' });
    const unknown = await createPayment({ provider: 'nope', userId: '1', params: { amount: '1' } });
    expect(unknown.error).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('replays a mutation with the same idempotencyKey and reports it', async () => {
    const first = await createPayment({ userId: '502', params: { amount: '10' }, key: 'gql-create-1' });
    const second = await createPayment({ userId: '502', params: { amount: '10' }, key: 'gql-create-1' });
    expect(second.payment.id).toBe(first.payment.id);
    expect(second.res.extensions?.idempotency).toEqual([{ key: 'gql-create-1', replayed: true }]);
    const reused = await createPayment({ userId: '502', params: { amount: '11' }, key: 'gql-create-1' });
    expect(reused.error).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });

    const commit = (key: string) =>
      t.graphql(
        `mutation($id: ID!, $key: String) { commitRechargePayment(id: $id, idempotencyKey: $key) { ... on MutationCommitRechargePaymentSuccess { data { state } } } }`,
        { id: first.payment.id, key },
        { authorization: auth },
      );
    await commit('gql-commit-1');
    const replayed = await commit('gql-commit-1');
    expect(replayed.extensions?.idempotency).toEqual([{ key: 'gql-commit-1', replayed: true }]);
    expect(await balanceOf('502')).toEqual({ balance: '10', pending: '0' });
  });
});

describe('subscriptions', () => {
  /**
   * Subscribes, then publishes probe messages until one arrives: from then on the server-side
   * subscription is live, and every later change must be delivered.
   */
  async function subscribe(query: string, variables: Record<string, unknown>, probe: () => Promise<void>) {
    const client = wsClient(t, auth);
    const types: string[] = [];
    const payloads: { type: string; payment: { state: string; reason: string | null } }[] = [];
    let waiter: (() => void) | null = null;
    let failure: unknown = null;
    const stop = client.subscribe<Record<string, { type: string; payment: { state: string; reason: string | null } }>>(
      { query, variables },
      {
        next: (result) => {
          if (result.errors) failure = result.errors;
          const change = Object.values(result.data ?? {})[0];
          if (change && change.type !== 'recharge.probe') payloads.push(change);
          if (change) types.push(change.type);
          waiter?.();
        },
        error: (error) => {
          failure = error;
          waiter?.();
        },
        complete: () => undefined,
      },
    );
    const nextMessage = () =>
      new Promise<void>((resolve) => {
        waiter = resolve;
        setTimeout(resolve, 100);
      });
    const until = async (done: () => boolean) => {
      while (!done()) {
        if (failure) throw new Error(JSON.stringify(failure));
        await nextMessage();
      }
    };
    while (!types.includes('recharge.probe')) {
      if (failure) throw new Error(JSON.stringify(failure));
      await probe();
      await nextMessage();
    }
    return {
      payloads,
      until,
      close: async () => {
        stop();
        await client.dispose();
      },
    };
  }

  /** An event the subscriptions ignore, published to show that they listen: to the payment's channel and the merchant's stream. */
  const probe = (merchantId: string, paymentId: string, providerId: string) =>
    t.app.deps.bus.publish([
      { seq: '0', size: 1, merchantId, type: 'recharge.probe', topic: PAYMENT_TOPIC, objectId: paymentId, occurredAt: new Date().toISOString(), payload: JSON.stringify({ providerId }) },
    ]);

  it("tells a payment's subscribers of its changes, expiry included", async () => {
    const { payment } = await createPayment({ userId: '601', params: { amount: '40' } });
    const provider = await t.app.deps.prisma.rechargeProvider.findFirstOrThrow({ where: { merchantId: merchant.merchantId, reference: 'mobile' } });
    const sub = await subscribe(
      `subscription($id: ID!) { rechargePaymentChanged(id: $id) { type payment { state reason } } }`,
      { id: payment.id },
      () => probe(merchant.merchantId, payment.id, provider.id),
    );
    await t.graphql(
      `mutation($id: ID!) { updateRechargePayment(id: $id, description: "changed") { __typename } }`,
      { id: payment.id },
      { authorization: auth },
    );
    clock.advance(15 * 60 * 1000);
    const { expireRechargePayments } = await import('../../src/modules/recharge/service.ts');
    expect(await expireRechargePayments(t.app.deps, { merchantId: merchant.merchantId })).toBeGreaterThanOrEqual(1);
    // The creation may still be in flight from the outbox when the subscription starts: it is not asserted.
    const changes = () => sub.payloads.filter((p) => p.type !== 'recharge.created');
    await sub.until(() => changes().length >= 2);
    expect(changes().map((p) => p.type)).toEqual(['recharge.updated', 'recharge.expired']);
    // Subscribers re-read the payment: the expiry's delivery shows it rolled back.
    expect(changes()[1]!.payment).toEqual({ state: 'ROLLED_BACK', reason: 'expired' });
    await sub.close();
  });

  it("streams every payment change of one provider, and only that provider's", async () => {
    const provider = await createProvider(t, merchant.merchantId, 'dashboard');
    const elsewhere = await createPayment({ userId: '602', params: { amount: '1' } });
    const sub = await subscribe(
      `subscription { rechargePaymentsChanged(provider: "dashboard") { type payment { state reason } } }`,
      {},
      () => probe(merchant.merchantId, elsewhere.payment.id, provider.id),
    );
    await transition('commitRechargePayment', elsewhere.payment.id);
    const a = await createPayment({ provider: 'dashboard', userId: '602', params: { amount: '5' } });
    const b = await createPayment({ provider: 'dashboard', userId: '603', params: { amount: '6' } });
    await transition('commitRechargePayment', a.payment.id);
    await transition('rollbackRechargePayment', b.payment.id, ', reason: "customer left"');
    await sub.until(() => sub.payloads.length >= 4);
    // Several instances' relays may publish out of order: the set of changes is what is asserted.
    expect(sub.payloads.map((p) => p.type).sort()).toEqual(['recharge.committed', 'recharge.created', 'recharge.created', 'recharge.rolled_back']);
    expect(sub.payloads.find((p) => p.type === 'recharge.rolled_back')!.payment).toEqual({ state: 'ROLLED_BACK', reason: 'customer left' });
    await sub.close();
  });

  it('refuses to subscribe to an unknown or foreign payment', async () => {
    const other = await privilegedMerchant(t, 'Stranger');
    const { payment } = await createPayment({ userId: '604', params: { amount: '1' } });
    const client = wsClient(t, token(other));
    const errors = await new Promise<unknown>((resolve) => {
      client.subscribe(
        { query: `subscription($id: ID!) { rechargePaymentChanged(id: $id) { type } }`, variables: { id: payment.id } },
        { next: (result) => resolve(result.errors), error: resolve, complete: () => resolve(null) },
      );
    });
    expect(JSON.stringify(errors)).toContain('NOT_FOUND');
    await client.dispose();
  });
});
