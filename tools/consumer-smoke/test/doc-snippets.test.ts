import { expect, it } from 'vitest';
import { docBlocks, docFile, PARTIAL_MARK } from './doc-snippets.js';

// types.test compiles every other block; a new mark has to be added here, on purpose.
it(`only these docs blocks are marked ${PARTIAL_MARK}`, () => {
  const marked = docBlocks()
    .filter((block) => block.partial)
    .map((block) => `${docFile(block)}: ${block.code.split('\n')[0]}`);
  expect(marked).toEqual([
    // a list of the fields of `usage`, not code
    'docs-anthropic-2.ts: { model, inputTokens, outputTokens, cacheCreationInputTokens, cacheReadInputTokens, stopReason, attempts }',
    // the JobEvent shape, with `data: { … }` standing for the table below it
    'docs-events-1.ts: interface JobEvent {',
    // four route files in one block (each exports its own POST or GET)
    'docs-nextjs-4.ts: // app/api/generation/start/route.ts',
    // two methods of a store class, outside their class
    "docs-store-adapters-2.ts: import { ConflictError, prepareCreate, prepareCommit, parseJob } from '@jobstream/core';",
  ]);
});

it('the docs have code blocks to compile', () => {
  expect(docBlocks().filter((block) => !block.partial).length).toBeGreaterThan(20);
});
