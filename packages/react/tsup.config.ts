import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  // Next.js App Router: lets a server component render the modal. It must be the first
  // statement of each built file, so it goes in as a banner rather than in the source
  // (esbuild drops module-level directives when bundling).
  banner: { js: "'use client';" },
});
