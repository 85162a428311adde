import { AsyncLocalStorage } from 'node:async_hooks';
import type { Principal } from '../auth/principal.ts';

/**
 * Who is acting, carried through the request in AsyncLocalStorage so that the ledger can record
 * it next to the transfers it writes without every service passing it along. The HTTP layer, the
 * GraphQL root fields and the CLI set it; background work (schedules, expiry) runs without one
 * and is recorded as `system`.
 */
export interface AuditActor {
  kind: 'merchant' | 'operator' | 'cli' | 'anonymous' | 'system';
  credentialId: string | null;
  credentialKind: string | null;
  staffId: string | null;
  /** The operating-system user running a CLI command. */
  operator: string | null;
  /** `graphql:<root field>`, `<METHOD> <path>` or `cli:<command>`. */
  action: string;
  requestId: string | null;
  reason: string | null;
}

const storage = new AsyncLocalStorage<AuditActor>();

export const currentActor = (): AuditActor | undefined => storage.getStore();

export function withActor<T>(actor: AuditActor, fn: () => T): T {
  return storage.run(actor, fn);
}

export function actorOf(principal: Principal | null, details: { action: string; requestId: string | null; reason?: string | null }): AuditActor {
  const base = { operator: null, action: details.action, requestId: details.requestId, reason: details.reason ?? null };
  if (!principal) return { ...base, kind: 'anonymous', credentialId: null, credentialKind: null, staffId: null };
  if (principal.kind === 'operator') return { ...base, kind: 'operator', credentialId: principal.credentialId, credentialKind: 'operator', staffId: null };
  return {
    ...base,
    kind: 'merchant',
    credentialId: principal.credentialId,
    credentialKind: principal.credentialKind,
    staffId: principal.staffId ?? null,
  };
}

/** Reasons longer than this are cut in the audit record (services validate their own limits). */
export const MAX_AUDIT_REASON = 1000;

/** The `reason` a request gives, at the top level or in an `input` object, if any. */
export function reasonIn(value: unknown): string | null {
  if (!value || typeof value !== 'object') return null;
  const record = value as Record<string, unknown>;
  const reason = typeof record.reason === 'string' ? record.reason : reasonIn(record.input);
  return reason ? reason.slice(0, MAX_AUDIT_REASON) : null;
}
