/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type ChargeInstallmentStatus =
  | 'CANCELED'
  | 'OVERDUE'
  | 'PAID'
  | 'PENDING';

export type ChargeInterval =
  | 'DAY'
  | 'MONTH'
  | 'WEEK';

export type ChargePaymentMethod =
  /** The scheduler debited the card on file on the due date. */
  | 'AUTO_DEBIT'
  /** The merchant recorded a payment received elsewhere (payChargeInstallment). */
  | 'EXTERNAL'
  /** The payer paid by card through the charge's payment link. */
  | 'PAYMENT_LINK';

/** Worked out from the installments and the calendar; see docs/charges.md for the rules. */
export type ChargeStatus =
  /** Deactivated before it was paid in full. */
  | 'CANCELED'
  /** Recurring: the last occurrence (last_charge_date) is issued and everything is paid. */
  | 'FINISHED'
  /** An installment is past its due date and unpaid. */
  | 'OVERDUE'
  /** Normal: every installment paid. Recurring: every occurrence issued so far is paid. */
  | 'PAID'
  /** Normal: some installments paid, none overdue. */
  | 'PARTIALLY_PAID'
  /** Nothing overdue; nothing paid yet (normal), or an issued occurrence awaits payment (recurring). */
  | 'PENDING';

export type ChargeType =
  | 'NORMAL'
  | 'RECURRING';

/** created -> waiting (the payer was sent to the gateway) -> verified (confirmed server-to-server) | failed | canceled | expired; verified -> refunded. */
export type InvoicePaymentStatus =
  | 'CANCELED'
  | 'CREATED'
  | 'EXPIRED'
  | 'FAILED'
  | 'REFUNDED'
  | 'VERIFIED'
  | 'WAITING';

/** Follows from the money: refunded ones once anything was refunded, else by the verified sum. */
export type InvoiceStatus =
  | 'CANCELED'
  | 'PAID'
  | 'PARTIALLY_PAID'
  | 'PARTIALLY_REFUNDED'
  | 'REFUNDED'
  | 'UNPAID';

/** The payment gateways invoices are paid through. */
export type PaymentGateway =
  | 'SHEPA'
  | 'ZARINPAL';

/** Why one charge of a batch failed. */
export type PocketChargeFailure =
  /** The amount is above the limit of 10000000000 per charge. */
  | 'AMOUNT_TOO_LARGE'
  /** The pocket group's spending cap leaves no room for this charge. */
  | 'CAP_EXCEEDED'
  /** This token was already used; every charge needs a new token. */
  | 'DUPLICATE_TOKEN'
  /** The amount must be a positive whole number (minor units, rials for IRR). */
  | 'INVALID_AMOUNT'
  /** The phone number is not a valid Iranian mobile number, such as 989120000000 or 09120000000. */
  | 'INVALID_PHONE_NUMBER'
  /** The token must be a UUID version 7 (RFC 9562), e.g. 01988f7a-d22b-7c3d-977f-27af99c2a5a5. */
  | 'INVALID_TOKEN';

export type PocketChargeStatus =
  | 'ERROR'
  | 'SUCCESS';

export type RechargePaymentState =
  /** Posted: the amount is in the user's balance. */
  | 'COMMITTED'
  /** Created; the amount is reserved for the user but not in their balance. */
  | 'PENDING'
  /** Voided, by request or by expiry (reason `expired`). */
  | 'ROLLED_BACK';

/** Where the money of a top-up comes from (the legacy `payment_mode`). */
export type WalletPaymentMode =
  /** A bank account or transfer (legacy 2). */
  | 'BANK'
  /** A debit or credit card (legacy 1). */
  | 'CARD';

/** The legacy `txn_status`. Top-ups are recorded only once they succeeded, so they are SUCCESS. */
export type WalletTransactionStatus =
  /** Legacy 2: refused; nothing moved (not produced by top-ups: a refused top-up is not recorded). */
  | 'FAILED'
  /** Legacy 0: not final yet (not produced by top-ups). */
  | 'PENDING'
  /** Legacy 3: undone by a later transaction (no reversal exists yet). */
  | 'REVERSED'
  /** Legacy 1: the money moved. */
  | 'SUCCESS';

export type WalletUserType =
  /** A company admin, who performs top-ups (legacy `user_type` 1). */
  | 'AGENT'
  /** A company user (legacy `user_type` 2). */
  | 'USER';

export type InvoicePaymentDetailsQueryVariables = Exact<{
  id: string | number;
}>;


export type InvoicePaymentDetailsQuery = { invoicePayment: { description: string, mobile: string | null, email: string | null, reason: string | null, note: string | null, authority: string | null, refId: string | null, cardPan: string | null, refundedAmount: string, refundableAmount: string, verifiedAt: string | null, id: string, status: InvoicePaymentStatus, gateway: PaymentGateway, amount: string, currency: string, createdAt: string, updatedAt: string, invoice: { id: string, title: string, status: InvoiceStatus, totalAmount: string, paidAmount: string, remainingAmount: string }, history: Array<{ at: string, from: InvoicePaymentStatus | null, to: InvoicePaymentStatus, reason: string }> } | null };

export type ChargeDetailsQueryVariables = Exact<{
  id: string | number;
}>;


export type ChargeDetailsQuery = { charge: { interval: ChargeInterval, frequency: number, installmentCount: number, dueDate: string, isActive: boolean, autoDebit: boolean, paymentLink: string, id: string, status: ChargeStatus, type: ChargeType, amount: string, currency: string, description: string, createdAt: string, updatedAt: string, customer: { name: string, email: string | null }, installments: Array<{ number: number, dueDate: string, amount: string, paidAmount: string, remaining: string, status: ChargeInstallmentStatus, paidAt: string | null, paymentMethod: ChargePaymentMethod | null }> } | null };

export type PocketChargeDetailsQueryVariables = Exact<{
  token: string;
}>;


export type PocketChargeDetailsQuery = { pocketCharge: { id: string, token: string, status: PocketChargeStatus, failure: PocketChargeFailure | null, amount: string | null, phoneNumber: string, createdAt: string, pocket: { id: string, phoneNumber: string, balance: string } | null, group: { slug: string, name: string | null, currency: string, cap: string | null, spent: string, remaining: string | null } } | null };

export type RechargePaymentDetailsQueryVariables = Exact<{
  id: string | number;
}>;


export type RechargePaymentDetailsQuery = { rechargePayment: { userId: string, description: string, params: unknown, reason: string | null, expired: boolean, expiresAt: string, committedAt: string | null, rolledBackAt: string | null, id: string, paymentNo: number, state: RechargePaymentState, amount: string, currency: string, createdAt: string, updatedAt: string, provider: { reference: string, name: string } } | null };

export type WalletTopUpDetailsQueryVariables = Exact<{
  id: string | number;
}>;


export type WalletTopUpDetailsQuery = { walletTransaction: { txnNumber: string, note: string | null, requestId: string | null, id: string, kind: string, status: WalletTransactionStatus, paymentMode: WalletPaymentMode, amount: string, fee: string, creditedAmount: string, currency: string, txnCode: string, createdAt: string, charges: Array<{ ruleId: string, txnCode: string, percentBasisPoints: number, fixed: string, amount: string }>, wallet: { id: string, currency: string, balance: string, user: { username: string, type: WalletUserType } } } | null };

export type InvoicePaymentRowFragment = { id: string, status: InvoicePaymentStatus, gateway: PaymentGateway, amount: string, currency: string, createdAt: string, updatedAt: string, invoice: { id: string, title: string } };

export type ChargeRowFragment = { id: string, status: ChargeStatus, type: ChargeType, amount: string, currency: string, description: string, createdAt: string, updatedAt: string, customer: { name: string } };

export type PocketChargeRowFragment = { id: string, token: string, status: PocketChargeStatus, failure: PocketChargeFailure | null, amount: string | null, phoneNumber: string, createdAt: string, group: { slug: string, currency: string } };

export type RechargePaymentRowFragment = { id: string, paymentNo: number, state: RechargePaymentState, amount: string, currency: string, createdAt: string, updatedAt: string, provider: { reference: string } };

export type WalletTopUpRowFragment = { id: string, kind: string, status: WalletTransactionStatus, paymentMode: WalletPaymentMode, amount: string, fee: string, creditedAmount: string, currency: string, txnCode: string, createdAt: string, wallet: { id: string, user: { username: string } } };

export type InvoicePaymentRowByIdQueryVariables = Exact<{
  id: string | number;
}>;


export type InvoicePaymentRowByIdQuery = { invoicePayment: { id: string, status: InvoicePaymentStatus, gateway: PaymentGateway, amount: string, currency: string, createdAt: string, updatedAt: string, invoice: { id: string, title: string } } | null };

export type ChargeRowByIdQueryVariables = Exact<{
  id: string | number;
}>;


export type ChargeRowByIdQuery = { charge: { id: string, status: ChargeStatus, type: ChargeType, amount: string, currency: string, description: string, createdAt: string, updatedAt: string, customer: { name: string } } | null };

export type PocketChargeRowByTokenQueryVariables = Exact<{
  token: string;
}>;


export type PocketChargeRowByTokenQuery = { pocketCharge: { id: string, token: string, status: PocketChargeStatus, failure: PocketChargeFailure | null, amount: string | null, phoneNumber: string, createdAt: string, group: { slug: string, currency: string } } | null };

export type RechargePaymentRowByIdQueryVariables = Exact<{
  id: string | number;
}>;


export type RechargePaymentRowByIdQuery = { rechargePayment: { id: string, paymentNo: number, state: RechargePaymentState, amount: string, currency: string, createdAt: string, updatedAt: string, provider: { reference: string } } | null };

export type WalletTopUpRowByIdQueryVariables = Exact<{
  id: string | number;
}>;


export type WalletTopUpRowByIdQuery = { walletTransaction: { id: string, kind: string, status: WalletTransactionStatus, paymentMode: WalletPaymentMode, amount: string, fee: string, creditedAmount: string, currency: string, txnCode: string, createdAt: string, wallet: { id: string, user: { username: string } } } | null };

export type DashboardViewerQueryVariables = Exact<{ [key: string]: never; }>;


export type DashboardViewerQuery = { viewer: { scopes: Array<string>, rights: Array<string>, merchant: { id: string, name: string } } };

export type DashboardLatestEventIdQueryVariables = Exact<{ [key: string]: never; }>;


export type DashboardLatestEventIdQuery = { latestEventId: string | null };

export type InvoicePaymentsSectionQueryVariables = Exact<{
  first: number;
}>;


export type InvoicePaymentsSectionQuery = { invoicePayments: { totalCount: number, edges: Array<{ node: { id: string, status: InvoicePaymentStatus, gateway: PaymentGateway, amount: string, currency: string, createdAt: string, updatedAt: string, invoice: { id: string, title: string } } }> }, invoicePaymentsStatus: { rows: Array<{ gateway: PaymentGateway | null, status: InvoicePaymentStatus | null, count: number, amount: string }> } };

export type ChargesSectionQueryVariables = Exact<{
  first: number;
}>;


export type ChargesSectionQuery = { charges: { totalCount: number, edges: Array<{ node: { id: string, status: ChargeStatus, type: ChargeType, amount: string, currency: string, description: string, createdAt: string, updatedAt: string, customer: { name: string } } }> }, chargeTotals: Array<{ status: ChargeStatus, type: ChargeType, currency: string, count: number, amount: string }> };

export type PocketChargesSectionQueryVariables = Exact<{
  first: number;
}>;


export type PocketChargesSectionQuery = { pocketCharges: { totalCount: number, edges: Array<{ node: { id: string, token: string, status: PocketChargeStatus, failure: PocketChargeFailure | null, amount: string | null, phoneNumber: string, createdAt: string, group: { slug: string, currency: string } } }> }, pocketChargeTotals: Array<{ currency: string, status: PocketChargeStatus, count: number, amount: string, group: { slug: string } }> };

export type RechargePaymentsSectionQueryVariables = Exact<{
  first: number;
}>;


export type RechargePaymentsSectionQuery = { rechargePayments: { totalCount: number, edges: Array<{ node: { id: string, paymentNo: number, state: RechargePaymentState, amount: string, currency: string, createdAt: string, updatedAt: string, provider: { reference: string } } }> }, rechargePaymentTotals: Array<{ currency: string, state: RechargePaymentState, count: number, amount: string, provider: { reference: string } }> };

export type WalletTopUpsSectionQueryVariables = Exact<{
  first: number;
}>;


export type WalletTopUpsSectionQuery = { walletTransactions: { totalCount: number, edges: Array<{ node: { id: string, kind: string, status: WalletTransactionStatus, paymentMode: WalletPaymentMode, amount: string, fee: string, creditedAmount: string, currency: string, txnCode: string, createdAt: string, wallet: { id: string, user: { username: string } } } }> }, walletTransactionTotals: Array<{ kind: string, status: WalletTransactionStatus, paymentMode: WalletPaymentMode, currency: string, count: number, amount: string }> };

export type DashboardEventsSubscriptionVariables = Exact<{
  after?: string | number | null | undefined;
}>;


export type DashboardEventsSubscription = { events: { id: string, type: string, objectId: string, occurredAt: string, data: unknown } };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const InvoicePaymentRowFragmentDoc = new TypedDocumentString(`
    fragment InvoicePaymentRow on InvoicePayment {
  id
  status
  gateway
  amount
  currency
  createdAt
  updatedAt
  invoice {
    id
    title
  }
}
    `, {"fragmentName":"InvoicePaymentRow"}) as unknown as TypedDocumentString<InvoicePaymentRowFragment, unknown>;
export const ChargeRowFragmentDoc = new TypedDocumentString(`
    fragment ChargeRow on Charge {
  id
  status
  type
  amount
  currency
  description
  createdAt
  updatedAt
  customer {
    name
  }
}
    `, {"fragmentName":"ChargeRow"}) as unknown as TypedDocumentString<ChargeRowFragment, unknown>;
export const PocketChargeRowFragmentDoc = new TypedDocumentString(`
    fragment PocketChargeRow on PocketCharge {
  id
  token
  status
  failure
  amount
  phoneNumber
  createdAt
  group {
    slug
    currency
  }
}
    `, {"fragmentName":"PocketChargeRow"}) as unknown as TypedDocumentString<PocketChargeRowFragment, unknown>;
export const RechargePaymentRowFragmentDoc = new TypedDocumentString(`
    fragment RechargePaymentRow on RechargePayment {
  id
  paymentNo
  state
  amount
  currency
  createdAt
  updatedAt
  provider {
    reference
  }
}
    `, {"fragmentName":"RechargePaymentRow"}) as unknown as TypedDocumentString<RechargePaymentRowFragment, unknown>;
export const WalletTopUpRowFragmentDoc = new TypedDocumentString(`
    fragment WalletTopUpRow on WalletTransaction {
  id
  kind
  status
  paymentMode
  amount
  fee
  creditedAmount
  currency
  txnCode
  createdAt
  wallet {
    id
    user {
      username
    }
  }
}
    `, {"fragmentName":"WalletTopUpRow"}) as unknown as TypedDocumentString<WalletTopUpRowFragment, unknown>;
export const InvoicePaymentDetailsDocument = new TypedDocumentString(`
    query InvoicePaymentDetails($id: ID!) {
  invoicePayment(id: $id) {
    ...InvoicePaymentRow
    description
    mobile
    email
    reason
    note
    authority
    refId
    cardPan
    refundedAmount
    refundableAmount
    verifiedAt
    invoice {
      id
      title
      status
      totalAmount
      paidAmount
      remainingAmount
    }
    history {
      at
      from
      to
      reason
    }
  }
}
    fragment InvoicePaymentRow on InvoicePayment {
  id
  status
  gateway
  amount
  currency
  createdAt
  updatedAt
  invoice {
    id
    title
  }
}`) as unknown as TypedDocumentString<InvoicePaymentDetailsQuery, InvoicePaymentDetailsQueryVariables>;
export const ChargeDetailsDocument = new TypedDocumentString(`
    query ChargeDetails($id: ID!) {
  charge(id: $id) {
    ...ChargeRow
    interval
    frequency
    installmentCount
    dueDate
    isActive
    autoDebit
    paymentLink
    customer {
      name
      email
    }
    installments {
      number
      dueDate
      amount
      paidAmount
      remaining
      status
      paidAt
      paymentMethod
    }
  }
}
    fragment ChargeRow on Charge {
  id
  status
  type
  amount
  currency
  description
  createdAt
  updatedAt
  customer {
    name
  }
}`) as unknown as TypedDocumentString<ChargeDetailsQuery, ChargeDetailsQueryVariables>;
export const PocketChargeDetailsDocument = new TypedDocumentString(`
    query PocketChargeDetails($token: String!) {
  pocketCharge(token: $token) {
    ...PocketChargeRow
    pocket {
      id
      phoneNumber
      balance
    }
    group {
      slug
      name
      currency
      cap
      spent
      remaining
    }
  }
}
    fragment PocketChargeRow on PocketCharge {
  id
  token
  status
  failure
  amount
  phoneNumber
  createdAt
  group {
    slug
    currency
  }
}`) as unknown as TypedDocumentString<PocketChargeDetailsQuery, PocketChargeDetailsQueryVariables>;
export const RechargePaymentDetailsDocument = new TypedDocumentString(`
    query RechargePaymentDetails($id: ID!) {
  rechargePayment(id: $id) {
    ...RechargePaymentRow
    userId
    description
    params
    reason
    expired
    expiresAt
    committedAt
    rolledBackAt
    provider {
      reference
      name
    }
  }
}
    fragment RechargePaymentRow on RechargePayment {
  id
  paymentNo
  state
  amount
  currency
  createdAt
  updatedAt
  provider {
    reference
  }
}`) as unknown as TypedDocumentString<RechargePaymentDetailsQuery, RechargePaymentDetailsQueryVariables>;
export const WalletTopUpDetailsDocument = new TypedDocumentString(`
    query WalletTopUpDetails($id: ID!) {
  walletTransaction(id: $id) {
    ...WalletTopUpRow
    txnNumber
    note
    requestId
    charges {
      ruleId
      txnCode
      percentBasisPoints
      fixed
      amount
    }
    wallet {
      id
      currency
      balance
      user {
        username
        type
      }
    }
  }
}
    fragment WalletTopUpRow on WalletTransaction {
  id
  kind
  status
  paymentMode
  amount
  fee
  creditedAmount
  currency
  txnCode
  createdAt
  wallet {
    id
    user {
      username
    }
  }
}`) as unknown as TypedDocumentString<WalletTopUpDetailsQuery, WalletTopUpDetailsQueryVariables>;
export const InvoicePaymentRowByIdDocument = new TypedDocumentString(`
    query InvoicePaymentRowById($id: ID!) {
  invoicePayment(id: $id) {
    ...InvoicePaymentRow
  }
}
    fragment InvoicePaymentRow on InvoicePayment {
  id
  status
  gateway
  amount
  currency
  createdAt
  updatedAt
  invoice {
    id
    title
  }
}`) as unknown as TypedDocumentString<InvoicePaymentRowByIdQuery, InvoicePaymentRowByIdQueryVariables>;
export const ChargeRowByIdDocument = new TypedDocumentString(`
    query ChargeRowById($id: ID!) {
  charge(id: $id) {
    ...ChargeRow
  }
}
    fragment ChargeRow on Charge {
  id
  status
  type
  amount
  currency
  description
  createdAt
  updatedAt
  customer {
    name
  }
}`) as unknown as TypedDocumentString<ChargeRowByIdQuery, ChargeRowByIdQueryVariables>;
export const PocketChargeRowByTokenDocument = new TypedDocumentString(`
    query PocketChargeRowByToken($token: String!) {
  pocketCharge(token: $token) {
    ...PocketChargeRow
  }
}
    fragment PocketChargeRow on PocketCharge {
  id
  token
  status
  failure
  amount
  phoneNumber
  createdAt
  group {
    slug
    currency
  }
}`) as unknown as TypedDocumentString<PocketChargeRowByTokenQuery, PocketChargeRowByTokenQueryVariables>;
export const RechargePaymentRowByIdDocument = new TypedDocumentString(`
    query RechargePaymentRowById($id: ID!) {
  rechargePayment(id: $id) {
    ...RechargePaymentRow
  }
}
    fragment RechargePaymentRow on RechargePayment {
  id
  paymentNo
  state
  amount
  currency
  createdAt
  updatedAt
  provider {
    reference
  }
}`) as unknown as TypedDocumentString<RechargePaymentRowByIdQuery, RechargePaymentRowByIdQueryVariables>;
export const WalletTopUpRowByIdDocument = new TypedDocumentString(`
    query WalletTopUpRowById($id: ID!) {
  walletTransaction(id: $id) {
    ...WalletTopUpRow
  }
}
    fragment WalletTopUpRow on WalletTransaction {
  id
  kind
  status
  paymentMode
  amount
  fee
  creditedAmount
  currency
  txnCode
  createdAt
  wallet {
    id
    user {
      username
    }
  }
}`) as unknown as TypedDocumentString<WalletTopUpRowByIdQuery, WalletTopUpRowByIdQueryVariables>;
export const DashboardViewerDocument = new TypedDocumentString(`
    query DashboardViewer {
  viewer {
    scopes
    rights
    merchant {
      id
      name
    }
  }
}
    `) as unknown as TypedDocumentString<DashboardViewerQuery, DashboardViewerQueryVariables>;
export const DashboardLatestEventIdDocument = new TypedDocumentString(`
    query DashboardLatestEventId {
  latestEventId
}
    `) as unknown as TypedDocumentString<DashboardLatestEventIdQuery, DashboardLatestEventIdQueryVariables>;
export const InvoicePaymentsSectionDocument = new TypedDocumentString(`
    query InvoicePaymentsSection($first: Int!) {
  invoicePayments(first: $first) {
    totalCount
    edges {
      node {
        ...InvoicePaymentRow
      }
    }
  }
  invoicePaymentsStatus {
    rows {
      gateway
      status
      count
      amount
    }
  }
}
    fragment InvoicePaymentRow on InvoicePayment {
  id
  status
  gateway
  amount
  currency
  createdAt
  updatedAt
  invoice {
    id
    title
  }
}`) as unknown as TypedDocumentString<InvoicePaymentsSectionQuery, InvoicePaymentsSectionQueryVariables>;
export const ChargesSectionDocument = new TypedDocumentString(`
    query ChargesSection($first: Int!) {
  charges(first: $first) {
    totalCount
    edges {
      node {
        ...ChargeRow
      }
    }
  }
  chargeTotals {
    status
    type
    currency
    count
    amount
  }
}
    fragment ChargeRow on Charge {
  id
  status
  type
  amount
  currency
  description
  createdAt
  updatedAt
  customer {
    name
  }
}`) as unknown as TypedDocumentString<ChargesSectionQuery, ChargesSectionQueryVariables>;
export const PocketChargesSectionDocument = new TypedDocumentString(`
    query PocketChargesSection($first: Int!) {
  pocketCharges(first: $first) {
    totalCount
    edges {
      node {
        ...PocketChargeRow
      }
    }
  }
  pocketChargeTotals {
    group {
      slug
    }
    currency
    status
    count
    amount
  }
}
    fragment PocketChargeRow on PocketCharge {
  id
  token
  status
  failure
  amount
  phoneNumber
  createdAt
  group {
    slug
    currency
  }
}`) as unknown as TypedDocumentString<PocketChargesSectionQuery, PocketChargesSectionQueryVariables>;
export const RechargePaymentsSectionDocument = new TypedDocumentString(`
    query RechargePaymentsSection($first: Int!) {
  rechargePayments(first: $first) {
    totalCount
    edges {
      node {
        ...RechargePaymentRow
      }
    }
  }
  rechargePaymentTotals {
    provider {
      reference
    }
    currency
    state
    count
    amount
  }
}
    fragment RechargePaymentRow on RechargePayment {
  id
  paymentNo
  state
  amount
  currency
  createdAt
  updatedAt
  provider {
    reference
  }
}`) as unknown as TypedDocumentString<RechargePaymentsSectionQuery, RechargePaymentsSectionQueryVariables>;
export const WalletTopUpsSectionDocument = new TypedDocumentString(`
    query WalletTopUpsSection($first: Int!) {
  walletTransactions(first: $first) {
    totalCount
    edges {
      node {
        ...WalletTopUpRow
      }
    }
  }
  walletTransactionTotals {
    kind
    status
    paymentMode
    currency
    count
    amount
  }
}
    fragment WalletTopUpRow on WalletTransaction {
  id
  kind
  status
  paymentMode
  amount
  fee
  creditedAmount
  currency
  txnCode
  createdAt
  wallet {
    id
    user {
      username
    }
  }
}`) as unknown as TypedDocumentString<WalletTopUpsSectionQuery, WalletTopUpsSectionQueryVariables>;
export const DashboardEventsDocument = new TypedDocumentString(`
    subscription DashboardEvents($after: ID) {
  events(after: $after) {
    id
    type
    objectId
    occurredAt
    data
  }
}
    `) as unknown as TypedDocumentString<DashboardEventsSubscription, DashboardEventsSubscriptionVariables>;