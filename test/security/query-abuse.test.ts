import { readdirSync, readFileSync } from 'node:fs';
import { GraphQLError } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { loadConfig } from '../../src/config.ts';
import { buildSchema } from '../../src/graphql/schema.ts';
import { armorPlugin } from '../../src/limits/graphql.ts';
import { walletBalance } from '../../src/modules/wallets/service.ts';
import { expectLedgerBalanced, startApp, TestClock, token, type TestApp } from '../support/app.ts';
import { quietApp, spyOnResolvers, wsClient, wsOperation } from './support.ts';

/** Small limits, so that each attack stays small and trips exactly one of them. */
const LIMITS = {
  GRAPHQL_MAX_DEPTH: 6,
  GRAPHQL_MAX_ALIASES: 5,
  GRAPHQL_MAX_DIRECTIVES: 5,
  GRAPHQL_MAX_TOKENS: 400,
  GRAPHQL_MAX_COST: 300,
  GRAPHQL_MAX_BODY_BYTES: 4096,
  REST_MAX_BODY_BYTES: 4096,
} as const;

const nested = (levels: number) => `{ viewer ${'{ ... on Viewer '.repeat(levels)}{ credentialId }${' }'.repeat(levels)} }`;
const TOP_UP = (alias: string) => `${alias}: topUpWallet(input: $input) { __typename }`;

/** One attack on each limit: the document, and what its refusal says outside production. */
const ATTACKS = {
  depth: { query: nested(8), message: /depth limit of 6/ },
  aliases: {
    query: `mutation ($input: TopUpWalletInput!) { ${Array.from({ length: 6 }, (_, i) => TOP_UP(`t${i}`)).join(' ')} }`,
    message: /Aliases limit of 5/,
  },
  directives: { query: `{ viewer { ${'credentialId @skip(if: false) '.repeat(6)} } }`, message: /Directives limit of 5/ },
  cost: { query: `{ viewer { ${'merchant { id name companyId createdAt } '.repeat(30)} } }`, message: /Cost limit of 300/ },
  tokens: { query: `{ viewer { ${'scopes '.repeat(450)} } }`, message: /Token limit of 400/ },
} as const;

let t: TestApp;
let production: TestApp;
let merchant: MerchantCredentials;
let walletId: string;
let topUpInput: Record<string, unknown>;

beforeAll(async () => {
  t = await startApp({ ...quietApp, ...LIMITS }, { clock: new TestClock() });
  production = await startApp({ ...quietApp, ...LIMITS, NODE_ENV: 'production' }, { clock: new TestClock() });
  merchant = await t.merchant();
  const created = await t.graphql(
    `mutation ($merchantId: ID!) { createWallet(merchantId: $merchantId, username: "abuse") { ... on MutationCreateWalletSuccess { data { id } } } }`,
    { merchantId: merchant.merchantId },
    { authorization: await t.operator() },
  );
  walletId = created.data.createWallet.data.id;
  topUpInput = { walletId, amount: '10000', txnCode: 'CIB', paymentMode: 'BANK' };
});

afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
  await production.stop();
});

const balance = () => walletBalance(t.app.deps.prisma, { merchantId: merchant.merchantId, id: walletId });

describe('GraphQL abuse limits', () => {
  it('lets an ordinary operation through to its resolvers (the spy sees them)', async () => {
    const spy = spyOnResolvers(t);
    try {
      const res = await t.graphql('{ viewer { merchant { name } } }', {}, { authorization: token(merchant) });
      expect(res.data.viewer.merchant.name).toBe('Test merchant');
      expect(spy.calls).toBeGreaterThan(0);
    } finally {
      spy.restore();
    }
  });

  for (const [limit, attack] of Object.entries(ATTACKS)) {
    it(`refuses an operation over the ${limit} limit on HTTP with 400, before any resolver runs`, async () => {
      const before = await balance();
      const spy = spyOnResolvers(t);
      try {
        const res = await t.graphql(attack.query, { input: topUpInput }, {
          authorization: token(merchant),
          headers: { accept: 'application/graphql-response+json' },
        });
        expect(res.status).toBe(400);
        expect(res.data ?? null).toBeNull();
        expect(res.errors?.[0]?.message).toMatch(attack.message);
        expect(res.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
        expect(spy.calls).toBe(0);
      } finally {
        spy.restore();
      }
      expect(await balance()).toBe(before);
    });

    it(`refuses an operation over the ${limit} limit over graphql-ws, before any resolver runs`, async () => {
      const client = wsClient(t, token(merchant));
      const spy = spyOnResolvers(t);
      try {
        const outcome = await wsOperation(client, attack.query, { input: topUpInput });
        expect(outcome.data ?? null).toBeNull();
        expect(outcome.errors?.[0]?.message).toMatch(attack.message);
        expect(spy.calls).toBe(0);
      } finally {
        spy.restore();
        await client.dispose();
      }
    });
  }

  it('refuses an over-limit subscription over SSE before it starts', async () => {
    const spy = spyOnResolvers(t);
    try {
      const deep = `subscription { events ${'{ ... on Event '.repeat(8)}{ id }${' }'.repeat(8)} }`;
      const response = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { authorization: token(merchant), accept: 'text/event-stream', 'content-type': 'application/json' },
        body: JSON.stringify({ query: deep }),
      });
      const text = await response.text();
      expect(text).toMatch(/depth limit of 6/);
      expect(text).toMatch(/QUERY_TOO_COMPLEX/);
      expect(spy.calls).toBe(0);
    } finally {
      spy.restore();
    }
  });

  it('runs the same operations when they stay within the limits (the attacks differ only in size)', async () => {
    const within = {
      depth: nested(4),
      aliases: `mutation ($input: TopUpWalletInput!) { ${Array.from({ length: 2 }, (_, i) => TOP_UP(`t${i}`)).join(' ')} }`,
      directives: `{ viewer { ${'credentialId @skip(if: false) '.repeat(5)} } }`,
      cost: `{ viewer { ${'merchant { id name companyId createdAt } '.repeat(10)} } }`,
      tokens: `{ viewer { ${'scopes '.repeat(150)} } }`,
    };
    const before = await balance();
    for (const [limit, query] of Object.entries(within)) {
      const res = await t.graphql(query, { input: topUpInput }, { authorization: token(merchant) });
      expect(res.errors, limit).toBeUndefined();
    }
    expect(await balance()).toBe(before + 2n * 10000n);
  });

  it('refuses batched requests with 400', async () => {
    const spy = spyOnResolvers(t);
    try {
      const res = await t.request('POST', '/graphql', {
        authorization: token(merchant),
        body: [{ query: '{ viewer { merchant { name } } }' }, { query: '{ viewer { merchant { name } } }' }],
      });
      expect(res.status).toBe(400);
      expect(res.json.errors[0].message).toMatch(/Batching is not supported/);
      expect(spy.calls).toBe(0);
    } finally {
      spy.restore();
    }
  });

  it('refuses a GraphQL body over its size limit with 413 in GraphQL form, and a WebSocket message over it by closing with 1009', async () => {
    const spy = spyOnResolvers(t);
    try {
      const res = await t.request('POST', '/graphql', {
        authorization: token(merchant),
        body: { query: '{ viewer { merchant { name } } }', variables: { padding: 'x'.repeat(5000) } },
      });
      expect(res.status).toBe(413);
      expect(res.json.errors[0]).toEqual({ message: 'The request body is larger than 4096 bytes.', extensions: { code: 'PAYLOAD_TOO_LARGE' } });

      // Without a Content-Length (chunked), the body is counted as it arrives: the same answers.
      const chunked = async (variables: object) => {
        const body = new Blob([JSON.stringify({ query: '{ viewer { credentialKind } }', variables })]).stream();
        const headers = { authorization: token(merchant), 'content-type': 'application/json' };
        const response = await fetch(`${t.url}/graphql`, { method: 'POST', headers, body, duplex: 'half' } as RequestInit);
        return { status: response.status, json: await response.json() };
      };
      const large = await chunked({ padding: 'x'.repeat(5000) });
      expect(large.status).toBe(413);
      expect(large.json.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
      expect(await chunked({})).toEqual({ status: 200, json: { data: { viewer: { credentialKind: 'token' } } } });

      // Closed as the client's fault: logged as a warning, not printed to the console as a server failure.
      const printed = vi.spyOn(console, 'error');
      const client = wsClient(t, token(merchant));
      const closed = new Promise<number>((resolve) => client.on('closed', (event) => resolve((event as CloseEvent).code)));
      await expect(wsOperation(client, '{ viewer { merchant { name } } }', { padding: 'x'.repeat(5000) })).rejects.toBeDefined();
      expect(await closed).toBe(1009);
      await client.dispose();
      expect(printed).not.toHaveBeenCalled();
      expect(spy.calls).toBe(0);
    } finally {
      vi.restoreAllMocks();
      spy.restore();
    }
  });

  it('refuses requests a browser could send cross-site (CSRF) with 403, and serves the others', async () => {
    const spy = spyOnResolvers(t);
    const query = encodeURIComponent('{ __typename }');
    try {
      const forged = [
        await t.request('GET', `/graphql?query=${query}`),
        await t.request('POST', '/graphql', { body: JSON.stringify({ query: '{ __typename }' }), headers: { 'content-type': 'text/plain' } }),
        await t.request('POST', '/graphql', { body: `query=${query}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      ];
      for (const res of forged) {
        expect(res.status).toBe(403);
        expect(res.json.errors[0].extensions.code).toBe('CSRF_PREVENTED');
      }
      expect(spy.calls).toBe(0);
    } finally {
      spy.restore();
    }
    const preflighted = await t.request('GET', `/graphql?query=${query}`, { headers: { 'graphql-require-preflight': '1' } });
    expect(preflighted.status).toBe(200);
    expect(preflighted.json.data).toEqual({ __typename: 'Query' });
    const authorized = await t.request('GET', `/graphql?query=${encodeURIComponent('{ viewer { credentialKind } }')}`, { authorization: token(merchant) });
    expect(authorized.json.data).toEqual({ viewer: { credentialKind: 'token' } });
    const page = await t.request('GET', '/graphql', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
  });

  it('refuses a REST body over its size limit with 413 in each legacy API\'s own error format, changing nothing', async () => {
    const body = { padding: 'x'.repeat(5000) };
    const auth = { authorization: token(merchant), body };
    // This merchant's only: other suites share the database.
    const own = { where: { merchantId: merchant.merchantId } };
    const transfers = await t.app.deps.prisma.ledgerTransfer.count(own);
    const pockets = await t.request('POST', '/badje/v1/pockets/any/charge/', auth);
    expect(pockets.status).toBe(413);
    expect(pockets.json).toEqual({ detail: expect.any(String) });
    const recharge = await t.request('POST', '/v3/rechargeProviders/any/payments', auth);
    expect(recharge.status).toBe(413);
    expect(recharge.json).toEqual({ error: 'PAYLOAD_TOO_LARGE', message: 'The request body is larger than 4096 bytes.' });
    const invoices = await t.request('POST', '/invoice/create', auth);
    expect(invoices.status).toBe(413);
    expect(invoices.json.error).toBe('PAYLOAD_TOO_LARGE');
    const charges = await t.request('POST', '/service/resources/charges', auth);
    expect(charges.status).toBe(413);
    expect(charges.json).toEqual({ code: '413', message: 'The request body is larger than 4096 bytes.', resource: 'resources.charge.create' });
    const wallets = await t.request('POST', '/digipay/v3/transaction/wallet_topup', { ...auth, headers: { CompanyID: merchant.companyId } });
    expect(wallets.status).toBe(413);
    expect(wallets.json).toEqual({ success: 0, error: [413], data: { message: 'PAYLOAD_TOO_LARGE' } });
    const oauth = await t.request('POST', '/oauth/token', auth);
    expect(oauth.status).toBe(413);
    expect(oauth.json.error).toBe('payload_too_large');
    expect(await t.app.deps.prisma.ledgerTransfer.count(own)).toBe(transfers);
  });

  it('in production, hides the limits\' values and field suggestions, and refuses introspection', async () => {
    const m = await production.merchant();
    const auth = { authorization: token(m) };
    for (const [limit, attack] of Object.entries(ATTACKS)) {
      const res = await production.graphql(attack.query, { input: topUpInput }, auth);
      expect(res.errors?.[0]?.message, limit).toBe('Syntax Error: The operation is too large or too complex.');
    }
    const typo = await production.graphql('{ viewer { credentialI } }', {}, auth);
    expect(typo.errors?.[0]?.message).not.toMatch(/Did you mean|credentialId/);
    const big = await production.request('POST', '/graphql', { ...auth, body: { query: '{ __typename }', variables: { padding: 'x'.repeat(5000) } } });
    expect(big.status).toBe(413);
    expect(big.text).not.toMatch(/\d{4}/);
    const introspection = await production.graphql('{ __schema { queryType { name } } }', {}, auth);
    expect(introspection.errors?.[0]?.message).toMatch(/introspection has been disabled/);
    // Outside production, the same typo gets a suggestion and introspection answers.
    expect((await t.graphql('{ viewer { credentialI } }', {}, { authorization: token(merchant) })).errors?.[0]?.message).toMatch(/Did you mean/);
    expect((await t.graphql('{ __schema { queryType { name } } }', {}, { authorization: token(merchant) })).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });

  it('makes introspection configurable, off by default only in production', () => {
    expect(loadConfig({ NODE_ENV: 'production' }).GRAPHQL_INTROSPECTION).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true' }).GRAPHQL_INTROSPECTION).toBe(true);
    expect(loadConfig({ NODE_ENV: 'development' }).GRAPHQL_INTROSPECTION).toBe(true);
    expect(loadConfig({ NODE_ENV: 'development', GRAPHQL_INTROSPECTION: 'false' }).GRAPHQL_INTROSPECTION).toBe(false);
  });

  it("keeps the docs' GraphQL examples within half of each default limit", () => {
    const defaults = loadConfig({});
    const half = {
      ...defaults,
      GRAPHQL_MAX_DEPTH: defaults.GRAPHQL_MAX_DEPTH / 2,
      GRAPHQL_MAX_ALIASES: defaults.GRAPHQL_MAX_ALIASES / 2,
      GRAPHQL_MAX_DIRECTIVES: defaults.GRAPHQL_MAX_DIRECTIVES / 2,
      GRAPHQL_MAX_TOKENS: defaults.GRAPHQL_MAX_TOKENS / 2,
      GRAPHQL_MAX_COST: defaults.GRAPHQL_MAX_COST / 2,
    };
    const { parse, validate, schema } = createYoga({ schema: buildSchema(), plugins: [armorPlugin(half)], logging: false }).getEnveloped({});
    const examples = readdirSync('docs')
      .filter((file) => file.endsWith('.md'))
      .flatMap((file) => [...readFileSync(`docs/${file}`, 'utf8').matchAll(/```graphql\n([\s\S]*?)```/g)].map((match) => ({ file, source: match[1]! })));
    expect(examples.length).toBeGreaterThan(5);
    for (const { file, source } of examples) {
      let refusal: GraphQLError | undefined;
      try {
        // Only the limits are judged here: a block may hold several anonymous operations.
        refusal = (validate(schema, parse(source)) as readonly GraphQLError[]).find((error) => error.extensions.code === 'QUERY_TOO_COMPLEX');
      } catch (error) {
        refusal = error as GraphQLError;
      }
      expect(refusal?.message, `${file}: ${source}`).toBeUndefined();
    }
  });
});
