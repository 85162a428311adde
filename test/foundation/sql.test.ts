import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { arrayLiteral, binaryArray, jsonDocuments, unnestRows } from '../../src/db/sql.ts';
import { WriteBatch } from '../../src/db/write-batch.ts';
import { startApp, usesPostgres, type TestApp } from '../support/app.ts';

let t: TestApp;
const table = `sql_test_${process.pid}`;
beforeAll(async () => {
  t = await startApp();
  await t.app.database.sql.$executeRawUnsafe(`CREATE TABLE ${table} (id int PRIMARY KEY, note text)`);
});
afterAll(async () => {
  await t.app.database.sql.$executeRawUnsafe(`DROP TABLE ${table}`);
  await t.stop();
});

const ids = async () =>
  (await t.app.database.sql.$queryRawUnsafe<{ id: number }[]>(`SELECT id FROM ${table} ORDER BY id`)).map((row) => row.id);

describe('raw SQL', () => {
  it('answers rows as Prisma raw queries do: int8 as bigint, timestamps as Date, JSON parsed', async () => {
    const [row] = await t.app.database.sql.$queryRawUnsafe<Record<string, unknown>[]>(
      `SELECT 9007199254740993::int8 AS big, ARRAY[1, NULL, 3]::int8[] AS bigs, $1::timestamptz AS at, '{"a": [1]}'::jsonb AS doc, $2::text AS echo`,
      '2030-01-02T03:04:05.678Z',
      'x',
    );
    expect(row).toEqual({ big: 9007199254740993n, bigs: [1n, null, 3n], at: new Date('2030-01-02T03:04:05.678Z'), doc: { a: [1] }, echo: 'x' });
    const viaPrisma = await t.app.deps.prisma.$queryRawUnsafe<{ big: unknown }[]>(`SELECT 9007199254740993::int8 AS big`);
    expect(viaPrisma[0]!.big).toBe(row!.big);
  });

  it('passes array parameters element for element, whatever their characters', async () => {
    const texts = ['plain', '', 'NULL', null, 'a,b', '{braces}', 'say "hi"', 'back\\slash\\', ' spaced ', 'new\nline', 'ünï'];
    const [row] = await t.app.database.sql.$queryRawUnsafe<{ texts: unknown; bigs: unknown; flags: unknown; docs: unknown }[]>(
      `SELECT $1::text[] AS texts, $2::int8[] AS bigs, $3::bool[] AS flags, $4::jsonb[] AS docs`,
      texts,
      [9007199254740993n, null, -1],
      [true, false, null],
      [JSON.stringify({ quote: '"', slash: '\\' }), '[]'],
    );
    expect(row).toEqual({ texts, bigs: [9007199254740993n, null, -1n], flags: [true, false, null], docs: [{ quote: '"', slash: '\\' }, []] });
    expect(arrayLiteral(['a"b', null, 1n, 'c\\'])).toBe('{"a\\"b",NULL,1,"c\\\\"}');
    // Anything else is left for the driver to encode.
    expect(arrayLiteral([new Date(0)])).toBeNull();
  });

  it('sends text[] and bigint[] parameters as binary arrays where the statement casts them so, and the same values back', async () => {
    const texts = ['plain', '', 'NULL', null, 'a,b', '{braces}', 'say "hi"', 'back\\slash\\', 'new\nline', 'ünï', '😀'];
    const [row] = await t.app.database.sql.$queryRawUnsafe<Record<string, unknown>[]>(
      `SELECT $1::text[] AS texts, $2::bigint[] AS bigs, $3::text[] AS none, 'ünï' = ANY ($1::text[]) AS found,
         $4::text[] AS numbers, $5::bigint[] AS longest`,
      texts,
      ['9007199254740993', 9007199254740993n, -42, null, '-999999999999999999'],
      [],
      [1, 2],
      ['9223372036854775807'],
    );
    expect(row).toEqual({
      texts,
      bigs: [9007199254740993n, 9007199254740993n, -42n, null, -999999999999999999n],
      none: [],
      found: true,
      numbers: ['1', '2'],
      longest: [9223372036854775807n],
    });
    // The format array_recv reads: dimensions, a null flag, the element type, then each element's length and bytes.
    expect(binaryArray('text', ['ab', null])).toEqual(Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 25, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 97, 98, 255, 255, 255, 255]));
    expect(binaryArray('text', [])).toEqual(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25]));
    expect(binaryArray('bigint', [-2n])).toEqual(Buffer.from([0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 8, 255, 255, 255, 255, 255, 255, 255, 254]));
    // Values of another kind are left to the literal (numbers as text, an integer too long for the
    // binary check, which PostgreSQL still reads).
    expect(binaryArray('text', [1])).toBeNull();
    expect(binaryArray('bigint', ['1.5'])).toBeNull();
    expect(binaryArray('bigint', ['9223372036854775807'])).toBeNull();
  });

  it('commits a transaction that returns, and rolls back one that throws', async () => {
    await t.app.database.sql.transaction(async (tx) => {
      await tx.$executeRawUnsafe(`INSERT INTO ${table} (id, note) VALUES ($1, $2)`, 1, 'kept');
    });
    await expect(
      t.app.database.sql.transaction(async (tx) => {
        await tx.$executeRawUnsafe(`INSERT INTO ${table} (id, note) VALUES ($1, $2)`, 2, 'lost');
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');
    // A failed statement rolls back what came before it in the transaction.
    await expect(
      t.app.database.sql.transaction(async (tx) => {
        await tx.$executeRawUnsafe(`INSERT INTO ${table} (id, note) VALUES ($1, $2)`, 3, 'lost');
        await tx.$executeRawUnsafe(`INSERT INTO ${table} (id, note) VALUES ($1, $2)`, 1, 'duplicate');
      }),
    ).rejects.toMatchObject({ code: '23505' });
    expect(await ids()).toEqual([1]);
  });

  it('sends a batch of writes as one statement, each with its own parameters', async () => {
    const writes = new WriteBatch();
    writes.add(`INSERT INTO ${table} (id, note) SELECT * FROM unnest($1::int[], $2::text[])`, [10, 11], ['a', 'b']);
    writes.add(`INSERT INTO ${table} (id, note) VALUES ($1, $2)`, 12, 'c');
    writes.add(`UPDATE ${table} SET note = $2 WHERE id = $1`, 1, 'updated');
    await t.app.database.sql.transaction((tx) => writes.run(tx));
    expect(await t.app.database.sql.$queryRawUnsafe(`SELECT id, note FROM ${table} ORDER BY id`)).toEqual([
      { id: 1, note: 'updated' },
      { id: 10, note: 'a' },
      { id: 11, note: 'b' },
      { id: 12, note: 'c' },
    ]);
    // Run, it is empty again.
    await writes.run(t.app.database.sql);
    expect(await ids()).toEqual([1, 10, 11, 12]);
  });

  it('writes rows from one array per column, a column of equal values as one value, nulls included', async () => {
    type Row = [id: number, note: string | null, amount: string | null, at: string | null];
    const rows = unnestRows<Row>([
      ['id', 'int', (row) => row[0]],
      ['note', 'text', (row) => row[1]],
      ['amount', 'bigint', (row) => row[2]],
      ['at', 'timestamptz', (row) => row[3]],
    ]);
    const read = (params: unknown[]) =>
      t.app.database.sql.$queryRawUnsafe<unknown[]>(`SELECT ${rows.select} FROM ${rows.unnest} AS v(${rows.names}) ORDER BY id`, ...params);
    const at = '2030-01-02T03:04:05.000Z';
    const mixed = rows.params([
      [1, 'a', '5', null],
      [2, null, '5', null],
      [3, 'c', '5', null],
    ]);
    // Only the ids and the column whose values differ travel as arrays.
    expect(mixed).toEqual([[1, 2, 3], ['a', null, 'c'], null, [], '5', [], null]);
    expect(await read(mixed)).toEqual([
      { id: 1, note: 'a', amount: 5n, at: null },
      { id: 2, note: null, amount: 5n, at: null },
      { id: 3, note: 'c', amount: 5n, at: null },
    ]);
    expect(await read(rows.params([[7, 'only', null, at]]))).toEqual([{ id: 7, note: 'only', amount: null, at: new Date(at) }]);
    expect(
      await read(
        rows.params([
          [8, null, '-1', at],
          [9, 'b', '2', null],
        ]),
      ),
    ).toEqual([
      { id: 8, note: null, amount: -1n, at: new Date(at) },
      { id: 9, note: 'b', amount: 2n, at: null },
    ]);
  });

  it('numbers JSON documents sent as one parameter, one document taken whole, several split from an array', async () => {
    const read = (documents: unknown[]) => {
      const docs = jsonDocuments(1, 'd', 'doc', documents);
      return t.app.database.sql.$queryRawUnsafe<unknown[]>(`SELECT d.n, d.doc FROM ${docs.from} ORDER BY d.n`, docs.value);
    };
    const batch = [{ objectId: 'a', data: { quote: '"' } }, { objectId: 'b', data: {} }];
    // One document that is itself an array (a batch's events) stays one row.
    expect(await read([batch])).toEqual([{ n: 1n, doc: batch }]);
    expect(await read([batch, { one: 1 }, 'text'])).toEqual([
      { n: 1n, doc: batch },
      { n: 2n, doc: { one: 1 } },
      { n: 3n, doc: 'text' },
    ]);
  });

  it("runs a batch's last statement after its writes, and undoes them all, outside a transaction, when it raises", async () => {
    const batch = (atLeast: number) => {
      const writes = new WriteBatch();
      writes.add(`INSERT INTO ${table} (id, note) VALUES ($1, $2)`, 20, 'x');
      writes.add(`INSERT INTO ${table} (id, note) VALUES ($1, $2)`, 21, 'y');
      writes.last(
        `WITH seen AS (SELECT (SELECT rows FROM written) AS rows, (SELECT count(*) FROM ${table} WHERE id >= 20) AS before)
         SELECT ledger_floor_holds(rows >= $1::int AND before = 0) FROM seen`,
        atLeast,
      );
      return writes;
    };
    // It sees how many rows the others wrote (its snapshot, like theirs, is from before them).
    await expect(batch(3).run(t.app.database.sql)).rejects.toMatchObject({ code: 'LF001' });
    expect(await ids()).toEqual([1, 10, 11, 12]);
    await batch(2).run(t.app.database.sql);
    expect(await ids()).toEqual([1, 10, 11, 12, 20, 21]);
    await t.app.database.sql.$executeRawUnsafe(`DELETE FROM ${table} WHERE id >= 20`);
  });

  it.runIf(usesPostgres)('prepares statements per connection, so a statement must name its columns to survive a new column', async () => {
    await expect(
      t.app.database.sql.transaction(async (tx) => {
        const named = `SELECT id, note FROM ${table} WHERE id = $1`;
        const star = `SELECT * FROM ${table} WHERE id = $1`;
        await tx.$queryRawUnsafe(named, 1);
        await tx.$queryRawUnsafe(star, 1);
        await tx.$executeRawUnsafe(`ALTER TABLE ${table} ADD COLUMN added int`);
        expect(await tx.$queryRawUnsafe(named, 1)).toEqual([{ id: 1, note: 'updated' }]);
        await tx.$queryRawUnsafe(star, 1);
      }),
    ).rejects.toThrow(/cached plan must not change result type/);
  });
});

describe('database schema', () => {
  it('keeps every identifier column in the "C" collation (npm run db:migration writes new ones so)', async () => {
    // Ids compare bytewise (migration bytewise_identifiers); a column left in the database's
    // collation would also keep joins and `= ANY (…)` against it from using the other's index.
    const others = await t.app.database.sql.$queryRawUnsafe<{ column: string; collation: string | null }[]>(
      `SELECT table_name || '.' || column_name AS column, collation_name AS collation FROM information_schema.columns
       WHERE table_schema = current_schema() AND data_type = 'text' AND table_name <> '_prisma_migrations'
         AND (column_name IN ('id', 'key', 'token') OR column_name LIKE '%\\_id')
         AND collation_name IS DISTINCT FROM 'C'
       ORDER BY 1`,
    );
    expect(others).toEqual([]);
    const bytewise = await t.app.database.sql.$queryRawUnsafe<{ column: string }[]>(
      `SELECT table_name || '.' || column_name AS column FROM information_schema.columns
       WHERE table_schema = current_schema() AND collation_name = 'C'`,
    );
    expect(bytewise.map((row) => row.column)).toEqual(
      expect.arrayContaining(['ledger_accounts.id', 'ledger_transfers.key', 'pocket_charges.token', 'pockets.account_id', 'idempotency_keys.key']),
    );
  });

  it('compresses JSON columns with lz4 where the server has it', async () => {
    const [server] = await t.app.database.sql.$queryRawUnsafe<{ lz4: boolean }[]>(
      `SELECT 'lz4' = ANY (enumvals) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'`,
    );
    const columns = await t.app.database.sql.$queryRawUnsafe<{ column: string; compression: string }[]>(
      `SELECT c.relname || '.' || a.attname AS column, a.attcompression::text AS compression
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.atttypid IN ('json'::regtype, 'jsonb'::regtype) AND NOT a.attisdropped
       ORDER BY 1`,
    );
    expect(columns.map((c) => c.column)).toEqual(expect.arrayContaining(['events.payload']));
    // 'l': lz4; '': the server's default (pglz).
    for (const { compression } of columns) expect(compression).toBe(server?.lz4 ? 'l' : '');
  });
});
