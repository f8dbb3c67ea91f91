import { describe, expect, it } from 'vitest';
import { isJobstreamError } from './errors.js';
import type { JobEvent } from './events.js';
import type { Job } from './job.js';
import { MemoryJobStore } from './memory-store.js';
import { ProgressTracker } from './progress-tracker.js';
import { foldEvents } from './reduce.js';
import { failStaleJob, failStaleJobs, isJobStale } from './stale-jobs.js';
import type { JobStore } from './store.js';

const MINUTE = 60_000;
const STEPS = [{ name: 'outline' }, { name: 'lessons' }, { name: 'save' }];

/** A store on a clock the test moves by hand. */
function clockedStore() {
  let now = Date.parse('2026-01-01T10:00:00.000Z');
  const store = new MemoryJobStore({ now: () => new Date(now) });
  return {
    store,
    now: () => new Date(now),
    advance(ms: number) {
      now += ms;
    },
  };
}

function newJob(ownerId = 'alice') {
  return { ownerId, kind: 'course', input: null, steps: STEPS };
}

/** `store` with some methods replaced (MemoryJobStore's private fields rule out Object.create). */
function wrap(store: JobStore, overrides: Partial<JobStore>): JobStore {
  return {
    createJob: (job) => store.createJob(job),
    getJob: (id) => store.getJob(id),
    commit: (id, request) => store.commit(id, request),
    readEvents: (id, options) => store.readEvents(id, options),
    subscribe: (id, onEvent) => store.subscribe(id, onEvent),
    listJobs: (filter) => store.listJobs(filter),
    deleteJobs: (filter) => store.deleteJobs(filter),
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

async function expectFoldMatches(store: JobStore, job: Job) {
  const stored = await store.getJob(job.id);
  expect(foldEvents(await store.readEvents(job.id))).toEqual(stored);
}

describe('failStaleJobs', () => {
  it('fails a running job whose worker went silent, and only that one', async () => {
    const { store, now, advance } = clockedStore();
    const dead = await ProgressTracker.create(store, newJob());
    await dead.startStep('outline');
    await dead.startStep('lessons');
    dead.close(); // the process that ran it is gone
    const done = await ProgressTracker.create(store, newJob());
    await done.start();
    await done.complete(null);
    const queued = await ProgressTracker.createJob(store, newJob());
    advance(11 * MINUTE);
    const live = await ProgressTracker.create(store, newJob());
    await live.startStep('outline');

    const result = await failStaleJobs(store, { staleAfterMs: 10 * MINUTE, now: now() });

    expect(result.failed.map((j) => j.id)).toEqual([dead.jobId]);
    expect(result).toMatchObject({ skipped: 0, more: false });
    const failed = await store.getJob(dead.jobId);
    expect(failed?.status).toBe('failed');
    expect(failed?.error).toMatchObject({
      code: 'worker_lost',
      step: 'lessons',
      details: { staleAfterMs: 10 * MINUTE },
    });
    expect(failed?.error?.message).toMatch(/^This job stopped making progress 11 minutes ago /);
    expect(failed?.error?.message).toMatch(/Resume it to continue from the last finished step\.$/);
    expect(failed?.steps.map((s) => s.status)).toEqual(['completed', 'failed', 'pending']);
    const last = (await store.readEvents(dead.jobId)).at(-1) as JobEvent;
    expect(last.type === 'job_failed' && last.data.failedStep).toBe('lessons');
    await expectFoldMatches(store, failed as Job);

    expect((await store.getJob(live.jobId))?.status).toBe('running');
    expect((await store.getJob(done.jobId))?.status).toBe('completed');
    expect((await store.getJob(queued.id))?.status).toBe('pending');
    live.close();
  });

  it('fails a pending job nobody started only when pendingAfterMs is set, and it can be retried', async () => {
    const { store, now, advance } = clockedStore();
    const queued = await ProgressTracker.createJob(store, newJob());
    advance(6 * MINUTE);
    const rules = { staleAfterMs: 10 * MINUTE, now: now() };

    expect((await failStaleJobs(store, rules)).failed).toEqual([]);
    const { failed } = await failStaleJobs(store, { ...rules, pendingAfterMs: 5 * MINUTE });

    expect(failed.map((j) => [j.id, j.status, j.error?.code])).toEqual([
      [queued.id, 'failed', 'never_started'],
    ]);
    expect((await store.readEvents(queued.id)).map((e) => e.type)).toEqual([
      'job_created',
      'job_started',
      'job_failed',
    ]);
    await expectFoldMatches(store, queued);
    const retry = new ProgressTracker(store, queued.id);
    expect((await retry.resume()).status).toBe('pending');
    await retry.startStep('outline');
    expect((await retry.complete(null)).status).toBe('completed');
  });

  it('a worker that writes between the read and the failure wins, and nothing is written', async () => {
    const { store, now, advance } = clockedStore();
    const worker = await ProgressTracker.create(store, newJob(), { coalesceMs: 0 });
    await worker.startStep('outline');
    const snapshot = (await store.getJob(worker.jobId)) as Job;
    advance(20 * MINUTE);
    await worker.startStep('lessons'); // the worker was only quiet

    expect(await failStaleJob(store, snapshot, { staleAfterMs: 10 * MINUTE, now: now() })).toBe(
      null,
    );
    const job = await store.getJob(worker.jobId);
    expect(job?.status).toBe('running');
    expect(job?.currentStep).toBe('lessons');

    // The same race inside a sweep: the worker writes right after the sweep listed the job.
    advance(20 * MINUTE);
    const racing = wrap(store, {
      listJobs: async (filter) => {
        const page = await store.listJobs(filter);
        await worker.completeStep();
        return page;
      },
    });
    const result = await failStaleJobs(racing, { staleAfterMs: 10 * MINUTE, now: now() });
    expect(result).toEqual({ failed: [], skipped: 1, more: false });
    expect((await store.getJob(worker.jobId))?.status).toBe('running');
    worker.close();
  });

  it('filters by owner and kind, and stops at limit saying there is more', async () => {
    const { store, now, advance } = clockedStore();
    const ids: string[] = [];
    for (const owner of ['alice', 'alice', 'alice', 'bob']) {
      const tracker = await ProgressTracker.create(store, newJob(owner));
      await tracker.start();
      tracker.close();
      ids.push(tracker.jobId);
    }
    advance(30 * MINUTE);
    const rules = { staleAfterMs: MINUTE, now: now() };

    expect((await failStaleJobs(store, { ...rules, kind: 'other' })).failed).toEqual([]);
    const first = await failStaleJobs(store, { ...rules, ownerId: 'alice', limit: 2 });
    expect(first.failed).toHaveLength(2);
    expect(first.more).toBe(true);
    const second = await failStaleJobs(store, { ...rules, ownerId: 'alice', limit: 2 });
    expect(second.failed).toHaveLength(1);
    expect(second.more).toBe(false);
    expect((await store.getJob(ids[3] as string))?.status).toBe('running');
  });

  it('refuses rules that would fail everything or nothing by mistake', async () => {
    const store = new MemoryJobStore();
    for (const bad of [0, -1, Number.NaN, undefined]) {
      const error = await rejection(failStaleJobs(store, { staleAfterMs: bad as number }));
      expect(isJobstreamError(error, 'invalid_input')).toBe(true);
    }
    const error = await rejection(failStaleJobs(store, { staleAfterMs: 1, pendingAfterMs: 0 }));
    expect(isJobstreamError(error, 'invalid_input')).toBe(true);
  });

  it('isJobStale looks at running jobs, and pending ones only when asked', async () => {
    const { store, now, advance } = clockedStore();
    const job = await ProgressTracker.createJob(store, newJob());
    advance(5 * MINUTE);
    expect(isJobStale(job, { staleAfterMs: MINUTE, now: now() })).toBe(false);
    expect(isJobStale(job, { staleAfterMs: MINUTE, pendingAfterMs: MINUTE, now: now() })).toBe(
      true,
    );
    expect(isJobStale({ ...job, status: 'running' }, { staleAfterMs: MINUTE, now: now() })).toBe(
      true,
    );
    expect(
      isJobStale({ ...job, status: 'running' }, { staleAfterMs: 6 * MINUTE, now: now() }),
    ).toBe(false);
  });
});

describe('a live worker whose job was failed as stale', () => {
  it('aborts its signal, writes nothing more, and a retried run is left alone', async () => {
    const { store, now, advance } = clockedStore();
    const worker = await ProgressTracker.create(store, newJob(), { coalesceMs: 0 });
    await worker.start();
    await worker.startStep('lessons');
    const aborted = new Promise<unknown>((resolve) =>
      worker.signal.addEventListener('abort', () => resolve(worker.signal.reason)),
    );
    await worker.watch();
    advance(15 * MINUTE); // one very long model call

    const { failed } = await failStaleJobs(store, { staleAfterMs: 10 * MINUTE, now: now() });
    expect(failed).toHaveLength(1);
    const reason = await aborted;
    expect(isJobstreamError(reason, 'job_finished')).toBe(true);
    expect((reason as Error).message).toMatch(/worker_lost/);

    // The user retries; a new worker runs the job.
    const retry = new ProgressTracker(store, worker.jobId, { coalesceMs: 0 });
    await retry.resume();
    await retry.startStep('lessons');

    // The old worker's model call returns: every write it tries is refused.
    worker.progress(90);
    expect(await rejection(worker.completeStep())).toBe(reason);
    expect(await rejection(worker.complete({ courseId: 'stale' }))).toBe(reason);
    expect(await rejection(worker.fail(new Error('late')))).toBe(reason);

    const job = await retry.complete({ courseId: 'fresh' });
    expect(job.result).toEqual({ courseId: 'fresh' });
    const types = (await store.readEvents(worker.jobId)).map((e) => e.type);
    expect(types).toEqual([
      'job_created',
      'job_started',
      'step_started',
      'job_failed',
      'job_resumed',
      'job_started',
      'step_started',
      'step_completed',
      'job_completed',
    ]);
    await expectFoldMatches(store, job);
    expect(store.listenerCount()).toBe(0);
  });

  it('stops on its next write even when it never heard the failure', async () => {
    const { store, now, advance } = clockedStore();
    // A store whose live delivery dropped everything (the contract allows a skip).
    const deaf = wrap(store, { subscribe: async () => () => {} });
    const worker = await ProgressTracker.create(deaf, newJob(), { coalesceMs: 0 });
    await worker.startStep('outline');
    advance(15 * MINUTE);
    await failStaleJobs(store, { staleAfterMs: 10 * MINUTE, now: now() });
    // Failed, resumed and already running again under a new worker.
    const retry = new ProgressTracker(store, worker.jobId, { coalesceMs: 0 });
    await retry.resume();
    await retry.startStep('outline');
    const versionBefore = (await store.getJob(worker.jobId))?.version;

    const error = await rejection(worker.startStep('lessons'));

    expect(isJobstreamError(error, 'job_finished')).toBe(true);
    expect(worker.signal.aborted).toBe(true);
    expect(worker.signal.reason).toBe(error);
    expect((await store.getJob(worker.jobId))?.version).toBe(versionBefore);
    expect((await store.getJob(worker.jobId))?.currentStep).toBe('outline');
    retry.close();
  });

  it('its own failure and completion do not abort its signal', async () => {
    const store = new MemoryJobStore();
    const worker = await ProgressTracker.create(store, newJob());
    await worker.startStep('outline');
    await worker.watch();
    await worker.fail(new Error('model refused'));
    expect(worker.signal.aborted).toBe(false);
    await worker.resume();
    await worker.startStep('outline');
    await worker.complete(null);
    expect(worker.signal.aborted).toBe(false);
  });
});
