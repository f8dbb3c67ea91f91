import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import type { PackageJson } from './workspace-packages.js';
import { publishablePackages, repoRoot } from './workspace-packages.js';

const tarballs = inject('tarballs');

const listFiles = (file: string) =>
  execFileSync('tar', ['-tzf', file], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((entry) => entry.replace(/^package\//, ''));
const packedText = (file: string, entry: string) =>
  execFileSync('tar', ['-xzOf', file, `package/${entry}`], { encoding: 'utf8' });

/** What has no business in a published package. */
const UNWANTED = [
  /\.test(-d)?\.[cm]?[jt]sx?$/,
  /(^|\/)(tests?|__tests__)\//,
  /\.tsbuildinfo$/,
  /(^|\/)(vitest|tsup)[^/]*\.config\.[cm]?[jt]s$/,
  /(^|\/)(\.turbo|node_modules|coverage)\//,
  /(^|\/)\.env/,
];

it('packs every publishable package', () => {
  expect(tarballs.map((t) => t.name).sort()).toEqual(
    publishablePackages()
      .map((p) => p.manifest.name)
      .sort(),
  );
  expect(tarballs.length).toBeGreaterThanOrEqual(8);
});

for (const tarball of tarballs) {
  describe(tarball.name, () => {
    const files = listFiles(tarball.file);
    const manifest = JSON.parse(packedText(tarball.file, 'package.json')) as PackageJson;

    it('holds no tests, tsbuildinfo or build config', () => {
      expect(files.filter((f) => UNWANTED.some((re) => re.test(f)))).toEqual([]);
      expect(files.some((f) => f.startsWith('dist/'))).toBe(true);
    });

    it('has a README, and a LICENSE when it claims a license', () => {
      expect(files).toContain('README.md');
      expect(manifest.license).toBeTruthy();
      expect(files).toContain('LICENSE');
      expect(packedText(tarball.file, 'LICENSE')).toContain(`${manifest.license} License`);
    });

    it('has source maps that point only at files it ships', () => {
      const maps = files.filter((f) => f.endsWith('.map'));
      expect(maps.length).toBeGreaterThan(0);
      const missing = new Set<string>();
      for (const map of maps) {
        const { sources, sourceRoot = '' } = JSON.parse(packedText(tarball.file, map)) as {
          sources: string[];
          sourceRoot?: string;
        };
        for (const source of sources) {
          const shipped = path.posix.normalize(
            path.posix.join(path.posix.dirname(map), sourceRoot, source),
          );
          if (!files.includes(shipped)) missing.add(`${map} → ${shipped}`);
        }
      }
      expect([...missing]).toEqual([]);
    });

    it('names real versions: no workspace: protocol, jobstream deps at the packed versions', () => {
      expect(packedText(tarball.file, 'package.json')).not.toContain('workspace:');
      for (const [name, range] of Object.entries({
        ...manifest.dependencies,
        ...manifest.peerDependencies,
      })) {
        const sibling = tarballs.find((t) => t.name === name);
        if (sibling) expect(`${name}@${range}`).toBe(`${name}@^${sibling.version}`);
      }
    });
  });
}

it('@jobstream/supabase ships the migration files docs/supabase.md tells apps to apply', () => {
  const supabase = tarballs.find((t) => t.name === '@jobstream/supabase');
  if (!supabase) throw new Error('no @jobstream/supabase tarball');
  const docs = fs.readFileSync(path.join(repoRoot, 'docs/supabase.md'), 'utf8');
  expect(docs).toContain('node_modules/@jobstream/supabase/migrations/');
  const named = [...new Set(docs.match(/\b\d{14}_[a-z_]+\.sql\b/g))].sort();
  const shipped = listFiles(supabase.file)
    .filter((f) => f.startsWith('migrations/'))
    .map((f) => f.slice('migrations/'.length))
    .sort();
  expect(named.length).toBeGreaterThan(0);
  expect(shipped).toEqual(named);
});
