import { MemoryJobStore } from '@jobstream/core';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createJobServer, defineJob, JobServerConfigError, TIME_LIMIT } from '../src/index.js';
import { post, readStreamToEnd, startServer, type TestServer, waitFor } from './helpers.js';

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

/** Finishes `fetch` at once; `write` waits until released, honouring the signal or not. */
function slowJob(options: { honoursSignal: boolean; timeLimitMs?: number }) {
  const seen = { aborted: null as unknown, afterAbort: 0, runs: 0 };
  let release: () => void = () => {};
  const job = defineJob({
    kind: 'course',
    input: z.object({}),
    steps: ['fetch', 'write'],
    ...(options.timeLimitMs ? { timeLimitMs: options.timeLimitMs } : {}),
    async run(_input, { tracker, signal, isStepCompleted }) {
      seen.runs++;
      if (!isStepCompleted('fetch')) {
        await tracker.startStep('fetch');
        await tracker.completeStep();
      }
      await tracker.startStep('write');
      if (seen.runs === 1) {
        await new Promise<void>((resolve, reject) => {
          release = resolve;
          if (options.honoursSignal) {
            signal.addEventListener(
              'abort',
              () => {
                seen.aborted = signal.reason;
                reject(signal.reason);
              },
              { once: true },
            );
          }
        });
        seen.aborted = signal.reason;
        // A run that ignored the signal and goes on writing: none of it may land.
        tracker.progress(90, 'still here');
        await tracker.flush().catch(() => seen.afterAbort++);
      }
      return { courseId: 'c1' };
    },
  });
  return { job, seen, release: () => release() };
}

async function statusOf(base: string, jobId: string) {
  const response = await fetch(`${base}/status/${jobId}`, { headers: { 'x-user': 'alice' } });
  return (await response.json()) as {
    job: {
      status: string;
      error: { code?: string; message: string } | null;
      steps: { status: string }[];
    };
    canResume: boolean;
  };
}

describe('timeLimitMs', () => {
  for (const honoursSignal of [true, false]) {
    it(`fails a run past its limit with time_limit, resumable (run ${honoursSignal ? 'honours' : 'ignores'} its signal)`, async () => {
      const { job, seen, release } = slowJob({ honoursSignal });
      server = await startServer({ jobs: [job], timeLimitMs: 300 });
      const { jobId } = (await (await post(`${server.base}/start`, {})).json()) as {
        jobId: string;
      };
      const { events } = await readStreamToEnd(server.base, jobId);
      const last = JSON.parse(events.at(-1)?.data ?? '{}');
      expect(events.at(-1)?.event).toBe('job_failed');
      expect(last.error).toMatchObject({ code: TIME_LIMIT });
      expect(last.failedStep).toBe('write');
      const { job: failed, canResume } = await statusOf(server.base, jobId);
      expect(failed.error?.code).toBe(TIME_LIMIT);
      expect(canResume).toBe(true);
      // The run heard it through its signal, however it waits.
      await waitFor(() => (honoursSignal ? seen.aborted !== null : true));
      if (!honoursSignal) release();
      await waitFor(() => seen.aborted !== null);
      expect(seen.aborted).toMatchObject({ code: 'job_finished', details: { code: TIME_LIMIT } });
      // Nothing the late run wrote landed after the failure.
      const after = await statusOf(server.base, jobId);
      expect(after.job.status).toBe('failed');

      // Resumed, the next run skips the completed step and finishes within the limit.
      expect((await post(`${server.base}/resume`, { jobId })).status).toBe(202);
      await waitFor(
        async () => (await statusOf(server?.base ?? '', jobId)).job.status === 'completed',
      );
      expect(seen.runs).toBe(2);
    });
  }

  it("a kind's own limit overrides the server's; a run within it is untouched", async () => {
    const { job, release } = slowJob({ honoursSignal: true, timeLimitMs: 60_000 });
    server = await startServer({ jobs: [job], timeLimitMs: 1 });
    const { jobId } = (await (await post(`${server.base}/start`, {})).json()) as { jobId: string };
    await waitFor(
      async () => (await statusOf(server?.base ?? '', jobId)).job.steps[1]?.status === 'running',
    );
    release();
    await waitFor(
      async () => (await statusOf(server?.base ?? '', jobId)).job.status === 'completed',
    );
  });

  it('refuses a limit that is not a positive number of ms', () => {
    const options = { store: new MemoryJobStore(), jobs: [], authenticate: () => 'alice' };
    for (const timeLimitMs of [0, -5, Number.NaN, 2 ** 31]) {
      expect(() => createJobServer({ ...options, timeLimitMs })).toThrow(JobServerConfigError);
    }
    expect(() =>
      defineJob({ kind: 'k', input: z.object({}), steps: ['a'], timeLimitMs: -1, run: () => null }),
    ).toThrow(/timeLimitMs/);
  });
});
