import { expect, inject, it } from 'vitest';
import { run } from './run.js';

const dir = inject('consumerDir');

interface Seen {
  id: number;
  type: string;
  jobId?: string;
}

async function runJson<T>(script: string): Promise<T> {
  const { code, stdout, stderr } = await run('node', [script], { cwd: dir, timeoutMs: 30_000 });
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as T;
}

/** Each event once, in order, from job_created to one terminal event. */
function expectWholeStream(events: Seen[], terminal: string) {
  expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 1));
  expect(events[0]?.type).toBe('job_created');
  expect(events.at(-1)?.type).toBe(terminal);
  expect(events.filter((e) => e.type.startsWith('job_') && e.type !== 'job_started')).toHaveLength(
    2,
  );
  expect(events.filter((e) => e.type === 'step_started').length).toBeGreaterThan(0);
}

it("the server README's quick start on node:http, followed by @jobstream/client over a socket (ESM)", async () => {
  const out = await runJson<{
    streamUrl: string;
    states: string[];
    events: Seen[];
    status: string;
    result: unknown;
  }>('quick-start.mjs');
  expectWholeStream(out.events, 'job_completed');
  const jobId = out.events[0]?.jobId;
  expect(out.events.every((e) => e.jobId === jobId)).toBe(true);
  expect(out.streamUrl).toBe(`/api/generation/stream/${jobId}`);
  expect(out.states).toEqual(['connecting', 'open', 'closed']);
  expect({ status: out.status, result: out.result }).toEqual({
    status: 'completed',
    result: { courseId: 'c1' },
  });
});

it('the same through require(): the CJS builds of core, server and client', async () => {
  const out = await runJson<{
    events: Seen[];
    jobId: string;
    result: unknown;
    notFound: unknown;
    isJobstreamError: string;
  }>('quick-start.cjs');
  expectWholeStream(out.events, 'job_completed');
  expect(out.events.every((e) => e.jobId === out.jobId)).toBe(true);
  expect(out.events.filter((e) => e.type === 'step_completed')).toHaveLength(3);
  expect(out.result).toEqual({ courseId: 'course-of-e1' });
  expect(out.notFound).toEqual({ status: 404, code: 'not_found' });
  expect(out.isJobstreamError).toBe('function');
});

it("the core README's snippet runs as written", async () => {
  const { code, stdout, stderr } = await run('node', ['readme-core.mjs'], { cwd: dir });
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  const events = stdout
    .trim()
    .split('\n')
    .map((line) => {
      const [id, type] = line.split(' ');
      return { id: Number(id), type: type as string };
    });
  expectWholeStream(events, 'job_completed');
  expect(events.filter((e) => e.type === 'step_progress').length).toBeGreaterThan(0);
});
