import { createHash } from 'node:crypto';
import type { Db } from '../db/database.ts';
import type { Sql } from '../db/sql.ts';
import { transact, transactSql, type Deps } from '../deps.ts';
import { AppError } from '../errors.ts';
import { canonicalJson, decodeJson, encodeJson } from '../lib/json.ts';

export interface IdempotentRequest {
  merchantId: string;
  /** The client's key; null runs the action without idempotency. */
  key: string | null;
  /**
   * Absent for the keys clients send: one namespace per merchant, shared by every operation (a
   * key is bound to the first operation that used it). A legacy field that doubles as a key (a
   * top-up's request id) names its operation's own namespace, where no client key can meet it.
   */
  namespace?: string;
  /** The operation, e.g. `graphql:chargePockets`: a key is bound to one operation. */
  scope: string;
  /** The request's meaningful input; the same key with another payload is refused. */
  payload: unknown;
}

export const MAX_KEY_LENGTH = 255;

/**
 * The key an Idempotency-Key header holds, or null without one. A header sent twice reaches the
 * server as one value, the two joined by ", ": refused, as neither key could be honoured (a retry
 * with either one would run the operation again).
 */
export function headerKey(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (!isOneHeaderKey(value)) throw new AppError('VALIDATION_FAILED', TWO_HEADER_KEYS, 'Idempotency-Key');
  return value;
}

export const isOneHeaderKey = (value: string): boolean => !value.includes(', ');
export const TWO_HEADER_KEYS = 'Send one Idempotency-Key header; a key does not hold ", ".';

/**
 * Runs a money-moving action at most once per (merchant, namespace, key), in one transaction with
 * the record of its result. The key row is inserted first: a concurrent request with the same key
 * waits on the unique index until the first commits, then replays its stored result; if the first
 * rolls back (an error), the key is free again. Business failures thrown roll back, so they are not
 * stored and a retry with the same key may succeed once the cause is gone; an action that returns
 * a failure (after a change it commits) has it stored and replayed.
 */
export function idempotent<T>(
  deps: Pick<Deps, 'prisma' | 'relay'>,
  request: IdempotentRequest,
  action: (tx: Db) => Promise<T>,
): Promise<{ value: T; replayed: boolean }> {
  return once(request, (fn) => transact(deps, fn), action);
}

/** As idempotent, in a raw transaction (see transactSql): for actions whose statements are all raw SQL. */
export function idempotentSql<T>(
  deps: Pick<Deps, 'sql' | 'relay'>,
  request: IdempotentRequest,
  action: (tx: Sql) => Promise<T>,
): Promise<{ value: T; replayed: boolean }> {
  return once(request, (fn) => transactSql(deps, fn), action);
}

async function once<Tx extends Sql, T>(
  request: IdempotentRequest,
  transaction: <R>(fn: (tx: Tx) => Promise<R>) => Promise<R>,
  action: (tx: Tx) => Promise<T>,
): Promise<{ value: T; replayed: boolean }> {
  if (request.key === null) return { value: await transaction(action), replayed: false };
  if (request.key.length === 0 || request.key.length > MAX_KEY_LENGTH) {
    throw new AppError('VALIDATION_FAILED', `An idempotency key has 1 to ${MAX_KEY_LENGTH} characters.`, 'idempotencyKey');
  }
  const key = request.key;
  const namespace = request.namespace ?? '';
  const requestHash = createHash('sha256').update(canonicalJson([request.scope, request.payload])).digest('hex');
  return transaction(async (tx) => {
    const claimed = await tx.$queryRawUnsafe<{ key: string }[]>(
      `INSERT INTO idempotency_keys (merchant_id, namespace, key, scope, request_hash, response)
       VALUES ($1, $2, $3, $4, $5, 'null'::jsonb) ON CONFLICT DO NOTHING RETURNING key`,
      request.merchantId,
      namespace,
      key,
      request.scope,
      requestHash,
    );
    if (claimed.length === 0) {
      const [stored] = await tx.$queryRawUnsafe<{ scope: string; request_hash: string; response: unknown }[]>(
        `SELECT scope, request_hash, response FROM idempotency_keys WHERE merchant_id = $1 AND namespace = $2 AND key = $3`,
        request.merchantId,
        namespace,
        key,
      );
      if (!stored) throw new AppError('IDEMPOTENCY_KEY_IN_PROGRESS', 'A request with this idempotency key is in progress; retry shortly.');
      if (stored.scope !== request.scope || stored.request_hash !== requestHash) {
        throw new AppError(
          'IDEMPOTENCY_KEY_REUSED',
          'This idempotency key was already used with a different request; use a new key for a new request.',
          'idempotencyKey',
        );
      }
      return { value: decodeJson<T>(JSON.stringify(stored.response)), replayed: true };
    }
    const value = await action(tx);
    await tx.$executeRawUnsafe(
      `UPDATE idempotency_keys SET response = $4::jsonb WHERE merchant_id = $1 AND namespace = $2 AND key = $3`,
      request.merchantId,
      namespace,
      key,
      encodeJson(value ?? null),
    );
    return { value, replayed: false };
  });
}
