import { ConflictError, isJobstreamError, JobstreamError } from '@jobstream/core';

interface DatabaseErrorLike {
  code?: unknown;
  message?: unknown;
  detail?: unknown;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND']);

/**
 * SQLSTATEs that say "not now" rather than "never": the statement was rolled back and the
 * same call may work in a moment, so they are `store_unavailable` (HTTP 503, and a
 * tracker waits and retries) instead of `internal`.
 * - 25006 read_only_sql_transaction: a database put in read-only mode (Supabase does this
 *   when the disk is nearly full), or a connection left on a demoted primary (the pool
 *   closes a connection after any error, so the next call opens a fresh session);
 * - class 53, insufficient resources: disk full, out of memory, too many connections;
 * - 57014 query_canceled (a `statement_timeout`), 55P03 lock_not_available (a
 *   `lock_timeout`): an overloaded database;
 * - 40001 serialization_failure, 40P01 deadlock_detected: the database asks for a retry.
 */
const TRANSIENT_CODES = new Set(['25006', '57014', '55P03', '40001', '40P01']);

/** True when the statement failed for a reason that may pass (see TRANSIENT_CODES). */
function isTransientError(error: unknown): boolean {
  const { code } = (error ?? {}) as DatabaseErrorLike;
  return typeof code === 'string' && (TRANSIENT_CODES.has(code) || code.startsWith('53'));
}

/** True when the error means the database could not be reached or the connection died. */
export function isConnectionError(error: unknown): boolean {
  const { code, message } = (error ?? {}) as DatabaseErrorLike;
  if (typeof code === 'string') {
    if (CONNECTION_CODES.has(code) || code.startsWith('08') || code.startsWith('57P')) return true;
  }
  return (
    typeof message === 'string' &&
    /Connection terminated|Client has encountered a connection error|not queryable|connection timeout/i.test(
      message,
    )
  );
}

function clean(message: unknown): string {
  return typeof message === 'string' ? message.replace(/^jobstream: /, '') : 'database error';
}

/**
 * Turns what the database (or the connection) threw into a `JobstreamError` with the code a
 * caller can act on. The SQL functions raise PT404 / PT409 on purpose (PostgREST turns the
 * same codes into HTTP 404 / 409 for Supabase).
 */
export function toJobstreamError(error: unknown, context: string): JobstreamError {
  if (isJobstreamError(error)) return error;
  const { code, message, detail } = (error ?? {}) as DatabaseErrorLike;
  switch (code) {
    case 'PT409': {
      const actual = Number(detail);
      return new ConflictError(`${clean(message)}; read it again and retry.`, {
        cause: error,
        details: Number.isFinite(actual) ? { actualVersion: actual } : undefined,
      });
    }
    case 'PT404':
      return new JobstreamError('not_found', `${clean(message)}.`, { cause: error });
    case '23505':
      return new ConflictError(`${context}: a job with this id already exists.`, { cause: error });
    case '23503':
      return new JobstreamError(
        'invalid_input',
        `${context}: ownerId is a uuid but not a user in auth.users. On Supabase, use the user's auth id (or an ownerId that is not a uuid, which no browser user can read).`,
        { cause: error },
      );
    case '22023':
    case '22P02':
    case '22P05':
    case '22007':
    case '22008':
      return new JobstreamError('invalid_input', `${context}: ${clean(message)}.`, {
        cause: error,
      });
    case '42883':
    case '42P01':
      return new JobstreamError(
        'schema_mismatch',
        `${context}: the jobstream schema is missing or outdated (${clean(message)}). Run store.migrate() or apply the migrations of @jobstream/supabase.`,
        { cause: error },
      );
  }
  if (isConnectionError(error) || isTransientError(error)) {
    return new JobstreamError('store_unavailable', `${context}: ${clean(message)}`, {
      cause: error,
    });
  }
  return new JobstreamError('internal', `${context}: ${clean(message)}`, { cause: error });
}
