import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { expectLedgerBalanced, TestClock, type TestApp } from '../support/app.ts';
import { parseArgs } from '../../src/cli/args.ts';
import { invoiceCommands } from '../../src/modules/invoices/commands.ts';
import { callbackOf, eventTypes, followCallback, ledgerOf, payAtGateway, sandboxOf, invoiceShop, startInvoicesApp } from './support.ts';

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

const resolveRefundCli = (args: string[]) => invoiceCommands['payments refund-resolve']!.run(t.app.deps.prisma, parseArgs(args));

describe.each(['zarinpal', 'shepa'] as const)('refunds whose answer is lost, on %s', (gateway) => {
  const refund = (payment: { authority: string; invoiceId: string }) =>
    t.request('POST', '/payment/refund', { authorization: auth, body: { authority: payment.authority, invoiceId: payment.invoiceId } });

  it('a refund carried out but never answered is pending, is not asked again blindly, and moves the ledger once', async () => {
    const payment = await newPayment(gateway, '[sandbox:refund_timeout] Order');
    await payAtGateway(payment.redirectUrl);
    const before = await ledgerOf(t, m.merchantId);

    const first = await refund(payment);
    expect(first.status).toBe(202);
    expect(first.json).toMatchObject({
      status: 'verified',
      refundedAmount: 0,
      refundPendingAmount: 120_000,
      refunds: [{ status: 'pending', amount: 120_000, note: expect.stringContaining('did not confirm'), resolvedBy: null }],
    });
    // The gateway did give the money back; the ledger has not moved, since nobody knows that yet.
    expect(sandboxOf(t).payment(payment.authority)).toMatchObject({ refundCalls: 1, refundedAmount: 120_000n });
    expect(await ledgerOf(t, m.merchantId)).toEqual(before);

    // Another amount must wait for the pending one.
    const other = await t.graphql(
      `mutation($id: ID!) { refundInvoicePayment(paymentId: $id, amount: "1000") { ... on Error { code message } } }`,
      { id: payment.paymentId },
      { authorization: auth },
    );
    expect(other.data.refundInvoicePayment).toMatchObject({ code: 'INVALID_STATE_TRANSITION', message: expect.stringContaining('pending') });

    const retry = await refund(payment);
    if (gateway === 'zarinpal') {
      // Zarinpal's inquiry says REVERSED: the retry settles it without a second reverse.
      expect(retry.status).toBe(200);
      expect(retry.json).toMatchObject({ status: 'refunded', refundedAmount: 120_000, refundPendingAmount: 0, refunds: [{ status: 'refunded', resolvedBy: 'gateway' }] });
    } else {
      // Shepa cannot be asked: the retry changes nothing and does not call the gateway.
      expect(retry.status).toBe(202);
      expect(retry.json.refunds).toMatchObject([{ status: 'pending', note: expect.stringContaining('refund-resolve') }]);
      clock.advance(6 * MINUTE);
      expect(await reconcile()).toMatchObject({ refundsAwaitingOperator: 1, refundsResolved: 0 });
      expect(await ledgerOf(t, m.merchantId)).toEqual(before);
      const resolved = await resolveRefundCli(['--payment', payment.paymentId, '--outcome', 'refunded', '--reference', 'RF-42']);
      expect(resolved).toMatchObject({ status: 'refunded', refundedAmount: 120_000n, refundPendingAmount: 0n, refund: { status: 'refunded', reference: 'RF-42' } });
      expect((await statusOf(payment.paymentId)).refunds).toMatchObject([{ status: 'refunded', resolvedBy: 'operator', reference: 'RF-42' }]);
    }
    expect(sandboxOf(t).payment(payment.authority)).toMatchObject({ refundCalls: 1, refundedAmount: 120_000n });
    expect((await ledgerOf(t, m.merchantId)).merchant - before.merchant).toBe(-120_000n);
    expect(await eventTypes(t, payment.paymentId)).toEqual([
      'payment.created',
      'payment.waiting',
      'payment.verified',
      'payment.refund_pending',
      'payment.refunded',
    ]);
    // Settled: a further refund is refused and nothing moves.
    expect((await refund(payment)).status).toBe(409);
    expect((await ledgerOf(t, m.merchantId)).merchant - before.merchant).toBe(-120_000n);
  });

  it('a refund answered with an error page is pending until the gateway or an operator settles it', async () => {
    const payment = await newPayment(gateway, '[sandbox:refund_bad_gateway] Order');
    await payAtGateway(payment.redirectUrl);
    const before = await ledgerOf(t, m.merchantId);
    expect((await refund(payment)).status).toBe(202);
    expect(sandboxOf(t).payment(payment.authority)).toMatchObject({ refundCalls: 1, refundedAmount: 0n });

    if (gateway === 'zarinpal') {
      // The inquiry shows no reverse, and a reverse cannot pay twice: the retry asks again.
      expect((await refund(payment)).status).toBe(202);
      expect(sandboxOf(t).payment(payment.authority)?.refundCalls).toBe(2);
      sandboxOf(t).setScenario(payment.authority, 'success');
      clock.advance(6 * MINUTE);
      expect(await reconcile()).toMatchObject({ refundsChecked: 1, refundsResolved: 1, errors: 0 });
      expect(await statusOf(payment.paymentId)).toMatchObject({ status: 'refunded', refunds: [{ status: 'refunded', resolvedBy: 'reconciliation' }] });
      expect(sandboxOf(t).payment(payment.authority)).toMatchObject({ status: 'reversed', refundCalls: 3 });
      expect((await ledgerOf(t, m.merchantId)).merchant - before.merchant).toBe(-120_000n);
    } else {
      const failed = await resolveRefundCli(['--payment', payment.paymentId, '--outcome', 'failed', '--note', 'not in the panel']);
      expect(failed).toMatchObject({ status: 'verified', refundPendingAmount: 0n, refund: { status: 'failed' } });
      expect(await ledgerOf(t, m.merchantId)).toEqual(before);
      sandboxOf(t).setScenario(payment.authority, 'success');
      clock.advance(1_000); // refunds are listed by creation time
      const again = await refund(payment);
      expect(again.status).toBe(200);
      expect(again.json.refunds).toMatchObject([{ status: 'failed', note: 'not in the panel' }, { status: 'refunded' }]);
      expect(sandboxOf(t).payment(payment.authority)).toMatchObject({ refundCalls: 2, refundedAmount: 120_000n });
      expect((await ledgerOf(t, m.merchantId)).merchant - before.merchant).toBe(-120_000n);
      expect(await eventTypes(t, payment.paymentId)).toEqual([
        'payment.created',
        'payment.waiting',
        'payment.verified',
        'payment.refund_pending',
        'payment.refund_failed',
        'payment.refund_pending',
        'payment.refunded',
      ]);
    }
    await expect(resolveRefundCli(['--payment', payment.paymentId, '--outcome', 'refunded'])).rejects.toThrow(/no refund/);
  });
});

describe('money shepa took that could not be accepted, whose return was not answered', () => {
  it('is left for an operator, never returned twice by reconciliation', async () => {
    const payment = await newPayment('shepa', '[sandbox:amount_mismatch] Order');
    const callback = await callbackOf(payment.redirectUrl);
    // The payer paid half; returning it will go unanswered.
    sandboxOf(t).setScenario(payment.authority, 'refund_timeout');
    await followCallback(callback);
    expect(await statusOf(payment.paymentId)).toMatchObject({ status: 'failed', reason: 'amount_mismatch', note: expect.stringContaining('refund-resolve') });
    clock.advance(6 * MINUTE);
    expect(await reconcile()).toMatchObject({ reversalsRetried: 0 });
    // The return was recorded before the gateway was asked: a replayed callback does not ask again.
    await followCallback(callback);
    expect(sandboxOf(t).payment(payment.authority)).toMatchObject({ refundCalls: 1, refundedAmount: 60_000n });
    const resolved = await resolveRefundCli(['--payment', payment.paymentId, '--outcome', 'refunded']);
    expect(resolved).toMatchObject({ status: 'failed', note: expect.stringContaining('operator confirmed') });
    expect((await eventTypes(t, payment.paymentId)).slice(-4)).toEqual(['payment.failed', 'payment.return_pending', 'payment.return_unknown', 'payment.returned']);
  });
});
