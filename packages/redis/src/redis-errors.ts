import { isJobstreamError, JobstreamError } from '@jobstream/core';

/**
 * What ioredis says when Redis cannot be reached: its offline queue gave up
 * (`maxRetriesPerRequest`), the connection is closed, or a socket error surfaced.
 */
const UNREACHABLE =
  /max retries per request|Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH/i;

/**
 * What Redis answers, having run nothing, while it restarts or fails over: still loading
 * its data (`LOADING`), a replica whose primary is gone (`MASTERDOWN`), an old primary
 * demoted to a replica (`READONLY`; ioredis' `reconnectOnError` moves to the new one).
 * Or while it cannot take a write for now: another script running past its time limit
 * (`BUSY`), too few replicas for `min-replicas-to-write` (`NOREPLICAS`).
 */
const NOT_SERVING = /^(LOADING|MASTERDOWN|READONLY|BUSY|NOREPLICAS) /;

/**
 * Redis at `maxmemory` with `maxmemory-policy noeviction` refuses writes. A script is
 * refused at its first write, so nothing of it ran (Redis 6.2 wraps the answer in a
 * script error, hence a match anywhere).
 */
const OUT_OF_MEMORY = /\bOOM command not allowed/;

/** True when `error` means Redis could not be reached or cannot serve for now (nothing ran). */
export function isUnavailable(error: unknown): boolean {
  const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown };
  return (
    name === 'MaxRetriesPerRequestError' ||
    (typeof message === 'string' &&
      (UNREACHABLE.test(message) || NOT_SERVING.test(message) || OUT_OF_MEMORY.test(message)))
  );
}

/**
 * Rethrows a failed Redis call as the store contract's error: `store_unavailable` when
 * Redis could not be reached (a tracker waits that out), anything else unchanged.
 */
export function rethrowStoreError(error: unknown): never {
  if (!isJobstreamError(error) && isUnavailable(error)) {
    throw new JobstreamError(
      'store_unavailable',
      `Redis cannot serve the call now: ${(error as Error).message}`,
      { cause: error },
    );
  }
  throw error;
}
