import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { RIGHTS, SCOPES } from '../../src/auth/scopes.ts';
import { countRootFields } from '../../src/limits/graphql.ts';
import { walletBalance } from '../../src/modules/wallets/service.ts';
import { parse } from 'graphql';
import { Redis } from 'ioredis';
import { bearer } from '../recharge/helpers.ts';
import { basic, expectLedgerBalanced, startApp, TestClock, token, type TestApp } from '../support/app.ts';
import { quietApp, spyOnResolvers, wsClient, wsOperation } from './support.ts';

/** Per credential 150 operations a minute, per merchant 200; aliases allowed up to 200 so that one request can spend a budget. */
const LIMITS = {
  ...quietApp,
  RATE_LIMIT_OPERATIONS_PER_MINUTE: 150,
  RATE_LIMIT_MERCHANT_OPERATIONS_PER_MINUTE: 200,
  GRAPHQL_MAX_ALIASES: 200,
} as const;

/** 30 s into a minute: a refusal now says to retry after 30 s. */
const clock = new TestClock(new Date('2030-01-01T00:00:30.000Z'));
let t: TestApp;
let operator: string;

beforeAll(async () => {
  t = await startApp(LIMITS, { clock });
  operator = await t.operator();
});
afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

const aliased = (count: number, field = 'viewer { credentialId }') =>
  `{ ${Array.from({ length: count }, (_, i) => `v${i}: ${field}`).join(' ')} }`;

const topUps = (count: number) =>
  `mutation ($input: TopUpWalletInput!) { ${Array.from({ length: count }, (_, i) => `t${i}: topUpWallet(input: $input) { __typename }`).join(' ')} }`;

async function walletOf(merchant: MerchantCredentials): Promise<string> {
  const created = await t.graphql(
    `mutation ($merchantId: ID!) { createWallet(merchantId: $merchantId, username: "limited") { ... on MutationCreateWalletSuccess { data { id } } } }`,
    { merchantId: merchant.merchantId },
    { authorization: operator },
  );
  return created.data.createWallet.data.id;
}

function expectRateLimited(res: { status: number; errors?: { extensions?: Record<string, any> }[] }, retryAfter = 30) {
  expect(res.status).toBe(429);
  expect(res.errors).toHaveLength(1);
  expect(res.errors![0]!.extensions).toEqual({ code: 'RATE_LIMITED', retryAfter });
}

describe('counting operations', () => {
  it('counts each root field, through fragments, and __typename not at all', () => {
    expect(countRootFields(parse(aliased(100)), null)).toBe(100);
    expect(countRootFields(parse('query A { viewer { credentialId } } mutation B { a: revokeCredential(id: "1") b: revokeCredential(id: "2") }'), 'B')).toBe(2);
    expect(countRootFields(parse('{ ...F ... on Query { c: viewer { scopes } } } fragment F on Query { a: viewer { scopes } b: viewer { rights } }'), null)).toBe(3);
    expect(countRootFields(parse('{ __typename }'), null)).toBe(1);
  });
});

describe('rate limits on GraphQL', () => {
  it('counts 100 aliased mutations in one request as 100, and refuses the operations over the budget before any resolver runs', async () => {
    const merchant = await t.merchant();
    const walletId = await walletOf(merchant);
    const input = { walletId, amount: '1000', txnCode: 'CIB', paymentMode: 'BANK' };
    const auth = { authorization: token(merchant) };

    // 100 mutations that run (and fail as business outcomes, which is cheap): 100 operations.
    const revokes = `mutation { ${Array.from({ length: 100 }, (_, i) => `r${i}: revokeCredential(id: "unknown-${i}") { __typename }`).join(' ')} }`;
    const hundred = await t.graphql(revokes, {}, auth);
    expect(hundred.status).toBe(200);
    expect(Object.values(hundred.data)).toEqual(Array.from({ length: 100 }, () => ({ __typename: 'AppError' })));
    const balance = await walletBalance(t.app.deps.prisma, { merchantId: merchant.merchantId, id: walletId });

    // 100 more would make 200 > 150: refused whole, nothing runs and no money moves.
    const spy = spyOnResolvers(t);
    try {
      const refused = await t.request('POST', '/graphql', { ...auth, body: { query: topUps(100), variables: { input } } });
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('30');
      expectRateLimited({ status: refused.status, ...refused.json });
      expect(refused.json.data ?? null).toBeNull();
      expect(spy.calls).toBe(0);
    } finally {
      spy.restore();
    }
    expect(await walletBalance(t.app.deps.prisma, { merchantId: merchant.merchantId, id: walletId })).toBe(balance);

    // A refused request costs nothing: the 50 left can still be spent, then not one more.
    expect((await t.graphql(aliased(50), {}, auth)).errors).toBeUndefined();
    expectRateLimited(await t.graphql('{ viewer { credentialId } }', {}, auth));

    // The next minute brings a fresh budget.
    clock.advance(60_000);
    try {
      expect((await t.graphql('{ viewer { credentialId } }', {}, auth)).data.viewer.credentialId).toBe(merchant.tokenId);
    } finally {
      clock.advance(-60_000);
    }
  });

  it("shares a merchant's budget among its credentials", async () => {
    const merchant = await t.merchant();
    expect((await t.graphql(aliased(150), {}, { authorization: token(merchant) })).errors).toBeUndefined();
    expectRateLimited(await t.graphql(aliased(1), {}, { authorization: token(merchant) }));
    // The Basic credential has its own 150, but the merchant only 50 left.
    const viaBasic = { authorization: basic(merchant.basicKey, merchant.basicSecret) };
    expectRateLimited(await t.graphql(aliased(51), {}, viaBasic));
    expect((await t.graphql(aliased(50), {}, viaBasic)).errors).toBeUndefined();
    expectRateLimited(await t.graphql(aliased(1), {}, viaBasic));
    // Another merchant is not affected.
    const other = await t.merchant();
    expect((await t.graphql(aliased(1), {}, { authorization: token(other) })).errors).toBeUndefined();
  });

  it('refuses over graphql-ws too, queries and subscriptions alike; a subscription counts once, when it starts', async () => {
    const merchant = await t.merchant();
    const client = wsClient(t, token(merchant));
    try {
      const query = await wsOperation(client, aliased(149));
      expect(query.errors).toBeUndefined();
      // The 150th operation: a subscription, which then delivers events without counting them.
      const subscription = new Promise<void>((resolve, reject) => {
        const stop = client.subscribe(
          { query: 'subscription { events { id } }' },
          { next: () => undefined, error: reject, complete: () => resolve() },
        );
        setTimeout(() => {
          stop();
          resolve();
        }, 300);
      });
      await subscription;
      const refused = await wsOperation(client, 'subscription { events { id } }');
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 30 });
      const refusedQuery = await wsOperation(client, '{ viewer { credentialId } }');
      expect(refusedQuery.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 30 });
    } finally {
      await client.dispose();
    }
  });

  it('does not count requests without valid credentials (they reach nothing)', async () => {
    const res = await t.graphql(aliased(190), {}, { authorization: 'Token nope' });
    expect(res.status).toBe(401);
  });
});

describe('rate limits on the legacy REST routes', () => {
  it("answers 429 with Retry-After in each legacy API's own envelope, changing nothing", async () => {
    const merchant = await t.merchant({ scopes: [...SCOPES], rights: [...RIGHTS] });
    const oauth = await bearer(t, merchant);
    // The whole merchant budget, spent by two credentials.
    expect((await t.graphql(aliased(150), {}, { authorization: token(merchant) })).errors).toBeUndefined();
    expect((await t.graphql(aliased(50), {}, { authorization: basic(merchant.basicKey, merchant.basicSecret) })).errors).toBeUndefined();
    // This merchant's only: other suites share the database.
    const transfers = await t.app.deps.prisma.ledgerTransfer.count({ where: { merchantId: merchant.merchantId } });

    const message = 'Too many requests for this credential or merchant; retry after 30 s.';
    const answers = {
      pockets: await t.request('GET', '/badje/v1/pockets/any/charge/any/', { authorization: token(merchant) }),
      wallets: await t.request('POST', '/digipay/v3/transaction/wallet_topup', {
        authorization: token(merchant),
        headers: { CompanyID: merchant.companyId },
        body: { wallet_id: 'x', txn_amount: 1 },
      }),
      recharge: await t.request('GET', '/v3/rechargeProviders', { authorization: oauth }),
      charges: await t.request('GET', '/service/resources/charges', { authorization: basic(merchant.basicKey, merchant.basicSecret) }),
      invoices: await t.request('GET', '/invoice/getInfo?invoiceId=x', { authorization: token(merchant) }),
    };
    for (const [api, res] of Object.entries(answers)) {
      expect(res.status, api).toBe(429);
      expect(res.headers.get('retry-after'), api).toBe('30');
    }
    expect(answers.pockets.json).toEqual({ detail: expect.stringMatching(/.+/) });
    expect(answers.wallets.json).toEqual({ success: 0, error: [429], data: { message: 'TOO_MANY_REQUESTS' } });
    expect(answers.recharge.json).toEqual({ error: 'RATE_LIMITED', message });
    expect(answers.charges.json).toEqual({ code: '429', message, resource: 'resources.charge.list' });
    expect(answers.invoices.json).toEqual({ error: 'RATE_LIMITED', message });
    expect(await t.app.deps.prisma.ledgerTransfer.count({ where: { merchantId: merchant.merchantId } })).toBe(transfers);
  });

  it('counts one operation per REST request', async () => {
    const merchant = await t.merchant();
    expect((await t.graphql(aliased(148), {}, { authorization: token(merchant) })).errors).toBeUndefined();
    const trace = () => t.request('GET', '/badje/v1/pockets/any/charge/any/', { authorization: token(merchant) });
    expect((await trace()).status).toBe(404);
    expect((await trace()).status).toBe(404);
    expect((await trace()).status).toBe(429);
  });
});

describe('rate limits while Redis is unreachable', () => {
  it('keep serving, counting in the process', async () => {
    const down = await startApp({ ...LIMITS, REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_REDIS_TIMEOUT_MS: 50 }, { clock });
    try {
      const merchant = await down.merchant();
      const auth = { authorization: token(merchant) };
      expect((await down.graphql(aliased(150), {}, auth)).errors).toBeUndefined();
      expectRateLimited(await down.graphql(aliased(1), {}, auth));
      const rest = await down.request('GET', '/badje/v1/pockets/any/charge/any/', auth);
      expect(rest.status).toBe(429);
    } finally {
      await down.stop();
    }
  });
});

describe.runIf(process.env.REDIS_URL)('rate limits shared through Redis', () => {
  it('share one budget among all instances', async () => {
    const second = await startApp(LIMITS, { clock });
    try {
      const merchant = await t.merchant();
      expect((await t.graphql(aliased(100), {}, { authorization: token(merchant) })).errors).toBeUndefined();
      expectRateLimited(await second.graphql(aliased(100), {}, { authorization: token(merchant) }));
      expect((await second.graphql(aliased(50), {}, { authorization: token(merchant) })).errors).toBeUndefined();
      expectRateLimited(await t.graphql(aliased(1), {}, { authorization: token(merchant) }));
    } finally {
      await second.stop();
    }
  });
});

describe.runIf(process.env.REDIS_URL)('rate limits leased from Redis', () => {
  it('take budget a hundredth of the limit at a time, one lease for concurrent requests, and never more than the limit in all', async () => {
    const limits = { ...LIMITS, RATE_LIMIT_OPERATIONS_PER_MINUTE: 500, RATE_LIMIT_MERCHANT_OPERATIONS_PER_MINUTE: 0 };
    const first = await startApp(limits, { clock });
    const second = await startApp(limits, { clock });
    const redis = new Redis(process.env.REDIS_URL!);
    try {
      const merchant = await first.merchant();
      const auth = { authorization: token(merchant) };
      const counter = async () => Number(await redis.get(`ratelimit:credential:${merchant.tokenId}:${Math.floor(clock.now().getTime() / 60_000)}`));
      const viewer = (app: TestApp) => app.graphql('{ viewer { credentialId } }', {}, auth);

      // Three concurrent operations share one lease of 5 (500 / 100).
      for (const res of await Promise.all([viewer(first), viewer(first), viewer(first)])) expect(res.errors).toBeUndefined();
      expect(await counter()).toBe(5);
      // An operation larger than a lease takes what it needs, no more.
      for (const count of [195, 195, 100]) expect((await second.graphql(aliased(count), {}, auth)).errors).toBeUndefined();
      expect(await counter()).toBe(495);
      expectRateLimited(await second.graphql(aliased(6), {}, auth));
      // The first instance spends its lease without asking Redis, then leases the last 5.
      for (let i = 0; i < 3; i++) expect((await viewer(first)).errors).toBeUndefined();
      expect(await counter()).toBe(500);
      // All 500 are taken: the second instance is refused even though the first has 4 unused.
      expectRateLimited(await viewer(second));
      expect(await counter()).toBe(500);
    } finally {
      redis.disconnect();
      await second.stop();
      await first.stop();
    }
  });
});

/** A TCP proxy to Redis that the test can make hang: connections stay open but nothing gets through. */
async function hangingProxy(target: URL): Promise<{ url: string; hang(): void; resume(): void; close(): Promise<void> }> {
  let hanging = false;
  const sockets = new Set<Socket>();
  const releases = new Set<() => void>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => sockets.delete(socket));
    }
    // While hanging, what is sent is held back, as by a Redis that stopped answering.
    const held: [Socket, Buffer][] = [];
    const forward = (to: Socket) => (chunk: Buffer) => (hanging ? held.push([to, chunk]) : to.write(chunk));
    client.on('data', forward(upstream));
    upstream.on('data', forward(client));
    releases.add(() => {
      for (const [to, chunk] of held.splice(0)) if (!to.destroyed) to.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    hang: () => {
      hanging = true;
    },
    resume: () => {
      hanging = false;
      for (const release of releases) release();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe.runIf(process.env.REDIS_URL)('rate limits when Redis stops answering', () => {
  it('fall back to counting in the process within the timeout, and use Redis again once it answers', async () => {
    const proxy = await hangingProxy(new URL(process.env.REDIS_URL!));
    const app = await startApp({ ...LIMITS, REDIS_URL: proxy.url, RATE_LIMIT_REDIS_TIMEOUT_MS: 100 }, { clock });
    try {
      const merchant = await app.merchant();
      const auth = { authorization: token(merchant) };
      // 100 counted in Redis.
      expect((await app.graphql(aliased(100), {}, auth)).errors).toBeUndefined();
      expect(app.app.deps.limiter.counting()).toBe('shared');
      proxy.hang();
      // Redis hangs: after one check times out, the process counts alone (from zero), so 150 more
      // pass and then no more.
      expect((await app.graphql(aliased(150), {}, auth)).errors).toBeUndefined();
      expectRateLimited(await app.graphql(aliased(1), {}, auth));
      expect(app.app.deps.limiter.counting()).toBe('fallback');
      proxy.resume();
      await vi.waitFor(() => expect(app.app.deps.limiter.counting()).toBe('shared'), { timeout: 10_000, interval: 50 });
      // Redis answers again and still holds the 100: 50 more, then refused.
      expect((await app.graphql(aliased(50), {}, auth)).errors).toBeUndefined();
      expectRateLimited(await app.graphql(aliased(1), {}, auth));
    } finally {
      proxy.resume();
      await app.stop();
      await proxy.close();
    }
  });
});
