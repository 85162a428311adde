import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { Config } from '../config.ts';
import { PrismaClient } from '../generated/prisma/client.ts';
import { migrate, type SqlExecutor } from './migrate.ts';
import { pgliteSql, pgSql, type SqlDatabase } from './sql.ts';

export type Prisma = PrismaClient;
/** A Prisma client or an interactive transaction: what services take as their database handle. */
export type Db = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>;

export interface Database {
  prisma: PrismaClient;
  /** Raw SQL on the same database, and raw transactions, for hot paths (see Sql). */
  sql: SqlDatabase;
  kind: 'pglite' | 'postgres';
  /** Throws when the database cannot answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class DataDirLockedError extends Error {
  constructor(dir: string, pid: number) {
    super(
      `The embedded database in ${dir} is in use by process ${pid} (a running server?). ` +
        'Stop it first, or point DATABASE_URL at a PostgreSQL server that several processes can share.',
    );
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PGlite is single-process: two processes opening one data folder would corrupt it. A lock file
 * holding the owner's pid keeps a second one out; a lock left by a dead process is taken over.
 */
function lockDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const lockFile = path.join(dir, 'platform.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number.parseInt(readFileSync(lockFile, 'utf8'), 10);
      if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) throw new DataDirLockedError(dir, owner);
      rmSync(lockFile, { force: true });
    }
  }
  throw new Error(`Could not lock ${dir}`);
}

/**
 * pglite-prisma-adapter 0.6 (the line for Prisma 6) bundles an older copy of Prisma's adapter
 * types; the runtime contract is the same, so only the type is bridged.
 */
export const pgliteAdapter = (pglite: PGlite) => new PrismaPGlite(pglite) as unknown as SqlDriverAdapterFactory;

async function openPglite(dataDir: string): Promise<Database> {
  const inMemory = dataDir.startsWith('memory://');
  const unlock = inMemory ? () => {} : lockDataDir(path.resolve(dataDir));
  try {
    return await pgliteDatabase(inMemory ? new PGlite() : new PGlite(path.resolve(dataDir, 'pg')), unlock);
  } catch (error) {
    unlock();
    throw error;
  }
}

const migratePglite = (pglite: PGlite) =>
  migrate({
    exec: async (sql) => void (await pglite.exec(sql)),
    query: async <T>(sql: string, params?: unknown[]) => (await pglite.query<T>(sql, params)).rows,
  });

async function pgliteDatabase(pglite: PGlite, unlock: () => void): Promise<Database> {
  await pglite.waitReady;
  await migratePglite(pglite);
  const prisma = new PrismaClient({ adapter: pgliteAdapter(pglite) });
  return {
    prisma,
    sql: pgliteSql(pglite),
    kind: 'pglite',
    ping: async () => void (await pglite.query('SELECT 1')),
    close: async () => {
      await prisma.$disconnect();
      await pglite.close();
      unlock();
    },
  };
}

/**
 * A new embedded database holding every migration, as a PGlite data-directory dump: creating one
 * from nothing (initdb, then the migrations) takes seconds, loading a dump a fraction of that.
 */
export async function migratedPgliteSnapshot(): Promise<Blob> {
  const pglite = new PGlite();
  try {
    await pglite.waitReady;
    await migratePglite(pglite);
    return await pglite.dumpDataDir('none');
  } finally {
    await pglite.close();
  }
}

/** An in-memory embedded database started from a snapshot (see migratedPgliteSnapshot), migrated if it is behind. */
export function openPgliteSnapshot(snapshot: Blob): Promise<Database> {
  return pgliteDatabase(new PGlite({ loadDataDir: snapshot }), () => {});
}

export async function withPgClient<T>(url: string, fn: (sql: SqlExecutor) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn({
      exec: async (sql) => void (await client.query(sql)),
      query: async <R>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as R[],
    });
  } finally {
    await client.end();
  }
}

async function openPostgres(url: string, poolSize: number): Promise<Database> {
  await withPgClient(url, migrate);
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // An idle client's error (server restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    prisma,
    sql: pgSql(pool, pg.types),
    kind: 'postgres',
    ping: async () => void (await pool.query('SELECT 1')),
    close: async () => {
      await prisma.$disconnect();
      await pool.end().catch(() => {});
    },
  };
}

/** Opens the configured database and applies pending migrations first. */
export function openDatabase(config: Pick<Config, 'DATABASE_URL' | 'DATA_DIR' | 'DATABASE_POOL_SIZE'>): Promise<Database> {
  return config.DATABASE_URL
    ? openPostgres(config.DATABASE_URL, config.DATABASE_POOL_SIZE)
    : openPglite(config.DATA_DIR);
}
