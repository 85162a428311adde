import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { parseArgs } from '../../src/cli/args.ts';
import type { PocketGroup } from '../../src/generated/prisma/client.ts';
import { balance, findAccount } from '../../src/ledger/ledger.ts';
import { uuidv7 } from '../../src/lib/ids.ts';
import { pocketCommands } from '../../src/modules/pockets/commands.ts';
import { fundingAccountName, pocketAccountName } from '../../src/modules/pockets/service.ts';
import type { TestApp } from '../support/app.ts';

export const SUCCESS = 'شارژ با موفقیت انجام شد.';
export const DUPLICATE = 'توکن تکراری است';

/** Runs an operator CLI command of the pockets module, as `npm run cli -- <argv>` would. */
export function cli(t: TestApp, argv: string[]): Promise<unknown> {
  const args = parseArgs(argv);
  const command = pocketCommands[args.positionals.slice(0, 2).join(' ')];
  if (!command) throw new Error(`no command ${argv.join(' ')}`);
  return command.run(t.app.deps.prisma, args);
}

let slugs = 0;
export async function createGroup(t: TestApp, merchant: MerchantCredentials, options: { cap?: bigint; slug?: string } = {}): Promise<PocketGroup> {
  const slug = options.slug ?? `group-${process.pid}-${++slugs}-${uuidv7().slice(-6)}`;
  const argv = ['pocket-group', 'create', '--merchant', merchant.merchantId, '--slug', slug];
  if (options.cap !== undefined) argv.push('--cap', options.cap.toString());
  return (await cli(t, argv)) as PocketGroup;
}

export const newToken = () => uuidv7();

let phones = 0;
/** A phone number no other test uses, in canonical form. */
export const newPhone = () => `98912${String(process.pid % 1000).padStart(3, '0')}${String(++phones).padStart(4, '0')}`;

export const chargePath = (slug: string) => `/badje/v1/pockets/${slug}/charge/`;
export const tracePath = (slug: string, token: string) => `/badje/v1/pockets/${slug}/charge/${token}/`;

export async function pocketBalance(t: TestApp, group: PocketGroup, phone: string): Promise<bigint> {
  const account = await findAccount(t.app.deps.prisma, group.merchantId, pocketAccountName(group.id, phone));
  return account ? balance(account) : 0n;
}

export async function fundingBalance(t: TestApp, group: PocketGroup): Promise<bigint> {
  return balance((await findAccount(t.app.deps.prisma, group.merchantId, fundingAccountName(group.id)))!);
}

export const transferCount = (t: TestApp, merchantId: string) => t.app.deps.prisma.ledgerTransfer.count({ where: { merchantId } });
