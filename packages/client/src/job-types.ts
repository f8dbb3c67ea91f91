import type { Job, JobEvent } from '@jobstream/core/lite';

/**
 * What the client reads from a job definition, structurally: `@jobstream/server`'s
 * `defineJob` returns a `JobDefinition` with this phantom field, so
 * `createJobClient<typeof courseJob>()` is typed by a type-only import and no server code
 * reaches the browser.
 */
export interface AnyJobDefinition {
  readonly __types?: { input: unknown; result: unknown; step: string };
}

export type InputOf<T> = T extends { __types?: { input: infer I } } ? I : unknown;
export type ResultOf<T> = T extends { __types?: { result: infer R } } ? R : unknown;
export type StepOf<T> = T extends { __types?: { step: infer S extends string } } ? S : string;

/** The job record of a definition: `Job<Input, Result, StepName>`. */
export type JobOf<T> = Job<InputOf<T>, ResultOf<T>, StepOf<T>>;

/** The events of a definition's jobs. */
export type JobEventOf<T> = JobEvent<InputOf<T>, ResultOf<T>, StepOf<T>>;
