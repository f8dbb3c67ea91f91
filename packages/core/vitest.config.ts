import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Generous: turbo runs every package's tests at once on small shared machines.
    testTimeout: 20_000,
    include: ['src/**/*.test.ts', 'tests/**/*.test.ts'],
    typecheck: { enabled: true, include: ['src/**/*.test-d.ts', 'tests/**/*.test-d.ts'] },
  },
});
