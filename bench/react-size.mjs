// Size of what @jobstream/react adds to a browser bundle: the hook, the modal, the default
// stylesheet and the @jobstream/client (+ core/lite, eventsource-parser) it pulls in.
// react, react-dom and zod are left out (the app has react; the browser path has no zod).
// Usage: pnpm build && node bench/react-size.mjs
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { machine, printTable } from './machine.mjs';

const LIMIT = 8 * 1024;
const external = ['react', 'react-dom', 'react/jsx-runtime', 'zod'];

async function measure(contents) {
  const result = await esbuild.build({
    stdin: { contents, resolveDir: import.meta.dirname, loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    external,
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  const inputs = Object.keys(result.metafile.inputs);
  if (inputs.some((file) => /node_modules[\\/]zod[\\/]/.test(file))) {
    throw new Error('zod reached the bundle');
  }
  return { min: code.length, gzip: gzipSync(code, { level: 9 }).length };
}

const cases = [
  ['everything (hook + modal + styles + client)', "export * from '@jobstream/react';"],
  ['hook only (useJobProgress + client)', "export { useJobProgress } from '@jobstream/react';"],
  [
    'client alone (createJobClient + watchJob)',
    "export { createJobClient, watchJob } from '@jobstream/client';",
  ],
];
const rows = [];
let all;
for (const [name, source] of cases) {
  const size = await measure(source);
  all ??= size;
  rows.push([
    `${name}, min+gzip (bytes)`,
    size.gzip.toLocaleString('en-US'),
    `${(size.gzip / LIMIT).toFixed(2)}x the 8 KB budget; ${size.min.toLocaleString('en-US')} B minified`,
  ]);
}
printTable('React size', machine(), rows);
// Reported, not enforced: bench/run-all.mjs runs every script and counts non-zero exits as
// failures; the budget is tracked in docs/benchmarks.md.
if (all.gzip > LIMIT) {
  console.log(`\nNote: ${all.gzip} B min+gzip is over the ${LIMIT} B budget.`);
}
