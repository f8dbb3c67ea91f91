import { followJob, type JobEvent, ProgressTracker } from '@jobstream/core';
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
describe.skipIf(skipReason !== null)('fan-out across stores on one database', () => {
  let database: TestDatabase;
  let a: PostgresJobStore;
  let b: PostgresJobStore;

  beforeAll(async () => {
    database = await createTestDatabase('jobstream_fanout');
    a = new PostgresJobStore({ connectionString: database.url });
    await a.migrate();
    // B also runs without prepared statements, as behind a transaction-mode pooler.
    b = new PostgresJobStore({
      connectionString: database.url,
      reconnectDelayMs: 1000,
      preparedStatements: false,
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
            : { type: 'topic_started', data: { topicName: `t${version}`, topicIndex: version } },
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
});
