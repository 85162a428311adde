/**
 * The platform's own database, seen from the harness: fixtures made with the operator CLI's
 * commands before the server starts (the embedded database is single-process), and the checks
 * made after it stopped.
 */
import { spawn } from 'node:child_process';
import { parseArgs } from '../../src/cli/args.ts';
import { coreCommands, findCommand, type CliCommand } from '../../src/cli/commands.ts';
import { loadConfig } from '../../src/config.ts';
import { openDatabase, type Db } from '../../src/db/database.ts';
import { modules } from '../../src/modules/index.ts';

const commands: Record<string, CliCommand> = Object.assign({}, coreCommands, ...modules.map((module) => module.commands ?? {}));

export const hasCommand = (name: string) => name in commands;

async function withDatabase<T>(env: NodeJS.ProcessEnv, work: (db: Db) => Promise<T>): Promise<T> {
  const database = await openDatabase(loadConfig(env));
  try {
    return await work(database.prisma);
  } finally {
    await database.close();
  }
}

/**
 * Runs operator CLI commands (`npm run cli -- <argv>`) in this process, one database opening for
 * all of them instead of one process each; answers each command's result.
 */
export function runCliCommands(env: NodeJS.ProcessEnv, argvs: string[][]): Promise<({ ok: true; value: unknown } | { ok: false; error: string })[]> {
  return withDatabase(env, async (db) => {
    const results: ({ ok: true; value: unknown } | { ok: false; error: string })[] = [];
    for (const argv of argvs) {
      const args = parseArgs(argv);
      try {
        results.push({ ok: true, value: await findCommand(commands, args.positionals).run(db, args) });
      } catch (error) {
        results.push({ ok: false, error: `${argv.slice(0, 2).join(' ')}: ${(error as Error).message}` });
      }
    }
    return results;
  });
}

/** `npm run --silent cli -- ledger verify`, the real CLI in its own process: its JSON answer and exit code. */
export function ledgerVerify(env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'ledger', 'verify'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code: code ?? 1, output }));
  });
}

export interface GroupTotals {
  /** What the group's funding account has paid out (minus its balance). */
  spent: bigint;
  /** The sum of the group's pockets' balances. */
  pocketBalances: bigint;
  /** Recorded successful charges, and their amounts. */
  charges: bigint;
  chargedAmount: bigint;
}

export interface PlatformTotals {
  groups: Record<string, GroupTotals>;
  walletBalance: bigint | null;
  rechargeBalances: bigint;
  /** Events committed and not yet published by the outbox relay (numbered or not). */
  unpublishedEvents: bigint;
}

export function platformTotals(env: NodeJS.ProcessEnv, merchantId: string, slugs: string[], walletId: string | null): Promise<PlatformTotals> {
  return withDatabase(env, async (db) => {
    const groups: Record<string, GroupTotals> = {};
    for (const slug of slugs) {
      const [row] = await db.$queryRawUnsafe<{ spent: bigint; balances: bigint; charges: bigint; amount: bigint }[]>(
        `SELECT -(f.credits_posted - f.debits_posted) AS spent,
                (SELECT coalesce(sum(a.credits_posted - a.debits_posted), 0)::bigint
                   FROM pockets p JOIN ledger_accounts a ON a.id = p.account_id WHERE p.group_id = g.id) AS balances,
                (SELECT count(*) FROM pocket_charges c WHERE c.group_id = g.id AND c.status = 'success') AS charges,
                (SELECT coalesce(sum(c.amount), 0)::bigint FROM pocket_charges c WHERE c.group_id = g.id AND c.status = 'success') AS amount
           FROM pocket_groups g JOIN ledger_accounts f ON f.id = g.funding_account_id
          WHERE g.merchant_id = $1 AND g.slug = $2`,
        merchantId,
        slug,
      );
      if (!row) throw new Error(`no pocket group ${slug}`);
      groups[slug] = { spent: BigInt(row.spent), pocketBalances: BigInt(row.balances), charges: BigInt(row.charges), chargedAmount: BigInt(row.amount) };
    }
    const balanceOf = async (pattern: string) => {
      const [row] = await db.$queryRawUnsafe<{ total: bigint | null; accounts: bigint }[]>(
        `SELECT sum(credits_posted - debits_posted)::bigint AS total, count(*) AS accounts FROM ledger_accounts WHERE merchant_id = $1 AND name LIKE $2`,
        merchantId,
        pattern,
      );
      return row && BigInt(row.accounts) > 0n ? BigInt(row.total ?? 0n) : null;
    };
    const [events] = await db.$queryRawUnsafe<{ unpublished: bigint }[]>(
      `SELECT (SELECT coalesce(sum(size), 0) FROM events WHERE seq IS NULL)
            + coalesce((SELECT last_seq - published_seq FROM event_cursor WHERE id = 1), 0) AS unpublished`,
    );
    return {
      groups,
      walletBalance: walletId ? await balanceOf(`wallet:${walletId}`) : null,
      rechargeBalances: (await balanceOf('recharge-user:%')) ?? 0n,
      unpublishedEvents: BigInt(events!.unpublished),
    };
  });
}
