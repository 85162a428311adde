import type { Db, Prisma } from '../db/database.ts';
import type { Logger } from '../logger.ts';
import { MERCHANT_STREAM, type EventBus, type EventMessage } from './bus.ts';

export interface NewEvent {
  merchantId: string;
  /** Dot-separated, domain first: `pocket.charged`. */
  type: string;
  /** The per-object topic, e.g. `POCKET`; subscribers listen on `topic:objectId`. */
  topic: string;
  objectId: string;
  data?: Record<string, unknown>;
}

/** Writes events to the outbox inside the caller's transaction, so they commit with the change. */
export async function recordEvents(db: Db, events: NewEvent[], now = new Date()): Promise<void> {
  if (events.length === 0) return;
  await db.$executeRawUnsafe(
    `INSERT INTO events (merchant_id, type, topic, object_id, payload, occurred_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::timestamptz[])`,
    events.map((e) => e.merchantId),
    events.map((e) => e.type),
    events.map((e) => e.topic),
    events.map((e) => e.objectId),
    events.map((e) => JSON.stringify(e.data ?? {})),
    events.map(() => now.toISOString()),
  );
}

export interface EventRow {
  id: bigint;
  merchant_id: string;
  type: string;
  topic: string;
  object_id: string;
  payload: Record<string, unknown>;
  occurred_at: Date;
}

export function toMessage(row: EventRow): EventMessage {
  return {
    id: row.id.toString(),
    type: row.type,
    merchantId: row.merchant_id,
    objectId: row.object_id,
    occurredAt: row.occurred_at.toISOString(),
    data: row.payload,
  };
}

/** A merchant's events after `afterId`, in order, from the durable event log. */
export async function readEventLog(db: Db, merchantId: string, afterId: bigint, limit = 500): Promise<EventMessage[]> {
  const rows = await db.$queryRawUnsafe<EventRow[]>(
    `SELECT id, merchant_id, type, topic, object_id, payload, occurred_at FROM events
     WHERE merchant_id = $1 AND id > $2::bigint ORDER BY id LIMIT $3`,
    merchantId,
    afterId.toString(),
    limit,
  );
  return rows.map(toMessage);
}

/**
 * Publishes committed outbox events and marks them sent. Runs when kicked after a commit and on a
 * timer (catching events left by a Redis outage or written by another process, such as the CLI).
 * Rows are claimed with SKIP LOCKED, so several instances never publish the same event together.
 */
export class OutboxRelay {
  #running: Promise<void> | null = null;
  #again = false;
  #timer: NodeJS.Timeout | null = null;
  #lastPrune = 0;

  constructor(
    private readonly prisma: Prisma,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly options: { pollMs: number; retentionHours: number },
  ) {}

  start(): void {
    this.#timer = setInterval(() => this.kick(), this.options.pollMs);
    this.#timer.unref();
    this.kick();
  }

  /** Asks for a publishing round soon; rounds never overlap. */
  kick(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = null;
    });
  }

  /** Waits until every event committed so far has been attempted once more. */
  async flush(): Promise<void> {
    this.kick();
    while (this.#running) await this.#running;
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    while (this.#running) await this.#running;
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      try {
        while ((await this.publishBatch()) > 0) this.#again = false;
        await this.#prune();
      } catch (error) {
        this.logger.warn({ err: (error as Error).message }, 'outbox relay round failed; events stay queued');
        return;
      }
    } while (this.#again);
  }

  /** Publishes up to one batch; answers how many events were published. */
  async publishBatch(limit = 200): Promise<number> {
    return this.prisma.$transaction(async (tx) => {
      const rows = await tx.$queryRawUnsafe<EventRow[]>(
        `SELECT id, merchant_id, type, topic, object_id, payload, occurred_at FROM events
         WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        limit,
      );
      for (const row of rows) {
        const message = toMessage(row);
        await this.bus.publish(row.topic, row.object_id, message);
        await this.bus.publish(MERCHANT_STREAM, row.merchant_id, message);
      }
      if (rows.length > 0) {
        await tx.$executeRawUnsafe(
          `UPDATE events SET published_at = now() WHERE id = ANY($1::bigint[])`,
          rows.map((row) => row.id.toString()),
        );
      }
      return rows.length;
    });
  }

  async #prune(): Promise<void> {
    if (Date.now() - this.#lastPrune < 60_000) return;
    this.#lastPrune = Date.now();
    await this.prisma.$executeRawUnsafe(
      `DELETE FROM events WHERE published_at IS NOT NULL AND occurred_at < now() - make_interval(hours => $1)`,
      this.options.retentionHours,
    );
  }
}
