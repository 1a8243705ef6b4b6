import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

// Unit and adapter tests import the workspaces' TypeScript sources directly, so
// they run without a build; end-to-end tests in tests/ spawn the built CLI
// (`npm test` builds first).
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@kanjia\/alerts\/testing$/, replacement: `${root}alerts/src/testing/index.ts` },
      { find: /^@kanjia\/([a-z-]+)$/, replacement: `${root}$1/src/index.ts` },
    ],
  },
  test: {
    include: ['*/test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
