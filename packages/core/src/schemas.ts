// The namespace import lets bundlers drop zod's locales and JSON-schema code (~60 KB).
import * as z from 'zod';
import { JobstreamError } from './errors.js';
import type { EventDraft, EventType, JobEvent } from './events.js';
import type { Job, NewJob } from './job.js';

/** 0–100, finite. */
const percent = z.number().min(0).max(100);
const isoTime = z.iso.datetime({ offset: true });
const message = z.string().max(10_000).optional();
const stepName = z.string().min(1).max(200);
const nonNegativeMs = z.number().nonnegative();

export const stepDefinitionSchema = z.object({
  name: stepName,
  label: z.string().min(1).max(500).optional(),
  weight: z.number().positive().finite().optional(),
});

export const jobErrorSchema = z.object({
  message: z.string(),
  code: z.string().optional(),
  step: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});

export const newJobSchema = z.object({
  id: z.string().min(1).max(200).optional(),
  ownerId: z.string().min(1).max(200),
  kind: z.string().min(1).max(200),
  input: z.unknown(),
  steps: z
    .array(stepDefinitionSchema)
    .min(1)
    .max(200)
    .refine((steps) => new Set(steps.map((s) => s.name)).size === steps.length, {
      message: 'step names must be unique',
    }),
  estimatedDuration: nonNegativeMs.optional(),
});

/** The payload schema of every event type. */
export const eventDataSchemas = {
  job_created: z.object({
    kind: z.string().min(1),
    ownerId: z.string().min(1),
    input: z.unknown(),
    steps: z
      .array(z.object({ name: stepName, label: z.string(), weight: z.number().positive() }))
      .min(1),
    estimatedDuration: nonNegativeMs.optional(),
  }),
  job_started: z.object({ message, runId: z.string().min(1).max(200).optional() }),
  step_started: z.object({ step: stepName, stepIndex: z.int().positive(), message }),
  step_progress: z.object({ step: stepName, progress: percent, stepProgress: percent, message }),
  step_completed: z.object({
    step: stepName,
    stepIndex: z.int().positive(),
    duration: nonNegativeMs,
    message,
    meta: z.record(z.string(), z.unknown()).optional(),
  }),
  topic_started: z.object({
    topicName: z.string().min(1),
    topicIndex: z.int().positive(),
    topicCount: z.int().nonnegative().optional(),
  }),
  topic_progress: z.object({ topicName: z.string().min(1), progress: percent }),
  topic_completed: z.looseObject({
    topicName: z.string().min(1),
    topicIndex: z.int().positive(),
    duration: nonNegativeMs,
  }),
  job_completed: z.object({ result: z.unknown(), totalDuration: nonNegativeMs }),
  job_failed: z.object({ error: jobErrorSchema, failedStep: z.string().nullable() }),
  job_cancelled: z.object({ reason: z.string().max(1000).nullable(), cancelledAt: isoTime }),
  job_resumed: z.object({ message }),
} satisfies Record<EventType, z.ZodType>;

function envelope<K extends EventType>(type: K) {
  return z.object({
    id: z.int().positive(),
    jobId: z.string().min(1),
    type: z.literal(type),
    at: isoTime,
    data: eventDataSchemas[type],
  });
}

function draft<K extends EventType>(type: K) {
  return z.object({ type: z.literal(type), at: isoTime.optional(), data: eventDataSchemas[type] });
}

/** Full validation of an event envelope; `type` is the discriminant. */
export const jobEventSchema = z.discriminatedUnion('type', [
  envelope('job_created'),
  envelope('job_started'),
  envelope('step_started'),
  envelope('step_progress'),
  envelope('step_completed'),
  envelope('topic_started'),
  envelope('topic_progress'),
  envelope('topic_completed'),
  envelope('job_completed'),
  envelope('job_failed'),
  envelope('job_cancelled'),
  envelope('job_resumed'),
]);

export const eventDraftSchema = z.discriminatedUnion('type', [
  draft('job_created'),
  draft('job_started'),
  draft('step_started'),
  draft('step_progress'),
  draft('step_completed'),
  draft('topic_started'),
  draft('topic_progress'),
  draft('topic_completed'),
  draft('job_completed'),
  draft('job_failed'),
  draft('job_cancelled'),
  draft('job_resumed'),
]);

export const jobStatusSchema = z.enum(['pending', 'running', 'completed', 'failed', 'cancelled']);

const nullableTime = isoTime.nullable();

/** A job record, as stores return it. Adapters parse rows with it at the edge. */
export const jobSchema = z.object({
  id: z.string(),
  ownerId: z.string(),
  kind: z.string(),
  input: z.unknown(),
  status: jobStatusSchema,
  steps: z.array(
    z.object({
      name: z.string(),
      label: z.string(),
      weight: z.number(),
      status: z.enum(['pending', 'running', 'completed', 'failed', 'cancelled']),
      progress: percent,
      startedAt: nullableTime,
      completedAt: nullableTime,
      duration: z.number().nullable(),
      meta: z.record(z.string(), z.unknown()).nullable(),
    }),
  ),
  currentStep: z.string().nullable(),
  currentStepIndex: z.int().nonnegative(),
  totalSteps: z.int().nonnegative(),
  progress: percent,
  message: z.string().nullable(),
  currentTopic: z
    .object({
      name: z.string(),
      index: z.int(),
      count: z.int().nullable(),
      progress: percent,
      startedAt: isoTime,
    })
    .nullable(),
  topicsCompleted: z.int().nonnegative(),
  result: z.unknown(),
  error: jobErrorSchema.nullable(),
  cancelReason: z.string().nullable(),
  estimatedDuration: z.number().nullable(),
  version: z.int().positive(),
  createdAt: isoTime,
  startedAt: nullableTime,
  completedAt: nullableTime,
  updatedAt: isoTime,
});

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}

/** Validates an event envelope or throws `invalid_event` saying which field is wrong. */
export function parseJobEvent(value: unknown): JobEvent {
  const result = jobEventSchema.safeParse(value);
  if (!result.success) {
    throw new JobstreamError('invalid_event', `Invalid event: ${describe(result.error)}`, {
      cause: result.error,
    });
  }
  return result.data as JobEvent;
}

/** Validates an event draft or throws `invalid_event` saying which field is wrong. */
export function parseEventDraft(value: unknown): EventDraft {
  const result = eventDraftSchema.safeParse(value);
  if (!result.success) {
    const type = (value as { type?: unknown } | null)?.type;
    throw new JobstreamError(
      'invalid_event',
      `Invalid ${typeof type === 'string' ? type : 'event'}: ${describe(result.error)}`,
      { cause: result.error },
    );
  }
  return result.data as EventDraft;
}

/** Validates what `createJob` takes or throws `invalid_input`. */
export function parseNewJob(value: unknown): NewJob {
  const result = newJobSchema.safeParse(value);
  if (!result.success) {
    throw new JobstreamError('invalid_input', `Invalid job: ${describe(result.error)}`, {
      cause: result.error,
    });
  }
  return result.data as NewJob;
}

/** Validates a job record read back from a database row (adapters call it). */
export function parseJob(value: unknown): Job {
  const result = jobSchema.safeParse(value);
  if (!result.success) {
    throw new JobstreamError(
      'schema_mismatch',
      `Stored job is malformed: ${describe(result.error)}`,
      {
        cause: result.error,
      },
    );
  }
  return result.data as Job;
}
