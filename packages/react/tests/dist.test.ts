import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// Next.js App Router only lets a server component render the modal when the module's
// first statement is the directive; bundlers drop it from sources, so check the output.
describe('built entry', () => {
  for (const file of ['index.js', 'index.cjs']) {
    it(`${file} starts with "use client"`, () => {
      const code = readFileSync(new URL(`../dist/${file}`, import.meta.url), 'utf8');
      expect(code.startsWith("'use client';")).toBe(true);
    });
  }
});
