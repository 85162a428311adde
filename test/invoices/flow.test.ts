import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { expectLedgerBalanced, token, type TestApp } from '../support/app.ts';
import { eventTypes, ledgerOf, payAtGateway, sandboxOf, startInvoicesApp } from './support.ts';

let t: TestApp;
let m: MerchantCredentials;
let auth: string;

beforeAll(async () => {
  t = await startInvoicesApp();
  m = await t.merchant({ name: 'Flow shop' });
  auth = token(m);
});
afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

async function createInvoice(totalAmount: number, title = 'Order 42') {
  const res = await t.request('POST', '/invoice/create', {
    authorization: auth,
    body: { totalAmount, title, mobile: '+98 912 345 6789', email: 'payer@example.com' },
  });
  expect(res.status).toBe(200);
  return res.json;
}

async function requestPayment(invoiceId: string, gateway: string, amount: number, description = 'Order 42') {
  const res = await t.request('POST', '/payment/request', {
    authorization: auth,
    body: { invoiceId, gateway, amount, description, mobile: null, email: null },
  });
  expect(res.status).toBe(200);
  return res.json;
}

describe.each(['zarinpal', 'shepa'] as const)('the whole flow on %s over real HTTP', (gateway) => {
  it('requests, redirects, calls back, verifies, credits the ledger, publishes; then refunds', async () => {
    const before = await ledgerOf(t, m.merchantId);
    const invoice = await createInvoice(150_000);
    expect(invoice).toMatchObject({ status: 'unpaid', totalAmount: 150_000, currency: 'IRR', mobile: '09123456789', remainingAmount: 150_000, payments: [] });
    expect(invoice.invoiceId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    const payment = await requestPayment(invoice.invoiceId, gateway, 150_000);
    expect(payment).toMatchObject({ invoiceId: invoice.invoiceId, gateway, amount: 150_000, status: 'waiting', currency: 'IRR' });
    expect(payment.redirectUrl).toContain(sandboxOf(t).url);
    expect(payment.history.map((h: { to: string }) => h.to)).toEqual(['created', 'waiting']);
    const atGateway = sandboxOf(t).payment(payment.authority)!;
    expect(atGateway).toMatchObject({ protocol: gateway, amount: 150_000n, status: 'pending' });
    expect(atGateway.callbackUrl).toBe(`${t.url}/payment/callback/${gateway}?paymentId=${payment.paymentId}`);

    const trip = await payAtGateway(payment.redirectUrl);
    expect(trip.callbackStatus).toBe(302);
    expect(trip.result?.pathname).toBe('/payment/result');
    expect(trip.html).toContain('Payment confirmed');
    expect(trip.html).toContain('150,000 IRR (rials)');

    const status = await t.request('GET', `/payment/status?paymentId=${payment.paymentId}`, { authorization: auth });
    expect(status.json).toMatchObject({ status: 'verified', reason: 'verified_with_gateway', refId: expect.stringMatching(/^\d+$/) });
    expect(status.json.history.map((h: { to: string }) => h.to)).toEqual(['created', 'waiting', 'verified']);
    expect(sandboxOf(t).payment(payment.authority)?.status).toBe('verified');

    const info = await t.request('GET', `/invoice/getInfo?invoiceId=${invoice.invoiceId}`, { authorization: auth });
    expect(info.json).toMatchObject({ status: 'paid', paidAmount: 150_000, remainingAmount: 0 });
    const afterPay = await ledgerOf(t, m.merchantId);
    expect(afterPay.merchant - before.merchant).toBe(150_000n);
    expect(afterPay[gateway] - before[gateway]).toBe(-150_000n);
    expect(await eventTypes(t, payment.paymentId)).toEqual(['payment.created', 'payment.waiting', 'payment.verified']);
    expect(await eventTypes(t, invoice.invoiceId)).toEqual(['invoice.created', 'invoice.paid']);

    const refund = await t.request('POST', '/payment/refund', {
      authorization: auth,
      body: { authority: payment.authority, invoiceId: invoice.invoiceId },
    });
    expect(refund.status).toBe(200);
    expect(refund.json).toMatchObject({ status: 'refunded', refundedAmount: 150_000, refunds: [{ amount: 150_000 }] });
    expect(sandboxOf(t).payment(payment.authority)?.status).toBe(gateway === 'zarinpal' ? 'reversed' : 'refunded');
    const afterRefund = await ledgerOf(t, m.merchantId);
    expect(afterRefund).toEqual(before);
    expect(await eventTypes(t, payment.paymentId)).toEqual([
      'payment.created',
      'payment.waiting',
      'payment.verified',
      'payment.refund_pending',
      'payment.refunded',
    ]);
    expect(refund.json.refunds[0]).toMatchObject({ status: 'refunded', resolvedBy: 'gateway' });
    expect(refund.json.refundPendingAmount).toBe(0);
    const refunded = await t.request('GET', `/invoice/getInfo?invoiceId=${invoice.invoiceId}`, { authorization: auth });
    expect(refunded.json).toMatchObject({ status: 'refunded', paidAmount: 150_000, refundedAmount: 150_000, remainingAmount: 0 });

    const again = await t.request('POST', '/payment/refund', {
      authorization: auth,
      body: { authority: payment.authority, invoiceId: invoice.invoiceId },
    });
    expect(again.status).toBe(409);
    expect(again.json.error).toBe('INVALID_STATE_TRANSITION');
    expect(await ledgerOf(t, m.merchantId)).toEqual(before);
  });
});

describe('invoices paid in parts', () => {
  it('takes several payments on both gateways up to the total, then no more', async () => {
    const invoice = await createInvoice(300_000, 'Split order');
    const first = await requestPayment(invoice.invoiceId, 'zarinpal', 100_000);
    const second = await requestPayment(invoice.invoiceId, 'shepa', 200_000);

    const waiting = await t.request('POST', '/invoice/getWaitingPayments', { authorization: auth, body: { invoiceId: invoice.invoiceId } });
    expect(waiting.json.payments.map((p: { paymentId: string }) => p.paymentId)).toEqual([first.paymentId, second.paymentId]);

    await payAtGateway(first.redirectUrl);
    const partly = await t.request('GET', `/invoice/getInfo?invoiceId=${invoice.invoiceId}`, { authorization: auth });
    expect(partly.json).toMatchObject({ status: 'partially_paid', paidAmount: 100_000, remainingAmount: 200_000 });

    const tooMuch = await t.request('POST', '/payment/request', {
      authorization: auth,
      body: { invoiceId: invoice.invoiceId, gateway: 'zarinpal', amount: 200_001, description: 'x', mobile: null, email: null },
    });
    expect(tooMuch.status).toBe(400);
    expect(tooMuch.json).toMatchObject({ error: 'VALIDATION_FAILED', field: 'amount' });

    await payAtGateway(second.redirectUrl);
    const paid = await t.request('GET', `/invoice/getInfo?invoiceId=${invoice.invoiceId}`, { authorization: auth });
    expect(paid.json).toMatchObject({ status: 'paid', paidAmount: 300_000, remainingAmount: 0 });
    expect(paid.json.payments.map((p: { status: string }) => p.status)).toEqual(['verified', 'verified']);
    expect(await eventTypes(t, invoice.invoiceId)).toEqual(['invoice.created', 'invoice.partially_paid', 'invoice.paid']);

    const more = await t.request('POST', '/payment/request', {
      authorization: auth,
      body: { invoiceId: invoice.invoiceId, gateway: 'shepa', amount: 1_000, description: 'x', mobile: null, email: null },
    });
    expect(more.status).toBe(409);
    expect(more.json.error).toBe('INVALID_STATE_TRANSITION');

    // Shepa refunds in part; the payment stays verified until all of it is back.
    const partial = await t.graphql(
      `mutation($id: ID!, $amount: BigInt) { refundInvoicePayment(paymentId: $id, amount: $amount) {
         ... on MutationRefundInvoicePaymentSuccess { data { status refundedAmount refundableAmount invoice { status refundedAmount } } }
         ... on Error { code message } } }`,
      { id: second.paymentId, amount: '50000' },
      { authorization: auth },
    );
    expect(partial.data.refundInvoicePayment.data).toEqual({
      status: 'VERIFIED',
      refundedAmount: '50000',
      refundableAmount: '150000',
      invoice: { status: 'PARTIALLY_REFUNDED', refundedAmount: '50000' },
    });
    const zarinpalPart = await t.graphql(
      `mutation($id: ID!) { refundInvoicePayment(paymentId: $id, amount: "1000") { ... on Error { code message } ... on AppError { field } } }`,
      { id: first.paymentId },
      { authorization: auth },
    );
    expect(zarinpalPart.data.refundInvoicePayment).toMatchObject({ code: 'VALIDATION_FAILED', field: 'amount' });
    expect(sandboxOf(t).payment(second.authority)).toMatchObject({ refundedAmount: 50_000n, status: 'verified' });
  });
});

describe('the result page', () => {
  it('is 404 for an unknown payment and HTML, not JSON', async () => {
    const res = await t.request('GET', '/payment/result?paymentId=00000000-0000-4000-8000-000000000000');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toContain('text/html');
  });
});
