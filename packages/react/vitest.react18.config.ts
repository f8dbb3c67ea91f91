import { defineConfig } from 'vitest/config';

// The hook and modal tests again, on React 18.3.1 (the peer range is ^18 || ^19).
export default defineConfig({
  resolve: {
    alias: [
      { find: /^react$/, replacement: 'react-18' },
      { find: /^react\/(.*)$/, replacement: 'react-18/$1' },
      { find: /^react-dom$/, replacement: 'react-dom-18' },
      { find: /^react-dom\/(.*)$/, replacement: 'react-dom-18/$1' },
    ],
  },
  test: {
    include: ['src/**/*.test.tsx'],
    setupFiles: ['tests/react18-setup.ts'],
    env: { JOBSTREAM_EXPECT_REACT: '18' },
  },
});
