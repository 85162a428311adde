import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { expectLedgerBalanced, TestClock, type TestApp } from '../support/app.ts';
import { callbackOf, eventTypes, followCallback, ledgerOf, payAtGateway, sandboxOf, invoiceShop, startInvoicesApp } from './support.ts';

const MINUTE = 60_000;
let t: TestApp;
let shop: Awaited<ReturnType<typeof invoiceShop>>;
let m: MerchantCredentials;
let auth: string;
const clock = new TestClock();

beforeAll(async () => {
  t = await startInvoicesApp({}, { clock });
  shop = await invoiceShop(t, 'Callback shop');
  m = shop.m;
  auth = shop.auth;
});
afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

const newPayment = (...args: Parameters<Awaited<ReturnType<typeof invoiceShop>>['newPayment']>) => shop.newPayment(...args);
const statusOf = (paymentId: string) => shop.statusOf(paymentId);
const reconcile = () => shop.reconcile();

describe.each(['zarinpal', 'shepa'] as const)('callbacks and expiry on %s', (gateway) => {
  it('forged callbacks change nothing; unknown and mismatched ones are refused', async () => {
    const payment = await newPayment(gateway);
    const other = await newPayment(gateway);
    const base = `${t.url}/payment/callback/${gateway}`;
    const ok = gateway === 'zarinpal' ? 'Status=OK' : 'status=success';
    const key = gateway === 'zarinpal' ? 'Authority' : 'token';

    const early = await followCallback(new URL(`${base}?paymentId=${payment.paymentId}&${key}=${payment.authority}&${ok}`));
    expect(early.callbackStatus).toBe(302);
    expect(await statusOf(payment.paymentId)).toMatchObject({ status: 'waiting' });

    const crossed = await followCallback(new URL(`${base}?paymentId=${payment.paymentId}&${key}=${other.authority}&${ok}`));
    expect(crossed.callbackStatus).toBe(400);
    const malformed = await followCallback(new URL(`${base}?paymentId=${payment.paymentId}&${key}=${encodeURIComponent('not valid!')}&${ok}`));
    expect(malformed.callbackStatus).toBe(400);
    const unknown = await followCallback(new URL(`${base}?paymentId=00000000-0000-4000-8000-000000000000&${key}=${payment.authority}&${ok}`));
    expect(unknown.callbackStatus).toBe(404);
    expect(unknown.html).toContain('does not exist');

    expect(await statusOf(payment.paymentId)).toMatchObject({ status: 'waiting' });
    expect(await statusOf(other.paymentId)).toMatchObject({ status: 'waiting' });
    const trip = await payAtGateway(payment.redirectUrl);
    expect(trip.html).toContain('Payment confirmed');
  });

  it('a payment never paid expires; paid after expiry, the money goes back and nothing is credited', async () => {
    const payment = await newPayment(gateway);
    clock.advance(6 * MINUTE);
    await reconcile();
    expect((await statusOf(payment.paymentId)).status).toBe('waiting');
    clock.advance(61 * MINUTE);
    await reconcile();
    expect(await statusOf(payment.paymentId)).toMatchObject({ status: 'expired', reason: 'not_paid_in_time' });

    const before = await ledgerOf(t, m.merchantId);
    const late = await payAtGateway(payment.redirectUrl);
    expect(late.html).toContain('Payment expired');
    expect(sandboxOf(t).payment(payment.authority)?.status).toBe(gateway === 'zarinpal' ? 'reversed' : 'refunded');
    expect(await ledgerOf(t, m.merchantId)).toEqual(before);
    // Shepa's return cannot be repeated, so it is recorded pending before the gateway is asked.
    const returned = gateway === 'shepa' ? ['payment.return_pending', 'payment.returned'] : ['payment.returned'];
    expect(await eventTypes(t, payment.paymentId)).toEqual(['payment.created', 'payment.waiting', 'payment.expired', ...returned]);
  });
});

describe('gateway refusals at request time', () => {
  it('keeps nothing when the gateway refuses the payment request', async () => {
    const invoice = await t.request('POST', '/invoice/create', { authorization: auth, body: { totalAmount: 50_000, title: 'Refused', mobile: null, email: null } });
    const res = await t.request('POST', '/payment/request', {
      authorization: auth,
      body: { invoiceId: invoice.json.invoiceId, gateway: 'zarinpal', amount: 50_000, description: '[sandbox:explode]', mobile: null, email: null },
    });
    expect(res.status).toBe(502);
    expect(res.json).toMatchObject({ error: 'GATEWAY_REJECTED', message: expect.stringContaining('-9') });
    const info = await t.request('GET', `/invoice/getInfo?invoiceId=${invoice.json.invoiceId}`, { authorization: auth });
    expect(info.json.payments).toEqual([]);
  });
});

describe('canceling an invoice', () => {
  it('cancels its waiting payments; a payer who pays one anyway gets the money back', async () => {
    const payment = await newPayment('zarinpal');
    const canceled = await t.graphql(
      `mutation($id: ID!) { cancelInvoice(id: $id) { ... on MutationCancelInvoiceSuccess { data { status canceledAt payments { status reason } } } ... on Error { code } } }`,
      { id: payment.invoiceId },
      { authorization: auth },
    );
    expect(canceled.data.cancelInvoice.data).toMatchObject({ status: 'CANCELED', payments: [{ status: 'CANCELED', reason: 'invoice_canceled' }] });
    const before = await ledgerOf(t, m.merchantId);
    const callback = await callbackOf(payment.redirectUrl);
    const trip = await followCallback(callback);
    expect(trip.html).toContain('Payment canceled');
    expect(sandboxOf(t).payment(payment.authority)?.status).toBe('reversed');
    expect(await ledgerOf(t, m.merchantId)).toEqual(before);

    const again = await t.graphql(`mutation($id: ID!) { cancelInvoice(id: $id) { ... on Error { code } } }`, { id: payment.invoiceId }, { authorization: auth });
    expect(again.data.cancelInvoice.code).toBe('INVALID_STATE_TRANSITION');
  });
});
