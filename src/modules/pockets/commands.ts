import { amountFlag, requiredFlag, stringFlag, UsageError } from '../../cli/args.ts';
import type { CliCommand } from '../../cli/commands.ts';
import { createPocketGroup, fundPocketGroup, listPocketGroups } from './service.ts';

export const pocketCommands: Record<string, CliCommand> = {
  'pocket-group create': {
    usage: 'pocket-group create --merchant ID --slug SLUG [--name NAME] [--currency IRR] [--cap AMOUNT]',
    run: (db, args) =>
      createPocketGroup(
        db,
        {
          merchantId: requiredFlag(args, 'merchant'),
          slug: requiredFlag(args, 'slug'),
          name: stringFlag(args, 'name') ?? null,
          currency: stringFlag(args, 'currency') ?? 'IRR',
          cap: amountFlag(args, 'cap') ?? null,
        },
        new Date(),
      ),
  },
  'pocket-group list': {
    usage: 'pocket-group list --merchant ID',
    run: async (db, args) => ({ pocketGroups: await listPocketGroups(db, requiredFlag(args, 'merchant')) }),
  },
  'pocket-group fund': {
    usage: 'pocket-group fund --merchant ID --slug SLUG --amount N   (raises the cap by N)',
    run: (db, args) => {
      const amount = amountFlag(args, 'amount');
      if (amount === undefined) throw new UsageError('--amount is required');
      return fundPocketGroup(db, { merchantId: requiredFlag(args, 'merchant'), slug: requiredFlag(args, 'slug'), amount });
    },
  },
};
