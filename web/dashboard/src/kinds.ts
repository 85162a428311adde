/**
 * The five kinds of payment the dashboard follows: how each is listed and totalled, which events
 * change it and how a changed one is read again, and what its details page shows.
 */
import {
  ChargeDetailsDocument,
  ChargeRowByIdDocument,
  ChargesSectionDocument,
  InvoicePaymentDetailsDocument,
  InvoicePaymentRowByIdDocument,
  InvoicePaymentsSectionDocument,
  PocketChargeDetailsDocument,
  PocketChargeRowByTokenDocument,
  PocketChargesSectionDocument,
  RechargePaymentDetailsDocument,
  RechargePaymentRowByIdDocument,
  RechargePaymentsSectionDocument,
  WalletTopUpDetailsDocument,
  WalletTopUpRowByIdDocument,
  WalletTopUpsSectionDocument,
  type ChargeRowFragment,
  type InvoicePaymentRowFragment,
  type PocketChargeRowFragment,
  type RechargePaymentRowFragment,
  type WalletTopUpRowFragment,
} from '../generated/graphql.ts';
import { request, type Result, type StreamEvent } from './api.ts';

export type KindName = 'invoicePayment' | 'charge' | 'pocketCharge' | 'rechargePayment' | 'walletTopUp';

/** One payment of any kind, as a row of the page. */
export interface Row {
  kind: KindName;
  /** What the details page and a re-read look it up by (a pocket charge's token, else its id). */
  key: string;
  state: string;
  /** The gateway, or what plays its part: a pocket group, a recharge provider, a top-up's payment mode, a charge's type. */
  channel: string;
  amount: string | null;
  currency: string;
  title: string;
  createdAt: string;
}

export interface Totals {
  kind: KindName;
  state: string;
  channel: string;
  currency: string;
  count: number;
  amount: string;
}

export interface Section {
  rows: Row[];
  totalCount: number;
  totals: Totals[];
}

export type Detail = [label: string, value: unknown][];

export interface Kind {
  name: KindName;
  title: string;
  channelTitle: string;
  /** Whether the credential may read this kind at all. */
  allowed(viewer: { scopes: string[]; rights: string[] }): boolean;
  load(authorization: string, first: number): Promise<Result<Section>>;
  /** The row an event is about, when it is about one of this kind. */
  keyOf(event: StreamEvent): string | null;
  reread(authorization: string, key: string): Promise<Result<Row | null>>;
  details(authorization: string, key: string): Promise<Result<Detail | null>>;
}

const mapResult = <T, U>(result: Result<T>, map: (data: T) => U): Result<U> => ({ data: result.data === null ? null : map(result.data), errors: result.errors });

const invoicePaymentRow = (p: InvoicePaymentRowFragment): Row => ({
  kind: 'invoicePayment',
  key: p.id,
  state: p.status,
  channel: p.gateway,
  amount: p.amount,
  currency: p.currency,
  title: p.invoice.title,
  createdAt: p.createdAt,
});

const chargeRow = (c: ChargeRowFragment): Row => ({
  kind: 'charge',
  key: c.id,
  state: c.status,
  channel: c.type,
  amount: c.amount,
  currency: c.currency,
  title: `${c.description} (${c.customer.name})`,
  createdAt: c.createdAt,
});

const pocketChargeRow = (c: PocketChargeRowFragment): Row => ({
  kind: 'pocketCharge',
  key: c.token,
  state: c.status,
  channel: c.group.slug,
  amount: c.amount ?? null,
  currency: c.group.currency,
  title: c.failure ? `${c.phoneNumber}: ${c.failure.toLowerCase().replace(/_/g, ' ')}` : c.phoneNumber,
  createdAt: c.createdAt,
});

const rechargePaymentRow = (p: RechargePaymentRowFragment): Row => ({
  kind: 'rechargePayment',
  key: p.id,
  state: p.state,
  channel: p.provider.reference,
  amount: p.amount,
  currency: p.currency,
  title: `No. ${p.paymentNo}`,
  createdAt: p.createdAt,
});

const walletTopUpRow = (t: WalletTopUpRowFragment): Row => ({
  kind: 'walletTopUp',
  key: t.id,
  state: t.status,
  channel: t.paymentMode,
  amount: t.amount,
  currency: t.currency,
  title: `${t.wallet.user.username} (${t.txnCode})`,
  createdAt: t.createdAt,
});

const eventKey = (event: StreamEvent, field: string): string | null => {
  const value = (event.data as Record<string, unknown> | null)?.[field];
  return typeof value === 'string' || typeof value === 'number' ? String(value) : null;
};

export const KINDS: Kind[] = [
  {
    name: 'invoicePayment',
    title: 'Invoice payments',
    channelTitle: 'gateway',
    allowed: (viewer) => viewer.scopes.includes('invoices'),
    load: async (authorization, first) =>
      mapResult(await request(authorization, InvoicePaymentsSectionDocument, { first }), (data) => ({
        rows: data.invoicePayments.edges.map((edge) => invoicePaymentRow(edge.node)),
        totalCount: data.invoicePayments.totalCount,
        totals: data.invoicePaymentsStatus.rows
          .filter((row) => row.count > 0)
          .map((row) => ({ kind: 'invoicePayment', state: row.status ?? '', channel: row.gateway ?? '', currency: 'IRR', count: row.count, amount: row.amount })),
      })),
    keyOf: (event) => (event.type.startsWith('payment.') ? event.objectId : null),
    reread: async (authorization, id) =>
      mapResult(await request(authorization, InvoicePaymentRowByIdDocument, { id }), (data) => (data.invoicePayment ? invoicePaymentRow(data.invoicePayment) : null)),
    details: async (authorization, id) =>
      mapResult(await request(authorization, InvoicePaymentDetailsDocument, { id }), ({ invoicePayment: p }) =>
        p
          ? [
              ['Payment', p.id],
              ['Status', p.status],
              ['Gateway', p.gateway],
              ['Amount', { money: p.amount, currency: p.currency }],
              ['Refunded', { money: p.refundedAmount, currency: p.currency }],
              ['Refundable', { money: p.refundableAmount, currency: p.currency }],
              ['Description', p.description],
              ['Reason', p.reason],
              ['Note', p.note],
              ['Reference', p.refId],
              ['Card', p.cardPan],
              ['Payer', [p.mobile, p.email].filter(Boolean).join(' ') || null],
              ['Created', { time: p.createdAt }],
              ['Verified', p.verifiedAt ? { time: p.verifiedAt } : null],
              ['Invoice', `${p.invoice.title} (${p.invoice.status.toLowerCase()})`],
              ['Invoice total', { money: p.invoice.totalAmount, currency: p.currency }],
              ['Invoice paid', { money: p.invoice.paidAmount, currency: p.currency }],
              ['History', p.history.map((step) => `${step.from ?? '·'} → ${step.to} (${step.reason})`)],
            ]
          : null,
      ),
  },
  {
    name: 'charge',
    title: 'Charges',
    channelTitle: 'type',
    allowed: (viewer) => viewer.scopes.includes('charges'),
    load: async (authorization, first) =>
      mapResult(await request(authorization, ChargesSectionDocument, { first }), (data) => ({
        rows: data.charges.edges.map((edge) => chargeRow(edge.node)),
        totalCount: data.charges.totalCount,
        totals: data.chargeTotals.map((row) => ({ kind: 'charge', state: row.status, channel: row.type, currency: row.currency, count: row.count, amount: row.amount })),
      })),
    keyOf: (event) => (event.type.startsWith('charge.') || event.type.startsWith('installment.') ? event.objectId : null),
    reread: async (authorization, id) => mapResult(await request(authorization, ChargeRowByIdDocument, { id }), (data) => (data.charge ? chargeRow(data.charge) : null)),
    details: async (authorization, id) =>
      mapResult(await request(authorization, ChargeDetailsDocument, { id }), ({ charge: c }) =>
        c
          ? [
              ['Charge', c.id],
              ['Status', c.status],
              ['Type', c.type],
              ['Amount', { money: c.amount, currency: c.currency }],
              ['Description', c.description],
              ['Customer', [c.customer.name, c.customer.email].filter(Boolean).join(' ')],
              ['Schedule', `${c.installmentCount} × every ${c.frequency} ${c.interval.toLowerCase()}, first due ${c.dueDate}`],
              ['Active', c.isActive ? 'yes' : 'no'],
              ['Auto-debit', c.autoDebit ? 'yes' : 'no'],
              ['Payment link', c.paymentLink],
              ['Created', { time: c.createdAt }],
              [
                'Installments',
                c.installments.map(
                  (i) => `#${i.number} due ${i.dueDate}: ${i.status.toLowerCase()}, paid ${i.paidAmount} of ${i.amount} centavos${i.paymentMethod ? ` (${i.paymentMethod.toLowerCase()})` : ''}`,
                ),
              ],
            ]
          : null,
      ),
  },
  {
    name: 'pocketCharge',
    title: 'Pocket charges',
    channelTitle: 'group',
    allowed: (viewer) => viewer.scopes.includes('pockets'),
    load: async (authorization, first) =>
      mapResult(await request(authorization, PocketChargesSectionDocument, { first }), (data) => ({
        rows: data.pocketCharges.edges.map((edge) => pocketChargeRow(edge.node)),
        totalCount: data.pocketCharges.totalCount,
        totals: data.pocketChargeTotals.map((row) => ({ kind: 'pocketCharge', state: row.status, channel: row.group.slug, currency: row.currency, count: row.count, amount: row.amount })),
      })),
    keyOf: (event) => (event.type === 'pocket.charged' ? eventKey(event, 'token') : null),
    reread: async (authorization, token) =>
      mapResult(await request(authorization, PocketChargeRowByTokenDocument, { token }), (data) => (data.pocketCharge ? pocketChargeRow(data.pocketCharge) : null)),
    details: async (authorization, token) =>
      mapResult(await request(authorization, PocketChargeDetailsDocument, { token }), ({ pocketCharge: c }) =>
        c
          ? [
              ['Token', c.token],
              ['Status', c.status],
              ['Failure', c.failure],
              ['Amount', c.amount ? { money: c.amount, currency: c.group.currency } : null],
              ['Phone number', c.phoneNumber],
              ['Group', `${c.group.slug}${c.group.name ? ` (${c.group.name})` : ''}`],
              ['Group spent', { money: c.group.spent, currency: c.group.currency }],
              ['Group cap remaining', c.group.remaining ? { money: c.group.remaining, currency: c.group.currency } : 'no cap'],
              ['Pocket balance', c.pocket ? { money: c.pocket.balance, currency: c.group.currency } : null],
              ['Created', { time: c.createdAt }],
            ]
          : null,
      ),
  },
  {
    name: 'rechargePayment',
    title: 'Recharge payments',
    channelTitle: 'provider',
    allowed: (viewer) => viewer.scopes.includes('credit') && viewer.rights.includes('Manage payments'),
    load: async (authorization, first) =>
      mapResult(await request(authorization, RechargePaymentsSectionDocument, { first }), (data) => ({
        rows: data.rechargePayments.edges.map((edge) => rechargePaymentRow(edge.node)),
        totalCount: data.rechargePayments.totalCount,
        totals: data.rechargePaymentTotals.map((row) => ({
          kind: 'rechargePayment',
          state: row.state,
          channel: row.provider.reference,
          currency: row.currency,
          count: row.count,
          amount: row.amount,
        })),
      })),
    keyOf: (event) => (event.type.startsWith('recharge.') ? event.objectId : null),
    reread: async (authorization, id) =>
      mapResult(await request(authorization, RechargePaymentRowByIdDocument, { id }), (data) => (data.rechargePayment ? rechargePaymentRow(data.rechargePayment) : null)),
    details: async (authorization, id) =>
      mapResult(await request(authorization, RechargePaymentDetailsDocument, { id }), ({ rechargePayment: p }) =>
        p
          ? [
              ['Payment', p.id],
              ['Number', String(p.paymentNo)],
              ['State', p.state],
              ['Amount', { money: p.amount, currency: p.currency }],
              ['Provider', `${p.provider.reference} (${p.provider.name})`],
              ['User', p.userId],
              ['Description', p.description],
              ['Parameters', JSON.stringify(p.params)],
              ['Reason', p.reason],
              ['Created', { time: p.createdAt }],
              ['Expires', { time: p.expiresAt }],
              ['Committed', p.committedAt ? { time: p.committedAt } : null],
              ['Rolled back', p.rolledBackAt ? { time: p.rolledBackAt } : null],
            ]
          : null,
      ),
  },
  {
    name: 'walletTopUp',
    title: 'Wallet top-ups',
    channelTitle: 'payment mode',
    allowed: (viewer) => viewer.scopes.includes('wallets'),
    load: async (authorization, first) =>
      mapResult(await request(authorization, WalletTopUpsSectionDocument, { first }), (data) => ({
        rows: data.walletTransactions.edges.map((edge) => walletTopUpRow(edge.node)),
        totalCount: data.walletTransactions.totalCount,
        totals: data.walletTransactionTotals.map((row) => ({
          kind: 'walletTopUp',
          state: row.status,
          channel: row.paymentMode,
          currency: row.currency,
          count: row.count,
          amount: row.amount,
        })),
      })),
    keyOf: (event) => (event.type === 'wallet.topped_up' ? eventKey(event, 'transactionId') : null),
    reread: async (authorization, id) =>
      mapResult(await request(authorization, WalletTopUpRowByIdDocument, { id }), (data) => (data.walletTransaction ? walletTopUpRow(data.walletTransaction) : null)),
    details: async (authorization, id) =>
      mapResult(await request(authorization, WalletTopUpDetailsDocument, { id }), ({ walletTransaction: t }) =>
        t
          ? [
              ['Transaction', t.id],
              ['Number', t.txnNumber],
              ['Status', t.status],
              ['Amount', { money: t.amount, currency: t.currency }],
              ['Fee', { money: t.fee, currency: t.currency }],
              ['Credited', { money: t.creditedAmount, currency: t.currency }],
              ['Payment mode', t.paymentMode],
              ['Transaction code', t.txnCode],
              ['Wallet', `${t.wallet.id} (${t.wallet.user.username})`],
              ['Wallet balance', { money: t.wallet.balance, currency: t.wallet.currency }],
              ['Fee rules', t.charges.map((c) => `${c.txnCode}: ${c.fixed} fixed + ${c.percentBasisPoints / 100} % = ${c.amount}`)],
              ['Note', t.note],
              ['Request id', t.requestId],
              ['Created', { time: t.createdAt }],
            ]
          : null,
      ),
  },
];

export const kindNamed = (name: string): Kind | undefined => KINDS.find((kind) => kind.name === name);
