/**
 * Side-by-side measurement: every variant of a scenario (candidates and baselines) runs once to
 * warm up, then in several rounds, interleaved, each round in the opposite order of the last, so
 * that a slow minute on a shared machine falls on all of them alike. Ratios are taken per round
 * (pairs measured a few seconds apart) and their median is reported.
 */
import type { HeapProbe } from './inspector.ts';
import type { HttpProgram, LoadResult, PgProgram } from './protocol.ts';
import type { LoadWorker } from './processes.ts';

export interface Options {
  scenarios: string[];
  rounds: number;
  /** Seconds of each measured run. */
  duration: number;
  /** Seconds of each variant's warm-up run. */
  warmup: number;
  quick: boolean;
  pin: boolean;
  db: 'auto' | 'embedded' | 'postgres';
  /** Operations of the memory scenario's mixed load. */
  mixedOperations: number;
  /** Idle WebSocket connections the memory scenario opens. */
  webSockets: number;
  /** Write a V8 CPU profile of the server to bench/profiles/. */
  profile: boolean;
}

export interface Fixtures {
  merchantId: string;
  /** `Token …` of the bench merchant (scopes pockets, credit, wallets, events; right Manage payments). */
  authorization: string;
  poolSlug: string;
  poolPockets: number;
  hotSlug: string;
  /** A successful charge in the pool group, for the read scenarios. */
  traceToken: string;
  walletId: string | null;
  txnCode: string;
  provider: string | null;
}

export interface Context {
  options: Options;
  worker: LoadWorker;
  serverUrl: string;
  serverPid: number;
  serverLog: string;
  /** Resident memory of the server right after it became ready, before any load. */
  startRss: number;
  /** V8 heap in use after a forced collection at the same moment (memory scenario only). */
  startHeap: number | null;
  /** The server's heap through its inspector (memory scenario only). */
  heap: HeapProbe | null;
  /** `yogaUnlimited`: plain Yoga without its own request body limit. */
  baselines: { yoga: string | null; yogaUnlimited: string | null; bare: string | null };
  /** PostgreSQL holding the raw baselines' tables, or null when none is reachable. */
  rawUrl: string | null;
  fixtures: Fixtures;
  /** Every acknowledged charge (and top-up, commit) of the run, warm-ups included, by key. */
  acknowledged: Record<string, number>;
  /** The last requests per second of each sized run (see httpLoad), by variant. */
  rates: Map<string, number>;
  notes: string[];
  tmp: string;
}

export function acknowledge(ctx: Context, result: Pick<LoadResult, 'acknowledged'>): void {
  for (const [key, count] of Object.entries(result.acknowledged)) ctx.acknowledged[key] = (ctx.acknowledged[key] ?? 0) + count;
}

/**
 * One HTTP load run. A run is timed (`duration`), or of a fixed `amount` of requests, or `sized`:
 * a number of requests that should take about `duration` at the rate this variant last showed
 * (one per connection the first time). Money-moving runs are sized, so that no request is cut off
 * at the end (a batch of 1,000 may take longer than a short run) and every run counts whole
 * requests.
 */
export async function httpLoad(
  ctx: Context,
  spec: { url?: string; connections: number; duration: number; amount?: number; sized?: string; timeoutSeconds?: number; program: HttpProgram },
): Promise<LoadResult> {
  let amount = spec.amount;
  if (spec.sized !== undefined) {
    const rate = ctx.rates.get(spec.sized);
    amount = rate === undefined ? spec.connections : Math.max(spec.connections, Math.round(rate * spec.duration));
  }
  const result = await ctx.worker.run<LoadResult>({
    kind: 'http',
    url: spec.url ?? ctx.serverUrl,
    connections: spec.connections,
    duration: spec.duration,
    ...(amount !== undefined ? { amount } : {}),
    timeoutSeconds: spec.timeoutSeconds ?? 60,
    program: spec.program,
  });
  if (spec.sized !== undefined && result.perSecond > 0) ctx.rates.set(spec.sized, result.perSecond);
  acknowledge(ctx, result);
  return result;
}

export async function pgLoad(ctx: Context, spec: { connections: number; duration: number; program: PgProgram }): Promise<LoadResult> {
  if (!ctx.rawUrl) throw new Error('no PostgreSQL for the raw baselines');
  const result = await ctx.worker.run<LoadResult>({ kind: 'pg', databaseUrl: ctx.rawUrl, ...spec });
  acknowledge(ctx, result);
  return result;
}

export interface Variant {
  id: string;
  label: string;
  /** Items per request: the figure is requests per second times this. */
  perRequest: number;
  unit: 'req/s' | 'items/s';
  connections: number;
  run(ctx: Context, seconds: number): Promise<LoadResult | null>;
}

export interface Samples {
  id: string;
  label: string;
  unit: string;
  connections: number;
  /** Per round: the figure (requests or items per second) and the 99th percentile latency. */
  perSecond: number[];
  p99Ms: number[];
  requests: number;
  failed: number;
  failedItems: number;
  errors: number;
  timeouts: number;
  /** In-doubt requests settled after their run by sending them again. */
  settled: number;
  failureSamples: string[];
}

export const median = (values: number[]): number => {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

function record(samples: Samples, variant: Variant, result: LoadResult): void {
  samples.perSecond.push(result.perSecond * variant.perRequest);
  samples.p99Ms.push(result.latencyMs.p99);
  samples.requests += result.requests;
  samples.failed += result.failed;
  samples.failedItems += result.failedItems;
  samples.errors += result.errors;
  samples.timeouts += result.timeouts;
  samples.settled += (result as LoadResult & { settled?: number }).settled ?? 0;
  for (const sample of result.failureSamples) if (samples.failureSamples.length < 3) samples.failureSamples.push(sample);
}

const log = (text: string) => process.stderr.write(`${text}\n`);

/**
 * Runs the variants interleaved. `sequences` are run as units (a variant that needs the one
 * before it, like commits needing created payments, shares its sequence); the order of the
 * sequences alternates from round to round. Failures in a warm-up count like any other.
 */
export async function measure(ctx: Context, sequences: Variant[][]): Promise<Map<string, Samples>> {
  const all = new Map<string, Samples>();
  for (const variant of sequences.flat()) {
    all.set(variant.id, {
      id: variant.id,
      label: variant.label,
      unit: variant.unit,
      connections: variant.connections,
      perSecond: [],
      p99Ms: [],
      requests: 0,
      failed: 0,
      failedItems: 0,
      errors: 0,
      timeouts: 0,
      settled: 0,
      failureSamples: [],
    });
  }
  for (const variant of sequences.flat()) {
    const result = await variant.run(ctx, ctx.options.warmup);
    if (!result) continue;
    const samples = all.get(variant.id)!;
    samples.failed += result.failed;
    samples.failedItems += result.failedItems;
    samples.errors += result.errors;
    for (const sample of result.failureSamples) if (samples.failureSamples.length < 3) samples.failureSamples.push(sample);
  }
  for (let round = 0; round < ctx.options.rounds; round++) {
    const order = round % 2 === 0 ? sequences : [...sequences].reverse();
    for (const sequence of order) {
      for (const variant of sequence) {
        const result = await variant.run(ctx, ctx.options.duration);
        if (!result) continue;
        record(all.get(variant.id)!, variant, result);
        log(`  round ${round + 1}: ${variant.label.padEnd(44)} ${formatRate(result.perSecond * variant.perRequest, variant.unit).padStart(16)}  p99 ${result.latencyMs.p99.toFixed(1)} ms${result.failed ? `  ${result.failed} failed` : ''}`);
      }
    }
  }
  return all;
}

export function formatRate(value: number, unit: string): string {
  if (!Number.isFinite(value)) return '—';
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })} ${unit}`;
}
