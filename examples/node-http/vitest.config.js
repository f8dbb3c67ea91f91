import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.js'],
    // Limits only catch hangs (CI runs every package's tests at once on two cores).
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
