import { requireMerchant, requireOperator } from '../../auth/principal.ts';
import type { Deps } from '../../deps.ts';
import { notFound } from '../../errors.ts';
import type { EventMessage, SubscriptionScope } from '../../events/bus.ts';
import { merchantEvents, resumePosition, withEventIds } from '../../events/graphql.ts';
import type { InvoicePayment } from '../../generated/prisma/client.ts';
import { builder } from '../../graphql/builder.ts';
import type { GraphQLContext } from '../../graphql/context.ts';
import type { GatewayName } from './gateways/types.ts';
import { createReadyToPayLink, type CreatedLink } from './links.ts';
import { GATEWAYS, INVOICE_STATUSES, PAYMENT_STATES, refundableAmount, remainingAmount, type InvoiceStatus, type PaymentState } from './model.ts';
import { INVOICE_TOPIC, PAYMENT_TOPIC } from './records.ts';
import {
  cancelInvoice,
  createInvoice,
  findInvoice,
  findPayment,
  invoiceWhere,
  paymentsStatus,
  requestPayment,
  startWaiting,
  waitingPayments,
  type Replayable,
  type StatusRow,
} from './service.ts';
import { refundPayment, resolveRefund, type RefundStatus } from './refunds.ts';
import { reconcilePayments, type ReconcileReport } from './settlement.ts';

const merchantOf = (ctx: GraphQLContext) => requireMerchant(ctx.principal, { scope: 'invoices' }).merchantId;

/** Money mutations take `idempotencyKey`, falling back to the Idempotency-Key header. */
function keyOf(ctx: GraphQLContext, argument: string | null | undefined): string | null {
  return argument ?? ctx.idempotencyKey;
}

function reported<T>(ctx: GraphQLContext, key: string | null, result: Replayable<T>): T {
  if (key !== null) ctx.idempotency.push({ key, replayed: result.replayed });
  return result.value;
}

const upper = (value: string) => value.toUpperCase();

const GatewayEnum = builder.enumType('PaymentGateway', {
  description: 'The payment gateways invoices are paid through.',
  values: { ZARINPAL: { value: 'zarinpal' as GatewayName }, SHEPA: { value: 'shepa' as GatewayName } },
});

const InvoiceStatusEnum = builder.enumType('InvoiceStatus', {
  description: 'Follows from the money: refunded ones once anything was refunded, else by the verified sum.',
  values: Object.fromEntries(INVOICE_STATUSES.map((status) => [upper(status), { value: status }])) as Record<
    Uppercase<InvoiceStatus>,
    { value: InvoiceStatus }
  >,
});

const PaymentStatusEnum = builder.enumType('InvoicePaymentStatus', {
  description:
    'created -> waiting (the payer was sent to the gateway) -> verified (confirmed server-to-server) | failed | canceled | expired; verified -> refunded.',
  values: Object.fromEntries(PAYMENT_STATES.map((state) => [upper(state), { value: state }])) as Record<
    Uppercase<PaymentState>,
    { value: PaymentState }
  >,
});

const InvoiceRef = builder.prismaObject('Invoice', {
  description: 'An invoice paid, whole or in parts, through the gateways. Every amount is IRR rials (not tomans).',
  fields: (t) => ({
    id: t.exposeID('id'),
    title: t.exposeString('title'),
    totalAmount: t.expose('totalAmount', { type: 'BigInt', description: 'IRR rials.' }),
    currency: t.exposeString('currency', { description: 'Always IRR (rials).' }),
    mobile: t.exposeString('mobile', { nullable: true }),
    email: t.exposeString('email', { nullable: true }),
    status: t.field({ type: InvoiceStatusEnum, resolve: (invoice) => invoice.status as InvoiceStatus }),
    paidAmount: t.expose('paidAmount', { type: 'BigInt', description: 'Sum of the verified payments (refunds do not lower it), IRR rials.' }),
    refundedAmount: t.expose('refundedAmount', { type: 'BigInt', description: 'IRR rials.' }),
    remainingAmount: t.field({
      type: 'BigInt',
      description: 'What is left to pay, IRR rials; 0 once paid, refunded or canceled.',
      resolve: (invoice) => remainingAmount(invoice),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    canceledAt: t.expose('canceledAt', { type: 'DateTime', nullable: true }),
    payments: t.relation('payments', { query: { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] } }),
    waitingPayments: t.relation('payments', {
      description: 'Payments whose payer was sent to a gateway and that are not settled yet.',
      query: { where: { state: 'waiting' }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] },
    }),
  }),
});

const InvoicePaymentRef = builder.prismaObject('InvoicePayment', {
  description: 'A request to pay (part of) an invoice through one gateway. Amounts are IRR rials.',
  fields: (t) => ({
    id: t.exposeID('id'),
    invoice: t.relation('invoice'),
    gateway: t.field({ type: GatewayEnum, resolve: (payment) => payment.gateway as GatewayName }),
    amount: t.expose('amount', { type: 'BigInt', description: 'IRR rials.' }),
    currency: t.exposeString('currency'),
    description: t.exposeString('description'),
    mobile: t.exposeString('mobile', { nullable: true }),
    email: t.exposeString('email', { nullable: true }),
    status: t.field({ type: PaymentStatusEnum, resolve: (payment) => payment.state as PaymentState }),
    reason: t.exposeString('reason', { nullable: true, description: 'Why it reached its status, e.g. `overpayment`.' }),
    authority: t.exposeString('authority', { nullable: true, description: "The gateway's Authority (zarinpal) or token (shepa)." }),
    redirectUrl: t.exposeString('redirectUrl', { nullable: true, description: "Where to send the payer's browser." }),
    refId: t.exposeString('refId', { nullable: true, description: "The gateway's reference, once verified." }),
    cardPan: t.exposeString('cardPan', { nullable: true }),
    refundedAmount: t.expose('refundedAmount', { type: 'BigInt', description: 'Refunds the gateway confirmed, IRR rials.' }),
    refundPendingAmount: t.expose('refundPendingAmount', {
      type: 'BigInt',
      description: 'A refund asked of the gateway whose outcome is not known yet, IRR rials (see `refunds`).',
    }),
    refundableAmount: t.field({
      type: 'BigInt',
      description: 'What may still be refunded: neither refunded nor pending.',
      resolve: (payment) => refundableAmount(payment),
    }),
    note: t.exposeString('note', { nullable: true, description: 'The last trouble with the gateway, left for reconciliation.' }),
    waitingSince: t.expose('waitingSince', { type: 'DateTime', nullable: true }),
    verifiedAt: t.expose('verifiedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    history: t.relation('transitions', { description: 'Every status change, oldest first.', query: { orderBy: { id: 'asc' } } }),
    refunds: t.relation('refunds', { query: { orderBy: { createdAt: 'asc' } } }),
  }),
});

builder.prismaObject('InvoicePaymentTransition', {
  description: 'One status change of a payment.',
  fields: (t) => ({
    from: t.field({ type: PaymentStatusEnum, nullable: true, resolve: (row) => row.from as PaymentState | null }),
    to: t.field({ type: PaymentStatusEnum, resolve: (row) => row.to as PaymentState }),
    reason: t.exposeString('reason'),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});

const RefundStatusEnum = builder.enumType('InvoicePaymentRefundStatus', {
  description:
    'PENDING: asked of the gateway, outcome not known yet (the ledger has not moved; it is never asked blindly again); REFUNDED: confirmed, the ledger moved it back; FAILED: the gateway refused, nothing moved.',
  values: { PENDING: { value: 'pending' as RefundStatus }, REFUNDED: { value: 'refunded' as RefundStatus }, FAILED: { value: 'failed' as RefundStatus } },
});

builder.prismaObject('InvoicePaymentRefund', {
  description: 'Money given back through the gateway, or asked to be.',
  fields: (t) => ({
    id: t.exposeID('id'),
    amount: t.expose('amount', { type: 'BigInt', description: 'IRR rials.' }),
    status: t.field({ type: RefundStatusEnum, resolve: (refund) => refund.status as RefundStatus }),
    reference: t.exposeString('reference', { nullable: true, description: "The gateway's tracking reference, when it gives one." }),
    note: t.exposeString('note', { nullable: true, description: 'Why it is pending or failed.' }),
    resolvedBy: t.exposeString('resolvedBy', { nullable: true, description: 'gateway, reconciliation or operator.' }),
    resolvedAt: t.expose('resolvedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

type Totals = { gateway: GatewayName | null; status: PaymentState | null; count: number; amount: bigint; refundedAmount: bigint };

const TotalsRef = builder.objectRef<Totals>('InvoicePaymentTotals').implement({
  description: 'How many payments and how much (IRR rials), for a gateway and/or a status.',
  fields: (t) => ({
    gateway: t.field({ type: GatewayEnum, nullable: true, resolve: (row) => row.gateway }),
    status: t.field({ type: PaymentStatusEnum, nullable: true, resolve: (row) => row.status }),
    count: t.exposeInt('count'),
    amount: t.field({ type: 'BigInt', resolve: (row) => row.amount }),
    refundedAmount: t.field({ type: 'BigInt', resolve: (row) => row.refundedAmount }),
  }),
});

function sum(rows: StatusRow[], gateway: GatewayName | null, status: PaymentState | null): Totals {
  const selected = rows.filter((row) => (gateway === null || row.gateway === gateway) && (status === null || row.status === status));
  return {
    gateway,
    status,
    count: selected.reduce((total, row) => total + row.count, 0),
    amount: selected.reduce((total, row) => total + row.amount, 0n),
    refundedAmount: selected.reduce((total, row) => total + row.refundedAmount, 0n),
  };
}

const StatusRef = builder.objectRef<{ merchantId: string | null; rows: StatusRow[] }>('InvoicePaymentsStatus').implement({
  description: 'Counts and sums of payments per status and gateway.',
  fields: (t) => ({
    merchantId: t.exposeID('merchantId', { nullable: true, description: 'null: every merchant.' }),
    total: t.field({ type: TotalsRef, resolve: ({ rows }) => sum(rows, null, null) }),
    byStatus: t.field({ type: [TotalsRef], resolve: ({ rows }) => PAYMENT_STATES.map((status) => sum(rows, null, status)) }),
    byGateway: t.field({ type: [TotalsRef], resolve: ({ rows }) => GATEWAYS.map((gateway) => sum(rows, gateway, null)) }),
    rows: t.field({ type: [TotalsRef], description: 'Every gateway and status pair.', resolve: ({ rows }) => rows.map((row) => sum([row], row.gateway, row.status)) }),
  }),
});

const LinkRef = builder.objectRef<CreatedLink>('ReadyToPayLink').implement({
  description:
    'A link that, opened by the payer, creates an invoice and its payment and sends them to the gateway. It makes one invoice: opened again it goes back to that payment, or to its result once paid; it never makes a second invoice.',
  fields: (t) => ({
    token: t.string({ description: 'Shown once.', resolve: (link) => link.token }),
    url: t.string({ resolve: (link) => link.url }),
    merchantId: t.id({ resolve: (link) => link.link.merchantId }),
    amount: t.field({ type: 'BigInt', nullable: true, description: 'IRR rials; null: the payer enters it.', resolve: (link) => link.link.amount }),
    description: t.string({ nullable: true, resolve: (link) => link.link.description }),
    userFullName: t.string({ resolve: (link) => link.link.userFullName }),
    mobile: t.string({ resolve: (link) => link.link.mobile }),
    gateway: t.field({ type: GatewayEnum, nullable: true, resolve: (link) => link.link.gateway as GatewayName | null }),
    expiresAt: t.field({
      type: 'DateTime',
      description: 'Past it the link takes no payment (it answers 410), unless its invoice is already settled.',
      resolve: (link) => link.link.expiresAt!,
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (link) => link.link.createdAt }),
  }),
});

const ReconcileRef = builder.objectRef<ReconcileReport>('InvoiceReconciliationReport').implement({
  description: 'What one reconciliation run did.',
  fields: (t) => ({
    checked: t.exposeInt('checked'),
    verified: t.exposeInt('verified'),
    failed: t.exposeInt('failed'),
    expired: t.exposeInt('expired'),
    stillWaiting: t.exposeInt('stillWaiting'),
    reversalsRetried: t.exposeInt('reversalsRetried'),
    reversed: t.exposeInt('reversed'),
    refundsChecked: t.exposeInt('refundsChecked', { description: 'Pending refunds asked about (gateways that can tell).' }),
    refundsResolved: t.exposeInt('refundsResolved'),
    refundsAwaitingOperator: t.exposeInt('refundsAwaitingOperator', { description: 'Pending refunds only an operator can settle (shepa).' }),
    errors: t.exposeInt('errors'),
  }),
});

const InvoiceFilter = builder.inputType('InvoiceFilter', {
  fields: (t) => ({
    status: t.field({ type: [InvoiceStatusEnum], required: false }),
    search: t.string({ required: false, description: 'Part of the title, any case.' }),
    mobile: t.string({ required: false }),
    createdFrom: t.field({ type: 'DateTime', required: false, description: 'Inclusive.' }),
    createdTo: t.field({ type: 'DateTime', required: false, description: 'Exclusive.' }),
  }),
});

const CreateInvoiceInput = builder.inputType('CreateInvoiceInput', {
  fields: (t) => ({
    title: t.string({ required: true }),
    totalAmount: t.field({ type: 'BigInt', required: true, description: 'IRR rials (not tomans), at least 1000.' }),
    mobile: t.string({ required: false }),
    email: t.string({ required: false }),
  }),
});

const RequestPaymentInput = builder.inputType('RequestInvoicePaymentInput', {
  fields: (t) => ({
    invoiceId: t.id({ required: true }),
    gateway: t.field({ type: GatewayEnum, required: true }),
    amount: t.field({ type: 'BigInt', required: true, description: 'IRR rials, at least 1000 and at most what is left to pay.' }),
    description: t.string({ required: false, description: 'Shown by the gateway; default: the invoice title.' }),
    mobile: t.string({ required: false }),
    email: t.string({ required: false }),
  }),
});

const CreateLinkInput = builder.inputType('CreateReadyToPayLinkInput', {
  fields: (t) => ({
    merchantId: t.id({ required: false, description: 'Default: INVOICES_MERCHANT_ID.' }),
    amount: t.field({ type: 'BigInt', required: false, description: 'IRR rials; omitted: the payer enters it.' }),
    description: t.string({ required: false }),
    userFullName: t.string({ required: true }),
    mobile: t.string({ required: true }),
    gateway: t.field({ type: GatewayEnum, required: false, description: 'Omitted: the payer chooses.' }),
    expiresInSeconds: t.int({ required: false, description: "The link's lifetime, 60 s to a year; default READY_TO_PAY_LINK_TTL_SECONDS (7 days)." }),
  }),
});

function paymentWhere(merchantId: string, args: { status?: PaymentState[] | null; gateway?: GatewayName | null }) {
  return {
    merchantId,
    ...(args.status?.length ? { state: { in: args.status } } : {}),
    ...(args.gateway ? { gateway: args.gateway } : {}),
  };
}

// ---- Queries --------------------------------------------------------------------------------

builder.queryField('invoices', (t) =>
  t.prismaConnection({
    type: 'Invoice',
    cursor: 'id',
    description: "The merchant's invoices, newest first.",
    args: { filter: t.arg({ type: InvoiceFilter, required: false }) },
    totalCount: (_parent, args, ctx) => ctx.deps.prisma.invoice.count({ where: invoiceWhere(merchantOf(ctx), args.filter ?? {}) }),
    resolve: (query, _parent, args, ctx) =>
      ctx.deps.prisma.invoice.findMany({
        ...query,
        where: invoiceWhere(merchantOf(ctx), args.filter ?? {}),
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      }),
  }),
);

builder.queryField('invoice', (t) =>
  t.prismaField({
    type: 'Invoice',
    nullable: true,
    description: 'One invoice with its payments; null when unknown.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) => ctx.deps.prisma.invoice.findFirst({ ...query, where: { id: String(args.id), merchantId: merchantOf(ctx) } }),
  }),
);

builder.queryField('invoicePayments', (t) =>
  t.prismaConnection({
    type: 'InvoicePayment',
    cursor: 'id',
    description: "The merchant's payments across all invoices, newest first, optionally in some statuses and through one gateway.",
    args: {
      status: t.arg({ type: [PaymentStatusEnum], required: false, description: 'Any of these statuses.' }),
      gateway: t.arg({ type: GatewayEnum, required: false }),
    },
    totalCount: (_parent, args, ctx) => ctx.deps.prisma.invoicePayment.count({ where: paymentWhere(merchantOf(ctx), args) }),
    resolve: (query, _parent, args, ctx) =>
      ctx.deps.prisma.invoicePayment.findMany({
        ...query,
        where: paymentWhere(merchantOf(ctx), args),
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      }),
  }),
);

builder.queryField('invoicePayment', (t) =>
  t.prismaField({
    type: 'InvoicePayment',
    nullable: true,
    description: 'One payment; null when unknown.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) =>
      ctx.deps.prisma.invoicePayment.findFirst({ ...query, where: { id: String(args.id), merchantId: merchantOf(ctx) } }),
  }),
);

builder.queryField('waitingInvoicePayments', (t) =>
  t.prismaField({
    type: ['InvoicePayment'],
    nullable: true,
    description: "An invoice's payments waiting at a gateway, oldest first; null when the invoice is unknown.",
    args: { invoiceId: t.arg.id({ required: true }) },
    resolve: (_query, _root, args, ctx) => waitingPayments(ctx.deps.prisma, merchantOf(ctx), String(args.invoiceId)),
  }),
);

builder.queryField('invoicePaymentsStatus', (t) =>
  t.field({
    type: StatusRef,
    description: "Counts and sums per status and gateway. An operator sees every merchant's (or `merchantId`'s); a merchant its own.",
    args: { merchantId: t.arg.id({ required: false }) },
    resolve: async (_root, args, ctx) => {
      const merchantId =
        ctx.principal?.kind === 'operator'
          ? (args.merchantId === null || args.merchantId === undefined ? null : String(args.merchantId))
          : merchantOf(ctx);
      return { merchantId, rows: await paymentsStatus(ctx.deps.prisma, merchantId) };
    },
  }),
);

// ---- Mutations ------------------------------------------------------------------------------

const idempotencyKeyArg = { description: 'Replays the first result for a repeated key; default: the Idempotency-Key header.' };

builder.mutationField('createInvoice', (t) =>
  t.field({
    type: InvoiceRef,
    errors: {},
    args: { input: t.arg({ type: CreateInvoiceInput, required: true }), idempotencyKey: t.arg.string({ required: false, ...idempotencyKeyArg }) },
    resolve: async (_root, { input, idempotencyKey }, ctx) => {
      const key = keyOf(ctx, idempotencyKey);
      return reported(ctx, key, await createInvoice(ctx.deps, merchantOf(ctx), input, key));
    },
  }),
);

builder.mutationField('requestInvoicePayment', (t) =>
  t.field({
    type: InvoicePaymentRef,
    errors: {},
    description: 'Creates a payment and sends it to the gateway: send the payer to its redirectUrl.',
    args: { input: t.arg({ type: RequestPaymentInput, required: true }), idempotencyKey: t.arg.string({ required: false, ...idempotencyKeyArg }) },
    resolve: async (_root, { input, idempotencyKey }, ctx) => {
      const key = keyOf(ctx, idempotencyKey);
      return reported(ctx, key, await requestPayment(ctx.deps, merchantOf(ctx), { ...input, invoiceId: String(input.invoiceId) }, key));
    },
  }),
);

builder.mutationField('startWaitingInvoicePayment', (t) =>
  t.field({
    type: InvoicePaymentRef,
    errors: {},
    description: 'Sends a created or waiting payment to a gateway again (the same or the other) for a fresh redirectUrl.',
    args: {
      paymentId: t.arg.id({ required: true }),
      gateway: t.arg({ type: GatewayEnum, required: true }),
      idempotencyKey: t.arg.string({ required: false, ...idempotencyKeyArg }),
    },
    resolve: async (_root, args, ctx) => {
      const key = keyOf(ctx, args.idempotencyKey);
      return reported(ctx, key, await startWaiting(ctx.deps, merchantOf(ctx), { paymentId: String(args.paymentId), gateway: args.gateway }, key));
    },
  }),
);

builder.mutationField('refundInvoicePayment', (t) =>
  t.field({
    type: InvoicePaymentRef,
    errors: {},
    description:
      'Gives a verified payment back through its gateway: whole by default; in part on shepa only. The refund is recorded as pending before the gateway is asked and confirmed by its answer; if no answer comes it stays PENDING (see `refunds`), and repeating the request asks the gateway what happened instead of refunding again.',
    args: {
      paymentId: t.arg.id({ required: true }),
      amount: t.arg({ type: 'BigInt', required: false, description: 'IRR rials; default: all that is refundable.' }),
      idempotencyKey: t.arg.string({ required: false, ...idempotencyKeyArg }),
    },
    resolve: async (_root, args, ctx) => {
      const key = keyOf(ctx, args.idempotencyKey);
      const { payment, replayed } = await refundPayment(ctx.deps, merchantOf(ctx), { paymentId: String(args.paymentId) }, args.amount ?? null, key);
      return reported(ctx, key, { value: payment, replayed });
    },
  }),
);

const RefundOutcomeEnum = builder.enumType('InvoiceRefundOutcome', {
  values: { REFUNDED: { value: 'refunded' as const }, FAILED: { value: 'failed' as const } },
});

builder.mutationField('resolveInvoicePaymentRefund', (t) =>
  t.field({
    type: InvoicePaymentRef,
    errors: {},
    description:
      "Operator only: settles what a gateway could not be asked about (shepa) after checking its panel: the payment's pending refund (REFUNDED moves the ledger), or else its return of money that could not be accepted.",
    args: {
      paymentId: t.arg.id({ required: true }),
      outcome: t.arg({ type: RefundOutcomeEnum, required: true }),
      reference: t.arg.string({ required: false, description: "The gateway's tracking reference, if known." }),
      note: t.arg.string({ required: false, description: 'Why it failed.' }),
    },
    resolve: async (_root, args, ctx) => {
      requireOperator(ctx.principal);
      const resolution =
        args.outcome === 'refunded' ? { outcome: 'refunded' as const, reference: args.reference ?? null } : { outcome: 'failed' as const, note: args.note ?? null };
      return (await resolveRefund(ctx.deps, String(args.paymentId), resolution)).payment;
    },
  }),
);

builder.mutationField('cancelInvoice', (t) =>
  t.field({
    type: InvoiceRef,
    errors: {},
    description: 'Cancels an invoice holding no money, with its created and waiting payments.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => cancelInvoice(ctx.deps, merchantOf(ctx), String(args.id)),
  }),
);

builder.mutationField('createReadyToPayLink', (t) =>
  t.field({
    type: LinkRef,
    errors: {},
    description: 'Operator only: a link that creates an invoice and its payment when the payer opens it.',
    args: { input: t.arg({ type: CreateLinkInput, required: true }) },
    resolve: (_root, { input }, ctx) => {
      requireOperator(ctx.principal);
      return createReadyToPayLink(ctx.deps, {
        merchantId: input.merchantId === null || input.merchantId === undefined ? null : String(input.merchantId),
        amount: input.amount ?? null,
        description: input.description ?? null,
        userFullName: input.userFullName,
        mobile: input.mobile,
        gateway: input.gateway ?? null,
        expiresInSeconds: input.expiresInSeconds ?? null,
      });
    },
  }),
);

builder.mutationField('reconcileInvoicePayments', (t) =>
  t.field({
    type: ReconcileRef,
    description: 'Operator only: asks the gateways about payments left waiting now, instead of at the next scheduled run.',
    args: { merchantId: t.arg.id({ required: false }) },
    resolve: (_root, args, ctx) => {
      requireOperator(ctx.principal);
      return reconcilePayments(ctx.deps, args.merchantId ? { merchantId: String(args.merchantId) } : {});
    },
  }),
);

// ---- Subscriptions --------------------------------------------------------------------------

builder.subscriptionField('invoicePaymentStatus', (t) =>
  t.field({
    type: InvoicePaymentRef,
    description: 'A payment, each time its status (or refunded amount) changes.',
    args: { id: t.arg.id({ required: true }) },
    subscribe: async (_root, args, ctx) => {
      const merchantId = merchantOf(ctx);
      if (!(await findPayment(ctx.deps.prisma, merchantId, String(args.id)))) throw notFound('Payment');
      return ctx.deps.bus.subscribe(merchantId, PAYMENT_TOPIC, String(args.id), ctx.operation);
    },
    resolve: (_event, args, ctx) => ctx.deps.prisma.invoicePayment.findUniqueOrThrow({ where: { id: String(args.id) } }),
  }),
);

builder.subscriptionField('invoiceStatus', (t) =>
  t.field({
    type: InvoiceRef,
    description: 'An invoice, each time its status changes.',
    args: { id: t.arg.id({ required: true }) },
    subscribe: async (_root, args, ctx) => {
      const merchantId = merchantOf(ctx);
      if (!(await findInvoice(ctx.deps.prisma, merchantId, String(args.id)))) throw notFound('Invoice');
      return ctx.deps.bus.subscribe(merchantId, INVOICE_TOPIC, String(args.id), ctx.operation);
    },
    resolve: (_event, args, ctx) => ctx.deps.prisma.invoice.findUniqueOrThrow({ where: { id: String(args.id) } }),
  }),
);

const PAYMENT_EVENTS = new Set([
  ...PAYMENT_STATES.map((state) => `payment.${state}`),
  'payment.refund_pending',
  'payment.refund_failed',
  'payment.returned',
  'payment.return_pending',
  'payment.return_unknown',
  'payment.return_failed',
]);

interface PaymentChange {
  event: EventMessage;
  payment: InvoicePayment;
}

const PaymentChangeRef = builder.objectRef<PaymentChange>('InvoicePaymentChange').implement({
  description: 'A payment status change, with the payment as it is now.',
  fields: (t) => ({
    eventId: t.id({ description: 'Pass the last one seen as `after` to resume.', resolve: (change) => change.event.id }),
    type: t.string({
      description: 'payment.<status> (payment.created, payment.waiting, payment.verified, …), payment.refund_pending, payment.refund_failed, and payment.returned, payment.return_pending, payment.return_unknown, payment.return_failed for money returned that could not be accepted.',
      resolve: (change) => change.event.type,
    }),
    occurredAt: t.field({ type: 'DateTime', resolve: (change) => new Date(change.event.occurredAt) }),
    payment: t.field({ type: InvoicePaymentRef, resolve: (change) => change.payment }),
  }),
});

async function* paymentChanges(deps: Deps, merchantId: string, after: bigint | null, scope: SubscriptionScope): AsyncGenerator<PaymentChange> {
  for await (const event of merchantEvents(deps, merchantId, after, scope)) {
    if (!PAYMENT_EVENTS.has(event.type)) continue;
    // Other domains may name events payment.*; only this domain's payments are shown.
    const payment = await findPayment(deps.prisma, merchantId, event.objectId);
    if (payment) yield { event, payment };
  }
}

builder.subscriptionField('invoicePaymentStatusChanges', (t) =>
  t.field({
    type: PaymentChangeRef,
    description: "Every status change of the merchant's invoice payments (for dashboards).",
    args: { after: t.arg.id({ required: false, description: 'An eventId: first replay what came after it.' }) },
    subscribe: (_root, args, ctx) => {
      const merchantId = merchantOf(ctx);
      return withEventIds(ctx, paymentChanges(ctx.deps, merchantId, resumePosition(ctx, args.after), ctx.operation), (change) => change.event.id);
    },
    resolve: (change) => change,
  }),
);
