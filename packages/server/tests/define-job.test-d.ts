import { expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import { defineJob, type InputOf, type ResultOf, type StepOf } from '../src/index.js';

const courseJob = defineJob({
  kind: 'course',
  input: z.object({ examId: z.string() }),
  steps: ['fetch_questions', { name: 'save_course', weight: 2 }],
  async run(input, { tracker, isStepCompleted }) {
    expectTypeOf(input).toEqualTypeOf<{ examId: string }>();
    expectTypeOf(isStepCompleted).parameter(0).toEqualTypeOf<'fetch_questions' | 'save_course'>();
    await tracker.startStep('fetch_questions');
    // @ts-expect-error: not a declared step
    await tracker.startStep('nope');
    return { courseId: 'c1' };
  },
});

test('the definition carries input, result and step types for the client', () => {
  expectTypeOf<InputOf<typeof courseJob>>().toEqualTypeOf<{ examId: string }>();
  expectTypeOf<ResultOf<typeof courseJob>>().toEqualTypeOf<{ courseId: string }>();
  expectTypeOf<StepOf<typeof courseJob>>().toEqualTypeOf<'fetch_questions' | 'save_course'>();
  // What the client reads structurally, without importing this package.
  type Phantom = NonNullable<(typeof courseJob)['__types']>;
  expectTypeOf<Phantom['input']>().toEqualTypeOf<{ examId: string }>();
});
