import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { expectLedgerBalanced, TestClock, type TestApp } from '../support/app.ts';
import { eventTypes, followCallback, ledgerOf, payAtGateway, sandboxOf, invoiceShop, startInvoicesApp } from './support.ts';

const MINUTE = 60_000;
let t: TestApp;
let shop: Awaited<ReturnType<typeof invoiceShop>>;
let m: MerchantCredentials;
let auth: string;
const clock = new TestClock();

beforeAll(async () => {
  t = await startInvoicesApp({}, { clock });
  shop = await invoiceShop(t, 'Failure shop');
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

describe.each(['zarinpal', 'shepa'] as const)('failure modes on %s', (gateway) => {
  it('cancel and decline at the gateway fail the payment and credit nothing', async () => {
    const before = await ledgerOf(t, m.merchantId);
    for (const action of ['cancel', 'decline'] as const) {
      const payment = await newPayment(gateway);
      const trip = await payAtGateway(payment.redirectUrl, action);
      expect(trip.html).toContain('Payment failed');
      expect(await statusOf(payment.paymentId)).toMatchObject({ status: 'failed', reason: 'canceled_or_declined_at_gateway' });
    }
    const tagged = await newPayment(gateway, '[sandbox:decline] Order');
    await payAtGateway(tagged.redirectUrl, 'pay');
    expect((await statusOf(tagged.paymentId)).status).toBe('failed');
    expect(await ledgerOf(t, m.merchantId)).toEqual(before);
  });

  it('a verify that times out, answers garbage or a 502 page leaves the payment waiting; reconciliation verifies it', async () => {
    const before = await ledgerOf(t, m.merchantId);
    const payments = [];
    for (const scenario of ['verify_timeout', 'verify_garbage', 'verify_bad_gateway']) {
      const payment = await newPayment(gateway, `[sandbox:${scenario}] Order`);
      const trip = await payAtGateway(payment.redirectUrl);
      expect(trip.html).toContain('Waiting for the gateway to confirm');
      const status = await statusOf(payment.paymentId);
      expect(status).toMatchObject({ status: 'waiting', note: expect.stringContaining(gateway) });
      payments.push(payment);
    }
    expect(await ledgerOf(t, m.merchantId)).toEqual(before);

    // Not due yet; then due but the gateway still misbehaves: nothing changes.
    expect((await reconcile()).checked).toBe(0);
    clock.advance(6 * MINUTE);
    const stillBroken = await reconcile();
    expect(stillBroken).toMatchObject({ checked: 3, verified: 0, stillWaiting: 3, errors: 0 });
    expect(await ledgerOf(t, m.merchantId)).toEqual(before);

    for (const payment of payments) sandboxOf(t).setScenario(payment.authority, 'success');
    expect(await reconcile()).toMatchObject({ checked: 3, verified: 3, errors: 0 });
    for (const payment of payments) {
      expect(await statusOf(payment.paymentId)).toMatchObject({ status: 'verified', note: null });
      expect(await eventTypes(t, payment.paymentId)).toEqual(['payment.created', 'payment.waiting', 'payment.verified']);
    }
    const after = await ledgerOf(t, m.merchantId);
    expect(after.merchant - before.merchant).toBe(3n * 120_000n);
    // The callback that timed out, replayed now, changes nothing.
    const replay = await followCallback(new URL(sandboxOf(t).payment(payments[0]!.authority)!.callbackUrl + `&${gateway === 'zarinpal' ? `Authority=${payments[0]!.authority}&Status=OK` : `token=${payments[0]!.authority}&status=success`}`));
    expect(replay.callbackStatus).toBe(302);
    expect(await ledgerOf(t, m.merchantId)).toEqual(after);
  });

  it('a short payment (amount mismatch) fails and credits nothing', async () => {
    const before = await ledgerOf(t, m.merchantId);
    const payment = await newPayment(gateway, '[sandbox:amount_mismatch] Order');
    const trip = await payAtGateway(payment.redirectUrl);
    expect(trip.html).toContain('did not match');
    expect(await statusOf(payment.paymentId)).toMatchObject({ status: 'failed', reason: 'amount_mismatch' });
    expect(await ledgerOf(t, m.merchantId)).toEqual(before);
    // Zarinpal never verified it (it returns unverified money itself); Shepa's verify took it, so it went back.
    expect(sandboxOf(t).payment(payment.authority)?.status).toBe(gateway === 'zarinpal' ? 'paid' : 'refunded');
  });

  it('a refund the gateway refuses changes nothing', async () => {
    const payment = await newPayment(gateway, '[sandbox:refund_fail] Order');
    await payAtGateway(payment.redirectUrl);
    const before = await ledgerOf(t, m.merchantId);
    const refund = await t.request('POST', '/payment/refund', {
      authorization: auth,
      body: { authority: payment.authority, invoiceId: payment.invoiceId },
    });
    expect(refund.status).toBe(502);
    expect(refund.json).toMatchObject({ error: 'GATEWAY_REJECTED' });
    expect(await statusOf(payment.paymentId)).toMatchObject({ status: 'verified', refundedAmount: 0 });
    expect(await ledgerOf(t, m.merchantId)).toEqual(before);
  });
});
