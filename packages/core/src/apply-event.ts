import type { JobEvent } from './events.js';
import type { Job, JobStep, JobTopic } from './job.js';
import { roundProgress, weightedProgress } from './progress-math.js';

// Written for the browser bundle as much as for reading: one copy of the job that each
// arm assigns into, and a few shared helpers, keep what ships small (see the "Client
// size" section of docs/benchmarks.md).

/** A step's times, as they are before it starts. */
const NOT_STARTED = { startedAt: null, completedAt: null, duration: null } as const;

/**
 * How one event changes a job, and nothing else: it checks nothing. `reduce` is this
 * after `checkEvent`, and is what every writer (store, tracker) folds with; `applyEvent`
 * alone is for a reader of events a writer already checked: a browser following a job's
 * stream (each event there passed `reduce` on the server, on the same job, in the same
 * order, so checking again only adds weight). Such a reader must still check that each
 * event is the next one (`event.id === job.version + 1`, 1 for `job_created`).
 *
 * Pure: never mutates `snapshot`, never reads the clock. Throws a `TypeError` for an
 * event type it does not know (a newer server): the reader should re-read the job.
 */
export function applyEvent<TInput = unknown, TResult = unknown, TStep extends string = string>(
  snapshot: Job<TInput, TResult, TStep> | null,
  event: JobEvent<TInput, TResult, TStep>,
): Job<TInput, TResult, TStep> {
  const e = event as JobEvent;
  const { type, at, data } = e;
  if (type === 'job_created') {
    return {
      id: e.jobId,
      ownerId: data.ownerId,
      kind: data.kind,
      input: data.input,
      status: 'pending',
      steps: data.steps.map(({ name, label, weight }) => ({
        name,
        label,
        weight,
        status: 'pending',
        progress: 0,
        ...NOT_STARTED,
        meta: null,
      })),
      currentStep: null,
      currentStepIndex: 0,
      totalSteps: data.steps.length,
      progress: 0,
      message: null,
      currentTopic: null,
      topicsCompleted: 0,
      result: null,
      error: null,
      cancelReason: null,
      estimatedDuration: data.estimatedDuration ?? null,
      version: 1,
      createdAt: at,
      startedAt: null,
      completedAt: null,
      updatedAt: at,
    } satisfies Job as Job<TInput, TResult, TStep>;
  }

  const job = snapshot as Job;
  const { steps, currentTopic: topic } = job;
  const next: Job = { ...job, version: e.id, updatedAt: at };
  /** Patches the named step; returns its index. */
  const patchStep = (name: string, patch: (step: JobStep) => Partial<JobStep>): number => {
    const index = steps.findIndex((s) => s.name === name);
    const step = steps[index] as JobStep;
    next.steps = steps.slice();
    next.steps[index] = { ...step, ...patch(step) };
    return index;
  };
  /** A terminal event: the job takes `to`, and so does its running step (if any). */
  const end = (to: 'completed' | 'failed' | 'cancelled') => {
    next.status = to;
    next.steps = steps.map((s) =>
      s.status === 'running'
        ? {
            ...s,
            status: to,
            ...(to === 'completed' && { progress: 100 }),
            completedAt: at,
            duration:
              s.startedAt === null ? null : Math.max(0, Date.parse(at) - Date.parse(s.startedAt)),
          }
        : s,
    );
    next.completedAt = at;
  };

  switch (type) {
    case 'job_started':
      next.status = 'running';
      next.startedAt ??= at;
      if (data.message !== undefined) next.message = data.message;
      break;
    case 'step_started':
      next.currentStepIndex =
        patchStep(data.step, () => ({
          status: 'running',
          progress: 0,
          ...NOT_STARTED,
          startedAt: at,
        })) + 1;
      next.currentStep = data.step;
      next.currentTopic = null;
      next.message = data.message ?? next.message;
      break;
    case 'step_progress':
      patchStep(data.step, (s) => ({ progress: Math.max(s.progress, data.stepProgress) }));
      next.progress = Math.max(next.progress, data.progress);
      next.message = data.message ?? next.message;
      break;
    case 'step_completed':
      patchStep(data.step, () => ({
        status: 'completed',
        progress: 100,
        completedAt: at,
        duration: data.duration,
        meta: data.meta ?? null,
      }));
      next.progress = Math.max(next.progress, weightedProgress(next.steps));
      next.currentTopic = null;
      next.message = data.message ?? next.message;
      break;
    case 'topic_started':
      next.currentTopic = {
        name: data.topicName,
        index: data.topicIndex,
        count: data.topicCount ?? topic?.count ?? null,
        progress: 0,
        startedAt: at,
      };
      break;
    case 'topic_progress': {
      // A checked event names the current topic.
      const current = topic as JobTopic;
      next.currentTopic = { ...current, progress: Math.max(current.progress, data.progress) };
      break;
    }
    case 'topic_completed':
      if (topic?.name === data.topicName) next.currentTopic = { ...topic, progress: 100 };
      next.topicsCompleted++;
      break;
    case 'job_completed':
      end('completed');
      next.progress = 100;
      next.result = data.result;
      break;
    case 'job_failed': {
      const { error, failedStep } = data;
      end('failed');
      next.error = failedStep === null ? { ...error } : { ...error, step: failedStep };
      next.message = error.message;
      break;
    }
    case 'job_cancelled':
      end('cancelled');
      next.cancelReason = data.reason;
      break;
    case 'job_resumed':
      next.status = 'pending';
      next.steps = steps.map((s) =>
        s.status === 'failed' || s.status === 'running'
          ? { ...s, status: 'pending', progress: 0, ...NOT_STARTED }
          : s,
      );
      next.currentTopic = next.error = next.completedAt = null;
      next.message = data.message ?? null;
      break;
    default:
      throw new TypeError(`Unknown event type ${type}.`);
  }
  next.progress = roundProgress(next.progress);
  return next as Job<TInput, TResult, TStep>;
}
