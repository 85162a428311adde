import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/lib/ids.ts';
import { newCpf } from '../charges/support.ts';
import { bearer } from '../recharge/helpers.ts';
import { basic, expectLedgerBalanced, type TestApp } from '../support/app.ts';
import { buildEstate, snapshotMerchant, startHardenedApp, type Estate } from './support.ts';
import { documentFor, identifierPaths, openApiOperations, REST_IDENTIFIER, registeredRoutes, rootFields, type RootField } from './surface.ts';

/**
 * Tenant isolation, swept over the whole surface: merchant B names merchant A's objects in every
 * GraphQL field and REST route that takes an identifier, and must get exactly the answer it gets
 * for an identifier that does not exist, see nothing of A's, and change nothing of A's.
 *
 * The tables below say, for each field and route, how to reach it with A's identifiers. A field,
 * argument, input field or route that appears without an entry fails the sweep.
 */

type Ids = Omit<Estate, 'merchant' | 'auth' | 'credentialIds'> & { merchantId: string; credentialId: string };

interface GraphQLCase {
  /** The identifier paths (see identifierPaths) this case puts A's values in. */
  covers: string[];
  /** Variables naming `ids` (A's or nonexistent ones) where covered, and B's own objects elsewhere. */
  variables: (ids: Ids, own: Ids) => Record<string, unknown>;
  /** Who asks: B's API token by default, or B's OAuth access token. */
  as?: 'token' | 'bearer';
}

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

const idsOf = (estate: Estate): Ids => {
  const { merchant, auth: _auth, credentialIds, ...rest } = estate;
  return { ...rest, merchantId: merchant.merchantId, credentialId: credentialIds[0]! };
};

/** Identifiers of the same shapes as real ones, naming nothing. */
function nonexistent(): Ids {
  return {
    merchantId: uuidv7(),
    credentialId: uuidv7(),
    groupSlug: `no-such-group-${hex(3)}`,
    groupId: uuidv7(),
    pocketId: uuidv7(),
    phoneNumber: `98912${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`,
    pocketToken: uuidv7(),
    providerReference: `prov-${hex(4)}`,
    rechargePaymentId: uuidv7(),
    rechargeUserId: String(1_000_000 + Math.floor(Math.random() * 1e6)),
    invoiceId: randomUUID(),
    paymentId: randomUUID(),
    authority: randomBytes(30).toString('base64url').slice(0, 40),
    paidInvoiceId: randomUUID(),
    paidPaymentId: randomUUID(),
    paidAuthority: randomBytes(30).toString('base64url').slice(0, 40),
    chargeId: String(2_000_000_000 - Math.floor(Math.random() * 1e6)),
    customerId: String(2_000_000_000 - Math.floor(Math.random() * 1e6)),
    customerCpf: newCpf(),
    callbackId: `msg_${hex(16)}`,
    walletId: hex(16),
    walletUserId: hex(16),
    walletUsername: `nobody-${hex(4)}`,
    walletTransactionId: hex(16),
    walletRequestId: `topup-${uuidv7()}`,
    readyToPayToken: `rtp_${randomBytes(32).toString('base64url')}`,
    billingToken: hex(16),
    eventId: '9000000000000000000',
    idempotencyKey: `key-${uuidv7()}`,
  };
}

const topUpInput = (walletId: string, extra: Record<string, unknown> = {}) => ({ walletId, amount: '5000', txnCode: 'CIB', paymentMode: 'BANK', ...extra });

/** How to reach each GraphQL field with A's identifiers, keyed `kind.field`. */
const GRAPHQL: Record<string, GraphQLCase[]> = {
  'query.charge': [{ covers: ['id'], variables: (ids) => ({ id: ids.chargeId }) }],
  'query.chargeCustomers': [{ covers: ['cpfCnpj'], variables: (ids) => ({ cpfCnpj: ids.customerCpf }) }],
  'query.charges': [{ covers: ['customerId'], variables: (ids) => ({ customerId: ids.customerId }) }],
  'query.invoice': [{ covers: ['id'], variables: (ids) => ({ id: ids.invoiceId }) }],
  'query.invoicePayment': [{ covers: ['id'], variables: (ids) => ({ id: ids.paymentId }) }],
  'query.auditLog': [{ covers: ['merchantId', 'requestId'], variables: (ids) => ({ merchantId: ids.merchantId, requestId: ids.idempotencyKey }) }],
  'query.invoicePaymentsStatus': [{ covers: ['merchantId'], variables: (ids) => ({ merchantId: ids.merchantId }) }],
  'query.pocket': [
    { covers: ['groupSlug', 'phoneNumber'], variables: (ids) => ({ groupSlug: ids.groupSlug, phoneNumber: ids.phoneNumber }) },
    { covers: ['phoneNumber'], variables: (ids, own) => ({ groupSlug: own.groupSlug, phoneNumber: ids.phoneNumber }) },
  ],
  'query.pocketCharge': [{ covers: ['token'], variables: (ids) => ({ token: ids.pocketToken }) }],
  'query.pocketGroup': [{ covers: ['slug'], variables: (ids) => ({ slug: ids.groupSlug }) }],
  'query.rechargeBalance': [{ covers: ['userId'], variables: (ids) => ({ userId: ids.rechargeUserId, currency: 'IRR' }) }],
  'query.rechargePayment': [{ covers: ['id'], variables: (ids) => ({ id: ids.rechargePaymentId }) }],
  'query.rechargeProvider': [{ covers: ['reference'], variables: (ids) => ({ reference: ids.providerReference }) }],
  'query.waitingInvoicePayments': [{ covers: ['invoiceId'], variables: (ids) => ({ invoiceId: ids.invoiceId }) }],
  'query.wallet': [{ covers: ['id'], variables: (ids) => ({ id: ids.walletId }) }],
  'query.walletTopUpQuote': [{ covers: ['walletId'], variables: (ids) => ({ walletId: ids.walletId, amount: '5000', txnCode: 'CIB', paymentMode: 'BANK' }) }],
  'query.walletTransaction': [{ covers: ['id'], variables: (ids) => ({ id: ids.walletTransactionId }) }],
  'query.wallets': [
    { covers: ['userId'], variables: (ids) => ({ userId: ids.walletUserId }) },
    { covers: ['username'], variables: (ids) => ({ username: ids.walletUsername }) },
  ],

  'mutation.cancelInvoice': [{ covers: ['id'], variables: (ids) => ({ id: ids.invoiceId }) }],
  'mutation.chargePockets': [
    { covers: ['groupSlug'], variables: (ids) => ({ groupSlug: ids.groupSlug, charges: [{ token: uuidv7(), phoneNumber: '09120000000', amount: '10' }] }) },
    // Tokens are per merchant: A's token is a fresh one for B, in B's own group.
    {
      covers: ['charges.token', 'charges.phoneNumber'],
      variables: (ids, own) => ({ groupSlug: own.groupSlug, charges: [{ token: ids.pocketToken, phoneNumber: ids.phoneNumber, amount: '10' }] }),
    },
  ],
  'mutation.commitRechargePayment': [{ covers: ['id', 'idempotencyKey'], variables: (ids) => ({ id: ids.rechargePaymentId, idempotencyKey: ids.idempotencyKey }) }],
  'mutation.createCharge': [
    {
      covers: ['input.customerId', 'idempotencyKey'],
      variables: (ids) => ({ input: { amount: '1000', description: 'probe', dueDate: '2030-01-10', customerId: ids.customerId }, idempotencyKey: ids.idempotencyKey }),
    },
    // A's customer's CPF names a customer of B's own, created on first use.
    {
      covers: ['input.customer.cpfCnpj'],
      variables: (ids) => ({ input: { amount: '1000', description: 'probe', dueDate: '2030-01-10', customer: { name: 'Probe', cpfCnpj: ids.customerCpf } } }),
    },
    // A card token is the card processor's, not a merchant's object: with any value the processor decides.
    {
      covers: ['input.cardToken'],
      variables: (ids) => ({ input: { amount: '1000', description: 'probe', dueDate: '2030-01-10', customerId: ids.customerId, cardToken: 'tok_probe' } }),
    },
  ],
  'mutation.createInvoice': [{ covers: ['idempotencyKey'], variables: (ids) => ({ input: { title: 'probe', totalAmount: '1000' }, idempotencyKey: ids.idempotencyKey }) }],
  'mutation.createReadyToPayLink': [
    { covers: ['input.merchantId'], variables: (ids) => ({ input: { merchantId: ids.merchantId, amount: '1000', userFullName: 'Probe', mobile: '09120000000' } }) },
  ],
  'mutation.createRechargePayment': [
    { covers: ['provider', 'userId'], variables: (ids) => ({ provider: ids.providerReference, userId: ids.rechargeUserId, params: { amount: '100' } }) },
    // A's idempotency key is B's to use: it must not replay A's payment.
    {
      covers: ['idempotencyKey'],
      variables: (ids, own) => ({ provider: own.providerReference, userId: own.rechargeUserId, params: { amount: '7000' }, idempotencyKey: ids.idempotencyKey }),
    },
  ],
  'mutation.resolveInvoicePaymentRefund': [
    { covers: ['paymentId', 'reference'], variables: (ids) => ({ paymentId: ids.paidPaymentId, reference: ids.paidAuthority, outcome: 'REFUNDED' }) },
  ],
  'mutation.createWallet': [{ covers: ['merchantId', 'username'], variables: (ids) => ({ merchantId: ids.merchantId, username: ids.walletUsername }) }],
  'mutation.deactivateCharge': [{ covers: ['id'], variables: (ids) => ({ id: ids.chargeId }) }],
  'mutation.payChargeInstallment': [
    { covers: ['chargeId', 'idempotencyKey'], variables: (ids) => ({ chargeId: ids.chargeId, number: 2, idempotencyKey: ids.idempotencyKey }) },
  ],
  'mutation.reconcileInvoicePayments': [{ covers: ['merchantId'], variables: (ids) => ({ merchantId: ids.merchantId }) }],
  'mutation.redeliverChargeCallback': [{ covers: ['id'], variables: (ids) => ({ id: ids.callbackId }) }],
  'mutation.refundInvoicePayment': [{ covers: ['paymentId', 'idempotencyKey'], variables: (ids) => ({ paymentId: ids.paidPaymentId, idempotencyKey: ids.idempotencyKey }) }],
  'mutation.requestInvoicePayment': [
    {
      covers: ['input.invoiceId', 'idempotencyKey'],
      variables: (ids) => ({ input: { invoiceId: ids.invoiceId, amount: '1000', gateway: 'SHEPA' }, idempotencyKey: ids.idempotencyKey }),
    },
  ],
  'mutation.revokeCredential': [{ covers: ['id'], variables: (ids) => ({ id: ids.credentialId }) }],
  'mutation.rollbackRechargePayment': [
    { covers: ['id', 'idempotencyKey'], variables: (ids) => ({ id: ids.rechargePaymentId, reason: 'probe', idempotencyKey: ids.idempotencyKey }) },
  ],
  'mutation.startWaitingInvoicePayment': [
    { covers: ['paymentId', 'idempotencyKey'], variables: (ids) => ({ paymentId: ids.paymentId, gateway: 'ZARINPAL', idempotencyKey: ids.idempotencyKey }) },
  ],
  'mutation.topUpWallet': [
    { covers: ['input.walletId'], variables: (ids) => ({ input: topUpInput(ids.walletId) }) },
    // A's request id (the legacy wallet_topup_request_id) is B's to use: no replay of A's top-up.
    { covers: ['idempotencyKey'], variables: (ids, own) => ({ input: topUpInput(own.walletId), idempotencyKey: ids.walletRequestId }) },
    {
      covers: ['input.agent.userId', 'input.agent.walletId', 'input.agent.username'],
      variables: (ids, own) => ({ input: topUpInput(own.walletId, { agent: { userId: ids.walletUserId, walletId: ids.walletId, username: ids.walletUsername } }) }),
    },
    {
      covers: ['input.user.userId', 'input.user.walletId', 'input.user.username'],
      variables: (ids, own) => ({ input: topUpInput(own.walletId, { user: { userId: ids.walletUserId, walletId: ids.walletId, username: ids.walletUsername } }) }),
    },
  ],
  'mutation.updateCharge': [
    { covers: ['id'], variables: (ids) => ({ id: ids.chargeId, input: { description: 'taken over' } }) },
    { covers: ['input.cardToken'], variables: (ids) => ({ id: ids.chargeId, input: { cardToken: 'tok_probe' } }) },
  ],
  'mutation.updateRechargePayment': [
    { covers: ['id', 'idempotencyKey'], variables: (ids) => ({ id: ids.rechargePaymentId, description: 'taken over', idempotencyKey: ids.idempotencyKey }) },
  ],

  'subscription.chargeStatusChanged': [{ covers: ['id'], variables: (ids) => ({ id: ids.chargeId }) }],
  'subscription.events': [{ covers: ['after'], variables: (ids) => ({ after: ids.eventId }) }],
  'subscription.invoicePaymentStatus': [{ covers: ['id'], variables: (ids) => ({ id: ids.paymentId }) }],
  'subscription.invoicePaymentStatusChanges': [{ covers: ['after'], variables: (ids) => ({ after: ids.eventId }) }],
  'subscription.invoiceStatus': [{ covers: ['id'], variables: (ids) => ({ id: ids.invoiceId }) }],
  'subscription.pocketBalanceChanged': [{ covers: ['pocketId'], variables: (ids) => ({ pocketId: ids.pocketId }) }],
  'subscription.pocketCharged': [{ covers: ['groupSlug'], variables: (ids) => ({ groupSlug: ids.groupSlug }) }],
  'subscription.rechargePaymentChanged': [{ covers: ['id'], variables: (ids) => ({ id: ids.rechargePaymentId }) }],
  'subscription.rechargePaymentsChanged': [{ covers: ['provider'], variables: (ids) => ({ provider: ids.providerReference }) }],
  'subscription.walletBalanceChanged': [{ covers: ['walletId'], variables: (ids) => ({ walletId: ids.walletId }) }],
};

/** Identifier-looking arguments that name no object of a merchant, with the reason. */
const NOT_OBJECT_IDENTIFIERS: Record<string, string> = {
  'mutation.payChargeInstallment(reference)': "The merchant's own receipt number, stored as text with the payment; it names nothing.",
  'mutation.topUpWallet(input.deviceIds)': "The payer's device ids, stored verbatim with the transaction; they name nothing.",
  'POST /digipay/v3/transaction/wallet_topup txn_device_info.device_id': "The payer's device id, stored verbatim; it names nothing.",
  'POST /digipay/v3/transaction/agent_calculate_charges txn_device_info.device_id': "The payer's device id; a quote stores nothing.",
  'POST /digipay/v3/transaction/agent_calculate_charges debit_user_info.currency_id': 'A currency code.',
  'POST /digipay/v3/transaction/agent_calculate_charges credit_user_info.currency_id': 'A currency code.',
  'POST /digipay/v3/transaction/wallet_topup debit_user_info.currency_id': 'A currency code.',
  'POST /digipay/v3/transaction/wallet_topup credit_user_info.currency_id': 'A currency code.',
};

interface RestRequest {
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

type Scheme = 'token' | 'bearer' | 'basic' | 'wallet' | 'none';

interface RestCase {
  /** Parameter or body field names (from the OpenAPI document) this case puts A's values in. */
  covers: string[];
  as: Scheme;
  request: (ids: Ids, own: Ids) => RestRequest;
}

type RestEntry = { cases: RestCase[] } | { noIdentifier: string } | { capability: string } | { infrastructure: string };

const CHARGES = '/service/resources/charges';
const payments = (reference: string, ...rest: string[]) => [`/v3/rechargeProviders/${encodeURIComponent(reference)}/payments`, ...rest].join('/');

/** How to reach each REST route with A's identifiers, keyed `METHOD /path/:param` as registered. */
const REST: Record<string, RestEntry> = {
  'GET /graphql': { infrastructure: 'GraphQL: every field is swept above.' },
  'POST /graphql': { infrastructure: 'GraphQL: every field is swept above.' },
  'OPTIONS /graphql': { infrastructure: 'CORS preflight.' },
  'GET /healthz': { infrastructure: 'Liveness.' },
  'GET /readyz': { infrastructure: 'Readiness.' },
  'GET /openapi.json': { infrastructure: 'The published description of the routes.' },
  'POST /oauth/token': { noIdentifier: "A client authenticates with its own id and secret: there is no object to name." },
  'POST /badje/v1/pockets/:pocket_group_slug/charge/': {
    cases: [
      {
        covers: ['pocket_group_slug'],
        as: 'token',
        request: (ids) => ({ method: 'POST', path: `/badje/v1/pockets/${ids.groupSlug}/charge/`, body: { charges: [{ token: uuidv7(), phone_number: '09120000000', amount: 10 }] } }),
      },
      {
        covers: ['charges.token', 'token'],
        as: 'token',
        request: (ids, own) => ({ method: 'POST', path: `/badje/v1/pockets/${own.groupSlug}/charge/`, body: { charges: [{ token: ids.pocketToken, phone_number: ids.phoneNumber, amount: 10 }] } }),
      },
    ],
  },
  'GET /badje/v1/pockets/:pocket_group_slug/charge/:token/': {
    cases: [
      { covers: ['pocket_group_slug', 'token'], as: 'token', request: (ids) => ({ method: 'GET', path: `/badje/v1/pockets/${ids.groupSlug}/charge/${ids.pocketToken}/` }) },
      { covers: ['token'], as: 'token', request: (ids, own) => ({ method: 'GET', path: `/badje/v1/pockets/${own.groupSlug}/charge/${ids.pocketToken}/` }) },
    ],
  },
  'GET /v3/rechargeProviders': { noIdentifier: "Lists the caller's own providers." },
  'GET /v3/rechargeProviders/:reference/payments': {
    cases: [
      { covers: ['reference'], as: 'bearer', request: (ids) => ({ method: 'GET', path: payments(ids.providerReference) }) },
      { covers: ['userId'], as: 'bearer', request: (ids, own) => ({ method: 'GET', path: `${payments(own.providerReference)}?userId=${ids.rechargeUserId}` }) },
    ],
  },
  'POST /v3/rechargeProviders/:reference/payments': {
    cases: [
      { covers: ['reference', 'userId'], as: 'bearer', request: (ids) => ({ method: 'POST', path: payments(ids.providerReference), body: { userId: Number(ids.rechargeUserId), params: { amount: 100 } } }) },
      {
        covers: ['Idempotency-Key'],
        as: 'bearer',
        request: (ids, own) => ({
          method: 'POST',
          path: payments(own.providerReference),
          body: { userId: Number(own.rechargeUserId), params: { amount: 7000 } },
          headers: { 'idempotency-key': ids.idempotencyKey },
        }),
      },
    ],
  },
  'PATCH /v3/rechargeProviders/:reference/payments/:id': {
    cases: [
      {
        covers: ['reference', 'id', 'Idempotency-Key'],
        as: 'bearer',
        request: (ids) => ({ method: 'PATCH', path: payments(ids.providerReference, ids.rechargePaymentId), body: { description: 'taken over' }, headers: { 'idempotency-key': ids.idempotencyKey } }),
      },
      { covers: ['id'], as: 'bearer', request: (ids, own) => ({ method: 'PATCH', path: payments(own.providerReference, ids.rechargePaymentId), body: { description: 'taken over' } }) },
    ],
  },
  'POST /v3/rechargeProviders/:reference/payments/:id/commit': {
    cases: [
      {
        covers: ['reference', 'id', 'Idempotency-Key'],
        as: 'bearer',
        request: (ids) => ({ method: 'POST', path: payments(ids.providerReference, ids.rechargePaymentId, 'commit'), headers: { 'idempotency-key': ids.idempotencyKey } }),
      },
      { covers: ['id'], as: 'bearer', request: (ids, own) => ({ method: 'POST', path: payments(own.providerReference, ids.rechargePaymentId, 'commit') }) },
    ],
  },
  'POST /v3/rechargeProviders/:reference/payments/:id/rollback': {
    cases: [
      {
        covers: ['reference', 'id', 'Idempotency-Key'],
        as: 'bearer',
        request: (ids) => ({ method: 'POST', path: payments(ids.providerReference, ids.rechargePaymentId, 'rollback'), body: { reason: 'probe' }, headers: { 'idempotency-key': ids.idempotencyKey } }),
      },
      { covers: ['id'], as: 'bearer', request: (ids, own) => ({ method: 'POST', path: payments(own.providerReference, ids.rechargePaymentId, 'rollback'), body: { reason: 'probe' } }) },
    ],
  },
  'POST /invoice/create': {
    cases: [
      {
        covers: ['Idempotency-Key'],
        as: 'token',
        request: (ids) => ({ method: 'POST', path: '/invoice/create', body: { totalAmount: 1000, title: 'probe', mobile: null, email: null }, headers: { 'idempotency-key': ids.idempotencyKey } }),
      },
    ],
  },
  'GET /invoice/getInfo': { cases: [{ covers: ['invoiceId'], as: 'token', request: (ids) => ({ method: 'GET', path: `/invoice/getInfo?invoiceId=${ids.invoiceId}` }) }] },
  'POST /invoice/getWaitingPayments': { cases: [{ covers: ['invoiceId'], as: 'token', request: (ids) => ({ method: 'POST', path: '/invoice/getWaitingPayments', body: { invoiceId: ids.invoiceId } }) }] },
  'POST /payment/request': {
    cases: [
      {
        covers: ['invoiceId', 'Idempotency-Key'],
        as: 'token',
        request: (ids) => ({
          method: 'POST',
          path: '/payment/request',
          body: { invoiceId: ids.invoiceId, gateway: 'shepa', amount: 1000, description: null, mobile: null, email: null },
          headers: { 'idempotency-key': ids.idempotencyKey },
        }),
      },
    ],
  },
  'GET /payment/status': { cases: [{ covers: ['paymentId'], as: 'token', request: (ids) => ({ method: 'GET', path: `/payment/status?paymentId=${ids.paymentId}` }) }] },
  'POST /payment/refund': {
    cases: [
      { covers: ['authority', 'invoiceId'], as: 'token', request: (ids) => ({ method: 'POST', path: '/payment/refund', body: { authority: ids.paidAuthority, invoiceId: ids.paidInvoiceId } }) },
      { covers: ['authority'], as: 'token', request: (ids, own) => ({ method: 'POST', path: '/payment/refund', body: { authority: ids.paidAuthority, invoiceId: own.paidInvoiceId } }) },
    ],
  },
  'POST /payment/startWaiting': {
    cases: [{ covers: ['paymentId'], as: 'token', request: (ids) => ({ method: 'POST', path: '/payment/startWaiting', body: { paymentId: ids.paymentId, gateway: 'zarinpal' } }) }],
  },
  'GET /payment/readyToPay': { capability: 'The link token is the capability the operator hands to a payer; no merchant credential is involved.' },
  'GET /payment/callback/:gateway': { capability: "The gateway's redirect of the payer; verified server-to-server against the payment's own authority." },
  'GET /payment/result': { capability: "The payer's result page, reached by the payment's unguessable id; no merchant credential is involved." },
  'POST /admin/payment/getReadyToPayLink': {
    cases: [
      { covers: ['merchantId'], as: 'token', request: (ids) => ({ method: 'POST', path: '/admin/payment/getReadyToPayLink', body: { merchantId: ids.merchantId, amount: 1000, userFullName: 'Probe', mobile: '09120000000' } }) },
    ],
  },
  'GET /admin/payment/allPaymentsStatus': { cases: [{ covers: ['merchantId'], as: 'token', request: (ids) => ({ method: 'GET', path: `/admin/payment/allPaymentsStatus?merchantId=${ids.merchantId}` }) }] },
  'POST /digipay/v3/transaction/agent_calculate_charges': {
    cases: [
      {
        covers: ['wallet_id', 'meta_data.wallet_topup_request_id'],
        as: 'wallet',
        request: (ids) => ({
          method: 'POST',
          path: '/digipay/v3/transaction/agent_calculate_charges',
          body: { wallet_id: ids.walletId, txn_amount: 100, txn_code: 'CIB', payment_mode: 2, meta_data: { wallet_topup_request_id: ids.walletRequestId } },
        }),
      },
      {
        covers: ['debit_user_info.wallet_id', 'debit_user_info.user_id', 'debit_user_info.username', 'credit_user_info.wallet_id', 'credit_user_info.user_id', 'credit_user_info.username'],
        as: 'wallet',
        request: (ids, own) => ({
          method: 'POST',
          path: '/digipay/v3/transaction/agent_calculate_charges',
          body: {
            wallet_id: own.walletId,
            txn_amount: 100,
            txn_code: 'CIB',
            payment_mode: 2,
            debit_user_info: { wallet_id: ids.walletId, user_id: ids.walletUserId, username: ids.walletUsername },
            credit_user_info: { wallet_id: ids.walletId, user_id: ids.walletUserId, username: ids.walletUsername },
          },
        }),
      },
    ],
  },
  'POST /digipay/v3/transaction/wallet_topup': {
    cases: [
      { covers: ['wallet_id'], as: 'wallet', request: (ids) => ({ method: 'POST', path: '/digipay/v3/transaction/wallet_topup', body: { wallet_id: ids.walletId, txn_amount: 100, txn_code: 'CIB', payment_mode: 2 } }) },
      {
        covers: ['meta_data.wallet_topup_request_id', 'wallet_topup_request_id'],
        as: 'wallet',
        request: (ids, own) => ({
          method: 'POST',
          path: '/digipay/v3/transaction/wallet_topup',
          body: { wallet_id: own.walletId, txn_amount: 100, txn_code: 'CIB', payment_mode: 2, meta_data: { wallet_topup_request_id: ids.walletRequestId } },
        }),
      },
      {
        covers: ['debit_user_info.wallet_id', 'debit_user_info.user_id', 'debit_user_info.username'],
        as: 'wallet',
        request: (ids, own) => ({
          method: 'POST',
          path: '/digipay/v3/transaction/wallet_topup',
          body: { wallet_id: own.walletId, txn_amount: 100, txn_code: 'CIB', payment_mode: 2, debit_user_info: { wallet_id: ids.walletId, user_id: ids.walletUserId, username: ids.walletUsername } },
        }),
      },
      {
        covers: ['credit_user_info.wallet_id', 'credit_user_info.user_id', 'credit_user_info.username'],
        as: 'wallet',
        request: (ids, own) => ({
          method: 'POST',
          path: '/digipay/v3/transaction/wallet_topup',
          body: { wallet_id: own.walletId, txn_amount: 100, txn_code: 'CIB', payment_mode: 2, credit_user_info: { wallet_id: ids.walletId, user_id: ids.walletUserId, username: ids.walletUsername } },
        }),
      },
    ],
  },
  'POST /service/resources/charges': {
    cases: [
      {
        covers: ['Idempotency-Key', 'customer.cpf_cnpj', 'card_token'],
        as: 'basic',
        request: (ids) => ({
          method: 'POST',
          path: CHARGES,
          body: { amount: 10.0, description: 'probe', due_date: '10/01/2030', customer: { name: 'Probe', cpf_cnpj: ids.customerCpf } },
          headers: { 'idempotency-key': ids.idempotencyKey },
        }),
      },
    ],
  },
  'PUT /service/resources/charges': {
    cases: [{ covers: ['id', 'card_token'], as: 'basic', request: (ids) => ({ method: 'PUT', path: `${CHARGES}?id=${ids.chargeId}`, body: { description: 'taken over' } }) }],
  },
  'GET /service/resources/charges': { cases: [{ covers: ['id'], as: 'basic', request: (ids) => ({ method: 'GET', path: `${CHARGES}?id=${ids.chargeId}` }) }] },
  'GET /dashboard': { infrastructure: 'The dashboard page: static files, the same for everyone; its data comes through GraphQL.' },
  'GET /dashboard/': { infrastructure: 'The dashboard page: static files, the same for everyone; its data comes through GraphQL.' },
  'GET /dashboard/assets/:name': { infrastructure: "The dashboard's built scripts and styles, named by their content hash; no merchant data." },
  'GET /vpos': { capability: "The charge's payment link: its unguessable billing token is what the merchant hands to the payer." },
  'POST /vpos': { capability: "Paying through the charge's payment link: the billing token is the capability." },
};

let t: TestApp;
let victim: Estate;
let attacker: Estate;
let a: Ids;
let own: Ids;
let auth: Record<Scheme, Record<string, string>>;

beforeAll(async () => {
  t = await startHardenedApp();
  const operator = await t.operator();
  // The attacker's objects first: A's events then all come after B's, so an event cursor of A's can only reveal A's.
  attacker = await buildEstate(t, 'Intruder', operator);
  victim = await buildEstate(t, 'Victim', operator);
  a = idsOf(victim);
  own = idsOf(attacker);
  const b = attacker.merchant;
  auth = {
    token: { authorization: attacker.auth },
    bearer: { authorization: await bearer(t, b) },
    basic: { authorization: basic(b.basicKey, b.basicSecret) },
    wallet: { authorization: attacker.auth, companyid: b.companyId },
    none: {},
  };
}, 120_000);

afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

const usesKey = (covers: string[]) => covers.some((name) => /idempotency|request_id/i.test(name));

/**
 * A's identifiers for one case. An idempotency key is spent by its first use, so a case probing
 * keys gets a key of A's own that B has never seen: A tops up its wallet with it (which records it
 * both as an idempotency key and as the legacy wallet_topup_request_id).
 */
async function victimIds(covers: string[]): Promise<Ids> {
  let ids = a;
  if (usesKey(covers)) {
    const key = `key-${uuidv7()}`;
    const res = await t.graphql(
      `mutation($input: TopUpWalletInput!, $key: String) { topUpWallet(input: $input, idempotencyKey: $key) { __typename } }`,
      { input: topUpInput(a.walletId), key },
      { authorization: victim.auth },
    );
    expect(res.data.topUpWallet.__typename).toBe('MutationTopUpWalletSuccess');
    ids = { ...ids, idempotencyKey: key, walletRequestId: key };
  }
  // Pocket tokens and customers' CPFs are per merchant too: B's first use of one creates B's own.
  if (covers.some((name) => /(^|\.)token$/.test(name))) {
    const pocketToken = uuidv7();
    const res = await t.request('POST', `/badje/v1/pockets/${a.groupSlug}/charge/`, {
      authorization: victim.auth,
      body: { charges: [{ token: pocketToken, phone_number: a.phoneNumber, amount: 1 }] },
    });
    expect(res.json.results[0].status).toBe('success');
    ids = { ...ids, pocketToken };
  }
  if (covers.some((name) => /cpf/i.test(name))) {
    const customerCpf = newCpf();
    const res = await t.graphql(
      `mutation($input: CreateChargeInput!) { createCharge(input: $input) { __typename } }`,
      { input: { amount: '1000', description: 'Victim charge', dueDate: '2030-01-10', customer: { name: 'Victim customer', cpfCnpj: customerCpf } } },
      { authorization: victim.auth },
    );
    expect(res.data.createCharge.__typename).toBe('MutationCreateChargeSuccess');
    ids = { ...ids, customerCpf };
  }
  return ids;
}

/**
 * An event cursor is a stream position, not an object: the nonexistent counterpart of A's first
 * event is the last position before it that is not A's, so that B's own events after either are the same.
 */
async function neighbourCursor(): Promise<string> {
  const before = await t.app.deps.prisma.event.findFirst({
    where: { seq: { lt: BigInt(a.eventId) }, merchantId: { not: a.merchantId } },
    orderBy: { seq: 'desc' },
  });
  return (before?.seq ?? 0n).toString();
}

/** The answer with every identifier replaced by its role, and identifiers minted by the request by a placeholder. */
function normalize(text: string, names: Ids[]): unknown {
  let normalized = text;
  for (const ids of names) {
    for (const [role, value] of Object.entries(ids)) {
      // A key and a legacy request id may be one value: one placeholder for both roles.
      const placeholder = role === 'walletRequestId' ? 'idempotencyKey' : role;
      if (typeof value === 'string' && value.length >= 6) normalized = normalized.split(value).join(`<${placeholder}>`);
    }
  }
  normalized = normalized
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<new id>')
    .replace(/\b[0-9a-f]{32}\b/g, '<new id>')
    .replace(/"\d{1,10}"/g, '"<new number>"')
    .replace(/"id":\d+/g, '"id":"<new number>"')
    .replace(/\b\d{3}\.\d{3}\.\d{3}-\d{2}\b/g, '<cpf>')
    .replace(/\b20\d\d-\d\d-\d\d[T ][\d:.]+Z?/g, '<time>');
  try {
    return JSON.parse(normalized);
  } catch {
    return normalized;
  }
}

async function subscriptionAnswer(document: string, variables: Record<string, unknown>, headers: Record<string, string>): Promise<string> {
  const controller = new AbortController();
  const response = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query: document, variables }),
    signal: controller.signal,
  });
  let text = `${response.status}\n`;
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const deadline = setTimeout(() => controller.abort(), 800);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
  } catch {
    // Aborted at the deadline: what came so far is the answer.
  } finally {
    clearTimeout(deadline);
  }
  // Keep-alive pings carry no information.
  return text.replace(/^:.*\n\n?/gm, '');
}

describe('GraphQL', () => {
  const fields = rootFields();

  it('has an entry for every field taking an identifier, covering every identifier argument and input field', () => {
    const missing: string[] = [];
    for (const root of fields) {
      const paths = identifierPaths(root.field.args);
      if (paths.length === 0) continue;
      const cases = GRAPHQL[`${root.kind}.${root.name}`];
      const covered = new Set((cases ?? []).flatMap((entry) => entry.covers));
      for (const path of paths) {
        const key = `${root.kind}.${root.name}(${path})`;
        if (!covered.has(path) && !(key in NOT_OBJECT_IDENTIFIERS)) missing.push(key);
      }
    }
    expect(missing, 'identifier arguments without an isolation case').toEqual([]);
    const known = new Set(fields.map((root) => `${root.kind}.${root.name}`));
    expect(Object.keys(GRAPHQL).filter((key) => !known.has(key)), 'entries for fields that no longer exist').toEqual([]);
  });

  const keyed = (root: RootField) => `${root.kind}.${root.name}`;
  for (const root of rootFields().filter((field) => GRAPHQL[keyed(field)])) {
    GRAPHQL[keyed(root)]!.forEach((entry, index) => {
      it(`${keyed(root)} #${index + 1} (${entry.covers.join(', ')}) answers B for A's identifiers as for nonexistent ones`, async () => {
        const missing = nonexistent();
        if (entry.covers.includes('after')) missing.eventId = await neighbourCursor();
        const victimsIds = await victimIds(entry.covers);
        const headers = auth[entry.as ?? 'token'];
        // Reads cannot write; the snapshot (a dozen queries) is taken around what may.
        const writes = root.kind === 'mutation';
        const before = writes ? await snapshotMerchant(t, a.merchantId) : '';
        const ask = async (ids: Ids) => {
          const variables = entry.variables(ids, own);
          const document = documentFor(root, variables);
          if (root.kind === 'subscription') return subscriptionAnswer(document, variables, headers);
          const response = await t.request('POST', '/graphql', { headers, body: { query: document, variables } });
          return `${response.status}\n${response.text}`;
        };
        const withA = await ask(victimsIds);
        const withNothing = await ask(missing);
        expect(withA).not.toContain('Victim');
        expect(withA).not.toContain(a.merchantId);
        expect(normalize(withA, [victimsIds, own])).toEqual(normalize(withNothing, [missing, own]));
        if (writes) expect(await snapshotMerchant(t, a.merchantId), "A's objects, balances and ledger").toBe(before);
      });
    });
  }
});

describe('REST', () => {
  it('has an entry for every registered route, and the OpenAPI document describes every one', async () => {
    const routes = registeredRoutes(t);
    expect(routes.filter((route) => !(route in REST)), 'routes without an isolation entry').toEqual([]);
    expect(Object.keys(REST).filter((key) => !routes.includes(key)), 'entries for routes that no longer exist').toEqual([]);
    const operations = await openApiOperations(t);
    const documented = operations.map((operation) => operation.key);
    const legacy = routes.filter((route) => !('infrastructure' in REST[route]!));
    expect(legacy.filter((route) => !documented.includes(route)), 'routes missing from /openapi.json').toEqual([]);
  });

  it('covers every identifier parameter and body field the OpenAPI document names', async () => {
    const uncovered: string[] = [];
    for (const operation of await openApiOperations(t)) {
      const entry = REST[operation.key];
      if (!entry || !('cases' in entry)) continue;
      const covered = new Set(entry.cases.flatMap((item) => item.covers.map((name) => name.toLowerCase())));
      const names = [...operation.parameters.filter((parameter) => parameter.in !== 'header' || /idempotency/i.test(parameter.name)).map((parameter) => parameter.name), ...operation.bodyFields];
      for (const name of names) {
        const key = `${operation.key} ${name}`;
        if (REST_IDENTIFIER.test(name.split('.').pop()!) && !covered.has(name.toLowerCase()) && !(key in NOT_OBJECT_IDENTIFIERS)) uncovered.push(key);
      }
    }
    expect(uncovered, 'identifier parameters without an isolation case').toEqual([]);
  });

  for (const [key, entry] of Object.entries(REST)) {
    if (!('cases' in entry)) continue;
    entry.cases.forEach((item, index) => {
      it(`${key} #${index + 1} (${item.covers.join(', ')}) answers B for A's identifiers as for nonexistent ones`, async () => {
        const missing = nonexistent();
        const victimsIds = await victimIds(item.covers);
        const before = await snapshotMerchant(t, a.merchantId);
        const ask = async (ids: Ids) => {
          const request = item.request(ids, own);
          const response = await t.request(request.method, request.path, { headers: { ...auth[item.as], ...request.headers }, body: request.body });
          return `${response.status}\n${response.text}`;
        };
        const withA = await ask(victimsIds);
        const withNothing = await ask(missing);
        expect(withA).not.toContain('Victim');
        expect(withA).not.toContain(a.merchantId);
        expect(normalize(withA, [victimsIds, own])).toEqual(normalize(withNothing, [missing, own]));
        expect(await snapshotMerchant(t, a.merchantId), "A's objects, balances and ledger").toBe(before);
      });
    });
  }
});
