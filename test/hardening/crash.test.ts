import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.ts';
import { createMerchant, createOperator } from '../../src/auth/credentials.ts';
import { RIGHTS, SCOPES } from '../../src/auth/scopes.ts';
import { loadConfig } from '../../src/config.ts';
import { openDatabase } from '../../src/db/database.ts';
import { balance, findAccount, verifyLedger } from '../../src/ledger/ledger.ts';
import { uuidv7 } from '../../src/lib/ids.ts';
import { usesPostgres } from '../support/app.ts';
import { seededRandom } from '../charges/seeded-random.ts';
import { pocketCommands } from '../../src/modules/pockets/commands.ts';
import { parseArgs } from '../../src/cli/args.ts';
import { pocketAccountName } from '../../src/modules/pockets/service.ts';

/**
 * Crash safety: the server runs as its own process and is killed with SIGKILL at a random moment
 * while concurrent batch pocket charges and wallet top-ups are in flight. After a restart every
 * request is sent again with its token or request id; each must then be applied exactly once, and
 * the ledger's invariants must hold. CRASH_ROUNDS (default 3) sets how many kills; CRASH_SEED
 * replays one sequence of kill moments.
 */
const ROUNDS = Number(process.env.CRASH_ROUNDS ?? 3);
const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
const BATCHES_PER_ROUND = 8;
const ITEMS_PER_BATCH = 5;
const TOP_UPS_PER_ROUND = 8;

const env: Record<string, string> = {
  ...(process.env as Record<string, string>),
  LOG_LEVEL: 'info',
  PORT: '0',
  HOST: '127.0.0.1',
  RATE_LIMIT_OPERATIONS_PER_MINUTE: '0',
  CHARGES_SCHEDULER_INTERVAL_MS: '0',
  RECONCILE_INTERVAL_MS: '0',
};
if (!usesPostgres) env.DATA_DIR = mkdtempSync(path.join(tmpdir(), 'crash-'));

const children = new Set<ChildProcess>();
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** The server as operators run it, one process (node with the tsx loader, so SIGKILL reaches the server itself). */
async function startServer(): Promise<{ child: ChildProcess; url: string; exited: Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const exited = new Promise<void>((resolve) => child.on('exit', () => (children.delete(child), resolve())));
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    // A server that neither listens nor exits fails the test instead of hanging it.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not listen within 90 s: ${output.slice(-3000)}`));
    }, 90_000);
    child.on('exit', () => clearTimeout(timer));
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"url":"([^"]+)"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${output.slice(-3000)}`)));
  });
  child.stdout!.resume();
  return { child, url, exited };
}

interface Setup {
  merchantId: string;
  token: string;
  companyId: string;
  slug: string;
  groupId: string;
  walletId: string;
}

/** A merchant, a pocket group and a wallet, made in-process before the server owns the database. */
async function setUp(): Promise<Setup> {
  const config = loadConfig({ ...env, LOG_LEVEL: 'silent' }, { PORT: 0 });
  const app = await buildApp(config);
  try {
    const merchant = await createMerchant(app.deps.prisma, { name: 'Crash merchant', scopes: [...SCOPES], rights: [...RIGHTS] });
    const slug = `crash-${uuidv7().slice(-12)}`;
    const group = (await pocketCommands['pocket-group create']!.run(
      app.deps.prisma,
      parseArgs(['pocket-group', 'create', '--merchant', merchant.merchantId, '--slug', slug]),
    )) as { id: string };
    const operator = await createOperator(app.deps.prisma);
    const response = await app.fetch(
      new Request('http://local/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${operator.token}` },
        body: JSON.stringify({
          query: `mutation($m: ID!) { createWallet(merchantId: $m, username: "crash-user") { ... on MutationCreateWalletSuccess { data { id } } ... on AppError { code message } } }`,
          variables: { m: merchant.merchantId },
        }),
      }),
    );
    const walletId = ((await response.json()) as any).data.createWallet.data.id as string;
    return { merchantId: merchant.merchantId, token: merchant.token, companyId: merchant.companyId, slug, groupId: group.id, walletId };
  } finally {
    await app.stop();
  }
}

interface Sent {
  kind: 'batch' | 'topup';
  body: Record<string, unknown>;
  /** For a batch: its items' tokens, phones and amounts; for a top-up: its request id and amount. */
  keys: string[];
  amount: bigint;
  acknowledged: boolean;
}

function send(url: string, setup: Setup, request: Sent): Promise<Response> {
  const headers = { 'content-type': 'application/json', authorization: `Token ${setup.token}` };
  // A request the restarted server never answers fails the test instead of hanging it.
  const signal = AbortSignal.timeout(60_000);
  if (request.kind === 'batch') return fetch(`${url}/badje/v1/pockets/${setup.slug}/charge/`, { method: 'POST', headers, body: JSON.stringify(request.body), signal });
  return fetch(`${url}/digipay/v3/transaction/wallet_topup`, { method: 'POST', headers: { ...headers, companyid: setup.companyId }, body: JSON.stringify(request.body), signal });
}

async function expectApplied(response: Response, request: Sent): Promise<void> {
  const text = await response.text();
  expect(response.status, text).toBe(200);
  const json = JSON.parse(text);
  if (request.kind === 'batch') expect(json.results.map((result: { status: string }) => result.status), text).toEqual(request.keys.map(() => 'success'));
  else expect(json.success, text).toBe(1);
}

describe(`crash safety (${usesPostgres ? 'PostgreSQL' : 'embedded database'})`, { timeout: 240_000 }, () => {
  it(`SIGKILL during concurrent pocket charges and top-ups, ${ROUNDS} times: every request resent applies exactly once`, async () => {
    const random = seededRandom(SEED).next;
    const setup = await setUp();
    const all: Sent[] = [];
    let phoneSeq = 0;
    let server = await startServer();
    const kills: number[] = [];

    for (let round = 0; round < ROUNDS; round++) {
      const sent: Sent[] = [];
      for (let b = 0; b < BATCHES_PER_ROUND; b++) {
        const items = Array.from({ length: ITEMS_PER_BATCH }, () => ({
          token: uuidv7(),
          phone_number: `98912${String(++phoneSeq % 40).padStart(7, '0')}`,
          amount: 1 + Math.floor(random() * 1000),
        }));
        sent.push({ kind: 'batch', body: { charges: items }, keys: items.map((item) => item.token), amount: BigInt(items.reduce((sum, item) => sum + item.amount, 0)), acknowledged: false });
      }
      for (let u = 0; u < TOP_UPS_PER_ROUND; u++) {
        const requestId = uuidv7();
        const amount = 1 + Math.floor(random() * 1000);
        sent.push({
          kind: 'topup',
          body: { wallet_id: setup.walletId, txn_amount: amount, txn_code: 'CIB', payment_mode: 2, meta_data: { wallet_topup_request_id: requestId } },
          keys: [requestId],
          amount: BigInt(amount),
          acknowledged: false,
        });
      }
      all.push(...sent);

      // Everything at once, and the process killed somewhere in the middle of it.
      const inFlight = sent.map((request) =>
        send(server.url, setup, request).then(
          async (response) => {
            if (response.status === 200) {
              await expectApplied(response, request);
              request.acknowledged = true;
            } else await response.body?.cancel();
          },
          () => undefined,
        ),
      );
      const killAfter = Math.floor(random() * 400);
      kills.push(killAfter);
      await new Promise((resolve) => setTimeout(resolve, killAfter));
      server.child.kill('SIGKILL');
      await server.exited;
      await Promise.all(inFlight);

      // Restart and resend everything of this round (acknowledged or not) with the same tokens and ids.
      server = await startServer();
      const resent = await Promise.all(sent.map((request) => send(server.url, setup, request)));
      for (const [index, response] of resent.entries()) await expectApplied(response, sent[index]!);
    }

    // Once more, everything from every round: all replays now.
    const replayed = await Promise.all(all.map((request) => send(server.url, setup, request)));
    for (const [index, response] of replayed.entries()) await expectApplied(response, all[index]!);
    server.child.kill('SIGTERM');
    await server.exited;

    const database = await openDatabase(loadConfig({ ...env, LOG_LEVEL: 'silent' }));
    try {
      const db = database.prisma;
      const tokens = all.filter((request) => request.kind === 'batch').flatMap((request) => request.keys);
      const requestIds = all.filter((request) => request.kind === 'topup').flatMap((request) => request.keys);
      const context = `seed ${SEED}, kills after ${kills.join(', ')} ms, acknowledged ${all.filter((request) => request.acknowledged).length}/${all.length}`;

      const charges = await db.pocketCharge.findMany({ where: { merchantId: setup.merchantId } });
      expect(charges.length, context).toBe(tokens.length);
      expect(new Set(charges.map((charge) => charge.token)), context).toEqual(new Set(tokens));
      expect(charges.every((charge) => charge.status === 'success'), context).toBe(true);
      const chargeTransfers = await db.ledgerTransfer.count({ where: { merchantId: setup.merchantId, key: { in: tokens.map((token) => `pocket-charge:${token}`) } } });
      expect(chargeTransfers, context).toBe(tokens.length);

      const transactions = await db.walletTransaction.findMany({ where: { merchantId: setup.merchantId } });
      expect(transactions.length, context).toBe(requestIds.length);
      expect(new Set(transactions.map((transaction) => transaction.requestId)), context).toEqual(new Set(requestIds));

      const charged = all.filter((request) => request.kind === 'batch').reduce((sum, request) => sum + request.amount, 0n);
      const toppedUp = all.filter((request) => request.kind === 'topup').reduce((sum, request) => sum + request.amount, 0n);
      let pockets = 0n;
      for (const phone of new Set(all.filter((request) => request.kind === 'batch').flatMap((request) => (request.body.charges as { phone_number: string }[]).map((item) => item.phone_number)))) {
        const account = await findAccount(db, setup.merchantId, pocketAccountName(setup.groupId, phone));
        pockets += account ? balance(account) : 0n;
      }
      expect(pockets, context).toBe(charged);
      const wallet = await findAccount(db, setup.merchantId, `wallet:${setup.walletId}`);
      expect(balance(wallet!), context).toBe(toppedUp);

      // What the kills interrupted, for the record of a run (and to see the test still bites).
      console.info(`crash safety: ${context}`);
      const verified = await verifyLedger(db);
      expect(verified.violations, context).toEqual([]);
    } finally {
      await database.close();
    }
  });
});
