/**
 * 6. Subscriptions: 1,000 graphql-ws subscribers, each on its own recharge payment
 * (`rechargePaymentChanged(id)`), and 100 on the merchant's shared stream (`events`), while 200
 * events per second (10 s with --quick, else 60 s) arrive through Redis as the outbox relay
 * publishes them (one message per merchant and round, see createRedisBus). Each event carries its
 * time (`occurredAt`, stamped when it is published): delivery latency is measured from it to the
 * subscriber's receipt. Every subscription checks what it received against what was published:
 * lost, duplicated and out-of-order events must be 0. Beside it, in the same run, a bare `ws`
 * server forwards the events of the same Redis messages, serialised once per event, to the same
 * number of sockets (bench/baselines/ws-broadcast.ts). Also: resident memory per idle graphql-ws
 * connection (acknowledged, no subscription).
 *
 * The events are published by the harness rather than committed by mutations: at 200 per second
 * the write path (measured by scenarios 3 to 5) would be the bottleneck, not the fan-out measured
 * here. The outbox relay publishes the same messages on the same channel.
 */
import { Redis } from 'ioredis';
import { MERCHANT_STREAM, redisChannel, type EventRun } from '../../src/events/bus.ts';
import type { Context } from '../harness/measure.ts';
import { residentBytes, startBaseline, SERVER_CORE } from '../harness/processes.ts';
import type { SubscriptionResult } from '../harness/protocol.ts';
import type { Row } from '../harness/report.ts';

const OWN = 1000;
const SHARED = 100;
const RATE = 200;
const IDLE = 1000;
const OWN_QUERY = 'subscription Own($id: ID!) { rechargePaymentChanged(id: $id) { eventId type occurredAt } }';
const SHARED_QUERY = 'subscription Shared { events { id type objectId occurredAt } }';
const CREATE = `mutation Create($p: String!, $u: ID!, $params: JSON!) { createRechargePayment(provider: $p, userId: $u, params: $params) {
  __typename ... on MutationCreateRechargePaymentSuccess { data { id } } ... on AppError { code message } } }`;

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (text: string) => process.stderr.write(`${text}\n`);
// Above any id the event log hands out in a bench run, increasing from run to run.
let nextEventId = 10n ** 12n;

async function createPayments(ctx: Context, count: number): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      const response = await fetch(`${ctx.serverUrl}/graphql`, {
        method: 'POST',
        headers: { authorization: ctx.fixtures.authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ query: CREATE, variables: { p: ctx.fixtures.provider, u: String(1000 + index), params: { amount: '1000' } } }),
      });
      const answer = (await response.json()) as { data?: { createRechargePayment?: { data?: { id: string } } } };
      const id = answer.data?.createRechargePayment?.data?.id;
      if (!id) throw new Error(`creating the subscribers' payments failed: ${JSON.stringify(answer).slice(0, 300)}`);
      ids.push(id);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return ids;
}

/** Publishes RATE events per second for `seconds`, as the outbox relay would; answers what was published. */
async function publish(redis: Redis, merchantId: string, payments: string[], seconds: number): Promise<{ id: string; objectId: string }[]> {
  const published: { id: string; objectId: string }[] = [];
  const total = Math.round(RATE * seconds);
  const started = performance.now();
  while (published.length < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * RATE) + 1);
    // What is due goes together, as a relay round's events of one merchant do.
    // Each event is a run of one, as the relay publishes a row of the log holding one event.
    const runs: EventRun<unknown>[] = [];
    while (published.length < due) {
      const objectId = payments[published.length % payments.length]!;
      const seq = (nextEventId++).toString();
      const occurredAt = new Date().toISOString();
      runs.push({ seq, size: 1, merchantId, type: 'recharge.updated', topic: 'RECHARGE_PAYMENT', objectId, occurredAt, payload: { providerId: 'bench' } });
      published.push({ id: seq, objectId });
    }
    await redis.publish(redisChannel(merchantId), JSON.stringify(runs));
    await settle(20);
  }
  return published;
}

async function fanOut(
  ctx: Context,
  redis: Redis,
  url: string,
  payments: string[],
  seconds: number,
  queries: { own: (id: string) => { query: string; variables: Record<string, unknown> }; shared: () => { query: string; variables: Record<string, unknown> } },
): Promise<SubscriptionResult> {
  const subscriptions = [
    ...payments.map((id) => ({ key: `own:${id}`, ...queries.own(id) })),
    ...Array.from({ length: SHARED }, (_, index) => ({ key: `shared:${index}`, ...queries.shared() })),
  ];
  await ctx.worker.run({ kind: 'subs-open', url, authorization: ctx.fixtures.authorization, subscriptions });
  // Every subscription is made (the server answers nothing until an event arrives): give the
  // last ones time to reach Redis.
  await settle(3000);
  const expected = await publish(redis, ctx.fixtures.merchantId, payments, seconds);
  return ctx.worker.run<SubscriptionResult>({ kind: 'subs-collect', expected, quietMs: 5000, timeoutMs: 120_000 });
}

const fmt = (value: number, digits = 0) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

export async function subscriptions(ctx: Context): Promise<Row[]> {
  const redisUrl = process.env.REDIS_URL;
  const skipped = (note: string): Row[] => [{ scenario: '6 subscriptions', check: 'fan-out through Redis', candidate: 'skipped', baseline: '', ratio: null, target: '', pass: null, note }];
  if (!redisUrl) return skipped('REDIS_URL is not set: the scenario measures delivery through Redis.');
  if (!ctx.fixtures.provider) return skipped('no recharge provider: the per-payment subscriptions need recharge payments.');
  const seconds = ctx.options.quick ? 10 : 60;

  // Idle connections first, on a server without subscribers.
  const wsUrl = `${ctx.serverUrl.replace(/^http/, 'ws')}/graphql`;
  await settle(500);
  const before = residentBytes(ctx.serverPid);
  await ctx.worker.run({ kind: 'ws-open', url: wsUrl, count: IDLE, authorization: ctx.fixtures.authorization });
  await settle(1000);
  const after = residentBytes(ctx.serverPid);
  await ctx.worker.run({ kind: 'ws-close' });

  log(`  creating ${OWN} recharge payments for the per-payment subscribers…`);
  const payments = await createPayments(ctx, OWN);
  const baseline = await startBaseline('bench/baselines/ws-broadcast.ts', { ...process.env, PORT: '0' }, ctx.options.pin ? SERVER_CORE : null);
  const redis = new Redis(redisUrl);
  try {
    log(`  server: ${OWN} + ${SHARED} subscribers, ${RATE} events/s for ${seconds} s…`);
    const candidate = await fanOut(ctx, redis, wsUrl, payments, seconds, {
      own: (id) => ({ query: OWN_QUERY, variables: { id } }),
      shared: () => ({ query: SHARED_QUERY, variables: {} }),
    });
    log(`  bare ws: the same…`);
    const raw = await fanOut(ctx, redis, baseline.url, payments, seconds, {
      own: (id) => ({ query: 'own', variables: { merchantId: ctx.fixtures.merchantId, channel: `RECHARGE_PAYMENT:${id}` } }),
      shared: () => ({ query: 'shared', variables: { merchantId: ctx.fixtures.merchantId, channel: `${MERCHANT_STREAM}:${ctx.fixtures.merchantId}` } }),
    });
    const figures = (result: SubscriptionResult) =>
      `${fmt(result.perSecond)} deliveries/s (${fmt(result.delivered)} of ${fmt(result.expected)})`;
    const closedText = (result: SubscriptionResult) =>
      Object.keys(result.closed).length === 0 ? '' : `; closed by the server: ${Object.entries(result.closed).map(([code, n]) => `${n} × ${code}`).join(', ')}`;
    const faults = candidate.lost + candidate.duplicated + candidate.outOfOrder;
    const rawFaults = raw.lost + raw.duplicated + raw.outOfOrder;
    return [
      {
        scenario: '6 subscriptions',
        check: `delivered events/s, ${OWN} own + ${SHARED} shared subscribers, ${RATE} events/s for ${seconds} s`,
        candidate: figures(candidate),
        baseline: `bare ws: ${figures(raw)}`,
        ratio: candidate.perSecond / raw.perSecond,
        target: '',
        pass: null,
        note: `each event goes to its payment's subscriber and to the ${SHARED} on the merchant stream${closedText(candidate)}`,
        data: { candidate, baseline: raw },
      },
      {
        scenario: '6 subscriptions',
        check: 'delivery latency from occurredAt, p50 / p99',
        candidate: `${fmt(candidate.latencyMs.p50)} / ${fmt(candidate.latencyMs.p99)} ms (max ${fmt(candidate.latencyMs.max)})`,
        baseline: `bare ws: ${fmt(raw.latencyMs.p50)} / ${fmt(raw.latencyMs.p99)} ms (max ${fmt(raw.latencyMs.max)})`,
        ratio: null,
        target: '',
        pass: null,
      },
      {
        scenario: '6 subscriptions',
        check: 'lost, duplicated, out-of-order deliveries',
        candidate: `${candidate.lost} lost, ${candidate.duplicated} duplicated, ${candidate.outOfOrder} out of order`,
        baseline: `bare ws: ${raw.lost} lost, ${raw.duplicated} duplicated, ${raw.outOfOrder} out of order`,
        ratio: null,
        target: '= 0',
        pass: faults === 0,
        note: [...candidate.errors, ...(rawFaults > 0 ? ['the bare ws baseline lost events too: the load generator or Redis did not keep up'] : [])].join('; ') || undefined,
      },
      {
        scenario: '6 subscriptions',
        check: 'resident memory per idle graphql-ws connection',
        candidate: `${fmt((after - before) / IDLE / 1024, 1)} KB`,
        baseline: `${IDLE} connections: ${fmt(before / 2 ** 20, 1)} MB → ${fmt(after / 2 ** 20, 1)} MB`,
        ratio: null,
        target: '',
        pass: null,
        note: 'acknowledged, no subscription; one reading without a forced collection (scenario 7 fits a slope over four steps)',
      },
    ];
  } finally {
    redis.disconnect();
    await baseline.stop();
  }
}
