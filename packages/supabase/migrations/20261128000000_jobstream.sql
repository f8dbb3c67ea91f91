-- jobstream schema, version 1.
--
-- Shared by @jobstream/supabase (apply with the Supabase CLI or the SQL editor) and
-- @jobstream/postgres (`store.migrate()` applies this same file). Every statement is
-- idempotent, and the Supabase-only parts (auth.users, the anon/authenticated/service_role
-- roles, the supabase_realtime publication) are guarded, so the file also applies to a
-- plain PostgreSQL database.

-- The job record. `record` holds the whole job as core's `reduce` folded it; the other
-- columns are copied from it by the functions below (in the same statement), so SQL
-- dashboards and the seed's monitoring queries can read them.
create table if not exists public.jobstream_jobs (
  id text primary key,
  -- The core `Job.ownerId`, whatever the app uses (a Supabase user id, a cookie name…).
  owner_id text not null,
  -- The Supabase user that owns the job: `owner_id` when it is a uuid, otherwise null.
  -- RLS lets an authenticated user read the jobs whose user_id is theirs.
  user_id uuid,
  kind text not null,
  status text not null
    check (status in ('pending', 'running', 'completed', 'failed', 'cancelled')),
  current_step text,
  current_step_index integer not null default 0,
  total_steps integer not null default 0,
  progress double precision not null default 0,
  message text,
  version integer not null check (version > 0),
  record jsonb not null,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  completed_at timestamptz,
  updated_at timestamptz not null default now()
);

-- Every event of every job: `seq` is the event id (1, 2, 3… per job, no gaps).
create table if not exists public.jobstream_events (
  job_id text not null references public.jobstream_jobs (id) on delete cascade,
  seq integer not null check (seq > 0),
  type text not null,
  data jsonb not null,
  at timestamptz not null,
  primary key (job_id, seq)
);

-- listJobs by owner (newest first), the browser's "my jobs" under RLS, the seed's
-- monitoring queries (by status within a time window, recent jobs) and cleanup.
-- `collate "C"` on id: pages are ordered like JavaScript compares strings, on any locale.
create index if not exists jobstream_jobs_owner_created_idx
  on public.jobstream_jobs (owner_id, created_at desc, id collate "C" desc);
create index if not exists jobstream_jobs_user_created_idx
  on public.jobstream_jobs (user_id, created_at desc) where user_id is not null;
create index if not exists jobstream_jobs_status_created_idx
  on public.jobstream_jobs (status, created_at desc);
create index if not exists jobstream_jobs_created_idx
  on public.jobstream_jobs (created_at desc, id collate "C" desc);
create index if not exists jobstream_jobs_finished_idx
  on public.jobstream_jobs (completed_at)
  where status in ('completed', 'failed', 'cancelled');

-- On Supabase, a job belongs to an auth user and goes away with them.
do $$
begin
  if to_regclass('auth.users') is not null and not exists (
    select 1 from pg_constraint where conname = 'jobstream_jobs_user_id_fkey'
  ) then
    alter table public.jobstream_jobs
      add constraint jobstream_jobs_user_id_fkey
      foreign key (user_id) references auth.users (id) on delete cascade;
  end if;
end
$$;

-- Which schema version the packages expect; checked when a store starts.
create or replace function public.jobstream_schema_version()
returns integer
language sql
immutable
set search_path = ''
as $$ select 1 $$;

-- Creates a job and its event 1 (job_created) atomically, then notifies listeners.
-- `p_job` and `p_event` come from core's `prepareCreate`.
create or replace function public.jobstream_create(p_job jsonb, p_event jsonb)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_id text := p_job ->> 'id';
  v_owner text := p_job ->> 'ownerId';
begin
  if v_id is null or v_owner is null or (p_job ->> 'version')::integer <> 1
     or (p_event ->> 'id')::integer <> 1 then
    raise exception using errcode = '22023', message = 'jobstream: malformed job or event';
  end if;
  insert into public.jobstream_jobs (
    id, owner_id, user_id, kind, status, current_step, current_step_index, total_steps,
    progress, message, version, record, created_at, started_at, completed_at, updated_at
  ) values (
    v_id,
    v_owner,
    case when v_owner ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      then v_owner::uuid end,
    p_job ->> 'kind',
    p_job ->> 'status',
    p_job ->> 'currentStep',
    coalesce((p_job ->> 'currentStepIndex')::integer, 0),
    coalesce((p_job ->> 'totalSteps')::integer, 0),
    coalesce((p_job ->> 'progress')::double precision, 0),
    p_job ->> 'message',
    1,
    p_job,
    (p_job ->> 'createdAt')::timestamptz,
    (p_job ->> 'startedAt')::timestamptz,
    (p_job ->> 'completedAt')::timestamptz,
    (p_job ->> 'updatedAt')::timestamptz
  );
  insert into public.jobstream_events (job_id, seq, type, data, at)
  values (v_id, 1, p_event ->> 'type', p_event -> 'data', (p_event ->> 'at')::timestamptz);
  -- A pointer, never the payload: "<first id>:<last id>:<job id>".
  perform pg_notify('jobstream', '1:1:' || v_id);
end
$$;

-- The commit: checks the version, appends the events with the next ids and stores the
-- folded job, in one statement (so one transaction: a dropped connection writes nothing).
-- `p_job` is the job after folding `p_events` (core's `prepareCommit`). Raises PT404 when
-- the job does not exist and PT409 when its version (or identity) is not the expected one.
create or replace function public.jobstream_commit(
  p_job_id text,
  p_expected_version integer,
  p_job jsonb,
  p_events jsonb
)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_count integer := jsonb_array_length(p_events);
  v_last integer;
  v_actual integer;
begin
  if v_count < 1 then
    raise exception using errcode = '22023', message = 'jobstream: commit needs at least one event';
  end if;
  v_last := p_expected_version + v_count;
  if (p_job ->> 'version')::integer is distinct from v_last or p_job ->> 'id' is distinct from p_job_id then
    raise exception using errcode = '22023',
      message = 'jobstream: the folded job does not match the events';
  end if;

  -- created_at never changes, so it also tells a job from one deleted and re-created with
  -- the same id (a writer folding onto a cached copy of the old one must lose).
  update public.jobstream_jobs set
    status = p_job ->> 'status',
    current_step = p_job ->> 'currentStep',
    current_step_index = coalesce((p_job ->> 'currentStepIndex')::integer, 0),
    total_steps = coalesce((p_job ->> 'totalSteps')::integer, 0),
    progress = coalesce((p_job ->> 'progress')::double precision, 0),
    message = p_job ->> 'message',
    version = v_last,
    record = p_job,
    started_at = (p_job ->> 'startedAt')::timestamptz,
    completed_at = (p_job ->> 'completedAt')::timestamptz,
    updated_at = (p_job ->> 'updatedAt')::timestamptz
  where id = p_job_id
    and version = p_expected_version
    and created_at = (p_job ->> 'createdAt')::timestamptz;

  if not found then
    select version into v_actual from public.jobstream_jobs where id = p_job_id;
    if v_actual is null then
      raise exception using errcode = 'PT404',
        message = format('jobstream: job %s does not exist', p_job_id);
    end if;
    raise exception using errcode = 'PT409',
      message = format('jobstream: job %s is at version %s, not %s', p_job_id, v_actual, p_expected_version),
      detail = v_actual::text;
  end if;

  insert into public.jobstream_events (job_id, seq, type, data, at)
  select p_job_id, p_expected_version + e.n::integer, e.value ->> 'type', e.value -> 'data',
         (e.value ->> 'at')::timestamptz
  from jsonb_array_elements(p_events) with ordinality as e (value, n);

  perform pg_notify('jobstream', (p_expected_version + 1) || ':' || v_last || ':' || p_job_id);
end
$$;

-- One page of jobs, newest first (created_at, then id in byte order), for listJobs.
create or replace function public.jobstream_list_jobs(
  p_owner_id text default null,
  p_statuses text[] default null,
  p_kind text default null,
  p_before_created_at timestamptz default null,
  p_before_id text default null,
  p_limit integer default 50
)
returns setof jsonb
language sql
stable
set search_path = ''
as $$
  select j.record
  from public.jobstream_jobs j
  where (p_owner_id is null or j.owner_id = p_owner_id)
    and (p_statuses is null or j.status = any (p_statuses))
    and (p_kind is null or j.kind = p_kind)
    and (p_before_created_at is null
         or j.created_at < p_before_created_at
         or (j.created_at = p_before_created_at and j.id collate "C" < p_before_id collate "C"))
  order by j.created_at desc, j.id collate "C" desc
  limit greatest(p_limit, 0)
$$;

-- Retention: deletes jobs that finished (completed, failed, cancelled) before the given
-- time, with their events (on delete cascade). Returns how many jobs it deleted.
create or replace function public.jobstream_delete_finished(p_before timestamptz)
returns integer
language sql
set search_path = ''
as $$
  with deleted as (
    delete from public.jobstream_jobs
    where status in ('completed', 'failed', 'cancelled') and completed_at < p_before
    returning 1
  )
  select count(*)::integer from deleted
$$;

-- The seed's cleanup, by age: `select public.jobstream_cleanup('7 days');` (pg_cron-friendly).
create or replace function public.jobstream_cleanup(p_older_than interval default '7 days')
returns integer
language sql
set search_path = ''
as $$ select public.jobstream_delete_finished(now() - p_older_than) $$;

-- Row level security. Reads: an authenticated user sees only their own jobs and those
-- jobs' events; anon sees nothing. Writes: no policy at all, so only roles that bypass RLS
-- (the table owner, Supabase's service_role) insert, update or delete.
alter table public.jobstream_jobs enable row level security;
alter table public.jobstream_events enable row level security;

do $$
begin
  if to_regprocedure('auth.uid()') is not null
     and exists (select 1 from pg_roles where rolname = 'authenticated') then
    drop policy if exists "jobstream_jobs: owners read their jobs" on public.jobstream_jobs;
    create policy "jobstream_jobs: owners read their jobs"
      on public.jobstream_jobs for select to authenticated
      using (user_id = (select auth.uid()));

    drop policy if exists "jobstream_events: owners read their events" on public.jobstream_events;
    create policy "jobstream_events: owners read their events"
      on public.jobstream_events for select to authenticated
      using (exists (
        select 1 from public.jobstream_jobs j
        where j.id = job_id and j.user_id = (select auth.uid())
      ));
  end if;
end
$$;

-- Functions are executable by PUBLIC by default, and Supabase grants anon and
-- authenticated everything in public: take the writing ones back; only the server calls them.
revoke execute on function public.jobstream_create(jsonb, jsonb) from public;
revoke execute on function public.jobstream_commit(text, integer, jsonb, jsonb) from public;
revoke execute on function public.jobstream_list_jobs(text, text[], text, timestamptz, text, integer) from public;
revoke execute on function public.jobstream_delete_finished(timestamptz) from public;
revoke execute on function public.jobstream_cleanup(interval) from public;

do $$
declare
  r text;
begin
  foreach r in array array['anon', 'authenticated'] loop
    if exists (select 1 from pg_roles where rolname = r) then
      execute format('revoke all on public.jobstream_jobs, public.jobstream_events from %I', r);
      execute format('revoke execute on function public.jobstream_create(jsonb, jsonb), public.jobstream_commit(text, integer, jsonb, jsonb), public.jobstream_list_jobs(text, text[], text, timestamptz, text, integer), public.jobstream_delete_finished(timestamptz), public.jobstream_cleanup(interval) from %I', r);
    end if;
  end loop;
  if exists (select 1 from pg_roles where rolname = 'authenticated') then
    execute 'grant select on public.jobstream_jobs, public.jobstream_events to authenticated';
  end if;
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    execute 'grant select, insert, update, delete on public.jobstream_jobs, public.jobstream_events to service_role';
    execute 'grant execute on function public.jobstream_create(jsonb, jsonb), public.jobstream_commit(text, integer, jsonb, jsonb), public.jobstream_list_jobs(text, text[], text, timestamptz, text, integer), public.jobstream_delete_finished(timestamptz), public.jobstream_cleanup(interval), public.jobstream_schema_version() to service_role';
  end if;
end
$$;

-- Supabase Realtime: stream inserted events to subscribers (RLS applies to them too).
do $$
begin
  if exists (select 1 from pg_publication where pubname = 'supabase_realtime')
     and not exists (
       select 1 from pg_publication_tables
       where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = 'jobstream_events'
     ) then
    alter publication supabase_realtime add table public.jobstream_events;
  end if;
end
$$;
