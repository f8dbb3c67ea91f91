import type { Job, ProgressTracker, StepDefinition } from '@jobstream/core';
import type { StandardSchemaV1 } from './standard-schema.js';

/** A step as a job declares it: its name, or a full definition with a label and weight. */
export type StepInput<TStep extends string = string> = TStep | StepDefinition<TStep>;

type StepNameOf<T> = T extends string ? T : T extends { name: infer N extends string } ? N : never;

/** What `run` receives besides its input. */
export interface JobContext<TInput = unknown, TStep extends string = string> {
  /** Report progress through it (steps, topics, progress). */
  tracker: ProgressTracker<TInput, unknown, TStep>;
  /** Aborts when the job is cancelled from anywhere sharing the store: pass it to model calls. */
  signal: AbortSignal;
  /** The job as it was when this run started (a resumed job keeps its completed steps). */
  job: Job<TInput, unknown, TStep>;
  jobId: string;
  ownerId: string;
  /** Steps a previous run completed (non-empty only for a resumed job): skip their work. */
  completedSteps: ReadonlySet<TStep>;
  /** Shorthand for `completedSteps.has(step)`. */
  isStepCompleted(step: TStep): boolean;
}

/**
 * A kind of job the server can run. The phantom `__types` field carries the input,
 * result and step types so `@jobstream/client` can infer them from
 * `typeof myJob` without importing this package at runtime.
 */
export interface JobDefinition<TInput = any, TResult = any, TStep extends string = string> {
  readonly kind: string;
  /** Validates the body of `POST /start` (zod, valibot… any Standard Schema). */
  readonly input: StandardSchemaV1<unknown, TInput>;
  readonly steps: readonly StepDefinition<TStep>[];
  /** Expected duration in ms, shown to users as an estimate. */
  readonly estimatedDuration?: number | ((input: TInput) => number | undefined);
  /** This kind's own `staleAfterMs`, overriding the server's (`false`: never judged stale). */
  readonly staleAfterMs?: number | false;
  /** This kind's own `timeLimitMs`, overriding the server's. */
  readonly timeLimitMs?: number;
  readonly run: (input: TInput, ctx: JobContext<TInput, TStep>) => TResult | Promise<TResult>;
  readonly __types?: { input: TInput; result: TResult; step: TStep };
}

export type AnyJobDefinition = JobDefinition<any, any, any>;

export type InputOf<T> = T extends { __types?: { input: infer I } } ? I : unknown;
export type ResultOf<T> = T extends { __types?: { result: infer R } } ? R : unknown;
export type StepOf<T> = T extends { __types?: { step: infer S extends string } } ? S : string;

export interface DefineJobOptions<
  TSchema extends StandardSchemaV1,
  TSteps extends readonly StepInput[],
  TResult,
> {
  /** Names the job; `POST /start/:kind` picks it when a server runs several kinds. */
  kind: string;
  input: TSchema;
  /** Declared up front, in order. Write them `as const` (or inline) so step names are typed. */
  steps: TSteps;
  estimatedDuration?:
    | number
    | ((input: StandardSchemaV1.InferOutput<TSchema>) => number | undefined);
  /**
   * How long a running job of this kind may go without a write before it is taken for
   * abandoned (its worker died) and failed with `worker_lost`, overriding the server's
   * `staleAfterMs` (10 minutes by default). Raise it for a kind whose steps wait quietly
   * on one long call; `false` turns detection off for this kind.
   * @example staleAfterMs: 30 * 60_000
   */
  staleAfterMs?: number | false;
  /**
   * The longest one run of this kind may take, overriding the server's `timeLimitMs`:
   * past it the job is failed with `error.code` `time_limit` (resumable) and `ctx.signal`
   * aborts. On serverless, a little below the function's limit (`maxDuration`).
   * @example timeLimitMs: 280_000 // maxDuration = 300
   */
  timeLimitMs?: number;
  /**
   * The work. The server starts the job, calls `run`, then completes the job with what it
   * returns (unless `run` already ended it). A throw fails the job with its message and the
   * step that was running; a cancel aborts `ctx.signal` and nothing more is written.
   */
  run: (
    input: StandardSchemaV1.InferOutput<TSchema>,
    ctx: JobContext<StandardSchemaV1.InferOutput<TSchema>, StepNameOf<TSteps[number]>>,
  ) => TResult | Promise<TResult>;
}

/**
 * Declares a kind of job.
 *
 * @example
 * export const courseJob = defineJob({
 *   kind: 'course',
 *   input: z.object({ examId: z.string() }),
 *   steps: ['fetch_questions', 'generate_lessons', 'save_course'],
 *   async run({ examId }, { tracker, signal }) {
 *     await tracker.startStep('fetch_questions');
 *     // …
 *     return { courseId };
 *   },
 * });
 */
export function defineJob<
  TSchema extends StandardSchemaV1,
  const TSteps extends readonly StepInput[],
  TResult,
>(
  options: DefineJobOptions<TSchema, TSteps, TResult>,
): JobDefinition<
  StandardSchemaV1.InferOutput<TSchema>,
  Awaited<TResult>,
  StepNameOf<TSteps[number]>
> {
  if (typeof options?.kind !== 'string' || options.kind.length === 0) {
    throw new TypeError('defineJob needs a non-empty kind.');
  }
  if (typeof options.input?.['~standard']?.validate !== 'function') {
    throw new TypeError(
      `defineJob(${options.kind}): input must be a Standard Schema (a zod schema, for example).`,
    );
  }
  if (!Array.isArray(options.steps) || options.steps.length === 0) {
    throw new TypeError(`defineJob(${options.kind}): declare at least one step.`);
  }
  if (typeof options.run !== 'function') {
    throw new TypeError(`defineJob(${options.kind}): run must be a function.`);
  }
  const stale = options.staleAfterMs;
  if (stale !== undefined && stale !== false && !(typeof stale === 'number' && stale > 0)) {
    throw new TypeError(
      `defineJob(${options.kind}): staleAfterMs must be a positive number of ms, or false.`,
    );
  }
  const limit = options.timeLimitMs;
  if (limit !== undefined && !(typeof limit === 'number' && limit > 0 && limit < 2 ** 31)) {
    throw new TypeError(
      `defineJob(${options.kind}): timeLimitMs must be a positive number of ms (below 2^31).`,
    );
  }
  const steps = options.steps.map((step) => (typeof step === 'string' ? { name: step } : step));
  return Object.freeze({
    kind: options.kind,
    input: options.input,
    steps,
    estimatedDuration: options.estimatedDuration,
    ...(stale === undefined ? {} : { staleAfterMs: stale }),
    ...(limit === undefined ? {} : { timeLimitMs: limit }),
    run: options.run,
  }) as unknown as JobDefinition<
    StandardSchemaV1.InferOutput<TSchema>,
    Awaited<TResult>,
    StepNameOf<TSteps[number]>
  >;
}
