import { type Job, MemoryJobStore } from '@jobstream/core';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createJobServer, defineJob } from '../src/index.js';
import {
  post,
  readStream,
  STEPS,
  startJob,
  startServer,
  type TestServer,
  waitFor,
} from './helpers.js';

const MINUTE = 60_000;

let server: TestServer | null = null;
afterEach(async () => {
  await server?.close();
  server = null;
});

/** A clock the test moves; the store stamps events with it and the server judges by it. */
function fakeClock() {
  let now = Date.parse('2026-01-01T10:00:00.000Z');
  return {
    now: () => new Date(now),
    advance(ms: number) {
      now += ms;
    },
  };
}

/**
 * Starts its step, then waits on "one long model call" that only its signal ends: a
 * worker that is either dead or very quiet. Records how it ended.
 */
function quietJob() {
  const endings: unknown[] = [];
  const job = defineJob({
    kind: 'quiet',
    input: z.object({}),
    steps: ['outline', 'lessons'],
    async run(_input, { tracker, signal }) {
      await tracker.startStep('outline');
      await tracker.startStep('lessons');
      try {
        await new Promise((_resolve, reject) => {
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        });
      } catch (error) {
        endings.push(error);
        throw error;
      }
    },
  });
  return { job, endings };
}

/** A job some worker started (and then went quiet on), written straight to the store. */
async function runningJob(
  store: MemoryJobStore,
  kind = 'course',
  steps: readonly string[] = ['fetch_questions'],
): Promise<Job> {
  const { job } = await store.createJob({
    ownerId: 'alice',
    kind,
    input: kind === 'course' ? { examId: 'x' } : {},
    steps: steps.map((name) => ({ name })),
  });
  const { job: running } = await store.commit(job.id, {
    expectedVersion: 1,
    events: [{ type: 'job_started', data: {} }],
  });
  return running;
}

async function status(base: string, jobId: string) {
  const response = await fetch(`${base}/status/${jobId}`, { headers: { 'x-user': 'alice' } });
  return (await response.json()) as { job: Job; canResume: boolean };
}

describe('stale running jobs', () => {
  it('a follower on the stream sees job_failed (worker_lost) and the stream ends', async () => {
    const clock = fakeClock();
    const { job: quiet, endings } = quietJob();
    const errors: unknown[] = [];
    server = await startServer({
      store: new MemoryJobStore({ now: clock.now }),
      jobs: [quiet],
      now: clock.now,
      staleAfterMs: 10 * MINUTE,
      onError: (error) => errors.push(error),
    });
    const { jobId } = await startJob(server.base);
    await waitFor(async () => (await server?.store.getJob(jobId))?.currentStep === 'lessons');
    const follower = readStream(server.base, jobId);
    await waitFor(() => server?.jobServer.activeStreams === 1);

    clock.advance(9 * MINUTE);
    expect((await status(server.base, jobId)).job.status).toBe('running');
    clock.advance(2 * MINUTE);
    const seen = await status(server.base, jobId);

    expect(seen.job.status).toBe('failed');
    expect(seen.canResume).toBe(true);
    expect(seen.job.error).toMatchObject({ code: 'worker_lost', step: 'lessons' });
    const read = await follower;
    expect(read.ended).toBe(true);
    expect(read.events.map((e) => e.event)).toEqual([
      'job_created',
      'job_started',
      'step_started',
      'step_completed',
      'step_started',
      'job_failed',
    ]);
    expect(JSON.parse(read.events.at(-1)?.data ?? '{}')).toMatchObject({
      data: { error: { code: 'worker_lost' }, failedStep: 'lessons' },
    });
    // The quiet worker was alive: its signal aborted and it stopped without noise.
    await waitFor(() => endings.length === 1);
    expect(endings[0]).toMatchObject({ code: 'job_finished' });
    expect(errors).toEqual([]);
  });

  it('a viewer left watching a job whose worker died gets job_failed with nobody else reading', async () => {
    const clock = fakeClock();
    const { job: quiet, endings } = quietJob();
    server = await startServer({
      store: new MemoryJobStore({ now: clock.now }),
      jobs: [quiet],
      now: clock.now,
      heartbeatMs: 20, // the watchdog looks on the heartbeat tick
      staleAfterMs: 10 * MINUTE,
    });
    const { jobId } = await startJob(server.base);
    await waitFor(async () => (await server?.store.getJob(jobId))?.currentStep === 'lessons');
    const follower = readStream(server.base, jobId);
    await waitFor(() => server?.jobServer.activeStreams === 1);
    // Quiet, but not for long enough: the stream stays open and the job running.
    clock.advance(5 * MINUTE);
    await new Promise((r) => setTimeout(r, 200));
    expect((await server.store.getJob(jobId))?.status).toBe('running');
    expect(server.jobServer.activeStreams).toBe(1);
    // No status call, no sweep, no reconnect: the open stream itself notices.
    clock.advance(6 * MINUTE);
    const read = await follower;
    expect(read.ended).toBe(true);
    expect(read.events.at(-1)?.event).toBe('job_failed');
    expect(JSON.parse(read.events.at(-1)?.data ?? '{}')).toMatchObject({
      data: { error: { code: 'worker_lost' } },
    });
    await waitFor(() => endings.length === 1);
  });

  it('opening the stream of a job whose worker died fails it first, then replays and ends', async () => {
    const clock = fakeClock();
    const store = new MemoryJobStore({ now: clock.now });
    server = await startServer({ store, now: clock.now });
    // A job left running by a process that is gone: nobody holds a tracker on it.
    const { job } = await store.createJob({
      ownerId: 'alice',
      kind: 'course',
      input: { examId: 'x' },
      steps: STEPS.map((name) => ({ name })),
    });
    await store.commit(job.id, {
      expectedVersion: 1,
      events: [
        { type: 'job_started', data: {} },
        { type: 'step_started', data: { step: 'fetch_questions', stepIndex: 1 } },
      ],
    });
    clock.advance(11 * MINUTE); // the default staleAfterMs is 10 minutes

    const read = await readStream(server.base, job.id);

    expect(read.status).toBe(200);
    expect(read.ended).toBe(true);
    expect(read.events.map((e) => e.event)).toEqual([
      'job_created',
      'job_started',
      'step_started',
      'job_failed',
    ]);
    // Resuming it runs it again to completion (quickJob).
    expect((await post(`${server.base}/resume`, { jobId: job.id })).status).toBe(202);
    await waitFor(async () => (await store.getJob(job.id))?.status === 'completed');
  });

  it('leaves a job alone while its worker writes, and when detection is off', async () => {
    const clock = fakeClock();
    const store = new MemoryJobStore({ now: clock.now });
    server = await startServer({ store, now: clock.now, staleAfterMs: false });
    const job = await runningJob(store);
    clock.advance(60 * MINUTE);
    expect((await status(server.base, job.id)).job.status).toBe('running');
    expect(await server.jobServer.sweepStaleJobs()).toEqual([]);
  });

  it('resuming a frozen job fails it as stale first, then runs it again', async () => {
    const clock = fakeClock();
    const store = new MemoryJobStore({ now: clock.now });
    server = await startServer({ store, now: clock.now });
    const job = await runningJob(store, 'course', STEPS);
    expect((await post(`${server.base}/resume`, { jobId: job.id })).status).toBe(409);
    clock.advance(11 * MINUTE);
    expect((await post(`${server.base}/resume`, { jobId: job.id })).status).toBe(202);
    await waitFor(async () => (await store.getJob(job.id))?.status === 'completed');
    const types = (await store.readEvents(job.id)).map((e) => e.type);
    expect(types.slice(0, 4)).toEqual(['job_created', 'job_started', 'job_failed', 'job_resumed']);
  });

  it('fails a job lost in dispatch when its status is read (built-in dispatcher)', async () => {
    const clock = fakeClock();
    const store = new MemoryJobStore({ now: clock.now });
    server = await startServer({ store, now: clock.now });
    const { job } = await store.createJob({
      ownerId: 'alice',
      kind: 'course',
      input: { examId: 'x' },
      steps: [{ name: 'fetch_questions' }],
    });
    clock.advance(11 * MINUTE);
    const seen = await status(server.base, job.id);
    expect(seen.job.status).toBe('failed');
    expect(seen.job.error?.code).toBe('never_started');
  });

  it('a stale job no longer holds a slot of maxActiveJobsPerOwner', async () => {
    const clock = fakeClock();
    const { job: quiet } = quietJob();
    server = await startServer({
      store: new MemoryJobStore({ now: clock.now }),
      jobs: [quiet],
      now: clock.now,
      maxActiveJobsPerOwner: 1,
    });
    const { jobId } = await startJob(server.base);
    await waitFor(async () => (await server?.store.getJob(jobId))?.status === 'running');
    expect((await post(`${server.base}/start`, {})).status).toBe(429);
    clock.advance(11 * MINUTE);
    const second = await post(`${server.base}/start`, {});
    expect(second.status).toBe(202);
    expect((await server.store.getJob(jobId))?.error?.code).toBe('worker_lost');
    const { jobId: secondId } = (await second.json()) as { jobId: string };
    await post(`${server.base}/cancel`, { jobId: secondId });
  });
});

describe('the stale-job sweep', () => {
  it('fails jobs nobody watches on a timer that does not hold the process, until close()', async () => {
    const clock = fakeClock();
    const store = new MemoryJobStore({ now: clock.now });
    const staleRunningJob = async () => {
      const job = await runningJob(store, 'quiet', ['outline']);
      clock.advance(11 * MINUTE);
      return job.id;
    };
    // Node lists only timers that keep the process alive.
    const heldTimers = () =>
      process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
    const before = heldTimers();
    const jobServer = createJobServer({
      store,
      jobs: [quietJob().job],
      authenticate: () => 'alice',
      now: clock.now,
      staleSweepIntervalMs: 10,
      onError: () => {},
    });
    expect(heldTimers()).toBe(before);

    const first = await staleRunningJob();
    await waitFor(async () => (await store.getJob(first))?.status === 'failed');
    expect((await store.getJob(first))?.error?.code).toBe('worker_lost');

    jobServer.close();
    const second = await staleRunningJob();
    await new Promise((resolve) => setTimeout(resolve, 100)); // ten sweep intervals
    expect((await store.getJob(second))?.status).toBe('running');
  });

  it('sweepStaleJobs() fails only this server’s kinds, for a cron route', async () => {
    const clock = fakeClock();
    const store = new MemoryJobStore({ now: clock.now });
    const jobServer = createJobServer({
      store,
      jobs: [quietJob().job],
      authenticate: () => 'alice',
      now: clock.now,
    });
    const ids: string[] = [];
    for (const kind of ['quiet', 'someone-elses']) {
      const job = await runningJob(store, kind, ['outline']);
      ids.push(job.id);
    }
    clock.advance(11 * MINUTE);
    const failed = await jobServer.sweepStaleJobs();
    expect(failed.map((j) => j.id)).toEqual([ids[0]]);
    expect((await store.getJob(ids[1] as string))?.status).toBe('running');
    jobServer.close();
  });

  it('a kind can set its own staleAfterMs, longer, shorter or off', async () => {
    const clock = fakeClock();
    const store = new MemoryJobStore({ now: clock.now });
    const kindWith = (kind: string, staleAfterMs?: number | false) =>
      defineJob({
        kind,
        input: z.object({}),
        steps: ['outline'],
        ...(staleAfterMs === undefined ? {} : { staleAfterMs }),
        run: () => ({}),
      });
    const jobServer = createJobServer({
      store,
      jobs: [kindWith('default'), kindWith('slow', 60 * MINUTE), kindWith('never', false)],
      authenticate: () => 'alice',
      now: clock.now,
      staleAfterMs: 10 * MINUTE,
    });
    const ids: Record<string, string> = {};
    for (const kind of ['default', 'slow', 'never']) {
      const job = await runningJob(store, kind, ['outline']);
      ids[kind] = job.id;
    }
    clock.advance(11 * MINUTE);
    expect((await jobServer.sweepStaleJobs()).map((j) => j.id)).toEqual([ids.default]);
    clock.advance(50 * MINUTE);
    expect((await jobServer.sweepStaleJobs()).map((j) => j.id)).toEqual([ids.slow]);
    // Read through the status route too: the kind's own rule applies there as well.
    const answer = await jobServer.handle(new Request(`http://x/status/${ids.never}`));
    expect(((await answer.json()) as { job: Job }).job.status).toBe('running');
    expect(() => kindWith('bad', 0)).toThrow(/staleAfterMs must be a positive number/);
    jobServer.close();
  });
});
