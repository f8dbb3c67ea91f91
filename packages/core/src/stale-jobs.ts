import { isJobstreamError, JobstreamError } from './errors.js';
import type { EventDraft } from './events.js';
import type { Job, JobError } from './job.js';
import type { JobStore } from './store.js';

/** `error.code` of a running job failed because its worker stopped reporting. */
export const WORKER_LOST = 'worker_lost';
/** `error.code` of a pending job failed because no worker ever started it. */
export const NEVER_STARTED = 'never_started';

export interface StaleJobRules {
  /**
   * A `running` job whose `updatedAt` is older than this is taken for abandoned: the
   * process running it died (a deploy, a crash, a serverless time limit). Must exceed the
   * longest time a live job goes without a write: a tracker writes on every step, topic
   * and (coalesced) progress call, so report progress during a long quiet call. There
   * is no keep-alive write: it would be an event every viewer receives. `updatedAt` is
   * stamped by the writer's clock and compared with `now`, so instances' clocks must
   * agree to well within this.
   */
  staleAfterMs: number;
  /**
   * A `pending` job whose `updatedAt` is older than this is taken for lost in dispatch:
   * created (or resumed) but never started by any worker. Off unless set, as a queue
   * between `dispatch` and the worker may legitimately hold a job for a while.
   */
  pendingAfterMs?: number;
  /** The current time. @default new Date() */
  now?: Date;
}

export interface FailStaleJobsOptions extends StaleJobRules {
  /** Only this owner's jobs. */
  ownerId?: string;
  /** Only jobs of this kind. */
  kind?: string;
  /** At most this many jobs are failed in one call; call again for the rest. @default 100 */
  limit?: number;
}

export interface FailStaleJobsResult {
  /** The jobs this call failed, as stored afterwards. */
  failed: Job[];
  /** Stale jobs left alone because their worker (or another sweeper) wrote first. */
  skipped: number;
  /** True when `limit` was reached and more jobs may be stale. */
  more: boolean;
}

function checkRules(rules: StaleJobRules): void {
  const positive = (value: unknown) => typeof value === 'number' && value > 0;
  if (!positive(rules?.staleAfterMs)) {
    throw new JobstreamError('invalid_input', 'staleAfterMs must be a positive number of ms.');
  }
  if (rules.pendingAfterMs !== undefined && !positive(rules.pendingAfterMs)) {
    throw new JobstreamError('invalid_input', 'pendingAfterMs must be a positive number of ms.');
  }
}

/**
 * True when `job` is `running` and was last written more than `staleAfterMs` ago, or
 * `pending` and more than `pendingAfterMs` ago (when that is set). Pure: no store access.
 */
export function isJobStale(job: Job, rules: StaleJobRules): boolean {
  const limit =
    job.status === 'running'
      ? rules.staleAfterMs
      : job.status === 'pending'
        ? rules.pendingAfterMs
        : undefined;
  if (limit === undefined) return false;
  const now = (rules.now ?? new Date()).getTime();
  const updated = Date.parse(job.updatedAt);
  return Number.isFinite(updated) && now - updated > limit;
}

/**
 * The events that end a stale job. The message is what the progress modal shows the
 * person waiting, so it says what happened in their words and what to do next.
 */
function staleDrafts(job: Job, rules: StaleJobRules): EventDraft[] {
  const now = (rules.now ?? new Date()).getTime();
  const lastUpdateAt = job.updatedAt;
  const minutes = Math.max(1, Math.round((now - Date.parse(lastUpdateAt)) / 60_000));
  const ago = `${minutes} minute${minutes === 1 ? '' : 's'} ago`;
  if (job.status === 'pending') {
    const error: JobError = {
      code: NEVER_STARTED,
      message: `This job never started (it was queued ${ago}); it was probably lost on its way to a worker. Resume it to try again.`,
      details: { lastUpdateAt, pendingAfterMs: rules.pendingAfterMs ?? null },
    };
    // Only a running job can fail, so it is started and failed in one atomic commit.
    return [
      { type: 'job_started', data: {} },
      { type: 'job_failed', data: { error, failedStep: null } },
    ];
  }
  const running = job.steps.find((s) => s.status === 'running');
  const error: JobError = {
    code: WORKER_LOST,
    message: `This job stopped making progress ${ago} (the server running it was probably restarted, crashed or timed out). Resume it to continue from the last finished step.`,
    details: { lastUpdateAt, staleAfterMs: rules.staleAfterMs },
  };
  return [{ type: 'job_failed', data: { error, failedStep: running?.name ?? null } }];
}

/**
 * Fails `job` if it is stale (see `isJobStale`), with a version check against the
 * snapshot given: a worker that wrote in between wins and nothing is written. Returns
 * the failed job, or null when it was not stale or someone else wrote first.
 *
 * A live-but-quiet worker's `ProgressTracker` sees the failure, aborts its `signal`
 * (reason code `job_finished`) and rejects every later write, so it cannot write into a
 * run the user has since resumed.
 */
export async function failStaleJob(
  store: JobStore,
  job: Job,
  rules: StaleJobRules,
): Promise<Job | null> {
  checkRules(rules);
  if (!isJobStale(job, rules)) return null;
  try {
    const { job: failed } = await store.commit(job.id, {
      expectedVersion: job.version,
      events: staleDrafts(job, rules),
    });
    return failed;
  } catch (error) {
    // The worker committed, someone cancelled, or the job was deleted: theirs is newer.
    if (
      isJobstreamError(error, 'conflict') ||
      isJobstreamError(error, 'invalid_transition') ||
      isJobstreamError(error, 'not_found')
    ) {
      return null;
    }
    throw error;
  }
}

/**
 * Finds jobs whose worker is gone and fails them with `error.code` `worker_lost`
 * (running, silent for `staleAfterMs`) or `never_started` (pending for `pendingAfterMs`,
 * when set), so no viewer watches a job that will never move again. A failed job can be
 * resumed (`POST /resume`), and the resumed run skips the steps already completed.
 *
 * Safe to run from many places at once (a cron route, every instance's timer): each
 * failure is a version-checked commit, so a worker that writes in between, or another
 * sweeper that got there first, wins and the job is skipped.
 *
 * @example
 * // a cron route, every few minutes
 * const { failed } = await failStaleJobs(store, { staleAfterMs: 10 * 60_000 });
 */
export async function failStaleJobs(
  store: JobStore,
  options: FailStaleJobsOptions,
): Promise<FailStaleJobsResult> {
  checkRules(options);
  const limit = options.limit ?? 100;
  if (!(Number.isSafeInteger(limit) && limit > 0)) {
    throw new JobstreamError('invalid_input', 'limit must be a positive integer.');
  }
  const rules: StaleJobRules = { ...options, now: options.now ?? new Date() };
  const statuses =
    options.pendingAfterMs === undefined ? ['running' as const] : (['running', 'pending'] as const);
  const result: FailStaleJobsResult = { failed: [], skipped: 0, more: false };
  let cursor: string | null = null;
  do {
    // Newest first is the only order the contract has, so every page is read: running
    // and pending jobs are few (they are bounded by the work in flight).
    const page = await store.listJobs({
      status: statuses,
      ...(options.ownerId !== undefined ? { ownerId: options.ownerId } : {}),
      ...(options.kind !== undefined ? { kind: options.kind } : {}),
      limit: 100,
      cursor,
    });
    for (const job of page.jobs) {
      if (!isJobStale(job, rules)) continue;
      if (result.failed.length >= limit) {
        result.more = true;
        return result;
      }
      const failed = await failStaleJob(store, job, rules);
      if (failed) result.failed.push(failed);
      else result.skipped++;
    }
    cursor = page.nextCursor;
  } while (cursor);
  return result;
}
