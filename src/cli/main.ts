/**
 * The operator CLI: `npm run --silent cli -- <command>`. Prints one JSON object on stdout; errors
 * go to stderr with a non-zero exit. It opens the same database as the server (DATABASE_URL, or
 * the embedded one in DATA_DIR, which a running server holds: stop it first).
 */
import { userInfo } from 'node:os';
import { withActor } from '../audit/actor.ts';
import { ConfigError, loadProcessConfig } from '../config.ts';
import { openDatabase } from '../db/database.ts';
import { AppError } from '../errors.ts';
import { uuidv7 } from '../lib/ids.ts';
import { modules } from '../modules/index.ts';
import { parseArgs, stringFlag, UsageError } from './args.ts';
import { coreCommands, findCommand } from './commands.ts';

const print = (value: unknown) =>
  `${JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`;

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const commands = Object.assign({}, coreCommands, ...modules.map((module) => module.commands ?? {}));
  const command = findCommand(commands, args.positionals);
  const config = loadProcessConfig();
  const database = await openDatabase(config);
  try {
    // Money moved by a command is audited as the operating-system user's, under a fresh request id.
    const actor = {
      kind: 'cli' as const,
      credentialId: null,
      credentialKind: null,
      staffId: null,
      operator: userInfo().username,
      action: `cli:${args.positionals.slice(0, 2).join(' ')}`,
      requestId: uuidv7(),
      reason: stringFlag(args, 'reason') ?? null,
    };
    const result = await withActor(actor, () => command.run(database.prisma, args));
    process.stdout.write(print(result));
    return command.failed?.(result) ? 1 : 0;
  } finally {
    await database.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const known = error instanceof UsageError || error instanceof ConfigError || error instanceof AppError;
    process.stderr.write(`${known ? (error as Error).message : `error: ${(error as Error).message}`}\n`);
    process.exit(known && error instanceof UsageError ? 2 : 1);
  },
);
