import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', lite: 'src/lite.ts', testing: 'src/testing.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
});
