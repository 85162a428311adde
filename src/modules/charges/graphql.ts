import { requireMerchant, type MerchantPrincipal } from '../../auth/principal.ts';
import type { EventMessage } from '../../events/bus.ts';
import { merchantEvents } from '../../events/graphql.ts';
import { streamPosition } from '../../events/outbox.ts';
import { invalid, notFound } from '../../errors.ts';
import { builder } from '../../graphql/builder.ts';
import type { GraphQLContext } from '../../graphql/context.ts';
import { callbackSecret, redeliverCallback, rotateCallbackSecret } from './callbacks.ts';
import { formatCpfCnpj, parseCpfCnpj } from './cpf-cnpj.ts';
import { parseIsoDate } from './dates.ts';
import {
  CHARGE_STATUSES,
  CHARGE_TYPES,
  fromDbDate,
  INSTALLMENT_STATUSES,
  PAYMENT_METHODS,
  remainingOf,
  type ChargeStatus,
} from './model.ts';
import { chargesRuntime } from './runtime.ts';
import { INTERVALS } from './schedule.ts';
import {
  callbackUrlCheck,
  chargeTotals,
  chargeWhere,
  createCharge,
  deactivateCharge,
  paymentLinkOf,
  parseChargeId,
  recordExternalPayment,
  updateCharge,
  type ChargeFilter,
  type ChargeTotals,
} from './service.ts';
import { validateChargeChanges, validateNewCharge } from './validation.ts';

const need = { scope: 'charges' } as const;
const merchantOf = (ctx: GraphQLContext): MerchantPrincipal => requireMerchant(ctx.principal, need);

const enumOf = <T extends string>(values: readonly T[], descriptions: Partial<Record<T, string>> = {}) =>
  Object.fromEntries(values.map((value) => [value.toUpperCase(), { value, description: descriptions[value] }])) as Record<
    Uppercase<T>,
    { value: T; description?: string }
  >;

const ChargeStatusEnum = builder.enumType('ChargeStatus', {
  description: 'Worked out from the installments and the calendar; see docs/charges.md for the rules.',
  values: enumOf(CHARGE_STATUSES, {
    pending: 'Nothing overdue; nothing paid yet (normal), or an issued occurrence awaits payment (recurring).',
    paid: 'Normal: every installment paid. Recurring: every occurrence issued so far is paid.',
    partially_paid: 'Normal: some installments paid, none overdue.',
    overdue: 'An installment is past its due date and unpaid.',
    canceled: 'Deactivated before it was paid in full.',
    finished: 'Recurring: the last occurrence (last_charge_date) is issued and everything is paid.',
  }),
});
const ChargeTypeEnum = builder.enumType('ChargeType', { values: enumOf(CHARGE_TYPES) });
const ChargeIntervalEnum = builder.enumType('ChargeInterval', { values: enumOf(INTERVALS) });
const InstallmentStatusEnum = builder.enumType('ChargeInstallmentStatus', { values: enumOf(INSTALLMENT_STATUSES) });
const PaymentMethodEnum = builder.enumType('ChargePaymentMethod', {
  values: enumOf(PAYMENT_METHODS, {
    payment_link: "The payer paid by card through the charge's payment link.",
    auto_debit: 'The scheduler debited the card on file on the due date.',
    external: 'The merchant recorded a payment received elsewhere (payChargeInstallment).',
  }),
});
const DeliveryStatusEnum = builder.enumType('ChargeCallbackStatus', {
  values: {
    PENDING: { value: 'pending', description: 'Not delivered yet; retried until 24 h after it was queued.' },
    DELIVERED: { value: 'delivered', description: 'The receiver answered 2xx.' },
    FAILED: { value: 'failed', description: 'Given up: retries ran out, or the URL is now refused.' },
  } as const,
});

const dateDescription = 'A calendar date, YYYY-MM-DD.';

export const ChargeCustomerRef = builder.prismaObject('ChargeCustomer', {
  description: "A payer of the merchant's charges, found again by CPF/CNPJ.",
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    cpfCnpj: t.string({ nullable: true, description: 'Formatted: 852.391.120-02, 12.345.678/0001-95.', resolve: (customer) => customer.cpfCnpj && formatCpfCnpj(customer.cpfCnpj) }),
    phone: t.exposeString('phone', { nullable: true, description: 'Digits: area code and number.' }),
    email: t.exposeString('email', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    charges: t.relatedConnection('charges', { cursor: 'id', totalCount: true, description: 'Newest first.', query: { orderBy: { id: 'desc' } } }),
  }),
});

export const ChargeRef = builder.prismaObject('Charge', {
  description: 'A one-off charge split into installments, or a recurring one issuing an installment per occurrence. Amounts in BRL centavos.',
  fields: (t) => ({
    id: t.exposeID('id', { description: "The legacy API's numeric id." }),
    status: t.field({ type: ChargeStatusEnum, resolve: (charge) => charge.status as ChargeStatus }),
    type: t.field({ type: ChargeTypeEnum, resolve: (charge) => charge.type as 'normal' | 'recurring' }),
    interval: t.field({ type: ChargeIntervalEnum, resolve: (charge) => charge.interval as 'day' | 'week' | 'month' }),
    frequency: t.exposeInt('frequency', { description: 'Intervals between two installments, 1 to 12.' }),
    amount: t.expose('amount', { type: 'BigInt', description: 'Centavos: the total (normal) or the amount of every occurrence (recurring).' }),
    currency: t.exposeString('currency'),
    description: t.exposeString('description'),
    dueDate: t.string({ description: `The first installment's due date. ${dateDescription}`, resolve: (charge) => fromDbDate(charge.dueDate) }),
    lastChargeDate: t.string({ nullable: true, description: dateDescription, resolve: (charge) => charge.lastChargeDate && fromDbDate(charge.lastChargeDate) }),
    installmentCount: t.exposeInt('installmentCount', { description: 'Normal: installments the total is split into. Recurring: occurrences issued ahead of their due date.' }),
    callbackUrl: t.exposeString('callbackUrl', { nullable: true }),
    autoDebit: t.exposeBoolean('autoDebit'),
    isActive: t.exposeBoolean('isActive'),
    hasCardOnFile: t.boolean({ description: 'Whether a card token is on file for auto-debits.', resolve: (charge) => charge.cardToken !== null }),
    paymentLink: t.string({ description: "The payer's page, to pay installments by card.", resolve: (charge, _args, ctx) => paymentLinkOf(ctx.deps, charge) }),
    customer: t.relation('customer'),
    installments: t.relation('installments', { query: { orderBy: { number: 'asc' } } }),
    deliveries: t.relatedConnection('deliveries', { cursor: 'id', totalCount: true, description: 'Callbacks queued for this charge, newest first.', query: { orderBy: { id: 'desc' } } }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const InstallmentRef = builder.prismaObject('ChargeInstallment', {
  description: 'One installment (normal) or occurrence (recurring). Paid once, in full less its discount.',
  fields: (t) => ({
    id: t.exposeID('id'),
    number: t.exposeInt('number', { description: 'From 1.' }),
    dueDate: t.string({ description: dateDescription, resolve: (installment) => fromDbDate(installment.dueDate) }),
    amount: t.expose('amount', { type: 'BigInt', description: 'Centavos.' }),
    paidAmount: t.expose('paidAmount', { type: 'BigInt' }),
    discount: t.expose('discount', { type: 'BigInt' }),
    remaining: t.field({ type: 'BigInt', description: 'What is left to pay.', resolve: (installment) => remainingOf(installment) }),
    status: t.field({ type: InstallmentStatusEnum, resolve: (installment) => installment.status as 'pending' | 'paid' | 'overdue' | 'canceled' }),
    paymentDate: t.string({ nullable: true, description: dateDescription, resolve: (installment) => installment.paymentDate && fromDbDate(installment.paymentDate) }),
    paidAt: t.expose('paidAt', { type: 'DateTime', nullable: true }),
    paymentMethod: t.field({ type: PaymentMethodEnum, nullable: true, resolve: (installment) => installment.paymentMethod as 'payment_link' | 'auto_debit' | 'external' | null }),
    paymentReference: t.exposeString('paymentReference', { nullable: true }),
    debitAttempts: t.exposeInt('debitAttempts', { description: 'Auto-debits tried so far.' }),
    nextDebitAt: t.expose('nextDebitAt', { type: 'DateTime', nullable: true, description: 'When the next auto-debit is tried after a failed one.' }),
    lastDebitError: t.exposeString('lastDebitError', { nullable: true }),
    charge: t.relation('charge'),
  }),
});

builder.prismaObject('ChargeCallbackAttempt', {
  description: 'One try at sending a callback.',
  fields: (t) => ({
    number: t.exposeInt('number'),
    attemptedAt: t.expose('attemptedAt', { type: 'DateTime' }),
    responseStatus: t.exposeInt('responseStatus', { nullable: true, description: "The receiver's HTTP status; null without an answer." }),
    error: t.exposeString('error', { nullable: true }),
  }),
});

const DeliveryRef = builder.prismaObject('ChargeCallbackDelivery', {
  description: 'A callback POSTed after a status change; its id is the `webhook-id` header, the same on every retry.',
  fields: (t) => ({
    id: t.exposeID('id'),
    event: t.exposeString('event', { description: 'charge.<status> or installment.<status>.' }),
    url: t.exposeString('url'),
    body: t.exposeString('body', { description: 'Exactly the JSON sent and signed.' }),
    status: t.field({ type: DeliveryStatusEnum, resolve: (delivery) => delivery.status as 'pending' | 'delivered' | 'failed' }),
    attempts: t.exposeInt('attempts'),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', description: 'For a pending delivery, when it is sent next.' }),
    retryUntil: t.expose('retryUntil', { type: 'DateTime' }),
    lastStatus: t.exposeInt('lastStatus', { nullable: true }),
    lastError: t.exposeString('lastError', { nullable: true }),
    deliveredAt: t.expose('deliveredAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    attemptLog: t.relation('attemptLog', { query: { orderBy: { number: 'asc' } } }),
    charge: t.relation('charge'),
  }),
});

// ---------------------------------------------------------------------------------------------
// Inputs

const CustomerInput = builder.inputType('ChargeCustomerInput', {
  fields: (t) => ({
    name: t.string({ required: true, description: 'Up to 100 characters.' }),
    cpfCnpj: t.string({ description: 'A valid CPF or CNPJ, with or without punctuation; an existing customer with it is reused (and updated).' }),
    phone: t.string({ description: '10 or 11 digits, punctuation allowed.' }),
    email: t.string({ description: 'Up to 50 characters.' }),
  }),
});

const CreateChargeInput = builder.inputType('CreateChargeInput', {
  fields: (t) => ({
    amount: t.field({ type: 'BigInt', required: true, description: 'Centavos: the total (normal) or each occurrence (recurring).' }),
    description: t.string({ required: true, description: '1 to 1000 characters.' }),
    dueDate: t.string({ required: true, description: 'The first due date: YYYY-MM-DD (d/m/Y accepted too).' }),
    type: t.field({ type: ChargeTypeEnum, description: 'Default NORMAL.' }),
    interval: t.field({ type: ChargeIntervalEnum, description: 'Default MONTH.' }),
    frequency: t.int({ description: '1 to 12, default 1.' }),
    installments: t.int({ description: 'Normal: 1 to 48 parts. Recurring: occurrences issued ahead (1 to 48). Default 1.' }),
    lastChargeDate: t.string({ description: 'No occurrence of a recurring charge after it.' }),
    callbackUrl: t.string({ description: 'Up to 255 characters; loopback, private, link-local and metadata addresses are refused.' }),
    autoDebit: t.boolean({ description: 'Debit the card on file on each due date. Default false.' }),
    isActive: t.boolean({ description: 'Default true.' }),
    customer: t.field({ type: CustomerInput, description: 'A new (or, by CPF/CNPJ, existing) customer; or give customerId.' }),
    customerId: t.id({ description: 'An existing customer of yours.' }),
    cardToken: t.string({ description: "The card processor's token of the payer's card, for auto-debits." }),
  }),
});

const UpdateChargeInput = builder.inputType('UpdateChargeInput', {
  description: 'Only the fields given change; null clears lastChargeDate, callbackUrl and cardToken.',
  fields: (t) => ({
    amount: t.field({ type: 'BigInt', description: 'Only while nothing is paid and no card debit is in flight or in doubt (else CONFLICT): the installments are laid out again.' }),
    description: t.string(),
    dueDate: t.string({ description: 'Only while nothing is paid and no card debit is in flight or in doubt (else CONFLICT): the installments are laid out again.' }),
    lastChargeDate: t.string(),
    callbackUrl: t.string(),
    autoDebit: t.boolean(),
    isActive: t.boolean({ description: 'false cancels what is unpaid; true resumes from today.' }),
    cardToken: t.string(),
  }),
});

type Fields = Record<string, unknown>;

/** The GraphQL input in the legacy field names validation.ts checks; absent stays absent. */
function legacyShape(input: Fields, names: Record<string, string>): Fields {
  const shaped: Fields = {};
  for (const [graphqlName, legacyName] of Object.entries(names)) {
    if (input[graphqlName] !== undefined) shaped[legacyName] = input[graphqlName];
  }
  return shaped;
}

const CHARGE_FIELD_NAMES = {
  amount: 'amount',
  description: 'description',
  dueDate: 'due_date',
  type: 'type',
  interval: 'interval',
  frequency: 'frequency',
  installments: 'installments',
  lastChargeDate: 'last_charge_date',
  callbackUrl: 'callback_url',
  autoDebit: 'auto_debit',
  isActive: 'is_active',
  customerId: 'customer_id',
  cardToken: 'card_token',
};

function withoutNulls(input: Fields, keep: string[] = []): Fields {
  return Object.fromEntries(Object.entries(input).filter(([key, value]) => value !== null || keep.includes(key)));
}

function isoDateArg(field: string, value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const parsed = parseIsoDate(value);
  if (!parsed.ok) throw invalid(field, `${field}: ${parsed.message}`);
  return parsed.date;
}

function chargeIdArg(value: string | number): number {
  const id = parseChargeId(String(value));
  if (id === null) throw notFound('Charge');
  return id;
}

// ---------------------------------------------------------------------------------------------
// Queries

builder.queryField('chargeCustomers', (t) =>
  t.prismaConnection({
    type: 'ChargeCustomer',
    cursor: 'id',
    description: 'Your customers, newest first. Needs the scope `charges`.',
    args: { cpfCnpj: t.arg.string({ required: false, description: 'Only the customer with this CPF/CNPJ (any punctuation).' }) },
    totalCount: (_parent, args, ctx) => ctx.deps.prisma.chargeCustomer.count({ where: customerWhere(ctx, args.cpfCnpj) }),
    resolve: (query, _root, args, ctx) => ctx.deps.prisma.chargeCustomer.findMany({ ...query, where: customerWhere(ctx, args.cpfCnpj), orderBy: { id: 'desc' } }),
  }),
);

function customerWhere(ctx: GraphQLContext, cpfCnpj: string | null | undefined) {
  const merchantId = merchantOf(ctx).merchantId;
  if (cpfCnpj === null || cpfCnpj === undefined) return { merchantId };
  const parsed = parseCpfCnpj(cpfCnpj);
  return { merchantId, cpfCnpj: parsed.ok ? parsed.normalized : '-' };
}

function filterOf(args: {
  status?: ChargeStatus[] | null;
  customerId?: string | number | null;
  dueFrom?: string | null;
  dueTo?: string | null;
  isActive?: boolean | null;
}): ChargeFilter {
  return {
    statuses: args.status ?? null,
    customerId: args.customerId === null || args.customerId === undefined ? null : (parseChargeId(String(args.customerId)) ?? -1),
    dueFrom: isoDateArg('dueFrom', args.dueFrom),
    dueTo: isoDateArg('dueTo', args.dueTo),
    isActive: args.isActive ?? null,
  };
}

builder.queryField('charges', (t) =>
  t.prismaConnection({
    type: 'Charge',
    cursor: 'id',
    description: 'Your charges, newest first, filtered. Needs the scope `charges`.',
    args: {
      status: t.arg({ type: [ChargeStatusEnum], required: false, description: 'Any of these statuses.' }),
      customerId: t.arg.id({ required: false }),
      dueFrom: t.arg.string({ required: false, description: `With an installment due on or after this date. ${dateDescription}` }),
      dueTo: t.arg.string({ required: false, description: `With an installment due on or before this date. ${dateDescription}` }),
      isActive: t.arg.boolean({ required: false }),
    },
    totalCount: (_parent, args, ctx) => ctx.deps.prisma.charge.count({ where: chargeWhere(merchantOf(ctx).merchantId, filterOf(args)) }),
    resolve: (query, _root, args, ctx) =>
      ctx.deps.prisma.charge.findMany({ ...query, where: chargeWhere(merchantOf(ctx).merchantId, filterOf(args)), orderBy: { id: 'desc' } }),
  }),
);

builder.queryField('charge', (t) =>
  t.prismaField({
    type: 'Charge',
    nullable: true,
    description: "One of your charges; null when unknown (or another merchant's).",
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) => {
      const merchantId = merchantOf(ctx).merchantId;
      const id = parseChargeId(String(args.id));
      return id === null ? null : ctx.deps.prisma.charge.findFirst({ ...query, where: { id, merchantId } });
    },
  }),
);

const ChargeTotalsRef = builder.objectRef<ChargeTotals>('ChargeTotals').implement({
  description: 'How many charges have one status and type, and their amount in minor units of `currency`.',
  fields: (t) => ({
    status: t.field({ type: ChargeStatusEnum, resolve: (totals) => totals.status }),
    type: t.field({ type: ChargeTypeEnum, resolve: (totals) => totals.type }),
    currency: t.exposeString('currency'),
    count: t.exposeInt('count'),
    amount: t.field({ type: 'BigInt', description: 'Centavos: the totals of normal charges, the amount of each occurrence of recurring ones.', resolve: (totals) => totals.amount }),
  }),
});

builder.queryField('chargeTotals', (t) =>
  t.field({
    type: [ChargeTotalsRef],
    description: 'Counts and sums of your charges per status, type and currency, for dashboards; empty ones are left out. Needs the scope `charges`.',
    resolve: (_root, _args, ctx) => chargeTotals(ctx.deps.prisma, merchantOf(ctx).merchantId),
  }),
);

builder.queryField('chargeCallbackSecret', (t) =>
  t.string({
    description: 'The secret your charge callbacks are signed with (Standard Webhooks, `whsec_…`): verify `webhook-signature` with it.',
    resolve: (_root, _args, ctx) => callbackSecret(ctx.deps.prisma, merchantOf(ctx).merchantId, ctx.deps.clock.now()),
  }),
);

// ---------------------------------------------------------------------------------------------
// Mutations

function rememberKey(ctx: GraphQLContext, key: string | null, replayed: boolean) {
  if (key) ctx.idempotency.push({ key, replayed });
}

builder.mutationField('createCharge', (t) =>
  t.field({
    type: ChargeRef,
    errors: {},
    description: 'Creates a charge and lays out its installments. A validation failure names every failing field in its message.',
    args: {
      input: t.arg({ type: CreateChargeInput, required: true }),
      idempotencyKey: t.arg.string({ required: false, description: 'Replays the first result for a repeated key; defaults to the Idempotency-Key header.' }),
    },
    resolve: async (_root, args, ctx) => {
      const merchant = merchantOf(ctx);
      const input = withoutNulls(args.input as Fields);
      const body = legacyShape(input, CHARGE_FIELD_NAMES);
      if (input.customer) {
        body.customer = legacyShape(withoutNulls(input.customer as Fields), { name: 'name', cpfCnpj: 'cpf_cnpj', phone: 'phone', email: 'email' });
      }
      const draft = await validateNewCharge(body, { checkCallbackUrl: callbackUrlCheck(ctx.deps), legacy: false });
      const key = args.idempotencyKey ?? ctx.idempotencyKey;
      const { charge, replayed } = await createCharge(ctx.deps, merchant.merchantId, draft, key);
      rememberKey(ctx, key, replayed);
      return charge;
    },
  }),
);

builder.mutationField('updateCharge', (t) =>
  t.field({
    type: ChargeRef,
    errors: {},
    description: 'Changes a charge; see UpdateChargeInput.',
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateChargeInput, required: true }) },
    resolve: async (_root, args, ctx) => {
      const merchant = merchantOf(ctx);
      const input = withoutNulls(args.input as Fields, ['lastChargeDate', 'callbackUrl', 'cardToken']);
      const changes = await validateChargeChanges(legacyShape(input, CHARGE_FIELD_NAMES), { checkCallbackUrl: callbackUrlCheck(ctx.deps), legacy: false });
      return updateCharge(ctx.deps, merchant.merchantId, chargeIdArg(args.id), changes);
    },
  }),
);

builder.mutationField('deactivateCharge', (t) =>
  t.field({
    type: ChargeRef,
    errors: {},
    description: 'Deactivates a charge: unpaid installments are canceled and a recurring charge issues no more. Deactivating again changes nothing.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => deactivateCharge(ctx.deps, merchantOf(ctx).merchantId, chargeIdArg(args.id)),
  }),
);

builder.mutationField('payChargeInstallment', (t) =>
  t.field({
    type: InstallmentRef,
    errors: {},
    description:
      'Records a payment received outside the platform (cash, transfer): the installment is paid in full less `discount`, the money enters your charges account, and the charge status follows. A paid installment answers CONFLICT.',
    args: {
      chargeId: t.arg.id({ required: true }),
      number: t.arg.int({ required: true, description: "The installment's number, from 1." }),
      discount: t.arg({ type: 'BigInt', required: false, description: 'Centavos forgiven; less than the installment amount. Default: none.' }),
      paymentDate: t.arg.string({ required: false, description: `When it was paid. Default: today. ${dateDescription}` }),
      reference: t.arg.string({ required: false, description: 'Your reference of the payment (receipt number…), up to 100 characters.' }),
      idempotencyKey: t.arg.string({ required: false, description: 'Replays the first result for a repeated key; defaults to the Idempotency-Key header.' }),
    },
    resolve: async (_root, args, ctx) => {
      const merchant = merchantOf(ctx);
      if (args.reference && args.reference.length > 100) throw invalid('reference', 'A reference has at most 100 characters.');
      const paymentDate = isoDateArg('paymentDate', args.paymentDate);
      const key = args.idempotencyKey ?? ctx.idempotencyKey;
      const { installment, replayed } = await recordExternalPayment(
        ctx.deps,
        merchant.merchantId,
        {
          chargeId: chargeIdArg(args.chargeId),
          number: args.number,
          ...(args.discount !== null && args.discount !== undefined ? { discount: args.discount } : {}),
          ...(paymentDate ? { paymentDate } : {}),
          reference: args.reference ?? null,
        },
        key,
      );
      rememberKey(ctx, key, replayed);
      return installment;
    },
  }),
);

builder.mutationField('redeliverChargeCallback', (t) =>
  t.field({
    type: DeliveryRef,
    errors: {},
    description: 'Sends a callback again, with the same webhook-id and body (receivers drop what they already handled), and 24 h of retries.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => {
      const delivery = await redeliverCallback(ctx.deps, merchantOf(ctx).merchantId, String(args.id));
      chargesRuntime(ctx.deps).kickCallbacks();
      return delivery;
    },
  }),
);

builder.mutationField('rotateChargeCallbackSecret', (t) =>
  t.string({
    errors: {},
    description: 'Replaces your callback signing secret and answers the new one; callbacks sent from now on are signed with it.',
    resolve: (_root, _args, ctx) => rotateCallbackSecret(ctx.deps.prisma, merchantOf(ctx).merchantId, ctx.deps.clock.now()),
  }),
);

// ---------------------------------------------------------------------------------------------
// Subscriptions

const isChargeEvent = (event: EventMessage) => event.type.startsWith('charge.') || event.type.startsWith('installment.');

const ChargeChangeRef = builder.objectRef<EventMessage>('ChargeChange').implement({
  description: 'A charge or one of its installments changed; `charge` is read when the change is delivered.',
  fields: (t) => ({
    eventId: t.exposeID('id', { description: 'The event log id, ordered.' }),
    type: t.exposeString('type', {
      description: 'charge.created, charge.updated, charge.<status>, installment.<status> or installment.debit_failed.',
    }),
    installmentNumber: t.int({ nullable: true, resolve: (event) => (typeof event.data.installmentNumber === 'number' ? event.data.installmentNumber : null) }),
    occurredAt: t.field({ type: 'DateTime', resolve: (event) => new Date(event.occurredAt) }),
    charge: t.prismaField({
      type: 'Charge',
      resolve: (query, event, _args, ctx) => ctx.deps.prisma.charge.findUniqueOrThrow({ ...query, where: { id: Number(event.objectId) } }),
    }),
  }),
});

/**
 * The merchant's charge events from now on, read from the event log and then live. The position
 * is taken, and the stream started (live subscription, then the log read), while the subscription
 * is being made, before its response goes out: a change the client makes right after
 * subscribing is in the log or arrives live, never in between.
 */
async function chargeEvents(ctx: GraphQLContext, merchantId: string, keep: (event: EventMessage) => boolean): Promise<AsyncGenerator<EventMessage>> {
  const after = (await streamPosition(ctx.deps.prisma, merchantId)) ?? 0n;
  const source = merchantEvents(ctx.deps, merchantId, after, ctx.operation);
  const first = source.next();
  first.catch(() => {});
  return (async function* () {
    try {
      for (let next = await first; !next.done; next = await source.next()) {
        if (keep(next.value)) yield next.value;
      }
    } finally {
      await source.return(undefined);
    }
  })();
}

const isStatusEvent = (event: EventMessage) => event.type.startsWith('charge.') && event.type !== 'charge.created' && event.type !== 'charge.updated';

builder.subscriptionField('chargeStatusChanged', (t) =>
  t.field({
    type: ChargeRef,
    description: 'One of your charges, re-read each time its status changes.',
    args: { id: t.arg.id({ required: true }) },
    subscribe: async (_root, args, ctx) => {
      const merchant = merchantOf(ctx);
      const id = parseChargeId(String(args.id));
      const owned = id === null ? null : await ctx.deps.prisma.charge.findFirst({ where: { id, merchantId: merchant.merchantId }, select: { id: true } });
      if (!owned) throw notFound('Charge');
      return chargeEvents(ctx, merchant.merchantId, (event) => event.objectId === String(owned.id) && isStatusEvent(event));
    },
    resolve: (event, _args, ctx) => ctx.deps.prisma.charge.findUniqueOrThrow({ where: { id: Number(event.objectId) } }),
  }),
);

builder.subscriptionField('chargesChanged', (t) =>
  t.field({
    type: ChargeChangeRef,
    description: 'Every change of every one of your charges and installments, as it happens.',
    subscribe: (_root, _args, ctx) => chargeEvents(ctx, merchantOf(ctx).merchantId, isChargeEvent),
    resolve: (event) => event,
  }),
);
