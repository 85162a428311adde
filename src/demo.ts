import { addToken, createMerchant, type MerchantCredentials } from './auth/credentials.ts';
import { SCOPES, RIGHTS } from './auth/scopes.ts';
import type { Database, Db } from './db/database.ts';
import { modules } from './modules/index.ts';

/**
 * The demo merchant: its credentials are the ones the legacy documents use in their own examples,
 * so each document's curl example runs as written against http://localhost:4000.
 */
export const DEMO = {
  merchantId: '00000000-0000-7000-8000-000000000001',
  name: 'Demo merchant',
  /** The pocket API's example: `Authorization: Token merchant_token`. */
  token: 'merchant_token',
  /** The wallet API's example token and CompanyID. */
  walletToken: 'duik7309njdlkhdauhknksadhjkas986876sd873j',
  companyId: '7753ad6bd8cf48f5b1312fd21eb36588',
  oauthClientId: 'demo-client',
  oauthClientSecret: 'demo-client-secret',
  basicKey: 'demo-key',
  basicSecret: 'demo-basic-secret',
} as const;

/**
 * Seeds the demo merchant and each module's demo objects. Safe to run on every start, and from
 * several instances starting together against one PostgreSQL: they take turns on an advisory lock
 * (PGlite has a single process, and its single connection would be held by the lock).
 */
export async function seedDemo(database: Database): Promise<MerchantCredentials> {
  if (database.kind === 'pglite') return seedDemoObjects(database.prisma);
  return database.prisma.$transaction(
    async (tx) => {
      await tx.$executeRawUnsafe('SELECT pg_advisory_xact_lock(7275632)');
      return seedDemoObjects(database.prisma);
    },
    { maxWait: 60_000, timeout: 60_000 },
  );
}

async function seedDemoObjects(db: Db): Promise<MerchantCredentials> {
  const existing = await db.merchant.findUnique({ where: { id: DEMO.merchantId } });
  const credentials: MerchantCredentials = {
    merchantId: DEMO.merchantId,
    name: DEMO.name,
    companyId: DEMO.companyId,
    scopes: [...SCOPES],
    rights: [...RIGHTS],
    token: DEMO.token,
    tokenId: '',
    oauthClientId: DEMO.oauthClientId,
    oauthClientSecret: DEMO.oauthClientSecret,
    basicKey: DEMO.basicKey,
    basicSecret: DEMO.basicSecret,
  };
  if (!existing) {
    const created = await createMerchant(db, { ...credentials, id: DEMO.merchantId });
    credentials.tokenId = created.tokenId;
    await addToken(db, DEMO.merchantId, DEMO.walletToken);
  }
  for (const module of modules) await module.seedDemo?.(db, credentials);
  return credentials;
}
