import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The smallest SQL surface that both PGlite and a pg client offer. */
export interface SqlExecutor {
  exec(sql: string): Promise<void>;
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
}

export const migrationsDir = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));

// Prisma's own advisory lock id, so `prisma migrate` and this runner never run together.
const MIGRATION_LOCK = 72707369;

/**
 * Applies pending migrations from prisma/migrations in order, recording them in Prisma's own
 * `_prisma_migrations` table (same columns and checksums), so `prisma migrate status` agrees.
 * Prisma's migrate engine is not used at run time: it cannot deserialize PostgreSQL's `name`
 * type through the pg adapter (prisma/orm#27403) and it would need a second PGlite handle.
 */
export async function migrate(sql: SqlExecutor): Promise<string[]> {
  const entries = (await readdir(migrationsDir, { withFileTypes: true }))
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
  await sql.exec(`SELECT pg_advisory_lock(${MIGRATION_LOCK})`);
  try {
    await sql.exec(`CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
      "id" VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum" VARCHAR(64) NOT NULL,
      "finished_at" TIMESTAMPTZ,
      "migration_name" VARCHAR(255) NOT NULL,
      "logs" TEXT,
      "rolled_back_at" TIMESTAMPTZ,
      "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0)`);
    const applied = await sql.query<{ migration_name: string; checksum: string }>(
      `SELECT migration_name, checksum FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
    );
    const appliedByName = new Map(applied.map((row) => [row.migration_name, row.checksum]));
    const done: string[] = [];
    for (const name of entries) {
      const script = await readFile(path.join(migrationsDir, name, 'migration.sql'), 'utf8');
      const checksum = createHash('sha256').update(script).digest('hex');
      const known = appliedByName.get(name);
      if (known !== undefined) {
        if (known !== checksum) {
          throw new Error(`Migration ${name} was changed after it was applied (checksum mismatch).`);
        }
        continue;
      }
      await sql.exec('BEGIN');
      try {
        await sql.exec(script);
        await sql.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, applied_steps_count)
           VALUES ($1, $2, now(), $3, 1)`,
          [randomUUID(), checksum, name],
        );
        await sql.exec('COMMIT');
      } catch (error) {
        await sql.exec('ROLLBACK');
        throw new Error(`Migration ${name} failed: ${(error as Error).message}`);
      }
      done.push(name);
    }
    return done;
  } finally {
    await sql.exec(`SELECT pg_advisory_unlock(${MIGRATION_LOCK})`);
  }
}
