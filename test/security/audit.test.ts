import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStaffUser, type MerchantCredentials } from '../../src/auth/credentials.ts';
import { RIGHTS, SCOPES } from '../../src/auth/scopes.ts';
import { actorOf, withActor } from '../../src/audit/actor.ts';
import { auditRecordTransfers, type AuditRecordTransfer } from '../../src/audit/audit.ts';
import { parseArgs } from '../../src/cli/args.ts';
import { coreCommands } from '../../src/cli/commands.ts';
import type { AuditRecord } from '../../src/generated/prisma/client.ts';
import { chargePockets } from '../../src/modules/pockets/service.ts';
import { createGroup, chargePath, newPhone, newToken } from '../pockets/support.ts';
import { bearer, createProvider, paymentsPath } from '../recharge/helpers.ts';
import { basic, expectLedgerBalanced, startApp, token, type TestApp } from '../support/app.ts';

let t: TestApp;
let merchant: MerchantCredentials;
let operator: string;
let walletId: string;
let requests = 0;

/** A request id no other request of the suite uses. */
const requestId = (what: string) => `audit-${what}-${process.pid}-${++requests}-${Date.now()}`;

/** An audit record with its transfers read from the ledger, as the API and the CLI answer it. */
type Recorded = Omit<AuditRecord, 'transferIds'> & { transfers: AuditRecordTransfer[] };

const recordsOf = async (id: string): Promise<Recorded[]> => {
  const records = await t.app.deps.prisma.auditRecord.findMany({ where: { requestId: id } });
  const transfers = await auditRecordTransfers(t.app.deps.prisma, records.map((record) => record.transferIds));
  return records.map(({ transferIds: _ids, ...record }, i) => ({ ...record, transfers: transfers[i]! }));
};

beforeAll(async () => {
  t = await startApp();
  merchant = await t.merchant({ name: 'Audited', scopes: [...SCOPES], rights: [...RIGHTS] });
  operator = await t.operator();
  const created = await t.graphql(
    `mutation ($merchantId: ID!) { createWallet(merchantId: $merchantId, username: "audited") { ... on MutationCreateWalletSuccess { data { id } } } }`,
    { merchantId: merchant.merchantId },
    { authorization: operator },
  );
  walletId = created.data.createWallet.data.id;
  await createProvider(t, merchant.merchantId, 'mobile');
});
afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

const TOP_UP = `mutation ($input: TopUpWalletInput!) {
  topUpWallet(input: $input) { __typename ... on MutationTopUpWalletSuccess { data { id } } ... on AppError { code } }
}`;

describe('audit trail', () => {
  it('records a top-up once, with the credential, the mutation, the request id and the amounts', async () => {
    const id = requestId('topup');
    const res = await t.graphql(TOP_UP, { input: { walletId, amount: '25000', txnCode: 'CIB', paymentMode: 'BANK' } }, {
      authorization: token(merchant),
      headers: { 'x-request-id': id },
    });
    expect(res.data.topUpWallet.__typename).toBe('MutationTopUpWalletSuccess');
    const records = await recordsOf(id);
    expect(records).toHaveLength(1);
    const [record] = records;
    expect(record).toMatchObject({
      merchantId: merchant.merchantId,
      actorKind: 'merchant',
      credentialId: merchant.tokenId,
      credentialKind: 'token',
      staffId: null,
      action: 'graphql:topUpWallet',
      requestId: id,
      reason: null,
    });
    const transfers = record!.transfers as { amount: string; currency: string; code: string; id: string }[];
    expect(transfers.reduce((sum, transfer) => sum + BigInt(transfer.amount), 0n)).toBe(25000n);
    // Every transfer the request wrote is listed, and nothing else.
    const written = await t.app.deps.prisma.ledgerTransfer.findMany({ where: { id: { in: transfers.map((transfer) => transfer.id) } } });
    expect(written).toHaveLength(transfers.length);
  });

  it('records a pocket batch charge once, listing each charged pocket', async () => {
    const group = await createGroup(t, merchant, { cap: 1_000_000n });
    const id = requestId('pockets');
    const res = await t.request('POST', chargePath(group.slug), {
      authorization: token(merchant),
      headers: { 'x-request-id': id },
      body: {
        charges: [
          { token: newToken(), phone_number: newPhone(), amount: 1000 },
          { token: newToken(), phone_number: newPhone(), amount: 2000 },
          { token: 'not a uuid', phone_number: newPhone(), amount: 3000 },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe(id);
    const records = await recordsOf(id);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      actorKind: 'merchant',
      credentialId: merchant.tokenId,
      action: `POST ${chargePath(group.slug)}`,
      merchantId: merchant.merchantId,
    });
    expect((records[0]!.transfers as { amount: string }[]).map((transfer) => transfer.amount)).toEqual(['1000', '2000']);
  });

  it('keeps a record per request when concurrent pocket charges of one group share a transaction', async () => {
    const group = await createGroup(t, merchant, { cap: 1_000_000n });
    const ids = Array.from({ length: 12 }, (_, i) => requestId(`coalesced-${i}`));
    // Called together, the first runs alone and the other eleven wait for it, then share one transaction.
    const transactions = new Set<string>();
    const results = await Promise.all(
      ids.map((id, i) =>
        withActor(actorOf(null, { action: 'test:chargePockets', requestId: id }), () =>
          chargePockets(t.app.deps, merchant.merchantId, group.slug, [{ token: newToken(), phoneNumber: newPhone(), amount: BigInt(100 + i) }]),
        ),
      ),
    );
    expect(results.map(([result]) => (result as { status?: string }).status)).toEqual(ids.map(() => 'success'));
    for (const [i, id] of ids.entries()) {
      const records = await recordsOf(id);
      expect(records, id).toHaveLength(1);
      expect((records[0]!.transfers as { amount: string }[]).map((transfer) => transfer.amount)).toEqual([String(100 + i)]);
      transactions.add(records[0]!.transactionKey.split(':').slice(0, 2).join(':'));
    }
    expect(transactions.size).toBeLessThan(ids.length);
  });

  it('records a recharge commit once, as the staff member behind the access token; a rollback with its reason', async () => {
    const staff = await createStaffUser(t.app.deps.prisma, { merchantId: merchant.merchantId, username: `cashier-${process.pid}`, password: 'a long cashier password' });
    const login = await t.request('POST', '/oauth/token', {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      authorization: basic(merchant.oauthClientId, merchant.oauthClientSecret),
      body: new URLSearchParams({ grant_type: 'login_info', username: staff.username, password: staff.password }).toString(),
    });
    expect(login.status).toBe(200);
    const auth = `Bearer ${login.json.access_token}`;
    const created = await t.request('POST', paymentsPath('mobile'), { authorization: auth, body: { userId: 42, params: { amount: '7000' } } });
    expect(created.status).toBe(200);

    const commitId = requestId('commit');
    const committed = await t.request('POST', paymentsPath('mobile', created.json.id, 'commit'), { authorization: auth, headers: { 'x-request-id': commitId } });
    expect(committed.status).toBe(200);
    const records = await recordsOf(commitId);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ actorKind: 'merchant', credentialKind: 'access_token', staffId: staff.credentialId, requestId: commitId });
    expect(records[0]!.transfers).toEqual([expect.objectContaining({ kind: 'post', amount: '7000', code: expect.any(String) })]);

    // A second commit answers the first result again and moves nothing: no record.
    const againId = requestId('commit-again');
    expect((await t.request('POST', paymentsPath('mobile', created.json.id, 'commit'), { authorization: auth, headers: { 'x-request-id': againId } })).status).toBe(200);
    expect(await recordsOf(againId)).toHaveLength(0);

    const other = await t.request('POST', paymentsPath('mobile'), { authorization: auth, body: { userId: 43, params: { amount: '500' } } });
    const rollbackId = requestId('rollback');
    // With the recharge document's own spelling of the header.
    const rolled = await t.request('POST', paymentsPath('mobile', other.json.id, 'rollback'), {
      headers: { authentication: auth, 'x-request-id': rollbackId },
      body: { reason: 'customer changed their mind' },
    });
    expect(rolled.status).toBe(200);
    const rollback = await recordsOf(rollbackId);
    expect(rollback).toHaveLength(1);
    expect(rollback[0]).toMatchObject({ reason: 'customer changed their mind', staffId: staff.credentialId });
    expect(rollback[0]!.transfers).toEqual([expect.objectContaining({ kind: 'void', amount: '500' })]);

    // The same through GraphQL: the mutation's reason argument is recorded.
    const third = await t.request('POST', paymentsPath('mobile'), { authorization: auth, body: { userId: 44, params: { amount: '600' } } });
    const graphqlId = requestId('rollback-graphql');
    const res = await t.graphql(
      `mutation ($id: ID!) { rollbackRechargePayment(id: $id, reason: "duplicate order") { __typename } }`,
      { id: third.json.id },
      { authorization: await bearer(t, merchant), headers: { 'x-request-id': graphqlId } },
    );
    expect(res.data.rollbackRechargePayment.__typename).toBe('MutationRollbackRechargePaymentSuccess');
    expect(await recordsOf(graphqlId)).toEqual([
      expect.objectContaining({ action: 'graphql:rollbackRechargePayment', reason: 'duplicate order', credentialKind: 'access_token', staffId: null }),
    ]);
  });

  it('records nothing for rejected requests', async () => {
    const rejected = [
      // No such wallet.
      t.graphql(TOP_UP, { input: { walletId: '0'.repeat(32), amount: '1000', txnCode: 'CIB', paymentMode: 'BANK' } }, {
        authorization: token(merchant),
        headers: { 'x-request-id': requestId('rejected-topup') },
      }),
      // Every item of the batch invalid.
      t.request('POST', chargePath((await createGroup(t, merchant, { cap: 10n })).slug), {
        authorization: token(merchant),
        headers: { 'x-request-id': requestId('rejected-pockets') },
        body: { charges: [{ token: newToken(), phone_number: newPhone(), amount: 1000 }] },
      }),
      // Bad credentials.
      t.graphql(TOP_UP, { input: { walletId, amount: '1000', txnCode: 'CIB', paymentMode: 'BANK' } }, {
        authorization: 'Token wrong',
        headers: { 'x-request-id': requestId('rejected-auth') },
      }),
    ];
    // This merchant's only: other suites share the database.
    const own = { where: { merchantId: merchant.merchantId } };
    const before = await t.app.deps.prisma.auditRecord.count(own);
    const transfers = await t.app.deps.prisma.ledgerTransfer.count(own);
    await Promise.all(rejected);
    expect(await t.app.deps.prisma.ledgerTransfer.count(own)).toBe(transfers);
    expect(await t.app.deps.prisma.auditRecord.count(own)).toBe(before);
  });

  it('answers operators (only) through GraphQL, filtered by merchant, request id and time, newest first, by pages', async () => {
    const QUERY = `query ($merchantId: ID, $requestId: String, $from: DateTime, $to: DateTime, $first: Int, $after: String) {
      auditLog(merchantId: $merchantId, requestId: $requestId, from: $from, to: $to, first: $first, after: $after) {
        edges { cursor node { id merchantId actorKind credentialId action requestId reason transfers createdAt } }
        pageInfo { hasNextPage endCursor }
      }
    }`;
    const ids = [requestId('page-1'), requestId('page-2'), requestId('page-3')];
    const started = new Date();
    for (const id of ids) {
      await t.graphql(TOP_UP, { input: { walletId, amount: '100', txnCode: 'CIB', paymentMode: 'BANK' } }, { authorization: token(merchant), headers: { 'x-request-id': id } });
    }
    const one = await t.graphql(QUERY, { requestId: ids[1] }, { authorization: operator });
    expect(one.data.auditLog.edges.map((edge: any) => edge.node.requestId)).toEqual([ids[1]]);
    // Each transfer whole, as the ledger holds it.
    const shown = one.data.auditLog.edges[0].node.transfers as AuditRecordTransfer[];
    const written = await t.app.deps.prisma.ledgerTransfer.findMany({ where: { id: { in: shown.map((transfer) => transfer.id) } } });
    expect(shown.length).toBeGreaterThan(0);
    expect(written).toHaveLength(shown.length);
    for (const transfer of shown) {
      const row = written.find((w) => w.id === transfer.id)!;
      expect(transfer).toEqual({
        id: row.id,
        code: row.code,
        kind: row.kind,
        amount: row.amount.toString(),
        currency: row.currency,
        debitAccountId: row.debitAccountId,
        creditAccountId: row.creditAccountId,
        pendingId: row.pendingId,
      });
    }

    const first = await t.graphql(QUERY, { merchantId: merchant.merchantId, from: started.toISOString(), first: 2 }, { authorization: operator });
    expect(first.data.auditLog.edges.map((edge: any) => edge.node.requestId)).toEqual([ids[2], ids[1]]);
    // A page's records each show their own transfers (read together).
    for (const edge of first.data.auditLog.edges) expect(edge.node.transfers).toEqual((await recordsOf(edge.node.requestId))[0]!.transfers);
    expect(first.data.auditLog.pageInfo.hasNextPage).toBe(true);
    const next = await t.graphql(QUERY, { merchantId: merchant.merchantId, from: started.toISOString(), first: 2, after: first.data.auditLog.pageInfo.endCursor }, { authorization: operator });
    expect(next.data.auditLog.edges.map((edge: any) => edge.node.requestId)).toEqual([ids[0]]);

    const none = await t.graphql(QUERY, { merchantId: merchant.merchantId, to: started.toISOString(), requestId: ids[0] }, { authorization: operator });
    expect(none.data.auditLog.edges).toEqual([]);
    const other = await t.merchant();
    expect((await t.graphql(QUERY, { merchantId: other.merchantId }, { authorization: operator })).data.auditLog.edges).toEqual([]);
    // An empty id filters too: no record has it.
    for (const empty of [{ merchantId: '' }, { requestId: '' }]) {
      expect((await t.graphql(QUERY, { ...empty, first: 5 }, { authorization: operator })).data.auditLog.edges).toEqual([]);
    }

    const denied = await t.graphql(QUERY, { merchantId: merchant.merchantId }, { authorization: token(merchant) });
    expect(denied.status).toBe(403);
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const cli = (await coreCommands['audit list']!.run(t.app.deps.prisma, parseArgs(['audit', 'list', '--request-id', ids[2]!]))) as { records: Recorded[]; next: string | null };
    expect(cli.records.map((record) => record.requestId)).toEqual([ids[2]]);
    expect(cli.records[0]!.transfers).toEqual(first.data.auditLog.edges[0].node.transfers);
    expect(cli.records[0]).not.toHaveProperty('transferIds');
    const page = (await coreCommands['audit list']!.run(
      t.app.deps.prisma,
      parseArgs(['audit', 'list', '--merchant', merchant.merchantId, '--from', started.toISOString(), '--limit', '2']),
    )) as { records: Recorded[]; next: string | null };
    expect(page.records.map((record) => record.requestId)).toEqual([ids[2], ids[1]]);
    const rest = (await coreCommands['audit list']!.run(
      t.app.deps.prisma,
      parseArgs(['audit', 'list', '--merchant', merchant.merchantId, '--from', started.toISOString(), '--before', page.next!]),
    )) as { records: Recorded[] };
    expect(rest.records.map((record) => record.requestId)).toEqual([ids[0]]);
  });
});
