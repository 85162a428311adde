import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectLedgerBalanced, startApp, token, type TestApp, wsClient } from '../support/app.ts';
import { chargePath, createGroup, newPhone, newToken, pocketBalance } from './support.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startApp();
});
afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

const CHARGE = /* GraphQL */ `
  mutation Charge($groupSlug: String!, $charges: [PocketChargeInput!]!) {
    chargePockets(groupSlug: $groupSlug, charges: $charges) {
      __typename
      ... on MutationChargePocketsSuccess {
        data {
          __typename
          ... on PocketCharge { id token phoneNumber amount status pocket { id balance } group { slug } }
          ... on PocketChargeError { code reason message messageFa field index token phoneNumber amount }
        }
      }
      ... on AppError { code message field }
    }
  }
`;

const GROUP = /* GraphQL */ `
  query Group($slug: String!) {
    pocketGroup(slug: $slug) {
      slug currency cap spent remaining
      pockets(first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { node { phoneNumber balance } } }
    }
  }
`;

describe('GraphQL pockets', () => {
  it('charges a batch with one result per item, typed, and reads groups, pockets and charges back', async () => {
    const m = await t.merchant();
    const group = await createGroup(t, m, { cap: 10_000n });
    const [a, b, c] = [newPhone(), newPhone(), newPhone()];
    const ok = newToken();
    const res = await t.graphql(
      CHARGE,
      {
        groupSlug: group.slug,
        charges: [
          { token: ok, phoneNumber: `+${a}`, amount: '4000' },
          { token: ok, phoneNumber: b, amount: 1 },
          { token: 'nope', phoneNumber: b, amount: 1 },
          { token: newToken(), phoneNumber: b, amount: 0 },
          { token: newToken(), phoneNumber: b, amount: '7000' },
          { token: newToken(), phoneNumber: b, amount: '3000' },
          { token: newToken(), phoneNumber: c, amount: '3000' },
        ],
      },
      { authorization: token(m) },
    );
    expect(res.errors).toBeUndefined();
    const data = res.data.chargePockets.data;
    expect(data[0]).toMatchObject({ __typename: 'PocketCharge', token: ok, phoneNumber: a, amount: '4000', status: 'SUCCESS', pocket: { balance: '4000' }, group: { slug: group.slug } });
    expect(data.slice(1).map((r: { __typename: string; reason?: string; code?: string }) => [r.__typename, r.reason ?? null, r.code ?? null])).toEqual([
      ['PocketChargeError', 'DUPLICATE_TOKEN', 'DUPLICATE_TOKEN'],
      ['PocketChargeError', 'INVALID_TOKEN', 'VALIDATION_FAILED'],
      ['PocketChargeError', 'INVALID_AMOUNT', 'VALIDATION_FAILED'],
      ['PocketChargeError', 'CAP_EXCEEDED', 'CAP_EXCEEDED'],
      ['PocketCharge', null, null],
      ['PocketCharge', null, null],
    ]);
    expect(data[1]).toMatchObject({ index: 1, field: 'token', token: ok, phoneNumber: b, amount: '1', messageFa: 'توکن تکراری است' });
    expect(data[4].message).toMatch(/cap/);

    const read = await t.graphql(GROUP, { slug: group.slug }, { authorization: token(m) });
    expect(read.data.pocketGroup).toMatchObject({ slug: group.slug, currency: 'IRR', cap: '10000', spent: '10000', remaining: '0' });
    expect(read.data.pocketGroup.pockets.totalCount).toBe(3);
    expect(read.data.pocketGroup.pockets.pageInfo.hasNextPage).toBe(true);
    const balances = read.data.pocketGroup.pockets.edges.map((e: { node: { phoneNumber: string; balance: string } }) => [e.node.phoneNumber, e.node.balance]);
    expect(balances).toHaveLength(2);
    for (const [phone, bal] of balances) expect(BigInt(bal)).toBe(await pocketBalance(t, group, phone));

    const one = await t.graphql(
      `query($slug: String!, $phone: String!, $token: String!, $failed: String!) {
        pocket(groupSlug: $slug, phoneNumber: $phone) { phoneNumber balance charges { totalCount } }
        pocketCharge(token: $token) { token status failure amount pocket { phoneNumber } }
        failed: pocketCharge(token: $failed) { status failure }
        pocketGroups { totalCount edges { node { slug } } }
      }`,
      { slug: group.slug, phone: `0${a.slice(2)}`, token: ok.toUpperCase(), failed: data[4].token },
      { authorization: token(m) },
    );
    expect(one.data).toEqual({
      pocket: { phoneNumber: a, balance: '4000', charges: { totalCount: 1 } },
      pocketCharge: { token: ok, status: 'SUCCESS', failure: null, amount: '4000', pocket: { phoneNumber: a } },
      failed: { status: 'ERROR', failure: 'CAP_EXCEEDED' },
      pocketGroups: { totalCount: 1, edges: [{ node: { slug: group.slug } }] },
    });
  });

  it('answers batch-level failures as AppError, and access failures as errors', async () => {
    const m = await t.merchant();
    await createGroup(t, m);
    const unknown = await t.graphql(CHARGE, { groupSlug: 'no-such-group', charges: [] }, { authorization: token(m) });
    expect(unknown.data.chargePockets).toMatchObject({ __typename: 'AppError', code: 'NOT_FOUND' });
    const tooMany = Array.from({ length: 1001 }, () => ({ token: newToken(), phoneNumber: newPhone(), amount: 1 }));
    const big = await t.graphql(CHARGE, { groupSlug: 'no-such-group', charges: tooMany }, { authorization: token(m) });
    expect(big.data.chargePockets).toMatchObject({ __typename: 'AppError', code: 'VALIDATION_FAILED', field: 'charges' });

    const noScope = await t.merchant({ scopes: ['wallets'] });
    const forbidden = await t.graphql('{ pocketGroups { totalCount } }', {}, { authorization: token(noScope) });
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const anonymous = await t.graphql(CHARGE, { groupSlug: 'x', charges: [] });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });

  it("shows another merchant's group, pocket and charge as unknown, and charges nothing there", async () => {
    const a = await t.merchant();
    const b = await t.merchant();
    const group = await createGroup(t, a);
    const phone = newPhone();
    const charged = newToken();
    await t.graphql(CHARGE, { groupSlug: group.slug, charges: [{ token: charged, phoneNumber: phone, amount: 5 }] }, { authorization: token(a) });
    const pocket = await t.app.deps.prisma.pocket.findFirstOrThrow({ where: { groupId: group.id } });

    const seen = await t.graphql(
      `query($slug: String!, $phone: String!, $token: String!) {
        pocketGroup(slug: $slug) { id }
        pocket(groupSlug: $slug, phoneNumber: $phone) { id }
        pocketCharge(token: $token) { id }
        pocketGroups { totalCount }
      }`,
      { slug: group.slug, phone, token: charged },
      { authorization: token(b) },
    );
    expect(seen.data).toEqual({ pocketGroup: null, pocket: null, pocketCharge: null, pocketGroups: { totalCount: 0 } });
    const charge = await t.graphql(CHARGE, { groupSlug: group.slug, charges: [{ token: newToken(), phoneNumber: phone, amount: 5 }] }, { authorization: token(b) });
    expect(charge.data.chargePockets).toMatchObject({ __typename: 'AppError', code: 'NOT_FOUND' });
    expect(await pocketBalance(t, group, phone)).toBe(5n);

    const client = wsClient(t, token(b));
    // One after the other: the lazy client may close its socket once its only subscription ends.
    const errors = [
      await firstResult(client, `subscription($slug: String!) { pocketCharged(groupSlug: $slug) { id } }`, { slug: group.slug }),
      await firstResult(client, `subscription($id: ID!) { pocketBalanceChanged(pocketId: $id) { id } }`, { id: pocket.id }),
    ];
    expect(errors.map((e) => (e as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]?.extensions?.code)).toEqual(['NOT_FOUND', 'NOT_FOUND']);
    await client.dispose();
  });
});

/** The first message of a subscription (data or errors), then unsubscribes. */
function firstResult(client: Client, query: string, variables: Record<string, unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const stop = client.subscribe(
      { query, variables },
      {
        next: (result) => {
          stop();
          resolve(result);
        },
        error: (error) => resolve({ errors: Array.isArray(error) ? error : [error] }),
        complete: () => reject(new Error('subscription completed without a result')),
      },
    );
  });
}

/**
 * Subscribes, then charges (each time with a new token) until the first event arrives: the server
 * registers a subscription asynchronously (with Redis, a SUBSCRIBE round-trip), so a charge sent
 * too early may pass unseen, and no fixed wait is reliable.
 */
async function chargeUntilSeen<T>(
  client: Client,
  query: string,
  variables: Record<string, unknown>,
  charge: () => Promise<string>,
): Promise<{ event: T; sent: string[] }> {
  let seen: T | null = null;
  let failure: unknown = null;
  const stop = client.subscribe<T>({ query, variables }, {
    next: (result) => {
      if (result.errors) failure = result.errors;
      else seen ??= result.data as T;
    },
    error: (error) => (failure = error),
    complete: () => {},
  });
  const sent: string[] = [];
  for (let attempt = 0; seen === null && failure === null && attempt < 200; attempt++) {
    sent.push(await charge());
    await t.app.deps.relay.flush();
    await new Promise((resolve) => setImmediate(resolve));
  }
  stop();
  if (failure) throw new Error(JSON.stringify(failure));
  if (seen === null) throw new Error('no event arrived');
  return { event: seen, sent };
}

describe('GraphQL pocket subscriptions', () => {
  it('delivers charges of a group over graphql-ws, and a pocket\'s new balance', async () => {
    const m = await t.merchant();
    const group = await createGroup(t, m);
    const other = await createGroup(t, m);
    const phone = newPhone();
    const client = wsClient(t, token(m));
    const chargeVia = (slug: string, amount: number) => async () => {
      const tokenValue = newToken();
      const res = await t.request('POST', chargePath(slug), { authorization: token(m), body: { charges: [{ token: tokenValue, phone_number: phone, amount }] } });
      expect(res.json.results[0].status).toBe('success');
      return tokenValue;
    };

    // A charge in another group of the merchant never reaches this group's subscribers.
    const charged = await chargeUntilSeen<{ pocketCharged: { token: string; amount: string; phoneNumber: string; group: { slug: string } } }>(
      client,
      `subscription($slug: String!) { pocketCharged(groupSlug: $slug) { token amount phoneNumber group { slug } } }`,
      { slug: group.slug },
      async () => {
        await chargeVia(other.slug, 1)();
        return chargeVia(group.slug, 300)();
      },
    );
    expect(charged.sent).toContain(charged.event.pocketCharged.token);
    expect(charged.event.pocketCharged).toMatchObject({ amount: '300', phoneNumber: phone, group: { slug: group.slug } });

    const pocket = await t.app.deps.prisma.pocket.findFirstOrThrow({ where: { groupId: group.id } });
    const changed = await chargeUntilSeen<{ pocketBalanceChanged: { id: string; balance: string } }>(
      client,
      `subscription($id: ID!) { pocketBalanceChanged(pocketId: $id) { id balance } }`,
      { id: pocket.id },
      chargeVia(group.slug, 7),
    );
    expect(changed.event.pocketBalanceChanged.id).toBe(pocket.id);
    // Re-read when delivered: at least the balance after the first charge it saw.
    const before = 300n * BigInt(charged.sent.length);
    expect(BigInt(changed.event.pocketBalanceChanged.balance)).toBeGreaterThanOrEqual(before + 7n);
    expect(BigInt(changed.event.pocketBalanceChanged.balance)).toBeLessThanOrEqual(await pocketBalance(t, group, phone));
    await client.dispose();
  });

  it('delivers a batch\'s charges as one event each, with consecutive ids, and resumes inside the batch', async () => {
    const m = await t.merchant();
    const group = await createGroup(t, m);
    const phones = [newPhone(), newPhone(), newPhone()];
    const charges = phones.map((phone, i) => ({ token: newToken(), phone_number: phone, amount: 10 + i }));
    const res = await t.request('POST', chargePath(group.slug), { authorization: token(m), body: { charges } });
    expect(res.json.results.map((r: { status: string }) => r.status)).toEqual(['success', 'success', 'success']);
    await t.app.deps.relay.flush();
    const latest = BigInt((await t.graphql('{ latestEventId }', {}, { authorization: token(m) })).data.latestEventId as string);
    const pockets = await t.app.deps.prisma.pocket.findMany({ where: { groupId: group.id } });
    const pocketOf = new Map(pockets.map((pocket) => [pocket.phoneNumber, pocket.id]));

    const client = wsClient(t, token(m));
    type Event = { id: string; type: string; objectId: string; data: { token: string; amount: string } };
    const events = (after: bigint, count: number) =>
      take<{ events: Event }>(client, 'subscription($after: ID) { events(after: $after) { id type objectId data } }', { after: after.toString() }, count);
    const whole = (await events(latest - 3n, 3)).map((r) => r.events);
    expect(whole.map((e) => e.id)).toEqual([latest - 2n, latest - 1n, latest].map(String));
    expect(whole.map((e) => [e.type, e.objectId, e.data.token, e.data.amount])).toEqual(
      charges.map((c) => ['pocket.charged', pocketOf.get(c.phone_number), c.token, String(c.amount)]),
    );
    // After the batch's first event: the rest of it, nothing before.
    expect((await events(latest - 2n, 2)).map((r) => r.events)).toEqual(whole.slice(1));
    await client.dispose();
  });
});

/** The first `count` results of a subscription, then unsubscribes. */
function take<T>(client: Client, query: string, variables: Record<string, unknown>, count: number): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const seen: T[] = [];
    const stop = client.subscribe<T>(
      { query, variables },
      {
        next: (result) => {
          if (result.errors) return reject(new Error(JSON.stringify(result.errors)));
          seen.push(result.data as T);
          if (seen.length === count) {
            stop();
            resolve(seen);
          }
        },
        error: reject,
        complete: () => reject(new Error(`subscription completed after ${seen.length} of ${count} results`)),
      },
    );
  });
}
