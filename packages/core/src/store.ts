import type { EventDraft, JobEvent } from './events.js';
import type { Job, JobStatus, NewJob } from './job.js';

export interface CommitRequest {
  /** The `version` of the job the caller last saw. A stale one rejects the commit. */
  expectedVersion: number;
  /** One or more events; they get the next ids, in this order. */
  events: readonly EventDraft[];
}

export interface ReadEventsOptions {
  /** Only events with an id greater than this. @default 0 */
  after?: number;
  /** At most this many. @default 1000 */
  limit?: number;
}

export interface ListJobsFilter {
  ownerId?: string;
  status?: JobStatus | readonly JobStatus[];
  kind?: string;
  /** Page size. @default 50 */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string | null;
}

export interface ListJobsPage {
  /** Newest first (by `createdAt`, then `id`). */
  jobs: Job[];
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

export interface DeleteJobsFilter {
  /** Delete jobs that reached a terminal state before this time. */
  finishedBefore: Date | string;
}

export type EventListener = (event: JobEvent) => void;

/**
 * Where jobs and their events live. Implement it to put jobstream on a new database,
 * then run `runJobStoreConformance` from `@jobstream/core/testing` against it.
 *
 * The helpers `prepareCreate` and `prepareCommit` do the validation, id assignment and
 * folding for you; an adapter only has to make the write atomic.
 */
export interface JobStore {
  /**
   * Creates a job and writes `job_created` as its event 1, atomically: either both
   * exist afterwards or neither. Rejects with `invalid_input` for a bad job and with
   * `conflict` when the id is taken.
   */
  createJob(job: NewJob): Promise<{ job: Job; event: JobEvent }>;

  /** The job as of its latest commit, or null. Never a partially written job. */
  getJob(id: string): Promise<Job | null>;

  /**
   * Atomically: checks that the job's version is `expectedVersion`, appends the events
   * with the next ids (no gaps), and stores the job folded with them. A stale version
   * rejects with `ConflictError` and writes nothing; an event the state machine refuses
   * rejects with its `JobstreamError` and writes nothing. Of two commits on the same
   * version, exactly one succeeds. Subscribers then receive the events in id order.
   */
  commit(jobId: string, request: CommitRequest): Promise<{ job: Job; events: JobEvent[] }>;

  /** Committed events with `id > after`, ascending, at most `limit`. */
  readEvents(jobId: string, options?: ReadEventsOptions): Promise<JobEvent[]>;

  /**
   * Calls `onEvent` for events committed after the returned promise resolves, from any
   * process sharing this store, in id order per job. Delivery may repeat or skip an id
   * under failure; `followJob` repairs both by reading the store, so always read live
   * through `followJob`. The returned function unsubscribes and releases every resource.
   */
  subscribe(jobId: string, onEvent: EventListener): Promise<() => void>;

  /** Jobs matching the filter, newest first, a page at a time. */
  listJobs(filter?: ListJobsFilter): Promise<ListJobsPage>;

  /**
   * Deletes terminal jobs (completed, failed, cancelled) whose `completedAt` is before
   * `finishedBefore`, with all their events. Returns how many jobs were deleted.
   */
  deleteJobs(filter: DeleteJobsFilter): Promise<number>;
}
