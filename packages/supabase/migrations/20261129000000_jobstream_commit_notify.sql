-- jobstream schema, version 2: the writing functions can skip their NOTIFY.
--
-- PostgreSQL serialises the commits of every transaction that issued NOTIFY, cluster-wide
-- (a lock taken just before commit and held until the commit, WAL flush included, is
-- done). `@jobstream/postgres` therefore notifies after the commit by default, batching the
-- pointers of many commits into one statement, and calls these functions with
-- `p_notify => false`; `@jobstream/supabase` needs no NOTIFY at all (Realtime reads the
-- WAL). Called without `p_notify` they notify as version 1 did, so an app still on the old
-- package keeps working while this one rolls out.
--
-- Idempotent: the old signatures are dropped (if present) and the new ones created or
-- replaced, with the same security as 20261128000000_jobstream.sql.

drop function if exists public.jobstream_create(jsonb, jsonb);
drop function if exists public.jobstream_commit(text, integer, jsonb, jsonb);

create or replace function public.jobstream_schema_version()
returns integer
language sql
immutable
set search_path = ''
as $$ select 2 $$;

-- Creates a job and its event 1 (job_created) atomically; with `p_notify`, notifies
-- listeners when the transaction commits. `p_job` and `p_event` come from core's
-- `prepareCreate`.
create or replace function public.jobstream_create(
  p_job jsonb,
  p_event jsonb,
  p_notify boolean default true
)
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
  if p_notify is distinct from false then
    -- A pointer, never the payload: "<first id>:<last id>:<job id>".
    perform pg_notify('jobstream', '1:1:' || v_id);
  end if;
end
$$;

-- The commit: checks the version, appends the events with the next ids and stores the
-- folded job, in one statement (so one transaction: a dropped connection writes nothing);
-- with `p_notify`, notifies listeners when the transaction commits. `p_job` is the job
-- after folding `p_events` (core's `prepareCommit`). Raises PT404 when the job does not
-- exist and PT409 when its version (or identity) is not the expected one.
create or replace function public.jobstream_commit(
  p_job_id text,
  p_expected_version integer,
  p_job jsonb,
  p_events jsonb,
  p_notify boolean default true
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

  if p_notify is distinct from false then
    perform pg_notify('jobstream', (p_expected_version + 1) || ':' || v_last || ':' || p_job_id);
  end if;
end
$$;

-- The same privileges as version 1: only the server (the owner, service_role) may write.
revoke execute on function public.jobstream_create(jsonb, jsonb, boolean) from public;
revoke execute on function public.jobstream_commit(text, integer, jsonb, jsonb, boolean) from public;

do $$
declare
  r text;
begin
  foreach r in array array['anon', 'authenticated'] loop
    if exists (select 1 from pg_roles where rolname = r) then
      execute format('revoke execute on function public.jobstream_create(jsonb, jsonb, boolean), public.jobstream_commit(text, integer, jsonb, jsonb, boolean) from %I', r);
    end if;
  end loop;
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    execute 'grant execute on function public.jobstream_create(jsonb, jsonb, boolean), public.jobstream_commit(text, integer, jsonb, jsonb, boolean), public.jobstream_schema_version() to service_role';
  end if;
end
$$;

-- PostgREST (Supabase's REST API) caches function signatures: have it reload them.
notify pgrst, 'reload schema';
