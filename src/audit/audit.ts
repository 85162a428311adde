import type { Sql } from '../db/sql.ts';
import type { WriteBatch } from '../db/write-batch.ts';
import { uuidv7 } from '../lib/ids.ts';
import { currentActor, type AuditActor } from './actor.ts';

/** What the ledger tells the audit trail about one transfer: the record keeps its id, the ledger the rest. */
export interface AuditedTransfer {
  transfer: { id: string; merchantId: string; code: string };
  /** Who asked for it, when not the request in whose context the ledger runs (coalesced work). */
  actor?: AuditActor;
}

interface AuditGroup {
  merchantId: string;
  actor: AuditActor | undefined;
  transfers: AuditedTransfer['transfer'][];
}

/**
 * Records transfers in the audit trail, inside the caller's transaction (the ledger's), so the
 * record commits or rolls back with the money it describes. Transfers written by several ledger
 * calls of one transaction join one record per merchant and request: the transaction is identified
 * by PostgreSQL's own id and start time, which never repeat together, and the request by its id
 * (calls coalesced into one transaction, as pocket charges are, keep a record each).
 */
export function recordAudit(writes: WriteBatch, audited: AuditedTransfer[], now: Date): void {
  if (audited.length === 0) return;
  const current = currentActor();
  const groups = new Map<string, AuditGroup>();
  let last: AuditGroup | undefined;
  for (const { transfer, actor: own } of audited) {
    const actor = own ?? current;
    // Runs of one merchant and actor (a batch's) join the same record without looking it up.
    if (last?.merchantId !== transfer.merchantId || last.actor !== actor) {
      const key = `${transfer.merchantId}\u0000${actor?.requestId ?? ''}`;
      last = groups.get(key);
      if (!last) groups.set(key, (last = { merchantId: transfer.merchantId, actor, transfers: [] }));
    }
    last.transfers.push(transfer);
  }
  const records = [...groups.values()];
  // One row per merchant and request; their keys differ, so one statement can write them all. The
  // records' transfer ids travel as one array, each id beside its record's number.
  writes.add(
    `INSERT INTO audit_log
       (id, transaction_key, merchant_id, actor_kind, credential_id, credential_kind, staff_id, operator, action, request_id, reason, transfer_ids, created_at)
     SELECT v.id, txid_current()::text || ':' || extract(epoch FROM transaction_timestamp())::text || ':' || coalesce(v.request_id, ''),
            v.merchant_id, v.actor_kind, v.credential_id, v.credential_kind, v.staff_id, v.operator, v.action, v.request_id, v.reason,
            t.ids, $13::timestamptz
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])
       WITH ORDINALITY AS v(id, merchant_id, actor_kind, credential_id, credential_kind, staff_id, operator, action, request_id, reason, n)
     JOIN (SELECT u.n, array_agg(u.id ORDER BY u.at) AS ids
           FROM unnest($11::text[], $12::bigint[]) WITH ORDINALITY AS u(id, n, at) GROUP BY u.n) AS t USING (n)
     ON CONFLICT (transaction_key, merchant_id) DO UPDATE SET transfer_ids = audit_log.transfer_ids || EXCLUDED.transfer_ids`,
    records.map(() => uuidv7(now.getTime())),
    records.map((r) => r.merchantId),
    records.map((r) => r.actor?.kind ?? 'system'),
    records.map((r) => r.actor?.credentialId ?? null),
    records.map((r) => r.actor?.credentialKind ?? null),
    records.map((r) => r.actor?.staffId ?? null),
    records.map((r) => r.actor?.operator ?? null),
    records.map((r) => r.actor?.action ?? r.transfers[0]!.code),
    records.map((r) => r.actor?.requestId ?? null),
    records.map((r) => r.actor?.reason ?? null),
    records.flatMap((r) => r.transfers.map((t) => t.id)),
    records.flatMap((r, i) => r.transfers.map(() => i + 1)),
    now.toISOString(),
  );
}

/** A transfer as an audit record shows it. */
export interface AuditRecordTransfer {
  id: string;
  code: string;
  kind: string;
  /** Minor units, a decimal string. */
  amount: string;
  currency: string;
  debitAccountId: string;
  creditAccountId: string;
  pendingId: string | null;
}

/**
 * The transfers of each list of ids (a record's), read whole from the ledger, which keeps them
 * unchanged, in the list's order: one query for every list, however many and however long.
 */
export async function auditRecordTransfers(db: Sql, lists: readonly (readonly string[])[]): Promise<AuditRecordTransfer[][]> {
  const rows = await db.$queryRawUnsafe<
    { id: string; code: string; kind: string; amount: string; currency: string; debit_account_id: string; credit_account_id: string; pending_id: string | null }[]
  >(
    `SELECT id, code, kind, amount::text AS amount, currency, debit_account_id, credit_account_id, pending_id
     FROM ledger_transfers WHERE id = ANY($1::text[])`,
    lists.flat(),
  );
  const byId = new Map(rows.map((row) => [row.id, row]));
  return lists.map((ids) =>
    ids.map((id) => {
      const row = byId.get(id);
      if (!row) throw new Error(`an audit record names transfer ${id}, which the ledger does not hold`);
      return {
        id: row.id,
        code: row.code,
        kind: row.kind,
        amount: row.amount,
        currency: row.currency,
        debitAccountId: row.debit_account_id,
        creditAccountId: row.credit_account_id,
        pendingId: row.pending_id,
      };
    }),
  );
}

export interface AuditQuery {
  merchantId?: string | null;
  requestId?: string | null;
  from?: Date | null;
  to?: Date | null;
}

/**
 * The Prisma filter for an audit query: `from` inclusive, `to` exclusive. Only an absent (null)
 * filter is no filter: an empty id is one no record has.
 */
export function auditWhere(query: AuditQuery) {
  return {
    ...(query.merchantId != null ? { merchantId: query.merchantId } : {}),
    ...(query.requestId != null ? { requestId: query.requestId } : {}),
    ...(query.from || query.to
      ? { createdAt: { ...(query.from ? { gte: query.from } : {}), ...(query.to ? { lt: query.to } : {}) } }
      : {}),
  };
}
