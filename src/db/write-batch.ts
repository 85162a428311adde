import type { Sql } from './sql.ts';

/**
 * Write statements of one transaction sent to the database together, as one statement of
 * data-modifying WITH queries: one round trip instead of one per statement, which matters most
 * while the transaction holds a lock others wait for (a busy ledger account).
 *
 * Added statements must not need one another's effects (they share one snapshot), nor change the
 * same row twice, and take their values as numbered parameters (`$1`…), never written inline with
 * a `$` followed by a digit. Reads in the transaction do not see them until `run`.
 */
export class WriteBatch {
  readonly #statements: { sql: string; params: unknown[] }[] = [];

  add(sql: string, ...params: unknown[]): void {
    this.#statements.push({ sql, params });
  }

  /** Sends every statement added, in one round trip, and empties the batch. */
  async run(db: Sql): Promise<void> {
    const statements = this.#statements.splice(0);
    if (statements.length === 0) return;
    if (statements.length === 1) {
      await db.$executeRawUnsafe(statements[0]!.sql, ...statements[0]!.params);
      return;
    }
    const params: unknown[] = [];
    const parts = statements.map((statement, i) => {
      const offset = params.length;
      params.push(...statement.params);
      return `w${i} AS (${statement.sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`)})`;
    });
    await db.$executeRawUnsafe(`WITH ${parts.join(',\n')}\nSELECT 1`, ...params);
  }
}
