import { auditRecordTransfers, auditWhere } from '../audit/audit.ts';
import { createMerchant, createOperator, createStaffUser, revokeCredential, rotateCredential } from '../auth/credentials.ts';
import { parseRights, parseScopes } from '../auth/scopes.ts';
import type { Db } from '../db/database.ts';
import { verifyLedger } from '../ledger/ledger.ts';
import { listFlag, requiredFlag, stringFlag, type ParsedArgs, UsageError } from './args.ts';

/** A CLI command: works on the database directly and answers one JSON-serialisable value. */
export interface CliCommand {
  usage: string;
  run(db: Db, args: ParsedArgs): Promise<unknown>;
  /** Non-zero exit when the answer says so (e.g. ledger violations). */
  failed?(result: unknown): boolean;
}

export const coreCommands: Record<string, CliCommand> = {
  'merchant create': {
    usage: 'merchant create --name NAME [--scopes a,b] [--rights "Manage payments,..."]',
    run: async (db, args) => {
      const scopes = listFlag(args, 'scopes');
      const rights = listFlag(args, 'rights');
      return createMerchant(db, {
        name: requiredFlag(args, 'name'),
        ...(scopes ? { scopes: parseScopes(scopes) } : {}),
        ...(rights ? { rights: parseRights(rights) } : {}),
      });
    },
  },
  'merchant list': {
    usage: 'merchant list',
    run: async (db) => ({
      merchants: await db.merchant.findMany({
        orderBy: { createdAt: 'asc' },
        select: { id: true, name: true, companyId: true, scopes: true, rights: true, createdAt: true },
      }),
    }),
  },
  'credential list': {
    usage: 'credential list --merchant ID',
    run: async (db, args) => ({
      credentials: await db.credential.findMany({
        where: { merchantId: requiredFlag(args, 'merchant'), kind: { not: 'access_token' } },
        orderBy: { createdAt: 'asc' },
        select: { id: true, kind: true, publicId: true, hint: true, scopes: true, rights: true, revokedAt: true, createdAt: true },
      }),
    }),
  },
  'credential rotate': {
    usage: 'credential rotate --id CREDENTIAL_ID',
    run: (db, args) => rotateCredential(db, requiredFlag(args, 'id')),
  },
  'credential revoke': {
    usage: 'credential revoke --id CREDENTIAL_ID',
    run: async (db, args) => {
      const id = requiredFlag(args, 'id');
      await revokeCredential(db, id);
      return { credentialId: id, revoked: true };
    },
  },
  'staff create': {
    usage: 'staff create --merchant ID --username NAME [--password P] [--scopes a,b] [--rights "Manage payments"]',
    run: (db, args) => {
      const scopes = listFlag(args, 'scopes');
      const rights = listFlag(args, 'rights');
      const password = stringFlag(args, 'password');
      return createStaffUser(db, {
        merchantId: requiredFlag(args, 'merchant'),
        username: requiredFlag(args, 'username'),
        ...(password ? { password } : {}),
        ...(scopes ? { scopes: parseScopes(scopes) } : {}),
        ...(rights ? { rights: parseRights(rights) } : {}),
      });
    },
  },
  'operator create': {
    usage: 'operator create',
    run: (db) => createOperator(db),
  },
  'ledger verify': {
    usage: 'ledger verify',
    run: async (db) => {
      const result = await verifyLedger(db);
      return { ok: result.violations.length === 0, ...result };
    },
    failed: (result) => !(result as { ok: boolean }).ok,
  },
  'audit list': {
    usage: 'audit list [--merchant ID] [--request-id ID] [--from ISO-TIME] [--to ISO-TIME] [--limit N] [--before RECORD_ID]',
    run: async (db, args) => {
      const limit = Number(stringFlag(args, 'limit') ?? '50');
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit takes 1 to 1000');
      const before = stringFlag(args, 'before');
      const records = await db.auditRecord.findMany({
        where: {
          ...auditWhere({
            merchantId: stringFlag(args, 'merchant') ?? null,
            requestId: stringFlag(args, 'request-id') ?? null,
            from: timeFlag(args, 'from'),
            to: timeFlag(args, 'to'),
          }),
          ...(before ? { id: { lt: before } } : {}),
        },
        orderBy: { id: 'desc' },
        take: limit,
      });
      // Newest first; pass the last id as --before for the next page.
      const transfers = await auditRecordTransfers(db, records.map((record) => record.transferIds));
      return {
        records: records.map(({ transferIds: _ids, ...record }, i) => ({ ...record, transfers: transfers[i] })),
        next: records.length === limit ? records[records.length - 1]!.id : null,
      };
    },
  },
  'db migrate': {
    usage: 'db migrate',
    // Opening the database applies pending migrations; see src/db/migrate.ts.
    run: async () => ({ migrated: true }),
  },
};

function timeFlag(args: ParsedArgs, name: string): Date | null {
  const value = stringFlag(args, name);
  if (value === undefined) return null;
  const time = new Date(value);
  if (Number.isNaN(time.getTime())) throw new UsageError(`--${name} takes an ISO-8601 time`);
  return time;
}

export function findCommand(commands: Record<string, CliCommand>, positionals: string[]): CliCommand {
  const name = positionals.slice(0, 2).join(' ');
  const command = commands[name];
  if (!command) {
    throw new UsageError(`unknown command "${name}". Commands:\n${Object.values(commands).map((c) => `  ${c.usage}`).join('\n')}`);
  }
  return command;
}
