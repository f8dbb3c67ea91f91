import { ConflictError, JobstreamError } from './errors.js';
import type { EventDraft, JobEvent } from './events.js';
import type { Job, NewJob } from './job.js';
import { reduce } from './reduce.js';
import { parseEventDraft, parseNewJob } from './schemas.js';
import type { ListJobsFilter } from './store.js';

/**
 * Validates a new job and builds its record and `job_created` event.
 * Store adapters call this, then persist both atomically.
 */
export function prepareCreate(
  input: NewJob,
  now: Date = new Date(),
): { job: Job; event: JobEvent<unknown, unknown, string, 'job_created'> } {
  const job = parseNewJob(input);
  const id = job.id ?? globalThis.crypto.randomUUID();
  const event: JobEvent<unknown, unknown, string, 'job_created'> = {
    id: 1,
    jobId: id,
    type: 'job_created',
    at: now.toISOString(),
    data: {
      kind: job.kind,
      ownerId: job.ownerId,
      input: job.input ?? null,
      steps: job.steps.map((s) => ({
        name: s.name,
        label: s.label ?? s.name,
        weight: s.weight ?? 1,
      })),
      ...(job.estimatedDuration !== undefined ? { estimatedDuration: job.estimatedDuration } : {}),
    },
  };
  return { job: reduce(null, event), event };
}

/**
 * Checks the version, validates the drafts, gives them the next ids and folds them into
 * the job. Throws (and the adapter must then write nothing) on a stale version, an
 * invalid event or a forbidden transition.
 */
export function prepareCommit(
  current: Job | null,
  jobId: string,
  expectedVersion: number,
  drafts: readonly EventDraft[],
  now: Date = new Date(),
): { job: Job; events: JobEvent[] } {
  if (!current) throw new JobstreamError('not_found', `Job ${jobId} does not exist.`);
  if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 1) {
    throw new JobstreamError('invalid_input', `expectedVersion must be a positive integer.`);
  }
  if (current.version !== expectedVersion) {
    throw new ConflictError(
      `Job ${jobId} is at version ${current.version}, not ${expectedVersion}; read it again and retry.`,
      { details: { expectedVersion, actualVersion: current.version } },
    );
  }
  if (!Array.isArray(drafts) || drafts.length === 0) {
    throw new JobstreamError('invalid_input', 'commit needs at least one event.');
  }
  const at = now.toISOString();
  let job = current;
  const events: JobEvent[] = [];
  for (const raw of drafts) {
    const draft = parseEventDraft(raw);
    if (draft.type === 'job_created') {
      throw new JobstreamError('invalid_event', 'job_created is written by createJob only.');
    }
    const event = {
      id: job.version + 1,
      jobId,
      type: draft.type,
      at: draft.at ?? at,
      data: draft.data,
    } as JobEvent;
    job = reduce(job, event);
    events.push(event);
  }
  return { job, events };
}

/** Opaque pagination cursor: the sort key of the last job on a page. */
export function encodeCursor(job: Pick<Job, 'createdAt' | 'id'>): string {
  return btoa(JSON.stringify([job.createdAt, job.id]));
}

/** The sort key inside a cursor; throws `invalid_input` for a string `encodeCursor` did not make. */
export function decodeCursor(cursor: string): { createdAt: string; id: string } {
  try {
    const [createdAt, id] = JSON.parse(atob(cursor)) as unknown[];
    if (typeof createdAt === 'string' && typeof id === 'string') return { createdAt, id };
  } catch {
    // fall through to the error below
  }
  throw new JobstreamError('invalid_input', 'cursor is not one returned by listJobs.');
}

/**
 * The `listJobs` page size: `fallback` when `limit` is undefined, else `limit` rounded down
 * and capped at 500. Throws `invalid_input` below 1 or for a non-number.
 */
export function pageSize(limit: number | undefined, fallback = 50): number {
  if (limit === undefined) return fallback;
  if (!Number.isFinite(limit) || limit < 1) {
    throw new JobstreamError('invalid_input', 'limit must be a positive number.');
  }
  return Math.min(500, Math.floor(limit));
}

/** The statuses `listJobs` keeps, or null when the filter has none (keep every job). */
export function statusFilter(filter: ListJobsFilter): ReadonlySet<string> | null {
  if (filter.status === undefined) return null;
  return new Set(typeof filter.status === 'string' ? [filter.status] : filter.status);
}

/** `value` as a Date; throws `invalid_input` naming `name` when it is not a valid time. */
export function toDate(value: Date | string, name: string): Date {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new JobstreamError('invalid_input', `${name} must be a Date or an ISO time.`);
  }
  return date;
}

/**
 * `readEvents` options with their defaults (`after` 0, `limit` 1000; a larger `limit` is
 * capped at 10,000). Throws `invalid_input` for a negative or fractional `after` or a
 * `limit` below 1.
 */
export function checkReadOptions(after: number | undefined, limit: number | undefined) {
  const a = after ?? 0;
  if (!Number.isSafeInteger(a) || a < 0) {
    throw new JobstreamError('invalid_input', 'after must be a non-negative integer.');
  }
  const l = limit ?? 1000;
  if (!Number.isSafeInteger(l) || l < 1) {
    throw new JobstreamError('invalid_input', 'limit must be a positive integer.');
  }
  return { after: a, limit: Math.min(l, 10_000) };
}
