import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, token, type TestApp } from '../support/app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startApp();
});
afterAll(() => t.stop());

describe('HTTP surface', () => {
  it('reports liveness and readiness', async () => {
    expect((await t.request('GET', '/healthz')).json).toEqual({ status: 'ok' });
    const ready = await t.request('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.json).toMatchObject({ status: 'ready', database: 'up' });
    expect(ready.json.redis).toBe(process.env.REDIS_URL ? 'up' : 'not configured');
  });

  it('publishes an OpenAPI 3.1 document of the REST routes', async () => {
    const doc = await t.request('GET', '/openapi.json');
    expect(doc.json.openapi).toBe('3.1.0');
    expect(Object.keys(doc.json.paths)).toContain('/oauth/token');
  });

  it('serves GraphiQL to a browser outside production', async () => {
    const page = await t.request('GET', '/graphql', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.text).toContain('graphiql');
  });

  it("answers a method a legacy path does not serve with 404 in that API's own envelope", async () => {
    const m = await t.merchant();
    const basicAuth = `Basic ${Buffer.from(`${m.basicKey}:${m.basicSecret}`).toString('base64')}`;
    const cases: [string, string, Record<string, string>, unknown][] = [
      ['GET', '/digipay/v3/transaction/wallet_topup', { authorization: token(m), CompanyID: m.companyId }, { success: 0, error: [404], data: { message: 'NOT_FOUND' } }],
      ['GET', '/badje/v1/pockets/some-group/charge/', { authorization: token(m) }, { detail: 'یافت نشد.' }],
      ['DELETE', '/service/resources/charges?id=1', { authorization: basicAuth }, { code: '404', message: 'No route for this method and path.', resource: 'resources.charge.show' }],
      ['PUT', '/v3/rechargeProviders/some-provider/payments/x', {}, { error: 'NOT_FOUND', message: 'No route for this method and path.' }],
      ['GET', '/invoice/create', {}, { error: 'NOT_FOUND', message: 'No route for this method and path.' }],
      ['GET', '/nowhere', {}, { error: 'not_found', message: 'No route for this method and path.' }],
    ];
    for (const [method, path, headers, body] of cases) {
      const res = await t.request(method, path, { headers });
      expect([res.status, res.json], `${method} ${path}`).toEqual([404, body]);
    }
  });

  it('answers unknown routes, oversized bodies and masked errors in JSON', async () => {
    const missing = await t.request('GET', '/nowhere');
    expect(missing.status).toBe(404);
    expect(missing.json.error).toBe('not_found');
    // The server answers before reading the rest of the body, then closes that connection.
    const big = await t.request('POST', '/oauth/token', {
      body: 'x'.repeat(1024 * 1024 + 1),
      headers: { 'content-type': 'text/plain', connection: 'close' },
    });
    expect(big.status).toBe(413);
    const m = await t.merchant();
    const bad = await t.graphql('{ viewer { nope } }', {}, { authorization: token(m) });
    expect(bad.errors?.[0]?.message).toContain('Cannot query field "nope"');
    expect(JSON.stringify(bad)).not.toMatch(/at .*\.ts:\d+/);
  });

  it('echoes a request id, or makes one', async () => {
    const given = await t.request('GET', '/healthz', { headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    const made = await t.request('GET', '/healthz', { headers: { 'x-request-id': 'not valid!' } });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    // GraphQL requests too, whether Yoga takes them from Node directly (a sized body) or through the
    // HTTP app (a chunked one).
    const graphql = (headers: Record<string, string>, body: BodyInit, init: object = {}) =>
      fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, ...init });
    const query = JSON.stringify({ query: '{ __typename }' });
    expect((await graphql({ 'x-request-id': 'abc-124' }, query)).headers.get('x-request-id')).toBe('abc-124');
    expect((await graphql({ 'x-request-id': 'abc-125' }, new Blob([query]).stream(), { duplex: 'half' })).headers.get('x-request-id')).toBe('abc-125');
    const madeForGraphQL = (await graphql({}, query)).headers.get('x-request-id');
    expect(madeForGraphQL).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // A UUIDv7 starts with the time in milliseconds.
    expect(Math.abs(parseInt(madeForGraphQL!.replace('-', '').slice(0, 12), 16) - Date.now())).toBeLessThan(60_000);
  });
});

describe('readiness without Redis', () => {
  it('answers 503 on /readyz while Redis is unreachable, and stays alive on /healthz', async () => {
    const down = await startApp({ REDIS_URL: 'redis://127.0.0.1:1' });
    try {
      const ready = await down.request('GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.json).toMatchObject({ status: 'unavailable', database: 'up', redis: 'down' });
      expect((await down.request('GET', '/healthz')).status).toBe(200);
    } finally {
      await down.stop();
    }
  });
});
