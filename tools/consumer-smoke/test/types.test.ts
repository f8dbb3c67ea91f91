import { expect, inject, it } from 'vitest';
import { run } from './run.js';

const dir = inject('consumerDir');

const tsc = (config: string) =>
  run('node', ['node_modules/typescript/bin/tsc', '--noEmit', '-p', config], {
    cwd: dir,
    timeoutMs: 90_000,
  });

// node16 (a Node server: no DOM lib) and bundler (an app: DOM) check the consumer's
// .ts/.tsx files (use-types.ts, use-react.tsx, require.cts, the READMEs' snippets)
// against the installed .d.ts files with skipLibCheck off, as tsc defaults, so an error
// inside our declarations shows; the `@ts-expect-error` lines keep mistakes errors.
// The Supabase snippets (and docs/postgres.md's, for PGlite's) get their own program with
// skipLibCheck on: supabase-js's and PGlite's own declarations do not compile under
// TypeScript 6 (or without @types/emscripten) without it (not ours to fix), and the
// check that matters, their clients fitting our stores, holds either way.
// One after another: pnpm test runs other packages' timing-sensitive suites beside it.
for (const config of ['tsconfig.node16.json', 'tsconfig.bundler.json', 'tsconfig.supabase.json']) {
  it(`tsc --noEmit -p ${config}`, async () => {
    const { code, stdout, stderr } = await tsc(config);
    expect({ code, output: stdout + stderr }).toEqual({ code: 0, output: '' });
  });
}
