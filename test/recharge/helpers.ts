import { expect } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { RIGHTS, SCOPES } from '../../src/auth/scopes.ts';
import { parseArgs } from '../../src/cli/args.ts';
import { rechargeModule } from '../../src/modules/recharge/index.ts';
import { basic, type TestApp } from '../support/app.ts';

/** A merchant with the scope `credit` and the right "Manage payments". */
export const privilegedMerchant = (t: TestApp, name = 'Recharge merchant') => t.merchant({ name, scopes: [...SCOPES], rights: [...RIGHTS] });

/** `Bearer <access token>` from POST /oauth/token (client credentials). */
export async function bearer(t: TestApp, merchant: MerchantCredentials, scope?: string): Promise<string> {
  const res = await t.request('POST', '/oauth/token', {
    authorization: basic(merchant.oauthClientId, merchant.oauthClientSecret),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) }).toString(),
  });
  expect(res.status).toBe(200);
  return `Bearer ${res.json.access_token}`;
}

/** Creates a provider through the operator CLI command, as an operator would. */
export async function createProvider(t: TestApp, merchantId: string, reference: string, flags: string[] = []) {
  const command = rechargeModule.commands!['recharge-provider create']!;
  return (await command.run(
    t.app.deps.prisma,
    parseArgs(['recharge-provider', 'create', '--merchant', merchantId, '--reference', reference, '--name', `Provider ${reference}`, ...flags]),
  )) as { id: string; reference: string; currency: string };
}

export const paymentsPath = (reference: string, ...rest: string[]) =>
  [`/v3/rechargeProviders/${encodeURIComponent(reference)}/payments`, ...rest].join('/');
