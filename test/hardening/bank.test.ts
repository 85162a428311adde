import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { verifyLedger } from '../../src/ledger/ledger.ts';
import { uuidv7 } from '../../src/lib/ids.ts';
import { seededRandom } from '../charges/seeded-random.ts';
import { createGroup } from '../pockets/support.ts';
import { createProvider } from '../recharge/helpers.ts';
import { startApp, token, usesPostgres, type TestApp } from '../support/app.ts';
import { allPowers } from './support.ts';

/**
 * The bank test. No operation moves money between two users' balances (pockets are only charged,
 * wallets only topped up, recharge payments only credit a user), so the conserved total is the sum
 * of every ledger account of the merchant — pockets, the group's funding account, wallets, the
 * top-up clearing and fee accounts, recharge clearing and user accounts — posted and pending, per
 * currency: money only moves between them, so it is zero at every instant.
 *
 * Many clients charge pockets (past the group's cap), top up wallets (retrying with their keys),
 * and create, commit or roll back recharge payments, all at once for a while; readers meanwhile
 * check the total in one statement, and the balances' floors through the API. At the end every
 * acknowledged request is present exactly once. On PostgreSQL the requests run truly concurrently
 * (a pool of connections); the embedded database serialises them. BANK_SECONDS (default 6) sets
 * how long the clients run; BANK_SEED replays one run.
 */
const SECONDS = Number(process.env.BANK_SECONDS ?? 6);
const SEED = Number(process.env.BANK_SEED ?? Date.now() % 1_000_000);
const CLIENTS = 6;
const CAP = 1_000_000n;

let t: TestApp;
let merchant: MerchantCredentials;
let auth: string;
let operator: string;
let slug: string;
let provider: string;
const wallets: string[] = [];
const phones = Array.from({ length: 8 }, (_, index) => `98912555${String(index).padStart(4, '0')}`);

beforeAll(async () => {
  t = await startApp({ CHARGES_SCHEDULER_INTERVAL_MS: 0, RECONCILE_INTERVAL_MS: 0 });
  merchant = await t.merchant({ name: 'Bank', ...allPowers });
  auth = token(merchant);
  operator = await t.operator();
  slug = (await createGroup(t, merchant, { cap: CAP })).slug;
  provider = `bank-${uuidv7().slice(-8)}`;
  await createProvider(t, merchant.merchantId, provider);
  for (const username of ['ana', 'bijan', 'carla']) {
    const res = await t.graphql(
      `mutation($m: ID!, $u: String!) { createWallet(merchantId: $m, username: $u) { ... on MutationCreateWalletSuccess { data { id } } } }`,
      { m: merchant.merchantId, u: username },
      { authorization: operator },
    );
    wallets.push(res.data.createWallet.data.id);
  }
}, 60_000);

afterAll(async () => {
  await t.stop();
});

interface Ledger {
  pocketTokens: Map<string, bigint>;
  topUps: Map<string, { walletId: string; amount: bigint }>;
  committed: Map<string, bigint>;
  rolledBack: Set<string>;
}

/** The merchant's total per currency (posted and pending), read in one statement: one snapshot. */
async function totals(): Promise<{ currency: string; posted: bigint; pending: bigint }[]> {
  return t.app.deps.prisma.$queryRawUnsafe(
    `SELECT currency, SUM(credits_posted - debits_posted)::bigint AS posted, SUM(credits_pending - debits_pending)::bigint AS pending
     FROM ledger_accounts WHERE merchant_id = $1 GROUP BY currency ORDER BY currency`,
    merchant.merchantId,
  );
}

describe(`bank test (${usesPostgres ? 'PostgreSQL, concurrent' : 'embedded database'})`, { timeout: 120_000 }, () => {
  it('concurrent clients moving money always leave the same total, no balance below its floor, every acknowledged request once', async () => {
    const random = seededRandom(SEED);
    const acknowledged: Ledger = { pocketTokens: new Map(), topUps: new Map(), committed: new Map(), rolledBack: new Set() };
    const deadline = Date.now() + SECONDS * 1000;
    const stats = { charges: 0, capExceeded: 0, topUps: 0, replays: 0, commits: 0, rollbacks: 0, reads: 0 };

    const chargePockets = async () => {
      const items = Array.from({ length: random.int(1, 4) }, () => ({ token: uuidv7(), phone_number: random.pick(phones), amount: random.int(1, 60_000) }));
      const res = await t.request('POST', `/badje/v1/pockets/${slug}/charge/`, { authorization: auth, body: { charges: items } });
      expect(res.status, res.text).toBe(200);
      res.json.results.forEach((result: { status: string; message: string }, index: number) => {
        if (result.status === 'success') {
          acknowledged.pocketTokens.set(items[index]!.token, BigInt(items[index]!.amount));
          stats.charges++;
        } else {
          expect(result.message).toContain('سقف');
          stats.capExceeded++;
        }
      });
    };

    const sentTopUps: { key: string; walletId: string; amount: string }[] = [];
    const topUp = async () => {
      const retry = sentTopUps.length > 0 && random.next() < 0.25;
      const request = retry ? random.pick(sentTopUps) : { key: uuidv7(), walletId: random.pick(wallets), amount: String(random.int(1_000, 90_000)) };
      if (!retry) sentTopUps.push(request);
      const res = await t.graphql(
        `mutation($input: TopUpWalletInput!, $key: String) { topUpWallet(input: $input, idempotencyKey: $key) {
           __typename ... on MutationTopUpWalletSuccess { data { creditedAmount } } ... on AppError { code message } } }`,
        { input: { walletId: request.walletId, amount: request.amount, txnCode: 'CIB', paymentMode: 'BANK' }, key: request.key },
        { authorization: auth },
      );
      expect(res.data?.topUpWallet.__typename, JSON.stringify(res)).toBe('MutationTopUpWalletSuccess');
      acknowledged.topUps.set(request.key, { walletId: request.walletId, amount: BigInt(res.data.topUpWallet.data.creditedAmount) });
      if (retry) stats.replays++;
      else stats.topUps++;
    };

    const recharge = async () => {
      const amount = random.int(100, 50_000);
      const created = await t.graphql(
        `mutation($p: String!, $u: ID!, $params: JSON!, $key: String) { createRechargePayment(provider: $p, userId: $u, params: $params, idempotencyKey: $key) {
           __typename ... on MutationCreateRechargePaymentSuccess { data { id } } ... on AppError { code message } } }`,
        { p: provider, u: String(random.int(1, 5)), params: { amount: String(amount) }, key: uuidv7() },
        { authorization: auth },
      );
      expect(created.data?.createRechargePayment.__typename, JSON.stringify(created)).toBe('MutationCreateRechargePaymentSuccess');
      const id = created.data.createRechargePayment.data.id as string;
      const commit = random.next() < 0.6;
      const field = commit ? 'commitRechargePayment' : 'rollbackRechargePayment';
      const res = await t.graphql(
        `mutation($id: ID!) { ${field}(id: $id${commit ? '' : ', reason: "bank test"'}) { __typename ... on AppError { code message } } }`,
        { id },
        { authorization: auth },
      );
      expect(res.data?.[field].__typename, JSON.stringify(res)).not.toBe('AppError');
      if (commit) {
        acknowledged.committed.set(id, BigInt(amount));
        stats.commits++;
      } else {
        acknowledged.rolledBack.add(id);
        stats.rollbacks++;
      }
    };

    const client = async () => {
      while (Date.now() < deadline) await random.pick([chargePockets, chargePockets, topUp, topUp, recharge])();
    };

    const reader = async () => {
      while (Date.now() < deadline) {
        for (const row of await totals()) {
          expect(row.posted, `${row.currency} posted total`).toBe(0n);
          expect(row.pending, `${row.currency} pending total`).toBe(0n);
        }
        const floors = await t.app.deps.prisma.$queryRawUnsafe<{ name: string }[]>(
          `SELECT name FROM ledger_accounts WHERE merchant_id = $1 AND floor IS NOT NULL AND credits_posted - debits_posted - debits_pending < floor`,
          merchant.merchantId,
        );
        expect(floors).toEqual([]);
        const view = await t.graphql(
          `query($slug: String!) { pocketGroup(slug: $slug) { spent remaining pockets(first: 20) { edges { node { balance } } } } wallets(first: 10) { edges { node { balance } } } }`,
          { slug },
          { authorization: auth },
        );
        expect(view.errors).toBeUndefined();
        expect(BigInt(view.data.pocketGroup.remaining)).toBeGreaterThanOrEqual(0n);
        expect(BigInt(view.data.pocketGroup.spent)).toBeLessThanOrEqual(CAP);
        for (const edge of [...view.data.pocketGroup.pockets.edges, ...view.data.wallets.edges]) expect(BigInt(edge.node.balance)).toBeGreaterThanOrEqual(0n);
        stats.reads++;
      }
    };

    await Promise.all([...Array.from({ length: CLIENTS }, client), reader(), reader()]);
    console.info(`bank test: seed ${SEED}, ${JSON.stringify(stats)}`);
    expect(stats.reads).toBeGreaterThan(0);
    expect(stats.charges + stats.topUps + stats.commits).toBeGreaterThan(CLIENTS);

    const db = t.app.deps.prisma;
    const where = { merchantId: merchant.merchantId };

    // Every acknowledged pocket charge once, and nothing else charged.
    const charges = await db.pocketCharge.findMany({ where: { ...where, status: 'success' } });
    expect(new Map(charges.map((charge) => [charge.token, charge.amount]))).toEqual(acknowledged.pocketTokens);
    const chargeTransfers = await db.ledgerTransfer.findMany({ where: { ...where, key: { startsWith: 'pocket-charge:' } } });
    expect(chargeTransfers.length).toBe(acknowledged.pocketTokens.size);
    const charged = [...acknowledged.pocketTokens.values()].reduce((sum, amount) => sum + amount, 0n);
    expect(charged).toBeLessThanOrEqual(CAP);

    // Every acknowledged top-up once, however often it was retried.
    const transactions = await db.walletTransaction.findMany({ where });
    expect(transactions.length).toBe(acknowledged.topUps.size);
    for (const transaction of transactions) expect(acknowledged.topUps.get(transaction.requestId!)?.amount).toBe(transaction.creditedAmount);

    // Every commit and rollback once.
    const payments = await db.rechargePayment.findMany({ where });
    expect(payments.filter((payment) => payment.state === 'COMMITTED' || payment.state === 'committed').map((payment) => payment.id).sort()).toEqual([...acknowledged.committed.keys()].sort());
    expect(payments.filter((payment) => /roll/i.test(payment.state)).map((payment) => payment.id).sort()).toEqual([...acknowledged.rolledBack].sort());

    // The balances are the sums of what was acknowledged.
    const accounts = await db.ledgerAccount.findMany({ where });
    const sumOf = (kind: string) => accounts.filter((account) => account.kind === kind).reduce((sum, account) => sum + account.creditsPosted - account.debitsPosted, 0n);
    expect(sumOf('pocket')).toBe(charged);
    expect(sumOf('wallet')).toBe([...acknowledged.topUps.values()].reduce((sum, topUp) => sum + topUp.amount, 0n));
    expect(sumOf('recharge_user')).toBe([...acknowledged.committed.values()].reduce((sum, amount) => sum + amount, 0n));
    for (const row of await totals()) expect([row.posted, row.pending]).toEqual([0n, 0n]);
    expect((await verifyLedger(db)).violations).toEqual([]);
  });
});
