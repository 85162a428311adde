import { execFileSync } from 'node:child_process';

/** After the whole suite: the ledger's invariants must hold on the database the suite used. */
export async function teardown(): Promise<void> {
  if (!process.env.DATABASE_URL) return;
  execFileSync('npx', ['tsx', 'src/cli/main.ts', 'ledger', 'verify'], { stdio: 'inherit', env: process.env });
}
