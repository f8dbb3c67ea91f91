import {
  type EventDraft,
  followJob,
  type JobEvent,
  ProgressTracker,
  prepareCommit,
} from '@jobstream/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresJobStore } from '../src/index.js';
import { createTestDatabase, skipReason, type TestDatabase } from './test-database.js';

const steps = [
  { name: 'fetch_questions', label: 'Fetching questions' },
  { name: 'generate_lessons', label: 'Writing lessons', weight: 3 },
];

async function until(check: () => boolean | Promise<boolean>, what: string) {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Two stores, each with its own pool and LISTEN connection, stand for two server instances.
for (const notify of ['after-commit', 'in-transaction'] as const) {
  describe.skipIf(skipReason !== null)(
    `fan-out across stores on one database, notify ${notify}`,
    () => {
      let database: TestDatabase;
      let a: PostgresJobStore;
      let b: PostgresJobStore;

      beforeAll(async () => {
        database = await createTestDatabase('jobstream_fanout');
        a = new PostgresJobStore({ connectionString: database.url, notify });
        await a.migrate();
        // B also runs without prepared statements, as behind a transaction-mode pooler, and
        // without the catch-up poll, so only notifications (and reconnects) wake it here.
        b = new PostgresJobStore({
          connectionString: database.url,
          notify,
          reconnectDelayMs: 1000,
          preparedStatements: false,
          catchUpIntervalMs: 0,
        });
      }, 60_000);
      afterAll(async () => {
        await a?.close();
        await b?.close();
        await database?.drop();
      });

      async function listenerPids(): Promise<number[]> {
        const { rows } = await database.admin.query<{ pid: number }>(
          `select pid from pg_stat_activity
       where datname = current_database() and application_name = 'jobstream-listener'`,
        );
        return rows.map((r) => r.pid);
      }

      it('a tracker on A and a follower on B: B gets every event once, in order; a cancel through B stops A', async () => {
        const tracker = await ProgressTracker.create(
          a,
          { ownerId: 'u1', kind: 'course', input: { examId: 'e1' }, steps },
          { coalesceMs: 0 },
        );
        const received: JobEvent[] = [];
        const following = (async () => {
          for await (const event of followJob(b, tracker.jobId)) received.push(event);
        })();

        await tracker.start();
        await tracker.startStep('fetch_questions');
        for (let i = 1; i <= 20; i++) {
          tracker.progress(i * 5);
          await tracker.flush();
        }
        await tracker.completeStep();
        await tracker.startStep('generate_lessons');
        const aborted = new Promise<unknown>((resolve) =>
          tracker.signal.addEventListener('abort', () => resolve(tracker.signal.reason), {
            once: true,
          }),
        );
        await tracker.watch();

        // The cancel comes from the other instance.
        const canceller = new ProgressTracker(b, tracker.jobId);
        await canceller.cancel('user closed the tab');

        const reason = (await aborted) as { code?: string };
        expect(reason.code).toBe('job_cancelled');
        await following;

        const stored = await a.readEvents(tracker.jobId);
        expect(received).toEqual(stored);
        expect(received.map((e) => e.id)).toEqual(received.map((_, i) => i + 1));
        expect(received.at(-1)?.type).toBe('job_cancelled');
        expect(received.filter((e) => e.type === 'step_progress')).toHaveLength(20);
        tracker.close();
      });

      it('30 jobs committing at once on A: B gets every event of each once, in order', async () => {
        const batchesBefore = a.notifyBatches;
        const jobs = await Promise.all(
          Array.from({ length: 30 }, () =>
            a.createJob({ ownerId: 'u5', kind: 'course', input: {}, steps }),
          ),
        );
        const seen = new Map<string, number[]>(jobs.map(({ job }) => [job.id, []]));
        const offs = await Promise.all(
          jobs.map(({ job }) => b.subscribe(job.id, (e) => seen.get(job.id)?.push(e.id))),
        );
        const commits = 20;
        await Promise.all(
          jobs.map(async ({ job }) => {
            let version = job.version;
            for (let i = 1; i <= commits; i++) {
              const events: EventDraft[] =
                i === 1
                  ? [{ type: 'job_started', data: {} }]
                  : [{ type: 'topic_started', data: { topicName: `t${i}`, topicIndex: i } }];
              version = (await a.commit(job.id, { expectedVersion: version, events })).job.version;
            }
          }),
        );
        const expected = Array.from({ length: commits }, (_, i) => i + 2);
        await until(
          () => [...seen.values()].every((ids) => ids.length >= commits),
          'every event on B',
        );
        await new Promise((r) => setTimeout(r, 100)); // nothing more, no duplicate, arrives
        for (const off of offs) off();
        for (const ids of seen.values()) expect(ids).toEqual(expected);
        const sent = a.notifyBatches - batchesBefore;
        if (notify === 'after-commit') {
          // Batched: far fewer notifying statements than the 630 writes.
          expect(sent).toBeGreaterThan(0);
          expect(sent).toBeLessThan(jobs.length * (commits + 1));
        } else {
          expect(sent).toBe(0);
        }
      });

      it('after its listening connection is killed, a store reconnects and delivers what it missed', async () => {
        const { job } = await a.createJob({ ownerId: 'u2', kind: 'course', input: {}, steps });
        const seen: number[] = [];
        const unsubscribe = await b.subscribe(job.id, (e) => seen.push(e.id));
        let version = job.version;
        const commit = async () => {
          const res = await a.commit(job.id, {
            expectedVersion: version,
            events: [
              version === 1
                ? { type: 'job_started', data: {} }
                : {
                    type: 'topic_started',
                    data: { topicName: `t${version}`, topicIndex: version },
                  },
            ],
          });
          version = res.job.version;
        };
        await commit();
        await until(() => seen.length === 1, 'the first event');

        const before = b.reconnects;
        const pids = await listenerPids();
        expect(pids.length).toBeGreaterThanOrEqual(1);
        await database.admin.query('select pg_terminate_backend(pid) from unnest($1::int[]) pid', [
          pids,
        ]);
        // Written while B (and A) have no listener: nobody is notified of these.
        for (let i = 0; i < 5; i++) await commit();
        // B waits a second before reconnecting, so these were surely missed live.
        expect(b.reconnects).toBe(before);

        await until(() => b.reconnects > before, 'B to reconnect');
        for (let i = 0; i < 5; i++) await commit();
        await until(() => seen.length >= 11, 'every event');
        await new Promise((r) => setTimeout(r, 100));
        unsubscribe();
        expect(seen).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        expect((await listenerPids()).length).toBeGreaterThanOrEqual(1);
      });

      it('notifications carry a pointer, not the event: a 200 KB payload is delivered', async () => {
        const { job } = await a.createJob({ ownerId: 'u3', kind: 'course', input: {}, steps });
        await a.commit(job.id, {
          expectedVersion: 1,
          events: [
            { type: 'job_started', data: {} },
            { type: 'step_started', data: { step: 'fetch_questions', stepIndex: 1 } },
          ],
        });
        const got: JobEvent[] = [];
        const unsubscribe = await b.subscribe(job.id, (e) => got.push(e));
        const big = 'x'.repeat(200_000);
        await a.commit(job.id, {
          expectedVersion: 3,
          events: [{ type: 'job_completed', data: { result: { big }, totalDuration: 1 } }],
        });
        await until(() => got.length === 1, 'the large event');
        unsubscribe();
        expect(got[0]).toMatchObject({ id: 4, type: 'job_completed', data: { result: { big } } });
      });

      it('unsubscribing releases the job: later commits reach no one and no feed is kept', async () => {
        const { job } = await a.createJob({ ownerId: 'u4', kind: 'course', input: {}, steps });
        const calls: number[] = [];
        const offs = await Promise.all(
          Array.from({ length: 3 }, () => b.subscribe(job.id, (e) => calls.push(e.id))),
        );
        expect(b.listenerCount()).toBe(3);
        for (const off of offs) off();
        expect(b.listenerCount()).toBe(0);
        await a.commit(job.id, { expectedVersion: 1, events: [{ type: 'job_started', data: {} }] });
        await new Promise((r) => setTimeout(r, 200));
        expect(calls).toEqual([]);
      });
    },
  );
}

// A writer that committed and died before its after-commit notification leaves exactly
// this behind: the rows, and no notification. Subscribers elsewhere must still get them.
describe.skipIf(skipReason !== null)('events nobody notified', () => {
  let database: TestDatabase;
  let writer: PostgresJobStore;

  beforeAll(async () => {
    database = await createTestDatabase('jobstream_catchup');
    writer = new PostgresJobStore({ connectionString: database.url });
    await writer.migrate();
  }, 60_000);
  afterAll(async () => {
    await writer?.close();
    await database?.drop();
  });

  async function commitSilently(jobId: string, version: number, events: never[]) {
    const current = await writer.getJob(jobId);
    const { job, events: stored } = prepareCommit(current, jobId, version, events, new Date());
    await database.admin.query(
      'select public.jobstream_commit($1, $2, $3::jsonb, $4::jsonb, p_notify => false)',
      [jobId, version, JSON.stringify(job), JSON.stringify(stored)],
    );
    return job.version;
  }

  it('are delivered by the catch-up poll, once and in order, before any later commit', async () => {
    const follower = new PostgresJobStore({
      connectionString: database.url,
      catchUpIntervalMs: 200,
    });
    try {
      const { job } = await writer.createJob({ ownerId: 'u6', kind: 'course', input: {}, steps });
      const seen: number[] = [];
      const off = await follower.subscribe(job.id, (e) => seen.push(e.id));
      let version = await commitSilently(job.id, 1, [{ type: 'job_started', data: {} }] as never[]);
      version = await commitSilently(job.id, version, [
        { type: 'step_started', data: { step: 'fetch_questions', stepIndex: 1 } },
        {
          type: 'step_progress',
          data: { step: 'fetch_questions', progress: 10, stepProgress: 40 },
        },
      ] as never[]);
      await until(() => seen.length >= 3, 'the catch-up poll');
      expect(seen).toEqual([2, 3, 4]);
      expect(follower.catchUps).toBeGreaterThanOrEqual(1);
      // A notified commit afterwards carries on from there, with nothing repeated.
      await writer.commit(job.id, {
        expectedVersion: version,
        events: [
          { type: 'step_completed', data: { step: 'fetch_questions', stepIndex: 1, duration: 5 } },
        ],
      });
      await until(() => seen.length >= 4, 'the next event');
      await new Promise((r) => setTimeout(r, 300));
      off();
      expect(seen).toEqual([2, 3, 4, 5]);
    } finally {
      await follower.close();
    }
  });

  it('a follower that joins later replays them from the table as usual', async () => {
    const { job } = await writer.createJob({ ownerId: 'u7', kind: 'course', input: {}, steps });
    await commitSilently(job.id, 1, [{ type: 'job_started', data: {} }] as never[]);
    const follower = new PostgresJobStore({ connectionString: database.url });
    try {
      const following = (async () => {
        const ids: number[] = [];
        for await (const event of followJob(follower, job.id)) ids.push(event.id);
        return ids;
      })();
      await new ProgressTracker(writer, job.id).cancel('done');
      expect(await following).toEqual([1, 2, 3]);
    } finally {
      await follower.close();
    }
  });
});
