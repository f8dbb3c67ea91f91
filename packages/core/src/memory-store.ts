import { ConflictError, JobstreamError } from './errors.js';
import type { JobEvent } from './events.js';
import type { Job, NewJob } from './job.js';
import { isTerminalStatus } from './state-machine.js';
import type {
  CommitRequest,
  DeleteJobsFilter,
  EventListener,
  JobStore,
  ListJobsFilter,
  ListJobsPage,
  ReadEventsOptions,
} from './store.js';
import {
  checkReadOptions,
  decodeCursor,
  encodeCursor,
  pageSize,
  prepareCommit,
  prepareCreate,
  statusFilter,
  toDate,
} from './store-helpers.js';

export interface MemoryJobStoreOptions {
  /**
   * Drop finished jobs (with their events) this long after they finished, on a timer
   * that never keeps the process alive. Off unless set.
   * @example new MemoryJobStore({ retention: { finishedJobTtlMs: 3_600_000 } })
   */
  retention?: {
    finishedJobTtlMs: number;
    /** How often to sweep. @default 60_000 */
    sweepIntervalMs?: number;
  };
  /** Clock, for tests. @default () => new Date() */
  now?: () => Date;
}

interface Entry {
  job: Job;
  events: JobEvent[];
}

/**
 * The embedded default store: one process, nothing persisted.
 *
 * Guarantees: every method runs to completion before another starts (JavaScript's run
 * to completion), so `commit` is atomic and of two commits on one version exactly one
 * wins. Listeners are called synchronously, in id order, after the commit is stored; a
 * listener that throws does not affect the commit or other listeners. Returned jobs and
 * events are shared, not copied: treat them as immutable.
 */
export class MemoryJobStore implements JobStore {
  readonly #entries = new Map<string, Entry>();
  /** Kept apart from entries: a follower may subscribe before the job is created. */
  readonly #listeners = new Map<string, Set<EventListener>>();
  readonly #now: () => Date;
  #sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(options: MemoryJobStoreOptions = {}) {
    this.#now = options.now ?? (() => new Date());
    const retention = options.retention;
    if (retention) {
      if (!(retention.finishedJobTtlMs >= 0)) {
        throw new JobstreamError('invalid_input', 'retention.finishedJobTtlMs must be >= 0.');
      }
      this.#sweeper = setInterval(() => {
        const cutoff = new Date(this.#now().getTime() - retention.finishedJobTtlMs);
        void this.deleteJobs({ finishedBefore: cutoff });
      }, retention.sweepIntervalMs ?? 60_000);
      // A store must never be the reason a process stays up.
      (this.#sweeper as { unref?: () => void }).unref?.();
    }
  }

  async createJob(input: NewJob): Promise<{ job: Job; event: JobEvent }> {
    const { job, event } = prepareCreate(input, this.#now());
    if (this.#entries.has(job.id)) {
      throw new ConflictError(`A job with id ${job.id} already exists.`);
    }
    this.#entries.set(job.id, { job, events: [event] });
    return { job, event };
  }

  async getJob(id: string): Promise<Job | null> {
    return this.#entries.get(id)?.job ?? null;
  }

  async commit(jobId: string, request: CommitRequest): Promise<{ job: Job; events: JobEvent[] }> {
    const entry = this.#entries.get(jobId);
    const { job, events } = prepareCommit(
      entry?.job ?? null,
      jobId,
      request?.expectedVersion,
      request?.events,
      this.#now(),
    );
    // prepareCommit threw if the entry was missing.
    const target = entry as Entry;
    target.job = job;
    for (const event of events) target.events.push(event);
    const listeners = this.#listeners.get(jobId);
    if (listeners) this.#emit(listeners, events);
    return { job, events };
  }

  #emit(listeners: Set<EventListener>, events: readonly JobEvent[]): void {
    for (const event of events) {
      for (const listener of listeners) {
        try {
          listener(event);
        } catch {
          // A subscriber's bug must not undo or block a committed write.
        }
      }
    }
  }

  async readEvents(jobId: string, options: ReadEventsOptions = {}): Promise<JobEvent[]> {
    const { after, limit } = checkReadOptions(options.after, options.limit);
    const events = this.#entries.get(jobId)?.events ?? [];
    // ids are 1..n at positions 0..n-1, so `after` is also the start index.
    return events.slice(after, after + limit);
  }

  async subscribe(jobId: string, onEvent: EventListener): Promise<() => void> {
    let listeners = this.#listeners.get(jobId);
    if (!listeners) {
      listeners = new Set();
      this.#listeners.set(jobId, listeners);
    }
    // Wrap so the same function subscribed twice gets two independent subscriptions.
    const listener: EventListener = (event) => onEvent(event);
    listeners.add(listener);
    const set = listeners;
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#listeners.get(jobId) === set) this.#listeners.delete(jobId);
    };
  }

  async listJobs(filter: ListJobsFilter = {}): Promise<ListJobsPage> {
    const limit = pageSize(filter.limit);
    const statuses = statusFilter(filter);
    const after = filter.cursor ? decodeCursor(filter.cursor) : null;
    const matches: Job[] = [];
    for (const { job } of this.#entries.values()) {
      if (filter.ownerId !== undefined && job.ownerId !== filter.ownerId) continue;
      if (filter.kind !== undefined && job.kind !== filter.kind) continue;
      if (statuses && !statuses.has(job.status)) continue;
      if (after && !isBefore(after, job)) continue;
      matches.push(job);
    }
    matches.sort((a, b) => (isBefore(a, b) ? -1 : isBefore(b, a) ? 1 : 0));
    const jobs = matches.slice(0, limit);
    const last = jobs[jobs.length - 1];
    return { jobs, nextCursor: matches.length > limit && last ? encodeCursor(last) : null };
  }

  async deleteJobs(filter: DeleteJobsFilter): Promise<number> {
    const cutoff = toDate(filter?.finishedBefore, 'finishedBefore').getTime();
    let deleted = 0;
    for (const [id, { job }] of this.#entries) {
      if (isTerminalStatus(job.status) && job.completedAt && Date.parse(job.completedAt) < cutoff) {
        this.#entries.delete(id);
        deleted++;
      }
    }
    return deleted;
  }

  /** Live listeners across all jobs (the conformance suite checks none leak). */
  listenerCount(): number {
    let count = 0;
    for (const set of this.#listeners.values()) count += set.size;
    return count;
  }

  /** Stops the retention timer. */
  close(): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }
}

/** Newest first: later createdAt first, then larger id first. */
function isBefore(a: { createdAt: string; id: string }, b: { createdAt: string; id: string }) {
  return a.createdAt > b.createdAt || (a.createdAt === b.createdAt && a.id > b.id);
}
