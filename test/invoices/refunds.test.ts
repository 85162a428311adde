import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../../src/cli/args.ts';
import { invoiceCommands } from '../../src/modules/invoices/commands.ts';
import { expectLedgerBalanced, lockWaits, TestClock, until, usesPostgres, type TestApp } from '../support/app.ts';
import { eventTypes, invoiceShop, ledgerOf, payAtGateway, sandboxOf, startInvoicesApp } from './support.ts';

const MINUTE = 60_000;
let t: TestApp;
let shop: Awaited<ReturnType<typeof invoiceShop>>;
const clock = new TestClock();

beforeAll(async () => {
  // Two gateway calls per AddRefund (Session, then the mutation): a roomier limit than the other
  // suites', so that a loaded machine is not mistaken for a gateway that does not answer.
  t = await startInvoicesApp({ GATEWAY_TIMEOUT_MS: 2_000 }, { clock });
  shop = await invoiceShop(t, 'Refund shop');
});
afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

const REFUND = `mutation($id: ID!, $amount: BigInt) { refundInvoicePayment(paymentId: $id, amount: $amount) {
  ... on MutationRefundInvoicePaymentSuccess { data { status refundedAmount refundPendingAmount refundableAmount
      refunds { status amount reference resolvedBy } invoice { status refundedAmount } } }
  ... on Error { code message } ... on AppError { field } } }`;

async function refund(id: string, amount: string | null, authorization = shop.auth) {
  const res = await t.graphql(REFUND, { id, amount }, { authorization });
  return res.data.refundInvoicePayment;
}

async function paidPayment(gateway: 'zarinpal' | 'shepa', description = 'Order', amount = 200_000) {
  const payment = await shop.newPayment(gateway, description, amount);
  expect((await payAtGateway(payment.redirectUrl)).html).toContain('Payment confirmed');
  return payment;
}

describe('zarinpal refunds in part, through its GraphQL AddRefund', () => {
  it('refund parts up to the verified amount, moving only what was refunded', async () => {
    const payment = await paidPayment('zarinpal');
    const before = await ledgerOf(t, shop.m.merchantId);

    const first = await refund(payment.paymentId, '50000');
    expect(first.data).toMatchObject({
      status: 'VERIFIED',
      refundedAmount: '50000',
      refundPendingAmount: '0',
      refundableAmount: '150000',
      refunds: [{ status: 'REFUNDED', amount: '50000', reference: expect.stringMatching(/^\d+$/), resolvedBy: 'gateway' }],
      invoice: { status: 'PARTIALLY_REFUNDED', refundedAmount: '50000' },
    });
    const atGateway = sandboxOf(t).payment(payment.authority)!;
    expect(atGateway).toMatchObject({ status: 'verified', refundedAmount: 50_000n });
    expect(first.data.refunds[0].reference).toBe(atGateway.transactionId);
    expect((await ledgerOf(t, shop.m.merchantId)).merchant - before.merchant).toBe(-50_000n);

    expect(await refund(payment.paymentId, '10000')).toMatchObject({ code: 'VALIDATION_FAILED', field: 'amount', message: expect.stringContaining('20000') });
    expect(await refund(payment.paymentId, '150001')).toMatchObject({ code: 'VALIDATION_FAILED', field: 'amount' });

    // Two refunds racing for more than is left: one goes through; the other is taken for a repeat
    // of it while it is pending (same amount), or refused as more than is left once it is done.
    const racing = await Promise.all([refund(payment.paymentId, '100000'), refund(payment.paymentId, '100000')]);
    for (const answer of racing) {
      if (!answer.data) expect(answer).toMatchObject({ code: 'VALIDATION_FAILED', field: 'amount' });
    }
    expect(sandboxOf(t).payment(payment.authority)?.refundedAmount).toBe(150_000n);
    expect((await shop.statusOf(payment.paymentId)).refunds.map((r: { status: string }) => r.status)).toEqual(['refunded', 'refunded']);

    const rest = await refund(payment.paymentId, null);
    expect(rest.data).toMatchObject({ status: 'REFUNDED', refundedAmount: '200000', refundableAmount: '0', invoice: { status: 'REFUNDED' } });
    expect(sandboxOf(t).payment(payment.authority)).toMatchObject({ status: 'refunded', refundedAmount: 200_000n, refundCalls: 3 });
    expect((await ledgerOf(t, shop.m.merchantId)).merchant - before.merchant).toBe(-200_000n);
    const events = await eventTypes(t, payment.paymentId);
    expect(events.filter((type) => type === 'payment.refund_pending')).toHaveLength(3);
    expect(events.slice(-2)).toEqual(['payment.refund_pending', 'payment.refunded']);
    expect(await eventTypes(t, payment.invoiceId)).toEqual(['invoice.created', 'invoice.paid', 'invoice.partially_refunded', 'invoice.refunded']);
  });

  it('refunds a whole payment older than 30 minutes with AddRefund instead of reverse', async () => {
    const payment = await paidPayment('zarinpal');
    clock.advance(31 * MINUTE);
    const res = await t.request('POST', '/payment/refund', { authorization: shop.auth, body: { authority: payment.authority, invoiceId: payment.invoiceId } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ status: 'refunded', refundedAmount: 200_000 });
    expect(sandboxOf(t).payment(payment.authority)).toMatchObject({ status: 'refunded', refundCalls: 1 });
  });

  it('an AddRefund whose answer is lost is settled by the session, never asked twice', async () => {
    const payment = await paidPayment('zarinpal', '[sandbox:refund_timeout] Order');
    const before = await ledgerOf(t, shop.m.merchantId);
    const pending = await refund(payment.paymentId, '60000');
    expect(pending.data).toMatchObject({ status: 'VERIFIED', refundedAmount: '0', refundPendingAmount: '60000', refundableAmount: '140000', refunds: [{ status: 'PENDING' }] });
    expect(await ledgerOf(t, shop.m.merchantId)).toEqual(before);
    // The session shows the 60,000 refunded: the retry confirms it without a second AddRefund.
    const retried = await refund(payment.paymentId, '60000');
    expect(retried.data).toMatchObject({ refundedAmount: '60000', refundPendingAmount: '0', refunds: [{ status: 'REFUNDED', resolvedBy: 'gateway' }] });
    expect(sandboxOf(t).payment(payment.authority)).toMatchObject({ refundCalls: 1, refundedAmount: 60_000n });
    expect((await ledgerOf(t, shop.m.merchantId)).merchant - before.merchant).toBe(-60_000n);
  });

  it('an AddRefund that does not show at the gateway stays pending until an operator settles it', async () => {
    const payment = await paidPayment('zarinpal', '[sandbox:refund_bad_gateway] Order');
    const before = await ledgerOf(t, shop.m.merchantId);
    expect((await refund(payment.paymentId, '60000')).data.refunds).toMatchObject([{ status: 'PENDING' }]);
    // Not repeatable: the retry and reconciliation look, but do not ask for it again.
    expect((await refund(payment.paymentId, null)).data.refunds).toMatchObject([{ status: 'PENDING' }]);
    clock.advance(6 * MINUTE);
    expect(await shop.reconcile()).toMatchObject({ refundsChecked: 1, refundsResolved: 0, errors: 0 });
    expect(sandboxOf(t).payment(payment.authority)).toMatchObject({ refundCalls: 1, refundedAmount: 0n });
    expect(await ledgerOf(t, shop.m.merchantId)).toEqual(before);

    const resolved = await t.graphql(
      `mutation($id: ID!) { resolveInvoicePaymentRefund(paymentId: $id, outcome: FAILED, note: "not in the panel") {
         ... on MutationResolveInvoicePaymentRefundSuccess { data { status refundPendingAmount refunds { status note resolvedBy } } } ... on Error { code } } }`,
      { id: payment.paymentId },
      { authorization: await t.operator() },
    );
    expect(resolved.data.resolveInvoicePaymentRefund.data).toEqual({
      status: 'VERIFIED',
      refundPendingAmount: '0',
      refunds: [{ status: 'FAILED', note: 'not in the panel', resolvedBy: 'operator' }],
    });
    sandboxOf(t).setScenario(payment.authority, 'success');
    expect((await refund(payment.paymentId, '60000')).data).toMatchObject({ refundedAmount: '60000' });
    expect((await ledgerOf(t, shop.m.merchantId)).merchant - before.merchant).toBe(-60_000n);
    expect(await eventTypes(t, payment.paymentId)).toContain('payment.refund_failed');
  });

  it('needs the panel access token and terminal id of a merchant with its own credentials', async () => {
    const other = await invoiceShop(t, 'Own terminal');
    const set = (extra: string[]) =>
      invoiceCommands['gateway set']!.run(t.app.deps.prisma, parseArgs(['--merchant', other.m.merchantId, '--gateway', 'zarinpal', '--merchant-id', randomUUID(), ...extra]));
    await set([]);
    const payment = await other.newPayment('zarinpal', 'Order', 200_000);
    await payAtGateway(payment.redirectUrl);
    expect(await refund(payment.paymentId, '50000', other.auth)).toMatchObject({ code: 'GATEWAY_NOT_CONFIGURED', message: expect.stringContaining('--access-token') });
    await expect(set(['--access-token', 'tok'])).rejects.toThrow(/terminal-id/);
    expect(await set(['--access-token', 'panel-token', '--terminal-id', '349555'])).toMatchObject({ refunds: true });
    expect(await invoiceCommands['gateway list']!.run(t.app.deps.prisma, parseArgs(['--merchant', other.m.merchantId]))).toMatchObject({
      gateways: [{ gateway: 'zarinpal', refunds: { accessToken: '…oken', terminalId: '349555' } }],
    });
    expect((await refund(payment.paymentId, '50000', other.auth)).data).toMatchObject({ refundedAmount: '50000' });
  });
});

describe('shepa refunds in part', () => {
  it('never exceed the verified amount, also when racing', async () => {
    const payment = await paidPayment('shepa');
    const racing = await Promise.all(['120000', '120000', '150000'].map((amount) => refund(payment.paymentId, amount)));
    for (const answer of racing) {
      if (!answer.data) expect(answer.code).toMatch(/^(VALIDATION_FAILED|INVALID_STATE_TRANSITION)$/);
    }
    const { refunds, refundedAmount } = await shop.statusOf(payment.paymentId);
    expect(refunds.map((r: { status: string }) => r.status)).toEqual(['refunded']);
    expect(sandboxOf(t).payment(payment.authority)).toMatchObject({ refundedAmount: BigInt(refundedAmount), refundCalls: 1 });
    expect((await refund(payment.paymentId, null)).data).toMatchObject({ status: 'REFUNDED', refundedAmount: '200000' });
    expect(sandboxOf(t).payment(payment.authority)).toMatchObject({ refundedAmount: 200_000n, refundCalls: 2 });
  });
});

/** Holds back the answer of the next gateway call whose URL matches, once the gateway has carried it out. */
function holdGatewayAnswer(url: RegExp): { answered: Promise<void>; release: () => void } {
  const original = globalThis.fetch;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let answered!: () => void;
  const arrived = new Promise<void>((resolve) => (answered = resolve));
  globalThis.fetch = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const target = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const response = await original(input, init);
    if (!url.test(target)) return response;
    globalThis.fetch = original;
    const body = await response.text();
    answered();
    await released;
    return new Response(body, { status: response.status, headers: response.headers });
  }) as typeof fetch;
  return { answered: arrived, release };
}

describe('an operator settling a refund or a return while the gateway is being asked', () => {
  const RESOLVE = `mutation($id: ID!) { resolveInvoicePaymentRefund(paymentId: $id, outcome: FAILED, note: "not in the panel") {
    __typename ... on MutationResolveInvoicePaymentRefundSuccess { data { refunds { status resolvedBy } } } ... on Error { code } } }`;

  /** On PostgreSQL, until the operator's request waits for the payment the gateway call holds (or is answered). */
  const operatorWaits = async (request: Promise<unknown>) => {
    let answered = false;
    void request.finally(() => (answered = true));
    if (usesPostgres) await until(async () => (answered || (await lockWaits(t, 'FOR UPDATE')) > 0 ? true : undefined));
  };

  it('waits for the refund\'s answer, and cannot mark a refund failed that the gateway carried out', async () => {
    const payment = await paidPayment('shepa', 'Order', 120_000);
    const before = await ledgerOf(t, shop.m.merchantId);
    const operator = await t.operator();
    const answer = holdGatewayAnswer(/refund-transaction/);
    const refunding = refund(payment.paymentId, '60000');
    await answer.answered;
    expect(sandboxOf(t).payment(payment.authority)).toMatchObject({ refundedAmount: 60_000n });
    const resolving = t.graphql(RESOLVE, { id: payment.paymentId }, { authorization: operator });
    await operatorWaits(resolving);
    answer.release();
    expect((await refunding).data).toMatchObject({ refundedAmount: '60000', refunds: [{ status: 'REFUNDED', resolvedBy: 'gateway' }] });
    // The operator finds it settled by the gateway: nothing of theirs applies.
    expect((await resolving).data.resolveInvoicePaymentRefund).toEqual({ __typename: 'AppError', code: 'INVALID_STATE_TRANSITION' });
    expect(sandboxOf(t).payment(payment.authority)).toMatchObject({ refundCalls: 1, refundedAmount: 60_000n });
    expect((await ledgerOf(t, shop.m.merchantId)).merchant - before.merchant).toBe(-60_000n);
  });

  it('waits for the answer about money being returned, and cannot mark a return failed that the gateway made', async () => {
    const payment = await shop.newPayment('shepa', '[sandbox:amount_mismatch] Order', 120_000);
    const operator = await t.operator();
    const answer = holdGatewayAnswer(/refund-transaction/);
    const paying = payAtGateway(payment.redirectUrl);
    await answer.answered;
    const resolving = t.graphql(RESOLVE, { id: payment.paymentId }, { authorization: operator });
    await operatorWaits(resolving);
    answer.release();
    await paying;
    expect((await resolving).data.resolveInvoicePaymentRefund).toEqual({ __typename: 'AppError', code: 'INVALID_STATE_TRANSITION' });
    expect(sandboxOf(t).payment(payment.authority)).toMatchObject({ status: 'refunded' });
    const attempts = await t.app.deps.prisma.invoicePaymentAttempt.findMany({ where: { paymentId: payment.paymentId } });
    expect(attempts.map((attempt) => attempt.status)).toEqual(['reversed']);
  });
});
