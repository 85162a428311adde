/**
 * Scopes name what a credential may reach, rights what its holder may do there. A merchant
 * created without explicit scopes and rights gets every one except those a legacy document gates
 * explicitly (the recharge API's scope `credit` and right `Manage payments`).
 */
export const SCOPES = ['pockets', 'credit', 'invoices', 'charges', 'wallets', 'events'] as const;
export const RIGHTS = ['Manage payments'] as const;
export type Scope = (typeof SCOPES)[number];
export type Right = (typeof RIGHTS)[number];

const GATED_SCOPES: readonly string[] = ['credit'];
const GATED_RIGHTS: readonly string[] = ['Manage payments'];

export const DEFAULT_SCOPES = SCOPES.filter((scope) => !GATED_SCOPES.includes(scope));
export const DEFAULT_RIGHTS = RIGHTS.filter((right) => !GATED_RIGHTS.includes(right));

export function parseScopes(values: string[]): Scope[] {
  const unknown = values.filter((value) => !(SCOPES as readonly string[]).includes(value));
  if (unknown.length) throw new Error(`Unknown scope(s): ${unknown.join(', ')}. Known: ${SCOPES.join(', ')}`);
  return values as Scope[];
}

export function parseRights(values: string[]): Right[] {
  const unknown = values.filter((value) => !(RIGHTS as readonly string[]).includes(value));
  if (unknown.length) throw new Error(`Unknown right(s): ${unknown.join(', ')}. Known: ${RIGHTS.join(', ')}`);
  return values as Right[];
}
