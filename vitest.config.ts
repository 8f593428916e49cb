import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The console's browser tests need Debian's Chromium: installed here when missing.
    globalSetup: ['test/setup/chromium.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real git servers and bridge processes; two cores.
    maxWorkers: 2,
  },
});
