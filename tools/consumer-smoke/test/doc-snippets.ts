import fs from 'node:fs';
import path from 'node:path';
import { replaceExactly } from './readme-snippets.js';
import { repoRoot } from './workspace-packages.js';

/**
 * Every ```ts / ```tsx block of docs/*.md is compiled by types.test (node16 and bundler),
 * as a user pasting it would expect it to compile. The one way out is an HTML comment
 * `<!-- snippet: partial -->` on the line right before the fence, for a block that is not
 * code on its own (a shape with `…` in it, methods outside their class): a page
 * marks a block only when it cannot compile as it stands, never to quiet an error.
 */
export const PARTIAL_MARK = '<!-- snippet: partial -->';

export interface DocBlock {
  page: string;
  /** 1-based, in page order. */
  index: number;
  lang: 'ts' | 'tsx';
  code: string;
  partial: boolean;
}

export const docsDir = path.join(repoRoot, 'docs');

/** Every ts/tsx block of every docs page, list-indented ones unindented. */
export function docBlocks(): DocBlock[] {
  const blocks: DocBlock[] = [];
  for (const file of fs
    .readdirSync(docsDir)
    .filter((f) => f.endsWith('.md'))
    .sort()) {
    const text = fs.readFileSync(path.join(docsDir, file), 'utf8');
    let index = 0;
    for (const m of text.matchAll(/^([ \t]*)```(tsx?)\n([\s\S]*?)^\1```$/gm)) {
      const [, indent = '', lang, body = ''] = m;
      const before = text.slice(0, m.index).trimEnd().split('\n').at(-1)?.trim();
      blocks.push({
        page: file.replace(/\.md$/, ''),
        index: ++index,
        lang: lang as 'ts' | 'tsx',
        code: body
          .split('\n')
          .map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line))
          .join('\n'),
        partial: before === PARTIAL_MARK,
      });
    }
  }
  return blocks;
}

/** The file a block is written to in the consumer app. */
export function docFile(block: DocBlock): string {
  return `docs-${block.page}-${block.index}.${block.lang}`;
}

interface Context {
  page: string;
  /** Text that picks the block (exactly one block of the page). */
  marker: string;
  /** What the page gave the reader before this block (its imports, names defined above). */
  prelude?: string;
  /** The app's own modules, pointed at a file of the consumer app. */
  edits?: [from: string, to: string][];
  /** Declarations of the app's own names the block uses. */
  declare?: string;
}

const SERVER = "import { createJobServer } from '@jobstream/server';";
const COURSE_JOB = "import { courseJob } from './readme-course-job.js';";
const STORE = `declare const store: import('@jobstream/core').JobStore;
declare function authenticate(request: Request): Promise<string | null>;`;
const PAGE = `declare function useState<T>(initial: T): [T, (value: T) => void];
declare function useEffect(effect: () => void, deps: unknown[]): void;
declare function useRouter(): { push(url: string): void };`;

/**
 * What each block takes from its page and from the app around it. Blocks without an entry
 * compile exactly as written. The app's course job is the front page's (same kind, input
 * and result as the docs' one), `readme-course-job.ts`.
 */
const CONTEXT: Context[] = [
  {
    page: 'anthropic',
    marker: 'streamMessage(tracker',
    declare: `declare function loadExam(examId: string): Promise<{ title: string }>;
declare function outlinePrompt(exam: { title: string }): string;
declare function parseTopics(text: string): { name: string }[];
declare function lessonPrompt(exam: { title: string }, topic: { name: string }): string;
declare function parseLessons(text: string): string[];
declare function saveCourse(examId: string, outline: string, lessons: string[][]): Promise<string>;`,
  },
  {
    page: 'getting-started',
    marker: 'export const courseJob',
    declare: `declare function loadExam(examId: string): Promise<{ topics: string[] }>;
declare function writeLessons(topic: string, options: { signal: AbortSignal }): Promise<void>;
declare function saveCourse(exam: { topics: string[] }): Promise<string>;`,
  },
  {
    page: 'getting-started',
    marker: 'export const jobServer',
    edits: [["'./course-job'", "'./docs-getting-started-1.js'"]],
    declare: 'declare function getUserId(request: Request): Promise<string | null>;',
  },
  {
    page: 'getting-started',
    marker: '<JobProgressModal<typeof courseJob>',
    edits: [["'@/lib/course-job'", "'./docs-getting-started-1.js'"]],
    declare: PAGE,
  },
  {
    page: 'getting-started',
    marker: 'staleAfterMs: 15',
    prelude: `${SERVER}\n${COURSE_JOB}\n${STORE}`,
  },
  {
    page: 'getting-started',
    marker: 'storeOutageMs',
    prelude: `${SERVER}\n${COURSE_JOB}\n${STORE}`,
  },
  {
    page: 'nextjs',
    marker: 'export const { GET, POST, OPTIONS }',
    edits: [["'@/lib/job-server'", "'./docs-nextjs-2.js'"]],
  },
  {
    page: 'nextjs',
    marker: 'maxActiveJobsPerOwner: 3',
    edits: [
      ["'./course-job'", "'./readme-course-job.js'"],
      ["import { store } from './job-store';", STORE],
      ["import { getUserId } from './auth';", ''],
    ],
    declare: 'declare function getUserId(request: Request): Promise<string | null>;',
  },
  {
    page: 'nextjs',
    marker: 'JOBSTREAM_SECRET',
    prelude: `${SERVER}\n${COURSE_JOB}\n${STORE}`,
  },
  {
    page: 'nextjs',
    marker: '__jobServer',
    prelude: `import { createJobServer, type JobServer } from '@jobstream/server';\n${COURSE_JOB}\n${STORE}`,
  },
  {
    page: 'node-express',
    marker: 'http.createServer',
    edits: [["'./course-job.js'", "'./readme-course-job.js'"]],
    declare: 'declare function userIdFromCookie(cookie: string | null): string | null;',
  },
  {
    page: 'node-express',
    marker: 'express()',
    declare: "declare const jobs: import('@jobstream/server').JobServer;",
  },
  {
    page: 'node-express',
    marker: 'maxBodyBytes',
    prelude: `${SERVER}\n${COURSE_JOB}\n${STORE}`,
    declare: 'declare function sessionFrom(request: Request): Promise<{ userId: string } | null>;',
  },
  {
    page: 'postgres',
    marker: 'PGlite',
    prelude: "import { PostgresJobStore } from '@jobstream/postgres';",
  },
  {
    page: 'react',
    marker: 'createJobClient<typeof courseJob>({ baseUrl',
    edits: [["'@/server/jobs'", "'./readme-course-job.js'"]],
    declare: PAGE,
  },
  {
    page: 'react',
    marker: 'useJobProgress<typeof courseJob>',
    prelude: `import { useJobProgress } from '@jobstream/react';
import type { courseJob } from './readme-course-job.js';`,
    declare: `declare const jobId: string | null;
declare const router: { push(url: string): void };
declare function toast(message: string): void;`,
  },
  {
    page: 'serverless',
    marker: 'ctx.waitUntil',
    prelude: `${SERVER}\n${COURSE_JOB}\n${STORE}`,
    declare: 'declare const ctx: { waitUntil(work: Promise<unknown>): void };',
  },
  {
    page: 'serverless',
    marker: 'maxDuration = 300;',
    prelude:
      "import { toNextHandlers } from '@jobstream/server';\nimport { jobServer } from './docs-nextjs-2.js';",
  },
  {
    page: 'serverless',
    marker: 'ctx.processRequest',
    prelude: `${SERVER}\nimport { after } from 'next/server';\n${COURSE_JOB}\n${STORE}`,
  },
  { page: 'serverless', marker: 'timeLimitMs', prelude: `${SERVER}\n${COURSE_JOB}\n${STORE}` },
  {
    page: 'serverless',
    marker: 'sweepStaleJobs()',
    edits: [["'@/lib/job-server'", "'./docs-nextjs-2.js'"]],
  },
  {
    page: 'store-adapters',
    marker: 'interface JobStore',
    prelude:
      "import type { EventDraft, Job, JobEvent, ListJobsFilter, NewJob } from '@jobstream/core';",
  },
  {
    page: 'store-adapters',
    marker: 'runJobStoreConformance({',
    edits: [
      [
        "import { MyStore } from './my-store';",
        "import { MemoryJobStore } from '@jobstream/core';",
      ],
    ],
    declare: `declare class MyStore extends MemoryJobStore {
  constructor(url: string);
  close(): Promise<void>;
  listenerCount(): number;
}`,
  },
  {
    page: 'store-adapters',
    marker: 'runJobStoreOutage({',
    declare: `declare const storeBehindProxy: import('@jobstream/core').JobStore;
declare const directStore: import('@jobstream/core').JobStore;
declare const proxy: { drop(): Promise<void>; restore(): Promise<void> };`,
  },
  {
    page: 'supabase',
    marker: "from('jobstream_jobs')",
    prelude: "import { createClient } from '@supabase/supabase-js';",
    declare: `declare const SUPABASE_URL: string;
declare const SUPABASE_ANON_KEY: string;
declare const jobId: string;
declare const lastSeenSeq: number;
declare function apply(row: Record<string, unknown>): void;`,
  },
];

/** Writes every unmarked block into `dir`; fails on a context that picks no block. */
export function writeDocSnippets(dir: string): DocBlock[] {
  const blocks = docBlocks();
  for (const context of CONTEXT) {
    const found = blocks.filter((b) => b.page === context.page && b.code.includes(context.marker));
    if (found.length !== 1) {
      throw new Error(
        `docs/${context.page}.md: expected one code block containing ${JSON.stringify(context.marker)}, found ${found.length}`,
      );
    }
  }
  const compiled = blocks.filter((b) => !b.partial);
  for (const block of compiled) {
    const context = CONTEXT.find((c) => c.page === block.page && block.code.includes(c.marker));
    let code = block.code;
    for (const [from, to] of context?.edits ?? []) code = replaceExactly(code, from, to);
    // `export {}`: a block is a module of its own, whatever it imports.
    const parts = ['export {};', context?.prelude, code, context?.declare].filter(Boolean);
    fs.writeFileSync(path.join(dir, docFile(block)), `${parts.join('\n')}\n`);
  }
  return compiled;
}
