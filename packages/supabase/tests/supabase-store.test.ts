import { randomUUID } from 'node:crypto';
import { followJob, isJobstreamError, type JobEvent, ProgressTracker } from '@jobstream/core';
import { setupServer } from 'msw/node';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SupabaseJobStore } from '../src/index.js';
import { postgrestEmulator, realtimeUnavailable, signJwt } from './postgrest-emulator.js';
import { anonKey, closedPort, serviceRoleKey, supabaseClient } from './supabase-client.js';
import {
  createSupabaseLikeDatabase,
  createTestDatabase,
  skipReason,
  type TestDatabase,
} from './test-database.js';

const steps = [
  { name: 'fetch_questions', label: 'Fetching questions' },
  { name: 'generate_lessons', label: 'Writing lessons', weight: 3 },
];

// HTTP to PostgREST is answered by running the SQL on the real PostgreSQL; Realtime cannot
// run here, so live events in these tests come through the polling fallback.
describe.skipIf(skipReason !== null)('SupabaseJobStore', () => {
  let database: TestDatabase;
  let bare: TestDatabase;
  let url: string;
  let bareUrl: string;
  let a: SupabaseJobStore;
  let b: SupabaseJobStore;
  const alice = randomUUID();
  const bob = randomUUID();
  const server = setupServer();

  beforeAll(async () => {
    url = `http://127.0.0.1:${await closedPort()}`;
    bareUrl = `http://127.0.0.1:${await closedPort()}`;
    database = await createSupabaseLikeDatabase('jobstream_sb_store');
    bare = await createTestDatabase('jobstream_sb_bare');
    await database.admin.query('insert into auth.users (id) values ($1), ($2)', [alice, bob]);
    server.listen({ onUnhandledRequest: 'error' });
    server.use(
      ...postgrestEmulator(url, database.admin).handlers,
      realtimeUnavailable(url),
      ...postgrestEmulator(bareUrl, bare.admin).handlers,
      realtimeUnavailable(bareUrl),
    );
    a = new SupabaseJobStore({ client: supabaseClient(url, serviceRoleKey), pollIntervalMs: 50 });
    b = new SupabaseJobStore({ client: supabaseClient(url, serviceRoleKey), pollIntervalMs: 50 });
  }, 60_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    server.close();
    await database?.drop();
    await bare?.drop();
  });

  it('a project without the migrations rejects with schema_mismatch at start-up', async () => {
    const store = new SupabaseJobStore({ client: supabaseClient(bareUrl, serviceRoleKey) });
    await expect(store.ready()).rejects.toSatisfy(
      (e) => isJobstreamError(e, 'schema_mismatch') && /migrations/.test((e as Error).message),
    );
    await store.close();
  });

  it('a tracker on A and a follower on B: every event once, in order; a cancel through B stops A', async () => {
    const tracker = await ProgressTracker.create(
      a,
      { ownerId: alice, kind: 'course', input: { examId: 'e1' }, steps },
      { coalesceMs: 0 },
    );
    const received: JobEvent[] = [];
    const following = (async () => {
      for await (const event of followJob(b, tracker.jobId)) received.push(event);
    })();
    await tracker.start();
    await tracker.startStep('fetch_questions');
    for (let i = 1; i <= 10; i++) {
      tracker.progress(i * 10);
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
    await new ProgressTracker(b, tracker.jobId).cancel('user closed the tab');

    expect(((await aborted) as { code?: string }).code).toBe('job_cancelled');
    await following;
    expect(received).toEqual(await a.readEvents(tracker.jobId));
    expect(received.map((e) => e.id)).toEqual(received.map((_, i) => i + 1));
    expect(received.at(-1)?.type).toBe('job_cancelled');
    tracker.close();
  });

  it('writes do not NOTIFY: Realtime reads the WAL, and a NOTIFY would serialise commits', async () => {
    const listener = new pg.Client({ connectionString: database.url });
    await listener.connect();
    const heard: string[] = [];
    listener.on('notification', (message) => heard.push(message.payload ?? ''));
    try {
      await listener.query('listen jobstream');
      const { job } = await a.createJob({ ownerId: alice, kind: 'course', input: {}, steps });
      await a.commit(job.id, { expectedVersion: 1, events: [{ type: 'job_started', data: {} }] });
      // Notifications arrive in commit order: once the marker is heard, any notification
      // of the writes above would have been heard first.
      await database.admin.query(`select pg_notify('jobstream', 'marker')`);
      for (let i = 0; i < 500 && !heard.includes('marker'); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(heard).toEqual(['marker']);
      expect(await b.readEvents(job.id)).toHaveLength(2);
    } finally {
      await listener.end();
    }
  });

  it('a store with the anon key can neither write nor read', async () => {
    const store = new SupabaseJobStore({ client: supabaseClient(url, anonKey) });
    await expect(
      store.createJob({ ownerId: alice, kind: 'course', input: {}, steps }),
    ).rejects.toSatisfy((e) => isJobstreamError(e, 'forbidden'));
    const { job } = await a.createJob({ ownerId: alice, kind: 'course', input: {}, steps });
    await expect(store.getJob(job.id)).rejects.toSatisfy((e) => isJobstreamError(e, 'forbidden'));
    await store.close();
  });

  it("in the browser, a user's own session reads their jobs and events under RLS, and nobody else's", async () => {
    const mine = (await a.createJob({ ownerId: alice, kind: 'course', input: {}, steps })).job;
    const theirs = (await a.createJob({ ownerId: bob, kind: 'course', input: {}, steps })).job;
    await a.commit(mine.id, { expectedVersion: 1, events: [{ type: 'job_started', data: {} }] });
    // What docs/supabase.md shows: the anon key plus the user's access token.
    const browser = supabaseClient(
      url,
      anonKey,
      signJwt({ role: 'authenticated', sub: alice, aud: 'authenticated' }),
    );
    const own = await browser
      .from('jobstream_events')
      .select('seq,type')
      .eq('job_id', mine.id)
      .order('seq', { ascending: true });
    expect(own.error).toBeNull();
    expect(own.data).toEqual([
      { seq: 1, type: 'job_created' },
      { seq: 2, type: 'job_started' },
    ]);
    const other = await browser.from('jobstream_events').select('seq').eq('job_id', theirs.id);
    expect(other.data).toEqual([]);
    const jobs = await browser.from('jobstream_jobs').select('id,status').eq('id', mine.id);
    expect(jobs.data).toEqual([{ id: mine.id, status: 'running' }]);
    const write = await browser.rpc('jobstream_commit', {
      p_job_id: mine.id,
      p_expected_version: 2,
      p_job: {},
      p_events: [],
    });
    expect(write.error?.code).toBe('42501');
  });

  it('ownerId: any string works; a uuid that is no auth user is refused with invalid_input', async () => {
    const { job } = await a.createJob({ ownerId: 'cookie-user', kind: 'course', input: {}, steps });
    expect((await a.getJob(job.id))?.ownerId).toBe('cookie-user');
    await expect(
      a.createJob({ ownerId: randomUUID(), kind: 'course', input: {}, steps }),
    ).rejects.toSatisfy((e) => isJobstreamError(e, 'invalid_input'));
  });
});
