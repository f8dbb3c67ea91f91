// Runs every benchmark in bench/ one after another; each prints a Markdown table.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const scripts = fs
  .readdirSync(here)
  .filter(
    (f) => f.endsWith('.mjs') && !['run-all.mjs', 'machine.mjs'].includes(f) && !f.startsWith('_'),
  )
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();
let failed = 0;
for (const script of scripts) {
  console.log(`\n## ${script}`);
  const result = spawnSync(process.execPath, ['--expose-gc', path.join(here, script)], {
    stdio: 'inherit',
    cwd: here,
  });
  if (result.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
