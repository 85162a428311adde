import { jsonDocuments, type Sql, type SqlDatabase } from '../db/sql.ts';
import { WriteBatch } from '../db/write-batch.ts';
import type { Logger } from '../logger.ts';
import { runEvents, type EventBus, type EventMessage, type EventRun } from './bus.ts';

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
 * a WriteBatch, with the batch's other writes. One row per event.
 */
export async function recordEvents(db: Sql | WriteBatch, events: NewEvent[], now = new Date()): Promise<void> {
  if (events.length === 0) return;
  await insertEvents(db, events.map((event) => ({ ...event, size: 1, payload: event.data ?? {} })), now);
}

/** Events of one type on one topic, written together: a batch's charges. */
export interface NewEventGroup {
  merchantId: string;
  type: string;
  topic: string;
  events: { objectId: string; data?: Record<string, unknown> }[];
}

/**
 * Writes a group of events as one row, which the relay numbers with consecutive positions and
 * publishes as so many events: a batch of a thousand charges inserts one row and its index
 * entries, where recordEvents would insert a thousand. Subscribers and `events(after:)` see the
 * same events either way.
 */
export async function recordEventGroup(db: Sql | WriteBatch, group: NewEventGroup, now = new Date()): Promise<void> {
  const { events, ...common } = group;
  if (events.length <= 1) return recordEvents(db, events.map((event) => ({ ...common, ...event })), now);
  const payload = events.map((event) => ({ objectId: event.objectId, data: event.data ?? {} }));
  await insertEvents(db, [{ ...common, objectId: null, size: events.length, payload }], now);
}

interface EventInsert {
  merchantId: string;
  type: string;
  topic: string;
  objectId: string | null;
  size: number;
  payload: unknown;
}

/**
 * The payloads travel as JSON documents (see jsonDocuments): as elements of a `json[]` they would
 * be escaped into the array's text and read back from it first (3 ms of the database's time for a
 * batch of 1,000 charges).
 */
async function insertEvents(db: Sql | WriteBatch, rows: EventInsert[], now: Date): Promise<void> {
  const payloads = jsonDocuments(6, 'p', 'payload', rows.map((e) => e.payload));
  const statement = [
    `INSERT INTO events (merchant_id, type, topic, object_id, size, payload, occurred_at)
     SELECT v.merchant_id, v.type, v.topic, v.object_id, v.size, p.payload, $7::timestamptz
     FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[]) WITH ORDINALITY AS v(merchant_id, type, topic, object_id, size, n)
     JOIN ${payloads.from} USING (n)
     ORDER BY n`,
    rows.map((e) => e.merchantId),
    rows.map((e) => e.type),
    rows.map((e) => e.topic),
    rows.map((e) => e.objectId),
    rows.map((e) => e.size),
    payloads.value,
    now.toISOString(),
  ] as const;
  if (db instanceof WriteBatch) db.add(...statement);
  else await db.$executeRawUnsafe(...statement);
}

export interface EventRow {
  seq: bigint;
  size: number;
  merchant_id: string;
  type: string;
  topic: string;
  object_id: string | null;
  payload: unknown;
  occurred_at: Date;
}

const EVENT_COLUMNS = 'seq, size, merchant_id, type, topic, object_id, payload, occurred_at';

/** A numbered row as the bus carries it, its payload as read (parsed, or JSON text: see RELAYED_COLUMNS). */
function runOf(row: EventRow): EventRun<unknown> {
  return {
    seq: row.seq.toString(),
    size: row.size,
    merchantId: row.merchant_id,
    type: row.type,
    topic: row.topic,
    objectId: row.object_id,
    occurredAt: row.occurred_at.toISOString(),
    payload: row.payload,
  };
}

/**
 * A merchant's published events after stream position `afterSeq`, in order, from the durable event
 * log: at most `limit`, starting inside the row that holds position afterSeq + 1 when there is one,
 * and reading no more rows than those events need.
 */
export async function readEventLog(db: Sql, merchantId: string, afterSeq: bigint, limit = 500): Promise<EventMessage[]> {
  const rows = await db.$queryRawUnsafe<EventRow[]>(
    `SELECT * FROM (
       SELECT ${EVENT_COLUMNS} FROM events WHERE merchant_id = $1 AND seq <= $2::bigint ORDER BY seq DESC LIMIT 1
     ) AS holding WHERE seq + size - 1 > $2::bigint
     UNION ALL
     SELECT ${EVENT_COLUMNS} FROM (
       SELECT ${EVENT_COLUMNS}, sum(size) OVER (ORDER BY seq) - size AS before
       FROM (SELECT ${EVENT_COLUMNS} FROM events WHERE merchant_id = $1 AND seq > $2::bigint ORDER BY seq LIMIT $3) AS next
     ) AS enough WHERE before < $3
     ORDER BY seq`,
    merchantId,
    afterSeq.toString(),
    limit,
  );
  return rows
    .flatMap((row) => runEvents(runOf(row)))
    .filter((message) => BigInt(message.id) > afterSeq)
    .slice(0, limit);
}

/**
 * The merchant's last numbered stream position, or null before the first. An event committed but
 * not numbered yet is numbered later, so it lands after this position: `events(after:)` from here
 * misses nothing.
 */
export async function streamPosition(db: Sql, merchantId: string): Promise<bigint | null> {
  const [row] = await db.$queryRawUnsafe<{ position: bigint }[]>(
    `SELECT seq + size - 1 AS position FROM events WHERE merchant_id = $1 AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1`,
    merchantId,
  );
  return row?.position ?? null;
}

/**
 * The events a round publishes at most (and the rows it numbers): five batches of 1,000 charges, or
 * 5,000 single events, about a megabyte of JSON. A relay that fell behind catches up that fast.
 */
const PUBLISH_BATCH = 5000;

/** The relay's columns: the payload as the JSON text it is, which goes to the bus unparsed. */
const RELAYED_COLUMNS = EVENT_COLUMNS.replace('payload', 'payload::text AS payload');

export interface RelayOptions {
  pollMs: number;
  retentionHours: number;
  /**
   * How long after its insert an event's transaction may commit and still be numbered by the next
   * round (10 s, or 5 polls if longer); one that commits later waits for a full scan (see OutboxRelay.round).
   */
  lateCommitMs?: number;
  /** How often a round looks at every unnumbered event, however late its transaction committed (a minute, or two lateCommitMs). */
  fullScanMs?: number;
}

/**
 * Numbers committed outbox events and publishes them. Runs when kicked after a commit and on a
 * timer (catching events left by a Redis outage or written by another process, such as the CLI).
 * Delivery is at least once: if the commit after a publish fails, the batch is published again.
 */
export class OutboxRelay {
  #running: Promise<void> | null = null;
  #again = false;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  #lastPrune = 0;
  /** The highest event id each recent round numbered, oldest first, with when it did. */
  #numbered: { at: number; id: bigint }[] = [];
  /** Below this id, every event committed in time was numbered (see round). */
  #settled = 0n;
  #lastFullScan = 0;
  #fullScanAsked = false;
  readonly #lateCommitMs: number;
  readonly #fullScanMs: number;

  constructor(
    /** Raw transactions: the relay runs after every commit, so its statements should cost little. */
    private readonly sql: SqlDatabase,
    private readonly bus: EventBus,
    private readonly logger: Logger,
    private readonly options: RelayOptions,
  ) {
    // Rounds run at least every pollMs: an event committed in time meets one before the floor passes it.
    this.#lateCommitMs = options.lateCommitMs ?? Math.max(10_000, 5 * options.pollMs);
    this.#fullScanMs = options.fullScanMs ?? Math.max(60_000, 2 * this.#lateCommitMs);
  }

  start(): void {
    this.#stopped = false;
    this.#timer = setInterval(() => this.kick(), this.options.pollMs);
    this.#timer.unref();
    this.kick();
  }

  /** Asks for a publishing round soon; rounds never overlap. Once stopped, until started again, nothing. */
  kick(): void {
    if (this.#stopped) return;
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
    this.#fullScanAsked = true;
    this.kick();
    while (this.#running) await this.#running;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    while (this.#running) await this.#running;
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      try {
        // A round that numbered events publishes them in the next; one that published its most
        // may have left more. Whatever was committed since kicked again. A relay that is stopping
        // leaves the rest to the next to start (or to another instance).
        while (!this.#stopped) {
          const { numbered, more } = await this.round();
          if (numbered === 0 && !more) break;
          this.#again = false;
        }
        await this.#prune();
      } catch (error) {
        this.logger.warn({ err: (error as Error).message }, 'outbox relay round failed; events stay queued');
        return;
      }
    } while (this.#again);
  }

  /**
   * One transaction holding the cursor row's lock, so that instances take rounds one at a time:
   * it publishes, in position order, about `limit` events numbered by earlier rounds (so their
   * positions are durable before any subscriber sees them, and one who resumes after position N
   * finds everything later in the log), and numbers up to `limit` rows committed since, in insert
   * order, for the next round to publish. A round whose publishing fails (Redis down)
   * changes nothing; one whose commit fails after publishing has its batch published again under
   * the same positions, which subscribers drop as repeats.
   *
   * Unnumbered events are found through a partial index, which keeps an entry for every event
   * numbered since the table was last vacuumed: walked from its start, it costs more the more was
   * numbered lately. So a round walks it from the highest id numbered at least `lateCommitMs` ago.
   * An event below that was inserted before that id was numbered and committed `lateCommitMs` or
   * more after its insert; a full scan, every `fullScanMs` and on flush, numbers it then.
   */
  async round(limit = PUBLISH_BATCH): Promise<{ published: number; numbered: number; more: boolean }> {
    const after = this.#floor(Date.now());
    const result = await this.sql.transaction(async (tx) => {
      // A statement of its own: the next one's snapshot then holds every round committed before the lock.
      const [cursor] = await tx.$queryRawUnsafe<{ last_seq: bigint; published_seq: bigint }[]>(
        `INSERT INTO event_cursor (id, last_seq, published_seq) VALUES (1, 0, 0)
         ON CONFLICT (id) DO UPDATE SET last_seq = event_cursor.last_seq RETURNING last_seq, published_seq`,
      );
      // Reads what to publish, numbers what came since and moves the cursor past both. Positions
      // are consecutive: fewer positions read than to publish only when the rest were pruned. A
      // row of several events takes as many positions; a round publishes the rows (at most
      // `limit`) whose events start within its first `limit` events. Only those rows' payloads are
      // read: reading every waiting row's made a round cost more the further the relay had fallen
      // behind, so that under sustained load it fell further behind still.
      const rows = await tx.$queryRawUnsafe<(Partial<EventRow> & { numbered: bigint; last_id: bigint | null; more: boolean })[]>(
        `WITH read AS (
           SELECT seq, size, sum(size) OVER (ORDER BY seq) - size AS before
           FROM (SELECT seq, size FROM events WHERE seq > $3::bigint AND seq <= $2::bigint ORDER BY seq LIMIT $1) AS r),
         due AS (SELECT seq, size FROM read WHERE before < $1),
         next AS (
           SELECT id, size, sum(size) OVER (ORDER BY id) AS upto
           FROM (SELECT id, size FROM events WHERE seq IS NULL AND id > $4::bigint ORDER BY id LIMIT $1) AS n),
         numbered AS (
           UPDATE events AS e SET seq = $2::bigint + next.upto - next.size + 1 FROM next WHERE e.id = next.id RETURNING e.id, e.size),
         counts AS (
           SELECT (SELECT count(*) FROM numbered) AS numbered, (SELECT coalesce(sum(size), 0) FROM numbered) AS positions,
             (SELECT max(id) FROM numbered) AS last_id,
             (SELECT count(*) FROM read) = $1 OR (SELECT count(*) FROM read) > (SELECT count(*) FROM due) AS more,
             (SELECT max(seq + size - 1) FROM due) AS due_end),
         moved AS (
           UPDATE event_cursor SET last_seq = $2::bigint + counts.positions,
             published_seq = CASE WHEN counts.more THEN counts.due_end ELSE $2::bigint END
           FROM counts WHERE id = 1 AND (counts.numbered > 0 OR $3::bigint < $2::bigint)
           RETURNING 1)
         SELECT ${RELAYED_COLUMNS}, counts.numbered, counts.last_id, counts.more
         FROM counts LEFT JOIN (due JOIN events USING (seq, size)) ON true WHERE (SELECT count(*) FROM moved) >= 0 ORDER BY seq`,
        limit,
        cursor!.last_seq.toString(),
        cursor!.published_seq.toString(),
        after.toString(),
      );
      const due = rows.filter((row): row is EventRow & { numbered: bigint; last_id: bigint | null; more: boolean } => row.seq != null);
      // Their payloads were read as JSON text (RELAYED_COLUMNS), and are published as they are.
      if (due.length > 0) await this.bus.publish(due.map(runOf) as EventRun[]);
      const published = due.reduce((sum, row) => sum + row.size, 0);
      const numbered = Number(rows[0]?.numbered ?? 0n);
      // Positions must be durable before anyone sees them; the published position need not: lost
      // in a crash, it only has the same events published again. So a round that numbered nothing
      // does not wait for its commit to reach the disk, where batches' commits wait their turn.
      if (numbered === 0) await tx.$executeRawUnsafe(`SET LOCAL synchronous_commit = off`);
      return { published, more: rows[0]?.more ?? false, numbered, lastId: rows[0]?.last_id ?? null };
    });
    if (result.lastId !== null) this.#numbered.push({ at: Date.now(), id: result.lastId });
    return { published: result.published, numbered: result.numbered, more: result.more };
  }

  /** The id after which this round looks for unnumbered events: 0 for a full scan. */
  #floor(now: number): bigint {
    while (this.#numbered.length > 0 && now - this.#numbered[0]!.at >= this.#lateCommitMs) {
      const { id } = this.#numbered.shift()!;
      if (id > this.#settled) this.#settled = id;
    }
    if (!this.#fullScanAsked && now - this.#lastFullScan < this.#fullScanMs) return this.#settled;
    this.#fullScanAsked = false;
    this.#lastFullScan = now;
    return 0n;
  }

  async #prune(): Promise<void> {
    if (Date.now() - this.#lastPrune < 60_000) return;
    this.#lastPrune = Date.now();
    // Up to the first published event, in position order, still within the retention: found by
    // walking the positions from the oldest, through the events this deletes, rather than by
    // reading the whole log. An older event numbered after a younger one waits for the next prune.
    await this.sql.$executeRawUnsafe(
      `WITH published AS (SELECT published_seq AS seq FROM event_cursor WHERE id = 1),
       kept AS (
         SELECT seq FROM events WHERE seq <= (SELECT seq FROM published) AND occurred_at >= now() - make_interval(hours => $1)
         ORDER BY seq LIMIT 1)
       DELETE FROM events WHERE seq < coalesce((SELECT seq FROM kept), (SELECT seq FROM published) + 1)`,
      this.options.retentionHours,
    );
  }
}
