import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { findAccount } from '../../src/ledger/ledger.ts';
import { basic, expectLedgerBalanced, startApp, token, type TestApp } from '../support/app.ts';
import { bearer, createProvider, paymentsPath, privilegedMerchant } from './helpers.ts';

let t: TestApp;
let merchant: MerchantCredentials;
let auth: string;

beforeAll(async () => {
  t = await startApp();
  merchant = await privilegedMerchant(t);
  auth = await bearer(t, merchant);
  await createProvider(t, merchant.merchantId, 'mobile', [
    '--description',
    'Mobile top-up',
    '--params',
    JSON.stringify([{ name: 'phone', type: 'string', required: true }, { name: 'express', type: 'boolean' }]),
  ]);
  await createProvider(t, merchant.merchantId, 'fixed', ['--params', JSON.stringify([{ name: 'amount', type: 'integer', fixed: 20000 }])]);
});
afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

const create = (body: unknown, authorization = auth, reference = 'mobile', headers: Record<string, string> = {}) =>
  t.request('POST', paymentsPath(reference), { authorization, body, headers });

async function userBalance(userId: number, currency = 'IRR') {
  const account = await findAccount(t.app.deps.prisma, merchant.merchantId, `recharge-user:${userId}:${currency}`);
  return account ? account.creditsPosted - account.debitsPosted : 0n;
}

describe('GET /v3/rechargeProviders', () => {
  it('lists the providers with their parameter definitions and a count', async () => {
    const res = await t.request('GET', '/v3/rechargeProviders', { authorization: auth });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      providers: [
        {
          name: 'Provider mobile',
          reference: 'mobile',
          description: 'Mobile top-up',
          params: [
            { name: 'amount', type: 'integer', required: true },
            { name: 'phone', type: 'string', required: true },
            { name: 'express', type: 'boolean', required: false },
          ],
        },
        { name: 'Provider fixed', reference: 'fixed', description: '', params: [{ name: 'amount', type: 'integer', required: false, fixed: '20000' }] },
      ],
      count: 2,
    });
  });

  it('needs only the scope credit, not the right', async () => {
    const reader = await t.merchant({ scopes: ['credit'], rights: [] });
    const res = await t.request('GET', '/v3/rechargeProviders', { authorization: await bearer(t, reader) });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ providers: [], count: 0 });
  });
});

describe('authentication', () => {
  it('answers 401 without a token, with a bad one, and with a non-Bearer scheme', async () => {
    for (const authorization of [null, 'Bearer at_nonsense', token(merchant), basic(merchant.basicKey, merchant.basicSecret)]) {
      const res = await t.request('GET', '/v3/rechargeProviders', { authorization });
      expect(res.status).toBe(401);
      expect(res.json.error).toBe('UNAUTHENTICATED');
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
    }
  });

  it('answers 401 for an expired access token', async () => {
    await t.app.deps.prisma.credential.updateMany({
      where: { merchantId: merchant.merchantId, kind: 'access_token' },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    t.app.deps.auth.invalidate();
    const res = await t.request('GET', '/v3/rechargeProviders', { authorization: auth });
    expect(res.status).toBe(401);
    auth = await bearer(t, merchant);
  });

  it('answers 403 for a token without the scope credit', async () => {
    const res = await t.request('GET', '/v3/rechargeProviders', { authorization: await bearer(t, merchant, 'pockets') });
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ error: 'FORBIDDEN', message: expect.stringContaining('credit') });
  });

  it('answers 403 on the payment routes without the right Manage payments, and a default merchant has neither', async () => {
    const noRight = await t.merchant({ scopes: ['credit'], rights: [] });
    await createProvider(t, noRight.merchantId, 'mobile');
    const res = await t.request('GET', paymentsPath('mobile'), { authorization: await bearer(t, noRight) });
    expect(res.status).toBe(403);
    expect(res.json.message).toContain('Manage payments');
    const plain = await t.merchant();
    const denied = await t.request('POST', paymentsPath('mobile'), { authorization: await bearer(t, plain), body: { userId: 1, params: { amount: '1' } } });
    expect(denied.status).toBe(403);
  });

  it("accepts the document's own spelling of the header, Authentication: Bearer", async () => {
    const res = await t.request('GET', '/v3/rechargeProviders', { headers: { authentication: auth } });
    expect(res.status).toBe(200);
  });

  it("logs a staff member in with the login_info grant, bounded by the staff member's rights", async () => {
    const { createStaffUser } = await import('../../src/auth/credentials.ts');
    const clerk = await createStaffUser(t.app.deps.prisma, { merchantId: merchant.merchantId, username: 'clerk', password: 'a long clerk password', rights: [] });
    const manager = await createStaffUser(t.app.deps.prisma, { merchantId: merchant.merchantId, username: 'manager', password: 'a long manager password' });
    const login = (username: string, password: string, client = merchant) =>
      t.request('POST', '/oauth/token', {
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        authorization: basic(client.oauthClientId, client.oauthClientSecret),
        body: new URLSearchParams({ grant_type: 'login_info', username, password, scope: 'credit' }).toString(),
      });

    const managerToken = await login('manager', manager.password);
    expect(managerToken.status).toBe(200);
    const asManager = await create({ userId: 7, params: { amount: '1000', phone: '09120000000' } }, `Bearer ${managerToken.json.access_token}`);
    expect(asManager.status).toBe(200);

    const clerkToken = await login('clerk', clerk.password);
    expect(clerkToken.status).toBe(200);
    const providers = await t.request('GET', '/v3/rechargeProviders', { authorization: `Bearer ${clerkToken.json.access_token}` });
    expect(providers.status).toBe(200);
    const denied = await create({ userId: 7, params: { amount: '1000', phone: '09120000000' } }, `Bearer ${clerkToken.json.access_token}`);
    expect(denied.status).toBe(403);

    const other = await privilegedMerchant(t, 'Other recharge merchant');
    for (const attempt of [login('manager', 'wrong password!'), login('nobody', manager.password), login('manager', manager.password, other)]) {
      const res = await attempt;
      expect(res.status).toBe(400);
      expect(res.json.error).toBe('invalid_grant');
    }
    const missing = await t.request('POST', '/oauth/token', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      authorization: basic(merchant.oauthClientId, merchant.oauthClientSecret),
      body: 'grant_type=login_info&username=manager',
    });
    expect(missing.json.error).toBe('invalid_request');
  });
});

describe('payments', () => {
  it('creates a pending payment, lists it, updates, commits and replays the commit', async () => {
    const created = await create({ userId: 101, description: 'Top-up', params: { amount: '50000', phone: '09120000000' } });
    expect(created.status).toBe(200);
    expect(created.json).toEqual({
      id: expect.any(String),
      userId: 101,
      amount: 50000,
      description: 'Top-up',
      params: { amount: '50000', phone: '09120000000' },
    });
    const id = created.json.id as string;
    expect(await userBalance(101)).toBe(0n);

    const listed = await t.request('GET', paymentsPath('mobile'), { authorization: auth });
    expect(listed.status).toBe(200);
    expect(listed.json.count).toBeGreaterThanOrEqual(1);
    const item = listed.json.payments.find((p: { id: string }) => p.id === id);
    expect(item).toEqual({
      id,
      userId: 101,
      amount: 50000,
      currency: 'IRR',
      state: 'pending',
      created: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updated: expect.any(String),
      expires: expect.any(String),
      paymentNo: expect.any(Number),
      provider: 'mobile',
      description: 'Top-up',
    });
    expect(new Date(item.expires).getTime() - new Date(item.created).getTime()).toBe(15 * 60 * 1000);

    const patched = await t.request('PATCH', paymentsPath('mobile', id), {
      authorization: auth,
      body: { description: 'Top-up, corrected', params: { amount: '60000', phone: '09120000000', express: 'true' } },
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ id, amount: 60000, description: 'Top-up, corrected', state: 'pending', params: { express: 'true' } });

    const committed = await t.request('POST', paymentsPath('mobile', id, 'commit'), { authorization: auth });
    expect(committed.status).toBe(200);
    expect(committed.json).toEqual({ amount: 60000 });
    expect(await userBalance(101)).toBe(60000n);

    const again = await t.request('POST', paymentsPath('mobile', id, 'commit'), { authorization: auth });
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ amount: 60000 });
    expect(await userBalance(101)).toBe(60000n);
  });

  it('rolls back with a kept reason; rollback replays, commit and update afterwards are 409 with a JSON body', async () => {
    const created = await create({ userId: 102, params: { amount: '7000', phone: '0912' } });
    const id = created.json.id as string;
    const rolled = await t.request('POST', paymentsPath('mobile', id, 'rollback'), { authorization: auth, body: { reason: 'customer cancelled' } });
    expect(rolled.status).toBe(200);
    expect(rolled.json).toMatchObject({ id, state: 'rolled_back', reason: 'customer cancelled' });

    const replay = await t.request('POST', paymentsPath('mobile', id, 'rollback'), { authorization: auth, body: { reason: 'other' } });
    expect(replay.status).toBe(200);
    expect(replay.json.reason).toBe('customer cancelled');

    const commit = await t.request('POST', paymentsPath('mobile', id, 'commit'), { authorization: auth });
    expect(commit.status).toBe(409);
    expect(commit.json).toEqual({ error: 'INVALID_STATE_TRANSITION', message: expect.stringContaining('rolled back') });
    const update = await t.request('PATCH', paymentsPath('mobile', id), { authorization: auth, body: { description: 'late' } });
    expect(update.status).toBe(409);
    expect(update.json.error).toBe('INVALID_STATE_TRANSITION');
    expect(await userBalance(102)).toBe(0n);
  });

  it('refuses rollback and update of a committed payment with 409', async () => {
    const id = (await create({ userId: 103, params: { amount: '100', phone: '0912' } })).json.id as string;
    expect((await t.request('POST', paymentsPath('mobile', id, 'commit'), { authorization: auth })).status).toBe(200);
    const rollback = await t.request('POST', paymentsPath('mobile', id, 'rollback'), { authorization: auth, body: { reason: 'too late' } });
    expect(rollback.status).toBe(409);
    expect(rollback.json.error).toBe('INVALID_STATE_TRANSITION');
    const update = await t.request('PATCH', paymentsPath('mobile', id), { authorization: auth, body: { params: { amount: '5', phone: '1' } } });
    expect(update.status).toBe(409);
    expect(await userBalance(103)).toBe(100n);
  });

  it('takes the amount from a provider that fixes it, and refuses another', async () => {
    const created = await create({ userId: '104', params: {} }, auth, 'fixed');
    expect(created.status).toBe(200);
    expect(created.json).toMatchObject({ userId: 104, amount: 20000, params: { amount: '20000' } });
    const other = await create({ userId: 104, params: { amount: '1' } }, auth, 'fixed');
    expect(other.status).toBe(400);
    expect(other.json.field).toBe('params.amount');
  });

  it('accepts params as a JSON string, as the document shows the create body', async () => {
    const created = await create({ userId: 105, params: JSON.stringify({ amount: '900', phone: '0912' }) });
    expect(created.status).toBe(200);
    expect(created.json.amount).toBe(900);
  });

  it('numbers payments per provider, in order', async () => {
    const reference = 'numbered';
    await createProvider(t, merchant.merchantId, reference);
    const numbers: number[] = [];
    for (let i = 0; i < 3; i++) {
      await create({ userId: 1, params: { amount: '10' } }, auth, reference);
    }
    const listed = await t.request('GET', paymentsPath(reference), { authorization: auth });
    for (const payment of listed.json.payments) numbers.push(payment.paymentNo);
    expect(numbers).toEqual([3, 2, 1]);
    const paged = await t.request('GET', `${paymentsPath(reference)}?limit=1&offset=1`, { authorization: auth });
    expect(paged.json).toMatchObject({ count: 3, payments: [{ paymentNo: 2 }] });
  });

  it('replays a create with the same Idempotency-Key and refuses the key for another body', async () => {
    const headers = { 'idempotency-key': 'rest-create-1' };
    const body = { userId: 106, params: { amount: '300', phone: '1' } };
    const first = await create(body, auth, 'mobile', headers);
    const second = await create(body, auth, 'mobile', headers);
    expect(second.status).toBe(200);
    expect(second.json.id).toBe(first.json.id);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    const reused = await create({ ...body, userId: 107 }, auth, 'mobile', headers);
    expect(reused.status).toBe(422);
    expect(reused.json.error).toBe('IDEMPOTENCY_KEY_REUSED');
  });

  it('refuses an Idempotency-Key header sent twice (the two arrive joined by ", "), over GraphQL too', async () => {
    const body = { userId: 108, params: { amount: '300', phone: '1' } };
    const twice = await create(body, auth, 'mobile', { 'idempotency-key': 'k-1, k-2' });
    expect(twice.status).toBe(400);
    expect(twice.json.error).toBe('VALIDATION_FAILED');
    const query = 'mutation { createRechargePayment(provider: "mobile", userId: "108", params: { amount: "300", phone: "1" }) { __typename } }';
    const graphql = await t.request('POST', '/graphql', { authorization: auth, body: { query }, headers: { 'idempotency-key': 'k-1, k-2' } });
    expect(graphql.json.errors[0].extensions).toMatchObject({ code: 'VALIDATION_FAILED', field: 'Idempotency-Key' });
    const listed = await t.request('GET', `${paymentsPath('mobile')}?userId=108`, { authorization: auth });
    expect(listed.json.count).toBe(0);
  });
});

describe('bad input answers 400 naming the field, never 500, and moves no money', () => {
  const cases: [string, unknown, string][] = [
    ['missing amount', { userId: 1, params: { phone: '1' } }, 'params.amount'],
    ['amount not an integer', { userId: 1, params: { amount: '12.5', phone: '1' } }, 'params.amount'],
    ['zero amount', { userId: 1, params: { amount: '0', phone: '1' } }, 'params.amount'],
    ['negative amount', { userId: 1, params: { amount: '-5', phone: '1' } }, 'params.amount'],
    ['amount beyond 2^53', { userId: 1, params: { amount: '9007199254740993', phone: '1' } }, 'params.amount'],
    ['missing required param', { userId: 1, params: { amount: '5' } }, 'params.phone'],
    ['bad boolean', { userId: 1, params: { amount: '5', phone: '1', express: 'yes' } }, 'params.express'],
    ['unknown param', { userId: 1, params: { amount: '5', phone: '1', colour: 'red' } }, 'params.colour'],
    ['object param value', { userId: 1, params: { amount: { value: 5 }, phone: '1' } }, 'params.amount'],
    ['params string that is not JSON', { userId: 1, params: 'amount=5' }, 'params'],
    ['missing userId', { params: { amount: '5', phone: '1' } }, 'userId'],
    ['negative userId', { userId: -1, params: { amount: '5', phone: '1' } }, 'userId'],
    ['fractional userId', { userId: 1.5, params: { amount: '5', phone: '1' } }, 'userId'],
    ['userId not digits', { userId: 'abc', params: { amount: '5', phone: '1' } }, 'userId'],
    ['unknown field', { userId: 1, params: { amount: '5', phone: '1' }, extra: true }, 'extra'],
  ];
  for (const [name, body, field] of cases) {
    it(name, async () => {
      const before = await t.request('GET', paymentsPath('mobile'), { authorization: auth });
      const res = await create(body);
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ error: 'VALIDATION_FAILED', field });
      expect(res.json.message).toContain(field);
      const after = await t.request('GET', paymentsPath('mobile'), { authorization: auth });
      expect(after.json.count).toBe(before.json.count);
    });
  }

  it('malformed JSON', async () => {
    const res = await create('{"userId": 1,');
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: 'VALIDATION_FAILED', field: 'body' });
  });

  it('a body that is not JSON', async () => {
    const res = await t.request('POST', paymentsPath('mobile'), { authorization: auth, headers: { 'content-type': 'text/plain' }, body: '{"userId": 1}' });
    expect(res.status).toBe(415);
    expect(res.json).toEqual({ error: 'UNSUPPORTED_MEDIA_TYPE', message: 'The body is sent as application/json.', field: 'body' });
  });

  it('an update that changes nothing', async () => {
    const id = (await create({ userId: 108, params: { amount: '5', phone: '1' } })).json.id as string;
    const res = await t.request('PATCH', paymentsPath('mobile', id), { authorization: auth, body: {} });
    expect(res.status).toBe(400);
    expect(res.json.field).toBe('body');
  });

  it('rollback without a reason', async () => {
    const id = (await create({ userId: 108, params: { amount: '5', phone: '1' } })).json.id as string;
    const res = await t.request('POST', paymentsPath('mobile', id, 'rollback'), { authorization: auth, body: {} });
    expect(res.status).toBe(400);
    expect(res.json.field).toBe('reason');
  });
});

describe('OpenAPI', () => {
  it('documents every recharge route', async () => {
    const res = await t.request('GET', '/openapi.json');
    expect(res.status).toBe(200);
    const paths = res.json.paths as Record<string, Record<string, unknown>>;
    expect(Object.keys(paths['/v3/rechargeProviders']!)).toEqual(['get']);
    expect(Object.keys(paths['/v3/rechargeProviders/{reference}/payments']!).sort()).toEqual(['get', 'post']);
    expect(Object.keys(paths['/v3/rechargeProviders/{reference}/payments/{id}']!)).toEqual(['patch']);
    expect(paths['/v3/rechargeProviders/{reference}/payments/{id}/commit']).toHaveProperty('post');
    expect(paths['/v3/rechargeProviders/{reference}/payments/{id}/rollback']).toHaveProperty('post');
  });
});

describe('tenancy', () => {
  it("answers 404 for an unknown provider or payment, and for another merchant's, alike", async () => {
    const id = (await create({ userId: 109, params: { amount: '5', phone: '1' } })).json.id as string;
    const other = await privilegedMerchant(t, 'Other merchant');
    await createProvider(t, other.merchantId, 'mobile');
    const otherAuth = await bearer(t, other);

    const unknownProvider = await t.request('GET', paymentsPath('nope'), { authorization: auth });
    expect(unknownProvider.status).toBe(404);
    expect(unknownProvider.json.error).toBe('NOT_FOUND');
    const foreign = await t.request('GET', paymentsPath('fixed'), { authorization: otherAuth });
    expect(foreign.status).toBe(404);
    expect(foreign.json).toEqual(unknownProvider.json);

    for (const [method, suffix, body] of [
      ['POST', 'commit', undefined],
      ['POST', 'rollback', { reason: 'x' }],
      ['PATCH', '', { description: 'x' }],
    ] as const) {
      const path = suffix ? paymentsPath('mobile', id, suffix) : paymentsPath('mobile', id);
      const stolen = await t.request(method, path, { authorization: otherAuth, body });
      const unknown = await t.request(method, path.replace(id, '01900000-0000-7000-8000-000000000000'), { authorization: auth, body });
      expect(stolen.status).toBe(404);
      expect(unknown.status).toBe(404);
      expect(stolen.json).toEqual(unknown.json);
    }
    // The payment is the first provider's: under another provider's reference it is not found either.
    const wrongProvider = await t.request('POST', paymentsPath('fixed', id, 'commit'), { authorization: auth });
    expect(wrongProvider.status).toBe(404);
    // Nor with the key of its commit under its own provider: that answer is not replayed there.
    const headers = { 'idempotency-key': 'commit-under-mobile' };
    const committed = await t.request('POST', paymentsPath('mobile', id, 'commit'), { authorization: auth, headers });
    expect(committed.status).toBe(200);
    const replayedElsewhere = await t.request('POST', paymentsPath('fixed', id, 'commit'), { authorization: auth, headers });
    expect(replayedElsewhere.status).toBe(404);
    expect(replayedElsewhere.json).toEqual(wrongProvider.json);
    expect((await t.request('POST', paymentsPath('mobile', id, 'commit'), { authorization: auth, headers })).headers.get('idempotent-replayed')).toBe('true');

    const listed = await t.request('GET', paymentsPath('mobile'), { authorization: otherAuth });
    expect(listed.json).toEqual({ payments: [], count: 0 });
    const committedOnes = await t.request('GET', `${paymentsPath('mobile')}?state=committed&userId=109`, { authorization: auth });
    expect(committedOnes.json.payments.map((p: { id: string }) => p.id)).toEqual([id]);
  });
});
