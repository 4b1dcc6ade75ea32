import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/log-capture.global.ts'],
    setupFiles: ['test/support/log-capture.setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
