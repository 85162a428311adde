import type { Authenticator } from './auth/credentials.ts';
import type { Config } from './config.ts';
import type { Db, Prisma } from './db/database.ts';
import type { Sql, SqlDatabase } from './db/sql.ts';
import type { EventBus } from './events/bus.ts';
import type { OutboxRelay } from './events/outbox.ts';
import type { SubscriptionRegistry } from './events/subscriptions.ts';
import type { RateLimiter } from './limits/rate-limiter.ts';
import type { Logger } from './logger.ts';

/** Time, injectable so tests drive expiry and schedules without sleeping. */
export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };

/** What services need from the running process, built once by buildApp. */
export interface Deps {
  config: Config;
  prisma: Prisma;
  /** Raw SQL and raw transactions on the same database, for hot paths. */
  sql: SqlDatabase;
  bus: EventBus;
  relay: OutboxRelay;
  logger: Logger;
  clock: Clock;
  auth: Authenticator;
  /** Open subscriptions on this instance, with their limits. */
  subscriptions: SubscriptionRegistry;
  limiter: RateLimiter;
}

// Batch charges and concurrent requests queue for the embedded database's single connection and
// for pool slots; these bounds are generous so that waiting is not mistaken for failure.
const TRANSACTION_OPTIONS = { maxWait: 30_000, timeout: 60_000 } as const;

/**
 * Runs `fn` in one database transaction and, once it has committed, asks the outbox relay to
 * publish the events it recorded.
 */
export async function transact<T>(deps: Pick<Deps, 'prisma' | 'relay'>, fn: (tx: Db) => Promise<T>): Promise<T> {
  const result = await deps.prisma.$transaction(fn, TRANSACTION_OPTIONS);
  deps.relay.kick();
  return result;
}

/** As transact, in a raw transaction: for hot paths whose statements are all raw SQL. */
export async function transactSql<T>(deps: Pick<Deps, 'sql' | 'relay'>, fn: (tx: Sql) => Promise<T>): Promise<T> {
  const result = await deps.sql.transaction(fn);
  deps.relay.kick();
  return result;
}
