/**
 * The zod-free part of core: types, the state machine, `reduce` and errors.
 * Browser code (the client, the React bindings) imports from here so zod stays out
 * of the bundle; `@jobstream/core` re-exports all of it.
 */

export { applyEvent } from './apply-event.js';
export { ERROR_HTTP_STATUS, httpStatusOf } from './error-status.js';
export {
  ConflictError,
  isJobstreamError,
  JobstreamError,
  type JobstreamErrorCode,
  type JobstreamErrorOptions,
} from './errors.js';
export {
  EVENT_TYPES,
  type EventDataMap,
  type EventDraft,
  type EventType,
  isEventType,
  isJobEventEnvelope,
  isTerminalEvent,
  isTerminalEventType,
  type JobEvent,
  TERMINAL_EVENT_TYPES,
  type TerminalEventType,
} from './events.js';
export type {
  Job,
  JobError,
  JobStatus,
  JobStep,
  JobTopic,
  NewJob,
  StepDefinition,
  StepStatus,
} from './job.js';
export { roundProgress, weightedProgress } from './progress-math.js';
export { checkEvent, foldEvents, reduce } from './reduce.js';
export {
  isTerminalStatus,
  type JobAction,
  nextStatus,
  TERMINAL_STATUSES,
  transition,
} from './state-machine.js';
