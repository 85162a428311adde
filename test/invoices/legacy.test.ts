import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { invoiceCommands } from '../../src/modules/invoices/commands.ts';
import { parseArgs } from '../../src/cli/args.ts';
import { expectLedgerBalanced, TestClock, token, type TestApp } from '../support/app.ts';
import { callbackOf, followCallback, ledgerOf, payAtGateway, sandboxOf, startInvoicesApp } from './support.ts';

// Random, so that runs against a shared PostgreSQL database do not collide.
const DEFAULT_MERCHANT = randomUUID();
let t: TestApp;
let a: MerchantCredentials;
let b: MerchantCredentials;
let operator: string;
const clock = new TestClock();

beforeAll(async () => {
  t = await startInvoicesApp({ INVOICES_MERCHANT_ID: DEFAULT_MERCHANT }, { clock });
  a = await t.merchant({ id: DEFAULT_MERCHANT, name: 'Default shop' });
  b = await t.merchant({ name: 'Other shop' });
  operator = await t.operator();
});
afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

const post = (path: string, body: unknown, authorization: string | null = null) => t.request('POST', path, { authorization, body });
const get = (path: string, authorization: string | null = null) => t.request('GET', path, { authorization });

async function newInvoice(authorization: string | null = null, totalAmount = 200_000) {
  const res = await post('/invoice/create', { totalAmount, title: 'Legacy order', mobile: '09121112233', email: null }, authorization);
  expect(res.status).toBe(200);
  return res.json as { invoiceId: string };
}

async function newPayment(invoiceId: string, gateway = 'zarinpal', amount = 200_000, authorization: string | null = null) {
  const res = await post('/payment/request', { invoiceId, gateway, amount, description: 'Legacy order', mobile: null, email: null }, authorization);
  expect(res.status).toBe(200);
  return res.json as { paymentId: string; authority: string; redirectUrl: string; gateway: string };
}

describe('authentication', () => {
  it('serves the configured merchant without credentials, and a merchant by its credentials', async () => {
    const anonymous = await newInvoice();
    expect((await get(`/invoice/getInfo?invoiceId=${anonymous.invoiceId}`, token(a))).status).toBe(200);
    expect((await get(`/invoice/getInfo?invoiceId=${anonymous.invoiceId}`, token(b))).status).toBe(404);
    const own = await newInvoice(token(b));
    expect((await get(`/invoice/getInfo?invoiceId=${own.invoiceId}`, token(b))).status).toBe(200);
    expect((await get(`/invoice/getInfo?invoiceId=${own.invoiceId}`)).status).toBe(404);
  });

  it('refuses bad credentials, an operator on merchant routes, a missing scope, and no credentials when required', async () => {
    const bad = await post('/invoice/create', { totalAmount: 5_000, title: 'x', mobile: null, email: null }, 'Token nope');
    expect(bad.status).toBe(401);
    expect(bad.json.error).toBe('UNAUTHENTICATED');
    expect((await post('/invoice/create', { totalAmount: 5_000, title: 'x', mobile: null, email: null }, operator)).status).toBe(403);
    const noScope = await t.merchant({ scopes: ['pockets'] });
    expect((await post('/invoice/create', { totalAmount: 5_000, title: 'x', mobile: null, email: null }, token(noScope))).status).toBe(403);

    // INVOICES_REQUIRE_CREDENTIALS, flipped on this running app rather than starting another.
    t.app.deps.config.INVOICES_REQUIRE_CREDENTIALS = true;
    try {
      const refused = await post('/invoice/create', { totalAmount: 5_000, title: 'x', mobile: null, email: null });
      expect(refused.status).toBe(401);
      expect((await post('/invoice/create', { totalAmount: 5_000, title: 'x', mobile: null, email: null }, token(a))).status).toBe(200);
    } finally {
      t.app.deps.config.INVOICES_REQUIRE_CREDENTIALS = false;
    }
  });
});

describe('bad input', () => {
  const cases: [string, string, unknown, string][] = [
    ['unknown gateway', '/payment/request', { invoiceId: 'x', gateway: 'paypal', amount: 5_000, description: 'd', mobile: null, email: null }, 'gateway'],
    ['unknown gateway on startWaiting', '/payment/startWaiting', { paymentId: 'x', gateway: 'ZARINPAL' }, 'gateway'],
    ['a fractional amount', '/invoice/create', { totalAmount: 1500.5, title: 't', mobile: null, email: null }, 'totalAmount'],
    ['an amount as a string', '/invoice/create', { totalAmount: '150000', title: 't', mobile: null, email: null }, 'totalAmount'],
    ['a negative amount', '/invoice/create', { totalAmount: -5, title: 't', mobile: null, email: null }, 'totalAmount'],
    ['an unsafe integer', '/invoice/create', { totalAmount: 2 ** 60, title: 't', mobile: null, email: null }, 'totalAmount'],
    ['too small an amount', '/invoice/create', { totalAmount: 999, title: 't', mobile: null, email: null }, 'totalAmount'],
    ['a missing title', '/invoice/create', { totalAmount: 5_000, mobile: null, email: null }, 'title'],
    ['an empty title', '/invoice/create', { totalAmount: 5_000, title: '  ', mobile: null, email: null }, 'title'],
    ['an unknown field', '/invoice/create', { totalAmount: 5_000, title: 't', mobile: null, email: null, currency: 'IRT' }, 'currency'],
    ['a bad mobile', '/invoice/create', { totalAmount: 5_000, title: 't', mobile: '12345', email: null }, 'mobile'],
    ['a bad email', '/invoice/create', { totalAmount: 5_000, title: 't', mobile: null, email: 'not-an-email' }, 'email'],
    ['a missing invoiceId', '/invoice/getWaitingPayments', {}, 'invoiceId'],
    ['a missing authority', '/payment/refund', { invoiceId: 'x' }, 'authority'],
  ];
  it.each(cases)('answers 400 naming the field for %s, and changes nothing', async (_name, path, body, field) => {
    const before = await t.app.deps.prisma.invoice.count({ where: { merchantId: a.merchantId } });
    const res = await post(path, body, token(a));
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ error: 'VALIDATION_FAILED', field });
    expect(res.json.message).toEqual(expect.any(String));
    expect(await t.app.deps.prisma.invoice.count({ where: { merchantId: a.merchantId } })).toBe(before);
  });

  it('answers 400 for malformed JSON and a missing query parameter, never 500', async () => {
    const malformed = await t.request('POST', '/invoice/create', { authorization: token(a), body: '{"totalAmount": ', headers: { 'content-type': 'application/json' } });
    expect(malformed.status).toBe(400);
    expect(malformed.json.error).toBe('VALIDATION_FAILED');
    const missing = await get('/payment/status', token(a));
    expect(missing.status).toBe(400);
    expect(missing.json).toMatchObject({ error: 'VALIDATION_FAILED', field: 'paymentId' });
  });

  it('answers 404 for unknown invoices and payments, and the same for another merchant’s', async () => {
    const invoice = await newInvoice(token(a));
    const payment = await newPayment(invoice.invoiceId, 'zarinpal', 200_000, token(a));
    const unknownInvoice = '6e2b4d1a-0f3c-4d5e-9a7b-1c2d3e4f5a6b';
    for (const [id, who] of [
      [unknownInvoice, token(a)],
      [invoice.invoiceId, token(b)],
    ] as const) {
      const info = await get(`/invoice/getInfo?invoiceId=${id}`, who);
      expect(info.status).toBe(404);
      expect(info.json).toEqual({ error: 'NOT_FOUND', message: 'Invoice not found.' });
      expect((await post('/invoice/getWaitingPayments', { invoiceId: id }, who)).status).toBe(404);
      expect((await post('/payment/request', { invoiceId: id, gateway: 'shepa', amount: 5_000, description: 'd', mobile: null, email: null }, who)).status).toBe(404);
    }
    for (const [id, who] of [
      ['not-a-payment', token(a)],
      [payment.paymentId, token(b)],
    ] as const) {
      const status = await get(`/payment/status?paymentId=${id}`, who);
      expect(status.status).toBe(404);
      expect(status.json).toEqual({ error: 'NOT_FOUND', message: 'Payment not found.' });
      expect((await post('/payment/startWaiting', { paymentId: id, gateway: 'shepa' }, who)).status).toBe(404);
    }
    expect((await post('/payment/refund', { authority: payment.authority, invoiceId: invoice.invoiceId }, token(b))).status).toBe(404);
    expect((await post('/payment/refund', { authority: 'S'.padEnd(36, 'x'), invoiceId: invoice.invoiceId }, token(a))).status).toBe(404);
    const graphql = await t.graphql('query($id: ID!) { invoice(id: $id) { id } invoicePayment(id: $id) { id } }', { id: invoice.invoiceId }, { authorization: token(b) });
    expect(graphql.data).toEqual({ invoice: null, invoicePayment: null });
  });

  it('refuses a gateway the merchant has no credentials for when the sandbox is off', async () => {
    const invoice = await newInvoice(token(a));
    t.app.deps.config.SANDBOX_GATEWAY = false;
    try {
      const res = await post('/payment/request', { invoiceId: invoice.invoiceId, gateway: 'shepa', amount: 5_000, description: 'd', mobile: null, email: null }, token(a));
      expect(res.status).toBe(422);
      expect(res.json).toMatchObject({ error: 'GATEWAY_NOT_CONFIGURED', field: 'gateway' });
    } finally {
      t.app.deps.config.SANDBOX_GATEWAY = true;
    }
  });
});

describe('startWaiting', () => {
  it('switches a waiting payment to the other gateway; a late payment of the old attempt is accepted, the new one then returned', async () => {
    const before = await ledgerOf(t, a.merchantId);
    const invoice = await newInvoice(token(a), 50_000);
    const first = await newPayment(invoice.invoiceId, 'zarinpal', 50_000, token(a));
    const switched = await post('/payment/startWaiting', { paymentId: first.paymentId, gateway: 'shepa' }, token(a));
    expect(switched.status).toBe(200);
    expect(switched.json).toMatchObject({ paymentId: first.paymentId, gateway: 'shepa', status: 'waiting', reason: 'restarted_on_shepa' });
    expect(switched.json.authority).not.toBe(first.authority);
    expect(switched.json.history.map((h: { from: string | null; to: string }) => `${h.from}>${h.to}`)).toEqual(['null>created', 'created>waiting', 'waiting>waiting']);

    const old = await payAtGateway(first.redirectUrl);
    expect(old.html).toContain('Payment confirmed');
    const status = (await get(`/payment/status?paymentId=${first.paymentId}`, token(a))).json;
    expect(status).toMatchObject({ status: 'verified', gateway: 'zarinpal', authority: first.authority });

    const late = await payAtGateway(switched.json.redirectUrl);
    expect(late.html).toContain('Payment confirmed');
    expect(sandboxOf(t).payment(switched.json.authority)?.status).toBe('refunded');
    expect((await ledgerOf(t, a.merchantId)).merchant - before.merchant).toBe(50_000n);

    const closed = await post('/payment/startWaiting', { paymentId: first.paymentId, gateway: 'zarinpal' }, token(a));
    expect(closed.status).toBe(409);
  });
});

describe('admin routes', () => {
  it('need the operator credential', async () => {
    expect((await get('/admin/payment/allPaymentsStatus')).status).toBe(401);
    expect((await get('/admin/payment/allPaymentsStatus', token(a))).status).toBe(403);
    const body = { amount: 10_000, description: 'd', userFullName: 'Sara', mobile: '09120000000', readyToPayGateway: 'shepa' };
    expect((await post('/admin/payment/getReadyToPayLink', body)).status).toBe(401);
    expect((await post('/admin/payment/getReadyToPayLink', body, token(a))).status).toBe(403);
    const badGateway = await post('/admin/payment/getReadyToPayLink', { ...body, readyToPayGateway: 'mellat' }, operator);
    expect(badGateway.status).toBe(400);
    expect(badGateway.json.field).toBe('readyToPayGateway');
  });

  it('report counts and sums per status and gateway', async () => {
    const res = await get(`/admin/payment/allPaymentsStatus?merchantId=${a.merchantId}`, operator);
    expect(res.status).toBe(200);
    const rows = await t.app.deps.prisma.invoicePayment.findMany({ where: { merchantId: a.merchantId } });
    expect(res.json.total.count).toBe(rows.length);
    expect(res.json.total.amount).toBe(Number(rows.reduce((sum, p) => sum + p.amount, 0n)));
    const verifiedZarinpal = rows.filter((p) => p.state === 'verified' && p.gateway === 'zarinpal');
    expect(res.json.byGateway.zarinpal.byStatus.verified.count).toBe(verifiedZarinpal.length);
    expect(Object.keys(res.json.byStatus)).toEqual(['created', 'waiting', 'verified', 'failed', 'canceled', 'expired', 'refunded']);
    const all = await get('/admin/payment/allPaymentsStatus', operator);
    expect(all.json.merchantId).toBeNull();
    expect(all.json.total.count).toBeGreaterThanOrEqual(res.json.total.count);
  });
});

describe('ready-to-pay links', () => {
  it('opens into a 302 to the gateway, the same one on a second opening, and the result page once paid', async () => {
    const created = await post(
      '/admin/payment/getReadyToPayLink',
      { amount: 25_000, description: 'Consultation', userFullName: 'Sara Ahmadi', mobile: '+989121234567', readyToPayGateway: 'zarinpal' },
      operator,
    );
    expect(created.status).toBe(200);
    expect(created.json).toMatchObject({ merchantId: DEFAULT_MERCHANT, amount: 25_000, mobile: '09121234567', readyToPayGateway: 'zarinpal', invoiceId: null });
    expect(Date.parse(created.json.expiresAt) - Date.parse(created.json.createdAt)).toBe(7 * 24 * 3600 * 1000);
    const link = new URL(created.json.url);
    expect(`${link.origin}${link.pathname}`).toBe(`${t.url}/payment/readyToPay`);

    const opened = await get(`${link.pathname}${link.search}`);
    expect(opened.status).toBe(302);
    const redirect = opened.headers.get('location')!;
    expect(redirect).toContain(`${sandboxOf(t).url}/pg/StartPay/`);
    const reopened = await get(`${link.pathname}${link.search}`);
    expect(reopened.headers.get('location')).toBe(redirect);

    const trip = await payAtGateway(redirect);
    expect(trip.html).toContain('Payment confirmed');
    const after = await get(`${link.pathname}${link.search}`);
    expect(after.status).toBe(302);
    expect(after.headers.get('location')).toContain('/payment/result?paymentId=');
    const invoices = await t.app.deps.prisma.invoice.findMany({ where: { merchantId: DEFAULT_MERCHANT, title: 'Consultation' } });
    expect(invoices).toHaveLength(1);
    expect(invoices[0]).toMatchObject({ status: 'paid', totalAmount: 25_000n, mobile: '09121234567' });
  });

  it('asks the payer for what the link leaves open', async () => {
    const created = await post('/admin/payment/getReadyToPayLink', { userFullName: 'Reza', mobile: '09125556677' }, operator);
    expect(created.json).toMatchObject({ amount: null, readyToPayGateway: null });
    const link = new URL(created.json.url);
    const form = await get(`${link.pathname}${link.search}`);
    expect(form.status).toBe(200);
    expect(form.text).toContain('name="amount"');
    expect(form.text).toContain('value="shepa"');
    const chosen = await get(`${link.pathname}${link.search}&amount=40000&gateway=shepa`);
    expect(chosen.status).toBe(302);
    const callback = await callbackOf(chosen.headers.get('location')!);
    expect((await followCallback(callback)).html).toContain('Payment confirmed');

    expect((await get('/payment/readyToPay?token=rtp_unknown')).status).toBe(404);
    expect((await get(`${link.pathname}${link.search}&gateway=paypal`)).status).toBe(400);
  });
});

describe('ready-to-pay links expire', () => {
  const DAY = 24 * 3600 * 1000;
  const newLink = async (body: Record<string, unknown> = {}) => {
    const res = await post(
      '/admin/payment/getReadyToPayLink',
      { amount: 30_000, userFullName: 'Nima', mobile: '09123334455', readyToPayGateway: 'shepa', ...body },
      operator,
    );
    expect(res.status).toBe(200);
    const url = new URL(res.json.url);
    return { ...res.json, path: `${url.pathname}${url.search}` } as { path: string; expiresAt: string; createdAt: string };
  };
  const linkInvoices = () => t.app.deps.prisma.invoice.count({ where: { merchantId: DEFAULT_MERCHANT, mobile: '09123334455' } });

  it('take their lifetime from the admin or the configuration, within bounds', async () => {
    const short = await newLink({ expiresInSeconds: 600 });
    expect(Date.parse(short.expiresAt) - Date.parse(short.createdAt)).toBe(600_000);
    for (const expiresInSeconds of [30, 1.5, 400 * 24 * 3600]) {
      const res = await post('/admin/payment/getReadyToPayLink', { userFullName: 'Nima', mobile: '09123334455', expiresInSeconds }, operator);
      expect(res.status).toBe(400);
      expect(res.json).toMatchObject({ error: 'VALIDATION_FAILED', field: 'expiresInSeconds' });
    }
    const graphql = await t.graphql(
      `mutation { createReadyToPayLink(input: { userFullName: "Nima", mobile: "09123334455", expiresInSeconds: 3600 }) {
         ... on MutationCreateReadyToPayLinkSuccess { data { createdAt expiresAt } } ... on Error { code } } }`,
      {},
      { authorization: operator },
    );
    const data = graphql.data.createReadyToPayLink.data;
    expect(Date.parse(data.expiresAt) - Date.parse(data.createdAt)).toBe(3_600_000);
  });

  it('past their expiry answer 410 and create nothing, while a paid one still shows its result', async () => {
    const paid = await newLink();
    const unopened = await newLink();
    const opened = await newLink();
    const toGateway = await get(paid.path);
    expect(toGateway.status).toBe(302);
    expect((await payAtGateway(toGateway.headers.get('location')!)).html).toContain('Payment confirmed');
    expect((await get(opened.path)).status).toBe(302);
    const invoicesBefore = await linkInvoices();
    const paymentsBefore = await t.app.deps.prisma.invoicePayment.count({ where: { merchantId: DEFAULT_MERCHANT } });

    clock.advance(8 * DAY);
    for (const link of [unopened, opened]) {
      const res = await get(link.path);
      expect(res.status).toBe(410);
      expect(res.headers.get('content-type')).toContain('text/html');
      expect(res.text).toContain('expired');
    }
    const receipt = await get(paid.path);
    expect(receipt.status).toBe(302);
    expect(receipt.headers.get('location')).toContain('/payment/result?paymentId=');
    expect(await linkInvoices()).toBe(invoicesBefore);
    expect(await t.app.deps.prisma.invoicePayment.count({ where: { merchantId: DEFAULT_MERCHANT } })).toBe(paymentsBefore);
  });
});

describe('the published contract', () => {
  it('lists every legacy route and the response shapes in /openapi.json', async () => {
    const doc = (await get('/openapi.json')).json;
    for (const path of [
      '/invoice/create',
      '/invoice/getInfo',
      '/invoice/getWaitingPayments',
      '/payment/request',
      '/payment/status',
      '/payment/refund',
      '/payment/startWaiting',
      '/payment/readyToPay',
      '/payment/callback/{gateway}',
      '/payment/result',
      '/admin/payment/getReadyToPayLink',
      '/admin/payment/allPaymentsStatus',
    ]) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    expect(Object.keys(doc.components.schemas)).toEqual(expect.arrayContaining(['Invoice', 'Payment', 'PaymentsStatus', 'ReadyToPayLink', 'InvoicesError']));
  });
});

describe('operator CLI', () => {
  it('lists invoices and stores gateway credentials', async () => {
    const db = t.app.deps.prisma;
    const list = (await invoiceCommands['invoice list']!.run(db, parseArgs(['--merchant', b.merchantId]))) as { invoices: { id: string }[] };
    expect(list.invoices.length).toBeGreaterThan(0);
    await expect(invoiceCommands['invoice list']!.run(db, parseArgs(['--merchant', b.merchantId, '--status', 'nope']))).rejects.toThrow(/unknown status/);

    const set = await invoiceCommands['gateway set']!.run(db, parseArgs(['--merchant', b.merchantId, '--gateway', 'shepa', '--api-key', 'wrong-key']));
    expect(set).toEqual({ merchantId: b.merchantId, gateway: 'shepa', hint: '…-key' });
    await expect(
      invoiceCommands['gateway set']!.run(db, parseArgs(['--merchant', b.merchantId, '--gateway', 'zarinpal', '--merchant-id', 'nope'])),
    ).rejects.toThrow(/UUID/);
    // The sandbox takes only the api key "sandbox": a wrong stored key is the gateway's refusal.
    const invoice = await newInvoice(token(b), 5_000);
    const refused = await post('/payment/request', { invoiceId: invoice.invoiceId, gateway: 'shepa', amount: 5_000, description: 'd', mobile: null, email: null }, token(b));
    expect(refused.status).toBe(502);
    expect(refused.json.error).toBe('GATEWAY_REJECTED');
    expect(await invoiceCommands['gateway list']!.run(db, parseArgs(['--merchant', b.merchantId]))).toMatchObject({
      gateways: [{ gateway: 'shepa', credential: '…-key' }],
    });
  });
});
