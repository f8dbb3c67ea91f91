// Which stores the app runs on, chosen by the environment:
//   nothing set            → in memory (jobs and courses vanish on restart)
//   DATABASE_URL           → PostgreSQL through @jobstream/postgres
//   SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY → Supabase through @jobstream/supabase
// One instance per server process: kept on globalThis so Next's dev reloads reuse it.
import { type JobStore, MemoryJobStore } from '@jobstream/core';
import { type Course, type CourseStore, MemoryCourseStore } from './course';

export type StoreKind = 'memory' | 'postgres' | 'supabase';

interface Stores {
  kind: StoreKind;
  jobs: JobStore;
  courses: CourseStore;
}

export function storeKind(): StoreKind {
  if (process.env.SUPABASE_URL && process.env.SUPABASE_SERVICE_ROLE_KEY) return 'supabase';
  if (process.env.DATABASE_URL) return 'postgres';
  return 'memory';
}

async function postgresStores(): Promise<Stores> {
  const { PostgresJobStore } = await import('@jobstream/postgres');
  const pg = await import('pg');
  const connectionString = process.env.DATABASE_URL as string;
  const jobs = new PostgresJobStore({ connectionString });
  await jobs.migrate();
  const pool = new pg.default.Pool({ connectionString, max: 4 });
  // Instances starting together would race on `create table if not exists`: take a lock.
  await pool.query(
    `do $$ begin
       perform pg_advisory_xact_lock(hashtext('demo_courses'));
       create table if not exists demo_courses (id text primary key, owner_id text not null, data jsonb not null, created_at timestamptz not null default now());
     end $$`,
  );
  const courses: CourseStore = {
    async save(course) {
      await pool.query(
        'insert into demo_courses (id, owner_id, data) values ($1, $2, $3) on conflict (id) do update set data = excluded.data',
        [course.id, course.ownerId, course],
      );
    },
    async get(id) {
      const { rows } = await pool.query('select data from demo_courses where id = $1', [id]);
      return (rows[0]?.data as Course | undefined) ?? null;
    },
  };
  return { kind: 'postgres', jobs, courses };
}

async function supabaseStores(): Promise<Stores> {
  const { SupabaseJobStore } = await import('@jobstream/supabase');
  const { createClient } = await import('@supabase/supabase-js');
  const { default: WebSocket } = await import('ws');
  const client = createClient(
    process.env.SUPABASE_URL as string,
    process.env.SUPABASE_SERVICE_ROLE_KEY as string,
    {
      auth: { persistSession: false },
      realtime: { transport: WebSocket as never },
    },
  );
  const jobs = new SupabaseJobStore({ client });
  // Courses go in a plain table (create it once: see README "Supabase").
  const courses: CourseStore = {
    async save(course) {
      const { error } = await client
        .from('demo_courses')
        .upsert({ id: course.id, owner_id: course.ownerId, data: course });
      if (error) throw new Error(`Saving the course failed: ${error.message}`);
    },
    async get(id) {
      const { data, error } = await client
        .from('demo_courses')
        .select('data')
        .eq('id', id)
        .maybeSingle();
      if (error) throw new Error(`Reading the course failed: ${error.message}`);
      return (data?.data as Course | undefined) ?? null;
    },
  };
  return { kind: 'supabase', jobs, courses };
}

function memoryStores(): Stores {
  return {
    kind: 'memory',
    // Finished jobs are dropped after a day, so a long-running demo stays small.
    jobs: new MemoryJobStore({ retention: { finishedJobTtlMs: 24 * 3600_000 } }),
    courses: new MemoryCourseStore(),
  };
}

const holder = globalThis as typeof globalThis & { __courseGeneratorStores?: Promise<Stores> };

export function getStores(): Promise<Stores> {
  holder.__courseGeneratorStores ??= (async () => {
    const kind = storeKind();
    if (kind === 'postgres') return postgresStores();
    if (kind === 'supabase') return supabaseStores();
    return memoryStores();
  })();
  return holder.__courseGeneratorStores;
}
