import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectLedgerBalanced, startApp, token, usesPostgres, type TestApp } from '../support/app.ts';
import { EVENTS_QUERY, RawSocket, until, wait } from '../support/live.ts';
import { createGroup, newPhone, newToken } from '../pockets/support.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';

const REDIS_URL = process.env.REDIS_URL;

const CHARGE = /* GraphQL */ `
  mutation Charge($groupSlug: String!, $charges: [PocketChargeInput!]!) {
    chargePockets(groupSlug: $groupSlug, charges: $charges) {
      __typename
      ... on MutationChargePocketsSuccess { data { __typename ... on PocketCharge { token status } } }
      ... on AppError { code message }
    }
  }
`;

/** The merchant's events not published yet: not numbered, or numbered after the published position. */
async function unpublished(t: TestApp, merchantId: string): Promise<number> {
  const [row] = await t.app.deps.sql.$queryRawUnsafe<{ count: bigint }[]>(
    `SELECT count(*) AS count FROM events
     WHERE merchant_id = $1 AND (seq IS NULL OR seq > (SELECT coalesce(max(published_seq), 0) FROM event_cursor))`,
    merchantId,
  );
  return Number(row!.count);
}

describe.skipIf(!REDIS_URL)('a Redis outage', () => {
  let proxy: TcpProxy;
  let t: TestApp;
  beforeAll(async () => {
    proxy = await TcpProxy.start(REDIS_URL!);
    t = await startApp({ REDIS_URL: proxy.url(REDIS_URL!) });
  });
  afterAll(async () => {
    await proxy.restore();
    await t.stop();
    await proxy.stop();
  });

  it('keeps mutations succeeding; subscribers, resuming or connected throughout, get every event once and in order', async () => {
    const merchant = await t.merchant();
    const group = await createGroup(t, merchant);
    const charge = async (label: string) => {
      const answer = await t.graphql(CHARGE, { groupSlug: group.slug, charges: [{ token: newToken(), phoneNumber: newPhone(), amount: '1' }] }, { authorization: token(merchant) });
      expect(answer.errors, label).toBeUndefined();
      expect(answer.data.chargePockets.__typename, label).toBe('MutationChargePocketsSuccess');
      expect(answer.data.chargePockets.data[0].status, label).toBe('SUCCESS');
    };
    const owner = `merchant:${merchant.merchantId}`;

    const through = await RawSocket.open(t);
    await through.init(token(merchant));
    through.subscribe('1', EVENTS_QUERY);
    await until(() => t.app.deps.subscriptions.count(owner) === 1);
    await wait(200);
    const seen = () => through.results('1').map((r) => r.data.events as { id: string; objectId: string; type: string });

    for (let i = 0; i < 5; i++) await charge(`before ${i}`);
    await until(() => seen().length === 5, 10_000, 'the events before the outage');
    const lastBefore = seen().at(-1)!.id;

    await proxy.cut();
    for (let i = 0; i < 15; i++) await charge(`during ${i}`);
    const ready = await t.request('GET', '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.json).toMatchObject({ status: 'unavailable', database: 'up', redis: 'down' });
    expect((await t.request('GET', '/healthz')).status).toBe(200);
    // On PostgreSQL, the instances of other test files share the outbox and may publish it meanwhile.
    if (!usesPostgres) expect(await unpublished(t, merchant.merchantId)).toBe(15);

    await proxy.restore();
    for (let i = 0; i < 5; i++) await charge(`after ${i}`);
    await until(async () => (await t.request('GET', '/readyz')).status === 200, 15_000, 'Redis to be ready again');
    await until(async () => (await unpublished(t, merchant.merchantId)) === 0, 15_000, 'the outbox to drain');

    const logged = (await t.app.deps.prisma.event.findMany({ where: { merchantId: merchant.merchantId }, orderBy: { seq: 'asc' } })).map((event) => event.seq!.toString());
    expect(logged).toHaveLength(25);

    // Connected through the outage: live again, and what it missed meanwhile read from the log.
    await charge('last');
    await until(() => seen().length === 26, 15_000, 'the subscriber connected through the outage to catch up');
    await wait(300);
    const all = [...logged, (await t.app.deps.prisma.event.findFirst({ where: { merchantId: merchant.merchantId }, orderBy: { seq: 'desc' } }))!.seq!.toString()];
    expect(seen().map((event) => event.id)).toEqual(all);
    expect(seen().every((event) => event.type === 'pocket.charged')).toBe(true);

    // Resuming from the last id seen before the outage.
    const resuming = await RawSocket.open(t);
    await resuming.init(token(merchant));
    resuming.subscribe('1', EVENTS_QUERY, { after: lastBefore });
    await until(() => resuming.results('1').length === 21, 10_000, 'the resuming subscriber');
    await wait(300);
    expect(resuming.results('1').map((r) => r.data.events.id)).toEqual(all.slice(5));

    through.socket.close();
    resuming.socket.close();
    await expectLedgerBalanced(t);
  });

  it.skipIf(!usesPostgres)('lets a subscriber whose instance lost Redis, while another instance published, catch up from the log', async () => {
    await proxy.restore();
    const other = await startApp({ REDIS_URL });
    try {
      const merchant = await t.merchant();
      const group = await createGroup(t, merchant);
      const charge = async (on: TestApp) => {
        const answer = await on.graphql(CHARGE, { groupSlug: group.slug, charges: [{ token: newToken(), phoneNumber: newPhone(), amount: '1' }] }, { authorization: token(merchant) });
        expect(answer.data.chargePockets.__typename).toBe('MutationChargePocketsSuccess');
      };
      const socket = await RawSocket.open(t);
      await socket.init(token(merchant));
      socket.subscribe('1', EVENTS_QUERY);
      await until(() => t.app.deps.subscriptions.count(`merchant:${merchant.merchantId}`) === 1);
      await wait(200);
      const seen = () => socket.results('1').map((r) => r.data.events.id as string);
      await charge(other);
      await until(() => seen().length === 1, 10_000, 'the first event');

      await proxy.cut();
      // Published to Redis by the other instance while this one cannot hear it.
      for (let i = 0; i < 5; i++) await charge(other);
      await other.app.deps.relay.flush();
      expect(await unpublished(t, merchant.merchantId)).toBe(0);
      await wait(300);
      expect(seen()).toHaveLength(1);

      await proxy.restore();
      await until(() => seen().length === 6, 15_000, 'the catch-up from the log after reconnecting');
      await charge(other);
      await until(() => seen().length === 7, 10_000, 'live events again');
      await wait(300);
      const logged = (await t.app.deps.prisma.event.findMany({ where: { merchantId: merchant.merchantId }, orderBy: { seq: 'asc' } })).map((event) => event.seq!.toString());
      expect(seen()).toEqual(logged);
      socket.socket.close();
    } finally {
      await other.stop();
    }
  });
});
