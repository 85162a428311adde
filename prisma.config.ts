import path from 'node:path';
import { defineConfig } from 'prisma/config';

// The Prisma CLI is used only for `prisma generate` and `prisma migrate diff` (which need no
// database); migrations are applied by src/db/migrate.ts against PGlite or PostgreSQL alike.
// engine "js" keeps the CLI on its bundled WebAssembly schema engine, so it works offline.
export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join('prisma', 'schema'),
  async adapter() {
    const { PGlite } = await import('@electric-sql/pglite');
    const { pgliteAdapter } = await import('./src/db/database.ts');
    return pgliteAdapter(new PGlite()) as never;
  },
});
