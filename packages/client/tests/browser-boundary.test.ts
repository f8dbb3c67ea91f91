import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const src = path.join(path.dirname(fileURLToPath(import.meta.url)), '../src');

it('runtime code imports only core/lite and eventsource-parser (no zod, no core main entry)', () => {
  const files = fs.readdirSync(src).filter((f) => f.endsWith('.ts') && !f.includes('.test'));
  expect(files).toContain('subscribe.ts');
  const imported = new Set<string>();
  for (const file of files) {
    const text = fs.readFileSync(path.join(src, file), 'utf8');
    for (const match of text.matchAll(
      /^\s*(?:import|export)\b(?!\s+type\b)[^'"]*?from\s+'([^']+)'/gm,
    )) {
      if (!match[1]?.startsWith('.')) imported.add(match[1] as string);
    }
  }
  expect([...imported].sort()).toEqual(['@jobstream/core/lite', 'eventsource-parser']);
});
