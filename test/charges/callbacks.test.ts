import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { deliverDueCallbacks, RETRY_WINDOW_MS, retryDelayMs } from '../../src/modules/charges/callbacks.ts';
import { configureCharges } from '../../src/modules/charges/runtime.ts';
import { verifyWebhook } from '../../src/modules/charges/webhook-signature.ts';
import { startApp, TestClock, token, until, usesPostgres, type TestApp } from '../support/app.ts';
import { basicOf, CHARGES_PATH, createLegacyCharge, customer, MANUAL } from './support.ts';

type Behaviour = 'ok' | 'fail' | 'hang' | 'redirect' | 'hold';

interface Received {
  id: string;
  path: string;
  verified: boolean;
  body: string;
}

/**
 * A merchant's callback receiver: verifies every signature, and applies each webhook-id's effect
 * once however often it arrives. `plan` chooses the answer per delivery id and attempt.
 */
class Receiver {
  readonly received: Received[] = [];
  readonly effects = new Map<string, unknown>();
  readonly hanging = new Set<ServerResponse>();
  /** Requests answered when the test says, with the status it gives. */
  readonly held: ((status: number) => void)[] = [];
  secret = '';
  plan: (id: string, attempt: number, path: string) => Behaviour = () => 'ok';
  redirectTo = '';
  server!: Server;
  port = 0;

  constructor(private readonly clock: TestClock) {}

  async start(): Promise<void> {
    this.server = createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  url(pathname = '/cb') {
    return `http://127.0.0.1:${this.port}${pathname}`;
  }

  private async handle(request: IncomingMessage, response: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const verification = verifyWebhook({ headers: request.headers, body, secret: this.secret, now: this.clock.now() });
    const id = String(request.headers['webhook-id'] ?? '');
    this.received.push({ id, path: request.url ?? '', verified: verification.ok, body });
    const attempt = this.received.filter((entry) => entry.id === id).length;
    const behaviour = this.plan(id, attempt, request.url ?? '');
    if (behaviour === 'redirect') {
      response.writeHead(302, { location: this.redirectTo }).end();
      return;
    }
    if (behaviour === 'fail') {
      response.writeHead(500).end('boom');
      return;
    }
    // Handled (once per id), whether the answer then arrives in time or not.
    if (verification.ok && !this.effects.has(id)) this.effects.set(id, JSON.parse(body));
    if (behaviour === 'hang') {
      this.hanging.add(response);
      return;
    }
    if (behaviour === 'hold') {
      this.held.push((status) => response.writeHead(status).end());
      return;
    }
    response.writeHead(204).end();
  }

  async stop() {
    for (const response of this.hanging) response.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const clock = new TestClock(new Date('2030-01-05T15:00:00Z'));
const receiver = new Receiver(clock);
/** Stands for a service inside our network that callbacks must never reach. */
const internal = { hits: 0, server: createServer((_request, response) => void (internal.hits++, response.end('secret'))) };
const dns: Record<string, string[]> = {};
let t: TestApp;

const appConfig = () => ({ ...MANUAL, CHARGES_CALLBACK_TIMEOUT_MS: 2000, CHARGES_CALLBACK_ALLOW_HOSTS: `127.0.0.1:${receiver.port}` });
const resolve = async (hostname: string) => {
  const addresses = dns[hostname];
  if (!addresses) throw Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return addresses;
};

beforeAll(async () => {
  await receiver.start();
  await new Promise<void>((done) => internal.server.listen(0, '127.0.0.1', done));
  t = await startApp(appConfig(), { clock });
  configureCharges(t.app.deps, { resolve });
});
afterAll(async () => {
  await t.stop();
  await receiver.stop();
  await new Promise((done) => internal.server.close(done));
});

async function merchantWithSecret(): Promise<MerchantCredentials> {
  const m = await t.merchant();
  const response = await t.graphql('{ chargeCallbackSecret }', {}, { authorization: token(m) });
  receiver.secret = response.data.chargeCallbackSecret;
  return m;
}

/** A charge with a callback whose deactivation queues two callbacks: installment.canceled and charge.canceled. */
async function chargeWithTwoCallbacks(m: MerchantCredentials, callbackUrl = receiver.url()) {
  const charge = await createLegacyCharge(t, m, { amount: 25, description: 'cb', due_date: '2030-01-10', customer: customer(), callback_url: callbackUrl });
  const response = await t.request('PUT', `${CHARGES_PATH}?id=${charge.id}`, { authorization: basicOf(m), body: { is_active: false } });
  expect(response.status).toBe(200);
  return charge.id as number;
}

const REDELIVER = `mutation ($id: ID!) { redeliverChargeCallback(id: $id) {
  __typename ... on MutationRedeliverChargeCallbackSuccess { data { id status } } ... on AppError { code } } }`;

const deliveriesOf = (chargeId: number) =>
  t.app.deps.prisma.chargeCallbackDelivery.findMany({ where: { chargeId }, orderBy: { id: 'asc' }, include: { attemptLog: { orderBy: { number: 'asc' } } } });

describe('callback delivery', () => {
  it('signs every attempt, retries after a 500 and after a timeout with the same webhook-id, and has each effect once', async () => {
    const m = await merchantWithSecret();
    receiver.plan = (_id, attempt) => (attempt === 1 ? 'fail' : attempt === 2 ? 'hang' : 'ok');
    const chargeId = await chargeWithTwoCallbacks(m);
    const queued = await deliveriesOf(chargeId);
    expect(queued.map((delivery) => delivery.event).sort()).toEqual(['charge.canceled', 'installment.canceled']);

    // (On PostgreSQL other suites' deliveries share the table: count this charge's attempts only.)
    const attempts = async () => (await deliveriesOf(chargeId)).map((delivery) => delivery.attempts);
    await deliverDueCallbacks(t.app.deps, [m.merchantId]);
    expect(await attempts()).toEqual([1, 1]);
    await deliverDueCallbacks(t.app.deps, [m.merchantId]);
    expect(await attempts()).toEqual([1, 1]);
    clock.advance(retryDelayMs(1, () => 1) + 1);
    await deliverDueCallbacks(t.app.deps, [m.merchantId]);
    expect(await attempts()).toEqual([2, 2]);
    clock.advance(retryDelayMs(2, () => 1) + 1);
    await deliverDueCallbacks(t.app.deps, [m.merchantId]);
    await deliverDueCallbacks(t.app.deps, [m.merchantId]);
    expect(await attempts()).toEqual([3, 3]);

    const deliveries = await deliveriesOf(chargeId);
    for (const delivery of deliveries) {
      expect(delivery).toMatchObject({ status: 'delivered', attempts: 3, lastStatus: 204, lastError: null });
      expect(delivery.attemptLog.map((attempt) => attempt.responseStatus)).toEqual([500, null, 204]);
      expect(delivery.attemptLog[1]!.error).toMatch(/no answer within 2000 ms/);
      const seen = receiver.received.filter((entry) => entry.id === delivery.id);
      expect(seen).toHaveLength(3);
      expect(seen.every((entry) => entry.verified && entry.body === delivery.body)).toBe(true);
    }
    const effects = deliveries.map((delivery) => receiver.effects.get(delivery.id) as { type: string; data: { charge: { id: number; attributes: { status: string } } } });
    expect(effects.map((effect) => effect.type).sort()).toEqual(['charge.canceled', 'installment.canceled']);
    for (const effect of effects) expect(effect.data.charge).toMatchObject({ id: chargeId, attributes: { status: 'canceled' } });
  });

  it('shows the delivery log in GraphQL and redelivers with the same webhook-id', async () => {
    const m = await merchantWithSecret();
    receiver.plan = () => 'ok';
    const chargeId = await chargeWithTwoCallbacks(m);
    await deliverDueCallbacks(t.app.deps, [m.merchantId]);
    const query = `query ($id: ID!) { charge(id: $id) { deliveries { totalCount edges { node { id event status attempts attemptLog { number responseStatus } } } } } }`;
    const log = await t.graphql(query, { id: String(chargeId) }, { authorization: token(m) });
    expect(log.data.charge.deliveries.totalCount).toBe(2);
    const delivered = log.data.charge.deliveries.edges[0].node;
    expect(delivered).toMatchObject({ status: 'DELIVERED', attempts: 1, attemptLog: [{ number: 1, responseStatus: 204 }] });

    const redeliver = `mutation ($id: ID!) { redeliverChargeCallback(id: $id) {
      __typename ... on MutationRedeliverChargeCallbackSuccess { data { id status } } ... on AppError { code } } }`;
    const other = await t.merchant();
    const foreign = await t.graphql(redeliver, { id: delivered.id }, { authorization: token(other) });
    expect(foreign.data.redeliverChargeCallback).toEqual({ __typename: 'AppError', code: 'NOT_FOUND' });
    const again = await t.graphql(redeliver, { id: delivered.id }, { authorization: token(m) });
    expect(again.data.redeliverChargeCallback.data).toEqual({ id: delivered.id, status: 'PENDING' });
    await deliverDueCallbacks(t.app.deps, [m.merchantId]);
    expect(receiver.received.filter((entry) => entry.id === delivered.id)).toHaveLength(2);
    expect([...receiver.effects.keys()].filter((id) => id === delivered.id)).toHaveLength(1);
    const after = await t.graphql(query, { id: String(chargeId) }, { authorization: token(m) });
    expect(after.data.charge.deliveries.edges[0].node).toMatchObject({ status: 'DELIVERED', attempts: 2 });
  });

  it('keeps retrying with growing delays for a day, then gives up; a redelivery starts again', async () => {
    const m = await merchantWithSecret();
    let down = true;
    receiver.plan = () => (down ? 'fail' : 'ok');
    const chargeId = await chargeWithTwoCallbacks(m);
    const [first] = await deliveriesOf(chargeId);
    const queuedAt = first!.createdAt.getTime();
    for (let hour = 0; hour < 30; hour++) {
      await deliverDueCallbacks(t.app.deps, [m.merchantId]);
      clock.advance(60 * 60 * 1000);
    }
    const deliveries = await deliveriesOf(chargeId);
    for (const delivery of deliveries) {
      expect(delivery.status).toBe('failed');
      const times = delivery.attemptLog.map((attempt) => attempt.attemptedAt.getTime());
      expect(times.at(-1)! - queuedAt).toBeGreaterThanOrEqual(RETRY_WINDOW_MS);
      expect(times.at(-2)! - queuedAt).toBeLessThan(RETRY_WINDOW_MS);
      expect(delivery.attempts).toBeGreaterThanOrEqual(15);
      expect(new Set(receiver.received.filter((entry) => entry.id === delivery.id).map((entry) => entry.verified))).toEqual(new Set([true]));
    }
    down = false;
    await t.graphql(`mutation ($id: ID!) { redeliverChargeCallback(id: $id) { __typename } }`, { id: deliveries[0]!.id }, { authorization: token(m) });
    await deliverDueCallbacks(t.app.deps, [m.merchantId]);
    expect((await deliveriesOf(chargeId))[0]!.status).toBe('delivered');
  });

  it('backs off exponentially, with jitter, up to an hour', () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(attempt, () => 0.5))).toEqual([10_000, 20_000, 40_000, 80_000]);
    expect(retryDelayMs(30, () => 0.5)).toBe(3_600_000);
    expect(retryDelayMs(1, () => 0)).toBe(8_000);
    expect(retryDelayMs(1, () => 1)).toBe(12_000);
  });

  it('keeps a redelivery asked while the delivery is being sent, and sends it again once that attempt failed', async () => {
    const m = await merchantWithSecret();
    const chargeId = await chargeWithTwoCallbacks(m);
    const [first] = await deliveriesOf(chargeId);
    receiver.plan = (id, attempt) => (id === first!.id && attempt === 1 ? 'hold' : 'ok');
    // Past the retry window: the attempt under way is the last one, unless redelivered.
    clock.advance(RETRY_WINDOW_MS + 60_000);
    const round = deliverDueCallbacks(t.app.deps, [m.merchantId]);
    await until(async () => (receiver.held.length > 0 ? true : undefined));
    const asked = await t.graphql(REDELIVER, { id: first!.id }, { authorization: token(m) });
    expect(asked.data.redeliverChargeCallback.data).toEqual({ id: first!.id, status: 'PENDING' });
    receiver.held.shift()!(500);
    await round;
    await deliverDueCallbacks(t.app.deps, [m.merchantId]);
    const [after] = await deliveriesOf(chargeId);
    expect(after).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(after!.attemptLog.map((attempt) => [attempt.number, attempt.responseStatus])).toEqual([
      [1, 500],
      [2, 204],
    ]);
  });

  it('lets no second worker send a delivery being sent, even when it is redelivered meanwhile', async () => {
    const m = await merchantWithSecret();
    const chargeId = await chargeWithTwoCallbacks(m);
    const [first] = await deliveriesOf(chargeId);
    receiver.plan = (id, attempt) => (id === first!.id && attempt === 1 ? 'hold' : 'ok');
    const round = deliverDueCallbacks(t.app.deps, [m.merchantId]);
    await until(async () => (receiver.held.length > 0 ? true : undefined));
    await t.graphql(REDELIVER, { id: first!.id }, { authorization: token(m) });
    await deliverDueCallbacks(t.app.deps, [m.merchantId]);
    expect(receiver.received.filter((entry) => entry.id === first!.id)).toHaveLength(1);
    receiver.held.shift()!(204);
    await round;
    const [after] = await deliveriesOf(chargeId);
    expect(after).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(receiver.received.filter((entry) => entry.id === first!.id)).toHaveLength(1);
  });

  it('sends each due delivery once when two workers run at the same time', async () => {
    const m = await merchantWithSecret();
    receiver.plan = () => 'ok';
    const ids = [await chargeWithTwoCallbacks(m), await chargeWithTwoCallbacks(m), await chargeWithTwoCallbacks(m)];
    await Promise.all([deliverDueCallbacks(t.app.deps, [m.merchantId]), deliverDueCallbacks(t.app.deps, [m.merchantId])]);
    for (const chargeId of ids) {
      for (const delivery of await deliveriesOf(chargeId)) {
        expect(delivery.status).toBe('delivered');
        expect(receiver.received.filter((entry) => entry.id === delivery.id)).toHaveLength(1);
      }
    }
  });
});

describe('callback SSRF at send time', () => {
  it('refuses a name that resolved to a public address at registration and to a private one at send time', async () => {
    const m = await merchantWithSecret();
    dns['rebind.example'] = ['93.184.216.34'];
    const chargeId = await chargeWithTwoCallbacks(m, `http://rebind.example:${receiver.port}/cb`);
    dns['rebind.example'] = ['127.0.0.1'];
    const before = receiver.received.length;
    await deliverDueCallbacks(t.app.deps, [m.merchantId]);
    for (const delivery of await deliveriesOf(chargeId)) {
      expect(delivery.status).toBe('failed');
      expect(delivery.lastError).toMatch(/^forbidden_address: .*127\.0\.0\.1.*loopback/);
    }
    expect(receiver.received.length).toBe(before);
  });

  it('never follows a redirect, to an internal address or anywhere', async () => {
    const m = await merchantWithSecret();
    receiver.redirectTo = `http://127.0.0.1:${(internal.server.address() as AddressInfo).port}/steal`;
    receiver.plan = (_id, _attempt, pathname) => (pathname === '/redirect' ? 'redirect' : 'ok');
    const chargeId = await chargeWithTwoCallbacks(m, receiver.url('/redirect'));
    await deliverDueCallbacks(t.app.deps, [m.merchantId]);
    for (const delivery of await deliveriesOf(chargeId)) {
      expect(delivery.status).toBe('pending');
      expect(delivery.lastError).toMatch(/^too_many_redirects/);
    }
    expect(internal.hits).toBe(0);
  });

  it('refuses other loopback ports than the allowed receiver at registration', async () => {
    const m = await t.merchant();
    const response = await t.request('POST', CHARGES_PATH, {
      authorization: basicOf(m),
      body: { amount: 1, description: 'x', due_date: '2030-01-10', customer: customer(), callback_url: receiver.redirectTo || 'http://127.0.0.1:1/' },
    });
    expect(response.status).toBe(406);
    expect(Object.keys(response.json.message)).toEqual(['callback_url']);
  });
});

describe('durability', () => {
  it('loses no queued callback across a restart', async () => {
    const dataDir = usesPostgres ? null : mkdtempSync(path.join(tmpdir(), 'charges-restart-'));
    const config = { ...appConfig(), ...(dataDir ? { DATA_DIR: dataDir } : {}) };
    try {
      const first = await startApp(config, { clock });
      const m = await first.merchant();
      receiver.secret = (await first.graphql('{ chargeCallbackSecret }', {}, { authorization: token(m) })).data.chargeCallbackSecret;
      const charge = await createLegacyCharge(first, m, { amount: 5, description: 'durable', due_date: '2030-01-10', customer: customer(), callback_url: receiver.url() });
      await first.request('PUT', `${CHARGES_PATH}?id=${charge.id}`, { authorization: basicOf(m), body: { is_active: false } });
      await first.stop();

      const second = await startApp(config, { clock });
      try {
        receiver.plan = () => 'ok';
        expect(await deliverDueCallbacks(second.app.deps, [m.merchantId])).toBe(2);
        const deliveries = await second.app.deps.prisma.chargeCallbackDelivery.findMany({ where: { chargeId: charge.id } });
        expect(deliveries.map((delivery) => delivery.status)).toEqual(['delivered', 'delivered']);
        for (const delivery of deliveries) expect(receiver.effects.has(delivery.id)).toBe(true);
      } finally {
        await second.stop();
      }
    } finally {
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
