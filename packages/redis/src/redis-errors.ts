import { isJobstreamError, JobstreamError } from '@jobstream/core';

/**
 * What ioredis says when Redis cannot be reached: its offline queue gave up
 * (`maxRetriesPerRequest`), the connection is closed, or a socket error surfaced.
 */
const UNREACHABLE =
  /max retries per request|Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH/i;

/** True when `error` means Redis could not be reached (nothing was answered). */
export function isUnreachable(error: unknown): boolean {
  const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown };
  return (
    name === 'MaxRetriesPerRequestError' ||
    (typeof message === 'string' && UNREACHABLE.test(message))
  );
}

/**
 * Rethrows a failed Redis call as the store contract's error: `store_unavailable` when
 * Redis could not be reached (a tracker waits that out), anything else unchanged.
 */
export function rethrowStoreError(error: unknown): never {
  if (!isJobstreamError(error) && isUnreachable(error)) {
    throw new JobstreamError(
      'store_unavailable',
      `Redis is unreachable: ${(error as Error).message}`,
      { cause: error },
    );
  }
  throw error;
}
