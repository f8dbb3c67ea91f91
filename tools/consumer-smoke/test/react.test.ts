import fs from 'node:fs';
import path from 'node:path';
import { expect, inject, it } from 'vitest';
import { run } from './run.js';

const dir = inject('consumerDir');
const reactPackage = path.join(dir, 'node_modules/@jobstream/react');

for (const script of ['react-ssr.mjs', 'react-ssr.cjs']) {
  it(`renders the modal to a string in Node, without a DOM (${script})`, async () => {
    const { code, stdout, stderr } = await run('node', [script], { cwd: dir });
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const out = JSON.parse(stdout) as { html: string; hasDocument?: boolean };
    expect(out.hasDocument ?? false).toBe(false);
    expect(out.html).toMatch(/^<div[^>]*><div role="dialog" aria-modal="true"/);
    expect(out.html).toContain('role="progressbar"');
  });
}

it('both built entries the exports map names start with "use client"', () => {
  const manifest = JSON.parse(fs.readFileSync(path.join(reactPackage, 'package.json'), 'utf8'));
  const entries = [manifest.exports['.'].import.default, manifest.exports['.'].require.default];
  expect(entries).toEqual(['./dist/index.js', './dist/index.cjs']);
  for (const entry of entries) {
    const code = fs.readFileSync(path.join(reactPackage, entry), 'utf8');
    expect(code.slice(0, 13)).toBe("'use client';");
  }
});
