import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { expect, inject, it } from 'vitest';
import { run } from './run.js';

const dir = inject('consumerDir');
const tarballs = inject('tarballs');

it('every @jobstream package, and each one its @jobstream deps, resolves to the tarball', () => {
  const realDir = fs.realpathSync(dir);
  const outside: string[] = [];
  const check = (from: string, name: string) => {
    const manifest = createRequire(from).resolve(`${name}/package.json`);
    const real = fs.realpathSync(manifest);
    if (!real.startsWith(`${realDir}${path.sep}node_modules${path.sep}.pnpm${path.sep}`)) {
      outside.push(`${name} from ${from}: ${real}`);
    }
    return real;
  };
  for (const { name } of tarballs) {
    const own = check(path.join(dir, 'package.json'), name);
    const deps = JSON.parse(fs.readFileSync(own, 'utf8')).dependencies ?? {};
    for (const dep of Object.keys(deps).filter((d) => d.startsWith('@jobstream/'))) {
      check(own, dep);
    }
  }
  expect(outside).toEqual([]);
  // One copy of each: no second @jobstream/core from the registry beside the tarball's.
  const copies = fs.readdirSync(path.join(dir, 'node_modules/.pnpm'));
  for (const { name } of tarballs) {
    const prefix = `${name.replace('/', '+')}@`;
    expect(copies.filter((c) => c.startsWith(prefix)).map((c) => c.includes('@file+'))).toEqual([
      true,
    ]);
  }
});

it('every entry point loads with import() and require()', async () => {
  const { code, stdout, stderr } = await run('node', ['import-every-entry.mjs'], { cwd: dir });
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  const results = JSON.parse(stdout) as { specifier: string; esm: unknown; cjs: unknown }[];
  expect(results.length).toBeGreaterThanOrEqual(11);
  for (const { specifier, esm, cjs } of results) {
    if (specifier === '@jobstream/core/testing') {
      // The conformance suite is made of vitest's describe/it, and vitest refuses require():
      // only the ESM build can load (vitest runs test files as ESM, so adapter authors use it).
      expect({ esm, cjs }).toEqual({
        esm: expect.any(Number),
        cjs: expect.stringContaining('Vitest cannot be imported in a CommonJS module'),
      });
      continue;
    }
    expect({ specifier, esm, cjs }).toEqual({
      specifier,
      esm: expect.any(Number),
      cjs: expect.any(Number),
    });
  }
});

it("an adapter author's vitest file runs the published conformance suite", async () => {
  const { code, stdout, stderr } = await run(
    'node',
    ['node_modules/vitest/vitest.mjs', 'run', '--reporter=json', 'store-conformance.test.ts'],
    { cwd: dir },
  );
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  const report = JSON.parse(stdout) as Record<string, number>;
  expect(report.numPassedTests).toBeGreaterThanOrEqual(20);
  expect({ failed: report.numFailedTests, skipped: report.numPendingTests }).toEqual({
    failed: 0,
    skipped: 0,
  });
});
