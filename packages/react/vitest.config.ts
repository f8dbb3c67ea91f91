import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.{ts,tsx}', 'tests/**/*.test.{ts,tsx}'],
    typecheck: {
      enabled: true,
      include: ['src/**/*.test-d.{ts,tsx}', 'tests/**/*.test-d.{ts,tsx}'],
    },
    // The browser tests start a server and Chromium; the machine is shared and slow.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
