import { requireMerchant, type MerchantPrincipal } from '../../auth/principal.ts';
import { filter, pipe } from 'graphql-yoga';
import { MERCHANT_STREAM, type EventMessage } from '../../events/bus.ts';
import { notFound } from '../../errors.ts';
import { builder } from '../../graphql/builder.ts';
import type { GraphQLContext } from '../../graphql/context.ts';
import type { PaymentState } from './state-machine.ts';
import {
  PAYMENT_TOPIC,
  commitRechargePayment,
  createRechargePayment,
  findRechargePayment,
  findRechargeProvider,
  parameterDefinitions,
  paymentTotals,
  paymentWhere,
  rechargeBalance,
  rollbackRechargePayment,
  settleExpiredPayments,
  updateRechargePayment,
  type PaymentFilter,
  type PaymentResult,
  type PaymentTotals,
} from './service.ts';
import { checkCurrency, parseUserId, type ParameterDefinition } from './validation.ts';

const readProviders = (ctx: GraphQLContext) => requireMerchant(ctx.principal, { scope: 'credit' });
const managePayments = (ctx: GraphQLContext) => requireMerchant(ctx.principal, { scope: 'credit', right: 'Manage payments' });

/** The mutation's own key wins over the Idempotency-Key header; a replay is reported in `extensions`. */
async function withIdempotency(
  ctx: GraphQLContext,
  argument: string | null | undefined,
  run: (merchant: MerchantPrincipal, key: string | null) => Promise<PaymentResult>,
) {
  const merchant = managePayments(ctx);
  const key = argument ?? ctx.idempotencyKey;
  const result = await run(merchant, key);
  if (key) ctx.idempotency.push({ key, replayed: result.replayed });
  return result.payment;
}

const ParameterTypeEnum = builder.enumType('RechargeParameterType', {
  description: 'What the string value of a payment parameter must spell.',
  values: {
    STRING: { value: 'string' },
    INTEGER: { value: 'integer', description: 'Digits, with an optional leading minus.' },
    BOOLEAN: { value: 'boolean', description: '"true" or "false".' },
  } as const,
});

const PaymentStateEnum = builder.enumType('RechargePaymentState', {
  values: {
    PENDING: { value: 'pending', description: 'Created; the amount is reserved for the user but not in their balance.' },
    COMMITTED: { value: 'committed', description: "Posted: the amount is in the user's balance." },
    ROLLED_BACK: { value: 'rolled_back', description: 'Voided, by request or by expiry (reason `expired`).' },
  } as const,
});

const ParameterRef = builder.objectRef<ParameterDefinition>('RechargeParameter').implement({
  description: 'A parameter that payments through a provider take, as a string value in `params`.',
  fields: (t) => ({
    name: t.exposeString('name'),
    type: t.field({ type: ParameterTypeEnum, resolve: (definition) => definition.type }),
    required: t.exposeBoolean('required'),
    fixed: t.string({
      nullable: true,
      description: 'The value the provider fixes; payments get it whether they give it or not.',
      resolve: (definition) => definition.fixed ?? null,
    }),
  }),
});

builder.prismaObject('RechargeProvider', {
  description: "A recharge provider the merchant configured: payments through it credit an end user's account.",
  fields: (t) => ({
    id: t.exposeID('id'),
    reference: t.exposeString('reference', { description: "The merchant's identifier for the provider, unique per merchant." }),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    currency: t.exposeString('currency'),
    expiresInSeconds: t.exposeInt('expiresInSeconds', { description: 'How long a payment stays committable after it was created.' }),
    params: t.field({
      type: [ParameterRef],
      description: 'The parameters its payments take; `amount` is always among them.',
      resolve: (provider) => parameterDefinitions(provider),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    payments: t.prismaConnection(
      {
        type: 'RechargePayment',
        cursor: 'id',
        description: 'Payments through this provider, newest first. Needs the right "Manage payments".',
        args: {
          state: t.arg({ type: PaymentStateEnum, required: false }),
          userId: t.arg.id({ required: false }),
          createdFrom: t.arg({ type: 'DateTime', required: false, description: 'Created at or after this instant.' }),
          createdTo: t.arg({ type: 'DateTime', required: false, description: 'Created before this instant.' }),
        },
        totalCount: (provider, args, ctx) => ctx.deps.prisma.rechargePayment.count({ where: paymentWhere(provider, filterOf(args)) }),
        resolve: async (query, provider, args, ctx) => {
          managePayments(ctx);
          await settleExpiredPayments(ctx.deps, provider);
          return ctx.deps.prisma.rechargePayment.findMany({ ...query, where: paymentWhere(provider, filterOf(args)), orderBy: { paymentNo: 'desc' } });
        },
      },
      {},
      {},
    ),
  }),
});

function filterOf(args: { state?: PaymentState | null; userId?: string | number | null; createdFrom?: Date | null; createdTo?: Date | null }): PaymentFilter {
  return {
    state: args.state ?? null,
    userId: args.userId === null || args.userId === undefined ? null : parseUserId(String(args.userId)),
    createdFrom: args.createdFrom ?? null,
    createdTo: args.createdTo ?? null,
  };
}

const PaymentRef = builder.prismaObject('RechargePayment', {
  description: "A payment crediting an end user through a provider: pending until committed or rolled back.",
  fields: (t) => ({
    id: t.exposeID('id'),
    paymentNo: t.exposeInt('paymentNo', { description: 'Sequential per provider, from 1.' }),
    userId: t.id({ description: "The merchant's end user credited.", resolve: (payment) => payment.userId.toString() }),
    amount: t.expose('amount', { type: 'BigInt', description: 'Minor units.' }),
    currency: t.exposeString('currency'),
    state: t.field({ type: PaymentStateEnum, resolve: (payment) => payment.state as PaymentState }),
    description: t.exposeString('description'),
    params: t.expose('params', { type: 'JSON', description: 'The parameter values, a map of strings.' }),
    reason: t.exposeString('reason', { nullable: true, description: 'Why it was rolled back; `expired` when the expiry did it.' }),
    expired: t.exposeBoolean('expired', { description: 'Rolled back by the expiry rather than by a request.' }),
    provider: t.relation('provider'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'Past this instant an uncommitted payment is rolled back.' }),
    committedAt: t.expose('committedAt', { type: 'DateTime', nullable: true }),
    rolledBackAt: t.expose('rolledBackAt', { type: 'DateTime', nullable: true }),
  }),
});

const BalanceRef = builder
  .objectRef<{ userId: bigint; currency: string; balance: bigint; pending: bigint }>('RechargeBalance')
  .implement({
    description: "An end user's recharge account.",
    fields: (t) => ({
      userId: t.id({ resolve: (account) => account.userId.toString() }),
      currency: t.exposeString('currency'),
      balance: t.expose('balance', { type: 'BigInt', description: 'Committed payments only.' }),
      pending: t.expose('pending', { type: 'BigInt', description: 'Payments still pending: not in the balance.' }),
    }),
  });

builder.queryField('rechargeProviders', (t) =>
  t.prismaField({
    type: ['RechargeProvider'],
    description: "The merchant's recharge providers. Needs the scope `credit`.",
    resolve: async (query, _root, _args, ctx) => {
      const merchant = readProviders(ctx);
      return ctx.deps.prisma.rechargeProvider.findMany({
        ...query,
        where: { merchantId: merchant.merchantId },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      });
    },
  }),
);

builder.queryField('rechargeProvider', (t) =>
  t.prismaField({
    type: 'RechargeProvider',
    nullable: true,
    description: 'One recharge provider by its reference; null when there is none.',
    args: { reference: t.arg.string({ required: true }) },
    resolve: async (query, _root, args, ctx) => {
      const merchant = readProviders(ctx);
      return ctx.deps.prisma.rechargeProvider.findUnique({
        ...query,
        where: { merchantId_reference: { merchantId: merchant.merchantId, reference: args.reference } },
      });
    },
  }),
);

builder.queryField('rechargePayment', (t) =>
  t.prismaField({
    type: 'RechargePayment',
    nullable: true,
    description: 'One recharge payment; null when unknown or not this merchant\'s. Needs the right "Manage payments".',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_query, _root, args, ctx) => findRechargePayment(ctx.deps, managePayments(ctx).merchantId, String(args.id)),
  }),
);

builder.queryField('rechargePayments', (t) =>
  t.prismaConnection({
    type: 'RechargePayment',
    cursor: 'id',
    description: 'Payments through all your providers, newest first. Needs the right "Manage payments".',
    args: { state: t.arg({ type: PaymentStateEnum, required: false }) },
    totalCount: (_root, args, ctx) =>
      ctx.deps.prisma.rechargePayment.count({ where: { merchantId: managePayments(ctx).merchantId, ...(args.state ? { state: args.state } : {}) } }),
    resolve: async (query, _root, args, ctx) => {
      const merchant = managePayments(ctx);
      await settleExpiredOfMerchant(ctx, merchant.merchantId);
      return ctx.deps.prisma.rechargePayment.findMany({
        ...query,
        where: { merchantId: merchant.merchantId, ...(args.state ? { state: args.state } : {}) },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      });
    },
  }),
);

const TotalsRef = builder.objectRef<PaymentTotals>('RechargePaymentTotals').implement({
  description: "How many payments through one provider are in one state, and their amount in the provider's currency (minor units).",
  fields: (t) => ({
    provider: t.prismaField({
      type: 'RechargeProvider',
      resolve: (query, totals, _args, ctx) => ctx.deps.prisma.rechargeProvider.findUniqueOrThrow({ ...query, where: { id: totals.providerId } }),
    }),
    currency: t.exposeString('currency'),
    state: t.field({ type: PaymentStateEnum, resolve: (totals) => totals.state }),
    count: t.exposeInt('count'),
    amount: t.field({ type: 'BigInt', resolve: (totals) => totals.amount }),
  }),
});

builder.queryField('rechargePaymentTotals', (t) =>
  t.field({
    type: [TotalsRef],
    description: 'Counts and sums of your payments per provider and state, for dashboards; empty pairs are left out. Needs the right "Manage payments".',
    resolve: async (_root, _args, ctx) => {
      const merchant = managePayments(ctx);
      await settleExpiredOfMerchant(ctx, merchant.merchantId);
      return paymentTotals(ctx.deps.prisma, merchant.merchantId);
    },
  }),
);

/** Payments past their expiry are rolled back when read, so that no listing shows them pending. */
async function settleExpiredOfMerchant(ctx: GraphQLContext, merchantId: string): Promise<void> {
  const providers = await ctx.deps.prisma.rechargeProvider.findMany({ where: { merchantId }, select: { id: true, merchantId: true } });
  for (const provider of providers) await settleExpiredPayments(ctx.deps, provider);
}

builder.queryField('rechargeBalance', (t) =>
  t.field({
    type: BalanceRef,
    description: "An end user's recharge balance in one currency: committed payments only, pending ones apart.",
    args: { userId: t.arg.id({ required: true }), currency: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) =>
      rechargeBalance(ctx.deps.prisma, {
        merchantId: managePayments(ctx).merchantId,
        userId: parseUserId(String(args.userId)),
        currency: checkCurrency(args.currency),
      }),
  }),
);

builder.mutationField('createRechargePayment', (t) =>
  t.field({
    type: PaymentRef,
    errors: {},
    description: 'Creates a pending payment crediting a user through a provider; commit it to make it effective.',
    args: {
      provider: t.arg.string({ required: true, description: "The provider's reference." }),
      userId: t.arg.id({ required: true }),
      description: t.arg.string({ required: false }),
      params: t.arg({ type: 'JSON', required: true, description: 'Parameter values, e.g. {"amount": "50000"}.' }),
      idempotencyKey: t.arg.string({ required: false, description: 'Replays the first result for a repeated key; defaults to the Idempotency-Key header.' }),
    },
    resolve: (_root, args, ctx) =>
      withIdempotency(ctx, args.idempotencyKey, (merchant, key) =>
        createRechargePayment(ctx.deps, {
          merchantId: merchant.merchantId,
          providerReference: args.provider,
          userId: String(args.userId),
          description: args.description ?? null,
          params: args.params,
          idempotencyKey: key,
        }),
      ),
  }),
);

builder.mutationField('updateRechargePayment', (t) =>
  t.field({
    type: PaymentRef,
    errors: {},
    description: 'Changes a pending payment\'s description or parameters (replaced as a whole; a new amount is reserved anew).',
    args: {
      id: t.arg.id({ required: true }),
      description: t.arg.string({ required: false }),
      params: t.arg({ type: 'JSON', required: false }),
      idempotencyKey: t.arg.string({ required: false, description: 'Replays the first result for a repeated key; defaults to the Idempotency-Key header.' }),
    },
    resolve: (_root, args, ctx) =>
      withIdempotency(ctx, args.idempotencyKey, (merchant, key) =>
        updateRechargePayment(ctx.deps, {
          merchantId: merchant.merchantId,
          paymentId: String(args.id),
          description: args.description ?? null,
          params: args.params ?? null,
          idempotencyKey: key,
        }),
      ),
  }),
);

builder.mutationField('commitRechargePayment', (t) =>
  t.field({
    type: PaymentRef,
    errors: {},
    description: "Commits a pending payment: its amount enters the user's balance, once. Committing again answers the same.",
    args: {
      id: t.arg.id({ required: true }),
      idempotencyKey: t.arg.string({ required: false, description: 'Replays the first result for a repeated key; defaults to the Idempotency-Key header.' }),
    },
    resolve: (_root, args, ctx) =>
      withIdempotency(ctx, args.idempotencyKey, (merchant, key) =>
        commitRechargePayment(ctx.deps, { merchantId: merchant.merchantId, paymentId: String(args.id), idempotencyKey: key }),
      ),
  }),
);

builder.mutationField('rollbackRechargePayment', (t) =>
  t.field({
    type: PaymentRef,
    errors: {},
    description: 'Rolls back a pending payment, keeping the reason. Rolling back again answers the same.',
    args: {
      id: t.arg.id({ required: true }),
      reason: t.arg.string({ required: true }),
      idempotencyKey: t.arg.string({ required: false, description: 'Replays the first result for a repeated key; defaults to the Idempotency-Key header.' }),
    },
    resolve: (_root, args, ctx) =>
      withIdempotency(ctx, args.idempotencyKey, (merchant, key) =>
        rollbackRechargePayment(ctx.deps, { merchantId: merchant.merchantId, paymentId: String(args.id), reason: args.reason, idempotencyKey: key }),
      ),
  }),
);

const PaymentChangeRef = builder.objectRef<EventMessage>('RechargePaymentChange').implement({
  description: 'A recharge payment changed; `payment` is read when the change is delivered.',
  fields: (t) => ({
    eventId: t.exposeID('id', { description: 'The event log id, ordered.' }),
    type: t.exposeString('type', {
      description: 'recharge.created, recharge.updated, recharge.committed, recharge.rolled_back or recharge.expired.',
    }),
    occurredAt: t.field({ type: 'DateTime', resolve: (event) => new Date(event.occurredAt) }),
    payment: t.prismaField({
      type: 'RechargePayment',
      resolve: (query, event, _args, ctx) => ctx.deps.prisma.rechargePayment.findUniqueOrThrow({ ...query, where: { id: event.objectId } }),
    }),
  }),
});

builder.subscriptionField('rechargePaymentChanged', (t) =>
  t.field({
    type: PaymentChangeRef,
    description: "One payment's changes of state as they happen. Needs the right \"Manage payments\".",
    args: { id: t.arg.id({ required: true }) },
    subscribe: async (_root, args, ctx) => {
      const merchant = managePayments(ctx);
      const id = String(args.id);
      const owned = await ctx.deps.prisma.rechargePayment.findFirst({ where: { id, merchantId: merchant.merchantId }, select: { id: true } });
      if (!owned) throw notFound('Recharge payment');
      return ctx.deps.bus.subscribe(merchant.merchantId, PAYMENT_TOPIC, id, ctx.operation);
    },
    resolve: (event) => event,
  }),
);

builder.subscriptionField('rechargePaymentsChanged', (t) =>
  t.field({
    type: PaymentChangeRef,
    description: 'Every change of every payment through one provider, for dashboards. Needs the right "Manage payments".',
    args: { provider: t.arg.string({ required: true, description: "The provider's reference." }) },
    subscribe: async (_root, args, ctx) => {
      const merchant = managePayments(ctx);
      const provider = await findRechargeProvider(ctx.deps.prisma, merchant.merchantId, args.provider);
      if (!provider) throw notFound('Recharge provider');
      // Live only, so no ordering by event id: events published by several instances may arrive out of order.
      return pipe(
        ctx.deps.bus.subscribe(merchant.merchantId, MERCHANT_STREAM, merchant.merchantId, ctx.operation),
        filter((event: EventMessage) => event.type.startsWith('recharge.') && event.data.providerId === provider.id),
      );
    },
    resolve: (event) => event,
  }),
);
