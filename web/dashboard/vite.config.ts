import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * `npm run build:dashboard`: web/dashboard/ into dist/dashboard/, which the server serves at
 * /dashboard/. Everything is bundled; the page loads nothing from anywhere but the server.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/dashboard/',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../../dist/dashboard/', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    modulePreload: { polyfill: false },
  },
});
