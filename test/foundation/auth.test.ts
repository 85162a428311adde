import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret, rotateCredential } from '../../src/auth/credentials.ts';
import { RevokeCredentialDocument, ViewerDocument } from '../generated/graphql.ts';
import { basic, startApp, TestClock, token, type TestApp } from '../support/app.ts';

const clock = new TestClock(new Date('2026-01-01T00:00:00Z'));
let t: TestApp;
beforeAll(async () => {
  t = await startApp({ CREDENTIAL_CACHE_MS: 0, OAUTH_TOKEN_TTL_SECONDS: 600 }, { clock });
});
afterAll(() => t.stop());

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const formHeaders = { 'content-type': 'application/x-www-form-urlencoded' };

describe('credentials', () => {
  it('resolves every scheme of one merchant to the same principal', async () => {
    const m = await t.merchant({ name: 'Schemes' });
    const asToken = await t.graphql(ViewerDocument, {}, { authorization: `Token ${m.token}` });
    const asBearer = await t.graphql(ViewerDocument, {}, { authorization: `Bearer ${m.token}` });
    const asBasic = await t.graphql(ViewerDocument, {}, { authorization: basic(m.basicKey, m.basicSecret) });
    expect(asToken.data.viewer.merchant).toEqual({ id: m.merchantId, name: 'Schemes', companyId: m.companyId });
    expect(asBearer.data.viewer.merchant.id).toBe(m.merchantId);
    expect(asBasic.data.viewer.merchant.id).toBe(m.merchantId);
    expect(asBasic.data.viewer.credentialKind).toBe('basic');
  });

  it('grants every scope and right but the gated ones by default, and exactly the named ones otherwise', async () => {
    const plain = await t.merchant();
    const res = await t.graphql(ViewerDocument, {}, { authorization: token(plain) });
    expect(res.data.viewer.scopes).toEqual(['pockets', 'invoices', 'charges', 'wallets', 'events']);
    expect(res.data.viewer.rights).toEqual([]);
    const gated = await t.merchant({ scopes: ['credit'], rights: ['Manage payments'] });
    const res2 = await t.graphql(ViewerDocument, {}, { authorization: token(gated) });
    expect(res2.data.viewer.scopes).toEqual(['credit']);
    expect(res2.data.viewer.rights).toEqual(['Manage payments']);
  });

  it('answers 401 for a bad, malformed or wrong-secret credential, before running anything', async () => {
    const m = await t.merchant();
    // A NUL in a Basic user id, which base64 carries (a token read as Basic may decode to one), is
    // refused before it reaches PostgreSQL, which cannot store it.
    const malformed = ['Token nope', 'Bearer ', 'Basic !!!', basic(m.basicKey, 'wrong'), `Basic ${m.token}`, basic('bk_\u0000', 'x'), 'Digest abc'];
    for (const authorization of malformed) {
      const res = await t.graphql(ViewerDocument, {}, { authorization });
      expect(res.status, authorization).toBe(401);
      expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(res.data ?? null).toBeNull();
    }
  });

  it('answers 401 without credentials and 403 for an operator on a merchant field', async () => {
    const anonymous = await t.graphql(ViewerDocument);
    expect(anonymous.status).toBe(401);
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const operator = await t.graphql(ViewerDocument, {}, { authorization: await t.operator() });
    expect(operator.status).toBe(403);
    expect(operator.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('stores only digests of secrets', async () => {
    const m = await t.merchant();
    const rows = await t.app.deps.prisma.credential.findMany({ where: { merchantId: m.merchantId } });
    const stored = JSON.stringify(rows);
    for (const secret of [m.token, m.basicSecret, m.oauthClientSecret]) expect(stored).not.toContain(secret);
    expect(rows.map((row) => row.secretHash)).toContain(hashSecret(m.token));
  });

  it('rotates a secret: the old one stops working, the new one works', async () => {
    const m = await t.merchant();
    const rotated = await rotateCredential(t.app.deps.prisma, m.tokenId);
    expect((await t.graphql(ViewerDocument, {}, { authorization: `Token ${m.token}` })).status).toBe(401);
    expect((await t.graphql(ViewerDocument, {}, { authorization: `Token ${rotated.secret}` })).data.viewer.merchant.id).toBe(m.merchantId);
  });
});

describe('revokeCredential', () => {
  it("revokes the caller's own credential, and treats another merchant's id as unknown", async () => {
    const a = await t.merchant();
    const b = await t.merchant();
    const foreign = await t.graphql(RevokeCredentialDocument, { id: a.tokenId }, { authorization: token(b) });
    const unknown = await t.graphql(RevokeCredentialDocument, { id: '01900000-0000-7000-8000-000000000000' }, { authorization: token(b) });
    expect(foreign.data.revokeCredential).toEqual({ __typename: 'AppError', code: 'NOT_FOUND', message: 'Credential not found.' });
    expect(unknown.data.revokeCredential).toEqual(foreign.data.revokeCredential);
    expect((await t.graphql(ViewerDocument, {}, { authorization: token(a) })).status).toBe(200);

    const own = await t.graphql(RevokeCredentialDocument, { id: a.tokenId }, { authorization: token(a) });
    expect(own.data.revokeCredential).toEqual({ __typename: 'MutationRevokeCredentialSuccess', data: true });
    expect((await t.graphql(ViewerDocument, {}, { authorization: token(a) })).status).toBe(401);
    expect((await t.graphql(ViewerDocument, {}, { authorization: basic(a.basicKey, a.basicSecret) })).status).toBe(200);
  });
});

describe('POST /oauth/token', () => {
  it('issues an expiring bearer token for client credentials in a form with HTTP Basic', async () => {
    const m = await t.merchant({ scopes: ['credit', 'pockets'], rights: ['Manage payments'] });
    const res = await t.request('POST', '/oauth/token', {
      headers: formHeaders,
      authorization: basic(m.oauthClientId, m.oauthClientSecret),
      body: form({ grant_type: 'client_credentials', scope: 'credit' }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.json).toMatchObject({ token_type: 'Bearer', expires_in: 600, scope: 'credit' });
    const bearer = `Bearer ${res.json.access_token}`;
    const viewer = await t.graphql(ViewerDocument, {}, { authorization: bearer });
    expect(viewer.data.viewer).toMatchObject({ credentialKind: 'access_token', scopes: ['credit'], rights: ['Manage payments'] });
    expect(viewer.data.viewer.merchant.id).toBe(m.merchantId);

    clock.advance(601_000);
    expect((await t.graphql(ViewerDocument, {}, { authorization: bearer })).status).toBe(401);
  });

  it('accepts a JSON body with client_secret_post', async () => {
    const m = await t.merchant();
    const res = await t.request('POST', '/oauth/token', {
      body: { grant_type: 'client_credentials', client_id: m.oauthClientId, client_secret: m.oauthClientSecret },
    });
    expect(res.status).toBe(200);
    expect(res.json.scope).toBe('pockets invoices charges wallets events');
  });

  it('answers RFC 6749 errors', async () => {
    const m = await t.merchant({ scopes: ['pockets'] });
    const cases: [Record<string, string>, number, string][] = [
      [{ grant_type: 'client_credentials', client_id: m.oauthClientId, client_secret: 'wrong' }, 401, 'invalid_client'],
      [{ grant_type: 'client_credentials', client_id: 'unknown', client_secret: 'x' }, 401, 'invalid_client'],
      [{ grant_type: 'client_credentials' }, 401, 'invalid_client'],
      [{ grant_type: 'password', client_id: m.oauthClientId, client_secret: m.oauthClientSecret }, 400, 'unsupported_grant_type'],
      [{ grant_type: 'client_credentials', client_id: m.oauthClientId, client_secret: m.oauthClientSecret, scope: 'credit' }, 400, 'invalid_scope'],
      [{ grant_type: 'client_credentials', merchantId: 'x' }, 400, 'invalid_request'],
    ];
    for (const [fields, status, error] of cases) {
      const res = await t.request('POST', '/oauth/token', { headers: formHeaders, body: form(fields) });
      expect(res.status, JSON.stringify(fields)).toBe(status);
      expect(res.json.error).toBe(error);
    }
    // Basic credentials are percent-encoded (RFC 6749, section 2.3.1): a bad escape, or one of NUL,
    // is a malformed credential.
    for (const [id, secret] of [[m.oauthClientId, '%zz'], [`${m.oauthClientId}%00`, m.oauthClientSecret], ['a\u0000b', 'x']] as const) {
      const res = await t.request('POST', '/oauth/token', {
        headers: formHeaders,
        authorization: basic(id, secret),
        body: form({ grant_type: 'client_credentials' }),
      });
      expect(res.status, `${id}:${secret}`).toBe(401);
      expect(res.json).toEqual({ error: 'invalid_client', error_description: 'The Basic credentials are malformed.' });
    }
    const notJson = await t.request('POST', '/oauth/token', { body: '{not json' });
    expect(notJson.status).toBe(400);
    expect(notJson.json.error).toBe('invalid_request');
  });
});
