import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { reconcilePayments } from '../../src/modules/invoices/settlement.ts';
import { expectLedgerBalanced, TestClock, token, type TestApp } from '../support/app.ts';
import { callbackOf, eventTypes, followCallback, ledgerOf, sandboxOf, startInvoicesApp } from './support.ts';

let t: TestApp;
let m: MerchantCredentials;
let auth: string;
const clock = new TestClock();

beforeAll(async () => {
  // The schedule runs too: it only picks payments waiting past PAYMENT_RECONCILE_AFTER_MS, which
  // exist only once a test advances the clock.
  t = await startInvoicesApp({ RECONCILE_INTERVAL_MS: 100 }, { clock });
  m = await t.merchant({ name: 'Busy shop' });
  auth = token(m);
});
afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

async function createInvoice(totalAmount: number) {
  const res = await t.request('POST', '/invoice/create', { authorization: auth, body: { totalAmount, title: 'Race', mobile: null, email: null } });
  expect(res.status).toBe(200);
  return res.json.invoiceId as string;
}

async function requestPayment(invoiceId: string, gateway: 'zarinpal' | 'shepa', amount: number, headers: Record<string, string> = {}) {
  return t.request('POST', '/payment/request', {
    authorization: auth,
    headers,
    body: { invoiceId, gateway, amount, description: 'Race', mobile: null, email: null },
  });
}

describe.each(['zarinpal', 'shepa'] as const)('racing callbacks on %s', (gateway) => {
  it('credits a payment once however many callbacks race', async () => {
    const before = await ledgerOf(t, m.merchantId);
    const invoiceId = await createInvoice(90_000);
    const payment = (await requestPayment(invoiceId, gateway, 90_000)).json;
    const callback = await callbackOf(payment.redirectUrl);

    const trips = await Promise.all(Array.from({ length: 8 }, () => followCallback(callback)));
    expect(trips.map((trip) => [trip.callbackStatus, trip.html.includes('Payment confirmed') ? 'confirmed' : trip.html])).toEqual(
      Array(8).fill([302, 'confirmed']),
    );

    expect((await ledgerOf(t, m.merchantId)).merchant - before.merchant).toBe(90_000n);
    expect(await eventTypes(t, payment.paymentId)).toEqual(['payment.created', 'payment.waiting', 'payment.verified']);
    // Only the first check asked the gateway; the others found the payment settled.
    expect(sandboxOf(t).payment(payment.authority)?.verifyCalls).toBe(1);
  });
});

describe('racing to overpay', () => {
  it('two payments of the whole invoice, both paid at the gateway, racing: one is credited, the other returned', async () => {
    const before = await ledgerOf(t, m.merchantId);
    const invoiceId = await createInvoice(100_000);
    const [a, b] = await Promise.all([requestPayment(invoiceId, 'zarinpal', 100_000), requestPayment(invoiceId, 'shepa', 100_000)]);
    expect([a!.status, b!.status]).toEqual([200, 200]);
    const callbacks = await Promise.all([callbackOf(a!.json.redirectUrl), callbackOf(b!.json.redirectUrl)]);

    const trips = await Promise.all(callbacks.map((callback) => followCallback(callback)));
    expect(trips.map((trip) => trip.callbackStatus)).toEqual([302, 302]);

    const statuses = await Promise.all(
      [a!.json, b!.json].map(async (p) => (await t.request('GET', `/payment/status?paymentId=${p.paymentId}`, { authorization: auth })).json),
    );
    expect(statuses.map((s) => s.status).sort()).toEqual(['failed', 'verified']);
    const loser = statuses.find((s) => s.status === 'failed')!;
    expect(loser).toMatchObject({ reason: 'overpayment', note: expect.stringContaining('returned to the payer') });
    expect(sandboxOf(t).payment(loser.authority)?.status).toBe(loser.gateway === 'zarinpal' ? 'reversed' : 'refunded');
    // Shepa's return cannot be repeated, so it is recorded pending before the gateway is asked.
    const returned = loser.gateway === 'shepa' ? ['payment.return_pending', 'payment.returned'] : ['payment.returned'];
    expect(await eventTypes(t, loser.paymentId)).toEqual(['payment.created', 'payment.waiting', 'payment.failed', ...returned]);

    const after = await ledgerOf(t, m.merchantId);
    expect(after.merchant - before.merchant).toBe(100_000n);
    const invoice = await t.request('GET', `/invoice/getInfo?invoiceId=${invoiceId}`, { authorization: auth });
    expect(invoice.json).toMatchObject({ status: 'paid', paidAmount: 100_000 });
  });

  it('many concurrent partial payments: the invoice total is never exceeded, the ledger holds what was acknowledged', async () => {
    const before = await ledgerOf(t, m.merchantId);
    const invoiceId = await createInvoice(100_000);
    const requests = await Promise.all(
      Array.from({ length: 6 }, (_, i) => requestPayment(invoiceId, i % 2 === 0 ? 'zarinpal' : 'shepa', 40_000)),
    );
    expect(requests.map((r) => r.status)).toEqual(Array(6).fill(200));
    const callbacks = await Promise.all(requests.map((r) => callbackOf(r.json.redirectUrl)));
    await Promise.all(callbacks.map((callback) => followCallback(callback)));

    const invoice = (await t.request('GET', `/invoice/getInfo?invoiceId=${invoiceId}`, { authorization: auth })).json;
    const verified = invoice.payments.filter((p: { status: string }) => p.status === 'verified');
    const failed = invoice.payments.filter((p: { status: string }) => p.status === 'failed');
    expect(verified).toHaveLength(2);
    expect(failed).toHaveLength(4);
    for (const p of failed) expect(p.reason).toBe('overpayment');
    expect(invoice).toMatchObject({ status: 'partially_paid', paidAmount: 80_000, remainingAmount: 20_000 });
    expect((await ledgerOf(t, m.merchantId)).merchant - before.merchant).toBe(80_000n);
  });
});

describe('reconciliation racing a callback', () => {
  it('verifies once', async () => {
    const before = await ledgerOf(t, m.merchantId);
    const invoiceId = await createInvoice(70_000);
    const payment = (await requestPayment(invoiceId, 'zarinpal', 70_000)).json;
    const callback = await callbackOf(payment.redirectUrl);
    clock.advance(10 * 60_000);
    const [report, trip] = await Promise.all([reconcilePayments(t.app.deps, { merchantId: m.merchantId }), followCallback(callback)]);
    expect(trip.callbackStatus).toBe(302);
    expect(report.errors).toBe(0);
    expect((await ledgerOf(t, m.merchantId)).merchant - before.merchant).toBe(70_000n);
    expect(await eventTypes(t, payment.paymentId)).toEqual(['payment.created', 'payment.waiting', 'payment.verified']);
  });
});

describe('racing refunds and idempotent requests', () => {
  it('refunds a payment once when two refunds race', async () => {
    const invoiceId = await createInvoice(80_000);
    const payment = (await requestPayment(invoiceId, 'shepa', 80_000)).json;
    await followCallback(await callbackOf(payment.redirectUrl));
    const before = await ledgerOf(t, m.merchantId);
    const refunds = await Promise.all(
      [1, 2].map(() => t.request('POST', '/payment/refund', { authorization: auth, body: { authority: payment.authority, invoiceId } })),
    );
    // The second finds the first pending (202, without asking the gateway) or already done (409).
    const statuses = refunds.map((r) => r.status).sort();
    expect([[200, 202], [200, 409]]).toContainEqual(statuses);
    expect((await ledgerOf(t, m.merchantId)).merchant - before.merchant).toBe(-80_000n);
    expect(sandboxOf(t).payment(payment.authority)).toMatchObject({ refundCalls: 1, refundedAmount: 80_000n });
    expect((await t.request('GET', `/payment/status?paymentId=${payment.paymentId}`, { authorization: auth })).json).toMatchObject({
      status: 'refunded',
      refundedAmount: 80_000,
      refundPendingAmount: 0,
      refunds: [{ status: 'refunded', amount: 80_000 }],
    });
  });

  it('replays a payment request with the same Idempotency-Key, and refuses the key for another request', async () => {
    const invoiceId = await createInvoice(60_000);
    const headers = { 'idempotency-key': `req-${invoiceId}` };
    const results = await Promise.all([1, 2, 3].map(() => requestPayment(invoiceId, 'zarinpal', 30_000, headers)));
    const ok = results.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const r of results.filter((r) => r.status !== 200)) expect(r.json.error).toBe('IDEMPOTENCY_KEY_IN_PROGRESS');
    expect(new Set(ok.map((r) => r.json.paymentId)).size).toBe(1);
    const waiting = await t.request('POST', '/invoice/getWaitingPayments', { authorization: auth, body: { invoiceId } });
    expect(waiting.json.payments).toHaveLength(1);

    const other = await requestPayment(invoiceId, 'zarinpal', 20_000, headers);
    expect(other.status).toBe(422);
    expect(other.json).toMatchObject({ error: 'IDEMPOTENCY_KEY_REUSED', field: 'idempotencyKey' });
  });
});

describe('the reconciliation schedule', () => {
  it('verifies a paid payment whose payer never came back from the gateway', async () => {
    const before = await ledgerOf(t, m.merchantId);
    const invoiceId = await createInvoice(45_000);
    const payment = (await requestPayment(invoiceId, 'shepa', 45_000)).json;
    await callbackOf(payment.redirectUrl);
    clock.advance(6 * 60_000);
    const deadline = Date.now() + 15_000;
    let status = 'waiting';
    while (status === 'waiting' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await t.request('GET', `/payment/status?paymentId=${payment.paymentId}`, { authorization: auth })).json.status;
    }
    expect(status).toBe('verified');
    expect((await ledgerOf(t, m.merchantId)).merchant - before.merchant).toBe(45_000n);
  });
});
