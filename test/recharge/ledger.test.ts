import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { parseArgs } from '../../src/cli/args.ts';
import { DEMO, seedDemo } from '../../src/demo.ts';
import { findAccount, MAX_TOTAL } from '../../src/ledger/ledger.ts';
import { rechargeModule, startExpirySweep } from '../../src/modules/recharge/index.ts';
import { expireRechargePayments } from '../../src/modules/recharge/service.ts';
import { basic, expectLedgerBalanced, startApp, TestClock, usesPostgres, type TestApp } from '../support/app.ts';
import { bearer, createProvider, paymentsPath, privilegedMerchant } from './helpers.ts';

let t: TestApp;
let merchant: MerchantCredentials;
let auth: string;
const clock = new TestClock();
const MINUTE = 60_000;

beforeAll(async () => {
  t = await startApp({}, { clock });
  merchant = await privilegedMerchant(t);
  auth = await bearer(t, merchant);
  await createProvider(t, merchant.merchantId, 'topup');
});
afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

const create = async (userId: number, amount: number | string, reference = 'topup') => {
  const res = await t.request('POST', paymentsPath(reference), { authorization: auth, body: { userId, params: { amount: String(amount) } } });
  expect(res.status).toBe(200);
  return res.json.id as string;
};
const commit = (id: string, reference = 'topup') => t.request('POST', paymentsPath(reference, id, 'commit'), { authorization: auth });
const rollback = (id: string, reason = 'test', reference = 'topup') =>
  t.request('POST', paymentsPath(reference, id, 'rollback'), { authorization: auth, body: { reason } });

async function account(userId: number) {
  const found = await findAccount(t.app.deps.prisma, merchant.merchantId, `recharge-user:${userId}:IRR`);
  return { balance: found ? found.creditsPosted - found.debitsPosted : 0n, pending: found?.creditsPending ?? 0n };
}

/** The ledger's resolutions of a payment's current pending transfer. */
async function resolutions(paymentId: string) {
  const payment = await t.app.deps.prisma.rechargePayment.findUniqueOrThrow({ where: { id: paymentId } });
  return t.app.deps.prisma.ledgerTransfer.findMany({ where: { pendingId: payment.transferId }, select: { kind: true, amount: true } });
}

describe('concurrent commit and rollback of one payment', () => {
  it('lets exactly one win each time; the ledger shows one resolution, never both', async () => {
    const pairs = 10;
    const ids = await Promise.all(Array.from({ length: pairs }, (_, i) => create(700, 100 + i)));
    const outcomes = await Promise.all(
      ids.map(async (id, i) => {
        // Alternate which request leaves first, so both orders race.
        const [c, r] = i % 2 === 0 ? await Promise.all([commit(id), rollback(id, 'race')]) : (await Promise.all([rollback(id, 'race'), commit(id)])).reverse();
        return { id, commit: c!.status, rollback: r!.status, rollbackError: r!.json?.error, commitError: c!.json?.error };
      }),
    );
    let committed = 0n;
    for (const [i, outcome] of outcomes.entries()) {
      expect([outcome.commit, outcome.rollback].sort()).toEqual([200, 409]);
      expect(outcome.commit === 409 ? outcome.commitError : outcome.rollbackError).toBe('INVALID_STATE_TRANSITION');
      const kinds = (await resolutions(outcome.id)).map((r) => r.kind);
      expect(kinds).toEqual([outcome.commit === 200 ? 'post' : 'void']);
      const payment = await t.app.deps.prisma.rechargePayment.findUniqueOrThrow({ where: { id: outcome.id } });
      expect(payment.state).toBe(outcome.commit === 200 ? 'committed' : 'rolled_back');
      if (outcome.commit === 200) committed += BigInt(100 + i);
    }
    expect(await account(700)).toEqual({ balance: committed, pending: 0n });
  });

  it('commits once when the same commit arrives many times at once', async () => {
    const id = await create(701, 555);
    const answers = await Promise.all(Array.from({ length: 8 }, () => commit(id)));
    for (const answer of answers) expect(answer.json).toEqual({ amount: 555 });
    expect((await resolutions(id)).map((r) => r.kind)).toEqual(['post']);
    expect(await account(701)).toEqual({ balance: 555n, pending: 0n });
  });

  it('numbers concurrent payments of one provider without gaps or repeats', async () => {
    await createProvider(t, merchant.merchantId, 'burst');
    await Promise.all(Array.from({ length: 15 }, (_, i) => create(702, 1 + i, 'burst')));
    const payments = await t.app.deps.prisma.rechargePayment.findMany({ where: { provider: { reference: 'burst', merchantId: merchant.merchantId } } });
    expect(payments.map((p) => p.paymentNo).sort((a, b) => a - b)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
  });
});

describe('balances', () => {
  it("never include uncommitted payments: a user's balance is the sum of committed ones", async () => {
    const committed = [await create(710, 1000), await create(710, 2000)];
    const pending = [await create(710, 4000), await create(710, 8000)];
    const rolledBack = await create(710, 16000);
    expect(await account(710)).toEqual({ balance: 0n, pending: 31000n });
    for (const id of committed) expect((await commit(id)).status).toBe(200);
    expect((await rollback(rolledBack)).status).toBe(200);
    expect(await account(710)).toEqual({ balance: 3000n, pending: 12000n });
    const res = await t.graphql(`{ rechargeBalance(userId: "710", currency: "IRR") { balance pending } }`, {}, { authorization: auth });
    expect(res.data.rechargeBalance).toEqual({ balance: '3000', pending: '12000' });
    expect(pending).toHaveLength(2);
  });

  it('refuses a commit that would take a balance past what the ledger keeps, and changes nothing', async () => {
    await commit(await create(790, 1000));
    const name = 'recharge-user:790:IRR';
    const user = (await findAccount(t.app.deps.prisma, merchant.merchantId, name))!;
    // As after a thousand commits of 2^53 - 1: the next one does not fit in the account's total.
    const near = MAX_TOTAL - 500n;
    const setCredits = (value: bigint) =>
      t.app.deps.prisma.$executeRawUnsafe(`UPDATE ledger_accounts SET credits_posted = $2::bigint WHERE id = $1`, user.id, value.toString());
    await setCredits(near);
    try {
      const id = await create(790, 1000);
      const refused = await commit(id);
      expect(refused.status).toBe(400);
      expect(refused.json).toMatchObject({ error: 'VALIDATION_FAILED', message: expect.stringContaining('largest total the ledger keeps') });
      const GRAPHQL = 'mutation ($id: ID!) { commitRechargePayment(id: $id) { __typename ... on AppError { code field } } }';
      const viaGraphql = await t.graphql(GRAPHQL, { id }, { authorization: auth });
      expect(viaGraphql.data.commitRechargePayment).toEqual({ __typename: 'AppError', code: 'VALIDATION_FAILED', field: 'amount' });
      const after = (await findAccount(t.app.deps.prisma, merchant.merchantId, name))!;
      expect([after.creditsPosted, after.creditsPending]).toEqual([near, 1000n]);
      expect((await t.app.deps.prisma.rechargePayment.findUniqueOrThrow({ where: { id } })).state).toBe('pending');
      expect((await rollback(id)).status).toBe(200);
    } finally {
      await setCredits(1000n);
    }
    expect(await account(790)).toEqual({ balance: 1000n, pending: 0n });
  });

  it('keeps the user balance apart per merchant', async () => {
    const other = await privilegedMerchant(t, 'Other');
    await createProvider(t, other.merchantId, 'topup');
    const res = await t.request('POST', paymentsPath('topup'), { authorization: await bearer(t, other), body: { userId: 710, params: { amount: '5' } } });
    expect(res.status).toBe(200);
    expect((await account(710)).pending).toBe(12000n);
  });
});

// The clock starts at the real time and moves a few minutes only: against a shared PostgreSQL,
// other suites' payments (15-minute expiry, real time) stay out of reach of this suite's sweeps.
describe('expiry, driven by the test clock', () => {
  let short: { id: string };
  beforeAll(async () => {
    short = await createProvider(t, merchant.merchantId, 'short', ['--expires-in', '60']);
  });

  it('commits just before the expiry, and refuses commit after it with EXPIRED, rolling the payment back', async () => {
    const early = await create(720, 300, 'short');
    const late = await create(720, 400, 'short');
    clock.advance(MINUTE - 1);
    expect((await commit(early, 'short')).status).toBe(200);
    clock.advance(1);
    const refused = await commit(late, 'short');
    expect(refused.status).toBe(409);
    expect(refused.json).toMatchObject({ error: 'EXPIRED', message: expect.stringContaining('expired') });
    const again = await commit(late, 'short');
    expect(again.json.error).toBe('EXPIRED');
    const payment = await t.app.deps.prisma.rechargePayment.findUniqueOrThrow({ where: { id: late } });
    expect(payment).toMatchObject({ state: 'rolled_back', reason: 'expired', expired: true });
    expect((await resolutions(late)).map((r) => r.kind)).toEqual(['void']);
    expect(await account(720)).toEqual({ balance: 300n, pending: 0n });

    const rolled = await rollback(late, 'too late anyway', 'short');
    expect(rolled.status).toBe(200);
    expect(rolled.json).toMatchObject({ state: 'rolled_back', reason: 'expired' });
    const update = await t.request('PATCH', paymentsPath('short', late), { authorization: auth, body: { description: 'x' } });
    expect(update.status).toBe(409);
    expect(update.json.error).toBe('EXPIRED');
  });

  it('sweeps overdue payments with an event each, once', async () => {
    const ids = [await create(721, 10, 'short'), await create(721, 20, 'short'), await create(721, 30, 'short')];
    const keep = await create(721, 40);
    clock.advance(MINUTE - 1);
    expect(await expireRechargePayments(t.app.deps, { providerId: short.id })).toBe(0);
    clock.advance(1);
    expect(await expireRechargePayments(t.app.deps, { providerId: short.id })).toBe(3);
    expect(await expireRechargePayments(t.app.deps, { providerId: short.id })).toBe(0);
    for (const id of ids) {
      expect(await t.app.deps.prisma.rechargePayment.findUniqueOrThrow({ where: { id } })).toMatchObject({ state: 'rolled_back', reason: 'expired' });
      expect((await resolutions(id)).map((r) => r.kind)).toEqual(['void']);
    }
    const events = await t.app.deps.prisma.event.findMany({ where: { objectId: { in: ids }, type: 'recharge.expired' } });
    expect(events).toHaveLength(3);
    expect((await commit(keep)).status).toBe(200);
    expect(await account(721)).toEqual({ balance: 40n, pending: 0n });
  });

  it("runs the sweep from the module's timer", async () => {
    const id = await create(723, 60, 'short');
    clock.advance(MINUTE);
    const stop = startExpirySweep(t.app.deps, 10);
    try {
      await vi.waitFor(async () => {
        expect(await t.app.deps.prisma.rechargePayment.findUniqueOrThrow({ where: { id } })).toMatchObject({ state: 'rolled_back', reason: 'expired' });
      }, 30_000);
    } finally {
      await stop();
    }
  });

  it('expires overdue payments when they are read', async () => {
    const id = await create(722, 50, 'short');
    clock.advance(MINUTE);
    const listed = await t.request('GET', `${paymentsPath('short')}?userId=722`, { authorization: auth });
    expect(listed.json.payments).toEqual([expect.objectContaining({ id, state: 'rolled_back' })]);
    expect(await account(722)).toEqual({ balance: 0n, pending: 0n });
  });
});

describe('operator CLI and demo', () => {
  const run = (...argv: string[]) => {
    const args = parseArgs(argv);
    const command = rechargeModule.commands![args.positionals.slice(0, 2).join(' ')]!;
    return command.run(t.app.deps.prisma, args);
  };

  it('creates and lists providers, refusing a duplicate reference and bad definitions', async () => {
    const m = await t.merchant();
    const created = (await run(
      'recharge-provider', 'create', '--merchant', m.merchantId, '--reference', 'cli', '--name', 'CLI provider',
      '--description', 'Made by hand', '--params', '[{"name":"phone","type":"string","required":true}]', '--currency', 'USD',
    )) as Record<string, unknown>;
    expect(created).toMatchObject({ reference: 'cli', name: 'CLI provider', currency: 'USD', expiresInSeconds: 900 });
    await expect(run('recharge-provider', 'create', '--merchant', m.merchantId, '--reference', 'cli', '--name', 'Again')).rejects.toMatchObject({
      code: 'CONFLICT',
    });
    await expect(
      run('recharge-provider', 'create', '--merchant', m.merchantId, '--reference', 'bad', '--name', 'Bad', '--params', '[{"name":"x","type":"float"}]'),
    ).rejects.toMatchObject({ field: 'params[0].type' });
    await expect(run('recharge-provider', 'create', '--merchant', m.merchantId, '--name', 'No ref')).rejects.toThrow('--reference is required');
    const listed = (await run('recharge-provider', 'list', '--merchant', m.merchantId)) as { providers: { reference: string; params: unknown[] }[] };
    expect(listed.providers.map((p) => p.reference)).toEqual(['cli']);
    expect(listed.providers[0]!.params).toHaveLength(2);
  });

  it('seeds a demo provider that the demo OAuth client can pay through, idempotently', async () => {
    await seedDemo(t.app.database);
    await seedDemo(t.app.database);
    const tokenResponse = await t.request('POST', '/oauth/token', {
      authorization: basic(DEMO.oauthClientId, DEMO.oauthClientSecret),
      body: { grant_type: 'client_credentials', scope: 'credit' },
    });
    expect(tokenResponse.status).toBe(200);
    const demoAuth = `Bearer ${tokenResponse.json.access_token}`;
    const providers = await t.request('GET', '/v3/rechargeProviders', { authorization: demoAuth });
    expect(providers.json.count).toBe(1);
    const reference = providers.json.providers[0].reference as string;
    const created = await t.request('POST', paymentsPath(reference), {
      authorization: demoAuth,
      body: { userId: 1, description: 'demo', params: { amount: '50000', phone: '09120000000' } },
    });
    expect(created.status).toBe(200);
    const committed = await t.request('POST', paymentsPath(reference, created.json.id, 'commit'), { authorization: demoAuth });
    expect(committed.json).toEqual({ amount: 50000 });
  });
});
