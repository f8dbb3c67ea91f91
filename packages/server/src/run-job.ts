import {
  isJobstreamError,
  type JobStore,
  JobstreamError,
  ProgressTracker,
  type ProgressTrackerOptions,
} from '@jobstream/core';
import type { AnyJobDefinition, JobContext } from './define-job.js';

export interface RunJobOptions {
  tracker?: ProgressTrackerOptions;
  /** Told about failures that could not be recorded on the job itself (e.g. the store is down). */
  onError?: (error: unknown) => void;
  /**
   * The longest this run may take. Past it the job is failed with `error.code`
   * `time_limit` (resumable: the next run skips the completed steps) and the run's
   * `signal` aborts, so a serverless function ends the job itself before the platform
   * kills it mid-write. Off when undefined.
   */
  timeLimitMs?: number | undefined;
}

/** The job error code of a run that went past `timeLimitMs`. */
export const TIME_LIMIT = 'time_limit';

/**
 * Claims a pending job and runs its definition to a terminal state. Only one caller
 * ever runs a given job: the claim is a version-checked `job_started` commit, so a
 * duplicate dispatch (a retried queue message, a replayed `/process`) does nothing.
 *
 * Never rejects: a throw from `run` fails the job, a cancel ends it quietly (as does a
 * stale-job failure of a run that was only quiet: its `signal` aborts), and what cannot
 * be written to the store goes to `onError`.
 */
export async function runJob(
  store: JobStore,
  definition: AnyJobDefinition,
  jobId: string,
  options: RunJobOptions = {},
): Promise<void> {
  const report = options.onError ?? (() => {});
  let tracker: ProgressTracker | null = null;
  let signal: AbortSignal | null = null;
  try {
    tracker = new ProgressTracker(store, jobId, options.tracker);
    // Version-checked, and it waits out a store outage like every tracker write.
    if (!(await tracker.claim())) return;
    // The job as the claim wrote it: reading it again could meet the outage the claim just
    // waited out, and a throw here would leave the job claimed with nobody running it.
    const current = tracker.job ?? (await tracker.load());
    const deadline = new AbortController();
    signal = AbortSignal.any([tracker.signal, deadline.signal]);
    // Live before the run starts, so a cancel is heard. If the store is down, the tracker
    // subscribes again after its next write (and a write sees a cancel anyway).
    await tracker.watch().catch(() => {});
    const completedSteps = new Set(
      current.steps.filter((s) => s.status === 'completed').map((s) => s.name),
    );
    const ctx: JobContext = {
      tracker,
      signal,
      job: current,
      jobId,
      ownerId: current.ownerId,
      completedSteps,
      isStepCompleted: (step) => completedSteps.has(step),
    };
    const running = Promise.resolve().then(() => definition.run(current.input, ctx));
    const limit = options.timeLimitMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut =
      limit === undefined
        ? null
        : new Promise<typeof TIME_LIMIT>((resolve) => {
            timer = setTimeout(() => resolve(TIME_LIMIT), limit);
          });
    try {
      const outcome = await (timedOut ? Promise.race([running, timedOut]) : running);
      if (timedOut && outcome === TIME_LIMIT) {
        // Not waiting for `run` to notice: the platform's limit may be seconds away.
        running.catch(() => {});
        const message = `The job ran past its time limit of ${Math.round((limit ?? 0) / 1000)} s; resume it to go on from the last completed step.`;
        deadline.abort(
          new JobstreamError('job_finished', `Job ${jobId}: ${message}`, {
            details: { code: TIME_LIMIT },
          }),
        );
        if (!tracker.finished && !tracker.signal.aborted) {
          await tracker.fail({ message, code: TIME_LIMIT });
        }
        return;
      }
      if (!tracker.finished && !signal.aborted) await tracker.complete(outcome ?? null);
    } catch (error) {
      // Aborted: cancelled, or another writer ended the run (e.g. failed as stale).
      if (signal.aborted || isJobstreamError(error, 'job_cancelled')) return;
      await tracker.fail(error);
    } finally {
      clearTimeout(timer);
    }
  } catch (error) {
    // Either the claim/load failed, or writing the outcome did: a cancel (or a stale
    // failure) racing the final write is expected; anything else is the store's trouble.
    if (!isJobstreamError(error, 'job_cancelled') && !signal?.aborted) report(error);
  } finally {
    tracker?.close();
  }
}
