import { createJobClient } from '@jobstream/client';
import { defineJob, type StandardSchemaV1 } from '@jobstream/server';
import { describe, expectTypeOf, it } from 'vitest';
import { JobProgressModal } from './job-progress-modal.js';
import { useJobProgress } from './use-job-progress.js';

// Any Standard Schema will do (the app uses zod); a minimal one keeps zod out of here.
const input: StandardSchemaV1<unknown, { examId: string }> = {
  '~standard': { version: 1, vendor: 'test', validate: (value) => ({ value: value as never }) },
};
const courseJob = defineJob({
  kind: 'course',
  input,
  steps: ['fetch_questions', { name: 'generate_lessons', weight: 3 }, 'save_course'],
  async run() {
    return { courseId: 'c1', lessons: 12 };
  },
});
type CourseJob = typeof courseJob;
type Step = 'fetch_questions' | 'generate_lessons' | 'save_course';

describe('types flow from the job definition', () => {
  it('types onComplete, the result, the steps and the client', () => {
    const client = createJobClient<CourseJob>({ baseUrl: '/api/generation' });
    const state = useJobProgress<CourseJob>({
      jobId: 'j',
      client,
      onComplete(result, job) {
        expectTypeOf(result).toEqualTypeOf<{ courseId: string; lessons: number }>();
        expectTypeOf(job.input).toEqualTypeOf<{ examId: string }>();
      },
    });
    expectTypeOf(state.progress.currentStep).toEqualTypeOf<Step | null>();
    expectTypeOf(state.progress.result).toEqualTypeOf<{
      courseId: string;
      lessons: number;
    } | null>();
    expectTypeOf(state.progress.steps[0]!.name).toEqualTypeOf<Step>();
    // A misspelt step name is a compile error.
    // @ts-expect-error 'fetch_question' is not a step of courseJob
    state.progress.currentStep === 'fetch_question';
    // @ts-expect-error the result has no `course` field
    useJobProgress<CourseJob>({ jobId: 'j', onComplete: (r) => r.course });
  });

  it('types the modal the same way', () => {
    <JobProgressModal<CourseJob>
      jobId="j"
      onClose={() => {}}
      onComplete={(result) => expectTypeOf(result.courseId).toBeString()}
    />;
    // @ts-expect-error wrong result shape
    <JobProgressModal<CourseJob> jobId="j" onClose={() => {}} onComplete={(r) => r.nope} />;
  });

  it('without a definition, everything is loosely typed', () => {
    const state = useJobProgress({ jobId: null });
    expectTypeOf(state.progress.result).toEqualTypeOf<unknown>();
    expectTypeOf(state.progress.currentStep).toEqualTypeOf<string | null>();
  });
});
