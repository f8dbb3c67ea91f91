import { isJobstreamError } from '@jobstream/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresJobStore } from '../src/index.js';
import { createTestDatabase, skipReason, type TestDatabase } from './test-database.js';

const steps = [{ name: 'fetch_questions' }, { name: 'generate_lessons' }];

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(skipReason !== null)('PostgresJobStore under failure', () => {
  let database: TestDatabase;
  let store: PostgresJobStore;

  beforeAll(async () => {
    database = await createTestDatabase('jobstream_durable');
    store = new PostgresJobStore({ connectionString: database.url });
    await store.migrate();
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  it('a connection killed in the middle of a commit leaves no half-written job', async () => {
    const { job } = await store.createJob({ ownerId: 'u1', kind: 'course', input: {}, steps });
    // Another transaction holds event 3 of this job, uncommitted: our commit of events
    // 2 and 3 updates the job row and inserts event 2, then waits on event 3's key.
    const blocker = new pg.Client({ connectionString: database.url });
    await blocker.connect();
    try {
      await blocker.query('begin');
      await blocker.query(
        `insert into public.jobstream_events (job_id, seq, type, data, at) values ($1, 3, 'step_started', '{}', now())`,
        [job.id],
      );
      const committing = store.commit(job.id, {
        expectedVersion: 1,
        events: [
          { type: 'job_started', data: {} },
          { type: 'step_started', data: { step: 'fetch_questions', stepIndex: 1 } },
        ],
      });
      const outcome = committing.then(
        () => 'written',
        (error: unknown) => error,
      );
      const pid = await waitFor(async () => {
        const { rows } = await database.admin.query<{ pid: number }>(
          `select pid from pg_stat_activity
           where datname = current_database() and wait_event_type = 'Lock'
             and query like '%jobstream_commit%'`,
        );
        return rows[0]?.pid;
      }, 'the commit to block mid-transaction');
      // It really is half way: the job row is updated inside the open transaction.
      const { rows: locks } = await database.admin.query(
        `select 1 from pg_locks where pid = $1 and locktype = 'transactionid' and granted`,
        [pid],
      );
      expect(locks.length).toBeGreaterThan(0);
      await database.admin.query('select pg_terminate_backend($1)', [pid]);

      const error = await outcome;
      expect(isJobstreamError(error, 'store_unavailable')).toBe(true);
    } finally {
      await blocker.query('rollback').catch(() => {});
      await blocker.end();
    }

    // Nothing of the commit survived, seen through the store and through SQL.
    expect(await store.getJob(job.id)).toEqual(job);
    expect(await store.readEvents(job.id)).toHaveLength(1);
    const { rows } = await database.admin.query(
      'select version, status from public.jobstream_jobs where id = $1',
      [job.id],
    );
    expect(rows).toEqual([{ version: 1, status: 'pending' }]);

    // And the store carries on with a fresh connection.
    const { job: after } = await store.commit(job.id, {
      expectedVersion: 1,
      events: [{ type: 'job_started', data: {} }],
    });
    expect(after.version).toBe(2);
  });

  it('a commit on a cached copy of a job deleted and re-created under the same id loses', async () => {
    const id = `recreated-${Date.now()}`;
    const { job } = await store.createJob({ id, ownerId: 'u1', kind: 'course', input: {}, steps });
    // Another process deletes it and creates a new job with the same id.
    const other = new PostgresJobStore({ connectionString: database.url });
    try {
      await database.admin.query('delete from public.jobstream_jobs where id = $1', [id]);
      await new Promise((r) => setTimeout(r, 5));
      const { job: fresh } = await other.createJob({
        id,
        ownerId: 'u2',
        kind: 'course',
        input: {},
        steps,
      });
      expect(fresh.createdAt).not.toBe(job.createdAt);
      await expect(
        store.commit(id, { expectedVersion: 1, events: [{ type: 'job_started', data: {} }] }),
      ).rejects.toSatisfy((e) => isJobstreamError(e, 'conflict'));
      expect(await store.getJob(id)).toEqual(fresh);
    } finally {
      await other.close();
    }
  });

  it('a uuid ownerId is copied to user_id; any other ownerId leaves user_id null', async () => {
    const uuid = '6f9619ff-8b86-4d11-b42d-00c04fc964ff';
    const a = (await store.createJob({ ownerId: uuid, kind: 'k', input: {}, steps })).job;
    const b = (await store.createJob({ ownerId: 'alice', kind: 'k', input: {}, steps })).job;
    const { rows } = await database.admin.query(
      'select id, owner_id, user_id from public.jobstream_jobs where id = any($1) order by owner_id',
      [[a.id, b.id]],
    );
    expect(rows).toEqual([
      { id: a.id, owner_id: uuid, user_id: uuid },
      { id: b.id, owner_id: 'alice', user_id: null },
    ]);
  });
});
