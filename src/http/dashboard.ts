/**
 * The live payments dashboard: static assets built by Vite from web/dashboard/ into
 * dist/dashboard/ (`npm run build:dashboard`, also run by `npm install`). The page talks to the
 * API like any other frontend, so the server only hands out files; they are read at request time,
 * which lets a rebuild take effect without a restart.
 */
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import type { HttpEnv } from './rest.ts';

export const DASHBOARD_DIR = fileURLToPath(new URL('../../dist/dashboard/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json',
};

// The page needs nothing but this server: scripts, styles and connections (HTTP, SSE, WebSocket)
// all stay on its origin.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** The page at /dashboard and its assets, from `dir` (the build's output unless a test gives another). */
export function dashboardRoutes(dir = DASHBOARD_DIR) {
  const root = join(dir, '/');
  const asset = async (path: string): Promise<Buffer | null> => {
    const file = normalize(join(root, path));
    if (!file.startsWith(root)) return null;
    return readFile(file).catch(() => null);
  };
  const app = new Hono<HttpEnv>();
  const index = async () => {
    const html = await asset('index.html');
    if (!html) {
      return new Response('The dashboard is not built: run `npm run build:dashboard`.\n', {
        status: 503,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
      });
    }
    return new Response(new Uint8Array(html), { headers: { ...SECURITY_HEADERS, 'content-type': TYPES['.html']!, 'cache-control': 'no-cache' } });
  };
  app.get('/dashboard', index);
  app.get('/dashboard/', index);
  app.get('/dashboard/assets/:name', async (c) => {
    const name = c.req.param('name');
    const body = /^[\w.-]+$/.test(name) ? await asset(join('assets', name)) : null;
    if (!body) return c.json({ error: 'not_found', message: 'No such dashboard asset.' }, 404);
    // File names carry a content hash: a changed file is a new name.
    return new Response(new Uint8Array(body), {
      headers: {
        ...SECURITY_HEADERS,
        'content-type': TYPES[extname(name)] ?? 'application/octet-stream',
        'cache-control': 'public, max-age=31536000, immutable',
      },
    });
  });
  return app;
}
