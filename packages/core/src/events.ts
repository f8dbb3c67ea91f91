import type { JobError, StepDefinition } from './job.js';

/**
 * Every event type, in the order a job usually emits them. `job_started` and
 * `job_resumed` go beyond the seed's table: every status change must be an event,
 * or the job record could not be the fold of its events.
 */
export const EVENT_TYPES = [
  'job_created',
  'job_started',
  'step_started',
  'step_progress',
  'step_completed',
  'topic_started',
  'topic_progress',
  'topic_completed',
  'job_completed',
  'job_failed',
  'job_cancelled',
  'job_resumed',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export const TERMINAL_EVENT_TYPES = ['job_completed', 'job_failed', 'job_cancelled'] as const;
export type TerminalEventType = (typeof TERMINAL_EVENT_TYPES)[number];

/** The payload of each event type. Extra fields are allowed on `topic_completed` (app data). */
export interface EventDataMap<TInput = unknown, TResult = unknown, TStep extends string = string> {
  job_created: {
    kind: string;
    ownerId: string;
    input: TInput;
    steps: Required<StepDefinition<TStep>>[];
    estimatedDuration?: number;
  };
  /** `runId`: the run that claimed the job (`ProgressTracker.claim`), for logs and lost answers. */
  job_started: { message?: string; runId?: string };
  step_started: { step: TStep; stepIndex: number; message?: string };
  step_progress: { step: TStep; progress: number; stepProgress: number; message?: string };
  step_completed: {
    step: TStep;
    stepIndex: number;
    duration: number;
    message?: string;
    meta?: Record<string, unknown>;
  };
  topic_started: { topicName: string; topicIndex: number; topicCount?: number };
  topic_progress: { topicName: string; progress: number };
  topic_completed: {
    topicName: string;
    topicIndex: number;
    duration: number;
    [field: string]: unknown;
  };
  job_completed: { result: TResult; totalDuration: number };
  job_failed: { error: JobError; failedStep: TStep | null };
  job_cancelled: { reason: string | null; cancelledAt: string };
  job_resumed: { message?: string };
}

/** The envelope every event travels in. `id` is 1, 2, 3… per job, with no gaps. */
export type JobEvent<
  TInput = unknown,
  TResult = unknown,
  TStep extends string = string,
  TType extends EventType = EventType,
> = {
  [K in TType]: {
    id: number;
    jobId: string;
    type: K;
    /** ISO 8601 time the event was written. */
    at: string;
    data: EventDataMap<TInput, TResult, TStep>[K];
  };
}[TType];

/** An event before the store gives it an id (what `JobStore.commit` takes). */
export type EventDraft<
  TInput = unknown,
  TResult = unknown,
  TStep extends string = string,
  TType extends EventType = EventType,
> = {
  [K in TType]: { type: K; data: EventDataMap<TInput, TResult, TStep>[K]; at?: string };
}[TType];

export function isEventType(value: unknown): value is EventType {
  // A scan of twelve strings: no Set to build, and false for anything but a known name.
  return (EVENT_TYPES as readonly unknown[]).includes(value);
}

export function isTerminalEventType(type: string): type is TerminalEventType {
  return type === 'job_completed' || type === 'job_failed' || type === 'job_cancelled';
}

export function isTerminalEvent(event: { type: string }): boolean {
  return isTerminalEventType(event.type);
}

/**
 * A cheap structural check of an envelope (no zod): a positive integer id, a job id,
 * a known type, an ISO time string and an object payload. The browser path uses this;
 * `jobEventSchema` in the main entry validates fully.
 */
export function isJobEventEnvelope(value: unknown): value is JobEvent {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    // isSafeInteger is false for anything but a number.
    Number.isSafeInteger(e.id) &&
    (e.id as number) > 0 &&
    typeof e.jobId === 'string' &&
    isEventType(e.type) &&
    typeof e.at === 'string' &&
    typeof e.data === 'object' &&
    e.data !== null &&
    !Array.isArray(e.data)
  );
}
