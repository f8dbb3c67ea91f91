import type { Job } from './job.js';

/**
 * The jobs a store wrote or read last, so that a commit right after needs no read first:
 * `prepareCommit` folds onto the kept copy when it is the version the caller expects. The
 * adapter's atomic write must still check the version in the database (it does for the
 * contract), so a stale copy costs a conflict, never a wrong record. The least recently
 * remembered job falls out past `size`; a size of 0 keeps nothing.
 *
 * Forget a job whenever a write's outcome is unknown or refused (a lost answer, a
 * conflict), so the next commit reads it again.
 *
 * @example
 * const current = this.recent.at(jobId, request.expectedVersion) ?? (await this.getJob(jobId));
 */
export class RecentJobs {
  readonly #jobs = new Map<string, Job>();
  readonly size: number;

  constructor(size = 1000) {
    this.size = size;
  }

  /** The kept copy of job `id` if it is at `version`, else null. */
  at(id: string, version: number): Job | null {
    const job = this.#jobs.get(id);
    return job && job.version === version ? job : null;
  }

  /** Keeps `job` as the newest copy of its id. */
  remember(job: Job): void {
    if (this.size <= 0) return;
    this.#jobs.delete(job.id);
    this.#jobs.set(job.id, job);
    if (this.#jobs.size > this.size) {
      const oldest = this.#jobs.keys().next();
      if (!oldest.done) this.#jobs.delete(oldest.value);
    }
  }

  forget(id: string): void {
    this.#jobs.delete(id);
  }

  clear(): void {
    this.#jobs.clear();
  }
}
