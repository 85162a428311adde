import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dashboardRoutes } from '../../src/http/dashboard.ts';

const root = mkdtempSync(join(tmpdir(), 'dashboard-build-'));
const dir = join(root, 'build');
mkdirSync(join(dir, 'assets'), { recursive: true });
writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Payments dashboard</title>');
writeFileSync(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
writeFileSync(join(root, 'outside.js'), 'not part of the build');
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the dashboard files', () => {
  const routes = dashboardRoutes(dir);

  it('serves the page at /dashboard and /dashboard/, fresh on every load, locked to its own origin', async () => {
    for (const path of ['/dashboard', '/dashboard/']) {
      const res = await routes.request(path);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('cache-control')).toBe('no-cache');
      expect(res.headers.get('content-security-policy')).toContain("connect-src 'self'");
      expect(await res.text()).toContain('Payments dashboard');
    }
  });

  it('serves hashed assets for a year, and nothing outside the build', async () => {
    const res = await routes.request('/dashboard/assets/index-abc123.js');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    for (const path of ['/dashboard/assets/missing.js', '/dashboard/assets/..%2F..%2Foutside.js', '/dashboard/assets/%2E%2E%2Findex.html']) {
      expect((await routes.request(path)).status).toBe(404);
    }
  });

  it('says how to build it when it is not built', async () => {
    const res = await dashboardRoutes(join(dir, 'nowhere')).request('/dashboard');
    expect(res.status).toBe(503);
    expect(await res.text()).toContain('npm run build:dashboard');
  });
});
