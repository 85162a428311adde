import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, token, type TestApp } from '../support/app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startApp();
});
afterAll(() => t.stop());

describe('smoke', () => {
  it('answers viewer for a merchant token', async () => {
    const m = await t.merchant({ name: 'Smoke' });
    const res = await t.graphql('{ viewer { credentialKind merchant { id name } } }', {}, { authorization: token(m) });
    expect(res.status).toBe(200);
    expect(res.data.viewer.merchant).toEqual({ id: m.merchantId, name: 'Smoke' });
  });
});
