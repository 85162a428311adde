import { createHash } from 'node:crypto';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import type pg from 'pg';

/**
 * Raw SQL on a database handle. A Prisma client or interactive transaction is one; so is a raw
 * transaction (`SqlDatabase.transaction`), which sends statements straight to the driver, without
 * the Prisma client's per-query work (its query compiler and interpreter), several times cheaper
 * per statement. Rows come back as Prisma's raw queries answer them: int8 as bigint, timestamps
 * as Date, JSON parsed.
 */
export interface Sql {
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
  $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number>;
}

export interface SqlDatabase extends Sql {
  /** Runs `fn` in one transaction (READ COMMITTED, as Prisma's): committed when it returns, rolled back when it throws. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>;
}

const TEXT = 25;
const INT8 = 20;
const INT8_ARRAY = 1016;
const parseInt8Array = (text: string): (bigint | null)[] =>
  text === '{}' ? [] : text.slice(1, -1).split(',').map((value) => (value === 'NULL' ? null : BigInt(value)));

/** pg's own parsers, but int8 (and int8[]) as bigint. */
function pgTypes(types: typeof pg.types): pg.CustomTypesConfig {
  return {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
      if (oid === INT8) return (value: string) => BigInt(value);
      if (oid === INT8_ARRAY) return parseInt8Array;
      return types.getTypeParser(oid, format);
    }) as pg.CustomTypesConfig['getTypeParser'],
  };
}

/**
 * Statements are prepared once per connection, under a name derived from their text: the server
 * then skips parsing and planning them again (what a multi-statement write costs most for a few
 * rows). Every statement's text is a fixed template with its values as parameters, so the names
 * are few.
 */
const statementNames = new Map<string, string>();
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    name = `s_${createHash('sha1').update(text).digest('hex')}`;
    if (statementNames.size < 10_000) statementNames.set(text, name);
  }
  return name;
}

/**
 * An array element escaped for an array literal: backslashes first, then quotes. A batch's JSON
 * documents hold thousands of quotes, and replaceAll is several times faster than a regular
 * expression (6 ms to 1.7 ms for the event and audit documents of 1,000 charges).
 */
const escapeElement = (value: string) => value.replaceAll('\\', '\\\\').replaceAll('"', '\\"');

/**
 * An array parameter as PostgreSQL's array literal, or null for a value that pg should encode
 * itself. Batches pass a column of thousands of strings per parameter, and pg's own encoder
 * escapes each element with two regular-expression replacements; here an element is escaped only
 * when it holds a quote or a backslash.
 */
export function arrayLiteral(values: readonly unknown[]): string | null {
  let literal = '{';
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (i > 0) literal += ',';
    if (value === null || value === undefined) literal += 'NULL';
    else if (typeof value === 'string') literal += value.includes('"') || value.includes('\\') ? `"${escapeElement(value)}"` : `"${value}"`;
    else if (typeof value === 'bigint' || (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') literal += String(value);
    else return null;
  }
  return `${literal}}`;
}

/** A column of rows written from arrays: its name, its type in the statement (`text`, `bigint`…), and its value in a row. */
export type UnnestColumn<Row> = readonly [name: string, type: string, value: (row: Row) => unknown];

export interface UnnestRows<Row> {
  /** `unnest(...)`, for `SELECT <select> FROM <unnest> AS v(<names>)`. */
  unnest: string;
  names: string;
  select: string;
  /** The statement's parameters for these rows, numbered from `$1`. */
  params(rows: readonly Row[]): unknown[];
}

/**
 * Rows written from one array per column, as `unnest` reads them. The first column (the ids) is
 * passed whole and sets the row count. Each other one is passed as two parameters: its values, or,
 * when they are all equal, an empty array (which `unnest` pads with NULLs) and the value alone,
 * read back with `coalesce`. A batch of a thousand charges from one funding account, in one
 * currency, at one time, sends each such column once instead of a thousand times, for PostgreSQL
 * to parse once.
 */
export function unnestRows<Row>(columns: readonly UnnestColumn<Row>[]): UnnestRows<Row> {
  const [[idName, idType, idOf], ...rest] = columns as [UnnestColumn<Row>, ...UnnestColumn<Row>[]];
  const param = (k: number) => `$${k + 1}`;
  return {
    unnest: `unnest(${[`${param(0)}::${idType}[]`, ...rest.map(([, type], i) => `${param(2 * i + 1)}::${type}[]`)].join(', ')})`,
    names: columns.map(([name]) => name).join(', '),
    select: [`v.${idName}`, ...rest.map(([name, type], i) => `coalesce(v.${name}, ${param(2 * i + 2)}::${type}) AS ${name}`)].join(', '),
    params: (rows) => {
      const params: unknown[] = [rows.map(idOf)];
      for (const [, , valueOf] of rest) {
        const values = rows.map(valueOf);
        const value = values[0];
        if (values.every((other) => other === value)) params.push([], value ?? null);
        else params.push(values, null);
      }
      return params;
    },
  };
}

/**
 * JSON documents sent as one parameter (`$param`), numbered from 1 in column `n`, as a FROM item
 * named `alias` with the document in `column`: several travel as one JSON array, split once by
 * `json_array_elements`, which parses them a second time after the parameter's own parsing; one
 * (a batch's event row, some 200 kB for a thousand charges) is taken as it is.
 */
export function jsonDocuments(param: number, alias: string, column: string, documents: readonly unknown[]): { from: string; value: string } {
  return documents.length === 1
    ? { from: `(SELECT $${param}::json AS ${column}, 1::bigint AS n) AS ${alias}`, value: JSON.stringify(documents[0]) }
    : { from: `json_array_elements($${param}::json) WITH ORDINALITY AS ${alias}(${column}, n)`, value: JSON.stringify(documents) };
}

/**
 * A `text[]` or `int8[]` parameter in PostgreSQL's binary array format, or null for values of
 * other kinds. pg sends a Buffer as a binary parameter, which the server reads element by element
 * (array_recv), where a literal is scanned character by character for quotes, escapes and commas
 * first (array_in). Reading the parameters of a batch of 1,000 charges took 2.8 ms of the
 * database's time, now 1.1 ms (most of it the batch's JSON documents).
 */
export function binaryArray(type: 'text' | 'bigint', values: readonly unknown[]): Buffer | null {
  const count = values.length;
  const sizes = new Array<number>(count);
  let size = count > 0 ? 20 : 12;
  let nulls = 0;
  for (let i = 0; i < count; i++) {
    const value = values[i];
    if (value === null || value === undefined) {
      sizes[i] = -1;
      nulls = 1;
    } else if (type === 'text' && typeof value === 'string') {
      sizes[i] = Buffer.byteLength(value);
    } else if (type === 'bigint' && (typeof value === 'bigint' || Number.isSafeInteger(value) || (typeof value === 'string' && INTEGER.test(value)))) {
      sizes[i] = 8;
    } else {
      return null;
    }
    size += 4 + Math.max(sizes[i]!, 0);
  }
  const buffer = Buffer.allocUnsafe(size);
  let at = buffer.writeInt32BE(count > 0 ? 1 : 0, 0);
  at = buffer.writeInt32BE(nulls, at);
  at = buffer.writeInt32BE(type === 'text' ? TEXT : INT8, at);
  if (count > 0) {
    at = buffer.writeInt32BE(count, at);
    at = buffer.writeInt32BE(1, at);
  }
  for (let i = 0; i < count; i++) {
    at = buffer.writeInt32BE(sizes[i]!, at);
    if (sizes[i] === -1) continue;
    const value = values[i] as string | bigint | number;
    if (type === 'text') at += buffer.write(value as string, at);
    else at = buffer.writeBigInt64BE(BigInt(value), at);
  }
  return buffer;
}

/** What int8 takes as text and as a 64-bit integer alike. */
const INTEGER = /^-?\d{1,18}$/;

/** The parameters a statement casts to `text[]` or `bigint[]` (`$3::text[]`), by position from 0. */
const arrayCasts = new Map<string, Map<number, 'text' | 'bigint'>>();
function arrayCastsOf(text: string): Map<number, 'text' | 'bigint'> {
  let casts = arrayCasts.get(text);
  if (!casts) {
    casts = new Map();
    for (const [, n, type] of text.matchAll(/\$(\d+)::(text|bigint)\[\]/g)) casts.set(Number(n) - 1, type as 'text' | 'bigint');
    if (arrayCasts.size < 10_000) arrayCasts.set(text, casts);
  }
  return casts;
}

/** Arrays as binary parameters where the statement casts them to an array of a type sent so, else as literals. */
function encoded(text: string, values: unknown[]): unknown[] {
  const casts = arrayCastsOf(text);
  return values.map((value, i) => {
    if (!Array.isArray(value)) return value;
    const type = casts.get(i);
    return (type && binaryArray(type, value)) ?? arrayLiteral(value) ?? value;
  });
}

function pgClientSql(client: pg.Pool | pg.PoolClient, types: pg.CustomTypesConfig): Sql {
  const query = (text: string, values: unknown[]) => client.query({ name: statementName(text), text, values: encoded(text, values), types });
  return {
    $queryRawUnsafe: async <T>(text: string, ...values: unknown[]) => (await query(text, values)).rows as T,
    $executeRawUnsafe: async (text: string, ...values: unknown[]) => (await query(text, values)).rowCount ?? 0,
  };
}

export function pgSql(pool: pg.Pool, types: typeof pg.types): SqlDatabase {
  const parsers = pgTypes(types);
  return {
    ...pgClientSql(pool, parsers),
    transaction: async (fn) => {
      const client = await pool.connect();
      let broken: unknown = null;
      try {
        await client.query('BEGIN');
        const result = await fn(pgClientSql(client, parsers));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollback: unknown) => (broken = rollback));
        throw error;
      } finally {
        // A connection that could not roll back is dropped rather than handed to the next caller.
        client.release(broken instanceof Error ? broken : undefined);
      }
    },
  };
}

const PGLITE_PARSERS = { [INT8]: (value: string) => BigInt(value), [INT8_ARRAY]: parseInt8Array };

function pgliteClientSql(client: PGlite | Transaction): Sql {
  return {
    $queryRawUnsafe: async <T>(text: string, ...values: unknown[]) => (await client.query(text, values, { parsers: PGLITE_PARSERS })).rows as T,
    $executeRawUnsafe: async (text: string, ...values: unknown[]) => (await client.query(text, values, { parsers: PGLITE_PARSERS })).affectedRows ?? 0,
  };
}

/** PGlite has one connection; its transactions take it exclusively, Prisma's included. */
export function pgliteSql(pglite: PGlite): SqlDatabase {
  return {
    ...pgliteClientSql(pglite),
    transaction: (fn) => pglite.transaction((tx) => fn(pgliteClientSql(tx))),
  };
}
