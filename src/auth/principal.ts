import { AccessError } from '../errors.ts';
import type { Right, Scope } from './scopes.ts';

export type CredentialKind = 'token' | 'basic' | 'oauth_client' | 'access_token' | 'operator' | 'staff';

/** Who is calling: a merchant through one of its credentials, or an operator. */
export type Principal =
  | {
      kind: 'merchant';
      merchantId: string;
      companyId: string;
      credentialId: string;
      credentialKind: CredentialKind;
      scopes: ReadonlySet<string>;
      rights: ReadonlySet<string>;
      /** The staff member an access token was issued to (`login_info` grant). */
      staffId?: string;
    }
  | { kind: 'operator'; credentialId: string };

export type MerchantPrincipal = Extract<Principal, { kind: 'merchant' }>;

/** The merchant the request acts for; 401 without credentials, 403 for an operator or a missing scope or right. */
export function requireMerchant(principal: Principal | null, need: { scope?: Scope; right?: Right } = {}): MerchantPrincipal {
  if (!principal) throw new AccessError('UNAUTHENTICATED', 'Authentication credentials were not provided or are invalid.');
  if (principal.kind !== 'merchant') throw new AccessError('FORBIDDEN', 'This operation acts for a merchant; an operator credential cannot use it.');
  if (need.scope && !principal.scopes.has(need.scope)) {
    throw new AccessError('FORBIDDEN', `This credential lacks the scope "${need.scope}".`);
  }
  if (need.right && !principal.rights.has(need.right)) {
    throw new AccessError('FORBIDDEN', `This credential lacks the right "${need.right}".`);
  }
  return principal;
}

export function requireOperator(principal: Principal | null): Extract<Principal, { kind: 'operator' }> {
  if (!principal) throw new AccessError('UNAUTHENTICATED', 'Authentication credentials were not provided or are invalid.');
  if (principal.kind !== 'operator') throw new AccessError('FORBIDDEN', 'This operation needs an operator credential.');
  return principal;
}
