import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { migratedPgliteSnapshot } from '../../src/db/database.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A migrated embedded database, dumped once for the run: each test server loads it instead of creating its own. */
    pgliteSnapshot: string | null;
  }
}

const snapshot = path.join(tmpdir(), `payments-test-pglite-${process.pid}.tar`);

export async function setup(project: TestProject): Promise<void> {
  if (process.env.DATABASE_URL) {
    project.provide('pgliteSnapshot', null);
    return;
  }
  writeFileSync(snapshot, Buffer.from(await (await migratedPgliteSnapshot()).arrayBuffer()));
  project.provide('pgliteSnapshot', snapshot);
}

/** After the whole suite: the ledger's invariants must hold on the database the suite used. */
export async function teardown(): Promise<void> {
  rmSync(snapshot, { force: true });
  if (!process.env.DATABASE_URL) return;
  execFileSync('npx', ['tsx', 'src/cli/main.ts', 'ledger', 'verify'], { stdio: 'inherit', env: process.env });
}
