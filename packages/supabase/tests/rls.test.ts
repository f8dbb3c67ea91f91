import { randomUUID } from 'node:crypto';
import { type NewJob, prepareCreate } from '@jobstream/core';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSupabaseLikeDatabase,
  readMigrations,
  skipReason,
  type TestDatabase,
} from './test-database.js';

type Role = 'anon' | 'authenticated' | 'service_role';

/**
 * Runs `fn` the way PostgREST runs a request: in a transaction, as the JWT's role, with the
 * claims in `request.jwt.claims` (which the stand-in `auth.uid()` reads). Always rolled back.
 */
async function as<T>(
  pool: pg.Pool,
  role: Role,
  sub: string | null,
  fn: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query(`set local role ${role}`);
    await client.query(`select set_config('request.jwt.claims', $1, true)`, [
      JSON.stringify(sub ? { role, sub } : { role }),
    ]);
    return await fn(client);
  } finally {
    await client.query('rollback').catch(() => {});
    client.release();
  }
}

/** The SQLSTATE a statement fails with, or 'ok'. */
async function outcome(client: pg.PoolClient, sql: string, params: unknown[] = []) {
  await client.query('savepoint s');
  try {
    const result = await client.query(sql, params);
    await client.query('release savepoint s');
    return { code: 'ok', rowCount: result.rowCount, rows: result.rows };
  } catch (error) {
    await client.query('rollback to savepoint s');
    return { code: (error as { code: string }).code, rowCount: 0, rows: [] };
  }
}

describe.skipIf(skipReason !== null)('migrations and row level security', () => {
  let database: TestDatabase;
  const alice = randomUUID();
  const bob = randomUUID();
  const jobs: Record<string, string> = {};

  async function create(owner: string, key: string) {
    const input: NewJob = { ownerId: owner, kind: 'course', input: {}, steps: [{ name: 's1' }] };
    const { job, event } = prepareCreate(input);
    await database.admin.query('select public.jobstream_create($1::jsonb, $2::jsonb)', [
      JSON.stringify(job),
      JSON.stringify(event),
    ]);
    jobs[key] = job.id;
  }

  beforeAll(async () => {
    database = await createSupabaseLikeDatabase('jobstream_rls');
    // Applying the migrations again changes nothing (they are idempotent).
    for (const migration of readMigrations()) await database.admin.query(migration.sql);
    await database.admin.query(
      `insert into auth.users (id, email) values ($1, 'alice@example.com'), ($2, 'bob@example.com')`,
      [alice, bob],
    );
    await create(alice, 'alice');
    await create(bob, 'bob');
    await create('cookie-user-carol', 'carol');
  }, 60_000);
  afterAll(async () => {
    await database?.drop();
  });

  it('an authenticated user reads only their own jobs', async () => {
    const rows = await as(database.admin, 'authenticated', alice, async (c) => {
      return (await c.query('select id, user_id from public.jobstream_jobs')).rows;
    });
    expect(rows).toEqual([{ id: jobs.alice, user_id: alice }]);
    const bobs = await as(database.admin, 'authenticated', bob, async (c) => {
      return (await c.query('select id from public.jobstream_jobs')).rows;
    });
    expect(bobs).toEqual([{ id: jobs.bob }]);
  });

  it("an authenticated user reads only their own jobs' events", async () => {
    const rows = await as(database.admin, 'authenticated', alice, async (c) => {
      return (await c.query('select job_id, seq from public.jobstream_events')).rows;
    });
    expect(rows).toEqual([{ job_id: jobs.alice, seq: 1 }]);
    const other = await as(database.admin, 'authenticated', alice, async (c) => {
      return (await c.query('select * from public.jobstream_events where job_id = $1', [jobs.bob]))
        .rows;
    });
    expect(other).toEqual([]);
  });

  it('an authenticated request without a user (no sub) reads nothing', async () => {
    const rows = await as(database.admin, 'authenticated', null, async (c) => ({
      jobs: (await c.query('select 1 from public.jobstream_jobs')).rowCount,
      events: (await c.query('select 1 from public.jobstream_events')).rowCount,
    }));
    expect(rows).toEqual({ jobs: 0, events: 0 });
  });

  it("the seed guide's 'Database Permission Issues' SQL: the policy is listed; its claim name is not the one auth.uid() reads", async () => {
    // Verbatim from the guide, table name changed (course_generation_jobs -> jobstream_jobs).
    const { rows: policies } = await database.admin.query(
      `SELECT * FROM pg_policies WHERE tablename = 'jobstream_jobs';`,
    );
    expect(policies).toMatchObject([{ roles: '{authenticated}', cmd: 'SELECT' }]);
    const client = await database.admin.connect();
    const guideBlock = async (claim: string) => {
      await client.query('begin');
      try {
        await client.query('SET LOCAL ROLE authenticated;');
        await client.query(`SET LOCAL ${claim} = '${alice}';`);
        return (await client.query('SELECT * FROM jobstream_jobs;')).rows.map((r) => r.id);
      } finally {
        await client.query('rollback');
      }
    };
    try {
      // `request.jwt.claims.sub` (the guide's line) is a setting auth.uid() never reads, in
      // Supabase as here: the user sees nothing, which looks like a broken policy but is not.
      expect(await guideBlock('request.jwt.claims.sub')).toEqual([]);
      // `request.jwt.claim.sub` (singular, as docs/supabase.md says) is read: own rows only.
      expect(await guideBlock('request.jwt.claim.sub')).toEqual([jobs.alice]);
    } finally {
      client.release();
    }
  });

  it('anon reads nothing', async () => {
    const result = await as(database.admin, 'anon', null, async (c) => ({
      jobs: await outcome(c, 'select * from public.jobstream_jobs'),
      events: await outcome(c, 'select * from public.jobstream_events'),
      list: await outcome(c, 'select * from public.jobstream_list_jobs()'),
    }));
    expect(result.jobs.code).toBe('42501');
    expect(result.events.code).toBe('42501');
    expect(result.list.code).toBe('42501');
  });

  for (const role of ['anon', 'authenticated'] as const) {
    it(`${role} cannot insert, update or delete jobs or events, nor call the writing functions`, async () => {
      const { job, event } = prepareCreate({
        ownerId: alice,
        kind: 'course',
        input: {},
        steps: [{ name: 's1' }],
      });
      const tries = await as(database.admin, role, alice, async (c) => [
        await outcome(
          c,
          `insert into public.jobstream_jobs (id, owner_id, user_id, kind, status, version, record)
           values ('x', $1::text, $1::uuid, 'k', 'pending', 1, '{}')`,
          [alice],
        ),
        await outcome(c, `update public.jobstream_jobs set status = 'failed' where id = $1`, [
          jobs.alice,
        ]),
        await outcome(c, 'delete from public.jobstream_jobs where id = $1', [jobs.alice]),
        await outcome(
          c,
          `insert into public.jobstream_events (job_id, seq, type, data, at) values ($1, 2, 'job_started', '{}', now())`,
          [jobs.alice],
        ),
        await outcome(c, 'update public.jobstream_events set data = $2 where job_id = $1', [
          jobs.alice,
          '{"x":1}',
        ]),
        await outcome(c, 'delete from public.jobstream_events where job_id = $1', [jobs.alice]),
        await outcome(c, 'select public.jobstream_create($1::jsonb, $2::jsonb)', [
          JSON.stringify(job),
          JSON.stringify(event),
        ]),
        await outcome(c, `select public.jobstream_commit($1, 1, '{}'::jsonb, '[]'::jsonb)`, [
          jobs.alice,
        ]),
        await outcome(c, 'select public.jobstream_delete_finished(now())'),
        await outcome(c, `select public.jobstream_cleanup('0 seconds')`),
      ]);
      expect(tries.map((t) => t.code)).toEqual(Array(10).fill('42501'));
    });
  }

  it('RLS itself refuses writes by authenticated even where a grant would allow them', async () => {
    // Defence in depth: grant the privileges back inside the rolled-back transaction and
    // show that the policies (there is none for writing) still stop every write.
    const client = await database.admin.connect();
    try {
      await client.query('begin');
      await client.query(
        'grant insert, update, delete on public.jobstream_jobs, public.jobstream_events to authenticated',
      );
      await client.query('set local role authenticated');
      await client.query(`select set_config('request.jwt.claims', $1, true)`, [
        JSON.stringify({ role: 'authenticated', sub: alice }),
      ]);
      const insert = await outcome(
        client,
        `insert into public.jobstream_jobs (id, owner_id, user_id, kind, status, version, record)
         values ('x', $1::text, $1::uuid, 'k', 'pending', 1, '{}')`,
        [alice],
      );
      const update = await outcome(
        client,
        `update public.jobstream_jobs set status = 'failed' where id = $1`,
        [jobs.alice],
      );
      const remove = await outcome(
        client,
        'delete from public.jobstream_events where job_id = $1',
        [jobs.alice],
      );
      expect(insert.code).toBe('42501');
      expect(update).toMatchObject({ code: 'ok', rowCount: 0 });
      expect(remove).toMatchObject({ code: 'ok', rowCount: 0 });
    } finally {
      await client.query('rollback');
      client.release();
    }
    const { rows } = await database.admin.query(
      'select status from public.jobstream_jobs where id = $1',
      [jobs.alice],
    );
    expect(rows).toEqual([{ status: 'pending' }]);
  });

  it('service_role reads every job and writes through the functions', async () => {
    const result = await as(database.admin, 'service_role', null, async (c) => {
      const all = (await c.query('select id from public.jobstream_jobs order by id')).rows;
      const list = (await c.query('select * from public.jobstream_list_jobs(p_limit => 10)')).rows;
      const commit = await outcome(
        c,
        `select public.jobstream_commit($1, 1, (select record || '{"version":2,"status":"running"}' from public.jobstream_jobs where id = $1),
           jsonb_build_array(jsonb_build_object('type', 'job_started', 'data', '{}'::jsonb, 'at', now())))`,
        [jobs.carol],
      );
      const after = (
        await c.query('select status, version from public.jobstream_jobs where id = $1', [
          jobs.carol,
        ])
      ).rows;
      return { all, list, commit, after };
    });
    expect(result.all.map((r) => r.id).sort()).toEqual(Object.values(jobs).sort());
    expect(result.list).toHaveLength(3);
    expect(result.commit.code).toBe('ok');
    expect(result.after).toEqual([{ status: 'running', version: 2 }]);
  });

  it('a job whose ownerId is not a uuid has no user_id and is visible to no browser user', async () => {
    const { rows } = await database.admin.query(
      'select owner_id, user_id from public.jobstream_jobs where id = $1',
      [jobs.carol],
    );
    expect(rows).toEqual([{ owner_id: 'cookie-user-carol', user_id: null }]);
  });

  it('a uuid ownerId that is not an auth user is refused (foreign key to auth.users)', async () => {
    const { job, event } = prepareCreate({
      ownerId: randomUUID(),
      kind: 'course',
      input: {},
      steps: [{ name: 's1' }],
    });
    await expect(
      database.admin.query('select public.jobstream_create($1::jsonb, $2::jsonb)', [
        JSON.stringify(job),
        JSON.stringify(event),
      ]),
    ).rejects.toMatchObject({ code: '23503' });
  });

  it('deleting an auth user deletes their jobs and events', async () => {
    const user = randomUUID();
    await database.admin.query(`insert into auth.users (id) values ($1)`, [user]);
    await create(user, 'doomed');
    await database.admin.query('delete from auth.users where id = $1', [user]);
    const { rows } = await database.admin.query(
      'select (select count(*) from public.jobstream_jobs where id = $1)::int as jobs, (select count(*) from public.jobstream_events where job_id = $1)::int as events',
      [jobs.doomed],
    );
    expect(rows).toEqual([{ jobs: 0, events: 0 }]);
  });

  it('the writing functions have one signature each (with p_notify) and the privileges of version 1', async () => {
    const { rows } = await database.admin.query<{ fn: string; role: string; can: boolean }>(
      `select p.oid::regprocedure::text as fn, r.rolname as role,
              has_function_privilege(r.rolname, p.oid, 'execute') as can
       from pg_proc p cross join pg_roles r
       where p.pronamespace = 'public'::regnamespace
         and p.proname in ('jobstream_create', 'jobstream_commit')
         and r.rolname in ('anon', 'authenticated', 'service_role')
       order by 1, 2`,
    );
    expect(rows).toEqual([
      { fn: 'jobstream_commit(text,integer,jsonb,jsonb,boolean)', role: 'anon', can: false },
      {
        fn: 'jobstream_commit(text,integer,jsonb,jsonb,boolean)',
        role: 'authenticated',
        can: false,
      },
      { fn: 'jobstream_commit(text,integer,jsonb,jsonb,boolean)', role: 'service_role', can: true },
      { fn: 'jobstream_create(jsonb,jsonb,boolean)', role: 'anon', can: false },
      { fn: 'jobstream_create(jsonb,jsonb,boolean)', role: 'authenticated', can: false },
      { fn: 'jobstream_create(jsonb,jsonb,boolean)', role: 'service_role', can: true },
    ]);
  });

  it('puts the events table in the supabase_realtime publication', async () => {
    const { rows } = await database.admin.query(
      `select tablename from pg_publication_tables where pubname = 'supabase_realtime'`,
    );
    expect(rows).toEqual([{ tablename: 'jobstream_events' }]);
  });
});
