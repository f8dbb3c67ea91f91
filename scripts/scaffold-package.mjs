// One-off helper used to lay out a package the same way as its siblings.
// usage: node scripts/scaffold-package.mjs <name> <entry>[,<entry>...] "<description>"
import fs from 'node:fs';
import path from 'node:path';

const [name, entriesArg = 'index', description = ''] = process.argv.slice(2);
const dir = path.join('packages', name);
const entries = entriesArg.split(',');
fs.mkdirSync(path.join(dir, 'src'), { recursive: true });

const exportsMap = {};
for (const entry of entries) {
  const key = entry === 'index' ? '.' : `./${entry}`;
  exportsMap[key] = {
    import: { types: `./dist/${entry}.d.ts`, default: `./dist/${entry}.js` },
    require: { types: `./dist/${entry}.d.cts`, default: `./dist/${entry}.cjs` },
  };
}
exportsMap['./package.json'] = './package.json';

const pkgPath = path.join(dir, 'package.json');
const existing = fs.existsSync(pkgPath) ? JSON.parse(fs.readFileSync(pkgPath, 'utf8')) : {};
const pkg = {
  name: `@jobstream/${name}`,
  version: '0.1.0',
  description,
  license: 'MIT',
  type: 'module',
  sideEffects: false,
  main: './dist/index.cjs',
  module: './dist/index.js',
  types: './dist/index.d.cts',
  exports: exportsMap,
  files: ['dist', 'src', '!src/**/*.test.ts', '!src/**/*.test-d.ts', 'README.md'],
  repository: {
    type: 'git',
    url: 'git+https://github.com/jobstream/jobstream.git',
    directory: dir,
  },
  scripts: {
    build: 'tsup',
    typecheck: 'tsc --noEmit',
    lint: 'publint --strict && attw --pack . --profile node16',
    test: 'vitest run',
  },
  ...existing,
};
pkg.exports = exportsMap;
fs.writeFileSync(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`);

fs.writeFileSync(
  path.join(dir, 'tsup.config.ts'),
  `import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ${JSON.stringify(Object.fromEntries(entries.map((e) => [e, `src/${e}.ts`])))},
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
});
`,
);
fs.writeFileSync(
  path.join(dir, 'tsconfig.json'),
  `${JSON.stringify({ extends: '../../tsconfig.base.json', include: ['src', 'tests', '*.ts'] }, null, 2)}\n`,
);
if (!fs.existsSync(path.join(dir, 'vitest.config.ts'))) {
  fs.writeFileSync(
    path.join(dir, 'vitest.config.ts'),
    `import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'tests/**/*.test.ts'],
    typecheck: { enabled: true, include: ['src/**/*.test-d.ts', 'tests/**/*.test-d.ts'] },
  },
});
`,
  );
}
// npm puts the license file into every tarball; a package without one ships without its terms.
if (!fs.existsSync(path.join(dir, 'LICENSE')))
  fs.copyFileSync('LICENSE', path.join(dir, 'LICENSE'));
console.log(`scaffolded ${pkg.name}`);
