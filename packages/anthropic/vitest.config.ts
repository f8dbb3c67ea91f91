import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'tests/**/*.test.ts'],
    typecheck: { enabled: true, include: ['src/**/*.test-d.ts', 'tests/**/*.test-d.ts'] },
    // Streams with delays on a shared 2-core machine: generous, never a timing assertion.
    testTimeout: 20_000,
  },
});
