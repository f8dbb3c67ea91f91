import { describe, expect, it } from 'vitest';
import { isJobstreamError, JobstreamError } from './errors.js';
import type { JobEvent } from './events.js';
import { MemoryJobStore } from './memory-store.js';
import { ProgressTracker } from './progress-tracker.js';
import type { CommitRequest } from './store.js';

const STEPS = [
  { name: 'fetch', label: 'Fetching' },
  { name: 'write', label: 'Writing', weight: 3 },
];

type Fault =
  /** The store is unreachable: nothing is written. */
  | 'down'
  /** The commit is written, then the answer is lost (the connection dropped). */
  | 'answer-lost'
  /** Written, answer lost, and the client library sends it again (ioredis resends). */
  | 'resent'
  /** As `resent`, then the store is down for 300 ms (reads fail too). */
  | 'resent-then-down';

/**
 * A memory store whose next commits fail the way a store behind a network does. The
 * failures are staged in front of a real store; the one in-memory thing here is the
 * network, which the PostgreSQL and Redis outage tests cut for real.
 */
class FlakyStore extends MemoryJobStore {
  readonly faults: Fault[] = [];
  /** While true every call fails with `store_unavailable`. */
  down = false;
  commits = 0;
  /** The next this many `getJob` calls fail (a connection that drops again at once). */
  failGets = 0;

  #unavailable(): JobstreamError {
    return new JobstreamError('store_unavailable', 'connection lost');
  }

  override async commit(jobId: string, request: CommitRequest) {
    this.commits++;
    if (this.down) throw this.#unavailable();
    const fault = this.faults.shift();
    if (fault === 'down') throw this.#unavailable();
    const written = await super.commit(jobId, request);
    if (fault === 'answer-lost') throw this.#unavailable();
    if (fault === 'resent') return super.commit(jobId, request); // a conflict now
    if (fault === 'resent-then-down') {
      this.down = true;
      setTimeout(() => {
        this.down = false;
      }, 300);
      return super.commit(jobId, request); // a conflict, and the next reads fail
    }
    return written;
  }

  override async getJob(id: string) {
    if (this.down) throw this.#unavailable();
    if (this.failGets > 0) {
      this.failGets--;
      throw this.#unavailable();
    }
    return super.getJob(id);
  }

  override async readEvents(jobId: string, options?: { after?: number; limit?: number }) {
    if (this.down) throw this.#unavailable();
    return super.readEvents(jobId, options);
  }
}

async function newTracker(store: FlakyStore, storeOutageMs?: number) {
  return ProgressTracker.create<unknown, { courseId: string }, string>(
    store,
    { ownerId: 'u1', kind: 'course', input: {}, steps: STEPS },
    { coalesceMs: 0, ...(storeOutageMs === undefined ? {} : { storeOutageMs }) },
  );
}

async function types(store: MemoryJobStore, jobId: string): Promise<string[]> {
  return (await store.readEvents(jobId)).map((e: JobEvent) => e.type);
}

const RUN = [
  'job_created',
  'job_started',
  'step_started',
  'step_progress',
  'topic_started',
  'topic_completed',
  'step_completed',
  'step_started',
  'step_completed', // complete() ends the running step first
  'job_completed',
];

/** Every kind of write a job makes, in order; `before(i)` runs before write `i`. */
async function runJob(tracker: ProgressTracker<unknown, { courseId: string }, string>) {
  const writes: (() => Promise<unknown>)[] = [
    () => tracker.start(),
    () => tracker.startStep('fetch'),
    async () => {
      tracker.progress(50, 'half way');
      await tracker.flush();
    },
    () => tracker.startTopic('Cardiology', { index: 1, count: 1 }),
    () => tracker.completeTopic({ lessonsGenerated: 3 }),
    () => tracker.completeStep({ meta: { questions: 40 } }),
    () => tracker.startStep('write'),
    () => tracker.complete({ courseId: 'c1' }),
  ];
  return writes;
}

describe('ProgressTracker through a store outage', () => {
  for (const fault of ['down', 'answer-lost', 'resent', 'resent-then-down'] as const) {
    it(`writes every event exactly once when each write first meets "${fault}"`, async () => {
      const store = new FlakyStore();
      const tracker = await newTracker(store);
      for (const write of await runJob(tracker)) {
        store.faults.push(fault);
        await write();
      }
      expect(await types(store, tracker.jobId)).toEqual(RUN);
      const job = await store.getJob(tracker.jobId);
      expect(job?.status).toBe('completed');
      expect(job?.result).toEqual({ courseId: 'c1' });
      // Its own completion, seen again, is not taken for another writer ending the run.
      expect(tracker.signal.aborted).toBe(false);
    });
  }

  it('fail and cancel whose answers were lost are written once and keep their meaning', async () => {
    const store = new FlakyStore();
    const failing = await newTracker(store);
    await failing.startStep('fetch');
    store.faults.push('answer-lost');
    const failed = await failing.fail(new Error('model overloaded'));
    expect(failed.status).toBe('failed');
    expect(failed.error?.step).toBe('fetch');
    expect((await types(store, failing.jobId)).filter((t) => t === 'job_failed')).toHaveLength(1);

    const cancelling = await newTracker(store);
    await cancelling.start();
    store.faults.push('resent');
    const cancelled = await cancelling.cancel('changed my mind');
    expect(cancelled.cancelReason).toBe('changed my mind');
    expect(
      (await types(store, cancelling.jobId)).filter((t) => t === 'job_cancelled'),
    ).toHaveLength(1);
  });

  it('a batch found landed is not written again when the read after it fails', async () => {
    const store = new FlakyStore();
    const tracker = await newTracker(store);
    await tracker.startStep('fetch');
    // Written, answer lost; the tracker finds it, then re-reading the job fails once.
    store.faults.push('answer-lost');
    store.failGets = 1;
    const job = await tracker.startStep('write');
    expect(job.currentStep).toBe('write');
    // Rebuilt after the failed read, the batch differs (the step's duration grew), so
    // only the first finding said it had landed: forgetting it wrote 'write' twice.
    expect(await types(store, tracker.jobId)).toEqual([
      'job_created',
      'job_started',
      'step_started',
      'step_completed',
      'step_started',
    ]);
  });

  it('waits while the store is down and writes once it is back', async () => {
    const store = new FlakyStore();
    const tracker = await newTracker(store);
    await tracker.start();
    store.down = true;
    const writing = tracker.startStep('fetch');
    // Reads fail too: the retries keep going until the store answers.
    await new Promise((resolve) => setTimeout(resolve, 350));
    const triedWhileDown = store.commits;
    store.down = false;
    const job = await writing;
    expect(triedWhileDown).toBeGreaterThanOrEqual(2);
    expect(job.currentStep).toBe('fetch');
    expect(await types(store, tracker.jobId)).toEqual([
      'job_created',
      'job_started',
      'step_started',
    ]);
  });

  it('gives up with store_unavailable after storeOutageMs, having written nothing twice', async () => {
    const store = new FlakyStore();
    const tracker = await newTracker(store, 250);
    await tracker.start();
    store.faults.push('answer-lost');
    store.down = false;
    const writing = tracker.startStep('fetch');
    // The first send was written; every later call fails until the budget runs out.
    await new Promise((resolve) => setTimeout(resolve, 0));
    store.down = true;
    const error = await writing.then(
      () => null,
      (e: unknown) => e,
    );
    expect(isJobstreamError(error, 'store_unavailable')).toBe(true);
    store.down = false;
    expect(await types(store, tracker.jobId)).toEqual([
      'job_created',
      'job_started',
      'step_started',
    ]);
  });

  it('progress whose write gave up is written by the next write, not dropped', async () => {
    const store = new FlakyStore();
    const tracker = await newTracker(store, 250);
    await tracker.startStep('fetch');
    store.down = true;
    tracker.progress(70, 'Read 28 of 40 questions');
    const error = await tracker.flush().then(
      () => null,
      (e: unknown) => e,
    );
    expect(isJobstreamError(error, 'store_unavailable')).toBe(true);
    store.down = false;
    // The store is back: the last value reported must still reach the viewers.
    const job = await tracker.flush();
    expect(job.steps[0]?.progress).toBe(70);
    expect(job.message).toBe('Read 28 of 40 questions');
    expect(await types(store, tracker.jobId)).toEqual([
      'job_created',
      'job_started',
      'step_started',
      'step_progress',
    ]);
  });

  it('storeOutageMs: 0 rejects at once', async () => {
    const store = new FlakyStore();
    const tracker = await newTracker(store, 0);
    store.faults.push('down');
    const error = await tracker.start().then(
      () => null,
      (e: unknown) => e,
    );
    expect(isJobstreamError(error, 'store_unavailable')).toBe(true);
    expect(store.commits).toBe(1);
    // The next write goes through.
    expect((await tracker.start()).status).toBe('running');
  });

  it('a cancel written by someone else during the outage wins; the run stops', async () => {
    const store = new FlakyStore();
    const tracker = await newTracker(store);
    await tracker.startStep('fetch');
    store.faults.push('down');
    const writing = tracker.completeStep();
    // Another process, whose connection works, cancels meanwhile.
    const healthy = MemoryJobStore.prototype;
    const current = await healthy.getJob.call(store, tracker.jobId);
    await healthy.commit.call(store, tracker.jobId, {
      expectedVersion: current?.version ?? 0,
      events: [
        {
          type: 'job_cancelled',
          data: { reason: 'from another tab', cancelledAt: new Date().toISOString() },
        },
      ],
    });
    const error = await writing.then(
      () => null,
      (e: unknown) => e,
    );
    expect(isJobstreamError(error, 'job_cancelled')).toBe(true);
    expect(tracker.signal.aborted).toBe(true);
    const all = await types(store, tracker.jobId);
    expect(all.at(-1)).toBe('job_cancelled');
    expect(all).not.toContain('step_completed');
  });
});

describe('ProgressTracker stopped during a store outage', () => {
  it('a cancel heard while a write waits ends the wait: the write rejects with job_cancelled', async () => {
    const store = new FlakyStore();
    // A wait that would outlast the test: only the cancel can end it in time.
    const tracker = await newTracker(store, 60_000);
    await tracker.startStep('fetch');
    await tracker.watch();
    store.down = true; // commits and reads fail; the subscription still delivers
    const writing = tracker.completeStep().then(
      () => null,
      (e: unknown) => e,
    );
    await new Promise((resolve) => setTimeout(resolve, 150));
    const healthy = MemoryJobStore.prototype;
    const current = await healthy.getJob.call(store, tracker.jobId);
    await healthy.commit.call(store, tracker.jobId, {
      expectedVersion: current?.version ?? 0,
      events: [
        { type: 'job_cancelled', data: { reason: 'stop', cancelledAt: new Date().toISOString() } },
      ],
    });
    expect(tracker.signal.aborted).toBe(true);
    expect(isJobstreamError(await writing, 'job_cancelled')).toBe(true);
    const all = await healthy.readEvents.call(store, tracker.jobId);
    expect(all.map((e) => e.type)).not.toContain('step_completed');
  }, 5_000);
});

describe('ProgressTracker watching through a store outage', () => {
  it('a watch that failed while the store was down is set up again after the next write', async () => {
    const store = new FlakyStore();
    const tracker = await newTracker(store);
    const subscribe = store.subscribe.bind(store);
    let refused = 0;
    store.subscribe = async (jobId, listener) => {
      if (refused++ === 0) throw new JobstreamError('store_unavailable', 'connection refused');
      return subscribe(jobId, listener);
    };
    await tracker.start(); // starts watching: refused
    await tracker.startStep('fetch'); // reaches the store: watching again
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(refused).toBe(2);
    // Another process cancels; this tracker writes nothing, yet its signal fires.
    const healthy = MemoryJobStore.prototype;
    const current = await healthy.getJob.call(store, tracker.jobId);
    await healthy.commit.call(store, tracker.jobId, {
      expectedVersion: current?.version ?? 0,
      events: [
        { type: 'job_cancelled', data: { reason: null, cancelledAt: new Date().toISOString() } },
      ],
    });
    expect(tracker.signal.aborted).toBe(true);
  });
});

describe('ProgressTracker.claim', () => {
  const open = (store: FlakyStore, jobId: string) =>
    new ProgressTracker(store, jobId, { coalesceMs: 0 });

  for (const fault of [undefined, 'answer-lost', 'resent'] as const) {
    it(`two racing claims, the first commit meeting ${fault ?? 'no fault'}: exactly one wins`, async () => {
      const store = new FlakyStore();
      const { job } = await store.createJob({
        ownerId: 'u1',
        kind: 'course',
        input: {},
        steps: STEPS,
      });
      if (fault) store.faults.push(fault);
      const outcomes = await Promise.all([
        open(store, job.id).claim(),
        open(store, job.id).claim(),
      ]);
      expect(outcomes.filter(Boolean)).toHaveLength(1);
      const started = (await store.readEvents(job.id)).filter((e) => e.type === 'job_started');
      expect(started).toHaveLength(1);
      expect(started[0]?.data).toEqual({ runId: expect.any(String) });
    });
  }

  it('is false on a job that is not pending, or does not exist', async () => {
    const store = new FlakyStore();
    const tracker = await newTracker(store);
    await tracker.start();
    expect(await open(store, tracker.jobId).claim()).toBe(false);
    expect(await open(store, 'no-such-job').claim()).toBe(false);
  });
});
