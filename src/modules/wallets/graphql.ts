import { requireMerchant, requireOperator } from '../../auth/principal.ts';
import { transact } from '../../deps.ts';
import { notFound } from '../../errors.ts';
import { merchantEvents } from '../../events/graphql.ts';
import type { EventMessage } from '../../events/bus.ts';
import type { GraphQLContext } from '../../graphql/context.ts';
import { builder } from '../../graphql/builder.ts';
import { DEFAULT_CURRENCY } from './money.ts';
import {
  createWallet,
  decodeCharges,
  findWallet,
  quoteTopUp,
  topUpWallet,
  transactionTotals,
  TXN_STATUS,
  walletBalance,
  type AppliedCharge,
  type PartyInfo,
  type TopUpQuote,
  type TransactionTotals,
  type UserType,
} from './service.ts';

const merchantOf = (ctx: GraphQLContext) => requireMerchant(ctx.principal, { scope: 'wallets' });

const PaymentMode = builder.enumType('WalletPaymentMode', {
  description: 'Where the money of a top-up comes from (the legacy `payment_mode`).',
  values: {
    CARD: { value: 1, description: 'A debit or credit card (legacy 1).' },
    BANK: { value: 2, description: 'A bank account or transfer (legacy 2).' },
  } as const,
});

const UserTypeEnum = builder.enumType('WalletUserType', {
  values: {
    AGENT: { value: 'agent', description: 'A company admin, who performs top-ups (legacy `user_type` 1).' },
    USER: { value: 'user', description: 'A company user (legacy `user_type` 2).' },
  } as const,
});

const TransactionStatus = builder.enumType('WalletTransactionStatus', {
  description: 'The legacy `txn_status`. Top-ups are recorded only once they succeeded, so they are SUCCESS.',
  values: {
    PENDING: { value: TXN_STATUS.PENDING, description: 'Legacy 0: not final yet (not produced by top-ups).' },
    SUCCESS: { value: TXN_STATUS.SUCCESS, description: 'Legacy 1: the money moved.' },
    FAILED: { value: TXN_STATUS.FAILED, description: 'Legacy 2: refused; nothing moved (not produced by top-ups: a refused top-up is not recorded).' },
    REVERSED: { value: TXN_STATUS.REVERSED, description: 'Legacy 3: undone by a later transaction (no reversal exists yet).' },
  } as const,
});

const WalletUserRef = builder.prismaObject('WalletUser', {
  description: 'A user of the company: a company admin (agent) or a company user, with one wallet per currency.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The legacy `user_id`: 32 lowercase hex characters.' }),
    username: t.exposeString('username'),
    type: t.field({ type: UserTypeEnum, resolve: (user) => user.type as UserType }),
    wallets: t.relation('wallets', { query: { orderBy: { currency: 'asc' } } }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const WalletRef = builder.prismaObject('Wallet', {
  description: "One user's wallet in one currency. Its balance is its ledger account's.",
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The legacy `wallet_id`: 32 lowercase hex characters.' }),
    currency: t.exposeString('currency'),
    user: t.relation('user'),
    balance: t.field({
      type: 'BigInt',
      description: 'In minor units, from the ledger.',
      resolve: (wallet, _args, ctx) => walletBalance(ctx.deps.prisma, wallet),
    }),
    transactions: t.relatedConnection('transactions', {
      cursor: 'id',
      totalCount: true,
      description: "The wallet's history, newest first.",
      query: { orderBy: [{ createdAt: 'desc' }, { id: 'desc' }] },
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const WalletCharge = builder.objectRef<AppliedCharge>('WalletCharge').implement({
  description: 'A fee rule applied to a top-up, with its terms at the time. Amounts in minor units.',
  fields: (t) => ({
    ruleId: t.exposeID('ruleId'),
    txnCode: t.exposeString('txnCode'),
    paymentMode: t.field({ type: PaymentMode, nullable: true, description: 'null: the rule applies to any mode.', resolve: (c) => c.paymentMode as 1 | 2 | null }),
    fixed: t.field({ type: 'BigInt', resolve: (c) => c.fixed }),
    percentBasisPoints: t.exposeInt('percentBasisPoints', { description: '1 = 0.01 %.' }),
    min: t.field({ type: 'BigInt', nullable: true, resolve: (c) => c.min }),
    max: t.field({ type: 'BigInt', nullable: true, resolve: (c) => c.max }),
    percentPart: t.field({ type: 'BigInt', description: 'The percentage part, rounded half up to the minor unit.', resolve: (c) => c.percentPart }),
    amount: t.field({ type: 'BigInt', description: 'What the rule charged, after min and max.', resolve: (c) => c.amount }),
  }),
});

const WalletTransactionRef = builder.prismaObject('WalletTransaction', {
  description: 'One movement of a wallet (today: top-ups). Amounts in minor units of `currency`.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The legacy `txn_id`.' }),
    txnNumber: t.exposeString('txnNumber', { description: 'The legacy `txn_number` (equal to the id for top-ups).' }),
    kind: t.exposeString('kind', { description: '`topup`.' }),
    status: t.field({ type: TransactionStatus, resolve: (txn) => txn.status as 0 | 1 | 2 | 3 }),
    wallet: t.relation('wallet'),
    currency: t.exposeString('currency'),
    amount: t.expose('amount', { type: 'BigInt', description: 'What arrived from the card or bank (legacy `txn_amount`).' }),
    fee: t.expose('fee', { type: 'BigInt', description: 'The total charges, taken from the amount.' }),
    creditedAmount: t.expose('creditedAmount', { type: 'BigInt', description: 'What the wallet received: amount - fee.' }),
    txnCode: t.exposeString('txnCode'),
    paymentMode: t.field({ type: PaymentMode, resolve: (txn) => txn.paymentMode as 1 | 2 }),
    charges: t.field({ type: [WalletCharge], resolve: (txn) => decodeCharges(txn.charges) }),
    note: t.exposeString('note', { nullable: true }),
    agent: t.field({
      type: WalletUserRef,
      nullable: true,
      description: 'The company admin who performed it; null when the company credential acted itself.',
      resolve: (txn, _args, ctx) => (txn.agentUserId ? ctx.deps.prisma.walletUser.findUnique({ where: { id: txn.agentUserId } }) : null),
    }),
    agentPaymentType: t.exposeString('agentPaymentType', { nullable: true }),
    userPaymentType: t.exposeString('userPaymentType', { nullable: true }),
    cardInfo: t.field({ type: 'JSON', nullable: true, description: 'Card numbers masked, CVV and PIN removed.', resolve: (txn) => txn.cardInfo }),
    paymentResponse: t.field({ type: 'JSON', nullable: true, resolve: (txn) => txn.paymentResponse }),
    deviceIds: t.exposeStringList('deviceIds'),
    requestId: t.exposeString('requestId', { nullable: true, description: 'The idempotency key it was made with.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const TopUpQuoteRef = builder.objectRef<TopUpQuote>('WalletTopUpQuote').implement({
  description: 'What a top-up would charge under the current rules. Amounts in minor units.',
  fields: (t) => ({
    walletId: t.exposeID('walletId'),
    currency: t.exposeString('currency'),
    txnCode: t.exposeString('txnCode'),
    paymentMode: t.field({ type: PaymentMode, resolve: (quote) => quote.paymentMode as 1 | 2 }),
    amount: t.field({ type: 'BigInt', resolve: (quote) => quote.amount }),
    totalCharges: t.field({ type: 'BigInt', resolve: (quote) => quote.totalCharges }),
    creditedAmount: t.field({ type: 'BigInt', description: 'What the wallet would receive.', resolve: (quote) => quote.creditedAmount }),
    charges: t.field({ type: [WalletCharge], resolve: (quote) => quote.charges }),
  }),
});

const PartyInput = builder.inputType('WalletPartyInput', {
  description: 'A user as the caller knows them (legacy debit_user_info / credit_user_info): every field given must match.',
  fields: (t) => ({
    userId: t.id({ required: false }),
    walletId: t.id({ required: false }),
    currency: t.string({ required: false }),
    username: t.string({ required: false }),
    userType: t.field({ type: UserTypeEnum, required: false }),
    paymentType: t.string({ required: false, description: 'Kept verbatim on the transaction.' }),
  }),
});

const TopUpInput = builder.inputType('TopUpWalletInput', {
  fields: (t) => ({
    walletId: t.id({ required: true }),
    amount: t.field({ type: 'BigInt', required: true, description: 'What arrives from the card or bank, in minor units; the fee is taken from it.' }),
    txnCode: t.string({ required: true, description: 'e.g. CIB: selects the fee rule.' }),
    paymentMode: t.field({ type: PaymentMode, required: true }),
    note: t.string({ required: false }),
    agent: t.field({ type: PartyInput, required: false, description: 'The company admin performing the top-up.' }),
    user: t.field({ type: PartyInput, required: false, description: "The wallet's owner, checked against the wallet." }),
    cardInfo: t.field({ type: 'JSON', required: false, description: 'An object or a list of objects; stored masked.' }),
    paymentResponse: t.field({ type: 'JSON', required: false, description: "The gateway's answer, stored verbatim." }),
    deviceIds: t.stringList({ required: false }),
    expectedCharges: t.field({ type: 'BigInt', required: false, description: 'The quoted total charges: refused (CONFLICT) if the fee is now different.' }),
  }),
});

type PartyArg = { userId?: string | number | null; walletId?: string | number | null; currency?: string | null; username?: string | null; userType?: UserType | null; paymentType?: string | null } | null | undefined;

const toParty = (party: PartyArg): PartyInfo | null =>
  party
    ? {
        userId: party.userId == null ? null : String(party.userId),
        walletId: party.walletId == null ? null : String(party.walletId),
        currency: party.currency ?? null,
        username: party.username ?? null,
        userType: party.userType ?? null,
        paymentType: party.paymentType ?? null,
      }
    : null;

builder.queryField('wallets', (t) =>
  t.prismaConnection({
    type: 'Wallet',
    cursor: 'id',
    description: "The company's wallets, oldest first, optionally of one user (by id or username) or in one currency.",
    args: {
      userId: t.arg.id({ required: false }),
      username: t.arg.string({ required: false }),
      currency: t.arg.string({ required: false }),
    },
    totalCount: (_root, args, ctx) =>
      ctx.deps.prisma.wallet.count({
        where: {
          merchantId: merchantOf(ctx).merchantId,
          ...(args.userId ? { userId: String(args.userId) } : {}),
          ...(args.username ? { user: { username: args.username } } : {}),
          ...(args.currency ? { currency: args.currency.toUpperCase() } : {}),
        },
      }),
    resolve: (query, _root, args, ctx) =>
      ctx.deps.prisma.wallet.findMany({
        ...query,
        where: {
          merchantId: merchantOf(ctx).merchantId,
          ...(args.userId ? { userId: String(args.userId) } : {}),
          ...(args.username ? { user: { username: args.username } } : {}),
          ...(args.currency ? { currency: args.currency.toUpperCase() } : {}),
        },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      }),
  }),
);

builder.queryField('wallet', (t) =>
  t.prismaField({
    type: 'Wallet',
    nullable: true,
    description: "One of the company's wallets; null when unknown.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) =>
      ctx.deps.prisma.wallet.findFirst({ ...query, where: { id: String(args.id).toLowerCase(), merchantId: merchantOf(ctx).merchantId } }),
  }),
);

builder.queryField('walletTransaction', (t) =>
  t.prismaField({
    type: 'WalletTransaction',
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) =>
      ctx.deps.prisma.walletTransaction.findFirst({ ...query, where: { id: String(args.id).toLowerCase(), merchantId: merchantOf(ctx).merchantId } }),
  }),
);

builder.queryField('walletTransactions', (t) =>
  t.prismaConnection({
    type: 'WalletTransaction',
    cursor: 'id',
    description: "Transactions of all the company's wallets, newest first, optionally in one currency.",
    args: { currency: t.arg.string({ required: false }) },
    totalCount: (_root, args, ctx) =>
      ctx.deps.prisma.walletTransaction.count({
        where: { merchantId: merchantOf(ctx).merchantId, ...(args.currency ? { currency: args.currency.toUpperCase() } : {}) },
      }),
    resolve: (query, _root, args, ctx) =>
      ctx.deps.prisma.walletTransaction.findMany({
        ...query,
        where: { merchantId: merchantOf(ctx).merchantId, ...(args.currency ? { currency: args.currency.toUpperCase() } : {}) },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      }),
  }),
);

const TransactionTotalsRef = builder.objectRef<TransactionTotals>('WalletTransactionTotals').implement({
  description: 'How many transactions of one kind, status, payment mode and currency, and their amounts in minor units.',
  fields: (t) => ({
    kind: t.exposeString('kind'),
    status: t.field({ type: TransactionStatus, resolve: (totals) => totals.status as 0 | 1 | 2 | 3 }),
    paymentMode: t.field({ type: PaymentMode, resolve: (totals) => totals.paymentMode as 1 | 2 }),
    currency: t.exposeString('currency'),
    count: t.exposeInt('count'),
    amount: t.field({ type: 'BigInt', description: 'What arrived from the card or bank.', resolve: (totals) => totals.amount }),
    fee: t.field({ type: 'BigInt', resolve: (totals) => totals.fee }),
    creditedAmount: t.field({ type: 'BigInt', description: 'What the wallets received.', resolve: (totals) => totals.creditedAmount }),
  }),
});

builder.queryField('walletTransactionTotals', (t) =>
  t.field({
    type: [TransactionTotalsRef],
    description: "Counts and sums of the company's wallet transactions per kind, status, payment mode and currency, for dashboards; empty ones are left out.",
    resolve: (_root, _args, ctx) => transactionTotals(ctx.deps.prisma, merchantOf(ctx).merchantId),
  }),
);

builder.queryField('walletTopUpQuote', (t) =>
  t.field({
    type: TopUpQuoteRef,
    errors: {},
    description: 'The charges of a prospective top-up, as agent_calculate_charges answers them; moves nothing.',
    args: {
      walletId: t.arg.id({ required: true }),
      amount: t.arg({ type: 'BigInt', required: true, description: 'In minor units.' }),
      txnCode: t.arg.string({ required: true }),
      paymentMode: t.arg({ type: PaymentMode, required: true }),
    },
    resolve: (_root, args, ctx) =>
      quoteTopUp(ctx.deps.sql, merchantOf(ctx).merchantId, {
        walletId: String(args.walletId),
        amount: { minor: args.amount },
        txnCode: args.txnCode,
        paymentMode: args.paymentMode,
      }),
  }),
);

builder.mutationField('topUpWallet', (t) =>
  t.field({
    type: WalletTransactionRef,
    errors: {},
    description:
      "Adds money from a card or bank to a wallet, minus the charges. With an idempotency key (argument or Idempotency-Key header; the legacy wallet_topup_request_id) a retry answers the first transaction and moves nothing.",
    args: { input: t.arg({ type: TopUpInput, required: true }), idempotencyKey: t.arg.string({ required: false }) },
    resolve: async (_root, { input, idempotencyKey }, ctx) => {
      const merchant = merchantOf(ctx);
      const key = idempotencyKey ?? ctx.idempotencyKey;
      const { result, replayed } = await topUpWallet(ctx.deps, merchant.merchantId, {
        walletId: String(input.walletId),
        amount: { minor: input.amount },
        txnCode: input.txnCode,
        paymentMode: input.paymentMode,
        note: input.note ?? null,
        agent: toParty(input.agent),
        user: toParty(input.user),
        cardInfo: input.cardInfo ?? null,
        paymentResponse: input.paymentResponse ?? null,
        deviceIds: input.deviceIds ?? null,
        expectedCharges: input.expectedCharges == null ? null : { minor: input.expectedCharges },
        requestId: key,
      });
      if (key !== null) ctx.idempotency.push({ key, replayed });
      return ctx.deps.prisma.walletTransaction.findUniqueOrThrow({ where: { id: result.transactionId } });
    },
  }),
);

builder.mutationField('createWallet', (t) =>
  t.field({
    type: WalletRef,
    errors: {},
    description: "Operators: creates a user's wallet in a currency, and the user (agent or user) on first use.",
    args: {
      merchantId: t.arg.id({ required: true }),
      username: t.arg.string({ required: true }),
      userType: t.arg({ type: UserTypeEnum, required: false, defaultValue: 'user' }),
      currency: t.arg.string({ required: false, defaultValue: DEFAULT_CURRENCY }),
    },
    resolve: (_root, args, ctx) => {
      requireOperator(ctx.principal);
      return transact(ctx.deps, (tx) =>
        createWallet(
          tx,
          { merchantId: String(args.merchantId), username: args.username, userType: args.userType ?? 'user', currency: args.currency ?? DEFAULT_CURRENCY },
          ctx.deps.clock.now(),
        ),
      );
    },
  }),
);

builder.subscriptionField('walletBalanceChanged', (t) =>
  t.field({
    type: WalletRef,
    description: 'The wallet, re-read each time its balance changes.',
    args: { walletId: t.arg.id({ required: true }) },
    subscribe: async (_root, args, ctx) => {
      const merchant = merchantOf(ctx);
      const wallet = await findWallet(ctx.deps.sql, merchant.merchantId, String(args.walletId));
      if (!wallet) throw notFound('Wallet');
      return ctx.deps.bus.subscribe(merchant.merchantId, 'WALLET', wallet.id, ctx.operation);
    },
    resolve: (event: EventMessage, _args, ctx) => ctx.deps.prisma.wallet.findUniqueOrThrow({ where: { id: event.objectId } }),
  }),
);

async function* walletTransactionEvents(events: AsyncGenerator<EventMessage>): AsyncGenerator<EventMessage> {
  for await (const event of events) if (event.type === 'wallet.topped_up') yield event;
}

builder.subscriptionField('walletTransactions', (t) =>
  t.field({
    type: WalletTransactionRef,
    description:
      "Every new transaction of the company's wallets, as it commits. To catch up after a disconnection, use `events(after)`, whose `wallet.topped_up` events carry `transactionId`.",
    subscribe: (_root, _args, ctx) => walletTransactionEvents(merchantEvents(ctx.deps, merchantOf(ctx).merchantId, null, ctx.operation)),
    resolve: (event: EventMessage, _args, ctx) =>
      ctx.deps.prisma.walletTransaction.findUniqueOrThrow({ where: { id: String(event.data.transactionId) } }),
  }),
);
