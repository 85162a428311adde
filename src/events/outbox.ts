import type { Db } from '../db/database.ts';
import type { Sql, SqlDatabase } from '../db/sql.ts';
import { WriteBatch } from '../db/write-batch.ts';
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

/**
 * Writes events to the outbox inside the caller's transaction, so they commit with the change; into
 * a WriteBatch, with the batch's other writes.
 */
export async function recordEvents(db: Sql | WriteBatch, events: NewEvent[], now = new Date()): Promise<void> {
  if (events.length === 0) return;
  const statement = [
    `INSERT INTO events (merchant_id, type, topic, object_id, payload, occurred_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::timestamptz[])`,
    events.map((e) => e.merchantId),
    events.map((e) => e.type),
    events.map((e) => e.topic),
    events.map((e) => e.objectId),
    events.map((e) => JSON.stringify(e.data ?? {})),
    events.map(() => now.toISOString()),
  ] as const;
  if (db instanceof WriteBatch) db.add(...statement);
  else await db.$executeRawUnsafe(...statement);
}

export interface EventRow {
  seq: bigint;
  merchant_id: string;
  type: string;
  topic: string;
  object_id: string;
  payload: Record<string, unknown>;
  occurred_at: Date;
}

export function toMessage(row: EventRow): EventMessage {
  return {
    id: row.seq.toString(),
    type: row.type,
    merchantId: row.merchant_id,
    objectId: row.object_id,
    occurredAt: row.occurred_at.toISOString(),
    data: row.payload,
  };
}

/** A merchant's published events after stream position `afterSeq`, in order, from the durable event log. */
export async function readEventLog(db: Db, merchantId: string, afterSeq: bigint, limit = 500): Promise<EventMessage[]> {
  const rows = await db.$queryRawUnsafe<EventRow[]>(
    `SELECT seq, merchant_id, type, topic, object_id, payload, occurred_at FROM events
     WHERE merchant_id = $1 AND seq > $2::bigint ORDER BY seq LIMIT $3`,
    merchantId,
    afterSeq.toString(),
    limit,
  );
  return rows.map(toMessage);
}

/**
 * The merchant's last numbered stream position, or null. An event committed but not numbered yet
 * is numbered later, so it lands after this position: `events(after:)` from here misses nothing.
 */
export async function latestEventId(db: Db, merchantId: string): Promise<string | null> {
  const [row] = await db.$queryRawUnsafe<{ seq: bigint | null }[]>(`SELECT max(seq) AS seq FROM events WHERE merchant_id = $1`, merchantId);
  return row?.seq == null ? null : row.seq.toString();
}

/**
 * Publishes committed outbox events and marks them sent. Runs when kicked after a commit and on a
 * timer (catching events left by a Redis outage or written by another process, such as the CLI).
 * Delivery is at least once: if the commit after a publish fails, the batch is published again.
 */
const PUBLISH_BATCH = 200;

export class OutboxRelay {
  #running: Promise<void> | null = null;
  #again = false;
  #timer: NodeJS.Timeout | null = null;
  #lastPrune = 0;

  constructor(
    /** Raw transactions: the relay runs after every commit, so its statements should cost little. */
    private readonly sql: SqlDatabase,
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
        // A batch short of the limit emptied the queue; whatever was committed since kicked again.
        while ((await this.publishBatch()) === PUBLISH_BATCH) this.#again = false;
        await this.#prune();
      } catch (error) {
        this.logger.warn({ err: (error as Error).message }, 'outbox relay round failed; events stay queued');
        return;
      }
    } while (this.#again);
  }

  /**
   * Numbers, then publishes, up to one batch; answers how many events were published.
   * Numbering commits first: stream positions are handed out under the cursor row's lock, in one
   * order for every instance, and are durable before any subscriber sees them, so one who resumes
   * after position N finds everything later in the log. Publishing then takes the same lock, so
   * instances publish in position order; a batch whose marking fails is published again under the
   * same positions, which subscribers drop as repeats.
   */
  async publishBatch(limit = PUBLISH_BATCH): Promise<number> {
    await this.sql.transaction(async (tx) => {
      const [cursor] = await tx.$queryRawUnsafe<{ last_seq: bigint }[]>(
        `INSERT INTO event_cursor (id, last_seq) VALUES (1, 0)
         ON CONFLICT (id) DO UPDATE SET last_seq = event_cursor.last_seq RETURNING last_seq`,
      );
      const unnumbered = await tx.$queryRawUnsafe<{ id: bigint }[]>(
        `SELECT id FROM events WHERE seq IS NULL ORDER BY id LIMIT $1`,
        limit,
      );
      if (unnumbered.length === 0) return;
      const last = cursor!.last_seq + BigInt(unnumbered.length);
      const writes = new WriteBatch();
      writes.add(
        `UPDATE events AS e SET seq = v.seq
         FROM unnest($1::bigint[], $2::bigint[]) AS v(id, seq) WHERE e.id = v.id`,
        unnumbered.map((row) => row.id.toString()),
        unnumbered.map((_, index) => (cursor!.last_seq + BigInt(index + 1)).toString()),
      );
      writes.add(`UPDATE event_cursor SET last_seq = $1::bigint WHERE id = 1`, last.toString());
      await writes.run(tx);
    });
    return this.sql.transaction(async (tx) => {
      await tx.$queryRawUnsafe(`SELECT last_seq FROM event_cursor WHERE id = 1 FOR UPDATE`);
      const rows = await tx.$queryRawUnsafe<EventRow[]>(
        `SELECT seq, merchant_id, type, topic, object_id, payload, occurred_at FROM events
         WHERE seq IS NOT NULL AND published_at IS NULL ORDER BY seq LIMIT $1`,
        limit,
      );
      // Sent back to back (pipelined on Redis's one publishing connection, so in order), then
      // awaited together: one failure leaves the whole batch unmarked, to be published again.
      await Promise.all(
        rows.flatMap((row) => {
          const message = toMessage(row);
          return [this.bus.publish(row.topic, row.object_id, message), this.bus.publish(MERCHANT_STREAM, row.merchant_id, message)];
        }),
      );
      if (rows.length > 0) {
        await tx.$executeRawUnsafe(
          `UPDATE events SET published_at = now() WHERE seq = ANY($1::bigint[])`,
          rows.map((row) => row.seq.toString()),
        );
      }
      return rows.length;
    });
  }

  async #prune(): Promise<void> {
    if (Date.now() - this.#lastPrune < 60_000) return;
    this.#lastPrune = Date.now();
    await this.sql.$executeRawUnsafe(
      `DELETE FROM events WHERE published_at IS NOT NULL AND occurred_at < now() - make_interval(hours => $1)`,
      this.options.retentionHours,
    );
  }
}
