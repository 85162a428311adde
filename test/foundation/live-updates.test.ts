import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { MERCHANT_STREAM } from '../../src/events/bus.ts';
import { RevokeCredentialDocument } from '../generated/graphql.ts';
import { startApp, token, type TestApp } from '../support/app.ts';
import { emit, EVENTS_QUERY, RawSocket, SseStream, until, wait } from '../support/live.ts';

const BIG = 'x'.repeat(256 * 1024);
const owner = (merchant: MerchantCredentials) => `merchant:${merchant.merchantId}`;
const ids = (messages: { data?: string }[]) => messages.map((m) => JSON.parse(m.data!).data.events as { id: string; objectId: string });
/** A graphql-ws connection of `a` holding subscription '1' to its events, once the bus listens. */
async function subscribedSocket(t: TestApp, a: MerchantCredentials): Promise<RawSocket> {
  const socket = await RawSocket.open(t);
  await socket.init(token(a));
  socket.subscribe('1', EVENTS_QUERY);
  await until(() => t.app.deps.subscriptions.count(owner(a)) === 1);
  await wait(100);
  return socket;
}

describe('resuming', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp();
  });
  afterAll(() => t.stop());

  it('gives each SSE message the event id and resumes from Last-Event-ID, missing nothing and repeating nothing', async () => {
    const a = await t.merchant();
    const first = await SseStream.open(t, token(a), { query: EVENTS_QUERY });
    expect(first.response.headers.get('content-type')).toContain('text/event-stream');
    await until(() => t.app.deps.subscriptions.count(owner(a)) === 1, 5000, 'the SSE subscription');
    await wait(100);
    await emit(t, a.merchantId, 'sse-1');
    await emit(t, a.merchantId, 'sse-2');
    const received = await first.nextMessages(2);
    first.close();
    const events = ids(received);
    expect(events.map((e) => e.objectId)).toEqual(['sse-1', 'sse-2']);
    expect(received.map((m) => m.id)).toEqual(events.map((e) => e.id));

    // While the client is away.
    await until(() => t.app.deps.subscriptions.count(owner(a)) === 0, 5000, 'the first stream to end');
    await emit(t, a.merchantId, 'away-1');
    await emit(t, a.merchantId, 'away-2');
    await t.app.deps.relay.flush();

    // A browser reconnects with the URL it first used (here: no `after`) and the last id it saw.
    const again = await SseStream.open(t, token(a), { query: EVENTS_QUERY }, { 'last-event-id': received[1]!.id! });
    const replayed = await again.nextMessages(2);
    await emit(t, a.merchantId, 'live-1');
    const all = await again.nextMessages(3);
    again.close();
    expect(ids(all).map((e) => e.objectId)).toEqual(['away-1', 'away-2', 'live-1']);
    expect(all.map((m) => m.id)).toEqual(ids(all).map((e) => e.id));
    expect(replayed).toHaveLength(2);
  });

  it('takes Last-Event-ID over a stale `after` argument', async () => {
    const a = await t.merchant();
    await emit(t, a.merchantId, 'one');
    await emit(t, a.merchantId, 'two');
    await emit(t, a.merchantId, 'three');
    await t.app.deps.relay.flush();
    const logged = await t.app.deps.prisma.event.findMany({ where: { merchantId: a.merchantId }, orderBy: { seq: 'asc' } });
    const stream = await SseStream.open(
      t,
      token(a),
      { query: EVENTS_QUERY, variables: { after: logged[0]!.seq!.toString() } },
      { 'last-event-id': logged[1]!.seq!.toString() },
    );
    const messages = await stream.nextMessages(1);
    stream.close();
    expect(ids(messages).map((e) => e.objectId)).toEqual(['three']);
  });

  it('refuses a Last-Event-ID that is not an event id, nor past the largest one', async () => {
    const a = await t.merchant();
    for (const id of ['yesterday', '9999999999999999999']) {
      const stream = await SseStream.open(t, token(a), { query: EVENTS_QUERY }, { 'last-event-id': id });
      const [message] = await stream.nextMessages(1);
      stream.close();
      expect(JSON.parse(message!.data!).errors[0].extensions, id).toMatchObject({ code: 'VALIDATION_FAILED', field: 'after' });
    }
    await until(() => t.app.deps.subscriptions.count(owner(a)) === 0);
  });

  it('lets a graphql-ws subscriber that was away resume from its last id, missing nothing', async () => {
    const a = await t.merchant();
    const first = await subscribedSocket(t, a);
    for (let i = 1; i <= 3; i++) await emit(t, a.merchantId, `before-${i}`);
    await until(() => first.results('1').length === 3);
    const seen = first.results('1').map((r) => r.data.events);
    first.socket.terminate();

    for (let i = 1; i <= 5; i++) await emit(t, a.merchantId, `away-${i}`);
    await t.app.deps.relay.flush();

    const second = await RawSocket.open(t);
    await second.init(token(a));
    second.subscribe('1', EVENTS_QUERY, { after: seen.at(-1).id });
    await until(() => second.results('1').length === 5);
    await emit(t, a.merchantId, 'live');
    await until(() => second.results('1').length === 6);
    await wait(200);
    const resumed = second.results('1').map((r) => r.data.events);
    expect([...seen, ...resumed].map((e) => e.objectId)).toEqual(['before-1', 'before-2', 'before-3', 'away-1', 'away-2', 'away-3', 'away-4', 'away-5', 'live']);
    const numbers = [...seen, ...resumed].map((e) => BigInt(e.id));
    expect(numbers).toEqual([...numbers].sort((x, y) => (x < y ? -1 : 1)));
    second.socket.close();
  });
  it('stops listening as soon as a subscription to a quiet stream ends', async () => {
    const a = await t.merchant();
    const listeners = () => t.app.deps.bus.subscribers(a.merchantId, MERCHANT_STREAM, a.merchantId);
    const socket = await RawSocket.open(t);
    await socket.init(token(a));
    socket.subscribe('1', EVENTS_QUERY);
    socket.subscribe('2', EVENTS_QUERY, { after: '0' });
    await until(() => listeners() === 2, 5000, 'the merchant stream to be listened to');
    socket.send({ type: 'complete', id: '1' });
    // No event arrives to wake the streams: ending them must not wait for one.
    await until(() => listeners() === 1, 5000, 'the first subscription to stop listening');
    socket.send({ type: 'complete', id: '2' });
    await until(() => listeners() === 0, 5000, 'the second subscription to stop listening');
    expect(t.app.deps.subscriptions.count(owner(a))).toBe(0);
    socket.socket.close();
  });
});

describe('limits and protocol', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({
      SUBSCRIPTIONS_PER_CONNECTION: 2,
      SUBSCRIPTIONS_PER_MERCHANT: 3,
      WS_IDLE_TIMEOUT_MS: 500,
      WS_CONNECTION_INIT_TIMEOUT_MS: 300,
      SUBSCRIPTION_QUEUE_LIMIT: 5,
    });
  });
  afterAll(() => t.stop());

  it('refuses a subscription past the per-connection limit with TOO_MANY_SUBSCRIPTIONS, and accepts one again once a slot is free', async () => {
    const a = await t.merchant();
    const socket = await RawSocket.open(t);
    await socket.init(token(a));
    socket.subscribe('1', EVENTS_QUERY);
    socket.subscribe('2', EVENTS_QUERY);
    await until(() => t.app.deps.subscriptions.count(owner(a)) === 2);
    socket.subscribe('3', EVENTS_QUERY);
    const refused = await socket.next((m) => m.id === '3' && m.type === 'next');
    expect(refused.payload.errors[0].extensions).toEqual({ code: 'TOO_MANY_SUBSCRIPTIONS', scope: 'connection', limit: 2 });
    await socket.next((m) => m.id === '3' && m.type === 'complete');

    socket.send({ type: 'complete', id: '1' });
    await until(() => t.app.deps.subscriptions.count(owner(a)) === 1);
    socket.subscribe('4', EVENTS_QUERY);
    await until(() => t.app.deps.subscriptions.count(owner(a)) === 2);
    await emit(t, a.merchantId, 'after-limit');
    await socket.next((m) => m.id === '4' && m.type === 'next');
    socket.socket.close();
    await until(() => t.app.deps.subscriptions.count(owner(a)) === 0);
  });

  it('refuses a subscription past the per-merchant limit, over SSE too, and leaves other merchants alone', async () => {
    const a = await t.merchant();
    const b = await t.merchant();
    const one = await RawSocket.open(t);
    const two = await RawSocket.open(t);
    await one.init(token(a));
    await two.init(token(a));
    one.subscribe('1', EVENTS_QUERY);
    one.subscribe('2', EVENTS_QUERY);
    two.subscribe('1', EVENTS_QUERY);
    await until(() => t.app.deps.subscriptions.count(owner(a)) === 3);
    two.subscribe('2', EVENTS_QUERY);
    const refused = await two.next((m) => m.id === '2' && m.type === 'next');
    expect(refused.payload.errors[0].extensions).toEqual({ code: 'TOO_MANY_SUBSCRIPTIONS', scope: 'merchant', limit: 3 });

    const sse = await SseStream.open(t, token(a), { query: EVENTS_QUERY });
    const [message] = await sse.nextMessages(1);
    sse.close();
    expect(JSON.parse(message!.data!).errors[0].extensions.code).toBe('TOO_MANY_SUBSCRIPTIONS');

    const other = await RawSocket.open(t);
    await other.init(token(b));
    other.subscribe('1', EVENTS_QUERY);
    await until(() => t.app.deps.subscriptions.count(owner(b)) === 1);
    expect(other.messages.filter((m) => m.type === 'next')).toEqual([]);

    for (const socket of [one, two, other]) socket.socket.close();
    await until(() => t.app.deps.subscriptions.count(owner(a)) + t.app.deps.subscriptions.count(owner(b)) === 0);
  });

  it('closes a connection without subscriptions after the idle timeout with 1000, and keeps one that has a subscription', async () => {
    const a = await t.merchant();
    const idle = await RawSocket.open(t);
    await idle.init(token(a));
    const busy = await RawSocket.open(t);
    await busy.init(token(a));
    busy.subscribe('1', EVENTS_QUERY);
    expect(await idle.closed).toEqual({ code: 1000, reason: 'Idle timeout' });
    await wait(700);
    expect(busy.socket.readyState).toBe(busy.socket.OPEN);
    busy.send({ type: 'complete', id: '1' });
    expect(await busy.closed).toEqual({ code: 1000, reason: 'Idle timeout' });
  });

  it('closes with 4408 a connection that does not initialise in time', async () => {
    const socket = await RawSocket.open(t);
    expect((await socket.closed).code).toBe(4408);
  });

  it('closes with 4429 a connection that initialises twice', async () => {
    const a = await t.merchant();
    const socket = await RawSocket.open(t);
    await socket.init(token(a));
    socket.send({ type: 'connection_init', payload: { authorization: token(a) } });
    expect((await socket.closed).code).toBe(4429);
  });

  it('closes with 4401 a connection that subscribes before it is acknowledged', async () => {
    const a = await t.merchant();
    const without = await RawSocket.open(t);
    without.subscribe('1', EVENTS_QUERY);
    expect((await without.closed).code).toBe(4401);

    // connection_init sent, but its acknowledgement (after the credential check) not yet received.
    const early = await RawSocket.open(t);
    early.send({ type: 'connection_init', payload: { authorization: token(a) } });
    early.subscribe('1', EVENTS_QUERY);
    expect((await early.closed).code).toBe(4401);
    expect(early.messages.filter((m) => m.type === 'connection_ack')).toEqual([]);
  });

  it('drops a graphql-ws client that stops reading with 4008 once its subscription is too far behind', async () => {
    const a = await t.merchant();
    const socket = await subscribedSocket(t, a);
    await emit(t, a.merchantId, 'probe');
    await socket.next((m) => m.type === 'next');
    socket.socket.pause();
    const dropped = t.app.deps.subscriptions.slowConsumersDropped;
    // Enough to fill the kernel's socket buffers, then SUBSCRIPTION_QUEUE_LIMIT (5) more.
    for (let i = 0; i < 120 && t.app.deps.subscriptions.slowConsumersDropped === dropped; i++) await emit(t, a.merchantId, `big-${i}`, { padding: BIG });
    await until(() => t.app.deps.subscriptions.slowConsumersDropped === dropped + 1, 20_000, 'the slow subscriber to be dropped');
    // The close frame waits behind what the client has not read yet.
    socket.socket.resume();
    expect(await socket.closed).toEqual({ code: 4008, reason: 'Slow consumer' });
  });

  it('ends the SSE stream of a client that stops reading once it is too far behind', async () => {
    const a = await t.merchant();
    const stream = await SseStream.open(t, token(a), { query: EVENTS_QUERY });
    await until(() => t.app.deps.subscriptions.count(owner(a)) === 1);
    await wait(100);
    await emit(t, a.merchantId, 'probe');
    await stream.nextMessages(1);
    const dropped = t.app.deps.subscriptions.slowConsumersDropped;
    for (let i = 0; i < 120 && t.app.deps.subscriptions.count(owner(a)) > 0; i++) await emit(t, a.merchantId, `big-${i}`, { padding: BIG });
    await until(() => t.app.deps.subscriptions.count(owner(a)) === 0, 20_000, 'the slow SSE subscriber to be dropped');
    expect(t.app.deps.subscriptions.slowConsumersDropped).toBe(dropped + 1);
    stream.close();
  });
});

describe('credentials and refusals', () => {
  let t: TestApp;
  beforeAll(async () => {
    // No credential cache: a revocation is seen at the next event.
    t = await startApp({ SUBSCRIPTIONS_PER_MERCHANT: 2, CREDENTIAL_CACHE_MS: 0 });
  });
  afterAll(() => t.stop());

  const revoke = async (a: MerchantCredentials) => {
    const revoked = await t.graphql(RevokeCredentialDocument, { id: a.tokenId }, { authorization: token(a) });
    expect(revoked.data.revokeCredential.__typename).toBe('MutationRevokeCredentialSuccess');
  };

  it('ends a graphql-ws subscription at its first event after the credential is revoked, and closes the connection at its next operation', async () => {
    const a = await t.merchant();
    const socket = await subscribedSocket(t, a);
    await emit(t, a.merchantId, 'before');
    await until(() => socket.results('1').length === 1);
    await revoke(a);
    await emit(t, a.merchantId, 'after');
    await socket.next((m) => m.type === 'complete' && m.id === '1');
    expect(socket.results('1').map((r) => r.data?.events?.objectId ?? r.errors[0].extensions.code)).toEqual(['before', 'UNAUTHENTICATED']);
    await until(() => t.app.deps.subscriptions.count(owner(a)) === 0);
    socket.subscribe('2', '{ viewer { scopes } }');
    expect(await socket.closed).toEqual({ code: 4403, reason: 'Forbidden' });
    expect(socket.results('2')).toEqual([]);
  });

  it('ends an SSE subscription at its first event after the credential is revoked', async () => {
    const a = await t.merchant();
    const stream = await SseStream.open(t, token(a), { query: EVENTS_QUERY });
    await until(() => t.app.deps.subscriptions.count(owner(a)) === 1);
    await wait(100);
    await revoke(a);
    await emit(t, a.merchantId, 'after');
    // The stream ends after the error: the second message never comes.
    const messages = await stream.nextMessages(2, 5_000);
    stream.close();
    expect(messages.filter((m) => m.event === 'next').map((m) => JSON.parse(m.data!).errors?.[0].extensions.code)).toEqual(['UNAUTHENTICATED']);
    await until(() => t.app.deps.subscriptions.count(owner(a)) === 0);
  });

  it('refuses @skip and @include on the root field with VALIDATION_FAILED, keeps the connection, and holds no slot', async () => {
    const a = await t.merchant();
    const socket = await RawSocket.open(t);
    await socket.init(token(a));
    for (const [id, directive] of [['1', '@skip(if: true)'], ['2', '@include(if: false)'], ['3', '@skip(if: false)']]) {
      socket.subscribe(id!, `subscription { events ${directive} { id } }`);
      const refused = await socket.next((m) => m.type === 'error' && m.id === id);
      expect(refused.payload[0].extensions).toMatchObject({ code: 'VALIDATION_FAILED' });
    }
    const sse = await SseStream.open(t, token(a), { query: 'subscription { ... on Subscription @skip(if: true) { events { id } } }' });
    const [refused] = await sse.nextMessages(1);
    sse.close();
    expect(JSON.parse(refused!.data!).errors[0].extensions.code).toBe('VALIDATION_FAILED');
    expect(t.app.deps.subscriptions.count(owner(a))).toBe(0);
    socket.subscribe('4', EVENTS_QUERY);
    await until(() => t.app.deps.subscriptions.count(owner(a)) === 1);
    socket.socket.close();
  });

  it('answers graphql-ws errors with codes, as HTTP does', async () => {
    const a = await t.merchant();
    const socket = await RawSocket.open(t);
    await socket.init(token(a));
    const cases: [string, { query: string; operationName?: string; variables?: object }, string][] = [
      ['1', { query: 'subscription {' }, 'VALIDATION_FAILED'],
      ['2', { query: 'query { viewer { scopes } }', operationName: 'Nope' }, 'VALIDATION_FAILED'],
      ['3', { query: 'query ($x: Boolean!) { viewer @include(if: $x) { scopes } }' }, 'VALIDATION_FAILED'],
      ['4', { query: EVENTS_QUERY, variables: { after: '9999999999999999999' } }, 'VALIDATION_FAILED'],
    ];
    for (const [id, payload, code] of cases) {
      socket.send({ type: 'subscribe', id, payload });
      const answer = await socket.next((m) => (m.type === 'error' || m.type === 'next') && m.id === id);
      const errors = answer.type === 'error' ? answer.payload : answer.payload.errors;
      expect(errors[0].extensions, id).toMatchObject({ code });
      expect(errors[0].extensions.http, id).toBeUndefined();
    }
    socket.socket.close();
  });
});

describe('buffered bytes', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({ WS_MAX_BUFFERED_BYTES: 64 * 1024 });
  });
  afterAll(() => t.stop());

  it('closes with 4008 a WebSocket whose unsent bytes pass WS_MAX_BUFFERED_BYTES', async () => {
    const a = await t.merchant();
    const socket = await subscribedSocket(t, a);
    await emit(t, a.merchantId, 'probe');
    await socket.next((m) => m.type === 'next');
    socket.socket.pause();
    // The subscription queue (1,000 events by default) is far from full when the socket's is.
    for (let i = 0; i < 120 && t.app.deps.subscriptions.slowConsumersDropped === 0; i++) await emit(t, a.merchantId, `big-${i}`, { padding: BIG });
    await until(() => t.app.deps.subscriptions.slowConsumersDropped === 1, 20_000, 'the socket to be closed');
    socket.socket.resume();
    expect(await socket.closed).toEqual({ code: 4008, reason: 'Slow consumer' });
  });
});
