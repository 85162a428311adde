import { amountFlag, requiredFlag, stringFlag, UsageError, type ParsedArgs } from '../../cli/args.ts';
import type { CliCommand } from '../../cli/commands.ts';
import type { Db } from '../../db/database.ts';
import { DEFAULT_CURRENCY } from './money.ts';
import { createWallet, deleteFeeRule, findMerchantId, listFeeRules, setFeeRule, walletBalances, withTransaction } from './service.ts';

function paymentModeFlag(args: ParsedArgs): number | null {
  const value = stringFlag(args, 'payment-mode') ?? 'any';
  const mode = { any: null, card: 1, bank: 2, '1': 1, '2': 2 }[value.toLowerCase()];
  if (mode === undefined) throw new UsageError('--payment-mode is card (1), bank (2) or any');
  return mode;
}

function basisPointsFlag(args: ParsedArgs): number {
  const value = stringFlag(args, 'percent-bp') ?? '0';
  if (!/^\d{1,5}$/.test(value)) throw new UsageError('--percent-bp takes whole basis points (150 = 1.5 %)');
  return Number(value);
}

function flagIsSet(args: ParsedArgs, name: string): boolean {
  const value = args.flags[name];
  if (value === undefined) return false;
  if (value === true || value === 'true' || value === 'yes') return true;
  throw new UsageError(`--${name} takes no value`);
}

async function listWallets(db: Db, merchantId: string, username?: string) {
  const wallets = await db.wallet.findMany({
    where: { merchantId, ...(username ? { user: { username } } : {}) },
    include: { user: true },
    orderBy: [{ user: { username: 'asc' } }, { currency: 'asc' }],
  });
  const balances = await walletBalances(db, merchantId, wallets.map((wallet) => wallet.id));
  return wallets.map((wallet) => ({
    walletId: wallet.id,
    userId: wallet.userId,
    username: wallet.user.username,
    userType: wallet.user.type,
    currency: wallet.currency,
    balance: balances.get(wallet.id)!,
    createdAt: wallet.createdAt,
  }));
}

/** Operator commands; `--merchant` takes a merchant id or its CompanyID. */
export const walletCommands: Record<string, CliCommand> = {
  'wallet create': {
    usage: 'wallet create --merchant ID --user USERNAME [--agent] [--currency IRR]',
    run: (db, args) =>
      withTransaction(db, async (tx) => {
        const merchantId = await findMerchantId(tx, requiredFlag(args, 'merchant'));
        const wallet = await createWallet(
          tx,
          {
            merchantId,
            username: requiredFlag(args, 'user'),
            userType: flagIsSet(args, 'agent') ? 'agent' : 'user',
            currency: stringFlag(args, 'currency') ?? DEFAULT_CURRENCY,
          },
          new Date(),
        );
        return (await listWallets(tx, merchantId)).find((item) => item.walletId === wallet.id);
      }),
  },
  'wallet list': {
    usage: 'wallet list --merchant ID [--user USERNAME]',
    run: async (db, args) => ({ wallets: await listWallets(db, await findMerchantId(db, requiredFlag(args, 'merchant')), stringFlag(args, 'user')) }),
  },
  'fee-rule set': {
    usage:
      'fee-rule set --merchant ID --txn-code CODE [--currency IRR] [--payment-mode card|bank|any] [--fixed MINOR] [--percent-bp BP] [--min MINOR] [--max MINOR]',
    run: (db, args) =>
      withTransaction(db, async (tx) =>
        setFeeRule(
          tx,
          {
            merchantId: await findMerchantId(tx, requiredFlag(args, 'merchant')),
            txnCode: requiredFlag(args, 'txn-code'),
            currency: stringFlag(args, 'currency') ?? DEFAULT_CURRENCY,
            paymentMode: paymentModeFlag(args),
            fixed: amountFlag(args, 'fixed') ?? 0n,
            percentBasisPoints: basisPointsFlag(args),
            min: amountFlag(args, 'min') ?? null,
            max: amountFlag(args, 'max') ?? null,
          },
          new Date(),
        ),
      ),
  },
  'fee-rule list': {
    usage: 'fee-rule list --merchant ID',
    run: async (db, args) => ({ rules: await listFeeRules(db, await findMerchantId(db, requiredFlag(args, 'merchant'))) }),
  },
  'fee-rule delete': {
    usage: 'fee-rule delete --id RULE_ID',
    run: async (db, args) => {
      const id = requiredFlag(args, 'id');
      await deleteFeeRule(db, id);
      return { ruleId: id, deleted: true };
    },
  },
};
