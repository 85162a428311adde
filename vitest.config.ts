import { defineConfig } from 'vitest/config';

export default defineConfig({
  // graphql ships CommonJS and ESM builds; one copy for every importer, or schemas mix realms.
  resolve: { alias: { graphql: 'graphql/index.js' } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each file starts its own server; two at a time fit the machine's two cores.
    maxWorkers: 2,
    globalSetup: ['test/support/global-setup.ts'],
  },
});
