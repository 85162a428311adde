import { isObjectType } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cursorKindOf } from '../../src/graphql/cursors.ts';
import { buildSchema } from '../../src/graphql/schema.ts';
import { startApp, token, type TestApp } from '../support/app.ts';

/**
 * Arguments that reach the database only after the server has read them: list cursors and
 * instants. A malformed one is the client's error (VALIDATION_FAILED, naming the argument), never
 * an internal one.
 */
let t: TestApp;
beforeAll(async () => {
  t = await startApp();
});
afterAll(() => t.stop());

const base64 = (text: string) => Buffer.from(text).toString('base64');
const codes = (response: { errors?: { extensions?: Record<string, unknown> }[] }) =>
  response.errors?.map((error) => [error.extensions?.code, error.extensions?.field]);

describe('list cursors', () => {
  it('are checked on every connection of the schema', () => {
    const unchecked: string[] = [];
    const schema = buildSchema();
    for (const type of Object.values(schema.getTypeMap())) {
      if (!isObjectType(type) || type.name.startsWith('__') || type === schema.getSubscriptionType()) continue;
      for (const field of Object.values(type.getFields())) {
        if (field.args.some((arg) => arg.name === 'after') && !cursorKindOf(field)) unchecked.push(`${type.name}.${field.name}`);
      }
    }
    expect(unchecked).toEqual([]);
  });

  it('refuse what the list did not give, on lists by text and by integer ids, nested ones too', async () => {
    const m = await t.merchant();
    const auth = { authorization: token(m) };
    const INVOICES = 'query ($c: String) { invoices(first: 2, after: $c) { edges { cursor } } }';
    const CHARGES = 'query ($c: String) { charges(first: 2, after: $c) { edges { cursor } } }';
    const BEFORE = 'query ($c: String) { charges(last: 2, before: $c) { edges { cursor } } }';
    const NESTED = 'query ($c: String) { chargeCustomers(first: 1) { edges { node { charges(first: 1, after: $c) { totalCount } } } } }';
    const refused: [string, string][] = [
      [INVOICES, 'garbage'],
      [INVOICES, base64('GPC:N:1')],
      [INVOICES, base64('GPC:N:abc')],
      [INVOICES, base64('GPC:S:')],
      [INVOICES, base64('GPC:S:a\u0000b')],
      [INVOICES, base64(`GPC:S:${'x'.repeat(101)}`)],
      [INVOICES, base64('{"id":"x"}')],
      [CHARGES, base64('GPC:S:abc')],
      [CHARGES, base64('GPC:N:1.5')],
      [CHARGES, base64('GPC:N:-1')],
      [CHARGES, base64('GPC:N:99999999999999999999999')],
      [CHARGES, base64('GPC:N:2147483648')],
      [BEFORE, base64('GPC:S:abc')],
      [NESTED, base64('GPC:S:abc')],
    ];
    for (const [query, cursor] of refused) {
      const response = await t.graphql(query, { c: cursor }, auth);
      const field = query === BEFORE ? 'before' : 'after';
      expect(codes(response), `${query} ${cursor}`).toEqual([['VALIDATION_FAILED', field]]);
      expect(response.errors![0]!.message).toBe(`\`${field}\` is not a cursor this list gave.`);
    }
    // As a literal in the document too.
    const literal = await t.graphql(`{ charges(first: 1, after: "${base64('GPC:S:abc')}") { totalCount } }`, {}, auth);
    expect(codes(literal)).toEqual([['VALIDATION_FAILED', 'after']]);

    // Well-formed cursors of no row page as the database does: nothing after an unknown id.
    const unknownText = await t.graphql(INVOICES, { c: base64('GPC:S:01a24000-0000-7000-8000-000000000000') }, auth);
    expect(unknownText.errors).toBeUndefined();
    const unknownInt = await t.graphql(CHARGES, { c: base64('GPC:N:2147483647') }, auth);
    expect(unknownInt.errors).toBeUndefined();
    expect(unknownInt.data.charges.edges).toEqual([]);
  });
});

describe('instants (DateTime)', () => {
  const QUERY = 'query ($d: DateTime) { invoices(first: 1, filter: { createdFrom: $d }) { totalCount } }';

  it('take RFC 3339 instants with their offset', async () => {
    const m = await t.merchant();
    for (const instant of ['2030-01-31T12:00:00Z', '2030-01-31T12:00Z', '2030-01-31T15:30:00.123456+03:30', '2024-02-29T00:00:00-01:00', '0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z']) {
      const response = await t.graphql(QUERY, { d: instant }, { authorization: token(m) });
      expect(response.errors, instant).toBeUndefined();
      expect(response.data.invoices.totalCount).toBe(0);
    }
  });

  it('refuse anything else, before the database sees it', async () => {
    const m = await t.merchant();
    const refused = ['-000001-01-01T00:00:00Z', '+200000-01-01T00:00:00Z', '1', '12/31/2024', 'Dec 25 1995', ' 2024', '2024-01-01', '2024-02-30T00:00:00Z',
      '2023-02-29T00:00:00Z', '2024-13-01T00:00:00Z', '2024-01-01T24:00:00Z', '2024-01-01T00:00:60Z', '2024-01-01T00:00:00', '0000-06-01T00:00:00Z',
      '0001-01-01T00:00:00+01:00', '2024-01-01T00:00:00+24:00', 20240101, true];
    for (const instant of refused) {
      const response = await t.graphql(QUERY, { d: instant }, { authorization: token(m) });
      expect(response.errors?.map((error) => error.extensions?.code), String(instant)).toEqual(['VALIDATION_FAILED']);
      expect(response.errors![0]!.message).toContain('DateTime takes an RFC 3339 instant');
    }
    const literal = await t.graphql('{ invoices(first: 1, filter: { createdFrom: "Dec 25 1995" }) { totalCount } }', {}, { authorization: token(m) });
    expect(literal.errors?.[0]?.message).toContain('DateTime takes an RFC 3339 instant');
  });
});

describe('refusals without a code of their own', () => {
  it('answer VALIDATION_FAILED: variables of the wrong type, a negative page size', async () => {
    const m = await t.merchant();
    const auth = { authorization: token(m) };
    const wrong: [string, Record<string, unknown>][] = [
      ['query ($s: [InvoiceStatus!]) { invoices(first: 1, filter: { status: $s }) { totalCount } }', { s: ['BOGUS'] }],
      ['query ($n: Int) { invoices(first: $n) { totalCount } }', { n: '5' }],
      ['query ($n: Int) { invoices(first: $n) { totalCount } }', { n: -1 }],
      ['{ charges(last: -3) { totalCount } }', {}],
    ];
    for (const [query, variables] of wrong) {
      const response = await t.graphql(query, variables, auth);
      expect(response.errors?.map((error) => error.extensions?.code), `${query} ${JSON.stringify(variables)}`).toEqual(['VALIDATION_FAILED']);
    }
  });
});

describe('malformed GraphQL requests', () => {
  it("answer in GraphQL's error format, without the parser's internals", async () => {
    const m = await t.merchant();
    const broken = await t.request('POST', '/graphql', { authorization: token(m), headers: { 'content-type': 'application/json' }, body: '{"query":"{ viewer { scopes } }"' });
    expect(broken.status).toBe(400);
    expect(broken.json).toEqual({ errors: [{ message: 'POST body sent invalid JSON.', extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('take JSON bodies only: another type is answered 415, and nothing runs', async () => {
    const m = await t.merchant();
    const mutation = 'mutation { rotateChargeCallbackSecret { __typename } }';
    const before = await t.app.deps.prisma.chargeCallbackSecret.count({ where: { merchantId: m.merchantId } });
    const form = new FormData();
    form.set('operations', JSON.stringify({ query: mutation }));
    form.set('map', '{}');
    const bodies: [string | undefined, string | FormData][] = [
      ['text/plain', JSON.stringify({ query: mutation })],
      ['application/x-www-form-urlencoded', `query=${encodeURIComponent(mutation)}`],
      [undefined, form],
      ['application/xml', '<query/>'],
    ];
    for (const [contentType, body] of bodies) {
      const response = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { authorization: token(m), ...(contentType ? { 'content-type': contentType } : {}) },
        body,
      });
      expect(response.status, contentType ?? 'multipart/form-data').toBe(415);
      expect(await response.json()).toEqual({
        errors: [{ message: 'A GraphQL POST takes a JSON body: Content-Type: application/json.', extensions: { code: 'UNSUPPORTED_MEDIA_TYPE' } }],
      });
    }
    expect(await t.app.deps.prisma.chargeCallbackSecret.count({ where: { merchantId: m.merchantId } })).toBe(before);
    const json = await t.graphql('{ viewer { credentialKind } }', {}, { authorization: token(m) });
    expect(json.data).toEqual({ viewer: { credentialKind: 'token' } });
  });
});
