import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // esbuild emits no decorator metadata; SWC does, which type-graphql and MikroORM rely on.
  plugins: [swc.vite({ jsc: { transform: { decoratorMetadata: true, legacyDecorator: true } } })],
  resolve: {
    // graphql ships ESM and CJS builds; libraries reaching it through different ones would see two
    // copies ("another module or realm"), so everything gets the CJS build, as under plain Node.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/setup.ts'],
    pool: 'forks',
    // Vitest's default is one file at a time on 2 cores (cores − 1), but most files spend their time
    // waiting: on PostgreSQL, on the server or CLI processes they start, on Chromium. Three at once
    // keeps both cores busy.
    maxWorkers: 3,
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
