import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isJobstreamError, prepareCommit, prepareCreate } from '@jobstream/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script without types
import { renderMigrations } from '../scripts/embed-migrations.mjs';
import { MIGRATIONS, PostgresJobStore, SCHEMA_VERSION } from '../src/index.js';
import { adapt, GUIDE } from './seed-guide-sql.js';
import { createTestDatabase, skipReason, type TestDatabase } from './test-database.js';

const here = path.dirname(fileURLToPath(import.meta.url));

describe('embedded migrations', () => {
  it('are the SQL files of @jobstream/supabase, in name order (run the build to refresh)', () => {
    const dir = path.resolve(here, '../../supabase/migrations');
    const files = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.sql'))
      .sort();
    expect(MIGRATIONS.map((m) => m.name)).toEqual(files);
    for (const m of MIGRATIONS) expect(m.sql).toBe(fs.readFileSync(path.join(dir, m.name), 'utf8'));
    const generated = fs.readFileSync(path.resolve(here, '../src/migrations.generated.ts'), 'utf8');
    expect(generated).toBe(renderMigrations(dir));
    expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(1);
  });
});

describe.skipIf(skipReason !== null)('schema on PostgreSQL', () => {
  let database: TestDatabase;
  let store: PostgresJobStore;

  beforeAll(async () => {
    database = await createTestDatabase('jobstream_schema');
    store = new PostgresJobStore({ connectionString: database.url });
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  it('a database without the schema rejects with schema_mismatch, not a runtime surprise', async () => {
    await expect(store.ready()).rejects.toSatisfy(
      (e) => isJobstreamError(e, 'schema_mismatch') && /migrate\(\)/.test((e as Error).message),
    );
    await expect(store.getJob('x')).rejects.toSatisfy((e) =>
      isJobstreamError(e, 'schema_mismatch'),
    );
  });

  it('migrate() applies the schema, twice in a row and concurrently without harm', async () => {
    await store.migrate();
    const other = new PostgresJobStore({ connectionString: database.url });
    try {
      await Promise.all([store.migrate(), other.migrate()]);
    } finally {
      await other.close();
    }
    await expect(store.ready()).resolves.toBeUndefined();
    const { rows } = await database.admin.query<{ indexname: string }>(
      `select indexname from pg_indexes where tablename in ('jobstream_jobs', 'jobstream_events') order by 1`,
    );
    expect(rows.map((r) => r.indexname)).toEqual([
      'jobstream_events_pkey',
      'jobstream_jobs_created_idx',
      'jobstream_jobs_finished_idx',
      'jobstream_jobs_owner_created_idx',
      'jobstream_jobs_pkey',
      'jobstream_jobs_status_created_idx',
      'jobstream_jobs_user_created_idx',
    ]);
  });

  it("runs the seed's monitoring queries with only the table name changed", async () => {
    const started = (await store.createJob(newJob('monitor-1'))).job;
    let v = started.version;
    const commit = async (id: string, events: never[]) => {
      const res = await store.commit(id, { expectedVersion: v, events });
      v = res.job.version;
      return res.job;
    };
    await commit(started.id, [
      { type: 'job_started', data: {} },
      { type: 'step_started', data: { step: 'fetch_questions', stepIndex: 1 } },
      { type: 'job_completed', data: { result: { courseId: 'c1' }, totalDuration: 5 } },
    ] as never[]);
    const failing = (await store.createJob(newJob('monitor-2'))).job;
    v = failing.version;
    await commit(failing.id, [
      { type: 'job_started', data: {} },
      { type: 'step_started', data: { step: 'generate_lessons', stepIndex: 2 } },
      { type: 'job_failed', data: { error: { message: 'boom' }, failedStep: 'generate_lessons' } },
    ] as never[]);

    const run = async (sql: string) => (await database.admin.query(adapt(sql))).rows;

    const [average] = await run(GUIDE.average);
    expect(Number(average.avg_seconds)).toBeGreaterThanOrEqual(0);
    expect(await run(GUIDE.failures)).toEqual([
      { current_step: 'generate_lessons', failures: '1' },
    ]);
    const recent = await run(GUIDE.recent);
    expect(recent.map((r) => [r.id, r.status, r.current_step])).toEqual([
      [failing.id, 'failed', 'generate_lessons'],
      [started.id, 'completed', 'fetch_questions'],
    ]);
    expect(recent[1].completed_at).toBeInstanceOf(Date);
    // The columns are the record's fields: they cannot disagree with getJob.
    const stored = await store.getJob(started.id);
    expect(recent[1].completed_at.toISOString()).toBe(stored?.completedAt);
  });

  it('{ pool }: the store uses your pool and leaves it open on close()', async () => {
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: database.url, max: 2 });
    const onPool = new PostgresJobStore({ pool });
    const { job } = await onPool.createJob(newJob('pool-owner'));
    const seen: number[] = [];
    const off = await onPool.subscribe(job.id, (e) => seen.push(e.id));
    await store.commit(job.id, { expectedVersion: 1, events: [{ type: 'job_started', data: {} }] });
    for (let i = 0; i < 500 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    off();
    await onPool.close();
    expect(seen).toEqual([2]);
    const { rows } = await pool.query(
      'select count(*)::int as n from public.jobstream_jobs where id = $1',
      [job.id],
    );
    expect(rows).toEqual([{ n: 1 }]);
    await pool.end();
  });

  it('listJobs filters by kind', async () => {
    const owner = `kind-owner-${Date.now()}`;
    const a = (await store.createJob({ ...newJob(owner), kind: 'course' })).job;
    await new Promise((r) => setTimeout(r, 3)); // distinct createdAt, so the order is known
    const b = (await store.createJob({ ...newJob(owner), kind: 'quiz' })).job;
    expect((await store.listJobs({ ownerId: owner, kind: 'quiz' })).jobs.map((j) => j.id)).toEqual([
      b.id,
    ]);
    expect((await store.listJobs({ ownerId: owner })).jobs.map((j) => j.id)).toEqual([b.id, a.id]);
  });

  it('a schema of another version rejects with schema_mismatch saying which', async () => {
    await database.admin.query(
      `create or replace function public.jobstream_schema_version() returns integer language sql immutable as $$ select ${SCHEMA_VERSION + 1} $$`,
    );
    const newer = new PostgresJobStore({ connectionString: database.url });
    try {
      await expect(newer.ready()).rejects.toSatisfy(
        (e) =>
          isJobstreamError(e, 'schema_mismatch') &&
          (e as Error).message.includes(`version ${SCHEMA_VERSION + 1}`),
      );
    } finally {
      await newer.close();
      await store.migrate();
    }
  });
});

// A database that an app on the first release migrated: only 20261128000000_jobstream.sql.
describe.skipIf(skipReason !== null)('upgrading a database from schema version 1', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createTestDatabase('jobstream_upgrade');
    const first = MIGRATIONS[0];
    if (first?.name !== '20261128000000_jobstream.sql') throw new Error('first migration moved');
    await database.admin.query(first.sql);
  }, 60_000);
  afterAll(async () => {
    await database?.drop();
  });

  async function signatures(): Promise<string[]> {
    const { rows } = await database.admin.query<{ fn: string }>(
      `select oid::regprocedure::text as fn from pg_proc
       where pronamespace = 'public'::regnamespace and proname in ('jobstream_create', 'jobstream_commit')
       order by 1`,
    );
    return rows.map((r) => r.fn);
  }

  it('is refused with schema_mismatch naming both versions, then migrate() brings it up to date', async () => {
    // A job written by the old release, through the old functions.
    const old = new PostgresJobStore({ connectionString: database.url });
    const { job, event } = prepareCreate(newJob('upgrader'));
    await database.admin.query('select public.jobstream_create($1::jsonb, $2::jsonb)', [
      JSON.stringify(job),
      JSON.stringify(event),
    ]);
    expect(await signatures()).toEqual([
      'jobstream_commit(text,integer,jsonb,jsonb)',
      'jobstream_create(jsonb,jsonb)',
    ]);
    try {
      await expect(old.ready()).rejects.toSatisfy(
        (e) =>
          isJobstreamError(e, 'schema_mismatch') &&
          /version 1\b.*needs version 2.*migrate\(\)/.test((e as Error).message),
      );
      await expect(old.commit(job.id, { expectedVersion: 1, events: [] })).rejects.toSatisfy((e) =>
        isJobstreamError(e, 'schema_mismatch'),
      );
    } finally {
      await old.close();
    }

    const store = new PostgresJobStore({ connectionString: database.url });
    try {
      await store.migrate();
      await expect(store.ready()).resolves.toBeUndefined();
      expect(await signatures()).toEqual([
        'jobstream_commit(text,integer,jsonb,jsonb,boolean)',
        'jobstream_create(jsonb,jsonb,boolean)',
      ]);
      // The old job carries on, and a subscriber elsewhere hears of it.
      const follower = new PostgresJobStore({ connectionString: database.url });
      const seen: number[] = [];
      const off = await follower.subscribe(job.id, (e) => seen.push(e.id));
      await store.commit(job.id, {
        expectedVersion: 1,
        events: [{ type: 'job_started', data: {} }],
      });
      for (let i = 0; i < 500 && seen.length === 0; i++)
        await new Promise((r) => setTimeout(r, 10));
      off();
      await follower.close();
      expect(seen).toEqual([2]);
      // An instance of the old release still running calls with four arguments: that
      // reaches the new function, which then notifies in the transaction as before.
      const listener = new pg.Client({ connectionString: database.url });
      await listener.connect();
      const heard: string[] = [];
      listener.on('notification', (m) => heard.push(m.payload ?? ''));
      try {
        await listener.query('listen jobstream');
        const current = await store.getJob(job.id);
        const next = prepareCommit(
          current,
          job.id,
          2,
          [{ type: 'step_started', data: { step: 'fetch_questions', stepIndex: 1 } }] as never[],
          new Date(),
        );
        await database.admin.query('select public.jobstream_commit($1, $2, $3::jsonb, $4::jsonb)', [
          job.id,
          2,
          JSON.stringify(next.job),
          JSON.stringify(next.events),
        ]);
        for (let i = 0; i < 500 && heard.length === 0; i++)
          await new Promise((r) => setTimeout(r, 10));
        expect(heard).toEqual([`3:3:${job.id}`]);
      } finally {
        await listener.end();
      }
      // Migrating again (every start-up does) changes nothing.
      await store.migrate();
      expect(await signatures()).toEqual([
        'jobstream_commit(text,integer,jsonb,jsonb,boolean)',
        'jobstream_create(jsonb,jsonb,boolean)',
      ]);
      expect((await store.getJob(job.id))?.version).toBe(3);
    } finally {
      await store.close();
    }
  });
});

let counter = 0;
function newJob(owner: string) {
  counter += 1;
  return {
    ownerId: owner,
    kind: 'course',
    input: { examId: `exam-${counter}` },
    steps: [
      { name: 'fetch_questions', label: 'Fetching questions' },
      { name: 'generate_lessons', label: 'Writing lessons', weight: 3 },
    ],
  };
}
