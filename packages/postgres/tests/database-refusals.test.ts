import { isJobstreamError, ProgressTracker } from '@jobstream/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresJobStore } from '../src/index.js';
import { createTestDatabase, skipReason, type TestDatabase } from './test-database.js';

/** What a call rejected with (or null when it resolved). */
const failure = (call: Promise<unknown>) =>
  call.then(
    () => null,
    (error: unknown) => error,
  );

// A reachable database that says "not now": the call was rolled back and may work in a
// moment, so it is store_unavailable (HTTP 503; a tracker waits and retries), not
// internal (a 500, and a job failed for good by a write that gave up at once).
describe.skipIf(skipReason !== null)('PostgreSQL refusing writes for a while', () => {
  let database: TestDatabase;
  let setup: PostgresJobStore;

  beforeAll(async () => {
    database = await createTestDatabase('jobstream_refusals');
    setup = new PostgresJobStore({ connectionString: database.url });
    await setup.migrate();
  }, 60_000);
  afterAll(async () => {
    await setup?.close();
    await database?.drop();
  });

  const newJob = (store: PostgresJobStore) =>
    store.createJob({ ownerId: 'u1', kind: 'course', input: null, steps: [{ name: 'a' }] });

  it('read-only mode (what Supabase does on a nearly full disk): reads work, writes are store_unavailable, and writes come back once it ends', async () => {
    const { job } = await newJob(setup);
    await database.admin.query(
      `alter database ${database.name} set default_transaction_read_only = on`,
    );
    // New sessions start read-only: a fresh store's whole pool is.
    const store = new PostgresJobStore({ connectionString: database.url });
    try {
      expect((await store.getJob(job.id))?.status).toBe('pending');
      // Both at once, each caught as it is made (a rejection left waiting is unhandled).
      const refusals = await Promise.all([
        failure(newJob(store)),
        failure(
          store.commit(job.id, { expectedVersion: 1, events: [{ type: 'job_started', data: {} }] }),
        ),
      ]);
      for (const error of refusals) {
        expect(isJobstreamError(error, 'store_unavailable'), String(error)).toBe(true);
        expect(String(error)).toMatch(/read-only/);
      }

      await database.admin.query(
        `alter database ${database.name} reset default_transaction_read_only`,
      );
      // A session stays read-only after the database is writable again. The pool closes a
      // connection after any error, but the one that served the read above is still
      // read-only: a tracker's outage wait retries past it, and the write lands once.
      const tracker = new ProgressTracker(store, job.id, { storeOutageMs: 10_000 });
      try {
        await tracker.start();
        await tracker.startStep('a');
      } finally {
        tracker.close();
      }
      const events = await store.readEvents(job.id);
      expect(events.map((event) => event.type)).toEqual([
        'job_created',
        'job_started',
        'step_started',
      ]);
    } finally {
      await database.admin.query(
        `alter database ${database.name} reset default_transaction_read_only`,
      );
      await store.close();
    }
  });

  it('a lock held too long (lock_timeout) is store_unavailable, and the write works once the lock is gone', async () => {
    const { job } = await newJob(setup);
    const store = new PostgresJobStore({
      connectionString: database.url,
      poolConfig: { options: '-c lock_timeout=200' },
    });
    const holder = await database.admin.connect();
    try {
      await holder.query('begin');
      await holder.query('select 1 from public.jobstream_jobs where id = $1 for update', [job.id]);
      const start = { expectedVersion: 1, events: [{ type: 'job_started' as const, data: {} }] };
      const error = await failure(store.commit(job.id, start));
      expect(isJobstreamError(error, 'store_unavailable'), String(error)).toBe(true);
      await holder.query('rollback');
      expect((await store.commit(job.id, start)).job.status).toBe('running');
    } finally {
      holder.release();
      await store.close();
    }
  });
});
