import { JobstreamError, type JobstreamErrorCode } from './errors.js';
import type { JobEvent } from './events.js';
import type { Job, JobStep } from './job.js';
import { roundProgress, weightedProgress } from './progress-math.js';
import { transition } from './state-machine.js';

// Written for the browser bundle as much as for reading: one copy of the job that each
// arm assigns into, and a few shared helpers, keep what ships small (see the "Client
// size" section of docs/benchmarks.md). tests/reduce-equivalence.test.ts checks it
// against the long-form reducer it replaced.

function refuse(code: JobstreamErrorCode, message: string, event: JobEvent): never {
  throw new JobstreamError(code, message, {
    details: { eventId: event.id, type: event.type, jobId: event.jobId },
  });
}

/** A step's times, as they are before it starts. */
const NOT_STARTED = { startedAt: null, completedAt: null, duration: null } as const;

/**
 * Folds one event into a job snapshot. Pure: it never mutates `snapshot` and never
 * reads the clock; every time it records comes from the event. This is the only place
 * that knows how an event changes a job, so a store's record and a browser's view,
 * both folds of the same events, cannot disagree.
 *
 * Throws a `JobstreamError` (and changes nothing) for an event that does not follow:
 * a gap in ids (`invalid_event`), a move the state machine forbids
 * (`invalid_transition`), or a step the job did not declare (`unknown_step`).
 */
export function reduce<TInput = unknown, TResult = unknown, TStep extends string = string>(
  snapshot: Job<TInput, TResult, TStep> | null,
  event: JobEvent<TInput, TResult, TStep>,
): Job<TInput, TResult, TStep> {
  const e = event as JobEvent;
  const job = snapshot as Job | null;
  const { type, at, data } = e;
  if (
    (type === 'job_created') === !!job ||
    e.id !== (job ? job.version + 1 : 1) ||
    (job && e.jobId !== job.id)
  ) {
    refuse(
      'invalid_event',
      `${type} ${e.id} of job ${e.jobId} does not follow ${job ? `event ${job.version} of job ${job.id}` : 'nothing'}.`,
      e,
    );
  }
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

  const { status, steps, currentTopic: topic } = job as Job;
  const next: Job = { ...(job as Job), version: e.id, updatedAt: at };
  /** Events other than the job_* ones need a running job. */
  const mustRun = () => {
    if (status !== 'running')
      refuse('invalid_transition', `${type}: the job is ${status}, not running.`, e);
  };
  /** The step the event names, which must be declared and (unless starting) running. */
  const stepOf = (name: string, starting?: boolean): number => {
    mustRun();
    const index = steps.findIndex((s) => s.name === name);
    const step = steps[index];
    if (!step)
      refuse('unknown_step', `${type}: no step "${name}" in ${steps.map((s) => s.name)}.`, e);
    // Starting needs no step running; anything else needs this one running.
    const blocker = starting ? steps.find((s) => s.status === 'running') : step;
    if (blocker && (starting || blocker.status !== 'running')) {
      refuse('invalid_event', `${type} "${name}": step "${blocker.name}" is ${blocker.status}.`, e);
    }
    return index;
  };
  const patchStep = (index: number, patch: Partial<JobStep>) => {
    next.steps = steps.slice();
    next.steps[index] = { ...(steps[index] as JobStep), ...patch };
  };
  /** Ends the running step (if any), as a terminal event does. */
  const endRunningStep = (to: JobStep['status']) => {
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
      next.status = transition(status, 'start');
      next.startedAt ??= at;
      if (data.message !== undefined) next.message = data.message;
      break;
    case 'step_started': {
      const index = stepOf(data.step, true);
      patchStep(index, { status: 'running', progress: 0, ...NOT_STARTED, startedAt: at });
      next.currentStep = data.step;
      next.currentStepIndex = index + 1;
      next.currentTopic = null;
      next.message = data.message ?? next.message;
      break;
    }
    case 'step_progress': {
      const index = stepOf(data.step);
      patchStep(index, {
        progress: Math.max((steps[index] as JobStep).progress, data.stepProgress),
      });
      next.progress = Math.max(next.progress, data.progress);
      next.message = data.message ?? next.message;
      break;
    }
    case 'step_completed':
      patchStep(stepOf(data.step), {
        status: 'completed',
        progress: 100,
        completedAt: at,
        duration: data.duration,
        meta: data.meta ?? null,
      });
      next.progress = Math.max(next.progress, weightedProgress(next.steps));
      next.currentTopic = null;
      next.message = data.message ?? next.message;
      break;
    case 'topic_started':
      mustRun();
      next.currentTopic = {
        name: data.topicName,
        index: data.topicIndex,
        count: data.topicCount ?? topic?.count ?? null,
        progress: 0,
        startedAt: at,
      };
      break;
    case 'topic_progress':
      mustRun();
      if (topic?.name !== data.topicName) {
        refuse('invalid_event', `${type}: topic "${data.topicName}" has not started.`, e);
      }
      next.currentTopic = { ...topic, progress: Math.max(topic.progress, data.progress) };
      break;
    case 'topic_completed':
      mustRun();
      if (topic?.name === data.topicName) next.currentTopic = { ...topic, progress: 100 };
      next.topicsCompleted++;
      break;
    case 'job_completed':
      next.status = transition(status, 'complete');
      endRunningStep('completed');
      next.progress = 100;
      next.result = data.result;
      break;
    case 'job_failed': {
      const { error, failedStep } = data;
      next.status = transition(status, 'fail');
      endRunningStep('failed');
      next.error = failedStep === null ? { ...error } : { ...error, step: failedStep };
      next.message = error.message;
      break;
    }
    case 'job_cancelled':
      next.status = transition(status, 'cancel');
      endRunningStep('cancelled');
      next.cancelReason = data.reason;
      break;
    case 'job_resumed':
      next.status = transition(status, 'resume');
      next.steps = steps.map((s) =>
        s.status === 'failed' || s.status === 'running'
          ? { ...s, status: 'pending', progress: 0, ...NOT_STARTED }
          : s,
      );
      next.currentTopic = next.error = next.completedAt = null;
      next.message = data.message ?? null;
      break;
    default:
      refuse('invalid_event', `Unknown event type ${type}.`, e);
  }
  next.progress = roundProgress(next.progress);
  return next as Job<TInput, TResult, TStep>;
}

/** Folds a whole event list, starting from nothing. */
export function foldEvents<TInput = unknown, TResult = unknown, TStep extends string = string>(
  events: Iterable<JobEvent<TInput, TResult, TStep>>,
): Job<TInput, TResult, TStep> | null {
  let job: Job<TInput, TResult, TStep> | null = null;
  for (const event of events) job = reduce(job, event);
  return job;
}
