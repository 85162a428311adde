import type { Client } from 'graphql-ws';
import { print } from 'graphql';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgSql, type SqlDatabase } from '../../src/db/sql.ts';
import { transact } from '../../src/deps.ts';
import { Redis } from 'ioredis';
import { createMemoryBus, createRedisBus, MERCHANT_STREAM, redisChannel, type EventBus, type EventMessage, type EventRun, type LiveSubscription } from '../../src/events/bus.ts';
import { OutboxRelay, readEventLog, recordEventGroup, recordEvents, streamPosition } from '../../src/events/outbox.ts';
import { createLogger } from '../../src/logger.ts';
import { EventsDocument } from '../generated/graphql.ts';
import { startApp, token, usesPostgres, type TestApp, wsClient } from '../support/app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startApp();
});
afterAll(() => t.stop());

const emit = (merchantId: string, objectId: string, type = 'test.happened') =>
  transact(t.app.deps, (tx) => recordEvents(tx, [{ merchantId, type, topic: 'TEST', objectId, data: { objectId } }]));


/** Collects `count` events of one subscription, then stops it. */
function collect(client: Client, variables: { after?: string | null }, count: number) {
  const seen: { id: string; type: string; objectId: string }[] = [];
  let started!: () => void;
  const ready = new Promise<void>((resolve) => (started = resolve));
  const done = new Promise<typeof seen>((resolve, reject) => {
    const stop = client.subscribe<{ events: (typeof seen)[number] }>(
      { query: print(EventsDocument), variables },
      {
        next: (result) => {
          if (result.errors) return reject(new Error(JSON.stringify(result.errors)));
          seen.push(result.data!.events);
          if (seen.length === count) {
            stop();
            resolve(seen);
          }
        },
        error: reject,
        complete: () => resolve(seen),
      },
    );
  });
  client.on('connected', () => setTimeout(started, 50));
  return { ready, done };
}

describe('events subscription', () => {
  it('delivers a merchant its own events over graphql-ws, and no one else\'s', async () => {
    const a = await t.merchant();
    const b = await t.merchant();
    const client = wsClient(t, token(a));
    const sub = collect(client, {}, 2);
    await sub.ready;
    await emit(b.merchantId, 'b-1');
    await emit(a.merchantId, 'a-1', 'test.first');
    await emit(a.merchantId, 'a-2', 'test.second');
    const events = await sub.done;
    expect(events.map((e) => [e.type, e.objectId])).toEqual([
      ['test.first', 'a-1'],
      ['test.second', 'a-2'],
    ]);
    expect(BigInt(events[1]!.id)).toBeGreaterThan(BigInt(events[0]!.id));
    await client.dispose();
  });

  it('delivers the events of one transaction, published together, each once and in order', async () => {
    const a = await t.merchant();
    const b = await t.merchant();
    const client = wsClient(t, token(a));
    const sub = collect(client, {}, 3);
    await sub.ready;
    // One relay round publishes them; with Redis, the merchant's three travel as one message.
    await transact(t.app.deps, (tx) =>
      recordEvents(tx, [
        { merchantId: a.merchantId, type: 'test.one', topic: 'TEST', objectId: 'together-1' },
        { merchantId: b.merchantId, type: 'test.other', topic: 'TEST', objectId: 'together-b' },
        { merchantId: a.merchantId, type: 'test.two', topic: 'TEST', objectId: 'together-2' },
        { merchantId: a.merchantId, type: 'test.three', topic: 'TEST', objectId: 'together-1' },
      ]),
    );
    const events = await sub.done;
    expect(events.map((e) => [e.type, e.objectId])).toEqual([
      ['test.one', 'together-1'],
      ['test.two', 'together-2'],
      ['test.three', 'together-1'],
    ]);
    expect(new Set(events.map((e) => e.id)).size).toBe(3);
    await client.dispose();
  });

  it('first replays what was missed after the given id, then continues live, without repeats', async () => {
    const a = await t.merchant();
    await emit(a.merchantId, 'old-1');
    await t.app.deps.relay.flush();
    const [first] = await t.app.deps.prisma.event.findMany({ where: { merchantId: a.merchantId }, orderBy: { seq: 'asc' } });
    await emit(a.merchantId, 'missed-1');
    await emit(a.merchantId, 'missed-2');
    const client = wsClient(t, token(a));
    const sub = collect(client, { after: first!.seq!.toString() }, 3);
    await sub.ready;
    await emit(a.merchantId, 'live-1');
    expect((await sub.done).map((e) => e.objectId)).toEqual(['missed-1', 'missed-2', 'live-1']);
    await client.dispose();
  });

  it('streams over SSE with the HTTP authorization header', async () => {
    const a = await t.merchant();
    const controller = new AbortController();
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: token(a) },
      body: JSON.stringify({ query: print(EventsDocument) }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    setTimeout(() => void emit(a.merchantId, 'sse-1', 'test.sse'), 200);
    let text = '';
    while (!text.includes('test.sse')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    expect(text).toMatch(/event: next\ndata: .*"objectId":"sse-1"/);
  });

  it('closes a graphql-ws connection with bad credentials with 4403', async () => {
    const closed = new Promise<number>((resolve) => {
      const client = wsClient(t, 'Token wrong', { on: { closed: (event) => resolve((event as CloseEvent).code) } });
      client.subscribe({ query: print(EventsDocument) }, { next: () => {}, error: () => {}, complete: () => {} });
    });
    expect(await closed).toBe(4403);
  });

  it('refuses a credential without the events scope', async () => {
    const limited = await t.merchant({ scopes: ['pockets'] });
    const client = wsClient(t, token(limited));
    const error = await new Promise<unknown>((resolve) =>
      client.subscribe({ query: print(EventsDocument) }, { next: resolve, error: resolve, complete: () => resolve(null) }),
    );
    expect(error).toMatchObject({ errors: [{ extensions: { code: 'FORBIDDEN' } }] });
    await client.dispose();
  });
});

describe.skipIf(!usesPostgres || !process.env.REDIS_URL)('across instances', () => {
  it('delivers, once, an event committed on another instance', async () => {
    const second = await startApp();
    try {
      const a = await t.merchant();
      const client = wsClient(t, token(a));
      const seen: string[] = [];
      let connected!: () => void;
      const ready = new Promise<void>((resolve) => (connected = resolve));
      client.on('connected', () => setTimeout(connected, 100));
      client.subscribe<{ events: { objectId: string } }>(
        { query: print(EventsDocument) },
        { next: (r) => seen.push(r.data!.events.objectId), error: () => {}, complete: () => {} },
      );
      await ready;
      await transact(second.app.deps, (tx) =>
        recordEvents(tx, [{ merchantId: a.merchantId, type: 'test.remote', topic: 'TEST', objectId: 'remote-1' }]),
      );
      await second.app.deps.relay.flush();
      await emit(a.merchantId, 'local-1', 'test.local');
      await t.app.deps.relay.flush();
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(seen).toEqual(['remote-1', 'local-1']);
      await client.dispose();
    } finally {
      await second.stop();
    }
  });
});

describe('event bus', () => {
  const REDIS_URL = process.env.REDIS_URL;
  const occurredAt = new Date(0).toISOString();
  /** A run of one event, as the relay publishes a row of the log holding one. */
  const run = (merchantId: string, objectId: string, seq: string, payload = '{}'): EventRun =>
    ({ seq, size: 1, merchantId, type: 'test.bus', topic: 'TEST', objectId, occurredAt, payload });
  const buses: [string, () => EventBus][] = [['memory', () => createMemoryBus({ queueLimit: 2000 })]];
  if (REDIS_URL) buses.push(['redis', () => createRedisBus(REDIS_URL, createLogger('silent'), { queueLimit: 2000 })]);
  /** Redis subscribes in the background: published before that, a message would reach no one. */
  async function subscribed(kind: string, merchantId: string, count = 1): Promise<void> {
    if (kind !== 'redis') return;
    const redis = new Redis(REDIS_URL!);
    try {
      for (let i = 0; i < 200; i++) {
        const [, listening] = (await redis.call('PUBSUB', 'NUMSUB', redisChannel(merchantId))) as [string, number];
        if (listening === count) return;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`no Redis subscription to ${redisChannel(merchantId)}`);
    } finally {
      redis.disconnect();
    }
  }

  it('keeps a subscriber that reads through a burst past its queue limit, and drops one that stopped reading', async () => {
    const bus = createMemoryBus({ queueLimit: 10 });
    const burst = (merchantId: string, seq: number, size: number): EventRun => ({
      seq: String(seq),
      size,
      merchantId,
      type: 'test.bus',
      topic: 'TEST',
      objectId: null,
      occurredAt,
      payload: JSON.stringify(Array.from({ length: size }, (_, i) => ({ objectId: `o-${i}`, data: {} }))),
    });
    try {
      const merchantId = randomUUID();
      const reading = bus.subscribe(merchantId, MERCHANT_STREAM, merchantId);
      // Five times its limit at once, then as much again: read on, nothing is dropped.
      await bus.publish([burst(merchantId, 1, 50)]);
      for (let i = 0; i < 25; i++) await reading.next();
      await bus.publish([burst(merchantId, 51, 50)]);
      const ids: string[] = [];
      for (let i = 0; i < 75; i++) ids.push(((await reading.next()).value as EventMessage).id);
      expect(reading.overflowed).toBe(false);
      expect(ids.at(-1)).toBe('100');
      // Ten times its limit is too far behind even for a subscriber that reads.
      await bus.publish([burst(merchantId, 101, 101)]);
      expect(reading.overflowed).toBe(true);

      const stalled = bus.subscribe(merchantId, MERCHANT_STREAM, merchantId);
      await bus.publish([burst(merchantId, 202, 10)]);
      expect(stalled.overflowed).toBe(false);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      await bus.publish([burst(merchantId, 212, 1)]);
      expect(stalled.overflowed).toBe(true);
      await expect(stalled.next()).rejects.toMatchObject({ code: 'SLOW_CONSUMER' });
    } finally {
      await bus.close();
    }
  });

  describe.each(buses)('%s', (kind, make) => {
    it("delivers an event only to subscribers of its merchant's channel, even on an id another merchant also uses", async () => {
      const bus = make();
      try {
        const [a, b] = [randomUUID(), randomUUID()];
        const ofA = bus.subscribe(a, 'TEST', 'shared-id');
        const ofB = bus.subscribe(b, 'TEST', 'shared-id');
        await subscribed(kind, a);
        await subscribed(kind, b);
        await bus.publish([run(a, 'shared-id', '1')]);
        await bus.publish([run(b, 'shared-id', '2')]);
        expect((await ofA.next()).value).toMatchObject({ merchantId: a, id: '1' });
        expect((await ofB.next()).value).toMatchObject({ merchantId: b, id: '2' });
        await Promise.all([ofA.return(), ofB.return()]);
      } finally {
        await bus.close();
      }
    });

    it("delivers a batch's events to each object's subscribers and to the merchant's stream, in order", async () => {
      const bus = make();
      try {
        const merchantId = randomUUID();
        const stream = bus.subscribe(merchantId, MERCHANT_STREAM, merchantId);
        const [first, last] = [bus.subscribe(merchantId, 'TEST', 'o-0'), bus.subscribe(merchantId, 'TEST', 'o-999')];
        await subscribed(kind, merchantId);
        // As the relay publishes rows of the log: a batch's run of 1,000 events, then a run of one.
        const events = Array.from({ length: 1000 }, (_, i) => ({ objectId: `o-${i}`, data: { i } }));
        await bus.publish([
          { seq: '1', size: 1000, merchantId, type: 'test.bus', topic: 'TEST', objectId: null, occurredAt, payload: JSON.stringify(events) },
          run(merchantId, 'o-0', '1001', '{"i":"again"}'),
        ]);
        const received: EventMessage[] = [];
        for (let i = 0; i < 1001; i++) received.push((await stream.next()).value as EventMessage);
        expect(received.map((m) => m.id)).toEqual(Array.from({ length: 1001 }, (_, i) => String(i + 1)));
        expect(received[999]).toEqual({ id: '1000', type: 'test.bus', merchantId, objectId: 'o-999', occurredAt, data: { i: 999 } });
        expect([(await first.next()).value, (await first.next()).value]).toMatchObject([{ id: '1', data: { i: 0 } }, { id: '1001', data: { i: 'again' } }]);
        expect((await last.next()).value).toMatchObject({ objectId: 'o-999', id: '1000' });
        expect(bus.subscribers(merchantId, 'TEST', 'o-0')).toBe(1);
        await Promise.all([stream.return(), first.return(), last.return()]);
        expect(bus.subscribers(merchantId, 'TEST', 'o-0')).toBe(0);
      } finally {
        await bus.close();
      }
    });

    it('parses no payload of a merchant no one listens to, and still delivers the runs published with it', async () => {
      const bus = make();
      try {
        const [a, b] = [randomUUID(), randomUUID()];
        const ofB = bus.subscribe(b, 'TEST', 'shared-id');
        await subscribed(kind, b);
        // Nobody listens to a: its payload, not even JSON, is never parsed.
        await bus.publish([run(a, 'shared-id', '1', 'not json'), run(b, 'shared-id', '2', '{"own":true}')]);
        expect((await ofB.next()).value).toMatchObject({ merchantId: b, id: '2', data: { own: true } });
        await ofB.return();
      } finally {
        await bus.close();
      }
    });
  });

  it.skipIf(!REDIS_URL)("sends one Redis message per merchant for a round's events, and leaves the merchant's channel with its last subscriber", async () => {
    const bus = createRedisBus(REDIS_URL!, createLogger('silent'), { queueLimit: 100 });
    const watcher = new Redis(REDIS_URL!);
    try {
      const [a, b] = [randomUUID(), randomUUID()];
      const texts: string[] = [];
      watcher.on('message', (_channel: string, text: string) => texts.push(text));
      await watcher.subscribe(redisChannel(a));
      const subscriptions = [bus.subscribe(a, 'TEST', 'o-1'), bus.subscribe(a, 'TEST', 'o-2'), bus.subscribe(b, 'TEST', 'o-1')];
      await subscribed('redis', a, 2);
      const pair = [{ objectId: 'o-1', data: {} }, { objectId: 'o-2', data: { n: 2 } }];
      const runs = [
        { seq: '1', size: 2, merchantId: a, type: 'test.bus', topic: 'TEST', objectId: null, occurredAt, payload: JSON.stringify(pair) },
        run(a, 'o-3', '3'),
        run(b, 'o-1', '4'),
      ];
      await bus.publish(runs);
      expect((await subscriptions[1]!.next()).value).toMatchObject({ id: '2', objectId: 'o-2', data: { n: 2 } });
      // Published before the watcher's PING, on its connection: anything sent to it has arrived by the answer.
      await watcher.ping();
      expect(texts).toHaveLength(1);
      expect(JSON.parse(texts[0]!)).toEqual(runs.slice(0, 2).map((r) => ({ ...r, payload: JSON.parse(r.payload) })));
      await subscriptions[0]!.return();
      await subscriptions[1]!.return();
      // The watcher is the one left on a's channel; b's is still held by its subscription.
      await subscribed('redis', a, 1);
      await subscribed('redis', b, 1);
      await subscriptions[2]!.return();
      await subscribed('redis', b, 0);
    } finally {
      watcher.disconnect();
      await bus.close();
    }
  });
});

describe('outbox relay', () => {
  /**
   * An event log that only the test's own relay numbers. Every test server runs a relay, and on
   * PostgreSQL they share one database: there, a schema of its own holding copies of the log's two
   * tables (drawing ids from the same sequence); embedded, a server of its own with its relay stopped.
   */
  async function privateEventLog(): Promise<{ sql: SqlDatabase; merchantId: string; close(): Promise<void> }> {
    if (!usesPostgres) {
      const own = await startApp();
      await own.app.deps.relay.stop();
      return { sql: own.app.deps.sql, merchantId: (await own.merchant()).merchantId, close: () => own.stop() };
    }
    const schema = `relay_${randomUUID().replaceAll('-', '')}`;
    const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2, options: `-c search_path=${schema},public` });
    const sql = pgSql(pool, pg.types);
    await sql.$executeRawUnsafe(`CREATE SCHEMA ${schema}`);
    await sql.$executeRawUnsafe(`CREATE TABLE events (LIKE public.events INCLUDING ALL)`);
    await sql.$executeRawUnsafe(`CREATE TABLE event_cursor (LIKE public.event_cursor INCLUDING ALL)`);
    return {
      sql,
      merchantId: (await t.merchant()).merchantId,
      close: async () => {
        await sql.$executeRawUnsafe(`DROP SCHEMA ${schema} CASCADE`);
        await pool.end();
      },
    };
  }

  it('prunes, once published, the events older than the retention that precede every younger one', async () => {
    const log = await privateEventLog();
    try {
      const { sql, merchantId } = log;
      const relay = new OutboxRelay(sql, createMemoryBus({ queueLimit: 10 }), createLogger('silent'), { pollMs: 1000, retentionHours: 1 });
      const insert = (objectId: string, hoursAgo: number) =>
        sql.$executeRawUnsafe(
          `INSERT INTO events (merchant_id, type, topic, object_id, payload, occurred_at) VALUES ($1, 'test.aged', 'TEST', $2, '{}', now() - make_interval(hours => $3))`,
          merchantId, objectId, hoursAgo,
        );
      await insert('old-1', 3);
      await insert('old-2', 2);
      await insert('young', 0);
      await insert('old-after-young', 2);
      // Numbered in insert order, published, then pruned (a relay prunes at most once a minute, first after its first rounds).
      await relay.flush();
      const left = await sql.$queryRawUnsafe<{ object_id: string; seq: bigint | null }[]>(
        `SELECT object_id, seq FROM events WHERE merchant_id = $1 ORDER BY id`,
        merchantId,
      );
      expect(left.map((row) => row.object_id)).toEqual(['young', 'old-after-young']);
      expect(left.every((row) => row.seq !== null)).toBe(true);
    } finally {
      await log.close();
    }
  });

  it('numbers and publishes an event whose transaction committed long after its insert, in a full scan', async () => {
    const log = await privateEventLog();
    try {
      const { sql, merchantId } = log;
      const bus = createMemoryBus({ queueLimit: 10 });
      const relay = new OutboxRelay(sql, bus, createLogger('silent'), { pollMs: 1000, retentionHours: 1, lateCommitMs: 0, fullScanMs: 600_000 });
      const live = bus.subscribe(merchantId, 'TEST', 'late');
      const insert = (objectId: string, id?: bigint) =>
        sql.$executeRawUnsafe(
          `INSERT INTO events (id, merchant_id, type, topic, object_id, payload) VALUES (coalesce($1::bigint, nextval('events_id_seq')), $2, 'test.late', 'TEST', $3, '{}')`,
          id?.toString() ?? null, merchantId, objectId,
        );
      const seqOf = async (objectId: string) =>
        (await sql.$queryRawUnsafe<{ seq: bigint | null }[]>(`SELECT seq FROM events WHERE merchant_id = $1 AND object_id = $2`, merchantId, objectId))[0]!.seq;
      // A transaction takes its event's id, then commits only after a later event was numbered.
      const [reserved] = await sql.$queryRawUnsafe<{ id: bigint }[]>(`SELECT nextval('events_id_seq') AS id`);
      await insert('on-time');
      await relay.round();
      expect(await seqOf('on-time')).not.toBeNull();
      await insert('late', reserved!.id);
      // Rounds look past the highest id numbered lateCommitMs ago: the late event waits...
      await relay.round();
      await relay.round();
      expect(await seqOf('late')).toBeNull();
      // ...for a full scan (every fullScanMs, and on flush), which numbers and publishes it.
      await relay.flush();
      expect(await seqOf('late')).not.toBeNull();
      const delivered = await live.next();
      expect(delivered.value).toMatchObject({ objectId: 'late', merchantId, id: String(await seqOf('late')) });
    } finally {
      await log.close();
    }
  });

  it('publishes a backlog several rows a round; stopped in the middle, it leaves the rest to the next start', async () => {
    const log = await privateEventLog();
    try {
      const { sql, merchantId } = log;
      const bus = createMemoryBus({ queueLimit: 20_000 });
      const relay = new OutboxRelay(sql, bus, createLogger('silent'), { pollMs: 60_000, retentionHours: 1 });
      await relay.flush();
      const stream = bus.subscribe(merchantId, MERCHANT_STREAM, merchantId);
      for (let batch = 0; batch < 12; batch++) {
        const events = Array.from({ length: 1000 }, (_, i) => ({ objectId: `${batch}-${i}` }));
        await recordEventGroup(sql, { merchantId, type: 'test.backlog', topic: 'TEST', events });
      }
      const pending = async () =>
        (await sql.$queryRawUnsafe<{ pending: bigint }[]>(`SELECT last_seq - published_seq AS pending FROM event_cursor`))[0]!.pending;

      // Asked to stop while its first round runs, the relay finishes that round, which numbers the
      // twelve rows, and starts no other.
      relay.start();
      await relay.stop();
      expect(await pending()).toBe(12_000n);
      // A round publishes the rows whose events start within its first 5,000.
      expect(await relay.round()).toEqual({ published: 5000, numbered: 0, more: true });
      relay.start();
      await relay.flush();
      await relay.stop();
      expect(await pending()).toBe(0n);
      const received: EventMessage[] = [];
      while (received.length < 12_000) received.push((await stream.next()).value as EventMessage);
      expect(received.map((e) => e.objectId)).toEqual(Array.from({ length: 12_000 }, (_, i) => `${Math.floor(i / 1000)}-${i % 1000}`));
      const first = BigInt(received[0]!.id);
      expect(received.every((e, i) => e.id === String(first + BigInt(i)))).toBe(true);
    } finally {
      await log.close();
    }
  });

  it('commits a round that numbered events durably, and one that only published without waiting for the disk', async () => {
    const log = await privateEventLog();
    try {
      const { sql, merchantId } = log;
      const statements: string[][] = [];
      const watched: SqlDatabase = {
        ...sql,
        transaction: (fn) =>
          sql.transaction((tx) => {
            const round: string[] = [];
            statements.push(round);
            return fn({
              $queryRawUnsafe: <T>(query: string, ...values: unknown[]) => (round.push(query), tx.$queryRawUnsafe<T>(query, ...values)),
              $executeRawUnsafe: (query: string, ...values: unknown[]) => (round.push(query), tx.$executeRawUnsafe(query, ...values)),
            });
          }),
      };
      const relay = new OutboxRelay(watched, createMemoryBus({ queueLimit: 10 }), createLogger('silent'), { pollMs: 1000, retentionHours: 1 });
      await relay.flush();
      await recordEvents(sql, [{ merchantId, type: 'test.durable', topic: 'TEST', objectId: 'd' }]);
      statements.length = 0;
      expect(await relay.round()).toMatchObject({ numbered: 1, published: 0 });
      expect(await relay.round()).toMatchObject({ numbered: 0, published: 1 });
      const asynchronous = statements.map((round) => round.some((query) => /synchronous_commit\s*=\s*off/i.test(query)));
      // Positions are durable before they are published; a lost published position only publishes again.
      expect(asynchronous).toEqual([false, true]);
    } finally {
      await log.close();
    }
  });

  it('gives the events of a row consecutive positions, publishes each, and reads the log from inside a row', async () => {
    const log = await privateEventLog();
    try {
      const { sql, merchantId } = log;
      const bus = createMemoryBus({ queueLimit: 100 });
      const relay = new OutboxRelay(sql, bus, createLogger('silent'), { pollMs: 1000, retentionHours: 1 });
      await relay.flush();
      const stream = bus.subscribe(merchantId, MERCHANT_STREAM, merchantId);
      const own = bus.subscribe(merchantId, 'TEST', 'b-2');
      const group = (prefix: string, size: number) =>
        recordEventGroup(sql, {
          merchantId,
          type: 'test.grouped',
          topic: 'TEST',
          events: Array.from({ length: size }, (_, i) => ({ objectId: `${prefix}-${i + 1}`, data: { i } })),
        });
      await group('a', 3);
      await recordEvents(sql, [{ merchantId, type: 'test.single', topic: 'TEST', objectId: 's' }]);
      await group('b', 3);
      await group('c', 1);
      const received = async (sub: LiveSubscription, count: number) => {
        const events: EventMessage[] = [];
        while (events.length < count) events.push((await sub.next()).value as EventMessage);
        return events;
      };

      // The first round numbers the four rows (eight events); each later one publishes the rows
      // whose events start within its first four: a and s, then b and c.
      expect(await relay.round(4)).toEqual({ published: 0, numbered: 4, more: false });
      expect(await relay.round(4)).toEqual({ published: 4, numbered: 0, more: true });
      expect(await relay.round(4)).toEqual({ published: 4, numbered: 0, more: false });
      const events = await received(stream, 8);
      expect(events.map((e) => e.objectId)).toEqual(['a-1', 'a-2', 'a-3', 's', 'b-1', 'b-2', 'b-3', 'c-1']);
      const first = BigInt(events[0]!.id);
      expect(events.map((e) => e.id)).toEqual(events.map((_, i) => String(first + BigInt(i))));
      expect((await received(own, 1))[0]).toEqual({ ...events[5], data: { i: 1 } });

      // A row larger than a round's limit is published whole.
      await group('d', 6);
      await relay.round(4);
      expect(await relay.round(4)).toMatchObject({ published: 6, more: false });
      expect((await received(stream, 6)).map((e) => e.id)).toEqual(Array.from({ length: 6 }, (_, i) => String(first + 8n + BigInt(i))));

      // The log, read after a position inside a row, starts with that row's next event.
      expect((await readEventLog(sql, merchantId, first + 1n, 3)).map((e) => e.objectId)).toEqual(['a-3', 's', 'b-1']);
      expect((await readEventLog(sql, merchantId, first + 5n)).map((e) => e.objectId)).toEqual(['b-3', 'c-1', 'd-1', 'd-2', 'd-3', 'd-4', 'd-5', 'd-6']);
      expect(await readEventLog(sql, merchantId, first + 13n)).toEqual([]);
      expect(await streamPosition(sql, merchantId)).toBe(first + 13n);
    } finally {
      await log.close();
    }
  });
});
