import type { Db } from '../db/database.ts';
import { uuidv7 } from '../lib/ids.ts';
import { currentActor, type AuditActor } from './actor.ts';

/** What the ledger tells the audit trail about one transfer. */
export interface AuditedTransfer {
  id: string;
  merchantId: string;
  code: string;
  kind: string;
  amount: bigint;
  currency: string;
  debitAccountId: string;
  creditAccountId: string;
  pendingId: string | null;
  /** Who asked for it, when not the request in whose context the ledger runs (coalesced work). */
  actor?: AuditActor;
}

/**
 * Records transfers in the audit trail, inside the caller's transaction (the ledger's), so the
 * record commits or rolls back with the money it describes. Transfers written by several ledger
 * calls of one transaction join one record per merchant and request: the transaction is identified
 * by PostgreSQL's own id and start time, which never repeat together, and the request by its id
 * (calls coalesced into one transaction, as pocket charges are, keep a record each).
 */
export async function recordAudit(db: Db, transfers: AuditedTransfer[], now: Date): Promise<void> {
  if (transfers.length === 0) return;
  const current = currentActor();
  const groups = new Map<string, { merchantId: string; actor: AuditActor | undefined; transfers: AuditedTransfer[] }>();
  for (const transfer of transfers) {
    const actor = transfer.actor ?? current;
    const key = `${transfer.merchantId}\u0000${actor?.requestId ?? ''}`;
    const group = groups.get(key);
    if (group) group.transfers.push(transfer);
    else groups.set(key, { merchantId: transfer.merchantId, actor, transfers: [transfer] });
  }
  for (const { merchantId, actor, transfers: own } of groups.values()) {
    const listed = own.map((t) => ({
      id: t.id,
      code: t.code,
      kind: t.kind,
      amount: t.amount.toString(),
      currency: t.currency,
      debitAccountId: t.debitAccountId,
      creditAccountId: t.creditAccountId,
      pendingId: t.pendingId,
    }));
    await db.$executeRawUnsafe(
      `INSERT INTO audit_log
         (id, transaction_key, merchant_id, actor_kind, credential_id, credential_kind, staff_id, operator, action, request_id, reason, transfers, created_at)
       VALUES ($1, txid_current()::text || ':' || extract(epoch FROM transaction_timestamp())::text || ':' || coalesce($9, ''),
               $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::timestamptz)
       ON CONFLICT (transaction_key, merchant_id) DO UPDATE SET transfers = audit_log.transfers || EXCLUDED.transfers`,
      uuidv7(now.getTime()),
      merchantId,
      actor?.kind ?? 'system',
      actor?.credentialId ?? null,
      actor?.credentialKind ?? null,
      actor?.staffId ?? null,
      actor?.operator ?? null,
      actor?.action ?? own[0]!.code,
      actor?.requestId ?? null,
      actor?.reason ?? null,
      JSON.stringify(listed),
      now.toISOString(),
    );
  }
}

export interface AuditQuery {
  merchantId?: string | null;
  requestId?: string | null;
  from?: Date | null;
  to?: Date | null;
}

/** The Prisma filter for an audit query: `from` inclusive, `to` exclusive. */
export function auditWhere(query: AuditQuery) {
  return {
    ...(query.merchantId ? { merchantId: query.merchantId } : {}),
    ...(query.requestId ? { requestId: query.requestId } : {}),
    ...(query.from || query.to
      ? { createdAt: { ...(query.from ? { gte: query.from } : {}), ...(query.to ? { lt: query.to } : {}) } }
      : {}),
  };
}
