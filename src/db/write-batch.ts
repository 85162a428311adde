import type { Sql } from './sql.ts';

/**
 * Write statements of one transaction sent to the database together, as one statement of
 * data-modifying WITH queries: one round trip instead of one per statement, which matters most
 * while the transaction holds a lock others wait for (a busy ledger account). Being one
 * statement, the batch applies all or nothing even outside a transaction.
 *
 * Added statements must not need one another's effects (they share one snapshot), nor change the
 * same row twice, nor return rows, and take their values as numbered parameters (`$1`…), never
 * written inline with a `$` followed by a digit. Reads in the transaction do not see them until `run`.
 */
export class WriteBatch {
  readonly #statements: { sql: string; params: unknown[] }[] = [];
  #last: { sql: string; params: unknown[] } | null = null;

  add(sql: string, ...params: unknown[]): void {
    this.#statements.push({ sql, params });
  }

  /**
   * Sets the statement that runs once every added one has written (rows and index entries): a
   * `WITH … SELECT` whose first reader of the batch's writes reads `written`, a one-row CTE
   * (`rows`, their count) that exists only after them. So it can lock rows without holding them
   * while the other writes wait on a unique index, and raise an error that undoes the whole batch.
   */
  last(sql: string, ...params: unknown[]): void {
    if (!/^\s*WITH\s/i.test(sql)) throw new Error('the last statement of a write batch is a WITH query');
    this.#last = { sql, params };
  }

  /** Sends every statement added, in one round trip, and empties the batch. */
  async run(db: Sql): Promise<void> {
    const statements = this.#statements.splice(0);
    const last = this.#last;
    this.#last = null;
    if (!last && statements.length <= 1) {
      if (statements[0]) await db.$executeRawUnsafe(statements[0].sql, ...statements[0].params);
      return;
    }
    const params: unknown[] = [];
    const renumbered = (statement: { sql: string; params: unknown[] }) => {
      const offset = params.length;
      params.push(...statement.params);
      return statement.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`);
    };
    const parts = statements.map((statement, i) => `w${i} AS (${renumbered(statement)}${last ? '\nRETURNING 1' : ''})`);
    if (!last) {
      await db.$executeRawUnsafe(`WITH ${parts.join(',\n')}\nSELECT 1`, ...params);
      return;
    }
    const counts = statements.map((_, i) => `(SELECT count(*) FROM w${i})`).join(' + ') || '0';
    parts.push(`written AS MATERIALIZED (SELECT ${counts} AS rows)`);
    await db.$queryRawUnsafe(`WITH ${parts.join(',\n')},\n${renumbered(last).replace(/^\s*WITH\s+/i, '')}`, ...params);
  }
}
