import { type JobStatus, JobstreamError, type ListJobsFilter } from '@jobstream/core';

const STATUSES: readonly JobStatus[] = ['pending', 'running', 'completed', 'failed', 'cancelled'];

/** `GET /jobs` answers this many jobs unless `limit` says otherwise. */
export const DEFAULT_LIST_LIMIT = 20;
/** The largest page `GET /jobs` answers. */
export const MAX_LIST_LIMIT = 100;

/**
 * The store filter of a `GET /jobs` query, the owner aside (the server adds the caller's
 * own, never one from the query). `status` takes several values, comma-separated or
 * repeated; `kind` must be a kind `kinds` holds; `limit` 1–100 (default 20); `cursor` is
 * a previous page's `nextCursor` (the store checks it). Other parameters are ignored (a
 * cache-buster). Throws `invalid_input` with the rule it broke.
 */
export function parseListQuery(
  query: URLSearchParams,
  kinds: ReadonlyMap<string, unknown>,
): Omit<ListJobsFilter, 'ownerId'> & { limit: number } {
  const filter: Omit<ListJobsFilter, 'ownerId'> & { limit: number } = {
    limit: DEFAULT_LIST_LIMIT,
  };
  const statuses = query
    .getAll('status')
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter(Boolean);
  if (statuses.length) {
    if (!statuses.every((status) => (STATUSES as readonly string[]).includes(status))) {
      throw new JobstreamError(
        'invalid_input',
        `status must be one or more of ${STATUSES.join(', ')} (comma-separated or repeated).`,
      );
    }
    filter.status = [...new Set(statuses)] as JobStatus[];
  }
  const kind = query.get('kind');
  if (kind !== null) {
    if (!kinds.has(kind)) {
      throw new JobstreamError(
        'invalid_input',
        `kind must be one of this server's kinds: ${[...kinds.keys()].join(', ')}.`,
      );
    }
    filter.kind = kind;
  }
  const limit = query.get('limit');
  if (limit !== null) {
    const value = Number(limit);
    if (!/^\d+$/.test(limit) || value < 1 || value > MAX_LIST_LIMIT) {
      throw new JobstreamError(
        'invalid_input',
        `limit must be a whole number from 1 to ${MAX_LIST_LIMIT}.`,
      );
    }
    filter.limit = value;
  }
  const cursor = query.get('cursor');
  if (cursor) {
    if (cursor.length > 1000) {
      throw new JobstreamError('invalid_input', 'cursor is not one returned by GET /jobs.');
    }
    filter.cursor = cursor;
  }
  return filter;
}
