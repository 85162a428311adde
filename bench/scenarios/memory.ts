/**
 * 7. Memory: the server's resident memory right after start, after a fixed number of mixed
 * operations (reads, the floor query, single charges, top-ups, recharge creations), and per idle
 * graphql-ws connection (authenticated, acknowledged, no subscription). Beside resident memory,
 * the V8 heap in use after a forced collection (through the server's loopback inspector), which
 * does not move with the collector's timing.
 */
import { httpLoad, type Context } from '../harness/measure.ts';
import { residentBytes } from '../harness/processes.ts';
import type { HttpProgram } from '../harness/protocol.ts';
import type { Row } from '../harness/report.ts';
import { FLOOR_QUERY } from './floor.ts';

const CONNECTIONS = 4;
const SOCKET_STEPS = 4;
const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const TRACE = 'query Trace($t: String!) { pocketCharge(token: $t) { token phoneNumber amount status group { slug } } }';
const GROUP = 'query Group($s: String!) { pocketGroup(slug: $s) { slug cap spent remaining } }';

function slope(points: [number, number][]): number {
  const n = points.length;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  const covariance = points.reduce((sum, [x, y]) => sum + (x - meanX) * (y - meanY), 0);
  const variance = points.reduce((sum, [x]) => sum + (x - meanX) ** 2, 0);
  return covariance / variance;
}

export async function memory(ctx: Context): Promise<Row[]> {
  const { authorization, poolSlug, poolPockets, traceToken, walletId, txnCode, provider } = ctx.fixtures;
  const json = { authorization, 'content-type': 'application/json' };
  const reads: HttpProgram[] = [
    { type: 'static', method: 'POST', path: '/graphql', headers: json, body: FLOOR_QUERY, graphql: true },
    { type: 'static', method: 'GET', path: `/badje/v1/pockets/${poolSlug}/charge/${traceToken}/`, headers: { authorization } },
    { type: 'static', method: 'POST', path: '/graphql', headers: json, body: JSON.stringify({ query: TRACE, variables: { t: traceToken } }), graphql: true },
    { type: 'static', method: 'POST', path: '/graphql', headers: json, body: JSON.stringify({ query: GROUP, variables: { s: poolSlug } }), graphql: true },
  ];
  // Four reads for each write; the writes take turns.
  const writes: HttpProgram[] = [{ type: 'charge', via: 'graphql', authorization, groupSlug: poolSlug, pockets: poolPockets, batch: 1 }];
  if (walletId) writes.push({ type: 'topup', authorization, walletId, txnCode });
  if (provider) writes.push({ type: 'recharge-create', authorization, provider });
  const parts = writes.flatMap((write) => [...reads, write]);

  const operations = ctx.options.mixedOperations;
  const mixed = await httpLoad(ctx, { connections: CONNECTIONS, duration: 600, amount: operations, timeoutSeconds: 120, program: { type: 'mixed', parts } });
  await settle(1000);
  const afterLoad = residentBytes(ctx.serverPid);
  const afterLoadHeap = ctx.heap ? await ctx.heap.usedAfterGc() : null;

  // The connections are opened in steps; the cost of one is the least-squares slope over the steps.
  const sockets = ctx.options.webSockets;
  const url = `${ctx.serverUrl.replace(/^http/, 'ws')}/graphql`;
  // Resident memory is read after the forced collection, so that every point is taken alike.
  const measurePoint = async (open: number) => {
    const heap = ctx.heap ? await ctx.heap.usedAfterGc() : null;
    return { open, heap, rss: residentBytes(ctx.serverPid) };
  };
  const points = [await measurePoint(0)];
  for (let step = 1; step <= SOCKET_STEPS; step++) {
    const target = Math.round((sockets * step) / SOCKET_STEPS);
    await ctx.worker.run({ kind: 'ws-open', url, count: target - points.at(-1)!.open, authorization });
    await settle(500);
    points.push(await measurePoint(target));
  }
  await ctx.worker.run({ kind: 'ws-close' });
  const rssPerSocket = slope(points.map((point) => [point.open, point.rss]));
  const heapPerSocket = ctx.heap ? slope(points.map((point) => [point.open, point.heap!])) : null;
  const heapText = (bytes: number | null) => (bytes === null ? '' : `; heap after GC ${mb(bytes)}`);

  const writesText = writes.map((write) => (write.type === 'charge' ? 'single charges' : write.type === 'topup' ? 'top-ups' : 'recharge creations')).join(', ');
  return [
    {
      scenario: '7 memory',
      check: 'resident memory after start',
      candidate: mb(ctx.startRss),
      baseline: heapText(ctx.startHeap).replace(/^; /, ''),
      ratio: null,
      target: '',
      pass: null,
      data: { rss: ctx.startRss, heapAfterGc: ctx.startHeap },
    },
    {
      scenario: '7 memory',
      check: `after ${operations.toLocaleString('en-US')} mixed operations`,
      candidate: mb(afterLoad),
      baseline: `+${mb(afterLoad - ctx.startRss)} since start${heapText(afterLoadHeap)}`,
      ratio: null,
      target: '',
      pass: null,
      note: `4 reads ({ viewer }, REST trace, GraphQL trace, pocketGroup totals) per write (${writesText}), ${CONNECTIONS} connections; ${mixed.failed} failed`,
      data: { rss: afterLoad, heapAfterGc: afterLoadHeap, operations, failed: mixed.failed, failureSamples: mixed.failureSamples },
    },
    {
      scenario: '7 memory',
      check: 'per idle WebSocket connection',
      candidate: `${(rssPerSocket / 1024).toFixed(1)} KB resident`,
      baseline: `${heapPerSocket === null ? '' : `${(heapPerSocket / 1024).toFixed(1)} KB heap; `}${sockets} connections: ${mb(points[0]!.rss)} → ${mb(points.at(-1)!.rss)}`,
      ratio: null,
      target: '',
      pass: null,
      note: `slope over ${SOCKET_STEPS} steps of ${sockets / SOCKET_STEPS} connections (graphql-ws, connection_init acknowledged, no subscription)`,
      data: { rssPerConnection: rssPerSocket, heapPerConnection: heapPerSocket, points },
    },
  ];
}
