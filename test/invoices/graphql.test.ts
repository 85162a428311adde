import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { readEventLog } from '../../src/events/outbox.ts';
import { expectLedgerBalanced, TestClock, token, type TestApp } from '../support/app.ts';
import { callbackOf, followCallback, ledgerOf, payAtGateway, sandboxOf, startInvoicesApp, subscribe, wsClient } from './support.ts';

let t: TestApp;
let m: MerchantCredentials;
let other: MerchantCredentials;
let auth: string;
let operator: string;
const clients: Client[] = [];
const clock = new TestClock();

beforeAll(async () => {
  t = await startInvoicesApp({}, { clock });
  m = await t.merchant({ name: 'GraphQL shop' });
  other = await t.merchant({ name: 'Someone else' });
  auth = token(m);
  operator = await t.operator();
});
afterAll(async () => {
  for (const client of clients) await client.dispose();
  await expectLedgerBalanced(t);
  await t.stop();
});

const PAYMENT_FIELDS = 'id status reason gateway amount currency authority redirectUrl refId refundedAmount history { from to reason }';

async function createInvoice(title: string, totalAmount: string, authorization = auth) {
  const res = await t.graphql(
    `mutation($input: CreateInvoiceInput!) { createInvoice(input: $input) {
       ... on MutationCreateInvoiceSuccess { data { id title status totalAmount currency remainingAmount } }
       ... on AppError { code message field } } }`,
    { input: { title, totalAmount, mobile: '09123456789' } },
    { authorization },
  );
  return res.data.createInvoice.data as { id: string; status: string; totalAmount: string };
}

async function requestPayment(invoiceId: string, gateway: 'ZARINPAL' | 'SHEPA', amount: string, idempotencyKey?: string) {
  const res = await t.graphql(
    `mutation($input: RequestInvoicePaymentInput!, $key: String) { requestInvoicePayment(input: $input, idempotencyKey: $key) {
       ... on MutationRequestInvoicePaymentSuccess { data { ${PAYMENT_FIELDS} } }
       ... on AppError { code message field } } }`,
    { input: { invoiceId, gateway, amount }, key: idempotencyKey },
    { authorization: auth },
  );
  return { result: res.data.requestInvoicePayment, extensions: res.extensions };
}

describe('mutations and queries', () => {
  it('creates an invoice, requests a payment, and reads them back', async () => {
    const invoice = await createInvoice('Books', '250000');
    expect(invoice).toMatchObject({ title: 'Books', status: 'UNPAID', totalAmount: '250000', currency: 'IRR', remainingAmount: '250000' });

    const { result, extensions } = await requestPayment(invoice.id, 'SHEPA', '250000', `pay-${invoice.id}`);
    expect(result.data).toMatchObject({ status: 'WAITING', gateway: 'SHEPA', amount: '250000', currency: 'IRR' });
    expect(extensions?.idempotency).toEqual([{ key: `pay-${invoice.id}`, replayed: false }]);
    const replay = await requestPayment(invoice.id, 'SHEPA', '250000', `pay-${invoice.id}`);
    expect(replay.result.data.id).toBe(result.data.id);
    expect(replay.extensions?.idempotency).toEqual([{ key: `pay-${invoice.id}`, replayed: true }]);

    const read = await t.graphql(
      `query($id: ID!, $payment: ID!) {
         invoice(id: $id) { id status payments { id status } waitingPayments { id } }
         invoicePayment(id: $payment) { id status invoice { id } history { from to } }
         waitingInvoicePayments(invoiceId: $id) { id } }`,
      { id: invoice.id, payment: result.data.id },
      { authorization: auth },
    );
    expect(read.data).toEqual({
      invoice: { id: invoice.id, status: 'UNPAID', payments: [{ id: result.data.id, status: 'WAITING' }], waitingPayments: [{ id: result.data.id }] },
      invoicePayment: { id: result.data.id, status: 'WAITING', invoice: { id: invoice.id }, history: [{ from: null, to: 'CREATED' }, { from: 'CREATED', to: 'WAITING' }] },
      waitingInvoicePayments: [{ id: result.data.id }],
    });
    const unknown = await t.graphql(`{ waitingInvoicePayments(invoiceId: "nope") { id } invoice(id: "nope") { id } }`, {}, { authorization: auth });
    expect(unknown.data).toEqual({ waitingInvoicePayments: null, invoice: null });

    await payAtGateway(result.data.redirectUrl);
    const switched = await t.graphql(
      `mutation($id: ID!) { startWaitingInvoicePayment(paymentId: $id, gateway: ZARINPAL) { ... on Error { code message } } }`,
      { id: result.data.id },
      { authorization: auth },
    );
    expect(switched.data.startWaitingInvoicePayment.code).toBe('INVALID_STATE_TRANSITION');
  });

  it('answers business failures as data with codes and fields', async () => {
    const invoice = await createInvoice('Small', '5000');
    const tooMuch = await requestPayment(invoice.id, 'ZARINPAL', '6000');
    expect(tooMuch.result).toMatchObject({ code: 'VALIDATION_FAILED', field: 'amount' });
    const tooLittle = await requestPayment(invoice.id, 'ZARINPAL', '999');
    expect(tooLittle.result).toMatchObject({ code: 'VALIDATION_FAILED', field: 'amount' });
    const foreign = await t.graphql(
      `mutation($input: RequestInvoicePaymentInput!) { requestInvoicePayment(input: $input) { ... on AppError { code } } }`,
      { input: { invoiceId: invoice.id, gateway: 'ZARINPAL', amount: '5000' } },
      { authorization: token(other) },
    );
    expect(foreign.data.requestInvoicePayment.code).toBe('NOT_FOUND');
    const noCredentials = await t.graphql(`{ invoices { totalCount } }`);
    expect(noCredentials.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('lists invoices newest first, filtered and paginated, with a total count', async () => {
    const mine = await t.merchant({ name: 'Lister' });
    const ids = [];
    for (let i = 1; i <= 5; i++) {
      ids.push((await createInvoice(i % 2 ? `Odd ${i}` : `Even ${i}`, `${i * 10_000}`, token(mine))).id);
      clock.advance(1000);
    }
    const page = async (after: string | null, filter: object = {}) =>
      (
        await t.graphql(
          `query($after: String, $filter: InvoiceFilter) { invoices(first: 2, after: $after, filter: $filter) {
             totalCount pageInfo { hasNextPage endCursor } edges { node { id title } } } }`,
          { after, filter },
          { authorization: token(mine) },
        )
      ).data.invoices;
    const first = await page(null);
    expect(first.totalCount).toBe(5);
    expect(first.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([ids[4], ids[3]]);
    const second = await page(first.pageInfo.endCursor);
    expect(second.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([ids[2], ids[1]]);
    const odd = await page(null, { search: 'odd' });
    expect(odd.totalCount).toBe(3);
    const paid = await page(null, { status: ['PAID'] });
    expect(paid.totalCount).toBe(0);
  });
});

describe('subscriptions', () => {
  it('report a payment’s and an invoice’s status, and every payment change of the merchant', async () => {
    const client = wsClient(t, auth);
    clients.push(client);
    const invoice = await createInvoice('Live', '120000');
    const { result } = await requestPayment(invoice.id, 'ZARINPAL', '120000');
    const paymentId = result.data.id as string;

    type Change = { invoicePaymentStatusChanges: { eventId: string; type: string; payment: { id: string; status: string } } };
    const CHANGES = `subscription($after: ID) { invoicePaymentStatusChanges(after: $after) { eventId type payment { id status } } }`;
    const changes = subscribe<Change>(client, CHANGES, {});
    const invoiceStatus = subscribe<{ invoiceStatus: { status: string; paidAmount: string } }>(
      client,
      `subscription($id: ID!) { invoiceStatus(id: $id) { status paidAmount } }`,
      { id: invoice.id },
    );
    const paymentStatus = subscribe<{ invoicePaymentStatus: { status: string; redirectUrl: string } }>(
      client,
      `subscription($id: ID!) { invoicePaymentStatus(id: $id) { status redirectUrl } }`,
      { id: paymentId },
    );

    // Restarting the payment publishes payment.waiting: poke until both payment subscriptions are live.
    let redirectUrl = '';
    let firstChange: Change | null = null;
    for (let attempt = 0; attempt < 20 && !(redirectUrl && firstChange); attempt++) {
      await t.graphql(
        `mutation($id: ID!) { startWaitingInvoicePayment(paymentId: $id, gateway: ZARINPAL) { __typename } }`,
        { id: paymentId },
        { authorization: auth },
      );
      const seen = await paymentStatus.next(500);
      if (seen) redirectUrl = seen.invoicePaymentStatus.redirectUrl;
      // payment.created may still be on its way when the subscription starts: skip to the restart.
      for (let change = await changes.next(100); change && !firstChange; change = await changes.next(100)) {
        if (change.invoicePaymentStatusChanges.type === 'payment.waiting') firstChange = change;
      }
    }
    expect(redirectUrl).not.toBe('');
    expect(firstChange?.invoicePaymentStatusChanges).toMatchObject({ type: 'payment.waiting', payment: { id: paymentId, status: 'WAITING' } });
    for (let seen = await paymentStatus.next(0); seen; seen = await paymentStatus.next(0)) redirectUrl = seen.invoicePaymentStatus.redirectUrl;

    await payAtGateway(redirectUrl);
    let status: string | undefined = 'WAITING';
    while (status && status !== 'VERIFIED') status = (await paymentStatus.next())?.invoicePaymentStatus.status;
    expect(status).toBe('VERIFIED');
    // invoice.created may still be on its way when the subscription starts, and shows the invoice
    // as it is when delivered: skip to the payment's.
    let invoiceSeen = await invoiceStatus.next();
    while (invoiceSeen?.invoiceStatus.status === 'UNPAID') invoiceSeen = await invoiceStatus.next();
    expect(invoiceSeen).toEqual({ invoiceStatus: { status: 'PAID', paidAmount: '120000' } });

    const types: string[] = [];
    while (!types.includes('payment.verified')) {
      const change = await changes.next();
      expect(change).not.toBeNull();
      expect(change!.invoicePaymentStatusChanges.payment.id).toBe(paymentId);
      types.push(change!.invoicePaymentStatusChanges.type);
    }
    expect(types.filter((type) => type !== 'payment.waiting')).toEqual(['payment.verified']);
    expect(changes.failure).toBeNull();

    // A dashboard that reconnects with the last eventId it saw gets what it missed from the log
    // (once the relay has committed the positions of what it published).
    const after = BigInt(firstChange!.invoicePaymentStatusChanges.eventId);
    const deadline = Date.now() + 10_000;
    while (!(await readEventLog(t.app.deps.prisma, m.merchantId, after)).some((e) => e.type === 'payment.verified') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const resumed = subscribe<Change>(client, CHANGES, { after: firstChange!.invoicePaymentStatusChanges.eventId });
    const replayed: string[] = [];
    while (!replayed.includes('payment.verified')) {
      const change = await resumed.next();
      expect(change).not.toBeNull();
      replayed.push(change!.invoicePaymentStatusChanges.type);
    }
    expect(replayed.at(-1)).toBe('payment.verified');
    for (const subscription of [changes, invoiceStatus, paymentStatus, resumed]) subscription.stop();
  });

  it('refuses another merchant’s payment like an unknown one', async () => {
    const invoice = await createInvoice('Private', '10000');
    const { result } = await requestPayment(invoice.id, 'SHEPA', '10000');
    const client = wsClient(t, token(other));
    clients.push(client);
    const sub = subscribe(client, `subscription($id: ID!) { invoicePaymentStatus(id: $id) { status } }`, { id: result.data.id });
    await sub.next(3000);
    expect(JSON.stringify(sub.failure)).toContain('NOT_FOUND');
  });
});

describe('admin operations', () => {
  it('status per state and gateway for operators (all or one merchant) and merchants (their own)', async () => {
    const query = `query($merchantId: ID) { invoicePaymentsStatus(merchantId: $merchantId) {
      merchantId total { count amount } byStatus { status count } byGateway { gateway count } rows { gateway status count amount } } }`;
    const own = (await t.graphql(query, {}, { authorization: auth })).data.invoicePaymentsStatus;
    expect(own.merchantId).toBe(m.merchantId);
    const count = await t.app.deps.prisma.invoicePayment.count({ where: { merchantId: m.merchantId } });
    expect(own.total.count).toBe(count);
    expect(own.rows).toHaveLength(14);
    expect(own.byStatus.map((row: { status: string }) => row.status)).toEqual(['CREATED', 'WAITING', 'VERIFIED', 'FAILED', 'CANCELED', 'EXPIRED', 'REFUNDED']);
    const everyone = (await t.graphql(query, {}, { authorization: operator })).data.invoicePaymentsStatus;
    expect(everyone.merchantId).toBeNull();
    const scoped = (await t.graphql(query, { merchantId: m.merchantId }, { authorization: operator })).data.invoicePaymentsStatus;
    expect(scoped.total).toEqual(own.total);
  });

  it('creates ready-to-pay links and reconciles on demand, for operators only', async () => {
    const link = await t.graphql(
      `mutation($input: CreateReadyToPayLinkInput!) { createReadyToPayLink(input: $input) {
         ... on MutationCreateReadyToPayLinkSuccess { data { url token amount gateway merchantId } } ... on AppError { code field } } }`,
      { input: { merchantId: m.merchantId, amount: '30000', userFullName: 'Ali', mobile: '09127778899', gateway: 'SHEPA' } },
      { authorization: operator },
    );
    expect(link.data.createReadyToPayLink.data).toMatchObject({ amount: '30000', gateway: 'SHEPA', merchantId: m.merchantId });
    const opened = await t.request('GET', new URL(link.data.createReadyToPayLink.data.url).pathname + new URL(link.data.createReadyToPayLink.data.url).search);
    expect(opened.status).toBe(302);
    const callback = await callbackOf(opened.headers.get('location')!);
    sandboxOf(t).setScenario(callback.searchParams.get('token')!, 'verify_timeout');
    expect((await followCallback(callback)).html).toContain('Waiting for the gateway');

    const asMerchant = await t.graphql(`mutation { reconcileInvoicePayments { checked } }`, {}, { authorization: auth });
    expect(asMerchant.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const before = await ledgerOf(t, m.merchantId);
    sandboxOf(t).setScenario(callback.searchParams.get('token')!, 'success');
    clock.advance(10 * 60_000);
    const report = await t.graphql(`mutation($m: ID) { reconcileInvoicePayments(merchantId: $m) { checked verified errors } }`, { m: m.merchantId }, { authorization: operator });
    expect(report.data.reconcileInvoicePayments).toMatchObject({ verified: 1, errors: 0 });
    expect((await ledgerOf(t, m.merchantId)).merchant - before.merchant).toBe(30_000n);

    const forbidden = await t.graphql(
      `mutation($input: CreateReadyToPayLinkInput!) { createReadyToPayLink(input: $input) { __typename } }`,
      { input: { userFullName: 'Ali', mobile: '09127778899' } },
      { authorization: auth },
    );
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});
