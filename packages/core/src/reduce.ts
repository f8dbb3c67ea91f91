import { applyEvent } from './apply-event.js';
import { JobstreamError, type JobstreamErrorCode } from './errors.js';
import { isEventType, type JobEvent } from './events.js';
import type { Job } from './job.js';
import { type JobAction, transition } from './state-machine.js';

function refuse(code: JobstreamErrorCode, message: string, event: JobEvent): never {
  throw new JobstreamError(code, message, {
    details: { eventId: event.id, type: event.type, jobId: event.jobId },
  });
}

/** The state machine's action behind each job_* event that changes the status. */
const ACTIONS: Partial<Record<JobEvent['type'], JobAction>> = {
  job_started: 'start',
  job_completed: 'complete',
  job_failed: 'fail',
  job_cancelled: 'cancel',
  job_resumed: 'resume',
};

/**
 * Throws a `JobstreamError` if `event` cannot follow `snapshot`: a gap in ids, another
 * job's event, a second `job_created` (`invalid_event`), a move the state machine forbids
 * (`invalid_transition`), a step the job did not declare (`unknown_step`), a step or
 * topic in the wrong state (`invalid_event`). Returns nothing and changes nothing.
 */
export function checkEvent(snapshot: Job<any, any, any> | null, event: JobEvent<any, any, any>) {
  const e = event as JobEvent;
  const job = snapshot as Job | null;
  const { type, data } = e;
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
  if (!job) return;
  const { status, steps, currentTopic: topic } = job;
  if (!isEventType(type)) refuse('invalid_event', `Unknown event type ${type}.`, e);
  const action = ACTIONS[type];
  if (action) {
    transition(status, action);
    return;
  }
  // Every other event is a step's or a topic's, and needs a running job.
  if (status !== 'running') {
    refuse('invalid_transition', `${type}: the job is ${status}, not running.`, e);
  }
  if (type === 'step_started' || type === 'step_progress' || type === 'step_completed') {
    const name = data.step;
    const step = steps.find((s) => s.name === name);
    if (!step) {
      refuse('unknown_step', `${type}: no step "${name}" in ${steps.map((s) => s.name)}.`, e);
    }
    // Starting needs no step running; anything else needs this one running.
    const starting = type === 'step_started';
    const blocker = starting ? steps.find((s) => s.status === 'running') : step;
    if (blocker && (starting || blocker.status !== 'running')) {
      refuse('invalid_event', `${type} "${name}": step "${blocker.name}" is ${blocker.status}.`, e);
    }
  } else if (type === 'topic_progress' && topic?.name !== data.topicName) {
    refuse('invalid_event', `${type}: topic "${data.topicName}" has not started.`, e);
  }
}

/**
 * Folds one event into a job snapshot: `checkEvent`, then `applyEvent`. Pure: it never
 * mutates `snapshot` and never reads the clock; every time it records comes from the
 * event. `applyEvent` is the only place that knows how an event changes a job, so a
 * store's record and a browser's view, both folds of the same events, cannot disagree.
 *
 * Throws a `JobstreamError` (and changes nothing) for an event that does not follow
 * (see `checkEvent`).
 */
export function reduce<TInput = unknown, TResult = unknown, TStep extends string = string>(
  snapshot: Job<TInput, TResult, TStep> | null,
  event: JobEvent<TInput, TResult, TStep>,
): Job<TInput, TResult, TStep> {
  checkEvent(snapshot, event);
  return applyEvent(snapshot, event);
}

/** Folds a whole event list, starting from nothing. */
export function foldEvents<TInput = unknown, TResult = unknown, TStep extends string = string>(
  events: Iterable<JobEvent<TInput, TResult, TStep>>,
): Job<TInput, TResult, TStep> | null {
  let job: Job<TInput, TResult, TStep> | null = null;
  for (const event of events) job = reduce(job, event);
  return job;
}
