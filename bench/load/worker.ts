/**
 * The load generator: a process of its own (pinned to its own core by the harness) that runs the
 * jobs of bench/harness/protocol.ts one at a time, read as JSON lines on stdin, answered as JSON
 * lines on stdout. HTTP load is autocannon (keep-alive, no pipelining); the physical baselines are
 * plain `pg` clients; idle WebSockets are `ws` clients speaking graphql-ws.
 *
 * Money-moving requests are counted exactly: a request still in flight when a timed run stops (or
 * one that timed out) is in doubt, so it is sent again afterwards with the same token or key; the
 * API replays the stored result or applies it once, and the answer settles it.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import autocannon, { type Request } from 'autocannon';
import pg from 'pg';
import WebSocket from 'ws';
import { uuidv7 } from '../../src/lib/ids.ts';
import { pocketPhone, type HttpProgram, type Job, type LoadResult, type PgProgram, type WorkerReply } from '../harness/protocol.ts';

const SAMPLES = 3;

interface Tally {
  /** When the last answer arrived (performance.now()): the end of the measured window. */
  lastAnswerAt: number;
  ok: number;
  failed: number;
  acknowledged: Record<string, number>;
  failedItems: number;
  samples: string[];
}

const newTally = (): Tally => ({ lastAnswerAt: 0, ok: 0, failed: 0, acknowledged: {}, failedItems: 0, samples: [] });

function fail(tally: Tally, sample: string) {
  tally.failed++;
  if (tally.samples.length < SAMPLES) tally.samples.push(sample.slice(0, 300));
}

function acknowledge(tally: Tally, key: string, count: number) {
  tally.acknowledged[key] = (tally.acknowledged[key] ?? 0) + count;
}

function occurrences(text: string, needle: string): number {
  let count = 0;
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) count++;
  return count;
}

const gql = (query: string, variables: Record<string, unknown>) => JSON.stringify({ query, variables });

const CHARGE = `mutation Charge($g: String!, $c: [PocketChargeInput!]!) { chargePockets(groupSlug: $g, charges: $c) {
  __typename ... on MutationChargePocketsSuccess { data { __typename ... on PocketCharge { status } ... on PocketChargeError { reason } } }
  ... on AppError { code message } } }`;
const TOP_UP = `mutation TopUp($i: TopUpWalletInput!, $k: String) { topUpWallet(input: $i, idempotencyKey: $k) {
  __typename ... on AppError { code message } } }`;
const CREATE_RECHARGE = `mutation Create($p: String!, $u: ID!, $params: JSON!, $k: String) {
  createRechargePayment(provider: $p, userId: $u, params: $params, idempotencyKey: $k) {
  __typename ... on MutationCreateRechargePaymentSuccess { data { id } } ... on AppError { code message } } }`;
const COMMIT_RECHARGE = `mutation Commit($id: ID!) { commitRechargePayment(id: $id) { __typename ... on AppError { code message } } }`;

/** A request whose outcome is settled by sending it again (same token or idempotency key). */
interface Doubtful {
  request: Request;
  judge: (status: number, body: string) => void;
}

interface Compiled {
  requests: Request[];
  /** Requests sent whose answer never came (timed out, or cut off by the end of the run). */
  doubtful: () => Doubtful[];
  finish: () => void;
}

const jsonHeaders = (authorization: string) => ({ authorization, 'content-type': 'application/json' });

/** The autocannon request of one program, with its body rebuilt per request and its answer judged. */
function compile(program: HttpProgram, tally: Tally): Compiled {
  if (program.type === 'mixed') {
    const parts = program.parts.map((part) => compile(part, tally));
    return {
      requests: parts.flatMap((part) => part.requests),
      doubtful: () => parts.flatMap((part) => part.doubtful()),
      finish: () => parts.forEach((part) => part.finish()),
    };
  }
  if (program.type === 'static') {
    const { graphql } = program;
    return {
      requests: [
        {
          method: program.method,
          path: program.path,
          headers: program.headers,
          ...(program.body !== undefined ? { body: program.body } : {}),
          onResponse: (status, body) => {
            tally.lastAnswerAt = performance.now();
            if (status === 200 && !(graphql && body.includes('"errors"'))) tally.ok++;
            else fail(tally, `${status} ${body}`);
          },
        },
      ],
      doubtful: () => [],
      finish: () => {},
    };
  }

  let build: () => string;
  let judge: (status: number, body: string) => void;
  let finish = () => {};
  let path = '/graphql';
  if (program.type === 'charge') {
    const { groupSlug, pockets, batch, via } = program;
    const charges = () => {
      const start = Math.floor(Math.random() * pockets);
      return Array.from({ length: batch }, (_, i) => ({ token: uuidv7(), phone: pocketPhone((start + i) % pockets) }));
    };
    if (via === 'rest') {
      path = `/badje/v1/pockets/${encodeURIComponent(groupSlug)}/charge/`;
      build = () => JSON.stringify({ charges: charges().map(({ token, phone }) => ({ token, phone_number: phone, amount: 1 })) });
    } else {
      build = () => gql(CHARGE, { g: groupSlug, c: charges().map(({ token, phone }) => ({ token, phoneNumber: phone, amount: '1' })) });
    }
    const success = via === 'rest' ? '"status":"success"' : '"status":"SUCCESS"';
    const itemFailure = via === 'rest' ? '"status":"error"' : '"PocketChargeError"';
    judge = (status, body) => {
      const ok = status === 200 && !body.includes('"errors"') && !body.includes('"AppError"');
      acknowledge(tally, groupSlug, ok ? occurrences(body, success) : 0);
      const failedItems = occurrences(body, itemFailure);
      tally.failedItems += failedItems;
      if (ok && failedItems === 0) tally.ok++;
      else fail(tally, `${status} ${body}`);
    };
  } else if (program.type === 'topup') {
    const input = { walletId: program.walletId, amount: '10000', txnCode: program.txnCode, paymentMode: 'BANK' };
    build = () => gql(TOP_UP, { i: input, k: `bench-${uuidv7()}` });
    judge = (status, body) => {
      if (status === 200 && body.includes('MutationTopUpWalletSuccess')) {
        tally.ok++;
        acknowledge(tally, `wallet:${program.walletId}`, 1);
      } else fail(tally, `${status} ${body}`);
    };
  } else if (program.type === 'recharge-create') {
    const created: string[] = [];
    build = () =>
      gql(CREATE_RECHARGE, { p: program.provider, u: String(1 + Math.floor(Math.random() * 1000)), params: { amount: '1000' }, k: `bench-${uuidv7()}` });
    judge = (status, body) => {
      const id = status === 200 && body.includes('MutationCreateRechargePaymentSuccess') ? /"id":"([^"]+)"/.exec(body)?.[1] : undefined;
      if (id) {
        tally.ok++;
        created.push(id);
      } else fail(tally, `${status} ${body}`);
    };
    const { idsFile } = program;
    finish = () => {
      if (idsFile && created.length > 0) appendFileSync(idsFile, `${created.join('\n')}\n`);
    };
  } else {
    const ids = readFileSync(program.idsFile, 'utf8').split('\n').filter(Boolean);
    let next = 0;
    // Past the end, the last id again: a commit replay, answered as the first commit was.
    build = () => gql(COMMIT_RECHARGE, { id: ids[Math.min(next++, ids.length - 1)] });
    judge = (status, body) => {
      if (status === 200 && body.includes('MutationCommitRechargePaymentSuccess')) {
        tally.ok++;
        acknowledge(tally, 'recharge-commits', 1);
      } else fail(tally, `${status} ${body}`);
    };
  }

  // autocannon hands setupRequest and onResponse of one request the same context object (a new one
  // per pass through the request list), so the context holds the request until its answer comes.
  const slot = Symbol(program.type);
  const contexts = new Set<Record<string | symbol, unknown>>();
  const headers = jsonHeaders(program.authorization);
  return {
    requests: [
      {
        method: 'POST',
        path,
        headers,
        setupRequest: (request, context) => {
          const built = { ...request, body: build() };
          (context as Record<symbol, unknown>)[slot] = built;
          contexts.add(context);
          return built;
        },
        onResponse: (status, body, context) => {
          tally.lastAnswerAt = performance.now();
          delete (context as Record<symbol, unknown>)[slot];
          contexts.delete(context);
          judge(status, body);
        },
      },
    ],
    doubtful: () =>
      [...contexts].flatMap((context) => {
        const request = (context as Record<symbol, Request | undefined>)[slot];
        return request ? [{ request, judge }] : [];
      }),
    finish: () => finish(),
  };
}

async function settle(url: string, doubtful: Doubtful[]): Promise<void> {
  for (const { request, judge } of doubtful) {
    const response = await fetch(new URL(request.path ?? '/graphql', url), {
      method: request.method ?? 'POST',
      headers: request.headers ?? {},
      ...(request.body !== undefined ? { body: request.body } : {}),
    });
    judge(response.status, await response.text());
  }
}

async function runHttp(job: Extract<Job, { kind: 'http' }>): Promise<LoadResult & { settled: number }> {
  const tally = newTally();
  const compiled = compile(job.program, tally);
  const started = performance.now();
  const result = await autocannon({
    url: job.url,
    connections: job.connections,
    pipelining: 1,
    // autocannon notices the end of a run (time up, or all requests answered) on its sampling
    // tick; a short tick keeps the clients from sending long past the end.
    sampleInt: 100,
    timeout: job.timeoutSeconds,
    ...(job.amount !== undefined ? { amount: job.amount } : { duration: job.duration }),
    requests: compiled.requests,
  });
  // The measured window ends with the last answer, not with autocannon's tick.
  const answered = tally.ok + tally.failed;
  const elapsedMs = (answered > 0 ? tally.lastAnswerAt : performance.now()) - started;
  const doubtful = compiled.doubtful();
  // The settling answers count for correctness, not for the figures measured above.
  const measured = { ok: tally.ok, failed: tally.failed };
  await settle(job.url, doubtful);
  compiled.finish();
  return {
    requests: answered,
    ok: measured.ok,
    failed: measured.failed,
    elapsedMs,
    perSecond: answered / (elapsedMs / 1000),
    latencyMs: { mean: result.latency.mean, p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    errors: result.errors,
    timeouts: result.timeouts,
    acknowledged: tally.acknowledged,
    failedItems: tally.failedItems,
    failureSamples: tally.samples,
    settled: doubtful.length,
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

type PgOperation = (client: pg.Client, tally: Tally) => Promise<void>;

function pgOperation(program: PgProgram): PgOperation {
  if (program.type === 'hot-update') {
    return async (client, tally) => {
      const result = await client.query({
        name: 'bench-hot-update',
        text: 'UPDATE bench_raw_pockets SET balance = balance + 1 WHERE id = $1 AND balance + 1 <= cap RETURNING balance',
        values: [program.pocketId],
      });
      if (result.rowCount === 1) {
        tally.ok++;
        acknowledge(tally, 'raw-hot', 1);
      } else {
        tally.failedItems++;
        fail(tally, 'conditional update refused');
      }
    };
  }
  const { groupId, firstPocketId, pockets, batch } = program;
  return async (client, tally) => {
    const start = Math.floor(Math.random() * pockets);
    const tokens = Array.from({ length: batch }, () => uuidv7());
    const pocketIds = Array.from({ length: batch }, (_, i) => firstPocketId + ((start + i) % pockets));
    await client.query('BEGIN');
    try {
      // The group's row first, as the API's funding account: concurrent batches serialise on it, never deadlock.
      const group = await client.query({
        name: 'bench-batch-group',
        text: 'UPDATE bench_raw_groups SET spent = spent + $2 WHERE id = $1 AND spent + $2 <= cap RETURNING spent',
        values: [groupId, batch],
      });
      if (group.rowCount !== 1) throw new Error('group cap reached');
      const written = await client.query<{ total: string }>({
        name: 'bench-batch-insert',
        text: `WITH inserted AS (
                 INSERT INTO bench_raw_charges (token, group_id, pocket_id, amount, status)
                 SELECT token, $1, pocket_id, 1, 'success' FROM unnest($2::text[], $3::int[]) AS item(token, pocket_id)
                 ON CONFLICT (token) DO NOTHING
                 RETURNING pocket_id, amount)
               UPDATE bench_raw_pockets AS p SET balance = p.balance + s.total
               FROM (SELECT pocket_id, sum(amount) AS total FROM inserted GROUP BY pocket_id) AS s
               WHERE p.id = s.pocket_id
               RETURNING s.total`,
        values: [groupId, tokens, pocketIds],
      });
      const count = written.rows.reduce((sum, row) => sum + Number(row.total), 0);
      if (count !== batch) {
        await client.query('UPDATE bench_raw_groups SET spent = spent - $2 WHERE id = $1', [groupId, batch - count]);
        tally.failedItems += batch - count;
      }
      await client.query('COMMIT');
      tally.ok++;
      acknowledge(tally, 'raw-batch', count);
    } catch (error) {
      await client.query('ROLLBACK');
      tally.failedItems += batch;
      fail(tally, (error as Error).message);
    }
  };
}

async function runPg(job: Extract<Job, { kind: 'pg' }>): Promise<LoadResult> {
  const tally = newTally();
  const operation = pgOperation(job.program);
  const clients = await Promise.all(
    Array.from({ length: job.connections }, async () => {
      const client = new pg.Client({ connectionString: job.databaseUrl });
      await client.connect();
      return client;
    }),
  );
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + job.duration * 1000;
  try {
    await Promise.all(
      clients.map(async (client) => {
        while (performance.now() < deadline) {
          const t0 = performance.now();
          try {
            await operation(client, tally);
          } catch (error) {
            errors++;
            fail(tally, (error as Error).message);
          }
          latencies.push(performance.now() - t0);
        }
      }),
    );
  } finally {
    await Promise.all(clients.map((client) => client.end()));
  }
  const elapsedMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  const answered = tally.ok + tally.failed;
  return {
    requests: answered,
    ok: tally.ok,
    failed: tally.failed,
    elapsedMs,
    perSecond: answered / (elapsedMs / 1000),
    latencyMs: {
      mean: latencies.reduce((sum, value) => sum + value, 0) / Math.max(1, latencies.length),
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies.at(-1) ?? 0,
    },
    errors,
    timeouts: 0,
    acknowledged: tally.acknowledged,
    failedItems: tally.failedItems,
    failureSamples: tally.samples,
  };
}

const sockets: WebSocket[] = [];

function openSocket(url: string, authorization: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'graphql-transport-ws');
    const timer = setTimeout(() => reject(new Error('no connection_ack within 15 s')), 15_000);
    socket.once('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization } })));
    socket.on('message', (data: WebSocket.RawData) => {
      const message = JSON.parse(String(data)) as { type: string };
      if (message.type === 'connection_ack') {
        clearTimeout(timer);
        resolve(socket);
      } else if (message.type === 'ping') socket.send(JSON.stringify({ type: 'pong' }));
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`closed with ${code} before connection_ack`));
    });
  });
}

async function openSockets(job: Extract<Job, { kind: 'ws-open' }>): Promise<{ open: number }> {
  for (let opened = 0; opened < job.count; opened += 50) {
    const chunk = Math.min(50, job.count - opened);
    sockets.push(...(await Promise.all(Array.from({ length: chunk }, () => openSocket(job.url, job.authorization)))));
  }
  return { open: sockets.length };
}

async function closeSockets(): Promise<{ open: number }> {
  const closing = sockets.splice(0).map(
    (socket) =>
      new Promise<void>((resolve) => {
        socket.removeAllListeners('close');
        socket.once('close', () => resolve());
        socket.close(1000);
      }),
  );
  await Promise.all(closing);
  return { open: 0 };
}

interface Subscriber {
  key: string;
  socket: WebSocket;
  ids: string[];
  latencies: number[];
}
const subscribers: Subscriber[] = [];
const subscriberErrors: string[] = [];
const serverClosed: Record<string, number> = {};
let lastDelivery = 0;
let firstOccurred = Number.POSITIVE_INFINITY;

/** The event inside a `next` payload: the first field of `data`, with `id` or `eventId` and `occurredAt`. */
function eventOf(payload: { data?: Record<string, { id?: string; eventId?: string; occurredAt?: string }>; errors?: unknown }): { id: string; occurredAt: string } | null {
  const value = payload.data ? Object.values(payload.data)[0] : undefined;
  const id = value?.id ?? value?.eventId;
  return id && value?.occurredAt ? { id, occurredAt: value.occurredAt } : null;
}

async function openSubscriptions(job: Extract<Job, { kind: 'subs-open' }>): Promise<{ open: number }> {
  for (let start = 0; start < job.subscriptions.length; start += 50) {
    const chunk = job.subscriptions.slice(start, start + 50);
    const opened = await Promise.all(chunk.map(() => openSocket(job.url, job.authorization)));
    opened.forEach((socket, index) => {
      const { key, query, variables } = chunk[index]!;
      const subscriber: Subscriber = { key, socket, ids: [], latencies: [] };
      subscribers.push(subscriber);
      socket.removeAllListeners('close');
      socket.on('close', (code) => {
        if (code !== 1000) serverClosed[code] = (serverClosed[code] ?? 0) + 1;
      });
      socket.on('message', (data: WebSocket.RawData) => {
        const message = JSON.parse(String(data)) as { type: string; payload?: any };
        if (message.type === 'next') {
          const event = eventOf(message.payload);
          if (!event) {
            if (subscriberErrors.length < SAMPLES) subscriberErrors.push(JSON.stringify(message.payload).slice(0, 300));
            return;
          }
          const now = Date.now();
          lastDelivery = now;
          firstOccurred = Math.min(firstOccurred, Date.parse(event.occurredAt));
          subscriber.ids.push(event.id);
          subscriber.latencies.push(now - Date.parse(event.occurredAt));
        } else if (message.type === 'error' && subscriberErrors.length < SAMPLES) subscriberErrors.push(JSON.stringify(message.payload).slice(0, 300));
      });
      socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
    });
  }
  return { open: subscribers.length };
}

async function collectSubscriptions(job: Extract<Job, { kind: 'subs-collect' }>) {
  const byObject = new Map<string, string[]>();
  for (const event of job.expected) {
    const list = byObject.get(event.objectId) ?? [];
    list.push(event.id);
    byObject.set(event.objectId, list);
  }
  const all = job.expected.map((event) => event.id);
  const expectedOf = (key: string) => (key.startsWith('own:') ? (byObject.get(key.slice(4)) ?? []) : all);
  const expected = subscribers.reduce((sum, subscriber) => sum + expectedOf(subscriber.key).length, 0);
  const delivered = () => subscribers.reduce((sum, subscriber) => sum + subscriber.ids.length, 0);
  const started = Date.now();
  let quietSince = Math.max(lastDelivery, started);
  while (delivered() < expected && Date.now() - quietSince < job.quietMs && Date.now() - started < job.timeoutMs) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    quietSince = Math.max(quietSince, lastDelivery);
  }
  let lost = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  const latencies: number[] = [];
  for (const subscriber of subscribers) {
    const unique = new Set(subscriber.ids);
    duplicated += subscriber.ids.length - unique.size;
    for (const id of expectedOf(subscriber.key)) if (!unique.has(id)) lost++;
    for (let i = 1; i < subscriber.ids.length; i++) if (BigInt(subscriber.ids[i]!) <= BigInt(subscriber.ids[i - 1]!)) outOfOrder++;
    latencies.push(...subscriber.latencies);
  }
  latencies.sort((a, b) => a - b);
  const total = delivered();
  const windowMs = Math.max(1, lastDelivery - firstOccurred);
  const result = {
    subscriptions: subscribers.length,
    expected,
    delivered: total,
    lost,
    duplicated,
    outOfOrder,
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? Number.NaN },
    windowMs,
    perSecond: (total / windowMs) * 1000,
    closed: { ...serverClosed },
    errors: subscriberErrors.splice(0),
  };
  for (const subscriber of subscribers.splice(0)) {
    subscriber.socket.removeAllListeners('close');
    subscriber.socket.terminate();
  }
  for (const code of Object.keys(serverClosed)) delete serverClosed[code];
  firstOccurred = Number.POSITIVE_INFINITY;
  return result;
}

function run(job: Job): Promise<unknown> {
  switch (job.kind) {
    case 'http':
      return runHttp(job);
    case 'pg':
      return runPg(job);
    case 'ws-open':
      return openSockets(job);
    case 'ws-close':
      return closeSockets();
    case 'subs-open':
      return openSubscriptions(job);
    case 'subs-collect':
      return collectSubscriptions(job);
  }
}

const reply = (message: WorkerReply) => process.stdout.write(`${JSON.stringify(message)}\n`);

let queue = Promise.resolve();
createInterface({ input: process.stdin }).on('line', (line) => {
  const { id, job } = JSON.parse(line) as { id: number; job: Job };
  queue = queue.then(() =>
    run(job).then(
      (result) => void reply({ id, result }),
      (error: unknown) => void reply({ id, error: (error as Error).stack ?? String(error) }),
    ),
  );
});
process.stdin.on('end', () => void queue.then(() => process.exit(0)));
