import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { parseArgs, UsageError } from '../../src/cli/args.ts';
import { findCommand } from '../../src/cli/commands.ts';
import { walletCommands } from '../../src/modules/wallets/commands.ts';
import { idempotent } from '../../src/idempotency/idempotency.ts';
import { walletBalance } from '../../src/modules/wallets/service.ts';
import { expectLedgerBalanced, startApp, token, type TestApp, wsClient } from '../support/app.ts';

let t: TestApp;
let a: MerchantCredentials;
let b: MerchantCredentials;
let operator: string;
let walletId = '';

async function cli(line: string): Promise<any> {
  const args = parseArgs(line.split(' '));
  return findCommand(walletCommands, args.positionals).run(t.app.deps.prisma, args);
}

const CREATE = `mutation ($merchantId: ID!, $username: String!, $userType: WalletUserType, $currency: String) {
  createWallet(merchantId: $merchantId, username: $username, userType: $userType, currency: $currency) {
    __typename
    ... on MutationCreateWalletSuccess { data { id currency balance user { id username type } } }
    ... on AppError { code message field }
  }
}`;

const TOP_UP = `mutation ($input: TopUpWalletInput!, $key: String) {
  topUpWallet(input: $input, idempotencyKey: $key) {
    __typename
    ... on MutationTopUpWalletSuccess {
      data { id txnNumber status amount fee creditedAmount currency txnCode paymentMode note requestId
             wallet { id balance } agent { username } charges { ruleId percentBasisPoints percentPart amount } }
    }
    ... on AppError { code message field }
  }
}`;

const QUOTE = `query ($walletId: ID!, $amount: BigInt!, $txnCode: String!, $paymentMode: WalletPaymentMode!) {
  walletTopUpQuote(walletId: $walletId, amount: $amount, txnCode: $txnCode, paymentMode: $paymentMode) {
    __typename
    ... on QueryWalletTopUpQuoteSuccess { data { amount totalCharges creditedAmount currency charges { paymentMode fixed min max amount } } }
    ... on AppError { code field }
  }
}`;

const balanceOf = (id: string, m = a) => walletBalance(t.app.deps.prisma, { merchantId: m.merchantId, id });

beforeAll(async () => {
  t = await startApp();
  a = await t.merchant({ name: 'GraphQL wallets A' });
  b = await t.merchant({ name: 'GraphQL wallets B' });
  operator = await t.operator();
  // CIB by bank: 100 fixed + 2 % (min 150, max 5000).
  await cli(`fee-rule set --merchant ${a.merchantId} --txn-code CIB --payment-mode bank --fixed 100 --percent-bp 200 --min 150 --max 5000`);
});

afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

describe('createWallet (operators)', () => {
  it('creates a user and wallet, once per currency', async () => {
    const res = await t.graphql(CREATE, { merchantId: a.merchantId, username: 'carol' }, { authorization: operator });
    expect(res.data.createWallet).toMatchObject({
      __typename: 'MutationCreateWalletSuccess',
      data: { currency: 'IRR', balance: '0', user: { username: 'carol', type: 'USER' } },
    });
    walletId = res.data.createWallet.data.id;
    expect(walletId).toMatch(/^[0-9a-f]{32}$/);
    expect(res.data.createWallet.data.user.id).toMatch(/^[0-9a-f]{32}$/);

    const again = await t.graphql(CREATE, { merchantId: a.merchantId, username: 'carol' }, { authorization: operator });
    expect(again.data.createWallet).toMatchObject({ __typename: 'AppError', code: 'CONFLICT', field: 'currency' });
    const usd = await t.graphql(CREATE, { merchantId: a.merchantId, username: 'carol', currency: 'USD' }, { authorization: operator });
    expect(usd.data.createWallet.data).toMatchObject({ currency: 'USD', user: { username: 'carol' } });
    const kind = await t.graphql(CREATE, { merchantId: a.merchantId, username: 'carol', userType: 'AGENT', currency: 'EUR' }, { authorization: operator });
    expect(kind.data.createWallet).toMatchObject({ __typename: 'AppError', code: 'CONFLICT', field: 'userType' });
    const agent = await t.graphql(CREATE, { merchantId: a.merchantId, username: 'dave', userType: 'AGENT' }, { authorization: operator });
    expect(agent.data.createWallet.data.user.type).toBe('AGENT');
    const currency = await t.graphql(CREATE, { merchantId: a.merchantId, username: 'erin', currency: 'XXX' }, { authorization: operator });
    expect(currency.data.createWallet).toMatchObject({ code: 'VALIDATION_FAILED', field: 'currency' });
    const merchant = await t.graphql(CREATE, { merchantId: 'nope', username: 'erin' }, { authorization: operator });
    expect(merchant.data.createWallet).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('is refused to merchants', async () => {
    const res = await t.graphql(CREATE, { merchantId: a.merchantId, username: 'mallory' }, { authorization: token(a) });
    expect(res.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(await t.app.deps.prisma.walletUser.count({ where: { username: 'mallory' } })).toBe(0);
  });
});

describe('top-ups', () => {
  it('quotes, then tops up with the fee taken from the amount', async () => {
    const quote = await t.graphql(QUOTE, { walletId, amount: '10000', txnCode: 'CIB', paymentMode: 'BANK' }, { authorization: token(a) });
    expect(quote.data.walletTopUpQuote.data).toEqual({
      amount: '10000',
      totalCharges: '300',
      creditedAmount: '9700',
      currency: 'IRR',
      charges: [{ paymentMode: 'BANK', fixed: '100', min: '150', max: '5000', amount: '300' }],
    });
    const res = await t.graphql(
      TOP_UP,
      { input: { walletId, amount: '10000', txnCode: 'CIB', paymentMode: 'BANK', note: 'hello', agent: { username: 'dave' }, expectedCharges: '300' } },
      { authorization: token(a) },
    );
    expect(res.data.topUpWallet.data).toMatchObject({
      status: 'SUCCESS',
      amount: '10000',
      fee: '300',
      creditedAmount: '9700',
      paymentMode: 'BANK',
      note: 'hello',
      requestId: null,
      agent: { username: 'dave' },
      wallet: { id: walletId, balance: '9700' },
      charges: [{ percentBasisPoints: 200, percentPart: '200', amount: '300' }],
    });
    expect(res.data.topUpWallet.data.txnNumber).toBe(res.data.topUpWallet.data.id);
  });

  it('returns failures as data and moves nothing', async () => {
    const before = await balanceOf(walletId);
    const cases: [Record<string, unknown>, string, string][] = [
      [{ amount: '0' }, 'VALIDATION_FAILED', 'amount'],
      [{ amount: '1000000000000000' }, 'VALIDATION_FAILED', 'amount'],
      [{ amount: '150' }, 'VALIDATION_FAILED', 'amount'],
      [{ txnCode: 'no code' }, 'VALIDATION_FAILED', 'txnCode'],
      [{ walletId: 'zz' }, 'VALIDATION_FAILED', 'walletId'],
      [{ walletId: '0123456789abcdef0123456789abcdef' }, 'NOT_FOUND', 'walletId'],
      [{ expectedCharges: '299' }, 'CONFLICT', 'expectedCharges'],
      [{ agent: { username: 'carol' } }, 'VALIDATION_FAILED', 'agent'],
      [{ user: { username: 'dave' } }, 'VALIDATION_FAILED', 'user'],
      [{ paymentResponse: 'ok' }, 'VALIDATION_FAILED', 'paymentResponse'],
    ];
    for (const [change, code, field] of cases) {
      const res = await t.graphql(TOP_UP, { input: { walletId, amount: '10000', txnCode: 'CIB', paymentMode: 'BANK', ...change } }, { authorization: token(a) });
      expect(res.data.topUpWallet, JSON.stringify(change)).toMatchObject({ __typename: 'AppError', code, field });
    }
    expect(await balanceOf(walletId)).toBe(before);
  });

  it('replays an idempotency key, across the GraphQL and legacy APIs', async () => {
    const before = await balanceOf(walletId);
    const input = { walletId, amount: '1000', txnCode: 'CIB', paymentMode: 'BANK' };
    const first = await t.graphql(TOP_UP, { input, key: 'gql-1' }, { authorization: token(a) });
    const second = await t.graphql(TOP_UP, { input }, { authorization: token(a), headers: { 'Idempotency-Key': 'gql-1' } });
    expect(second.data.topUpWallet.data.id).toBe(first.data.topUpWallet.data.id);
    expect(first.extensions?.idempotency).toEqual([{ key: 'gql-1', replayed: false }]);
    expect(second.extensions?.idempotency).toEqual([{ key: 'gql-1', replayed: true }]);
    const legacy = await t.request('POST', '/digipay/v3/transaction/wallet_topup', {
      authorization: token(a),
      headers: { CompanyID: a.companyId },
      body: { wallet_id: walletId, txn_amount: 1000, txn_code: 'CIB', payment_mode: 2, meta_data: { wallet_topup_request_id: 'gql-1' } },
    });
    expect(legacy.json.data.transaction.txn_id).toBe(first.data.topUpWallet.data.id);
    const reused = await t.graphql(TOP_UP, { input: { ...input, amount: '2000' }, key: 'gql-1' }, { authorization: token(a) });
    expect(reused.data.topUpWallet).toMatchObject({ __typename: 'AppError', code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await balanceOf(walletId)).toBe(before + 850n);
  });

  it("keeps top-ups' request ids apart from the keys clients send to other operations", async () => {
    const before = await balanceOf(walletId);
    // Another operation of the merchant used a client key that reads like a top-up's stored one.
    await idempotent(t.app.deps, { merchantId: a.merchantId, key: 'wallet-topup:gql-ns', scope: 'invoices:create', payload: {} }, async () => 'invoice');
    const input = { walletId, amount: '1000', txnCode: 'CIB', paymentMode: 'BANK' };
    const first = await t.graphql(TOP_UP, { input, key: 'gql-ns' }, { authorization: token(a) });
    expect(first.data.topUpWallet.__typename).toBe('MutationTopUpWalletSuccess');
    const again = await t.graphql(TOP_UP, { input, key: 'gql-ns' }, { authorization: token(a) });
    expect(again.data.topUpWallet.data.id).toBe(first.data.topUpWallet.data.id);
    expect(await balanceOf(walletId)).toBe(before + BigInt(first.data.topUpWallet.data.creditedAmount));
  });

  it('lands concurrent top-ups, and a concurrently replayed key once', async () => {
    const before = await balanceOf(walletId);
    const distinct = Array.from({ length: 12 }, (_, i) =>
      t.graphql(TOP_UP, { input: { walletId, amount: String(5000 + i), txnCode: 'CIB', paymentMode: 'BANK' } }, { authorization: token(a) }),
    );
    const replayed = Array.from({ length: 6 }, () =>
      t.graphql(TOP_UP, { input: { walletId, amount: '7000', txnCode: 'CIB', paymentMode: 'BANK' }, key: 'gql-race' }, { authorization: token(a) }),
    );
    const answers = await Promise.all([...distinct, ...replayed]);
    const results = answers.map((res) => res.data.topUpWallet);
    expect(results.every((result) => result.__typename === 'MutationTopUpWalletSuccess')).toBe(true);
    expect(new Set(results.slice(12).map((result) => result.data.id)).size).toBe(1);
    const credited = results.slice(0, 13).reduce((sum, result) => sum + BigInt(result.data.creditedAmount), 0n);
    expect(await balanceOf(walletId)).toBe(before + credited);
  });
});

describe('queries', () => {
  it("lists the company's wallets with balances and pages a wallet's history", async () => {
    const list = await t.graphql(`{ wallets(first: 10) { totalCount edges { node { id currency user { username type } } } } }`, {}, { authorization: token(a) });
    expect(list.data.wallets.totalCount).toBe(3);
    const mine = await t.graphql(`{ wallets(username: "carol", currency: "usd") { totalCount edges { node { currency } } } }`, {}, { authorization: token(a) });
    expect(mine.data.wallets).toEqual({ totalCount: 1, edges: [{ node: { currency: 'USD' } }] });

    const query = `query ($id: ID!, $after: String) { wallet(id: $id) { id balance transactions(first: 5, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { id creditedAmount } } } } }`;
    const seen: string[] = [];
    let after: string | null = null;
    let total = 0;
    let credited = 0n;
    do {
      const page: any = await t.graphql(query, { id: walletId, after }, { authorization: token(a) });
      const { transactions } = page.data.wallet;
      total = transactions.totalCount;
      for (const edge of transactions.edges) {
        seen.push(edge.node.id);
        credited += BigInt(edge.node.creditedAmount);
      }
      after = transactions.pageInfo.hasNextPage ? transactions.pageInfo.endCursor : null;
    } while (after);
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    expect(credited.toString()).toBe((await balanceOf(walletId)).toString());
  });

  it("answers null for another company's wallet and transaction", async () => {
    const txn = await t.app.deps.prisma.walletTransaction.findFirstOrThrow({ where: { walletId } });
    const res = await t.graphql(`query ($id: ID!, $txn: ID!) { wallet(id: $id) { id } walletTransaction(id: $txn) { id } wallets { totalCount } }`, { id: walletId, txn: txn.id }, { authorization: token(b) });
    expect(res.data).toEqual({ wallet: null, walletTransaction: null, wallets: { totalCount: 0 } });
    const quote = await t.graphql(QUOTE, { walletId, amount: '100', txnCode: 'CIB', paymentMode: 'BANK' }, { authorization: token(b) });
    expect(quote.data.walletTopUpQuote).toMatchObject({ __typename: 'AppError', code: 'NOT_FOUND' });
    const top = await t.graphql(TOP_UP, { input: { walletId, amount: '1000', txnCode: 'CIB', paymentMode: 'BANK' } }, { authorization: token(b) });
    expect(top.data.topUpWallet).toMatchObject({ __typename: 'AppError', code: 'NOT_FOUND' });
  });
});

describe('subscriptions', () => {
  function subscribe(query: string, variables: Record<string, unknown>, credentials: MerchantCredentials) {
    const client = wsClient(t, token(credentials));
    const iterator = client.iterate<any>({ query, variables });
    return {
      iterator,
      close: async () => {
        await iterator.return?.();
        await client.dispose();
      },
    };
  }

  /** Tops up until the subscription, which starts asynchronously on the server, has seen one. */
  async function firstEvent(iterator: AsyncIterator<any>): Promise<any> {
    const next = iterator.next();
    for (let attempt = 0; attempt < 100; attempt++) {
      await t.graphql(TOP_UP, { input: { walletId, amount: '1000', txnCode: 'CIB', paymentMode: 'BANK' } }, { authorization: token(a) });
      const result = await Promise.race([next, new Promise<null>((resolve) => setTimeout(() => resolve(null), 100))]);
      if (result) return result.value;
    }
    throw new Error('no event arrived');
  }

  it("streams a wallet's balance changes and the company's transactions", async () => {
    const balance = subscribe(`subscription ($id: ID!) { walletBalanceChanged(walletId: $id) { id balance } }`, { id: walletId }, a);
    const transactions = subscribe(`subscription { walletTransactions { id wallet { id } creditedAmount status } }`, {}, a);
    try {
      const changed = await firstEvent(balance.iterator);
      expect(changed.data.walletBalanceChanged.id).toBe(walletId);
      expect(BigInt(changed.data.walletBalanceChanged.balance)).toBeGreaterThan(0n);
      const txn = await firstEvent(transactions.iterator);
      expect(txn.data.walletTransactions).toMatchObject({ wallet: { id: walletId }, creditedAmount: '850', status: 'SUCCESS' });
    } finally {
      await balance.close();
      await transactions.close();
    }
  });

  it("refuses another company's wallet like an unknown one", async () => {
    for (const id of [walletId, '0123456789abcdef0123456789abcdef']) {
      const foreign = subscribe(`subscription ($id: ID!) { walletBalanceChanged(walletId: $id) { id } }`, { id }, b);
      try {
        const first = await foreign.iterator.next();
        expect(first.value.errors).toEqual([expect.objectContaining({ message: 'Wallet not found.', extensions: { code: 'NOT_FOUND' } })]);
      } finally {
        await foreign.close();
      }
    }
  });
});

describe('operator CLI', () => {
  it('lists wallets with balances and manages fee rules', async () => {
    const { wallets } = await cli(`wallet list --merchant ${a.companyId} --user carol`);
    expect(wallets.map((wallet: any) => [wallet.currency, wallet.username])).toEqual([
      ['IRR', 'carol'],
      ['USD', 'carol'],
    ]);
    expect(wallets[0].balance).toBe(await balanceOf(walletId));

    const rule = await cli(`fee-rule set --merchant ${a.merchantId} --txn-code CIB --payment-mode bank --fixed 7`);
    const { rules } = await cli(`fee-rule list --merchant ${a.merchantId}`);
    expect(rules).toHaveLength(1);
    expect(rules[0]).toMatchObject({ id: rule.id, fixed: 7n, percentBasisPoints: 0, min: null, max: null, paymentMode: 2 });
    await cli(`fee-rule delete --id ${rule.id}`);
    expect((await cli(`fee-rule list --merchant ${a.merchantId}`)).rules).toEqual([]);

    await expect(cli(`fee-rule set --merchant ${a.merchantId} --txn-code CIB --percent-bp 1.5`)).rejects.toBeInstanceOf(UsageError);
    await expect(cli(`fee-rule set --merchant ${a.merchantId} --txn-code CIB --payment-mode cash`)).rejects.toBeInstanceOf(UsageError);
    await expect(cli(`fee-rule set --merchant ${a.merchantId} --txn-code CIB --min 9 --max 8`)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(cli(`wallet create --merchant ${a.merchantId} --user x --agent maybe`)).rejects.toBeInstanceOf(UsageError);
    await expect(cli(`wallet list --merchant nobody`)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
