import type { InterfaceRef } from '@pothos/core';
import { requireMerchant } from '../../auth/principal.ts';
import type { Db } from '../../db/database.ts';
import { merchantEvents } from '../../events/graphql.ts';
import { notFound } from '../../errors.ts';
import { builder, ErrorInterface } from '../../graphql/builder.ts';
import type { GraphQLContext } from '../../graphql/context.ts';
import { balance, findAccountsByName, type Account } from '../../ledger/ledger.ts';
import { CHARGE_FAILURES, MAX_BATCH_SIZE, PocketChargeError, type ChargeFailure } from './charge-failures.ts';
import {
  chargePockets,
  chargeTotals,
  findCharge,
  findPocket,
  findPocketGroup,
  fundingAccountName,
  fundingOf,
  POCKET_CHARGED,
  POCKET_TOPIC,
  pocketAccountName,
  type ChargeTotals,
} from './service.ts';

const need = { scope: 'pockets' } as const;

// Ledger accounts shown in one response are fetched together: every field resolved in the same
// turn of the event loop joins one query. Nothing is cached, since a subscription's context lives
// as long as the subscription and must show fresh balances.
const accountBatches = new WeakMap<GraphQLContext, (merchantId: string, name: string) => Promise<Account>>();

interface AccountRequest {
  merchantId: string;
  name: string;
  resolve: (account: Account) => void;
  reject: (error: unknown) => void;
}

function batchAccounts(db: Db) {
  let pending: AccountRequest[] | null = null;
  const flush = async (batch: AccountRequest[]) => {
    for (const merchantId of new Set(batch.map((request) => request.merchantId))) {
      const requests = batch.filter((request) => request.merchantId === merchantId);
      try {
        const accounts = await findAccountsByName(db, merchantId, [...new Set(requests.map((request) => request.name))]);
        for (const request of requests) {
          const account = accounts.get(request.name);
          if (account) request.resolve(account);
          else request.reject(new Error(`ledger account ${request.name} is missing`));
        }
      } catch (error) {
        for (const request of requests) request.reject(error);
      }
    }
  };
  return (merchantId: string, name: string) =>
    new Promise<Account>((resolve, reject) => {
      if (!pending) {
        const batch: AccountRequest[] = [];
        pending = batch;
        setImmediate(() => {
          pending = null;
          void flush(batch);
        });
      }
      pending.push({ merchantId, name, resolve, reject });
    });
}

function loadAccount(ctx: GraphQLContext, merchantId: string, name: string): Promise<Account> {
  let load = accountBatches.get(ctx);
  if (!load) accountBatches.set(ctx, (load = batchAccounts(ctx.deps.prisma)));
  return load(merchantId, name);
}

const ChargeStatus = builder.enumType('PocketChargeStatus', {
  values: { SUCCESS: { value: 'success' }, ERROR: { value: 'error' } } as const,
});

const ChargeFailureEnum = builder.enumType('PocketChargeFailure', {
  description: 'Why one charge of a batch failed.',
  values: Object.fromEntries(
    Object.entries(CHARGE_FAILURES).map(([reason, failure]) => [reason, { value: reason as ChargeFailure, description: failure.message }]),
  ) as Record<ChargeFailure, { value: ChargeFailure; description: string }>,
});

export const PocketGroupRef = builder.prismaObject('PocketGroup', {
  description: "A merchant's group of pockets, charged from one funding account, known by its slug.",
  fields: (t) => ({
    id: t.exposeID('id'),
    slug: t.exposeString('slug'),
    name: t.exposeString('name', { nullable: true }),
    currency: t.exposeString('currency'),
    cap: t.expose('cap', {
      type: 'BigInt',
      nullable: true,
      description: 'The most the group may charge in all, in minor units; null: no cap (the merchant funds whatever is charged).',
    }),
    spent: t.field({
      type: 'BigInt',
      description: "What the group's charges have moved so far.",
      resolve: async (group, _args, ctx) => fundingOf(group, await loadAccount(ctx, group.merchantId, fundingAccountName(group.id))).spent,
    }),
    remaining: t.field({
      type: 'BigInt',
      nullable: true,
      description: 'What the cap still allows; null without a cap.',
      resolve: async (group, _args, ctx) => fundingOf(group, await loadAccount(ctx, group.merchantId, fundingAccountName(group.id))).remaining,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    pockets: t.relatedConnection('pockets', { cursor: 'id', totalCount: true, query: { orderBy: { id: 'asc' } } }),
    charges: t.relatedConnection('charges', {
      cursor: 'id',
      totalCount: true,
      description: 'Recorded charges, newest first.',
      query: { orderBy: { id: 'desc' } },
    }),
  }),
});

export const PocketRef = builder.prismaObject('Pocket', {
  description: "One user's balance in one pocket group.",
  fields: (t) => ({
    id: t.exposeID('id'),
    phoneNumber: t.exposeString('phoneNumber', { description: 'Canonical: 98 and the ten digits of the mobile number.' }),
    group: t.relation('group'),
    balance: t.field({
      type: 'BigInt',
      description: "In minor units of the group's currency.",
      resolve: async (pocket, _args, ctx) => balance(await loadAccount(ctx, pocket.merchantId, pocketAccountName(pocket.groupId, pocket.phoneNumber))),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    charges: t.relatedConnection('charges', { cursor: 'id', totalCount: true, description: 'Newest first.', query: { orderBy: { id: 'desc' } } }),
  }),
});

export const PocketChargeRef = builder.prismaObject('PocketCharge', {
  description: "A token's recorded charge: the first judgement of that token, which replays answer.",
  fields: (t) => ({
    id: t.exposeID('id'),
    token: t.exposeString('token', { description: 'The client\'s UUIDv7, lowercase.' }),
    phoneNumber: t.exposeString('phoneNumber', { description: 'Canonical when valid; as sent for a failed charge.' }),
    amount: t.expose('amount', { type: 'BigInt', nullable: true, description: 'null only for a failed charge whose amount was not an integer.' }),
    status: t.field({ type: ChargeStatus, resolve: (charge) => charge.status as 'success' | 'error' }),
    failure: t.field({ type: ChargeFailureEnum, nullable: true, resolve: (charge) => charge.errorCode as ChargeFailure | null }),
    group: t.relation('group'),
    pocket: t.relation('pocket', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

// The Error interface is typed for AppError but reads only `code` and `message`, which a
// PocketChargeError has too (it is no AppError: see its class).
type BuilderTypes = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer Types> ? Types : never;
const ErrorLike = ErrorInterface as unknown as InterfaceRef<BuilderTypes, Pick<PocketChargeError, 'code' | 'message'>>;

builder.objectType(PocketChargeError, {
  name: 'PocketChargeError',
  description: 'One item of a batch that failed, and why; the other items are not affected.',
  interfaces: [ErrorLike],
  isTypeOf: (value) => value instanceof PocketChargeError,
  fields: (t) => ({
    field: t.exposeString('field', { nullable: true, description: 'The input at fault: token, phoneNumber or amount.' }),
    reason: t.field({ type: ChargeFailureEnum, resolve: (error) => error.reason }),
    messageFa: t.string({ description: 'The message in Persian, as the legacy REST API words it.', resolve: (error) => error.messageFa }),
    index: t.exposeInt('index', { description: "The item's position in the batch, from 0." }),
    // Non-null like PocketCharge's fields of the same names, so one selection covers both members of
    // the result union; GraphQL input makes both strings (only the legacy route can send others).
    token: t.string({ description: 'As sent (lowercase when valid).', resolve: (error) => error.token ?? '' }),
    phoneNumber: t.string({ description: 'Canonical when valid, otherwise as sent.', resolve: (error) => error.phoneNumber ?? '' }),
    amount: t.expose('amount', { type: 'BigInt', nullable: true }),
  }),
});

const ChargeResult = builder.unionType('PocketChargeResult', {
  description: 'The outcome of one item of a batch.',
  types: [PocketChargeRef, PocketChargeError],
  resolveType: (value) => (value instanceof PocketChargeError ? PocketChargeError : PocketChargeRef),
});

const ChargeInput = builder.inputType('PocketChargeInput', {
  fields: (t) => ({
    token: t.string({ required: true, description: 'A UUID version 7 (RFC 9562); used once per merchant, forever.' }),
    phoneNumber: t.string({ required: true, description: '989120000000, 09120000000 or +989120000000.' }),
    amount: t.field({ type: 'BigInt', required: true, description: 'Minor units (rials for IRR).' }),
  }),
});

builder.queryField('pocketGroups', (t) =>
  t.prismaConnection({
    type: 'PocketGroup',
    cursor: 'id',
    description: "The calling merchant's pocket groups, oldest first.",
    totalCount: (_parent, _args, ctx) => {
      const merchant = requireMerchant(ctx.principal, need);
      return ctx.deps.prisma.pocketGroup.count({ where: { merchantId: merchant.merchantId } });
    },
    resolve: (query, _root, _args, ctx) => {
      const merchant = requireMerchant(ctx.principal, need);
      return ctx.deps.prisma.pocketGroup.findMany({ ...query, where: { merchantId: merchant.merchantId }, orderBy: { id: 'asc' } });
    },
  }),
);

builder.queryField('pocketGroup', (t) =>
  t.prismaField({
    type: 'PocketGroup',
    nullable: true,
    description: 'One of your pocket groups by slug; null when unknown (or another merchant\'s).',
    args: { slug: t.arg.string({ required: true }) },
    resolve: (query, _root, args, ctx) => {
      const merchant = requireMerchant(ctx.principal, need);
      return ctx.deps.prisma.pocketGroup.findUnique({ ...query, where: { merchantId_slug: { merchantId: merchant.merchantId, slug: args.slug } } });
    },
  }),
);

builder.queryField('pocket', (t) =>
  t.field({
    type: PocketRef,
    nullable: true,
    description: "A user's pocket in one of your groups, by phone number (any accepted form); null when it was never charged.",
    args: { groupSlug: t.arg.string({ required: true }), phoneNumber: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => findPocket(ctx.deps.prisma, requireMerchant(ctx.principal, need).merchantId, args.groupSlug, args.phoneNumber),
  }),
);

builder.queryField('pocketCharge', (t) =>
  t.field({
    type: PocketChargeRef,
    nullable: true,
    description: 'Your recorded charge with this token, in any group, succeeded or failed; null when the token was never recorded.',
    args: { token: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => findCharge(ctx.deps.prisma, requireMerchant(ctx.principal, need).merchantId, args.token),
  }),
);

builder.queryField('pocketCharges', (t) =>
  t.prismaConnection({
    type: 'PocketCharge',
    cursor: 'id',
    description: 'Your recorded charges in every group, newest first, optionally of one status.',
    args: { status: t.arg({ type: ChargeStatus, required: false }) },
    totalCount: (_parent, args, ctx) =>
      ctx.deps.prisma.pocketCharge.count({ where: { merchantId: requireMerchant(ctx.principal, need).merchantId, ...(args.status ? { status: args.status } : {}) } }),
    resolve: (query, _root, args, ctx) =>
      ctx.deps.prisma.pocketCharge.findMany({
        ...query,
        where: { merchantId: requireMerchant(ctx.principal, need).merchantId, ...(args.status ? { status: args.status } : {}) },
        orderBy: { id: 'desc' },
      }),
  }),
);

const ChargeTotalsRef = builder.objectRef<ChargeTotals>('PocketChargeTotals').implement({
  description: "How many charges one group recorded with one status, and their amount in minor units of the group's currency.",
  fields: (t) => ({
    group: t.field({ type: PocketGroupRef, resolve: (totals, _args, ctx) => ctx.deps.prisma.pocketGroup.findUniqueOrThrow({ where: { id: totals.groupId } }) }),
    currency: t.exposeString('currency'),
    status: t.field({ type: ChargeStatus, resolve: (totals) => totals.status }),
    count: t.exposeInt('count'),
    amount: t.field({ type: 'BigInt', description: 'Failed charges count here with the amount they asked for.', resolve: (totals) => totals.amount }),
  }),
});

builder.queryField('pocketChargeTotals', (t) =>
  t.field({
    type: [ChargeTotalsRef],
    description: 'Counts and sums of your recorded charges per group and status, for dashboards; groups without charges are left out.',
    resolve: (_root, _args, ctx) => chargeTotals(ctx.deps.prisma, requireMerchant(ctx.principal, need).merchantId),
  }),
);

builder.mutationField('chargePockets', (t) =>
  t.field({
    type: [ChargeResult],
    errors: {},
    description:
      `Charges pockets of one group, at most ${MAX_BATCH_SIZE} items. Every item is judged on its own and answered in order, ` +
      'as a PocketCharge or a PocketChargeError. A token is the idempotency key: sending the same charge again answers its first result ' +
      'and moves nothing; reusing a token for another charge answers DUPLICATE_TOKEN.',
    args: { groupSlug: t.arg.string({ required: true }), charges: t.arg({ type: [ChargeInput], required: true }) },
    resolve: (_root, args, ctx) => chargePockets(ctx.deps, requireMerchant(ctx.principal, need).merchantId, args.groupSlug, args.charges),
  }),
);

async function* chargesOfGroup(ctx: GraphQLContext, merchantId: string, groupId: string) {
  for await (const event of merchantEvents(ctx.deps, merchantId, null, ctx.operation)) {
    if (event.type === POCKET_CHARGED && event.data.groupId === groupId) yield event;
  }
}

builder.subscriptionField('pocketCharged', (t) =>
  t.field({
    type: PocketChargeRef,
    description: 'Successful charges in one of your groups, as they are applied.',
    args: { groupSlug: t.arg.string({ required: true }) },
    subscribe: async (_root, args, ctx) => {
      const merchant = requireMerchant(ctx.principal, need);
      const group = await findPocketGroup(ctx.deps.prisma, merchant.merchantId, args.groupSlug);
      if (!group) throw notFound('Pocket group');
      return chargesOfGroup(ctx, merchant.merchantId, group.id);
    },
    resolve: (event, _args, ctx) => ctx.deps.prisma.pocketCharge.findUniqueOrThrow({ where: { id: String(event.data.chargeId) } }),
  }),
);

builder.subscriptionField('pocketBalanceChanged', (t) =>
  t.field({
    type: PocketRef,
    description: 'One of your pockets, with its balance, each time a charge changes it.',
    args: { pocketId: t.arg.id({ required: true }) },
    subscribe: async (_root, args, ctx) => {
      const merchant = requireMerchant(ctx.principal, need);
      const pocket = await ctx.deps.prisma.pocket.findFirst({ where: { id: String(args.pocketId), merchantId: merchant.merchantId } });
      if (!pocket) throw notFound('Pocket');
      return ctx.deps.bus.subscribe(merchant.merchantId, POCKET_TOPIC, pocket.id, ctx.operation);
    },
    resolve: (event, _args, ctx) => ctx.deps.prisma.pocket.findUniqueOrThrow({ where: { id: event.objectId } }),
  }),
);
