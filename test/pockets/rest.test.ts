import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../src/demo.ts';
import { MAX_CHARGE_AMOUNT } from '../../src/modules/pockets/charge-failures.ts';
import { DEMO_POCKET_GROUP } from '../../src/modules/pockets/index.ts';
import { basic, expectLedgerBalanced, startApp, token, type TestApp } from '../support/app.ts';
import {
  chargePath,
  createGroup,
  DUPLICATE,
  fundingBalance,
  newPhone,
  newToken,
  pocketBalance,
  SUCCESS,
  tracePath,
  transferCount,
} from './support.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startApp({ DEMO: true });
});
afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

const MESSAGES = {
  invalidToken: 'توکن نامعتبر است؛ توکن باید یک UUID نسخه ۷ باشد.',
  invalidPhone: 'شماره تلفن نامعتبر است؛ شماره همراه را به شکل 989120000000 یا 09120000000 بفرستید.',
  invalidAmount: 'مبلغ نامعتبر است؛ مبلغ باید یک عدد صحیح مثبت باشد.',
  amountTooLarge: `مبلغ بیش از سقف مجاز هر شارژ (${MAX_CHARGE_AMOUNT}) است.`,
  capReached: 'سقف شارژ این گروه جیب پر شده است و این شارژ انجام نشد.',
};

describe('legacy charge route', () => {
  it('charges pockets and answers every item in order, as the document shows', async () => {
    const m = await t.merchant();
    const group = await createGroup(t, m);
    const [a, b] = [newPhone(), newPhone()];
    const first = newToken();
    const second = newToken();
    const res = await t.request('POST', chargePath(group.slug), {
      authorization: token(m),
      body: {
        charges: [
          { token: first, phone_number: a, amount: 10000 },
          { token: first, phone_number: b, amount: 20000 },
          { token: second, phone_number: b, amount: 20000 },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.json).toEqual({
      results: [
        { token: first, phone_number: a, amount: 10000, status: 'success', message: SUCCESS },
        { token: first, phone_number: b, amount: 20000, status: 'error', message: DUPLICATE },
        { token: second, phone_number: b, amount: 20000, status: 'success', message: SUCCESS },
      ],
    });
    expect(await pocketBalance(t, group, a)).toBe(10000n);
    expect(await pocketBalance(t, group, b)).toBe(20000n);
    expect(await fundingBalance(t, group)).toBe(-30000n);

    const trace = await t.request('GET', tracePath(group.slug, second), { authorization: token(m) });
    expect(trace.status).toBe(200);
    expect(trace.json).toEqual({ token: second, phone_number: b, amount: 20000 });
  });

  it('judges every failing item on its own, with a Persian message, and lets the others through', async () => {
    const m = await t.merchant();
    const group = await createGroup(t, m);
    const phone = newPhone();
    const ok = newToken();
    const tokens = Array.from({ length: 9 }, newToken);
    const v4 = 'a8c99f2c-3f4a-4b56-896b-2b1e7b3f4e5a';
    const charges = [
      { token: v4, phone_number: phone, amount: 100 },
      { token: 12345, phone_number: phone, amount: 100 },
      { phone_number: phone, amount: 100 },
      { token: tokens[0], phone_number: '12345', amount: 100 },
      { token: tokens[1], phone_number: 989120000000, amount: 100 },
      { token: tokens[2], amount: 100 },
      { token: tokens[3], phone_number: phone, amount: 0 },
      { token: tokens[4], phone_number: phone, amount: -5 },
      { token: tokens[5], phone_number: phone, amount: 1.5 },
      { token: tokens[6], phone_number: phone, amount: '100' },
      { token: tokens[7], phone_number: phone, amount: Number(MAX_CHARGE_AMOUNT) + 1 },
      { token: tokens[8], phone_number: phone },
      'not an object',
      { token: ok, phone_number: phone, amount: 700 },
    ];
    const res = await t.request('POST', chargePath(group.slug), { authorization: token(m), body: { charges } });
    expect(res.status).toBe(200);
    const results = res.json.results as { status: string; message: string; token: unknown; phone_number: unknown; amount: unknown }[];
    expect(results.map((r) => r.message)).toEqual([
      MESSAGES.invalidToken,
      MESSAGES.invalidToken,
      MESSAGES.invalidToken,
      MESSAGES.invalidPhone,
      MESSAGES.invalidPhone,
      MESSAGES.invalidPhone,
      MESSAGES.invalidAmount,
      MESSAGES.invalidAmount,
      MESSAGES.invalidAmount,
      MESSAGES.invalidAmount,
      MESSAGES.amountTooLarge,
      MESSAGES.invalidAmount,
      MESSAGES.invalidToken,
      SUCCESS,
    ]);
    expect(results.map((r) => r.status)).toEqual([...Array(13).fill('error'), 'success']);
    // Failed items echo what was sent; the phone number in canonical form once it is valid.
    expect(results[0]).toMatchObject({ token: v4, phone_number: phone, amount: 100 });
    expect(results[1]).toMatchObject({ token: 12345 });
    expect(results[4]).toMatchObject({ token: tokens[1], phone_number: 989120000000 });
    expect(results[9]).toMatchObject({ amount: '100' });
    expect(results[12]).toEqual({ token: null, phone_number: null, amount: null, status: 'error', message: MESSAGES.invalidToken });
    expect(await pocketBalance(t, group, phone)).toBe(700n);

    // A valid token is spent by its first judgement, even when the item failed: a replay answers the
    // same error, and another charge with it is a duplicate.
    const again = await t.request('POST', chargePath(group.slug), {
      authorization: token(m),
      body: { charges: [charges[3], { token: tokens[3], phone_number: phone, amount: 100 }] },
    });
    expect(again.json.results.map((r: { message: string }) => r.message)).toEqual([MESSAGES.invalidPhone, DUPLICATE]);
    expect(await pocketBalance(t, group, phone)).toBe(700n);
  });

  it('echoes null for a failed item\'s field sent as an object or an array, which its scalar field cannot hold', async () => {
    const m = await t.merchant();
    const group = await createGroup(t, m);
    const res = await t.request('POST', chargePath(group.slug), {
      authorization: token(m),
      body: { charges: [{ token: { a: 1 }, phone_number: ['x'], amount: { b: 2 } }, { token: newToken(), phone_number: [], amount: true }] },
    });
    expect(res.status).toBe(200);
    expect(res.json.results).toEqual([
      { token: null, phone_number: null, amount: null, status: 'error', message: MESSAGES.invalidToken },
      { token: expect.any(String), phone_number: null, amount: true, status: 'error', message: MESSAGES.invalidPhone },
    ]);
  });

  it('accepts the phone number forms users send and answers the canonical one', async () => {
    const m = await t.merchant();
    const group = await createGroup(t, m);
    const forms = ['989121234567', '09121234567', '+989121234567', '00989121234567', '9121234567', '۰۹۱۲۱۲۳۴۵۶۷', '0912 123 4567'];
    const res = await t.request('POST', chargePath(group.slug), {
      authorization: token(m),
      body: { charges: forms.map((phone_number) => ({ token: newToken(), phone_number, amount: 10 })) },
    });
    expect(res.json.results.map((r: { phone_number: string; status: string }) => [r.phone_number, r.status])).toEqual(
      forms.map(() => ['989121234567', 'success']),
    );
    expect(await pocketBalance(t, group, '989121234567')).toBe(70n);
    expect(await t.app.deps.prisma.pocket.count({ where: { groupId: group.id } })).toBe(1);
  });

  it('fails only the items beyond the group cap, with a clear reason', async () => {
    const m = await t.merchant();
    const group = await createGroup(t, m, { cap: 25000n });
    const phone = newPhone();
    const res = await t.request('POST', chargePath(group.slug), {
      authorization: token(m),
      body: { charges: [10000, 10000, 10000, 5000].map((amount) => ({ token: newToken(), phone_number: phone, amount })) },
    });
    expect(res.json.results.map((r: { message: string }) => r.message)).toEqual([SUCCESS, SUCCESS, MESSAGES.capReached, SUCCESS]);
    expect(await pocketBalance(t, group, phone)).toBe(25000n);
    expect(await fundingBalance(t, group)).toBe(-25000n);
  });
});

describe('legacy trace route', () => {
  it('answers 404 for a failed charge, an unknown token, another group of the merchant, or a malformed token', async () => {
    const m = await t.merchant();
    const group = await createGroup(t, m);
    const other = await createGroup(t, m);
    const ok = newToken();
    const failed = newToken();
    await t.request('POST', chargePath(group.slug), {
      authorization: token(m),
      body: { charges: [{ token: ok, phone_number: newPhone(), amount: 5 }, { token: failed, phone_number: 'x', amount: 5 }] },
    });
    const status = async (path: string) => {
      const res = await t.request('GET', path, { authorization: token(m) });
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      return [res.status, res.json.detail ?? res.json.token];
    };
    const notFound = 'شارژ موفقی با این توکن در این گروه جیب یافت نشد.';
    expect(await status(tracePath(group.slug, ok.toUpperCase()))).toEqual([200, ok]);
    expect(await status(tracePath(group.slug, failed))).toEqual([404, notFound]);
    expect(await status(tracePath(group.slug, newToken()))).toEqual([404, notFound]);
    expect(await status(tracePath(other.slug, ok))).toEqual([404, notFound]);
    expect(await status(tracePath(group.slug, 'not-a-token'))).toEqual([404, notFound]);
  });
});

describe('authentication and tenancy', () => {
  it('answers 401 without or with a bad token, and 403 without the pockets scope, as DRF would', async () => {
    const m = await t.merchant();
    const group = await createGroup(t, m);
    const body = { charges: [{ token: newToken(), phone_number: newPhone(), amount: 1 }] };
    const none = await t.request('POST', chargePath(group.slug), { body });
    expect([none.status, none.json]).toEqual([401, { detail: 'اطلاعات برای اعتبارسنجی ارسال نشده است.' }]);
    expect(none.headers.get('www-authenticate')).toBe('Token');
    const bad = await t.request('GET', tracePath(group.slug, newToken()), { authorization: 'Token nope' });
    expect([bad.status, bad.json]).toEqual([401, { detail: 'توکن نامعتبر است.' }]);
    // The merchant's own Basic credential is no Token: as if none were sent.
    const otherScheme = await t.request('POST', chargePath(group.slug), { authorization: basic(m.basicKey, m.basicSecret), body });
    expect([otherScheme.status, otherScheme.json]).toEqual([401, { detail: 'اطلاعات برای اعتبارسنجی ارسال نشده است.' }]);
    // Authentication is checked before the body: no hint about the body to an anonymous caller.
    const anonymousMalformed = await t.request('POST', chargePath(group.slug), { body: 'not json' });
    expect(anonymousMalformed.status).toBe(401);

    const noScope = await t.merchant({ scopes: ['wallets'] });
    const forbidden = await t.request('POST', chargePath(group.slug), { authorization: token(noScope), body });
    expect([forbidden.status, forbidden.json]).toEqual([403, { detail: 'شما اجازه انجام این دستور را ندارید.' }]);
    expect(await transferCount(t, m.merchantId)).toBe(0);
  });

  it("answers another merchant's group and token exactly like unknown ones, and changes nothing", async () => {
    const a = await t.merchant();
    const b = await t.merchant();
    const group = await createGroup(t, a);
    const phone = newPhone();
    const charged = newToken();
    await t.request('POST', chargePath(group.slug), { authorization: token(a), body: { charges: [{ token: charged, phone_number: phone, amount: 900 }] } });

    const foreign = await t.request('POST', chargePath(group.slug), {
      authorization: token(b),
      body: { charges: [{ token: newToken(), phone_number: phone, amount: 900 }] },
    });
    const unknown = await t.request('POST', chargePath('no-such-group'), {
      authorization: token(b),
      body: { charges: [{ token: newToken(), phone_number: phone, amount: 900 }] },
    });
    expect([foreign.status, foreign.json]).toEqual([404, { detail: 'گروه جیب یافت نشد.' }]);
    expect([unknown.status, unknown.json]).toEqual([404, foreign.json]);
    const foreignTrace = await t.request('GET', tracePath(group.slug, charged), { authorization: token(b) });
    expect(foreignTrace.status).toBe(404);

    // B's own group with the same slug is B's: A's token is not B's, and B may use it freely.
    const own = await createGroup(t, b, { slug: group.slug });
    expect((await t.request('GET', tracePath(own.slug, charged), { authorization: token(b) })).status).toBe(404);
    const reuse = await t.request('POST', chargePath(own.slug), { authorization: token(b), body: { charges: [{ token: charged, phone_number: phone, amount: 1 }] } });
    expect(reuse.json.results[0].status).toBe('success');
    expect(await pocketBalance(t, group, phone)).toBe(900n);
    expect(await pocketBalance(t, own, phone)).toBe(1n);
  });
});

describe('malformed bodies', () => {
  it('answers 400 (or 415 for a non-JSON media type) with a readable detail, never a 500, and moves nothing', async () => {
    const m = await t.merchant();
    const group = await createGroup(t, m);
    const post = (body: unknown, headers?: Record<string, string>) =>
      t.request('POST', chargePath(group.slug), { authorization: token(m), body, ...(headers ? { headers } : {}) });
    const tooMany = Array.from({ length: 1001 }, () => ({ token: newToken(), phone_number: newPhone(), amount: 1 }));
    const cases: [unknown, number, string][] = [
      ['{"charges": [', 400, 'بدنه درخواست JSON معتبر نیست.'],
      ['', 400, 'بدنه درخواست JSON معتبر نیست.'],
      [{}, 400, 'فیلد charges الزامی است.'],
      [{ charges: 'x' }, 400, 'فیلد charges باید یک آرایه باشد.'],
      [{ charges: { token: newToken() } }, 400, 'فیلد charges باید یک آرایه باشد.'],
      [{ charges: null }, 400, 'فیلد charges باید یک آرایه باشد.'],
      [[], 400, 'بدنه درخواست باید یک شیء JSON با فیلد charges باشد.'],
      ['null', 400, 'بدنه درخواست باید یک شیء JSON با فیلد charges باشد.'],
      [{ charges: [], extra: 1 }, 400, 'فیلد ناشناخته در بدنه درخواست: extra'],
      [{ charges: tooMany }, 400, 'هر درخواست حداکثر 1000 شارژ می‌پذیرد.'],
    ];
    for (const [body, status, detail] of cases) {
      const res = await post(body);
      expect([res.status, res.json], JSON.stringify(body).slice(0, 40)).toEqual([status, { detail }]);
    }
    const form = await post('charges=1', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    expect(form.json.detail).toContain('application/json');
    expect(await post({ charges: [] })).toMatchObject({ status: 200, json: { results: [] } });
    expect(await transferCount(t, m.merchantId)).toBe(0);
  });
});

describe('demo mode', () => {
  it("seeds my-pocket-group so the document's curl example runs as written", async () => {
    // The document's example token is a UUIDv4: it gets the per-item "token must be UUIDv7" answer.
    const res = await t.request('POST', '/badje/v1/pockets/my-pocket-group/charge/', {
      authorization: 'Token merchant_token',
      headers: { 'content-type': 'application/json' },
      body: '{\n    "charges": [\n        {\n            "token": "a8c99f2c-3f4a-4b56-896b-2b1e7b3f4e5a",\n            "phone_number": "989120000000",\n            "amount": 10000\n        }\n    ]\n}',
    });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      results: [{ token: 'a8c99f2c-3f4a-4b56-896b-2b1e7b3f4e5a', phone_number: '989120000000', amount: 10000, status: 'error', message: MESSAGES.invalidToken }],
    });
    const traceExample = await t.request('GET', '/badje/v1/pockets/my-pocket-group/charge/a8c99f2c-3f4a-4b56-896b-2b1e7b3f4e5a/', {
      authorization: 'Token merchant_token',
    });
    expect(traceExample.status).toBe(404);

    const v7 = newToken();
    const ok = await t.request('POST', '/badje/v1/pockets/my-pocket-group/charge/', {
      authorization: `Token ${DEMO.token}`,
      body: { charges: [{ token: v7, phone_number: '989120000000', amount: 10000 }] },
    });
    expect(ok.json.results[0]).toMatchObject({ status: 'success', message: SUCCESS });
    const trace = await t.request('GET', `/badje/v1/pockets/${DEMO_POCKET_GROUP.slug}/charge/${v7}/`, { authorization: 'Token merchant_token' });
    expect(trace.json).toEqual({ token: v7, phone_number: '989120000000', amount: 10000 });
  });

  it('lists both legacy routes in the OpenAPI document', async () => {
    const doc = await t.request('GET', '/openapi.json');
    expect(Object.keys(doc.json.paths)).toEqual(
      expect.arrayContaining(['/badje/v1/pockets/{pocket_group_slug}/charge/', '/badje/v1/pockets/{pocket_group_slug}/charge/{token}/']),
    );
  });
});
