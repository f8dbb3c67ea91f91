/**
 * The reducer as it was written before it was compacted for the browser bundle (long
 * form, one `switch` arm per event, spreads everywhere). Not shipped: it is the oracle
 * `reduce-equivalence.test.ts` checks the compact `reduce` against, so a byte shaved off
 * the bundle can never change what a job becomes.
 */
import { JobstreamError } from '../src/errors.js';
import type { JobEvent } from '../src/events.js';
import type { Job, JobStep } from '../src/job.js';
import { roundProgress, weightedProgress } from '../src/progress-math.js';
import { transition } from '../src/state-machine.js';

function invalid(message: string, event: JobEvent): never {
  throw new JobstreamError('invalid_event', message, {
    details: { eventId: event.id, type: event.type, jobId: event.jobId },
  });
}

function stepAt(job: Job, name: string, event: JobEvent): { step: JobStep; index: number } {
  const index = job.steps.findIndex((s) => s.name === name);
  const step = job.steps[index];
  if (!step) {
    throw new JobstreamError(
      'unknown_step',
      `Unknown step "${name}" (steps: ${job.steps.map((s) => s.name)}).`,
      { details: { eventId: event.id, step: name } },
    );
  }
  return { step, index };
}

function requireRunning(job: Job, event: JobEvent): void {
  if (job.status !== 'running') {
    throw new JobstreamError(
      'invalid_transition',
      `${event.type}: job is ${job.status}, not running.`,
      { details: { from: job.status, type: event.type } },
    );
  }
}

function replaceStep(steps: JobStep[], index: number, patch: Partial<JobStep>): JobStep[] {
  const next = steps.slice();
  next[index] = { ...(steps[index] as JobStep), ...patch };
  return next;
}

function elapsed(from: string | null, to: string): number | null {
  if (from === null) return null;
  return Math.max(0, Date.parse(to) - Date.parse(from));
}

/** Ends the running step (if any) with `status`, as a terminal event does. */
function closeRunningStep(steps: JobStep[], status: JobStep['status'], at: string): JobStep[] {
  const index = steps.findIndex((s) => s.status === 'running');
  if (index < 0) return steps;
  const step = steps[index] as JobStep;
  return replaceStep(steps, index, {
    status,
    ...(status === 'completed' ? { progress: 100 } : {}),
    completedAt: at,
    duration: elapsed(step.startedAt, at),
  });
}

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
export function referenceReduce<TInput = unknown, TResult = unknown, TStep extends string = string>(
  snapshot: Job<TInput, TResult, TStep> | null,
  event: JobEvent<TInput, TResult, TStep>,
): Job<TInput, TResult, TStep> {
  const e = event as JobEvent;
  if (e.type === 'job_created') {
    if (snapshot !== null) invalid(`Job ${e.jobId} already exists.`, e);
    if (e.id !== 1) invalid(`job_created must be event 1, got ${e.id}.`, e);
    const steps: JobStep[] = e.data.steps.map((s) => ({
      name: s.name,
      label: s.label,
      weight: s.weight,
      status: 'pending',
      progress: 0,
      startedAt: null,
      completedAt: null,
      duration: null,
      meta: null,
    }));
    const created: Job = {
      id: e.jobId,
      ownerId: e.data.ownerId,
      kind: e.data.kind,
      input: e.data.input,
      status: 'pending',
      steps,
      currentStep: null,
      currentStepIndex: 0,
      totalSteps: steps.length,
      progress: 0,
      message: null,
      currentTopic: null,
      topicsCompleted: 0,
      result: null,
      error: null,
      cancelReason: null,
      estimatedDuration: e.data.estimatedDuration ?? null,
      version: 1,
      createdAt: e.at,
      startedAt: null,
      completedAt: null,
      updatedAt: e.at,
    };
    return created as Job<TInput, TResult, TStep>;
  }

  if (snapshot === null) invalid(`${e.type} ${e.id}: no job.`, e);
  const job = snapshot as Job;
  if (e.jobId !== job.id) invalid(`Event of job ${e.jobId} on job ${job.id}.`, e);
  if (e.id !== job.version + 1) {
    invalid(`Event ${e.id} does not follow ${job.version}.`, e);
  }
  const base = { version: e.id, updatedAt: e.at };
  let next: Job;

  switch (e.type) {
    case 'job_started': {
      const status = transition(job.status, 'start');
      next = { ...job, ...base, status, startedAt: job.startedAt ?? e.at };
      if (e.data.message !== undefined) next.message = e.data.message;
      break;
    }
    case 'step_started': {
      requireRunning(job, e);
      const { step, index } = stepAt(job, e.data.step, e);
      const running = job.steps.find((s) => s.status === 'running');
      if (running) {
        invalid(`Cannot start "${step.name}": "${running.name}" is running.`, e);
      }
      next = {
        ...job,
        ...base,
        steps: replaceStep(job.steps, index, {
          status: 'running',
          progress: 0,
          startedAt: e.at,
          completedAt: null,
          duration: null,
        }),
        currentStep: step.name,
        currentStepIndex: index + 1,
        currentTopic: null,
        message: e.data.message ?? job.message,
      };
      break;
    }
    case 'step_progress': {
      requireRunning(job, e);
      const { step, index } = stepAt(job, e.data.step, e);
      if (step.status !== 'running') {
        invalid(`Step "${step.name}" is ${step.status}, not running.`, e);
      }
      next = {
        ...job,
        ...base,
        steps: replaceStep(job.steps, index, {
          progress: Math.max(step.progress, e.data.stepProgress),
        }),
        progress: Math.max(job.progress, e.data.progress),
        message: e.data.message ?? job.message,
      };
      break;
    }
    case 'step_completed': {
      requireRunning(job, e);
      const { step, index } = stepAt(job, e.data.step, e);
      if (step.status !== 'running') {
        invalid(`Step "${step.name}" is ${step.status}, not running.`, e);
      }
      const steps = replaceStep(job.steps, index, {
        status: 'completed',
        progress: 100,
        completedAt: e.at,
        duration: e.data.duration,
        meta: e.data.meta ?? null,
      });
      next = {
        ...job,
        ...base,
        steps,
        progress: Math.max(job.progress, weightedProgress(steps)),
        currentTopic: null,
        message: e.data.message ?? job.message,
      };
      break;
    }
    case 'topic_started': {
      requireRunning(job, e);
      next = {
        ...job,
        ...base,
        currentTopic: {
          name: e.data.topicName,
          index: e.data.topicIndex,
          count: e.data.topicCount ?? job.currentTopic?.count ?? null,
          progress: 0,
          startedAt: e.at,
        },
      };
      break;
    }
    case 'topic_progress': {
      requireRunning(job, e);
      const topic = job.currentTopic;
      if (!topic || topic.name !== e.data.topicName) {
        invalid(`Topic "${e.data.topicName}" has not been started.`, e);
      }
      next = {
        ...job,
        ...base,
        currentTopic: { ...topic, progress: Math.max(topic.progress, e.data.progress) },
      };
      break;
    }
    case 'topic_completed': {
      requireRunning(job, e);
      const topic = job.currentTopic;
      next = {
        ...job,
        ...base,
        currentTopic:
          topic && topic.name === e.data.topicName ? { ...topic, progress: 100 } : topic,
        topicsCompleted: job.topicsCompleted + 1,
      };
      break;
    }
    case 'job_completed': {
      const status = transition(job.status, 'complete');
      next = {
        ...job,
        ...base,
        status,
        steps: closeRunningStep(job.steps, 'completed', e.at),
        progress: 100,
        result: e.data.result,
        completedAt: e.at,
      };
      break;
    }
    case 'job_failed': {
      const status = transition(job.status, 'fail');
      next = {
        ...job,
        ...base,
        status,
        steps: closeRunningStep(job.steps, 'failed', e.at),
        error: {
          ...e.data.error,
          ...(e.data.failedStep !== null ? { step: e.data.failedStep } : {}),
        },
        message: e.data.error.message,
        completedAt: e.at,
      };
      break;
    }
    case 'job_cancelled': {
      const status = transition(job.status, 'cancel');
      next = {
        ...job,
        ...base,
        status,
        steps: closeRunningStep(job.steps, 'cancelled', e.at),
        cancelReason: e.data.reason,
        completedAt: e.at,
      };
      break;
    }
    case 'job_resumed': {
      const status = transition(job.status, 'resume');
      next = {
        ...job,
        ...base,
        status,
        steps: job.steps.map((s) =>
          s.status === 'failed' || s.status === 'running'
            ? {
                ...s,
                status: 'pending',
                progress: 0,
                startedAt: null,
                completedAt: null,
                duration: null,
              }
            : s,
        ),
        currentTopic: null,
        error: null,
        completedAt: null,
        message: e.data.message ?? null,
      };
      break;
    }
    default: {
      const unknown: never = e;
      invalid(`Unknown event type ${(unknown as JobEvent).type}.`, unknown);
    }
  }
  next.progress = roundProgress(next.progress);
  return next as Job<TInput, TResult, TStep>;
}
