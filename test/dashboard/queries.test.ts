/**
 * The merchant-wide lists and totals a dashboard reads, one per domain, and the stream position it
 * subscribes from. Each answers only the caller's own objects and needs the domain's scope.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { RIGHTS, SCOPES } from '../../src/auth/scopes.ts';
import { uuidv7 } from '../../src/lib/ids.ts';
import { MANUAL } from '../charges/support.ts';
import { payAtGateway, startInvoicesApp } from '../invoices/support.ts';
import { createGroup, newPhone } from '../pockets/support.ts';
import { createProvider } from '../recharge/helpers.ts';
import { expectLedgerBalanced, token, type TestApp, wsClient } from '../support/app.ts';

let t: TestApp;
let a: MerchantCredentials;
let b: MerchantCredentials;
let operator: string;

beforeAll(async () => {
  t = await startInvoicesApp({ ...MANUAL });
  a = await t.merchant({ name: 'Dashboard A', scopes: [...SCOPES], rights: [...RIGHTS] });
  b = await t.merchant({ name: 'Dashboard B', scopes: [...SCOPES], rights: [...RIGHTS] });
  operator = await t.operator();
});

afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

const as = (merchant: MerchantCredentials) => ({ authorization: token(merchant) });

async function ok<T = any>(query: string, variables: Record<string, unknown>, merchant: MerchantCredentials): Promise<T> {
  const res = await t.graphql(query, variables, as(merchant));
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data as T;
}

async function chargePockets(merchant: MerchantCredentials, slug: string, amounts: (string | number)[]) {
  const charges = amounts.map((amount) => ({ token: uuidv7(), phoneNumber: newPhone(), amount: String(amount) }));
  await ok(`mutation ($slug: String!, $charges: [PocketChargeInput!]!) { chargePockets(groupSlug: $slug, charges: $charges) { __typename } }`, { slug, charges }, merchant);
  return charges.map((charge) => charge.token);
}

describe('latestEventId', () => {
  it('is null before the first event, then the position events(after:) resumes from', async () => {
    const fresh = await t.merchant({ name: 'Dashboard fresh', scopes: [...SCOPES] });
    expect((await ok(`{ latestEventId }`, {}, fresh)).latestEventId).toBeNull();
    const group = await createGroup(t, fresh);
    await chargePockets(fresh, group.slug, [100]);
    await t.app.deps.relay.flush();
    const { latestEventId } = await ok<{ latestEventId: string }>(`{ latestEventId }`, {}, fresh);
    expect(latestEventId).toMatch(/^\d+$/);

    // Another merchant's events do not move it.
    const other = await createGroup(t, b);
    await chargePockets(b, other.slug, [100]);
    await t.app.deps.relay.flush();
    expect((await ok(`{ latestEventId }`, {}, fresh)).latestEventId).toBe(latestEventId);

    // Subscribing after it replays nothing already seen and delivers the next change first.
    const client = wsClient(t, token(fresh));
    const received: { id: string; type: string }[] = [];
    const done = new Promise<void>((resolve, reject) =>
      client.subscribe<{ events: { id: string; type: string } }>(
        { query: 'subscription ($after: ID) { events(after: $after) { id type } }', variables: { after: latestEventId } },
        { next: (message) => received.push(message.data!.events) && resolve(), error: reject, complete: resolve },
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    await chargePockets(fresh, group.slug, [200]);
    await done;
    await client.dispose();
    expect(received).toHaveLength(1);
    expect(received[0]!.type).toBe('pocket.charged');
    expect(BigInt(received[0]!.id)).toBeGreaterThan(BigInt(latestEventId));
  });

  it('needs the scope events', async () => {
    const narrow = await t.merchant({ name: 'Dashboard narrow', scopes: ['pockets'] });
    const res = await t.graphql(`{ latestEventId }`, {}, as(narrow));
    expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('pocketCharges and pocketChargeTotals', () => {
  it('lists every group newest first and totals per group and status', async () => {
    const first = await createGroup(t, a);
    const second = await createGroup(t, a, { cap: 1_000n });
    const [t1, t2] = await chargePockets(a, first.slug, [300, 500]);
    const [t3, t4] = await chargePockets(a, second.slug, [900, 400]); // the second exceeds the cap
    await chargePockets(b, (await createGroup(t, b)).slug, [700]);

    const data = await ok(
      `{ pocketCharges(first: 10) { totalCount edges { node { token status amount group { slug } } } }
         failed: pocketCharges(first: 10, status: ERROR) { totalCount edges { node { token failure } } }
         pocketChargeTotals { group { slug } currency status count amount } }`,
      {},
      a,
    );
    expect(data.pocketCharges.totalCount).toBe(4);
    // Newest batch first; the items of one batch share an instant.
    const tokens = data.pocketCharges.edges.map((edge: any) => edge.node.token);
    expect(new Set(tokens.slice(0, 2))).toEqual(new Set([t3, t4]));
    expect(new Set(tokens.slice(2))).toEqual(new Set([t1, t2]));
    expect(data.failed).toEqual({ totalCount: 1, edges: [{ node: { token: t4, failure: 'CAP_EXCEEDED' } }] });
    expect(data.pocketChargeTotals).toEqual(
      [
        { group: { slug: first.slug }, currency: 'IRR', status: 'SUCCESS', count: 2, amount: '800' },
        { group: { slug: second.slug }, currency: 'IRR', status: 'ERROR', count: 1, amount: '400' },
        { group: { slug: second.slug }, currency: 'IRR', status: 'SUCCESS', count: 1, amount: '900' },
      ].sort((x, y) => x.group.slug.localeCompare(y.group.slug) || x.status.localeCompare(y.status)),
    );
  });
});

describe('invoicePayments', () => {
  it("lists the merchant's payments across invoices, newest first, by status and gateway", async () => {
    const pay = async (merchant: MerchantCredentials, gateway: string, settle: boolean) => {
      const invoice = await ok(`mutation { createInvoice(input: { title: "Dash", totalAmount: "5000" }) { ... on MutationCreateInvoiceSuccess { data { id } } } }`, {}, merchant);
      const requested = await ok(
        `mutation ($input: RequestInvoicePaymentInput!) { requestInvoicePayment(input: $input) { ... on MutationRequestInvoicePaymentSuccess { data { id redirectUrl } } } }`,
        { input: { invoiceId: invoice.createInvoice.data.id, amount: '5000', gateway } },
        merchant,
      );
      const payment = requested.requestInvoicePayment.data;
      if (settle) await payAtGateway(payment.redirectUrl);
      return payment.id as string;
    };
    const zarinpal = await pay(a, 'ZARINPAL', true);
    const shepa = await pay(a, 'SHEPA', false);
    await pay(b, 'ZARINPAL', true);

    const data = await ok(
      `{ all: invoicePayments(first: 10) { totalCount edges { node { id status gateway } } }
         verified: invoicePayments(first: 10, status: [VERIFIED]) { edges { node { id } } }
         shepa: invoicePayments(first: 10, gateway: SHEPA) { edges { node { id status } } } }`,
      {},
      a,
    );
    expect(data.all.totalCount).toBe(2);
    expect(data.all.edges.map((edge: any) => edge.node)).toEqual([
      { id: shepa, status: 'WAITING', gateway: 'SHEPA' },
      { id: zarinpal, status: 'VERIFIED', gateway: 'ZARINPAL' },
    ]);
    expect(data.verified.edges).toEqual([{ node: { id: zarinpal } }]);
    expect(data.shepa.edges).toEqual([{ node: { id: shepa, status: 'WAITING' } }]);
  });
});

describe('rechargePayments and rechargePaymentTotals', () => {
  const create = async (merchant: MerchantCredentials, provider: string, amount: string) =>
    (
      await ok(
        `mutation ($provider: String!, $amount: String!) { createRechargePayment(provider: $provider, userId: "7", params: { amount: $amount }) { ... on MutationCreateRechargePaymentSuccess { data { id } } ... on AppError { code message } } }`,
        { provider, amount },
        merchant,
      )
    ).createRechargePayment.data.id as string;

  it('lists payments through every provider newest first and totals per provider and state', async () => {
    await createProvider(t, a.merchantId, 'dash-mobile');
    await createProvider(t, a.merchantId, 'dash-card');
    await createProvider(t, b.merchantId, 'dash-mobile');
    const p1 = await create(a, 'dash-mobile', '1000');
    const p2 = await create(a, 'dash-mobile', '2000');
    const p3 = await create(a, 'dash-card', '3000');
    await create(b, 'dash-mobile', '9000');
    await ok(`mutation ($id: ID!) { commitRechargePayment(id: $id) { __typename } }`, { id: p1 }, a);
    await ok(`mutation ($id: ID!) { rollbackRechargePayment(id: $id, reason: "test") { __typename } }`, { id: p3 }, a);

    const data = await ok(
      `{ rechargePayments(first: 10) { totalCount edges { node { id state } } }
         pending: rechargePayments(first: 10, state: PENDING) { edges { node { id } } }
         rechargePaymentTotals { provider { reference } currency state count amount } }`,
      {},
      a,
    );
    expect(data.rechargePayments.totalCount).toBe(3);
    expect(data.rechargePayments.edges.map((edge: any) => edge.node.id)).toEqual([p3, p2, p1]);
    expect(data.pending.edges).toEqual([{ node: { id: p2 } }]);
    expect(data.rechargePaymentTotals).toHaveLength(3);
    expect(data.rechargePaymentTotals).toEqual(
      expect.arrayContaining([
        { provider: { reference: 'dash-mobile' }, currency: 'IRR', state: 'COMMITTED', count: 1, amount: '1000' },
        { provider: { reference: 'dash-mobile' }, currency: 'IRR', state: 'PENDING', count: 1, amount: '2000' },
        { provider: { reference: 'dash-card' }, currency: 'IRR', state: 'ROLLED_BACK', count: 1, amount: '3000' },
      ]),
    );
  });

  it('needs the right "Manage payments"', async () => {
    const reader = await t.merchant({ name: 'Dashboard reader', scopes: [...SCOPES], rights: [] });
    for (const query of ['{ rechargePayments(first: 1) { totalCount } }', '{ rechargePaymentTotals { count } }']) {
      const res = await t.graphql(query, {}, as(reader));
      expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
  });
});

describe('walletTransactions and walletTransactionTotals', () => {
  it("lists the company's transactions newest first and totals them per status, payment mode and currency", async () => {
    const wallet = async (merchant: MerchantCredentials, currency: string) => {
      const res = await t.graphql(
        `mutation ($merchantId: ID!, $username: String!, $currency: String) { createWallet(merchantId: $merchantId, username: $username, currency: $currency) { ... on MutationCreateWalletSuccess { data { id } } } }`,
        { merchantId: merchant.merchantId, username: `dash-${currency}`, currency },
        { authorization: operator },
      );
      return res.data.createWallet.data.id as string;
    };
    const topUp = async (merchant: MerchantCredentials, walletId: string, amount: string, paymentMode: string) =>
      (
        await ok(
          `mutation ($input: TopUpWalletInput!) { topUpWallet(input: $input) { ... on MutationTopUpWalletSuccess { data { id } } ... on AppError { code message } } }`,
          { input: { walletId, amount, txnCode: 'CIB', paymentMode } },
          merchant,
        )
      ).topUpWallet.data.id as string;
    const irr = await wallet(a, 'IRR');
    const usd = await wallet(a, 'USD');
    const x1 = await topUp(a, irr, '1000', 'CARD');
    const x2 = await topUp(a, irr, '2000', 'CARD');
    const x3 = await topUp(a, usd, '300', 'BANK');
    await topUp(b, await wallet(b, 'IRR'), '5000', 'CARD');

    const data = await ok(
      `{ walletTransactions(first: 10) { totalCount edges { node { id } } }
         usd: walletTransactions(first: 10, currency: "usd") { edges { node { id } } }
         walletTransactionTotals { kind status paymentMode currency count amount fee creditedAmount } }`,
      {},
      a,
    );
    expect(data.walletTransactions.totalCount).toBe(3);
    expect(data.walletTransactions.edges.map((edge: any) => edge.node.id)).toEqual([x3, x2, x1]);
    expect(data.usd.edges).toEqual([{ node: { id: x3 } }]);
    expect(data.walletTransactionTotals).toEqual([
      { kind: 'topup', status: 'SUCCESS', paymentMode: 'CARD', currency: 'IRR', count: 2, amount: '3000', fee: '0', creditedAmount: '3000' },
      { kind: 'topup', status: 'SUCCESS', paymentMode: 'BANK', currency: 'USD', count: 1, amount: '300', fee: '0', creditedAmount: '300' },
    ]);
  });
});

describe('chargeTotals', () => {
  it('totals the charges per status, type and currency', async () => {
    const create = async (merchant: MerchantCredentials, amount: string, type = 'NORMAL') =>
      (
        await ok(
          `mutation ($input: CreateChargeInput!) { createCharge(input: $input) { ... on MutationCreateChargeSuccess { data { id } } ... on AppError { code message } } }`,
          { input: { amount, description: 'Dash', dueDate: '2099-01-10', type, customer: { name: 'Ana' } } },
          merchant,
        )
      ).createCharge.data.id as string;
    const paid = await create(a, '1500');
    await create(a, '2500');
    await create(a, '700', 'RECURRING');
    await create(b, '9900');
    await ok(`mutation ($id: ID!) { payChargeInstallment(chargeId: $id, number: 1) { __typename } }`, { id: paid }, a);

    const { chargeTotals } = await ok(`{ chargeTotals { status type currency count amount } }`, {}, a);
    expect(chargeTotals).toEqual([
      { status: 'PAID', type: 'NORMAL', currency: 'BRL', count: 1, amount: '1500' },
      { status: 'PENDING', type: 'NORMAL', currency: 'BRL', count: 1, amount: '2500' },
      { status: 'PENDING', type: 'RECURRING', currency: 'BRL', count: 1, amount: '700' },
    ]);
  });
});
