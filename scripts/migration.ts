/**
 * Writes the next migration: the difference between the schema the last migration left
 * (prisma/migrations/schema.snapshot.prisma) and prisma/schema/ now.
 *   npm run db:migration -- add_invoices
 * Before the first release, `npm run db:migration -- --init` rewrites the one initial migration
 * from the whole schema instead (existing databases must then be recreated).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const init = process.argv[2] === '--init';
const name = init ? 'init' : process.argv[2];
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error('usage: npm run db:migration -- <snake_case_name>');
  process.exit(2);
}
const schemaDir = path.join('prisma', 'schema');
const migrations = path.join('prisma', 'migrations');
const snapshot = path.join(migrations, 'schema.snapshot.prisma');
const current = readdirSync(schemaDir)
  .filter((file) => file.endsWith('.prisma'))
  .sort()
  .map((file) => readFileSync(path.join(schemaDir, file), 'utf8'))
  .join('\n');
const tmp = path.join('node_modules', '.cache', `schema.next.${process.pid}.prisma`);
mkdirSync(path.dirname(tmp), { recursive: true });
writeFileSync(tmp, current);

const from = existsSync(snapshot) && !init ? ['--from-schema-datamodel', snapshot] : ['--from-empty'];
const sql = execFileSync('npx', ['prisma', 'migrate', 'diff', ...from, '--to-schema-datamodel', tmp, '--script'], {
  env: { ...process.env, DATABASE_URL: process.env.DATABASE_URL ?? 'postgresql://localhost/unused' },
  encoding: 'utf8',
});
if (/^-- This is an empty migration/m.test(sql)) {
  console.error('The schema has not changed since the last migration.');
  process.exit(1);
}
// Only once the new migration is known good is anything replaced.
if (init) {
  for (const entry of readdirSync(migrations, { withFileTypes: true })) {
    if (entry.isDirectory()) rmSync(path.join(migrations, entry.name), { recursive: true });
  }
}
// Identifiers compare bytewise (migration bytewise_identifiers): new ones take the "C" collation too.
const written = sql.replace(/("(?:id|key|token|[a-z0-9_]*_id)" TEXT)\b/g, '$1 COLLATE "C"');
const stamp = init ? '00000000000000' : new Date().toISOString().replace(/\D/g, '').slice(0, 14);
const dir = path.join(migrations, `${stamp}_${name}`);
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, 'migration.sql'), written);
writeFileSync(snapshot, current);
console.log(`wrote ${dir}/migration.sql`);
