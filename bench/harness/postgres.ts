/**
 * PostgreSQL for a run: a database of its own (created, then dropped), and the tables of the raw
 * `pg` baselines, which stand for the least SQL that does the same writes as the API.
 */
import pg from 'pg';

/** Where the raw baselines go when DATABASE_URL is unset (the services of the project's machines). */
export const DEFAULT_POSTGRES_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

export async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export interface BenchDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh database on the server of `serverUrl`, named after this process; dropped by `drop()`. */
export async function createBenchDatabase(serverUrl: string): Promise<BenchDatabase> {
  const name = `payments_bench_${process.pid}`;
  await withClient(serverUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${name}`);
  });
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => withClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

/** Raw group 0 holds the hot pocket 0; group 1 holds pockets 1…pool. */
export const RAW_HOT_GROUP = 0;
export const RAW_HOT_POCKET = 0;
export const RAW_POOL_GROUP = 1;
export const RAW_POOL_FIRST = 1;

/** The raw baselines' tables: columns like the API's rows (token, group, pocket, amount, status, time). */
export async function createRawTables(url: string, poolPockets: number, cap: bigint): Promise<void> {
  await withClient(url, async (client) => {
    await client.query(`
      CREATE TABLE bench_raw_groups (id int PRIMARY KEY, spent bigint NOT NULL DEFAULT 0, cap bigint NOT NULL);
      CREATE TABLE bench_raw_pockets (id int PRIMARY KEY, group_id int NOT NULL REFERENCES bench_raw_groups,
                                      balance bigint NOT NULL DEFAULT 0, cap bigint NOT NULL);
      CREATE TABLE bench_raw_charges (token text PRIMARY KEY, group_id int NOT NULL, pocket_id int NOT NULL,
                                      amount bigint NOT NULL, status text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
      CREATE INDEX bench_raw_charges_pocket ON bench_raw_charges (pocket_id);`);
    await client.query('INSERT INTO bench_raw_groups (id, cap) VALUES ($1, $3), ($2, $3)', [RAW_HOT_GROUP, RAW_POOL_GROUP, cap.toString()]);
    await client.query(
      `INSERT INTO bench_raw_pockets (id, group_id, cap)
       SELECT $1::int, $2::int, $5::bigint UNION ALL SELECT g, $3::int, $5::bigint FROM generate_series($4::int, $4::int + $6::int - 1) AS g`,
      [RAW_HOT_POCKET, RAW_HOT_GROUP, RAW_POOL_GROUP, RAW_POOL_FIRST, cap.toString(), poolPockets],
    );
  });
}

export interface RawTotals {
  hotBalance: bigint;
  poolBalances: bigint;
  poolSpent: bigint;
  poolCharges: bigint;
}

export function rawTotals(url: string): Promise<RawTotals> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ hot: string; balances: string; spent: string; charges: string }>(
      `SELECT (SELECT balance FROM bench_raw_pockets WHERE id = $1) AS hot,
              (SELECT coalesce(sum(balance), 0) FROM bench_raw_pockets WHERE group_id = $2) AS balances,
              (SELECT spent FROM bench_raw_groups WHERE id = $2) AS spent,
              (SELECT count(*) FROM bench_raw_charges WHERE group_id = $2) AS charges`,
      [RAW_HOT_POCKET, RAW_POOL_GROUP],
    );
    const row = rows[0]!;
    return { hotBalance: BigInt(row.hot), poolBalances: BigInt(row.balances), poolSpent: BigInt(row.spent), poolCharges: BigInt(row.charges) };
  });
}
