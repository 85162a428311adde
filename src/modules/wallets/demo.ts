import type { MerchantCredentials } from '../../auth/credentials.ts';
import type { Db } from '../../db/database.ts';
import { createWallet, setFeeRule, withTransaction } from './service.ts';

/**
 * The wallet document's example objects for the demo merchant (whose token and CompanyID are the
 * document's curl example's), so that the curl example runs as written.
 */
export const DEMO_WALLETS = {
  /** The document's `wallet_id`, owned by a company user. */
  walletId: '116a51aa2b7d459a8b7e3db7dcf5e70a',
  userId: '5b0f0a6f0d6e4b7c9a3e2d1c0b9a8f7e',
  username: 'demo_user',
  agentWalletId: '2f6c1d0e9b8a4c7d8e5f3a2b1c0d9e8f',
  agentUserId: '9d4e6f2a1b3c4d5e8f7a6b5c4d3e2f1a',
  agentUsername: 'demo_agent',
  currency: 'IRR',
} as const;

/** Idempotent: does nothing once the demo wallet exists. */
export async function seedDemoWallets(db: Db, merchant: MerchantCredentials): Promise<void> {
  await withTransaction(db, async (tx) => {
    if (await tx.wallet.findUnique({ where: { id: DEMO_WALLETS.walletId } })) return;
    const now = new Date();
    const { merchantId } = merchant;
    await createWallet(
      tx,
      { merchantId, username: DEMO_WALLETS.agentUsername, userType: 'agent', currency: DEMO_WALLETS.currency, walletId: DEMO_WALLETS.agentWalletId, userId: DEMO_WALLETS.agentUserId },
      now,
    );
    await createWallet(
      tx,
      { merchantId, username: DEMO_WALLETS.username, userType: 'user', currency: DEMO_WALLETS.currency, walletId: DEMO_WALLETS.walletId, userId: DEMO_WALLETS.userId },
      now,
    );
    // CIB, any payment mode: 1 % with a minimum of 1 rial and a maximum of 50,000.
    await setFeeRule(
      tx,
      { merchantId, txnCode: 'CIB', currency: DEMO_WALLETS.currency, paymentMode: null, fixed: 0n, percentBasisPoints: 100, min: 1n, max: 50_000n },
      now,
    );
  });
}
