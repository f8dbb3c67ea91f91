import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeDocSnippets } from './doc-snippets.js';
import type { Tarball } from './pack.js';
import { replaceExactly, snippetWith } from './readme-snippets.js';
import { runOrThrow } from './run.js';
import { repoRoot, workspaceVersion } from './workspace-packages.js';

/** The app's own files, copied into it. */
export const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '../consumer');

/** What an app installs beside jobstream: the README's zod, React, TypeScript, the peers. */
const THIRD_PARTY = [
  'zod',
  'react',
  'react-dom',
  'typescript',
  '@types/node',
  '@types/react',
  '@types/react-dom',
  'ioredis',
  '@supabase/supabase-js',
  '@anthropic-ai/sdk',
  // the Supabase README's realtime transport on Node 20
  'ws',
  '@types/ws',
  // docs/postgres.md's embedded PostgreSQL
  '@electric-sql/pglite',
  // an adapter author's test runner, for @jobstream/core/testing
  'vitest',
];

/**
 * A fresh app in `dir` (outside the repo, so no workspace is found) that installs the
 * tarballs with pnpm. Overrides point every `@jobstream/*` dependency, the packages' own
 * `^0.1.0` on each other included, at the tarballs: nothing comes from the workspace or
 * from whatever the registry holds under those names.
 */
export async function installApp(
  dir: string,
  tarballs: Tarball[],
  thirdParty: Record<string, string>,
): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const local = Object.fromEntries(tarballs.map((t) => [t.name, `file:${t.file}`]));
  const manifest = {
    name: `jobstream-consumer-${path.basename(dir)}`,
    version: '1.0.0',
    private: true,
    type: 'module',
    dependencies: { ...local, ...thirdParty },
  };
  fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  fs.writeFileSync(
    path.join(dir, 'pnpm-workspace.yaml'),
    `overrides:\n${Object.entries(local)
      .map(([name, spec]) => `  ${JSON.stringify(name)}: ${JSON.stringify(spec)}\n`)
      .join('')}`,
  );
  // --no-frozen-lockfile: CI=true makes pnpm refuse to install without a lockfile.
  await runOrThrow('pnpm', ['install', '--prefer-offline', '--no-frozen-lockfile'], {
    cwd: dir,
    timeoutMs: 120_000,
  });
}

/** The app most tests use: every package, consumer/'s files, the READMEs' snippets. */
export async function createConsumerProject(dir: string, tarballs: Tarball[]): Promise<void> {
  await installApp(
    dir,
    tarballs,
    Object.fromEntries(THIRD_PARTY.map((name) => [name, workspaceVersion(name)])),
  );
  fs.cpSync(fixtures, dir, { recursive: true });
  writeReadmeSnippets(dir);
  writeDocSnippets(dir);
}

interface Snippet {
  /** Written into the consumer app under this name (types.test compiles it). */
  file: string;
  /** An installed package's README (`server` → node_modules/@jobstream/server), or `root`. */
  readme: string;
  /** Text that picks the code block. */
  marker: string;
  /** Exact replacements, each of which must still match the README. */
  edits?: [from: string, to: string][];
  /** Declarations of the app's own names the snippet uses. */
  declare?: string;
}

/** What the READMEs' page fragments take from the component around them. */
const PAGE_NAMES = `declare const jobId: string | null;
declare function setJobId(jobId: string | null): void;
declare const router: { push(url: string): void };`;

/**
 * The READMEs' code as the installed packages (and the repo's front page) show it,
 * changed only where a snippet stands for the app's own code (its imports, its
 * functions). tsc checks every one; quick-start.test runs core's and server's.
 */
const SNIPPETS: Snippet[] = [
  {
    file: 'readme-course-job.ts',
    readme: 'root',
    marker: 'export const courseJob',
    declare: `declare function loadExam(examId: string): Promise<{ topics: string[] }>;
declare function writeLessons(topic: string, options: { signal: AbortSignal }): Promise<void>;
declare function saveCourse(exam: { topics: string[] }): Promise<string>;`,
  },
  {
    file: 'readme-route.ts',
    readme: 'root',
    marker: 'toNextHandlers(server)',
    edits: [["'@/lib/course-job'", "'./readme-course-job.js'"]],
    declare: 'declare function getUserId(request: Request): Promise<string | null>;',
  },
  {
    file: 'readme-page.tsx',
    readme: 'root',
    marker: '<JobProgressModal<typeof courseJob>',
    edits: [["'@/lib/course-job'", "'./readme-course-job.js'"]],
    declare: PAGE_NAMES,
  },
  { file: 'readme-core.ts', readme: 'core', marker: 'followJob(store' },
  { file: 'readme-server.ts', readme: 'server', marker: 'toNodeHandler(server)' },
  {
    file: 'readme-client.ts',
    readme: 'client',
    marker: 'createJobClient<typeof courseJob>',
    edits: [["'../server/jobs'", "'./readme-course-job.js'"]],
    declare: `declare function getToken(): Promise<string>;
declare function render(...values: unknown[]): void;`,
  },
  {
    file: 'readme-react.tsx',
    readme: 'react',
    marker: 'useJobProgress<typeof courseJob>',
    edits: [["'@/lib/course-job'", "'./readme-course-job.js'"]],
    declare: PAGE_NAMES,
  },
  { file: 'readme-postgres.ts', readme: 'postgres', marker: 'new PostgresJobStore' },
  { file: 'readme-redis.ts', readme: 'redis', marker: 'new RedisJobStore' },
  {
    file: 'readme-supabase.ts',
    readme: 'supabase',
    marker: 'new SupabaseJobStore',
    declare: 'declare const url: string;\ndeclare const serviceRoleKey: string;',
  },
  {
    file: 'readme-anthropic.ts',
    readme: 'anthropic',
    marker: 'streamMessage(tracker',
    declare: `declare const tracker: import('@jobstream/core').ProgressTracker<unknown, unknown, 'outline'>;
declare const prompt: string;`,
  },
];

function writeReadmeSnippets(dir: string): void {
  const readmeFile = (name: string) =>
    name === 'root'
      ? path.join(repoRoot, 'README.md')
      : path.join(dir, 'node_modules/@jobstream', name, 'README.md');
  const write = (file: string, text: string) => fs.writeFileSync(path.join(dir, file), text);

  for (const snippet of SNIPPETS) {
    let code = snippetWith(readmeFile(snippet.readme), snippet.marker);
    for (const [from, to] of snippet.edits ?? []) code = replaceExactly(code, from, to);
    write(snippet.file, snippet.declare ? `${code}${snippet.declare}\n` : code);
  }

  // Runnable as written: core's whole snippet, and server's with its port made free.
  const core = snippetWith(readmeFile('core'), 'followJob(store');
  write('readme-core.mjs', core);
  const server = replaceExactly(
    snippetWith(readmeFile('server'), 'toNodeHandler(server)'),
    'http.createServer(toNodeHandler(server)).listen(3000);',
    "const httpServer = http.createServer(toNodeHandler(server)).listen(0, '127.0.0.1');",
  );
  const quickStart = fs.readFileSync(path.join(dir, 'quick-start.mjs'), 'utf8');
  write('quick-start.mjs', replaceExactly(quickStart, '// README SNIPPET\n', server));
}
