import { ConflictError, isJobstreamError, JobstreamError } from '@jobstream/core';

/** What supabase-js returns in `error` for a PostgREST call (or a network failure). */
export interface PostgrestErrorLike {
  code?: string;
  message?: string;
  details?: string | null;
  hint?: string | null;
}

function clean(message: string | undefined): string {
  return (message ?? 'request failed').replace(/^jobstream: /, '');
}

/**
 * PostgREST cannot reach PostgreSQL (PGRST000–PGRST003: no connection, a pool timeout,
 * answered 503/504), or PostgreSQL dropped the connection (08…) or is shutting down
 * (57P…): what a Supabase database restart looks like through the REST edge. Or the
 * database says "not now" and rolled the call back: read-only mode (25006, what Supabase
 * switches a nearly full disk to), out of resources (53…: disk, memory, connections), a
 * statement or lock timeout (57014, 55P03), a serialization failure or deadlock (40001,
 * 40P01).
 */
const DATABASE_UNAVAILABLE = /^(PGRST00[0-3]|08|57P|53|25006$|57014$|55P03$|40001$|40P01$)/;

/**
 * Turns a PostgREST error into a `JobstreamError`. The SQL functions raise PT404 / PT409
 * (PostgREST answers those with HTTP 404 / 409); PGRST202 means the function is missing,
 * i.e. the migrations were not applied.
 */
export function toJobstreamError(error: unknown, context: string): JobstreamError {
  if (isJobstreamError(error)) return error;
  const e = (error ?? {}) as PostgrestErrorLike;
  switch (e.code) {
    case 'PT409': {
      const actual = Number(e.details);
      return new ConflictError(`${clean(e.message)}; read it again and retry.`, {
        cause: error,
        details: Number.isFinite(actual) ? { actualVersion: actual } : undefined,
      });
    }
    case 'PT404':
      return new JobstreamError('not_found', `${clean(e.message)}.`, { cause: error });
    case '23505':
      return new ConflictError(`${context}: a job with this id already exists.`, { cause: error });
    case '23503':
      return new JobstreamError(
        'invalid_input',
        `${context}: ownerId is a uuid but not a user in auth.users. Use the user's Supabase auth id as ownerId (or an ownerId that is not a uuid, which no browser user can read under RLS).`,
        { cause: error },
      );
    case '22023':
    case '22P02':
    case '22P05':
    case '22007':
    case '22008':
      return new JobstreamError('invalid_input', `${context}: ${clean(e.message)}.`, {
        cause: error,
      });
    case '42501':
      return new JobstreamError(
        'forbidden',
        `${context}: permission denied (${clean(e.message)}). SupabaseJobStore writes need the service role key; browsers read under RLS with the user's session instead.`,
        { cause: error },
      );
    case 'PGRST202':
    case 'PGRST205':
    case '42883':
    case '42P01':
      return new JobstreamError(
        'schema_mismatch',
        `${context}: the jobstream schema is missing or outdated (${clean(e.message)}). Apply the migrations in @jobstream/supabase/migrations.`,
        { cause: error },
      );
  }
  if (
    !e.code ||
    DATABASE_UNAVAILABLE.test(e.code) ||
    /fetch failed|network|ECONNREFUSED|ECONNRESET/i.test(e.message ?? '')
  ) {
    return new JobstreamError('store_unavailable', `${context}: ${clean(e.message)}`, {
      cause: error,
    });
  }
  return new JobstreamError('internal', `${context}: ${clean(e.message)}`, { cause: error });
}
