import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { RIGHTS, SCOPES } from '../../src/auth/scopes.ts';
import { parseArgs } from '../../src/cli/args.ts';
import { findCommand } from '../../src/cli/commands.ts';
import { uuidv7 } from '../../src/lib/ids.ts';
import { walletCommands } from '../../src/modules/wallets/commands.ts';
import { customer } from '../charges/support.ts';
import { payAtGateway, startInvoicesApp } from '../invoices/support.ts';
import { createGroup, chargePath, newPhone } from '../pockets/support.ts';
import { createProvider } from '../recharge/helpers.ts';
import { token, type TestApp } from '../support/app.ts';

/** The app every hardening suite attacks: the sandbox gateway in-process, background schedules off, callbacks to loopback allowed. */
export const startHardenedApp = () =>
  startInvoicesApp({ CHARGES_SCHEDULER_INTERVAL_MS: 0, CHARGES_CALLBACK_POLL_MS: 0, CHARGES_CALLBACK_ALLOW_PRIVATE: true });

export const allPowers = { scopes: [...SCOPES], rights: [...RIGHTS] };

/** A merchant allowed everything, so that only ownership decides what it may touch. */
export const powerfulMerchant = (t: TestApp, name: string) => t.merchant({ name, ...allPowers });

async function walletCli(t: TestApp, line: string[]): Promise<any> {
  const args = parseArgs(line);
  return findCommand(walletCommands, args.positionals).run(t.app.deps.prisma, args);
}

/**
 * One merchant's objects in every domain: each identifier a client can name, obtained the way a
 * client (or an operator, for what only operators create) would.
 */
export interface Estate {
  merchant: MerchantCredentials;
  auth: string;
  groupSlug: string;
  groupId: string;
  pocketId: string;
  phoneNumber: string;
  pocketToken: string;
  providerReference: string;
  rechargePaymentId: string;
  rechargeUserId: string;
  invoiceId: string;
  paymentId: string;
  authority: string;
  paidInvoiceId: string;
  paidPaymentId: string;
  paidAuthority: string;
  chargeId: string;
  customerId: string;
  customerCpf: string;
  callbackId: string;
  walletId: string;
  walletUserId: string;
  walletUsername: string;
  walletTransactionId: string;
  walletRequestId: string;
  readyToPayToken: string;
  billingToken: string;
  eventId: string;
  idempotencyKey: string;
  credentialIds: string[];
}

export async function buildEstate(t: TestApp, name: string, operator: string): Promise<Estate> {
  const merchant = await powerfulMerchant(t, name);
  const auth = token(merchant);
  const graphql = async (query: string, variables: Record<string, unknown>, authorization = auth) => {
    const res = await t.graphql(query, variables, { authorization });
    const failure = res.errors ?? Object.values(res.data ?? {}).find((value: any) => value?.code);
    if (failure) throw new Error(`${query}: ${JSON.stringify(failure)}`);
    return res.data;
  };

  const group = await createGroup(t, merchant, { cap: 10_000_000n });
  const phoneNumber = newPhone();
  const pocketToken = uuidv7();
  const charged = await t.request('POST', chargePath(group.slug), {
    authorization: auth,
    body: { charges: [{ token: pocketToken, phone_number: phoneNumber, amount: 5000 }] },
  });
  if (charged.json?.results?.[0]?.status !== 'success') throw new Error(`pocket charge: ${charged.text}`);
  const pocket = await t.app.deps.prisma.pocket.findFirstOrThrow({ where: { groupId: group.id } });

  const providerReference = `prov-${uuidv7().slice(-8)}`;
  await createProvider(t, merchant.merchantId, providerReference);
  const rechargeUserId = String(100_000 + Math.floor(Math.random() * 900_000));
  const idempotencyKey = `key-${uuidv7()}`;
  const recharge = await graphql(
    `mutation($provider: String!, $userId: ID!, $key: String) { createRechargePayment(provider: $provider, userId: $userId, params: {amount: "7000"}, idempotencyKey: $key) {
       ... on MutationCreateRechargePaymentSuccess { data { id } } ... on AppError { code message } } }`,
    { provider: providerReference, userId: rechargeUserId, key: idempotencyKey },
  );
  const rechargePaymentId = recharge.createRechargePayment.data.id;

  const invoice = await t.request('POST', '/invoice/create', { authorization: auth, body: { totalAmount: 90_000, title: `${name} secret invoice`, mobile: null, email: null } });
  const payment = await t.request('POST', '/payment/request', {
    authorization: auth,
    body: { invoiceId: invoice.json.invoiceId, gateway: 'shepa', amount: 40_000, description: 'open', mobile: null, email: null },
  });
  if (payment.status !== 200) throw new Error(`payment request: ${payment.text}`);
  const paidInvoice = await t.request('POST', '/invoice/create', { authorization: auth, body: { totalAmount: 60_000, title: `${name} paid invoice`, mobile: null, email: null } });
  const paid = await t.request('POST', '/payment/request', {
    authorization: auth,
    body: { invoiceId: paidInvoice.json.invoiceId, gateway: 'shepa', amount: 60_000, description: 'paid', mobile: null, email: null },
  });
  await payAtGateway(paid.json.redirectUrl);
  const verified = await t.app.deps.prisma.invoicePayment.findUniqueOrThrow({ where: { id: paid.json.paymentId } });
  if (verified.state !== 'verified') throw new Error(`payment not verified: ${verified.state}`);

  const cpf = customer().cpf_cnpj as string;
  const created = await graphql(
    `mutation($input: CreateChargeInput!) { createCharge(input: $input) {
       ... on MutationCreateChargeSuccess { data { id customer { id } } } ... on AppError { code message } } }`,
    {
      input: {
        amount: '30000',
        description: `${name} charge`,
        dueDate: '2030-10-30',
        installments: 2,
        customer: { name: `${name} customer`, cpfCnpj: cpf },
        callbackUrl: 'http://127.0.0.1:9/charges',
      },
    },
  );
  const chargeId = String(created.createCharge.data.id);
  // A paid installment queues a callback delivery; the second installment stays open.
  await graphql(
    `mutation($id: ID!) { payChargeInstallment(chargeId: $id, number: 1) { ... on AppError { code message } ... on MutationPayChargeInstallmentSuccess { data { id } } } }`,
    { id: chargeId },
  );
  const chargeRow = await t.app.deps.prisma.charge.findUniqueOrThrow({ where: { id: Number(chargeId) } });
  const delivery = await t.app.deps.prisma.chargeCallbackDelivery.findFirst({ where: { merchantId: merchant.merchantId } });
  if (!delivery) throw new Error('no charge callback delivery');

  const walletUsername = `agent-${uuidv7().slice(-8)}`;
  const wallet = await graphql(
    `mutation($merchantId: ID!, $username: String!) { createWallet(merchantId: $merchantId, username: $username, userType: AGENT) {
       ... on MutationCreateWalletSuccess { data { id user { id } } } ... on AppError { code message } } }`,
    { merchantId: merchant.merchantId, username: walletUsername },
    operator,
  );
  const walletId = wallet.createWallet.data.id;
  const walletRequestId = `topup-${uuidv7()}`;
  const topUp = await graphql(
    `mutation($input: TopUpWalletInput!, $key: String) { topUpWallet(input: $input, idempotencyKey: $key) {
       ... on MutationTopUpWalletSuccess { data { id } } ... on AppError { code message } } }`,
    { input: { walletId, amount: '100000', txnCode: 'CIB', paymentMode: 'BANK' }, key: walletRequestId },
  );

  const link = await graphql(
    `mutation($input: CreateReadyToPayLinkInput!) { createReadyToPayLink(input: $input) {
       ... on MutationCreateReadyToPayLinkSuccess { data { token } } ... on AppError { code message } } }`,
    { input: { merchantId: merchant.merchantId, amount: '30000', userFullName: 'Ali', mobile: '09127778899', gateway: 'SHEPA' } },
    operator,
  );
  // The merchant's first event in the stream (numbered once the relay publishes it).
  let event = null;
  for (let waited = 0; !event && waited < 10_000; waited += 50) {
    event = await t.app.deps.prisma.event.findFirst({ where: { merchantId: merchant.merchantId, seq: { not: null } }, orderBy: { seq: 'asc' } });
    if (!event) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (!event) throw new Error('no published event');
  const credentials = await t.app.deps.prisma.credential.findMany({ where: { merchantId: merchant.merchantId }, select: { id: true } });

  await settled(t, merchant.merchantId);
  return {
    merchant,
    auth,
    groupSlug: group.slug,
    groupId: group.id,
    pocketId: pocket.id,
    phoneNumber,
    pocketToken,
    providerReference,
    rechargePaymentId,
    rechargeUserId,
    invoiceId: invoice.json.invoiceId,
    paymentId: payment.json.paymentId,
    authority: payment.json.authority,
    paidInvoiceId: paidInvoice.json.invoiceId,
    paidPaymentId: paid.json.paymentId,
    paidAuthority: paid.json.authority,
    chargeId,
    customerId: String(chargeRow.customerId),
    customerCpf: cpf,
    callbackId: delivery.id,
    walletId,
    walletUserId: wallet.createWallet.data.user.id,
    walletUsername,
    walletTransactionId: topUp.topUpWallet.data.id,
    walletRequestId,
    readyToPayToken: link.createReadyToPayLink.data.token,
    billingToken: chargeRow.paymentToken,
    eventId: event.seq!.toString(),
    idempotencyKey,
    credentialIds: credentials.map((credential) => credential.id),
  };
}

/**
 * Waits until what the estate's requests set off after answering (gateway verification, the
 * outbox relay, callback bookkeeping) has finished: two snapshots in a row are equal.
 */
export async function settled(t: TestApp, merchantId: string): Promise<void> {
  let previous = await snapshotMerchant(t, merchantId);
  for (let waited = 0; waited < 10_000; waited += 250) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const current = await snapshotMerchant(t, merchantId);
    if (current === previous) return;
    previous = current;
  }
  throw new Error('the estate did not settle within 10 s');
}

/**
 * Everything of one merchant that a request could change: every ledger account's balances, every
 * transfer, and the state of each domain object. Two snapshots are equal when nothing changed.
 */
export async function snapshotMerchant(t: TestApp, merchantId: string): Promise<string> {
  const db = t.app.deps.prisma;
  const where = { merchantId };
  const [accounts, transfers, groups, pockets, pocketCharges, providers, rechargePayments, invoices, payments, charges, installments, customers, wallets, walletTransactions, walletUsers, credentials, links, deliveries] =
    await Promise.all([
      db.ledgerAccount.findMany({ where, orderBy: { id: 'asc' } }),
      db.ledgerTransfer.findMany({ where, orderBy: { id: 'asc' } }),
      db.pocketGroup.findMany({ where, orderBy: { id: 'asc' } }),
      db.pocket.findMany({ where, orderBy: { id: 'asc' } }),
      db.pocketCharge.findMany({ where, orderBy: { id: 'asc' } }),
      db.rechargeProvider.findMany({ where, orderBy: { id: 'asc' } }),
      db.rechargePayment.findMany({ where, orderBy: { id: 'asc' } }),
      db.invoice.findMany({ where, orderBy: { id: 'asc' } }),
      // How often and when the reconciler last asked the gateway about an open payment is its own
      // business: it goes on checking A's open payments whatever the requests under test do.
      db.invoicePayment.findMany({ where, orderBy: { id: 'asc' }, omit: { checks: true, lastCheckedAt: true } }),
      db.charge.findMany({ where, orderBy: { id: 'asc' } }),
      db.chargeInstallment.findMany({ where, orderBy: { id: 'asc' } }),
      db.chargeCustomer.findMany({ where, orderBy: { id: 'asc' } }),
      db.wallet.findMany({ where, orderBy: { id: 'asc' } }),
      db.walletTransaction.findMany({ where, orderBy: { id: 'asc' } }),
      db.walletUser.findMany({ where, orderBy: { id: 'asc' } }),
      db.credential.findMany({ where, orderBy: { id: 'asc' }, select: { id: true, revokedAt: true, secretHash: true } }),
      db.readyToPayLink.findMany({ where, orderBy: { id: 'asc' } }),
      // Status, attempts and the next attempt belong to the delivery worker, which goes on sending
      // (and failing to reach) the estate's callback URL whatever the requests under test do; a
      // request that queues or redelivers a callback shows as a new row or a new retryUntil.
      db.chargeCallbackDelivery.findMany({ where, orderBy: { id: 'asc' }, select: { id: true, url: true, body: true, retryUntil: true } }),
    ]);
  return JSON.stringify(
    { accounts, transfers, groups, pockets, pocketCharges, providers, rechargePayments, invoices, payments, charges, installments, customers, wallets, walletTransactions, walletUsers, credentials, links, deliveries },
    (_, value) => (typeof value === 'bigint' ? value.toString() : value),
  );
}
