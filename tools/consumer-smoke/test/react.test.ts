import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { fixtures, installApp } from './consumer-project.js';
import { run } from './run.js';
import { workspaceVersion } from './workspace-packages.js';

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

describe('with React 18 (the peer range says ^18 || ^19)', () => {
  const react18 = path.join(inject('scratchDir'), 'app-react18');
  beforeAll(async () => {
    const wanted = ['@jobstream/core', '@jobstream/client', '@jobstream/react'];
    await installApp(
      react18,
      inject('tarballs').filter((t) => wanted.includes(t.name)),
      { react: workspaceVersion('react-18'), 'react-dom': workspaceVersion('react-dom-18') },
    );
    for (const file of ['react-ssr.mjs', 'react-ssr.cjs']) {
      fs.copyFileSync(path.join(fixtures, file), path.join(react18, file));
    }
  });

  for (const script of ['react-ssr.mjs', 'react-ssr.cjs']) {
    it(`renders the modal to a string (${script})`, async () => {
      const version = JSON.parse(
        fs.readFileSync(path.join(react18, 'node_modules/react/package.json'), 'utf8'),
      ).version;
      expect(version).toMatch(/^18\./);
      const { code, stdout, stderr } = await run('node', [script], { cwd: react18 });
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      const { html } = JSON.parse(stdout) as { html: string };
      expect(html).toMatch(/^<div[^>]*><div role="dialog" aria-modal="true"/);
      expect(html).toContain('role="progressbar"');
    });
  }
});
