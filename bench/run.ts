/**
 * `npm run bench [-- <scenario>…] [--quick] [--rounds N] [--duration S] [--warmup S] [--db auto|embedded|postgres] [--no-pin] [--profile]`
 *
 * Starts what it needs (the server in production mode, on PostgreSQL when DATABASE_URL is set,
 * else on the embedded database; the baselines; the load generator), runs every scenario with its
 * baselines interleaved, checks the money afterwards, prints one table and writes it to
 * bench/results.json (plus a dated copy, results.md and results.html). See docs/benchmarks.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { uuidv7 } from '../src/lib/ids.ts';
import { correctness, RECHARGE_AMOUNT, RELAY_GRACE_MS } from './harness/checks.ts';
import { connectInspector } from './harness/inspector.ts';
import type { Context, Fixtures, Options } from './harness/measure.ts';
import { hasCommand, runCliCommands } from './harness/platform.ts';
import { createBenchDatabase, createRawTables, DEFAULT_POSTGRES_URL, reachable, type BenchDatabase } from './harness/postgres.ts';
import { hasTaskset, killChildren, LOAD_CORE, LoadWorker, residentBytes, SERVER_CORE, startBaseline, startLogged, waitUntilReady, type Started } from './harness/processes.ts';
import { pocketPhone } from './harness/protocol.ts';
import { htmlReport, markdownTable, previousRatios, printTable, writeJson, type Row } from './harness/report.ts';
import { batch } from './scenarios/batch.ts';
import { floor } from './scenarios/floor.ts';
import { hot } from './scenarios/hot.ts';
import { memory } from './scenarios/memory.ts';
import { pockets } from './scenarios/pockets.ts';
import { rest } from './scenarios/rest.ts';
import { subscriptions } from './scenarios/subscriptions.ts';
import { topups } from './scenarios/topups.ts';

type Scenario = (ctx: Context) => Promise<Row[]>;

/** In the order they run: memory first, so that "after start" and "after N operations" see a fresh server. */
const SCENARIOS: Record<string, Scenario> = { memory, floor, rest, batch, hot, pockets, topups, subscriptions };
const ALIASES: Record<string, string> = { recharge: 'topups', 'top-ups': 'topups', topup: 'topups', wallets: 'topups', events: 'subscriptions', live: 'subscriptions' };

const POOL_POCKETS = 10_000;
const CAP = 10n ** 15n;
const SEED_BATCH = 1000;

const log = (text: string) => process.stderr.write(`${text}\n`);

function usage(): never {
  process.stderr.write(
    `usage: npm run bench -- [${Object.keys(SCENARIOS).join('|')}]… [--quick] [--rounds N] [--duration SECONDS] [--warmup SECONDS] [--db auto|embedded|postgres] [--no-pin] [--profile]\n`,
  );
  process.exit(2);
}

function parseOptions(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const options: Options = {
    scenarios: [],
    rounds: quick ? 2 : 3,
    duration: quick ? 1 : 3,
    warmup: quick ? 0.5 : 1,
    quick,
    pin: true,
    db: 'auto',
    mixedOperations: quick ? 1_000 : 10_000,
    webSockets: quick ? 500 : 2_000,
    profile: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const next = argv[++i];
      if (next === undefined) usage();
      return next;
    };
    const positive = (text: string) => {
      const number = Number(text);
      if (!(number > 0)) usage();
      return number;
    };
    if (arg === '--quick') continue;
    else if (arg === '--no-pin') options.pin = false;
    else if (arg === '--profile') options.profile = true;
    else if (arg === '--rounds') options.rounds = Math.round(positive(value()));
    else if (arg === '--duration') options.duration = positive(value());
    else if (arg === '--warmup') options.warmup = positive(value());
    else if (arg === '--db') {
      const db = value();
      if (db !== 'auto' && db !== 'embedded' && db !== 'postgres') usage();
      options.db = db;
    } else if (arg === '--help' || arg === '-h') usage();
    else if (arg.startsWith('-')) usage();
    else {
      const name = ALIASES[arg] ?? arg;
      if (!(name in SCENARIOS)) usage();
      if (!options.scenarios.includes(name)) options.scenarios.push(name);
    }
  }
  if (options.scenarios.length === 0) options.scenarios = Object.keys(SCENARIOS);
  else options.scenarios = Object.keys(SCENARIOS).filter((name) => options.scenarios.includes(name));
  return options;
}

/** The node flags `npm start` runs the server with (package.json), so that the bench runs it as deployed. */
function startFlags(): string[] {
  const { scripts } = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: { start: string } };
  return scripts.start.split(/\s+/).filter((word) => word.startsWith('--'));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function graphql(url: string, authorization: string, query: string, variables: Record<string, unknown>): Promise<{ data?: Record<string, any>; errors?: unknown[] }> {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: Record<string, any>; errors?: unknown[] };
}

const CHARGE = `mutation($g: String!, $c: [PocketChargeInput!]!) { chargePockets(groupSlug: $g, charges: $c) {
  __typename ... on MutationChargePocketsSuccess { data { __typename ... on PocketCharge { status } ... on PocketChargeError { reason } } } ... on AppError { code message } } }`;

/** Charges pockets from the harness itself (fixtures); answers how many items succeeded. */
async function seedCharges(ctx: Context, slug: string, items: { token: string; phoneNumber: string }[]): Promise<number> {
  const answer = await graphql(ctx.serverUrl, ctx.fixtures.authorization, CHARGE, { g: slug, c: items.map((item) => ({ ...item, amount: '1' })) });
  const result = answer.data?.chargePockets as { __typename: string; data?: { status?: string }[] } | undefined;
  if (!result?.data) throw new Error(`seeding ${slug} failed: ${JSON.stringify(answer).slice(0, 400)}`);
  const ok = result.data.filter((item) => item.status === 'SUCCESS').length;
  ctx.acknowledged[slug] = (ctx.acknowledged[slug] ?? 0) + ok;
  if (ok !== items.length) throw new Error(`seeding ${slug}: ${items.length - ok} items failed: ${JSON.stringify(result.data.find((item) => item.status !== 'SUCCESS'))}`);
  return ok;
}

/** One top-up and one recharge create + commit: the routes of the modules being finished must work to be measured. */
async function probe(ctx: Context): Promise<void> {
  const { authorization } = ctx.fixtures;
  if (ctx.fixtures.walletId) {
    const answer = await graphql(ctx.serverUrl, authorization, 'mutation($i: TopUpWalletInput!, $k: String) { topUpWallet(input: $i, idempotencyKey: $k) { __typename ... on AppError { code message } } }', {
      i: { walletId: ctx.fixtures.walletId, amount: '10000', txnCode: ctx.fixtures.txnCode, paymentMode: 'BANK' },
      k: `bench-${uuidv7()}`,
    });
    if (answer.data?.topUpWallet?.__typename === 'MutationTopUpWalletSuccess') ctx.acknowledged[`wallet:${ctx.fixtures.walletId}`] = 1;
    else {
      ctx.notes.push(`wallets: the top-up probe failed, top-ups left out: ${JSON.stringify(answer).slice(0, 300)}`);
      ctx.fixtures.walletId = null;
    }
  }
  if (ctx.fixtures.provider) {
    const created = await graphql(
      ctx.serverUrl,
      authorization,
      'mutation($p: String!, $params: JSON!) { createRechargePayment(provider: $p, userId: "1", params: $params) { __typename ... on MutationCreateRechargePaymentSuccess { data { id } } ... on AppError { code message } } }',
      { p: ctx.fixtures.provider, params: { amount: RECHARGE_AMOUNT.toString() } },
    );
    const id = created.data?.createRechargePayment?.data?.id as string | undefined;
    const committed = id
      ? await graphql(ctx.serverUrl, authorization, 'mutation($id: ID!) { commitRechargePayment(id: $id) { __typename ... on AppError { code message } } }', { id })
      : null;
    if (committed?.data?.commitRechargePayment?.__typename === 'MutationCommitRechargePaymentSuccess') ctx.acknowledged['recharge-commits'] = 1;
    else {
      ctx.notes.push(`recharge: the create + commit probe failed, recharge left out: ${JSON.stringify(committed ?? created).slice(0, 300)}`);
      ctx.fixtures.provider = null;
    }
  }
}

function machine(database: string, pinned: boolean) {
  const cpus = os.cpus();
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()) commit += ' (uncommitted changes)';
  } catch {
    // not a git checkout
  }
  return {
    cpu: `${cpus.length} × ${cpus[0]?.model ?? 'unknown'}`,
    memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    database,
    redis: process.env.REDIS_URL ? 'Redis (REDIS_URL)' : 'in-process pub/sub',
    pinning: pinned ? `server and baselines on core ${SERVER_CORE}, load generator on core ${LOAD_CORE} (taskset)` : 'none',
    commit,
  };
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'payments-bench-'));
  const notes: string[] = [];
  const stops: (() => Promise<void>)[] = [];
  let benchDatabase: BenchDatabase | null = null;
  const cleanUp = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
    await benchDatabase?.drop().catch((error: unknown) => log(`could not drop the bench database: ${(error as Error).message}`));
    benchDatabase = null;
    rmSync(tmp, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    log('interrupted: stopping');
    killChildren();
    void cleanUp().finally(() => process.exit(130));
  });

  try {
    const pinned = options.pin && hasTaskset();
    if (options.pin && !pinned) notes.push('taskset not found: processes are not pinned to cores');

    // Databases: the server's, and PostgreSQL for the raw baselines.
    const postgresServer = process.env.DATABASE_URL ?? DEFAULT_POSTGRES_URL;
    const mode = options.db === 'auto' ? (process.env.DATABASE_URL ? 'postgres' : 'embedded') : options.db;
    const postgresUp = await reachable(postgresServer);
    if (mode === 'postgres' && !postgresUp) throw new Error(`PostgreSQL at ${new URL(postgresServer).host} is not reachable`);
    if (postgresUp) benchDatabase = await createBenchDatabase(postgresServer);
    else notes.push(`No PostgreSQL reachable at ${new URL(postgresServer).host}: the raw pg baselines (scenarios 3 and 4) are skipped.`);
    if (mode === 'embedded' && postgresUp) {
      notes.push('The server runs on the embedded database (PGlite) while the raw baselines run on PostgreSQL: scenarios 3 and 4 compare unlike databases. Set DATABASE_URL to compare like with like.');
    }
    // The subscriptions scenario holds 1,100 subscriptions of one merchant.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      HOST: '127.0.0.1',
      DEMO: 'false',
      SUBSCRIPTIONS_PER_MERCHANT: '5000',
      // Budgets far above any run's load: the limiter's check is measured, never its refusals.
      RATE_LIMIT_OPERATIONS_PER_MINUTE: '1000000000',
      RATE_LIMIT_MERCHANT_OPERATIONS_PER_MINUTE: '1000000000',
    };
    delete env.DATABASE_URL;
    delete env.DATA_DIR;
    if (mode === 'postgres') env.DATABASE_URL = benchDatabase!.url;
    else env.DATA_DIR = path.join(tmp, 'data');
    const databaseLabel = mode === 'postgres' ? `PostgreSQL (database ${new URL(benchDatabase!.url).pathname.slice(1)}, created and dropped by the run)` : 'embedded PGlite in a temporary DATA_DIR';
    log(`bench: ${options.scenarios.join(', ')} on ${databaseLabel}; ${options.rounds} rounds of ${options.duration} s`);

    // Fixtures, with the operator CLI's commands, before the server holds the database.
    log('setting up the merchant, pocket groups, wallet and recharge provider…');
    const [merchantResult] = await runCliCommands(env, [['merchant', 'create', '--name', `bench ${process.pid}`, '--scopes', 'pockets,credit,wallets,events', '--rights', 'Manage payments']]);
    if (!merchantResult?.ok) throw new Error(merchantResult?.error ?? 'merchant create failed');
    const merchant = merchantResult.value as { merchantId: string; token: string };
    const fixtures: Fixtures = {
      merchantId: merchant.merchantId,
      authorization: `Token ${merchant.token}`,
      poolSlug: 'bench-pool',
      poolPockets: POOL_POCKETS,
      hotSlug: 'bench-hot',
      traceToken: uuidv7(),
      walletId: null,
      txnCode: 'BENCH',
      provider: null,
    };
    const M = merchant.merchantId;
    const setup: string[][] = [
      ['pocket-group', 'create', '--merchant', M, '--slug', fixtures.poolSlug, '--cap', CAP.toString()],
      ['pocket-group', 'create', '--merchant', M, '--slug', fixtures.hotSlug, '--cap', CAP.toString()],
    ];
    const wallets = hasCommand('wallet create') && hasCommand('fee-rule set');
    const recharge = hasCommand('recharge-provider create');
    if (wallets) {
      setup.push(['wallet', 'create', '--merchant', M, '--user', 'bench_user']);
      setup.push(['fee-rule', 'set', '--merchant', M, '--txn-code', fixtures.txnCode, '--percent-bp', '100', '--min', '1', '--max', '50000']);
    } else notes.push('wallets: no `wallet create` command: top-ups left out');
    if (recharge) setup.push(['recharge-provider', 'create', '--merchant', M, '--reference', 'bench', '--name', 'Bench', '--expires-in', '3600']);
    else notes.push('recharge: no `recharge-provider create` command: recharge left out');
    const results = await runCliCommands(env, setup);
    const failedSetup = results.filter((result) => !result.ok);
    if (!results[0]!.ok || !results[1]!.ok) throw new Error(`pocket groups: ${failedSetup.map((r) => (r.ok ? '' : r.error)).join('; ')}`);
    if (wallets) {
      const [wallet, rule] = [results[2]!, results[3]!];
      if (wallet.ok && rule.ok) fixtures.walletId = (wallet.value as { walletId: string }).walletId;
      else notes.push(`wallets: set-up failed, top-ups left out: ${[wallet, rule].map((r) => (r.ok ? '' : r.error)).join(' ')}`);
    }
    if (recharge) {
      const provider = results.at(-1)!;
      if (provider.ok) fixtures.provider = 'bench';
      else notes.push(`recharge: set-up failed, recharge left out: ${provider.error}`);
    }
    if (benchDatabase) await createRawTables(benchDatabase.url, POOL_POCKETS, CAP);

    // The server, the baselines and the load generator.
    const port = await freePort();
    // The inspector (loopback only) lets the memory scenario force a collection and read the heap.
    const inspectorPort = options.scenarios.includes('memory') ? await freePort() : null;
    const serverLog = path.join(tmp, 'server.log');
    const nodeFlags = [
      ...startFlags(),
      ...(inspectorPort ? [`--inspect=127.0.0.1:${inspectorPort}`] : []),
      ...(options.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve('bench', 'profiles')}`] : []),
    ];
    const server: Started = startLogged('src/main.ts', { ...env, PORT: String(port) }, pinned ? SERVER_CORE : null, serverLog, nodeFlags);
    stops.push(server.stop);
    const serverUrl = `http://127.0.0.1:${port}`;
    log('starting the server…');
    await waitUntilReady(`${serverUrl}/readyz`, server.child, 180_000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const startRss = residentBytes(server.pid);
    const heap = inspectorPort ? await connectInspector(inspectorPort) : null;
    if (heap) stops.push(async () => heap.close());
    const startHeap = heap ? await heap.usedAfterGc() : null;

    const baselines: Context['baselines'] = { yoga: null, yogaUnlimited: null, bare: null };
    if (options.scenarios.includes('floor')) {
      const baselineEnv = { ...process.env, PORT: '0', BENCH_AUTHORIZATION: fixtures.authorization };
      const yoga = await startBaseline('bench/baselines/plain-yoga.ts', baselineEnv, pinned ? SERVER_CORE : null);
      stops.push(yoga.stop);
      const yogaUnlimited = await startBaseline('bench/baselines/plain-yoga.ts', { ...baselineEnv, BENCH_YOGA_BODY_LIMIT: 'off' }, pinned ? SERVER_CORE : null);
      stops.push(yogaUnlimited.stop);
      baselines.yogaUnlimited = yogaUnlimited.url;
      const bare = await startBaseline('bench/baselines/bare-http.ts', baselineEnv, pinned ? SERVER_CORE : null);
      stops.push(bare.stop);
      baselines.yoga = yoga.url;
      baselines.bare = bare.url;
    }
    const worker = LoadWorker.start(pinned ? LOAD_CORE : null);
    stops.push(() => worker.close());

    const ctx: Context = {
      options,
      worker,
      serverUrl,
      serverPid: server.pid,
      serverLog,
      startRss,
      startHeap,
      heap,
      baselines,
      rawUrl: benchDatabase?.url ?? null,
      fixtures,
      acknowledged: {},
      rates: new Map(),
      notes,
      tmp,
    };

    log('seeding pockets…');
    await seedCharges(ctx, fixtures.poolSlug, [{ token: fixtures.traceToken, phoneNumber: pocketPhone(0) }]);
    await seedCharges(ctx, fixtures.hotSlug, [{ token: uuidv7(), phoneNumber: pocketPhone(0) }]);
    if (options.scenarios.some((name) => ['memory', 'batch', 'hot'].includes(name))) {
      for (let start = 1; start < POOL_POCKETS; start += SEED_BATCH) {
        const items = Array.from({ length: Math.min(SEED_BATCH, POOL_POCKETS - start) }, (_, i) => ({ token: uuidv7(), phoneNumber: pocketPhone(start + i) }));
        await seedCharges(ctx, fixtures.poolSlug, items);
      }
    }
    await probe(ctx);

    const rows: Row[] = [];
    for (const name of options.scenarios) {
      const scenario = SCENARIOS[name]!;
      log(`scenario ${name}`);
      const scenarioStarted = Date.now();
      try {
        rows.push(...(await scenario(ctx)));
        log(`scenario ${name} took ${Math.round((Date.now() - scenarioStarted) / 1000)} s`);
      } catch (error) {
        log(`scenario ${name} failed: ${(error as Error).stack}`);
        rows.push({ scenario: name, check: 'run', candidate: 'error', baseline: '', ratio: null, target: '', pass: false, note: (error as Error).message.slice(0, 300) });
      }
    }

    log('stopping, then checking balances, the ledger and the event log…');
    await new Promise((resolve) => setTimeout(resolve, RELAY_GRACE_MS));
    for (const stop of stops.splice(0).reverse()) await stop();
    const moneyMoved = options.scenarios.some((name) => ['memory', 'batch', 'hot', 'topups'].includes(name));
    if (moneyMoved) {
      rows.push(
        ...(await correctness({
          env,
          merchantId: M,
          poolSlug: fixtures.poolSlug,
          hotSlug: fixtures.hotSlug,
          walletId: fixtures.walletId,
          rechargeUsed: fixtures.provider !== null,
          rawUrl: ctx.rawUrl,
          rawRan: { hot: options.scenarios.includes('hot'), batch: options.scenarios.includes('batch') },
          acknowledged: ctx.acknowledged,
        })),
      );
    }
    const errorLines = readFileSync(serverLog, 'utf8').split('\n').filter((line) => /"level":(50|60)/.test(line));
    if (errorLines.length > 0) notes.push(`The server logged ${errorLines.length} errors; the first: ${errorLines[0]!.slice(0, 300)}`);

    // Report.
    const finishedAt = new Date();
    const meta = {
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      seconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 1000),
      machine: machine(databaseLabel, pinned),
      loadAverage: { before: loadBefore.map((v) => Number(v.toFixed(2))), after: os.loadavg().map((v) => Number(v.toFixed(2))) },
      options,
      acknowledged: ctx.acknowledged,
    };
    const resultsFile = path.join('bench', 'results.json');
    const previous = previousRatios(resultsFile);
    process.stdout.write(`\n${printTable(rows, previous)}\n`);
    if (notes.length > 0) process.stdout.write(`\nNotes:\n${notes.map((note) => `- ${note}`).join('\n')}\n`);
    process.stdout.write(`\n${meta.machine.cpu}, ${meta.machine.memory}, Node ${meta.machine.node}; ${meta.machine.database}; ${meta.machine.redis}; load average ${meta.loadAverage.before.join(' ')} → ${meta.loadAverage.after.join(' ')}; ${meta.seconds} s\n`);
    const document = { ...meta, rows, notes };
    writeJson(resultsFile, document);
    writeJson(path.join('bench', `results-${startedAt.toISOString().replaceAll(':', '-').replace(/\.\d+Z$/, 'Z')}.json`), document);
    writeFileSync(path.join('bench', 'results.md'), `${markdownTable(rows)}\n`);
    writeFileSync(path.join('bench', 'results.html'), htmlReport(rows, meta, notes));
    process.stdout.write('Written: bench/results.json (and a dated copy), bench/results.md, bench/results.html\n');
    if (options.profile) process.stdout.write('CPU profile of the server: bench/profiles/*.cpuprofile (open it in Chrome DevTools or speedscope)\n');
    const broken = rows.filter((row) => row.scenario === 'checks' || row.check === 'run').some((row) => row.pass === false);
    return broken ? 1 : 0;
  } finally {
    await cleanUp();
    killChildren();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`bench failed: ${(error as Error).stack ?? String(error)}`);
    killChildren();
    process.exit(1);
  },
);
