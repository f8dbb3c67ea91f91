/**
 * The conformance suite every `JobStore` adapter runs. An adapter that passes it is
 * correct as far as jobstream relies on it.
 *
 * @example
 * // my-store.test.ts
 * import { runJobStoreConformance } from '@jobstream/core/testing';
 * runJobStoreConformance({ name: 'MyStore', create: () => new MyStore(url), cleanup: (s) => s.close() });
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isJobstreamError } from './errors.js';
import type { JobEvent } from './events.js';
import { followJob } from './follow-job.js';
import type { NewJob } from './job.js';
import { failStaleJobs, WORKER_LOST } from './stale-jobs.js';
import type { JobStore } from './store.js';

export { type JobStoreOutageOptions, runJobStoreOutage } from './testing-outage.js';

export interface JobStoreConformanceOptions<S extends JobStore = JobStore> {
  /** Shown in the test names. */
  name: string;
  /** A store on a clean (or at least private) data set. Called once per test file. */
  create: () => S | Promise<S>;
  /** Closes connections; called once after all cases. */
  cleanup?: (store: S) => void | Promise<void>;
  /**
   * A second store on the same data, as another process would open it (fan-out across
   * instances). Omit for single-process stores such as `MemoryJobStore`.
   */
  createPeer?: (store: S) => JobStore | Promise<JobStore>;
  /** Live listener count, to prove unsubscribing leaks nothing. Omit if not observable. */
  listenerCount?: (store: S) => number | Promise<number>;
  /** How long to wait for live events. @default 10_000 */
  timeoutMs?: number;
  /**
   * Time limit of each case. Generous by default: adapters talk to real servers, and CI
   * runs every package's tests at once on small machines. @default 60_000
   */
  testTimeoutMs?: number;
}

const STEPS = [
  { name: 'fetch_questions', label: 'Fetching questions', weight: 1 },
  { name: 'generate_lessons', label: 'Writing lessons', weight: 3 },
  { name: 'save_course', label: 'Saving', weight: 1 },
];

let ownerCounter = 0;
function newJob(overrides: Partial<NewJob> = {}): NewJob {
  ownerCounter += 1;
  return {
    ownerId: `owner-${process.pid}-${Date.now()}-${ownerCounter}`,
    kind: 'course',
    input: { examId: 'exam-1' },
    steps: STEPS,
    ...overrides,
  };
}

async function startedJob(store: JobStore, overrides: Partial<NewJob> = {}) {
  const { job } = await store.createJob(newJob(overrides));
  const { job: running } = await store.commit(job.id, {
    expectedVersion: job.version,
    events: [
      { type: 'job_started', data: {} },
      { type: 'step_started', data: { step: 'fetch_questions', stepIndex: 1 } },
    ],
  });
  return running;
}

function progressDraft(pct: number) {
  return {
    type: 'step_progress' as const,
    data: { step: 'fetch_questions', progress: pct / 5, stepProgress: pct },
  };
}

/** Commit `count` progress events one by one (retrying lost races), like a worker would. */
async function writeProgress(store: JobStore, jobId: string, count: number) {
  for (let i = 0; i < count; i++) {
    for (;;) {
      const job = await store.getJob(jobId);
      try {
        await store.commit(jobId, {
          expectedVersion: job!.version,
          events: [progressDraft((i % 100) + 0)],
        });
        break;
      } catch (error) {
        if (!isJobstreamError(error, 'conflict')) {
          throw new Error(
            `A writer racing others retries only on code 'conflict', and a commit on a version another writer just took ${describeOutcome({ rejected: error })}`,
            { cause: error },
          );
        }
      }
    }
  }
}

async function collect(iterable: AsyncIterable<JobEvent>, timeoutMs: number): Promise<JobEvent[]> {
  const events: JobEvent[] = [];
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(
      () =>
        reject(
          new Error(
            `followJob did not end within ${timeoutMs} ms; it had received ids [${events
              .map((e) => e.id)
              .join(', ')}]. The terminal event was committed through another store ` +
              '(createPeer) or after subscribe resolved: does subscribe deliver those?',
          ),
        ),
      timeoutMs,
    ).unref?.(),
  );
  await Promise.race([
    (async () => {
      for await (const event of iterable) events.push(event);
    })(),
    timeout,
  ]);
  return events;
}

function expectContiguous(events: JobEvent[], from = 1) {
  expect(
    events.map((e) => e.id),
    `readEvents must return ids ${from}, ${from + 1}, … with no gap or repeat`,
  ).toEqual(events.map((_, i) => from + i));
}

/** What an outcome was, for a failure message: the code of a JobstreamError, else its kind. */
function describeOutcome(outcome: { resolved: unknown } | { rejected: unknown }): string {
  if ('resolved' in outcome) return 'it resolved instead of rejecting';
  const error = outcome.rejected;
  if (isJobstreamError(error)) return `it rejected with code '${error.code}': ${error.message}`;
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return `it rejected with ${text}, which is not a JobstreamError (throw ConflictError or new JobstreamError(code, message) from @jobstream/core, or let prepareCreate/prepareCommit throw)`;
}

/** Awaits `promise` and checks that it rejected with a JobstreamError of `code`. */
async function expectRejectsWith(promise: Promise<unknown>, code: string, what: string) {
  let outcome: { resolved: unknown } | { rejected: unknown };
  try {
    outcome = { resolved: await promise };
  } catch (error) {
    outcome = { rejected: error };
  }
  const ok = 'rejected' in outcome && isJobstreamError(outcome.rejected, code as never);
  expect(
    ok,
    `${what} must reject with a JobstreamError of code '${code}'; ${describeOutcome(outcome)}`,
  ).toBe(true);
}

export function runJobStoreConformance<S extends JobStore>(
  options: JobStoreConformanceOptions<S>,
): void {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const testTimeoutMs = options.testTimeoutMs ?? 60_000;
  describe(`JobStore conformance: ${options.name}`, { timeout: testTimeoutMs }, () => {
    let store: S;
    let peer: JobStore | undefined;
    /** Every job in the store was made after this (the store is the suite's own). */
    let suiteStartedAt = 0;

    beforeAll(async () => {
      suiteStartedAt = Date.now();
      store = await options.create();
      peer = options.createPeer ? await options.createPeer(store) : undefined;
    }, 60_000);
    afterAll(async () => {
      if (peer && peer !== store && 'close' in peer && typeof peer.close === 'function')
        await peer.close();
      if (store) await options.cleanup?.(store);
    }, 60_000);

    it('createJob writes job_created as event 1 and the record is its fold', async () => {
      const { job, event } = await store.createJob(newJob({ estimatedDuration: 90_000 }));
      expect(event).toMatchObject({ id: 1, jobId: job.id, type: 'job_created' });
      expect(job).toMatchObject({
        status: 'pending',
        version: 1,
        totalSteps: 3,
        currentStepIndex: 0,
        progress: 0,
      });
      expect(job.estimatedDuration).toBe(90_000);
      expect(await store.getJob(job.id)).toEqual(job);
      expect(await store.readEvents(job.id)).toEqual([event]);
    });

    it('getJob answers null for an unknown id', async () => {
      expect(await store.getJob('00000000-0000-4000-8000-000000000000')).toBeNull();
    });

    it('createJob rejects invalid input with invalid_input and writes nothing', async () => {
      const owner = `bad-${Date.now()}`;
      await expectRejectsWith(
        store.createJob({ ...newJob(), ownerId: owner, steps: [] }),
        'invalid_input',
        'createJob with no steps',
      );
      expect((await store.listJobs({ ownerId: owner })).jobs).toEqual([]);
    });

    it('createJob with an id that exists rejects with conflict', async () => {
      const { job } = await store.createJob(newJob());
      await expectRejectsWith(
        store.createJob({ ...newJob(), id: job.id }),
        'conflict',
        'createJob with an id that exists',
      );
      expect(
        await store.getJob(job.id),
        'a createJob rejected for a taken id must leave the existing job untouched',
      ).toEqual(job);
      expect(
        await store.readEvents(job.id),
        'a createJob rejected for a taken id must write no event',
      ).toHaveLength(1);
    });

    it('commit appends contiguous ids and stores the folded job', async () => {
      const job = await startedJob(store);
      expect(job.version).toBe(3);
      const { job: after, events } = await store.commit(job.id, {
        expectedVersion: 3,
        events: [progressDraft(50), progressDraft(80)],
      });
      expect(events.map((e) => e.id)).toEqual([4, 5]);
      expect(after.version).toBe(5);
      expect(after.steps[0]?.progress).toBe(80);
      expect(await store.getJob(job.id)).toEqual(after);
      const all = await store.readEvents(job.id);
      expectContiguous(all);
      expect(all.map((e) => e.type)).toEqual([
        'job_created',
        'job_started',
        'step_started',
        'step_progress',
        'step_progress',
      ]);
    });

    it('a stale expectedVersion rejects with a conflict and writes nothing', async () => {
      const job = await startedJob(store);
      await store.commit(job.id, { expectedVersion: job.version, events: [progressDraft(10)] });
      await expectRejectsWith(
        store.commit(job.id, { expectedVersion: job.version, events: [progressDraft(20)] }),
        'conflict',
        `commit with expectedVersion ${job.version} on a job at version ${job.version + 1}`,
      );
      const events = await store.readEvents(job.id);
      expect(events).toHaveLength(job.version + 1);
      expect((await store.getJob(job.id))?.steps[0]?.progress).toBe(10);
    });

    it('a forbidden transition rejects with invalid_transition and writes nothing, even mid-batch', async () => {
      const { job } = await store.createJob(newJob());
      await expectRejectsWith(
        store.commit(job.id, {
          expectedVersion: 1,
          events: [
            { type: 'job_started', data: {} },
            { type: 'job_resumed', data: {} },
          ],
        }),
        'invalid_transition',
        'commit of job_resumed on a running job',
      );
      expect(await store.getJob(job.id)).toEqual(job);
      expect(await store.readEvents(job.id)).toHaveLength(1);
    });

    it('an event that fails its schema rejects with invalid_event and writes nothing', async () => {
      const job = await startedJob(store);
      await expectRejectsWith(
        store.commit(job.id, {
          expectedVersion: job.version,
          events: [
            {
              type: 'step_progress',
              data: { step: 'fetch_questions', progress: 500, stepProgress: Number.NaN },
            } as never,
          ],
        }),
        'invalid_event',
        'commit of a step_progress with progress 500 and stepProgress NaN',
      );
      expect((await store.getJob(job.id))?.version).toBe(job.version);
    });

    it('commit to an unknown job rejects with not_found', async () => {
      await expectRejectsWith(
        store.commit('00000000-0000-4000-8000-000000000001', {
          expectedVersion: 1,
          events: [{ type: 'job_started', data: {} }],
        }),
        'not_found',
        'commit to a job that does not exist (pass null to prepareCommit)',
      );
    });

    it('of two concurrent commits on the same version exactly one wins', async () => {
      const job = await startedJob(store);
      const results = await Promise.allSettled([
        store.commit(job.id, { expectedVersion: job.version, events: [progressDraft(30)] }),
        (peer ?? store).commit(job.id, {
          expectedVersion: job.version,
          events: [progressDraft(60)],
        }),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled').length;
      expect(
        won,
        won === 2
          ? `both commits on version ${job.version} succeeded: the version check must happen inside the atomic write`
          : `neither commit on version ${job.version} succeeded: ${results
              .map((r) => (r.status === 'rejected' ? describeOutcome({ rejected: r.reason }) : ''))
              .join('; ')}`,
      ).toBe(1);
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(
        isJobstreamError(rejected.reason, 'conflict'),
        `the losing commit must reject with code 'conflict'; ${describeOutcome({ rejected: rejected.reason })}`,
      ).toBe(true);
      const events = await store.readEvents(job.id);
      expectContiguous(events);
      expect(events).toHaveLength(job.version + 1);
    });

    it('many racing writers leave contiguous ids and a record equal to the fold', async () => {
      const job = await startedJob(store);
      await Promise.all([
        writeProgress(store, job.id, 15),
        writeProgress(peer ?? store, job.id, 15),
        writeProgress(store, job.id, 15),
      ]);
      const events = await store.readEvents(job.id);
      expectContiguous(events);
      expect(
        events.length,
        `45 commits succeeded after version ${job.version}, so ${job.version + 45} events must be stored; fewer means two commits won on one version (the version check is not atomic with the write) and one overwrote the other`,
      ).toBe(job.version + 45);
      expect(
        (await store.getJob(job.id))?.version,
        'the stored job must be at the version of its last event',
      ).toBe(job.version + 45);
    });

    it('readEvents honours after and limit', async () => {
      const job = await startedJob(store);
      for (let i = 1; i <= 5; i++) {
        await store.commit(job.id, {
          expectedVersion: job.version + i - 1,
          events: [progressDraft(i * 10)],
        });
      }
      const page = await store.readEvents(job.id, { after: 2, limit: 3 });
      expect(page.map((e) => e.id)).toEqual([3, 4, 5]);
      expect(await store.readEvents(job.id, { after: 8 })).toEqual([]);
      expect(await store.readEvents('00000000-0000-4000-8000-000000000002')).toEqual([]);
    });

    it('a follower that joins during heavy writing receives every event once, in order', async () => {
      const job = await startedJob(store);
      const writer = writeProgress(store, job.id, 120);
      await new Promise((r) => setTimeout(r, 5));
      const following = collect(followJob(peer ?? store, job.id, { after: 0 }), timeoutMs);
      await writer;
      const latest = await store.getJob(job.id);
      await store.commit(job.id, {
        expectedVersion: latest!.version,
        events: [
          { type: 'job_completed', data: { result: { courseId: 'c1' }, totalDuration: 10 } },
        ],
      });
      const events = await following;
      expectContiguous(events);
      expect(events).toHaveLength(latest!.version + 1);
      expect(events.at(-1)?.type).toBe('job_completed');
    });

    it('followJob resumes after an id and ends after a terminal event', async () => {
      const job = await startedJob(store);
      const following = collect(followJob(peer ?? store, job.id, { after: 2 }), timeoutMs);
      await new Promise((r) => setTimeout(r, 20));
      await store.commit(job.id, {
        expectedVersion: job.version,
        events: [
          {
            type: 'job_cancelled',
            data: { reason: 'user', cancelledAt: new Date().toISOString() },
          },
        ],
      });
      const events = await following;
      expect(events.map((e) => e.id)).toEqual([3, 4]);
      expect(events.at(-1)?.type).toBe('job_cancelled');
      // A finished job with nothing newer ends at once.
      expect(await collect(followJob(store, job.id, { after: 4 }), timeoutMs)).toEqual([]);
    });

    it('followJob of an unknown job rejects with not_found', async () => {
      await expectRejectsWith(
        collect(followJob(store, '00000000-0000-4000-8000-000000000003'), timeoutMs),
        'not_found',
        'followJob of a job that does not exist (getJob must answer null)',
      );
    });

    it('subscribe delivers live events in id order', async () => {
      const job = await startedJob(store);
      const seen: number[] = [];
      const unsubscribe = await (peer ?? store).subscribe(job.id, (e) => seen.push(e.id));
      for (let i = 0; i < 10; i++) {
        await store.commit(job.id, {
          expectedVersion: job.version + i,
          events: [progressDraft(i)],
        });
      }
      const deadline = Date.now() + timeoutMs;
      while (seen.length < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      unsubscribe();
      expect(
        seen,
        `subscribe${peer ? ' on the peer store (createPeer)' : ''} must deliver the 10 events committed after it resolved, in id order, within ${timeoutMs} ms`,
      ).toEqual(Array.from({ length: 10 }, (_, i) => job.version + 1 + i));
    });

    it('a listener that throws neither fails the commit nor keeps events from other listeners', async () => {
      const job = await startedJob(store);
      const seen: number[] = [];
      const source = peer ?? store;
      const offThrowing = await source.subscribe(job.id, () => {
        throw new Error('a subscriber bug');
      });
      const offSeeing = await source.subscribe(job.id, (e) => seen.push(e.id));
      try {
        for (let i = 0; i < 3; i++) {
          await store.commit(job.id, {
            expectedVersion: job.version + i,
            events: [progressDraft(i)],
          });
        }
        const deadline = Date.now() + timeoutMs;
        while (seen.length < 3 && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 10));
      } finally {
        offThrowing();
        offSeeing();
      }
      expect(
        seen,
        'the listener subscribed after one that throws must still get every event: catch what a listener throws (a subscriber bug must not undo or block a committed write)',
      ).toEqual([job.version + 1, job.version + 2, job.version + 3]);
      expect((await store.getJob(job.id))?.version).toBe(job.version + 3);
    });

    it('subscribing to a job before it exists works: the subscription gets its later events', async () => {
      const id = crypto.randomUUID();
      const seen: number[] = [];
      // What followJob does for a job another process is about to create.
      const unsubscribe = await (peer ?? store).subscribe(id, (e) => seen.push(e.id));
      try {
        const { job } = await store.createJob({ ...newJob(), id });
        await store.commit(id, {
          expectedVersion: job.version,
          events: [{ type: 'job_started', data: {} }],
        });
        const deadline = Date.now() + timeoutMs;
        while (!seen.includes(2) && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 10));
      } finally {
        unsubscribe();
      }
      expect(
        seen.filter((n) => n >= 2),
        'subscribe to an id with no job yet must resolve and then deliver the events committed once the job exists',
      ).toEqual([2]);
    });

    it('listJobs rejects a cursor it did not make with invalid_input', async () => {
      await expectRejectsWith(
        store.listJobs({ cursor: 'not-a-cursor' }),
        'invalid_input',
        "listJobs({ cursor: 'not-a-cursor' }) (decodeCursor does the check)",
      );
    });

    it('unsubscribing 1,000 times leaves no listener behind', async () => {
      const job = await startedJob(store);
      const before = options.listenerCount ? await options.listenerCount(store) : 0;
      for (let i = 0; i < 1000; i++) {
        const unsubscribe = await store.subscribe(job.id, () => {});
        unsubscribe();
      }
      if (options.listenerCount) {
        expect(
          await options.listenerCount(store),
          `listenerCount before 1,000 subscribe/unsubscribe cycles was ${before}; the unsubscribe function must release every listener`,
        ).toBe(before);
      }
      // Events committed after unsubscribing reach no one.
      let called = 0;
      const unsubscribe = await store.subscribe(job.id, () => called++);
      unsubscribe();
      await store.commit(job.id, { expectedVersion: job.version, events: [progressDraft(5)] });
      await new Promise((r) => setTimeout(r, 50));
      expect(called, 'a listener was called after its unsubscribe function returned').toBe(0);
    });

    it('50 jobs written concurrently stay independent', async () => {
      const owner = `owner-many-${Date.now()}`;
      const jobs = await Promise.all(
        Array.from({ length: 50 }, () => startedJob(store, { ownerId: owner })),
      );
      await Promise.all(
        jobs.map(async (job, n) => {
          for (let i = 0; i < n % 5; i++) {
            await store.commit(job.id, {
              expectedVersion: job.version + i,
              events: [progressDraft(i)],
            });
          }
        }),
      );
      for (const [n, job] of jobs.entries()) {
        const events = await store.readEvents(job.id);
        expectContiguous(events);
        expect(events).toHaveLength(job.version + (n % 5));
        expect(events.every((e) => e.jobId === job.id)).toBe(true);
      }
    });

    it('listJobs filters by owner and status and pages with a cursor, newest first', async () => {
      const owner = `owner-list-${Date.now()}`;
      const created: string[] = [];
      for (let i = 0; i < 7; i++) {
        const { job } = await store.createJob(newJob({ ownerId: owner }));
        created.push(job.id);
        await new Promise((r) => setTimeout(r, 2));
      }
      await startedJob(store, { ownerId: `${owner}-other` });
      const first = await store.commit(created[0]!, {
        expectedVersion: 1,
        events: [{ type: 'job_started', data: {} }],
      });
      expect(first.job.status).toBe('running');

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await store.listJobs({ ownerId: owner, limit: 3, cursor });
        expect(page.jobs.length).toBeLessThanOrEqual(3);
        seen.push(...page.jobs.map((j) => j.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(
        seen,
        `listJobs pages (limit 3, following nextCursor) must hold the owner's 7 jobs once each, newest first by (createdAt, id), got ${seen.length}`,
      ).toEqual([...created].reverse());

      const running = await store.listJobs({ ownerId: owner, status: 'running' });
      expect(
        running.jobs.map((j) => j.id),
        "listJobs({ status: 'running' })",
      ).toEqual([created[0]]);
      const pending = await store.listJobs({ ownerId: owner, status: ['pending'] });
      expect(pending.jobs, "listJobs({ status: ['pending'] })").toHaveLength(6);
    });

    it('failStaleJobs fails each abandoned running job exactly once, even with two sweepers racing', async () => {
      const owner = `owner-stale-${Date.now()}`;
      const abandoned = await Promise.all(
        [1, 2, 3].map(() => startedJob(store, { ownerId: owner })),
      );
      await store.createJob(newJob({ ownerId: owner })); // pending: left alone by default
      const rules = { staleAfterMs: 60_000, ownerId: owner };
      // Nothing is stale yet.
      expect((await failStaleJobs(store, rules)).failed).toEqual([]);
      // Ten minutes on, two sweepers (two instances) race over the same jobs.
      const later = { ...rules, now: new Date(Date.now() + 600_000) };
      const [a, b] = await Promise.all([
        failStaleJobs(peer ?? store, later),
        failStaleJobs(store, later),
      ]);
      const failed = [...a.failed, ...b.failed].map((j) => j.id).sort();
      expect(
        failed,
        failed.length > abandoned.length
          ? 'a job was failed by both sweepers: the commit version check must be atomic across stores'
          : "each abandoned job must be failed once: failStaleJobs finds them with listJobs({ status: 'running' })",
      ).toEqual(abandoned.map((j) => j.id).sort());
      for (const job of abandoned) {
        const stored = await store.getJob(job.id);
        expect(stored?.status).toBe('failed');
        expect(stored?.error?.code).toBe(WORKER_LOST);
        const events = await store.readEvents(job.id);
        expectContiguous(events);
        expect(events.filter((e) => e.type === 'job_failed')).toHaveLength(1);
      }
      const left = await store.listJobs({ ownerId: owner, status: ['pending'] });
      expect(left.jobs).toHaveLength(1);
    });

    it('deleteJobs removes finished jobs older than the cutoff with their events, and only those', async () => {
      const owner = `owner-retention-${Date.now()}`;
      const finished = await startedJob(store, { ownerId: owner });
      await store.commit(finished.id, {
        expectedVersion: finished.version,
        events: [{ type: 'job_completed', data: { result: null, totalDuration: 1 } }],
      });
      const running = await startedJob(store, { ownerId: owner });
      const { job: pending } = await store.createJob(newJob({ ownerId: owner }));

      expect(
        // Not "a minute ago": on a slow machine earlier cases' jobs finished longer ago.
        await store.deleteJobs({ finishedBefore: new Date(suiteStartedAt - 1000) }),
        'deleteJobs with a cutoff before every completedAt',
      ).toBe(0);
      await new Promise((r) => setTimeout(r, 5));
      const deleted = await store.deleteJobs({ finishedBefore: new Date(Date.now() + 1000) });
      expect(deleted, 'deleteJobs must return how many jobs it deleted').toBeGreaterThanOrEqual(1);
      expect(await store.getJob(finished.id)).toBeNull();
      expect(await store.readEvents(finished.id)).toEqual([]);
      expect(await store.getJob(running.id)).not.toBeNull();
      expect(await store.getJob(pending.id)).not.toBeNull();
      await expectRejectsWith(
        store.deleteJobs({ finishedBefore: 'not a date' }),
        'invalid_input',
        "deleteJobs({ finishedBefore: 'not a date' }) (toDate does the check)",
      );
    });
  });
}
