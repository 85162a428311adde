import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { usesPostgres } from '../support/app.ts';

/** The process as an operator runs it: `tsx src/main.ts` and the CLI, with their own environment. */
const tsx = path.resolve('node_modules/.bin/tsx');
const baseEnv = () => {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), LOG_LEVEL: 'info' };
  if (!usesPostgres) env.DATA_DIR = mkdtempSync(path.join(tmpdir(), 'platform-'));
  return env;
};

function cli(env: Record<string, string>, ...args: string[]) {
  const result = spawnSync(tsx, ['src/cli/main.ts', ...args], { env, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const children = new Set<ReturnType<typeof spawn>>();
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

function startServer(env: Record<string, string>) {
  // Node loading tsx in-process rather than the tsx CLI, which relays SIGTERM to a child and
  // SIGKILLs it (exit 143) when the child does not acknowledge within 30 ms, as on a busy machine.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { env: { ...env, PORT: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  let output = '';
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"url":"([^"]+)"/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${output}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, listening, exited, output: () => output };
}

describe('configuration', { timeout: 120_000 }, () => {
  it('refuses a bad value, naming the variable, with a non-zero exit', () => {
    const result = spawnSync(tsx, ['src/main.ts'], { env: { ...baseEnv(), PORT: 'eighty' }, encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('PORT');
    const redis = spawnSync(tsx, ['src/main.ts'], { env: { ...baseEnv(), REDIS_URL: 'http://nope' }, encoding: 'utf8' });
    expect(redis.status).toBe(1);
    expect(redis.stderr).toContain('REDIS_URL');
  });
});

// Each step spawns a Node process that opens the database: slow on a loaded machine, hence the time limits.
describe('operator CLI and process lifecycle', { timeout: 180_000 }, () => {
  it('creates a merchant whose token then works on the server, and stops cleanly on SIGTERM', async () => {
    const env = baseEnv();
    const created = cli(env, 'merchant', 'create', '--name', 'CLI Co', '--scopes', 'pockets,credit', '--rights', 'Manage payments');
    expect(created.status, created.stderr).toBe(0);
    const merchant = JSON.parse(created.stdout);
    for (const key of ['merchantId', 'token', 'oauthClientId', 'oauthClientSecret', 'basicKey', 'basicSecret', 'companyId']) {
      expect(typeof merchant[key], key).toBe('string');
    }
    expect(merchant.scopes).toEqual(['pockets', 'credit']);
    const listed = JSON.parse(cli(env, 'merchant', 'list').stdout);
    expect(listed.merchants.map((m: { id: string }) => m.id)).toContain(merchant.merchantId);

    const server = startServer(env);
    const url = await server.listening;
    if (!usesPostgres) {
      const refused = cli(env, 'merchant', 'list');
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain('in use by process');
    }
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Token ${merchant.token}` },
      body: JSON.stringify({ query: '{ viewer { merchant { name } } }' }),
    });
    expect(await response.json()).toEqual({ data: { viewer: { merchant: { name: 'CLI Co' } } } });
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('shutting down');
    expect(server.output()).not.toContain(merchant.token);

    const verified = cli(env, 'ledger', 'verify');
    expect(verified.status).toBe(0);
    expect(JSON.parse(verified.stdout).ok).toBe(true);
  });

  it('revokes a credential from the CLI', () => {
    const env = baseEnv();
    const merchant = JSON.parse(cli(env, 'merchant', 'create', '--name', 'Revoked').stdout);
    const revoked = cli(env, 'credential', 'revoke', '--id', merchant.tokenId);
    expect(JSON.parse(revoked.stdout)).toEqual({ credentialId: merchant.tokenId, revoked: true });
    expect(cli(env, 'credential', 'revoke', '--id', merchant.tokenId).status).toBe(1);
    const unknown = cli(env, 'merchant', 'frobnicate');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('unknown command');
  });
});
