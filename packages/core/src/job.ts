/** The five states of a job. See `state-machine.ts` for the allowed moves. */
export type JobStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';

/** A step cut short by a cancel is `cancelled`; one that threw is `failed`. */
export type StepStatus = 'pending' | 'running' | 'completed' | 'failed' | 'cancelled';

/** A step as the job's author declares it, up front. */
export interface StepDefinition<TStep extends string = string> {
  /** Stable identifier, e.g. `generate_lessons`. */
  name: TStep;
  /** What a person reads, e.g. "Writing lessons". Defaults to the name. */
  label?: string;
  /** Share of the overall progress, relative to the other steps. @default 1 */
  weight?: number;
}

/** A step as the job record holds it. */
export interface JobStep<TStep extends string = string> {
  name: TStep;
  label: string;
  weight: number;
  status: StepStatus;
  /** Progress inside this step, 0–100. */
  progress: number;
  startedAt: string | null;
  completedAt: string | null;
  /** Milliseconds from start to completion, once completed. */
  duration: number | null;
  /** Free-form facts recorded when the step completed (e.g. model token usage). */
  meta: Record<string, unknown> | null;
}

/** The topic the job is working on now (the course app: one topic of an exam). */
export interface JobTopic {
  name: string;
  /** 1-based position: "topic 3 of 8". */
  index: number;
  count: number | null;
  progress: number;
  startedAt: string;
}

export interface JobError {
  message: string;
  code?: string;
  step?: string;
  /** Machine-readable facts for the UI, e.g. `{ retryAfterSeconds: 17 }` for a rate limit. */
  details?: Record<string, unknown>;
}

export interface Job<TInput = unknown, TResult = unknown, TStep extends string = string> {
  id: string;
  ownerId: string;
  kind: string;
  input: TInput;
  status: JobStatus;
  steps: JobStep<TStep>[];
  /** Name of the step running now (or the last one that ran), null before the first. */
  currentStep: TStep | null;
  /** 1-based position of `currentStep` ("step 2 of 5"), 0 before the first step. */
  currentStepIndex: number;
  totalSteps: number;
  /** Overall progress 0–100, weighted by the steps; never goes back while a run lasts. */
  progress: number;
  message: string | null;
  currentTopic: JobTopic | null;
  topicsCompleted: number;
  result: TResult | null;
  error: JobError | null;
  cancelReason: string | null;
  /** Estimated total duration in ms, as declared at creation. */
  estimatedDuration: number | null;
  /** Id of the last event folded into this record; bumps on every write. */
  version: number;
  createdAt: string;
  startedAt: string | null;
  /** When the job reached a terminal state (completed, failed or cancelled). */
  completedAt: string | null;
  updatedAt: string;
}

/** What `JobStore.createJob` takes. */
export interface NewJob<TInput = unknown, TStep extends string = string> {
  /** Defaults to a random UUID. */
  id?: string;
  ownerId: string;
  kind: string;
  input: TInput;
  steps: readonly StepDefinition<TStep>[];
  /** Expected total duration in ms, shown to users as an estimate. */
  estimatedDuration?: number;
}
